"""Avro object container files, written exactly as ``fastavro.writer`` would."""

from __future__ import annotations

__all__ = ["ContainerFileWriter"]

import json
import os
import zlib
from collections.abc import Iterable, Mapping
from typing import BinaryIO

from .encoding import encodeBytes, encodeLong, encodeString

_MAGIC = b"Obj\x01"
_SYNC_SIZE = 16


def _deflate(block: bytes, level: int | None) -> bytes:
    # Raw deflate as fastavro writes it: the zlib stream minus its 2-byte
    # header and last byte (the 3 remaining checksum bytes are ignored by
    # readers, but kept for byte identity).
    return zlib.compress(block, -1 if level is None else level)[2:-1]


_CODECS = {
    "null": lambda block, level: block,
    "deflate": _deflate,
}


def _schemaJson(schemaDefinition) -> str:
    """The ``avro.schema`` metadata as fastavro writes it.

    fastavro drops its parse markers from a (top-level) parsed schema and
    dumps the rest with `json.dumps` defaults.
    """
    private = ("__fastavro_parsed", "__named_schemas")

    def public(schema):
        if isinstance(schema, dict):
            return {k: v for k, v in schema.items() if k not in private}
        return schema

    if isinstance(schemaDefinition, list):
        return json.dumps([public(s) for s in schemaDefinition])
    return json.dumps(public(schemaDefinition))


def _header(metadata: Mapping[str, str], syncMarker: bytes) -> bytes:
    """File header: magic, metadata map (string → bytes), sync marker."""
    parts = [_MAGIC]
    if metadata:
        parts.append(encodeLong(len(metadata)))
        for key, value in metadata.items():
            parts.append(encodeString(key))
            parts.append(encodeBytes(value.encode("utf-8")))
    parts.append(b"\x00")
    parts.append(syncMarker)
    return b"".join(parts)


class ContainerFileWriter:
    """Stream encoded records into an Avro object container file.

    Produces the bytes of ``fastavro.writer(fileobj, schema, records,
    codec=codec, sync_interval=syncInterval, metadata=metadata,
    sync_marker=syncMarker)`` given the records' encodings: a block is
    written as soon as its encoded records reach ``syncInterval`` bytes, so
    only one block is ever held in memory.

    Parameters
    ----------
    fileobj : binary file-like
        Destination, written sequentially; not closed by `close`.
    schemaDefinition : `dict` or `list`
        The writer schema (raw or parsed by fastavro), stored in the header.
    codec : `str`, optional
        ``"null"`` or ``"deflate"``.
    syncMarker : `bytes`, optional
        16-byte sync marker; random if not given.
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
        syncMarker = os.urandom(_SYNC_SIZE) if not syncMarker else bytes(syncMarker)
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
        # fastavro's (compiled) writer adds the codec, then the schema.
        header = dict(metadata or {})
        header["avro.codec"] = codec
        header["avro.schema"] = _schemaJson(schemaDefinition)
        fileobj.write(_header(header, syncMarker))

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
