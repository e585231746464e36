"""A reference alert packager that follows upstream's algorithm.

`ReferencePackager.run` packages one visit/detector the way
``lsst.ap.association.PackageAlertsTask`` does, with the same libraries, so
`bench_packaging.py` can time ``lsst.ap.alerts.PackageAlertsTask`` against
it on the same inputs:

- catalogs: the columns the schema needs are patched in, then for every row
  of ``diaSourceCat.iterrows()`` (rows cast to ``object``) the DiaObject,
  history and forced sources are looked up with ``.loc`` and turned into
  dicts with ``Series.to_dict()`` / ``DataFrame.to_dict("records")``;
- cutouts, three per source, each: ``exposure.getCutout(center, extent)``
  (a new Exposure), ``psf.computeKernelImage(center).array``,
  ``photoCalib.calibrateImage(cutout.getMaskedImage())``, a new astropy
  ``wcs.WCS`` whose CD matrix is ``makeLocalTransformMatrix`` (the task's
  method), and a ``CCDData``;
- FITS: ``CCDData.to_hdu()`` + ``HDUList.writeto(BytesIO)``, which is what
  ``CCDData.write(stream, format="fits")`` does, plus the ``MASK`` HDU of
  afw mask planes the task writes (upstream drops the planes; writing them
  here keeps the alerts' content identical);
- Avro: ``fastavro.schemaless_writer`` per alert (what upstream does for
  Kafka) and ``Schema.store_alerts`` = ``fastavro.writer`` for the file.

The content follows the task's conventions wherever upstream leaves a
choice (which fields are null, ``CUTMINX``/``CUTMINY``, ``ROTPA``, mask
plane keys, solar-system ``ssSource``/``mpc_orbits``), so the two produce
the same alerts; `compareAlerts` checks that.  Values are made acceptable to
fastavro with the minimum upstream's frames need: pandas ``NA``/``NaT`` →
`None`, a NaN in a non-float nullable field → `None`, numpy booleans →
`bool`.

This is benchmark code: it runs on the package's afw model (or on afw) and
is not part of the package.
"""

from __future__ import annotations

__all__ = ["ReferencePackager", "compareAlerts", "readCutout"]

import io
import math
import os
import time

import astropy.units as u
import fastavro
import numpy as np
import pandas as pd
from astropy import wcs as astropyWcs
from astropy.io import fits
from astropy.nddata import CCDData, VarianceUncertainty
from lsst.pipe.base import Struct

from lsst.ap.alerts._afw import InvalidParameterError, geom
from lsst.ap.alerts.catalogs.designations import (
    DesignationError,
    ssObjectIdToPackedDesignation,
    unpackProvisional,
)

_MPCORB = "MPCORB_"
_CUTOUTS = ("cutoutDifference", "cutoutScience", "cutoutTemplate")
_NUMERIC_OR_STRING = {"long", "int", "boolean", "string", "bytes"}


def _recordInfo(recordSchema):
    """Field names, nullable non-float fields (NaN there is null) of a record."""
    names, nanIsNull = [], set()
    for field in recordSchema["fields"]:
        names.append(field["name"])
        avroType = field["type"]
        if isinstance(avroType, list):
            branch = next(b for b in avroType if b != "null")
            primitive = branch["type"] if isinstance(branch, dict) else branch
            if primitive in _NUMERIC_OR_STRING:
                nanIsNull.add(field["name"])
    return names, nanIsNull


class _Cleaner:
    """Make a ``to_dict`` row acceptable to fastavro (see module docstring)."""

    def __init__(self, recordSchema):
        self.names, self.nanIsNull = _recordInfo(recordSchema)

    def __call__(self, row: dict) -> dict:
        nanIsNull = self.nanIsNull
        out = {}
        for key, value in row.items():
            missing = value is None or value is pd.NA or value is pd.NaT
            if missing or (isinstance(value, float) and math.isnan(value) and key in nanIsNull):
                value = None
            elif isinstance(value, np.bool_):
                value = bool(value)
            out[key] = value
        return out


class ReferencePackager:
    """Upstream's packaging loop, using a `PackageAlertsTask` for config/schema.

    Parameters
    ----------
    task : `lsst.ap.alerts.PackageAlertsTask`
        Supplies the config (cutout sizes), the schema, and
        ``makeLocalTransformMatrix`` / ``createDiaSourceExtent``.
    """

    def __init__(self, task):
        self.task = task
        self.config = task.config
        self.packetSchema = task.alertSchema  # lsst.alert.packet.Schema
        records = task.schema.records
        self.clean = {name: _Cleaner(records[name])
                      for name in ("diaSource", "diaObject", "diaForcedSource", "ssSource", "mpc_orbits")}

    # -- catalogs -----------------------------------------------------------

    def _patchDiaSources(self, diaSources):
        """Add the schema's diaSource columns the catalog lacks (as null).

        Upstream adds columns in place; this works on a shallow copy so the
        caller's frame is left alone.
        """
        missing = [n for n in self.clean["diaSource"].names if n not in diaSources.columns]
        if not missing:
            return diaSources
        diaSources = diaSources.copy(deep=False)
        for name in missing:
            diaSources[name] = None
        return diaSources

    def _mpcOrbit(self, ssRow: dict):
        orbit = {k[len(_MPCORB):]: v for k, v in ssRow.items() if k.startswith(_MPCORB)}
        if not orbit:
            return None
        packed = orbit.get("packed_primary_provisional_designation")
        if not isinstance(packed, str):
            try:
                packed = ssObjectIdToPackedDesignation(int(ssRow["ssObjectId"]))
            except (DesignationError, TypeError, ValueError, KeyError):
                packed = None
            orbit["packed_primary_provisional_designation"] = packed
        if not isinstance(orbit.get("unpacked_primary_provisional_designation"), str):
            orbit["unpacked_primary_provisional_designation"] = (
                None if packed is None else unpackProvisional(packed))
        if not isinstance(orbit.get("designation"), str):
            orbit["designation"] = orbit["unpacked_primary_provisional_designation"]
        return self.clean["mpc_orbits"](orbit)

    # -- cutouts ------------------------------------------------------------

    def createCcdDataCutout(self, image, skyCenter, pixelCenter, extent, photoCalib, srcId, rotPa,
                            maskPlanes):
        """Upstream's cutout: an Exposure cutout, calibrated, as a `CCDData`."""
        try:
            cutout = image.getCutout(pixelCenter, extent)
        except InvalidParameterError:
            return None
        psf = image.getPsf()
        psfArray = None if psf is None else psf.computeKernelImage(pixelCenter).array
        calibCutout = photoCalib.calibrateImage(cutout.getMaskedImage())
        wcs = cutout.getWcs()
        center = wcs.skyToPixel(skyCenter)
        origin = cutout.getBBox().getMin()
        cutoutWcs = astropyWcs.WCS(naxis=2)
        cutoutWcs.array_shape = (cutout.getBBox().getHeight(), cutout.getBBox().getWidth())
        cutoutWcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        cutoutWcs.wcs.cunit = ["deg", "deg"]
        cutoutWcs.wcs.crpix = [center.getX() - origin.getX() + 1, center.getY() - origin.getY() + 1]
        cutoutWcs.wcs.crval = [skyCenter.getRa().asDegrees(), skyCenter.getDec().asDegrees()]
        cutoutWcs.wcs.cd = self.task.makeLocalTransformMatrix(wcs, center, skyCenter)
        # A fits.Header, not a dict: CCDData.to_hdu cannot put a dict's
        # long (HIERARCH) keys with non-string values into a header.
        meta = fits.Header()
        meta["CUTMINX"] = origin.getX() - 1
        meta["CUTMINY"] = origin.getY() - 1
        if rotPa is not None:
            meta["ROTPA"] = rotPa
        for name, bit in maskPlanes.items():
            meta[f"HIERARCH MP_{name}" if len(name) > 5 else f"MP_{name}"] = bit
        return CCDData(
            data=calibCutout.getImage().array,
            uncertainty=VarianceUncertainty(calibCutout.getVariance().array),
            flags=calibCutout.getMask().array,
            wcs=cutoutWcs,
            meta=meta,
            unit=u.nJy,
            psf=psfArray,
        )

    @staticmethod
    def streamCcdDataToBytes(cutout):
        """``CCDData.write(BytesIO, format="fits")`` plus the MASK planes HDU."""
        hdus = cutout.to_hdu(hdu_psf="PSFIMAGE")
        maskHdu = fits.ImageHDU(np.asarray(cutout.flags, dtype=np.int32), name="MASK")
        for key, value in cutout.meta.items():
            if key.startswith("MP_"):
                maskHdu.header[f"HIERARCH {key}" if len(key) > 8 else key] = value
        hdus.append(maskHdu)
        with io.BytesIO() as stream:
            hdus.writeto(stream)
            return stream.getvalue()

    # -- the loop -----------------------------------------------------------

    def run(self, diaSourceCat, diaObjectCat, diaSrcHistory, diaForcedSources, diffIm, calexp, template,
            ssSrc=None, doRunForcedMeasurement=True, forcedSourceHistoryThreshold=0, alertFile=None,
            encodePayloads=True):
        """Package a visit as upstream does.

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``alerts`` (list of dicts), ``payloads`` (schemaless encodings
            or `None`), ``alertFile``, ``timings`` (seconds per stage:
            tables, cutouts, fits, encoding, write).
        """
        timings = dict.fromkeys(("tables", "cutouts", "fits", "encoding", "write"), 0.0)
        clock = time.perf_counter
        t0 = clock()
        clean = self.clean
        diaSourceCat = self._patchDiaSources(diaSourceCat)
        # Rows of an all-numeric frame come out as float64 Series (ids over
        # 2**53 would lose digits); object-cast as upstream's rows are.
        diaObjectCat = diaObjectCat.astype(object)
        ssByDiaSource = None
        if ssSrc is not None and len(ssSrc):
            ssByDiaSource = ssSrc.set_index("diaSourceId", drop=False)
        visitInfo = diffIm.visitInfo
        observationReason = _nullIfEmpty(getattr(visitInfo, "observationReason", None))
        targetName = _nullIfEmpty(getattr(visitInfo, "object", None))
        rotPa = visitInfo.boresightRotAngle.asDegrees()
        rotPa = rotPa if math.isfinite(rotPa) else None
        images = []
        for image in (diffIm, calexp, template):
            if image is None:
                images.append(None)
            else:
                images.append((image, image.getPhotoCalib(),
                               dict(image.getMaskedImage().mask.getMaskPlaneDict())))
        haveForced = diaForcedSources is not None and len(diaForcedSources) > 0
        timings["tables"] += clock() - t0

        alerts = []
        seen = set()
        t = clock()
        for srcIndex, diaSource in diaSourceCat.iterrows():
            srcId = int(diaSource["diaSourceId"])
            ra, dec = float(diaSource["ra"]), float(diaSource["dec"])
            if srcId in seen or not (math.isfinite(ra) and math.isfinite(dec)):
                continue
            seen.add(srcId)
            objId = diaSource["diaObjectId"]
            objId = 0 if objId is None or objId is pd.NA else int(objId)
            diaObject = objSourceHistory = objDiaForcedSources = ssSource = mpcOrbit = None
            if objId != 0:
                try:
                    diaObject = diaObjectCat.loc[objId]
                except KeyError:
                    diaObject = None
                nDiaSources = 0 if diaObject is None else diaObject["nDiaSources"]
                if nDiaSources > 1:
                    try:
                        objSourceHistory = diaSrcHistory.loc[objId].to_dict("records")
                    except KeyError:
                        objSourceHistory = []
                if doRunForcedMeasurement and haveForced and nDiaSources >= forcedSourceHistoryThreshold:
                    try:
                        forced = diaForcedSources.loc[objId]
                    except KeyError:
                        forced = diaForcedSources.iloc[:0]
                    if isinstance(forced, pd.Series):
                        objDiaForcedSources = [forced.to_dict()]
                    else:
                        objDiaForcedSources = forced.to_dict("records")
                else:
                    objDiaForcedSources = []
            elif ssByDiaSource is not None and srcId in ssByDiaSource.index:
                ssRow = ssByDiaSource.loc[srcId]
                ssRow = (ssRow.iloc[0] if isinstance(ssRow, pd.DataFrame) else ssRow).to_dict()
                ssSource = clean["ssSource"](ssRow)
                mpcOrbit = self._mpcOrbit(ssRow)
            alert = {
                "diaSourceId": srcId,
                "observation_reason": observationReason,
                "target_name": targetName,
                "diaSource": clean["diaSource"](diaSource.to_dict()),
                "prvDiaSources": (None if objSourceHistory is None
                                  else [clean["diaSource"](r) for r in objSourceHistory]),
                "prvDiaForcedSources": (None if objDiaForcedSources is None
                                        else [clean["diaForcedSource"](r) for r in objDiaForcedSources]),
                "prvDiaNondetectionLimits": None,
                "diaObject": None if diaObject is None else clean["diaObject"](diaObject.to_dict()),
                "ssSource": ssSource,
                "mpc_orbits": mpcOrbit,
            }
            x, y = float(diaSource["x"]), float(diaSource["y"])
            skyCenter = geom.SpherePoint(ra, dec, geom.degrees)
            t1 = clock()
            timings["tables"] += t1 - t
            if not (math.isfinite(x) and math.isfinite(y)):
                point = diffIm.getWcs().skyToPixel(skyCenter)
                x, y = point.getX(), point.getY()
            pixelCenter = geom.Point2D(x, y)
            extent = self.task.createDiaSourceExtent(int(diaSource["bboxSize"]))
            fitsTime = 0.0
            for name, spec in zip(_CUTOUTS, images):
                if spec is None:
                    alert[name] = None
                    continue
                image, photoCalib, maskPlanes = spec
                ccd = self.createCcdDataCutout(image, skyCenter, pixelCenter, extent, photoCalib, srcId,
                                               rotPa, maskPlanes)
                s = clock()
                alert[name] = None if ccd is None else self.streamCcdDataToBytes(ccd)
                fitsTime += clock() - s
            t = clock()
            timings["cutouts"] += t - t1 - fitsTime
            timings["fits"] += fitsTime
            alerts.append(alert)

        payloads = None
        if encodePayloads:
            t = clock()
            schema = self.packetSchema.definition
            payloads = []
            for alert in alerts:
                stream = io.BytesIO()
                fastavro.schemaless_writer(stream, schema, alert)
                payloads.append(stream.getvalue())
            timings["encoding"] = clock() - t

        if alertFile is not None:
            t = clock()
            with open(alertFile, "wb") as f:
                self.packetSchema.store_alerts(f, alerts)
                f.flush()
                os.fsync(f.fileno())
            timings["write"] = clock() - t
        return Struct(alerts=alerts, payloads=payloads, alertFile=alertFile, timings=timings)


def _nullIfEmpty(value):
    if value is None:
        return None
    value = str(value)
    return value if value.strip() else None


# -- comparison -------------------------------------------------------------


def _sameValue(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def _sameRecord(a, b):
    if a is None or b is None:
        return a is None and b is None
    if a.keys() != b.keys():
        return False
    return all(_sameValue(a[k], b[k]) for k in a)


def _sameRecords(a, b):
    if a is None or b is None:
        return a is None and b is None
    return len(a) == len(b) and all(_sameRecord(x, y) for x, y in zip(a, b))


def readCutout(data: bytes):
    """Read cutout bytes back: the `CCDData` and the MASK HDU's (array, MP_ keys)."""
    ccd = CCDData.read(io.BytesIO(data), format="fits")
    with fits.open(io.BytesIO(data)) as hdus:
        mask = hdus["MASK"]
        planes = {k: v for k, v in mask.header.items() if k.startswith("MP_")}
        maskArray = np.array(mask.data)
    return ccd, maskArray, planes


def _sameCutout(a: bytes | None, b: bytes | None) -> str | None:
    """`None` if two cutouts read back equal, else what differs."""
    if a is None or b is None:
        return None if a is None and b is None else "one cutout is null"
    ca, ma, pa = readCutout(a)
    cb, mb, pb = readCutout(b)
    checks = {
        "data": np.array_equal(ca.data, cb.data, equal_nan=True),
        "uncertainty": type(ca.uncertainty) is type(cb.uncertainty)
        and np.array_equal(ca.uncertainty.array, cb.uncertainty.array, equal_nan=True),
        "unit": ca.unit == cb.unit,
        "psf": (ca.psf is None and cb.psf is None)
        or (ca.psf is not None and cb.psf is not None and np.array_equal(ca.psf, cb.psf)),
        "mask": np.array_equal(ma, mb) and pa == pb,
        "meta": all(ca.meta.get(k) == cb.meta.get(k) for k in ("CUTMINX", "CUTMINY", "ROTPA", "BUNIT")),
        "wcs": np.allclose(ca.wcs.wcs.crpix, cb.wcs.wcs.crpix, rtol=0, atol=1e-9)
        and np.allclose(ca.wcs.wcs.crval, cb.wcs.wcs.crval, rtol=0, atol=1e-12)
        and np.allclose(ca.wcs.pixel_scale_matrix, cb.wcs.pixel_scale_matrix, rtol=1e-12, atol=0)
        and list(ca.wcs.wcs.ctype) == list(cb.wcs.wcs.ctype),
    }
    bad = [k for k, ok in checks.items() if not ok]
    if bad == ["uncertainty"] and type(ca.uncertainty) is type(cb.uncertainty) and np.allclose(
            ca.uncertainty.array, cb.uncertainty.array, rtol=2.0**-21, atol=0, equal_nan=True):
        # PhotoCalib.calibrateImage scales the variance by float32(mean**2),
        # lsst.ap.alerts.cutouts.pixels.calibrate by float32(mean)**2: the results
        # differ in the last bits (up to ~3 ulp; reported, counted apart).
        return "uncertainty within float32 rounding"
    return ", ".join(bad) if bad else None


def compareAlerts(taskAlerts, referenceAlerts, cutoutSample=None, seed=0):
    """Compare decoded alerts of the task and the reference.

    Parameters
    ----------
    taskAlerts, referenceAlerts : sequence of `dict`
        Decoded alerts (both through Avro, so float32 rounding is equal).
    cutoutSample : `int`, optional
        Compare the cutouts of this many randomly chosen alerts (all if
        `None`); reading FITS back is slow.

    Returns
    -------
    problems : `list` [`str`]
        Empty if the alerts agree.
    notes : `list` [`str`]
        Known last-bit differences (see `_sameCutout`).
    """
    problems = []
    if len(taskAlerts) != len(referenceAlerts):
        problems.append(f"alert count: task {len(taskAlerts)}, reference {len(referenceAlerts)}")
    taskIds = [a["diaSourceId"] for a in taskAlerts]
    refIds = [a["diaSourceId"] for a in referenceAlerts]
    if taskIds != refIds:
        problems.append("diaSourceIds differ (or their order)")
        return problems, []
    for a, b in zip(taskAlerts, referenceAlerts):
        for key in ("observation_reason", "target_name"):
            if a.get(key) != b.get(key):
                problems.append(f"{a['diaSourceId']}: {key} {a.get(key)!r} != {b.get(key)!r}")
        for key in ("diaSource", "diaObject", "ssSource", "mpc_orbits"):
            if not _sameRecord(a.get(key), b.get(key)):
                problems.append(f"{a['diaSourceId']}: {key} differs")
        for key in ("prvDiaSources", "prvDiaForcedSources"):
            if not _sameRecords(a.get(key), b.get(key)):
                problems.append(f"{a['diaSourceId']}: {key} differs")
    indices = range(len(taskAlerts))
    if cutoutSample is not None and cutoutSample < len(taskAlerts):
        indices = sorted(np.random.default_rng(seed).choice(len(taskAlerts), cutoutSample, replace=False))
    ulp = 0
    for i in indices:
        for name in _CUTOUTS:
            diff = _sameCutout(taskAlerts[i].get(name), referenceAlerts[i].get(name))
            if diff == "uncertainty within float32 rounding":
                ulp += 1
            elif diff:
                problems.append(f"{taskAlerts[i]['diaSourceId']}: {name}: {diff}")
    notes = []
    if ulp:
        notes.append(f"{ulp} cutouts' variance differ from PhotoCalib.calibrateImage's in the last bits "
                     "(float32(mean)**2 vs float32(mean**2) scale; <= 4 ulp)")
    return problems, notes
