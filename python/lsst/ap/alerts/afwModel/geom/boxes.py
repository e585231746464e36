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

"""Integer and floating-point boxes, as ``lsst.geom`` has them.

An integer box covers ``[min - 0.5, max + 0.5)`` when seen as a `Box2D`.
"""

from __future__ import annotations

__all__ = ["Box2D", "Box2I"]

import math
import numbers

import numpy as np

from ..exceptions import InvalidParameterError
from .coordinates import Extent2D, Extent2I, ExtentBase, Point2D, Point2I, PointBase


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
        if isinstance(second, ExtentBase):
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
        if isinstance(other, PointBase) and not other._isInt:
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
        if isinstance(second, ExtentBase):
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
