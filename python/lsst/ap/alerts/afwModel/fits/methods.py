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

"""afw's ``readFits``/``writeFits`` methods of the model's classes.

Added with `lsst.utils.continueClass`, as afw adds its Python methods to
its wrapped classes, so the class modules (`lsst.ap.alerts.afwModel.image`)
do not import the reader and writer.
"""

from __future__ import annotations

__all__ = []

from lsst.utils import continueClass

from ..image.exposure import Exposure, ExposureF
from ..image.image import Image, MaskedImage
from ..image.photoCalib import PhotoCalib
from ..image.visitInfo import VisitInfo
from .reader import readExposureFits, readImageFits, readPersistableFits
from .writer import writeExposureFits, writeImageFits, writePersistableFits


@continueClass
class Image:  # noqa: F811
    def writeFits(self, path, metadata=None) -> None:
        """Write as the primary HDU, with ``xy0`` cards and ``metadata``."""
        writeImageFits(self, path, metadata)

    @classmethod
    def readFits(cls, path):
        """Read the first 2-d image HDU of a FITS file, with its ``xy0``."""
        return readImageFits(path, cls)


@continueClass
class MaskedImage:  # noqa: F811
    def writeFits(self, path) -> None:
        """Write in afw's exposure layout, without exposure components."""
        writeExposureFits(ExposureF(self), path)

    @classmethod
    def readFits(cls, path):
        """Read the image, mask and variance of an exposure file."""
        return readExposureFits(path).getMaskedImage()


@continueClass
class Exposure:  # noqa: F811
    def writeFits(self, path) -> None:
        """Write in afw's multi-extension layout (see this module)."""
        writeExposureFits(self, path)

    @classmethod
    def readFits(cls, path):
        """Read an exposure written by afw or by the model."""
        return readExposureFits(path, cls)


@continueClass
class PhotoCalib:  # noqa: F811
    def writeFits(self, path) -> None:
        """Write as an afw archive file."""
        writePersistableFits(self, path)

    @classmethod
    def readFits(cls, path):
        """Read the first PhotoCalib of an afw archive file."""
        return readPersistableFits(path, "PhotoCalib")


@continueClass
class VisitInfo:  # noqa: F811
    def writeFits(self, path) -> None:
        """Write as an afw archive file."""
        writePersistableFits(self, path)

    @classmethod
    def readFits(cls, path):
        """Read the first VisitInfo of an afw archive file."""
        return readPersistableFits(path, "VisitInfo")
