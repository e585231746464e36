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

"""Impossible values: the domain rules and the problems they report."""

import unittest

import lsst.utils.tests
import numpy as np
import pandas as pd

from lsst.ap.alerts.catalogs.typedTable import coerceTable
from lsst.ap.alerts.catalogs.valueDomains import domainProblems, domainRules
from lsst.ap.alerts.schemaRegistry import SchemaRegistry

SCHEMA = SchemaRegistry.default().load("11.1")


def _forced(**columns):
    n = len(next(iter(columns.values())))
    table = pd.DataFrame(
        {
            "diaForcedSourceId": np.arange(n, dtype=np.int64) + 100,
            "diaObjectId": np.full(n, 7),
            "ra": np.full(n, 10.0),
            "dec": np.full(n, -5.0),
            "visit": np.full(n, 1),
            "detector": np.full(n, 2),
            "psfFlux": np.ones(n),
            "psfFluxErr": np.ones(n),
            "midpointMjdTai": np.full(n, 60000.0),
            "band": ["r"] * n,
            "timeProcessedMjdTai": np.full(n, 60001.0),
        }
    )
    for name, values in columns.items():
        table[name] = values
    return table


class DomainRulesTestCase(lsst.utils.tests.TestCase):
    def testRulesOfDiaSource(self):
        names = [f["name"] for f in SCHEMA.records["diaSource"]["fields"]]
        rules = {rule.field: rule for rule in domainRules(names)}
        errFields = {n for n in names if n.endswith("Err")}
        self.assertGreater(len(errFields), 10)
        self.assertEqual(set(rules), {"ra", "dec", "midpointMjdTai", "exposureTime", "bboxSize"} | errFields)
        # Only fields the record has.
        self.assertEqual(
            {r.field for r in domainRules(["ra", "psfFlux", "psfFluxErr"])}, {"ra", "psfFluxErr"}
        )

    def testProblemsNameFieldAndValue(self):
        ra = [0.0, 359.999, 360.0, -1e-9, np.nan, 10.0, 10.0, 10.0, 10.0]
        dec = [-90.0, 90.0, 0.0, 0.0, 0.0, 90.0001, -95.0, 0.0, 0.0]
        err = [0.0, np.nan, 1.0, 1.0, 1.0, 1.0, 1.0, -0.5, 1.0]
        mjd = [60000.0] * 8 + [np.inf]
        typed, problems = coerceTable(
            _forced(ra=ra, dec=dec, psfFluxErr=np.array(err, dtype=np.float32), midpointMjdTai=mjd),
            SCHEMA.records["diaForcedSource"],
        )
        self.assertEqual(problems, [])
        found = sorted((p.row, p.field) for p in domainProblems(typed))
        self.assertEqual(
            found,
            [
                (2, "ra"),
                (3, "ra"),
                (4, "ra"),
                (5, "dec"),
                (6, "dec"),
                (7, "psfFluxErr"),
                (8, "midpointMjdTai"),
            ],
        )
        reasons = {(p.row, p.field): p.reason for p in domainProblems(typed)}
        self.assertEqual(reasons[(6, "dec")], "-95.0, must be finite and in [-90, 90]")
        self.assertEqual(reasons[(7, "psfFluxErr")], "-0.5, must be non-negative")

    def testNullsAreNotViolations(self):
        typed, _ = coerceTable(
            _forced(psfFluxErr=pd.array([None, -1.0], dtype="Float64")), SCHEMA.records["diaForcedSource"]
        )
        self.assertEqual([(p.row, p.field) for p in domainProblems(typed)], [(1, "psfFluxErr")])

    def testRowsMapToInputPositions(self):
        typed, _ = coerceTable(_forced(dec=[100.0, 0.0]), SCHEMA.records["diaForcedSource"])
        self.assertEqual([p.row for p in domainProblems(typed, rows=np.array([17, 3]))], [17])

    def testExposureTimeAndBboxSize(self):
        names = ["exposureTime", "bboxSize"]
        rules = {r.field: r for r in domainRules(names)}
        np.testing.assert_array_equal(
            rules["exposureTime"].violated(np.array([30.0, 0.0, -1.0, np.nan])), [False, True, True, False]
        )
        np.testing.assert_array_equal(rules["bboxSize"].violated(np.array([0, 5, -3])), [False, False, True])


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
