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

"""Tests of `lsst.ap.alerts.delivery.consumer`: settings, decoding, and reading real brokers.

The settings come from a given environment; the password must never show
in the configuration's text, in an error, or in what the client logs.
Decoding is checked on payloads `PackageAlertsTask` framed, against fastavro
decoding the same bytes with the schema of ``lsst.alert.packet`` (not the
package's registry).  The topic tests produce a simulated visit with the
task into the brokers of ``kafkaBrokers.py`` (noida-db and Tansu) and read
it back with `iterTopic`, compared with the raw messages a plain
confluent_kafka consumer reads.
"""

import contextlib
import functools
import io
import logging
import os
import struct
import tempfile
import unittest
import uuid
from unittest import mock

import fastavro
import kafkaBrokers
import lsst.utils.tests
from alertFileBytes import sameValue
from kafkaBrokers import NoidaBroker, TansuBroker, brokerUnavailableReason, consumeAll, freePort

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts.delivery.consumer import ConsumedMessage, ConsumeError, _decode, consumerConfig, iterTopic
from lsst.ap.alerts.delivery.kafkaSettings import REDACTED
from lsst.ap.alerts.schemaRegistry import SchemaRegistry
from lsst.ap.alerts.simulation import makeSimulatedVisit, runArguments

SECRET_USER = "consumer-user-41c7"
SECRET_PASSWORD = "pw-Kx81!consumer-secret"
KAFKA_VARS = ("AP_KAFKA_SERVER", "AP_KAFKA_TOPIC", "AP_KAFKA_PRODUCER_USERNAME", "AP_KAFKA_PRODUCER_PASSWORD")


@functools.cache
def simulatedVisit():
    return makeSimulatedVisit(6, 4, seed=3, size=(300, 260), fractionSolarSystem=0.1)


@functools.cache
def packagedVisit():
    """The simulated visit packaged by the task (no Kafka): its `AlertPayloads`."""
    return PackageAlertsTask(config=PackageAlertsConfig()).run(**runArguments(simulatedVisit())).alerts


def oracleDecode(message):
    """Magic byte, schema ID and record of a framed message, by struct and fastavro alone."""
    magic, schemaId = struct.unpack(">bI", message[:5])
    stream = io.BytesIO(message[5:])
    record = fastavro.schemaless_reader(stream, kafkaBrokers.schemaDefinition(), None)
    if stream.tell() != len(message) - 5:
        raise ValueError("bytes left after the record")
    return magic, schemaId, record


@contextlib.contextmanager
def capturedFd2():
    """Collect what is written to file descriptor 2 (librdkafka logs there, not via sys.stderr)."""
    captured = []
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode(errors="replace"))


class ConsumerConfigTestCase(lsst.utils.tests.TestCase):
    def environ(self, **values):
        base = {
            "AP_KAFKA_SERVER": "kafka.example:9092",
            "AP_KAFKA_TOPIC": "alerts-env",
            "AP_KAFKA_PRODUCER_USERNAME": SECRET_USER,
            "AP_KAFKA_PRODUCER_PASSWORD": SECRET_PASSWORD,
        }
        base.update(values)
        return {k: v for k, v in base.items() if v is not None}

    def testPlaintext(self):
        topic, config = consumerConfig(plaintext=True, environ=self.environ())
        self.assertEqual(topic, "alerts-env")
        self.assertEqual(config["bootstrap.servers"], "kafka.example:9092")
        self.assertEqual(config["security.protocol"], "PLAINTEXT")
        for key in ("sasl.mechanisms", "sasl.username", "sasl.password"):
            self.assertNotIn(key, config)
        self.assertIs(config["enable.auto.commit"], False)
        self.assertEqual(config["auto.offset.reset"], "earliest")
        self.assertTrue(config["group.id"].startswith("ap-alerts-cli-"))
        # No credentials needed without SASL.
        topic, config = consumerConfig(
            plaintext=True,
            environ=self.environ(AP_KAFKA_PRODUCER_USERNAME=None, AP_KAFKA_PRODUCER_PASSWORD=None),
        )
        self.assertEqual(topic, "alerts-env")

    def testArgumentsTakePrecedence(self):
        topic, config = consumerConfig(
            "127.0.0.1:1234", "given", plaintext=True, group="g1", environ=self.environ()
        )
        self.assertEqual(
            (topic, config["bootstrap.servers"], config["group.id"]), ("given", "127.0.0.1:1234", "g1")
        )
        # Without the environment at all.
        topic, config = consumerConfig("127.0.0.1:1234", "given", plaintext=True, environ={})
        self.assertEqual(topic, "given")

    def testUniqueGroups(self):
        groups = {consumerConfig(plaintext=True, environ=self.environ())[1]["group.id"] for _ in range(5)}
        self.assertEqual(len(groups), 5)

    def testDefaultEnvironment(self):
        with mock.patch.dict(os.environ, self.environ(AP_KAFKA_TOPIC="from-os-environ")):
            topic, config = consumerConfig()
        self.assertEqual(topic, "from-os-environ")
        self.assertEqual(config["sasl.password"], SECRET_PASSWORD)

    def testSasl(self):
        """SCRAM-SHA-512 with the producer's credentials; the password never printed or logged."""
        topic, config = consumerConfig(environ=self.environ())
        self.assertEqual(config["security.protocol"], "SASL_PLAINTEXT")
        self.assertEqual(config["sasl.mechanisms"], "SCRAM-SHA-512")
        self.assertEqual(config["sasl.username"], SECRET_USER)
        self.assertEqual(config["sasl.password"], SECRET_PASSWORD)
        for text in (repr(config), str(config), f"{config}", repr(config.copy())):
            self.assertNotIn(SECRET_PASSWORD, text)
            self.assertIn(REDACTED, text)
        log = logging.getLogger("lsst.ap.alerts.test_consumer")
        with self.assertLogs(log, logging.INFO) as cm:
            log.info("consumer configuration: %s", config)
            log.info("consumer configuration: %r", config)
        self.assertNotIn(SECRET_PASSWORD, "\n".join(cm.output))
        self.assertIn(SECRET_USER, "\n".join(cm.output))

    def testConfigurationAcceptedByLibrdkafka(self):
        """Every property is one librdkafka knows (it rejects unknown ones at construction)."""
        from confluent_kafka import Consumer, KafkaException

        for plaintext in (True, False):
            _, config = consumerConfig(server="127.0.0.1:9", plaintext=plaintext, environ=self.environ())
            Consumer(dict(config)).close()
        with self.assertRaises(KafkaException):
            Consumer(dict(config, **{"no.such.property": 1}))

    def testMissingSettings(self):
        cases = [
            ({"AP_KAFKA_SERVER": None}, True, "no Kafka server: give --server or set AP_KAFKA_SERVER"),
            ({"AP_KAFKA_TOPIC": None}, True, "no Kafka topic: give --topic or set AP_KAFKA_TOPIC"),
            (
                {"AP_KAFKA_SERVER": "", "AP_KAFKA_TOPIC": ""},
                True,
                "no Kafka server: give --server or set AP_KAFKA_SERVER",
            ),
        ]
        for values, plaintext, expected in cases:
            with self.subTest(values=values):
                with self.assertRaises(ConsumeError) as cm:
                    consumerConfig(plaintext=plaintext, environ=self.environ(**values))
                self.assertEqual(str(cm.exception), expected)

    def testMissingCredentials(self):
        for missing in (
            ("AP_KAFKA_PRODUCER_PASSWORD",),
            ("AP_KAFKA_PRODUCER_USERNAME", "AP_KAFKA_PRODUCER_PASSWORD"),
        ):
            with self.subTest(missing=missing):
                with self.assertRaises(ConsumeError) as cm:
                    consumerConfig(environ=self.environ(**dict.fromkeys(missing)))
                message = str(cm.exception)
                for name in missing:
                    self.assertIn(name, message)
                self.assertIn("--plaintext", message)
                self.assertIn("consuming uses the producer's credentials", message)
                self.assertNotIn(SECRET_PASSWORD, message)
                self.assertNotIn(SECRET_USER, message)


class DecodeTestCase(lsst.utils.tests.TestCase):
    """Decoding one message: the wire header names the schema."""

    @classmethod
    def setUpClass(cls):
        cls.alerts = packagedVisit()
        cls.registry = SchemaRegistry.default()

    def decode(self, value, registry=None, schemas=None):
        return _decode(2, 17, value, registry or self.registry, {} if schemas is None else schemas)

    def testGoodMessages(self):
        schemas = {}
        for i in range(len(self.alerts)):
            message = self.alerts.framed(i)
            magic, schemaId, record = oracleDecode(message)
            self.assertEqual((magic, schemaId), (0, 1101))
            decoded = self.decode(message, schemas=schemas)
            self.assertIsNone(decoded.error)
            self.assertEqual((decoded.partition, decoded.offset, decoded.schemaId), (2, 17, 1101))
            self.assertEqual(decoded.size, len(message) - 5)
            self.assertTrue(sameValue(decoded.alert, record), msg=f"alert #{i} differs from fastavro's")
        self.assertEqual(list(schemas), [1101])

    def testSchemaCache(self):
        """Schemas found once are reused: with the cache filled, a registry without schemas decodes."""
        with tempfile.TemporaryDirectory() as empty:
            bare = SchemaRegistry(roots=[empty])
            message = self.alerts.framed(0)
            self.assertIn("Unknown alert schema ID 1101", self.decode(message, registry=bare).error)
            decoded = self.decode(message, registry=bare, schemas={1101: self.registry.byId(1101)})
        self.assertTrue(sameValue(decoded.alert, oracleDecode(message)[2]))

    def testBadMessages(self):
        payload = self.alerts.payloads[0]
        cases = [
            (
                b"\x01" + struct.pack(">I", 1101) + payload,
                None,
                "Not Confluent wire format: magic byte is 1, expected 0",
            ),
            (b"\x00\x00\x04", None, "Message of 3 bytes is too short for a Confluent wire header"),
            (b"", None, "Message of 0 bytes is too short for a Confluent wire header"),
            (struct.pack(">bI", 0, 9999) + payload, 9999, "Unknown alert schema ID 9999; known: "),
            (
                struct.pack(">bI", 0, 1101) + payload + b"\x00\x00\x00",
                1101,
                "3 bytes left after decoding with schema 11.1",
            ),
            (struct.pack(">bI", 0, 1101) + payload[:100], 1101, "cannot decode with schema 11.1: "),
        ]
        for value, schemaId, fragment in cases:
            with self.subTest(fragment=fragment):
                decoded = self.decode(value)
                self.assertIsNone(decoded.alert)
                self.assertEqual(decoded.schemaId, schemaId)
                self.assertEqual(decoded.size, max(len(value) - 5, 0))
                self.assertIn(fragment, decoded.error)
                if fragment.startswith("Unknown"):
                    # The known schemas are listed, so the reader sees what would have worked.
                    self.assertIn("11.1 (ID 1101)", decoded.error)


class _TopicTests:
    """iterTopic against a real broker (``brokerClass``)."""

    brokerClass = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reason = brokerUnavailableReason(cls.brokerClass)
        if reason:
            raise unittest.SkipTest(reason)
        cls.broker = cls.brokerClass()
        cls.addClassCleanup(cls.broker.cleanup)
        cls.broker.start()

    def setUp(self):
        super().setUp()
        patcher = mock.patch.dict(os.environ)
        patcher.start()
        self.addCleanup(patcher.stop)
        for name in KAFKA_VARS:
            os.environ.pop(name, None)
        self.topic = f"alerts-{uuid.uuid4().hex[:8]}"

    def config(self, topic=None):
        return consumerConfig(self.broker.bootstrap, topic or self.topic, plaintext=True)

    def produceVisit(self, partitions):
        """Produce a simulated visit with the task; return its alerts and the raw messages of the topic."""
        self.broker.createTopic(self.topic, partitions=partitions)
        os.environ.update({"AP_KAFKA_SERVER": self.broker.bootstrap, "AP_KAFKA_TOPIC": self.topic})
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        config = PackageAlertsConfig()
        config.doProduceAlerts = True
        config.kafkaSecurityProtocol = "PLAINTEXT"
        config.alertWriteLocation = tmp.name
        config.doWriteFailedAlerts = True
        config.maxTimeout = 10.0
        result = PackageAlertsTask(config=config).run(**runArguments(simulatedVisit()))
        self.assertEqual(result.produceReport.delivered, len(result.alerts))
        self.assertEqual(os.listdir(tmp.name), [])
        raw = consumeAll(self.broker.bootstrap, self.topic, len(result.alerts))
        return result.alerts, {(m.partition(), m.offset()): m.value() for m in raw}

    def testVisitRoundTrip(self):
        """Every alert the task produced is read back once, as fastavro decodes its message."""
        alerts, raw = self.produceVisit(partitions=3)
        self.assertEqual(sorted(raw.values()), sorted(alerts.framed(i) for i in range(len(alerts))))
        topic, config = self.config()
        consumed = list(iterTopic(topic, config, maxMessages=len(alerts), timeout=30.0))
        self.assertEqual(len(consumed), len(alerts))
        self.assertEqual(sorted((m.partition, m.offset) for m in consumed), sorted(raw))
        for message in consumed:
            self.assertIsInstance(message, ConsumedMessage)
            value = raw[(message.partition, message.offset)]
            magic, schemaId, record = oracleDecode(value)
            self.assertIsNone(message.error)
            self.assertEqual(message.schemaId, schemaId)
            self.assertEqual(message.size, len(value) - 5)
            self.assertTrue(
                sameValue(message.alert, record), msg=f"message {message.partition}/{message.offset}"
            )
        self.assertEqual(sorted(m.alert["diaSourceId"] for m in consumed), sorted(alerts.diaSourceIds))
        # Without a limit the read ends after the idle timeout, with nothing more.
        self.assertEqual(len(list(iterTopic(topic, config, timeout=1.0))), len(alerts))

    def testDamagedMessages(self):
        """Undecodable messages are yielded with their reason, in offset order, between good ones."""
        from confluent_kafka import Producer

        alerts = packagedVisit()
        self.broker.createTopic(self.topic, partitions=1)
        values = [
            alerts.framed(0),
            b"\x07" + alerts.framed(1)[1:],
            struct.pack(">bI", 0, 4242) + alerts.payloads[2],
            alerts.framed(3) + b"\x00",
            None,
            alerts.framed(4),
        ]
        producer = Producer({"bootstrap.servers": self.broker.bootstrap, "log_level": 0})
        for value in values:
            producer.produce(self.topic, value)
        self.assertEqual(producer.flush(30), 0)
        topic, config = self.config()
        consumed = list(iterTopic(topic, config, maxMessages=len(values), timeout=30.0))
        self.assertEqual([m.partition for m in consumed], [0] * len(values))
        offsets = [m.offset for m in consumed]
        self.assertEqual(offsets, sorted(offsets))
        errors = [m.error for m in consumed]
        self.assertIsNone(errors[0])
        self.assertIn("magic byte is 7, expected 0", errors[1])
        self.assertIn("Unknown alert schema ID 4242", errors[2])
        self.assertIn("1 bytes left after decoding with schema 11.1", errors[3])
        self.assertIn("Message of 0 bytes is too short", errors[4])
        self.assertIsNone(errors[5])
        for message, index in ((consumed[0], 0), (consumed[5], 4)):
            self.assertTrue(sameValue(message.alert, oracleDecode(alerts.framed(index))[2]))
        self.assertEqual([m.schemaId for m in consumed], [1101, None, 4242, 1101, None, 1101])

    def testEmptyTopicAndLimit(self):
        self.broker.createTopic(self.topic, partitions=2)
        topic, config = self.config()
        self.assertEqual(list(iterTopic(topic, config, timeout=1.0)), [])
        self.assertEqual(list(iterTopic(topic, config, maxMessages=0, timeout=30.0)), [])

    def testMissingTopic(self):
        topic, config = self.config(topic="no-such-topic-here")
        with self.assertRaises(ConsumeError) as cm:
            list(iterTopic(topic, config, timeout=5.0))
        self.assertEqual(
            str(cm.exception), f"Kafka topic 'no-such-topic-here' does not exist on {self.broker.bootstrap}"
        )


@unittest.skipIf(brokerUnavailableReason(NoidaBroker), "noida-db is not available")
class NoidaTopicTestCase(_TopicTests, lsst.utils.tests.TestCase):
    brokerClass = NoidaBroker


@unittest.skipIf(brokerUnavailableReason(TansuBroker), "Tansu is not available")
class TansuTopicTestCase(_TopicTests, lsst.utils.tests.TestCase):
    brokerClass = TansuBroker


class UnreachableTestCase(lsst.utils.tests.TestCase):
    def testNoBroker(self):
        server = f"127.0.0.1:{freePort()}"
        topic, config = consumerConfig(server, "alerts", plaintext=True, environ={})
        with self.assertRaises(ConsumeError) as cm:
            list(iterTopic(topic, config, timeout=1.0))
        message = str(cm.exception)
        self.assertTrue(message.startswith(f"Kafka at {server} did not answer: "), message)
        # The client's own reason, not only "transport failure".
        self.assertIn("Connection refused", message)


@unittest.skipIf(brokerUnavailableReason(TansuBroker), "Tansu is not available")
class RefusedLoginTestCase(lsst.utils.tests.TestCase):
    """A SASL consumer against Tansu with authentication: a real SCRAM exchange, refused (no users)."""

    def testRefusalSaidPasswordNotShown(self):
        with TansuBroker(authentication=True) as broker:
            environ = {
                "AP_KAFKA_SERVER": broker.bootstrap,
                "AP_KAFKA_TOPIC": "alerts",
                "AP_KAFKA_PRODUCER_USERNAME": SECRET_USER,
                "AP_KAFKA_PRODUCER_PASSWORD": SECRET_PASSWORD,
            }
            topic, config = consumerConfig(environ=environ)
            records = []
            handler = logging.Handler(logging.DEBUG)
            handler.emit = records.append
            root = logging.getLogger()
            root.addHandler(handler)
            try:
                with capturedFd2() as fd2, self.assertRaises(ConsumeError) as cm:
                    list(iterTopic(topic, config, timeout=2.0))
            finally:
                root.removeHandler(handler)
        message = str(cm.exception)
        self.assertTrue(message.startswith(f"Kafka at {broker.bootstrap} did not answer"), message)
        # The reason is the broker's refusal of the login, not a generic transport failure.
        self.assertIn("SASL SCRAM authentication failed: broker responded with unknown-user", message)
        logged = "\n".join(r.getMessage() for r in records) + "".join(fd2)
        for text in (message, logged):
            self.assertNotIn(SECRET_PASSWORD, text)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
