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

"""Tests of `lsst.ap.alerts.delivery.kafkaSettings`: environment, redaction, librdkafka's log route."""

import logging
import unittest

import lsst.utils.tests

from lsst.ap.alerts.delivery.kafkaSettings import (
    REDACTED,
    MissingKafkaSettingError,
    RateLimitedClientLog,
    clientLogSettings,
    kafkaConnection,
)

FULL = {
    "AP_KAFKA_SERVER": "127.0.0.1:9",
    "AP_KAFKA_TOPIC": "alerts",
    "AP_KAFKA_PRODUCER_USERNAME": "someone",
    "AP_KAFKA_PRODUCER_PASSWORD": "pw-secret-71",
}

# lsst.ap.association's sentences, in the order it checks the variables.
UPSTREAM = [
    "Kafka password environment variable was not set.",
    "Kafka username environment variable was not set.",
    "Kafka server environment variable was not set.",
    "Kafka topic environment variable was not set.",
]


class KafkaConnectionTestCase(lsst.utils.tests.TestCase):
    def testAllMissingInUpstreamOrder(self):
        with self.assertRaises(ValueError) as cm:
            kafkaConnection("SASL_PLAINTEXT", "SCRAM-SHA-512", {})
        message = str(cm.exception)
        self.assertTrue(message.startswith(" ".join(UPSTREAM)), message)
        self.assertIsInstance(cm.exception, MissingKafkaSettingError)
        self.assertEqual(
            cm.exception.missing,
            ["AP_KAFKA_PRODUCER_PASSWORD", "AP_KAFKA_PRODUCER_USERNAME", "AP_KAFKA_SERVER", "AP_KAFKA_TOPIC"],
        )

    def testPlaintextNeedsServerAndTopicOnly(self):
        with self.assertRaises(MissingKafkaSettingError) as cm:
            kafkaConnection("PLAINTEXT", "SCRAM-SHA-512", {"AP_KAFKA_SERVER": "h:1"})
        self.assertEqual(str(cm.exception).split(" (")[0], UPSTREAM[3])
        connection = kafkaConnection("PLAINTEXT", "SCRAM-SHA-512", {"AP_KAFKA_SERVER": "h:1"}, topic="t")
        self.assertEqual(connection.topic, "t")
        self.assertEqual(
            dict(connection.config), {"bootstrap.servers": "h:1", "security.protocol": "PLAINTEXT"}
        )

    def testSaslConfigRedacted(self):
        connection = kafkaConnection("SASL_SSL", "SCRAM-SHA-256", FULL, server="other:2")
        self.assertEqual(connection.server, "other:2")
        self.assertEqual(connection.config["sasl.password"], "pw-secret-71")
        self.assertEqual(connection.config["sasl.mechanisms"], "SCRAM-SHA-256")
        for printed in (repr(connection), str(connection.config), str(connection.config.copy())):
            self.assertNotIn("pw-secret-71", printed)
            self.assertIn(REDACTED, printed)


class ClientLogTestCase(lsst.utils.tests.TestCase):
    def testRateLimitPerFacility(self):
        now = [0.0]
        log = logging.getLogger("test_kafkaSettings")
        target = RateLimitedClientLog(log, burst=2, interval=10.0, clock=lambda: now[0])
        fmt = "%s [%s] %s"
        with self.assertLogs(log, level="DEBUG") as cm:
            for i in range(7):
                target.log(logging.ERROR, fmt, "FAIL", "rdkafka#producer-1", f"refused {i}")
            target.log(logging.INFO, fmt, "CONFWARN", "rdkafka#producer-1", "other facility")
            self.assertEqual(target.heldBack(), 5)
            now[0] = 10.5
            target.log(logging.ERROR, fmt, "FAIL", "rdkafka#producer-1", "refused again")
        self.assertEqual(target.heldBack(), 0)
        self.assertEqual(
            [r.getMessage() for r in cm.records],
            [
                "librdkafka: FAIL [rdkafka#producer-1] refused 0",
                "librdkafka: FAIL [rdkafka#producer-1] refused 1",
                "librdkafka: CONFWARN [rdkafka#producer-1] other facility",
                "librdkafka: FAIL [rdkafka#producer-1] refused again "
                "(5 similar librdkafka messages held back)",
            ],
        )
        # Client errors are retried by the client: logged as warnings at most.
        self.assertEqual(
            [r.levelno for r in cm.records], [logging.WARNING, logging.WARNING, logging.INFO, logging.WARNING]
        )

    def testSettings(self):
        log = logging.getLogger("test_kafkaSettings")
        settings = clientLogSettings(log)
        self.assertIsInstance(settings["logger"], RateLimitedClientLog)
        self.assertIs(settings["log.connection.close"], False)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
