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

"""Header cards of afw's FITS layout, shared by the reader and the writer.

Key names and sets (structural, WCS, VisitInfo, archive ids, ``xy0``),
header ↔ `PropertyList` conversion with afw's rules for ``COMMENT``/``HISTORY``
and ``INHERIT``, and the VisitInfo, filter and ``xy0`` keys.
"""

from __future__ import annotations

__all__ = [
    "ARCHIVE_ID_KEYS",
    "EXPOSURE_SERIALIZATION_VERSION",
    "MODEL_DETECTOR_KEYS",
    "MODEL_PSF_EXTNAME",
    "UNWRITTEN_KEYS",
    "VISIT_INFO_KEYS",
    "WCS_KEY",
    "XY0_KEYS",
    "filterFromName",
    "headerToPropertyList",
    "inheritMetadata",
    "metadataCards",
    "readXY0",
    "setKey",
    "setVisitInfoMetadata",
    "visitInfoFromMetadata",
    "xy0Cards",
]

import math
import re
import warnings

import numpy as np
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning

from .. import geom
from ..exceptions import FitsError
from ..image.filterLabel import FilterLabel
from ..image.metadata import PropertyList
from ..image.visitInfo import DateTime, Observatory, RotType, VisitInfo, Weather
from ..image.wcs import getImageXY0FromMetadata

EXPOSURE_SERIALIZATION_VERSION = 2
# Cards of the FITS structure, not metadata: afw's reader drops them (and
# the exposure reader's own EXTTYPE and INHERIT), its writer makes them
_STRUCTURAL_KEYS = {
    "SIMPLE",
    "BITPIX",
    "NAXIS",
    "NAXIS1",
    "NAXIS2",
    "NAXIS3",
    "EXTEND",
    "XTENSION",
    "PCOUNT",
    "GCOUNT",
    "BZERO",
    "BSCALE",
    "CHECKSUM",
    "DATASUM",
    "EXTTYPE",
    "INHERIT",
}
# Metadata names the writer leaves out: afw writes no EXTNAME of the
# metadata into the primary HDU (the plane HDUs get their own)
UNWRITTEN_KEYS = _STRUCTURAL_KEYS | {"EXTNAME"}
# Commentary keywords: repeated cards are one name with several values
_COMMENTARY_KEYS = ("COMMENT", "HISTORY")
# The text cfitsio (and astropy) put in every primary header; afw drops it
_FITS_STANDARD_COMMENTS = {
    "FITS (Flexible Image Transport System) format is defined in 'Astronomy",
    "and Astrophysics', volume 376, page 359; bibcode: 2001A&A...376..359H",
}
# Keywords of a FITS WCS that afw consumes (strips) when it reads the WCS
# of the image HDU; checked against afw: the SIP ``*_ORDER`` and
# ``*_DMAX`` keys, ``CROTAn``, ``CRDERn`` and ``CSYERn`` stay in its metadata
WCS_KEY = re.compile(
    r"(WCSAXES|WCSNAME|RADESYS|EQUINOX|LONPOLE|LATPOLE)[A-Z]?"
    r"|(CRPIX|CRVAL|CTYPE|CUNIT|CDELT|CNAME)\d+[A-Z]?"
    r"|(CD|PC|PV|PS)\d+_\d+[A-Z]?"
    r"|EPOCH"
    r"|(A|B|AP|BP)_\d+_\d+"
)
# The ``A`` WCS giving ``xy0``, stripped by afw when it reads ``xy0`` from it
XY0_KEYS = tuple(f"{key}{axis}A" for key in ("CRPIX", "CRVAL", "CTYPE", "CUNIT") for axis in (1, 2))
VISIT_INFO_KEYS = (
    "EXPID",
    "EXPTIME",
    "DARKTIME",
    "DATE-AVG",
    "TIMESYS",
    "TIME-MID",
    "MJD-AVG-UT1",
    "AVG-ERA",
    "BORE-RA",
    "BORE-DEC",
    "BORE-AZ",
    "BORE-ALT",
    "BORE-AIRMASS",
    "BORE-ROTANG",
    "ROTTYPE",
    "OBS-LONG",
    "OBS-LAT",
    "OBS-ELEV",
    "AIRTEMP",
    "AIRPRESS",
    "HUMIDITY",
    "INSTRUMENT",
    "IDNUM",
    "FOCUSZ",
    "OBSTYPE",
    "PROGRAM",
    "REASON",
    "OBJECT",
    "HAS-SIMULATED-CONTENT",
)
# Old-style archive id keys (afw ExposureFitsReader::ArchiveReader)
ARCHIVE_ID_KEYS = (
    "PSF_ID",
    "SKYWCS_ID",
    "COADD_INPUTS_ID",
    "AP_CORR_MAP_ID",
    "VALID_POLYGON_ID",
    "TRANSMISSION_CURVE_ID",
    "DETECTOR_ID",
    "PHOTOCALIB_ID",
)
MODEL_DETECTOR_KEYS = ("APDETID", "APDETBOX", "APDETTYP", "APDETPHY")
MODEL_PSF_EXTNAME = "MODEL_PSF"
_BANDS = {"u", "g", "r", "i", "z", "y", "SH", "PH", "VR", "white"}
_AFW_FILTER_NAMES = {
    "r2": FilterLabel(band="r", physical="HSC-R2"),
    "i2": FilterLabel(band="i", physical="HSC-I2"),
    "SOLID": FilterLabel(physical="solid plate 0.0 0.0"),
}


# ================================================================ helpers


def _key(name: str) -> str:
    """FITS card name, with HIERARCH for long or non-standard names."""
    if len(name) <= 8 and re.fullmatch(r"[A-Z0-9_-]+", name):
        return name
    return "HIERARCH " + name


def setKey(header: fits.Header, name: str, value, comment: str | None = None) -> None:
    """Set card ``name`` in place, or add it after the last card.

    A new card goes after any ``COMMENT``/``HISTORY`` cards too (astropy
    would put it before trailing ones), so the cards keep the order of
    the metadata, as afw writes them.
    """
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return  # FITS cannot hold NaN/inf; afw also omits non-finite values
    if isinstance(value, np.generic):
        value = value.item()
    key = _key(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)  # over-long comments are truncated
        if key in header:
            header[key] = (value, comment) if comment else value
        else:
            header.append(fits.Card(key, value, comment or ""), end=True)


def metadataCards(header: fits.Header, metadata: PropertyList, skip=()) -> None:
    """Append ``metadata`` to ``header`` as afw writes it.

    ``COMMENT``/``HISTORY`` get one card per value; any other name its last
    value with its comment (afw reads a repeated keyword back as its last).
    """
    for name in metadata.names():
        if name in skip:
            continue
        if name in _COMMENTARY_KEYS:
            for text in metadata.getArray(name):
                header.append((name, str(text)), end=True)
            continue
        value = metadata.getScalar(name)
        if value is not None:
            setKey(header, name, value, metadata.getComment(name) or None)


def headerToPropertyList(header: fits.Header) -> PropertyList:
    """The metadata of one HDU, as afw reads it.

    Structural cards are dropped; a repeated keyword keeps its first place
    and its last value, except ``COMMENT`` and ``HISTORY``, whose cards are
    all kept, in order, as the values of one name.  As afw, the FITS
    standard's own comment lines are dropped, and a card with a blank
    keyword and some text is a ``COMMENT``.
    """
    result = PropertyList()
    for card in header.cards:
        name = card.keyword
        if name in _STRUCTURAL_KEYS:
            continue
        if name == "":
            if not str(card.value).strip():
                continue
            name = "COMMENT"
        if name in _COMMENTARY_KEYS:
            text = str(card.value)
            if text.strip() not in _FITS_STANDARD_COMMENTS:
                result.add(name, text)
            continue
        result.set(name, card.value, card.comment)
    return result


def inheritMetadata(primary: PropertyList, extension: PropertyList) -> PropertyList:
    """Merge the metadata of an ``INHERIT`` extension into the primary's.

    As afw: commentary values are appended; any other name of the
    extension replaces the primary's and moves to the extension's place,
    after the primary's names.
    """
    result = primary.deepCopy()
    for name in extension.names():
        values = extension.getArray(name)
        if name in _COMMENTARY_KEYS:
            result.add(name, values)
        else:
            result.remove(name)
            result.set(name, values, extension.getComment(name))
    return result


def visitInfoFromMetadata(md: PropertyList) -> VisitInfo:
    """afw ``VisitInfo(PropertySet)``: NaN/empty for missing keys."""
    nan = float("nan")

    def num(key):
        try:
            return float(md.getScalar(key)) if md.exists(key) else nan
        except (TypeError, ValueError):
            return nan

    def text(key):
        return str(md.getScalar(key)).rstrip() if md.exists(key) else ""

    date = DateTime()
    if md.exists("DATE-AVG"):
        timesys = text("TIMESYS")
        if timesys != "TAI":
            raise FitsError(f"TIMESYS = {timesys!r}; VisitInfo requires TIMESYS to exist and to equal 'TAI'")
        date = DateTime(text("DATE-AVG"), DateTime.TAI)
    elif md.exists("TIME-MID"):
        # outdated keyword whose time scale was UTC despite its comment
        date = DateTime(text("TIME-MID").rstrip("Z") + "Z", DateTime.UTC)
    rotType = RotType.UNKNOWN
    if md.exists("ROTTYPE"):
        name = text("ROTTYPE")
        if name not in RotType.__members__:
            raise FitsError(f"Unknown ROTTYPE {name!r}")
        rotType = RotType[name]
    exposureTime = nan
    if md.exists("EXPTIME"):
        exposureTime = float(md.getScalar("EXPTIME"))  # old files store it as a string
    return VisitInfo(
        exposureTime=exposureTime,
        darkTime=num("DARKTIME"),
        date=date,
        ut1=num("MJD-AVG-UT1"),
        era=num("AVG-ERA") * geom.degrees,
        boresightRaDec=geom.SpherePoint(num("BORE-RA") * geom.degrees, num("BORE-DEC") * geom.degrees),
        boresightAzAlt=geom.SpherePoint(num("BORE-AZ") * geom.degrees, num("BORE-ALT") * geom.degrees),
        boresightAirmass=num("BORE-AIRMASS"),
        boresightRotAngle=num("BORE-ROTANG") * geom.degrees,
        rotType=rotType,
        observatory=Observatory(
            num("OBS-LONG") * geom.degrees, num("OBS-LAT") * geom.degrees, num("OBS-ELEV")
        ),
        weather=Weather(num("AIRTEMP"), num("AIRPRESS"), num("HUMIDITY")),
        instrumentLabel=text("INSTRUMENT"),
        id=int(md.getScalar("IDNUM")) if md.exists("IDNUM") else 0,
        focusZ=num("FOCUSZ"),
        observationType=text("OBSTYPE"),
        scienceProgram=text("PROGRAM"),
        observationReason=text("REASON"),
        object=text("OBJECT"),
        hasSimulatedContent=bool(md.getScalar("HAS-SIMULATED-CONTENT"))
        if md.exists("HAS-SIMULATED-CONTENT")
        else False,
    )


def setVisitInfoMetadata(header: fits.Header, vi: VisitInfo) -> None:
    """afw ``setVisitInfoMetadata``: non-finite values are omitted."""
    setKey(header, "EXPTIME", vi.getExposureTime(), "Exposure time (sec)")
    setKey(header, "DARKTIME", vi.getDarkTime(), "Time from CCD flush to readout (sec)")
    if vi.getDate().isValid():
        setKey(header, "DATE-AVG", vi.getDate().toString(DateTime.TAI), "TAI date at middle of observation")
        setKey(header, "TIMESYS", "TAI")
    setKey(header, "MJD-AVG-UT1", vi.getUt1(), "UT1 MJD date at ctr of obs")
    setKey(header, "AVG-ERA", vi.getEra().asDegrees(), "Earth rot ang at ctr of obs (deg)")
    raDec, azAlt = vi.getBoresightRaDec(), vi.getBoresightAzAlt()
    setKey(header, "BORE-RA", raDec.getRa().asDegrees(), "ICRS RA (deg) at boresight")
    setKey(header, "BORE-DEC", raDec.getDec().asDegrees(), "ICRS Dec (deg) at boresight")
    setKey(header, "BORE-AZ", azAlt.getLongitude().asDegrees(), "Refr app topo az (deg) at bore")
    setKey(header, "BORE-ALT", azAlt.getLatitude().asDegrees(), "Refr app topo alt (deg) at bore")
    setKey(header, "BORE-AIRMASS", vi.getBoresightAirmass(), "Airmass at boresight")
    setKey(header, "BORE-ROTANG", vi.getBoresightRotAngle().asDegrees(), "Rotation angle (deg) at boresight")
    setKey(header, "ROTTYPE", vi.getRotType().name, "Type of rotation angle")
    obs, weather = vi.getObservatory(), vi.getWeather()
    setKey(header, "OBS-LONG", obs.getLongitude().asDegrees(), "Telescope longitude (+E, deg)")
    setKey(header, "OBS-LAT", obs.getLatitude().asDegrees(), "Telescope latitude (deg)")
    setKey(header, "OBS-ELEV", obs.getElevation(), "Telescope elevation (m)")
    setKey(header, "AIRTEMP", weather.getAirTemperature(), "Outside air temperature (C)")
    setKey(header, "AIRPRESS", weather.getAirPressure(), "Outdoor air pressure (P)")
    setKey(header, "HUMIDITY", weather.getHumidity(), "Relative humidity (%)")
    for key, value, comment in (
        ("INSTRUMENT", vi.getInstrumentLabel(), "Short name of the instrument that took this data"),
        ("OBSTYPE", vi.getObservationType(), "Type of this observation"),
        ("PROGRAM", vi.getScienceProgram(), "observing program (survey or proposal) identifier"),
        ("REASON", vi.getObservationReason(), "reason this observation was taken, or its purpose"),
        ("OBJECT", vi.getObject(), "object of interest or field name"),
    ):
        if value:
            setKey(header, key, value, comment)
    if vi.getId() != 0:
        setKey(header, "IDNUM", vi.getId(), "identifier of this full focal plane exposure")
    setKey(header, "FOCUSZ", vi.getFocusZ(), "Defocal distance (mm)")
    setKey(
        header,
        "HAS-SIMULATED-CONTENT",
        vi.getHasSimulatedContent(),
        "Was any part of this observation simulated?",
    )


def filterFromName(name: str) -> FilterLabel | None:
    """afw's heuristic for the old ``FILTER`` keyword."""
    name = name.rstrip()
    if name in ("_unknown_", ""):
        return None
    if name in _AFW_FILTER_NAMES:
        return _AFW_FILTER_NAMES[name]
    if name in _BANDS or re.fullmatch(r"N\d+", name) or re.fullmatch(r"I\d{2,}", name):
        return FilterLabel(band=name)
    return FilterLabel(physical=name)


# ================================================================ images


def readXY0(header: fits.Header) -> geom.Point2I:
    if "CRVAL1A" in header and "CRVAL2A" in header:
        return getImageXY0FromMetadata(header)
    if "LTV1" in header and "LTV2" in header:
        return geom.Point2I(-round(float(header["LTV1"])), -round(float(header["LTV2"])))
    return geom.Point2I(0, 0)


def xy0Cards(header: fits.Header, xy0: geom.Point2I) -> None:
    """``LTV`` (for ds9) and the ``A`` WCS (read back by afw) for ``xy0``."""
    header["LTV1"] = float(-xy0.getX())
    header["LTV2"] = float(-xy0.getY())
    header["CTYPE1A"] = ("LINEAR", "Type of projection")
    header["CTYPE2A"] = ("LINEAR", "Type of projection")
    header["CRPIX1A"] = (1.0, "Column Pixel Coordinate of Reference")
    header["CRPIX2A"] = (1.0, "Row Pixel Coordinate of Reference")
    header["CRVAL1A"] = (float(xy0.getX()), "Column pixel of Reference Pixel")
    header["CRVAL2A"] = (float(xy0.getY()), "Row pixel of Reference Pixel")
    header["CUNIT1A"] = ("PIXEL", "Column unit")
    header["CUNIT2A"] = ("PIXEL", "Row unit")
