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

"""The public CCDData path of a cutout: upstream's algorithm through the afw API.

`makeCcdDataCutout` builds a cutout as ``lsst.ap.association`` does
(``getCutout``, ``PhotoCalib.calibrateImage``, ``skyToPixel``, the local
WCS) and `ccdDataToFitsBytes` serializes it as ``CCDData.write`` does, plus,
if asked, the compressed AFWMASK HDU (layout: `lsst.ap.alerts.cutouts.fits`).
The task's fast path writes the same bytes without astropy's ``CCDData``;
the tests hold the two equal.  `readCutout` reads every layout.
"""

from __future__ import annotations

__all__ = ["UNUSABLE_PLANES", "AlertCutout", "ccdDataToFitsBytes", "makeCcdDataCutout", "readCutout"]

import io

import astropy.units as u
import numpy as np
from astropy import wcs as astropyWcs
from astropy.io import fits
from astropy.nddata import CCDData, VarianceUncertainty

from .fits import AFWMASK_EXTNAME, MASK_LAYOUTS, compressedMaskHdu
from .geometry import localTransformMatrix

# afw mask planes whose pixels hold no usable measurement: no data, a
# defective or saturated pixel, a cosmic ray, too close to the edge to be
# processed, a value interpolated over one of those, or an unflagged NaN.
# DETECTED, DETECTED_NEGATIVE, SUSPECT, CROSSTALK, STREAK, ... only describe
# a pixel that still holds a measurement.
UNUSABLE_PLANES = ("NO_DATA", "BAD", "SAT", "CR", "EDGE", "INTRP", "UNMASKEDNAN")


class AlertCutout(CCDData):
    """A cutout's `~astropy.nddata.CCDData` that also knows its afw mask planes.

    ``flags`` holds the afw mask (int32); ``maskPlanes`` maps plane names to
    bit numbers (written as the AFWMASK HDU's ``MP_*`` keys).

    Parameters
    ----------
    *args, **kwargs
        As `~astropy.nddata.CCDData`.
    maskPlanes : `dict` [`str`, `int`], optional
        Plane name → bit (default: those of ``args[0]`` if it is an
        `AlertCutout`, else none).
    """

    def __init__(self, *args, maskPlanes=None, **kwargs):
        super().__init__(*args, **kwargs)
        if maskPlanes is None and args and isinstance(args[0], AlertCutout):
            maskPlanes = args[0].maskPlanes
        self.maskPlanes = dict(maskPlanes or {})

    def _slice(self, item):
        kwargs = super()._slice(item)
        kwargs["maskPlanes"] = self.maskPlanes
        return kwargs


def makeCcdDataCutout(
    image, skyCenter, pixelCenter, extent, photoCalib, psf, rotPa, localMatrix=localTransformMatrix
) -> AlertCutout:
    """Cut, calibrate and describe one cutout, as upstream does.

    Parameters
    ----------
    image : `lsst.afw.image.Exposure`
        Image to cut (``pixelCenter`` must lie on it).
    skyCenter : `lsst.geom.SpherePoint`
        Source position: the cutout WCS is tangent there.
    pixelCenter : `lsst.geom.Point2D`
        Centre of the box.
    extent : `lsst.geom.Extent2I`
        Box size.
    photoCalib : `lsst.afw.image.PhotoCalib`
        Calibration to nJy.
    psf : `numpy.ndarray` or `None`
        PSF kernel image to attach.
    rotPa : `float` or `None`
        Boresight rotation angle in degrees (``ROTPA``).
    localMatrix : callable, optional
        ``(wcs, center, skyCenter) -> CD matrix`` (the task passes its
        ``makeLocalTransformMatrix``, which a subclass may override).
    """
    cutout = image.getCutout(pixelCenter, extent)
    bbox = cutout.getBBox()
    # CUTMIN such that FITS pixel i (1-based) is parent pixel i + CUTMIN.
    cutMinX, cutMinY = bbox.getMinX() - 1, bbox.getMinY() - 1
    wcs = cutout.getWcs()
    center = wcs.skyToPixel(skyCenter)
    calibrated = photoCalib.calibrateImage(cutout.getMaskedImage())
    cutoutWcs = astropyWcs.WCS(naxis=2)
    cutoutWcs.array_shape = (bbox.getHeight(), bbox.getWidth())
    cutoutWcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    cutoutWcs.wcs.cunit = ["deg", "deg"]
    cutoutWcs.wcs.crpix = [center.getX() - cutMinX, center.getY() - cutMinY]
    cutoutWcs.wcs.crval = [skyCenter.getRa().asDegrees(), skyCenter.getDec().asDegrees()]
    cutoutWcs.wcs.cd = localMatrix(wcs, center, skyCenter)
    meta = {"cutMinX": cutMinX, "cutMinY": cutMinY}
    if rotPa is not None:
        meta["ROTPA"] = float(rotPa)
    return AlertCutout(
        data=calibrated.getImage().array,
        uncertainty=VarianceUncertainty(calibrated.getVariance().array),
        flags=calibrated.getMask().array,
        wcs=cutoutWcs,
        psf=None if psf is None else np.asarray(psf, dtype=np.float64),
        meta=meta,
        unit=u.nJy,
        maskPlanes=dict(cutout.getMask().getMaskPlaneDict()),
    )


def ccdDataToFitsBytes(cutout: CCDData, maskPlanes: str = "none") -> bytes:
    """FITS bytes of a cutout: what ``CCDData.write`` writes, then (if asked) its afw mask planes.

    Parameters
    ----------
    cutout : `astropy.nddata.CCDData`
        The cutout; ``flags`` holds the afw mask (which ``CCDData.write``
        leaves out), ``maskPlanes`` its planes when it is an `AlertCutout`.
    maskPlanes : `str`, optional
        ``"none"``: ``CCDData.write``'s bytes alone; ``"compressed"``: then
        the ``flags`` as a tile-compressed AFWMASK HDU
        (`~lsst.ap.alerts.cutouts.fits.compressedMaskHdu`).

    Returns
    -------
    data : `bytes`

    Raises
    ------
    ValueError
        If ``maskPlanes`` is not a layout of
        `~lsst.ap.alerts.cutouts.fits.MASK_LAYOUTS`.
    """
    if maskPlanes not in MASK_LAYOUTS:
        raise ValueError(f"unknown cutout mask layout {maskPlanes!r}; expected one of {sorted(MASK_LAYOUTS)}")
    with io.BytesIO() as stream:
        cutout.to_hdu().writeto(stream)
        data = stream.getvalue()
    if maskPlanes == "compressed" and cutout.flags is not None:
        data += compressedMaskHdu(cutout.flags, getattr(cutout, "maskPlanes", {}))
    return data


def readCutout(data: bytes) -> AlertCutout:
    """Read an alert cutout, with afw's planes as ``flags`` and a mask of unusable pixels.

    Reads every layout: no mask HDU (the default, and upstream's), a
    tile-compressed AFWMASK and the uncompressed int32 AFWMASK of earlier
    releases.  ``CCDData.read`` alone gives the same image, variance, WCS
    and PSF and no mask.

    Parameters
    ----------
    data : `bytes`
        One cutout's FITS file.

    Returns
    -------
    cutout : `AlertCutout`
        With an AFWMASK HDU: ``flags`` the afw mask (int32), ``maskPlanes``
        its planes and ``mask`` True where a plane of `UNUSABLE_PLANES` is
        set.  Without one: ``flags`` and ``mask`` are `None` and
        ``maskPlanes`` is empty.
    """
    ccd = CCDData.read(io.BytesIO(data), format="fits")
    flags, planes, mask = None, {}, None
    with fits.open(io.BytesIO(data)) as hdus:
        if AFWMASK_EXTNAME in hdus:
            afwMask = hdus[AFWMASK_EXTNAME]
            flags = np.asarray(afwMask.data, dtype=np.int32)
            planes = {key[3:]: int(value) for key, value in afwMask.header.items() if key.startswith("MP_")}
            bits = sum(1 << planes[name] for name in UNUSABLE_PLANES if name in planes)
            mask = (flags & bits) != 0
    return AlertCutout(
        ccd.data,
        uncertainty=ccd.uncertainty,
        wcs=ccd.wcs,
        meta=ccd.meta,
        unit=ccd.unit,
        psf=ccd.psf,
        mask=mask,
        flags=flags,
        maskPlanes=planes,
    )
