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

"""DiaSource measurements: what the pipeline measures on a detection.

`sourceColumns` turns true positions and fluxes into every column of the
APDB DiaSource table: S/N >= 5 photometry with sky and shot noise,
centroid errors from S/N and seeing, footprint sizes, edge and saturation
flags that follow positions and brightness, rare pixel flags, shapes, and
dipole and trail fits only where those fits run.  The draws are made in a
fixed order from one `numpy.random.Generator`: the same seed gives the
same catalogs.
"""

from __future__ import annotations

__all__: list[str] = []

from types import SimpleNamespace

import numpy as np

from .survey import LSST_BANDS, PIXEL_SCALE, RELIABILITY_VERSION, SEEING_FWHM, skyNoise


def fluxErrors(band, seeing, flux, templateFlux, rng):
    """psfFlux / scienceFlux / templateFlux errors: sky plus source shot noise."""
    sky = skyNoise(band, seeing)
    shot = 2.0 * (np.abs(templateFlux) + np.abs(flux))  # nJy^2 per nJy of source
    psfErr = np.sqrt(sky**2 + shot) * rng.uniform(0.97, 1.03, len(sky))
    sciErr = np.sqrt(0.5 * sky**2 + shot)
    tmplErr = np.sqrt(0.25 * sky**2 + 0.5 * np.abs(templateFlux))
    return psfErr, sciErr, tmplErr


def sourceColumns(
    rng,
    *,
    n,
    diaSourceId,
    diaObjectId,
    visit,
    detector,
    band,
    mjd,
    ra,
    dec,
    x,
    y,
    flux,
    templateFlux,
    seeing,
    exposureTime,
    bbox,
    isSso,
    motion=None,
):
    """All DiaSource columns (APDB DiaSource table) for ``n`` detections.

    ``flux`` is the true difference flux (nJy, sign included), ``band``
    indices into `LSST_BANDS`; ``motion`` gives (rate deg/day, bearing deg)
    for solar-system rows, which get trail measurements.

    Returns
    -------
    data : `dict` [`str`, `numpy.ndarray`]
        Column values.
    nulls : `dict` [`str`, `numpy.ndarray`]
        Null masks of the nullable columns that have nulls.
    """
    m = SimpleNamespace(n=n, ra=ra, dec=dec, x=x, y=y, mjd=mjd, isSso=isSso, exposureTime=exposureTime)
    _photometry(rng, m, band, seeing, flux, templateFlux)
    _footprints(rng, m, bbox, templateFlux)
    _pixelFlags(rng, m)
    _shapes(rng, m, seeing)
    _fits(rng, m, motion)
    _fitQuality(rng, m)
    data = {
        "diaSourceId": diaSourceId,
        "visit": visit,
        "detector": detector,
        "diaObjectId": diaObjectId,
        "midpointMjdTai": mjd,
        "exposureTime": np.full(n, exposureTime),
    }
    # Each group draws in turn: the order of these calls is the stream's.
    data.update(_positionColumns(rng, m))
    data.update(_photometryColumns(rng, m))
    data.update(_trailColumns(rng, m))
    data.update(_dipoleColumns(rng, m))
    data.update(_imageFluxColumns(rng, m, templateFlux))
    data.update(_shapeColumns(rng, m, band))
    data.update(_pixelFlagColumns(rng, m))
    nulls = {
        "ssObjectId": np.ones(n, bool),
        "parentDiaSourceId": np.ones(n, bool),
        "trailAlgorithm": ~m.trailFit,
    }
    data["ssObjectId"] = np.zeros(n, np.int64)
    data["parentDiaSourceId"] = np.zeros(n, np.int64)
    return data, nulls


def _photometry(rng, m, band, seeing, flux, templateFlux):
    """PSF fluxes at |S/N| >= 5, their errors, S/N and centroid errors."""
    n = m.n
    m.psfErr, m.sciErr, m.tmplErr = fluxErrors(band, seeing, flux, templateFlux, rng)
    # Detections are at |S/N| >= 5 by construction.
    flux = np.sign(flux) * np.maximum(np.abs(flux), 5.05 * m.psfErr)
    m.flux = flux
    psfFlux = flux + rng.normal(0, 0.3, n) * m.psfErr
    m.psfFlux = np.where(np.abs(psfFlux) < 5.0 * m.psfErr, np.sign(flux) * 5.0 * m.psfErr, psfFlux)
    # Detection significance (of the footprint peak): at least the threshold.
    m.snr = np.maximum(np.abs(m.psfFlux) / m.psfErr * rng.uniform(0.95, 1.05, n), 5.0)
    psfSigmaPix = SEEING_FWHM * seeing / 2.3548 / PIXEL_SCALE
    m.posErrPix = 1.2 * psfSigmaPix / m.snr


def _footprints(rng, m, bbox, templateFlux):
    """Distance to the edge, saturation, footprint sizes, aperture fluxes."""
    n = m.n
    width, height = bbox
    m.edgeDistance = np.minimum.reduce([m.x, m.y, width - 1 - m.x, height - 1 - m.y])
    brightness = np.abs(templateFlux) + np.abs(m.psfFlux)
    m.saturated = brightness > rng.uniform(4e5, 1.2e6, n)

    bboxSize = np.rint(np.exp(rng.normal(np.log(16.0), 0.38, n)) + 3.0 * np.log(m.snr / 5.0) + 6.0)
    big = rng.random(n) < 0.02
    bboxSize[big] = rng.integers(103, 220, big.sum())
    bboxSize[m.saturated] = np.maximum(bboxSize[m.saturated], rng.integers(60, 140, m.saturated.sum()))
    m.bboxSize = np.clip(bboxSize, 8, 400).astype(np.int32)
    m.apFlux = m.psfFlux * rng.normal(1.0, 0.04, n) + rng.normal(0, 0.4, n) * m.psfErr


def _pixelFlags(rng, m):
    """Rare pixel flags, and those that follow edges and saturation."""
    n = m.n
    m.cr = rng.random(n) < 0.02
    m.bad = rng.random(n) < 0.01
    m.suspect = (rng.random(n) < 0.01) | (m.saturated & (rng.random(n) < 0.5))
    m.streak = rng.random(n) < 0.004
    m.nodata = (rng.random(n) < 0.002) | (m.edgeDistance < 1.5)
    m.edge = m.edgeDistance < m.bboxSize / 2
    m.interpolated = m.cr | m.bad | m.saturated | (rng.random(n) < 0.01)
    m.noGoodPixels = rng.random(n) < 0.002
    m.psfFlux[m.noGoodPixels] = np.nan
    m.psfFluxFlag = m.noGoodPixels | (m.edgeDistance < 5) | (rng.random(n) < 0.003)


def _shapes(rng, m, seeing):
    """PSF and source second moments, extendedness, reliability."""
    n = m.n
    m.ixxPsf = (SEEING_FWHM * seeing / 2.3548) ** 2 * rng.normal(1.0, 0.03, n)
    m.iyyPsf = m.ixxPsf * rng.normal(1.0, 0.04, n)
    m.ixyPsf = m.ixxPsf * rng.normal(0.0, 0.03, n)
    extended = rng.random(n) < 0.1
    m.extendedness = np.where(extended, rng.uniform(0.7, 1.0, n), np.clip(rng.normal(0.03, 0.05, n), 0, 1))
    m.growth = np.where(extended, rng.uniform(1.3, 2.5, n), 1.0) * rng.normal(1.0, 1.0 / m.snr)
    real = rng.random(n) < 0.85
    m.reliability = np.where(real, rng.beta(9, 1.3, n), rng.beta(1.3, 5, n))


def _fits(rng, m, motion):
    """Which dipole and trail fits run, and their main results."""
    n = m.n
    # Dipole fits run on sources with positive and negative lobes.
    m.dipoleFit = (rng.random(n) < 0.08) & ~m.isSso
    m.isDipole = m.dipoleFit & (rng.random(n) < 0.6)
    m.nDip = m.dipoleFit.sum()
    m.dipoleMeanFlux = np.abs(m.psfFlux[m.dipoleFit]) * rng.uniform(0.6, 1.5, m.nDip)
    m.dipoleErr = m.psfErr[m.dipoleFit] * rng.uniform(0.9, 1.3, m.nDip)

    # Trailed-source fits: on solar-system sources and a few others.
    m.trailFit = m.isSso | (rng.random(n) < 0.03)
    if motion is None:
        motion = (np.zeros(n), np.zeros(n))
    rate, bearing = motion
    trailLength = np.where(m.isSso, rate * m.exposureTime / 86400.0 * 3600.0, rng.uniform(0.1, 1.5, n))
    m.trailLength = np.abs(trailLength + rng.normal(0, 0.1, n) * m.posErrPix * PIXEL_SCALE)
    trailAngle = np.where(m.isSso, bearing, rng.uniform(-180, 180, n)) + rng.normal(0, 2.0, n)
    m.trailAngle = (trailAngle + 180.0) % 360.0 - 180.0


def _fitQuality(rng, m):
    """PSF-fit pixels and chi2, shape-fit failures, sky errors, processing time."""
    n = m.n
    m.fitPixels = np.minimum(m.bboxSize.astype(np.int64) ** 2, 441)
    m.psfChi2 = m.fitPixels * rng.gamma(50, 1 / 50, n)
    m.shapeFlag = rng.random(n) < 0.03
    m.raErr = m.posErrPix * PIXEL_SCALE / 3600.0
    m.decErr = m.raErr * rng.normal(1.0, 0.05, n)
    m.processed = m.mjd + rng.uniform(45, 150, n) / 86400.0


def _positionColumns(rng, m):
    n = m.n
    return {
        "ra": m.ra,
        "raErr": m.raErr,
        "dec": m.dec,
        "decErr": m.decErr,
        "ra_dec_Cov": rng.normal(0, 0.1, n) * m.raErr * m.decErr,
        "x": m.x,
        "xErr": m.posErrPix,
        "y": m.y,
        "yErr": m.posErrPix * rng.normal(1.0, 0.05, n),
        "centroid_flag": rng.random(n) < 0.01,
    }


def _photometryColumns(rng, m):
    n, edgeDistance = m.n, m.edgeDistance
    return {
        "apFlux": m.apFlux,
        "apFluxErr": m.psfErr * rng.uniform(1.15, 1.4, n),
        "apFlux_flag": edgeDistance < 12,
        "apFlux_flag_apertureTruncated": edgeDistance < 12,
        "isNegative": m.psfFlux < 0,
        "snr": m.snr,
        "psfFlux": m.psfFlux,
        "psfFluxErr": m.psfErr,
        "psfChi2": m.psfChi2,
        "psfLnL": -0.5 * m.psfChi2 - 700.0 - rng.normal(0, 20, n),
        "psfNdata": m.fitPixels - rng.integers(0, 8, n),
        "psfFlux_flag": m.psfFluxFlag,
        "psfFlux_flag_edge": edgeDistance < 5,
        "psfFlux_flag_noGoodPixels": m.noGoodPixels,
    }


def _trailColumns(rng, m):
    n, trailFit = m.n, m.trailFit
    return {
        "trailFlux": np.where(trailFit, m.psfFlux * rng.uniform(1.0, 1.15, n), np.nan),
        "trailFluxErr": np.where(trailFit, m.psfErr * 1.2, np.nan),
        "trailRa": np.where(trailFit, m.ra, np.nan),
        "trailRaErr": np.where(trailFit, m.raErr * 1.3, np.nan),
        "trailDec": np.where(trailFit, m.dec, np.nan),
        "trailDecErr": np.where(trailFit, m.decErr * 1.3, np.nan),
        "trailLength": np.where(trailFit, m.trailLength, np.nan),
        "trailLengthErr": np.where(trailFit, 0.05 + m.posErrPix * PIXEL_SCALE, np.nan),
        "trailAngle": np.where(trailFit, m.trailAngle, np.nan),
        "trailAngleErr": np.where(trailFit, rng.uniform(0.5, 15.0, n), np.nan),
        "trailChi2": np.where(trailFit, m.psfChi2 * rng.uniform(0.9, 1.05, n), np.nan),
        "trailNdata": np.where(trailFit, m.fitPixels, 0),
        "trailAlgorithm": np.ones(n, np.int64),
        "trail_flag_edge": trailFit & (m.edgeDistance < 10),
        "trail_flag": trailFit & (rng.random(n) < 0.02),
    }


def _dipoleColumns(rng, m):
    n, fit, nDip = m.n, m.dipoleFit, m.nDip
    return {
        "dipoleMeanFlux": _scatter(n, fit, m.dipoleMeanFlux),
        "dipoleMeanFluxErr": _scatter(n, fit, m.dipoleErr),
        "dipoleFluxDiff": _scatter(n, fit, m.dipoleMeanFlux * rng.normal(0, 0.2, nDip)),
        "dipoleFluxDiffErr": _scatter(n, fit, m.dipoleErr * 1.4),
        "dipoleLength": _scatter(n, fit, rng.uniform(0.1, 1.2, nDip)),
        "dipoleAngle": _scatter(n, fit, rng.uniform(-180, 180, nDip)),
        "dipoleChi2": _scatter(n, fit, m.psfChi2[fit] * rng.uniform(0.7, 1.0, nDip)),
        "dipoleNdata": np.where(fit, m.fitPixels, 0),
    }


def _imageFluxColumns(rng, m, templateFlux):
    n, edgeDistance = m.n, m.edgeDistance
    return {
        "scienceFlux": templateFlux + m.flux + rng.normal(0, 1, n) * m.sciErr,
        "scienceFluxErr": m.sciErr,
        "forced_PsfFlux_flag": (edgeDistance < 5) | (rng.random(n) < 0.003),
        "forced_PsfFlux_flag_edge": edgeDistance < 5,
        "forced_PsfFlux_flag_noGoodPixels": rng.random(n) < 0.002,
        "templateFlux": templateFlux + rng.normal(0, 1, n) * m.tmplErr,
        "templateFluxErr": m.tmplErr,
    }


def _shapeColumns(rng, m, band):
    n, shapeFlag = m.n, m.shapeFlag
    return {
        "ixx": m.ixxPsf * m.growth,
        "iyy": m.iyyPsf * m.growth,
        "ixy": m.ixyPsf * m.growth,
        "ixxPSF": m.ixxPsf,
        "iyyPSF": m.iyyPsf,
        "ixyPSF": m.ixyPsf,
        "shape_flag": shapeFlag,
        "shape_flag_no_pixels": shapeFlag & (rng.random(n) < 0.3),
        "shape_flag_not_contained": shapeFlag & (rng.random(n) < 0.3),
        "shape_flag_parent_source": np.zeros(n, bool),
        "extendedness": m.extendedness,
        "reliability": m.reliability,
        "reliabilityVersion": np.full(n, RELIABILITY_VERSION, dtype=object),
        "band": np.asarray(LSST_BANDS)[band].astype(object),
        "isDipole": m.isDipole,
        "dipoleFitAttempted": m.dipoleFit,
        "timeProcessedMjdTai": m.processed,
        "bboxSize": m.bboxSize,
    }


def _pixelFlagColumns(rng, m):
    n = m.n
    cr, interpolated, saturated, suspect, streak = m.cr, m.interpolated, m.saturated, m.suspect, m.streak
    return {
        "pixelFlags": rng.random(n) < 0.002,
        "pixelFlags_bad": m.bad,
        "pixelFlags_cr": cr,
        "pixelFlags_crCenter": cr & (rng.random(n) < 0.25),
        "pixelFlags_edge": m.edge,
        "pixelFlags_nodata": m.nodata,
        "pixelFlags_nodataCenter": m.nodata & (m.edgeDistance < 1.5),
        "pixelFlags_interpolated": interpolated,
        "pixelFlags_interpolatedCenter": interpolated & (rng.random(n) < 0.3),
        "pixelFlags_offimage": np.zeros(n, bool),
        "pixelFlags_saturated": saturated,
        "pixelFlags_saturatedCenter": saturated & (rng.random(n) < 0.6),
        "pixelFlags_suspect": suspect,
        "pixelFlags_suspectCenter": suspect & (rng.random(n) < 0.4),
        "pixelFlags_streak": streak,
        "pixelFlags_streakCenter": streak & (rng.random(n) < 0.5),
        "pixelFlags_injected": np.zeros(n, bool),
        "pixelFlags_injectedCenter": np.zeros(n, bool),
        "pixelFlags_injected_template": np.zeros(n, bool),
        "pixelFlags_injected_templateCenter": np.zeros(n, bool),
        "glint_trail": streak & (rng.random(n) < 0.3),
    }


def _scatter(n, where, values):
    """An ``n``-long array: ``values`` at ``where``, NaN elsewhere."""
    out = np.full(n, np.nan)
    out[where] = values
    return out


def fillAllFields(rng, sources, nulls, mjd):
    """Give the rarely set diaSource fields a value in some row.

    Row 0 gets a dipole fit, row 1 a trail fit, row 2 becomes a deblended
    child of row 0, and the last row (solar-system: ``ssObjectId``) a
    withdrawal time, as after a reprocessing.
    """
    n = len(sources["diaSourceId"])
    psfErr = sources["psfFluxErr"]
    sources["dipoleFitAttempted"][0] = sources["isDipole"][0] = True
    sources["dipoleMeanFlux"][0] = abs(sources["apFlux"][0])
    sources["dipoleMeanFluxErr"][0] = psfErr[0] * 1.1
    sources["dipoleFluxDiff"][0] = 0.2 * sources["dipoleMeanFlux"][0]
    sources["dipoleFluxDiffErr"][0] = psfErr[0] * 1.5
    sources["dipoleLength"][0] = rng.uniform(0.2, 1.0)
    sources["dipoleAngle"][0] = rng.uniform(-180, 180)
    sources["dipoleChi2"][0] = sources["psfChi2"][0] * 0.8
    sources["dipoleNdata"][0] = sources["psfNdata"][0]
    row = 1
    for name, value in (
        ("trailFlux", sources["apFlux"][row]),
        ("trailFluxErr", psfErr[row] * 1.2),
        ("trailRa", sources["ra"][row]),
        ("trailRaErr", sources["raErr"][row] * 1.3),
        ("trailDec", sources["dec"][row]),
        ("trailDecErr", sources["decErr"][row] * 1.3),
        ("trailLength", rng.uniform(0.3, 2.0)),
        ("trailLengthErr", 0.1),
        ("trailAngle", rng.uniform(-180, 180)),
        ("trailAngleErr", 5.0),
        ("trailChi2", sources["psfChi2"][row]),
    ):
        sources[name][row] = value
    sources["trailNdata"][row] = sources["psfNdata"][row]
    nulls["trailAlgorithm"][row] = False
    sources["parentDiaSourceId"][2] = sources["diaSourceId"][0]
    nulls["parentDiaSourceId"][2] = False
    withdrawn = np.full(n, np.nan)
    withdrawn[-1] = mjd + 0.5
    sources["timeWithdrawnMjdTai"] = withdrawn
