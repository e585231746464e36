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

"""Tests of the header-like metadata (`lsst.ap.alerts.afwModel.image.metadata`), on
``lsst.daf.base.PropertyList`` when afw is installed and on the model's
``PropertyList`` otherwise.  The expectations are daf_base's behaviour.

The model has no ``PropertySet`` (only the ordered ``PropertyList`` that
exposures carry), so there is nothing of that class to test here.
"""

import pickle
import unittest

import lsst.utils.tests
from imageHelpers import PropertyList, makeExposure

from lsst.ap.alerts._afw import HAVE_AFW

if HAVE_AFW:
    from lsst.pex.exceptions import LogicError, NotFoundError
else:
    from lsst.ap.alerts.afwModel.image import LogicError, NotFoundError


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

    def testGetOfArrayIsLastElement(self):
        metadata = makeList()
        self.assertEqual(metadata.get("EKEY"), 3)
        self.assertEqual(dict(metadata.items())["EKEY"], 3)

    def testAddAppends(self):
        metadata = makeList()
        metadata.add("AKEY", 3.5)
        self.assertEqual(metadata.getArray("AKEY"), [2.5, 3.5])
        self.assertEqual(metadata.getScalar("AKEY"), 3.5)
        metadata.add("NEWKEY", 7)
        self.assertEqual(metadata.getArray("NEWKEY"), [7])

    def testCombineAppends(self):
        metadata = makeList()
        other = PropertyList()
        other.set("XKEY", 1, "x comment")
        other.set("BKEY", 5)
        metadata.combine(other)
        self.assertEqual(metadata.getArray("BKEY"), [1, 5])
        self.assertEqual(metadata.get("XKEY"), 1)

    def testGetOfArrayAfterAdd(self):
        metadata = makeList()
        metadata.add("BKEY", 4)
        self.assertEqual(metadata.get("BKEY"), 4)
        self.assertEqual(metadata["BKEY"], 4)
        self.assertEqual(list(metadata.items())[0], ("BKEY", 4))
        self.assertEqual(list(metadata.values()), [4, 2.5, "text", True, 3])
        self.assertEqual(metadata.get("EKEY", "unused"), 3)

    def testAddList(self):
        metadata = makeList()
        metadata.add("EKEY", [4, 5])
        self.assertEqual(metadata.getArray("EKEY"), [1, 2, 3, 4, 5])
        metadata.add("NEWLIST", ["a", "b"])
        self.assertEqual(metadata.getArray("NEWLIST"), ["a", "b"])
        self.assertEqual(metadata.toDict()["EKEY"], [1, 2, 3, 4, 5])
        # the name keeps its place
        self.assertEqual(metadata.getOrderedNames(), ["BKEY", "AKEY", "CKEY", "DKEY", "EKEY", "NEWLIST"])

    def testAddKeepsTheType(self):
        """add() appends only values of the name's type (an int to a
        double name is refused too); a refused add changes nothing."""
        metadata = makeList()
        for name, value in (
            ("AKEY", 3),
            ("BKEY", 2.5),
            ("BKEY", "text"),
            ("CKEY", 1),
            ("DKEY", 1),
            ("BKEY", 2**40),
        ):
            with self.subTest(name=name, value=value):
                before = metadata.getArray(name)
                with self.assertRaises(TypeError):
                    metadata.add(name, value)
                with self.assertRaises(LogicError):
                    metadata.add(name, value)
                self.assertEqual(metadata.getArray(name), before)
        # a name that holds a 64-bit integer takes small ones
        metadata.set("BIG", 2**40)
        metadata.add("BIG", 1)
        self.assertEqual(metadata.getArray("BIG"), [2**40, 1])

    def testAddComment(self):
        metadata = makeList()
        metadata.add("BKEY", 2)
        self.assertEqual(metadata.getComment("BKEY"), "first")
        metadata.add("BKEY", 3, "third")
        self.assertEqual(metadata.getComment("BKEY"), "third")
        self.assertEqual(metadata.getArray("BKEY"), [1, 2, 3])

    def testSetReplacesAll(self):
        metadata = makeList()
        metadata.set("EKEY", 7)
        self.assertEqual(metadata.getArray("EKEY"), [7])
        # set() may change the type
        metadata.set("BKEY", 2.5)
        self.assertEqual(metadata.getArray("BKEY"), [2.5])
        self.assertIs(type(metadata.get("BKEY")), float)

    def testListTypeFromFirstValue(self):
        metadata = PropertyList()
        metadata.set("F", [1.5, 2])
        self.assertEqual(metadata.getArray("F"), [1.5, 2.0])
        self.assertIs(type(metadata.getArray("F")[1]), float)
        metadata.set("I", [1, 2**40])
        self.assertEqual(metadata.getArray("I"), [1, 2**40])
        for values in ([1, 2.5], ["a", 1]):
            with self.subTest(values=values), self.assertRaises(TypeError):
                metadata.set("BAD", values)
        self.assertFalse(metadata.exists("BAD"))

    def testSetEmptyListCreatesNothing(self):
        metadata = makeList()
        metadata.set("ZKEY", [])
        self.assertFalse(metadata.exists("ZKEY"))
        metadata.add("ZKEY", [])
        self.assertFalse(metadata.exists("ZKEY"))
        # nor does it clear an existing name
        metadata.set("AKEY", [])
        self.assertEqual(metadata.getArray("AKEY"), [2.5])
        self.assertEqual(len(metadata), 5)

    def testGetAsTypes(self):
        """getAs* read their own types only: no conversion from strings,
        floats or 64-bit integers (only bools and ints widen)."""
        metadata = makeList()
        metadata.set("BIG", 2**40)
        self.assertEqual(metadata.getAsString("CKEY"), "text")
        self.assertEqual(metadata.getAsDouble("BKEY"), 1.0)
        self.assertEqual(metadata.getAsDouble("DKEY"), 1.0)
        self.assertEqual(metadata.getAsDouble("BIG"), float(2**40))
        self.assertEqual(metadata.getAsInt("BKEY"), 1)
        self.assertEqual(metadata.getAsInt64("BIG"), 2**40)
        self.assertEqual(metadata.getAsDouble("EKEY"), 3.0)
        for getter, name in (
            ("getAsString", "BKEY"),
            ("getAsString", "AKEY"),
            ("getAsString", "DKEY"),
            ("getAsInt", "AKEY"),
            ("getAsInt", "CKEY"),
            ("getAsInt", "BIG"),
            ("getAsInt64", "AKEY"),
            ("getAsDouble", "CKEY"),
        ):
            with self.subTest(getter=getter, name=name):
                with self.assertRaises(TypeError):
                    getattr(metadata, getter)(name)
                with self.assertRaises(LogicError):
                    getattr(metadata, getter)(name)

    def testGetAsMissing(self):
        metadata = makeList()
        for getter in ("getAsString", "getAsInt", "getAsInt64", "getAsDouble"):
            with self.subTest(getter=getter), self.assertRaises(NotFoundError):
                getattr(metadata, getter)("ZKEY")

    def testCombineTakesComments(self):
        metadata = makeList()
        other = PropertyList()
        other.set("BKEY", 5)
        other.set("CKEY", "more", "other comment")
        metadata.combine(other)
        self.assertEqual(metadata.getArray("CKEY"), ["text", "more"])
        self.assertEqual(metadata.getComment("CKEY"), "other comment")
        # a name combined without a comment loses ours, as in daf_base
        self.assertEqual(metadata.getComment("BKEY"), "")
        self.assertEqual(metadata.getOrderedNames(), ["BKEY", "AKEY", "CKEY", "DKEY", "EKEY"])

    def testCombineTypeMismatch(self):
        metadata = makeList()
        other = PropertyList()
        other.set("AKEY", "not a number")
        with self.assertRaises(TypeError):
            metadata.combine(other)
        self.assertEqual(metadata.getArray("AKEY"), [2.5])

    def testUpdateReplaces(self):
        metadata = makeList()
        other = PropertyList()
        other.set("EKEY", [8, 9])
        other.set("XKEY", "x", "x comment")
        metadata.update(other)
        self.assertEqual(metadata.getArray("EKEY"), [8, 9])
        self.assertEqual(metadata.getComment("XKEY"), "x comment")
        metadata.update({"BKEY": 5, "YKEY": 1.5})
        self.assertEqual(metadata.getArray("BKEY"), [5])
        self.assertEqual(metadata.getOrderedNames(), ["BKEY", "AKEY", "CKEY", "DKEY", "EKEY", "XKEY", "YKEY"])

    def testEqualityWithTypesAndComments(self):
        one, two = PropertyList(), PropertyList()
        one.set("A", 1)
        two.set("A", 1.0)
        self.assertNotEqual(one, two)
        one, two = PropertyList(), PropertyList()
        one.set("A", 1, "c1")
        two.set("A", 1, "c2")
        self.assertNotEqual(one, two)
        one, two = PropertyList(), PropertyList()
        one.set("A", 1)
        one.set("B", 2)
        two.set("B", 2)
        two.set("A", 1)
        self.assertEqual(one, two)

    def testNoneValue(self):
        metadata = PropertyList()
        metadata.set("UKEY", None)
        self.assertTrue(metadata.exists("UKEY"))
        self.assertIsNone(metadata.get("UKEY", 5))
        metadata.add("UKEY", None)
        self.assertEqual(metadata.getArray("UKEY"), [None, None])
        for getter in ("getAsString", "getAsDouble"):
            with self.subTest(getter=getter), self.assertRaises(TypeError):
                getattr(metadata, getter)("UKEY")

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
        self.assertEqual(copy, metadata)
        with self.assertRaises(TypeError):
            copy.add("AKEY", 1)

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
