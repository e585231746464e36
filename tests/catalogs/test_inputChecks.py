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

"""Up-front input checks: required and optional columns, exposures, one error listing everything."""

import unittest

import lsst.utils.tests
import numpy as np

from lsst.ap.alerts.catalogs.inputChecks import (
    ESSENTIAL_FIELDS,
    AlertInputError,
    checkExposure,
    checkTableColumns,
    missingOptionalColumns,
    requiredColumns,
    validateRunInputs,
)
from lsst.ap.alerts.catalogs.visitInputs import VisitInputs
from lsst.ap.alerts.schemaRegistry import SchemaRegistry
from lsst.ap.alerts.simulation import makeSimulatedVisit

SCHEMA = SchemaRegistry.default().load("11.1")
VISIT = makeSimulatedVisit(8, 3, seed=11, size=200, fractionSolarSystem=0.25, fillAllFields=True)


def _args(**replace):
    args = dict(
        diaSourceCat=VISIT.diaSourceCat,
        diaObjectCat=VISIT.diaObjectCat,
        diaSrcHistory=VISIT.diaSrcHistory,
        diaForcedSources=VISIT.diaForcedSources,
        diffIm=VISIT.diffIm,
        calexp=VISIT.calexp,
        template=VISIT.template,
        ssSrc=VISIT.ssSrc,
    )
    args.update(replace)
    return args


def _inputs(**replace):
    return VisitInputs(**_args(**replace))


class ColumnRulesTestCase(lsst.utils.tests.TestCase):
    def testRequiredColumns(self):
        for record in ("diaSource", "diaObject", "diaForcedSource", "ssSource", "mpc_orbits"):
            fields = SCHEMA.records[record]["fields"]
            nonNull = [f["name"] for f in fields if not isinstance(f["type"], list) and "default" not in f]
            essential = [f["name"] for f in fields if f["name"] in ESSENTIAL_FIELDS.get(record, ())]
            with self.subTest(record=record):
                # Schema order, non-nullable fields plus the measurements an alert exists for.
                self.assertEqual(
                    requiredColumns(SCHEMA.records[record]),
                    [f["name"] for f in fields if f["name"] in set(nonNull) | set(essential)],
                )
        self.assertEqual(set(ESSENTIAL_FIELDS["diaSource"]), {"psfFlux", "psfFluxErr", "band"})
        self.assertIn("psfFlux", requiredColumns(SCHEMA.records["diaForcedSource"]))

    def testMissingEssentialColumnNamesTableAndColumn(self):
        table = VISIT.diaSourceCat.reset_index(drop=True).drop(columns=["psfFlux", "band"])
        problems = checkTableColumns(table, SCHEMA.records["diaSource"], "diaSourceCat")
        self.assertEqual(problems, ["diaSourceCat lacks required column(s): psfFlux, band"])
        # An index level counts as a column (upstream indexes on diaObjectId, band, diaSourceId).
        self.assertIn("band", VISIT.diaSourceCat.index.names)
        indexed = VISIT.diaSourceCat.drop(columns=["band"])
        self.assertEqual(checkTableColumns(indexed, SCHEMA.records["diaSource"], "diaSourceCat"), [])

    def testMissingOptionalColumns(self):
        table = VISIT.diaObjectCat.drop(columns=["u_psfFluxMean", "nDiaSources", "raErr"])
        # nDiaSources is required: not optional.
        self.assertEqual(
            missingOptionalColumns(table, SCHEMA.records["diaObject"]), ["raErr", "u_psfFluxMean"]
        )

    def testValidateReturnsMissingOptionalColumns(self):
        self.assertEqual(validateRunInputs(SCHEMA, _inputs()), {})
        ssSrc = VISIT.ssSrc.drop(columns=["MPCORB_q", "MPCORB_designation", "helioRange"])
        missing = validateRunInputs(
            SCHEMA,
            _inputs(
                diaSourceCat=VISIT.diaSourceCat.drop(columns=["trailFlux"]),
                diaForcedSources=VISIT.diaForcedSources.drop(columns=["scienceFlux"]),
                ssSrc=ssSrc,
            ),
        )
        # designation is derived from ssObjectId when absent: not reported.
        self.assertEqual(
            missing,
            {
                "diaSourceCat": ["trailFlux"],
                "diaForcedSources": ["scienceFlux"],
                "ssSrc": ["helioRange"],
                "ssSrc.mpc_orbits": ["MPCORB_q"],
            },
        )

    def testValidateListsEveryProblem(self):
        noWcs = VISIT.calexp.clone()
        noWcs.setWcs(None)
        with self.assertRaises(AlertInputError) as cm:
            validateRunInputs(
                SCHEMA,
                _inputs(
                    diaSourceCat=VISIT.diaSourceCat.drop(columns=["psfFluxErr"])
                    .reset_index(drop=True)
                    .drop(columns=["diaObjectId"]),
                    diaForcedSources=VISIT.diaForcedSources.drop(columns=["band"]),
                    calexp=noWcs,
                ),
            )
        problems = cm.exception.problems
        self.assertIn("diaSourceCat lacks required column(s): psfFluxErr", problems)
        self.assertIn("diaSourceCat lacks diaObjectId (column or index level)", problems)
        self.assertIn("diaForcedSources lacks required column(s): band", problems)
        self.assertIn("calexp has no WCS", problems)
        self.assertEqual(len(problems), 4)

    def testCheckExposure(self):
        self.assertEqual(checkExposure(VISIT.diffIm, "diffIm", needVisitInfo=True), [])
        self.assertEqual(checkExposure(None, "template", needVisitInfo=False), ["template is None"])

    def testNotADataFrame(self):
        self.assertEqual(
            checkTableColumns(np.zeros(3), SCHEMA.records["diaObject"], "diaObjectCat"),
            ["diaObjectCat must be a pandas.DataFrame, got ndarray"],
        )


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
