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

"""Tests of the PSF API (`lsst.ap.alerts.afwModel.image.psf`).

``PsfTestCase`` runs on real afw's ``GaussianPsf`` when afw is installed and
on the model's otherwise; ``ModelPsfTestCase`` tests the model-only PSFs
(``ValidBoxPsf``, ``KernelPsf``) and is skipped with afw.
"""

import unittest

import lsst.utils.tests
import numpy as np
from imageHelpers import GaussianPsf

from lsst.ap.alerts._afw import HAVE_AFW, InvalidParameterError, InvalidPsfError, afwImage, geom


class PsfTestCase(lsst.utils.tests.TestCase):
    def testGaussianKernelImage(self):
        psf = GaussianPsf(21, 19, 2.0)
        image = psf.computeKernelImage(geom.Point2D(100.0, 200.0))
        self.assertEqual(image.getDimensions(), geom.Extent2I(21, 19))
        self.assertEqual(image.getXY0(), geom.Point2I(-10, -9))
        array = image.array
        self.assertAlmostEqual(array.sum(), 1.0, places=12)
        self.assertEqual(np.unravel_index(np.argmax(array), array.shape), (9, 10))
        np.testing.assert_allclose(array, array[::-1, ::-1], rtol=0, atol=1e-15)
        self.assertAlmostEqual(psf.computeShape(psf.getAveragePosition()).getIxx(), 4.0, places=6)

    def testGaussianImageRecentred(self):
        psf = GaussianPsf(25, 25, 2.0)
        position = geom.Point2D(100.3, 200.7)
        image = psf.computeImage(position)
        self.assertEqual(
            image.getBBox(), psf.computeKernelImage(position).getBBox().shiftedBy(geom.Extent2I(100, 201))
        )
        array = image.array
        ys, xs = np.mgrid[
            image.getY0() : image.getY0() + image.getHeight(),
            image.getX0() : image.getX0() + image.getWidth(),
        ]
        # afw shifts the kernel image with Lanczos-5 interpolation: close to
        # the analytic Gaussian, with a small centroid bias from the taps
        self.assertAlmostEqual((xs * array).sum() / array.sum(), 100.3, delta=0.02)
        self.assertAlmostEqual((ys * array).sum() / array.sum(), 200.7, delta=0.02)
        self.assertAlmostEqual(array.sum(), 1.0, delta=1e-3)
        analytic = np.exp(-0.5 * ((xs - 100.3) ** 2 + (ys - 200.7) ** 2) / 4.0)
        analytic /= analytic.sum()
        self.assertLess(np.abs(array - analytic).max(), 5e-4)


@unittest.skipIf(HAVE_AFW, "model-only API")
class ModelPsfTestCase(lsst.utils.tests.TestCase):
    def testInvalidPsf(self):
        psf = afwImage.ValidBoxPsf(
            GaussianPsf(11, 11, 1.0), geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(100, 100))
        )
        self.assertEqual(
            psf.computeKernelImage(geom.Point2D(50.0, 50.0)).getDimensions(), geom.Extent2I(11, 11)
        )
        with self.assertRaises(InvalidPsfError):
            psf.computeKernelImage(geom.Point2D(150.0, 50.0))
        with self.assertRaises(InvalidPsfError):
            psf.computeImage(geom.Point2D(-1.0, 50.0))
        with self.assertRaises(InvalidParameterError):  # InvalidPsfError is an InvalidParameterError
            psf.computeShape(geom.Point2D(-1.0, 50.0))

    def testKernelPsf(self):
        array = np.zeros((7, 9))
        array[3, 4] = 3.0
        array[3, 5] = 1.0
        psf = afwImage.KernelPsf(array, geom.Point2D(10.0, 20.0))
        kernel = psf.computeKernelImage(psf.getAveragePosition())
        self.assertEqual(kernel.getXY0(), geom.Point2I(-4, -3))
        self.assertAlmostEqual(kernel.array.sum(), 1.0)
        self.assertEqual(kernel.array[3, 4], 0.75)
        self.assertEqual(psf.getAveragePosition(), geom.Point2D(10.0, 20.0))
        # integer positions shift without interpolation
        image = psf.computeImage(geom.Point2D(30.0, 40.0))
        self.assertEqual(image.getXY0(), geom.Point2I(26, 37))
        np.testing.assert_array_equal(image.array, kernel.array)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
