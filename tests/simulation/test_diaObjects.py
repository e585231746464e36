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

"""simulation.diaObjects: summaries against a pandas groupby of the same detections."""

import unittest

import lsst.utils.tests
import numpy as np
import pandas as pd

from lsst.ap.alerts.simulation.diaObjects import objectSummary
from lsst.ap.alerts.simulation.survey import LSST_BANDS


class ObjectSummaryTestCase(lsst.utils.tests.TestCase):
    def setUp(self):
        rng = np.random.default_rng(8)
        self.n = n = 12
        # Every object has a detection (its first, as this visit's) in band r.
        obj = np.concatenate([np.arange(n), rng.integers(0, n, 90)])
        size = len(obj)
        self.det = pd.DataFrame(
            {
                "obj": obj,
                "band": np.concatenate([np.full(n, 2), rng.integers(0, 6, size - n)]),
                "mjd": rng.uniform(60000, 60300, size),
                "flux": rng.normal(500, 300, size),
                "fluxErr": rng.uniform(20, 80, size),
                "sciFlux": rng.normal(2000, 300, size),
                "sciErr": rng.uniform(20, 80, size),
                "ra": 359.99 + rng.normal(0, 1e-4, size),
                "dec": -30 + rng.normal(0, 1e-4, size),
                "raErr": rng.uniform(1e-5, 3e-5, size),
                "decErr": rng.uniform(1e-5, 3e-5, size),
            }
        )
        self.det.loc[[n + 3, n + 7], "flux"] = np.nan
        self.det["ra"] %= 360.0
        self.forced = pd.DataFrame(
            {
                "obj": rng.integers(0, n, 50),
                "band": rng.integers(0, 6, 50),
                "flux": rng.normal(400, 200, 50),
                "fluxErr": rng.uniform(20, 80, 50),
            }
        )
        d, f = self.det, self.forced
        self.out = objectSummary(
            n,
            d.obj.to_numpy(),
            d.band.to_numpy(),
            d.mjd.to_numpy(),
            d.flux.to_numpy(),
            d.fluxErr.to_numpy(),
            d.sciFlux.to_numpy(),
            d.sciErr.to_numpy(),
            d.ra.to_numpy(),
            d.dec.to_numpy(),
            d.raErr.to_numpy(),
            d.decErr.to_numpy(),
            f.obj.to_numpy(),
            f.band.to_numpy(),
            f.flux.to_numpy(),
            f.fluxErr.to_numpy(),
        )

    def testBandStatistics(self):
        for b, name in enumerate(LSST_BANDS):
            det = self.det[(self.det.band == b) & self.det.flux.notna()]
            g = det.assign(w=1 / det.fluxErr**2, wf=det.flux / det.fluxErr**2).groupby("obj")
            index = pd.RangeIndex(self.n)
            mean = (g.wf.sum() / g.w.sum()).reindex(index)
            np.testing.assert_allclose(self.out[f"{name}_psfFluxMean"], mean, rtol=1e-12)
            np.testing.assert_allclose(
                self.out[f"{name}_psfFluxMeanErr"], (1 / np.sqrt(g.w.sum())).reindex(index), rtol=1e-12
            )
            np.testing.assert_allclose(
                self.out[f"{name}_psfFluxSigma"], g.flux.std().reindex(index), rtol=1e-10
            )
            np.testing.assert_array_equal(
                self.out[f"{name}_psfFluxNdata"], g.size().reindex(index, fill_value=0)
            )
            np.testing.assert_allclose(self.out[f"{name}_psfFluxMin"], g.flux.min().reindex(index))
            np.testing.assert_allclose(self.out[f"{name}_psfFluxMax"], g.flux.max().reindex(index))
            np.testing.assert_allclose(
                self.out[f"{name}_psfFluxErrMean"], g.fluxErr.mean().reindex(index), rtol=1e-12
            )
            slopes = (
                det.sort_values("mjd")
                .groupby("obj")
                .apply(lambda t: (t.flux.diff() / t.mjd.diff()).max(), include_groups=False)
            )
            np.testing.assert_allclose(self.out[f"{name}_psfFluxMaxSlope"], slopes.reindex(index), rtol=1e-10)
            forced = self.forced[self.forced.band == b]
            fg = forced.assign(w=1 / forced.fluxErr**2, wf=forced.flux / forced.fluxErr**2).groupby("obj")
            np.testing.assert_allclose(
                self.out[f"{name}_fpFluxMean"], (fg.wf.sum() / fg.w.sum()).reindex(index), rtol=1e-12
            )

    def testPositionsAndTimes(self):
        """Weighted means (small offsets in the tangent plane) across RA 0/360;
        counts and first/last times.
        """
        g = self.det.groupby("obj")
        for i, rows in g:
            ra0, dec0 = rows.ra.iloc[0], rows.dec.iloc[0]
            east = ((rows.ra - ra0 + 180) % 360 - 180) * np.cos(np.radians(rows.dec))
            w = 1 / rows.raErr**2
            expected = ra0 + np.sum(w * east) / w.sum() / np.cos(np.radians(dec0))
            self.assertAlmostEqual((self.out["ra"][i] - expected + 180) % 360 - 180, 0.0, delta=1e-10)
            self.assertTrue(0 <= self.out["ra"][i] < 360)
            wd = 1 / rows.decErr**2
            self.assertAlmostEqual(self.out["dec"][i], np.sum(wd * rows.dec) / wd.sum(), delta=1e-10)
        np.testing.assert_array_equal(self.out["nDiaSources"], g.size())
        np.testing.assert_array_equal(self.out["firstDiaSourceMjdTai"], g.mjd.min())
        np.testing.assert_array_equal(self.out["lastDiaSourceMjdTai"], g.mjd.max())


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
