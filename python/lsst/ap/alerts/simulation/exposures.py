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

"""The difference, science and template exposures of a simulated visit.

Built only through the afw API (`lsst.ap.alerts._afw`): real
``lsst.afw.image.ExposureF`` with the stack installed, the package's model
otherwise.  Field stars and sources are rendered as pixelated Gaussians with
sky and shot noise; masks follow saturation, a bad column, cosmic rays,
the subtraction kernel's edge, significant signal and template coverage.
"""

from __future__ import annotations

__all__ = ["makeVisitExposures", "makeVisitWcs"]

import dataclasses
from types import SimpleNamespace

import numpy as np

from .cadence import visitKeys
from .survey import AB_NJY, DEFAULT_BORESIGHT, DEFAULT_MJD, DEPTH5, LSST_BANDS, PIXEL_SCALE

# LSSTCam: rafts in detector-id order (corner rafts hold no science CCDs)
# and the physical filter of each band.
_RAFTS = (
    "R01",
    "R02",
    "R03",
    "R10",
    "R11",
    "R12",
    "R13",
    "R14",
    "R20",
    "R21",
    "R22",
    "R23",
    "R24",
    "R30",
    "R31",
    "R32",
    "R33",
    "R34",
    "R41",
    "R42",
    "R43",
)
_PHYSICAL_FILTERS = {"u": "u_24", "g": "g_6", "r": "r_57", "i": "i_39", "z": "z_20", "y": "y_10"}
# Rubin Observatory (Cerro Pachon), degrees and metres.
_RUBIN_SITE = (-70.749417, -30.244639, 2663.0)
_GAIN = 1.6  # electrons per count
_SATURATION = 9.0e4  # counts


def _detectorName(detector: int) -> str:
    raft, sensor = divmod(int(detector), 9)
    return f"{_RAFTS[raft % len(_RAFTS)]}_S{sensor // 3}{sensor % 3}"


def _imageApi():
    """afw (or the package's model) and the few classes afw keeps elsewhere.

    The LSST stack has DateTime in lsst.daf.base, GaussianPsf in
    lsst.afw.detection, Observatory in lsst.afw.coord and Detector built
    through lsst.afw.cameraGeom; the image model keeps them all in
    `lsst.ap.alerts.afwModel.image`.  Imported lazily: catalogs need none of it.
    """
    from .._afw import HAVE_AFW, afwGeom, afwImage, geom

    if HAVE_AFW:
        from lsst.afw.cameraGeom.testUtils import DetectorWrapper
        from lsst.afw.coord import Observatory
        from lsst.afw.detection import GaussianPsf
        from lsst.daf.base import DateTime

        def makeDetector(detector, bbox):
            return DetectorWrapper(name=_detectorName(detector), id=int(detector), bbox=bbox).detector
    else:
        from ..afwModel.image import DateTime, Detector, GaussianPsf, Observatory

        def makeDetector(detector, bbox):
            return Detector(_detectorName(detector), int(detector), bbox)

    return dataclasses.make_dataclass(
        "ImageApi", ["geom", "afwImage", "afwGeom", "DateTime", "GaussianPsf", "Observatory", "makeDetector"]
    )(geom, afwImage, afwGeom, DateTime, GaussianPsf, Observatory, makeDetector)


def makeVisitWcs(
    *,
    width: int,
    height: int,
    boresight=DEFAULT_BORESIGHT,
    rotAngle: float = 0.0,
    pixelScale: float = PIXEL_SCALE,
    sip: bool = True,
    xy0=(0, 0),
    seed: int = 0,
):
    """The SkyWcs of a simulated detector: TAN, or TAN-SIP with mild distortion.

    Parameters
    ----------
    width, height : `int`
        Detector size in pixels.
    boresight : `tuple` [`float`, `float`]
        (ra, dec) at the detector centre, degrees.
    rotAngle : `float`
        Angle of north from +y, degrees (east of north).
    pixelScale : `float`
        Arcseconds per pixel.
    sip : `bool`
        Add a third-order SIP distortion (about a pixel at the corners of
        a 4k detector, as optical distortion across an LSSTCam CCD).
    xy0 : `tuple` [`int`, `int`]
        Pixel origin of the detector's bounding box.
    seed : `int`
        Seed for the distortion coefficients.

    Returns
    -------
    wcs : `lsst.afw.geom.SkyWcs`
    """
    api = _imageApi()
    geom = api.geom
    crpix = geom.Point2D(xy0[0] + (width - 1) / 2, xy0[1] + (height - 1) / 2)
    crval = geom.SpherePoint(boresight[0], boresight[1], geom.degrees)
    cd = api.afwGeom.makeCdMatrix(
        scale=pixelScale * geom.arcseconds, orientation=rotAngle * geom.degrees, flipX=True
    )
    if not sip:
        return api.afwGeom.makeSkyWcs(crpix=crpix, crval=crval, cdMatrix=cd)
    rng = np.random.default_rng(seed)
    half = max(width, height) / 2
    # Displacement of order 0.6 (x, y / 2000)^2 + 0.3 (x, y / 2000)^3 pixels.
    sipA = np.zeros((4, 4))
    sipB = np.zeros((4, 4))
    for p, q in ((2, 0), (1, 1), (0, 2), (3, 0), (2, 1), (1, 2), (0, 3)):
        order = p + q
        scale = (0.6 if order == 2 else 0.3) * (half / 2000.0) ** order / half**order
        sipA[p, q] = rng.normal(0, scale)
        sipB[p, q] = rng.normal(0, scale)
    return api.afwGeom.makeTanSipWcs(crpix, crval, cd, sipA, sipB)


def _render(shape, origin, x, y, flux, sigma):
    """Point sources as pixelated Gaussians (each summing to ``flux``).

    Vectorised over sources: one (2r+1)^2 stamp each, summed with a single
    `numpy.bincount`; pixels outside the image are dropped.
    """
    height, width = shape
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    flux = np.asarray(flux, float)
    radius = int(np.ceil(5 * sigma))
    offsets = np.arange(-radius, radius + 1)
    cx = np.rint(x).astype(np.int64)
    cy = np.rint(y).astype(np.int64)
    norm = 1.0 / (np.sqrt(2 * np.pi) * sigma)
    gx = norm * np.exp(-0.5 * ((cx[:, None] + offsets - x[:, None]) / sigma) ** 2)
    gy = norm * np.exp(-0.5 * ((cy[:, None] + offsets - y[:, None]) / sigma) ** 2)
    cols = (cx[:, None] + offsets - origin[0])[:, None, :]
    rows = (cy[:, None] + offsets - origin[1])[:, :, None]
    values = flux[:, None, None] * gy[:, :, None] * gx[:, None, :]
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    index = np.broadcast_to(rows * width + cols, values.shape)[inside]
    return np.bincount(index, values[inside], minlength=height * width).reshape(shape)


def _fieldStars(rng, count, bbox):
    """Static stars: positions and r-band-ish fluxes (nJy), N(<m) ~ 10^(0.3 m)."""
    x0, y0, width, height = bbox
    u = rng.random(count)
    lo, hi = 10 ** (0.3 * 16.0), 10 ** (0.3 * 24.5)
    mag = np.log10(lo + u * (hi - lo)) / 0.3
    return (
        rng.uniform(x0 - 10, x0 + width + 10, count),
        rng.uniform(y0 - 10, y0 + height + 10, count),
        10 ** ((AB_NJY - mag) / 2.5),
    )


def _detected(model, sigma, threshold=2.5):
    """Footprint-like masks: model above / below ``threshold`` noise sigma."""
    return model > threshold * sigma, model < -threshold * sigma


def makeVisitExposures(
    *,
    seed: int = 0,
    width: int = 2048,
    height: int = 2048,
    sources=None,
    visit: int | None = None,
    detector: int = 94,
    band: str = "r",
    midpointMjdTai: float = DEFAULT_MJD,
    exposureTime: float = 30.0,
    boresight: tuple[float, float] = DEFAULT_BORESIGHT,
    boresightRotAngle: float = 0.0,
    sip: bool = True,
    wcs=None,
    psfSigma: float = 1.7,
    templatePsfSigma: float | None = None,
    depth: float | None = None,
    nStars: int | None = None,
    templateOffset: tuple[int, int] = (0, 0),
    xy0: tuple[int, int] = (0, 0),
    observationReason: str = "wfd",
    targetName: str = "lsst_wfd",
):
    """Simulate the difference, science and template exposures of a visit.

    Built only through the afw API (`lsst.ap.alerts._afw`), so they are
    real ``lsst.afw.image.ExposureF`` with the stack installed and the
    package's model otherwise.  Pixel values are sky-subtracted counts:

    - science (``calexp``): field stars, the template flux and the
      difference flux of every source, sky and source noise;
    - template: field stars and template fluxes, deeper (half the noise),
      a slightly narrower PSF, calibrated to nJy (mean 1);
    - difference: the sources' difference fluxes (negative ones too), small
      subtraction residuals at bright stars, the combined noise.

    Variance planes match the noise.  Masks: SAT (+INTRP) at saturated
    star cores, one BAD (+INTRP) column, a few CR (+INTRP) hits, EDGE on
    the difference image's border (the convolution kernel's half-width),
    DETECTED / DETECTED_NEGATIVE around significant signal, NO_DATA where
    a shifted template does not cover the science image.

    Parameters
    ----------
    seed : `int`
        Seed of the `numpy.random.Generator`.
    width, height : `int`
        Image size in pixels.
    sources : mapping or `pandas.DataFrame`, optional
        ``x``, ``y`` (pixels) and ``flux`` (difference flux, nJy) arrays,
        optionally ``templateFlux`` (nJy, default 0).
    visit : `int`, optional
        Visit id (default from ``midpointMjdTai`` as in `makeVisitCatalogs`).
    detector : `int`
        Detector id; its name follows LSSTCam's (94 is ``R22_S11``).
    band : `str`
        Band; the filter label has LSSTCam's physical filter.
    midpointMjdTai : `float`
        Exposure midpoint, MJD TAI (the VisitInfo date).
    exposureTime : `float`
        Seconds.
    boresight : `tuple` [`float`, `float`]
        (ra, dec) of the detector centre, degrees.
    boresightRotAngle : `float`
        Sky rotation angle, degrees (WCS and VisitInfo).
    sip : `bool`
        TAN-SIP WCS (default) instead of TAN.
    wcs : `lsst.afw.geom.SkyWcs`, optional
        Use this WCS instead of making one.
    psfSigma : `float`
        Science (and difference) Gaussian PSF sigma, pixels.
    templatePsfSigma : `float`, optional
        Template PSF sigma (default ``0.85 * psfSigma``).
    depth : `float`, optional
        5-sigma point-source depth of the science image, AB mag (default:
        LSST's single-visit depth in ``band``).
    nStars : `int`, optional
        Field stars (default: about 3 per 10,000 pixels).
    templateOffset : `tuple` [`int`, `int`]
        Shift of the template's bounding box relative to the science one
        (same WCS): uncovered science pixels have no template.
    xy0 : `tuple` [`int`, `int`]
        Origin of the bounding boxes.
    observationReason, targetName : `str`
        VisitInfo ``observationReason`` and ``object``.

    Returns
    -------
    diffIm, calexp, template : `lsst.afw.image.ExposureF`
    """
    api = _imageApi()
    rng = np.random.default_rng(seed)
    if visit is None:
        visit = int(visitKeys(np.array([midpointMjdTai]))[0][0])
    wcs = _visitWcs(wcs, (width, height), xy0, boresight, boresightRotAngle, sip, seed)
    templateSigma = 0.85 * psfSigma if templatePsfSigma is None else templatePsfSigma
    calib = _calibrations(rng, LSST_BANDS.index(band), depth, psfSigma)
    nStars = int(width * height * 3e-4) if nStars is None else nStars
    stars = _fieldStars(rng, nStars, (xy0[0], xy0[1], width, height))
    templateOrigin = (xy0[0] + templateOffset[0], xy0[1] + templateOffset[1])
    px = _renderImages(
        rng,
        (height, width),
        xy0,
        templateOrigin,
        stars,
        _sourceArrays(sources),
        calib,
        psfSigma,
        templateSigma,
    )
    masks = _masks(rng, api.afwImage.Mask.getPlaneBitMask, px, psfSigma, xy0, templateOrigin)

    visitInfo = _visitInfo(
        api, visit, midpointMjdTai, exposureTime, boresight, boresightRotAngle, observationReason, targetName
    )
    common = _exposureCommon(api, (width, height), xy0, wcs, visitInfo, visit, detector, band, psfSigma)
    calexp = _exposure(api, common, xy0, px.sciImage, px.sciVar, masks.science, calib.calexp, psfSigma)
    template = _exposure(
        api, common, templateOrigin, px.tmplImage, px.tmplVar, masks.template, calib.template, templateSigma
    )
    diffIm = _exposure(
        api, common, xy0, px.diffImage, px.diffVar, masks.difference, calib.difference, psfSigma
    )
    return diffIm, calexp, template


def _visitWcs(wcs, size, xy0, boresight, rotAngle: float, sip: bool, seed: int):
    """``wcs`` if given, else the detector's default (`makeVisitWcs`)."""
    if wcs is not None:
        return wcs
    width, height = size
    return makeVisitWcs(
        width=width, height=height, boresight=boresight, rotAngle=rotAngle, sip=sip, xy0=xy0, seed=seed
    )


def _exposureCommon(api, size, xy0, wcs, visitInfo, visit: int, detector: int, band: str, psfSigma: float):
    """What the difference, science and template exposures of one detector share
    (size, WCS, visit info, exposure id, detector, filter, PSF kernel size)."""
    width, height = size
    return SimpleNamespace(
        size=(width, height),
        wcs=wcs,
        visitInfo=visitInfo,
        id=visit * 1000 + detector,
        detector=api.makeDetector(
            detector, api.geom.Box2I(api.geom.Point2I(*xy0), api.geom.Extent2I(width, height))
        ),
        filterLabel=api.afwImage.FilterLabel(band=band, physical=_PHYSICAL_FILTERS[band]),
        psfSize=2 * int(np.ceil(5 * psfSigma)) + 1,
    )


def _sourceArrays(sources):
    """Source positions, difference and (non-negative) template fluxes as arrays."""
    if sources is None:
        sources = {"x": np.zeros(0), "y": np.zeros(0), "flux": np.zeros(0)}
    x = np.asarray(sources["x"], float)
    templateFlux = (
        np.clip(np.nan_to_num(np.asarray(sources["templateFlux"], float)), 0, None)
        if "templateFlux" in sources
        else np.zeros(len(x))
    )
    return SimpleNamespace(
        x=x,
        y=np.asarray(sources["y"], float),
        flux=np.nan_to_num(np.asarray(sources["flux"], float)),
        templateFlux=templateFlux,
    )


def _calibrations(rng, bandIndex, depth, psfSigma):
    """Calibrations (nJy per count) and the per-pixel sky noise in nJy.

    Science from a realistic zero point, difference close to it, template
    coadds in nJy: distinct on purpose.
    """
    calexp = rng.uniform(0.55, 0.75)
    difference = calexp * rng.uniform(1.01, 1.04)
    m5 = DEPTH5[bandIndex] if depth is None else depth
    # Per-pixel sky noise giving the 5-sigma depth with PSF photometry.
    skyNjy = 10 ** ((AB_NJY - m5) / 2.5) / 5.0 / (np.sqrt(4 * np.pi) * psfSigma)
    return SimpleNamespace(calexp=calexp, difference=difference, template=1.0, skyNjy=skyNjy)


def _renderImages(rng, shape, xy0, templateOrigin, stars, src, calib, psfSigma, templateSigma):
    """Noisy science, template and difference pixels, their variances and models."""
    starX, starY, starFlux = stars
    px = SimpleNamespace()

    def noisy(modelCounts, skySigma, gain=_GAIN):
        variance = skySigma**2 + np.clip(modelCounts, 0, None) / gain
        return modelCounts + rng.normal(0, 1, shape) * np.sqrt(variance), variance

    allX, allY = np.concatenate([starX, src.x]), np.concatenate([starY, src.y])
    # Science image.
    px.sciModel = _render(
        shape,
        xy0,
        allX,
        allY,
        np.concatenate([starFlux, src.templateFlux + src.flux]) / calib.calexp,
        psfSigma,
    )
    px.sciSky = calib.skyNjy / calib.calexp
    px.sciImage, px.sciVar = noisy(px.sciModel, px.sciSky)
    # Template: covers the science box shifted by templateOffset.
    px.tmplModel = _render(
        shape,
        templateOrigin,
        allX,
        allY,
        np.concatenate([starFlux, src.templateFlux]) / calib.template,
        templateSigma,
    )
    px.tmplSky = 0.5 * calib.skyNjy / calib.template
    px.tmplImage, px.tmplVar = noisy(px.tmplModel, px.tmplSky, gain=_GAIN * 8)
    # Difference: transients, plus residuals where bright stars subtract
    # imperfectly (a 2% flux mismatch and a 0.05-pixel shift).
    bright = starFlux > 3e5
    bx, by, bFlux = starX[bright], starY[bright], starFlux[bright]
    residual = (
        _render(shape, xy0, bx + 0.05, by, bFlux * 1.02, psfSigma)
        - _render(shape, xy0, bx, by, bFlux, psfSigma)
    ) / calib.difference
    px.diffModel = _render(shape, xy0, src.x, src.y, src.flux / calib.difference, psfSigma) + residual
    px.diffSky = (
        np.sqrt(px.sciSky**2 + (px.tmplSky * calib.template / calib.calexp) ** 2)
        * calib.calexp
        / calib.difference
    )
    px.diffVar = (
        px.diffSky**2 + np.clip(px.sciModel, 0, None) / _GAIN * (calib.calexp / calib.difference) ** 2
    )
    px.diffImage = px.diffModel + rng.normal(0, 1, shape) * np.sqrt(px.diffVar)
    return px


def _masks(rng, planes, px, psfSigma, xy0, templateOrigin):
    """Mask planes of the three images; defects also change the pixels.

    Science: SAT (+INTRP) at saturated star cores, left at the saturation
    level as ISR leaves interpolated cores; one BAD (+INTRP) column; a few
    CR (+INTRP) hits; DETECTED.  Template: SAT, DETECTED.  Difference: the
    science defects, EDGE on the border, DETECTED(_NEGATIVE), NO_DATA (and
    NaN pixels) where the template does not cover the science image.
    """
    height, width = shape = px.sciModel.shape
    science = np.zeros(shape, np.int32)
    saturated = px.sciModel > _SATURATION
    science[saturated] |= planes(["SAT", "INTRP"])
    px.sciImage[saturated] = _SATURATION
    badColumn = rng.integers(0, width)
    science[:, badColumn] |= planes(["BAD", "INTRP"])
    px.sciImage[:, badColumn] = rng.normal(0, px.sciSky, height)
    nCr = max(1, int(width * height * 2e-6))
    crRows = np.clip(rng.integers(0, height, nCr)[:, None] + rng.integers(-1, 2, (nCr, 4)), 0, height - 1)
    crCols = np.clip(rng.integers(0, width, nCr)[:, None] + rng.integers(-1, 2, (nCr, 4)), 0, width - 1)
    science[crRows, crCols] |= planes(["CR", "INTRP"])
    science[_detected(px.sciModel, px.sciSky)[0]] |= planes("DETECTED")

    template = np.zeros(shape, np.int32)
    template[px.tmplModel > _SATURATION * 20] |= planes("SAT")
    template[_detected(px.tmplModel, px.tmplSky)[0]] |= planes("DETECTED")

    difference = science & planes(["SAT", "BAD", "CR", "INTRP"])
    edge = int(np.ceil(8 * psfSigma))  # half the PSF-matching kernel
    for border in (np.s_[:edge], np.s_[-edge:], np.s_[:, :edge], np.s_[:, -edge:]):
        difference[border] |= planes("EDGE")
    positive, negative = _detected(px.diffModel, px.diffSky)
    difference[positive] |= planes("DETECTED")
    difference[negative] |= planes("DETECTED_NEGATIVE")
    # Science pixels the template does not cover: no difference there.
    rows = np.arange(height)[:, None] + xy0[1] - templateOrigin[1]
    cols = np.arange(width)[None, :] + xy0[0] - templateOrigin[0]
    uncovered = (rows < 0) | (rows >= height) | (cols < 0) | (cols >= width)
    difference[uncovered] |= planes("NO_DATA")
    px.diffImage[uncovered] = np.nan
    px.diffVar[uncovered] = np.nan
    return SimpleNamespace(science=science, template=template, difference=difference)


def _visitInfo(
    api, visit, midpointMjdTai, exposureTime, boresight, boresightRotAngle, observationReason, targetName
):
    """The VisitInfo of a simulated LSSTCam science visit."""
    geom = api.geom
    return api.afwImage.VisitInfo(
        exposureTime=exposureTime,
        darkTime=exposureTime + 0.5,
        date=api.DateTime(midpointMjdTai, api.DateTime.MJD, api.DateTime.TAI),
        boresightRaDec=geom.SpherePoint(boresight[0], boresight[1], geom.degrees),
        boresightRotAngle=boresightRotAngle * geom.degrees,
        rotType=api.afwImage.RotType.SKY,
        observatory=api.Observatory(
            _RUBIN_SITE[0] * geom.degrees, _RUBIN_SITE[1] * geom.degrees, _RUBIN_SITE[2]
        ),
        instrumentLabel="LSSTCam",
        id=visit,
        observationType="science",
        scienceProgram="BLOCK-365",
        observationReason=observationReason,
        object=targetName,
    )


def _exposure(api, common, origin, pixels, variance, mask, calib, sigma):
    """An ExposureF with the visit's WCS, detector, filter and VisitInfo."""
    geom = api.geom
    width, height = common.size
    exp = api.afwImage.ExposureF(geom.Box2I(geom.Point2I(*origin), geom.Extent2I(width, height)))
    exp.image.array[:] = pixels
    exp.variance.array[:] = variance
    exp.mask.array[:] = mask
    exp.setWcs(common.wcs)
    exp.setPhotoCalib(api.afwImage.PhotoCalib(calib, calib * 0.005))
    exp.setPsf(api.GaussianPsf(common.psfSize, common.psfSize, sigma))
    exp.setFilter(common.filterLabel)
    exp.setDetector(common.detector)
    exp.info.setVisitInfo(common.visitInfo)
    exp.info.id = common.id
    return exp
