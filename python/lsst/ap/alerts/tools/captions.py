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

"""The caption of an alert's figure: its identity, photometry and triage flags.

The triage line is red when the alert is flagged or a dipole, so a person
scanning many figures sees it first.
"""

from __future__ import annotations

__all__ = ["CAPTION_HEIGHT", "drawCaption"]

import math
import textwrap

from .inspection import summarizeAlert

CAPTION_HEIGHT = 1.1
"""Inches at the bottom of the figure the caption takes."""
_CAPTION_CHARS = 140  # monospace characters per caption line
_WARNING = "#b00020"


def drawCaption(fig, alert: dict, figureHeight: float) -> None:
    """The identity and photometry lines, and under them the triage line (red when flagged).

    Parameters
    ----------
    fig : `matplotlib.figure.Figure`
        The alert's figure.
    alert : `dict`
        A decoded alert.
    figureHeight : `float`
        Height of ``fig`` in inches: both are placed at fixed heights from
        the bottom, within `CAPTION_HEIGHT`.
    """
    identity, triage = _caption(alert)
    fig.text(
        0.5,
        (CAPTION_HEIGHT - 0.3) / figureHeight,
        identity,
        ha="center",
        va="center",
        fontsize=10,
        family="monospace",
        linespacing=1.45,
    )
    summary = summarizeAlert(alert, 0)
    # Hangs from a fixed line: a long list of flags wraps downwards.
    fig.text(
        0.5,
        0.42 / figureHeight,
        triage,
        ha="center",
        va="top",
        fontsize=10,
        linespacing=1.3,
        family="monospace",
        color=_WARNING if summary.flags or summary.isDipole else "#1a1a1a",
        fontweight="bold" if summary.flags else "normal",
    )


def _caption(alert: dict) -> tuple[str, str]:
    """(identity and photometry, triage flags) text lines."""
    summary = summarizeAlert(alert, 0)
    source = alert.get("diaSource") or {}

    def num(value, spec):
        return "?" if value is None or not math.isfinite(value) else format(value, spec)

    if summary.diaObjectId:
        objectText = f"diaObjectId {summary.diaObjectId}"
        if summary.nDiaSources is not None:
            objectText += f" (nDiaSources {summary.nDiaSources})"
    else:
        # diaObjectId 0 (or null) marks a solar-system source: name its ssObject instead.
        objectText = f"ssObjectId {source.get('ssObjectId') or '?'}"
    snr = f" (S/N {summary.snr:.1f})" if summary.snr is not None else ""
    mag = f"mag {summary.mag:.2f}" if summary.mag is not None else "mag — (flux ≤ 0)"
    identity = (
        f"diaSourceId {summary.diaSourceId}   {objectText}   band {summary.band or '?'}   "
        f"MJD {num(summary.midpointMjdTai, '.5f')}   visit {source.get('visit', '?')} "
        f"detector {source.get('detector', '?')}\n"
        f"psfFlux {num(summary.psfFlux, ',.1f')} ± {num(summary.psfFluxErr, ',.1f')} nJy{snr}   {mag}   "
        f"RA {num(summary.ra, '.6f')}°  Dec {num(summary.dec, '+.6f')}°"
    )
    reliability = num(summary.reliability, ".3f")
    dipole = {True: "YES", False: "no"}.get(summary.isDipole, "?")
    flags = ", ".join(summary.flags) if summary.flags else "none set"
    triage = f"reliability {reliability}   isDipole {dipole}   flags: {flags}"
    return identity, "\n".join(textwrap.wrap(triage, _CAPTION_CHARS, break_on_hyphens=False))
