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

"""Time the columnar Avro encoder against fastavro, record by record.

Builds realistic diaSource and diaForcedSource tables (30,000 rows each,
schema lsst.alert.packet latest), encodes them with
`lsst.ap.alerts.avro.encoding.encodeTable` and with
``fastavro.schemaless_writer`` on ``TypedTable.toRecords()``, checks that the
bytes agree and prints records/s and the speed ratio.

Run from the repository root::

    python benchmarks/bench_encoding.py
"""

import io
import sys
import time
from pathlib import Path

# Benchmark the checkout this script belongs to.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

import fastavro
import lsst.alert.packet
import numpy as np
import pandas as pd

from lsst.ap.alerts.avro.encoding import encodeTable
from lsst.ap.alerts.catalogs.typedTable import coerceTable, fieldSpecs
from lsst.ap.alerts.schemaRegistry import namedRecordSchemas

ROWS = 30_000
NULL_FRACTION = 0.1
REPEATS = 5


def randomColumn(spec, rng, n):
    """Plausible values for one field: ids, small ints, floats, flags, bands."""
    if spec.avroType == "long":
        if spec.name.endswith("Id"):
            values = rng.integers(10**17, 10**18, n, dtype=np.int64)
        else:
            values = rng.integers(0, 10**13, n, dtype=np.int64)
    elif spec.avroType == "int":
        values = rng.integers(0, 189, n, dtype=np.int32)
    elif spec.avroType in ("float", "double"):
        values = rng.normal(100.0, 30.0, n)
    elif spec.avroType == "boolean":
        values = rng.random(n) < 0.05
    else:
        values = rng.choice(np.array(list("ugrizy"), dtype=object), n)
    series = pd.Series(values)
    if spec.nullable:
        series = series.astype(object)
        series[rng.random(n) < NULL_FRACTION] = None
    return series


def randomTable(recordSchema, rng, n):
    frame = pd.DataFrame({s.name: randomColumn(s, rng, n) for s in fieldSpecs(recordSchema)})
    typed, problems = coerceTable(frame, recordSchema)
    assert not problems, problems[:5]
    return typed


def best(function, repeats=REPEATS):
    """Smallest wall time of several runs, and the last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def fastavroEncode(parsedSchema, records):
    out = []
    for record in records:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, parsedSchema, record)
        out.append(buffer.getvalue())
    return out


def benchmark(name, recordSchema, rng):
    table = randomTable(recordSchema, rng, ROWS)
    records = table.toRecords()
    parsed = fastavro.parse_schema(recordSchema)
    columnar, encoded = best(lambda: encodeTable(table))
    reference, expected = best(lambda: fastavroEncode(parsed, records), repeats=2)
    if list(encoded) != expected:
        raise AssertionError(f"{name}: encodeTable disagrees with fastavro")
    print(
        f"{name:16s} {len(table.specs):4d} fields  "
        f"encodeTable {ROWS / columnar:12,.0f} rec/s ({1e6 * columnar / ROWS:6.2f} µs/rec)  "
        f"fastavro {ROWS / reference:10,.0f} rec/s ({1e6 * reference / ROWS:6.2f} µs/rec)  "
        f"ratio {reference / columnar:5.1f}x"
    )
    return columnar, reference


def main():
    alertSchema = fastavro.schema.load_schema(lsst.alert.packet.get_path_to_latest_schema())
    schemas = namedRecordSchemas(alertSchema)
    rng = np.random.default_rng(20260101)
    total = [0.0, 0.0]
    for name in ("diaSource", "diaForcedSource"):
        for i, seconds in enumerate(benchmark(name, schemas[name], rng)):
            total[i] += seconds
    print(f"{'both':16s} overall ratio {total[1] / total[0]:.1f}x ({2 * ROWS} records)")


if __name__ == "__main__":
    main()
