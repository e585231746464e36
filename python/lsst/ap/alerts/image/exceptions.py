"""Exception types of the image model, named and nested as in the stack.

``lsst.pex.exceptions`` derives ``InvalidParameterError`` from
``LogicError``; ``lsst.afw.detection.InvalidPsfError`` derives from
``InvalidParameterError``.  The model keeps that hierarchy so that
``except InvalidParameterError`` also catches PSF failures, as with afw.
"""

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


class FitsError(LsstException, OSError):
    """A FITS file cannot be read or written by the model."""


class InvalidPsfError(InvalidParameterError):
    """A PSF cannot be evaluated at the requested position."""
