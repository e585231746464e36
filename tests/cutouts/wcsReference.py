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

"""An independent, extended-precision reference for local WCS Jacobians.

Evaluates a FITS TAN or TAN-SIP WCS with mpmath (40 digits) through the
spherical-trigonometry formulas of the FITS WCS standard (paper II: native
spherical coordinates, the native → celestial rotation, and back at a second
tangent point), and differentiates numerically at that precision.  It shares
no code and no formulation with `lsst.ap.alerts.cutouts.geometry`.
"""

import mpmath

__all__ = ["astropyWcsParameters", "referenceJacobian", "wcsParameters"]

mpmath.mp.dps = 40


def wcsParameters(header):
    """crpix, cd, crval, SIP A and B (dicts (p, q) → coefficient) from FITS keywords."""

    def value(key, default=0.0):
        return mpmath.mpf(float(header.get(key, default)))

    crpix = (value("CRPIX1"), value("CRPIX2"))
    if "CD1_1" in header:
        cd = [[value("CD1_1"), value("CD1_2")], [value("CD2_1"), value("CD2_2")]]
    else:
        cdelt = (value("CDELT1", 1.0), value("CDELT2", 1.0))
        cd = [
            [cdelt[0] * value("PC1_1", 1.0), cdelt[0] * value("PC1_2")],
            [cdelt[1] * value("PC2_1"), cdelt[1] * value("PC2_2", 1.0)],
        ]
    crval = (value("CRVAL1"), value("CRVAL2"))
    sip = []
    for name in ("A", "B"):
        order = int(header.get(f"{name}_ORDER", 0))
        sip.append(
            {
                (p, q): value(f"{name}_{p}_{q}")
                for p in range(order + 1)
                for q in range(order + 1 - p)
                if f"{name}_{p}_{q}" in header
            }
        )
    return crpix, cd, crval, sip[0], sip[1]


def astropyWcsParameters(astropyWcs):
    """The parameters an `astropy.wcs.WCS` (TAN or TAN-SIP, CD form) really evaluates with."""
    core = astropyWcs.wcs
    mp = mpmath.mpf
    sip = []
    for matrix in (None, None) if astropyWcs.sip is None else (astropyWcs.sip.a, astropyWcs.sip.b):
        sip.append(
            {}
            if matrix is None
            else {
                (p, q): mp(float(matrix[p, q]))
                for p in range(matrix.shape[0])
                for q in range(matrix.shape[1])
                if matrix[p, q] != 0.0
            }
        )
    return (
        (mp(float(core.crpix[0])), mp(float(core.crpix[1]))),
        [[mp(float(value)) for value in row] for row in core.cd],
        (mp(float(core.crval[0])), mp(float(core.crval[1]))),
        sip[0],
        sip[1],
    )


def _skyOfPixel(parameters, x, y):
    crpix, cd, crval, sipA, sipB = parameters
    u = x + 1 - crpix[0]
    v = y + 1 - crpix[1]
    f = u + sum(c * u**p * v**q for (p, q), c in sipA.items())
    g = v + sum(c * u**p * v**q for (p, q), c in sipB.items())
    xw = cd[0][0] * f + cd[0][1] * g
    yw = cd[1][0] * f + cd[1][1] * g
    # TAN deprojection (degrees): native longitude and latitude.
    rDeg = 180 / mpmath.pi
    phi = mpmath.atan2(xw, -yw)
    theta = mpmath.atan2(rDeg, mpmath.sqrt(xw**2 + yw**2))
    ra0, dec0 = mpmath.radians(crval[0]), mpmath.radians(crval[1])
    dphi = phi - mpmath.pi  # native longitude of the celestial pole: 180 degrees
    sin, cos = mpmath.sin, mpmath.cos
    ra = ra0 + mpmath.atan2(
        -cos(theta) * sin(dphi), sin(theta) * cos(dec0) - cos(theta) * sin(dec0) * cos(dphi)
    )
    dec = mpmath.asin(sin(theta) * sin(dec0) + cos(theta) * cos(dec0) * cos(dphi))
    return ra, dec


def _tanProject(ra, dec, ra1, dec1):
    """Intermediate world coordinates (degrees) of (ra, dec) in the TAN projection tangent at (ra1, dec1)."""
    sin, cos = mpmath.sin, mpmath.cos
    dra = ra - ra1
    phi = mpmath.pi + mpmath.atan2(
        -cos(dec) * sin(dra), sin(dec) * cos(dec1) - cos(dec) * sin(dec1) * cos(dra)
    )
    theta = mpmath.asin(sin(dec) * sin(dec1) + cos(dec) * cos(dec1) * cos(dra))
    r = 180 / mpmath.pi / mpmath.tan(theta)
    return r * mpmath.sin(phi), -r * mpmath.cos(phi)


def referenceJacobian(parameters, x, y, raDeg, decDeg):
    """2×2 Jacobian (degrees per pixel) at pixel (x, y) in the plane tangent at (raDeg, decDeg), as floats."""
    ra1 = mpmath.radians(mpmath.mpf(float(raDeg)))
    dec1 = mpmath.radians(mpmath.mpf(float(decDeg)))

    def component(k):
        return lambda px, py: _tanProject(*_skyOfPixel(parameters, px, py), ra1, dec1)[k]

    x0, y0 = mpmath.mpf(float(x)), mpmath.mpf(float(y))
    return [[float(mpmath.diff(component(k), (x0, y0), order)) for order in ((1, 0), (0, 1))] for k in (0, 1)]
