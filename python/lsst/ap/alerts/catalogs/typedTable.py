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

"""Catalog tables → schema-typed columns.

Every table that goes into an alert (diaSource, diaObject, the histories,
ssSource, mpc_orbits) is converted once, column by column, to the types its
Avro record schema asks for.  The result, a `TypedTable`, is what both the
fast columnar encoder and the dict path (`TypedTable.toRecords`) consume, so
the two can never disagree on a value.

Conversion rules (documented in ``doc/inputs.md``, "Value rules"):

- A nullable field (``["null", T]``) is null where the input is ``None``,
  ``pandas.NA`` or ``NaT``, and, for int/long/boolean/string fields, also
  where it is a float NaN (pandas' missing-value marker for those dtypes).
  A NaN in a float/double field stays NaN, as upstream sends it, unless
  ``nanAsNull`` is given (then it is null, as in Rubin's sample alerts).
- ``float`` fields are rounded to float32 and ``double`` to float64 exactly as
  an Avro writer does; ``int``/``long`` values must be integral and in range.
- A field the table lacks is null if nullable, its schema default if it has
  one, and otherwise a problem for every row.
- ``timestamp-micros`` fields accept datetime64 columns (converted to
  microseconds since the Unix epoch) or integers.

A value that cannot be converted is not raised at once: it is recorded as a
`FieldProblem` for its row, and the caller decides (skip the alert, drop the
history row, or fail validation up front).
"""

from __future__ import annotations

__all__ = [
    "FieldProblem",
    "FieldSpec",
    "TypedTable",
    "coerceTable",
    "duplicateNames",
    "fieldSpecs",
    "selectColumns",
]

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

# numpy dtype holding each Avro primitive once converted.
_NUMPY_TYPES = {
    "long": np.dtype(np.int64),
    "int": np.dtype(np.int32),
    "float": np.dtype(np.float32),
    "double": np.dtype(np.float64),
    "boolean": np.dtype(np.bool_),
    "string": np.dtype(object),
    "bytes": np.dtype(object),
}
_INT_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """What one field of an Avro record needs.

    Attributes
    ----------
    name : `str`
        Field name.
    avroType : `str`
        Primitive Avro type (``long``, ``int``, ``float``, ``double``,
        ``boolean``, ``string``, ``bytes``).
    nullable : `bool`
        Whether the field is a ``["null", T]`` union (null first).
    logicalType : `str` or `None`
        Avro logical type, e.g. ``timestamp-micros``.
    hasDefault : `bool`
        Whether the schema gives a default.
    default : `object`
        The schema default (meaningful only when ``hasDefault``).
    """

    name: str
    avroType: str
    nullable: bool
    logicalType: str | None = None
    hasDefault: bool = False
    default: object = None

    @property
    def numpyType(self) -> np.dtype:
        return _NUMPY_TYPES[self.avroType]


@dataclasses.dataclass(frozen=True)
class FieldProblem:
    """A value that does not fit its schema field.

    Attributes
    ----------
    row : `int`
        Position of the row in the input table.
    field : `str`
        Schema field name.
    reason : `str`
        What is wrong, e.g. ``"null in a non-nullable long field"``.
    """

    row: int
    field: str
    reason: str


def _primitive(avroType) -> tuple[str, str | None]:
    """Return the primitive type name and logical type of a non-union type."""
    if isinstance(avroType, dict):
        return avroType["type"], avroType.get("logicalType")
    return avroType, None


def _fieldSpec(field: Mapping) -> FieldSpec:
    avroType = field["type"]
    nullable = False
    if isinstance(avroType, list):
        branches = [b for b in avroType if b != "null"]
        if len(branches) != 1 or avroType[0] != "null":
            raise ValueError(f"Unsupported union {avroType!r} in field {field['name']!r}")
        nullable = True
        avroType = branches[0]
    primitive, logical = _primitive(avroType)
    if primitive not in _NUMPY_TYPES:
        raise ValueError(f"Unsupported Avro type {primitive!r} in field {field['name']!r}")
    return FieldSpec(
        name=field["name"],
        avroType=primitive,
        nullable=nullable,
        logicalType=logical,
        hasDefault="default" in field,
        default=field.get("default"),
    )


# Keyed by id() but holding the schema itself, so an id is never reused
# while its entry lives.
_SPEC_CACHE: dict[int, tuple[Mapping, tuple[FieldSpec, ...]]] = {}


def fieldSpecs(recordSchema: Mapping) -> tuple[FieldSpec, ...]:
    """Return the `FieldSpec` of every field of a flat Avro record schema.

    Parameters
    ----------
    recordSchema : `dict`
        An Avro ``record`` whose fields are primitives or ``["null", T]``.

    Returns
    -------
    specs : `tuple` [`FieldSpec`]
        In schema order.
    """
    cached = _SPEC_CACHE.get(id(recordSchema))
    if cached is not None and cached[0] is recordSchema:
        return cached[1]
    specs = tuple(_fieldSpec(f) for f in recordSchema["fields"])
    _SPEC_CACHE[id(recordSchema)] = (recordSchema, specs)
    return specs


@dataclasses.dataclass
class TypedTable:
    """A table converted to the types of one Avro record schema.

    Attributes
    ----------
    schema : `dict`
        The Avro record schema.
    specs : `tuple` [`FieldSpec`]
        Field specifications, in schema order.
    columns : `dict` [`str`, `numpy.ndarray`]
        One array per field with the dtype of `FieldSpec.numpyType`
        (``object`` arrays of `str`/`bytes` for strings and bytes).  Values
        under a null are unspecified (zero / ``None``).
    nulls : `dict` [`str`, `numpy.ndarray` or `None`]
        Boolean null mask per field, `None` where nothing is null.
    size : `int`
        Number of rows.
    """

    schema: dict
    specs: tuple[FieldSpec, ...]
    columns: dict[str, np.ndarray]
    nulls: dict[str, np.ndarray | None]
    size: int

    def take(self, rows: Sequence[int] | np.ndarray) -> TypedTable:
        """Return the table restricted to (and reordered by) ``rows``."""
        rows = np.asarray(rows, dtype=np.intp)
        if len(rows) == self.size and np.array_equal(rows, np.arange(self.size)):
            return self  # already in order (tables are never modified in place)
        return TypedTable(
            schema=self.schema,
            specs=self.specs,
            columns={k: v[rows] for k, v in self.columns.items()},
            nulls={k: (None if m is None else m[rows]) for k, m in self.nulls.items()},
            size=len(rows),
        )

    def toRecords(self) -> list[dict]:
        """Return the rows as dicts of plain Python values (`None` for null).

        float32 fields give the Python float of the float32 value, so an Avro
        writer encodes exactly the bytes the columnar encoder does.
        """
        lists = {}
        for spec in self.specs:
            values = self.columns[spec.name].tolist()
            mask = self.nulls[spec.name]
            if mask is not None:
                for i in np.flatnonzero(mask):
                    values[i] = None
            lists[spec.name] = values
        names = [spec.name for spec in self.specs]
        columns = [lists[n] for n in names]
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)] if self.size else []


def _missingMask(series: pd.Series) -> np.ndarray:
    """Null marker of pandas: None, NA, NaT and NaN."""
    dtype = series.dtype
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        # Masked and Arrow arrays know their nulls; pd.isna would rebuild a Series.
        return np.asarray(series.array.isna(), dtype=bool)
    if dtype.kind in "biu":
        return np.zeros(len(series), dtype=bool)
    return np.asarray(pd.isna(series), dtype=bool)


def _floatNullMask(series: pd.Series) -> np.ndarray:
    """Nulls of a column for a float field: None/NA/NaT, never NaN (a legitimate float)."""
    dtype = series.dtype
    n = len(series)
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and hasattr(series.array, "_mask"):
        return np.asarray(series.array._mask, dtype=bool)
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        missing = (v is None or v is pd.NA or v is pd.NaT for v in series.array)
        return np.fromiter(missing, dtype=bool, count=n)
    if dtype.kind in "fiub":
        return np.zeros(n, dtype=bool)
    return _missingMask(series)


def _floatValues(spec, series, nullMask, problems, positions) -> np.ndarray:
    """The column as float64 (0 under nulls); values that are not numbers become problems."""
    try:
        filled = series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        filled = series.to_numpy(dtype=object)
    try:
        values = np.asarray(filled, dtype=np.float64)
    except (TypeError, ValueError):
        values = np.zeros(len(series), dtype=np.float64)
        for i in np.flatnonzero(~nullMask):
            try:
                values[i] = float(filled[i])
            except (TypeError, ValueError):
                problems.append(FieldProblem(positions[i], spec.name, f"not a number: {filled[i]!r}"))
    return np.where(nullMask, 0.0, values)


def _coerceFloat(spec, series, problems, positions, nanAsNull):
    """Convert a float/double column; NaN stays NaN unless ``nanAsNull`` (nullable fields)."""
    nullMask = _floatNullMask(series)
    values = _floatValues(spec, series, nullMask, problems, positions)
    return _narrowFloat(spec, values, nullMask, problems, positions, nanAsNull)


def _narrowFloat(spec, values, nullMask, problems, positions, nanAsNull):
    """float64 values (0 under nulls) to the field's type; overflows become problems."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = values.astype(spec.numpyType)
    if spec.avroType == "float":
        # Finite doubles beyond float32's range would silently become inf.
        overflow = np.isfinite(values) & ~np.isfinite(out) & ~nullMask
        for i in np.flatnonzero(overflow):
            problems.append(FieldProblem(positions[i], spec.name, f"{values[i]!r} overflows a float32 field"))
    if nanAsNull and spec.nullable:
        nullMask = nullMask | np.isnan(values)
    return out, nullMask


def _coerceBoolean(spec, series, native, nullMask, problems, positions):
    """Convert a boolean column: booleans, or numbers 0 and 1."""
    if native is not None and native.dtype.kind == "b":
        return native.astype(np.bool_), nullMask  # nulls are already False (na_value=0)
    out = np.zeros(len(nullMask), dtype=np.bool_)
    if native is not None:
        valid = ~nullMask & ((native == 0) | (native == 1))
        for i in np.flatnonzero(~nullMask & ~valid):
            problems.append(FieldProblem(positions[i], spec.name, f"not a boolean: {native[i]!r}"))
        out[valid] = native[valid] != 0
        return out, nullMask
    for i, v in enumerate(series.array):
        if nullMask[i]:
            continue
        isNumber = isinstance(v, (int, np.integer, float, np.floating))
        if isinstance(v, (bool, np.bool_)) or (isNumber and v in (0, 1)):
            out[i] = bool(v)
        else:
            problems.append(FieldProblem(positions[i], spec.name, f"not a boolean: {v!r}"))
    return out, nullMask


def _integerOrProblem(spec, v, lo, hi):
    """One object value as a Python int in [lo, hi], or the reason it is not."""
    if isinstance(v, (bool, np.bool_, int, np.integer)):
        iv = int(v)
    elif isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
        iv = int(v)
    elif isinstance(v, pd.Timestamp):
        iv = int(v.value // 1000)
    else:
        return None, f"not an integer: {v!r}"
    if iv < lo or iv > hi:
        return None, f"{iv} out of range for {spec.avroType}"
    return iv, None


def _coerceInteger(spec, series, native, nullMask, problems, positions):
    """Convert an int/long column (timestamp-micros included): integral and in range."""
    lo, hi = _INT_RANGES[spec.avroType]
    out = np.zeros(len(nullMask), dtype=spec.numpyType)
    if native is None and series.dtype.kind == "M":
        micros = series.to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT")).astype(np.int64)
        out[:] = np.where(nullMask, 0, micros)
        return out, nullMask
    if native is None:
        for i, v in enumerate(series.array):
            if not nullMask[i]:
                iv, reason = _integerOrProblem(spec, v, lo, hi)
                if reason is not None:
                    problems.append(FieldProblem(positions[i], spec.name, reason))
                else:
                    out[i] = iv
        return out, nullMask
    kind = native.dtype.kind
    if kind == "f":
        with np.errstate(invalid="ignore"):
            integral = np.isfinite(native) & (np.floor(native) == native)
            bad = ~nullMask & ~(integral & (native >= lo) & (native <= hi))
        reason = "not an integer in range for " + spec.avroType
    elif kind == "u" and native.dtype.itemsize == 8:
        bad = ~nullMask & (native > np.uint64(hi))
        reason = "out of range for " + spec.avroType
    else:
        wide = native.astype(np.int64)
        bad = ~nullMask & ((wide < lo) | (wide > hi))
        reason = "out of range for " + spec.avroType
    for i in np.flatnonzero(bad):
        problems.append(FieldProblem(positions[i], spec.name, f"{native[i]!r} {reason}"))
    out[:] = np.where(bad | nullMask, 0, native).astype(spec.numpyType)
    return out, nullMask


def _coerceNumeric(spec, series, problems, positions, nanAsNull=False):
    """Convert one numeric column; append problems; return (values, nulls)."""
    if spec.avroType in ("float", "double"):
        return _coerceFloat(spec, series, problems, positions, nanAsNull)
    nullMask = _missingMask(series)
    native = _nativeValues(series)
    if spec.avroType == "boolean":
        return _coerceBoolean(spec, series, native, nullMask, problems, positions)
    return _coerceInteger(spec, series, native, nullMask, problems, positions)


def _coerceNumericArray(spec, native, problems, positions, nanAsNull, nullMask=None):
    """`_coerceNumeric` for a column already fetched as a numpy numeric/boolean array.

    ``nullMask`` marks the nulls of a masked column (its values are 0
    there); without it, as for a pandas column, NaN is a value of a float
    field but a null of any other.
    """
    if spec.avroType in ("float", "double"):
        if nullMask is None:
            nullMask = np.zeros(len(native), dtype=bool)
        return _narrowFloat(spec, native.astype(np.float64), nullMask, problems, positions, nanAsNull)
    if nullMask is None:
        nullMask = np.isnan(native) if native.dtype.kind == "f" else np.zeros(len(native), dtype=bool)
    if spec.avroType == "boolean":
        return _coerceBoolean(spec, None, native, nullMask, problems, positions)
    return _coerceInteger(spec, None, native, nullMask, problems, positions)


def _blockGroup(dtype):
    """How a column is fetched: ``(masked, fetch dtype)``, or `None` for the per-column path.

    Plain numpy numeric columns are fetched widened (floats as float64,
    integers as int64) so that one selection takes each kind whatever its
    width; the field types narrow them again, exactly.  pandas' masked
    boolean/integer columns (``boolean``, ``Int64`` …) come with their nulls.
    uint64 keeps its own dtype: int64 cannot hold all of it.
    """
    masked = isinstance(dtype, pd.core.arrays.masked.BaseMaskedDtype)
    native = dtype.numpy_dtype if masked else dtype
    if not isinstance(native, np.dtype) or native.kind not in "biuf" or (masked and native.kind == "f"):
        return None
    if native.kind == "f":
        return masked, np.dtype(np.float64)
    if native.kind == "b" or native == np.uint64:
        return masked, native
    return masked, np.dtype(np.int64)


def _numericBlocks(table: pd.DataFrame, specs, overrides, rows=None) -> list[_Block]:
    """The numeric fields' columns (at ``rows`` only, if given), fetched a few column kinds at a time.

    One selection per kind (`_blockGroup`) instead of one ``Series`` per
    column: the per-column pandas overhead dominated small tables; rows
    are picked from the fetched arrays, one numpy take per kind.  Empty
    when column names repeat (the per-column path reports the duplicate).
    """
    names = table.columns.tolist()
    if len(set(names)) != len(names):
        return []
    bySpec = {s.name: s for s in specs if s.avroType not in ("string", "bytes") and s.name not in overrides}
    groups: dict[tuple, list[tuple[int, FieldSpec]]] = {}
    for position, (name, dtype) in enumerate(zip(names, table.dtypes, strict=True)):
        group = _blockGroup(dtype) if name in bySpec else None
        if group is not None:
            groups.setdefault(group, []).append((position, bySpec[name]))
    if not groups:
        return []
    byPosition = _positionallyLabelled(table)
    blocks = []
    for (masked, fetchDtype), members in groups.items():
        selected = selectColumns(byPosition, [position for position, _ in members])
        # Transposed: one C-contiguous row per column.
        if masked and fetchDtype.kind == "b":
            # One pass instead of values and isna: NA read as -1.
            coded = selected.to_numpy(dtype=np.int8, na_value=-1).T
            values, nulls = coded > 0, coded < 0
        elif masked:
            values = selected.to_numpy(dtype=fetchDtype, na_value=0).T
            nulls = selected.isna().to_numpy().T
        else:
            values, nulls = selected.to_numpy(dtype=fetchDtype).T, None
        if rows is not None:
            values = values[:, rows]
            nulls = None if nulls is None else nulls[:, rows]
        blocks.append(_Block([spec for _, spec in members], values, nulls))
    return blocks


def _positionallyLabelled(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (not copied) with columns labelled 0, 1, …: taking columns
    through pandas' (Arrow) string column index costs more than the copy."""
    if isinstance(table.columns, pd.RangeIndex) and table.columns.start == 0 and table.columns.step == 1:
        return table
    return table.set_axis(pd.RangeIndex(len(table.columns)), axis=1)


def selectColumns(table: pd.DataFrame, positions: list[int]) -> pd.DataFrame:
    """The columns at ``positions`` (labelled by their positions), without a per-column cost.

    Parameters
    ----------
    table : `pandas.DataFrame`
        Any frame.
    positions : `list` [`int`]
        Column positions.

    Returns
    -------
    selected : `pandas.DataFrame`
        Those columns in that order, with the table's index.
    """
    return _positionallyLabelled(table).take(positions, axis=1)


@dataclasses.dataclass
class _Block:
    """Columns of one kind: ``values[j]`` (and ``nulls[j]``, masked columns only) is ``specs[j]``'s."""

    specs: list
    values: np.ndarray
    nulls: np.ndarray | None


def _coerceBlocks(blocks: list[_Block], positions, nanAsNull) -> dict[str, tuple]:
    """Convert fetched blocks: ``{name: (values, nulls, problems)}``.

    The common cases, float fields from float columns and boolean fields
    from masked boolean columns, are converted a whole block at a time;
    any column with a problem, and every other case, goes through
    `_coerceNumericArray` (same values, same problems, in field order).
    Nulls are `None` where nothing is null.
    """
    out: dict[str, tuple] = {}
    for block in blocks:
        kind = block.values.dtype.kind
        if kind == "f" and block.nulls is None:
            _floatBlock(block, nanAsNull, out)
        elif kind == "b" and block.nulls is not None:
            _booleanBlock(block, out)
        for j, spec in enumerate(block.specs):
            if spec.name not in out:
                problems: list[FieldProblem] = []
                nulls = None if block.nulls is None else block.nulls[j]
                converted = _coerceNumericArray(spec, block.values[j], problems, positions, nanAsNull, nulls)
                out[spec.name] = (*converted, problems)
    return out


def _floatBlock(block: _Block, nanAsNull: bool, out: dict) -> None:
    """Float/double fields of a plain float block; a float32 overflow is left to the per-column path."""
    for avroType in ("float", "double"):
        rows = [j for j, spec in enumerate(block.specs) if spec.avroType == avroType]
        if not rows:
            continue
        wide = block.values[rows]
        with np.errstate(over="ignore", invalid="ignore"):
            values = wide.astype(np.float32) if avroType == "float" else wide
            fine = ~(np.isfinite(wide) & ~np.isfinite(values)).any(axis=1) if avroType == "float" else None
        nan = np.isnan(wide) if nanAsNull else None
        hasNan = nan.any(axis=1) if nanAsNull else None
        for k, j in enumerate(rows):
            spec = block.specs[j]
            if fine is not None and not fine[k]:
                continue
            nullable = nanAsNull and spec.nullable and hasNan[k]
            out[spec.name] = (values[k], nan[k] if nullable else None, [])


def _booleanBlock(block: _Block, out: dict) -> None:
    """Boolean fields of a masked boolean block (nulls read as False)."""
    hasNull = block.nulls.any(axis=1)
    for j, spec in enumerate(block.specs):
        if spec.avroType != "boolean":
            continue
        if not hasNull[j]:
            out[spec.name] = (block.values[j], None, [])
        elif spec.nullable:
            out[spec.name] = (block.values[j], block.nulls[j], [])


def duplicateNames(names: list) -> set:
    """Return the names that occur more than once.

    Done in Python: pandas' ``Index.duplicated`` costs milliseconds on a
    string column index.

    Parameters
    ----------
    names : `list`
        Column names, e.g. ``table.columns.tolist()``.

    Returns
    -------
    duplicated : `set`
        The repeated names (empty when all are distinct).
    """
    if len(set(names)) == len(names):
        return set()
    seen: set = set()
    return {name for name in names if name in seen or seen.add(name)}


def _emptyTable(table: pd.DataFrame, recordSchema, specs, overrides) -> TypedTable:
    """`coerceTable` of a table without rows: empty arrays of each field's type, nothing null."""
    duplicated = duplicateNames(table.columns.tolist())
    if duplicated:
        for spec in specs:
            if spec.name in duplicated and spec.name not in overrides:
                raise ValueError(f"Duplicate column {spec.name!r} in the input table")
    columns = {spec.name: np.zeros(0, dtype=spec.numpyType) for spec in specs}
    return TypedTable(recordSchema, specs, columns, dict.fromkeys(columns), 0)


def _inputSeries(spec, table, overrides, indexNames, n, rows):
    """Where a field's values come from: an override, a column, an index level, the
    schema default; `None` when the table has none of these.  ``n`` values
    (of ``rows`` of the table if not `None`)."""
    if spec.name in overrides:
        return pd.Series([overrides[spec.name]] * n, dtype=object)
    if spec.name in table.columns:
        series = table[spec.name]
    elif spec.name in indexNames:
        series = pd.Series(table.index.get_level_values(spec.name))
    elif spec.hasDefault and not spec.nullable:
        return pd.Series([spec.default] * n, dtype=object)
    else:
        return None
    if rows is None or isinstance(series, pd.DataFrame):
        return series
    return series.iloc[rows]


def _nativeValues(series: pd.Series) -> np.ndarray | None:
    """Values of a numeric or boolean column as a plain numpy array (nulls as 0).

    Covers numpy dtypes and pandas' masked ones (Int64, boolean, Float32 …);
    `None` for object and other columns, which take the per-value path.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        numpyDtype = getattr(dtype, "numpy_dtype", None)
        if numpyDtype is None or numpyDtype.kind not in "biuf":
            return None
        return series.to_numpy(dtype=numpyDtype, na_value=0)
    if dtype.kind in "biuf":
        return series.to_numpy()
    return None


def _coerceObject(spec, series, problems, positions):
    """Convert a string or bytes column."""
    n = len(series)
    nullMask = _missingMask(series)
    want = str if spec.avroType == "string" else bytes
    values = series.to_numpy(dtype=object)
    # Fast path: every non-null value already has the right type (C-speed check).
    inferred = pd.api.types.infer_dtype(values[~nullMask], skipna=False)
    if inferred == ("string" if want is str else "bytes") or not (~nullMask).any():
        out = values.copy()
        out[nullMask] = None
        return out, nullMask
    out = np.empty(n, dtype=object)
    for i, v in enumerate(series.array):
        if nullMask[i]:
            out[i] = None
        elif isinstance(v, want):
            out[i] = want(v)
        elif want is str and isinstance(v, (np.str_, int, np.integer, float, np.floating)):
            out[i] = str(v)
        elif want is bytes and isinstance(v, (bytearray, memoryview, np.bytes_)):
            out[i] = bytes(v)
        else:
            reason = f"not a {spec.avroType}: {type(v).__name__}"
            problems.append(FieldProblem(positions[i], spec.name, reason))
            out[i] = None
    return out, nullMask


def coerceTable(
    table: pd.DataFrame,
    recordSchema: Mapping,
    overrides: Mapping[str, object] | None = None,
    nanAsNull: bool = False,
    rows: np.ndarray | None = None,
) -> tuple[TypedTable, list[FieldProblem]]:
    """Convert a DataFrame (or some of its rows) to the types of an Avro record schema.

    Parameters
    ----------
    table : `pandas.DataFrame`
        Input rows; index levels are used as columns when a field is not a
        column (upstream indexes DiaSources on diaObjectId/band/diaSourceId).
    recordSchema : `dict`
        Flat Avro record schema.
    overrides : `dict`, optional
        Constant values for fields, applied instead of the table's columns.
    nanAsNull : `bool`, optional
        Write null instead of NaN in nullable float/double fields
        (``PackageAlertsConfig.useNullForNaN``); NaN stays NaN otherwise,
        and always in non-nullable fields.
    rows : `numpy.ndarray` [`int`], optional
        Convert only these rows (positions, in this order); the others are
        never copied.  All rows if not given.

    Returns
    -------
    typed : `TypedTable`
        The converted table (row ``i`` is ``rows[i]`` of ``table``); problems
        name rows of it.
    problems : `list` [`FieldProblem`]
        Values that did not fit (their slot holds a placeholder); a
        non-nullable field absent from the table gives one problem per row.
    """
    specs = fieldSpecs(recordSchema)
    n = len(table) if rows is None else len(rows)
    overrides = overrides or {}
    if n == 0:
        return _emptyTable(table, recordSchema, specs, overrides), []
    positions = np.arange(n)
    problems: list[FieldProblem] = []
    columns: dict[str, np.ndarray] = {}
    nulls: dict[str, np.ndarray | None] = {}
    indexNames = [name for name in table.index.names if name is not None]
    converted = _coerceBlocks(_numericBlocks(table, specs, overrides, rows), positions, nanAsNull)
    for spec in specs:
        if spec.name in converted:
            values, mask, columnProblems = converted[spec.name]
            problems += columnProblems
            if mask is None:
                columns[spec.name] = values
                nulls[spec.name] = None
                continue
        else:
            series = _inputSeries(spec, table, overrides, indexNames, n, rows)
            if series is None:
                # Absent: null if it may be, else one problem per row.
                if not spec.nullable:
                    problems.extend(FieldProblem(int(i), spec.name, "column missing") for i in positions)
                columns[spec.name] = np.zeros(n, dtype=spec.numpyType)
                nulls[spec.name] = np.ones(n, dtype=bool) if spec.nullable else None
                continue
            if isinstance(series, pd.DataFrame):
                raise ValueError(f"Duplicate column {spec.name!r} in the input table")
            if spec.avroType in ("string", "bytes"):
                values, mask = _coerceObject(spec, series, problems, positions)
            else:
                values, mask = _coerceNumeric(spec, series, problems, positions, nanAsNull)
        if not spec.nullable:
            for i in np.flatnonzero(mask):
                reason = f"null in a non-nullable {spec.avroType} field"
                problems.append(FieldProblem(int(i), spec.name, reason))
            mask = None
        elif not mask.any():
            mask = None
        columns[spec.name] = values
        nulls[spec.name] = mask
    return TypedTable(recordSchema, specs, columns, nulls, n), problems
