"""The cutouts of one image for every alert of a visit, sized before they are written.

`PackageAlertsTask` plans each image's cutouts in one pass (box, PSF,
PRIMARY header, hence the file size); the alert encoder then lays out every
alert at its final size and asks `ImageCutouts.writeInto` to write each FITS
file in place.

Pixels are cut, calibrated and byte-swapped for a batch of alerts at a time
(about 1 MiB of pixels per array): one strided gather and one multiply per
array and batch instead of three numpy calls per cutout, with temporaries
that stay in cache whatever the cutout size.
"""

from __future__ import annotations

__all__ = ["ImageCutouts"]

import bisect

import numpy as np

from .fits import CutoutFitsWriter
from .pixels import ArrayCutter, calibrationScales

# Pixel bytes (per array) prepared together: the temporaries stay in cache.
_BATCH_BYTES = 1 << 20


class ImageCutouts:
    """Planned cutouts of one exposure.

    Parameters
    ----------
    exposure : `lsst.afw.image.Exposure`
        The parent image.
    count : `int`
        Number of alerts of the visit; `add` fills in those with a cutout.

    Attributes
    ----------
    writer : `lsst.ap.alerts.cutouts.fits.CutoutFitsWriter`
        Header and PSF HDU builder of this image.
    fileSizes : `numpy.ndarray` [`int64`]
        FITS file size per alert, 0 for alerts without a cutout.
    """

    def __init__(self, exposure, count: int):
        self.writer = CutoutFitsWriter(dict(exposure.getMaskedImage().mask.getMaskPlaneDict()))
        self._cutter = ArrayCutter(exposure)
        self._scale, self._varianceScale = calibrationScales(exposure.getPhotoCalib().getCalibrationMean())
        self.fileSizes = np.zeros(count, dtype=np.int64)
        self._plans: list = [None] * count
        self._batchOf: list | None = None  # batch of each alert, set when writing starts
        self._batch = -1
        self._pixels: dict[int, tuple] = {}

    def add(self, index: int, minX: int, minY: int, size: int, primaryHeader: bytes,
            psfHdu: bytes | None) -> None:
        """Plan the cutout of alert ``index``.

        Parameters
        ----------
        index : `int`
            Alert index.
        minX, minY : `int`
            Parent pixel of the cutout's first pixel.
        size : `int`
            Side of the square cutout.
        primaryHeader : `bytes`
            From ``writer.primaryHeader``.
        psfHdu : `bytes` or `None`
            From ``writer.psfHdu`` (may be shared by many cutouts).
        """
        self._plans[index] = (minX, minY, size, primaryHeader, psfHdu)
        self.fileSizes[index] = self.writer.fileSize((size, size), primaryHeader, psfHdu)

    def writeInto(self, index: int, out, offset: int) -> int:
        """Write alert ``index``'s FITS file into ``out`` (a zeroed `memoryview`) at ``offset``; return its end."""
        _, _, size, primaryHeader, psfHdu = self._plans[index]
        if self._batchOf is None:
            sides = np.array([0 if plan is None else plan[2] for plan in self._plans], dtype=np.int64)
            pixelBytes = 4 * sides**2
            # An alert belongs to the batch its pixels start in.
            self._batchOf = ((np.cumsum(pixelBytes) - pixelBytes) // _BATCH_BYTES).tolist()
        if self._batchOf[index] != self._batch:
            self._prepareBatch(self._batchOf[index])
        pixels = self._pixels.get(index) or self._edgePixels(index)
        return self.writer.writeInto(out, offset, (size, size), primaryHeader, *pixels, psfHdu)

    def _edgePixels(self, index: int) -> tuple:
        """Big-endian image, variance and mask bytes of a cutout that leaves the parent.

        Padded like afw's ``getCutout``, one cutout at a time.
        """
        minX, minY, size, _, _ = self._plans[index]
        arrays = self._cutter.cut(minX, minY, size, size, copy=False)
        return self._calibrated(arrays.image[None], arrays.variance[None], arrays.mask[None])[0]

    def _prepareBatch(self, batch: int) -> None:
        """Cut and convert the pixels of every inside-the-parent cutout of one batch of alerts."""
        self._batch = batch
        self._pixels = {}
        bySize: dict[int, list] = {}
        start = bisect.bisect_left(self._batchOf, batch)
        for index in range(start, bisect.bisect_right(self._batchOf, batch, lo=start)):
            plan = self._plans[index]
            if plan is not None and self._cutter.contains(plan[0], plan[1], plan[2], plan[2]):
                bySize.setdefault(plan[2], []).append((index, plan[0], plan[1]))
        for size, boxes in bySize.items():
            indices, minX, minY = zip(*boxes)
            self._pixels.update(zip(indices, self._calibrated(*self._cutter.cutMany(minX, minY, size))))

    def _calibrated(self, image, variance, mask) -> list[tuple]:
        """Per cutout of the (n, h, w) arrays: calibrated big-endian image, variance and mask bytes."""
        converted = []
        for array, dtype, scale in ((image, ">f4", self._scale), (variance, ">f4", self._varianceScale),
                                    (mask, ">i4", None)):
            out = np.empty(array.shape, dtype=dtype)
            if scale is None:
                np.copyto(out, array, casting="unsafe")
            else:
                # PhotoCalib.calibrateImage: float32 pixels times the float32 factor.
                np.multiply(array, scale, out=out)
            step = out[0].nbytes
            data = memoryview(out).cast("B")
            converted.append([data[k * step:(k + 1) * step] for k in range(len(out))])
        return list(zip(*converted))
