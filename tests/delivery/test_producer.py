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

"""Tests of `lsst.ap.alerts.delivery.producer` against real Kafka-protocol brokers.

The delivery tests run on two independent broker implementations started
here on 127.0.0.1 (see ``kafkaBrokers.py``): noida-db and Tansu. Every
delivered alert is read back with a real consumer and compared byte for byte.
The fault tests stop a broker before or during a run, overflow the local
queue, and send messages larger than the client's or the broker's limit;
each checks that every alert ends delivered or written to disk (or logged).

SASL/SCRAM: neither broker can serve a successful SCRAM login here (noida-db
has no SASL; Tansu checks SCRAM logins but creating a user needs a login and
its memory storage does not survive a restart). So the SASL tests check the
client configuration built from the environment (protocol, mechanism,
username and password present, the password redacted wherever printed or
logged) and that this configuration drives a real SCRAM-SHA-512 exchange
with Tansu up to the broker's "unknown user" answer.
"""

import collections
import functools
import io
import logging
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import uuid
from unittest import mock

import fastavro
import kafkaBrokers
import lsst.utils.tests
from kafkaBrokers import NoidaBroker, TansuBroker, consumeAll, frame, makeAlert

from lsst.ap.alerts.config import PackageAlertsConfig
from lsst.ap.alerts.delivery import producer as producerModule
from lsst.ap.alerts.delivery.kafkaSettings import REDACTED, redactConfig
from lsst.ap.alerts.delivery.producer import (
    AlertProducer,
    ProduceReport,
    diaObjectKey,
    kafkaClientSettings,
    produceMetadata,
)

try:
    import confluent_kafka
except ImportError:
    confluent_kafka = None

SCHEMA_ID = 1101
SECRET_USER = "user-6b1f0e"
SECRET_PASSWORD = "pw-Zq93!x7-secret"
CREDENTIAL_VARS = ("AP_KAFKA_PRODUCER_USERNAME", "AP_KAFKA_PRODUCER_PASSWORD")
LOG_NAME = "lsst.ap.alerts.test_producer"
# lsst.ap.association's messages for a missing variable, word for word.
UPSTREAM_WORDING = {
    "AP_KAFKA_PRODUCER_PASSWORD": "Kafka password environment variable was not set.",
    "AP_KAFKA_PRODUCER_USERNAME": "Kafka username environment variable was not set.",
    "AP_KAFKA_SERVER": "Kafka server environment variable was not set.",
    "AP_KAFKA_TOPIC": "Kafka topic environment variable was not set.",
}

# Short client timeouts keep the fault tests quick; the tests never assert on
# durations, the timeouts only bound how long a failure can take.
MAX_TIMEOUT = 3.0
DELIVERY_TIMEOUT_MS = 1500.0


def makeConfig(writeDir, **overrides):
    config = PackageAlertsConfig()
    config.kafkaSecurityProtocol = "PLAINTEXT"
    config.maxTimeout = MAX_TIMEOUT
    config.deliveryTimeout = DELIVERY_TIMEOUT_MS
    config.doWriteFailedAlerts = True
    config.alertWriteLocation = writeDir
    for name, value in overrides.items():
        setattr(config, name, value)
    config.validate()
    return config


@functools.cache
def _alertsAndPayloads(count, cutoutSize, start=1, objects=None):
    alerts = []
    for i in range(count):
        diaSourceId = start + i
        diaObjectId = None if objects is None else 10**12 + (i % objects)
        alerts.append(makeAlert(diaSourceId, diaObjectId=diaObjectId, cutoutSize=cutoutSize))
    return alerts, [frame(alert) for alert in alerts]


def messagesOf(alerts, payloads, keyed=True):
    return [
        (alert["diaSourceId"], diaObjectKey(alert["diaSource"]["diaObjectId"]) if keyed else None, payload)
        for alert, payload in zip(alerts, payloads, strict=True)
    ]


def decode(payload):
    magic, schemaId = struct.unpack(">bI", payload[:5])
    record = fastavro.schemaless_reader(io.BytesIO(payload[5:]), kafkaBrokers.schemaDefinition(), None)
    return magic, schemaId, record


class _EnvironmentMixin:
    """Give each test its own AP_KAFKA_* environment and write directory."""

    def setUp(self):
        super().setUp()
        patcher = mock.patch.dict(os.environ)
        patcher.start()
        self.addCleanup(patcher.stop)
        for name in ("AP_KAFKA_SERVER", "AP_KAFKA_TOPIC") + CREDENTIAL_VARS:
            os.environ.pop(name, None)
        tmp = tempfile.TemporaryDirectory(prefix="failed-alerts-")
        self.addCleanup(tmp.cleanup)
        self.writeDir = os.path.join(tmp.name, "alerts")
        self.log = logging.getLogger(LOG_NAME)

    def useBroker(self, broker, topic):
        os.environ["AP_KAFKA_SERVER"] = broker.bootstrap
        os.environ["AP_KAFKA_TOPIC"] = topic

    def makeProducer(self, **configOverrides):
        overrides = configOverrides.pop("producerOverrides", None)
        producer = AlertProducer(
            makeConfig(self.writeDir, **configOverrides), self.log, producerOverrides=overrides
        )
        self.addCleanup(producer.close)
        return producer

    def writtenFiles(self):
        if not os.path.isdir(self.writeDir):
            return {}
        return {name: os.path.join(self.writeDir, name) for name in os.listdir(self.writeDir)}

    def assertWrittenAlerts(self, report, byId, visit, detector):
        """Check that exactly the failed alerts are on disk, framed and
        decodable, under ``{visit}_{detector}_{diaSourceId}.avro``."""
        files = self.writtenFiles()
        expected = {f"{visit}_{detector}_{i}.avro" for i in report.failedDiaSourceIds}
        self.assertEqual(set(files), expected)
        self.assertEqual(report.written, len(expected))
        for diaSourceId in report.failedDiaSourceIds:
            alert, payload = byId[diaSourceId]
            with open(files[f"{visit}_{detector}_{diaSourceId}.avro"], "rb") as stream:
                data = stream.read()
            self.assertEqual(data, payload)
            magic, schemaId, record = decode(data)
            self.assertEqual((magic, schemaId), (0, SCHEMA_ID))
            self.assertEqual(record, alert)

    def assertConsumed(self, broker, topic, alerts, payloads, keyed, start=None, end=None):
        """Check that the topic holds each alert exactly once, unchanged."""
        messages = consumeAll(broker.bootstrap, topic, len(alerts))
        self.assertEqual(len(messages), len(alerts))
        byId = {a["diaSourceId"]: (a, p) for a, p in zip(alerts, payloads, strict=True)}
        seen = set()
        for msg in messages:
            magic, schemaId, record = decode(msg.value())
            self.assertEqual((magic, schemaId), (0, SCHEMA_ID))
            diaSourceId = record["diaSourceId"]
            self.assertNotIn(diaSourceId, seen)
            seen.add(diaSourceId)
            alert, payload = byId[diaSourceId]
            self.assertEqual(msg.value(), payload)
            self.assertEqual(record, alert)
            headers = dict(msg.headers() or [])
            self.assertIn("producer_timestamp", headers)
            stampMs = float(headers["producer_timestamp"].decode())
            if start is not None:
                # Unit check (milliseconds since the epoch), not a timing.
                self.assertGreaterEqual(stampMs, start * 1000 - 1)
                self.assertLessEqual(stampMs, end * 1000 + 1)
            if keyed:
                self.assertEqual(msg.key(), diaObjectKey(alert["diaSource"]["diaObjectId"]))
            else:
                self.assertIsNone(msg.key())
        self.assertEqual(seen, set(byId))
        return messages


class ProducerConfigTestCase(_EnvironmentMixin, lsst.utils.tests.TestCase):
    """Client configuration, environment, metadata and bookkeeping; no broker."""

    def setSaslEnvironment(self):
        os.environ.update(
            {
                "AP_KAFKA_SERVER": "127.0.0.1:9",
                "AP_KAFKA_TOPIC": "alerts-topic",
                "AP_KAFKA_PRODUCER_USERNAME": SECRET_USER,
                "AP_KAFKA_PRODUCER_PASSWORD": SECRET_PASSWORD,
            }
        )

    def testDiaObjectKey(self):
        self.assertEqual(diaObjectKey(1), b"\x00" * 7 + b"\x01")
        self.assertEqual(diaObjectKey(-1), b"\xff" * 8)
        for value in (0, 123456789012345678, 2**63 - 1, -(2**63)):
            key = diaObjectKey(value)
            self.assertEqual(len(key), 8)
            self.assertEqual(struct.unpack(">q", key)[0], value)

    def testMissingEnvironment(self):
        """Each missing or empty variable is named; no value is revealed."""
        config = makeConfig(self.writeDir, kafkaSecurityProtocol="SASL_PLAINTEXT")
        names = ("AP_KAFKA_SERVER", "AP_KAFKA_TOPIC") + CREDENTIAL_VARS
        for name in names:
            for emptyValue in (None, ""):
                with self.subTest(name=name, value=emptyValue):
                    self.setSaslEnvironment()
                    if emptyValue is None:
                        del os.environ[name]
                    else:
                        os.environ[name] = emptyValue
                    with self.assertRaises(ValueError) as cm:
                        AlertProducer(config, self.log)
                    message = str(cm.exception)
                    self.assertIn(name, message)
                    self.assertIn(UPSTREAM_WORDING[name], message)
                    for other in set(names) - {name}:
                        self.assertNotIn(other, message)
                    self.assertNotIn(SECRET_PASSWORD, message)
                    self.assertNotIn(SECRET_USER, message)

    def testPlaintextNeedsNoCredentials(self):
        os.environ.update({"AP_KAFKA_SERVER": "127.0.0.1:9", "AP_KAFKA_TOPIC": "t"})
        for protocol in ("PLAINTEXT", "SSL"):
            config = makeConfig(self.writeDir, kafkaSecurityProtocol=protocol)
            settings = kafkaClientSettings(config)
            self.assertEqual(settings.producerConfig["security.protocol"], protocol)
            for key in ("sasl.mechanisms", "sasl.username", "sasl.password"):
                self.assertNotIn(key, settings.producerConfig)
                self.assertNotIn(key, settings.adminConfig)
        os.environ.pop("AP_KAFKA_TOPIC")
        with self.assertRaisesRegex(ValueError, "AP_KAFKA_TOPIC"):
            kafkaClientSettings(makeConfig(self.writeDir))

    def testSaslClientConfig(self):
        """The upstream client settings, credentials from the environment.

        SASL/SCRAM logins cannot succeed on the brokers available here (see
        the module docstring), so this checks the configuration itself.
        """
        self.setSaslEnvironment()
        config = makeConfig(self.writeDir, kafkaSecurityProtocol="SASL_PLAINTEXT", deliveryTimeout=1200.0)
        settings = kafkaClientSettings(config)
        self.assertEqual(settings.server, "127.0.0.1:9")
        self.assertEqual(settings.topic, "alerts-topic")
        connection = {
            "bootstrap.servers": "127.0.0.1:9",
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": SECRET_USER,
            "sasl.password": SECRET_PASSWORD,
        }
        self.assertEqual(dict(settings.adminConfig), connection)
        self.assertEqual(
            dict(settings.producerConfig),
            connection
            | {
                "batch.size": 2097152,
                "linger.ms": 5,
                "delivery.timeout.ms": 1200,
                "compression.type": "snappy",
                "acks": "all",
                "enable.idempotence": True,
            },
        )
        for printed in (
            repr(settings),
            str(settings.producerConfig),
            repr(settings.adminConfig),
            f"{settings.producerConfig}",
            format(settings.adminConfig),
            str(redactConfig(settings.producerConfig)),
            str(settings.producerConfig.copy()),
        ):
            self.assertNotIn(SECRET_PASSWORD, printed)
            self.assertIn(REDACTED, printed)

        config.kafkaSaslMechanism = "SCRAM-SHA-256"
        config.kafkaSecurityProtocol = "SASL_SSL"
        settings = kafkaClientSettings(config, producerOverrides={"linger.ms": 20})
        self.assertEqual(settings.producerConfig["sasl.mechanisms"], "SCRAM-SHA-256")
        self.assertEqual(settings.producerConfig["security.protocol"], "SASL_SSL")
        self.assertEqual(settings.producerConfig["linger.ms"], 20)
        self.assertNotIn("linger.ms", settings.adminConfig)

    @unittest.skipIf(confluent_kafka is None, "confluent_kafka is not installed")
    def testProducerNeverShowsPassword(self):
        """Repr, summary, exposed configs and the start-up log are redacted."""
        self.setSaslEnvironment()
        config = makeConfig(self.writeDir, kafkaSecurityProtocol="SASL_PLAINTEXT")
        clientConfigs = []
        with (
            mock.patch.object(AlertProducer, "serverCheck"),
            mock.patch.object(confluent_kafka, "Producer", side_effect=clientConfigs.append),
            self.assertLogs(LOG_NAME, level="DEBUG") as cm,
        ):
            producer = AlertProducer(config, self.log)
        # The client itself gets the real password.
        self.assertEqual(clientConfigs[0]["sasl.password"], SECRET_PASSWORD)
        self.assertIs(type(clientConfigs[0]), dict)
        self.assertEqual(producer.producerConfig["sasl.password"], SECRET_PASSWORD)
        self.assertEqual(producer.adminConfig["sasl.username"], SECRET_USER)
        summary = producer.brokerConfigSummary()
        self.assertEqual(summary["sasl.password"], REDACTED)
        self.assertEqual(summary["sasl.username"], SECRET_USER)
        self.assertEqual(summary["topic"], "alerts-topic")
        for printed in cm.output + [
            repr(producer),
            str(producer),
            str(producer.producerConfig),
            repr(producer.adminConfig),
            str(summary),
            str(vars(producer)),
        ]:
            self.assertNotIn(SECRET_PASSWORD, printed)
        self.assertTrue(any(REDACTED in line for line in cm.output))

    def testWithoutConfluentKafka(self):
        os.environ.update({"AP_KAFKA_SERVER": "127.0.0.1:9", "AP_KAFKA_TOPIC": "t"})
        with (
            mock.patch.object(producerModule, "confluent_kafka", None),
            self.assertRaisesRegex(RuntimeError, "confluent_kafka"),
        ):
            AlertProducer(makeConfig(self.writeDir), self.log)
        # The module itself imports without confluent_kafka.
        code = (
            "import sys; sys.modules['confluent_kafka'] = None; "
            "import lsst.ap.alerts.delivery.producer as p; assert p.confluent_kafka is None; "
            "p.diaObjectKey(1); print('ok')"
        )
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        result = subprocess.run(
            [sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=120
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "ok")

    def testProduceMetadata(self):
        report = ProduceReport(
            delivered=7,
            failed=2,
            written=1,
            failedDiaSourceIds=(3, 4),
            startTimestamp=1000.0,
            endTimestamp=1010.5,
        )
        self.assertEqual(report.total, 9)
        metadata = produceMetadata(report, midpointUnix=990.0, exposureTime=30.0)
        self.assertEqual(
            metadata,
            {
                "visit_midpoint": 990.0,
                "produce_start_timestamp": 1000.0,
                "produce_end_timestamp": 1010.5,
                "alert_timing_since_shutter_close": 1010.5 - 1005.0,
                "total_alerts": 7,
                "alerts_delivered": 7,
                "alerts_failed": 2,
                "alerts_written_failed": 1,
            },
        )

    def testDeliveryRunCountsOnce(self):
        """A second or late report of a message never changes the counts."""
        run = producerModule._DeliveryRun(self.log, 1, 2, self.writeDir)
        first = run.add(11, b"\x00payload-11")
        second = run.add(12, b"\x00payload-12")
        third = run.add(13, b"\x00payload-13")
        run.onDelivery(first, None, None)
        run.onDelivery(first, "late duplicate error", None)
        run.fail(second, "refused")
        run.onDelivery(second, None, None)
        run.close("no report")
        run.onDelivery(third, None, None)
        self.assertEqual(run.delivered, 1)
        self.assertEqual(run.failedIds, [12, 13])
        self.assertEqual(run.written, 2)
        self.assertEqual(sorted(os.listdir(self.writeDir)), ["1_2_12.avro", "1_2_13.avro"])
        with open(os.path.join(self.writeDir, "1_2_13.avro"), "rb") as stream:
            self.assertEqual(stream.read(), b"\x00payload-13")

    def testUnwritableLocationIsLogged(self):
        """A failed alert that cannot be written is still reported."""
        blocker = os.path.join(tempfile.mkdtemp(), "file")
        self.addCleanup(os.remove, blocker)
        with open(blocker, "w"):
            pass
        run = producerModule._DeliveryRun(self.log, 1, 2, os.path.join(blocker, "sub"))
        index = run.add(99, b"x")
        with self.assertLogs(LOG_NAME, level="ERROR") as cm:
            run.fail(index, "refused")
        self.assertIn("99", cm.output[0])
        self.assertEqual((run.failedIds, run.written), ([99], 0))


class _DeliveryTests(_EnvironmentMixin):
    """Delivery tests run on every broker; subclasses set ``brokerClass``."""

    brokerClass = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reason = kafkaBrokers.brokerUnavailableReason(cls.brokerClass)
        if reason:
            raise unittest.SkipTest(reason)
        cls.broker = cls.brokerClass()
        cls.addClassCleanup(cls.broker.cleanup)
        cls.broker.start()

    def newTopic(self, partitions=1):
        topic = f"alerts-{uuid.uuid4().hex[:12]}"
        self.broker.createTopic(topic, partitions=partitions)
        self.useBroker(self.broker, topic)
        return topic

    def testDeliverEveryAlertOnce(self):
        """Alerts of many sizes, keyed by diaObjectId, on 3 partitions."""
        topic = self.newTopic(partitions=3)
        alerts, payloads = [], []
        for size, count in ((0, 20), (20_000, 40), (300_000, 4), (900_000, 2)):
            a, p = _alertsAndPayloads(count, size, start=1000 * (size // 1000 + 1), objects=7)
            alerts += a
            payloads += p
        producer = self.makeProducer(doKeyByDiaObjectId=True)
        report = producer.produce(messagesOf(alerts, payloads), visit=1234, detector=42)
        self.assertEqual((report.delivered, report.failed, report.written), (len(alerts), 0, 0))
        self.assertEqual(report.failedDiaSourceIds, ())
        self.assertLessEqual(report.startTimestamp, report.endTimestamp)
        messages = self.assertConsumed(
            self.broker,
            topic,
            alerts,
            payloads,
            keyed=True,
            start=report.startTimestamp,
            end=report.endTimestamp,
        )
        # Equal keys share a partition, where they keep the produce order.
        order = {alert["diaSourceId"]: i for i, alert in enumerate(alerts)}
        partitionOfKey = {}
        lastIndexOfKey = {}
        for msg in messages:
            self.assertEqual(partitionOfKey.setdefault(msg.key(), msg.partition()), msg.partition())
            index = order[decode(msg.value())[2]["diaSourceId"]]
            self.assertGreater(index, lastIndexOfKey.get(msg.key(), -1))
            lastIndexOfKey[msg.key()] = index
        self.assertEqual(self.writtenFiles(), {})

    def testUnkeyedAndRepeatedRuns(self):
        """Without keys (upstream); a producer serves several runs."""
        topic = self.newTopic()
        alerts, payloads = _alertsAndPayloads(30, 5_000, start=1)
        producer = self.makeProducer()
        first = producer.produce(messagesOf(alerts[:10], payloads[:10], keyed=False), 1, 2)
        second = producer.produce(iter(messagesOf(alerts[10:], payloads[10:], keyed=False)), 1, 3)
        empty = producer.produce([], 1, 4)
        self.assertEqual((first.delivered, second.delivered, empty.delivered), (10, 20, 0))
        self.assertEqual((first.failed, second.failed, empty.failed), (0, 0, 0))
        self.assertConsumed(self.broker, topic, alerts, payloads, keyed=False)

    def testQueueFullBackPressure(self):
        """A tiny local queue forces BufferError retries; nothing is lost."""
        topic = self.newTopic(partitions=2)
        alerts, payloads = _alertsAndPayloads(300, 2_000, start=50_000)
        producer = self.makeProducer(producerOverrides={"queue.buffering.max.messages": 4})
        report = producer.produce(messagesOf(alerts, payloads), 1, 2)
        self.assertGreater(report.queueFullWaits, 0)
        self.assertEqual((report.delivered, report.failed), (300, 0))
        self.assertConsumed(self.broker, topic, alerts, payloads, keyed=True)

    def testTooLargeForClient(self):
        """A message over the client's message.max.bytes (1,000,000 by
        default) is refused by produce() itself: written, others delivered."""
        topic = self.newTopic()
        alerts, payloads = _alertsAndPayloads(6, 10_000, start=70_000)
        big, bigPayload = _alertsAndPayloads(1, 1_100_000, start=79_999)
        producer = self.makeProducer()
        messages = messagesOf(alerts[:3] + big + alerts[3:], payloads[:3] + bigPayload + payloads[3:])
        report = producer.produce(messages, 5, 6)
        self.assertEqual((report.delivered, report.failed, report.written), (6, 1, 1))
        self.assertEqual(report.failedDiaSourceIds, (79_999,))
        self.assertWrittenAlerts(report, {79_999: (big[0], bigPayload[0])}, 5, 6)
        self.assertConsumed(self.broker, topic, alerts, payloads, keyed=True)

    def testMissingTopic(self):
        self.useBroker(self.broker, "no-such-alert-topic")
        with self.assertRaisesRegex(RuntimeError, "no-such-alert-topic"):
            self.makeProducer()

    def testServerCheckAgain(self):
        """The check can be re-run (also under upstream's name)."""
        topic = self.newTopic()
        producer = self.makeProducer()
        self.assertEqual(producer.topic, topic)
        self.assertEqual(producer.server, self.broker.bootstrap)
        producer.serverCheck()
        producer._server_check()
        producer.close()
        with self.assertRaises(RuntimeError):
            producer.produce([], 1, 2)


@unittest.skipIf(kafkaBrokers.brokerUnavailableReason(NoidaBroker), "noida-db is not available")
class NoidaDeliveryTestCase(_DeliveryTests, lsst.utils.tests.TestCase):
    brokerClass = NoidaBroker


@unittest.skipIf(kafkaBrokers.brokerUnavailableReason(TansuBroker), "Tansu is not available")
class TansuDeliveryTestCase(_DeliveryTests, lsst.utils.tests.TestCase):
    brokerClass = TansuBroker


@unittest.skipIf(kafkaBrokers.brokerUnavailableReason(NoidaBroker), "noida-db is not available")
class BrokerFaultTestCase(_EnvironmentMixin, lsst.utils.tests.TestCase):
    """Faults, on noida-db: it keeps its data across a graceful restart, so
    what reached the broker before a stop can be read back afterwards."""

    def setUp(self):
        super().setUp()
        self.broker = NoidaBroker()
        self.addCleanup(self.broker.cleanup)
        self.broker.start()
        self.topic = f"alerts-{uuid.uuid4().hex[:12]}"
        self.broker.createTopic(self.topic, partitions=2)
        self.useBroker(self.broker, self.topic)

    def testBrokerStoppedMidRun(self):
        """Half the alerts reach the broker, then it stops: the rest time
        out and are written; nothing is lost or counted twice."""
        alerts, payloads = _alertsAndPayloads(40, 30_000, start=100_000)
        byId = {a["diaSourceId"]: (a, p) for a, p in zip(alerts, payloads, strict=True)}
        messages = messagesOf(alerts, payloads)
        producer = self.makeProducer()

        def stopHalfway():
            for i, message in enumerate(messages):
                if i == 20:
                    # Stop once the broker holds the first half.
                    consumeAll(self.broker.bootstrap, self.topic, 20)
                    self.broker.stop(graceful=True)
                yield message

        report = producer.produce(stopHalfway(), visit=77, detector=8)
        self.assertEqual(report.delivered + report.failed, 40)
        self.assertGreaterEqual(report.failed, 20)
        self.assertEqual(report.written, report.failed)
        self.assertWrittenAlerts(report, byId, 77, 8)

        # What the broker kept: every delivered alert, once; with the files,
        # every alert.
        self.broker.start()
        kept = consumeAll(self.broker.bootstrap, self.topic, report.delivered)
        keptIds = [decode(msg.value())[2]["diaSourceId"] for msg in kept]
        self.assertEqual(len(keptIds), len(set(keptIds)))
        delivered = set(byId) - set(report.failedDiaSourceIds)
        self.assertLessEqual(delivered, set(keptIds))
        self.assertEqual(set(keptIds) | set(report.failedDiaSourceIds), set(byId))
        for msg in kept:
            self.assertEqual(msg.value(), byId[decode(msg.value())[2]["diaSourceId"]][1])

    def testBrokerRestartedMidVisit(self):
        """The broker stops (gracefully) and comes back mid-visit: every
        alert ends delivered or written, and the topic holds no diaSourceId
        twice (the idempotent producer's retries across the restart are
        stored once)."""
        alerts, payloads = _alertsAndPayloads(60, 20_000, start=500_000)
        byId = {a["diaSourceId"]: (a, p) for a, p in zip(alerts, payloads, strict=True)}
        messages = messagesOf(alerts, payloads)
        # Long enough for the messages queued during the outage to be
        # retried once the broker is back.
        producer = self.makeProducer(deliveryTimeout=60_000.0)

        def restartMidway():
            for i, message in enumerate(messages):
                if i == 20:
                    # Confirmed first: noida-db acknowledges requests that
                    # arrive while it shuts down and then does not keep them
                    # (benchmarks/README.md), a broker fault no client can
                    # mend. Messages 20-39 are sent to a stopped broker and
                    # retried across the restart.
                    producer._producer.flush(10)
                    self.broker.stop(graceful=True)
                elif i == 40:
                    self.broker.start()
                yield message

        report = producer.produce(restartMidway(), visit=81, detector=3)
        self.assertEqual(report.total, 60)
        self.assertEqual(report.delivered + report.written, 60)
        self.assertWrittenAlerts(report, byId, 81, 3)
        kept = consumeAll(self.broker.bootstrap, self.topic, report.delivered)
        keptIds = collections.Counter(decode(msg.value())[2]["diaSourceId"] for msg in kept)
        self.assertEqual([i for i, n in keptIds.items() if n > 1], [])
        self.assertLessEqual(set(byId) - set(report.failedDiaSourceIds), set(keptIds))
        self.assertEqual(set(keptIds) | set(report.failedDiaSourceIds), set(byId))

    def testTooLargeForBroker(self):
        """The broker rejects a message over its max.message.bytes (the
        client limit is raised so the message is sent)."""
        alerts, payloads = _alertsAndPayloads(8, 10_000, start=200_000)
        big, bigPayload = _alertsAndPayloads(1, 1_200_000, start=299_999)
        self.assertGreater(len(bigPayload[0]), NoidaBroker.maxMessageBytes)
        producer = self.makeProducer(
            # batch.size below the broker limit so no small alert shares the
            # big one's (rejected) batch.
            producerOverrides={"message.max.bytes": 10_000_000, "batch.size": 500_000},
        )
        messages = messagesOf(alerts[:4] + big + alerts[4:], payloads[:4] + bigPayload + payloads[4:])
        with self.assertLogs(LOG_NAME, level="WARNING") as cm:
            report = producer.produce(messages, 9, 10)
        self.assertEqual((report.delivered, report.failed, report.written), (8, 1, 1))
        self.assertIn("MSG_SIZE_TOO_LARGE", "\n".join(cm.output))
        self.assertWrittenAlerts(report, {299_999: (big[0], bigPayload[0])}, 9, 10)
        self.assertConsumed(self.broker, self.topic, alerts, payloads, keyed=True)

    def testUnconfirmedArePurged(self):
        """Messages still queued when the final flush times out are purged
        and failed; a later run on the same producer counts only its own."""
        alerts, payloads = _alertsAndPayloads(30, 5_000, start=300_000)
        byId = {a["diaSourceId"]: (a, p) for a, p in zip(alerts, payloads, strict=True)}
        # A delivery timeout far beyond the flush timeout: the client would
        # keep retrying; the run must give up, purge and write them.
        producer = self.makeProducer(deliveryTimeout=120_000.0)
        self.broker.stop(graceful=True)
        report = producer.produce(messagesOf(alerts[:20], payloads[:20]), 3, 4, flushTimeout=0.3)
        self.assertEqual((report.delivered, report.failed, report.written), (0, 20, 20))
        self.assertWrittenAlerts(report, byId, 3, 4)

        self.broker.start()
        later = producer.produce(messagesOf(alerts[20:], payloads[20:]), 3, 5)
        self.assertEqual((later.delivered, later.failed), (10, 0))
        # The purged messages were never sent.
        self.assertConsumed(self.broker, self.topic, alerts[20:], payloads[20:], keyed=True)

    def testFailuresLoggedWithoutWriting(self):
        """Without doWriteFailedAlerts each lost alert is logged by id."""
        alerts, payloads = _alertsAndPayloads(12, 1_000, start=400_000)
        producer = self.makeProducer(doWriteFailedAlerts=False, deliveryTimeout=500.0)
        self.broker.stop(graceful=False)
        with self.assertLogs(LOG_NAME, level="WARNING") as cm:
            report = producer.produce(messagesOf(alerts, payloads), 3, 4)
        self.assertEqual((report.delivered, report.failed, report.written), (0, 12, 0))
        self.assertEqual(sorted(report.failedDiaSourceIds), [a["diaSourceId"] for a in alerts])
        for alert in alerts:
            lines = [line for line in cm.output if f"diaSourceId {alert['diaSourceId']} " in line]
            self.assertEqual(len(lines), 1, alert["diaSourceId"])
            self.assertIn("timed out", lines[0])
        self.assertEqual(self.writtenFiles(), {})


class _LostAcknowledgementTests(_EnvironmentMixin):
    """A produce acknowledgement lost on the way back (`LostAckProxy`): the
    broker stored the batch, the client sends it again. Run on every broker;
    subclasses set ``brokerClass``."""

    brokerClass = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reason = kafkaBrokers.brokerUnavailableReason(cls.brokerClass)
        if reason:
            raise unittest.SkipTest(reason)
        cls.broker = cls.brokerClass()
        cls.addClassCleanup(cls.broker.cleanup)
        cls.broker.start()

    def sendThroughLossyProxy(self, idempotent):
        """Send 30 alerts in 3 flushed groups, losing 2 acknowledgements."""
        topic = f"alerts-{uuid.uuid4().hex[:12]}"
        self.broker.createTopic(topic)
        proxy = kafkaBrokers.LostAckProxy(self.broker.port)
        self.addCleanup(proxy.close)
        os.environ.update({"AP_KAFKA_SERVER": proxy.bootstrap, "AP_KAFKA_TOPIC": topic})
        alerts, payloads = _alertsAndPayloads(30, 3_000, start=600_000)
        producer = self.makeProducer(kafkaEnableIdempotence=idempotent, deliveryTimeout=15_000.0)
        proxy.dropAcks(2)
        messages = messagesOf(alerts, payloads)

        def inGroups():
            for i, message in enumerate(messages):
                if i % 10 == 0:
                    # One produce request per group, so two groups lose theirs.
                    producer._producer.flush(10)
                yield message

        report = producer.produce(inGroups(), 1, 2)
        self.assertEqual(proxy.dropped, 2)
        self.assertEqual((report.delivered, report.failed), (30, 0))
        return topic, alerts, payloads

    def testIdempotentRetriesStoredOnce(self):
        topic, alerts, payloads = self.sendThroughLossyProxy(idempotent=True)
        self.assertConsumed(self.broker, topic, alerts, payloads, keyed=True)

    def testWithoutIdempotenceRetriesDuplicate(self):
        """Control: the same fault with kafkaEnableIdempotence=False stores
        the two resent batches twice, so the test above can fail."""
        topic, alerts, _ = self.sendThroughLossyProxy(idempotent=False)
        messages = consumeAll(self.broker.bootstrap, topic, len(alerts) + 1)
        counts = collections.Counter(decode(msg.value())[2]["diaSourceId"] for msg in messages)
        self.assertEqual(set(counts), {a["diaSourceId"] for a in alerts})
        self.assertGreater(len(messages), len(alerts))


@unittest.skipIf(kafkaBrokers.brokerUnavailableReason(NoidaBroker), "noida-db is not available")
class NoidaLostAcknowledgementTestCase(_LostAcknowledgementTests, lsst.utils.tests.TestCase):
    brokerClass = NoidaBroker


@unittest.skipIf(kafkaBrokers.brokerUnavailableReason(TansuBroker), "Tansu is not available")
class TansuLostAcknowledgementTestCase(_LostAcknowledgementTests, lsst.utils.tests.TestCase):
    brokerClass = TansuBroker


# Run in a child process so that its stderr (where librdkafka writes by
# default) can be captured whole. argv: bootstrap, topic, maxTimeout and
# "control" to also run a plain client (client.id "control") beside it.
_CHILD = r"""
import logging, os, sys, time
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="LOG %(levelname)s %(message)s")
from lsst.ap.alerts.config import PackageAlertsConfig
from lsst.ap.alerts.delivery.producer import AlertProducer, BrokerUnavailableError
os.environ.update(AP_KAFKA_SERVER=sys.argv[1], AP_KAFKA_TOPIC=sys.argv[2])
config = PackageAlertsConfig()
config.kafkaSecurityProtocol = "PLAINTEXT"
config.maxTimeout = float(sys.argv[3])
config.doWriteFailedAlerts = False
log = logging.getLogger("task")
try:
    producer = AlertProducer(config, log)
except BrokerUnavailableError as e:
    print("ERROR", e, flush=True)
    sys.exit(0)
report = producer.produce([(i, None, b"\0\0\0\0\1x") for i in range(5)], 1, 2)
if sys.argv[4:] == ["control"]:
    import confluent_kafka
    plain = confluent_kafka.Producer({"bootstrap.servers": sys.argv[1], "client.id": "control"})
    plain.produce(sys.argv[2], b"x")
    plain.flush(10)
print("DELIVERED", report.delivered, flush=True)
# The parent stops the broker now; an idle producer must stay quiet.
sys.stdin.readline()
time.sleep(3)
producer.close()
print("DONE", flush=True)
"""


class ClientLogTestCase(lsst.utils.tests.TestCase):
    """librdkafka writes to the task's logger, rate-limited, never stderr."""

    def startChild(self, bootstrap, topic, maxTimeout, *extra):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        return subprocess.Popen(
            [sys.executable, "-c", _CHILD, bootstrap, topic, str(maxTimeout), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def assertNoClientLines(self, stderr):
        """No librdkafka line on stderr except the control client's."""
        lines = [line for line in stderr.splitlines() if "rdkafka" in line or line.startswith("%")]
        self.assertEqual([line for line in lines if "|control#producer" not in line], [], stderr)
        return lines

    def testBrokerDownAtStart(self):
        """Nothing listens on the port: one clear error naming the server
        and the wait; librdkafka's complaints go to the logger, a few only."""
        bootstrap = f"127.0.0.1:{kafkaBrokers.freePort()}"
        child = self.startChild(bootstrap, "alerts", 2.0)
        out, err = child.communicate(timeout=120)
        self.assertEqual(child.returncode, 0, err)
        errors = [line for line in out.splitlines() if line.startswith("ERROR")]
        self.assertEqual(len(errors), 1, out)
        self.assertIn(f"Kafka broker at {bootstrap} did not answer within 2 s", errors[0])
        self.assertIn("Connection refused", errors[0])
        self.assertNoClientLines(err)
        # librdkafka retries many times in 2 s: its lines reach the logger,
        # at most the rate limit's burst of each (level, facility).
        clientLines = [line for line in out.splitlines() if "librdkafka: FAIL" in line]
        self.assertGreaterEqual(len(clientLines), 1, out)
        self.assertLessEqual(len(clientLines), 3, out)

    @unittest.skipIf(kafkaBrokers.brokerUnavailableReason(TansuBroker), "Tansu is not available")
    def testIdleProducerStaysQuiet(self):
        """After a run the broker goes away: nothing on stderr while the
        producer idles and closes. A plain client in the same process
        (control) prints its "Disconnected" and "FAIL" lines there."""
        with TansuBroker() as broker:
            broker.createTopic("alerts")
            child = self.startChild(broker.bootstrap, "alerts", 10.0, "control")
            first = child.stdout.readline()
            while first.startswith("LOG"):
                first = child.stdout.readline()
            self.assertEqual(first.split(), ["DELIVERED", "5"])
            broker.stop(graceful=False)
            out, err = child.communicate("go\n", timeout=120)
        self.assertEqual(child.returncode, 0, err)
        self.assertIn("DONE", out)
        self.assertTrue(self.assertNoClientLines(err), "the control client printed nothing")


@unittest.skipIf(kafkaBrokers.brokerUnavailableReason(TansuBroker), "Tansu is not available")
class SaslHandshakeTestCase(_EnvironmentMixin, lsst.utils.tests.TestCase):
    """The SASL settings drive a real SCRAM-SHA-512 exchange (Tansu with
    authentication; no user can exist there, see the module docstring)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = TansuBroker(authentication=True)
        cls.addClassCleanup(cls.broker.cleanup)
        cls.broker.start()

    def setUp(self):
        super().setUp()
        os.environ.update(
            {
                "AP_KAFKA_SERVER": self.broker.bootstrap,
                "AP_KAFKA_TOPIC": "alerts",
                "AP_KAFKA_PRODUCER_USERNAME": SECRET_USER,
                "AP_KAFKA_PRODUCER_PASSWORD": SECRET_PASSWORD,
            }
        )
        self.config = makeConfig(self.writeDir, kafkaSecurityProtocol="SASL_PLAINTEXT", maxTimeout=1.0)

    def testScramExchange(self):
        settings = kafkaClientSettings(self.config)
        errors = []
        admin = confluent_kafka.admin.AdminClient(
            dict(settings.adminConfig, error_cb=errors.append, log_level=0)
        )
        with self.assertRaises(confluent_kafka.KafkaException):
            admin.list_topics(timeout=1.0)
        admin.poll(0.5)
        authErrors = [e for e in errors if e.code() == confluent_kafka.KafkaError._AUTHENTICATION]
        self.assertTrue(authErrors, [e.str() for e in errors])
        # The broker ran the SCRAM exchange and looked the user up.
        self.assertIn("unknown-user", authErrors[0].str())

    def testRefusedLoginFailsAtStart(self):
        with self.assertRaises(confluent_kafka.KafkaException) as cm:
            AlertProducer(self.config, self.log)
        self.assertNotIn(SECRET_PASSWORD, str(cm.exception))


def setup_module(module):
    lsst.utils.tests.init()


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
