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

"""End-to-end demonstration: simulated visit → butler + APDB → ``pipetask run`` → alerts.

`runDemo` builds, under a work directory,

- ``repo/``: an embedded SQLite butler repository created with this
  package's storage classes (`lsst.ap.alerts.butlerFormatters.makeRepo`),
  holding the `DemoCam` instrument (one LSSTCam-like raft of 3x3 detectors),
  one visit, and per detector the simulated difference, science and
  template exposures and DIA catalogs;
- ``apdb/{key}.sqlite3``: a real APDB (lsst-dax-apdb) the catalogs are
  stored into and read back from, so their columns and types are the
  APDB's;
- ``alerts/{key}/{timestamp}/{visit}_{detector}.avro``: the alert files,

then runs ``pipetask run`` on ``pipelines/PackageAlerts.yaml`` and reports
where the alerts are, how many and how large.  Simulated inputs are reused
by later runs with the same parameters (``key``); each run writes a new
output run.
"""

from __future__ import annotations

__all__ = [
    "DemoCam",
    "newRunName",
    "prepareWorkdir",
    "runDemo",
    "say",
]

import dataclasses
import datetime
import glob
import os
import shutil
import sys
import time

from lsst.daf.butler import Butler

from ..butlerFormatters import makeRepo
from .bpsDemo import runBpsSubmit

# DemoCam: demo repositories name it here (see demoInputs._REGISTERED_CLASS).
from .demoInputs import INSTRUMENT, DemoCam, DemoSimulation, connectionDatasetTypes, dataQuery, makeDemoInputs
from .demoOutputs import DemoResult, countRecords, firstDiaSourceId, pointLatest, readOutputs
from .pipetaskCommands import pipetaskRunCommand, runPipetask, shellCommand


def runDemo(
    workdir: str = "demo_repo",
    nSources: int = 300,
    nDetectors: int = 2,
    jobs: int = 2,
    seed: int = 0,
    historyDepth: int = 20,
    fresh: bool = False,
    progress: bool = True,
    imageSize: int = 1024,
    bps: bool = False,
    site: str = "local",
) -> DemoResult:
    """Simulate a visit, run the PackageAlerts pipeline on it with ``pipetask`` and report.

    Parameters
    ----------
    workdir : `str`
        Directory of the repository, APDB and alert files (created if
        missing, reused if present).
    nSources : `int`
        New DiaSources (alerts) per detector.
    nDetectors : `int`
        Detectors of the visit (1-9), processed as separate quanta.
    jobs : `int`
        ``pipetask -j``: quanta run in parallel.
    seed : `int`
        Simulation seed.
    historyDepth : `int`
        Earlier DiaSources per known DiaObject.
    fresh : `bool`
        Delete ``workdir`` first (only if empty or holding a demo's ``repo/``).
    progress : `bool`
        Show progress and ``pipetask``'s log on stderr.
    imageSize : `int`
        Detector width and height in pixels.
    bps : `bool`
        Run the pipeline with ``bps submit`` on Parsl's Local site (``jobs``
        cores) instead of ``pipetask run``; see `lsst.ap.alerts.tools.bpsDemo`.
    site : `str`
        With ``bps``: ``local``, or ``slurm`` (Parsl's Slurm provider: one
        job of ``jobs`` cores on the cluster the Slurm commands reach).

    Returns
    -------
    result : `DemoResult`
        Also printed (`DemoResult.summary`) on stdout.

    Raises
    ------
    FileExistsError
        If ``fresh`` and ``workdir`` is a non-empty directory without a
        demo repository.
    RuntimeError
        If ``pipetask`` fails (with the end of its output).
    """
    start = time.monotonic()
    workdir = prepareWorkdir(workdir, fresh)
    simulation = DemoSimulation(
        nSources=nSources, nDetectors=nDetectors, seed=seed, historyDepth=historyDepth, imageSize=imageSize
    )
    repo = os.path.join(workdir, "repo")
    apdbPath = os.path.join(workdir, "apdb", f"{simulation.key}.sqlite3")
    inputRun, outputChain = simulation.inputRun, simulation.outputChain
    reused, visit, detectors, outputRun = _provideInputs(
        repo, inputRun, apdbPath, outputChain, simulation, progress
    )
    simulated = time.monotonic()

    alertDir = os.path.join(workdir, "alerts", simulation.key, outputRun.rsplit("/", 1)[-1])
    collections = (inputRun, outputChain, outputRun)
    if bps:
        command = _runBps(workdir, repo, collections, visit, alertDir, len(detectors), jobs, progress, site)
    else:
        command = _runPipetask(repo, collections, visit, alertDir, jobs, progress)
    finished = time.monotonic()

    datasetType = connectionDatasetTypes()["alerts"][0]
    nAlerts, totalBytes, packagingSeconds = readOutputs(repo, datasetType, outputRun)
    alertFiles = sorted(glob.glob(os.path.join(alertDir, "*.avro")))
    pointLatest(workdir, alertDir)
    result = DemoResult(
        workdir=workdir,
        repo=repo,
        apdb=f"sqlite:///{apdbPath}",
        inputCollection=inputRun,
        outputCollection=outputChain,
        outputRun=outputRun,
        datasetType=datasetType,
        visit=int(visit),
        detectors=[int(d) for d in detectors],
        nAlerts=nAlerts,
        totalBytes=totalBytes,
        alertFiles=alertFiles,
        fileAlerts=sum(countRecords(path) for path in alertFiles),
        reusedInputs=reused,
        seconds=time.monotonic() - start,
        simulateSeconds=simulated - start,
        pipetaskSeconds=finished - simulated,
        packagingSeconds=packagingSeconds,
        command=command,
        firstDiaSourceId=firstDiaSourceId(alertFiles[0]) if alertFiles else None,
    )
    print(result.summary(), flush=True)
    return result


def say(progress: bool, message: str) -> None:
    """Tell the user what the demo is doing (on stderr, with ``progress`` only)."""
    if progress:
        print(f"[demo] {message}", file=sys.stderr, flush=True)


def prepareWorkdir(workdir: str, fresh: bool) -> str:
    """Create ``workdir`` and its ``apdb/``; with ``fresh``, delete an earlier demo's first.

    Returns
    -------
    workdir : `str`
        Its absolute path.

    Raises
    ------
    FileExistsError
        If ``fresh`` and ``workdir`` is a non-empty directory without a
        demo repository.
    """
    workdir = os.path.abspath(workdir)
    if fresh and os.path.exists(workdir):
        # Never wipe a directory this demo did not make.
        if os.listdir(workdir) and not os.path.exists(os.path.join(workdir, "repo", "butler.yaml")):
            raise FileExistsError(
                f"refusing to delete {workdir} (--fresh): it is not empty and holds no "
                "demo repository (repo/butler.yaml); choose another --workdir"
            )
        shutil.rmtree(workdir)
    os.makedirs(os.path.join(workdir, "apdb"), exist_ok=True)
    return workdir


def _provideInputs(
    repo: str,
    inputRun: str,
    apdbPath: str,
    outputChain: str,
    simulation: DemoSimulation,
    progress: bool,
) -> tuple[bool, int, list[int], str]:
    """Reuse the inputs in ``inputRun`` if an earlier demo made them, else simulate them
    (creating the repository if needed); and name this run's output run.

    Parameters
    ----------
    repo : `str`
        Butler repository.
    inputRun : `str`
        Run of the simulated inputs of ``simulation``.
    apdbPath : `str`
        SQLite file of their APDB.
    outputChain : `str`
        Output chain the new output run goes under.
    simulation : `DemoSimulation`
        Parameters of the inputs.
    progress : `bool`
        Report on stderr.

    Returns
    -------
    reused : `bool`
        The inputs were there already.
    visit : `int`
    detectors : `list` [`int`]
    outputRun : `str`
        A new, timestamped run under ``outputChain``.
    """
    if not os.path.exists(os.path.join(repo, "butler.yaml")):
        say(progress, f"Creating butler repository {repo}")
        makeRepo(repo)
    with Butler.from_config(repo, writeable=True) as butler:
        reused = inputRun in butler.collections.query(f"{INSTRUMENT}/inputs/*")
        if reused:
            say(progress, f"Reusing the simulated inputs in {inputRun}")
            diffImType = connectionDatasetTypes()["diffIm"][0]  # one per detector of the visit
            refs = butler.query_datasets(diffImType, collections=inputRun)
            visit = refs[0].dataId["visit"]
            detectors = sorted(ref.dataId["detector"] for ref in refs)
        else:
            size = simulation.imageSize
            say(
                progress,
                f"Simulating {simulation.nDetectors} detectors x {simulation.nSources} DiaSources "
                f"({size}x{size} px, history {simulation.historyDepth}) "
                f"into {inputRun} and the APDB {apdbPath}",
            )
            if os.path.exists(apdbPath):
                os.remove(apdbPath)  # left by an attempt that failed before its butler puts
            inputs = makeDemoInputs(
                butler, inputRun, apdbPath, **dataclasses.asdict(simulation), progress=progress
            )
            visit, detectors = inputs.visit, inputs.detectors
        return reused, visit, detectors, newRunName(butler, outputChain)


def newRunName(butler: Butler, chain: str) -> str:
    """A timestamped run name under ``chain`` that does not exist yet."""
    existing = set(butler.collections.query(f"{chain}/*"))
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    name, n = f"{chain}/{stamp}", 1
    while name in existing:
        n += 1
        name = f"{chain}/{stamp}-{n}"
    return name


def _runPipetask(
    repo: str, collections: tuple[str, str, str], visit: int, alertDir: str, jobs: int, progress: bool
) -> list[str]:
    """Run the pipeline with ``pipetask run`` (`pipetaskRunCommand`); return its command line."""
    command = pipetaskRunCommand(repo, collections, dataQuery(visit), alertDir, jobs)
    say(progress, f"Running {shellCommand(command)}")
    runPipetask(command, progress)
    return command


def _runBps(
    workdir: str,
    repo: str,
    collections: tuple[str, str, str],
    visit: int,
    alertDir: str,
    nDetectors: int,
    cores: int,
    progress: bool,
    site: str = "local",
) -> list[str]:
    """Run the pipeline with ``bps submit`` (`lsst.ap.alerts.tools.bpsDemo.runBpsSubmit`).

    ``collections`` are the input run, output chain and output run; every one
    of the ``nDetectors`` quanta must write alerts.  Returns the ``bps submit``
    command line.
    """
    inputRun, outputChain, outputRun = collections
    return runBpsSubmit(
        workdir,
        repo,
        inputRun,
        outputChain,
        outputRun,
        dataQuery(visit),
        alertDir,
        expectedQuanta=nDetectors,
        cores=cores,
        progress=progress,
        site=site,
    ).command
