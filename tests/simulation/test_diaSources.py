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

"""simulation.diaSources: what is measured on a detection, from given truths."""

import unittest

import lsst.utils.tests
import numpy as np

from lsst.ap.alerts.simulation.diaSources import fillAllFields, sourceColumns
from lsst.ap.alerts.simulation.survey import PIXEL_SCALE


def measure(seed=1, n=2000, sso=0, bbox=(400, 300)):
    rng = np.random.default_rng(seed)
    truth = np.random.default_rng(seed + 100)
    x = truth.uniform(0, bbox[0] - 1, n)
    y = truth.uniform(0, bbox[1] - 1, n)
    isSso = np.arange(n) >= n - sso
    rate = np.where(isSso, truth.uniform(0.05, 2.0, n), 0.0)
    bearing = np.where(isSso, truth.uniform(-180, 180, n), 0.0)
    flux = truth.choice([-1.0, 1.0], n) * truth.uniform(200, 5e4, n)
    data, nulls = sourceColumns(
        rng,
        n=n,
        diaSourceId=np.arange(n) + 1,
        diaObjectId=np.arange(n) + 1,
        visit=np.full(n, 7),
        detector=np.full(n, 94),
        band=np.full(n, 2),
        mjd=np.full(n, 61000.2),
        ra=truth.uniform(0, 1, n),
        dec=truth.uniform(0, 1, n),
        x=x,
        y=y,
        flux=flux,
        templateFlux=truth.uniform(0, 2e5, n),
        seeing=np.full(n, 1.0),
        exposureTime=30.0,
        bbox=bbox,
        isSso=isSso,
        motion=(rate, bearing),
    )
    return data, nulls, (x, y, rate, bearing, isSso)


class SourceColumnsTestCase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data, cls.nulls, (cls.x, cls.y, cls.rate, cls.bearing, cls.isSso) = measure(sso=100)

    def testDetectionThreshold(self):
        d = self.data
        measured = np.isfinite(d["psfFlux"])
        self.assertTrue((np.abs(d["psfFlux"][measured]) >= 4.999 * d["psfFluxErr"][measured]).all())
        self.assertTrue((d["snr"] >= 5).all())
        np.testing.assert_array_equal(~measured, d["psfFlux_flag_noGoodPixels"])
        np.testing.assert_array_equal(d["isNegative"], d["psfFlux"] < 0)

    def testFlagsFollowPositions(self):
        d = self.data
        edge = np.minimum.reduce([self.x, self.y, 399 - self.x, 299 - self.y])
        np.testing.assert_array_equal(d["psfFlux_flag_edge"], edge < 5)
        np.testing.assert_array_equal(d["pixelFlags_edge"], edge < d["bboxSize"] / 2)
        self.assertTrue(d["psfFlux_flag"][edge < 5].all())
        self.assertTrue(d["pixelFlags_interpolated"][d["pixelFlags_saturated"] | d["pixelFlags_cr"]].all())
        for name in ("cr", "saturated", "suspect", "streak", "interpolated"):
            self.assertFalse((d[f"pixelFlags_{name}Center"] & ~d[f"pixelFlags_{name}"]).any(), name)

    def testFits(self):
        """Dipole and trail fits only where attempted; solar-system trails follow the motion."""
        d, sso = self.data, self.isSso
        notDipole = ~d["dipoleFitAttempted"]
        self.assertTrue(np.isnan(d["dipoleMeanFlux"][notDipole]).all())
        self.assertFalse(d["dipoleFitAttempted"][sso].any())
        self.assertFalse((d["isDipole"] & notDipole).any())
        np.testing.assert_array_equal(self.nulls["trailAlgorithm"], d["trailNdata"] == 0)
        self.assertTrue((d["trailNdata"][sso] > 0).all())
        expected = self.rate[sso] * 30.0 / 86400.0 * 3600.0  # arcsec in the exposure
        noise = 0.5 * d["xErr"][sso] * PIXEL_SCALE
        self.assertTrue((np.abs(d["trailLength"][sso] - expected) < 0.1 + 5 * noise).all())
        angle = (d["trailAngle"][sso] - self.bearing[sso] + 180) % 360 - 180
        self.assertLess(np.abs(angle).max(), 12.0)

    def testSameSeedSameColumns(self):
        again, _, _ = measure(sso=100)
        for name, values in self.data.items():
            np.testing.assert_array_equal(values, again[name], err_msg=name)

    def testFillAllFields(self):
        data, nulls, _ = measure(n=6, sso=1)
        rng = np.random.default_rng(0)
        fillAllFields(rng, data, nulls, 61000.2)
        self.assertTrue(data["isDipole"][0] and np.isfinite(data["dipoleLength"][0]))
        self.assertFalse(nulls["trailAlgorithm"][1])
        self.assertEqual(data["parentDiaSourceId"][2], data["diaSourceId"][0])
        self.assertFalse(nulls["parentDiaSourceId"][2])
        self.assertTrue(np.isfinite(data["timeWithdrawnMjdTai"][-1]))
        self.assertTrue(np.isnan(data["timeWithdrawnMjdTai"][:-1]).all())


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
