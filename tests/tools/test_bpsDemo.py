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

"""``bps submit`` with Parsl's Local site (`lsst.ap.alerts.tools.bpsDemo`, ``bps/``).

One demo visit (two detectors) is put into a butler repository created
WITHOUT the package's seed configuration, so the storage classes reach the
pipeline processes only through ``bps/pipInstall.yaml``'s command wrapper.
The reference is ``pipetask run`` on the same inputs (with the package's
configuration on ``DAF_BUTLER_CONFIG_PATH``); ``bps submit`` then runs in an
environment without it, and with a fake Kafka password that must not end up
in any file.  The alert files of both runs must be byte-identical (files are
reproducible), and so must the butler datasets.  Real BPS, real Parsl
workers, real SQLite butler: nothing is mocked.  Takes 1-3 minutes.
"""

import glob
import os
import subprocess
import tempfile
import unittest
from unittest import mock

import lsst.utils.tests
from lsst.ctrl.bps import BpsConfig
from lsst.ctrl.bps.parsl.site import SiteConfig
from lsst.daf.butler import Butler

from lsst.ap.alerts.butlerFormatters import CONFIG_DIR
from lsst.ap.alerts.tools.bpsDemo import runBpsSubmit, submitYamlPath
from lsst.ap.alerts.tools.demoInputs import INSTRUMENT, makeDemoInputs
from lsst.ap.alerts.tools.pipetaskCommands import pipetaskCommand, pipetaskRunCommand, subprocessEnvironment

DATASET_TYPE = "deepDiff_alerts"
SECRET = "not-a-real-password-5f1c9e"
LABEL = "packageAlerts"


def withoutButlerConfigPath(environ):
    return {k: v for k, v in environ.items() if k != "DAF_BUTLER_CONFIG_PATH"}


class BpsLocalTestCase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ap-alerts-bps-")
        cls.workdir = cls.tmp.name
        cls.repo = os.path.join(cls.workdir, "repo")
        # A plain repository: its configuration has no ApAlertPackets.
        Butler.makeRepo(cls.repo)
        cls.inputRun = f"{INSTRUMENT}/inputs/test"
        cls.chain = f"{INSTRUMENT}/alerts/test"
        with mock.patch.dict(os.environ, {"DAF_BUTLER_CONFIG_PATH": CONFIG_DIR}):
            with Butler.from_config(cls.repo, writeable=True) as butler:
                inputs = makeDemoInputs(
                    butler,
                    cls.inputRun,
                    os.path.join(cls.workdir, "apdb.sqlite3"),
                    nSources=25,
                    nDetectors=2,
                    historyDepth=5,
                    imageSize=256,
                    progress=False,
                )
        cls.detectors = inputs.detectors
        cls.query = inputs.dataQuery
        cls.pipetaskAlerts = os.path.join(cls.workdir, "alerts-pipetask")
        cls.bpsAlerts = os.path.join(cls.workdir, "alerts-bps")
        cls.runPipetask()
        with mock.patch.dict(
            os.environ,
            withoutButlerConfigPath(os.environ)
            | {
                "AP_KAFKA_PRODUCER_PASSWORD": SECRET,
            },
            clear=True,
        ):
            cls.bpsRun = runBpsSubmit(
                cls.workdir,
                cls.repo,
                cls.inputRun,
                cls.chain,
                f"{cls.chain}/bps",
                cls.query,
                cls.bpsAlerts,
                expectedQuanta=len(cls.detectors),
                cores=2,
                progress=False,
            )

    @classmethod
    def runPipetask(cls):
        collections = (cls.inputRun, cls.chain, f"{cls.chain}/pipetask")
        command = pipetaskRunCommand(cls.repo, collections, cls.query, cls.pipetaskAlerts, jobs=2)
        env = subprocessEnvironment() | {"DAF_BUTLER_CONFIG_PATH": CONFIG_DIR}
        run = subprocess.run(command, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"pipetask failed:\n{run.stdout[-3000:]}{run.stderr[-3000:]}")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def testRepoHasNoStorageClasses(self):
        """The repository alone cannot tell the workers about ApAlertPackets."""
        with open(os.path.join(self.repo, "butler.yaml")) as stream:
            self.assertNotIn("ApAlertPackets", stream.read())

    def testAlertFilesEqualPipetasks(self):
        names = sorted(os.listdir(self.pipetaskAlerts))
        self.assertEqual(names, [f"{self.query.split('visit=')[1]}_{d}.avro" for d in self.detectors])
        self.assertEqual(sorted(os.listdir(self.bpsAlerts)), names)
        for name in names:
            with self.subTest(name=name):
                with (
                    open(os.path.join(self.pipetaskAlerts, name), "rb") as a,
                    open(os.path.join(self.bpsAlerts, name), "rb") as b,
                ):
                    self.assertEqual(a.read(), b.read())

    def testButlerDatasetsEqualPipetasks(self):
        with mock.patch.dict(os.environ, {"DAF_BUTLER_CONFIG_PATH": CONFIG_DIR}):
            with Butler.from_config(self.repo) as butler:
                runs = {}
                for run in ("pipetask", "bps"):
                    refs = butler.query_datasets(DATASET_TYPE, collections=f"{self.chain}/{run}")
                    runs[run] = {ref.dataId["detector"]: butler.get(ref) for ref in refs}
        self.assertEqual(sorted(runs["bps"]), self.detectors)
        for detector, alerts in runs["bps"].items():
            reference = runs["pipetask"][detector]
            self.assertEqual(len(alerts), 25)
            self.assertEqual(alerts.diaSourceIds, reference.diaSourceIds)
            self.assertEqual([bytes(p) for p in alerts.payloads], [bytes(p) for p in reference.payloads])
        # The final job added the run to the output chain.
        with Butler.from_config(self.repo) as butler:
            self.assertIn(f"{self.chain}/bps", butler.collections.get_info(self.chain).children)

    def testSubmitDirectory(self):
        run = self.bpsRun
        self.assertTrue(os.path.isfile(run.qgraphFile), run.qgraphFile)
        self.assertTrue(glob.glob(os.path.join(run.submitDir, "logs", LABEL, "*", "*.stdout")))
        # The final job is sized for a small machine.
        with open(os.path.join(run.submitDir, "final_job.bash")) as stream:
            self.assertRegex(stream.read(), r"butler .*aggregate-graph .* -j 2 ")
        # bps saved its environment; the Kafka password was kept out of it and of every other file.
        self.assertTrue(glob.glob(os.path.join(run.submitDir, "*.env.info.yaml")))
        for path in glob.glob(os.path.join(self.workdir, "**"), recursive=True):
            if os.path.isfile(path) and not path.endswith((".avro", ".sqlite3", ".fits")):
                with open(path, "rb") as stream:
                    self.assertNotIn(SECRET.encode(), stream.read(), path)

    def testPipetaskReport(self):
        """Progress of a Parsl run is followed with ``pipetask report``."""
        report = subprocess.run(
            pipetaskCommand() + ["report", self.repo, self.bpsRun.qgraphFile],
            env=subprocessEnvironment(),
            capture_output=True,
            text=True,
        )
        self.assertEqual(report.returncode, 0, report.stderr[-2000:])
        line = next(line for line in report.stdout.splitlines() if line.startswith(DATASET_TYPE))
        # produced failed not_produced blocked expected
        self.assertEqual(line.split()[1:], ["2", "0", "0", "0", "2"])


class SubmitYamlTestCase(lsst.utils.tests.TestCase):
    """The shipped submit YAMLs resolve for a pip install (no eups variables)."""

    def testCommands(self):
        for name in ("local.yaml", "slurm.yaml"):
            config = BpsConfig(submitYamlPath(name))
            for key in (
                "createQuantumGraph",
                "runQuantumCommand",
                ".pipetask.pipetaskInit.runQuantumCommand",
                ".finalJob.command1",
            ):
                with self.subTest(name=name, key=key):
                    found, command = config.search(key, opt={"replaceVars": False, "expandEnvVars": False})
                    self.assertTrue(found)
                    self.assertNotIn("_DIR}", command)
                    self.assertTrue(command.startswith("python {apAlertsEnv}"), command)
            self.assertEqual(config[".finalJob.requestCpus"], 2)

    def testSites(self):
        """Both sites build their Parsl executors (nothing is started)."""
        expected = {"local.yaml": "LocalProvider", "slurm.yaml": "SlurmProvider"}
        for name, provider in expected.items():
            with self.subTest(name=name):
                config = BpsConfig(submitYamlPath(name))
                config["operator"] = "tester"  # set by bps submit from the login
                executors = SiteConfig.from_config(config).get_executors()
                self.assertEqual([type(e.provider).__name__ for e in executors], [provider])


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
