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

"""Shared builders and assertions for the tests of the image model
(``tests/afwModel/``).

The builders use ``geom``, ``afwImage`` and ``afwGeom`` from
``lsst.ap.alerts._afw``: they make real afw objects when afw is installed and
the model's otherwise, so the semantic tests run on both tiers.
"""

__all__ = [
    "AFW_DATA",
    "DateTime",
    "GaussianPsf",
    "PropertyList",
    "TanSipHelper",
    "afwDataPath",
    "assertPairClose",
    "assertSkyClose",
    "makeExposure",
    "makeFitsExposure",
    "makeWcs",
]

from pathlib import Path

import numpy as np

from lsst.ap.alerts._afw import HAVE_AFW, afwGeom, afwImage, geom

if HAVE_AFW:
    from lsst.afw.detection import GaussianPsf
    from lsst.daf.base import DateTime, PropertyList
else:
    from lsst.ap.alerts.afwModel.image import DateTime, GaussianPsf, PropertyList


def assertSkyClose(testCase, sky1, sky2, maxSep):
    """Assert two SpherePoints are within ``maxSep`` (an Angle)."""
    sep = sky1.separation(sky2)
    testCase.assertLessEqual(sep.asArcseconds(), maxSep.asArcseconds(), msg=f"{sky1} vs {sky2}")


def assertPairClose(testCase, pair1, pair2, maxDiff=1e-10):
    """Assert two points/extents agree to ``maxDiff`` in each coordinate."""
    testCase.assertLessEqual(abs(pair1[0] - pair2[0]), maxDiff, msg=f"{pair1} vs {pair2}")
    testCase.assertLessEqual(abs(pair1[1] - pair2[1]), maxDiff, msg=f"{pair1} vs {pair2}")


def makeWcs(crpix=(500.0, 400.0), crval=(150.0, 2.5), scaleArcsec=0.2, orientationDeg=30.0):
    """A TAN SkyWcs from its pixel origin, sky origin, scale and orientation."""
    cd = afwGeom.makeCdMatrix(scaleArcsec * geom.arcseconds, orientationDeg * geom.degrees)
    return afwGeom.makeSkyWcs(geom.Point2D(*crpix), geom.SpherePoint(crval[0], crval[1], geom.degrees), cd)


def makeExposure(width=100, height=80, xy0=(1000, 2000)):
    """An ExposureF with ramp pixels and every component the package uses."""
    bbox = geom.Box2I(geom.Point2I(*xy0), geom.Extent2I(width, height))
    exposure = afwImage.ExposureF(bbox)
    exposure.image.array[:] = np.arange(width * height, dtype=np.float32).reshape(height, width)
    exposure.variance.array[:] = 2.0
    exposure.mask.array[:] = 0
    exposure.mask.array[3, 4] = exposure.mask.getPlaneBitMask("SAT")
    exposure.setWcs(makeWcs(crpix=(xy0[0] + 50.0, xy0[1] + 40.0)))
    exposure.setPhotoCalib(afwImage.PhotoCalib(2.5, 0.1))
    exposure.setPsf(GaussianPsf(15, 15, 1.5))
    exposure.setFilter(afwImage.FilterLabel(band="r", physical="r_03"))
    exposure.info.setVisitInfo(afwImage.VisitInfo(exposureTime=30.0, id=123))
    exposure.info.id = 42
    return exposure


def makeFitsExposure():
    """A small ExposureF with random pixels, a TAN-SIP WCS and a full
    VisitInfo, for FITS round trips."""
    bbox = geom.Box2I(geom.Point2I(123, -45), geom.Extent2I(30, 20))
    exposure = afwImage.ExposureF(bbox)
    rng = np.random.default_rng(12)
    exposure.image.array[:] = rng.normal(size=(20, 30)).astype(np.float32)
    exposure.variance.array[:] = rng.uniform(1, 2, size=(20, 30)).astype(np.float32)
    exposure.mask.array[:] = 0
    exposure.mask.array[2, 3] = exposure.mask.getPlaneBitMask(["SAT", "CR"])
    sipA = np.zeros((3, 3))
    sipB = np.zeros((3, 3))
    sipA[2, 0], sipB[0, 2] = 1e-6, -2e-6
    cd = afwGeom.makeCdMatrix(0.2 * geom.arcseconds, 20.0 * geom.degrees)
    exposure.setWcs(
        afwGeom.makeTanSipWcs(
            geom.Point2D(140.0, -30.0), geom.SpherePoint(200.0, -30.0, geom.degrees), cd, sipA, sipB
        )
    )
    exposure.setPhotoCalib(afwImage.PhotoCalib(0.75, 0.01))
    exposure.setPsf(GaussianPsf(17, 17, 1.7))
    exposure.setFilter(afwImage.FilterLabel(band="i", physical="i_39"))
    exposure.info.id = 20240101123
    exposure.info.setVisitInfo(
        afwImage.VisitInfo(
            id=2024010112,
            exposureTime=30.0,
            darkTime=30.5,
            date=DateTime("2024-01-01T03:04:05.123456789", DateTime.TAI),
            boresightRaDec=geom.SpherePoint(200.1, -29.9, geom.degrees),
            boresightRotAngle=33.0 * geom.degrees,
            rotType=afwImage.RotType.SKY,
            observationReason="science",
            object="field",
            instrumentLabel="LSSTCam",
        )
    )
    exposure.getMetadata().set("MYKEY", 5)
    return exposure


class TanSipHelper:
    """A TAN-SIP WCS with known SIP coefficients (third order)."""

    sipA = np.zeros((4, 4))
    sipB = np.zeros((4, 4))
    sipA[2, 0], sipA[1, 1], sipA[0, 2], sipA[3, 0] = 2e-6, -1e-6, 5e-7, 1e-10
    sipB[0, 2], sipB[1, 1], sipB[2, 0], sipB[0, 3] = 3e-6, 1e-6, -6e-7, -2e-10

    @classmethod
    def make(cls):
        cd = afwGeom.makeCdMatrix(0.2 * geom.arcseconds, 10.0 * geom.degrees)
        return afwGeom.makeTanSipWcs(
            geom.Point2D(1000.0, 1000.0), geom.SpherePoint(30.0, -20.0, geom.degrees), cd, cls.sipA, cls.sipB
        )


def _findAfwData():
    """The afw-written test files (``shared/data/afw`` beside the checkout),
    or `None`."""
    here = Path(__file__)
    for base in (here.parents[3], here.resolve().parents[2].parent):
        candidate = base / "shared" / "data" / "afw"
        if candidate.exists():
            return candidate
    return None


AFW_DATA = _findAfwData()


def afwDataPath(name):
    """Path of the afw-written file ``name`` (a path that does not exist if
    the files are absent)."""
    return str(AFW_DATA / name) if AFW_DATA is not None else "/nonexistent/" + name
