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

"""The top row of an alert's figure: its cutouts and PSF as stamps.

Each cutout with north/east arrows from its own WCS (in the corner clearest
of the source and of bright pixels), a scale bar, the source position
marked, and the stretch limits written under it.  Science and template share
one stretch so they compare by eye; the difference has its own, symmetric
about zero.  The default stretch is asinh between percentile limits: linear
in the noise, logarithmic above, so bright cores keep their shape.  The PSF
is drawn at the cutouts' pixel scale, with its FWHM.  A missing or
unreadable cutout becomes an empty, labelled panel.
"""

from __future__ import annotations

__all__ = [
    "PANELS",
    "STRETCHES",
    "Stretch",
    "chooseStretch",
    "chooseStretches",
    "drawPsf",
    "drawStamps",
    "loadCutout",
    "findPsfCutout",
    "psfFwhmPixels",
]

import dataclasses
import math
import warnings

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.visualization import ZScaleInterval
from astropy.wcs.utils import proj_plane_pixel_scales
from matplotlib import patheffects

from ..cutouts.ccdData import readCutout

PANELS = (
    ("cutoutDifference", "Difference", "difference"),
    ("cutoutScience", "Science", "science"),
    ("cutoutTemplate", "Template", "template"),
)
"""(alert field, panel title, word for "no ...") of the image panels."""

STRETCHES = ("asinh", "zscale")
"""Stretches `~lsst.ap.alerts.tools.render.renderAlert` knows; the first is the default."""

_EMPTY_PANEL = "#dcdcdc"
_BAD_PIXEL = "#2b3a55"
_MARKER = "#ff3b30"
_ARROWS = "#ffd60a"
# Dark rim that keeps the overlays visible on light and dark pixels alike.
_OUTLINE = [patheffects.withStroke(linewidth=3.0, foreground="#00000099")]
_TEXT_OUTLINE = [patheffects.withStroke(linewidth=1.5, foreground="#000000aa")]
# Fractions of the panel's side: arrow length, arrow tip to label, corner
# margin, and the gap/length of the source tick marks.
_ARROW_FRACTION = 0.16
_LABEL_OFFSET = 0.07
_CORNER_MARGIN = 0.05
_TICK_GAP = 0.06
_TICK_LENGTH = 0.10
# Overlays keep this far (fraction of the side) from the source.
_CLEAR_RADIUS = 0.12
# asinh stretch: percentile limits, linear part (sky sigmas) and the least
# range (sky sigmas) so pure noise is not stretched to full contrast.
_LOW_PERCENTILE = 0.5
_HIGH_PERCENTILE = 99.9
_ASINH_SOFTENING_SIGMAS = 3.0
_MIN_RANGE_SIGMAS = 10.0
_SCALE_BAR_ARCSEC = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)
_SCALE_BAR_MAX_FRACTION = 0.3
_GAUSSIAN_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


@dataclasses.dataclass(frozen=True)
class Stretch:
    """A mapping of pixel values (nJy) to display levels 0-1.

    Attributes
    ----------
    kind : `str`
        ``"asinh"`` or ``"zscale"`` (linear).
    low, high : `float`
        Values shown black and white (``-high`` and ``high`` when
        ``symmetric``).
    softening : `float`
        asinh only: the value scale (nJy) below which the stretch is linear.
    symmetric : `bool`
        Zero is mid-grey (difference images: negative sources dark).
    """

    kind: str
    low: float
    high: float
    softening: float = 0.0
    symmetric: bool = False

    def __call__(self, data) -> np.ndarray:
        """Display levels of ``data``, clipped to 0-1 (NaN stays NaN)."""
        x = np.asarray(data, dtype=float)
        if self.kind == "asinh" and self.symmetric:
            levels = 0.5 + 0.5 * np.arcsinh(x / self.softening) / np.arcsinh(self.high / self.softening)
        elif self.kind == "asinh":
            levels = np.arcsinh((x - self.low) / self.softening) / np.arcsinh(
                (self.high - self.low) / self.softening
            )
        else:
            levels = (x - self.low) / (self.high - self.low)
        return np.clip(levels, 0.0, 1.0)

    def describe(self) -> str:
        """``"asinh −120 … 4,900 nJy"``: the kind and its limits."""
        return f"{self.kind} {_number(self.low)} … {_number(self.high)} nJy"


def _number(value: float) -> str:
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return text.replace("-", "−")


def chooseStretch(arrays, kind: str = "asinh", symmetric: bool = False) -> Stretch:
    """One stretch for all the pixels of ``arrays``.

    Parameters
    ----------
    arrays : iterable of `numpy.ndarray`
        Images to be shown with it (NaN pixels are ignored).
    kind : `str`
        ``"asinh"``: between the 0.5 and 99.9 percentiles, linear below
        3 sky sigmas (robust: 1.4826 MAD) and logarithmic above;
        ``"zscale"``: linear between IRAF's zscale limits.
    symmetric : `bool`
        Limits symmetric about zero (difference images).

    Returns
    -------
    stretch : `Stretch`
    """
    if kind not in STRETCHES:
        raise ValueError(f"Unknown stretch {kind!r}; choose one of {', '.join(STRETCHES)}")
    values = [np.asarray(a, dtype=float).ravel() for a in arrays]
    finite = np.concatenate(values) if values else np.empty(0)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return Stretch(kind, -1.0 if symmetric else 0.0, 1.0, 1.0, symmetric)
    if kind == "zscale":
        low, high = (float(v) for v in ZScaleInterval().get_limits(finite))
        if symmetric:
            high = max(abs(low), abs(high))
            low = -high
        if not high > low:
            low, high = low - 1.0, high + 1.0
        return Stretch(kind, low, high, 0.0, symmetric)
    median = float(np.median(finite))
    sigma = 1.4826 * float(np.median(np.abs(finite - median)))
    if not sigma > 0:
        sigma = float(np.std(finite)) or 1.0
    if symmetric:
        # The brighter sign sets the range: negative sources keep their cores too.
        high = max(float(np.percentile(np.abs(finite), _HIGH_PERCENTILE)), 0.5 * _MIN_RANGE_SIGMAS * sigma)
        low = -high
    else:
        low, high = (float(v) for v in np.percentile(finite, (_LOW_PERCENTILE, _HIGH_PERCENTILE)))
        high = max(high, low + _MIN_RANGE_SIGMAS * sigma)
    return Stretch(kind, low, high, _ASINH_SOFTENING_SIGMAS * sigma, symmetric)


def psfFwhmPixels(psf: np.ndarray) -> float | None:
    """FWHM (pixels) of a PSF image, from its second moments.

    ``2 sqrt(2 ln 2) sqrt((Ixx + Iyy) / 2)``: exact for a Gaussian, and the
    Gaussian-equivalent width otherwise.  Negative pixels (noise in a
    measured PSF) are ignored.  `None` for an empty image.
    """
    image = np.clip(np.nan_to_num(np.asarray(psf, dtype=float)), 0.0, None)
    total = image.sum()
    if not total > 0:
        return None
    y, x = np.indices(image.shape)
    cx, cy = (image * x).sum() / total, (image * y).sum() / total
    ixx = (image * (x - cx) ** 2).sum() / total
    iyy = (image * (y - cy) ** 2).sum() / total
    return _GAUSSIAN_FWHM_PER_SIGMA * math.sqrt(0.5 * (ixx + iyy))


def loadCutout(data):
    """A panel's cutout: (`~lsst.ap.alerts.cutouts.ccdData.AlertCutout` or `None`, error name if unreadable).

    Read by `lsst.ap.alerts.cutouts.ccdData.readCutout` (every layout, the
    afw mask planes when present); a missing cutout is (`None`, `None`).
    """
    if data is None:
        return None, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return readCutout(data), None
    except Exception as e:
        return None, f"{type(e).__name__}"


def _pixelScale(wcs) -> float | None:
    """Mean arcseconds per pixel of a celestial WCS."""
    if wcs is None or not wcs.has_celestial:
        return None
    return float(np.mean(proj_plane_pixel_scales(wcs.celestial))) * 3600.0


def _sourcePixel(wcs, ra, dec, shape):
    """Pixel position of the source: (ra, dec) through the WCS, else the reference pixel."""
    if wcs is None or not wcs.has_celestial:
        return None
    if ra is None:
        ra, dec = (float(v) for v in wcs.wcs.crval)
    x, y = (float(c) for c in wcs.world_to_pixel(SkyCoord(ra, dec, unit="deg")))
    return (x, y) if math.isfinite(x) and math.isfinite(y) else None


def _directionVector(wcs, ra: float, dec: float, dRa: float, dDec: float):
    """Unit pixel vector from (ra, dec) towards a small sky offset (degrees)."""
    x0, y0 = wcs.world_to_pixel(SkyCoord(ra, dec, unit="deg"))
    x, y = wcs.world_to_pixel(SkyCoord(ra + dRa, dec + dDec, unit="deg"))
    v = np.array([float(x) - float(x0), float(y) - float(y0)])
    length = np.hypot(*v)
    return v / length if length > 0 else None


def _cornerBoxes(extent, shape):
    """Where a box of ``extent`` (width, height) fits in each corner of an image."""
    height, width = shape
    margin = _CORNER_MARGIN * min(shape)
    w, h = extent
    left, right = -0.5 + margin, width - 0.5 - margin - w
    bottom, top = -0.5 + margin, height - 0.5 - margin - h
    return {
        name: (x, y, x + w, y + h)
        for name, (x, y) in (
            ("lower left", (left, bottom)),
            ("lower right", (right, bottom)),
            ("upper left", (left, top)),
            ("upper right", (right, top)),
        )
    }


def _distanceToBox(point, box) -> float:
    x, y = point
    dx = max(box[0] - x, 0.0, x - box[2])
    dy = max(box[1] - y, 0.0, y - box[3])
    return math.hypot(dx, dy)


def _pickCorner(candidates, levels, source, taken, clearance):
    """The free corner whose box is clear of the source and covers the quietest pixels."""
    height, width = levels.shape
    # Distance from the typical level: stars on a sky, or either sign on a difference.
    busy = np.abs(levels - np.nanmedian(levels)) if np.isfinite(levels).any() else levels
    best = None
    for name, box in candidates.items():
        if name in taken:
            continue
        x0, x1 = max(int(math.floor(box[0] + 0.5)), 0), min(int(math.ceil(box[2] + 0.5)), width)
        y0, y1 = max(int(math.floor(box[1] + 0.5)), 0), min(int(math.ceil(box[3] + 0.5)), height)
        patch = busy[y0:y1, x0:x1]
        brightness = float(np.nanmean(patch)) if patch.size and np.isfinite(patch).any() else 0.0
        distance = _distanceToBox(source, box) if source is not None else math.inf
        # Clear of the source first, then as dark as possible, then as far as possible.
        key = (distance < clearance, brightness, -min(distance, 1e6))
        if best is None or key < best[0]:
            best = (key, name, box)
    return best[1], best[2]


def _drawCompass(ax, wcs, ra, dec, levels, source, taken):
    """North and east arrows from the WCS, in the corner clearest of the source."""
    north = _directionVector(wcs, ra, dec, 0.0, 1.0 / 3600.0)
    east = _directionVector(wcs, ra, dec, 1.0 / 3600.0 / max(math.cos(math.radians(dec)), 1e-6), 0.0)
    if north is None or east is None:
        return None
    side = min(levels.shape)
    length = _ARROW_FRACTION * side
    labelDistance = length + _LABEL_OFFSET * side
    labelRadius = 0.04 * side
    # The arrows' and labels' extent around their common origin.
    points = np.array([[0.0, 0.0], north * labelDistance, east * labelDistance])
    lower = points.min(axis=0) - labelRadius
    upper = points.max(axis=0) + labelRadius
    candidates = _cornerBoxes(upper - lower, levels.shape)
    corner, box = _pickCorner(candidates, levels, source, taken, _CLEAR_RADIUS * side)
    origin = np.array(box[:2]) - lower
    for vector, label in ((north, "N"), (east, "E")):
        ax.annotate(
            "",
            xy=origin + vector * length,
            xytext=origin,
            arrowprops={
                "arrowstyle": "-|>",
                "color": _ARROWS,
                "lw": 1.6,
                "mutation_scale": 10,
                "path_effects": _OUTLINE,
            },
        )
        ax.text(
            *(origin + vector * labelDistance),
            label,
            color=_ARROWS,
            fontsize=10,
            fontweight="bold",
            ha="center",
            va="center",
            path_effects=_TEXT_OUTLINE,
        )
    return corner, box


def _drawScaleBar(ax, scale, levels, source, taken):
    """A bar of a round number of arcseconds, in a free corner clear of the source."""
    side = min(levels.shape)
    fitting = [a for a in _SCALE_BAR_ARCSEC if a / scale <= _SCALE_BAR_MAX_FRACTION * levels.shape[1]]
    if not fitting:
        return None
    arcsec = fitting[-1]
    length = arcsec / scale
    textHeight = 0.09 * side
    candidates = _cornerBoxes((length, textHeight + 0.03 * side), levels.shape)
    corner, box = _pickCorner(candidates, levels, source, taken, _CLEAR_RADIUS * side)
    y = box[1] + 0.015 * side
    ax.plot([box[0], box[2]], [y, y], color="white", lw=2.5, solid_capstyle="butt", path_effects=_OUTLINE)
    label = f"{arcsec:g}″"
    ax.text(
        0.5 * (box[0] + box[2]),
        y + 0.03 * side,
        label,
        color="white",
        fontsize=9,
        ha="center",
        va="bottom",
        fontweight="bold",
        path_effects=_TEXT_OUTLINE,
    )
    return corner, box


def _markSource(ax, x: float, y: float, shape, fwhm) -> None:
    """Tick marks left of and above the source, outside its core."""
    size = min(shape)
    gap, length = max(_TICK_GAP * size, fwhm or 0.0), _TICK_LENGTH * size
    for xs, ys in (([x - gap - length, x - gap], [y, y]), ([x, x], [y + gap, y + gap + length])):
        ax.plot(xs, ys, color=_MARKER, lw=1.8, solid_capstyle="butt", path_effects=_OUTLINE)


def _emptyPanel(ax, text: str) -> None:
    ax.set_facecolor(_EMPTY_PANEL)
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=12,
        color="#555555",
        style="italic",
    )


def _imagePanel(ax, ccd, stretch: Stretch, cmap, ra, dec, fwhm) -> dict:
    """Draw a cutout with its overlays; return the overlay boxes
    (see `~lsst.ap.alerts.tools.render.RenderedStamp`)."""
    data = np.asarray(ccd.data, dtype=float)
    levels = stretch(data)
    # Masked, so that pixels off the parent image (NaN) take the colour map's "bad" colour.
    ax.imshow(
        np.ma.masked_invalid(levels), origin="lower", cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest"
    )
    ax.set_xlim(-0.5, data.shape[1] - 0.5)
    ax.set_ylim(-0.5, data.shape[0] - 0.5)
    wcs = ccd.wcs
    source = _sourcePixel(wcs, ra, dec, data.shape)
    overlays = {"source": source}
    if source is None:
        return overlays
    if ra is None:
        ra, dec = (float(v) for v in wcs.wcs.crval)
    _markSource(ax, *source, data.shape, fwhm)
    taken = []
    compass = _drawCompass(ax, wcs, ra, dec, levels, source, taken)
    if compass is not None:
        taken.append(compass[0])
        overlays["compass"] = compass[1]
    scale = _pixelScale(wcs)
    bar = _drawScaleBar(ax, scale, levels, source, taken) if scale else None
    if bar is not None:
        overlays["scaleBar"] = bar[1]
    return overlays


def _psfPanel(ax, psf: np.ndarray, frameShape, scale, word: str, fwhm) -> None:
    """The PSF at the cutouts' pixel scale (framed like a cutout), with its FWHM."""
    import matplotlib

    cmap = matplotlib.colormaps["magma"]
    height, width = frameShape
    ph, pw = psf.shape
    # Centred in a frame of the cutout's size: both are in the same pixels.
    left, bottom = (width - pw) / 2.0 - 0.5, (height - ph) / 2.0 - 0.5
    ax.set_facecolor(cmap(0.0))
    peak = float(np.nanmax(psf)) if np.isfinite(psf).any() else 1.0
    ax.imshow(
        np.arcsinh(np.clip(psf, 0.0, None) / (0.05 * peak)) / np.arcsinh(1.0 / 0.05),
        origin="lower",
        cmap=cmap,
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
        extent=(left, left + pw, bottom, bottom + ph),
    )
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(-0.5, height - 0.5)
    if fwhm is not None:
        import matplotlib.patches

        centre = (left + pw / 2.0, bottom + ph / 2.0)
        ax.add_patch(matplotlib.patches.Circle(centre, fwhm / 2.0, fill=False, ec="white", lw=1.0, ls="--"))
        text = f"FWHM {fwhm:.2f} px" + (f" = {fwhm * scale:.2f}″" if scale else "")
        # On the colour map's dark end: no outline needed (and SVG keeps it as text).
        ax.text(
            0.5, 0.04, text, transform=ax.transAxes, ha="center", va="bottom", color="white", fontsize=9.5
        )
    ax.set_title(f"PSF of {word} ({pw}×{ph} px, to scale)", fontsize=10.5)


def chooseStretches(cutouts: dict, kind: str) -> tuple[dict, bool]:
    """The stretch of each readable cutout, and whether science and template share one.

    Parameters
    ----------
    cutouts : `dict` [`str`, `tuple`]
        (`~lsst.ap.alerts.cutouts.ccdData.AlertCutout` or `None`, problem) per alert field
        (`loadCutout`).
    kind : `str`
        The stretch kind (`STRETCHES`).

    Returns
    -------
    stretches : `dict` [`str`, `Stretch` or `None`]
        Per field of `PANELS`; `None` for a missing or unreadable cutout.
    shared : `bool`
        Both science and template are drawn, on one stretch.
    """
    stretches = {"cutoutDifference": None, "cutoutScience": None, "cutoutTemplate": None}
    difference = cutouts["cutoutDifference"][0]
    if difference is not None:
        stretches["cutoutDifference"] = chooseStretch([difference.data], kind, symmetric=True)
    # Science and template on one stretch, so they compare by eye.
    direct = [cutouts[f][0] for f in ("cutoutScience", "cutoutTemplate") if cutouts[f][0] is not None]
    if direct:
        common = chooseStretch([c.data for c in direct], kind)
        for field in ("cutoutScience", "cutoutTemplate"):
            if cutouts[field][0] is not None:
                stretches[field] = common
    return stretches, len(direct) == 2


def findPsfCutout(cutouts: dict):
    """(cutout, word) of the first cutout in `PANELS` order that carries a PSF, or `None`.

    The PSF is drawn in a frame of that cutout's size, so the two go together.
    """
    return next(
        (
            (c, word)
            for (field, _, word) in PANELS
            if (c := cutouts[field][0]) is not None and c.psf is not None
        ),
        None,
    )


def drawStamps(axes, cutouts: dict, stretches: dict, shared: bool, position, fwhm):
    """The difference, science and template panels, each a cutout or a labelled empty panel.

    Parameters
    ----------
    axes : `list` [`matplotlib.axes.Axes`]
        One per field of `PANELS`, in that order.
    cutouts : `dict` [`str`, `tuple`]
        (`~lsst.ap.alerts.cutouts.ccdData.AlertCutout` or `None`, problem) per field.
    stretches : `dict` [`str`, `Stretch` or `None`]
        Per field (`chooseStretches`).
    shared : `bool`
        Science and template share their stretch (said under both).
    position : `tuple`
        The source's (ra, dec), or (None, None).
    fwhm : `float` or `None`
        PSF FWHM in pixels (keeps the source marks off its core).

    Returns
    -------
    drawn : `dict` [`str`, `bool`]
        Whether each field's panel shows an image.
    overlays : `dict` [`str`, `dict`]
        Overlay boxes of each drawn cutout (see `~lsst.ap.alerts.tools.render.RenderedStamp`).
    scale : `float` or `None`
        Arcseconds per pixel of the first drawn cutout with a celestial WCS.
    """
    import matplotlib

    cmap = matplotlib.colormaps["gray"].with_extremes(bad=_BAD_PIXEL)
    drawn, overlays = {}, {}
    scale = None
    for ax, (field, title, word) in zip(axes, PANELS, strict=True):
        ccd, problem = cutouts[field]
        drawn[field] = ccd is not None
        if ccd is None:
            _emptyPanel(ax, f"unreadable {word} cutout\n({problem})" if problem else f"no {word}")
            ax.set_title(title, fontsize=10.5)
            continue
        overlays[field] = _imagePanel(ax, ccd, stretches[field], cmap, *position, fwhm)
        height, width = ccd.data.shape
        ax.set_title(f"{title} ({width}×{height} px)", fontsize=10.5)
        note = " (shared)" if field != "cutoutDifference" and shared else ""
        _textUnder(ax, stretches[field].describe() + note)
        scale = scale or _pixelScale(ccd.wcs)
    return drawn, overlays, scale


def drawPsf(ax, psfCutout, scale, fwhm) -> None:
    """The PSF panel (``_psfPanel``) with the pixel scale under it, or an empty panel without a PSF."""
    if psfCutout is None:
        _emptyPanel(ax, "no PSF")
        ax.set_title("PSF", fontsize=10.5)
        return
    ccd, word = psfCutout
    _psfPanel(ax, np.asarray(ccd.psf, dtype=float), ccd.data.shape, scale, word, fwhm)
    if scale:
        _textUnder(ax, f"{scale:.3f}″/px")


def _textUnder(ax, text: str) -> None:
    """A small line of text just under a panel (stretch limits, pixel scale)."""
    ax.text(
        0.5,
        -0.015,
        text,
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=8.5,
        color="#333333",
    )
