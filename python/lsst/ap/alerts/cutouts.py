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
    "ArrayCutter",
    "CutoutArrays",
    "MASK_PLANES_META",
    "calibrate",
    "calibrationScales",
    "ccdDataToFitsBytes",
    "centeredBoxMin",
    "localTransformMatrices",
    "makeCcdData",
]

import dataclasses
import io

import astropy.units as u
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from astropy import wcs as astropyWcs
from astropy.nddata import CCDData, VarianceUncertainty


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


def centeredBoxMin(x, y, width, height):
    """Lower-left pixel of ``Box2I.makeCenteredBox((x, y), (width, height))``, vectorised.

    lsst.geom shifts the centre by half the size, then by half a pixel for
    Box2I's inclusive-max convention, and rounds half up (Point2I(Point2D)).
    """
    minX = np.floor(np.asarray(x, dtype=float) - 0.5 * np.asarray(width) + 1.0).astype(np.int64)
    minY = np.floor(np.asarray(y, dtype=float) - 0.5 * np.asarray(height) + 1.0).astype(np.int64)
    return minX, minY


@dataclasses.dataclass
class CutoutArrays:
    """Pixels of one cutout, in the parent's units (not yet calibrated).

    Attributes
    ----------
    minX, minY : `int`
        Parent pixel of the cutout's first pixel (the box may leave the parent).
    image, variance : `numpy.ndarray`
        float32; NaN off the parent.
    mask : `numpy.ndarray`
        int32 afw mask planes; NO_DATA off the parent.
    """

    minX: int
    minY: int
    image: np.ndarray
    variance: np.ndarray
    mask: np.ndarray


class ArrayCutter:
    """Cut boxes out of one exposure's pixel arrays.

    Same pixels and padding as afw's ``Exposure.getCutout``: NaN image and
    variance and the NO_DATA mask bit where the box leaves the parent.
    Works on the arrays directly (fetched once) instead of building an
    Exposure per cutout.

    Parameters
    ----------
    exposure : `lsst.afw.image.Exposure`
        Parent exposure.
    """

    def __init__(self, exposure):
        masked = exposure.getMaskedImage()
        bbox = exposure.getBBox()
        self._x0, self._y0 = bbox.getMinX(), bbox.getMinY()
        self._image = masked.image.array
        self._variance = masked.variance.array
        self._mask = masked.mask.array
        self._height, self._width = self._image.shape
        self._noData = masked.mask.getPlaneBitMask("NO_DATA")

    def cut(self, minX: int, minY: int, width: int, height: int, copy: bool = True) -> CutoutArrays:
        """Return the box with lower-left parent pixel (minX, minY) and the given size.

        With ``copy=False`` a box inside the parent comes back as views of
        the parent's arrays, for callers that only read them.
        """
        lx, ly = minX - self._x0, minY - self._y0
        x0, y0 = max(lx, 0), max(ly, 0)
        x1, y1 = min(lx + width, self._width), min(ly + height, self._height)
        if self.contains(minX, minY, width, height):
            # Fully inside, the common case.
            image = self._image[y0:y1, x0:x1]
            variance = self._variance[y0:y1, x0:x1]
            mask = self._mask[y0:y1, x0:x1]
            if copy:
                return CutoutArrays(minX, minY, image.copy(), variance.copy(), mask.astype(np.int32))
            return CutoutArrays(minX, minY, image, variance, mask)
        image = np.full((height, width), np.nan, dtype=np.float32)
        variance = np.full((height, width), np.nan, dtype=np.float32)
        mask = np.full((height, width), self._noData, dtype=np.int32)
        if x0 < x1 and y0 < y1:
            dst = (slice(y0 - ly, y1 - ly), slice(x0 - lx, x1 - lx))
            image[dst] = self._image[y0:y1, x0:x1]
            variance[dst] = self._variance[y0:y1, x0:x1]
            mask[dst] = self._mask[y0:y1, x0:x1]
        return CutoutArrays(minX, minY, image, variance, mask)

    def contains(self, minX: int, minY: int, width: int, height: int) -> bool:
        """Whether the box lies entirely on the parent."""
        lx, ly = minX - self._x0, minY - self._y0
        return lx >= 0 and ly >= 0 and lx + width <= self._width and ly + height <= self._height

    def cutMany(self, minX, minY, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of many square boxes that lie on the parent, in one strided gather per array.

        Parameters
        ----------
        minX, minY : sequence of `int`
            Lower-left parent pixel of each box (each box must be `contains`-ed).
        size : `int`
            Side of the boxes.

        Returns
        -------
        image, variance, mask : `numpy.ndarray`
            Shape (n, size, size), the parent's dtypes.
        """
        rows = np.asarray(minY) - self._y0
        columns = np.asarray(minX) - self._x0
        return tuple(sliding_window_view(array, (size, size))[rows, columns]
                     for array in (self._image, self._variance, self._mask))

    def cutCentered(self, center, extent) -> CutoutArrays:
        """The box afw's ``getCutout(center, extent)`` would take."""
        width, height = extent.getX(), extent.getY()
        minX, minY = centeredBoxMin(center.getX(), center.getY(), width, height)
        return self.cut(int(minX), int(minY), width, height)


# CCDData.meta key holding the mask plane dictionary (written to the MASK HDU
# as MP_* keys, never to PRIMARY).
MASK_PLANES_META = "maskPlanes"


def calibrate(arrays: CutoutArrays, calibrationMean: float) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated float32 image and variance, bit for bit as afw's ``PhotoCalib.calibrateImage``.

    afw multiplies a float image by the float-cast mean, and the variance by
    the float-cast square of the (double) mean.
    """
    scale, varianceScale = calibrationScales(calibrationMean)
    return arrays.image * scale, arrays.variance * varianceScale


def calibrationScales(calibrationMean: float) -> tuple[np.float32, np.float32]:
    """The float32 factors afw's ``calibrateImage`` applies to image and variance."""
    mean = float(calibrationMean)
    return np.float32(mean), np.float32(mean * mean)


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
