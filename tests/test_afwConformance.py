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

"""Conformance of the afw-compatible model with the afw API the package's
users rely on.

``API`` lists, for every class and function the model mirrors, the afw /
daf_base / lsst.geom public names that ap_association's PackageAlertsTask,
ap_pipe's DiaPipelineTask and the usual test utilities (meas_base's
TestDataset, afw's test utilities) call; ``ABSENT`` names the ones the model
leaves out on purpose, with the reason.  Every listed name must exist in the
model (both tiers).  With real afw importable the same lists are checked
against the real classes by introspection (so the list names real API and
the absent names really are afw's), and the model's results are compared
call by call with afw's (bit-identical where the arithmetic is the same).
"""

import importlib
import math
import unittest

import lsst.utils.tests
import numpy as np

import lsst.ap.alerts.afwModel.geom as modelGeom
import lsst.ap.alerts.afwModel.image as modelImage
from lsst.ap.alerts._afw import HAVE_AFW

# (model object, real object): "module:attribute" paths
CLASSES = {
    "Exposure": ("lsst.ap.alerts.afwModel.image:ExposureF", "lsst.afw.image:ExposureF"),
    "ExposureInfo": ("lsst.ap.alerts.afwModel.image:ExposureInfo", "lsst.afw.image:ExposureInfo"),
    "MaskedImage": ("lsst.ap.alerts.afwModel.image:MaskedImageF", "lsst.afw.image:MaskedImageF"),
    "Image": ("lsst.ap.alerts.afwModel.image:ImageF", "lsst.afw.image:ImageF"),
    "Mask": ("lsst.ap.alerts.afwModel.image:Mask", "lsst.afw.image:MaskX"),
    "PhotoCalib": ("lsst.ap.alerts.afwModel.image:PhotoCalib", "lsst.afw.image:PhotoCalib"),
    "VisitInfo": ("lsst.ap.alerts.afwModel.image:VisitInfo", "lsst.afw.image:VisitInfo"),
    "FilterLabel": ("lsst.ap.alerts.afwModel.image:FilterLabel", "lsst.afw.image:FilterLabel"),
    "SkyWcs": ("lsst.ap.alerts.afwModel.image:SkyWcs", "lsst.afw.geom:SkyWcs"),
    "GaussianPsf": ("lsst.ap.alerts.afwModel.image:GaussianPsf", "lsst.afw.detection:GaussianPsf"),
    "Psf": ("lsst.ap.alerts.afwModel.image:Psf", "lsst.afw.detection:Psf"),
    "DateTime": ("lsst.ap.alerts.afwModel.image:DateTime", "lsst.daf.base:DateTime"),
    "Detector": ("lsst.ap.alerts.afwModel.image:Detector", "lsst.afw.cameraGeom:Detector"),
    "Box2I": ("lsst.ap.alerts.afwModel.geom:Box2I", "lsst.geom:Box2I"),
    "Box2D": ("lsst.ap.alerts.afwModel.geom:Box2D", "lsst.geom:Box2D"),
    "Point2D": ("lsst.ap.alerts.afwModel.geom:Point2D", "lsst.geom:Point2D"),
    "Point2I": ("lsst.ap.alerts.afwModel.geom:Point2I", "lsst.geom:Point2I"),
    "Extent2I": ("lsst.ap.alerts.afwModel.geom:Extent2I", "lsst.geom:Extent2I"),
    "Angle": ("lsst.ap.alerts.afwModel.geom:Angle", "lsst.geom:Angle"),
    "SpherePoint": ("lsst.ap.alerts.afwModel.geom:SpherePoint", "lsst.geom:SpherePoint"),
    "afwImage": ("lsst.ap.alerts.afwModel.image", "lsst.afw.image"),
    "afwGeom": ("lsst.ap.alerts.afwModel.image", "lsst.afw.geom"),
    "geom": ("lsst.ap.alerts.afwModel.geom", "lsst.geom"),
}

API = {
    "Exposure": """getBBox getDimensions getWidth getHeight getX0 getY0 getXY0 setXY0 getWcs setWcs hasWcs
        getPsf setPsf hasPsf getPhotoCalib setPhotoCalib getDetector setDetector getFilter setFilter
        getInfo setInfo getMetadata setMetadata getMaskedImage setMaskedImage getImage setImage getMask
        setMask getVariance setVariance getCutout clone subset writeFits readFits image mask variance
        maskedImage wcs psf photoCalib detector filter visitInfo metadata info width height x0 y0""",
    "ExposureInfo": """getId setId hasId id getWcs setWcs hasWcs getPsf setPsf hasPsf getPhotoCalib
        setPhotoCalib hasPhotoCalib getDetector setDetector hasDetector getFilter setFilter hasFilter
        getVisitInfo setVisitInfo hasVisitInfo getSummaryStats setSummaryStats hasSummaryStats
        getComponent setComponent hasComponent removeComponent getApCorrMap getValidPolygon""",
    "MaskedImage": """getImage getMask getVariance setImage setMask setVariance image mask variance getBBox
        getDimensions getWidth getHeight getX0 getY0 getXY0 setXY0 clone subset assign set writeFits""",
    "Image": """array getArray getBBox getDimensions getWidth getHeight getX0 getY0 getXY0 setXY0 clone
        subset assign set writeFits readFits""",
    "Mask": """getPlaneBitMask addMaskPlane getMaskPlane getMaskPlaneDict removeAndClearMaskPlane
        clearMaskPlane clearAllMaskPlanes getNumPlanesMax getNumPlanesUsed interpret array""",
    "PhotoCalib": """getCalibrationMean getCalibrationErr getLocalCalibration getInstFluxAtZeroMagnitude
        instFluxToNanojansky instFluxToMagnitude magnitudeToInstFlux nanojanskyToInstFlux calibrateImage
        uncalibrateImage writeFits readFits""",
    "VisitInfo": """getDate getExposureTime getDarkTime getId getBoresightRaDec getBoresightAzAlt
        getBoresightRotAngle getBoresightAirmass getRotType getObservatory getWeather getEra getUt1
        getInstrumentLabel getObservationType getScienceProgram getObservationReason getObject getFocusZ
        getHasSimulatedContent date exposureTime darkTime id boresightRaDec boresightRotAngle rotType
        instrumentLabel observationReason object writeFits readFits""",
    "FilterLabel": "bandLabel physicalLabel hasBandLabel hasPhysicalLabel",
    "SkyWcs": """pixelToSky skyToPixel pixelToSkyArray skyToPixelArray getCdMatrix getPixelOrigin
        getSkyOrigin getPixelScale getFitsMetadata isFlipped isFits copyAtShiftedPixelOrigin getTanWcs""",
    "GaussianPsf": """computeKernelImage computeImage computeBBox computeKernelBBox computeImageBBox
        computeShape computePeak computeApertureFlux getAveragePosition getSigma getDimensions clone
        resized isPersistable""",
    "Psf": """computeKernelImage computeImage computeBBox computeImageBBox computeShape computePeak
        computeApertureFlux getAveragePosition getAverageColor clone resized recenterKernelImage
        getCacheCapacity setCacheCapacity isPersistable""",
    "DateTime": """get nsecs toString toPython toAstropy isValid now MJD JD EPOCH TAI UTC TT DateSystem
        Timescale""",
    "Detector": "getName getId getSerial getBBox getType getPhysicalType getPixelSize",
    "Box2I": """makeCenteredBox getMin getMax getMinX getMinY getMaxX getMaxY getBeginX getBeginY getEndX
        getEndY getWidth getHeight getDimensions getCenter contains clippedTo isEmpty shiftedBy""",
    "Box2D": "getMin getMax getMinX getMinY getMaxX getMaxY getWidth getHeight getCenter contains isEmpty",
    "Point2D": "getX getY x y",
    "Point2I": "getX getY x y",
    "Extent2I": "getX getY",
    "Angle": "asDegrees asRadians asArcseconds wrap wrapCtr",
    "SpherePoint": "getRa getDec getLongitude getLatitude separation bearingTo offset",
    "afwImage": """ExposureF MaskedImageF ImageF ImageD Mask PhotoCalib VisitInfo FilterLabel RotType
        ExposureInfo PARENT LOCAL""",
    "afwGeom": "SkyWcs makeSkyWcs makeCdMatrix makeTanSipWcs",
    "geom": """Point2D Point2I Extent2I Extent2D Box2I Box2D Angle SpherePoint degrees radians arcseconds""",
}

ABSENT = {
    ("PhotoCalib", "calibrateCatalog"): "needs afw.table catalogs, which the model does not have",
    ("PhotoCalib", "instFluxToMagnitudeArray"): "spatially varying calibrations only; the model is constant",
    ("PhotoCalib", "computeScaledCalibration"): "BoundedField algebra; the model is constant",
    ("SkyWcs", "getFrameDict"): "AST FrameDict: the model is FITS-WCS on astropy, not AST",
    ("SkyWcs", "linearizePixelToSky"): "afw.geom.AffineTransform is not modelled; getCdMatrix gives the "
    "local Jacobian",
    ("Psf", "getLocalKernel"): "afw.math kernels are not modelled (computeKernelImage gives the image)",
    ("DateTime", "gmtime"): "C struct tm; toPython/toString cover it",
    ("DateTime", "timespec"): "C struct timespec",
    ("Detector", "getAmplifiers"): "cameraGeom amplifiers are not modelled (alert packaging uses the id)",
    ("Detector", "getTransform"): "cameraGeom transforms are not modelled",
    ("Exposure", "getConvexPolygon"): "sphgeom regions of exposures are not modelled",
}


def _resolve(path):
    module, _, attribute = path.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, attribute) if attribute else obj


def _names(spec):
    return spec.split()


class ModelApiTestCase(lsst.utils.tests.TestCase):
    """Every listed name exists in the model (both tiers)."""

    def testListedNamesExistInModel(self):
        for key, spec in API.items():
            model = _resolve(CLASSES[key][0])
            missing = [name for name in _names(spec) if not hasattr(model, name)]
            self.assertEqual(missing, [], msg=f"{key}: missing in the model")

    def testAbsentNamesAreAbsent(self):
        for key, name in ABSENT:
            self.assertFalse(
                hasattr(_resolve(CLASSES[key][0]), name), msg=f"{key}.{name} is listed as absent"
            )


@unittest.skipUnless(HAVE_AFW, "needs the real lsst.afw (the .venv-afw tier)")
class AfwIntrospectionTestCase(lsst.utils.tests.TestCase):
    """The lists name real afw API."""

    def testListedNamesExistInAfw(self):
        for key, spec in API.items():
            real = _resolve(CLASSES[key][1])
            missing = [name for name in _names(spec) if not hasattr(real, name)]
            self.assertEqual(missing, [], msg=f"{key}: not in {CLASSES[key][1]}")

    def testAbsentNamesExistInAfw(self):
        for key, name in ABSENT:
            self.assertTrue(hasattr(_resolve(CLASSES[key][1]), name), msg=f"{key}.{name} is not afw API")


@unittest.skipUnless(HAVE_AFW, "needs the real lsst.afw (the .venv-afw tier)")
class AfwSemanticsTestCase(lsst.utils.tests.TestCase):
    """The same calls on the model and on real afw give the same results."""

    def setUp(self):
        import lsst.afw.detection as afwDetection
        import lsst.afw.geom as afwGeom
        import lsst.afw.image as afwImage
        import lsst.daf.base as dafBase
        import lsst.geom as geom

        self.afwImage, self.afwGeom, self.geom = afwImage, afwGeom, geom
        self.afwDetection, self.dafBase = afwDetection, dafBase
        self.rng = np.random.default_rng(20261201)

    def testDateTime(self):
        real, model = self.dafBase.DateTime, modelImage.DateTime
        for mjd in self.rng.uniform(45000.0, 70000.0, 500):
            mjd = float(mjd)
            for system in ("MJD", "JD", "EPOCH"):
                value = real(mjd, real.MJD, real.TAI).get(getattr(real, system))
                r, m = real(value, getattr(real, system), real.TAI), model(value, getattr(model, system))
                self.assertEqual(m.nsecs(), r.nsecs(), msg=f"{system} {value}")
                self.assertEqual(m.get(getattr(model, system)), r.get(getattr(real, system)))
            r, m = real(mjd), model(mjd)  # a float is an MJD by default
            self.assertEqual(m.nsecs(), r.nsecs())
            self.assertEqual(m.nsecs(model.UTC), r.nsecs(real.UTC))
            self.assertEqual(m.get(model.MJD, model.UTC), r.get(real.MJD, real.UTC))
            self.assertEqual(m.toString(model.UTC), r.toString(real.UTC))
            self.assertEqual(m.toString(model.TT), r.toString(real.TT))
            self.assertEqual(m.toAstropy().mjd, r.toAstropy().mjd)
            self.assertEqual(m.toPython(), r.toPython())
            self.assertEqual(repr(m), repr(r))
        nsecs = int(self.rng.integers(0, 2**62))
        self.assertEqual(model(nsecs).nsecs(), real(nsecs).nsecs())
        self.assertEqual(
            model(2020, 1, 20, 12, 34, 56, model.UTC).nsecs(), real(2020, 1, 20, 12, 34, 56, real.UTC).nsecs()
        )
        for text, scale in (
            ("2020-01-20T12:34:56.123456789123", "TAI"),
            ("20200120T123456Z", "UTC"),
            ("2020-01-20T12:34:56,5Z", "UTC"),
            ("2020-01-20T12:34:56.5", "TT"),
        ):
            self.assertEqual(
                model(text, getattr(model, scale)).nsecs(), real(text, getattr(real, scale)).nsecs()
            )
        from lsst.pex.exceptions import DomainError

        for text, scale in (("2020-01-20T12:34:56Z", "TAI"), ("2020-01-20T12:34:56", "UTC")):
            with self.assertRaises(modelImage.DomainError):
                model(text, getattr(model, scale))
            with self.assertRaises(DomainError):
                real(text, getattr(real, scale))

    def testPhotoCalib(self):
        for _ in range(300):
            mean, err = 10 ** self.rng.uniform(-3, 3), 10 ** self.rng.uniform(-4, 1)
            flux = float(self.rng.normal() * 10 ** self.rng.uniform(0, 6))
            fluxErr = float(self.rng.uniform(0, 50))
            r, m = self.afwImage.PhotoCalib(mean, err), modelImage.PhotoCalib(mean, err)
            for call, args in (
                ("instFluxToNanojansky", (flux,)),
                ("instFluxToMagnitude", (flux,)),
                ("magnitudeToInstFlux", (float(self.rng.uniform(10, 30)),)),
                ("nanojanskyToInstFlux", (flux,)),
            ):
                expected, got = getattr(r, call)(*args), getattr(m, call)(*args)
                self.assertTrue(got == expected or (math.isnan(got) and math.isnan(expected)), msg=call)
            for call in ("instFluxToNanojansky", "instFluxToMagnitude"):
                expected, got = getattr(r, call)(flux, fluxErr), getattr(m, call)(flux, fluxErr)
                self.assertTrue(got.value == expected.value or math.isnan(expected.value), msg=call)
                self.assertEqual(got.error, expected.error, msg=call)

    def testMaskPlanesAndCutout(self):
        g = self.geom
        real = self.afwImage.ExposureF(g.Box2I(g.Point2I(10, 20), g.Extent2I(40, 30)))
        model = modelImage.ExposureF(modelGeom.Box2I(modelGeom.Point2I(10, 20), modelGeom.Extent2I(40, 30)))
        for exposure in (real, model):
            exposure.image.array[:] = np.arange(1200, dtype=np.float32).reshape(30, 40)
            exposure.variance.array[:] = 2.0
            exposure.mask.array[:] = 0
            exposure.mask.array[3, 4] = exposure.mask.getPlaneBitMask(["SAT", "STREAK"])
        for name, bit in modelImage.Mask(1, 1).getMaskPlaneDict().items():
            self.assertEqual(real.mask.getMaskPlaneDict()[name], bit, msg=name)
        for x, y, size in ((10.2, 20.3, 7), (49.4, 49.4, 11), (30.0, 35.0, 5)):
            r = real.getCutout(self.geom.Point2D(x, y), self.geom.Extent2I(size, size))
            m = model.getCutout(modelGeom.Point2D(x, y), modelGeom.Extent2I(size, size))
            self.assertEqual((m.getX0(), m.getY0()), (r.getX0(), r.getY0()))
            for plane in ("image", "mask", "variance"):
                np.testing.assert_array_equal(getattr(m, plane).array, getattr(r, plane).array, err_msg=plane)

    def testGeometry(self):
        for _ in range(200):
            x, y = (float(v) for v in self.rng.uniform(-100, 100, 2))
            w, h = (int(v) for v in self.rng.integers(1, 40, 2))
            r = self.geom.Box2I.makeCenteredBox(self.geom.Point2D(x, y), self.geom.Extent2I(w, h))
            m = modelGeom.Box2I.makeCenteredBox(modelGeom.Point2D(x, y), modelGeom.Extent2I(w, h))
            self.assertEqual(
                (m.getMinX(), m.getMinY(), m.getWidth(), m.getHeight()),
                (r.getMinX(), r.getMinY(), r.getWidth(), r.getHeight()),
            )

    def testWcs(self):
        g, mg = self.geom, modelGeom
        for orientation, flip in ((30.0, True), (123.0, False)):
            cd = self.afwGeom.makeCdMatrix(0.2 * g.arcseconds, orientation * g.degrees, flip)
            mcd = modelImage.makeCdMatrix(0.2 * mg.arcseconds, orientation * mg.degrees, flip)
            np.testing.assert_allclose(mcd, cd, rtol=1e-15, atol=0)
            real = self.afwGeom.makeSkyWcs(g.Point2D(500.0, 400.0), g.SpherePoint(150.0, 2.5, g.degrees), cd)
            model = modelImage.makeSkyWcs(
                mg.Point2D(500.0, 400.0), mg.SpherePoint(150.0, 2.5, mg.degrees), cd
            )
            # afw's CD is AST's numerical Jacobian at CRPIX (tests/afwModel/image/test_wcs.py, testTan)
            np.testing.assert_allclose(
                model.getCdMatrix(), real.getCdMatrix(), rtol=0, atol=1e-8 * np.abs(cd).max()
            )
            for x, y in self.rng.uniform(-2000, 3000, (20, 2)):
                r, m = real.pixelToSky(g.Point2D(x, y)), model.pixelToSky(mg.Point2D(x, y))
                self.assertLess(abs(r.getRa().asDegrees() - m.getRa().asDegrees()) * 3600, 1e-9)
                self.assertLess(abs(r.getDec().asDegrees() - m.getDec().asDegrees()) * 3600, 1e-9)
                back = real.skyToPixel(r)
                mback = model.skyToPixel(m)
                self.assertLess(max(abs(back.getX() - mback.getX()), abs(back.getY() - mback.getY())), 1e-8)
            self.assertEqual(model.isFlipped, real.isFlipped)

    def testGaussianPsf(self):
        real, model = self.afwDetection.GaussianPsf(21, 19, 2.2), modelImage.GaussianPsf(21, 19, 2.2)
        for point in ((0.0, 0.0), (100.3, 200.7)):
            r = real.computeKernelImage(self.geom.Point2D(*point))
            m = model.computeKernelImage(modelGeom.Point2D(*point))
            self.assertEqual((m.getX0(), m.getY0()), (r.getX0(), r.getY0()))
            np.testing.assert_array_equal(m.array, r.array)
            r = real.computeImage(self.geom.Point2D(*point))
            m = model.computeImage(modelGeom.Point2D(*point))
            self.assertEqual((m.getX0(), m.getY0(), m.getWidth()), (r.getX0(), r.getY0(), r.getWidth()))
            # Lanczos-5 recentring: same recipe, equal to interpolation accuracy
            np.testing.assert_allclose(m.array, r.array, rtol=0, atol=1e-6)
        self.assertAlmostEqual(
            model.computeShape(modelGeom.Point2D(0, 0)).getIxx(),
            real.computeShape(self.geom.Point2D(0, 0)).getIxx(),
            places=10,
        )

    def testGaussianPsfKernels(self):
        """Kernel images equal to the last bit: their pixels land in the alerts' PSF HDUs."""
        for sigma in self.rng.uniform(0.3, 6.0, 150):
            for size in (7, 15, 21, 41):
                real = self.afwDetection.GaussianPsf(size, size + 2, float(sigma))
                model = modelImage.GaussianPsf(size, size + 2, float(sigma))
                position = self.geom.Point2D(*self.rng.uniform(-50, 5000, 2))
                r = real.computeKernelImage(position)
                m = model.computeKernelImage(modelGeom.Point2D(position.getX(), position.getY()))
                self.assertEqual((m.getX0(), m.getY0()), (r.getX0(), r.getY0()))
                np.testing.assert_array_equal(m.array, r.array, err_msg=f"sigma {sigma}, size {size}")


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
