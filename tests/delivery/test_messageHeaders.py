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

"""Tests of `lsst.ap.alerts.delivery.messageHeaders`: the encodings consumers rely on."""

import time
import unittest

import lsst.utils.tests

import lsst.ap.alerts
from lsst.ap.alerts.delivery.messageHeaders import alertHeaders, decodeHeaders, producerTimestamp


class MessageHeadersTestCase(lsst.utils.tests.TestCase):
    def testEncodings(self):
        """UTF-8 decimal text, in the documented order; resend only when asked."""
        self.assertEqual(
            alertHeaders(1101, 2025112001592, 90),
            [
                ("schema_id", b"1101"),
                ("ap_alerts_version", lsst.ap.alerts.__version__.encode()),
                ("visit", b"2025112001592"),
                ("detector", b"90"),
            ],
        )
        self.assertEqual(alertHeaders(1101, 1, 2, resend=True)[-1], ("resend", b"1"))
        self.assertEqual(
            [name for name, _ in alertHeaders(None, 1, 2)], ["ap_alerts_version", "visit", "detector"]
        )

    def testProducerTimestampIsUpstreams(self):
        """str(time.time() * 1000): milliseconds since the epoch as a decimal float."""
        before = time.time() * 1000
        name, value = producerTimestamp()
        after = time.time() * 1000
        self.assertEqual(name, "producer_timestamp")
        self.assertRegex(value.decode(), r"^\d+\.\d+$")
        self.assertTrue(before <= float(value) <= after)

    def testDecode(self):
        headers = [producerTimestamp(), *alertHeaders(1101, 7, 3, resend=True), ("other", b"x")]
        values = decodeHeaders(headers)
        self.assertEqual(
            {k: v for k, v in values.items() if k != "producer_timestamp"},
            {
                "schema_id": 1101,
                "ap_alerts_version": lsst.ap.alerts.__version__,
                "visit": 7,
                "detector": 3,
                "resend": True,
                "other": "x",
            },
        )
        self.assertIsInstance(values["producer_timestamp"], float)
        self.assertEqual(decodeHeaders(None), {"resend": False})
        self.assertFalse(decodeHeaders(alertHeaders(1101, 7, 3))["resend"])
        for bad in ([("visit", b"seven")], [("resend", b"yes")], [("producer_timestamp", b"")]):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                decodeHeaders(bad)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
