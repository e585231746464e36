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

"""Skip (or, with ``AP_ALERTS_REQUIRE_HOST=1``, fail) without the real host."""

__all__ = ["HOST_MISSING", "requireHost"]

import os
import unittest


def _missing():
    try:
        import lsst.afw.image  # noqa: F401
        import lsst.ap.association  # noqa: F401
        import lsst.dax.apdb  # noqa: F401
    except ImportError as error:
        return (
            f"the real host is not installed or its stand-ins are not found ({error}); see\n"
            "../shared/wheels/host/README.md and AP_ALERTS_HOST_STANDINS in tests/host/conftest.py"
        )
    return None


HOST_MISSING = _missing()


def requireHost():
    """Skip the calling test class's module when the host is missing."""
    if HOST_MISSING is None:
        return
    if os.environ.get("AP_ALERTS_REQUIRE_HOST") == "1":
        raise RuntimeError(f"AP_ALERTS_REQUIRE_HOST=1 but {HOST_MISSING}")
    raise unittest.SkipTest(HOST_MISSING)
