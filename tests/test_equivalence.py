"""The fast path's output equals the reference paths', byte for byte where it can.

For simulated visits (several seeds; nulls, NaN, empty and missing
histories, objects with one DiaSource, solar-system sources with
ssSource/mpc_orbits and missing MPC designations, duplicated and
non-finite DiaSources, sources off and at the edge of the images, no
template, no forced sources) and hypothesis-drawn variations:

(a) the Avro file `PackageAlertsTask.run` writes is byte-identical to
    ``fastavro.writer`` on `AlertEncoder.visitToDicts` of the same prepared
    tables, with the file's sync marker;
(b) every Kafka payload is the wire header + ``fastavro.schemaless_writer``
    of the same dict;
(c) every cutout reads back (``CCDData.read``) equal to the slow path's
    (``createCcdDataCutout`` + ``streamCcdDataToBytes``): data, variance,
    unit, WCS, CUTMINX/CUTMINY/ROTPA, PSF and the MASK planes HDU;
(d) each decoded alert equals ``makeAlertDict`` on the same inputs, given
    as upstream gives them (rows of ``iterrows``, ``.loc`` lookups).
"""

import datetime
import io
import logging
import math
import os
import struct
import tempfile
import unittest
import unittest.mock

import fastavro
import lsst.pipe.base
import lsst.utils.tests
import numpy as np
import pandas as pd
from astropy.io import fits
from astropy.nddata import CCDData
from fastavro.read import HEADER_SCHEMA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lsst.ap.alerts import PackageAlertsConfig, PackageAlertsTask
from lsst.ap.alerts import simulation as sim
from lsst.ap.alerts._afw import geom
from lsst.ap.alerts.avro.container import canonicalSchema
from lsst.ap.alerts.catalogs.designations import (
    DesignationError,
    ssObjectIdToPackedDesignation,
    unpackProvisional,
)
from lsst.ap.alerts.catalogs.visitTables import prepareVisitTables
from lsst.ap.alerts.cutouts import plan as imageCutouts

CUTOUTS = ("cutoutDifference", "cutoutScience", "cutoutTemplate")
# A pixel batch budget small enough for many batches in small test visits.
BATCH_BYTES = 40_000
MPCORB = "MPCORB_"
LOG = logging.getLogger("test_equivalence")


# -- inputs -------------------------------------------------------------------


def makeVisit(nSources, history, seed, size=320, **kwargs):
    return sim.makeSimulatedVisit(nSources, history, seed=seed, size=size, **kwargs)


def perturb(visit, seed):
    """Edge cases on top of a simulated visit (inputs are copied, not modified)."""
    rng = np.random.default_rng(seed)
    src = visit.diaSourceCat.copy()
    n = len(src)
    rows = rng.permutation(n)
    # NaN in float fields, NA in nullable integer / boolean ones.
    for column in ("psfFlux", "psfFluxErr", "apFlux", "snr", "trailLength", "dipoleMeanFlux"):
        if column in src.columns:
            src.iloc[rows[:3], src.columns.get_loc(column)] = np.nan
    for column, dtype in src.dtypes.items():
        if str(dtype) in ("Int64", "Int32", "boolean") and column not in ("diaObjectId", "diaSourceId"):
            src.iloc[rows[3:5], src.columns.get_loc(column)] = pd.NA
    # No x/y: the cutouts are centred on the WCS position of ra/dec.
    src.iloc[rows[5], src.columns.get_loc("x")] = np.nan
    src.iloc[rows[5], src.columns.get_loc("y")] = np.nan
    # Centre off every image: no cutouts, alert kept.
    src.iloc[rows[6], src.columns.get_loc("x")] = -50.0
    # Non-finite position: skipped.
    src.iloc[rows[7], src.columns.get_loc("ra")] = np.nan
    # Tiny and huge footprints: cutouts clamped to [min, max].
    src.iloc[rows[8], src.columns.get_loc("bboxSize")] = 1
    src.iloc[rows[9], src.columns.get_loc("bboxSize")] = 500
    # A duplicated diaSourceId: the first row is packaged.
    src = pd.concat([src, src.iloc[[rows[10]]]])

    objects = visit.diaObjectCat.copy()
    known = objects[objects["nDiaSources"] > 1].index
    # A DiaObject with history but nDiaSources 1: no prvDiaSources.
    if len(known) > 1:
        objects.loc[known[0], "nDiaSources"] = 1
    # A DiaObject missing from diaObjectCat: diaObject null.
    if len(known) > 2:
        objects = objects.drop(index=known[1])
    # Nulls in the DiaObject summaries.
    for column, dtype in objects.dtypes.items():
        if str(dtype).startswith("float") and column not in ("ra", "dec", "validityStartMjdTai"):
            objects.iloc[rng.permutation(len(objects))[:2], objects.columns.get_loc(column)] = np.nan

    history = visit.diaSrcHistory.copy()
    if len(history):
        history.iloc[rng.permutation(len(history))[:5], history.columns.get_loc("psfFlux")] = np.nan
    forced = visit.diaForcedSources.copy()
    if len(forced):
        forced.iloc[rng.permutation(len(forced))[:5], forced.columns.get_loc("psfFlux")] = np.nan
    return lsst.pipe.base.Struct(diaSourceCat=src, diaObjectCat=objects, diaSrcHistory=history,
                                 diaForcedSources=forced, diffIm=visit.diffIm, calexp=visit.calexp,
                                 template=visit.template, ssSrc=visit.ssSrc)


def replace(visit, **changes):
    fields = {"diaSourceCat": visit.diaSourceCat, "diaObjectCat": visit.diaObjectCat,
                  "diaSrcHistory": visit.diaSrcHistory, "diaForcedSources": visit.diaForcedSources,
                  "diffIm": visit.diffIm, "calexp": visit.calexp, "template": visit.template, "ssSrc": visit.ssSrc}
    fields.update(changes)
    return lsst.pipe.base.Struct(**fields)


# -- comparison helpers -------------------------------------------------------


def _recordTypes(recordSchema):
    """Field name → primitive type, or the logical type where there is one."""
    types = {}
    for field in recordSchema["fields"]:
        t = field["type"]
        if isinstance(t, list):
            t = next(b for b in t if b != "null")
        types[field["name"]] = (t.get("logicalType") or t["type"]) if isinstance(t, dict) else t
    return types


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _micros(value):
    """timestamp-micros as an integer (fastavro decodes it to an aware datetime)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        delta = value - _EPOCH
        return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(value, pd.Timestamp):
        return _micros(value.to_pydatetime())
    return value


def _isNan(x):
    return isinstance(x, float) and math.isnan(x)


class EquivalenceTestCase(lsst.utils.tests.TestCase):
    """Fast path vs reference paths on simulated visits."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="test_equivalence-")
        base = makeVisit(36, 6, seed=11, fractionSolarSystem=0.2, varyHistory=True)
        cls.cases = {
            "plain": (base, {}),
            "perturbed": (perturb(base, 1), {}),
            "solarSystem": (makeVisit(24, 4, seed=12, fractionSolarSystem=0.5,
                                      fractionMissingDesignations=0.5), {}),
            "noTemplate": (replace(makeVisit(20, 3, seed=13), template=None),
                           {"doRunForcedMeasurement": False}),
            "threshold": (makeVisit(24, 5, seed=14, varyHistory=True, fractionNewObjects=0.4),
                          {"forcedSourceHistoryThreshold": 3}),
        }
        # Many pixel batches of ImageCutouts (a small batch budget here), with
        # mixed cutout sizes and boxes off the image edges.
        cls.cases["crowded"] = (makeVisit(200, 2, seed=16, size=480), {})
        emptyBase = makeVisit(16, 3, seed=15)
        cls.cases["emptyHistories"] = (replace(emptyBase, diaSrcHistory=emptyBase.diaSrcHistory.iloc[:0],
                                               diaForcedSources=emptyBase.diaForcedSources.iloc[:0]), {})
        cls.cases["noSources"] = (replace(emptyBase, diaSourceCat=emptyBase.diaSourceCat.iloc[:0]), {})
        with unittest.mock.patch.object(imageCutouts, "_BATCH_BYTES", BATCH_BYTES):
            cls.results = {name: cls.runTask(visit, kwargs, name) for name, (visit, kwargs) in cls.cases.items()}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def makeTask(cls, where, **config):
        c = PackageAlertsConfig()
        c.doWriteAlerts = True
        c.alertWriteLocation = os.path.join(cls.tmp.name, where)
        for key, value in config.items():
            setattr(c, key, value)
        return PackageAlertsTask(config=c)

    @classmethod
    def runTask(cls, visit, kwargs, where, **config):
        task = cls.makeTask(where, **config)
        logging.disable(logging.WARNING)
        try:
            result = task.run(visit.diaSourceCat, visit.diaObjectCat, visit.diaSrcHistory,
                              visit.diaForcedSources, visit.diffIm, visit.calexp, visit.template,
                              ssSrc=visit.ssSrc, **kwargs)
        finally:
            logging.disable(logging.NOTSET)
        return task, result

    # -- (a) + (b) ----------------------------------------------------------

    def referenceDicts(self, task, visit, kwargs, decoded):
        tables = prepareVisitTables(task.schema, visit.diaSourceCat, visit.diaObjectCat, visit.diaSrcHistory,
                                    visit.diaForcedSources, visit.ssSrc,
                                    kwargs.get("doRunForcedMeasurement", True),
                                    kwargs.get("forcedSourceHistoryThreshold", 0), LOG)
        cutouts = {name: [alert[name] for alert in decoded] for name in CUTOUTS}
        visitInfo = visit.diffIm.visitInfo
        reason = visitInfo.observationReason or None
        target = visitInfo.object or None
        return tables, task.encoder.visitToDicts(tables, cutouts, reason, target)

    def checkAvro(self, task, result, visit, kwargs):
        """(a) file bytes == fastavro.writer; (b) payloads == wire header + schemaless_writer."""
        decoded = list(result.alerts)
        _tables, dicts = self.referenceDicts(task, visit, kwargs, decoded)
        self.assertEqual(len(dicts), len(result.alerts))
        self.assertEqual([d["diaSourceId"] for d in dicts], result.alerts.diaSourceIds)
        with open(result.alertFile, "rb") as f:
            fileBytes = f.read()
        header = fastavro.schemaless_reader(io.BytesIO(fileBytes), HEADER_SCHEMA, None)
        expected = io.BytesIO()
        # The writer stores the schema in canonical form (reproducible files).
        fastavro.writer(expected, canonicalSchema(task.alertSchema.definition), dicts,
                        sync_marker=header["sync"])
        self.assertEqual(fileBytes, expected.getvalue(), "Avro file differs from fastavro.writer's")
        wire = struct.pack(">bI", 0, task.schema.schemaId)
        for i, alert in enumerate(dicts):
            stream = io.BytesIO()
            fastavro.schemaless_writer(stream, task.schema.parsed, alert)
            self.assertEqual(result.alerts.framed(i), wire + stream.getvalue(),
                             f"payload of diaSourceId={alert['diaSourceId']}")
        return decoded

    def testAvroBytes(self):
        for name, (visit, kwargs) in self.cases.items():
            task, result = self.results[name]
            with self.subTest(case=name):
                self.checkAvro(task, result, visit, kwargs)

    def testEdgeCasesExercised(self):
        """The cases above do contain what they are meant to test."""
        visit, _ = self.cases["perturbed"]
        _task, result = self.results["perturbed"]
        src = visit.diaSourceCat
        skippedIds = [int(i) for i, _ in result.skipped]
        duplicated = src["diaSourceId"][src["diaSourceId"].duplicated()].astype(int).tolist()
        noPosition = src["diaSourceId"][src["ra"].isna()].astype(int).tolist()
        self.assertTrue(duplicated and noPosition)
        self.assertEqual(sorted(skippedIds), sorted(duplicated + noPosition))
        self.assertEqual(len(result.alerts), src["diaSourceId"].nunique() - len(noPosition))
        alerts = list(result.alerts)
        known = [a for a in alerts if a["diaObject"] is not None]
        self.assertTrue(any(all(a[c] is None for c in CUTOUTS) for a in alerts), "no off-image source")
        self.assertTrue(any(a["diaObject"] is None and a["ssSource"] is None for a in alerts),
                        "no source with a missing DiaObject")
        self.assertTrue(any(a["prvDiaSources"] is None for a in known), "no object with nDiaSources 1")
        self.assertTrue(any(a["prvDiaSources"] for a in known), "no history at all")
        floats = [v for a in alerts for v in a["diaSource"].values() if isinstance(v, float)]
        self.assertTrue(any(math.isnan(v) for v in floats), "no NaN")
        self.assertTrue(any(v is None for a in alerts for v in a["diaSource"].values()), "no null")
        sso = [a for name in ("plain", "solarSystem") for a in self.results[name][1].alerts
               if a["ssSource"] is not None]
        self.assertTrue(sso and all(a["mpc_orbits"] is not None for a in sso))
        self.assertTrue(self.cases["solarSystem"][0].ssSrc[
            "MPCORB_packed_primary_provisional_designation"].isna().any(), "no missing designation")
        for a in self.results["emptyHistories"][1].alerts:
            self.assertIn(a["prvDiaSources"], (None, []))
            self.assertIn(a["prvDiaForcedSources"], (None, []))
        self.assertTrue(all(a["cutoutTemplate"] is None for a in self.results["noTemplate"][1].alerts))

    def testCrowdedCaseSpansBatches(self):
        """The crowded visit's cutouts fall in many pixel batches, some with mixed sizes and edge boxes."""
        _task, result = self.results["crowded"]
        batches, start = {}, 0
        for alert in result.alerts:
            if alert["cutoutScience"] is None:
                continue
            with fits.open(io.BytesIO(alert["cutoutScience"])) as hdus:
                data = hdus[0].data
            # ImageCutouts' rule: an alert belongs to the batch its pixels start in.
            shapes, edges = batches.setdefault(start // BATCH_BYTES, (set(), []))
            shapes.add(data.shape)
            edges.append(bool(np.isnan(data).any()))
            start += 4 * data.size
        self.assertGreater(len(batches), 10)
        self.assertTrue(any(len(shapes) > 1 for shapes, _ in batches.values()))
        self.assertTrue(any(any(edges) for _, edges in batches.values()))

    def testNoSourcesFile(self):
        _task, result = self.results["noSources"]
        self.assertEqual(len(result.alerts), 0)
        with open(result.alertFile, "rb") as f:
            self.assertEqual(list(fastavro.reader(f)), [])

    # -- (c) ----------------------------------------------------------------

    def assertCutoutsEqual(self, fast, slow, where):
        if fast is None or slow is None:
            self.assertIsNone(fast, where)
            self.assertIsNone(slow, where)
            return
        with fits.open(io.BytesIO(fast)) as hdus:
            hdus.verify("exception")  # a valid FITS file
            fastNames = [h.name for h in hdus]
            fastMask = np.array(hdus["MASK"].data)
            fastPlanes = {k: v for k, v in hdus["MASK"].header.items() if k.startswith("MP_")}
        with fits.open(io.BytesIO(slow)) as hdus:
            slowNames = [h.name for h in hdus]
            slowMask = np.array(hdus["MASK"].data)
            slowPlanes = {k: v for k, v in hdus["MASK"].header.items() if k.startswith("MP_")}
        self.assertEqual(fastNames, slowNames, where)
        np.testing.assert_array_equal(fastMask, slowMask, err_msg=where)
        self.assertEqual(fastPlanes, slowPlanes, where)
        self.assertTrue(fastPlanes, where)
        a = CCDData.read(io.BytesIO(fast), format="fits")
        b = CCDData.read(io.BytesIO(slow), format="fits")
        np.testing.assert_array_equal(a.data, b.data, err_msg=where)
        self.assertEqual(a.data.dtype, b.data.dtype, where)
        self.assertIs(type(a.uncertainty), type(b.uncertainty), where)
        np.testing.assert_array_equal(a.uncertainty.array, b.uncertainty.array, err_msg=where)
        self.assertEqual(a.unit, b.unit, where)
        for key in ("CUTMINX", "CUTMINY", "ROTPA", "BUNIT"):
            self.assertEqual(a.meta.get(key), b.meta.get(key), f"{where}: {key}")
        if a.psf is None or b.psf is None:
            self.assertIsNone(a.psf, where)
            self.assertIsNone(b.psf, where)
        else:
            np.testing.assert_array_equal(a.psf, b.psf, err_msg=where)
        np.testing.assert_allclose(a.wcs.wcs.crpix, b.wcs.wcs.crpix, rtol=0, atol=1e-9, err_msg=where)
        np.testing.assert_allclose(a.wcs.wcs.crval, b.wcs.wcs.crval, rtol=0, atol=1e-12, err_msg=where)
        np.testing.assert_allclose(a.wcs.pixel_scale_matrix, b.wcs.pixel_scale_matrix, rtol=1e-12, atol=0,
                                   err_msg=where)
        self.assertEqual(list(a.wcs.wcs.ctype), list(b.wcs.wcs.ctype), where)
        height, width = a.data.shape
        gx, gy = np.meshgrid(np.linspace(0, width - 1, 5), np.linspace(0, height - 1, 5))
        ra1, dec1 = a.wcs.all_pix2world(gx, gy, 0)
        ra2, dec2 = b.wcs.all_pix2world(gx, gy, 0)
        np.testing.assert_allclose(ra1, ra2, rtol=0, atol=1e-9, err_msg=where)
        np.testing.assert_allclose(dec1, dec2, rtol=0, atol=1e-9, err_msg=where)

    def slowCutouts(self, task, visit, srcRow):
        """The three cutouts of one source through the public slow path."""
        ra, dec = float(srcRow["ra"]), float(srcRow["dec"])
        sky = geom.SpherePoint(ra, dec, geom.degrees)
        x, y = float(srcRow["x"]), float(srcRow["y"])
        extent = task.createDiaSourceExtent(int(srcRow["bboxSize"]))
        rotPa = visit.diffIm.visitInfo.boresightRotAngle.asDegrees()
        out = {}
        for name, image in zip(CUTOUTS, (visit.diffIm, visit.calexp, visit.template)):
            if image is None:
                out[name] = None
                continue
            point = (geom.Point2D(x, y) if np.isfinite(x) and np.isfinite(y)
                     else image.getWcs().skyToPixel(sky))
            ccd = task.createCcdDataCutout(image, sky, point, extent, image.getPhotoCalib(),
                                           int(srcRow["diaSourceId"]), rotPa=rotPa)
            out[name] = None if ccd is None else task.streamCcdDataToBytes(ccd)
        return out

    def firstRows(self, diaSourceCat):
        """diaSourceId → first input row (as a Series)."""
        rows = {}
        for _, row in diaSourceCat.iterrows():
            rows.setdefault(int(row["diaSourceId"]), row)
        return rows

    def testCutouts(self):
        logging.disable(logging.WARNING)
        try:
            for name in ("plain", "perturbed", "noTemplate", "crowded"):
                visit, _ = self.cases[name]
                task, result = self.results[name]
                rows = self.firstRows(visit.diaSourceCat)
                for alert in result.alerts:
                    srcId = alert["diaSourceId"]
                    slow = self.slowCutouts(task, visit, rows[srcId])
                    for cutout in CUTOUTS:
                        with self.subTest(case=name, diaSourceId=srcId, cutout=cutout):
                            self.assertCutoutsEqual(alert[cutout], slow[cutout],
                                                    f"{name} {srcId} {cutout}")
        finally:
            logging.disable(logging.NOTSET)

    def testAveragePsfCutouts(self):
        visit, kwargs = self.cases["plain"]
        sub = replace(visit, diaSourceCat=visit.diaSourceCat.iloc[:4])
        task, result = self.runTask(sub, kwargs, "averagePsf", useAveragePsf=True)
        rows = self.firstRows(sub.diaSourceCat)
        for alert in result.alerts:
            slow = self.slowCutouts(task, sub, rows[alert["diaSourceId"]])
            for cutout in CUTOUTS:
                self.assertCutoutsEqual(alert[cutout], slow[cutout], f"averagePsf {cutout}")

    # -- (d) ----------------------------------------------------------------

    def upstreamInputs(self, visit, kwargs, srcRow, flatten):
        """The makeAlertDict arguments of one source, looked up as upstream does.

        With ``flatten`` the history frames get a plain positional index
        (upstream passes ``.loc`` results whose index levels are also
        columns).
        """
        objId = srcRow["diaObjectId"]
        objId = 0 if pd.isna(objId) else int(objId)
        diaObject = history = forced = ssSource = mpcOrbit = None
        if objId != 0:
            if objId in visit.diaObjectCat.index:
                diaObject = visit.diaObjectCat.loc[objId]
            nSources = 0 if diaObject is None or pd.isna(diaObject["nDiaSources"]) else diaObject["nDiaSources"]
            if nSources > 1:
                hist = visit.diaSrcHistory
                history = (hist.loc[objId] if len(hist) and objId in hist.index.get_level_values(0)
                           else hist.iloc[:0])
            doForced = kwargs.get("doRunForcedMeasurement", True)
            forcedCat = visit.diaForcedSources
            if doForced and nSources >= kwargs.get("forcedSourceHistoryThreshold", 0) and len(forcedCat) \
                    and objId in forcedCat.index.get_level_values(0):
                forced = forcedCat.loc[objId]
            else:
                forced = forcedCat.iloc[:0]
            if flatten:
                history = None if history is None else history.reset_index(drop=True)
                forced = forced.reset_index(drop=True)
        elif visit.ssSrc is not None:
            match = visit.ssSrc[visit.ssSrc["diaSourceId"] == srcRow["diaSourceId"]]
            if len(match):
                ssSource = match.iloc[0]
                mpcOrbit = self.mpcOrbit(ssSource)
        return diaObject, history, forced, ssSource, mpcOrbit

    @staticmethod
    def mpcOrbit(ssRow):
        """mpc_orbits of an ssSrc row: MPCORB_ columns, missing designations from ssObjectId."""
        orbit = pd.Series({k[len(MPCORB):]: v for k, v in ssRow.items() if k.startswith(MPCORB)},
                          dtype=object)
        packed = orbit.get("packed_primary_provisional_designation")
        if not isinstance(packed, str):
            try:
                packed = ssObjectIdToPackedDesignation(int(ssRow["ssObjectId"]))
            except (DesignationError, TypeError, ValueError):
                packed = None
            orbit["packed_primary_provisional_designation"] = packed
        if not isinstance(orbit.get("unpacked_primary_provisional_designation"), str):
            orbit["unpacked_primary_provisional_designation"] = None if packed is None else unpackProvisional(packed)
        if not isinstance(orbit.get("designation"), str):
            orbit["designation"] = orbit["unpacked_primary_provisional_designation"]
        return orbit

    def assertRecordEqual(self, expected, got, recordName, where):
        if expected is None or got is None:
            self.assertIs(expected, got, where)
            return
        types = self.recordTypes[recordName]
        self.assertEqual(set(got), set(types), where)
        for key, kind in types.items():
            e, g = expected.get(key), got.get(key)
            if kind == "float" and e is not None and g is not None:
                e, g = np.float32(e), np.float32(g)
                same = e == g or (np.isnan(e) and np.isnan(g))
            elif kind == "timestamp-micros":
                same = _micros(e) == _micros(g)
            else:
                same = e == g or (_isNan(e) and _isNan(g))
            self.assertTrue(same, f"{where}: {recordName}.{key}: makeAlertDict {e!r}, alert {g!r}")

    def assertRecordsEqual(self, expected, got, recordName, where):
        if expected is None or got is None:
            self.assertIs(expected, got, where)
            return
        self.assertEqual(len(expected), len(got), where)
        for i, (e, g) in enumerate(zip(expected, got)):
            self.assertRecordEqual(e, g, recordName, f"{where}[{i}]")

    def checkMakeAlertDict(self, name, flatten):
        visit, kwargs = self.cases[name]
        task, result = self.results[name]
        self.recordTypes = {n: _recordTypes(task.schema.records[n])
                            for n in ("diaSource", "diaObject", "diaForcedSource", "ssSource", "mpc_orbits")}
        rows = self.firstRows(visit.diaSourceCat)
        visitInfo = visit.diffIm.visitInfo
        for alert in result.alerts:
            srcId = alert["diaSourceId"]
            where = f"{name} diaSourceId={srcId}"
            srcRow = rows[srcId]
            diaObject, history, forced, ssSource, mpcOrbit = self.upstreamInputs(visit, kwargs, srcRow, flatten)
            expected = task.makeAlertDict(srcId, srcRow, diaObject, history, forced, None, None, None,
                                          ssSource=ssSource, mpcOrbit=mpcOrbit,
                                          observationReason=visitInfo.observationReason,
                                          targetName=visitInfo.object)
            self.assertEqual(expected["diaSourceId"], srcId)
            for key in ("observation_reason", "target_name"):
                self.assertEqual(expected[key], alert[key], f"{where}: {key}")
            self.assertRecordEqual(expected["diaSource"], alert["diaSource"], "diaSource", where)
            self.assertRecordEqual(expected["diaObject"], alert["diaObject"], "diaObject", where)
            self.assertRecordsEqual(expected["prvDiaSources"], alert["prvDiaSources"], "diaSource",
                                    f"{where} prvDiaSources")
            self.assertRecordsEqual(expected["prvDiaForcedSources"], alert["prvDiaForcedSources"],
                                    "diaForcedSource", f"{where} prvDiaForcedSources")
            self.assertRecordEqual(expected["ssSource"], alert["ssSource"], "ssSource", where)
            self.assertRecordEqual(expected["mpc_orbits"], alert["mpc_orbits"], "mpc_orbits", where)

    def testMakeAlertDictValues(self):
        """Same values as makeAlertDict, histories given with a positional index."""
        for name in ("plain", "perturbed", "solarSystem", "noTemplate", "threshold", "emptyHistories"):
            with self.subTest(case=name):
                self.checkMakeAlertDict(name, flatten=True)

    def testMakeAlertDictUpstreamInputs(self):
        """makeAlertDict accepts upstream's ``.loc`` results (index levels also columns)."""
        for name in ("plain", "solarSystem"):
            with self.subTest(case=name):
                self.checkMakeAlertDict(name, flatten=False)

    # -- hypothesis ---------------------------------------------------------

    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(seed=st.integers(0, 2**16), nSources=st.integers(1, 14), history=st.integers(1, 6),
           solarSystem=st.sampled_from([0.0, 0.3, 1.0]), varyHistory=st.booleans(),
           withTemplate=st.booleans(), forced=st.booleans(), threshold=st.integers(0, 3),
           minCutout=st.sampled_from([10, 30]), maxCutout=st.sampled_from([30, 64]),
           perturbed=st.booleans())
    def testRandomVisits(self, seed, nSources, history, solarSystem, varyHistory, withTemplate, forced,
                         threshold, minCutout, maxCutout, perturbed):
        visit = makeVisit(nSources, history, seed=seed, size=200, fractionSolarSystem=solarSystem,
                          varyHistory=varyHistory)
        if perturbed and nSources >= 11:
            visit = perturb(visit, seed)
        if not withTemplate:
            visit = replace(visit, template=None)
        kwargs = {"doRunForcedMeasurement": forced, "forcedSourceHistoryThreshold": threshold}
        task, result = self.runTask(visit, kwargs, f"random{seed}", minCutoutSize=minCutout,
                                    maxCutoutSize=maxCutout)
        decoded = self.checkAvro(task, result, visit, kwargs)
        rows = self.firstRows(visit.diaSourceCat)
        logging.disable(logging.WARNING)
        try:
            for alert in decoded[:2]:
                slow = self.slowCutouts(task, visit, rows[alert["diaSourceId"]])
                for cutout in CUTOUTS:
                    self.assertCutoutsEqual(alert[cutout], slow[cutout], f"random {seed} {cutout}")
        finally:
            logging.disable(logging.NOTSET)


class MemoryTester(lsst.utils.tests.MemoryTestCase):
    pass


def setup_module(module):
    lsst.utils.tests.init()


if __name__ == "__main__":
    lsst.utils.tests.init()
    unittest.main()
