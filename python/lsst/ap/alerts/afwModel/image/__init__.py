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

"""The model's image classes: the part of ``lsst.afw.image`` (plus
``SkyWcs``/``makeSkyWcs`` from ``lsst.afw.geom``, PSFs from
``lsst.afw.detection`` and the exception types, re-exported as afw's
modules give them) that alert packaging uses.

Their ``readFits``/``writeFits`` come from `lsst.ap.alerts.afwModel.fits`,
attached when `lsst.ap.alerts.afwModel` is imported.
"""

# Each module's public names (its __all__) are the package's, as in afw;
# photoCalib and wcs also hold helpers the package does not export
# (REFERENCE_FLUX_NJY, getImageXY0FromMetadata), so their names are listed.
from .. import exceptions
from ..exceptions import *
from . import detector, exposure, filterLabel, image, metadata, psf, visitInfo
from .detector import *
from .exposure import *
from .filterLabel import *
from .image import *
from .metadata import *
from .photoCalib import Measurement, PhotoCalib, makePhotoCalibFromCalibZeroPoint
from .psf import *
from .visitInfo import *
from .wcs import SkyWcs, makeCdMatrix, makeSkyWcs, makeSkyWcsFromFitsHeader, makeTanSipWcs

__all__ = [
    "Measurement",
    "PhotoCalib",
    "SkyWcs",
    "makeCdMatrix",
    "makePhotoCalibFromCalibZeroPoint",
    "makeSkyWcs",
    "makeSkyWcsFromFitsHeader",
    "makeTanSipWcs",
]
__all__ += detector.__all__
__all__ += exceptions.__all__
__all__ += exposure.__all__
__all__ += filterLabel.__all__
__all__ += image.__all__
__all__ += metadata.__all__
__all__ += psf.__all__
__all__ += visitInfo.__all__
