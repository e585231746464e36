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

"""The command lines the demos run, and the environment they run in.

``pipetask run`` of ``pipelines/PackageAlerts.yaml`` as the demo runs it,
``pipetask`` and the package's other scripts for this interpreter, and the
subprocess environment that can import this package; shared by
`lsst.ap.alerts.tools.demo`, `lsst.ap.alerts.tools.bpsDemo` and
`lsst.ap.alerts.tools.hostDemo`.
"""

from __future__ import annotations

__all__ = [
    "TASK_LABEL",
    "pipelinePath",
    "pipetaskCommand",
    "pipetaskRunCommand",
    "runPipetask",
    "shellCommand",
    "shortPath",
    "subprocessEnvironment",
    "venvTool",
]

import os
import shlex
import shutil
import site
import subprocess
import sys
from importlib import resources

TASK_LABEL = "packageAlerts"
"""Label of the PackageAlerts task in the demo pipeline."""
_PIPELINE_FILE = "PackageAlerts.yaml"


def venvTool(name: str) -> str:
    """``name`` when the shell finds it, else its path beside this interpreter (a venv not activated)."""
    beside = os.path.join(os.path.dirname(sys.executable), name)
    if shutil.which(name) is None and os.path.exists(beside):
        return shortPath(beside)
    return name


def shellCommand(argv: list[str]) -> str:
    """``argv`` as one line to paste into a POSIX shell.

    Like `shlex.join`, but an argument holding single quotes and nothing
    else special (a ``-d`` query such as ``instrument='DemoCam'``) is
    wrapped in double quotes, which reads better than shlex's ``'"'"'``.
    """
    words = []
    for arg in argv:
        if "'" in arg and not any(c in arg for c in '"$`\\!'):
            words.append(f'"{arg}"')
        else:
            words.append(shlex.quote(arg))
    return " ".join(words)


def shortPath(path: str) -> str:
    """``path`` relative to the current directory if it is inside it, else absolute."""
    relative = os.path.relpath(path)
    return path if relative.startswith(os.pardir) else relative


def pipelinePath() -> str:
    """Path of ``PackageAlerts.yaml``, in a source checkout or an installed package.

    The package ships it as ``lsst/ap/alerts/pipelines/`` (in the source
    tree a link to the top-level ``pipelines/``).
    """
    path = resources.files("lsst.ap.alerts").joinpath("pipelines", _PIPELINE_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"{_PIPELINE_FILE} is not installed with lsst.ap.alerts (looked at {path})")
    return str(path)


def subprocessEnvironment() -> dict[str, str]:
    """Environment for a ``pipetask`` subprocess that must import this package.

    The current environment, plus this package's source root on
    ``PYTHONPATH`` when it is not installed in a site-packages directory
    (a source checkout used through ``PYTHONPATH`` or ``sys.path``).
    """
    env = dict(os.environ)
    # The directory holding lsst/ap/alerts/.
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
    installed = {os.path.abspath(p) for p in site.getsitepackages() + [site.getusersitepackages()]}
    if root not in installed:
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if root not in (os.path.abspath(p) for p in paths):
            env["PYTHONPATH"] = os.pathsep.join([root] + paths)
    return env


def pipetaskCommand() -> list[str]:
    """``pipetask`` for this interpreter: its environment's script, else the
    same entry point run by this interpreter (never another environment's
    ``pipetask`` found on ``PATH``, which could not import this package).
    """
    script = os.path.join(os.path.dirname(sys.executable), "pipetask")
    if os.path.isfile(script) and os.access(script, os.X_OK):
        return [script]
    return [
        sys.executable,
        "-c",
        "import sys; from lsst.ctrl.mpexec.cli.pipetask import main; sys.exit(main())",
    ]


def runPipetask(command: list[str], progress: bool, env: dict[str, str] | None = None) -> None:
    """Run ``pipetask`` (in ``env``, default `subprocessEnvironment`); its
    output is shown live with ``progress``, else only on failure."""
    captured = []
    with subprocess.Popen(
        command,
        env=env or subprocessEnvironment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as process:
        for line in process.stdout:
            captured.append(line)
            if progress:
                sys.stderr.write(f"  pipetask| {line}")
                sys.stderr.flush()
    if process.returncode != 0:
        tail = "".join(captured[-40:])
        raise RuntimeError(f"pipetask failed with exit code {process.returncode}:\n{tail}")


def pipetaskRunCommand(
    repo: str, collections: tuple[str, str, str], dataQuery: str, alertDir: str, jobs: int
) -> list[str]:
    """The ``pipetask run`` command line of the PackageAlerts pipeline, as the demo runs it.

    Solar-system sources on, alert files written to ``alertDir``.

    Parameters
    ----------
    repo : `str`
        Butler repository.
    collections : `tuple` [`str`, `str`, `str`]
        Input run, output chain and output run.
    dataQuery : `str`
        The quanta to run (``pipetask -d``).
    alertDir : `str`
        Directory the alert files are written to.
    jobs : `int`
        Quanta run in parallel.

    Returns
    -------
    command : `list` [`str`]
    """
    inputRun, outputChain, outputRun = collections
    return pipetaskCommand() + [
        "run",
        "-b",
        repo,
        "-i",
        inputRun,
        "-o",
        outputChain,
        "--output-run",
        outputRun,
        "-p",
        pipelinePath(),
        "--register-dataset-types",
        "-j",
        str(jobs),
        "-d",
        dataQuery,
        "-c",
        f"{TASK_LABEL}:doSolarSystemSources=True",
        "-c",
        f"{TASK_LABEL}:alertPackager.doWriteAlerts=True",
        "-c",
        f"{TASK_LABEL}:alertPackager.alertWriteLocation={alertDir}",
    ]
