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

"""Send Confluent-framed Avro alerts to Kafka without losing any.

`AlertProducer` is the Kafka side of `~lsst.ap.alerts.PackageAlertsTask`.
It keeps the contract of ``lsst.ap.association.PackageAlertsTask`` (the
``AP_KAFKA_*`` environment variables, the client settings, a broker check at
start-up, the ``producer_timestamp`` header, failed alerts written to
``{visit}_{detector}_{diaSourceId}.avro``, the same task metadata keys) and
changes how a visit's alerts are sent:

- Messages are queued with an asynchronous ``produce`` and the client's
  delivery callbacks are served with ``poll(0)``; one ``flush`` at the end
  waits for the last reports. Waiting for every message in turn, as upstream
  does, costs one broker round trip per alert and defeats batching.
- A full local queue (`BufferError`) makes the loop wait for deliveries and
  retry the same message: nothing is dropped.
- Every message ends in exactly one state: delivered (its own delivery report
  says so) or failed (``produce`` raised, its delivery report carries an
  error, or it was still unconfirmed when the final flush timed out). Failed
  alerts are written to disk (atomically) when ``doWriteFailedAlerts`` is set
  and are logged with their ``diaSourceId`` otherwise; upstream only logged
  asynchronous failures, so those alerts were lost.
- Messages still queued after the final flush are purged and then counted as
  failed; a run ignores any report that arrives after its end, so an alert
  can never be counted twice. A message that was in flight when purged may
  still have reached the broker: such an alert can be both in Kafka and on
  disk (at least once, never lost).
- The message key is optional. With ``doKeyByDiaObjectId`` the caller passes
  `diaObjectKey` of the alert's ``diaObjectId``: Kafka's partitioner sends
  equal keys to the same partition, and a partition keeps its order, so the
  alerts of one object reach consumers in the order they were produced even
  on a multi-partition topic. Without a key (upstream) alerts are spread
  over the partitions and consumers may see an object's alerts out of order.
- The producer is idempotent (``enable.idempotence``, ``acks=all``) unless
  ``kafkaEnableIdempotence`` is off: a message the client retries (its
  acknowledgement was lost, the broker restarted) is written once, in order.
- Every message carries the headers of
  `lsst.ap.alerts.delivery.messageHeaders` (``producer_timestamp``,
  ``schema_id``, ``ap_alerts_version``, ``visit``, ``detector``).
- The connection (``AP_KAFKA_*`` environment, security protocol, SASL) comes
  from `lsst.ap.alerts.delivery.kafkaSettings`, shared with the consumer.
  librdkafka's own log goes through the task's logger, rate-limited, never
  to stderr; a broker that does not answer at start-up is one
  `BrokerUnavailableError` naming the server and the wait.

``confluent_kafka`` is optional: this module imports without it, and
`AlertProducer` raises `RuntimeError` when it is missing.
"""

from __future__ import annotations

__all__ = [
    "AlertProducer",
    "BrokerUnavailableError",
    "KafkaClientSettings",
    "ProduceReport",
    "diaObjectKey",
    "kafkaClientSettings",
    "produceMetadata",
]

import collections
import dataclasses
import functools
import logging
import os
import struct
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from ..schemaRegistry import WIRE_HEADER_SIZE, parseWireHeader
from .alertFile import removeStaleTemporaries, writeFileAtomically
from .kafkaSettings import RedactedDict, clientLogSettings, describeKafkaError, kafkaConnection, redactConfig
from .messageHeaders import alertHeaders, producerTimestamp

try:
    import confluent_kafka
    import confluent_kafka.admin
except ImportError:
    confluent_kafka = None

# Client settings upstream uses, kept for identical batching behaviour.
_BATCH_SIZE = 2097152
_LINGER_MS = 5
_COMPRESSION = "snappy"

_QUEUE_FULL_WAIT = 0.05
"""Seconds to serve delivery reports before retrying a message refused
because the local queue is full."""

_FLUSH_MARGIN = 5.0
"""Seconds added to the delivery timeout for the final flush: the client
reports a message's timeout only when its timer scan runs, shortly after the
deadline."""

_PURGE_GRACE = 2.0
"""Seconds to collect the delivery reports of purged messages."""


class BrokerUnavailableError(*((confluent_kafka.KafkaException,) if confluent_kafka else ()), RuntimeError):
    """The Kafka broker did not answer the start-up check in time.

    A `confluent_kafka.KafkaException` (what upstream's check raises) and a
    `RuntimeError`; the message names the server, the wait and the last
    connection error.
    """


def diaObjectKey(diaObjectId: int) -> bytes:
    """Return the Kafka message key of a DiaObject.

    Parameters
    ----------
    diaObjectId : `int`
        The DiaObject identifier (a signed 64-bit integer).

    Returns
    -------
    key : `bytes`
        The identifier as 8 bytes, big-endian, signed (Avro ``long`` range).
    """
    return struct.pack(">q", int(diaObjectId))


@dataclasses.dataclass(frozen=True)
class ProduceReport:
    """Outcome of sending one visit/detector's alerts.

    ``delivered + failed`` is the number of alerts handed to
    `AlertProducer.produce`.
    """

    delivered: int
    """Alerts confirmed by their broker delivery report."""

    failed: int
    """Alerts not confirmed as delivered."""

    written: int
    """Failed alerts written to ``alertWriteLocation``."""

    failedDiaSourceIds: tuple[int, ...]
    """``diaSourceId`` of every failed alert, in the order they failed."""

    startTimestamp: float
    """`time.time` when producing began."""

    endTimestamp: float
    """`time.time` when every alert had reached its final state."""

    queueFullWaits: int = 0
    """How often a message had to wait for room in the local queue."""

    failureReasons: tuple[tuple[str, int], ...] = ()
    """``(reason, number of alerts)`` of the failures, most frequent first."""

    @property
    def total(self) -> int:
        """Number of alerts handled (`int`)."""
        return self.delivered + self.failed


def produceMetadata(report: ProduceReport, midpointUnix: float, exposureTime: float) -> dict[str, Any]:
    """Return the task metadata of one produce run.

    Parameters
    ----------
    report : `ProduceReport`
        The outcome of `AlertProducer.produce`.
    midpointUnix : `float`
        Unix time of the visit's mid-exposure.
    exposureTime : `float`
        Exposure time in seconds.

    Returns
    -------
    metadata : `dict`
        Upstream's keys (``visit_midpoint``, ``produce_start_timestamp``,
        ``produce_end_timestamp``, ``alert_timing_since_shutter_close``,
        ``total_alerts``, the last one counting delivered alerts) and
        ``alerts_delivered``, ``alerts_failed``, ``alerts_written_failed``.
    """
    return {
        "visit_midpoint": midpointUnix,
        "produce_start_timestamp": report.startTimestamp,
        "produce_end_timestamp": report.endTimestamp,
        "alert_timing_since_shutter_close": report.endTimestamp - (midpointUnix + exposureTime / 2),
        "total_alerts": report.delivered,
        "alerts_delivered": report.delivered,
        "alerts_failed": report.failed,
        "alerts_written_failed": report.written,
    }


class KafkaClientSettings(NamedTuple):
    """Where and how `AlertProducer` connects."""

    server: str
    """Bootstrap servers (``AP_KAFKA_SERVER``)."""

    topic: str
    """Alert topic (``AP_KAFKA_TOPIC``)."""

    producerConfig: dict[str, Any]
    """librdkafka configuration of the producer; prints redacted."""

    adminConfig: dict[str, Any]
    """librdkafka configuration of the start-up check; prints redacted."""


def kafkaClientSettings(
    config,
    environ: Mapping[str, str] | None = None,
    producerOverrides: Mapping[str, Any] | None = None,
    *,
    server: str | None = None,
    topic: str | None = None,
) -> KafkaClientSettings:
    """Build the producer's Kafka client configurations.

    Parameters
    ----------
    config : `lsst.ap.alerts.config.PackageAlertsConfig`
        Uses ``deliveryTimeout``, ``kafkaSecurityProtocol``,
        ``kafkaSaslMechanism`` and ``kafkaEnableIdempotence``.
    environ : `~collections.abc.Mapping`, optional
        The environment (default `os.environ`).
    producerOverrides : `~collections.abc.Mapping`, optional
        librdkafka properties added to the producer configuration last.
    server, topic : `str`, optional
        Values taking the place of ``AP_KAFKA_SERVER`` / ``AP_KAFKA_TOPIC``.

    Returns
    -------
    settings : `KafkaClientSettings`
        The server, topic and the two client configurations (without the
        log route, which `AlertProducer` adds).

    Raises
    ------
    ValueError
        Raised if a needed ``AP_KAFKA_*`` variable is missing or empty (see
        `~lsst.ap.alerts.delivery.kafkaSettings.kafkaConnection`).
    """
    connection = kafkaConnection(
        config.kafkaSecurityProtocol, config.kafkaSaslMechanism, environ, server=server, topic=topic
    )
    producerConfig = connection.config.copy()
    producerConfig.update(
        {
            "batch.size": _BATCH_SIZE,
            "linger.ms": _LINGER_MS,
            # librdkafka wants an integer number of milliseconds.
            "delivery.timeout.ms": round(config.deliveryTimeout),
            "compression.type": _COMPRESSION,
            # Every in-sync replica must have the alert before it counts as
            # delivered; with idempotence, retries cannot duplicate it.
            "acks": "all",
            "enable.idempotence": config.kafkaEnableIdempotence,
        }
    )
    if producerOverrides:
        producerConfig.update(producerOverrides)
    return KafkaClientSettings(
        server=connection.server,
        topic=connection.topic,
        producerConfig=producerConfig,
        adminConfig=connection.config,
    )


def _headersOf(visit: int, detector: int, wireHeader: bytes) -> list[tuple[str, bytes]]:
    """The headers of a message whose payload starts with ``wireHeader``."""
    try:
        schemaId = parseWireHeader(wireHeader)
    except ValueError:
        schemaId = None
    return alertHeaders(schemaId, visit, detector)


def _requireKafka():
    if confluent_kafka is None:
        raise RuntimeError(
            "doProduceAlerts is set but confluent_kafka is not installed "
            "(install the 'kafka' extra of lsst-ap-alerts)."
        )
    return confluent_kafka


class _DeliveryRun:
    """Bookkeeping of one `AlertProducer.produce` call.

    Each message is pending from the moment it is queued until the first
    of: its delivery report, a synchronous produce error, or `close`. Later
    reports find nothing pending and are ignored, which is what makes every
    alert count exactly once.
    """

    def __init__(self, log, visit, detector, writeDir, onDelivered=None):
        self.log = log
        self.onDelivered = onDelivered
        self.visit = visit
        self.detector = detector
        self.writeDir = writeDir
        self.pending: dict[int, tuple[int, bytes]] = {}
        self.delivered = 0
        self.written = 0
        self.failedIds: list[int] = []
        self.errors: collections.Counter[str] = collections.Counter()
        self.queueFullWaits = 0
        self.callback = None  # also told of every report (upstream's _delivery_callback)
        self._next = 0
        self._cleaned = False

    def add(self, diaSourceId: int, payload: bytes) -> int:
        index = self._next
        self._next += 1
        self.pending[index] = (diaSourceId, payload)
        return index

    def onDelivery(self, index: int, err, msg) -> None:
        # Called by the client from poll()/flush(): keep it short and never
        # let a write error escape into the client.
        entry = self.pending.pop(index, None)
        if entry is None:
            return
        if err is None:
            self.delivered += 1
            if self.onDelivered is not None:
                self._notify(index)
        else:
            self._fail(entry, describeKafkaError(err))
        if self.callback is not None:
            try:
                self.callback(err, msg)
            except Exception as exc:
                self.log.warning("Delivery callback raised for diaSourceId %d: %r", entry[0], exc)

    def _notify(self, index: int) -> None:
        try:
            self.onDelivered(index)
        except Exception as exc:
            # The client calls onDelivery: an exception must not escape into it.
            self.log.error("Handling the delivery report of message %d failed: %s", index, exc)

    def fail(self, index: int, reason: str) -> None:
        entry = self.pending.pop(index, None)
        if entry is not None:
            self._fail(entry, reason)

    def close(self, reason: str) -> None:
        for index in list(self.pending):
            self.fail(index, reason)

    def _fail(self, entry: tuple[int, bytes], reason: str) -> None:
        diaSourceId, payload = entry
        self.failedIds.append(diaSourceId)
        self.errors[reason] += 1
        if self.writeDir is None:
            self.log.warning("Alert for diaSourceId %d was not delivered: %s", diaSourceId, reason)
            return
        try:
            path = self._write(diaSourceId, payload)
        except OSError as exc:
            self.log.error(
                "Alert for diaSourceId %d was not delivered (%s) and could not be written: %s",
                diaSourceId,
                reason,
                exc,
            )
        else:
            self.written += 1
            self.log.debug(
                "Alert for diaSourceId %d was not delivered (%s); wrote %s", diaSourceId, reason, path
            )

    def _write(self, diaSourceId: int, payload: bytes) -> str:
        if not self._cleaned:
            # Once per run, before its first file: temporaries of this
            # visit/detector left by a killed run.
            os.makedirs(self.writeDir, exist_ok=True)
            removeStaleTemporaries(self.writeDir, f"{self.visit}_{self.detector}_", self.log)
            self._cleaned = True
        path = os.path.join(self.writeDir, f"{self.visit}_{self.detector}_{diaSourceId}.avro")
        writeFileAtomically(path, payload)
        return path


class AlertProducer:
    """Kafka producer of framed alert messages.

    Parameters
    ----------
    config : `lsst.ap.alerts.config.PackageAlertsConfig`
        Uses ``maxTimeout``, ``deliveryTimeout``, ``doWriteFailedAlerts``,
        ``alertWriteLocation``, ``kafkaSecurityProtocol``,
        ``kafkaSaslMechanism`` and ``kafkaEnableIdempotence``.
    log : `logging.Logger` or `lsst.utils.logging.LsstLogAdapter`, optional
        Where to report failures and summaries; librdkafka's own log lines
        go there too (rate-limited, at most WARNING).
    producerOverrides : `~collections.abc.Mapping`, optional
        librdkafka properties added to (or replacing) the producer settings,
        e.g. ``queue.buffering.max.messages`` or ``message.max.bytes``. For
        tests and tuning; the connection and credentials still come from the
        environment.
    checkServer : `bool`, optional
        Run `serverCheck` at construction (default). ``PackageAlertsTask``
        passes `False` and runs the check through its own ``_server_check``,
        which upstream's tests and subclasses patch.
    server, topic : `str`, optional
        Bootstrap servers and topic in place of ``AP_KAFKA_SERVER`` /
        ``AP_KAFKA_TOPIC`` (``ap-alerts send --server/--topic``).

    Raises
    ------
    RuntimeError
        Raised if ``confluent_kafka`` is not installed, or if the topic does
        not exist on the broker.
    ValueError
        Raised if a required ``AP_KAFKA_*`` environment variable is missing
        or empty (upstream's sentence and the variable name, never a value).
    BrokerUnavailableError
        Raised if the broker cannot be reached within ``config.maxTimeout``
        (a `confluent_kafka.KafkaException`, as upstream).

    Notes
    -----
    The environment variables are ``AP_KAFKA_SERVER`` (bootstrap servers),
    ``AP_KAFKA_TOPIC`` and, for the ``SASL_*`` protocols,
    ``AP_KAFKA_PRODUCER_USERNAME`` and ``AP_KAFKA_PRODUCER_PASSWORD``.

    An instance is not thread-safe: call `produce` from one thread at a time.
    """

    def __init__(
        self,
        config,
        log=None,
        *,
        producerOverrides: Mapping[str, Any] | None = None,
        checkServer: bool = True,
        server: str | None = None,
        topic: str | None = None,
    ):
        kafka = _requireKafka()
        self.config = config
        self.log = log if log is not None else logging.getLogger(__name__)

        settings = kafkaClientSettings(
            config, producerOverrides=producerOverrides, server=server, topic=topic
        )
        self._server = settings.server
        self._topic = settings.topic
        self._producerConfig = settings.producerConfig
        self._adminConfig = settings.adminConfig

        self._producer = None
        if checkServer:
            self.serverCheck()
        self._producer = kafka.Producer(dict(self._producerConfig, **clientLogSettings(self.log)))
        self.log.info("Kafka alert producer ready: %s", self.brokerConfigSummary())

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(server={self._server!r}, topic={self._topic!r}, "
            f"securityProtocol={self._producerConfig['security.protocol']!r})"
        )

    @property
    def topic(self) -> str:
        """Kafka topic the alerts are sent to (`str`)."""
        return self._topic

    @property
    def server(self) -> str:
        """Bootstrap server list (`str`)."""
        return self._server

    @property
    def producerConfig(self) -> dict[str, Any]:
        """A copy of the producer's librdkafka configuration (`dict`).

        It holds the real credentials, but prints with them redacted.
        """
        return RedactedDict(self._producerConfig)

    @property
    def adminConfig(self) -> dict[str, Any]:
        """A copy of the start-up check client's configuration (`dict`).

        It holds the real credentials, but prints with them redacted.
        """
        return RedactedDict(self._adminConfig)

    def brokerConfigSummary(self) -> dict[str, Any]:
        """Return the producer configuration for logging.

        Returns
        -------
        summary : `dict`
            The producer's librdkafka settings with secrets replaced by
            `REDACTED`, plus the ``topic``.
        """
        summary = redactConfig(self._producerConfig)
        summary["topic"] = self._topic
        return summary

    def serverCheck(self) -> None:
        """Check that the broker answers and has the topic.

        Run at construction; call again to re-check before a run.

        Raises
        ------
        BrokerUnavailableError
            Raised if the broker does not answer within ``maxTimeout``.
        RuntimeError
            Raised if the topic is not in the broker's topic list.
        """
        kafka = _requireKafka()
        errors = []
        admin = kafka.admin.AdminClient(
            dict(self._adminConfig, error_cb=errors.append, **clientLogSettings(self.log))
        )
        try:
            # No topic argument: asking for one topic can auto-create it.
            metadata = admin.list_topics(timeout=self.config.maxTimeout)
        except kafka.KafkaException as exc:
            # Serve the queued log lines and errors: the first says why.
            admin.poll(0)
            reasons = [e.str() for e in errors if e.code() != kafka.KafkaError._ALL_BROKERS_DOWN]
            # The client's error name (e.g. _TRANSPORT) stays in the message, as upstream's exception has it.
            code = exc.args[0].name() if exc.args and hasattr(exc.args[0], "name") else "KafkaException"
            raise BrokerUnavailableError(
                f"Kafka broker at {self._server} did not answer within {self.config.maxTimeout:g} s "
                f"(maxTimeout; {code}): {reasons[-1] if reasons else describeKafkaError(exc)}"
            ) from None
        topicMetadata = metadata.topics.get(self._topic)
        if topicMetadata is None:
            raise RuntimeError(f"Kafka topic {self._topic!r} does not exist on {self._server}.")
        if topicMetadata.error is not None:
            raise RuntimeError(
                f"Kafka topic {self._topic!r} on {self._server} is unusable: {topicMetadata.error}"
            )

    # Upstream's name for the check.
    _server_check = serverCheck

    def produce(
        self,
        messages: Iterable[tuple],
        visit: int,
        detector: int,
        *,
        flushTimeout: float | None = None,
        onDelivered: Callable[[int], None] | None = None,
        deliveryCallback=None,
    ) -> ProduceReport:
        """Send alert messages and account for each one.

        Parameters
        ----------
        messages : iterable of `tuple`
            ``(diaSourceId, key, payload)`` or ``(diaSourceId, key, payload,
            headers)`` per alert; ``payload`` is the complete
            Confluent-framed Avro message, ``key`` the message key (see
            `diaObjectKey`) or `None`, ``headers`` the message's headers
            but ``producer_timestamp`` (see
            `~lsst.ap.alerts.delivery.messageHeaders.alertHeaders`); without
            them, those of ``visit``, ``detector`` and the payload's schema
            ID.
        visit : `int`
            Visit of the alerts (names the failed-alert files).
        detector : `int`
            Detector of the alerts (names the failed-alert files).
        flushTimeout : `float`, optional
            Seconds to wait, after the last message is queued, for the
            remaining delivery reports; default ``deliveryTimeout`` plus a
            margin. Messages unconfirmed by then are purged and failed.
        onDelivered : callable, optional
            Called with the position (0-based) of a message in ``messages``
            as soon as its delivery report confirms it, from within the
            client's ``poll``/``flush``: keep it short. Its exceptions are
            logged, not raised.
        deliveryCallback : callable, optional
            Also called with ``(err, msg)`` for every delivery report, after
            this producer's own bookkeeping (upstream's
            ``_delivery_callback``); an exception it raises is logged, never
            passed to the client.

        Returns
        -------
        report : `ProduceReport`
            Counts of delivered, failed and written alerts.

        Notes
        -----
        If iterating ``messages`` raises, the messages already queued are
        still flushed and accounted for before the exception propagates.
        """
        if self._producer is None:
            raise RuntimeError("AlertProducer.produce called after close().")
        writeDir = self.config.alertWriteLocation if self.config.doWriteFailedAlerts else None
        run = _DeliveryRun(self.log, visit, detector, writeDir, onDelivered)
        run.callback = deliveryCallback
        if flushTimeout is None:
            flushTimeout = self.config.deliveryTimeout / 1000.0 + _FLUSH_MARGIN
        start = time.time()
        try:
            defaultHeaders = functools.lru_cache(maxsize=8)(functools.partial(_headersOf, visit, detector))
            for diaSourceId, key, payload, *given in messages:
                headers = given[0] if given else defaultHeaders(bytes(payload[:WIRE_HEADER_SIZE]))
                self._produceOne(run, run.add(diaSourceId, payload), key, payload, headers)
        finally:
            self._finish(run, flushTimeout)
        end = time.time()
        report = ProduceReport(
            delivered=run.delivered,
            failed=len(run.failedIds),
            written=run.written,
            failedDiaSourceIds=tuple(run.failedIds),
            startTimestamp=start,
            endTimestamp=end,
            queueFullWaits=run.queueFullWaits,
            failureReasons=tuple(run.errors.most_common()),
        )
        self._logSummary(report, run, visit, detector)
        return report

    def _produceOne(self, run: _DeliveryRun, index: int, key, payload, headers) -> None:
        """Queue one message, waiting for room in the local queue; a refusal fails it."""
        kafka = _requireKafka()
        callback = functools.partial(run.onDelivery, index)
        while True:
            try:
                self._producer.produce(
                    self._topic, payload, key, callback=callback, headers=[producerTimestamp(), *headers]
                )
            except BufferError:
                # Local queue full: let deliveries drain it, then retry.
                run.queueFullWaits += 1
                self._producer.poll(_QUEUE_FULL_WAIT)
                continue
            except kafka.KafkaException as exc:
                # E.g. larger than message.max.bytes: refused before queueing.
                run.fail(index, describeKafkaError(exc.args[0]) if exc.args else str(exc))
            break
        self._producer.poll(0)

    def _finish(self, run: _DeliveryRun, flushTimeout: float) -> None:
        """Wait for the outstanding reports, then fail what is left."""
        producer = self._producer
        if run.pending:
            producer.flush(flushTimeout)
        if run.pending:
            # Drop what the client still holds so it cannot be sent later;
            # purged messages get an error report, served by the flush.
            producer.purge(in_queue=True, in_flight=True, blocking=True)
            producer.flush(_PURGE_GRACE)
        run.close(f"no delivery report within {flushTimeout:g} s")

    def _logSummary(self, report: ProduceReport, run: _DeliveryRun, visit: int, detector: int) -> None:
        """Log the outcome: info if all were delivered, else a warning with the reasons."""
        delivered = "Delivered %d alerts of visit %d detector %d to topic %s"
        args = (report.delivered, visit, detector, self._topic)
        if report.failed == 0:
            self.log.info(delivered + ".", *args)
            return
        reasons = "; ".join(f"{reason} ({count})" for reason, count in run.errors.most_common())
        if run.writeDir is not None:
            fate, fateArgs = ", %d of them written to %s.", (report.written, run.writeDir)
        else:
            fate, fateArgs = " and were not written (doWriteFailedAlerts is False).", ()
        self.log.warning(delivered + "; %d failed (%s)" + fate, *args, report.failed, reasons, *fateArgs)

    def close(self) -> None:
        """Release the Kafka client; `produce` cannot be called afterwards.

        Nothing is outstanding between `produce` calls; whatever the client
        still holds is purged, so destroying it does not wait.
        """
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.purge(in_queue=True, in_flight=True, blocking=False)
            producer.flush(0)
