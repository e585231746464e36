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

"""The APDB's tables as the pipeline sees them: columns and dtypes read from
lsst.dax.apdb's own schema (`apdbColumnDtypes`), and frames built with them
(`apdbFrame`), as DiaPipelineTask hands them over
(``convertDataFrameToSdmSchema``) or as ``Apdb.getDia*`` return them.

With pandas 3, string columns must be built as explicit ``object`` Series,
or pandas infers its ``str`` dtype where the pipeline (and the APDB) give
``object``.
"""

from __future__ import annotations

__all__ = ["FORCED_SOURCE_INDEX", "SOURCE_INDEX", "apdbColumnDtypes", "apdbFrame"]

import functools

import numpy as np
import pandas as pd

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
