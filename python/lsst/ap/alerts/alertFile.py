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
        with os.fdopen(fd, "wb") as stream:
            with ContainerFileWriter(stream, schema.definition) as writer:
                for payload in payloads:
                    writer.append(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmpPath, path)
    except BaseException:
        os.unlink(tmpPath)
        raise
