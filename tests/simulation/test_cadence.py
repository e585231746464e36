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

"""simulation.cadence: visit ids from times, packed source ids, distinct nights."""

import unittest

import lsst.utils.tests
import numpy as np
from astropy.time import Time

from lsst.ap.alerts.simulation.cadence import civilDate, nightsBack, packId, visitKeys


class CadenceTestCase(lsst.utils.tests.TestCase):
    def testCivilDate(self):
        mjd = np.array([51544, 58849, 61000, 60370])
        year, month, day = civilDate(mjd)
        for i, m in enumerate(mjd):
            expected = Time(m, format="mjd").datetime
            self.assertEqual((year[i], month[i], day[i]), (expected.year, expected.month, expected.day))

    def testVisitKeys(self):
        """dayObs (the date 12 h earlier) * 100000 + a 38 s sequence number."""
        mjd = np.array([61000.2, 61000.49, 61000.5 + 76.5 / 86400])
        visit, key = visitKeys(mjd)
        for i, m in enumerate(mjd):
            dayObs = Time(m - 0.5, format="mjd").strftime("%Y%m%d")
            self.assertEqual(visit[i] // 100000, int(dayObs))
        self.assertEqual(visit[2] % 100000, 3)
        self.assertEqual(visit[0] // 100000, visit[1] // 100000)
        self.assertEqual(len(set(key.tolist())), 3)

    def testPackId(self):
        ids = packId(np.array([5, 5, 6]), np.array([94, 95, 94]), np.array([0, 0, 0]))
        self.assertEqual(len(set(ids.tolist())), 3)
        self.assertEqual(int(packId(1, 2, 3)), ((1 * 256 + 2) << 20) + 3)

    def testNightsBack(self):
        rng = np.random.default_rng(2)
        depth = np.array([0, 1, 5, 40, 60])
        low = np.array([0, 10, 300, 0, 320])
        nights, valid = nightsBack(rng, 5, depth, low, 350)
        np.testing.assert_array_equal(valid.sum(axis=1), [0, 1, 5, 40, 30])  # capped by the range
        for row in range(5):
            got = nights[row][valid[row]]
            self.assertTrue((np.diff(got) > 0).all())
            self.assertTrue(((got >= low[row]) & (got < 350)).all())


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
