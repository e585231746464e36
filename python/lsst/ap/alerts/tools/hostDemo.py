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

"""The demo visit through upstream's DiaPipelineTask (``ap-alerts demo --host``).

`runHostDemo` simulates the same visit as `lsst.ap.alerts.tools.demo.runDemo`
(same parameters, same seeds) and runs ``pipelines/ApAssociationHost.yaml``
with ``pipetask run`` on the demo's butler: upstream's
``LoadDiaCatalogsTask`` preloads from a SQLite APDB that holds the visit's
history, and ``DiaPipelineTask`` associates the new DiaSources, updates the
DiaObjects, runs forced photometry, writes the APDB and packages the alerts
with this package's `PackageAlertsTask` (retargeted ``alertPackager``).

It needs ``lsst.ap.association`` (with ``lsst.pipe.tasks`` and
``lsst.meas.base``) installed: see ``doc/host.md``.  Where the modules
ap_association imports but never calls at run time are replaced by
import-time stand-ins (this project's CI), ``AP_ALERTS_HOST_STANDINS`` names
their directory and is put on the ``pipetask`` process's ``PYTHONPATH``.
"""

from __future__ import annotations

__all__ = [
    "HOST_PIPELINE",
    "HostDemoResult",
    "checkHostInstalled",
    "hostEnvironment",
    "hostPipelinePath",
    "hostRunCommand",
    "runHostDemo",
]

import dataclasses
import glob
import os
import subprocess
import sys
import time
from importlib import resources

import numpy as np

from lsst.daf.butler import Butler, DatasetType, Timespan

from .. import simulation
from ..butlerFormatters import EXPOSURE_STORAGE_CLASS, makeRepo
from . import demo, demoInputs, demoOutputs, pipetaskCommands

HOST_PIPELINE = "ApAssociationHost.yaml"
"""The pipeline `runHostDemo` runs (in ``pipelines/``)."""

_LOADER_LABEL = "loadDiaCatalogs"
_HOST_LABEL = "associateApdb"
_VISIT_TYPES = {  # dataset type: storage class, all (instrument, visit, detector)
    "deepDiff_diaSrcTable": "DataFrame",
    "deepDiff_differenceExp": EXPOSURE_STORAGE_CLASS,
    "calexp": EXPOSURE_STORAGE_CLASS,
    "deepDiff_templateExp": EXPOSURE_STORAGE_CLASS,
}
_REGION_TIME = "regionTimeInfo"  # (instrument, group, detector), prompt processing's
# DiaPipelineTask writes these catalogs as ArrowAstropy under the names the
# plain demo's inputs have as DataFrame: renamed, both demos share the repo.
_RENAMED_OUTPUTS = {"associatedDiaSources": "host_assocDiaSrc", "diaObjects": "host_diaObject"}


@dataclasses.dataclass
class HostDemoResult:
    """What `runHostDemo` did.

    Attributes
    ----------
    repo, apdbConfig : `str`
        Butler repository and the APDB's config file (``apdb_config_url``).
    outputRun : `str`
        The run ``pipetask`` wrote.
    visit : `int`
    detectors : `list` [`int`]
    alertFiles : `list` [`str`]
        The ``{visit}_{detector}.avro`` files written by the packager.
    nAlerts : `int`
        Alerts in those files.
    seconds : `float`
        Wall-clock time in total.
    command : `list` [`str`]
        The ``pipetask`` command line.
    """

    repo: str
    apdbConfig: str
    outputRun: str
    visit: int
    detectors: list[int]
    alertFiles: list[str]
    nAlerts: int
    seconds: float
    command: list[str]

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"DiaPipelineTask (upstream) packaged {self.nAlerts} alerts with lsst.ap.alerts "
            f"for visit {self.visit}, detectors {self.detectors}, in {self.seconds:.1f} s",
            f"  repository: {self.repo} (output run {self.outputRun})",
            f"  APDB:       {self.apdbConfig}",
        ]
        lines += [f"  alerts:     {path}" for path in self.alertFiles]
        lines.append(f"  pipetask:   {pipetaskCommands.shellCommand(self.command)}")
        return "\n".join(lines)


def hostPipelinePath() -> str:
    """Path of ``ApAssociationHost.yaml`` as installed with the package."""
    path = resources.files("lsst.ap.alerts").joinpath("pipelines", HOST_PIPELINE)
    if not path.is_file():
        raise FileNotFoundError(f"{HOST_PIPELINE} is not installed with lsst.ap.alerts (looked at {path})")
    return str(path)


def hostEnvironment() -> dict[str, str]:
    """The ``pipetask`` environment of the demo, plus ``AP_ALERTS_HOST_STANDINS`` if set."""
    env = pipetaskCommands.subprocessEnvironment()
    standins = env.get("AP_ALERTS_HOST_STANDINS")
    if standins:
        env["PYTHONPATH"] = os.pathsep.join([p for p in (env.get("PYTHONPATH"), standins) if p])
    return env


def checkHostInstalled(env: dict[str, str]) -> None:
    """Raise `RuntimeError` saying what is missing unless ap_association imports.

    Checked in a subprocess with ``pipetask``'s environment: that is where
    it must import.
    """
    probe = subprocess.run(
        [sys.executable, "-c", "import lsst.ap.association"], env=env, capture_output=True, text=True
    )
    if probe.returncode != 0:
        error = (probe.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(
            "--host runs upstream's DiaPipelineTask: lsst.ap.association (with lsst.pipe.tasks, "
            f"lsst.meas.base and the real lsst.afw) must import, and it does not: {error}. "
            "See doc/host.md (AP_ALERTS_HOST_STANDINS names the import-time stand-ins, if you use them)."
        )


def runHostDemo(
    workdir: str = "demo_repo",
    nSources: int = 300,
    nDetectors: int = 2,
    jobs: int = 2,
    seed: int = 0,
    historyDepth: int = 20,
    fresh: bool = False,
    progress: bool = True,
    imageSize: int = 1024,
) -> HostDemoResult:
    """Simulate the demo visit and run it through upstream's DiaPipelineTask.

    Parameters are `lsst.ap.alerts.tools.demo.runDemo`'s: the same values
    simulate the same visit.  Every call starts from a fresh APDB holding
    only the visit's history (DiaPipelineTask writes the visit into it).

    Returns
    -------
    result : `HostDemoResult`
        Also printed on stdout.

    Raises
    ------
    RuntimeError
        If ap_association is not importable or ``pipetask`` fails.
    """
    start = time.monotonic()
    env = hostEnvironment()
    checkHostInstalled(env)
    workdir = os.path.abspath(workdir)
    demo.prepareWorkdir(workdir, fresh)
    key = demoInputs.DemoSimulation(nSources, nDetectors, seed, historyDepth, imageSize).key + "_host"
    repo = os.path.join(workdir, "repo")
    if not os.path.exists(os.path.join(repo, "butler.yaml")):
        makeRepo(repo)
    apdbConfig = _freshApdb(os.path.join(workdir, "apdb"), key)
    inputRun = f"{demoInputs.INSTRUMENT}/hostInputs/{key}"
    with Butler.from_config(repo, writeable=True) as butler:
        if inputRun in butler.collections.query(f"{demoInputs.INSTRUMENT}/hostInputs/*"):
            demoInputs.discardRun(butler, inputRun)  # made for the previous APDB
        visit, detectors = _putHostInputs(
            butler, inputRun, apdbConfig, nSources, nDetectors, seed, historyDepth, imageSize, progress
        )
        outputRun = demo.newRunName(butler, f"{demoInputs.INSTRUMENT}/hostAlerts/{key}")
    alertDir = os.path.join(workdir, "alerts", key, outputRun.rsplit("/", 1)[-1])
    command = hostRunCommand(repo, (inputRun, outputRun), visit, apdbConfig, alertDir, jobs)
    demo.say(progress, f"Running {pipetaskCommands.shellCommand(command)}")
    pipetaskCommands.runPipetask(command, progress, env=env)
    alertFiles = sorted(glob.glob(os.path.join(alertDir, "*.avro")))
    result = HostDemoResult(
        repo=repo,
        apdbConfig=apdbConfig,
        outputRun=outputRun,
        visit=int(visit),
        detectors=[int(d) for d in detectors],
        alertFiles=alertFiles,
        nAlerts=sum(demoOutputs.countRecords(path) for path in alertFiles),
        seconds=time.monotonic() - start,
        command=command,
    )
    print(result.summary(), flush=True)
    return result


def hostRunCommand(repo, runs, visit, apdbConfig, alertDir, jobs) -> list[str]:
    """The ``pipetask run`` command of ``ApAssociationHost.yaml`` on the demo visit.

    Parameters
    ----------
    repo : `str`
        Butler repository.
    runs : `tuple` [`str`, `str`]
        Input run and output run.
    visit : `int`
        The visit.
    apdbConfig : `str`
        The APDB's config file.
    alertDir : `str`
        Where the packager writes its alert files.
    jobs : `int`
        Quanta run in parallel.

    Returns
    -------
    command : `list` [`str`]
    """
    inputRun, outputRun = runs
    return (
        pipetaskCommands.pipetaskCommand()
        + [
            "run",
            "-b",
            repo,
            "-i",
            inputRun,
            "--output-run",
            outputRun,
            "-p",
            hostPipelinePath(),
            "--register-dataset-types",
            "-j",
            str(jobs),
            "-d",
            f"instrument='{demoInputs.INSTRUMENT}' AND visit={visit}",
            "-c",
            f"{_LOADER_LABEL}:apdb_config_url={apdbConfig}",
            "-c",
            f"{_HOST_LABEL}:apdb_config_url={apdbConfig}",
            "-c",
            f"{_HOST_LABEL}:alertPackager.doWriteAlerts=True",
            "-c",
            f"{_HOST_LABEL}:alertPackager.alertWriteLocation={alertDir}",
            "-C",
            f"{_HOST_LABEL}:{_idPackerOverride(os.path.dirname(apdbConfig))}",
        ]
        + [
            arg
            for name, value in _RENAMED_OUTPUTS.items()
            for arg in ("-c", f"{_HOST_LABEL}:connections.{name}={value}")
        ]
    )


def _idPackerOverride(directory: str) -> str:
    """A config file sizing DiaPipelineTask's source-id packer for DemoCam.

    The packer defaults to the instrument's ``visit_max`` (2**50 for
    DemoCam) times ``detector_max``, which leaves no bits for the per-image
    counter; the demo's visit ids fit in 41 bits and its detectors in 100.
    """
    path = os.path.join(directory, "hostIdPacker.py")
    with open(path, "w") as stream:
        stream.write(
            'config.idGenerator.packer["observation"].n_observations = 2**41\n'
            'config.idGenerator.packer["observation"].n_detectors = 100\n'
        )
    return path


def _freshApdb(directory: str, key: str) -> str:
    """An empty SQLite APDB; returns its config file (``apdb_config_url``)."""
    from lsst.dax.apdb.sql import ApdbSql

    database = os.path.join(directory, f"{key}.sqlite3")
    configFile = os.path.join(directory, f"{key}.yaml")
    for path in (database, configFile):
        if os.path.exists(path):
            os.remove(path)
    ApdbSql.init_database(db_url=f"sqlite:///{database}").save(configFile)
    return configFile


def _putHostInputs(butler, run, apdbConfig, nSources, nDetectors, seed, historyDepth, imageSize, progress):
    """Simulate the demo visit, store its history in the APDB, put DiaPipelineTask's inputs.

    Returns the visit id and the detectors.
    """
    from lsst.dax.apdb import Apdb

    apdb = Apdb.from_uri(apdbConfig)
    demoInputs.DemoCam().register(butler.registry)
    detectors = [demoInputs.FIRST_DETECTOR + sensor for sensor in range(nDetectors)]
    centres = demoInputs.detectorCentres(nDetectors, imageSize)
    datasets, regions = [], {}
    for detector, centre in zip(detectors, centres, strict=True):
        # The plain demo's visit: same arguments, same seed.
        visit = simulation.makeSimulatedVisit(
            nSources,
            historyDepth,
            seed=seed * 100 + detector,
            size=imageSize,
            boresight=centre,
            boresightRotAngle=demoInputs.ROT_ANGLE,
            detector=detector,
            band=demoInputs.BAND,
            fractionSolarSystem=max(1, round(0.05 * nSources)) / nSources,
        )
        catalogs = visit.catalogs
        demo.say(progress, f"detector {detector}: {_storeHistory(apdb, catalogs)}")
        dataId = {"instrument": demoInputs.INSTRUMENT, "visit": catalogs.visit, "detector": detector}
        values = (_diaSourceTable(catalogs), visit.diffIm, visit.calexp, visit.template)
        datasets += [(name, dataId, value) for name, value in zip(_VISIT_TYPES, values, strict=True)]
        regions[detector] = demoInputs.detectorRegion(visit.calexp)
    visitId, midpoint, exposureTime = catalogs.visit, catalogs.midpointMjdTai, catalogs.exposureTime
    demoInputs.registerVisit(butler.registry, visitId, midpoint, exposureTime, regions)
    timespan = _registerExposure(butler.registry, visitId)
    for detector, region in regions.items():
        regionTime = _regionTimeInfo(region, timespan)
        dataId = {"instrument": demoInputs.INSTRUMENT, "group": str(visitId), "detector": detector}
        datasets.append((_REGION_TIME, dataId, regionTime))
    _put(butler, run, datasets)
    return visitId, detectors


def _storeHistory(apdb, catalogs) -> str:
    """Store what the APDB held before the visit: its known DiaObjects, their
    earlier DiaSources and forced sources.  Returns a progress note."""
    import astropy.time

    history = catalogs.diaSrcHistory.reset_index(drop=True)
    known = catalogs.diaObjectCat["diaObjectId"].isin(history["diaObjectId"]).to_numpy()
    objects = catalogs.diaObjectCat[known].reset_index(drop=True)
    forced = catalogs.diaForcedSources.reset_index(drop=True)
    forced = forced[forced["visit"] != catalogs.visit]
    # Stored as of the last earlier night (the APDB stamps validityStart with it).
    last = np.nanmax(np.concatenate([history["midpointMjdTai"], forced["midpointMjdTai"]]))
    apdb.store(astropy.time.Time(last + 1e-3, format="mjd", scale="tai"), objects, history, forced)
    return f"APDB history: {len(objects)} DiaObjects, {len(history)} DiaSources, {len(forced)} forced"


def _diaSourceTable(catalogs):
    """The visit's DiaSources as DiaPipelineTask takes them: not yet associated.

    Solar-system sources are left out: associating them needs ephemerides
    (``preloaded_SsObjects``), which the demo does not make.
    """
    table = catalogs.diaSourceCat.reset_index(drop=True)
    table = table[table["ssObjectId"].isna() | (table["ssObjectId"] == 0)].reset_index(drop=True)
    table["diaObjectId"] = np.zeros(len(table), dtype=np.int64)
    return table


def _registerExposure(registry, visitId) -> Timespan:
    """The group and exposure of the visit (the preload step's dimensions) and
    their link to the visit; returns the visit's timespan."""
    (record,) = registry.queryDimensionRecords("visit", instrument=demoInputs.INSTRUMENT, visit=visitId)
    group = str(visitId)
    registry.syncDimensionData("group", {"instrument": demoInputs.INSTRUMENT, "name": group})
    registry.syncDimensionData(
        "exposure",
        {
            "instrument": demoInputs.INSTRUMENT,
            "id": visitId,
            "obs_id": f"{demoInputs.INSTRUMENT}_{visitId}",
            "physical_filter": record.physical_filter,
            "group": group,
            "day_obs": record.day_obs,
            "exposure_time": record.exposure_time,
            "dark_time": record.exposure_time,
            "observation_type": "science",
            "observation_reason": record.observation_reason,
            "seq_num": record.seq_num,
            "seq_start": record.seq_num,
            "seq_end": record.seq_num,
            "target_name": record.target_name,
            "science_program": record.science_program,
            "has_simulated": True,
            "can_see_sky": True,
            "timespan": record.timespan,
        },
    )
    registry.syncDimensionData(
        "visit_definition", {"instrument": demoInputs.INSTRUMENT, "exposure": visitId, "visit": visitId}
    )
    return record.timespan


def _regionTimeInfo(region, timespan):
    from lsst.pipe.base.utils import RegionTimeInfo

    return RegionTimeInfo(region=region, timespan=timespan)


def _put(butler, run, datasets) -> None:
    """Register the dataset types and put the inputs, all or none."""
    butler.registry.registerRun(run)
    for name, storageClass in _VISIT_TYPES.items():
        butler.registry.registerDatasetType(
            DatasetType(name, ("instrument", "visit", "detector"), storageClass, universe=butler.dimensions)
        )
    butler.registry.registerDatasetType(
        DatasetType(
            _REGION_TIME, ("instrument", "group", "detector"), "RegionTimeInfo", universe=butler.dimensions
        )
    )
    try:
        with butler.transaction():
            for name, dataId, value in datasets:
                butler.put(value, name, dataId, run=run)
    except BaseException:
        demoInputs.discardRun(butler, run)
        raise
