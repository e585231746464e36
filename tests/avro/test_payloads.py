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

"""AlertPayloads: encoded alerts decoded on access, framed for Kafka, pickled as bytes."""

import copy
import io
import pickle
import struct
import unittest

import fastavro
import lsst.utils.tests

from lsst.ap.alerts.avro.payloads import AlertPayloads
from lsst.ap.alerts.schemaRegistry import SchemaRegistry

SCHEMA = SchemaRegistry.default().load("11.1")


def _alert(srcId, objId):
    source = {
        "diaSourceId": srcId,
        "visit": 1,
        "detector": 2,
        "diaObjectId": objId,
        "midpointMjdTai": 60000.5,
        "ra": 10.0,
        "dec": -5.0,
        "x": 1.5,
        "y": 2.5,
        "psfNdata": 0,
        "trailNdata": 0,
        "dipoleNdata": 0,
        "timeProcessedMjdTai": 60001.0,
        "bboxSize": 20,
    }
    return {"diaSourceId": srcId, "diaSource": source, "observation_reason": f"r{srcId}"}


def _payloads(n=3):
    alerts = [_alert(10 + i, 100 + i) for i in range(n)]
    encoded = []
    for alert in alerts:
        stream = io.BytesIO()
        fastavro.schemaless_writer(stream, SCHEMA.parsed, alert)
        encoded.append(stream.getvalue())
    # As the task gives them: read-only views of one buffer.
    buffer = memoryview(b"".join(encoded)).toreadonly()
    views, offset = [], 0
    for payload in encoded:
        views.append(buffer[offset : offset + len(payload)])
        offset += len(payload)
    return AlertPayloads(
        SCHEMA, [a["diaSourceId"] for a in alerts], views, [100 + i for i in range(n)]
    ), encoded


class AlertPayloadsTestCase(lsst.utils.tests.TestCase):
    def testIndexingDecodes(self):
        payloads, encoded = _payloads()
        self.assertEqual(len(payloads), 3)
        self.assertEqual(payloads[1]["diaSourceId"], 11)
        self.assertEqual(payloads[1]["observation_reason"], "r11")
        self.assertEqual(payloads[-1]["diaSource"]["diaObjectId"], 102)
        self.assertEqual([a["diaSourceId"] for a in payloads[0:3:2]], [10, 12])
        self.assertEqual([a["diaSourceId"] for a in payloads], [10, 11, 12])
        self.assertEqual(payloads.totalBytes, sum(len(p) for p in encoded))
        self.assertIn("3 alerts", repr(payloads))

    def testFramedHasTheConfluentHeader(self):
        payloads, encoded = _payloads()
        self.assertEqual(payloads.framed(2), struct.pack(">bI", 0, 1101) + encoded[2])

    def testPickleAndCopyHoldBytes(self):
        payloads, encoded = _payloads()
        for clone in (pickle.loads(pickle.dumps(payloads)), copy.deepcopy(payloads)):
            self.assertEqual([bytes(p) for p in clone.payloads], encoded)
            self.assertEqual(clone.diaSourceIds, payloads.diaSourceIds)
            self.assertEqual(clone.diaObjectIds, payloads.diaObjectIds)
            self.assertEqual(clone[0], payloads[0])

    def testLengthsMustAgree(self):
        payloads, encoded = _payloads()
        with self.assertRaises(ValueError):
            AlertPayloads(SCHEMA, [1, 2], encoded, [1, 2])


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
