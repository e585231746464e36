"""Cutouts of afw exposures as calibrated `astropy.nddata.CCDData` / FITS.

Written against the afw API (``getBBox``, ``getMaskedImage``, ``.array``,
``getWcs().pixelToSky``, ``getPlaneBitMask``, ``psf.computeKernelImage``), so
the same code cuts real ``lsst.afw.image.ExposureF`` objects and the package's
own model; `lsst.ap.alerts._afw` picks which.

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

__all__ = [
    "CutoutArrays",
    "calibrate",
    "ccdDataToFitsBytes",
    "cutoutArrays",
    "localTransformMatrices",
    "makeCcdData",
]

import dataclasses
import io

import astropy.units as u
import numpy as np
from astropy import wcs as astropyWcs
from astropy.io import fits
from astropy.nddata import CCDData, VarianceUncertainty

from ._afw import geom

# Offset, in pixels, of the central differences that give the local WCS
# Jacobian; the projection is smooth on this scale, and a full pixel keeps
# the sky-position differences far above double-precision rounding.
_JACOBIAN_STEP = 1.0


def _gnomonic(ra, dec, ra0, dec0):
    """Project sky positions (radians) onto the tangent plane at (ra0, dec0).

    Returns standard coordinates (xi, eta) in degrees: the intermediate world
    coordinates a FITS TAN WCS with reference point (ra0, dec0) produces.
    """
    dra = ra - ra0
    cosDec = np.cos(dec)
    cosC = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * cosDec * np.cos(dra)
    xi = cosDec * np.sin(dra) / cosC
    eta = (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * cosDec * np.cos(dra)) / cosC
    return np.degrees(xi), np.degrees(eta)


def localTransformMatrices(wcs, x, y, ra, dec) -> np.ndarray:
    """Jacobians of pixel → local gnomonic frame, for many points at once.

    Parameters
    ----------
    wcs : `lsst.afw.geom.SkyWcs`
        WCS of the parent image.
    x, y : `numpy.ndarray`
        Pixel positions (afw convention) at which to evaluate, shape (n,).
    ra, dec : `numpy.ndarray`
        Tangent points, radians, shape (n,) (normally the sky positions of
        ``x, y``).

    Returns
    -------
    matrices : `numpy.ndarray`
        Shape (n, 2, 2): ``[[dxi/dx, dxi/dy], [deta/dx, deta/dy]]`` in
        degrees per pixel, i.e. the CD matrix of a TAN WCS tangent at
        (ra, dec) that matches ``wcs`` to first order there.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    h = _JACOBIAN_STEP
    px = np.concatenate([x + h, x - h, x, x])
    py = np.concatenate([y, y, y + h, y - h])
    # afw's SkyWcs (and the model's) evaluate whole arrays in one call.
    skyRa, skyDec = wcs.pixelToSkyArray(px, py, degrees=False)
    ra4 = np.tile(np.asarray(ra, dtype=float), 4)
    dec4 = np.tile(np.asarray(dec, dtype=float), 4)
    xi, eta = _gnomonic(skyRa, skyDec, ra4, dec4)
    xi = xi.reshape(4, n)
    eta = eta.reshape(4, n)
    matrices = np.empty((n, 2, 2))
    matrices[:, 0, 0] = (xi[0] - xi[1]) / (2 * h)
    matrices[:, 1, 0] = (eta[0] - eta[1]) / (2 * h)
    matrices[:, 0, 1] = (xi[2] - xi[3]) / (2 * h)
    matrices[:, 1, 1] = (eta[2] - eta[3]) / (2 * h)
    return matrices


@dataclasses.dataclass
class CutoutArrays:
    """Pixels of one cutout, in the parent's units (not yet calibrated).

    Attributes
    ----------
    bbox : `lsst.geom.Box2I`
        Cutout box in parent pixel coordinates (may extend off the parent).
    image, variance : `numpy.ndarray`
        float32; NaN off the parent.
    mask : `numpy.ndarray`
        int32 afw mask planes; NO_DATA off the parent.
    """

    bbox: object
    image: np.ndarray
    variance: np.ndarray
    mask: np.ndarray


def cutoutArrays(exposure, center, extent, noDataBit: int) -> CutoutArrays:
    """Cut a box centred on ``center`` out of an exposure's pixel arrays.

    Same box and padding as afw's ``Exposure.getCutout(center, extent)``:
    ``Box2I.makeCenteredBox``, NaN image/variance and NO_DATA mask where the
    box leaves the parent.  Works on the arrays directly to avoid building
    an Exposure per cutout.

    Parameters
    ----------
    exposure : `lsst.afw.image.Exposure`
        Parent exposure; ``center`` must lie inside its bounding box.
    center : `lsst.geom.Point2D`
        Centre in parent pixel coordinates.
    extent : `lsst.geom.Extent2I`
        Size of the cutout.
    noDataBit : `int`
        Bit mask of the NO_DATA plane in ``exposure``'s mask.
    """
    bbox = geom.Box2I.makeCenteredBox(center, extent)
    parent = exposure.getBBox()
    masked = exposure.getMaskedImage()
    width, height = bbox.getWidth(), bbox.getHeight()
    image = np.full((height, width), np.nan, dtype=np.float32)
    variance = np.full((height, width), np.nan, dtype=np.float32)
    mask = np.full((height, width), noDataBit, dtype=np.int32)
    x0, y0 = max(bbox.getMinX(), parent.getMinX()), max(bbox.getMinY(), parent.getMinY())
    x1, y1 = min(bbox.getMaxX(), parent.getMaxX()), min(bbox.getMaxY(), parent.getMaxY())
    if x0 <= x1 and y0 <= y1:
        src = (slice(y0 - parent.getMinY(), y1 - parent.getMinY() + 1),
               slice(x0 - parent.getMinX(), x1 - parent.getMinX() + 1))
        dst = (slice(y0 - bbox.getMinY(), y1 - bbox.getMinY() + 1),
               slice(x0 - bbox.getMinX(), x1 - bbox.getMinX() + 1))
        image[dst] = masked.image.array[src]
        variance[dst] = masked.variance.array[src]
        mask[dst] = masked.mask.array[src]
    return CutoutArrays(bbox, image, variance, mask)


def calibrate(arrays: CutoutArrays, calibrationMean: float) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated float32 image and variance: × mean and × mean², as ``PhotoCalib.calibrateImage``."""
    mean = np.float32(calibrationMean)
    return arrays.image * mean, arrays.variance * (mean * mean)


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
    meta = {"cutMinX": arrays.bbox.getMinX() - 1, "cutMinY": arrays.bbox.getMinY() - 1}
    if rotPa is not None and np.isfinite(rotPa):
        meta["ROTPA"] = float(rotPa)
    meta.update({f"MP_{name}": bit for name, bit in maskPlanes.items()})
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
    ``flags`` upstream puts the afw mask in; they are added here as the
    ``MASK`` HDU with the ``MP_*`` plane keys.
    """
    hdus = cutout.to_hdu(hdu_mask=None, hdu_flags=None, hdu_psf="PSFIMAGE")
    if cutout.flags is not None:
        maskHdu = fits.ImageHDU(np.asarray(cutout.flags, dtype=np.int32), name="MASK")
        for key, value in cutout.meta.items():
            if key.upper().startswith("MP_"):
                maskHdu.header[key.upper()] = value
        hdus.append(maskHdu)
    with io.BytesIO() as stream:
        hdus.writeto(stream)
        return stream.getvalue()
