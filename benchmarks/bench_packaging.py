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

"""End-to-end packaging benchmark: `PackageAlertsTask.run` vs upstream's algorithm.

Builds one synthetic visit (`lsst.ap.alerts.simulation.makeSimulatedVisit`)
and, on the same inputs in the same process, times

- ``PackageAlertsTask.run`` end to end (``doWriteAlerts`` on, produce off)
  and per stage (``result.timings``);
- the reference packager (the tests' oracle,
  ``tests/oracle/upstreamPackager.py``: upstream's row loop, ``.loc``
  lookups, ``Exposure.getCutout`` + ``calibrateImage`` + astropy WCS +
  ``CCDData.write`` per cutout, fastavro; its file fsynced as the task's);
- ``fastavro.schemaless_writer`` alone on the same alert dicts;

checks that the task and the reference made the same alerts, measures peak
memory and prints the ratios.  Run from the repository root::

    python benchmarks/bench_packaging.py                      # N=1000, H=30, 30x30 cutouts
    python benchmarks/bench_packaging.py --suite              # + 102x102 cutouts, + N=10000
    python benchmarks/bench_packaging.py --sources 200 --skip-reference
    python benchmarks/bench_packaging.py --profile 25         # cProfile of one task run

Single core: BLAS/OpenMP pools are limited to one thread (set before numpy
is imported) and the process is pinned to one CPU (``--no-pin`` to allow
any); the task is single-threaded anyway.
"""

# ruff: noqa: E402 (the thread-pool variables must be set before numpy is imported)
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import cProfile
import datetime
import gc
import io
import json
import logging
import math
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Benchmark the checkout this script belongs to.
sys.path.insert(0, str(HERE.parent / "python"))
# The reference packager is the tests' upstream-algorithm oracle.
sys.path.insert(0, str(HERE.parent / "tests"))

import fastavro
import numpy as np
from oracle.comparison import compareAlerts
from oracle.upstreamPackager import UpstreamPackager

from lsst.ap.alerts import (
    PackageAlertsConfig,
    PackageAlertsTask,
    simulation,
)
from lsst.ap.alerts.catalogs.designations import packProvisional

STAGES_TASK = ("tables", "cutouts", "fits", "encoding", "produce", "write")
STAGES_REF = ("tables", "cutouts", "fits", "encoding", "write")


# -- machine / memory helpers -------------------------------------------------


def machineDescription() -> str:
    model = platform.processor() or "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        # nproc honours OMP_NUM_THREADS, which this script sets to 1.
        env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True, env=env).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        nproc = str(os.cpu_count())
    memGiB = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{model}, nproc={nproc}, {memGiB:.0f} GiB; Python {platform.python_version()}, "
        f"numpy {np.__version__}, fastavro {fastavro.__version__}"
    )


def _procStatus() -> dict[str, int]:
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                values[key] = int(value.split()[0]) * 1024
    return values


def _resetPeak() -> bool:
    """Reset the process's peak RSS (VmHWM, which ru_maxrss reports)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _mallocTrim() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def measureMemory(function, useTracemalloc: bool) -> dict[str, float]:
    """Peak memory of ``function()`` in a forked child (the parent is untouched).

    ``rss``: growth of the peak resident set over the RSS before the call
    (VmHWM after − VmRSS before, the peak being reset first through
    /proc/self/clear_refs; this is the ru_maxrss delta, counting every
    allocation: numpy, astropy, C libraries).  ``tracemalloc``: peak of
    Python-tracked allocations during the call (numpy buffers included),
    measured in a second child because tracing slows the run and
    inflates its RSS.
    """
    results = {}
    kinds = ["rss"] + (["tracemalloc"] if useTracemalloc else [])
    for kind in kinds:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.close(read)
            value = float("nan")
            try:
                gc.collect()
                # Hand the heap's free pages (freed by earlier runs in the
                # parent) back to the OS, so memory the call reuses counts
                # as growth.
                _mallocTrim()
                if kind == "rss":
                    if _resetPeak():
                        before = _procStatus()["VmRSS"]
                        function()
                        value = _procStatus()["VmHWM"] - before
                else:
                    tracemalloc.start()
                    function()
                    value = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
            finally:
                os.write(write, repr(value).encode())
                os.close(write)
                os._exit(0)
        os.close(write)
        with os.fdopen(read) as f:
            text = f.read()
        os.waitpid(pid, 0)
        results[kind] = float(text) if text else float("nan")
    return results


# -- the benchmark ------------------------------------------------------------


def makeVisit(nSources, history, cutout, seed, size, solarSystem):
    visit = simulation.makeSimulatedVisit(
        nSources, history, seed=seed, size=size, fractionSolarSystem=solarSystem
    )
    src = visit.diaSourceCat
    # Every cutout cutout x cutout: bboxSize = cutout (clamped to [30, 102] by the task).
    src["bboxSize"] = np.full(len(src), cutout, dtype=src["bboxSize"].dtype)
    return visit


def runArgs(visit):
    return (
        visit.diaSourceCat,
        visit.diaObjectCat,
        visit.diaSrcHistory,
        visit.diaForcedSources,
        visit.diffIm,
        visit.calexp,
        visit.template,
    )


def subsetVisit(visit, n):
    """The first ``n`` DiaSources of a visit (for warm-up runs)."""
    from lsst.pipe.base import Struct

    src = visit.diaSourceCat.iloc[:n]
    ids = set(src["diaSourceId"].tolist())
    ssSrc = None if visit.ssSrc is None else visit.ssSrc[visit.ssSrc["diaSourceId"].isin(ids)]
    return Struct(
        diaSourceCat=src,
        diaObjectCat=visit.diaObjectCat,
        diaSrcHistory=visit.diaSrcHistory,
        diaForcedSources=visit.diaForcedSources,
        diffIm=visit.diffIm,
        calexp=visit.calexp,
        template=visit.template,
        ssSrc=ssSrc,
    )


def withDesignations(ssSrc):
    """ssSrc with every MPC designation filled in (the values the task derives from ssObjectId).

    They are required strings: upstream cannot encode an alert without them.
    A copy of a few rows per run: negligible beside the reference's time.
    """
    if ssSrc is None:
        return None
    ssSrc = ssSrc.copy()
    packed = [packProvisional(d) for d in ssSrc["designation"]]
    ssSrc["MPCORB_packed_primary_provisional_designation"] = packed
    ssSrc["MPCORB_unpacked_primary_provisional_designation"] = ssSrc["designation"]
    return ssSrc


def median(values):
    return statistics.median(values) if values else float("nan")


def benchCase(args, nSources, history, cutout, outDir):
    print(
        f"\n=== N={nSources} sources, history H={history}, cutouts {cutout}x{cutout} "
        f"(detector {args.size}x{args.size}, seed {args.seed}, "
        f"{args.solar_system:.0%} solar-system) ===",
        flush=True,
    )
    t0 = time.perf_counter()
    visit = makeVisit(nSources, history, cutout, args.seed, args.size, args.solar_system)
    print(
        f"inputs: {len(visit.diaSourceCat)} DiaSources, {len(visit.diaObjectCat)} DiaObjects, "
        f"{len(visit.diaSrcHistory)} history rows, {len(visit.diaForcedSources)} forced sources, "
        f"{0 if visit.ssSrc is None else len(visit.ssSrc)} ssSrc rows "
        f"(built in {time.perf_counter() - t0:.1f} s)",
        flush=True,
    )

    config = PackageAlertsConfig()
    config.doWriteAlerts = True
    config.doProduceAlerts = False
    config.alertWriteLocation = outDir
    task = PackageAlertsTask(config=config)
    reference = UpstreamPackager(
        config.schemaFile,
        minCutoutSize=config.minCutoutSize,
        maxCutoutSize=config.maxCutoutSize,
        useAveragePsf=config.useAveragePsf,
    )
    refFile = os.path.join(outDir, "reference.avro")

    taskFile = os.path.join(outDir, f"{visit.diffIm.visitInfo.id}_{visit.diffIm.detector.getId()}.avro")

    def removeOutputs():
        # Each visit/detector writes a new file in production: do not time
        # the unlinking of the previous run's file (os.replace / truncation).
        for path in (taskFile, refFile):
            if os.path.exists(path):
                os.unlink(path)

    def runTask(v=visit):
        return task.run(*runArgs(v), ssSrc=v.ssSrc)

    def runReference(v=visit, encode=True):
        return reference.run(
            *runArgs(v), ssSrc=withDesignations(v.ssSrc), alertFile=refFile, encodePayloads=encode, fsync=True
        )

    # Warm-up on a few sources: imports, caches, first-call costs.
    small = subsetVisit(visit, 10)
    runTask(small)
    if not args.skip_reference:
        runReference(small)

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        runTask()
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stdout)
        print("\n--- cProfile of one task run: by own time ---")
        stats.sort_stats("tottime").print_stats(args.profile)
        print("--- by cumulative time ---")
        stats.sort_stats("cumulative").print_stats(args.profile)

    # Memory first (forked children, parent heap as after the warm-up).
    removeOutputs()
    memTask = measureMemory(runTask, args.tracemalloc)
    removeOutputs()
    memRef = None if args.skip_reference else measureMemory(runReference, args.tracemalloc)

    # Task: timed runs.
    taskTotals, taskStages = [], {s: [] for s in STAGES_TASK}
    result = None
    for _ in range(args.repeat):
        removeOutputs()
        gc.collect()
        t = time.perf_counter()
        result = runTask()
        taskTotals.append(time.perf_counter() - t)
        for s in STAGES_TASK:
            taskStages[s].append(result.timings.get(s, 0.0))
    nAlerts = len(result.alerts)
    alertBytes = result.alerts.totalBytes
    fileBytes = os.path.getsize(result.alertFile)

    # fastavro alone on the same alerts, as dicts.
    dicts = list(result.alerts)
    parsed = task.schema.parsed
    fastavroTimes = []
    for _ in range(args.repeat):
        gc.collect()
        t = time.perf_counter()
        encoded = []
        for alert in dicts:
            stream = io.BytesIO()
            fastavro.schemaless_writer(stream, parsed, alert)
            encoded.append(stream.getvalue())
        fastavroTimes.append(time.perf_counter() - t)
    fastavroSame = encoded == result.alerts.payloads
    del encoded

    # Reference: timed runs (slow; --ref-repeat, default 1).
    refTotals, refStages, agreement = [], {s: [] for s in STAGES_REF}, None
    if not args.skip_reference:
        refResult = None
        for _ in range(max(1, min(args.repeat, args.ref_repeat))):
            removeOutputs()
            gc.collect()
            t = time.perf_counter()
            refResult = runReference()
            wall = time.perf_counter() - t
            # Upstream encodes per alert only to produce to Kafka; with
            # produce off it only writes the file (fastavro.writer).
            refTotals.append(wall - refResult.timings["encoding"])
            for s in STAGES_REF:
                refStages[s].append(refResult.timings[s])
        with open(refFile, "rb") as f:
            refDecoded = list(fastavro.reader(f))
        agreement = compareAlerts(dicts, refDecoded, cutoutSample=args.check_cutouts, seed=args.seed)
        del refResult, refDecoded

    # -- report -------------------------------------------------------------
    taskTotal = median(taskTotals)
    print(
        f"\nalerts packaged: {nAlerts} (skipped {len(result.skipped)}); "
        f"{alertBytes / nAlerts / 1024:.1f} KiB per alert, file {fileBytes / 2**20:.1f} MiB; "
        f"medians of {args.repeat} task run(s)"
        + ("" if args.skip_reference else f", {len(refTotals)} reference run(s)")
    )
    header = f"{'stage':<12}{'task s':>10}{'task alerts/s':>15}"
    if not args.skip_reference:
        header += f"{'reference s':>13}{'ref alerts/s':>14}{'ref/task':>10}"
    print(header)
    print("-" * len(header))
    rows = [
        (s, median(taskStages[s]), median(refStages[s]) if s in refStages and refTotals else None)
        for s in STAGES_TASK
    ]
    rows.append(("end to end", taskTotal, median(refTotals) if refTotals else None))
    for name, tv, rv in rows:
        line = f"{name:<12}{tv:>10.4f}{(nAlerts / tv if tv > 0 else float('inf')):>15,.0f}"
        if not args.skip_reference:
            if rv is None:
                line += f"{'-':>13}{'-':>14}{'-':>10}"
            else:
                line += (
                    f"{rv:>13.3f}{(nAlerts / rv if rv > 0 else float('inf')):>14,.0f}"
                    f"{(rv / tv if tv > 0 else float('inf')):>9.1f}x"
                )
        print(line)
    print(
        f"(task end to end over {len(taskTotals)} runs: fastest {nAlerts / min(taskTotals):,.0f}, "
        f"slowest {nAlerts / max(taskTotals):,.0f} alerts/s)"
    )
    if refTotals:
        print(
            f"(reference end to end = tables+cutouts+fits+write, upstream's doWriteAlerts path; its "
            f"per-alert schemaless encoding, {median(refStages['encoding']):.3f} s, is what upstream "
            "adds when producing to Kafka)"
        )
    fa = median(fastavroTimes)
    enc = median(taskStages["encoding"])
    print(
        f"\nfastavro.schemaless_writer alone on the same {nAlerts} alert dicts: {fa:.4f} s "
        f"({nAlerts / fa:,.0f} alerts/s, bytes identical to the task's payloads: {fastavroSame})"
    )
    print(
        f"task encoding stage: {enc:.4f} s ({nAlerts / enc:,.0f} alerts/s) -> {fa / enc:.1f}x fastavro alone"
    )

    def mib(x):
        return "n/a" if x is None or math.isnan(x) else f"{x / 2**20:,.0f} MiB"

    line = f"\npeak memory (RSS growth = ru_maxrss delta): task {mib(memTask['rss'])}"
    if memRef:
        line += f", reference {mib(memRef['rss'])}"
    print(line)
    if args.tracemalloc:
        line = f"peak memory (tracemalloc peak): task {mib(memTask['tracemalloc'])}"
        if memRef:
            line += f", reference {mib(memRef['tracemalloc'])}"
        print(line)
    print(f"  alert payloads held by the result: {mib(alertBytes)}")

    summary = {
        "case": (nSources, history, cutout),
        "alerts": nAlerts,
        "task": taskTotal,
        "taskStages": {s: median(v) for s, v in taskStages.items()},
        "fastavro": fa,
        "memTask": memTask,
        "memRef": memRef,
        "alertBytes": alertBytes,
    }
    print("\ntargets:")
    rate = nAlerts / taskTotal
    print(
        f"  task >= 5,000 alerts/s on one core: {rate:,.0f} alerts/s -> {'PASS' if rate >= 5000 else 'FAIL'}"
    )
    if refTotals:
        ratio = median(refTotals) / taskTotal
        summary.update(reference=median(refTotals), refStages={s: median(v) for s, v in refStages.items()})
        print(f"  end to end >= 50x the reference: {ratio:.1f}x -> {'PASS' if ratio >= 50 else 'FAIL'}")
    print(f"  Avro encoding faster than fastavro alone: {fa / enc:.1f}x -> {'PASS' if enc < fa else 'FAIL'}")
    print(f"  bounded memory: task peak RSS growth {mib(memTask['rss'])} for {mib(alertBytes)} of alerts")
    if agreement is not None:
        checked = (
            f"all catalog fields of {nAlerts} alerts, cutouts of "
            f"{min(args.check_cutouts, nAlerts)} random alerts: pixels, variance, PSF, WCS"
        )
        if agreement:
            print(f"\nAGREEMENT FAILED ({len(agreement)} problems; {checked}):")
            for p in agreement[:20]:
                print("  ", p)
        else:
            print(f"\nagreement task vs reference: OK ({checked})")
        summary["agreement"] = not agreement
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sources", type=int, default=1000, help="DiaSources N (default 1000)")
    parser.add_argument("--history", type=int, default=30, help="history depth H (default 30)")
    parser.add_argument("--cutout", type=int, default=30, help="cutout side S (default 30)")
    parser.add_argument("--repeat", type=int, default=5, help="timed task runs (median; default 5)")
    parser.add_argument("--ref-repeat", type=int, default=1, help="timed reference runs (default 1)")
    parser.add_argument("--skip-reference", action="store_true", help="do not run the reference packager")
    parser.add_argument(
        "--suite", action="store_true", help="run N=1000/S=30, N=1000/S=102 and N=10000/S=30 (H as given)"
    )
    parser.add_argument("--size", type=int, default=2048, help="detector side in pixels (default 2048)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--solar-system", type=float, default=0.02, help="fraction of solar-system DiaSources (default 0.02)"
    )
    parser.add_argument(
        "--check-cutouts",
        type=int,
        default=100,
        help="alerts whose cutouts are compared with the reference's (default 100)",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also report tracemalloc peaks (two more runs per packager)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="K",
        help="print the top K functions of a cProfile of one task run",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    parser.add_argument("--summary-json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    logging.disable(logging.WARNING)  # per-source warnings would time the logger
    machine = machineDescription()  # before pinning: nproc counts the CPUs we may use
    pinned = "not pinned" if not args.suite else "each case pinned in its own process"
    if not args.no_pin and not args.suite and hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        pinned = f"pinned to CPU {cpu}"
    print(f"machine: {machine}")
    print(
        f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}; {pinned}; "
        + ", ".join(f"{v}={os.environ[v]}" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"))
    )
    if args.suite:
        summaries = runSuite(args, argv if argv is not None else sys.argv[1:])
    else:
        with tempfile.TemporaryDirectory(prefix="bench_packaging-") as outDir:
            summaries = [benchCase(args, args.sources, args.history, args.cutout, outDir)]
    if args.summary_json:
        with open(args.summary_json, "w") as f:
            json.dump(summaries, f)
    if len(summaries) > 1:
        print("\n=== summary ===")
        print(
            f"{'N':>6}{'H':>4}{'S':>5}{'task alerts/s':>15}{'ref alerts/s':>14}{'ratio':>8}"
            f"{'fastavro/enc':>14}{'task RSS':>10}{'ref RSS':>10}"
        )
        for s in summaries:
            n, h, c = s["case"]
            ref = s.get("reference")
            nan = float("nan")
            print(
                f"{n:>6}{h:>4}{c:>5}{s['alerts'] / s['task']:>15,.0f}"
                f"{(s['alerts'] / ref if ref else nan):>14,.0f}"
                f"{(ref / s['task'] if ref else nan):>7.1f}x"
                f"{s['fastavro'] / s['taskStages']['encoding']:>13.1f}x"
                f"{s['memTask']['rss'] / 2**20:>7,.0f} MiB"
                f"{(s['memRef']['rss'] / 2**20 if s['memRef'] else nan):>7,.0f} MiB"
            )


def runSuite(args, argv):
    """Each case in a fresh process: no heap left over from the previous case."""
    passThrough = []
    skip = {"--suite", "--sources", "--history", "--cutout", "--summary-json"}
    it = iter(argv)
    for arg in it:
        name = arg.split("=", 1)[0]
        if name in skip:
            if "=" not in arg and name != "--suite":
                next(it, None)
            continue
        passThrough.append(arg)
    summaries = []
    for nSources, cutout in ((1000, 30), (1000, 102), (10000, 30)):
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            command = [
                sys.executable,
                __file__,
                "--sources",
                str(nSources),
                "--history",
                str(args.history),
                "--cutout",
                str(cutout),
                "--summary-json",
                out.name,
                *passThrough,
            ]
            subprocess.run(command, check=True, stdout=sys.stdout, stderr=sys.stderr)
            with open(out.name) as f:
                summaries.extend(json.load(f))
        print(flush=True)
    return summaries


if __name__ == "__main__":
    main()
