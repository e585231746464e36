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

"""Loading alert schemas by URI, version and Confluent ID; the wire header."""

import io
import json
import shutil
import tempfile
import unittest
from pathlib import Path

import fastavro
import lsst.alert.packet as alertPack
import lsst.utils.tests

from lsst.ap.alerts.schemaRegistry import (
    SchemaRegistry,
    UnknownSchemaError,
    alertVersionFromName,
    makeWireHeader,
    namedRecordSchemas,
    packetSchemaRoot,
    parseWireHeader,
    projectSchemaRoot,
    schemaIdOf,
)


class SchemaRegistryTestCase(lsst.utils.tests.TestCase):
    def setUp(self):
        self.registry = SchemaRegistry()

    def testEveryPacketSchemaIsKnown(self):
        packetRegistry = alertPack.SchemaRegistry.all_schemas_from_filesystem()
        for version in packetRegistry.known_versions:
            major, minor = (int(v) for v in version.split("."))
            with self.subTest(version=version):
                schema = self.registry.byVersion((major, minor))
                self.assertEqual(schema.version, (major, minor))
                self.assertEqual(schema.schemaId, schema.toPacketSchema().get_schema_id())
                self.assertEqual(self.registry.byId(schema.schemaId).version, (major, minor))

    def testLatestIs111(self):
        latest = self.registry.latest
        self.assertEqual(latest.version, alertPack.get_latest_schema_version())
        self.assertEqual(
            self.registry.load(str(alertPack.get_uri_to_latest_schema())).schemaId, latest.schemaId
        )

    def testLoadForms(self):
        byVersion = self.registry.load("11.1")
        self.assertEqual(byVersion.schemaId, 1101)
        self.assertEqual(self.registry.load((11, 1)), byVersion)
        self.assertEqual(self.registry.load(1101), byVersion)
        self.assertEqual(self.registry.load("1101"), byVersion)
        self.assertEqual(self.registry.load(byVersion.path), byVersion)
        self.assertEqual(self.registry.load("7.4").schemaId, 704)
        # Same definition as lsst.alert.packet loads from the same URI.
        packet = alertPack.Schema.from_uri(str(alertPack.get_uri_to_latest_schema()))
        # (fastavro adds private "__" keys to what lsst.alert.packet holds.)
        self.assertEqual(
            byVersion.definition, {k: v for k, v in packet.definition.items() if not k.startswith("__")}
        )

    def testUnknownListsKnownVersions(self):
        for spec in (
            "99.1",
            9999,
            "resource://lsst.alert.packet/schema/11/1/nonexistent.avsc",
            "/no/such/lsst.v11_1.alert.avsc",
            "eleven",
        ):
            with self.subTest(spec=spec):
                with self.assertRaises(UnknownSchemaError) as cm:
                    self.registry.load(spec)
                self.assertIn("11.1 (ID 1101)", str(cm.exception))

    def testProjectSchemaDirectoryIsSearched(self):
        """A schema dropped into a registry root (like schema/) becomes loadable."""
        root = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, root)
        source = Path(self.registry.byVersion((11, 1)).path).parent
        target = root / "11" / "9"
        target.mkdir(parents=True)
        for f in source.glob("*.avsc"):
            text = f.read_text().replace("v11_1", "v11_9").replace("1101", "1109")
            (target / f.name.replace("v11_1", "v11_9")).write_text(text)
        registry = SchemaRegistry([Path(alertPack.get_schema_root()), root])
        schema = registry.load(1109)
        self.assertEqual(schema.version, (11, 9))
        self.assertEqual(schema.definition["name"], "lsst.v11_9.alert")
        self.assertIn((11, 1), registry.versions)
        self.assertIsNotNone(projectSchemaRoot())
        self.assertTrue((projectSchemaRoot() / "README.md").exists())

    def testPacketSchemaRootIsAlertPackets(self):
        self.assertEqual(packetSchemaRoot(), Path(alertPack.get_schema_root()))

    def testNamesAndIdsAgreeWithAlertPacket(self):
        # lsst.alert.packet is the independent reference for names and IDs.
        packetRegistry = alertPack.SchemaRegistry.all_schemas_from_filesystem()
        for versionString in packetRegistry.known_versions:
            packetSchema = packetRegistry.get_by_version(versionString)
            version = alertVersionFromName(packetSchema.definition["name"])
            self.assertEqual(f"{version[0]}.{version[1]}", versionString)
            self.assertEqual(schemaIdOf(version), packetSchema.get_schema_id())
            fileName = f"/some/dir/lsst.v{version[0]}_{version[1]}.alert.avsc"
            self.assertEqual(alertVersionFromName(fileName), version)
        for name in ("lsst.v11_1.diaSource", "v11_1.alert", "xlsst.v11_1.alert", "lsst.v11_1.alert.json", ""):
            with self.subTest(name=name):
                self.assertIsNone(alertVersionFromName(name))

    def testNamedRecordsReachEveryNestedRecord(self):
        definition = self.registry.latest.definition
        records = namedRecordSchemas(definition)
        for name in ("diaSource", "diaObject", "diaForcedSource", "ssSource", "lsst.v11_1.diaSource"):
            self.assertIn(name, records)
            self.assertEqual(records[name]["type"], "record")
        # Every record-typed field of the alert, also inside unions and arrays, is found.
        seen = []
        for field in definition["fields"]:
            for branch in field["type"] if isinstance(field["type"], list) else [field["type"]]:
                if isinstance(branch, dict) and branch.get("type") == "array":
                    branch = branch["items"]
                if isinstance(branch, dict) and branch.get("type") == "record":
                    seen.append(branch["name"])
        self.assertGreaterEqual(len(seen), 4)
        for name in seen:
            self.assertIn(name, records)

    def testWireHeader(self):
        schema = self.registry.load("11.1")
        header = schema.wireHeader()
        self.assertEqual(header, b"\x00\x00\x00\x04\x4d")  # 1101 big-endian
        self.assertEqual(parseWireHeader(header + b"payload"), 1101)
        self.assertEqual(makeWireHeader(704), b"\x00\x00\x00\x02\xc0")
        with self.assertRaises(ValueError):
            parseWireHeader(b"\x01\x00\x00\x04\x4d")
        with self.assertRaises(ValueError):
            parseWireHeader(b"\x00\x00")

    def testConsumerFindsSchemaFromHeader(self):
        """A consumer holding only the message picks the schema from its header."""
        schema = self.registry.load("11.1")
        with open(Path(schema.path).parent / "sample_data" / "alert.json") as f:
            sample = json.load(f)
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema.parsed, sample)
        message = schema.wireHeader() + buf.getvalue()
        found = self.registry.byId(parseWireHeader(message))
        self.assertEqual(found.version, (11, 1))
        decoded = found.toPacketSchema().deserialize(message[5:])
        self.assertEqual(decoded["diaSource"]["diaSourceId"], sample["diaSource"]["diaSourceId"])


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
