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

"""Alert assembly: ALERT_PARTS, the columnar encoder against fastavro, caller dicts typed to the schema."""

import io
import logging
import unittest

import fastavro
import lsst.utils.tests
import numpy as np
import pandas as pd

from lsst.ap.alerts.avro.assembly import ALERT_PARTS, AlertEncoder, PartKind, alertDictValue, nullIfEmpty
from lsst.ap.alerts.catalogs.visitInputs import VisitInputs
from lsst.ap.alerts.catalogs.visitTables import prepareVisitTables
from lsst.ap.alerts.schemaRegistry import SchemaRegistry
from lsst.ap.alerts.simulation import makeSimulatedVisit

REGISTRY = SchemaRegistry.default()
SCHEMA = REGISTRY.load("11.1")
LOG = logging.getLogger("test_assembly")
CUTOUTS = ("cutoutDifference", "cutoutScience", "cutoutTemplate")


def _tables(visit, schema=SCHEMA, nanAsNull=False):
    inputs = VisitInputs(
        visit.diaSourceCat,
        visit.diaObjectCat,
        visit.diaSrcHistory,
        visit.diaForcedSources,
        visit.diffIm,
        visit.calexp,
        visit.template,
        visit.ssSrc,
    )
    return prepareVisitTables(
        schema,
        inputs,
        True,
        0,
        LOG,
        nanAsNull=nanAsNull,
    )


def visitToDicts(encoder, tables, cutouts, observationReason, targetName):
    """The alerts of ``encodeVisit`` as dicts, from the typed tables (the reference fastavro writes).

    ``cutouts`` gives, per cutout field, each source's FITS `bytes` or `None`.
    """
    parts = {part.name: part for part in ALERT_PARTS}
    records = {}

    def rowsOf(part):
        if part.table not in records:
            table = getattr(tables, part.table)
            records[part.table] = [] if table is None else table.toRecords()
        return records[part.table]

    scheduler = {"observation_reason": observationReason, "target_name": targetName}
    alerts = []
    for i, srcId in enumerate(tables.diaSourceIds.tolist()):
        alert = {}
        for name, _ in encoder.fields:
            part = parts.get(name)
            kind = None if part is None else part.kind
            if kind is PartKind.ID:
                alert[name] = srcId
            elif kind is PartKind.SCHEDULER:
                alert[name] = scheduler[name]
            elif kind is PartKind.RECORD:
                alert[name] = rowsOf(part)[i]
            elif kind is PartKind.OPTIONAL_RECORD:
                row = getattr(tables, part.rows)[i]
                alert[name] = rowsOf(part)[row] if row >= 0 else None
            elif kind is PartKind.ARRAY:
                span = getattr(tables, part.rows)[i]
                alert[name] = None if span is None else rowsOf(part)[span[0] : span[1]]
            elif kind is PartKind.CUTOUT:
                alert[name] = cutouts[name][i]
            else:
                alert[name] = None
        alerts.append(alert)
    return alerts


def _fastavro(schema, alert):
    stream = io.BytesIO()
    fastavro.schemaless_writer(stream, schema.parsed, alert)
    return stream.getvalue()


class _FailingCutouts:
    """Stands in for planned cutouts (cutouts.plan) whose pixels cannot be written for one alert."""

    def __init__(self, n, failAt):
        self.fileSizes = np.full(n, 10, dtype=np.int64)
        self.failAt = failAt

    def writeInto(self, index, out, offset):
        if index == self.failAt:
            raise RuntimeError("pixels unavailable")
        out[offset : offset + 10] = b"0123456789"
        return offset + 10


class AlertPartsTestCase(lsst.utils.tests.TestCase):
    def testEverySchemaFieldIsKnownOrNullable(self):
        names = {part.name for part in ALERT_PARTS}
        for version in REGISTRY.versions:
            schema = REGISTRY.byVersion(version)
            with self.subTest(version=schema.versionString):
                for field in schema.definition["fields"]:
                    nullable = isinstance(field["type"], list) and field["type"][0] == "null"
                    self.assertTrue(field["name"] in names or nullable, field["name"])
                AlertEncoder(schema)  # accepts every shipped schema

    def testPartsMatchSchemaRecords(self):
        fields = {f["name"]: f for f in SCHEMA.definition["fields"]}
        for part in ALERT_PARTS:
            if part.record is not None:
                self.assertIn(part.record, SCHEMA.records, part.name)
                self.assertIn(part.name, fields)
        upstreamKeys = [p.name for p in ALERT_PARTS if p.inUpstreamDict]
        self.assertEqual(len(upstreamKeys), 13)
        self.assertNotIn("alertId", upstreamKeys)

    def testAlertDictValue(self):
        part = {p.name: p for p in ALERT_PARTS}
        row = pd.Series({"a": np.float32(1.5), "b": "x"})
        frame = pd.DataFrame({"a": [1, 2]})
        self.assertEqual(alertDictValue(part["diaSource"], row, None), {"a": np.float32(1.5), "b": "x"})
        self.assertEqual(alertDictValue(part["prvDiaSources"], frame, None), [{"a": 1}, {"a": 2}])
        self.assertEqual(alertDictValue(part["prvDiaSources"], row, None), [row.to_dict()])
        self.assertIsNone(alertDictValue(part["prvDiaSources"], None, None))
        self.assertEqual(
            alertDictValue(part["cutoutScience"], "ccd", lambda c: b"fits:" + c.encode()), b"fits:ccd"
        )
        self.assertIsNone(alertDictValue(part["observation_reason"], " ", None))
        self.assertEqual(alertDictValue(part["observation_reason"], "x", None), "x")
        self.assertIsNone(alertDictValue(part["prvDiaNondetectionLimits"], [1], None))
        self.assertEqual({p.kind for p in ALERT_PARTS}, set(PartKind))

    def testNullIfEmpty(self):
        """The one scheduler-string rule: missing or blank is null, anything else passes unchanged."""
        for value in (None, "", "   ", "\t\n"):
            self.assertIsNone(nullIfEmpty(value), repr(value))
        for value in ("science", "  field 7 ", ("science",), 0):
            self.assertIs(nullIfEmpty(value), value)


class EncodeVisitTestCase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.visit = makeSimulatedVisit(25, 6, seed=31, size=300, fractionSolarSystem=0.2, fillAllFields=True)

    def testColumnarEqualsFastavroOnDicts(self):
        for nanAsNull in (False, True):
            with self.subTest(nanAsNull=nanAsNull):
                tables = _tables(self.visit, nanAsNull=nanAsNull)
                encoder = AlertEncoder(SCHEMA, nanAsNull=nanAsNull)
                streamed = []
                encoded = encoder.encodeVisit(
                    tables,
                    dict.fromkeys(CUTOUTS),
                    "science",
                    None,
                    LOG,
                    onAlert=lambda p, streamed=streamed: streamed.append(bytes(p)),
                )
                dicts = visitToDicts(
                    encoder,
                    tables,
                    {name: [None] * len(tables.diaSourceIds) for name in CUTOUTS},
                    "science",
                    None,
                )
                self.assertEqual(encoded.failed, [])
                self.assertEqual(encoded.diaSourceIds, tables.diaSourceIds.tolist())
                self.assertEqual(len(dicts), len(encoded.payloads))
                for alert, payload in zip(dicts, encoded.payloads, strict=True):
                    self.assertEqual(bytes(payload), _fastavro(SCHEMA, alert))
                self.assertEqual(streamed, [bytes(p) for p in encoded.payloads])
                # Payloads are read-only views.
                with self.assertRaises(TypeError):
                    encoded.payloads[0][0] = 1

    def testOlderSchemas(self):
        """10.0 (same parts) and 7.4 (alertId, no scheduler strings, no solar-system records)."""
        visit = makeSimulatedVisit(10, 3, seed=32, size=200, fractionSolarSystem=0.0, fillAllFields=True)
        for version in ("10.0", "7.4"):
            with self.subTest(version=version), self.assertNoLogs(LOG, "ERROR"):
                schema = REGISTRY.load(version)
                tables = _tables(visit, schema)
                encoder = AlertEncoder(schema)
                encoded = encoder.encodeVisit(tables, dict.fromkeys(CUTOUTS), "r", None, LOG)
                n = len(tables.diaSourceIds)
                self.assertGreater(len(encoded.payloads), 0)
                dicts = visitToDicts(encoder, tables, {name: [None] * n for name in CUTOUTS}, "r", None)
                for alert, payload in zip(dicts, encoded.payloads, strict=True):
                    self.assertEqual(bytes(payload), _fastavro(schema, alert))

    def testOneFailedAlertCostsOnlyItself(self):
        tables = _tables(self.visit)
        n = len(tables.diaSourceIds)
        cutouts = dict.fromkeys(CUTOUTS)
        cutouts["cutoutScience"] = _FailingCutouts(n, failAt=2)
        with self.assertLogs(LOG, "WARNING") as cm:
            encoded = AlertEncoder(SCHEMA).encodeVisit(tables, cutouts, None, None, LOG)
        failedId = int(tables.diaSourceIds[2])
        self.assertEqual([srcId for srcId, _ in encoded.failed], [failedId])
        self.assertIn("pixels unavailable", encoded.failed[0][1])
        self.assertIn(str(failedId), cm.output[0])
        self.assertEqual(len(encoded.payloads), n - 1)
        for payload in encoded.payloads:
            alert = fastavro.schemaless_reader(io.BytesIO(payload), SCHEMA.parsed, None)
            self.assertEqual(alert["cutoutScience"], b"0123456789")


class TypedAlertTestCase(lsst.utils.tests.TestCase):
    def testRawValuesAreTyped(self):
        encoder = AlertEncoder(SCHEMA)
        alert = {
            "diaSourceId": np.int64(5),
            "observation_reason": "",
            "diaSource": {
                "diaSourceId": np.int64(5),
                "visit": 1,
                "detector": np.int16(3),
                "ra": 10.0,
                "dec": -5.0,
                "x": np.float64(1.23456789),
                "y": 2.0,
                "midpointMjdTai": 60000,
                "psfNdata": 0,
                "trailNdata": 0,
                "dipoleNdata": 0,
                "timeProcessedMjdTai": 60001.0,
                "bboxSize": 20,
                "psfFlux": np.nan,
                "band": pd.NA,
                "extra": "ignored",
            },
            "prvDiaForcedSources": [],
        }
        typed = encoder.typedAlert(alert)
        source = typed["diaSource"]
        self.assertEqual(set(source), {f["name"] for f in SCHEMA.records["diaSource"]["fields"]})
        self.assertEqual(source["x"], float(np.float32(1.23456789)))
        self.assertTrue(np.isnan(source["psfFlux"]))
        self.assertIsNone(source["band"])
        self.assertIsNone(source["trailFlux"])
        self.assertIsNone(typed["observation_reason"])
        self.assertEqual(typed["prvDiaForcedSources"], [])
        self.assertIsNone(typed["diaObject"])
        decoded = fastavro.schemaless_reader(io.BytesIO(encoder.encodeDict(alert)), SCHEMA.parsed, None)
        self.assertEqual(decoded["diaSource"]["detector"], 3)
        nulled = fastavro.schemaless_reader(
            io.BytesIO(AlertEncoder(SCHEMA, nanAsNull=True).encodeDict(alert)), SCHEMA.parsed, None
        )
        self.assertIsNone(nulled["diaSource"]["psfFlux"])

    def testValueThatDoesNotFitNamesSourceAndField(self):
        encoder = AlertEncoder(SCHEMA)
        alert = {"diaSourceId": 9, "diaSource": {"diaSourceId": 9, "visit": "v"}}
        with self.assertRaisesRegex(ValueError, r"diaSourceId=9: diaSource\.visit"):
            encoder.encodeDict(alert)

    def testSchedulerValueThatIsNotAStringNamesField(self):
        encoder = AlertEncoder(SCHEMA)
        alert = {"diaSourceId": 9, "observation_reason": ("science",)}
        with self.assertRaisesRegex(ValueError, r"diaSourceId=9: observation_reason: expected a string"):
            encoder.encodeDict(alert)
        self.assertIsNone(encoder.typedAlert({"diaSourceId": 9, "target_name": " "})["target_name"])


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
