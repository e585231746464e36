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

"""Sky geometry on numpy arrays: unit vectors, a TAN WCS, frames, the Sun.

Vectorised helpers the catalog simulation uses to place sources and
solar-system objects; no afw needed.
"""

from __future__ import annotations

__all__ = ["TanWcs"]

from collections.abc import Callable

import numpy as np

from .survey import PIXEL_SCALE


def unitVectors(ra, dec):
    """Unit vectors (..., 3) of (ra, dec) in degrees."""
    ra, dec = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def raDec(vectors):
    """(ra, dec) in degrees of (..., 3) vectors; ra in [0, 360)."""
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    return np.degrees(np.arctan2(y, x)) % 360.0, np.degrees(np.arctan2(z, np.hypot(x, y)))


def eastNorth(ra, dec):
    """Unit vectors pointing east and north at (ra, dec), degrees."""
    ra, dec = np.radians(ra), np.radians(dec)
    east = np.stack([-np.sin(ra), np.cos(ra), np.zeros_like(ra)], axis=-1)
    north = np.stack([-np.sin(dec) * np.cos(ra), -np.sin(dec) * np.sin(ra), np.cos(dec)], axis=-1)
    return east, north


class TanWcs:
    """Gnomonic (FITS TAN) pixel <-> sky mapping on numpy arrays.

    Parameters
    ----------
    crval : `tuple` [`float`, `float`]
        Sky position (ra, dec) of the reference pixel, degrees.
    crpix : `tuple` [`float`, `float`]
        Reference pixel, 0-based (LSST convention, as afw's ``makeSkyWcs``).
    cdMatrix : `numpy.ndarray`
        2x2 CD matrix, degrees per pixel (first row: along RA/east).
    """

    def __init__(self, crval, crpix, cdMatrix):
        self.crval = (float(crval[0]), float(crval[1]))
        self.crpix = (float(crpix[0]), float(crpix[1]))
        self.cdMatrix = np.asarray(cdMatrix, dtype=float).reshape(2, 2)
        self._cdInverse = np.linalg.inv(self.cdMatrix)
        east, north = eastNorth(*self.crval)
        self._frame = np.stack([east, north, unitVectors(*self.crval)])

    @classmethod
    def make(cls, crval, crpix, pixelScale=PIXEL_SCALE, rotAngle=0.0, flipX=True):
        """TAN WCS with north rotated ``rotAngle`` degrees from +y.

        ``flipX`` (default) puts east to -x, as on the sky seen from inside.
        """
        scale = pixelScale / 3600.0
        c, s = np.cos(np.radians(rotAngle)), np.sin(np.radians(rotAngle))
        cd = scale * np.array([[c, -s], [s, c]])
        if flipX:
            cd[0] = -cd[0]
        return cls(crval, crpix, cd)

    def pixelToSky(self, x, y):
        """Return (ra, dec), degrees, of pixel positions."""
        dx = np.stack([np.asarray(x, float) - self.crpix[0], np.asarray(y, float) - self.crpix[1]])
        xi, eta = np.radians(self.cdMatrix @ dx.reshape(2, -1))
        vectors = xi[:, None] * self._frame[0] + eta[:, None] * self._frame[1] + self._frame[2]
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ra, dec = raDec(vectors)
        return ra.reshape(np.shape(x)), dec.reshape(np.shape(x))

    def skyToPixel(self, ra, dec):
        """Return (x, y) pixel positions of sky positions in degrees."""
        vectors = unitVectors(np.asarray(ra, float), np.asarray(dec, float)).reshape(-1, 3)
        projected = vectors @ self._frame.T
        xi = np.degrees(projected[:, 0] / projected[:, 2])
        eta = np.degrees(projected[:, 1] / projected[:, 2])
        dx, dy = self._cdInverse @ np.stack([xi, eta])
        return (dx + self.crpix[0]).reshape(np.shape(ra)), (dy + self.crpix[1]).reshape(np.shape(ra))

    __call__ = skyToPixel


def skyToPixelFunction(wcs) -> Callable:
    """(ra, dec) -> (x, y) on arrays, from a callable or an afw-like SkyWcs."""
    if hasattr(wcs, "skyToPixelArray"):
        return lambda ra, dec: wcs.skyToPixelArray(
            np.asarray(ra, float), np.asarray(dec, float), degrees=True
        )
    if callable(wcs):
        return wcs
    raise TypeError(f"wcs must be callable (ra, dec) -> (x, y) or a SkyWcs, not {type(wcs)!r}")


def invertSkyToPixel(skyToPixel, x, y, raGuess, decGuess, iterations=8):
    """Sky positions of pixels, by Newton iterations on ``skyToPixel``."""
    ra = np.full(len(x), raGuess, dtype=float)
    dec = np.full(len(x), decGuess, dtype=float)
    step = 1e-5  # degrees: well within the WCS' linear regime
    for _ in range(iterations):
        x0, y0 = (np.asarray(v, float) for v in skyToPixel(ra, dec))
        xa, ya = (np.asarray(v, float) for v in skyToPixel(ra + step, dec))
        xd, yd = (np.asarray(v, float) for v in skyToPixel(ra, dec + step))
        j11, j21 = (xa - x0) / step, (ya - y0) / step
        j12, j22 = (xd - x0) / step, (yd - y0) / step
        det = j11 * j22 - j12 * j21
        ex, ey = x - x0, y - y0
        ra = ra + (j22 * ex - j12 * ey) / det
        dec = dec + (-j21 * ex + j11 * ey) / det
        if np.max(np.hypot(ex, ey), initial=0.0) < 1e-6:
            break
    return ra % 360.0, dec


_OBLIQUITY = np.radians(23.4393)
# ICRS -> Galactic rotation (Hipparcos / IAU definition).
ICRS_TO_GAL = np.array(
    [
        [-0.0548755604162154, -0.8734370902348850, -0.4838350155487132],
        [+0.4941094278755837, -0.4448296299600112, +0.7469822444972189],
        [-0.8676661490190047, -0.1980763734312015, +0.4559837761750669],
    ]
)


def equatorialToEcliptic(vectors):
    """Rotate equatorial (ICRS) vectors to ecliptic ones."""
    c, s = np.cos(_OBLIQUITY), np.sin(_OBLIQUITY)
    return vectors @ np.array([[1, 0, 0], [0, c, s], [0, -s, c]]).T


def eclipticToEquatorial(vectors):
    """Rotate ecliptic vectors to equatorial (ICRS) ones."""
    c, s = np.cos(_OBLIQUITY), np.sin(_OBLIQUITY)
    return vectors @ np.array([[1, 0, 0], [0, c, -s], [0, s, c]]).T


def sunGeocentric(mjd: float) -> np.ndarray:
    """Geocentric position of the Sun (AU, equatorial), low-precision almanac.

    In the equinox of date; the simulation uses it as ICRS (0.36 degrees
    off by 2026, through precession), which is close enough for plausible
    elongations and phase angles.
    """
    d = mjd - 51544.5
    g = np.radians(357.528 + 0.9856003 * d)
    lam = np.radians(280.460 + 0.9856474 * d + 1.915 * np.sin(g) + 0.020 * np.sin(2 * g))
    r = 1.00014 - 0.01671 * np.cos(g) - 0.00014 * np.cos(2 * g)
    return eclipticToEquatorial(np.array([r * np.cos(lam), r * np.sin(lam), 0.0]))
