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

"""Tests of the filter identity (`lsst.ap.alerts.afwModel.image.filterLabel`), on
real afw's ``FilterLabel`` when afw is installed and on the model's
otherwise.  The expectations are afw's documented behaviour: a label has a
band, a physical filter or both; asking for a missing part raises.
"""

import pickle
import unittest

import lsst.utils.tests

from lsst.ap.alerts._afw import HAVE_AFW, afwImage


class FilterLabelTestCase(lsst.utils.tests.TestCase):
    def testFilterLabel(self):
        label = afwImage.FilterLabel(band="g", physical="g_6")
        self.assertEqual(label.bandLabel, "g")
        self.assertEqual(label.physicalLabel, "g_6")
        self.assertTrue(label.hasBandLabel())
        self.assertFalse(afwImage.FilterLabel(physical="x").hasBandLabel())
        self.assertNotEqual(label, afwImage.FilterLabel(band="g"))

    def testParts(self):
        both = afwImage.FilterLabel(band="r", physical="r_03")
        bandOnly = afwImage.FilterLabel(band="r")
        physicalOnly = afwImage.FilterLabel(physical="r_03")
        self.assertEqual((both.hasBandLabel(), both.hasPhysicalLabel()), (True, True))
        self.assertEqual((bandOnly.hasBandLabel(), bandOnly.hasPhysicalLabel()), (True, False))
        self.assertEqual((physicalOnly.hasBandLabel(), physicalOnly.hasPhysicalLabel()), (False, True))
        self.assertEqual((both.bandLabel, both.physicalLabel), ("r", "r_03"))
        self.assertEqual(bandOnly.bandLabel, "r")
        self.assertEqual(physicalOnly.physicalLabel, "r_03")

    def testFactories(self):
        self.assertEqual(afwImage.FilterLabel.fromBand("g"), afwImage.FilterLabel(band="g"))
        self.assertEqual(afwImage.FilterLabel.fromPhysical("g_6"), afwImage.FilterLabel(physical="g_6"))
        self.assertEqual(
            afwImage.FilterLabel.fromBandPhysical("g", "g_6"), afwImage.FilterLabel(band="g", physical="g_6")
        )
        self.assertFalse(afwImage.FilterLabel.fromBand("g").hasPhysicalLabel())
        self.assertFalse(afwImage.FilterLabel.fromPhysical("g_6").hasBandLabel())

    def testEqualityAndHash(self):
        label = afwImage.FilterLabel(band="g", physical="g_6")
        same = afwImage.FilterLabel(band="g", physical="g_6")
        self.assertEqual(label, same)
        self.assertFalse(label != same)
        self.assertEqual(hash(label), hash(same))
        self.assertEqual(len({label, same}), 1)
        for other in (
            afwImage.FilterLabel(band="g"),
            afwImage.FilterLabel(physical="g_6"),
            afwImage.FilterLabel(band="g", physical="g_7"),
            afwImage.FilterLabel(band="i", physical="g_6"),
        ):
            self.assertNotEqual(label, other, msg=repr(other))
        # a band is not a physical filter of the same name
        self.assertNotEqual(afwImage.FilterLabel(band="g"), afwImage.FilterLabel(physical="g"))
        # nor a string
        self.assertNotEqual(afwImage.FilterLabel(band="g"), "g")

    def testRepr(self):
        self.assertEqual(
            repr(afwImage.FilterLabel(band="g", physical="g_6")), 'FilterLabel(band="g", physical="g_6")'
        )
        self.assertEqual(repr(afwImage.FilterLabel(band="g")), 'FilterLabel(band="g")')
        self.assertEqual(repr(afwImage.FilterLabel(physical="g_6")), 'FilterLabel(physical="g_6")')

    def testNeedsAPart(self):
        # afw: "Need at least one of band, physical" (a ValueError)
        with self.assertRaises(ValueError):
            afwImage.FilterLabel()

    def testMissingPartRaises(self):
        with self.assertRaisesRegex(Exception, "has no band"):
            _ = afwImage.FilterLabel(physical="r_03").bandLabel
        with self.assertRaisesRegex(Exception, "has no physical filter"):
            _ = afwImage.FilterLabel(band="r").physicalLabel

    def testMissingPartIsRuntimeError(self):
        with self.assertRaisesRegex(RuntimeError, r'^FilterLabel\(physical="r_03"\) has no band\.$'):
            _ = afwImage.FilterLabel(physical="r_03").bandLabel
        with self.assertRaisesRegex(RuntimeError, r'^FilterLabel\(band="r"\) has no physical filter\.$'):
            _ = afwImage.FilterLabel(band="r").physicalLabel


@unittest.skipIf(HAVE_AFW, "model-only API (afw's FilterLabel does not pickle)")
class ModelFilterLabelTestCase(lsst.utils.tests.TestCase):
    def testPickle(self):
        for label in (
            afwImage.FilterLabel(band="g", physical="g_6"),
            afwImage.FilterLabel(band="g"),
            afwImage.FilterLabel(physical="g_6"),
        ):
            copy = pickle.loads(pickle.dumps(label))
            self.assertEqual(copy, label)
            self.assertEqual(
                (copy.hasBandLabel(), copy.hasPhysicalLabel()),
                (label.hasBandLabel(), label.hasPhysicalLabel()),
            )


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
