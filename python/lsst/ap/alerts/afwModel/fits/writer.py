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

"""Writing afw's FITS layout (``EXPINFO_V = 2``): images, exposures and archived objects.

The primary HDU carries the metadata and VisitInfo keys; image, mask and
variance HDUs carry the WCS, ``xy0`` and mask-plane keys; the archive
(`archive.ArchiveWriter`) holds the PhotoCalib, FilterLabel, GaussianPsf and
Detector.  A `KernelPsf` goes to a trailing ``MODEL_PSF`` HDU that afw ignores.
"""

from __future__ import annotations

__all__ = ["writeExposureFits", "writeImageFits", "writePersistableFits"]

import logging
import warnings

import numpy as np
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning

from .. import geom
from ..image.psf import GaussianPsf, KernelPsf
from .archive import ArchiveWriter
from .cards import (
    EXPOSURE_SERIALIZATION_VERSION,
    MODEL_PSF_EXTNAME,
    UNWRITTEN_KEYS,
    metadataCards,
    setKey,
    setVisitInfoMetadata,
    xy0Cards,
)

_log = logging.getLogger(__name__)


def writeImageFits(image, path, metadata=None) -> None:
    """Write a single image as the primary HDU, with ``xy0`` cards."""
    header = fits.Header()
    if metadata is not None:
        metadataCards(header, metadata)
    xy0Cards(header, image.getXY0())
    fits.PrimaryHDU(data=image.array, header=header).writeto(path, overwrite=True)


# ============================================================= exposures


def _planeHeader(info, xy0) -> fits.Header:
    """The cards the image, mask and variance HDUs share: the WCS (origin at
    the array's first pixel) and XY0."""
    planeHeader = fits.Header()
    if info.hasWcs():
        shifted = info.getWcs().copyAtShiftedPixelOrigin(geom.Extent2D(-xy0.getX(), -xy0.getY()))
        for name, value in shifted.getFitsMetadata().items():
            planeHeader[name] = value
    xy0Cards(planeHeader, xy0)
    planeHeader["INHERIT"] = True
    return planeHeader


def writeExposureFits(exposure, path) -> None:
    """Write ``exposure`` in afw's layout (see module docstring)."""
    info = exposure.getInfo()
    xy0 = exposure.getXY0()
    primary = fits.Header()
    metadataCards(primary, info.getMetadata(), skip=UNWRITTEN_KEYS)
    setKey(primary, "EXPINFO_V", EXPOSURE_SERIALIZATION_VERSION)
    setKey(primary, "AR_HDU", 5, "HDU (1-indexed) containing the archive used to store ancillary objects")
    archive = ArchiveWriter()
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
            setKey(primary, name + "_ID", archiveId, comment)
            setKey(primary, "ARCHIVE_ID_" + name, archiveId, comment)
    if info.hasPsf() and not isinstance(info.getPsf(), (GaussianPsf, KernelPsf)):
        _log.warning("PSF of type %s is not persisted by the model", type(info.getPsf()).__name__)
    detector = info.getDetector()
    if detector is not None:  # afw also names the detector in the primary header
        setKey(primary, "DETNAME", detector.getName())
        setKey(primary, "DETSER", detector.getSerial())
    if info.hasId():
        setKey(primary, "EXPID", info.getId())
    if info.getVisitInfo() is not None:
        setVisitInfoMetadata(primary, info.getVisitInfo())

    planeHeader = _planeHeader(info, xy0)
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
                setKey(header, "MP_" + name, bit)
        hdus.append(fits.ImageHDU(data=array, header=header))
    hdus.extend(archive.hdus())
    if isinstance(info.getPsf(), KernelPsf):
        psf = info.getPsf()
        psfHdu = fits.ImageHDU(data=psf.getKernel().computeImage(False).array, name=MODEL_PSF_EXTNAME)
        psfHdu.header["AVGPOSX"] = psf.getAveragePosition().getX()
        psfHdu.header["AVGPOSY"] = psf.getAveragePosition().getY()
        hdus.append(psfHdu)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        fits.HDUList(hdus).writeto(str(path), overwrite=True)


# ======================================================= bare persistables


def writePersistableFits(obj, path) -> None:
    """Write one object as an afw archive file (empty primary + archive)."""
    archive = ArchiveWriter()
    archive.put(obj)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        fits.HDUList([fits.PrimaryHDU()] + archive.hdus()).writeto(str(path), overwrite=True)


# ============================================== the classes' FITS methods
