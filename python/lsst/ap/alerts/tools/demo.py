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
    "INSTRUMENT",
    "LATEST_LINK",
    "DemoCam",
    "DemoInputs",
    "DemoResult",
    "makeDemoInputs",
    "pipelinePath",
    "pipetaskCommand",
    "pipetaskRunCommand",
    "runDemo",
    "shellCommand",
    "subprocessEnvironment",
]

import contextlib
import dataclasses
import datetime
import glob
import os
import shlex
import shutil
import site
import subprocess
import sys
import time
from importlib import resources

from lsst import sphgeom
from lsst.daf.butler import Butler, DatasetType, Timespan
from lsst.pipe.base import Instrument
from lsst.utils.timer import duration_from_timeMethod

from .. import simulation
from .._afw import geom
from ..butlerFormatters import makeRepo
from ..pipelineTask import PackageAlertsPipelineConfig, PackageAlertsPipelineConnections
from .progress import Progress

INSTRUMENT = "DemoCam"
"""Name of the demo instrument."""

LATEST_LINK = "latest"
"""Link in the work directory to the alert files of the newest run."""

_BAND = "r"
_PHYSICAL_FILTER = "r_57"  # LSSTCam's, as the simulated exposures' filter label
_RAFT = "R22"
_FIRST_DETECTOR = 90  # LSSTCam ids of raft R22: 90..98, 94 = R22_S11
_N_DETECTORS = 9
_TASK_LABEL = "packageAlerts"
_PIPELINE_FILE = "PackageAlerts.yaml"
_BORESIGHT = (53.16, -28.10)  # ECDFS
_ROT_ANGLE = 30.0  # degrees; a rotated field exercises the cutouts' ROTPA
_DETECTOR_GAP = 60  # pixels between neighbouring detectors of the raft


def _detectorName(sensor: int) -> str:
    return f"S{sensor // 3}{sensor % 3}"


class DemoCam(Instrument):
    """A demo instrument: one LSSTCam-like raft (R22) of 3x3 detectors,
    ids 90-98, and the r band.

    Only its dimension records matter; ``pipetask`` never imports it (the
    demo pipeline names no instrument), but the class named in the
    registry exists.
    """

    @classmethod
    def getName(cls) -> str:
        return INSTRUMENT

    def register(self, registry, *, update: bool = False) -> None:
        with registry.transaction():
            registry.syncDimensionData(
                "instrument",
                {
                    "name": INSTRUMENT,
                    "visit_max": 2**50,
                    "visit_system": 0,
                    "exposure_max": 2**50,
                    "detector_max": 1000,
                    "class_name": f"{__name__}.{type(self).__name__}",
                },
                update=update,
            )
            registry.syncDimensionData(
                "physical_filter",
                {"instrument": INSTRUMENT, "name": _PHYSICAL_FILTER, "band": _BAND},
                update=update,
            )
            for sensor in range(_N_DETECTORS):
                registry.syncDimensionData(
                    "detector",
                    {
                        "instrument": INSTRUMENT,
                        "id": _FIRST_DETECTOR + sensor,
                        "full_name": f"{_RAFT}_{_detectorName(sensor)}",
                        "name_in_raft": _detectorName(sensor),
                        "raft": _RAFT,
                        "purpose": "SCIENCE",
                    },
                    update=update,
                )

    def getRawFormatter(self, dataId):
        raise NotImplementedError("DemoCam has no raw data.")


@dataclasses.dataclass
class DemoInputs:
    """What `makeDemoInputs` put into a butler.

    Attributes
    ----------
    run : `str`
        The input run.
    visit : `int`
    detectors : `list` [`int`]
    nDiaSources : `int`
        New DiaSources over all detectors (one alert each).
    dataQuery : `str`
        ``pipetask -d`` expression selecting the visit.
    """

    run: str
    visit: int
    detectors: list[int]
    nDiaSources: int

    @property
    def dataQuery(self) -> str:
        return _dataQuery(self.visit)


@dataclasses.dataclass
class DemoResult:
    """What `runDemo` did and where its alerts are.

    Attributes
    ----------
    workdir, repo, apdb : `str`
        Work directory, butler repository and APDB (SQLite URL).
    inputCollection : `str`
        Run holding the simulated inputs.
    outputCollection : `str`
        Output CHAINED collection (``pipetask -o``).
    outputRun : `str`
        The run this demo wrote (``pipetask --output-run``).
    datasetType : `str`
        Dataset type of the alerts (storage class ``ApAlertPackets``).
    visit : `int`
    detectors : `list` [`int`]
    nAlerts : `int`
        Alerts read back from the butler.
    totalBytes : `int`
        Size of their Avro payloads.
    alertFiles : `list` [`str`]
        The ``{visit}_{detector}.avro`` files written.
    fileAlerts : `int`
        Alerts in those files.
    reusedInputs : `bool`
        Inputs came from an earlier run with the same parameters.
    seconds, simulateSeconds, pipetaskSeconds : `float`
        Wall-clock time in total, for making inputs, and for ``pipetask``.
    packagingSeconds : `dict` [`int`, `float`]
        Wall-clock time of `PackageAlertsTask.run` per detector (from the
        task metadata).
    command : `list` [`str`]
        The ``pipetask`` command line.
    firstDiaSourceId : `int` or `None`
        diaSourceId of the first alert of the first file (for the next steps).
    """

    workdir: str
    repo: str
    apdb: str
    inputCollection: str
    outputCollection: str
    outputRun: str
    datasetType: str
    visit: int
    detectors: list[int]
    nAlerts: int
    totalBytes: int
    alertFiles: list[str]
    fileAlerts: int
    reusedInputs: bool
    seconds: float
    simulateSeconds: float
    pipetaskSeconds: float
    packagingSeconds: dict[int, float]
    command: list[str]
    firstDiaSourceId: int | None = None

    @property
    def meanBytes(self) -> float:
        """Mean alert size in bytes (0 without alerts)."""
        return self.totalBytes / self.nAlerts if self.nAlerts else 0.0

    def summary(self) -> str:
        """Human-readable report of the run."""
        lines = [
            (
                f"{self.nAlerts} alerts of visit {self.visit} ({INSTRUMENT}, detectors "
                f"{', '.join(map(str, self.detectors))}): {_size(self.totalBytes)} in total, "
                f"{_size(self.meanBytes)} per alert on average."
            ),
            f"Butler: repo {self.repo}",
            f"  dataset type {self.datasetType} (storage class ApAlertPackets), run {self.outputRun}",
            f"  (chain {self.outputCollection}); read with",
            (
                f"  Butler.from_config({self.repo!r}).get({self.datasetType!r}, instrument={INSTRUMENT!r}, "
                f"visit={self.visit}, detector={self.detectors[0]}, collections={self.outputRun!r})"
            ),
            f"Avro files ({self.fileAlerts} alerts):",
        ]
        lines += [f"  {path} ({_size(os.path.getsize(path))})" for path in self.alertFiles]
        lines.append(f"APDB: {self.apdb}")
        lines.append(self._packagingLine())
        runner = "bps submit" if "submit" in self.command else "pipetask"
        lines.append(
            f"Took {self.seconds:.1f} s: inputs {self.simulateSeconds:.1f} s "
            f"({'reused' if self.reusedInputs else 'simulated'}), {runner} {self.pipetaskSeconds:.1f} s "
            "(process start-up and butler I/O included)."
        )
        lines.append(f"{runner} command:\n  {shellCommand(self.command)}")
        lines.append("Next (ready to paste):")
        lines += [f"  {shellCommand(step)}" for step in self.nextSteps()]
        return "\n".join(lines)

    def _packagingLine(self) -> str:
        """Time of `PackageAlertsTask.run` in each detector's quantum, and the rate over their sum."""
        times = sorted(self.packagingSeconds.items())
        total = sum(s for _, s in times)
        each = ", ".join(f"detector {d} {s:.2f} s" for d, s in times)
        rate = ""
        if total > 0:
            rate = f"; {self.nAlerts:,} alerts in {total:.2f} s = {self.nAlerts / total:,.0f} alerts/s"
        return f"PackageAlertsTask.run, one call per detector quantum: {each}{rate}."

    def nextSteps(self) -> list[list[str]]:
        """Commands to look at this run's alerts (paths relative to the current directory when inside it)."""
        latest = _shortPath(os.path.join(self.workdir, LATEST_LINK))
        files = [os.path.join(latest, os.path.basename(path)) for path in self.alertFiles]
        apAlerts, butler = venvTool("ap-alerts"), venvTool("butler")
        steps = [[apAlerts, "validate", latest]]
        if files:
            steps += [
                [apAlerts, "inspect", files[0]],
                [apAlerts, "render", files[0], "--list"],
                [apAlerts, "render", files[0], "--id", str(self.firstDiaSourceId), "-o", "alert.png"],
            ]
        steps += [
            [apAlerts, "report", latest, "-o", _shortPath(os.path.join(self.workdir, "report"))],
            [
                butler,
                "query-datasets",
                _shortPath(self.repo),
                self.datasetType,
                "--collections",
                self.outputRun,
            ],
        ]
        return steps


def venvTool(name: str) -> str:
    """``name`` when the shell finds it, else its path beside this interpreter (a venv not activated)."""
    beside = os.path.join(os.path.dirname(sys.executable), name)
    if shutil.which(name) is None and os.path.exists(beside):
        return _shortPath(beside)
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


def _shortPath(path: str) -> str:
    """``path`` relative to the current directory if it is inside it, else absolute."""
    relative = os.path.relpath(path)
    return path if relative.startswith(os.pardir) else relative


def _pointLatest(workdir: str, alertDir: str) -> None:
    """Make ``workdir/latest`` a link to the newest run's alert directory (replaced atomically)."""
    link = os.path.join(workdir, LATEST_LINK)
    temporary = f"{link}.{os.getpid()}.tmp"
    try:
        os.symlink(os.path.relpath(alertDir, workdir), temporary)
        os.replace(temporary, link)
    except OSError:  # no symlinks here: the summary names the run's directory anyway
        with contextlib.suppress(OSError):
            os.remove(temporary)


def _size(nBytes: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if nBytes < 1000 or unit == "GB":
            return f"{nBytes:.0f} {unit}" if unit == "B" else f"{nBytes:.1f} {unit}"
        nBytes /= 1000
    raise AssertionError("unreachable")


def pipelinePath() -> str:
    """Path of ``PackageAlerts.yaml``, in a source checkout or an installed package.

    The package ships it as ``lsst/ap/alerts/pipelines/`` (in the source
    tree a link to the top-level ``pipelines/``).
    """
    path = resources.files("lsst.ap.alerts").joinpath("pipelines", _PIPELINE_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"{_PIPELINE_FILE} is not installed with lsst.ap.alerts (looked at {path})")
    return str(path)


def _connectionDatasetTypes() -> dict[str, tuple[str, str]]:
    """(dataset type name, storage class) of each connection, as the pipeline
    resolves them with ``doSolarSystemSources``.
    """
    config = PackageAlertsPipelineConfig()
    config.doSolarSystemSources = True
    connections = PackageAlertsPipelineConnections(config=config)
    return {
        name: (getattr(connections, name).name, getattr(connections, name).storageClass)
        for name in connections.allConnections
    }


def _detectorCentres(nDetectors: int, size: int) -> list[tuple[float, float]]:
    """Sky centres of the first ``nDetectors`` detectors of a rotated 3x3 raft."""
    pitch = size + _DETECTOR_GAP
    raftWcs = simulation.makeVisitWcs(
        width=3 * pitch, height=3 * pitch, boresight=_BORESIGHT, rotAngle=_ROT_ANGLE, sip=False
    )
    centres = []
    for sensor in range(nDetectors):
        row, column = divmod(sensor, 3)
        point = raftWcs.pixelToSky(geom.Point2D((column + 0.5) * pitch - 0.5, (row + 0.5) * pitch - 0.5))
        centres.append((point.getRa().asDegrees(), point.getDec().asDegrees()))
    return centres


def _detectorRegion(exposure) -> sphgeom.ConvexPolygon:
    """Sky polygon of an exposure's bounding box."""
    box = geom.Box2D(exposure.getBBox())
    wcs = exposure.getWcs()
    vertices = []
    for corner in box.getCorners():
        point = wcs.pixelToSky(corner)
        vertices.append(
            sphgeom.UnitVector3d(
                sphgeom.LonLat.fromDegrees(point.getRa().asDegrees(), point.getDec().asDegrees())
            )
        )
    return sphgeom.ConvexPolygon(vertices)


def _registerVisit(
    registry,
    visit: int,
    midpointMjdTai: float,
    exposureTime: float,
    regions: dict[int, sphgeom.ConvexPolygon],
) -> None:
    """Insert the day_obs, visit and visit_detector_region records of the visit."""
    import astropy.time

    midpoint = astropy.time.Time(midpointMjdTai, format="mjd", scale="tai")
    half = datetime.timedelta(seconds=exposureTime / 2)
    dayObs = visit // 100000
    dayStart = astropy.time.Time(
        datetime.datetime.strptime(str(dayObs), "%Y%m%d") + datetime.timedelta(hours=12), scale="tai"
    )
    registry.syncDimensionData(
        "day_obs",
        {
            "instrument": INSTRUMENT,
            "id": dayObs,
            "timespan": Timespan(dayStart, dayStart + datetime.timedelta(days=1)),
        },
    )
    visitRegion = sphgeom.ConvexPolygon.convexHull(
        [vertex for region in regions.values() for vertex in region.getVertices()]
    )
    registry.syncDimensionData(
        "visit",
        {
            "instrument": INSTRUMENT,
            "id": visit,
            "name": str(visit),
            "physical_filter": _PHYSICAL_FILTER,
            "day_obs": dayObs,
            "seq_num": visit % 100000,
            "exposure_time": exposureTime,
            "target_name": "lsst_wfd",
            "observation_reason": "wfd",
            "science_program": "demo",
            "region": visitRegion,
            "timespan": Timespan(midpoint - half, midpoint + half),
        },
        # Demo runs with another image size share the visit but not its footprint.
        update=True,
    )
    registry.insertDimensionData(
        "visit_detector_region",
        *[
            {"instrument": INSTRUMENT, "visit": visit, "detector": detector, "region": region}
            for detector, region in regions.items()
        ],
        replace=True,
    )


def makeDemoInputs(
    butler: Butler,
    run: str,
    apdbPath: str,
    *,
    nSources: int = 300,
    nDetectors: int = 2,
    seed: int = 0,
    historyDepth: int = 20,
    imageSize: int = 1024,
    progress: bool = True,
) -> DemoInputs:
    """Simulate one visit of `DemoCam` and put its pipeline inputs into a butler.

    Per detector: `lsst.ap.alerts.simulation.makeSimulatedVisit` makes the
    exposures and catalogs; the catalogs are stored into the APDB at
    ``apdbPath`` and the DiaObjects, DiaSource history and forced sources
    are read back from it (with the APDB's columns and types), as
    DiaPipelineTask preloads them; this visit's DiaSources and ssSources are
    the simulation's (DiaPipelineTask's in-memory ones).

    Parameters
    ----------
    butler : `lsst.daf.butler.Butler`
        Writeable butler whose configuration has this package's storage
        classes (`lsst.ap.alerts.butlerFormatters.makeRepo`).
    run : `str`
        Run to put the inputs into.
    apdbPath : `str`
        SQLite file of the APDB (created if missing).
    nSources : `int`
        New DiaSources per detector, 5% of them solar-system sources.
    nDetectors : `int`
        Detectors (1-9).
    seed : `int`
        Simulation seed (detector ``d`` uses ``seed * 100 + d``).
    historyDepth : `int`
        Earlier DiaSources per known DiaObject.
    imageSize : `int`
        Detector width and height in pixels.
    progress : `bool`
        Report progress on stderr.

    Returns
    -------
    inputs : `DemoInputs`
    """
    if not 1 <= nDetectors <= _N_DETECTORS:
        raise ValueError(f"nDetectors must be 1-{_N_DETECTORS}, not {nDetectors}")
    DemoCam().register(butler.registry)
    fractionSolarSystem = max(1, round(0.05 * nSources)) / nSources
    detectors = [_FIRST_DETECTOR + sensor for sensor in range(nDetectors)]
    centres = _detectorCentres(nDetectors, imageSize)
    datasets = []
    regions = {}
    nDiaSources = 0
    visitRecord = None
    bar = Progress("simulate", total=nDetectors, unit="detector") if progress else None
    try:
        for detector, centre in zip(detectors, centres, strict=True):
            visit = simulation.makeSimulatedVisit(
                nSources,
                historyDepth,
                seed=seed * 100 + detector,
                size=imageSize,
                boresight=centre,
                boresightRotAngle=_ROT_ANGLE,
                detector=detector,
                band=_BAND,
                fractionSolarSystem=fractionSolarSystem,
            )
            tables, note = _detectorInputs(visit, apdbPath)
            catalogs = visit.catalogs
            dataId = {"instrument": INSTRUMENT, "visit": catalogs.visit, "detector": detector}
            datasets += [(name, dataId, value) for name, value in tables.items()]
            regions[detector] = _detectorRegion(visit.diffIm)
            nDiaSources += len(visit.diaSourceCat)
            visitRecord = (catalogs.visit, catalogs.midpointMjdTai, catalogs.exposureTime)
            if bar is not None:
                bar.update(1, note=f"detector {detector}: {note}")
    finally:
        if bar is not None:
            bar.close()
    _registerVisit(butler.registry, *visitRecord, regions)
    _putInputs(butler, run, datasets)
    return DemoInputs(run=run, visit=visitRecord[0], detectors=detectors, nDiaSources=nDiaSources)


def _detectorInputs(visit, apdbPath: str) -> tuple[dict, str]:
    """The pipeline inputs of one simulated detector, its catalogs passed through the APDB.

    Parameters
    ----------
    visit : `lsst.pipe.base.Struct`
        One detector's simulated exposures and catalogs (`lsst.ap.alerts.simulation.makeSimulatedVisit`).
    apdbPath : `str`
        SQLite file of the APDB the catalogs are stored into and read back from.

    Returns
    -------
    tables : `dict` [`str`, `object`]
        Input per connection name of the pipeline.
    note : `str`
        What was made (progress).
    """
    catalogs = visit.catalogs
    apdb = simulation.writeApdb(catalogs, apdbPath)
    preloaded = simulation.readApdb(apdb, catalogs)
    # The APDB now holds this visit's DiaSources too; DiaPipelineTask preloads before storing them.
    history = preloaded.diaSources[preloaded.diaSources["visit"] != catalogs.visit]
    tables = {
        "associatedDiaSources": visit.diaSourceCat,
        "diaObjects": preloaded.diaObjects,
        "diaSourceHistory": history,
        "diaForcedSources": preloaded.diaForcedSources,
        "ssSources": visit.ssSrc,
        "diffIm": visit.diffIm,
        "exposure": visit.calexp,
        "template": visit.template,
    }
    note = (
        f"{len(visit.diaSourceCat)} DiaSources, "
        f"{len(history)} earlier, {len(preloaded.diaForcedSources)} forced"
    )
    return tables, note


def _putInputs(butler: Butler, run: str, datasets: list[tuple[str, dict, object]]) -> None:
    """Register the dataset types and put the inputs, all in one transaction.

    Parameters
    ----------
    butler : `lsst.daf.butler.Butler`
        Writeable butler.
    run : `str`
        Run to put the inputs into (registered here).
    datasets : `list` [`tuple`]
        (connection name, data ID, value) of each input.
    """
    datasetTypes = _connectionDatasetTypes()
    butler.registry.registerRun(run)
    for connection in {connection for connection, _, _ in datasets}:
        name, storageClass = datasetTypes[connection]
        butler.registry.registerDatasetType(
            DatasetType(name, ("instrument", "visit", "detector"), storageClass, universe=butler.dimensions)
        )
    # All puts or none: a failed attempt leaves no half-filled input run.
    try:
        with butler.transaction():
            for connection, dataId, value in datasets:
                butler.put(value, datasetTypes[connection][0], dataId, run=run)
    except BaseException:
        _discardRun(butler, run)
        raise


def _discardRun(butler: Butler, run: str) -> None:
    """Remove a run whose puts were rolled back: the registry rollback keeps
    the run itself and does not delete the files the datastore already
    wrote, and a later attempt would take the empty run for finished inputs."""
    butler.removeRuns([run])  # unstore= is deprecated (always on); older butlers: files go below
    for root in butler.get_datastore_roots().values():
        if root is not None and root.isLocal:
            shutil.rmtree(os.path.join(root.ospath, run), ignore_errors=True)


def subprocessEnvironment() -> dict[str, str]:
    """Environment for a ``pipetask`` subprocess that must import this package.

    The current environment, plus this package's source root on
    ``PYTHONPATH`` when it is not installed in a site-packages directory
    (a source checkout used through ``PYTHONPATH`` or ``sys.path``).
    """
    env = dict(os.environ)
    # The directory holding lsst/ap/alerts/.
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
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


def _runPipetask(command: list[str], progress: bool, env: dict[str, str] | None = None) -> None:
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


def _newRunName(butler: Butler, chain: str) -> str:
    """A timestamped run name under ``chain`` that does not exist yet."""
    existing = set(butler.collections.query(f"{chain}/*"))
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    name, n = f"{chain}/{stamp}", 1
    while name in existing:
        n += 1
        name = f"{chain}/{stamp}-{n}"
    return name


@dataclasses.dataclass(frozen=True)
class _Simulation:
    """Parameters of a demo's simulated inputs; runs with equal ones share the inputs."""

    nSources: int
    nDetectors: int
    seed: int
    historyDepth: int
    imageSize: int

    @property
    def key(self) -> str:
        """Names the input run, the APDB file and the output chain of these parameters."""
        return f"n{self.nSources}_d{self.nDetectors}_h{self.historyDepth}_s{self.seed}_px{self.imageSize}"


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
    workdir = os.path.abspath(workdir)
    _prepareWorkdir(workdir, fresh)
    simulation = _Simulation(
        nSources=nSources, nDetectors=nDetectors, seed=seed, historyDepth=historyDepth, imageSize=imageSize
    )
    repo = os.path.join(workdir, "repo")
    apdbPath = os.path.join(workdir, "apdb", f"{simulation.key}.sqlite3")
    inputRun = f"{INSTRUMENT}/inputs/{simulation.key}"
    outputChain = f"{INSTRUMENT}/alerts/{simulation.key}"
    datasetTypes = _connectionDatasetTypes()
    if not os.path.exists(os.path.join(repo, "butler.yaml")):
        _say(progress, f"Creating butler repository {repo}")
        makeRepo(repo)
    reused, visit, detectors, outputRun = _provideInputs(
        repo, inputRun, apdbPath, outputChain, simulation, datasetTypes["diffIm"][0], progress
    )
    simulated = time.monotonic()

    alertDir = os.path.join(workdir, "alerts", simulation.key, outputRun.rsplit("/", 1)[-1])
    collections = (inputRun, outputChain, outputRun)
    if bps:
        command = _runBps(workdir, repo, collections, visit, alertDir, len(detectors), jobs, progress, site)
    else:
        command = pipetaskRunCommand(repo, collections, _dataQuery(visit), alertDir, jobs)
        _say(progress, f"Running {shellCommand(command)}")
        _runPipetask(command, progress)
    finished = time.monotonic()

    datasetType = datasetTypes["alerts"][0]
    nAlerts, totalBytes, packagingSeconds = _readOutputs(repo, datasetType, outputRun)
    alertFiles = sorted(glob.glob(os.path.join(alertDir, "*.avro")))
    fileAlerts = sum(_countRecords(path) for path in alertFiles)
    _pointLatest(workdir, alertDir)
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
        fileAlerts=fileAlerts,
        reusedInputs=reused,
        seconds=time.monotonic() - start,
        simulateSeconds=simulated - start,
        pipetaskSeconds=finished - simulated,
        packagingSeconds=packagingSeconds,
        command=command,
        firstDiaSourceId=_firstDiaSourceId(alertFiles[0]) if alertFiles else None,
    )
    print(result.summary(), flush=True)
    return result


def _say(progress: bool, message: str) -> None:
    """Tell the user what the demo is doing (on stderr, with ``progress`` only)."""
    if progress:
        print(f"[demo] {message}", file=sys.stderr, flush=True)


def _prepareWorkdir(workdir: str, fresh: bool) -> None:
    """Create ``workdir`` and its ``apdb/``; with ``fresh``, delete an earlier demo's first.

    Raises
    ------
    FileExistsError
        If ``fresh`` and ``workdir`` is a non-empty directory without a
        demo repository.
    """
    if fresh and os.path.exists(workdir):
        # Never wipe a directory this demo did not make.
        if os.listdir(workdir) and not os.path.exists(os.path.join(workdir, "repo", "butler.yaml")):
            raise FileExistsError(
                f"refusing to delete {workdir} (--fresh): it is not empty and holds no "
                "demo repository (repo/butler.yaml); choose another --workdir"
            )
        shutil.rmtree(workdir)
    os.makedirs(os.path.join(workdir, "apdb"), exist_ok=True)


def _provideInputs(
    repo: str,
    inputRun: str,
    apdbPath: str,
    outputChain: str,
    simulation: _Simulation,
    diffImType: str,
    progress: bool,
) -> tuple[bool, int, list[int], str]:
    """Reuse the inputs in ``inputRun`` if an earlier demo made them, else simulate them;
    and name this run's output run.

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
    simulation : `_Simulation`
        Parameters of the inputs.
    diffImType : `str`
        Dataset type of the difference images (one per detector of the visit).
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
    with Butler.from_config(repo, writeable=True) as butler:
        reused = inputRun in butler.collections.query(f"{INSTRUMENT}/inputs/*")
        if reused:
            _say(progress, f"Reusing the simulated inputs in {inputRun}")
            refs = butler.query_datasets(diffImType, collections=inputRun)
            visit = refs[0].dataId["visit"]
            detectors = sorted(ref.dataId["detector"] for ref in refs)
        else:
            size = simulation.imageSize
            _say(
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
        return reused, visit, detectors, _newRunName(butler, outputChain)


def _dataQuery(visit: int) -> str:
    """Data query selecting the demo's visit (``pipetask -d``)."""
    return f"instrument='{INSTRUMENT}' AND visit={visit}"


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
        f"{_TASK_LABEL}:doSolarSystemSources=True",
        "-c",
        f"{_TASK_LABEL}:alertPackager.doWriteAlerts=True",
        "-c",
        f"{_TASK_LABEL}:alertPackager.alertWriteLocation={alertDir}",
    ]


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
    # Imported here: bpsDemo imports this module.
    from .bpsDemo import runBpsSubmit

    inputRun, outputChain, outputRun = collections
    return runBpsSubmit(
        workdir,
        repo,
        inputRun,
        outputChain,
        outputRun,
        _dataQuery(visit),
        alertDir,
        expectedQuanta=nDetectors,
        cores=cores,
        progress=progress,
        site=site,
    ).command


def _readOutputs(repo: str, datasetType: str, outputRun: str) -> tuple[int, int, dict[int, float]]:
    """Read the run's alerts and task metadata back from the butler.

    Returns
    -------
    nAlerts : `int`
        Alerts of all detectors.
    totalBytes : `int`
        Size of their Avro payloads.
    packagingSeconds : `dict` [`int`, `float`]
        Wall-clock time of `PackageAlertsTask.run` per detector.
    """
    nAlerts = totalBytes = 0
    packagingSeconds = {}
    with Butler.from_config(repo) as butler:
        for ref in butler.query_datasets(datasetType, collections=outputRun):
            alerts = butler.get(ref)
            nAlerts += len(alerts)
            totalBytes += alerts.totalBytes
        for ref in butler.query_datasets(f"{_TASK_LABEL}_metadata", collections=outputRun):
            metadata = butler.get(ref)[f"{_TASK_LABEL}:alertPackager"]
            packagingSeconds[int(ref.dataId["detector"])] = duration_from_timeMethod(
                metadata, "run", clock="Utc"
            )
    return nAlerts, totalBytes, packagingSeconds


def _firstDiaSourceId(path: str) -> int | None:
    """diaSourceId of the first alert of an Avro container file."""
    import fastavro

    with open(path, "rb") as stream:
        first = next(iter(fastavro.reader(stream)), None)
    return first["diaSourceId"] if first is not None else None


def _countRecords(path: str) -> int:
    """Records in an Avro container file (blocks are counted, not decoded)."""
    import fastavro

    with open(path, "rb") as stream:
        return sum(block.num_records for block in fastavro.block_reader(stream))
