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

"""Cutout pixels (`lsst.ap.alerts.cutouts.pixels`) against the image API's own getCutout and calibrateImage.

With real afw these are afw's: the fast path must give afw's pixels bit for bit.
"""

import unittest

import lsst.utils.tests
import numpy as np

from lsst.ap.alerts._afw import afwImage, geom
from lsst.ap.alerts.cutouts.pixels import ArrayCutter, calibrationScales


def makeExposure(seed=0, width=40, height=30, xy0=(5, -3)):
    rng = np.random.default_rng(seed)
    exposure = afwImage.ExposureF(geom.Box2I(geom.Point2I(*xy0), geom.Extent2I(width, height)))
    masked = exposure.getMaskedImage()
    masked.image.array[:] = rng.normal(0, 100, (height, width))
    masked.image.array[0, :4] = [0.0, -0.0, np.nan, np.inf]
    masked.variance.array[:] = 10.0 ** rng.uniform(-3, 7, (height, width))
    masked.variance.array[1, :2] = [0.0, np.inf]
    masked.mask.array[:] = rng.integers(0, 1 << 9, (height, width))
    return exposure


class ArrayCutterTestCase(lsst.utils.tests.TestCase):
    def testSameAsGetCutout(self):
        """Inside, across every edge and corner: image, variance (+inf off the image), mask as getCutout's."""
        exposure = makeExposure()
        cutter = ArrayCutter(exposure.getMaskedImage())
        bbox = exposure.getBBox()
        for cx in (
            bbox.getMinX(),
            bbox.getMinX() + 7.3,
            bbox.getCenterX(),
            bbox.getMaxX() - 0.2,
            bbox.getMaxX(),
        ):
            for cy in (bbox.getMinY(), bbox.getCenterY(), bbox.getMaxY() + 0.4):
                for size in (1, 6, 11, 30):
                    center, extent = geom.Point2D(cx, cy), geom.Extent2I(size, size)
                    reference = exposure.getCutout(center, extent).getMaskedImage()
                    arrays = cutter.cutCentered(center, extent)
                    self.assertEqual((arrays.minX, arrays.minY), (reference.getX0(), reference.getY0()))
                    for ours, theirs in (
                        (arrays.image, reference.image.array),
                        (arrays.variance, reference.variance.array),
                        (arrays.mask, reference.mask.array),
                    ):
                        self.assertEqual(ours.tobytes(), theirs.astype(ours.dtype).tobytes())


class CalibrationTestCase(lsst.utils.tests.TestCase):
    def testSameAsCalibrateImage(self):
        """float32 image × scale and variance × scale², bit for bit as PhotoCalib.calibrateImage."""
        masked = makeExposure(1, 120, 100).getMaskedImage()
        for mean in (0.0571234567, 1.7, 57.123456789, 12345.6789, 3.3e-5, 1e7, 1.0):
            calibrated = afwImage.PhotoCalib(mean, 0.03).calibrateImage(masked)
            scale, varianceScale = calibrationScales(mean)
            self.assertEqual((masked.image.array * scale).tobytes(), calibrated.image.array.tobytes())
            self.assertEqual(
                (masked.variance.array * varianceScale).tobytes(), calibrated.variance.array.tobytes()
            )


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
