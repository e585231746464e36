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

"""`lsst.ap.alerts.tools.pipetaskCommands`: the command lines the demos print
and run, and the environment their subprocesses get."""

import os
import subprocess
import sys
import unittest
from unittest import mock

import lsst.utils.tests

from lsst.ap.alerts.tools import pipetaskCommands
from lsst.ap.alerts.tools.pipetaskCommands import shellCommand, subprocessEnvironment, venvTool

BIN = os.path.dirname(sys.executable)
# The directory holding lsst/ap/alerts/ of the package under test.
SOURCE_ROOT = os.path.abspath(os.path.join(os.path.dirname(pipetaskCommands.__file__), *[".."] * 4))


@unittest.skipUnless(
    os.path.exists(os.path.join(BIN, "ap-alerts")), "ap-alerts is not installed beside python"
)
class VenvToolTestCase(lsst.utils.tests.TestCase):
    def testOnPathByName(self):
        with mock.patch.dict(os.environ, {"PATH": BIN}):
            self.assertEqual(venvTool("ap-alerts"), "ap-alerts")

    def testNotOnPathByItsPath(self):
        with mock.patch.dict(os.environ, {"PATH": "/nonexistent"}):
            path = venvTool("ap-alerts")
        self.assertTrue(os.path.samefile(path, os.path.join(BIN, "ap-alerts")), path)

    def testUnknownToolKeepsItsName(self):
        with mock.patch.dict(os.environ, {"PATH": "/nonexistent"}):
            self.assertEqual(venvTool("no-such-tool-here"), "no-such-tool-here")


class ShellCommandTestCase(lsst.utils.tests.TestCase):
    def testQueryInDoubleQuotes(self):
        self.assertEqual(
            shellCommand(["pipetask", "-d", "instrument='DemoCam' AND visit=1"]),
            "pipetask -d \"instrument='DemoCam' AND visit=1\"",
        )


class SubprocessEnvironmentTestCase(lsst.utils.tests.TestCase):
    def testSubprocessImportsThisPackage(self):
        """A subprocess started with only this environment's PYTHONPATH (none
        inherited) imports the same lsst.ap.alerts as this process."""
        with mock.patch.dict(os.environ, {"PYTHONPATH": ""}):
            env = subprocessEnvironment()
        found = subprocess.run(
            [sys.executable, "-c", "import os, lsst.ap.alerts as a; print(os.path.dirname(a.__file__))"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self.assertTrue(os.path.samefile(found, os.path.join(SOURCE_ROOT, "lsst", "ap", "alerts")), found)

    def testSourceRootFirstOnPythonPath(self):
        with mock.patch.dict(os.environ, {"PYTHONPATH": "/elsewhere"}):
            env = subprocessEnvironment()
        paths = env["PYTHONPATH"].split(os.pathsep)
        self.assertTrue(os.path.samefile(paths[0], SOURCE_ROOT), paths)
        self.assertIn("/elsewhere", paths)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
