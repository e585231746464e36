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

"""FITS reading and writing (`lsst.ap.alerts.afwModel.fits`): exposure
write -> read round trips (run with afw or the model), the reader on real
afw-written files (skipped when ``shared/data/afw`` is absent), the model's
writer layout and errors (model only), and files crossing between the model
and real afw (afw only).
"""

import math
import os
import tempfile
import unittest

import lsst.utils.tests
import numpy as np
from imageHelpers import AFW_DATA, DateTime, afwDataPath, makeFitsExposure

from lsst.ap.alerts._afw import HAVE_AFW, afwGeom, afwImage, geom


def makeModelFitsExposure():
    """makeFitsExposure(), built with the model's classes whatever the tier,
    and the tier's own makeFitsExposure() (to compare with)."""
    import lsst.ap.alerts.afwModel.geom as g
    import lsst.ap.alerts.afwModel.image as mi

    bbox = g.Box2I(g.Point2I(123, -45), g.Extent2I(30, 20))
    exposure = mi.ExposureF(bbox)
    reference = makeFitsExposure()
    exposure.image.array[:] = reference.image.array
    exposure.variance.array[:] = reference.variance.array
    exposure.mask.array[:] = reference.mask.array
    sipA, sipB = np.zeros((3, 3)), np.zeros((3, 3))
    sipA[2, 0], sipB[0, 2] = 1e-6, -2e-6
    cd = mi.makeCdMatrix(0.2 * g.arcseconds, 20.0 * g.degrees)
    exposure.setWcs(
        mi.makeTanSipWcs(g.Point2D(140.0, -30.0), g.SpherePoint(200.0, -30.0, g.degrees), cd, sipA, sipB)
    )
    exposure.setPhotoCalib(mi.PhotoCalib(0.75, 0.01))
    exposure.setPsf(mi.GaussianPsf(17, 17, 1.7))
    exposure.setFilter(mi.FilterLabel(band="i", physical="i_39"))
    exposure.info.id = 20240101123
    exposure.info.setVisitInfo(
        mi.VisitInfo(
            id=2024010112,
            exposureTime=30.0,
            darkTime=30.5,
            date=mi.DateTime("2024-01-01T03:04:05.123456789", mi.DateTime.TAI),
            boresightRaDec=g.SpherePoint(200.1, -29.9, g.degrees),
            boresightRotAngle=33.0 * g.degrees,
            rotType=mi.RotType.SKY,
            observationReason="science",
            object="field",
            instrumentLabel="LSSTCam",
        )
    )
    return exposure, reference


def addTestMetadata(metadata):
    """Add repeated HISTORY and COMMENT values and keys of each FITS type."""
    metadata.add("HISTORY", "first history")
    metadata.set("BIGINT", 2**40, "a 64-bit integer")
    metadata.add("HISTORY", "second history")
    metadata.add("COMMENT", "a comment")
    metadata.set("FLAG", True, "a bool")
    metadata.add("COMMENT", "another comment")
    metadata.set("FLOATY", 1.25)
    metadata.set("TEXT", "some text")
    metadata.set("A_VERY_LONG_KEYWORD_NAME", 3)
    metadata.set("DATE-OBS", "2024-01-01T00:00:00")  # read by afw's WCS and VisitInfo, then stripped


def describeMetadata(metadata):
    """Each name of ``metadata`` in order, with its values, value types
    (``int`` for a 32-bit integer, ``long`` for a wider one) and comment."""
    result = []
    for name in metadata.getOrderedNames():
        values = metadata.getArray(name)
        kind = type(values[-1]).__name__
        if kind == "int":
            try:
                metadata.getAsInt(name)
            except TypeError:  # pex TypeError: not a 32-bit integer
                kind = "long"
        result.append((name, values, kind, metadata.getComment(name)))
    return result


def writeAstropyExposure(path):
    """An exposure file written by astropy alone, with COMMENT and HISTORY
    cards in its primary and image HDUs, as afw lays an exposure out.

    Returns
    -------
    expected : `list`
        The metadata afw reads from it, worked out by hand (as
        `describeMetadata`): the primary's names, the FITS standard's
        comment lines dropped and the blank-keyword card a COMMENT, then
        the image HDU's names, its HISTORY appended to the primary's and
        its OVERRID replacing the primary's (and moving to its place).
    """
    from astropy.io import fits

    primary = fits.Header()
    for card in (
        ("COMMENT", "  FITS (Flexible Image Transport System) format is defined in 'Astronomy"),
        ("COMMENT", "  and Astrophysics', volume 376, page 359; bibcode: 2001A&A...376..359H"),
        ("HIERARCH EXPINFO_V", 2),
        ("HISTORY", "reduced by pipeline A"),
        ("OBSERVER", "someone", "who observed"),
        ("HISTORY", "calibrated"),
        ("COMMENT", "first note"),
        ("", "a blank-keyword note"),
        ("EXPTIME", 15.0),
        ("OVERRID", 1),
        ("LONGVAL", 3_000_000_000),
    ):
        primary.append(card, end=True)  # in this order (astropy would move commentary cards last)
    hdus = [fits.PrimaryHDU(header=primary)]
    shape = (4, 5)
    for extType, data in (
        ("IMAGE", np.arange(20, dtype=np.float32).reshape(shape)),
        ("MASK", np.zeros(shape, dtype=np.int32)),
        ("VARIANCE", np.ones(shape, dtype=np.float32)),
    ):
        header = fits.Header()
        header["INHERIT"] = True
        header["EXTTYPE"] = extType
        header["EXTNAME"] = extType
        if extType == "IMAGE":
            header.append(("HISTORY", "from the image HDU"), end=True)
            header.append(("OVERRID", 2, "the image HDU's"), end=True)
        hdus.append(fits.ImageHDU(data=data, header=header))
    fits.HDUList(hdus).writeto(path)
    return [
        ("EXPINFO_V", [2], "int", ""),
        ("HISTORY", ["reduced by pipeline A", "calibrated", "from the image HDU"], "str", ""),
        ("OBSERVER", ["someone"], "str", "who observed"),
        ("COMMENT", ["first note", "a blank-keyword note"], "str", ""),
        ("LONGVAL", [3_000_000_000], "long", ""),
        ("EXTNAME", ["IMAGE"], "str", ""),
        ("OVERRID", [2], "int", "the image HDU's"),
    ]


class RoundTripTestCase(lsst.utils.tests.TestCase):
    def testWriteRead(self):
        exposure = makeFitsExposure()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "exposure.fits")
            exposure.writeFits(path)
            copy = afwImage.ExposureF.readFits(path)
            copy2 = afwImage.ExposureF(path)
        self.assertEqual(copy.getBBox(), exposure.getBBox())
        self.assertEqual(copy2.getBBox(), exposure.getBBox())
        np.testing.assert_array_equal(copy.image.array, exposure.image.array)
        np.testing.assert_array_equal(copy.mask.array, exposure.mask.array)
        np.testing.assert_array_equal(copy.variance.array, exposure.variance.array)
        self.assertEqual(copy.mask.getMaskPlaneDict()["SAT"], exposure.mask.getMaskPlaneDict()["SAT"])
        for x, y in ((123.0, -45.0), (152.0, -26.0), (500.0, 500.0)):
            point = geom.Point2D(x, y)
            sep = copy.getWcs().pixelToSky(point).separation(exposure.getWcs().pixelToSky(point))
            self.assertLess(sep.asArcseconds(), 1e-7)
        self.assertEqual(copy.getPhotoCalib().getCalibrationMean(), 0.75)
        self.assertEqual(copy.getPhotoCalib().getCalibrationErr(), 0.01)
        self.assertEqual(copy.getPsf().getSigma(), 1.7)
        self.assertEqual(copy.getFilter(), afwImage.FilterLabel(band="i", physical="i_39"))
        self.assertEqual(copy.info.id, 20240101123)
        visitInfo = copy.getInfo().getVisitInfo()
        self.assertEqual(visitInfo.getId(), 2024010112)
        self.assertEqual(visitInfo.getExposureTime(), 30.0)
        self.assertEqual(visitInfo.getDarkTime(), 30.5)
        self.assertEqual(visitInfo.getDate(), DateTime("2024-01-01T03:04:05.123456789", DateTime.TAI))
        self.assertAlmostEqual(visitInfo.getBoresightRaDec().getRa().asDegrees(), 200.1, places=10)
        self.assertAlmostEqual(visitInfo.getBoresightRotAngle().asDegrees(), 33.0, places=10)
        self.assertEqual(visitInfo.getRotType(), afwImage.RotType.SKY)
        self.assertEqual(visitInfo.getObservationReason(), "science")
        self.assertEqual(visitInfo.getObject(), "field")
        self.assertEqual(visitInfo.getInstrumentLabel(), "LSSTCam")
        self.assertEqual(copy.getMetadata().getScalar("MYKEY"), 5)


@unittest.skipUnless(AFW_DATA is not None, "afw test files (shared/data/afw) not available")
class AfwFilesTestCase(lsst.utils.tests.TestCase):
    """The reader against files written by afw itself."""

    def testExposureVersion2(self):
        exposure = afwImage.ExposureF(afwDataPath("exposure-version-2.fits"))
        self.assertEqual(exposure.getBBox(), geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(10, 10)))
        np.testing.assert_array_equal(exposure.image.array, np.arange(100, dtype=np.float32).reshape(10, 10))
        np.testing.assert_array_equal(exposure.variance.array, np.ones((10, 10), dtype=np.float32))
        expectedMask = np.zeros((10, 10), dtype=np.int32)
        expectedMask[5, 5] = 5
        np.testing.assert_array_equal(exposure.mask.array, expectedMask)
        self.assertEqual(exposure.getPhotoCalib().getCalibrationMean(), 1e6)
        self.assertEqual(exposure.getPhotoCalib().getCalibrationErr(), 2e4)
        wcs = exposure.getWcs()
        self.assertAlmostEqual(wcs.getPixelOrigin().getX(), 4.0, places=10)
        self.assertAlmostEqual(wcs.getPixelOrigin().getY(), 4.0, places=10)
        self.assertAlmostEqual(wcs.getSkyOrigin().getRa().asDegrees(), 30.0, places=10)
        self.assertAlmostEqual(wcs.getSkyOrigin().getDec().asDegrees(), 40.0, places=10)
        sky = wcs.pixelToSky(geom.Point2D(4.0, 4.0))
        self.assertAlmostEqual(sky.getRa().asDegrees(), 30.0, places=10)
        self.assertAlmostEqual(sky.getDec().asDegrees(), 40.0, places=10)
        self.assertAlmostEqual(wcs.getPixelScale().asArcseconds(), 0.2, places=6)
        np.testing.assert_allclose(
            wcs.getCdMatrix(),
            afwGeom.makeCdMatrix(0.2 * geom.arcseconds, 45 * geom.degrees),
            rtol=1e-12,
            atol=0,
        )
        visitInfo = exposure.getInfo().getVisitInfo()
        self.assertEqual(visitInfo.getExposureTime(), 30.0)
        self.assertEqual(visitInfo.getDarkTime(), 600.0)
        self.assertEqual(visitInfo.getDate(), DateTime("2020-01-20T12:34:56.000000000", DateTime.TAI))
        self.assertEqual(visitInfo.date.toAstropy().tai.isot, "2020-01-20T12:34:56.000")
        self.assertAlmostEqual(visitInfo.getBoresightRaDec().getRa().asDegrees(), 30.0, places=10)
        self.assertAlmostEqual(visitInfo.getBoresightRaDec().getDec().asDegrees(), 40.0, places=10)
        self.assertEqual(exposure.info.id, 12345)
        self.assertEqual(exposure.getFilter().bandLabel, "N656")
        self.assertEqual(exposure.getFilter().physicalLabel, "ha")
        detector = exposure.getDetector()
        self.assertEqual(detector.getName(), "detector 1")
        self.assertEqual(detector.getId(), 1)
        self.assertEqual(detector.getSerial(), "xkcd722")
        self.assertEqual(detector.getBBox(), geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(10, 10)))

    def testHscCalexp(self):
        exposure = afwImage.ExposureF(afwDataPath("HSC-0908120-056-small.fits"))
        self.assertEqual(exposure.getXY0(), geom.Point2I(100, 100))
        self.assertEqual(exposure.getBBox(), geom.Box2I(geom.Point2I(100, 100), geom.Extent2I(200, 200)))
        self.assertEqual(exposure.mask.array.dtype, np.int32)
        planes = exposure.mask.getMaskPlaneDict()
        # afw renumbers the file's planes onto the process-wide list: the
        # default planes keep their bits (NO_DATA 8, not the file's 9), the
        # file's others get the next free bits of the process (in name order)
        self.assertEqual(planes["NO_DATA"], 8)
        self.assertEqual((planes["VIGNETTED"], planes["STREAK"]), (9, 10))
        self.assertGreater(planes["CROSSTALK"], 10)
        self.assertGreater(planes["UNMASKEDNAN"], planes["CROSSTALK"])
        self.assertEqual(afwImage.Mask(1, 1).getPlaneBitMask("CROSSTALK"), 1 << planes["CROSSTALK"])
        # the pixels follow their planes: an independent remap of the raw file
        from astropy.io import fits

        with fits.open(afwDataPath("HSC-0908120-056-small.fits")) as hdul:
            raw = hdul[2].data.astype(np.int64)
            filePlanes = {k[3:]: v for k, v in hdul[2].header.items() if k.startswith("MP_")}
        self.assertEqual((filePlanes["CROSSTALK"], filePlanes["NO_DATA"]), (8, 9))
        expected = np.zeros(raw.shape, dtype=np.int64)
        for name, bit in filePlanes.items():
            expected |= ((raw >> bit) & 1) << planes[name]
        self.assertTrue(np.any(raw & (1 << 8)))
        np.testing.assert_array_equal(exposure.mask.array, expected)
        wcs = exposure.getWcs()
        # afw inverts TAN-SIP through AST's fitted inverse: its pixel origin
        # (skyToPixel of CRVAL) is 1.5e-5 px and its round trips 7.1e-4 px off
        # here; the model inverts iteratively (1e-9 px) and keeps that precision.
        tolerance = 1e-3 if HAVE_AFW else 1e-9
        # FITS CRPIX (local, 1-based) - 1 + xy0
        self.assertAlmostEqual(wcs.getPixelOrigin().getX(), 866.842697735752 - 1 + 100, delta=tolerance / 10)
        self.assertAlmostEqual(wcs.getPixelOrigin().getY(), 2004.38916604442 - 1 + 100, delta=tolerance / 10)
        for x in (100.0, 199.5, 299.0):
            for y in (100.0, 250.0, 299.0):
                point = geom.Point2D(x, y)
                back = wcs.skyToPixel(wcs.pixelToSky(point))
                self.assertAlmostEqual(back.getX(), x, delta=tolerance)
                self.assertAlmostEqual(back.getY(), y, delta=tolerance)
        # FLUXMAG0 = 0 in this old file: afw's conversion gives an infinite calibration
        calib = exposure.getPhotoCalib()
        self.assertTrue(math.isinf(calib.getCalibrationMean()))
        self.assertEqual(exposure.getInfo().getVisitInfo().getExposureTime(), 0.0)

    def testPhotoCalibFile(self):
        calib = afwImage.PhotoCalib.readFits(afwDataPath("photoCalib-version1.fits"))
        self.assertEqual(calib.getCalibrationMean(), 123.0)
        self.assertEqual(calib.getCalibrationErr(), 45.0)

    def testVisitInfoFile(self):
        visitInfo = afwImage.VisitInfo.readFits(afwDataPath("visitInfo-version-5.fits"))
        self.assertEqual(visitInfo.getExposureTime(), 10.01)
        self.assertEqual(visitInfo.getDarkTime(), 11.02)
        self.assertEqual(visitInfo.getDate(), DateTime(2137026240000000000, DateTime.TAI))
        self.assertAlmostEqual(visitInfo.getDate().get(DateTime.MJD, DateTime.TAI), 65321.1, places=9)
        self.assertAlmostEqual(
            visitInfo.getBoresightRaDec().getRa().asRadians(), 0.40317105721069013, places=14
        )
        self.assertAlmostEqual(visitInfo.getBoresightRotAngle().asRadians(), 1.2775810124598492, places=14)
        self.assertEqual(visitInfo.getRotType(), afwImage.RotType.SKY)
        self.assertEqual(visitInfo.getInstrumentLabel(), "TestCameraOne")
        self.assertEqual(visitInfo.getId(), 987654)
        self.assertEqual(visitInfo.getObservationType(), "flat")
        self.assertEqual(visitInfo.getScienceProgram(), "test program")
        self.assertEqual(visitInfo.getObservationReason(), "test reason")
        self.assertEqual(visitInfo.getObject(), "test object")
        self.assertFalse(visitInfo.getHasSimulatedContent())


@unittest.skipIf(HAVE_AFW, "model-only writer/reader details")
class ModelFitsTestCase(lsst.utils.tests.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "exposure.fits")

    def tearDown(self):
        self.tmp.cleanup()

    def testLayout(self):
        from astropy.io import fits

        exposure = makeFitsExposure()
        exposure.writeFits(self.path)
        with fits.open(self.path) as hdul:
            self.assertEqual([hdul[i].header["EXTTYPE"] for i in (1, 2, 3)], ["IMAGE", "MASK", "VARIANCE"])
            self.assertEqual([hdul[i].header["EXTNAME"] for i in (1, 2, 3)], ["IMAGE", "MASK", "VARIANCE"])
            image = hdul[1].header
            self.assertEqual((image["LTV1"], image["LTV2"]), (-123.0, 45.0))
            self.assertEqual((image["CRVAL1A"], image["CRVAL2A"]), (123.0, -45.0))
            # FITS CRPIX is relative to the array: afw pixel - xy0 + 1
            self.assertAlmostEqual(image["CRPIX1"], 140.0 - 123.0 + 1.0)
            self.assertAlmostEqual(image["CRPIX2"], -30.0 + 45.0 + 1.0)
            self.assertEqual(image["CTYPE1"], "RA---TAN-SIP")
            self.assertEqual(hdul[2].header["MP_NO_DATA"], 8)
            primary = hdul[0].header
            self.assertEqual(primary["EXPINFO_V"], 2)
            self.assertEqual(primary["AR_HDU"], 5)
            self.assertEqual(primary["EXPID"], 20240101123)
            self.assertEqual(primary["DATE-AVG"], "2024-01-01T03:04:05.123456789")
            self.assertEqual(primary["TIMESYS"], "TAI")
            self.assertEqual(hdul[4].header["EXTTYPE"], "ARCHIVE_INDEX")
            names = {hdu.header.get("AR_NAME") for hdu in hdul[5:]}
            self.assertEqual(names, {"PhotoCalib", "ChebyshevBoundedField", "FilterLabel", "GaussianPsf"})

    def testDetectorAndKernelPsfRoundTrip(self):
        exposure = makeFitsExposure()
        detector = afwImage.Detector(
            "R22_S11",
            94,
            geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(4072, 4000)),
            serial="ITL-3800C-123",
            physicalType="ITL",
        )
        exposure.setDetector(detector)
        kernel = np.zeros((5, 7))
        kernel[2, 3], kernel[1, 3] = 1.0, 0.5
        exposure.setPsf(afwImage.KernelPsf(kernel, geom.Point2D(2.0, 3.0)))
        exposure.writeFits(self.path)
        copy = afwImage.ExposureF(self.path)
        self.assertEqual(copy.getDetector(), detector)
        origin = geom.Point2D(0.0, 0.0)
        np.testing.assert_allclose(
            copy.getPsf().computeKernelImage(origin).array, exposure.getPsf().computeKernelImage(origin).array
        )
        self.assertEqual(copy.getPsf().getAveragePosition(), geom.Point2D(2.0, 3.0))
        self.assertFalse(copy.getMetadata().exists("APDETID"))

    def testPersistableRoundTrip(self):
        calib = afwImage.PhotoCalib(3.5, 0.25)
        calib.writeFits(self.path)
        self.assertEqual(afwImage.PhotoCalib.readFits(self.path), calib)
        visitInfo = makeFitsExposure().getInfo().getVisitInfo()
        visitInfo.writeFits(self.path)
        self.assertEqual(afwImage.VisitInfo.readFits(self.path), visitInfo)

    def testArchiveOnlyWcsFails(self):
        from astropy.io import fits

        makeFitsExposure().writeFits(self.path)
        with fits.open(self.path, mode="update") as hdul:
            for i in (1, 2, 3):
                for key in list(hdul[i].header):
                    if key.startswith(("CRPIX1", "CRPIX2", "CTYPE1", "CTYPE2")) and not key.endswith("A"):
                        del hdul[i].header[key]
            hdul[0].header["HIERARCH SKYWCS_ID"] = 99
        with self.assertRaisesRegex(afwImage.FitsError, "SKYWCS_ID=99.*AR_HDU=5"):
            afwImage.ExposureF(self.path)

    def testVaryingPhotoCalibFails(self):
        from astropy.io import fits

        makeFitsExposure().writeFits(self.path)
        with fits.open(self.path, mode="update") as hdul:
            for hdu in hdul[5:]:
                if hdu.header.get("AR_NAME") == "PhotoCalib":
                    hdu.data["flags"][0] = False
                if hdu.header.get("AR_NAME") == "ChebyshevBoundedField":
                    hdu.data["order_x"][0] = 1
        with self.assertRaisesRegex(afwImage.FitsError, "PhotoCalib in HDU \\d+.*spatially varying"):
            afwImage.ExposureF(self.path)

    def testNotAnExposure(self):
        from astropy.io import fits

        fits.PrimaryHDU(np.zeros((3, 3))).writeto(self.path)
        with self.assertRaisesRegex(afwImage.FitsError, "HDU 1 \\(IMAGE\\) is missing"):
            afwImage.ExposureF(self.path)

    def testImageRoundTrip(self):
        image = afwImage.ImageF(np.arange(12, dtype=np.float32).reshape(3, 4), False, geom.Point2I(5, 6))
        image.writeFits(self.path)
        copy = afwImage.ImageF.readFits(self.path)
        np.testing.assert_array_equal(copy.array, image.array)
        self.assertEqual(copy.getXY0(), geom.Point2I(5, 6))


@unittest.skipUnless(HAVE_AFW, "needs the real lsst.afw (the .venv-afw tier)")
class CrossReadTestCase(lsst.utils.tests.TestCase):
    """The model's writer read by real afw, and afw's writer read by the model."""

    def setUp(self):
        import lsst.ap.alerts.afwModel.image as modelImage

        self.modelImage = modelImage
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "exposure.fits")

    def tearDown(self):
        self.tmp.cleanup()

    def _assertSame(self, copy, reference):
        """``copy`` (read back) holds everything ``reference`` (afw) has."""
        np.testing.assert_array_equal(copy.image.array, reference.image.array)
        np.testing.assert_array_equal(copy.mask.array, reference.mask.array)
        np.testing.assert_array_equal(copy.variance.array, reference.variance.array)
        self.assertEqual((copy.getX0(), copy.getY0()), (reference.getX0(), reference.getY0()))
        for name in ("SAT", "CR", "NO_DATA", "STREAK"):
            self.assertEqual(copy.mask.getPlaneBitMask(name), reference.mask.getPlaneBitMask(name))
        for x, y in ((123.0, -45.0), (152.0, -26.0), (140.0, -30.0)):
            sky = copy.getWcs().pixelToSky(x, y)
            expected = reference.getWcs().pixelToSky(geom.Point2D(x, y))
            self.assertAlmostEqual(sky.getRa().asDegrees(), expected.getRa().asDegrees(), places=11)
            self.assertAlmostEqual(sky.getDec().asDegrees(), expected.getDec().asDegrees(), places=11)
        calib = copy.getPhotoCalib()
        self.assertEqual((calib.getCalibrationMean(), calib.getCalibrationErr()), (0.75, 0.01))
        self.assertEqual(copy.getPsf().getSigma(), 1.7)
        self.assertEqual(copy.getPsf().getDimensions()[0], 17)
        self.assertEqual((copy.getFilter().bandLabel, copy.getFilter().physicalLabel), ("i", "i_39"))
        self.assertEqual(copy.info.id, 20240101123)
        visitInfo, expected = copy.getInfo().getVisitInfo(), reference.getInfo().getVisitInfo()
        self.assertEqual(visitInfo.getDate().nsecs(), expected.getDate().nsecs())
        for getter in (
            "getId",
            "getExposureTime",
            "getDarkTime",
            "getObservationReason",
            "getObject",
            "getInstrumentLabel",
        ):
            self.assertEqual(getattr(visitInfo, getter)(), getattr(expected, getter)(), msg=getter)
        self.assertEqual(int(visitInfo.getRotType()), int(expected.getRotType()))
        self.assertAlmostEqual(visitInfo.getBoresightRotAngle().asDegrees(), 33.0, places=12)

    def testModelWrittenReadByAfw(self):
        model, reference = makeModelFitsExposure()
        model.writeFits(self.path)
        self._assertSame(afwImage.ExposureF(self.path), reference)

    def testAfwWrittenReadByModel(self):
        reference = makeFitsExposure()
        reference.writeFits(self.path)
        self._assertSame(self.modelImage.ExposureF(self.path), reference)


class MetadataTestCase(lsst.utils.tests.TestCase):
    """Exposure metadata read from files: hand-worked expectations, so the
    model and real afw are held to the same."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "exposure.fits")

    def tearDown(self):
        self.tmp.cleanup()

    def testAstropyWrittenCommentary(self):
        expected = writeAstropyExposure(self.path)
        exposure = afwImage.ExposureF.readFits(self.path)
        self.assertEqual(describeMetadata(exposure.getMetadata()), expected)
        metadata = exposure.getMetadata()
        self.assertEqual(metadata.getScalar("HISTORY"), "from the image HDU")  # the last value
        self.assertEqual(exposure.getInfo().getVisitInfo().getExposureTime(), 15.0)
        self.assertEqual(exposure.getXY0(), geom.Point2I(0, 0))
        np.testing.assert_array_equal(exposure.image.array, np.arange(20, dtype=np.float32).reshape(4, 5))

    def testWriteReadKeepsCommentary(self):
        exposure = makeFitsExposure()
        addTestMetadata(exposure.getMetadata())
        exposure.writeFits(self.path)
        metadata = afwImage.ExposureF.readFits(self.path).getMetadata()
        # the metadata written, in order, then the keys afw adds and keeps
        # (the file version, the SIP orders of the WCS, the image's EXTNAME)
        self.assertEqual(
            describeMetadata(metadata),
            [
                ("MYKEY", [5], "int", ""),
                ("HISTORY", ["first history", "second history"], "str", ""),
                ("BIGINT", [2**40], "long", "a 64-bit integer"),
                ("COMMENT", ["a comment", "another comment"], "str", ""),
                ("FLAG", [True], "bool", "a bool"),
                ("FLOATY", [1.25], "float", ""),
                ("TEXT", ["some text"], "str", ""),
                ("A_VERY_LONG_KEYWORD_NAME", [3], "int", ""),
                ("EXPINFO_V", [2], "int", ""),
                ("A_ORDER", [2], "int", "SIP max order") if HAVE_AFW else ("A_ORDER", [2], "int", ""),
                ("B_ORDER", [2], "int", "SIP max order") if HAVE_AFW else ("B_ORDER", [2], "int", ""),
                ("EXTNAME", ["IMAGE"], "str", ""),
            ],
        )

    def testImageWithMetadata(self):
        """An Image file's header holds its metadata as an exposure's does: every
        COMMENT/HISTORY value, the other names' values and comments."""
        from astropy.io import fits

        metadata = type(makeFitsExposure().getMetadata())()
        addTestMetadata(metadata)
        image = afwImage.ImageF(np.ones((3, 4), dtype=np.float32), False, geom.Point2I(5, 6))
        image.writeFits(self.path, metadata)
        header = fits.getheader(self.path)
        self.assertEqual(list(header["HISTORY"]), ["first history", "second history"])
        # afw puts the FITS standard's two comment lines first
        self.assertEqual(list(header["COMMENT"])[-2:], ["a comment", "another comment"])
        self.assertEqual((header["TEXT"], header["FLAG"]), ("some text", True))
        self.assertEqual((header["BIGINT"], header.comments["BIGINT"]), (2**40, "a 64-bit integer"))
        self.assertEqual(afwImage.ImageF.readFits(self.path).getXY0(), geom.Point2I(5, 6))

    @unittest.skipUnless(AFW_DATA is not None, "afw test files (shared/data/afw) not available")
    def testAfwFiles(self):
        metadata = afwImage.ExposureF.readFits(afwDataPath("exposure-version-2.fits")).getMetadata()
        self.assertEqual(describeMetadata(metadata), [("EXPINFO_V", [2], "int", "")])
        # a version-0 file: FILTER is read and kept, WCS_ID is no archive key
        # afw knows, the SIP orders stay when the WCS is read
        metadata = afwImage.ExposureF.readFits(afwDataPath("HSC-0908120-056-small.fits")).getMetadata()
        self.assertEqual(
            describeMetadata(metadata),
            [
                ("WCS_ID", [1], "int", "archive ID for the Exposure's main Wcs"),
                ("FILTER", ["_unknown_"], "str", ""),
                ("A_ORDER", [3], "int", ""),
                ("B_ORDER", [3], "int", ""),
                ("AP_ORDER", [4], "int", ""),
                ("BP_ORDER", [4], "int", ""),
            ],
        )


@unittest.skipUnless(HAVE_AFW, "needs the real lsst.afw (the .venv-afw tier)")
class MetadataCrossTierTestCase(lsst.utils.tests.TestCase):
    """The model's exposure metadata against real afw's, for the same file."""

    def setUp(self):
        import lsst.ap.alerts.afwModel.image as modelImage

        self.modelImage = modelImage
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def _path(self, name):
        return os.path.join(self.tmp.name, name)

    def assertSameMetadata(self, path):
        """The model reads the metadata afw reads from ``path``."""
        expected = describeMetadata(afwImage.ExposureF.readFits(path).getMetadata())
        actual = describeMetadata(self.modelImage.ExposureF.readFits(path).getMetadata())
        self.assertEqual(actual, expected, msg=path)
        return expected

    @unittest.skipUnless(AFW_DATA is not None, "afw test files (shared/data/afw) not available")
    def testAfwDataFiles(self):
        for name in ("exposure-version-2.fits", "HSC-0908120-056-small.fits"):
            self.assertSameMetadata(afwDataPath(name))

    def testAfwWrittenFiles(self):
        import lsst.afw.cameraGeom.testUtils

        full = makeFitsExposure()
        addTestMetadata(full.getMetadata())
        full.getMetadata().set("EXTNAME", "ignored")  # afw does not write it
        full.writeFits(self._path("full.fits"))
        withDetector = afwImage.ExposureF(full, deep=True)
        withDetector.setDetector(lsst.afw.cameraGeom.testUtils.DetectorWrapper().detector)
        withDetector.writeFits(self._path("detector.fits"))
        empty = afwImage.ExposureF(geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(5, 4)))
        empty.writeFits(self._path("empty.fits"))
        empty.getMaskedImage().writeFits(self._path("maskedImage.fits"))
        for name in ("full.fits", "detector.fits", "empty.fits", "maskedImage.fits"):
            described = self.assertSameMetadata(self._path(name))
            self.assertIn(("EXTNAME", ["IMAGE"], "str", ""), described)
        described = dict(
            (name, values) for name, values, _, _ in self.assertSameMetadata(self._path("full.fits"))
        )
        self.assertEqual(described["HISTORY"], ["first history", "second history"])
        self.assertEqual(described["COMMENT"], ["a comment", "another comment"])

    def testAfwFilesEdited(self):
        """afw-written files with cards added: merged, replaced and kept keys."""
        from astropy.io import fits

        makeFitsExposure().writeFits(self._path("base.fits"))
        edits = {
            # repeated keys and commentary in both HDUs; FILTER and FLUXMAG0
            # are no component keys in version 2
            "merged.fits": (
                [("HISTORY", "primary"), ("K1", 1), ("K2", 2), ("K1", 3), ("FILTER", "r"), ("FLUXMAG0", 3.0)],
                [("HISTORY", "image"), ("COMMENT", "image"), ("K2", 4), ("K3", 5), ("K2", 6), ("EXTVER", 1)],
                None,
            ),
            # version 0: FLUXMAG0 is the calibration, FILTER stays
            "version0.fits": ([("FILTER", "HSC-R"), ("FLUXMAG0", 3.0), ("HIERARCH FLUXMAG0ERR", 0.5)], [], 0),
            # WCS keys afw consumes or keeps, and visit keys in the image HDU
            "wcsKeys.fits": (
                [],
                [("LONPOLE", 180.0), ("LATPOLE", -30.0), ("WCSNAME", "x"), ("A_DMAX", 1.0), ("EXPTIME", 9.0)],
                None,
            ),
        }
        for name, (primaryCards, imageCards, version) in edits.items():
            with fits.open(self._path("base.fits")) as hdul:
                for key, value in primaryCards:
                    hdul[0].header.append((key, value), end=True)
                for key, value in imageCards:
                    hdul[1].header.append((key, value), end=True)
                if version == 0:
                    del hdul[0].header["EXPINFO_V"]
                hdul.writeto(self._path(name))
            self.assertSameMetadata(self._path(name))
        names = [name for name, _, _, _ in self.assertSameMetadata(self._path("merged.fits"))]
        self.assertLess(names.index("K1"), names.index("EXTNAME"))
        self.assertLess(names.index("EXTNAME"), names.index("K2"))  # moved to the image HDU's place

    def testOldStyleFile(self):
        """Without INHERIT, afw's metadata is the image HDU's alone."""
        from astropy.io import fits

        makeFitsExposure().writeFits(self._path("base.fits"))
        with fits.open(self._path("base.fits")) as hdul:
            for i in (1, 2, 3):
                del hdul[i].header["INHERIT"]
            hdul[1].header["IMGONLY"] = 4
            hdul[1].header.append(("HISTORY", "image"))
            hdul.writeto(self._path("old.fits"))
        described = self.assertSameMetadata(self._path("old.fits"))
        self.assertNotIn("MYKEY", [name for name, _, _, _ in described])

    def testAstropyWrittenFile(self):
        expected = writeAstropyExposure(self._path("astropy.fits"))
        self.assertEqual(self.assertSameMetadata(self._path("astropy.fits")), expected)

    def testModelWrittenFiles(self):
        """What afw reads from a file the model writes, the model reads back."""
        model, _ = makeModelFitsExposure()
        model.getMetadata().set("MYKEY", 5)
        addTestMetadata(model.getMetadata())
        model.writeFits(self._path("model.fits"))
        described = self.assertSameMetadata(self._path("model.fits"))
        self.assertIn(("HISTORY", ["first history", "second history"], "str", ""), described)
        self.modelImage.ExposureF(model.getBBox()).writeFits(self._path("empty.fits"))
        self.assertSameMetadata(self._path("empty.fits"))

    def testAfwMetadataThroughModel(self):
        """afw's file read and written again by the model: afw reads the
        same metadata as from its own file, in its order."""
        exposure = makeFitsExposure()
        addTestMetadata(exposure.getMetadata())
        exposure.writeFits(self._path("afw.fits"))
        expected = describeMetadata(afwImage.ExposureF.readFits(self._path("afw.fits")).getMetadata())
        self.modelImage.ExposureF.readFits(self._path("afw.fits")).writeFits(self._path("model.fits"))
        actual = self.assertSameMetadata(self._path("model.fits"))
        # the model's WCS writes its SIP order keys without afw's comment;
        # those of the image HDU replace the ones of the metadata
        sipOrders = {"A_ORDER", "B_ORDER"}
        self.assertEqual(
            [
                (name, values, kind, "" if name in sipOrders else comment)
                for name, values, kind, comment in actual
            ],
            [
                (name, values, kind, "" if name in sipOrders else comment)
                for name, values, kind, comment in expected
            ],
        )


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
