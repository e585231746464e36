"""`writeAlertFile`: fastavro's container bytes from views, gathered writes, no partial file on failure."""

import errno
import io
import os
import tempfile
import types
import unittest
from unittest import mock

import fastavro
import lsst.utils.tests
from fastavro.read import HEADER_SCHEMA

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask, simulation
from lsst.ap.alerts.delivery import alertFile

SCHEMA = {"type": "record", "name": "Row", "fields": [{"name": "id", "type": "long"},
                                                      {"name": "blob", "type": "bytes"}]}
# writeAlertFile needs only the schema definition of an AlertSchema.
ROW_SCHEMA = types.SimpleNamespace(definition=SCHEMA)


class AlertFileTestCase(lsst.utils.tests.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        # Sizes from empty to far above a container block, with more records than one writev takes.
        self.records = [{"id": i, "blob": bytes([i % 251]) * (i * 7919 % 40000)} for i in range(1500)]
        encoded = []
        for record in self.records:
            stream = io.BytesIO()
            fastavro.schemaless_writer(stream, fastavro.parse_schema(SCHEMA), record)
            encoded.append(stream.getvalue())
        # Read-only views of one buffer, as the task's payloads are.
        buffer = memoryview(b"".join(encoded)).toreadonly()
        self.payloads, start = [], 0
        for e in encoded:
            self.payloads.append(buffer[start:start + len(e)])
            start += len(e)

    def writeAndCheck(self, name):
        path = os.path.join(self.tmp.name, name)
        alertFile.writeAlertFile(path, ROW_SCHEMA, self.payloads)
        with open(path, "rb") as f:
            data = f.read()
        sync = fastavro.schemaless_reader(io.BytesIO(data), HEADER_SCHEMA, None)["sync"]
        reference = io.BytesIO()
        fastavro.writer(reference, SCHEMA, self.records, sync_marker=sync)
        self.assertEqual(data, reference.getvalue())
        self.assertEqual(os.listdir(self.tmp.name), [name])

    def testBytesEqualFastavroWriter(self):
        self.writeAndCheck("visit.avro")

    def testShortWritesAreResumed(self):
        """writev may write less than asked (signals, quotas); the rest must follow, in order.

        A regular file on a local disk never does that here, so os.writev is
        replaced by one that writes at most a few kB per call.
        """
        realWrite = os.write
        budget = [2 * sum(len(p) for p in self.payloads) + 100_000]

        def shortWritev(fd, buffers):
            chunk = b"".join(bytes(b) for b in buffers)[:4097]
            budget[0] -= len(chunk)
            if budget[0] < 0:  # a writer that does not advance would loop forever
                raise AssertionError("far more bytes written than the file holds")
            return realWrite(fd, chunk)

        with mock.patch.object(alertFile.os, "writev", shortWritev):
            self.writeAndCheck("short.avro")

    def testFailedWriteLeavesNoFile(self):
        """A full disk mid-file raises and leaves neither the file nor its temporary (simulated ENOSPC)."""
        calls = []

        def fullDisk(fd, buffers):
            calls.append(len(buffers))
            if len(calls) > 1:
                raise OSError(errno.ENOSPC, "No space left on device")
            return os.write(fd, b"".join(bytes(b) for b in buffers))

        path = os.path.join(self.tmp.name, "full.avro")
        with mock.patch.object(alertFile.os, "writev", fullDisk), self.assertRaises(OSError):
            alertFile.writeAlertFile(path, ROW_SCHEMA, self.payloads)
        self.assertGreater(len(calls), 1)
        self.assertEqual(os.listdir(self.tmp.name), [])


    def testFailedRenameLeavesNoTemporary(self):
        """If the finished file cannot be moved into place (simulated), its temporary goes too."""
        path = os.path.join(self.tmp.name, "visit.avro")
        with mock.patch.object(alertFile.os, "replace", side_effect=PermissionError("read-only")):
            with self.assertRaises(PermissionError):
                alertFile.writeAlertFile(path, ROW_SCHEMA, self.payloads[:10])
        self.assertEqual(os.listdir(self.tmp.name), [])


class TaskFileFailureTestCase(lsst.utils.tests.TestCase):
    """`PackageAlertsTask.run` when the alert file cannot be written (ENOSPC simulated)."""

    def testRunRaisesAndLeavesNothing(self):
        visit = simulation.makeSimulatedVisit(20, 3, seed=5, size=256)
        with tempfile.TemporaryDirectory() as where:
            config = PackageAlertsConfig()
            config.doWriteAlerts = True
            config.alertWriteLocation = where
            task = PackageAlertsTask(config=config)

            def fullDisk(fd, buffers):
                raise OSError(errno.ENOSPC, "No space left on device")

            with mock.patch.object(alertFile.os, "writev", fullDisk), self.assertRaises(OSError):
                task.run(visit.diaSourceCat, visit.diaObjectCat, visit.diaSrcHistory,
                         visit.diaForcedSources, visit.diffIm, visit.calexp, visit.template,
                         ssSrc=visit.ssSrc)
            self.assertEqual(os.listdir(where), [])
            # The same task packages the visit once the disk is back.
            result = task.run(visit.diaSourceCat, visit.diaObjectCat, visit.diaSrcHistory,
                              visit.diaForcedSources, visit.diffIm, visit.calexp, visit.template,
                              ssSrc=visit.ssSrc)
            self.assertEqual(os.listdir(where), [os.path.basename(result.alertFile)])
            with open(result.alertFile, "rb") as f:
                self.assertEqual(len(list(fastavro.reader(f))), len(result.alerts))


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
