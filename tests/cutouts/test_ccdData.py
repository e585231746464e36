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

    def testBytesAreCcdDataWriteThenAfwMask(self):
        cutout = makeCutout()
        data = ccdDataToFitsBytes(cutout)
        with io.BytesIO() as stream:
            cutout.write(stream, format="fits")
            written = stream.getvalue()
        self.assertEqual(data[: len(written)], written)
        with fits.open(io.BytesIO(data)) as hdus:
            self.assertEqual([hdu.name for hdu in hdus], ["PRIMARY", "UNCERT", AFWMASK_EXTNAME])
            np.testing.assert_array_equal(hdus[AFWMASK_EXTNAME].data, cutout.flags)
            self.assertEqual(
                {k[3:]: v for k, v in hdus[AFWMASK_EXTNAME].header.items() if k.startswith("MP_")}, PLANES
            )

    def testPlainCcdDataIsWrittenAsAstropyDoes(self):
        plain = CCDData(np.ones((3, 3), np.float32), unit="nJy")
        with io.BytesIO() as stream:
            plain.write(stream, format="fits")
            self.assertEqual(ccdDataToFitsBytes(plain), stream.getvalue())

    def testReadCutoutMasksOnlyUnusablePixels(self):
        data = ccdDataToFitsBytes(makeCutout())
        self.assertIsNone(CCDData.read(io.BytesIO(data), format="fits").mask)
        cutout = readCutout(data)
        expected = np.zeros((5, 6), bool)
        expected[2, 4] = expected[0, 0] = True  # SAT and NO_DATA; DETECTED and SUSPECT alone are usable
        np.testing.assert_array_equal(cutout.mask, expected)
        self.assertEqual(cutout.maskPlanes, PLANES)
        self.assertIn("SAT", UNUSABLE_PLANES)
        self.assertNotIn("DETECTED", UNUSABLE_PLANES)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
