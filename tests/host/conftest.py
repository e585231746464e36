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

"""The host tier: upstream's ap_association around the package.

``import lsst.ap.association`` needs three names from meas_algorithms,
meas_astrom and obs_base, which are not installable here and which
DiaPipelineTask never calls (``CoaddPsf``, ``RefitPointingTask``,
``TableVStack``...).  ``../shared/wheels/host/standins`` has import-time
stand-ins for exactly those (calling one raises `NotImplementedError`).
They are put on ``sys.path`` here, in this pytest process only (the host
tier runs ``tests/host`` alone), and only when ap_association is installed,
so no other tier ever sees them; ``AP_ALERTS_HOST_STANDINS`` passes them on
to the ``pipetask`` subprocesses of ``ap-alerts demo --host``.

``AP_ALERTS_REQUIRE_HOST=1`` (set by ``.ci/run`` for this tier) turns the
skip of a missing host into a failure.
"""

import importlib.util
import os
import pkgutil
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# AP_ALERTS_HOST_STANDINS overrides where they are (a worktree that is not a
# sibling of shared/).
STANDINS = os.environ.get("AP_ALERTS_HOST_STANDINS") or os.path.join(
    os.path.dirname(REPO), "shared", "wheels", "host", "standins"
)


def _hostInstalled():
    try:
        return importlib.util.find_spec("lsst.ap.association") is not None
    except ModuleNotFoundError:
        return False


def _addStandins():
    sys.path.append(STANDINS)
    # pipetask subprocesses (test_hostDemo) get them from here.
    os.environ["AP_ALERTS_HOST_STANDINS"] = STANDINS
    # lsst and lsst.meas are pkgutil namespaces whose __path__ was fixed when
    # they were first imported (by the root conftest): extend them again.
    for name in ("lsst", "lsst.meas", "lsst.obs"):
        module = sys.modules.get(name)
        if module is not None:
            module.__path__ = pkgutil.extend_path(module.__path__, name)


if _hostInstalled() and os.path.isdir(STANDINS) and STANDINS not in sys.path:
    _addStandins()
