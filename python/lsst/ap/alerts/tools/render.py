"""Postage-stamp PNG of one alert (``ap-alerts render``).

Difference, science and template cutouts side by side, then the PSF, with
north/east arrows from each cutout's own WCS, the source position marked
and a caption of the alert's identity and photometry.  A missing or
unreadable cutout becomes an empty, labelled panel.  Drawn with
matplotlib's Agg canvas directly (no pyplot state), so it is safe to call
in-process and without a display.
"""

from __future__ import annotations

__all__ = ["PANELS", "STRETCHES", "RenderedStamp", "renderAlert"]

import dataclasses
import io
import math
import warnings

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.nddata import CCDData
from astropy.visualization import (
    AsinhStretch,
    ImageNormalize,
    LinearStretch,
    ZScaleInterval,
)
from matplotlib import patheffects

PANELS = (
    ("cutoutDifference", "Difference", "difference"),
    ("cutoutScience", "Science", "science"),
    ("cutoutTemplate", "Template", "template"),
)
"""(alert field, panel title, word for "no ...") of the image panels."""

STRETCHES = ("zscale", "asinh")

_PANEL_INCHES = 3.2
_DPI = 100
_BACKGROUND = "#f4f4f4"
_EMPTY_PANEL = "#dcdcdc"
_BAD_PIXEL = "#2b3a55"
_MARKER = "#ff3b30"
_ARROWS = "#ffd60a"
# Dark rim that keeps the overlays visible on light and dark pixels alike.
_OUTLINE = [patheffects.withStroke(linewidth=3.0, foreground="#00000099")]
_TEXT_OUTLINE = [patheffects.withStroke(linewidth=1.5, foreground="#000000aa")]
# Fractions of the panel's side: arrow length, arrow tip to label, and the
# gap/length of the source tick marks.
_ARROW_FRACTION = 0.18
_LABEL_OFFSET = 0.07
# asinh stretch: black level (sigmas below the sky), extent of the linear
# part (sigmas) and the smallest softening allowed.
_ASINH_SKY_SIGMAS = 2.0
_ASINH_LINEAR_SIGMAS = 5.0
_ASINH_MIN_A = 0.005
_TICK_GAP = 0.06
_TICK_LENGTH = 0.10


@dataclasses.dataclass(frozen=True)
class RenderedStamp:
    """What `renderAlert` drew.

    Attributes
    ----------
    path : `str`
        The PNG written.
    width, height : `int`
        Its size in pixels.
    panels : `dict` [`str`, `tuple`]
        Pixel box ``(left, top, right, bottom)`` (row 0 at the top, as
        image readers index) of each panel: ``"cutoutDifference"``,
        ``"cutoutScience"``, ``"cutoutTemplate"``, ``"psf"``.
    drawn : `dict` [`str`, `bool`]
        Whether each panel shows an image (False: empty, labelled).
    """

    path: str
    width: int
    height: int
    panels: dict
    drawn: dict


def _readCutout(data):
    """(CCDData or None, error name if the cutout is there but unreadable)."""
    if data is None:
        return None, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return CCDData.read(io.BytesIO(data), format="fits"), None
    except Exception as e:
        return None, f"{type(e).__name__}"


def _norm(data: np.ndarray, stretch: str) -> ImageNormalize:
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return ImageNormalize(vmin=0.0, vmax=1.0)
    if stretch == "zscale":
        vmin, vmax = ZScaleInterval().get_limits(finite)
        stretchObject = LinearStretch()
    else:
        # Lupton-style: linear up to a few sigma of sky noise, logarithmic
        # beyond, from just below the sky to the peak, so noise stays dark
        # and both faint wings and bright cores show.
        median = float(np.median(finite))
        sigma = 1.4826 * float(np.median(np.abs(finite - median)))
        vmin = median - _ASINH_SKY_SIGMAS * sigma
        vmax = float(finite.max())
        softening = _ASINH_LINEAR_SIGMAS * sigma / (vmax - vmin) if vmax > vmin else 1.0
        stretchObject = AsinhStretch(min(max(softening, _ASINH_MIN_A), 1.0))
    if not vmax > vmin:
        vmin, vmax = vmin - 1.0, vmax + 1.0
    # No clipping: it would turn masked (off-image) pixels into the top colour;
    # out-of-range values take the colour map's end colours anyway.
    return ImageNormalize(vmin=vmin, vmax=vmax, stretch=stretchObject, clip=False)


def _emptyPanel(ax, text: str) -> None:
    ax.set_facecolor(_EMPTY_PANEL)
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=12,
            color="#555555", style="italic")


def _directionVector(wcs, ra: float, dec: float, dRa: float, dDec: float, x0: float, y0: float):
    """Unit pixel vector towards a small sky offset (degrees) from (ra, dec)."""
    x, y = wcs.world_to_pixel(SkyCoord(ra + dRa, dec + dDec, unit="deg"))
    v = np.array([float(x) - x0, float(y) - y0])
    length = np.hypot(*v)
    return v / length if length > 0 else None


def _drawCompass(ax, wcs, ra: float, dec: float, shape) -> None:
    """North and east arrows from the cutout's WCS, in the lower-left corner."""
    height, width = shape
    x0, y0 = (float(c) for c in wcs.world_to_pixel(SkyCoord(ra, dec, unit="deg")))
    step = 1.0 / 3600.0
    north = _directionVector(wcs, ra, dec, 0.0, step, x0, y0)
    east = _directionVector(wcs, ra, dec, step / max(math.cos(math.radians(dec)), 1e-6), 0.0, x0, y0)
    if north is None or east is None:
        return
    side = min(width, height)
    length = _ARROW_FRACTION * side
    labelDistance = length + _LABEL_OFFSET * side
    # Put the arrows' common origin where both arrows and labels fit inside
    # the panel, whichever way the WCS turns them.
    ends = np.array([[0.0, 0.0], north * labelDistance, east * labelDistance])
    margin = _LABEL_OFFSET * side
    origin = np.array([margin - 0.5 - ends[:, 0].min(), margin - 0.5 - ends[:, 1].min()])
    for vector, label in ((north, "N"), (east, "E")):
        ax.annotate("", xy=origin + vector * length, xytext=origin,
                    arrowprops={"arrowstyle": "-|>", "color": _ARROWS, "lw": 1.6, "mutation_scale": 10,
                                "path_effects": _OUTLINE})
        ax.text(*(origin + vector * labelDistance), label, color=_ARROWS, fontsize=10, fontweight="bold",
                ha="center", va="center", path_effects=_TEXT_OUTLINE)


def _markSource(ax, x: float, y: float, shape) -> None:
    """Tick marks left of and above the source, leaving it visible."""
    size = min(shape)
    gap, length = _TICK_GAP * size, _TICK_LENGTH * size
    for xs, ys in (([x - gap - length, x - gap], [y, y]), ([x, x], [y + gap, y + gap + length])):
        ax.plot(xs, ys, color=_MARKER, lw=1.8, solid_capstyle="butt", path_effects=_OUTLINE)


def _imagePanel(ax, ccd: CCDData, ra, dec, stretch: str, cmap) -> None:
    data = np.asarray(ccd.data, dtype=float)
    # Masked, so that pixels off the parent image (NaN) take the colour map's "bad" colour.
    ax.imshow(np.ma.masked_invalid(data), origin="lower", cmap=cmap, norm=_norm(data, stretch),
              interpolation="nearest")
    wcs = ccd.wcs
    if wcs is None or not wcs.has_celestial:
        return
    if ra is None or dec is None:
        ra, dec = (float(v) for v in wcs.wcs.crval)
    x, y = (float(c) for c in wcs.world_to_pixel(SkyCoord(ra, dec, unit="deg")))
    _markSource(ax, x, y, data.shape)
    _drawCompass(ax, wcs, ra, dec, data.shape)
    ax.set_xlim(-0.5, data.shape[1] - 0.5)
    ax.set_ylim(-0.5, data.shape[0] - 0.5)


def _caption(alert: dict) -> str:
    source = alert.get("diaSource") or {}

    def num(key, spec):
        value = source.get(key)
        return "?" if value is None or not math.isfinite(value) else format(value, spec)

    diaObjectId = source.get("diaObjectId") or (alert.get("diaObject") or {}).get("diaObjectId")
    # diaObjectId 0 (or null) marks a solar-system source: name its ssObject instead.
    if diaObjectId:
        objectText = f"diaObjectId {diaObjectId}"
    else:
        objectText = f"ssObjectId {source.get('ssObjectId') or '?'}"
    flux, err = source.get("psfFlux"), source.get("psfFluxErr")
    snr = ""
    if flux is not None and err and math.isfinite(flux) and math.isfinite(err):
        snr = f"  (S/N {flux / err:.1f})"
    return (
        f"diaSourceId {alert.get('diaSourceId')}    {objectText}    "
        f"band {source.get('band') or '?'}    MJD {num('midpointMjdTai', '.5f')}\n"
        f"psfFlux {num('psfFlux', ',.1f')} ± {num('psfFluxErr', ',.1f')} nJy{snr}    "
        f"RA {num('ra', '.6f')}°  Dec {num('dec', '+.6f')}°"
    )


def renderAlert(alert: dict, path: str, stretch: str = "zscale") -> RenderedStamp:
    """Draw an alert's cutouts and PSF to a PNG file.

    Parameters
    ----------
    alert : `dict`
        A decoded alert.
    path : `str`
        PNG file to write.
    stretch : `str`
        ``"zscale"`` (linear between IRAF zscale limits) or ``"asinh"``
        (asinh of the 99.5 % range).

    Returns
    -------
    stamp : `RenderedStamp`
        File, size and where each panel is.
    """
    if stretch not in STRETCHES:
        raise ValueError(f"Unknown stretch {stretch!r}; choose one of {', '.join(STRETCHES)}")
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    source = alert.get("diaSource") or {}
    ra, dec = source.get("ra"), source.get("dec")
    if ra is None or dec is None or not (math.isfinite(ra) and math.isfinite(dec)):
        ra = dec = None
    cmap = matplotlib.colormaps["gray"].with_extremes(bad=_BAD_PIXEL)

    fig = Figure(figsize=(4 * _PANEL_INCHES, _PANEL_INCHES + 1.0), dpi=_DPI, facecolor=_BACKGROUND)
    FigureCanvasAgg(fig)
    bottom = 0.8 / (_PANEL_INCHES + 1.0)
    top = 1.0 - 0.35 / (_PANEL_INCHES + 1.0)
    axes = fig.subplots(1, 4, gridspec_kw={"left": 0.01, "right": 0.99, "bottom": bottom,
                                                 "top": top, "wspace": 0.04})
    drawn = {}
    psfSource = None
    for ax, (field, title, word) in zip(axes, PANELS):
        ccd, problem = _readCutout(alert.get(field))
        if ccd is None:
            _emptyPanel(ax, f"unreadable {word} cutout\n({problem})" if problem else f"no {word}")
            ax.set_title(title, fontsize=11)
        else:
            _imagePanel(ax, ccd, ra, dec, stretch, cmap)
            height, width = ccd.data.shape
            ax.set_title(f"{title}  ({width}×{height} px)", fontsize=11)
            if psfSource is None and ccd.psf is not None:
                psfSource = (ccd.psf, word)
        drawn[field] = ccd is not None
    psfAx = axes[3]
    if psfSource is None:
        _emptyPanel(psfAx, "no PSF")
        psfAx.set_title("PSF", fontsize=11)
    else:
        psf, word = psfSource
        psf = np.asarray(psf, dtype=float)
        psfAx.imshow(psf, origin="lower", cmap="magma", interpolation="nearest",
                     norm=ImageNormalize(psf, stretch=AsinhStretch(0.05)))
        psfAx.set_title(f"PSF of {word}  ({psf.shape[1]}×{psf.shape[0]} px)", fontsize=11)
    drawn["psf"] = psfSource is not None
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
    fig.text(0.5, 0.4 / (_PANEL_INCHES + 1.0), _caption(alert), ha="center", va="center", fontsize=10.5,
             family="monospace", linespacing=1.5)
    fig.canvas.draw()
    width, height = fig.canvas.get_width_height()
    panels = {}
    for ax, field in zip(axes, [p[0] for p in PANELS] + ["psf"]):
        box = ax.get_window_extent()
        # Display coordinates have y up from the bottom; image rows run down.
        panels[field] = (math.ceil(box.x0), math.ceil(height - box.y1),
                         math.floor(box.x1), math.floor(height - box.y0))
    fig.savefig(path, dpi=_DPI, facecolor=_BACKGROUND)
    return RenderedStamp(str(path), width, height, panels, drawn)
