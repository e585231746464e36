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

"""2-d points and extents, as ``lsst.geom`` has them (integer and floating point)."""

from __future__ import annotations

__all__ = ["Extent2D", "Extent2I", "ExtentBase", "Point2D", "Point2I", "PointBase"]

import math
import numbers
import operator

import numpy as np


class _Pair:
    """Shared code of the 2-d point and extent types."""

    __slots__ = ("_x", "_y")
    _isInt = False

    def __init__(self, x=0, y=None):
        if y is None:
            if isinstance(x, _Pair) or (isinstance(x, (tuple, list, np.ndarray)) and len(x) == 2):
                x, y = x[0], x[1]
            else:
                y = x  # lsst.geom fills every element with a single value
        if self._isInt:
            if isinstance(x, (float, np.floating)) or isinstance(y, (float, np.floating)):
                # lsst.geom rounds half up when converting double to int
                x, y = math.floor(x + 0.5), math.floor(y + 0.5)
            self._x, self._y = int(x), int(y)
        else:
            self._x, self._y = float(x), float(y)

    def getX(self):
        return self._x

    def getY(self):
        return self._y

    def setX(self, x):
        self._x = type(self._x)(x)

    def setY(self, y):
        self._y = type(self._y)(y)

    x = property(getX, setX)
    y = property(getY, setY)

    def __getitem__(self, i):
        return (self._x, self._y)[i]

    def __setitem__(self, i, value):
        if i in (0, -2):
            self.setX(value)
        elif i in (1, -1):
            self.setY(value)
        else:
            raise IndexError(i)

    def __len__(self):
        return 2

    def __iter__(self):
        yield self._x
        yield self._y

    # point + extent, point - point, ...: see _combine
    def __add__(self, other):
        return _combine(self, other, _SUM_KINDS, operator.add)

    def __sub__(self, other):
        return _combine(self, other, _DIFFERENCE_KINDS, operator.sub)

    def __eq__(self, other):
        if isinstance(other, _Pair):
            return type(self)._kind == type(other)._kind and self._x == other._x and self._y == other._y
        return NotImplemented

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self):
        return hash((type(self).__name__, self._x, self._y))

    def __array__(self, dtype=None, copy=None):
        return np.array([self._x, self._y], dtype=dtype)

    def __reduce__(self):
        return (type(self), (self._x, self._y))

    def __repr__(self):
        return f"{type(self).__name__}({self._x!r}, {self._y!r})"

    def __str__(self):
        return f"({self._x}, {self._y})"


# lsst.geom's point/extent algebra: the kind of ``a + b`` and ``a - b`` by
# the kinds of ``a`` and ``b``. Other pairs (point + point, extent - point)
# are undefined; a result is integer only if both operands are.
_SUM_KINDS = {("point", "extent"): "point", ("extent", "point"): "point", ("extent", "extent"): "extent"}
_DIFFERENCE_KINDS = {
    ("point", "point"): "extent",
    ("point", "extent"): "point",
    ("extent", "extent"): "extent",
}


def _combine(a, b, kinds, op):
    """Apply ``op`` to the coordinates of ``a`` and ``b``, returning the type
    ``kinds`` gives, or `NotImplemented` if the combination is undefined."""
    kind = kinds.get((a._kind, b._kind)) if isinstance(b, _Pair) else None
    if kind is None:
        return NotImplemented
    isInt = a._isInt and b._isInt
    if kind == "point":
        resultType = Point2I if isInt else Point2D
    else:
        resultType = Extent2I if isInt else Extent2D
    return resultType(op(a._x, b._x), op(a._y, b._y))


class PointBase(_Pair):
    """What `Point2I` and `Point2D` share (boxes test for it)."""

    __slots__ = ()
    _kind = "point"

    def shift(self, offset):
        """Shift the point in place by an extent."""
        self._x = type(self._x)(self._x + offset[0])
        self._y = type(self._y)(self._y + offset[1])

    def distanceSquared(self, other) -> float:
        return (self._x - other[0]) ** 2 + (self._y - other[1]) ** 2


class Point2D(PointBase):
    """A floating-point 2-d point (pixel position)."""

    __slots__ = ()


class Point2I(PointBase):
    """An integer 2-d point (pixel index); doubles are rounded half up."""

    __slots__ = ()
    _isInt = True


class ExtentBase(_Pair):
    """What `Extent2I` and `Extent2D` share (boxes test for it)."""

    __slots__ = ()
    _kind = "extent"

    def __mul__(self, other):
        if isinstance(other, numbers.Real):
            if self._isInt and isinstance(other, numbers.Integral):
                return Extent2I(self._x * other, self._y * other)
            return Extent2D(self._x * other, self._y * other)
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, numbers.Real):
            return Extent2D(self._x / other, self._y / other)
        return NotImplemented

    def __floordiv__(self, other):
        if isinstance(other, numbers.Integral) and self._isInt:
            # C++ integer division truncates towards zero
            return Extent2I(int(self._x / other), int(self._y / other))
        return NotImplemented

    def __neg__(self):
        return type(self)(-self._x, -self._y)

    def computeNorm(self) -> float:
        return math.hypot(self._x, self._y)

    def computeSquaredNorm(self) -> float:
        return self._x * self._x + self._y * self._y


class Extent2D(ExtentBase):
    """A floating-point 2-d extent (difference of points, sizes)."""

    __slots__ = ()


class Extent2I(ExtentBase):
    """An integer 2-d extent; doubles are rounded half up."""

    __slots__ = ()
    _isInt = True
