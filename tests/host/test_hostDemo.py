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

"""``ap-alerts demo --host``: the demo visit through upstream's DiaPipelineTask under pipetask.

``pipelines/ApAssociationHost.yaml`` (upstream's LoadDiaCatalogsTask and
DiaPipelineTask, alertPackager retargeted) runs with ``pipetask run`` on the
demo's butler; its alerts are compared with the plain demo's
(``PackageAlerts.yaml``) on the same simulated visit in the same repository.
Where the two paths agree the alerts are equal: every DiaSource field, the
DiaSource history, the earlier forced sources and every cutout byte.  What
DiaPipelineTask computes itself differs by design (``doc/host.md``): the
DiaObject summaries, this visit's forced photometry, and the solar-system
sources, which need ephemerides the demo does not make.

``pipetask`` runs in a subprocess, which gets the import-time stand-ins of
``conftest.py`` through ``AP_ALERTS_HOST_STANDINS`` on its ``PYTHONPATH``
(`lsst.ap.alerts.tools.hostDemo.hostEnvironment`).
"""

import glob
import math
import os
import re
import subprocess
import sys
import tempfile
import unittest

import lsst.utils.tests
from hostRequirement import requireHost

PARAMETERS = dict(nSources=30, nDetectors=1, jobs=1, historyDepth=5, imageSize=400, progress=False)
# DiaObject fields DiaPipelineTask's DiaObjectCalculationTask computes from
# the sources (the simulation has its own values) and the APDB write stamp.
RECOMPUTED = re.compile(
    r"^(ra|dec|ra_dec_Cov|firstDiaSourceMjdTai|lastDiaSourceMjdTai|validityStartMjdTai"
    r"|[ugrizy]_(psfFlux|scienceFlux|fpFlux)\w*)$"
)


def setUpModule():
    requireHost()
    lsst.utils.tests.init()


def readAlerts(pattern):
    import fastavro

    (path,) = glob.glob(pattern)
    with open(path, "rb") as stream:
        return {a["diaSource"]["diaSourceId"]: a for a in fastavro.reader(stream)}


def _comparable(value):
    """NaN made comparable (NaN != NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    return value


def _byId(records, key):
    return {r[key]: _comparable(r) for r in records or []}


class HostDemoTestCase(lsst.utils.tests.TestCase):
    """The host pipeline's alerts against the plain demo's."""

    @classmethod
    def setUpClass(cls):
        from lsst.ap.alerts.tools.demo import runDemo
        from lsst.ap.alerts.tools.hostDemo import runHostDemo

        cls.tmp = tempfile.TemporaryDirectory()
        cls.host = runHostDemo(cls.tmp.name, **PARAMETERS)
        cls.plain = runDemo(cls.tmp.name, **PARAMETERS)
        cls.hostAlerts = readAlerts(cls.host.alertFiles[0])
        cls.plainAlerts = readAlerts(cls.plain.alertFiles[0])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def testSameSourcesButSolarSystem(self):
        solarSystem = {i for i, a in self.plainAlerts.items() if a["diaSource"]["ssObjectId"]}
        self.assertTrue(solarSystem)
        self.assertEqual(set(self.hostAlerts), set(self.plainAlerts) - solarSystem)
        self.assertEqual(self.host.nAlerts, len(self.hostAlerts))

    def testEqualWhereThePathsAgree(self):
        for diaSourceId, alert in self.hostAlerts.items():
            plain = self.plainAlerts[diaSourceId]
            with self.subTest(diaSourceId=diaSourceId):
                self.assertEqual(_comparable(alert["diaSource"]), _comparable(plain["diaSource"]))
                self.assertEqual(
                    _byId(alert["prvDiaSources"], "diaSourceId"), _byId(plain["prvDiaSources"], "diaSourceId")
                )
                # The plain demo's forced sources include this visit's
                # (simulated); DiaPipelineTask measures its own.
                earlier = [r for r in plain["prvDiaForcedSources"] or [] if r["visit"] != self.plain.visit]
                self.assertEqual(
                    _byId(alert["prvDiaForcedSources"], "diaForcedSourceId"),
                    _byId(earlier, "diaForcedSourceId"),
                )
                for cutout in ("cutoutDifference", "cutoutScience", "cutoutTemplate"):
                    self.assertIsNotNone(alert[cutout])
                    self.assertEqual(alert[cutout], plain[cutout])

    def testDiaObjectsDifferOnlyInRecomputedFields(self):
        differing = set()
        for diaSourceId, alert in self.hostAlerts.items():
            plain = _comparable(self.plainAlerts[diaSourceId]["diaObject"])
            ours = _comparable(alert["diaObject"])
            self.assertEqual(ours["diaObjectId"], plain["diaObjectId"])
            self.assertEqual(ours["nDiaSources"], plain["nDiaSources"])
            differing |= {f for f in ours if ours[f] != plain[f]}
        self.assertIn("validityStartMjdTai", differing)
        self.assertEqual({f for f in differing if not RECOMPUTED.match(f)}, set())

    def testRetargetedInThePipeline(self):
        from lsst.daf.butler import Butler

        from lsst.ap.alerts import PackageAlertsTask

        with Butler.from_config(self.host.repo) as butler:
            config = butler.get("associateApdb_config", collections=self.host.outputRun)
        self.assertIs(config.alertPackager.target, PackageAlertsTask)
        self.assertTrue(config.alertPackager.useAveragePsf)
        self.assertTrue(config.doPackageAlerts)


class CliTestCase(lsst.utils.tests.TestCase):
    """``ap-alerts demo --host`` without the host: a clear error, nothing made."""

    def testMissingHost(self):
        with tempfile.TemporaryDirectory() as tmp:
            workdir = os.path.join(tmp, "demo")
            env = dict(os.environ, AP_ALERTS_HOST_STANDINS="")
            # Without the stand-ins ap_association cannot import here.
            result = subprocess.run(
                [sys.executable, "-m", "lsst.ap.alerts", "demo", "--host", "--workdir", workdir],
                env=env,
                capture_output=True,
                text=True,
            )
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertIn("--host runs upstream's DiaPipelineTask", result.stderr)
            self.assertIn("lsst.ap.association", result.stderr)
            self.assertFalse(os.path.exists(workdir))


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
