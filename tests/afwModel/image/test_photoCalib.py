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

"""Tests of the photometric calibration (`lsst.ap.alerts.afwModel.image.photoCalib`).

``PhotoCalibTestCase`` runs on real afw's ``PhotoCalib`` when afw is
installed and on the model's otherwise; its expectations are hand-computed
from afw's documented formulas (nJy = instFlux * mean, the AB magnitude of
that flux through astropy's units, errors without the calibration error,
float32 image arithmetic).  ``CrossTierPhotoCalibTestCase`` (afw only)
compares the model with real afw value for value; ``ModelPhotoCalibTestCase``
tests model-only behaviour.
"""

import math
import unittest
import warnings

import astropy.units as u
import lsst.utils.tests
import numpy as np
from imageHelpers import makeExposure

from lsst.ap.alerts._afw import HAVE_AFW, InvalidParameterError, afwImage, geom

# (mean, error) pairs and fluxes spanning signs and magnitudes.
CALIBRATIONS = ((2.5, 0.1), (0.1234567, 0.0), (1e-3, 1e-5), (3.3, 0.25), (57.5, 1.0))
FLUXES = (10.0, 1.0, 0.3, 1234.5678, 1e-4, 2.5e7)
# 2.5 / ln(10): the derivative of the magnitude with respect to ln(flux).
MAG_PER_LN = 2.5 / math.log(10.0)
# The AB zero point in nJy, from astropy.
ZERO_MAG_NJY = (0.0 * u.ABmag).to(u.nJy).value


def abMagnitude(nanojansky):
    """AB magnitude of a flux in nJy, through astropy's units."""
    return (nanojansky * u.nJy).to(u.ABmag).value


def makeMaskedImage():
    """A small MaskedImageF with awkward float32 values and a mask bit."""
    maskedImage = afwImage.MaskedImageF(geom.Box2I(geom.Point2I(3, -2), geom.Extent2I(4, 2)))
    maskedImage.image.array[:] = np.array([[1.1, 2.3, 1e-3, -7.0], [7.77, -3.3, 1e6, 0.0]], dtype=np.float32)
    maskedImage.variance.array[:] = np.array([[0.5, 2.0, 1e-6, 3.0], [1.0, 9.0, 1e6, 0.25]], dtype=np.float32)
    maskedImage.mask.array[:] = 0
    maskedImage.mask.array[1, 2] = maskedImage.mask.getPlaneBitMask("SAT")
    return maskedImage


class PhotoCalibTestCase(lsst.utils.tests.TestCase):
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

    def testAccessors(self):
        calib = afwImage.PhotoCalib(3.5, 0.25)
        self.assertEqual(calib.getCalibrationMean(), 3.5)
        self.assertEqual(calib.getCalibrationErr(), 0.25)
        self.assertEqual(calib.getLocalCalibration(geom.Point2D(-4.0, 1e4)), 3.5)
        # the flux of 0 mag AB (10**(-48.6 / 2.5) erg/s/cm^2/Hz, about 3631 Jy)
        self.assertAlmostEqual(calib.getInstFluxAtZeroMagnitude() * 3.5 / ZERO_MAG_NJY, 1.0, places=12)

    def testDefaultCalibration(self):
        default = afwImage.PhotoCalib()
        self.assertEqual((default.getCalibrationMean(), default.getCalibrationErr()), (0.0, 0.0))
        self.assertEqual(str(default), "spatially constant with mean: 0 error: 0")
        self.assertEqual(default, afwImage.PhotoCalib(0.0))

    def testZeroMeanConversions(self):
        """An unset (zero) calibration divides in IEEE arithmetic, as afw's
        C++: x / 0 is inf, 0 / 0 is NaN."""
        default = afwImage.PhotoCalib()
        self.assertEqual(default.getInstFluxAtZeroMagnitude(), math.inf)
        self.assertEqual(default.instFluxToNanojansky(5.0), 0.0)
        self.assertEqual(default.instFluxToMagnitude(5.0), math.inf)
        self.assertEqual(default.magnitudeToInstFlux(20.0), math.inf)
        self.assertEqual(default.nanojanskyToInstFlux(5.0), math.inf)
        self.assertTrue(math.isnan(default.nanojanskyToInstFlux(0.0)))

    def testToNanojansky(self):
        point = geom.Point2D(12.0, -3.0)
        for mean, err in CALIBRATIONS:
            calib = afwImage.PhotoCalib(mean, err)
            for flux in FLUXES + tuple(-f for f in FLUXES) + (0.0,):
                with self.subTest(mean=mean, flux=flux):
                    expected = flux * mean
                    self.assertEqual(calib.instFluxToNanojansky(flux), expected)
                    self.assertEqual(calib.instFluxToNanojansky(flux, point), expected)
                    for measurement in (
                        calib.instFluxToNanojansky(flux, 0.1 * abs(flux) + 0.5),
                        calib.instFluxToNanojansky(flux, 0.1 * abs(flux) + 0.5, point),
                    ):
                        self.assertEqual(measurement.value, expected)
                        # afw: the flux error times the mean, no calibration error
                        self.assertEqual(measurement.error, (0.1 * abs(flux) + 0.5) * mean)
                    self.assertAlmostEqual(
                        calib.nanojanskyToInstFlux(expected), flux, delta=1e-12 * abs(flux)
                    )

    def testToMagnitude(self):
        point = geom.Point2D(12.0, -3.0)
        for mean, err in CALIBRATIONS:
            calib = afwImage.PhotoCalib(mean, err)
            for flux in FLUXES:
                with self.subTest(mean=mean, flux=flux):
                    expected = abMagnitude(flux * mean)
                    self.assertAlmostEqual(calib.instFluxToMagnitude(flux), expected, delta=1e-12)
                    self.assertAlmostEqual(calib.instFluxToMagnitude(flux, point), expected, delta=1e-12)
                    fluxErr = 0.05 * flux
                    for measurement in (
                        calib.instFluxToMagnitude(flux, fluxErr),
                        calib.instFluxToMagnitude(flux, fluxErr, point),
                    ):
                        self.assertAlmostEqual(measurement.value, expected, delta=1e-12)
                        self.assertAlmostEqual(measurement.error, MAG_PER_LN * 0.05, delta=1e-15)
                    self.assertAlmostEqual(
                        calib.magnitudeToInstFlux(expected), flux, delta=1e-11 * flux, msg="inverse"
                    )
                    self.assertAlmostEqual(
                        calib.magnitudeToInstFlux(expected, point), flux, delta=1e-11 * flux, msg="inverse"
                    )

    def testMagnitudeOfNonPositiveFlux(self):
        calib = afwImage.PhotoCalib(2.5, 0.1)
        self.assertTrue(math.isnan(calib.instFluxToMagnitude(-1e-3)))
        self.assertEqual(calib.instFluxToMagnitude(0.0), math.inf)
        negative = calib.instFluxToMagnitude(-4.0, 1.0)
        self.assertTrue(math.isnan(negative.value))
        self.assertEqual(negative.error, -MAG_PER_LN * 0.25)
        self.assertTrue(math.isnan(calib.instFluxToMagnitude(math.nan)))

    def testMagnitudeErrorOfZeroFlux(self):
        measurement = afwImage.PhotoCalib(2.5, 0.1).instFluxToMagnitude(0.0, 1.0)
        self.assertEqual(measurement.value, math.inf)
        self.assertEqual(measurement.error, math.inf)
        # the signed IEEE quotient: err / +0 and err / -0
        calib = afwImage.PhotoCalib(2.5, 0.1)
        self.assertEqual(calib.instFluxToMagnitude(0.0, -1.0).error, -math.inf)
        self.assertEqual(calib.instFluxToMagnitude(-0.0, 1.0).error, -math.inf)
        self.assertEqual(calib.instFluxToMagnitude(-0.0, 1.0).value, math.inf)
        self.assertTrue(math.isnan(calib.instFluxToMagnitude(0.0, 0.0).error))

    def testNegativeCalibrationRejected(self):
        for args in ((-1.0,), (-1e-300, 0.0), (1.0, -0.5)):
            with self.assertRaises(InvalidParameterError, msg=str(args)):
                afwImage.PhotoCalib(*args)
        # zero is allowed (non-negative)
        self.assertEqual(afwImage.PhotoCalib(0.0).getCalibrationMean(), 0.0)
        self.assertEqual(afwImage.PhotoCalib(0.0).instFluxToNanojansky(5.0), 0.0)

    def testEquality(self):
        self.assertEqual(afwImage.PhotoCalib(2.5, 0.1), afwImage.PhotoCalib(2.5, 0.1))
        self.assertNotEqual(afwImage.PhotoCalib(2.5, 0.1), afwImage.PhotoCalib(2.5, 0.2))
        self.assertNotEqual(afwImage.PhotoCalib(2.5, 0.1), afwImage.PhotoCalib(2.6, 0.1))
        self.assertFalse(afwImage.PhotoCalib(2.5, 0.1) != afwImage.PhotoCalib(2.5, 0.1))

    def testCalibrateImageFloatArithmetic(self):
        """afw multiplies float32 pixels by the float32 mean, and the
        variance by the float32 mean squared in float32."""
        original = makeMaskedImage()
        for mean in (2.5, 0.1234567, 1e-3, 3.3, 57.5):
            with self.subTest(mean=mean):
                calib = afwImage.PhotoCalib(mean, 0.5 * mean)
                calibrated = calib.calibrateImage(original)
                f32 = np.float32(mean)
                self.assertEqual(calibrated.image.array.dtype, np.float32)
                np.testing.assert_array_equal(calibrated.image.array, original.image.array * f32)
                np.testing.assert_array_equal(
                    calibrated.variance.array, original.variance.array * (f32 * f32)
                )
                np.testing.assert_array_equal(calibrated.mask.array, original.mask.array)
                self.assertEqual(calibrated.getXY0(), geom.Point2I(3, -2))
        # the input is not modified
        np.testing.assert_array_equal(original.image.array, makeMaskedImage().image.array)

    def testCalibrateImageOfExposureCutout(self):
        """The calibration of an exposure's masked image scales exactly the
        pixels the exposure holds (NaN off-image pixels stay NaN)."""
        exposure = makeExposure()
        cutout = exposure.getCutout(geom.Point2D(1000.2, 2000.3), geom.Extent2I(5, 5))
        calibrated = exposure.getPhotoCalib().calibrateImage(cutout.maskedImage)
        inside = np.isfinite(cutout.image.array)
        self.assertTrue(inside.any() and not inside.all())
        np.testing.assert_array_equal(
            calibrated.image.array[inside], cutout.image.array[inside] * np.float32(2.5)
        )
        self.assertTrue(np.all(np.isnan(calibrated.image.array[~inside])))
        self.assertTrue(np.all(np.isposinf(calibrated.variance.array[~inside])))


@unittest.skipUnless(HAVE_AFW, "needs the real lsst.afw (the .venv-afw tier)")
class CrossTierPhotoCalibTestCase(lsst.utils.tests.TestCase):
    """The model's PhotoCalib against real afw's, value for value."""

    def setUp(self):
        from lsst.ap.alerts.afwModel import geom as modelGeom
        from lsst.ap.alerts.afwModel import image as modelImage

        self.modelGeom, self.modelImage = modelGeom, modelImage

    def testConversionsIdentical(self):
        point, modelPoint = geom.Point2D(1.0, 2.0), self.modelGeom.Point2D(1.0, 2.0)
        for mean, err in CALIBRATIONS:
            afwCalib = afwImage.PhotoCalib(mean, err)
            modelCalib = self.modelImage.PhotoCalib(mean, err)
            self.assertEqual(modelCalib.getInstFluxAtZeroMagnitude(), afwCalib.getInstFluxAtZeroMagnitude())
            self.assertEqual(str(modelCalib), str(afwCalib))
            for flux in FLUXES + tuple(-f for f in FLUXES):
                fluxErr = 0.01 * abs(flux) + 0.1
                with self.subTest(mean=mean, flux=flux):
                    self.assertEqual(
                        modelCalib.instFluxToNanojansky(flux), afwCalib.instFluxToNanojansky(flux)
                    )
                    self.assertEqual(
                        modelCalib.instFluxToNanojansky(flux, modelPoint),
                        afwCalib.instFluxToNanojansky(flux, point),
                    )
                    ours, theirs = (
                        modelCalib.instFluxToNanojansky(flux, fluxErr),
                        afwCalib.instFluxToNanojansky(flux, fluxErr),
                    )
                    self.assertEqual((ours.value, ours.error), (theirs.value, theirs.error))
                    np.testing.assert_equal(
                        modelCalib.instFluxToMagnitude(flux), afwCalib.instFluxToMagnitude(flux)
                    )
                    ours, theirs = (
                        modelCalib.instFluxToMagnitude(flux, fluxErr),
                        afwCalib.instFluxToMagnitude(flux, fluxErr),
                    )
                    np.testing.assert_equal((ours.value, ours.error), (theirs.value, theirs.error))
                    self.assertEqual(
                        modelCalib.nanojanskyToInstFlux(flux), afwCalib.nanojanskyToInstFlux(flux)
                    )
                    magnitude = 20.0 + flux / 1e7
                    self.assertEqual(
                        modelCalib.magnitudeToInstFlux(magnitude), afwCalib.magnitudeToInstFlux(magnitude)
                    )

    def testCalibrateImageIdentical(self):
        afwMaskedImage = makeMaskedImage()
        modelMaskedImage = self.modelImage.MaskedImageF(
            self.modelGeom.Box2I(self.modelGeom.Point2I(3, -2), self.modelGeom.Extent2I(4, 2))
        )
        for plane in ("image", "variance", "mask"):
            getattr(modelMaskedImage, plane).array[:] = getattr(afwMaskedImage, plane).array
        for mean in (2.5, 0.1234567, 1e-3, 3.3, 57.5):
            with self.subTest(mean=mean):
                theirs = afwImage.PhotoCalib(mean).calibrateImage(afwMaskedImage)
                ours = self.modelImage.PhotoCalib(mean).calibrateImage(modelMaskedImage)
                for plane in ("image", "variance", "mask"):
                    np.testing.assert_array_equal(
                        getattr(ours, plane).array, getattr(theirs, plane).array, err_msg=plane
                    )

    def testCalibZeroPointIdentical(self):
        for fluxMag0, fluxMag0Err in ((1e10, 1e8), (63095734448.0, 0.0), (3.5e11, 2e9)):
            theirs = afwImage.makePhotoCalibFromCalibZeroPoint(fluxMag0, fluxMag0Err)
            ours = self.modelImage.makePhotoCalibFromCalibZeroPoint(fluxMag0, fluxMag0Err)
            self.assertEqual(ours.getCalibrationMean(), theirs.getCalibrationMean())
            self.assertEqual(ours.getCalibrationErr(), theirs.getCalibrationErr())
        # FLUXMAG0 = 0 (old files): an infinite mean, a NaN error
        theirs = afwImage.makePhotoCalibFromCalibZeroPoint(0.0, 0.0)
        ours = self.modelImage.makePhotoCalibFromCalibZeroPoint(0.0, 0.0)
        self.assertEqual(ours.getCalibrationMean(), theirs.getCalibrationMean())
        self.assertTrue(math.isinf(ours.getCalibrationMean()))
        self.assertTrue(math.isnan(ours.getCalibrationErr()) and math.isnan(theirs.getCalibrationErr()))


@unittest.skipIf(HAVE_AFW, "model-only API")
class ModelPhotoCalibTestCase(lsst.utils.tests.TestCase):
    def testCalibrateImageDeprecatedArgument(self):
        exposure = makeExposure()
        with self.assertWarns(FutureWarning):
            calibrated = afwImage.PhotoCalib(2.0, 0.5).calibrateImage(
                exposure.maskedImage, includeScaleUncertainty=True
            )
        # the calibration error is not folded into the variance (as current afw)
        np.testing.assert_allclose(calibrated.variance.array, exposure.variance.array * 4.0, rtol=1e-7)

    def testArrayFlux(self):
        calib = afwImage.PhotoCalib(2.5)
        np.testing.assert_array_equal(
            calib.instFluxToNanojansky(np.array([1.0, -2.0, 4.0])), [2.5, -5.0, 10.0]
        )

    def testCalibZeroPoint(self):
        # FLUXMAG0 is the instrumental flux of a 0 mag source
        calib = afwImage.makePhotoCalibFromCalibZeroPoint(1e10, 1e8)
        self.assertAlmostEqual(calib.getCalibrationMean() * 1e10 / ZERO_MAG_NJY, 1.0, places=12)
        self.assertAlmostEqual(calib.getCalibrationErr() / calib.getCalibrationMean(), 1e-2, places=12)

    def testUncalibrateImage(self):
        original = makeMaskedImage()
        calib = afwImage.PhotoCalib(2.5)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            back = calib.uncalibrateImage(calib.calibrateImage(original))
        np.testing.assert_allclose(back.image.array, original.image.array, rtol=1e-6)
        np.testing.assert_allclose(back.variance.array, original.variance.array, rtol=1e-6)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
