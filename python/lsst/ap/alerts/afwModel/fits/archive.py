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

"""afw's FITS archive: the binary tables (``AR_HDU``) holding an exposure's components.

`ArchiveReader` reads the PhotoCalib (constant, or a constant Chebyshev
field), FilterLabel, Detector, GaussianPsf and VisitInfo records afw writes;
other components are skipped (`UnsupportedComponent`).  `ArchiveWriter` lays
them out as afw writes them, the Detector as afw's cameraGeom record with
an AST-serialised FOCAL_PLANE -> PIXELS transform.
"""

from __future__ import annotations

__all__ = ["ArchiveReader", "ArchiveWriter", "UnsupportedComponent"]

import functools
import io
import re
import warnings
from collections import defaultdict

import numpy as np
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning

from .. import geom
from ..exceptions import FitsError
from ..image.detector import Detector, DetectorType
from ..image.filterLabel import FilterLabel
from ..image.photoCalib import PhotoCalib
from ..image.psf import GaussianPsf
from ..image.visitInfo import DateTime, Observatory, RotType, VisitInfo, Weather


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


class UnsupportedComponent(Exception):
    pass


class ArchiveReader:
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
            raise UnsupportedComponent(f"{name} (archive id {archiveId}) cannot be read by the model")
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
    raise UnsupportedComponent("ChebyshevBoundedField is only read as part of a PhotoCalib")


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


class ArchiveWriter:
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

    def _indexHdu(self) -> fits.BinTableHDU:
        """The archive's index catalog: where each object's records are."""
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
        return index

    def _hdus(self) -> list:
        result = [self._indexHdu()]
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


def _angle(value) -> list:
    return [value.asRadians()]


def _text(value) -> np.ndarray:
    return _strings([value])


def _visitInfoCatalog(visitInfo: VisitInfo) -> fits.BinTableHDU:
    """VisitInfo as afw's version-5 archive record."""
    return _makeCatalogHdu(_visitTimeAndPointingFields(visitInfo) + _visitSiteAndLabelFields(visitInfo))


def _visitTimeAndPointingFields(vi: VisitInfo) -> list:
    """The first columns of the VisitInfo record: exposure, times and pointing."""
    date = vi.getDate()
    tai = date.nsecs(DateTime.TAI) if date.isValid() else -(2**63)
    return [
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
        _Field("era", "1D", _angle(vi.getEra()), tccls="Angle", unit="rad"),
        _Field("boresightradec_ra", "1D", _angle(vi.getBoresightRaDec().getRa()), tccls="Angle", unit="rad"),
        _Field(
            "boresightradec_dec", "1D", _angle(vi.getBoresightRaDec().getDec()), tccls="Angle", unit="rad"
        ),
        _Field(
            "boresightazalt_az",
            "1D",
            _angle(vi.getBoresightAzAlt().getLongitude()),
            tccls="Angle",
            unit="rad",
        ),
        _Field(
            "boresightazalt_alt",
            "1D",
            _angle(vi.getBoresightAzAlt().getLatitude()),
            tccls="Angle",
            unit="rad",
        ),
        _Field("boresightairmass", "1D", [vi.getBoresightAirmass()]),
        _Field("boresightrotangle", "1D", _angle(vi.getBoresightRotAngle()), tccls="Angle", unit="rad"),
        _Field("rottype", "1J", [int(vi.getRotType())]),
    ]


def _visitSiteAndLabelFields(vi: VisitInfo) -> list:
    """The last columns of the VisitInfo record: site, weather, labels, version and flags."""
    obs, weather = vi.getObservatory(), vi.getWeather()
    return [
        _Field("latitude", "1D", _angle(obs.getLatitude()), tccls="Angle", unit="rad"),
        _Field("longitude", "1D", _angle(obs.getLongitude()), tccls="Angle", unit="rad"),
        _Field("elevation", "1D", [obs.getElevation()]),
        _Field("airtemperature", "1D", [weather.getAirTemperature()], unit="C"),
        _Field("airpressure", "1D", [weather.getAirPressure()], unit="Pascal"),
        _Field("humidity", "1D", [weather.getHumidity()]),
        _Field("instrumentlabel", "QA()", _text(vi.getInstrumentLabel()), tccls="String"),
        _Field("version", "1J", [5]),
        _Field("idnum", "1K", [vi.getId()]),
        _Field("focusz", "1D", [vi.getFocusZ()], unit="mm"),
        _Field("observationType", "QA()", _text(vi.getObservationType()), tccls="String"),
        _Field("scienceProgram", "QA()", _text(vi.getScienceProgram()), tccls="String"),
        _Field("observationReason", "QA()", _text(vi.getObservationReason()), tccls="String"),
        _Field("object", "QA()", _text(vi.getObject()), tccls="String"),
        _Flag(
            "hasSimulatedContent",
            vi.getHasSimulatedContent(),
            "Was any part of this observation simulated?",
        ),
    ]


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
