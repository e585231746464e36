"""The public CCDData path of a cutout: `astropy.nddata.CCDData` and its FITS bytes.

Serialized cutout layout (one FITS file per cutout, what
``CCDData.read(..., format="fits")`` reads):

==========  ========================================================
HDU         content
==========  ========================================================
PRIMARY     calibrated image, float32, BUNIT nJy; local TAN WCS
            (CRPIX at the source, CRVAL its sky position, CD the local
            Jacobian); CUTMINX/CUTMINY such that FITS pixel i is parent
            (afw) pixel i + CUTMIN; ROTPA (boresight rotation, degrees)
            when known; MP_<plane> keys
UNCERT      variance, float32, UTYPE VarianceUncertainty
MASK        afw integer mask planes (int32) with MP_<plane> = bit
            keywords; CCDData.read turns it into a boolean "any plane
            set" mask, read the HDU directly for the planes
PSFIMAGE    PSF kernel image (float64, sums to 1), when available
==========  ========================================================
"""

from __future__ import annotations

__all__ = ["MASK_PLANES_META", "ccdDataToFitsBytes", "makeCcdData"]

import io

import astropy.units as u
import numpy as np
from astropy import wcs as astropyWcs
from astropy.nddata import CCDData, VarianceUncertainty

from .pixels import CutoutArrays, calibrate

# CCDData.meta key holding the mask plane dictionary (written to the MASK HDU
# as MP_* keys, never to PRIMARY).
MASK_PLANES_META = "maskPlanes"


def makeCcdData(
    arrays: CutoutArrays,
    calibrationMean: float,
    crpix: tuple[float, float],
    crval: tuple[float, float],
    cdMatrix: np.ndarray,
    psf: np.ndarray | None,
    maskPlanes: dict[str, int],
    rotPa: float | None,
) -> CCDData:
    """Build the calibrated `CCDData` of one cutout.

    Parameters
    ----------
    arrays : `CutoutArrays`
        Uncalibrated pixels.
    calibrationMean : `float`
        nJy per instrumental unit (``PhotoCalib.getCalibrationMean()``);
        image × mean, variance × mean², as ``PhotoCalib.calibrateImage``.
    crpix : `tuple` [`float`, `float`]
        FITS (1-based) pixel of the source within the cutout.
    crval : `tuple` [`float`, `float`]
        Source RA, Dec in degrees.
    cdMatrix : `numpy.ndarray`
        2×2 local CD matrix, degrees per pixel.
    psf : `numpy.ndarray` or `None`
        PSF kernel image to attach.
    maskPlanes : `dict` [`str`, `int`]
        Mask plane name → bit number, written as ``MP_<name>`` keys.
    rotPa : `float` or `None`
        Boresight rotation angle in degrees (``ROTPA``).
    """
    cutoutWcs = astropyWcs.WCS(naxis=2)
    cutoutWcs.array_shape = arrays.image.shape
    cutoutWcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    cutoutWcs.wcs.cunit = ["deg", "deg"]
    cutoutWcs.wcs.crpix = list(crpix)
    cutoutWcs.wcs.crval = list(crval)
    cutoutWcs.wcs.cd = np.asarray(cdMatrix)
    meta = {"cutMinX": arrays.minX - 1, "cutMinY": arrays.minY - 1}
    if rotPa is not None and np.isfinite(rotPa):
        meta["ROTPA"] = float(rotPa)
    meta[MASK_PLANES_META] = dict(maskPlanes)
    image, variance = calibrate(arrays, calibrationMean)
    return CCDData(
        data=image,
        uncertainty=VarianceUncertainty(variance),
        flags=arrays.mask,
        wcs=cutoutWcs,
        psf=psf,
        meta=meta,
        unit=u.nJy,
    )


def ccdDataToFitsBytes(cutout: CCDData) -> bytes:
    """Serialize a cutout to FITS bytes, keeping its integer mask planes.

    ``CCDData.write`` writes data, uncertainty, PSF and WCS but never the
    ``flags`` upstream puts the afw mask in unless asked; they are written
    here as the ``MASK`` HDU with the ``MP_*`` plane keys taken from
    ``meta["maskPlanes"]`` (set by `makeCcdData`).
    """
    planes = cutout.meta.get(MASK_PLANES_META, {})
    if MASK_PLANES_META in cutout.meta:
        cutout = cutout.copy()
        del cutout.meta[MASK_PLANES_META]
    hdus = cutout.to_hdu(hdu_mask=None, hdu_flags="MASK" if cutout.flags is not None else None,
                         hdu_psf="PSFIMAGE")
    if cutout.flags is not None:
        maskHdu = hdus["MASK"]
        maskHdu.data = np.asarray(maskHdu.data, dtype=np.int32)
        for name, bit in planes.items():
            key = f"MP_{name}"
            # Long names as explicit HIERARCH cards, as afw writes them (and no warning).
            maskHdu.header[key if len(key) <= 8 else f"HIERARCH {key}"] = bit
        # Keep the layout of the direct writer: MASK last.
        hdus.remove(maskHdu)
        hdus.append(maskHdu)
    with io.BytesIO() as stream:
        hdus.writeto(stream)
        return stream.getvalue()
