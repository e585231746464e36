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

"""The catalogs of one visit/detector, typed and grouped for packaging.

`prepareVisitTables` converts each input DataFrame once (`coerceTable`),
groups history and forced sources by diaObjectId once (instead of a ``.loc``
per source), matches solar-system rows by diaSourceId, and decides for every
DiaSource whether it can be packaged.  Per-source rules (``doc/inputs.md``, "Bad input"):

- a DiaSource row with a value that does not fit the schema, or an
  impossible one (`valueDomains`: ra/dec out of range or not finite,
  negative uncertainty, non-positive exposure time, ...), is skipped with a
  warning naming its diaSourceId and the field;
- a history / forced-source row that does not fit, or has an impossible
  value, is dropped from every alert with a warning naming its id;
- a DiaSource whose DiaObject row is missing is packaged with
  ``diaObject = null`` and a warning; likewise a solar-system source without
  its ssSource (or mpc_orbits) row;
- a duplicated diaSourceId: the first row is packaged, the others skipped.
"""

from __future__ import annotations

__all__ = ["PreparedTables", "flattenIndex", "groupRows", "prepareVisitTables"]

import dataclasses
import logging

import numpy as np
import pandas as pd

from ..schemaRegistry import AlertSchema
from .designations import DesignationError, ssObjectIdToPackedDesignation, unpackProvisional
from .typedTable import FieldProblem, TypedTable, coerceTable, selectColumns
from .valueDomains import domainProblems
from .visitInputs import VisitInputs

MPCORB_PREFIX = "MPCORB_"


def flattenIndex(table: pd.DataFrame) -> pd.DataFrame:
    """Return ``table`` with its named index levels as columns, positional index.

    Levels that are also columns (upstream's DiaSource tables carry
    diaObjectId both ways) are dropped rather than duplicated.  The input is
    never modified.
    """
    names = [n for n in table.index.names if n is not None and n not in table.columns]
    if names:
        table = table.reset_index(level=names)
    return table.reset_index(drop=True)


def groupRows(keys: np.ndarray) -> tuple[np.ndarray, dict[int, tuple[int, int]]]:
    """Group rows by key in one pass.

    Returns
    -------
    order : `numpy.ndarray`
        Row positions with each key's rows together: the input order when
        every key's rows are already contiguous (no reordering needed), else
        sorted by key (stable: input order within a key).
    spans : `dict` [`int`, `tuple` [`int`, `int`]]
        For each key, the [start, stop) range of its rows within ``order``,
        so a table taken in ``order`` holds each group contiguously.
    """
    keys = np.asarray(keys)
    if len(keys) == 0:
        return np.zeros(0, dtype=np.intp), {}
    order = np.arange(len(keys))
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    if len(np.unique(keys[starts])) != len(starts):
        order = np.argsort(keys, kind="stable")
        starts = np.flatnonzero(np.r_[True, keys[order][1:] != keys[order][:-1]])
    stops = np.append(starts[1:], len(keys))
    groupKeys = keys[order[starts]]
    return order, {int(k): (int(a), int(b)) for k, a, b in zip(groupKeys, starts, stops, strict=False)}


@dataclasses.dataclass
class PreparedTables:
    """Inputs of one visit/detector ready for packaging.

    Attributes
    ----------
    sources : `lsst.ap.alerts.catalogs.typedTable.TypedTable`
        The DiaSources to package (rows that passed), schema ``diaSource``.
    diaSourceIds, diaObjectIds : `numpy.ndarray`
        Per packaged source; diaObjectId 0 marks a solar-system source.
    ra, dec, x, y : `numpy.ndarray`
        Positions in full (float64) precision, for the cutouts.
    bboxSize : `numpy.ndarray`
        Footprint box side per source.
    objects, history, forced, ssSources, mpcOrbits : `TypedTable`
        Converted tables (history/forced only rows that passed).
    objectRow : `numpy.ndarray`
        Row in ``objects`` of each source's DiaObject, -1 if none.
    historyRows, forcedRows : `list` [`tuple` [`int`, `int`] or `None`]
        [start, stop) rows of ``history`` / ``forced`` (tables ordered by
        diaObjectId, so each object's rows are contiguous) for each source;
        `None` means the field is null in the alert.
    ssRow, mpcRow : `numpy.ndarray`
        Row in ``ssSources`` / ``mpcOrbits`` per source, -1 if none.
    skipped : `list` [`tuple` [`int`, `str`]]
        (diaSourceId, reason) of DiaSources not packaged.
    outOfDomain : `int`
        How many of the skipped DiaSources had only impossible values
        (`lsst.ap.alerts.catalogs.valueDomains`) against them.
    droppedRows : `int`
        History and forced-source rows dropped (value does not fit, or is
        impossible).
    """

    sources: TypedTable
    diaSourceIds: np.ndarray
    diaObjectIds: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    x: np.ndarray
    y: np.ndarray
    bboxSize: np.ndarray
    objects: TypedTable | None
    history: TypedTable | None
    forced: TypedTable | None
    ssSources: TypedTable | None
    mpcOrbits: TypedTable | None
    objectRow: np.ndarray
    historyRows: list
    forcedRows: list
    ssRow: np.ndarray
    mpcRow: np.ndarray
    skipped: list
    outOfDomain: int = 0
    droppedRows: int = 0


def _describe(problems: list[FieldProblem]) -> str:
    return "; ".join(f"{p.field}: {p.reason}" for p in problems)


def _problemsByRow(problems: list[FieldProblem]) -> dict[int, list[FieldProblem]]:
    byRow: dict[int, list[FieldProblem]] = {}
    for problem in problems:
        byRow.setdefault(problem.row, []).append(problem)
    return byRow


def _idColumn(table: pd.DataFrame, name: str) -> np.ndarray:
    """An id column as int64 with -1 for missing values."""
    if name not in table.columns:
        return np.full(len(table), -1, dtype=np.int64)
    return _idValues(table[name])


def _idValues(values: pd.Series | pd.Index) -> np.ndarray:
    """Ids as int64, -1 where missing or not a number."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
        return values.to_numpy().astype(np.int64)  # nothing to coerce or fill
    return pd.to_numeric(pd.Series(values), errors="coerce").fillna(-1).to_numpy(dtype=np.int64)


def _mpcOrbitsFrame(ssSrc: pd.DataFrame, log) -> pd.DataFrame:
    """mpc_orbits columns of ``ssSrc`` (MPCORB_-prefixed), designations filled in.

    Where the packed / unpacked provisional designation is absent (column
    missing or value null) it is derived from the row's ``ssObjectId``
    (Rubin's encoding of the packed designation); ``designation`` defaults
    to the unpacked one.  Without an ``MPCORB_id`` column ``id`` is 0, the
    value upstream's packager always writes (DiaPipelineTask's ephemerides
    need not carry one).
    """
    orbits = pd.DataFrame(
        {c[len(MPCORB_PREFIX) :]: ssSrc[c].to_numpy() for c in ssSrc.columns if c.startswith(MPCORB_PREFIX)},
        index=ssSrc.index,
    )
    if not len(orbits.columns):
        return orbits
    n = len(orbits)

    def column(name):
        values = orbits[name].to_numpy(dtype=object) if name in orbits.columns else np.full(n, None, object)
        return [v if isinstance(v, str) else None for v in values]

    packed = column("packed_primary_provisional_designation")
    unpacked = column("unpacked_primary_provisional_designation")
    designation = column("designation")
    ssObjectIds = ssSrc["ssObjectId"].to_numpy(dtype=object) if "ssObjectId" in ssSrc.columns else [None] * n
    for i in range(n):
        if packed[i] is not None and unpacked[i] is not None and designation[i] is not None:
            continue
        try:
            if packed[i] is None and ssObjectIds[i] is not None and not pd.isna(ssObjectIds[i]):
                packed[i] = ssObjectIdToPackedDesignation(int(ssObjectIds[i]))
            if unpacked[i] is None and packed[i] is not None:
                unpacked[i] = unpackProvisional(packed[i])
        except DesignationError as e:
            log.warning("Cannot derive the MPC designation of ssObjectId %s: %s", ssObjectIds[i], e)
        if designation[i] is None:
            designation[i] = unpacked[i]
    orbits["packed_primary_provisional_designation"] = pd.Series(packed, index=orbits.index, dtype=object)
    orbits["unpacked_primary_provisional_designation"] = pd.Series(unpacked, index=orbits.index, dtype=object)
    orbits["designation"] = pd.Series(designation, index=orbits.index, dtype=object)
    if "id" not in orbits.columns:
        orbits["id"] = np.zeros(n, dtype=np.int64)
    return orbits


@dataclasses.dataclass
class _NewSources:
    """The DiaSources to package, typed, and those skipped."""

    typed: TypedTable
    ids: np.ndarray
    diaObjectIds: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    x: np.ndarray
    y: np.ndarray
    bboxSize: np.ndarray
    skipped: list
    outOfDomain: int


def _floatColumn(table: pd.DataFrame, name: str) -> np.ndarray:
    """A column as float64 (NaN where absent or not a number)."""
    if name not in table.columns or not len(table):
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)


def _floatColumns(table: pd.DataFrame, names) -> list[np.ndarray]:
    """`_floatColumn` of each name; the plain numeric columns fetched in one selection."""
    labels = table.columns.tolist()
    dtypes = dict(zip(labels, table.dtypes, strict=True))
    plain = [
        name
        for name in names
        if labels.count(name) == 1 and isinstance(dtypes[name], np.dtype) and dtypes[name].kind in "biuf"
    ]
    fetched = {}
    if plain and len(table):
        values = selectColumns(table, [labels.index(name) for name in plain]).to_numpy(dtype=np.float64).T
        fetched = dict(zip(plain, values, strict=True))
    return [fetched[name] if name in fetched else _floatColumn(table, name) for name in names]


def _prepareSources(recordSchema, diaSourceCat, log, nanAsNull) -> _NewSources:
    """Type the new DiaSources; skip (with a warning) those that cannot be packaged.

    A row is skipped when a value does not fit its field, breaks a domain
    rule (`valueDomains`), or repeats an earlier row's diaSourceId.
    """
    sourcesIn = flattenIndex(diaSourceCat)
    typed, problems = coerceTable(sourcesIn, recordSchema, nanAsNull=nanAsNull)
    outside = domainProblems(typed)
    ids = _idColumn(sourcesIn, "diaSourceId")
    keep = np.ones(len(sourcesIn), dtype=bool)
    skipped: list[tuple[int, str]] = []

    def skip(row, reason):
        if keep[row]:
            keep[row] = False
            skipped.append((int(ids[row]), reason))
            log.warning("Skipping DiaSource diaSourceId=%d: %s", ids[row], reason)

    fitRows = _problemsByRow(problems)
    for row, rowProblems in fitRows.items():
        skip(row, _describe(rowProblems))
    outsideRows = _problemsByRow(outside)
    for row, rowProblems in outsideRows.items():
        skip(row, "impossible value: " + _describe(rowProblems))
    seen: set[int] = set()
    for row in range(len(ids)):
        if ids[row] in seen:
            skip(row, "duplicate diaSourceId (the first row with this id is packaged)")
        seen.add(int(ids[row]))
    rows = np.flatnonzero(keep)
    diaObjectIds = _idColumn(sourcesIn, "diaObjectId")[rows]
    ra, dec, x, y, bboxSize = _floatColumns(sourcesIn, ("ra", "dec", "x", "y", "bboxSize"))
    diaObjectIds[diaObjectIds < 0] = 0  # a null diaObjectId is a solar-system source, like 0
    return _NewSources(
        typed=typed.take(rows),
        ids=ids[rows],
        diaObjectIds=diaObjectIds,
        ra=ra[rows],
        dec=dec[rows],
        x=x[rows],
        y=y[rows],
        # From the input: schemas before 10.0 have no bboxSize field (absent: the minimum cutout).
        bboxSize=np.nan_to_num(bboxSize[rows], nan=0.0).astype(np.int64),
        skipped=skipped,
        outOfDomain=len(set(outsideRows) - set(fitRows)),
    )


def _objectIds(table: pd.DataFrame) -> np.ndarray:
    """``_idColumn(flattenIndex(table), "diaObjectId")`` without copying the table."""
    return _levelOrColumnIds(table, "diaObjectId")


def _levelOrColumnIds(table: pd.DataFrame, name: str) -> np.ndarray:
    """``_idColumn(flattenIndex(table), name)`` without copying the table."""
    if name in table.columns or name not in table.index.names:
        return _idColumn(table, name)
    return _idValues(table.index.get_level_values(name))


def _rowsOfObjects(table: pd.DataFrame, wanted: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """The rows of ``table`` whose diaObjectId is in ``wanted`` (`None`: all of
    them), and their diaObjectIds (`_idColumn`).

    Only the DiaObjects of the visit's DiaSources reach an alert; the rest
    of a region's objects, histories and forced sources need no typing, and
    `coerceTable` never copies them.
    """
    if not len(wanted):
        # A visit without DiaSources: no row is read.
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64)
    objectIds = _objectIds(table)
    keep = np.isin(objectIds, wanted)
    if keep.all():
        return None, objectIds
    rows = np.flatnonzero(keep)
    return rows, objectIds[rows]


def _nDiaSources(diaObjectCat: pd.DataFrame, objects: TypedTable, rows) -> np.ndarray:
    """``nDiaSources`` per row of ``objects`` (0 where absent, null or not a number).

    The typed field where the schema has one (8.0 on); else the input's
    column or index level, as it is.
    """
    if "nDiaSources" in objects.columns:
        return objects.columns["nDiaSources"].astype(np.int64)  # 0 under nulls
    if not objects.size or "nDiaSources" not in [*diaObjectCat.columns.tolist(), *diaObjectCat.index.names]:
        return np.zeros(objects.size, dtype=np.int64)
    counts = flattenIndex(diaObjectCat)["nDiaSources"]
    counts = counts if rows is None else counts.iloc[rows]
    return pd.to_numeric(counts, errors="coerce").fillna(0).to_numpy(dtype=np.int64)


def _linkObjects(recordSchema, diaObjectCat, sources: _NewSources, log, nanAsNull, wanted):
    """Type the DiaObjects of ``wanted`` and find each source's row (-1: none, with a warning).

    Returns
    -------
    objects : `TypedTable`
    objectRow : `numpy.ndarray`
        Row in ``objects`` per source.
    nDiaSources : `numpy.ndarray`
        ``nDiaSources`` per row of ``objects`` (0 where absent).
    """
    rows, objectIds = _rowsOfObjects(diaObjectCat, wanted)
    objects, problems = coerceTable(diaObjectCat, recordSchema, nanAsNull=nanAsNull, rows=rows)
    problems += domainProblems(objects)
    badRows = _problemsByRow(problems)
    for row, rowProblems in badRows.items():
        log.warning(
            "DiaObject diaObjectId=%d does not fit the schema (%s); its alerts get diaObject=null",
            objectIds[row],
            _describe(rowProblems),
        )
    objectIndex = {int(oid): row for row, oid in enumerate(objectIds) if row not in badRows}
    nDiaSources = _nDiaSources(diaObjectCat, objects, rows)
    objectRow = np.full(len(sources.ids), -1, dtype=np.int64)
    for i, oid in enumerate(sources.diaObjectIds.tolist()):
        if oid == 0:
            continue
        row = objectIndex.get(oid, -1)
        if row < 0:
            log.warning(
                "DiaSource diaSourceId=%d: DiaObject %d missing from diaObjectCat; "
                "packaging it with diaObject=null",
                sources.ids[i],
                oid,
            )
        objectRow[i] = row
    return objects, objectRow, nDiaSources


def _groupedRows(table, recordSchema, idName, what, log, nanAsNull, wanted):
    """Type a history-like table's rows of ``wanted`` DiaObjects, drop those that do not fit,
    group the rest by diaObjectId.

    Returns
    -------
    typed : `TypedTable` or `None`
        The kept rows, each object's rows contiguous (`None` for no table).
    groups : `dict` [`int`, `tuple` [`int`, `int`]]
        [start, stop) rows of ``typed`` per diaObjectId.
    dropped : `int`
        Rows dropped.
    """
    if table is None:
        return None, {}, 0
    rows, objectIds = _rowsOfObjects(table, wanted)
    if not len(objectIds):
        return None, {}, 0
    typed, problems = coerceTable(table, recordSchema, nanAsNull=nanAsNull, rows=rows)
    problems += domainProblems(typed)
    keep = np.ones(typed.size, dtype=bool)
    if problems:
        ids = _levelOrColumnIds(table, idName)
        ids = ids if rows is None else ids[rows]
        for row, rowProblems in _problemsByRow(problems).items():
            keep[row] = False
            log.warning(
                "Dropping %s %s=%d from the alerts: %s", what, idName, ids[row], _describe(rowProblems)
            )
    keepRows = np.flatnonzero(keep)
    order, groups = groupRows(objectIds[keepRows])
    return typed.take(keepRows[order]), groups, int(len(keep) - len(keepRows))


def _historySpans(
    diaObjectIds,
    objectRow,
    nDiaSources,
    historyGroups,
    forcedGroups,
    doRunForcedMeasurement,
    forcedSourceHistoryThreshold,
):
    """Each source's rows of the history and forced tables (`None`: the field is null)."""
    empty = (0, 0)
    historyRows: list = []
    forcedRows: list = []
    for oid, row in zip(diaObjectIds.tolist(), objectRow.tolist(), strict=False):
        if oid == 0:
            historyRows.append(None)
            forcedRows.append(None)
            continue
        nSources = int(nDiaSources[row]) if row >= 0 else 0
        # As upstream: no previous DiaSources unless the object has more than
        # this one; forced sources only above the history threshold.
        historyRows.append(historyGroups.get(oid, empty) if nSources > 1 else None)
        if doRunForcedMeasurement and nSources >= forcedSourceHistoryThreshold:
            forcedRows.append(forcedGroups.get(oid, empty))
        else:
            forcedRows.append(empty)
    return historyRows, forcedRows


def _matchSolarSystem(records, ssSrc, sources: _NewSources, log, nanAsNull):
    """ssSource and mpc_orbits rows of the solar-system sources, by diaSourceId.

    Returns
    -------
    ssSources, mpcOrbits : `TypedTable` or `None`
    ssRow, mpcRow : `numpy.ndarray`
        Row per source, -1 for none (the field is null; warned).
    """
    n = len(sources.ids)
    ssRow = np.full(n, -1, dtype=np.int64)
    mpcRow = np.full(n, -1, dtype=np.int64)
    solarSystem = np.flatnonzero(sources.diaObjectIds == 0)
    if not len(solarSystem) or "ssSource" not in records:  # schemas before 8.0 have no ssSource
        return None, None, ssRow, mpcRow
    if ssSrc is None or not len(ssSrc):
        for i in solarSystem:
            log.warning(
                "Solar-system DiaSource diaSourceId=%d has no ssSource row (no ssSrc given); "
                "packaging it with ssSource=null",
                sources.ids[i],
            )
        return None, None, ssRow, mpcRow
    ssIn = flattenIndex(ssSrc)
    ssSources, ssProblems = coerceTable(ssIn, records["ssSource"], nanAsNull=nanAsNull)
    # Schemas before 10.0 have no mpc_orbits record: no orbit columns then.
    orbitsIn = _mpcOrbitsFrame(ssIn, log) if "mpc_orbits" in records else pd.DataFrame(index=ssIn.index)
    mpcOrbits, mpcProblems = coerceTable(
        orbitsIn, records.get("mpc_orbits", {"name": "mpc_orbits", "fields": []}), nanAsNull=nanAsNull
    )
    badSs, badMpc = _problemsByRow(ssProblems), _problemsByRow(mpcProblems)
    ssIndex: dict[int, int] = {}
    for row, sid in enumerate(_idColumn(ssIn, "diaSourceId").tolist()):
        ssIndex.setdefault(sid, row)
    for i in solarSystem:
        srcId = int(sources.ids[i])
        row = ssIndex.get(srcId, -1)
        if row < 0:
            log.warning(
                "Solar-system DiaSource diaSourceId=%d has no ssSource row; packaging it with ssSource=null",
                srcId,
            )
            continue
        if row in badSs:
            log.warning(
                "ssSource of diaSourceId=%d does not fit the schema (%s); ssSource=null",
                srcId,
                _describe(badSs[row]),
            )
        else:
            ssRow[i] = row
        if not len(orbitsIn.columns):
            continue
        if row in badMpc:
            log.warning(
                "mpc_orbits of diaSourceId=%d does not fit the schema (%s); mpc_orbits=null",
                srcId,
                _describe(badMpc[row]),
            )
        else:
            mpcRow[i] = row
    return ssSources, mpcOrbits, ssRow, mpcRow


def prepareVisitTables(
    schema: AlertSchema,
    inputs: VisitInputs,
    doRunForcedMeasurement: bool,
    forcedSourceHistoryThreshold: int,
    log: logging.Logger,
    nanAsNull: bool = False,
) -> PreparedTables:
    """Convert and group the catalogs of one visit/detector.

    Of ``diaObjectCat``, ``diaSrcHistory`` and ``diaForcedSources`` only the
    rows of the DiaObjects of ``diaSourceCat`` are typed and checked: the
    others (a region's objects without a DiaSource in this visit) are in no
    alert.

    Parameters
    ----------
    schema : `lsst.ap.alerts.schemaRegistry.AlertSchema`
        Alert schema; its ``diaSource``, ``diaObject``, ``diaForcedSource``,
        ``ssSource`` and ``mpc_orbits`` records define the types.
    inputs : `lsst.ap.alerts.catalogs.visitInputs.VisitInputs`
        The run's inputs (the catalogs are used here).
    doRunForcedMeasurement : `bool`
        Whether forced sources go in the alerts at all.
    forcedSourceHistoryThreshold : `int`
        Minimum ``nDiaSources`` of a DiaObject for its forced sources to be
        included.
    log : `logging.Logger`
        Where per-source warnings go.
    nanAsNull : `bool`, optional
        Null instead of NaN in nullable float fields (see `coerceTable`).
    """
    records = schema.records
    sources = _prepareSources(records["diaSource"], inputs.diaSourceCat, log, nanAsNull)
    # The DiaObjects of every input DiaSource (skipped ones too, so their rows are still checked).
    wanted = np.unique(_objectIds(inputs.diaSourceCat))
    objects, objectRow, nDiaSources = _linkObjects(
        records["diaObject"], inputs.diaObjectCat, sources, log, nanAsNull, wanted
    )
    history, historyGroups, droppedHistory = _groupedRows(
        inputs.diaSrcHistory, records["diaSource"], "diaSourceId", "history DiaSource", log, nanAsNull, wanted
    )
    forced, forcedGroups, droppedForced = _groupedRows(
        inputs.diaForcedSources if doRunForcedMeasurement else None,
        records["diaForcedSource"],
        "diaForcedSourceId",
        "DiaForcedSource",
        log,
        nanAsNull,
        wanted,
    )
    historyRows, forcedRows = _historySpans(
        sources.diaObjectIds,
        objectRow,
        nDiaSources,
        historyGroups,
        forcedGroups,
        doRunForcedMeasurement,
        forcedSourceHistoryThreshold,
    )
    ssSources, mpcOrbits, ssRow, mpcRow = _matchSolarSystem(records, inputs.ssSrc, sources, log, nanAsNull)
    return PreparedTables(
        sources=sources.typed,
        diaSourceIds=sources.ids,
        diaObjectIds=sources.diaObjectIds,
        ra=sources.ra,
        dec=sources.dec,
        x=sources.x,
        y=sources.y,
        bboxSize=sources.bboxSize,
        objects=objects,
        history=history,
        forced=forced,
        ssSources=ssSources,
        mpcOrbits=mpcOrbits,
        objectRow=objectRow,
        historyRows=historyRows,
        forcedRows=forcedRows,
        ssRow=ssRow,
        mpcRow=mpcRow,
        skipped=sources.skipped,
        outOfDomain=sources.outOfDomain,
        droppedRows=droppedHistory + droppedForced,
    )
