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

"""Kafka client settings shared by the producer and the consumer.

One place for what every client of the alert stream needs: the ``AP_KAFKA_*``
environment (upstream's variables and error wording), the security protocol
and SASL mechanism, configurations that print with their secrets redacted,
and librdkafka's log routed through a Python logger instead of stderr.
"""

from __future__ import annotations

__all__ = [
    "KAFKA_PASSWORD_ENV",
    "KAFKA_SERVER_ENV",
    "KAFKA_TOPIC_ENV",
    "KAFKA_USERNAME_ENV",
    "REDACTED",
    "KafkaConnection",
    "MissingKafkaSettingError",
    "RateLimitedClientLog",
    "RedactedDict",
    "clientLogSettings",
    "describeKafkaError",
    "kafkaConnection",
    "redactConfig",
]

import logging
import os
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

KAFKA_PASSWORD_ENV = "AP_KAFKA_PRODUCER_PASSWORD"
KAFKA_USERNAME_ENV = "AP_KAFKA_PRODUCER_USERNAME"
KAFKA_SERVER_ENV = "AP_KAFKA_SERVER"
KAFKA_TOPIC_ENV = "AP_KAFKA_TOPIC"

# Upstream's message for each missing variable, in upstream's check order;
# kept word for word so that callers matching on it keep working.
_MISSING_WORDING = {
    KAFKA_PASSWORD_ENV: "Kafka password environment variable was not set.",
    KAFKA_USERNAME_ENV: "Kafka username environment variable was not set.",
    KAFKA_SERVER_ENV: "Kafka server environment variable was not set.",
    KAFKA_TOPIC_ENV: "Kafka topic environment variable was not set.",
}

REDACTED = "***"
"""Replacement of secret values in printed configurations."""

# librdkafka properties whose values are secrets.
_SECRET_KEYS = frozenset(
    {
        "sasl.password",
        "sasl.oauthbearer.client.secret",
        "ssl.key.password",
        "ssl.keystore.password",
        "ssl.key.pem",
    }
)


def redactConfig(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of a client configuration safe to print.

    Parameters
    ----------
    config : `~collections.abc.Mapping`
        A librdkafka configuration.

    Returns
    -------
    redacted : `dict`
        The same items, secret values replaced by `REDACTED`.
    """
    return {key: (REDACTED if key in _SECRET_KEYS else value) for key, value in config.items()}


class RedactedDict(dict):
    """A `dict` whose `repr` and `str` hide secret values.

    The items themselves are unchanged, so the dict can configure a client;
    it only cannot leak a password through printing or logging.
    """

    def __repr__(self) -> str:
        return repr(redactConfig(self))

    __str__ = __repr__

    def copy(self) -> RedactedDict:
        return RedactedDict(self)


class MissingKafkaSettingError(ValueError):
    """A needed ``AP_KAFKA_*`` variable is missing or empty.

    Parameters
    ----------
    missing : `list` [`str`]
        Names of the variables, in upstream's check order.
    securityProtocol : `str`
        The protocol they are needed for.
    """

    def __init__(self, missing: list[str], securityProtocol: str):
        self.missing = list(missing)
        super().__init__(
            " ".join(_MISSING_WORDING[name] for name in missing)
            + f" (security protocol {securityProtocol} needs {', '.join(missing)}, missing or empty.)"
        )


class KafkaConnection(NamedTuple):
    """Where the alert stream is and how to log in."""

    server: str
    """Bootstrap servers (``AP_KAFKA_SERVER``)."""

    topic: str
    """Alert topic (``AP_KAFKA_TOPIC``)."""

    config: RedactedDict
    """librdkafka connection properties (servers, protocol, SASL); prints
    redacted. Callers add their client's own properties to a copy."""


def kafkaConnection(
    securityProtocol: str,
    saslMechanism: str,
    environ: Mapping[str, str] | None = None,
    *,
    server: str | None = None,
    topic: str | None = None,
) -> KafkaConnection:
    """Read the alert stream's connection from the environment.

    Parameters
    ----------
    securityProtocol : `str`
        librdkafka ``security.protocol``; credentials are read only for the
        ``SASL_*`` protocols.
    saslMechanism : `str`
        librdkafka ``sasl.mechanisms`` (used with ``SASL_*`` only).
    environ : `~collections.abc.Mapping`, optional
        The environment (default `os.environ`).
    server, topic : `str`, optional
        Values taking the place of ``AP_KAFKA_SERVER`` / ``AP_KAFKA_TOPIC``.

    Returns
    -------
    connection : `KafkaConnection`

    Raises
    ------
    MissingKafkaSettingError
        Raised if a needed variable is missing or empty (a `ValueError`, as
        upstream's). The message holds
        upstream's sentence for each one (e.g. "Kafka password environment
        variable was not set.") and the variable names; never a value.
    """
    if environ is None:
        environ = os.environ
    values = {name: environ.get(name, "") for name in _MISSING_WORDING}
    values[KAFKA_SERVER_ENV] = server or values[KAFKA_SERVER_ENV]
    values[KAFKA_TOPIC_ENV] = topic or values[KAFKA_TOPIC_ENV]
    usesSasl = securityProtocol.startswith("SASL_")
    needed = [name for name in _MISSING_WORDING if usesSasl or name in (KAFKA_SERVER_ENV, KAFKA_TOPIC_ENV)]
    missing = [name for name in needed if not values[name]]
    if missing:
        raise MissingKafkaSettingError(missing, securityProtocol)
    config = RedactedDict(
        {"bootstrap.servers": values[KAFKA_SERVER_ENV], "security.protocol": securityProtocol}
    )
    if usesSasl:
        config["sasl.mechanisms"] = saslMechanism
        config["sasl.username"] = values[KAFKA_USERNAME_ENV]
        config["sasl.password"] = values[KAFKA_PASSWORD_ENV]
    return KafkaConnection(values[KAFKA_SERVER_ENV], values[KAFKA_TOPIC_ENV], config)


def describeKafkaError(err) -> str:
    """Short text of a client error: ``NAME (description)``.

    Parameters
    ----------
    err : `confluent_kafka.KafkaError`, `confluent_kafka.KafkaException` or `str`
        The error; an exception's first argument is used when it is one.

    Returns
    -------
    text : `str`
    """
    args = getattr(err, "args", None)
    if args and not isinstance(err, str) and hasattr(args[0], "name"):
        err = args[0]
    try:
        return f"{err.name()} ({err.str()})"
    except AttributeError:
        return str(err)


class RateLimitedClientLog:
    """librdkafka's log callback target: a Python logger, rate-limited.

    confluent_kafka calls ``log(level, fmt, facility, clientName, message)``.
    At most ``burst`` messages of one facility (``FAIL``, ``ERROR``, ...)
    and level go through per ``interval`` seconds; the next one that passes
    says how many were held back. A broker that is down makes librdkafka
    repeat the same line many times a second. Levels above WARNING are
    logged as WARNING.

    Parameters
    ----------
    log : `logging.Logger` or `logging.LoggerAdapter`
        Where the lines go (the task's logger).
    burst : `int`
        Messages let through per facility and level per interval.
    interval : `float`
        Seconds of one rate window.
    clock : callable, optional
        Returns the time in seconds (default `time.monotonic`).
    """

    def __init__(self, log, burst: int = 3, interval: float = 30.0, clock=time.monotonic):
        self._log = log
        self._burst = burst
        self._interval = interval
        self._clock = clock
        # (level, facility) -> [window start, passed in window, held back]
        self._windows: dict[tuple[int, str], list] = {}

    def log(self, level: int, fmt: str, *args) -> None:
        facility = str(args[0]) if args else ""
        now = self._clock()
        window = self._windows.setdefault((level, facility), [now, 0, 0])
        if now - window[0] >= self._interval:
            window[0], window[1] = now, 0
        if window[1] >= self._burst:
            window[2] += 1
            return
        window[1] += 1
        held, window[2] = window[2], 0
        suffix = f" ({held} similar librdkafka messages held back)" if held else ""
        # Connection errors are transient to the client, which retries; the
        # producer reports the outcome that matters (delivered or not).
        self._log.log(min(level, logging.WARNING), "librdkafka: " + fmt + suffix, *args)

    def heldBack(self) -> int:
        """Messages dropped since they were last reported (`int`)."""
        return sum(window[2] for window in self._windows.values())


def clientLogSettings(log) -> dict[str, Any]:
    """Return the librdkafka properties that route its log through ``log``.

    Parameters
    ----------
    log : `logging.Logger` or `logging.LoggerAdapter`
        The Python logger of the client's owner.

    Returns
    -------
    settings : `dict`
        ``logger`` (a `RateLimitedClientLog`; confluent_kafka then queues
        log lines and delivers them from ``poll``/``flush``, never to
        stderr) and ``log.connection.close`` off (an idle connection closed
        by the broker is normal, not worth a line).
    """
    if log is None:
        log = logging.getLogger(__name__)
    return {"logger": RateLimitedClientLog(log), "log.connection.close": False}
