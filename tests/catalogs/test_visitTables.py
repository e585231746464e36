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

"""The visit's catalogs typed, linked and grouped: per-source rules of prepareVisitTables.

Expectations are computed with plain pandas on the input frames (group by,
look-ups by id), not from the module's own intermediates.
"""

import logging
import unittest

import lsst.utils.tests
import numpy as np
import pandas as pd

from lsst.ap.alerts.catalogs.visitInputs import VisitInputs
from lsst.ap.alerts.catalogs.visitTables import flattenIndex, prepareVisitTables
from lsst.ap.alerts.schemaRegistry import SchemaRegistry
from lsst.ap.alerts.simulation import makeSimulatedVisit

SCHEMA = SchemaRegistry.default().load("11.1")
LOG = logging.getLogger("test_visitTables")


def _prepare(visit, schema=SCHEMA, **overrides):
    args = dict(
        diaSourceCat=visit.diaSourceCat,
        diaObjectCat=visit.diaObjectCat,
        diaSrcHistory=visit.diaSrcHistory,
        diaForcedSources=visit.diaForcedSources,
        ssSrc=visit.ssSrc,
        doRunForcedMeasurement=True,
        forcedSourceHistoryThreshold=0,
    )
    nanAsNull = overrides.pop("nanAsNull", False)
    args.update(overrides)
    inputs = VisitInputs(
        args["diaSourceCat"],
        args["diaObjectCat"],
        args["diaSrcHistory"],
        args["diaForcedSources"],
        visit.diffIm,
        visit.calexp,
        visit.template,
        args["ssSrc"],
    )
    return prepareVisitTables(
        schema,
        inputs,
        args["doRunForcedMeasurement"],
        args["forcedSourceHistoryThreshold"],
        LOG,
        nanAsNull=nanAsNull,
    )


def _nullRows(typed, name):
    mask = typed.nulls[name]
    return [] if mask is None else np.flatnonzero(mask).tolist()


class PrepareVisitTablesTestCase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.visit = makeSimulatedVisit(30, 6, seed=21, size=300, fractionSolarSystem=0.2, fillAllFields=True)

    def testLinksAndGroups(self):
        visit = self.visit
        with self.assertNoLogs(LOG, "WARNING"):
            tables = _prepare(visit)
        sources = flattenIndex(visit.diaSourceCat)
        np.testing.assert_array_equal(tables.diaSourceIds, sources["diaSourceId"].to_numpy())
        objects = flattenIndex(visit.diaObjectCat).set_index("diaObjectId")
        history = flattenIndex(visit.diaSrcHistory)
        forced = flattenIndex(visit.diaForcedSources)
        historyRecords = tables.history.toRecords()
        forcedRecords = tables.forced.toRecords()
        objectRecords = tables.objects.toRecords()
        for i, (_srcId, objId) in enumerate(zip(tables.diaSourceIds, tables.diaObjectIds, strict=True)):
            if objId == 0:
                self.assertEqual(tables.objectRow[i], -1)
                self.assertIsNone(tables.historyRows[i])
                self.assertIsNone(tables.forcedRows[i])
                continue
            self.assertEqual(objectRecords[tables.objectRow[i]]["diaObjectId"], objId)
            expectedHistory = history.loc[history["diaObjectId"] == objId, "diaSourceId"].tolist()
            span = tables.historyRows[i]
            if objects.loc[objId, "nDiaSources"] > 1:
                self.assertEqual(
                    [r["diaSourceId"] for r in historyRecords[span[0] : span[1]]], expectedHistory
                )
            else:
                self.assertIsNone(span)
            expectedForced = forced.loc[forced["diaObjectId"] == objId, "diaForcedSourceId"].tolist()
            span = tables.forcedRows[i]
            self.assertEqual(
                [r["diaForcedSourceId"] for r in forcedRecords[span[0] : span[1]]], expectedForced
            )

    def testOnlyTheRowsOfTheVisitsObjects(self):
        """A region's tables (objects without a DiaSource here too) give what the visit's rows alone give."""
        visit = self.visit
        sources = visit.diaSourceCat.iloc[::3]
        wanted = set(flattenIndex(sources)["diaObjectId"].tolist()) - {0}
        history = visit.diaSrcHistory.copy()  # indexed on (diaObjectId, band, diaSourceId), as upstream
        historyFlat = flattenIndex(history)
        badRow = int(np.flatnonzero(historyFlat["diaObjectId"].isin(wanted).to_numpy())[-1])
        history.iloc[badRow, history.columns.get_loc("raErr")] = -1e-5
        region = dict(diaSourceCat=sources, diaSrcHistory=history)

        def ofTheVisit(table):
            return table[flattenIndex(table)["diaObjectId"].isin(wanted).to_numpy()]

        alone = dict(
            diaSourceCat=sources,
            diaObjectCat=ofTheVisit(visit.diaObjectCat),
            diaSrcHistory=ofTheVisit(history),
            diaForcedSources=ofTheVisit(visit.diaForcedSources),
        )
        self.assertLess(len(alone["diaSrcHistory"]), len(history))
        with self.assertLogs(LOG, "WARNING") as cm:
            fromRegion = _prepare(visit, **region)
        with self.assertLogs(LOG, "WARNING"):
            fromVisit = _prepare(visit, **alone)
        badId = historyFlat["diaSourceId"].iloc[badRow]
        self.assertTrue(any(f"diaSourceId={badId}" in line for line in cm.output), cm.output)
        self.assertEqual(fromRegion.droppedRows, 1)
        for name in ("objects", "history", "forced"):
            got, expected = getattr(fromRegion, name), getattr(fromVisit, name)
            self.assertEqual(got.size, expected.size, name)
            for spec in expected.specs:
                np.testing.assert_array_equal(got.columns[spec.name], expected.columns[spec.name])
                self.assertEqual(_nullRows(got, spec.name), _nullRows(expected, spec.name), spec.name)
        for name in ("objectRow", "historyRows", "forcedRows"):
            self.assertEqual(list(getattr(fromRegion, name)), list(getattr(fromVisit, name)), name)

    def testHistoryCountsWithoutTheField(self):
        """Schemas before 8.0 have no nDiaSources field: the input's column decides, as in newer ones."""
        objects = flattenIndex(self.visit.diaObjectCat).set_index("diaObjectId")
        for version in ("7.4", "11.1"):
            with self.subTest(version=version):
                tables = _prepare(self.visit, schema=SchemaRegistry.default().load(version))
                for objId, span in zip(tables.diaObjectIds, tables.historyRows, strict=True):
                    if objId != 0:
                        self.assertEqual(span is not None, objects.loc[objId, "nDiaSources"] > 1, objId)

    def testSolarSystemRows(self):
        visit = self.visit
        tables = _prepare(visit)
        ss = flattenIndex(visit.ssSrc).set_index("diaSourceId")
        ssRecords, mpcRecords = tables.ssSources.toRecords(), tables.mpcOrbits.toRecords()
        nSolarSystem = 0
        for i, srcId in enumerate(tables.diaSourceIds):
            if tables.diaObjectIds[i] != 0:
                self.assertEqual((tables.ssRow[i], tables.mpcRow[i]), (-1, -1))
                continue
            nSolarSystem += 1
            self.assertEqual(ssRecords[tables.ssRow[i]]["ssObjectId"], ss.loc[srcId, "ssObjectId"])
            self.assertEqual(mpcRecords[tables.mpcRow[i]]["a"], ss.loc[srcId, "MPCORB_a"])
        self.assertGreater(nSolarSystem, 2)

    def testMpcOrbitIdAbsent(self):
        """DiaPipelineTask's ssSrc has no MPCORB_id: id 0 (upstream's value), the orbit kept."""
        visit = self.visit
        tables = _prepare(visit, ssSrc=visit.ssSrc.drop(columns="MPCORB_id"))
        ss = flattenIndex(visit.ssSrc).set_index("diaSourceId")
        mpcRecords = tables.mpcOrbits.toRecords()
        solarSystem = [i for i in range(len(tables.diaSourceIds)) if tables.diaObjectIds[i] == 0]
        self.assertGreater(len(solarSystem), 2)
        for i in solarSystem:
            record = mpcRecords[tables.mpcRow[i]]
            self.assertEqual(record["id"], 0)
            self.assertEqual(record["a"], ss.loc[tables.diaSourceIds[i], "MPCORB_a"])

    def testForcedSourceThresholdAndSwitch(self):
        tables = _prepare(self.visit, doRunForcedMeasurement=False)
        self.assertIsNone(tables.forced)
        self.assertTrue(all(span in (None, (0, 0)) for span in tables.forcedRows))
        objects = flattenIndex(self.visit.diaObjectCat).set_index("diaObjectId")
        tables = _prepare(self.visit, forcedSourceHistoryThreshold=3)
        for objId, span in zip(tables.diaObjectIds, tables.forcedRows, strict=True):
            if objId != 0 and objects.loc[objId, "nDiaSources"] < 3:
                self.assertEqual(span, (0, 0))

    def testImpossibleValuesSkipOrDrop(self):
        visit = self.visit
        sources = flattenIndex(visit.diaSourceCat)
        ids = sources["diaSourceId"].tolist()
        sources.loc[0, "dec"] = 95.0
        sources.loc[1, "ra"] = -0.5
        sources.loc[2, "psfFluxErr"] = -3.0
        sources.loc[3, "exposureTime"] = 0.0
        sources["visit"] = sources["visit"].astype(object)
        sources.loc[4, "visit"] = "not a visit"  # does not fit: skipped, not counted as out of domain
        history = flattenIndex(visit.diaSrcHistory)
        history.loc[0, "raErr"] = -1e-5
        with self.assertLogs(LOG, "WARNING") as cm:
            tables = _prepare(visit, diaSourceCat=sources, diaSrcHistory=history)
        skipped = dict(tables.skipped)
        self.assertEqual(set(skipped), set(ids[:5]))
        for srcId, field in zip(ids[:4], ("dec", "ra", "psfFluxErr", "exposureTime"), strict=True):
            self.assertIn(field, skipped[srcId])
            self.assertTrue(any(str(srcId) in line and field in line for line in cm.output), field)
        self.assertEqual(tables.outOfDomain, 4)
        self.assertEqual(tables.droppedRows, 1)
        self.assertNotIn(
            history.loc[0, "diaSourceId"], [r["diaSourceId"] for r in tables.history.toRecords()]
        )
        self.assertEqual(len(tables.diaSourceIds), len(ids) - 5)

    def testDuplicateIdKeepsFirst(self):
        sources = flattenIndex(self.visit.diaSourceCat)
        sources.loc[1, "diaSourceId"] = sources.loc[0, "diaSourceId"]
        with self.assertLogs(LOG, "WARNING"):
            tables = _prepare(self.visit, diaSourceCat=sources)
        self.assertEqual(list(tables.diaSourceIds).count(sources.loc[0, "diaSourceId"]), 1)
        self.assertEqual(tables.outOfDomain, 0)

    def testNanAsNull(self):
        sources = flattenIndex(self.visit.diaSourceCat)
        sources["trailFlux"] = np.nan
        sources["x"] = sources["x"].astype(float)
        kept = _prepare(self.visit, diaSourceCat=sources)
        nulled = _prepare(self.visit, diaSourceCat=sources, nanAsNull=True)
        self.assertTrue(np.isnan(kept.sources.columns["trailFlux"]).all())
        self.assertIsNone(kept.sources.nulls["trailFlux"])
        self.assertTrue(nulled.sources.nulls["trailFlux"].all())
        # Non-nullable float fields keep NaN either way (here none is NaN: nothing else changes).
        for name, column in kept.sources.columns.items():
            if name != "trailFlux":
                np.testing.assert_array_equal(column, nulled.sources.columns[name], err_msg=name)

    def testMissingObjectGivesNoRow(self):
        objects = flattenIndex(self.visit.diaObjectCat).iloc[1:]
        with self.assertLogs(LOG, "WARNING") as cm:
            tables = _prepare(self.visit, diaObjectCat=objects)
        missing = pd.Series(tables.diaObjectIds)[tables.objectRow == -1]
        self.assertIn(flattenIndex(self.visit.diaObjectCat)["diaObjectId"].iloc[0], set(missing))
        self.assertTrue(any("missing from diaObjectCat" in line for line in cm.output))


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
