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

"""PackageAlertsTask end to end: alerts, files, metadata, upstream rules and fixed upstream bugs.

The exposures are built through ``lsst.ap.alerts._afw``: with the LSST stack
installed these tests run on real ``lsst.afw`` objects, otherwise on the
package's afw-compatible model.
"""

import io
import os
import struct
import tempfile
import unittest
from unittest import mock

import fastavro
import lsst.alert.packet as alertPack
import lsst.utils.tests
import numpy as np
import pandas as pd
from astropy.nddata import CCDData

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts._afw import Psf, afwGeom, afwImage, geom
from lsst.ap.alerts.catalogs.designations import ssObjectIdToPackedDesignation, unpackProvisional
from lsst.ap.alerts.catalogs.inputChecks import AlertInputError
from lsst.ap.alerts.simulation import makeSimulatedVisit


class KernelArrayPsf(Psf):
    """Base of this file's PSF test doubles: a Python subclass of the PSF base
    class (afw's ``lsst.afw.detection.Psf`` with the stack, the model's
    otherwise) whose kernel is ``_kernelArray(point)`` (odd sides, centred)."""

    def __init__(self):
        super().__init__(isFixed=False)

    def _doComputeKernelImage(self, position, color=None):
        array = np.ascontiguousarray(self._kernelArray(position), dtype=np.float64)
        xy0 = geom.Point2I(-(array.shape[1] // 2), -(array.shape[0] // 2))
        return afwImage.ImageD(array, False, xy0)

    def _doComputeBBox(self, position, color=None):
        return self._doComputeKernelImage(position, color).getBBox()

    def __deepcopy__(self, memo=None):
        return type(self)()


LOG_NAME = "lsst.packageAlerts"
ALERT_KEYS = {
    "diaSourceId",
    "observation_reason",
    "target_name",
    "diaSource",
    "prvDiaSources",
    "prvDiaForcedSources",
    "prvDiaNondetectionLimits",
    "diaObject",
    "ssSource",
    "mpc_orbits",
    "cutoutDifference",
    "cutoutScience",
    "cutoutTemplate",
}


def _runArgs(visit):
    return (
        visit.diaSourceCat,
        visit.diaObjectCat,
        visit.diaSrcHistory,
        visit.diaForcedSources,
        visit.diffIm,
        visit.calexp,
        visit.template,
    )


def _sourceRows(visit):
    return visit.diaSourceCat.reset_index(drop=True).set_index("diaSourceId", drop=False)


class PackageAlertsTestBase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.visit = makeSimulatedVisit(
            40, 8, seed=3, size=400, fractionSolarSystem=0.1, fillAllFields=True, edgeMargin=-20.0
        )

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def makeTask(self, **overrides):
        config = PackageAlertsConfig()
        config.alertWriteLocation = self.tmp.name
        for key, value in overrides.items():
            setattr(config, key, value)
        return PackageAlertsTask(config=config)


class RunTestCase(PackageAlertsTestBase):
    def testRunWritesReadableFile(self):
        visit = self.visit
        task = self.makeTask(doWriteAlerts=True)
        before = visit.diaSourceCat.copy()
        result = task.run(*_runArgs(visit), ssSrc=visit.ssSrc)
        pd.testing.assert_frame_equal(visit.diaSourceCat, before)  # inputs never modified
        nInput = len(visit.diaSourceCat)
        self.assertEqual(len(result.alerts) + len(result.skipped), nInput)
        self.assertGreater(len(result.alerts), 0.8 * nInput)
        expectedName = f"{visit.diffIm.visitInfo.id}_{visit.diffIm.detector.getId()}.avro"
        self.assertEqual(os.path.basename(result.alertFile), expectedName)
        self.assertEqual(os.listdir(self.tmp.name), [expectedName])  # no temporary files left

        with open(result.alertFile, "rb") as f:
            fromFastavro = list(fastavro.reader(f))
        with open(result.alertFile, "rb") as f:
            schema, records = alertPack.Schema.from_uri(task.config.schemaFile).retrieve_alerts(f)
            fromPacket = list(records)
        self.assertEqual(schema.get_schema_id(), 1101)
        self.assertEqual(len(fromFastavro), len(result.alerts))
        for i, (a, b) in enumerate(zip(fromFastavro, fromPacket, strict=True)):
            self.assertEqual(a["diaSourceId"], b["diaSourceId"])
            # (NaN != NaN, so compare the encodings.)
            self.assertEqual(task.encoder.encodeDict(a), result.alerts.payloads[i])

    def testRoundTripValues(self):
        """Every diaSource field survives run → file → read (float32 fields as float32)."""
        visit = self.visit
        task = self.makeTask(doWriteAlerts=True)
        result = task.run(*_runArgs(visit), ssSrc=visit.ssSrc)
        with open(result.alertFile, "rb") as f:
            alerts = list(fastavro.reader(f))
        rows = _sourceRows(visit)
        specs = {f["name"]: f["type"] for f in task.schema.records["diaSource"]["fields"]}
        populated = set()
        for alert in alerts:
            row = rows.loc[alert["diaSourceId"]]
            for name, avroType in specs.items():
                value, expected = alert["diaSource"][name], row[name]
                base = avroType[1] if isinstance(avroType, list) else avroType
                if value is not None:
                    populated.add(name)
                if base in ("float", "double") and isinstance(expected, (float, np.floating)):
                    # A NaN in a float column stays NaN (not null), as upstream sends it.
                    dtype = np.float32 if base == "float" else np.float64
                    np.testing.assert_array_equal(dtype(value), dtype(expected), err_msg=name)
                elif pd.isna(expected):
                    self.assertIsNone(value, name)
                elif base == "float":
                    np.testing.assert_array_equal(np.float32(value), np.float32(expected), err_msg=name)
                elif base == "double":
                    np.testing.assert_array_equal(value, float(expected), err_msg=name)
                else:
                    self.assertEqual(value, expected, name)
        self.assertEqual(populated, set(specs), "every diaSource field populated in at least one alert")

    def testHistoryAndObjects(self):
        visit = self.visit
        task = self.makeTask()
        result = task.run(*_runArgs(visit), ssSrc=visit.ssSrc)
        objects = visit.diaObjectCat.reset_index(drop=True).set_index("diaObjectId", drop=False)
        history = visit.diaSrcHistory.reset_index(drop=True)
        forced = visit.diaForcedSources.reset_index(drop=True)
        nChecked = 0
        for alert in result.alerts:
            objId = alert["diaSource"]["diaObjectId"]
            if objId == 0:
                continue
            nChecked += 1
            obj = objects.loc[objId]
            self.assertEqual(alert["diaObject"]["diaObjectId"], objId)
            self.assertEqual(alert["diaObject"]["nDiaSources"], obj["nDiaSources"])
            if obj["nDiaSources"] > 1:
                expected = history[history["diaObjectId"] == objId]["diaSourceId"].tolist()
                self.assertEqual([s["diaSourceId"] for s in alert["prvDiaSources"]], expected)
            else:
                self.assertIsNone(alert["prvDiaSources"])
            expectedForced = forced[forced["diaObjectId"] == objId]["diaForcedSourceId"].tolist()
            self.assertEqual([s["diaForcedSourceId"] for s in alert["prvDiaForcedSources"]], expectedForced)
        self.assertGreater(nChecked, 10)

    def testForcedSourceRules(self):
        visit = self.visit
        task = self.makeTask()
        off = task.run(*_runArgs(visit), ssSrc=visit.ssSrc, doRunForcedMeasurement=False)
        for alert in off.alerts:
            if alert["diaObject"] is not None:
                self.assertEqual(alert["prvDiaForcedSources"], [])
        threshold = 3
        some = task.run(*_runArgs(visit), ssSrc=visit.ssSrc, forcedSourceHistoryThreshold=threshold)
        sawBoth = set()
        for alert in some.alerts:
            if alert["diaObject"] is None:
                continue
            below = alert["diaObject"]["nDiaSources"] < threshold
            sawBoth.add(below)
            if below:
                self.assertEqual(alert["prvDiaForcedSources"], [])
        self.assertEqual(sawBoth, {True, False})

    def testSolarSystemAlerts(self):
        visit = self.visit
        result = self.makeTask().run(*_runArgs(visit), ssSrc=visit.ssSrc)
        ssRows = visit.ssSrc.reset_index(drop=True).set_index("diaSourceId", drop=False)
        sso = [a for a in result.alerts if a["diaSource"]["diaObjectId"] == 0]
        self.assertGreater(len(sso), 0)
        for alert in sso:
            self.assertIsNone(alert["diaObject"])
            self.assertIsNone(alert["prvDiaSources"])
            self.assertIsNone(alert["prvDiaForcedSources"])
            row = ssRows.loc[alert["diaSourceId"]]
            self.assertEqual(alert["ssSource"]["ssObjectId"], row["ssObjectId"])
            orbit = alert["mpc_orbits"]
            packed = ssObjectIdToPackedDesignation(int(row["ssObjectId"]))
            self.assertEqual(orbit["packed_primary_provisional_designation"], packed)
            self.assertEqual(orbit["unpacked_primary_provisional_designation"], unpackProvisional(packed))
            self.assertIsInstance(orbit["a"], float)

    def testSchedulerStrings(self):
        visit = self.visit
        result = self.makeTask().run(*_runArgs(visit), ssSrc=visit.ssSrc)
        info = visit.diffIm.visitInfo
        self.assertEqual(result.alerts[0]["observation_reason"], info.observationReason or None)
        self.assertEqual(result.alerts[0]["target_name"], info.object or None)

    def testMetadata(self):
        visit = self.visit
        task = self.makeTask()
        result = task.run(*_runArgs(visit), ssSrc=visit.ssSrc)
        md = task.getFullMetadata()
        prefix = f"{task.getFullName()}."
        self.assertAlmostEqual(
            md[prefix + "visit_midpoint"], visit.diffIm.visitInfo.date.toAstropy().tai.unix
        )
        for key in (
            "produce_start_timestamp",
            "produce_end_timestamp",
            "alert_timing_since_shutter_close",
            "total_alerts",
        ):
            self.assertEqual(md[prefix + key], -1)
        self.assertEqual(md[prefix + "alerts_packaged"], len(result.alerts))
        self.assertEqual(md[prefix + "alerts_skipped"], len(result.skipped))

    def testUseAveragePsf(self):
        """With useAveragePsf every cutout carries the PSF at the average position, else its own."""

        class VaryingPsf(KernelArrayPsf):
            """A Gaussian PSF whose width grows with x."""

            def _kernelArray(self, point):
                sigma = 1.0 + point.getX() / 200.0
                r = np.arange(-7, 8)
                array = np.exp(-0.5 * (r[None, :] ** 2 + r[:, None] ** 2) / sigma**2)
                return array / array.sum()

            def getAveragePosition(self):
                return geom.Point2D(100.0, 100.0)

        visit = self.visit
        calexp = visit.calexp.clone()
        calexp.setPsf(VaryingPsf())
        args = list(_runArgs(visit))
        args[5] = calexp
        expected = VaryingPsf().computeKernelImage(geom.Point2D(100.0, 100.0)).array
        for useAverage in (True, False):
            result = self.makeTask(useAveragePsf=useAverage).run(*args, ssSrc=visit.ssSrc)
            same, own = [], []
            for alert in result.alerts:
                if alert["cutoutScience"] is not None:
                    ccd = CCDData.read(io.BytesIO(alert["cutoutScience"]), format="fits")
                    same.append(np.array_equal(ccd.psf, expected))
                    at = geom.Point2D(alert["diaSource"]["x"], alert["diaSource"]["y"])
                    own.append(np.array_equal(ccd.psf, VaryingPsf().computeKernelImage(at).array))
            self.assertGreater(len(same), 5)
            if useAverage:
                self.assertTrue(all(same))
            else:
                self.assertFalse(any(same))
                self.assertTrue(all(own))

    def testPsfFailingAtSomeSourcesDropsOnlyTheirPsf(self):
        """A PSF that cannot be evaluated at some positions costs those cutouts their PSF, nothing else."""
        from lsst.ap.alerts._afw import InvalidPsfError

        class HalfBrokenPsf(KernelArrayPsf):
            def _kernelArray(self, point):
                if point.getX() > 150.0:
                    raise InvalidPsfError("outside the PSF model's support")
                return np.full((5, 7), 1.0 / 35)

            def getAveragePosition(self):
                return geom.Point2D(100.0, 100.0)

        visit = self.visit
        calexp = visit.calexp.clone()
        calexp.setPsf(HalfBrokenPsf())
        args = list(_runArgs(visit))
        args[5] = calexp
        with self.assertLogs(LOG_NAME, level="WARNING") as logs:
            result = self.makeTask().run(*args, ssSrc=visit.ssSrc)
        self.assertEqual(
            len(result.alerts), len(self.makeTask().run(*_runArgs(visit), ssSrc=visit.ssSrc).alerts)
        )
        broken = kept = 0
        for alert in result.alerts:
            if alert["cutoutScience"] is None:
                continue
            ccd = CCDData.read(io.BytesIO(alert["cutoutScience"]), format="fits")
            self.assertIsNotNone(alert["cutoutDifference"])
            if alert["diaSource"]["x"] > 150.0:
                broken += 1
                self.assertIsNone(ccd.psf)
                self.assertIn(f"DiaSource id={alert['diaSourceId']}", "\n".join(logs.output))
            else:
                kept += 1
                np.testing.assert_array_equal(ccd.psf, np.full((5, 7), 1.0 / 35))
            # The data are there either way.
            self.assertEqual(ccd.data.shape, ccd.uncertainty.array.shape)
        self.assertGreater(broken, 0)
        self.assertGreater(kept, 0)

    def testTemplateNone(self):
        visit = self.visit
        result = self.makeTask().run(*_runArgs(visit)[:-1], None, ssSrc=visit.ssSrc)
        self.assertTrue(all(a["cutoutTemplate"] is None for a in result.alerts))
        self.assertTrue(any(a["cutoutDifference"] is not None for a in result.alerts))

    def testEmptyInput(self):
        visit = self.visit
        task = self.makeTask(doWriteAlerts=True)
        result = task.run(
            visit.diaSourceCat.iloc[:0],
            visit.diaObjectCat.iloc[:0],
            visit.diaSrcHistory.iloc[:0],
            visit.diaForcedSources.iloc[:0],
            visit.diffIm,
            visit.calexp,
            visit.template,
        )
        self.assertEqual(len(result.alerts), 0)
        with open(result.alertFile, "rb") as f:
            self.assertEqual(list(fastavro.reader(f)), [])
        self.assertEqual(task.metadata["alerts_packaged"], 0)

    def testRerunReplacesFile(self):
        visit = self.visit
        task = self.makeTask(doWriteAlerts=True)
        first = task.run(*_runArgs(visit), ssSrc=visit.ssSrc)
        few = visit.diaSourceCat.iloc[:3]
        second = task.run(few, *_runArgs(visit)[1:], ssSrc=visit.ssSrc)
        self.assertEqual(first.alertFile, second.alertFile)
        with open(second.alertFile, "rb") as f:
            self.assertEqual(len(list(fastavro.reader(f))), len(second.alerts))
        self.assertEqual(len(os.listdir(self.tmp.name)), 1)


class ApdbCatalogTestCase(PackageAlertsTestBase):
    def testCatalogsReadFromRealApdb(self):
        """Catalogs stored in and read back from a real SQLite APDB package like the originals."""
        from lsst.ap.alerts.simulation import readApdb, writeApdb

        visit = makeSimulatedVisit(15, 4, seed=8, size=300)
        apdb = writeApdb(visit.catalogs, os.path.join(self.tmp.name, "apdb.db"))
        read = readApdb(apdb, visit.catalogs)
        visitId = visit.diffIm.visitInfo.id
        fromApdb = read.diaSources
        newSources = fromApdb[fromApdb["visit"] == visitId]
        history = fromApdb[fromApdb["visit"] != visitId]
        direct = self.makeTask().run(*_runArgs(visit))
        viaApdb = self.makeTask().run(
            newSources,
            read.diaObjects,
            history,
            read.diaForcedSources,
            visit.diffIm,
            visit.calexp,
            visit.template,
        )
        self.assertEqual(sorted(viaApdb.alerts.diaSourceIds), sorted(direct.alerts.diaSourceIds))
        byId = {a["diaSourceId"]: a for a in direct.alerts}
        for alert in viaApdb.alerts:
            other = byId[alert["diaSourceId"]]
            self.assertEqual(alert["diaSource"]["psfFlux"], other["diaSource"]["psfFlux"])
            self.assertEqual(alert["diaObject"]["diaObjectId"], other["diaObject"]["diaObjectId"])
            self.assertEqual(len(alert["prvDiaSources"] or []), len(other["prvDiaSources"] or []))
            self.assertEqual(len(alert["prvDiaForcedSources"]), len(other["prvDiaForcedSources"]))


class BadInputTestCase(PackageAlertsTestBase):
    def testValidationListsEveryProblemBeforeWriting(self):
        visit = self.visit
        task = self.makeTask(doWriteAlerts=True)
        sources = visit.diaSourceCat.drop(columns=["midpointMjdTai", "bboxSize"])
        objects = visit.diaObjectCat.drop(columns=["nDiaSources"])
        diffIm = visit.diffIm.clone()
        diffIm.setPhotoCalib(afwImage.PhotoCalib(float("nan"), 0.0))
        with self.assertRaises(AlertInputError) as cm:
            task.run(
                sources,
                objects,
                visit.diaSrcHistory,
                visit.diaForcedSources,
                diffIm,
                visit.calexp,
                visit.template,
            )
        message = str(cm.exception)
        for fragment in (
            "diaSourceCat",
            "midpointMjdTai",
            "bboxSize",
            "diaObjectCat",
            "nDiaSources",
            "diffIm PhotoCalib",
        ):
            self.assertIn(fragment, message)
        self.assertEqual(len(cm.exception.problems), 3)
        self.assertEqual(os.listdir(self.tmp.name), [])

    def testDuplicateAndStringColumnsAreInputErrors(self):
        """A duplicated column or numbers held as strings fail the whole visit, naming the column."""
        visit = self.visit
        task = self.makeTask(doWriteAlerts=True)
        sources = pd.concat([visit.diaSourceCat, visit.diaSourceCat[["psfFlux"]]], axis=1)
        objects = visit.diaObjectCat.copy()
        objects["nDiaSources"] = objects["nDiaSources"].astype(str).astype("string")
        with self.assertRaises(AlertInputError) as cm:
            task.run(sources, objects, *_runArgs(visit)[2:])
        self.assertEqual(len(cm.exception.problems), 2)
        message = str(cm.exception)
        self.assertIn("diaSourceCat has duplicate column 'psfFlux'", message)
        self.assertIn("diaObjectCat.nDiaSources holds strings", message)
        self.assertEqual(os.listdir(self.tmp.name), [])

    def testPerSourceProblemsSkipOnlyThatSource(self):
        visit = self.visit
        sources = visit.diaSourceCat.copy()
        badIds = sources["diaSourceId"].to_numpy()[[1, 4]]
        sources.loc[sources.index[1], "ra"] = np.nan
        sources["visit"] = sources["visit"].astype(object)
        sources.loc[sources.index[4], "visit"] = "not a visit"
        task = self.makeTask(doWriteAlerts=True)
        with self.assertLogs(LOG_NAME, level="WARNING") as logs:
            result = task.run(sources, *_runArgs(visit)[1:], ssSrc=visit.ssSrc)
        self.assertEqual({s for s, _ in result.skipped} & set(badIds), set(badIds))
        self.assertEqual(len(result.alerts) + len(result.skipped), len(sources))
        text = "\n".join(logs.output)
        for srcId in badIds:
            self.assertIn(str(srcId), text)
        self.assertEqual(task.metadata["alerts_skipped"], len(result.skipped))

    def testMissingDiaObjectGivesNullObject(self):
        visit = self.visit
        sources = _sourceRows(visit)
        victim = int(sources[sources["diaObjectId"] != 0]["diaObjectId"].iloc[0])
        objects = visit.diaObjectCat[visit.diaObjectCat["diaObjectId"] != victim]
        with self.assertLogs(LOG_NAME, level="WARNING") as logs:
            result = self.makeTask().run(visit.diaSourceCat, objects, *_runArgs(visit)[2:], ssSrc=visit.ssSrc)
        hit = [a for a in result.alerts if a["diaSource"]["diaObjectId"] == victim]
        self.assertTrue(hit)
        self.assertTrue(all(a["diaObject"] is None for a in hit))
        self.assertIn(str(victim), "\n".join(logs.output))

    def testNaNPixelPositionUsesWcs(self):
        visit = self.visit
        sources = visit.diaSourceCat.copy()
        sources.loc[sources.index[0], ["x", "y"]] = np.nan
        withNan = self.makeTask().run(sources, *_runArgs(visit)[1:], ssSrc=visit.ssSrc)
        normal = self.makeTask().run(*_runArgs(visit), ssSrc=visit.ssSrc)
        srcId = sources["diaSourceId"].iloc[0]
        a = next(a for a in withNan.alerts if a["diaSourceId"] == srcId)
        b = next(a for a in normal.alerts if a["diaSourceId"] == srcId)
        self.assertIsNotNone(a["cutoutDifference"])
        ca = CCDData.read(io.BytesIO(a["cutoutDifference"]), format="fits")
        cb = CCDData.read(io.BytesIO(b["cutoutDifference"]), format="fits")
        self.assertEqual(ca.shape, cb.shape)
        self.assertLessEqual(abs(ca.meta["CUTMINX"] - cb.meta["CUTMINX"]), 1)


class CutoutTestCase(PackageAlertsTestBase):
    def _source(self, i=0):
        rows = _sourceRows(self.visit)
        row = rows.iloc[i]
        return (
            row,
            geom.SpherePoint(row["ra"], row["dec"], geom.degrees),
            geom.Point2D(float(row["x"]), float(row["y"])),
        )

    def testCreateDiaSourceExtent(self):
        task = self.makeTask()
        self.assertEqual(task.createDiaSourceExtent(5), geom.Extent2I(30, 30))
        self.assertEqual(task.createDiaSourceExtent(45), geom.Extent2I(45, 45))
        self.assertEqual(task.createDiaSourceExtent(500), geom.Extent2I(102, 102))

    def testCcdDataCutout(self):
        task = self.makeTask()
        row, sky, pix = self._source()
        exposure = self.visit.calexp
        calib = exposure.getPhotoCalib()
        extent = geom.Extent2I(30, 30)
        ccd = task.createCcdDataCutout(exposure, sky, pix, extent, calib, row["diaSourceId"], rotPa=12.5)
        reference = exposure.getCutout(pix, extent)
        calibrated = calib.calibrateImage(reference.getMaskedImage())
        np.testing.assert_array_equal(ccd.data, calibrated.image.array)
        np.testing.assert_array_equal(ccd.uncertainty.array, calibrated.variance.array)
        self.assertEqual(str(ccd.unit), "nJy")
        self.assertEqual(ccd.meta["cutMinX"], reference.getBBox().getMinX() - 1)
        self.assertEqual(ccd.meta["cutMinY"], reference.getBBox().getMinY() - 1)
        self.assertEqual(ccd.meta["ROTPA"], 12.5)
        np.testing.assert_array_equal(ccd.psf, exposure.getPsf().computeKernelImage(pix).array)
        # The cutout WCS is tangent at the source: crval = its sky position.
        np.testing.assert_allclose(ccd.wcs.wcs.crval, [sky.getRa().asDegrees(), sky.getDec().asDegrees()])
        # Round trip through FITS bytes keeps data, variance, WCS, unit, PSF and mask planes.
        data = task.streamCcdDataToBytes(ccd)
        back = CCDData.read(io.BytesIO(data), format="fits")
        np.testing.assert_array_equal(back.data, ccd.data)
        np.testing.assert_array_equal(back.uncertainty.array, ccd.uncertainty.array)
        np.testing.assert_array_equal(back.psf, ccd.psf)
        self.assertEqual(str(back.unit), "nJy")
        np.testing.assert_allclose(back.wcs.pixel_scale_matrix, ccd.wcs.pixel_scale_matrix, rtol=1e-12)
        from astropy.io import fits

        with fits.open(io.BytesIO(data)) as hdus:
            self.assertEqual([hdu.name for hdu in hdus], ["PRIMARY", "UNCERT", "PSFIMAGE"])
        # With cutoutMaskPlanes = "compressed" the planes follow, in AFWMASK.
        data = self.makeTask(cutoutMaskPlanes="compressed").streamCcdDataToBytes(ccd)
        with fits.open(io.BytesIO(data)) as hdus:
            np.testing.assert_array_equal(hdus["AFWMASK"].data, reference.getMaskedImage().mask.array)
            self.assertEqual(
                hdus["AFWMASK"].header["MP_NO_DATA"],
                reference.getMaskedImage().mask.getMaskPlaneDict()["NO_DATA"],
            )

    def testEdgeCutoutIsPadded(self):
        task = self.makeTask()
        exposure = self.visit.diffIm
        bbox = exposure.getBBox()
        pix = geom.Point2D(bbox.getMinX() + 2.0, bbox.getMinY() + 3.0)
        sky = exposure.getWcs().pixelToSky(pix)
        ccd = task.createCcdDataCutout(exposure, sky, pix, geom.Extent2I(30, 30), exposure.getPhotoCalib(), 7)
        self.assertEqual(ccd.shape, (30, 30))
        noData = exposure.getMaskedImage().mask.getPlaneBitMask("NO_DATA")
        self.assertTrue(np.isnan(ccd.data[0, 0]))
        self.assertTrue(ccd.flags[0, 0] & noData)
        self.assertTrue(np.isfinite(ccd.data[-1, -1]))

    def testOffImageSourceGivesNoneWithWarning(self):
        task = self.makeTask()
        exposure = self.visit.diffIm
        pix = geom.Point2D(-50.0, -50.0)
        sky = exposure.getWcs().pixelToSky(pix)
        with self.assertLogs(LOG_NAME, level="WARNING") as logs:
            ccd = task.createCcdDataCutout(
                exposure, sky, pix, geom.Extent2I(30, 30), exposure.getPhotoCalib(), 123456789
            )
        self.assertIsNone(ccd)
        self.assertIn("123456789", "\n".join(logs.output))

    def testPsfFailureGivesCutoutWithoutPsf(self):
        from lsst.ap.alerts._afw import InvalidPsfError

        class BrokenPsf(KernelArrayPsf):
            def _kernelArray(self, point):
                raise InvalidPsfError("no inputs here")

        task = self.makeTask()
        row, sky, pix = self._source()
        exposure = self.visit.calexp.clone()
        exposure.setPsf(BrokenPsf())
        with self.assertLogs(LOG_NAME, level="WARNING") as logs:
            ccd = task.createCcdDataCutout(
                exposure, sky, pix, geom.Extent2I(30, 30), exposure.getPhotoCalib(), row["diaSourceId"]
            )
        self.assertIsNone(ccd.psf)
        self.assertIn(str(row["diaSourceId"]), "\n".join(logs.output))

    def testLocalTransformMatrixEqualsCdAtTanReference(self):
        task = self.makeTask()
        crpix = geom.Point2D(1000.0, 1500.0)
        crval = geom.SpherePoint(215.5, 53.1, geom.degrees)
        scale = 0.2 / 3600
        angle = np.radians(30.0)
        cd = np.array(
            [[-scale * np.cos(angle), scale * np.sin(angle)], [scale * np.sin(angle), scale * np.cos(angle)]]
        )
        wcs = afwGeom.makeSkyWcs(crpix, crval, cd)
        matrix = task.makeLocalTransformMatrix(wcs, crpix, crval)
        np.testing.assert_allclose(matrix, wcs.getCdMatrix(), rtol=5e-10, atol=5e-10)

    def testCutoutWcsFollowsTanSipParent(self):
        """The cutout's linear WCS maps every pixel of a 102×102 cutout within 5 mas of the parent's."""
        task = self.makeTask()
        exposure = self.visit.diffIm
        wcs = exposure.getWcs()
        self.assertTrue(wcs.getFitsMetadata().toDict()["CTYPE1"].endswith("-SIP"))
        bbox = exposure.getBBox()
        for pix in (
            geom.Point2D(bbox.getMinX() + 60.5, bbox.getMinY() + 60.2),
            geom.Point2D(bbox.getCenterX() + 0.3, bbox.getCenterY() - 0.4),
        ):
            sky = wcs.pixelToSky(pix)
            ccd = task.createCcdDataCutout(
                exposure, sky, pix, geom.Extent2I(102, 102), exposure.getPhotoCalib(), 1
            )
            ys, xs = np.mgrid[0:102, 0:102]
            world = ccd.wcs.pixel_to_world(xs.ravel(), ys.ravel())
            parentX = xs.ravel() + ccd.meta["cutMinX"] + 1
            parentY = ys.ravel() + ccd.meta["cutMinY"] + 1
            ra, dec = wcs.pixelToSkyArray(parentX.astype(float), parentY.astype(float), degrees=True)
            import astropy.units as u
            from astropy.coordinates import SkyCoord

            sep = world.separation(SkyCoord(ra * u.deg, dec * u.deg)).to(u.mas).value
            self.assertLess(sep.max(), 5.0)


class MakeAlertDictTestCase(PackageAlertsTestBase):
    """makeAlertDict in both of upstream's call styles; values as given, typed when encoded."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        visit = cls.visit
        rows = _sourceRows(visit)
        objects = visit.diaObjectCat.reset_index(drop=True).set_index("diaObjectId", drop=False)
        history = visit.diaSrcHistory.reset_index(drop=True)
        # A source with earlier DiaSources (upstream sends them only when nDiaSources > 1).
        withHistory = objects.index[objects["nDiaSources"] > 1].intersection(history["diaObjectId"])
        cls.row = rows[rows["diaObjectId"].isin(withHistory)].iloc[0]
        cls.obj = objects.loc[cls.row["diaObjectId"]]
        cls.hist = history[history["diaObjectId"] == cls.row["diaObjectId"]]
        forced = visit.diaForcedSources.reset_index(drop=True)
        cls.forced = forced[forced["diaObjectId"] == cls.row["diaObjectId"]]

    def assertSameValues(self, got, expected):
        """Equal dicts (or lists of dicts), NaN equal to NaN, value types kept."""
        if isinstance(expected, list):
            self.assertEqual(len(got), len(expected))
            for g, e in zip(got, expected, strict=True):
                self.assertSameValues(g, e)
            return
        self.assertEqual(list(got), list(expected))
        for key, value in expected.items():
            self.assertIs(type(got[key]), type(value), key)
            self.assertEqual(_fingerprint(got[key]), _fingerprint(value), key)

    def cutout(self, task):
        exposure = self.visit.diffIm
        center = geom.Point2D(self.row["x"], self.row["y"])
        return task.createCcdDataCutout(
            exposure,
            exposure.getWcs().pixelToSky(center),
            center,
            geom.Extent2I(30, 30),
            exposure.getPhotoCalib(),
            1,
        )

    def testCurrentStyle(self):
        task = self.makeTask()
        ccd = self.cutout(task)
        alert = task.makeAlertDict(
            self.row["diaSourceId"],
            "science",
            "field 7",
            self.row,
            self.obj,
            self.hist,
            self.forced,
            ccd,
            ccd,
            None,
        )
        self.assertEqual(set(alert), ALERT_KEYS)
        self.assertEqual(alert["diaSourceId"], self.row["diaSourceId"])
        self.assertEqual(alert["observation_reason"], "science")
        self.assertEqual(alert["target_name"], "field 7")
        # Values as the caller's frames give them (upstream's test compares to_dict()).
        self.assertSameValues(alert["diaSource"], self.row.to_dict())
        self.assertSameValues(alert["diaObject"], self.obj.to_dict())
        self.assertSameValues(alert["prvDiaSources"], self.hist.to_dict("records"))
        self.assertSameValues(alert["prvDiaForcedSources"], self.forced.to_dict("records"))
        self.assertIsNone(alert["prvDiaNondetectionLimits"])
        self.assertIsNone(alert["ssSource"])
        self.assertIsNone(alert["mpc_orbits"])
        self.assertEqual(alert["cutoutDifference"], task.streamCcdDataToBytes(ccd))
        self.assertEqual(alert["cutoutScience"], alert["cutoutDifference"])
        self.assertIsNone(alert["cutoutTemplate"])

    def testOlderStyle(self):
        task = self.makeTask()
        alert = task.makeAlertDict(
            self.row["diaSourceId"], self.row, self.obj, self.hist, self.forced, None, None, None
        )
        # Upstream's older dicts have no scheduler keys (11 keys); the schema's default null applies.
        self.assertEqual(set(alert), ALERT_KEYS - {"observation_reason", "target_name"})
        self.assertSameValues(alert["diaSource"], self.row.to_dict())
        self.assertSameValues(alert["diaObject"], self.obj.to_dict())
        decoded = fastavro.schemaless_reader(
            io.BytesIO(task.encoder.encodeDict(alert)), task.schema.parsed, None
        )
        self.assertIsNone(decoded["observation_reason"])
        # Scheduler strings as keywords: kept unless empty.
        alert = task.makeAlertDict(
            self.row["diaSourceId"],
            self.row,
            self.obj,
            None,
            self.forced,
            None,
            None,
            None,
            observationReason="",
            targetName="  field ",
        )
        self.assertIsNone(alert["observation_reason"])
        self.assertEqual(alert["target_name"], "  field ")

    def testTupleObservationReasonIsCurrentStyle(self):
        """Upstream's own test passes observationReason with a trailing comma (a tuple): passed through."""
        task = self.makeTask()
        observationReason = ("test_reason",)
        alert = task.makeAlertDict(
            self.row["diaSourceId"],
            observationReason,
            "test_target",
            self.row,
            self.obj,
            self.hist,
            self.forced,
            None,
            None,
            None,
        )
        self.assertIs(alert["observation_reason"], observationReason)
        self.assertEqual(alert["target_name"], "test_target")
        self.assertSameValues(alert["diaSource"], self.row.to_dict())
        # Encoding needs a string: a clear error naming the source and the field.
        with self.assertRaisesRegex(ValueError, f"diaSourceId={self.row['diaSourceId']}: observation_reason"):
            task._serializeAlert(alert)

    def testStylesByKeyword(self):
        task = self.makeTask()
        srcId = self.row["diaSourceId"]
        current = task.makeAlertDict(
            diaSourceId=srcId,
            observationReason=None,
            targetName="t",
            diaSource=self.row,
            diaObject=self.obj,
            objDiaSrcHistory=None,
            objDiaForcedSources=self.forced,
            diffImCutout=None,
            calexpCutout=None,
            templateCutout=None,
        )
        older = task.makeAlertDict(
            alertId=srcId,
            diaSource=self.row,
            diaObject=self.obj,
            objDiaSrcHistory=None,
            objDiaForcedSources=self.forced,
            diffImCutout=None,
            calexpCutout=None,
            templateCutout=None,
        )
        self.assertEqual(current["diaSourceId"], srcId)
        self.assertEqual(older["diaSourceId"], srcId)
        self.assertEqual(current["target_name"], "t")
        self.assertNotIn("target_name", older)
        for key in older:
            self.assertEqual(type(older[key]), type(current[key]), key)
        with self.assertRaises(TypeError):
            task.makeAlertDict(srcId, None, None, self.row)  # current style, too few arguments
        with self.assertRaises(TypeError):
            task.makeAlertDict(srcId, self.row, self.obj)  # older style, too few arguments

    def testSeriesForcedSourceAndSolarSystem(self):
        task = self.makeTask()
        single = task.makeAlertDict(
            self.row["diaSourceId"],
            None,
            None,
            self.row,
            self.obj,
            None,
            self.forced.iloc[0],
            None,
            None,
            None,
        )
        self.assertSameValues(single["prvDiaForcedSources"], [self.forced.iloc[0].to_dict()])
        self.assertIsNone(single["prvDiaSources"])
        ssRow = self.visit.ssSrc.reset_index(drop=True).iloc[0]
        alert = task.makeAlertDict(
            ssRow["diaSourceId"], None, None, self.row, None, None, None, None, None, None, ssSource=ssRow
        )
        self.assertSameValues(alert["ssSource"], ssRow.to_dict())
        prefixed = {k: v for k, v in ssRow.items() if k.startswith("MPCORB_")}
        self.assertGreater(len(prefixed), 5)
        self.assertSameValues(alert["mpc_orbits"], {k[len("MPCORB_") :]: v for k, v in prefixed.items()})
        # The host's ssSrc has no MPCORB_id: the orbit's id is upstream's 0.
        hostRow = ssRow.drop("MPCORB_id")
        hostAlert = task.makeAlertDict(
            ssRow["diaSourceId"], None, None, self.row, None, None, None, None, None, None, ssSource=hostRow
        )
        self.assertEqual(hostAlert["mpc_orbits"]["id"], 0)
        self.assertEqual(len(hostAlert["mpc_orbits"]), len(prefixed))

    def testEncodedLikeRun(self):
        """Encoding makeAlertDict's raw dict gives the run's alert for that source (cutouts aside)."""
        visit = self.visit
        task = self.makeTask()
        result = task.run(*_runArgs(visit), ssSrc=visit.ssSrc)
        index = result.alerts.diaSourceIds.index(int(self.row["diaSourceId"]))
        fromRun = result.alerts[index]
        info = visit.diffIm.visitInfo
        alert = task.makeAlertDict(
            self.row["diaSourceId"],
            info.observationReason,
            info.object,
            self.row,
            self.obj,
            self.hist,
            self.forced,
            None,
            None,
            None,
        )
        decoded = fastavro.schemaless_reader(
            io.BytesIO(task.encoder.encodeDict(alert)), task.schema.parsed, None
        )
        for key in ("cutoutDifference", "cutoutScience", "cutoutTemplate"):
            fromRun[key] = None
        self.assertEqual(task.encoder.encodeDict(decoded), task.encoder.encodeDict(fromRun))

    def testBadValueNamesSourceAndFieldWhenEncoded(self):
        task = self.makeTask()
        row = self.row.copy()
        row["visit"] = "not a visit"
        alert = task.makeAlertDict(row["diaSourceId"], row, None, None, None, None, None, None)
        self.assertEqual(alert["diaSource"]["visit"], "not a visit")  # as given
        with self.assertRaises(ValueError) as cm:
            task._serializeAlert(alert)
        self.assertIn(str(row["diaSourceId"]), str(cm.exception))
        self.assertIn("diaSource.visit", str(cm.exception))


class UpstreamHooksTestCase(PackageAlertsTestBase):
    """The private methods upstream's tests and subclasses use."""

    def testSerializeAlert(self):
        task = self.makeTask()
        alert = task.makeAlertDict(
            7, "reason", None, _sourceRows(self.visit).iloc[0], None, None, None, None, None, None
        )
        serialized = task._serializeAlert(alert)
        self.assertEqual(serialized[:5], struct.pack(">bi", 0, 0))  # upstream's default id 0
        decoded = fastavro.schemaless_reader(io.BytesIO(serialized[5:]), task.alertSchema.definition, None)
        self.assertEqual(decoded["diaSourceId"], 7)
        self.assertEqual(decoded["observation_reason"], "reason")
        row = alert["diaSource"]
        for key in ("ra", "dec", "midpointMjdTai", "visit", "band"):
            self.assertEqual(decoded["diaSource"][key], row[key], key)
        self.assertEqual(decoded["diaSource"]["psfFlux"], float(np.float32(row["psfFlux"])))
        framed = task._serializeAlert(alert, schema=task.alertSchema.definition, schema_id=1101)
        self.assertEqual(framed, struct.pack(">bi", 0, 1101) + serialized[5:])

    def testWireHeader(self):
        for schemaId in (0, 1, 704, 1101, 2**31 - 1):
            self.assertEqual(
                PackageAlertsTask._serializeConfluentWireHeader(schemaId), struct.pack(">bi", 0, schemaId)
            )

    def testDeliveryCallbackLogs(self):
        import confluent_kafka

        task = self.makeTask()
        err = confluent_kafka.KafkaError(confluent_kafka.KafkaError._MSG_TIMED_OUT)
        with self.assertLogs(LOG_NAME, "WARNING") as cm:
            task._delivery_callback(err, None)
        self.assertIn("Message failed delivery", cm.output[0])
        self.assertIn("_MSG_TIMED_OUT", cm.output[0])

        class Delivered:  # stands in for confluent_kafka.Message, which only the client creates
            def topic(self):
                return "alerts"

            def partition(self):
                return 3

            def offset(self):
                return 42

        with self.assertLogs(LOG_NAME, "DEBUG") as cm:
            task._delivery_callback(None, Delivered())
        self.assertIn("Message delivered to alerts [3] @ 42", cm.output[0])

    def testPatchDiaSources(self):
        task = self.makeTask()
        table = self.visit.diaSourceCat.copy()
        task._patchDiaSources(table)
        self.assertTrue((table["programId"] == 0).all())

    def testInitCallsServerCheck(self):
        """__init__ checks the broker through _server_check, once, as upstream (tests patch it)."""
        calls = []

        class Recording(PackageAlertsTask):
            def _server_check(self):
                calls.append(self.kafkaTopic)

        class Failing(PackageAlertsTask):
            def _server_check(self):
                raise RuntimeError("broker check failed")

        env = {"AP_KAFKA_SERVER": "127.0.0.1:9", "AP_KAFKA_TOPIC": "alerts"}
        with mock.patch.dict(os.environ, env):
            task = self.recordingTask(Recording)
            self.assertEqual(calls, ["alerts"])
            self.assertIsNotNone(task.producer)
            task.producer.close()
            with self.assertRaisesRegex(RuntimeError, "broker check failed"):
                self.recordingTask(Failing)

    def recordingTask(self, taskClass):
        config = PackageAlertsConfig(doProduceAlerts=True, kafkaSecurityProtocol="PLAINTEXT")
        config.alertWriteLocation = self.tmp.name
        return taskClass(config=config)

    def testMissingKafkaVariableMessages(self):
        """Upstream's sentence for each missing variable, and ours with the variable name."""
        full = {
            "AP_KAFKA_PRODUCER_PASSWORD": "p",
            "AP_KAFKA_PRODUCER_USERNAME": "u",
            "AP_KAFKA_SERVER": "127.0.0.1:9",
            "AP_KAFKA_TOPIC": "t",
        }
        words = {
            "AP_KAFKA_PRODUCER_PASSWORD": "password",
            "AP_KAFKA_PRODUCER_USERNAME": "username",
            "AP_KAFKA_SERVER": "server",
            "AP_KAFKA_TOPIC": "topic",
        }
        for name, word in words.items():
            for value in ("", None):
                env = dict(full)
                if value is None:
                    del env[name]
                else:
                    env[name] = value
                with self.subTest(variable=name, value=value), mock.patch.dict(os.environ, env, clear=True):
                    with self.assertRaises(ValueError) as cm:
                        PackageAlertsTask(config=PackageAlertsConfig(doProduceAlerts=True))
                    self.assertIn(f"Kafka {word} environment variable was not set.", str(cm.exception))
                    self.assertIn(name, str(cm.exception))
                    self.assertNotIn("127.0.0.1:9", str(cm.exception).replace(name, ""))


class NullForNaNTestCase(PackageAlertsTestBase):
    def testNaNOrNull(self):
        """Default NaN (upstream); useNullForNaN gives null in nullable float fields only."""
        visit = self.visit
        task = self.makeTask()
        nanResult = task.run(*_runArgs(visit), ssSrc=visit.ssSrc)
        nullResult = self.makeTask(useNullForNaN=True).run(*_runArgs(visit), ssSrc=visit.ssSrc)
        self.assertEqual(nanResult.alerts.diaSourceIds, nullResult.alerts.diaSourceIds)
        specs = {f["name"]: f["type"] for f in task.schema.records["diaSource"]["fields"]}
        rows = _sourceRows(visit)
        nNaN = 0
        for a, b in zip(nanResult.alerts, nullResult.alerts, strict=True):
            row = rows.loc[a["diaSourceId"]]
            for name, avroType in specs.items():
                nullable = isinstance(avroType, list)
                base = avroType[1] if nullable else avroType
                if base not in ("float", "double") or name not in row or not _isNaN(row[name]):
                    self.assertEqual(_fingerprint(a["diaSource"][name]), _fingerprint(b["diaSource"][name]))
                    continue
                nNaN += 1
                self.assertTrue(np.isnan(a["diaSource"][name]), name)
                if nullable:
                    self.assertIsNone(b["diaSource"][name], name)
                else:
                    self.assertTrue(np.isnan(b["diaSource"][name]), name)
        self.assertGreater(nNaN, 20)
        # The dict path follows the same setting.
        alert = self.makeTask(useNullForNaN=True).makeAlertDict(
            1, None, None, rows.iloc[0], None, None, None, None, None, None
        )
        alert["diaSource"]["psfFlux"] = float("nan")
        decoded = fastavro.schemaless_reader(
            io.BytesIO(self.makeTask(useNullForNaN=True)._serializeAlert(alert)[5:]), task.schema.parsed, None
        )
        self.assertIsNone(decoded["diaSource"]["psfFlux"])


def _isNaN(value):
    return isinstance(value, (float, np.floating)) and np.isnan(value)


def _fingerprint(value):
    """Comparable form of a decoded value (NaN equal to NaN)."""
    return "NaN" if _isNaN(value) else value


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
