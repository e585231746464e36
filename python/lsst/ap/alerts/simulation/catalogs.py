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

"""The DIA catalogs of one simulated visit/detector, as DiaPipelineTask hands them over.

`makeVisitCatalogs` draws DiaObjects (variable, transient or fading, with
a template flux and colours), their 12-month histories on distinct earlier
nights, this visit's DiaSources (solar-system ones last), forced
photometry, and DiaObject summaries computed from those very sources; the
frames are indexed as upstream indexes them (index levels kept as columns,
``drop=False``) with the APDB schema's columns and the pipeline's dtypes.
Simplified: light curves are random scatter around a per-object amplitude
(no periods or rise times); history rows' x/y are in their own (dithered)
visits' frames, so only the current visit's x/y follow the WCS;
``pixelId`` is 0, as convertDataFrameToSdmSchema leaves it.
"""

from __future__ import annotations

__all__ = ["VisitCatalogs", "makeVisitCatalogs"]

import dataclasses
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..catalogs.designations import designationToSsObjectId, packProvisional
from .apdbTables import FORCED_SOURCE_INDEX, SOURCE_INDEX, apdbFrame
from .cadence import nightsBack, packId, visitKeys
from .diaObjects import objectSummary
from .diaSources import fillAllFields as fillRareFields
from .diaSources import fluxErrors, sourceColumns
from .skyGeometry import TanWcs, invertSkyToPixel, skyToPixelFunction
from .solarSystem import randomDesignations, solarSystem, ssSrcFrame
from .survey import (
    AB_NJY,
    BAND_WEIGHTS,
    DEFAULT_BORESIGHT,
    DEFAULT_MJD,
    HISTORY_NIGHTS,
    LSST_BANDS,
    N_DETECTORS,
    PIXEL_SCALE,
    SEEING_FWHM,
    skyNoise,
)


@dataclasses.dataclass
class VisitCatalogs:
    """The catalogs of one simulated visit/detector.

    Attributes
    ----------
    diaSourceCat : `pandas.DataFrame`
        New DiaSources, indexed on ``["diaObjectId", "band", "diaSourceId"]``
        (also columns).
    diaObjectCat : `pandas.DataFrame`
        Their DiaObjects, indexed on ``diaObjectId`` (also a column).
    diaSrcHistory : `pandas.DataFrame`
        Earlier DiaSources of those DiaObjects, indexed as ``diaSourceCat``.
    diaForcedSources : `pandas.DataFrame`
        Forced photometry of the DiaObjects (earlier visits and this one),
        indexed on ``["diaObjectId", "diaForcedSourceId"]`` (also columns).
    ssSrc : `pandas.DataFrame` or `None`
        One row per solar-system DiaSource: ssSource fields plus
        ``MPCORB_``-prefixed mpc_orbits fields; `None` without any.
    visit, detector : `int`
    band : `str`
    midpointMjdTai, exposureTime : `float`
    bbox : `tuple` [`int`, `int`]
        Detector (width, height) in pixels.
    skyToPixel : callable
        The (ra, dec) -> (x, y) mapping the current visit's x/y follow.
    templateFlux : `numpy.ndarray`
        True (noise-free) template flux, nJy, at each new DiaSource, in
        ``diaSourceCat`` row order: what an image simulation must render.
    """

    diaSourceCat: pd.DataFrame
    diaObjectCat: pd.DataFrame
    diaSrcHistory: pd.DataFrame
    diaForcedSources: pd.DataFrame
    ssSrc: pd.DataFrame | None
    visit: int
    detector: int
    band: str
    midpointMjdTai: float
    exposureTime: float
    bbox: tuple[int, int]
    skyToPixel: Callable
    templateFlux: np.ndarray


def makeVisitCatalogs(
    nSources: int = 100,
    historyDepth: int = 10,
    *,
    seed: int = 0,
    visit: int | None = None,
    detector: int = 94,
    band: str = "r",
    midpointMjdTai: float = DEFAULT_MJD,
    exposureTime: float = 30.0,
    wcs=None,
    bbox: tuple[int, int] = (4072, 4000),
    boresight: tuple[float, float] = DEFAULT_BORESIGHT,
    rotAngle: float = 0.0,
    fractionSolarSystem: float = 0.0,
    fractionNewObjects: float = 0.2,
    nForcedPerObject: int | None = None,
    varyHistory: bool = False,
    fractionNegative: float = 0.15,
    fractionMissingDesignations: float = 0.3,
    edgeMargin: float = 0.0,
    fillAllFields: bool = False,
) -> VisitCatalogs:
    """Simulate the DIA catalogs of one visit/detector.

    Parameters
    ----------
    nSources : `int`
        New DiaSources in this visit (solar-system ones included).
    historyDepth : `int`
        Earlier DiaSources of each previously known DiaObject (at most 349,
        one per night); with ``varyHistory`` the maximum, each object
        drawing its own depth from 1 to ``historyDepth``.
    seed : `int`
        Seed of the `numpy.random.Generator`: same seed, same catalogs.
    visit : `int`, optional
        Visit id; default derived from ``midpointMjdTai`` Rubin-style
        (dayObs * 100000 + seqNum).
    detector : `int`
        Detector id (94 is LSSTCam's R22_S11).
    band : `str`
        Band of this visit, one of `LSST_BANDS`.
    midpointMjdTai : `float`
        Exposure midpoint, MJD TAI.
    exposureTime : `float`
        Seconds.
    wcs : callable or SkyWcs, optional
        Maps (ra, dec) in degrees to (x, y) pixels for the current visit
        (numpy arrays in, arrays out), or an afw-like ``SkyWcs`` (uses
        ``skyToPixelArray``/``pixelToSkyArray``).  Default: `TanWcs` at
        ``boresight`` centred on the detector, 0.2"/pixel, rotated by
        ``rotAngle``.  A plain function must map ``boresight`` near the
        detector: it is inverted by Newton iterations from there.
    bbox : `tuple` [`int`, `int`]
        Detector (width, height) in pixels, origin (0, 0).
    boresight : `tuple` [`float`, `float`]
        (ra, dec) of the detector centre, degrees (default: ECDFS).
    rotAngle : `float`
        Rotation of the default WCS, degrees.
    fractionSolarSystem : `float`
        Fraction of the new DiaSources that are solar-system detections
        (``diaObjectId`` 0, ``ssObjectId`` set, an ``ssSrc`` row each).
    fractionNewObjects : `float`
        Fraction of the other DiaSources that start a new DiaObject (no
        history; ``diaObjectId`` equal to the new ``diaSourceId`` as
        DiaPipelineTask assigns it).
    nForcedPerObject : `int`, optional
        Forced sources per previously known DiaObject, this visit's
        included (default ``historyDepth``); new objects get this visit's.
    varyHistory : `bool`
        Draw each object's history depth from 1..``historyDepth``.
    fractionNegative : `float`
        Fraction of DiaObjects fading below their template (negative
        difference fluxes).
    fractionMissingDesignations : `float`
        Fraction of ``ssSrc`` rows whose ``MPCORB_packed_...`` and
        ``MPCORB_unpacked_primary_provisional_designation`` are null, for
        the task to derive from ``ssObjectId``; at 1 both columns are
        all-NaN float columns (no string in them at all).
    edgeMargin : `float`
        Keep objects this many pixels inside the detector (0: anywhere;
        about 3% are then placed within 15 pixels of an edge).
    fillAllFields : `bool`
        Make every field of the alert's diaSource record non-null in at
        least one new DiaSource (a solar-system source, a dipole fit, a
        trail fit, a deblended child, a withdrawn record).  Needs
        ``nSources >= 4``.

    Returns
    -------
    catalogs : `VisitCatalogs`

    Raises
    ------
    ValueError
        For impossible parameter combinations.
    """
    _checkParameters(band, historyDepth, fillAllFields, nSources)
    rng = np.random.default_rng(seed)
    skyToPixel, pixelToSky = _wcsFunctions(wcs, boresight, bbox, rotAngle)
    visitIds = _visitIds(visit, detector, midpointMjdTai, LSST_BANDS.index(band), exposureTime, tuple(bbox))

    nSso, isNew, depth = _roles(
        rng, nSources, historyDepth, fractionSolarSystem, fractionNewObjects, varyHistory, fillAllFields
    )
    nObj = nSources - nSso
    truth = _truePositions(rng, nSources, visitIds.bbox, edgeMargin, pixelToSky)
    objects = _Objects.draw(rng, nObj, visitIds.bandIndex, fractionNegative)

    h = _historyVisits(rng, nObj, depth, visitIds)
    newIds = packId(visitIds.key, detector, np.arange(nSources))
    diaObjectId = np.where(isNew, newIds[np.arange(nObj)], h.id[h.firstRow] if h.n else 0)
    history, historyNulls = _historySources(rng, h, objects, diaObjectId, truth, visitIds)
    sources, sourceNulls, templateFlux, sso = _visitSources(
        rng, nSso, objects, diaObjectId, newIds, truth, skyToPixel, visitIds
    )
    if fillAllFields:
        fillRareFields(rng, sources, sourceNulls, midpointMjdTai)

    nForced = historyDepth if nForcedPerObject is None else nForcedPerObject
    f, objCols, forced = _objectRows(rng, h, history, sources, objects, isNew, diaObjectId, nForced, visitIds)
    return VisitCatalogs(
        diaSourceCat=_indexed("DiaSource", sources, nSources, sourceNulls, SOURCE_INDEX),
        diaObjectCat=_indexed("DiaObject", objCols, nObj, None, "diaObjectId"),
        diaSrcHistory=_indexed("DiaSource", history, h.n, historyNulls, SOURCE_INDEX),
        diaForcedSources=_indexed("DiaForcedSource", forced, f.n, None, FORCED_SOURCE_INDEX),
        ssSrc=_ssSrc(rng, newIds[nObj:], sso, fractionMissingDesignations) if nSso else None,
        visit=visitIds.visit,
        detector=detector,
        band=band,
        midpointMjdTai=midpointMjdTai,
        exposureTime=exposureTime,
        bbox=visitIds.bbox,
        skyToPixel=skyToPixel,
        templateFlux=templateFlux,
    )


def _objectRows(rng, h, history, sources, objects, isNew, diaObjectId, nForced: int, visitIds):
    """The forced-photometry visits, the DiaObject columns and the forced-source columns.

    Returns
    -------
    forcedVisits : `types.SimpleNamespace`
        `_forcedVisits`'s rows (``n`` of them).
    objectColumns, forcedColumns : `dict` [`str`, `numpy.ndarray`]
        The DiaObject and DiaForcedSource columns.
    """
    nObj = len(diaObjectId)
    f = _forcedVisits(rng, objects, isNew, h.nights, nForced, visitIds)
    objCols = _objectColumns(rng, h, history, sources, f, nObj, visitIds.bandIndex)
    forced = _forcedColumns(rng, f, diaObjectId, objCols)
    objCols.update(
        diaObjectId=diaObjectId,
        validityStartMjdTai=np.full(nObj, visitIds.mjd),
        pixelId=np.zeros(nObj, np.int64),
    )
    return f, objCols, forced


def _visitIds(visit, detector: int, midpointMjdTai: float, bandIndex: int, exposureTime: float, bbox):
    """The ids and constants every row of the visit carries (visit default: Rubin-style from the MJD)."""
    currentVisit, currentKey = visitKeys(np.array([midpointMjdTai]))
    return SimpleNamespace(
        visit=int(currentVisit[0]) if visit is None else int(visit),
        key=int(currentKey[0]),
        detector=detector,
        mjd=midpointMjdTai,
        bandIndex=bandIndex,
        exposureTime=exposureTime,
        bbox=bbox,
    )


def _ssSrc(rng, diaSourceIds, sso, fractionMissingDesignations: float):
    """The ssSrc rows of the visit's solar-system DiaSources (`ssSrcFrame`)."""
    return ssSrcFrame(
        rng,
        diaSourceIds,
        sso.ssObjectIds,
        sso.designations,
        sso.packed,
        sso.ssColumns,
        sso.mpcColumns,
        fractionMissingDesignations,
    )


def _indexed(table, data, nRows, nulls, index):
    """An APDB-table frame indexed as the pipeline indexes it (levels kept as columns)."""
    return apdbFrame(table, data, nRows, nulls).set_index(index, drop=False)


def _checkParameters(band, historyDepth, fillAllFields, nSources):
    """Raise `ValueError` for impossible `makeVisitCatalogs` parameters."""
    if band not in LSST_BANDS:
        raise ValueError(f"band must be one of {LSST_BANDS}, not {band!r}")
    if not 0 <= historyDepth < HISTORY_NIGHTS:
        raise ValueError(f"historyDepth must be in [0, {HISTORY_NIGHTS - 1}]")
    if fillAllFields and nSources < 4:
        raise ValueError("fillAllFields needs nSources >= 4")
    if nSources < 0 or nSources >= 2**20:
        raise ValueError("nSources must be in [0, 2**20)")


def _roles(rng, nSources, historyDepth, fractionSolarSystem, fractionNewObjects, varyHistory, fillAllFields):
    """Who is who: the number of solar-system sources (the last rows), which
    of the others start a new DiaObject, and each object's history depth.
    """
    nSso = round(fractionSolarSystem * nSources)
    if fillAllFields:
        nSso = max(nSso, 1)
    nObj = nSources - nSso
    isNew = rng.random(nObj) < fractionNewObjects
    if historyDepth == 0:
        isNew[:] = True
    depth = np.where(isNew, 0, rng.integers(1, historyDepth + 1, nObj) if varyHistory else historyDepth)
    return nSso, isNew, depth


def _wcsFunctions(wcs, boresight, bbox, rotAngle):
    """(ra, dec) -> (x, y) and (x, y) -> (ra, dec) on arrays for the current visit."""
    width, height = bbox
    if wcs is None:
        tan = TanWcs.make(boresight, ((width - 1) / 2, (height - 1) / 2), rotAngle=rotAngle)
        return tan.skyToPixel, tan.pixelToSky
    skyToPixel = skyToPixelFunction(wcs)
    if hasattr(wcs, "pixelToSkyArray"):

        def pixelToSky(x, y):
            return wcs.pixelToSkyArray(np.asarray(x, float), np.asarray(y, float), degrees=True)
    else:

        def pixelToSky(x, y):
            return invertSkyToPixel(skyToPixel, np.asarray(x, float), np.asarray(y, float), *boresight)

    return skyToPixel, pixelToSky


def _truePositions(rng, nSources, bbox, edgeMargin, pixelToSky):
    """True pixel and sky positions of this visit's sources (some near the edges)."""
    width, height = bbox
    x = rng.uniform(edgeMargin, width - 1 - edgeMargin, nSources)
    y = rng.uniform(edgeMargin, height - 1 - edgeMargin, nSources)
    if edgeMargin == 0:
        nearEdge = rng.random(nSources) < 0.03
        side = rng.integers(0, 4, nSources)
        inset = rng.uniform(0.5, 15, nSources)
        x = np.where(nearEdge & (side == 0), inset, x)
        x = np.where(nearEdge & (side == 1), width - 1 - inset, x)
        y = np.where(nearEdge & (side == 2), inset, y)
        y = np.where(nearEdge & (side == 3), height - 1 - inset, y)
    ra, dec = pixelToSky(x, y)
    return SimpleNamespace(x=x, y=y, ra=ra, dec=dec)


@dataclasses.dataclass
class _Objects:
    """The DiaObjects' truth: kind, amplitude, template flux and colours.

    ``kind`` is 0 (variable: either sign), 1 (transient: positive) or 2
    (fading below the template: negative).
    """

    kind: np.ndarray
    amplitude: np.ndarray
    templateFlux: np.ndarray
    colour: np.ndarray

    @classmethod
    def draw(cls, rng, nObj, bandIndex, fractionNegative):
        kind = rng.choice(3, nObj, p=[0.85 - fractionNegative, 0.15, fractionNegative])
        sigmaRef = skyNoise(np.full(nObj, bandIndex), 1.0)
        amplitude = sigmaRef * 5.5 * (1 + rng.pareto(1.6, nObj))
        templateMag = np.where(kind == 1, rng.uniform(23.5, 27.0, nObj), rng.uniform(16.5, 23.0, nObj))
        templateFlux = 10 ** ((AB_NJY - templateMag) / 2.5)
        templateFlux = np.where(kind == 2, np.maximum(templateFlux, 2.5 * amplitude), templateFlux)
        colour = np.exp(rng.normal(0, 0.3, (nObj, len(LSST_BANDS))))
        colour[:, bandIndex] = 1.0
        return cls(kind, amplitude, templateFlux, colour)

    def diffFlux(self, rng, obj, bands, size):
        """Difference flux of objects' detections: sign by kind, scattered."""
        kind = self.kind[obj]
        sign = np.where(kind == 0, rng.choice([-1.0, 1.0], size), np.where(kind == 1, 1.0, -1.0))
        return sign * self.amplitude[obj] * self.colour[obj, bands] * np.exp(rng.normal(0, 0.35, size))


def _historyVisits(rng, nObj, depth, visitIds):
    """Earlier detections: distinct nights, same time of night +- 2 h, bands, ids."""
    nights, valid = nightsBack(rng, nObj, depth, 0, HISTORY_NIGHTS)
    h = SimpleNamespace(nights=nights, obj=np.nonzero(valid)[0])
    h.n = len(h.obj)
    h.mjd = visitIds.mjd - (HISTORY_NIGHTS - nights[valid]) + np.clip(rng.normal(0, 0.04, h.n), -0.09, 0.09)
    h.band = rng.choice(len(LSST_BANDS), h.n, p=BAND_WEIGHTS)
    h.visit, key = visitKeys(h.mjd)
    h.detector = np.where(rng.random(h.n) < 0.7, visitIds.detector, rng.integers(0, N_DETECTORS, h.n))
    h.seeing = np.exp(rng.normal(0, 0.2, h.n))
    h.id = packId(key, h.detector, h.obj)
    # The first history source founded each known object.
    h.firstRow = np.zeros(nObj, np.int64)
    founders, founderRows = np.unique(h.obj, return_index=True)
    h.firstRow[founders] = founderRows
    return h


def _historySources(rng, h, objects, diaObjectId, truth, visitIds):
    """History DiaSource columns: scattered around the truth; x/y in a dithered frame."""
    width, height = visitIds.bbox
    seeingPix = SEEING_FWHM * h.seeing / 2.3548 / PIXEL_SCALE
    offset = rng.normal(0, 1, (2, h.n)) * seeingPix * 0.15 * PIXEL_SCALE / 3600.0
    dec = truth.dec[h.obj] + offset[1]
    ra = (truth.ra[h.obj] + offset[0] / np.cos(np.radians(dec))) % 360.0
    x = (truth.x[h.obj] + rng.uniform(-400, 400, h.n)) % width
    y = (truth.y[h.obj] + rng.uniform(-400, 400, h.n)) % height
    return sourceColumns(
        rng,
        n=h.n,
        diaSourceId=h.id,
        diaObjectId=diaObjectId[h.obj],
        visit=h.visit,
        detector=h.detector,
        band=h.band,
        mjd=h.mjd,
        ra=ra,
        dec=dec,
        x=x,
        y=y,
        flux=objects.diffFlux(rng, h.obj, h.band, h.n),
        templateFlux=objects.templateFlux[h.obj] * objects.colour[h.obj, h.band],
        seeing=h.seeing,
        exposureTime=visitIds.exposureTime,
        bbox=visitIds.bbox,
        isSso=np.zeros(h.n, bool),
    )


def _visitSources(rng, nSso, objects, diaObjectId, newIds, truth, skyToPixel, visitIds):
    """This visit's DiaSource columns and nulls, the true template flux at
    each source, and the solar-system sources' columns and ids (last rows).
    """
    nSources = len(newIds)
    nObj = nSources - nSso
    seeing = np.exp(rng.normal(0, 0.15))
    band = np.full(nSources, visitIds.bandIndex)
    flux = np.zeros(nSources)
    templateFlux = np.zeros(nSources)
    flux[:nObj] = objects.diffFlux(rng, np.arange(nObj), band[:nObj], nObj)
    templateFlux[:nObj] = objects.templateFlux
    posErr = SEEING_FWHM * seeing / 2.3548 * 0.15 / 3600.0
    dec = truth.dec + rng.normal(0, posErr, nSources)
    ra = (truth.ra + rng.normal(0, posErr, nSources) / np.cos(np.radians(dec))) % 360.0
    motion = None
    sso = SimpleNamespace(ssColumns=None, mpcColumns=None)
    if nSso:
        sso.ssColumns, sso.mpcColumns, flux[nObj:], ssMotion = solarSystem(
            rng, visitIds.mjd, ra[nObj:], dec[nObj:], band[nObj:]
        )
        motion = tuple(np.concatenate([np.zeros(nObj), m]) for m in ssMotion)
    x, y = (np.asarray(v, float) for v in skyToPixel(ra, dec))
    objectIds = np.concatenate([diaObjectId, np.zeros(nSso, np.int64)])
    sources, nulls = sourceColumns(
        rng,
        n=nSources,
        diaSourceId=newIds,
        diaObjectId=objectIds,
        visit=np.full(nSources, visitIds.visit),
        detector=np.full(nSources, visitIds.detector),
        band=band,
        mjd=np.full(nSources, visitIds.mjd),
        ra=ra,
        dec=dec,
        x=x,
        y=y,
        flux=flux,
        templateFlux=templateFlux,
        seeing=np.full(nSources, seeing),
        exposureTime=visitIds.exposureTime,
        bbox=visitIds.bbox,
        isSso=np.arange(nSources) >= nObj,
        motion=motion,
    )
    # Every source of this visit was processed together.
    sources["timeProcessedMjdTai"] = np.full(nSources, visitIds.mjd + rng.uniform(60, 120) / 86400.0)
    sso.designations = randomDesignations(rng, nSso)
    sso.packed = [packProvisional(d) for d in sso.designations]
    sso.ssObjectIds = np.array([designationToSsObjectId(p) for p in sso.packed], dtype=np.int64)
    sources["ssObjectId"][nObj:] = sso.ssObjectIds
    nulls["ssObjectId"] = np.arange(nSources) < nObj
    return sources, nulls, templateFlux, sso


def _forcedVisits(rng, objects, isNew, historyNights, nForced, visitIds):
    """Forced photometry: earlier nights since each known object's first
    detection, plus this visit for every object; true fluxes and errors.
    """
    nObj = len(isNew)
    firstNight = np.where(
        isNew, HISTORY_NIGHTS, historyNights[:, 0] if historyNights.shape[1] else HISTORY_NIGHTS
    )
    nights, valid = nightsBack(rng, nObj, np.where(isNew, 0, max(nForced - 1, 0)), firstNight, HISTORY_NIGHTS)
    f = SimpleNamespace(obj=np.concatenate([np.nonzero(valid)[0], np.arange(nObj)]))
    nPast = int(valid.sum())
    f.n = len(f.obj)
    f.mjd = np.concatenate(
        [
            visitIds.mjd
            - (HISTORY_NIGHTS - nights[valid])
            + np.clip(rng.normal(0, 0.04, nPast), -0.09, 0.09),
            np.full(nObj, visitIds.mjd),
        ]
    )
    f.band = np.concatenate(
        [rng.choice(len(LSST_BANDS), nPast, p=BAND_WEIGHTS), np.full(nObj, visitIds.bandIndex)]
    )
    f.visit, f.key = visitKeys(f.mjd)
    f.visit[nPast:] = visitIds.visit
    f.key[nPast:] = visitIds.key
    past = np.where(rng.random(nPast) < 0.7, visitIds.detector, rng.integers(0, N_DETECTORS, nPast))
    f.detector = np.concatenate([past, np.full(nObj, visitIds.detector)])
    seeing = np.exp(rng.normal(0, 0.2, f.n))
    f.true = objects.diffFlux(rng, f.obj, f.band, f.n) * rng.uniform(0.0, 1.1, f.n)
    f.template = objects.templateFlux[f.obj] * objects.colour[f.obj, f.band]
    f.err, f.sciErr, _ = fluxErrors(f.band, seeing, f.true, f.template, rng)
    return f


def _objectColumns(rng, h, history, sources, f, nObj, bandIndex):
    """DiaObject summaries from the histories, this visit's sources and forced photometry."""

    def detections(name):
        return np.concatenate([history[name], sources[name][:nObj]])

    return objectSummary(
        nObj,
        np.concatenate([h.obj, np.arange(nObj)]),
        np.concatenate([h.band, np.full(nObj, bandIndex)]),
        detections("midpointMjdTai"),
        *(
            detections(name)
            for name in (
                "psfFlux",
                "psfFluxErr",
                "scienceFlux",
                "scienceFluxErr",
                "ra",
                "dec",
                "raErr",
                "decErr",
            )
        ),
        f.obj,
        f.band,
        f.true + rng.normal(0, 1, f.n) * f.err,
        f.err,
    )


def _forcedColumns(rng, f, diaObjectId, objCols):
    """DiaForcedSource columns at the objects' mean positions."""
    psfFlux = f.true + rng.normal(0, 1, f.n) * f.err
    return {
        "diaForcedSourceId": packId(f.key, f.detector, f.obj),
        "diaObjectId": diaObjectId[f.obj],
        "ra": objCols["ra"][f.obj],
        "dec": objCols["dec"][f.obj],
        "visit": f.visit,
        "detector": f.detector,
        "psfFlux": psfFlux,
        "psfFluxErr": f.err,
        "midpointMjdTai": f.mjd,
        "scienceFlux": f.template + f.true + rng.normal(0, 1, f.n) * f.sciErr,
        "scienceFluxErr": f.sciErr,
        "band": np.asarray(LSST_BANDS)[f.band].astype(object),
        "timeProcessedMjdTai": f.mjd + rng.uniform(60, 180, f.n) / 86400.0,
    }
