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

"""Tests of `lsst.ap.alerts.delivery.schemaRegistryCheck`, and of the task's pre-flight.

No Confluent Schema Registry can be installed here, so each test starts a
small stand-in: a standard-library HTTP server on 127.0.0.1 (``registryStub.py``)
that implements the one endpoint the check uses, ``GET
/schemas/ids/{id}``, answering as the registry does (JSON whose
``"schema"`` member is the schema as a string, or 404 with the registry's
error document). It is stopped at the end of each test. The cases: a
registry holding the local schema (written differently: other key order,
without docs and defaults), one answering 404, one holding a different
schema, one answering garbage or 500, and one that is down (a port nobody
listens on). The task's pre-flight runs against noida-db (``kafkaBrokers``).
"""

import copy
import json
import os
import tempfile
import unittest
from unittest import mock

import lsst.utils.tests
from kafkaBrokers import NoidaBroker, brokerUnavailableReason, consumeAll, freePort
from registryStub import RegistryStub

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts.delivery.schemaRegistryCheck import (
    SchemaRegistryCheck,
    SchemaRegistryCheckError,
    checkRegisteredSchema,
    displayUrl,
)
from lsst.ap.alerts.schemaRegistry import SchemaRegistry
from lsst.ap.alerts.simulation import makeSimulatedVisit, runArguments


def _stripped(node):
    """The schema without docs and defaults, keys in reverse order: another text, the same parsing form."""
    if isinstance(node, dict):
        return {k: _stripped(node[k]) for k in reversed(list(node)) if k not in ("doc", "default")}
    if isinstance(node, list):
        return [_stripped(item) for item in node]
    return node


class SchemaRegistryCheckTestCase(lsst.utils.tests.TestCase):
    def setUp(self):
        self.schema = SchemaRegistry.default().latest
        self.schemaId = self.schema.schemaId

    def startRegistry(self, schemas=None, **kwargs):
        registry = RegistryStub(schemas or {}, **kwargs)
        self.addCleanup(registry.stop)
        return registry

    def assertCheckFails(self, url, *fragments):
        with self.assertRaises(SchemaRegistryCheckError) as cm:
            checkRegisteredSchema(url, self.schema, timeout=5.0)
        message = str(cm.exception)
        for fragment in (f"schema ID {self.schemaId}", displayUrl(url), *fragments):
            self.assertIn(fragment, message)
        return message

    def testMatchingSchema(self):
        """The registry's text differs (key order, no docs or defaults), its canonical form does not."""
        text = json.dumps(_stripped(self.schema.definition))
        self.assertNotEqual(text, json.dumps(self.schema.definition))
        registry = self.startRegistry({self.schemaId: text})
        checkRegisteredSchema(registry.url, self.schema, timeout=5.0)
        self.assertEqual(registry.requests, [f"/schemas/ids/{self.schemaId}"])
        # A trailing slash on the base URL is fine.
        checkRegisteredSchema(registry.url + "/", self.schema, timeout=5.0)

    def testAbsent(self):
        registry = self.startRegistry({self.schemaId + 1: json.dumps(self.schema.definition)})
        self.assertCheckFails(registry.url, "not registered (HTTP 404)")

    def testDifferentSchema(self):
        """One field's type changed: the encoding differs, so the check fails."""
        other = copy.deepcopy(self.schema.definition)
        field = next(f for f in other["fields"] if f["name"] == "diaSourceId")
        field["type"] = "int"
        registry = self.startRegistry({self.schemaId: json.dumps(other)})
        self.assertCheckFails(registry.url, "is not the local schema", "canonical forms differ")
        # An older schema under this ID, as a registry holding another release would.
        older = SchemaRegistry.default().byVersion(SchemaRegistry.default().versions[0])
        registry = self.startRegistry({self.schemaId: json.dumps(older.definition)})
        self.assertCheckFails(registry.url, "is not the local schema")

    def testRegistryDown(self):
        url = f"http://127.0.0.1:{freePort()}"
        self.assertCheckFails(url, "registry unreachable within 5 s")

    def testNotARegistry(self):
        for status, body, fragment in (
            (200, b"<html>hello</html>", "not a schema registry answer"),
            (200, b'{"schema": 3}', "not a schema registry answer"),
            (200, b'{"schema": "{not json"}', "the registered schema does not parse"),
            (500, b"{}", "the registry answered HTTP 500"),
        ):
            with self.subTest(status=status, body=body):
                registry = self.startRegistry(status=status, body=body)
                self.assertCheckFails(registry.url, fragment)

    def testCredentialsNotShown(self):
        url = f"http://operator:s3cret-pw@127.0.0.1:{freePort()}"
        message = self.assertCheckFails(url)
        self.assertNotIn("s3cret-pw", message)
        self.assertNotIn("operator", message)

    def testCheckOncePerSchema(self):
        registry = self.startRegistry({self.schemaId: json.dumps(self.schema.definition)})
        check = SchemaRegistryCheck(registry.url, 5.0)
        check.ensure(self.schema)
        check.ensure(self.schema)
        self.assertEqual(len(registry.requests), 1)
        # No URL: no check, no request.
        SchemaRegistryCheck("", 5.0).ensure(self.schema)
        self.assertEqual(len(registry.requests), 1)

    def testFailureIsNotRemembered(self):
        registry = self.startRegistry({})
        check = SchemaRegistryCheck(registry.url, 5.0)
        with self.assertRaises(SchemaRegistryCheckError):
            check.ensure(self.schema)
        registry.schemas[self.schemaId] = json.dumps(self.schema.definition)
        check.ensure(self.schema)
        self.assertEqual(len(registry.requests), 2)


@unittest.skipIf(brokerUnavailableReason(NoidaBroker), "noida-db is not installed")
class TaskPreflightTestCase(lsst.utils.tests.TestCase):
    """The task checks the registry before its first send; the visit file is still written."""

    @classmethod
    def setUpClass(cls):
        cls.broker = NoidaBroker()
        cls.addClassCleanup(cls.broker.cleanup)
        cls.broker.start()
        cls.visit = makeSimulatedVisit(6, 2, seed=21, size=200)

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.writeDir = tmp.name
        self.topic = f"alerts-{self.id().rsplit('.', 1)[-1]}"
        self.broker.createTopic(self.topic)
        env = {"AP_KAFKA_SERVER": self.broker.bootstrap, "AP_KAFKA_TOPIC": self.topic}
        patcher = mock.patch.dict(os.environ, env)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.schema = SchemaRegistry.default().latest

    def runTask(self, registryUrl):
        config = PackageAlertsConfig()
        config.doProduceAlerts = True
        config.doWriteAlerts = True
        config.doWriteFailedAlerts = True
        config.kafkaSecurityProtocol = "PLAINTEXT"
        config.alertWriteLocation = self.writeDir
        config.maxTimeout = 5.0
        config.schemaRegistryUrl = registryUrl
        task = PackageAlertsTask(config=config)
        self.addCleanup(lambda: task.producer and task.producer.close())
        return task, task.run(**runArguments(self.visit))

    def testRefusedBeforeAnythingIsSent(self):
        for name, schemas in (("absent", {}), ("different", {self.schema.schemaId: '"string"'})):
            with self.subTest(registry=name):
                registry = RegistryStub(schemas)
                self.addCleanup(registry.stop)
                with self.assertRaises(SchemaRegistryCheckError) as cm:
                    self.runTask(registry.url)
                self.assertIn(f"schema ID {self.schema.schemaId}", str(cm.exception))
                self.assertIn(registry.url, str(cm.exception))
                # The visit file is there; no failed-delivery file, nothing in the topic.
                self.assertEqual(os.listdir(self.writeDir), [f"{self.visitId()}.avro"])
                self.assertEqual(consumeAll(self.broker.bootstrap, self.topic, 0, timeout=10), [])

    def testMatchingRegistry(self):
        registry = RegistryStub({self.schema.schemaId: json.dumps(self.schema.definition)})
        self.addCleanup(registry.stop)
        _, result = self.runTask(registry.url)
        self.assertEqual(result.produceReport.delivered, len(result.alerts))
        self.assertEqual(registry.requests, [f"/schemas/ids/{self.schema.schemaId}"])
        messages = consumeAll(self.broker.bootstrap, self.topic, len(result.alerts))
        self.assertEqual(len(messages), len(result.alerts))

    def visitId(self):
        diffIm = self.visit.diffIm
        return f"{diffIm.visitInfo.id}_{diffIm.detector.getId()}"


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
