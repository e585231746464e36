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

"""Pixel containers of the image model: `ImageF`/`ImageD`/`ImageI`/`ImageU`,
`Mask` and `MaskedImageF`.

Conventions are afw's: arrays are indexed ``[y, x]`` with shape
``(height, width)``; ``xy0`` is the parent position of pixel ``[0, 0]``;
pixel access and boxes are in PARENT coordinates unless ``LOCAL`` is given;
sub-images made with ``image[bbox]`` share pixels with their parent.
"""

from __future__ import annotations

__all__ = [
    "LOCAL",
    "PARENT",
    "Image",
    "ImageD",
    "ImageF",
    "ImageI",
    "ImageL",
    "ImageOrigin",
    "ImageU",
    "Mask",
    "MaskPixel",
    "MaskX",
    "MaskedImage",
    "MaskedImageD",
    "MaskedImageF",
    "VariancePixel",
    "makeMaskedImage",
]

import enum
import numbers

import numpy as np

from .. import geom
from ..exceptions import InvalidParameterError, LengthError, NotFoundError

MaskPixel = np.int32
VariancePixel = np.float32


class ImageOrigin(enum.Enum):
    """Coordinate system of a box or position given to an image."""

    PARENT = 0
    LOCAL = 1


PARENT = ImageOrigin.PARENT
LOCAL = ImageOrigin.LOCAL


def _dimsFromArgs(args, kwargs):
    """Parse the (width, height) / Extent2I / Box2I constructor forms.

    Returns ``(width, height, xy0, rest)`` or `None` if not matched.
    """
    if "bbox" in kwargs:
        bbox = kwargs.pop("bbox")
        return bbox.getWidth(), bbox.getHeight(), bbox.getMin(), args
    if "dimensions" in kwargs:
        dims = kwargs.pop("dimensions")
        return int(dims[0]), int(dims[1]), geom.Point2I(0, 0), args
    if not args:
        return 0, 0, geom.Point2I(0, 0), ()
    first = args[0]
    if isinstance(first, geom.Box2I):
        return first.getWidth(), first.getHeight(), first.getMin(), args[1:]
    if isinstance(first, geom.Extent2I):
        return first.getX(), first.getY(), geom.Point2I(0, 0), args[1:]
    if isinstance(first, numbers.Integral) and len(args) >= 2 and isinstance(args[1], numbers.Integral):
        return int(first), int(args[1]), geom.Point2I(0, 0), args[2:]
    return None


def _subBox(bbox: geom.Box2I, parentBBox: geom.Box2I, origin: ImageOrigin) -> geom.Box2I:
    """Return ``bbox`` in parent coordinates, checking it fits the parent."""
    if origin == LOCAL:
        bbox = bbox.shiftedBy(geom.Extent2I(parentBBox.getMinX(), parentBBox.getMinY()))
    if not parentBBox.contains(bbox):
        raise LengthError(f"Box2I {bbox} does not fit in image with bbox {parentBBox}")
    return bbox


def _keyToBox(key, parentBBox):
    """Translate an ``image[key]`` subscript into a parent-coordinate box,
    or return `None` if it addresses a single pixel."""
    origin = PARENT
    if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], ImageOrigin):
        key, origin = key
    if isinstance(key, geom.Box2I):
        return _subBox(key, parentBBox, origin)
    if isinstance(key, tuple) and len(key) >= 2 and isinstance(key[0], slice):
        xs, ys = key[0], key[1]
        if len(key) == 3:
            origin = key[2]
        offset = (0, 0) if origin == LOCAL else (parentBBox.getMinX(), parentBBox.getMinY())
        begin = [parentBBox.getBeginX(), parentBBox.getBeginY()]
        end = [parentBBox.getEndX(), parentBBox.getEndY()]
        for n, sl in enumerate((xs, ys)):
            if sl.step not in (None, 1):
                raise InvalidParameterError("Image slices must have unit step")
            if sl.start is not None:
                begin[n] = sl.start + (offset[n] if origin == LOCAL else 0)
            if sl.stop is not None:
                end[n] = sl.stop + (offset[n] if origin == LOCAL else 0)
        box = geom.Box2I(
            geom.Point2I(begin[0], begin[1]), geom.Extent2I(end[0] - begin[0], end[1] - begin[1])
        )
        return _subBox(box, parentBBox, PARENT)
    return None


def _keyToIndex(key, parentBBox):
    """Translate a single-pixel subscript into array indices ``(iy, ix)``."""
    origin = PARENT
    if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], ImageOrigin):
        key, origin = key
    if isinstance(key, tuple) and len(key) == 3:
        key, origin = key[:2], key[2]
    x, y = int(key[0]), int(key[1])
    if origin == PARENT:
        x -= parentBBox.getMinX()
        y -= parentBBox.getMinY()
    if not (0 <= x < parentBBox.getWidth() and 0 <= y < parentBBox.getHeight()):
        raise LengthError(f"Pixel {key} is outside image with bbox {parentBBox}")
    return y, x


class Image:
    """A 2-d pixel array with an ``xy0`` offset, like ``lsst.afw.image.Image``.

    Parameters
    ----------
    *args
        ``(width, height[, initialValue])``, ``(Extent2I[, initialValue])``,
        ``(Box2I[, initialValue])``, ``(array, deep=False, xy0=None)`` or
        ``(Image, deep=False)`` / ``(Image, Box2I, origin=PARENT, deep=False)``.
    dtype : `numpy.dtype`, optional
        Pixel type; fixed for the typed subclasses (`ImageF`, ...).
    """

    dtype = None

    def __init__(self, *args, dtype=None, **kwargs):
        self._dtype = np.dtype(self.dtype if self.dtype is not None else (dtype or np.float32))
        parsed = _dimsFromArgs(args, kwargs)
        if parsed is not None:
            width, height, xy0, rest = parsed
            initial = rest[0] if rest else kwargs.pop("initialValue", 0)
            self._array = np.full((height, width), initial, dtype=self._dtype)
            self._xy0 = geom.Point2I(xy0)
            return
        first = args[0]
        if isinstance(first, Image):
            bbox = args[1] if len(args) > 1 and isinstance(args[1], geom.Box2I) else kwargs.get("bbox")
            origin = args[2] if len(args) > 2 else kwargs.get("origin", PARENT)
            deep = args[3] if len(args) > 3 else kwargs.get("deep", False)
            if bbox is None:
                deep = args[1] if len(args) > 1 else kwargs.get("deep", False)
                bbox, origin = first.getBBox(), PARENT
            view = first._view(_subBox(bbox, first.getBBox(), origin))
            self._array = view.astype(self._dtype, copy=True) if (deep or view.dtype != self._dtype) else view
            self._xy0 = (
                bbox if origin == PARENT else bbox.shiftedBy(geom.Extent2I(first.getX0(), first.getY0()))
            ).getMin()
            return
        if isinstance(first, str):
            other = type(self).readFits(first)
            self._array, self._xy0 = other._array, other._xy0
            return
        array = np.asarray(first)
        if array.ndim != 2:
            raise InvalidParameterError("Image arrays must be 2-d")
        deep = args[1] if len(args) > 1 else kwargs.get("deep", False)
        xy0 = args[2] if len(args) > 2 else kwargs.get("xy0")
        if deep or array.dtype != self._dtype:
            array = np.array(array, dtype=self._dtype)
        self._array = array
        self._xy0 = geom.Point2I(0, 0) if xy0 is None else geom.Point2I(xy0)

    # -- geometry
    def getArray(self) -> np.ndarray:
        return self._array

    def _setArray(self, value):
        self._array[...] = value

    array = property(getArray, _setArray)

    def getWidth(self) -> int:
        return self._array.shape[1]

    def getHeight(self) -> int:
        return self._array.shape[0]

    def getDimensions(self) -> geom.Extent2I:
        return geom.Extent2I(self.getWidth(), self.getHeight())

    def getX0(self) -> int:
        return self._xy0.getX()

    def getY0(self) -> int:
        return self._xy0.getY()

    def getXY0(self) -> geom.Point2I:
        return geom.Point2I(self._xy0)

    def setXY0(self, xy0, y0=None) -> None:
        self._xy0 = geom.Point2I(xy0, y0) if y0 is not None else geom.Point2I(xy0)

    def getBBox(self, origin: ImageOrigin = PARENT) -> geom.Box2I:
        corner = self._xy0 if origin == PARENT else geom.Point2I(0, 0)
        return geom.Box2I(corner, self.getDimensions())

    def indexToPosition(self, index: int, xOrY: int) -> float:
        return float(index + (self.getX0() if xOrY == 0 else self.getY0()))

    width = property(getWidth)
    height = property(getHeight)
    dimensions = property(getDimensions)
    x0 = property(getX0)
    y0 = property(getY0)
    bbox = property(getBBox)

    def _view(self, parentBox: geom.Box2I) -> np.ndarray:
        x0, y0 = parentBox.getMinX() - self.getX0(), parentBox.getMinY() - self.getY0()
        return self._array[y0 : y0 + parentBox.getHeight(), x0 : x0 + parentBox.getWidth()]

    # -- copies and sub-images
    def clone(self):
        return (
            type(self)(self._array, True, self.getXY0())
            if self.dtype
            else Image(self._array, True, self.getXY0(), dtype=self._dtype)
        )

    def subset(self, bbox: geom.Box2I, origin: ImageOrigin = PARENT):
        return (
            type(self)(self, bbox, origin, False)
            if self.dtype
            else Image(self, bbox, origin, False, dtype=self._dtype)
        )

    def __getitem__(self, key):
        box = _keyToBox(key, self.getBBox())
        if box is not None:
            return self.subset(box)
        return self._array[_keyToIndex(key, self.getBBox())]

    def __setitem__(self, key, value):
        box = _keyToBox(key, self.getBBox())
        if box is not None:
            self._view(box)[...] = value.array if isinstance(value, Image) else value
            return
        self._array[_keyToIndex(key, self.getBBox())] = value

    def set(self, value) -> None:
        self._array[...] = value

    def get(self, x, y, origin: ImageOrigin = LOCAL):
        return self[x, y, origin]

    def assign(self, rhs, bbox=None, origin: ImageOrigin = PARENT) -> None:
        """Copy the pixels of ``rhs`` into ``bbox`` (default: whole image)."""
        box = self.getBBox() if bbox is None else _subBox(bbox, self.getBBox(), origin)
        self._view(box)[...] = rhs.array

    # -- in-place arithmetic with scalars or same-shape images
    @staticmethod
    def _operand(other):
        return other.array if isinstance(other, Image) else other

    def __iadd__(self, other):
        self._array += self._operand(other)
        return self

    def __isub__(self, other):
        self._array -= self._operand(other)
        return self

    def __imul__(self, other):
        self._array *= self._operand(other)
        return self

    def __itruediv__(self, other):
        self._array /= self._operand(other)
        return self

    def __eq__(self, other):
        return NotImplemented

    __hash__ = object.__hash__

    def __reduce__(self):
        return (_rebuildImage, (type(self), self._array, (self.getX0(), self.getY0()), self._dtype.str))

    def __repr__(self):
        return f"{type(self).__name__}(bbox={self.getBBox()!r})"

    # readFits/writeFits are added by `lsst.ap.alerts.afwModel.fits`, as afw adds Python methods to
    # its wrapped classes, so that this module does not import the reader.


def _rebuildImage(cls, array, xy0, dtype):
    if cls.dtype is None:
        return cls(array, False, geom.Point2I(*xy0), dtype=np.dtype(dtype))
    return cls(array, False, geom.Point2I(*xy0))


class ImageF(Image):
    """Single-precision image."""

    dtype = np.float32


class ImageD(Image):
    """Double-precision image (PSF images)."""

    dtype = np.float64


class ImageI(Image):
    """32-bit integer image."""

    dtype = np.int32


class ImageU(Image):
    """16-bit unsigned integer image."""

    dtype = np.uint16


class ImageL(Image):
    """64-bit integer image."""

    dtype = np.int64


# ----------------------------------------------------------------- masks

# afw's default mask planes and their bits (afw/image/detail/MaskDict.cc at
# the afw version the package is tested with: NO_DATA 8, then VIGNETTED and
# STREAK).
_DEFAULT_PLANES = {
    "BAD": 0,
    "SAT": 1,
    "INTRP": 2,
    "CR": 3,
    "EDGE": 4,
    "DETECTED": 5,
    "DETECTED_NEGATIVE": 6,
    "SUSPECT": 7,
    "NO_DATA": 8,
    "VIGNETTED": 9,
    "STREAK": 10,
}

# The process-wide list of plane names, as afw keeps it: a plane's bit is its
# index here, so a name means the same bit in every mask of the process, and
# a new name always gets the next bit (afw's "canonical planes").
_canonicalPlanes = list(_DEFAULT_PLANES)


def _canonicalBit(name: str) -> int:
    """Bit of ``name`` in the process-wide plane list (appended if new)."""
    if name not in _canonicalPlanes:
        _canonicalPlanes.append(name)
    return _canonicalPlanes.index(name)


class _MaskDict:
    """A mapping of mask plane names to bits, shared by masks like afw's
    MaskDict (masks made from the same dictionary see added planes)."""

    MAX_PLANES = 32

    def __init__(self, planes=None):
        self.planes = dict(_DEFAULT_PLANES if planes is None else planes)

    def add(self, name: str) -> int:
        if name in self.planes:
            return self.planes[name]
        bit = _canonicalBit(name)
        if bit >= self.MAX_PLANES:
            raise InvalidParameterError(
                f"Max number of planes ({self.MAX_PLANES}) already used when trying to add {name!r}"
            )
        self.planes[name] = bit
        return bit

    def bit(self, name: str) -> int:
        if name not in self.planes:
            raise InvalidParameterError(f"Invalid mask plane name: {name}")
        return self.planes[name]

    def bitMask(self, names) -> int:
        if isinstance(names, str):
            names = [names]
        value = 0
        for name in names:
            value |= 1 << self.bit(name)
        return value

    def remove(self, name: str) -> None:
        if name not in self.planes:
            raise NotFoundError(f"No mask plane {name!r}")
        del self.planes[name]


_defaultMaskDict = _MaskDict()


def _conformMaskPlanes(array: np.ndarray, filePlanes: dict) -> np.ndarray:
    """Renumber mask pixels from a file's planes onto the process-wide ones,
    as afw does when it reads a mask.

    Planes new to the process are added to the default dictionary in name
    order (their bits follow the process-wide plane list).  If every plane
    of the file already has its bit, the pixels are returned unchanged;
    otherwise each named plane is moved to its bit and bits the file does
    not name are dropped.

    Parameters
    ----------
    array : `numpy.ndarray`
        Mask pixels as stored in the file.
    filePlanes : `dict` [`str`, `int`]
        The file's ``MP_*`` planes (name to bit); empty means the default.

    Returns
    -------
    pixels : `numpy.ndarray`
        ``int32`` pixels in the process-wide numbering.
    """
    array = np.asarray(array, dtype=MaskPixel)
    target = {name: _defaultMaskDict.add(name) for name in sorted(filePlanes)}
    if all(target[name] == bit for name, bit in filePlanes.items()):
        return array
    result = np.zeros_like(array)
    for name, bit in filePlanes.items():
        result |= ((array >> bit) & 1) << target[name]
    return result


class _hybridmethod:
    """Descriptor for afw's static mask-plane methods, which the model also
    allows on instances (then using that mask's own plane dictionary)."""

    def __init__(self, func):
        self.func = func
        self.__doc__ = func.__doc__

    def __get__(self, obj, objtype=None):
        target = obj if obj is not None else objtype

        def bound(*args, **kwargs):
            return self.func(target, *args, **kwargs)

        bound.__doc__ = self.func.__doc__
        return bound


def _maskDictOf(target) -> _MaskDict:
    return target._maskDict if isinstance(target, Mask) else _defaultMaskDict


class Mask(ImageI):
    """A bit-mask image (``int32`` pixels) with named planes.

    The plane dictionary starts as afw's defaults (BAD=0, SAT=1, INTRP=2,
    CR=3, EDGE=4, DETECTED=5, DETECTED_NEGATIVE=6, SUSPECT=7, NO_DATA=8,
    VIGNETTED=9, STREAK=10); ``Mask.addMaskPlane`` on the class extends the
    default dictionary that new masks share, and a new plane's bit is the
    next one of the process-wide plane list, as in afw.
    """

    dtype = np.int32

    def __init__(self, *args, planeDict=None, **kwargs):
        if args and isinstance(args[0], Mask):
            planeDict = args[0]._maskDict if planeDict is None else planeDict
        super().__init__(*args, **kwargs)
        if isinstance(planeDict, _MaskDict):
            self._maskDict = planeDict
        elif planeDict is not None:
            self._maskDict = _MaskDict(planeDict)
        else:
            self._maskDict = _defaultMaskDict

    def clone(self):
        return Mask(self._array, True, self.getXY0(), planeDict=_MaskDict(self._maskDict.planes))

    def subset(self, bbox, origin: ImageOrigin = PARENT):
        return Mask(self, bbox, origin, False)

    def __reduce__(self):
        return (_rebuildMask, (self._array, (self.getX0(), self.getY0()), dict(self._maskDict.planes)))

    @_hybridmethod
    def getPlaneBitMask(target, names) -> int:
        """Return the bit mask of one plane name or an iterable of names."""
        return _maskDictOf(target).bitMask(names)

    @_hybridmethod
    def getMaskPlane(target, name: str) -> int:
        """Return the bit number of a plane."""
        return _maskDictOf(target).bit(name)

    @_hybridmethod
    def addMaskPlane(target, name: str) -> int:
        """Add a plane (if new) and return its bit number."""
        return _maskDictOf(target).add(name)

    @_hybridmethod
    def getMaskPlaneDict(target) -> dict:
        """Return a copy of the plane name to bit number mapping."""
        return dict(_maskDictOf(target).planes)

    @_hybridmethod
    def getNumPlanesUsed(target) -> int:
        return len(_maskDictOf(target).planes)

    @staticmethod
    def getNumPlanesMax() -> int:
        return _MaskDict.MAX_PLANES

    @_hybridmethod
    def removeMaskPlane(target, name: str) -> None:
        _maskDictOf(target).remove(name)

    def removeAndClearMaskPlane(self, name: str, removeFromDefault: bool = False) -> None:
        self.clearMaskPlane(self.getMaskPlane(name))
        # A copy first: this mask's dictionary may be the default one itself.
        own = _MaskDict(self._maskDict.planes)
        del own.planes[name]
        if removeFromDefault and name in _defaultMaskDict.planes:
            del _defaultMaskDict.planes[name]
        self._maskDict = own

    def clearMaskPlane(self, plane: int) -> None:
        self._array &= ~np.int32(1 << plane) if plane < 31 else np.int32(0x7FFFFFFF)

    def clearAllMaskPlanes(self) -> None:
        self._array[...] = 0

    def interpret(self, value: int) -> str:
        """Return the comma-separated names of the planes set in ``value``,
        in name order (as afw: its plane dictionary is sorted by name)."""
        return ",".join(sorted(name for name, bit in self._maskDict.planes.items() if value & (1 << bit)))

    def __ior__(self, other):
        self._array |= other.array if isinstance(other, Image) else np.int32(other)
        return self

    def __iand__(self, other):
        self._array &= other.array if isinstance(other, Image) else np.int32(other)
        return self


def _rebuildMask(array, xy0, planes):
    return Mask(array, False, geom.Point2I(*xy0), planeDict=planes)


MaskX = Mask


# ---------------------------------------------------------- masked image


class MaskedImage:
    """An image with its mask and variance, like afw's MaskedImage.

    Parameters
    ----------
    *args
        ``(width, height)``, ``(Extent2I)``, ``(Box2I)``,
        ``(image, mask=None, variance=None)`` or
        ``(MaskedImage, Box2I, origin=PARENT, deep=False)``.
    """

    ImageClass = ImageF

    def __init__(self, *args, mask=None, variance=None, dtype=None, planeDict=None, **kwargs):
        if args and isinstance(args[0], str):
            other = type(self).readFits(args[0])
            self._image, self._mask, self._variance = other._image, other._mask, other._variance
            return
        if args and isinstance(args[0], MaskedImage):
            other = args[0]
            bbox = args[1] if len(args) > 1 and isinstance(args[1], geom.Box2I) else kwargs.get("bbox")
            origin = args[2] if len(args) > 2 else kwargs.get("origin", PARENT)
            deep = (
                args[3]
                if len(args) > 3
                else kwargs.get("deep", args[1] if len(args) == 2 and isinstance(args[1], bool) else False)
            )
            if bbox is None:
                bbox, origin = other.getBBox(), PARENT
            self._image = self.ImageClass(other._image, bbox, origin, deep)
            self._mask = Mask(other._mask, bbox, origin, deep)
            if deep:
                self._mask._maskDict = _MaskDict(other._mask._maskDict.planes)
            self._variance = ImageF(other._variance, bbox, origin, deep)
            return
        if args and isinstance(args[0], Image) or "image" in kwargs:
            image = args[0] if args else kwargs.pop("image")
            mask = args[1] if len(args) > 1 else mask
            variance = args[2] if len(args) > 2 else variance
            self._image = (
                image
                if isinstance(image, self.ImageClass)
                else self.ImageClass(image.array, True, image.getXY0())
            )
            bbox = self._image.getBBox()
            self._mask = mask if mask is not None else Mask(bbox, planeDict=planeDict)
            self._variance = variance if variance is not None else ImageF(bbox)
            self._checkDims()
            return
        parsed = _dimsFromArgs(args, kwargs)
        if parsed is None:
            raise TypeError(f"Cannot make a MaskedImage from {args!r}")
        width, height, xy0, _ = parsed
        bbox = geom.Box2I(geom.Point2I(xy0), geom.Extent2I(width, height))
        self._image = self.ImageClass(bbox)
        self._mask = Mask(bbox, planeDict=planeDict)
        self._variance = ImageF(bbox)

    def _checkDims(self):
        dims = self._image.getDimensions()
        if self._mask.getDimensions() != dims or self._variance.getDimensions() != dims:
            raise LengthError("Image, mask and variance dimensions differ")
        # like afw, the planes follow the image's xy0
        self._mask.setXY0(self._image.getXY0())
        self._variance.setXY0(self._image.getXY0())

    # -- planes
    def getImage(self):
        return self._image

    def getMask(self) -> Mask:
        return self._mask

    def getVariance(self) -> ImageF:
        return self._variance

    def setImage(self, image):
        self._image.array = image.array

    def setMask(self, mask):
        self._mask.array = mask.array

    def setVariance(self, variance):
        self._variance.array = variance.array

    image = property(getImage, setImage)
    mask = property(getMask, setMask)
    variance = property(getVariance, setVariance)

    # -- geometry
    def getBBox(self, origin: ImageOrigin = PARENT) -> geom.Box2I:
        return self._image.getBBox(origin)

    def getDimensions(self) -> geom.Extent2I:
        return self._image.getDimensions()

    def getWidth(self) -> int:
        return self._image.getWidth()

    def getHeight(self) -> int:
        return self._image.getHeight()

    def getX0(self) -> int:
        return self._image.getX0()

    def getY0(self) -> int:
        return self._image.getY0()

    def getXY0(self) -> geom.Point2I:
        return self._image.getXY0()

    def setXY0(self, xy0, y0=None) -> None:
        for plane in (self._image, self._mask, self._variance):
            plane.setXY0(xy0, y0)

    width = property(getWidth)
    height = property(getHeight)
    dimensions = property(getDimensions)
    x0 = property(getX0)
    y0 = property(getY0)
    bbox = property(getBBox)

    # -- copies and sub-images
    def clone(self):
        return type(self)(self, self.getBBox(), PARENT, True)

    def subset(self, bbox: geom.Box2I, origin: ImageOrigin = PARENT):
        return type(self)(self, bbox, origin, False)

    def __getitem__(self, key):
        box = _keyToBox(key, self.getBBox())
        if box is not None:
            return self.subset(box)
        index = _keyToIndex(key, self.getBBox())
        return (self._image.array[index], self._mask.array[index], self._variance.array[index])

    def __setitem__(self, key, value):
        box = _keyToBox(key, self.getBBox())
        if box is not None:
            target = self.subset(box)
            if isinstance(value, MaskedImage):
                target.assign(value)
            else:
                target.set(value)
            return
        index = _keyToIndex(key, self.getBBox())
        self._image.array[index], self._mask.array[index], self._variance.array[index] = value

    def set(self, value) -> None:
        """Set every pixel to ``value`` (a scalar image value or a
        ``(image, mask, variance)`` triple)."""
        if isinstance(value, tuple):
            self._image.set(value[0])
            self._mask.set(value[1])
            self._variance.set(value[2])
        else:
            self._image.set(value)

    def assign(self, rhs, bbox=None, origin: ImageOrigin = PARENT) -> None:
        target = self if bbox is None else self.subset(bbox, origin)
        target._image.array[...] = rhs.image.array
        target._mask.array[...] = rhs.mask.array
        target._variance.array[...] = rhs.variance.array

    # -- arithmetic, with afw's variance propagation
    def __iadd__(self, other):
        if isinstance(other, MaskedImage):
            self._image.array += other.image.array
            self._mask.array |= other.mask.array
            self._variance.array += other.variance.array
        else:
            self._image += other
        return self

    def __isub__(self, other):
        if isinstance(other, MaskedImage):
            self._image.array -= other.image.array
            self._mask.array |= other.mask.array
            self._variance.array += other.variance.array
        else:
            self._image -= other
        return self

    def __imul__(self, other):
        if isinstance(other, numbers.Real):
            self._image.array *= other
            self._variance.array *= other * other
            return self
        return NotImplemented

    def __itruediv__(self, other):
        if isinstance(other, numbers.Real):
            self._image.array /= other
            self._variance.array /= other * other
            return self
        return NotImplemented

    __hash__ = object.__hash__

    def __reduce__(self):
        return (type(self), (self._image, self._mask, self._variance))

    def __repr__(self):
        return f"{type(self).__name__}(bbox={self.getBBox()!r})"

    # readFits/writeFits: see `lsst.ap.alerts.afwModel.fits` (an exposure file without components).


class MaskedImageF(MaskedImage):
    """Masked image with single-precision pixels."""

    ImageClass = ImageF


class MaskedImageD(MaskedImage):
    """Masked image with double-precision pixels."""

    ImageClass = ImageD


def makeMaskedImage(image, mask=None, variance=None):
    """Make a `MaskedImage` of the type matching ``image``."""
    cls = MaskedImageD if isinstance(image, ImageD) else MaskedImageF
    return cls(image, mask, variance)
