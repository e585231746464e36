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

"""Tests of the lsst.geom API used by the package.

The semantic tests take ``geom`` from ``lsst.ap.alerts._afw``, so they run
against the real ``lsst.geom`` when the stack is installed and against the
package's model otherwise.
"""

import math
import pickle
import unittest

import lsst.utils.tests
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lsst.ap.alerts._afw import HAVE_AFW, InvalidParameterError, geom


class AngleTestCase(lsst.utils.tests.TestCase):
    def testUnits(self):
        angle = 30.0 * geom.degrees
        self.assertAlmostEqual(angle.asDegrees(), 30.0, places=12)
        self.assertAlmostEqual(angle.asRadians(), math.pi / 6, places=15)
        self.assertAlmostEqual(angle.asArcseconds(), 30.0 * 3600, places=8)
        self.assertAlmostEqual((1.5 * geom.arcseconds).asDegrees(), 1.5 / 3600, places=15)
        self.assertAlmostEqual(geom.Angle(2.0).asRadians(), 2.0)
        self.assertAlmostEqual(geom.Angle(90, geom.degrees).asRadians(), math.pi / 2)

    def testArithmetic(self):
        a, b = 10 * geom.degrees, 4 * geom.degrees
        self.assertAlmostEqual((a + b).asDegrees(), 14.0, places=12)
        self.assertAlmostEqual((a - b).asDegrees(), 6.0, places=12)
        self.assertAlmostEqual((a * 2).asDegrees(), 20.0, places=12)
        self.assertAlmostEqual((2 * a).asDegrees(), 20.0, places=12)
        self.assertAlmostEqual((a / 4).asDegrees(), 2.5, places=12)
        self.assertAlmostEqual((-a).asDegrees(), -10.0, places=12)
        self.assertLess(b, a)
        self.assertEqual(a, 10 * geom.degrees)

    def testWrap(self):
        self.assertAlmostEqual((370 * geom.degrees).wrap().asDegrees(), 10.0, places=10)
        self.assertAlmostEqual((-10 * geom.degrees).wrap().asDegrees(), 350.0, places=10)
        self.assertAlmostEqual((190 * geom.degrees).wrapCtr().asDegrees(), -170.0, places=10)


class PointExtentTestCase(lsst.utils.tests.TestCase):
    def testPoint2D(self):
        p = geom.Point2D(1.5, -2.0)
        self.assertEqual((p.x, p.y), (1.5, -2.0))
        self.assertEqual((p.getX(), p.getY()), (1.5, -2.0))
        self.assertEqual((p[0], p[1]), (1.5, -2.0))
        q = p + geom.Extent2D(1.0, 1.0)
        self.assertEqual(q, geom.Point2D(2.5, -1.0))
        self.assertEqual(q - p, geom.Extent2D(1.0, 1.0))

    def testPoint2IRounding(self):
        # lsst.geom rounds half up when converting double -> int
        self.assertEqual(geom.Point2I(geom.Point2D(1.5, -1.5)), geom.Point2I(2, -1))
        self.assertEqual(geom.Point2I(geom.Point2D(1.49, -1.51)), geom.Point2I(1, -2))

    def testIntegerArithmetic(self):
        p = geom.Point2I(3, 4)
        self.assertEqual(p + geom.Extent2I(1, 2), geom.Point2I(4, 6))
        self.assertEqual(p - geom.Point2I(1, 1), geom.Extent2I(2, 3))
        self.assertEqual(geom.Extent2I(2, 3) * 2, geom.Extent2I(4, 6))
        self.assertEqual(geom.Extent2D(geom.Extent2I(2, 3)), geom.Extent2D(2.0, 3.0))
        self.assertEqual(geom.Point2D(geom.Point2I(2, 3)), geom.Point2D(2.0, 3.0))


class Box2ITestCase(lsst.utils.tests.TestCase):
    def testConstructors(self):
        box = geom.Box2I(geom.Point2I(1, 2), geom.Point2I(4, 8))
        self.assertEqual((box.getMinX(), box.getMinY(), box.getMaxX(), box.getMaxY()), (1, 2, 4, 8))
        self.assertEqual((box.getWidth(), box.getHeight()), (4, 7))
        self.assertEqual((box.width, box.height), (4, 7))
        self.assertEqual(box.getDimensions(), geom.Extent2I(4, 7))
        self.assertEqual(box.getArea(), 28)
        self.assertEqual((box.getBeginX(), box.getEndX(), box.getBeginY(), box.getEndY()), (1, 5, 2, 9))
        self.assertEqual((box.minX, box.maxX, box.minY, box.maxY), (1, 4, 2, 8))
        self.assertEqual(geom.Box2I(geom.Point2I(1, 2), geom.Extent2I(4, 7)), box)
        self.assertTrue(geom.Box2I().isEmpty())
        self.assertFalse(box.isEmpty())
        # min > max is inverted by default, as in lsst.geom
        self.assertEqual(geom.Box2I(geom.Point2I(4, 8), geom.Point2I(1, 2)), box)

    def testContains(self):
        box = geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(10, 5))
        self.assertTrue(box.contains(geom.Point2I(0, 0)))
        self.assertTrue(box.contains(geom.Point2I(9, 4)))
        self.assertFalse(box.contains(geom.Point2I(10, 4)))
        self.assertFalse(box.contains(geom.Point2I(-1, 0)))
        self.assertTrue(box.contains(geom.Box2I(geom.Point2I(2, 2), geom.Extent2I(3, 3))))
        self.assertFalse(box.contains(geom.Box2I(geom.Point2I(8, 2), geom.Extent2I(3, 3))))

    def testClipShiftOverlap(self):
        box = geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(10, 10))
        other = geom.Box2I(geom.Point2I(5, -3), geom.Extent2I(10, 5))
        self.assertTrue(box.overlaps(other))
        clipped = geom.Box2I(box)
        clipped.clip(other)
        self.assertEqual(clipped, geom.Box2I(geom.Point2I(5, 0), geom.Point2I(9, 1)))
        self.assertEqual(box.clippedTo(other), clipped)
        far = geom.Box2I(geom.Point2I(20, 20), geom.Extent2I(2, 2))
        self.assertFalse(box.overlaps(far))
        self.assertTrue(box.clippedTo(far).isEmpty())
        shifted = geom.Box2I(box)
        shifted.shift(geom.Extent2I(3, -2))
        self.assertEqual(shifted, geom.Box2I(geom.Point2I(3, -2), geom.Extent2I(10, 10)))
        self.assertEqual(box.shiftedBy(geom.Extent2I(3, -2)), shifted)

    def checkCentered(self, center, size, expectedMin):
        box = geom.Box2I.makeCenteredBox(geom.Point2D(*center), geom.Extent2I(*size))
        self.assertEqual(box.getMin(), geom.Point2I(*expectedMin), msg=f"center={center} size={size}")
        self.assertEqual(box.getDimensions(), geom.Extent2I(*size))

    def testMakeCenteredBoxOdd(self):
        # odd sizes are centred on the pixel nearest the centre (half rounds up)
        self.checkCentered((10.0, 20.0), (5, 7), (8, 17))
        self.checkCentered((10.49, 20.49), (5, 7), (8, 17))
        self.checkCentered((10.5, 20.5), (5, 7), (9, 18))
        self.checkCentered((9.5, 19.5), (5, 7), (8, 17))
        self.checkCentered((-0.5, -0.5), (5, 5), (-2, -2))
        self.checkCentered((0.0, 0.0), (1, 1), (0, 0))

    def testMakeCenteredBoxEven(self):
        # even sizes: min = floor(center - size/2 + 1)
        self.checkCentered((10.0, 10.0), (4, 6), (9, 8))
        self.checkCentered((10.5, 10.5), (4, 6), (9, 8))
        self.checkCentered((10.49, 10.49), (4, 6), (9, 8))
        self.checkCentered((9.99, 9.99), (4, 6), (8, 7))
        self.checkCentered((0.0, 0.0), (2, 2), (0, 0))

    @given(cx=st.floats(-1e4, 1e4), cy=st.floats(-1e4, 1e4), w=st.integers(1, 200), h=st.integers(1, 200))
    @settings(max_examples=200, deadline=None)
    def testMakeCenteredBoxProperties(self, cx, cy, w, h):
        box = geom.Box2I.makeCenteredBox(geom.Point2D(cx, cy), geom.Extent2I(w, h))
        self.assertEqual(box.getDimensions(), geom.Extent2I(w, h))
        # the box centre is within half a pixel of the requested centre
        center = box.getCenter()
        self.assertLessEqual(abs(center.getX() - cx), 0.5 + 1e-9)
        self.assertLessEqual(abs(center.getY() - cy), 0.5 + 1e-9)

    def testMakeCenteredBoxNonFinite(self):
        with self.assertRaises(InvalidParameterError):
            geom.Box2I.makeCenteredBox(geom.Point2D(np.nan, 1.0), geom.Extent2I(3, 3))


class Box2DTestCase(lsst.utils.tests.TestCase):
    def testFromBox2I(self):
        box = geom.Box2D(geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(10, 5)))
        self.assertEqual(box.getMin(), geom.Point2D(-0.5, -0.5))
        self.assertEqual(box.getMax(), geom.Point2D(9.5, 4.5))
        self.assertEqual(box.getWidth(), 10.0)
        self.assertEqual(box.getCenter(), geom.Point2D(4.5, 2.0))

    def testContainsHalfOpen(self):
        box = geom.Box2D(geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(10, 5)))
        self.assertTrue(box.contains(geom.Point2D(-0.5, -0.5)))
        self.assertTrue(box.contains(geom.Point2D(9.49, 4.49)))
        self.assertFalse(box.contains(geom.Point2D(9.5, 2.0)))
        self.assertFalse(box.contains(geom.Point2D(2.0, 4.5)))
        self.assertFalse(box.contains(geom.Point2D(-0.51, 2.0)))


class SpherePointTestCase(lsst.utils.tests.TestCase):
    def testConstructors(self):
        a = geom.SpherePoint(30.0, -20.0, geom.degrees)
        b = geom.SpherePoint(30.0 * geom.degrees, -20.0 * geom.degrees)
        self.assertAlmostEqual(a.getRa().asDegrees(), 30.0, places=12)
        self.assertAlmostEqual(a.getDec().asDegrees(), -20.0, places=12)
        self.assertAlmostEqual(b.getLongitude().asDegrees(), a.getLongitude().asDegrees(), places=12)
        self.assertAlmostEqual(b.getLatitude().asDegrees(), a.getLatitude().asDegrees(), places=12)
        # longitude wraps into [0, 360)
        self.assertAlmostEqual(
            geom.SpherePoint(-10.0, 0.0, geom.degrees).getRa().asDegrees(), 350.0, places=10
        )

    def testSeparation(self):
        a = geom.SpherePoint(10.0, 0.0, geom.degrees)
        b = geom.SpherePoint(10.0, 1.0, geom.degrees)
        self.assertAlmostEqual(a.separation(b).asDegrees(), 1.0, places=12)
        c = geom.SpherePoint(359.999, 0.0, geom.degrees)
        d = geom.SpherePoint(0.001, 0.0, geom.degrees)
        self.assertAlmostEqual(c.separation(d).asArcseconds(), 7.2, places=6)
        # tiny separations are accurate
        e = geom.SpherePoint(45.0, 45.0, geom.degrees)
        f = geom.SpherePoint(45.0, 45.0 + 1e-6 / 3600, geom.degrees)
        self.assertAlmostEqual(e.separation(f).asArcseconds(), 1e-6, delta=1e-9)

    def testBearingAndOffset(self):
        origin = geom.SpherePoint(40.0, 10.0, geom.degrees)
        north = geom.SpherePoint(40.0, 11.0, geom.degrees)
        east = geom.SpherePoint(40.01, 10.0, geom.degrees)
        # lsst.geom measures bearings from east towards north
        self.assertAlmostEqual(origin.bearingTo(north).asDegrees(), 90.0, places=8)
        self.assertAlmostEqual(origin.bearingTo(east).asDegrees(), 0.0, delta=0.01)
        moved = origin.offset(90.0 * geom.degrees, 1.0 * geom.degrees)
        self.assertAlmostEqual(moved.getRa().asDegrees(), 40.0, places=9)
        self.assertAlmostEqual(moved.getDec().asDegrees(), 11.0, places=9)


@unittest.skipIf(HAVE_AFW, "model-only behaviour")
class ModelGeomTestCase(lsst.utils.tests.TestCase):
    def testPickle(self):
        for obj in (
            geom.Point2D(1.5, 2.5),
            geom.Extent2I(3, 4),
            geom.Angle(0.25),
            geom.Box2I(geom.Point2I(1, 2), geom.Extent2I(3, 4)),
            geom.SpherePoint(1.0, 0.5, geom.radians),
        ):
            self.assertEqual(pickle.loads(pickle.dumps(obj)), obj)

    def testArrayContains(self):
        box = geom.Box2D(geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(4, 4)))
        np.testing.assert_array_equal(
            box.contains(np.array([-0.5, 3.5, 1.0]), np.array([0.0, 0.0, 3.49])), [True, False, True]
        )

    def testGetSlices(self):
        box = geom.Box2I(geom.Point2I(2, 3), geom.Extent2I(4, 5))
        self.assertEqual(box.getSlices(), (slice(3, 8), slice(2, 6)))


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
