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

"""Headless Chromium for the tests that load pages in a real browser.

Chromium is required where ``AP_ALERTS_REQUIRE_CHROMIUM`` is set (CI
installs it): there its absence fails the test; elsewhere the browser tests
skip with the reason.
"""

__all__ = ["BROWSERS", "chromiumBinary", "requireChromium", "runChromium"]

import os
import shutil
import subprocess
import tempfile
import unittest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def chromiumBinary():
    """The headless browser to use; raises if required and missing, else `None` when missing."""
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None and os.environ.get("AP_ALERTS_REQUIRE_CHROMIUM"):
        raise RuntimeError(
            "AP_ALERTS_REQUIRE_CHROMIUM is set but no chromium is on PATH (apt-get install -y chromium)"
        )
    return found


def requireChromium():
    """The browser's path, or `unittest.SkipTest` (saying why) where there is none and none is required."""
    binary = chromiumBinary()
    if binary is None:
        raise unittest.SkipTest(
            f"no headless browser ({', '.join(BROWSERS)}) on PATH; "
            "set AP_ALERTS_REQUIRE_CHROMIUM to make this a failure"
        )
    return binary


def runChromium(tmpDir, *args):
    """Run headless Chromium once with a fresh profile under ``tmpDir``; return the finished process."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmpDir)
    command = [
        requireChromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
