"""Spatially constant photometric calibration, modelled on afw's PhotoCalib.

The calibration maps instrumental flux (counts) to nJy:
``flux[nJy] = instFlux * calibrationMean``.

`PhotoCalib.calibrateImage` mirrors current afw: the image is multiplied by
the mean and the variance by its square; the calibration error is not folded
into the variance (afw deprecated and now ignores the
``includeScaleUncertainty`` argument, so the model accepts it, warns, and
ignores it too).  Spatially varying calibrations (afw BoundedFields) are not
modelled.
"""

from __future__ import annotations

__all__ = ["REFERENCE_FLUX_NJY", "Measurement", "PhotoCalib", "makePhotoCalibFromCalibZeroPoint"]

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .exceptions import InvalidParameterError

# AB zero point flux in nJy: 10**(-0.4 * 48.6) erg/s/cm^2/Hz = 3631 Jy
# (lsst::utils::referenceFlux); equals 10**(0.4 * 31.4).
REFERENCE_FLUX_NJY = 1e23 * 10 ** (48.6 / -2.5) * 1e9

_UNSET = object()


@dataclass(frozen=True)
class Measurement:
    """A value and its 1-sigma error."""

    value: float
    error: float


class PhotoCalib:
    """A spatially constant calibration from counts to nJy.

    Parameters
    ----------
    calibrationMean : `float`
        nJy per count; must be non-negative.
    calibrationErr : `float`, optional
        1-sigma error of ``calibrationMean``; must be non-negative.
    bbox : `lsst.geom.Box2I`, optional
        Accepted for afw compatibility and kept, unused.
    """

    def __init__(self, calibrationMean: float = 1.0, calibrationErr: float = 0.0, bbox=None):
        for name, value in (("calibrationMean", calibrationMean), ("calibrationErr", calibrationErr)):
            if value < 0:
                raise InvalidParameterError(f"{name} must be non-negative: {value}")
        self._mean = float(calibrationMean)
        self._err = float(calibrationErr)
        self._bbox = bbox

    def getCalibrationMean(self) -> float:
        return self._mean

    def getCalibrationErr(self) -> float:
        return self._err

    def getLocalCalibration(self, point=None) -> float:
        return self._mean

    def getInstFluxAtZeroMagnitude(self) -> float:
        return REFERENCE_FLUX_NJY / self._mean

    def getBBox(self):
        return self._bbox

    @property
    def _isConstant(self) -> bool:
        return True

    # -- conversions
    def instFluxToNanojansky(self, instFlux, instFluxErr=None, point=None):
        """Convert counts to nJy; with an error, return a `Measurement`
        whose error adds the calibration error in quadrature (afw's
        formula)."""
        if instFluxErr is None or (point is None and _isPoint(instFluxErr)):
            return np.multiply(instFlux, self._mean) if np.ndim(instFlux) else float(instFlux) * self._mean
        flux = float(instFlux) * self._mean
        error = abs(flux) * math.hypot(float(instFluxErr) / float(instFlux),
                                       self._err / self._mean if self._mean else math.nan)
        return Measurement(flux, error)

    def instFluxToMagnitude(self, instFlux, instFluxErr=None, point=None):
        """Convert counts to AB magnitude (optionally with its error)."""
        flux = float(instFlux) * self._mean
        mag = -2.5 * math.log10(flux / REFERENCE_FLUX_NJY)
        if instFluxErr is None or _isPoint(instFluxErr):
            return mag
        error = 2.5 / math.log(10.0) * math.hypot(float(instFluxErr) / float(instFlux), self._err / self._mean)
        return Measurement(mag, error)

    def magnitudeToInstFlux(self, magnitude, point=None) -> float:
        return REFERENCE_FLUX_NJY * 10 ** (-0.4 * magnitude) / self._mean

    def calibrateImage(self, maskedImage, includeScaleUncertainty=_UNSET):
        """Return a calibrated copy (nJy) of ``maskedImage``.

        The image is scaled by the mean, the variance by the mean squared,
        and the mask is copied, as afw does.
        """
        if includeScaleUncertainty is not _UNSET:
            warnings.warn("The 'includeScaleUncertainty' argument to calibrateImage is deprecated and "
                          "does nothing.", FutureWarning, stacklevel=2)
        result = maskedImage.clone()
        result.image.array *= np.float32(self._mean) if result.image.array.dtype == np.float32 else self._mean
        result.variance.array *= np.float32(self._mean * self._mean)
        return result

    def uncalibrateImage(self, maskedImage, includeScaleUncertainty=_UNSET):
        """Inverse of `calibrateImage`."""
        if includeScaleUncertainty is not _UNSET:
            warnings.warn("The 'includeScaleUncertainty' argument to uncalibrateImage is deprecated and "
                          "does nothing.", FutureWarning, stacklevel=2)
        result = maskedImage.clone()
        result.image.array /= np.float32(self._mean)
        result.variance.array /= np.float32(self._mean * self._mean)
        return result

    def __eq__(self, other):
        if not isinstance(other, PhotoCalib):
            return NotImplemented
        return self._mean == other._mean and self._err == other._err

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None

    def __reduce__(self):
        return (PhotoCalib, (self._mean, self._err, self._bbox))

    def __repr__(self):
        return f"PhotoCalib(spatially constant with mean: {self._mean} error: {self._err})"

    # -- persistence (afw archive layout; see fitsIo)
    def writeFits(self, path) -> None:
        from .fitsIo import writePersistableFits

        writePersistableFits(self, path)

    @classmethod
    def readFits(cls, path) -> PhotoCalib:
        from .fitsIo import readPersistableFits

        return readPersistableFits(path, "PhotoCalib")


def _isPoint(value) -> bool:
    return hasattr(value, "getX") and hasattr(value, "getY")


def makePhotoCalibFromCalibZeroPoint(instFluxMag0: float, instFluxMag0Err: float = 0.0) -> PhotoCalib:
    """Make a PhotoCalib from an old-style ``FLUXMAG0``/``FLUXMAG0ERR``.

    As in afw, ``FLUXMAG0 == 0`` gives an infinite mean (and a NaN error).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.float64(REFERENCE_FLUX_NJY) / np.float64(instFluxMag0)
        err = np.float64(REFERENCE_FLUX_NJY) * np.float64(instFluxMag0Err) / np.float64(instFluxMag0) ** 2
    calib = PhotoCalib.__new__(PhotoCalib)
    calib._mean, calib._err, calib._bbox = float(mean), float(err), None
    if calib._mean < 0 or calib._err < 0:
        raise InvalidParameterError(f"FLUXMAG0={instFluxMag0}, FLUXMAG0ERR={instFluxMag0Err} give a "
                                    "negative calibration")
    return calib
