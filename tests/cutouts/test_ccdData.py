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

"""The public CCDData path of a cutout (`lsst.ap.alerts.cutouts.ccdData`)."""

import io
import unittest

import lsst.utils.tests
import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData, VarianceUncertainty

from lsst.ap.alerts.cutouts.ccdData import UNUSABLE_PLANES, AlertCutout, ccdDataToFitsBytes, readCutout
from lsst.ap.alerts.cutouts.fits import AFWMASK_EXTNAME

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
}


def makeCutout():
    flags = np.zeros((5, 6), np.int32)
    flags[2, 3] = 1 << PLANES["DETECTED"]
    flags[2, 4] = (1 << PLANES["DETECTED"]) | (1 << PLANES["SAT"])
    flags[0, 0] = 1 << PLANES["NO_DATA"]
    flags[4, 5] = 1 << PLANES["SUSPECT"]
    return AlertCutout(
        np.arange(30, dtype=np.float32).reshape(5, 6),
        unit="nJy",
        flags=flags,
        uncertainty=VarianceUncertainty(np.ones((5, 6), np.float32)),
        meta={"cutMinX": 3, "cutMinY": 4},
        maskPlanes=PLANES,
    )


class AlertCutoutTestCase(lsst.utils.tests.TestCase):
    def testPlanesFollowCopiesAndSlices(self):
        cutout = makeCutout()
        self.assertEqual(cutout.copy().maskPlanes, PLANES)
        self.assertEqual(cutout[1:3, 2:5].maskPlanes, PLANES)
        self.assertEqual(AlertCutout(cutout).maskPlanes, PLANES)
        self.assertIsInstance(cutout, CCDData)

    def testDefaultBytesAreCcdDataWrite(self):
        """Default layout: exactly CCDData.write's bytes (upstream's cutout, no mask HDU)."""
        cutout = makeCutout()
        with io.BytesIO() as stream:
            cutout.write(stream, format="fits")
            self.assertEqual(ccdDataToFitsBytes(cutout), stream.getvalue())

    def testCompressedBytesAreCcdDataWriteThenAfwMask(self):
        cutout = makeCutout()
        data = ccdDataToFitsBytes(cutout, "compressed")
        with io.BytesIO() as stream:
            cutout.write(stream, format="fits")
            written = stream.getvalue()
        self.assertEqual(data[: len(written)], written)
        with fits.open(io.BytesIO(data)) as hdus:
            self.assertEqual([hdu.name for hdu in hdus], ["PRIMARY", "UNCERT", AFWMASK_EXTNAME])
            self.assertEqual(hdus[AFWMASK_EXTNAME].compression_type, "PLIO_1")
            np.testing.assert_array_equal(hdus[AFWMASK_EXTNAME].data, cutout.flags)
            self.assertEqual(
                {k[3:]: v for k, v in hdus[AFWMASK_EXTNAME].header.items() if k.startswith("MP_")}, PLANES
            )

    def testUnknownLayoutIsRefused(self):
        with self.assertRaisesRegex(ValueError, "unknown cutout mask layout 'int32'"):
            ccdDataToFitsBytes(makeCutout(), "int32")

    def testPlainCcdDataIsWrittenAsAstropyDoes(self):
        plain = CCDData(np.ones((3, 3), np.float32), unit="nJy")
        for layout in ("none", "compressed"):
            with io.BytesIO() as stream:
                plain.write(stream, format="fits")
                self.assertEqual(ccdDataToFitsBytes(plain, layout), stream.getvalue())

    def testReadCutoutMasksOnlyUnusablePixels(self):
        """Compressed and earlier releases' int32 AFWMASK alike: planes, and a mask of unusable pixels."""
        expected = np.zeros((5, 6), bool)
        expected[2, 4] = expected[0, 0] = True  # SAT and NO_DATA; DETECTED and SUSPECT alone are usable
        for layout, data in (
            ("compressed", ccdDataToFitsBytes(makeCutout(), "compressed")),
            ("int32", legacyBytes(makeCutout())),
        ):
            with self.subTest(layout=layout):
                self.assertIsNone(CCDData.read(io.BytesIO(data), format="fits").mask)
                cutout = readCutout(data)
                np.testing.assert_array_equal(cutout.mask, expected)
                np.testing.assert_array_equal(cutout.flags, makeCutout().flags)
                self.assertEqual(cutout.maskPlanes, PLANES)
                np.testing.assert_array_equal(cutout.data, makeCutout().data)
        self.assertIn("SAT", UNUSABLE_PLANES)
        self.assertNotIn("DETECTED", UNUSABLE_PLANES)

    def testReadCutoutWithoutPlanes(self):
        """Default layout: readCutout says there are no planes (flags, mask None; maskPlanes empty)."""
        cutout = readCutout(ccdDataToFitsBytes(makeCutout()))
        self.assertIsNone(cutout.flags)
        self.assertIsNone(cutout.mask)
        self.assertEqual(cutout.maskPlanes, {})
        np.testing.assert_array_equal(cutout.data, makeCutout().data)
        np.testing.assert_array_equal(cutout.uncertainty.array, makeCutout().uncertainty.array)


def legacyBytes(cutout):
    """A cutout as earlier releases wrote it: CCDData.write, then an uncompressed int32 AFWMASK HDU."""
    hdus = cutout.to_hdu()
    afwMask = fits.ImageHDU(np.asarray(cutout.flags, np.int32), name=AFWMASK_EXTNAME)
    for name, bit in PLANES.items():
        afwMask.header[f"HIERARCH MP_{name}" if len(name) > 5 else f"MP_{name}"] = bit
    hdus.append(afwMask)
    with io.BytesIO() as stream:
        hdus.writeto(stream)
        return stream.getvalue()


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
