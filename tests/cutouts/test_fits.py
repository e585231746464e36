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

"""The cutout FITS layout written without astropy (`lsst.ap.alerts.cutouts.fits`) against astropy itself."""

import io
import unittest

import astropy.units as u
import lsst.utils.tests
import numpy as np
from astropy import wcs as astropyWcs
from astropy.io import fits
from astropy.nddata import CCDData, VarianceUncertainty

from lsst.ap.alerts.cutouts.fits import AFWMASK_EXTNAME, CutoutFitsWriter, PrimaryHeaders, compressedMaskHdu

PLANES = {
    "BAD": 0,
    "SAT": 1,
    "INTRP": 2,
    "CR": 3,
    "EDGE": 4,
    "DETECTED": 5,
    "DETECTED_NEGATIVE": 6,
    "SUSPECT": 7,
    "NO_DATA": 8,
    "VIGNETTED": 9,
    "STREAK": 10,
    "CROSSTALK": 11,
}


def astropyFile(shape, cutMin, crpix, cd, crval, rotPa, psf=None):
    """What CCDData.write writes for a cutout with these numbers (upstream's serialization)."""
    cutoutWcs = astropyWcs.WCS(naxis=2)
    cutoutWcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    cutoutWcs.wcs.cunit = ["deg", "deg"]
    cutoutWcs.wcs.crpix = list(crpix)
    cutoutWcs.wcs.crval = list(crval)
    cutoutWcs.wcs.cd = np.reshape(cd, (2, 2))
    meta = {"cutMinX": cutMin[0], "cutMinY": cutMin[1]}
    if rotPa is not None:
        meta["ROTPA"] = rotPa
    ccd = CCDData(
        np.zeros(shape, np.float32),
        uncertainty=VarianceUncertainty(np.ones(shape, np.float32)),
        wcs=cutoutWcs,
        meta=meta,
        unit=u.nJy,
        psf=psf,
    )
    with io.BytesIO() as stream:
        ccd.write(stream, format="fits")
        return stream.getvalue()


def headerBlocks(data):
    """Each HDU's header bytes (with padding), by name."""
    with fits.open(io.BytesIO(data)) as hdus:
        return {hdu.name: data[hdu.fileinfo()["hdrLoc"] : hdu.fileinfo()["datLoc"]] for hdu in hdus}


class PrimaryHeaderTestCase(lsst.utils.tests.TestCase):
    def check(self, shape, cutMin, crpix, cd, crval, rotPa):
        ours = PrimaryHeaders(rotPa).header(shape, cutMin[0], cutMin[1], crpix, list(cd), crval)
        expected = headerBlocks(astropyFile(shape, cutMin, crpix, cd, crval, rotPa))["PRIMARY"]
        self.assertEqual(ours.decode(), expected.decode())

    def testRandomCutouts(self):
        rng = np.random.default_rng(11)
        for _ in range(300):
            side = int(rng.integers(5, 110))
            self.check(
                (side, side),
                (int(rng.integers(-60, 4000)), int(rng.integers(-60, 4000))),
                tuple(rng.uniform(-5, 110, 2)),
                rng.normal(0, 5.5e-5, 4),
                (float(rng.uniform(0, 360)), float(rng.uniform(-90, 90))),
                None if rng.random() < 0.3 else float(rng.uniform(-180, 180)),
            )

    def testSpecialValues(self):
        """Whole numbers (wcslib appends .0), identity PC elements (left out), the poles, odd ROTPAs."""
        cases = [
            ((30, 30), (0, 0), (15.0, 16.0), (-5.5e-5, 0.0, 0.0, 5.5e-5), (10.0, 20.0), 0.0),
            ((30, 30), (-7, 3), (15.5, -2.0), (1.0, 2e-7, -0.0, 1.0), (0.0, 90.0), None),
            (
                (31, 31),
                (5, 6),
                (1e-20, 123456.0),
                (-5.5e-5, 1e-30, 3e-9, 5.5e-5),
                (359.999999999, -90.0),
                -0.0,
            ),
            (
                (102, 102),
                (4000, 4000),
                (51.25, 50.75),
                (-1e-100, 2e-100, 1e100, 5.5e-5),
                (180.0, -89.0),
                1e-20,
            ),
        ]
        for case in cases:
            with self.subTest(case=case):
                self.check(*case)

    def testNonFiniteRejected(self):
        with self.assertRaises(ValueError):
            PrimaryHeaders(None).header((30, 30), 0, 0, (1.0, float("nan")), [1e-5, 0, 0, 1e-5], (1.0, 2.0))

    def testSharedHeaders(self):
        headers = PrimaryHeaders(12.5)
        args = ((30, 30), 1, 2, (3.5, 4.5), [1e-5, 2e-7, 3e-7, -1e-5], (5.0, 6.0))
        self.assertIs(headers.header(*args), headers.header(*args))


def writeCutout(shape, primary, image, variance, psf, maskHdu):
    """A cutout file from CutoutFitsWriter, written at an offset into a zeroed buffer."""
    writer = CutoutFitsWriter()
    psfHdu = writer.psfHdu(psf)
    size = writer.fileSize(shape, primary, psfHdu, maskHdu)
    out = memoryview(bytearray(size + 10))
    end = writer.writeInto(out, 10, shape, primary, image.tobytes(), variance.tobytes(), psfHdu, maskHdu)
    assert end == size + 10, (end, size)
    return bytes(out[10:])


class ExtensionsTestCase(lsst.utils.tests.TestCase):
    def setUp(self):
        self.shape, self.psf = (27, 27), np.random.default_rng(1).random((21, 21))
        self.numbers = ((3, 4), (14.2, 13.9), (-5.5e-5, 1e-7, 2e-7, 5.5e-5), (30.0, -30.0), 45.0)
        rng = np.random.default_rng(2)
        self.image = rng.normal(size=self.shape).astype(">f4")
        self.variance = rng.random(self.shape).astype(">f4")
        self.mask = rng.integers(0, 1 << 12, self.shape).astype(np.int32)
        n = self.numbers
        self.primary = PrimaryHeaders(n[-1]).header(self.shape, *n[0], *n[1:3], n[3])

    def testExtensionHeadersAndLayout(self):
        """Without mask planes: UNCERT and PSFIMAGE as CCDData.write, nothing after them; sizes add up."""
        expected = astropyFile(self.shape, *self.numbers, psf=self.psf)
        ours = writeCutout(self.shape, self.primary, self.image, self.variance, self.psf, None)
        self.assertEqual(len(ours), len(expected))
        self.assertEqual(headerBlocks(ours), headerBlocks(expected))
        with fits.open(io.BytesIO(ours)) as hdus:
            self.assertEqual([hdu.name for hdu in hdus], ["PRIMARY", "UNCERT", "PSFIMAGE"])
            np.testing.assert_array_equal(hdus["PRIMARY"].data, self.image)
            np.testing.assert_array_equal(hdus["UNCERT"].data, self.variance)
            np.testing.assert_array_equal(hdus["PSFIMAGE"].data, self.psf)

    def testCompressedMaskHduFollowsThePsf(self):
        """The AFWMASK HDU appended as astropy writes it; astropy reads the planes back exactly."""
        maskHdu = compressedMaskHdu(self.mask, PLANES)
        ours = writeCutout(self.shape, self.primary, self.image, self.variance, self.psf, maskHdu)
        expected = astropyFile(self.shape, *self.numbers, psf=self.psf)
        blocks = headerBlocks(ours)
        self.assertTrue(maskHdu.startswith(blocks.pop(AFWMASK_EXTNAME)))
        self.assertEqual(blocks, headerBlocks(expected))
        self.assertEqual(ours[len(expected) :], maskHdu)
        with fits.open(io.BytesIO(ours)) as hdus:
            self.assertEqual([hdu.name for hdu in hdus], ["PRIMARY", "UNCERT", "PSFIMAGE", AFWMASK_EXTNAME])
            self.assertIsInstance(hdus[AFWMASK_EXTNAME], fits.CompImageHDU)
            np.testing.assert_array_equal(hdus[AFWMASK_EXTNAME].data, self.mask)
            np.testing.assert_array_equal(hdus["PRIMARY"].data, self.image)


class CompressedMaskHduTestCase(lsst.utils.tests.TestCase):
    def compressed(self, mask):
        primary = fits.PrimaryHDU().header.tostring().encode()
        with fits.open(io.BytesIO(primary + compressedMaskHdu(mask, PLANES))) as f:
            hdu = f[AFWMASK_EXTNAME]
            planes = {k[3:]: v for k, v in hdu.header.items() if k.startswith("MP_")}
            return hdu.compression_type, np.array(hdu.data), planes

    def testPlioForAfwPlanes(self):
        """A sparse 102x102 mask of afw's planes: PLIO_1, lossless, in two FITS blocks."""
        mask = np.zeros((102, 102), np.int32)
        mask[40:60, 45:58] = 1 << PLANES["DETECTED"]
        mask[50, 50] |= 1 << PLANES["SAT"]
        mask[:, :3] = 1 << PLANES["NO_DATA"]
        self.assertEqual(len(compressedMaskHdu(mask, PLANES)), 2 * 2880)
        kind, data, planes = self.compressed(mask)
        self.assertEqual(kind, "PLIO_1")
        np.testing.assert_array_equal(data, mask)
        self.assertEqual(planes, PLANES)

    def testHighBitsFallBackToGzip(self):
        """PLIO holds values below 2**24 only: bit 24 and above (and bit 31, negative) use GZIP_2."""
        for bit in (24, 31):
            mask = np.zeros((30, 30), np.int32)
            mask[3, 4] = np.int32(np.uint32(1 << bit).view(np.int32))
            mask[5, 6] = 1
            kind, data, _ = self.compressed(mask)
            self.assertEqual(kind, "GZIP_2")
            np.testing.assert_array_equal(data, mask)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
