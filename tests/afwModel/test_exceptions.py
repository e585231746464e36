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

"""Tests of the exception types (`lsst.ap.alerts.afwModel.exceptions`): the
hierarchy the package relies on (``except InvalidParameterError`` also
catches PSF failures), and, with afw, that the model nests its exceptions
as ``lsst.pex.exceptions`` / afw do.
"""

import unittest

import lsst.utils.tests

from lsst.ap.alerts._afw import HAVE_AFW, InvalidParameterError, InvalidPsfError
from lsst.ap.alerts.afwModel.image import exceptions as modelExceptions

# The model's names that exist in lsst.pex.exceptions, with their LSST base.
PEX_NAMES = (
    "DomainError",
    "InvalidParameterError",
    "LengthError",
    "LogicError",
    "NotFoundError",
    "OutOfRangeError",
    "TypeError",
)


class ExceptionsTestCase(lsst.utils.tests.TestCase):
    def testInvalidPsfIsInvalidParameter(self):
        self.assertTrue(issubclass(InvalidPsfError, InvalidParameterError))
        with self.assertRaises(InvalidParameterError):
            raise InvalidPsfError("no PSF here")


class ModelExceptionsTestCase(lsst.utils.tests.TestCase):
    """The model's documented hierarchy (checked on both tiers: the model is
    importable everywhere)."""

    def testHierarchy(self):
        m = modelExceptions
        for name in m.__all__:
            self.assertTrue(issubclass(getattr(m, name), m.LsstException), msg=name)
        for name in (
            "InvalidParameterError",
            "DomainError",
            "LengthError",
            "OutOfRangeError",
            "InvalidPsfError",
        ):
            self.assertTrue(issubclass(getattr(m, name), m.LogicError), msg=name)
        self.assertTrue(issubclass(m.InvalidPsfError, m.InvalidParameterError))
        self.assertFalse(issubclass(m.NotFoundError, m.LogicError))
        self.assertFalse(issubclass(m.FitsError, m.LogicError))
        # the Python built-in bases callers may catch
        self.assertTrue(issubclass(m.InvalidParameterError, ValueError))
        self.assertTrue(issubclass(m.OutOfRangeError, IndexError))
        self.assertTrue(issubclass(m.NotFoundError, LookupError))
        self.assertTrue(issubclass(m.FitsError, OSError))
        # as pex's: a TypeError is a LogicError and a built-in TypeError,
        # a FitsError a RuntimeError, and no LogicError is a RuntimeError
        self.assertTrue(issubclass(m.TypeError, m.LogicError))
        self.assertTrue(issubclass(m.TypeError, TypeError))
        self.assertIsNot(m.TypeError, TypeError)
        self.assertTrue(issubclass(m.FitsError, RuntimeError))
        for name in m.__all__:
            if issubclass(getattr(m, name), m.LogicError):
                self.assertFalse(issubclass(getattr(m, name), RuntimeError), msg=name)

    def testRaisedFitsErrorCaughtBothWays(self):
        for base in (RuntimeError, OSError, modelExceptions.LsstException):
            with self.assertRaises(base):
                raise modelExceptions.FitsError("not a FITS file")

    def testPackageExports(self):
        from lsst.ap.alerts.afwModel import image

        for name in modelExceptions.__all__:
            self.assertIs(getattr(image, name), getattr(modelExceptions, name), msg=name)


@unittest.skipUnless(HAVE_AFW, "needs the real lsst.afw (the .venv-afw tier)")
class CrossTierExceptionsTestCase(lsst.utils.tests.TestCase):
    """The model's exceptions nest as the stack's."""

    def setUp(self):
        import lsst.pex.exceptions as pex

        self.pex = pex

    def testSameNesting(self):
        for name in PEX_NAMES:
            for base in PEX_NAMES:
                with self.subTest(name=name, base=base):
                    self.assertEqual(
                        issubclass(getattr(modelExceptions, name), getattr(modelExceptions, base)),
                        issubclass(getattr(self.pex, name), getattr(self.pex, base)),
                    )
        from lsst.afw.detection import InvalidPsfError as afwInvalidPsfError

        self.assertTrue(issubclass(afwInvalidPsfError, self.pex.InvalidParameterError))
        self.assertTrue(issubclass(modelExceptions.InvalidPsfError, modelExceptions.InvalidParameterError))

    def testSameRuntimeErrorNesting(self):
        """A stack exception is a RuntimeError exactly when the model's is."""
        for name in PEX_NAMES:
            with self.subTest(name=name):
                self.assertEqual(
                    issubclass(getattr(modelExceptions, name), RuntimeError),
                    issubclass(getattr(self.pex, name), RuntimeError),
                )

    def testBuiltinBasesKept(self):
        """Whatever Python built-in exception catches the stack's exception
        also catches the model's."""
        for name in PEX_NAMES:
            builtinBases = {base for base in getattr(self.pex, name).__mro__ if base.__module__ == "builtins"}
            for base in builtinBases:
                self.assertTrue(issubclass(getattr(modelExceptions, name), base), msg=f"{name} {base}")

    # afw's FitsError is a RuntimeError (via pex's IoError) and an OSError.
    def testFitsErrorIsRuntimeError(self):
        from lsst.afw.fits import FitsError

        self.assertTrue(issubclass(FitsError, RuntimeError))
        self.assertTrue(issubclass(modelExceptions.FitsError, RuntimeError))
        self.assertTrue(issubclass(FitsError, OSError))
        self.assertTrue(issubclass(modelExceptions.FitsError, OSError))


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
