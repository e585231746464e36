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

"""`lsst.ap.alerts.tools.demo`: the demo run (``pipetask run`` or ``bps submit`` in a
subprocess), its inputs, and the commands it prints."""

import glob
import os
import shutil
import sys
import tempfile
import unittest
from unittest import mock

import lsst.utils.tests
from lsst.daf.butler import Butler

from lsst.ap.alerts.butlerFormatters import ExposureFitsFormatter, makeRepo, readAlertContainer
from lsst.ap.alerts.tools.demo import runDemo
from lsst.ap.alerts.tools.demoInputs import makeDemoInputs

BIN = os.path.dirname(sys.executable)
# Small enough for the demo runs to take well under a minute on 2 cores.
SMALL = {"nSources": 20, "nDetectors": 2, "historyDepth": 5, "imageSize": 256}


class DemoTestCase(lsst.utils.tests.TestCase):
    """runDemo: pipetask in a subprocess, twice on the same work directory."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="test_demo-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def testRunTwice(self):
        first = runDemo(self.tmp, jobs=2, seed=1, progress=False, **SMALL)
        expected = SMALL["nSources"] * SMALL["nDetectors"]
        self.assertFalse(first.reusedInputs)
        self.assertEqual(first.nAlerts, expected)
        self.assertEqual(first.fileAlerts, expected)
        self.assertEqual(len(first.alertFiles), SMALL["nDetectors"])
        for path in first.alertFiles:
            alerts = readAlertContainer(path)
            self.assertEqual(len(alerts), SMALL["nSources"])
            self.assertTrue(alerts[0]["cutoutDifference"].startswith(b"SIMPLE"))
        self.assertAlmostEqual(first.meanBytes, first.totalBytes / expected)

        second = runDemo(self.tmp, jobs=1, seed=1, progress=False, **SMALL)
        self.assertTrue(second.reusedInputs)
        self.assertNotEqual(second.outputRun, first.outputRun)
        self.assertEqual(second.outputCollection, first.outputCollection)
        self.assertEqual(second.nAlerts, expected)
        self.assertEqual(second.totalBytes, first.totalBytes)
        self.assertTrue(all(os.path.isfile(p) for p in first.alertFiles + second.alertFiles))
        self.assertEqual(
            len(glob.glob(os.path.join(self.tmp, "alerts", "*", "*", "*.avro"))), 2 * SMALL["nDetectors"]
        )


class DemoModesTestCase(lsst.utils.tests.TestCase):
    """runDemo with ``bps`` and with ``fresh``."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="test_demo-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def testFreshRefusesAnotherDirectory(self):
        """--fresh deletes only a demo's work directory."""
        keep = os.path.join(self.tmp, "notes.txt")
        with open(keep, "w") as stream:
            stream.write("not a demo")
        with self.assertRaisesRegex(FileExistsError, "refusing to delete"):
            runDemo(self.tmp, fresh=True, progress=False, **SMALL)
        self.assertEqual(os.listdir(self.tmp), ["notes.txt"])

    def testBpsThenFreshPipetask(self):
        """bps submit writes the alerts pipetask writes after --fresh wiped the bps run."""
        small = SMALL | {"nSources": 8, "nDetectors": 1}
        bps = runDemo(self.tmp, jobs=1, seed=5, progress=False, bps=True, **small)
        self.assertIn("submit", bps.command)
        self.assertFalse(bps.reusedInputs)
        self.assertEqual(bps.nAlerts, small["nSources"])
        self.assertEqual(len(bps.alertFiles), 1)
        bpsAlerts = readAlertContainer(bps.alertFiles[0])
        self.assertEqual(len(bpsAlerts), small["nSources"])
        with open(bps.alertFiles[0], "rb") as stream:
            bpsBytes = stream.read()

        pipetask = runDemo(self.tmp, jobs=1, seed=5, progress=False, fresh=True, **small)
        self.assertIn("run", pipetask.command)
        self.assertNotIn("submit", pipetask.command)
        # --fresh wiped the repository: the inputs were simulated again, and the bps run is gone.
        self.assertFalse(pipetask.reusedInputs)
        self.assertFalse(os.path.exists(bps.alertFiles[0]))
        self.assertEqual(pipetask.nAlerts, small["nSources"])
        self.assertEqual(
            [os.path.basename(p) for p in pipetask.alertFiles], [os.path.basename(bps.alertFiles[0])]
        )
        with open(pipetask.alertFiles[0], "rb") as stream:
            self.assertEqual(stream.read(), bpsBytes)


class FailedInputsTestCase(lsst.utils.tests.TestCase):
    """A failed put of the demo inputs leaves neither datasets, files nor the run behind."""

    def testFailedPutLeavesNothing(self):
        with tempfile.TemporaryDirectory() as tmp:
            repo = os.path.join(tmp, "repo")
            makeRepo(repo)
            run = "demo/inputs/failing"
            # The exposure write fails after the catalogs' files are written
            # (the registry rolls back; the datastore leaves those files).
            failing = mock.patch.object(
                ExposureFitsFormatter, "write_local_file", side_effect=OSError("disk full (simulated)")
            )
            with Butler.from_config(repo, writeable=True) as butler:
                with failing, self.assertRaisesRegex(RuntimeError, "Failed to serialize"):
                    makeDemoInputs(
                        butler, run, os.path.join(tmp, "apdb.sqlite3"), seed=2, progress=False, **SMALL
                    )
                self.assertNotIn(run, butler.collections.query("demo/inputs/*"))
            written = [
                os.path.join(d, f)
                for d, _, files in os.walk(repo)
                for f in files
                if f.endswith((".parq", ".fits"))
            ]
            self.assertEqual(written, [])


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
