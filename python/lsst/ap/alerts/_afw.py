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

"""The one place that decides between the LSST stack and the package's own
afw-compatible model (`lsst.ap.alerts.afwModel`).

Everything else in the package imports ``geom``, ``afwImage``, ``afwGeom``
and the two exception types from here and calls the afw API on them, so the
task has a single code path.  ``Psf`` is the base class for PSFs written in
Python (afw's ``lsst.afw.detection.Psf``, or the model's with the same
override points).

Setting the environment variable ``AP_ALERTS_FORCE_MODEL`` to anything but
``""`` or ``"0"`` picks the model even where afw is installed, e.g. to check
that both give the same alerts (``tests/test_afw.py`` does).
"""

__all__ = [
    "FORCE_MODEL_VARIABLE",
    "HAVE_AFW",
    "GaussianPsf",
    "InvalidParameterError",
    "InvalidPsfError",
    "Psf",
    "afwGeom",
    "afwImage",
    "geom",
]

import os

FORCE_MODEL_VARIABLE = "AP_ALERTS_FORCE_MODEL"

try:
    if os.environ.get(FORCE_MODEL_VARIABLE, "") not in ("", "0"):
        raise ImportError(f"{FORCE_MODEL_VARIABLE} is set: using the image model")
    import lsst.afw.geom as afwGeom
    import lsst.afw.image as afwImage
    import lsst.geom as geom
    from lsst.afw.detection import GaussianPsf, InvalidPsfError, Psf
    from lsst.pex.exceptions import InvalidParameterError

    HAVE_AFW = True
except ImportError:
    from .afwModel import geom  # type: ignore[no-redef]
    from .afwModel import image as afwImage  # type: ignore[no-redef]
    from .afwModel.exceptions import InvalidParameterError, InvalidPsfError  # type: ignore[assignment]
    from .afwModel.image import GaussianPsf, Psf  # type: ignore[assignment]

    # afw keeps SkyWcs/makeSkyWcs in lsst.afw.geom; the model keeps them in
    # its image package, which therefore serves both roles.
    afwGeom = afwImage  # type: ignore[misc]
    HAVE_AFW = False
