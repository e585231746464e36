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

"""Find and load alert schemas by URI, version or Confluent schema ID.

The registry knows every schema that ``lsst.alert.packet`` ships plus any in
this project's ``schema/`` directory (same ``M/m/lsst.vM_m.alert.avsc``
layout; see ``schema/README.md``).  A schema's Confluent ID follows
``lsst.alert.packet``: major and zero-padded two-digit minor, so 11.1 → 1101.
"""

from __future__ import annotations

__all__ = [
    "WIRE_HEADER_SIZE",
    "AlertSchema",
    "SchemaRegistry",
    "UnknownSchemaError",
    "alertVersionFromName",
    "makeWireHeader",
    "namedRecordSchemas",
    "packetSchemaRoot",
    "parseWireHeader",
    "projectSchemaRoot",
    "schemaIdOf",
]

import dataclasses
import json
import re
import struct
from collections.abc import Mapping
from functools import cache, cached_property, lru_cache
from importlib import resources, util
from pathlib import Path
from typing import TYPE_CHECKING

import fastavro

if TYPE_CHECKING:
    import lsst.alert.packet as alertPack
    from lsst.resources import ResourcePath


_WIRE = struct.Struct(">bI")
WIRE_HEADER_SIZE = _WIRE.size
# The alert record's full name, ``lsst.vM_m.alert``, and its schema file,
# ``lsst.vM_m.alert.avsc``: the only place the naming rule is written.
_ALERT_NAME_RE = re.compile(r"(?:^|[/.])lsst\.v(\d+)_(\d+)\.alert(?:\.avsc)?$")


def alertVersionFromName(name: str) -> tuple[int, int] | None:
    """Return (major, minor) from an alert schema name or file name.

    ``lsst.v11_1.alert`` and ``.../lsst.v11_1.alert.avsc`` give ``(11, 1)``;
    any other name gives `None`.
    """
    match = _ALERT_NAME_RE.search(name)
    return (int(match[1]), int(match[2])) if match else None


def schemaIdOf(version: tuple[int, int]) -> int:
    """Return the Confluent schema ID of a version: major and two-digit minor, (11, 1) → 1101."""
    return int(f"{version[0]}{version[1]:02d}")


def namedRecordSchemas(alertSchema: Mapping) -> dict[str, dict]:
    """Find every named record of an alert schema, by short and full name.

    Parameters
    ----------
    alertSchema : `dict`
        The alert schema as loaded by ``fastavro.schema.load_schema`` (named
        types inlined at first use, referenced by name afterwards).

    Returns
    -------
    records : `dict` [`str`, `dict`]
        Keys are both the full name (``lsst.v11_1.diaSource``) and the short
        one (``diaSource``).
    """
    found: dict[str, dict] = {}

    def visit(node):
        if isinstance(node, list):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            if node.get("type") == "record":
                name = node["name"]
                found[name] = node
                found[name.rsplit(".", 1)[-1]] = node
                for field in node["fields"]:
                    visit(field["type"])
            elif node.get("type") == "array":
                visit(node["items"])

    visit(alertSchema)
    return found


class UnknownSchemaError(LookupError):
    """Raised for a schema version, ID or URI the registry does not know."""


def makeWireHeader(schemaId: int) -> bytes:
    """Return the 5-byte Confluent wire-format prefix (magic 0, ID big-endian).

    Parameters
    ----------
    schemaId : `int`
        Confluent schema registry ID of the payload's schema.
    """
    return _WIRE.pack(0, schemaId)


def parseWireHeader(message: bytes) -> int:
    """Return the schema ID of a Confluent-framed message.

    Raises
    ------
    ValueError
        If the message is shorter than the header or the magic byte is not 0.
    """
    if len(message) < WIRE_HEADER_SIZE:
        raise ValueError(f"Message of {len(message)} bytes is too short for a Confluent wire header")
    magic, schemaId = _WIRE.unpack_from(message)
    if magic != 0:
        raise ValueError(f"Not Confluent wire format: magic byte is {magic}, expected 0")
    return schemaId


def packetSchemaRoot() -> Path:
    """Return the schema directory ``lsst.alert.packet`` ships.

    Found without importing the package (which pulls in ``lsst.resources``
    and ``lsst.utils``), so the command-line tools start quickly; equal to
    ``lsst.alert.packet.get_schema_root()``.
    """
    spec = util.find_spec("lsst.alert.packet")
    if spec is None or not spec.submodule_search_locations:
        raise UnknownSchemaError("lsst.alert.packet is not installed: it provides the alert schemas")
    return Path(spec.submodule_search_locations[0]) / "schema"


def projectSchemaRoot() -> Path | None:
    """Return this project's ``schema/`` directory.

    It is the package ``lsst.ap.alerts.schema`` (in the source tree a link to
    the top-level ``schema/``, so eups and pip installs both find it).
    """
    try:
        root = resources.files("lsst.ap.alerts.schema")
    except ModuleNotFoundError:
        return None
    return Path(str(root)) if root.is_dir() else None


@dataclasses.dataclass(frozen=True)
class AlertSchema:
    """One loaded alert schema.

    Attributes
    ----------
    version : `tuple` [`int`, `int`]
        (major, minor).
    path : `str`
        Local path of the root ``lsst.vM_m.alert.avsc`` file.
    definition : `dict`
        Parsed definition (fastavro ``load_schema``: named types inlined).
    """

    version: tuple[int, int]
    path: str
    definition: dict = dataclasses.field(compare=False, repr=False)

    @property
    def schemaId(self) -> int:
        """Confluent schema ID, e.g. 1101 for 11.1."""
        return schemaIdOf(self.version)

    @property
    def versionString(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    @cached_property
    def parsed(self):
        """fastavro-parsed schema, for fastavro readers and writers."""
        return fastavro.parse_schema(self.definition)

    @cached_property
    def records(self) -> dict[str, dict]:
        """Named record schemas by short and full name (see `namedRecordSchemas`)."""
        return namedRecordSchemas(self.definition)

    @cached_property
    def canonicalJson(self) -> str:
        """The definition as JSON, as stored in Avro container headers."""
        return json.dumps(self.definition)

    def toPacketSchema(self) -> alertPack.Schema:
        """Return the equivalent `lsst.alert.packet.Schema`."""
        import lsst.alert.packet as alertPack

        return alertPack.Schema(self.definition)

    def wireHeader(self) -> bytes:
        """Return the Confluent wire prefix for payloads of this schema."""
        return makeWireHeader(self.schemaId)


@cache
def _loadFile(path: str) -> dict:
    return fastavro.schema.load_schema(path, _write_hint=False)


class SchemaRegistry:
    """Alert schemas known to this installation.

    Parameters
    ----------
    roots : `list` [`pathlib.Path`], optional
        Directories laid out as ``M/m/lsst.vM_m.alert.avsc``.  By default,
        ``lsst.alert.packet``'s schema directory and this project's
        ``schema/``; later roots win for the same version.
    """

    def __init__(self, roots: list[Path] | None = None):
        if roots is None:
            roots = [packetSchemaRoot()]
            project = projectSchemaRoot()
            if project is not None:
                roots.append(project)
        self._paths: dict[tuple[int, int], str] = {}
        for root in roots:
            for path in sorted(Path(root).glob("*/*/lsst.v*_*.alert.avsc")):
                version = alertVersionFromName(path.name)
                if version is not None:
                    self._paths[version] = str(path)

    @classmethod
    @lru_cache(maxsize=1)
    def default(cls) -> SchemaRegistry:
        """Return the shared registry over the default roots."""
        return cls()

    @property
    def versions(self) -> list[tuple[int, int]]:
        """Known versions, sorted."""
        return sorted(self._paths)

    @property
    def latest(self) -> AlertSchema:
        """The newest known schema."""
        return self.byVersion(self.versions[-1])

    def _known(self) -> str:
        return ", ".join(f"{M}.{m} (ID {schemaIdOf((M, m))})" for M, m in self.versions)

    def byVersion(self, version: str | tuple[int, int]) -> AlertSchema:
        """Load a schema by version, ``"11.1"`` or ``(11, 1)``."""
        if isinstance(version, str):
            match = re.fullmatch(r"\s*v?(\d+)[._](\d+)\s*", version)
            if not match:
                raise UnknownSchemaError(f"Malformed schema version {version!r}; known: {self._known()}")
            version = (int(match[1]), int(match[2]))
        version = (int(version[0]), int(version[1]))
        path = self._paths.get(version)
        if path is None:
            raise UnknownSchemaError(
                f"Unknown alert schema version {version[0]}.{version[1]}; known: {self._known()}"
            )
        return AlertSchema(version, path, _loadFile(path))

    def byId(self, schemaId: int) -> AlertSchema:
        """Load a schema by Confluent schema ID, e.g. 1101."""
        for version in self._paths:
            if schemaIdOf(version) == int(schemaId):
                return self.byVersion(version)
        raise UnknownSchemaError(f"Unknown alert schema ID {schemaId}; known: {self._known()}")

    def byUri(self, uri: str | ResourcePath) -> AlertSchema:
        """Load a schema from the URI of its root ``lsst.vM_m.alert.avsc`` file.

        The version is taken from the file name; the referenced record
        schemas must sit beside it.
        """
        from lsst.resources import ResourcePath

        resource = ResourcePath(uri)
        version = alertVersionFromName(resource.basename())
        if version is None:
            raise UnknownSchemaError(
                f"Schema URI {str(uri)!r} does not name an lsst.vM_m.alert.avsc file; known: {self._known()}"
            )
        if not resource.isLocal:
            # Remote schemas are read via lsst.alert.packet, which fetches the
            # sibling files fastavro needs.
            import lsst.alert.packet as alertPack

            definition = alertPack.Schema.from_uri(resource).definition
            return AlertSchema(version, str(uri), definition)
        path = resource.ospath
        if not Path(path).is_file():
            raise UnknownSchemaError(f"Schema file {path!r} does not exist; known: {self._known()}")
        return AlertSchema(version, path, _loadFile(path))

    def load(self, spec: str | int | tuple[int, int]) -> AlertSchema:
        """Load by whatever ``spec`` is: a URI/path, a version or a schema ID.

        Parameters
        ----------
        spec : `str`, `int` or `tuple`
            ``"resource://.../lsst.v11_1.alert.avsc"`` or a path; ``"11.1"``
            or ``(11, 1)``; ``1101`` or ``"1101"``.
        """
        if isinstance(spec, tuple):
            return self.byVersion(spec)
        if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
            return self.byId(int(spec))
        if isinstance(spec, str) and re.fullmatch(r"\s*v?\d+[._]\d+\s*", spec):
            return self.byVersion(spec)
        return self.byUri(spec)
