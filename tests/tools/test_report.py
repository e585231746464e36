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

"""Tests of ``ap-alerts report`` (`lsst.ap.alerts.tools.report`) in a real browser.

The report is made by the CLI from alert files the task wrote (plus a
truncated copy), then loaded in Debian's headless Chromium: the pages must
run their script without errors and load every image (the pages record
both on ``<html>``), the index must have one row per alert, its filters and
sort (driven through the URL fragment) must keep and order exactly the rows
computed here from the alert records, and a screenshot must not be blank.

Chromium is required where ``AP_ALERTS_REQUIRE_CHROMIUM`` is set (CI
installs it): there its absence fails the test; elsewhere the browser tests
skip with the reason.
"""

import contextlib
import html.parser
import io
import tempfile
import unittest
from pathlib import Path

import fastavro
import lsst.utils.tests
import matplotlib.image
import numpy as np
from headlessBrowser import runChromium

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts.simulation import makeSimulatedVisit, runArguments
from lsst.ap.alerts.tools.cli import main


def writeAlerts(outDir, seed, nSources, withTemplate=True):
    visit = makeSimulatedVisit(nSources, 4, seed=seed, size=(300, 260), fractionSolarSystem=0.2)
    config = PackageAlertsConfig()
    config.doWriteAlerts = True
    config.alertWriteLocation = outDir
    result = PackageAlertsTask(config=config).run(
        **runArguments(visit, template=visit.template if withTemplate else None)
    )
    return Path(result.alertFile)


def runCli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


class _Dom(html.parser.HTMLParser):
    """The <html> attributes and the index table's rows (attributes, in document order)."""

    def __init__(self):
        super().__init__()
        self.root = {}
        self.rows = []
        self.images = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.root = attrs
        elif tag == "tr" and "data-src" in attrs:
            self.rows.append(attrs)
        elif tag == "img":
            self.images.append(attrs.get("src"))


class ReportTestCase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ap-alerts-report-")
        root = Path(cls.tmp.name)
        inputs = root / "inputs"
        first = writeAlerts(str(inputs / "a"), seed=3, nSources=8)
        writeAlerts(str(inputs / "b"), seed=5, nSources=4, withTemplate=False)
        # A damaged file: its readable alerts are reported, and so is the damage.
        data = first.read_bytes()
        (inputs / "c").mkdir()
        cls.truncated = inputs / "c" / "truncated.avro"
        cls.truncated.write_bytes(data[: len(data) * 2 // 3])
        cls.alerts = []
        for path in sorted(inputs.rglob("*.avro")):
            with open(path, "rb") as stream:
                try:
                    cls.alerts.extend(fastavro.reader(stream))
                except Exception:
                    pass  # fastavro stops at the damage, as the report does
        cls.out = root / "report"
        cls.status, cls.stdout, cls.stderr = runCli("report", inputs, "-o", cls.out, "--jobs", 2)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def chromium(self, *args):
        done = runChromium(self.tmp.name, *args)
        self.assertEqual(done.returncode, 0, msg=done.stderr[-2000:])
        return done

    def dom(self, page, fragment=""):
        done = self.chromium("--dump-dom", page.as_uri() + fragment)
        parser = _Dom()
        parser.feed(done.stdout)
        return parser

    def assertPageOk(self, dom):
        self.assertEqual(dom.root.get("data-ready"), "1", msg="the page's script did not finish")
        self.assertNotIn("data-script-errors", dom.root, msg="script or image-loading errors")

    def snr(self, alert):
        source = alert["diaSource"]
        return source["psfFlux"] / source["psfFluxErr"]

    def testFilesAndStatus(self):
        """One page, figure and thumbnail per alert; the damaged file reported, exit status 1."""
        self.assertEqual(self.status, 1, msg=self.stderr)
        self.assertIn(f"{self.truncated}: truncated or corrupt Avro data", self.stderr)
        self.assertIn(f"{len(self.alerts)} alerts from 3 file(s)", self.stdout)
        ids = {str(a["diaSourceId"]) for a in self.alerts}
        # Files of one visit/detector repeat diaSourceIds: each alert still has its own page.
        self.assertLess(len(ids), len(self.alerts))
        pages = {p.stem for p in (self.out / "alerts").glob("*.html")}
        self.assertEqual(len(pages), len(self.alerts))
        self.assertTrue(ids <= {p.split("-")[0] for p in pages})
        for sub in ("alerts", "thumbs"):
            self.assertEqual(len(list((self.out / sub).glob("*.png"))), len(self.alerts))
        # Every diaSource field and value is on the alert's page.
        alert = self.alerts[1]
        page = (self.out / "alerts" / f"{alert['diaSourceId']}.html").read_text()
        for name, value in alert["diaSource"].items():
            if isinstance(value, bool):
                shown = str(value).lower()
            elif value is None:
                shown = "null"
            else:
                shown = repr(value) if isinstance(value, float) else str(value)
            self.assertIn(f"<td>{name}</td><td>{shown}</td>", page)

    def testIndexInBrowser(self):
        dom = self.dom(self.out / "index.html")
        self.assertPageOk(dom)
        self.assertEqual(len(dom.rows), len(self.alerts))
        self.assertEqual(
            sorted(int(r["data-src"]) for r in dom.rows), sorted(a["diaSourceId"] for a in self.alerts)
        )
        self.assertTrue(all(src.startswith("thumbs/") for src in dom.images))
        self.assertEqual(len(dom.images), len(self.alerts))

    def testFilterAndSortInBrowser(self):
        """The fragment's filters keep exactly the expected rows, sorted as asked."""
        threshold = 8.0
        expected = sorted(
            (a for a in self.alerts if abs(self.snr(a)) >= threshold), key=self.snr, reverse=True
        )
        self.assertTrue(0 < len(expected) < len(self.alerts))
        dom = self.dom(self.out / "index.html", f"#snr={threshold}&sort=snr&desc=1")
        self.assertPageOk(dom)
        shown = [r for r in dom.rows if "hidden" not in r]
        self.assertEqual([int(r["data-src"]) for r in shown], [a["diaSourceId"] for a in expected])
        # Flags: only the alerts with pixelFlags_edge set.
        edge = {a["diaSourceId"] for a in self.alerts if a["diaSource"]["pixelFlags_edge"]}
        dom = self.dom(self.out / "index.html", "#flags=edge")
        self.assertEqual({int(r["data-src"]) for r in dom.rows if "hidden" not in r}, edge)
        # Text: one diaObjectId.
        target = next(a for a in self.alerts if a["diaSource"]["diaObjectId"])
        objectId = target["diaSource"]["diaObjectId"]
        dom = self.dom(self.out / "index.html", f"#q={objectId}")
        self.assertEqual(
            {int(r["data-src"]) for r in dom.rows if "hidden" not in r},
            {
                a["diaSourceId"]
                for a in self.alerts
                if str(objectId) in f"{a['diaSourceId']} {a['diaSource']['diaObjectId']}"
            },
        )

    def testAlertPageAndScreenshot(self):
        page = self.out / "alerts" / f"{self.alerts[0]['diaSourceId']}.html"
        dom = self.dom(page)
        self.assertPageOk(dom)
        self.assertEqual(dom.images, [f"{self.alerts[0]['diaSourceId']}.png"])
        shot = Path(self.tmp.name) / "index-shot.png"
        self.chromium(f"--screenshot={shot}", "--window-size=1400,900", (self.out / "index.html").as_uri())
        pixels = matplotlib.image.imread(str(shot))[..., :3]
        self.assertEqual(pixels.shape[:2], (900, 1400))
        colours = np.unique((pixels.reshape(-1, 3) * 255).round().astype(int), axis=0)
        self.assertGreater(len(colours), 100)  # text, links, thumbnails: not a blank page
        self.assertGreater(float(pixels.std()), 0.05)

    def testErrorCollectorCatchesProblems(self):
        """A page with a broken image and a script error reports both (the check above can fail)."""
        page = (self.out / "alerts" / f"{self.alerts[0]['diaSourceId']}.html").read_text()
        broken = page.replace('src="', 'src="missing-', 1).replace(
            "</body>", "<script>undefinedFunction();</script></body>"
        )
        path = self.out / "alerts" / "broken.html"
        path.write_text(broken)
        try:
            dom = self.dom(path)
        finally:
            path.unlink()
        self.assertEqual(dom.root.get("data-script-errors"), "2")


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
