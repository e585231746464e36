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

"""MPC packed provisional designations and Rubin ssObjectIds."""

import unittest

import lsst.utils.tests

from lsst.ap.alerts.catalogs.designations import (
    DesignationError,
    designationToSsObjectId,
    packProvisional,
    ssObjectIdToPackedDesignation,
    unpackProvisional,
)

# Examples published by the MPC (PackedDes.html and the 2024 extension notice).
PUBLISHED = [
    ("1995 XA", "J95X00A"),
    ("1995 XL1", "J95X01L"),
    ("1995 FB13", "J95F13B"),
    ("1998 SQ108", "J98SA8Q"),
    ("1998 SV127", "J98SC7V"),
    ("1998 SS162", "J98SG2S"),
    ("2099 AZ193", "K99AJ3Z"),
    ("2008 AA360", "K08Aa0A"),
    ("2007 TA418", "K07Tf8A"),
    ("2024 AB631", "_OA004S"),
    ("2040 P-L", "PLS2040"),
    ("3138 T-1", "T1S3138"),
    ("1010 T-2", "T2S1010"),
    ("4101 T-3", "T3S4101"),
]


class DesignationTestCase(lsst.utils.tests.TestCase):
    def testPublishedExamples(self):
        for unpacked, packed in PUBLISHED:
            with self.subTest(unpacked=unpacked):
                self.assertEqual(packProvisional(unpacked), packed)
                self.assertEqual(unpackProvisional(packed), unpacked)

    def testExtendedBoundary(self):
        # Cycle 619 is the last of the 7-character form, 620 the first extended one.
        self.assertEqual(packProvisional("2025 AZ619"), "K25Az9Z")
        self.assertEqual(packProvisional("2025 AA620"), "_PA0000")
        self.assertEqual(unpackProvisional("_PA0000"), "2025 AA620")

    def testRoundTripMany(self):
        letters = "ABCDEFGHJKLMNOPQRSTUVWXYZ"
        for year in (1850, 1999, 2000, 2026):
            for cycle in (0, 1, 9, 10, 99, 100, 359, 619, 620, 1000, 5000):
                if cycle >= 620 and year < 2000:
                    continue
                for half, order in (("A", "A"), ("Y", "Z"), ("K", "J")):
                    unpacked = f"{year} {half}{order}{cycle if cycle else ''}"
                    packed = packProvisional(unpacked)
                    self.assertEqual(unpackProvisional(packed), unpacked)
                    self.assertEqual(len(packed), 7)
        self.assertNotIn("I", letters)

    def testInvalid(self):
        for bad in ("", "1995", "1995 IA", "1995 AI", "95 XA", "1995 XA-1", "2024 AB631x"):
            with self.subTest(bad=bad), self.assertRaises(DesignationError):
                packProvisional(bad)
        for bad in ("J95X00", "Z95X00A", "J95I00A", "J95X0AA", "_OA00!S", "1995 XA"):
            with self.subTest(bad=bad), self.assertRaises(DesignationError):
                unpackProvisional(bad)
        with self.assertRaises(DesignationError):
            packProvisional("1999 AA620")  # extended form only from 2000

    def testSsObjectId(self):
        for _, packed in PUBLISHED:
            ssObjectId = designationToSsObjectId(packed)
            self.assertLess(ssObjectId, 2**63)
            self.assertEqual(ssObjectIdToPackedDesignation(ssObjectId), packed)
        self.assertEqual(designationToSsObjectId("J95X00A"), int.from_bytes(b"J95X00A", "big"))
        for bad in (0, -5, 2**64, 0x01_02_03):
            with self.subTest(bad=bad), self.assertRaises(DesignationError):
                ssObjectIdToPackedDesignation(bad)
        with self.assertRaises(DesignationError):
            designationToSsObjectId("TOOLONG99")


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
