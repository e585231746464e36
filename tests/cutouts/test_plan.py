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

"""Every cutout of a crowded visit, as `PackageAlertsTask.run` writes it (`lsst.ap.alerts.cutouts.plan`).

For every cutout (edge cutouts included), on the model and on real afw:

- the alert's bytes are ``streamCcdDataToBytes(createCcdDataCutout(...))``;
- its PRIMARY, UNCERT and PSFIMAGE HDUs are what astropy's ``CCDData.write``
  writes for that cutout, byte for byte (upstream's serialization);
- with the default ``cutoutMaskPlanes = "none"`` the file is exactly
  ``CCDData.write``'s; with ``"compressed"`` an AFWMASK HDU follows, which
  astropy, `readCutout` and (where importable) afw's own FITS reader read
  back as afw's planes;
- ``CCDData.read`` gives no mask; `readCutout` masks only unusable pixels.

With real afw the pixels, CRPIX, CD and CRVAL are also compared with
upstream's recipe rebuilt from afw's API (``getCutout``,
``PhotoCalib.calibrateImage``, AST's Jacobian): byte for byte.
"""

import io
import logging
import os
import tempfile
import unittest

import lsst.utils.tests
import numpy as np
from astropy import wcs as astropyWcs
from astropy.io import fits
from astropy.nddata import CCDData, VarianceUncertainty

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts import simulation as sim
from lsst.ap.alerts._afw import HAVE_AFW, geom
from lsst.ap.alerts.cutouts import plan
from lsst.ap.alerts.cutouts.ccdData import UNUSABLE_PLANES, readCutout
from lsst.ap.alerts.cutouts.fits import AFWMASK_EXTNAME

FIELDS = (("cutoutDifference", "diffIm"), ("cutoutScience", "calexp"), ("cutoutTemplate", "template"))


def hduBytes(data):
    """Raw bytes (header and data, with padding) of each HDU, by name."""
    with fits.open(io.BytesIO(data)) as hdus:
        spans = [(hdu.name, hdu.fileinfo()["hdrLoc"]) for hdu in hdus]
    ends = [start for _, start in spans[1:]] + [len(data)]
    return {name: data[start:end] for (name, start), end in zip(spans, ends, strict=True)}


class CrowdedVisitTestCase(lsst.utils.tests.TestCase):
    @classmethod
    def setUpClass(cls):
        # 220 sources on 260x260 pixels: overlapping boxes, many leave the image.
        cls.visit = sim.makeSimulatedVisit(220, 2, seed=21, size=260)
        cls.log = logging.getLogger("test_plan")
        v = cls.visit
        # One task and result per cutoutMaskPlanes layout; the default first.
        cls.tasks, cls.results = {}, {}
        # Small pixel batches: cutouts on both sides of many batch boundaries.
        original, plan._BATCH_BYTES = plan._BATCH_BYTES, 30_000
        try:
            for layout in ("none", "compressed"):
                config = PackageAlertsConfig()
                config.doWriteAlerts = False
                config.cutoutMaskPlanes = layout
                cls.tasks[layout] = PackageAlertsTask(config=config)
                cls.results[layout] = cls.tasks[layout].run(
                    v.diaSourceCat,
                    v.diaObjectCat,
                    v.diaSrcHistory,
                    v.diaForcedSources,
                    v.diffIm,
                    v.calexp,
                    v.template,
                )
        finally:
            plan._BATCH_BYTES = original
        cls.task, cls.result = cls.tasks["none"], cls.results["none"]
        cls.rotPa = v.diffIm.visitInfo.boresightRotAngle.asDegrees()
        sources = v.diaSourceCat.reset_index(drop=True)
        cls.sources = {int(row.diaSourceId): row for row in sources.itertuples()}

    def slowCutout(self, image, row):
        """The task's public, upstream-shaped path for one cutout."""
        task = self.task
        return task.createCcdDataCutout(
            image,
            geom.SpherePoint(row.ra, row.dec, geom.degrees),
            geom.Point2D(row.x, row.y),
            task.createDiaSourceExtent(row.bboxSize),
            image.getPhotoCalib(),
            row.diaSourceId,
            rotPa=self.rotPa,
        )

    def testEveryCutout(self):
        """Each layout: run()'s bytes are streamCcdDataToBytes(createCcdDataCutout(...)) of that config.

        Default: exactly CCDData.write's file (upstream's); compressed: the
        same HDUs byte for byte, then AFWMASK holding afw's planes.
        """
        counts = {"cutouts": 0, "edge": 0}
        for layout, result in self.results.items():
            for i in range(len(result.alerts)):
                alert = result.alerts[i]
                row = self.sources[alert["diaSourceId"]]
                for field, name in FIELDS:
                    image = getattr(self.visit, name)
                    ccd = self.slowCutout(image, row)
                    data = alert[field]
                    self.assertEqual(data is None, ccd is None)
                    if data is None:
                        continue
                    counts["cutouts"] += 1
                    counts["edge"] += not image.getBBox().contains(
                        geom.Box2I(
                            geom.Point2I(ccd.meta["cutMinX"] + 1, ccd.meta["cutMinY"] + 1),
                            geom.Extent2I(*ccd.shape[::-1]),
                        )
                    )
                    where = f"{layout}: {field} of {row.diaSourceId}"
                    self.assertEqual(self.tasks[layout].streamCcdDataToBytes(ccd), data, msg=where)
                    self.checkHdus(layout, ccd, data, where)
        self.assertGreater(counts["cutouts"], 1000)
        self.assertGreater(counts["edge"], 60)

    def checkHdus(self, layout, ccd, data, where):
        with io.BytesIO() as stream:
            ccd.write(stream, format="fits")
            written = stream.getvalue()
        if layout == "none":
            self.assertEqual(data, written, msg=where)
            return
        ours, astropys = hduBytes(data), hduBytes(written)
        self.assertEqual(list(astropys), ["PRIMARY", "UNCERT", "PSFIMAGE"])
        self.assertEqual(list(ours), ["PRIMARY", "UNCERT", "PSFIMAGE", AFWMASK_EXTNAME])
        for hdu in astropys:
            self.assertEqual(ours[hdu], astropys[hdu], msg=f"{hdu} of {where}")
        np.testing.assert_array_equal(readCutout(data).flags, ccd.flags, err_msg=where)

    def testMaskForAstropyUsers(self):
        """CCDData.read: no mask (DETECTED pixels are not 'bad'); readCutout: only unusable pixels."""
        detected = edge = 0
        for i in range(len(self.result.alerts)):
            self.assertIsNone(readCutout(self.result.alerts[i]["cutoutDifference"]).flags)
        for i in range(len(self.results["compressed"].alerts)):
            data = self.results["compressed"].alerts[i]["cutoutDifference"]
            if data is None:
                continue
            self.assertIsNone(CCDData.read(io.BytesIO(data), format="fits").mask)
            cutout = readCutout(data)
            planes = cutout.maskPlanes
            unusable = sum(1 << planes[name] for name in UNUSABLE_PLANES if name in planes)
            np.testing.assert_array_equal(cutout.mask, (cutout.flags & unusable) != 0)
            center = tuple(s // 2 for s in cutout.shape)
            if cutout.flags[center] & (1 << planes["DETECTED"]) and not cutout.flags[center] & unusable:
                detected += 1
                self.assertFalse(cutout.mask[center])
            noData = (cutout.flags & (1 << planes["NO_DATA"])) != 0
            if noData.any():
                edge += 1
                self.assertTrue(cutout.mask[noData].all())
                self.assertTrue(np.isnan(cutout.data[noData]).all())
                self.assertTrue(np.isposinf(cutout.uncertainty.array[noData]).all())
        self.assertGreater(detected, 10)
        self.assertGreater(edge, 5)

    @unittest.skipUnless(HAVE_AFW, "afw's FITS reader (cfitsio) needs real afw")
    def testAfwReadsCompressedPlanes(self):
        """afw's Mask reader decompresses AFWMASK to the cutout of the parent's mask, planes and all."""
        import lsst.afw.image as afwImage

        checked = 0
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(0, len(self.results["compressed"].alerts), 10):
                data = self.results["compressed"].alerts[i]["cutoutDifference"]
                if data is None:
                    continue
                path = os.path.join(tmp, f"{i}.fits")
                with open(path, "wb") as f:
                    f.write(data)
                cutout = readCutout(data)
                mask = afwImage.Mask(path, hdu=list(hduBytes(data)).index(AFWMASK_EXTNAME))
                np.testing.assert_array_equal(mask.array, cutout.flags)
                afwPlanes = dict(mask.getMaskPlaneDict())
                self.assertEqual({name: afwPlanes.get(name) for name in cutout.maskPlanes}, cutout.maskPlanes)
                checked += 1
        self.assertGreater(checked, 10)

    @unittest.skipUnless(HAVE_AFW, "upstream's recipe needs real afw (getCutout, calibrateImage, AST)")
    def testUpstreamRecipe(self):
        import lsst.afw.geom as afwGeom

        scale = (1.0 * geom.arcseconds).asDegrees()
        checked = 0
        for i in range(0, len(self.result.alerts), 4):
            alert = self.result.alerts[i]
            row = self.sources[alert["diaSourceId"]]
            for field, name in FIELDS:
                if alert[field] is None:
                    continue
                image = getattr(self.visit, name)
                sky = geom.SpherePoint(row.ra, row.dec, geom.degrees)
                cutout = image.getCutout(
                    geom.Point2D(row.x, row.y), self.task.createDiaSourceExtent(row.bboxSize)
                )
                minX, minY = cutout.getBBox().getMinX() - 1, cutout.getBBox().getMinY() - 1
                wcs = cutout.getWcs()
                center = wcs.skyToPixel(sky)
                calibrated = image.getPhotoCalib().calibrateImage(cutout.getMaskedImage())
                local = afwGeom.makeSkyWcs(center, sky, [[scale, 0], [0, scale]])
                upstreamWcs = astropyWcs.WCS(naxis=2)
                upstreamWcs.wcs.crpix = [center.x - minX, center.y - minY]
                upstreamWcs.wcs.crval = [sky.getRa().asDegrees(), sky.getDec().asDegrees()]
                upstreamWcs.wcs.cd = (
                    wcs.getTransform().then(local.getTransform().inverted()).getJacobian(center) / 3600
                )
                psf = image.getPsf().computeKernelImage(geom.Point2D(row.x, row.y)).array
                upstream = CCDData(
                    calibrated.getImage().array,
                    unit="nJy",
                    wcs=upstreamWcs,
                    psf=psf,
                    uncertainty=VarianceUncertainty(calibrated.getVariance().array),
                )
                with io.BytesIO() as stream:
                    upstream.write(stream, format="fits")
                    theirs = hduBytes(stream.getvalue())
                ours = hduBytes(alert[field])
                for hdu in ("UNCERT", "PSFIMAGE"):
                    self.assertEqual(ours[hdu], theirs[hdu])
                self.assertEqual(
                    ours["PRIMARY"][-len(theirs["PRIMARY"]) + 2880 :], theirs["PRIMARY"][2880:]
                )  # the pixels
                # Keyword and value columns of the cards (upstream's comments lack the unit).
                cards = {
                    c.keyword: c.image[:30] for c in fits.Header.fromstring(theirs["PRIMARY"][:2880]).cards
                }
                ourCards = {
                    c.keyword: c.image[:30] for c in fits.Header.fromstring(ours["PRIMARY"][:2880]).cards
                }
                for key in ("CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2"):
                    self.assertEqual(ourCards.get(key), cards.get(key), msg=key)
                # The CD matrix is the exact Jacobian (test_geometry); upstream's is AST's
                # numerical rate: within 1e-6 of it, except that it loses a column
                # within a pixel of the parent's x = 0 or y = 0 (upstream's bug, not copied).
                ourCd = astropyWcs.WCS(fits.Header.fromstring(ours["PRIMARY"][:2880])).pixel_scale_matrix
                upstreamCd = upstreamWcs.pixel_scale_matrix
                if abs(row.x) >= 1 and abs(row.y) >= 1:
                    np.testing.assert_allclose(ourCd, upstreamCd, rtol=0, atol=1e-6 * np.abs(ourCd).max())
                self.assertGreater(abs(np.linalg.det(ourCd)), 0.9 * (0.2 / 3600) ** 2)
                checked += 1
        self.assertGreater(checked, 100)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
