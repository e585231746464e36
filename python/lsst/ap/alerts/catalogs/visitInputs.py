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

"""What `PackageAlertsTask.run` is given for one visit/detector, in one carrier."""

from __future__ import annotations

__all__ = ["VisitInputs"]

import dataclasses
from typing import Any

import pandas as pd


@dataclasses.dataclass(frozen=True, slots=True)
class VisitInputs:
    """The eight inputs of `PackageAlertsTask.run`, passed on together.

    Validation (`lsst.ap.alerts.catalogs.inputChecks.validateRunInputs`) and
    preparation (`lsst.ap.alerts.catalogs.visitTables.prepareVisitTables`)
    take this carrier rather than the eight values positionally.  Nothing
    here is copied or modified.

    Attributes
    ----------
    diaSourceCat, diaObjectCat, diaSrcHistory, diaForcedSources : `pandas.DataFrame`
        The catalogs (history and forced sources may be `None`).
    diffIm, calexp : `lsst.afw.image.ExposureF`
        Difference and science images.
    template : `lsst.afw.image.ExposureF` or `None`
        Template image; `None` gives no template cutouts.
    ssSrc : `pandas.DataFrame` or `None`
        ssSource rows of the solar-system DiaSources.
    """

    diaSourceCat: pd.DataFrame
    diaObjectCat: pd.DataFrame
    diaSrcHistory: pd.DataFrame | None
    diaForcedSources: pd.DataFrame | None
    diffIm: Any
    calexp: Any
    template: Any = None
    ssSrc: pd.DataFrame | None = None

    def replace(self, **changes) -> VisitInputs:
        """Return a copy with some inputs replaced."""
        return dataclasses.replace(self, **changes)
