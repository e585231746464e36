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

"""Tests of the SkyWcs API (`lsst.ap.alerts.afwModel.image.wcs`).

``WcsTestCase`` takes ``geom`` and ``afwGeom`` from ``lsst.ap.alerts._afw``:
it runs against real afw when it is installed and against the package's
image model otherwise.  ``ModelWcsTestCase`` tests model-only API (the
vectorised transforms, the local CD matrix, FK5 headers) and is skipped
with afw.
"""

import math
import unittest

import lsst.utils.tests
import numpy as np
from imageHelpers import PropertyList, TanSipHelper, assertPairClose, assertSkyClose, makeWcs

from lsst.ap.alerts._afw import HAVE_AFW, afwGeom, geom


class WcsTestCase(lsst.utils.tests.TestCase):
    def testTan(self):
        crpix = geom.Point2D(500.0, 400.0)
        crval = geom.SpherePoint(150.0, 2.5, geom.degrees)
        cd = afwGeom.makeCdMatrix(0.2 * geom.arcseconds, 30.0 * geom.degrees)
        wcs = afwGeom.makeSkyWcs(crpix, crval, cd)
        assertPairClose(self, wcs.getPixelOrigin(), crpix, maxDiff=1e-10)
        assertSkyClose(self, wcs.getSkyOrigin(), crval, maxSep=1e-9 * geom.arcseconds)
        assertSkyClose(self, wcs.pixelToSky(crpix), crval, maxSep=1e-9 * geom.arcseconds)
        # afw's getCdMatrix is AST's numerical Jacobian at CRPIX: 2.3e-11 of the
        # largest element off the header CD here (up to ~1e-8 in a sweep of
        # random TAN WCSs); the model returns the exact CD.
        np.testing.assert_allclose(wcs.getCdMatrix(), cd, rtol=0, atol=1e-10 * np.abs(cd).max())
        if not HAVE_AFW:
            np.testing.assert_array_equal(wcs.getCdMatrix(), cd)
        self.assertAlmostEqual(wcs.getPixelScale().asArcseconds(), 0.2, places=8)
        self.assertFalse(wcs.isFlipped)
        # makeCdMatrix: by default (flipX=False) east is left, a negative CD1_1 for orientation 0
        cd0 = afwGeom.makeCdMatrix(1.0 * geom.arcseconds)
        self.assertLess(cd0[0, 0], 0)
        self.assertGreater(cd0[1, 1], 0)
        cd1 = afwGeom.makeCdMatrix(1.0 * geom.arcseconds, 30.0 * geom.degrees, True)
        self.assertAlmostEqual(cd1[0, 0], math.cos(math.radians(30.0)) / 3600.0, places=15)
        self.assertAlmostEqual(cd1[1, 0], -0.5 / 3600.0, places=15)
        points = [geom.Point2D(x, y) for x in (-100.0, 0.0, 333.3, 1999.0) for y in (-50.0, 0.0, 777.7)]
        for point in points:
            back = wcs.skyToPixel(wcs.pixelToSky(point))
            assertPairClose(self, back, point, maxDiff=1e-9)
        skies = wcs.pixelToSky(points)
        self.assertEqual(len(skies), len(points))
        assertSkyClose(self, skies[3], wcs.pixelToSky(points[3]), maxSep=1e-12 * geom.arcseconds)
        assertSkyClose(
            self, wcs.pixelToSky(points[3].getX(), points[3].getY()), skies[3], maxSep=1e-12 * geom.arcseconds
        )
        backs = wcs.skyToPixel(skies)
        for back, point in zip(backs, points, strict=True):
            assertPairClose(self, back, point, maxDiff=1e-9)
        # north is +y rotated by the orientation: a pixel step along +y moves mostly north
        step = wcs.pixelToSky(crpix + geom.Extent2D(0.0, 100.0))
        self.assertGreater(step.getDec().asDegrees(), crval.getDec().asDegrees())

    def makeTanSip(self):
        crpix = geom.Point2D(1000.0, 1000.0)
        crval = geom.SpherePoint(30.0, -20.0, geom.degrees)
        cd = afwGeom.makeCdMatrix(0.2 * geom.arcseconds, 10.0 * geom.degrees)
        sipA = np.zeros((4, 4))
        sipB = np.zeros((4, 4))
        sipA[2, 0], sipA[1, 1], sipA[0, 2], sipA[3, 0] = 2e-6, -1e-6, 5e-7, 1e-10
        sipB[0, 2], sipB[1, 1], sipB[2, 0], sipB[0, 3] = 3e-6, 1e-6, -6e-7, -2e-10
        return afwGeom.makeTanSipWcs(crpix, crval, cd, sipA, sipB)

    def testTanSipRoundTrip(self):
        wcs = self.makeTanSip()
        for x in np.linspace(0.0, 2000.0, 7):
            for y in np.linspace(0.0, 2000.0, 7):
                point = geom.Point2D(x, y)
                assertPairClose(self, wcs.skyToPixel(wcs.pixelToSky(point)), point, maxDiff=1e-9)
        # the distortion is real: far from the origin it differs from the linear part
        linear = afwGeom.makeSkyWcs(wcs.getPixelOrigin(), wcs.getSkyOrigin(), wcs.getCdMatrix())
        corner = geom.Point2D(0.0, 0.0)
        self.assertGreater(wcs.pixelToSky(corner).separation(linear.pixelToSky(corner)).asArcseconds(), 0.1)

    def testFitsMetadataRoundTrip(self):
        for wcs in (makeWcs(), self.makeTanSip()):
            copy = afwGeom.makeSkyWcs(wcs.getFitsMetadata())
            for point in (geom.Point2D(0.0, 0.0), geom.Point2D(1500.0, 300.0)):
                assertSkyClose(
                    self, copy.pixelToSky(point), wcs.pixelToSky(point), maxSep=1e-9 * geom.arcseconds
                )

    def testMetadataWithXY0(self):
        metadata = PropertyList()
        for key, value in (
            ("CTYPE1", "RA---TAN"),
            ("CTYPE2", "DEC--TAN"),
            ("CRPIX1", 51.0),
            ("CRPIX2", 41.0),
            ("CRVAL1", 10.0),
            ("CRVAL2", 20.0),
            ("CD1_1", -5e-5),
            ("CD1_2", 0.0),
            ("CD2_1", 0.0),
            ("CD2_2", 5e-5),
            ("RADESYS", "ICRS"),
            ("CTYPE1A", "LINEAR"),
            ("CTYPE2A", "LINEAR"),
            ("CRPIX1A", 1.0),
            ("CRPIX2A", 1.0),
            ("CRVAL1A", 100.0),
            ("CRVAL2A", 200.0),
            ("CUNIT1A", "PIXEL"),
            ("CUNIT2A", "PIXEL"),
        ):
            metadata.set(key, value)
        wcs = afwGeom.makeSkyWcs(metadata)
        # FITS CRPIX is 1-based in the local array; afw pixels are 0-based in the parent
        assertPairClose(self, wcs.getPixelOrigin(), geom.Point2D(150.0, 240.0), maxDiff=1e-10)


@unittest.skipIf(HAVE_AFW, "model-only API")
class ModelWcsTestCase(lsst.utils.tests.TestCase):
    def testVectorisedWcs(self):
        wcs = TanSipHelper.make()
        x = np.linspace(-100.0, 2100.0, 50)
        y = np.linspace(2100.0, -100.0, 50)
        ra, dec = wcs.pixelToSkyArray(x, y)
        for i in (0, 17, 49):
            sky = wcs.pixelToSky(geom.Point2D(x[i], y[i]))
            self.assertAlmostEqual(ra[i], sky.getRa().asRadians(), delta=1e-14)
            self.assertAlmostEqual(dec[i], sky.getDec().asRadians(), delta=1e-14)
        xBack, yBack = wcs.skyToPixelArray(ra, dec)
        np.testing.assert_allclose(xBack, x, rtol=0, atol=1e-9)
        np.testing.assert_allclose(yBack, y, rtol=0, atol=1e-9)
        raDeg, decDeg = wcs.pixelToSkyArray(x, y, degrees=True)
        np.testing.assert_allclose(np.deg2rad(raDeg), ra, rtol=0, atol=1e-15)
        xDeg, _ = wcs.skyToPixelArray(raDeg, decDeg, degrees=True)
        np.testing.assert_allclose(xDeg, x, rtol=0, atol=1e-9)

    def testSipCdMatrixIsLocalJacobian(self):
        wcs = TanSipHelper.make()
        point = geom.Point2D(1700.0, 300.0)
        cd = wcs.getCdMatrix(point)
        cd0 = wcs.getCdMatrix()
        u, v = point.getX() - 1000.0, point.getY() - 1000.0
        a = TanSipHelper.sipA
        b = TanSipHelper.sipB
        dfdu = sum(p * a[p, q] * u ** (p - 1) * v**q for p in range(4) for q in range(4) if p > 0)
        dfdv = sum(q * a[p, q] * u**p * v ** (q - 1) for p in range(4) for q in range(4) if q > 0)
        dgdu = sum(p * b[p, q] * u ** (p - 1) * v**q for p in range(4) for q in range(4) if p > 0)
        dgdv = sum(q * b[p, q] * u**p * v ** (q - 1) for p in range(4) for q in range(4) if q > 0)
        expected = cd0 @ np.array([[1 + dfdu, dfdv], [dgdu, 1 + dgdv]])
        np.testing.assert_allclose(cd, expected, rtol=1e-9, atol=0)

    def testFk5HeaderIsConvertedToIcrs(self):
        import erfa
        from astropy.io import fits
        from astropy.wcs import WCS

        header = fits.Header()
        for key, value in (
            ("CTYPE1", "RA---TAN"),
            ("CTYPE2", "DEC--TAN"),
            ("CRPIX1", 101.0),
            ("CRPIX2", 201.0),
            ("CRVAL1", 151.3),
            ("CRVAL2", 1.6),
            ("CD1_1", 1.6e-7),
            ("CD1_2", -4.6e-5),
            ("CD2_1", -4.7e-5),
            ("CD2_2", 1.1e-7),
            ("RADESYS", "FK5"),
            ("EQUINOX", 2000.0),
        ):
            header[key] = value
        wcs = afwGeom.makeSkyWcs(header)
        fk5 = WCS(header)
        x = np.array([0.0, 100.0, 2000.0, -500.0])
        y = np.array([0.0, 200.0, -300.0, 4000.0])
        ra5, dec5 = fk5.wcs_pix2world(x, y, 0)
        raH, decH = erfa.fk5hz(np.deg2rad(ra5), np.deg2rad(dec5), 2400000.5, 51544.5)
        ra, dec = wcs.pixelToSkyArray(x, y)
        sep = np.array(
            [
                geom.SpherePoint(r1, d1, geom.radians)
                .separation(geom.SpherePoint(r2, d2, geom.radians))
                .asArcseconds()
                for r1, d1, r2, d2 in zip(ra, dec, raH, decH, strict=True)
            ]
        )
        self.assertLess(sep.max(), 1e-8)
        # and it is a real (tens of mas) correction
        self.assertGreater(
            geom.SpherePoint(ra[0], dec[0], geom.radians)
            .separation(geom.SpherePoint(np.deg2rad(ra5[0]), np.deg2rad(dec5[0]), geom.radians))
            .asArcseconds(),
            0.01,
        )


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
