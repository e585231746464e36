"""Synthetic visits: catalogs as the pipeline hands them over, images, APDB."""

import importlib.resources
import json
import os
import tempfile
import time
import unittest

import lsst.utils.tests
import numpy as np
import pandas as pd

from lsst.ap.alerts import simulation as sim
from lsst.ap.alerts.catalogs.designations import packProvisional, ssObjectIdToPackedDesignation

SOURCE_INDEX = ["diaObjectId", "band", "diaSourceId"]


def alertFields(record):
    """Field definitions of a record of alert schema 11.1."""
    path = importlib.resources.files("lsst.alert.packet") / f"schema/11/1/lsst.v11_1.{record}.avsc"
    return json.loads(path.read_text())["fields"]


def isMissing(series):
    """True where a value is null or NaN."""
    missing = series.isna().to_numpy()
    if series.dtype.kind == "f":
        missing = missing | ~np.isfinite(series.to_numpy())
    return missing


class CatalogTestCase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cat = sim.makeVisitCatalogs(400, 12, seed=7, fractionSolarSystem=0.05, varyHistory=True)

    def testColumnsAndDtypes(self):
        """Columns and dtypes: the APDB schema's, as the pipeline converts."""
        for table, frame in (("DiaSource", self.cat.diaSourceCat), ("DiaSource", self.cat.diaSrcHistory),
                             ("DiaObject", self.cat.diaObjectCat),
                             ("DiaForcedSource", self.cat.diaForcedSources)):
            expected = sim.apdbColumnDtypes(table)
            self.assertEqual(list(frame.columns), list(expected))
            self.assertEqual({k: str(v) for k, v in frame.dtypes.items()}, expected)
        dtypes = sim.apdbColumnDtypes("DiaSource")
        # Spot checks against the schema: float32 vs float64, nullable ids.
        self.assertEqual(dtypes["ra"], "float64")
        self.assertEqual(dtypes["psfFlux"], "float32")
        self.assertEqual(dtypes["diaSourceId"], "int64")
        self.assertEqual(dtypes["diaObjectId"], "Int64")
        self.assertEqual(dtypes["detector"], "int16")
        self.assertEqual(dtypes["isDipole"], "boolean")
        self.assertEqual(dtypes["band"], "object")
        ssExpected = sim.apdbColumnDtypes("SSSource")
        self.assertEqual({k: str(self.cat.ssSrc[k].dtype) for k in ssExpected}, ssExpected)

    def testAlertFieldsPresent(self):
        for record, frame in (("diaSource", self.cat.diaSourceCat), ("diaObject", self.cat.diaObjectCat),
                              ("diaForcedSource", self.cat.diaForcedSources), ("ssSource", self.cat.ssSrc)):
            missing = {f["name"] for f in alertFields(record)} - set(frame.columns)
            self.assertEqual(missing, set(), record)
        mpc = {f["name"] for f in alertFields("mpc_orbits")}
        self.assertEqual(mpc, {c[len("MPCORB_"):] for c in self.cat.ssSrc.columns if c.startswith("MPCORB_")})
        self.assertTrue(str(self.cat.ssSrc["MPCORB_created_at"].dtype).startswith("datetime64"))

    def testIndexes(self):
        cat = self.cat
        self.assertEqual(list(cat.diaSourceCat.index.names), SOURCE_INDEX)
        self.assertEqual(list(cat.diaSrcHistory.index.names), SOURCE_INDEX)
        self.assertEqual(list(cat.diaObjectCat.index.names), ["diaObjectId"])
        self.assertEqual(list(cat.diaForcedSources.index.names), ["diaObjectId", "diaForcedSourceId"])
        for frame in (cat.diaSourceCat, cat.diaSrcHistory, cat.diaObjectCat, cat.diaForcedSources):
            self.assertFalse(frame.index.has_duplicates)
            for name in frame.index.names:
                np.testing.assert_array_equal(frame.index.get_level_values(name).to_numpy(),
                                              frame[name].to_numpy())
        # Upstream's lookups work.
        known = cat.diaObjectCat[cat.diaObjectCat["nDiaSources"] > 1].index[0]
        self.assertEqual(len(cat.diaSrcHistory.loc[known]), cat.diaObjectCat.loc[known, "nDiaSources"] - 1)
        self.assertGreater(len(cat.diaForcedSources.loc[known]), 0)

    def testDeterministic(self):
        again = sim.makeVisitCatalogs(400, 12, seed=7, fractionSolarSystem=0.05, varyHistory=True)
        for name in ("diaSourceCat", "diaObjectCat", "diaSrcHistory", "diaForcedSources", "ssSrc"):
            pd.testing.assert_frame_equal(getattr(self.cat, name), getattr(again, name))
        other = sim.makeVisitCatalogs(400, 12, seed=8, fractionSolarSystem=0.05, varyHistory=True)
        self.assertFalse(np.array_equal(other.diaSourceCat["ra"], self.cat.diaSourceCat["ra"]))

    def testPositionsFollowWcs(self):
        src = self.cat.diaSourceCat
        x, y = self.cat.skyToPixel(src["ra"].to_numpy(), src["dec"].to_numpy())
        np.testing.assert_allclose(x, src["x"], atol=1e-3)
        np.testing.assert_allclose(y, src["y"], atol=1e-3)
        width, height = self.cat.bbox
        self.assertTrue(((src["x"] >= 0) & (src["x"] <= width - 1) & (src["y"] >= 0)
                         & (src["y"] <= height - 1)).all())
        # Some sources near the edges, flagged as such.
        self.assertTrue(src["pixelFlags_edge"].any())
        edge = np.minimum.reduce([src["x"], src["y"], width - 1 - src["x"], height - 1 - src["y"]])
        self.assertTrue((src["psfFlux_flag_edge"].to_numpy(bool) == (edge < 5)).all())

    def testCustomWcs(self):
        """A distorted (ra, dec) -> (x, y) function is inverted correctly."""
        tan = sim.TanWcs.make((210.0, 54.3), (199.5, 199.5), rotAngle=37.0)

        def distorted(ra, dec):
            x, y = tan(ra, dec)
            return x + 2e-5 * (x - 200) ** 2, y - 1e-5 * (x - 200) * (y - 200)

        cat = sim.makeVisitCatalogs(50, 3, seed=1, wcs=distorted, bbox=(400, 400), boresight=(210.0, 54.3))
        src = cat.diaSourceCat
        x, y = distorted(src["ra"].to_numpy(), src["dec"].to_numpy())
        np.testing.assert_allclose(x, src["x"], atol=1e-3)
        np.testing.assert_allclose(y, src["y"], atol=1e-3)
        self.assertTrue(((x > -0.5) & (x < 400) & (y > -0.5) & (y < 400)).all())
        # TanWcs round trip.
        px, py = tan(*tan.pixelToSky(np.array([0.0, 399.0]), np.array([12.0, 250.0])))
        np.testing.assert_allclose([px, py], [[0.0, 399.0], [12.0, 250.0]], atol=1e-8)

    def testHistoryConsistent(self):
        cat = self.cat
        objects = cat.diaObjectCat
        history = cat.diaSrcHistory
        sources = cat.diaSourceCat[cat.diaSourceCat["diaObjectId"] != 0]
        counts = history.groupby(level="diaObjectId").size().reindex(objects.index, fill_value=0)
        np.testing.assert_array_equal(objects["nDiaSources"].to_numpy(), counts.to_numpy() + 1)
        self.assertTrue(np.isin(sources["diaObjectId"].to_numpy(), objects.index.to_numpy()).all())
        self.assertTrue(np.isin(history["diaObjectId"].to_numpy(), objects.index.to_numpy()).all())
        self.assertFalse(np.isin(history["diaSourceId"], sources["diaSourceId"]).any())
        # Per-band counts and flux statistics from the very same DiaSources.
        both = pd.concat([history, sources], ignore_index=True)
        for band in sim.LSST_BANDS:
            inBand = both[(both["band"] == band) & both["psfFlux"].notna()]
            ndata = inBand.groupby("diaObjectId").size().reindex(objects.index, fill_value=0)
            np.testing.assert_array_equal(objects[f"{band}_psfFluxNdata"].to_numpy(), ndata.to_numpy())
            fmax = inBand.groupby("diaObjectId")["psfFlux"].max().reindex(objects.index)
            np.testing.assert_allclose(objects[f"{band}_psfFluxMax"].to_numpy(float), fmax.to_numpy(float),
                                       rtol=1e-6)
        self.assertEqual(objects["r_psfFluxNdata"].dtype, np.int32)
        # Times: the history is earlier, within the APDB's 12 x 30 days.
        mid = cat.midpointMjdTai
        self.assertTrue((history["midpointMjdTai"] < mid - 0.5).all())
        self.assertTrue((history["midpointMjdTai"] > mid - 360).all())
        np.testing.assert_allclose(objects["lastDiaSourceMjdTai"], mid)
        first = both.groupby("diaObjectId")["midpointMjdTai"].min().reindex(objects.index)
        np.testing.assert_allclose(objects["firstDiaSourceMjdTai"], first)
        self.assertTrue((sources["midpointMjdTai"] == mid).all())
        self.assertTrue((sources["visit"] == cat.visit).all())
        self.assertTrue((history["timeProcessedMjdTai"] > history["midpointMjdTai"]).all())
        self.assertTrue(history["timeWithdrawnMjdTai"].isna().all())
        np.testing.assert_allclose(objects["validityStartMjdTai"], mid)
        # New objects are named after their first DiaSource, as DiaPipelineTask does.
        new = objects["nDiaSources"] == 1
        self.assertTrue(new.any() and (~new).any())
        newSources = sources[np.isin(sources["diaObjectId"], objects.index[new])]
        np.testing.assert_array_equal(newSources["diaObjectId"].to_numpy(), newSources["diaSourceId"].to_numpy())
        # Forced photometry: this visit for all, earlier nights after the first detection.
        forced = cat.diaForcedSources
        current = forced[forced["visit"] == cat.visit]
        self.assertEqual(sorted(current["diaObjectId"]), sorted(objects.index))
        past = forced[forced["visit"] != cat.visit]
        firstSeen = objects.loc[past["diaObjectId"], "firstDiaSourceMjdTai"].to_numpy()
        self.assertTrue((past["midpointMjdTai"].to_numpy() > firstSeen - 0.5).all())
        np.testing.assert_allclose(forced["ra"].to_numpy(), objects.loc[forced["diaObjectId"], "ra"].to_numpy())

    def testRealisticValues(self):
        src = pd.concat([self.cat.diaSourceCat, self.cat.diaSrcHistory], ignore_index=True)
        self.assertTrue((src["snr"] >= 5).all())
        flux = src["psfFlux"].dropna()
        self.assertTrue((np.abs(flux) >= 4.99 * src.loc[flux.index, "psfFluxErr"]).all())
        self.assertTrue(((flux < 0) == src.loc[flux.index, "isNegative"].to_numpy(bool)).all())
        self.assertTrue(0.1 < (flux < 0).mean() < 0.6)
        size = src["bboxSize"]
        self.assertGreater(((size >= 10) & (size <= 60)).mean(), 0.8)
        self.assertTrue((size > 102).any())
        self.assertTrue(src["reliability"].between(0, 1).all())
        for flag in ("centroid_flag", "pixelFlags_cr", "pixelFlags_bad", "shape_flag", "pixelFlags"):
            self.assertLess(src[flag].astype(bool).mean(), 0.1, flag)
        # Dipole and trail fits only where attempted; NaN elsewhere.
        notFit = ~src["dipoleFitAttempted"].to_numpy(bool)
        self.assertTrue(src.loc[notFit, "dipoleMeanFlux"].isna().all())
        self.assertTrue((src.loc[notFit, "dipoleNdata"] == 0).all())
        self.assertTrue(src.loc[src["trailNdata"] == 0, "trailLength"].isna().all())
        self.assertTrue(src["timeWithdrawnMjdTai"].isna().all())
        self.assertTrue(src["ssObjectReassocTimeMjdTai"].isna().all())
        self.assertEqual(set(self.cat.diaSourceCat["band"]), {"r"})
        self.assertGreater(src["band"].nunique(), 3)

    def testSolarSystem(self):
        cat = self.cat
        sso = cat.diaSourceCat[cat.diaSourceCat["diaObjectId"] == 0]
        self.assertEqual(len(sso), 20)
        self.assertTrue(sso["ssObjectId"].notna().all())
        self.assertTrue(cat.diaSourceCat.loc[cat.diaSourceCat["diaObjectId"] != 0, "ssObjectId"].isna().all())
        ss = cat.ssSrc.set_index("diaSourceId").loc[sso["diaSourceId"]]
        np.testing.assert_array_equal(ss["ssObjectId"].to_numpy(), sso["ssObjectId"].to_numpy(np.int64))
        for ssObjectId, designation in zip(ss["ssObjectId"], ss["designation"]):
            self.assertEqual(ssObjectIdToPackedDesignation(ssObjectId), packProvisional(designation))
        self.assertTrue((ss["MPCORB_designation"] == ss["designation"]).all())
        packed = ss["MPCORB_packed_primary_provisional_designation"]
        self.assertTrue(packed.isna().any() and packed.notna().any())
        present = packed.notna()
        self.assertTrue((packed[present] == [packProvisional(d) for d in ss["designation"][present]]).all())
        # Geometry holds together.
        helio = ss[["helio_x", "helio_y", "helio_z"]].to_numpy(float)
        topo = ss[["topo_x", "topo_y", "topo_z"]].to_numpy(float)
        np.testing.assert_allclose(np.linalg.norm(helio, axis=1), ss["helioRange"], rtol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(topo, axis=1), ss["topoRange"], rtol=1e-5)
        np.testing.assert_allclose(np.hypot(ss["ephRateRa"], ss["ephRateDec"]), ss["ephRate"], rtol=1e-5)
        np.testing.assert_allclose(
            np.linalg.norm(ss[["helio_vx", "helio_vy", "helio_vz"]].to_numpy(float), axis=1), ss["helio_vtot"],
            rtol=1e-5)
        direction = sim._unitVectors(sso["ra"].to_numpy(float), sso["dec"].to_numpy(float))
        np.testing.assert_allclose(topo / np.linalg.norm(topo, axis=1)[:, None], direction, atol=1e-6)
        self.assertTrue(((ss["ephRate"] > 0.01) & (ss["ephRate"] < 5)).all())
        self.assertTrue(ss["phaseAngle"].between(0, 180).all() and ss["elongation"].between(0, 180).all())
        self.assertTrue(((ss["MPCORB_q"] <= ss["helioRange"] + 1e-6)
                         & (ss["MPCORB_a"] * (1 + ss["MPCORB_e"]) >= ss["helioRange"] - 1e-6)).all())
        self.assertTrue((sso["psfFlux"] > 0).all())
        self.assertTrue((sso["trailNdata"] > 0).all())
        self.assertIsNone(sim.makeVisitCatalogs(10, 2, seed=1).ssSrc)

    def testFillAllFields(self):
        cat = sim.makeVisitCatalogs(20, 4, seed=3, fillAllFields=True)
        src = cat.diaSourceCat
        for field in alertFields("diaSource"):
            self.assertFalse(isMissing(src[field["name"]]).all(), field["name"])
        self.assertIsNotNone(cat.ssSrc)
        # Without it, the rare fields stay null.
        plain = sim.makeVisitCatalogs(20, 4, seed=3)
        self.assertTrue(plain.diaSourceCat["parentDiaSourceId"].isna().all())
        self.assertTrue(plain.diaSourceCat["timeWithdrawnMjdTai"].isna().all())

    def testEdgeCases(self):
        noHistory = sim.makeVisitCatalogs(30, 0, seed=2)
        self.assertEqual(len(noHistory.diaSrcHistory), 0)
        self.assertTrue((noHistory.diaObjectCat["nDiaSources"] == 1).all())
        self.assertEqual(list(noHistory.diaSrcHistory.columns), list(sim.apdbColumnDtypes("DiaSource")))
        empty = sim.makeVisitCatalogs(0, 5, seed=2)
        self.assertEqual(len(empty.diaSourceCat), 0)
        allSso = sim.makeVisitCatalogs(5, 5, seed=2, fractionSolarSystem=1.0)
        self.assertEqual(len(allSso.diaObjectCat), 0)
        self.assertEqual(len(allSso.ssSrc), 5)
        with self.assertRaises(ValueError):
            sim.makeVisitCatalogs(5, 5, band="w")
        with self.assertRaises(ValueError):
            sim.makeVisitCatalogs(3, 5, fillAllFields=True)

    def testFast(self):
        start = time.perf_counter()
        cat = sim.makeVisitCatalogs(1000, 30, seed=4)
        elapsed = time.perf_counter() - start
        self.assertGreater(len(cat.diaSrcHistory), 20000)
        # Well under a second on a developer machine; generous for CI.
        self.assertLess(elapsed, 3.0)


class ApdbTestCase(lsst.utils.tests.TestCase):
    def testRoundTrip(self):
        """Catalogs stored in a real SQLite APDB read back the same."""
        cat = sim.makeVisitCatalogs(60, 6, seed=5, fractionSolarSystem=0.1, fillAllFields=True)
        with tempfile.TemporaryDirectory() as tmp:
            apdb = sim.writeApdb(cat, os.path.join(tmp, "apdb.sqlite3"))
            back = sim.readApdb(apdb, cat)
        known = cat.diaSourceCat["diaObjectId"] != 0
        pairs = (
            ("DiaObject", cat.diaObjectCat, back.diaObjects, ["diaObjectId"]),
            ("DiaSource", pd.concat([cat.diaSrcHistory, cat.diaSourceCat[known]]), back.diaSources,
             ["diaSourceId"]),
            ("DiaForcedSource", cat.diaForcedSources, back.diaForcedSources, ["diaForcedSourceId"]),
        )
        for table, mine, theirs, key in pairs:
            with self.subTest(table=table):
                expected = sim.apdbColumnDtypes(table, asReturnedByApdb=True)
                self.assertEqual({k: str(v) for k, v in theirs.dtypes.items()}, expected)
                self.assertEqual(set(mine.columns) - set(theirs.columns),
                                 {"pixelId"} if table != "DiaForcedSource" else set())
                self.assertEqual(len(mine), len(theirs))
                mine = mine.reset_index(drop=True).set_index(key).sort_index()
                theirs = theirs.reset_index(drop=True).set_index(key).sort_index()
                for column in theirs.columns:
                    if column in key or column == "validityStartMjdTai":
                        continue
                    a, b = mine[column], theirs[column]
                    np.testing.assert_array_equal(a.isna().to_numpy(), b.isna().to_numpy(), err_msg=column)
                    ok = a.notna().to_numpy()
                    if a.dtype.kind == "f":
                        np.testing.assert_allclose(a[ok].to_numpy(float), b[ok].to_numpy(float), rtol=1e-6,
                                                   err_msg=column)
                    else:
                        self.assertEqual(list(a[ok]), list(b[ok]), column)
        # The APDB stamps the DiaObject validity with the visit time.
        np.testing.assert_allclose(back.diaObjects["validityStartMjdTai"].to_numpy(float), cat.midpointMjdTai)


class ExposureTestCase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sources = {"x": np.array([100.3, 300.0, 250.0]), "y": np.array([120.0, 290.7, 60.0]),
                       "flux": np.array([5e4, -3e4, 2e4]), "templateFlux": np.array([0.0, 8e4, 1e5])}
        cls.diffIm, cls.calexp, cls.template = sim.makeVisitExposures(
            seed=11, width=400, height=380, sources=cls.sources, nStars=0, band="g", visit=2025121500042,
            detector=10, midpointMjdTai=61024.1, boresightRotAngle=30.0)

    def testMetadata(self):
        calibs = set()
        for exposure in (self.diffIm, self.calexp, self.template):
            self.assertEqual(exposure.getBBox().getWidth(), 400)
            self.assertEqual(exposure.getBBox().getHeight(), 380)
            self.assertEqual(exposure.image.array.dtype, np.float32)
            calib = exposure.getPhotoCalib().getCalibrationMean()
            self.assertTrue(0.3 < calib < 1.5)
            calibs.add(calib)
            info = exposure.visitInfo
            self.assertEqual(info.id, 2025121500042)
            self.assertAlmostEqual(info.date.toAstropy().tai.mjd, 61024.1, places=9)
            self.assertEqual(info.exposureTime, 30.0)
            self.assertAlmostEqual(info.boresightRotAngle.asDegrees(), 30.0)
            self.assertEqual(info.observationReason, "wfd")
            self.assertEqual(info.object, "lsst_wfd")
            self.assertEqual(exposure.detector.getId(), 10)
            self.assertEqual(exposure.detector.getName(), "R02_S01")
            self.assertEqual(exposure.filter.bandLabel, "g")
            self.assertIsNotNone(exposure.getWcs())
            self.assertGreater(exposure.psf.computeShape(exposure.psf.getAveragePosition()).getIxx(), 1.0)
        self.assertEqual(len(calibs), 3)

    def testFluxesAndNoise(self):
        """Sources carry their flux in each image's calibration; variance matches noise."""
        wcs = self.diffIm.getWcs()
        for i, (x, y) in enumerate(zip(self.sources["x"], self.sources["y"])):
            box = np.s_[int(y) - 12:int(y) + 13, int(x) - 12:int(x) + 13]
            for exposure, expected in ((self.diffIm, self.sources["flux"][i]),
                                       (self.template, self.sources["templateFlux"][i]),
                                       (self.calexp, self.sources["flux"][i] + self.sources["templateFlux"][i])):
                calib = exposure.getPhotoCalib().getCalibrationMean()
                total = exposure.image.array[box].sum(dtype=float) * calib
                noise = np.sqrt(exposure.variance.array[box].sum(dtype=float)) * calib
                self.assertLess(abs(total - expected), 5 * noise + 1e-3 * abs(expected))
        empty = np.s_[200:260, 20:80]
        for exposure in (self.diffIm, self.calexp, self.template):
            ratio = exposure.image.array[empty].var() / exposure.variance.array[empty].mean()
            self.assertTrue(0.85 < ratio < 1.15, ratio)
        # The same sky position in all three (same WCS).
        self.assertEqual(wcs, self.calexp.getWcs())
        self.assertEqual(wcs, self.template.getWcs())

    def testMasks(self):
        mask = self.diffIm.mask
        bits = mask.getPlaneBitMask
        diffMask = mask.array
        self.assertTrue(diffMask[120, 100] & bits("DETECTED"))
        self.assertTrue(diffMask[291, 300] & bits("DETECTED_NEGATIVE"))
        self.assertTrue((diffMask[0, :] & bits("EDGE")).all())
        self.assertFalse(diffMask[190, 200] & bits("EDGE"))
        sciMask = self.calexp.mask.array
        badColumns = np.flatnonzero((sciMask & bits("BAD")).all(axis=0))
        self.assertEqual(len(badColumns), 1)
        self.assertTrue((diffMask[:, badColumns[0]] & bits("BAD")).all())
        self.assertTrue((sciMask & bits("CR")).any())
        # Masked pixels are few.
        self.assertLess(((sciMask & bits(["BAD", "CR", "SAT"])) != 0).mean(), 0.02)
        # A 15th-magnitude star saturates its core.
        _, bright, _ = sim.makeVisitExposures(seed=1, width=300, height=300, nStars=0, sources={
            "x": [150.0], "y": [150.0], "flux": [1e3], "templateFlux": [10 ** ((31.4 - 15) / 2.5)]})
        saturated = (bright.mask.array & bits("SAT")) != 0
        self.assertTrue(saturated[150, 150] and saturated.sum() < 100)

    def testTemplateOffsetAndDeterminism(self):
        diffIm, calexp, template = sim.makeVisitExposures(seed=4, width=200, height=200, nStars=20,
                                                          templateOffset=(30, -20), xy0=(100, 50))
        self.assertEqual(calexp.getBBox().getMinX(), 100)
        self.assertEqual(template.getBBox().getMinX(), 130)
        self.assertEqual(template.getBBox().getMinY(), 30)
        noData = (diffIm.mask.array & diffIm.mask.getPlaneBitMask("NO_DATA")) != 0
        self.assertTrue(noData[:, :30].all() and noData[180:, :].all())
        self.assertFalse(noData[:180, 30:].any())
        self.assertTrue(np.isnan(diffIm.image.array[noData]).all())
        again = sim.makeVisitExposures(seed=4, width=200, height=200, nStars=20, templateOffset=(30, -20),
                                       xy0=(100, 50))
        for a, b in zip((diffIm, calexp, template), again):
            np.testing.assert_array_equal(a.image.array, b.image.array)
            np.testing.assert_array_equal(a.mask.array, b.mask.array)

    def testSipWcs(self):
        sip = sim.makeVisitWcs(width=4000, height=4000, sip=True, seed=2)
        tan = sim.makeVisitWcs(width=4000, height=4000, sip=False)
        ra, dec = sip.pixelToSkyArray(np.array([0.0, 3999.0]), np.array([0.0, 3999.0]), degrees=True)
        x, y = tan.skyToPixelArray(ra, dec, degrees=True)
        shift = np.hypot(x - [0.0, 3999.0], y - [0.0, 3999.0])
        self.assertTrue(((shift > 0.05) & (shift < 5)).all(), shift)
        scale = tan.getPixelScale(tan.getPixelOrigin()).asArcseconds()
        self.assertAlmostEqual(scale, 0.2, places=6)


class SimulatedVisitTestCase(lsst.utils.tests.TestCase):
    def testConsistent(self):
        visit = sim.makeSimulatedVisit(80, 5, seed=9, size=(300, 260), fractionSolarSystem=0.1)
        src = visit.diaSourceCat
        wcs = visit.diffIm.getWcs()
        x, y = wcs.skyToPixelArray(src["ra"].to_numpy(float), src["dec"].to_numpy(float), degrees=True)
        np.testing.assert_allclose(x, src["x"], atol=1e-3)
        np.testing.assert_allclose(y, src["y"], atol=1e-3)
        bbox = visit.diffIm.getBBox()
        self.assertEqual((bbox.getWidth(), bbox.getHeight()), (300, 260))
        self.assertTrue(((x >= 0) & (x <= 299) & (y >= 0) & (y <= 259)).all())
        self.assertEqual(visit.diffIm.visitInfo.id, int(src["visit"].iloc[0]))
        self.assertEqual(visit.diffIm.detector.getId(), int(src["detector"].iloc[0]))
        self.assertEqual(visit.diffIm.filter.bandLabel, src["band"].iloc[0])
        self.assertAlmostEqual(visit.diffIm.visitInfo.date.toAstropy().tai.mjd,
                               src["midpointMjdTai"].iloc[0], places=6)
        self.assertEqual(len(visit.ssSrc), 8)
        # The brightest positive transient is visible on the difference image.
        row = src[src["psfFlux"] > 0].sort_values("psfFlux").iloc[-1]
        ix = round(row["x"]) - bbox.getMinX()
        iy = round(row["y"]) - bbox.getMinY()
        peak = visit.diffIm.image.array[iy, ix]
        self.assertGreater(peak, 3 * np.sqrt(visit.diffIm.variance.array[iy, ix]))


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
