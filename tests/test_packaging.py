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

"""`pip install .` into a fresh virtual environment: the lsst namespace is shared.

The fresh venv sees the current environment's packages (the pip-installed
``lsst-*`` distributions and their dependencies) through a ``.pth`` file, and
gets only this package installed into it, so the test checks what a user's
``pip install`` gives: ``lsst.ap.alerts`` importable beside ``lsst.pipe.base``,
``lsst.alert.packet`` and ``lsst.utils``, with its schema directory installed.
"""

import os
import site
import subprocess
import sys
import sysconfig
import tempfile
import unittest
from pathlib import Path

import lsst.utils.tests

REPO = Path(__file__).resolve().parents[1]

CHECK = """
import lsst.ap.alerts, lsst.pipe.base, lsst.alert.packet, lsst.utils, lsst.daf.butler
from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts.schemaRegistry import projectSchemaRoot, SchemaRegistry
print(lsst.ap.alerts.__file__)
print(projectSchemaRoot() / "README.md")
print(SchemaRegistry.default().latest.schemaId)
print(PackageAlertsTask.ConfigClass is PackageAlertsConfig)
from lsst.ap.alerts.tools.pipetaskCommands import pipelinePath
from lsst.ap.alerts.butlerFormatters import SEED_CONFIG
print(pipelinePath())
print(SEED_CONFIG)
from importlib.resources import files
print(files("lsst.ap.alerts") / "configs" / "retargetAlertPackager.py")
print(files("lsst.ap.alerts") / "bps" / "local.yaml")
"""


class PipInstallTestCase(lsst.utils.tests.TestCase):
    def testFreshVenvInstall(self):
        with tempfile.TemporaryDirectory() as tmp:
            venv = Path(tmp) / "venv"
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
            python = venv / "bin" / "python"
            purelib = subprocess.run(
                [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            # The current environment's packages, appended after the fresh site-packages.
            here = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
            Path(purelib, "deps.pth").write_text("\n".join(sorted(here)) + "\n")
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            install = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--no-deps",
                    "--no-build-isolation",
                    "--target",
                    purelib,
                    str(REPO),
                ],
                capture_output=True,
                text=True,
                env=env,
            )
            self.assertEqual(install.returncode, 0, install.stderr[-3000:])
            run = subprocess.run([str(python), "-c", CHECK], capture_output=True, text=True, env=env, cwd=tmp)
            self.assertEqual(run.returncode, 0, run.stderr[-3000:])
            lines = run.stdout.split("\n")
            moduleFile, schemaReadme, latest, sameConfig, pipeline, seed, retarget, bpsSubmit = lines[:8]
            self.assertTrue(moduleFile.startswith(purelib), moduleFile)
            self.assertTrue(Path(schemaReadme).is_file())
            self.assertTrue(schemaReadme.startswith(purelib))
            self.assertEqual(latest, "1101")
            self.assertEqual(sameConfig, "True")
            # Package data the demo, pipetask, bps and ap_pipe users need.
            for path in (pipeline, seed, retarget, bpsSubmit):
                self.assertTrue(path.startswith(purelib) and Path(path).is_file(), path)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
