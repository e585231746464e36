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

"""Values that fit their Avro type but cannot be true.

A DiaSource at dec = 95° encodes perfectly well; it is still impossible, and
an alert built from it would mislead every consumer.  `domainProblems` finds
such values in a typed table, one `~lsst.ap.alerts.catalogs.typedTable.FieldProblem`
per offending value, so the callers treat them like any other value that
does not fit (skip the DiaSource, drop the history row, null the DiaObject),
naming the field and the value.

The rules (``doc/inputs.md``, "Value rules"), applied wherever the record has the field
and the value is not null:

- ``ra`` must be finite and in [0, 360) degrees;
- ``dec`` must be finite and in [-90, 90] degrees;
- ``midpointMjdTai`` must be finite;
- every uncertainty (a field whose name ends in ``Err``) must not be negative
  (NaN is allowed: the measurement is absent);
- ``exposureTime`` must be positive (NaN allowed);
- ``bboxSize`` must not be negative.
"""

from __future__ import annotations

__all__ = ["DomainRule", "domainProblems", "domainRules"]

import dataclasses
from collections.abc import Callable

import numpy as np

from .typedTable import FieldProblem, TypedTable


@dataclasses.dataclass(frozen=True)
class DomainRule:
    """What the values of one field may be.

    Attributes
    ----------
    field : `str`
        Field name.
    expectation : `str`
        What the values must be, e.g. ``"finite and in [0, 360)"``; used in
        messages.
    violated : callable
        ``violated(values) -> numpy.ndarray[bool]``: where the rule fails.
    """

    field: str
    expectation: str
    violated: Callable[[np.ndarray], np.ndarray]


def _outside(lo, hi, *, closedHigh):
    def violated(values):
        with np.errstate(invalid="ignore"):
            inside = (values >= lo) & ((values <= hi) if closedHigh else (values < hi))
        return ~inside  # NaN and inf are outside too

    return violated


def _negative(values):
    with np.errstate(invalid="ignore"):
        return values < 0


def _notPositive(values):
    with np.errstate(invalid="ignore"):
        return values <= 0


def _notFinite(values):
    return ~np.isfinite(values)


_FIXED_RULES = (
    DomainRule("ra", "finite and in [0, 360)", _outside(0.0, 360.0, closedHigh=False)),
    DomainRule("dec", "finite and in [-90, 90]", _outside(-90.0, 90.0, closedHigh=True)),
    DomainRule("midpointMjdTai", "finite", _notFinite),
    DomainRule("exposureTime", "positive", _notPositive),
    DomainRule("bboxSize", "non-negative", _negative),
)


def domainRules(fieldNames) -> tuple[DomainRule, ...]:
    """Return the rules that apply to a record with these fields.

    Parameters
    ----------
    fieldNames : iterable of `str`
        The record's field names.
    """
    names = list(fieldNames)
    present = set(names)
    rules = [rule for rule in _FIXED_RULES if rule.field in present]
    rules += [DomainRule(name, "non-negative", _negative) for name in names if name.endswith("Err")]
    return tuple(rules)


def domainProblems(typed: TypedTable, rows: np.ndarray | None = None) -> list[FieldProblem]:
    """Find the values of a typed table that break a domain rule.

    Parameters
    ----------
    typed : `~lsst.ap.alerts.catalogs.typedTable.TypedTable`
        The table; nulls are never a violation.
    rows : `numpy.ndarray`, optional
        Input position of each row of ``typed`` (default: its own row
        numbers), so problems name the row the caller knows.

    Returns
    -------
    problems : `list` [`FieldProblem`]
        One per offending value; its reason reads e.g. ``95.0, must be finite
        and in [-90, 90]``.
    """
    problems = []
    for rule in domainRules(spec.name for spec in typed.specs):
        values = typed.columns[rule.field]
        bad = rule.violated(values)
        nulls = typed.nulls[rule.field]
        if nulls is not None:
            bad &= ~nulls
        for i in np.flatnonzero(bad):
            row = int(i if rows is None else rows[i])
            problems.append(
                FieldProblem(row, rule.field, f"{values[i].item()!r}, must be {rule.expectation}")
            )
    return problems
