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

"""Tests of the model's Detector and of its FITS persistence in afw's
cameraGeom archive layout.

* `DetectorApiTestCase` runs on whichever tier ``lsst.ap.alerts._afw``
  picks (real afw when installed, else the model): the accessors afw and
  the model share, and an exposure FITS round trip on that tier.
* `ModelDetectorTestCase` and `ModelFitsTestCase` import the model
  directly, so they run on both venvs: the model's own semantics, the file
  layout checked with astropy, model -> model round trips, legacy files.
* `ModelWrittenAfwReadTestCase` and `AfwWrittenModelReadTestCase` need
  real afw: the model's file read by afw (its Detector, orientation,
  amplifiers and PIXELS <-> FOCAL_PLANE transform checked against hand
  computed values and against a Detector built by afw), and afw's file
  read by the model.
"""

import os
import pickle
import re
import tempfile
import unittest
from pathlib import Path

import lsst.utils.tests
import numpy as np
from astropy.io import fits

import lsst.ap.alerts.afwModel.geom as modelGeom
from lsst.ap.alerts._afw import HAVE_AFW, afwImage, geom
from lsst.ap.alerts.afwModel import image as modelImage

if HAVE_AFW:
    import lsst.afw.cameraGeom as cameraGeom


def _findAfwData():
    here = Path(__file__).resolve()
    for base in here.parents:
        candidate = base / "shared" / "data" / "afw"
        if candidate.exists():
            return candidate
    return None


AFW_DATA = _findAfwData()


def makeTierDetector(name, id, bbox, serial="", physicalType="", typeName="SCIENCE", pixelSize=(0.01, 0.01)):
    """A Detector of the tier ``_afw`` picks: built with afw's camera
    builder when afw is installed, else the model's constructor."""
    if HAVE_AFW:
        builder = cameraGeom.Camera.Builder("testCamera")
        detector = builder.add(name, id)
        detector.setBBox(bbox)
        detector.setSerial(serial)
        detector.setPhysicalType(physicalType)
        detector.setType(getattr(cameraGeom.DetectorType, typeName))
        detector.setPixelSize(geom.Extent2D(*pixelSize))
        return builder.finish()[id]
    return afwImage.Detector(
        name,
        id,
        bbox,
        serial=serial,
        physicalType=physicalType,
        type=afwImage.DetectorType[typeName],
        pixelSize=geom.Extent2D(*pixelSize),
    )


def makeModelDetector(**kwargs):
    """The model Detector most tests write, with ``kwargs`` overriding."""
    g = modelGeom
    args = dict(
        name="R22_S11",
        id=94,
        bbox=g.Box2I(g.Point2I(3, 4), g.Extent2I(40, 30)),
        serial="ITL-3800C-123",
        physicalType="ITL",
        type=modelImage.DetectorType.WAVEFRONT,
        pixelSize=g.Extent2D(0.01, 0.015),
    )
    args.update(kwargs)
    return modelImage.Detector(args.pop("name"), args.pop("id"), args.pop("bbox"), **args)


def makeModelExposure(detector):
    """A model exposure with a detector and the other archived components."""
    g, mi = modelGeom, modelImage
    exposure = mi.ExposureF(g.Box2I(g.Point2I(5, 6), g.Extent2I(12, 9)))
    exposure.image.array[:] = np.arange(12 * 9, dtype=np.float32).reshape(9, 12)
    exposure.variance.array[:] = 1.5
    exposure.setPhotoCalib(mi.PhotoCalib(0.75, 0.01))
    exposure.setPsf(mi.GaussianPsf(17, 17, 1.7))
    exposure.setFilter(mi.FilterLabel(band="i", physical="i_39"))
    exposure.setDetector(detector)
    return exposure


class TempDirMixin:
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "exposure.fits")

    def tearDown(self):
        self.tmp.cleanup()


class DetectorApiTestCase(TempDirMixin, lsst.utils.tests.TestCase):
    """Accessors shared by afw's cameraGeom Detector and the model's."""

    def setUp(self):
        super().setUp()
        self.bbox = geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(4072, 4000))
        self.detector = makeTierDetector(
            "R22_S11", 94, self.bbox, "ITL-3800C-123", "ITL", "GUIDER", pixelSize=(0.01, 0.02)
        )

    def _assertExpected(self, detector):
        self.assertEqual(detector.getName(), "R22_S11")
        self.assertEqual(detector.getId(), 94)
        self.assertEqual(detector.getSerial(), "ITL-3800C-123")
        self.assertEqual(detector.getPhysicalType(), "ITL")
        self.assertEqual(detector.getBBox(), self.bbox)
        self.assertEqual(detector.getType().name, "GUIDER")
        self.assertEqual(int(detector.getType()), 2)
        self.assertEqual(detector.getPixelSize(), geom.Extent2D(0.01, 0.02))

    def testAccessors(self):
        self._assertExpected(self.detector)

    def testDetectorTypeValues(self):
        # afw's cameraGeom.DetectorType enumeration
        DetectorType = cameraGeom.DetectorType if HAVE_AFW else afwImage.DetectorType
        expected = {"SCIENCE": 0, "FOCUS": 1, "GUIDER": 2, "WAVEFRONT": 3}
        self.assertEqual({name: int(getattr(DetectorType, name)) for name in expected}, expected)

    def testExposureHoldsDetector(self):
        exposure = afwImage.ExposureF(10, 10)
        self.assertIsNone(exposure.getDetector())
        exposure.setDetector(self.detector)
        self._assertExpected(exposure.getDetector())
        self.assertTrue(exposure.getInfo().hasDetector())

    def testFitsRoundTrip(self):
        exposure = afwImage.ExposureF(10, 10)
        exposure.setDetector(self.detector)
        exposure.writeFits(self.path)
        self._assertExpected(afwImage.ExposureF(self.path).getDetector())


class ModelDetectorTestCase(lsst.utils.tests.TestCase):
    """The model's Detector on its own (imported directly: both venvs)."""

    def testDefaults(self):
        detector = modelImage.Detector("S00", 7)
        self.assertEqual(detector.getName(), "S00")
        self.assertEqual(detector.getId(), 7)
        self.assertTrue(detector.getBBox().isEmpty())
        self.assertEqual(detector.getSerial(), "")
        self.assertEqual(detector.getPhysicalType(), "")
        self.assertIs(detector.getType(), modelImage.DetectorType.SCIENCE)
        # 10 micron pixels, as documented
        self.assertEqual(detector.getPixelSize(), modelGeom.Extent2D(0.01, 0.01))

    def testEqualityAndPickle(self):
        detector = makeModelDetector()
        self.assertEqual(detector, makeModelDetector())
        self.assertEqual(hash(detector), hash(makeModelDetector()))
        for change in (
            dict(name="R22_S12"),
            dict(id=95),
            dict(bbox=modelGeom.Box2I(modelGeom.Point2I(3, 4), modelGeom.Extent2I(40, 31))),
            dict(serial="other"),
            dict(physicalType="E2V"),
            dict(type=modelImage.DetectorType.SCIENCE),
            dict(pixelSize=modelGeom.Extent2D(0.01, 0.01)),
        ):
            with self.subTest(change=change):
                self.assertNotEqual(detector, makeModelDetector(**change))
        copy = pickle.loads(pickle.dumps(detector))
        self.assertEqual(copy, detector)
        self.assertEqual(copy.getPixelSize(), modelGeom.Extent2D(0.01, 0.015))

    def testAccessorsReturnCopies(self):
        detector = makeModelDetector()
        detector.getBBox().grow(5)
        detector.getPixelSize().setX(3.0)
        self.assertEqual(
            detector.getBBox(), modelGeom.Box2I(modelGeom.Point2I(3, 4), modelGeom.Extent2I(40, 30))
        )
        self.assertEqual(detector.getPixelSize(), modelGeom.Extent2D(0.01, 0.015))


def _archive(hdul):
    """The archive index rows of a file as (id, catArchive, catPersistable,
    nrows, name) tuples, and the index HDU number."""
    indexHdu = hdul[0].header["AR_HDU"] - 1
    rows = [
        (int(r["id"]), int(r["cat.archive"]), int(r["cat.persistable"]), int(r["nrows"]), r["name"].strip())
        for r in hdul[indexHdu].data
    ]
    return rows, indexHdu


def _cellText(cell):
    """A variable-length string cell's characters (a NUL reads as ""), and
    how many there are."""
    characters = np.asarray(cell).view(np.ndarray).tolist()
    return "".join(characters), len(characters)


class ModelFitsTestCase(TempDirMixin, lsst.utils.tests.TestCase):
    """The model's Detector in its files: layout (read with astropy), model
    round trips, legacy and afw-written files."""

    def testArchiveLayout(self):
        detector = makeModelDetector()
        makeModelExposure(detector).writeFits(self.path)
        with fits.open(self.path) as hdul:
            primary = hdul[0].header
            self.assertEqual(primary["DETNAME"], "R22_S11")
            self.assertEqual(primary["DETSER"], "ITL-3800C-123")
            self.assertFalse([key for key in primary if key.startswith("APDET")])
            rows, indexHdu = _archive(hdul)
            detectorId = primary["DETECTOR_ID"]
            self.assertEqual(primary["ARCHIVE_ID_DETECTOR"], detectorId)
            # two catalogs: the detector record, and no amplifier records
            entries = sorted((r[2], r[3], r[4], r[1]) for r in rows if r[0] == detectorId)
            self.assertEqual([e[:3] for e in entries], [(0, 1, "Detector"), (1, 0, "Detector")])
            record = hdul[indexHdu + entries[0][3]].data[0]
            amplifiers = hdul[indexHdu + entries[1][3]]
            self.assertEqual(amplifiers.header["AR_NAME"], "Detector")
            self.assertEqual(amplifiers.header["NAXIS2"], 0)
            self.assertIn("gain", amplifiers.columns.names)
            self.assertEqual(_cellText(record["name"]), ("R22_S11", 7))
            self.assertEqual(_cellText(record["serial"]), ("ITL-3800C-123", 13))
            self.assertEqual(_cellText(record["physicalType"]), ("ITL", 3))
            self.assertEqual(int(record["id"]), 94)
            self.assertEqual(int(record["type"]), 3)
            # afw's bbox record keeps inclusive maxima: 3 + 40 - 1, 4 + 30 - 1
            self.assertEqual(
                [int(record[k]) for k in ("bbox_min_x", "bbox_min_y", "bbox_max_x", "bbox_max_y")],
                [3, 4, 42, 33],
            )
            self.assertEqual((record["pixelSize_x"], record["pixelSize_y"]), (0.01, 0.015))
            self.assertEqual(int(record["version"]), 2)
            # the TransformMap and its one transform
            mapId = int(record["transformMap"])
            (mapEntry,) = [r for r in rows if r[0] == mapId]
            self.assertEqual(mapEntry[4], "TransformMap")
            connection = hdul[indexHdu + mapEntry[1]].data[0]
            self.assertEqual(_cellText(connection["fromSysName"]), ("FocalPlane", 10))
            self.assertEqual(_cellText(connection["fromSysDetectorName"]), ("", 1))
            self.assertEqual(_cellText(connection["toSysName"]), ("Pixels", 6))
            self.assertEqual(_cellText(connection["toSysDetectorName"]), ("R22_S11", 7))
            (transformEntry,) = [r for r in rows if r[0] == int(connection["transform"])]
            self.assertEqual(transformEntry[4], "TransformPoint2ToPoint2")
            text = bytes(hdul[indexHdu + transformEntry[1]].data[0]["bytes"]).decode("ascii")
            self.assertTrue(text.startswith("1 TransformPoint2ToPoint2 Begin WinMap\n"))
            values = dict(re.findall(r"(S(?:ft|cl)\d) = (\S+)", text))
            # pixel p -> focal plane (p + 0.5) * pixelSize, stored inverted
            self.assertEqual(
                {k: float(v) for k, v in values.items()},
                {"Scl1": 0.01, "Sft1": 0.005, "Scl2": 0.015, "Sft2": 0.0075},
            )
            self.assertIn("Invert = 1", text)
            # every catalog of the archive is indexed exactly once
            self.assertEqual(sorted(r[1] for r in rows), list(range(1, len(rows) + 1)))
            self.assertEqual(hdul[indexHdu].header["AR_NCAT"], len(rows) + 1)

    def testEmptyStringsAreOneNul(self):
        makeModelExposure(makeModelDetector(serial="", physicalType="")).writeFits(self.path)
        with fits.open(self.path) as hdul:
            rows, indexHdu = _archive(hdul)
            (entry,) = [r for r in rows if r[4] == "Detector" and r[2] == 0]
            record = hdul[indexHdu + entry[1]].data[0]
            self.assertEqual(_cellText(record["serial"]), ("", 1))
            self.assertEqual(_cellText(record["physicalType"]), ("", 1))
        copy = modelImage.ExposureF(self.path).getDetector()
        self.assertEqual((copy.getSerial(), copy.getPhysicalType()), ("", ""))

    def testModelRoundTrip(self):
        for detector in (
            makeModelDetector(),
            makeModelDetector(serial="", physicalType="", type=modelImage.DetectorType.SCIENCE),
            modelImage.Detector("detector with a long name, spaces and digits 0123456789", 2**31 - 1),
        ):
            with self.subTest(detector=detector):
                exposure = makeModelExposure(detector)
                exposure.writeFits(self.path)
                copy = modelImage.ExposureF(self.path)
                self.assertEqual(copy.getDetector(), detector)
                for key in ("DETNAME", "DETSER", "DETECTOR_ID", "ARCHIVE_ID_DETECTOR", "APDETID"):
                    self.assertFalse(copy.getMetadata().exists(key), msg=key)
                # the other archived components are unaffected
                self.assertEqual(copy.getPhotoCalib().getCalibrationMean(), 0.75)
                self.assertEqual(copy.getPsf().getSigma(), 1.7)
                self.assertEqual(copy.getFilter().physicalLabel, "i_39")

    def testNoDetector(self):
        exposure = makeModelExposure(None)
        exposure.writeFits(self.path)
        self.assertIsNone(modelImage.ExposureF(self.path).getDetector())
        with fits.open(self.path) as hdul:
            self.assertNotIn("DETECTOR_ID", hdul[0].header)
            self.assertNotIn("Detector", [r[4] for r in _archive(hdul)[0]])

    def testLegacyModelFile(self):
        """Files of earlier model versions kept the detector in APDET* keys."""
        makeModelExposure(None).writeFits(self.path)
        with fits.open(self.path, mode="update") as hdul:
            header = hdul[0].header
            header["DETNAME"] = "R01_S00"
            header["DETSER"] = "E2V-1"
            header["APDETID"] = 9
            header["APDETBOX"] = "0 0 4096 4004"
            header["APDETTYP"] = "FOCUS"
            header["APDETPHY"] = "E2V"
        copy = modelImage.ExposureF(self.path)
        g = modelGeom
        self.assertEqual(
            copy.getDetector(),
            modelImage.Detector(
                "R01_S00",
                9,
                g.Box2I(g.Point2I(0, 0), g.Extent2I(4096, 4004)),
                serial="E2V-1",
                physicalType="E2V",
                type=modelImage.DetectorType.FOCUS,
            ),
        )
        self.assertFalse(copy.getMetadata().exists("APDETID"))

    @unittest.skipIf(AFW_DATA is None, "shared/data/afw (afw-written files) is absent")
    def testAfwDataFile(self):
        detector = modelImage.ExposureF(str(AFW_DATA / "exposure-version-2.fits")).getDetector()
        g = modelGeom
        self.assertEqual(detector.getName(), "detector 1")
        self.assertEqual(detector.getId(), 1)
        self.assertEqual(detector.getSerial(), "xkcd722")
        self.assertEqual(detector.getPhysicalType(), "CCD")
        self.assertEqual(detector.getBBox(), g.Box2I(g.Point2I(0, 0), g.Extent2I(10, 10)))
        self.assertEqual(detector.getPixelSize(), g.Extent2D(0.02, 0.02))


def _afwPoint(point):
    return geom.Point2D(point[0], point[1])


@unittest.skipUnless(HAVE_AFW, "needs the real lsst.afw (the .venv-afw tier)")
class ModelWrittenAfwReadTestCase(TempDirMixin, lsst.utils.tests.TestCase):
    """Files written by the model, read by real afw."""

    def _read(self, detector):
        makeModelExposure(detector).writeFits(self.path)
        return afwImage.ExposureF(self.path)

    def _assertSameDetector(self, afwDetector, modelDetector):
        self.assertIsInstance(afwDetector, cameraGeom.Detector)
        self.assertEqual(afwDetector.getName(), modelDetector.getName())
        self.assertEqual(afwDetector.getId(), modelDetector.getId())
        self.assertEqual(afwDetector.getSerial(), modelDetector.getSerial())
        self.assertEqual(afwDetector.getPhysicalType(), modelDetector.getPhysicalType())
        self.assertEqual(afwDetector.getType().name, modelDetector.getType().name)
        bbox = modelDetector.getBBox()
        self.assertEqual(
            afwDetector.getBBox(),
            geom.Box2I(geom.Point2I(bbox.getMinX(), bbox.getMinY()), geom.Extent2I(*bbox.getDimensions())),
        )
        size = modelDetector.getPixelSize()
        self.assertEqual(afwDetector.getPixelSize(), geom.Extent2D(size[0], size[1]))

    def testDetector(self):
        for detector in (
            makeModelDetector(),
            makeModelDetector(serial="", physicalType="", type=modelImage.DetectorType.SCIENCE),
            makeModelDetector(type=modelImage.DetectorType.FOCUS, pixelSize=(0.0135, 0.0135)),
            modelImage.Detector("S00", 0),
        ):
            with self.subTest(detector=detector):
                exposure = self._read(detector)
                self._assertSameDetector(exposure.getDetector(), detector)
                self._assertSameDetector(afwImage.ExposureFitsReader(self.path).readDetector(), detector)
                self.assertEqual(len(exposure.getDetector()), 0)  # no amplifiers
                # the other archived components still read
                self.assertEqual(exposure.getPhotoCalib().getCalibrationMean(), 0.75)
                self.assertEqual(exposure.getPsf().getSigma(), 1.7)
                self.assertEqual(exposure.getFilter().physicalLabel, "i_39")
                self.assertEqual(exposure.getMetadata().exists("APDETID"), False)

    def testDefaultOrientation(self):
        orientation = self._read(makeModelDetector()).getDetector().getOrientation()
        self.assertEqual(orientation.getFpPosition3(), geom.Point3D(0.0, 0.0, 0.0))
        self.assertEqual(orientation.getReferencePoint(), geom.Point2D(-0.5, -0.5))
        for angle in (orientation.getYaw(), orientation.getPitch(), orientation.getRoll()):
            self.assertEqual(angle.asRadians(), 0.0)

    def testTransforms(self):
        detector = self._read(makeModelDetector()).getDetector()
        toFocalPlane = detector.getTransform(cameraGeom.PIXELS, cameraGeom.FOCAL_PLANE)
        for x, y in ((0.0, 0.0), (-0.5, -0.5), (3.0, 4.0), (42.0, 33.0), (1000.25, -7.5)):
            expected = ((x + 0.5) * 0.01, (y + 0.5) * 0.015)
            fp = toFocalPlane.applyForward(geom.Point2D(x, y))
            self.assertAlmostEqual(fp.getX(), expected[0], places=14)
            self.assertAlmostEqual(fp.getY(), expected[1], places=14)
            back = toFocalPlane.applyInverse(fp)
            self.assertAlmostEqual(back.getX(), x, places=9)
            self.assertAlmostEqual(back.getY(), y, places=9)
        # centre of pixels 3..42 x 4..33: (22.5, 18.5)
        centre = detector.getCenter(cameraGeom.FOCAL_PLANE)
        self.assertAlmostEqual(centre.getX(), 23.0 * 0.01, places=14)
        self.assertAlmostEqual(centre.getY(), 19.0 * 0.015, places=14)

    def testMatchesAfwBuiltDetector(self):
        """afw's own Detector with the same fields maps pixels alike."""
        model = makeModelDetector()
        builder = cameraGeom.Camera.Builder("testCamera")
        built = builder.add(model.getName(), model.getId())
        built.setBBox(geom.Box2I(geom.Point2I(3, 4), geom.Extent2I(40, 30)))
        built.setPixelSize(geom.Extent2D(0.01, 0.015))
        reference = builder.finish()[model.getId()]
        detector = self._read(model).getDetector()
        toFocalPlane = detector.getTransform(cameraGeom.PIXELS, cameraGeom.FOCAL_PLANE)
        referenceToFocalPlane = reference.getTransform(cameraGeom.PIXELS, cameraGeom.FOCAL_PLANE)
        for corner in reference.getCorners(cameraGeom.PIXELS):
            ours, theirs = toFocalPlane.applyForward(corner), referenceToFocalPlane.applyForward(corner)
            self.assertAlmostEqual(ours.getX(), theirs.getX(), places=14)
            self.assertAlmostEqual(ours.getY(), theirs.getY(), places=14)
        # neither has optics, so neither has FIELD_ANGLE
        for system in (cameraGeom.FIELD_ANGLE, cameraGeom.TAN_PIXELS):
            self.assertEqual(detector.hasTransform(system), reference.hasTransform(system), msg=str(system))
        self.assertEqual(
            [(p.getX(), p.getY()) for p in detector.getCorners(cameraGeom.FOCAL_PLANE)],
            [(p.getX(), p.getY()) for p in reference.getCorners(cameraGeom.FOCAL_PLANE)],
        )

    def testAfwRewritesModelDetector(self):
        exposure = self._read(makeModelDetector())
        rewritten = os.path.join(self.tmp.name, "rewritten.fits")
        exposure.writeFits(rewritten)
        self._assertSameDetector(afwImage.ExposureF(rewritten).getDetector(), makeModelDetector())
        self.assertEqual(modelImage.ExposureF(rewritten).getDetector(), makeModelDetector())


@unittest.skipUnless(HAVE_AFW, "needs the real lsst.afw (the .venv-afw tier)")
class AfwWrittenModelReadTestCase(TempDirMixin, lsst.utils.tests.TestCase):
    """Files written by real afw, read by the model."""

    def _makeAfwDetector(self, nAmplifiers):
        builder = cameraGeom.Camera.Builder("testCamera")
        detector = builder.add("R10_S21", 33)
        detector.setSerial("E2V-CCD250-77")
        detector.setPhysicalType("E2V")
        detector.setType(cameraGeom.DetectorType.GUIDER)
        detector.setBBox(geom.Box2I(geom.Point2I(0, 0), geom.Extent2I(64, 32)))
        detector.setPixelSize(geom.Extent2D(0.015, 0.0125))
        detector.setOrientation(
            cameraGeom.Orientation(
                geom.Point3D(-12.0, 40.0, 0.1),
                geom.Point2D(31.5, 15.5),
                90.0 * geom.degrees,
                0.0 * geom.degrees,
                0.0 * geom.degrees,
            )
        )
        for i in range(nAmplifiers):
            amplifier = cameraGeom.Amplifier.Builder()
            amplifier.setName(f"C{i:02d}")
            amplifier.setBBox(geom.Box2I(geom.Point2I(32 * i, 0), geom.Extent2I(32, 32)))
            amplifier.setGain(1.5 + i)
            detector.append(amplifier)
        return builder.finish()[33]

    def testModelReadsAfwDetector(self):
        for nAmplifiers in (0, 2):
            with self.subTest(nAmplifiers=nAmplifiers):
                reference = self._makeAfwDetector(nAmplifiers)
                exposure = afwImage.ExposureF(8, 8)
                exposure.setDetector(reference)
                exposure.writeFits(self.path)
                detector = modelImage.ExposureF(self.path).getDetector()
                self.assertIsInstance(detector, modelImage.Detector)
                self.assertEqual(detector.getName(), reference.getName())
                self.assertEqual(detector.getId(), reference.getId())
                self.assertEqual(detector.getSerial(), reference.getSerial())
                self.assertEqual(detector.getPhysicalType(), reference.getPhysicalType())
                self.assertEqual(detector.getType().name, reference.getType().name)
                self.assertEqual(tuple(detector.getBBox().getMin()), tuple(reference.getBBox().getMin()))
                self.assertEqual(tuple(detector.getBBox().getMax()), tuple(reference.getBBox().getMax()))
                self.assertEqual(tuple(detector.getPixelSize()), tuple(reference.getPixelSize()))

    def testEmptyBBox(self):
        """afw's detector with no bbox set (min (0, 0), max (-1, -1))."""
        builder = cameraGeom.Camera.Builder("testCamera")
        builder.add("S00", 0).setPixelSize(geom.Extent2D(0.01, 0.01))
        exposure = afwImage.ExposureF(8, 8)
        exposure.setDetector(builder.finish()[0])
        exposure.writeFits(self.path)
        self.assertTrue(afwImage.ExposureF(self.path).getDetector().getBBox().isEmpty())
        self.assertTrue(modelImage.ExposureF(self.path).getDetector().getBBox().isEmpty())

    def testModelRewritesAfwDetector(self):
        """afw -> model -> afw keeps what the model carries; the
        orientation falls back to afw's default."""
        reference = self._makeAfwDetector(2)
        exposure = afwImage.ExposureF(8, 8)
        exposure.setDetector(reference)
        exposure.writeFits(self.path)
        modelExposure = modelImage.ExposureF(self.path)
        rewritten = os.path.join(self.tmp.name, "rewritten.fits")
        modelExposure.writeFits(rewritten)
        detector = afwImage.ExposureF(rewritten).getDetector()
        for getter in (
            "getName",
            "getId",
            "getSerial",
            "getPhysicalType",
            "getType",
            "getBBox",
            "getPixelSize",
        ):
            self.assertEqual(getattr(detector, getter)(), getattr(reference, getter)(), msg=getter)
        self.assertEqual(len(detector), 0)
        self.assertEqual(detector.getOrientation().getReferencePoint(), geom.Point2D(-0.5, -0.5))


class ArchiveStringTestCase(TempDirMixin, lsst.utils.tests.TestCase):
    """Empty variable-length strings, which the Detector writer shares with
    the VisitInfo writer, are stored as one NUL (as afw stores them)."""

    def _visitInfo(self):
        return modelImage.VisitInfo(exposureTime=30.0, instrumentLabel="LSSTCam", object="")

    def testModelRoundTrip(self):
        self._visitInfo().writeFits(self.path)
        copy = modelImage.VisitInfo.readFits(self.path)
        self.assertEqual(copy, self._visitInfo())
        self.assertEqual(copy.getObject(), "")

    @unittest.skipUnless(HAVE_AFW, "needs the real lsst.afw (the .venv-afw tier)")
    def testAfwReadsEmptyStrings(self):
        self._visitInfo().writeFits(self.path)
        copy = afwImage.VisitInfo.readFits(self.path)
        self.assertEqual(copy.getExposureTime(), 30.0)
        self.assertEqual(copy.getInstrumentLabel(), "LSSTCam")
        self.assertEqual(copy.getObject(), "")
        self.assertEqual(copy.getObservationReason(), "")


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
