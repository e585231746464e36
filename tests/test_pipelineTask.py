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

"""PackageAlertsPipelineTask in a real butler: its connections, outputs and files.

The storage classes are tested in test_butlerFormatters, the ap_pipe override
in configs/test_retargetAlertPackager, the demo run in tools/test_demo.
"""

import os
import shutil
import tempfile
import unittest
import unittest.mock

import fastavro
import lsst.utils.tests
from lsst.daf.butler import Butler
from lsst.pipe.base import Pipeline
from lsst.pipe.base.simple_pipeline_executor import SimplePipelineExecutor

from lsst.ap.alerts import PackageAlertsTask
from lsst.ap.alerts.avro.payloads import AlertPayloads
from lsst.ap.alerts.butlerFormatters import (
    ALERTS_STORAGE_CLASS,
    EXPOSURE_STORAGE_CLASS,
    makeRepo,
    readAlertContainer,
)
from lsst.ap.alerts.pipelineTask import PackageAlertsPipelineConfig, PackageAlertsPipelineConnections
from lsst.ap.alerts.tools.demoInputs import makeDemoInputs
from lsst.ap.alerts.tools.pipetaskCommands import pipelinePath

LABEL = "packageAlerts"
CUTOUTS = ("cutoutDifference", "cutoutScience", "cutoutTemplate")
# Small enough for the whole module to run in well under a minute on 2 cores.
SMALL = {"nSources": 20, "nDetectors": 2, "historyDepth": 5, "imageSize": 256}


class PipelineTaskTestCase(lsst.utils.tests.TestCase):
    """Simulated inputs in a SQLite repo, run with SimplePipelineExecutor."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test_pipelineTask-")
        cls.repo = os.path.join(cls.tmp, "repo")
        cls.alertDir = os.path.join(cls.tmp, "alerts")
        makeRepo(cls.repo)
        with Butler.from_config(cls.repo, writeable=True) as butler:
            cls.inputs = makeDemoInputs(
                butler, "inputs", os.path.join(cls.tmp, "apdb.sqlite3"), seed=3, progress=False, **SMALL
            )
        pipeline = Pipeline.from_uri(pipelinePath())
        pipeline.addConfigOverride(LABEL, "doSolarSystemSources", True)
        pipeline.addConfigOverride(LABEL, "alertPackager.doWriteAlerts", True)
        pipeline.addConfigOverride(LABEL, "alertPackager.alertWriteLocation", cls.alertDir)
        cls.butler = SimplePipelineExecutor.prep_butler(cls.repo, inputs=["inputs"], output="out")
        executor = SimplePipelineExecutor.from_pipeline(
            pipeline, where=cls.inputs.dataQuery, butler=cls.butler
        )
        cls.quanta = executor.run(register_dataset_types=True)

    @classmethod
    def tearDownClass(cls):
        cls.butler.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def _alertsByDetector(self):
        refs = self.butler.query_datasets("deepDiff_alerts", collections="out")
        return {ref.dataId["detector"]: self.butler.get(ref) for ref in refs}

    def testAlertsFromButler(self):
        self.assertEqual(len(self.quanta), len(self.inputs.detectors))
        byDetector = self._alertsByDetector()
        self.assertEqual(sorted(byDetector), self.inputs.detectors)
        for detector, alerts in byDetector.items():
            with self.subTest(detector=detector):
                self.assertIsInstance(alerts, AlertPayloads)
                sources = self.butler.get(
                    "deepDiff_assocDiaSrc",
                    collections="out",
                    instrument="DemoCam",
                    visit=self.inputs.visit,
                    detector=detector,
                )
                self.assertEqual(sorted(alerts.diaSourceIds), sorted(sources["diaSourceId"].tolist()))
                self.assertGreater(alerts.totalBytes, 0)
                nWithObject = 0
                for i, alert in enumerate(alerts):
                    self.assertEqual(alert["diaSourceId"], alerts.diaSourceIds[i])
                    self.assertEqual(alert["diaSource"]["diaSourceId"], alert["diaSourceId"])
                    self.assertEqual(alert["diaSource"]["detector"], detector)
                    self.assertEqual(alert["diaSource"]["visit"], self.inputs.visit)
                    for name in CUTOUTS:
                        self.assertTrue(alert[name].startswith(b"SIMPLE"), msg=name)
                    if alert["diaObject"] is not None:
                        nWithObject += 1
                        self.assertEqual(alert["diaObject"]["diaObjectId"], alerts.diaObjectIds[i])
                        self.assertEqual(alert["diaSource"]["diaObjectId"], alerts.diaObjectIds[i])
                    else:
                        self.assertIsNotNone(alert["ssSource"])
                self.assertGreater(nWithObject, 0)
                # History from the APDB made it into the alerts.
                self.assertTrue(any(alert["prvDiaSources"] for alert in alerts))
                self.assertTrue(any(alert["prvDiaForcedSources"] for alert in alerts))

    def testAlertFilesOnDisk(self):
        byDetector = self._alertsByDetector()
        for detector, alerts in byDetector.items():
            path = os.path.join(self.alertDir, f"{self.inputs.visit}_{detector}.avro")
            with self.subTest(path=path):
                self.assertTrue(os.path.isfile(path))
                self.assertEqual(readAlertContainer(path).payloads, alerts.payloads)
                with open(path, "rb") as stream:
                    records = list(fastavro.reader(stream))
                self.assertEqual([r["diaSourceId"] for r in records], alerts.diaSourceIds)

    def testDatasetTypesAndMetadata(self):
        alertsType = self.butler.get_dataset_type("deepDiff_alerts")
        self.assertEqual(alertsType.storageClass_name, ALERTS_STORAGE_CLASS)
        self.assertEqual(
            self.butler.get_dataset_type("deepDiff_differenceExp").storageClass_name, EXPOSURE_STORAGE_CLASS
        )
        metadata = self.butler.get(
            f"{LABEL}_metadata",
            collections="out",
            instrument="DemoCam",
            visit=self.inputs.visit,
            detector=self.inputs.detectors[0],
        )
        self.assertEqual(metadata[f"{LABEL}:alertPackager"]["alerts_packaged"], SMALL["nSources"])


class ConnectionsTestCase(lsst.utils.tests.TestCase):
    def testSolarSystemInputIsOptional(self):
        config = PackageAlertsPipelineConfig()
        connections = PackageAlertsPipelineConnections(config=config)
        self.assertNotIn("ssSources", connections.inputs)
        self.assertEqual(set(connections.outputs), {"alerts"})
        config.doSolarSystemSources = True
        connections = PackageAlertsPipelineConnections(config=config)
        self.assertIn("ssSources", connections.inputs)
        self.assertIs(config.alertPackager.target, PackageAlertsTask)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
