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

"""Read alert files and summarise their alerts (``ap-alerts inspect``).

Two kinds of file hold alerts:

- an Avro object container file (``{visit}_{detector}.avro``), which embeds
  its schema; the schema's name (``lsst.v11_1.alert``) gives the version and
  so the registry schema;
- a failed-delivery file (``{visit}_{detector}_{diaSourceId}.avro``), one
  Confluent-framed message: magic byte 0, the 4-byte big-endian schema ID,
  then the schemaless Avro record.

`AlertFile` reads either, alert by alert, with each alert's packet size
(bytes of its schemaless record, read from the positions in the decoded
block, so nothing is re-encoded).  Any damage (truncation, garbage, an
unknown schema) is raised as one `AlertFileError` that says which file and
after which alert.
"""

from __future__ import annotations

__all__ = [
    "AlertFile",
    "AlertFileError",
    "AlertSummary",
    "DecodedAlert",
    "FileSummary",
    "abMagnitude",
    "findAlertFiles",
    "formatAlertLine",
    "formatHeaderLine",
    "formatSummary",
    "summarizeAlert",
    "summarizeFile",
    "triageFlags",
]

import dataclasses
import io
import math
from collections.abc import Iterator, Sequence

import fastavro

from ..avro.container import ContainerFileError, ContainerFileReader
from ..delivery.alertFile import findAlertFiles
from ..schemaRegistry import (
    WIRE_HEADER_SIZE,
    AlertSchema,
    SchemaRegistry,
    UnknownSchemaError,
    alertVersionFromName,
    parseWireHeader,
)

CONTAINER = "container"
FRAMED = "framed"
CUTOUT_FIELDS = (("cutoutDifference", "D"), ("cutoutScience", "S"), ("cutoutTemplate", "T"))

_CONTAINER_MAGIC = b"Obj\x01"


class AlertFileError(Exception):
    """An alert file cannot be read (the message names the file and place)."""


@dataclasses.dataclass(frozen=True)
class DecodedAlert:
    """One alert read from a file or a topic.

    Attributes
    ----------
    index : `int`
        Position in its file (0-based).
    alert : `dict`
        The decoded record.
    size : `int`
        Bytes of its schemaless Avro record (no wire header).
    """

    index: int
    alert: dict
    size: int


class AlertFile:
    """An alert file: an Avro container file or one Confluent-framed alert.

    Opening reads the header and resolves the schema; iterating decodes
    the alerts.

    Parameters
    ----------
    path : `str`
        The file.
    schemaSpec : `str`, optional
        Schema version or ID (anything `SchemaRegistry.load` takes) to use
        instead of the one the file names.  A container file is still
        decoded with its embedded schema; a framed file is decoded with this
        one.
    registry : `SchemaRegistry`, optional
        Where schemas are looked up (default: `SchemaRegistry.default`).

    Attributes
    ----------
    kind : `str`
        ``"container"`` or ``"framed"``.
    schemaName : `str`
        The embedded schema's full name, or ``"ID <n>"`` of a framed file.
    version : `tuple` [`int`, `int`] or `None`
        The schema version the file names (`None` if its name has none).
    schema : `AlertSchema` or `None`
        The registry schema: ``schemaSpec``'s, else the one the file names
        (`None` for a container whose schema name has no known version).
    headerSchemaId : `int` or `None`
        Schema ID in a framed file's header.

    Raises
    ------
    AlertFileError
        If the file cannot be read, is of neither kind, or names a schema
        the registry does not know (and ``schemaSpec`` is not given).
    """

    def __init__(self, path: str, schemaSpec: str | None = None, registry: SchemaRegistry | None = None):
        self.path = str(path)
        self.registry = registry if registry is not None else SchemaRegistry.default()
        self.headerSchemaId = None
        self._embedded = None
        try:
            with open(self.path, "rb") as stream:
                self._data = stream.read()
        except OSError as e:
            raise AlertFileError(f"{self.path}: cannot read: {e.strerror or e}") from None
        requested = self._loadSchema(schemaSpec, "requested schema") if schemaSpec is not None else None
        if self._data.startswith(_CONTAINER_MAGIC):
            self.kind = CONTAINER
            self._openContainer(requested)
        elif self._data[:1] == b"\x00":
            self.kind = FRAMED
            self._openFramed(requested)
        else:
            raise AlertFileError(
                f"{self.path}: neither an Avro container file nor a Confluent-framed alert "
                f"(starts with {self._data[:4]!r})"
            )

    def _loadSchema(self, spec, source: str) -> AlertSchema:
        try:
            return self.registry.load(spec)
        except UnknownSchemaError as e:
            raise AlertFileError(f"{self.path}: {source}: {e}") from None

    def _openContainer(self, requested: AlertSchema | None) -> None:
        try:
            self._reader = ContainerFileReader(self._data)
        except ContainerFileError as e:
            raise AlertFileError(f"{self.path}: {e}") from None
        embedded = self._reader.writerSchema
        self._embedded = embedded
        self.schemaName = _fullName(embedded)
        self.version = alertVersionFromName(self.schemaName)
        if requested is not None:
            self.schema = requested
        elif self.version is not None:
            self.schema = self._loadSchema(self.version, f"embedded schema {self.schemaName}")
        else:
            self.schema = None

    def _openFramed(self, requested: AlertSchema | None) -> None:
        try:
            self.headerSchemaId = parseWireHeader(self._data)
        except ValueError as e:
            raise AlertFileError(f"{self.path}: {e}") from None
        self.schemaName = f"ID {self.headerSchemaId}"
        try:
            named = self.registry.byId(self.headerSchemaId)
        except UnknownSchemaError as e:
            if requested is None:
                raise AlertFileError(f"{self.path}: schema ID in the wire header: {e}") from None
            named = None
        self.version = named.version if named is not None else None
        self.schema = requested if requested is not None else named

    @property
    def embeddedSchema(self) -> dict | None:
        """The schema a container file embeds (`None` for a framed file)."""
        return self._embedded

    @property
    def schemaVersionString(self) -> str | None:
        """``"11.1"``: the version the file names, else the registry schema's."""
        version = self.version or (self.schema.version if self.schema is not None else None)
        return f"{version[0]}.{version[1]}" if version else None

    @property
    def schemaId(self) -> int | None:
        """Confluent ID of the file's schema (the header's for a framed file)."""
        if self.headerSchemaId is not None:
            return self.headerSchemaId
        version = self.version or (self.schema.version if self.schema is not None else None)
        return int(f"{version[0]}{version[1]:02d}") if version else None

    def __iter__(self) -> Iterator[DecodedAlert]:
        """Decode the alerts in order, from the first one at every iteration.

        Raises
        ------
        AlertFileError
            At the first alert that cannot be decoded (truncation,
            corruption); the alerts before it have been yielded.
        """
        if self.kind == CONTAINER:
            yield from self._iterContainer()
        else:
            yield from self._iterFramed()

    # Damaged input makes fastavro raise almost anything (EOFError,
    # ValueError, IndexError, UnicodeDecodeError, ...): every exception while
    # decoding is reported as damage of the file.

    def _iterContainer(self) -> Iterator[DecodedAlert]:
        # The reader opened with the file serves one pass (its blocks are an
        # iterator); every later pass reads the bytes again.
        reader, self._reader = self._reader, None
        try:
            if reader is None:
                reader = ContainerFileReader(self._data)
            for item in reader:
                yield DecodedAlert(item.index, item.record, len(item.data))
        except ContainerFileError as e:
            raise AlertFileError(f"{self.path}: {e}") from None

    def _iterFramed(self) -> Iterator[DecodedAlert]:
        stream = io.BytesIO(self._data)
        stream.seek(WIRE_HEADER_SIZE)
        try:
            record = fastavro.schemaless_reader(stream, self.schema.parsed, None)
        except Exception as e:
            raise AlertFileError(
                f"{self.path}: cannot decode the alert with schema {self.schema.versionString} "
                f"(ID {self.schema.schemaId}): {_describe(e)}"
            ) from None
        if stream.tell() != len(self._data):
            raise AlertFileError(
                f"{self.path}: {len(self._data) - stream.tell()} bytes left after the alert decoded with "
                f"schema {self.schema.versionString} (ID {self.schema.schemaId}): wrong schema or "
                "not one alert"
            )
        yield DecodedAlert(0, record, len(self._data) - WIRE_HEADER_SIZE)


def _fullName(schema) -> str:
    name = schema.get("name", "") if isinstance(schema, dict) else ""
    namespace = schema.get("namespace") if isinstance(schema, dict) else None
    return f"{namespace}.{name}" if namespace and "." not in name else name


def _describe(error: Exception) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@dataclasses.dataclass(frozen=True)
class AlertSummary:
    """The `inspect` line of one alert."""

    diaSourceId: int | None
    diaObjectId: int | None
    band: str | None
    ra: float | None
    dec: float | None
    psfFlux: float | None
    psfFluxErr: float | None
    snr: float | None
    """psfFlux / psfFluxErr."""
    nHistory: int
    """Length of ``prvDiaSources``."""
    nForced: int
    """Length of ``prvDiaForcedSources``."""
    cutouts: str
    """``"DST"`` with ``-`` for each missing cutout."""
    size: int
    """Bytes of the schemaless record."""
    midpointMjdTai: float | None
    mag: float | None = None
    """AB magnitude of psfFlux (`None` when it is not positive)."""
    reliability: float | None = None
    isDipole: bool | None = None
    nDiaSources: int | None = None
    """The diaObject's count of DiaSources (`None` without a diaObject)."""
    flags: tuple[str, ...] = ()
    """Flags set on the diaSource (see `triageFlags`)."""

    def toJson(self) -> dict:
        """Return the summary as JSON-safe values (NaN → `None`)."""
        return {k: _finiteOrNone(v) for k, v in dataclasses.asdict(self).items()}


def _finiteOrNone(value):
    if isinstance(value, tuple):
        return list(value)
    return None if isinstance(value, float) and not math.isfinite(value) else value


def abMagnitude(flux: float | None) -> float | None:
    """AB magnitude of a flux in nJy (`None` unless the flux is positive and finite)."""
    if flux is None or not math.isfinite(flux) or flux <= 0:
        return None
    # AB: m = -2.5 log10(f / (erg s^-1 cm^-2 Hz^-1)) - 48.6, so 1 nJy is m = 31.4.
    return 31.4 - 2.5 * math.log10(flux)


def triageFlags(source: dict) -> tuple[str, ...]:
    """The flags set on a diaSource, in schema order.

    ``pixelFlags_X`` is given as ``X`` (``edge``, ``saturatedCenter``,
    ``cr``, ...); the summary ``pixelFlags`` only when no specific one is
    set; measurement flags (``*_flag*``, ``glint_trail``) by their name.
    """
    pixel = [
        name.removeprefix("pixelFlags_")
        for name, value in source.items()
        if name.startswith("pixelFlags_") and value is True
    ]
    if not pixel and source.get("pixelFlags") is True:
        pixel = ["pixelFlags"]
    other = [
        name for name, value in source.items() if value is True and ("_flag" in name or name == "glint_trail")
    ]
    return tuple(pixel + other)


def summarizeAlert(alert: dict, size: int) -> AlertSummary:
    """Summarise one decoded alert.

    Parameters
    ----------
    alert : `dict`
        A decoded alert record.
    size : `int`
        Bytes of its schemaless Avro record.
    """
    source = alert.get("diaSource") or {}
    diaObject = alert.get("diaObject") or {}
    diaObjectId = source.get("diaObjectId")
    if diaObjectId is None:
        diaObjectId = diaObject.get("diaObjectId")
    flux, fluxErr = source.get("psfFlux"), source.get("psfFluxErr")
    snr = None
    if flux is not None and fluxErr and math.isfinite(flux) and math.isfinite(fluxErr):
        snr = flux / fluxErr
    return AlertSummary(
        diaSourceId=alert.get("diaSourceId"),
        diaObjectId=diaObjectId,
        band=source.get("band"),
        ra=source.get("ra"),
        dec=source.get("dec"),
        psfFlux=flux,
        psfFluxErr=fluxErr,
        snr=snr,
        nHistory=len(alert.get("prvDiaSources") or ()),
        nForced=len(alert.get("prvDiaForcedSources") or ()),
        cutouts="".join(code if alert.get(name) is not None else "-" for name, code in CUTOUT_FIELDS),
        size=size,
        midpointMjdTai=source.get("midpointMjdTai"),
        mag=abMagnitude(flux),
        reliability=source.get("reliability"),
        isDipole=source.get("isDipole"),
        nDiaSources=diaObject.get("nDiaSources"),
        flags=triageFlags(source),
    )


@dataclasses.dataclass(frozen=True)
class FileSummary:
    """Totals over the alerts of one file or topic."""

    count: int
    schemaVersion: str | None
    schemaId: int | None
    totalBytes: int

    @property
    def meanBytes(self) -> float | None:
        return self.totalBytes / self.count if self.count else None

    def toJson(self) -> dict:
        result = dataclasses.asdict(self)
        result["meanBytes"] = self.meanBytes
        return result


# (title, width, alignment) of the `inspect` columns.
_COLUMNS = (
    ("diaSourceId", 20, ">"),
    ("diaObjectId", 20, ">"),
    ("band", 4, "<"),
    ("ra", 11, ">"),
    ("dec", 11, ">"),
    ("psfFlux", 11, ">"),
    ("S/N", 7, ">"),
    ("nPrv", 5, ">"),
    ("nForced", 7, ">"),
    ("cut", 3, "<"),
    ("bytes", 8, ">"),
)


def _fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, spec)


def _row(values) -> str:
    return " ".join(f"{v:{align}{width}}" for v, (_, width, align) in zip(values, _COLUMNS, strict=True))


def formatHeaderLine() -> str:
    """Column titles of `formatAlertLine`."""
    return _row(name for name, _, _ in _COLUMNS)


def formatAlertLine(summary: AlertSummary) -> str:
    """One fixed-width line: ids, band, position, flux, S/N, history, cutouts, size."""
    return _row(
        (
            _fmt(summary.diaSourceId, "d"),
            _fmt(summary.diaObjectId, "d"),
            summary.band or "-",
            _fmt(summary.ra, ".6f"),
            _fmt(summary.dec, "+.6f"),
            _fmt(summary.psfFlux, ".1f"),
            _fmt(summary.snr, ".1f"),
            str(summary.nHistory),
            str(summary.nForced),
            summary.cutouts,
            str(summary.size),
        )
    )


def formatSummary(summary: FileSummary, what: str = "alerts") -> str:
    """The closing line of `inspect`/`consume`: count, schema, total and mean size."""
    schema = (
        f"schema {summary.schemaVersion or '?'} (ID {summary.schemaId})"
        if summary.schemaId is not None
        else "schema unknown"
    )
    mean = f"{summary.meanBytes:,.0f}" if summary.meanBytes is not None else "-"
    noun = what if summary.count != 1 else what.rstrip("s")
    return f"{summary.count} {noun}, {schema}, {summary.totalBytes:,} bytes total, {mean} bytes mean"


def summarizeFile(alerts: Sequence[AlertSummary], alertFile: AlertFile) -> FileSummary:
    """Totals of a file's alert summaries."""
    return FileSummary(
        count=len(alerts),
        schemaVersion=alertFile.schemaVersionString,
        schemaId=alertFile.schemaId,
        totalBytes=sum(a.size for a in alerts),
    )
