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

"""Tests of `lsst.ap.alerts.tools.inspection`: reading alert files and summarising alerts.

The files are written by `PackageAlertsTask` on small simulated visits; the
oracle for what they hold is ``fastavro.reader`` on the same bytes, and the
block layout (for damaged copies) is walked here with a few lines of Avro
decoding, independently of the module under test.  Magnitudes are checked
against astropy's AB magnitude.
"""

import dataclasses
import io
import json
import math
import os
import shutil
import struct
import tempfile
import unittest

import astropy.units as u
import fastavro
import lsst.utils.tests
from alertFileBytes import (
    SYNC_SIZE,
    AlertFileFixture,
    encodeLong,
    encodeRecord,
    readLong,
    sameValue,
)
from fastavro.read import HEADER_SCHEMA

from lsst.ap.alerts.tools.inspection import (
    AlertFile,
    AlertFileError,
    AlertSummary,
    FileSummary,
    abMagnitude,
    findAlertFiles,
    formatAlertLine,
    formatHeaderLine,
    formatSummary,
    summarizeAlert,
    summarizeFile,
    triageFlags,
)


def framedBytes(schemaId, payload, magic=0):
    return struct.pack(">bI", magic, schemaId) + payload


class InspectionFileTestCase(AlertFileFixture, lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.writeAlertFiles("inspection-", seed=3, nSources=6)
        cls.payloads = [encodeRecord(r, cls.writerSchema) for r in cls.records]

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="inspection-work-")
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)

    def write(self, name, data):
        path = os.path.join(self.work, name)
        with open(path, "wb") as stream:
            stream.write(data)
        return path

    def assertAlertsMatch(self, decoded, records, payloads):
        self.assertEqual(len(decoded), len(records))
        for i, (item, record, payload) in enumerate(zip(decoded, records, payloads, strict=True)):
            self.assertEqual(item.index, i)
            self.assertTrue(sameValue(item.alert, record), msg=f"alert #{i} differs from fastavro's")
            self.assertEqual(item.size, len(payload))

    # -- the files as written ------------------------------------------------

    def testLayoutOfTheGoodFile(self):
        """The oracle's own premises: null codec, blocks adding up to the file, record sizes to blocks."""
        self.assertEqual(self.metadata["avro.codec"], "null")
        self.assertEqual(self.blocks[-1].syncStart + SYNC_SIZE, len(self.data))
        self.assertEqual(sum(b.count for b in self.blocks), len(self.records))
        sizes = iter(len(p) for p in self.payloads)
        for block in self.blocks:
            self.assertEqual(sum(next(sizes) for _ in range(block.count)), block.size)
            self.assertEqual(self.data[block.syncStart : block.syncStart + SYNC_SIZE], self.header["sync"])

    def testContainerFile(self):
        alertFile = AlertFile(self.path)
        self.assertEqual(alertFile.kind, "container")
        self.assertEqual(alertFile.path, self.path)
        self.assertEqual(alertFile.schemaName, "lsst.v11_1.alert")
        self.assertEqual(alertFile.version, (11, 1))
        self.assertEqual(alertFile.schemaVersionString, "11.1")
        self.assertEqual(alertFile.schemaId, 1101)
        self.assertIsNone(alertFile.headerSchemaId)
        self.assertEqual(alertFile.schema.version, (11, 1))
        self.assertEqual(alertFile.embeddedSchema, json.loads(self.metadata["avro.schema"]))
        self.assertAlertsMatch(list(alertFile), self.records, self.payloads)

    def testIteratingTwice(self):
        """Every pass over a file decodes all of its alerts (a container's second pass was empty)."""
        for path in (self.path, self.write("1_2_3.avro", framedBytes(1101, self.payloads[0]))):
            with self.subTest(path=os.path.basename(path)):
                alertFile = AlertFile(path)
                first = [a.alert["diaSourceId"] for a in alertFile]
                self.assertEqual([a.alert["diaSourceId"] for a in alertFile], first)
                # Two passes at once do not disturb each other.
                outer = iter(alertFile)
                next(outer)
                self.assertEqual(len(list(alertFile)), len(first))
                self.assertEqual(len(list(outer)), len(first) - 1)
        self.assertEqual(first, [self.records[0]["diaSourceId"]])

    def testFramedFile(self):
        record = self.records[2]
        path = self.write("1_2_3.avro", framedBytes(1101, self.payloads[2]))
        alertFile = AlertFile(path)
        self.assertEqual(alertFile.kind, "framed")
        self.assertEqual(alertFile.headerSchemaId, 1101)
        self.assertEqual(alertFile.schemaName, "ID 1101")
        self.assertEqual(alertFile.version, (11, 1))
        self.assertEqual(alertFile.schemaId, 1101)
        self.assertEqual(alertFile.schemaVersionString, "11.1")
        self.assertIsNone(alertFile.embeddedSchema)
        self.assertAlertsMatch(list(alertFile), [record], [self.payloads[2]])

    def testFramedFileWithRequestedSchema(self):
        """An ID the registry does not know is read with the schema asked for; the header's ID is kept."""
        path = self.write("1_2_3.avro", framedBytes(4242, self.payloads[0]))
        alertFile = AlertFile(path, schemaSpec="11.1")
        self.assertEqual(alertFile.schemaId, 4242)
        self.assertIsNone(alertFile.version)
        self.assertEqual(alertFile.schema.version, (11, 1))
        self.assertEqual(alertFile.schemaVersionString, "11.1")
        self.assertAlertsMatch(list(alertFile), self.records[:1], self.payloads[:1])

    def testContainerWithRequestedSchema(self):
        """A container is decoded with its own schema; the one asked for only becomes ``schema``."""
        alertFile = AlertFile(self.path, schemaSpec="1100")
        self.assertEqual(alertFile.schema.version, (11, 0))
        self.assertEqual(alertFile.version, (11, 1))
        self.assertEqual(alertFile.schemaId, 1101)
        self.assertAlertsMatch(list(alertFile), self.records, self.payloads)

    def testHeaderOnlyContainer(self):
        """A container with no blocks holds no alerts, for fastavro and for AlertFile alike."""
        path = self.write("empty.avro", self.data[: self.headerEnd])
        with open(path, "rb") as stream:
            self.assertEqual(list(fastavro.reader(stream)), [])
        alertFile = AlertFile(path)
        self.assertEqual(list(alertFile), [])
        summary = summarizeFile([], alertFile)
        self.assertEqual(summary, FileSummary(0, "11.1", 1101, 0))
        self.assertIsNone(summary.meanBytes)
        self.assertEqual(
            formatSummary(summary), "0 alerts, schema 11.1 (ID 1101), 0 bytes total, - bytes mean"
        )

    def testRenamedEmbeddedSchema(self):
        """The embedded schema's name gives the version; an unversioned name gives none."""
        for name, version in (("lsst.v99_9.alert", (99, 9)), ("customAlert", None)):
            with self.subTest(name=name):
                schema = json.loads(self.metadata["avro.schema"])
                schema.pop("namespace", None)
                schema["name"] = name
                path = self.write(f"{name}.avro", self.withEmbeddedSchema(schema))
                if version is not None:
                    with self.assertRaises(AlertFileError) as cm:
                        AlertFile(path)
                    message = str(cm.exception)
                    self.assertTrue(message.startswith(f"{path}: "), message)
                    self.assertIn(f"embedded schema {name}", message)
                    self.assertIn("Unknown alert schema version 99.9", message)
                    alertFile = AlertFile(path, schemaSpec="11.1")
                    self.assertEqual(alertFile.version, version)
                    self.assertEqual(alertFile.schema.version, (11, 1))
                else:
                    alertFile = AlertFile(path)
                    self.assertIsNone(alertFile.version)
                    self.assertIsNone(alertFile.schema)
                    self.assertIsNone(alertFile.schemaId)
                    self.assertIsNone(alertFile.schemaVersionString)
                    self.assertEqual(
                        formatSummary(summarizeFile([], alertFile)).split(", ")[1], "schema unknown"
                    )
                self.assertEqual(alertFile.schemaName, name)
                self.assertAlertsMatch(list(alertFile), self.records, self.payloads)

    def withEmbeddedSchema(self, schema):
        """The good file's bytes with another ``avro.schema`` in its header (same blocks, same marker)."""
        metadata = {key: value for key, value in self.header["meta"].items()}
        metadata["avro.schema"] = json.dumps(schema).encode()
        stream = io.BytesIO()
        fastavro.schemaless_writer(
            stream, HEADER_SCHEMA, {"magic": b"Obj\x01", "meta": metadata, "sync": self.header["sync"]}
        )
        return stream.getvalue() + self.data[self.headerEnd :]

    # -- damaged and unreadable files -----------------------------------------

    def assertFileError(self, path, *fragments, schemaSpec=None, iterate=False):
        """AlertFileError naming ``path``, when opening (or iterating); return the alerts read before it."""
        decoded = []
        with self.assertRaises(AlertFileError) as cm:
            alertFile = AlertFile(path, schemaSpec)
            if iterate:
                for item in alertFile:
                    decoded.append(item)
            else:
                self.fail("opening did not fail")
        message = str(cm.exception)
        self.assertTrue(message.startswith(f"{path}: "), message)
        for fragment in fragments:
            self.assertIn(fragment, message)
        return decoded

    def testTruncatedInsideABlock(self):
        """Cut in the middle of block k: the alerts of the k blocks before are read, then the error."""
        for k in (0, 2):
            with self.subTest(block=k):
                block = self.blocks[k]
                path = self.write(f"cut{k}.avro", self.data[: block.dataStart + block.size // 2])
                expected = sum(b.count for b in self.blocks[:k])
                where = f"after record #{expected - 1}" if expected else "in the first block"
                decoded = self.assertFileError(path, "truncated or corrupt Avro data", where, iterate=True)
                self.assertAlertsMatch(decoded, self.records[:expected], self.payloads[:expected])
                with open(path, "rb") as stream, self.assertRaises(EOFError):
                    list(fastavro.reader(stream))

    def testTruncatedSyncMarker(self):
        path = self.write("tail.avro", self.data[:-5])
        n = len(self.records) - self.blocks[-1].count
        decoded = self.assertFileError(path, f"after record #{n - 1}", "sync marker", iterate=True)
        self.assertEqual(len(decoded), n)

    def testWrongSyncMarker(self):
        k = 1
        bad = bytearray(self.data)
        start = self.blocks[k].syncStart
        bad[start : start + SYNC_SIZE] = bytes(b ^ 0x5A for b in self.header["sync"])
        path = self.write("sync.avro", bytes(bad))
        expected = sum(b.count for b in self.blocks[:k])
        decoded = self.assertFileError(path, "sync marker", f"after record #{expected - 1}", iterate=True)
        self.assertEqual(len(decoded), expected)

    def testCorruptRecord(self):
        """Garbage over the start of block k's first record: decoding it fails, naming the record."""
        k = 1
        bad = bytearray(self.data)
        start = self.blocks[k].dataStart
        bad[start : start + 8] = b"\xff" * 8
        path = self.write("garbled.avro", bytes(bad))
        expected = sum(b.count for b in self.blocks[:k])
        decoded = self.assertFileError(path, f"record #{expected}", "cannot decode", iterate=True)
        self.assertEqual(len(decoded), expected)

    def testBlockSizeBeyondTheFile(self):
        k = 2
        block = self.blocks[k]
        _, sizeStart = readLong(self.data, block.start)
        _, sizeEnd = readLong(self.data, sizeStart)
        bad = self.data[:sizeStart] + encodeLong(len(self.data) * 2) + self.data[sizeEnd:]
        path = self.write("size.avro", bad)
        expected = sum(b.count for b in self.blocks[:k])
        decoded = self.assertFileError(
            path, "truncated or corrupt", f"after record #{expected - 1}", iterate=True
        )
        self.assertEqual(len(decoded), expected)

    def testTruncatedHeader(self):
        path = self.write("header.avro", self.data[: self.headerEnd // 2])
        self.assertFileError(path, "unreadable Avro container header")

    def testEmptyFile(self):
        path = self.write("empty.avro", b"")
        self.assertFileError(path, "neither an Avro container file nor a Confluent-framed alert")

    def testGarbageFile(self):
        path = self.write("garbage.avro", b"SIMPLE  =                    T")
        self.assertFileError(path, "neither an Avro container file nor a Confluent-framed alert", "b'SIMP'")

    def testMissingFileAndDirectory(self):
        missing = os.path.join(self.work, "missing.avro")
        self.assertFileError(missing, "cannot read", "No such file or directory")
        self.assertFileError(self.work, "cannot read")

    def testFramedDamage(self):
        payload = self.payloads[1]
        cases = [
            ("short", b"\x00\x00\x04", ("too short for a Confluent wire header",), None),
            (
                "unknown",
                framedBytes(9999, payload),
                ("schema ID in the wire header", "Unknown alert schema ID 9999"),
                None,
            ),
            (
                "trailing",
                framedBytes(1101, payload + b"\x00\x00"),
                ("2 bytes left", "schema 11.1 (ID 1101)"),
                None,
            ),
            (
                "cut",
                framedBytes(1101, payload[: len(payload) // 2]),
                ("cannot decode the alert with schema 11.1",),
                None,
            ),
            ("older", framedBytes(1101, payload), ("schema 3.0 (ID 300)",), "3.0"),
        ]
        for name, data, fragments, spec in cases:
            with self.subTest(case=name):
                path = self.write(f"{name}.avro", data)
                iterate = name not in ("short", "unknown")
                self.assertFileError(path, *fragments, schemaSpec=spec, iterate=iterate)

    def testUnknownRequestedSchema(self):
        self.assertFileError(
            self.path, "requested schema", "Unknown alert schema version 99.9", schemaSpec="99.9"
        )

    # -- finding files ---------------------------------------------------------

    def testFindAlertFiles(self):
        os.makedirs(os.path.join(self.work, "b", "c"))
        os.makedirs(os.path.join(self.work, ".hidden"))
        names = [
            "b/c/2.avro",
            "a.avro",
            "b/1.avro",
            ".tmp.avro",
            ".hidden/x.avro",
            "notes.txt",
            "b/x.avro.part",
        ]
        for name in names:
            self.write(name, b"")
        expected = [os.path.join(self.work, n) for n in ("a.avro", "b/1.avro", "b/c/2.avro")]
        self.assertEqual(findAlertFiles(self.work), expected)
        # A file is itself, whatever its name.
        notes = os.path.join(self.work, "notes.txt")
        self.assertEqual(findAlertFiles(notes), [notes])
        missing = os.path.join(self.work, "nowhere")
        with self.assertRaisesRegex(FileNotFoundError, f"{missing}: no such file or directory"):
            findAlertFiles(missing)

    # -- summaries --------------------------------------------------------------

    def testSummaries(self):
        """summarizeAlert against the fastavro records, by hand and with astropy's AB magnitude."""
        for path in (self.path, self.noTemplatePath):
            alertFile = AlertFile(path)
            with open(path, "rb") as stream:
                records = list(fastavro.reader(stream))
            summaries = []
            for decoded, record in zip(alertFile, records, strict=True):
                summary = summarizeAlert(decoded.alert, decoded.size)
                summaries.append(summary)
                source = record["diaSource"]
                self.assertEqual(summary.diaSourceId, record["diaSourceId"])
                objectId = source["diaObjectId"]
                if objectId is None and record["diaObject"] is not None:
                    objectId = record["diaObject"]["diaObjectId"]
                self.assertEqual(summary.diaObjectId, objectId)
                self.assertEqual(summary.band, source["band"])
                self.assertEqual((summary.ra, summary.dec), (source["ra"], source["dec"]))
                self.assertEqual(
                    (summary.psfFlux, summary.psfFluxErr), (source["psfFlux"], source["psfFluxErr"])
                )
                self.assertAlmostEqual(summary.snr, source["psfFlux"] / source["psfFluxErr"], places=12)
                self.assertEqual(summary.nHistory, len(record["prvDiaSources"] or []))
                self.assertEqual(summary.nForced, len(record["prvDiaForcedSources"] or []))
                self.assertEqual(summary.midpointMjdTai, source["midpointMjdTai"])
                self.assertEqual(summary.reliability, source["reliability"])
                self.assertEqual(summary.isDipole, source["isDipole"])
                expectedCutouts = "DS" + ("T" if path == self.path else "-")
                self.assertEqual(summary.cutouts, expectedCutouts)
                nDia = record["diaObject"]["nDiaSources"] if record["diaObject"] is not None else None
                self.assertEqual(summary.nDiaSources, nDia)
                if source["psfFlux"] > 0:
                    self.assertAlmostEqual(
                        summary.mag, (source["psfFlux"] * u.nJy).to_value(u.ABmag), places=6
                    )
                else:
                    self.assertIsNone(summary.mag)
                self.assertEqual(
                    summary.size, len(encodeRecord(record, fastavro.parse_schema(alertFile.embeddedSchema)))
                )
                line = formatAlertLine(summary).split()
                self.assertEqual(int(line[0]), record["diaSourceId"])
                self.assertEqual(line[2], source["band"])
                self.assertAlmostEqual(float(line[3]), source["ra"], places=6)
                self.assertAlmostEqual(float(line[4]), source["dec"], places=6)
                self.assertEqual(line[9], expectedCutouts)
                self.assertEqual(int(line[10]), decoded.size)
            fileSummary = summarizeFile(summaries, alertFile)
            total = sum(
                len(encodeRecord(r, fastavro.parse_schema(alertFile.embeddedSchema))) for r in records
            )
            self.assertEqual(fileSummary, FileSummary(len(records), "11.1", 1101, total))
            self.assertEqual(fileSummary.meanBytes, total / len(records))
            self.assertEqual(
                formatSummary(fileSummary),
                f"{len(records)} alerts, schema 11.1 (ID 1101), {total:,} bytes total, "
                f"{round(total / len(records)):,} bytes mean",
            )

    def testSolarSystemAlertHasNoDiaObject(self):
        alerts = [a.alert for a in AlertFile(self.path)]
        # The simulated visit has solar-system sources: alerts without diaObject.
        ssAlerts = [a for a in alerts if a["diaObject"] is None]
        self.assertTrue(ssAlerts)
        for alert in ssAlerts:
            summary = summarizeAlert(alert, 10)
            self.assertIsNone(summary.nDiaSources)
            self.assertEqual(summary.diaObjectId, alert["diaSource"]["diaObjectId"])


class SummaryFunctionTestCase(lsst.utils.tests.TestCase):
    """The summary helpers on hand-made alerts."""

    def testAbMagnitude(self):
        for flux in (1.0, 3631e9, 12345.6, 1e-3):
            with self.subTest(flux=flux):
                self.assertAlmostEqual(abMagnitude(flux), (flux * u.nJy).to_value(u.ABmag), places=6)
        self.assertAlmostEqual(abMagnitude(3631e9), 0.0, places=3)
        for flux in (None, 0.0, -5.0, math.nan, math.inf, -math.inf):
            with self.subTest(flux=flux):
                self.assertIsNone(abMagnitude(flux))

    def testTriageFlags(self):
        source = {
            "pixelFlags": True,
            "pixelFlags_edge": True,
            "pixelFlags_cr": False,
            "pixelFlags_saturatedCenter": True,
            "centroid_flag": True,
            "psfFlux_flag_edge": False,
            "shape_flag": None,
            "glint_trail": True,
            "isDipole": True,
            "trail_flag_edge": 1,
        }
        self.assertEqual(triageFlags(source), ("edge", "saturatedCenter", "centroid_flag", "glint_trail"))
        self.assertEqual(triageFlags({"pixelFlags": True, "pixelFlags_edge": False}), ("pixelFlags",))
        self.assertEqual(triageFlags({"pixelFlags": False, "centroid_flag": False}), ())
        self.assertEqual(triageFlags({}), ())

    def testSummaryOfASparseAlert(self):
        """Missing parts: no diaObject, no history, no cutouts, an error of zero, a NaN flux."""
        alert = {
            "diaSourceId": 7,
            "diaSource": {
                "diaSourceId": 7,
                "diaObjectId": None,
                "band": "g",
                "psfFlux": math.nan,
                "psfFluxErr": 2.0,
            },
            "diaObject": {"diaObjectId": 99, "nDiaSources": 4},
            "prvDiaSources": None,
            "prvDiaForcedSources": [{}, {}],
            "cutoutDifference": b"x",
            "cutoutScience": None,
        }
        summary = summarizeAlert(alert, 123)
        self.assertEqual(summary.diaObjectId, 99)
        self.assertEqual(summary.nDiaSources, 4)
        self.assertIsNone(summary.snr)
        self.assertIsNone(summary.mag)
        self.assertEqual((summary.nHistory, summary.nForced), (0, 2))
        self.assertEqual(summary.cutouts, "D--")
        self.assertEqual(summary.size, 123)
        document = summary.toJson()
        self.assertIsNone(document["psfFlux"])
        self.assertEqual(document["flags"], [])
        json.dumps(document, allow_nan=False)
        zeroErr = summarizeAlert({"diaSource": {"psfFlux": 5.0, "psfFluxErr": 0.0}}, 0)
        self.assertIsNone(zeroErr.snr)
        self.assertIsNone(zeroErr.diaSourceId)
        self.assertIsNone(zeroErr.nDiaSources)
        line = formatAlertLine(summary)
        fields = line.split()
        self.assertEqual(fields, ["7", "99", "g", "-", "-", "-", "-", "0", "2", "D--", "123"])

    def testColumns(self):
        header = formatHeaderLine()
        self.assertEqual(
            header.split(),
            [
                "diaSourceId",
                "diaObjectId",
                "band",
                "ra",
                "dec",
                "psfFlux",
                "S/N",
                "nPrv",
                "nForced",
                "cut",
                "bytes",
            ],
        )
        summary = AlertSummary(
            diaSourceId=1,
            diaObjectId=2,
            band="r",
            ra=10.0,
            dec=-5.5,
            psfFlux=1234.56,
            psfFluxErr=10.0,
            snr=123.456,
            nHistory=3,
            nForced=4,
            cutouts="DST",
            size=98765,
            midpointMjdTai=60000.0,
        )
        line = formatAlertLine(summary)
        # Columns of 20, 20, 4, 11, 11, 11, 7, 5, 7, 3 and 8 characters; text left-aligned, numbers right.
        expected = (
            f"{'1':>20} {'2':>20} {'r':<4} {'10.000000':>11} {'-5.500000':>11} {'1234.6':>11} "
            f"{'123.5':>7} {'3':>5} {'4':>7} {'DST':<3} {'98765':>8}"
        )
        self.assertEqual(line, expected)
        self.assertEqual(len(line), len(header))
        # A positive declination keeps its sign.
        self.assertIn(" +5.500000 ", formatAlertLine(dataclasses.replace(summary, dec=5.5)))

    def testFormatSummary(self):
        self.assertEqual(
            formatSummary(FileSummary(1, "11.1", 1101, 1234567)),
            "1 alert, schema 11.1 (ID 1101), 1,234,567 bytes total, 1,234,567 bytes mean",
        )
        self.assertEqual(
            formatSummary(FileSummary(3, None, 4242, 10), what="messages"),
            "3 messages, schema ? (ID 4242), 10 bytes total, 3 bytes mean",
        )
        self.assertEqual(
            formatSummary(FileSummary(0, None, None, 0)),
            "0 alerts, schema unknown, 0 bytes total, - bytes mean",
        )
        self.assertEqual(
            FileSummary(4, "11.1", 1101, 10).toJson(),
            {"count": 4, "schemaVersion": "11.1", "schemaId": 1101, "totalBytes": 10, "meanBytes": 2.5},
        )


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
