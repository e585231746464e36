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

"""The demo's inputs: the `DemoCam` instrument, one simulated visit and its registration.

`makeDemoInputs` simulates one visit of `DemoCam` (one LSSTCam-like raft of
3x3 detectors), passes its catalogs through a real APDB and puts the
pipeline's inputs into a butler; `DemoSimulation` names the parameters that
make two demo runs share their inputs.
"""

from __future__ import annotations

__all__ = [
    "BAND",
    "BORESIGHT",
    "FIRST_DETECTOR",
    "INSTRUMENT",
    "ROT_ANGLE",
    "DemoCam",
    "DemoInputs",
    "DemoSimulation",
    "connectionDatasetTypes",
    "dataQuery",
    "detectorCentres",
    "detectorRegion",
    "discardRun",
    "makeDemoInputs",
    "registerVisit",
]

import dataclasses
import datetime
import os
import shutil

from lsst import sphgeom
from lsst.daf.butler import Butler, DatasetType, Timespan
from lsst.pipe.base import Instrument

from .. import simulation
from .._afw import geom
from ..pipelineTask import PackageAlertsPipelineConfig, PackageAlertsPipelineConnections
from .progress import Progress

INSTRUMENT = "DemoCam"
"""Name of the demo instrument."""

BAND = "r"
_PHYSICAL_FILTER = "r_57"  # LSSTCam's, as the simulated exposures' filter label
_RAFT = "R22"
FIRST_DETECTOR = 90  # LSSTCam ids of raft R22: 90..98, 94 = R22_S11
_N_DETECTORS = 9
BORESIGHT = (53.16, -28.10)  # ECDFS
ROT_ANGLE = 30.0  # degrees; a rotated field exercises the cutouts' ROTPA
_DETECTOR_GAP = 60  # pixels between neighbouring detectors of the raft
# The class name demo repositories hold since DemoCam lived in tools/demo
# (which still exports it): registering another one would conflict with them.
_REGISTERED_CLASS = "lsst.ap.alerts.tools.demo.DemoCam"


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
                    "class_name": _REGISTERED_CLASS,
                },
                update=update,
            )
            registry.syncDimensionData(
                "physical_filter",
                {"instrument": INSTRUMENT, "name": _PHYSICAL_FILTER, "band": BAND},
                update=update,
            )
            for sensor in range(_N_DETECTORS):
                registry.syncDimensionData(
                    "detector",
                    {
                        "instrument": INSTRUMENT,
                        "id": FIRST_DETECTOR + sensor,
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
        return dataQuery(self.visit)


@dataclasses.dataclass(frozen=True)
class DemoSimulation:
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

    @property
    def inputRun(self) -> str:
        """The run holding the demo's inputs for these parameters."""
        return f"{INSTRUMENT}/inputs/{self.key}"

    @property
    def outputChain(self) -> str:
        """The CHAINED collection the demo's output runs for these parameters go under."""
        return f"{INSTRUMENT}/alerts/{self.key}"


def dataQuery(visit: int) -> str:
    """Data query selecting the demo's visit (``pipetask -d``)."""
    return f"instrument='{INSTRUMENT}' AND visit={visit}"


def connectionDatasetTypes() -> dict[str, tuple[str, str]]:
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


def detectorCentres(nDetectors: int, size: int) -> list[tuple[float, float]]:
    """Sky centres of the first ``nDetectors`` detectors of a rotated 3x3 raft."""
    pitch = size + _DETECTOR_GAP
    raftWcs = simulation.makeVisitWcs(
        width=3 * pitch, height=3 * pitch, boresight=BORESIGHT, rotAngle=ROT_ANGLE, sip=False
    )
    centres = []
    for sensor in range(nDetectors):
        row, column = divmod(sensor, 3)
        point = raftWcs.pixelToSky(geom.Point2D((column + 0.5) * pitch - 0.5, (row + 0.5) * pitch - 0.5))
        centres.append((point.getRa().asDegrees(), point.getDec().asDegrees()))
    return centres


def detectorRegion(exposure) -> sphgeom.ConvexPolygon:
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


def registerVisit(
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
    detectors = [FIRST_DETECTOR + sensor for sensor in range(nDetectors)]
    centres = detectorCentres(nDetectors, imageSize)
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
                boresightRotAngle=ROT_ANGLE,
                detector=detector,
                band=BAND,
                fractionSolarSystem=fractionSolarSystem,
            )
            tables, note = _detectorInputs(visit, apdbPath)
            catalogs = visit.catalogs
            dataId = {"instrument": INSTRUMENT, "visit": catalogs.visit, "detector": detector}
            datasets += [(name, dataId, value) for name, value in tables.items()]
            regions[detector] = detectorRegion(visit.diffIm)
            nDiaSources += len(visit.diaSourceCat)
            visitRecord = (catalogs.visit, catalogs.midpointMjdTai, catalogs.exposureTime)
            if bar is not None:
                bar.update(1, note=f"detector {detector}: {note}")
    finally:
        if bar is not None:
            bar.close()
    registerVisit(butler.registry, *visitRecord, regions)
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
    datasetTypes = connectionDatasetTypes()
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
        discardRun(butler, run)
        raise


def discardRun(butler: Butler, run: str) -> None:
    """Remove a run whose puts were rolled back: the registry rollback keeps
    the run itself and does not delete the files the datastore already
    wrote, and a later attempt would take the empty run for finished inputs."""
    butler.removeRuns([run])  # unstore= is deprecated (always on); older butlers: files go below
    for root in butler.get_datastore_roots().values():
        if root is not None and root.isLocal:
            shutil.rmtree(os.path.join(root.ospath, run), ignore_errors=True)
