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

"""Reading afw's FITS files: images, exposures (any ``EXPINFO_V``) and archived objects.

HDU 1/2/3 are image, mask and variance (checked against ``EXTTYPE``); the
WCS comes from the image HDU's keywords (a WCS stored only in the archive
raises `FitsError`); primary-header metadata and VisitInfo keys are read
and stripped as afw's ``ExposureFitsReader`` does; archive components come
from `archive.ArchiveReader`.
"""

from __future__ import annotations

__all__ = ["readExposureFits", "readImageFits", "readPersistableFits"]

import logging

import numpy as np
from astropy.io import fits

from .. import geom
from ..exceptions import FitsError
from ..image.detector import Detector, DetectorType
from ..image.exposure import ExposureF, ExposureInfo
from ..image.image import ImageF, Mask, _conformMaskPlanes
from ..image.metadata import PropertyList
from ..image.photoCalib import makePhotoCalibFromCalibZeroPoint
from ..image.psf import KernelPsf
from ..image.wcs import SkyWcs
from .archive import ArchiveReader, UnsupportedComponent
from .cards import (
    ARCHIVE_ID_KEYS,
    MODEL_DETECTOR_KEYS,
    MODEL_PSF_EXTNAME,
    VISIT_INFO_KEYS,
    WCS_KEY,
    XY0_KEYS,
    filterFromName,
    headerToPropertyList,
    inheritMetadata,
    readXY0,
    visitInfoFromMetadata,
)

_log = logging.getLogger(__name__)


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
                return cls(np.array(hdu.data), False, readXY0(hdu.header))
    raise FitsError(f"{path}: no 2-d image HDU")


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
    xy0 = readXY0(imageHdu.header)
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
    md = headerToPropertyList(imageHeader)
    if "INHERIT" in imageHeader:
        md = inheritMetadata(headerToPropertyList(primary), md)
    if "CRVAL1A" in imageHeader and "CRVAL2A" in imageHeader:
        for key in XY0_KEYS:
            md.remove(key)
    md.remove("LTV1")
    md.remove("LTV2")
    if stripWcs:
        for key in md.names():
            if WCS_KEY.fullmatch(key):
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
        info.setFilter(filterFromName(str(md.getScalar("FILTER"))))
    if md.exists("EXPID"):
        info.setId(int(md.getScalar("EXPID")))
    info.setVisitInfo(visitInfoFromMetadata(md))
    for key in VISIT_INFO_KEYS:
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
    for key in MODEL_DETECTOR_KEYS:
        md.remove(key)
    if not info.hasPsf() and MODEL_PSF_EXTNAME in hdul:
        psfHdu = hdul[MODEL_PSF_EXTNAME]
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
    for key in ARCHIVE_ID_KEYS:
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
    archive = ArchiveReader(hdul, arHdu - 1)
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
        except UnsupportedComponent as err:
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
        archive = ArchiveReader(hdul, indexHdu)
        for archiveId in sorted(archive._entries):
            if archive.name(archiveId) == className:
                try:
                    return archive.get(archiveId)
                except UnsupportedComponent as err:
                    raise FitsError(f"{path}: {err}") from err
    raise FitsError(f"{path}: no {className} in the archive")
