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

"""DiaObject summaries computed from the very DiaSources and forced sources.

As ap_association's DiaCalculation plugins: per band, inverse-variance
weighted means and their errors, sample sigma, min/max, the largest slope
between consecutive detections, mean error and counts; weighted mean
positions; first and last detection times.
"""

from __future__ import annotations

__all__: list[str] = []

import numpy as np

from .survey import LSST_BANDS


def objectSummary(
    n,
    obj,
    band,
    mjd,
    flux,
    fluxErr,
    sciFlux,
    sciErr,
    ra,
    dec,
    raErr,
    decErr,
    forcedObj,
    forcedBand,
    forcedFlux,
    forcedErr,
):
    """DiaObject columns from all detections and forced sources of each object.

    Parameters
    ----------
    n : `int`
        Number of DiaObjects.
    obj, band : `numpy.ndarray`
        Object (0..n-1) and band index of each detection.
    mjd, flux, fluxErr, sciFlux, sciErr, ra, dec, raErr, decErr : `numpy.ndarray`
        The detections' measurements.
    forcedObj, forcedBand, forcedFlux, forcedErr : `numpy.ndarray`
        Forced photometry: object, band index, flux and error.

    Returns
    -------
    columns : `dict` [`str`, `numpy.ndarray`]
        DiaObject columns, ``n`` rows each.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _bandStatistics(
            n, obj, band, mjd, flux, fluxErr, sciFlux, sciErr, forcedObj, forcedBand, forcedFlux, forcedErr
        )
        out.update(_positionsAndTimes(n, obj, mjd, ra, dec, raErr, decErr))
    return out


def _grouped(keys, values, size):
    """Sums of the finite ``values`` per key."""
    ok = np.isfinite(values)
    return np.bincount(keys[ok], values[ok], minlength=size)


def _bandStatistics(
    n, obj, band, mjd, flux, fluxErr, sciFlux, sciErr, forcedObj, forcedBand, forcedFlux, forcedErr
):
    """The ``<band>_psfFlux*``, ``_fpFlux*`` and ``_scienceFlux*`` columns."""
    nb = len(LSST_BANDS)
    key = obj * nb + band
    size = n * nb
    good = np.isfinite(flux)
    count = np.bincount(key[good], minlength=size)
    w = 1.0 / fluxErr**2
    sumW = _grouped(key, np.where(good, w, np.nan), size)
    wMean = _grouped(key, w * flux, size) / np.where(sumW > 0, sumW, np.nan)
    mean = _grouped(key, flux, size) / np.where(count > 0, count, np.nan)
    sq = _grouped(key, (flux - mean[key]) ** 2, size)
    sigma = np.sqrt(sq / np.where(count > 1, count - 1, np.nan))
    fmin = np.full(size, np.inf)
    fmax = np.full(size, -np.inf)
    np.fmin.at(fmin, key[good], flux[good])
    np.fmax.at(fmax, key[good], flux[good])
    order = np.lexsort((mjd, key))
    k, t, f = key[order], mjd[order], flux[order]
    same = (k[1:] == k[:-1]) & np.isfinite(f[1:]) & np.isfinite(f[:-1])
    slopes = np.full(size, -np.inf)
    np.fmax.at(slopes, k[1:][same], (np.diff(f) / np.diff(t))[same])
    errMean = _grouped(key, np.where(good, fluxErr, np.nan), size) / np.where(count > 0, count, np.nan)
    sw = 1.0 / sciErr**2
    sciSumW = _grouped(key, sw, size)
    sciMean = _grouped(key, sw * sciFlux, size) / np.where(sciSumW > 0, sciSumW, np.nan)

    fkey = forcedObj * nb + forcedBand
    fw = 1.0 / forcedErr**2
    fSumW = _grouped(fkey, fw, size)
    fpMean = _grouped(fkey, fw * forcedFlux, size) / np.where(fSumW > 0, fSumW, np.nan)

    out = {}
    has = count > 0
    for b, name in enumerate(LSST_BANDS):
        sl = slice(b, size, nb)
        some = has[sl]
        out[f"{name}_psfFluxMean"] = np.where(some, wMean[sl], np.nan)
        out[f"{name}_psfFluxMeanErr"] = np.where(some, 1.0 / np.sqrt(sumW[sl]), np.nan)
        out[f"{name}_psfFluxSigma"] = sigma[sl]
        out[f"{name}_psfFluxNdata"] = count[sl]
        out[f"{name}_fpFluxMean"] = fpMean[sl]
        out[f"{name}_fpFluxMeanErr"] = np.where(fSumW[sl] > 0, 1.0 / np.sqrt(fSumW[sl]), np.nan)
        out[f"{name}_scienceFluxMean"] = sciMean[sl]
        out[f"{name}_scienceFluxMeanErr"] = np.where(sciSumW[sl] > 0, 1.0 / np.sqrt(sciSumW[sl]), np.nan)
        out[f"{name}_psfFluxMin"] = np.where(some, fmin[sl], np.nan)
        out[f"{name}_psfFluxMax"] = np.where(some, fmax[sl], np.nan)
        out[f"{name}_psfFluxMaxSlope"] = np.where(np.isfinite(slopes[sl]), slopes[sl], np.nan)
        out[f"{name}_psfFluxErrMean"] = errMean[sl]
    return out


def _positionsAndTimes(n, obj, mjd, ra, dec, raErr, decErr):
    """Weighted mean positions, source counts, first and last detection times."""
    out = {}
    # Inverse-variance weighted, in offsets from the first source so that
    # RA wrap-around does no harm.
    first = np.unique(obj, return_index=True)[1]  # every object has this visit's source
    dra = ((ra - ra[first][obj] + 180.0) % 360.0 - 180.0) * np.cos(np.radians(dec))
    ddec = dec - dec[first][obj]
    wr, wd = 1.0 / raErr**2, 1.0 / decErr**2
    sumR, sumD = np.bincount(obj, wr, n), np.bincount(obj, wd, n)
    cosDec = np.cos(np.radians(dec[first]))
    out["ra"] = (ra[first] + np.bincount(obj, wr * dra, n) / sumR / cosDec) % 360.0
    out["dec"] = dec[first] + np.bincount(obj, wd * ddec, n) / sumD
    out["raErr"] = 1.0 / np.sqrt(sumR)
    out["decErr"] = 1.0 / np.sqrt(sumD)
    out["ra_dec_Cov"] = 0.05 * out["raErr"] * out["decErr"]
    out["nDiaSources"] = np.bincount(obj, minlength=n)
    tmin = np.full(n, np.inf)
    tmax = np.full(n, -np.inf)
    np.fmin.at(tmin, obj, mjd)
    np.fmax.at(tmax, obj, mjd)
    out["firstDiaSourceMjdTai"] = tmin
    out["lastDiaSourceMjdTai"] = tmax
    return out
