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

"""`PackageAlertsTask`: DIA catalogs + images of one visit/detector → Avro alerts.

Public API and config are those of ``lsst.ap.association.PackageAlertsTask``
so a pipeline can ``config.alertPackager.retarget(PackageAlertsTask)``.
`PackageAlertsTask.run` reads as the story of a visit: validate the inputs
(`catalogs.inputChecks`), type and link the catalogs (`catalogs.visitTables`),
plan the cutouts (`cutouts.plan`), assemble the alerts (`avro.assembly`),
stream them to the Avro file (`delivery.alertFile`), then send them to
Kafka (`delivery.producer`).  Upstream's hooks (``makeAlertDict``,
``_serializeAlert``, ``_server_check``, ...) are thin layers over the same
code; a subclass that overrides one of them is packaged through them,
alert by alert (`hookPath`).
"""

from __future__ import annotations

__all__ = ["PackageAlertsConfig", "PackageAlertsTask"]

import inspect
import io
import math
import os
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd

import lsst.pipe.base as pipeBase
from lsst.utils.timer import timeMethod

from ._afw import geom
from .avro.assembly import ALERT_PARTS, AlertEncoder, PartKind, alertDictValue, nullIfEmpty
from .avro.payloads import AlertPayloads
from .catalogs.inputChecks import validateRunInputs
from .catalogs.visitInputs import VisitInputs
from .catalogs.visitTables import MPCORB_PREFIX, prepareVisitTables
from .config import PackageAlertsConfig
from .cutouts.ccdData import ccdDataToFitsBytes, makeCcdDataCutout
from .cutouts.fits import PrimaryHeaders
from .cutouts.geometry import localTransformMatrix
from .cutouts.plan import LocalWcsCache, computeKernelImage, planImageCutouts, warnOffImage
from .delivery.alertFile import AlertFileWriter
from .delivery.messageHeaders import alertHeaders
from .delivery.schemaRegistryCheck import SchemaRegistryCheck
from .hookPath import FramedPayloads, overriddenHooks, packageThroughHooks, patchedInputs
from .schemaRegistry import SchemaRegistry, UnknownSchemaError, makeWireHeader
from .visitTime import unixMidpoint


class _StageTimer:
    """Seconds spent per stage of `PackageAlertsTask.run`.

    ``with timer("name"):`` times a stage; a stage entered inside another
    is not counted in the outer one, so the stages add up to the run.
    """

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._stack: list[list] = []  # [name, start, seconds of inner stages]

    def __call__(self, name: str) -> _StageTimer:
        self._stack.append([name, 0.0, 0.0])
        return self

    def __enter__(self):
        self._stack[-1][1] = time.perf_counter()

    def __exit__(self, *exc):
        name, start, inner = self._stack.pop()
        elapsed = time.perf_counter() - start
        self.add(name, elapsed - inner)
        if self._stack:
            self._stack[-1][2] += elapsed

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def move(self, seconds: float, source: str, target: str) -> None:
        """Count ``seconds`` of stage ``source`` as stage ``target`` (time measured inside it)."""
        self.add(source, -seconds)
        self.add(target, seconds)


def _currentStyle(
    diaSourceId,
    observationReason,
    targetName,
    diaSource,
    diaObject,
    objDiaSrcHistory,
    objDiaForcedSources,
    diffImCutout,
    calexpCutout,
    templateCutout,
    ssSource=None,
    mpcOrbit=None,
):
    """makeAlertDict's current upstream signature (binding only)."""


def _olderStyle(
    alertId,
    diaSource,
    diaObject,
    objDiaSrcHistory,
    objDiaForcedSources,
    diffImCutout,
    calexpCutout,
    templateCutout,
    ssSource=None,
    mpcOrbit=None,
    observationReason=None,
    targetName=None,
):
    """makeAlertDict's older upstream signature (binding only)."""


_CURRENT_STYLE = inspect.signature(_currentStyle)
_OLDER_STYLE = inspect.signature(_olderStyle)


def _makeAlertDictArguments(args, kwargs) -> tuple[dict, bool]:
    """Bind makeAlertDict's arguments to the call style they follow.

    Returns
    -------
    values : `dict`
        Argument name → value (the id under ``diaSourceId``).
    current : `bool`
        Whether the call follows the current style.
    """
    if "alertId" in kwargs:
        current = False
    elif "diaSourceId" in kwargs or len(args) < 2:
        current = True
    else:
        # The second argument is the DiaSource (a row: Series or mapping) in
        # the older style; anything else is the current style's
        # observationReason, passed through as upstream does.
        current = not isinstance(args[1], (pd.Series, Mapping))
    bound = (_CURRENT_STYLE if current else _OLDER_STYLE).bind(*args, **kwargs)
    bound.apply_defaults()
    values = dict(bound.arguments)
    if not current:
        values["diaSourceId"] = values.pop("alertId")
    return values, current


def _splitMpcOrbit(ssSource):
    """mpc_orbits fields of an ssSource row (``MPCORB_``-prefixed keys), or `None`.

    The host's ssSrc carries no ``MPCORB_id``; the orbit's ``id`` is then 0,
    as upstream writes it and as `run` does.
    """
    items = ssSource.items() if ssSource is not None else ()
    orbit = {
        key[len(MPCORB_PREFIX) :]: value
        for key, value in items
        if isinstance(key, str) and key.startswith(MPCORB_PREFIX)
    }
    if orbit:
        orbit.setdefault("id", 0)
    return orbit or None


class PackageAlertsTask(pipeBase.Task):
    """Package DiaSources, their history and image cutouts into Avro alerts.

    Alerts are written to ``{alertWriteLocation}/{visit}_{detector}.avro``
    when ``doWriteAlerts`` and sent to Kafka when ``doProduceAlerts``; `run`
    also returns them.

    Raises
    ------
    ValueError
        If ``schemaFile`` names no known schema, or (``doProduceAlerts``) an
        ``AP_KAFKA_*`` environment variable is missing (upstream's sentence,
        e.g. "Kafka password environment variable was not set.", and ours).
    RuntimeError
        If ``doProduceAlerts`` and confluent_kafka is not installed or the
        topic does not exist.
    confluent_kafka.KafkaException
        If ``doProduceAlerts`` and the broker does not answer within
        ``maxTimeout`` (from `_server_check`).
    """

    ConfigClass = PackageAlertsConfig
    _DefaultName = "packageAlerts"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.schema = self._loadSchema(self.config.schemaFile)
        self.alertSchema = self.schema.toPacketSchema()
        self.encoder = AlertEncoder(self.schema, nanAsNull=self.config.useNullForNaN)
        if self.config.doWriteAlerts or self.config.doWriteFailedAlerts:
            os.makedirs(self.config.alertWriteLocation, exist_ok=True)
        self._hooks = overriddenHooks(type(self), PackageAlertsTask)
        if self._hooks:
            self.log.info(
                "%s overrides %s: run() packages each alert through them (the slower per-alert path).",
                type(self).__name__,
                ", ".join(self._hooks),
            )
        self.producer = None
        self._registryCheck = SchemaRegistryCheck(self.config.schemaRegistryUrl, self.config.maxTimeout)
        if self.config.doProduceAlerts:
            from .delivery.producer import AlertProducer

            # The broker check runs through _server_check, which upstream's
            # tests and subclasses patch.
            self.producer = AlertProducer(self.config, self.log, checkServer=False)
            try:
                self._server_check()
            except BaseException:
                self.producer.close()
                self.producer = None
                raise

    @staticmethod
    def _loadSchema(spec):
        try:
            return SchemaRegistry.default().load(spec)
        except UnknownSchemaError as e:
            raise ValueError(f"PackageAlertsConfig.schemaFile: {e}") from e

    @property
    def kafkaTopic(self):
        """Topic alerts are sent to (`None` unless ``doProduceAlerts``)."""
        return None if self.producer is None else self.producer.topic

    @timeMethod
    def run(
        self,
        diaSourceCat,
        diaObjectCat,
        diaSrcHistory,
        diaForcedSources,
        diffIm,
        calexp,
        template,
        ssSrc=None,
        doRunForcedMeasurement=True,
        forcedSourceHistoryThreshold=0,
    ):
        """Package DiaSources and their context into Avro alerts.

        Parameters
        ----------
        diaSourceCat : `pandas.DataFrame`
            New DiaSources, indexed on ``["diaObjectId", "band",
            "diaSourceId"]`` as upstream (any index works as long as the
            fields are columns or index levels).  ``diaObjectId`` 0 (or null)
            marks a solar-system source.
        diaObjectCat : `pandas.DataFrame`
            DiaObjects of the new DiaSources, indexed on ``diaObjectId``.
        diaSrcHistory : `pandas.DataFrame`
            Earlier DiaSources of those DiaObjects (12 months), indexed on
            ``["diaObjectId", "band", "diaSourceId"]``.
        diaForcedSources : `pandas.DataFrame`
            Forced photometry of those DiaObjects, indexed on
            ``["diaObjectId", "diaForcedSourceId"]`` or similar.
        diffIm : `lsst.afw.image.ExposureF`
            Difference image the DiaSources were detected on.
        calexp : `lsst.afw.image.ExposureF`
            Science image of the difference.
        template : `lsst.afw.image.ExposureF` or `None`
            Template of the difference; `None` gives no template cutouts.
        ssSrc : `pandas.DataFrame`, optional
            ssSource rows of the solar-system DiaSources (matched by
            ``diaSourceId``), with ``MPCORB_``-prefixed columns for
            ``mpc_orbits``.
        doRunForcedMeasurement : `bool`, optional
            Include forced sources at all.
        forcedSourceHistoryThreshold : `int`, optional
            Include forced sources only for DiaObjects with at least this many
            DiaSources.

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``alerts`` (`AlertPayloads`: indexing decodes an alert dict),
            ``alertFile`` (path or `None`), ``skipped`` (list of
            (diaSourceId, reason)), ``produceReport`` (or `None`),
            ``timings`` (seconds per stage: tables, cutouts, fits, encoding,
            write, produce).

        Raises
        ------
        lsst.ap.alerts.catalogs.inputChecks.AlertInputError
            If the inputs cannot be packaged at all (listing every problem);
            raised before anything is written or sent.
        """
        timer = _StageTimer()
        inputs = VisitInputs(
            diaSourceCat, diaObjectCat, diaSrcHistory, diaForcedSources, diffIm, calexp, template, ssSrc
        )
        with timer("tables"):
            if self._hooks:
                inputs = patchedInputs(self, inputs)
            self._reportMissingColumns(validateRunInputs(self.schema, inputs))
            tables = prepareVisitTables(
                self.schema,
                inputs,
                doRunForcedMeasurement,
                forcedSourceHistoryThreshold,
                self.log,
                nanAsNull=self.config.useNullForNaN,
            )
        visitInfo = diffIm.visitInfo
        visit, detector = visitInfo.id, diffIm.detector.getId()
        self.log.info(
            "Packaging alerts for %d DiaSources (%d skipped).", len(tables.diaSourceIds), len(tables.skipped)
        )
        if self._hooks:
            alertFile, alerts, failed = packageThroughHooks(
                self, inputs, tables, visitInfo, visit, detector, timer
            )
        else:
            with timer("cutouts"):
                cutouts = self._planCutouts(tables, visitInfo, diffIm, calexp, template)
            alertFile, encoded = self._assembleAndWrite(tables, cutouts, visitInfo, visit, detector, timer)
            alerts = AlertPayloads(self.schema, encoded.diaSourceIds, encoded.payloads, encoded.diaObjectIds)
            failed = encoded.failed
        with timer("produce"):
            produceReport = self._produceVisit(alerts, visit, detector, visitInfo)
        skipped = tables.skipped + failed
        self._recordCounts(tables, alerts, skipped)
        return pipeBase.Struct(
            alerts=alerts,
            alertFile=alertFile,
            skipped=skipped,
            produceReport=produceReport,
            timings=timer.seconds,
        )

    def _reportMissingColumns(self, missingColumns):
        """One warning per visit for optional columns the inputs lack; metadata for monitoring."""
        names = [f"{table}.{column}" for table, columns in missingColumns.items() for column in columns]
        if names:
            self.log.warning(
                "The inputs lack %d optional column(s); these fields are null in every alert: %s",
                len(names),
                ", ".join(names),
            )
        self.metadata["alert_columns_missing"] = len(names)
        self.metadata["alert_columns_missing_names"] = ",".join(names)

    def _planCutouts(self, tables, visitInfo, diffIm, calexp, template):
        """Planned cutouts of each cutout field's image (`None` where there is no image)."""
        # Shared across the images of a visit.
        headers, localWcs = PrimaryHeaders(self._rotPa(visitInfo)), LocalWcsCache()
        return {
            name: self._cutoutsForImage(exposure, tables, headers, localWcs)
            for name, exposure in (
                ("cutoutDifference", diffIm),
                ("cutoutScience", calexp),
                ("cutoutTemplate", template),
            )
        }

    def _assembleAndWrite(self, tables, cutouts, visitInfo, visit, detector, timer):
        """Assemble the alerts, streaming each to the Avro file (if written) as soon as it is complete.

        The file is closed (flushed to disk, renamed into place) before
        anything is produced, so it is there even if Kafka is not; on any
        failure it is removed and the error raised.

        Returns
        -------
        alertFile : `str` or `None`
        encoded : `lsst.ap.alerts.avro.assembly.EncodedVisit`
        """
        alertFile = fileWriter = onAlert = None
        if self.config.doWriteAlerts:
            alertFile = os.path.join(self.config.alertWriteLocation, f"{visit}_{detector}.avro")
            self.log.info("Writing alerts to %s.", alertFile)
            fileWriter = AlertFileWriter(alertFile, self.schema)

            def onAlert(payload):
                with timer("write"):
                    fileWriter.append(payload)

        try:
            with timer("encoding"):
                encoded = self.encoder.encodeVisit(
                    tables,
                    cutouts,
                    nullIfEmpty(visitInfo.observationReason),
                    nullIfEmpty(visitInfo.object),
                    self.log,
                    onAlert=onAlert,
                )
            if fileWriter is not None:
                with timer("write"):
                    fileWriter.close()
        except BaseException:
            if fileWriter is not None:
                fileWriter.abort()
            raise
        # Cutout pixels are calibrated and serialized while the alerts are assembled.
        timer.move(encoded.cutoutSeconds, "encoding", "fits")
        return alertFile, encoded

    def _produceVisit(self, alerts, visit, detector, visitInfo):
        """Send the visit's alerts (``doProduceAlerts``), or fill the timing metadata with -1."""
        midpointUnix = unixMidpoint(visitInfo.date)
        if self.config.doProduceAlerts:
            self.log.info("Producing %d alerts to %s.", len(alerts), self.kafkaTopic)
            return self.produceAlerts(alerts, visit, detector, midpointUnix, visitInfo.exposureTime)
        # Downstream metrics expect these keys even when nothing is sent.
        self.metadata["visit_midpoint"] = midpointUnix
        self.metadata["produce_end_timestamp"] = -1
        self.metadata["produce_start_timestamp"] = -1
        self.metadata["alert_timing_since_shutter_close"] = -1
        self.metadata["total_alerts"] = -1
        return None

    def _recordCounts(self, tables, alerts, skipped):
        self.metadata["alerts_packaged"] = len(alerts)
        self.metadata["alerts_skipped"] = len(skipped)
        self.metadata["alerts_skipped_out_of_domain"] = tables.outOfDomain
        self.metadata["alert_history_rows_dropped"] = tables.droppedRows
        self.metadata["alerts_input"] = len(tables.diaSourceIds) + len(tables.skipped)
        self.metadata["alert_bytes"] = alerts.totalBytes

    # -- images ---------------------------------------------------------

    @staticmethod
    def _rotPa(visitInfo):
        try:
            angle = visitInfo.boresightRotAngle.asDegrees()
        except Exception:
            return None
        return angle if math.isfinite(angle) else None

    def _cutoutsForImage(self, exposure, tables, headers, localWcs):
        """Plan the cutout of every source on one image (`None` if there is no image or source).

        ``headers`` (`lsst.ap.alerts.cutouts.fits.PrimaryHeaders`) and
        ``localWcs`` (`lsst.ap.alerts.cutouts.plan.LocalWcsCache`) are shared
        by the images of a visit.

        Returns
        -------
        cutouts : `lsst.ap.alerts.cutouts.plan.ImageCutouts` or `None`
            Boxes, PSF HDUs and PRIMARY headers; the pixels are written
            later, straight into the alerts.
        """
        return planImageCutouts(
            exposure,
            tables,
            self._cutoutSizes(tables.bboxSize),
            headers,
            localWcs,
            self.config.useAveragePsf,
            self.log,
            self.config.cutoutMaskPlanes,
        )

    def _computePsf(self, exposure, pixelCenter, srcId=None):
        """PSF kernel image at a point, or `None` (with a warning) if it cannot be evaluated."""
        return computeKernelImage(exposure, pixelCenter, srcId, self.log)

    def createDiaSourceExtent(self, bboxSize):
        """Size of the square cutout for a footprint box of side ``bboxSize``.

        Clamped to [``minCutoutSize``, ``maxCutoutSize``].

        Parameters
        ----------
        bboxSize : `int`
            Side of the DiaSource's footprint bounding box (pixels).

        Returns
        -------
        extent : `lsst.geom.Extent2I`
            Width and height of the cutout (pixels).
        """
        size = int(self._cutoutSizes(int(bboxSize)))
        return geom.Extent2I(size, size)

    def _cutoutSizes(self, bboxSize):
        """Cutout side(s) for footprint box side(s): the one clamping rule, scalar or array."""
        return np.clip(bboxSize, self.config.minCutoutSize, self.config.maxCutoutSize)

    def createCcdDataCutout(
        self, image, skyCenter, pixelCenter, extent, photoCalib, srcId, averagePsf=None, rotPa=None
    ):
        """Cut out one calibrated image around a source, as upstream does.

        ``streamCcdDataToBytes`` of the result is byte for byte the cutout
        `run` puts in the alert for the same source and image.

        Parameters
        ----------
        image : `lsst.afw.image.ExposureF`
            Image to cut.
        skyCenter : `lsst.geom.SpherePoint`
            Source position; the cutout WCS is tangent here.
        pixelCenter : `lsst.geom.Point2D`
            Source pixel position; the cutout box is centred here.
        extent : `lsst.geom.Extent2I`
            Cutout size.
        photoCalib : `lsst.afw.image.PhotoCalib`
            Calibration to nJy.
        srcId : `int`
            diaSourceId, for messages.
        averagePsf : `numpy.ndarray`, optional
            PSF to attach when ``useAveragePsf`` (if `None`, the PSF at
            ``pixelCenter``, as upstream).
        rotPa : `float`, optional
            Boresight rotation angle in degrees, written as ``ROTPA``.

        Returns
        -------
        cutout : `lsst.ap.alerts.cutouts.ccdData.AlertCutout` or `None`
            A `~astropy.nddata.CCDData`; `None` (with a warning) when
            ``pixelCenter`` is off the image.
        """
        imBBox = image.getBBox()
        if not geom.Box2D(imBBox).contains(pixelCenter):
            warnOffImage(self.log, srcId, pixelCenter, imBBox)
            return None
        psf = None
        if self.config.useAveragePsf and averagePsf is not None:
            psf = averagePsf
        elif image.getPsf() is not None:
            psf = self._computePsf(image, pixelCenter, srcId)
        return makeCcdDataCutout(
            image, skyCenter, pixelCenter, extent, photoCalib, psf, rotPa, self.makeLocalTransformMatrix
        )

    def makeLocalTransformMatrix(self, wcs, center, skyCenter):
        """Local linear approximation of ``wcs`` at ``center``, tangent at ``skyCenter``.

        The exact Jacobian, analytic for TAN and TAN-SIP WCSs on real afw and
        the model alike (`lsst.ap.alerts.cutouts.geometry`); upstream's AST
        rate is not used: it is singular within a pixel of x = 0 or y = 0.

        Parameters
        ----------
        wcs : `lsst.afw.geom.SkyWcs`
            WCS to approximate.
        center : `lsst.geom.Point2D`
            Pixel at which to evaluate.
        skyCenter : `lsst.geom.SpherePoint`
            Tangent point of the local gnomonic frame.

        Returns
        -------
        localMatrix : `numpy.ndarray`
            2×2 Jacobian of pixel → local gnomonic coordinates, in degrees
            per pixel (the CD matrix of the cutout's TAN WCS).
        """
        return localTransformMatrix(wcs, center, skyCenter)

    def streamCcdDataToBytes(self, cutout):
        """Serialize a cutout: ``CCDData.write``'s bytes (then the AFWMASK HDU with ``cutoutMaskPlanes``).

        The bytes `run` writes for that cutout.  Layout: `lsst.ap.alerts.cutouts.fits`.

        Parameters
        ----------
        cutout : `astropy.nddata.CCDData`

        Returns
        -------
        cutoutBytes : `bytes`
        """
        return ccdDataToFitsBytes(cutout, self.config.cutoutMaskPlanes)

    # -- alerts ---------------------------------------------------------

    def makeAlertDict(self, *args, **kwargs):
        """Assemble one alert as upstream's dict.

        Both of upstream's call styles are accepted:

        - current: ``makeAlertDict(diaSourceId, observationReason,
          targetName, diaSource, diaObject, objDiaSrcHistory,
          objDiaForcedSources, diffImCutout, calexpCutout, templateCutout,
          ssSource=None)``;
        - older: ``makeAlertDict(alertId, diaSource, diaObject,
          objDiaSrcHistory, objDiaForcedSources, diffImCutout, calexpCutout,
          templateCutout)``, with ``ssSource``, ``observationReason`` and
          ``targetName`` as optional keywords.

        The second positional argument tells them apart: the DiaSource (a
        `pandas.Series` or mapping) in the older style; anything else is
        the current style's observationReason, passed through unchanged
        (upstream's tests pass a one-element tuple).  Keywords ``alertId``
        / ``diaSourceId`` name the style too.  Both take ``mpcOrbit`` as an
        optional keyword; without it, mpc_orbits comes from the
        ``MPCORB_``-prefixed entries of ``ssSource``.

        Values are returned as given (``diaSource.to_dict()``,
        ``objDiaSrcHistory.to_dict("records")``, ...); scheduler strings
        pass unchanged unless empty (`None`).  Typing to the schema happens
        when the dict is encoded (`_serializeAlert`, `produceAlerts`), which
        raises `ValueError` naming the diaSourceId and field of a value that
        does not fit.

        Returns
        -------
        alert : `dict`
            Upstream's keys: ``diaSourceId``, ``diaSource``,
            ``prvDiaSources``, ``prvDiaForcedSources``,
            ``prvDiaNondetectionLimits`` (always `None`), ``diaObject``,
            ``ssSource``, ``mpc_orbits`` and the three cutouts (FITS bytes
            from `streamCcdDataToBytes`, or `None`); plus
            ``observation_reason`` and ``target_name`` in the current style
            (or when given as keywords).

        Raises
        ------
        TypeError
            If the arguments fit neither call style.
        """
        values, current = _makeAlertDictArguments(args, kwargs)
        if values["mpcOrbit"] is None:
            values["mpcOrbit"] = _splitMpcOrbit(values["ssSource"])
        alert = {}
        for part in ALERT_PARTS:
            if not part.inUpstreamDict:
                continue
            if part.kind is PartKind.SCHEDULER and not current and part.argument not in kwargs:
                continue
            alert[part.name] = alertDictValue(part, values.get(part.argument), self.streamCcdDataToBytes)
        return alert

    @timeMethod
    def produceAlerts(self, alerts, visit, detector, midpoint_unix, exposure_time):
        """Send alerts to Kafka; undeliverable ones are written or logged, never lost silently.

        Parameters
        ----------
        alerts : `AlertPayloads` or `list` [`dict`]
            Alerts from `run`, or alert dicts (typed and encoded here).
        visit, detector : `int`
            Ids used to name files of failed alerts.
        midpoint_unix : `float`
            Exposure midpoint, Unix seconds (TAI as upstream).
        exposure_time : `float`
            Seconds; the shutter closes at midpoint + exposure_time / 2.

        Returns
        -------
        report : `lsst.ap.alerts.delivery.producer.ProduceReport`

        Raises
        ------
        lsst.ap.alerts.delivery.schemaRegistryCheck.SchemaRegistryCheckError
            If ``schemaRegistryUrl`` is set and the registry does not hold
            the alerts' schema under its ID; raised before anything is sent.
        """
        from .delivery.producer import diaObjectKey, produceMetadata

        if self.producer is None:
            raise RuntimeError("produceAlerts needs doProduceAlerts=True (no Kafka producer was set up).")
        if not isinstance(alerts, AlertPayloads):
            alerts = self._serializeDicts(alerts)
        self._registryCheck.ensure(alerts.schema)
        keyed = self.config.doKeyByDiaObjectId
        headers = alertHeaders(alerts.schema.schemaId, visit, detector)

        def messages():
            for i, (srcId, objId) in enumerate(zip(alerts.diaSourceIds, alerts.diaObjectIds, strict=True)):
                key = diaObjectKey(objId) if keyed and objId else None
                yield srcId, key, alerts.framed(i), headers

        # Upstream's per-message hook, on the per-alert path (the producer keeps its own books).
        callback = self._delivery_callback if self._hooks else None
        report = self.producer.produce(messages(), visit, detector, deliveryCallback=callback)
        for key, value in produceMetadata(report, midpoint_unix, exposure_time).items():
            self.metadata[key] = value
        self.log.info(
            "Total time since shutter close to produce alerts for visit %s detector %s: %s seconds",
            visit,
            detector,
            self.metadata["alert_timing_since_shutter_close"],
        )
        return report

    def _serializeDicts(self, alerts) -> FramedPayloads:
        """Kafka messages of alert dicts, through `_serializeAlert` as upstream.

        Every dict is serialized before the first is sent: a bad one raises
        with nothing sent.
        """
        schemaId = self.schema.schemaId
        messages = [
            self._serializeAlert(alert, schema=self.alertSchema.definition, schema_id=schemaId)
            for alert in alerts
        ]
        headerSize = len(self._serializeConfluentWireHeader(schemaId))
        return FramedPayloads(
            self.schema,
            [_alertSourceId(alert) for alert in alerts],
            [message[headerSize:] for message in messages],
            [_alertObjectId(alert) for alert in alerts],
            messages,
        )

    # -- upstream's hooks -----------------------------------------------

    def _server_check(self):
        """Check that the broker answers and has the topic (upstream's hook; `__init__` calls it).

        Raises
        ------
        confluent_kafka.KafkaException
            If the broker does not answer within ``maxTimeout``.
        RuntimeError
            If the topic does not exist.
        """
        if self.producer is not None:
            self.producer.serverCheck()

    def _serializeAlert(self, alert, schema=None, schema_id=0):
        """Return an alert dict as a Kafka message: Confluent wire header + Avro payload.

        Parameters
        ----------
        alert : `dict`
            An alert, e.g. from `makeAlertDict`; typed to the schema here.
        schema : `dict`, optional
            Schema definition to write with; `None` (or this task's schema)
            uses the task's schema and typing.  Any other definition is
            handed to fastavro as it is, with the dict as it is.
        schema_id : `int`, optional
            Confluent schema ID written in the header (0, upstream's default,
            means unregistered; `run` uses the schema's own ID).

        Returns
        -------
        serialized : `bytes`
        """
        if schema is None or schema == self.schema.definition or schema == self.alertSchema.definition:
            payload = self.encoder.encodeDict(alert)
        else:
            import fastavro

            stream = io.BytesIO()
            fastavro.schemaless_writer(stream, fastavro.parse_schema(schema), alert)
            payload = stream.getvalue()
        return self._serializeConfluentWireHeader(schema_id) + payload

    @staticmethod
    def _serializeConfluentWireHeader(schema_version):
        """Return the 5-byte Confluent wire-format prefix: magic 0, then the schema ID big-endian."""
        return makeWireHeader(schema_version)

    def _delivery_callback(self, err, msg):
        """Log one delivery report as upstream does (a warning on failure, debug on success).

        `produceAlerts` keeps its own bookkeeping of every report; this hook
        is for callers of upstream's API.
        """
        if err:
            from .delivery.kafkaSettings import describeKafkaError

            self.log.warning("Message failed delivery: %s", describeKafkaError(err))
        else:
            self.log.debug("Message delivered to %s [%d] @ %d", msg.topic(), msg.partition(), msg.offset())

    def _patchDiaSources(self, diaSources):
        """Add a ``programId`` column of 0 to a DiaSource table, in place, as upstream.

        `run` does not call it: it never modifies its inputs, and no schema
        this package ships has a ``programId`` field.
        """
        diaSources["programId"] = 0


def _alertSourceId(alert) -> int:
    return int(alert.get("diaSourceId", alert.get("alertId")))


def _alertObjectId(alert) -> int:
    """diaObjectId of an alert dict's DiaSource; 0 (solar system) when absent or null."""
    diaSource = alert.get("diaSource") or {}
    value = diaSource.get("diaObjectId")
    return 0 if value is None or pd.isna(value) else int(value)
