"""Where a cutout is and how its sky axes run: box placement and local WCS.

Written against the afw API (``getWcs().pixelToSkyArray``), so the same code
serves real ``lsst.afw`` exposures and the package's model.
"""

from __future__ import annotations

__all__ = ["centeredBoxMin", "localTransformMatrices"]

import numpy as np

# Offset, in pixels, of the central differences that give the local WCS
# Jacobian; the projection is smooth on this scale, and a full pixel keeps
# the sky-position differences far above double-precision rounding.
_JACOBIAN_STEP = 1.0


def _gnomonic(ra, dec, ra0, dec0):
    """Project sky positions (radians) onto the tangent plane at (ra0, dec0).

    Returns standard coordinates (xi, eta) in degrees: the intermediate world
    coordinates a FITS TAN WCS with reference point (ra0, dec0) produces.
    """
    dra = ra - ra0
    cosDec = np.cos(dec)
    cosC = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * cosDec * np.cos(dra)
    xi = cosDec * np.sin(dra) / cosC
    eta = (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * cosDec * np.cos(dra)) / cosC
    return np.degrees(xi), np.degrees(eta)


def localTransformMatrices(wcs, x, y, ra, dec) -> np.ndarray:
    """Jacobians of pixel → local gnomonic frame, for many points at once.

    Parameters
    ----------
    wcs : `lsst.afw.geom.SkyWcs`
        WCS of the parent image.
    x, y : `numpy.ndarray`
        Pixel positions (afw convention) at which to evaluate, shape (n,).
    ra, dec : `numpy.ndarray`
        Tangent points, radians, shape (n,) (normally the sky positions of
        ``x, y``).

    Returns
    -------
    matrices : `numpy.ndarray`
        Shape (n, 2, 2): ``[[dxi/dx, dxi/dy], [deta/dx, deta/dy]]`` in
        degrees per pixel, i.e. the CD matrix of a TAN WCS tangent at
        (ra, dec) that matches ``wcs`` to first order there.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    h = _JACOBIAN_STEP
    px = np.concatenate([x + h, x - h, x, x])
    py = np.concatenate([y, y, y + h, y - h])
    # afw's SkyWcs (and the model's) evaluate whole arrays in one call.
    skyRa, skyDec = wcs.pixelToSkyArray(px, py, degrees=False)
    ra4 = np.tile(np.asarray(ra, dtype=float), 4)
    dec4 = np.tile(np.asarray(dec, dtype=float), 4)
    xi, eta = _gnomonic(skyRa, skyDec, ra4, dec4)
    xi = xi.reshape(4, n)
    eta = eta.reshape(4, n)
    matrices = np.empty((n, 2, 2))
    matrices[:, 0, 0] = (xi[0] - xi[1]) / (2 * h)
    matrices[:, 1, 0] = (eta[0] - eta[1]) / (2 * h)
    matrices[:, 0, 1] = (xi[2] - xi[3]) / (2 * h)
    matrices[:, 1, 1] = (eta[2] - eta[3]) / (2 * h)
    return matrices


def centeredBoxMin(x, y, width, height):
    """Lower-left pixel of ``Box2I.makeCenteredBox((x, y), (width, height))``, vectorised.

    lsst.geom shifts the centre by half the size, then by half a pixel for
    Box2I's inclusive-max convention, and rounds half up (Point2I(Point2D)).
    """
    minX = np.floor(np.asarray(x, dtype=float) - 0.5 * np.asarray(width) + 1.0).astype(np.int64)
    minY = np.floor(np.asarray(y, dtype=float) - 0.5 * np.asarray(height) + 1.0).astype(np.int64)
    return minX, minY


