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

"""Columnar Avro binary encoding, byte-identical to fastavro.

`encodeTable` encodes every row of a `~lsst.ap.alerts.catalogs.typedTable.TypedTable`
at once with numpy: each field becomes byte planes (byte ``k`` of every
record's value, padded to the field's widest value) plus the number of bytes
each record actually uses; the planes of all fields are stacked and a boolean
mask of the used bytes picks out all records, concatenated in row order, in
one gather.  No Python work is done per field and record.

The small helpers (`encodeLong`, `encodeBytes`, `encodeArrayBlock`, the union
branch bytes) let an alert be assembled from already-encoded records;
`lsst.ap.alerts.avro.container` writes such records to container files.
"""

from __future__ import annotations

__all__ = [
    "NULL_BRANCH",
    "VALUE_BRANCH",
    "EncodedRows",
    "encodeArrayBlock",
    "encodeBytes",
    "encodeLong",
    "encodeLongs",
    "encodeString",
    "encodeTable",
]

import dataclasses
import itertools
from collections.abc import Iterable, Sequence

import numpy as np

from ..catalogs.typedTable import FieldSpec, TypedTable

NULL_BRANCH = b"\x00"
"""Union branch 0 (``null`` in a ``["null", T]`` union), zigzag-encoded."""

VALUE_BRANCH = b"\x02"
"""Union branch 1 (the ``T`` of a ``["null", T]`` union), zigzag-encoded."""

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_UINT64_MASK = 2**64 - 1

# A zigzag value needs k + 1 varint bytes when it is >= 2**(7k).
_VARINT_THRESHOLDS = np.array([1 << (7 * k) for k in range(1, 10)], dtype=np.uint64)

# A variable-width column is padded into byte planes only while the
# padding stays within this many times its data plus a few bytes per row;
# wider columns (rare long strings/bytes) are spliced in separately.
_PAD_FACTOR = 4
_PAD_SLACK = 64


# --------------------------------------------------------------------------
# Scalar helpers
# --------------------------------------------------------------------------


def encodeLong(value: int) -> bytes:
    """Encode an Avro ``int``/``long`` (zigzag varint).

    Parameters
    ----------
    value : `int`
        Integer in the signed 64-bit range.

    Returns
    -------
    encoded : `bytes`
        1 to 10 bytes.
    """
    value = int(value)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise OverflowError(f"{value} does not fit an Avro long")
    n = ((value << 1) ^ (value >> 63)) & _UINT64_MASK
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encodeBytes(value: bytes) -> bytes:
    """Encode an Avro ``bytes`` value (length, then the data)."""
    return encodeLong(len(value)) + bytes(value)


def encodeString(value: str) -> bytes:
    """Encode an Avro ``string`` value (UTF-8 length, then the data)."""
    return encodeBytes(value.encode("utf-8"))


def encodeArrayBlock(count: int, itemsBytes: bytes) -> bytes:
    """Encode an Avro array from its already-encoded items.

    fastavro writes a non-empty array as one block (item count, the items,
    then the terminating 0) and an empty one as the terminator alone.  For a
    ``["null", array]`` field prefix `VALUE_BRANCH` (an empty list is still
    branch 1) or write `NULL_BRANCH` alone for `None`.

    Parameters
    ----------
    count : `int`
        Number of items.
    itemsBytes : `bytes`
        Concatenated encodings of the items.

    Returns
    -------
    encoded : `bytes`
        The array encoding.
    """
    if count == 0:
        if itemsBytes:
            raise ValueError("An empty array cannot have item bytes")
        return b"\x00"
    return encodeLong(count) + itemsBytes + b"\x00"


# --------------------------------------------------------------------------
# Vectorised primitives
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Chunk:
    """Encoded bytes of one field part, as padded byte planes.

    ``planes[k, i]`` is byte ``k`` of row ``i``; only the first
    ``lengths[i]`` bytes (all ``width`` if `None`) of rows where ``present``
    (all if `None`) belong to the record.  Planes, one contiguous array per
    byte position, are much faster to fill than row-major matrices.
    """

    planes: np.ndarray
    lengths: np.ndarray | None = None
    present: np.ndarray | None = None

    @property
    def width(self) -> int:
        return self.planes.shape[0]

    @property
    def isFull(self) -> bool:
        return self.lengths is None and self.present is None

    def usedLengths(self) -> np.ndarray | int:
        """Bytes each row uses."""
        used = self.width if self.lengths is None else self.lengths
        return used if self.present is None else used * self.present

    def rowMask(self) -> np.ndarray:
        """Which bytes are used, (rows, width)."""
        if self.lengths is None:
            return np.broadcast_to(self.present[:, None], (len(self.present), self.width))
        mask = np.arange(self.width) < self.lengths[:, None]
        if self.present is not None:
            mask &= self.present[:, None]
        return mask


@dataclasses.dataclass(frozen=True)
class _Flat:
    """Encoded bytes of one field part, rows concatenated unpadded."""

    data: np.ndarray
    lengths: np.ndarray


def _zigzag(values: np.ndarray) -> np.ndarray:
    """Zigzag-map signed integers to uint64 (0, -1, 1, -2 → 0, 1, 2, 3)."""
    v = np.asarray(values, dtype=np.int64)
    return (v.view(np.uint64) << np.uint64(1)) ^ (v >> np.int64(63)).view(np.uint64)


def _varintChunk(zigzagged: np.ndarray) -> _Chunk:
    """Varint-encode uint64 values, up to the widest one's length."""
    lengths = np.searchsorted(_VARINT_THRESHOLDS, zigzagged, side="right").astype(np.int64) + 1
    width = int(lengths.max(initial=1))
    # Computed row by row (value, byte): the gather copies rows.
    shifts = np.arange(width, dtype=np.uint64) * np.uint64(7)
    groups = (zigzagged[:, None] >> shifts) & np.uint64(0x7F)
    # Every byte but a value's last has the continuation bit.
    continues = np.arange(width) < (lengths[:, None] - 1)
    rows = groups.astype(np.uint8) | (continues.view(np.uint8) << np.uint8(7))
    return _Chunk(rows.T, None if (lengths == width).all() else lengths)


def _fixedChunk(values: np.ndarray, dtype) -> _Chunk:
    """Little-endian fixed-width bytes of a numeric column."""
    array = np.ascontiguousarray(values, dtype=dtype)
    return _Chunk(array.view(np.uint8).reshape(len(array), array.dtype.itemsize).T)


def _floatChunk(values: np.ndarray) -> _Chunk:
    """float32 bytes, with NaN made quiet as fastavro's double → float does.

    The dict path hands fastavro Python floats (doubles); converting a
    signalling float32 NaN to double and back sets its quiet bit.
    """
    return _fixedChunk(_quietNan(np.ascontiguousarray(values, dtype="<f4")), "<f4")


def _quietNan(array: np.ndarray) -> np.ndarray:
    """float32 values with the quiet bit set in every NaN."""
    nan = np.isnan(array)
    if nan.any():
        bits = array.view("<u4")
        array = np.where(nan, bits | np.uint32(0x00400000), bits).view("<f4")
    return array


def _objectData(values: np.ndarray, avroType: str) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 data of a string/bytes column: concatenated bytes, per-row sizes."""
    n = len(values)
    if avroType == "bytes":
        data = b"".join(values)
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=n)
    else:
        joined = "".join(values)
        data = joined.encode("utf-8")
        if len(data) == len(joined):
            # Pure ASCII: character counts are byte counts.
            lengths = np.fromiter(map(len, values), dtype=np.int64, count=n)
        else:
            encoded = [v.encode("utf-8") for v in values]
            data = b"".join(encoded)
            lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
    return np.frombuffer(data, dtype=np.uint8), lengths


def _objectParts(values: np.ndarray, avroType: str, nulls: np.ndarray | None) -> list:
    """Length varint and data of a string/bytes column."""
    if nulls is not None:
        empty = b"" if avroType == "bytes" else ""
        values = np.where(nulls, empty, values)
    data, lengths = _objectData(values, avroType)
    header = _varintChunk(lengths.view(np.uint64) << np.uint64(1))
    width = int(lengths.max(initial=0))
    if len(lengths) * width > _PAD_FACTOR * len(data) + _PAD_SLACK * len(lengths):
        return [header, _Flat(data, lengths)]
    matrix = np.zeros((len(lengths), width), dtype=np.uint8)
    matrix[np.arange(width) < lengths[:, None]] = data
    return [header, _Chunk(matrix.T, lengths)]


def _valueParts(spec: FieldSpec, values: np.ndarray, nulls: np.ndarray | None) -> list:
    """Encoded parts of a field's values (garbage under nulls)."""
    match spec.avroType:
        case "long" | "int":
            return [_varintChunk(_zigzag(values))]
        case "float":
            return [_floatChunk(values)]
        case "double":
            return [_fixedChunk(values, "<f8")]
        case "boolean":
            return [_fixedChunk(values, np.uint8)]
        case "string" | "bytes":
            return _objectParts(values, spec.avroType, nulls)
    raise ValueError(f"Unsupported Avro type {spec.avroType!r}")


def _fieldParts(spec: FieldSpec, values: np.ndarray, nulls: np.ndarray | None, size: int) -> list:
    """Encoded parts of one field, in the order they appear in a record."""
    if not spec.nullable:
        return _valueParts(spec, values, None)
    if nulls is None:
        branch = np.full((1, size), VALUE_BRANCH[0], dtype=np.uint8)
        return [_Chunk(branch)] + _valueParts(spec, values, None)
    present = ~nulls
    # Branch index 1 zigzags to 2, branch 0 to 0.
    branch = (present.view(np.uint8) << np.uint8(1))[None, :]
    parts = [_Chunk(branch)]
    for part in _valueParts(spec, values, nulls):
        # Null rows have no string data already.
        parts.append(part if isinstance(part, _Flat) else dataclasses.replace(part, present=present))
    return parts


# --------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------


def _gatherChunks(chunks: Sequence[_Chunk], size: int) -> _Flat:
    """Concatenate the used bytes of consecutive chunks, row by row.

    The chunks are copied side by side into one row-major (rows, bytes)
    matrix through a structured view (one field per chunk: numpy copies
    whole fields far faster than byte columns), then the used bytes are
    selected in row order.
    """
    chunks = [c for c in chunks if c.width]
    offsets = np.cumsum([0] + [c.width for c in chunks]).tolist()
    width = offsets[-1]
    lengths = np.zeros(size, dtype=np.int64)
    for chunk in chunks:
        lengths += chunk.usedLengths()
    if not width:
        return _Flat(np.empty(0, dtype=np.uint8), lengths)
    names = [f"c{k}" for k in range(len(chunks))]
    fields = np.dtype(
        {
            "names": names,
            "formats": [f"V{c.width}" for c in chunks],
            "offsets": offsets[:-1],
            "itemsize": width,
        }
    )
    matrix = np.empty((size, width), dtype=np.uint8)
    byRow = matrix.view(fields)[:, 0]
    partial = [k for k, c in enumerate(chunks) if not c.isFull]
    mask = np.ones((size, width), dtype=bool) if partial else None
    maskByRow = mask.view(fields)[:, 0] if partial else None
    for name, chunk in zip(names, chunks, strict=True):
        # Chunk planes are transposes of row-major arrays: .T is contiguous.
        byRow[name] = np.ascontiguousarray(chunk.planes.T).view(f"V{chunk.width}")[:, 0]
    for k in partial:
        maskByRow[names[k]] = np.ascontiguousarray(chunks[k].rowMask()).view(f"V{chunks[k].width}")[:, 0]
    data = matrix[mask] if partial else matrix.reshape(-1)
    return _Flat(data, lengths)


def _segments(parts: Sequence, size: int) -> list[_Flat]:
    """Merge runs of consecutive chunks into flat segments."""
    segments: list[_Flat] = []
    run: list[_Chunk] = []
    for part in parts:
        if isinstance(part, _Chunk):
            run.append(part)
            continue
        if run:
            segments.append(_gatherChunks(run, size))
            run = []
        segments.append(part)
    if run:
        segments.append(_gatherChunks(run, size))
    return segments


def _starts(lengths: np.ndarray) -> np.ndarray:
    """Offsets of consecutive pieces of the given lengths (length n + 1)."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _interleave(segments: Sequence[_Flat], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Join segments row by row: row i is segment 0's row i, segment 1's...

    Returns the joined bytes and the row offsets.
    """
    if not segments:
        return np.empty(0, dtype=np.uint8), np.zeros(size + 1, dtype=np.int64)
    if len(segments) == 1:
        return segments[0].data, _starts(segments[0].lengths)
    pieceLengths = np.column_stack([s.lengths for s in segments])
    offsets = _starts(pieceLengths.sum(axis=1))
    pieceStarts = offsets[:-1, None] + np.cumsum(pieceLengths, axis=1) - pieceLengths
    out = np.empty(offsets[-1], dtype=np.uint8)
    for k, segment in enumerate(segments):
        # Each byte moves by its row's shift from the segment to the output.
        shift = pieceStarts[:, k] - _starts(segment.lengths)[:-1]
        out[np.repeat(shift, segment.lengths) + np.arange(len(segment.data))] = segment.data
    return out, offsets


# --------------------------------------------------------------------------
# Public vectorised API
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class EncodedRows:
    """Avro encodings of the rows of a table, in one buffer.

    Attributes
    ----------
    buffer : `memoryview`
        All rows' encodings, concatenated in row order (read-only bytes).
    offsets : `numpy.ndarray` [`int64`]
        Row ``i`` is ``buffer[offsets[i]:offsets[i + 1]]``; length rows + 1.
    """

    buffer: memoryview
    offsets: np.ndarray
    _bounds: list[int] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        # Python ints slice bytes much faster than numpy scalars.
        object.__setattr__(self, "_bounds", self.offsets.tolist())

    def __len__(self) -> int:
        return len(self._bounds) - 1

    def __getitem__(self, row: int) -> bytes:
        """Return the encoding of one row."""
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(f"row {row} out of range")
        return bytes(self.buffer[self._bounds[row] : self._bounds[row + 1]])

    def __iter__(self):
        bounds = self._bounds
        return (bytes(self.buffer[a:b]) for a, b in itertools.pairwise(bounds))

    def join(self, rows: Iterable[int]) -> bytes:
        """Return the encodings of ``rows``, concatenated in the given order.

        This is the item bytes of an Avro array of those rows
        (see `encodeArrayBlock`).
        """
        buffer, bounds = self.buffer, self._bounds
        return b"".join([buffer[bounds[i] : bounds[i + 1]] for i in rows])


def encodeLongs(values: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Encode many Avro ``int``/``long`` values at once.

    Parameters
    ----------
    values : `numpy.ndarray`
        Integers (converted to int64).

    Returns
    -------
    buffer : `bytes`
        Concatenated zigzag varints.
    offsets : `numpy.ndarray` [`int64`]
        Value ``i`` is ``buffer[offsets[i]:offsets[i + 1]]``.
    """
    values = np.asarray(values)
    if values.dtype.kind not in "iub":
        raise TypeError(f"encodeLongs needs integers, not {values.dtype}")
    if values.dtype.kind == "u" and values.size and values.max() > _INT64_MAX:
        raise OverflowError("value does not fit an Avro long")
    size = len(values)
    data, offsets = _interleave(_segments([_varintChunk(_zigzag(values))], size), size)
    return data.tobytes(), offsets


def encodeTable(table: TypedTable) -> EncodedRows:
    """Encode every row of a typed table as an Avro record.

    Parameters
    ----------
    table : `~lsst.ap.alerts.catalogs.typedTable.TypedTable`
        Rows converted to the types of ``table.schema``.

    Returns
    -------
    rows : `EncodedRows`
        Row ``i`` equals ``fastavro.schemaless_writer``'s output for
        ``table.toRecords()[i]`` under ``table.schema``.

    Raises
    ------
    TypeError
        If a string/bytes value is `None` outside a null: rows with
        `~lsst.ap.alerts.catalogs.typedTable.FieldProblem` s must be dropped first.
    """
    size = table.size
    parts = []
    for key, specs in itertools.groupby(table.specs, key=lambda spec: _runKey(spec, table.nulls)):
        if key is not None:
            parts.append(_fixedRunChunk(list(specs), table.columns, size))
            continue
        for spec in specs:
            parts.extend(_fieldParts(spec, table.columns[spec.name], table.nulls.get(spec.name), size))
    data, offsets = _interleave(_segments(parts, size), size)
    return EncodedRows(memoryview(data).toreadonly(), offsets)


# Little-endian layouts of the fixed-width types.
_FIXED_WIDTHS = {"float": "<f4", "double": "<f8", "boolean": np.uint8}


def _runKey(spec: FieldSpec, nulls) -> tuple[str, bool] | None:
    """What a field shares with its run of fixed-width fields without nulls (`None`: not in one)."""
    if spec.avroType not in _FIXED_WIDTHS or nulls.get(spec.name) is not None:
        return None
    return spec.avroType, spec.nullable


def _fixedRunChunk(run: Sequence[FieldSpec], columns, size: int) -> _Chunk:
    """One chunk for consecutive fields of one fixed-width type, none holding a null.

    Byte for byte what `_fieldParts` gives field by field (the branch byte
    of a nullable field, then its value), laid out with one numpy copy per
    run instead of a few per field: wide records are runs of such fields.
    """
    spec = run[0]
    values = np.empty((size, len(run)), dtype=_FIXED_WIDTHS[spec.avroType])
    for k, field in enumerate(run):
        values[:, k] = columns[field.name]
    if spec.avroType == "float":
        values = _quietNan(values)
    width = values.dtype.itemsize
    branch = 1 if spec.nullable else 0
    rows = np.empty((size, len(run), branch + width), dtype=np.uint8)
    if branch:
        rows[:, :, 0] = VALUE_BRANCH[0]
    rows[:, :, branch:] = values.view(np.uint8).reshape(size, len(run), width)
    return _Chunk(rows.reshape(size, len(run) * (branch + width)).T)
