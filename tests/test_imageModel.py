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

"""Tests of the afw image API used by the package.

``SemanticTestCase`` classes take ``geom``, ``afwImage``, ``afwGeom`` and
the exceptions from ``lsst.ap.alerts._afw``: they run against real afw when
it is installed and against the package's image model otherwise.  Classes
named ``Model*`` test model-only API and are skipped with afw.
"""

import math
import pickle
import unittest
import warnings

import lsst.utils.tests
import numpy as np

from lsst.ap.alerts._afw import HAVE_AFW, InvalidParameterError, InvalidPsfError, afwGeom, afwImage, geom

if HAVE_AFW:
    from lsst.afw.detection import GaussianPsf
    from lsst.daf.base import DateTime, PropertyList
else:
    from lsst.ap.alerts.image import DateTime, GaussianPsf, PropertyList


def assertSkyClose(testCase, sky1, sky2, maxSep):
    """Assert two SpherePoints are within ``maxSep`` (an Angle)."""
    sep = sky1.separation(sky2)
    testCase.assertLessEqual(sep.asArcseconds(), maxSep.asArcseconds(), msg=f"{sky1} vs {sky2}")


def assertPairClose(testCase, pair1, pair2, maxDiff=1e-10):
    """Assert two points/extents agree to ``maxDiff`` in each coordinate."""
    testCase.assertLessEqual(abs(pair1[0] - pair2[0]), maxDiff, msg=f"{pair1} vs {pair2}")
    testCase.assertLessEqual(abs(pair1[1] - pair2[1]), maxDiff, msg=f"{pair1} vs {pair2}")


def makeWcs(crpix=(500.0, 400.0), crval=(150.0, 2.5), scaleArcsec=0.2, orientationDeg=30.0):
    cd = afwGeom.makeCdMatrix(scaleArcsec * geom.arcseconds, orientationDeg * geom.degrees)
    return afwGeom.makeSkyWcs(geom.Point2D(*crpix), geom.SpherePoint(crval[0], crval[1], geom.degrees), cd)


def makeExposure(width=100, height=80, xy0=(1000, 2000)):
    bbox = geom.Box2I(geom.Point2I(*xy0), geom.Extent2I(width, height))
    exposure = afwImage.ExposureF(bbox)
    exposure.image.array[:] = np.arange(width * height, dtype=np.float32).reshape(height, width)
    exposure.variance.array[:] = 2.0
    exposure.mask.array[:] = 0
    exposure.mask.array[3, 4] = exposure.mask.getPlaneBitMask("SAT")
    exposure.setWcs(makeWcs(crpix=(xy0[0] + 50.0, xy0[1] + 40.0)))
    exposure.setPhotoCalib(afwImage.PhotoCalib(2.5, 0.1))
    exposure.setPsf(GaussianPsf(15, 15, 1.5))
    exposure.setFilter(afwImage.FilterLabel(band="r", physical="r_03"))
    exposure.info.setVisitInfo(afwImage.VisitInfo(exposureTime=30.0, id=123))
    exposure.info.id = 42
    return exposure


class ImageTestCase(lsst.utils.tests.TestCase):
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
        self.assertEqual(afwImage.Mask.getPlaneBitMask("AP_ALERTS_TEST"), 1 << bit)
        self.assertNotIn(bit, expected.values())

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

    def testCalibrateImage(self):
        exposure = makeExposure()
        calib = afwImage.PhotoCalib(2.5, 0.1)
        original = exposure.maskedImage.clone()
        calibrated = calib.calibrateImage(exposure.maskedImage)
        np.testing.assert_allclose(calibrated.image.array, original.image.array * 2.5, rtol=1e-6)
        np.testing.assert_allclose(calibrated.variance.array, original.variance.array * 6.25, rtol=1e-6)
        np.testing.assert_array_equal(calibrated.mask.array, original.mask.array)
        self.assertEqual(calibrated.getBBox(), original.getBBox())
        # the input is untouched
        np.testing.assert_array_equal(exposure.image.array, original.image.array)

    def testPhotoCalib(self):
        calib = afwImage.PhotoCalib(2.5, 0.1)
        self.assertEqual(calib.getCalibrationMean(), 2.5)
        self.assertEqual(calib.getCalibrationErr(), 0.1)
        self.assertAlmostEqual(calib.instFluxToNanojansky(10.0), 25.0)
        self.assertAlmostEqual(calib.instFluxToMagnitude(10.0), -2.5 * math.log10(25.0) + 31.4, places=9)
        # afw propagates the flux error only: err * mean, without the calibration error
        measurement = calib.instFluxToNanojansky(10.0, 1.0)
        self.assertEqual(measurement.value, 25.0)
        self.assertEqual(measurement.error, 2.5)
        point = geom.Point2D(3.0, 4.0)
        self.assertEqual(calib.instFluxToNanojansky(10.0, point), 25.0)
        self.assertEqual(calib.instFluxToNanojansky(10.0, 1.0, point).error, 2.5)
        magnitude = calib.instFluxToMagnitude(10.0, 1.0)
        self.assertAlmostEqual(magnitude.value, -2.5 * math.log10(25.0) + 31.4, places=9)
        self.assertEqual(magnitude.error, 2.5 / math.log(10.0) * 0.1)
        # the magnitude error keeps the sign of the flux; no magnitude for a negative flux
        self.assertLess(calib.instFluxToMagnitude(-10.0, 1.0).error, 0.0)
        self.assertTrue(math.isnan(calib.instFluxToMagnitude(-10.0)))
        self.assertEqual(calib.instFluxToMagnitude(0.0), math.inf)
        self.assertEqual(calib.instFluxToNanojansky(-10.0, 1.0).error, 2.5)
        self.assertAlmostEqual(calib.magnitudeToInstFlux(calib.instFluxToMagnitude(10.0)), 10.0, places=9)
        self.assertEqual(calib.nanojanskyToInstFlux(25.0), 10.0)
        self.assertEqual(str(calib), "spatially constant with mean: 2.5 error: 0.1")


class WcsTestCase(lsst.utils.tests.TestCase):
    def testTan(self):
        crpix = geom.Point2D(500.0, 400.0)
        crval = geom.SpherePoint(150.0, 2.5, geom.degrees)
        cd = afwGeom.makeCdMatrix(0.2 * geom.arcseconds, 30.0 * geom.degrees)
        wcs = afwGeom.makeSkyWcs(crpix, crval, cd)
        assertPairClose(self, wcs.getPixelOrigin(), crpix, maxDiff=1e-10)
        assertSkyClose(self, wcs.getSkyOrigin(), crval, maxSep=1e-9 * geom.arcseconds)
        assertSkyClose(self, wcs.pixelToSky(crpix), crval, maxSep=1e-9 * geom.arcseconds)
        # afw's getCdMatrix is AST's numerical Jacobian at CRPIX: 2.3e-11 of the
        # largest element off the header CD here (up to ~1e-8 in a sweep of
        # random TAN WCSs); the model returns the exact CD.
        np.testing.assert_allclose(wcs.getCdMatrix(), cd, rtol=0, atol=1e-10 * np.abs(cd).max())
        if not HAVE_AFW:
            np.testing.assert_array_equal(wcs.getCdMatrix(), cd)
        self.assertAlmostEqual(wcs.getPixelScale().asArcseconds(), 0.2, places=8)
        self.assertFalse(wcs.isFlipped)
        # makeCdMatrix: by default (flipX=False) east is left, a negative CD1_1 for orientation 0
        cd0 = afwGeom.makeCdMatrix(1.0 * geom.arcseconds)
        self.assertLess(cd0[0, 0], 0)
        self.assertGreater(cd0[1, 1], 0)
        cd1 = afwGeom.makeCdMatrix(1.0 * geom.arcseconds, 30.0 * geom.degrees, True)
        self.assertAlmostEqual(cd1[0, 0], math.cos(math.radians(30.0)) / 3600.0, places=15)
        self.assertAlmostEqual(cd1[1, 0], -0.5 / 3600.0, places=15)
        points = [geom.Point2D(x, y) for x in (-100.0, 0.0, 333.3, 1999.0) for y in (-50.0, 0.0, 777.7)]
        for point in points:
            back = wcs.skyToPixel(wcs.pixelToSky(point))
            assertPairClose(self, back, point, maxDiff=1e-9)
        skies = wcs.pixelToSky(points)
        self.assertEqual(len(skies), len(points))
        assertSkyClose(self, skies[3], wcs.pixelToSky(points[3]), maxSep=1e-12 * geom.arcseconds)
        assertSkyClose(
            self, wcs.pixelToSky(points[3].getX(), points[3].getY()), skies[3], maxSep=1e-12 * geom.arcseconds
        )
        backs = wcs.skyToPixel(skies)
        for back, point in zip(backs, points, strict=True):
            assertPairClose(self, back, point, maxDiff=1e-9)
        # north is +y rotated by the orientation: a pixel step along +y moves mostly north
        step = wcs.pixelToSky(crpix + geom.Extent2D(0.0, 100.0))
        self.assertGreater(step.getDec().asDegrees(), crval.getDec().asDegrees())

    def makeTanSip(self):
        crpix = geom.Point2D(1000.0, 1000.0)
        crval = geom.SpherePoint(30.0, -20.0, geom.degrees)
        cd = afwGeom.makeCdMatrix(0.2 * geom.arcseconds, 10.0 * geom.degrees)
        sipA = np.zeros((4, 4))
        sipB = np.zeros((4, 4))
        sipA[2, 0], sipA[1, 1], sipA[0, 2], sipA[3, 0] = 2e-6, -1e-6, 5e-7, 1e-10
        sipB[0, 2], sipB[1, 1], sipB[2, 0], sipB[0, 3] = 3e-6, 1e-6, -6e-7, -2e-10
        return afwGeom.makeTanSipWcs(crpix, crval, cd, sipA, sipB)

    def testTanSipRoundTrip(self):
        wcs = self.makeTanSip()
        for x in np.linspace(0.0, 2000.0, 7):
            for y in np.linspace(0.0, 2000.0, 7):
                point = geom.Point2D(x, y)
                assertPairClose(self, wcs.skyToPixel(wcs.pixelToSky(point)), point, maxDiff=1e-9)
        # the distortion is real: far from the origin it differs from the linear part
        linear = afwGeom.makeSkyWcs(wcs.getPixelOrigin(), wcs.getSkyOrigin(), wcs.getCdMatrix())
        corner = geom.Point2D(0.0, 0.0)
        self.assertGreater(wcs.pixelToSky(corner).separation(linear.pixelToSky(corner)).asArcseconds(), 0.1)

    def testFitsMetadataRoundTrip(self):
        for wcs in (makeWcs(), self.makeTanSip()):
            copy = afwGeom.makeSkyWcs(wcs.getFitsMetadata())
            for point in (geom.Point2D(0.0, 0.0), geom.Point2D(1500.0, 300.0)):
                assertSkyClose(
                    self, copy.pixelToSky(point), wcs.pixelToSky(point), maxSep=1e-9 * geom.arcseconds
                )

    def testMetadataWithXY0(self):
        metadata = PropertyList()
        for key, value in (
            ("CTYPE1", "RA---TAN"),
            ("CTYPE2", "DEC--TAN"),
            ("CRPIX1", 51.0),
            ("CRPIX2", 41.0),
            ("CRVAL1", 10.0),
            ("CRVAL2", 20.0),
            ("CD1_1", -5e-5),
            ("CD1_2", 0.0),
            ("CD2_1", 0.0),
            ("CD2_2", 5e-5),
            ("RADESYS", "ICRS"),
            ("CTYPE1A", "LINEAR"),
            ("CTYPE2A", "LINEAR"),
            ("CRPIX1A", 1.0),
            ("CRPIX2A", 1.0),
            ("CRVAL1A", 100.0),
            ("CRVAL2A", 200.0),
            ("CUNIT1A", "PIXEL"),
            ("CUNIT2A", "PIXEL"),
        ):
            metadata.set(key, value)
        wcs = afwGeom.makeSkyWcs(metadata)
        # FITS CRPIX is 1-based in the local array; afw pixels are 0-based in the parent
        assertPairClose(self, wcs.getPixelOrigin(), geom.Point2D(150.0, 240.0), maxDiff=1e-10)


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


class VisitInfoTestCase(lsst.utils.tests.TestCase):
    def testConstruction(self):
        date = DateTime("2020-01-20T12:34:56.000000000", DateTime.TAI)
        visitInfo = afwImage.VisitInfo(
            id=987,
            date=date,
            exposureTime=30.0,
            darkTime=31.0,
            boresightRaDec=geom.SpherePoint(30.0, 40.0, geom.degrees),
            boresightRotAngle=12.5 * geom.degrees,
            rotType=afwImage.RotType.SKY,
            observationReason="science",
            object="field 7",
        )
        self.assertEqual(visitInfo.getId(), 987)
        self.assertEqual(visitInfo.id, 987)
        self.assertEqual(visitInfo.getExposureTime(), 30.0)
        self.assertEqual(visitInfo.exposureTime, 30.0)
        self.assertEqual(visitInfo.getDarkTime(), 31.0)
        self.assertEqual(visitInfo.getDate(), date)
        self.assertEqual(visitInfo.date.toAstropy().tai.isot, "2020-01-20T12:34:56.000")
        self.assertEqual(visitInfo.date.toAstropy().scale, "tai")
        self.assertAlmostEqual(
            visitInfo.getDate().get(DateTime.MJD, DateTime.TAI), 58868.52425925926, places=9
        )
        self.assertAlmostEqual(visitInfo.getBoresightRaDec().getDec().asDegrees(), 40.0, places=12)
        self.assertAlmostEqual(visitInfo.boresightRotAngle.asDegrees(), 12.5, places=12)
        self.assertEqual(visitInfo.getRotType(), afwImage.RotType.SKY)
        self.assertEqual(visitInfo.getObservationReason(), "science")
        self.assertEqual(visitInfo.observationReason, "science")
        self.assertEqual(visitInfo.getObject(), "field 7")
        self.assertEqual(visitInfo.object, "field 7")

    def testDefaults(self):
        visitInfo = afwImage.VisitInfo()
        self.assertTrue(math.isnan(visitInfo.getExposureTime()))
        self.assertFalse(visitInfo.getDate().isValid())
        self.assertEqual(visitInfo.getId(), 0)


class ExposureComponentsTestCase(lsst.utils.tests.TestCase):
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

    def testFilterLabel(self):
        label = afwImage.FilterLabel(band="g", physical="g_6")
        self.assertEqual(label.bandLabel, "g")
        self.assertEqual(label.physicalLabel, "g_6")
        self.assertTrue(label.hasBandLabel())
        self.assertFalse(afwImage.FilterLabel(physical="x").hasBandLabel())
        self.assertNotEqual(label, afwImage.FilterLabel(band="g"))


@unittest.skipIf(HAVE_AFW, "model-only API")
class ModelImageTestCase(lsst.utils.tests.TestCase):
    def testVectorisedWcs(self):
        wcs = TanSipHelper.make()
        x = np.linspace(-100.0, 2100.0, 50)
        y = np.linspace(2100.0, -100.0, 50)
        ra, dec = wcs.pixelToSkyArray(x, y)
        for i in (0, 17, 49):
            sky = wcs.pixelToSky(geom.Point2D(x[i], y[i]))
            self.assertAlmostEqual(ra[i], sky.getRa().asRadians(), delta=1e-14)
            self.assertAlmostEqual(dec[i], sky.getDec().asRadians(), delta=1e-14)
        xBack, yBack = wcs.skyToPixelArray(ra, dec)
        np.testing.assert_allclose(xBack, x, rtol=0, atol=1e-9)
        np.testing.assert_allclose(yBack, y, rtol=0, atol=1e-9)
        raDeg, decDeg = wcs.pixelToSkyArray(x, y, degrees=True)
        np.testing.assert_allclose(np.deg2rad(raDeg), ra, rtol=0, atol=1e-15)
        xDeg, _ = wcs.skyToPixelArray(raDeg, decDeg, degrees=True)
        np.testing.assert_allclose(xDeg, x, rtol=0, atol=1e-9)

    def testSipCdMatrixIsLocalJacobian(self):
        wcs = TanSipHelper.make()
        point = geom.Point2D(1700.0, 300.0)
        cd = wcs.getCdMatrix(point)
        cd0 = wcs.getCdMatrix()
        u, v = point.getX() - 1000.0, point.getY() - 1000.0
        a = TanSipHelper.sipA
        b = TanSipHelper.sipB
        dfdu = sum(p * a[p, q] * u ** (p - 1) * v**q for p in range(4) for q in range(4) if p > 0)
        dfdv = sum(q * a[p, q] * u**p * v ** (q - 1) for p in range(4) for q in range(4) if q > 0)
        dgdu = sum(p * b[p, q] * u ** (p - 1) * v**q for p in range(4) for q in range(4) if p > 0)
        dgdv = sum(q * b[p, q] * u**p * v ** (q - 1) for p in range(4) for q in range(4) if q > 0)
        expected = cd0 @ np.array([[1 + dfdu, dfdv], [dgdu, 1 + dgdv]])
        np.testing.assert_allclose(cd, expected, rtol=1e-9, atol=0)

    def testFk5HeaderIsConvertedToIcrs(self):
        import erfa
        from astropy.io import fits
        from astropy.wcs import WCS

        header = fits.Header()
        for key, value in (
            ("CTYPE1", "RA---TAN"),
            ("CTYPE2", "DEC--TAN"),
            ("CRPIX1", 101.0),
            ("CRPIX2", 201.0),
            ("CRVAL1", 151.3),
            ("CRVAL2", 1.6),
            ("CD1_1", 1.6e-7),
            ("CD1_2", -4.6e-5),
            ("CD2_1", -4.7e-5),
            ("CD2_2", 1.1e-7),
            ("RADESYS", "FK5"),
            ("EQUINOX", 2000.0),
        ):
            header[key] = value
        wcs = afwGeom.makeSkyWcs(header)
        fk5 = WCS(header)
        x = np.array([0.0, 100.0, 2000.0, -500.0])
        y = np.array([0.0, 200.0, -300.0, 4000.0])
        ra5, dec5 = fk5.wcs_pix2world(x, y, 0)
        raH, decH = erfa.fk5hz(np.deg2rad(ra5), np.deg2rad(dec5), 2400000.5, 51544.5)
        ra, dec = wcs.pixelToSkyArray(x, y)
        sep = np.array(
            [
                geom.SpherePoint(r1, d1, geom.radians)
                .separation(geom.SpherePoint(r2, d2, geom.radians))
                .asArcseconds()
                for r1, d1, r2, d2 in zip(ra, dec, raH, decH, strict=True)
            ]
        )
        self.assertLess(sep.max(), 1e-8)
        # and it is a real (tens of mas) correction
        self.assertGreater(
            geom.SpherePoint(ra[0], dec[0], geom.radians)
            .separation(geom.SpherePoint(np.deg2rad(ra5[0]), np.deg2rad(dec5[0]), geom.radians))
            .asArcseconds(),
            0.01,
        )

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

    def testDetector(self):
        exposure = makeExposure()
        detector = afwImage.Detector("R22_S11", 94, geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(4072, 4000)))
        exposure.setDetector(detector)
        self.assertEqual(exposure.getDetector().getId(), 94)
        self.assertEqual(exposure.detector.getName(), "R22_S11")
        self.assertEqual(
            exposure.getCutout(geom.Point2D(1050.0, 2040.0), geom.Extent2I(3, 3)).getDetector(), detector
        )

    def testCalibrateImageDeprecatedArgument(self):
        exposure = makeExposure()
        with self.assertWarns(FutureWarning):
            calibrated = afwImage.PhotoCalib(2.0, 0.5).calibrateImage(
                exposure.maskedImage, includeScaleUncertainty=True
            )
        # the calibration error is not folded into the variance (as current afw)
        np.testing.assert_allclose(calibrated.variance.array, exposure.variance.array * 4.0, rtol=1e-7)

    def testPickle(self):
        exposure = makeExposure()
        copy = pickle.loads(pickle.dumps(exposure))
        np.testing.assert_array_equal(copy.image.array, exposure.image.array)
        self.assertEqual(copy.getBBox(), exposure.getBBox())
        self.assertEqual(copy.info.id, 42)
        self.assertEqual(copy.getPhotoCalib(), exposure.getPhotoCalib())
        assertPairClose(self, copy.getWcs().getPixelOrigin(), exposure.getWcs().getPixelOrigin())

    def testDateTime(self):
        date = DateTime("2021-06-30T23:59:59.5Z", DateTime.UTC)
        self.assertEqual(date.toString(DateTime.UTC), "2021-06-30T23:59:59.500000000Z")
        self.assertEqual(date.toString(DateTime.TAI), "2021-07-01T00:00:36.500000000")
        self.assertEqual(DateTime(date.nsecs(DateTime.TAI), DateTime.TAI), date)
        self.assertEqual(
            DateTime(58868.5, DateTime.MJD, DateTime.TAI).toString(DateTime.TAI),
            "2020-01-20T12:00:00.000000000",
        )

    def testSetXY0MovesWcs(self):
        exposure = makeExposure()
        sky = exposure.getWcs().pixelToSky(geom.Point2D(1010.0, 2010.0))
        exposure.setXY0(geom.Point2I(0, 0))
        assertSkyClose(
            self, exposure.getWcs().pixelToSky(geom.Point2D(10.0, 10.0)), sky, maxSep=1e-9 * geom.arcseconds
        )


class TanSipHelper:
    sipA = np.zeros((4, 4))
    sipB = np.zeros((4, 4))
    sipA[2, 0], sipA[1, 1], sipA[0, 2], sipA[3, 0] = 2e-6, -1e-6, 5e-7, 1e-10
    sipB[0, 2], sipB[1, 1], sipB[2, 0], sipB[0, 3] = 3e-6, 1e-6, -6e-7, -2e-10

    @classmethod
    def make(cls):
        cd = afwGeom.makeCdMatrix(0.2 * geom.arcseconds, 10.0 * geom.degrees)
        return afwGeom.makeTanSipWcs(
            geom.Point2D(1000.0, 1000.0), geom.SpherePoint(30.0, -20.0, geom.degrees), cd, cls.sipA, cls.sipB
        )


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    warnings.simplefilter("error")
    lsst.utils.tests.init()
    unittest.main()
