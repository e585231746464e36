"""Up-front checks of `PackageAlertsTask.run`'s inputs.

Everything that would make a whole visit/detector unpackageable is found
here, before anything is written or sent, and reported at once in one
`AlertInputError` that lists every problem.  Problems of single rows are not
errors here; `lsst.ap.alerts.catalogs.visitTables` handles them per source.
"""

from __future__ import annotations

__all__ = ["AlertInputError", "checkExposure", "checkTableColumns", "validateRunInputs"]

import math

import pandas as pd

from ..schemaRegistry import AlertSchema
from .typedTable import fieldSpecs


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
            f"{len(self.problems)} problem(s) with the alert inputs:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def _available(table: pd.DataFrame) -> set[str]:
    return set(table.columns) | {n for n in table.index.names if n is not None}


def checkTableColumns(table, recordSchema, tableName: str) -> list[str]:
    """Problems with the columns of one table (missing, or of an unusable dtype).

    A column is required when its schema field is neither nullable nor has a
    default.  A numeric field held in a string column is reported too.
    """
    if not isinstance(table, pd.DataFrame):
        return [f"{tableName} must be a pandas.DataFrame, got {type(table).__name__}"]
    problems = []
    available = _available(table)
    missing = [s.name for s in fieldSpecs(recordSchema)
               if not s.nullable and not s.hasDefault and s.name not in available]
    if missing:
        problems.append(f"{tableName} lacks required column(s): {', '.join(missing)}")
    # Column dtypes from the frame's own list: no Series is built per column.
    dtypes = dict(zip(table.columns, table.dtypes))
    duplicated = set(table.columns[table.columns.duplicated()])
    for spec in fieldSpecs(recordSchema):
        if spec.name not in dtypes or spec.avroType in ("string", "bytes"):
            continue
        if spec.name in duplicated:
            problems.append(f"{tableName} has duplicate column {spec.name!r}")
        elif isinstance(dtypes[spec.name], pd.StringDtype):
            problems.append(f"{tableName}.{spec.name} holds strings (dtype {dtypes[spec.name]}) "
                            f"but the schema needs {spec.avroType}")
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
                mjd = visitInfo.date.toAstropy().tai.mjd
                if not math.isfinite(mjd):
                    raise ValueError(mjd)
            except Exception:
                problems.append(f"{name} VisitInfo has no valid date")
        if exposure.detector is None:
            problems.append(f"{name} has no Detector")
    return problems


def validateRunInputs(
    schema: AlertSchema,
    diaSourceCat,
    diaObjectCat,
    diaSrcHistory,
    diaForcedSources,
    diffIm,
    calexp,
    template,
    ssSrc,
) -> None:
    """Check all inputs of `PackageAlertsTask.run`; raise once with every problem.

    Raises
    ------
    AlertInputError
        Listing each problem found.
    """
    records = schema.records
    problems = []
    problems += checkTableColumns(diaSourceCat, records["diaSource"], "diaSourceCat")
    if isinstance(diaSourceCat, pd.DataFrame) and "diaObjectId" not in _available(diaSourceCat):
        problems.append("diaSourceCat lacks diaObjectId (column or index level)")
    problems += checkTableColumns(diaObjectCat, records["diaObject"], "diaObjectCat")
    if diaSrcHistory is not None and len(diaSrcHistory):
        problems += checkTableColumns(diaSrcHistory, records["diaSource"], "diaSrcHistory")
        if "diaObjectId" not in _available(diaSrcHistory):
            problems.append("diaSrcHistory lacks diaObjectId (column or index level)")
    if diaForcedSources is not None and len(diaForcedSources):
        problems += checkTableColumns(diaForcedSources, records["diaForcedSource"], "diaForcedSources")
    if ssSrc is not None and len(ssSrc):
        problems += checkTableColumns(ssSrc, records["ssSource"], "ssSrc")
    problems += checkExposure(diffIm, "diffIm", needVisitInfo=True)
    problems += checkExposure(calexp, "calexp", needVisitInfo=False)
    if template is not None:
        problems += checkExposure(template, "template", needVisitInfo=False)
    if problems:
        raise AlertInputError(problems)
