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

"""Send alerts kept on disk to Kafka (``ap-alerts send``).

The alerts that were not delivered are on disk: in the visit's container
file ``{visit}_{detector}.avro`` (``doWriteAlerts``) and, one per file, in
the failed-delivery files ``{visit}_{detector}_{diaSourceId}.avro``
(``doWriteFailedAlerts``). `planResend` reads such files (or directories of
them) whole and checks them before anything is sent; `sendPlan` produces
them with the task's producer (`AlertProducer`: same settings, wire format
and guarantee) and headers, plus ``resend`` = ``1``.

- Each message is the alert's exact Avro bytes behind the Confluent header
  of its schema ID: a failed-delivery file is sent as it is; a container's
  records get the ID of the schema the container embeds (which must equal,
  in canonical form, the schema of that version known here).
- A container file is never modified.
- A failed-delivery file is removed as soon as the delivery report of its
  alert confirms it (``acks=all``: every in-sync replica has it), never
  before. Removed, not moved aside: the topic now holds the alert (and the
  visit file, when written, keeps it), and a copy left under the directory
  would be sent again by the next ``send`` of that directory.
- The same alert (same diaSourceId and bytes) found in several files is
  sent once; delivering it removes every failed-delivery file holding it.
- A file that cannot be read whole, or is not an alert file, is reported
  (one line naming it) and none of its alerts is sent; the others are.
"""

from __future__ import annotations

__all__ = [
    "ResendAlert",
    "ResendFileError",
    "ResendOutcome",
    "ResendPlan",
    "planResend",
    "readAlertFile",
    "sendPlan",
]

import dataclasses
import io
import os
from collections.abc import Callable, Iterable

import fastavro
import fastavro.schema

from ..avro.container import ContainerFileError, ContainerFileReader
from ..schemaRegistry import (
    WIRE_HEADER_SIZE,
    AlertSchema,
    SchemaRegistry,
    UnknownSchemaError,
    alertVersionFromName,
    makeWireHeader,
    parseWireHeader,
)
from .alertFile import findAlertFiles
from .messageHeaders import alertHeaders

_CONTAINER_MAGIC = b"Obj\x01"


class ResendFileError(ValueError):
    """A file that cannot be sent: not an alert file, damaged, or of an unknown schema."""


@dataclasses.dataclass
class ResendAlert:
    """One alert to send."""

    diaSourceId: int
    visit: int
    detector: int
    schemaId: int
    message: bytes
    """The Kafka message: Confluent wire header + Avro record."""
    paths: list[str]
    """Every file holding it."""
    failedFiles: list[str]
    """Failed-delivery files holding it: removed once it is delivered."""


@dataclasses.dataclass
class ResendPlan:
    """What `sendPlan` sends, and what could not be read."""

    alerts: list[ResendAlert]
    files: list[str]
    """Files read whole."""
    errors: list[str]
    """One line per file (or ``--id``) that cannot be sent."""
    schemas: dict[int, AlertSchema]
    """Schema of each ID sent."""


@dataclasses.dataclass
class ResendOutcome:
    """Result of `sendPlan`."""

    delivered: int
    failed: int
    removed: list[str]
    """Failed-delivery files removed after their alert's delivery."""
    kept: list[str]
    """Failed-delivery files still on disk."""
    failureReasons: tuple[tuple[str, int], ...]
    removalErrors: list[str]


def _canonical(schema) -> str:
    return fastavro.schema.to_parsing_canonical_form(schema)


def _containerRecords(path: str, data: bytes, registry: SchemaRegistry):
    """(schema, [(record, exact bytes)]) of a container file."""
    try:
        reader = ContainerFileReader(data)
        name = reader.parsedSchema.get("name", "") if isinstance(reader.parsedSchema, dict) else ""
        version = alertVersionFromName(name)
        if version is None:
            raise ResendFileError(f"{path}: embedded schema {name or '?'} is not an lsst.vM_m.alert schema")
        schema = registry.byVersion(version)
        if _canonical(reader.writerSchema) != _canonical(schema.definition):
            raise ResendFileError(
                f"{path}: embedded schema {name} differs from schema {schema.versionString} known here; "
                f"its alerts cannot be framed with ID {schema.schemaId}"
            )
        return schema, [(item.record, item.data) for item in reader]
    except (ContainerFileError, UnknownSchemaError) as e:
        raise ResendFileError(f"{path}: {e}") from None


def _framedRecord(path: str, data: bytes, registry: SchemaRegistry):
    """(schema, [(record, bytes after the header)]) of a failed-delivery file."""
    try:
        schema = registry.byId(parseWireHeader(data))
    except (ValueError, UnknownSchemaError) as e:
        raise ResendFileError(f"{path}: wire header: {e}") from None
    stream = io.BytesIO(data)
    stream.seek(WIRE_HEADER_SIZE)
    try:
        record = fastavro.schemaless_reader(stream, schema.parsed, None)
    except Exception as e:
        # Damaged input makes fastavro raise almost anything.
        raise ResendFileError(
            f"{path}: cannot decode the alert with schema {schema.versionString} ({type(e).__name__}: {e})"
        ) from None
    if stream.tell() != len(data):
        raise ResendFileError(
            f"{path}: {len(data) - stream.tell()} bytes left after one alert of schema "
            f"{schema.versionString}: damaged or not one alert"
        )
    return schema, [(record, data[WIRE_HEADER_SIZE:])]


def readAlertFile(path: str, registry: SchemaRegistry | None = None) -> tuple[bool, AlertSchema, list]:
    """Read every alert of a container or failed-delivery file, with its exact bytes.

    Parameters
    ----------
    path : `str`
        The file.
    registry : `SchemaRegistry`, optional
        Where schemas are found (default: `SchemaRegistry.default`).

    Returns
    -------
    framed : `bool`
        Whether it is a failed-delivery file (one Confluent-framed alert).
    schema : `AlertSchema`
        The schema of its alerts.
    records : `list` [`tuple` [`dict`, `bytes`]]
        Each decoded alert and its Avro bytes (no wire header).

    Raises
    ------
    ResendFileError
        If the file cannot be read whole or is not an alert file.
    """
    registry = registry if registry is not None else SchemaRegistry.default()
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as e:
        raise ResendFileError(f"{path}: cannot read: {e.strerror or e}") from None
    if data.startswith(_CONTAINER_MAGIC):
        return (False, *_containerRecords(path, data, registry))
    if data[:1] == b"\x00":
        return (True, *_framedRecord(path, data, registry))
    raise ResendFileError(
        f"{path}: neither an Avro alert container file nor a failed-delivery file "
        f"(Confluent-framed alert); starts with {data[:4]!r}"
    )


def _alertIds(path: str, record) -> tuple[int, int, int]:
    """(diaSourceId, visit, detector) of a decoded alert."""
    try:
        diaSource = record["diaSource"]
        return int(record["diaSourceId"]), int(diaSource["visit"]), int(diaSource["detector"])
    except (KeyError, TypeError, ValueError) as e:
        raise ResendFileError(
            f"{path}: an alert without diaSourceId or diaSource visit/detector ({e})"
        ) from None


def planResend(
    paths: Iterable[str], ids: Iterable[int] | None = None, registry: SchemaRegistry | None = None
) -> ResendPlan:
    """Read the files to send, whole, and choose the alerts.

    Parameters
    ----------
    paths : iterable of `str`
        Container files, failed-delivery files, directories of ``*.avro``.
    ids : iterable of `int`, optional
        Send only the alerts of these diaSourceIds (an id found in no file
        is an error line).
    registry : `SchemaRegistry`, optional
        Where schemas are found.

    Returns
    -------
    plan : `ResendPlan`
    """
    wanted = None if ids is None else set(ids)
    plan = ResendPlan([], [], [], {})
    byMessage: dict[bytes, ResendAlert] = {}
    for path in paths:
        try:
            files = findAlertFiles(path)
        except FileNotFoundError as e:
            plan.errors.append(str(e))
            continue
        for file in files:
            try:
                _addFile(plan, byMessage, file, wanted, registry)
            except ResendFileError as e:
                plan.errors.append(str(e))
    if wanted is not None:
        missing = sorted(wanted - {alert.diaSourceId for alert in plan.alerts})
        if missing:
            plan.errors.append(f"no alert with diaSourceId {', '.join(map(str, missing))} in the files given")
    return plan


def _addFile(plan: ResendPlan, byMessage: dict, path: str, wanted: set | None, registry) -> None:
    """Add a file's alerts to the plan, all or none."""
    framed, schema, records = readAlertFile(path, registry)
    header = makeWireHeader(schema.schemaId)
    chosen = []
    for record, data in records:
        diaSourceId, visit, detector = _alertIds(path, record)
        if wanted is None or diaSourceId in wanted:
            chosen.append((diaSourceId, visit, detector, header + data))
    plan.files.append(path)
    plan.schemas[schema.schemaId] = schema
    for diaSourceId, visit, detector, message in chosen:
        alert = byMessage.get(message)
        if alert is None:
            alert = byMessage[message] = ResendAlert(
                diaSourceId, visit, detector, schema.schemaId, message, [], []
            )
            plan.alerts.append(alert)
        alert.paths.append(path)
        if framed:
            alert.failedFiles.append(path)


def sendPlan(plan: ResendPlan, producer, onDelivered: Callable[[ResendAlert], None] | None = None):
    """Produce the plan's alerts; remove each failed-delivery file once its alert is delivered.

    Parameters
    ----------
    plan : `ResendPlan`
        From `planResend`.
    producer : `lsst.ap.alerts.delivery.producer.AlertProducer`
        Connected producer (without ``doWriteFailedAlerts``: the alerts are
        on disk already).
    onDelivered : callable, optional
        Called with each `ResendAlert` once delivered (e.g. progress).

    Returns
    -------
    outcome : `ResendOutcome`
    """
    removed, removalErrors = [], []

    def delivered(index: int) -> None:
        alert = plan.alerts[index]
        for path in alert.failedFiles:
            try:
                os.unlink(path)
                removed.append(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                removalErrors.append(f"{path}: delivered, but cannot be removed: {e.strerror or e}")
        if onDelivered is not None:
            onDelivered(alert)

    messages = (
        (a.diaSourceId, None, a.message, alertHeaders(a.schemaId, a.visit, a.detector, resend=True))
        for a in plan.alerts
    )
    visits = {(a.visit, a.detector) for a in plan.alerts}
    # visit/detector only label the producer's log summary; -1: several.
    visit, detector = visits.pop() if len(visits) == 1 else (-1, -1)
    report = producer.produce(messages, visit, detector, onDelivered=delivered)
    gone = set(removed)
    kept = [path for a in plan.alerts for path in a.failedFiles if path not in gone and os.path.exists(path)]
    return ResendOutcome(report.delivered, report.failed, removed, kept, report.failureReasons, removalErrors)
