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

"""``ap-alerts demo --bps``: the demo visit through ``bps submit`` (Parsl: this machine or Slurm).

`runBpsSubmit` runs the PackageAlerts pipeline on a demo repository with
``bps submit`` and the package's ``bps/local.yaml`` (Parsl's ``Local``
site) or ``bps/slurm.yaml`` (Parsl's Slurm provider, ``--site slurm``), in
place of ``pipetask run``; `lsst.ap.alerts.tools.demo.runDemo` calls it with
``bps=True`` and reports the alerts as usual.  `restartBps` finishes an
interrupted run with ``bps restart``.  Under the demo's work directory it
leaves

- ``bps/submit-{stamp}.yaml``: the submit YAML (the site's YAML plus the
  demo's submit directory, alert directory and solar-system input, and the
  site values of `siteSettings`);
- ``bps/submit-{stamp}.log``: everything ``bps submit`` printed;
- ``bps/runinfo/``: Parsl's own logs;
- ``submit/{outputRun}/``: BPS's submit directory (the quantum graph, and
  per-quantum logs under ``logs/``).

``bps submit`` writes its environment to the submit directory, so it runs
without the Kafka credential variables (the demo does not produce).
"""

from __future__ import annotations

__all__ = [
    "BpsRun",
    "bpsCommand",
    "bpsEnvironment",
    "checkBpsInstalled",
    "SITES",
    "restartBps",
    "runBpsSubmit",
    "siteSettings",
    "submitYamlPath",
    "writeSubmitYaml",
]

import dataclasses
import glob
import importlib.util
import json
import os
import subprocess
import sys
import time
from importlib import resources

from ..delivery.kafkaSettings import KAFKA_PASSWORD_ENV, KAFKA_USERNAME_ENV
from .pipetaskCommands import TASK_LABEL, subprocessEnvironment

_PARSL_SERVICE = "lsst.ctrl.bps.parsl.ParslService"
# bps's own messages and Parsl's task outcomes: what the demo shows of the
# (very verbose) output.
_SHOWN = ("lsst.ctrl.bps.drivers INFO", "Submit dir:", "Run Name:")
_PARSL_TASK = "parsl.dataflow.dflow INFO: Task"
_PARSL_TASK_WORDS = (" completed ", " failed ")


@dataclasses.dataclass
class BpsRun:
    """What `runBpsSubmit` ran and where it left its files.

    Attributes
    ----------
    command : `list` [`str`]
        The ``bps submit`` command line.
    submitYaml : `str`
        The submit YAML it was given.
    submitDir : `str`
        BPS's submit directory of the run.
    qgraphFile : `str`
        The run's quantum graph (for ``pipetask report``).
    logFile : `str`
        Everything ``bps submit`` printed.
    seconds : `float`
        Wall-clock time of ``bps submit``.
    """

    command: list[str]
    submitYaml: str
    submitDir: str
    qgraphFile: str
    logFile: str
    seconds: float


def submitYamlPath(name: str = "local.yaml") -> str:
    """Path of one of the package's BPS files (``bps/`` of the source tree)."""
    path = resources.files("lsst.ap.alerts").joinpath("bps", name)
    if not path.is_file():
        raise FileNotFoundError(f"bps/{name} is not installed with lsst.ap.alerts (looked at {path})")
    return str(path)


def bpsEnvironment() -> dict[str, str]:
    """Environment of ``bps submit`` for this interpreter's installation.

    `lsst.ap.alerts.tools.pipetaskCommands.subprocessEnvironment` (this package
    importable), with this interpreter's ``bin/`` first on ``PATH``: the
    jobs run ``pipetask``, ``butler`` and ``python`` from ``PATH``, and
    Parsl starts its ``interchange.py`` and ``process_worker_pool.py`` from
    it.  The Kafka credential variables are removed: ``bps submit`` saves
    its environment in the submit directory.
    """
    env = subprocessEnvironment()
    scripts = os.path.dirname(sys.executable)
    paths = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != scripts]
    env["PATH"] = os.pathsep.join([scripts] + paths)
    for name in (KAFKA_USERNAME_ENV, KAFKA_PASSWORD_ENV):
        env.pop(name, None)
    return env


def checkBpsInstalled() -> None:
    """Raise `RuntimeError` saying what to install if BPS or its Parsl plugin is missing."""
    required = (
        ("lsst.ctrl.bps", "lsst-ctrl-bps"),
        ("lsst.ctrl.bps.parsl", "lsst-ctrl-bps-parsl"),
        ("parsl", "parsl"),
    )
    for module, distribution in required:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # a parent package is missing
            found = False
        if not found:
            raise RuntimeError(f"bps mode needs {distribution}: pip install 'lsst-ap-alerts[bps]'")


def bpsCommand() -> list[str]:
    """``bps`` for this interpreter: its environment's script, else the same
    entry point run by this interpreter.
    """
    script = os.path.join(os.path.dirname(sys.executable), "bps")
    if os.path.isfile(script) and os.access(script, os.X_OK):
        return [script]
    return [sys.executable, "-c", "import sys; from lsst.ctrl.bps.cli.bps import main; sys.exit(main())"]


SITES = ("local", "slurm")
"""Parsl sites of `runBpsSubmit`: ``bps/local.yaml`` and ``bps/slurm.yaml``."""


def siteSettings(site: str, cores: int = 2, partition: str | None = None) -> dict[str, object]:
    """Site values written over the shipped ``bps/{site}.yaml`` for a run from this environment.

    Parameters
    ----------
    site : `str`
        ``local`` (Parsl on this machine: ``cores`` workers) or ``slurm``
        (one Slurm job of one node whose ``cores`` cores run the workers).
    cores : `int`
        Parallel Parsl workers.
    partition : `str`, optional
        Slurm partition (default: the cluster's default partition).

    Returns
    -------
    settings : `dict` [`str`, `object`]
        ``site.{site}`` values; for Slurm they replace the shipped example's
        cluster size, memory request, partition and ``commandPrefix`` (which
        puts this interpreter's ``bin/`` first on ``PATH`` instead of sourcing
        ``/shared/...`` and fetching secrets).

    Raises
    ------
    ValueError
        If ``site`` is not one of `SITES`.
    """
    if site == "local":
        return {"cores": int(cores)}
    if site == "slurm":
        return {
            "nodes": 1,
            "cores_per_node": int(cores),
            # --mem=0: all of the node's memory (the example asks for 192 GB).
            "mem_per_node": 0,
            "walltime": "01:00:00",
            "scheduler_options": f"#SBATCH --partition={partition}" if partition else "",
            # Each job's log names the Slurm job it ran in.
            "commandPrefix": (
                f'export PATH="{os.path.dirname(sys.executable)}:$PATH"; '
                'echo "Slurm job ${SLURM_JOB_ID:-none} on $(hostname)"'
            ),
        }
    raise ValueError(f"unknown bps site {site!r}: one of {', '.join(SITES)}")


def writeSubmitYaml(
    path: str,
    submitRoot: str,
    alertWriteLocation: str,
    cores: int = 2,
    solarSystem: bool = True,
    site: str = "local",
    settings: dict[str, object] | None = None,
) -> str:
    """Write a submit YAML that runs ``bps/{site}.yaml`` with the demo's settings.

    Parameters
    ----------
    path : `str`
        The file to write.
    submitRoot : `str`
        Directory under which BPS makes the run's submit directory
        (``{submitRoot}/{outputRun}``).
    alertWriteLocation : `str`
        Directory of the ``{visit}_{detector}.avro`` files.
    cores : `int`
        Parallel Parsl workers.
    solarSystem : `bool`
        Read the ssSources input (``doSolarSystemSources``).
    site : `str`
        One of `SITES`: the shipped YAML included.
    settings : `dict` [`str`, `object`], optional
        ``site.{site}`` values written over the shipped ones (default:
        `siteSettings` of ``site`` and ``cores``).

    Returns
    -------
    path : `str`
    """
    if settings is None:
        settings = siteSettings(site, cores)
    options = [
        f"-c {TASK_LABEL}:doSolarSystemSources={solarSystem}",
        f"-c {TASK_LABEL}:alertPackager.doWriteAlerts=True",
        f"-c {TASK_LABEL}:alertPackager.alertWriteLocation={alertWriteLocation}",
    ]
    # JSON strings are YAML strings: paths need no further quoting.
    lines = [
        "# Written by lsst.ap.alerts.tools.bpsDemo for `ap-alerts demo --bps`.",
        "includeConfigs:",
        f"  - {json.dumps(submitYamlPath(f'{site}.yaml'))}",
        f"submitPath: {json.dumps(os.path.join(submitRoot, '{outputRun}'))}",
        f"alertWriteLocation: {json.dumps(alertWriteLocation)}",
        f"extraQgraphOptions: {json.dumps(' '.join(options))}",
        "site:",
        f"  {site}:",
    ]
    lines += [f"    {key}: {json.dumps(value)}" for key, value in settings.items()]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as stream:
        stream.write("\n".join(lines) + "\n")
    return path


def _runLogged(command: list[str], logFile: str, cwd: str, progress: bool) -> int:
    """Run ``command``, all its output to ``logFile``, a digest on stderr."""
    with (
        open(logFile, "w") as log,
        subprocess.Popen(
            command,
            env=bpsEnvironment(),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        ) as process,
    ):
        for line in process.stdout:
            log.write(line)
            shown = (line.startswith(_SHOWN) and "Peak memory" not in line) or (
                line.startswith(_PARSL_TASK) and any(word in line for word in _PARSL_TASK_WORDS)
            )
            if progress and shown:
                sys.stderr.write(f"  bps| {line}")
                sys.stderr.flush()
    return process.returncode


def _tail(path: str, lines: int = 40) -> str:
    with open(path) as stream:
        return "".join(stream.readlines()[-lines:])


def runBpsSubmit(
    workdir: str,
    repo: str,
    inputRun: str,
    outputChain: str,
    outputRun: str,
    dataQuery: str,
    alertWriteLocation: str,
    expectedQuanta: int,
    cores: int = 2,
    progress: bool = True,
    site: str = "local",
    settings: dict[str, object] | None = None,
) -> BpsRun:
    """Run the PackageAlerts pipeline with ``bps submit`` on a Parsl site.

    Parameters
    ----------
    workdir : `str`
        The demo's work directory (``bps/`` and ``submit/`` go under it).
    repo : `str`
        Butler repository.
    inputRun, outputChain, outputRun : `str`
        Input collection, output CHAINED collection and the new output run.
    dataQuery : `str`
        Data query selecting the visit.
    alertWriteLocation : `str`
        Directory of the alert files.
    expectedQuanta : `int`
        Quanta (detectors) that must each produce alerts.
    cores : `int`
        Parallel Parsl workers.
    progress : `bool`
        Show bps's stages and Parsl's task outcomes on stderr.
    site : `str`
        One of `SITES`: ``local`` (this machine) or ``slurm`` (Parsl's
        Slurm provider, on the cluster Slurm's commands reach, e.g. through
        ``SLURM_CONF``).
    settings : `dict` [`str`, `object`], optional
        ``site.{site}`` values over the shipped YAML's (default:
        `siteSettings`).

    Returns
    -------
    run : `BpsRun`

    Raises
    ------
    RuntimeError
        If ``bps submit`` fails, or fewer than ``expectedQuanta`` alert
        datasets were written (a failed quantum does not fail ``bps
        submit``); the message says where the logs are.
    """
    checkBpsInstalled()
    bpsDir = os.path.join(workdir, "bps")
    stamp = outputRun.rsplit("/", 1)[-1]
    submitYaml = writeSubmitYaml(
        os.path.join(bpsDir, f"submit-{stamp}.yaml"),
        os.path.join(workdir, "submit"),
        alertWriteLocation,
        cores=cores,
        site=site,
        settings=settings,
    )
    logFile = os.path.join(bpsDir, f"submit-{stamp}.log")
    command = bpsCommand() + ["submit", submitYaml, "-b", repo, "-i", inputRun, "-o", outputChain]
    command += ["--output-run", outputRun, "-d", dataQuery]
    if progress:
        print(f"[demo] Running {' '.join(command)} (log: {logFile})", file=sys.stderr, flush=True)
    start = time.monotonic()
    status = _runLogged(command, logFile, bpsDir, progress)
    seconds = time.monotonic() - start
    if status != 0:
        raise RuntimeError(f"bps submit failed with exit code {status} (log {logFile}):\n{_tail(logFile)}")
    submitDir = os.path.join(workdir, "submit", outputRun)
    graphs = glob.glob(os.path.join(submitDir, "*.qg"))
    qgraphFile = graphs[0] if graphs else ""
    _checkOutputs(repo, outputRun, expectedQuanta, submitDir, qgraphFile)
    if progress:
        print(
            f"[demo] bps submit took {seconds:.1f} s; submit directory {submitDir} (per-quantum logs in "
            f"logs/); summary: pipetask report {repo} {qgraphFile}",
            file=sys.stderr,
            flush=True,
        )
    return BpsRun(
        command=command,
        submitYaml=submitYaml,
        submitDir=submitDir,
        qgraphFile=qgraphFile,
        logFile=logFile,
        seconds=seconds,
    )


def restartBps(workdir: str, repo: str, outputRun: str, expectedQuanta: int, progress: bool = True) -> float:
    """Finish an interrupted `runBpsSubmit` run with ``bps restart``.

    The Parsl plugin's restart reads the workflow saved in the submit
    directory and Parsl's checkpoint of the quanta that completed (in
    ``runinfo/`` of the directory ``bps submit`` ran in: ``bps/`` of the
    work directory); it runs only the quanta without one, then the final job
    again, into the same output run.

    Parameters
    ----------
    workdir : `str`
        The work directory given to `runBpsSubmit`.
    repo : `str`
        Butler repository.
    outputRun : `str`
        The output run of the interrupted submission.
    expectedQuanta : `int`
        Quanta that must each have produced alerts afterwards.
    progress : `bool`
        Show bps's stages and Parsl's task outcomes on stderr.

    Returns
    -------
    seconds : `float`
        Wall-clock time of ``bps restart``.

    Raises
    ------
    RuntimeError
        If ``bps restart`` fails, or quanta are still missing alerts.
    """
    bpsDir = os.path.join(workdir, "bps")
    submitDir = os.path.join(workdir, "submit", outputRun)
    logFile = os.path.join(bpsDir, f"restart-{outputRun.rsplit('/', 1)[-1]}.log")
    # bps restart reads no submit YAML: without the class it would load HTCondor's.
    command = bpsCommand() + ["restart", "--wms-service-class", _PARSL_SERVICE, "--id", submitDir]
    if progress:
        print(f"[demo] Running {' '.join(command)} (log: {logFile})", file=sys.stderr, flush=True)
    start = time.monotonic()
    status = _runLogged(command, logFile, bpsDir, progress)
    seconds = time.monotonic() - start
    if status != 0:
        raise RuntimeError(f"bps restart failed with exit code {status} (log {logFile}):\n{_tail(logFile)}")
    graphs = glob.glob(os.path.join(submitDir, "*.qg"))
    _checkOutputs(repo, outputRun, expectedQuanta, submitDir, graphs[0] if graphs else "")
    return seconds


def _checkOutputs(repo: str, outputRun: str, expectedQuanta: int, submitDir: str, qgraphFile: str) -> None:
    """Raise if a quantum wrote no alerts (Parsl reports failures only in its logs)."""
    from lsst.daf.butler import Butler

    from ..pipelineTask import PackageAlertsPipelineConfig, PackageAlertsPipelineConnections

    datasetType = PackageAlertsPipelineConnections(config=PackageAlertsPipelineConfig()).alerts.name
    with Butler.from_config(repo) as butler:
        written = len(butler.query_datasets(datasetType, collections=outputRun, explain=False))
    if written < expectedQuanta:
        raise RuntimeError(
            f"bps submit finished, but only {written} of {expectedQuanta} quanta wrote {datasetType}; "
            f"logs under {os.path.join(submitDir, 'logs')}; summary: pipetask report {repo} {qgraphFile}"
        )
