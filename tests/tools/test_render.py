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

"""Tests of the alert figure (`lsst.ap.alerts.tools.render`).

The alerts come from `PackageAlertsTask` on a small simulated visit (Gaussian
PSF of sigma 1.7 px, 0.2 arcsec pixels: the simulation's defaults), decoded
back with fastavro.  Oracles: the simulation's PSF width and pixel scale, a
Gaussian fitted by least squares, the source position from astropy's WCS, AB
magnitudes from astropy units, and the alert records themselves.  The
figure's text is checked in SVG output, where matplotlib keeps text as text.
"""

import copy
import io
import math
import re
import tempfile
import unittest
from pathlib import Path

import astropy.units as u
import fastavro
import lsst.utils.tests
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.nddata import CCDData
from cutoutLayouts import LAYOUTS, cutoutLayouts

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts.simulation import makeSimulatedVisit, runArguments
from lsst.ap.alerts.tools import cli
from lsst.ap.alerts.tools.inspection import abMagnitude, summarizeAlert
from lsst.ap.alerts.tools.render import renderAlert
from lsst.ap.alerts.tools.stamps import STRETCHES, chooseStretch, loadCutout, psfFwhmPixels

PSF_SIGMA = 1.7  # makeVisitExposures' default
PIXEL_ARCSEC = 0.2


def readCcd(data):
    return CCDData.read(io.BytesIO(data), format="fits")


class RenderTestCase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ap-alerts-render-")
        visit = makeSimulatedVisit(12, 4, seed=3, size=(300, 260), fractionSolarSystem=0.2)
        config = PackageAlertsConfig()
        config.doWriteAlerts = True
        config.alertWriteLocation = cls.tmp.name
        result = PackageAlertsTask(config=config).run(**runArguments(visit))
        with open(result.alertFile, "rb") as stream:
            cls.alerts = list(fastavro.reader(stream))

        def snr(alert):
            return alert["diaSource"]["psfFlux"] / alert["diaSource"]["psfFluxErr"]

        cls.bright = max(cls.alerts, key=snr)
        cls.withHistory = next(a for a in cls.alerts if a["prvDiaSources"])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.work = Path(tempfile.mkdtemp(dir=self.tmp.name))

    def svgText(self, alert, **kwargs):
        path = self.work / "figure.svg"
        stamp = renderAlert(alert, str(path), **kwargs)
        return stamp, path.read_text()

    def testEveryCutoutLayout(self):
        """loadCutout (render and report) reads each layout: the planes when present; the figure is
        the same whichever layout the cutouts are in."""
        alerts, planes = {}, {"SAT": 1, "DETECTED": 5, "NO_DATA": 8}
        for field in ("cutoutDifference", "cutoutScience", "cutoutTemplate"):
            data = self.bright[field]
            flags = np.zeros(readCcd(data).shape, np.int32)
            flags[2:5, 3] = 1 << 5
            flags[0, :] = 1 << 8
            for layout, cutout in cutoutLayouts(data, flags, planes).items():
                alerts.setdefault(layout, dict(self.bright))[field] = cutout
                ccd, error = loadCutout(cutout)
                self.assertIsNone(error)
                np.testing.assert_array_equal(ccd.data, readCcd(data).data)
                if layout == "none":
                    self.assertIsNone(ccd.flags)
                else:
                    np.testing.assert_array_equal(ccd.flags, flags)
                    self.assertEqual(ccd.maskPlanes, planes)
                    np.testing.assert_array_equal(ccd.mask, flags == 1 << 8)
        self.assertEqual(loadCutout(None), (None, None))
        self.assertEqual(loadCutout(b"not FITS" * 400)[0], None)
        stamps = {layout: self.svgText(alerts[layout])[0] for layout in LAYOUTS}
        for layout in LAYOUTS:
            self.assertTrue(all(stamps[layout].drawn.values()), layout)
            self.assertEqual(stamps[layout].stretches, stamps["none"].stretches)

    def testPsfFwhm(self):
        """The FWHM matches the simulated PSF and a Gaussian fitted to the image."""
        psf = np.asarray(readCcd(self.bright["cutoutScience"]).psf, dtype=float)
        # A circular Gaussian fitted to the log of the bright pixels (linear least squares):
        # log I = a + b x + c y + d (x² + y²), sigma² = -1 / (2 d).
        y, x = np.indices(psf.shape)
        bright = psf > 0.05 * psf.max()
        xs, ys = x[bright].astype(float), y[bright].astype(float)
        design = np.column_stack([np.ones_like(xs), xs, ys, xs**2 + ys**2])
        coefficients = np.linalg.lstsq(design, np.log(psf[bright]), rcond=None)[0]
        fitted = 2 * math.sqrt(2 * math.log(2)) * math.sqrt(-1 / (2 * coefficients[3]))
        fwhm = psfFwhmPixels(psf)
        self.assertAlmostEqual(fwhm, 2 * math.sqrt(2 * math.log(2)) * PSF_SIGMA, delta=0.05)
        self.assertAlmostEqual(fwhm, fitted, delta=0.05)
        self.assertIsNone(psfFwhmPixels(np.zeros((5, 5))))
        stamp, svg = self.svgText(self.bright)
        self.assertAlmostEqual(stamp.psfFwhm, fwhm)
        self.assertAlmostEqual(stamp.pixelScale, PIXEL_ARCSEC, delta=1e-3)
        self.assertIn(f"FWHM {fwhm:.2f} px = {fwhm * PIXEL_ARCSEC:.2f}″", svg)
        self.assertIn("to scale", svg)

    def testBrightCoreKeepsItsShape(self):
        """The default stretch leaves the core of an S/N > 100 source unsaturated; zscale does not."""
        science = np.asarray(readCcd(self.bright["cutoutScience"]).data, dtype=float)
        template = np.asarray(readCcd(self.bright["cutoutTemplate"]).data, dtype=float)
        self.assertGreater(self.bright["diaSource"]["psfFlux"] / self.bright["diaSource"]["psfFluxErr"], 100)
        default = chooseStretch([science, template], STRETCHES[0])
        zscale = chooseStretch([science, template], "zscale")
        self.assertEqual(STRETCHES[0], "asinh")
        saturated = int(np.sum(default(science) >= 0.999))
        self.assertLessEqual(saturated, 3)
        self.assertGreater(int(np.sum(zscale(science) >= 0.999)), 5 * max(saturated, 1))
        # The brightest pixels keep their order: the core has a gradient.
        y, x = np.unravel_index(np.nanargmax(science), science.shape)
        ring = default(science[y - 2 : y + 3, x - 2 : x + 3])
        self.assertGreater(np.nanmax(ring) - np.nanmin(ring), 0.1)

    def testCommonStretchWritten(self):
        """Science and template share one stretch; its limits are written under both."""
        stamp, svg = self.svgText(self.withHistory)
        shared = stamp.stretches["cutoutScience"]
        self.assertEqual(shared, stamp.stretches["cutoutTemplate"])
        science = readCcd(self.withHistory["cutoutScience"]).data
        template = readCcd(self.withHistory["cutoutTemplate"]).data
        both = np.concatenate([np.ravel(science), np.ravel(template)])
        both = both[np.isfinite(both)]
        self.assertAlmostEqual(shared.low, np.percentile(both, 0.5), places=3)
        self.assertAlmostEqual(shared.high, max(np.percentile(both, 99.9), shared.low), places=3)
        text = shared.describe() + " (shared)"
        self.assertEqual(svg.count(text), 2)
        difference = stamp.stretches["cutoutDifference"]
        self.assertEqual(difference.low, -difference.high)
        self.assertIn(difference.describe(), svg)

    def testOverlaysClearOfTheSource(self):
        """Arrows and scale bar sit inside the cutout, away from the source position (astropy WCS)."""
        for alert in self.alerts:
            stamp = renderAlert(alert, str(self.work / "o.png"))
            source = alert["diaSource"]
            for field, overlays in stamp.overlays.items():
                ccd = readCcd(alert[field])
                x, y = ccd.wcs.world_to_pixel(SkyCoord(source["ra"], source["dec"], unit="deg"))
                side = min(ccd.data.shape)
                for name in ("compass", "scaleBar"):
                    with self.subTest(alert=alert["diaSourceId"], field=field, overlay=name):
                        x0, y0, x1, y1 = overlays[name]
                        self.assertGreaterEqual(min(x0, y0), -0.5)
                        self.assertLessEqual(x1, ccd.data.shape[1] - 0.5)
                        self.assertLessEqual(y1, ccd.data.shape[0] - 0.5)
                        dx = max(x0 - x, 0, x - x1)
                        dy = max(y0 - y, 0, y - y1)
                        self.assertGreaterEqual(math.hypot(dx, dy), 0.12 * side)
                boxes = [overlays["compass"], overlays["scaleBar"]]
                overlapX = min(boxes[0][2], boxes[1][2]) > max(boxes[0][0], boxes[1][0])
                overlapY = min(boxes[0][3], boxes[1][3]) > max(boxes[0][1], boxes[1][1])
                self.assertFalse(overlapX and overlapY)

    def testLightCurveAndCaption(self):
        """Every finite history point is drawn, the rest counted; the caption has the triage flags."""
        alert = copy.deepcopy(self.withHistory)
        alert["prvDiaSources"][0]["psfFlux"] = float("nan")
        alert["diaSource"]["isDipole"] = True
        alert["diaSource"]["pixelFlags_saturatedCenter"] = True
        alert["diaSource"]["pixelFlags_cr"] = True
        stamp, svg = self.svgText(alert)
        nPrv, nForced = len(alert["prvDiaSources"]), len(alert["prvDiaForcedSources"] or [])
        self.assertEqual(stamp.lightCurvePoints, {"detections": nPrv - 1, "forced": nForced, "skipped": 1})
        self.assertIn("1 without a flux or time, not shown", svg)
        source = alert["diaSource"]
        self.assertIn(f"reliability {source['reliability']:.3f}", svg)
        self.assertIn("isDipole YES", svg)
        # The caption's flags close the figure; a long list wraps over several <text> lines.
        texts = " ".join(re.findall(r">([^<>]+)</text>", svg))
        flags = texts.split("flags: ")[1].split(", ")
        self.assertIn("saturatedCenter", flags)
        self.assertIn("cr", flags)
        self.assertIn(f"nDiaSources {alert['diaObject']['nDiaSources']}", svg)
        flux = source["psfFlux"]
        if flux > 0:
            self.assertIn(f"mag {(flux * u.nJy).to(u.ABmag).value:.2f}", svg)
        self.assertIn("MJD (TAI)", svg)
        self.assertIn("psfFlux (nJy)", svg)

    def testNoHistory(self):
        alert = copy.deepcopy(self.bright)
        alert["prvDiaSources"] = None
        alert["prvDiaForcedSources"] = None
        stamp, svg = self.svgText(alert)
        self.assertEqual(stamp.lightCurvePoints, {"detections": 0, "forced": 0, "skipped": 0})
        self.assertIn("no earlier detections or forced photometry", svg)

    def testMagnitude(self):
        for flux in (1.0, 3631e9, 12345.6):
            self.assertAlmostEqual(abMagnitude(flux), (flux * u.nJy).to(u.ABmag).value, places=9)
        for flux in (0.0, -5.0, float("nan"), None):
            self.assertIsNone(abMagnitude(flux))
        summary = summarizeAlert(self.bright, 0)
        self.assertEqual(summary.nDiaSources, (self.bright["diaObject"] or {}).get("nDiaSources"))
        self.assertEqual(summary.reliability, self.bright["diaSource"]["reliability"])

    def testFormatsAndStretchNames(self):
        self.assertEqual(cli.STRETCHES, STRETCHES)
        for suffix, magic in ((".png", b"\x89PNG"), (".pdf", b"%PDF"), (".svg", b"<?xml")):
            path = self.work / f"f{suffix}"
            renderAlert(self.bright, str(path))
            self.assertEqual(path.read_bytes()[: len(magic)], magic)
        with self.assertRaisesRegex(ValueError, "name the file"):
            renderAlert(self.bright, str(self.work / "f.jpg"))
        with self.assertRaisesRegex(ValueError, "Unknown stretch"):
            renderAlert(self.bright, str(self.work / "f.png"), stretch="log")


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
