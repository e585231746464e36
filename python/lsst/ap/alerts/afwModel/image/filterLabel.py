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

"""Filter identity, modelled on ``lsst.afw.image.FilterLabel``."""

from __future__ import annotations

__all__ = ["FilterLabel"]

from ..exceptions import InvalidParameterError


class FilterLabel:
    """A band and/or a physical filter name.

    Parameters
    ----------
    band : `str`, optional
        Abstract band (e.g. ``"r"``).
    physical : `str`, optional
        Physical filter name (e.g. ``"r_03"``).  At least one of the two
        must be given, as in afw.
    """

    __slots__ = ("_band", "_physical")

    def __init__(self, *, band: str | None = None, physical: str | None = None):
        if band is None and physical is None:
            raise InvalidParameterError("FilterLabel needs a band or a physical filter")
        self._band = band
        self._physical = physical

    @staticmethod
    def fromBand(band: str) -> FilterLabel:
        return FilterLabel(band=band)

    @staticmethod
    def fromPhysical(physical: str) -> FilterLabel:
        return FilterLabel(physical=physical)

    @staticmethod
    def fromBandPhysical(band: str, physical: str) -> FilterLabel:
        return FilterLabel(band=band, physical=physical)

    def hasBandLabel(self) -> bool:
        return self._band is not None

    def hasPhysicalLabel(self) -> bool:
        return self._physical is not None

    @property
    def bandLabel(self) -> str:
        """The band; `RuntimeError` if there is none (a built-in one, not a
        pex exception, as afw raises)."""
        if self._band is None:
            raise RuntimeError(f"{self!r} has no band.")
        return self._band

    @property
    def physicalLabel(self) -> str:
        """The physical filter; `RuntimeError` if there is none, as afw."""
        if self._physical is None:
            raise RuntimeError(f"{self!r} has no physical filter.")
        return self._physical

    def __eq__(self, other):
        if not isinstance(other, FilterLabel):
            return NotImplemented
        return self._band == other._band and self._physical == other._physical

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self):
        return hash((self._band, self._physical))

    def __reduce__(self):
        return (_rebuild, (self._band, self._physical))

    def __repr__(self):
        parts = []
        if self._band is not None:
            parts.append(f'band="{self._band}"')
        if self._physical is not None:
            parts.append(f'physical="{self._physical}"')
        return f"FilterLabel({', '.join(parts)})"


def _rebuild(band, physical):
    return FilterLabel(band=band, physical=physical)
