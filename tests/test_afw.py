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

"""The choice made in ``lsst.ap.alerts._afw`` does not change the alerts.

The same FITS files, written by real afw, are packaged twice: in this
process with real afw exposures, and in a child process that
``AP_ALERTS_FORCE_MODEL`` sends to the package's image model.  Every catalog
field and every cutout pixel (image, variance, mask planes, PSF) must be
bit-identical, and every FITS card too, except where the two differ in
precision, not behaviour: the source's position in the cutout (CRPIX) comes
from ``skyToPixel``, which afw (AST) inverts to ~1e-9 px on TAN and ~1e-3 px
on the HSC file's TAN-SIP while the model inverts exactly, and the local CD
matrix evaluated there moves with it.  Runs where real afw is installed.
"""

import io
import os
import pickle
import subprocess
import sys
import tempfile
import unittest

import fastavro
import lsst.utils.tests
import numpy as np
from astropy.io import fits

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask, _afw
from lsst.ap.alerts import simulation as sim

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
HSC_FILE = os.path.join(
    TESTS_DIR, os.pardir, os.pardir, "shared", "data", "afw", "HSC-0908120-056-small.fits"
)
IMAGES = ("diffIm", "calexp", "template")
CUTOUTS = ("cutoutDifference", "cutoutScience", "cutoutTemplate")


def packageFiles(specPath, outDir):
    """Package the visit described in ``specPath`` with whichever tier ``_afw`` chose.

    ``specPath`` is a pickle of the catalogs (`PackageAlertsTask.run`
    keywords), the exposure files by argument name, and optionally what to
    set on each exposure once read: ``photoCalib`` (mean, error),
    ``psfSigma``, and ``infoFrom``, a file whose Detector and VisitInfo are
    taken.  Returns the alert file's path.
    """
    with open(specPath, "rb") as stream:
        spec = pickle.load(stream)
    arguments = dict(spec["catalogs"])
    for name, path in spec["files"].items():
        exposure = _afw.afwImage.ExposureF.readFits(path)
        if spec.get("infoFrom"):
            info = _afw.afwImage.ExposureF.readFits(spec["infoFrom"]).info
            exposure.info.setDetector(info.getDetector())
            exposure.info.setVisitInfo(info.getVisitInfo())
        if spec.get("photoCalib"):
            exposure.setPhotoCalib(_afw.afwImage.PhotoCalib(*spec["photoCalib"]))
        if spec.get("psfSigma"):
            exposure.setPsf(_afw.GaussianPsf(21, 21, spec["psfSigma"]))
        arguments[name] = exposure
    config = PackageAlertsConfig()
    config.alertWriteLocation = outDir
    config.doWriteAlerts = True
    config.doProduceAlerts = False
    result = PackageAlertsTask(config=config).run(**arguments)
    return result.alertFile


def runWithModel(specPath, outDir):
    """`packageFiles` in a child process on the image model; returns its alert file."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import test_afw as t; "
        "from lsst.ap.alerts import _afw; assert not _afw.HAVE_AFW; "
        "print(t.packageFiles(sys.argv[2], sys.argv[3]))"
    )
    env = dict(os.environ, **{_afw.FORCE_MODEL_VARIABLE: "1"})
    done = subprocess.run(
        [sys.executable, "-c", code, TESTS_DIR, specPath, outDir],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise AssertionError(f"model run failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


def readAlerts(path):
    with open(path, "rb") as stream:
        return list(fastavro.reader(stream))


class SwitchTestCase(lsst.utils.tests.TestCase):
    """``AP_ALERTS_FORCE_MODEL`` picks the model; unset or ``0`` picks what is installed."""

    def _tier(self, value):
        env = {k: v for k, v in os.environ.items() if k != _afw.FORCE_MODEL_VARIABLE}
        if value is not None:
            env[_afw.FORCE_MODEL_VARIABLE] = value
        code = "from lsst.ap.alerts import _afw; print(_afw.HAVE_AFW, _afw.afwImage.__name__)"
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.split()

    def testForced(self):
        self.assertEqual(self._tier("1"), ["False", "lsst.ap.alerts.afwModel.image"])

    def testNotForced(self):
        model = ["False", "lsst.ap.alerts.afwModel.image"]
        installed = ["True", "lsst.afw.image"] if _afw.HAVE_AFW else model
        self.assertEqual(self._tier(None), installed)
        self.assertEqual(self._tier("0"), installed)


@unittest.skipUnless(_afw.HAVE_AFW, "needs real lsst.afw to compare with the model")
class SameAlertsTestCase(lsst.utils.tests.TestCase):
    """Real afw exposures and the model's readings of the same files give the same alert file."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def _path(self, *parts):
        return os.path.join(self.tmp.name, *parts)

    def _writeSpec(self, catalogs, files, **extra):
        path = self._path("spec.pickle")
        with open(path, "wb") as stream:
            pickle.dump({"catalogs": catalogs, "files": files, **extra}, stream)
        return path

    def _assertSameAlerts(self, specPath, minCutouts, crpixTolerance):
        """Both tiers' alerts are equal but for the cutouts' CRPIX (and CD) within ``crpixTolerance`` px."""
        afwAlerts = readAlerts(packageFiles(specPath, self._path("afw")))
        modelAlerts = readAlerts(runWithModel(specPath, self._path("model")))
        self.assertEqual(len(afwAlerts), len(modelAlerts))
        cutouts = 0
        for afwAlert, modelAlert in zip(afwAlerts, modelAlerts, strict=True):
            sourceId = afwAlert["diaSource"]["diaSourceId"]
            for key in CUTOUTS:
                what = f"{key} of diaSourceId {sourceId}"
                afwCutout, modelCutout = afwAlert.pop(key), modelAlert.pop(key)
                self.assertEqual(afwCutout is None, modelCutout is None, msg=what)
                if afwCutout is not None and afwCutout != modelCutout:
                    self._assertSameButCrpix(afwCutout, modelCutout, crpixTolerance, what)
                cutouts += afwCutout is not None
            # NaN-aware: the records go through the same encoder, so their bytes must agree.
            self.assertEqual(repr(afwAlert), repr(modelAlert), msg=f"diaSourceId {sourceId}")
        self.assertGreaterEqual(cutouts, minCutouts)

    def _assertSameButCrpix(self, afwBytes, modelBytes, tolerance, what):
        """Same HDUs, pixels and cards, but CRPIX within ``tolerance`` px and the
        local CD/PC matrix as far as its Jacobian moves over that distance."""
        with fits.open(io.BytesIO(afwBytes)) as afwHdus, fits.open(io.BytesIO(modelBytes)) as modelHdus:
            self.assertEqual([h.name for h in afwHdus], [h.name for h in modelHdus], msg=what)
            for afwHdu, modelHdu in zip(afwHdus, modelHdus, strict=True):
                where = f"{what} {afwHdu.name}"
                np.testing.assert_array_equal(afwHdu.data, modelHdu.data, err_msg=where)
                afwHeader, modelHeader = afwHdu.header, modelHdu.header
                self.assertEqual(list(afwHeader), list(modelHeader), msg=where)
                scale = max((abs(v) for k, v in afwHeader.items() if k[:2] in ("CD", "PC")), default=0.0)
                for key, value in afwHeader.items():
                    if key.startswith("CRPIX"):
                        self.assertLessEqual(abs(value - modelHeader[key]), tolerance, msg=f"{where} {key}")
                    elif key[:2] in ("CD", "PC") and "_" in key:
                        self.assertLessEqual(
                            abs(value - modelHeader[key]), 1e-8 * scale, msg=f"{where} {key}"
                        )
                    else:
                        self.assertEqual(value, modelHeader[key], msg=f"{where} {key}")

    def _simulatedSpec(self, **kwargs):
        """A visit with a cameraGeom detector, stars, a shifted template and edge sources, in afw's files."""
        visit = sim.makeSimulatedVisit(
            60,
            3,
            seed=5,
            size=300,
            fractionSolarSystem=0.1,
            exposureKwargs={"templateOffset": (6, -4)},
            **kwargs,
        )
        files = {}
        for name in IMAGES:
            files[name] = self._path(f"{name}.fits")
            getattr(visit, name).writeFits(files[name])
        catalogs = sim.runArguments(visit)
        for name in IMAGES:
            del catalogs[name]
        return self._writeSpec(catalogs, files)

    # The sources' cutout pixels come from skyToPixel, which AST (afw) computes
    # to ~1e-9 px here and the model to rounding: CRPIX may differ by that.

    def testTanVisit(self):
        self._assertSameAlerts(self._simulatedSpec(sip=False), minCutouts=3 * 60 - 10, crpixTolerance=1e-8)

    def testTanSipVisit(self):
        self._assertSameAlerts(self._simulatedSpec(sip=True), minCutouts=3 * 60 - 10, crpixTolerance=1e-8)

    @unittest.skipUnless(os.path.exists(HSC_FILE), "needs ../shared/data/afw (real afw-written HSC file)")
    def testHscFile(self):
        """A real HSC calexp written by afw (older layout, its own mask planes), as all three images."""
        exposure = _afw.afwImage.ExposureF.readFits(HSC_FILE)
        bbox, wcs = exposure.getBBox(), exposure.getWcs()
        visit = sim.makeSimulatedVisit(40, 2, seed=9, size=200)
        # The cut-out has neither: the simulated visit's (afw cameraGeom) are set on it.
        infoFrom = self._path("info.fits")
        visit.diffIm.writeFits(infoFrom)
        catalogs = sim.runArguments(visit)
        for name in IMAGES:
            del catalogs[name]
        source = catalogs["diaSourceCat"].copy()
        rng = np.random.default_rng(9)
        # Inside, on and just beyond the edges of the cut-out (xy0 = 100, 100).
        x = rng.uniform(bbox.getMinX() - 3, bbox.getMaxX() + 3, len(source))
        y = rng.uniform(bbox.getMinY() - 3, bbox.getMaxY() + 3, len(source))
        sky = [wcs.pixelToSky(float(px), float(py)) for px, py in zip(x, y, strict=True)]
        source["x"], source["y"] = x, y
        source["ra"] = [point.getRa().asDegrees() for point in sky]
        source["dec"] = [point.getDec().asDegrees() for point in sky]
        catalogs["diaSourceCat"] = source
        spec = self._writeSpec(
            catalogs,
            dict.fromkeys(IMAGES, HSC_FILE),
            photoCalib=(0.25, 0.01),
            psfSigma=2.1,
            infoFrom=infoFrom,
        )
        # afw's skyToPixel inverts this file's TAN-SIP approximately (to ~1e-3
        # px), the model's exactly: the cutouts' reference pixels, and the local
        # Jacobians evaluated there, differ by that much.
        self._assertSameAlerts(spec, minCutouts=3 * 30, crpixTolerance=1e-3)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
