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

"""Files of alerts, written atomically: Avro container files of a visit and failed-delivery files.

Every file goes through `AtomicFile`: it is written under a temporary name
in the destination directory and renamed into place when complete, so the
final path holds nothing, the previous file or the new complete file, never
a partial one, whatever happens to the process.

Temporary names are ``.{final name}.ap-alerts-partial.{host}.{pid}.{token}``:
hidden, tied to the file they would become, and to the process writing them.
`removeStaleTemporaries` (run by `AlertFileWriter` and by the producer before
they write) removes those whose writer is gone: same host and the process no
longer exists, or another host and untouched for `FOREIGN_STALE_SECONDS`. A
temporary of a live writer is never touched, so two processes writing the
same file each finish their own and the last rename wins.
"""

from __future__ import annotations

__all__ = [
    "findAlertFiles",
    "FOREIGN_STALE_SECONDS",
    "TEMPORARY_TAG",
    "AlertFileWriter",
    "AtomicFile",
    "removeStaleTemporaries",
    "temporaryOwner",
    "writeAlertFile",
    "writeFileAtomically",
]

import ctypes
import os
import secrets
import socket
import time
from collections.abc import Iterable

from ..avro.container import ContainerFileWriter
from ..schemaRegistry import AlertSchema

TEMPORARY_TAG = "ap-alerts-partial"
"""Marks the temporary files of this module (see the module docstring)."""

FOREIGN_STALE_SECONDS = 6 * 3600.0
"""Age after which a temporary file written by another host counts as
abandoned (a writer touches its file continuously; a visit takes seconds)."""

_HOST = socket.gethostname()


class AtomicFile:
    """A new file written under a temporary name and renamed into place.

    The temporary is created like `open` creates files (mode ``0o666`` less
    the umask: 0644 under umask 022) in the destination's directory.

    Parameters
    ----------
    path : `str`
        Final path.
    durable : `bool`
        `commit` flushes the data to disk (``fsync``) before the rename, so
        after a power loss the final path holds the complete file or the
        previous one.

    Notes
    -----
    Use as a context manager (commit on success, abort on an exception) or
    call `commit` / `abort`. Write through `fd`.
    """

    def __init__(self, path: str, *, durable: bool = True):
        self.path = path
        self.durable = durable
        directory, name = os.path.split(os.path.abspath(path))
        self.tmpPath = os.path.join(
            directory, f".{name}.{TEMPORARY_TAG}.{_HOST}.{os.getpid()}.{secrets.token_hex(4)}"
        )
        # O_EXCL: a name that already exists (a leftover with a reused pid
        # and token) is an error, never shared.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        self.fd = os.open(self.tmpPath, flags, 0o666)

    def commit(self) -> None:
        """Flush, close and rename into place; on failure the temporary goes."""
        try:
            if self.durable:
                os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None
            os.replace(self.tmpPath, self.path)
            self.tmpPath = None
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop the temporary file (nothing happens once committed)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.tmpPath is not None:
            try:
                os.unlink(self.tmpPath)
            except FileNotFoundError:
                pass
            self.tmpPath = None

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, excType, excValue, traceback) -> None:
        if excType is None:
            self.commit()
        else:
            self.abort()


def writeFileAtomically(path: str, data, *, durable: bool = True) -> None:
    """Write ``data`` (bytes-like) to ``path`` through an `AtomicFile`."""
    with AtomicFile(path, durable=durable) as file:
        view = memoryview(data)
        while view:
            view = view[os.write(file.fd, view) :]


def temporaryOwner(name: str) -> tuple[str, str, int] | None:
    """Parse a temporary file name of `AtomicFile`.

    Parameters
    ----------
    name : `str`
        A file name (no directory).

    Returns
    -------
    owner : `tuple` [`str`, `str`, `int`] or `None`
        ``(final name, host, pid)``, or `None` if ``name`` is not one.
    """
    marker = f".{TEMPORARY_TAG}."
    if not name.startswith(".") or marker not in name:
        return None
    final, _, rest = name[1:].rpartition(marker)
    host, _, tail = rest.rpartition(".")
    host, _, pid = host.rpartition(".")
    if not (final and host and pid.isdigit() and tail):
        return None
    return final, host, int(pid)


def _processExists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def removeStaleTemporaries(directory: str, finalPrefix: str, log=None) -> list[str]:
    """Remove abandoned temporaries of files whose names start with ``finalPrefix``.

    Parameters
    ----------
    directory : `str`
        Where to look (a missing directory has none).
    finalPrefix : `str`
        Start of the final names concerned, e.g. ``"12_3.avro"`` or
        ``"12_3_"``.
    log : `logging.Logger`, optional
        Each removal is logged at INFO level.

    Returns
    -------
    removed : `list` [`str`]
        Paths removed.
    """
    removed = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        owner = temporaryOwner(entry.name) if entry.name.startswith("." + finalPrefix) else None
        if owner is None or not owner[0].startswith(finalPrefix):
            continue
        _, host, pid = owner
        try:
            if host == _HOST:
                stale = pid != os.getpid() and not _processExists(pid)
            else:
                stale = time.time() - entry.stat().st_mtime > FOREIGN_STALE_SECONDS
            if stale:
                os.unlink(entry.path)
        except FileNotFoundError:
            continue
        if stale:
            removed.append(entry.path)
            if log is not None:
                log.info("Removed %s, left by a writer that no longer runs.", entry.path)
    return removed


class AlertFileWriter:
    """Stream encoded alerts into an Avro object container file at ``path``.

    The file embeds the schema, so ``fastavro.reader`` and
    ``lsst.alert.packet.Schema.retrieve_alerts`` read it without this
    package.  It is an `AtomicFile`: written under a temporary name in the
    same directory, flushed to disk and renamed into place by `close`, so a
    reader never sees a partial file, and a re-run of the same
    visit/detector replaces the old file in one step.  `abort` (or leaving a
    ``with`` block by an exception) removes the temporary file.  Temporaries
    of the same file left by writers that died (e.g. killed) are removed
    first.

    Alerts are written as they are appended (every few MiB), and the disk
    write-back of each batch starts at once, so the final flush finds
    little left to do.

    Parameters
    ----------
    path : `str`
        Destination, conventionally ``{visit}_{detector}.avro``.
    schema : `lsst.ap.alerts.schemaRegistry.AlertSchema`
        Schema the payloads are encoded with.
    log : `logging.Logger`, optional
        Where removals of stale temporaries are reported.
    """

    def __init__(self, path: str, schema: AlertSchema, log=None):
        self.path = path
        directory, name = os.path.split(os.path.abspath(path))
        removeStaleTemporaries(directory, name, log)
        self._file = AtomicFile(path)
        try:
            self._stream = _GatheringWriter(self._file.fd)
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
        except BaseException:
            self.abort()
            raise
        self._file.commit()

    def abort(self) -> None:
        """Drop the file being written (nothing happens once it is in place)."""
        self._file.abort()

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
    (a hint: errors surface at the closing ``fsync``); batches of 1 MB let
    that write-back run while the rest of the visit is assembled, so the
    closing ``fsync`` of a detector's ~5 MB waits for little.

    Parameters
    ----------
    fd : `int`
        Open file descriptor, written sequentially from offset 0.
    """

    _MAX_PIECES = _iovMax()
    _BATCH_BYTES = 1 << 20

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
            batch = pending[: self._MAX_PIECES]
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


def findAlertFiles(path: str) -> list[str]:
    """The alert files at ``path``: the file itself, or every ``*.avro`` below a directory.

    Hidden files and directories (writers' temporaries, see `AtomicFile`)
    are skipped.  Sorted.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file or directory")
    if not os.path.isdir(path):
        return [path]
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.join(root, f) for f in files if f.endswith(".avro") and not f.startswith("."))
    return sorted(found)
