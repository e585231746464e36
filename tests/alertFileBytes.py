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

"""Alert files at the byte level, for tests: written from a simulated visit,
walked and re-encoded with a few lines of Avro decoding of their own (and
fastavro), independently of the package's container reader, so damaged
copies can be made at known places.  NaN-aware equality of decoded alerts.
"""

import dataclasses
import io
import math
import os
import tempfile

import fastavro
from fastavro.read import HEADER_SCHEMA

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts.simulation import makeSimulatedVisit, runArguments

__all__ = [
    "SYNC_SIZE",
    "AlertFileFixture",
    "Block",
    "containerLayout",
    "encodeLong",
    "encodeRecord",
    "readLong",
    "sameValue",
    "writeVisitFile",
]

SYNC_SIZE = 16


def writeVisitFile(outDir, seed, nSources, withTemplate=True):
    """Package a small simulated visit into an alert file; return its path."""
    visit = makeSimulatedVisit(nSources, 4, seed=seed, size=(300, 260), fractionSolarSystem=0.1)
    config = PackageAlertsConfig()
    config.doWriteAlerts = True
    config.alertWriteLocation = outDir
    task = PackageAlertsTask(config=config)
    result = task.run(**runArguments(visit, template=visit.template if withTemplate else None))
    return result.alertFile


def readLong(data, pos):
    """Decode one Avro (zig-zag varint) long at ``pos``; return it and the next position."""
    shift = value = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (value >> 1) ^ -(value & 1), pos
        shift += 7


def encodeLong(value):
    """Avro (zig-zag varint) encoding of a long."""
    value = (value << 1) ^ (value >> 63)
    out = bytearray()
    while value & ~0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


@dataclasses.dataclass
class Block:
    start: int
    count: int
    size: int
    dataStart: int

    @property
    def syncStart(self):
        return self.dataStart + self.size


def containerLayout(data):
    """Header (fastavro's header schema), its end, and the blocks of a container file."""
    stream = io.BytesIO(data)
    header = fastavro.schemaless_reader(stream, HEADER_SCHEMA, None)
    pos = headerEnd = stream.tell()
    blocks = []
    while pos < len(data):
        count, p = readLong(data, pos)
        size, p = readLong(data, p)
        blocks.append(Block(pos, count, size, p))
        pos = p + size + SYNC_SIZE
    return header, headerEnd, blocks


def encodeRecord(record, parsedSchema):
    stream = io.BytesIO()
    fastavro.schemaless_writer(stream, parsedSchema, record)
    return stream.getvalue()


def sameValue(a, b):
    """Equality of decoded Avro values, with NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(sameValue(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(sameValue(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


class AlertFileFixture:
    """Class fixture: a small visit's alert file, and one without template
    cutouts, written in a temporary directory; the first read as bytes,
    records (fastavro) and container layout."""

    @classmethod
    def writeAlertFiles(cls, prefix, seed, nSources):
        cls.tmp = tempfile.TemporaryDirectory(prefix=prefix)
        root = cls.tmp.name
        cls.path = writeVisitFile(os.path.join(root, "good"), seed=seed, nSources=nSources)
        cls.noTemplatePath = writeVisitFile(
            os.path.join(root, "notemplate"), seed=5, nSources=3, withTemplate=False
        )
        with open(cls.path, "rb") as stream:
            cls.data = stream.read()
        reader = fastavro.reader(io.BytesIO(cls.data))
        cls.writerSchema = reader.writer_schema
        cls.metadata = dict(reader.metadata)
        cls.records = list(reader)
        cls.header, cls.headerEnd, cls.blocks = containerLayout(cls.data)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
