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

"""When, and under which ids, simulated sources were observed.

Rubin-style visit ids from times, 64-bit source ids packed from visit,
detector and a counter, and distinct earlier nights for histories.
"""

from __future__ import annotations

__all__: list[str] = []

import numpy as np

from .survey import MJD_2020


def civilDate(mjd):
    """(year, month, day) arrays of integer MJDs."""
    days = np.datetime64("1858-11-17", "D") + np.asarray(mjd, dtype=np.int64).astype("timedelta64[D]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    return year, month, day


def visitKeys(mjd):
    """Rubin-style visit ids (dayObs * 100000 + seqNum) and compact keys.

    dayObs rolls over at 12:00 UTC (TAI here); a visit every 38 s.
    """
    shifted = np.asarray(mjd, dtype=float) - 0.5
    dayObsMjd = np.floor(shifted).astype(np.int64)
    seq = 1 + np.floor((shifted - dayObsMjd) * 86400.0 / 38.0).astype(np.int64)
    year, month, day = civilDate(dayObsMjd)
    visit = (year * 10000 + month * 100 + day) * 100000 + seq
    key = (dayObsMjd - MJD_2020) * 4096 + seq
    return visit, key


def packId(key, detector, counter):
    """64-bit ids unique per (visit, detector, counter), like Rubin's packers."""
    return ((np.asarray(key, np.int64) * 256 + np.asarray(detector, np.int64)) << 20) + np.asarray(
        counter, np.int64
    )


def nightsBack(rng, nRows, depth, low, high):
    """Distinct sorted integer nights in [low, high) per row, ``depth`` each.

    ``low``/``high``/``depth`` may be per-row arrays; returns an (nRows,
    maxDepth) array and its validity mask (valid entries come first).
    """
    low = np.broadcast_to(np.asarray(low, np.int64), nRows)
    high = np.broadcast_to(np.asarray(high, np.int64), nRows)
    depth = np.minimum(np.broadcast_to(np.asarray(depth, np.int64), nRows), high - low)
    maxDepth = int(depth.max(initial=0))
    j = np.arange(maxDepth)
    valid = j[None, :] < depth[:, None]
    # Sorted draws with replacement from a range shortened by depth - 1,
    # plus 0, 1, 2...: strictly increasing, i.e. distinct nights.
    draws = np.where(valid, rng.random((nRows, maxDepth)), np.inf)
    draws.sort(axis=1)
    span = (high - low - depth + 1)[:, None]
    nights = np.where(valid, np.floor(np.where(valid, draws, 0.0) * span) + j[None, :] + low[:, None], 0)
    return nights.astype(np.int64), valid
