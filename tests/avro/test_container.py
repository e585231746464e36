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

"""Avro container files: byte identity with fastavro.writer, reproducible bytes, reading back."""

import io
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import unittest

import fastavro
import lsst.alert.packet
import lsst.utils.tests
import numpy as np
from test_encoding import ALERT_SCHEMA, RECORDS, SCHEMA_PATH, fastavroBytes, randomFrame, typedTable

from lsst.ap.alerts.avro.container import (
    ContainerFileError,
    ContainerFileReader,
    ContainerFileWriter,
    canonicalSchema,
    canonicalSchemaJson,
    deriveSyncMarker,
)
from lsst.ap.alerts.avro.encoding import (
    NULL_BRANCH,
    VALUE_BRANCH,
    encodeArrayBlock,
    encodeLong,
    encodeTable,
)

MARKER = bytes(range(16))


def shuffledKeys(schema, rng):
    """The same schema with the keys of every object in a random order."""
    if isinstance(schema, dict):
        keys = list(schema)
        rng.shuffle(keys)
        return {key: shuffledKeys(schema[key], rng) for key in keys}
    if isinstance(schema, list):
        return [shuffledKeys(item, rng) for item in schema]
    return schema


class ContainerWriterTestCase(lsst.utils.tests.TestCase):
    """ContainerFileWriter against fastavro.writer."""

    @classmethod
    def setUpClass(cls):
        rng = np.random.default_rng(4)
        schema = RECORDS["diaSource"]
        cls.table = typedTable(schema, randomFrame(schema, rng, 400))
        cls.rows = encodeTable(cls.table)
        cls.records = cls.table.toRecords()

    def reference(self, schema, records, syncMarker=MARKER, **kwargs):
        """fastavro.writer's file, given the canonical schema."""
        buffer = io.BytesIO()
        fastavro.writer(buffer, canonicalSchema(schema), records, sync_marker=syncMarker, **kwargs)
        return buffer.getvalue()

    def write(self, schema, payloads, **kwargs):
        kwargs.setdefault("syncMarker", MARKER)
        buffer = io.BytesIO()
        with ContainerFileWriter(buffer, schema, **kwargs) as writer:
            writer.extend(payloads)
        return buffer.getvalue()

    def testByteIdentity(self):
        schema = self.table.schema
        for count in (0, 1, 3, 400):
            for codec in ("null", "deflate"):
                for interval in (1, 777, 16000):
                    with self.subTest(count=count, codec=codec, interval=interval):
                        self.assertEqual(
                            self.write(schema, list(self.rows)[:count], codec=codec, syncInterval=interval),
                            self.reference(schema, self.records[:count], codec=codec, sync_interval=interval),
                        )

    def testOptions(self):
        schema = self.table.schema
        payloads = list(self.rows)[:50]
        records = self.records[:50]
        self.assertEqual(
            self.write(fastavro.parse_schema(schema), payloads),
            self.reference(fastavro.parse_schema(schema), records),
        )
        # A list schema is a union: each record starts with its branch index.
        self.assertEqual(
            self.write([schema], [encodeLong(0) + p for p in payloads]), self.reference([schema], records)
        )
        metadata = {"producer": "ap_alerts", "ü": "ß", "avro.codec": "overridden"}
        self.assertEqual(
            self.write(schema, payloads, metadata=metadata),
            self.reference(schema, records, metadata=dict(metadata)),
        )
        self.assertEqual(
            self.write(schema, payloads, codec="deflate", compressionLevel=1),
            self.reference(schema, records, codec="deflate", codec_compression_level=1),
        )

    def testAlertFileRoundTrip(self):
        """A file of alerts reads back with fastavro and lsst.alert.packet."""
        alertSchema = lsst.alert.packet.Schema.from_file(SCHEMA_PATH)
        diaSources = self.records[:10]
        alerts = []
        payloads = []
        for i, record in enumerate(diaSources):
            alert = dict.fromkeys(f["name"] for f in ALERT_SCHEMA["fields"])
            alert.update(diaSourceId=record["diaSourceId"], diaSource=record, prvDiaSources=diaSources[:i])
            alerts.append(alert)
            payloads.append(
                b"".join(
                    [
                        encodeLong(record["diaSourceId"]),
                        NULL_BRANCH,
                        NULL_BRANCH,
                        self.rows[i],
                        VALUE_BRANCH + encodeArrayBlock(i, self.rows.join(range(i))),
                    ]
                    + [NULL_BRANCH] * 7
                )
            )
        data = self.write(alertSchema.definition, payloads, syncMarker=None, syncInterval=3000)
        header = {"avro.codec": "null", "avro.schema": canonicalSchemaJson(alertSchema.definition)}
        self.assertEqual(
            data,
            self.reference(
                alertSchema.definition, alerts, sync_interval=3000, syncMarker=deriveSyncMarker(header)
            ),
        )
        # Compare payloads re-encoded: NaN != NaN would defeat dict equality.
        parsed = fastavro.parse_schema(ALERT_SCHEMA)
        self.assertEqual([fastavroBytes(parsed, a) for a in fastavro.reader(io.BytesIO(data))], payloads)
        _, readBack = alertSchema.retrieve_alerts(io.BytesIO(data))
        self.assertEqual([fastavroBytes(parsed, a) for a in readBack], payloads)

    def testDerivedMarker(self):
        """Without a marker: SHA-256 of the header, the same for the same header only."""
        schema = self.table.schema
        data = self.write(schema, self.rows, syncMarker=None)
        header = {"avro.codec": "null", "avro.schema": canonicalSchemaJson(schema)}
        marker = deriveSyncMarker(header)
        self.assertEqual(data, self.reference(schema, self.records, syncMarker=marker))
        self.assertTrue(data.endswith(marker))
        self.assertEqual(self.write(schema, self.rows, syncMarker=None), data)
        # Every header input changes the marker.
        others = [
            self.write(schema, [], syncMarker=None, codec="deflate"),
            self.write(schema, [], syncMarker=None, metadata={"visit": "1"}),
            self.write(dict(schema, name="other"), [], syncMarker=None),
        ]
        markers = {ContainerFileReader(other).syncMarker for other in others}
        self.assertEqual(len(markers | {marker}), 4)

    def testKeyOrderDoesNotMatter(self):
        """The schema is stored canonically: shuffled keys give the same bytes."""
        rng = random.Random(3)
        for schema in (self.table.schema, ALERT_SCHEMA):
            expected = self.write(schema, [], syncMarker=None)
            for _ in range(3):
                shuffled = shuffledKeys(schema, rng)
                self.assertEqual(self.write(shuffled, [], syncMarker=None), expected)
        # Canonical means sorted keys at every level, lists in their order.
        canonical = canonicalSchema(fastavro.parse_schema(ALERT_SCHEMA))
        self.assertNotIn("__fastavro_parsed", canonical)
        self.assertEqual(list(canonical), sorted(canonical))
        fields = canonical["fields"]
        self.assertEqual([f["name"] for f in fields], [f["name"] for f in ALERT_SCHEMA["fields"]])
        self.assertTrue(all(list(f) == sorted(f) for f in fields))

    def testStreaming(self):
        """Full blocks reach the file before close; nothing is written twice."""
        buffer = io.BytesIO()
        writer = ContainerFileWriter(buffer, self.table.schema, syncMarker=MARKER, syncInterval=1000)
        headerSize = buffer.tell()
        written = 0
        for payload in self.rows:
            writer.append(payload)
            written += len(payload)
        self.assertGreater(buffer.tell(), headerSize + written - 1000)
        writer.close()
        writer.close()
        size = buffer.tell()
        with self.assertRaises(ValueError):
            writer.append(self.rows[0])
        self.assertEqual(buffer.tell(), size)

    def testErrorDropsPendingBlock(self):
        buffer = io.BytesIO()
        with self.assertRaises(RuntimeError):
            with ContainerFileWriter(buffer, self.table.schema, syncMarker=MARKER) as writer:
                writer.append(self.rows[0])
                raise RuntimeError("stop")
        self.assertEqual(buffer.getvalue(), self.reference(self.table.schema, []))

    def testInvalidArguments(self):
        with self.assertRaises(ValueError):
            ContainerFileWriter(io.BytesIO(), self.table.schema, codec="snappy-ish")
        with self.assertRaises(ValueError):
            ContainerFileWriter(io.BytesIO(), self.table.schema, syncMarker=b"short")


class ContainerReaderTestCase(lsst.utils.tests.TestCase):
    """ContainerFileReader on files fastavro wrote."""

    @classmethod
    def setUpClass(cls):
        rng = np.random.default_rng(5)
        cls.schema = RECORDS["diaForcedSource"]
        cls.table = typedTable(cls.schema, randomFrame(cls.schema, rng, 60))
        cls.records = cls.table.toRecords()
        cls.payloads = [fastavroBytes(cls.schema, record) for record in cls.records]

    def fastavroFile(self, **kwargs):
        buffer = io.BytesIO()
        fastavro.writer(buffer, self.schema, self.records, sync_marker=MARKER, **kwargs)
        return buffer.getvalue()

    def testRecordsAndBytes(self):
        for codec in ("null", "deflate"):
            with self.subTest(codec=codec):
                data = self.fastavroFile(codec=codec, sync_interval=500, metadata={"k": "v"})
                reader = ContainerFileReader(io.BytesIO(data))
                self.assertEqual(reader.syncMarker, MARKER)
                self.assertEqual(reader.codec, codec)
                self.assertEqual(reader.metadata["k"], "v")
                self.assertEqual(reader.writerSchema["name"], self.schema["name"])
                read = list(reader)
                self.assertEqual([r.index for r in read], list(range(len(self.records))))
                self.assertEqual([r.data for r in read], self.payloads)
                parsed = fastavro.parse_schema(self.schema)
                self.assertEqual([fastavroBytes(parsed, r.record) for r in read], self.payloads)
                # Decoding with a given (parsed) schema.
                again = list(ContainerFileReader(data).records(parsed))
                self.assertEqual([r.data for r in again], self.payloads)

    def testOwnFiles(self):
        """What ContainerFileWriter writes reads back to the same payloads."""
        buffer = io.BytesIO()
        with ContainerFileWriter(buffer, self.schema, syncInterval=700) as writer:
            writer.extend(self.payloads)
        reader = ContainerFileReader(buffer.getvalue())
        self.assertEqual([r.data for r in reader], self.payloads)
        self.assertEqual(reader.schemaJson, canonicalSchemaJson(self.schema))

    def testDamagedHeader(self):
        data = self.fastavroFile()
        for damaged in (b"", b"Obj", b"not avro at all", data[:30]):
            with self.subTest(damaged=damaged[:8]):
                with self.assertRaisesRegex(ContainerFileError, "unreadable Avro container header") as cm:
                    ContainerFileReader(damaged)
                self.assertIsNone(cm.exception.index)

    def testTruncatedAndCorrupt(self):
        data = self.fastavroFile(sync_interval=500)
        reader = ContainerFileReader(data)
        blocks = list(fastavro.block_reader(io.BytesIO(data)))
        firstBlock = blocks[0].num_records
        # Cut inside the second block: the first block's records come out first.
        cut = data[: blocks[1].offset + 20]
        read = []
        pattern = f"truncated or corrupt .* after record #{firstBlock - 1}"
        with self.assertRaisesRegex(ContainerFileError, pattern) as cm:
            read.extend(ContainerFileReader(cut))
        self.assertEqual([r.data for r in read], self.payloads[:firstBlock])
        self.assertEqual(cm.exception.index, firstBlock)
        # A wrong sync marker at the end of the first block.
        end = blocks[0].offset + blocks[0].size
        self.assertEqual(data[end - 16 : end], MARKER)
        corrupt = data[: end - 16] + bytes(16) + data[end:]
        with self.assertRaisesRegex(ContainerFileError, "truncated or corrupt .* in the first block") as cm:
            list(ContainerFileReader(corrupt))
        self.assertEqual(cm.exception.index, 0)
        self.assertEqual(len(list(reader)), len(self.records))

    def testNegativeRecordCount(self):
        data = self.fastavroFile(sync_interval=500)
        second = list(fastavro.block_reader(io.BytesIO(data)))[1]
        # The block's record count, a zigzag varint: 0x7f is -64.
        damaged = bytearray(data)
        damaged[second.offset] = 0x7F
        read = []
        with self.assertRaisesRegex(
            ContainerFileError, r"starting at record #\d+ has a negative record count \(-64\)"
        ):
            read.extend(ContainerFileReader(bytes(damaged)))
        self.assertGreater(len(read), 0)

    def testUndecodableAndExtraBytes(self):
        # Decoding with a schema that reads fewer bytes than each record has.
        short = fastavro.parse_schema(
            {"type": "record", "name": "s", "fields": [{"name": "diaObjectId", "type": "long"}]}
        )
        with self.assertRaisesRegex(
            ContainerFileError, r"block starting at record #0 has bytes after its \d+ records"
        ):
            list(ContainerFileReader(self.fastavroFile()).records(short))
        # A schema that reads past the records.
        long = fastavro.parse_schema(
            {
                "type": "record",
                "name": "l",
                "fields": [{"name": f"s{i}", "type": "string"} for i in range(50)],
            }
        )
        with self.assertRaisesRegex(ContainerFileError, r"record #\d+: cannot decode"):
            list(ContainerFileReader(self.fastavroFile()).records(long))


_WRITE_VISIT = textwrap.dedent("""
    import sys
    from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
    from lsst.ap.alerts.simulation import makeSimulatedVisit

    visit = makeSimulatedVisit(12, 4, seed=7, size=200, fractionSolarSystem=0.2)
    config = PackageAlertsConfig()
    config.doWriteAlerts = True
    config.alertWriteLocation = sys.argv[1]
    result = PackageAlertsTask(config=config).run(
        visit.diaSourceCat, visit.diaObjectCat, visit.diaSrcHistory, visit.diaForcedSources,
        visit.diffIm, visit.calexp, visit.template, ssSrc=visit.ssSrc)
    print(result.alertFile)
""")


class ReproducibleFileTestCase(lsst.utils.tests.TestCase):
    """The same visit gives the same alert file bytes in two processes."""

    def testTwoProcesses(self):
        with tempfile.TemporaryDirectory() as tmp:
            files = []
            for hashSeed in ("1", "2"):
                out = os.path.join(tmp, hashSeed)
                env = dict(os.environ, PYTHONHASHSEED=hashSeed)
                run = subprocess.run(
                    [sys.executable, "-c", _WRITE_VISIT, out], capture_output=True, text=True, env=env
                )
                self.assertEqual(run.returncode, 0, run.stderr[-3000:])
                with open(run.stdout.strip().splitlines()[-1], "rb") as f:
                    files.append(f.read())
        self.assertEqual(files[0], files[1])
        # It is a real file of alerts: the schema canonical, the marker derived.
        reader = ContainerFileReader(files[0])
        self.assertEqual(reader.schemaJson, canonicalSchemaJson(reader.writerSchema))
        self.assertEqual(reader.syncMarker, deriveSyncMarker(reader.metadata))
        self.assertEqual(len(list(reader)), 12)


def setup_module(module):
    lsst.utils.tests.init()


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
