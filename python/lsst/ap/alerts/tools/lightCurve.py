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

"""The light curve of an alert's figure.

What the alert carries: ``prvDiaSources`` filled, ``prvDiaForcedSources``
open, one colour and symbol per band, the alert's own diaSource
highlighted; history entries without a finite flux or time are counted, not
drawn.
"""

from __future__ import annotations

__all__ = ["BAND_COLOURS", "BAND_SYMBOLS", "drawLightCurve"]

import math

import numpy as np

# Rubin's band colours and symbols (as lsst.utils.plotting's
# get_multiband_plot_colors/symbols give them), without importing lsst.utils.
BAND_COLOURS = {
    "u": "#1600EA",
    "g": "#31DE1F",
    "r": "#B52626",
    "i": "#370201",
    "z": "#BA52FF",
    "y": "#61A2B3",
}
BAND_SYMBOLS = {"u": "o", "g": "^", "r": "v", "i": "s", "z": "*", "y": "p"}
_OTHER_BAND = ("#777777", "D")
_MIN_CURVE_DAYS = 30.0


def drawLightCurve(ax, alert: dict) -> dict:
    """Plot psfFlux ± err against MJD; return the points drawn.

    Parameters
    ----------
    ax : `matplotlib.axes.Axes`
        Axes to draw into.
    alert : `dict`
        A decoded alert.

    Returns
    -------
    points : `dict` [`str`, `int`]
        Points drawn: ``"detections"``, ``"forced"``, and ``"skipped"``
        (history entries without a finite flux or time).
    """
    detections, skippedDetections = _historyPoints(alert.get("prvDiaSources"))
    forced, skippedForced = _historyPoints(alert.get("prvDiaForcedSources"))
    current, _ = _historyPoints([alert.get("diaSource") or {}])
    bands = _bandOrder(detections + forced + current)
    ax.axhline(0.0, color="#999999", lw=0.8, zorder=0)
    _plotHistory(ax, bands, detections, forced)
    _plotThisAlert(ax, current)
    _lightCurveLegend(ax, bands)
    _lightCurveAxes(ax, [row[0] for row in detections + forced + current])
    skipped = skippedDetections + skippedForced
    ax.set_title(_lightCurveTitle(len(detections), len(forced), skipped), fontsize=10.5, loc="left")
    return {"detections": len(detections), "forced": len(forced), "skipped": skipped}


def _historyPoints(entries):
    """(mjd, flux, err, band) arrays of the history entries with a finite flux and time; skipped count."""
    rows = []
    skipped = 0
    for entry in entries or ():
        mjd, flux, err = entry.get("midpointMjdTai"), entry.get("psfFlux"), entry.get("psfFluxErr")
        if mjd is None or flux is None or not (math.isfinite(mjd) and math.isfinite(flux)):
            skipped += 1
            continue
        err = err if err is not None and math.isfinite(err) else 0.0
        rows.append((mjd, flux, err, entry.get("band") or "?"))
    return rows, skipped


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _bandStyle(band):
    return BAND_COLOURS.get(band, _OTHER_BAND[0]), BAND_SYMBOLS.get(band, _OTHER_BAND[1])


def _bandOrder(rows) -> list[str]:
    """The bands of ``rows`` in Rubin's order (u to y), unknown bands after them by name."""
    return sorted(
        {row[3] for row in rows},
        key=lambda b: (list(BAND_COLOURS).index(b) if b in BAND_COLOURS else 99, b),
    )


def _plotHistory(ax, bands, detections, forced) -> None:
    """Earlier detections (filled) and forced measurements (open), band by band.

    Parameters
    ----------
    ax : `matplotlib.axes.Axes`
        The light-curve axes.
    bands : `list` [`str`]
        Bands to plot, in legend order.
    detections, forced : `list` [`tuple`]
        (mjd, flux, err, band) rows of ``prvDiaSources`` and
        ``prvDiaForcedSources`` (`_historyPoints`).
    """
    for band in bands:
        colour, symbol = _bandStyle(band)
        for rows, filled in ((detections, True), (forced, False)):
            mine = [r for r in rows if r[3] == band]
            if not mine:
                continue
            mjd, flux, err, _ = zip(*mine, strict=True)
            ax.errorbar(
                mjd,
                flux,
                yerr=err,
                fmt=symbol,
                ms=5.5 if filled else 5.0,
                color=colour,
                mfc=colour if filled else "none",
                mec=colour,
                elinewidth=0.9,
                alpha=1.0 if filled else 0.75,
                capsize=0,
                zorder=3 if filled else 2,
            )


def _plotThisAlert(ax, current) -> None:
    """The alert's own diaSource: a large, black-rimmed point over the history, on a dotted line."""
    for mjd, flux, err, band in current:
        colour, symbol = _bandStyle(band)
        ax.axvline(mjd, color="#333333", lw=0.8, ls=":", zorder=1)
        ax.errorbar(
            [mjd],
            [flux],
            yerr=[err],
            fmt=symbol,
            ms=13,
            color=colour,
            mfc=colour,
            mec="black",
            mew=2.0,
            elinewidth=1.5,
            capsize=0,
            zorder=5,
        )


def _lightCurveLegend(ax, bands) -> None:
    """Legend right of the light curve: one entry per band, then what the marker styles mean."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], ls="", marker=_bandStyle(b)[1], color=_bandStyle(b)[0], ms=6, label=b) for b in bands
    ]
    handles += [
        Line2D([], [], ls="", marker="o", color="#555555", ms=6, label="detection (prvDiaSources)"),
        Line2D(
            [], [], ls="", marker="o", mfc="none", mec="#555555", ms=6, label="forced (prvDiaForcedSources)"
        ),
        Line2D([], [], ls="", marker="o", color="#bbbbbb", mec="black", mew=2.0, ms=10, label="this alert"),
    ]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.005, 1.0),
        fontsize=8.5,
        frameon=False,
        borderaxespad=0.0,
    )


def _lightCurveAxes(ax, mjds) -> None:
    """Limits, labels and ticks of the light curve, whose points are at times ``mjds``."""
    ax.margins(x=0.03, y=0.12)
    if mjds and np.ptp(mjds) < _MIN_CURVE_DAYS:
        # Points of one night only: show a month around them, not a fraction of a day.
        middle = float(np.mean(mjds))
        ax.set_xlim(middle - _MIN_CURVE_DAYS / 2, middle + _MIN_CURVE_DAYS / 2)
    ax.set_xlabel("MJD (TAI)", fontsize=9.5)
    ax.set_ylabel("psfFlux (nJy)", fontsize=9.5)
    ax.tick_params(labelsize=8.5)
    ax.ticklabel_format(axis="x", useOffset=False, style="plain")


def _lightCurveTitle(nDetections: int, nForced: int, skipped: int) -> str:
    """What the light curve shows, and how many history entries it could not."""
    if not nDetections and not nForced:
        return "Light curve: no earlier detections or forced photometry" + (
            f" ({skipped} entries without a flux or time)" if skipped else ""
        )
    return (
        f"Light curve: {_plural(nDetections, 'earlier detection')}, "
        f"{_plural(nForced, 'forced measurement')}"
        + (f"  ({skipped} without a flux or time, not shown)" if skipped else "")
    )
