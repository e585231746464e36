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

"""Tests of images, masks and masked images (`lsst.ap.alerts.afwModel.image.image`),
on real afw when it is installed and on the package's image model
otherwise; expectations are hand-computed from the pixel ramps.
"""

import unittest

import lsst.utils.tests
import numpy as np

from lsst.ap.alerts._afw import HAVE_AFW, afwImage, geom

if HAVE_AFW:
    from lsst.pex.exceptions import LengthError
else:
    from lsst.ap.alerts.afwModel.image import LengthError


def makeRamp():
    """A 4x3 float32 ramp (value = 4 * row + column) and its ImageF at xy0 (5, 6), sharing memory."""
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    return array, afwImage.ImageF(array, False, geom.Point2I(5, 6))


class ImageTestCase(lsst.utils.tests.TestCase):
    def testConstruction(self):
        array, image = makeRamp()
        self.assertTrue(np.shares_memory(image.array, array))
        deep = afwImage.ImageF(array, True, geom.Point2I(5, 6))
        self.assertFalse(np.shares_memory(deep.array, array))
        np.testing.assert_array_equal(deep.array, array)
        self.assertEqual(image.getBBox(), geom.Box2I(geom.Point2I(5, 6), geom.Extent2I(4, 3)))
        self.assertEqual(image.getBBox(afwImage.LOCAL), geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(4, 3)))
        self.assertEqual((image.getXY0(), image.getDimensions()), (geom.Point2I(5, 6), geom.Extent2I(4, 3)))
        self.assertEqual((image.getWidth(), image.getHeight()), (4, 3))
        box = geom.Box2I(geom.Point2I(6, 7), geom.Extent2I(2, 2))
        fromBox = afwImage.ImageF(box)
        self.assertEqual((fromBox.array.shape, fromBox.getXY0()), ((2, 2), geom.Point2I(6, 7)))
        self.assertEqual(afwImage.ImageF(4, 3).getBBox(), geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(4, 3)))
        for imageClass, dtype in (
            (afwImage.ImageF, np.float32),
            (afwImage.ImageD, np.float64),
            (afwImage.ImageI, np.int32),
        ):
            self.assertEqual(imageClass(2, 2).array.dtype, dtype, msg=imageClass.__name__)

    def testPixelAccess(self):
        _, image = makeRamp()
        # parent (6, 7) is local (1, 1): row 1, column 1 of the ramp
        self.assertEqual(image[geom.Point2I(6, 7)], 5.0)
        self.assertEqual(image[6, 7], 5.0)
        self.assertEqual(image[1, 1, afwImage.LOCAL], 5.0)

    def testSubImagesAreViews(self):
        _, image = makeRamp()
        box = geom.Box2I(geom.Point2I(6, 7), geom.Extent2I(2, 2))
        for sub in (
            image[box],
            image.subset(box),
            image.subset(geom.Box2I(geom.Point2I(1, 1), geom.Extent2I(2, 2)), afwImage.LOCAL),
        ):
            self.assertEqual(sub.getBBox(), box)
            np.testing.assert_array_equal(sub.array, [[5.0, 6.0], [9.0, 10.0]])
            self.assertTrue(np.shares_memory(sub.array, image.array))
        with self.assertRaises(LengthError):
            image[geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(2, 2))]
        clone = image.clone()
        self.assertFalse(np.shares_memory(clone.array, image.array))
        self.assertEqual(clone.getBBox(), image.getBBox())

    def testAssignAndArithmetic(self):
        array, image = makeRamp()
        box = geom.Box2I(geom.Point2I(6, 7), geom.Extent2I(2, 2))
        zeros = afwImage.ImageF(box)
        zeros.set(0.0)
        expected = array.copy()
        expected[1:3, 1:3] = 0.0
        target = image.clone()
        target.assign(zeros, box)
        np.testing.assert_array_equal(target.array, expected)
        target = image.clone()
        target[box] = zeros
        np.testing.assert_array_equal(target.array, expected)
        target = image.clone()
        target += 1.0
        target *= 2.0
        np.testing.assert_array_equal(target.array, (array + 1.0) * 2.0)
        target.set(3.0)
        self.assertTrue(np.all(target.array == 3.0))
        moved = image.clone()
        moved.setXY0(geom.Point2I(1, 2))
        self.assertEqual(moved.getBBox(), geom.Box2I(geom.Point2I(1, 2), geom.Extent2I(4, 3)))


class MaskedImageTestCase(lsst.utils.tests.TestCase):
    def makeMaskedImage(self):
        maskedImage = afwImage.MaskedImageF(geom.Box2I(geom.Point2I(5, 6), geom.Extent2I(4, 3)))
        maskedImage.image.array[:] = np.arange(12, dtype=np.float32).reshape(3, 4)
        maskedImage.variance.array[:] = 2.0
        maskedImage.mask.array[:] = 0
        return maskedImage

    def testConstruction(self):
        empty = afwImage.MaskedImageF(2, 2)
        for plane in (empty.image, empty.variance, empty.mask):
            self.assertTrue(np.all(plane.array == 0))
        _, image = makeRamp()
        wrapped = afwImage.MaskedImageF(image)
        self.assertTrue(np.shares_memory(wrapped.image.array, image.array))
        self.assertEqual(wrapped.getBBox(), image.getBBox())
        self.assertTrue(np.all(wrapped.variance.array == 0) and np.all(wrapped.mask.array == 0))
        with self.assertRaises(LengthError):
            afwImage.MaskedImageF(afwImage.ImageF(2, 2), afwImage.Mask(3, 3), afwImage.ImageF(2, 2))

    def testVariancePropagation(self):
        """Var(c a) = c^2 Var(a), Var(a / c) = Var(a) / c^2, Var(a +- b) = Var(a) + Var(b);
        adding a constant leaves the variance; masks are OR-ed."""
        original = self.makeMaskedImage()
        image = original.image.array
        for operation, expectedImage, expectedVariance in (
            (lambda m: m.__imul__(3.0), image * 3.0, 18.0),
            (lambda m: m.__itruediv__(2.0), image / 2.0, 0.5),
            (lambda m: m.__iadd__(5.0), image + 5.0, 2.0),
            (lambda m: m.__iadd__(original), image * 2.0, 4.0),
            (lambda m: m.__isub__(original), image * 0.0, 4.0),
        ):
            result = original.clone()
            result = operation(result)
            np.testing.assert_array_equal(result.image.array, expectedImage)
            self.assertTrue(np.all(result.variance.array == expectedVariance))
        other = original.clone()
        other.mask.array[0, 0] = 1
        target = original.clone()
        target.mask.array[0, 0] = 2
        target += other
        self.assertEqual(target.mask.array[0, 0], 3)

    def testViewsAndClones(self):
        maskedImage = self.makeMaskedImage()
        box = geom.Box2I(geom.Point2I(6, 7), geom.Extent2I(2, 2))
        sub = maskedImage[box]
        self.assertEqual(sub.getBBox(), box)
        for plane in ("image", "mask", "variance"):
            self.assertTrue(np.shares_memory(getattr(sub, plane).array, getattr(maskedImage, plane).array))
            self.assertFalse(
                np.shares_memory(getattr(maskedImage.clone(), plane).array, getattr(maskedImage, plane).array)
            )
        self.assertIsInstance(afwImage.makeMaskedImage(afwImage.ImageF(2, 2)), afwImage.MaskedImageF)


class MaskTestCase(lsst.utils.tests.TestCase):
    def testInterpret(self):
        mask = afwImage.Mask(1, 1)
        names = mask.interpret(mask.getPlaneBitMask(["BAD", "SAT", "NO_DATA"]))
        self.assertEqual(set(names.split(",")), {"BAD", "SAT", "NO_DATA"})
        self.assertEqual(afwImage.Mask.getNumPlanesMax(), 32)

    def testInterpretOrder(self):
        mask = afwImage.Mask(1, 1)
        self.assertEqual(mask.interpret(mask.getPlaneBitMask(["BAD", "SAT", "NO_DATA"])), "BAD,NO_DATA,SAT")
        # every plane: by name, whatever the bits
        planes = mask.getMaskPlaneDict()
        self.assertNotEqual(sorted(planes), sorted(planes, key=planes.get))
        self.assertEqual(mask.interpret(mask.getPlaneBitMask(list(planes))), ",".join(sorted(planes)))
        self.assertEqual(mask.interpret(0), "")

    def testMaskPlanes(self):
        mask = afwImage.Mask(geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(3, 3)))
        planes = mask.getMaskPlaneDict()
        expected = {
            "BAD": 0,
            "SAT": 1,
            "INTRP": 2,
            "CR": 3,
            "EDGE": 4,
            "DETECTED": 5,
            "DETECTED_NEGATIVE": 6,
            "SUSPECT": 7,
            "NO_DATA": 8,
        }
        for name, bit in expected.items():
            self.assertEqual(planes[name], bit)
            self.assertEqual(mask.getPlaneBitMask(name), 1 << bit)
        self.assertEqual(mask.getPlaneBitMask(["BAD", "NO_DATA"]), 1 | 256)
        bit = afwImage.Mask.addMaskPlane("AP_ALERTS_TEST")
        try:
            self.assertEqual(afwImage.Mask.getPlaneBitMask("AP_ALERTS_TEST"), 1 << bit)
            self.assertNotIn(bit, expected.values())
        finally:
            # The plane list is process-wide: later tests (cutout MP_* cards) must not see it.
            afwImage.Mask(1, 1).removeAndClearMaskPlane("AP_ALERTS_TEST", True)
        self.assertNotIn("AP_ALERTS_TEST", afwImage.Mask(1, 1).getMaskPlaneDict())


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
