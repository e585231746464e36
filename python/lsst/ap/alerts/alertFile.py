"""Avro container files of alerts, written atomically."""

from __future__ import annotations

__all__ = ["writeAlertFile"]

import os
import tempfile
from collections.abc import Iterable

from .avroEncoding import ContainerFileWriter
from .schemaRegistry import AlertSchema


def writeAlertFile(path: str, schema: AlertSchema, payloads: Iterable[bytes]) -> None:
    """Write encoded alerts to an Avro object container file at ``path``.

    The file embeds the schema, so ``fastavro.reader`` and
    ``lsst.alert.packet.Schema.retrieve_alerts`` read it without this
    package.  It is written to a temporary file in the same directory and
    renamed into place: a reader never sees a partial file, and a re-run of
    the same visit/detector replaces the old file in one step.

    Parameters
    ----------
    path : `str`
        Destination, conventionally ``{visit}_{detector}.avro``.
    schema : `lsst.ap.alerts.schemaRegistry.AlertSchema`
        Schema the payloads were encoded with.
    payloads : iterable of `bytes`
        Schemaless Avro encodings of the alerts (no wire header).
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmpPath = tempfile.mkstemp(prefix=".tmp-", suffix=".avro", dir=directory)
    try:
        # mkstemp makes the file private; give it the permissions open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmpPath, 0o666 & ~umask)
        try:
            stream = _GatheringWriter(fd)
            with ContainerFileWriter(stream, schema.definition) as writer:
                for payload in payloads:
                    writer.append(payload)
            stream.flush()
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmpPath, path)
    except BaseException:
        os.unlink(tmpPath)
        raise


class _GatheringWriter:
    """Minimal binary file object that sends its writes with ``os.writev``.

    The container writer writes each ~100 kB alert as it is (a view of the
    visit's buffer); gathering them avoids both a join and a syscall per
    piece.

    Parameters
    ----------
    fd : `int`
        Open file descriptor, written sequentially.
    """

    _BATCH = min(os.sysconf("SC_IOV_MAX"), 1024) if hasattr(os, "sysconf") else 16

    def __init__(self, fd: int):
        self._fd = fd
        self._pending: list = []

    def write(self, data) -> int:
        self._pending.append(data)
        if len(self._pending) >= self._BATCH:
            self.flush()
        return len(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        while pending:
            batch = pending[:self._BATCH]
            written = os.writev(self._fd, batch)
            # A short write leaves the rest of the batch (and maybe part of a piece) for the next call.
            done = 0
            while done < len(batch) and written >= len(batch[done]):
                written -= len(batch[done])
                done += 1
            pending = pending[done:]
            if written:
                pending[0] = memoryview(pending[0])[written:]
