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

"""PackageAlertsTask with doProduceAlerts against a real Kafka-protocol broker (noida-db).

The producer itself is tested in depth in test_producer.py; this checks the
task's side: framing with the loaded schema's ID, keys, metadata, and that
every packaged alert ends delivered or written.
"""

import io
import os
import struct
import tempfile
import unittest
from unittest import mock

import fastavro
import lsst.utils.tests
from kafkaBrokers import NoidaBroker, brokerUnavailableReason, consumeAll

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts.schemaRegistry import SchemaRegistry, parseWireHeader
from lsst.ap.alerts.simulation import makeSimulatedVisit, runArguments


@unittest.skipIf(brokerUnavailableReason(NoidaBroker), "noida-db is not installed")
class TaskProduceTestCase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = NoidaBroker()
        cls.broker.start()
        cls.visit = makeSimulatedVisit(25, 5, seed=11, size=300, fractionSolarSystem=0.1)

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
        cls.broker.cleanup()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        # A topic per test: consumeAll reads a topic from its beginning.
        self.topic = f"alerts-{self.id().rsplit('.', 1)[-1]}"
        self.broker.createTopic(self.topic, partitions=3)
        env = {"AP_KAFKA_SERVER": self.broker.bootstrap, "AP_KAFKA_TOPIC": self.topic}
        patcher = mock.patch.dict(os.environ, env)
        patcher.start()
        self.addCleanup(patcher.stop)

    def makeTask(self, **overrides):
        config = PackageAlertsConfig()
        config.doProduceAlerts = True
        config.kafkaSecurityProtocol = "PLAINTEXT"
        config.alertWriteLocation = self.tmp.name
        config.doWriteFailedAlerts = True
        config.maxTimeout = 5.0
        for key, value in overrides.items():
            setattr(config, key, value)
        return PackageAlertsTask(config=config)

    def testRunProducesEveryAlertOnce(self):
        visit = self.visit
        task = self.makeTask(doKeyByDiaObjectId=True)
        self.assertEqual(task.kafkaTopic, self.topic)
        result = task.run(**runArguments(visit))
        n = len(result.alerts)
        self.assertEqual(result.produceReport.delivered, n)
        self.assertEqual(result.produceReport.failed, 0)
        self.assertEqual(task.metadata["total_alerts"], n)
        self.assertGreater(task.metadata["produce_end_timestamp"], task.metadata["produce_start_timestamp"])
        # Upstream's timeMethod metadata of produceAlerts.
        for key in ("produceAlertsStartCpuTime", "produceAlertsEndCpuTime", "produceAlertsStartUtc"):
            self.assertIn(key, task.metadata)
        messages = consumeAll(self.broker.bootstrap, self.topic, n)
        # consumeAll orders by partition; match by content.
        sent = {result.alerts.framed(i): result.alerts.diaObjectIds[i] for i in range(n)}
        self.assertEqual(len(messages), n)
        schema = SchemaRegistry.default().latest
        for msg in messages:
            value = msg.value()
            self.assertIn(value, sent)
            self.assertEqual(parseWireHeader(value), schema.schemaId)
            objectId = sent[value]
            if objectId:
                self.assertEqual(struct.unpack(">q", msg.key())[0], objectId)
            else:
                self.assertIsNone(msg.key())
            self.assertIn("producer_timestamp", dict(msg.headers()))
        self.assertEqual(os.listdir(self.tmp.name), [])

    def testBrokerDownAtConstruction(self):
        """No broker on the port: the task's constructor raises one error naming the server and the wait."""
        from kafkaBrokers import freePort

        from lsst.ap.alerts.delivery.producer import BrokerUnavailableError

        server = f"127.0.0.1:{freePort()}"
        with mock.patch.dict(os.environ, {"AP_KAFKA_SERVER": server}):
            with self.assertRaises(BrokerUnavailableError) as cm:
                self.makeTask(maxTimeout=1.0)
        self.assertIn(f"Kafka broker at {server} did not answer within 1 s", str(cm.exception))

    def testProduceAlertDicts(self):
        """produceAlerts also takes upstream-style alert dicts."""
        visit = self.visit
        task = self.makeTask()
        result = task.run(**runArguments(visit, diaSourceCat=visit.diaSourceCat.iloc[:3], ssSrc=None))
        dicts = list(result.alerts)
        report = task.produceAlerts(dicts, 1, 2, 0.0, 30.0)
        self.assertEqual(report.delivered, len(dicts))
        # run() sent them once already; produceAlerts sends them again.
        messages = consumeAll(self.broker.bootstrap, self.topic, 2 * len(dicts))
        decoded = sorted(
            fastavro.schemaless_reader(io.BytesIO(m.value()[5:]), task.schema.parsed, None)["diaSourceId"]
            for m in messages
        )
        self.assertEqual(decoded, sorted(2 * [a["diaSourceId"] for a in dicts]))


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
