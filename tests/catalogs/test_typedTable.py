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

"""DataFrame → schema-typed columns: the value rules of records.py."""

import io
import unittest

import fastavro
import lsst.utils.tests
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from lsst.ap.alerts.catalogs.typedTable import coerceTable, fieldSpecs
from lsst.ap.alerts.catalogs.visitTables import groupRows
from lsst.ap.alerts.schemaRegistry import SchemaRegistry

SCHEMA = SchemaRegistry.default().load("11.1")


def _forced(n=3, **overrides):
    table = pd.DataFrame(
        {
            "diaForcedSourceId": np.arange(n, dtype=np.int64) + 10,
            "diaObjectId": np.full(n, 7, dtype=np.int64),
            "ra": np.linspace(10, 11, n),
            "dec": np.linspace(-5, -4, n),
            "visit": np.full(n, 123, dtype=np.int64),
            "detector": np.full(n, 9, dtype=np.int16),
            "psfFlux": np.linspace(1, 2, n).astype(np.float32),
            "psfFluxErr": np.ones(n, dtype=np.float32),
            "midpointMjdTai": np.full(n, 60000.5),
            "band": ["g"] * n,
            "timeProcessedMjdTai": np.full(n, 60001.0),
        }
    )
    for k, v in overrides.items():
        table[k] = v
    return table


class RecordsTestCase(lsst.utils.tests.TestCase):
    def setUp(self):
        self.records = SCHEMA.records

    def assertEncodesLikeFastavro(self, typed):
        """toRecords() is what the schema accepts, row for row."""
        for record in typed.toRecords():
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, fastavro.parse_schema(typed.schema, named_schemas={}), record)
            decoded = fastavro.schemaless_reader(
                io.BytesIO(buf.getvalue()), fastavro.parse_schema(typed.schema, named_schemas={}), None
            )
            self.assertEqual(set(decoded), {s.name for s in typed.specs})

    def testTypes(self):
        typed, problems = coerceTable(_forced(), self.records["diaForcedSource"])
        self.assertEqual(problems, [])
        self.assertEqual(typed.columns["diaForcedSourceId"].dtype, np.int64)
        self.assertEqual(typed.columns["detector"].dtype, np.int32)
        self.assertEqual(typed.columns["psfFlux"].dtype, np.float32)
        self.assertEqual(typed.columns["ra"].dtype, np.float64)
        # Absent nullable fields are null.
        self.assertTrue(typed.nulls["scienceFlux"].all())
        self.assertTrue(typed.nulls["timeWithdrawnMjdTai"].all())
        self.assertEncodesLikeFastavro(typed)

    def testNullRules(self):
        table = _forced(
            4,
            psfFlux=pd.array([1.5, None, np.nan, 2.0], dtype="Float32"),
            scienceFlux=pd.Series([1.0, np.nan, None, 3.0], dtype=object),
            band=["g", None, pd.NA, ""],
        )
        typed, problems = coerceTable(table, self.records["diaForcedSource"])
        self.assertEqual(problems, [])
        rows = typed.toRecords()
        # NA in a masked float column → null; NaN in a float column stays NaN.
        self.assertIsNone(rows[1]["psfFlux"])
        self.assertEqual(rows[0]["psfFlux"], 1.5)
        self.assertIsNone(rows[2]["scienceFlux"])
        self.assertTrue(np.isnan(rows[1]["scienceFlux"]))
        # Strings: None/NA → null, "" stays "".
        self.assertIsNone(rows[1]["band"])
        self.assertIsNone(rows[2]["band"])
        self.assertEqual(rows[3]["band"], "")

    def testNullableIntegerFromFloatNaN(self):
        records = self.records["diaSource"]
        spec = {s.name: s for s in fieldSpecs(records)}
        self.assertTrue(spec["ssObjectId"].nullable)
        table = pd.DataFrame({"ssObjectId": [np.nan, 5.0, 2.0**40]})
        typed, problems = coerceTable(table, records)
        self.assertEqual([p.field for p in problems if p.field == "ssObjectId"], [])
        self.assertEqual(typed.toRecords()[1]["ssObjectId"], 5)
        self.assertIsNone(typed.toRecords()[0]["ssObjectId"])
        self.assertEqual(typed.toRecords()[2]["ssObjectId"], 2**40)

    def testProblemsNameRowAndField(self):
        table = _forced(
            3,
            visit=[1.0, np.nan, 2.5],  # non-nullable long: null and non-integral
            detector=[1, 2**40, 3],  # int out of range
            psfFlux=[1.0, 1e39, 2.0],  # overflows float32
        )
        _, problems = coerceTable(table.astype({"visit": object}), self.records["diaForcedSource"])
        found = {(p.row, p.field) for p in problems}
        self.assertIn((1, "visit"), found)
        self.assertIn((2, "visit"), found)
        self.assertIn((1, "detector"), found)
        self.assertIn((1, "psfFlux"), found)
        self.assertNotIn((0, "visit"), found)

    def testMissingRequiredColumn(self):
        table = _forced().drop(columns=["midpointMjdTai"])
        _, problems = coerceTable(table, self.records["diaForcedSource"])
        self.assertEqual({p.field for p in problems}, {"midpointMjdTai"})
        self.assertEqual({p.row for p in problems}, {0, 1, 2})
        self.assertIn("missing", problems[0].reason)

    def testIndexLevelsAreFields(self):
        table = _forced().set_index(["diaObjectId", "diaForcedSourceId"])
        typed, problems = coerceTable(table, self.records["diaForcedSource"])
        self.assertEqual(problems, [])
        np.testing.assert_array_equal(typed.columns["diaForcedSourceId"], [10, 11, 12])

    def testTimestampMicros(self):
        records = self.records["mpc_orbits"]
        table = pd.DataFrame(
            {
                "id": [1, 2],
                "designation": ["2024 AB631", "1995 XA"],
                "packed_primary_provisional_designation": ["_OA004S", "J95X00A"],
                "unpacked_primary_provisional_designation": ["2024 AB631", "1995 XA"],
                "created_at": pd.to_datetime(["2025-01-02T03:04:05.123456", None]),
            }
        )
        typed, problems = coerceTable(table, records)
        self.assertEqual(problems, [])
        rows = typed.toRecords()
        self.assertEqual(rows[0]["created_at"], 1735787045123456)
        self.assertIsNone(rows[1]["created_at"])

    def testFloat32RoundingMatchesAvroWriter(self):
        value = 0.1 + 1e-9
        typed, _ = coerceTable(_forced(1, psfFlux=[value]), self.records["diaForcedSource"])
        record = typed.toRecords()[0]
        schema = fastavro.parse_schema(self.records["diaForcedSource"], named_schemas={})
        a, b = io.BytesIO(), io.BytesIO()
        fastavro.schemaless_writer(a, schema, record)
        fastavro.schemaless_writer(b, schema, dict(record, psfFlux=value))
        self.assertEqual(a.getvalue(), b.getvalue())

    def testTake(self):
        typed, _ = coerceTable(_forced(5), self.records["diaForcedSource"])
        sub = typed.take([4, 0])
        self.assertEqual(sub.size, 2)
        np.testing.assert_array_equal(sub.columns["diaForcedSourceId"], [14, 10])
        self.assertEqual(typed.take([]).toRecords(), [])


# Column kinds of the value-rules test: (field, pandas dtype, values drawn per row).
_NUMBERS = st.sampled_from([0.0, 1.0, -2.5, 1.5, 7.0, 2.0**40, 1e39, -1e39, np.inf, np.nan])
_RULE_COLUMNS = [
    ("x", "float64", _NUMBERS),  # non-nullable float
    ("psfFlux", "float32", _NUMBERS),  # nullable float, from float32
    ("psfFluxErr", "float64", _NUMBERS),  # nullable float, overflow possible
    ("ra", "float64", _NUMBERS),  # non-nullable double
    ("apFlux", "Float64", st.one_of(_NUMBERS, st.none())),  # masked float: NA is null
    ("psfNdata", "float64", _NUMBERS),  # non-nullable int from floats
    ("ssObjectId", "Int64", st.one_of(st.integers(-(2**63), 2**63 - 1), st.none())),
    ("visit", "int16", st.integers(-(2**15), 2**15 - 1)),  # non-nullable long from int16
    ("isDipole", "boolean", st.one_of(st.booleans(), st.none())),
    ("shape_flag", "bool", st.booleans()),
    ("pixelFlags", "Int64", st.one_of(st.sampled_from([0, 1, 2, -1]), st.none())),  # boolean from ints
    ("psfFlux_flag", "float64", st.sampled_from([0.0, 1.0, 0.5, np.nan])),  # boolean from floats
]
_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def _expectedCell(spec, value, nanAsNull):
    """The value rules of ``doc/inputs.md``, one cell at a time: ``("null",)``,
    ``("problem",)`` or ``("value", v)``."""
    if value is None or value is pd.NA:
        return ("null",) if spec.nullable else ("problem",)
    if isinstance(value, (np.generic,)):
        value = value.item()
    if spec.avroType in ("float", "double"):
        v = float(value)
        if np.isnan(v):
            return ("null",) if nanAsNull and spec.nullable else ("value", v)
        if spec.avroType == "float":
            with np.errstate(over="ignore"):
                narrowed = float(np.float32(v))
            if np.isfinite(v) and not np.isfinite(narrowed):
                return ("problem",)
            return ("value", narrowed)
        return ("value", v)
    if spec.avroType == "boolean":
        if isinstance(value, (bool, np.bool_)):
            return ("value", bool(value))
        if isinstance(value, float) and np.isnan(value):
            return ("null",) if spec.nullable else ("problem",)
        return ("value", bool(value)) if value in (0, 1) else ("problem",)
    if isinstance(value, float) and np.isnan(value):
        return ("null",) if spec.nullable else ("problem",)
    lo, hi = _RANGES[spec.avroType]
    if isinstance(value, float) and not (np.isfinite(value) and value.is_integer()):
        return ("problem",)
    return ("value", int(value)) if lo <= int(value) <= hi else ("problem",)


class ValueRulesTestCase(lsst.utils.tests.TestCase):
    """coerceTable against the value rules, cell by cell, for every column kind it fetches."""

    @settings(max_examples=60, deadline=None)
    @given(
        rows=st.integers(1, 6).flatmap(
            lambda n: st.tuples(*[st.lists(values, min_size=n, max_size=n) for _, _, values in _RULE_COLUMNS])
        ),
        nanAsNull=st.booleans(),
    )
    def testEveryCellFollowsTheRules(self, rows, nanAsNull):
        record = SCHEMA.records["diaSource"]
        columns = zip(_RULE_COLUMNS, rows, strict=True)
        table = pd.DataFrame({name: pd.array(values, dtype=dtype) for (name, dtype, _), values in columns})
        typed, problems = coerceTable(table, record, nanAsNull=nanAsNull)
        found = {(p.row, p.field) for p in problems}
        specs = {s.name: s for s in fieldSpecs(record)}
        for name, _, _ in _RULE_COLUMNS:
            spec = specs[name]
            # As stored: 1e39 in a float32 column is already inf.
            for row, value in enumerate(table[name].array.tolist()):
                expected = _expectedCell(spec, value, nanAsNull)
                where = f"{name}[{row}] = {value!r} (nanAsNull={nanAsNull})"
                self.assertEqual((row, name) in found, expected == ("problem",), where)
                mask = typed.nulls[name]
                isNull = mask is not None and bool(mask[row])
                if expected[0] == "problem":
                    continue
                self.assertEqual(isNull, expected == ("null",), where)
                if expected[0] == "value":
                    got = typed.columns[name][row].item()
                    if isinstance(expected[1], float) and np.isnan(expected[1]):
                        self.assertTrue(np.isnan(got), where)
                    else:
                        self.assertEqual(got, expected[1], where)
                        self.assertEqual(type(got), type(expected[1]), where)


class GroupRowsTestCase(lsst.utils.tests.TestCase):
    def checkGrouping(self, keys):
        order, spans = groupRows(np.asarray(keys))
        self.assertEqual(sorted(order.tolist()), list(range(len(keys))))
        self.assertEqual(set(spans), {int(k) for k in keys})
        for key, (start, stop) in spans.items():
            rows = order[start:stop].tolist()
            # All of the key's rows, in input order.
            self.assertEqual(rows, [i for i, k in enumerate(keys) if k == key])
        return order

    def testAlreadyGroupedKeepsInputOrder(self):
        order = self.checkGrouping([7, 7, 3, 3, 3, 9, 1])
        self.assertEqual(order.tolist(), list(range(7)))

    def testScatteredKeysAreSortedStably(self):
        order = self.checkGrouping([7, 3, 7, 9, 3, 1, 7])
        self.assertNotEqual(order.tolist(), list(range(7)))

    def testRandomKeys(self):
        rng = np.random.default_rng(4)
        for _ in range(50):
            keys = rng.integers(0, rng.integers(1, 20), rng.integers(0, 40))
            if rng.random() < 0.5:
                keys = np.sort(keys)[::-1]
            self.checkGrouping(keys.tolist())

    def testEmpty(self):
        order, spans = groupRows(np.zeros(0, dtype=np.int64))
        self.assertEqual(len(order), 0)
        self.assertEqual(spans, {})


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
