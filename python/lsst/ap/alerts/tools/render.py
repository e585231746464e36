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

"""A figure of one alert as a person triages it (``ap-alerts render``).

Top row: the difference, science and template cutouts and the PSF
(`lsst.ap.alerts.tools.stamps`); below them the light curve the alert
carries (`lsst.ap.alerts.tools.lightCurve`) and a caption with the ids,
photometry and the triage flags (`lsst.ap.alerts.tools.captions`).  This
module lays them out and writes the file.

Drawn with matplotlib's Agg canvas directly (no pyplot state), so it is safe
to call in-process, in worker processes and without a display.
"""

from __future__ import annotations

__all__ = [
    "RENDER_FORMATS",
    "RenderedStamp",
    "renderAlert",
]

import dataclasses
import math

from .captions import CAPTION_HEIGHT, drawCaption
from .lightCurve import drawLightCurve
from .stamps import (
    PANELS,
    STRETCHES,
    chooseStretches,
    drawPsf,
    drawStamps,
    findPsfCutout,
    loadCutout,
    psfFwhmPixels,
)

RENDER_FORMATS = ("png", "svg", "pdf")
"""File formats `renderAlert` writes, chosen by the file's suffix."""

_DPI = 100
_STAMP = 2.9  # inches per image panel
_GAP = 0.12
_MARGIN = 0.15
_TITLE = 0.32
_LIMITS = 0.32  # line of stretch limits under the stamps
_CURVE = 2.5
_CURVE_TOP_GAP = 0.35
_CURVE_BOTTOM = 0.5  # axis labels under the light curve
_BACKGROUND = "#f4f4f4"


@dataclasses.dataclass(frozen=True)
class RenderedStamp:
    """What `renderAlert` drew.

    Attributes
    ----------
    path : `str`
        The file written.
    width, height : `int`
        Its size in pixels (PNG; the size in points at 100 per inch for SVG/PDF).
    panels : `dict` [`str`, `tuple`]
        Pixel box ``(left, top, right, bottom)`` (row 0 at the top, as
        image readers index) of each panel: ``"cutoutDifference"``,
        ``"cutoutScience"``, ``"cutoutTemplate"``, ``"psf"``, ``"lightCurve"``.
    drawn : `dict` [`str`, `bool`]
        Whether each image panel shows an image (False: empty, labelled).
    stretches : `dict` [`str`, `~lsst.ap.alerts.tools.stamps.Stretch`]
        The stretch of each drawn cutout.
    overlays : `dict` [`str`, `dict`]
        Per drawn cutout with a WCS: ``"compass"`` and ``"scaleBar"`` boxes
        ``(xmin, ymin, xmax, ymax)`` in the cutout's pixel coordinates, and
        the ``"source"`` pixel position.
    psfFwhm : `float` or `None`
        FWHM of the PSF drawn, pixels.
    pixelScale : `float` or `None`
        Arcseconds per pixel of the cutouts (from their WCS).
    lightCurvePoints : `dict` [`str`, `int`]
        Points drawn: ``"detections"``, ``"forced"``, and ``"skipped"``
        (history entries without a finite flux or time).
    """

    path: str
    width: int
    height: int
    panels: dict
    drawn: dict
    stretches: dict
    overlays: dict
    psfFwhm: float | None
    pixelScale: float | None
    lightCurvePoints: dict


def _layout():
    """Figure size (inches) and each panel's rectangle (left, bottom, width, height) in figure fractions."""
    width = 2 * _MARGIN + 4 * _STAMP + 3 * _GAP
    height = _TITLE + _STAMP + _LIMITS + _CURVE_TOP_GAP + _CURVE + _CURVE_BOTTOM + CAPTION_HEIGHT
    stampBottom = height - _TITLE - _STAMP
    rects = [
        ((_MARGIN + i * (_STAMP + _GAP)) / width, stampBottom / height, _STAMP / width, _STAMP / height)
        for i in range(4)
    ]
    curveLeft = 0.8
    curveWidth = width - curveLeft - 2.3  # room for the legend on the right
    curveBottom = CAPTION_HEIGHT + _CURVE_BOTTOM
    curve = (curveLeft / width, curveBottom / height, curveWidth / width, _CURVE / height)
    return (width, height), rects, curve


def _outputFormat(path) -> str:
    suffix = str(path).rsplit(".", 1)[-1].lower() if "." in str(path).rsplit("/", 1)[-1] else ""
    if suffix not in RENDER_FORMATS:
        raise ValueError(f"{path}: cannot tell the format; name the file *.png, *.svg or *.pdf")
    return suffix


def renderAlert(alert: dict, path: str, stretch: str = STRETCHES[0]) -> RenderedStamp:
    """Draw an alert's cutouts, PSF, light curve and triage caption to a file.

    Parameters
    ----------
    alert : `dict`
        A decoded alert.
    path : `str`
        File to write; its suffix (``.png``, ``.svg``, ``.pdf``) is the format.
    stretch : `str`
        ``"asinh"`` (default) or ``"zscale"``; see `~lsst.ap.alerts.tools.stamps.chooseStretch`.

    Returns
    -------
    stamp : `RenderedStamp`
        File, size, where each panel is and what was drawn.

    Raises
    ------
    ValueError
        If ``stretch`` is unknown or ``path`` has no known suffix.
    """
    if stretch not in STRETCHES:
        raise ValueError(f"Unknown stretch {stretch!r}; choose one of {', '.join(STRETCHES)}")
    fileFormat = _outputFormat(path)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size, rects, curveRect = _layout()
    fig = Figure(figsize=size, dpi=_DPI, facecolor=_BACKGROUND)
    FigureCanvasAgg(fig)
    axes = [fig.add_axes(rect) for rect in rects]
    cutouts = {field: loadCutout(alert.get(field)) for field, _, _ in PANELS}
    stretches, shared = chooseStretches(cutouts, stretch)
    psfCutout = findPsfCutout(cutouts)
    fwhm = psfFwhmPixels(psfCutout[0].psf) if psfCutout is not None else None
    # The stamps first: the PSF panel states their pixel scale.
    drawn, overlays, scale = drawStamps(axes[:3], cutouts, stretches, shared, _sourcePosition(alert), fwhm)
    drawPsf(axes[3], psfCutout, scale, fwhm)
    drawn["psf"] = psfCutout is not None
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
    curveAx = fig.add_axes(curveRect)
    points = drawLightCurve(curveAx, alert)
    drawCaption(fig, alert, size[1])
    _save(fig, path, fileFormat)
    # Saving laid the figure out (equal aspect shrinks the panels): measure now.
    width, height = fig.canvas.get_width_height()
    return RenderedStamp(
        str(path),
        width,
        height,
        _panelBoxes(axes + [curveAx], height),
        drawn,
        {k: v for k, v in stretches.items() if v is not None},
        overlays,
        fwhm,
        scale,
        points,
    )


def _sourcePosition(alert: dict) -> tuple[float | None, float | None]:
    """(ra, dec) of the alert's diaSource, or (None, None) unless both are finite."""
    source = alert.get("diaSource") or {}
    ra, dec = source.get("ra"), source.get("dec")
    if ra is None or dec is None or not (math.isfinite(ra) and math.isfinite(dec)):
        return None, None
    return ra, dec


def _save(fig, path: str, fileFormat: str) -> None:
    """Write the figure in ``fileFormat``."""
    import matplotlib

    # SVG keeps its text as text (searchable, editable), not glyph outlines.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(path, dpi=_DPI, facecolor=_BACKGROUND, format=fileFormat)


def _panelBoxes(axes, height: int) -> dict:
    """Pixel box of each panel (see `RenderedStamp.panels`) in a figure ``height`` pixels high.

    Only valid after the figure was saved: saving lays it out, and the equal
    aspect of the stamps shrinks their axes.

    Parameters
    ----------
    axes : `list` [`matplotlib.axes.Axes`]
        The difference, science, template, PSF and light-curve axes, in that order.
    height : `int`
        Figure height in pixels.
    """
    names = [p[0] for p in PANELS] + ["psf", "lightCurve"]
    panels = {}
    for ax, name in zip(axes, names, strict=True):
        box = ax.get_window_extent()
        # Display coordinates have y up from the bottom; image rows run down.
        panels[name] = (
            math.ceil(box.x0),
            math.ceil(height - box.y1),
            math.floor(box.x1),
            math.floor(height - box.y0),
        )
    return panels
