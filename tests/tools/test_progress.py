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

"""Tests of `lsst.ap.alerts.tools.progress`.

Line mode runs on a fake clock, so when a line is printed is decided by the
test, not by the machine's speed; the terminal mode is checked on a stream
that claims to be a terminal, with the real tqdm.
"""

import contextlib
import io
import sys
import types
import unittest
from unittest import mock

import lsst.utils.tests

from lsst.ap.alerts.tools import progress as progressModule
from lsst.ap.alerts.tools.progress import Progress


class FakeClock:
    """A monotonic clock that only moves when told."""

    def __init__(self, start=1000.0):
        self.now = start

    def monotonic(self):
        return self.now


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self):
        return True


class NotAStream:
    """Writable, but without ``isatty``."""

    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)

    def flush(self):
        pass


class LineModeTestCase(lsst.utils.tests.TestCase):
    """Not a terminal: one plain line at most every ``interval`` seconds."""

    def setUp(self):
        self.clock = FakeClock()
        patcher = mock.patch.object(
            progressModule, "time", types.SimpleNamespace(monotonic=self.clock.monotonic)
        )
        patcher.start()
        self.addCleanup(patcher.stop)
        self.stream = io.StringIO()

    def lines(self):
        return self.stream.getvalue().splitlines()

    def testLinesFollowTheInterval(self):
        progress = Progress("validate", total=10, unit="file", stream=self.stream, interval=5.0)
        # The interval counts from construction: nothing before 5 s.
        self.clock.now += 4.9
        progress.update()
        self.assertEqual(self.lines(), [])
        self.clock.now += 0.1
        progress.update(note="a.avro")
        self.assertEqual(self.lines(), ["validate: 2/10 files (a.avro)"])
        # The next line is due 5 s after the last one, however many updates.
        for _ in range(3):
            self.clock.now += 1.0
            progress.update(2)
        self.assertEqual(len(self.lines()), 1)
        self.clock.now += 2.0
        progress.update()
        self.assertEqual(self.lines(), ["validate: 2/10 files (a.avro)", "validate: 9/10 files"])
        self.assertEqual(progress.count, 9)

    def testWithoutTotal(self):
        with Progress("consume", unit="alert", stream=self.stream, interval=0.0) as progress:
            progress.update(3)
            progress.update(note="partition 2")
        self.assertEqual(self.lines(), ["consume: 3 alerts", "consume: 4 alerts (partition 2)"])
        self.assertIsNone(progress.total)

    def testDefaultUnitAndEmptyNote(self):
        progress = Progress("work", total=2, stream=self.stream, interval=0.0)
        progress.update(note="")
        self.assertEqual(self.lines(), ["work: 1/2 its"])

    def testCloseGivesTheFinalCount(self):
        """A log that showed progress ends with the final count, once."""
        progress = Progress("validate", total=10, unit="file", stream=self.stream, interval=5.0)
        self.clock.now += 5.0
        progress.update(4)
        progress.update(6)
        progress.close()
        progress.close()
        self.assertEqual(self.lines(), ["validate: 4/10 files", "validate: 10/10 files"])
        # Already up to date: nothing more.
        progress = Progress("validate", total=2, unit="file", stream=self.stream, interval=0.0)
        progress.update(2)
        progress.close()
        self.assertEqual(self.lines()[2:], ["validate: 2/2 files"])

    def testCloseAddsNothing(self):
        """A run too short to show a line stays silent on closing, and closing twice is harmless."""
        progress = Progress("validate", total=3, unit="file", stream=self.stream, interval=5.0)
        progress.update(3)
        progress.close()
        progress.close()
        self.assertEqual(self.stream.getvalue(), "")
        self.assertEqual(progress.count, 3)

    def testDefaultStreamIsStderr(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            progress = Progress("validate", total=1, unit="file", interval=0.0)
            progress.update()
        self.assertIs(progress.stream, err)
        self.assertEqual(err.getvalue(), "validate: 1/1 files\n")

    def testStreamsThatAreNotTerminals(self):
        """No ``isatty``, or a closed stream, is not a terminal: line mode, no error."""
        plain = NotAStream()
        progress = Progress("validate", stream=plain, interval=0.0)
        progress.update()
        self.assertEqual("".join(plain.parts), "validate: 1 its\n")
        closed = io.StringIO()
        closed.close()
        with self.assertRaises(ValueError):
            closed.isatty()
        progress = Progress("validate", stream=closed, interval=3600.0)
        progress.update()
        self.assertEqual(progress.count, 1)


class TerminalModeTestCase(lsst.utils.tests.TestCase):
    """On a terminal, a tqdm bar when tqdm is installed, lines otherwise."""

    def testBar(self):
        stream = Terminal()
        with Progress("validate", total=5, unit="file", stream=stream) as progress:
            shown = stream.getvalue()
            progress.update(3, note="x.avro")
        self.assertEqual(progress.count, 3)
        # tqdm draws the bar at once: description, count, total, unit.
        self.assertIn("validate:", shown)
        self.assertIn("0/5", shown)
        self.assertIn(" files/s", shown)
        output = stream.getvalue()
        # Never the plain lines; the bar is erased at the end (leave=False).
        self.assertNotIn("\n", output)
        self.assertTrue(output.endswith("\r"), repr(output[-20:]))
        self.assertEqual(output.rsplit("\r", 2)[-2].strip(), "")

    def testBarUnitSpacing(self):
        """The bar's count and unit are separated ("7 alerts", not "7alerts")."""
        stream = Terminal()
        progress = Progress("consume", unit="alert", stream=stream)
        self.assertIn("0 alerts", stream.getvalue())
        progress.close()

    def testTerminalWithoutTqdm(self):
        stream = Terminal()
        with mock.patch.dict(sys.modules, {"tqdm": None}):
            progress = Progress("validate", total=2, unit="file", stream=stream, interval=0.0)
        progress.update()
        progress.close()
        self.assertEqual(stream.getvalue(), "validate: 1/2 files\n")


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
