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

"""run() through upstream's hooks when a subclass overrides them (`lsst.ap.alerts.hookPath`).

For each of the ten hooks: a subclass whose override only calls the base
method gives the fast path's bytes (the visit file and every Kafka message),
and an override that changes something is seen in the alerts.  The Kafka
part runs against the real Kafka-protocol broker the tests start.
"""

import io
import os
import pickle
import struct
import tempfile
import unittest
from unittest import mock

import fastavro
import lsst.utils.tests
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from kafkaBrokers import NoidaBroker, brokerUnavailableReason, consumeAll

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts._afw import geom
from lsst.ap.alerts.hookPath import HOOKS, overriddenHooks
from lsst.ap.alerts.simulation import makeSimulatedVisit, runArguments


def passThrough(name):
    """A subclass overriding hook ``name`` with a method that only calls the base one."""
    base = PackageAlertsTask.__dict__[name]
    if isinstance(base, staticmethod):
        function = base.__func__
        override = staticmethod(lambda *args, **kwargs: function(*args, **kwargs))
    else:

        def override(self, *args, **kwargs):
            return base(self, *args, **kwargs)

    return type(f"PassThrough_{name}", (PackageAlertsTask,), {name: override})


def allPassThrough(extra=None):
    """A subclass overriding all ten hooks with pass-throughs (``extra`` replaces some)."""
    namespace = {name: passThrough(name).__dict__[name] for name in HOOKS}
    namespace.update(extra or {})
    return type("PassThroughAll", (PackageAlertsTask,), namespace)


class HookPathTestBase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        # Solar-system sources, every optional field, sources near and off the edges.
        cls.visit = makeSimulatedVisit(
            14, 5, seed=5, size=300, fractionSolarSystem=0.15, fillAllFields=True, edgeMargin=-15.0
        )

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name

    def config(self, **overrides):
        config = PackageAlertsConfig()
        config.doWriteAlerts = True
        config.alertWriteLocation = tempfile.mkdtemp(dir=self.tmp)
        for key, value in overrides.items():
            setattr(config, key, value)
        return config

    def run_(self, taskClass, **runOverrides):
        task = taskClass(config=self.config())
        result = task.run(**runArguments(self.visit, **runOverrides))
        with open(result.alertFile, "rb") as f:
            return task, result, f.read()


class PassThroughTestCase(HookPathTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with tempfile.TemporaryDirectory() as tmp:
            config = PackageAlertsConfig(doWriteAlerts=True, alertWriteLocation=tmp)
            cls.fastTask = PackageAlertsTask(config=config)
            cls.fast = cls.fastTask.run(**runArguments(cls.visit))
            with open(cls.fast.alertFile, "rb") as f:
                cls.fastFile = f.read()
        cls.fastMessages = [cls.fast.alerts.framed(i) for i in range(len(cls.fast.alerts))]

    def testDetection(self):
        self.assertEqual(overriddenHooks(PackageAlertsTask, PackageAlertsTask), ())
        self.assertEqual(len(HOOKS), 10)
        for name in HOOKS:
            self.assertEqual(overriddenHooks(passThrough(name), PackageAlertsTask), (name,))
        # Overriding something else (not a hook) keeps the fast path.
        other = type("Other", (PackageAlertsTask,), {"produceAlerts": PackageAlertsTask.produceAlerts})
        self.assertEqual(overriddenHooks(other, PackageAlertsTask), ())

    def testEachHookPassThroughGivesFastPathBytes(self):
        self.assertGreater(len(self.fast.alerts), 10)
        self.assertTrue(any(a["ssSource"] is not None for a in self.fast.alerts))
        self.assertTrue(any(a["cutoutDifference"] is None for a in self.fast.alerts))
        for name in HOOKS:
            with self.subTest(hook=name):
                with self.assertLogs(level="INFO") as cm:
                    task, result, data = self.run_(passThrough(name))
                slower = [line for line in cm.output if "per-alert path" in line]
                self.assertEqual(len(slower), 1)
                self.assertIn(name, slower[0])
                self.assertEqual(data, self.fastFile)
                self.assertEqual(
                    [result.alerts.framed(i) for i in range(len(result.alerts))], self.fastMessages
                )
                self.assertEqual(result.skipped, self.fast.skipped)
                self.assertEqual(result.alerts.diaObjectIds, self.fast.alerts.diaObjectIds)
                for key in ("alerts_packaged", "alerts_skipped", "alerts_input", "alert_bytes"):
                    self.assertEqual(task.metadata[key], self.fastTask.metadata[key], key)
                self.assertLessEqual(set(result.timings), set(self.fast.timings) | {"fits"})

    def testAllHooksPassThroughGivesFastPathBytes(self):
        _, result, data = self.run_(allPassThrough())
        self.assertEqual(data, self.fastFile)
        self.assertEqual([result.alerts.framed(i) for i in range(len(result.alerts))], self.fastMessages)


class ChangingHooksTestCase(HookPathTestBase):
    """An override that changes something is seen in the alerts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fast = PackageAlertsTask(config=PackageAlertsConfig()).run(**runArguments(cls.visit))

    def run_(self, namespace, **runOverrides):
        taskClass = type("Changing", (PackageAlertsTask,), namespace)
        return super().run_(taskClass, **runOverrides)

    def cutouts(self, result, field="cutoutDifference"):
        return [a[field] for a in result.alerts if a[field] is not None]

    def testCreateCcdDataCutout(self):
        def createCcdDataCutout(self, image, *args, **kwargs):
            return (
                None
                if image is self.skipImage
                else PackageAlertsTask.createCcdDataCutout(self, image, *args, **kwargs)
            )

        visit = self.visit
        taskClass = type("NoScience", (PackageAlertsTask,), {"createCcdDataCutout": createCcdDataCutout})
        taskClass.skipImage = visit.calexp
        _, result, _ = HookPathTestBase.run_(self, taskClass)
        self.assertEqual(self.cutouts(result, "cutoutScience"), [])
        self.assertEqual(self.cutouts(result), self.cutouts(self.fast))

    def testStreamCcdDataToBytes(self):
        def streamCcdDataToBytes(self, cutout):
            return b"marked" + PackageAlertsTask.streamCcdDataToBytes(self, cutout)

        _, result, _ = self.run_({"streamCcdDataToBytes": streamCcdDataToBytes})
        self.assertEqual(self.cutouts(result), [b"marked" + c for c in self.cutouts(self.fast)])

    def testMakeLocalTransformMatrix(self):
        def makeLocalTransformMatrix(self, wcs, center, skyCenter):
            return 2.0 * PackageAlertsTask.makeLocalTransformMatrix(self, wcs, center, skyCenter)

        _, result, _ = self.run_({"makeLocalTransformMatrix": makeLocalTransformMatrix})
        for ours, fast in zip(self.cutouts(result), self.cutouts(self.fast), strict=True):
            got, expected = fits.getheader(io.BytesIO(ours), 0), fits.getheader(io.BytesIO(fast), 0)
            np.testing.assert_allclose(
                WCS(got).pixel_scale_matrix, 2.0 * WCS(expected).pixel_scale_matrix, rtol=1e-12
            )
            self.assertEqual(got["CRPIX1"], expected["CRPIX1"])

    def testCreateDiaSourceExtent(self):
        def createDiaSourceExtent(self, bboxSize):
            return geom.Extent2I(41, 41)

        _, result, _ = self.run_({"createDiaSourceExtent": createDiaSourceExtent})
        shapes = {fits.getdata(io.BytesIO(c), 0).shape for c in self.cutouts(result)}
        self.assertEqual(shapes, {(41, 41)})
        self.assertNotIn((41, 41), {fits.getdata(io.BytesIO(c), 0).shape for c in self.cutouts(self.fast)})

    def testComputePsf(self):
        def _computePsf(self, exposure, pixelCenter, srcId=None):
            return np.full((5, 5), 0.04)

        _, result, _ = self.run_({"_computePsf": _computePsf})
        for data in self.cutouts(result):
            with fits.open(io.BytesIO(data)) as hdus:
                np.testing.assert_array_equal(hdus["PSFIMAGE"].data, np.full((5, 5), 0.04))

    def testMakeAlertDict(self):
        def makeAlertDict(self, *args, **kwargs):
            alert = PackageAlertsTask.makeAlertDict(self, *args, **kwargs)
            alert["target_name"] = f"target of {alert['diaSourceId']}"
            alert["diaSource"]["snr"] = 1234.5
            return alert

        _, result, _ = self.run_({"makeAlertDict": makeAlertDict})
        self.assertEqual(len(result.alerts), len(self.fast.alerts))
        for alert in result.alerts:
            self.assertEqual(alert["target_name"], f"target of {alert['diaSourceId']}")
            self.assertEqual(alert["diaSource"]["snr"], 1234.5)

    def testSerializeAlert(self):
        def _serializeAlert(self, alert, schema=None, schema_id=0):
            return PackageAlertsTask._serializeAlert(self, alert, schema, schema_id=704)

        _, result, data = self.run_({"_serializeAlert": _serializeAlert})
        for i in range(len(result.alerts)):
            self.assertEqual(
                result.alerts.framed(i), struct.pack(">bi", 0, 704) + self.fast.alerts.payloads[i]
            )
        self.assertEqual(
            [bytes(p) for p in result.alerts.payloads], [bytes(p) for p in self.fast.alerts.payloads]
        )

    def testSerializeConfluentWireHeader(self):
        header = staticmethod(lambda schema_version: struct.pack(">bi", 0, schema_version + 1))
        _, result, _ = self.run_({"_serializeConfluentWireHeader": header})
        schemaId = self.fast.alerts.schema.schemaId
        for i in range(len(result.alerts)):
            self.assertEqual(result.alerts.framed(i)[:5], struct.pack(">bi", 0, schemaId + 1))
            self.assertEqual(result.alerts.payloads[i], self.fast.alerts.payloads[i])
        # The messages survive pickling (a butler or a worker pool may pickle the result).
        copied = pickle.loads(pickle.dumps(result.alerts))
        self.assertEqual(copied.framed(0), result.alerts.framed(0))
        self.assertEqual(copied[0]["diaSourceId"], result.alerts[0]["diaSourceId"])

    def testPatchDiaSources(self):
        def _patchDiaSources(self, diaSources):
            diaSources["snr"] = 77.0

        before = self.visit.diaSourceCat.copy()
        _, result, _ = self.run_({"_patchDiaSources": _patchDiaSources})
        self.assertTrue(all(a["diaSource"]["snr"] == 77.0 for a in result.alerts))
        histories = [a["prvDiaSources"] for a in result.alerts if a["prvDiaSources"]]
        self.assertTrue(histories)
        self.assertTrue(all(row["snr"] == 77.0 for rows in histories for row in rows))
        self.assertTrue(before.equals(self.visit.diaSourceCat))  # the caller's frame is untouched

    def testFailingHookSkipsOnlyItsSource(self):
        badId = int(self.fast.alerts.diaSourceIds[3])

        def makeAlertDict(self, diaSourceId, *args, **kwargs):
            if diaSourceId == badId:
                raise RuntimeError("no alert for this one")
            return PackageAlertsTask.makeAlertDict(self, diaSourceId, *args, **kwargs)

        with self.assertLogs(level="WARNING") as cm:
            task, result, _ = self.run_({"makeAlertDict": makeAlertDict})
        self.assertTrue(any(f"diaSourceId={badId}" in line and "no alert" in line for line in cm.output))
        self.assertNotIn(badId, result.alerts.diaSourceIds)
        self.assertEqual(len(result.alerts), len(self.fast.alerts) - 1)
        self.assertIn(badId, [srcId for srcId, _ in result.skipped])
        self.assertEqual(task.metadata["alerts_skipped"], len(self.fast.skipped) + 1)
        with open(result.alertFile, "rb") as f:
            self.assertEqual([a["diaSourceId"] for a in fastavro.reader(f)], result.alerts.diaSourceIds)


@unittest.skipIf(brokerUnavailableReason(NoidaBroker), "noida-db is not installed")
class HookPathKafkaTestCase(HookPathTestBase):
    """Kafka messages and delivery reports on the per-alert path."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = NoidaBroker()
        cls.broker.start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
        cls.broker.cleanup()

    def config(self, **overrides):
        return super().config(
            doProduceAlerts=True, kafkaSecurityProtocol="PLAINTEXT", maxTimeout=5.0, doWriteFailedAlerts=True
        )

    def produced(self, taskClass):
        topic = f"alerts-{taskClass.__name__}"
        self.broker.createTopic(topic, partitions=2)
        env = {"AP_KAFKA_SERVER": self.broker.bootstrap, "AP_KAFKA_TOPIC": topic}
        with mock.patch.dict(os.environ, env):
            task, result, data = self.run_(taskClass)
            task.producer.close()
        messages = consumeAll(self.broker.bootstrap, topic, len(result.alerts))
        return result, data, sorted(m.value() for m in messages)

    def testPassThroughSendsFastPathMessages(self):
        reports = []
        info = self.visit.diffIm.visitInfo
        fileName = f"{info.id}_{self.visit.diffIm.detector.getId()}.avro"

        def _delivery_callback(self, err, msg):
            # The visit file is in place before the first message is produced.
            path = os.path.join(self.config.alertWriteLocation, fileName)
            reports.append((err, msg.topic(), os.path.exists(path)))
            PackageAlertsTask._delivery_callback(self, err, msg)

        fastResult, fastData, fastMessages = self.produced(PackageAlertsTask)
        result, data, messages = self.produced(allPassThrough({"_delivery_callback": _delivery_callback}))
        self.assertEqual(data, fastData)
        self.assertEqual(messages, fastMessages)
        self.assertEqual(len(messages), len(fastResult.alerts))
        self.assertEqual(len(reports), len(messages))
        self.assertTrue(all(err is None and inPlace for err, _, inPlace in reports))
        self.assertEqual(result.produceReport.delivered, len(messages))


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
