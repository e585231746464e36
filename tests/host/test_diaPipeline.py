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

"""The package as ap_pipe runs it: upstream's DiaPipelineTask, retargeted.

Several visits of one detector go through upstream's LoadDiaCatalogsTask
and DiaPipelineTask (real association, DiaObject calculation, forced
photometry from meas_base, a fresh SQLite APDB from lsst-dax-apdb) with
``doPackageAlerts``, ``alertPackager.useAveragePsf = True`` as ap_pipe sets
it and the package's ``configs/retargetAlertPackager.py``.  The oracle is
upstream's own PackageAlertsTask (installed, not copied) run by the same
host on the same inputs in another APDB: the alerts must be the same, field
by field and cutout pixel by pixel, except the two values DiaPipelineTask
stamps with the wall clock when it writes the APDB
(``diaObject.validityStartMjdTai``; ``timeProcessedMjdTai`` of the forced
sources it measures), which differ between the two runs by construction and
are checked to lie within each run's own time instead.

The import-time stand-ins this needs are explained in ``conftest.py``.
"""

import glob
import importlib.resources
import io
import math
import os
import tempfile
import unittest

import lsst.utils.tests
from hostRequirement import requireHost

RETARGET = str(importlib.resources.files("lsst.ap.alerts") / "configs" / "retargetAlertPackager.py")
CUTOUTS = ("cutoutDifference", "cutoutScience", "cutoutTemplate")
N_VISITS = 3
# diaSourceId of DiaSource k of visit i: (FIRST_ID + i) * 1000 + k (hostVisits).
FIRST_ID = 700001


def setUpModule():
    requireHost()
    lsst.utils.tests.init()


def _mjdNow():
    import astropy.time

    return astropy.time.Time.now().tai.mjd


def readAlerts(alertDir):
    """{visit file name: {diaSourceId: alert}} of the Avro files in ``alertDir``."""
    import fastavro

    files = {}
    for path in sorted(glob.glob(os.path.join(alertDir, "*.avro"))):
        with open(path, "rb") as stream:
            alerts = fastavro.reader(stream)
            files[os.path.basename(path)] = {a["diaSource"]["diaSourceId"]: a for a in alerts}
    return files


def runVisits(workdir, retarget, nVisits=N_VISITS, ephemerides=None, **overrides):
    """Run the visits through the host.

    ``ephemerides(visits, index, diaSourceTable)``, if given, makes each
    visit's ``solarSystemObjectTable``.  Returns (alerts, (start, end) MJD
    TAI, task, apdb config, DiaPipelineTask's result per visit).
    """
    from hostVisits import HostVisits, makeApdb, makeDiaPipelineTask, runVisit

    os.makedirs(workdir)
    apdbConfig = makeApdb(workdir)
    task = makeDiaPipelineTask(apdbConfig, os.path.join(workdir, "alerts"), retarget, **overrides)
    visits = HostVisits(nVisits=nVisits)
    start = _mjdNow()
    results = []
    for index in range(nVisits):
        diaSources = visits.diaSourceTable(index)
        table = None if ephemerides is None else ephemerides(visits, index, diaSources)
        results.append(runVisit(visits, index, task, apdbConfig, diaSources, table))
    return readAlerts(os.path.join(workdir, "alerts")), (start, _mjdNow()), task, apdbConfig, results


def _comparable(value):
    """NaN made comparable (NaN != NaN); cutouts left out (compared by pixels)."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k not in CUTOUTS}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def withoutWallClock(alert, window, testCase):
    """``alert`` without the host's wall-clock stamps, after checking them against ``window``."""
    start, end = window
    stamps = []
    if alert["diaObject"] is not None:
        stamps.append(alert["diaObject"].pop("validityStartMjdTai"))
    for forced in alert["prvDiaForcedSources"] or []:
        stamp = forced.pop("timeProcessedMjdTai")
        # Forced sources of earlier visits carry that visit's processing time.
        if stamp >= start:
            stamps.append(stamp)
    for stamp in stamps:
        testCase.assertTrue(start - 1e-6 <= stamp <= end + 1e-6, (stamp, window))
    return _comparable(alert)


def cutoutArrays(data):
    """{HDU name: pixel array} of a FITS cutout."""
    from astropy.io import fits

    with fits.open(io.BytesIO(data)) as hdus:
        return {hdu.name: hdu.data.copy() for hdu in hdus if hdu.data is not None}


class OracleComparison:
    """Both packagers through the host on the same visits; the checks both share."""

    nVisits = N_VISITS
    overrides = {}
    ephemerides = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        for name, retarget in (("upstream", None), ("ours", RETARGET)):
            workdir = os.path.join(cls.tmp.name, name)
            setattr(cls, name, runVisits(workdir, retarget, cls.nVisits, cls.ephemerides, **cls.overrides))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def testSameAlerts(self):
        ours, upstream = self.ours[0], self.upstream[0]
        self.assertEqual(len(ours), self.nVisits)
        self.assertEqual(sorted(ours), sorted(upstream))
        for name in ours:
            self.assertGreater(len(ours[name]), 10)
            self.assertEqual(sorted(ours[name]), sorted(upstream[name]))
            for diaSourceId, alert in ours[name].items():
                with self.subTest(file=name, diaSourceId=diaSourceId):
                    self.assertEqual(
                        withoutWallClock(alert, self.ours[1], self),
                        withoutWallClock(upstream[name][diaSourceId], self.upstream[1], self),
                    )

    def testSameCutoutPixels(self):
        import numpy as np

        compared = 0
        for name, alerts in self.ours[0].items():
            for diaSourceId, alert in alerts.items():
                for cutout in CUTOUTS:
                    theirs = self.upstream[0][name][diaSourceId][cutout]
                    self.assertEqual(alert[cutout] is None, theirs is None)
                    if theirs is None:
                        continue
                    ourArrays, theirArrays = cutoutArrays(alert[cutout]), cutoutArrays(theirs)
                    self.assertIn("PRIMARY", theirArrays)
                    for hdu, pixels in theirArrays.items():
                        with self.subTest(diaSourceId=diaSourceId, cutout=cutout, hdu=hdu):
                            np.testing.assert_array_equal(ourArrays[hdu], pixels)
                    compared += 1
        self.assertGreater(compared, 30 * self.nVisits)


class DiaPipelineOracleTestCase(OracleComparison, lsst.utils.tests.TestCase):
    """The retargeted packager against upstream's, both inside DiaPipelineTask."""

    def testRetargeted(self):
        from lsst.ap.association import PackageAlertsTask as UpstreamTask

        from lsst.ap.alerts import PackageAlertsTask

        self.assertIsInstance(self.ours[2].alertPackager, PackageAlertsTask)
        self.assertIsInstance(self.upstream[2].alertPackager, UpstreamTask)
        self.assertTrue(self.ours[2].alertPackager.config.useAveragePsf)

    def testScenario(self):
        """First visit with empty preloads; later ones with histories and forced sources."""
        files = list(self.ours[0].values())
        first = files[0].values()
        self.assertTrue(all(not a["prvDiaSources"] and not a["prvDiaForcedSources"] for a in first))
        for later in files[1:]:
            self.assertTrue(any(a["prvDiaSources"] for a in later.values()))
            self.assertTrue(any(a["prvDiaForcedSources"] for a in later.values()))


class NoForcedMeasurementTestCase(OracleComparison, lsst.utils.tests.TestCase):
    """``doRunForcedMeasurement = False``: the host hands over an empty forced-source table."""

    nVisits = 2
    overrides = {"doRunForcedMeasurement": False}

    def testNoForcedSources(self):
        for alerts in self.ours[0].values():
            self.assertTrue(all(not a["prvDiaForcedSources"] for a in alerts.values()))
        later = list(self.ours[0].values())[-1]
        self.assertTrue(any(a["prvDiaSources"] for a in later.values()))


class NoSolarSystemObjectsTestCase(OracleComparison, lsst.utils.tests.TestCase):
    """Solar-system association on (ap_pipe's default), no known object in the
    field: the host hands over an empty ``ssSrc`` with the SSSource columns."""

    nVisits = 2
    overrides = {"doSolarSystemAssociation": True}

    def testNoSolarSystemData(self):
        for alerts in self.ours[0].values():
            self.assertTrue(all(a["ssSource"] is None and a["mpc_orbits"] is None for a in alerts.values()))


def _knownObjectsOn(visits, index, diaSourceTable):
    """Two known objects exactly on two DiaSources of the visit (others each visit)."""
    from hostSolarSystem import ephemerides

    chosen = diaSourceTable.iloc[[2 * index, 2 * index + 1]]
    return ephemerides(chosen, visits.midpoint(index), seed=index)


class KnownSolarSystemObjectsTestCase(OracleComparison, lsst.utils.tests.TestCase):
    """Solar-system association with known objects on DiaSources of each visit.

    The ephemerides are synthesized in Sorcha's layout (``hostSolarSystem``):
    upstream's real SolarSystemAssociationTask pairs them with the DiaSources,
    and DiaPipelineTask hands the packager its ``ssSrc`` (SSSource columns
    plus the ephemerides' ``MPCORB_`` columns).  Upstream's packager in this
    version packages those DiaSources (``diaObjectId`` 0) too, with
    ``ssSource`` and ``mpc_orbits``: the alerts must be the same.
    """

    nVisits = 2
    overrides = {"doSolarSystemAssociation": True}
    ephemerides = staticmethod(_knownObjectsOn)

    def _solarSystemAlerts(self, result):
        alerts, results = result[0], result[4]
        self.assertEqual(len(alerts), len(results))
        found = []
        for (name, byId), visitResult in zip(sorted(alerts.items()), results, strict=True):
            ssAlerts = {i: a for i, a in byId.items() if a["ssSource"] is not None}
            found.append((name, ssAlerts, visitResult.associatedSsSources))
        return found

    def testAssociated(self):
        """Exactly the chosen DiaSources are solar-system alerts, with no DiaObject."""
        for index, (_, ssAlerts, hostSsSources) in enumerate(self._solarSystemAlerts(self.ours)):
            expected = {(FIRST_ID + index) * 1000 + k for k in (2 * index, 2 * index + 1)}
            self.assertEqual(set(ssAlerts), expected)
            self.assertEqual(set(hostSsSources["diaSourceId"]), expected)
            for alert in ssAlerts.values():
                self.assertIsNone(alert["diaObject"])
                self.assertEqual(alert["diaSource"]["diaObjectId"], 0)
                self.assertNotEqual(alert["diaSource"]["ssObjectId"], 0)
                self.assertFalse(alert["prvDiaSources"])

    def testSsSourceEqualsHost(self):
        """Every ssSource field equals the host's SSSource row of that DiaSource."""
        import numpy as np

        for _, ssAlerts, hostSsSources in self._solarSystemAlerts(self.ours):
            rows = hostSsSources.set_index("diaSourceId", drop=False)
            for diaSourceId, alert in ssAlerts.items():
                row = rows.loc[diaSourceId]
                self.assertEqual(set(alert["ssSource"]), set(rows.columns))
                for field, value in alert["ssSource"].items():
                    with self.subTest(diaSourceId=diaSourceId, field=field):
                        hostValue = row[field]
                        if isinstance(hostValue, (float, np.floating)):
                            # Avro float fields hold float32; the host's columns are float32 there.
                            self.assertEqual(value, float(np.asarray(hostValue, dtype=type(hostValue))))
                        else:
                            self.assertEqual(value, hostValue)

    def testMpcOrbitsFromEphemerides(self):
        """mpc_orbits carries the ephemerides' MPCORB_ values of the object."""
        from hostSolarSystem import MPC_ORBIT_COLUMNS
        from hostVisits import HostVisits

        visits = HostVisits(nVisits=self.nVisits)
        for index, (_, ssAlerts, hostSsSources) in enumerate(self._solarSystemAlerts(self.ours)):
            table = _knownObjectsOn(visits, index, visits.diaSourceTable(index))
            byDesignation = {row["ObjID"]: row for row in table}
            rows = hostSsSources.set_index("diaSourceId")
            for diaSourceId, alert in ssAlerts.items():
                ephemeris = byDesignation[rows.loc[diaSourceId, "designation"]]
                orbit = alert["mpc_orbits"]
                self.assertIsNotNone(orbit)
                self.assertEqual(orbit["id"], 0)
                for name, kind in MPC_ORBIT_COLUMNS.items():
                    # The host overwrites these (timestamps 0, orbit type -1).
                    if name in ("created_at", "updated_at", "fitting_datetime", "orbit_type_int"):
                        continue
                    with self.subTest(diaSourceId=diaSourceId, field=name):
                        self.assertEqual(orbit[name], kind(ephemeris["MPCORB_" + name]))


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
