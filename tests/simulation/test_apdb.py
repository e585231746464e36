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

"""simulation.apdb: APDB table dtypes, and a real SQLite APDB round trip."""

import os
import tempfile
import unittest

import lsst.utils.tests
import numpy as np
import pandas as pd

from lsst.ap.alerts import simulation as sim
from lsst.ap.alerts.simulation.apdbTables import apdbFrame


class ApdbSchemaTestCase(lsst.utils.tests.TestCase):
    def testPipelineDtypes(self):
        dtypes = sim.apdbColumnDtypes("DiaSource")
        # Spot checks against the schema: float32 vs float64, nullable ids.
        self.assertEqual(dtypes["ra"], "float64")
        self.assertEqual(dtypes["psfFlux"], "float32")
        self.assertEqual(dtypes["diaSourceId"], "int64")
        self.assertEqual(dtypes["diaObjectId"], "Int64")
        self.assertEqual(dtypes["detector"], "int16")
        self.assertEqual(dtypes["isDipole"], "boolean")
        self.assertEqual(dtypes["band"], "object")
        self.assertEqual(list(dtypes)[-1], "pixelId")
        self.assertNotIn("pixelId", sim.apdbColumnDtypes("DiaForcedSource"))

    def testAsReturnedByApdb(self):
        """The APDB returns every column nullable, and no pixelId."""
        dtypes = sim.apdbColumnDtypes("DiaSource", asReturnedByApdb=True)
        self.assertEqual(dtypes["diaSourceId"], "Int64")
        self.assertEqual(dtypes["detector"], "Int16")
        self.assertNotIn("pixelId", dtypes)

    def testFrame(self):
        """Absent columns are null (nullable dtypes) or zero; given nulls are kept."""
        frame = apdbFrame(
            "DiaForcedSource",
            {
                "diaForcedSourceId": np.arange(3),
                "psfFlux": [1.0, 2.0, 3.0],
                "band": np.array(["r", "g", "r"], dtype=object),
            },
            3,
            {"psfFlux": np.array([False, True, False])},
        )
        expected = sim.apdbColumnDtypes("DiaForcedSource")
        self.assertEqual({k: str(v) for k, v in frame.dtypes.items()}, expected)
        self.assertEqual(frame["psfFlux"].isna().tolist(), [False, True, False])
        self.assertTrue(frame["psfFluxErr"].isna().all())
        self.assertEqual(frame["band"].tolist(), ["r", "g", "r"])


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
            (
                "DiaSource",
                pd.concat([cat.diaSrcHistory, cat.diaSourceCat[known]]),
                back.diaSources,
                ["diaSourceId"],
            ),
            ("DiaForcedSource", cat.diaForcedSources, back.diaForcedSources, ["diaForcedSourceId"]),
        )
        for table, mine, theirs, key in pairs:
            with self.subTest(table=table):
                expected = sim.apdbColumnDtypes(table, asReturnedByApdb=True)
                self.assertEqual({k: str(v) for k, v in theirs.dtypes.items()}, expected)
                self.assertEqual(
                    set(mine.columns) - set(theirs.columns),
                    {"pixelId"} if table != "DiaForcedSource" else set(),
                )
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
                        np.testing.assert_allclose(
                            a[ok].to_numpy(float), b[ok].to_numpy(float), rtol=1e-6, err_msg=column
                        )
                    else:
                        self.assertEqual(list(a[ok]), list(b[ok]), column)
        # The APDB stamps the DiaObject validity with the visit time.
        np.testing.assert_allclose(back.diaObjects["validityStartMjdTai"].to_numpy(float), cat.midpointMjdTai)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
