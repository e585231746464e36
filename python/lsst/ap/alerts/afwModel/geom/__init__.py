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

from .angles import (
    HALFPI,
    PI,
    TWOPI,
    Angle,
    AngleUnit,
    arcminutes,
    arcseconds,
    degrees,
    hours,
    milliarcseconds,
    radians,
)
from .boxes import Box2D, Box2I
from .coordinates import Extent2D, Extent2I, Point2D, Point2I
from .spherePoint import SpherePoint
