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

"""The per-alert path: `PackageAlertsTask.run` through upstream's overridable methods.

Upstream's task is extended by subclassing it and overriding one of its
per-alert methods (`HOOKS`).  The fast path (columnar tables, planned
cutouts, alerts assembled in place) calls none of them, so a task whose
class overrides any of them is packaged here instead, alert by alert, in
upstream's order:

1. ``_patchDiaSources`` on copies of ``diaSourceCat`` and ``diaSrcHistory``
   (the caller's frames are never modified);
2. per packaged DiaSource: ``createDiaSourceExtent``, then for each image
   ``createCcdDataCutout`` (which calls ``_computePsf`` and
   ``makeLocalTransformMatrix``);
3. ``makeAlertDict`` (which calls ``streamCcdDataToBytes``), then
   ``_serializeAlert`` (which calls ``_serializeConfluentWireHeader``);
4. the Avro file, then Kafka (``produceAlerts``, with ``_delivery_callback``
   called for every delivery report).

The guarantees are the fast path's: the same validation and per-source
rules (`lsst.ap.alerts.catalogs.visitTables` decides which sources and rows
are packaged), the visit file complete and in place before Kafka, every
alert delivered or written to a failed-delivery file, a source whose hooks
raise skipped with a warning naming it, and the same result and metadata.
With overrides that change nothing the bytes are the fast path's (tested).
"""

from __future__ import annotations

__all__ = ["HOOKS", "FramedPayloads", "overriddenHooks", "packageThroughHooks", "patchedInputs"]

import inspect
import math
import os

import numpy as np
import pandas as pd

from ._afw import geom
from .avro.assembly import nullIfEmpty
from .avro.payloads import AlertPayloads
from .catalogs.visitInputs import VisitInputs
from .catalogs.visitTables import MPCORB_PREFIX, PreparedTables, flattenIndex, groupRows
from .delivery.alertFile import AlertFileWriter

HOOKS = (
    "createCcdDataCutout",
    "streamCcdDataToBytes",
    "makeLocalTransformMatrix",
    "createDiaSourceExtent",
    "_computePsf",
    "makeAlertDict",
    "_serializeAlert",
    "_serializeConfluentWireHeader",
    "_delivery_callback",
    "_patchDiaSources",
)
"""Upstream's per-alert methods that `PackageAlertsTask.run` honours when a
subclass overrides them."""

_CUTOUT_IMAGES = ("diffIm", "calexp", "template")


def overriddenHooks(taskClass: type, baseClass: type) -> tuple[str, ...]:
    """Return the `HOOKS` that ``taskClass`` defines differently from ``baseClass``.

    Parameters
    ----------
    taskClass : `type`
        A subclass of ``baseClass`` (or ``baseClass`` itself).
    baseClass : `type`
        ``PackageAlertsTask``.

    Returns
    -------
    names : `tuple` [`str`]
        The overridden hooks, in `HOOKS` order (empty: the fast path).
    """
    return tuple(name for name in HOOKS if getattr(taskClass, name) is not getattr(baseClass, name))


def patchedInputs(task, inputs: VisitInputs) -> VisitInputs:
    """Return the inputs with ``task._patchDiaSources`` applied to copies of the DiaSource tables.

    Upstream patches ``diaSourceCat`` and ``diaSrcHistory`` in place; the
    copies keep the caller's frames unchanged.
    """
    diaSourceCat = inputs.diaSourceCat.copy()
    task._patchDiaSources(diaSourceCat)
    history = inputs.diaSrcHistory
    if history is not None:
        history = history.copy()
        task._patchDiaSources(history)
    return inputs.replace(diaSourceCat=diaSourceCat, diaSrcHistory=history)


class FramedPayloads(AlertPayloads):
    """`AlertPayloads` whose Kafka messages are those ``_serializeAlert`` returned.

    Parameters
    ----------
    schema, diaSourceIds, payloads, diaObjectIds
        As `AlertPayloads`.
    messages : `list` [`bytes`]
        Each alert's message as sent to Kafka (wire header included).
    """

    def __init__(self, schema, diaSourceIds, payloads, diaObjectIds, messages):
        super().__init__(schema, diaSourceIds, payloads, diaObjectIds)
        self.messages = list(messages)

    def framed(self, index: int) -> bytes:
        """Return alert ``index`` as ``_serializeAlert`` framed it."""
        return self.messages[index]

    def __reduce__(self):
        schema, ids, payloads, objectIds = super().__reduce__()[1]
        return (FramedPayloads, (schema, ids, payloads, objectIds, self.messages))


def _records(table: pd.DataFrame | None) -> list[dict]:
    """Rows of a flattened table as dicts; each column keeps its type (no row-wise upcast)."""
    return [] if table is None else table.to_dict("records")


def _ids(table: pd.DataFrame, name: str) -> np.ndarray:
    if name not in table.columns:
        return np.full(len(table), -1, dtype=np.int64)
    return pd.to_numeric(table[name], errors="coerce").fillna(-1).to_numpy(dtype=np.int64)


class _Rows:
    """One grouped input table (history or forced sources) and the rows `PreparedTables` kept of it."""

    def __init__(self, table: pd.DataFrame | None, typed, idName: str):
        self.flat = pd.DataFrame() if table is None else flattenIndex(table)
        self.ids = _ids(self.flat, idName)
        self.order, self.groups = groupRows(_ids(self.flat, "diaObjectId"))
        self.keptIds = None if typed is None else typed.columns[idName]

    def of(self, diaObjectId: int, span) -> pd.DataFrame | None:
        """The object's kept input rows (span: its rows of the typed table), as upstream's ``.loc``."""
        if span is None:
            return None
        start, stop = span
        first, last = self.groups.get(diaObjectId, (0, 0))
        rows = self.order[first:last]
        if start == stop or self.keptIds is None:
            return self.flat.iloc[rows[:0]]
        # Rows the preparation dropped (values that do not fit) are left out, as in the fast path.
        kept = np.isin(self.ids[rows], self.keptIds[start:stop])
        return self.flat.iloc[rows[kept]]


class _CatalogRows:
    """Each packaged source's catalog rows, as upstream's ``run`` hands them to ``makeAlertDict``.

    Raw input rows (index levels as columns), so an override sees every
    column the caller gave; which rows go in is `PreparedTables`' decision.
    """

    def __init__(self, inputs: VisitInputs, tables: PreparedTables):
        sources = flattenIndex(inputs.diaSourceCat)
        firstRow: dict[int, int] = {}
        for row, srcId in enumerate(_ids(sources, "diaSourceId").tolist()):
            firstRow.setdefault(srcId, row)
        self.sourceRows = [firstRow[srcId] for srcId in tables.diaSourceIds.tolist()]
        self.sources = _records(sources)
        self.objects = _records(flattenIndex(inputs.diaObjectCat))
        self.ssSources = _records(None if inputs.ssSrc is None else flattenIndex(inputs.ssSrc))
        self.mpcOrbits = [] if tables.mpcOrbits is None else tables.mpcOrbits.toRecords()
        self.history = _Rows(inputs.diaSrcHistory, tables.history, "diaSourceId")
        self.forced = _Rows(inputs.diaForcedSources, tables.forced, "diaForcedSourceId")
        self.tables = tables

    def arguments(self, i: int, withOrbit: bool) -> dict:
        """``makeAlertDict``'s catalog arguments for packaged source ``i``.

        With ``withOrbit`` the prepared mpc_orbits row goes as ``mpcOrbit``
        (designations derived, a bad row null) and ssSource without its
        ``MPCORB_`` columns; otherwise ssSource keeps them, as upstream.
        """
        t = self.tables
        objId = int(t.diaObjectIds[i])
        objectRow, ssRow, mpcRow = int(t.objectRow[i]), int(t.ssRow[i]), int(t.mpcRow[i])
        ssSource = None
        if ssRow >= 0:
            ssSource = self.ssSources[ssRow]
            if withOrbit:
                ssSource = {k: v for k, v in ssSource.items() if not str(k).startswith(MPCORB_PREFIX)}
            ssSource = pd.Series(ssSource, dtype=object)
        return {
            "diaSource": pd.Series(self.sources[self.sourceRows[i]], dtype=object),
            "diaObject": pd.Series(self.objects[objectRow], dtype=object) if objectRow >= 0 else None,
            "objDiaSrcHistory": self.history.of(objId, t.historyRows[i]),
            "objDiaForcedSources": self.forced.of(objId, t.forcedRows[i]),
            "ssSource": ssSource,
            "mpcOrbit": self.mpcOrbits[mpcRow] if withOrbit and mpcRow >= 0 else None,
        }


class _CutoutMaker:
    """A source's three cutouts through ``createDiaSourceExtent`` and ``createCcdDataCutout``."""

    def __init__(self, task, inputs: VisitInputs, rotPa):
        self.task, self.rotPa = task, rotPa
        self.images = []
        for name in _CUTOUT_IMAGES:
            image = getattr(inputs, name)
            if image is None:
                self.images.append(None)
                continue
            psf = image.getPsf()
            averagePsf = None
            if task.config.useAveragePsf and psf is not None:
                averagePsf = task._computePsf(image, psf.getAveragePosition())
            self.images.append((image, image.getPhotoCalib(), averagePsf))

    def make(self, tables: PreparedTables, i: int) -> list:
        """Cutouts (`CCDData` or `None`) of source ``i`` on each image."""
        task = self.task
        srcId = int(tables.diaSourceIds[i])
        skyCenter = geom.SpherePoint(float(tables.ra[i]), float(tables.dec[i]), geom.degrees)
        x, y = float(tables.x[i]), float(tables.y[i])
        extent = task.createDiaSourceExtent(int(tables.bboxSize[i]))
        cutouts = []
        for spec in self.images:
            if spec is None:
                cutouts.append(None)
                continue
            image, photoCalib, averagePsf = spec
            try:
                # As the fast path: the WCS position where the catalog has none.
                pixelCenter = (
                    geom.Point2D(x, y)
                    if math.isfinite(x) and math.isfinite(y)
                    else image.getWcs().skyToPixel(skyCenter)
                )
                cutouts.append(
                    task.createCcdDataCutout(
                        image, skyCenter, pixelCenter, extent, photoCalib, srcId, averagePsf, self.rotPa
                    )
                )
            except Exception as e:  # one bad cutout must not cost the alert
                task.log.warning(
                    "Cutout for DiaSource id=%d failed (%s: %s); packaging the alert without it.",
                    srcId,
                    type(e).__name__,
                    e,
                )
                cutouts.append(None)
        return cutouts


def _acceptsKeyword(method, name: str) -> bool:
    parameters = inspect.signature(method).parameters.values()
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def packageThroughHooks(task, inputs: VisitInputs, tables: PreparedTables, visitInfo, visit, detector, timer):
    """Package a visit alert by alert through the task's hooks; stream them to the visit file.

    Parameters
    ----------
    task : `lsst.ap.alerts.PackageAlertsTask`
        The (subclassed) task.
    inputs : `lsst.ap.alerts.catalogs.visitInputs.VisitInputs`
        The run's inputs, patched (`patchedInputs`).
    tables : `lsst.ap.alerts.catalogs.visitTables.PreparedTables`
        Which sources and rows are packaged.
    visitInfo : `lsst.afw.image.VisitInfo`
        Of the difference image.
    visit, detector : `int`
        Name the visit file.
    timer : callable
        The run's stage timer (``with timer("name"):``).

    Returns
    -------
    alertFile : `str` or `None`
        The visit file, complete and in place (``doWriteAlerts``).
    alerts : `FramedPayloads`
        The packaged alerts.
    failed : `list` [`tuple` [`int`, `str`]]
        (diaSourceId, reason) of sources whose hooks raised.
    """
    rows = _CatalogRows(inputs, tables)
    cutouts = _CutoutMaker(task, inputs, task._rotPa(visitInfo))
    schemaId = task.schema.schemaId
    headerSize = len(task._serializeConfluentWireHeader(schemaId))
    scheduler = (nullIfEmpty(visitInfo.observationReason), nullIfEmpty(visitInfo.object))
    withOrbit = _acceptsKeyword(task.makeAlertDict, "mpcOrbit")
    alertFile = writer = None
    if task.config.doWriteAlerts:
        alertFile = os.path.join(task.config.alertWriteLocation, f"{visit}_{detector}.avro")
        task.log.info("Writing alerts to %s.", alertFile)
        writer = AlertFileWriter(alertFile, task.schema)
    out = FramedPayloads(task.schema, [], [], [], [])
    failed = []
    try:
        for i, srcId in enumerate(tables.diaSourceIds.tolist()):
            with timer("cutouts"):
                images = cutouts.make(tables, i)
            with timer("encoding"):
                try:
                    message = bytes(
                        _serialized(task, rows.arguments(i, withOrbit), srcId, scheduler, images, withOrbit)
                    )
                except Exception as e:  # this source's hooks failed: skip it, keep the others
                    reason = f"encoding failed: {type(e).__name__}: {e}"
                    task.log.warning("Alert for diaSourceId=%d not packaged: %s", srcId, reason)
                    failed.append((srcId, reason))
                    continue
            payload = message[headerSize:]
            out.diaSourceIds.append(srcId)
            out.diaObjectIds.append(int(tables.diaObjectIds[i]))
            out.payloads.append(payload)
            out.messages.append(message)
            if writer is not None:
                with timer("write"):
                    writer.append(payload)
        if writer is not None:
            with timer("write"):
                writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return alertFile, out, failed


def _serialized(task, arguments: dict, srcId: int, scheduler, images, withOrbit: bool) -> bytes:
    """One alert: ``makeAlertDict`` in upstream's current call style, then ``_serializeAlert``."""
    extra = {"mpcOrbit": arguments["mpcOrbit"]} if withOrbit else {}
    alert = task.makeAlertDict(
        srcId,
        *scheduler,
        arguments["diaSource"],
        arguments["diaObject"],
        arguments["objDiaSrcHistory"],
        arguments["objDiaForcedSources"],
        *images,
        ssSource=arguments["ssSource"],
        **extra,
    )
    return task._serializeAlert(alert, schema=task.alertSchema.definition, schema_id=task.schema.schemaId)
