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

"""FITS persistence of the image model, in afw's on-disk layout.

Reading (`readExposureFits`) handles files written by afw (any
``EXPINFO_V``) and by this module:

* HDU 1/2/3 = image, mask, variance (checked against ``EXTTYPE``); ``xy0``
  from the ``A`` WCS (``CRVAL1A/CRVAL2A``), else from ``-LTV1/-LTV2``;
  mask planes from ``MP_*`` keys, renumbered onto the process-wide planes
  as afw does (`image._conformMaskPlanes`);
* the WCS from the FITS keywords of the image HDU (TAN, TAN-SIP, other
  FITS projections; FK5 J2000 converted to ICRS).  afw writes header WCS
  keywords whenever its WCS is exactly FITS-representable; a WCS stored
  *only* in the archive (an AST serialisation) cannot be read and raises
  `FitsError` naming the HDU;
* primary-header metadata as afw's ``ExposureFitsReader``: ``EXPID`` (the
  exposure id), VisitInfo keys (``EXPTIME``, ``DARKTIME``, ``DATE-AVG`` with
  ``TIMESYS='TAI'`` or legacy UTC ``TIME-MID``, ``BORE-RA``, ``BORE-DEC``,
  ``BORE-ROTANG``, ``ROTTYPE``, ``OBS-*``, ``IDNUM``, ``REASON``,
  ``OBJECT``, ...), ``FILTER`` (files before EXPINFO_V 2), ``FLUXMAG0``
  (EXPINFO_V 0); the keys used are stripped, the rest become the exposure
  metadata;
* the exposure metadata as afw's (names, values, types, comments, order):
  the primary HDU's merged with the image HDU's (``INHERIT``; in older
  files the image HDU's alone), less the structural, WCS and ``xy0`` keys
  and those of the components read.  ``COMMENT`` and ``HISTORY`` cards
  are the values of one name each (without the FITS standard's own
  comment lines); ``EXPINFO_V``, ``EXTNAME``, ``FILTER`` and the SIP
  ``*_ORDER`` keys stay, as in afw;
* archive tables (``AR_HDU``): PhotoCalib (spatially constant, or a
  constant Chebyshev field; otherwise `FitsError`), FilterLabel, Detector
  (name, id, serial, bbox, type, physical type and pixel size; its
  amplifiers, orientation and transforms are dropped), GaussianPsf.
  Other components (other PSF classes, aperture corrections, polygons,
  ...) are skipped with a log message; the exposure then has no PSF.

Writing (`writeExposureFits`) produces the same layout, ``EXPINFO_V = 2``:
primary HDU with the metadata (``COMMENT``/``HISTORY`` one card per
value, no ``EXTNAME``), ``EXPID``, VisitInfo keys, ``DETNAME``/``DETSER``; image,
mask and variance HDUs with ``EXTTYPE``/``EXTNAME``, the WCS keywords,
``LTV1/LTV2`` and the ``A`` WCS for ``xy0``, ``MP_*`` keys; an archive
(index + catalogs) holding the PhotoCalib (+ its constant Chebyshev
field), the FilterLabel, a GaussianPsf and the Detector, laid out as afw
writes them.  The Detector is afw's cameraGeom Detector record (version 2)
with an empty amplifier catalog, afw's default orientation and a
TransformMap whose one connection, FOCAL_PLANE -> PIXELS, is an
AST-serialised WinMap from the pixel size, so real afw reads it back as a
``lsst.afw.cameraGeom.Detector``.  Model-only extra that afw ignores: a
`KernelPsf` image in a trailing ``MODEL_PSF`` HDU.  The WCS is not written
to the archive (afw then falls back to the header WCS).  Files written by
earlier versions of the model, with the detector in primary keys
``APDETID``, ``APDETBOX``, ``APDETTYP``, ``APDETPHY``, are still read.

The classes' own ``readFits``/``writeFits`` (afw's API) are added here with
`lsst.utils.continueClass`, as afw adds its Python methods to its wrapped
classes, so the class modules do not import this reader and writer.
"""

from __future__ import annotations

__all__ = [
    "readExposureFits",
    "readImageFits",
    "readPersistableFits",
    "writeExposureFits",
    "writeImageFits",
    "writePersistableFits",
]

import functools
import io
import logging
import math
import re
import warnings
from collections import defaultdict

import numpy as np
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning

from lsst.utils import continueClass

from .. import geom
from .detector import Detector, DetectorType
from .exceptions import FitsError
from .exposure import Exposure, ExposureF, ExposureInfo
from .filterLabel import FilterLabel
from .image import Image, ImageF, Mask, MaskedImage, _conformMaskPlanes
from .metadata import PropertyList
from .photoCalib import PhotoCalib, makePhotoCalibFromCalibZeroPoint
from .psf import GaussianPsf, KernelPsf
from .visitInfo import DateTime, Observatory, RotType, VisitInfo, Weather
from .wcs import SkyWcs, getImageXY0FromMetadata

_log = logging.getLogger(__name__)

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
_UNWRITTEN_KEYS = _STRUCTURAL_KEYS | {"EXTNAME"}
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
_WCS_KEY = re.compile(
    r"(WCSAXES|WCSNAME|RADESYS|EQUINOX|LONPOLE|LATPOLE)[A-Z]?"
    r"|(CRPIX|CRVAL|CTYPE|CUNIT|CDELT|CNAME)\d+[A-Z]?"
    r"|(CD|PC|PV|PS)\d+_\d+[A-Z]?"
    r"|EPOCH"
    r"|(A|B|AP|BP)_\d+_\d+"
)
# The ``A`` WCS giving ``xy0``, stripped by afw when it reads ``xy0`` from it
_XY0_KEYS = tuple(f"{key}{axis}A" for key in ("CRPIX", "CRVAL", "CTYPE", "CUNIT") for axis in (1, 2))
_VISIT_INFO_KEYS = (
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
_ARCHIVE_ID_KEYS = (
    "PSF_ID",
    "SKYWCS_ID",
    "COADD_INPUTS_ID",
    "AP_CORR_MAP_ID",
    "VALID_POLYGON_ID",
    "TRANSMISSION_CURVE_ID",
    "DETECTOR_ID",
    "PHOTOCALIB_ID",
)
_MODEL_DETECTOR_KEYS = ("APDETID", "APDETBOX", "APDETTYP", "APDETPHY")
_MODEL_PSF_EXTNAME = "MODEL_PSF"
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


def _setKey(header: fits.Header, name: str, value, comment: str | None = None) -> None:
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


def _metadataCards(header: fits.Header, metadata: PropertyList, skip=()) -> None:
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
            _setKey(header, name, value, metadata.getComment(name) or None)


def _headerToPropertyList(header: fits.Header) -> PropertyList:
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


def _inheritMetadata(primary: PropertyList, extension: PropertyList) -> PropertyList:
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


def _cellString(value) -> str:
    """A string table cell (fixed or variable length) as `str`."""
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("ascii", "replace").rstrip("\x00 ")
    if isinstance(value, str):
        return value.rstrip("\x00 ")
    # variable-length strings come back as arrays of single characters;
    # read the raw buffer, since chararray access drops blanks
    raw = np.asarray(value).view(np.ndarray)
    return "".join(raw.tolist()).rstrip("\x00")


class _Catalog:
    """Rows of one archive catalog (a binary table HDU)."""

    def __init__(self, hdu, hduIndex: int, row0: int, nrows: int):
        self.hdu = hdu
        self.hduIndex = hduIndex
        self.rows = range(row0, row0 + nrows)

    # parsed on first use: readers skip some catalogs (e.g. amplifiers)
    @functools.cached_property
    def names(self) -> set:
        return set(self.hdu.columns.names)

    @functools.cached_property
    def flagNames(self) -> dict:
        flagNames = {}
        header = self.hdu.header
        for key in header:
            match = re.fullmatch(r"TFLAG(\d+)", key)
            if match:
                flagNames[header[key]] = int(match.group(1)) - 1
        return flagNames

    def get(self, name, row=0, default=None):
        if name not in self.names:
            return default
        return self.hdu.data[name][self.rows[row]]

    def getString(self, name, row=0, default=""):
        if name not in self.names:
            return default
        return _cellString(self.hdu.data[name][self.rows[row]])

    def flag(self, name, row=0) -> bool:
        if name not in self.flagNames or "flags" not in self.names:
            return False
        return bool(np.asarray(self.hdu.data["flags"][self.rows[row]]).ravel()[self.flagNames[name]])

    def where(self) -> str:
        return f"HDU {self.hduIndex} ({self.hdu.header.get('AR_NAME', '?')})"


class _UnsupportedComponent(Exception):
    pass


class _ArchiveReader:
    """afw ``InputArchive``: an index table plus the catalogs after it."""

    def __init__(self, hdul, indexHdu: int):
        if indexHdu >= len(hdul):
            raise FitsError(f"Archive HDU {indexHdu} (AR_HDU={indexHdu + 1}) does not exist")
        index = hdul[indexHdu]
        if index.header.get("EXTTYPE", "ARCHIVE_INDEX").strip() != "ARCHIVE_INDEX":
            raise FitsError(
                f"HDU {indexHdu} is not an afw archive index (EXTTYPE={index.header.get('EXTTYPE')})"
            )
        self._hdul = hdul
        self._indexHdu = indexHdu
        self._entries = defaultdict(list)
        data = index.data
        if data is not None:
            for row in data:
                self._entries[int(row["id"])].append(
                    (
                        int(row["cat.persistable"]),
                        int(row["cat.archive"]),
                        int(row["row0"]),
                        int(row["nrows"]),
                        _cellString(row["name"]),
                        _cellString(row["module"]),
                    )
                )
        self._cache = {}

    def name(self, archiveId: int) -> str | None:
        entries = self._entries.get(archiveId)
        return entries[0][4] if entries else None

    def catalogs(self, archiveId: int) -> list[_Catalog]:
        result = []
        for _, catArchive, row0, nrows, _, _ in sorted(self._entries[archiveId]):
            hduIndex = self._indexHdu + catArchive
            if hduIndex >= len(self._hdul):
                raise FitsError(f"Archive catalog {catArchive} (HDU {hduIndex}) is missing")
            result.append(_Catalog(self._hdul[hduIndex], hduIndex, row0, nrows))
        return result

    def get(self, archiveId: int):
        """Return the object with ``archiveId`` (None for id 0)."""
        if archiveId == 0:
            return None
        if archiveId in self._cache:
            return self._cache[archiveId]
        name = self.name(archiveId)
        if name is None:
            raise FitsError(f"Archive id {archiveId} not found in archive at HDU {self._indexHdu}")
        reader = _ARCHIVE_READERS.get(name)
        if reader is None:
            raise _UnsupportedComponent(f"{name} (archive id {archiveId}) cannot be read by the model")
        result = reader(self, self.catalogs(archiveId), archiveId)
        self._cache[archiveId] = result
        return result


# ---------------------------------------------------- archive object readers


def _readPhotoCalib(archive, catalogs, archiveId):
    cat = catalogs[0]
    version = int(cat.get("version", default=0))
    if version < 1:
        raise FitsError(f"PhotoCalib version {version} (in maggies) in {cat.where()} is not supported")
    mean = float(cat.get("calibrationMean"))
    err = float(cat.get("calibrationErr"))
    if not cat.flag("isConstant"):
        fieldId = int(cat.get("field"))
        fieldName = archive.name(fieldId)
        constant = False
        if fieldName == "ChebyshevBoundedField":
            field = archive.catalogs(fieldId)[0]
            coefficients = np.atleast_1d(np.asarray(field.get("coefficients"), dtype=float))
            constant = int(field.get("order_x")) == 0 and coefficients.size == 1
        if not constant:
            raise FitsError(
                f"PhotoCalib in {cat.where()} is spatially varying ({fieldName}, archive id "
                f"{fieldId}); only constant calibrations are supported"
            )
    return PhotoCalib(mean, err)


def _readChebyshevBoundedField(archive, catalogs, archiveId):
    raise _UnsupportedComponent("ChebyshevBoundedField is only read as part of a PhotoCalib")


def _readFilterLabel(archive, catalogs, archiveId):
    cat = catalogs[0]
    band = cat.getString("band") if cat.flag("band_exists") else None
    physical = cat.getString("physical") if cat.flag("physical_exists") else None
    return FilterLabel(band=band, physical=physical)


def _readDetector(archive, catalogs, archiveId):
    cat = catalogs[0]
    # max < min is an empty box (as afw reads it), not one to invert
    bbox = geom.Box2I(
        geom.Point2I(int(cat.get("bbox_min_x")), int(cat.get("bbox_min_y"))),
        geom.Point2I(int(cat.get("bbox_max_x")), int(cat.get("bbox_max_y"))),
        invert=False,
    )
    detType = int(cat.get("type", default=0))
    pixelSize = None
    if cat.get("pixelSize_x") is not None:
        pixelSize = (float(cat.get("pixelSize_x")), float(cat.get("pixelSize_y")))
    # amplifiers, orientation and transforms are not modelled and are dropped
    return Detector(
        cat.getString("name"),
        int(cat.get("id")),
        bbox,
        serial=cat.getString("serial"),
        physicalType=cat.getString("physicalType"),
        type=DetectorType(detType) if detType in DetectorType._value2member_map_ else DetectorType.SCIENCE,
        pixelSize=pixelSize,
    )


def _readGaussianPsf(archive, catalogs, archiveId):
    cat = catalogs[0]
    return GaussianPsf(int(cat.get("dimensions_x")), int(cat.get("dimensions_y")), float(cat.get("sigma")))


def _readVisitInfo(archive, catalogs, archiveId):
    cat = catalogs[0]
    nan = float("nan")

    def num(name):
        value = cat.get(name)
        return nan if value is None else float(value)

    tai = cat.get("tai")
    date = DateTime(int(tai), DateTime.TAI) if tai is not None else DateTime()
    if date.isValid() and int(tai) == -(2**63):
        date = DateTime()
    return VisitInfo(
        exposureTime=num("exposuretime"),
        darkTime=num("darktime"),
        date=date,
        ut1=num("ut1"),
        era=num("era") * geom.radians,
        boresightRaDec=geom.SpherePoint(
            num("boresightradec_ra") * geom.radians, num("boresightradec_dec") * geom.radians
        ),
        boresightAzAlt=geom.SpherePoint(
            num("boresightazalt_az") * geom.radians, num("boresightazalt_alt") * geom.radians
        ),
        boresightAirmass=num("boresightairmass"),
        boresightRotAngle=num("boresightrotangle") * geom.radians,
        rotType=RotType(int(cat.get("rottype", default=0))),
        observatory=Observatory(
            num("longitude") * geom.radians, num("latitude") * geom.radians, num("elevation")
        ),
        weather=Weather(num("airtemperature"), num("airpressure"), num("humidity")),
        instrumentLabel=cat.getString("instrumentlabel"),
        id=int(cat.get("idnum", default=0)),
        focusZ=num("focusz"),
        observationType=cat.getString("observationType"),
        scienceProgram=cat.getString("scienceProgram"),
        observationReason=cat.getString("observationReason"),
        object=cat.getString("object"),
        hasSimulatedContent=cat.flag("hasSimulatedContent"),
    )


_ARCHIVE_READERS = {
    "PhotoCalib": _readPhotoCalib,
    "ChebyshevBoundedField": _readChebyshevBoundedField,
    "FilterLabel": _readFilterLabel,
    "Detector": _readDetector,
    "GaussianPsf": _readGaussianPsf,
    "VisitInfo": _readVisitInfo,
}


# ---------------------------------------------------------- archive writer


class _Field:
    """One afw-table field of an archive catalog."""

    def __init__(self, name, fitsFormat, values, tccls="Scalar", unit=None, doc=None):
        self.name, self.format, self.values = name, fitsFormat, values
        self.tccls, self.unit, self.doc = tccls, unit, doc


class _Flag:
    """One afw-table flag field (a bit of the ``flags`` column); ``value``
    is the flag of the single row, or a sequence with one per row."""

    def __init__(self, name, value, doc=None):
        self.name, self.doc = name, doc
        self.values = [bool(v) for v in value] if np.ndim(value) else [bool(value)]


def _makeCatalogHdu(items, nrows=1) -> fits.BinTableHDU:
    """Build a binary table laid out like an afw-table catalog.

    ``items`` are `_Field` and `_Flag` in schema order, each with ``nrows``
    values (``nrows`` may be 0: an empty catalog still carries its schema).
    afw rebuilds the schema from the header keys in the order they come, so
    the keys are written as afw writes them: the ``flags`` column first,
    then per item ``TTYPE TFORM TDOC TUNIT TCCLS`` (a field) or ``TFLAG
    TFDOC`` (a flag).
    """
    with warnings.catch_warnings():
        # long TDOC/comment cards are continued or truncated, as afw's are
        warnings.simplefilter("ignore", VerifyWarning)
        return _makeCatalogHduImpl(items, nrows)


def _makeCatalogHduImpl(items, nrows) -> fits.BinTableHDU:
    flags = [item for item in items if isinstance(item, _Flag)]
    fields = [item for item in items if isinstance(item, _Field)]
    columns = []
    if flags:
        bits = np.zeros((nrows, len(flags)), dtype=bool)
        for j, flag in enumerate(flags):
            if nrows:
                bits[:, j] = flag.values
        columns.append(fits.Column(name="flags", format=f"{len(flags)}X", array=bits))
    for field in fields:
        columns.append(fits.Column(name=field.name, format=field.format, unit=field.unit, array=field.values))
    hdu = fits.BinTableHDU.from_columns(columns)
    cards = []
    column = 1 if flags else 0
    if flags:
        cards += [
            ("TTYPE1", "flags", "bits for all Flag fields; see also TFLAGn"),
            ("TFORM1", f"{len(flags)}X", "format of field"),
            ("FLAGCOL", 1, "Column number for the bitflags."),
        ]
    nFlag = 0
    for item in items:
        if isinstance(item, _Flag):
            nFlag += 1
            cards.append((f"TFLAG{nFlag}", item.name, None))
            if item.doc:
                cards.append((f"TFDOC{nFlag}", item.doc, None))
            continue
        column += 1
        cards.append((f"TTYPE{column}", item.name, "label for field"))
        cards.append((f"TFORM{column}", hdu.header[f"TFORM{column}"], "format of field"))
        if item.doc:
            cards.append((f"TDOC{column}", item.doc, None))
        if item.unit:
            cards.append((f"TUNIT{column}", item.unit, None))
        cards.append((f"TCCLS{column}", item.tccls, "Field template used by lsst.afw.table"))
    # astropy keeps column keywords in its own order: lay the header out
    # here and parse header + data back as one HDU, as if read from a file
    header = fits.Header()
    for card in hdu.header.cards:
        if card.keyword == "TFIELDS":
            header.append(card)
            header.extend(cards)
        elif not re.match(r"^(T(TYPE|FORM|UNIT)\d+)$", card.keyword):
            header.append(card)
    buffer = io.BytesIO()
    primary = fits.PrimaryHDU()
    fits.HDUList([primary, hdu]).writeto(buffer)
    data = buffer.getvalue()[len(primary.header.tostring()) + len(hdu.header.tostring()) :]
    return fits.BinTableHDU.fromstring(header.tostring().encode("ascii") + data)


class _ArchiveWriter:
    """afw ``OutputArchive``: ids from 1, an index table, one catalog per
    saved object."""

    def __init__(self):
        self._catalogs = []  # (className, module, archiveId, hdu, catPersistable)
        self._nextId = 1
        self._ids = {}

    def _save(self, className, module, archiveId, hdu, catPersistable=0):
        """Add ``hdu`` as catalog ``catPersistable`` of object ``archiveId``."""
        self._catalogs.append((className, module, archiveId, hdu, catPersistable))

    def _newId(self) -> int:
        archiveId = self._nextId
        self._nextId += 1
        return archiveId

    def put(self, obj) -> int:
        """Save ``obj`` (each object once) and return its archive id.

        Returns 0 for `None`, afw's id of a missing object.

        Raises
        ------
        FitsError
            If the model has no afw archive layout for the type of ``obj``.
        """
        if obj is None:
            return 0
        if id(obj) in self._ids:
            return self._ids[id(obj)]
        writer = self._writerFor(obj)
        archiveId = self._newId()
        self._ids[id(obj)] = archiveId
        writer(self, obj, archiveId)
        return archiveId

    @classmethod
    def _writerFor(cls, obj):
        """The ``_put*`` method for the type of ``obj`` (or a base of it)."""
        for base in type(obj).__mro__:
            writer = cls._WRITERS.get(base)
            if writer is not None:
                return writer
        raise FitsError(f"The model cannot persist {type(obj).__name__} in an afw archive")

    def _putPhotoCalib(self, photoCalib: PhotoCalib, archiveId: int) -> None:
        """Save a (spatially constant) PhotoCalib as afw's version-1 record
        and its calibration as the constant ChebyshevBoundedField afw
        stores with it."""
        mean = photoCalib.getCalibrationMean()
        fieldId = self._newId()
        self._save(
            "PhotoCalib",
            "",
            archiveId,
            _makeCatalogHdu(
                [
                    _Field(
                        "calibrationMean",
                        "1D",
                        [mean],
                        unit="count",
                        doc="mean calibration on this PhotoCalib's domain",
                    ),
                    _Field(
                        "calibrationErr",
                        "1D",
                        [photoCalib.getCalibrationErr()],
                        unit="count",
                        doc="1-sigma error on calibrationMean",
                    ),
                    _Flag("isConstant", True, "Is this spatially-constant?"),
                    _Field("field", "1J", [fieldId], doc="archive ID of the BoundedField object"),
                    _Field("version", "1J", [1], doc="version of this PhotoCalib"),
                ]
            ),
        )
        # the constant calibration as afw stores it: an order-0 Chebyshev field on an empty box
        self._save(
            "ChebyshevBoundedField",
            "lsst.afw.math",
            fieldId,
            _makeCatalogHdu(
                [
                    _Field("order_x", "1J", [0], doc="maximum Chebyshev function order in x"),
                    _Field("bbox_min_x", "1J", [0], unit="pixel", doc="bounding box (minimum)"),
                    _Field("bbox_min_y", "1J", [0], unit="pixel", doc="bounding box (minimum)"),
                    _Field("bbox_max_x", "1J", [-1], unit="pixel", doc="bounding box (maximum)"),
                    _Field("bbox_max_y", "1J", [-1], unit="pixel", doc="bounding box (maximum)"),
                    _Field(
                        "coefficients",
                        "1D",
                        np.array([[mean]]),
                        tccls="Array",
                        doc="Chebyshev function coefficients, ordered by y then x",
                    ),
                ]
            ),
        )

    def _putFilterLabel(self, label: FilterLabel, archiveId: int) -> None:
        """Save a FilterLabel: each label with a flag saying it exists."""
        self._save(
            "FilterLabel",
            "lsst.afw.image",
            archiveId,
            _makeCatalogHdu(
                [
                    _Flag("band_exists", label.hasBandLabel(), "Existence flag for band"),
                    _Field("band", "32A", [label._band or ""], tccls="String", doc="Name of the band."),
                    _Flag("physical_exists", label.hasPhysicalLabel(), "Existence flag for physical"),
                    _Field(
                        "physical",
                        "32A",
                        [label._physical or ""],
                        tccls="String",
                        doc="Name of the physical filter.",
                    ),
                ]
            ),
        )

    def _putGaussianPsf(self, psf: GaussianPsf, archiveId: int) -> None:
        """Save a GaussianPsf: its kernel dimensions and sigma."""
        dims = psf.getDimensions()
        doc = "width/height of realization of Psf"
        self._save(
            "GaussianPsf",
            "lsst.afw.detection",
            archiveId,
            _makeCatalogHdu(
                [
                    _Field("dimensions_x", "1J", [dims.getX()], unit="pixel", doc=doc),
                    _Field("dimensions_y", "1J", [dims.getY()], unit="pixel", doc=doc),
                    _Field("sigma", "1D", [psf.getSigma()], unit="pixel", doc="radius of Gaussian"),
                ]
            ),
        )

    def _putVisitInfo(self, visitInfo: VisitInfo, archiveId: int) -> None:
        """Save a VisitInfo as afw's version-5 record."""
        self._save("VisitInfo", "", archiveId, _visitInfoCatalog(visitInfo))

    def _putDetector(self, detector: Detector, archiveId: int) -> None:
        """Save ``detector`` as afw's cameraGeom Detector (version 2).

        afw stores a Detector as two catalogs: one record (identity, bbox,
        pixel size, orientation, the archive id of its TransformMap,
        crosstalk, physical type) and the amplifier records (none here).
        The TransformMap has one connection, FOCAL_PLANE -> PIXELS of this
        detector, as afw writes a detector of a camera built without
        optics: afw reads it back with PIXELS and FOCAL_PLANE but no
        FIELD_ANGLE (or TAN_PIXELS), which needs the camera's optical
        distortion that the model does not have.
        """
        transformMapId = self._newId()
        transformId = self._newId()
        self._save("Detector", "lsst.afw.cameraGeom", archiveId, _detectorCatalog(detector, transformMapId))
        self._save(
            "TransformMap",
            "lsst.afw.cameraGeom",
            transformMapId,
            _makeCatalogHdu(
                [
                    _Field("fromSysName", "QA()", _strings(["FocalPlane"]), tccls="String"),
                    _Field("fromSysDetectorName", "QA()", _strings([""]), tccls="String"),
                    _Field("toSysName", "QA()", _strings(["Pixels"]), tccls="String"),
                    _Field("toSysDetectorName", "QA()", _strings([detector.getName()]), tccls="String"),
                    _Field("transform", "1J", [transformId], doc="Archive ID of the transform."),
                ]
            ),
        )
        text = "1 TransformPoint2ToPoint2 " + _pixelsToFocalPlaneAst(detector.getPixelSize())
        self._save(
            "TransformPoint2ToPoint2",
            "lsst.afw.geom",
            transformId,
            _makeCatalogHdu(
                [
                    _Field(
                        "bytes",
                        "QB()",
                        _arrays([np.frombuffer(text.encode("ascii"), dtype=np.uint8)]),
                        tccls="Array",
                        doc="a bytestring containing the output of Transform.writeString",
                    )
                ]
            ),
        )
        self._save("Detector", "lsst.afw.cameraGeom", archiveId, _amplifierCatalog(), catPersistable=1)

    # type -> writer, looked up along the type's MRO (as isinstance)
    _WRITERS = {
        PhotoCalib: _putPhotoCalib,
        FilterLabel: _putFilterLabel,
        GaussianPsf: _putGaussianPsf,
        VisitInfo: _putVisitInfo,
        Detector: _putDetector,
    }

    def hdus(self) -> list:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VerifyWarning)
            return self._hdus()

    def _hdus(self) -> list:
        rows = len(self._catalogs)
        index = _makeCatalogHdu(
            [
                _Field(
                    "id",
                    "1J",
                    [c[2] for c in self._catalogs],
                    doc="Archive ID of the persistable object that owns the records pointed at by this entry",
                ),
                _Field(
                    "cat.archive",
                    "1J",
                    list(range(1, rows + 1)),
                    doc="index of the catalog this entry points to, from the perspective of the archive",
                ),
                _Field(
                    "cat.persistable",
                    "1J",
                    [c[4] for c in self._catalogs],
                    doc="index of the catalog this entry points to, from the perspective of the Persistable",
                ),
                _Field(
                    "row0", "1J", [0] * rows, doc="first row used by the persistable object in this catalog"
                ),
                _Field(
                    "nrows",
                    "1J",
                    [c[3].header["NAXIS2"] for c in self._catalogs],
                    doc="number of rows used by the persistable object in this catalog",
                ),
                _Field(
                    "name",
                    "64A",
                    [c[0] for c in self._catalogs],
                    tccls="String",
                    doc="unique name for the persistable object's class",
                ),
                _Field(
                    "module",
                    "64A",
                    [c[1] for c in self._catalogs],
                    tccls="String",
                    doc="Python module that should be imported to register the object's factory",
                ),
            ],
            nrows=rows,
        )
        index.header["EXTTYPE"] = "ARCHIVE_INDEX"
        index.header["EXTNAME"] = "ARCHIVE_INDEX"
        index.header["AR_CATN"] = (0, "# of this catalog relative to the start of this archive")
        index.header["AR_NCAT"] = (rows + 1, "# of catalogs in this archive, including the index")
        index.header["HIERARCH AFW_TABLE_VERSION"] = 3
        result = [index]
        seen = defaultdict(int)
        for catn, (className, _, _, hdu, _) in enumerate(self._catalogs, start=1):
            hdu.header["EXTTYPE"] = "ARCHIVE_DATA"
            hdu.header["AR_CATN"] = (catn, "# of this catalog relative to the start of this archive")
            seen[className] += 1
            if seen[className] > 1:  # afw numbers repeated extension names
                hdu.header["EXTVER"] = seen[className]
            hdu.header["AR_NAME"] = (className, "Class name for objects stored here")
            hdu.header["EXTNAME"] = className
            hdu.header["HIERARCH AFW_TABLE_VERSION"] = 3
            result.append(hdu)
        return result


def _visitInfoCatalog(visitInfo: VisitInfo) -> fits.BinTableHDU:
    """VisitInfo as afw's version-5 archive record."""
    vi = visitInfo
    date = vi.getDate()
    tai = date.nsecs(DateTime.TAI) if date.isValid() else -(2**63)
    obs, weather = vi.getObservatory(), vi.getWeather()

    def angle(value):
        return [value.asRadians()]

    def text(value):
        return _strings([value])

    return _makeCatalogHdu(
        [
            _Field("exposuretime", "1D", [vi.getExposureTime()], unit="s", doc="exposure duration"),
            _Field("darktime", "1D", [vi.getDarkTime()], unit="s", doc="time from CCD flush to readout"),
            _Field(
                "tai",
                "1K",
                [tai],
                unit="nsec",
                doc="TAI date and time at middle of exposure as nsec from unix epoch",
            ),
            _Field("ut1", "1D", [vi.getUt1()], unit="MJD", doc="UT1 date and time at middle of exposure"),
            _Field("era", "1D", angle(vi.getEra()), tccls="Angle", unit="rad"),
            _Field(
                "boresightradec_ra", "1D", angle(vi.getBoresightRaDec().getRa()), tccls="Angle", unit="rad"
            ),
            _Field(
                "boresightradec_dec", "1D", angle(vi.getBoresightRaDec().getDec()), tccls="Angle", unit="rad"
            ),
            _Field(
                "boresightazalt_az",
                "1D",
                angle(vi.getBoresightAzAlt().getLongitude()),
                tccls="Angle",
                unit="rad",
            ),
            _Field(
                "boresightazalt_alt",
                "1D",
                angle(vi.getBoresightAzAlt().getLatitude()),
                tccls="Angle",
                unit="rad",
            ),
            _Field("boresightairmass", "1D", [vi.getBoresightAirmass()]),
            _Field("boresightrotangle", "1D", angle(vi.getBoresightRotAngle()), tccls="Angle", unit="rad"),
            _Field("rottype", "1J", [int(vi.getRotType())]),
            _Field("latitude", "1D", angle(obs.getLatitude()), tccls="Angle", unit="rad"),
            _Field("longitude", "1D", angle(obs.getLongitude()), tccls="Angle", unit="rad"),
            _Field("elevation", "1D", [obs.getElevation()]),
            _Field("airtemperature", "1D", [weather.getAirTemperature()], unit="C"),
            _Field("airpressure", "1D", [weather.getAirPressure()], unit="Pascal"),
            _Field("humidity", "1D", [weather.getHumidity()]),
            _Field("instrumentlabel", "QA()", text(vi.getInstrumentLabel()), tccls="String"),
            _Field("version", "1J", [5]),
            _Field("idnum", "1K", [vi.getId()]),
            _Field("focusz", "1D", [vi.getFocusZ()], unit="mm"),
            _Field("observationType", "QA()", text(vi.getObservationType()), tccls="String"),
            _Field("scienceProgram", "QA()", text(vi.getScienceProgram()), tccls="String"),
            _Field("observationReason", "QA()", text(vi.getObservationReason()), tccls="String"),
            _Field("object", "QA()", text(vi.getObject()), tccls="String"),
            _Flag(
                "hasSimulatedContent",
                vi.getHasSimulatedContent(),
                "Was any part of this observation simulated?",
            ),
        ]
    )


def _strings(values) -> np.ndarray:
    """A variable-length string column (``QA``) with one cell per value.

    afw (cfitsio) reads at least one character of a cell, so an empty
    string is stored as afw stores it: one NUL character.
    """
    return np.array([value or "\x00" for value in values], dtype=object)


def _arrays(values) -> np.ndarray:
    """A variable-length array column (``QB``, ``QE``, ``QD``)."""
    result = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        result[i] = value
    return result


def _astNumber(value: float) -> str:
    """A double as AST writes it: enough digits to be read back exactly."""
    return repr(float(value))


def _pixelsToFocalPlaneAst(pixelSize) -> str:
    """AST text of afw's FOCAL_PLANE -> PIXELS mapping of a detector with
    the default orientation and ``pixelSize`` (mm).

    With the reference point at pixel (-0.5, -0.5) on the focal-plane
    origin and no rotation, pixel ``p`` lies at focal-plane position
    ``(p + 0.5) * pixelSize``: a WinMap with scale ``pixelSize`` and shift
    ``0.5 * pixelSize`` maps PIXELS to FOCAL_PLANE, stored inverted
    (``Invert = 1``) for the FOCAL_PLANE -> PIXELS direction.
    """
    lines = ["Begin WinMap", "    Nin = 2", "    IsSimp = 1", "    Invert = 1", " IsA Mapping"]
    for axis, size in enumerate((pixelSize[0], pixelSize[1]), start=1):
        lines.append(f"    Sft{axis} = {_astNumber(0.5 * size)}")
        lines.append(f"    Scl{axis} = {_astNumber(size)}")
    lines.append(" End WinMap")
    return "\n".join(lines) + "\n"


def _detectorCatalog(detector: Detector, transformMapId: int) -> fits.BinTableHDU:
    """The Detector record, version 2, with afw's default orientation."""
    bbox = detector.getBBox()
    pixelSize = detector.getPixelSize()

    def pixels(name, value):
        return _Field(name, "1J", [value], unit="pixel")

    def mm(name, value):
        return _Field(name, "1D", [value], unit="mm")

    return _makeCatalogHdu(
        [
            _Field("name", "QA()", _strings([detector.getName()]), tccls="String"),
            _Field("id", "1J", [detector.getId()]),
            _Field("type", "1J", [int(detector.getType())]),
            _Field("serial", "QA()", _strings([detector.getSerial()]), tccls="String"),
            pixels("bbox_min_x", bbox.getMinX()),
            pixels("bbox_min_y", bbox.getMinY()),
            pixels("bbox_max_x", bbox.getMaxX()),
            pixels("bbox_max_y", bbox.getMaxY()),
            mm("pixelSize_x", pixelSize.getX()),
            mm("pixelSize_y", pixelSize.getY()),
            mm("fpPosition_x", 0.0),
            mm("fpPosition_y", 0.0),
            mm("fpPosition_z", 0.0),
            _Field("refPoint_x", "1D", [-0.5], unit="pixel"),
            _Field("refPoint_y", "1D", [-0.5], unit="pixel"),
            _Field("yaw", "1D", [0.0], tccls="Angle", unit="rad"),
            _Field("pitch", "1D", [0.0], tccls="Angle", unit="rad"),
            _Field("roll", "1D", [0.0], tccls="Angle", unit="rad"),
            _Field("transformMap", "1J", [transformMapId]),
            _Field("crosstalk", "QE()", _arrays([np.zeros(0, dtype=np.float32)]), tccls="Array"),
            _Field("physicalType", "QA()", _strings([detector.getPhysicalType()]), tccls="String"),
            _Field("version", "1J", [2]),
        ]
    )


def _amplifierCatalog() -> fits.BinTableHDU:
    """afw's amplifier catalog with no rows (the model has no amplifiers);
    built once, a fresh HDU each call (the archive writer edits headers)."""
    return fits.BinTableHDU.fromstring(_amplifierCatalogBytes())


@functools.cache
def _amplifierCatalogBytes() -> bytes:
    """The empty amplifier catalog HDU, serialised (header and data)."""
    hdu = _makeAmplifierCatalog()
    buffer = io.BytesIO()
    primary = fits.PrimaryHDU()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        fits.HDUList([primary, hdu]).writeto(buffer)
    return buffer.getvalue()[len(primary.header.tostring()) :]


def _makeAmplifierCatalog() -> fits.BinTableHDU:
    empty = np.zeros(0, dtype=np.int32)

    def pixels(*names):
        return [_Field(name, "1J", empty, unit="pixel") for name in names]

    def box(prefix):
        return pixels(f"{prefix}_min_x", f"{prefix}_min_y", f"{prefix}_extent_x", f"{prefix}_extent_y")

    def text(name):
        return _Field(name, "QA()", _strings([]), tccls="String")

    def double(name, unit=None):
        return _Field(name, "1D", np.zeros(0), unit=unit)

    return _makeCatalogHdu(
        [
            text("name"),
            *box("bbox"),
            double("gain", "electron adu^-1"),
            double("saturation", "adu"),
            double("suspectlevel", "adu"),
            double("readnoise", "electron"),
            _Field("readoutcorner", "1J", empty),
            _Field("linearity_coeffs", "QD()", _arrays([]), tccls="Array"),
            text("linearity_type"),
            _Flag("hasrawinfo", []),
            *box("raw_bbox"),
            *box("raw_databbox"),
            _Flag("raw_flip_x", []),
            _Flag("raw_flip_y", []),
            *pixels("raw_xyoffset_x", "raw_xyoffset_y"),
            *box("raw_horizontaloverscanbbox"),
            *box("raw_verticaloverscanbbox"),
            *box("raw_prescanbbox"),
            double("linearityThreshold"),
            double("linearityMaximum"),
            text("linearityUnits"),
        ],
        nrows=0,
    )


# ======================================================= header metadata


def _visitInfoFromMetadata(md: PropertyList) -> VisitInfo:
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


def _setVisitInfoMetadata(header: fits.Header, vi: VisitInfo) -> None:
    """afw ``setVisitInfoMetadata``: non-finite values are omitted."""
    _setKey(header, "EXPTIME", vi.getExposureTime(), "Exposure time (sec)")
    _setKey(header, "DARKTIME", vi.getDarkTime(), "Time from CCD flush to readout (sec)")
    if vi.getDate().isValid():
        _setKey(header, "DATE-AVG", vi.getDate().toString(DateTime.TAI), "TAI date at middle of observation")
        _setKey(header, "TIMESYS", "TAI")
    _setKey(header, "MJD-AVG-UT1", vi.getUt1(), "UT1 MJD date at ctr of obs")
    _setKey(header, "AVG-ERA", vi.getEra().asDegrees(), "Earth rot ang at ctr of obs (deg)")
    raDec, azAlt = vi.getBoresightRaDec(), vi.getBoresightAzAlt()
    _setKey(header, "BORE-RA", raDec.getRa().asDegrees(), "ICRS RA (deg) at boresight")
    _setKey(header, "BORE-DEC", raDec.getDec().asDegrees(), "ICRS Dec (deg) at boresight")
    _setKey(header, "BORE-AZ", azAlt.getLongitude().asDegrees(), "Refr app topo az (deg) at bore")
    _setKey(header, "BORE-ALT", azAlt.getLatitude().asDegrees(), "Refr app topo alt (deg) at bore")
    _setKey(header, "BORE-AIRMASS", vi.getBoresightAirmass(), "Airmass at boresight")
    _setKey(header, "BORE-ROTANG", vi.getBoresightRotAngle().asDegrees(), "Rotation angle (deg) at boresight")
    _setKey(header, "ROTTYPE", vi.getRotType().name, "Type of rotation angle")
    obs, weather = vi.getObservatory(), vi.getWeather()
    _setKey(header, "OBS-LONG", obs.getLongitude().asDegrees(), "Telescope longitude (+E, deg)")
    _setKey(header, "OBS-LAT", obs.getLatitude().asDegrees(), "Telescope latitude (deg)")
    _setKey(header, "OBS-ELEV", obs.getElevation(), "Telescope elevation (m)")
    _setKey(header, "AIRTEMP", weather.getAirTemperature(), "Outside air temperature (C)")
    _setKey(header, "AIRPRESS", weather.getAirPressure(), "Outdoor air pressure (P)")
    _setKey(header, "HUMIDITY", weather.getHumidity(), "Relative humidity (%)")
    for key, value, comment in (
        ("INSTRUMENT", vi.getInstrumentLabel(), "Short name of the instrument that took this data"),
        ("OBSTYPE", vi.getObservationType(), "Type of this observation"),
        ("PROGRAM", vi.getScienceProgram(), "observing program (survey or proposal) identifier"),
        ("REASON", vi.getObservationReason(), "reason this observation was taken, or its purpose"),
        ("OBJECT", vi.getObject(), "object of interest or field name"),
    ):
        if value:
            _setKey(header, key, value, comment)
    if vi.getId() != 0:
        _setKey(header, "IDNUM", vi.getId(), "identifier of this full focal plane exposure")
    _setKey(header, "FOCUSZ", vi.getFocusZ(), "Defocal distance (mm)")
    _setKey(
        header,
        "HAS-SIMULATED-CONTENT",
        vi.getHasSimulatedContent(),
        "Was any part of this observation simulated?",
    )


def _filterFromName(name: str) -> FilterLabel | None:
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


def _readXY0(header: fits.Header) -> geom.Point2I:
    if "CRVAL1A" in header and "CRVAL2A" in header:
        return getImageXY0FromMetadata(header)
    if "LTV1" in header and "LTV2" in header:
        return geom.Point2I(-round(float(header["LTV1"])), -round(float(header["LTV2"])))
    return geom.Point2I(0, 0)


def _xy0Cards(header: fits.Header, xy0: geom.Point2I) -> None:
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


def _checkPlane(hdul, index: int, expected: str, path) -> fits.ImageHDU:
    if index >= len(hdul):
        raise FitsError(f"{path}: HDU {index} ({expected}) is missing; not an afw Exposure file")
    hdu = hdul[index]
    extType = str(hdu.header.get("EXTTYPE", expected)).strip()
    if extType != expected:
        raise FitsError(f"{path}: HDU {index} has EXTTYPE={extType!r}, expected {expected!r}")
    if hdu.data is None or hdu.data.ndim != 2:
        raise FitsError(f"{path}: HDU {index} ({expected}) holds no 2-d image")
    return hdu


def readImageFits(path, cls=ImageF):
    """Read a single image (first HDU with 2-d data) with its ``xy0``."""
    with fits.open(path) as hdul:
        for hdu in hdul:
            if hdu.is_image and hdu.data is not None and hdu.data.ndim == 2:
                return cls(np.array(hdu.data), False, _readXY0(hdu.header))
    raise FitsError(f"{path}: no 2-d image HDU")


def writeImageFits(image, path, metadata=None) -> None:
    """Write a single image as the primary HDU, with ``xy0`` cards."""
    header = fits.Header()
    if metadata is not None:
        _metadataCards(header, metadata)
    _xy0Cards(header, image.getXY0())
    fits.PrimaryHDU(data=image.array, header=header).writeto(path, overwrite=True)


# ============================================================= exposures


def readExposureFits(path, cls=None):
    """Read an exposure written by afw or by `writeExposureFits`.

    Parameters
    ----------
    path : `str` or path-like
        The FITS file.
    cls : `type`, optional
        The exposure class to return (`ExposureF` by default).

    Returns
    -------
    exposure : ``cls``
        The pixels, the components the model can represent and the header
        metadata that remains once they are read, as afw's.

    Raises
    ------
    FitsError
        If the file is not an afw exposure, or holds a component the model
        cannot represent faithfully (message names the HDU or key).
    """
    cls = ExposureF if cls is None else cls
    path = str(path)
    with fits.open(path) as hdul:
        maskedImage, xy0 = _readMaskedImage(hdul, cls.MaskedImageClass, path)
        imageHeader = hdul[1].header
        wcs = _readHeaderWcs(imageHeader, xy0, path)
        md = _readExposureMetadata(hdul[0].header, imageHeader, stripWcs=wcs is not None)
        version = int(hdul[0].header.get("EXPINFO_V", 0))
        info = ExposureInfo(wcs=wcs)
        detName, detSerial = _readHeaderComponents(md, info, version)
        _readArchiveComponents(hdul, md, info, wcs, path)
        _readModelComponents(hdul, md, info, detName, detSerial)
        info.setMetadata(md)
    return cls(maskedImage, info)


def _readMaskedImage(hdul, maskedImageClass, path):
    """The image, mask and variance of HDUs 1-3, and their ``xy0``.

    Mask planes are renumbered onto the process-wide planes, as afw does.
    """
    imageHdu = _checkPlane(hdul, 1, "IMAGE", path)
    maskHdu = _checkPlane(hdul, 2, "MASK", path)
    varianceHdu = _checkPlane(hdul, 3, "VARIANCE", path)
    xy0 = _readXY0(imageHdu.header)
    imageClass = maskedImageClass.ImageClass
    image = imageClass(np.array(imageHdu.data, dtype=imageClass.dtype), False, xy0)
    planes = {key[3:]: int(value) for key, value in maskHdu.header.items() if key.startswith("MP_")}
    mask = Mask(_conformMaskPlanes(np.array(maskHdu.data, dtype=np.int32), planes), False, xy0)
    variance = ImageF(np.array(varianceHdu.data, dtype=np.float32), False, xy0)
    return maskedImageClass(image, mask, variance), xy0


def _readHeaderWcs(imageHeader: fits.Header, xy0: geom.Point2I, path) -> SkyWcs | None:
    """The WCS of the image HDU keywords, in parent pixels (`None` if the
    HDU has none)."""
    if "CRPIX1" not in imageHeader or "CTYPE1" not in imageHeader:
        return None
    try:
        wcsHeader = imageHeader.copy()
        for key in ("CRVAL1A", "CRVAL2A"):
            wcsHeader.remove(key, ignore_missing=True)
        return SkyWcs(wcsHeader).copyAtShiftedPixelOrigin(geom.Extent2D(xy0.getX(), xy0.getY()))
    except FitsError as err:
        raise FitsError(f"{path}: cannot read the WCS in HDU 1: {err}") from err


def _readExposureMetadata(primary: fits.Header, imageHeader: fits.Header, stripWcs: bool) -> PropertyList:
    """The exposure metadata before its components are read, as afw's.

    New-style files (image HDU with ``INHERIT``) merge the image HDU's
    metadata into the primary's; older ones have all of it in the image
    HDU, and the primary HDU is ignored.  The keywords of the image's WCS
    (if one was read), of ``xy0`` and ``LTV1/LTV2`` are stripped.
    ``EXPINFO_V`` and ``EXTNAME`` stay, as in afw.
    """
    md = _headerToPropertyList(imageHeader)
    if "INHERIT" in imageHeader:
        md = _inheritMetadata(_headerToPropertyList(primary), md)
    if "CRVAL1A" in imageHeader and "CRVAL2A" in imageHeader:
        for key in _XY0_KEYS:
            md.remove(key)
    md.remove("LTV1")
    md.remove("LTV2")
    if stripWcs:
        for key in md.names():
            if _WCS_KEY.fullmatch(key):
                md.remove(key)
    return md


def _readHeaderComponents(md: PropertyList, info: ExposureInfo, version: int) -> tuple[str | None, str]:
    """Read the components kept in header keys into ``info`` and strip
    their keys from ``md``, as afw's ``ExposureFitsReader``.

    Returns
    -------
    detName : `str` or `None`
        ``DETNAME``, for a detector of an earlier model file.
    detSerial : `str`
        ``DETSER`` (empty if missing).
    """
    if version < 2 and md.exists("FILTER"):  # afw keeps the key in the metadata
        info.setFilter(_filterFromName(str(md.getScalar("FILTER"))))
    if md.exists("EXPID"):
        info.setId(int(md.getScalar("EXPID")))
    info.setVisitInfo(_visitInfoFromMetadata(md))
    for key in _VISIT_INFO_KEYS:
        md.remove(key)
    if version == 0 and md.exists("FLUXMAG0"):  # only afw's version 0 has a calibration key
        info.setPhotoCalib(
            makePhotoCalibFromCalibZeroPoint(
                float(md.getScalar("FLUXMAG0")),
                float(md.getScalar("FLUXMAG0ERR")) if md.exists("FLUXMAG0ERR") else 0.0,
            )
        )
        md.remove("FLUXMAG0")
        md.remove("FLUXMAG0ERR")
    for key in ("MJD-OBS", "DATE-OBS"):
        md.remove(key)
    detName = str(md.getScalar("DETNAME")).rstrip() if md.exists("DETNAME") else None
    detSerial = str(md.getScalar("DETSER")).rstrip() if md.exists("DETSER") else ""
    md.remove("DETNAME")
    md.remove("DETSER")
    return detName, detSerial


def _readModelComponents(hdul, md: PropertyList, info: ExposureInfo, detName, detSerial) -> None:
    """The model's own extras: the detector keys of its earlier files
    (stripped from ``md``) and a `KernelPsf` HDU, each used only if the
    archive gave no detector or PSF."""
    if not info.hasDetector() and md.exists("APDETID"):
        info.setDetector(_modelDetector(md, detName, detSerial))
    for key in _MODEL_DETECTOR_KEYS:
        md.remove(key)
    if not info.hasPsf() and _MODEL_PSF_EXTNAME in hdul:
        psfHdu = hdul[_MODEL_PSF_EXTNAME]
        info.setPsf(
            KernelPsf(
                np.array(psfHdu.data, dtype=np.float64),
                geom.Point2D(psfHdu.header.get("AVGPOSX", 0.0), psfHdu.header.get("AVGPOSY", 0.0)),
            )
        )


def _readArchiveComponents(hdul, md: PropertyList, info, wcs, path) -> None:
    arHdu = int(md.getScalar("AR_HDU")) if md.exists("AR_HDU") else 0
    md.remove("AR_HDU")
    ids = {}
    for key in _ARCHIVE_ID_KEYS:
        if md.exists(key):
            ids[key[:-3]] = int(md.getScalar(key))
            md.remove(key)
    for key in list(md.names()):
        if key.startswith("ARCHIVE_ID_"):
            name = key[len("ARCHIVE_ID_") :]
            ids[name] = int(md.getScalar(key))
            md.remove(key)
            md.remove(name + "_ID")
    if arHdu == 0:
        if ids:
            raise FitsError(f"{path}: archive ids {sorted(ids)} given but no AR_HDU")
        return
    archive = _ArchiveReader(hdul, arHdu - 1)
    for name, archiveId in ids.items():
        if archiveId == 0:
            continue
        if name == "SKYWCS":
            if wcs is None:
                raise FitsError(
                    f"{path}: the WCS is stored only in the archive (SKYWCS_ID={archiveId}, "
                    f"AR_HDU={arHdu}) as an AST object, which the model cannot read"
                )
            continue  # afw writes header keywords only for exactly FITS-representable WCSs
        try:
            value = archive.get(archiveId)
        except _UnsupportedComponent as err:
            _log.info("%s: skipping archive component %s: %s", path, name, err)
            continue
        if name == "PHOTOCALIB":
            info.setPhotoCalib(value)
        elif name == "FILTER":
            info.setFilter(value)
        elif name == "DETECTOR":
            info.setDetector(value)
        elif name == "PSF":
            info.setPsf(value)
        else:
            info.setComponent(name, value)


def _modelDetector(md: PropertyList, name, serial) -> Detector:
    bbox = geom.Box2I()
    if md.exists("APDETBOX"):
        minX, minY, width, height = (int(v) for v in str(md.getScalar("APDETBOX")).split())
        bbox = geom.Box2I(geom.Point2I(minX, minY), geom.Extent2I(width, height))
    return Detector(
        name or "",
        int(md.getScalar("APDETID")),
        bbox,
        serial=serial,
        physicalType=str(md.getScalar("APDETPHY")).rstrip() if md.exists("APDETPHY") else "",
        type=DetectorType[str(md.getScalar("APDETTYP")).strip()]
        if md.exists("APDETTYP")
        else DetectorType.SCIENCE,
    )


def writeExposureFits(exposure, path) -> None:
    """Write ``exposure`` in afw's layout (see module docstring)."""
    info = exposure.getInfo()
    xy0 = exposure.getXY0()
    primary = fits.Header()
    _metadataCards(primary, info.getMetadata(), skip=_UNWRITTEN_KEYS)
    _setKey(primary, "EXPINFO_V", EXPOSURE_SERIALIZATION_VERSION)
    _setKey(primary, "AR_HDU", 5, "HDU (1-indexed) containing the archive used to store ancillary objects")
    archive = _ArchiveWriter()
    components = (
        ("PSF", info.getPsf() if isinstance(info.getPsf(), GaussianPsf) else None),
        ("PHOTOCALIB", info.getPhotoCalib()),
        ("FILTER", info.getFilter()),
        ("DETECTOR", info.getDetector()),
    )
    for name, value in components:
        if value is not None:
            archiveId = archive.put(value)
            comment = f"archive ID for generic component '{name}'"
            _setKey(primary, name + "_ID", archiveId, comment)
            _setKey(primary, "ARCHIVE_ID_" + name, archiveId, comment)
    if info.hasPsf() and not isinstance(info.getPsf(), (GaussianPsf, KernelPsf)):
        _log.warning("PSF of type %s is not persisted by the model", type(info.getPsf()).__name__)
    detector = info.getDetector()
    if detector is not None:  # afw also names the detector in the primary header
        _setKey(primary, "DETNAME", detector.getName())
        _setKey(primary, "DETSER", detector.getSerial())
    if info.hasId():
        _setKey(primary, "EXPID", info.getId())
    if info.getVisitInfo() is not None:
        _setVisitInfoMetadata(primary, info.getVisitInfo())

    planeHeader = fits.Header()
    if info.hasWcs():
        shifted = info.getWcs().copyAtShiftedPixelOrigin(geom.Extent2D(-xy0.getX(), -xy0.getY()))
        for name, value in shifted.getFitsMetadata().items():
            planeHeader[name] = value
    _xy0Cards(planeHeader, xy0)
    planeHeader["INHERIT"] = True

    hdus = [fits.PrimaryHDU(header=primary)]
    mi = exposure.getMaskedImage()
    for extType, array in (
        ("IMAGE", mi.image.array),
        ("MASK", mi.mask.array.astype(np.int32, copy=False)),
        ("VARIANCE", mi.variance.array.astype(np.float32, copy=False)),
    ):
        header = planeHeader.copy()
        header["EXTTYPE"] = extType
        header["EXTNAME"] = extType
        if extType == "MASK":
            for name, bit in sorted(mi.mask.getMaskPlaneDict().items(), key=lambda kv: kv[1]):
                _setKey(header, "MP_" + name, bit)
        hdus.append(fits.ImageHDU(data=array, header=header))
    hdus.extend(archive.hdus())
    if isinstance(info.getPsf(), KernelPsf):
        psf = info.getPsf()
        psfHdu = fits.ImageHDU(data=psf.getKernel().computeImage(False).array, name=_MODEL_PSF_EXTNAME)
        psfHdu.header["AVGPOSX"] = psf.getAveragePosition().getX()
        psfHdu.header["AVGPOSY"] = psf.getAveragePosition().getY()
        hdus.append(psfHdu)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        fits.HDUList(hdus).writeto(str(path), overwrite=True)


# ======================================================= bare persistables


def readPersistableFits(path, className: str):
    """Read the first object of class ``className`` from an afw archive
    file (as written by e.g. ``PhotoCalib.writeFits``)."""
    with fits.open(str(path)) as hdul:
        indexHdu = next(
            (
                i
                for i, hdu in enumerate(hdul)
                if str(hdu.header.get("EXTTYPE", "")).strip() == "ARCHIVE_INDEX"
            ),
            None,
        )
        if indexHdu is None:
            raise FitsError(f"{path}: no ARCHIVE_INDEX HDU")
        archive = _ArchiveReader(hdul, indexHdu)
        for archiveId in sorted(archive._entries):
            if archive.name(archiveId) == className:
                try:
                    return archive.get(archiveId)
                except _UnsupportedComponent as err:
                    raise FitsError(f"{path}: {err}") from err
    raise FitsError(f"{path}: no {className} in the archive")


def writePersistableFits(obj, path) -> None:
    """Write one object as an afw archive file (empty primary + archive)."""
    archive = _ArchiveWriter()
    archive.put(obj)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        fits.HDUList([fits.PrimaryHDU()] + archive.hdus()).writeto(str(path), overwrite=True)


# ============================================== the classes' FITS methods


@continueClass
class Image:  # noqa: F811
    def writeFits(self, path, metadata=None) -> None:
        """Write as the primary HDU, with ``xy0`` cards and ``metadata``."""
        writeImageFits(self, path, metadata)

    @classmethod
    def readFits(cls, path):
        """Read the first 2-d image HDU of a FITS file, with its ``xy0``."""
        return readImageFits(path, cls)


@continueClass
class MaskedImage:  # noqa: F811
    def writeFits(self, path) -> None:
        """Write in afw's exposure layout, without exposure components."""
        writeExposureFits(ExposureF(self), path)

    @classmethod
    def readFits(cls, path):
        """Read the image, mask and variance of an exposure file."""
        return readExposureFits(path).getMaskedImage()


@continueClass
class Exposure:  # noqa: F811
    def writeFits(self, path) -> None:
        """Write in afw's multi-extension layout (see this module)."""
        writeExposureFits(self, path)

    @classmethod
    def readFits(cls, path):
        """Read an exposure written by afw or by the model."""
        return readExposureFits(path, cls)


@continueClass
class PhotoCalib:  # noqa: F811
    def writeFits(self, path) -> None:
        """Write as an afw archive file."""
        writePersistableFits(self, path)

    @classmethod
    def readFits(cls, path):
        """Read the first PhotoCalib of an afw archive file."""
        return readPersistableFits(path, "PhotoCalib")


@continueClass
class VisitInfo:  # noqa: F811
    def writeFits(self, path) -> None:
        """Write as an afw archive file."""
        writePersistableFits(self, path)

    @classmethod
    def readFits(cls, path):
        """Read the first VisitInfo of an afw archive file."""
        return readPersistableFits(path, "VisitInfo")
