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

"""Cutout pixels: cut from a parent exposure's arrays and calibrated to nJy.

Written against the afw API (``getBBox``, ``getMaskedImage``, ``.array``,
``getPlaneBitMask``), so the same code cuts real ``lsst.afw.image.ExposureF``
objects and the package's own model; `lsst.ap.alerts._afw` picks which.
"""

from __future__ import annotations

__all__ = ["ArrayCutter", "CutoutArrays", "calibrationScales"]

import dataclasses

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .geometry import centeredBoxMin


@dataclasses.dataclass
class CutoutArrays:
    """Pixels of one cutout, in the parent's units (not yet calibrated).

    Attributes
    ----------
    minX, minY : `int`
        Parent pixel of the cutout's first pixel (the box may leave the parent).
    image, variance : `numpy.ndarray`
        float32; off the parent the image is NaN and the variance +inf.
    mask : `numpy.ndarray`
        int32 afw mask planes; NO_DATA off the parent.
    """

    minX: int
    minY: int
    image: np.ndarray
    variance: np.ndarray
    mask: np.ndarray


class ArrayCutter:
    """Cut boxes out of one exposure's pixel arrays.

    Same pixels and padding as afw's ``Exposure.getCutout``: a NaN image,
    +inf variance and the NO_DATA mask bit where the box leaves the parent.
    Works on the arrays directly (fetched once) instead of building an
    Exposure per cutout.

    Parameters
    ----------
    masked : `lsst.afw.image.MaskedImage`
        Parent pixels (its bounding box in parent coordinates).
    """

    def __init__(self, masked):
        bbox = masked.getBBox()
        self._x0, self._y0 = bbox.getMinX(), bbox.getMinY()
        self._image = masked.image.array
        self._variance = masked.variance.array
        self._mask = masked.mask.array
        self._height, self._width = self._image.shape
        self._noData = masked.mask.getPlaneBitMask("NO_DATA")

    def cut(self, minX: int, minY: int, width: int, height: int, copy: bool = True) -> CutoutArrays:
        """Return the box with lower-left parent pixel (minX, minY) and the given size.

        With ``copy=False`` a box inside the parent comes back as views of
        the parent's arrays, for callers that only read them.
        """
        lx, ly = minX - self._x0, minY - self._y0
        x0, y0 = max(lx, 0), max(ly, 0)
        x1, y1 = min(lx + width, self._width), min(ly + height, self._height)
        if self.contains(minX, minY, width, height):
            # Fully inside, the common case.
            image = self._image[y0:y1, x0:x1]
            variance = self._variance[y0:y1, x0:x1]
            mask = self._mask[y0:y1, x0:x1]
            if copy:
                return CutoutArrays(minX, minY, image.copy(), variance.copy(), mask.astype(np.int32))
            return CutoutArrays(minX, minY, image, variance, mask)
        image = np.full((height, width), np.nan, dtype=np.float32)
        variance = np.full((height, width), np.inf, dtype=np.float32)
        mask = np.full((height, width), self._noData, dtype=np.int32)
        if x0 < x1 and y0 < y1:
            dst = (slice(y0 - ly, y1 - ly), slice(x0 - lx, x1 - lx))
            image[dst] = self._image[y0:y1, x0:x1]
            variance[dst] = self._variance[y0:y1, x0:x1]
            mask[dst] = self._mask[y0:y1, x0:x1]
        return CutoutArrays(minX, minY, image, variance, mask)

    def contains(self, minX: int, minY: int, width: int, height: int) -> bool:
        """Whether the box lies entirely on the parent."""
        lx, ly = minX - self._x0, minY - self._y0
        return lx >= 0 and ly >= 0 and lx + width <= self._width and ly + height <= self._height

    def cutMany(self, minX, minY, size: int, withMask: bool = True) -> tuple[np.ndarray, ...]:
        """Copies of many square boxes that lie on the parent, in one strided gather per array.

        Parameters
        ----------
        minX, minY : sequence of `int`
            Lower-left parent pixel of each box (each box must be `contains`-ed).
        size : `int`
            Side of the boxes.
        withMask : `bool`, optional
            Also cut the mask (else only image and variance are returned).

        Returns
        -------
        image, variance, mask : `numpy.ndarray`
            Shape (n, size, size), the parent's dtypes.
        """
        rows = np.asarray(minY) - self._y0
        columns = np.asarray(minX) - self._x0
        return tuple(
            sliding_window_view(array, (size, size))[rows, columns]
            for array in (self._image, self._variance, self._mask)[: 3 if withMask else 2]
        )

    def cutCentered(self, center, extent) -> CutoutArrays:
        """The box afw's ``getCutout(center, extent)`` would take."""
        width, height = extent.getX(), extent.getY()
        minX, minY = centeredBoxMin(center.getX(), center.getY(), width, height)
        return self.cut(int(minX), int(minY), width, height)


def calibrationScales(calibrationMean: float) -> tuple[np.float32, np.float32]:
    """The float32 factors a spatially constant ``PhotoCalib.calibrateImage`` applies.

    afw multiplies the float image by the float-cast mean, and the variance
    by the square of that float, computed in float (checked against afw:
    squaring the double mean first differs in the last bit for about one
    pixel in three).
    """
    scale = np.float32(calibrationMean)
    return scale, scale * scale
