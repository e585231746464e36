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

"""Visits for upstream's DiaPipelineTask: inputs, a fresh APDB, one run per visit.

Shared by the host tier's tests (``tests/host``).  A sequence of visits of
one detector, the same sky each time: the first finds the APDB empty, later
ones preload histories and forced sources from it, as in ap_pipe.  The
exposures come from the package's simulation helpers built on the real
``lsst.afw`` (this tier runs only where ap_association imports, which needs
afw); the DiaSources are what TransformDiaSourceCatalogTask would hand
DiaPipelineTask: the APDB's DiaSource columns, ``diaObjectId`` 0.
"""

__all__ = ["HostVisits", "VisitIdGenerator", "makeApdb", "makeDiaPipelineTask", "openApdb", "runVisit"]

import astropy.time
import lsst.afw.table as afwTable
import lsst.sphgeom as sphgeom
import numpy as np
from astropy.table import Table
from lsst.ap.association import DiaPipelineTask, LoadDiaCatalogsTask
from lsst.daf.butler import Timespan
from lsst.dax.apdb import Apdb
from lsst.dax.apdb.sql import ApdbSql
from lsst.meas.base import IdGenerator
from lsst.pipe.base.utils import RegionTimeInfo

from lsst.ap.alerts.simulation import makeVisitCatalogs, makeVisitExposures, makeVisitWcs

SIZE = 400
FIRST_MJD = 61000.2
FIRST_VISIT = 2026120700001


class VisitIdGenerator(IdGenerator):
    """Distinct source ids per visit, as ap_pipe's packed data IDs give.

    The base class numbers every catalog from 1, so forced sources of later
    visits would reuse the ids of earlier ones.
    """

    def __init__(self, visitIndex):
        self._catalogId = visitIndex + 1

    @property
    def catalog_id(self):
        return self._catalogId

    def make_table_id_factory(self):
        return afwTable.IdFactory.makeSource(self._catalogId, 32)


class HostVisits:
    """Inputs of ``nVisits`` visits of one detector, ``nSources`` DiaSources each.

    Parameters
    ----------
    nVisits : `int`
        Number of visits (a night apart).
    nSources : `int`
        DiaSources per visit, at the same sky positions every visit.
    seed : `int`
        Seed of the simulation.
    """

    def __init__(self, nVisits=3, nSources=20, seed=3):
        self.nVisits = nVisits
        self.wcs = makeVisitWcs(width=SIZE, height=SIZE, seed=seed)
        self.catalogs = makeVisitCatalogs(
            nSources, 0, seed=seed, wcs=self.wcs, bbox=(SIZE, SIZE), fractionNewObjects=1.0, edgeMargin=20
        )
        self.seed = seed

    def visitId(self, index):
        return FIRST_VISIT + index

    def midpoint(self, index):
        return FIRST_MJD + index

    def diaSourceTable(self, index):
        """The new DiaSources of visit ``index``, as DiaPipelineTask takes them."""
        table = self.catalogs.diaSourceCat.reset_index(drop=True).copy()
        n = len(table)
        rng = np.random.default_rng(self.seed + index)
        table["diaSourceId"] = (self.visitId(index) % 10**6) * 1000 + np.arange(n)
        table["diaObjectId"] = 0
        table["visit"] = self.visitId(index)
        table["midpointMjdTai"] = self.midpoint(index)
        table["timeProcessedMjdTai"] = self.midpoint(index) + 0.01
        # ap_pipe measures a trail length for every source; forced photometry
        # is run only for objects whose sources have one below its threshold.
        table["trailLength"] = table["trailLength"].fillna(0.3).astype(table["trailLength"].dtype)
        scale = rng.uniform(0.8, 1.2, n)
        for column in ("psfFlux", "apFlux", "scienceFlux"):
            table[column] = (table[column] * scale).astype(table[column].dtype)
        return table

    def exposures(self, index, diaSources):
        """Difference, science and template exposures of visit ``index``."""
        return makeVisitExposures(
            seed=self.seed + index,
            width=SIZE,
            height=SIZE,
            visit=self.visitId(index),
            detector=self.catalogs.detector,
            band=self.catalogs.band,
            midpointMjdTai=self.midpoint(index),
            exposureTime=self.catalogs.exposureTime,
            wcs=self.wcs,
            sources={
                "x": diaSources["x"].to_numpy(float),
                "y": diaSources["y"].to_numpy(float),
                "flux": diaSources["psfFlux"].to_numpy(float),
                "templateFlux": self.catalogs.templateFlux,
            },
        )

    def regionTime(self, index, exposure):
        """The RegionTimeInfo prompt processing gives LoadDiaCatalogsTask."""
        corners = self.wcs.pixelToSky([p for p in _corners(exposure.getBBox())])
        region = sphgeom.ConvexPolygon([c.getVector() for c in corners])
        mid = astropy.time.Time(self.midpoint(index), format="mjd", scale="tai")
        half = astropy.time.TimeDelta(30, format="sec")
        return RegionTimeInfo(region=region, timespan=Timespan(mid - half, mid + half))


def _corners(bbox):
    import lsst.geom as geom

    return [geom.Point2D(p) for p in bbox.getCorners()]


def makeApdb(directory):
    """A fresh SQLite APDB; returns its config file's path (``apdb_config_url``)."""
    config = ApdbSql.init_database(db_url=f"sqlite:///{directory}/apdb.sqlite3")
    path = f"{directory}/apdb-config.yaml"
    config.save(path)
    return path


def makeDiaPipelineTask(apdbConfigPath, alertDir, retarget, **overrides):
    """DiaPipelineTask as ap_pipe configures it, packaging alerts to ``alertDir``.

    Parameters
    ----------
    apdbConfigPath : `str`
        From `makeApdb`.
    alertDir : `str`
        ``alertPackager.alertWriteLocation``.
    retarget : `str` or `None`
        Config override file retargeting ``alertPackager`` (the package's
        ``configs/retargetAlertPackager.py``); `None` keeps upstream's.
    **overrides
        Other DiaPipelineTask config fields.
    """
    config = DiaPipelineTask.ConfigClass()
    config.apdb_config_url = apdbConfigPath
    config.doPackageAlerts = True
    config.doSolarSystemAssociation = False
    if retarget is not None:
        config.load(retarget)
    config.alertPackager.useAveragePsf = True
    config.alertPackager.doWriteAlerts = True
    config.alertPackager.alertWriteLocation = alertDir
    for name, value in overrides.items():
        setattr(config, name, value)
    return DiaPipelineTask(config=config)


def runVisit(visits, index, task, apdbConfigPath, diaSourceTable=None, solarSystemObjects=None):
    """Preload from the APDB and run ``task`` on visit ``index``.

    With solar-system association on, the visit's ephemerides are
    ``solarSystemObjects`` (`astropy.table.Table`, see `hostSolarSystem`) or
    by default an empty table (no known object in the field), as prompt
    processing gives them for such a visit.
    """
    if diaSourceTable is None:
        diaSourceTable = visits.diaSourceTable(index)
    diffIm, calexp, template = visits.exposures(index, diaSourceTable)
    loader = LoadDiaCatalogsTask(config=_loaderConfig(apdbConfigPath))
    preloaded = loader.run(visits.regionTime(index, calexp))
    return task.run(
        diaSourceTable,
        None,
        diffIm,
        calexp,
        template,
        preloaded.diaObjects,
        preloaded.diaSources,
        preloaded.diaForcedSources,
        visits.catalogs.band,
        VisitIdGenerator(index),
        solarSystemObjectTable=_ephemerides(task, solarSystemObjects),
    )


def _ephemerides(task, solarSystemObjects):
    if not task.config.doSolarSystemAssociation:
        return None
    return Table() if solarSystemObjects is None else solarSystemObjects


def _loaderConfig(apdbConfigPath):
    config = LoadDiaCatalogsTask.ConfigClass()
    config.apdb_config_url = apdbConfigPath
    return config


def openApdb(apdbConfigPath):
    return Apdb.from_uri(apdbConfigPath)
