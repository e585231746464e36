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

"""A minimal detector description, modelled on afw's cameraGeom Detector.

Identity, pixel bounds and physical pixel size are modelled; amplifiers,
the detector's position and rotation in the focal plane, and camera
geometry transforms are not.  The FITS writer (`lsst.ap.alerts.afwModel.fits`) stores a Detector
in afw's archive layout with no amplifiers and afw's default orientation
(reference point at pixel (-0.5, -0.5) on the focal-plane origin, no
rotation), so real afw reads it back as a cameraGeom Detector whose
PIXELS -> FOCAL_PLANE transform is ``(pixel + 0.5) * pixelSize``.
"""

from __future__ import annotations

__all__ = ["Detector", "DetectorType"]

import enum

from .. import geom


class DetectorType(enum.IntEnum):
    """afw's ``lsst.afw.cameraGeom.DetectorType`` values."""

    SCIENCE = 0
    FOCUS = 1
    GUIDER = 2
    WAVEFRONT = 3


class Detector:
    """A detector's id, name, serial, type, pixel bounding box and pixel size.

    Parameters
    ----------
    name : `str`
        Detector name, e.g. ``"R22_S11"``.
    id : `int`
        Integer detector id.
    bbox : `lsst.geom.Box2I`, optional
        Detector pixel bounds (empty if unknown).
    serial : `str`, optional
        Serial number.
    physicalType : `str`, optional
        Sensor type, e.g. ``"ITL"``.
    type : `DetectorType`, optional
        Detector purpose.
    pixelSize : `lsst.geom.Extent2D`, optional
        Physical pixel size in mm; `DEFAULT_PIXEL_SIZE` (the 10 micron
        pixels of the Rubin cameras) if not given.
    """

    DEFAULT_PIXEL_SIZE = (0.01, 0.01)
    """Pixel size (x, y) in mm used when none is given."""

    def __init__(
        self,
        name: str,
        id: int,
        bbox=None,
        serial: str = "",
        physicalType: str = "",
        type: DetectorType = DetectorType.SCIENCE,
        pixelSize=None,
    ):
        self._name = str(name)
        self._id = int(id)
        self._bbox = geom.Box2I() if bbox is None else geom.Box2I(bbox)
        self._serial = str(serial)
        self._physicalType = str(physicalType)
        self._type = DetectorType(type)
        if pixelSize is None:
            pixelSize = self.DEFAULT_PIXEL_SIZE
        self._pixelSize = geom.Extent2D(float(pixelSize[0]), float(pixelSize[1]))

    def getName(self) -> str:
        return self._name

    def getId(self) -> int:
        return self._id

    def getBBox(self) -> geom.Box2I:
        return geom.Box2I(self._bbox)

    def getSerial(self) -> str:
        return self._serial

    def getPhysicalType(self) -> str:
        return self._physicalType

    def getType(self) -> DetectorType:
        return self._type

    def getPixelSize(self) -> geom.Extent2D:
        """Physical pixel size (x, y) in mm."""
        return geom.Extent2D(self._pixelSize)

    def _state(self) -> tuple:
        return (
            self._name,
            self._id,
            self._bbox,
            self._serial,
            self._physicalType,
            self._type,
            self._pixelSize,
        )

    def __eq__(self, other):
        if not isinstance(other, Detector):
            return NotImplemented
        return self._state() == other._state()

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self):
        return hash((self._name, self._id))

    def __reduce__(self):
        return (Detector, self._state())

    def __repr__(self):
        return f"Detector(name={self._name!r}, id={self._id}, bbox={self._bbox!r})"
