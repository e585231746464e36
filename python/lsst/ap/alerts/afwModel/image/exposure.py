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

"""Exposures of the image model: `ExposureF` and its `ExposureInfo`.

Mirrors afw's behaviour where alert packaging depends on it, in particular
`Exposure.getCutout`: the centre (a parent-pixel `Point2D`, or a
`SpherePoint` mapped through the WCS) must lie in the exposure's `Box2D`
or `InvalidParameterError` is raised; the cutout box is
``Box2I.makeCenteredBox(center, size)``; pixels outside the parent are NaN
in the image, +inf in the variance and have ``NO_DATA`` set in the mask; the cutout
keeps ``xy0`` = box minimum and shares the parent's WCS, PSF, PhotoCalib,
VisitInfo, filter, detector and id.
"""

from __future__ import annotations

__all__ = ["Exposure", "ExposureD", "ExposureF", "ExposureInfo", "makeExposure"]

import numpy as np

from .. import geom
from ..exceptions import InvalidParameterError, LogicError
from .image import PARENT, ImageOrigin, MaskedImage, MaskedImageD, MaskedImageF, _dimsFromArgs
from .metadata import PropertyList


class ExposureInfo:
    """The non-pixel components of an exposure.

    Components are shared (not copied) between copies of an ExposureInfo,
    as in afw; ``copy(copyMetadata=True)`` also deep-copies the metadata.
    """

    def __init__(
        self,
        wcs=None,
        psf=None,
        photoCalib=None,
        detector=None,
        filterLabel=None,
        metadata=None,
        visitInfo=None,
        id=None,
    ):
        self._wcs = wcs
        self._psf = psf
        self._photoCalib = photoCalib
        self._detector = detector
        self._filter = filterLabel
        self._metadata = PropertyList() if metadata is None else metadata
        self._visitInfo = visitInfo
        self._id = id
        self._components: dict = {}

    def copy(self, copyMetadata: bool = False) -> ExposureInfo:
        other = ExposureInfo(
            self._wcs,
            self._psf,
            self._photoCalib,
            self._detector,
            self._filter,
            self._metadata.deepCopy() if copyMetadata else self._metadata,
            self._visitInfo,
            self._id,
        )
        other._components = dict(self._components)
        return other

    # id
    def getId(self):
        """Exposure id, or `None` if unset (as afw's ``getId``)."""
        return self._id

    def setId(self, id) -> None:
        self._id = None if id is None else int(id)

    def hasId(self) -> bool:
        return self._id is not None

    @property
    def id(self):
        """Exposure id, or `None` if unset (afw's property behaves so)."""
        return self._id

    @id.setter
    def id(self, value):
        self.setId(value)

    # components
    def getWcs(self):
        return self._wcs

    def setWcs(self, wcs) -> None:
        self._wcs = wcs

    def hasWcs(self) -> bool:
        return self._wcs is not None

    def getPsf(self):
        return self._psf

    def setPsf(self, psf) -> None:
        self._psf = psf

    def hasPsf(self) -> bool:
        return self._psf is not None

    def getPhotoCalib(self):
        return self._photoCalib

    def setPhotoCalib(self, photoCalib) -> None:
        self._photoCalib = photoCalib

    def hasPhotoCalib(self) -> bool:
        return self._photoCalib is not None

    def getDetector(self):
        return self._detector

    def setDetector(self, detector) -> None:
        self._detector = detector

    def hasDetector(self) -> bool:
        return self._detector is not None

    def getFilter(self):
        return self._filter

    def setFilter(self, filterLabel) -> None:
        self._filter = filterLabel

    def hasFilter(self) -> bool:
        return self._filter is not None

    getFilterLabel = getFilter
    setFilterLabel = setFilter
    hasFilterLabel = hasFilter

    def getVisitInfo(self):
        return self._visitInfo

    def setVisitInfo(self, visitInfo) -> None:
        self._visitInfo = visitInfo

    def hasVisitInfo(self) -> bool:
        return self._visitInfo is not None

    def getMetadata(self) -> PropertyList:
        return self._metadata

    def setMetadata(self, metadata) -> None:
        self._metadata = metadata

    # generic components (e.g. summary statistics), stored as given
    def getComponent(self, key):
        return self._components.get(key)

    def setComponent(self, key, value) -> None:
        self._components[key] = value

    def hasComponent(self, key) -> bool:
        return key in self._components

    def removeComponent(self, key) -> None:
        self._components.pop(key, None)

    def getSummaryStats(self):
        return self._components.get("SUMMARYSTATS")

    def setSummaryStats(self, stats) -> None:
        self._components["SUMMARYSTATS"] = stats

    def hasSummaryStats(self) -> bool:
        return "SUMMARYSTATS" in self._components

    def getApCorrMap(self):
        return self._components.get("AP_CORR_MAP")

    def getValidPolygon(self):
        return self._components.get("VALID_POLYGON")

    wcs = property(getWcs, setWcs)
    psf = property(getPsf, setPsf)
    photoCalib = property(getPhotoCalib, setPhotoCalib)
    detector = property(getDetector, setDetector)
    filter = property(getFilter, setFilter)
    visitInfo = property(getVisitInfo, setVisitInfo)
    metadata = property(getMetadata, setMetadata)
    summaryStats = property(getSummaryStats, setSummaryStats)

    def __reduce__(self):
        return (
            _rebuildInfo,
            (
                self._wcs,
                self._psf,
                self._photoCalib,
                self._detector,
                self._filter,
                self._metadata,
                self._visitInfo,
                self._id,
                self._components,
            ),
        )

    def __repr__(self):
        return (
            f"ExposureInfo(id={self._id}, wcs={self._wcs is not None}, psf={self._psf is not None}, "
            f"photoCalib={self._photoCalib!r}, filter={self._filter!r})"
        )


def _rebuildInfo(wcs, psf, photoCalib, detector, filterLabel, metadata, visitInfo, id, components):
    info = ExposureInfo(wcs, psf, photoCalib, detector, filterLabel, metadata, visitInfo, id)
    info._components = components
    return info


class Exposure:
    """A masked image plus its `ExposureInfo`, like afw's Exposure.

    Parameters
    ----------
    *args
        ``(Box2I, wcs=None)``, ``(width, height, wcs=None)``,
        ``(Extent2I, wcs=None)``, ``(MaskedImage, wcs=None)``,
        ``(MaskedImage, ExposureInfo)``, ``(Exposure, deep=False)``,
        ``(Exposure, Box2I, origin=PARENT, deep=False)`` or a FITS path.
    """

    MaskedImageClass = MaskedImageF

    def __init__(self, *args, **kwargs):
        if args and isinstance(args[0], str) or "fileName" in kwargs:
            path = args[0] if args else kwargs.pop("fileName")
            other = type(self).readFits(path)
            self._maskedImage, self._info = other._maskedImage, other._info
            return
        if args and isinstance(args[0], Exposure):
            parent = args[0]
            bbox = args[1] if len(args) > 1 and isinstance(args[1], geom.Box2I) else kwargs.get("bbox")
            if bbox is None:
                deep = args[1] if len(args) > 1 else kwargs.get("deep", False)
                bbox, origin = parent.getBBox(), PARENT
            else:
                origin = args[2] if len(args) > 2 else kwargs.get("origin", PARENT)
                deep = args[3] if len(args) > 3 else kwargs.get("deep", False)
            self._maskedImage = self.MaskedImageClass(parent._maskedImage, bbox, origin, deep)
            self._info = parent._info.copy(copyMetadata=bool(deep))
            return
        info = None
        if args and isinstance(args[0], MaskedImage):
            maskedImage = args[0]
            if not isinstance(maskedImage, self.MaskedImageClass):
                maskedImage = self.MaskedImageClass(
                    self.MaskedImageClass.ImageClass(maskedImage.image.array, True, maskedImage.getXY0()),
                    maskedImage.mask,
                    maskedImage.variance,
                )
            rest = args[1:]
        else:
            parsed = _dimsFromArgs(args, kwargs)
            if parsed is None:
                raise TypeError(f"Cannot make an Exposure from {args!r}")
            width, height, xy0, rest = parsed
            maskedImage = self.MaskedImageClass(geom.Box2I(geom.Point2I(xy0), geom.Extent2I(width, height)))
        second = rest[0] if rest else kwargs.get("wcs", kwargs.get("exposureInfo"))
        if isinstance(second, ExposureInfo):
            info = second
        else:
            info = ExposureInfo(wcs=second)
        self._maskedImage = maskedImage
        self._info = info

    # -- pixels
    def getMaskedImage(self) -> MaskedImage:
        return self._maskedImage

    def setMaskedImage(self, maskedImage) -> None:
        self._maskedImage = maskedImage

    maskedImage = property(getMaskedImage, setMaskedImage)

    def _getImage(self):
        return self._maskedImage.image

    def _setImage(self, image):
        self._maskedImage.image = image

    def _getMask(self):
        return self._maskedImage.mask

    def _setMask(self, mask):
        self._maskedImage.mask = mask

    def _getVariance(self):
        return self._maskedImage.variance

    def _setVariance(self, variance):
        self._maskedImage.variance = variance

    getImage = _getImage
    setImage = _setImage
    getMask = _getMask
    setMask = _setMask
    getVariance = _getVariance
    setVariance = _setVariance
    image = property(_getImage, _setImage)
    mask = property(_getMask, _setMask)
    variance = property(_getVariance, _setVariance)

    # -- geometry
    def getBBox(self, origin: ImageOrigin = PARENT) -> geom.Box2I:
        return self._maskedImage.getBBox(origin)

    def getDimensions(self) -> geom.Extent2I:
        return self._maskedImage.getDimensions()

    def getWidth(self) -> int:
        return self._maskedImage.getWidth()

    def getHeight(self) -> int:
        return self._maskedImage.getHeight()

    def getX0(self) -> int:
        return self._maskedImage.getX0()

    def getY0(self) -> int:
        return self._maskedImage.getY0()

    def getXY0(self) -> geom.Point2I:
        return self._maskedImage.getXY0()

    def setXY0(self, xy0) -> None:
        """Move the exposure; like afw, the WCS is shifted to follow."""
        xy0 = geom.Point2I(xy0)
        shift = xy0 - self.getXY0()
        if self._info.hasWcs() and (shift.getX() or shift.getY()):
            self._info.setWcs(self._info.getWcs().copyAtShiftedPixelOrigin(geom.Extent2D(shift)))
        self._maskedImage.setXY0(xy0)

    width = property(getWidth)
    height = property(getHeight)
    dimensions = property(getDimensions)
    x0 = property(getX0)
    y0 = property(getY0)

    # -- info delegation
    def getInfo(self) -> ExposureInfo:
        return self._info

    def setInfo(self, info: ExposureInfo) -> None:
        self._info = info

    info = property(getInfo, setInfo)

    def getWcs(self):
        return self._info.getWcs()

    def setWcs(self, wcs) -> None:
        self._info.setWcs(wcs)

    def hasWcs(self) -> bool:
        return self._info.hasWcs()

    def getPsf(self):
        return self._info.getPsf()

    def setPsf(self, psf) -> None:
        self._info.setPsf(psf)

    def hasPsf(self) -> bool:
        return self._info.hasPsf()

    def getPhotoCalib(self):
        return self._info.getPhotoCalib()

    def setPhotoCalib(self, photoCalib) -> None:
        self._info.setPhotoCalib(photoCalib)

    def getDetector(self):
        return self._info.getDetector()

    def setDetector(self, detector) -> None:
        self._info.setDetector(detector)

    def getFilter(self):
        return self._info.getFilter()

    def setFilter(self, filterLabel) -> None:
        self._info.setFilter(filterLabel)

    getFilterLabel = getFilter
    setFilterLabel = setFilter

    def getVisitInfo(self):
        return self._info.getVisitInfo()

    def setVisitInfo(self, visitInfo) -> None:
        self._info.setVisitInfo(visitInfo)

    def getMetadata(self) -> PropertyList:
        return self._info.getMetadata()

    def setMetadata(self, metadata) -> None:
        self._info.setMetadata(metadata)

    wcs = property(getWcs, setWcs)
    psf = property(getPsf, setPsf)
    photoCalib = property(getPhotoCalib, setPhotoCalib)
    detector = property(getDetector, setDetector)
    filter = property(getFilter, setFilter)
    visitInfo = property(getVisitInfo, setVisitInfo)
    metadata = property(getMetadata, setMetadata)

    # -- copies, sub-images, cutouts
    def clone(self) -> Exposure:
        return type(self)(self, self.getBBox(), PARENT, True)

    def subset(self, bbox: geom.Box2I, origin: ImageOrigin = PARENT) -> Exposure:
        return type(self)(self, bbox, origin, False)

    def __getitem__(self, key):
        if isinstance(key, geom.Box2I) or (
            isinstance(key, tuple) and isinstance(key[0], (slice, geom.Box2I))
        ):
            sub = self._maskedImage[key]
            result = type(self).__new__(type(self))
            result._maskedImage = sub
            result._info = self._info.copy()
            return result
        return self._maskedImage[key]

    def __setitem__(self, key, value):
        if isinstance(value, Exposure):
            value = value.maskedImage
        self._maskedImage[key] = value

    def getCutout(self, center, size) -> Exposure:
        """Return a new exposure of dimensions ``size`` centred on ``center``.

        Parameters
        ----------
        center : `lsst.geom.Point2D` or `lsst.geom.SpherePoint`
            Centre in parent pixels, or on the sky (needs a WCS).
        size : `lsst.geom.Extent2I`
            Cutout dimensions.

        Raises
        ------
        InvalidParameterError
            If ``center`` is not inside this exposure's bounding box, or
            ``size`` is not positive in both dimensions (as afw).
        """
        if isinstance(center, geom.SpherePoint):
            if not self.hasWcs():
                raise LogicError("Cannot look up source position without WCS.")
            center = self.getWcs().skyToPixel(center)
        center = geom.Point2D(center)
        parentBox = self.getBBox()
        if not (np.isfinite(center.x) and np.isfinite(center.y)) or not geom.Box2D(parentBox).contains(
            center
        ):
            raise InvalidParameterError(
                f"Point {center} lies outside this exposure's bounding box {parentBox}"
            )
        size = geom.Extent2I(size)
        if size.getX() <= 0 or size.getY() <= 0:
            raise InvalidParameterError(
                f"Cannot create bounding box with dimensions ({size.getX()}, {size.getY()})"
            )
        bbox = geom.Box2I.makeCenteredBox(center, size)
        parentMask = self._maskedImage.mask
        imageClass = self.MaskedImageClass.ImageClass
        shape = (bbox.getHeight(), bbox.getWidth())
        noData = parentMask.getPlaneBitMask("NO_DATA")
        image = imageClass(np.full(shape, np.nan, dtype=imageClass.dtype), False, bbox.getMin())
        variance = type(self._maskedImage.variance)(
            np.full(shape, np.inf, dtype=np.float32), False, bbox.getMin()
        )
        mask = type(parentMask)(
            np.full(shape, noData, dtype=np.int32), False, bbox.getMin(), planeDict=parentMask._maskDict
        )
        overlap = bbox.clippedTo(parentBox)
        if not overlap.isEmpty():
            dst = (
                slice(overlap.getMinY() - bbox.getMinY(), overlap.getEndY() - bbox.getMinY()),
                slice(overlap.getMinX() - bbox.getMinX(), overlap.getEndX() - bbox.getMinX()),
            )
            image.array[dst] = self._maskedImage.image._view(overlap)
            mask.array[dst] = parentMask._view(overlap)
            variance.array[dst] = self._maskedImage.variance._view(overlap)
        cutout = type(self).__new__(type(self))
        cutout._maskedImage = self.MaskedImageClass(image, mask, variance)
        cutout._info = self._info.copy()
        return cutout

    # readFits/writeFits (afw's multi-extension layout) are added by `lsst.ap.alerts.afwModel.fits`.

    def __reduce__(self):
        return (_rebuildExposure, (type(self), self._maskedImage, self._info))

    def __repr__(self):
        return f"{type(self).__name__}(bbox={self.getBBox()!r}, info={self._info!r})"


def _rebuildExposure(cls, maskedImage, info):
    return cls(maskedImage, info)


class ExposureF(Exposure):
    """Exposure with single-precision image pixels."""

    MaskedImageClass = MaskedImageF


class ExposureD(Exposure):
    """Exposure with double-precision image pixels."""

    MaskedImageClass = MaskedImageD


def makeExposure(maskedImage, wcs=None) -> Exposure:
    """Make an exposure of the type matching ``maskedImage``."""
    cls = ExposureD if isinstance(maskedImage, MaskedImageD) else ExposureF
    return cls(maskedImage, wcs)
