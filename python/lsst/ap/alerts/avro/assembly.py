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

"""What an alert contains, and whole alerts assembled as Avro bytes.

`ALERT_PARTS` says, once, what each top-level field of an alert is and
where its value comes from: a `PreparedTables` attribute for the columnar
path (`AlertEncoder.encodeVisit`) and upstream's one-alert dict
(`alertDictValue`, used by ``PackageAlertsTask.makeAlertDict``) both read it.

Each table of a visit (diaSource, diaObject, history, forced sources,
ssSource, mpc_orbits) is encoded once, column by column
(`encoding.encodeTable`); an alert is then the concatenation of its rows'
byte ranges with the union / array framing of the alert schema, one field
writer per field.  The result is byte for byte what
``fastavro.schemaless_writer`` gives for the equivalent alert dict (tested),
at a fraction of the cost.

Every part comes from `typedTable.coerceTable`, which rejects values that
do not fit their fields, and the framing follows the schema's field list.
An alert whose assembly fails anyway is reported in `EncodedVisit.failed`,
not raised.  Alert dicts given by callers (`AlertEncoder.typedAlert`) go
through the same typing before fastavro writes them: schema typing lives
here, not in the dicts.
"""

from __future__ import annotations

__all__ = [
    "ALERT_PARTS",
    "AlertEncoder",
    "AlertPart",
    "EncodedVisit",
    "PartKind",
    "alertDictValue",
    "nullIfEmpty",
]

import dataclasses
import enum
import io
import logging
import time
from collections.abc import Callable, Mapping

import fastavro
import numpy as np
import pandas as pd

from ..catalogs.typedTable import coerceTable
from ..catalogs.visitTables import PreparedTables, flattenIndex
from ..cutouts.plan import ImageCutouts
from ..schemaRegistry import AlertSchema
from .encoding import encodeBytes, encodeLong, encodeLongs, encodeTable

_NULL = b"\x00"
_BRANCH1 = b"\x02"
_END = b"\x00"  # array terminator
_EMPTY_ARRAY = _BRANCH1 + _END


class PartKind(enum.Enum):
    """How a top-level alert field is made."""

    ID = "id"
    """The triggering diaSourceId (``long``)."""
    SCHEDULER = "scheduler"
    """A string of the visit's scheduler, or null."""
    RECORD = "record"
    """One row of a table, always present."""
    OPTIONAL_RECORD = "optionalRecord"
    """One row of a table, or null."""
    ARRAY = "array"
    """Rows of a table (possibly none), or null."""
    CUTOUT = "cutout"
    """FITS bytes of one image's cutout, or null."""
    NULL = "null"
    """Always null: a key upstream's alert dicts carry for older schemas."""


@dataclasses.dataclass(frozen=True)
class AlertPart:
    """One top-level field of an alert.

    Attributes
    ----------
    name : `str`
        Field name in the schema and key in alert dicts.
    kind : `PartKind`
        How it is made.
    argument : `str`
        The ``PackageAlertsTask.makeAlertDict`` parameter that gives it.
    record : `str` or `None`
        Schema record of its rows (record, optional record, array).
    table : `str` or `None`
        `PreparedTables` attribute holding those rows, typed.
    rows : `str` or `None`
        `PreparedTables` attribute giving each source's row (optional
        record: -1 for null) or [start, stop) span (array: `None` for null).
    inUpstreamDict : `bool`
        Whether upstream's ``makeAlertDict`` result has this key.
    """

    name: str
    kind: PartKind
    argument: str
    record: str | None = None
    table: str | None = None
    rows: str | None = None
    inUpstreamDict: bool = True


ALERT_PARTS = (
    AlertPart("diaSourceId", PartKind.ID, "diaSourceId"),
    # The same id under the name older schemas give it.
    AlertPart("alertId", PartKind.ID, "diaSourceId", inUpstreamDict=False),
    AlertPart("observation_reason", PartKind.SCHEDULER, "observationReason"),
    AlertPart("target_name", PartKind.SCHEDULER, "targetName"),
    AlertPart("diaSource", PartKind.RECORD, "diaSource", "diaSource", "sources"),
    AlertPart("prvDiaSources", PartKind.ARRAY, "objDiaSrcHistory", "diaSource", "history", "historyRows"),
    AlertPart(
        "prvDiaForcedSources",
        PartKind.ARRAY,
        "objDiaForcedSources",
        "diaForcedSource",
        "forced",
        "forcedRows",
    ),
    AlertPart("prvDiaNondetectionLimits", PartKind.NULL, ""),
    AlertPart("diaObject", PartKind.OPTIONAL_RECORD, "diaObject", "diaObject", "objects", "objectRow"),
    AlertPart("ssSource", PartKind.OPTIONAL_RECORD, "ssSource", "ssSource", "ssSources", "ssRow"),
    AlertPart("mpc_orbits", PartKind.OPTIONAL_RECORD, "mpcOrbit", "mpc_orbits", "mpcOrbits", "mpcRow"),
    AlertPart("cutoutDifference", PartKind.CUTOUT, "diffImCutout"),
    AlertPart("cutoutScience", PartKind.CUTOUT, "calexpCutout"),
    AlertPart("cutoutTemplate", PartKind.CUTOUT, "templateCutout"),
)
"""Every alert field this package fills, in upstream's dict order.  Any other
field of a schema must be nullable and is sent as null."""

_PARTS = {part.name: part for part in ALERT_PARTS}
CUTOUT_FIELDS = tuple(part.name for part in ALERT_PARTS if part.kind is PartKind.CUTOUT)


def _isNullable(avroType) -> bool:
    return isinstance(avroType, list) and avroType and avroType[0] == "null"


def nullIfEmpty(value):
    """The one rule for scheduler strings (observation_reason, target_name).

    `None` or a string of only whitespace → `None`; anything else is
    returned unchanged (as upstream passes it): encoding then requires a
    string (`AlertEncoder.typedAlert`).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def _recordDict(value) -> dict:
    return value.to_dict() if isinstance(value, pd.Series) else dict(value)


def alertDictValue(part: AlertPart, value, cutoutToBytes: Callable):
    """Return one field of upstream's alert dict from a ``makeAlertDict`` argument.

    Values are passed as they are (``Series.to_dict()``,
    ``DataFrame.to_dict("records")``): typing to the schema happens when the
    dict is encoded (`AlertEncoder.typedAlert`).

    Parameters
    ----------
    part : `AlertPart`
        The field.
    value
        The argument: a `pandas.Series` or mapping (records), a
        `pandas.DataFrame`, `pandas.Series` or list of mappings (arrays), an
        ``astropy.nddata.CCDData`` (cutouts), a string, or `None`.
    cutoutToBytes : callable
        Serializes a cutout (``PackageAlertsTask.streamCcdDataToBytes``).
    """
    kind = part.kind
    if kind is PartKind.NULL or (value is None and kind is not PartKind.ID):
        return None
    if kind is PartKind.SCHEDULER:
        return nullIfEmpty(value)
    if kind in (PartKind.RECORD, PartKind.OPTIONAL_RECORD):
        return _recordDict(value)
    if kind is PartKind.ARRAY:
        if isinstance(value, pd.Series):
            return [value.to_dict()]  # a single row selected by .loc
        if isinstance(value, pd.DataFrame):
            return value.to_dict("records")
        return [dict(row) for row in value]
    if kind is PartKind.CUTOUT:
        return cutoutToBytes(value)
    return value


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
        return self.buffer[self.offsets[i] : self.offsets[i + 1]]

    def span(self, start: int, stop: int) -> memoryview:
        return self.buffer[self.offsets[start] : self.offsets[stop]]


class _Heads:
    """Union branch + count/length prefixes; a visit repeats few values, so they are cached."""

    def __init__(self):
        self._cache: dict[int, bytes] = {}

    def __call__(self, n: int) -> bytes:
        encoded = self._cache.get(n)
        if encoded is None:
            encoded = self._cache[n] = _BRANCH1 + encodeLong(n)
        return encoded


# Field writers: ``add(i, parts)`` appends alert i's pieces of one field and
# returns their size.  A piece is bytes-like, or ``(ImageCutouts, i)`` for a
# cutout's FITS file, written later in place.


class _ConstantWriter:
    def __init__(self, piece: bytes):
        self.piece = piece

    def add(self, i, parts):
        parts.append(self.piece)
        return len(self.piece)


# The writers slice the encoded rows themselves (buffer + offsets) rather than
# through _RowBytes methods: they run once per field and alert, in the hot loop.


class _RowWriter:
    """Row i of a table (a record field that is not a union)."""

    def __init__(self, rowBytes: _RowBytes):
        self.buffer, self.offsets = rowBytes.buffer, rowBytes.offsets

    def add(self, i, parts):
        offsets = self.offsets
        piece = self.buffer[offsets[i] : offsets[i + 1]]
        parts.append(piece)
        return len(piece)


class _UnionRowWriter(_RowWriter):
    """Row i of a table in the non-null branch of a ``["null", record]`` field."""

    def add(self, i, parts):
        offsets = self.offsets
        piece = self.buffer[offsets[i] : offsets[i + 1]]
        parts += (_BRANCH1, piece)
        return 1 + len(piece)


class _OptionalRowWriter:
    """The row of each alert in a table, or null where it has none (-1)."""

    def __init__(self, rowBytes: _RowBytes, rows):
        self.buffer, self.offsets = rowBytes.buffer, rowBytes.offsets
        self.rows = np.asarray(rows).tolist()

    def add(self, i, parts):
        row = self.rows[i]
        if row < 0:
            parts.append(_NULL)
            return 1
        offsets = self.offsets
        piece = self.buffer[offsets[row] : offsets[row + 1]]
        parts += (_BRANCH1, piece)
        return 1 + len(piece)


class _SpanWriter:
    """An array of each alert's [start, stop) rows of a table, or null (`None`)."""

    def __init__(self, rowBytes: _RowBytes, spans, heads: _Heads):
        self.buffer, self.offsets = rowBytes.buffer, rowBytes.offsets
        self.spans = spans
        self.heads = heads

    def add(self, i, parts):
        span = self.spans[i]
        if span is None:
            parts.append(_NULL)
            return 1
        start, stop = span
        if start == stop:
            parts.append(_EMPTY_ARRAY)
            return 2
        # One block (count, items, terminator), as fastavro writes arrays.
        count = self.heads(stop - start)
        items = self.buffer[self.offsets[start] : self.offsets[stop]]
        parts += (count, items, _END)
        return len(count) + len(items) + 1


class _CutoutWriter:
    """Avro bytes (length, then content) of each alert's planned cutout, or null."""

    def __init__(self, images: ImageCutouts, heads: _Heads):
        self.images = images
        self.fileSizes = images.fileSizes.tolist()
        self.heads = heads

    def add(self, i, parts):
        size = self.fileSizes[i]
        if not size:
            parts.append(_NULL)
            return 1
        length = self.heads(size)
        parts += (length, (self.images, i))
        return len(length) + size


def _optionalString(value) -> bytes:
    return _NULL if value is None else _BRANCH1 + encodeBytes(value.encode("utf-8"))


class AlertEncoder:
    """Encode alerts of one schema.

    Parameters
    ----------
    schema : `lsst.ap.alerts.schemaRegistry.AlertSchema`
        The alert schema.
    nanAsNull : `bool`, optional
        Null instead of NaN in nullable float fields of alert dicts given to
        `typedAlert` / `encodeDict` (the columnar path gets its tables
        already typed).

    Raises
    ------
    ValueError
        If the schema has a required top-level field this package cannot
        fill.
    """

    def __init__(self, schema: AlertSchema, nanAsNull: bool = False):
        self.schema = schema
        self.nanAsNull = nanAsNull
        self.fields = [(f["name"], _isNullable(f["type"])) for f in schema.definition["fields"]]
        for name, nullable in self.fields:
            part = _PARTS.get(name)
            if (part is None or part.kind is PartKind.NULL) and not nullable:
                raise ValueError(
                    f"Alert schema {schema.versionString} has a required field {name!r} "
                    "that this package does not fill"
                )

    # -- alert dicts ------------------------------------------------------

    def typedAlert(self, alert: Mapping) -> dict:
        """Return an alert dict with every record typed to the schema.

        Records and arrays go through `coerceTable` (the value rules of
        `lsst.ap.alerts.catalogs.typedTable`), so raw ``Series.to_dict()``
        values (numpy scalars, NaN, ``pd.NA``, timestamps) encode exactly as
        the same values do on the columnar path.

        Raises
        ------
        ValueError
            If a value does not fit its field (naming the diaSourceId, the
            record and the field).
        """
        srcId = alert.get("diaSourceId", alert.get("alertId"))
        typed = {}
        for name, _ in self.fields:
            part = _PARTS.get(name)
            value = alert.get(name)
            if part is not None and part.record is not None and value is not None:
                many = part.kind is PartKind.ARRAY
                value = self._typedRecords(value, part.record, many, srcId)
            elif part is not None and part.kind is PartKind.SCHEDULER:
                value = nullIfEmpty(value)
                if value is not None and not isinstance(value, str):
                    raise ValueError(
                        f"diaSourceId={srcId}: {name}: expected a string or None, "
                        f"got {type(value).__name__} {value!r}"
                    )
            typed[name] = value
        return typed

    def _typedRecords(self, value, recordName: str, many: bool, srcId):
        if isinstance(value, pd.Series):
            frame = value.to_frame().T.infer_objects()
        elif isinstance(value, pd.DataFrame):
            frame = flattenIndex(value)
        elif isinstance(value, Mapping):
            frame = pd.DataFrame([dict(value)])
        else:
            frame = pd.DataFrame([dict(row) for row in value])
        typed, problems = coerceTable(frame, self.schema.records[recordName], nanAsNull=self.nanAsNull)
        if problems:
            p = problems[0]
            raise ValueError(f"diaSourceId={srcId}: {recordName}.{p.field}: {p.reason}")
        rows = typed.toRecords()
        return rows if many else rows[0]

    def encodeDict(self, alert: Mapping) -> bytes:
        """Encode one alert dict: typed (`typedAlert`), then written by fastavro."""
        stream = io.BytesIO()
        fastavro.schemaless_writer(stream, self.schema.parsed, self.typedAlert(alert))
        return stream.getvalue()

    # -- a visit, in place ----------------------------------------------------

    def encodeVisit(
        self,
        tables: PreparedTables,
        cutouts: dict[str, ImageCutouts | None],
        observationReason,
        targetName,
        log: logging.Logger,
        onAlert=None,
    ) -> EncodedVisit:
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
        adders = [w.add for w in self._fieldWriters(tables, cutouts, observationReason, targetName)]
        layouts = []
        for i in range(len(srcIds)):
            try:
                parts: list = []
                size = 0
                for add in adders:
                    size += add(i, parts)
                layouts.append((i, parts, size))
            except Exception as e:  # one alert's failure must not cost the others
                self._fail(out, log, srcIds[i], e)
        self._writeAlerts(layouts, tables, out, log, onAlert)
        return out

    def _writeAlerts(self, layouts, tables, out: EncodedVisit, log, onAlert) -> None:
        """Write the laid-out alerts into one buffer; collect their payload views."""
        srcIds = tables.diaSourceIds.tolist()
        objIds = tables.diaObjectIds.tolist()
        buffer = np.zeros(sum(size for _, _, size in layouts), dtype=np.uint8)
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
                        view[o : o + n] = piece
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

    def _fieldWriters(
        self, tables: PreparedTables, cutouts: dict[str, ImageCutouts | None], observationReason, targetName
    ) -> list:
        """One writer per schema field, from `ALERT_PARTS`."""
        encoded: dict[str, _RowBytes] = {}
        heads = _Heads()
        scheduler = {"observation_reason": observationReason, "target_name": targetName}

        def rowBytes(part):
            if part.table not in encoded:
                encoded[part.table] = _RowBytes(getattr(tables, part.table))
            return encoded[part.table]

        writers = []
        for name, nullable in self.fields:
            part = _PARTS.get(name)
            kind = None if part is None else part.kind
            if kind is PartKind.ID:
                if "ids" not in encoded:
                    encoded["ids"] = _RowBytes.ofLongs(tables.diaSourceIds)
                writer = _RowWriter(encoded["ids"])
            elif kind is PartKind.SCHEDULER:
                writer = _ConstantWriter(_optionalString(scheduler[name]))
            elif kind is PartKind.RECORD:
                writer = (_UnionRowWriter if nullable else _RowWriter)(rowBytes(part))
            elif kind is PartKind.OPTIONAL_RECORD:
                writer = _OptionalRowWriter(rowBytes(part), getattr(tables, part.rows))
            elif kind is PartKind.ARRAY:
                writer = _SpanWriter(rowBytes(part), getattr(tables, part.rows), heads)
            elif kind is PartKind.CUTOUT and cutouts.get(name) is not None:
                writer = _CutoutWriter(cutouts[name], heads)
            else:
                writer = _ConstantWriter(_NULL)
            writers.append(writer)
        return writers

    @staticmethod
    def _fail(out: EncodedVisit, log: logging.Logger, srcId: int, error: Exception) -> None:
        reason = f"encoding failed: {type(error).__name__}: {error}"
        log.warning("Alert for diaSourceId=%d not packaged: %s", srcId, reason)
        out.failed.append((srcId, reason))
