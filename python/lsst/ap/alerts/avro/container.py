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

"""Avro object container files: written as ``fastavro.writer`` would, reproducibly, and read back.

Reproducible files
------------------
The same schema and records give the same file bytes in any process:

- the schema is stored in one canonical form (`canonicalSchemaJson`):
  fastavro's parse markers dropped, the keys of every JSON object sorted,
  ``json.dumps``' default separators.  Key order is not significant in Avro
  schemas, but dicts built by different processes (e.g. schemas resolved by
  `lsst.alert.packet`) list keys in different orders;
- the sync marker, random by default in fastavro, is derived from the
  header (`deriveSyncMarker`): the first 16 bytes of the SHA-256 of the
  encoded metadata map (schema, codec, extra metadata).  It depends on
  nothing but what the header already says, so a file's bytes depend only
  on its schema, options and records; in particular an alert file written
  by `lsst.ap.alerts.delivery.alertFile` and the same visit/detector stored
  by the butler are identical.  Avro only needs the marker to be unlikely
  inside the data of its own file, which a hash output is as much as a
  random draw.

``fastavro.writer(f, canonicalSchema(schema), records,
sync_marker=deriveSyncMarker(...))`` writes the same bytes as
`ContainerFileWriter`; any Avro reader (fastavro, ``lsst.alert.packet``)
reads them.
"""

from __future__ import annotations

__all__ = [
    "ContainerFileError",
    "ContainerFileReader",
    "ContainerFileWriter",
    "ContainerRecord",
    "canonicalSchema",
    "canonicalSchemaJson",
    "deriveSyncMarker",
]

import dataclasses
import hashlib
import io
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, BinaryIO

import fastavro
from fastavro.read import HEADER_SCHEMA

from .encoding import encodeBytes, encodeLong, encodeString

_MAGIC = b"Obj\x01"
_SYNC_SIZE = 16
# Keys fastavro.parse_schema adds to a schema; not part of the schema.
_PARSE_MARKERS = frozenset(("__fastavro_parsed", "__named_schemas"))
# Versions the marker rule: files written under another rule stay readable
# (readers take the marker from the header), only their bytes differ.
_SYNC_DOMAIN = b"lsst.ap.alerts container sync marker v1\x00"


def _deflate(block: bytes, level: int | None) -> bytes:
    # Raw deflate as fastavro writes it: the zlib stream minus its 2-byte
    # header and last byte (the 3 remaining checksum bytes are ignored by
    # readers, but kept for byte identity).
    return zlib.compress(block, -1 if level is None else level)[2:-1]


_CODECS = {
    "null": lambda block, level: block,
    "deflate": _deflate,
}


def canonicalSchema(schema: Any) -> Any:
    """Return ``schema`` (raw or parsed by fastavro) in canonical form.

    Parse markers are dropped and the keys of every object are sorted;
    lists (record fields, union branches, enum symbols) keep their order,
    which is significant.

    Parameters
    ----------
    schema : `dict`, `list` or `str`
        An Avro schema.

    Returns
    -------
    canonical : `dict`, `list` or `str`
        The same schema; dicts are new objects with sorted keys.
    """
    if isinstance(schema, dict):
        return {key: canonicalSchema(schema[key]) for key in sorted(schema) if key not in _PARSE_MARKERS}
    if isinstance(schema, list):
        return [canonicalSchema(item) for item in schema]
    return schema


def canonicalSchemaJson(schema: Any) -> str:
    """The ``avro.schema`` header value `ContainerFileWriter` writes.

    ``json.dumps`` of `canonicalSchema` with default separators, which is
    what ``fastavro.writer`` writes when given the canonical schema.
    Remembered per schema object (a visit's file would otherwise spend
    milliseconds on it): schemas are not changed once loaded.
    """
    cached = _CANONICAL_JSON.get(id(schema))
    if cached is None or cached[0] is not schema:
        if len(_CANONICAL_JSON) >= _CANONICAL_JSON_SIZE:
            _CANONICAL_JSON.clear()
        # The schema is kept with its text, so its id cannot be reused while cached.
        cached = _CANONICAL_JSON[id(schema)] = (schema, json.dumps(canonicalSchema(schema)))
    return cached[1]


_CANONICAL_JSON: dict[int, tuple[Any, str]] = {}
_CANONICAL_JSON_SIZE = 16


def _encodeMetadata(metadata: Mapping[str, str]) -> bytes:
    """The header's metadata map (string → bytes) in Avro binary encoding."""
    parts = []
    if metadata:
        parts.append(encodeLong(len(metadata)))
        for key, value in metadata.items():
            parts.append(encodeString(key))
            parts.append(encodeBytes(value.encode("utf-8")))
    parts.append(b"\x00")
    return b"".join(parts)


def deriveSyncMarker(metadata: Mapping[str, str]) -> bytes:
    """The sync marker of a file whose header carries ``metadata``.

    Parameters
    ----------
    metadata : `dict` [`str`, `str`]
        The complete header metadata, in header order (with ``avro.codec``
        and ``avro.schema``).

    Returns
    -------
    marker : `bytes`
        16 bytes: the start of the SHA-256 of the encoded metadata map.
    """
    return hashlib.sha256(_SYNC_DOMAIN + _encodeMetadata(metadata)).digest()[:_SYNC_SIZE]


class ContainerFileWriter:
    """Stream encoded records into an Avro object container file.

    Produces the bytes of ``fastavro.writer(fileobj,
    canonicalSchema(schemaDefinition), records, codec=codec,
    sync_interval=syncInterval, metadata=metadata, sync_marker=syncMarker)``
    given the records' encodings: a block is written as soon as its encoded
    records reach ``syncInterval`` bytes, so only one block is ever held in
    memory.  Without ``syncMarker`` the file is reproducible (see the
    module documentation).

    Parameters
    ----------
    fileobj : binary file-like
        Destination, written sequentially; not closed by `close`.
    schemaDefinition : `dict` or `list`
        The writer schema (raw or parsed by fastavro), stored in the header
        in canonical form.
    codec : `str`, optional
        ``"null"`` or ``"deflate"``.
    syncMarker : `bytes`, optional
        16-byte sync marker; `deriveSyncMarker` of the header if not given.
    syncInterval : `int`, optional
        Block size threshold in uncompressed bytes (fastavro's default).
    metadata : `dict` [`str`, `str`], optional
        Extra header metadata, written before ``avro.codec`` and
        ``avro.schema`` as fastavro does.
    compressionLevel : `int`, optional
        zlib level for ``deflate`` (zlib's default if not given).
    """

    def __init__(
        self,
        fileobj: BinaryIO,
        schemaDefinition,
        codec: str = "null",
        syncMarker: bytes | None = None,
        syncInterval: int = 1000 * _SYNC_SIZE,
        metadata: Mapping[str, str] | None = None,
        compressionLevel: int | None = None,
    ):
        if codec not in _CODECS:
            raise ValueError(f"Unsupported codec {codec!r}; use one of {sorted(_CODECS)}")
        # fastavro's (compiled) writer adds the codec, then the schema.
        header = dict(metadata or {})
        header["avro.codec"] = codec
        header["avro.schema"] = canonicalSchemaJson(schemaDefinition)
        syncMarker = deriveSyncMarker(header) if not syncMarker else bytes(syncMarker)
        if len(syncMarker) != _SYNC_SIZE:
            raise ValueError(f"The sync marker must be {_SYNC_SIZE} bytes, not {len(syncMarker)}")
        self.syncMarker = syncMarker
        self.syncInterval = syncInterval
        self._fileobj = fileobj
        self._compress = _CODECS[codec]
        self._level = compressionLevel
        self._codec = codec
        # Pending records are kept as they are and written without joining
        # them (alerts are ~100 kB each: copies dominate otherwise).
        self._pending: list[bytes] = []
        self._size = 0
        self._count = 0
        self._closed = False
        fileobj.write(_MAGIC + _encodeMetadata(header) + syncMarker)

    def append(self, encodedRecord: bytes) -> None:
        """Add one record, given its Avro encoding."""
        if self._closed:
            raise ValueError("append to a closed ContainerFileWriter")
        self._pending.append(encodedRecord)
        self._size += len(encodedRecord)
        self._count += 1
        if self._size >= self.syncInterval:
            self._writeBlock()

    def extend(self, encodedRecords: Iterable[bytes]) -> None:
        """Add records (e.g. an `EncodedRows`), in order."""
        for record in encodedRecords:
            self.append(record)

    def flush(self) -> None:
        """Write the pending block, if any, and flush the file object."""
        if self._count:
            self._writeBlock()
        self._fileobj.flush()

    def close(self) -> None:
        """Write the pending block; the file object stays open."""
        if not self._closed:
            self.flush()
            self._closed = True

    def __enter__(self) -> ContainerFileWriter:
        return self

    def __exit__(self, excType, excValue, traceback) -> None:
        # On error, drop the partial block rather than end the file with it.
        if excType is None:
            self.close()
        else:
            self._closed = True

    def _writeBlock(self) -> None:
        if self._codec == "null":
            self._fileobj.write(encodeLong(self._count) + encodeLong(self._size))
            for record in self._pending:
                self._fileobj.write(record)
            self._fileobj.write(self.syncMarker)
        else:
            data = self._compress(b"".join(self._pending), self._level)
            self._fileobj.write(encodeLong(self._count) + encodeLong(len(data)) + data + self.syncMarker)
        self._pending.clear()
        self._size = 0
        self._count = 0


class ContainerFileError(ValueError):
    """An Avro container file that cannot be read.

    Parameters
    ----------
    message : `str`
        What is wrong and where.
    index : `int`, optional
        Position (0-based) of the first record that could not be read;
        `None` for the header.
    """

    def __init__(self, message: str, index: int | None = None):
        super().__init__(message)
        self.index = index


@dataclasses.dataclass(frozen=True)
class ContainerRecord:
    """One record of a container file.

    Attributes
    ----------
    index : `int`
        Position in the file (0-based).
    record : `dict`
        The decoded record.
    data : `bytes`
        Its exact Avro encoding in the file (decompressed).
    """

    index: int
    record: Any
    data: bytes


def _describe(error: Exception) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class ContainerFileReader:
    """Read an Avro object container file record by record, with each
    record's exact bytes.

    Parameters
    ----------
    source : `bytes` or binary file object
        The whole file, or a stream positioned at its start (read whole:
        the records' bytes are kept).

    Attributes
    ----------
    metadata : `dict` [`str`, `str`]
        Header metadata (``avro.schema``, ``avro.codec``, ...).
    schemaJson : `str`
        The embedded schema as stored.
    writerSchema : `dict` or `list`
        The embedded schema, parsed from ``schemaJson`` (not by fastavro).
    parsedSchema : `dict` or `list`
        The embedded schema parsed by ``fastavro.parse_schema`` (names
        fully qualified), what `records` decodes with by default.
    syncMarker : `bytes`

    Raises
    ------
    ContainerFileError
        If the header cannot be read.
    """

    def __init__(self, source: bytes | BinaryIO):
        data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else source.read()
        try:
            self.syncMarker = fastavro.schemaless_reader(io.BytesIO(data), HEADER_SCHEMA, None)["sync"]
            self._reader = fastavro.block_reader(io.BytesIO(data))
            self.metadata = dict(self._reader.metadata)
            self.schemaJson = self.metadata["avro.schema"]
            self.writerSchema = json.loads(self.schemaJson)
            self.parsedSchema = self._reader.writer_schema
        except Exception as e:
            # Damaged input makes fastavro raise almost anything.
            raise ContainerFileError(f"unreadable Avro container header: {_describe(e)}") from None

    @property
    def codec(self) -> str:
        """The block codec (``null``, ``deflate``, ...)."""
        return self.metadata.get("avro.codec", "null")

    def __iter__(self) -> Iterator[ContainerRecord]:
        return self.records()

    def records(self, schema=None) -> Iterator[ContainerRecord]:
        """Decode the records in order.

        Parameters
        ----------
        schema : `dict`, optional
            Schema parsed by ``fastavro.parse_schema`` to decode with (it
            must encode like the writer schema); default: the writer
            schema.

        Yields
        ------
        record : `ContainerRecord`

        Raises
        ------
        ContainerFileError
            At the first record that cannot be read (truncation,
            corruption, a block with bytes beyond its records); the records
            before it have been yielded.
        """
        parsed = self.parsedSchema if schema is None else schema
        index = 0
        blocks = iter(self._reader)
        while True:
            try:
                block = next(blocks, None)
            except Exception as e:
                where = f"after record #{index - 1}" if index else "in the first block"
                raise ContainerFileError(
                    f"truncated or corrupt Avro data {where} ({_describe(e)})", index
                ) from None
            if block is None:
                return
            # A block's (decompressed) bytes come as a BytesIO.
            stream = block.bytes_
            data = stream.getvalue()
            first = index
            if block.num_records < 0:
                count = block.num_records
                message = f"Avro block starting at record #{first} has a negative record count ({count})"
                raise ContainerFileError(message, index)
            for _ in range(block.num_records):
                start = stream.tell()
                try:
                    record = fastavro.schemaless_reader(stream, parsed, None)
                except Exception as e:
                    message = f"record #{index}: cannot decode ({_describe(e)})"
                    raise ContainerFileError(message, index) from None
                yield ContainerRecord(index, record, data[start : stream.tell()])
                index += 1
            if stream.tell() != len(data):
                message = (
                    f"Avro block starting at record #{first} has bytes after its {block.num_records} records"
                )
                raise ContainerFileError(message, index)
