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

"""A small pure-Python model of ``lsst.geom``.

Used by the package when the LSST stack is not importable (see ``_afw``).
Only the part of the ``lsst.geom`` API that alert packaging and its tests
need is modelled, with the same conventions:

* pixel centres are at integer coordinates; an integer box covers
  ``[min - 0.5, max + 0.5)`` when seen as a `Box2D`;
* converting a floating-point point to an integer one rounds half up
  (``floor(x + 0.5)``);
* `SpherePoint` longitudes are wrapped into ``[0, 2 pi)``; `Angle`
  arithmetic is in radians.
"""

from __future__ import annotations

__all__ = [
    "HALFPI",
    "PI",
    "TWOPI",
    "Angle",
    "AngleUnit",
    "Box2D",
    "Box2I",
    "Extent2D",
    "Extent2I",
    "Point2D",
    "Point2I",
    "SpherePoint",
    "arcminutes",
    "arcseconds",
    "degrees",
    "hours",
    "milliarcseconds",
    "radians",
]

import math
import numbers
import operator

import numpy as np

from .exceptions import InvalidParameterError

PI = math.pi
TWOPI = 2.0 * math.pi
HALFPI = 0.5 * math.pi


# ----------------------------------------------------------------- angles


class AngleUnit:
    """A unit of angle, defined by its size in radians.

    Multiplying a number by a unit gives an `Angle`.
    """

    __slots__ = ("_radians",)

    def __init__(self, radiansPerUnit: float):
        self._radians = float(radiansPerUnit)

    def __mul__(self, other):
        if isinstance(other, Angle):
            return NotImplemented
        if isinstance(other, np.ndarray):
            return other * self._radians
        return Angle(float(other) * self._radians)

    __rmul__ = __mul__

    def __eq__(self, other):
        return isinstance(other, AngleUnit) and other._radians == self._radians

    def __hash__(self):
        return hash(self._radians)

    def __repr__(self):
        return f"AngleUnit({self._radians!r})"


radians = AngleUnit(1.0)
degrees = AngleUnit(math.pi / 180.0)
hours = AngleUnit(math.pi * 15.0 / 180.0)
arcminutes = AngleUnit(math.pi / 180.0 / 60.0)
arcseconds = AngleUnit(math.pi / 180.0 / 3600.0)
milliarcseconds = AngleUnit(math.pi / 180.0 / 3600.0 / 1000.0)


class Angle:
    """An angle; stored in radians.

    Parameters
    ----------
    value : `float` or `Angle`, optional
        The angle, in units of ``units``.
    units : `AngleUnit`, optional
        Units of ``value`` (radians by default).
    """

    __slots__ = ("_rad",)

    def __init__(self, value=0.0, units: AngleUnit = radians):
        if isinstance(value, Angle):
            self._rad = value._rad
        else:
            self._rad = float(value) * units._radians

    # conversions
    def asRadians(self) -> float:
        return self._rad

    def asDegrees(self) -> float:
        # Divided by the unit, as lsst.geom does: bit-identical round trips through degrees.
        return self._rad / degrees._radians

    def asHours(self) -> float:
        return self._rad / hours._radians

    def asArcminutes(self) -> float:
        return self._rad / arcminutes._radians

    def asArcseconds(self) -> float:
        return self._rad / arcseconds._radians

    def asMilliarcseconds(self) -> float:
        return self._rad / milliarcseconds._radians

    def asAngularUnits(self, units: AngleUnit) -> float:
        return self._rad / units._radians

    def __float__(self):
        return self._rad

    # wrapping, as lsst.geom does
    def wrap(self) -> Angle:
        """Return the angle wrapped into ``[0, 2 pi)``."""
        wrapped = math.fmod(self._rad, TWOPI)
        if wrapped < 0.0:
            wrapped += TWOPI
            if wrapped >= TWOPI:  # rounding of tiny negative values
                wrapped = 0.0
        return Angle(wrapped)

    def wrapCtr(self) -> Angle:
        """Return the angle wrapped into ``[-pi, pi)``."""
        wrapped = self.wrap()._rad
        if wrapped >= PI:
            wrapped -= TWOPI
        return Angle(wrapped)

    def wrapNear(self, refAng: Angle) -> Angle:
        """Return the angle wrapped into ``[refAng - pi, refAng + pi)``."""
        return Angle(refAng._rad + (self - refAng).wrapCtr()._rad)

    def separation(self, other: Angle) -> Angle:
        """Return ``(self - other)`` wrapped into ``[-pi, pi)``."""
        return (self - other).wrapCtr()

    # arithmetic
    def __add__(self, other):
        if isinstance(other, Angle):
            return Angle(self._rad + other._rad)
        return NotImplemented

    def __sub__(self, other):
        if isinstance(other, Angle):
            return Angle(self._rad - other._rad)
        return NotImplemented

    def __mul__(self, other):
        if isinstance(other, numbers.Real):
            return Angle(self._rad * float(other))
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, numbers.Real):
            return Angle(self._rad / float(other))
        return NotImplemented

    def __neg__(self):
        return Angle(-self._rad)

    def __abs__(self):
        return Angle(abs(self._rad))

    # comparisons (with Angles, or with floats taken as radians)
    def _other(self, other):
        if isinstance(other, Angle):
            return other._rad
        if isinstance(other, numbers.Real):
            return float(other)
        return None

    def __eq__(self, other):
        value = self._other(other)
        return NotImplemented if value is None else self._rad == value

    def __ne__(self, other):
        value = self._other(other)
        return NotImplemented if value is None else self._rad != value

    def __lt__(self, other):
        value = self._other(other)
        return NotImplemented if value is None else self._rad < value

    def __le__(self, other):
        value = self._other(other)
        return NotImplemented if value is None else self._rad <= value

    def __gt__(self, other):
        value = self._other(other)
        return NotImplemented if value is None else self._rad > value

    def __ge__(self, other):
        value = self._other(other)
        return NotImplemented if value is None else self._rad >= value

    def __hash__(self):
        return hash(self._rad)

    def __reduce__(self):
        return (Angle, (self._rad,))

    def __repr__(self):
        return f"Angle({self._rad!r}, radians)"

    def __str__(self):
        return f"{self._rad!r} rad"


def _asRadians(value) -> float:
    return value.asRadians() if isinstance(value, Angle) else float(value)


# ------------------------------------------------------- points, extents


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


class _PointBase(_Pair):
    __slots__ = ()
    _kind = "point"

    def shift(self, offset):
        """Shift the point in place by an extent."""
        self._x = type(self._x)(self._x + offset[0])
        self._y = type(self._y)(self._y + offset[1])

    def distanceSquared(self, other) -> float:
        return (self._x - other[0]) ** 2 + (self._y - other[1]) ** 2


class Point2D(_PointBase):
    """A floating-point 2-d point (pixel position)."""

    __slots__ = ()


class Point2I(_PointBase):
    """An integer 2-d point (pixel index); doubles are rounded half up."""

    __slots__ = ()
    _isInt = True


class _ExtentBase(_Pair):
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


class Extent2D(_ExtentBase):
    """A floating-point 2-d extent (difference of points, sizes)."""

    __slots__ = ()


class Extent2I(_ExtentBase):
    """An integer 2-d extent; doubles are rounded half up."""

    __slots__ = ()
    _isInt = True


# ------------------------------------------------------------------ boxes


class Box2I:
    """An integer pixel box, inclusive of ``min`` and ``max``.

    Construct from ``(min: Point2I, max: Point2I, invert=True)``,
    ``(corner: Point2I, dimensions: Extent2I, invert=True)``,
    ``(Box2D, edgeHandling=Box2I.EXPAND)``, or nothing (an empty box).
    """

    __slots__ = ("_height", "_minX", "_minY", "_width")

    EXPAND = "EXPAND"
    SHRINK = "SHRINK"

    def __init__(self, *args, **kwargs):
        self._minX = self._minY = 0
        self._width = self._height = 0
        if not args and not kwargs:
            return
        if len(args) == 1 and isinstance(args[0], Box2I):
            other = args[0]
            self._minX, self._minY, self._width, self._height = (
                other._minX,
                other._minY,
                other._width,
                other._height,
            )
            return
        if len(args) >= 1 and isinstance(args[0], Box2D):
            self._fromBox2D(args[0], args[1] if len(args) > 1 else kwargs.get("edgeHandling", self.EXPAND))
            return
        first = args[0] if args else kwargs.get("minimum", kwargs.get("corner"))
        second = args[1] if len(args) > 1 else kwargs.get("maximum", kwargs.get("dimensions"))
        invert = args[2] if len(args) > 2 else kwargs.get("invert", True)
        first = Point2I(first)
        if isinstance(second, _ExtentBase):
            self._fromCornerSize(first, Extent2I(second), invert)
        else:
            self._fromMinMax(first, Point2I(second), invert)

    def _fromMinMax(self, pMin, pMax, invert):
        mins, dims = [pMin.x, pMin.y], [pMax.x - pMin.x, pMax.y - pMin.y]
        for n in range(2):
            if dims[n] < 0:
                if not invert:
                    return
                mins[n] += dims[n]
                dims[n] = -dims[n]
        self._minX, self._minY = mins
        self._width, self._height = dims[0] + 1, dims[1] + 1

    def _fromCornerSize(self, corner, size, invert):
        mins, dims = [corner.x, corner.y], [size.x, size.y]
        for n in range(2):
            if dims[n] == 0:
                return
            if dims[n] < 0:
                if not invert:
                    return
                mins[n] += dims[n] + 1
                dims[n] = -dims[n]
        self._minX, self._minY = mins
        self._width, self._height = dims

    def _fromBox2D(self, other, edgeHandling):
        if other.isEmpty():
            return
        lo, hi = other.getMin(), other.getMax()
        if not all(math.isfinite(v) for v in (lo.x, lo.y, hi.x, hi.y)):
            raise InvalidParameterError("Cannot convert non-finite Box2D to Box2I")
        if edgeHandling == self.EXPAND:
            mins = [math.ceil(lo.x - 0.5), math.ceil(lo.y - 0.5)]
            maxs = [math.floor(hi.x + 0.5), math.floor(hi.y + 0.5)]
        else:
            mins = [math.ceil(lo.x + 0.5), math.ceil(lo.y + 0.5)]
            maxs = [math.floor(hi.x - 0.5), math.floor(hi.y - 0.5)]
        if maxs[0] < mins[0] or maxs[1] < mins[1]:
            return
        self._minX, self._minY = mins
        self._width, self._height = maxs[0] - mins[0] + 1, maxs[1] - mins[1] + 1

    @staticmethod
    def makeCenteredBox(center, size) -> Box2I:
        """Make the box of dimensions ``size`` centred as closely as
        possible on ``center``.

        Follows lsst.geom exactly: the corner ``center - size/2 + 1/2`` is
        rounded half up, so odd sizes are centred on the pixel nearest the
        centre and even sizes have ``center`` in their upper-middle pixel.
        """
        cx, cy = float(center[0]), float(center[1])
        if not (math.isfinite(cx) and math.isfinite(cy)):
            raise InvalidParameterError("Cannot make Box2I with non-finite center")
        width, height = int(size[0]), int(size[1])
        minX = math.floor(cx - 0.5 * width + 0.5 + 0.5)
        minY = math.floor(cy - 0.5 * height + 0.5 + 0.5)
        return Box2I(Point2I(minX, minY), Extent2I(width, height), False)

    # accessors
    def isEmpty(self) -> bool:
        return self._width <= 0 or self._height <= 0

    def getMin(self) -> Point2I:
        return Point2I(self._minX, self._minY)

    def getMax(self) -> Point2I:
        return Point2I(self.getMaxX(), self.getMaxY())

    def getMinX(self) -> int:
        return self._minX

    def getMinY(self) -> int:
        return self._minY

    def getMaxX(self) -> int:
        return self._minX + self._width - 1

    def getMaxY(self) -> int:
        return self._minY + self._height - 1

    # lsst.geom's begin is the minimum; the end is one past the maximum
    getBegin = getMin
    getBeginX = getMinX
    getBeginY = getMinY

    def getEnd(self) -> Point2I:
        return Point2I(self.getEndX(), self.getEndY())

    def getEndX(self) -> int:
        return self._minX + self._width

    def getEndY(self) -> int:
        return self._minY + self._height

    def getWidth(self) -> int:
        return self._width

    def getHeight(self) -> int:
        return self._height

    def getDimensions(self) -> Extent2I:
        return Extent2I(self._width, self._height)

    def getArea(self) -> int:
        return 0 if self.isEmpty() else self._width * self._height

    def getCenter(self) -> Point2D:
        return Box2D(self).getCenter()

    def getCenterX(self) -> float:
        return self.getCenter().x

    def getCenterY(self) -> float:
        return self.getCenter().y

    def getCorners(self):
        return [
            self.getMin(),
            Point2I(self.getMaxX(), self._minY),
            self.getMax(),
            Point2I(self._minX, self.getMaxY()),
        ]

    def getSlices(self):
        """Return ``(ySlice, xSlice)`` for indexing an array whose origin is
        the parent origin."""
        return (slice(self.getBeginY(), self.getEndY()), slice(self.getBeginX(), self.getEndX()))

    minX = property(getMinX)
    minY = property(getMinY)
    maxX = property(getMaxX)
    maxY = property(getMaxY)
    beginX = property(getBeginX)
    beginY = property(getBeginY)
    endX = property(getEndX)
    endY = property(getEndY)
    width = property(getWidth)
    height = property(getHeight)
    dimensions = property(getDimensions)
    area = property(getArea)
    centerX = property(getCenterX)
    centerY = property(getCenterY)

    # predicates
    def contains(self, other, y=None):
        """Whether the box contains a `Point2I`, a `Box2I`, or arrays ``x, y``
        of integer positions (returns a boolean array then)."""
        if y is not None:
            x = np.asarray(other)
            y = np.asarray(y)
            return (x >= self._minX) & (x <= self.getMaxX()) & (y >= self._minY) & (y <= self.getMaxY())
        if isinstance(other, Box2I):
            if other.isEmpty():
                return True
            return (
                other._minX >= self._minX
                and other.getMaxX() <= self.getMaxX()
                and other._minY >= self._minY
                and other.getMaxY() <= self.getMaxY()
            )
        if isinstance(other, _PointBase) and not other._isInt:
            raise TypeError("Box2I.contains needs a Point2I; convert or use Box2D")
        px, py = other[0], other[1]
        return (self._minX <= px <= self.getMaxX()) and (self._minY <= py <= self.getMaxY())

    def isDisjointFrom(self, other: Box2I) -> bool:
        if self.isEmpty() or other.isEmpty():
            return True
        return (
            self._minX > other.getMaxX()
            or self.getMaxX() < other._minX
            or self._minY > other.getMaxY()
            or self.getMaxY() < other._minY
        )

    def overlaps(self, other: Box2I) -> bool:
        return not self.isDisjointFrom(other)

    # modifiers (in place, as lsst.geom)
    def clip(self, other: Box2I) -> None:
        clipped = self.clippedTo(other)
        self._minX, self._minY, self._width, self._height = (
            clipped._minX,
            clipped._minY,
            clipped._width,
            clipped._height,
        )

    def shift(self, offset) -> None:
        if self.isEmpty():
            return
        self._minX += int(offset[0])
        self._minY += int(offset[1])

    def grow(self, buffer) -> None:
        grown = self.dilatedBy(buffer)
        self._minX, self._minY, self._width, self._height = (
            grown._minX,
            grown._minY,
            grown._width,
            grown._height,
        )

    def include(self, other) -> None:
        expanded = self.expandedTo(other)
        self._minX, self._minY, self._width, self._height = (
            expanded._minX,
            expanded._minY,
            expanded._width,
            expanded._height,
        )

    # new-box operations
    def clippedTo(self, other: Box2I) -> Box2I:
        if self.isEmpty() or other.isEmpty():
            return Box2I()
        minX, minY = max(self._minX, other._minX), max(self._minY, other._minY)
        maxX, maxY = min(self.getMaxX(), other.getMaxX()), min(self.getMaxY(), other.getMaxY())
        if maxX < minX or maxY < minY:
            return Box2I()
        return Box2I(Point2I(minX, minY), Point2I(maxX, maxY))

    def shiftedBy(self, offset) -> Box2I:
        if self.isEmpty():
            return Box2I()
        return Box2I(Point2I(self._minX + int(offset[0]), self._minY + int(offset[1])), self.getDimensions())

    def dilatedBy(self, buffer) -> Box2I:
        if self.isEmpty():
            return Box2I()
        if isinstance(buffer, numbers.Integral):
            buffer = Extent2I(buffer, buffer)
        return Box2I(
            Point2I(self._minX - buffer[0], self._minY - buffer[1]),
            Point2I(self.getMaxX() + buffer[0], self.getMaxY() + buffer[1]),
            False,
        )

    def erodedBy(self, buffer) -> Box2I:
        if isinstance(buffer, numbers.Integral):
            buffer = Extent2I(buffer, buffer)
        return self.dilatedBy(Extent2I(-buffer[0], -buffer[1]))

    def expandedTo(self, other) -> Box2I:
        if isinstance(other, Box2I):
            if other.isEmpty():
                return Box2I(self)
            if self.isEmpty():
                return Box2I(other)
            return Box2I(
                Point2I(min(self._minX, other._minX), min(self._minY, other._minY)),
                Point2I(max(self.getMaxX(), other.getMaxX()), max(self.getMaxY(), other.getMaxY())),
            )
        point = Point2I(other)
        if self.isEmpty():
            return Box2I(point, Extent2I(1, 1))
        return Box2I(
            Point2I(min(self._minX, point.x), min(self._minY, point.y)),
            Point2I(max(self.getMaxX(), point.x), max(self.getMaxY(), point.y)),
        )

    def __eq__(self, other):
        if not isinstance(other, Box2I):
            return NotImplemented
        if self.isEmpty() and other.isEmpty():
            return True
        return (self._minX, self._minY, self._width, self._height) == (
            other._minX,
            other._minY,
            other._width,
            other._height,
        )

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self):
        if self.isEmpty():
            return hash("emptyBox2I")
        return hash((self._minX, self._minY, self._width, self._height))

    def __reduce__(self):
        if self.isEmpty():
            return (Box2I, ())
        return (Box2I, (self.getMin(), self.getDimensions()))

    def __repr__(self):
        if self.isEmpty():
            return "Box2I()"
        return f"Box2I(corner={self.getMin()!r}, dimensions={self.getDimensions()!r})"

    def __str__(self):
        if self.isEmpty():
            return "Box2I()"
        return f"(minimum={self.getMin()}, maximum={self.getMax()})"


class Box2D:
    """A floating-point box, half-open: ``min <= p < max``.

    Construct from ``(min: Point2D, max: Point2D, invert=True)``,
    ``(corner: Point2D, dimensions: Extent2D, invert=True)``, a `Box2I`
    (expanded by half a pixel on every side), or nothing (an empty box).
    """

    __slots__ = ("_max", "_min")

    def __init__(self, *args, **kwargs):
        nan = float("nan")
        self._min = [nan, nan]
        self._max = [nan, nan]
        if not args and not kwargs:
            return
        if len(args) == 1 and isinstance(args[0], Box2I):
            other = args[0]
            if not other.isEmpty():
                self._min = [other.getMinX() - 0.5, other.getMinY() - 0.5]
                self._max = [other.getMaxX() + 0.5, other.getMaxY() + 0.5]
            return
        if len(args) == 1 and isinstance(args[0], Box2D):
            self._min, self._max = list(args[0]._min), list(args[0]._max)
            return
        first = Point2D(args[0] if args else kwargs.get("minimum", kwargs.get("corner")))
        second = args[1] if len(args) > 1 else kwargs.get("maximum", kwargs.get("dimensions"))
        invert = args[2] if len(args) > 2 else kwargs.get("invert", True)
        lo = [first.x, first.y]
        if isinstance(second, _ExtentBase):
            hi = [first.x + float(second[0]), first.y + float(second[1])]
        else:
            hi = [float(second[0]), float(second[1])]
        for n in range(2):
            if lo[n] == hi[n]:
                return
            if lo[n] > hi[n]:
                if not invert:
                    return
                lo[n], hi[n] = hi[n], lo[n]
        self._min, self._max = lo, hi

    @staticmethod
    def makeCenteredBox(center, size) -> Box2D:
        """Make a box of dimensions ``size`` centred on ``center``."""
        corner = Point2D(center[0] - 0.5 * size[0], center[1] - 0.5 * size[1])
        return Box2D(corner, Extent2D(size), False)

    def isEmpty(self) -> bool:
        return not (self._min[0] < self._max[0] and self._min[1] < self._max[1])

    def getMin(self) -> Point2D:
        return Point2D(*self._min)

    def getMax(self) -> Point2D:
        return Point2D(*self._max)

    def getMinX(self) -> float:
        return self._min[0]

    def getMinY(self) -> float:
        return self._min[1]

    def getMaxX(self) -> float:
        return self._max[0]

    def getMaxY(self) -> float:
        return self._max[1]

    def getWidth(self) -> float:
        return 0.0 if self.isEmpty() else self._max[0] - self._min[0]

    def getHeight(self) -> float:
        return 0.0 if self.isEmpty() else self._max[1] - self._min[1]

    def getDimensions(self) -> Extent2D:
        return Extent2D(self.getWidth(), self.getHeight())

    def getArea(self) -> float:
        return self.getWidth() * self.getHeight()

    def getCenter(self) -> Point2D:
        return Point2D(0.5 * (self._min[0] + self._max[0]), 0.5 * (self._min[1] + self._max[1]))

    def getCenterX(self) -> float:
        return self.getCenter().x

    def getCenterY(self) -> float:
        return self.getCenter().y

    def getCorners(self):
        return [
            self.getMin(),
            Point2D(self._max[0], self._min[1]),
            self.getMax(),
            Point2D(self._min[0], self._max[1]),
        ]

    minX = property(getMinX)
    minY = property(getMinY)
    maxX = property(getMaxX)
    maxY = property(getMaxY)
    width = property(getWidth)
    height = property(getHeight)
    dimensions = property(getDimensions)
    area = property(getArea)
    centerX = property(getCenterX)
    centerY = property(getCenterY)

    def contains(self, other, y=None):
        """Whether the box contains a point (half-open), a `Box2D`, or arrays
        ``x, y`` (returns a boolean array then)."""
        if y is not None:
            x = np.asarray(other, dtype=float)
            y = np.asarray(y, dtype=float)
            return (x >= self._min[0]) & (x < self._max[0]) & (y >= self._min[1]) & (y < self._max[1])
        if isinstance(other, Box2D):
            if other.isEmpty():
                return True
            return (
                other._min[0] >= self._min[0]
                and other._max[0] <= self._max[0]
                and other._min[1] >= self._min[1]
                and other._max[1] <= self._max[1]
            )
        px, py = float(other[0]), float(other[1])
        if math.isnan(px) or math.isnan(py):
            raise InvalidParameterError("Cannot test whether a box contains a NaN point")
        return self._min[0] <= px < self._max[0] and self._min[1] <= py < self._max[1]

    def overlaps(self, other: Box2D) -> bool:
        if self.isEmpty() or other.isEmpty():
            return False
        return not (
            other._max[0] <= self._min[0]
            or other._max[1] <= self._min[1]
            or other._min[0] >= self._max[0]
            or other._min[1] >= self._max[1]
        )

    def isDisjointFrom(self, other: Box2D) -> bool:
        return not self.overlaps(other)

    def clippedTo(self, other: Box2D) -> Box2D:
        if self.isEmpty() or other.isEmpty():
            return Box2D()
        lo = Point2D(max(self._min[0], other._min[0]), max(self._min[1], other._min[1]))
        hi = Point2D(min(self._max[0], other._max[0]), min(self._max[1], other._max[1]))
        return Box2D(lo, hi, False)

    def clip(self, other: Box2D) -> None:
        clipped = self.clippedTo(other)
        self._min, self._max = clipped._min, clipped._max

    def dilatedBy(self, buffer) -> Box2D:
        if self.isEmpty():
            return Box2D()
        if isinstance(buffer, numbers.Real):
            buffer = (buffer, buffer)
        return Box2D(
            Point2D(self._min[0] - buffer[0], self._min[1] - buffer[1]),
            Point2D(self._max[0] + buffer[0], self._max[1] + buffer[1]),
            False,
        )

    def grow(self, buffer) -> None:
        grown = self.dilatedBy(buffer)
        self._min, self._max = grown._min, grown._max

    def shiftedBy(self, offset) -> Box2D:
        if self.isEmpty():
            return Box2D()
        return Box2D(
            Point2D(self._min[0] + offset[0], self._min[1] + offset[1]),
            Point2D(self._max[0] + offset[0], self._max[1] + offset[1]),
            False,
        )

    def shift(self, offset) -> None:
        shifted = self.shiftedBy(offset)
        self._min, self._max = shifted._min, shifted._max

    def include(self, other) -> None:
        if isinstance(other, Box2D):
            if other.isEmpty():
                return
            if self.isEmpty():
                self._min, self._max = list(other._min), list(other._max)
                return
            self._min = [min(self._min[0], other._min[0]), min(self._min[1], other._min[1])]
            self._max = [max(self._max[0], other._max[0]), max(self._max[1], other._max[1])]
            return
        px, py = float(other[0]), float(other[1])
        if self.isEmpty():
            self._min = [px, py]
            self._max = [math.nextafter(px, math.inf), math.nextafter(py, math.inf)]
            return
        point = [px, py]
        for n in range(2):
            if point[n] < self._min[n]:
                self._min[n] = point[n]
            elif point[n] >= self._max[n]:
                # keep the point inside the half-open box
                self._max[n] = math.nextafter(point[n], math.inf)

    def __eq__(self, other):
        if not isinstance(other, Box2D):
            return NotImplemented
        if self.isEmpty() and other.isEmpty():
            return True
        return self._min == other._min and self._max == other._max

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self):
        if self.isEmpty():
            return hash("emptyBox2D")
        return hash((tuple(self._min), tuple(self._max)))

    def __repr__(self):
        if self.isEmpty():
            return "Box2D()"
        return f"Box2D(minimum={self.getMin()!r}, maximum={self.getMax()!r})"


# ----------------------------------------------------------- sky points


class SpherePoint:
    """A point on the unit sphere (ICRS RA/Dec in this package).

    Construct as ``SpherePoint(longitude: Angle, latitude: Angle)``,
    ``SpherePoint(lon: float, lat: float, units: AngleUnit)``, or from a
    3-vector; the longitude is wrapped into ``[0, 2 pi)``.
    """

    __slots__ = ("_lat", "_lon")

    def __init__(self, *args):
        if len(args) == 1 and isinstance(args[0], SpherePoint):
            self._lon, self._lat = args[0]._lon, args[0]._lat
            return
        if len(args) == 1:
            vx, vy, vz = (float(v) for v in args[0])
            norm = math.sqrt(vx * vx + vy * vy + vz * vz)
            lon = math.atan2(vy, vx) if (vx or vy) else 0.0
            lat = math.asin(max(-1.0, min(1.0, vz / norm)))
        elif len(args) == 2:
            lon, lat = _asRadians(args[0]), _asRadians(args[1])
        elif len(args) == 3:
            unit = args[2]._radians
            lon, lat = float(args[0]) * unit, float(args[1]) * unit
        else:
            raise TypeError("SpherePoint(lon, lat), SpherePoint(lon, lat, units) or SpherePoint(vector)")
        if math.isfinite(lat) and abs(lat) > HALFPI * (1 + 1e-15):
            raise InvalidParameterError(f"Latitude {lat} rad is outside [-pi/2, pi/2]")
        self._lat = max(-HALFPI, min(HALFPI, lat)) if math.isfinite(lat) else lat
        self._lon = Angle(lon).wrap().asRadians() if math.isfinite(lon) else lon

    def getLongitude(self) -> Angle:
        return Angle(self._lon)

    def getLatitude(self) -> Angle:
        return Angle(self._lat)

    getRa = getLongitude
    getDec = getLatitude

    def isFinite(self) -> bool:
        return math.isfinite(self._lon) and math.isfinite(self._lat)

    def getPosition(self, units: AngleUnit = degrees) -> Point2D:
        return Point2D(self._lon / units._radians, self._lat / units._radians)

    def getVector(self) -> np.ndarray:
        """Return the unit 3-vector as a numpy array (afw returns
        ``lsst.sphgeom.UnitVector3d``)."""
        cosLat = math.cos(self._lat)
        return np.array([cosLat * math.cos(self._lon), cosLat * math.sin(self._lon), math.sin(self._lat)])

    def __getitem__(self, i):
        return (self.getLongitude(), self.getLatitude())[i]

    def __len__(self):
        return 2

    def __iter__(self):
        yield self.getLongitude()
        yield self.getLatitude()

    def separation(self, other: SpherePoint) -> Angle:
        """Great-circle distance (Vincenty formula, accurate at all scales)."""
        dLon = other._lon - self._lon
        sinLat1, cosLat1 = math.sin(self._lat), math.cos(self._lat)
        sinLat2, cosLat2 = math.sin(other._lat), math.cos(other._lat)
        num1 = cosLat2 * math.sin(dLon)
        num2 = cosLat1 * sinLat2 - sinLat1 * cosLat2 * math.cos(dLon)
        den = sinLat1 * sinLat2 + cosLat1 * cosLat2 * math.cos(dLon)
        return Angle(math.atan2(math.hypot(num1, num2), den))

    def bearingTo(self, other: SpherePoint) -> Angle:
        """Direction of the great circle towards ``other``, measured from
        east towards north (lsst.geom convention), in ``[0, 2 pi)``."""
        dLon = other._lon - self._lon
        y = math.sin(dLon) * math.cos(other._lat)
        x = math.cos(self._lat) * math.sin(other._lat) - math.sin(self._lat) * math.cos(
            other._lat
        ) * math.cos(dLon)
        # atan2(y, x) is the bearing from north towards east
        return (Angle(HALFPI) - Angle(math.atan2(y, x))).wrap()

    def offset(self, bearing: Angle, amount: Angle) -> SpherePoint:
        """Move ``amount`` along the great circle leaving at ``bearing``
        (measured from east towards north)."""
        northBearing = HALFPI - bearing.asRadians()
        dist = amount.asRadians()
        sinLat = math.sin(self._lat) * math.cos(dist) + math.cos(self._lat) * math.sin(dist) * math.cos(
            northBearing
        )
        lat = math.asin(max(-1.0, min(1.0, sinLat)))
        lon = self._lon + math.atan2(
            math.sin(northBearing) * math.sin(dist) * math.cos(self._lat),
            math.cos(dist) - math.sin(self._lat) * sinLat,
        )
        return SpherePoint(Angle(lon), Angle(lat))

    def __eq__(self, other):
        if not isinstance(other, SpherePoint):
            return NotImplemented
        return self._lon == other._lon and self._lat == other._lat

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self):
        return hash((self._lon, self._lat))

    def __reduce__(self):
        return (SpherePoint, (self._lon, self._lat, radians))

    def __repr__(self):
        return (
            f"SpherePoint({self._lon / degrees._radians!r}*degrees, {self._lat / degrees._radians!r}*degrees)"
        )
