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

"""Local WCS of a cutout and box placement (`lsst.ap.alerts.cutouts.geometry`).

The model's analytic Jacobians are checked against an independent 40-digit
reference (`wcsReference`: FITS spherical trigonometry, numerical
derivatives in mpmath), on the model and on real afw WCSs.  Upstream's
construction (AST's numerical Jacobian through afw) is rebuilt from afw's
public API to show what differs: it is 1e-10 to 2e-7 off, and loses a
column within a pixel of x = 0 or y = 0.
"""

import math
import unittest

import lsst.utils.tests
import numpy as np
from wcsReference import astropyWcsParameters, referenceJacobian

from lsst.ap.alerts._afw import HAVE_AFW, geom
from lsst.ap.alerts.afwModel import geom as modelGeom
from lsst.ap.alerts.afwModel import image as model
from lsst.ap.alerts.cutouts.geometry import (
    _numericJacobians,
    centeredBoxMin,
    localTransformMatrices,
    localTransformMatrix,
)

# The analytic path's target against the exact reference, relative to the largest element.
ANALYTIC_TOLERANCE = 1e-13


def _sipMatrices(rng, order=3, scale=2e-5):
    """Random SIP A and B coefficients (order >= 2 terms), a few pixels of distortion at 1000 px."""
    matrices = []
    for _ in range(2):
        m = np.zeros((order + 1, order + 1))
        for p in range(order + 1):
            for q in range(order + 1 - p):
                if p + q >= 2:
                    m[p, q] = rng.normal(0.0, scale / 1000.0 ** (p + q - 2))
        matrices.append(m)
    return matrices


def modelWcs(crval=(53.16, -28.1), rotation=30.0, sip=True, seed=1, crpix=(1023.5, 1023.5)):
    """A model `SkyWcs` (TAN or TAN-SIP, 0.2"/pixel)."""
    cd = model.makeCdMatrix(0.2 * modelGeom.arcseconds, rotation * modelGeom.degrees)
    center = modelGeom.Point2D(*crpix)
    sky = modelGeom.SpherePoint(crval[0], crval[1], modelGeom.degrees)
    if not sip:
        return model.makeSkyWcs(center, sky, cd)
    sipA, sipB = _sipMatrices(np.random.default_rng(seed))
    return model.makeTanSipWcs(center, sky, cd, sipA, sipB)


def relativeError(matrix, reference):
    return float(np.max(np.abs(np.asarray(matrix) - reference)) / np.max(np.abs(reference)))


class AnalyticJacobianTestCase(lsst.utils.tests.TestCase):
    """The model's TAN / TAN-SIP Jacobians against the extended-precision reference."""

    def checkWcs(self, wcs, pixels, tangentOffset=(0.0, 0.0)):
        parameters = astropyWcsParameters(wcs.getAstropyWcs())
        x, y = pixels[:, 0], pixels[:, 1]
        ra, dec = wcs.pixelToSkyArray(x, y, degrees=False)
        ra, dec = ra + tangentOffset[0], dec + tangentOffset[1]
        matrices = localTransformMatrices(wcs, x, y, ra, dec)
        for i in range(len(x)):
            reference = referenceJacobian(parameters, x[i], y[i], math.degrees(ra[i]), math.degrees(dec[i]))
            self.assertLess(
                relativeError(matrices[i], reference), ANALYTIC_TOLERANCE, msg=f"pixel {pixels[i]}"
            )

    def testTanSipAcrossTheImage(self):
        rng = np.random.default_rng(3)
        # Inside, beyond the edges and far out (away from the parent's tangent point).
        pixels = np.vstack(
            [rng.uniform(-200, 2300, (10, 2)), [[0.0, 0.0], [2047.0, 2047.0], [5000.0, -3000.0]]]
        )
        self.checkWcs(modelWcs(sip=True), pixels)

    def testTanAndOtherSkies(self):
        rng = np.random.default_rng(4)
        pixels = rng.uniform(0, 2048, (5, 2))
        for crval, rotation in (
            ((359.99, 0.5), 10.0),
            ((0.01, -45.0), -120.0),
            ((120.0, 89.9), 75.0),
            ((210.0, -89.5), 180.0),
        ):
            with self.subTest(crval=crval):
                self.checkWcs(modelWcs(crval=crval, rotation=rotation, sip=False), pixels)
                self.checkWcs(modelWcs(crval=crval, rotation=rotation, sip=True), pixels)

    def testTangentPointAwayFromTheSource(self):
        """Any tangent point (here 20 arcmin off), not only the pixel's own sky position."""
        pixels = np.random.default_rng(5).uniform(0, 2048, (5, 2))
        self.checkWcs(modelWcs(sip=True), pixels, tangentOffset=(math.radians(0.3), math.radians(-0.2)))

    def testAtTheParentsTangentPoint(self):
        """At CRPIX of a TAN WCS, tangent at CRVAL, the Jacobian is the CD matrix."""
        wcs = modelWcs(sip=False)
        metadata = wcs.getFitsMetadata(True)
        cd = np.array([[metadata.getScalar(f"CD{i}_{j}") for j in (1, 2)] for i in (1, 2)])
        matrix = localTransformMatrix(wcs, modelGeom.Point2D(1023.5, 1023.5), wcs.getSkyOrigin())
        np.testing.assert_allclose(matrix, cd, rtol=0, atol=1e-15 * np.abs(cd).max())

    def testBatchesGiveTheSameBits(self):
        """A point's matrix does not depend on how many points are computed with it."""
        wcs = modelWcs(sip=True)
        pixels = np.random.default_rng(6).uniform(0, 2048, (50, 2))
        ra, dec = wcs.pixelToSkyArray(pixels[:, 0], pixels[:, 1])
        together = localTransformMatrices(wcs, pixels[:, 0], pixels[:, 1], ra, dec)
        for i in (0, 17, 49):
            alone = localTransformMatrix(
                wcs, modelGeom.Point2D(*pixels[i]), modelGeom.SpherePoint(ra[i], dec[i], modelGeom.radians)
            )
            self.assertEqual(alone.tobytes(), together[i].tobytes())

    def testNumericFallback(self):
        """Other projections use central differences: 1e-10 to 1e-8 relative (here a TAN-SIP)."""
        wcs = modelWcs(sip=True)
        pixels = np.random.default_rng(7).uniform(0, 2048, (5, 2))
        ra, dec = wcs.pixelToSkyArray(pixels[:, 0], pixels[:, 1])
        numeric = _numericJacobians(wcs, pixels[:, 0], pixels[:, 1], ra, dec)
        exact = localTransformMatrices(wcs, pixels[:, 0], pixels[:, 1], ra, dec)
        for i in range(len(pixels)):
            self.assertLess(relativeError(numeric[i], exact[i]), 1e-7)

    def testOtherProjectionUsesTheFallback(self):
        header = {
            "CTYPE1": "RA---ZEA",
            "CTYPE2": "DEC--ZEA",
            "CRPIX1": 100.0,
            "CRPIX2": 100.0,
            "CRVAL1": 30.0,
            "CRVAL2": 10.0,
            "CD1_1": -5.5e-5,
            "CD1_2": 0.0,
            "CD2_1": 0.0,
            "CD2_2": 5.5e-5,
        }
        wcs = model.makeSkyWcs(header)
        x, y = np.array([10.0, 150.0]), np.array([20.0, 190.0])
        ra, dec = wcs.pixelToSkyArray(x, y)
        np.testing.assert_array_equal(
            localTransformMatrices(wcs, x, y, ra, dec), _numericJacobians(wcs, x, y, ra, dec)
        )


@unittest.skipUnless(HAVE_AFW, "needs real afw (AST)")
class AfwJacobianTestCase(lsst.utils.tests.TestCase):
    """On real afw's WCSs the matrices are exact too; upstream's AST recipe is not."""

    def setUp(self):
        import lsst.afw.geom as afwGeom

        self.afwGeom = afwGeom
        rng = np.random.default_rng(8)
        sipA, sipB = _sipMatrices(rng)
        cd = afwGeom.makeCdMatrix(0.2 * geom.arcseconds, 30.0 * geom.degrees)
        self.wcs = afwGeom.makeTanSipWcs(
            geom.Point2D(1023.5, 1023.5), geom.SpherePoint(53.16, -28.1, geom.degrees), cd, sipA, sipB
        )
        self.pixels = rng.uniform(0, 2048, (6, 2))
        from wcsReference import wcsParameters

        metadata = self.wcs.getFitsMetadata(True)
        self.parameters = wcsParameters({name: metadata.getScalar(name) for name in metadata.names()})

    def upstreamMatrix(self, center, skyCenter):
        """lsst.ap.association's recipe: a 1"/pixel TAN WCS at the source, AST's Jacobian, /3600."""
        scale = (1.0 * geom.arcseconds).asDegrees()
        local = self.afwGeom.makeSkyWcs(center, skyCenter, [[scale, 0], [0, scale]])
        return self.wcs.getTransform().then(local.getTransform().inverted()).getJacobian(center) / 3600

    def reference(self, center, sky):
        return referenceJacobian(
            self.parameters, center.getX(), center.getY(), sky.getRa().asDegrees(), sky.getDec().asDegrees()
        )

    def testExactOnAfwWcs(self):
        """Near the lower edges too, where upstream's recipe collapses."""
        pixels = np.concatenate([self.pixels, [[0.5, 700.0], [900.0, -0.3], [0.2, 0.7]]])
        ra, dec = self.wcs.pixelToSkyArray(pixels[:, 0], pixels[:, 1])
        many = localTransformMatrices(self.wcs, pixels[:, 0], pixels[:, 1], ra, dec)
        for i, (x, y) in enumerate(pixels):
            center = geom.Point2D(x, y)
            sky = self.wcs.pixelToSky(center)
            reference = self.reference(center, sky)
            self.assertLess(
                relativeError(localTransformMatrix(self.wcs, center, sky), reference), ANALYTIC_TOLERANCE
            )
            self.assertLess(relativeError(many[i], reference), ANALYTIC_TOLERANCE)

    def testAstCollapsesNearTheLowerEdges(self):
        """Why the CD is not upstream's on afw: within a pixel of x = 0 or y = 0, AST's Jacobian
        (afw w.2026.18) loses a column, a singular CD matrix for a source that is on the image."""
        for x, y in ((0.5, 700.0), (900.0, -0.3), (0.2, 0.7)):
            center = geom.Point2D(x, y)
            sky = self.wcs.pixelToSky(center)
            upstream = self.upstreamMatrix(center, sky)
            self.assertTrue((upstream == 0).all(axis=0).any(), msg=f"({x}, {y}): {upstream}")
            self.assertNotEqual(np.linalg.det(localTransformMatrix(self.wcs, center, sky)), 0.0)

    def testAstAgainstTheExactReference(self):
        """AST's numerical Jacobian (upstream's CD) is off the exact one by 1e-10 (TAN) to 2e-7 (this SIP)."""
        for x, y in self.pixels:
            sky = self.wcs.pixelToSky(x, y)
            center = self.wcs.skyToPixel(sky)
            relative = relativeError(self.upstreamMatrix(center, sky), self.reference(center, sky))
            self.assertLess(relative, 1e-6)


class CenteredBoxTestCase(lsst.utils.tests.TestCase):
    def testMatchesMakeCenteredBox(self):
        rng = np.random.default_rng(9)
        points = np.concatenate(
            [rng.uniform(-50, 50, (200, 2)), np.round(rng.uniform(-50, 50, (100, 2)) * 2) / 2]
        )
        sizes = rng.integers(1, 60, 300)
        minX, minY = centeredBoxMin(points[:, 0], points[:, 1], sizes, sizes)
        for i in range(len(points)):
            box = geom.Box2I.makeCenteredBox(
                geom.Point2D(*points[i]), geom.Extent2I(int(sizes[i]), int(sizes[i]))
            )
            self.assertEqual((minX[i], minY[i]), (box.getMinX(), box.getMinY()))


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
