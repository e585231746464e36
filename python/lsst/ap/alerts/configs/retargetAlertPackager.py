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

# Config override for lsst.ap.association.DiaPipelineTask (label
# associateApdb/diaPipe in ap_pipe's pipelines): package alerts with
# lsst.ap.alerts instead of lsst.ap.association. For example
#   RETARGET=$(python -c "from importlib.resources import files; \
#       print(files('lsst.ap.alerts') / 'configs/retargetAlertPackager.py')")
#   pipetask run ... -C associateApdb:$RETARGET
# (with eups: $AP_ALERTS_DIR/config/retargetAlertPackager.py, a link to this file)
# The alertPackager fields keep their names, so other overrides still apply.
from lsst.ap.alerts import PackageAlertsTask

config.alertPackager.retarget(PackageAlertsTask)  # noqa: F821 (config is given by pex_config)
