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

"""Points on the unit sphere, as ``lsst.geom.SpherePoint`` (longitudes wrapped into ``[0, 2 pi)``)."""

from __future__ import annotations

__all__ = ["SpherePoint"]

import math

import numpy as np

from ..exceptions import InvalidParameterError
from .angles import HALFPI, Angle, AngleUnit, asRadians, degrees, radians
from .coordinates import Point2D


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
            lon, lat = asRadians(args[0]), asRadians(args[1])
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
