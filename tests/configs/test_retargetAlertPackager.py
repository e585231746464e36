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

"""configs/retargetAlertPackager.py: the ap_pipe override that retargets alertPackager."""

import importlib.resources
import os
import unittest
import unittest.mock

import lsst.pex.config as pexConfig
import lsst.pipe.base as pipeBase
import lsst.utils.tests

from lsst.ap.alerts import PackageAlertsTask

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The override as installed with the package (what the README tells pip users to pass).
OVERRIDE = str(importlib.resources.files("lsst.ap.alerts") / "configs" / "retargetAlertPackager.py")


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


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
