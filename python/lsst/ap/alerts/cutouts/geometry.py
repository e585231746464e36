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

"""Where a cutout is and how its sky axes run: box placement and the local WCS.

The cutout WCS is a TAN projection tangent at the source whose CD matrix is
the Jacobian of "parent pixel → gnomonic plane at the source".  It is
computed, on real ``lsst.afw`` and on the package's model alike,

- for a TAN or TAN-SIP WCS in ICRS (what ``getFitsMetadata(precise=True)``
  describes exactly): analytically, by the chain rule through the SIP
  polynomials, the CD matrix and the map between the parent's and the
  source's gnomonic planes (a homography: both planes are central
  projections of the same sphere), to double-precision rounding;
- for any other WCS: by central differences of ``pixelToSkyArray`` (1e-10 to
  1e-8 relative, from the cancellation of sky coordinates and the
  distortion's curvature).

Upstream (``lsst.ap.association``) takes AST's ``getJacobian`` of the parent
transform chained with a local TAN WCS.  That numerical rate is off by 1e-10
(TAN) to 2e-7 (TAN-SIP) and collapses to a singular matrix for sources
within a pixel of the image's lower edges, so it is not used.
"""

from __future__ import annotations

__all__ = ["centeredBoxMin", "localTransformMatrices", "localTransformMatrix"]

import numpy as np

# Step, in pixels, of the central differences of the fallback.
_STEP = 1.0
_TAN_TYPES = {("RA---TAN", "DEC--TAN"), ("RA---TAN-SIP", "DEC--TAN-SIP")}


def localTransformMatrix(wcs, center, skyCenter) -> np.ndarray:
    """Jacobian of ``wcs`` at ``center`` in the gnomonic frame tangent at ``skyCenter``.

    Parameters
    ----------
    wcs : `lsst.afw.geom.SkyWcs`
        WCS of the parent image (real afw or the model).
    center : `lsst.geom.Point2D`
        Parent pixel at which to evaluate.
    skyCenter : `lsst.geom.SpherePoint`
        Tangent point.

    Returns
    -------
    matrix : `numpy.ndarray`
        2×2, degrees per pixel: ``[[dxi/dx, dxi/dy], [deta/dx, deta/dy]]``.
    """
    return localTransformMatrices(
        wcs,
        [center.getX()],
        [center.getY()],
        [skyCenter.getRa().asRadians()],
        [skyCenter.getDec().asRadians()],
    )[0]


def localTransformMatrices(wcs, x, y, ra, dec) -> np.ndarray:
    """`localTransformMatrix` for many points.

    Parameters
    ----------
    wcs : `lsst.afw.geom.SkyWcs`
        WCS of the parent image.
    x, y : array-like
        Parent pixels (afw convention), shape (n,).
    ra, dec : array-like
        Tangent points in radians (normally the sky positions of ``x, y``),
        as ``SpherePoint`` holds them.

    Returns
    -------
    matrices : `numpy.ndarray`
        Shape (n, 2, 2), degrees per pixel.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ra, dec = np.asarray(ra, dtype=float), np.asarray(dec, dtype=float)
    parameters = _tanSipParameters(wcs)
    if parameters is not None:
        return _tanSipJacobians(parameters, x, y, ra, dec)
    return _numericJacobians(wcs, x, y, ra, dec)


def centeredBoxMin(x, y, width, height):
    """Lower-left pixel of ``Box2I.makeCenteredBox((x, y), (width, height))``, vectorised.

    lsst.geom shifts the centre by half the size, then by half a pixel for
    Box2I's inclusive-max convention, and rounds half up (Point2I(Point2D)).
    """
    minX = np.floor(np.asarray(x, dtype=float) - 0.5 * np.asarray(width) + 1.0).astype(np.int64)
    minY = np.floor(np.asarray(y, dtype=float) - 0.5 * np.asarray(height) + 1.0).astype(np.int64)
    return minX, minY


# -- TAN / TAN-SIP: analytic ------------------------------------------------


class _TanSip:
    """What the analytic Jacobian needs of a TAN or TAN-SIP WCS.

    Attributes
    ----------
    crpix : `numpy.ndarray`
        FITS (1-based) reference pixel.
    matrix : `numpy.ndarray`
        2×2 linear part (CD, or PC scaled by CDELT), degrees per pixel.
    tangent : `numpy.ndarray`
        Rows: unit vector of CRVAL, then the east and north unit vectors there.
    sipA, sipB : `numpy.ndarray` or `None`
        Forward SIP coefficients, ``[p, q]`` multiplying ``u**p v**q``.
    """

    def __init__(self, crpix, matrix, crval, sipA=None, sipB=None):
        self.crpix = np.asarray(crpix, dtype=float)
        self.matrix = np.asarray(matrix, dtype=float)
        self.tangent = np.stack(_tangentBasis(*np.radians(np.asarray(crval, dtype=float))))
        self.sipA, self.sipB = sipA, sipB


def _tanSipParameters(wcs) -> _TanSip | None:
    """The TAN(-SIP) parameters of a WCS from its exact FITS description, or `None`.

    Works on afw's ``SkyWcs`` and the model's: ``getFitsMetadata(precise=True)``
    gives the parameters as doubles (afw raises when the WCS is not exactly
    FITS-representable).
    """
    try:
        metadata = wcs.getFitsMetadata(True)
    except Exception:  # afw's pex exception when no exact FITS form exists
        return None
    names = set(metadata.names())

    def value(key, default=None):
        return metadata.getScalar(key) if key in names else default

    ctypes = (str(value("CTYPE1", "")).strip(), str(value("CTYPE2", "")).strip())
    if (
        ctypes not in _TAN_TYPES
        or str(value("RADESYS", "ICRS")).strip() != "ICRS"
        or float(value("LONPOLE", 180.0)) != 180.0
        or any(name.startswith(("PV", "A_DMAX", "B_DMAX")) for name in names)
    ):
        # Other projections or frames, PV distortions, a rotated native pole: no closed form here.
        return None
    if all(f"CD{i}_{j}" not in names for i in (1, 2) for j in (1, 2)):
        pc = np.array([[value(f"PC{i}_{j}", float(i == j)) for j in (1, 2)] for i in (1, 2)])
        matrix = np.array([[value("CDELT1", 1.0)], [value("CDELT2", 1.0)]]) * pc
    else:
        matrix = np.array([[value(f"CD{i}_{j}", 0.0) for j in (1, 2)] for i in (1, 2)])
    sip = ctypes[0].endswith("-SIP")
    return _TanSip(
        (value("CRPIX1"), value("CRPIX2")),
        matrix,
        (value("CRVAL1"), value("CRVAL2")),
        _sipCoefficients(value, names, "A") if sip else None,
        _sipCoefficients(value, names, "B") if sip else None,
    )


def _sipCoefficients(value, names, which: str) -> np.ndarray:
    """The forward SIP coefficients ``which_p_q`` as an array indexed ``[p, q]``."""
    order = int(value(f"{which}_ORDER", 0))
    coefficients = np.zeros((order + 1, order + 1))
    for p in range(order + 1):
        for q in range(order + 1 - p):
            coefficients[p, q] = value(f"{which}_{p}_{q}", 0.0)
    return coefficients


def _tangentBasis(ra, dec):
    """Unit vectors of (ra, dec) (radians) and of east and north there; each shape (..., 3)."""
    cosRa, sinRa, cosDec, sinDec = np.cos(ra), np.sin(ra), np.cos(dec), np.sin(dec)
    zero = np.zeros_like(cosRa)
    point = np.stack([cosDec * cosRa, cosDec * sinRa, sinDec], axis=-1)
    east = np.stack([-sinRa, cosRa, zero], axis=-1)
    north = np.stack([-sinDec * cosRa, -sinDec * sinRa, cosDec], axis=-1)
    return point, east, north


def _dot(a, b):
    """Row-wise dot products of (n, 3) vectors, summed in a fixed order.

    Written out (not einsum or matmul) so a point's result does not depend on
    how many points are computed together.
    """
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def _polynomial(coefficients: np.ndarray, u, v):
    """Sum of ``coefficients[p, q] u**p v**q`` (Horner in v, then in u)."""
    total = np.zeros_like(u)
    for p in range(coefficients.shape[0] - 1, -1, -1):
        row = np.zeros_like(u)
        for q in range(coefficients.shape[1] - 1, -1, -1):
            row = row * v + coefficients[p, q]
        total = total * u + row
    return total


def _sipJacobians(parameters: _TanSip, u, v):
    """Focal-plane offsets (f, g) of pixel offsets (u, v) and their four derivatives."""
    if parameters.sipA is None:
        one, zero = np.ones_like(u), np.zeros_like(u)
        return u, v, (one, zero, zero, one)
    poly = np.polynomial.polynomial
    a, b = parameters.sipA, parameters.sipB
    f = u + _polynomial(a, u, v)
    g = v + _polynomial(b, u, v)
    derivatives = (
        1.0 + _polynomial(poly.polyder(a, axis=0), u, v),
        _polynomial(poly.polyder(a, axis=1), u, v),
        _polynomial(poly.polyder(b, axis=0), u, v),
        1.0 + _polynomial(poly.polyder(b, axis=1), u, v),
    )
    return f, g, derivatives


def _tanSipJacobians(parameters: _TanSip, x, y, ra, dec) -> np.ndarray:
    """Chain rule: SIP, then the linear part, then parent plane → source plane.

    A point of the parent's gnomonic plane with standard coordinates
    (X, Y) (radians) lies in direction ``d = a + X e + Y n`` (a, e, n: the
    tangent point and its east and north vectors); its coordinates in the
    plane tangent at b are ``(d·e', d·n') / (d·b)``, whose derivatives in X
    and Y follow from the quotient rule.  Gnomonic degrees per degree equal
    radians per radian, so the three Jacobians multiply as they are.
    """
    u = x + 1.0 - parameters.crpix[0]
    v = y + 1.0 - parameters.crpix[1]
    f, g, (fu, fv, gu, gv) = _sipJacobians(parameters, u, v)
    (m11, m12), (m21, m22) = parameters.matrix.tolist()
    # d(X, Y)/d(x, y) in degrees per pixel: the linear part times the SIP Jacobian.
    l11, l12 = m11 * fu + m12 * gu, m11 * fv + m12 * gv
    l21, l22 = m21 * fu + m22 * gu, m21 * fv + m22 * gv
    bigX, bigY = np.radians(m11 * f + m12 * g), np.radians(m21 * f + m22 * g)
    a, e, n = parameters.tangent
    direction = a + bigX[:, None] * e + bigY[:, None] * n
    b, east, north = _tangentBasis(ra, dec)
    s, p, q = _dot(direction, b), _dot(direction, east), _dot(direction, north)
    s2 = s * s
    # d(direction)/dX = e, d(direction)/dY = n; quotient rule for p/s and q/s.
    h11 = (_dot(east, e) * s - p * _dot(b, e)) / s2
    h12 = (_dot(east, n) * s - p * _dot(b, n)) / s2
    h21 = (_dot(north, e) * s - q * _dot(b, e)) / s2
    h22 = (_dot(north, n) * s - q * _dot(b, n)) / s2
    matrices = np.empty((len(x), 2, 2))
    matrices[:, 0, 0] = h11 * l11 + h12 * l21
    matrices[:, 0, 1] = h11 * l12 + h12 * l22
    matrices[:, 1, 0] = h21 * l11 + h22 * l21
    matrices[:, 1, 1] = h21 * l12 + h22 * l22
    return matrices


# -- anything else: central differences ------------------------------------------


def _numericJacobians(wcs, x, y, ra, dec) -> np.ndarray:
    """Central differences of the source-plane coordinates of neighbouring pixels.

    1e-10 (cancellation of sky coordinates) to 1e-8 (strong distortion) relative.
    """
    n = len(x)
    h = _STEP
    skyRa, skyDec = wcs.pixelToSkyArray(
        np.concatenate([x + h, x - h, x, x]), np.concatenate([y, y, y + h, y - h]), degrees=False
    )
    direction = _tangentBasis(skyRa, skyDec)[0].reshape(4, n, 3)
    b, east, north = _tangentBasis(ra, dec)
    s = np.einsum("kij,ij->ki", direction, b)
    xi = np.degrees(np.einsum("kij,ij->ki", direction, east) / s)
    eta = np.degrees(np.einsum("kij,ij->ki", direction, north) / s)
    matrices = np.empty((n, 2, 2))
    matrices[:, 0, 0] = (xi[0] - xi[1]) / (2 * h)
    matrices[:, 1, 0] = (eta[0] - eta[1]) / (2 * h)
    matrices[:, 0, 1] = (xi[2] - xi[3]) / (2 * h)
    matrices[:, 1, 1] = (eta[2] - eta[3]) / (2 * h)
    return matrices
