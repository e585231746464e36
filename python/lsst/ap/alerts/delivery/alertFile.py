"""Avro container files of alerts, written atomically as the alerts are made."""

from __future__ import annotations

__all__ = ["AlertFileWriter", "writeAlertFile"]

import ctypes
import os
import tempfile
from collections.abc import Iterable

from ..avro.container import ContainerFileWriter
from ..schemaRegistry import AlertSchema


class AlertFileWriter:
    """Stream encoded alerts into an Avro object container file at ``path``.

    The file embeds the schema, so ``fastavro.reader`` and
    ``lsst.alert.packet.Schema.retrieve_alerts`` read it without this
    package.  It is written to a temporary file in the same directory,
    flushed to disk and renamed into place by `close`: a reader never sees a
    partial file, and a re-run of the same visit/detector replaces the old
    file in one step.  `abort` (or leaving a ``with`` block by an exception)
    removes the temporary file.

    Alerts are written as they are appended (every few MiB), and the disk
    write-back of each batch starts at once, so the final flush finds
    little left to do.

    Parameters
    ----------
    path : `str`
        Destination, conventionally ``{visit}_{detector}.avro``.
    schema : `lsst.ap.alerts.schemaRegistry.AlertSchema`
        Schema the payloads are encoded with.
    """

    def __init__(self, path: str, schema: AlertSchema):
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        self._fd, self._tmpPath = tempfile.mkstemp(prefix=".tmp-", suffix=".avro", dir=directory)
        try:
            # mkstemp makes the file private; give it the permissions open() would.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self._tmpPath, 0o666 & ~umask)
            self._stream = _GatheringWriter(self._fd)
            self._writer = ContainerFileWriter(self._stream, schema.definition)
        except BaseException:
            self.abort()
            raise

    def append(self, payload) -> None:
        """Add one alert (its schemaless Avro encoding, any bytes-like object)."""
        self._writer.append(payload)

    def close(self) -> None:
        """Finish the file, flush it to disk and move it into place."""
        try:
            self._writer.close()
            self._stream.flush()
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            os.replace(self._tmpPath, self.path)
            self._tmpPath = None
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop the file being written (nothing happens once it is in place)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._tmpPath is not None:
            try:
                os.unlink(self._tmpPath)
            except FileNotFoundError:
                pass
            self._tmpPath = None

    def __enter__(self) -> AlertFileWriter:
        return self

    def __exit__(self, excType, excValue, traceback) -> None:
        if excType is None:
            self.close()
        else:
            self.abort()


def writeAlertFile(path: str, schema: AlertSchema, payloads: Iterable[bytes]) -> None:
    """Write encoded alerts to an Avro object container file at ``path``.

    Parameters
    ----------
    path : `str`
        Destination, conventionally ``{visit}_{detector}.avro``.
    schema : `lsst.ap.alerts.schemaRegistry.AlertSchema`
        Schema the payloads were encoded with.
    payloads : iterable of bytes-like
        Schemaless Avro encodings of the alerts (no wire header).

    See Also
    --------
    AlertFileWriter : what is guaranteed about the file.
    """
    with AlertFileWriter(path, schema) as writer:
        for payload in payloads:
            writer.append(payload)


def _loadSyncFileRange():
    """Linux's ``sync_file_range`` (start write-back of a range, don't wait), or `None`."""
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE = _loadSyncFileRange()
_SYNC_FILE_RANGE_WRITE = 2


def _iovMax() -> int:
    """Buffers one ``writev`` may take (POSIX guarantees 16)."""
    try:
        return max(16, min(os.sysconf("SC_IOV_MAX"), 1024))
    except (AttributeError, ValueError, OSError):
        return 16


class _GatheringWriter:
    """Minimal binary file object that sends its writes in batches with ``os.writev``.

    The container writer hands over each ~100 kB alert as it is (a view of
    the visit's buffer); gathering avoids both a join and a syscall per
    piece.  After each batch the kernel is asked to start writing it to disk
    (a hint: errors surface at the closing ``fsync``).

    Parameters
    ----------
    fd : `int`
        Open file descriptor, written sequentially from offset 0.
    """

    _MAX_PIECES = _iovMax()
    _BATCH_BYTES = 8 << 20

    def __init__(self, fd: int):
        self._fd = fd
        self._pending: list = []
        self._pendingBytes = 0
        self._written = 0

    def write(self, data) -> int:
        size = len(data)
        self._pending.append(data)
        self._pendingBytes += size
        if len(self._pending) >= self._MAX_PIECES or self._pendingBytes >= self._BATCH_BYTES:
            self.flush()
        return size

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        start, total = self._written, self._pendingBytes
        self._pendingBytes = 0
        while pending:
            batch = pending[:self._MAX_PIECES]
            written = os.writev(self._fd, batch)
            self._written += written
            # A short write leaves the rest of the batch (and maybe part of a piece) for the next call.
            done = 0
            while done < len(batch) and written >= len(batch[done]):
                written -= len(batch[done])
                done += 1
            pending = pending[done:]
            if written:
                pending[0] = memoryview(pending[0])[written:]
        if _SYNC_FILE_RANGE is not None and total:
            _SYNC_FILE_RANGE(self._fd, start, total, _SYNC_FILE_RANGE_WRITE)
