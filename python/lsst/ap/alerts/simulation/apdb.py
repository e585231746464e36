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

"""The APDB: its tables as the pipeline sees them, and a real SQLite APDB.

- `apdbColumnDtypes` and `apdbFrame`: columns and dtypes of the APDB's
  tables, read from lsst.dax.apdb's own schema, as DiaPipelineTask hands
  them over (``convertDataFrameToSdmSchema``) or as ``Apdb.getDia*``
  return them;
- `writeApdb` / `readApdb`: store simulated catalogs in a SQLite APDB and
  read them back with its own queries.

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

__all__ = ["apdbColumnDtypes", "readApdb", "writeApdb"]

import functools
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .skyGeometry import unitVectors

if TYPE_CHECKING:
    from .catalogs import VisitCatalogs

_PIXEL_ID_TABLES = ("DiaObject", "DiaSource")
# The index DiaPipelineTask gives DiaSource frames (levels kept as columns).
SOURCE_INDEX = ["diaObjectId", "band", "diaSourceId"]
FORCED_SOURCE_INDEX = ["diaObjectId", "diaForcedSourceId"]


@functools.cache
def _apdbTables():
    """The APDB's table definitions, exactly as lsst.dax.apdb reads them."""
    from lsst.dax.apdb import ApdbTables
    from lsst.dax.apdb.apdbSchema import ApdbSchema
    from lsst.dax.apdb.config import ApdbConfig

    fields = ApdbConfig.model_fields
    schema = ApdbSchema(fields["schema_file"].default, fields["ss_schema_file"].default)
    return {t.value: schema.tableSchemas[t] for t in ApdbTables if t in schema.tableSchemas}


def _pipelineDtype(column) -> str:
    """Dtype as convertDataFrameToSdmSchema (lsst.pipe.tasks) gives it."""
    nullable, notNull = {
        "double": ("float64", "float64"),
        "float": ("float32", "float32"),
        "timestamp": ("datetime64[ms]", "datetime64[ms]"),
        "long": ("Int64", "int64"),
        "int": ("Int32", "int32"),
        "short": ("Int16", "int16"),
        "byte": ("Int8", "int8"),
        "boolean": ("boolean", "bool"),
    }.get(column.datatype.value, ("object", "object"))
    return nullable if column.nullable else notNull


def apdbColumnDtypes(table: str, *, asReturnedByApdb: bool = False) -> dict[str, str]:
    """Column names and pandas dtypes of an APDB table, in schema order.

    Parameters
    ----------
    table : `str`
        APDB table name: ``DiaSource``, ``DiaObject``, ``DiaForcedSource``,
        ``SSSource``...
    asReturnedByApdb : `bool`, optional
        If `False` (default), the dtypes of the pipeline's catalogs
        (convertDataFrameToSdmSchema with an SQL APDB's table definitions:
        numpy dtypes for non-nullable columns, and a ``pixelId`` column in
        DiaObject and DiaSource); if `True`, what ``Apdb.getDia*`` return
        (the nullable dtype of every column, no ``pixelId``).

    Returns
    -------
    dtypes : `dict` [`str`, `str`]
    """
    columns = _apdbTables()[table].columns
    if asReturnedByApdb:
        return {c.name: c.pandas_type for c in columns}
    dtypes = {c.name: _pipelineDtype(c) for c in columns}
    if table in _PIXEL_ID_TABLES:
        # An SQL APDB's table definitions (what the pipeline converts with)
        # end with this non-nullable spatial index column.
        dtypes["pixelId"] = "int64"
    return dtypes


def _column(values, dtype: str, null=None):
    """One column in ``dtype``; ``null`` marks missing rows."""
    values = np.asarray(values)
    if dtype in ("Int64", "Int32", "Int16", "Int8"):
        mask = np.zeros(len(values), bool) if null is None else np.asarray(null, bool)
        return pd.arrays.IntegerArray(values.astype(dtype.lower()), mask.copy())
    if dtype == "boolean":
        mask = np.zeros(len(values), bool) if null is None else np.asarray(null, bool)
        return pd.arrays.BooleanArray(values.astype(bool), mask.copy())
    if dtype == "object":
        out = values.astype(object)
        if null is not None:
            out[np.asarray(null, bool)] = None
        # An explicit object Series: pandas 3 would infer its "str" dtype.
        return pd.Series(out, dtype=object)
    out = values.astype(dtype)
    if null is not None:
        out[np.asarray(null, bool)] = np.nan
    return out


def apdbFrame(table: str, data: dict, nRows: int, nulls: dict | None = None) -> pd.DataFrame:
    """A DataFrame with all columns of an APDB table, in schema order.

    Columns absent from ``data`` are all-null (nullable) or zero (as
    convertDataFrameToSdmSchema fills non-nullable ones).
    """
    nulls = nulls or {}
    columns = {}
    for name, dtype in apdbColumnDtypes(table).items():
        if name in data:
            columns[name] = _column(data[name], dtype, nulls.get(name))
        elif dtype in ("float32", "float64"):
            columns[name] = np.full(nRows, np.nan, dtype=dtype)
        elif dtype == "object":
            columns[name] = pd.Series(np.full(nRows, None, dtype=object), dtype=object)
        elif dtype[0].isupper() or dtype == "boolean":
            columns[name] = _column(np.zeros(nRows, int), dtype, np.ones(nRows, bool))
        else:
            columns[name] = np.zeros(nRows, dtype=dtype)
    return pd.DataFrame(columns)


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
