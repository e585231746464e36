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

"""simulation.exposures: difference, science and template exposures through the afw API."""

import unittest

import lsst.utils.tests
import numpy as np

from lsst.ap.alerts import simulation as sim


class ExposureTestCase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sources = {
            "x": np.array([100.3, 300.0, 250.0]),
            "y": np.array([120.0, 290.7, 60.0]),
            "flux": np.array([5e4, -3e4, 2e4]),
            "templateFlux": np.array([0.0, 8e4, 1e5]),
        }
        cls.diffIm, cls.calexp, cls.template = sim.makeVisitExposures(
            seed=11,
            width=400,
            height=380,
            sources=cls.sources,
            nStars=0,
            band="g",
            visit=2025121500042,
            detector=10,
            midpointMjdTai=61024.1,
            boresightRotAngle=30.0,
        )

    def testMetadata(self):
        calibs = set()
        for exposure in (self.diffIm, self.calexp, self.template):
            self.assertEqual(exposure.getBBox().getWidth(), 400)
            self.assertEqual(exposure.getBBox().getHeight(), 380)
            self.assertEqual(exposure.image.array.dtype, np.float32)
            calib = exposure.getPhotoCalib().getCalibrationMean()
            self.assertTrue(0.3 < calib < 1.5)
            calibs.add(calib)
            info = exposure.visitInfo
            self.assertEqual(info.id, 2025121500042)
            self.assertAlmostEqual(info.date.toAstropy().tai.mjd, 61024.1, places=9)
            self.assertEqual(info.exposureTime, 30.0)
            self.assertAlmostEqual(info.boresightRotAngle.asDegrees(), 30.0)
            self.assertEqual(info.observationReason, "wfd")
            self.assertEqual(info.object, "lsst_wfd")
            self.assertEqual(exposure.detector.getId(), 10)
            self.assertEqual(exposure.detector.getName(), "R02_S01")
            self.assertEqual(exposure.filter.bandLabel, "g")
            self.assertIsNotNone(exposure.getWcs())
            self.assertGreater(exposure.psf.computeShape(exposure.psf.getAveragePosition()).getIxx(), 1.0)
        self.assertEqual(len(calibs), 3)

    def testFluxesAndNoise(self):
        """Sources carry their flux in each image's calibration; variance matches noise."""
        wcs = self.diffIm.getWcs()
        for i, (x, y) in enumerate(zip(self.sources["x"], self.sources["y"], strict=True)):
            box = np.s_[int(y) - 12 : int(y) + 13, int(x) - 12 : int(x) + 13]
            for exposure, expected in (
                (self.diffIm, self.sources["flux"][i]),
                (self.template, self.sources["templateFlux"][i]),
                (self.calexp, self.sources["flux"][i] + self.sources["templateFlux"][i]),
            ):
                calib = exposure.getPhotoCalib().getCalibrationMean()
                total = exposure.image.array[box].sum(dtype=float) * calib
                noise = np.sqrt(exposure.variance.array[box].sum(dtype=float)) * calib
                self.assertLess(abs(total - expected), 5 * noise + 1e-3 * abs(expected))
        empty = np.s_[200:260, 20:80]
        for exposure in (self.diffIm, self.calexp, self.template):
            ratio = exposure.image.array[empty].var() / exposure.variance.array[empty].mean()
            self.assertTrue(0.85 < ratio < 1.15, ratio)
        # The same sky position in all three (same WCS).
        self.assertEqual(wcs, self.calexp.getWcs())
        self.assertEqual(wcs, self.template.getWcs())

    def testMasks(self):
        mask = self.diffIm.mask
        bits = mask.getPlaneBitMask
        diffMask = mask.array
        self.assertTrue(diffMask[120, 100] & bits("DETECTED"))
        self.assertTrue(diffMask[291, 300] & bits("DETECTED_NEGATIVE"))
        self.assertTrue((diffMask[0, :] & bits("EDGE")).all())
        self.assertFalse(diffMask[190, 200] & bits("EDGE"))
        sciMask = self.calexp.mask.array
        badColumns = np.flatnonzero((sciMask & bits("BAD")).all(axis=0))
        self.assertEqual(len(badColumns), 1)
        self.assertTrue((diffMask[:, badColumns[0]] & bits("BAD")).all())
        self.assertTrue((sciMask & bits("CR")).any())
        # Masked pixels are few.
        self.assertLess(((sciMask & bits(["BAD", "CR", "SAT"])) != 0).mean(), 0.02)
        # A 15th-magnitude star saturates its core.
        _, bright, _ = sim.makeVisitExposures(
            seed=1,
            width=300,
            height=300,
            nStars=0,
            sources={"x": [150.0], "y": [150.0], "flux": [1e3], "templateFlux": [10 ** ((31.4 - 15) / 2.5)]},
        )
        saturated = (bright.mask.array & bits("SAT")) != 0
        self.assertTrue(saturated[150, 150] and saturated.sum() < 100)

    def testTemplateOffsetAndDeterminism(self):
        diffIm, calexp, template = sim.makeVisitExposures(
            seed=4, width=200, height=200, nStars=20, templateOffset=(30, -20), xy0=(100, 50)
        )
        self.assertEqual(calexp.getBBox().getMinX(), 100)
        self.assertEqual(template.getBBox().getMinX(), 130)
        self.assertEqual(template.getBBox().getMinY(), 30)
        noData = (diffIm.mask.array & diffIm.mask.getPlaneBitMask("NO_DATA")) != 0
        self.assertTrue(noData[:, :30].all() and noData[180:, :].all())
        self.assertFalse(noData[:180, 30:].any())
        self.assertTrue(np.isnan(diffIm.image.array[noData]).all())
        again = sim.makeVisitExposures(
            seed=4, width=200, height=200, nStars=20, templateOffset=(30, -20), xy0=(100, 50)
        )
        for a, b in zip((diffIm, calexp, template), again, strict=True):
            np.testing.assert_array_equal(a.image.array, b.image.array)
            np.testing.assert_array_equal(a.mask.array, b.mask.array)

    def testSipWcs(self):
        sip = sim.makeVisitWcs(width=4000, height=4000, sip=True, seed=2)
        tan = sim.makeVisitWcs(width=4000, height=4000, sip=False)
        ra, dec = sip.pixelToSkyArray(np.array([0.0, 3999.0]), np.array([0.0, 3999.0]), degrees=True)
        x, y = tan.skyToPixelArray(ra, dec, degrees=True)
        shift = np.hypot(x - [0.0, 3999.0], y - [0.0, 3999.0])
        self.assertTrue(((shift > 0.05) & (shift < 5)).all(), shift)
        scale = tan.getPixelScale(tan.getPixelOrigin()).asArcseconds()
        self.assertAlmostEqual(scale, 0.2, places=6)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
