"""The cutouts of one image for every alert of a visit, sized before they are written.

`PackageAlertsTask` plans each image's cutouts in one pass (box, PSF,
PRIMARY header, hence the file size); the alert encoder then lays out every
alert at its final size and asks `ImageCutouts.writeInto` to write each FITS
file in place.  Nothing is serialized twice and no per-cutout buffer is
built.
"""

from __future__ import annotations

__all__ = ["ImageCutouts"]

import numpy as np

from .cutouts import ArrayCutter, calibrationScales
from .fitsCutout import CutoutFitsWriter


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
    writer : `lsst.ap.alerts.fitsCutout.CutoutFitsWriter`
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

    def writeInto(self, index: int, out: np.ndarray, offset: int) -> int:
        """Write alert ``index``'s FITS file into zeroed ``out`` at ``offset``; return its end."""
        minX, minY, size, primaryHeader, psfHdu = self._plans[index]
        arrays = self._cutter.cut(minX, minY, size, size, copy=False)
        return self.writer.writeInto(out, offset, primaryHeader, arrays.image, arrays.variance, arrays.mask,
                                     psfHdu, self._scale, self._varianceScale)

    def fitsBytes(self, index: int) -> bytes | None:
        """Alert ``index``'s FITS file as `bytes` (`None` if it has no cutout)."""
        size = int(self.fileSizes[index])
        if not size:
            return None
        out = np.zeros(size, dtype=np.uint8)
        self.writeInto(index, out, 0)
        return out.tobytes()
