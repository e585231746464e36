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

"""The visit midpoint as upstream reports it, without astropy's first-call costs.

Upstream's metadata key ``visit_midpoint`` is
``visitInfo.date.toAstropy().tai.unix``: POSIX seconds (UTC, leap seconds
not counted).  The first astropy conversion of a process reads the
leap-second table (~10 ms on a quiet core, paid by every pipetask quantum);
afw's ``DateTime.nsecs(UTC)`` holds the same number, to astropy's own
precision (~0.5 µs), on every day without a leap second since 1972.
"""

__all__ = ["LEAP_SECOND_ERA_MJD", "unixMidpoint"]

# From 1972-01-02 (TAI) on, daf_base's and astropy's UTC agree to a double's
# last bit; before it (the pre-1972 "rubber second" era) they differ by up
# to ~0.1 s, and daf_base refuses dates before 1961.
LEAP_SECOND_ERA_MJD = 41318.0

_DAY = 86400 * 10**9


def unixMidpoint(date) -> float:
    """POSIX seconds of an afw ``DateTime``: astropy's ``tai.unix``, cheaply.

    Parameters
    ----------
    date : `lsst.daf.base.DateTime`
        The visit's midpoint (``VisitInfo.date``), afw's or the model's.

    Returns
    -------
    seconds : `float`
        Seconds since 1970-01-01T00:00:00 UTC, leap seconds not counted.

    Raises
    ------
    ValueError
        If ``date`` is not valid (afw's default ``DateTime()``).
    """
    if not date.isValid():
        raise ValueError("DateTime is not valid")
    if date.get(date.MJD, date.TAI) >= LEAP_SECOND_ERA_MJD and _noLeapSecondOnItsDay(date):
        return date.nsecs(date.UTC) / 1e9
    # Before 1972, or on a day with a leap second (astropy's unix time spreads
    # it over that UTC day): astropy, as upstream.
    return float(date.toAstropy().tai.unix)


def _noLeapSecondOnItsDay(date) -> bool:
    """Whether TAI-UTC is the same at ``date`` and at both ends of its UTC day."""
    kind = type(date)
    utc = date.nsecs(date.UTC)
    offset = date.nsecs(date.TAI) - utc
    start = utc - utc % _DAY
    return all(kind(t, date.UTC).nsecs(date.TAI) - t == offset for t in (start, start + _DAY))
