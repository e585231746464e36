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

"""simulation.catalogs: the DIA catalogs of a visit, as the pipeline hands them over."""

import importlib.resources
import json
import unittest

import lsst.utils.tests
import numpy as np
import pandas as pd

from lsst.ap.alerts import simulation as sim

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
        for table, frame in (
            ("DiaSource", self.cat.diaSourceCat),
            ("DiaSource", self.cat.diaSrcHistory),
            ("DiaObject", self.cat.diaObjectCat),
            ("DiaForcedSource", self.cat.diaForcedSources),
        ):
            expected = sim.apdbColumnDtypes(table)
            self.assertEqual(list(frame.columns), list(expected))
            self.assertEqual({k: str(v) for k, v in frame.dtypes.items()}, expected)
        ssExpected = sim.apdbColumnDtypes("SSSource")
        self.assertEqual({k: str(self.cat.ssSrc[k].dtype) for k in ssExpected}, ssExpected)

    def testAlertFieldsPresent(self):
        for record, frame in (
            ("diaSource", self.cat.diaSourceCat),
            ("diaObject", self.cat.diaObjectCat),
            ("diaForcedSource", self.cat.diaForcedSources),
            ("ssSource", self.cat.ssSrc),
        ):
            missing = {f["name"] for f in alertFields(record)} - set(frame.columns)
            self.assertEqual(missing, set(), record)
        mpc = {f["name"] for f in alertFields("mpc_orbits")}
        self.assertEqual(
            mpc, {c[len("MPCORB_") :] for c in self.cat.ssSrc.columns if c.startswith("MPCORB_")}
        )
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
                np.testing.assert_array_equal(
                    frame.index.get_level_values(name).to_numpy(), frame[name].to_numpy()
                )
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
        self.assertTrue(
            ((src["x"] >= 0) & (src["x"] <= width - 1) & (src["y"] >= 0) & (src["y"] <= height - 1)).all()
        )
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
            np.testing.assert_allclose(
                objects[f"{band}_psfFluxMax"].to_numpy(float), fmax.to_numpy(float), rtol=1e-6
            )
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
        np.testing.assert_array_equal(
            newSources["diaObjectId"].to_numpy(), newSources["diaSourceId"].to_numpy()
        )
        # Forced photometry: this visit for all, earlier nights after the first detection.
        forced = cat.diaForcedSources
        current = forced[forced["visit"] == cat.visit]
        self.assertEqual(sorted(current["diaObjectId"]), sorted(objects.index))
        past = forced[forced["visit"] != cat.visit]
        firstSeen = objects.loc[past["diaObjectId"], "firstDiaSourceMjdTai"].to_numpy()
        self.assertTrue((past["midpointMjdTai"].to_numpy() > firstSeen - 0.5).all())
        np.testing.assert_allclose(
            forced["ra"].to_numpy(), objects.loc[forced["diaObjectId"], "ra"].to_numpy()
        )

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

    def testParameterChecks(self):
        for kwargs in ({"historyDepth": 350}, {"historyDepth": -1}, {"nSources": -1}, {"nSources": 2**20}):
            with self.subTest(**kwargs), self.assertRaises(ValueError):
                sim.makeVisitCatalogs(**{"nSources": 5, "historyDepth": 2, **kwargs})

    def testVariedHistoryAndForcedDepth(self):
        """varyHistory draws depths 1..historyDepth; nForcedPerObject bounds forced rows."""
        cat = sim.makeVisitCatalogs(
            200, 8, seed=21, varyHistory=True, nForcedPerObject=3, fractionNewObjects=0.0
        )
        perObject = cat.diaSrcHistory.groupby(level="diaObjectId").size()
        self.assertEqual(perObject.max(), 8)
        self.assertGreater(perObject.nunique(), 4)
        forcedPerObject = cat.diaForcedSources.groupby(level="diaObjectId").size()
        self.assertEqual(forcedPerObject.max(), 3)
        # Fewer only where the first detection leaves too few later nights.
        self.assertGreater((forcedPerObject == 3).mean(), 0.9)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
