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

"""Tests of `lsst.ap.alerts.tools.fileValidation`: alert files checked against the schema.

A good file is written by `PackageAlertsTask` on a small simulated visit;
every bad file is that file with some bytes edited here (a header with
another schema, a garbled block, a cut tail, a wrong sync marker, an alert
whose diaSourceId is not its diaSource's), located by walking the Avro
layout with a few lines of decoding, independently of the module under
test.  The good file's alert and cutout counts come from ``fastavro.reader``;
the cutout checks are also run on FITS files made by astropy.
"""

import functools
import io
import json
import os
import shutil
import struct
import tempfile
import unittest

import astropy.units as u
import fastavro
import lsst.utils.tests
import numpy as np
from alertFileBytes import (
    SYNC_SIZE,
    AlertFileFixture,
    encodeLong,
    encodeRecord,
    readLong,
)
from astropy.nddata import CCDData, StdDevUncertainty
from astropy.wcs import WCS
from cutoutLayouts import cutoutLayouts
from fastavro.read import HEADER_SCHEMA

from lsst.ap.alerts.cutouts.ccdData import ccdDataToFitsBytes
from lsst.ap.alerts.cutouts.fits import compressedMaskHdu
from lsst.ap.alerts.schemaRegistry import SchemaRegistry
from lsst.ap.alerts.tools.fileValidation import (
    Problem,
    ValidationReport,
    checkAlert,
    checkCutout,
    validateFile,
    validatePaths,
)

CUTOUTS = ("cutoutDifference", "cutoutScience", "cutoutTemplate")


def fitsBytes(ccd):
    stream = io.BytesIO()
    ccd.write(stream, format="fits")
    return stream.getvalue()


class ValidateFileTestCase(AlertFileFixture, lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.writeAlertFiles("validation-", seed=7, nSources=5)
        cls.embedded = json.loads(cls.header["meta"]["avro.schema"])
        # The oracle's premises: one container of null-codec blocks ending the file.
        assert cls.header["meta"]["avro.codec"] == b"null"
        assert cls.blocks[-1].syncStart + SYNC_SIZE == len(cls.data)
        assert sum(b.count for b in cls.blocks) == len(cls.records)

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="validation-work-")
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)

    def write(self, name, data):
        path = os.path.join(self.work, name)
        with open(path, "wb") as stream:
            stream.write(data)
        return path

    def withEmbeddedSchema(self, schema):
        """The good file's bytes with another ``avro.schema`` in its header (same blocks and marker)."""
        metadata = dict(self.header["meta"])
        metadata["avro.schema"] = json.dumps(schema).encode()
        stream = io.BytesIO()
        fastavro.schemaless_writer(
            stream, HEADER_SCHEMA, {"magic": b"Obj\x01", "meta": metadata, "sync": self.header["sync"]}
        )
        return stream.getvalue() + self.data[self.headerEnd :]

    def alertsBefore(self, k):
        return sum(b.count for b in self.blocks[:k])

    def assertOneFileProblem(self, report, path, *fragments):
        """Exactly one problem, of the file as a whole, with every fragment in its text."""
        self.assertFalse(report.ok)
        self.assertEqual(len(report.problems), 1, msg=[str(p) for p in report.problems])
        problem = report.problems[0]
        self.assertEqual(problem.path, path)
        self.assertIsNone(problem.index)
        for fragment in fragments:
            self.assertIn(fragment, problem.reason)
        # The path is said once, by the problem, not again in the reason.
        self.assertNotIn(path, problem.reason)
        self.assertTrue(str(problem).startswith(f"{path}: "))
        return problem

    # -- good files ------------------------------------------------------------

    def testGoodFiles(self):
        for path, nCutouts in ((self.path, 3), (self.noTemplatePath, 2)):
            with self.subTest(path=os.path.basename(os.path.dirname(path))):
                with open(path, "rb") as stream:
                    records = list(fastavro.reader(stream))
                cutouts = sum(isinstance(r[name], bytes) for r in records for name in CUTOUTS)
                self.assertEqual(cutouts, nCutouts * len(records))
                calls = []
                report = validateFile(path, onAlert=functools.partial(calls.append, 1))
                self.assertTrue(report.ok, msg=[str(p) for p in report.problems])
                self.assertEqual((report.files, report.alerts, report.cutouts), (1, len(records), cutouts))
                self.assertEqual(len(calls), len(records))
        # Against its own schema given explicitly, by ID or version.
        for spec in ("1101", "11.1"):
            self.assertTrue(validateFile(self.path, spec).ok)

    def testGoodFramedFile(self):
        record = self.records[1]
        payload = encodeRecord(record, self.writerSchema)
        path = self.write("1_2_3.avro", struct.pack(">bI", 0, 1101) + payload)
        report = validateFile(path)
        self.assertTrue(report.ok, msg=[str(p) for p in report.problems])
        self.assertEqual((report.alerts, report.cutouts), (1, 3))

    def testValidatePaths(self):
        empty = self.write("empty.avro", b"")
        seen = []
        report = validatePaths(
            [self.path, empty, self.noTemplatePath],
            onFile=lambda path, r: seen.append((path, r.ok, r.alerts)),
        )
        self.assertEqual(report.files, 3)
        self.assertEqual(report.alerts, len(self.records) + 3)
        self.assertEqual(report.cutouts, 3 * len(self.records) + 2 * 3)
        self.assertEqual(
            seen, [(self.path, True, len(self.records)), (empty, False, 0), (self.noTemplatePath, True, 3)]
        )
        self.assertEqual([p.path for p in report.problems], [empty])
        self.assertFalse(report.ok)

    # -- the wrong schema ----------------------------------------------------------

    def testCheckedAgainstAnotherVersion(self):
        report = validateFile(self.path, "11.0")
        # The alerts themselves also fit 11.0: the version is the one problem.
        problem = self.assertOneFileProblem(report, self.path)
        self.assertEqual(problem.reason, "embedded schema lsst.v11_1.alert is not the expected schema 11.0")
        self.assertEqual(report.alerts, len(self.records))

    def testEmbeddedSchemaDiffers(self):
        """A header schema that encodes like the registry's but is not it (detector long, not int)."""
        schema = json.loads(json.dumps(self.embedded))
        diaSource = next(f for f in schema["fields"] if f["name"] == "diaSource")["type"]
        detector = next(f for f in diaSource["fields"] if f["name"] == "detector")
        self.assertEqual(detector["type"], "int")
        detector["type"] = "long"
        path = self.write("long.avro", self.withEmbeddedSchema(schema))
        with open(path, "rb") as stream:
            self.assertEqual(len(list(fastavro.reader(stream))), len(self.records))
        report = validateFile(path)
        self.assertOneFileProblem(
            report, path, "embedded schema lsst.v11_1.alert differs from the registry's schema 11.1"
        )
        self.assertEqual(report.alerts, len(self.records))

    def testFieldsViolatingTheSchema(self):
        """band written as bytes (encoded as a string is): each alert's band is reported."""
        schema = json.loads(json.dumps(self.embedded))
        diaSource = next(f for f in schema["fields"] if f["name"] == "diaSource")["type"]
        band = next(f for f in diaSource["fields"] if f["name"] == "band")
        self.assertEqual(band["type"], ["null", "string"])
        band["type"] = ["null", "bytes"]
        path = self.write("bytes.avro", self.withEmbeddedSchema(schema))
        report = validateFile(path)
        self.assertEqual(report.alerts, len(self.records))
        self.assertIn("differs from the registry's schema 11.1", report.problems[0].reason)
        perAlert = [p for p in report.problems if p.index is not None]
        self.assertEqual(sorted({p.index for p in perAlert}), list(range(len(self.records))))
        for problem in perAlert:
            record = self.records[problem.index]
            self.assertEqual(problem.diaSourceId, record["diaSourceId"])
            self.assertTrue(problem.where.endswith("band"), problem.where)
            self.assertIn(
                f"value {record['diaSource']['band'].encode()!r} does not match schema 11.1", problem.reason
            )
            self.assertIn("string", problem.reason)
            self.assertEqual(
                str(problem),
                f"{path}: alert #{problem.index} (diaSourceId {record['diaSourceId']}): "
                f"{problem.where}: {problem.reason}",
            )

    def testUnknownEmbeddedVersion(self):
        schema = dict(self.embedded, name="lsst.v99_9.alert")
        schema.pop("namespace", None)
        path = self.write("v99.avro", self.withEmbeddedSchema(schema))
        self.assertOneFileProblem(
            validateFile(path), path, "embedded schema lsst.v99_9.alert", "Unknown alert schema version 99.9"
        )
        # Checked against a version given explicitly, the mismatch is one problem.
        report = validateFile(path, "11.1")
        self.assertEqual(
            [p.reason for p in report.problems],
            ["embedded schema lsst.v99_9.alert is not the expected schema 11.1"],
        )
        self.assertEqual(report.alerts, len(self.records))

    def testUnversionedEmbeddedSchema(self):
        schema = dict(self.embedded, name="customAlert")
        schema.pop("namespace", None)
        path = self.write("custom.avro", self.withEmbeddedSchema(schema))
        problem = self.assertOneFileProblem(validateFile(path), path, "'customAlert' names no schema version")
        self.assertIn("give one to check against", problem.reason)
        report = validateFile(path, "11.1")
        self.assertEqual(len(report.problems), 1)
        self.assertIn("differs from the registry's schema 11.1", report.problems[0].reason)

    def testFramedWithTheWrongSchema(self):
        payload = encodeRecord(self.records[0], self.writerSchema)
        older = self.write("older.avro", struct.pack(">bI", 0, 1100) + payload)
        # Decoded as 11.0 the payload breaks off or has bytes left: either way schema 11.0 is named.
        self.assertOneFileProblem(validateFile(older), older, "schema 11.0 (ID 1100)")
        report = validateFile(older, "11.1")
        self.assertEqual(
            report.problems[0].reason, "wire header schema ID 1100 is not the expected 1101 (schema 11.1)"
        )
        self.assertEqual(report.alerts, 1)
        unknown = self.write("unknown.avro", struct.pack(">bI", 0, 9999) + payload)
        self.assertOneFileProblem(validateFile(unknown), unknown, "Unknown alert schema ID 9999")
        wrongMagic = self.write("magic.avro", struct.pack(">bI", 1, 1101) + payload)
        self.assertOneFileProblem(
            validateFile(wrongMagic),
            wrongMagic,
            "neither an Avro container file nor a Confluent-framed alert",
        )

    # -- damaged containers ------------------------------------------------------------

    def testCorruptedBlock(self):
        """Garbage over block k's first record: the alerts before are checked, the damage named."""
        k = 2
        bad = bytearray(self.data)
        start = self.blocks[k].dataStart
        bad[start : start + 8] = b"\xff" * 8
        path = self.write("garbled.avro", bytes(bad))
        report = validateFile(path)
        n = self.alertsBefore(k)
        self.assertOneFileProblem(report, path, f"record #{n}: cannot decode")
        self.assertEqual(report.alerts, n)
        self.assertEqual(report.cutouts, 3 * n)

    def testCorruptedCutout(self):
        """Bytes flipped inside a cutout: the file decodes, that cutout is unreadable FITS."""
        k = 1
        record = self.records[self.alertsBefore(k)]
        cutout = record["cutoutScience"]
        start = self.data.index(cutout, self.blocks[k].dataStart)
        bad = bytearray(self.data)
        bad[start : start + 6] = bytes(b ^ 0xFF for b in bad[start : start + 6])
        path = self.write("cutout.avro", bytes(bad))
        report = validateFile(path)
        self.assertEqual(report.alerts, len(self.records))
        self.assertEqual(len(report.problems), 1, msg=[str(p) for p in report.problems])
        problem = report.problems[0]
        self.assertEqual(
            (problem.index, problem.diaSourceId, problem.where),
            (self.alertsBefore(k), record["diaSourceId"], "cutoutScience"),
        )
        self.assertTrue(problem.reason.startswith("unreadable FITS"), problem.reason)

    def testTruncatedTail(self):
        path = self.write("tail.avro", self.data[:-5])
        report = validateFile(path)
        n = len(self.records) - self.blocks[-1].count
        self.assertOneFileProblem(
            report, path, "truncated or corrupt Avro data", f"after record #{n - 1}", "sync marker"
        )
        self.assertEqual(report.alerts, n)

    def testTruncatedMidFile(self):
        k = 1
        block = self.blocks[k]
        path = self.write("half.avro", self.data[: block.dataStart + block.size // 3])
        report = validateFile(path)
        n = self.alertsBefore(k)
        self.assertOneFileProblem(report, path, "truncated or corrupt Avro data", f"after record #{n - 1}")
        self.assertEqual(report.alerts, n)

    def testWrongSyncMarker(self):
        k = 3
        bad = bytearray(self.data)
        start = self.blocks[k].syncStart
        bad[start : start + SYNC_SIZE] = bytes(reversed(self.header["sync"]))
        path = self.write("sync.avro", bytes(bad))
        report = validateFile(path)
        n = self.alertsBefore(k)
        self.assertOneFileProblem(report, path, "sync marker", f"after record #{n - 1}")
        self.assertEqual(report.alerts, n)

    def testDiaSourceIdDisagrees(self):
        """An alert's diaSourceId (its first field) rewritten: schema-valid, but not its diaSource's."""
        k = 1
        index = self.alertsBefore(k)
        start = self.blocks[k].dataStart
        old, end = readLong(self.data, start)
        self.assertEqual(old, self.records[index]["diaSourceId"])
        new = old + 1000
        encoded = encodeLong(new)
        self.assertEqual(len(encoded), end - start)
        path = self.write("id.avro", self.data[:start] + encoded + self.data[end:])
        report = validateFile(path)
        self.assertEqual(report.alerts, len(self.records))
        self.assertEqual(len(report.problems), 1, msg=[str(p) for p in report.problems])
        problem = report.problems[0]
        self.assertEqual((problem.index, problem.diaSourceId, problem.where), (index, new, "diaSourceId"))
        self.assertEqual(problem.reason, f"{new} differs from diaSource.diaSourceId {old}")

    def testCheckAlert(self):
        """A decoded alert with a field of the wrong type, then with an id its diaSource does not have."""
        record = dict(self.records[0], diaSource=dict(self.records[0]["diaSource"]))
        schema = SchemaRegistry.default().byVersion("11.1")
        self.assertEqual(checkAlert(record, schema), [])
        record["diaSource"]["ra"] = "north"
        self.assertEqual(
            checkAlert(record, schema),
            [("lsst.v11_1.diaSource.ra", "value 'north' does not match schema 11.1 (expected double)")],
        )
        record["diaSource"]["ra"] = "x" * 500
        ((field, reason),) = checkAlert(record, schema)
        # Long values are cut to 60 characters.
        self.assertEqual(reason, "value '" + "x" * 56 + "... does not match schema 11.1 (expected double)")
        record["diaSource"]["ra"] = self.records[0]["diaSource"]["ra"]
        record["diaSourceId"] += 1
        self.assertEqual(
            checkAlert(record, schema),
            [
                (
                    "diaSourceId",
                    f"{record['diaSourceId']} differs from diaSource.diaSourceId {record['diaSourceId'] - 1}",
                )
            ],
        )
        # A missing field that cannot be null is named as well.
        del record["diaSource"]["ra"]
        self.assertEqual(
            [field for field, _ in checkAlert(record, schema)], ["lsst.v11_1.diaSource.ra", "diaSourceId"]
        )

    def testEmptyAndMissingFiles(self):
        empty = self.write("empty.avro", b"")
        self.assertOneFileProblem(
            validateFile(empty), empty, "neither an Avro container file nor a Confluent-framed alert"
        )
        missing = os.path.join(self.work, "missing.avro")
        report = validateFile(missing)
        self.assertOneFileProblem(report, missing, "cannot read")
        self.assertEqual((report.files, report.alerts), (1, 0))
        headerOnly = self.write("header.avro", self.data[: self.headerEnd])
        report = validateFile(headerOnly)
        self.assertTrue(report.ok)
        self.assertEqual(report.alerts, 0)


class CheckFunctionsTestCase(lsst.utils.tests.TestCase):
    """checkAlert, checkCutout, Problem and ValidationReport on hand-made inputs."""

    def makeCcd(self, **kwargs):
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wcs.wcs.crval = [53.0, -28.0]
        wcs.wcs.crpix = [4.0, 4.0]
        wcs.wcs.cdelt = [-5e-5, 5e-5]
        data = np.arange(49, dtype=np.float32).reshape(7, 7)
        values = {
            "unit": u.nJy,
            "wcs": wcs,
            "uncertainty": StdDevUncertainty(np.ones((7, 7), dtype=np.float32)),
            "psf": np.full((5, 5), 1 / 25, dtype=np.float32),
        }
        values.update(kwargs)
        return CCDData(data, **{k: v for k, v in values.items() if v is not None})

    def testCheckCutout(self):
        self.assertEqual(checkCutout(fitsBytes(self.makeCcd())), [])
        self.assertEqual(
            checkCutout(fitsBytes(self.makeCcd(unit=u.adu, wcs=None, uncertainty=None, psf=None))),
            [
                "no celestial WCS",
                "unit is adu, expected nJy",
                "no uncertainty (UNCERT HDU)",
                "no PSF (PSFIMAGE HDU)",
            ],
        )
        self.assertEqual(checkCutout(fitsBytes(self.makeCcd(psf=None))), ["no PSF (PSFIMAGE HDU)"])
        reasons = checkCutout(b"not a FITS file at all" * 200)
        self.assertEqual(len(reasons), 1)
        self.assertTrue(reasons[0].startswith("unreadable FITS ("), reasons[0])
        self.assertEqual(len(checkCutout(b"")), 1)

    def testEveryCutoutLayout(self):
        """No mask HDU, a compressed AFWMASK and earlier releases' int32 AFWMASK all validate;
        an AFWMASK of another shape than the image does not."""
        data = ccdDataToFitsBytes(self.makeCcd())
        flags = np.zeros((7, 7), np.int32)
        flags[3, 3] = 32
        for layout, cutout in cutoutLayouts(data, flags, {"DETECTED": 5}).items():
            with self.subTest(layout=layout):
                self.assertEqual(checkCutout(cutout), [])
        # An AFWMASK of another shape than the image cannot be read as its planes.
        wrongShape = data + compressedMaskHdu(np.zeros((7, 6), np.int32), {"DETECTED": 5})
        self.assertEqual(
            checkCutout(wrongShape),
            ["unreadable FITS (ValueError: dimensions of mask (7, 6) and data (7, 7) do not match)"],
        )

    def testProblemText(self):
        self.assertEqual(str(Problem("f.avro", "bad")), "f.avro: bad")
        self.assertEqual(str(Problem("f.avro", "bad", 3)), "f.avro: alert #3: bad")
        self.assertEqual(
            str(Problem("f.avro", "bad", 0, 42, "cutoutScience")),
            "f.avro: alert #0 (diaSourceId 42): cutoutScience: bad",
        )
        self.assertEqual(str(Problem("f.avro", "bad", where="header")), "f.avro: header: bad")

    def testReportAdd(self):
        total = ValidationReport()
        self.assertTrue(total.ok)
        total.add(ValidationReport(files=1, alerts=2, cutouts=6))
        total.add(ValidationReport(files=1, alerts=1, cutouts=3, problems=[Problem("b", "bad")]))
        self.assertEqual((total.files, total.alerts, total.cutouts), (2, 3, 9))
        self.assertEqual(total.problems, [Problem("b", "bad")])
        self.assertFalse(total.ok)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
