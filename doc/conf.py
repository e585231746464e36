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

"""Sphinx configuration: documenteer's single-package pipelines configuration.

documenteer 1.4.5 (the newest for Python 3.11) as pipelines.lsst.io packages
use it, with the changes pip alone needs (``doc/buildingDocs.md`` says why):
no redoc extension (it imports ``pkg_resources``, gone from setuptools >= 81)
and no intersphinx inventories (they would be fetched from the network).
"""

import sys
from pathlib import Path

from documenteer.conf.pipelinespkg import *  # noqa: F403

import lsst.ap.alerts

sys.path.insert(0, str(Path(__file__).parent / "_ext"))


extensions.remove("sphinxcontrib.redoc")  # noqa: F405
extensions.append("apAlertsDocs")  # noqa: F405
intersphinx_mapping = {}

project = "ap_alerts"
version = release = lsst.ap.alerts.__version__
html_title = html_short_title = project
html_theme_options["logo"]["text"] = project  # noqa: F405
# The guides are MyST markdown pages; README.md files are not pages.
exclude_patterns.extend(["_build", "**/README.md"])  # noqa: F405
# Markdown headings get anchors, so guides link to each other's sections.
myst_heading_anchors = 3
