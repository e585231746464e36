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

"""Decoded content of alerts and cutouts, and how two sets of alerts differ.

Everything is compared on what a consumer decodes (Avro values, FITS pixels
and header WCS), not on bytes, so the comparisons hold whatever HDU layout
or card formatting either side uses.
"""

from __future__ import annotations

__all__ = ["CUTOUTS", "Cutout", "compareAlerts", "compareCutouts", "decodeCutout", "sameValue"]

import dataclasses
import io
import math
import warnings

import numpy as np
from astropy import wcs as astropyWcs
from astropy.io import fits

from .upstreamPackager import CUTOUTS

# Pixels, variance and PSF: equal (calibrateImage's float rounding is matched).
# Cutout WCS: CRPIX and CRVAL are the same numbers.  The task's CD matrix is
# the exact Jacobian (tests/cutouts/test_geometry.py); the oracle's is
# numerical: AST's getJacobian on real afw (1e-10 to 2e-7 off), central
# differences through astropy on the model (a few 1e-10).  Where AST's
# matrix is singular (a source within a pixel of x = 0 or y = 0, upstream's
# defect) only the task's is checked, to be non-singular.
CRPIX_ATOL = 1e-9  # pixels
CRVAL_ATOL = 1e-10  # degrees
CD_RTOL = 1e-6  # of the largest element


@dataclasses.dataclass
class Cutout:
    """What a consumer reads from a cutout's FITS bytes."""

    data: np.ndarray
    variance: np.ndarray | None
    psf: np.ndarray | None
    mask: np.ndarray | None
    maskPlanes: dict
    header: fits.Header
    wcs: astropyWcs.WCS


def decodeCutout(data: bytes) -> Cutout:
    """Read a cutout: pixels, variance, PSF, afw mask (if any), PRIMARY header and its WCS."""
    with fits.open(io.BytesIO(data)) as hdus:
        hdus.verify("exception")
        names = [hdu.name for hdu in hdus]
        primary = hdus[0]
        header = primary.header.copy()
        maskHdu = next((hdus[n] for n in ("AFWMASK", "MASK") if n in names), None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", astropyWcs.FITSFixedWarning)
            wcs = astropyWcs.WCS(header)
        return Cutout(
            data=np.array(primary.data),
            variance=np.array(hdus["UNCERT"].data) if "UNCERT" in names else None,
            psf=np.array(hdus["PSFIMAGE"].data) if "PSFIMAGE" in names else None,
            mask=None if maskHdu is None else np.array(maskHdu.data),
            maskPlanes={}
            if maskHdu is None
            else {k[3:]: v for k, v in maskHdu.header.items() if k.startswith("MP_")},
            header=header,
            wcs=wcs,
        )


def _sameArrays(a, b):
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def isSingular(matrix) -> bool:
    """Whether a 2×2 CD matrix maps the plane onto a line (to 1e-3 of its scale)."""
    return abs(np.linalg.det(matrix)) < 1e-3 * np.abs(matrix).max() ** 2


def compareCutouts(mine: Cutout, upstream: Cutout) -> list[str]:
    """What differs between two decoded cutouts, beyond the documented tolerances."""
    problems = []
    for name in ("data", "variance", "psf"):
        if not _sameArrays(getattr(mine, name), getattr(upstream, name)):
            problems.append(name)
    for key in ("CUTMINX", "CUTMINY"):
        if mine.header.get(key) != upstream.header.get(key):
            problems.append(f"{key} {mine.header.get(key)} != {upstream.header.get(key)}")
    a, b = mine.wcs.wcs, upstream.wcs.wcs
    if not np.allclose(a.crpix, b.crpix, rtol=0, atol=CRPIX_ATOL):
        problems.append(f"CRPIX {a.crpix} != {b.crpix}")
    if not np.allclose(a.crval, b.crval, rtol=0, atol=CRVAL_ATOL):
        problems.append(f"CRVAL {a.crval} != {b.crval}")
    cdA, cdB = mine.wcs.pixel_scale_matrix, upstream.wcs.pixel_scale_matrix
    if isSingular(cdA):
        problems.append(f"singular CD {cdA.tolist()}")
    elif not isSingular(cdB) and not np.allclose(cdA, cdB, rtol=0, atol=CD_RTOL * np.abs(cdB).max()):
        problems.append(f"CD {cdA.tolist()} != {cdB.tolist()}")
    return problems


def sameValue(a, b) -> bool:
    """Equal, NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def _recordProblems(a, b, where) -> list[str]:
    if a is None or b is None:
        return [] if a is None and b is None else [f"{where}: one is null"]
    if a.keys() != b.keys():
        return [f"{where}: fields {sorted(a.keys() ^ b.keys())}"]
    return [f"{where}.{k}: {a[k]!r} != {b[k]!r}" for k in a if not sameValue(a[k], b[k])]


def compareAlerts(mine, upstream, cutoutSample=None, seed=0) -> list[str]:
    """Compare decoded alerts field by field, and (a sample of) their cutouts.

    Parameters
    ----------
    mine, upstream : sequence of `dict`
        Decoded alerts (both through Avro, so float32 rounding is equal).
    cutoutSample : `int`, optional
        Compare the cutouts of this many randomly chosen alerts (all if `None`).

    Returns
    -------
    problems : `list` [`str`]
        Empty if the alerts agree.
    """
    if [a["diaSourceId"] for a in mine] != [a["diaSourceId"] for a in upstream]:
        return ["diaSourceIds differ (or their order)"]
    problems = []
    for a, b in zip(mine, upstream, strict=True):
        srcId = a["diaSourceId"]
        for key in ("observation_reason", "target_name"):
            if a[key] != b[key]:
                problems.append(f"{srcId}: {key} {a[key]!r} != {b[key]!r}")
        for key in ("diaSource", "diaObject", "ssSource", "mpc_orbits"):
            problems += _recordProblems(a[key], b[key], f"{srcId}: {key}")
        for key in ("prvDiaSources", "prvDiaForcedSources"):
            if a[key] is None or b[key] is None or len(a[key]) != len(b[key]):
                if not (a[key] is None and b[key] is None):
                    problems.append(f"{srcId}: {key} lengths differ")
                continue
            for i, (x, y) in enumerate(zip(a[key], b[key], strict=True)):
                problems += _recordProblems(x, y, f"{srcId}: {key}[{i}]")
    indices = range(len(mine))
    if cutoutSample is not None and cutoutSample < len(mine):
        indices = sorted(np.random.default_rng(seed).choice(len(mine), cutoutSample, replace=False))
    for i in indices:
        for name in CUTOUTS:
            a, b = mine[i][name], upstream[i][name]
            if a is None or b is None:
                if not (a is None and b is None):
                    problems.append(f"{mine[i]['diaSourceId']}: {name}: one is null")
                continue
            for problem in compareCutouts(decodeCutout(a), decodeCutout(b)):
                problems.append(f"{mine[i]['diaSourceId']}: {name}: {problem}")
    return problems
