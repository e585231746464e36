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

"""Read alerts back from a Kafka topic (``ap-alerts consume``).

The connection comes from the same environment as the producer
(``AP_KAFKA_SERVER``, ``AP_KAFKA_TOPIC``, ``AP_KAFKA_PRODUCER_USERNAME``,
``AP_KAFKA_PRODUCER_PASSWORD``), read by the same code
(`lsst.ap.alerts.delivery.kafkaSettings`); each message is decoded with the
schema its Confluent wire header names.

Partitions are assigned directly (``assign`` from the topic metadata, from
the beginning) rather than joined through a consumer group: a group join
costs seconds on some brokers and a reader of a whole topic needs no
coordination.
"""

from __future__ import annotations

__all__ = ["ConsumeError", "ConsumedMessage", "consumerConfig", "iterTopic"]

import dataclasses
import io
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import fastavro

from ..schemaRegistry import (
    WIRE_HEADER_SIZE,
    AlertSchema,
    SchemaRegistry,
    UnknownSchemaError,
    parseWireHeader,
)
from .kafkaSettings import KAFKA_SERVER_ENV, KAFKA_TOPIC_ENV, MissingKafkaSettingError, kafkaConnection

# Largest response the client accepts: some brokers answer a fetch with all
# they have whatever the requested limits, and alerts with cutouts are large.
_RECEIVE_MAX_BYTES = 1_000_000_000
_FETCH_MAX_BYTES = 64 * 1024 * 1024
_PARTITION_FETCH_MAX_BYTES = 16 * 1024 * 1024

# Longest single wait for a message; keeps the idle timeout responsive.
_POLL_SECONDS = 0.5


class ConsumeError(RuntimeError):
    """The topic cannot be read (connection, configuration, missing topic)."""


@dataclasses.dataclass(frozen=True)
class ConsumedMessage:
    """One message of the topic, decoded or not.

    Attributes
    ----------
    partition, offset : `int`
        Where the message is.
    alert : `dict` or `None`
        The decoded alert (`None` if it could not be decoded).
    size : `int`
        Bytes of the schemaless record (message minus the wire header).
    schemaId : `int` or `None`
        Schema ID of the wire header.
    error : `str` or `None`
        Why the message could not be decoded.
    """

    partition: int
    offset: int
    alert: dict | None
    size: int
    schemaId: int | None
    error: str | None = None


def consumerConfig(
    server: str | None = None,
    topic: str | None = None,
    plaintext: bool = False,
    group: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Build the topic and consumer configuration.

    Parameters
    ----------
    server : `str`, optional
        Bootstrap servers; default ``AP_KAFKA_SERVER``.
    topic : `str`, optional
        Topic; default ``AP_KAFKA_TOPIC``.
    plaintext : `bool`
        Connect without SASL (local test brokers); otherwise SASL_PLAINTEXT
        with SCRAM-SHA-512 and the producer's credential variables.
    group : `str`, optional
        Consumer group id (only names the client; offsets are not
        committed); a unique one by default.
    environ : `~collections.abc.Mapping`, optional
        The environment (default `os.environ`).

    Returns
    -------
    topic : `str`
        The topic to read.
    config : `dict`
        librdkafka configuration; prints with the password redacted.

    Raises
    ------
    ConsumeError
        If the server, topic or a needed credential is not given.
    """
    protocol = "PLAINTEXT" if plaintext else "SASL_PLAINTEXT"
    try:
        connection = kafkaConnection(protocol, "SCRAM-SHA-512", environ, server=server, topic=topic)
    except MissingKafkaSettingError as e:
        for what, name in (("server", KAFKA_SERVER_ENV), ("topic", KAFKA_TOPIC_ENV)):
            if name in e.missing:
                raise ConsumeError(f"no Kafka {what}: give --{what} or set {name}") from None
        raise ConsumeError(
            f"{e} (consuming uses the producer's credentials; --plaintext for brokers without SASL)"
        ) from None
    config = connection.config
    config.update(
        {
            "group.id": group or f"ap-alerts-cli-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "receive.message.max.bytes": _RECEIVE_MAX_BYTES,
            "fetch.max.bytes": _FETCH_MAX_BYTES,
            "max.partition.fetch.bytes": _PARTITION_FETCH_MAX_BYTES,
            # Connection trouble is reported by list_topics/poll; keep librdkafka quiet.
            "log_level": 0,
        }
    )
    return connection.topic, config


def iterTopic(
    topic: str,
    config: Mapping[str, Any],
    maxMessages: int | None = None,
    timeout: float = 10.0,
    registry: SchemaRegistry | None = None,
) -> Iterator[ConsumedMessage]:
    """Read a topic from the beginning of every partition and decode each message.

    Parameters
    ----------
    topic : `str`
        The topic.
    config : `~collections.abc.Mapping`
        Consumer configuration (`consumerConfig`).
    maxMessages : `int`, optional
        Stop after this many messages.
    timeout : `float`
        Stop after this many seconds without a message; also bounds the
        initial metadata request.
    registry : `SchemaRegistry`, optional
        Where the schema of each wire header's ID is found.

    Yields
    ------
    message : `ConsumedMessage`
        Each message, decoded, or with the reason it could not be.

    Raises
    ------
    ConsumeError
        If confluent_kafka is missing, the broker does not answer (the
        message gives the client's reason, e.g. a refused login), or the
        topic does not exist.
    """
    try:
        import confluent_kafka
    except ImportError:
        raise ConsumeError("consuming needs confluent_kafka (the 'kafka' extra of lsst-ap-alerts)") from None
    registry = registry if registry is not None else SchemaRegistry.default()
    clientConfig = dict(config)
    # The client's errors say why metadata cannot be had (e.g. a refused
    # SASL login), which list_topics's own exception does not.
    clientErrors = []
    callerErrorCallback = clientConfig.get("error_cb")

    def onError(error):
        clientErrors.append(error)
        if callerErrorCallback is not None:
            callerErrorCallback(error)

    clientConfig["error_cb"] = onError
    consumer = confluent_kafka.Consumer(clientConfig)
    try:
        partitions = _topicPartitions(consumer, config, topic, timeout, clientErrors)
        consumer.assign(
            [confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING) for p in partitions]
        )
        schemas: dict[int, AlertSchema] = {}
        count = 0
        lastMessage = time.monotonic()
        while maxMessages is None or count < maxMessages:
            idle = time.monotonic() - lastMessage
            if idle >= timeout:
                return
            msg = consumer.poll(min(_POLL_SECONDS, timeout - idle))
            if msg is None:
                continue
            if msg.error():
                if msg.error().fatal():
                    raise ConsumeError(f"Kafka consumer error: {msg.error().str()}")
                continue
            lastMessage = time.monotonic()
            count += 1
            yield _decode(msg.partition(), msg.offset(), msg.value() or b"", registry, schemas)
    finally:
        consumer.close()


def _topicPartitions(consumer, config, topic: str, timeout: float, clientErrors: list) -> list[int]:
    """The partitions of ``topic``, sorted.

    Raises
    ------
    ConsumeError
        If the brokers do not answer (with the client's last specific
        error from ``clientErrors``) or the topic does not exist.
    """
    import confluent_kafka

    try:
        # No topic argument: asking for one topic can auto-create it.
        metadata = consumer.list_topics(timeout=max(timeout, 1.0))
    except confluent_kafka.KafkaException as e:
        # Serve the queued errors; the last specific one is the reason.
        consumer.poll(0)
        reasons = [
            err.str() for err in clientErrors if err.code() != confluent_kafka.KafkaError._ALL_BROKERS_DOWN
        ]
        if reasons:
            reason = reasons[-1]
        else:
            reason = e.args[0].str() if e.args and hasattr(e.args[0], "str") else str(e)
        raise ConsumeError(f"Kafka at {config['bootstrap.servers']} did not answer: {reason}") from None
    topicMetadata = metadata.topics.get(topic)
    if topicMetadata is None:
        raise ConsumeError(f"Kafka topic {topic!r} does not exist on {config['bootstrap.servers']}")
    return sorted(topicMetadata.partitions)


def _decode(
    partition: int, offset: int, value: bytes, registry: SchemaRegistry, schemas: dict[int, AlertSchema]
) -> ConsumedMessage:
    """Decode one message; ``schemas`` caches the schemas by ID (parsing one is slow)."""
    size = max(len(value) - WIRE_HEADER_SIZE, 0)
    try:
        schemaId = parseWireHeader(value)
    except ValueError as e:
        return ConsumedMessage(partition, offset, None, size, None, str(e))
    schema = schemas.get(schemaId)
    if schema is None:
        try:
            schema = schemas[schemaId] = registry.byId(schemaId)
        except UnknownSchemaError as e:
            return ConsumedMessage(partition, offset, None, size, schemaId, str(e))
    stream = io.BytesIO(value)
    stream.seek(WIRE_HEADER_SIZE)
    try:
        alert = fastavro.schemaless_reader(stream, schema.parsed, None)
    except Exception as e:
        return ConsumedMessage(
            partition,
            offset,
            None,
            size,
            schemaId,
            f"cannot decode with schema {schema.versionString}: {type(e).__name__}: {e}",
        )
    if stream.tell() != len(value):
        return ConsumedMessage(
            partition,
            offset,
            None,
            size,
            schemaId,
            f"{len(value) - stream.tell()} bytes left after decoding with schema {schema.versionString}",
        )
    return ConsumedMessage(partition, offset, alert, size, schemaId)
