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

"""Byte-equality of the columnar Avro encoder with fastavro (container files: test_container.py)."""

import io
import unittest

import fastavro
import lsst.alert.packet
import lsst.utils.tests
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lsst.ap.alerts.avro.encoding import (
    NULL_BRANCH,
    VALUE_BRANCH,
    EncodedRows,
    encodeArrayBlock,
    encodeBytes,
    encodeLong,
    encodeLongs,
    encodeString,
    encodeTable,
)
from lsst.ap.alerts.catalogs.typedTable import TypedTable, coerceTable, fieldSpecs
from lsst.ap.alerts.schemaRegistry import namedRecordSchemas

SCHEMA_PATH = lsst.alert.packet.get_path_to_latest_schema()
ALERT_SCHEMA = fastavro.schema.load_schema(SCHEMA_PATH)
RECORDS = namedRecordSchemas(ALERT_SCHEMA)
RECORD_TYPES = ("diaSource", "diaObject", "diaForcedSource", "ssSource", "mpc_orbits")
MARKER = bytes(range(16))

LONG_EXTREMES = [0, 1, -1, 63, -64, 64, -65, 2**31 - 1, -(2**31), 2**62, -(2**62), 2**63 - 1, -(2**63)]
INT_EXTREMES = [0, 1, -1, 63, -64, 64, -65, 2**31 - 1, -(2**31)]
FLOAT_SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, -1e-45, 3.4028234663852886e38, 1.5]
DOUBLE_SPECIALS = FLOAT_SPECIALS + [5e-324, np.finfo(np.float64).max, -np.finfo(np.float64).max]
STRINGS = ["", "g", "r", "ünïcødé ✓", "🚀 launch", "x" * 300, "tab\tnew\nline", "\x00nul"]


def fastavroBytes(schema, record):
    """Encoding of one datum by fastavro (the reference)."""
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), record)
    return buffer.getvalue()


def fastavroRows(table):
    parsed = fastavro.parse_schema(table.schema)
    out = []
    for record in table.toRecords():
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, parsed, record)
        out.append(buffer.getvalue())
    return out


def randomValues(spec, rng, n):
    """Random values for one field, mixing in extremes and special values."""
    if spec.avroType in ("long", "int"):
        bits = 63 if spec.avroType == "long" else 31
        # Random magnitudes of every bit length, so varints of every length.
        magnitude = rng.integers(0, 2**62, n, dtype=np.int64) >> rng.integers(0, 62, n)
        values = (np.where(rng.random(n) < 0.5, -magnitude - 1, magnitude) >> (63 - bits)).tolist()
        specials = LONG_EXTREMES if spec.avroType == "long" else INT_EXTREMES
    elif spec.avroType in ("float", "double"):
        values = (rng.normal(size=n) * 10.0 ** rng.integers(-30, 30, n)).tolist()
        specials = FLOAT_SPECIALS if spec.avroType == "float" else DOUBLE_SPECIALS
    elif spec.avroType == "boolean":
        values = (rng.random(n) < 0.5).tolist()
        specials = [True, False]
    else:
        values = [STRINGS[i] for i in rng.integers(0, len(STRINGS), n)]
        specials = STRINGS
    for i, special in zip(rng.choice(n, size=min(n, len(specials)), replace=False), specials, strict=False):
        values[i] = special
    return values


def randomFrame(recordSchema, rng, n, allNullEvery=5):
    """DataFrame of random rows; every ``allNullEvery``-th nullable field all null."""
    columns = {}
    nullable = 0
    for spec in fieldSpecs(recordSchema):
        values = randomValues(spec, rng, n)
        if spec.nullable:
            nullable += 1
            if nullable % allNullEvery == 0:
                values = [None] * n
            else:
                values = [None if null else v for v, null in zip(values, rng.random(n) < 0.3, strict=True)]
        columns[spec.name] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns)


def typedTable(recordSchema, frame):
    table, problems = coerceTable(frame, recordSchema)
    assert not problems, problems[:5]
    return table


def flatSchema(fields):
    """Record schema from (name, avroType, nullable) triples."""
    return {
        "type": "record",
        "name": "t",
        "fields": [
            {"name": name, "type": ["null", avroType] if nullable else avroType}
            for name, avroType, nullable in fields
        ],
    }


class EncodeTableTestCase(lsst.utils.tests.TestCase):
    """encodeTable against fastavro.schemaless_writer, record by record."""

    def assertMatchesFastavro(self, table):
        rows = encodeTable(table)
        self.assertIsInstance(rows, EncodedRows)
        self.assertEqual(len(rows), table.size)
        self.assertEqual(rows.offsets.dtype, np.int64)
        self.assertEqual(len(rows.offsets), table.size + 1)
        self.assertEqual(rows.offsets[-1], len(rows.buffer))
        expected = fastavroRows(table)
        for i, reference in enumerate(expected):
            self.assertEqual(rows[i], reference, f"row {i}")
        self.assertEqual(rows.buffer, b"".join(expected))

    def testAlertRecordTypes(self):
        rng = np.random.default_rng(11)
        for name in RECORD_TYPES:
            with self.subTest(record=name):
                frame = randomFrame(RECORDS[name], rng, 300)
                self.assertMatchesFastavro(typedTable(RECORDS[name], frame))

    def testDiaSourceHas102Fields(self):
        self.assertEqual(len(fieldSpecs(RECORDS["diaSource"])), 102)

    def testTimestampMicrosFromDatetimes(self):
        schema = RECORDS["mpc_orbits"]
        rng = np.random.default_rng(5)
        frame = randomFrame(schema, rng, 20)
        timestamps = [s.name for s in fieldSpecs(schema) if s.logicalType == "timestamp-micros"]
        self.assertTrue(timestamps)
        for name in timestamps:
            frame[name] = pd.Series(
                pd.to_datetime(rng.integers(0, 2**52, 20), unit="us").to_numpy(), dtype="datetime64[us]"
            )
            frame.loc[3, name] = pd.NaT
        self.assertMatchesFastavro(typedTable(schema, frame))

    def testZeroRows(self):
        for name in RECORD_TYPES:
            with self.subTest(record=name):
                table = typedTable(RECORDS[name], randomFrame(RECORDS[name], np.random.default_rng(0), 0))
                rows = encodeTable(table)
                self.assertEqual(len(rows), 0)
                self.assertEqual(rows.buffer, b"")
                np.testing.assert_array_equal(rows.offsets, [0])
                self.assertEqual(list(rows), [])

    def testAllNullAndNoNull(self):
        fields = [
            (f"{t}{n}", t, n)
            for t in ("long", "int", "float", "double", "boolean", "string", "bytes")
            for n in (True, False)
        ]
        schema = flatSchema(fields)
        n = 7
        columns = {}
        for name, avroType, nullable in fields:
            if nullable:
                columns[name] = [None] * n
            elif avroType == "string":
                columns[name] = ["é"] * n
            elif avroType == "bytes":
                columns[name] = [b"\x00\xff"] * n
            elif avroType == "boolean":
                columns[name] = [True] * n
            else:
                columns[name] = [-(2**31)] * n
        frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})
        self.assertMatchesFastavro(typedTable(schema, frame))

    def testWideVariableWidthColumns(self):
        """Columns too wide to pad are spliced in; neighbours stay exact."""
        fields = [
            ("a", "long", True),
            ("s", "string", True),
            ("b", "bytes", False),
            ("c", "string", False),
            ("d", "double", True),
            ("e", "bytes", True),
        ]
        schema = flatSchema(fields)
        n = 50
        rng = np.random.default_rng(3)
        frame = pd.DataFrame(
            {
                "a": pd.Series([None if i % 3 == 0 else i * 10**15 for i in range(n)], dtype=object),
                "s": pd.Series(
                    [None if i % 4 == 0 else ("ü" * 5000 if i == 7 else "x") for i in range(n)], dtype=object
                ),
                "b": pd.Series([rng.bytes(20000) if i == n - 1 else b"" for i in range(n)], dtype=object),
                "c": pd.Series(["y" * 10000 if i % 10 == 0 else "z" for i in range(n)], dtype=object),
                "d": pd.Series([None if i % 2 else float(i) for i in range(n)], dtype=object),
                "e": pd.Series(
                    [None if i % 5 else rng.bytes(int(rng.integers(0, 3000))) for i in range(n)], dtype=object
                ),
            }
        )
        self.assertMatchesFastavro(typedTable(schema, frame))

    def testOnlyWideColumn(self):
        schema = flatSchema([("s", "string", False)])
        frame = pd.DataFrame({"s": pd.Series(["", "", "q" * 100000, ""], dtype=object)})
        self.assertMatchesFastavro(typedTable(schema, frame))

    def testSignallingNaN(self):
        """float32 NaN payloads come out as fastavro writes them from floats."""
        # Runs of like fields (f, f2; h, h2; d, d2) are encoded together.
        names = [("f", "float", False), ("f2", "float", False), ("g", "float", True)]
        names += [("h", "float", True), ("h2", "float", True)]
        names += [("d", "double", False), ("d2", "double", False)]
        schema = flatSchema(names)
        fBits = np.array(
            [0x7F800001, 0xFF800001, 0x7FC00000, 0xFFC12345, 0x7F800000, 0x80000000], dtype=np.uint32
        )
        dBits = np.array(
            [
                0x7FF0000000000001,
                0xFFF0000000000001,
                0x7FF8000000000000,
                0xFFF8000012345678,
                0x7FF0000000000000,
                0x8000000000000000,
            ],
            dtype=np.uint64,
        )
        n = len(fBits)
        table = TypedTable(
            schema=schema,
            specs=fieldSpecs(schema),
            columns={
                **{name: fBits.view(np.float32) for name in ("f", "f2", "g", "h", "h2")},
                **{name: dBits.view(np.float64) for name in ("d", "d2")},
            },
            nulls={**{name: None for name, _, _ in names}, "g": np.arange(n) == 2},
            size=n,
        )
        self.assertMatchesFastavro(table)

    def testEncodedRowsAccess(self):
        schema = flatSchema([("a", "long", False)])
        table = typedTable(schema, pd.DataFrame({"a": [1, -300, 2**40]}))
        rows = encodeTable(table)
        self.assertEqual(rows[-1], encodeLong(2**40))
        self.assertEqual(list(rows), [encodeLong(1), encodeLong(-300), encodeLong(2**40)])
        self.assertEqual(rows.join([2, 0, 2]), encodeLong(2**40) + encodeLong(1) + encodeLong(2**40))
        self.assertEqual(rows.join([]), b"")
        with self.assertRaises(IndexError):
            rows[3]


fieldTypes = st.sampled_from(["long", "int", "float", "double", "boolean", "string", "bytes"])
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
VALUE_STRATEGIES = {
    "long": st.integers(-(2**63), 2**63 - 1),
    "int": st.integers(-(2**31), 2**31 - 1),
    "float": st.floats(width=32),
    "double": st.floats(),
    "boolean": st.booleans(),
    "string": text,
    "bytes": st.binary(max_size=40),
}


@st.composite
def randomTables(draw, types=fieldTypes, nullChance=None):
    """A random flat schema and a DataFrame of values for it (a null in
    ``nullChance`` of the values of nullable fields, if given)."""
    specs = draw(st.lists(st.tuples(types, st.booleans()), min_size=1, max_size=12))
    fields = [(f"f{i}", avroType, nullable) for i, (avroType, nullable) in enumerate(specs)]
    n = draw(st.integers(0, 12))
    columns = {}
    for name, avroType, nullable in fields:
        values = VALUE_STRATEGIES[avroType]
        drawn = draw(st.lists(values, min_size=n, max_size=n))
        if nullable and nullChance is not None:
            drawn = [None if draw(st.floats(0, 1)) < nullChance else v for v in drawn]
        elif nullable:
            drawn = draw(st.lists(st.none() | values, min_size=n, max_size=n))
        columns[name] = pd.Series(drawn, dtype=object)
    return flatSchema(fields), pd.DataFrame(columns, index=range(n))


class PropertyTestCase(lsst.utils.tests.TestCase):
    """Hypothesis: any table encodes as fastavro encodes its records."""

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(randomTables())
    def testRandomTables(self, schemaAndFrame):
        schema, frame = schemaAndFrame
        table = typedTable(schema, frame)
        rows = encodeTable(table)
        self.assertEqual(list(rows), fastavroRows(table))

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(randomTables(types=st.sampled_from(["float", "double", "boolean"]), nullChance=0.05))
    def testRunsOfFixedWidthFields(self, schemaAndFrame):
        """Consecutive float/double/boolean fields without nulls, encoded a run at a time."""
        schema, frame = schemaAndFrame
        table = typedTable(schema, frame)
        self.assertEqual(list(encodeTable(table)), fastavroRows(table))

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=50))
    def testEncodeLongs(self, values):
        buffer, offsets = encodeLongs(np.array(values, dtype=np.int64))
        self.assertEqual(buffer, b"".join(encodeLong(v) for v in values))
        np.testing.assert_array_equal(np.diff(offsets), [len(encodeLong(v)) for v in values])

    @settings(max_examples=200, deadline=None)
    @given(st.integers(-(2**63), 2**63 - 1))
    def testEncodeLong(self, value):
        self.assertEqual(encodeLong(value), fastavroBytes("long", value))


class HelperTestCase(lsst.utils.tests.TestCase):
    """Scalar helpers against fastavro."""

    def testEncodeLong(self):
        for value in LONG_EXTREMES + list(range(-300, 300)):
            self.assertEqual(encodeLong(value), fastavroBytes("long", value))
            self.assertEqual(encodeLong(np.int64(value)), fastavroBytes("long", value))
        self.assertEqual(len(encodeLong(-(2**63))), 10)
        for bad in (2**63, -(2**63) - 1):
            with self.assertRaises(OverflowError):
                encodeLong(bad)

    def testEncodeLongs(self):
        values = np.array(LONG_EXTREMES, dtype=np.int64)
        buffer, offsets = encodeLongs(values)
        self.assertEqual(buffer, b"".join(fastavroBytes("long", int(v)) for v in values))
        self.assertEqual(offsets.dtype, np.int64)
        for dtype in (np.int32, np.uint8, np.uint64, np.bool_):
            small = np.array([0, 1, 1, 0], dtype=dtype)
            self.assertEqual(encodeLongs(small)[0], b"\x00\x02\x02\x00")
        buffer, offsets = encodeLongs(np.array([], dtype=np.int64))
        self.assertEqual(buffer, b"")
        np.testing.assert_array_equal(offsets, [0])
        with self.assertRaises(OverflowError):
            encodeLongs(np.array([2**63], dtype=np.uint64))
        with self.assertRaises(TypeError):
            encodeLongs(np.array([1.0]))

    def testEncodeBytesAndString(self):
        for value in [b"", b"\x00", bytes(range(256)) * 3]:
            self.assertEqual(encodeBytes(value), fastavroBytes("bytes", value))
        for value in STRINGS:
            self.assertEqual(encodeString(value), fastavroBytes("string", value))

    def testUnionBranches(self):
        union = ["null", "long"]
        self.assertEqual(NULL_BRANCH, fastavroBytes(union, None))
        self.assertEqual(VALUE_BRANCH + encodeLong(5), fastavroBytes(union, 5))

    def testArrays(self):
        rng = np.random.default_rng(8)
        recordSchema = RECORDS["diaForcedSource"]
        table = typedTable(recordSchema, randomFrame(recordSchema, rng, 40))
        rows = encodeTable(table)
        records = table.toRecords()
        arraySchema = {"type": "array", "items": recordSchema}
        nullableArray = ["null", {"type": "array", "items": recordSchema}]
        for picked in ([], [0], [3, 1, 4, 1, 5], list(range(40))):
            items = [records[i] for i in picked]
            block = encodeArrayBlock(len(picked), rows.join(picked))
            self.assertEqual(block, fastavroBytes(arraySchema, items))
            self.assertEqual(VALUE_BRANCH + block, fastavroBytes(nullableArray, items))
        self.assertEqual(NULL_BRANCH, fastavroBytes(nullableArray, None))
        self.assertEqual(encodeArrayBlock(0, b""), b"\x00")
        with self.assertRaises(ValueError):
            encodeArrayBlock(0, b"x")

    def testWholeAlert(self):
        """An alert assembled from the helpers equals fastavro's encoding."""
        rng = np.random.default_rng(21)
        tables = {
            name: typedTable(RECORDS[name], randomFrame(RECORDS[name], rng, 5, allNullEvery=1000))
            for name in RECORD_TYPES
        }
        rows = {name: encodeTable(table) for name, table in tables.items()}
        records = {name: table.toRecords() for name, table in tables.items()}
        cutout = rng.bytes(1000)
        alert = {
            "diaSourceId": records["diaSource"][0]["diaSourceId"],
            "observation_reason": "ünïcødé",
            "target_name": None,
            "diaSource": records["diaSource"][0],
            "prvDiaSources": records["diaSource"][1:],
            "prvDiaForcedSources": [],
            "diaObject": records["diaObject"][0],
            "ssSource": None,
            "mpc_orbits": records["mpc_orbits"][2],
            "cutoutDifference": cutout,
            "cutoutScience": None,
            "cutoutTemplate": b"",
        }
        payload = b"".join(
            [
                encodeLong(alert["diaSourceId"]),
                VALUE_BRANCH + encodeString("ünïcødé"),
                NULL_BRANCH,
                rows["diaSource"][0],
                VALUE_BRANCH + encodeArrayBlock(4, rows["diaSource"].join(range(1, 5))),
                VALUE_BRANCH + encodeArrayBlock(0, b""),
                VALUE_BRANCH + rows["diaObject"][0],
                NULL_BRANCH,
                VALUE_BRANCH + rows["mpc_orbits"][2],
                VALUE_BRANCH + encodeBytes(cutout),
                NULL_BRANCH,
                VALUE_BRANCH + encodeBytes(b""),
            ]
        )
        self.assertEqual(payload, fastavroBytes(ALERT_SCHEMA, alert))


def setup_module(module):
    lsst.utils.tests.init()


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
