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

"""A full focal plane through ``pipetask run -j`` and ``bps submit`` (Parsl: Local site, Slurm).

One visit of the demo instrument with ``--detectors`` detectors (LSSTCam: 189)
of ``--sources`` new DiaSources each (LSSTCam: ~55, i.e. ~10,400 alerts per
visit) is simulated into an embedded SQLite butler (catalogs straight from
`lsst.ap.alerts.simulation`, no APDB round trip; ``--image-size`` pixels per
side, not LSSTCam's 4k, so 189 detectors' inputs fit on a small disk). Then
the PackageAlerts pipeline runs on it with each ``--modes`` runner (``pipetask``,
``bps``: Parsl's Local site, ``slurm``: Parsl's Slurm provider on one node of
the cluster ``SLURM_CONF`` names, or, without it, on the throw-away one-node
cluster of ``tests/slurmCluster.py``), writing the alert files too, and the
script reports per runner:

- wall time of the command, alerts/s over it;
- per quantum (from each quantum's metadata): CPU spent before the quantum
  started (process start-up: importing the stack, reading the graph),
  quantum wall time (reading inputs, `PackageAlertsTask.run`, writing
  outputs) and `PackageAlertsTask.run` alone;
- overhead per quantum slot: wall time x parallel workers / quanta, minus
  the mean `PackageAlertsTask.run` time.

Results (JSON) go to ``--output``; ``benchmarks/README.md`` has the numbers
and ``doc/scaleout.md`` what they mean for Rubin's 60 s per visit.
"""

import argparse
import contextlib
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

from lsst.daf.butler import Butler, DatasetType
from lsst.utils.timer import duration_from_timeMethod

from lsst.ap.alerts import simulation
from lsst.ap.alerts.butlerFormatters import makeRepo
from lsst.ap.alerts.tools import demoInputs, pipetaskCommands
from lsst.ap.alerts.tools.bpsDemo import runBpsSubmit, siteSettings

LABEL = "packageAlerts"
# ~13 x 15 detectors around the boresight, as a focal plane roughly is.
GRID_COLUMNS = 15


def registerFocalPlane(butler, nDetectors: int) -> list[int]:
    """The demo instrument with ``nDetectors`` detectors (ids 0..n-1).

    The demo's own raft (R22) keeps its ids and names; the others are F###.
    """
    demoInputs.DemoCam().register(butler.registry)  # instrument, filter, raft R22
    existing = {record.id for record in butler.registry.queryDimensionRecords("detector")}
    with butler.registry.transaction():
        for detector in sorted(set(range(nDetectors)) - existing):
            butler.registry.syncDimensionData(
                "detector",
                {
                    "instrument": demoInputs.INSTRUMENT,
                    "id": detector,
                    "full_name": f"F{detector:03d}",
                    "name_in_raft": f"F{detector:03d}",
                    "raft": "FOCAL",
                    "purpose": "SCIENCE",
                },
            )
    return list(range(nDetectors))


def detectorCentre(detector: int, imageSize: int) -> tuple[float, float]:
    """Sky centre of a detector on a grid around the demo boresight (0.2"/px)."""
    pitch = (imageSize + 60) * 0.2 / 3600
    row, column = divmod(detector, GRID_COLUMNS)
    ra0, dec0 = demoInputs.BORESIGHT
    return ra0 + (column - GRID_COLUMNS / 2) * pitch, dec0 + (row - 6.5) * pitch


def makeInputs(
    repo: str, inputRun: str, nDetectors: int, nSources: int, historyDepth: int, imageSize: int
) -> tuple[int, list[int]]:
    """Simulate the visit detector by detector into ``inputRun``."""
    datasetTypes = demoInputs.connectionDatasetTypes()
    with Butler.from_config(repo, writeable=True) as butler:
        detectors = registerFocalPlane(butler, nDetectors)
        butler.registry.registerRun(inputRun)
        for connection in (
            "associatedDiaSources",
            "diaObjects",
            "diaSourceHistory",
            "diaForcedSources",
            "ssSources",
            "diffIm",
            "exposure",
            "template",
        ):
            name, storageClass = datasetTypes[connection]
            butler.registry.registerDatasetType(
                DatasetType(
                    name, ("instrument", "visit", "detector"), storageClass, universe=butler.dimensions
                )
            )
        regions, record = {}, None
        # 5% solar-system sources, at least one (the ssSources input is then never empty).
        solarSystem = max(1, round(0.05 * nSources)) / nSources
        start = time.monotonic()
        for detector in detectors:
            visit = simulation.makeSimulatedVisit(
                nSources,
                historyDepth,
                seed=1000 + detector,
                size=imageSize,
                boresight=detectorCentre(detector, imageSize),
                boresightRotAngle=demoInputs.ROT_ANGLE,
                detector=detector,
                band="r",
                fractionSolarSystem=solarSystem,
            )
            catalogs = visit.catalogs
            record = (catalogs.visit, catalogs.midpointMjdTai, catalogs.exposureTime)
            regions[detector] = demoInputs.detectorRegion(visit.diffIm)
            # The visit must exist before its datasets: register it with the regions so far.
            demoInputs.registerVisit(butler.registry, *record, regions)
            values = {
                "associatedDiaSources": visit.diaSourceCat,
                "diaObjects": visit.diaObjectCat,
                "diaSourceHistory": visit.diaSrcHistory,
                "diaForcedSources": visit.diaForcedSources,
                "ssSources": visit.ssSrc,
                "diffIm": visit.diffIm,
                "exposure": visit.calexp,
                "template": visit.template,
            }
            dataId = {"instrument": demoInputs.INSTRUMENT, "visit": catalogs.visit, "detector": detector}
            with butler.transaction():
                for connection, value in values.items():
                    butler.put(value, datasetTypes[connection][0], dataId, run=inputRun)
            if detector % 10 == 9 or detector == detectors[-1]:
                print(
                    f"  simulated {detector + 1}/{nDetectors} detectors ({time.monotonic() - start:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    return record[0], detectors


def quantumTimes(repo: str, run: str) -> dict:
    """Per-quantum timing from the task metadata of ``run``."""

    def utc(text):
        return datetime.datetime.fromisoformat(text).timestamp()

    startup, quantumWall, packaging, alerts = [], [], [], 0
    with Butler.from_config(repo) as butler:
        for ref in butler.query_datasets(f"{LABEL}_metadata", collections=run):
            metadata = butler.get(ref)
            quantum = metadata["quantum"]
            startup.append(quantum["prepCpuTime"])
            quantumWall.append(utc(quantum["endUtc"]) - utc(quantum["prepUtc"]))
            packaging.append(duration_from_timeMethod(metadata[f"{LABEL}:alertPackager"], "run", clock="Utc"))
        for ref in butler.query_datasets("deepDiff_alerts", collections=run):
            alerts += len(butler.get(ref))
    return {
        "quanta": len(packaging),
        "alerts": alerts,
        "startupCpu": statistics.mean(startup),
        "quantumWall": statistics.mean(quantumWall),
        "packaging": statistics.mean(packaging),
        "packagingTotal": sum(packaging),
    }


def runPipetask(workdir, repo, inputRun, chain, run, query, jobs) -> float:
    alertDir = os.path.join(workdir, "alerts", run)
    command = pipetaskCommands.pipetaskRunCommand(repo, (inputRun, chain, run), query, alertDir, jobs)
    start = time.monotonic()
    with open(os.path.join(workdir, f"{run.replace('/', '_')}.log"), "w") as log:
        subprocess.run(
            command,
            env=pipetaskCommands.subprocessEnvironment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
    return time.monotonic() - start


@contextlib.contextmanager
def slurmCluster():
    """The cluster of ``SLURM_CONF``, else a one-node test cluster started here.

    Yields the partition to submit to (`None`: the cluster's default) and the
    cluster's ``jobcomp`` reader (`None` for a cluster not started here).
    """
    if "SLURM_CONF" in os.environ:
        yield None, None
        return
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    from slurmCluster import SlurmCluster

    with SlurmCluster() as cluster, contextlib.ExitStack() as stack:
        stack.callback(os.environ.pop, "SLURM_CONF", None)
        os.environ.update(cluster.environment)
        yield cluster.partition, cluster.completedJobs


def runBps(workdir, repo, inputRun, chain, run, query, jobs, nQuanta, site="local", extra=None) -> float:
    """``bps submit`` on ``site``; for Slurm, ``extra["slurmJobs"]`` gets the
    jobs Slurm recorded (when the cluster was started here)."""
    if site == "slurm":
        with slurmCluster() as (partition, completedJobs):
            seconds = _runBps(workdir, repo, inputRun, chain, run, query, jobs, nQuanta, site, partition)
            if completedJobs is not None:
                extra["slurmJobs"] = completedJobs()
                jobs = [
                    f"{j['JobId']} {j['Name']} {j['JobState']} {j['StartTime']}..{j['EndTime']}"
                    for j in completedJobs()
                ]
                print(f"Slurm jobs (jobcomp): {jobs}", file=sys.stderr, flush=True)
        return seconds
    return _runBps(workdir, repo, inputRun, chain, run, query, jobs, nQuanta, site, None)


def _runBps(workdir, repo, inputRun, chain, run, query, jobs, nQuanta, site, partition) -> float:
    bpsRun = runBpsSubmit(
        workdir,
        repo,
        inputRun,
        chain,
        run,
        query,
        os.path.join(workdir, "alerts", run),
        expectedQuanta=nQuanta,
        cores=jobs,
        progress=False,
        site=site,
        settings=siteSettings(site, jobs, partition=partition),
    )
    return bpsRun.seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detectors", type=int, default=189)
    parser.add_argument("--sources", type=int, default=55, help="new DiaSources (alerts) per detector")
    parser.add_argument("--history", type=int, default=20, help="earlier DiaSources per DiaObject")
    parser.add_argument("--image-size", type=int, default=1024)
    parser.add_argument("--jobs", type=int, default=2, help="pipetask -j, Parsl Local and Slurm cores")
    parser.add_argument("--modes", default="pipetask,bps", help="comma-separated: pipetask, bps, slurm")
    parser.add_argument("--workdir", default="focal_work", help="reused: inputs are simulated once")
    parser.add_argument("--output", default="focal_results.json")
    args = parser.parse_args()

    workdir = os.path.abspath(args.workdir)
    repo = os.path.join(workdir, "repo")
    inputRun = f"{demoInputs.INSTRUMENT}/focal/n{args.sources}_d{args.detectors}_px{args.image_size}"
    if not os.path.exists(os.path.join(repo, "butler.yaml")):
        makeRepo(repo)
    with Butler.from_config(repo) as butler:
        have = inputRun in butler.collections.query(f"{demoInputs.INSTRUMENT}/focal/*")
    simulateSeconds = 0.0
    if not have:
        start = time.monotonic()
        makeInputs(repo, inputRun, args.detectors, args.sources, args.history, args.image_size)
        simulateSeconds = time.monotonic() - start
    with Butler.from_config(repo) as butler:
        refs = butler.query_datasets("deepDiff_differenceExp", collections=inputRun, limit=1)
        visit = refs[0].dataId["visit"]
    query = f"instrument='{demoInputs.INSTRUMENT}' AND visit={visit}"
    chain = f"{demoInputs.INSTRUMENT}/focalAlerts"
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    results = {
        "detectors": args.detectors,
        "sourcesPerDetector": args.sources,
        "imageSize": args.image_size,
        "history": args.history,
        "jobs": args.jobs,
        "simulateSeconds": simulateSeconds,
        "loadAverage": os.getloadavg(),
        "runs": {},
    }
    for mode in args.modes.split(","):
        run = f"{chain}/{mode}-{stamp}"
        print(f"running {mode} ...", file=sys.stderr, flush=True)
        loadBefore = os.getloadavg()[0]
        extra = {}
        if mode == "pipetask":
            wall = runPipetask(workdir, repo, inputRun, chain, run, query, args.jobs)
        else:
            site = "slurm" if mode == "slurm" else "local"
            wall = runBps(workdir, repo, inputRun, chain, run, query, args.jobs, args.detectors, site, extra)
        times = quantumTimes(repo, run) | extra
        times.update(
            wall=wall,
            alertsPerSecond=times["alerts"] / wall,
            overheadPerQuantumSlot=wall * args.jobs / times["quanta"] - times["packaging"],
            loadAverageBefore=loadBefore,
            loadAverageAfter=os.getloadavg()[0],
        )
        results["runs"][mode] = times
        print(json.dumps({mode: times}, indent=1), flush=True)
    with open(args.output, "w") as stream:
        json.dump(results, stream, indent=1)


if __name__ == "__main__":
    main()
