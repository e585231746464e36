"""Where a cutout is and how its sky axes run: box placement and the local WCS.

The cutout WCS is a TAN projection tangent at the source whose CD matrix is
the Jacobian of "parent pixel → gnomonic plane at the source".  It is
computed

- with real ``lsst.afw``: through afw's own transforms, exactly as
  ``lsst.ap.association`` does (a local TAN ``SkyWcs`` at the source,
  ``wcs.getTransform().then(local.getTransform().inverted()).getJacobian``),
  so the matrices are bit-identical to upstream's;
- on the package's model, for TAN and TAN-SIP: analytically, by the chain
  rule through the SIP polynomials, the CD matrix and the map between the
  parent's and the source's gnomonic planes (a homography: both planes are
  central projections of the same sphere), to double-precision rounding;
- for any other model WCS: by central differences (1e-10 to 1e-8 relative,
  from the cancellation of sky coordinates and the distortion's curvature).
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
    if hasattr(wcs, "getTransform"):
        return _afwJacobian(wcs, center, skyCenter)
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
    if hasattr(wcs, "getTransform"):
        return _afwJacobians(wcs, x, y, ra, dec)
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


# -- real afw: upstream's construction ------------------------------------------


def _afwJacobian(wcs, center, skyCenter) -> np.ndarray:
    """AST's Jacobian of parent pixels → pixels of a 1"/pixel TAN WCS at ``skyCenter``, in degrees."""
    import lsst.afw.geom as afwGeom
    import lsst.geom as geom

    # One arcsecond per pixel, then back to degrees: AST's rate is more
    # precise on that scale (upstream's choice, kept for identical bits).
    scale = (1.0 * geom.arcseconds).asDegrees()
    local = afwGeom.makeSkyWcs(center, skyCenter, [[scale, 0.0], [0.0, scale]])
    toLocal = wcs.getTransform().then(local.getTransform().inverted())
    return toLocal.getJacobian(center) / 3600


def _afwJacobians(wcs, x, y, ra, dec) -> np.ndarray:
    import lsst.geom as geom

    return np.array(
        [
            _afwJacobian(wcs, geom.Point2D(px, py), geom.SpherePoint(lon, lat, geom.radians))
            for px, py, lon, lat in zip(x.tolist(), y.tolist(), ra.tolist(), dec.tolist(), strict=True)
        ]
    ).reshape(len(x), 2, 2)


# -- the model: analytic TAN / TAN-SIP -----------------------------------------


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
    """The TAN(-SIP) parameters of a model `SkyWcs`, or `None` if it is something else."""
    getAstropyWcs = getattr(wcs, "getAstropyWcs", None)
    if getAstropyWcs is None:
        return None
    astropyWcs = getAstropyWcs()
    core = astropyWcs.wcs
    if tuple(core.ctype) not in _TAN_TYPES or core.get_pv() or core.lonpole != 180.0:
        # Other projections, PV distortions or a rotated native pole: no closed form here.
        return None
    sip = astropyWcs.sip
    if sip is not None and (tuple(sip.crpix) != tuple(core.crpix) or sip.a is None or sip.b is None):
        return None
    # The CD matrix as given: astropy's pixel_scale_matrix re-derives it (1e-14 off).
    matrix = core.cd if core.has_cd() else core.get_cdelt()[:, None] * core.get_pc()
    return _TanSip(
        core.crpix,
        matrix,
        core.crval,
        None if sip is None else np.array(sip.a),
        None if sip is None else np.array(sip.b),
    )


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
