"""Assemble whole alerts as Avro bytes from columnar-encoded tables.

Each table of a visit (diaSource, diaObject, history, forced sources,
ssSource, mpc_orbits) is encoded once, column by column
(`encoding.encodeTable`); an alert is then the concatenation of its
rows' byte ranges with the union / array framing of the alert schema.  The
result is byte for byte what ``fastavro.schemaless_writer`` gives for the
equivalent alert dict (tested), at a fraction of the cost.

Every alert is decoded-checked implicitly by construction: its parts come
from `records.coerceTable`, which rejects values that do not fit their
fields, and the framing follows the schema's field list.  An alert whose
assembly fails anyway is reported in `EncodedVisit.failed`, not raised.
"""

from __future__ import annotations

__all__ = ["AlertEncoder", "EncodedVisit"]

import dataclasses
import io
import logging
import time

import fastavro
import numpy as np

from ..catalogs.visitTables import PreparedTables
from ..cutouts.plan import ImageCutouts
from ..schemaRegistry import AlertSchema
from .encoding import encodeBytes, encodeLong, encodeLongs, encodeTable

_NULL = b"\x00"
_BRANCH1 = b"\x02"
_END = b"\x00"  # array terminator
_EMPTY_ARRAY = _BRANCH1 + _END
# Top-level fields this package knows how to fill; any other field of a
# schema must be nullable and is sent as null.
_CUTOUT_FIELDS = ("cutoutDifference", "cutoutScience", "cutoutTemplate")


@dataclasses.dataclass
class EncodedVisit:
    """Alerts of one visit/detector.

    All alerts live in one buffer; the payloads are views of it.

    Attributes
    ----------
    diaSourceIds, diaObjectIds : `list` [`int`]
        Per alert (diaObjectId 0 for solar-system sources).
    payloads : `list` [`memoryview`]
        Schemaless Avro encodings (read-only views).
    failed : `list` [`tuple` [`int`, `str`]]
        (diaSourceId, reason) of alerts that could not be encoded.
    cutoutSeconds : `float`
        Time spent writing cutout FITS files into the alerts.
    """

    diaSourceIds: list
    diaObjectIds: list
    payloads: list
    failed: list
    cutoutSeconds: float = 0.0


class _RowBytes:
    """Encoded rows of one table, sliced per alert without copying."""

    def __init__(self, table):
        if table is None or table.size == 0:
            self._set(b"", np.zeros(1, dtype=np.int64))
        else:
            encoded = encodeTable(table)
            self._set(encoded.buffer, encoded.offsets)

    def _set(self, buffer, offsets):
        self.buffer = memoryview(buffer)
        self.offsets = offsets.tolist()

    @classmethod
    def ofLongs(cls, values: np.ndarray) -> _RowBytes:
        """Avro longs, one row each."""
        rowBytes = cls(None)
        rowBytes._set(*encodeLongs(values))
        return rowBytes

    def row(self, i: int) -> memoryview:
        return self.buffer[self.offsets[i]:self.offsets[i + 1]]

    def span(self, start: int, stop: int) -> memoryview:
        return self.buffer[self.offsets[start]:self.offsets[stop]]


def _isNullable(avroType) -> bool:
    return isinstance(avroType, list) and avroType and avroType[0] == "null"


class AlertEncoder:
    """Encode alerts of one schema.

    Parameters
    ----------
    schema : `lsst.ap.alerts.schemaRegistry.AlertSchema`
        The alert schema.

    Raises
    ------
    ValueError
        If the schema has a required top-level field this package cannot
        fill.
    """

    _KNOWN = {
        "diaSourceId", "alertId", "observation_reason", "target_name", "diaSource", "prvDiaSources",
        "prvDiaForcedSources", "diaObject", "ssSource", "mpc_orbits", *_CUTOUT_FIELDS,
    }

    def __init__(self, schema: AlertSchema):
        self.schema = schema
        self.fields = [(f["name"], _isNullable(f["type"])) for f in schema.definition["fields"]]
        for name, nullable in self.fields:
            if name not in self._KNOWN and not nullable:
                raise ValueError(f"Alert schema {schema.versionString} has a required field {name!r} "
                                 "that this package does not fill")

    def encodeDict(self, alert: dict) -> bytes:
        """Encode one alert dict with fastavro (the reference encoder)."""
        stream = io.BytesIO()
        fastavro.schemaless_writer(stream, self.schema.parsed, alert)
        return stream.getvalue()

    def encodeVisit(self, tables: PreparedTables, cutouts: dict[str, ImageCutouts | None], observationReason,
                    targetName, log: logging.Logger, onAlert=None) -> EncodedVisit:
        """Encode every packaged source of a visit/detector.

        Every alert is first laid out as a list of byte pieces (rows of the
        columnar-encoded tables, framing, cutout placeholders) whose total
        size is known; then one zeroed buffer is allocated for all of them
        and each alert is written in place, cutout pixels included.

        Parameters
        ----------
        tables : `lsst.ap.alerts.catalogs.visitTables.PreparedTables`
            Typed, grouped catalogs.
        cutouts : `dict` [`str`, `ImageCutouts` or `None`]
            Planned cutouts of each cutout field's image.
        observationReason, targetName : `str` or `None`
            Scheduler strings (already null when empty).
        log : `logging.Logger`
            For alerts that fail.
        onAlert : callable, optional
            Called with each payload, in order, as soon as it is complete.
        """
        out = EncodedVisit([], [], [], [])
        srcIds = tables.diaSourceIds.tolist()
        objIds = tables.diaObjectIds.tolist()
        handlers = self._fieldHandlers(tables, cutouts, observationReason, targetName)

        def pieces(i):
            """Alert i as byte pieces and (ImageCutouts, i) placeholders, and its size."""
            parts = []
            size = 0
            for handler in handlers:
                size += handler(i, parts)
            return parts, size

        layouts = []
        for i in range(len(srcIds)):
            try:
                layouts.append((i, *pieces(i)))
            except Exception as e:  # one alert's failure must not cost the others
                self._fail(out, log, srcIds[i], e)
        total = sum(size for _, _, size in layouts)
        buffer = np.zeros(total, dtype=np.uint8)
        view = memoryview(buffer)
        readOnly = view.toreadonly()
        cutoutSeconds = 0.0
        offset = 0
        for i, parts, size in layouts:
            start = offset
            end = offset = start + size
            try:
                o = start
                for piece in parts:
                    if type(piece) is tuple:
                        t0 = time.perf_counter()
                        o = piece[0].writeInto(piece[1], view, o)
                        cutoutSeconds += time.perf_counter() - t0
                    else:
                        n = len(piece)
                        view[o:o + n] = piece
                        o += n
                if o != end:
                    raise RuntimeError(f"alert laid out as {size} bytes came out as {o - start}")
            except Exception as e:  # its bytes stay unused; the others are unaffected
                self._fail(out, log, srcIds[i], e)
                continue
            out.diaSourceIds.append(srcIds[i])
            out.diaObjectIds.append(objIds[i])
            payload = readOnly[start:end]
            out.payloads.append(payload)
            if onAlert is not None:
                onAlert(payload)
        out.cutoutSeconds = cutoutSeconds
        return out

    def _fieldHandlers(self, tables: PreparedTables, cutouts: dict[str, ImageCutouts | None],
                       observationReason, targetName) -> list:
        """One function per alert field: ``add(i, parts)`` appends alert i's pieces, returns their size.

        Pieces are bytes-like, or ``(ImageCutouts, i)`` for a cutout's FITS
        file, written later in place.
        """
        sources = _RowBytes(tables.sources)
        objects = _RowBytes(tables.objects)
        history = _RowBytes(tables.history)
        forced = _RowBytes(tables.forced)
        ssSources = _RowBytes(tables.ssSources)
        mpcOrbits = _RowBytes(tables.mpcOrbits)

        def optionalString(value):
            return _NULL if value is None else _BRANCH1 + encodeBytes(value.encode("utf-8"))

        reason = optionalString(observationReason)
        target = optionalString(targetName)
        idBytes = _RowBytes.ofLongs(tables.diaSourceIds)
        # Framing heads (branch + count or length) repeat a few values: cached.
        heads: dict[int, bytes] = {}

        def head(n):
            encoded = heads.get(n)
            if encoded is None:
                encoded = heads[n] = _BRANCH1 + encodeLong(n)
            return encoded

        def constant(piece):
            def add(i, parts):
                parts.append(piece)
                return len(piece)
            return add

        def alertId(i, parts):
            piece = idBytes.row(i)
            parts.append(piece)
            return len(piece)

        def record(rowBytes, nullable):
            def add(i, parts):
                piece = rowBytes.row(i)
                if nullable:
                    parts += (_BRANCH1, piece)
                    return 1 + len(piece)
                parts.append(piece)
                return len(piece)
            return add

        def optionalRecord(rowBytes, rows):
            rows = np.asarray(rows).tolist()

            def add(i, parts):
                row = rows[i]
                if row < 0:
                    parts.append(_NULL)
                    return 1
                piece = rowBytes.row(row)
                parts += (_BRANCH1, piece)
                return 1 + len(piece)
            return add

        def optionalArray(rowBytes, spans):
            def add(i, parts):
                span = spans[i]
                if span is None:
                    parts.append(_NULL)
                    return 1
                if span[0] == span[1]:
                    parts.append(_EMPTY_ARRAY)
                    return 2
                # One block (count, items, terminator), as fastavro writes arrays.
                count = head(span[1] - span[0])
                items = rowBytes.span(*span)
                parts += (count, items, _END)
                return len(count) + len(items) + 1
            return add

        def cutout(images):
            fileSizes = images.fileSizes.tolist()

            def add(i, parts):
                size = fileSizes[i]
                if not size:
                    parts.append(_NULL)
                    return 1
                length = head(size)  # Avro bytes: length, then content
                parts += (length, (images, i))
                return len(length) + size
            return add

        handlers = []
        for name, nullable in self.fields:
            if name in ("diaSourceId", "alertId"):
                handler = alertId
            elif name == "observation_reason":
                handler = constant(reason)
            elif name == "target_name":
                handler = constant(target)
            elif name == "diaSource":
                handler = record(sources, nullable)
            elif name == "prvDiaSources":
                handler = optionalArray(history, tables.historyRows)
            elif name == "prvDiaForcedSources":
                handler = optionalArray(forced, tables.forcedRows)
            elif name == "diaObject":
                handler = optionalRecord(objects, tables.objectRow)
            elif name == "ssSource":
                handler = optionalRecord(ssSources, tables.ssRow)
            elif name == "mpc_orbits":
                handler = optionalRecord(mpcOrbits, tables.mpcRow)
            elif name in _CUTOUT_FIELDS and cutouts.get(name) is not None:
                handler = cutout(cutouts[name])
            else:
                handler = constant(_NULL)
            handlers.append(handler)
        return handlers

    @staticmethod
    def _fail(out: EncodedVisit, log: logging.Logger, srcId: int, error: Exception) -> None:
        reason = f"encoding failed: {type(error).__name__}: {error}"
        log.warning("Alert for diaSourceId=%d not packaged: %s", srcId, reason)
        out.failed.append((srcId, reason))

    def visitToDicts(self, tables: PreparedTables, cutouts: dict[str, list], observationReason,
                     targetName) -> list[dict]:
        """The same alerts as `encodeVisit`, as dicts (the reference path for tests and benchmarks).

        ``cutouts`` gives, per cutout field, each source's FITS `bytes` or `None`.
        """

        def records(table):
            return [] if table is None else table.toRecords()

        sources, objects = records(tables.sources), records(tables.objects)
        history, forced = records(tables.history), records(tables.forced)
        ssSources, mpcOrbits = records(tables.ssSources), records(tables.mpcOrbits)
        alerts = []
        for i in range(len(tables.diaSourceIds)):
            def span(rows, s):
                return None if s is None else rows[s[0]:s[1]]

            alert = {
                "diaSourceId": int(tables.diaSourceIds[i]),
                "alertId": int(tables.diaSourceIds[i]),
                "observation_reason": observationReason,
                "target_name": targetName,
                "diaSource": sources[i],
                "prvDiaSources": span(history, tables.historyRows[i]),
                "prvDiaForcedSources": span(forced, tables.forcedRows[i]),
                "diaObject": objects[tables.objectRow[i]] if tables.objectRow[i] >= 0 else None,
                "ssSource": ssSources[tables.ssRow[i]] if tables.ssRow[i] >= 0 else None,
                "mpc_orbits": mpcOrbits[tables.mpcRow[i]] if tables.mpcRow[i] >= 0 else None,
            }
            for name in _CUTOUT_FIELDS:
                alert[name] = cutouts[name][i]
            alerts.append({name: alert.get(name) for name, _ in self.fields})
        return alerts
