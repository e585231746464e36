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

"""Point-spread functions of the image model, after ``lsst.afw.detection``.

A PSF is evaluated with ``computeKernelImage(position)``: an `ImageD` of
odd size, normalised to unit sum, centred on pixel ``(0, 0)`` (its ``xy0``
is ``(-width//2, -height//2)``).  ``computeImage(position)`` is the same
image recentred on ``position`` in parent pixels: afw's recipe is followed
(integer part by moving ``xy0`` to the nearest pixel, the fractional
residual in ``[-0.5, 0.5)`` by a normalised Lanczos-5 shift), so results
agree with afw to interpolation accuracy, not bit for bit.

Python subclasses of `Psf` override the same methods as Python subclasses
of afw's ``lsst.afw.detection.Psf`` (``_doComputeKernelImage``,
``_doComputeBBox``, ``__deepcopy__``, ...), so one PSF test double works
on both.  A PSF that cannot be evaluated at a position raises
`InvalidPsfError`, as afw's ``CoaddPsf`` does where it has no inputs;
`ValidBoxPsf` makes such a PSF for tests.
"""

from __future__ import annotations

__all__ = [
    "FixedKernel",
    "GaussianPsf",
    "ImagePsf",
    "KernelPsf",
    "Psf",
    "Quadrupole",
    "ValidBoxPsf",
]

import copy
import math

import numpy as np

from .. import geom
from ..exceptions import InvalidParameterError, InvalidPsfError
from .image import ImageD


class Quadrupole:
    """Second moments ``(ixx, iyy, ixy)`` of a PSF, after afw's ellipses."""

    def __init__(self, ixx: float, iyy: float, ixy: float = 0.0):
        self._ixx, self._iyy, self._ixy = float(ixx), float(iyy), float(ixy)

    def getIxx(self) -> float:
        return self._ixx

    def getIyy(self) -> float:
        return self._iyy

    def getIxy(self) -> float:
        return self._ixy

    def getDeterminant(self) -> float:
        return self._ixx * self._iyy - self._ixy * self._ixy

    def getDeterminantRadius(self) -> float:
        return self.getDeterminant() ** 0.25

    def getTraceRadius(self) -> float:
        return math.sqrt(0.5 * (self._ixx + self._iyy))

    def __eq__(self, other):
        if not isinstance(other, Quadrupole):
            return NotImplemented
        return (self._ixx, self._iyy, self._ixy) == (other._ixx, other._iyy, other._ixy)

    __hash__ = None

    def __repr__(self):
        return f"Quadrupole(ixx={self._ixx}, iyy={self._iyy}, ixy={self._ixy})"


def _lanczosWeights(shift: float, size: int, order: int = 5) -> np.ndarray:
    """``size x size`` matrix moving a 1-d signal by ``shift`` pixels:
    ``out[i] = sum_j W[i, j] in[j]`` with ``W[i, j] = L(i - j - shift)``,
    the Lanczos taps normalised to unit sum."""
    offsets = np.arange(-order, order + 1)
    taps = np.sinc(offsets - shift) * np.sinc((offsets - shift) / order)
    taps[np.abs(offsets - shift) >= order] = 0.0
    taps /= taps.sum()
    weights = np.zeros((size, size))
    for k, t in zip(offsets, taps, strict=True):
        # i - j == k
        weights += t * np.eye(size, k=-k)
    return weights


def _positionToIndex(value: float) -> tuple[int, float]:
    """afw's positionToIndex(..., true): nearest pixel and the residual."""
    index = math.floor(value + 0.5)
    return index, value - index


class Psf:
    """Base class of PSFs, with afw's Python override points.

    A Python subclass of afw's ``lsst.afw.detection.Psf`` must provide
    ``_doComputeKernelImage(position, color)``, ``_doComputeBBox(position,
    color)``, ``_doComputeShape``, ``_doComputeApertureFlux``, ``resized``
    and ``__deepcopy__`` (used by ``clone``), and may override
    ``getAveragePosition``, ``_doComputeImage`` and ``_doComputeImageBBox``.
    The same subclass works on this base: the methods afw leaves pure raise
    `NotImplementedError` (a `RuntimeError`, as afw's "pure virtual" error).

    Parameters
    ----------
    isFixed : `bool`, optional
        True if the PSF does not vary with position.
    capacity : `int`, optional
        Size of afw's kernel-image cache; kept for its accessors only (the
        model does not cache).
    """

    def __init__(self, isFixed: bool = False, capacity: int = 100):
        self._isFixed = bool(isFixed)
        self._capacity = int(capacity)

    # -- override points (afw's pure virtual methods raise if not overridden)
    def _pure(self, name):
        raise NotImplementedError(
            f'Tried to call pure virtual function "Psf::{name}" on {type(self).__name__}'
        )

    def _doComputeKernelImage(self, position, color=None) -> ImageD:
        self._pure("_doComputeKernelImage")

    def _doComputeBBox(self, position, color=None) -> geom.Box2I:
        self._pure("_doComputeBBox")

    def _doComputeShape(self, position, color=None) -> Quadrupole:
        self._pure("_doComputeShape")

    def _doComputeApertureFlux(self, radius, position, color=None) -> float:
        self._pure("_doComputeApertureFlux")

    def resized(self, width: int, height: int):
        self._pure("resized")

    def _doComputeImage(self, position, color=None) -> ImageD:
        """The kernel image recentred on ``position`` (afw's default)."""
        return self.recenterKernelImage(self._doComputeKernelImage(position, color), position)

    def _doComputeImageBBox(self, position, color=None) -> geom.Box2I:
        ix, _ = _positionToIndex(position.x)
        iy, _ = _positionToIndex(position.y)
        return self._doComputeBBox(position, color).shiftedBy(geom.Extent2I(ix, iy))

    # -- public API (position is required, as in afw)
    @staticmethod
    def _position(position):
        position = geom.Point2D(position)
        if not (math.isfinite(position.x) and math.isfinite(position.y)):
            raise InvalidParameterError(f"Cannot evaluate a PSF at non-finite position {position}")
        return position

    @staticmethod
    def recenterKernelImage(im, position, warpAlgorithm: str = "lanczos5", warpBuffer: int = 5) -> ImageD:
        """Shift a kernel image (centred on 0) to ``position``: the integer
        part by moving ``xy0``, the fraction in ``[-0.5, 0.5)`` by a
        normalised Lanczos-5 shift (afw's recipe; equal to interpolation
        accuracy, not bit for bit)."""
        if warpAlgorithm != "lanczos5":
            raise InvalidParameterError(f"The model only recentres with lanczos5, not {warpAlgorithm!r}")
        ix, dx = _positionToIndex(position.x)
        iy, dy = _positionToIndex(position.y)
        array = im.array
        if dx != 0.0 or dy != 0.0:
            array = (_lanczosWeights(dy, array.shape[0]) @ array) @ _lanczosWeights(dx, array.shape[1]).T
        else:
            array = array.copy()
        return ImageD(array, False, geom.Point2I(im.getX0() + ix, im.getY0() + iy))

    def computeKernelImage(self, position, color=None, owner=None) -> ImageD:
        """Unit-sum image of the PSF centred on pixel ``(0, 0)``."""
        return self._doComputeKernelImage(self._position(position), color).clone()

    def computeImage(self, position, color=None, owner=None) -> ImageD:
        """The PSF image centred on ``position`` (parent pixels)."""
        return self._doComputeImage(self._position(position), color)

    def computeBBox(self, position, color=None) -> geom.Box2I:
        """Bounding box of the kernel image (centred on 0)."""
        return self._doComputeBBox(self._position(position), color)

    computeKernelBBox = computeBBox

    def computeImageBBox(self, position, color=None) -> geom.Box2I:
        """Bounding box of `computeImage` at ``position``."""
        return self._doComputeImageBBox(self._position(position), color)

    def computePeak(self, position, color=None) -> float:
        image = self.computeKernelImage(position, color)
        return float(image.array[-image.getY0(), -image.getX0()])

    def computeShape(self, position, color=None) -> Quadrupole:
        return self._doComputeShape(self._position(position), color)

    def computeApertureFlux(self, radius: float, position, color=None) -> float:
        return self._doComputeApertureFlux(float(radius), self._position(position), color)

    def getAveragePosition(self) -> geom.Point2D:
        """Position at which the PSF is evaluated by default (afw: (0, 0))."""
        return geom.Point2D(0.0, 0.0)

    def getAverageColor(self):
        """afw returns a default ``Color``; the model has no colours."""
        return None

    def getCacheCapacity(self) -> int:
        return self._capacity

    def setCacheCapacity(self, capacity: int) -> None:
        self._capacity = int(capacity)

    def isFixed(self) -> bool:
        """Model-only (afw keeps it in C++)."""
        return self._isFixed

    def isPersistable(self) -> bool:
        return False

    def clone(self):
        """A deep copy, through ``__deepcopy__`` as afw's Python PSFs."""
        return copy.deepcopy(self)


class ImagePsf(Psf):
    """Base class of PSFs defined by images (afw's ``ImagePsf``): shape and
    aperture flux come from the kernel image."""

    def _doComputeShape(self, position, color=None) -> Quadrupole:
        image = self._doComputeKernelImage(position, color)
        array = image.array
        ys, xs = np.mgrid[
            image.getY0() : image.getY0() + image.getHeight(),
            image.getX0() : image.getX0() + image.getWidth(),
        ]
        total = array.sum()
        cx, cy = (xs * array).sum() / total, (ys * array).sum() / total
        return Quadrupole(
            ((xs - cx) ** 2 * array).sum() / total,
            ((ys - cy) ** 2 * array).sum() / total,
            ((xs - cx) * (ys - cy) * array).sum() / total,
        )

    def _doComputeApertureFlux(self, radius, position, color=None) -> float:
        image = self._doComputeKernelImage(position, color)
        ys, xs = np.mgrid[
            image.getY0() : image.getY0() + image.getHeight(),
            image.getX0() : image.getX0() + image.getWidth(),
        ]
        return float(image.array[xs * xs + ys * ys <= radius * radius].sum())

    def _doComputeBBox(self, position, color=None) -> geom.Box2I:
        return self._doComputeKernelImage(position, color).getBBox()


class GaussianPsf(ImagePsf):
    """Circular Gaussian PSF on an odd ``width x height`` stamp.

    Parameters
    ----------
    width, height : `int`
        Stamp dimensions (must be odd, as afw requires); or give an
        `Extent2I` as the first argument and ``sigma`` second.
    sigma : `float`
        Gaussian sigma in pixels.
    """

    def __init__(self, width, height=None, sigma=None):
        if isinstance(width, geom.Extent2I):
            width, height, sigma = width.getX(), width.getY(), height
        super().__init__(isFixed=True)
        self._dimensions = geom.Extent2I(int(width), int(height))
        self._sigma = float(sigma)
        if self._dimensions.getX() % 2 == 0 or self._dimensions.getY() % 2 == 0:
            raise InvalidParameterError("GaussianPsf dimensions must be odd")
        if not self._sigma > 0:
            raise InvalidParameterError(f"GaussianPsf sigma must be positive: {sigma}")

    def getSigma(self) -> float:
        return self._sigma

    def getDimensions(self) -> geom.Extent2I:
        return geom.Extent2I(self._dimensions)

    def _doComputeBBox(self, position, color=None) -> geom.Box2I:
        w, h = self._dimensions.getX(), self._dimensions.getY()
        return geom.Box2I(geom.Point2I(-(w // 2), -(h // 2)), geom.Extent2I(w, h))

    def _doComputeKernelImage(self, position, color=None) -> ImageD:
        # Position-independent: computed once (callers get clones).
        kernel = getattr(self, "_cachedKernel", None)
        if kernel is None:
            bbox = self._doComputeBBox(position)
            x = np.arange(bbox.getBeginX(), bbox.getEndX(), dtype=float)
            y = np.arange(bbox.getBeginY(), bbox.getEndY(), dtype=float)
            array = np.exp(-0.5 * (x[None, :] ** 2 + y[:, None] ** 2) / (self._sigma * self._sigma))
            # afw normalises by the sum taken row by row in order; numpy's
            # pairwise sum rounds differently, by an ulp of the kernel's pixels.
            array /= np.cumsum(array, axis=None)[-1]
            kernel = self._cachedKernel = ImageD(array, False, bbox.getMin())
        return kernel

    def _doComputeShape(self, position, color=None) -> Quadrupole:
        return Quadrupole(self._sigma**2, self._sigma**2, 0.0)

    def _doComputeApertureFlux(self, radius, position, color=None) -> float:
        return 1.0 - math.exp(-0.5 * radius * radius / (self._sigma * self._sigma))

    def resized(self, width: int, height: int) -> GaussianPsf:
        return GaussianPsf(width, height, self._sigma)

    def clone(self) -> GaussianPsf:
        return GaussianPsf(self._dimensions.getX(), self._dimensions.getY(), self._sigma)

    def isPersistable(self) -> bool:
        return True

    def __eq__(self, other):
        if not isinstance(other, GaussianPsf):
            return NotImplemented
        return self._dimensions == other._dimensions and self._sigma == other._sigma

    __hash__ = None

    def __reduce__(self):
        return (GaussianPsf, (self._dimensions.getX(), self._dimensions.getY(), self._sigma))

    def __repr__(self):
        return f"GaussianPsf({self._dimensions.getX()}, {self._dimensions.getY()}, {self._sigma})"


class FixedKernel:
    """A convolution kernel given by an image (afw's ``math.FixedKernel``).

    The kernel centre is pixel ``((width - 1) // 2, (height - 1) // 2)`` of
    the image, as in afw.
    """

    def __init__(self, image):
        array = image.array if hasattr(image, "array") else np.asarray(image)
        if array.ndim != 2:
            raise InvalidParameterError("FixedKernel needs a 2-d image")
        self._array = np.array(array, dtype=np.float64)

    def getWidth(self) -> int:
        return self._array.shape[1]

    def getHeight(self) -> int:
        return self._array.shape[0]

    def getDimensions(self) -> geom.Extent2I:
        return geom.Extent2I(self.getWidth(), self.getHeight())

    def getCtr(self) -> geom.Point2I:
        return geom.Point2I((self.getWidth() - 1) // 2, (self.getHeight() - 1) // 2)

    def getSum(self) -> float:
        return float(self._array.sum())

    def computeImage(self, doNormalize: bool = True) -> ImageD:
        array = self._array / self._array.sum() if doNormalize else self._array.copy()
        ctr = self.getCtr()
        return ImageD(array, False, geom.Point2I(-ctr.getX(), -ctr.getY()))

    def __reduce__(self):
        return (FixedKernel, (self._array,))


class KernelPsf(ImagePsf):
    """A spatially constant PSF from a fixed kernel image.

    Parameters
    ----------
    kernel : `FixedKernel`, `ImageD` or `numpy.ndarray`
        The PSF image; it is normalised to unit sum when evaluated.
    averagePosition : `lsst.geom.Point2D`, optional
        Value of `getAveragePosition`.
    """

    def __init__(self, kernel, averagePosition=None):
        super().__init__(isFixed=True)
        self._kernel = kernel if isinstance(kernel, FixedKernel) else FixedKernel(kernel)
        if self._kernel.getSum() == 0:
            raise InvalidParameterError("KernelPsf kernel sums to zero")
        self._averagePosition = (
            geom.Point2D(0.0, 0.0) if averagePosition is None else geom.Point2D(averagePosition)
        )

    def getKernel(self) -> FixedKernel:
        return self._kernel

    def getAveragePosition(self) -> geom.Point2D:
        return geom.Point2D(self._averagePosition)

    def _doComputeKernelImage(self, position, color=None) -> ImageD:
        return self._kernel.computeImage(True)

    def __reduce__(self):
        return (KernelPsf, (self._kernel, self._averagePosition))


class ValidBoxPsf(Psf):
    """Wrap a PSF so that it can only be evaluated inside ``validBox``.

    Outside the box every evaluation raises `InvalidPsfError`, as afw's
    ``CoaddPsf`` does at a point covered by no input image.  Intended for
    tests of PSF-failure handling.
    """

    def __init__(self, psf: Psf, validBox):
        super().__init__(isFixed=False)
        self._psf = psf
        self._validBox = validBox if isinstance(validBox, geom.Box2D) else geom.Box2D(validBox)

    def _check(self, position):
        if not self._validBox.contains(position):
            raise InvalidPsfError(f"Cannot compute PSF at point {position}; no input images at that point.")

    def getAveragePosition(self) -> geom.Point2D:
        return self._validBox.getCenter()

    def _doComputeKernelImage(self, position, color=None) -> ImageD:
        self._check(position)
        return self._psf._doComputeKernelImage(position, color)

    def _doComputeBBox(self, position, color=None) -> geom.Box2I:
        self._check(position)
        return self._psf._doComputeBBox(position, color)

    def _doComputeShape(self, position, color=None) -> Quadrupole:
        self._check(position)
        return self._psf._doComputeShape(position, color)

    def _doComputeApertureFlux(self, radius, position, color=None) -> float:
        self._check(position)
        return self._psf._doComputeApertureFlux(radius, position, color)
