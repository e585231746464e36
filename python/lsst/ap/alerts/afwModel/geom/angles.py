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

"""Angles and their units, as ``lsst.geom`` has them (arithmetic in radians)."""

from __future__ import annotations

__all__ = [
    "HALFPI",
    "PI",
    "TWOPI",
    "Angle",
    "AngleUnit",
    "arcminutes",
    "arcseconds",
    "asRadians",
    "degrees",
    "hours",
    "milliarcseconds",
    "radians",
]

import math
import numbers

import numpy as np

PI = math.pi
TWOPI = 2.0 * math.pi
HALFPI = 0.5 * math.pi


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


def asRadians(value) -> float:
    """``value`` in radians: an `Angle`, or a number taken as radians."""
    return value.asRadians() if isinstance(value, Angle) else float(value)
