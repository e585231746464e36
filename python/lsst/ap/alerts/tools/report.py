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

"""A static HTML report of alert files (``ap-alerts report``).

``OUTDIR/index.html`` lists every alert (one table row each, with a
thumbnail of its difference, science and template cutouts); the table sorts
by any column and filters by text (diaSourceId, diaObjectId), band, |S/N|
and flags.  ``OUTDIR/alerts/{diaSourceId}.html`` shows one alert: the
`~lsst.ap.alerts.tools.render` figure (stamps, PSF, light curve, triage
caption), every diaSource field, the diaObject and the history.  No server
is needed: the pages are plain files with their script inline (browsers do
not let ``file://`` pages fetch data files).

The filter and sort state lives in the URL fragment
(``index.html#band=r&snr=10&flags=none&sort=snr&desc=1``), so a filtered
view can be bookmarked or shared.

Every page records its own script and image-loading errors on
``<html data-script-errors=N>`` and marks ``<html data-ready=1>`` when its
script has run, which is how the tests check the pages in a real browser.
"""

from __future__ import annotations

__all__ = ["ReportEntry", "ReportResult", "buildReport", "collectEntries", "writeThumbnail"]

import dataclasses
import datetime
import html
import math
import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ..version import __version__
from .inspection import AlertFile, AlertFileError, AlertSummary, summarizeAlert
from .render import renderAlert
from .stamps import PANELS, chooseStretch, loadCutout

_GENERATOR = "ap-alerts report"
_THUMB_SIDE = 40  # pixels per cutout in a thumbnail strip
_THUMB_GAP = 2
_PAGES = "alerts"
_THUMBS = "thumbs"
# Futures in flight per worker: enough to keep workers busy, few alerts in memory.
_QUEUE_PER_JOB = 4


@dataclasses.dataclass(frozen=True)
class ReportEntry:
    """One alert of the report.

    Attributes
    ----------
    name : `str`
        Base name of its page, figure and thumbnail (the diaSourceId, made
        unique).
    path : `str`
        The alert file.
    index : `int`
        Position in that file.
    summary : `AlertSummary`
    ssObjectId : `int` or `None`
    """

    name: str
    path: str
    index: int
    summary: AlertSummary
    ssObjectId: int | None = None


@dataclasses.dataclass(frozen=True)
class ReportResult:
    """What `buildReport` wrote.

    Attributes
    ----------
    index : `str`
        Path of ``index.html``.
    entries : `list` [`ReportEntry`]
        The alerts, in table order.
    problems : `list` [`str`]
        Files that could not be read, or only partly (their earlier alerts
        are in the report).
    """

    index: str
    entries: list
    problems: list


def collectEntries(paths: Sequence[str]) -> tuple[list[ReportEntry], list[str]]:
    """Read every alert's summary and give it a unique page name.

    Returns
    -------
    entries : `list` [`ReportEntry`]
    problems : `list` [`str`]
        One message per file that could not be read to its end.
    """
    entries, problems, used = [], [], set()
    for path in paths:
        try:
            for decoded in AlertFile(path):
                summary = summarizeAlert(decoded.alert, decoded.size)
                base = (
                    str(summary.diaSourceId) if summary.diaSourceId is not None else f"alert-{len(entries)}"
                )
                name, n = base, 1
                while name in used:
                    n += 1
                    name = f"{base}-{n}"
                used.add(name)
                ssObjectId = (decoded.alert.get("diaSource") or {}).get("ssObjectId")
                entries.append(ReportEntry(name, path, decoded.index, summary, ssObjectId))
        except AlertFileError as e:
            problems.append(str(e))
    return entries, problems


def writeThumbnail(alert: dict, path: str, stretch: str = "asinh") -> None:
    """A PNG strip of the difference, science and template cutouts (``_THUMB_SIDE`` px each).

    Stretched as `renderAlert` stretches them (science and template share
    one stretch); a missing cutout is a grey square.
    """
    import matplotlib
    import matplotlib.image

    cmap = matplotlib.colormaps["gray"].with_extremes(bad="#2b3a55")
    ccds = {field: loadCutout(alert.get(field))[0] for field, _, _ in PANELS}
    direct = [c.data for f, c in ccds.items() if c is not None and f != "cutoutDifference"]
    shared = chooseStretch(direct, stretch) if direct else None
    strip = np.full((_THUMB_SIDE, 3 * _THUMB_SIDE + 2 * _THUMB_GAP, 4), 0.96)
    for i, (field, _, _) in enumerate(PANELS):
        left = i * (_THUMB_SIDE + _THUMB_GAP)
        ccd = ccds[field]
        if ccd is None:
            strip[:, left : left + _THUMB_SIDE, :3] = 0.78
            continue
        data = np.asarray(ccd.data, dtype=float)
        mapping = chooseStretch([data], stretch, symmetric=True) if field == "cutoutDifference" else shared
        rows = np.linspace(0, data.shape[0] - 1, _THUMB_SIDE).round().astype(int)
        columns = np.linspace(0, data.shape[1] - 1, _THUMB_SIDE).round().astype(int)
        # Row 0 of an image file is its top; row 0 of a cutout is its bottom.
        levels = mapping(data[np.ix_(rows, columns)])[::-1]
        strip[:, left : left + _THUMB_SIDE] = cmap(np.ma.masked_invalid(levels))
    matplotlib.image.imsave(path, strip)


def _renderOne(alert: dict, entry: ReportEntry, neighbours: tuple, outDir: str, stretch: str) -> None:
    """Figure, thumbnail and page of one alert (runs in a worker process)."""
    pages = os.path.join(outDir, _PAGES)
    renderAlert(alert, os.path.join(pages, f"{entry.name}.png"), stretch=stretch)
    writeThumbnail(alert, os.path.join(outDir, _THUMBS, f"{entry.name}.png"), stretch)
    with open(os.path.join(pages, f"{entry.name}.html"), "w", encoding="utf-8") as stream:
        stream.write(alertPageHtml(alert, entry, *neighbours))


def _prepareOutDir(outDir: str) -> None:
    """Create ``outDir``, or clear the pages of an earlier report in it; never touch other content."""
    index = os.path.join(outDir, "index.html")
    if os.path.isdir(outDir) and os.listdir(outDir):
        earlier = os.path.isfile(index) and _GENERATOR in _head(index)
        if not earlier:
            raise FileExistsError(
                f"{outDir} is not empty and holds no earlier ap-alerts report; give a new or empty directory"
            )
        for sub in (_PAGES, _THUMBS):
            shutil.rmtree(os.path.join(outDir, sub), ignore_errors=True)
    for sub in (_PAGES, _THUMBS):
        os.makedirs(os.path.join(outDir, sub), exist_ok=True)


def _head(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as stream:
        return stream.read(2000)


def buildReport(
    paths: Sequence[str],
    outDir: str,
    stretch: str = "asinh",
    jobs: int = 1,
    onAlert: Callable[[int, int], None] | None = None,
) -> ReportResult:
    """Write the HTML report of the alerts in ``paths`` to ``outDir``.

    Parameters
    ----------
    paths : sequence of `str`
        Alert files (container or failed-delivery files).
    outDir : `str`
        Directory to write (created; an earlier report there is replaced).
    stretch : `str`
        Stretch of the stamps (see `~lsst.ap.alerts.tools.stamps.chooseStretch`).
    jobs : `int`
        Processes drawing the figures (1: in this process).
    onAlert : callable, optional
        Called with (pages done, pages in all) as each alert's page is
        written (progress).

    Returns
    -------
    result : `ReportResult`

    Raises
    ------
    FileExistsError
        If ``outDir`` holds other files than an earlier report.
    """
    _prepareOutDir(outDir)
    entries, problems = collectEntries(paths)
    names = [e.name for e in entries]
    byPlace = {(e.path, e.index): i for i, e in enumerate(entries)}
    done = []

    def finished(entry):
        done.append(entry.name)
        if onAlert is not None:
            onAlert(len(done), len(entries))

    def work():
        """(alert, entry, neighbours) in table order; a damaged file's readable alerts only."""
        for path in dict.fromkeys(e.path for e in entries):
            try:
                for decoded in AlertFile(path):
                    i = byPlace.get((path, decoded.index))
                    if i is None:
                        break
                    following = names[i + 1] if i + 1 < len(names) else None
                    yield decoded.alert, entries[i], (names[i - 1] if i > 0 else None, following)
            except AlertFileError:
                continue  # already reported by collectEntries

    if jobs <= 1:
        for alert, entry, neighbours in work():
            _renderOne(alert, entry, neighbours, outDir, stretch)
            finished(entry)
    else:
        _renderInPool(work(), outDir, stretch, jobs, finished)
    index = os.path.join(outDir, "index.html")
    with open(index, "w", encoding="utf-8") as stream:
        stream.write(indexHtml(entries, problems))
    return ReportResult(index, entries, problems)


def _renderInPool(work, outDir: str, stretch: str, jobs: int, finished) -> None:
    """Draw in ``jobs`` processes, with a bounded number of alerts in flight."""
    pending = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for alert, entry, neighbours in work:
            pending[pool.submit(_renderOne, alert, entry, neighbours, outDir, stretch)] = entry
            if len(pending) >= _QUEUE_PER_JOB * jobs:
                _collect(pending, finished, wait=1)
        _collect(pending, finished, wait=len(pending))


def _collect(pending: dict, finished, wait: int) -> None:
    """Wait for the oldest ``wait`` futures (re-raising their errors)."""
    for future in list(pending)[:wait]:
        future.result()
        finished(pending.pop(future))


# --- HTML -----------------------------------------------------------------

_ERROR_COLLECTOR = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  var what = e.target && e.target !== window && e.target.src ? "failed to load " + e.target.src : e.message;
  window.__errors.push(String(what));
  document.documentElement.setAttribute("data-script-errors", String(window.__errors.length));
}, true);
</script>"""

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.2em; color: #1a1a1a; background: #fafafa; }
h1 { font-size: 1.35em; margin: 0 0 .4em; }
.meta, .muted { color: #666; font-size: .9em; }
.problems { background: #fde8e8; border: 1px solid #e0a0a0; padding: .5em .8em; margin: .6em 0; }
.controls { display: flex; flex-wrap: wrap; gap: .8em; align-items: center; margin: .8em 0; }
.controls label { font-size: .9em; }
table { border-collapse: collapse; font-size: .85em; background: white; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 3px 7px; text-align: right; white-space: nowrap; }
th { position: sticky; top: 0; background: #eef1f5; cursor: pointer; user-select: none; }
th.sorted-asc::after { content: " \\25B2"; } th.sorted-desc::after { content: " \\25BC"; }
td.text, th.text { text-align: left; }
tr:hover td { background: #f3f7ff; }
img.thumb { height: 60px; image-rendering: pixelated; display: block; }
img.figure { max-width: 100%; height: auto; border: 1px solid #ddd; }
.flag { color: #b00020; font-weight: 600; }
nav a { margin-right: 1em; }
details { margin: .6em 0; } summary { cursor: pointer; font-weight: 600; }
.fields td:first-child { text-align: left; font-family: monospace; }
.fields td:last-child { text-align: left; font-family: monospace; }
.scroll { overflow-x: auto; max-width: 100%; }
"""

# (key, title, is text) of the index columns after the thumbnail.
_COLUMNS = (
    ("src", "diaSourceId", True),
    ("obj", "diaObjectId", True),
    ("band", "band", True),
    ("mjd", "MJD", False),
    ("ra", "RA", False),
    ("dec", "Dec", False),
    ("flux", "psfFlux nJy", False),
    ("snr", "S/N", False),
    ("mag", "mag", False),
    ("rel", "reliability", False),
    ("ndia", "nDiaSources", False),
    ("nprv", "nPrv", False),
    ("nfor", "nForced", False),
    ("flags", "flags", True),
    ("file", "file", True),
)

_INDEX_SCRIPT = """<script>
(function () {
  var table = document.getElementById("alerts");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var controls = {q: document.getElementById("q"), band: document.getElementById("band"),
                  snr: document.getElementById("snr"), flags: document.getElementById("flags")};
  var state = {q: "", band: "", snr: "", flags: "", sort: "", desc: ""};

  function readHash() {
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var kv = part.split("=");
      if (kv[0] in state) { state[kv[0]] = decodeURIComponent(kv[1] || ""); }
    });
    Object.keys(controls).forEach(function (k) { controls[k].value = state[k]; });
  }
  function writeHash() {
    var parts = Object.keys(state).filter(function (k) { return state[k] !== ""; })
      .map(function (k) { return k + "=" + encodeURIComponent(state[k]); });
    history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname);
  }
  function keep(row) {
    var d = row.dataset;
    if (state.q && (d.src + " " + d.obj).indexOf(state.q.trim()) < 0) { return false; }
    if (state.band && d.band !== state.band) { return false; }
    if (state.snr !== "" && !(Math.abs(parseFloat(d.snr)) >= parseFloat(state.snr))) { return false; }
    var flags = d.flags ? d.flags.split(" ") : [];
    if (state.flags === "none" && flags.length) { return false; }
    if (state.flags === "some" && !flags.length) { return false; }
    if (state.flags && state.flags !== "none" && state.flags !== "some" && flags.indexOf(state.flags) < 0) {
      return false;
    }
    return true;
  }
  function value(row, key) {
    var v = row.dataset[key];
    var n = parseFloat(v);
    return isNaN(n) || /[^0-9eE+.\\-]/.test(v) ? v : n;
  }
  function apply() {
    var shown = 0;
    rows.forEach(function (row) {
      var ok = keep(row);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.classList.remove("sorted-asc", "sorted-desc");
      if (th.dataset.key && th.dataset.key === state.sort) {
        th.classList.add(state.desc ? "sorted-desc" : "sorted-asc");
      }
    });
    if (state.sort) {
      var sign = state.desc ? -1 : 1;
      var sorted = rows.slice().sort(function (a, b) {
        var x = value(a, state.sort), y = value(b, state.sort);
        var missingX = x === "" || x === undefined, missingY = y === "" || y === undefined;
        if (missingX || missingY) { return missingX - missingY; }  // missing values last
        if (typeof x !== typeof y) { x = String(x); y = String(y); }
        return (x < y ? -1 : x > y ? 1 : 0) * sign || a.dataset.order - b.dataset.order;
      });
      sorted.forEach(function (row) { body.appendChild(row); });
    }
    document.getElementById("shown").textContent = shown + " of " + rows.length + " alerts shown";
    writeHash();
  }
  Object.keys(controls).forEach(function (k) {
    controls[k].addEventListener("input", function () { state[k] = controls[k].value; apply(); });
  });
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    if (!th.dataset.key) { return; }
    th.addEventListener("click", function () {
      state.desc = state.sort === th.dataset.key && !state.desc ? "1" : "";
      state.sort = th.dataset.key;
      apply();
    });
  });
  window.addEventListener("hashchange", function () { readHash(); apply(); });
  readHash();
  apply();
  document.documentElement.setAttribute("data-ready", "1");
})();
</script>"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return format(value, spec)


def _page(title: str, body: str, scripts: str = "") -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="generator" content="{_GENERATOR} {_e(__version__)}">\n'
        f"<title>{_e(title)}</title>\n{_ERROR_COLLECTOR}\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n{body}\n{scripts}\n</body>\n</html>\n"
    )


def _rowCells(entry: ReportEntry) -> dict:
    """(data value, shown text) of each index column."""
    s = entry.summary
    objectText = (
        str(s.diaObjectId) if s.diaObjectId else (f"ss {entry.ssObjectId}" if entry.ssObjectId else "")
    )
    return {
        "src": (s.diaSourceId, s.diaSourceId),
        "obj": (s.diaObjectId or "", objectText),
        "band": (s.band or "", s.band or ""),
        "mjd": (_fmt(s.midpointMjdTai, ".6f"), _fmt(s.midpointMjdTai, ".5f")),
        "ra": (_fmt(s.ra, ".7f"), _fmt(s.ra, ".6f")),
        "dec": (_fmt(s.dec, ".7f"), _fmt(s.dec, "+.6f")),
        "flux": (_fmt(s.psfFlux, ".3f"), _fmt(s.psfFlux, ",.1f")),
        "snr": (_fmt(s.snr, ".4f"), _fmt(s.snr, ".1f")),
        "mag": (_fmt(s.mag, ".4f"), _fmt(s.mag, ".2f")),
        "rel": (_fmt(s.reliability, ".4f"), _fmt(s.reliability, ".3f")),
        "ndia": (_fmt(s.nDiaSources, "d"), _fmt(s.nDiaSources, "d")),
        "nprv": (s.nHistory, s.nHistory),
        "nfor": (s.nForced, s.nForced),
        "flags": (" ".join(_entryFlags(entry)), ", ".join(_entryFlags(entry))),
        "file": (os.path.basename(entry.path), os.path.basename(entry.path)),
    }


def _entryFlags(entry: ReportEntry) -> list[str]:
    """The diaSource's flags, with ``isDipole`` when set (the index's flag filter)."""
    return list(entry.summary.flags) + (["isDipole"] if entry.summary.isDipole else [])


def _indexRow(order: int, entry: ReportEntry) -> str:
    cells = _rowCells(entry)
    data = " ".join(f'data-{key}="{_e(value)}"' for key, (value, _) in cells.items())
    link = f"{_PAGES}/{_e(entry.name)}.html"
    tds = [
        f'<td><a href="{link}"><img class="thumb" loading="lazy" src="{_THUMBS}/{_e(entry.name)}.png" '
        f'alt="stamps of {_e(entry.name)}"></a></td>'
    ]
    for key, _, isText in _COLUMNS:
        text = cells[key][1]
        if key == "src":
            text = f'<a href="{link}">{_e(text)}</a>'
        elif key == "flags" and text:
            text = f'<span class="flag">{_e(text)}</span>'
        else:
            text = _e(text)
        tds.append(f'<td class="text">{text}</td>' if isText else f"<td>{text}</td>")
    return f'<tr data-order="{order}" {data}>{"".join(tds)}</tr>'


def _options(values, selectedLabel: str, extra=()) -> str:
    options = [f'<option value="">{_e(selectedLabel)}</option>']
    options += [f'<option value="{_e(v)}">{_e(label)}</option>' for v, label in extra]
    options += [f'<option value="{_e(v)}">{_e(v)}</option>' for v in values]
    return "".join(options)


def indexHtml(entries: Sequence[ReportEntry], problems: Sequence[str]) -> str:
    """The index page: a sortable, filterable table of all alerts."""
    files = sorted({e.path for e in entries})
    bands = sorted({e.summary.band for e in entries if e.summary.band})
    flags = sorted({f for e in entries for f in _entryFlags(e)})
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    problemHtml = ""
    if problems:
        items = "".join(f"<li>{_e(p)}</li>" for p in problems)
        problemHtml = (
            f'<div class="problems"><b>{len(problems)} file(s) could not be read completely</b> '
            f"(their earlier alerts are listed):<ul>{items}</ul></div>"
        )
    header = "".join(
        ['<th class="text">stamps D S T</th>']
        + [
            f'<th data-key="{key}" class="text">{_e(title)}</th>'
            if isText
            else f'<th data-key="{key}">{_e(title)}</th>'
            for key, title, isText in _COLUMNS
        ]
    )
    rows = "\n".join(_indexRow(i, e) for i, e in enumerate(entries))
    flagOptions = _options(flags, "any", (("none", "none set"), ("some", "some set")))
    body = f"""<h1>Alert report: {len(entries)} alert(s) from {len(files)} file(s)</h1>
<div class="meta">Made {created} by ap-alerts {_e(__version__)}. Files: {_e(", ".join(files)) or "none"}</div>
{problemHtml}
<div class="controls">
<label>diaSourceId / diaObjectId <input id="q" type="search" placeholder="digits"></label>
<label>band <select id="band">{_options(bands, "all")}</select></label>
<label>|S/N| &ge; <input id="snr" type="number" min="0" step="any" style="width:5em"></label>
<label>flags <select id="flags">{flagOptions}</select></label>
<span id="shown" class="muted"></span>
</div>
<div class="scroll"><table id="alerts">
<thead><tr>{header}</tr></thead>
<tbody>
{rows}
</tbody></table></div>
<p class="muted">Click a column title to sort (again: reverse). The filter and sort are kept in the
address (#band=r&amp;snr=10&amp;sort=snr&amp;desc=1).</p>"""
    return _page(f"Alert report ({len(entries)} alerts)", body, _INDEX_SCRIPT)


def _value(value) -> str:
    if isinstance(value, bytes):
        return f"<{len(value):,} bytes>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return "null" if value is None else str(value)


def _fieldTable(record: dict) -> str:
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(_value(v))}</td></tr>" for k, v in record.items())
    return f'<table class="fields">{rows}</table>'


def _recordsTable(records: list[dict]) -> str:
    columns = list(dict.fromkeys(k for r in records for k in r))
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(_value(r.get(c)))}</td>" for c in columns) + "</tr>" for r in records
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def alertPageHtml(alert: dict, entry: ReportEntry, previous: str | None, following: str | None) -> str:
    """One alert's page: figure, diaSource fields, diaObject, history."""
    s = entry.summary
    nav = ['<a href="../index.html">&larr; all alerts</a>']
    if previous:
        nav.append(f'<a href="{_e(previous)}.html">previous</a>')
    if following:
        nav.append(f'<a href="{_e(following)}.html">next</a>')
    flags = ", ".join(_entryFlags(entry))
    triage = (
        f"<p>reliability {_e(_fmt(s.reliability, '.3f') or '?')} &middot; "
        f"flags: {f'<span class=flag>{_e(flags)}</span>' if flags else 'none set'} &middot; "
        f"{_e(os.path.basename(entry.path))} alert #{entry.index}</p>"
    )
    sections = [
        f"<h2>diaSource ({len(alert.get('diaSource') or {})} fields)</h2>",
        _fieldTable(alert.get("diaSource") or {}),
    ]
    top = {k: v for k, v in alert.items() if not isinstance(v, dict | list | bytes) and k != "diaSourceId"}
    if top:
        sections += ["<h2>Alert</h2>", _fieldTable(top)]
    for key, title in (("diaObject", "diaObject"), ("ssSource", "ssSource"), ("mpc_orbits", "mpc_orbits")):
        if alert.get(key):
            sections.append(
                f"<details><summary>{title} ({len(alert[key])} fields)</summary>"
                f"{_fieldTable(alert[key])}</details>"
            )
    for key in ("prvDiaSources", "prvDiaForcedSources"):
        records = alert.get(key) or []
        sections.append(
            f"<details><summary>{key} ({len(records)})</summary>"
            f"{_recordsTable(records) if records else '<p>none</p>'}</details>"
        )
    body = f"""<nav>{" ".join(nav)}</nav>
<h1>diaSourceId {_e(s.diaSourceId)}</h1>
{triage}
<img class="figure" src="{_e(entry.name)}.png" alt="stamps, PSF and light curve of {_e(entry.name)}">
{"".join(sections)}"""
    ready = '<script>document.documentElement.setAttribute("data-ready", "1");</script>'
    return _page(f"Alert {s.diaSourceId}", body, ready)
