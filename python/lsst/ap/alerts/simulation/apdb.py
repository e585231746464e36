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

"""A real SQLite APDB holding a simulated visit: `writeApdb` stores the
catalogs, `readApdb` reads them back with the APDB's own queries (the
tables' columns and dtypes: `apdbTables`).

Notes on the current dax_apdb API (lsst-dax-apdb 30.2026.4100, apdb.yaml
10.0.0), learnt while writing `writeApdb`/`readApdb`:

- ``ApdbSql.init_database(db_url=...)`` creates the schema and returns an
  ``ApdbSqlConfig``, not an `Apdb`; ``Apdb.from_config(config)`` opens it.
- Reads return every column with its *nullable* pandas dtype (``Int64``,
  ``Int16``, ``boolean``...), whatever the column's nullability; the
  pipeline converts afterwards.  ``pixelId`` is not returned.
- ``store`` overwrites ``validityStartMjdTai`` (with ``visit_time``),
  ``validityEndMjdTai`` and ``pixelId``; its ``visit_time`` is an
  `astropy.time.Time`.
- The history window is ``read_sources_months * 30`` days (360 for the
  default 12), measured on ``midpointMjdTai``.
- ``getDiaForcedSources`` needs object ids (no region-only queries).
- apdb.yaml has no ``pixelId``: the SQL implementation appends it to the
  DiaObject and DiaSource definitions that ``Apdb.tableDef`` (hence the
  pipeline's conversion) sees.  The DiaSource table also has
  ``ssObjectReassocTimeMjdTai``, DiaObject ``validityEndMjdTai``, which
  the 11.1 alert lacks; SSSource has exactly the alert ssSource's 39
  columns.
- With pandas 3, string columns must be built as explicit ``object``
  Series, or pandas infers its ``str`` dtype where the pipeline (and the
  APDB) give ``object``.
"""

from __future__ import annotations

__all__ = ["readApdb", "writeApdb"]

import numpy as np
import pandas as pd

from .apdbTables import FORCED_SOURCE_INDEX, SOURCE_INDEX
from .catalogs import VisitCatalogs
from .skyGeometry import unitVectors


def writeApdb(catalogs: VisitCatalogs, path: str):
    """Create a SQLite APDB and store a simulated visit in it.

    The DiaObjects, this visit's and the earlier DiaSources and all forced
    sources are stored in one ``Apdb.store`` call at the visit time.

    Parameters
    ----------
    catalogs : `VisitCatalogs`
        From `makeVisitCatalogs`.
    path : `str`
        SQLite file to create (or a full SQLAlchemy URL).

    Returns
    -------
    apdb : `lsst.dax.apdb.Apdb`
    """
    import astropy.time

    from lsst.dax.apdb import Apdb
    from lsst.dax.apdb.sql import ApdbSql

    url = path if "://" in str(path) else f"sqlite:///{path}"
    apdb = Apdb.from_config(ApdbSql.init_database(db_url=url))
    visitTime = astropy.time.Time(catalogs.midpointMjdTai, format="mjd", scale="tai")
    sources = pd.concat([catalogs.diaSrcHistory, catalogs.diaSourceCat], ignore_index=True)
    apdb.store(
        visitTime,
        catalogs.diaObjectCat.reset_index(drop=True),
        sources,
        catalogs.diaForcedSources.reset_index(drop=True),
    )
    return apdb


def readApdb(apdb, catalogs: VisitCatalogs):
    """Read a visit's catalogs back with the APDB's own queries.

    As LoadDiaCatalogsTask: DiaObjects in a region around the visit's
    DiaObjects, their DiaSources and forced sources of the last 12 months,
    indexed as the pipeline indexes them (``drop=False``), dtypes as the
    APDB returns them.

    Parameters
    ----------
    apdb : `lsst.dax.apdb.Apdb`
        From `writeApdb`.
    catalogs : `VisitCatalogs`
        The stored visit (for its time and footprint).

    Returns
    -------
    result : `lsst.pipe.base.Struct`
        ``diaObjects``, ``diaSources``, ``diaForcedSources``.
    """
    import astropy.time

    from lsst import sphgeom
    from lsst.pipe.base import Struct

    objects = catalogs.diaObjectCat
    vectors = unitVectors(objects["ra"].to_numpy(float), objects["dec"].to_numpy(float))
    centre = vectors.mean(axis=0)
    centre /= np.linalg.norm(centre)
    radius = np.degrees(np.arccos(np.clip(vectors @ centre, -1, 1))).max(initial=0) + 10 / 3600
    region = sphgeom.Circle(sphgeom.UnitVector3d(*centre), sphgeom.Angle.fromDegrees(radius))
    visitTime = astropy.time.Time(catalogs.midpointMjdTai, format="mjd", scale="tai")
    diaObjects = apdb.getDiaObjects(region).set_index("diaObjectId", drop=False)
    ids = diaObjects["diaObjectId"].to_numpy(np.int64)
    diaSources = apdb.getDiaSources(region, ids, visitTime).set_index(SOURCE_INDEX, drop=False)
    diaForcedSources = apdb.getDiaForcedSources(region, ids, visitTime).set_index(
        FORCED_SOURCE_INDEX, drop=False
    )
    return Struct(diaObjects=diaObjects, diaSources=diaSources, diaForcedSources=diaForcedSources)
