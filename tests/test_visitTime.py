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

"""The visit midpoint against astropy, upstream's way of computing it."""

import unittest
import warnings

import astropy.time
import lsst.utils.tests
import numpy as np

from lsst.ap.alerts._afw import afwImage
from lsst.ap.alerts.visitTime import LEAP_SECOND_ERA_MJD, unixMidpoint

DateTime = afwImage.VisitInfo().date.__class__


class UnixMidpointTestCase(lsst.utils.tests.TestCase):
    def astropyUnix(self, date):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ERFA's "dubious year" beyond its leap-second table
            return date.toAstropy().tai.unix

    def testEqualsAstropyInTheLeapSecondEra(self):
        rng = np.random.default_rng(11)
        # Around every leap second since 1972, and at random up to 2100.
        leaps = astropy.time.Time(
            ["1972-07-01", "1981-07-01", "1999-01-01", "2012-07-01", "2017-01-01"], scale="utc"
        ).tai.mjd
        # The leap second itself, and the day that ends with it (astropy spreads it over that day).
        mjds = [LEAP_SECOND_ERA_MJD] + [m + d for m in leaps for d in (-0.7, -1e-5, 0.0, 1e-5, 0.3)]
        mjds += rng.uniform(LEAP_SECOND_ERA_MJD, 88069.0, 300).tolist()
        for mjd in mjds:
            date = DateTime(float(mjd), DateTime.MJD, DateTime.TAI)
            # astropy's two-double time is exact to a few ulp of the result (~0.5 µs).
            self.assertAlmostEqual(unixMidpoint(date), self.astropyUnix(date), delta=1e-6, msg=mjd)

    def testBeforeTheLeapSecondEraIsAstropys(self):
        for mjd in (15000.0, 37000.5, LEAP_SECOND_ERA_MJD - 1.0):
            date = DateTime(mjd, DateTime.MJD, DateTime.TAI)
            self.assertEqual(unixMidpoint(date), self.astropyUnix(date))

    def testInvalidDateIsAnError(self):
        with self.assertRaisesRegex(ValueError, "not valid"):
            unixMidpoint(DateTime())


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
