"""`PackageAlertsTask`: DIA catalogs + images of one visit/detector → Avro alerts.

Public API and config are those of ``lsst.ap.association.PackageAlertsTask``
so a pipeline can ``config.alertPackager.retarget(PackageAlertsTask)``.  This
module only orchestrates; the work lives in `tables` (catalogs), `cutouts`
(images), `alertEncoding` (Avro), `alertFile` (files) and `producer` (Kafka).
"""

from __future__ import annotations

__all__ = ["PackageAlertsConfig", "PackageAlertsTask"]

import math
import os
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd

import lsst.pipe.base as pipeBase
from lsst.utils.timer import timeMethod

from ._afw import GaussianPsf, InvalidParameterError, InvalidPsfError, geom
from .avro.assembly import AlertEncoder
from .avro.payloads import AlertPayloads
from .catalogs.inputChecks import validateRunInputs
from .catalogs.typedTable import coerceTable
from .catalogs.visitTables import flattenIndex, prepareVisitTables
from .config import PackageAlertsConfig
from .cutouts.ccdData import ccdDataToFitsBytes, makeCcdData
from .cutouts.geometry import centeredBoxMin, localTransformMatrices
from .cutouts.pixels import ArrayCutter
from .cutouts.plan import ImageCutouts
from .delivery.alertFile import AlertFileWriter
from .schemaRegistry import SchemaRegistry, UnknownSchemaError


class PackageAlertsTask(pipeBase.Task):
    """Package DiaSources, their history and image cutouts into Avro alerts.

    Alerts are written to ``{alertWriteLocation}/{visit}_{detector}.avro``
    when ``doWriteAlerts`` and sent to Kafka when ``doProduceAlerts``; `run`
    also returns them.
    """

    ConfigClass = PackageAlertsConfig
    _DefaultName = "packageAlerts"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.schema = self._loadSchema(self.config.schemaFile)
        self.alertSchema = self.schema.toPacketSchema()
        self.encoder = AlertEncoder(self.schema)
        if self.config.doWriteAlerts or self.config.doWriteFailedAlerts:
            os.makedirs(self.config.alertWriteLocation, exist_ok=True)
        self.producer = None
        if self.config.doProduceAlerts:
            from .delivery.producer import AlertProducer

            self.producer = AlertProducer(self.config, self.log)

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
            ``timings`` (seconds per stage).

        Raises
        ------
        lsst.ap.alerts.catalogs.inputChecks.AlertInputError
            If the inputs cannot be packaged at all (listing every problem);
            raised before anything is written or sent.
        """
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        validateRunInputs(self.schema, diaSourceCat, diaObjectCat, diaSrcHistory, diaForcedSources,
                          diffIm, calexp, template, ssSrc)
        visitInfo = diffIm.visitInfo
        visit = visitInfo.id
        detector = diffIm.detector.getId()
        midpointUnix = visitInfo.date.toAstropy().tai.unix
        exposureTime = visitInfo.exposureTime
        tables = prepareVisitTables(self.schema, diaSourceCat, diaObjectCat, diaSrcHistory, diaForcedSources,
                                    ssSrc, doRunForcedMeasurement, forcedSourceHistoryThreshold, self.log)
        t1 = time.perf_counter()
        timings["tables"] = t1 - t0
        n = len(tables.diaSourceIds)
        self.log.info("Packaging alerts for %d DiaSources (%d skipped).", n, len(tables.skipped))

        rotPa = self._rotPa(visitInfo)
        headers = {}
        cutouts = {name: self._cutoutsForImage(exposure, tables, rotPa, headers)
                   for name, exposure in (("cutoutDifference", diffIm), ("cutoutScience", calexp),
                                          ("cutoutTemplate", template))}
        t2 = time.perf_counter()
        timings["cutouts"] = t2 - t1

        observationReason = _nullIfEmpty(getattr(visitInfo, "observationReason", None))
        targetName = _nullIfEmpty(getattr(visitInfo, "object", None))
        alertFile = None
        fileWriter = None
        writeSeconds = 0.0
        if self.config.doWriteAlerts:
            alertFile = os.path.join(self.config.alertWriteLocation, f"{visit}_{detector}.avro")
            self.log.info("Writing alerts to %s.", alertFile)
            fileWriter = AlertFileWriter(alertFile, self.schema)

        def toFile(payload):
            # Each alert goes to the file as soon as it is complete: the disk
            # works while the next ones are assembled.
            nonlocal writeSeconds
            start = time.perf_counter()
            fileWriter.append(payload)
            writeSeconds += time.perf_counter() - start

        try:
            encoded = self.encoder.encodeVisit(tables, cutouts, observationReason, targetName, self.log,
                                               onAlert=toFile if fileWriter is not None else None)
            t3 = time.perf_counter()
            if fileWriter is not None:
                # Closed (flushed to disk, renamed into place) before producing, so
                # the file is there even if Kafka is not.
                fileWriter.close()
        except BaseException:
            if fileWriter is not None:
                fileWriter.abort()
            raise
        t4 = time.perf_counter()
        # Cutout pixels are calibrated and serialized while the alerts are assembled.
        timings["fits"] = encoded.cutoutSeconds
        timings["encoding"] = t3 - t2 - encoded.cutoutSeconds - writeSeconds
        timings["write"] = writeSeconds + t4 - t3
        alerts = AlertPayloads(self.schema, encoded.diaSourceIds, encoded.payloads, encoded.diaObjectIds)
        skipped = tables.skipped + encoded.failed

        produceReport = None
        if self.config.doProduceAlerts:
            self.log.info("Producing %d alerts to %s.", len(alerts), self.kafkaTopic)
            produceReport = self.produceAlerts(alerts, visit, detector, midpointUnix, exposureTime)
        else:
            # Downstream metrics expect these keys even when nothing is sent.
            self.metadata["visit_midpoint"] = midpointUnix
            self.metadata["produce_end_timestamp"] = -1
            self.metadata["produce_start_timestamp"] = -1
            self.metadata["alert_timing_since_shutter_close"] = -1
            self.metadata["total_alerts"] = -1
        timings["produce"] = time.perf_counter() - t4

        self.metadata["alerts_packaged"] = len(alerts)
        self.metadata["alerts_skipped"] = len(skipped)
        self.metadata["alerts_input"] = len(tables.diaSourceIds) + len(tables.skipped)
        self.metadata["alert_bytes"] = alerts.totalBytes
        return pipeBase.Struct(
            alerts=alerts,
            alertFile=alertFile,
            skipped=skipped,
            produceReport=produceReport,
            timings=timings,
        )

    # -- images ---------------------------------------------------------

    @staticmethod
    def _rotPa(visitInfo):
        try:
            angle = visitInfo.boresightRotAngle.asDegrees()
        except Exception:
            return None
        return angle if math.isfinite(angle) else None

    def _cutoutsForImage(self, exposure, tables, rotPa, headers):
        """Plan the cutout of every source on one image (`None` if there is no image or source).

        ``headers`` caches PRIMARY headers by shape and values across the
        images of a visit.

        Returns
        -------
        cutouts : `lsst.ap.alerts.cutouts.plan.ImageCutouts` or `None`
            Boxes, PSF HDUs and PRIMARY headers; the pixels are written
            later, straight into the alerts.
        """
        n = len(tables.diaSourceIds)
        if exposure is None or n == 0:
            return None
        wcs = exposure.getWcs()
        imBBox = exposure.getBBox()
        ra, dec = np.radians(tables.ra), np.radians(tables.dec)
        # Where the catalog has no pixel position, take it from the WCS.
        x, y = tables.x.copy(), tables.y.copy()
        missing = ~(np.isfinite(x) & np.isfinite(y))
        if missing.any():
            x[missing], y[missing] = wcs.skyToPixelArray(ra[missing], dec[missing], degrees=False)
        # Geometry of every cutout in vectorised passes: the sky position's
        # pixel (the cutout WCS reference), the local CD matrices, the boxes.
        cx, cy = wcs.skyToPixelArray(ra, dec, degrees=False)
        matrices = localTransformMatrices(wcs, cx, cy, ra, dec)
        sizes = self._cutoutSizes(tables.bboxSize)
        minX, minY = centeredBoxMin(x, y, sizes, sizes)
        # Box2D(bbox) of the parent: pixel edges half a pixel beyond the centres.
        onImage = ((x >= imBBox.getMinX() - 0.5) & (x <= imBBox.getMaxX() + 0.5)
                   & (y >= imBBox.getMinY() - 0.5) & (y <= imBBox.getMaxY() + 0.5))
        cutouts = ImageCutouts(exposure, n)
        writer = cutouts.writer
        psf = exposure.getPsf()
        if psf is None:
            self.log.warning("Exposure has no PSF; its cutouts carry none.")
        # One PSF HDU serves every cutout when the PSF is the same everywhere.
        perSourcePsf = psf is not None and not self.config.useAveragePsf and not isinstance(psf, GaussianPsf)
        sharedPsf = None
        if psf is not None and not perSourcePsf:
            average = self._averagePsf(exposure)
            sharedPsf = None if average is None else writer.psfHdu(average)
        values = writer.headerValues(minX - 1, minY - 1, cx - minX + 1, cy - minY + 1, matrices,
                                     tables.ra, tables.dec, rotPa).tolist()
        # Python numbers: numpy scalars are slow to format and compare one by one.
        ids, xs, ys = tables.diaSourceIds.tolist(), x.tolist(), y.tolist()
        minXs, minYs, sizeList = minX.tolist(), minY.tolist(), np.broadcast_to(sizes, n).tolist()
        onImage = onImage.tolist()
        for i in range(n):
            if not onImage[i]:
                self._warnOffImage(ids[i], geom.Point2D(xs[i], ys[i]), imBBox)
                continue
            try:
                size = int(sizeList[i])
                # Images on the same WCS (difference and science, usually the
                # warped template too) have the same header at a source.
                key = (size, tuple(values[i]))
                header = headers.get(key)
                if header is None:
                    header = headers[key] = writer.primaryHeader((size, size), values[i])
                psfHdu = sharedPsf
                if perSourcePsf:
                    kernel = self._computePsf(exposure, geom.Point2D(xs[i], ys[i]), ids[i])
                    psfHdu = None if kernel is None else writer.psfHdu(kernel)
                cutouts.add(i, minXs[i], minYs[i], size, header, psfHdu)
            except Exception as e:  # one bad cutout must not cost the others their alerts
                self.log.warning("Cutout for DiaSource id=%d failed (%s: %s); packaging the alert without it.",
                                 ids[i], type(e).__name__, e)
        return cutouts

    def _warnOffImage(self, srcId, point, imBBox):
        self.log.warning(
            "DiaSource id=%i centroid lies at pixel (%.2f, %.2f) which is outside the Exposure with "
            "bounding box ((%i, %i), (%i, %i)). Returning None for cutout...",
            srcId, point.getX(), point.getY(),
            imBBox.getMinX(), imBBox.getMaxX(), imBBox.getMinY(), imBBox.getMaxY(),
        )

    def _averagePsf(self, exposure):
        psf = exposure.getPsf()
        if psf is None:
            return None
        return self._computePsf(exposure, psf.getAveragePosition())

    def _computePsf(self, exposure, pixelCenter, srcId=None):
        """PSF kernel image at a point, or `None` (with a warning) if it cannot be evaluated."""
        try:
            return exposure.getPsf().computeKernelImage(pixelCenter).array
        except (InvalidParameterError, InvalidPsfError, ValueError, RuntimeError) as e:
            where = f"DiaSource id={srcId}" if srcId is not None else "the image's average position"
            self.log.warning("Could not compute the PSF for %s (%s: %s); the cutout carries no PSF.",
                             where, type(e).__name__, e)
            return None

    def createDiaSourceExtent(self, bboxSize):
        """Size of the square cutout for a footprint box of side ``bboxSize``.

        Clamped to [``minCutoutSize``, ``maxCutoutSize``].

        Returns
        -------
        extent : `lsst.geom.Extent2I`
        """
        size = int(self._cutoutSizes(int(bboxSize)))
        return geom.Extent2I(size, size)

    def _cutoutSizes(self, bboxSize):
        """Cutout side(s) for footprint box side(s): the one clamping rule, scalar or array."""
        return np.clip(bboxSize, self.config.minCutoutSize, self.config.maxCutoutSize)

    def createCcdDataCutout(self, image, skyCenter, pixelCenter, extent, photoCalib, srcId,
                            averagePsf=None, rotPa=None):
        """Cut out one calibrated image around a source.

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
            PSF to attach when ``useAveragePsf`` (computed here if `None`).
        rotPa : `float`, optional
            Boresight rotation angle in degrees, written as ``ROTPA``.

        Returns
        -------
        cutout : `astropy.nddata.CCDData` or `None`
            `None` (with a warning) when ``pixelCenter`` is off the image.
        """
        imBBox = image.getBBox()
        if not geom.Box2D(imBBox).contains(pixelCenter):
            self._warnOffImage(srcId, pixelCenter, imBBox)
            return None
        wcs = image.getWcs()
        arrays = ArrayCutter(image).cutCentered(pixelCenter, extent)
        if self.config.useAveragePsf:
            psf = averagePsf if averagePsf is not None else self._averagePsf(image)
        else:
            psf = self._computePsf(image, pixelCenter, srcId) if image.getPsf() is not None else None
        center = wcs.skyToPixel(skyCenter)
        return makeCcdData(
            arrays, photoCalib.getCalibrationMean(),
            crpix=(center.getX() - arrays.minX + 1, center.getY() - arrays.minY + 1),
            crval=(skyCenter.getRa().asDegrees(), skyCenter.getDec().asDegrees()),
            cdMatrix=self.makeLocalTransformMatrix(wcs, center, skyCenter),
            psf=psf, maskPlanes=dict(image.getMaskedImage().mask.getMaskPlaneDict()), rotPa=rotPa,
        )

    def makeLocalTransformMatrix(self, wcs, center, skyCenter):
        """Local linear approximation of ``wcs`` at ``center``, tangent at ``skyCenter``.

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
        return localTransformMatrices(
            wcs, [center.getX()], [center.getY()],
            [skyCenter.getRa().asRadians()], [skyCenter.getDec().asRadians()],
        )[0]

    def streamCcdDataToBytes(self, cutout):
        """Serialize a cutout to FITS bytes (layout: `lsst.ap.alerts.cutouts.ccdData`).

        Parameters
        ----------
        cutout : `astropy.nddata.CCDData`

        Returns
        -------
        cutoutBytes : `bytes`
        """
        return ccdDataToFitsBytes(cutout)

    # -- alerts ---------------------------------------------------------

    def makeAlertDict(self, alertId, diaSource, diaObject, objDiaSrcHistory, objDiaForcedSources,
                      diffImCutout, calexpCutout, templateCutout, ssSource=None, mpcOrbit=None,
                      observationReason=None, targetName=None):
        """Assemble one alert as a dict following the alert schema.

        Values are converted to the schema's types (numpy scalars, NaN/NA
        rules of `lsst.ap.alerts.catalogs.typedTable`), so the dict encodes as is.

        Parameters
        ----------
        alertId : `int`
            The alert's diaSourceId.
        diaSource : `pandas.Series` or `dict`
            The new DiaSource.
        diaObject : `pandas.Series`, `dict` or `None`
            Its DiaObject (`None` for a solar-system source).
        objDiaSrcHistory : `pandas.DataFrame` or `None`
            Earlier DiaSources of the object; `None` gives null.
        objDiaForcedSources : `pandas.DataFrame`, `pandas.Series` or `None`
            Forced sources of the object.
        diffImCutout, calexpCutout, templateCutout : `astropy.nddata.CCDData` or `None`
            Cutouts (serialized with `streamCcdDataToBytes`).
        ssSource, mpcOrbit : `pandas.Series`, `dict` or `None`, optional
            Solar-system association of the source.
        observationReason, targetName : `str` or `None`, optional
            Scheduler strings; empty → null.

        Returns
        -------
        alert : `dict`
            With upstream's 13 keys (``prvDiaNondetectionLimits`` is always
            `None`; schema 11.1 has no such field and ignores it).

        Raises
        ------
        ValueError
            If a value does not fit the schema (naming the diaSourceId and
            the field).
        """
        records = self.schema.records

        def convert(value, recordName, many):
            if value is None:
                return None
            if isinstance(value, pd.Series):
                frame = value.to_frame().T
                frame = frame.infer_objects()
            elif isinstance(value, Mapping):
                frame = pd.DataFrame([dict(value)])
            else:
                frame = value
            frame = flattenIndex(frame)
            typed, problems = coerceTable(frame, records[recordName])
            if problems:
                p = problems[0]
                raise ValueError(f"diaSourceId={alertId}: {recordName}.{p.field}: {p.reason}")
            rows = typed.toRecords()
            return rows if many else rows[0]

        def cutoutBytes(cutout):
            return None if cutout is None else self.streamCcdDataToBytes(cutout)

        if isinstance(objDiaForcedSources, pd.Series):
            objDiaForcedSources = objDiaForcedSources.to_frame().T.infer_objects()
        return {
            "diaSourceId": int(alertId),
            "observation_reason": _nullIfEmpty(observationReason),
            "target_name": _nullIfEmpty(targetName),
            "diaSource": convert(diaSource, "diaSource", False),
            "prvDiaSources": convert(objDiaSrcHistory, "diaSource", True),
            "prvDiaForcedSources": convert(objDiaForcedSources, "diaForcedSource", True),
            "prvDiaNondetectionLimits": None,
            "diaObject": convert(diaObject, "diaObject", False),
            "ssSource": convert(ssSource, "ssSource", False),
            "mpc_orbits": convert(mpcOrbit, "mpc_orbits", False),
            "cutoutDifference": cutoutBytes(diffImCutout),
            "cutoutScience": cutoutBytes(calexpCutout),
            "cutoutTemplate": cutoutBytes(templateCutout),
        }

    def produceAlerts(self, alerts, visit, detector, midpoint_unix, exposure_time):
        """Send alerts to Kafka; undeliverable ones are written or logged, never lost silently.

        Parameters
        ----------
        alerts : `AlertPayloads` or `list` [`dict`]
            Alerts from `run`, or alert dicts (encoded here).
        visit, detector : `int`
            Ids used to name files of failed alerts.
        midpoint_unix : `float`
            Exposure midpoint, Unix seconds (TAI as upstream).
        exposure_time : `float`
            Seconds; the shutter closes at midpoint + exposure_time / 2.

        Returns
        -------
        report : `lsst.ap.alerts.delivery.producer.ProduceReport`
        """
        from .delivery.producer import diaObjectKey, produceMetadata

        if self.producer is None:
            raise RuntimeError("produceAlerts needs doProduceAlerts=True (no Kafka producer was set up).")
        if not isinstance(alerts, AlertPayloads):
            encoded = [self.encoder.encodeDict(alert) for alert in alerts]
            alerts = AlertPayloads(
                self.schema,
                [alert["diaSourceId"] for alert in alerts],
                encoded,
                [alert["diaSource"].get("diaObjectId") or 0 for alert in alerts],
            )
        keyed = self.config.doKeyByDiaObjectId

        def messages():
            for i, (srcId, objId) in enumerate(zip(alerts.diaSourceIds, alerts.diaObjectIds)):
                key = diaObjectKey(objId) if keyed and objId else None
                yield srcId, key, alerts.framed(i)

        report = self.producer.produce(messages(), visit, detector)
        for key, value in produceMetadata(report, midpoint_unix, exposure_time).items():
            self.metadata[key] = value
        self.log.info("Total time since shutter close to produce alerts for visit %s detector %s: %s seconds",
                      visit, detector, self.metadata["alert_timing_since_shutter_close"])
        return report

    def _server_check(self):
        """Check the broker is reachable and the topic exists (see `AlertProducer`)."""
        if self.producer is not None:
            self.producer.serverCheck()


def _nullIfEmpty(value):
    """Scheduler strings: empty or missing → `None`."""
    if value is None:
        return None
    value = str(value)
    return value if value.strip() else None
