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

"""Tests of exposures (`lsst.ap.alerts.afwModel.image.exposure`): ``ExposureF`` and
its ``ExposureInfo`` components, sub-images, cutouts and copies.

The semantic test cases run on real afw when it is installed and on the
package's image model otherwise; ``ModelExposureTestCase`` tests
model-only API and is skipped with afw.
"""

import copy
import math
import pickle
import unittest

import lsst.utils.tests
import numpy as np
from imageHelpers import (
    GaussianPsf,
    assertPairClose,
    assertSkyClose,
    makeExposure,
    makeWcs,
)

from lsst.ap.alerts._afw import HAVE_AFW, InvalidParameterError, afwImage, geom

if HAVE_AFW:
    from lsst.pex.exceptions import LengthError, LogicError
else:
    from lsst.ap.alerts.afwModel.image import LengthError, LogicError


class ExposureTestCase(lsst.utils.tests.TestCase):
    def testExposureGeometry(self):
        exposure = makeExposure()
        self.assertEqual(exposure.getBBox(), geom.Box2I(geom.Point2I(1000, 2000), geom.Extent2I(100, 80)))
        self.assertEqual(exposure.getDimensions(), geom.Extent2I(100, 80))
        self.assertEqual((exposure.getWidth(), exposure.getHeight()), (100, 80))
        self.assertEqual((exposure.getX0(), exposure.getY0()), (1000, 2000))
        self.assertEqual(exposure.image.array.shape, (80, 100))
        self.assertEqual(exposure.image.array.dtype, np.float32)
        self.assertEqual(exposure.variance.array.dtype, np.float32)
        self.assertEqual(exposure.mask.array.dtype, np.int32)
        mi = exposure.getMaskedImage()
        np.testing.assert_array_equal(mi.getImage().array, exposure.image.array)
        np.testing.assert_array_equal(exposure.maskedImage.variance.array, mi.getVariance().array)
        self.assertEqual(mi.getMask().getBBox(), exposure.getBBox())
        self.assertEqual(afwImage.ExposureF(10, 12).getDimensions(), geom.Extent2I(10, 12))

    def testSubExposureSharesPixels(self):
        exposure = makeExposure()
        box = geom.Box2I(geom.Point2I(1010, 2005), geom.Extent2I(5, 4))
        sub = afwImage.ExposureF(exposure, box)
        self.assertEqual(sub.getBBox(), box)
        self.assertEqual(sub.image.array[0, 0], exposure.image.array[5, 10])
        sub.image.array[0, 0] = -7.0
        self.assertEqual(exposure.image.array[5, 10], -7.0)
        self.assertEqual(exposure[box].getBBox(), box)

    def testCutoutMiddle(self):
        exposure = makeExposure()
        center = geom.Point2D(1040.3, 2030.7)
        size = geom.Extent2I(11, 9)
        cutout = exposure.getCutout(center, size)
        box = geom.Box2I.makeCenteredBox(center, size)
        self.assertEqual(cutout.getBBox(), box)
        self.assertEqual(cutout.getXY0(), box.getMin())
        parent = exposure[box]
        np.testing.assert_array_equal(cutout.image.array, parent.image.array)
        np.testing.assert_array_equal(cutout.variance.array, parent.variance.array)
        np.testing.assert_array_equal(cutout.mask.array, parent.mask.array)
        # components are carried over
        self.assertEqual(cutout.getPhotoCalib().getCalibrationMean(), 2.5)
        self.assertEqual(cutout.getFilter().bandLabel, "r")
        self.assertEqual(cutout.getInfo().getVisitInfo().getExposureTime(), 30.0)
        self.assertEqual(cutout.info.id, 42)
        self.assertEqual(cutout.getPsf().computeKernelImage(center).getDimensions(), geom.Extent2I(15, 15))
        sky = exposure.getWcs().pixelToSky(center)
        assertSkyClose(self, cutout.getWcs().pixelToSky(center), sky, maxSep=1e-9 * geom.arcseconds)

    def testCutoutEdge(self):
        exposure = makeExposure()
        center = geom.Point2D(1000.2, 2078.9)  # near the top-left corner
        size = geom.Extent2I(11, 11)
        cutout = exposure.getCutout(center, size)
        box = geom.Box2I.makeCenteredBox(center, size)
        self.assertEqual(cutout.getBBox(), box)
        noData = cutout.mask.getPlaneBitMask("NO_DATA")
        inside = box.clippedTo(exposure.getBBox())
        local = (
            slice(inside.getMinY() - box.getMinY(), inside.getEndY() - box.getMinY()),
            slice(inside.getMinX() - box.getMinX(), inside.getEndX() - box.getMinX()),
        )
        outside = np.ones(cutout.image.array.shape, dtype=bool)
        outside[local] = False
        self.assertTrue(outside.any())
        self.assertTrue(np.all(np.isnan(cutout.image.array[outside])))
        # afw: off-image variance is +inf (no information), not NaN
        self.assertTrue(np.all(np.isposinf(cutout.variance.array[outside])))
        self.assertTrue(np.all(cutout.mask.array[outside] & noData))
        np.testing.assert_array_equal(cutout.image.array[local], exposure[inside].image.array)
        self.assertFalse(np.any(cutout.mask.array[local] & noData))

    def testCutoutOutside(self):
        exposure = makeExposure()
        size = geom.Extent2I(5, 5)
        for center in (
            geom.Point2D(999.49, 2010.0),
            geom.Point2D(1099.5, 2010.0),
            geom.Point2D(1050.0, 2079.5),
            geom.Point2D(-5.0, -5.0),
        ):
            with self.assertRaises(InvalidParameterError, msg=str(center)):
                exposure.getCutout(center, size)
        # the box is half-open: these are inside
        for center in (geom.Point2D(999.5, 1999.5), geom.Point2D(1099.49, 2079.49)):
            self.assertEqual(exposure.getCutout(center, size).getDimensions(), size)

    def testCutoutSky(self):
        exposure = makeExposure()
        pixel = geom.Point2D(1033.3, 2044.6)
        sky = exposure.getWcs().pixelToSky(pixel)
        cutout = exposure.getCutout(sky, geom.Extent2I(7, 8))
        self.assertEqual(cutout.getBBox(), geom.Box2I.makeCenteredBox(pixel, geom.Extent2I(7, 8)))
        far = exposure.getWcs().pixelToSky(geom.Point2D(5000.0, 5000.0))
        with self.assertRaises(InvalidParameterError):
            exposure.getCutout(far, geom.Extent2I(7, 8))

    def testCutoutIsIndependent(self):
        """A cutout copies the pixels; its components are its own to
        replace, but it shares the parent's metadata (as afw)."""
        exposure = makeExposure()
        original = exposure.image.array.copy()
        cutout = exposure.getCutout(geom.Point2D(1040.0, 2030.0), geom.Extent2I(5, 5))
        cutout.image.array[:] = -100.0
        cutout.variance.array[:] = -1.0
        cutout.mask.array[:] = 0
        np.testing.assert_array_equal(exposure.image.array, original)
        self.assertEqual(exposure.variance.array.min(), 2.0)
        self.assertEqual(exposure.mask.array[3, 4], exposure.mask.getPlaneBitMask("SAT"))
        cutout.setPhotoCalib(afwImage.PhotoCalib(11.0))
        cutout.setFilter(afwImage.FilterLabel(band="g"))
        self.assertEqual(exposure.getPhotoCalib().getCalibrationMean(), 2.5)
        self.assertEqual(exposure.getFilter().bandLabel, "r")
        cutout.getMetadata().set("CUTKEY", 1)
        self.assertTrue(exposure.getMetadata().exists("CUTKEY"))

    def testCutoutBoxes(self):
        exposure = makeExposure()
        # Box2I.makeCenteredBox: minimum = round(center - (size - 1) / 2), halves rounding up
        for center, size, minimum in (
            ((1040.5, 2030.5), (4, 6), (1039, 2028)),
            ((1040.0, 2030.0), (4, 6), (1039, 2028)),
            ((1040.0, 2030.0), (5, 7), (1038, 2027)),
            ((1040.49, 2030.51), (1, 1), (1040, 2031)),
        ):
            with self.subTest(center=center, size=size):
                cutout = exposure.getCutout(geom.Point2D(*center), geom.Extent2I(*size))
                self.assertEqual(cutout.getBBox(), geom.Box2I(geom.Point2I(*minimum), geom.Extent2I(*size)))
                self.assertEqual(cutout.image.array.shape, (size[1], size[0]))
                self.assertEqual(cutout.image.array.dtype, np.float32)
                self.assertEqual(cutout.variance.array.dtype, np.float32)
                self.assertEqual(cutout.mask.array.dtype, np.int32)
                self.assertEqual(cutout.mask.getMaskPlaneDict(), exposure.mask.getMaskPlaneDict())

    def testCutoutErrors(self):
        exposure = makeExposure()
        with self.assertRaises(InvalidParameterError):
            exposure.getCutout(geom.Point2D(math.nan, 2010.0), geom.Extent2I(3, 3))
        noWcs = afwImage.ExposureF(5, 5)
        with self.assertRaises(LogicError):
            noWcs.getCutout(geom.SpherePoint(1.0, 1.0, geom.degrees), geom.Extent2I(3, 3))

    def testEmptyCutoutRejected(self):
        exposure = makeExposure()
        for size in ((0, 6), (6, 0), (0, 0), (-1, 5), (5, -3)):
            with self.assertRaisesRegex(
                InvalidParameterError, rf"Cannot create bounding box with dimensions \({size[0]}, {size[1]}\)"
            ):
                exposure.getCutout(geom.Point2D(1040.5, 2030.5), geom.Extent2I(*size))
        # the smallest cutout: the one pixel holding the centre
        cutout = exposure.getCutout(geom.Point2D(1040.2, 2029.8), geom.Extent2I(1, 1))
        self.assertEqual(cutout.getBBox(), geom.Box2I(geom.Point2I(1040, 2030), geom.Extent2I(1, 1)))
        self.assertEqual(cutout.image.array[0, 0], exposure.image.array[30, 40])

    def testCutoutCentreCheckedFirst(self):
        """afw checks the centre before the size."""
        exposure = makeExposure()
        with self.assertRaisesRegex(InvalidParameterError, "outside"):
            exposure.getCutout(geom.Point2D(0.0, 0.0), geom.Extent2I(0, 5))
        with self.assertRaises(LogicError):
            afwImage.ExposureF(5, 5).getCutout(geom.SpherePoint(1.0, 1.0, geom.degrees), geom.Extent2I(0, 5))

    def testSubset(self):
        exposure = makeExposure()
        box = geom.Box2I(geom.Point2I(1010, 2005), geom.Extent2I(5, 4))
        for sub in (
            exposure.subset(box),
            exposure.subset(geom.Box2I(geom.Point2I(10, 5), geom.Extent2I(5, 4)), afwImage.LOCAL),
            afwImage.ExposureF(exposure, box),
            exposure[box],
        ):
            self.assertEqual(sub.getBBox(), box)
            np.testing.assert_array_equal(sub.image.array, exposure.image.array[5:9, 10:15])
            # a view: the pixels are shared, and the metadata
            sub.image.array[0, 0] = -7.0
            self.assertEqual(exposure.image.array[5, 10], -7.0)
            exposure.image.array[5, 10] = 510.0
            sub.getMetadata().set("SUBKEY", 1)
            self.assertTrue(exposure.getMetadata().exists("SUBKEY"))
            exposure.getMetadata().remove("SUBKEY")
            # the components are shared objects, but replacing one is local
            self.assertEqual(sub.getPhotoCalib(), exposure.getPhotoCalib())
            self.assertEqual(sub.info.id, 42)
            sub.setPhotoCalib(afwImage.PhotoCalib(7.0))
            self.assertEqual(exposure.getPhotoCalib().getCalibrationMean(), 2.5)
        outside = geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(5, 4))
        with self.assertRaises(LengthError):
            exposure.subset(outside)
        with self.assertRaises(LengthError):
            exposure[outside]

    def testDeepSubExposure(self):
        exposure = makeExposure()
        box = geom.Box2I(geom.Point2I(1010, 2005), geom.Extent2I(5, 4))
        deep = afwImage.ExposureF(exposure, box, afwImage.PARENT, True)
        np.testing.assert_array_equal(deep.image.array, exposure.image.array[5:9, 10:15])
        deep.image.array[0, 0] = 12345.0
        self.assertEqual(exposure.image.array[5, 10], 510.0)
        deep.getMetadata().set("DEEPKEY", 1)
        self.assertFalse(exposure.getMetadata().exists("DEEPKEY"))

    def testClone(self):
        exposure = makeExposure()
        exposure.getMetadata().set("MYKEY", 5)
        clone = exposure.clone()
        self.assertEqual(clone.getBBox(), exposure.getBBox())
        for plane in ("image", "mask", "variance"):
            np.testing.assert_array_equal(getattr(clone, plane).array, getattr(exposure, plane).array)
        self.assertEqual(clone.info.id, 42)
        self.assertEqual(clone.getPhotoCalib(), exposure.getPhotoCalib())
        self.assertEqual(clone.getMetadata().get("MYKEY"), 5)
        # independent pixels, components and metadata
        clone.image.array[0, 0] = -1.0
        clone.mask.array[0, 0] = 99
        clone.variance.array[0, 0] = -5.0
        self.assertEqual((exposure.image.array[0, 0], exposure.mask.array[0, 0]), (0.0, 0))
        self.assertEqual(exposure.variance.array[0, 0], 2.0)
        clone.setPhotoCalib(afwImage.PhotoCalib(9.0))
        clone.info.id = 5
        clone.getMetadata().set("NEW", 1)
        self.assertEqual(exposure.getPhotoCalib().getCalibrationMean(), 2.5)
        self.assertEqual(exposure.info.id, 42)
        self.assertFalse(exposure.getMetadata().exists("NEW"))

    def testDeepCopy(self):
        exposure = makeExposure()
        exposure.getMetadata().set("MYKEY", 5)
        duplicate = copy.deepcopy(exposure)
        self.assertIsInstance(duplicate, afwImage.ExposureF)
        self.assertEqual(duplicate.getBBox(), exposure.getBBox())
        np.testing.assert_array_equal(duplicate.image.array, exposure.image.array)
        self.assertEqual(duplicate.info.id, 42)
        self.assertEqual(duplicate.getFilter(), exposure.getFilter())
        self.assertEqual(duplicate.getMetadata().get("MYKEY"), 5)
        duplicate.image.array[1, 1] = -2.0
        duplicate.getMetadata().set("NEW2", 1)
        self.assertEqual(exposure.image.array[1, 1], 101.0)
        self.assertFalse(exposure.getMetadata().exists("NEW2"))

    def testFromMaskedImage(self):
        exposure = makeExposure()
        wrapped = afwImage.ExposureF(exposure.maskedImage)
        self.assertFalse(wrapped.hasWcs())
        wrapped.image.array[3, 3] = -42.0
        self.assertEqual(exposure.image.array[3, 3], -42.0)
        withInfo = afwImage.ExposureF(exposure.maskedImage, exposure.getInfo())
        self.assertEqual(withInfo.getPhotoCalib().getCalibrationMean(), 2.5)
        made = afwImage.makeExposure(exposure.maskedImage, exposure.getWcs())
        self.assertIsInstance(made, afwImage.ExposureF)
        assertPairClose(self, made.getWcs().getPixelOrigin(), exposure.getWcs().getPixelOrigin(), maxDiff=0.0)
        self.assertEqual(afwImage.ExposureD(3, 3).image.array.dtype, np.float64)


class ExposureInfoTestCase(lsst.utils.tests.TestCase):
    def testGettersSetters(self):
        exposure = makeExposure()
        wcs = makeWcs(crpix=(0.0, 0.0))
        exposure.setWcs(wcs)
        self.assertIs(exposure.getWcs(), exposure.wcs)
        calib = afwImage.PhotoCalib(3.0)
        exposure.setPhotoCalib(calib)
        self.assertEqual(exposure.photoCalib.getCalibrationMean(), 3.0)
        self.assertEqual(exposure.getPhotoCalib().getCalibrationMean(), 3.0)
        self.assertIsNotNone(exposure.getPsf())
        self.assertIs(exposure.psf, exposure.getPsf())
        self.assertEqual(exposure.getFilter(), afwImage.FilterLabel(band="r", physical="r_03"))
        self.assertEqual(exposure.getFilter().physicalLabel, "r_03")
        self.assertEqual(exposure.info.id, 42)
        self.assertEqual(exposure.getInfo().getVisitInfo().getId(), 123)
        self.assertEqual(exposure.visitInfo.id, 123)
        self.assertEqual(exposure.info.getVisitInfo().id, 123)

    def testHasComponents(self):
        info = makeExposure().getInfo()
        self.assertEqual(
            (
                info.hasWcs(),
                info.hasPsf(),
                info.hasPhotoCalib(),
                info.hasFilter(),
                info.hasVisitInfo(),
                info.hasId(),
            ),
            (True, True, True, True, True, True),
        )
        self.assertFalse(info.hasDetector())
        self.assertEqual(info.getId(), 42)

    def testEmpty(self):
        exposure = afwImage.ExposureF(3, 4)
        info = exposure.getInfo()
        self.assertEqual(
            (info.hasWcs(), info.hasPsf(), info.hasPhotoCalib(), info.hasDetector(), info.hasFilter()),
            (False, False, False, False, False),
        )
        self.assertFalse(info.hasVisitInfo())
        self.assertFalse(info.hasId())
        self.assertIsNone(info.id)
        for getter in ("getWcs", "getPsf", "getPhotoCalib", "getDetector", "getFilter", "getVisitInfo"):
            self.assertIsNone(getattr(info, getter)(), msg=getter)
        for name in ("wcs", "psf", "photoCalib", "detector", "filter", "visitInfo"):
            self.assertIsNone(getattr(exposure, name), msg=name)
        self.assertFalse(exposure.hasWcs())
        self.assertFalse(exposure.hasPsf())
        self.assertEqual(len(exposure.getMetadata()), 0)

    def testEmptyGetId(self):
        info = afwImage.ExposureF(3, 4).getInfo()
        self.assertIsNone(info.getId())
        self.assertFalse(info.hasId())
        info.setId(17)
        self.assertEqual(info.getId(), 17)
        info.setId(None)
        self.assertIsNone(info.getId())
        self.assertFalse(info.hasId())

    def testSetters(self):
        exposure = afwImage.ExposureF(3, 4)
        info = exposure.getInfo()
        info.setId(7)
        self.assertEqual((info.getId(), info.id, info.hasId()), (7, 7, True))
        info.id = 8
        self.assertEqual(info.getId(), 8)
        wcs = makeWcs()
        exposure.setWcs(wcs)
        self.assertTrue(info.hasWcs())
        exposure.setWcs(None)
        self.assertFalse(info.hasWcs())
        self.assertIsNone(exposure.getWcs())
        info.setPsf(GaussianPsf(5, 5, 1.0))
        self.assertEqual(
            exposure.getPsf().computeKernelImage(geom.Point2D(0.0, 0.0)).getDimensions(), geom.Extent2I(5, 5)
        )
        info.setFilter(afwImage.FilterLabel(physical="z_20"))
        self.assertEqual(exposure.getFilter().physicalLabel, "z_20")
        info.setVisitInfo(afwImage.VisitInfo(exposureTime=15.0))
        self.assertEqual(exposure.getInfo().getVisitInfo().getExposureTime(), 15.0)
        self.assertIs(exposure.getInfo(), exposure.getInfo())


@unittest.skipIf(HAVE_AFW, "model-only API")
class ModelExposureTestCase(lsst.utils.tests.TestCase):
    def testDetector(self):
        exposure = makeExposure()
        detector = afwImage.Detector("R22_S11", 94, geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(4072, 4000)))
        exposure.setDetector(detector)
        self.assertEqual(exposure.getDetector().getId(), 94)
        self.assertEqual(exposure.detector.getName(), "R22_S11")
        self.assertEqual(
            exposure.getCutout(geom.Point2D(1050.0, 2040.0), geom.Extent2I(3, 3)).getDetector(), detector
        )

    def testPickle(self):
        exposure = makeExposure()
        copy = pickle.loads(pickle.dumps(exposure))
        np.testing.assert_array_equal(copy.image.array, exposure.image.array)
        self.assertEqual(copy.getBBox(), exposure.getBBox())
        self.assertEqual(copy.info.id, 42)
        self.assertEqual(copy.getPhotoCalib(), exposure.getPhotoCalib())
        assertPairClose(self, copy.getWcs().getPixelOrigin(), exposure.getWcs().getPixelOrigin())

    def testSetXY0MovesWcs(self):
        exposure = makeExposure()
        sky = exposure.getWcs().pixelToSky(geom.Point2D(1010.0, 2010.0))
        exposure.setXY0(geom.Point2I(0, 0))
        assertSkyClose(
            self, exposure.getWcs().pixelToSky(geom.Point2D(10.0, 10.0)), sky, maxSep=1e-9 * geom.arcseconds
        )

    def testInfoCopy(self):
        info = makeExposure().getInfo()
        info.getMetadata().set("MYKEY", 1)
        shallow, deep = info.copy(), info.copy(copyMetadata=True)
        self.assertIs(shallow.getMetadata(), info.getMetadata())
        deep.getMetadata().set("OTHER", 2)
        self.assertFalse(info.getMetadata().exists("OTHER"))
        shallow.setPhotoCalib(afwImage.PhotoCalib(4.0))
        self.assertEqual(info.getPhotoCalib().getCalibrationMean(), 2.5)

    def testSummaryStatsComponent(self):
        info = makeExposure().getInfo()
        self.assertFalse(info.hasSummaryStats())
        info.setSummaryStats({"psfSigma": 1.5})
        self.assertEqual(info.getSummaryStats(), {"psfSigma": 1.5})
        self.assertTrue(info.hasComponent("SUMMARYSTATS"))
        info.removeComponent("SUMMARYSTATS")
        self.assertFalse(info.hasSummaryStats())


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
