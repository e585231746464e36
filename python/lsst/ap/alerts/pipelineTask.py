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

"""`PackageAlertsPipelineTask`: alert packaging as a standalone PipelineTask.

Upstream packages alerts inside ``lsst.ap.association.DiaPipelineTask``
(``config.alertPackager``); this task runs the same subtask on catalogs and
images already in a butler, one quantum per (instrument, visit, detector).

Inputs (default names; ``{fakesType}`` is empty and ``{coaddName}`` is
``deep`` unless the connection templates say otherwise):

``associatedDiaSources`` (``{fakesType}{coaddName}Diff_assocDiaSrc``, DataFrame)
    The visit's DiaSources after association: DiaPipelineTask's output of
    the same name.
``diaObjects`` (``{fakesType}{coaddName}Diff_diaObject``, DataFrame)
    Their updated DiaObjects: DiaPipelineTask's output of the same name.
``diaSourceHistory`` (``{fakesType}{coaddName}Diff_diaSrcHistory``, DataFrame)
    Earlier DiaSources of those DiaObjects (upstream's preloaded DiaSources).
``diaForcedSources`` (``{fakesType}{coaddName}Diff_diaForcedSrcHistory``, DataFrame)
    Forced sources of those DiaObjects, earlier ones and this visit's, as
    DiaPipelineTask merges them before packaging.
``ssSources`` (``{fakesType}{coaddName}Diff_associatedSsSources``, DataFrame)
    ssSource rows of the solar-system DiaSources (with ``MPCORB_`` columns
    for ``mpc_orbits``); only when ``doSolarSystemSources``.
``diffIm``, ``exposure``, ``template``
    (``{fakesType}{coaddName}Diff_differenceExp``, ``{fakesType}calexp``,
    ``{fakesType}{coaddName}Diff_templateExp``): difference, science and
    template exposures, storage class
    `~lsst.ap.alerts.butlerFormatters.EXPOSURE_STORAGE_CLASS` (afw's
    ``ExposureF`` with the stack, ``ApAlertsExposureF`` without).

All DataFrame inputs have the quantum's dimensions; a DataFrame input may
also be stored as ArrowAstropy (the butler converts).

Output: ``alerts`` (``{fakesType}{coaddName}Diff_alerts``, storage class
``ApAlertPackets``): the alerts as `lsst.ap.alerts.avro.payloads.AlertPayloads`,
stored as an Avro container file.  When ``alertPackager.doWriteAlerts`` the
subtask also writes ``{alertWriteLocation}/{visit}_{detector}.avro``, and
when ``alertPackager.doProduceAlerts`` it sends them to Kafka.
"""

from __future__ import annotations

__all__ = ["PackageAlertsPipelineConfig", "PackageAlertsPipelineConnections", "PackageAlertsPipelineTask"]

import lsst.pex.config as pexConfig
import lsst.pipe.base as pipeBase
import lsst.pipe.base.connectionTypes as connTypes
from lsst.utils.timer import timeMethod

from .butlerFormatters import ALERTS_STORAGE_CLASS, EXPOSURE_STORAGE_CLASS
from .packageAlerts import PackageAlertsTask

_DIMENSIONS = ("instrument", "visit", "detector")


class PackageAlertsPipelineConnections(
    pipeBase.PipelineTaskConnections,
    dimensions=_DIMENSIONS,
    defaultTemplates={"coaddName": "deep", "fakesType": ""},
):
    """Butler connections of `PackageAlertsPipelineTask` (see the module docs)."""

    associatedDiaSources = connTypes.Input(
        doc="DiaSources of this visit/detector after association (one alert each).",
        name="{fakesType}{coaddName}Diff_assocDiaSrc",
        storageClass="DataFrame",
        dimensions=_DIMENSIONS,
    )
    diaObjects = connTypes.Input(
        doc="DiaObjects of the associated DiaSources, with updated summary statistics.",
        name="{fakesType}{coaddName}Diff_diaObject",
        storageClass="DataFrame",
        dimensions=_DIMENSIONS,
    )
    diaSourceHistory = connTypes.Input(
        doc="Earlier DiaSources of those DiaObjects (the preloaded DiaSources).",
        name="{fakesType}{coaddName}Diff_diaSrcHistory",
        storageClass="DataFrame",
        dimensions=_DIMENSIONS,
    )
    diaForcedSources = connTypes.Input(
        doc="Forced sources of those DiaObjects: earlier ones and this visit's.",
        name="{fakesType}{coaddName}Diff_diaForcedSrcHistory",
        storageClass="DataFrame",
        dimensions=_DIMENSIONS,
    )
    ssSources = connTypes.Input(
        doc="ssSource rows of the solar-system DiaSources, with MPCORB_-prefixed orbit columns.",
        name="{fakesType}{coaddName}Diff_associatedSsSources",
        storageClass="DataFrame",
        dimensions=_DIMENSIONS,
    )
    diffIm = connTypes.Input(
        doc="Difference image on which the DiaSources were detected.",
        name="{fakesType}{coaddName}Diff_differenceExp",
        storageClass=EXPOSURE_STORAGE_CLASS,
        dimensions=_DIMENSIONS,
    )
    exposure = connTypes.Input(
        doc="Calibrated science exposure of the difference image.",
        name="{fakesType}calexp",
        storageClass=EXPOSURE_STORAGE_CLASS,
        dimensions=_DIMENSIONS,
    )
    template = connTypes.Input(
        doc="Template exposure of the difference image.",
        name="{fakesType}{coaddName}Diff_templateExp",
        storageClass=EXPOSURE_STORAGE_CLASS,
        dimensions=_DIMENSIONS,
    )
    alerts = connTypes.Output(
        doc="The alerts (AlertPayloads), stored as an Avro object container file.",
        name="{fakesType}{coaddName}Diff_alerts",
        storageClass=ALERTS_STORAGE_CLASS,
        dimensions=_DIMENSIONS,
    )

    def __init__(self, *, config=None):
        super().__init__(config=config)
        if not config.doSolarSystemSources:
            del self.ssSources


class PackageAlertsPipelineConfig(
    pipeBase.PipelineTaskConfig, pipelineConnections=PackageAlertsPipelineConnections
):
    """Configuration of `PackageAlertsPipelineTask`."""

    alertPackager = pexConfig.ConfigurableField(
        target=PackageAlertsTask,
        doc="Subtask for packaging Ap data into alerts.",
    )
    doSolarSystemSources = pexConfig.Field(
        dtype=bool,
        default=False,
        doc="Read the ssSources input and package the solar-system DiaSources' ssSource/mpc_orbits.",
    )
    doRunForcedMeasurement = pexConfig.Field(
        dtype=bool,
        default=True,
        doc="Include forced sources in the alerts (DiaPipelineTask's option of the same name).",
    )
    forcedSourceHistoryThreshold = pexConfig.RangeField(
        dtype=int,
        default=0,
        min=0,
        doc="Include forced sources only for DiaObjects with at least this many DiaSources "
        "(DiaForcedSourceTask's historyThreshold).",
    )


class PackageAlertsPipelineTask(pipeBase.PipelineTask):
    """Package one visit/detector's DIA catalogs and images into alerts.

    The work is done by the ``alertPackager`` subtask (`PackageAlertsTask`);
    this task reads its inputs from the butler and stores the alerts there.
    """

    ConfigClass = PackageAlertsPipelineConfig
    _DefaultName = "packageAlertsPipe"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.makeSubtask("alertPackager")

    def runQuantum(self, butlerQC, inputRefs, outputRefs):
        inputs = butlerQC.get(inputRefs)
        outputs = self.run(**inputs)
        butlerQC.put(outputs, outputRefs)

    @timeMethod
    def run(
        self,
        associatedDiaSources,
        diaObjects,
        diaSourceHistory,
        diaForcedSources,
        diffIm,
        exposure,
        template,
        ssSources=None,
    ):
        """Package the alerts of one visit/detector.

        Parameters
        ----------
        associatedDiaSources : `pandas.DataFrame`
            DiaSources of this visit/detector.
        diaObjects : `pandas.DataFrame`
            Their DiaObjects.
        diaSourceHistory : `pandas.DataFrame`
            Earlier DiaSources of those DiaObjects.
        diaForcedSources : `pandas.DataFrame`
            Forced sources of those DiaObjects.
        diffIm, exposure, template : `lsst.afw.image.ExposureF` or `lsst.ap.alerts.afwModel.image.ExposureF`
            Difference, science and template exposures.
        ssSources : `pandas.DataFrame`, optional
            ssSource rows of the solar-system DiaSources.

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``alerts`` (`~lsst.ap.alerts.avro.payloads.AlertPayloads`),
            ``alertFile`` (path or `None`), ``skipped`` (list of
            (diaSourceId, reason)) and ``produceReport``, from
            `PackageAlertsTask.run`.
        """
        result = self.alertPackager.run(
            associatedDiaSources,
            diaObjects,
            diaSourceHistory,
            diaForcedSources,
            diffIm,
            exposure,
            template,
            ssSrc=ssSources,
            doRunForcedMeasurement=self.config.doRunForcedMeasurement,
            forcedSourceHistoryThreshold=self.config.forcedSourceHistoryThreshold,
        )
        return pipeBase.Struct(
            alerts=result.alerts,
            alertFile=result.alertFile,
            skipped=result.skipped,
            produceReport=result.produceReport,
        )
