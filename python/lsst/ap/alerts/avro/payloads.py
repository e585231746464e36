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

"""Encoded alerts of one visit/detector, decoded only when looked at."""

from __future__ import annotations

__all__ = ["AlertPayloads"]

import io
from collections.abc import Sequence

import fastavro

from ..schemaRegistry import AlertSchema


class AlertPayloads(Sequence):
    """The alerts `PackageAlertsTask.run` made, as Avro payloads.

    Indexing gives the alert as a `dict` (decoded with fastavro on demand),
    so code that expects upstream's list of alert dicts keeps working while
    a crowded detector's alerts are held once, as bytes.

    Parameters
    ----------
    schema : `lsst.ap.alerts.schemaRegistry.AlertSchema`
        Schema the payloads are written with.
    diaSourceIds : `list` [`int`]
        Id of each alert's DiaSource.
    payloads : `list` [`bytes` or `memoryview`]
        Schemaless Avro encoding of each alert (no wire header).  The task
        gives read-only views of one buffer holding the whole visit
        (``bytes(payload)`` copies one out).
    diaObjectIds : `list` [`int`]
        The diaSource's diaObjectId of each alert (0 for solar-system
        sources).
    """

    def __init__(self, schema: AlertSchema, diaSourceIds, payloads, diaObjectIds):
        if not len(diaSourceIds) == len(payloads) == len(diaObjectIds):
            raise ValueError("diaSourceIds, payloads and diaObjectIds must have the same length")
        self.schema = schema
        self.diaSourceIds = list(diaSourceIds)
        self.payloads = list(payloads)
        self.diaObjectIds = list(diaObjectIds)

    def __len__(self) -> int:
        return len(self.payloads)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return fastavro.schemaless_reader(io.BytesIO(self.payloads[index]), self.schema.parsed, None)

    def framed(self, index: int) -> bytes:
        """Return alert ``index`` with the Confluent wire header, as sent to Kafka."""
        return self.schema.wireHeader() + self.payloads[index]

    @property
    def totalBytes(self) -> int:
        """Total size of the payloads."""
        return sum(len(p) for p in self.payloads)

    def __reduce__(self):
        # Views of the visit's buffer do not pickle (or deep-copy); their bytes do.
        return (
            AlertPayloads,
            (self.schema, self.diaSourceIds, [bytes(p) for p in self.payloads], self.diaObjectIds),
        )

    def __repr__(self) -> str:
        return (
            f"AlertPayloads({len(self)} alerts, {self.totalBytes} bytes, schema {self.schema.versionString})"
        )
