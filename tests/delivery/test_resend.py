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

"""Tests of `lsst.ap.alerts.delivery.resend`: reading and choosing what to send (no broker).

The files are the task's own (a simulated visit written with
``doWriteAlerts``, failed-delivery files framed as the producer writes them);
sending is tested with real brokers in ``tests/tools/test_send.py``.
"""

import json
import os
import shutil
import tempfile
import unittest

import fastavro
import lsst.utils.tests

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts.delivery.alertFile import findAlertFiles
from lsst.ap.alerts.delivery.resend import ResendFileError, planResend, readAlertFile
from lsst.ap.alerts.schemaRegistry import makeWireHeader
from lsst.ap.alerts.simulation import makeSimulatedVisit, runArguments


class ResendPlanTestCase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="resend-")
        config = PackageAlertsConfig()
        config.doWriteAlerts = True
        config.alertWriteLocation = cls.tmp.name
        cls.result = PackageAlertsTask(config=config).run(**runArguments(makeSimulatedVisit(5, 2, seed=8)))
        cls.ids = list(cls.result.alerts.diaSourceIds)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="resend-work-")
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)
        self.visitFile = shutil.copy(self.result.alertFile, self.work)
        self.stem = os.path.basename(self.visitFile)[: -len(".avro")]

    def writeFailed(self, index, directory=None):
        directory = directory or self.work
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"{self.stem}_{self.ids[index]}.avro")
        with open(path, "wb") as stream:
            stream.write(self.result.alerts.framed(index))
        return path

    def testVisitFileMessages(self):
        """A container's records are framed with its schema's ID, byte for byte the task's messages."""
        plan = planResend([self.visitFile])
        self.assertEqual(plan.errors, [])
        self.assertEqual([a.diaSourceId for a in plan.alerts], self.ids)
        for i, alert in enumerate(plan.alerts):
            self.assertEqual(alert.message, self.result.alerts.framed(i))
            self.assertEqual(alert.failedFiles, [])
            self.assertEqual(alert.schemaId, self.result.alerts.schema.schemaId)

    def testDirectoriesDuplicatesAndIds(self):
        """Recursion, hidden files skipped, one message per identical alert, --id."""
        failed = self.writeFailed(1, os.path.join(self.work, "sub"))
        copy = shutil.copy(failed, os.path.join(self.work, "copy.avro"))
        hidden = shutil.copy(failed, os.path.join(self.work, f".{self.stem}.avro.ap-alerts-partial.h.1.ab"))
        self.assertNotIn(hidden, findAlertFiles(self.work))
        plan = planResend([self.work])
        self.assertEqual(plan.errors, [])
        self.assertEqual(sorted(a.diaSourceId for a in plan.alerts), sorted(self.ids))
        second = next(a for a in plan.alerts if a.diaSourceId == self.ids[1])
        self.assertEqual(sorted(second.failedFiles), sorted([failed, copy]))
        self.assertEqual(len(second.paths), 3)
        plan = planResend([self.work], ids=[self.ids[1], 999])
        self.assertEqual([a.diaSourceId for a in plan.alerts], [self.ids[1]])
        self.assertEqual(plan.errors, ["no alert with diaSourceId 999 in the files given"])

    def testBadFiles(self):
        """Each bad file is one error naming it; a damaged container gives none of its alerts."""
        data = open(self.visitFile, "rb").read()
        cases = {
            "truncated.avro": data[: len(data) // 2],
            "text.avro": b"hello",
            "unknownId.avro": makeWireHeader(4242) + bytes(self.result.alerts.payloads[0]),
            "extra.avro": self.result.alerts.framed(0) + b"\x00\x01",
        }
        for name, content in cases.items():
            with open(os.path.join(self.work, name), "wb") as stream:
                stream.write(content)
        plan = planResend([self.work, os.path.join(self.work, "absent.avro")])
        self.assertEqual(len(plan.errors), len(cases) + 1)
        for name in list(cases) + ["absent.avro"]:
            self.assertEqual(sum(name in error for error in plan.errors), 1, (name, plan.errors))
        self.assertEqual(sorted(a.diaSourceId for a in plan.alerts), sorted(self.ids))
        self.assertEqual(plan.files, [self.visitFile])

    def testEmbeddedSchemaMustMatch(self):
        """A container naming 11.1 but embedding another schema is refused (its ID would lie)."""
        with open(self.visitFile, "rb") as stream:
            reader = fastavro.reader(stream)
            schema, records = reader.writer_schema, list(reader)
        schema = json.loads(json.dumps(schema))
        field = next(f for f in schema["fields"] if f["name"] == "diaSourceId")
        field["type"] = "long"
        field["doc"] = "changed documentation only"
        same = os.path.join(self.work, "docOnly.avro")
        with open(same, "wb") as stream:
            fastavro.writer(stream, fastavro.parse_schema(schema), records)
        self.assertEqual(len(readAlertFile(same)[2]), len(self.ids))
        schema["fields"].append({"name": "extra", "type": ["null", "int"], "default": None})
        other = os.path.join(self.work, "other.avro")
        with open(other, "wb") as stream:
            fastavro.writer(stream, fastavro.parse_schema(schema), records)
        with self.assertRaisesRegex(ResendFileError, "differs from schema 11.1"):
            readAlertFile(other)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
