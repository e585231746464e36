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

"""Up-front checks of `PackageAlertsTask.run`'s inputs.

Everything that would make a whole visit/detector unpackageable is found
here, before anything is written or sent, and reported at once in one
`AlertInputError` that lists every problem.  Problems of single rows are not
errors here; `lsst.ap.alerts.catalogs.visitTables` handles them per source.

Columns (``doc/inputs.md``, "Value rules"):

- **required**: every field of the table's schema record that is neither
  nullable nor has a default, plus the measurements an alert exists for
  (`ESSENTIAL_FIELDS`: ``psfFlux``, ``psfFluxErr`` and ``band`` of DiaSources
  and DiaForcedSources).  A required column absent from a table is an
  `AlertInputError` naming the table and the column.  Its values may still
  be null row by row.
- **optional**: every other field.  An absent optional column makes that
  field null in every alert; `validateRunInputs` returns them so the task
  warns once per visit and records them in its metadata.
"""

from __future__ import annotations

__all__ = [
    "ESSENTIAL_FIELDS",
    "AlertInputError",
    "checkExposure",
    "checkTableColumns",
    "missingOptionalColumns",
    "requiredColumns",
    "validateRunInputs",
]

import math

import pandas as pd

from ..schemaRegistry import AlertSchema
from ..visitTime import unixMidpoint
from .typedTable import duplicateNames, fieldSpecs
from .visitInputs import VisitInputs


class AlertInputError(ValueError):
    """The inputs of a visit/detector cannot be packaged.

    Attributes
    ----------
    problems : `list` [`str`]
        Every problem found, one sentence each.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(
            f"{len(self.problems)} problem(s) with the alert inputs:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


ESSENTIAL_FIELDS = {
    "diaSource": ("psfFlux", "psfFluxErr", "band"),
    "diaForcedSource": ("psfFlux", "psfFluxErr", "band"),
}
"""Nullable fields of a record whose column must be present: the measurements
an alert is sent for.  (Non-nullable fields without default are required
anyway.)"""

# Fields of mpc_orbits filled from ssObjectId when their column is absent.
_DERIVED_MPC_FIELDS = frozenset(
    {"designation", "packed_primary_provisional_designation", "unpacked_primary_provisional_designation"}
)
_MPCORB_PREFIX = "MPCORB_"


def _available(table: pd.DataFrame) -> set[str]:
    # tolist() first: iterating pandas' (Arrow) string index is element by element.
    return set(table.columns.tolist()) | {n for n in table.index.names if n is not None}


def _recordName(recordSchema) -> str:
    return recordSchema["name"].rsplit(".", 1)[-1]


def requiredColumns(recordSchema) -> list[str]:
    """Return the columns a table of this record must have, in schema order.

    Parameters
    ----------
    recordSchema : `dict`
        Avro record schema (``diaSource``, ``diaObject``, ...).
    """
    essential = set(ESSENTIAL_FIELDS.get(_recordName(recordSchema), ()))
    return [
        s.name
        for s in fieldSpecs(recordSchema)
        if (not s.nullable and not s.hasDefault) or s.name in essential
    ]


def missingOptionalColumns(table: pd.DataFrame, recordSchema, prefix: str = "") -> list[str]:
    """Return the optional fields of a record that a table has no column for.

    Parameters
    ----------
    table : `pandas.DataFrame`
        Input table (index levels count as columns).
    recordSchema : `dict`
        Avro record schema.
    prefix : `str`, optional
        Prefix of the record's columns in ``table`` (``MPCORB_`` for
        mpc_orbits in ssSrc).
    """
    available = _available(table)
    required = set(requiredColumns(recordSchema))
    return [
        s.name
        for s in fieldSpecs(recordSchema)
        if s.name not in required and prefix + s.name not in available
    ]


def checkTableColumns(table, recordSchema, tableName: str) -> list[str]:
    """Problems with the columns of one table (required ones missing, or of an unusable dtype).

    Required columns are those of `requiredColumns`.  A numeric field held
    in a string column is reported too.
    """
    if not isinstance(table, pd.DataFrame):
        return [f"{tableName} must be a pandas.DataFrame, got {type(table).__name__}"]
    problems = []
    available = _available(table)
    missing = [name for name in requiredColumns(recordSchema) if name not in available]
    if missing:
        problems.append(f"{tableName} lacks required column(s): {', '.join(missing)}")
    # Column dtypes from the frame's own list: no Series is built per column.
    names = table.columns.tolist()
    dtypes = dict(zip(names, table.dtypes, strict=False))
    duplicated = duplicateNames(names)
    for spec in fieldSpecs(recordSchema):
        if spec.name not in dtypes or spec.avroType in ("string", "bytes"):
            continue
        if spec.name in duplicated:
            problems.append(f"{tableName} has duplicate column {spec.name!r}")
        elif isinstance(dtypes[spec.name], pd.StringDtype):
            problems.append(
                f"{tableName}.{spec.name} holds strings (dtype {dtypes[spec.name]}) "
                f"but the schema needs {spec.avroType}"
            )
    return problems


def checkExposure(exposure, name: str, needVisitInfo: bool) -> list[str]:
    """Problems with an exposure: WCS, PhotoCalib (finite positive mean), VisitInfo/date, detector."""
    if exposure is None:
        return [f"{name} is None"]
    problems = []
    if exposure.getWcs() is None:
        problems.append(f"{name} has no WCS")
    photoCalib = exposure.getPhotoCalib()
    if photoCalib is None:
        problems.append(f"{name} has no PhotoCalib")
    else:
        mean = photoCalib.getCalibrationMean()
        if not (math.isfinite(mean) and mean > 0):
            problems.append(f"{name} PhotoCalib mean is {mean!r}; it must be finite and positive")
    if needVisitInfo:
        visitInfo = exposure.visitInfo
        if visitInfo is None:
            problems.append(f"{name} has no VisitInfo")
        else:
            try:
                unixMidpoint(visitInfo.date)
            except Exception:
                problems.append(f"{name} VisitInfo has no valid date")
        if exposure.detector is None:
            problems.append(f"{name} has no Detector")
    return problems


def validateRunInputs(schema: AlertSchema, inputs: VisitInputs) -> dict[str, list[str]]:
    """Check all inputs of `PackageAlertsTask.run`; raise once with every problem.

    Parameters
    ----------
    schema : `lsst.ap.alerts.schemaRegistry.AlertSchema`
        Alert schema the tables must fit.
    inputs : `lsst.ap.alerts.catalogs.visitInputs.VisitInputs`
        The run's catalogs and exposures.

    Returns
    -------
    missingOptional : `dict` [`str`, `list` [`str`]]
        For each input table (by argument name; ``ssSrc.mpc_orbits`` for
        the ``MPCORB_`` columns) the optional fields it has no column for,
        which are null in every alert.  Tables that miss none are left out.

    Raises
    ------
    AlertInputError
        Listing each problem found.
    """
    diaSourceCat, diaObjectCat, ssSrc = inputs.diaSourceCat, inputs.diaObjectCat, inputs.ssSrc
    diaSrcHistory, diaForcedSources = inputs.diaSrcHistory, inputs.diaForcedSources
    diffIm, calexp, template = inputs.diffIm, inputs.calexp, inputs.template
    records = schema.records
    tables = [("diaSourceCat", diaSourceCat, "diaSource"), ("diaObjectCat", diaObjectCat, "diaObject")]
    if diaSrcHistory is not None and len(diaSrcHistory):
        tables.append(("diaSrcHistory", diaSrcHistory, "diaSource"))
    if diaForcedSources is not None and len(diaForcedSources):
        tables.append(("diaForcedSources", diaForcedSources, "diaForcedSource"))
    if ssSrc is not None and len(ssSrc) and "ssSource" in records:
        tables.append(("ssSrc", ssSrc, "ssSource"))
    problems = []
    missingOptional = {}
    for name, table, record in tables:
        found = checkTableColumns(table, records[record], name)
        problems += found
        if not found:
            missing = missingOptionalColumns(table, records[record])
            if missing:
                missingOptional[name] = missing
    # diaObjectId is nullable in diaSource records but links a source to its object.
    for name, table, _ in tables:
        if (
            name in ("diaSourceCat", "diaSrcHistory")
            and isinstance(table, pd.DataFrame)
            and "diaObjectId" not in _available(table)
        ):
            problems.append(f"{name} lacks diaObjectId (column or index level)")
    if ssSrc is not None and len(ssSrc) and isinstance(ssSrc, pd.DataFrame) and "mpc_orbits" in records:
        # Only when ssSrc carries mpc_orbits at all; without any MPCORB_ column it is null by design.
        if any(str(c).startswith(_MPCORB_PREFIX) for c in ssSrc.columns.tolist()):
            missing = [
                f
                for f in missingOptionalColumns(ssSrc, records["mpc_orbits"], _MPCORB_PREFIX)
                if f not in _DERIVED_MPC_FIELDS
            ]
            if missing:
                missingOptional["ssSrc.mpc_orbits"] = [_MPCORB_PREFIX + f for f in missing]
    problems += checkExposure(diffIm, "diffIm", needVisitInfo=True)
    problems += checkExposure(calexp, "calexp", needVisitInfo=False)
    if template is not None:
        problems += checkExposure(template, "template", needVisitInfo=False)
    if problems:
        raise AlertInputError(problems)
    return missingOptional
