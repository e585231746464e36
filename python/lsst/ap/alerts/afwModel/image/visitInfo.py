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

"""Visit metadata, modelled on ``lsst.afw.image.VisitInfo`` and
``lsst.daf.base.DateTime``.

`DateTime` keeps daf_base's representation: integer TAI nanoseconds since
1970-01-01T00:00:00 TAI (MJD 40587 TAI), so dates round-trip exactly
through FITS (``DATE-AVG`` with ``TIMESYS = 'TAI'``); conversions to and
from MJD/JD/epoch use daf_base's double arithmetic, so they give the same
bits.

TAI - UTC follows daf_base: a step function of the UTC instant since 1972
(the steps from ERFA, the table astropy keeps up to date), and before that
the 1961-1971 offsets with their linear drift (USNO ``tai-utc.dat``).  A
leap second takes effect at the instant it is inserted, not spread over the
UTC day before it (astropy's UTC Julian dates do spread it: only the
integer nanoseconds are used here).  As in daf_base, a UTC instant before
1961-01-01 cannot be converted (`DomainError`), and the TAI instants inside
a leap second convert as if it had not been inserted yet (to the first
UTC second after it, which the next TAI second gives again).
"""

from __future__ import annotations

__all__ = ["DateSystem", "DateTime", "Observatory", "RotType", "Timescale", "VisitInfo", "Weather"]

import datetime
import enum
import fractions
import math
import numbers
import re
import time

from .. import geom
from ..exceptions import DomainError

_NSEC_PER_DAY = 86_400 * 1_000_000_000
_EPOCH_MJD = 40587  # 1970-01-01
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
_INVALID_NSECS = -(2**63)
# daf_base's arithmetic, in doubles, so results are bit-identical to it
_NSEC_PER_DAY_F = 86.4e12
_MJD_TO_JD = 2400000.5
_JD2000 = 2451545.0
_EPOCH_JD = fractions.Fraction(2440587.5)  # 1970-01-01T00:00:00 as a Julian date
# yyyy-mm-ddThh:mm:ss[.fff] with optional - and : separators, "," or "."
# before the fraction (digits past nanoseconds ignored), Z only for UTC
_ISO_RE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:[.,](\d{0,9})\d*)?(Z?)$")


class DateSystem(enum.IntEnum):
    """How a floating-point date is expressed (daf_base's values)."""

    JD = 0
    MJD = 1
    EPOCH = 2


class Timescale(enum.IntEnum):
    """Time scale (daf_base's values)."""

    TAI = 5
    UTC = 6
    TT = 7


class DateTime:
    """A TAI instant with nanosecond resolution (model of daf_base DateTime).

    The constructor overloads are daf_base's: ``DateTime()`` (invalid),
    ``DateTime(nsecs: int, scale=TAI)``, ``DateTime(date: float,
    system=MJD, scale=TAI)``, ``DateTime(year, month, day, hour, minute,
    second, scale)`` and ``DateTime(iso8601: str, scale)`` (the string ends
    in ``Z`` exactly when ``scale`` is UTC).  A Python `int` is
    nanoseconds, a `float` a date in ``system``.
    """

    DateSystem = DateSystem
    Timescale = Timescale
    JD = DateSystem.JD
    MJD = DateSystem.MJD
    EPOCH = DateSystem.EPOCH
    TAI = Timescale.TAI
    UTC = Timescale.UTC
    TT = Timescale.TT
    invalid_nsecs = _INVALID_NSECS

    __slots__ = ("_nsecs",)

    def __init__(self, *args):
        if not args:
            self._nsecs = _INVALID_NSECS
        elif len(args) >= 6:
            self._nsecs = _fromFields(*args)
        elif isinstance(args[0], str):
            if len(args) != 2:
                raise TypeError("DateTime(iso8601, scale) needs the time scale")
            self._nsecs = _parseIso(args[0], Timescale(args[1]))
        elif isinstance(args[0], numbers.Integral):
            scale = Timescale(args[1]) if len(args) > 1 else Timescale.TAI
            self._nsecs = _toTaiNsecs(int(args[0]), scale)
        else:
            system = DateSystem(args[1]) if len(args) > 1 else DateSystem.MJD
            scale = Timescale(args[2]) if len(args) > 2 else Timescale.TAI
            self._nsecs = _toTaiNsecs(_dateToNsecs(float(args[0]), system), scale)

    @classmethod
    def now(cls) -> DateTime:
        return cls(time.time_ns(), Timescale.UTC)

    @classmethod
    def fromAstropy(cls, value) -> DateTime:
        """Model-only: the `DateTime` of a scalar `astropy.time.Time`.

        The TAI Julian date astropy holds as two doubles is summed exactly
        (as fractions) and rounded once to the nearest nanosecond.
        """
        tai = value.tai
        days = fractions.Fraction(float(tai.jd1)) - _EPOCH_JD + fractions.Fraction(float(tai.jd2))
        return cls(round(days * _NSEC_PER_DAY), Timescale.TAI)

    def isValid(self) -> bool:
        return self._nsecs != _INVALID_NSECS

    def _check(self):
        if not self.isValid():
            raise RuntimeError("DateTime not valid")

    def nsecs(self, scale=Timescale.TAI) -> int:
        if not self.isValid():
            return _INVALID_NSECS  # in every scale, as daf_base
        return _fromTaiNsecs(self._nsecs, Timescale(scale))

    def get(self, system=DateSystem.MJD, scale=Timescale.TAI) -> float:
        """Return the date as an MJD (default), JD or Julian epoch."""
        self._check()
        mjd = _fromTaiNsecs(self._nsecs, Timescale(scale)) / _NSEC_PER_DAY_F + _EPOCH_MJD
        system = DateSystem(system)
        if system == DateSystem.MJD:
            return mjd
        jd = mjd + _MJD_TO_JD
        return jd if system == DateSystem.JD else 2000.0 + (jd - _JD2000) / 365.25

    def toString(self, scale) -> str:
        """ISO-8601 with nanoseconds; ``Z`` is appended for UTC, as afw."""
        self._check()
        scale = Timescale(scale)
        days, rem = divmod(_fromTaiNsecs(self._nsecs, scale), _NSEC_PER_DAY)
        date = datetime.date.fromordinal(_EPOCH_ORDINAL + days)
        secs, frac = divmod(rem, 1_000_000_000)
        hh, rest = divmod(secs, 3600)
        mm, ss = divmod(rest, 60)
        text = f"{date.isoformat()}T{hh:02d}:{mm:02d}:{ss:02d}.{frac:09d}"
        return text + ("Z" if scale == Timescale.UTC else "")

    def toAstropy(self):
        """Return an `astropy.time.Time` (TAI, from the MJD, as daf_base)."""
        from astropy.time import Time

        return Time(self.get(DateSystem.MJD, Timescale.TAI), scale="tai", format="mjd")

    def toPython(self, timescale=None) -> datetime.datetime:
        """A naive `datetime.datetime` in ``timescale`` (default TAI), as daf_base."""
        self._check()
        nsecs = self.nsecs(Timescale.TAI if timescale is None else timescale)
        return datetime.datetime.fromtimestamp(nsecs / 10**9, datetime.UTC).replace(tzinfo=None)

    def __eq__(self, other):
        if not isinstance(other, DateTime):
            return NotImplemented
        return self._nsecs == other._nsecs

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __lt__(self, other):
        return self._nsecs < other._nsecs if isinstance(other, DateTime) else NotImplemented

    def __le__(self, other):
        return self._nsecs <= other._nsecs if isinstance(other, DateTime) else NotImplemented

    def __gt__(self, other):
        return self._nsecs > other._nsecs if isinstance(other, DateTime) else NotImplemented

    def __ge__(self, other):
        return self._nsecs >= other._nsecs if isinstance(other, DateTime) else NotImplemented

    __hash__ = None

    def __reduce__(self):
        return (DateTime, (self._nsecs,))

    def __repr__(self):
        if not self.isValid():
            return "DateTime()"
        return f'DateTime("{self.toString(Timescale.TAI)}", TAI)'


def _dateToNsecs(date: float, system: DateSystem) -> int:
    """Nanoseconds (in the date's own scale) of an MJD, JD or epoch, with
    daf_base's double arithmetic and truncation."""
    if system == DateSystem.EPOCH:
        date = (date - 2000.0) * 365.25 + _JD2000
    if system != DateSystem.MJD:
        date -= _MJD_TO_JD
    return int((date - _EPOCH_MJD) * _NSEC_PER_DAY_F)


def _fromFields(year, month, day, hour, minute, second, scale=Timescale.TAI) -> int:
    days = datetime.date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
    seconds = (int(hour) * 60 + int(minute)) * 60 + int(second)
    return _toTaiNsecs(days * _NSEC_PER_DAY + seconds * 1_000_000_000, Timescale(scale))


# TAI - UTC from 1961 to 1971: (first UTC day, offset in s, reference MJD,
# drift in s/day); TAI - UTC = offset + (MJD(UTC) - reference) * drift
# (USNO tai-utc.dat).  Whole-second steps from 1972 on come from ERFA.
_DRIFTING_UTC = (
    ((1961, 1), 1.4228180, 37300.0, 0.001296),
    ((1961, 8), 1.3728180, 37300.0, 0.001296),
    ((1962, 1), 1.8458580, 37665.0, 0.0011232),
    ((1963, 11), 1.9458580, 37665.0, 0.0011232),
    ((1964, 1), 3.2401300, 38761.0, 0.001296),
    ((1964, 4), 3.3401300, 38761.0, 0.001296),
    ((1964, 9), 3.4401300, 38761.0, 0.001296),
    ((1965, 1), 3.5401300, 38761.0, 0.001296),
    ((1965, 3), 3.6401300, 38761.0, 0.001296),
    ((1965, 7), 3.7401300, 38761.0, 0.001296),
    ((1965, 9), 3.8401300, 38761.0, 0.001296),
    ((1966, 1), 4.3131700, 39126.0, 0.002592),
    ((1968, 2), 4.2131700, 39126.0, 0.002592),
)
_leapCache: dict = {}


class _Leap:
    """One interval of constant TAI - UTC law, from ``startUtc`` (UTC ns)
    and ``startTai`` (TAI ns, the same instant) on."""

    __slots__ = ("drift", "offset", "reference", "startTai", "startUtc")

    def __init__(self, year: int, month: int, offset: float, reference: float, drift: float):
        self.startUtc = (datetime.date(year, month, 1).toordinal() - _EPOCH_ORDINAL) * _NSEC_PER_DAY
        self.offset = offset
        self.reference = reference
        self.drift = drift
        # daf_base truncates the start's offset to whole ns (a 1965 start is 1 ns early)
        self.startTai = self.startUtc + int(self._secondsAtUtc(self.startUtc) * 1e9)

    def _secondsAtUtc(self, utcNsecs: int) -> float:
        return self.offset + (utcNsecs / _NSEC_PER_DAY_F + _EPOCH_MJD - self.reference) * self.drift

    def atUtc(self, utcNsecs: int) -> int:
        """TAI - UTC (ns) at a UTC instant."""
        return math.floor(self._secondsAtUtc(utcNsecs) * 1e9 + 0.5)

    def atTai(self, taiNsecs: int) -> int:
        """TAI - UTC (ns) at a TAI instant: the drift law solved for UTC."""
        mjdTai = taiNsecs / _NSEC_PER_DAY_F + _EPOCH_MJD
        seconds = self.offset + (mjdTai - self.reference) * self.drift
        return math.floor(seconds / (1.0 + self.drift / 86400.0) * 1e9 + 0.5)


def _leapTable() -> tuple:
    """The `_Leap` intervals in time order (rebuilt when ERFA's table grows)."""
    import erfa

    steps = erfa.leap_seconds.get()
    key = (len(steps), tuple(steps[-1]))
    table = _leapCache.get(key)
    if table is None:
        table = tuple(_Leap(year, month, *rest) for (year, month), *rest in _DRIFTING_UTC) + tuple(
            _Leap(int(year), int(month), float(taiMinusUtc), 0.0, 0.0)
            for year, month, taiMinusUtc in steps
            if year >= 1972
        )
        _leapCache.clear()
        _leapCache[key] = table
    return table


def _utcToTaiNsecs(nsecs: int) -> int:
    for leap in reversed(_leapTable()):
        if nsecs >= leap.startUtc:
            return nsecs + leap.atUtc(nsecs)
    raise DomainError(f"DateTime value too early for UTC-TAI conversion: {nsecs}")


def _taiToUtcNsecs(nsecs: int) -> int:
    for leap in reversed(_leapTable()):
        if nsecs >= leap.startTai:
            return nsecs - leap.atTai(nsecs)
    raise DomainError(f"DateTime value too early for TAI-UTC conversion: {nsecs}")


def _toTaiNsecs(nsecs: int, scale: Timescale) -> int:
    if scale == Timescale.TAI:
        return nsecs
    if scale == Timescale.TT:
        return nsecs - 32_184_000_000
    return _utcToTaiNsecs(nsecs)


def _fromTaiNsecs(nsecs: int, scale: Timescale) -> int:
    if scale == Timescale.TAI:
        return nsecs
    if scale == Timescale.TT:
        return nsecs + 32_184_000_000
    return _taiToUtcNsecs(nsecs)


def _parseIso(text: str, scale: Timescale) -> int:
    match = _ISO_RE.match(text)
    if not match or bool(match.group(8)) != (scale == Timescale.UTC):
        raise DomainError(f"Not in acceptable ISO8601 format: {text}")
    year, month, day, hh, mm, ss, frac, _ = match.groups()
    days = datetime.date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
    fracNs = int((frac or "0").ljust(9, "0"))
    nsecs = days * _NSEC_PER_DAY + ((int(hh) * 60 + int(mm)) * 60 + int(ss)) * 1_000_000_000 + fracNs
    return _toTaiNsecs(nsecs, scale)


class RotType(enum.IntEnum):
    """Meaning of the boresight rotation angle (afw's enum values)."""

    UNKNOWN = 0
    SKY = 1
    HORIZON = 2
    MOUNT = 3


_NAN = float("nan")


class Observatory:
    """Telescope location: longitude (east positive), latitude, elevation (m)."""

    def __init__(self, longitude=_NAN * geom.degrees, latitude=_NAN * geom.degrees, elevation=_NAN):
        self._longitude = geom.Angle(longitude)
        self._latitude = geom.Angle(latitude)
        self._elevation = float(elevation)

    def getLongitude(self) -> geom.Angle:
        return self._longitude

    def getLatitude(self) -> geom.Angle:
        return self._latitude

    def getElevation(self) -> float:
        return self._elevation

    longitude = property(getLongitude)
    latitude = property(getLatitude)
    elevation = property(getElevation)

    def _key(self):
        return (self._longitude.asRadians(), self._latitude.asRadians(), self._elevation)

    def __eq__(self, other):
        return isinstance(other, Observatory) and _eqOrNan(self._key(), other._key())

    __hash__ = None

    def __repr__(self):
        return (
            f"Observatory({self._longitude.asDegrees()}*degrees, {self._latitude.asDegrees()}*degrees, "
            f"{self._elevation})"
        )


class Weather:
    """Air temperature (C), pressure (Pa) and relative humidity (%)."""

    def __init__(self, airTemperature=_NAN, airPressure=_NAN, humidity=_NAN):
        self._airTemperature = float(airTemperature)
        self._airPressure = float(airPressure)
        self._humidity = float(humidity)

    def getAirTemperature(self) -> float:
        return self._airTemperature

    def getAirPressure(self) -> float:
        return self._airPressure

    def getHumidity(self) -> float:
        return self._humidity

    airTemperature = property(getAirTemperature)
    airPressure = property(getAirPressure)
    humidity = property(getHumidity)

    def __eq__(self, other):
        return isinstance(other, Weather) and _eqOrNan(
            (self._airTemperature, self._airPressure, self._humidity),
            (other._airTemperature, other._airPressure, other._humidity),
        )

    __hash__ = None

    def __repr__(self):
        return f"Weather({self._airTemperature}, {self._airPressure}, {self._humidity})"


def _eqOrNan(lhs, rhs) -> bool:
    """Element-wise equality where NaN equals NaN (afw's VisitInfo rule)."""
    return all(
        (a == b) or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
        for a, b in zip(lhs, rhs, strict=True)
    )


class VisitInfo:
    """Information about the visit an exposure belongs to.

    Keyword arguments and defaults are afw's (NaN for unknown numbers,
    an invalid `DateTime`, ``id=0``, empty strings).
    """

    _FIELDS = (
        "exposureTime",
        "darkTime",
        "date",
        "ut1",
        "era",
        "boresightRaDec",
        "boresightAzAlt",
        "boresightAirmass",
        "boresightRotAngle",
        "rotType",
        "observatory",
        "weather",
        "instrumentLabel",
        "id",
        "focusZ",
        "observationType",
        "scienceProgram",
        "observationReason",
        "object",
        "hasSimulatedContent",
    )

    def __init__(
        self,
        exposureTime=_NAN,
        darkTime=_NAN,
        date=None,
        ut1=_NAN,
        era=_NAN * geom.radians,
        boresightRaDec=None,
        boresightAzAlt=None,
        boresightAirmass=_NAN,
        boresightRotAngle=_NAN * geom.radians,
        rotType=RotType.UNKNOWN,
        observatory=None,
        weather=None,
        instrumentLabel="",
        id=0,
        focusZ=_NAN,
        observationType="",
        scienceProgram="",
        observationReason="",
        object="",
        hasSimulatedContent=False,
    ):
        nanPoint = geom.SpherePoint(_NAN * geom.degrees, _NAN * geom.degrees)
        self._exposureTime = float(exposureTime)
        self._darkTime = float(darkTime)
        self._date = DateTime() if date is None else date
        self._ut1 = float(ut1)
        self._era = geom.Angle(era)
        self._boresightRaDec = nanPoint if boresightRaDec is None else boresightRaDec
        self._boresightAzAlt = nanPoint if boresightAzAlt is None else boresightAzAlt
        self._boresightAirmass = float(boresightAirmass)
        self._boresightRotAngle = geom.Angle(boresightRotAngle)
        self._rotType = RotType(rotType)
        self._observatory = Observatory() if observatory is None else observatory
        self._weather = Weather() if weather is None else weather
        self._instrumentLabel = str(instrumentLabel)
        self._id = int(id)
        self._focusZ = float(focusZ)
        self._observationType = str(observationType)
        self._scienceProgram = str(scienceProgram)
        self._observationReason = str(observationReason)
        self._object = str(object)
        self._hasSimulatedContent = bool(hasSimulatedContent)

    def getExposureTime(self) -> float:
        return self._exposureTime

    def getDarkTime(self) -> float:
        return self._darkTime

    def getDate(self) -> DateTime:
        return self._date

    def getUt1(self) -> float:
        return self._ut1

    def getEra(self) -> geom.Angle:
        return self._era

    def getBoresightRaDec(self) -> geom.SpherePoint:
        return self._boresightRaDec

    def getBoresightAzAlt(self) -> geom.SpherePoint:
        return self._boresightAzAlt

    def getBoresightAirmass(self) -> float:
        return self._boresightAirmass

    def getBoresightRotAngle(self) -> geom.Angle:
        return self._boresightRotAngle

    def getRotType(self) -> RotType:
        return self._rotType

    def getObservatory(self) -> Observatory:
        return self._observatory

    def getWeather(self) -> Weather:
        return self._weather

    def getInstrumentLabel(self) -> str:
        return self._instrumentLabel

    def getId(self) -> int:
        return self._id

    def getFocusZ(self) -> float:
        return self._focusZ

    def getObservationType(self) -> str:
        return self._observationType

    def getScienceProgram(self) -> str:
        return self._scienceProgram

    def getObservationReason(self) -> str:
        return self._observationReason

    def getObject(self) -> str:
        return self._object

    def getHasSimulatedContent(self) -> bool:
        return self._hasSimulatedContent

    def getLocalEra(self) -> geom.Angle:
        return self._era + self._observatory.getLongitude()

    def getBoresightHourAngle(self) -> geom.Angle:
        return self.getLocalEra() - self._boresightRaDec.getRa()

    exposureTime = property(getExposureTime)
    darkTime = property(getDarkTime)
    date = property(getDate)
    ut1 = property(getUt1)
    era = property(getEra)
    boresightRaDec = property(getBoresightRaDec)
    boresightAzAlt = property(getBoresightAzAlt)
    boresightAirmass = property(getBoresightAirmass)
    boresightRotAngle = property(getBoresightRotAngle)
    rotType = property(getRotType)
    observatory = property(getObservatory)
    weather = property(getWeather)
    instrumentLabel = property(getInstrumentLabel)
    id = property(getId)
    focusZ = property(getFocusZ)
    observationType = property(getObservationType)
    scienceProgram = property(getScienceProgram)
    observationReason = property(getObservationReason)
    object = property(getObject)
    hasSimulatedContent = property(getHasSimulatedContent)

    def _asDict(self) -> dict:
        return {name: getattr(self, "_" + name) for name in self._FIELDS}

    def copyWith(self, **kwargs) -> VisitInfo:
        """Return a copy with some fields replaced."""
        values = self._asDict()
        values.update(kwargs)
        return VisitInfo(**values)

    def _key(self):
        raDec, azAlt = self._boresightRaDec, self._boresightAzAlt
        return (
            self._exposureTime,
            self._darkTime,
            self._ut1,
            self._era.asRadians(),
            raDec.getRa().asRadians(),
            raDec.getDec().asRadians(),
            azAlt.getLongitude().asRadians(),
            azAlt.getLatitude().asRadians(),
            self._boresightAirmass,
            self._boresightRotAngle.asRadians(),
            self._focusZ,
        )

    def __eq__(self, other):
        if not isinstance(other, VisitInfo):
            return NotImplemented
        return (
            _eqOrNan(self._key(), other._key())
            and self._date == other._date
            and self._rotType == other._rotType
            and self._observatory == other._observatory
            and self._weather == other._weather
            and self._instrumentLabel == other._instrumentLabel
            and self._id == other._id
            and self._observationType == other._observationType
            and self._scienceProgram == other._scienceProgram
            and self._observationReason == other._observationReason
            and self._object == other._object
            and self._hasSimulatedContent == other._hasSimulatedContent
        )

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None

    def __reduce__(self):
        return (_rebuildVisitInfo, (self._asDict(),))

    def __repr__(self):
        date = self._date.toString(DateTime.TAI) if self._date.isValid() else "<invalid>"
        return (
            f"VisitInfo(id={self._id}, exposureTime={self._exposureTime}, date={date}, "
            f"boresightRaDec={self._boresightRaDec!r}, object={self._object!r})"
        )

    # readFits/writeFits (afw's archive layout) are added by `lsst.ap.alerts.afwModel.fits`.


def _rebuildVisitInfo(values):
    return VisitInfo(**values)
