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

"""simulation.visit: catalogs and exposures of one visit, consistent with each other."""

import unittest

import lsst.utils.tests
import numpy as np
import pandas as pd

from lsst.ap.alerts import simulation as sim


class SimulatedVisitTestCase(lsst.utils.tests.TestCase):
    def testConsistent(self):
        visit = sim.makeSimulatedVisit(80, 5, seed=9, size=(300, 260), fractionSolarSystem=0.1)
        src = visit.diaSourceCat
        wcs = visit.diffIm.getWcs()
        x, y = wcs.skyToPixelArray(src["ra"].to_numpy(float), src["dec"].to_numpy(float), degrees=True)
        np.testing.assert_allclose(x, src["x"], atol=1e-3)
        np.testing.assert_allclose(y, src["y"], atol=1e-3)
        bbox = visit.diffIm.getBBox()
        self.assertEqual((bbox.getWidth(), bbox.getHeight()), (300, 260))
        self.assertTrue(((x >= 0) & (x <= 299) & (y >= 0) & (y <= 259)).all())
        self.assertEqual(visit.diffIm.visitInfo.id, int(src["visit"].iloc[0]))
        self.assertEqual(visit.diffIm.detector.getId(), int(src["detector"].iloc[0]))
        self.assertEqual(visit.diffIm.filter.bandLabel, src["band"].iloc[0])
        self.assertAlmostEqual(
            visit.diffIm.visitInfo.date.toAstropy().tai.mjd, src["midpointMjdTai"].iloc[0], places=6
        )
        self.assertEqual(len(visit.ssSrc), 8)
        # The brightest positive transient is visible on the difference image.
        row = src[src["psfFlux"] > 0].sort_values("psfFlux").iloc[-1]
        ix = round(row["x"]) - bbox.getMinX()
        iy = round(row["y"]) - bbox.getMinY()
        peak = visit.diffIm.image.array[iy, ix]
        self.assertGreater(peak, 3 * np.sqrt(visit.diffIm.variance.array[iy, ix]))

    def testSameSeedSameVisit(self):
        """Same seed: the same catalogs and the same pixels; another seed differs."""
        kwargs = {"size": 160, "fractionSolarSystem": 0.1}
        first = sim.makeSimulatedVisit(30, 3, seed=4, **kwargs)
        again = sim.makeSimulatedVisit(30, 3, seed=4, **kwargs)
        for name in ("diaSourceCat", "diaObjectCat", "diaSrcHistory", "diaForcedSources", "ssSrc"):
            pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name))
        for name in ("diffIm", "calexp", "template"):
            for plane in ("image", "variance", "mask"):
                np.testing.assert_array_equal(
                    getattr(getattr(first, name), plane).array, getattr(getattr(again, name), plane).array
                )
        other = sim.makeSimulatedVisit(30, 3, seed=5, **kwargs)
        self.assertFalse(np.array_equal(other.diffIm.image.array, first.diffIm.image.array))


class RunArgumentsTestCase(lsst.utils.tests.TestCase):
    def testNamesAreRunsParameters(self):
        import inspect

        from lsst.ap.alerts import PackageAlertsTask

        parameters = list(inspect.signature(PackageAlertsTask.run).parameters)[1 : 1 + len(sim.RUN_ARGUMENTS)]
        self.assertEqual(list(sim.RUN_ARGUMENTS), parameters)
        visit = sim.makeSimulatedVisit(3, 1, seed=2, size=100)
        arguments = sim.runArguments(visit, template=None)
        self.assertIsNone(arguments["template"])
        self.assertIs(arguments["diffIm"], visit.diffIm)
        with self.assertRaises(TypeError):
            sim.runArguments(visit, templet=None)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
