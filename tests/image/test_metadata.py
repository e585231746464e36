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

"""Tests of the header-like metadata (`lsst.ap.alerts.image.metadata`), on
``lsst.daf.base.PropertyList`` when afw is installed and on the model's
``PropertyList`` otherwise.  The expectations are daf_base's behaviour.

The model has no ``PropertySet`` (only the ordered ``PropertyList`` that
exposures carry), so there is nothing of that class to test here.
"""

import pickle
import unittest

import lsst.utils.tests
from imageHelpers import PropertyList, expectedFailureOnModel, makeExposure

from lsst.ap.alerts._afw import HAVE_AFW


def makeList():
    """A PropertyList with one value of each scalar type, comments, an array."""
    metadata = PropertyList()
    metadata.set("BKEY", 1, "first")
    metadata.set("AKEY", 2.5)
    metadata.set("CKEY", "text", "a comment")
    metadata.set("DKEY", True)
    metadata.set("EKEY", [1, 2, 3])
    return metadata


class PropertyListTestCase(lsst.utils.tests.TestCase):
    def testScalarsKeepTheirType(self):
        metadata = makeList()
        for name, value, kind in (
            ("BKEY", 1, int),
            ("AKEY", 2.5, float),
            ("CKEY", "text", str),
            ("DKEY", True, bool),
        ):
            with self.subTest(name=name):
                self.assertEqual(metadata.get(name), value)
                self.assertIs(type(metadata.get(name)), kind)
                self.assertEqual(metadata.getScalar(name), value)
                self.assertEqual(metadata[name], value)
                self.assertEqual(metadata.getArray(name), [value])
        metadata.set("BIG", 2**40)
        self.assertEqual(metadata.get("BIG"), 2**40)
        self.assertEqual(metadata.getAsDouble("BKEY"), 1.0)
        self.assertIs(type(metadata.getAsDouble("BKEY")), float)
        self.assertEqual(metadata.getAsInt("DKEY"), 1)

    def testArrays(self):
        metadata = makeList()
        self.assertEqual(metadata.getArray("EKEY"), [1, 2, 3])
        # the scalar view of an array is its last element
        self.assertEqual(metadata.getScalar("EKEY"), 3)
        self.assertEqual(metadata["EKEY"], 3)
        metadata.set("FKEY", [1.0, 2.0])
        self.assertEqual(metadata.getArray("FKEY"), [1.0, 2.0])
        self.assertEqual(metadata.getScalar("FKEY"), 2.0)

    @expectedFailureOnModel("daf_base's get() of an array is its last element; the model returns the list")
    def testGetOfArrayIsLastElement(self):
        metadata = makeList()
        self.assertEqual(metadata.get("EKEY"), 3)
        self.assertEqual(dict(metadata.items())["EKEY"], 3)

    @expectedFailureOnModel("daf_base's add() appends to the values of a name; the model's replaces them")
    def testAddAppends(self):
        metadata = makeList()
        metadata.add("AKEY", 3.5)
        self.assertEqual(metadata.getArray("AKEY"), [2.5, 3.5])
        self.assertEqual(metadata.getScalar("AKEY"), 3.5)
        metadata.add("NEWKEY", 7)
        self.assertEqual(metadata.getArray("NEWKEY"), [7])

    @expectedFailureOnModel(
        "daf_base's combine() appends values of names both lists hold; the model replaces"
    )
    def testCombineAppends(self):
        metadata = makeList()
        other = PropertyList()
        other.set("XKEY", 1, "x comment")
        other.set("BKEY", 5)
        metadata.combine(other)
        self.assertEqual(metadata.getArray("BKEY"), [1, 5])
        self.assertEqual(metadata.get("XKEY"), 1)

    def testCombineNewNames(self):
        metadata = makeList()
        other = PropertyList()
        other.set("XKEY", 1, "x comment")
        other.set("YKEY", "y")
        metadata.combine(other)
        self.assertEqual(metadata.getOrderedNames(), ["BKEY", "AKEY", "CKEY", "DKEY", "EKEY", "XKEY", "YKEY"])
        self.assertEqual(metadata.get("YKEY"), "y")
        self.assertEqual(metadata.getComment("XKEY"), "x comment")
        # other is unchanged
        self.assertEqual(other.getOrderedNames(), ["XKEY", "YKEY"])

    def testOrder(self):
        metadata = makeList()
        self.assertEqual(metadata.getOrderedNames(), ["BKEY", "AKEY", "CKEY", "DKEY", "EKEY"])
        # names() has the same names (daf_base does not promise its order)
        self.assertEqual(set(metadata.names()), {"BKEY", "AKEY", "CKEY", "DKEY", "EKEY"})
        # setting an existing name keeps its place
        metadata.set("BKEY", 10)
        self.assertEqual(metadata.getOrderedNames(), ["BKEY", "AKEY", "CKEY", "DKEY", "EKEY"])
        self.assertEqual(metadata.get("BKEY"), 10)
        metadata.remove("CKEY")
        metadata.set("CKEY", "again")
        self.assertEqual(metadata.getOrderedNames(), ["BKEY", "AKEY", "DKEY", "EKEY", "CKEY"])
        self.assertEqual(list(metadata.toOrderedDict()), ["BKEY", "AKEY", "DKEY", "EKEY", "CKEY"])

    def testComments(self):
        metadata = makeList()
        self.assertEqual(metadata.getComment("BKEY"), "first")
        self.assertEqual(metadata.getComment("CKEY"), "a comment")
        self.assertEqual(metadata.getComment("AKEY"), "")
        # a new value without a comment keeps the old comment
        metadata.set("BKEY", 10)
        self.assertEqual(metadata.getComment("BKEY"), "first")
        metadata.set("BKEY", 11, "second")
        self.assertEqual(metadata.getComment("BKEY"), "second")

    def testMissingNames(self):
        metadata = makeList()
        self.assertIsNone(metadata.get("ZKEY"))
        self.assertEqual(metadata.get("ZKEY", 7), 7)
        for getter in (metadata.getScalar, metadata.getArray, metadata.__getitem__, metadata.__delitem__):
            with self.assertRaises(KeyError, msg=getter.__name__):
                getter("ZKEY")
        # remove() of a missing name is not an error
        metadata.remove("ZKEY")
        self.assertEqual(len(metadata), 5)

    def testMembership(self):
        metadata = makeList()
        self.assertTrue(metadata.exists("AKEY"))
        self.assertFalse(metadata.exists("ZKEY"))
        self.assertIn("AKEY", metadata)
        self.assertNotIn("ZKEY", metadata)
        self.assertEqual(len(metadata), 5)
        self.assertEqual(metadata.nameCount(), 5)
        self.assertEqual(set(metadata), {"BKEY", "AKEY", "CKEY", "DKEY", "EKEY"})
        self.assertEqual(len(PropertyList()), 0)

    def testRemoveAndItemAccess(self):
        metadata = makeList()
        metadata.remove("CKEY")
        self.assertFalse(metadata.exists("CKEY"))
        self.assertEqual(metadata.getOrderedNames(), ["BKEY", "AKEY", "DKEY", "EKEY"])
        metadata["FKEY"] = 4
        self.assertEqual(metadata.get("FKEY"), 4)
        self.assertEqual(metadata.getOrderedNames()[-1], "FKEY")
        del metadata["FKEY"]
        self.assertFalse(metadata.exists("FKEY"))

    def testToDict(self):
        metadata = makeList()
        expected = {"BKEY": 1, "AKEY": 2.5, "CKEY": "text", "DKEY": True, "EKEY": [1, 2, 3]}
        self.assertEqual(metadata.toDict(), expected)
        self.assertEqual(metadata.toOrderedDict(), expected)
        self.assertEqual(list(metadata.toOrderedDict()), ["BKEY", "AKEY", "CKEY", "DKEY", "EKEY"])
        # a copy: changing it does not change the list
        metadata.toDict()["AKEY"] = -1.0
        self.assertEqual(metadata.get("AKEY"), 2.5)

    def testDeepCopyIsIndependent(self):
        metadata = makeList()
        copy = metadata.deepCopy()
        self.assertEqual(copy, metadata)
        self.assertEqual(copy.getOrderedNames(), metadata.getOrderedNames())
        self.assertEqual(copy.getComment("CKEY"), "a comment")
        copy.set("BKEY", 99)
        copy.set("NEWKEY", 1)
        copy.remove("AKEY")
        self.assertEqual(metadata.get("BKEY"), 1)
        self.assertFalse(metadata.exists("NEWKEY"))
        self.assertTrue(metadata.exists("AKEY"))
        self.assertNotEqual(copy, metadata)

    def testEquality(self):
        self.assertEqual(PropertyList(), PropertyList())
        self.assertEqual(makeList(), makeList())
        other = makeList()
        other.set("AKEY", 2.75)
        self.assertNotEqual(other, makeList())

    def testPickle(self):
        metadata = makeList()
        copy = pickle.loads(pickle.dumps(metadata))
        self.assertEqual(copy.getOrderedNames(), ["BKEY", "AKEY", "CKEY", "DKEY", "EKEY"])
        self.assertEqual(copy.toDict(), metadata.toDict())
        self.assertEqual(copy.getComment("BKEY"), "first")
        self.assertEqual(copy.getArray("EKEY"), [1, 2, 3])

    def testExposureMetadata(self):
        exposure = makeExposure()
        self.assertIsInstance(exposure.getMetadata(), PropertyList)
        exposure.getMetadata().set("MYKEY", 5, "mine")
        self.assertIs(exposure.getMetadata(), exposure.getMetadata())
        self.assertEqual(exposure.getInfo().getMetadata().get("MYKEY"), 5)
        replacement = PropertyList()
        replacement.set("OTHER", "x")
        exposure.setMetadata(replacement)
        self.assertEqual(exposure.getMetadata().getOrderedNames(), ["OTHER"])


@unittest.skipIf(HAVE_AFW, "model-only API")
class ModelPropertyListTestCase(lsst.utils.tests.TestCase):
    def testMappingConstructor(self):
        metadata = PropertyList({"AKEY": 1, "BKEY": "b"})
        self.assertEqual(metadata.getOrderedNames(), ["AKEY", "BKEY"])
        self.assertEqual(PropertyList(makeList()).getComment("CKEY"), "a comment")

    def testMissingComment(self):
        # daf_base crashes on this; the model returns an empty comment
        self.assertEqual(makeList().getComment("ZKEY"), "")


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
