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

"""The demo's printed commands (`lsst.ap.alerts.tools.demo`); the demo run itself is in test_pipelineTask."""

import os
import sys
import unittest
from unittest import mock

import lsst.utils.tests

from lsst.ap.alerts.tools.demo import shellCommand, venvTool

BIN = os.path.dirname(sys.executable)


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


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
