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

"""Tests of the visit information (`lsst.ap.alerts.afwModel.image.visitInfo`):
``VisitInfo``, ``DateTime``, ``Observatory``, ``Weather`` and ``RotType``.

The semantic test cases run on real afw/daf_base when afw is installed and
on the model otherwise; dates are checked against astropy's time scales
(an independent oracle), derived angles against hand-computed values.
``ModelVisitInfoTestCase`` tests model-only API.
"""

import copy
import datetime
import math
import pickle
import random
import unittest
import warnings

import astropy.time
import erfa
import lsst.utils.tests
from imageHelpers import DateTime

from lsst.ap.alerts._afw import HAVE_AFW, afwImage, geom

if HAVE_AFW:
    from lsst.afw.coord import Observatory, Weather
    from lsst.pex.exceptions import DomainError
else:
    from lsst.ap.alerts.afwModel.image import DomainError, Observatory, Weather

# nanoseconds from 1970-01-01 TAI
NSEC_PER_DAY = 86400 * 10**9
# the first UTC days of the steps of TAI - UTC while it drifted (USNO tai-utc.dat)
DRIFTING_STEPS = (
    (1961, 8),
    (1962, 1),
    (1963, 11),
    (1964, 1),
    (1964, 4),
    (1964, 9),
    (1965, 1),
    (1965, 3),
    (1965, 7),
    (1965, 9),
    (1966, 1),
    (1968, 2),
    (1972, 1),
)


def leapSecondDays():
    """The first UTC day after each leap second (ERFA's table, which
    astropy uses; 1972-07-01 on)."""
    return [datetime.date(int(y), int(m), 1) for y, m, _ in erfa.leap_seconds.get() if (y, m) > (1972, 1)]


def utcNsecs(day, seconds=0):
    """UTC nanoseconds since 1970 (86400 s a day) of ``seconds`` into ``day``."""
    return (day.toordinal() - datetime.date(1970, 1, 1).toordinal()) * NSEC_PER_DAY + seconds


def astropyNsecs(time):
    """Nanoseconds of ``time`` since 1970-01-01T00:00:00 in its TAI scale."""
    delta = time.tai - astropy.time.Time("1970-01-01T00:00:00", scale="tai")
    days = int(delta.jd1) + int(delta.jd2)
    return days * NSEC_PER_DAY + round(
        ((delta.jd1 - int(delta.jd1)) + (delta.jd2 - int(delta.jd2))) * NSEC_PER_DAY
    )


def makeFullVisitInfo(**kwargs):
    """A VisitInfo with every field set."""
    values = dict(
        id=987,
        exposureTime=30.0,
        darkTime=31.0,
        date=DateTime("2020-01-20T12:34:56.000000000", DateTime.TAI),
        ut1=58868.52,
        era=1.0 * geom.radians,
        boresightRaDec=geom.SpherePoint(0.5, 0.2, geom.radians),
        boresightAzAlt=geom.SpherePoint(100.0, 60.0, geom.degrees),
        boresightAirmass=1.15,
        boresightRotAngle=12.5 * geom.degrees,
        rotType=afwImage.RotType.HORIZON,
        observatory=Observatory(-70.7 * geom.degrees, -30.2 * geom.degrees, 2663.0),
        weather=Weather(10.0, 75000.0, 20.0),
        instrumentLabel="LSSTCam",
        focusZ=-0.5,
        observationType="science",
        scienceProgram="survey",
        observationReason="wide",
        object="field 7",
        hasSimulatedContent=True,
    )
    values.update(kwargs)
    return afwImage.VisitInfo(**values)


class VisitInfoTestCase(lsst.utils.tests.TestCase):
    def testConstruction(self):
        date = DateTime("2020-01-20T12:34:56.000000000", DateTime.TAI)
        visitInfo = afwImage.VisitInfo(
            id=987,
            date=date,
            exposureTime=30.0,
            darkTime=31.0,
            boresightRaDec=geom.SpherePoint(30.0, 40.0, geom.degrees),
            boresightRotAngle=12.5 * geom.degrees,
            rotType=afwImage.RotType.SKY,
            observationReason="science",
            object="field 7",
        )
        self.assertEqual(visitInfo.getId(), 987)
        self.assertEqual(visitInfo.id, 987)
        self.assertEqual(visitInfo.getExposureTime(), 30.0)
        self.assertEqual(visitInfo.exposureTime, 30.0)
        self.assertEqual(visitInfo.getDarkTime(), 31.0)
        self.assertEqual(visitInfo.getDate(), date)
        self.assertEqual(visitInfo.date.toAstropy().tai.isot, "2020-01-20T12:34:56.000")
        self.assertEqual(visitInfo.date.toAstropy().scale, "tai")
        self.assertAlmostEqual(
            visitInfo.getDate().get(DateTime.MJD, DateTime.TAI), 58868.52425925926, places=9
        )
        self.assertAlmostEqual(visitInfo.getBoresightRaDec().getDec().asDegrees(), 40.0, places=12)
        self.assertAlmostEqual(visitInfo.boresightRotAngle.asDegrees(), 12.5, places=12)
        self.assertEqual(visitInfo.getRotType(), afwImage.RotType.SKY)
        self.assertEqual(visitInfo.getObservationReason(), "science")
        self.assertEqual(visitInfo.observationReason, "science")
        self.assertEqual(visitInfo.getObject(), "field 7")
        self.assertEqual(visitInfo.object, "field 7")

    def testDefaults(self):
        visitInfo = afwImage.VisitInfo()
        self.assertTrue(math.isnan(visitInfo.getExposureTime()))
        self.assertFalse(visitInfo.getDate().isValid())
        self.assertEqual(visitInfo.getId(), 0)

    def testAllDefaults(self):
        visitInfo = afwImage.VisitInfo()
        for getter in (
            "getExposureTime",
            "getDarkTime",
            "getUt1",
            "getBoresightAirmass",
            "getFocusZ",
        ):
            self.assertTrue(math.isnan(getattr(visitInfo, getter)()), msg=getter)
        self.assertTrue(math.isnan(visitInfo.getEra().asRadians()))
        self.assertTrue(math.isnan(visitInfo.getBoresightRotAngle().asRadians()))
        for point in (visitInfo.getBoresightRaDec(), visitInfo.getBoresightAzAlt()):
            self.assertTrue(math.isnan(point.getLongitude().asRadians()))
            self.assertTrue(math.isnan(point.getLatitude().asRadians()))
        self.assertEqual(visitInfo.getRotType(), afwImage.RotType.UNKNOWN)
        for getter in (
            "getInstrumentLabel",
            "getObservationType",
            "getScienceProgram",
            "getObservationReason",
            "getObject",
        ):
            self.assertEqual(getattr(visitInfo, getter)(), "", msg=getter)
        self.assertFalse(visitInfo.getHasSimulatedContent())
        self.assertEqual(visitInfo.getId(), 0)
        observatory = visitInfo.getObservatory()
        self.assertTrue(math.isnan(observatory.getLongitude().asDegrees()))
        self.assertTrue(math.isnan(observatory.getElevation()))
        self.assertTrue(math.isnan(visitInfo.getWeather().getAirPressure()))

    def testAllFields(self):
        visitInfo = makeFullVisitInfo()
        self.assertEqual(visitInfo.getUt1(), 58868.52)
        self.assertEqual(visitInfo.ut1, 58868.52)
        self.assertEqual(visitInfo.getEra().asRadians(), 1.0)
        self.assertAlmostEqual(visitInfo.getBoresightAzAlt().getLongitude().asDegrees(), 100.0, places=12)
        self.assertAlmostEqual(visitInfo.getBoresightAzAlt().getLatitude().asDegrees(), 60.0, places=12)
        self.assertEqual(visitInfo.getBoresightAirmass(), 1.15)
        self.assertEqual(visitInfo.boresightAirmass, 1.15)
        self.assertEqual(visitInfo.getRotType(), afwImage.RotType.HORIZON)
        self.assertEqual(visitInfo.getInstrumentLabel(), "LSSTCam")
        self.assertEqual(visitInfo.instrumentLabel, "LSSTCam")
        self.assertEqual(visitInfo.getFocusZ(), -0.5)
        self.assertEqual(visitInfo.getObservationType(), "science")
        self.assertEqual(visitInfo.getScienceProgram(), "survey")
        self.assertEqual(visitInfo.scienceProgram, "survey")
        self.assertTrue(visitInfo.getHasSimulatedContent())
        self.assertTrue(visitInfo.hasSimulatedContent)
        observatory = visitInfo.getObservatory()
        self.assertAlmostEqual(observatory.getLongitude().asDegrees(), -70.7, places=12)
        self.assertAlmostEqual(observatory.getLatitude().asDegrees(), -30.2, places=12)
        self.assertEqual(observatory.getElevation(), 2663.0)
        weather = visitInfo.getWeather()
        self.assertEqual(
            (weather.getAirTemperature(), weather.getAirPressure(), weather.getHumidity()),
            (10.0, 75000.0, 20.0),
        )

    def testDerivedAngles(self):
        visitInfo = makeFullVisitInfo()
        # local ERA = ERA + east longitude; hour angle = local ERA - RA
        localEra = 1.0 + math.radians(-70.7)
        self.assertAlmostEqual(visitInfo.getLocalEra().asRadians(), localEra, delta=1e-14)
        self.assertAlmostEqual(visitInfo.getBoresightHourAngle().asRadians(), localEra - 0.5, delta=1e-14)

    def testRotType(self):
        self.assertEqual(
            [(member.name, int(member)) for member in afwImage.RotType.__members__.values()],
            [("UNKNOWN", 0), ("SKY", 1), ("HORIZON", 2), ("MOUNT", 3)],
        )

    def testEquality(self):
        self.assertEqual(afwImage.VisitInfo(), afwImage.VisitInfo())
        self.assertEqual(makeFullVisitInfo(), makeFullVisitInfo())
        # NaN fields compare equal (afw compares them as unset)
        self.assertEqual(afwImage.VisitInfo(exposureTime=math.nan), afwImage.VisitInfo())
        for change in (
            {"id": 988},
            {"exposureTime": 15.0},
            {"date": DateTime("2020-01-20T12:34:56.000000001", DateTime.TAI)},
            {"boresightRotAngle": 12.6 * geom.degrees},
            {"rotType": afwImage.RotType.SKY},
            {"observatory": Observatory(-70.7 * geom.degrees, -30.2 * geom.degrees, 2664.0)},
            {"weather": Weather(10.0, 75000.0, 21.0)},
            {"object": "field 8"},
            {"hasSimulatedContent": False},
        ):
            with self.subTest(change=change):
                other = makeFullVisitInfo(**change)
                self.assertNotEqual(other, makeFullVisitInfo())
                self.assertTrue(other != makeFullVisitInfo())
        with self.assertRaises(TypeError):
            hash(afwImage.VisitInfo())

    def testCopyWith(self):
        visitInfo = makeFullVisitInfo()
        changed = visitInfo.copyWith(exposureTime=15.0, id=5)
        self.assertEqual((changed.getExposureTime(), changed.getId()), (15.0, 5))
        self.assertEqual(changed.getFocusZ(), -0.5)
        self.assertEqual(changed.getObject(), "field 7")
        self.assertEqual(changed.getDate(), visitInfo.getDate())
        # the original is unchanged
        self.assertEqual((visitInfo.getExposureTime(), visitInfo.getId()), (30.0, 987))
        self.assertEqual(visitInfo.copyWith(), visitInfo)

    def testDeepCopy(self):
        visitInfo = makeFullVisitInfo()
        self.assertEqual(copy.deepcopy(visitInfo), visitInfo)

    def testObservatoryAndWeather(self):
        self.assertEqual(
            Observatory(1.0 * geom.degrees, 2.0 * geom.degrees, 3.0),
            Observatory(1.0 * geom.degrees, 2.0 * geom.degrees, 3.0),
        )
        self.assertNotEqual(
            Observatory(1.0 * geom.degrees, 2.0 * geom.degrees, 3.0),
            Observatory(1.0 * geom.degrees, 2.5 * geom.degrees, 3.0),
        )
        self.assertEqual(Weather(math.nan, 1.0, 2.0), Weather(math.nan, 1.0, 2.0))
        self.assertNotEqual(Weather(0.0, 1.0, 2.0), Weather(0.0, 1.0, 2.5))


class DateTimeTestCase(lsst.utils.tests.TestCase):
    """daf_base's DateTime against astropy's time scales."""

    # dates across leap seconds (TAI - UTC = 10 s in 1972, 37 s since 2017)
    UTC_DATES = (
        "1972-01-01T00:00:00.000",
        "1999-12-31T23:59:59.250",
        "2017-01-01T00:00:00.000",
        "2020-01-20T12:34:19.000",
        "2024-01-01T03:03:28.123",
    )

    def testUtcInstantsAgainstAstropy(self):
        for iso in self.UTC_DATES:
            with self.subTest(iso=iso):
                time = astropy.time.Time(iso, scale="utc")
                date = DateTime(iso + "Z", DateTime.UTC)
                self.assertEqual(date.nsecs(DateTime.TAI), astropyNsecs(time))
                taiMinusUtc = round((time.tai.datetime - time.utc.datetime).total_seconds())
                self.assertEqual(date.nsecs(DateTime.TAI) - date.nsecs(DateTime.UTC), taiMinusUtc * 10**9)
                self.assertAlmostEqual(date.get(DateTime.MJD, DateTime.TAI), time.tai.mjd, delta=1e-9)
                self.assertAlmostEqual(date.get(DateTime.MJD, DateTime.UTC), time.utc.mjd, delta=1e-9)
                self.assertAlmostEqual(date.get(DateTime.MJD, DateTime.TT), time.tt.mjd, delta=1e-9)
                self.assertAlmostEqual(date.get(DateTime.JD, DateTime.TAI), time.tai.jd, delta=1e-8)
                self.assertEqual(date.toString(DateTime.UTC), time.utc.isot + "000000Z")
                self.assertEqual(date.toString(DateTime.TAI), time.tai.isot + "000000")
                self.assertEqual(date.toString(DateTime.TT), time.tt.isot + "000000")

    def testLeapSeconds(self):
        start = DateTime("1972-01-01T00:00:00Z", DateTime.UTC)
        self.assertEqual(start.nsecs(DateTime.TAI) - start.nsecs(DateTime.UTC), 10 * 10**9)
        recent = DateTime("2017-01-01T00:00:00Z", DateTime.UTC)
        self.assertEqual(recent.nsecs(DateTime.TAI) - recent.nsecs(DateTime.UTC), 37 * 10**9)

    def testLeapSecondDay(self):
        """TAI - UTC steps at the leap second, not before (astropy agrees)."""
        recent = DateTime("2017-01-01T00:00:00Z", DateTime.UTC)
        before = DateTime("2016-12-31T23:59:59Z", DateTime.UTC)
        # the leap second 2016-12-31T23:59:60 lies between them
        self.assertEqual(recent.nsecs(DateTime.TAI) - before.nsecs(DateTime.TAI), 2 * 10**9)
        for iso in ("2016-12-31T00:00:00.000", "2016-12-31T12:00:00.000", "2016-12-31T23:59:59.000"):
            time = astropy.time.Time(iso, scale="utc")
            date = DateTime(iso + "Z", DateTime.UTC)
            self.assertEqual(date.nsecs(DateTime.TAI), astropyNsecs(time), msg=iso)
            self.assertEqual(date.nsecs(DateTime.TAI) - date.nsecs(DateTime.UTC), 36 * 10**9, msg=iso)
            self.assertEqual(date.toString(DateTime.TAI), time.tai.isot + "000000", msg=iso)

    def testEveryLeapSecond(self):
        """TAI - UTC steps at each leap second (astropy's instants, to the ns)."""
        days = leapSecondDays()
        self.assertGreaterEqual(len(days), 27)
        for day in days:
            before = day - datetime.timedelta(days=1)
            isos = [f"{before.isoformat()}T{hms}" for hms in ("00:00:00.000000000", "12:00:00.000000000")]
            isos += [f"{before.isoformat()}T23:59:59.{ns}" for ns in ("000000000", "500000000", "999999999")]
            isos += [f"{day.isoformat()}T00:00:00.000000000", f"{day.isoformat()}T00:00:00.500000000"]
            for iso in isos:
                with self.subTest(iso=iso):
                    time = astropy.time.Time(iso, scale="utc", precision=9)
                    date = DateTime(iso + "Z", DateTime.UTC)
                    self.assertEqual(date.nsecs(DateTime.TAI), astropyNsecs(time))
                    self.assertEqual(date.toString(DateTime.UTC), iso + "Z")
                    self.assertEqual(date.toString(DateTime.TAI), time.tai.isot)
                    self.assertEqual(DateTime(date.nsecs(DateTime.TAI), DateTime.TAI), date)
            last = DateTime(f"{before.isoformat()}T23:59:59.000000000Z", DateTime.UTC)
            first = DateTime(f"{day.isoformat()}T00:00:00.000000000Z", DateTime.UTC)
            self.assertEqual(first.nsecs(DateTime.TAI) - last.nsecs(DateTime.TAI), 2 * 10**9, msg=str(day))

    def testTaiInsideLeapSecond(self):
        """A TAI instant inside the leap second 2016-12-31T23:59:60 converts
        to UTC as if the step were already taken: 2017-01-01T00:00:00.x,
        which the next TAI second gives again (daf_base's behaviour)."""
        stepTai = DateTime("2017-01-01T00:00:37.000000000", DateTime.TAI).nsecs(DateTime.TAI)
        newYear = utcNsecs(datetime.date(2017, 1, 1))
        for offset in (0, 1, 250_000_000, 999_999_999):
            inside = DateTime(stepTai - 10**9 + offset, DateTime.TAI)
            self.assertEqual(inside.nsecs(DateTime.UTC), newYear + offset, msg=offset)
            self.assertEqual(DateTime(stepTai + offset, DateTime.TAI).nsecs(DateTime.UTC), newYear + offset)
        justBefore = DateTime(stepTai - 10**9 - 1, DateTime.TAI)
        self.assertEqual(justBefore.toString(DateTime.UTC), "2016-12-31T23:59:59.999999999Z")

    def testDriftingUtc(self):
        """1961-1971: TAI - UTC drifted and stepped by fractions of a second
        at the start of a UTC day (astropy's instants, within 1 us; neither
        side is exact to the ns there, nor is the drift law's TAI -> UTC
        inverse: the cross-tier test checks those against daf_base)."""
        for year, month in DRIFTING_STEPS:
            day = datetime.date(year, month, 1)
            for seconds in (-43_200 * 10**9, -(10**9), -1, 0, 500_000_000, 43_200 * 10**9):
                nsecs = utcNsecs(day, seconds)
                with self.subTest(day=day, seconds=seconds):
                    days, rem = divmod(nsecs, NSEC_PER_DAY)
                    stamp = datetime.datetime(1970, 1, 1) + datetime.timedelta(days=days)
                    iso = f"{stamp.date().isoformat()}T{rem // 3_600_000_000_000:02d}:" + (
                        f"{rem // 60_000_000_000 % 60:02d}:{rem // 10**9 % 60:02d}.{rem % 10**9:09d}"
                    )
                    with warnings.catch_warnings():
                        # the last 0.1 s of 1968-01-31 UTC was skipped: astropy warns
                        warnings.simplefilter("ignore", erfa.ErfaWarning)
                        expected = astropyNsecs(astropy.time.Time(iso, scale="utc", precision=9))
                    date = DateTime(nsecs, DateTime.UTC)
                    self.assertLessEqual(abs(date.nsecs(DateTime.TAI) - expected), 1000)

    def testTooEarlyForUtc(self):
        """UTC is defined from 1961 on: earlier UTC instants are a DomainError."""
        with self.assertRaises(DomainError):
            DateTime("1960-12-31T23:59:59.999999999Z", DateTime.UTC)
        with self.assertRaises(DomainError):
            DateTime(utcNsecs(datetime.date(1950, 1, 1)), DateTime.UTC)
        old = DateTime("1950-01-01T00:00:00.000000000", DateTime.TAI)
        self.assertEqual(old.toString(DateTime.TAI), "1950-01-01T00:00:00.000000000")
        with self.assertRaises(DomainError):
            old.nsecs(DateTime.UTC)
        with self.assertRaises(DomainError):
            old.toString(DateTime.UTC)
        first = DateTime("1961-01-01T00:00:00.000000000Z", DateTime.UTC)
        self.assertEqual(first.nsecs(DateTime.TAI) - first.nsecs(DateTime.UTC), 1_422_818_000)

    def testInvalidInEveryScale(self):
        for scale in (DateTime.TAI, DateTime.UTC, DateTime.TT):
            self.assertEqual(DateTime().nsecs(scale), DateTime.invalid_nsecs, msg=str(scale))

    def testJulianEpoch(self):
        date = DateTime("2020-01-20T12:34:56.000000000", DateTime.TAI)
        time = astropy.time.Time("2020-01-20T12:34:56", scale="tai")
        # Julian epoch: 2000 + (JD - 2451545) / 365.25, in the TAI scale
        self.assertAlmostEqual(
            date.get(DateTime.EPOCH, DateTime.TAI), 2000.0 + (time.jd - 2451545.0) / 365.25, delta=1e-12
        )

    def testConstructors(self):
        date = DateTime("2020-01-20T12:34:56.000000000", DateTime.TAI)
        self.assertEqual(DateTime(2020, 1, 20, 12, 34, 56, DateTime.TAI), date)
        self.assertEqual(DateTime(date.nsecs(DateTime.TAI), DateTime.TAI), date)
        self.assertEqual(DateTime(date.nsecs(DateTime.UTC), DateTime.UTC), date)
        # an MJD double resolves about a microsecond
        fromMjd = DateTime(date.get(DateTime.MJD, DateTime.TAI), DateTime.MJD, DateTime.TAI)
        self.assertLessEqual(abs(fromMjd.nsecs() - date.nsecs()), 2000)
        self.assertEqual(
            DateTime(58868.5, DateTime.MJD, DateTime.UTC).toString(DateTime.UTC),
            "2020-01-20T12:00:00.000000000Z",
        )
        self.assertEqual(repr(date), 'DateTime("2020-01-20T12:34:56.000000000", TAI)')

    def testToPython(self):
        date = DateTime("2020-01-20T12:34:56.000000000", DateTime.TAI)
        self.assertEqual(date.toPython(), datetime.datetime(2020, 1, 20, 12, 34, 56))
        self.assertEqual(date.toPython(DateTime.UTC), datetime.datetime(2020, 1, 20, 12, 34, 19))

    def testOrdering(self):
        early, late = DateTime(5, DateTime.TAI), DateTime(6, DateTime.TAI)
        self.assertLess(early, late)
        self.assertLessEqual(early, DateTime(5, DateTime.TAI))
        self.assertGreater(late, early)
        self.assertNotEqual(early, late)

    def testInvalid(self):
        date = DateTime()
        self.assertFalse(date.isValid())
        self.assertEqual(date.nsecs(), DateTime.invalid_nsecs)
        self.assertEqual(DateTime(), DateTime())
        with self.assertRaises(RuntimeError):
            date.get()
        with self.assertRaises(RuntimeError):
            date.toString(DateTime.TAI)

    def testMalformedIso(self):
        for text, scale in (
            ("2020-01-20T12:34:56Z", DateTime.TAI),  # a Z only with UTC
            ("2020-01-20T12:34:56", DateTime.UTC),  # UTC needs the Z
            ("2020-01-20 junk", DateTime.TAI),
        ):
            with self.assertRaises(DomainError, msg=text):
                DateTime(text, scale)


@unittest.skipIf(HAVE_AFW, "model-only API")
class ModelVisitInfoTestCase(lsst.utils.tests.TestCase):
    def testDateTime(self):
        date = DateTime("2021-06-30T23:59:59.5Z", DateTime.UTC)
        self.assertEqual(date.toString(DateTime.UTC), "2021-06-30T23:59:59.500000000Z")
        self.assertEqual(date.toString(DateTime.TAI), "2021-07-01T00:00:36.500000000")
        self.assertEqual(DateTime(date.nsecs(DateTime.TAI), DateTime.TAI), date)
        self.assertEqual(
            DateTime(58868.5, DateTime.MJD, DateTime.TAI).toString(DateTime.TAI),
            "2020-01-20T12:00:00.000000000",
        )

    def testPickle(self):
        visitInfo = makeFullVisitInfo()
        self.assertEqual(pickle.loads(pickle.dumps(visitInfo)), visitInfo)
        date = visitInfo.getDate()
        self.assertEqual(pickle.loads(pickle.dumps(date)), date)

    def testFromAstropy(self):
        for iso in ("2024-01-01T03:04:05.123456789", "1999-06-30T00:00:00.000000001"):
            time = astropy.time.Time(iso, scale="utc", precision=9)
            self.assertLessEqual(
                abs(DateTime.fromAstropy(time).nsecs(DateTime.TAI) - astropyNsecs(time)), 1000
            )

    def testFromAstropyNanoseconds(self):
        time = astropy.time.Time("2024-01-01T03:04:05.123456789", scale="utc", precision=9)
        self.assertEqual(DateTime.fromAstropy(time).nsecs(DateTime.TAI), astropyNsecs(time))
        # hand-computed: TAI = UTC + 37 s
        self.assertEqual(DateTime.fromAstropy(time), DateTime("2024-01-01T03:04:42.123456789", DateTime.TAI))
        for iso, scale, expected in (
            ("2016-12-31T23:59:60.500000000", "utc", "2017-01-01T00:00:36.500000000"),
            ("1999-06-30T00:00:00.000000001", "utc", "1999-06-30T00:00:32.000000001"),
            ("2030-02-03T04:05:06.999999999", "tai", "2030-02-03T04:05:06.999999999"),
            ("2030-02-03T04:05:06.000000001", "tt", "2030-02-03T04:04:33.816000001"),
        ):
            with self.subTest(iso=iso, scale=scale):
                time = astropy.time.Time(iso, scale=scale, precision=9)
                self.assertEqual(DateTime.fromAstropy(time), DateTime(expected, DateTime.TAI))


@unittest.skipUnless(HAVE_AFW, "needs the real lsst.daf.base (the .venv-afw tier)")
class CrossTierDateTimeTestCase(lsst.utils.tests.TestCase):
    """The model's DateTime converts UTC <-> TAI as daf_base's, to the ns,
    on every interval of its leap-second table (1961 on)."""

    def testUtcTaiConversions(self):
        from lsst.ap.alerts.afwModel.image import DateTime as ModelDateTime

        rng = random.Random(20240101)
        starts = [datetime.date(1961, 1, 1)] + [datetime.date(y, m, 1) for y, m in DRIFTING_STEPS]
        starts += leapSecondDays()
        count = 0
        for day in starts:
            start = utcNsecs(day)
            startTai = DateTime(start, DateTime.UTC).nsecs(DateTime.TAI)
            utcPoints = [start + offset for offset in (0, 1, 500_000_000)]
            utcPoints += [start - offset for offset in (1, 10**9, NSEC_PER_DAY // 2) if day.year > 1961]
            utcPoints += [start + rng.randrange(100 * NSEC_PER_DAY) for _ in range(20)]
            taiPoints = [startTai + offset for offset in (-2 * 10**9, -(10**9), -1, 0, 1, 500_000_000)]
            taiPoints += [startTai + rng.randrange(100 * NSEC_PER_DAY) for _ in range(20)]
            for nsecs in utcPoints:
                with self.subTest(utc=nsecs):
                    self.assertEqual(
                        ModelDateTime(nsecs, ModelDateTime.UTC).nsecs(ModelDateTime.TAI),
                        DateTime(nsecs, DateTime.UTC).nsecs(DateTime.TAI),
                    )
                count += 1
            for nsecs in taiPoints:
                if day.year == 1961 and nsecs < startTai:
                    continue
                with self.subTest(tai=nsecs):
                    self.assertEqual(
                        ModelDateTime(nsecs, ModelDateTime.TAI).nsecs(ModelDateTime.UTC),
                        DateTime(nsecs, DateTime.TAI).nsecs(DateTime.UTC),
                    )
                count += 1
        self.assertGreater(count, 1500)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
