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

"""Sphinx extension: task and config topics found under their defining module too.

documenteer's ``lsst-task-topic``/``lsst-config-topic`` pages are named for the
public path (``lsst.ap.alerts.PackageAlertsTask``), but its subtask and
config-field listings link to a class by its defining module
(``lsst.ap.alerts.packageAlerts.PackageAlertsTask``) and a PipelineTask's
``connections`` field to a config class made by pipe_base.  This extension
registers those names as aliases of the topics, so the links resolve.
"""

__all__ = ["aliasTopics", "setup"]

from documenteer.ext.lssttasks.crossrefs import format_config_id, format_task_id
from lsst.utils import doImport

_ALIAS = "alias"


def _aliases(entry):
    """Yield the topic ids that also name the class of one topic entry."""
    cls = doImport(entry["fully_qualified_name"])
    formatter = format_config_id if entry["type"] == "Config" else format_task_id
    yield formatter(f"{cls.__module__}.{cls.__qualname__}")
    connections = getattr(getattr(cls, "ConfigClass", None), "ConnectionsConfigClass", None)
    if connections is not None:
        yield format_config_id(f"{connections.__module__}.{connections.__qualname__}")


def aliasTopics(app, env):
    """Add the alias ids of every task and config topic (``env-updated``).

    Parameters
    ----------
    app : `sphinx.application.Sphinx`
        The Sphinx application.
    env : `sphinx.environment.BuildEnvironment`
        The build environment holding ``lsst_task_topics``.

    Returns
    -------
    docnames : `list` [`str`]
        No document needs rereading.
    """
    topics = getattr(env, "lsst_task_topics", {})
    for entry in [entry for entry in topics.values() if entry["type"] != _ALIAS]:
        for alias in _aliases(entry):
            # A type no topic listing shows, so each topic is listed once.
            topics.setdefault(alias, dict(entry, type=_ALIAS))
    return []


def setup(app):
    """Register the extension.

    Parameters
    ----------
    app : `sphinx.application.Sphinx`
        The Sphinx application.

    Returns
    -------
    metadata : `dict`
        The extension's metadata.
    """
    app.connect("env-updated", aliasTopics)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
