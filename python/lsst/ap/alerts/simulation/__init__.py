"""Realistic synthetic visits: DIA catalogs and images of one visit/detector.

Everything `PackageAlertsTask.run` needs, made from a seeded
`numpy.random.Generator` (same seed, same output), fast enough for
benchmarks (1000 sources with 30-deep histories take well under a second;
10,000 sources work):

- `makeVisitCatalogs`: ``diaSourceCat``, ``diaObjectCat``, ``diaSrcHistory``,
  ``diaForcedSources`` and ``ssSrc`` as DiaPipelineTask hands them over:
  indexed as upstream (index levels kept as columns too, ``drop=False``),
  with the APDB schema's columns and the dtypes of
  ``lsst.pipe.tasks.schemaUtils.convertDataFrameToSdmSchema`` (numpy dtypes
  for non-nullable columns, pandas nullable ``Int64``/``boolean`` for
  nullable integer and boolean columns, float32/float64 with NaN, object
  strings);
- `makeVisitExposures`: difference, science and template exposures through
  the afw API (`lsst.ap.alerts._afw`);
- `makeSimulatedVisit`: both, consistent with each other.
- `writeApdb` / `readApdb`: store the catalogs in a real SQLite APDB
  (lsst-dax-apdb) and read them back with its own queries.

What the values model: fluxes in nJy with per-band single-visit depths and
template shot noise, S/N >= 5 detections (some negative), centroid errors
from S/N and seeing, footprint sizes mostly 10-60 pixels (a few over 102),
edge/saturation flags that follow positions and brightness, rare pixel
flags, dipole and trail measurements only where those fits run, DiaObject
summaries (per-band means, sigmas, min/max, slopes, forced-photometry means)
computed from the very DiaSources and forced sources in the catalogs, and
12-month histories on distinct earlier nights.  Solar-system sources get
an ``ssSource`` row from a simple but self-consistent geometry (Keplerian
orbits in the ecliptic plane through the observed direction, the Sun's
true position at the visit time: ranges, range rates, sky rates,
elongation, phase and magnitudes agree) and ``MPCORB_``-prefixed
``mpc_orbits`` columns of those orbits.  Simplified: light curves are
random scatter around a per-object amplitude (no periods or rise times);
history rows' x/y are in their own (dithered) visits' frames, so only the
current visit's x/y follow the WCS; ``pixelId`` is 0, as
convertDataFrameToSdmSchema leaves it (the APDB computes it on store).

Notes on the current dax_apdb API (lsst-dax-apdb 30.2026.4100, apdb.yaml
10.0.0), learnt while writing `writeApdb`/`readApdb`:

- ``ApdbSql.init_database(db_url=...)`` creates the schema and returns an
  ``ApdbSqlConfig``, not an `Apdb`; ``Apdb.from_config(config)`` opens it.
- Reads return every column with its *nullable* pandas dtype (``Int64``,
  ``Int16``, ``boolean``...), whatever the column's nullability; the
  pipeline converts afterwards.  ``pixelId`` is not returned.
- ``store`` overwrites ``validityStartMjdTai`` (with ``visit_time``),
  ``validityEndMjdTai`` and ``pixelId``; its ``visit_time`` is an
  `astropy.time.Time`.
- The history window is ``read_sources_months * 30`` days (360 for the
  default 12), measured on ``midpointMjdTai``.
- ``getDiaForcedSources`` needs object ids (no region-only queries).
- apdb.yaml has no ``pixelId``: the SQL implementation appends it to the
  DiaObject and DiaSource definitions that ``Apdb.tableDef`` (hence the
  pipeline's conversion) sees.  The DiaSource table also has
  ``ssObjectReassocTimeMjdTai``, DiaObject ``validityEndMjdTai``, which
  the 11.1 alert lacks; SSSource has exactly the alert ssSource's 39
  columns.
- With pandas 3, string columns must be built as explicit ``object``
  Series, or pandas infers its ``str`` dtype where the pipeline (and the
  APDB) give ``object``.
"""

from __future__ import annotations

__all__ = [
    "LSST_BANDS",
    "TanWcs",
    "VisitCatalogs",
    "apdbColumnDtypes",
    "makeSimulatedVisit",
    "makeVisitCatalogs",
    "makeVisitExposures",
    "makeVisitWcs",
    "readApdb",
    "writeApdb",
]

import dataclasses
import functools
import json
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..catalogs.designations import designationToSsObjectId, packProvisional

LSST_BANDS = ("u", "g", "r", "i", "z", "y")
# Single-visit (30 s) 5-sigma point-source depths, AB mag, per band.
_DEPTH5 = np.array([23.7, 24.8, 24.4, 24.0, 23.4, 22.5])
# Fraction of visits per band in the wide-fast-deep cadence.
_BAND_WEIGHTS = np.array([0.07, 0.10, 0.22, 0.22, 0.20, 0.19])
_AB_NJY = 31.4  # AB magnitude of 1 nJy
_PIXEL_SCALE = 0.2  # arcsec per pixel
_SEEING_FWHM = 0.8  # arcsec, median
_DEFAULT_MJD = 61000.2  # 2025-12-15, 04:48 TAI
_HISTORY_NIGHTS = 350  # inside the APDB's 12 x 30-day window
_N_DETECTORS = 189
_MJD_2020 = 58849  # 2020-01-01: origin of the packed visit key in ids
_RELIABILITY_VERSION = "rbResnet50-DC2-v2"
_PIXEL_ID_TABLES = ("DiaObject", "DiaSource")


# --------------------------------------------------------------------------
# APDB schema


@functools.cache
def _apdbTables():
    """The APDB's table definitions, exactly as lsst.dax.apdb reads them."""
    from lsst.dax.apdb import ApdbTables
    from lsst.dax.apdb.apdbSchema import ApdbSchema
    from lsst.dax.apdb.config import ApdbConfig

    fields = ApdbConfig.model_fields
    schema = ApdbSchema(fields["schema_file"].default, fields["ss_schema_file"].default)
    return {t.value: schema.tableSchemas[t] for t in ApdbTables if t in schema.tableSchemas}


def _pipelineDtype(column) -> str:
    """Dtype as convertDataFrameToSdmSchema (lsst.pipe.tasks) gives it."""
    nullable, notNull = {
        "double": ("float64", "float64"),
        "float": ("float32", "float32"),
        "timestamp": ("datetime64[ms]", "datetime64[ms]"),
        "long": ("Int64", "int64"),
        "int": ("Int32", "int32"),
        "short": ("Int16", "int16"),
        "byte": ("Int8", "int8"),
        "boolean": ("boolean", "bool"),
    }.get(column.datatype.value, ("object", "object"))
    return nullable if column.nullable else notNull


def apdbColumnDtypes(table: str, *, asReturnedByApdb: bool = False) -> dict[str, str]:
    """Column names and pandas dtypes of an APDB table, in schema order.

    Parameters
    ----------
    table : `str`
        APDB table name: ``DiaSource``, ``DiaObject``, ``DiaForcedSource``,
        ``SSSource``...
    asReturnedByApdb : `bool`, optional
        If `False` (default), the dtypes of the pipeline's catalogs
        (convertDataFrameToSdmSchema with an SQL APDB's table definitions:
        numpy dtypes for non-nullable columns, and a ``pixelId`` column in
        DiaObject and DiaSource); if `True`, what ``Apdb.getDia*`` return
        (the nullable dtype of every column, no ``pixelId``).

    Returns
    -------
    dtypes : `dict` [`str`, `str`]
    """
    columns = _apdbTables()[table].columns
    if asReturnedByApdb:
        return {c.name: c.pandas_type for c in columns}
    dtypes = {c.name: _pipelineDtype(c) for c in columns}
    if table in _PIXEL_ID_TABLES:
        # An SQL APDB's table definitions (what the pipeline converts with)
        # end with this non-nullable spatial index column.
        dtypes["pixelId"] = "int64"
    return dtypes


def _column(values, dtype: str, null=None):
    """One column in ``dtype``; ``null`` marks missing rows."""
    values = np.asarray(values)
    if dtype in ("Int64", "Int32", "Int16", "Int8"):
        mask = np.zeros(len(values), bool) if null is None else np.asarray(null, bool)
        return pd.arrays.IntegerArray(values.astype(dtype.lower()), mask.copy())
    if dtype == "boolean":
        mask = np.zeros(len(values), bool) if null is None else np.asarray(null, bool)
        return pd.arrays.BooleanArray(values.astype(bool), mask.copy())
    if dtype == "object":
        out = values.astype(object)
        if null is not None:
            out[np.asarray(null, bool)] = None
        # An explicit object Series: pandas 3 would infer its "str" dtype.
        return pd.Series(out, dtype=object)
    out = values.astype(dtype)
    if null is not None:
        out[np.asarray(null, bool)] = np.nan
    return out


def _frame(table: str, data: dict, nRows: int, nulls: dict | None = None) -> pd.DataFrame:
    """A DataFrame with all columns of an APDB table, in schema order.

    Columns absent from ``data`` are all-null (nullable) or zero (as
    convertDataFrameToSdmSchema fills non-nullable ones).
    """
    nulls = nulls or {}
    columns = {}
    for name, dtype in apdbColumnDtypes(table).items():
        if name in data:
            columns[name] = _column(data[name], dtype, nulls.get(name))
        elif dtype in ("float32", "float64"):
            columns[name] = np.full(nRows, np.nan, dtype=dtype)
        elif dtype == "object":
            columns[name] = pd.Series(np.full(nRows, None, dtype=object), dtype=object)
        elif dtype[0].isupper() or dtype == "boolean":
            columns[name] = _column(np.zeros(nRows, int), dtype, np.ones(nRows, bool))
        else:
            columns[name] = np.zeros(nRows, dtype=dtype)
    return pd.DataFrame(columns)


# --------------------------------------------------------------------------
# Sky geometry


def _unitVectors(ra, dec):
    ra, dec = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def _raDec(vectors):
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    return np.degrees(np.arctan2(y, x)) % 360.0, np.degrees(np.arctan2(z, np.hypot(x, y)))


def _eastNorth(ra, dec):
    """Unit vectors pointing east and north at (ra, dec), degrees."""
    ra, dec = np.radians(ra), np.radians(dec)
    east = np.stack([-np.sin(ra), np.cos(ra), np.zeros_like(ra)], axis=-1)
    north = np.stack([-np.sin(dec) * np.cos(ra), -np.sin(dec) * np.sin(ra), np.cos(dec)], axis=-1)
    return east, north


class TanWcs:
    """Gnomonic (FITS TAN) pixel <-> sky mapping on numpy arrays.

    Parameters
    ----------
    crval : `tuple` [`float`, `float`]
        Sky position (ra, dec) of the reference pixel, degrees.
    crpix : `tuple` [`float`, `float`]
        Reference pixel, 0-based (LSST convention, as afw's ``makeSkyWcs``).
    cdMatrix : `numpy.ndarray`
        2x2 CD matrix, degrees per pixel (first row: along RA/east).
    """

    def __init__(self, crval, crpix, cdMatrix):
        self.crval = (float(crval[0]), float(crval[1]))
        self.crpix = (float(crpix[0]), float(crpix[1]))
        self.cdMatrix = np.asarray(cdMatrix, dtype=float).reshape(2, 2)
        self._cdInverse = np.linalg.inv(self.cdMatrix)
        east, north = _eastNorth(*self.crval)
        self._frame = np.stack([east, north, _unitVectors(*self.crval)])

    @classmethod
    def make(cls, crval, crpix, pixelScale=_PIXEL_SCALE, rotAngle=0.0, flipX=True):
        """TAN WCS with north rotated ``rotAngle`` degrees from +y.

        ``flipX`` (default) puts east to -x, as on the sky seen from inside.
        """
        scale = pixelScale / 3600.0
        c, s = np.cos(np.radians(rotAngle)), np.sin(np.radians(rotAngle))
        cd = scale * np.array([[c, -s], [s, c]])
        if flipX:
            cd[0] = -cd[0]
        return cls(crval, crpix, cd)

    def pixelToSky(self, x, y):
        """Return (ra, dec), degrees, of pixel positions."""
        dx = np.stack([np.asarray(x, float) - self.crpix[0], np.asarray(y, float) - self.crpix[1]])
        xi, eta = np.radians(self.cdMatrix @ dx.reshape(2, -1))
        vectors = xi[:, None] * self._frame[0] + eta[:, None] * self._frame[1] + self._frame[2]
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ra, dec = _raDec(vectors)
        return ra.reshape(np.shape(x)), dec.reshape(np.shape(x))

    def skyToPixel(self, ra, dec):
        """Return (x, y) pixel positions of sky positions in degrees."""
        vectors = _unitVectors(np.asarray(ra, float), np.asarray(dec, float)).reshape(-1, 3)
        projected = vectors @ self._frame.T
        xi = np.degrees(projected[:, 0] / projected[:, 2])
        eta = np.degrees(projected[:, 1] / projected[:, 2])
        dx, dy = self._cdInverse @ np.stack([xi, eta])
        return (dx + self.crpix[0]).reshape(np.shape(ra)), (dy + self.crpix[1]).reshape(np.shape(ra))

    __call__ = skyToPixel


def _skyToPixelFunction(wcs) -> Callable:
    """(ra, dec) -> (x, y) on arrays, from a callable or an afw-like SkyWcs."""
    if hasattr(wcs, "skyToPixelArray"):
        return lambda ra, dec: wcs.skyToPixelArray(np.asarray(ra, float), np.asarray(dec, float),
                                                   degrees=True)
    if callable(wcs):
        return wcs
    raise TypeError(f"wcs must be callable (ra, dec) -> (x, y) or a SkyWcs, not {type(wcs)!r}")


def _invert(skyToPixel, x, y, raGuess, decGuess, iterations=8):
    """Sky positions of pixels, by Newton iterations on ``skyToPixel``."""
    ra = np.full(len(x), raGuess, dtype=float)
    dec = np.full(len(x), decGuess, dtype=float)
    step = 1e-5  # degrees: well within the WCS' linear regime
    for _ in range(iterations):
        x0, y0 = (np.asarray(v, float) for v in skyToPixel(ra, dec))
        xa, ya = (np.asarray(v, float) for v in skyToPixel(ra + step, dec))
        xd, yd = (np.asarray(v, float) for v in skyToPixel(ra, dec + step))
        j11, j21 = (xa - x0) / step, (ya - y0) / step
        j12, j22 = (xd - x0) / step, (yd - y0) / step
        det = j11 * j22 - j12 * j21
        ex, ey = x - x0, y - y0
        ra = ra + (j22 * ex - j12 * ey) / det
        dec = dec + (-j21 * ex + j11 * ey) / det
        if np.max(np.hypot(ex, ey), initial=0.0) < 1e-6:
            break
    return ra % 360.0, dec


_OBLIQUITY = np.radians(23.4393)
# ICRS -> Galactic rotation (Hipparcos / IAU definition).
_ICRS_TO_GAL = np.array([
    [-0.0548755604162154, -0.8734370902348850, -0.4838350155487132],
    [+0.4941094278755837, -0.4448296299600112, +0.7469822444972189],
    [-0.8676661490190047, -0.1980763734312015, +0.4559837761750669],
])


def _equatorialToEcliptic(vectors):
    c, s = np.cos(_OBLIQUITY), np.sin(_OBLIQUITY)
    return vectors @ np.array([[1, 0, 0], [0, c, s], [0, -s, c]]).T


def _eclipticToEquatorial(vectors):
    c, s = np.cos(_OBLIQUITY), np.sin(_OBLIQUITY)
    return vectors @ np.array([[1, 0, 0], [0, c, -s], [0, s, c]]).T


def _sunGeocentric(mjd: float) -> np.ndarray:
    """Geocentric position of the Sun (AU, equatorial), low-precision almanac."""
    d = mjd - 51544.5
    g = np.radians(357.528 + 0.9856003 * d)
    lam = np.radians(280.460 + 0.9856474 * d + 1.915 * np.sin(g) + 0.020 * np.sin(2 * g))
    r = 1.00014 - 0.01671 * np.cos(g) - 0.00014 * np.cos(2 * g)
    return _eclipticToEquatorial(np.array([r * np.cos(lam), r * np.sin(lam), 0.0]))


# --------------------------------------------------------------------------
# Ids and times


def _civilDate(mjd):
    """(year, month, day) arrays of integer MJDs."""
    days = np.datetime64("1858-11-17", "D") + np.asarray(mjd, dtype=np.int64).astype("timedelta64[D]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    return year, month, day


def _visitKeys(mjd):
    """Rubin-style visit ids (dayObs * 100000 + seqNum) and compact keys.

    dayObs rolls over at 12:00 UTC (TAI here); a visit every 38 s.
    """
    shifted = np.asarray(mjd, dtype=float) - 0.5
    dayObsMjd = np.floor(shifted).astype(np.int64)
    seq = 1 + np.floor((shifted - dayObsMjd) * 86400.0 / 38.0).astype(np.int64)
    year, month, day = _civilDate(dayObsMjd)
    visit = (year * 10000 + month * 100 + day) * 100000 + seq
    key = (dayObsMjd - _MJD_2020) * 4096 + seq
    return visit, key


def _packId(key, detector, counter):
    """64-bit ids unique per (visit, detector, counter), like Rubin's packers."""
    return ((np.asarray(key, np.int64) * 256 + np.asarray(detector, np.int64)) << 20) + np.asarray(
        counter, np.int64
    )


def _nightsBack(rng, nRows, depth, low, high):
    """Distinct sorted integer nights in [low, high) per row, ``depth`` each.

    ``low``/``high``/``depth`` may be per-row arrays; returns an (nRows,
    maxDepth) array and its validity mask (valid entries come first).
    """
    low = np.broadcast_to(np.asarray(low, np.int64), nRows)
    high = np.broadcast_to(np.asarray(high, np.int64), nRows)
    depth = np.minimum(np.broadcast_to(np.asarray(depth, np.int64), nRows), high - low)
    maxDepth = int(depth.max(initial=0))
    j = np.arange(maxDepth)
    valid = j[None, :] < depth[:, None]
    # Sorted draws with replacement from a range shortened by depth - 1,
    # plus 0, 1, 2...: strictly increasing, i.e. distinct nights.
    draws = np.where(valid, rng.random((nRows, maxDepth)), np.inf)
    draws.sort(axis=1)
    span = (high - low - depth + 1)[:, None]
    nights = np.where(valid, np.floor(np.where(valid, draws, 0.0) * span) + j[None, :] + low[:, None], 0)
    return nights.astype(np.int64), valid


# --------------------------------------------------------------------------
# Catalogs


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


_SOURCE_INDEX = ["diaObjectId", "band", "diaSourceId"]


def _skyNoise(band, seeing):
    """1-sigma point-source flux noise (nJy) from sky, per band and seeing."""
    return 10 ** ((_AB_NJY - _DEPTH5[band]) / 2.5) / 5.0 * seeing


def _fluxErrors(band, seeing, flux, templateFlux, rng):
    """psfFlux / scienceFlux / templateFlux errors: sky plus source shot noise."""
    sky = _skyNoise(band, seeing)
    shot = 2.0 * (np.abs(templateFlux) + np.abs(flux))  # nJy^2 per nJy of source
    psfErr = np.sqrt(sky**2 + shot) * rng.uniform(0.97, 1.03, len(sky))
    sciErr = np.sqrt(0.5 * sky**2 + shot)
    tmplErr = np.sqrt(0.25 * sky**2 + 0.5 * np.abs(templateFlux))
    return psfErr, sciErr, tmplErr


def _sourceColumns(rng, *, n, diaSourceId, diaObjectId, visit, detector, band, mjd, ra, dec, x, y,
                   flux, templateFlux, seeing, exposureTime, bbox, isSso, motion=None):
    """All DiaSource columns (APDB DiaSource table) for ``n`` detections.

    ``flux`` is the true difference flux (nJy, sign included), ``band``
    indices into `LSST_BANDS`; ``motion`` gives (rate deg/day, bearing deg)
    for solar-system rows, which get trail measurements.
    """
    psfErr, sciErr, tmplErr = _fluxErrors(band, seeing, flux, templateFlux, rng)
    # Detections are at |S/N| >= 5 by construction.
    flux = np.sign(flux) * np.maximum(np.abs(flux), 5.05 * psfErr)
    psfFlux = flux + rng.normal(0, 0.3, n) * psfErr
    psfFlux = np.where(np.abs(psfFlux) < 5.0 * psfErr, np.sign(flux) * 5.0 * psfErr, psfFlux)
    # Detection significance (of the footprint peak): at least the threshold.
    snr = np.maximum(np.abs(psfFlux) / psfErr * rng.uniform(0.95, 1.05, n), 5.0)
    psfSigmaPix = _SEEING_FWHM * seeing / 2.3548 / _PIXEL_SCALE
    posErrPix = 1.2 * psfSigmaPix / snr
    width, height = bbox
    edgeDistance = np.minimum.reduce([x, y, width - 1 - x, height - 1 - y])
    brightness = np.abs(templateFlux) + np.abs(psfFlux)
    saturated = brightness > rng.uniform(4e5, 1.2e6, n)

    bboxSize = np.rint(np.exp(rng.normal(np.log(16.0), 0.38, n)) + 3.0 * np.log(snr / 5.0) + 6.0)
    big = rng.random(n) < 0.02
    bboxSize[big] = rng.integers(103, 220, big.sum())
    bboxSize[saturated] = np.maximum(bboxSize[saturated], rng.integers(60, 140, saturated.sum()))
    bboxSize = np.clip(bboxSize, 8, 400).astype(np.int32)

    apFlux = psfFlux * rng.normal(1.0, 0.04, n) + rng.normal(0, 0.4, n) * psfErr
    cr = rng.random(n) < 0.02
    bad = rng.random(n) < 0.01
    suspect = (rng.random(n) < 0.01) | (saturated & (rng.random(n) < 0.5))
    streak = rng.random(n) < 0.004
    nodata = (rng.random(n) < 0.002) | (edgeDistance < 1.5)
    edge = edgeDistance < bboxSize / 2
    interpolated = cr | bad | saturated | (rng.random(n) < 0.01)
    noGoodPixels = rng.random(n) < 0.002
    psfFlux[noGoodPixels] = np.nan
    psfFluxFlag = noGoodPixels | (edgeDistance < 5) | (rng.random(n) < 0.003)

    ixxPsf = (_SEEING_FWHM * seeing / 2.3548) ** 2 * rng.normal(1.0, 0.03, n)
    iyyPsf = ixxPsf * rng.normal(1.0, 0.04, n)
    ixyPsf = ixxPsf * rng.normal(0.0, 0.03, n)
    extended = rng.random(n) < 0.1
    extendedness = np.where(extended, rng.uniform(0.7, 1.0, n), np.clip(rng.normal(0.03, 0.05, n), 0, 1))
    growth = np.where(extended, rng.uniform(1.3, 2.5, n), 1.0) * rng.normal(1.0, 1.0 / snr)
    real = rng.random(n) < 0.85
    reliability = np.where(real, rng.beta(9, 1.3, n), rng.beta(1.3, 5, n))

    # Dipole fits run on sources with positive and negative lobes.
    dipoleFit = (rng.random(n) < 0.08) & ~isSso
    isDipole = dipoleFit & (rng.random(n) < 0.6)
    nDip = dipoleFit.sum()
    dipoleMeanFlux = np.abs(psfFlux[dipoleFit]) * rng.uniform(0.6, 1.5, nDip)
    dipoleErr = psfErr[dipoleFit] * rng.uniform(0.9, 1.3, nDip)

    # Trailed-source fits: on solar-system sources and a few others.
    trailFit = isSso | (rng.random(n) < 0.03)
    if motion is None:
        motion = (np.zeros(n), np.zeros(n))
    rate, bearing = motion
    trailLength = np.where(isSso, rate * exposureTime / 86400.0 * 3600.0, rng.uniform(0.1, 1.5, n))
    trailLength = np.abs(trailLength + rng.normal(0, 0.1, n) * posErrPix * _PIXEL_SCALE)
    trailAngle = np.where(isSso, bearing, rng.uniform(-180, 180, n)) + rng.normal(0, 2.0, n)
    trailAngle = (trailAngle + 180.0) % 360.0 - 180.0

    fitPixels = np.minimum(bboxSize.astype(np.int64) ** 2, 441)
    psfChi2 = fitPixels * rng.gamma(50, 1 / 50, n)
    shapeFlag = rng.random(n) < 0.03
    raErr = posErrPix * _PIXEL_SCALE / 3600.0
    decErr = raErr * rng.normal(1.0, 0.05, n)
    processed = mjd + rng.uniform(45, 150, n) / 86400.0
    data = {
        "diaSourceId": diaSourceId,
        "visit": visit,
        "detector": detector,
        "diaObjectId": diaObjectId,
        "midpointMjdTai": mjd,
        "exposureTime": np.full(n, exposureTime),
        "ra": ra,
        "raErr": raErr,
        "dec": dec,
        "decErr": decErr,
        "ra_dec_Cov": rng.normal(0, 0.1, n) * raErr * decErr,
        "x": x,
        "xErr": posErrPix,
        "y": y,
        "yErr": posErrPix * rng.normal(1.0, 0.05, n),
        "centroid_flag": rng.random(n) < 0.01,
        "apFlux": apFlux,
        "apFluxErr": psfErr * rng.uniform(1.15, 1.4, n),
        "apFlux_flag": edgeDistance < 12,
        "apFlux_flag_apertureTruncated": edgeDistance < 12,
        "isNegative": psfFlux < 0,
        "snr": snr,
        "psfFlux": psfFlux,
        "psfFluxErr": psfErr,
        "psfChi2": psfChi2,
        "psfLnL": -0.5 * psfChi2 - 700.0 - rng.normal(0, 20, n),
        "psfNdata": fitPixels - rng.integers(0, 8, n),
        "psfFlux_flag": psfFluxFlag,
        "psfFlux_flag_edge": edgeDistance < 5,
        "psfFlux_flag_noGoodPixels": noGoodPixels,
        "trailFlux": np.where(trailFit, psfFlux * rng.uniform(1.0, 1.15, n), np.nan),
        "trailFluxErr": np.where(trailFit, psfErr * 1.2, np.nan),
        "trailRa": np.where(trailFit, ra, np.nan),
        "trailRaErr": np.where(trailFit, raErr * 1.3, np.nan),
        "trailDec": np.where(trailFit, dec, np.nan),
        "trailDecErr": np.where(trailFit, decErr * 1.3, np.nan),
        "trailLength": np.where(trailFit, trailLength, np.nan),
        "trailLengthErr": np.where(trailFit, 0.05 + posErrPix * _PIXEL_SCALE, np.nan),
        "trailAngle": np.where(trailFit, trailAngle, np.nan),
        "trailAngleErr": np.where(trailFit, rng.uniform(0.5, 15.0, n), np.nan),
        "trailChi2": np.where(trailFit, psfChi2 * rng.uniform(0.9, 1.05, n), np.nan),
        "trailNdata": np.where(trailFit, fitPixels, 0),
        "trailAlgorithm": np.ones(n, np.int64),
        "trail_flag_edge": trailFit & (edgeDistance < 10),
        "trail_flag": trailFit & (rng.random(n) < 0.02),
        "dipoleMeanFlux": _scatter(n, dipoleFit, dipoleMeanFlux),
        "dipoleMeanFluxErr": _scatter(n, dipoleFit, dipoleErr),
        "dipoleFluxDiff": _scatter(n, dipoleFit, dipoleMeanFlux * rng.normal(0, 0.2, nDip)),
        "dipoleFluxDiffErr": _scatter(n, dipoleFit, dipoleErr * 1.4),
        "dipoleLength": _scatter(n, dipoleFit, rng.uniform(0.1, 1.2, nDip)),
        "dipoleAngle": _scatter(n, dipoleFit, rng.uniform(-180, 180, nDip)),
        "dipoleChi2": _scatter(n, dipoleFit, psfChi2[dipoleFit] * rng.uniform(0.7, 1.0, nDip)),
        "dipoleNdata": np.where(dipoleFit, fitPixels, 0),
        "scienceFlux": templateFlux + flux + rng.normal(0, 1, n) * sciErr,
        "scienceFluxErr": sciErr,
        "forced_PsfFlux_flag": (edgeDistance < 5) | (rng.random(n) < 0.003),
        "forced_PsfFlux_flag_edge": edgeDistance < 5,
        "forced_PsfFlux_flag_noGoodPixels": rng.random(n) < 0.002,
        "templateFlux": templateFlux + rng.normal(0, 1, n) * tmplErr,
        "templateFluxErr": tmplErr,
        "ixx": ixxPsf * growth,
        "iyy": iyyPsf * growth,
        "ixy": ixyPsf * growth,
        "ixxPSF": ixxPsf,
        "iyyPSF": iyyPsf,
        "ixyPSF": ixyPsf,
        "shape_flag": shapeFlag,
        "shape_flag_no_pixels": shapeFlag & (rng.random(n) < 0.3),
        "shape_flag_not_contained": shapeFlag & (rng.random(n) < 0.3),
        "shape_flag_parent_source": np.zeros(n, bool),
        "extendedness": extendedness,
        "reliability": reliability,
        "reliabilityVersion": np.full(n, _RELIABILITY_VERSION, dtype=object),
        "band": np.asarray(LSST_BANDS)[band].astype(object),
        "isDipole": isDipole,
        "dipoleFitAttempted": dipoleFit,
        "timeProcessedMjdTai": processed,
        "bboxSize": bboxSize,
        "pixelFlags": rng.random(n) < 0.002,
        "pixelFlags_bad": bad,
        "pixelFlags_cr": cr,
        "pixelFlags_crCenter": cr & (rng.random(n) < 0.25),
        "pixelFlags_edge": edge,
        "pixelFlags_nodata": nodata,
        "pixelFlags_nodataCenter": nodata & (edgeDistance < 1.5),
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
    nulls = {
        "ssObjectId": np.ones(n, bool),
        "parentDiaSourceId": np.ones(n, bool),
        "trailAlgorithm": ~trailFit,
    }
    data["ssObjectId"] = np.zeros(n, np.int64)
    data["parentDiaSourceId"] = np.zeros(n, np.int64)
    return data, nulls


def _scatter(n, where, values):
    out = np.full(n, np.nan)
    out[where] = values
    return out


def _objectSummary(n, obj, band, mjd, flux, fluxErr, sciFlux, sciErr, ra, dec, raErr, decErr,
                   forcedObj, forcedBand, forcedFlux, forcedErr):
    """DiaObject columns from all detections and forced sources of each object.

    As ap_association's DiaCalculation plugins: inverse-variance weighted
    means and their errors, sample sigma, min/max, max slope between
    consecutive detections, mean error, counts.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return _objectSummaryImpl(n, obj, band, mjd, flux, fluxErr, sciFlux, sciErr, ra, dec, raErr, decErr,
                                  forcedObj, forcedBand, forcedFlux, forcedErr)


def _objectSummaryImpl(n, obj, band, mjd, flux, fluxErr, sciFlux, sciErr, ra, dec, raErr, decErr,
                       forcedObj, forcedBand, forcedFlux, forcedErr):
    nb = len(LSST_BANDS)
    out = {}

    def grouped(keys, values, size):
        ok = np.isfinite(values)
        return np.bincount(keys[ok], values[ok], minlength=size)

    key = obj * nb + band
    size = n * nb
    good = np.isfinite(flux)
    count = np.bincount(key[good], minlength=size)
    w = 1.0 / fluxErr**2
    sumW = grouped(key, np.where(good, w, np.nan), size)
    wMean = grouped(key, w * flux, size) / np.where(sumW > 0, sumW, np.nan)
    mean = grouped(key, flux, size) / np.where(count > 0, count, np.nan)
    sq = grouped(key, (flux - mean[key]) ** 2, size)
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
    errMean = grouped(key, np.where(good, fluxErr, np.nan), size) / np.where(count > 0, count, np.nan)
    sw = 1.0 / sciErr**2
    sciSumW = grouped(key, sw, size)
    sciMean = grouped(key, sw * sciFlux, size) / np.where(sciSumW > 0, sciSumW, np.nan)

    fkey = forcedObj * nb + forcedBand
    fw = 1.0 / forcedErr**2
    fSumW = grouped(fkey, fw, size)
    fpMean = grouped(fkey, fw * forcedFlux, size) / np.where(fSumW > 0, fSumW, np.nan)

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

    # Positions: inverse-variance weighted, in offsets from the first source
    # so that RA wrap-around does no harm.
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


def _randomDesignations(rng, count):
    """Distinct unpacked provisional designations, some in the extended form."""
    halfMonths = "ABCDEFGHJKLMNOPQRSTUVWXY"
    orders = "ABCDEFGHJKLMNOPQRSTUVWXYZ"
    seen, out = set(), []
    while len(out) < count:
        year = int(rng.integers(2000, 2026))
        extended = year >= 2015 and rng.random() < 0.15
        cycle = int(rng.integers(620, 720)) if extended else int(rng.integers(0, 300))
        text = f"{year} {halfMonths[rng.integers(24)]}{orders[rng.integers(25)]}{cycle if cycle else ''}"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def _solarSystem(rng, mjd, ra, dec, band, exposureTime):
    """Geometry, photometry and MPC orbits of solar-system detections.

    Circular heliocentric orbits in the ecliptic plane around the Sun's true
    position at ``mjd``: ranges, rates, elongation and phase are mutually
    consistent; H comes from the magnitude through the H-G phase function.

    Returns
    -------
    ssColumns : `dict`
        SSSource columns (without ids/designation).
    mpcColumns : `dict`
        mpc_orbits columns (without ids/designations).
    flux : `numpy.ndarray`
        Difference-image flux (nJy) in ``band``.
    motion : `tuple` [`numpy.ndarray`, `numpy.ndarray`]
        On-sky rate (deg/day) and bearing (deg east of north).
    """
    n = len(ra)
    auKm = 1.495978707e8
    u = _unitVectors(ra, dec)
    sun = _sunGeocentric(mjd)
    neo = rng.random(n) < 0.1
    r = np.where(neo, rng.uniform(1.1, 1.7, n), rng.uniform(2.1, 3.4, n))
    us = u @ sun
    delta = us + np.sqrt(us**2 - sun @ sun + r**2)
    geo = delta[:, None] * u
    helio = geo - sun
    # Keplerian velocities on prograde orbits in the ecliptic plane through
    # the object (eccentricity e, true anomaly nu); the Earth's circular.
    e = np.where(neo, rng.uniform(0.3, 0.65, n), rng.uniform(0.02, 0.25, n))
    nu = rng.uniform(0, 2 * np.pi, n)
    semiLatus = r * (1 + e * np.cos(nu))

    def prograde(vec):
        direction = np.stack([-vec[..., 1], vec[..., 0], np.zeros_like(vec[..., 0])], axis=-1)
        return direction / np.linalg.norm(direction, axis=-1, keepdims=True)

    helioEcl = _equatorialToEcliptic(helio)
    radial = helioEcl / np.linalg.norm(helioEcl, axis=1, keepdims=True)
    speed = (29.7847 / np.sqrt(semiLatus))[:, None]
    vHelio = _eclipticToEquatorial(
        speed * (e * np.sin(nu))[:, None] * radial + speed * (1 + e * np.cos(nu))[:, None] * prograde(radial))
    earthEcl = _equatorialToEcliptic(-sun[None, :])
    vEarth = _eclipticToEquatorial(29.7847 / np.sqrt(np.linalg.norm(earthEcl)) * prograde(earthEcl))[0]
    vTopo = vHelio - vEarth
    east, north = _eastNorth(ra, dec)
    toDegPerDay = 86400.0 / auKm * np.degrees(1.0) / delta
    rateRa = np.sum(vTopo * east, axis=1) * toDegPerDay
    rateDec = np.sum(vTopo * north, axis=1) * toDegPerDay
    rate = np.hypot(rateRa, rateDec)
    bearing = np.degrees(np.arctan2(rateRa, rateDec))
    elongation = np.degrees(np.arccos(np.clip(us / np.linalg.norm(sun), -1, 1)))
    cosPhase = np.sum(helio * geo, axis=1) / (r * delta)
    phase = np.degrees(np.arccos(np.clip(cosPhase, -1, 1)))
    tanHalf = np.tan(np.radians(phase) / 2)
    slopeG = 0.15
    phi = (1 - slopeG) * np.exp(-3.33 * tanHalf**0.63) + slopeG * np.exp(-1.87 * tanHalf**1.22)
    vmag = rng.uniform(19.0, 23.3, n)
    hMag = vmag - 5 * np.log10(r * delta) + 2.5 * np.log10(phi)
    colour = np.array([1.4, 0.35, -0.2, -0.35, -0.4, -0.45])  # band - V, S/C-type mix
    flux = 10 ** ((_AB_NJY - (vmag + colour[band] + rng.normal(0, 0.1, n))) / 2.5)

    offRa = rng.normal(0, 0.25, n)
    offDec = rng.normal(0, 0.25, n)
    b = np.radians(bearing)
    alongTrack = offRa * np.sin(b) + offDec * np.cos(b)
    crossTrack = offRa * np.cos(b) - offDec * np.sin(b)
    eclLon, eclLat = _raDec(_equatorialToEcliptic(u))
    galLon, galLat = _raDec(u @ _ICRS_TO_GAL.T)
    ssColumns = {
        "eclLambda": eclLon,
        "eclBeta": eclLat,
        "galLon": galLon,
        "galLat": galLat,
        "elongation": elongation,
        "phaseAngle": phase,
        "topoRange": delta,
        "topoRangeRate": np.sum(vTopo * u, axis=1),
        "helioRange": r,
        "helioRangeRate": np.sum(vHelio * helio, axis=1) / r,
        "ephRa": (ra - offRa / 3600.0 / np.cos(np.radians(dec))) % 360.0,
        "ephDec": dec - offDec / 3600.0,
        "ephVmag": vmag,
        "ephRate": rate,
        "ephRateRa": rateRa,
        "ephRateDec": rateDec,
        "ephOffset": np.hypot(offRa, offDec),
        "ephOffsetRa": offRa,
        "ephOffsetDec": offDec,
        "ephOffsetAlongTrack": alongTrack,
        "ephOffsetCrossTrack": crossTrack,
        "helio_x": helio[:, 0],
        "helio_y": helio[:, 1],
        "helio_z": helio[:, 2],
        "helio_vx": vHelio[:, 0],
        "helio_vy": vHelio[:, 1],
        "helio_vz": vHelio[:, 2],
        "helio_vtot": np.linalg.norm(vHelio, axis=1),
        "topo_x": geo[:, 0],
        "topo_y": geo[:, 1],
        "topo_z": geo[:, 2],
        "topo_vx": vTopo[:, 0],
        "topo_vy": vTopo[:, 1],
        "topo_vz": vTopo[:, 2],
        "topo_vtot": np.linalg.norm(vTopo, axis=1),
        "diaDistanceRank": np.ones(n, np.int64),
    }

    # The orbits those velocities belong to.
    a = semiLatus / (1 - e**2)
    eccAnomaly = 2 * np.arctan(np.sqrt((1 - e) / (1 + e)) * np.tan(nu / 2))
    meanAnomaly = np.degrees(eccAnomaly - e * np.sin(eccAnomaly)) % 360.0
    period = 365.25636 * a**1.5
    meanMotion = 360.0 / period
    epoch = np.full(n, np.floor(mjd / 100.0) * 100.0)  # MPC's standard epochs
    nObs = rng.integers(15, 3000, n)
    arc = rng.uniform(3, 9000, n)
    relUnc = 10 ** rng.uniform(-8, -4, n)
    fitted = mjd - rng.uniform(0.5, 60, n)
    created = mjd - rng.uniform(100, 4000, n)

    def asDatetime(m):
        return (np.datetime64("1858-11-17T00:00:00", "us")
                + np.rint(np.asarray(m) * 86400e6).astype("timedelta64[us]"))

    mpcColumns = {
        "id": rng.choice(np.arange(1, 2_000_000), n, replace=False),
        "created_at": asDatetime(created),
        "updated_at": asDatetime(fitted),
        "orbit_type_int": np.where(neo, rng.integers(0, 4, n), 10),
        "u_param": np.minimum(9, np.maximum(0, np.rint(9 - np.log10(arc) * 2.3))).astype(np.int64),
        "nopp": np.maximum(1, np.rint(arc / 365)).astype(np.int64),
        "arc_length_total": arc,
        "arc_length_sel": arc * rng.uniform(0.9, 1.0, n),
        "nobs_total": nObs,
        "nobs_total_sel": nObs - rng.integers(0, 5, n) * (nObs > 20),
        "a": a,
        "q": a * (1 - e),
        "e": e,
        "i": np.abs(rng.normal(0, 9, n)),
        "node": rng.uniform(0, 360, n),
        "argperi": rng.uniform(0, 360, n),
        "peri_time": epoch - meanAnomaly / meanMotion,
        "mean_anomaly": meanAnomaly,
        "period": period,
        "mean_motion": meanMotion,
        "a_unc": a * relUnc,
        "q_unc": a * (1 - e) * relUnc,
        "e_unc": relUnc,
        "i_unc": relUnc * 10,
        "node_unc": relUnc * 50,
        "argperi_unc": relUnc * 80,
        "peri_time_unc": relUnc * period,
        "mean_anomaly_unc": relUnc * 80,
        "period_unc": relUnc * period * 1.5,
        "mean_motion_unc": relUnc * meanMotion * 1.5,
        "epoch_mjd": epoch,
        "h": hMag,
        "g": np.full(n, slopeG),
        "not_normalized_rms": rng.uniform(0.15, 0.7, n),
        "normalized_rms": rng.uniform(0.4, 1.1, n),
        "earth_moid": np.abs(a * (1 - e) - 1.0) * rng.uniform(0.5, 1.0, n),
        "fitting_datetime": asDatetime(fitted),
    }
    return ssColumns, mpcColumns, flux, (rate, bearing)


def makeVisitCatalogs(
    nSources: int = 100,
    historyDepth: int = 10,
    *,
    seed: int = 0,
    visit: int | None = None,
    detector: int = 94,
    band: str = "r",
    midpointMjdTai: float = _DEFAULT_MJD,
    exposureTime: float = 30.0,
    wcs=None,
    bbox: tuple[int, int] = (4072, 4000),
    boresight: tuple[float, float] = (53.16, -28.10),
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
        the task to derive from ``ssObjectId``; at 1 the columns are
        omitted altogether.
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
    if band not in LSST_BANDS:
        raise ValueError(f"band must be one of {LSST_BANDS}, not {band!r}")
    if not 0 <= historyDepth < _HISTORY_NIGHTS:
        raise ValueError(f"historyDepth must be in [0, {_HISTORY_NIGHTS - 1}]")
    if fillAllFields and nSources < 4:
        raise ValueError("fillAllFields needs nSources >= 4")
    if nSources < 0 or nSources >= 2**20:
        raise ValueError("nSources must be in [0, 2**20)")
    rng = np.random.default_rng(seed)
    bandIndex = LSST_BANDS.index(band)
    width, height = bbox
    nForced = historyDepth if nForcedPerObject is None else nForcedPerObject

    if wcs is None:
        tan = TanWcs.make(boresight, ((width - 1) / 2, (height - 1) / 2), rotAngle=rotAngle)
        skyToPixel, pixelToSky = tan.skyToPixel, tan.pixelToSky
    elif hasattr(wcs, "pixelToSkyArray"):
        skyToPixel = _skyToPixelFunction(wcs)

        def pixelToSky(x, y):
            return wcs.pixelToSkyArray(np.asarray(x, float), np.asarray(y, float), degrees=True)
    else:
        skyToPixel = _skyToPixelFunction(wcs)

        def pixelToSky(x, y):
            return _invert(skyToPixel, np.asarray(x, float), np.asarray(y, float), *boresight)

    currentVisit, currentKey = _visitKeys(np.array([midpointMjdTai]))
    visit = int(currentVisit[0]) if visit is None else int(visit)
    currentKey = int(currentKey[0])

    # Who is who: solar-system sources last, new objects among the rest.
    nSso = round(fractionSolarSystem * nSources)
    if fillAllFields:
        nSso = max(nSso, 1)
    nObj = nSources - nSso
    isNew = rng.random(nObj) < fractionNewObjects
    if historyDepth == 0:
        isNew[:] = True
    depth = np.where(isNew, 0, rng.integers(1, historyDepth + 1, nObj) if varyHistory else historyDepth)

    # True positions of this visit's sources on the detector.
    xTrue = rng.uniform(edgeMargin, width - 1 - edgeMargin, nSources)
    yTrue = rng.uniform(edgeMargin, height - 1 - edgeMargin, nSources)
    if edgeMargin == 0:
        nearEdge = rng.random(nSources) < 0.03
        side = rng.integers(0, 4, nSources)
        inset = rng.uniform(0.5, 15, nSources)
        xTrue = np.where(nearEdge & (side == 0), inset, xTrue)
        xTrue = np.where(nearEdge & (side == 1), width - 1 - inset, xTrue)
        yTrue = np.where(nearEdge & (side == 2), inset, yTrue)
        yTrue = np.where(nearEdge & (side == 3), height - 1 - inset, yTrue)
    raTrue, decTrue = pixelToSky(xTrue, yTrue)

    # Objects: kind (variable / transient / fading), amplitude, template.
    kind = rng.choice(3, nObj, p=[0.85 - fractionNegative, 0.15, fractionNegative])
    sigmaRef = _skyNoise(np.full(nObj, bandIndex), 1.0)
    amplitude = sigmaRef * 5.5 * (1 + rng.pareto(1.6, nObj))
    templateMag = np.where(kind == 1, rng.uniform(23.5, 27.0, nObj), rng.uniform(16.5, 23.0, nObj))
    templateFlux = 10 ** ((_AB_NJY - templateMag) / 2.5)
    templateFlux = np.where(kind == 2, np.maximum(templateFlux, 2.5 * amplitude), templateFlux)
    colour = np.exp(rng.normal(0, 0.3, (nObj, len(LSST_BANDS))))
    colour[:, bandIndex] = 1.0

    def diffFlux(obj, bands, size):
        """Difference flux of objects' detections: sign by kind, scattered."""
        sign = np.where(kind[obj] == 0, rng.choice([-1.0, 1.0], size), np.where(kind[obj] == 1, 1.0, -1.0))
        return sign * amplitude[obj] * colour[obj, bands] * np.exp(rng.normal(0, 0.35, size))

    # -- history: distinct earlier nights, same time of night +- 2 h.
    nights, valid = _nightsBack(rng, nObj, depth, 0, _HISTORY_NIGHTS)
    hObj = np.nonzero(valid)[0]
    hNight = nights[valid]
    nHist = len(hObj)
    hMjd = midpointMjdTai - (_HISTORY_NIGHTS - hNight) + np.clip(rng.normal(0, 0.04, nHist), -0.09, 0.09)
    hBand = rng.choice(len(LSST_BANDS), nHist, p=_BAND_WEIGHTS)
    hVisit, hKey = _visitKeys(hMjd)
    hDetector = np.where(rng.random(nHist) < 0.7, detector, rng.integers(0, _N_DETECTORS, nHist))
    hSeeing = np.exp(rng.normal(0, 0.2, nHist))
    hId = _packId(hKey, hDetector, hObj)
    # The first history source founded each known object.
    firstRow = np.zeros(nObj, np.int64)
    founders, founderRows = np.unique(hObj, return_index=True)
    firstRow[founders] = founderRows

    objSourceRow = np.arange(nObj)  # this visit's sources: objects first
    newIds = _packId(currentKey, detector, np.arange(nSources))
    diaObjectId = np.where(isNew, newIds[objSourceRow], hId[firstRow] if nHist else 0)

    # History positions: scattered around the truth; x/y in a dithered frame.
    hSeeingPix = _SEEING_FWHM * hSeeing / 2.3548 / _PIXEL_SCALE
    hOffset = rng.normal(0, 1, (2, nHist)) * hSeeingPix * 0.15 * _PIXEL_SCALE / 3600.0
    hDec = decTrue[hObj] + hOffset[1]
    hRa = (raTrue[hObj] + hOffset[0] / np.cos(np.radians(hDec))) % 360.0
    hX = (xTrue[hObj] + rng.uniform(-400, 400, nHist)) % width
    hY = (yTrue[hObj] + rng.uniform(-400, 400, nHist)) % height

    history, historyNulls = _sourceColumns(
        rng, n=nHist, diaSourceId=hId, diaObjectId=diaObjectId[hObj], visit=hVisit, detector=hDetector,
        band=hBand, mjd=hMjd, ra=hRa, dec=hDec, x=hX, y=hY, flux=diffFlux(hObj, hBand, nHist),
        templateFlux=templateFlux[hObj] * colour[hObj, hBand], seeing=hSeeing, exposureTime=exposureTime,
        bbox=bbox, isSso=np.zeros(nHist, bool))

    # -- this visit's sources.
    seeing = np.exp(rng.normal(0, 0.15))
    nBand = np.full(nSources, bandIndex)
    sso = np.arange(nSources) >= nObj
    flux = np.zeros(nSources)
    srcTemplate = np.zeros(nSources)
    flux[:nObj] = diffFlux(np.arange(nObj), nBand[:nObj], nObj)
    srcTemplate[:nObj] = templateFlux
    posErr = _SEEING_FWHM * seeing / 2.3548 * 0.15 / 3600.0
    dec = decTrue + rng.normal(0, posErr, nSources)
    ra = (raTrue + rng.normal(0, posErr, nSources) / np.cos(np.radians(dec))) % 360.0
    motion = None
    ssColumns = mpcColumns = None
    if nSso:
        ssColumns, mpcColumns, flux[nObj:], ssMotion = _solarSystem(
            rng, midpointMjdTai, ra[nObj:], dec[nObj:], nBand[nObj:], exposureTime)
        motion = (np.concatenate([np.zeros(nObj), ssMotion[0]]), np.concatenate([np.zeros(nObj), ssMotion[1]]))
    x, y = (np.asarray(v, float) for v in skyToPixel(ra, dec))
    newObjectIds = np.concatenate([diaObjectId, np.zeros(nSso, np.int64)])
    sources, sourceNulls = _sourceColumns(
        rng, n=nSources, diaSourceId=newIds, diaObjectId=newObjectIds, visit=np.full(nSources, visit),
        detector=np.full(nSources, detector), band=nBand, mjd=np.full(nSources, midpointMjdTai), ra=ra,
        dec=dec, x=x, y=y, flux=flux, templateFlux=srcTemplate, seeing=np.full(nSources, seeing),
        exposureTime=exposureTime, bbox=bbox, isSso=sso, motion=motion)
    # Every source of this visit was processed together.
    sources["timeProcessedMjdTai"] = np.full(nSources, midpointMjdTai + rng.uniform(60, 120) / 86400.0)

    designations = _randomDesignations(rng, nSso)
    packed = [packProvisional(d) for d in designations]
    ssObjectIds = np.array([designationToSsObjectId(p) for p in packed], dtype=np.int64)
    sources["ssObjectId"][nObj:] = ssObjectIds
    sourceNulls["ssObjectId"] = ~sso

    if fillAllFields:
        _fillAllFields(rng, sources, sourceNulls, midpointMjdTai)

    # -- forced photometry: earlier nights since each object's first
    # detection (known objects), plus this visit for every object.
    firstNight = np.where(isNew, _HISTORY_NIGHTS, nights[:, 0] if nights.shape[1] else _HISTORY_NIGHTS)
    fNights, fValid = _nightsBack(rng, nObj, np.where(isNew, 0, max(nForced - 1, 0)), firstNight,
                                  _HISTORY_NIGHTS)
    fObj = np.concatenate([np.nonzero(fValid)[0], np.arange(nObj)])
    nPast = int(fValid.sum())
    nF = len(fObj)
    fMjd = np.concatenate([
        midpointMjdTai - (_HISTORY_NIGHTS - fNights[fValid]) + np.clip(rng.normal(0, 0.04, nPast), -0.09, 0.09),
        np.full(nObj, midpointMjdTai),
    ])
    fBand = np.concatenate([rng.choice(len(LSST_BANDS), nPast, p=_BAND_WEIGHTS), np.full(nObj, bandIndex)])
    fVisit, fKey = _visitKeys(fMjd)
    fVisit[nPast:] = visit
    fKey[nPast:] = currentKey
    fDetector = np.concatenate([np.where(rng.random(nPast) < 0.7, detector,
                                         rng.integers(0, _N_DETECTORS, nPast)), np.full(nObj, detector)])
    fSeeing = np.exp(rng.normal(0, 0.2, nF))
    fTrue = diffFlux(fObj, fBand, nF) * rng.uniform(0.0, 1.1, nF)
    fTemplate = templateFlux[fObj] * colour[fObj, fBand]
    fErr, fSciErr, _ = _fluxErrors(fBand, fSeeing, fTrue, fTemplate, rng)

    objCols = _objectSummary(
        nObj,
        np.concatenate([hObj, np.arange(nObj)]),
        np.concatenate([hBand, nBand[:nObj]]),
        np.concatenate([hMjd, np.full(nObj, midpointMjdTai)]),
        np.concatenate([history["psfFlux"], sources["psfFlux"][:nObj]]),
        np.concatenate([history["psfFluxErr"], sources["psfFluxErr"][:nObj]]),
        np.concatenate([history["scienceFlux"], sources["scienceFlux"][:nObj]]),
        np.concatenate([history["scienceFluxErr"], sources["scienceFluxErr"][:nObj]]),
        np.concatenate([history["ra"], sources["ra"][:nObj]]),
        np.concatenate([history["dec"], sources["dec"][:nObj]]),
        np.concatenate([history["raErr"], sources["raErr"][:nObj]]),
        np.concatenate([history["decErr"], sources["decErr"][:nObj]]),
        fObj, fBand, fTrue + rng.normal(0, 1, nF) * fErr, fErr,
    )
    fPsfFlux = fTrue + rng.normal(0, 1, nF) * fErr
    forced = {
        "diaForcedSourceId": _packId(fKey, fDetector, fObj),
        "diaObjectId": diaObjectId[fObj],
        "ra": objCols["ra"][fObj],
        "dec": objCols["dec"][fObj],
        "visit": fVisit,
        "detector": fDetector,
        "psfFlux": fPsfFlux,
        "psfFluxErr": fErr,
        "midpointMjdTai": fMjd,
        "scienceFlux": fTemplate + fTrue + rng.normal(0, 1, nF) * fSciErr,
        "scienceFluxErr": fSciErr,
        "band": np.asarray(LSST_BANDS)[fBand].astype(object),
        "timeProcessedMjdTai": fMjd + rng.uniform(60, 180, nF) / 86400.0,
    }
    objCols.update(
        diaObjectId=diaObjectId,
        validityStartMjdTai=np.full(nObj, midpointMjdTai),
        pixelId=np.zeros(nObj, np.int64),
    )

    diaSourceCat = _frame("DiaSource", sources, nSources, sourceNulls)
    diaSourceCat = diaSourceCat.set_index(_SOURCE_INDEX, drop=False)
    diaSrcHistory = _frame("DiaSource", history, nHist, historyNulls).set_index(_SOURCE_INDEX, drop=False)
    diaObjectCat = _frame("DiaObject", objCols, nObj).set_index("diaObjectId", drop=False)
    diaForcedSources = _frame("DiaForcedSource", forced, nF).set_index(
        ["diaObjectId", "diaForcedSourceId"], drop=False)

    ssSrc = None
    if nSso:
        ssSrc = _ssSrcFrame(rng, newIds[nObj:], ssObjectIds, designations, packed, ssColumns, mpcColumns,
                            fractionMissingDesignations)
    return VisitCatalogs(
        diaSourceCat=diaSourceCat,
        diaObjectCat=diaObjectCat,
        diaSrcHistory=diaSrcHistory,
        diaForcedSources=diaForcedSources,
        ssSrc=ssSrc,
        visit=visit,
        detector=detector,
        band=band,
        midpointMjdTai=midpointMjdTai,
        exposureTime=exposureTime,
        bbox=(width, height),
        skyToPixel=skyToPixel,
        templateFlux=srcTemplate,
    )


def _fillAllFields(rng, sources, nulls, mjd):
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
    for name, value in (("trailFlux", sources["apFlux"][row]), ("trailFluxErr", psfErr[row] * 1.2),
                        ("trailRa", sources["ra"][row]), ("trailRaErr", sources["raErr"][row] * 1.3),
                        ("trailDec", sources["dec"][row]), ("trailDecErr", sources["decErr"][row] * 1.3),
                        ("trailLength", rng.uniform(0.3, 2.0)), ("trailLengthErr", 0.1),
                        ("trailAngle", rng.uniform(-180, 180)), ("trailAngleErr", 5.0),
                        ("trailChi2", sources["psfChi2"][row])):
        sources[name][row] = value
    sources["trailNdata"][row] = sources["psfNdata"][row]
    nulls["trailAlgorithm"][row] = False
    sources["parentDiaSourceId"][2] = sources["diaSourceId"][0]
    nulls["parentDiaSourceId"][2] = False
    withdrawn = np.full(n, np.nan)
    withdrawn[-1] = mjd + 0.5
    sources["timeWithdrawnMjdTai"] = withdrawn


def _ssSrcFrame(rng, diaSourceIds, ssObjectIds, designations, packed, ssColumns, mpcColumns,
                fractionMissing):
    """ssSrc: SSSource columns (APDB dtypes) plus MPCORB_ mpc_orbits columns."""
    n = len(diaSourceIds)
    data = dict(ssColumns, diaSourceId=diaSourceIds, ssObjectId=ssObjectIds,
                designation=np.array(designations, dtype=object))
    frame = _frame("SSSource", data, n)
    missing = rng.random(n) < fractionMissing
    mpc = dict(mpcColumns)
    mpc["designation"] = np.array(designations, dtype=object)
    if fractionMissing < 1:
        mpc["packed_primary_provisional_designation"] = np.where(missing, None, np.array(packed, dtype=object))
        mpc["unpacked_primary_provisional_designation"] = np.where(
            missing, None, np.array(designations, dtype=object))
    mpc["mpc_orb_jsonb"] = np.array(
        [json.dumps({"designation_data": {"unpacked_primary_provisional_designation": d},
                     "epoch_data": {"timeform": "MJD", "timesystem": "TT", "epoch": float(ep)},
                     "COM": {"coefficient_names": ["q", "e", "i", "node", "argperi", "peri_time"],
                             "coefficient_values": [float(q), float(e), float(i), float(nd), float(w),
                                                    float(tp)]}})
         for d, ep, q, e, i, nd, w, tp in zip(
            designations, mpc["epoch_mjd"], mpc["q"], mpc["e"], mpc["i"], mpc["node"], mpc["argperi"],
            mpc["peri_time"])], dtype=object)
    integerColumns = ("orbit_type_int", "u_param", "nopp", "nobs_total", "nobs_total_sel")
    extra = {}
    for name in _MPC_ORBITS_FIELDS:
        if name not in mpc:
            extra["MPCORB_" + name] = np.full(n, np.nan)  # non-gravitational terms: none fitted
        elif name == "id":
            extra["MPCORB_id"] = np.asarray(mpc[name], np.int32)
        elif name in integerColumns:
            extra["MPCORB_" + name] = pd.array(np.asarray(mpc[name], np.int64), dtype="Int32")
        else:
            extra["MPCORB_" + name] = mpc[name]
    return pd.concat([frame, pd.DataFrame(extra)], axis=1)


# Field order of lsst.v11_1.mpc_orbits.
_MPC_ORBITS_FIELDS = (
    "id", "designation", "packed_primary_provisional_designation", "unpacked_primary_provisional_designation",
    "mpc_orb_jsonb", "created_at", "updated_at", "orbit_type_int", "u_param", "nopp", "arc_length_total",
    "arc_length_sel", "nobs_total", "nobs_total_sel", "a", "q", "e", "i", "node", "argperi", "peri_time",
    "yarkovsky", "srp", "a1", "a2", "a3", "dt", "mean_anomaly", "period", "mean_motion", "a_unc", "q_unc",
    "e_unc", "i_unc", "node_unc", "argperi_unc", "peri_time_unc", "yarkovsky_unc", "srp_unc", "a1_unc",
    "a2_unc", "a3_unc", "dt_unc", "mean_anomaly_unc", "period_unc", "mean_motion_unc", "epoch_mjd", "h",
    "g", "not_normalized_rms", "normalized_rms", "earth_moid", "fitting_datetime",
)


# --------------------------------------------------------------------------
# A real APDB


def writeApdb(catalogs: VisitCatalogs, path: str):
    """Create a SQLite APDB and store a simulated visit in it.

    The DiaObjects, this visit's and the earlier DiaSources and all forced
    sources are stored in one ``Apdb.store`` call at the visit time.

    Parameters
    ----------
    catalogs : `VisitCatalogs`
        From `makeVisitCatalogs`.
    path : `str`
        SQLite file to create (or a full SQLAlchemy URL).

    Returns
    -------
    apdb : `lsst.dax.apdb.Apdb`
    """
    import astropy.time

    from lsst.dax.apdb import Apdb
    from lsst.dax.apdb.sql import ApdbSql

    url = path if "://" in str(path) else f"sqlite:///{path}"
    apdb = Apdb.from_config(ApdbSql.init_database(db_url=url))
    visitTime = astropy.time.Time(catalogs.midpointMjdTai, format="mjd", scale="tai")
    sources = pd.concat([catalogs.diaSrcHistory, catalogs.diaSourceCat], ignore_index=True)
    apdb.store(visitTime, catalogs.diaObjectCat.reset_index(drop=True), sources,
               catalogs.diaForcedSources.reset_index(drop=True))
    return apdb


def readApdb(apdb, catalogs: VisitCatalogs):
    """Read a visit's catalogs back with the APDB's own queries.

    As LoadDiaCatalogsTask: DiaObjects in a region around the visit's
    DiaObjects, their DiaSources and forced sources of the last 12 months,
    indexed as the pipeline indexes them (``drop=False``), dtypes as the
    APDB returns them.

    Parameters
    ----------
    apdb : `lsst.dax.apdb.Apdb`
        From `writeApdb`.
    catalogs : `VisitCatalogs`
        The stored visit (for its time and footprint).

    Returns
    -------
    result : `lsst.pipe.base.Struct`
        ``diaObjects``, ``diaSources``, ``diaForcedSources``.
    """
    import astropy.time

    from lsst import sphgeom
    from lsst.pipe.base import Struct

    objects = catalogs.diaObjectCat
    vectors = _unitVectors(objects["ra"].to_numpy(float), objects["dec"].to_numpy(float))
    centre = vectors.mean(axis=0)
    centre /= np.linalg.norm(centre)
    radius = np.degrees(np.arccos(np.clip(vectors @ centre, -1, 1))).max(initial=0) + 10 / 3600
    region = sphgeom.Circle(sphgeom.UnitVector3d(*centre), sphgeom.Angle.fromDegrees(radius))
    visitTime = astropy.time.Time(catalogs.midpointMjdTai, format="mjd", scale="tai")
    diaObjects = apdb.getDiaObjects(region).set_index("diaObjectId", drop=False)
    ids = diaObjects["diaObjectId"].to_numpy(np.int64)
    diaSources = apdb.getDiaSources(region, ids, visitTime).set_index(_SOURCE_INDEX, drop=False)
    diaForcedSources = apdb.getDiaForcedSources(region, ids, visitTime).set_index(
        ["diaObjectId", "diaForcedSourceId"], drop=False)
    return Struct(diaObjects=diaObjects, diaSources=diaSources, diaForcedSources=diaForcedSources)


# --------------------------------------------------------------------------
# Exposures

# LSSTCam: rafts in detector-id order (corner rafts hold no science CCDs)
# and the physical filter of each band.
_RAFTS = ("R01", "R02", "R03", "R10", "R11", "R12", "R13", "R14", "R20", "R21", "R22", "R23", "R24",
          "R30", "R31", "R32", "R33", "R34", "R41", "R42", "R43")
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
    `lsst.ap.alerts.image`.  Imported lazily: catalogs need none of it.
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
        from ..image import DateTime, Detector, GaussianPsf, Observatory

        def makeDetector(detector, bbox):
            return Detector(_detectorName(detector), int(detector), bbox)

    return dataclasses.make_dataclass(
        "ImageApi", ["geom", "afwImage", "afwGeom", "DateTime", "GaussianPsf", "Observatory", "makeDetector"]
    )(geom, afwImage, afwGeom, DateTime, GaussianPsf, Observatory, makeDetector)


def makeVisitWcs(*, width: int, height: int, boresight=(53.16, -28.10), rotAngle: float = 0.0,
                 pixelScale: float = _PIXEL_SCALE, sip: bool = True, xy0=(0, 0), seed: int = 0):
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
    cd = api.afwGeom.makeCdMatrix(scale=pixelScale * geom.arcseconds, orientation=rotAngle * geom.degrees,
                                  flipX=True)
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
    return (rng.uniform(x0 - 10, x0 + width + 10, count), rng.uniform(y0 - 10, y0 + height + 10, count),
            10 ** ((_AB_NJY - mag) / 2.5))


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
    midpointMjdTai: float = _DEFAULT_MJD,
    exposureTime: float = 30.0,
    boresight: tuple[float, float] = (53.16, -28.10),
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
    geom, afwImage = api.geom, api.afwImage
    rng = np.random.default_rng(seed)
    bandIndex = LSST_BANDS.index(band)
    if visit is None:
        visit = int(_visitKeys(np.array([midpointMjdTai]))[0][0])
    if wcs is None:
        wcs = makeVisitWcs(width=width, height=height, boresight=boresight, rotAngle=boresightRotAngle,
                           sip=sip, xy0=xy0, seed=seed)
    templateSigma = 0.85 * psfSigma if templatePsfSigma is None else templatePsfSigma
    if sources is None:
        sources = {"x": np.zeros(0), "y": np.zeros(0), "flux": np.zeros(0)}
    sx = np.asarray(sources["x"], float)
    sy = np.asarray(sources["y"], float)
    diffFlux = np.nan_to_num(np.asarray(sources["flux"], float))
    templateFlux = (np.clip(np.nan_to_num(np.asarray(sources["templateFlux"], float)), 0, None)
                    if "templateFlux" in sources else np.zeros(len(sx)))

    # Calibrations (nJy per count): science from a realistic zero point,
    # difference close to it, template coadds in nJy.  Distinct on purpose.
    calexpCalib = rng.uniform(0.55, 0.75)
    diffCalib = calexpCalib * rng.uniform(1.01, 1.04)
    templateCalib = 1.0
    m5 = _DEPTH5[bandIndex] if depth is None else depth
    # Per-pixel sky noise giving the 5-sigma depth with PSF photometry.
    skyNjy = 10 ** ((_AB_NJY - m5) / 2.5) / 5.0 / (np.sqrt(4 * np.pi) * psfSigma)

    bbox = geom.Box2I(geom.Point2I(*xy0), geom.Extent2I(width, height))
    shape = (height, width)
    nStars = int(width * height * 3e-4) if nStars is None else nStars
    starX, starY, starFlux = _fieldStars(rng, nStars, (xy0[0], xy0[1], width, height))

    def noisy(modelCounts, skySigma, gain=_GAIN):
        variance = skySigma**2 + np.clip(modelCounts, 0, None) / gain
        return modelCounts + rng.normal(0, 1, shape) * np.sqrt(variance), variance

    # Science image.
    sciModel = _render(shape, xy0, np.concatenate([starX, sx]), np.concatenate([starY, sy]),
                       np.concatenate([starFlux, templateFlux + diffFlux]) / calexpCalib, psfSigma)
    sciSky = skyNjy / calexpCalib
    sciImage, sciVar = noisy(sciModel, sciSky)
    # Template: covers the science box shifted by templateOffset.
    tx0, ty0 = xy0[0] + templateOffset[0], xy0[1] + templateOffset[1]
    tmplModel = _render(shape, (tx0, ty0), np.concatenate([starX, sx]), np.concatenate([starY, sy]),
                        np.concatenate([starFlux, templateFlux]) / templateCalib, templateSigma)
    tmplSky = 0.5 * skyNjy / templateCalib
    tmplImage, tmplVar = noisy(tmplModel, tmplSky, gain=_GAIN * 8)
    # Difference: transients, plus residuals where bright stars subtract
    # imperfectly (a 2% flux mismatch and a 0.05-pixel shift).
    bright = starFlux > 3e5
    residual = (_render(shape, xy0, starX[bright] + 0.05, starY[bright], starFlux[bright] * 1.02, psfSigma)
                - _render(shape, xy0, starX[bright], starY[bright], starFlux[bright], psfSigma)) / diffCalib
    diffModel = _render(shape, xy0, sx, sy, diffFlux / diffCalib, psfSigma) + residual
    diffSky = np.sqrt(sciSky**2 + (tmplSky * templateCalib / calexpCalib) ** 2) * calexpCalib / diffCalib
    diffVar = diffSky**2 + np.clip(sciModel, 0, None) / _GAIN * (calexpCalib / diffCalib) ** 2
    diffImage = diffModel + rng.normal(0, 1, shape) * np.sqrt(diffVar)

    # Masks.
    planes = afwImage.Mask.getPlaneBitMask
    sciMask = np.zeros(shape, np.int32)
    saturated = sciModel > _SATURATION
    sciMask[saturated] |= planes(["SAT", "INTRP"])
    sciImage[saturated] = _SATURATION  # as ISR leaves interpolated cores, at the level
    badColumn = rng.integers(0, width)
    sciMask[:, badColumn] |= planes(["BAD", "INTRP"])
    sciImage[:, badColumn] = rng.normal(0, sciSky, height)
    nCr = max(1, int(width * height * 2e-6))
    crRows = np.clip(rng.integers(0, height, nCr)[:, None] + rng.integers(-1, 2, (nCr, 4)), 0, height - 1)
    crCols = np.clip(rng.integers(0, width, nCr)[:, None] + rng.integers(-1, 2, (nCr, 4)), 0, width - 1)
    sciMask[crRows, crCols] |= planes(["CR", "INTRP"])
    positive, _ = _detected(sciModel, sciSky)
    sciMask[positive] |= planes("DETECTED")

    tmplMask = np.zeros(shape, np.int32)
    tmplMask[tmplModel > _SATURATION * 20] |= planes("SAT")
    tmplPositive, _ = _detected(tmplModel, tmplSky)
    tmplMask[tmplPositive] |= planes("DETECTED")

    diffMask = sciMask & planes(["SAT", "BAD", "CR", "INTRP"])
    edge = int(np.ceil(8 * psfSigma))  # half the PSF-matching kernel
    diffMask[:edge] |= planes("EDGE")
    diffMask[-edge:] |= planes("EDGE")
    diffMask[:, :edge] |= planes("EDGE")
    diffMask[:, -edge:] |= planes("EDGE")
    positive, negative = _detected(diffModel, diffSky)
    diffMask[positive] |= planes("DETECTED")
    diffMask[negative] |= planes("DETECTED_NEGATIVE")
    # Science pixels the template does not cover: no difference there.
    rows = np.arange(height)[:, None] + xy0[1] - ty0
    cols = np.arange(width)[None, :] + xy0[0] - tx0
    uncovered = (rows < 0) | (rows >= height) | (cols < 0) | (cols >= width)
    diffMask[uncovered] |= planes("NO_DATA")
    diffImage[uncovered] = np.nan
    diffVar[uncovered] = np.nan

    detectorObj = api.makeDetector(detector, bbox)
    visitInfo = afwImage.VisitInfo(
        exposureTime=exposureTime,
        darkTime=exposureTime + 0.5,
        date=api.DateTime(midpointMjdTai, api.DateTime.MJD, api.DateTime.TAI),
        boresightRaDec=geom.SpherePoint(boresight[0], boresight[1], geom.degrees),
        boresightRotAngle=boresightRotAngle * geom.degrees,
        rotType=afwImage.RotType.SKY,
        observatory=api.Observatory(_RUBIN_SITE[0] * geom.degrees, _RUBIN_SITE[1] * geom.degrees,
                                    _RUBIN_SITE[2]),
        instrumentLabel="LSSTCam",
        id=visit,
        observationType="science",
        scienceProgram="BLOCK-365",
        observationReason=observationReason,
        object=targetName,
    )
    filterLabel = afwImage.FilterLabel(band=band, physical=_PHYSICAL_FILTERS[band])
    psfSize = 2 * int(np.ceil(5 * psfSigma)) + 1

    def exposure(origin, pixels, variance, mask, calib, sigma):
        exp = afwImage.ExposureF(geom.Box2I(geom.Point2I(*origin), geom.Extent2I(width, height)))
        exp.image.array[:] = pixels
        exp.variance.array[:] = variance
        exp.mask.array[:] = mask
        exp.setWcs(wcs)
        exp.setPhotoCalib(afwImage.PhotoCalib(calib, calib * 0.005))
        exp.setPsf(api.GaussianPsf(psfSize, psfSize, sigma))
        exp.setFilter(filterLabel)
        exp.setDetector(detectorObj)
        exp.info.setVisitInfo(visitInfo)
        exp.info.id = visit * 1000 + detector
        return exp

    calexp = exposure(xy0, sciImage, sciVar, sciMask, calexpCalib, psfSigma)
    template = exposure((tx0, ty0), tmplImage, tmplVar, tmplMask, templateCalib, templateSigma)
    diffIm = exposure(xy0, diffImage, diffVar, diffMask, diffCalib, psfSigma)
    return diffIm, calexp, template


def makeSimulatedVisit(nSources: int = 50, historyDepth: int = 10, *, seed: int = 0, size=400,
                       boresight: tuple[float, float] = (53.16, -28.10), boresightRotAngle: float = 0.0,
                       sip: bool = True, exposureKwargs: dict | None = None, **catalogKwargs):
    """Everything `PackageAlertsTask.run` needs for one simulated visit.

    The catalogs' x/y are the exposures' WCS applied to their ra/dec, and
    the images show the DiaSources at those positions with their measured
    difference fluxes and true template fluxes.

    Parameters
    ----------
    nSources, historyDepth, seed
        As `makeVisitCatalogs`.
    size : `int` or `tuple` [`int`, `int`]
        Detector (width, height) in pixels.
    boresight, boresightRotAngle, sip
        Pointing, rotation and distortion of the WCS (`makeVisitWcs`).
    exposureKwargs : `dict`, optional
        More `makeVisitExposures` arguments (``psfSigma``, ``nStars``,
        ``templateOffset``...).
    **catalogKwargs
        More `makeVisitCatalogs` arguments (``fractionSolarSystem``,
        ``band``, ``midpointMjdTai``, ``fillAllFields``...).

    Returns
    -------
    visit : `lsst.pipe.base.Struct`
        ``diaSourceCat``, ``diaObjectCat``, ``diaSrcHistory``,
        ``diaForcedSources``, ``diffIm``, ``calexp``, ``template``,
        ``ssSrc`` (the `PackageAlertsTask.run` arguments) and
        ``catalogs`` (the `VisitCatalogs`).
    """
    from lsst.pipe.base import Struct

    width, height = (size, size) if np.isscalar(size) else size
    wcs = makeVisitWcs(width=width, height=height, boresight=boresight, rotAngle=boresightRotAngle, sip=sip,
                       seed=seed)
    catalogs = makeVisitCatalogs(nSources, historyDepth, seed=seed, wcs=wcs, bbox=(width, height),
                                 boresight=boresight, **catalogKwargs)
    src = catalogs.diaSourceCat
    measured = src["psfFlux"].to_numpy(float)
    flux = np.where(np.isfinite(measured), measured, src["apFlux"].to_numpy(float))
    diffIm, calexp, template = makeVisitExposures(
        seed=seed, width=width, height=height, visit=catalogs.visit, detector=catalogs.detector,
        band=catalogs.band, midpointMjdTai=catalogs.midpointMjdTai, exposureTime=catalogs.exposureTime,
        boresight=boresight, boresightRotAngle=boresightRotAngle, wcs=wcs,
        sources={"x": src["x"].to_numpy(float), "y": src["y"].to_numpy(float), "flux": flux,
                 "templateFlux": catalogs.templateFlux},
        **(exposureKwargs or {}))
    return Struct(
        diaSourceCat=catalogs.diaSourceCat,
        diaObjectCat=catalogs.diaObjectCat,
        diaSrcHistory=catalogs.diaSrcHistory,
        diaForcedSources=catalogs.diaForcedSources,
        diffIm=diffIm,
        calexp=calexp,
        template=template,
        ssSrc=catalogs.ssSrc,
        catalogs=catalogs,
    )
