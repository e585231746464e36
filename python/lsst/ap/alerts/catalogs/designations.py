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

"""Minor Planet Center provisional designations and Rubin ``ssObjectId``.

Implements the MPC's packed form of minor-planet provisional designations
(https://minorplanetcenter.net/iau/info/PackedDes.html), including the
extended form for cycle counts of 620 and more introduced in 2024, and
Rubin's convention for ``ssObjectId``: the ASCII bytes of the packed
designation read as a big-endian unsigned integer (at most 8 characters).
"""

__all__ = [
    "DesignationError",
    "designationToSsObjectId",
    "packProvisional",
    "ssObjectIdToPackedDesignation",
    "unpackProvisional",
]

import re

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CENTURIES = {"I": 18, "J": 19, "K": 20}
# The second letter counts A..Z without I: 25 objects per cycle.
_ORDER_LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"
_HALF_MONTHS = "ABCDEFGHJKLMNOPQRSTUVWXY"
_EXTENDED_MIN_CYCLE = 620
_UNPACKED_RE = re.compile(r"^(\d{4}) ([A-HJ-Y])([A-HJ-Z])(\d*)$")
_SURVEY_RE = re.compile(r"^(\d+) (P-L|T-1|T-2|T-3)$")


class DesignationError(ValueError):
    """Raised for a designation or ssObjectId that cannot be converted."""


def _base62(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, rem = divmod(value, 62)
        digits.append(_BASE62[rem])
    if value:
        raise DesignationError(f"value does not fit {width} base-62 digits")
    return "".join(reversed(digits))


def packProvisional(unpacked: str) -> str:
    """Pack a provisional designation, e.g. ``"1995 XA"`` → ``"J95X00A"``.

    Parameters
    ----------
    unpacked : `str`
        Unpacked designation: ``YYYY HL[n]`` or a survey designation
        (``2040 P-L``).

    Returns
    -------
    packed : `str`
        7-character packed designation (``_`` + 6 for the extended form).

    Raises
    ------
    DesignationError
        If ``unpacked`` is not a provisional designation the MPC can pack.
    """
    text = unpacked.strip()
    survey = _SURVEY_RE.match(text)
    if survey:
        number, name = survey.groups()
        if len(number) > 4:
            raise DesignationError(f"survey number too large in {unpacked!r}")
        return name.replace("-", "") + "S" + number.zfill(4)
    match = _UNPACKED_RE.match(text)
    if not match:
        raise DesignationError(f"not an unpacked provisional designation: {unpacked!r}")
    yearText, halfMonth, order, cycleText = match.groups()
    year = int(yearText)
    cycle = int(cycleText) if cycleText else 0
    if cycle >= _EXTENDED_MIN_CYCLE:
        if not 2000 <= year < 2062:
            raise DesignationError(f"extended designations need a year in 2000-2061: {unpacked!r}")
        count = (cycle - _EXTENDED_MIN_CYCLE) * 25 + _ORDER_LETTERS.index(order)
        return "_" + _BASE62[year - 2000] + halfMonth + _base62(count, 4)
    century = {v: k for k, v in _CENTURIES.items()}.get(year // 100)
    if century is None:
        raise DesignationError(f"year out of range for a packed designation: {unpacked!r}")
    tens, units = divmod(cycle, 10)
    return f"{century}{year % 100:02d}{halfMonth}{_BASE62[tens]}{units}{order}"


def unpackProvisional(packed: str) -> str:
    """Unpack a packed provisional designation, e.g. ``"K07Tf8A"`` → ``"2007 TA418"``.

    Raises
    ------
    DesignationError
        If ``packed`` is not a packed provisional designation.
    """
    text = packed.strip()
    if len(text) == 7 and text[:3] in ("PLS", "T1S", "T2S", "T3S"):
        name = {"PLS": "P-L", "T1S": "T-1", "T2S": "T-2", "T3S": "T-3"}[text[:3]]
        if not text[3:].isdigit():
            raise DesignationError(f"not a packed survey designation: {packed!r}")
        return f"{int(text[3:])} {name}"
    if len(text) == 7 and text[0] == "_":
        yearChar, halfMonth, count = text[1], text[2], text[3:]
        if yearChar not in _BASE62 or halfMonth not in _HALF_MONTHS or any(c not in _BASE62 for c in count):
            raise DesignationError(f"not an extended packed designation: {packed!r}")
        value = 0
        for c in count:
            value = value * 62 + _BASE62.index(c)
        cycle, orderIndex = divmod(value, 25)
        return f"{2000 + _BASE62.index(yearChar)} {halfMonth}{_ORDER_LETTERS[orderIndex]}{cycle + 620}"
    if (
        len(text) != 7
        or text[0] not in _CENTURIES
        or not text[1:3].isdigit()
        or text[3] not in _HALF_MONTHS
        or text[4] not in _BASE62
        or not text[5].isdigit()
        or text[6] not in _ORDER_LETTERS
    ):
        raise DesignationError(f"not a packed provisional designation: {packed!r}")
    year = _CENTURIES[text[0]] * 100 + int(text[1:3])
    cycle = _BASE62.index(text[4]) * 10 + int(text[5])
    return f"{year} {text[3]}{text[6]}{cycle if cycle else ''}"


def designationToSsObjectId(packed: str) -> int:
    """Return Rubin's ``ssObjectId`` for a packed designation.

    Raises
    ------
    DesignationError
        If the designation is empty, not ASCII or longer than 8 characters.
    """
    try:
        raw = packed.encode("ascii")
    except UnicodeEncodeError as e:
        raise DesignationError(f"designation {packed!r} is not ASCII") from e
    if not 0 < len(raw) <= 8:
        raise DesignationError(f"designation {packed!r} must have 1 to 8 characters")
    return int.from_bytes(raw, "big")


def ssObjectIdToPackedDesignation(ssObjectId: int) -> str:
    """Return the packed designation an ``ssObjectId`` encodes.

    Raises
    ------
    DesignationError
        If the id is not a positive 64-bit value made of printable ASCII.
    """
    if not 0 < int(ssObjectId) < 2**64:
        raise DesignationError(f"ssObjectId {ssObjectId} does not encode a designation")
    raw = int(ssObjectId).to_bytes(8, "big").lstrip(b"\x00")
    if not all(0x20 < b < 0x7F for b in raw):
        raise DesignationError(f"ssObjectId {ssObjectId} does not encode an ASCII designation")
    return raw.decode("ascii")
