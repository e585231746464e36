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

"""Rubin's own workload: one detector, cold and warm, `PackageAlertsTask.run` vs upstream's algorithm.

Per detector exposure size (Rubin's 4072x4000 and 1024x1024) one simulated
visit (`lsst.ap.alerts.simulation.makeSimulatedVisit`: 20-deep histories
and forced sources, the simulation's footprint sizes with ``bboxSize``
clipped to 8-140 px, so cutouts of 30-102 px) is built with the largest N
and written to disk (exposures as FITS, catalogs pickled); each case N
takes its first N DiaSources.  Every measurement is a fresh process that
imports everything and reads the inputs (not timed), builds the packager,
then times ``run()`` once (cold: a pipetask quantum) and ``--warm`` more
times (warm: a long-lived worker).  The task (``doWriteAlerts``, produce
off) and the reference packager (the tests' oracle,
``tests/oracle/upstreamPackager.py``, upstream's algorithm, writing its
file with fsync as the task does; its per-alert encoding, only needed to
produce to Kafka, is not counted, as in ``bench_packaging.py``) alternate,
process by process, on the same inputs; ratios are taken within each
repetition, then the median.  Per-stage times come from
``result.timings``; bytes per alert are the Avro payloads, ours against
the reference's (same catalog content, same pixels).

Run it with each interpreter (the model and, when importable, real afw)::

    python benchmarks/bench_detector.py                     # N = 0, 10, 55, 200; both sizes; 3 repetitions
    python benchmarks/bench_detector.py --sizes 1024 --sources 55 --reps 1
    python benchmarks/bench_detector.py --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# Sets the one-thread pools and the import paths of the checkout and of tests/oracle.
import bench_packaging as packaging  # noqa: E402

SOURCES = (0, 10, 55, 200)
SIZES = {"4072x4000": (4072, 4000), "1024x1024": (1024, 1024)}
EXPOSURES = ("diffIm", "calexp", "template")
CATALOGS = ("diaSourceCat", "diaObjectCat", "diaSrcHistory", "diaForcedSources", "ssSrc")
HISTORY = 20
BBOX_RANGE = (8, 140)


# -- inputs ---------------------------------------------------------------------


def writeInputs(directory: Path, size, nSources: int, seed: int) -> dict:
    """Simulate one detector's visit and write it under ``directory``; describe its cutouts."""
    import numpy as np

    from lsst.ap.alerts import simulation

    visit = simulation.makeSimulatedVisit(nSources, HISTORY, seed=seed, size=size)
    src = visit.diaSourceCat
    src["bboxSize"] = np.clip(src["bboxSize"].to_numpy(), *BBOX_RANGE).astype(src["bboxSize"].dtype)
    for name in EXPOSURES:
        getattr(visit, name).writeFits(str(directory / f"{name}.fits"))
    with open(directory / "catalogs.pickle", "wb") as f:
        pickle.dump({name: getattr(visit, name) for name in CATALOGS}, f)
    sides = np.clip(src["bboxSize"].to_numpy(), 30, 102)
    return {
        "bboxSize": [int(v) for v in np.percentile(src["bboxSize"], (0, 25, 50, 75, 100))],
        "cutoutSide": [int(v) for v in np.percentile(sides, (0, 25, 50, 75, 100))],
        "historyRows": len(visit.diaSrcHistory),
        "forcedRows": len(visit.diaForcedSources),
    }


def readInputs(directory: Path, nSources: int):
    """The first ``nSources`` DiaSources of the stored visit, with all its images and tables."""
    from lsst.pipe.base import Struct

    from lsst.ap.alerts._afw import afwImage

    with open(directory / "catalogs.pickle", "rb") as f:
        catalogs = pickle.load(f)
    exposures = {name: afwImage.ExposureF.readFits(str(directory / f"{name}.fits")) for name in EXPOSURES}
    return packaging.subsetVisit(Struct(**catalogs, **exposures), nSources)


# -- one fresh process ---------------------------------------------------------------


def child(directory: Path, which: str, nSources: int, warm: int, outDir: str) -> dict:
    """Time ``run()`` cold, then ``warm`` times, in this (fresh) process."""
    import gc

    from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask

    visit = readInputs(directory, nSources)
    config = PackageAlertsConfig()
    config.doWriteAlerts = True
    config.alertWriteLocation = outDir
    if which == "ours":
        task = PackageAlertsTask(config=config)

        def run():
            result = task.run(*packaging.runArgs(visit), ssSrc=visit.ssSrc)
            count = len(result.alerts)
            return result.timings, count, result.alerts.totalBytes / count if count else float("nan")

    else:
        reference = packaging.UpstreamPackager(config.schemaFile)
        ssSrc = packaging.withDesignations(visit.ssSrc)
        refFile = os.path.join(outDir, "reference.avro")

        def run():
            result = reference.run(
                *packaging.runArgs(visit), ssSrc=ssSrc, alertFile=refFile, encodePayloads=True, fsync=True
            )
            count = len(result.payloads)
            timings = dict(result.timings)
            # Upstream encodes per alert only to produce to Kafka; with produce off it writes the file.
            timings["_notCounted"] = timings.pop("encoding")
            mean = sum(map(len, result.payloads)) / count if count else float("nan")
            return timings, count, mean

    times, stages = [], []
    for _ in range(1 + warm):
        gc.collect()
        start = time.perf_counter()
        timings, count, bytesPerAlert = run()
        times.append(time.perf_counter() - start - timings.pop("_notCounted", 0.0))
        stages.append(timings)
    return {
        "cold": times[0],
        "warm": times[1:],
        "stages": stages[-1],
        "alerts": count,
        "bytes": bytesPerAlert,
    }


def spawn(directory: Path, which: str, nSources: int, warm: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_detector-") as outDir:
        command = [
            sys.executable,
            __file__,
            "--child",
            str(directory),
            which,
            str(nSources),
            str(warm),
            outDir,
        ]
        out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{which} N={nSources} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the suite -------------------------------------------------------------------


def median(values):
    return statistics.median(values) if values else float("nan")


def measureCase(directory: Path, nSources: int, args) -> dict:
    """Alternating fresh processes of the task and the reference; per-repetition ratios."""
    runs = {"ours": [], "reference": []}
    for rep in range(args.reps):
        order = ("ours", "reference") if rep % 2 == 0 else ("reference", "ours")
        for which in order:
            runs[which].append(spawn(directory, which, nSources, args.warm))
    ours, ref = runs["ours"], runs["reference"]
    summary = {
        "sources": nSources,
        "alerts": ours[0]["alerts"],
        "coldOurs": median([r["cold"] for r in ours]),
        "coldRef": median([r["cold"] for r in ref]),
        "warmOurs": median([median(r["warm"]) for r in ours]),
        "warmRef": median([median(r["warm"]) for r in ref]),
        "coldRatio": median([b["cold"] / a["cold"] for a, b in zip(ours, ref, strict=True)]),
        "warmRatio": median([median(b["warm"]) / median(a["warm"]) for a, b in zip(ours, ref, strict=True)]),
        "bytesOurs": ours[0]["bytes"],
        "bytesRef": ref[0]["bytes"],
        "stagesOurs": {k: median([r["stages"][k] for r in ours]) for k in ours[0]["stages"]},
        "stagesRef": {k: median([r["stages"][k] for r in ref]) for k in ref[0]["stages"]},
    }
    summary["bytesRatio"] = summary["bytesOurs"] / summary["bytesRef"] if nSources else float("nan")
    return summary


def printCase(s: dict) -> None:
    ms = 1000.0
    stages = " ".join(f"{k} {v * ms:.1f}" for k, v in s["stagesOurs"].items())
    print(
        f"N={s['sources']:>3} ({s['alerts']:>3} alerts)  cold: ours {s['coldOurs'] * ms:8.1f} ms, "
        f"ref {s['coldRef'] * ms:8.1f} ms, {s['coldRatio']:6.1f}x | warm: ours {s['warmOurs'] * ms:8.1f} ms, "
        f"ref {s['warmRef'] * ms:8.1f} ms, {s['warmRatio']:6.1f}x | bytes/alert {s['bytesOurs']:,.0f} vs "
        f"{s['bytesRef']:,.0f} ({s['bytesRatio']:.4f}x)\n      our warm stages (ms): {stages}",
        flush=True,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sources", type=int, nargs="+", default=list(SOURCES))
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=list(SIZES))
    parser.add_argument("--reps", type=int, default=3, help="alternating process pairs per case")
    parser.add_argument("--warm", type=int, default=2, help="warm runs per process after the cold one")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    from lsst.ap.alerts._afw import HAVE_AFW

    load = os.getloadavg()
    print(f"{packaging.machineDescription()}; {'real afw' if HAVE_AFW else 'afw model'}")
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    results = {"afw": HAVE_AFW, "loadStart": load, "sizes": {}}
    for sizeName in args.sizes:
        with tempfile.TemporaryDirectory(prefix="bench_detector-inputs-") as tmp:
            directory = Path(tmp)
            start = time.perf_counter()
            inputs = writeInputs(directory, SIZES[sizeName], max(args.sources), args.seed)
            print(
                f"\n=== detector {sizeName}: bboxSize percentiles (0/25/50/75/100) {inputs['bboxSize']}, "
                f"cutout sides {inputs['cutoutSide']} (inputs built in {time.perf_counter() - start:.0f} s)",
                flush=True,
            )
            cases = []
            for n in args.sources:
                cases.append(measureCase(directory, n, args))
                printCase(cases[-1])
            results["sizes"][sizeName] = {"inputs": inputs, "cases": cases}
    results["loadEnd"] = os.getloadavg()
    print(f"\nload average at end: {' '.join(f'{v:.2f}' for v in results['loadEnd'])}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        directory, which, n, warm, outDir = sys.argv[2:7]
        print(json.dumps(child(Path(directory), which, int(n), int(warm), outDir)))
    else:
        main()
