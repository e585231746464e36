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

"""Upstream's alert packaging algorithm, written out as an oracle.

`UpstreamPackager.run` packages one visit/detector the way
``lsst.ap.association.PackageAlertsTask.run`` does, with the same libraries
and none of this package's code (only the afw layer, `lsst.ap.alerts._afw`:
real afw where installed, the package's afw-compatible model otherwise):

- catalogs: for every row of ``diaSourceCat.iterrows()`` the DiaObject is
  looked up with ``.loc``; with ``nDiaSources > 1`` its history
  (``diaSrcHistory.loc``), with forced measurement and ``nDiaSources`` at
  the threshold its forced sources (``diaForcedSources.loc``); each becomes
  ``Series.to_dict()`` / ``DataFrame.to_dict("records")``.  Solar-system
  sources (``diaObjectId`` 0) get the ``ssSrc`` row of their diaSourceId as
  ``ssSource`` and its ``MPCORB_`` columns as ``mpc_orbits``, as the newest
  upstream alerts carry them;
- cutouts, three per source: ``Exposure.getCutout(pixelCenter, extent)``
  (no cutout when the centre is off the image), the PSF's
  ``computeKernelImage`` at the centre (or at its average position with
  ``useAveragePsf``), ``PhotoCalib.calibrateImage``, an astropy ``WCS``
  with CRPIX at the source and CRVAL its sky position, whose CD matrix is
  upstream's ``makeLocalTransformMatrix`` (the Jacobian of pixels -> a
  gnomonic frame tangent at the source, 1 arcsec units, divided by 3600),
  and ``CCDData(..., meta={"cutMinX", "cutMinY"}, unit=nJy).write`` to FITS;
- Avro: ``fastavro.schemaless_writer`` per alert, ``Schema.store_alerts``
  for the file.

Where afw offers no pixel -> sky transform chain (the model), the local
matrix is the same Jacobian taken numerically through astropy's reading of
the image WCS's FITS header.  (AST's ``getJacobian`` of that chain drops
part of the rotation between the image's and the local frame's north, one
off-diagonal element, about 1e-4 of the scale 230 pixels from the
boresight; afw's own ``pixelToSky``/``skyToPixel`` differentiated
numerically agree with astropy.  On real afw the oracle keeps upstream's
number.)  Minimal changes make upstream's values
acceptable to fastavro: pandas ``NA``/``NaT`` become `None`, a NaN in a
nullable non-float field becomes `None`, numpy booleans become `bool`, and
the DiaObject frame is cast to ``object`` before ``.loc`` (a numeric
frame's rows would come out as float64 and round 64-bit ids).  Upstream
writes neither ``CTYPE`` nor ``ROTPA`` and drops the afw mask (``flags``);
the tests state where the package differs on purpose.

Used by ``tests/test_equivalence.py`` (as the oracle) and by
``benchmarks/bench_packaging.py`` (as the reference timed against the task).
"""

from __future__ import annotations

__all__ = ["UpstreamPackager", "recordSchemas"]

import io
import math
import os
import time

import astropy.units as u
import fastavro
import lsst.alert.packet
import numpy as np
import pandas as pd
from astropy import wcs as astropyWcs
from astropy.io import fits
from astropy.nddata import CCDData, VarianceUncertainty
from lsst.pipe.base import Struct

from lsst.ap.alerts._afw import InvalidParameterError, afwGeom, geom

CUTOUTS = ("cutoutDifference", "cutoutScience", "cutoutTemplate")
_MPCORB = "MPCORB_"
_ARCSEC = 1.0 / 3600.0
_NON_FLOAT = {"long", "int", "boolean", "string", "bytes"}


def recordSchemas(definition) -> dict[str, dict]:
    """The named record schemas of an alert schema, by short name (``diaSource``...)."""
    found = {}

    def walk(node):
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if node.get("type") == "record":
                found[node["name"].rsplit(".", 1)[-1]] = node
                for field in node["fields"]:
                    walk(field["type"])
            elif node.get("type") == "array":
                walk(node["items"])

    walk(definition)
    return found


class _Cleaner:
    """Make a ``to_dict`` row acceptable to fastavro (see the module docstring)."""

    def __init__(self, recordSchema):
        self.names, self.nanIsNull = [], set()
        for field in recordSchema["fields"]:
            self.names.append(field["name"])
            avroType = field["type"]
            if isinstance(avroType, list):
                branch = next(b for b in avroType if b != "null")
                if (branch["type"] if isinstance(branch, dict) else branch) in _NON_FLOAT:
                    self.nanIsNull.add(field["name"])

    def __call__(self, row: dict) -> dict:
        out = {}
        for key, value in row.items():
            if (
                value is None
                or value is pd.NA
                or value is pd.NaT
                or (isinstance(value, float) and math.isnan(value) and key in self.nanIsNull)
            ):
                value = None
            elif isinstance(value, np.bool_):
                value = bool(value)
            out[key] = value
        return out


class UpstreamPackager:
    """Upstream's packaging loop.

    Parameters
    ----------
    schemaFile : `str`
        URI of the alert schema (``lsst.alert.packet.Schema.from_uri``).
    minCutoutSize, maxCutoutSize : `int`
        Cutout sides are the footprint's ``bboxSize`` clamped to these.
    useAveragePsf : `bool`
        Attach each image's PSF at its average position to every cutout.
    """

    def __init__(self, schemaFile, minCutoutSize=30, maxCutoutSize=102, useAveragePsf=False):
        self.schema = lsst.alert.packet.Schema.from_uri(schemaFile)
        self.minCutoutSize = minCutoutSize
        self.maxCutoutSize = maxCutoutSize
        self.useAveragePsf = useAveragePsf
        records = recordSchemas(self.schema.definition)
        self.clean = {
            name: _Cleaner(records[name])
            for name in ("diaSource", "diaObject", "diaForcedSource", "ssSource", "mpc_orbits")
        }

    # -- cutouts ------------------------------------------------------------

    def cutoutExtent(self, bboxSize):
        """Upstream's ``createDiaSourceExtent``."""
        size = min(max(int(bboxSize), self.minCutoutSize), self.maxCutoutSize)
        return geom.Extent2I(size, size)

    @staticmethod
    def computePsf(exposure, pixelCenter):
        """The PSF kernel image at a point, or `None` where it cannot be evaluated."""
        try:
            return exposure.getPsf().computeKernelImage(pixelCenter).array
        except (InvalidParameterError, ValueError, RuntimeError):
            return None

    def createCcdDataCutout(self, image, skyCenter, pixelCenter, extent, photoCalib, psf):
        """Upstream's cutout: an Exposure cutout, calibrated, as a `CCDData`; `None` off the image."""
        if not geom.Box2D(image.getBBox()).contains(pixelCenter):
            return None
        try:
            cutout = image.getCutout(pixelCenter, extent)
        except InvalidParameterError:
            return None
        bbox = cutout.getBBox()
        cutMinX, cutMinY = bbox.getMinX() - 1, bbox.getMinY() - 1
        center = cutout.getWcs().skyToPixel(skyCenter)
        calibrated = photoCalib.calibrateImage(cutout.getMaskedImage())
        cutoutWcs = astropyWcs.WCS(naxis=2)
        cutoutWcs.array_shape = (bbox.getWidth(), bbox.getWidth())
        cutoutWcs.wcs.crpix = [center.getX() - cutMinX, center.getY() - cutMinY]
        cutoutWcs.wcs.crval = [skyCenter.getRa().asDegrees(), skyCenter.getDec().asDegrees()]
        cutoutWcs.wcs.cd = localTransformMatrix(cutout.getWcs(), center, skyCenter)
        return CCDData(
            data=calibrated.getImage().array,
            uncertainty=VarianceUncertainty(calibrated.getVariance().array),
            flags=calibrated.getMask().array,
            wcs=cutoutWcs,
            psf=psf,
            meta={"cutMinX": cutMinX, "cutMinY": cutMinY},
            unit=u.nJy,
        )

    @staticmethod
    def streamCcdDataToBytes(cutout):
        """``CCDData.write(stream, format="fits")``."""
        with io.BytesIO() as stream:
            cutout.write(stream, format="fits")
            return stream.getvalue()

    # -- the loop -----------------------------------------------------------

    def run(
        self,
        diaSourceCat,
        diaObjectCat,
        diaSrcHistory,
        diaForcedSources,
        diffIm,
        calexp,
        template,
        ssSrc=None,
        doRunForcedMeasurement=True,
        forcedSourceHistoryThreshold=0,
        alertFile=None,
        encodePayloads=True,
        fsync=False,
    ):
        """Package a visit as upstream does.

        ``alertFile`` (a path) gets ``Schema.store_alerts`` of the alerts,
        flushed to disk with ``fsync`` (for a benchmark against a writer
        that does so; upstream does not).

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``alerts`` (dicts, cutouts as FITS bytes), ``ccdData``
            (diaSourceId -> cutout name -> `CCDData` or `None`: what was
            written, with the afw mask upstream leaves out as ``flags``),
            ``payloads`` (schemaless encodings, or `None`), ``alertFile``,
            ``timings`` (seconds per stage: tables, cutouts, fits, encoding,
            write).
        """
        timings = dict.fromkeys(("tables", "cutouts", "fits", "encoding", "write"), 0.0)
        start = time.perf_counter()
        context = self._visitContext(diaSourceCat, diaObjectCat, diffIm, calexp, template, ssSrc)
        timings["tables"] += time.perf_counter() - start
        alerts, ccdData = [], {}
        for _, diaSource in context.diaSourceCat.iterrows():
            t0 = time.perf_counter()
            alert = self._catalogPart(
                diaSource,
                context,
                diaSrcHistory,
                diaForcedSources,
                doRunForcedMeasurement,
                forcedSourceHistoryThreshold,
            )
            t1 = time.perf_counter()
            ccdData[alert["diaSourceId"]], fitsTime = self._cutoutPart(alert, diaSource, context)
            timings["tables"] += t1 - t0
            timings["cutouts"] += time.perf_counter() - t1 - fitsTime
            timings["fits"] += fitsTime
            alerts.append(alert)
        payloads = None
        if encodePayloads:
            start = time.perf_counter()
            payloads = [self.serialize(alert) for alert in alerts]
            timings["encoding"] = time.perf_counter() - start
        if alertFile is not None:
            start = time.perf_counter()
            with open(alertFile, "wb") as f:
                self.schema.store_alerts(f, alerts)
                if fsync:
                    f.flush()
                    os.fsync(f.fileno())
            timings["write"] = time.perf_counter() - start
        return Struct(alerts=alerts, ccdData=ccdData, payloads=payloads, alertFile=alertFile, timings=timings)

    def serialize(self, alert) -> bytes:
        """``fastavro.schemaless_writer`` of one alert."""
        stream = io.BytesIO()
        fastavro.schemaless_writer(stream, self.schema.definition, alert)
        return stream.getvalue()

    def _visitContext(self, diaSourceCat, diaObjectCat, diffIm, calexp, template, ssSrc):
        """What the loop needs once per visit."""
        missing = [name for name in self.clean["diaSource"].names if name not in diaSourceCat.columns]
        if missing:
            # Upstream patches its frame in place; a shallow copy leaves the caller's alone.
            diaSourceCat = diaSourceCat.copy(deep=False)
            for name in missing:
                diaSourceCat[name] = None
        visitInfo = diffIm.visitInfo
        images = []
        for image in (diffIm, calexp, template):
            if image is None:
                images.append(None)
                continue
            averagePsf = (
                self.computePsf(image, image.getPsf().getAveragePosition()) if self.useAveragePsf else None
            )
            images.append((image, image.getPhotoCalib(), averagePsf))
        return Struct(
            diaSourceCat=diaSourceCat,
            diaObjectCat=diaObjectCat.astype(object),
            ssByDiaSource=None if ssSrc is None else ssSrc.set_index("diaSourceId", drop=False),
            observationReason=_nullIfEmpty(visitInfo.observationReason),
            targetName=_nullIfEmpty(visitInfo.object),
            images=images,
        )

    def _catalogPart(
        self,
        diaSource,
        context,
        diaSrcHistory,
        diaForcedSources,
        doRunForcedMeasurement,
        forcedSourceHistoryThreshold,
    ):
        """The alert's catalog fields: upstream's lookups and ``to_dict``."""
        clean = self.clean
        srcId = int(diaSource["diaSourceId"])
        objId = diaSource["diaObjectId"]
        objId = 0 if objId is None or objId is pd.NA else int(objId)
        diaObject = history = forced = ssSource = mpcOrbit = None
        if objId != 0:
            diaObject = context.diaObjectCat.loc[objId]
            if diaObject["nDiaSources"] > 1:
                history = diaSrcHistory.loc[objId].to_dict("records")
            if doRunForcedMeasurement and diaObject["nDiaSources"] >= forcedSourceHistoryThreshold:
                forced = diaForcedSources.loc[objId]
                forced = [forced.to_dict()] if isinstance(forced, pd.Series) else forced.to_dict("records")
            else:
                forced = diaForcedSources.loc[[]].to_dict("records")
        elif context.ssByDiaSource is not None and srcId in context.ssByDiaSource.index:
            ssRow = context.ssByDiaSource.loc[srcId].to_dict()
            ssSource = clean["ssSource"](ssRow)
            mpcOrbit = clean["mpc_orbits"](
                {k[len(_MPCORB) :]: v for k, v in ssRow.items() if k.startswith(_MPCORB)}
            )
        return {
            "diaSourceId": srcId,
            "observation_reason": context.observationReason,
            "target_name": context.targetName,
            "diaSource": clean["diaSource"](diaSource.to_dict()),
            "prvDiaSources": None if history is None else [clean["diaSource"](r) for r in history],
            "prvDiaForcedSources": None if forced is None else [clean["diaForcedSource"](r) for r in forced],
            "prvDiaNondetectionLimits": None,
            "diaObject": None if diaObject is None else clean["diaObject"](diaObject.to_dict()),
            "ssSource": ssSource,
            "mpc_orbits": mpcOrbit,
        }

    def _cutoutPart(self, alert, diaSource, context):
        """Add the three cutouts to ``alert``; return their CCDData and the FITS writing time."""
        skyCenter = geom.SpherePoint(float(diaSource["ra"]), float(diaSource["dec"]), geom.degrees)
        pixelCenter = geom.Point2D(float(diaSource["x"]), float(diaSource["y"]))
        extent = self.cutoutExtent(diaSource["bboxSize"])
        ccdData, fitsTime = {}, 0.0
        for name, spec in zip(CUTOUTS, context.images, strict=True):
            ccd = None
            if spec is not None:
                image, photoCalib, averagePsf = spec
                psf = averagePsf if self.useAveragePsf else self.computePsf(image, pixelCenter)
                ccd = self.createCcdDataCutout(image, skyCenter, pixelCenter, extent, photoCalib, psf)
            start = time.perf_counter()
            alert[name] = None if ccd is None else self.streamCcdDataToBytes(ccd)
            fitsTime += time.perf_counter() - start
            ccdData[name] = ccd
        return ccdData, fitsTime


def localTransformMatrix(wcs, center, skyCenter) -> np.ndarray:
    """Upstream's ``makeLocalTransformMatrix``: d(local gnomonic)/d(pixel) at ``center``, degrees.

    The local frame is a TAN projection tangent at ``skyCenter`` with
    1-arcsecond pixels; the Jacobian is divided by 3600.  With afw's
    transforms where they exist, else numerically through astropy.
    """
    if hasattr(wcs, "getTransform"):
        local = afwGeom.makeSkyWcs(center, skyCenter, np.array([[_ARCSEC, 0.0], [0.0, _ARCSEC]]))
        toLocal = wcs.getTransform().then(local.getTransform().inverted())
        return toLocal.getJacobian(center) / 3600.0
    image = astropyWcs.WCS(fits.Header(dict(wcs.getFitsMetadata().toDict())))
    local = astropyWcs.WCS(naxis=2)
    local.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    local.wcs.crval = [skyCenter.getRa().asDegrees(), skyCenter.getDec().asDegrees()]
    local.wcs.crpix = [0.0, 0.0]
    local.wcs.cd = np.diag([_ARCSEC, _ARCSEC])
    x, y = center.getX(), center.getY()

    def centralDifferences(step):
        px = np.array([x + step, x - step, x, x])
        py = np.array([y, y, y + step, y - step])
        lx, ly = local.all_world2pix(*image.all_pix2world(px, py, 0), 0)
        return np.array([[lx[0] - lx[1], lx[2] - lx[3]], [ly[0] - ly[1], ly[2] - ly[3]]]) / (2 * step)

    # Richardson extrapolation: exact for the cubic SIP terms, and steps of
    # a few pixels keep the rounding of sky coordinates near 1e-11.
    jacobian = (4 * centralDifferences(2.0) - centralDifferences(4.0)) / 3
    return jacobian / 3600.0


def _nullIfEmpty(value):
    if value is None:
        return None
    value = str(value)
    return value if value.strip() else None
