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

"""Check alert files against their schema and their cutouts (``ap-alerts validate``).

Every alert of a file is checked against a registry schema: the one the
file names (a container's embedded schema name, a framed file's header ID)
or one given explicitly.  Each cutout must read with
``CCDData.read(..., format="fits")`` and carry a celestial WCS, unit nJy,
an uncertainty and a PSF (the layout of `lsst.ap.alerts.cutouts.ccdData`);
an AFWMASK HDU, if any (compressed, or the int32 one of earlier releases),
must read as planes of the image's shape.

Problems are collected, never raised: each `Problem` says where (file,
alert index, diaSourceId, field or cutout) and what is wrong.
"""

from __future__ import annotations

__all__ = [
    "Problem",
    "ValidationReport",
    "checkAlert",
    "checkCutout",
    "findAlertFiles",
    "validateFile",
    "validatePaths",
]

import dataclasses
import warnings
from collections.abc import Callable, Iterable

import astropy.units as u
import fastavro
import fastavro.validation

from ..cutouts.ccdData import readCutout
from ..schemaRegistry import AlertSchema
from .inspection import CUTOUT_FIELDS, FRAMED, AlertFile, AlertFileError, findAlertFiles

# Longest value representation quoted in a schema problem.
_MAX_DATUM_CHARS = 60


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with an alert file.

    Attributes
    ----------
    path : `str`
        The file.
    reason : `str`
        What is wrong.
    index : `int` or `None`
        The alert's position in the file (`None`: the file as a whole).
    diaSourceId : `int` or `None`
        The alert's diaSourceId, when it could be read.
    where : `str` or `None`
        Field or cutout concerned.
    """

    path: str
    reason: str
    index: int | None = None
    diaSourceId: int | None = None
    where: str | None = None

    def __str__(self) -> str:
        parts = [self.path]
        if self.index is not None:
            alert = f"alert #{self.index}"
            if self.diaSourceId is not None:
                alert += f" (diaSourceId {self.diaSourceId})"
            parts.append(alert)
        if self.where:
            parts.append(self.where)
        parts.append(self.reason)
        return ": ".join(parts)


@dataclasses.dataclass
class ValidationReport:
    """Outcome of validating files.

    Attributes
    ----------
    files : `int`
        Files examined.
    alerts : `int`
        Alerts decoded.
    cutouts : `int`
        Cutouts examined.
    problems : `list` [`Problem`]
        Everything found wrong.
    """

    files: int = 0
    alerts: int = 0
    cutouts: int = 0
    problems: list[Problem] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong (`bool`)."""
        return not self.problems

    def add(self, other: ValidationReport) -> None:
        """Add another report's counts and problems to this one."""
        self.files += other.files
        self.alerts += other.alerts
        self.cutouts += other.cutouts
        self.problems.extend(other.problems)


def checkCutout(data: bytes) -> list[str]:
    """Problems of one serialized cutout.

    Parameters
    ----------
    data : `bytes`
        FITS file content.

    Returns
    -------
    reasons : `list` [`str`]
        Empty if the cutout reads (`~lsst.ap.alerts.cutouts.ccdData.readCutout`:
        ``CCDData.read`` and the AFWMASK HDU if present) with a celestial
        WCS, unit nJy, an uncertainty and a PSF (an afw mask of another
        shape than the image does not read).
    """
    try:
        with warnings.catch_warnings():
            # Header-fixing chatter of astropy is not a problem of the cutout.
            warnings.simplefilter("ignore")
            ccd = readCutout(data)
    except Exception as e:
        # First sentence only: astropy appends long how-to-ignore hints.
        return [f"unreadable FITS ({type(e).__name__}: {str(e).split('. ')[0]})"]
    reasons = []
    if ccd.wcs is None or not ccd.wcs.has_celestial:
        reasons.append("no celestial WCS")
    if ccd.unit != u.nJy:
        reasons.append(f"unit is {ccd.unit}, expected nJy")
    if ccd.uncertainty is None:
        reasons.append("no uncertainty (UNCERT HDU)")
    if ccd.psf is None:
        reasons.append("no PSF (PSFIMAGE HDU)")
    return reasons


def _shortRepr(value) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_DATUM_CHARS else text[: _MAX_DATUM_CHARS - 3] + "..."


def checkAlert(alert: dict, schema: AlertSchema) -> list[tuple[str, str]]:
    """Problems of one decoded alert as (field, reason) pairs.

    Checks the record against ``schema`` and that the alert's diaSourceId
    is its diaSource's.  Cutouts are checked by `checkCutout`.
    """
    problems = []
    try:
        # The quick yes/no first: collecting error details costs ~40x more
        # (fastavro builds one for every union branch it tries).
        if not fastavro.validation.validate(alert, schema.parsed, raise_errors=False):
            fastavro.validation.validate(alert, schema.parsed, raise_errors=True)
    except fastavro.validation.ValidationError as e:
        # One error per union branch tried; report each field once.
        byField: dict[str, list] = {}
        for error in e.errors:
            byField.setdefault(error.field, []).append(error)
        for field, errors in byField.items():
            expected = ", ".join(str(err.schema) for err in errors)
            problems.append(
                (
                    field,
                    (
                        f"value {_shortRepr(errors[0].datum)} does not match schema {schema.versionString} "
                        f"(expected {expected})"
                    ),
                )
            )
    source = alert.get("diaSource")
    if isinstance(source, dict) and source.get("diaSourceId") != alert.get("diaSourceId"):
        problems.append(
            (
                "diaSourceId",
                (
                    f"{alert.get('diaSourceId')} differs from "
                    f"diaSource.diaSourceId {source.get('diaSourceId')}"
                ),
            )
        )
    return problems


def validateFile(
    path: str, schemaSpec: str | None = None, onAlert: Callable[[], None] | None = None
) -> ValidationReport:
    """Validate every alert and cutout of one file.

    Parameters
    ----------
    path : `str`
        An Avro container file or a Confluent-framed (failed-delivery) file.
    schemaSpec : `str`, optional
        Schema version or ID to check against instead of the file's own.
    onAlert : callable, optional
        Called after each alert is checked (progress).

    Returns
    -------
    report : `ValidationReport`
        With every problem found; a file that cannot be read at all, or
        breaks off, is one problem.
    """
    report = ValidationReport(files=1)
    try:
        alertFile = AlertFile(path, schemaSpec)
    except AlertFileError as e:
        report.problems.append(Problem(path, _withoutPath(str(e), path)))
        return report
    schema = alertFile.schema
    if schema is None:
        report.problems.append(
            Problem(
                path,
                f"embedded schema {alertFile.schemaName!r} names no schema version; give one to check "
                "against",
            )
        )
        return report
    report.problems.extend(_headerProblems(alertFile, schema))
    try:
        for decoded in alertFile:
            report.alerts += 1
            alert = decoded.alert
            srcId = alert.get("diaSourceId")
            for field, reason in checkAlert(alert, schema):
                report.problems.append(Problem(path, reason, decoded.index, srcId, field))
            for name, _ in CUTOUT_FIELDS:
                data = alert.get(name)
                if not isinstance(data, bytes):
                    continue
                report.cutouts += 1
                for reason in checkCutout(data):
                    report.problems.append(Problem(path, reason, decoded.index, srcId, name))
            if onAlert is not None:
                onAlert()
    except AlertFileError as e:
        report.problems.append(Problem(path, _withoutPath(str(e), path)))
    return report


def _headerProblems(alertFile: AlertFile, schema: AlertSchema) -> list[Problem]:
    """Disagreements between what the file declares and the schema checked against."""
    path = alertFile.path
    if alertFile.kind == FRAMED:
        if alertFile.headerSchemaId != schema.schemaId:
            return [
                Problem(
                    path,
                    f"wire header schema ID {alertFile.headerSchemaId} is not the expected "
                    f"{schema.schemaId} (schema {schema.versionString})",
                )
            ]
        return []
    if alertFile.version is not None and alertFile.version != schema.version:
        return [
            Problem(
                path,
                f"embedded schema {alertFile.schemaName} is not the expected schema {schema.versionString}",
            )
        ]
    embedded = fastavro.schema.to_parsing_canonical_form(fastavro.parse_schema(alertFile.embeddedSchema))
    if embedded != fastavro.schema.to_parsing_canonical_form(schema.parsed):
        return [
            Problem(
                path,
                f"embedded schema {alertFile.schemaName} differs from the registry's "
                f"schema {schema.versionString}",
            )
        ]
    return []


def _withoutPath(message: str, path: str) -> str:
    """`AlertFileError` messages start with the path, which `Problem` prints itself."""
    prefix = f"{path}: "
    return message.removeprefix(prefix)


def validatePaths(
    paths: Iterable[str],
    schemaSpec: str | None = None,
    onFile: Callable[[str, ValidationReport], None] | None = None,
    onAlert: Callable[[], None] | None = None,
) -> ValidationReport:
    """Validate files one after another.

    Parameters
    ----------
    paths : iterable of `str`
        Files (see `findAlertFiles`).
    schemaSpec : `str`, optional
        Schema version or ID to check against instead of each file's own.
    onFile : callable, optional
        Called with each file and its report once it is done.
    onAlert : callable, optional
        Called after each alert is checked (progress).

    Returns
    -------
    report : `ValidationReport`
        Totals and every problem.
    """
    total = ValidationReport()
    for path in paths:
        report = validateFile(path, schemaSpec, onAlert)
        total.add(report)
        if onFile is not None:
            onFile(path, report)
    return total
