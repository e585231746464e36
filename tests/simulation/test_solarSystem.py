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

"""simulation.solarSystem: geometry, ssSource rows and MPC orbits of solar-system sources."""

import json
import unittest

import lsst.utils.tests
import numpy as np

from lsst.ap.alerts import simulation as sim
from lsst.ap.alerts.catalogs.designations import packProvisional, ssObjectIdToPackedDesignation
from lsst.ap.alerts.simulation.skyGeometry import unitVectors


class SolarSystemTestCase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cat = sim.makeVisitCatalogs(400, 12, seed=7, fractionSolarSystem=0.05, varyHistory=True)

    def testSolarSystem(self):
        cat = self.cat
        sso = cat.diaSourceCat[cat.diaSourceCat["diaObjectId"] == 0]
        self.assertEqual(len(sso), 20)
        self.assertTrue(sso["ssObjectId"].notna().all())
        self.assertTrue(cat.diaSourceCat.loc[cat.diaSourceCat["diaObjectId"] != 0, "ssObjectId"].isna().all())
        ss = cat.ssSrc.set_index("diaSourceId").loc[sso["diaSourceId"]]
        np.testing.assert_array_equal(ss["ssObjectId"].to_numpy(), sso["ssObjectId"].to_numpy(np.int64))
        for ssObjectId, designation in zip(ss["ssObjectId"], ss["designation"], strict=True):
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
            np.linalg.norm(ss[["helio_vx", "helio_vy", "helio_vz"]].to_numpy(float), axis=1),
            ss["helio_vtot"],
            rtol=1e-5,
        )
        direction = unitVectors(sso["ra"].to_numpy(float), sso["dec"].to_numpy(float))
        np.testing.assert_allclose(topo / np.linalg.norm(topo, axis=1)[:, None], direction, atol=1e-6)
        self.assertTrue(((ss["ephRate"] > 0.01) & (ss["ephRate"] < 5)).all())
        self.assertTrue(ss["phaseAngle"].between(0, 180).all() and ss["elongation"].between(0, 180).all())
        self.assertTrue(
            (
                (ss["MPCORB_q"] <= ss["helioRange"] + 1e-6)
                & (ss["MPCORB_a"] * (1 + ss["MPCORB_e"]) >= ss["helioRange"] - 1e-6)
            ).all()
        )
        self.assertTrue((sso["psfFlux"] > 0).all())
        self.assertTrue((sso["trailNdata"] > 0).all())
        self.assertIsNone(sim.makeVisitCatalogs(10, 2, seed=1).ssSrc)

    def testOrbitDocuments(self):
        """mpc_orb_jsonb carries the very elements of the MPCORB_ columns."""
        ss = self.cat.ssSrc
        for _, row in ss.iterrows():
            doc = json.loads(row["MPCORB_mpc_orb_jsonb"])
            self.assertEqual(
                doc["designation_data"]["unpacked_primary_provisional_designation"], row["designation"]
            )
            self.assertEqual(doc["epoch_data"]["epoch"], row["MPCORB_epoch_mjd"])
            values = dict(zip(doc["COM"]["coefficient_names"], doc["COM"]["coefficient_values"], strict=True))
            for name in ("q", "e", "i", "node", "argperi", "peri_time"):
                self.assertEqual(values[name], row[f"MPCORB_{name}"], name)
        # Kepler: period from the semi-major axis, mean motion from the period.
        np.testing.assert_allclose(ss["MPCORB_period"], 365.25636 * ss["MPCORB_a"] ** 1.5, rtol=1e-12)
        np.testing.assert_allclose(ss["MPCORB_mean_motion"] * ss["MPCORB_period"], 360.0, rtol=1e-12)

    def testAllDesignationsMissing(self):
        """At fractionMissingDesignations=1 the designation columns hold no strings."""
        cat = sim.makeVisitCatalogs(20, 2, seed=4, fractionSolarSystem=0.5, fractionMissingDesignations=1.0)
        self.assertEqual(len(cat.ssSrc), 10)
        for name in ("packed", "unpacked"):
            column = cat.ssSrc[f"MPCORB_{name}_primary_provisional_designation"]
            self.assertEqual(column.dtype.kind, "f")
            self.assertTrue(column.isna().all())
        self.assertTrue(cat.ssSrc["MPCORB_designation"].notna().all())


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
