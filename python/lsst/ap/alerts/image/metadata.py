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

"""An ordered header-like mapping, modelled on ``lsst.daf.base.PropertyList``."""

from __future__ import annotations

__all__ = ["PropertyList"]

import copy
from collections.abc import Mapping


class PropertyList:
    """Ordered name -> value mapping with per-name comments.

    Supports the subset of the PropertyList API used around exposures
    (``set``, ``get``, ``getScalar``, ``exists``, ``remove``, ``names``,
    ``toDict``, ``getComment``, ``combine``) plus plain mapping access.
    """

    def __init__(self, values: Mapping | None = None):
        self._values: dict = {}
        self._comments: dict = {}
        if values is not None:
            if isinstance(values, PropertyList):
                self.combine(values)
            else:
                for name, value in values.items():
                    self.set(name, value)

    def set(self, name: str, value, comment: str | None = None) -> None:
        self._values[name] = value
        if comment is not None:
            self._comments[name] = comment

    add = set

    def setDouble(self, name, value, comment=None):
        self.set(name, float(value), comment)

    def setInt(self, name, value, comment=None):
        self.set(name, int(value), comment)

    def setString(self, name, value, comment=None):
        self.set(name, str(value), comment)

    def get(self, name: str, default=None):
        return self._values.get(name, default)

    def getScalar(self, name: str):
        if name not in self._values:
            raise KeyError(name)
        value = self._values[name]
        return value[-1] if isinstance(value, list) else value

    def getArray(self, name: str) -> list:
        value = self._values[name]
        return list(value) if isinstance(value, list) else [value]

    def getAsDouble(self, name: str) -> float:
        return float(self.getScalar(name))

    def getAsInt(self, name: str) -> int:
        return int(self.getScalar(name))

    def getAsString(self, name: str) -> str:
        return str(self.getScalar(name))

    def getComment(self, name: str) -> str:
        return self._comments.get(name, "")

    def exists(self, name: str) -> bool:
        return name in self._values

    def remove(self, name: str) -> None:
        self._values.pop(name, None)
        self._comments.pop(name, None)

    def names(self, topLevelOnly: bool = True) -> list:
        return list(self._values)

    getOrderedNames = names
    paramNames = names

    def nameCount(self, topLevelOnly: bool = True) -> int:
        return len(self._values)

    def toDict(self) -> dict:
        return dict(self._values)

    toOrderedDict = toDict

    def combine(self, other) -> None:
        """Copy every entry of ``other`` (a PropertyList or mapping) in."""
        if isinstance(other, PropertyList):
            for name in other.names():
                self.set(name, copy.copy(other._values[name]), other._comments.get(name))
        else:
            for name, value in other.items():
                self.set(name, value)

    update = combine

    def copy(self) -> PropertyList:
        return self.deepCopy()

    def deepCopy(self) -> PropertyList:
        result = PropertyList()
        result.combine(self)
        return result

    def items(self):
        return self._values.items()

    def keys(self):
        return self._values.keys()

    def values(self):
        return self._values.values()

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
        if isinstance(other, PropertyList):
            return self._values == other._values
        return NotImplemented

    __hash__ = None

    def __reduce__(self):
        return (_rebuild, (list(self._values.items()), dict(self._comments)))

    def __repr__(self):
        return f"PropertyList({self._values!r})"


def _rebuild(items, comments):
    result = PropertyList()
    for name, value in items:
        result.set(name, value, comments.get(name))
    return result
