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

"""Realistic synthetic visits: DIA catalogs and images of one visit/detector.

Everything `PackageAlertsTask.run` needs, made from a seeded
`numpy.random.Generator` (same seed, same output), fast enough for
benchmarks (1000 sources with 30-deep histories take well under a second;
10,000 sources work):

- `makeVisitCatalogs` (`.catalogs`): ``diaSourceCat``, ``diaObjectCat``,
  ``diaSrcHistory``, ``diaForcedSources`` and ``ssSrc`` as DiaPipelineTask
  hands them over: indexed as upstream (index levels kept as columns too,
  ``drop=False``), with the APDB schema's columns and the dtypes of
  ``lsst.pipe.tasks.schemaUtils.convertDataFrameToSdmSchema`` (numpy dtypes
  for non-nullable columns, pandas nullable ``Int64``/``boolean`` for
  nullable integer and boolean columns, float32/float64 with NaN, object
  strings);
- `makeVisitExposures` / `makeVisitWcs` (`.exposures`): difference, science
  and template exposures through the afw API (`lsst.ap.alerts._afw`);
- `makeSimulatedVisit` (`.visit`): both, consistent with each other;
  `runArguments(visit)` its `PackageAlertsTask.run` keywords;
- `apdbColumnDtypes` (`.apdbTables`): the APDB's table schemas;
  `writeApdb` / `readApdb` (`.apdb`): a real SQLite APDB (lsst-dax-apdb)
  to store the catalogs in and read them back with its own queries.

Inside: `.survey` (bands, depths, pixel scale, seeing), `.skyGeometry`
(`TanWcs`, frames, the Sun), `.cadence` (ids, visit times, nights),
`.diaSources` (what is measured on a detection), `.diaObjects` (summaries
from the very sources), `.solarSystem` (orbits, ssSource and mpc_orbits
rows).
"""

__all__ = [
    "LSST_BANDS",
    "RUN_ARGUMENTS",
    "TanWcs",
    "VisitCatalogs",
    "apdbColumnDtypes",
    "makeSimulatedVisit",
    "makeVisitCatalogs",
    "makeVisitExposures",
    "makeVisitWcs",
    "readApdb",
    "runArguments",
    "writeApdb",
]

from .apdb import readApdb, writeApdb
from .apdbTables import apdbColumnDtypes
from .catalogs import VisitCatalogs, makeVisitCatalogs
from .exposures import makeVisitExposures, makeVisitWcs
from .skyGeometry import TanWcs
from .survey import LSST_BANDS
from .visit import RUN_ARGUMENTS, makeSimulatedVisit, runArguments
