"""A small afw-compatible image model: the part of ``lsst.afw.image`` (plus
``SkyWcs``/``makeSkyWcs`` from ``lsst.afw.geom``, PSFs from
``lsst.afw.detection`` and the exception types) that alert packaging uses.

Used through ``lsst.ap.alerts._afw`` when the LSST stack is not installed;
the same names and call signatures as afw, pure Python on numpy/astropy.
"""

from .detector import Detector, DetectorType
from .exceptions import (
    FitsError,
    InvalidParameterError,
    InvalidPsfError,
    LengthError,
    LogicError,
    LsstException,
    NotFoundError,
    OutOfRangeError,
)
from .exposure import Exposure, ExposureD, ExposureF, ExposureInfo, makeExposure
from .filterLabel import FilterLabel
from .image import (
    LOCAL,
    PARENT,
    Image,
    ImageD,
    ImageF,
    ImageI,
    ImageL,
    ImageOrigin,
    ImageU,
    Mask,
    MaskedImage,
    MaskedImageD,
    MaskedImageF,
    MaskPixel,
    MaskX,
    VariancePixel,
    makeMaskedImage,
)
from .metadata import PropertyList
from .photoCalib import Measurement, PhotoCalib, makePhotoCalibFromCalibZeroPoint
from .psf import FixedKernel, GaussianPsf, ImagePsf, KernelPsf, Psf, Quadrupole, ValidBoxPsf
from .visitInfo import DateTime, Observatory, RotType, VisitInfo, Weather
from .wcs import SkyWcs, makeCdMatrix, makeSkyWcs, makeSkyWcsFromFitsHeader, makeTanSipWcs

__all__ = [
    "LOCAL",
    "PARENT",
    "DateTime",
    "Detector",
    "DetectorType",
    "Exposure",
    "ExposureD",
    "ExposureF",
    "ExposureInfo",
    "FilterLabel",
    "FitsError",
    "FixedKernel",
    "GaussianPsf",
    "Image",
    "ImageD",
    "ImageF",
    "ImageI",
    "ImageL",
    "ImageOrigin",
    "ImagePsf",
    "ImageU",
    "InvalidParameterError",
    "InvalidPsfError",
    "KernelPsf",
    "LengthError",
    "LogicError",
    "LsstException",
    "Mask",
    "MaskPixel",
    "MaskX",
    "MaskedImage",
    "MaskedImageD",
    "MaskedImageF",
    "Measurement",
    "NotFoundError",
    "Observatory",
    "OutOfRangeError",
    "PhotoCalib",
    "PropertyList",
    "Psf",
    "Quadrupole",
    "RotType",
    "SkyWcs",
    "ValidBoxPsf",
    "VariancePixel",
    "VisitInfo",
    "Weather",
    "makeCdMatrix",
    "makeExposure",
    "makeMaskedImage",
    "makePhotoCalibFromCalibZeroPoint",
    "makeSkyWcs",
    "makeSkyWcsFromFitsHeader",
    "makeTanSipWcs",
]
