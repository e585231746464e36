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

"""simulation.skyGeometry against astropy: TAN projection, frames, the Sun."""

import unittest

import astropy.units as u
import lsst.utils.tests
import numpy as np
from astropy.coordinates import ICRS, Galactic, PrecessedGeocentric, SkyCoord, get_body
from astropy.time import Time
from astropy.wcs import WCS

from lsst.ap.alerts.simulation.skyGeometry import (
    ICRS_TO_GAL,
    TanWcs,
    eastNorth,
    eclipticToEquatorial,
    equatorialToEcliptic,
    invertSkyToPixel,
    raDec,
    sunGeocentric,
    unitVectors,
)


def astropyTan(tan):
    """The same TAN projection as an astropy WCS (FITS CRPIX is 1-based)."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = tan.crval
    wcs.wcs.crpix = [tan.crpix[0] + 1, tan.crpix[1] + 1]
    wcs.wcs.cd = tan.cdMatrix
    return wcs


class TanWcsTestCase(lsst.utils.tests.TestCase):
    def testAgainstAstropy(self):
        rng = np.random.default_rng(3)
        for crval, rot in (((53.16, -28.10), 0.0), ((210.0, 54.3), 37.0), ((359.9, 88.0), -120.0)):
            with self.subTest(crval=crval, rotAngle=rot):
                tan = TanWcs.make(crval, (1999.5, 2035.0), rotAngle=rot)
                reference = astropyTan(tan)
                x, y = rng.uniform(-100, 4100, 50), rng.uniform(-100, 4100, 50)
                ra, dec = tan.pixelToSky(x, y)
                raRef, decRef = reference.wcs_pix2world(x, y, 0)
                sep = SkyCoord(ra * u.deg, dec * u.deg).separation(SkyCoord(raRef * u.deg, decRef * u.deg))
                self.assertLess(sep.max().to_value(u.arcsec), 1e-6)
                px, py = tan.skyToPixel(raRef, decRef)
                np.testing.assert_allclose(px, x, atol=1e-6)
                np.testing.assert_allclose(py, y, atol=1e-6)

    def testOrientation(self):
        """0.2 arcsec pixels; east to -x and north to +y at rotAngle 0."""
        tan = TanWcs.make((150.0, 2.0), (0.0, 0.0))
        ra, dec = tan.pixelToSky(np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, 1.0]))
        self.assertAlmostEqual((ra[1] - ra[0]) * np.cos(np.radians(2.0)) * 3600, 0.2, places=6)
        self.assertAlmostEqual((dec[2] - dec[0]) * 3600, 0.2, places=6)

    def testInvert(self):
        """Newton inversion of a distorted mapping recovers the sky positions."""
        tan = TanWcs.make((210.0, 54.3), (199.5, 199.5), rotAngle=12.0)

        def distorted(ra, dec):
            x, y = tan(ra, dec)
            return x + 2e-5 * (x - 200) ** 2, y - 1e-5 * (x - 200) * (y - 200)

        x, y = np.array([0.0, 399.0, 150.0]), np.array([12.0, 250.0, 399.0])
        ra, dec = invertSkyToPixel(distorted, x, y, 210.0, 54.3)
        np.testing.assert_allclose(np.stack(distorted(ra, dec)), [x, y], atol=1e-6)


class FramesTestCase(lsst.utils.tests.TestCase):
    def setUp(self):
        rng = np.random.default_rng(5)
        self.ra = rng.uniform(0, 360, 40)
        self.dec = np.degrees(np.arcsin(rng.uniform(-1, 1, 40)))

    def testVectors(self):
        ra, dec = raDec(unitVectors(self.ra, self.dec))
        np.testing.assert_allclose(ra, self.ra, atol=1e-10)
        np.testing.assert_allclose(dec, self.dec, atol=1e-10)
        east, north = eastNorth(self.ra, self.dec)
        v = unitVectors(self.ra, self.dec)
        for a, b in ((east, north), (east, v), (north, v)):
            np.testing.assert_allclose(np.sum(a * b, axis=1), 0, atol=1e-12)
        # North points to increasing dec; east to increasing ra.
        step = 1e-6
        np.testing.assert_allclose(
            np.sum(north * (unitVectors(self.ra, self.dec + step) - v), axis=1), np.radians(step), rtol=1e-4
        )

    def testGalactic(self):
        """The Hipparcos ICRS -> Galactic rotation; astropy's Galactic goes
        through FK5 (tens of milliarcseconds apart).
        """
        lon, lat = raDec(unitVectors(self.ra, self.dec) @ ICRS_TO_GAL.T)
        gal = SkyCoord(self.ra * u.deg, self.dec * u.deg, frame=ICRS).transform_to(Galactic())
        sep = SkyCoord(lon * u.deg, lat * u.deg, frame=Galactic).separation(gal)
        self.assertLess(sep.max().to_value(u.arcsec), 0.1)

    def testEcliptic(self):
        """The mean obliquity's rotation (no precession: within 1 arcmin of astropy's J2000 frame)."""
        from astropy.coordinates import BarycentricMeanEcliptic

        lon, lat = raDec(equatorialToEcliptic(unitVectors(self.ra, self.dec)))
        ecl = SkyCoord(self.ra * u.deg, self.dec * u.deg, frame=ICRS).transform_to(BarycentricMeanEcliptic())
        sep = SkyCoord(lon * u.deg, lat * u.deg, frame=BarycentricMeanEcliptic).separation(ecl)
        self.assertLess(sep.max().to_value(u.arcmin), 1.0)
        back = eclipticToEquatorial(equatorialToEcliptic(unitVectors(self.ra, self.dec)))
        np.testing.assert_allclose(back, unitVectors(self.ra, self.dec), atol=1e-12)

    def testSun(self):
        """The low-precision almanac is within 0.02 deg and 0.0005 AU of astropy's
        Sun in the equinox of date (the simulation uses it as ICRS: precession
        puts it 0.36 deg off by 2026, negligible for what it is used for).
        """
        for mjd in (58849.0, 61000.2, 61180.7):
            with self.subTest(mjd=mjd):
                sun = sunGeocentric(mjd)
                time = Time(mjd, format="mjd", scale="tai")
                ofDate = PrecessedGeocentric(equinox=time, obstime=time)
                reference = get_body("sun", time).transform_to(ofDate)
                ra, dec = raDec(sun)
                sep = SkyCoord(ra * u.deg, dec * u.deg).separation(SkyCoord(reference.ra, reference.dec))
                self.assertLess(sep.to_value(u.deg), 0.02)
                self.assertAlmostEqual(np.linalg.norm(sun), reference.distance.to_value(u.au), delta=5e-4)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
