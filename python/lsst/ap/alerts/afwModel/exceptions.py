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

"""Exception types of the image model, named and nested as in the stack.

``lsst.pex.exceptions`` derives ``InvalidParameterError`` from
``LogicError``; ``lsst.afw.detection.InvalidPsfError`` derives from
``InvalidParameterError``.  The model keeps that hierarchy so that
``except InvalidParameterError`` also catches PSF failures, as with afw.
Like pex's, the model's `LogicError` is not a `RuntimeError`, its
`TypeError` is both a `LogicError` and a built-in `TypeError`, and
`FitsError` (afw's derives from pex's ``IoError``, a ``RuntimeError``) is
both a `RuntimeError` and an `OSError`.
"""

import builtins

__all__ = [
    "DomainError",
    "FitsError",
    "InvalidParameterError",
    "InvalidPsfError",
    "LengthError",
    "LogicError",
    "LsstException",
    "NotFoundError",
    "OutOfRangeError",
    "TypeError",
]


class LsstException(Exception):
    """Base of the model's afw-like exceptions."""


class LogicError(LsstException):
    """A programming error (e.g. a missing component)."""


class InvalidParameterError(LogicError, ValueError):
    """An argument has an invalid value (e.g. a cutout centre outside the
    image)."""


class DomainError(LogicError, ValueError):
    """An argument is outside the domain of a function (e.g. a malformed
    ISO-8601 date)."""


class LengthError(LogicError, ValueError):
    """Sizes do not match (e.g. a sub-image box outside its parent)."""


class OutOfRangeError(LogicError, IndexError):
    """An index is out of range."""


class NotFoundError(LsstException, LookupError):
    """A requested item (mask plane, archive entry, ...) does not exist."""


class TypeError(LogicError, builtins.TypeError):  # pex's name, shadowing the built-in here
    """A value has the wrong type (e.g. a `PropertyList` value read as
    another type)."""


class FitsError(LsstException, RuntimeError, OSError):
    """A FITS file cannot be read or written by the model."""


class InvalidPsfError(InvalidParameterError):
    """A PSF cannot be evaluated at the requested position."""
