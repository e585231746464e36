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

"""simulation.survey: the depths and noise the simulations share."""

import unittest

import lsst.utils.tests
import numpy as np

from lsst.ap.alerts.simulation.survey import AB_NJY, DEPTH5, LSST_BANDS, skyNoise


class SurveyTestCase(lsst.utils.tests.TestCase):
    def testFiveSigmaDepth(self):
        """A point source at the 5-sigma depth has S/N 5 in median seeing."""
        for band in range(len(LSST_BANDS)):
            flux = 10 ** ((AB_NJY - DEPTH5[band]) / 2.5)
            self.assertAlmostEqual(flux / skyNoise(band, 1.0), 5.0, places=12)
        # Noise grows with the seeing FWHM (sky-dominated PSF photometry).
        np.testing.assert_allclose(
            skyNoise(np.array([2, 2]), np.array([1.0, 1.5])), skyNoise(2, 1.0) * np.array([1.0, 1.5])
        )
        # nJy of AB magnitude 0 is 3631 Jy.
        self.assertAlmostEqual(10 ** (AB_NJY / 2.5) / 1e9, 3631, delta=5)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
