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

"""Kafka headers of the alert messages: what they are and how they are encoded.

Every message the task or ``ap-alerts send`` produces carries these headers,
each value UTF-8 text (a consumer decodes them with ``value.decode()`` and,
for the numbers, `int` or `float`):

``producer_timestamp``
    Upstream's header, in upstream's format: ``str(time.time() * 1000)``,
    milliseconds since the Unix epoch as a decimal float (``"1765135200123.456"``),
    taken when the message is handed to the client.
``schema_id``
    Confluent ID of the payload's schema, decimal (``"1101"``); the same
    number as the payload's wire header.
``ap_alerts_version``
    Version of ``lsst.ap.alerts`` that produced the message (``"0.1.0"``).
``visit``, ``detector``
    The alert's visit and detector, decimal.
``resend``
    ``"1"`` on messages produced by ``ap-alerts send``; absent on first
    sends.

Text rather than binary integers: upstream's ``producer_timestamp`` is text
already, text headers print readably in every Kafka tool, and no consumer has
to know a byte order or width.
"""

from __future__ import annotations

__all__ = [
    "AP_ALERTS_VERSION",
    "DETECTOR",
    "PRODUCER_TIMESTAMP",
    "RESEND",
    "SCHEMA_ID",
    "VISIT",
    "alertHeaders",
    "decodeHeaders",
    "producerTimestamp",
]

import time
from collections.abc import Iterable

from ..version import __version__

PRODUCER_TIMESTAMP = "producer_timestamp"
SCHEMA_ID = "schema_id"
AP_ALERTS_VERSION = "ap_alerts_version"
VISIT = "visit"
DETECTOR = "detector"
RESEND = "resend"

_INTEGER_HEADERS = (SCHEMA_ID, VISIT, DETECTOR)


def producerTimestamp() -> tuple[str, bytes]:
    """Return the ``producer_timestamp`` header of a message sent now (upstream's format)."""
    return (PRODUCER_TIMESTAMP, str(time.time() * 1000).encode())


def alertHeaders(schemaId: int | None, visit: int, detector: int, resend: bool = False) -> list:
    """Return the headers of one alert message, except ``producer_timestamp``.

    Parameters
    ----------
    schemaId : `int` or `None`
        Confluent ID of the payload's schema (`None`: the payload is not
        framed, no ``schema_id`` header).
    visit, detector : `int`
        The alert's visit and detector.
    resend : `bool`, optional
        Add ``resend`` = ``1`` (``ap-alerts send``).

    Returns
    -------
    headers : `list` [`tuple` [`str`, `bytes`]]
        In the order listed in the module documentation.
    """
    headers = [] if schemaId is None else [(SCHEMA_ID, str(int(schemaId)).encode())]
    headers += [
        (AP_ALERTS_VERSION, __version__.encode()),
        (VISIT, str(int(visit)).encode()),
        (DETECTOR, str(int(detector)).encode()),
    ]
    if resend:
        headers.append((RESEND, b"1"))
    return headers


def decodeHeaders(headers: Iterable[tuple[str, bytes | None]] | None) -> dict:
    """Decode the headers of a message this package produced.

    Parameters
    ----------
    headers : iterable of `tuple` [`str`, `bytes`], or `None`
        ``message.headers()`` of a `confluent_kafka.Message`.

    Returns
    -------
    values : `dict`
        ``producer_timestamp`` as a `float` (ms), ``schema_id``, ``visit``
        and ``detector`` as `int`, ``ap_alerts_version`` as `str`, ``resend``
        as `bool` (`False` when absent); other headers as text. Headers
        absent from the message are absent from the dict (``resend`` aside).

    Raises
    ------
    ValueError
        If a known header's value is not what this module writes.
    """
    values = {RESEND: False}
    for name, raw in headers or ():
        text = (raw or b"").decode()
        if name == PRODUCER_TIMESTAMP:
            values[name] = float(text)
        elif name in _INTEGER_HEADERS:
            values[name] = int(text)
        elif name == RESEND:
            if text != "1":
                raise ValueError(f"header {RESEND}={text!r}: expected '1'")
            values[name] = True
        else:
            values[name] = text
    return values
