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

"""Bad input never loses or corrupts an alert silently.

Property test: random corruptions of a realistic visit (nulls, NaN, ±inf,
extreme and out-of-range numbers, unicode and wrong-typed values, duplicate
ids, dropped columns, empty histories).  `run` either succeeds, with every
alert valid against the schema and round-tripping through the Avro file, and
every input DiaSource accounted for (packaged or skipped with a reason), or
raises the documented `AlertInputError` before writing anything.
"""

import io
import os
import tempfile
import unittest
from unittest import mock

import fastavro
import lsst.utils.tests
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts.catalogs.inputChecks import AlertInputError
from lsst.ap.alerts.simulation import makeSimulatedVisit

VISIT = makeSimulatedVisit(12, 4, seed=5, size=260, fractionSolarSystem=0.2, fillAllFields=True)
TABLES = ("diaSourceCat", "diaObjectCat", "diaSrcHistory", "diaForcedSources", "ssSrc")

badValues = st.one_of(
    st.none(),
    st.just(np.nan),
    st.just(np.inf),
    st.just(-np.inf),
    st.just(pd.NA),
    st.just(2**70),
    st.just(-(2**40)),
    st.just(1e40),
    st.just(-0.0),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.just("ünïcødé ✓ 🚀"),
    st.just(""),
)


@st.composite
def corruption(draw):
    """A list of (table, row, column, value) edits plus structural changes."""
    edits = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        table = draw(st.sampled_from(TABLES))
        frame = getattr(VISIT, table)
        column = draw(st.sampled_from(list(frame.columns)))
        row = draw(st.integers(min_value=0, max_value=len(frame) - 1))
        edits.append((table, row, column, draw(badValues)))
    return {
        "edits": edits,
        "duplicateId": draw(st.booleans()),
        "emptyHistory": draw(st.booleans()),
        "dropColumn": draw(st.one_of(st.none(), st.tuples(st.sampled_from(TABLES[:4]), st.integers(0, 200)))),
    }


def _apply(spec):
    tables = {name: getattr(VISIT, name).copy() for name in TABLES}
    for name, frame in tables.items():
        # Corruptions must be representable: let any column hold any value.
        tables[name] = frame.astype(object)
    for table, row, column, value in spec["edits"]:
        tables[table].iloc[row, tables[table].columns.get_loc(column)] = value
    if spec["duplicateId"]:
        src = tables["diaSourceCat"]
        src.iloc[1, src.columns.get_loc("diaSourceId")] = src["diaSourceId"].iloc[0]
    if spec["emptyHistory"]:
        tables["diaSrcHistory"] = tables["diaSrcHistory"].iloc[:0]
    if spec["dropColumn"] is not None:
        table, index = spec["dropColumn"]
        frame = tables[table]
        tables[table] = frame.drop(columns=[frame.columns[index % len(frame.columns)]])
    return tables


class BadInputPropertyTestCase(lsst.utils.tests.TestCase):
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(corruption())
    def testRunSucceedsValidlyOrRaisesDocumentedError(self, spec):
        tables = _apply(spec)
        with tempfile.TemporaryDirectory() as tmp:
            config = PackageAlertsConfig()
            config.doWriteAlerts = True
            config.alertWriteLocation = tmp
            task = PackageAlertsTask(config=config)
            try:
                result = task.run(
                    tables["diaSourceCat"],
                    tables["diaObjectCat"],
                    tables["diaSrcHistory"],
                    tables["diaForcedSources"],
                    VISIT.diffIm,
                    VISIT.calexp,
                    VISIT.template,
                    ssSrc=tables["ssSrc"],
                )
            except AlertInputError as e:
                self.assertTrue(e.problems)
                self.assertEqual(os.listdir(tmp), [])  # nothing written
                return
            self.assertEqual(len(result.alerts) + len(result.skipped), len(tables["diaSourceCat"]))
            for _srcId, reason in result.skipped:
                self.assertTrue(reason)
            with open(result.alertFile, "rb") as f:
                records = list(fastavro.reader(f))
            self.assertEqual(len(records), len(result.alerts))
            parsed = task.schema.parsed
            for record, payload in zip(records, result.alerts.payloads, strict=False):
                self.assertTrue(fastavro.validation.validate(record, parsed, raise_errors=False))
                buf = io.BytesIO()
                fastavro.schemaless_writer(buf, parsed, record)
                self.assertEqual(buf.getvalue(), payload)


class ColumnsAndDomainsTestCase(lsst.utils.tests.TestCase):
    """Issue 17: no silent null from a missing column, no impossible value sent."""

    def run_(self, **replace):
        tables = {name: getattr(VISIT, name) for name in TABLES}
        tables.update(replace)
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        config = PackageAlertsConfig(doWriteAlerts=True, alertWriteLocation=self.tmp.name)
        self.task = PackageAlertsTask(config=config)
        return self.task.run(
            tables["diaSourceCat"],
            tables["diaObjectCat"],
            tables["diaSrcHistory"],
            tables["diaForcedSources"],
            VISIT.diffIm,
            VISIT.calexp,
            VISIT.template,
            ssSrc=tables["ssSrc"],
        )

    def testMissingMeasurementColumnIsAnInputError(self):
        for table, column in (
            ("diaSourceCat", "psfFlux"),
            ("diaSourceCat", "psfFluxErr"),
            ("diaSrcHistory", "psfFlux"),
            ("diaForcedSources", "psfFluxErr"),
            ("diaObjectCat", "nDiaSources"),
        ):
            with self.subTest(table=table, column=column):
                frame = getattr(VISIT, table).drop(columns=[column])
                with self.assertRaises(AlertInputError) as cm:
                    self.run_(**{table: frame})
                self.assertIn(f"{table} lacks required column(s): {column}", cm.exception.problems)
                self.assertEqual(os.listdir(self.tmp.name), [])

    def testMissingOptionalColumnsWarnOncePerVisit(self):
        sources = VISIT.diaSourceCat.drop(columns=["trailFlux", "snr"])
        objects = VISIT.diaObjectCat.drop(columns=["g_psfFluxMean"])
        with self.assertLogs("lsst.packageAlerts", "WARNING") as cm:
            result = self.run_(diaSourceCat=sources, diaObjectCat=objects)
        lines = [line for line in cm.output if "optional column" in line]
        self.assertEqual(len(lines), 1)
        for name in ("diaSourceCat.trailFlux", "diaSourceCat.snr", "diaObjectCat.g_psfFluxMean"):
            self.assertIn(name, lines[0])
        self.assertEqual(self.task.metadata["alert_columns_missing"], 3)
        self.assertEqual(
            set(self.task.metadata["alert_columns_missing_names"].split(",")),
            {"diaSourceCat.trailFlux", "diaSourceCat.snr", "diaObjectCat.g_psfFluxMean"},
        )
        self.assertGreater(len(result.alerts), 0)
        for alert in result.alerts:
            self.assertIsNone(alert["diaSource"]["trailFlux"])
        # Nothing missing: the keys are there, empty.
        self.run_()
        self.assertEqual(self.task.metadata["alert_columns_missing"], 0)
        self.assertEqual(self.task.metadata["alert_columns_missing_names"], "")

    def testImpossibleValuesSkipTheSource(self):
        sources = VISIT.diaSourceCat.copy()
        ids = sources["diaSourceId"].tolist()
        edits = [("dec", 95.0), ("ra", 360.5), ("apFluxErr", -2.0), ("exposureTime", 0.0)]
        for row, (column, value) in enumerate(edits):
            sources.iloc[row, sources.columns.get_loc(column)] = value
        with self.assertLogs("lsst.packageAlerts", "WARNING") as cm:
            result = self.run_(diaSourceCat=sources)
        skipped = dict(result.skipped)
        for row, (column, value) in enumerate(edits):
            srcId = ids[row]
            self.assertIn(srcId, skipped)
            self.assertIn(column, skipped[srcId])
            self.assertTrue(
                any(str(srcId) in line and column in line and repr(value) in line for line in cm.output),
                column,
            )
            self.assertNotIn(srcId, result.alerts.diaSourceIds)
        self.assertEqual(self.task.metadata["alerts_skipped_out_of_domain"], len(edits))
        self.assertEqual(self.task.metadata["alerts_skipped"], len(result.skipped))
        self.assertEqual(len(result.alerts) + len(result.skipped), len(sources))


class AtomicWriteTestCase(lsst.utils.tests.TestCase):
    def testCrashWhileWritingKeepsOldFile(self):
        with tempfile.TemporaryDirectory() as tmp:
            config = PackageAlertsConfig()
            config.doWriteAlerts = True
            config.alertWriteLocation = tmp
            task = PackageAlertsTask(config=config)
            args = (
                VISIT.diaSourceCat,
                VISIT.diaObjectCat,
                VISIT.diaSrcHistory,
                VISIT.diaForcedSources,
                VISIT.diffIm,
                VISIT.calexp,
                VISIT.template,
            )
            first = task.run(*args, ssSrc=VISIT.ssSrc)
            with open(first.alertFile, "rb") as f:
                original = f.read()

            calls = []

            def failingAppend(self, payload):
                calls.append(payload)
                if len(calls) == 3:
                    raise OSError("disk full")
                return realAppend(self, payload)

            from lsst.ap.alerts.avro.container import ContainerFileWriter

            realAppend = ContainerFileWriter.append
            with mock.patch.object(ContainerFileWriter, "append", failingAppend):
                with self.assertRaises(OSError):
                    task.run(*args, ssSrc=VISIT.ssSrc)
            self.assertEqual(os.listdir(tmp), [os.path.basename(first.alertFile)])
            with open(first.alertFile, "rb") as f:
                self.assertEqual(f.read(), original)
            self.assertEqual(oct(os.stat(first.alertFile).st_mode & 0o777), oct(0o666 & ~_umask()))


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
