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

"""PackageAlertsPipelineTask in a real butler; its storage classes; the ap_pipe
override; the end-to-end demo (``pipetask run`` in a subprocess).
"""

import copy
import glob
import importlib.resources
import io
import os
import pickle
import shutil
import tempfile
import unittest
import unittest.mock

import fastavro
import lsst.pex.config as pexConfig
import lsst.pipe.base as pipeBase
import lsst.utils.tests
import numpy as np
from lsst.daf.butler import Butler, DatasetType
from lsst.pipe.base import Pipeline
from lsst.pipe.base.simple_pipeline_executor import SimplePipelineExecutor

from lsst.ap.alerts import PackageAlertsTask
from lsst.ap.alerts._afw import HAVE_AFW
from lsst.ap.alerts.avro.payloads import AlertPayloads
from lsst.ap.alerts.butlerFormatters import (
    ALERTS_STORAGE_CLASS,
    CONFIG_DIR,
    EXPOSURE_STORAGE_CLASS,
    ExposureFitsFormatter,
    makeRepo,
    readAlertContainer,
    writeAlertContainer,
)
from lsst.ap.alerts.pipelineTask import PackageAlertsPipelineConfig, PackageAlertsPipelineConnections
from lsst.ap.alerts.tools.demo import makeDemoInputs, pipelinePath, runDemo

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
# The override as installed with the package (what the README tells pip users to pass).
OVERRIDE = str(importlib.resources.files("lsst.ap.alerts") / "configs" / "retargetAlertPackager.py")
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


class RetargetTestCase(lsst.utils.tests.TestCase):
    """configs/retargetAlertPackager.py on a DiaPipelineTask-like config."""

    def testEupsPathIsTheSameFile(self):
        self.assertTrue(os.path.samefile(os.path.join(ROOT, "config", "retargetAlertPackager.py"), OVERRIDE))

    def testRetarget(self):
        class StandInConfig(pexConfig.Config):
            useAveragePsf = pexConfig.Field(dtype=bool, default=False, doc="Average PSF.")

        class StandInTask(pipeBase.Task):
            ConfigClass = StandInConfig
            _DefaultName = "standIn"

        class DiaPipelineLikeConfig(pexConfig.Config):
            alertPackager = pexConfig.ConfigurableField(target=StandInTask, doc="Upstream packager.")

        config = DiaPipelineLikeConfig()
        config.load(OVERRIDE)
        self.assertIs(config.alertPackager.target, PackageAlertsTask)
        self.assertIsInstance(config.alertPackager.value, PackageAlertsTask.ConfigClass)
        # Overrides of upstream fields still apply after the retarget.
        config.alertPackager.useAveragePsf = True
        task = config.alertPackager.apply()
        self.assertIsInstance(task, PackageAlertsTask)
        self.assertTrue(task.config.useAveragePsf)


class StorageClassTestCase(lsst.utils.tests.TestCase):
    """The formatters, through a real butler and on their own."""

    @classmethod
    def setUpClass(cls):
        from lsst.ap.alerts import simulation

        cls.visit = simulation.makeSimulatedVisit(8, 3, seed=5, size=128)
        cls.alerts = PackageAlertsTask().run(**simulation.runArguments(cls.visit)).alerts

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="test_storageClasses-")
        makeRepo(self.tmp)
        self.butler = Butler.from_config(self.tmp, writeable=True, run="test")

    def tearDown(self):
        self.butler.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _roundTrip(self, value, storageClass):
        datasetType = DatasetType("thing", (), storageClass, universe=self.butler.dimensions)
        self.butler.registry.registerDatasetType(datasetType)
        ref = self.butler.put(value, datasetType)
        return self.butler.get(ref), self.butler.getURI(ref)

    def testAlertPayloads(self):
        back, uri = self._roundTrip(self.alerts, ALERTS_STORAGE_CLASS)
        self.assertTrue(uri.ospath.endswith(".avro"))
        self.assertEqual(back.payloads, self.alerts.payloads)
        self.assertEqual(back.diaSourceIds, self.alerts.diaSourceIds)
        self.assertEqual(back.schema.version, self.alerts.schema.version)
        # Same bytes, so the same alerts (dicts with NaNs do not compare equal).
        self.assertEqual(back[0]["diaSource"]["diaSourceId"], self.alerts.diaSourceIds[0])
        with open(uri.ospath, "rb") as stream:
            self.assertEqual(len(list(fastavro.reader(stream))), len(self.alerts))

    def testConfigPathForAnyRepo(self):
        # A repo created without the seed knows the formatters through
        # DAF_BUTLER_CONFIG_PATH.
        plain = os.path.join(self.tmp, "plain")
        Butler.makeRepo(plain)
        with (
            unittest.mock.patch.dict(os.environ, {"DAF_BUTLER_CONFIG_PATH": CONFIG_DIR}),
            Butler.from_config(plain, writeable=True, run="test") as butler,
        ):
            datasetType = DatasetType("alerts", (), ALERTS_STORAGE_CLASS, universe=butler.dimensions)
            butler.registry.registerDatasetType(datasetType)
            ref = butler.put(self.alerts, datasetType)
            self.assertEqual(butler.get(ref).payloads, self.alerts.payloads)

    def testAlertPayloadsPickleAndCopy(self):
        """The task's payloads are views of one buffer; pickling and deep copies carry their bytes."""
        self.assertIsInstance(self.alerts.payloads[0], memoryview)
        for back in (pickle.loads(pickle.dumps(self.alerts)), copy.deepcopy(self.alerts)):
            self.assertIsInstance(back.payloads[0], bytes)
            self.assertEqual(back.payloads, self.alerts.payloads)
            self.assertEqual(back.diaSourceIds, self.alerts.diaSourceIds)
            self.assertEqual(back.diaObjectIds, self.alerts.diaObjectIds)
            self.assertEqual(back.framed(0), self.alerts.framed(0))

    def testAlertContainerBytes(self):
        back = readAlertContainer(io.BytesIO(writeAlertContainer(self.alerts)))
        self.assertEqual(back.payloads, self.alerts.payloads)
        empty = AlertPayloads(self.alerts.schema, [], [], [])
        self.assertEqual(len(readAlertContainer(io.BytesIO(writeAlertContainer(empty)))), 0)

    def testExposure(self):
        """The exposure storage class (afw's ExposureF or the model's) goes through ExposureFitsFormatter."""
        exposure = self.visit.diffIm
        back, uri = self._roundTrip(exposure, EXPOSURE_STORAGE_CLASS)
        self.assertTrue(uri.ospath.endswith(".fits"))
        self.assertIsInstance(back, type(exposure))
        self.assertEqual(back.getBBox(), exposure.getBBox())
        np.testing.assert_array_equal(back.image.array, exposure.image.array)
        np.testing.assert_array_equal(back.mask.array, exposure.mask.array)
        np.testing.assert_array_equal(back.variance.array, exposure.variance.array)
        self.assertEqual(back.visitInfo.id, exposure.visitInfo.id)
        self.assertEqual(back.detector.getId(), exposure.detector.getId())
        self.assertAlmostEqual(
            back.getPhotoCalib().getCalibrationMean(), exposure.getPhotoCalib().getCalibrationMean()
        )
        center = exposure.getBBox().getCenter()
        self.assertSpherePointsAlmostEqual(
            back.getWcs().pixelToSky(center), exposure.getWcs().pixelToSky(center)
        )
        np.testing.assert_allclose(
            back.getPsf().computeKernelImage(center).array, exposure.getPsf().computeKernelImage(center).array
        )

    @unittest.skipUnless(
        HAVE_AFW,
        "the model's storage class ApAlertsExposureF declares no components; "
        "daf_butler's ExposureF (real afw) does",
    )
    def testExposureComponents(self):
        """Components come from the exposure's getters: no lsst.obs.base assembler is needed."""
        exposure = self.visit.calexp
        datasetType = DatasetType("thing", (), EXPOSURE_STORAGE_CLASS, universe=self.butler.dimensions)
        self.butler.registry.registerDatasetType(datasetType)
        ref = self.butler.put(exposure, datasetType)
        self.assertEqual(self.butler.get(ref.makeComponentRef("photoCalib")), exposure.getPhotoCalib())
        self.assertEqual(self.butler.get(ref.makeComponentRef("bbox")), exposure.getBBox())
        self.assertEqual(self.butler.get(ref.makeComponentRef("visitInfo")).id, exposure.visitInfo.id)
        center = exposure.getBBox().getCenter()
        self.assertSpherePointsAlmostEqual(
            self.butler.get(ref.makeComponentRef("wcs")).pixelToSky(center),
            exposure.getWcs().pixelToSky(center),
        )
        np.testing.assert_array_equal(
            self.butler.get(ref.makeComponentRef("mask")).array, exposure.mask.array
        )

    def assertSpherePointsAlmostEqual(self, a, b):
        self.assertAlmostEqual(a.getRa().asDegrees(), b.getRa().asDegrees(), places=9)
        self.assertAlmostEqual(a.getDec().asDegrees(), b.getDec().asDegrees(), places=9)


class DemoTestCase(lsst.utils.tests.TestCase):
    """runDemo: pipetask in a subprocess, twice on the same work directory."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="test_demo-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def testRunTwice(self):
        first = runDemo(self.tmp, jobs=2, seed=1, progress=False, **SMALL)
        expected = SMALL["nSources"] * SMALL["nDetectors"]
        self.assertFalse(first.reusedInputs)
        self.assertEqual(first.nAlerts, expected)
        self.assertEqual(first.fileAlerts, expected)
        self.assertEqual(len(first.alertFiles), SMALL["nDetectors"])
        for path in first.alertFiles:
            alerts = readAlertContainer(path)
            self.assertEqual(len(alerts), SMALL["nSources"])
            self.assertTrue(alerts[0]["cutoutDifference"].startswith(b"SIMPLE"))
        self.assertAlmostEqual(first.meanBytes, first.totalBytes / expected)

        second = runDemo(self.tmp, jobs=1, seed=1, progress=False, **SMALL)
        self.assertTrue(second.reusedInputs)
        self.assertNotEqual(second.outputRun, first.outputRun)
        self.assertEqual(second.outputCollection, first.outputCollection)
        self.assertEqual(second.nAlerts, expected)
        self.assertEqual(second.totalBytes, first.totalBytes)
        self.assertTrue(all(os.path.isfile(p) for p in first.alertFiles + second.alertFiles))
        self.assertEqual(
            len(glob.glob(os.path.join(self.tmp, "alerts", "*", "*", "*.avro"))), 2 * SMALL["nDetectors"]
        )


class FailedInputsTestCase(lsst.utils.tests.TestCase):
    """A failed put of the demo inputs leaves neither datasets, files nor the run behind."""

    def testFailedPutLeavesNothing(self):
        with tempfile.TemporaryDirectory() as tmp:
            repo = os.path.join(tmp, "repo")
            makeRepo(repo)
            run = "demo/inputs/failing"
            # The exposure write fails after the catalogs' files are written
            # (the registry rolls back; the datastore leaves those files).
            failing = unittest.mock.patch.object(
                ExposureFitsFormatter, "write_local_file", side_effect=OSError("disk full (simulated)")
            )
            with Butler.from_config(repo, writeable=True) as butler:
                with failing, self.assertRaisesRegex(RuntimeError, "Failed to serialize"):
                    makeDemoInputs(
                        butler, run, os.path.join(tmp, "apdb.sqlite3"), seed=2, progress=False, **SMALL
                    )
                self.assertNotIn(run, butler.collections.query("demo/inputs/*"))
            written = [
                os.path.join(d, f)
                for d, _, files in os.walk(repo)
                for f in files
                if f.endswith((".parq", ".fits"))
            ]
            self.assertEqual(written, [])


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
