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

"""One cutout in every FITS layout readers must take (for the tests of the cutout readers).

- ``"none"``: ``CCDData.write``'s file (the default, and upstream's cutouts);
- ``"compressed"``: then the tile-compressed AFWMASK HDU (``cutoutMaskPlanes``);
- ``"int32"``: then an uncompressed int32 AFWMASK HDU, as earlier releases wrote.
"""

__all__ = ["LAYOUTS", "cutoutLayouts"]

import io

import numpy as np
from astropy.io import fits

from lsst.ap.alerts.cutouts.ccdData import AlertCutout, ccdDataToFitsBytes, readCutout
from lsst.ap.alerts.cutouts.fits import AFWMASK_EXTNAME

LAYOUTS = ("none", "compressed", "int32")


def cutoutLayouts(data: bytes, flags: np.ndarray, maskPlanes: dict[str, int]) -> dict[str, bytes]:
    """The cutout ``data`` (any layout) rewritten in each of `LAYOUTS` with these afw planes."""
    ccd = readCutout(data)
    cutout = AlertCutout(
        ccd.data,
        uncertainty=ccd.uncertainty,
        wcs=ccd.wcs,
        meta=ccd.meta,
        unit=ccd.unit,
        psf=ccd.psf,
        flags=np.asarray(flags, np.int32),
        maskPlanes=maskPlanes,
    )
    plain = ccdDataToFitsBytes(cutout)
    legacy = fits.ImageHDU(np.asarray(flags, np.int32), name=AFWMASK_EXTNAME)
    for name, bit in maskPlanes.items():
        legacy.header[f"HIERARCH MP_{name}" if len(name) > 5 else f"MP_{name}"] = bit
    with io.BytesIO() as stream:
        fits.HDUList([fits.PrimaryHDU(), legacy]).writeto(stream)
        legacyHdu = stream.getvalue()[2880:]
    return {"none": plain, "compressed": ccdDataToFitsBytes(cutout, "compressed"), "int32": plain + legacyHdu}
