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

"""What the simulated survey looks like: bands, depths, pixels, seeing, cadence.

Numbers shared by the catalog and image simulations, so that the two
describe the same observations.
"""

from __future__ import annotations

__all__ = ["LSST_BANDS"]

import numpy as np

LSST_BANDS = ("u", "g", "r", "i", "z", "y")
# Single-visit (30 s) 5-sigma point-source depths, AB mag, per band.
DEPTH5 = np.array([23.7, 24.8, 24.4, 24.0, 23.4, 22.5])
# Fraction of visits per band in the wide-fast-deep cadence.
BAND_WEIGHTS = np.array([0.07, 0.10, 0.22, 0.22, 0.20, 0.19])
AB_NJY = 31.4  # AB magnitude of 1 nJy
PIXEL_SCALE = 0.2  # arcsec per pixel
SEEING_FWHM = 0.8  # arcsec, median
DEFAULT_MJD = 61000.2  # 2025-11-21, 04:48 TAI
DEFAULT_BORESIGHT = (53.16, -28.10)  # ECDFS
HISTORY_NIGHTS = 350  # inside the APDB's 12 x 30-day window
N_DETECTORS = 189
MJD_2020 = 58849  # 2020-01-01: origin of the packed visit key in ids
RELIABILITY_VERSION = "rbResnet50-DC2-v2"


def skyNoise(band, seeing):
    """1-sigma point-source flux noise (nJy) from sky, per band and seeing."""
    return 10 ** ((AB_NJY - DEPTH5[band]) / 2.5) / 5.0 * seeing
