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

"""Tests of ``ap-alerts send`` (`lsst.ap.alerts.delivery.resend`) with real brokers.

The alerts are the task's: `PackageAlertsTask` packages a simulated visit and
writes its visit file; the failed-delivery files come from the task sending
to noida-db that is stopped mid-visit. Each ``send`` runs as its own process
(``python -m lsst.ap.alerts send``), so its whole stderr is seen: librdkafka
writes to the process's stderr directly, and no line of it may appear there.
Messages are read back with a plain consumer (``kafkaBrokers.consumeAll``)
and decoded with ``lsst.alert.packet``'s schema, not the package's code.
The broker-independent cases run on noida-db and Tansu; the restart case on
noida-db only (Tansu keeps its data in memory, lost on restart).
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import uuid
from unittest import mock

import lsst.alert.packet as alertPack
import lsst.utils.tests
from kafkaBrokers import NoidaBroker, TansuBroker, brokerUnavailableReason, consumeAll, freePort
from registryStub import RegistryStub

import lsst.ap.alerts
from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts.delivery.messageHeaders import decodeHeaders
from lsst.ap.alerts.simulation import makeSimulatedVisit, runArguments

_PACKET_SCHEMA = alertPack.Schema.from_uri(str(alertPack.get_uri_to_latest_schema()))
KAFKA_VARS = ("AP_KAFKA_SERVER", "AP_KAFKA_TOPIC", "AP_KAFKA_PRODUCER_USERNAME", "AP_KAFKA_PRODUCER_PASSWORD")


def runSend(*argv, env=None):
    """Run ``ap-alerts send`` in a child process; return (status, stdout, stderr)."""
    childEnv = {k: v for k, v in os.environ.items() if k not in KAFKA_VARS}
    childEnv.update(env or {})
    childEnv["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    done = subprocess.run(
        [sys.executable, "-m", "lsst.ap.alerts", "send", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=300,
        env=childEnv,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def decoded(messages):
    """{diaSourceId: (alert, headers, schema ID, Avro bytes)} of messages, decoded by lsst.alert.packet."""
    result = {}
    for msg in messages:
        value = msg.value()
        assert value[0] == 0
        alert = _PACKET_SCHEMA.deserialize(value[5:])
        assert alert["diaSourceId"] not in result, f"{alert['diaSourceId']} twice in the topic"
        result[alert["diaSourceId"]] = (
            alert,
            decodeHeaders(msg.headers()),
            int.from_bytes(value[1:5]),
            value[5:],
        )
    return result


def snapshot(directory):
    """{name: bytes} of a directory's files."""
    return {name: open(os.path.join(directory, name), "rb").read() for name in sorted(os.listdir(directory))}


class _SendTests:
    """``send`` cases that hold on any broker; subclasses set ``brokerClass``."""

    brokerClass = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reason = brokerUnavailableReason(cls.brokerClass)
        if reason:
            raise unittest.SkipTest(reason)
        cls.tmp = tempfile.TemporaryDirectory(prefix="ap-alerts-send-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.visit = makeSimulatedVisit(8, 3, seed=31, size=220, fractionSolarSystem=0.2)
        config = PackageAlertsConfig()
        config.doWriteAlerts = True
        config.alertWriteLocation = os.path.join(cls.tmp.name, "visit")
        cls.result = PackageAlertsTask(config=config).run(**runArguments(cls.visit))
        cls.ids = list(cls.result.alerts.diaSourceIds)
        cls.broker = cls.brokerClass()
        cls.addClassCleanup(cls.broker.cleanup)
        cls.broker.start()

    def setUp(self):
        self.topic = f"alerts-{uuid.uuid4().hex[:10]}"
        self.broker.createTopic(self.topic, partitions=2)
        self.work = tempfile.mkdtemp(prefix="send-work-")
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)
        self.visitFile = shutil.copy(self.result.alertFile, self.work)

    def send(self, *argv, **kwargs):
        common = ("--server", self.broker.bootstrap, "--topic", self.topic, "--plaintext")
        status, out, err = runSend(*argv, *common, **kwargs)
        self.assertNoClientLines(err)
        return status, out, err

    def assertNoClientLines(self, stderr):
        lines = [line for line in stderr.splitlines() if "rdkafka" in line or line.startswith("%")]
        self.assertEqual(lines, [], stderr)
        self.assertNotIn("Traceback", stderr)

    def testVisitFile(self):
        """Every alert of the visit file, once, with the resend headers; the file untouched."""
        before = snapshot(self.work)
        status, out, err = self.send(self.visitFile)
        self.assertEqual(status, 0, err)
        self.assertIn(f"{len(self.ids)} delivered, 0 not delivered", out)
        self.assertEqual(snapshot(self.work), before)
        messages = decoded(consumeAll(self.broker.bootstrap, self.topic, len(self.ids)))
        self.assertEqual(sorted(messages), sorted(self.ids))
        for i, diaSourceId in enumerate(self.result.alerts.diaSourceIds):
            alert, headers, schemaId, data = messages[diaSourceId]
            # The record's exact bytes (alerts hold NaN, which no dict compares equal).
            self.assertEqual(data, bytes(self.result.alerts.payloads[i]))
            self.assertEqual(schemaId, _PACKET_SCHEMA.get_schema_id())
            self.assertEqual(headers["schema_id"], schemaId)
            self.assertEqual(headers["ap_alerts_version"], lsst.ap.alerts.__version__)
            self.assertEqual(headers["visit"], alert["diaSource"]["visit"])
            self.assertEqual(headers["detector"], alert["diaSource"]["detector"])
            self.assertEqual(headers["visit"], self.visit.diffIm.visitInfo.id)
            self.assertTrue(headers["resend"])
            self.assertGreater(headers["producer_timestamp"], 1.7e12)

    def testIdsOnly(self):
        chosen = self.ids[1:3]
        status, out, err = self.send(self.work, "--id", *chosen)
        self.assertEqual(status, 0, err)
        messages = consumeAll(self.broker.bootstrap, self.topic, len(chosen))
        self.assertEqual(sorted(decoded(messages)), sorted(chosen))
        # An id in no file: one error line, exit 1, the others still sent.
        status, out, err = self.send(self.work, "--id", self.ids[0], 12345)
        self.assertEqual(status, 1)
        self.assertEqual(err.count("ap-alerts: error:"), 1, err)
        self.assertIn("no alert with diaSourceId 12345", err)
        messages = consumeAll(self.broker.bootstrap, self.topic, len(chosen) + 1)
        self.assertEqual(sorted(decoded(messages)), sorted(chosen + self.ids[:1]))

    def testDryRun(self):
        failed = os.path.join(self.work, f"{os.path.basename(self.visitFile)[:-5]}_{self.ids[0]}.avro")
        with open(failed, "wb") as stream:
            stream.write(self.result.alerts.framed(0))
        before = snapshot(self.work)
        status, out, err = self.send(self.work, "--dry-run")
        self.assertEqual(status, 0, err)
        lines = out.splitlines()
        # The failed file's alert is the visit file's first one: listed once.
        self.assertEqual([int(line.split()[0]) for line in lines[1:-1]], self.ids)
        self.assertIn("would send", lines[-1])
        self.assertIn("remove 1 failed-delivery file(s)", lines[-1])
        self.assertEqual(snapshot(self.work), before)
        self.assertEqual(consumeAll(self.broker.bootstrap, self.topic, 0, timeout=10), [])

    def testDamagedAndForeignFiles(self):
        """Each bad file is named in one error line; the good ones are still sent."""
        data = open(self.visitFile, "rb").read()
        damaged = os.path.join(self.work, "damaged.avro")
        with open(damaged, "wb") as stream:
            stream.write(data[: len(data) * 2 // 3])
        foreign = os.path.join(self.work, "notes.avro")
        with open(foreign, "w") as stream:
            stream.write("not an alert\n")
        framedBad = os.path.join(self.work, "1_2_3.avro")
        with open(framedBad, "wb") as stream:
            stream.write(self.result.alerts.framed(0)[:-7])
        status, out, err = self.send(self.work)
        self.assertEqual(status, 1, out + err)
        errors = [line for line in err.splitlines() if line.startswith("ap-alerts: error:")]
        self.assertEqual(len(errors), 3, err)
        for path in (damaged, foreign, framedBad):
            self.assertEqual(sum(path in line for line in errors), 1, (path, errors))
        self.assertIn(f"{len(self.ids)} delivered", out)
        messages = consumeAll(self.broker.bootstrap, self.topic, len(self.ids))
        self.assertEqual(sorted(decoded(messages)), sorted(self.ids))
        # The damaged failed-delivery file was not sent, so it stays.
        self.assertTrue(os.path.exists(framedBad))

    def testEnvironmentAndMissingTopic(self):
        env = {"AP_KAFKA_SERVER": self.broker.bootstrap, "AP_KAFKA_TOPIC": self.topic}
        status, out, err = runSend(self.visitFile, "--plaintext", "--id", self.ids[0], env=env)
        self.assertEqual(status, 0, err)
        self.assertNoClientLines(err)
        self.assertEqual(len(consumeAll(self.broker.bootstrap, self.topic, 1)), 1)
        status, out, err = runSend(self.visitFile, "--plaintext", env={"AP_KAFKA_TOPIC": self.topic})
        self.assertEqual(status, 1)
        self.assertIn("give --server or set AP_KAFKA_SERVER", err)
        status, out, err = runSend(self.visitFile, env=env)
        self.assertEqual(status, 1)
        self.assertIn("AP_KAFKA_PRODUCER_USERNAME and AP_KAFKA_PRODUCER_PASSWORD", err)
        status, out, err = runSend(
            self.visitFile, "--plaintext", "--topic", "no-such-topic", "--timeout", 5, env=env
        )
        self.assertEqual(status, 1)
        self.assertIn("'no-such-topic' does not exist", err)
        self.assertNoClientLines(err)


class NoidaSendTestCase(_SendTests, lsst.utils.tests.TestCase):
    brokerClass = NoidaBroker

    def testRegistry(self):
        """--registry: checked before sending (stand-in registry of ``registryStub.py``)."""
        schemaId = _PACKET_SCHEMA.get_schema_id()
        registry = RegistryStub({schemaId: json.dumps(_PACKET_SCHEMA.definition)})
        self.addCleanup(registry.stop)
        status, out, err = self.send(self.visitFile, "--id", self.ids[0], "--registry", registry.url)
        self.assertEqual(status, 0, err)
        self.assertEqual(registry.requests, [f"/schemas/ids/{schemaId}"])
        registry.schemas.clear()
        status, out, err = self.send(self.visitFile, "--registry", registry.url)
        self.assertEqual(status, 1)
        self.assertEqual(err.count("ap-alerts: error:"), 1, err)
        self.assertIn(f"schema ID {schemaId} at the schema registry {registry.url}: not registered", err)
        self.assertIn("nothing sent", err)
        # Only the first run's alert is in the topic.
        self.assertEqual(sorted(decoded(consumeAll(self.broker.bootstrap, self.topic, 1))), self.ids[:1])


class TansuSendTestCase(_SendTests, lsst.utils.tests.TestCase):
    brokerClass = TansuBroker


class BrokerLostMidVisitTestCase(lsst.utils.tests.TestCase):
    """The task loses noida-db mid-visit; ``send`` the failed-delivery files
    while it is down (nothing moves), then after its restart (all delivered,
    all removed)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reason = brokerUnavailableReason(NoidaBroker)
        if reason:
            raise unittest.SkipTest(reason)
        cls.broker = NoidaBroker()
        cls.addClassCleanup(cls.broker.cleanup)
        cls.broker.start()

    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="send-lost-")
        self.addCleanup(tmp.cleanup)
        self.writeDir = tmp.name
        self.topic = f"alerts-{uuid.uuid4().hex[:10]}"
        self.broker.createTopic(self.topic)

    def runTaskLosingBroker(self):
        """Run the task; the broker stops once half the alerts are confirmed."""
        visit = makeSimulatedVisit(12, 2, seed=41, size=220)
        config = PackageAlertsConfig()
        config.doProduceAlerts = config.doWriteAlerts = config.doWriteFailedAlerts = True
        config.kafkaSecurityProtocol = "PLAINTEXT"
        config.alertWriteLocation = self.writeDir
        config.maxTimeout = 5.0
        config.deliveryTimeout = 1500.0
        env = {"AP_KAFKA_SERVER": self.broker.bootstrap, "AP_KAFKA_TOPIC": self.topic}
        with mock.patch.dict(os.environ, env):
            task = PackageAlertsTask(config=config)
        self.addCleanup(task.producer.close)
        produce = task.producer.produce

        def produceLosingBroker(messages, *args, **kwargs):
            def stopHalfway():
                for i, message in enumerate(messages):
                    if i == 6:
                        # Confirm the first half before the stop (noida-db may
                        # drop what arrives while it shuts down).
                        task.producer._producer.flush(10)
                        self.broker.stop(graceful=True)
                    yield message

            return produce(stopHalfway(), *args, **kwargs)

        task.producer.produce = produceLosingBroker
        return task.run(**runArguments(visit))

    def testResendAfterRestart(self):
        result = self.runTaskLosingBroker()
        report = result.produceReport
        self.assertEqual((report.delivered, report.failed, report.written), (6, 6, 6))
        failedFiles = sorted(glob.glob(os.path.join(self.writeDir, "*_*_*.avro")))
        self.assertEqual(len(failedFiles), 6)
        before = snapshot(self.writeDir)
        common = ("--server", self.broker.bootstrap, "--topic", self.topic, "--plaintext", "--timeout", 3)

        status, out, err = runSend(*failedFiles, *common)
        self.assertEqual(status, 1, out + err)
        errors = [line for line in err.splitlines() if line.startswith("ap-alerts: error:")]
        self.assertEqual(len(errors), 1, err)
        self.assertIn(self.broker.bootstrap, errors[0])
        self.assertNotIn("rdkafka", err)
        self.assertEqual(snapshot(self.writeDir), before)

        self.broker.start()
        status, out, err = runSend(*failedFiles, *common)
        self.assertEqual(status, 0, out + err)
        self.assertNotIn("rdkafka", err)
        self.assertIn("6 delivered, 0 not delivered; 6 failed-delivery file(s) removed, 0 still on disk", out)
        # Only the visit file is left, unchanged.
        visitName = os.path.basename(result.alertFile)
        self.assertEqual(snapshot(self.writeDir), {visitName: before[visitName]})
        messages = decoded(consumeAll(self.broker.bootstrap, self.topic, len(result.alerts)))
        self.assertEqual(sorted(messages), sorted(result.alerts.diaSourceIds))
        resent = {i for i, (_, headers, _, _) in messages.items() if headers["resend"]}
        self.assertEqual(resent, set(report.failedDiaSourceIds))
        for alert, headers, schemaId, _ in messages.values():
            # The task's own messages carry the same headers, without resend.
            self.assertEqual(
                (headers["schema_id"], headers["visit"], headers["detector"]),
                (schemaId, alert["diaSource"]["visit"], alert["diaSource"]["detector"]),
            )
            self.assertEqual(headers["ap_alerts_version"], lsst.ap.alerts.__version__)


class BrokerDownTestCase(lsst.utils.tests.TestCase):
    def testNothingListening(self):
        """No broker at all: one error line naming the server, the files untouched."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "1_2_3.avro")
            config = PackageAlertsConfig()
            config.doWriteAlerts = True
            config.alertWriteLocation = tmp
            result = PackageAlertsTask(config=config).run(**runArguments(makeSimulatedVisit(2, 1, seed=5)))
            with open(path, "wb") as stream:
                stream.write(result.alerts.framed(0))
            before = snapshot(tmp)
            server = f"127.0.0.1:{freePort()}"
            status, out, err = runSend(tmp, "--server", server, "--topic", "t", "--plaintext", "--timeout", 2)
            self.assertEqual(status, 1)
            self.assertEqual(err.count("ap-alerts: error:"), 1, err)
            self.assertIn(f"Kafka broker at {server} did not answer", err)
            self.assertNotIn("rdkafka", err)
            self.assertEqual(snapshot(tmp), before)

    def testNothingReadable(self):
        """Only a foreign file: its error line, no connection attempted (nothing listens there)."""
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "notes.avro"), "w") as stream:
                stream.write("not an alert")
            server = f"127.0.0.1:{freePort()}"
            status, out, err = runSend(tmp, "--server", server, "--topic", "t", "--plaintext")
        self.assertEqual(status, 1)
        self.assertEqual(err.count("ap-alerts: error:"), 1, err)
        self.assertIn("notes.avro: neither an Avro alert container file nor a failed-delivery file", err)
        self.assertNotIn(server, err)
        self.assertIn("nothing to send", out)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
