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

"""Bad input from the host: DiaPipelineTask has written the APDB before it packages.

What the README ("Bad input") promises must hold inside ap_pipe too: an
impossible DiaSource value skips that source (warning naming it, metadata),
its later history row is dropped, and any error of the packager reaches the
caller as upstream's ``PostApdbUpdateError`` (the host wraps everything
raised after its APDB write), with the APDB written and no partial alert
file left.  The import-time stand-ins this needs are explained in
``conftest.py``.
"""

import glob
import importlib.resources
import os
import tempfile
import unittest

import lsst.utils.tests
from hostRequirement import requireHost

RETARGET = str(importlib.resources.files("lsst.ap.alerts") / "configs" / "retargetAlertPackager.py")
BAD_ROW = 1


def setUpModule():
    requireHost()
    lsst.utils.tests.init()


def readAlertIds(path):
    import fastavro

    with open(path, "rb") as stream:
        return [a["diaSource"]["diaSourceId"] for a in fastavro.reader(stream)]


def storedDiaSourceIds(apdbConfig, visits, index):
    """diaSourceIds the APDB holds for visit ``index``'s sky and time."""
    import astropy.time
    from hostVisits import openApdb

    diffIm, calexp, template = visits.exposures(index, visits.diaSourceTable(index))
    region = visits.regionTime(index, calexp).region
    apdb = openApdb(apdbConfig)
    objects = apdb.getDiaObjects(region)
    later = astropy.time.Time(visits.midpoint(index) + 1, format="mjd", scale="tai")
    sources = apdb.getDiaSources(region, objects["diaObjectId"].to_numpy(), later)
    return set(sources["diaSourceId"].to_numpy().tolist())


class ImpossibleValueTestCase(lsst.utils.tests.TestCase):
    """A DiaSource with a negative uncertainty, through two visits."""

    def setUp(self):
        from hostVisits import HostVisits, makeApdb, makeDiaPipelineTask

        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.visits = HostVisits(nVisits=2)
        self.apdbConfig = makeApdb(self.tmp.name)
        self.alertDir = os.path.join(self.tmp.name, "alerts")
        self.task = makeDiaPipelineTask(self.apdbConfig, self.alertDir, RETARGET)

    def testSkippedAfterApdbWrite(self):
        from hostVisits import runVisit

        table = self.visits.diaSourceTable(0)
        table.loc[BAD_ROW, "apFluxErr"] = -5.0
        badId = int(table.loc[BAD_ROW, "diaSourceId"])
        with self.assertLogs(self.task.alertPackager.log.name, level="WARNING") as logs:
            runVisit(self.visits, 0, self.task, self.apdbConfig, diaSourceTable=table)
        self.assertIn(badId, storedDiaSourceIds(self.apdbConfig, self.visits, 0))
        path = os.path.join(self.alertDir, f"{self.visits.visitId(0)}_{self.visits.catalogs.detector}.avro")
        packaged = readAlertIds(path)
        self.assertNotIn(badId, packaged)
        self.assertGreater(len(packaged), 10)
        metadata = self.task.alertPackager.metadata
        self.assertEqual(metadata["alerts_skipped_out_of_domain"], 1)
        self.assertEqual(metadata["alerts_packaged"], len(packaged))
        self.assertTrue(any(str(badId) in line and "apFluxErr" in line for line in logs.output), logs.output)

        # The next visit preloads the bad source as history: that row is
        # dropped, its DiaObject's new alert still goes out.
        runVisit(self.visits, 1, self.task, self.apdbConfig)
        self.assertGreaterEqual(self.task.alertPackager.metadata["alert_history_rows_dropped"], 1)
        path = os.path.join(self.alertDir, f"{self.visits.visitId(1)}_{self.visits.catalogs.detector}.avro")
        self.assertEqual(len(readAlertIds(path)), self.task.alertPackager.metadata["alerts_packaged"])


class PostApdbErrorTestCase(lsst.utils.tests.TestCase):
    """The packager fails (alerts cannot be written) after the host wrote the APDB."""

    def testWrapped(self):
        from hostVisits import HostVisits, makeApdb, makeDiaPipelineTask, runVisit
        from lsst.ap.association.diaPipe import PostApdbUpdateError

        with tempfile.TemporaryDirectory() as tmp:
            notADirectory = os.path.join(tmp, "alerts")
            visits = HostVisits(nVisits=1)
            apdbConfig = makeApdb(tmp)
            task = makeDiaPipelineTask(apdbConfig, notADirectory, RETARGET)
            # The packager made the directory when constructed (as upstream's
            # does); a file in its place makes writing fail in run (as root,
            # permissions would not).
            os.rmdir(notADirectory)
            with open(notADirectory, "w"):
                pass
            with self.assertRaises(PostApdbUpdateError) as raised:
                runVisit(visits, 0, task, apdbConfig)
            self.assertIsInstance(raised.exception.__cause__, OSError)
            self.assertIn("cannot be retried", str(raised.exception))
            expected = set(visits.diaSourceTable(0)["diaSourceId"].tolist())
            self.assertTrue(storedDiaSourceIds(apdbConfig, visits, 0) & expected)
            self.assertEqual(sorted(os.listdir(tmp)), ["alerts", "apdb-config.yaml", "apdb.sqlite3"])
            self.assertEqual(os.path.getsize(notADirectory), 0)
            self.assertEqual(glob.glob(os.path.join(tmp, "**", "*.avro"), recursive=True), [])


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
