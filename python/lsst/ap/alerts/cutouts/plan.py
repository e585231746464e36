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

"""The cutouts of one image for every alert of a visit, planned before they are written.

`planImageCutouts` places every source's box, computes the local WCS and
PSF and formats the PRIMARY header, which fixes each cutout's file size.
The alert encoder then lays out every alert at its final size and asks
`ImageCutouts.writeInto` to write each FITS file in place.

Pixels are cut, calibrated and byte-swapped for a batch of alerts at a time
(about 1 MiB of pixels per array): one strided gather and one multiply per
array and batch instead of three numpy calls per cutout, with temporaries
that stay in cache whatever the cutout size.
"""

from __future__ import annotations

__all__ = [
    "CutoutPlan",
    "ImageCutouts",
    "LocalWcsCache",
    "computeKernelImage",
    "planImageCutouts",
    "warnOffImage",
]

import bisect
import dataclasses

import numpy as np

from .._afw import GaussianPsf, InvalidParameterError, InvalidPsfError, geom
from .fits import CutoutFitsWriter, PrimaryHeaders, compressedMaskHdu
from .geometry import centeredBoxMin, localTransformMatrices
from .pixels import ArrayCutter, calibrationScales

# Pixel bytes (per array) prepared together: the temporaries stay in cache.
_BATCH_BYTES = 1 << 20
# lsst.geom's degree: the cutouts' sky positions go through radians as in SpherePoint.
_RADIANS_PER_DEGREE = np.pi / 180.0


@dataclasses.dataclass(slots=True)
class CutoutPlan:
    """Where one cutout is and its ready-made headers.

    Attributes
    ----------
    minX, minY : `int`
        Parent pixel of the cutout's first pixel.
    size : `int`
        Side of the square cutout.
    primaryHeader : `bytes`
        PRIMARY header (`PrimaryHeaders.header`).
    psfHdu : `bytes` or `None`
        Whole PSFIMAGE HDU (`CutoutFitsWriter.psfHdu`), possibly shared.
    maskHdu : `bytes` or `None`
        Whole AFWMASK HDU (`compressedMaskHdu`), set by `ImageCutouts.add`
        when the mask planes are written.
    """

    minX: int
    minY: int
    size: int
    primaryHeader: bytes
    psfHdu: bytes | None
    maskHdu: bytes | None = None


class ImageCutouts:
    """Planned cutouts of one exposure.

    Parameters
    ----------
    exposure : `lsst.afw.image.Exposure`
        The parent image.
    count : `int`
        Number of alerts of the visit; `add` fills in those with a cutout.
    maskPlanes : `str`
        How the cutouts carry afw's mask planes: ``"none"`` or
        ``"compressed"`` (`lsst.ap.alerts.cutouts.fits.MASK_LAYOUTS`).

    Attributes
    ----------
    writer : `lsst.ap.alerts.cutouts.fits.CutoutFitsWriter`
        Extension headers and PSF HDUs of this image.
    fileSizes : `numpy.ndarray` [`int64`]
        FITS file size per alert, 0 for alerts without a cutout.
    """

    def __init__(self, exposure, count: int, maskPlanes: str = "none"):
        masked = exposure.getMaskedImage()
        self.writer = CutoutFitsWriter()
        self._planes = dict(masked.mask.getMaskPlaneDict()) if maskPlanes == "compressed" else None
        photoCalib = exposure.getPhotoCalib()
        if photoCalib._isConstant:
            self._cutter = ArrayCutter(masked)
            self._scale, self._varianceScale = calibrationScales(photoCalib.getCalibrationMean())
        else:
            # A calibration that varies over the image: afw calibrates each
            # pixel on its own, so the whole parent is calibrated once, by afw.
            self._cutter = ArrayCutter(photoCalib.calibrateImage(masked))
            self._scale = self._varianceScale = np.float32(1.0)
        self.fileSizes = np.zeros(count, dtype=np.int64)
        self._plans: list[CutoutPlan | None] = [None] * count
        self._batchOf: list[int] | None = None  # batch of each alert, set when writing starts
        self._batch = -1
        self._pixels: dict[int, tuple] = {}

    def add(self, index: int, plan: CutoutPlan) -> None:
        """Plan the cutout of alert ``index``."""
        if self._planes is not None:
            # A compressed HDU's size depends on its pixels: made now, as the alert is sized.
            mask = self._cutter.cut(plan.minX, plan.minY, plan.size, plan.size, copy=False).mask
            plan.maskHdu = compressedMaskHdu(mask, self._planes)
        self._plans[index] = plan
        self.fileSizes[index] = self.writer.fileSize(
            (plan.size, plan.size), plan.primaryHeader, plan.psfHdu, plan.maskHdu
        )

    def writeInto(self, index: int, out, offset: int) -> int:
        """Write alert ``index``'s FITS file into ``out`` (a zeroed `memoryview`) at ``offset``.

        Returns the offset just past the file.
        """
        plan = self._plans[index]
        if self._batchOf is None:
            sides = np.array([0 if p is None else p.size for p in self._plans], dtype=np.int64)
            pixelBytes = 4 * sides**2
            # An alert belongs to the batch its pixels start in.
            self._batchOf = ((np.cumsum(pixelBytes) - pixelBytes) // _BATCH_BYTES).tolist()
        if self._batchOf[index] != self._batch:
            self._prepareBatch(self._batchOf[index])
        pixels = self._pixels.get(index) or self._edgePixels(plan)
        return self.writer.writeInto(
            out, offset, (plan.size, plan.size), plan.primaryHeader, *pixels, plan.psfHdu, plan.maskHdu
        )

    def _edgePixels(self, plan: CutoutPlan) -> tuple:
        """Big-endian image and variance bytes of a cutout that leaves the parent.

        Padded like afw's ``getCutout``, one cutout at a time.
        """
        arrays = self._cutter.cut(plan.minX, plan.minY, plan.size, plan.size, copy=False)
        return self._calibrated(arrays.image[None], arrays.variance[None])[0]

    def _prepareBatch(self, batch: int) -> None:
        """Cut and convert the pixels of every inside-the-parent cutout of one batch of alerts."""
        self._batch = batch
        self._pixels = {}
        bySize: dict[int, list] = {}
        start = bisect.bisect_left(self._batchOf, batch)
        for index in range(start, bisect.bisect_right(self._batchOf, batch, lo=start)):
            plan = self._plans[index]
            if plan is not None and self._cutter.contains(plan.minX, plan.minY, plan.size, plan.size):
                bySize.setdefault(plan.size, []).append((index, plan.minX, plan.minY))
        for size, boxes in bySize.items():
            indices, minX, minY = zip(*boxes, strict=True)
            self._pixels.update(
                zip(
                    indices,
                    self._calibrated(*self._cutter.cutMany(minX, minY, size, withMask=False)),
                    strict=True,
                )
            )

    def _calibrated(self, image, variance) -> list[tuple]:
        """Per cutout of the (n, h, w) arrays: calibrated big-endian image and variance bytes."""
        converted = []
        for array, scale in ((image, self._scale), (variance, self._varianceScale)):
            out = np.empty(array.shape, dtype=">f4")
            # PhotoCalib.calibrateImage: float32 pixels times the float32 factor.
            np.multiply(array, scale, out=out)
            step = out[0].nbytes
            data = memoryview(out).cast("B")
            converted.append([data[k * step : (k + 1) * step] for k in range(len(out))])
        return list(zip(*converted, strict=True))


class LocalWcsCache:
    """Cutout reference pixels and CD matrices of a visit's sources, shared by images on equal WCSs.

    The difference and science images (and usually the warped template) are
    on the same WCS; with real afw each matrix costs milliseconds of AST.
    """

    def __init__(self):
        self._entries: list[tuple] = []

    def get(self, wcs, ra, dec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pixel of each (ra, dec) (radians) on ``wcs`` and the local CD matrix there, shape (n, 2, 2)."""
        for cachedWcs, cached in self._entries:
            if cachedWcs == wcs:
                return cached
        cx, cy = wcs.skyToPixelArray(ra, dec, degrees=False)
        cached = (cx, cy, localTransformMatrices(wcs, cx, cy, ra, dec))
        self._entries.append((wcs, cached))
        return cached


def planImageCutouts(
    exposure,
    sources,
    sizes,
    headers: PrimaryHeaders,
    localWcs: LocalWcsCache,
    useAveragePsf: bool,
    log,
    maskPlanes: str = "none",
) -> ImageCutouts | None:
    """Plan the cutout of every source on one image.

    Parameters
    ----------
    exposure : `lsst.afw.image.Exposure` or `None`
        The image (`None`: no cutouts).
    sources : `lsst.ap.alerts.catalogs.visitTables.PreparedTables`
        ``diaSourceIds``, ``ra``/``dec`` (degrees) and ``x``/``y`` (NaN
        where unknown: then the WCS position is used) of the alerts.
    sizes : `numpy.ndarray` [`int`]
        Cutout side per source.
    headers : `PrimaryHeaders`
        The visit's PRIMARY header formatter.
    localWcs : `LocalWcsCache`
        The visit's local WCS matrices.
    useAveragePsf : `bool`
        Attach the image's average PSF instead of the PSF at each source.
    log : `logging.Logger`
        Where skipped cutouts are reported.
    maskPlanes : `str`, optional
        How the cutouts carry afw's mask planes (`ImageCutouts`).

    Returns
    -------
    cutouts : `ImageCutouts` or `None`
        `None` if there is no image or no source.
    """
    n = len(sources.diaSourceIds)
    if exposure is None or n == 0:
        return None
    wcs = exposure.getWcs()
    imBBox = exposure.getBBox()
    # Radians as SpherePoint(ra, dec, degrees) holds them.
    ra = np.asarray(sources.ra, dtype=float) * _RADIANS_PER_DEGREE
    dec = np.asarray(sources.dec, dtype=float) * _RADIANS_PER_DEGREE
    cx, cy, matrices = localWcs.get(wcs, ra, dec)
    x, y = np.where(np.isfinite(sources.x) & np.isfinite(sources.y), (sources.x, sources.y), (cx, cy))
    minX, minY = centeredBoxMin(x, y, sizes, sizes)
    # Box2D(bbox).contains: pixel edges half a pixel beyond the centres, max excluded.
    onImage = (
        (x >= imBBox.getMinX() - 0.5)
        & (x < imBBox.getMaxX() + 0.5)
        & (y >= imBBox.getMinY() - 0.5)
        & (y < imBBox.getMaxY() + 0.5)
    ).tolist()
    cutouts = ImageCutouts(exposure, n, maskPlanes)
    psfHdus = _PsfHdus(exposure, cutouts.writer, useAveragePsf, log)
    # CRVAL is skyCenter.getRa().asDegrees(): back from radians as lsst.geom does.
    crval1, crval2 = (ra / _RADIANS_PER_DEGREE).tolist(), (dec / _RADIANS_PER_DEGREE).tolist()
    # Python numbers: numpy scalars are slow to format and compare one by one.
    ids, xs, ys = sources.diaSourceIds.tolist(), x.tolist(), y.tolist()
    minXs, minYs, sideList = minX.tolist(), minY.tolist(), np.broadcast_to(sizes, n).tolist()
    crpix1, crpix2 = (cx - (minX - 1)).tolist(), (cy - (minY - 1)).tolist()
    cds = matrices.reshape(n, 4).tolist()
    for i in range(n):
        if not onImage[i]:
            warnOffImage(log, ids[i], geom.Point2D(xs[i], ys[i]), imBBox)
            continue
        try:
            size = int(sideList[i])
            header = headers.header(
                (size, size),
                minXs[i] - 1,
                minYs[i] - 1,
                (crpix1[i], crpix2[i]),
                cds[i],
                (crval1[i], crval2[i]),
            )
            psfHdu = psfHdus.at(xs[i], ys[i], ids[i])
            cutouts.add(i, CutoutPlan(minXs[i], minYs[i], size, header, psfHdu))
        except Exception as e:  # one bad cutout must not cost the others their alerts
            log.warning(
                "Cutout for DiaSource id=%d failed (%s: %s); packaging the alert without it.",
                ids[i],
                type(e).__name__,
                e,
            )
    return cutouts


class _PsfHdus:
    """PSFIMAGE HDUs of one image: one shared HDU when the PSF is the same everywhere."""

    def __init__(self, exposure, writer: CutoutFitsWriter, useAveragePsf: bool, log):
        self._exposure, self._writer, self._log = exposure, writer, log
        psf = exposure.getPsf()
        if psf is None:
            log.warning("Exposure has no PSF; its cutouts carry none.")
        self._perSource = psf is not None and not useAveragePsf and not isinstance(psf, GaussianPsf)
        self._shared = None
        if psf is not None and not self._perSource:
            kernel = computeKernelImage(exposure, psf.getAveragePosition(), None, log)
            self._shared = None if kernel is None else writer.psfHdu(kernel)

    def at(self, x: float, y: float, srcId: int) -> bytes | None:
        if not self._perSource:
            return self._shared
        kernel = computeKernelImage(self._exposure, geom.Point2D(x, y), srcId, self._log)
        return None if kernel is None else self._writer.psfHdu(kernel)


def computeKernelImage(exposure, pixelCenter, srcId, log) -> np.ndarray | None:
    """PSF kernel image at a point, or `None` (with a warning) if it cannot be evaluated."""
    try:
        return exposure.getPsf().computeKernelImage(pixelCenter).array
    except (InvalidParameterError, InvalidPsfError, ValueError, RuntimeError) as e:
        where = f"DiaSource id={srcId}" if srcId is not None else "the image's average position"
        log.warning(
            "Could not compute the PSF for %s (%s: %s); the cutout carries no PSF.",
            where,
            type(e).__name__,
            e,
        )
        return None


def warnOffImage(log, srcId, point, imBBox) -> None:
    """Upstream's message for a source whose centroid is off the image."""
    log.warning(
        "DiaSource id=%i centroid lies at pixel (%.2f, %.2f) which is outside the Exposure with "
        "bounding box ((%i, %i), (%i, %i)). Returning None for cutout...",
        srcId,
        point.getX(),
        point.getY(),
        imBBox.getMinX(),
        imBBox.getMaxX(),
        imBBox.getMinY(),
        imBBox.getMaxY(),
    )
