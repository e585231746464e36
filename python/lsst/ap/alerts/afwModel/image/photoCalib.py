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

"""Spatially constant photometric calibration, modelled on afw's PhotoCalib.

The calibration maps instrumental flux (counts) to nJy:
``flux[nJy] = instFlux * calibrationMean``.  The conversions use afw's
arithmetic (results are bit-identical); like afw, their errors do not
include the calibration error.

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

from ..exceptions import InvalidParameterError

# AB zero point flux in nJy: 10**(-0.4 * 48.6) erg/s/cm^2/Hz = 3631 Jy
# (lsst::utils::referenceFlux); equals 10**(0.4 * 31.4).
REFERENCE_FLUX_NJY = 1e23 * 10 ** (48.6 / -2.5) * 1e9

_UNSET = object()


@dataclass(frozen=True)
class Measurement:
    """A value and its 1-sigma error."""

    value: float
    error: float

    def __str__(self):
        return f"value={self.value!r}, error={self.error!r}"


class PhotoCalib:
    """A spatially constant calibration from counts to nJy.

    Parameters
    ----------
    calibrationMean : `float`, optional
        nJy per count; must be non-negative.  The default, 0, is afw's
        (an unset calibration: conversions to counts give inf or NaN).
    calibrationErr : `float`, optional
        1-sigma error of ``calibrationMean``; must be non-negative.
    bbox : `lsst.geom.Box2I`, optional
        Accepted for afw compatibility and kept, unused.
    """

    def __init__(self, calibrationMean: float = 0.0, calibrationErr: float = 0.0, bbox=None):
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

    def getLocalCalibration(self, point) -> float:
        """Calibration at ``point`` (the mean: the model is constant)."""
        return self._mean

    def getInstFluxAtZeroMagnitude(self) -> float:
        return _divide(REFERENCE_FLUX_NJY, self._mean)

    @property
    def _isConstant(self) -> bool:
        return True

    # -- conversions, with afw's arithmetic (bit-identical results)
    def instFluxToNanojansky(self, instFlux, *args):
        """Convert counts to nJy.

        ``(instFlux)`` or ``(instFlux, point)`` give a `float`;
        ``(instFlux, instFluxErr[, point])`` a `Measurement` whose error is
        ``instFluxErr * mean``: like afw, the calibration error is not
        propagated.
        """
        instFluxErr = _errorArg(args)
        if instFluxErr is None:
            return np.multiply(instFlux, self._mean) if np.ndim(instFlux) else float(instFlux) * self._mean
        return Measurement(float(instFlux) * self._mean, float(instFluxErr) * self._mean)

    def instFluxToMagnitude(self, instFlux, *args):
        """Convert counts to AB magnitude: NaN for a negative flux, +inf
        for zero, as afw.  With an error, a `Measurement` whose error is
        ``2.5 / ln(10) * instFluxErr / instFlux`` (signed; no calibration
        error), divided in IEEE arithmetic as afw: a zero flux gives an
        infinite (or NaN) error rather than an exception.
        """
        instFluxErr = _errorArg(args)
        magnitude = _nanojanskyToMagnitude(float(instFlux) * self._mean)
        if instFluxErr is None:
            return magnitude
        return Measurement(magnitude, 2.5 / math.log(10.0) * _divide(float(instFluxErr), float(instFlux)))

    def magnitudeToInstFlux(self, magnitude, point=None) -> float:
        return _divide(REFERENCE_FLUX_NJY * 10 ** (float(magnitude) / -2.5), self._mean)

    def nanojanskyToInstFlux(self, nanojansky, point=None) -> float:
        return _divide(float(nanojansky), self._mean)

    def calibrateImage(self, maskedImage, includeScaleUncertainty=_UNSET):
        """Return a calibrated copy (nJy) of ``maskedImage``.

        The image is scaled by the mean, the variance by the mean squared,
        and the mask is copied, as afw does.
        """
        if includeScaleUncertainty is not _UNSET:
            warnings.warn(
                "The 'includeScaleUncertainty' argument to calibrateImage is deprecated and does nothing.",
                FutureWarning,
                stacklevel=2,
            )
        result = maskedImage.clone()
        result.image.array *= np.float32(self._mean) if result.image.array.dtype == np.float32 else self._mean
        # afw squares the float-cast mean in float (not the double mean): bit-identical variances.
        result.variance.array *= np.float32(self._mean) * np.float32(self._mean)
        return result

    def uncalibrateImage(self, maskedImage, includeScaleUncertainty=_UNSET):
        """Inverse of `calibrateImage`."""
        if includeScaleUncertainty is not _UNSET:
            warnings.warn(
                "The 'includeScaleUncertainty' argument to uncalibrateImage is deprecated and does nothing.",
                FutureWarning,
                stacklevel=2,
            )
        result = maskedImage.clone()
        with np.errstate(divide="ignore", invalid="ignore"):  # a zero mean gives inf/NaN, as afw
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

    def __str__(self):
        return f"spatially constant with mean: {_cppNumber(self._mean)} error: {_cppNumber(self._err)}"

    def __repr__(self):
        return f"PhotoCalib({self})"

    # readFits/writeFits (afw's archive layout) are added by `lsst.ap.alerts.afwModel.fits`.


def _cppNumber(value: float) -> str:
    """``value`` as C++ streams print a double by default (6 significant digits)."""
    return f"{value:g}"


def _isPoint(value) -> bool:
    return hasattr(value, "getX") and hasattr(value, "getY")


def _errorArg(args):
    """The ``instFluxErr`` of afw's ``(value[, err][, point])`` overloads."""
    if len(args) > 2 or (len(args) == 2 and not _isPoint(args[1])):
        raise TypeError(f"Expected (instFlux[, instFluxErr][, point]), got {len(args) + 1} arguments")
    if not args or _isPoint(args[0]):
        return None
    return args[0]


def _divide(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` in IEEE arithmetic (C++'s): a zero
    denominator gives a signed infinity or NaN, not `ZeroDivisionError`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(numerator) / np.float64(denominator))


def _nanojanskyToMagnitude(flux: float) -> float:
    """AB magnitude of ``flux`` nJy, as afw computes it."""
    if flux < 0 or math.isnan(flux):
        return math.nan
    if flux == 0:
        return math.inf
    return -2.5 * math.log10(flux / REFERENCE_FLUX_NJY)


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
        raise InvalidParameterError(
            f"FLUXMAG0={instFluxMag0}, FLUXMAG0ERR={instFluxMag0Err} give a negative calibration"
        )
    return calib
