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

"""The package's afw-compatible model: the part of ``lsst.geom``, ``lsst.afw.image``
(with ``SkyWcs`` of ``lsst.afw.geom``, PSFs of ``lsst.afw.detection``), the
``lsst.pex.exceptions`` types and afw's FITS layout that alert packaging uses.

Pure Python on numpy and astropy, with afw's names and signatures.
`lsst.ap.alerts._afw` is the one place that picks it (when ``lsst.afw`` is
absent); nothing here imports the alert code.  Layers, each importing only
those before it: `exceptions`, `geom`, `image` (the classes), `fits`
(reading and writing, and the classes' ``readFits``/``writeFits``, attached
when this package is imported).
"""

from . import exceptions, fits, geom, image  # noqa: F401

__all__ = []
