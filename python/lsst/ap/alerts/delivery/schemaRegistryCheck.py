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

"""Pre-flight check of the Confluent Schema Registry before alerts are sent.

A consumer decodes an alert with the schema the registry holds under the ID
of the message's wire header. If that ID is absent from the registry, or
names another schema, every message is undecodable or misread downstream;
so before the first message, `checkRegisteredSchema` fetches
``GET {url}/schemas/ids/{id}`` (the registry's REST API; the answer is JSON
whose ``"schema"`` member is the schema as a string) and compares it with
the local schema in Avro's Parsing Canonical Form (fastavro's
``to_parsing_canonical_form``: names fully qualified, attributes that do not
change the encoding, such as ``doc`` and ``default``, dropped, keys in a
fixed order). A registry that is down, answers an error, holds no such ID or
another schema raises one `SchemaRegistryCheckError` naming the ID and the
registry.

Only the standard library speaks HTTP here (`urllib.request`), with a
bounded timeout.
"""

from __future__ import annotations

__all__ = ["SchemaRegistryCheck", "SchemaRegistryCheckError", "checkRegisteredSchema", "displayUrl"]

import json
import urllib.error
import urllib.parse
import urllib.request

import fastavro.schema

from ..schemaRegistry import AlertSchema

_ACCEPT = "application/vnd.schemaregistry.v1+json, application/json"
# Larger answers are not a schema registry's: refuse rather than read them whole.
_MAX_RESPONSE_BYTES = 16 * 1024 * 1024


class SchemaRegistryCheckError(RuntimeError):
    """The schema registry does not hold the alerts' schema under their ID (or cannot be asked)."""


def displayUrl(url: str) -> str:
    """``url`` without user name and password, to print."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _fetch(url: str, schemaId: int, timeout: float) -> str:
    """The schema string the registry holds under ``schemaId``."""
    where = f"schema ID {schemaId} at the schema registry {displayUrl(url)}"
    request = urllib.request.Request(
        f"{url.rstrip('/')}/schemas/ids/{int(schemaId)}", headers={"Accept": _ACCEPT}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(_MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise SchemaRegistryCheckError(f"{where}: not registered (HTTP 404)") from None
        raise SchemaRegistryCheckError(f"{where}: the registry answered HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise SchemaRegistryCheckError(
            f"{where}: registry unreachable within {timeout:g} s ({reason})"
        ) from None
    try:
        if len(body) > _MAX_RESPONSE_BYTES:
            raise ValueError(f"answer larger than {_MAX_RESPONSE_BYTES} bytes")
        schema = json.loads(body)["schema"]
        if not isinstance(schema, str):
            raise ValueError('"schema" is not a string')
    except (ValueError, KeyError, TypeError) as e:
        raise SchemaRegistryCheckError(f"{where}: not a schema registry answer ({e})") from None
    return schema


def _canonical(schema) -> str:
    return fastavro.schema.to_parsing_canonical_form(schema)


def checkRegisteredSchema(url: str, schema: AlertSchema, timeout: float) -> None:
    """Check that the registry at ``url`` holds ``schema`` under its Confluent ID.

    Parameters
    ----------
    url : `str`
        Base URL of the Confluent Schema Registry (``http://host:8081``).
    schema : `lsst.ap.alerts.schemaRegistry.AlertSchema`
        The schema the alerts are encoded with; its ``schemaId`` is the
        wire header's ID.
    timeout : `float`
        Seconds to wait for the registry (connection and answer).

    Raises
    ------
    SchemaRegistryCheckError
        If the registry is unreachable or answers an error, has no schema
        under that ID, or holds a schema whose canonical form differs.
    """
    registered = _fetch(url, schema.schemaId, timeout)
    try:
        remote = _canonical(json.loads(registered))
    except Exception as e:
        # An unparsable schema makes fastavro raise almost anything.
        raise SchemaRegistryCheckError(
            f"schema ID {schema.schemaId} at the schema registry {displayUrl(url)}: "
            f"the registered schema does not parse ({type(e).__name__}: {e})"
        ) from None
    if remote != _canonical(schema.definition):
        raise SchemaRegistryCheckError(
            f"schema ID {schema.schemaId} at the schema registry {displayUrl(url)} is not the local "
            f"schema {schema.versionString} ({schema.path}): their canonical forms differ; consumers "
            "would decode these alerts with the registered one"
        )


class SchemaRegistryCheck:
    """Run `checkRegisteredSchema` once per schema, before the first send.

    Parameters
    ----------
    url : `str`
        Base URL of the registry; empty: no check.
    timeout : `float`
        Seconds to wait for the registry.

    Notes
    -----
    A schema that passed is not fetched again by this object; a failure is
    not remembered, so the next send asks again (the registry may have
    come back).
    """

    def __init__(self, url: str, timeout: float):
        self.url = url
        self.timeout = timeout
        self._passed: set[int] = set()

    def ensure(self, schema: AlertSchema) -> None:
        """Check ``schema`` unless already done.

        Raises
        ------
        SchemaRegistryCheckError
            See `checkRegisteredSchema`.
        """
        if not self.url or schema.schemaId in self._passed:
            return
        checkRegisteredSchema(self.url, schema, self.timeout)
        self._passed.add(schema.schemaId)
