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

"""The package's butler storage classes and formatters, through a real butler and on their own."""

import copy
import io
import os
import pickle
import shutil
import tempfile
import unittest
import unittest.mock

import fastavro
import lsst.utils.tests
import numpy as np
from lsst.daf.butler import Butler, DatasetType

from lsst.ap.alerts import PackageAlertsTask
from lsst.ap.alerts._afw import HAVE_AFW
from lsst.ap.alerts.avro.payloads import AlertPayloads
from lsst.ap.alerts.butlerFormatters import (
    ALERTS_STORAGE_CLASS,
    CONFIG_DIR,
    EXPOSURE_STORAGE_CLASS,
    makeRepo,
    readAlertContainer,
    writeAlertContainer,
)


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


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
