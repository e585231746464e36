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


"""An ordered header-like mapping, modelled on ``lsst.daf.base.PropertyList``.

Each name holds one or more values of one type, a comment, and a place in
the insertion order, with daf_base's semantics: `PropertyList.set`
replaces a name's values (keeping its place and, without a new comment, its
comment), `PropertyList.add` and `PropertyList.combine` append to them,
the scalar views (`PropertyList.get`, `PropertyList.getScalar`, ``[]``,
`PropertyList.items`, `PropertyList.values`) give the last value, and an
empty list sets or adds nothing.

The value types are daf_base's: ``bool``, 32-bit ``int``, 64-bit
``long`` (an `int` that does not fit 32 bits), ``double`` and ``string``;
appending a value of another type, or reading one with the wrong
``getAs*`` method, raises `TypeError` (a `LogicError`, as pex's).  Values of
other Python types (`None`, astropy's undefined FITS value, ...) are kept
as given, where daf_base would refuse some of them.
"""

from __future__ import annotations

__all__ = ["PropertyList"]

import numbers
from collections.abc import Mapping

import numpy as np

from ..exceptions import NotFoundError
from ..exceptions import TypeError as PexTypeError

_INT32 = range(-(2**31), 2**31)
# daf_base's value types; _OTHER is the model's for any other Python value
_BOOL, _INT, _LONG, _DOUBLE, _STRING, _OTHER = "bool", "int", "long", "double", "string", "other"
_NUMERIC_TYPES = (_BOOL, _INT, _LONG, _DOUBLE)


def _isBool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def _isInteger(value) -> bool:
    return isinstance(value, numbers.Integral) and not _isBool(value)


def _isReal(value) -> bool:
    return isinstance(value, numbers.Real) and not _isBool(value) and not _isInteger(value)


def _valueType(value) -> str:
    """The daf_base type of one Python value."""
    if _isBool(value):
        return _BOOL
    if _isInteger(value):
        return _INT if int(value) in _INT32 else _LONG
    if _isReal(value):
        return _DOUBLE
    if isinstance(value, str):
        return _STRING
    return _OTHER


def _asList(value) -> list:
    """The values given to `PropertyList.set`/`PropertyList.add`."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _convert(kind: str, value):
    """``value`` as a Python value of type ``kind``."""
    if kind == _BOOL:
        return bool(value)
    if kind in (_INT, _LONG):
        return int(value)
    if kind == _DOUBLE:
        return float(value)
    return value


def _typedValues(name: str, values: list):
    """The type and converted values of a new list of values.

    As daf_base: the first value gives the type (integers widen to
    ``long`` if any does not fit 32 bits); the others must convert to it
    (numbers to a ``double`` or ``bool`` list, integers and bools to an
    integer list).
    """
    kind = _valueType(values[0])
    if kind in (_INT, _LONG) and any(_valueType(v) == _LONG for v in values):
        kind = _LONG
    for value in values[1:]:
        other = _valueType(value)
        if kind == _OTHER or other == kind:
            continue
        if kind == _DOUBLE and other in _NUMERIC_TYPES:
            continue
        if kind in (_BOOL, _INT, _LONG) and other in (_BOOL, _INT, _LONG):
            continue
        raise PexTypeError(f"{name}: values {values!r} do not share one type")
    return kind, [_convert(kind, v) for v in values]


def _accepts(kind: str, value) -> bool:
    """Whether `PropertyList.add` appends ``value`` to values of ``kind``
    (daf_base converts no value to another type here, except that a
    ``long`` list takes any 64-bit integer)."""
    if kind == _OTHER:
        return True
    if kind == _LONG:
        return _isInteger(value) and -(2**63) <= int(value) < 2**63
    return _valueType(value) == kind


class PropertyList:
    """Ordered name -> values mapping with per-name types and comments.

    Parameters
    ----------
    values : `PropertyList` or `~collections.abc.Mapping`, optional
        Initial contents (model-only: daf_base's constructor takes none).
    """

    def __init__(self, values: Mapping | PropertyList | None = None):
        self._values: dict[str, list] = {}
        self._types: dict[str, str] = {}
        self._comments: dict[str, str] = {}
        if values is not None:
            if isinstance(values, PropertyList):
                self.combine(values)
            else:
                for name, value in values.items():
                    self.set(name, value)

    # -- writing
    def set(self, name: str, value, comment: str | None = None) -> None:
        """Replace the values of ``name`` (a scalar, or a list: an empty
        list changes nothing); without ``comment`` the old comment stays."""
        values = _asList(value)
        if not values:
            return
        self._types[name], self._values[name] = _typedValues(name, values)
        if comment is not None:
            self._comments[name] = comment
        else:
            self._comments.setdefault(name, "")

    def add(self, name: str, value, comment: str | None = None) -> None:
        """Append ``value`` (a scalar or a list) to the values of ``name``,
        or set it if ``name`` is new.

        Raises
        ------
        TypeError
            If a value is not of the type of those ``name`` holds.
        """
        if name not in self._values:
            self.set(name, value, comment)
            return
        values = _asList(value)
        kind = self._types[name]
        for item in values:
            if not _accepts(kind, item):
                raise PexTypeError(f"{name} has mismatched type")
        self._values[name].extend(_convert(kind, item) for item in values)
        if comment is not None:
            self._comments[name] = comment

    def setDouble(self, name, value, comment=None):
        self.set(name, [float(v) for v in _asList(value)], comment)

    def setInt(self, name, value, comment=None):
        self.set(name, [int(v) for v in _asList(value)], comment)

    def setString(self, name, value, comment=None):
        self.set(name, [str(v) for v in _asList(value)], comment)

    def setComment(self, name: str, comment: str) -> None:
        if name not in self._values:
            raise NotFoundError(f"{name} not found")
        self._comments[name] = comment

    def combine(self, other) -> None:
        """Append the values of ``other`` (a PropertyList or, model-only, a
        mapping): as `add` for the names both hold (taking ``other``'s
        comment), as `set` for new names, in ``other``'s order."""
        if isinstance(other, PropertyList):
            for name in other.names():
                self.add(name, list(other._values[name]), other._comments.get(name, ""))
        else:
            for name, value in other.items():
                self.add(name, value)

    def update(self, other) -> None:
        """`set` each name of ``other`` (a PropertyList, with its comments,
        or a mapping): its values replace ours, as daf_base's ``update``."""
        if isinstance(other, PropertyList):
            for name in other.names():
                self.set(name, list(other._values[name]), other._comments.get(name, ""))
        else:
            for name, value in other.items():
                self.set(name, value)

    # -- reading
    def get(self, name: str, default=None):
        """The last value of ``name``, or ``default`` if it does not exist."""
        values = self._values.get(name)
        return default if values is None else values[-1]

    def getScalar(self, name: str):
        """The last value of ``name``; `KeyError` if it does not exist."""
        if name not in self._values:
            raise KeyError(f"{name} not found")
        return self._values[name][-1]

    def getArray(self, name: str) -> list:
        """All values of ``name`` (a new list); `KeyError` if it does not
        exist."""
        if name not in self._values:
            raise KeyError(f"{name} not found")
        return list(self._values[name])

    def _typedScalar(self, name: str, kinds: tuple):
        if name not in self._values:
            raise NotFoundError(f"{name} not found")
        if self._types[name] not in kinds:
            raise PexTypeError(name)
        return self._values[name][-1]

    def getAsBool(self, name: str) -> bool:
        return bool(self._typedScalar(name, (_BOOL,)))

    def getAsInt(self, name: str) -> int:
        """The last value of a ``bool`` or 32-bit ``int`` name."""
        return int(self._typedScalar(name, (_BOOL, _INT)))

    def getAsInt64(self, name: str) -> int:
        """The last value of a ``bool``, ``int`` or ``long`` name."""
        return int(self._typedScalar(name, (_BOOL, _INT, _LONG)))

    def getAsDouble(self, name: str) -> float:
        """The last value of a numeric name, as a `float`."""
        return float(self._typedScalar(name, _NUMERIC_TYPES))

    def getAsString(self, name: str) -> str:
        """The last value of a ``string`` name (numbers are not converted)."""
        return self._typedScalar(name, (_STRING,))

    def getComment(self, name: str) -> str:
        return self._comments.get(name, "")

    def exists(self, name: str) -> bool:
        return name in self._values

    def remove(self, name: str) -> None:
        self._values.pop(name, None)
        self._types.pop(name, None)
        self._comments.pop(name, None)

    def names(self, topLevelOnly: bool = True) -> list:
        return list(self._values)

    getOrderedNames = names
    paramNames = names

    def nameCount(self, topLevelOnly: bool = True) -> int:
        return len(self._values)

    def toDict(self) -> dict:
        """Name -> value (a list for a name with several values)."""
        return {
            name: values[0] if len(values) == 1 else list(values) for name, values in self._values.items()
        }

    toOrderedDict = toDict

    def copy(self) -> PropertyList:
        return self.deepCopy()

    def deepCopy(self) -> PropertyList:
        result = PropertyList()
        result.combine(self)
        return result

    def items(self):
        """(name, last value) pairs, in order."""
        return [(name, values[-1]) for name, values in self._values.items()]

    def keys(self):
        return self._values.keys()

    def values(self):
        """The last value of each name, in order."""
        return [values[-1] for values in self._values.values()]

    def __getitem__(self, name):
        return self.getScalar(name)

    def __setitem__(self, name, value):
        self.set(name, value)

    def __delitem__(self, name):
        if name not in self._values:
            raise KeyError(name)
        self.remove(name)

    def __contains__(self, name):
        return name in self._values

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __eq__(self, other):
        """Equal names with equal values, types and comments (in any order,
        as daf_base)."""
        if isinstance(other, PropertyList):
            return (self._values, self._types, self._comments) == (
                other._values,
                other._types,
                other._comments,
            )
        return NotImplemented

    __hash__ = None

    def __reduce__(self):
        state = [
            (name, list(values), self._types[name], self._comments.get(name, ""))
            for name, values in self._values.items()
        ]
        return (_rebuildTyped, (state,))

    def __repr__(self):
        return f"PropertyList({self.toDict()!r})"


def _rebuildTyped(state):
    result = PropertyList()
    for name, values, kind, comment in state:
        result._values[name] = values
        result._types[name] = kind
        result._comments[name] = comment
    return result


def _rebuild(items, comments):
    """Unpickle the model's earlier (untyped) layout."""
    result = PropertyList()
    for name, value in items:
        result.set(name, value, comments.get(name))
    return result
