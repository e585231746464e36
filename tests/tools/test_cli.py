# This file is part of ap_alerts.
#
# Developed for the LSST Data Management System.
# This product includes software developed by the LSST Project
# (https://www.lsst.org).
# See the COPYRIGHT file at the top-level directory of this distribution
# for details of code ownership.
#
# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
#
# This program is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU General Public License for more details.
#
# You should have received a copy of the GNU General Public License
# along with this program.  If not, see <https://www.gnu.org/licenses/>.

"""Tests of the ``ap-alerts`` command line (`lsst.ap.alerts.tools.cli`).

Every subcommand runs on alerts the package itself made: `PackageAlertsTask`
on small simulated visits (one with a template, one without), written with
``doWriteAlerts``; a failed-delivery file is a payload framed with the
schema's wire header, as the producer frames it.  Damaged inputs (truncated
container, wrong schema ID, corrupted cutout) must give a clear message and
exit status 1, never a traceback.  ``consume`` reads real brokers started by
``kafkaBrokers.py``.
"""

import contextlib
import copy
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
import unittest
import uuid
from pathlib import Path
from unittest import mock

import fastavro
import lsst.utils.tests
import numpy as np
from kafkaBrokers import BROKER_CLASSES, brokerUnavailableReason

import lsst.ap.alerts
from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts.schemaRegistry import makeWireHeader
from lsst.ap.alerts.simulation import makeSimulatedVisit, runArguments
from lsst.ap.alerts.tools.cli import main
from lsst.ap.alerts.tools.progress import Progress
from lsst.ap.alerts.tools.render import renderAlert


def runTask(outDir, seed, nSources, withTemplate=True):
    """Run the real task on a simulated visit; return its result."""
    visit = makeSimulatedVisit(nSources, 4, seed=seed, size=(300, 260), fractionSolarSystem=0.1)
    config = PackageAlertsConfig()
    config.doWriteAlerts = True
    config.alertWriteLocation = outDir
    task = PackageAlertsTask(config=config)
    return task.run(**runArguments(visit, template=visit.template if withTemplate else None))


def runCli(*argv):
    """Run ``main`` in-process; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


class CliTestCase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ap-alerts-cli-")
        root = Path(cls.tmp.name)
        cls.good = root / "good"
        cls.result = runTask(str(cls.good), seed=3, nSources=10)
        cls.alertFile = Path(cls.result.alertFile)
        cls.alerts = cls.result.alerts
        cls.schema = cls.alerts.schema
        # A failed-delivery file: exactly the framed message the producer sends.
        visitDetector = cls.alertFile.stem
        cls.framedId = cls.alerts.diaSourceIds[1]
        cls.framedFile = cls.good / f"{visitDetector}_{cls.framedId}.avro"
        cls.framedFile.write_bytes(cls.alerts.framed(1))
        noTemplate = runTask(str(root / "notemplate"), seed=5, nSources=4, withTemplate=False)
        cls.noTemplateFile = Path(noTemplate.alertFile)
        cls.noTemplateAlerts = noTemplate.alerts

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        # Outside the class directory, which testValidateGood validates whole.
        self.work = Path(tempfile.mkdtemp(prefix="ap-alerts-cli-work-"))
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)

    def assertCleanFailure(self, status, out, err, *fragments):
        """Exit 1, every fragment in the output, no traceback."""
        self.assertEqual(status, 1, msg=out + err)
        self.assertNotIn("Traceback", out + err)
        for fragment in fragments:
            self.assertIn(fragment, out + err)

    # -- inspect ---------------------------------------------------------

    def testInspect(self):
        status, out, err = runCli("inspect", self.alertFile)
        self.assertEqual(status, 0, msg=err)
        lines = out.splitlines()
        self.assertEqual(len(lines), len(self.alerts) + 2)
        self.assertTrue(lines[0].split()[0] == "diaSourceId")
        for i, line in enumerate(lines[1:-1]):
            alert = self.alerts[i]
            fields = line.split()
            self.assertEqual(int(fields[0]), alert["diaSourceId"])
            self.assertEqual(int(fields[1]), alert["diaSource"]["diaObjectId"])
            self.assertEqual(fields[2], alert["diaSource"]["band"])
            self.assertAlmostEqual(float(fields[3]), alert["diaSource"]["ra"], places=5)
            self.assertAlmostEqual(float(fields[4]), alert["diaSource"]["dec"], places=5)
            self.assertEqual(int(fields[7]), len(alert["prvDiaSources"] or []))
            self.assertEqual(int(fields[8]), len(alert["prvDiaForcedSources"] or []))
            self.assertEqual(fields[9], "DST")
            self.assertEqual(int(fields[10]), len(self.alerts.payloads[i]))
        total = self.alerts.totalBytes
        self.assertEqual(
            lines[-1],
            f"{len(self.alerts)} alerts, schema 11.1 (ID 1101), {total:,} bytes "
            f"total, {total / len(self.alerts):,.0f} bytes mean",
        )

    def testInspectJson(self):
        status, out, err = runCli("inspect", self.alertFile, "--json")
        self.assertEqual(status, 0, msg=err)
        document = json.loads(out)
        summary = document["summary"]
        self.assertEqual(summary["count"], len(self.alerts))
        self.assertEqual(summary["schemaVersion"], "11.1")
        self.assertEqual(summary["schemaId"], 1101)
        self.assertEqual(summary["totalBytes"], self.alerts.totalBytes)
        self.assertAlmostEqual(summary["meanBytes"], self.alerts.totalBytes / len(self.alerts))
        self.assertEqual([a["size"] for a in document["alerts"]], [len(p) for p in self.alerts.payloads])
        self.assertEqual([a["diaSourceId"] for a in document["alerts"]], self.alerts.diaSourceIds)
        for entry, alert in zip(document["alerts"], self.alerts, strict=True):
            source = alert["diaSource"]
            self.assertAlmostEqual(entry["snr"], source["psfFlux"] / source["psfFluxErr"], places=4)
            self.assertEqual(entry["nHistory"], len(alert["prvDiaSources"] or []))
            self.assertEqual(entry["cutouts"], "DST")

    def testInspectFramedAndNoTemplate(self):
        status, out, err = runCli("inspect", self.framedFile, "--json")
        self.assertEqual(status, 0, msg=err)
        document = json.loads(out)
        self.assertEqual(document["kind"], "framed")
        self.assertEqual([a["diaSourceId"] for a in document["alerts"]], [self.framedId])
        self.assertEqual(document["alerts"][0]["size"], len(self.alerts.payloads[1]))
        self.assertEqual(document["summary"]["schemaId"], 1101)
        status, out, err = runCli("inspect", self.noTemplateFile, "--json")
        self.assertEqual(status, 0, msg=err)
        self.assertEqual({a["cutouts"] for a in json.loads(out)["alerts"]}, {"DS-"})

    def testModuleEntryPoint(self):
        """``python -m lsst.ap.alerts`` runs the same command."""
        packageRoot = str(Path(lsst.ap.alerts.__file__).parents[3])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (packageRoot, env.get("PYTHONPATH")) if p)
        done = subprocess.run(
            [sys.executable, "-m", "lsst.ap.alerts", "inspect", str(self.alertFile)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        self.assertEqual(done.returncode, 0, msg=done.stderr)
        self.assertIn(f"{len(self.alerts)} alerts, schema 11.1 (ID 1101)", done.stdout)
        self.assertIn(str(self.alerts.diaSourceIds[0]), done.stdout)

    def testInspectBadFiles(self):
        truncated = self.truncatedCopy()
        status, out, err = runCli("inspect", truncated)
        self.assertCleanFailure(status, out, err, str(truncated), "truncated or corrupt Avro data")
        garbage = self.work / "garbage.avro"
        garbage.write_bytes(b"not an alert at all")
        self.assertCleanFailure(*runCli("inspect", garbage), "neither an Avro container file")
        self.assertCleanFailure(*runCli("inspect", self.work / "missing.avro"), "no such file or directory")

    # -- validate --------------------------------------------------------

    def testValidateGood(self):
        for path in (self.alertFile, self.framedFile, self.noTemplateFile):
            with self.subTest(path=path.name):
                status, out, err = runCli("validate", path)
                self.assertEqual(status, 0, msg=out + err)
                self.assertIn(": OK", out)
        status, out, err = runCli("validate", self.tmp.name)
        self.assertEqual(status, 0, msg=out + err)
        nAlerts = len(self.alerts) + 1 + len(self.noTemplateAlerts)
        nCutouts = 3 * (len(self.alerts) + 1) + 2 * len(self.noTemplateAlerts)
        self.assertIn(f"3 file(s), {nAlerts} alert(s), {nCutouts} cutout(s) checked: OK", out)
        status, out, err = runCli("validate", self.alertFile, "--schema", "1101")
        self.assertEqual(status, 0, msg=out + err)

    def testValidateTruncated(self):
        truncated = self.truncatedCopy()
        status, out, err = runCli("validate", truncated)
        self.assertCleanFailure(status, out, err, f"{truncated}: truncated or corrupt Avro data")

    def testValidateWrongSchemaId(self):
        payload = self.alerts.payloads[0]
        unknown = self.work / "1_2_3.avro"
        unknown.write_bytes(makeWireHeader(9999) + payload)
        self.assertCleanFailure(*runCli("validate", unknown), str(unknown), "Unknown alert schema ID 9999")
        self.assertCleanFailure(*runCli("inspect", unknown), "Unknown alert schema ID 9999")
        # A known but wrong schema: the payload does not decode as 11.0.
        older = self.work / "1_2_4.avro"
        older.write_bytes(makeWireHeader(1100) + payload)
        self.assertCleanFailure(*runCli("validate", older), str(older), "schema 11.0 (ID 1100)")
        # Checked against an explicit schema, the header's ID is reported.
        self.assertCleanFailure(
            *runCli("validate", older, "--schema", "11.1"),
            "wire header schema ID 1100 is not the expected 1101",
        )
        self.assertCleanFailure(
            *runCli("validate", self.alertFile, "--schema", "11.0"),
            "embedded schema lsst.v11_1.alert is not the expected schema 11.0",
        )
        # An unknown --schema is one error line, before any file is read.
        status, out, err = runCli("validate", self.tmp.name, "--schema", "99.9")
        self.assertCleanFailure(status, out, err, "Unknown alert schema version 99.9")
        self.assertEqual(out, "")
        self.assertEqual(len(err.splitlines()), 1)
        self.assertTrue(err.startswith("ap-alerts: error: --schema 99.9: "), err)

    def testValidateCorruptCutout(self):
        with open(self.alertFile, "rb") as stream:
            records = list(fastavro.reader(stream))
        index = 2
        cutout = bytearray(records[index]["cutoutScience"])
        cutout[:6] = bytes(b ^ 0xFF for b in cutout[:6])  # destroys the SIMPLE card
        records[index]["cutoutScience"] = bytes(cutout)
        corrupt = self.work / "corrupt.avro"
        with open(corrupt, "wb") as stream:
            fastavro.writer(stream, self.schema.parsed, records)
        status, out, err = runCli("validate", corrupt)
        srcId = records[index]["diaSourceId"]
        self.assertCleanFailure(
            status,
            out,
            err,
            f"{corrupt}: alert #{index} (diaSourceId {srcId}): cutoutScience: unreadable FITS",
            "1 problem(s)",
        )
        # A directory holding it fails too, naming only that file.
        directory = self.work / "mixed"
        directory.mkdir()
        shutil.copy(corrupt, directory)
        shutil.copy(self.alertFile, directory)
        status, out, err = runCli("validate", directory)
        self.assertCleanFailure(status, out, err, "2 file(s)", "1 problem(s)")
        self.assertNotIn(self.alertFile.name + ":", out)
        # render shows the unreadable cutout as a labelled, empty panel.
        png = self.work / "corrupt.png"
        status, _, err = runCli("render", corrupt, "--id", srcId, "-o", png)
        self.assertEqual(status, 0, msg=err)
        self.checkPanels(
            png,
            records[index],
            {"cutoutDifference": True, "cutoutScience": False, "cutoutTemplate": True, "psf": True},
        )

    def testValidateSchemaViolation(self):
        """A file whose embedded schema is not the registry's is checked against the registry's."""
        definition = copy.deepcopy(self.schema.definition)
        diaSourceType = next(f["type"] for f in definition["fields"] if f["name"] == "diaSource")
        next(f for f in diaSourceType["fields"] if f["name"] == "ra")["type"] = "string"
        with open(self.alertFile, "rb") as stream:
            records = list(fastavro.reader(stream))[:2]
        for record in records:
            record["diaSource"]["ra"] = "north"
            record["prvDiaSources"] = None  # they share the record type
        forged = self.work / "forged.avro"
        with open(forged, "wb") as stream:
            fastavro.writer(stream, fastavro.parse_schema(definition), records)
        status, out, err = runCli("validate", forged)
        self.assertCleanFailure(
            status,
            out,
            err,
            f"{forged}: embedded schema lsst.v11_1.alert differs from the registry's schema 11.1",
            f"alert #1 (diaSourceId {records[1]['diaSourceId']}): lsst.v11_1.diaSource.ra: value 'north' "
            "does not match schema 11.1 (expected double)",
            "3 problem(s)",
        )

    def testValidateNothingToCheck(self):
        empty = self.work / "empty"
        empty.mkdir()
        self.assertCleanFailure(*runCli("validate", empty), "no .avro files")
        for command in ("validate", "inspect", "report"):
            with self.subTest(command=command):
                extra = ("-o", self.work / "report") if command == "report" else ()
                status, out, err = runCli(command, self.work / "nonexistent", *extra)
                missing = f"{self.work / 'nonexistent'}: no such file or directory"
                self.assertCleanFailure(status, out, err, missing)
                self.assertNotIn("checked", out)

    def testInspectDirectory(self):
        """A directory: every file's lines and summary, then the totals (or one JSON document)."""
        status, out, err = runCli("inspect", self.tmp.name)
        self.assertEqual(status, 0, msg=err)
        files = sorted(str(p) for p in Path(self.tmp.name).rglob("*.avro"))
        self.assertEqual([line[2:] for line in out.splitlines() if line.startswith("# ")], files)
        nAlerts = len(self.alerts) + 1 + len(self.noTemplateAlerts)
        self.assertTrue(out.splitlines()[-1].startswith(f"3 file(s), {nAlerts} alert(s), "), out)
        status, out, err = runCli("inspect", self.tmp.name, "--json")
        document = json.loads(out)
        self.assertEqual([f["file"] for f in document["files"]], files)
        self.assertEqual(document["summary"]["count"], nAlerts)
        self.assertEqual(sum(len(f["alerts"]) for f in document["files"]), nAlerts)

    # -- render ----------------------------------------------------------

    def checkPanels(self, png, alert, expectDrawn, stretch="asinh"):
        """Compare the CLI's PNG with the layout `renderAlert` reports."""
        import matplotlib.image

        pixels = matplotlib.image.imread(str(png))
        layout = renderAlert(alert, str(self.work / "layout.png"), stretch=stretch)
        self.assertEqual(pixels.shape[:2], (layout.height, layout.width))
        self.assertEqual(layout.drawn, expectDrawn)
        for name in expectDrawn:
            left, top, right, bottom = layout.panels[name]
            # Inside the frame of the panel.
            region = pixels[top + 3 : bottom - 3, left + 3 : right - 3, :3]
            colours, counts = np.unique(region.reshape(-1, 3), axis=0, return_counts=True)
            with self.subTest(panel=name):
                if expectDrawn[name]:
                    self.assertGreater(len(colours), 20)
                else:
                    # Uniform background, except for the label.
                    self.assertGreater(counts.max() / counts.sum(), 0.9)
                    self.assertGreater(len(colours), 1)
        return pixels

    def testRender(self):
        alert = self.alerts[3]
        png = self.work / "stamp.png"
        status, out, err = runCli("render", self.alertFile, "--id", alert["diaSourceId"], "-o", png)
        self.assertEqual(status, 0, msg=err)
        self.assertIn(f"wrote {png}", out)
        allDrawn = dict.fromkeys(("cutoutDifference", "cutoutScience", "cutoutTemplate", "psf"), True)
        asinh = self.checkPanels(png, alert, allDrawn)
        zscalePng = self.work / "zscale.png"
        status, out, err = runCli(
            "render", self.alertFile, "--id", alert["diaSourceId"], "-o", zscalePng, "--stretch", "zscale"
        )
        self.assertEqual(status, 0, msg=err)
        zscale = self.checkPanels(zscalePng, alert, allDrawn, stretch="zscale")
        self.assertFalse(np.array_equal(zscale, asinh))

    def testRenderMissingTemplate(self):
        alert = self.noTemplateAlerts[0]
        png = self.work / "notemplate.png"
        status, _, err = runCli("render", self.noTemplateFile, "--id", alert["diaSourceId"], "-o", png)
        self.assertEqual(status, 0, msg=err)
        self.checkPanels(
            png,
            alert,
            {"cutoutDifference": True, "cutoutScience": True, "cutoutTemplate": False, "psf": True},
        )

    def testRenderListSeveralAndSuffixes(self):
        status, out, err = runCli("render", self.alertFile, "--list")
        self.assertEqual(status, 0, msg=err)
        self.assertEqual([int(line.split()[0]) for line in out.splitlines()[1:]], self.alerts.diaSourceIds)
        self.assertCleanFailure(
            *runCli("render", self.alertFile, "-o", self.work / "x.png"), "give --id", "--list"
        )
        # No suffix: .png is added, and the message names the file written.
        status, out, err = runCli(
            "render", self.alertFile, "--id", self.alerts.diaSourceIds[0], "-o", self.work / "sub" / "stamp"
        )
        self.assertEqual(status, 0, msg=err)
        written = self.work / "sub" / "stamp.png"
        self.assertIn(f"wrote {written} (", out)
        self.assertEqual(written.read_bytes()[:4], b"\x89PNG")
        self.assertFalse((self.work / "sub" / "stamp").exists())
        status, out, err = runCli(
            "render", self.alertFile, "--id", self.alerts.diaSourceIds[0], "-o", self.work / "stamp.jpg"
        )
        self.assertCleanFailure(status, out, err, ".png, .svg, .pdf")
        self.assertFalse((self.work / "stamp.jpg").exists())
        # Several ids: -o is a directory of {diaSourceId}.png.
        ids = self.alerts.diaSourceIds[2:5]
        status, out, err = runCli("render", self.alertFile, "--id", *ids, "-o", self.work / "many")
        self.assertEqual(status, 0, msg=err)
        self.assertEqual(
            sorted(p.name for p in (self.work / "many").iterdir()), sorted(f"{i}.png" for i in ids)
        )
        status, out, err = runCli("render", self.noTemplateFile, "--all", "-o", self.work / "all")
        self.assertEqual(status, 0, msg=err)
        self.assertEqual(len(list((self.work / "all").iterdir())), len(self.noTemplateAlerts))
        status, out, err = runCli("render", self.alertFile, "--id", ids[0], 12345, "-o", self.work / "m2")
        self.assertCleanFailure(status, out, err, "no alert with diaSourceId 12345")
        self.assertFalse((self.work / "m2").exists())

    def testRenderUnknownId(self):
        png = self.work / "none.png"
        status, out, err = runCli("render", self.alertFile, "--id", 12345, "-o", png)
        self.assertCleanFailure(
            status,
            out,
            err,
            "no alert with diaSourceId 12345",
            f"({len(self.alerts)} alerts; --list shows them)",
        )
        self.assertFalse(png.exists())

    # -- consume ---------------------------------------------------------

    def testConsume(self):
        available = [cls for cls in BROKER_CLASSES if brokerUnavailableReason(cls) is None]
        if not available:
            raise unittest.SkipTest("; ".join(brokerUnavailableReason(cls) for cls in BROKER_CLASSES))
        for brokerClass in available:
            with self.subTest(broker=brokerClass.name), brokerClass() as broker:
                self.checkConsume(broker)

    def checkConsume(self, broker):
        from confluent_kafka import Producer

        topic = f"alerts-{uuid.uuid4().hex[:8]}"
        # One partition keeps the produced order.
        broker.createTopic(topic, partitions=1)
        producer = Producer({"bootstrap.servers": broker.bootstrap})
        for i in range(3):
            producer.produce(topic, self.alerts.framed(i))
        producer.produce(topic, makeWireHeader(9999) + self.alerts.payloads[3])
        self.assertEqual(producer.flush(30), 0)
        common = ("--topic", topic, "--server", broker.bootstrap, "--plaintext")

        status, out, err = runCli("consume", *common, "--max", 3, "--timeout", 30)
        self.assertEqual(status, 0, msg=err)
        lines = out.splitlines()
        self.assertEqual([int(line.split()[0]) for line in lines[1:-1]], self.alerts.diaSourceIds[:3])
        self.assertEqual(
            [int(line.split()[-1]) for line in lines[1:-1]], [len(p) for p in self.alerts.payloads[:3]]
        )
        self.assertTrue(lines[-1].startswith("3 alerts, schema 11.1 (ID 1101)"), lines[-1])

        # Without --max: reads to the end and stops after the idle timeout;
        # the undecodable message is reported and fails the run.
        status, out, err = runCli("consume", *common, "--timeout", 3)
        self.assertCleanFailure(
            status, out, err, "offset 3: Unknown alert schema ID 9999", "1 undecodable message(s)"
        )
        self.assertEqual(len(out.splitlines()), 3 + 2)

        # The environment works as for the producer.
        with mock.patch.dict(os.environ, {"AP_KAFKA_SERVER": broker.bootstrap, "AP_KAFKA_TOPIC": topic}):
            status, out, err = runCli("consume", "--plaintext", "--max", 1, "--timeout", 30)
        self.assertEqual(status, 0, msg=err)
        self.assertIn(str(self.alerts.diaSourceIds[0]), out)

        self.assertCleanFailure(
            *runCli(
                "consume",
                "--topic",
                "no-such-topic",
                "--server",
                broker.bootstrap,
                "--plaintext",
                "--timeout",
                5,
            ),
            "'no-such-topic' does not exist",
        )

    def testConsumeConfigurationErrors(self):
        with mock.patch.dict(os.environ):
            for name in (
                "AP_KAFKA_SERVER",
                "AP_KAFKA_TOPIC",
                "AP_KAFKA_PRODUCER_USERNAME",
                "AP_KAFKA_PRODUCER_PASSWORD",
            ):
                os.environ.pop(name, None)
            self.assertCleanFailure(
                *runCli("consume", "--topic", "t"), "give --server or set AP_KAFKA_SERVER"
            )
            self.assertCleanFailure(
                *runCli("consume", "--server", "127.0.0.1:9"), "give --topic or set AP_KAFKA_TOPIC"
            )
            # SASL by default: the producer's credential variables are needed.
            self.assertCleanFailure(
                *runCli("consume", "--topic", "t", "--server", "127.0.0.1:9"), "AP_KAFKA_PRODUCER_USERNAME"
            )

    # -- demo, usage, progress --------------------------------------------

    def testDemoDelegates(self):
        calls = []
        fake = types.ModuleType("lsst.ap.alerts.tools.demo")
        fake.runDemo = lambda **kwargs: calls.append(kwargs)
        with mock.patch.dict(sys.modules, {"lsst.ap.alerts.tools.demo": fake}):
            status, _, err = runCli(
                "demo",
                "--workdir",
                self.work / "repo",
                "--sources",
                20,
                "--detectors",
                1,
                "--jobs",
                1,
                "--seed",
                4,
                "--fresh",
            )
            self.assertEqual(status, 0, msg=err)
            status, _, err = runCli("demo")
            self.assertEqual(status, 0, msg=err)
        self.assertEqual(
            calls,
            [
                {
                    "workdir": str(self.work / "repo"),
                    "nSources": 20,
                    "nDetectors": 1,
                    "jobs": 1,
                    "seed": 4,
                    "fresh": True,
                    "bps": False,
                },
                {
                    "workdir": "demo_repo",
                    "nSources": 300,
                    "nDetectors": 2,
                    "jobs": 2,
                    "seed": 0,
                    "fresh": False,
                    "bps": False,
                },
            ],
        )

    def testStartupImportsNoStack(self):
        """--help and the file commands start without the butler or pipe_base (nor matplotlib for --help)."""
        png = self.work / "startup.png"
        script = (
            "import sys\n"
            "from lsst.ap.alerts.tools.cli import main\n"
            "heavy = ('lsst.daf.butler', 'lsst.pipe.base', 'matplotlib', 'astropy')\n"
            "main(['--help'])\n"
            "print('help', *[m for m in heavy if m in sys.modules])\n"
            f"assert main(['inspect', {str(self.alertFile)!r}]) == 0\n"
            f"assert main(['validate', {str(self.alertFile)!r}]) == 0\n"
            f"assert main(['render', {str(self.alertFile)!r}, '--id', '{self.alerts.diaSourceIds[0]}', "
            f"'-o', {str(png)!r}]) == 0\n"
            "print('commands', *[m for m in heavy if m in sys.modules])\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=False
        )
        self.assertEqual(done.returncode, 0, msg=done.stderr)
        lines = {
            line.split()[0]: line.split()[1:]
            for line in done.stdout.splitlines()
            if line.split() and line.split()[0] in ("help", "commands")
        }
        self.assertEqual(lines["help"], [])
        # The file commands need astropy and matplotlib, never the stack.
        self.assertEqual(lines["commands"], ["matplotlib", "astropy"])
        self.assertTrue(png.exists())

    def testConsumeSaslWording(self):
        """Without --plaintext, consume names the credentials it lacks (and the way out)."""
        env = {"AP_KAFKA_SERVER": "127.0.0.1:9", "AP_KAFKA_TOPIC": "alerts"}
        with mock.patch.dict(os.environ, env):
            for name in ("AP_KAFKA_PRODUCER_USERNAME", "AP_KAFKA_PRODUCER_PASSWORD"):
                os.environ.pop(name, None)
            status, out, err = runCli("consume")
        self.assertCleanFailure(
            status, out, err, "AP_KAFKA_PRODUCER_USERNAME and AP_KAFKA_PRODUCER_PASSWORD", "--plaintext"
        )
        self.assertNotIn("production", err)

    def testUsage(self):
        status, _, err = runCli()
        self.assertEqual(status, 2)
        self.assertIn("usage: ap-alerts", err)
        status, out, err = runCli("render", self.alertFile, "--id", self.alerts.diaSourceIds[0])
        self.assertCleanFailure(status, out, err, "give -o/--output")
        status, out, err = runCli("--version")
        self.assertEqual(status, 0)
        self.assertEqual(out.strip(), f"ap-alerts {lsst.ap.alerts.__version__}")

    def testProgressLines(self):
        """Without a terminal, progress is a plain line every ``interval`` seconds."""
        stream = io.StringIO()
        with Progress("validate", total=3, unit="file", stream=stream, interval=0.0) as progress:
            for _ in range(3):
                progress.update(note="ok")
        self.assertEqual(stream.getvalue().splitlines(), [f"validate: {i}/3 files (ok)" for i in (1, 2, 3)])

    def testProgressBar(self):
        """On a terminal, progress is a tqdm bar, removed at the end."""

        class Terminal(io.StringIO):
            def isatty(self):
                return True

        stream = Terminal()
        with Progress("validate", unit="alert", stream=stream) as progress:
            progress.update(note="file 1/1")
        self.assertIn("validate: 0 alerts", stream.getvalue())
        self.assertTrue(stream.getvalue().endswith("\r"))

    # -- helpers -----------------------------------------------------------

    def truncatedCopy(self):
        data = self.alertFile.read_bytes()
        truncated = self.work / "truncated.avro"
        truncated.write_bytes(data[: len(data) // 2])
        return truncated


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
