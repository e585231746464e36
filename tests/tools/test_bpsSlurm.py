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

"""``bps submit`` through Parsl's Slurm provider on a one-node Slurm cluster
(`lsst.ap.alerts.tools.bpsDemo`, ``bps/slurm.yaml``, ``slurmCluster``).

Each test starts its own cluster (``munged``, ``slurmctld``, ``slurmd``
under a temporary directory, free ports; see ``tests/slurmCluster.py``), so
pytest-xdist workers never share one, and stops it by process id, also on
failure.  The submit YAML is the shipped ``bps/slurm.yaml`` with only the
site values of this cluster written over it (`siteSettings`: one node, its
cores and partition, no memory request, a ``commandPrefix`` with this
environment's ``bin/``), plus the demo's paths.  Real Slurm, real BPS and
Parsl, real SQLite butler: nothing is mocked.

- `BpsSlurmTestCase`: every detector's alert files byte-identical to
  ``pipetask run``'s; Slurm's own completion log (``jobcomp/filetxt``)
  shows the Parsl block job, and each quantum's log names that Slurm job;
  a Kafka password in the test's environment is in no file (submit
  directory, Parsl's job scripts and logs, Slurm's files).
- `BpsSlurmFaultTestCase`: the Slurm job is cancelled (``scancel``) once a
  quantum has completed; the run reports the quanta it lost (an error, not
  a silent success); ``bps restart`` (the Parsl plugin restarts from its
  checkpoint; it has no resubmission into an existing run) runs only those
  quanta and writes the missing detectors, leaving the completed ones
  untouched.

Run on the package's own afw model only: the Slurm path runs exactly the
``pipetask`` commands of the Local site (``tests/tools/test_bpsDemo.py``,
both tiers), so what it adds, scheduling through Slurm, does not depend on
the afw tier, and each test takes 1-4 minutes.  Without Slurm installed (or
not as root) the tests are skipped; with ``AP_ALERTS_REQUIRE_SLURM=1`` (CI)
they fail instead.
"""

import glob
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from unittest import mock

import lsst.utils.tests
import yaml
from lsst.daf.butler import Butler
from slurmCluster import SlurmCluster, unavailableReason

from lsst.ap.alerts._afw import HAVE_AFW
from lsst.ap.alerts.butlerFormatters import CONFIG_DIR
from lsst.ap.alerts.tools.bpsDemo import restartBps, runBpsSubmit, siteSettings, submitYamlPath
from lsst.ap.alerts.tools.demoInputs import INSTRUMENT, makeDemoInputs
from lsst.ap.alerts.tools.pipetaskCommands import pipetaskRunCommand, subprocessEnvironment

DATASET_TYPE = "deepDiff_alerts"
SECRET = "not-a-real-password-3b7d21"
SOURCES = 20


def _skipReason():
    if HAVE_AFW:
        return (
            "Slurm scheduling does not depend on the afw tier: run on the model tier only "
            "(the Local bps test, test_bpsDemo, compares bps with pipetask on both)"
        )
    reason = unavailableReason()
    if reason and os.environ.get("AP_ALERTS_REQUIRE_SLURM"):
        raise RuntimeError(f"AP_ALERTS_REQUIRE_SLURM is set, but {reason}")
    return reason


SKIP_REASON = _skipReason()


class _SlurmBpsCase(lsst.utils.tests.TestCase):
    """A cluster, a plain repository with the demo visit, in one temporary directory."""

    nDetectors = 2

    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="ap-alerts-slurm-")
        self.addCleanup(tmp.cleanup)
        self.workdir = tmp.name
        self.cluster = SlurmCluster()
        self.addCleanup(self.cluster.cleanup)
        self.cluster.start()
        self.repo = os.path.join(self.workdir, "repo")
        Butler.makeRepo(self.repo)
        self.inputRun = f"{INSTRUMENT}/inputs/test"
        self.chain = f"{INSTRUMENT}/alerts/test"
        with mock.patch.dict(os.environ, {"DAF_BUTLER_CONFIG_PATH": CONFIG_DIR}):
            with Butler.from_config(self.repo, writeable=True) as butler:
                inputs = makeDemoInputs(
                    butler,
                    self.inputRun,
                    os.path.join(self.workdir, "apdb.sqlite3"),
                    nSources=SOURCES,
                    nDetectors=self.nDetectors,
                    historyDepth=5,
                    imageSize=256,
                    progress=False,
                )
        self.detectors = inputs.detectors
        self.query = inputs.dataQuery
        self.visit = self.query.split("visit=")[1]

    def submit(self, outputRun, alertDir, **settings):
        """``bps submit`` on the cluster, the Kafka password in the environment."""
        environ = os.environ | self.cluster.environment | {"AP_KAFKA_PRODUCER_PASSWORD": SECRET}
        with mock.patch.dict(os.environ, environ, clear=True):
            return runBpsSubmit(
                self.workdir,
                self.repo,
                self.inputRun,
                self.chain,
                outputRun,
                self.query,
                alertDir,
                expectedQuanta=len(self.detectors),
                cores=2,
                progress=False,
                site="slurm",
                settings=siteSettings("slurm", 2, partition=self.cluster.partition) | settings,
            )

    def datasets(self, run):
        """Detector -> dataset id of the alert datasets of ``run``."""
        with Butler.from_config(self.repo) as butler:
            refs = butler.query_datasets(DATASET_TYPE, collections=run, explain=False)
        return {ref.dataId["detector"]: ref.id for ref in refs}

    def alertFiles(self, alertDir):
        return {name: os.path.join(alertDir, name) for name in sorted(os.listdir(alertDir))}

    def expectedNames(self):
        return [f"{self.visit}_{d}.avro" for d in self.detectors]


@unittest.skipIf(SKIP_REASON, SKIP_REASON)
class BpsSlurmTestCase(_SlurmBpsCase):
    def testSubmitRunsAsSlurmJobs(self):
        """One test (one cluster, one submission): xdist would repeat a shared set-up per worker."""
        pipetaskAlerts = os.path.join(self.workdir, "alerts-pipetask")
        command = pipetaskRunCommand(
            self.repo,
            (self.inputRun, self.chain, f"{self.chain}/pipetask"),
            self.query,
            pipetaskAlerts,
            jobs=2,
        )
        env = subprocessEnvironment() | {"DAF_BUTLER_CONFIG_PATH": CONFIG_DIR}
        run = subprocess.run(command, env=env, capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stdout[-3000:] + run.stderr[-3000:])

        slurmAlerts = os.path.join(self.workdir, "alerts-slurm")
        bpsRun = self.submit(f"{self.chain}/slurm", slurmAlerts)
        self.checkOnlySiteValuesOverridden(bpsRun.submitYaml)
        self.checkAlertFilesEqual(pipetaskAlerts, slurmAlerts)
        self.checkRanAsSlurmJobs(bpsRun.submitDir)
        self.checkNoSecretInFiles()

    def checkOnlySiteValuesOverridden(self, submitYaml):
        with open(submitYaml) as stream:
            written = yaml.safe_load(stream)
        self.assertEqual(written["includeConfigs"], [submitYamlPath("slurm.yaml")])
        # Paths of the demo, and the site's values; nothing else of slurm.yaml.
        self.assertEqual(
            set(written), {"includeConfigs", "submitPath", "alertWriteLocation", "extraQgraphOptions", "site"}
        )
        self.assertEqual(list(written["site"]), ["slurm"])
        self.assertEqual(written["site"]["slurm"]["scheduler_options"], "#SBATCH --partition=aptest")

    def checkAlertFilesEqual(self, pipetaskAlerts, slurmAlerts):
        reference = self.alertFiles(pipetaskAlerts)
        self.assertEqual(list(reference), self.expectedNames())
        files = self.alertFiles(slurmAlerts)
        self.assertEqual(list(files), list(reference))
        for name, path in files.items():
            with open(path, "rb") as a, open(reference[name], "rb") as b:
                self.assertEqual(a.read(), b.read(), name)
        self.assertEqual(sorted(self.datasets(f"{self.chain}/slurm")), self.detectors)

    def checkRanAsSlurmJobs(self, submitDir):
        """Slurm's completion log has the Parsl block job(s); each quantum ran inside one."""
        jobs = {job["JobId"]: job for job in self.cluster.completedJobs()}
        self.assertTrue(jobs, "Slurm recorded no job")
        for job in jobs.values():
            self.assertEqual(job["Partition"], self.cluster.partition)
            self.assertEqual(job["NodeList"], self.cluster.host)
            self.assertTrue(job["Name"].startswith("bps."), job["Name"])
        logs = glob.glob(os.path.join(submitDir, "logs", "packageAlerts", "*", "*.stdout"))
        self.assertEqual(len(logs), len(self.detectors))
        for path in logs:
            with open(path) as stream:
                found = re.search(r"^Slurm job (\S+) on (\S+)$", stream.read(), re.MULTILINE)
            self.assertIsNotNone(found, path)
            self.assertIn(found[1], jobs, path)
            self.assertEqual(found[2].split(".")[0], self.cluster.host)

    def checkNoSecretInFiles(self):
        """Every file bps, Parsl and Slurm wrote, job scripts included, is free of the password."""
        scripts = glob.glob(
            os.path.join(self.workdir, "bps", "runinfo", "*", "submit_scripts", "parsl.slurm.*")
        )
        self.assertTrue(scripts, "no Slurm job script found")
        self.assertTrue(
            glob.glob(os.path.join(self.workdir, "submit", "**", "*.env.info.yaml"), recursive=True)
        )
        checked = 0
        for root in (self.workdir, self.cluster.root):
            for path in glob.glob(os.path.join(root, "**"), recursive=True):
                if os.path.isfile(path) and not path.endswith((".avro", ".sqlite3", ".fits", ".key")):
                    with open(path, "rb") as stream:
                        self.assertNotIn(SECRET.encode(), stream.read(), path)
                    checked += 1
        self.assertGreater(checked, 20)


@unittest.skipIf(SKIP_REASON, SKIP_REASON)
class BpsSlurmFaultTestCase(_SlurmBpsCase):
    nDetectors = 3

    def testCancelledJobThenRestart(self):
        outputRun = f"{self.chain}/cancelled"
        alertDir = os.path.join(self.workdir, "alerts-cancelled")
        error = self.submitAndCancel(outputRun, alertDir)
        # The run says which quanta are missing instead of succeeding.
        self.assertIsInstance(error, RuntimeError)
        self.assertRegex(str(error), rf"only \d of {self.nDetectors} quanta wrote {DATASET_TYPE}")
        cancelled = [job for job in self.cluster.completedJobs() if job["JobState"] == "CANCELLED"]
        self.assertTrue(cancelled, self.cluster.completedJobs())
        done = self.datasets(outputRun)
        self.assertGreaterEqual(len(done), 1)
        self.assertLess(len(done), self.nDetectors)
        doneFiles = {f"{self.visit}_{d}.avro" for d in done}
        before = {name: os.stat(path).st_mtime_ns for name, path in self.alertFiles(alertDir).items()}

        with mock.patch.dict(os.environ, self.cluster.environment):
            restartBps(self.workdir, self.repo, outputRun, self.nDetectors, progress=False)
        after = self.datasets(outputRun)
        self.assertEqual(sorted(after), self.detectors)
        # The completed quanta were not run again: same datasets, files untouched.
        self.assertEqual({d: after[d] for d in done}, done)
        files = self.alertFiles(alertDir)
        self.assertEqual(list(files), self.expectedNames())
        for name in doneFiles:
            self.assertEqual(os.stat(files[name]).st_mtime_ns, before[name], name)
        with Butler.from_config(self.repo) as butler:
            for ref in butler.query_datasets(DATASET_TYPE, collections=outputRun):
                self.assertEqual(len(butler.get(ref)), SOURCES)
        with open(os.path.join(self.workdir, "bps", f"restart-{outputRun.rsplit('/', 1)[-1]}.log")) as stream:
            log = stream.read()
        # Parsl re-ran only the quanta its checkpoint lacks; a quantum whose
        # outputs were written but whose completion Parsl never heard of is
        # run again and skipped by pipetask (its files were untouched above).
        memo = len(re.findall(r"Task \d+ completed \(pending -> memo_done\)", log))
        rerun = len(re.findall(r"Task \d+ completed \(launched -> exec_done\)", log))
        self.assertGreaterEqual(memo, 1)
        self.assertLessEqual(memo, len(done))
        self.assertEqual(memo + rerun, self.nDetectors)

    def submitAndCancel(self, outputRun, alertDir):
        """Submit in a thread; ``scancel`` the Slurm job once a quantum has completed.

        Parsl sends all three quanta to the job's two workers at once, so
        at least one is running or queued there when the job is cancelled.
        Returns what the submission raised.
        """
        outcome = {}

        def submit():
            try:
                self.submit(outputRun, alertDir, retries=0)
            except Exception as e:  # the test inspects it
                outcome["error"] = e

        thread = threading.Thread(target=submit)
        thread.start()
        try:
            deadline = time.monotonic() + 600
            while not self._quantumCompleted():
                self.assertTrue(thread.is_alive(), outcome)
                self.assertLess(time.monotonic(), deadline, "no quantum completed")
                time.sleep(0.2)
            running = [job for job, _, state in self.cluster.queue() if state == "RUNNING"]
            self.assertEqual(len(running), 1)
            self.cluster.run("scancel", running[0])
        finally:
            thread.join(900)
        self.assertFalse(thread.is_alive())
        return outcome.get("error")

    def _quantumCompleted(self):
        """Whether Parsl's own log (written record by record) has a completed task."""
        for log in glob.glob(os.path.join(self.workdir, "bps", "runinfo", "*", "parsl.log")):
            with open(log) as stream:
                if "completed (launched -> exec_done)" in stream.read():
                    return True
        return False


@unittest.skipIf(SKIP_REASON, SKIP_REASON)
class DemoSiteSlurmTestCase(lsst.utils.tests.TestCase):
    """``ap-alerts demo --bps --site slurm`` on the cluster ``SLURM_CONF`` names."""

    def testDemoCli(self):
        with SlurmCluster() as cluster, tempfile.TemporaryDirectory(prefix="ap-alerts-slurm-demo-") as tmp:
            workdir = os.path.join(tmp, "demo")
            cli = os.path.join(os.path.dirname(sys.executable), "ap-alerts")
            command = [cli, "demo", "--workdir", workdir, "--sources", "5", "--detectors", "1"]
            env = subprocessEnvironment() | cluster.environment
            run = subprocess.run(
                command + ["--bps", "--site", "slurm"], env=env, capture_output=True, text=True
            )
            self.assertEqual(run.returncode, 0, run.stderr[-3000:])
            self.assertRegex(run.stdout, r"bps submit")
            alerts = glob.glob(os.path.join(workdir, "alerts", "*", "*", "*.avro"))
            self.assertEqual(len(alerts), 1, run.stdout)
            jobs = cluster.completedJobs()
            self.assertEqual([job["Partition"] for job in jobs], [cluster.partition])
            with open(glob.glob(os.path.join(workdir, "bps", "submit-*.yaml"))[0]) as stream:
                self.assertEqual(list(yaml.safe_load(stream)["site"]), ["slurm"])
            # Without --bps the site is refused, not ignored.
            refused = subprocess.run(command + ["--site", "slurm"], env=env, capture_output=True, text=True)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("--site slurm runs the pipeline with bps: add --bps", refused.stderr)


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
