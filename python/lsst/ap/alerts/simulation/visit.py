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

"""A whole simulated visit: catalogs and exposures consistent with each other."""

from __future__ import annotations

__all__ = ["RUN_ARGUMENTS", "makeSimulatedVisit", "runArguments"]

import numpy as np

from .catalogs import makeVisitCatalogs
from .exposures import makeVisitExposures, makeVisitWcs
from .survey import DEFAULT_BORESIGHT


def makeSimulatedVisit(
    nSources: int = 50,
    historyDepth: int = 10,
    *,
    seed: int = 0,
    size=400,
    boresight: tuple[float, float] = DEFAULT_BORESIGHT,
    boresightRotAngle: float = 0.0,
    sip: bool = True,
    exposureKwargs: dict | None = None,
    **catalogKwargs,
):
    """Everything `PackageAlertsTask.run` needs for one simulated visit.

    The catalogs' x/y are the exposures' WCS applied to their ra/dec, and
    the images show the DiaSources at those positions with their measured
    difference fluxes and true template fluxes.

    Parameters
    ----------
    nSources, historyDepth, seed
        As `makeVisitCatalogs`.
    size : `int` or `tuple` [`int`, `int`]
        Detector (width, height) in pixels.
    boresight, boresightRotAngle, sip
        Pointing, rotation and distortion of the WCS (`makeVisitWcs`).
    exposureKwargs : `dict`, optional
        More `makeVisitExposures` arguments (``psfSigma``, ``nStars``,
        ``templateOffset``...).
    **catalogKwargs
        More `makeVisitCatalogs` arguments (``fractionSolarSystem``,
        ``band``, ``midpointMjdTai``, ``fillAllFields``...).

    Returns
    -------
    visit : `lsst.pipe.base.Struct`
        ``diaSourceCat``, ``diaObjectCat``, ``diaSrcHistory``,
        ``diaForcedSources``, ``diffIm``, ``calexp``, ``template``,
        ``ssSrc`` (the `PackageAlertsTask.run` arguments) and
        ``catalogs`` (the `VisitCatalogs`).
    """
    from lsst.pipe.base import Struct

    width, height = (size, size) if np.isscalar(size) else size
    wcs = makeVisitWcs(
        width=width, height=height, boresight=boresight, rotAngle=boresightRotAngle, sip=sip, seed=seed
    )
    catalogs = makeVisitCatalogs(
        nSources, historyDepth, seed=seed, wcs=wcs, bbox=(width, height), boresight=boresight, **catalogKwargs
    )
    src = catalogs.diaSourceCat
    measured = src["psfFlux"].to_numpy(float)
    flux = np.where(np.isfinite(measured), measured, src["apFlux"].to_numpy(float))
    diffIm, calexp, template = makeVisitExposures(
        seed=seed,
        width=width,
        height=height,
        visit=catalogs.visit,
        detector=catalogs.detector,
        band=catalogs.band,
        midpointMjdTai=catalogs.midpointMjdTai,
        exposureTime=catalogs.exposureTime,
        boresight=boresight,
        boresightRotAngle=boresightRotAngle,
        wcs=wcs,
        sources={
            "x": src["x"].to_numpy(float),
            "y": src["y"].to_numpy(float),
            "flux": flux,
            "templateFlux": catalogs.templateFlux,
        },
        **(exposureKwargs or {}),
    )
    return Struct(
        diaSourceCat=catalogs.diaSourceCat,
        diaObjectCat=catalogs.diaObjectCat,
        diaSrcHistory=catalogs.diaSrcHistory,
        diaForcedSources=catalogs.diaForcedSources,
        diffIm=diffIm,
        calexp=calexp,
        template=template,
        ssSrc=catalogs.ssSrc,
        catalogs=catalogs,
    )


RUN_ARGUMENTS = (
    "diaSourceCat",
    "diaObjectCat",
    "diaSrcHistory",
    "diaForcedSources",
    "diffIm",
    "calexp",
    "template",
    "ssSrc",
)
"""The `PackageAlertsTask.run` arguments a simulated visit holds, by their parameter names."""


def runArguments(visit, **replace) -> dict:
    """``visit``'s `PackageAlertsTask.run` arguments as keywords, some replaced.

    ``task.run(**runArguments(visit, template=None))`` packages the visit
    without template cutouts.
    """
    unknown = set(replace) - set(RUN_ARGUMENTS)
    if unknown:
        raise TypeError(f"Not PackageAlertsTask.run arguments of a visit: {sorted(unknown)}")
    return {name: replace.get(name, getattr(visit, name)) for name in RUN_ARGUMENTS}
