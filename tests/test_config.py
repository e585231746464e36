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

"""PackageAlertsConfig: upstream's fields, types and defaults; validation of the additions."""

import os
import unittest

import lsst.alert.packet as alertPack
import lsst.pex.config as pexConfig
import lsst.utils.tests

from lsst.ap.alerts import PackageAlertsConfig

# name: (dtype, default) of lsst.ap.association.PackageAlertsConfig.
UPSTREAM_FIELDS = {
    "schemaFile": (str, str(alertPack.get_uri_to_latest_schema())),
    "minCutoutSize": (int, 30),
    "maxCutoutSize": (int, 102),
    "alertWriteLocation": (str, os.path.join(os.getcwd(), "alerts")),
    "doProduceAlerts": (bool, False),
    "doWriteAlerts": (bool, False),
    "doWriteFailedAlerts": (bool, False),
    "maxTimeout": (float, 15.0),
    "deliveryTimeout": (float, 1200.0),
    "useAveragePsf": (bool, False),
}


class ConfigTestCase(lsst.utils.tests.TestCase):
    def testUpstreamFields(self):
        config = PackageAlertsConfig()
        for name, (dtype, default) in UPSTREAM_FIELDS.items():
            with self.subTest(name=name):
                field = PackageAlertsConfig._fields[name]
                self.assertIs(field.dtype, dtype)
                self.assertEqual(getattr(config, name), default)
        for name in ("minCutoutSize", "maxCutoutSize"):
            field = PackageAlertsConfig._fields[name]
            self.assertIsInstance(field, pexConfig.RangeField)
            self.assertEqual((field.min, field.max), (0, 1000))

    def testAdditionsDefaultToUpstream(self):
        config = PackageAlertsConfig()
        self.assertEqual(config.kafkaSecurityProtocol, "SASL_PLAINTEXT")
        self.assertEqual(config.kafkaSaslMechanism, "SCRAM-SHA-512")
        self.assertFalse(config.doKeyByDiaObjectId)
        self.assertFalse(config.useNullForNaN)  # NaN, as upstream
        self.assertIs(PackageAlertsConfig._fields["useNullForNaN"].dtype, bool)
        config.validate()
        # Every addition is documented (pex_config shows the doc in config dumps).
        for name in set(PackageAlertsConfig._fields) - set(UPSTREAM_FIELDS):
            self.assertGreater(len(PackageAlertsConfig._fields[name].doc), 40, name)

    def testValidation(self):
        config = PackageAlertsConfig()
        config.minCutoutSize = 200
        with self.assertRaises(pexConfig.FieldValidationError) as cm:
            config.validate()
        self.assertIn("maxCutoutSize", str(cm.exception))
        config = PackageAlertsConfig()
        config.deliveryTimeout = 0
        with self.assertRaises(pexConfig.FieldValidationError):
            config.validate()
        config = PackageAlertsConfig()
        with self.assertRaises(pexConfig.FieldValidationError):
            config.minCutoutSize = 1001
        with self.assertRaises(pexConfig.FieldValidationError):
            config.kafkaSecurityProtocol = "NOPE"

    def testSaveLoad(self):
        config = PackageAlertsConfig()
        config.maxCutoutSize = 64
        config.kafkaSecurityProtocol = "PLAINTEXT"
        path = os.path.join(self.enterContext(lsst.utils.tests.temporaryDirectory()), "c.py")
        config.save(path)
        loaded = PackageAlertsConfig()
        loaded.load(path)
        self.assertEqual(loaded.maxCutoutSize, 64)
        self.assertEqual(loaded.kafkaSecurityProtocol, "PLAINTEXT")


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
