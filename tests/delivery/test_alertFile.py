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

"""`writeAlertFile` and `AtomicFile`: fastavro's container bytes from views, gathered writes, no partial
file on failure, file modes, stale temporaries, a writer killed mid-file, two writers of one file."""

import errno
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import types
import unittest
from unittest import mock

import fastavro
import lsst.utils.tests
from fastavro.read import HEADER_SCHEMA

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask, simulation
from lsst.ap.alerts.avro.container import canonicalSchema
from lsst.ap.alerts.delivery import alertFile
from lsst.ap.alerts.delivery.producer import _DeliveryRun

SCHEMA = {
    "type": "record",
    "name": "Row",
    "fields": [{"name": "id", "type": "long"}, {"name": "blob", "type": "bytes"}],
}
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
            self.payloads.append(buffer[start : start + len(e)])
            start += len(e)

    def writeAndCheck(self, name):
        path = os.path.join(self.tmp.name, name)
        alertFile.writeAlertFile(path, ROW_SCHEMA, self.payloads)
        with open(path, "rb") as f:
            data = f.read()
        sync = fastavro.schemaless_reader(io.BytesIO(data), HEADER_SCHEMA, None)["sync"]
        reference = io.BytesIO()
        # The writer stores the schema in canonical form (reproducible files).
        fastavro.writer(reference, canonicalSchema(SCHEMA), self.records, sync_marker=sync)
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
                task.run(**simulation.runArguments(visit))
            self.assertEqual(os.listdir(where), [])
            # The same task packages the visit once the disk is back.
            result = task.run(**simulation.runArguments(visit))
            self.assertEqual(os.listdir(where), [os.path.basename(result.alertFile)])
            with open(result.alertFile, "rb") as f:
                self.assertEqual(len(list(fastavro.reader(f))), len(result.alerts))


class FileModeTestCase(lsst.utils.tests.TestCase):
    """Visit files and failed-delivery files get the same mode: what open() gives under the umask."""

    def modesUnder(self, umask):
        with tempfile.TemporaryDirectory() as where:
            previous = os.umask(umask)
            try:
                visitFile = os.path.join(where, "5_6.avro")
                alertFile.writeAlertFile(visitFile, ROW_SCHEMA, [b"\x02\x00"])
                run = _DeliveryRun(logging.getLogger("test_alertFile"), 5, 6, where)
                run.fail(run.add(77, b"\x00framed"), "refused")
                failedFile = os.path.join(where, "5_6_77.avro")
                return [os.stat(path).st_mode & 0o777 for path in (visitFile, failedFile)]
            finally:
                os.umask(previous)

    def testModes(self):
        self.assertEqual(self.modesUnder(0o022), [0o644, 0o644])
        self.assertEqual(self.modesUnder(0o077), [0o600, 0o600])


def _deadPid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


class StaleTemporaryTestCase(lsst.utils.tests.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def touch(self, name, age=0.0):
        path = os.path.join(self.tmp.name, name)
        with open(path, "wb") as f:
            f.write(b"partial")
        if age:
            os.utime(path, (time.time() - age, time.time() - age))
        return name

    def testNameScheme(self):
        with alertFile.AtomicFile(os.path.join(self.tmp.name, "12_3.avro")) as f:
            name = os.path.basename(f.tmpPath)
            self.assertTrue(name.startswith(".12_3.avro.ap-alerts-partial."))
            self.assertEqual(alertFile.temporaryOwner(name), ("12_3.avro", socket.gethostname(), os.getpid()))
        self.assertEqual(os.listdir(self.tmp.name), ["12_3.avro"])
        for other in ("12_3.avro", ".12_3.avro.tmp", ".x.ap-alerts-partial.host.notapid.ab"):
            self.assertIsNone(alertFile.temporaryOwner(other))

    def testOnlyAbandonedOnesGo(self):
        host = socket.gethostname()
        dead, alive = _deadPid(), os.getppid()
        old = alertFile.FOREIGN_STALE_SECONDS + 60
        stale = {
            self.touch(f".12_3.avro.ap-alerts-partial.{host}.{dead}.aa11"),
            self.touch(f".12_3.avro.ap-alerts-partial.node-7.cluster.{alive}.bb22", age=old),
        }
        kept = {
            self.touch(f".12_3.avro.ap-alerts-partial.{host}.{alive}.cc33"),
            self.touch(f".12_3.avro.ap-alerts-partial.node-7.cluster.{dead}.dd44", age=60),
            self.touch(f".12_4.avro.ap-alerts-partial.{host}.{dead}.ee55"),
            self.touch("12_3.avro"),
        }
        removed = alertFile.removeStaleTemporaries(self.tmp.name, "12_3.avro")
        self.assertEqual({os.path.basename(p) for p in removed}, stale)
        self.assertEqual(set(os.listdir(self.tmp.name)), kept)

    def testFailedAlertPrefix(self):
        """The producer cleans its visit/detector's failed-alert temporaries before writing."""
        host, dead = socket.gethostname(), _deadPid()
        gone = self.touch(f".8_9_1001.avro.ap-alerts-partial.{host}.{dead}.aa11")
        other = self.touch(f".8_99_1001.avro.ap-alerts-partial.{host}.{dead}.bb22")
        run = _DeliveryRun(logging.getLogger("test_alertFile"), 8, 9, self.tmp.name)
        run.fail(run.add(1002, b"x"), "refused")
        names = set(os.listdir(self.tmp.name))
        self.assertNotIn(gone, names)
        self.assertEqual(names, {other, "8_9_1002.avro"})


# Writes a visit's alert file with writeAlertFile: nSources valid alerts of
# the latest schema (kafkaBrokers.makeAlert: random positions and ~60 kB of
# incompressible cutouts each, from the seed), then prints diaSourceId:ra of
# each. With "pause" it stops halfway through the alerts until a line
# arrives on stdin. argv: path, seed, nSources, [pause].
_WRITER = r"""
import sys
import kafkaBrokers
from lsst.ap.alerts.delivery import alertFile
from lsst.ap.alerts.schemaRegistry import SchemaRegistry
path, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
alerts = [kafkaBrokers.makeAlert(i, cutoutSize=60_000, seed=seed * 10**6 + i) for i in range(1, n + 1)]

def payloads():
    for i, alert in enumerate(alerts):
        if i == n // 2 and sys.argv[4:] == ["pause"]:
            print("MIDWAY", flush=True)
            sys.stdin.readline()
        yield kafkaBrokers.frame(alert)[5:]

alertFile.writeAlertFile(path, SchemaRegistry.default().latest, payloads())
print("WRITTEN", " ".join(f"{a['diaSourceId']}:{a['diaSource']['ra']!r}" for a in alerts), flush=True)
"""

N_SOURCES = 300


class WriterProcessTestCase(lsst.utils.tests.TestCase):
    """Real writer processes: killed mid-file, and two at once on one file."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.path = os.path.join(self.tmp.name, "4_2.avro")

    def start(self, seed, pause):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        child = subprocess.Popen(
            [sys.executable, "-c", _WRITER, self.path, str(seed), str(N_SOURCES)]
            + (["pause"] if pause else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.addCleanup(lambda: child.poll() is None and child.kill())
        if pause:
            line = child.stdout.readline()
            self.assertEqual(line.strip(), "MIDWAY", child.stderr.read() if not line else line)
        return child

    def finish(self, child, release=True):
        out, err = child.communicate("go\n" if release else None, timeout=600)
        self.assertEqual(child.returncode, 0, err)
        items = (item.split(":") for item in out.split("WRITTEN", 1)[1].split())
        return [(int(i), float(ra)) for i, ra in items]

    def temporaries(self):
        names = set(os.listdir(self.tmp.name)) - {"4_2.avro"}
        return {name: alertFile.temporaryOwner(name) for name in names}

    def readIds(self):
        """(diaSourceId, ra) of every alert in the final file."""
        with open(self.path, "rb") as f:
            return [(record["diaSourceId"], record["diaSource"]["ra"]) for record in fastavro.reader(f)]

    def killMidway(self, seed):
        child = self.start(seed, pause=True)
        temporaries = self.temporaries()
        self.assertEqual([owner[2] for owner in temporaries.values()], [child.pid])
        # Halfway through an 18 MB file: several MB are on disk.
        size = os.path.getsize(os.path.join(self.tmp.name, next(iter(temporaries))))
        self.assertGreater(size, 1 << 20)
        child.send_signal(signal.SIGKILL)
        child.wait()
        return temporaries

    def testKilledMidFile(self):
        # First run killed: nothing under the final name, its temporary left over.
        leftover = self.killMidway(seed=1)
        self.assertFalse(os.path.exists(self.path))
        self.assertEqual(self.temporaries(), leftover)
        # The next run removes it and writes a complete file.
        ids = self.finish(self.start(seed=1, pause=False), release=False)
        self.assertEqual(os.listdir(self.tmp.name), ["4_2.avro"])
        self.assertEqual(self.readIds(), ids)
        self.assertEqual(len(ids), N_SOURCES)
        with open(self.path, "rb") as f:
            complete = f.read()
        # A re-run killed midway leaves the complete file untouched.
        self.killMidway(seed=2)
        with open(self.path, "rb") as f:
            self.assertEqual(f.read(), complete)

    def testTwoWritersOfOneFile(self):
        """Both write at once (the second starts while the first is midway,
        so its clean-up sees a live temporary); the file is one of them, whole."""
        first = self.start(seed=1, pause=True)
        second = self.start(seed=2, pause=True)
        self.assertEqual(
            sorted(owner[2] for owner in self.temporaries().values()), sorted([first.pid, second.pid])
        )
        first.stdin.write("go\n")
        first.stdin.flush()
        second.stdin.write("go\n")
        second.stdin.flush()
        idsFirst = self.finish(first, release=False)
        idsSecond = self.finish(second, release=False)
        # Same diaSourceIds, other positions: a mixture would match neither.
        self.assertNotEqual(idsFirst, idsSecond)
        self.assertEqual(os.listdir(self.tmp.name), ["4_2.avro"])
        self.assertIn(self.readIds(), (idsFirst, idsSecond))


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
