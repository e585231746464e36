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

"""Alert production throughput: `AlertProducer` vs upstream's per-message flush.

Starts a noida-db Kafka broker on 127.0.0.1 (a free port, data in
``/dev/shm`` when available, stopped at the end), builds the same
Confluent-framed alerts for both producers (2000 alerts of about 60 kB by
default: minimal schema-valid records with random,
incompressible cutouts), and sends them:

- ``new``: `lsst.ap.alerts.delivery.producer.AlertProducer.produce` (asynchronous
  produce, one final flush, per-message delivery accounting);
- ``upstream``: what ``lsst.ap.association.PackageAlertsTask`` does: the same
  client settings without idempotence (``acks=all`` is librdkafka's default
  anyway), ``produce`` then ``flush()`` for every message.

Each run gets a fresh broker; after timing, its topic is read back to check
that every alert arrived. Prints alerts/s, MB/s and the ratio.

On loopback a broker round trip takes tens of microseconds, which flatters
the per-message flush. ``--rtt-ms`` puts a delaying TCP proxy (127.0.0.1
only) between the clients and a Tansu broker that advertises the proxy, so
every request and response waits half the round trip each way, as on a
network; bandwidth is not limited.

Run: ``python benchmarks/bench_producer.py [--alerts N] [--size BYTES]
[--repeats R] [--rtt-ms MS]``.
"""

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import sys
import tempfile
import threading
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(_HERE)
sys.path.insert(0, os.path.join(_REPO, "tests"))
# Appended: an installed lsst.ap.alerts (e.g. eups or pip) takes precedence.
sys.path.append(os.path.join(_REPO, "python"))

import confluent_kafka
import kafkaBrokers

from lsst.ap.alerts.config import PackageAlertsConfig
from lsst.ap.alerts.delivery.producer import AlertProducer, diaObjectKey, kafkaClientSettings


class DelayProxy:
    """A TCP proxy on 127.0.0.1 that delays each direction by ``delay``
    seconds without limiting bandwidth (data is timestamped on arrival and
    forwarded when due)."""

    def __init__(self, listenPort, targetPort, delay):
        self.listenPort = listenPort
        self.targetPort = targetPort
        self.delay = delay
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.listenPort)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _handle(self, clientReader, clientWriter):
        try:
            targetReader, targetWriter = await asyncio.open_connection("127.0.0.1", self.targetPort)
        except OSError:
            clientWriter.close()
            return
        await asyncio.gather(self._pipe(clientReader, targetWriter), self._pipe(targetReader, clientWriter))

    async def _pipe(self, reader, writer):
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue()

        async def receive():
            with contextlib.suppress(OSError):
                while data := await reader.read(1 << 20):
                    queue.put_nowait((loop.time() + self.delay, data))
            queue.put_nowait((0.0, b""))

        async def send():
            with contextlib.suppress(OSError):
                while True:
                    due, data = await queue.get()
                    if not data:
                        break
                    if (wait := due - loop.time()) > 0:
                        await asyncio.sleep(wait)
                    writer.write(data)
                    await writer.drain()
            writer.close()

        await asyncio.gather(receive(), send())


@contextlib.contextmanager
def startBroker(tmp, rttMs):
    """Yield ``(bootstrap, description)`` of a running broker."""
    if rttMs <= 0:
        with kafkaBrokers.NoidaBroker(workDir=tmp) as broker:
            yield broker, "noida-db on 127.0.0.1"
        return
    proxyPort = kafkaBrokers.freePort()
    broker = kafkaBrokers.TansuBroker(workDir=tmp, advertisedPort=proxyPort)
    with DelayProxy(proxyPort, broker.port, rttMs / 2000.0), broker:
        yield broker, f"Tansu on 127.0.0.1 behind a {rttMs:g} ms round-trip proxy"


def buildMessages(count, size):
    messages = []
    for i in range(count):
        alert = kafkaBrokers.makeAlert(10_000_000 + i, cutoutSize=size)
        key = diaObjectKey(alert["diaSource"]["diaObjectId"])
        messages.append((alert["diaSourceId"], key, kafkaBrokers.frame(alert)))
    return messages


def runNew(config, messages):
    producer = AlertProducer(config, logging.getLogger("bench"))
    try:
        start = time.perf_counter()
        report = producer.produce(messages, visit=1, detector=1)
        elapsed = time.perf_counter() - start
    finally:
        producer.close()
    if report.delivered != len(messages):
        raise RuntimeError(f"new producer delivered {report.delivered} of {len(messages)}")
    return elapsed


def runUpstream(producerConfig, topic, messages):
    """Upstream's loop: produce, then flush after every message."""
    producer = confluent_kafka.Producer(dict(producerConfig))
    failures = []

    def report(err, msg):
        if err is not None:
            failures.append(err)

    start = time.perf_counter()
    for _, _, payload in messages:
        headers = [("producer_timestamp", str(time.time() * 1000).encode())]
        producer.produce(topic, payload, callback=report, headers=headers)
        producer.flush()
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"upstream-style producer had {len(failures)} failures: {failures[0]}")
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--size", type=int, default=60_000, help="cutout bytes per alert")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--rtt-ms", type=float, default=0.0, help="simulated network round trip (uses Tansu behind a proxy)"
    )
    args = parser.parse_args(argv)

    messages = buildMessages(args.alerts, args.size)
    megabytes = sum(len(payload) for _, _, payload in messages) / 1e6
    print(
        f"{args.alerts} alerts, {megabytes:.1f} MB framed ({megabytes * 1e6 / args.alerts / 1e3:.1f} kB each)"
    )

    # The broker's data goes to memory when possible: on disk, page-cache
    # write-back makes the broker, not the producer, set the pace.
    shm = "/dev/shm"
    dataRoot = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    config = PackageAlertsConfig()
    config.kafkaSecurityProtocol = "PLAINTEXT"
    config.doWriteFailedAlerts = True
    # A generous delivery timeout: the benchmark measures speed, not faults.
    config.deliveryTimeout = 60_000.0
    times = {"new": [], "upstream": []}
    for repeat in range(args.repeats):
        # Alternate the order so neither always runs first.
        for name in ("new", "upstream") if repeat % 2 == 0 else ("upstream", "new"):
            # A fresh broker per run: a broker slows down as its log grows.
            with (
                tempfile.TemporaryDirectory(prefix="bench-producer-", dir=dataRoot) as tmp,
                startBroker(tmp, args.rtt_ms) as (broker, where),
            ):
                config.alertWriteLocation = os.path.join(tmp, "failed")
                topic = f"bench-{name}"
                broker.createTopic(topic)
                # With a proxy the clients reach the broker through it after
                # bootstrap.
                os.environ["AP_KAFKA_SERVER"] = broker.bootstrap
                os.environ["AP_KAFKA_TOPIC"] = topic
                if name == "new":
                    elapsed = runNew(config, messages)
                else:
                    # upstream's client settings: the new producer's without
                    # idempotence, which upstream does not enable.
                    upstreamConfig = dict(kafkaClientSettings(config).producerConfig)
                    del upstreamConfig["enable.idempotence"]
                    elapsed = runUpstream(upstreamConfig, topic, messages)
                received = len(kafkaBrokers.consumeAll(broker.bootstrap, topic, len(messages)))
            if received != len(messages):
                raise RuntimeError(f"{name}: topic holds {received} of {len(messages)} alerts")
            times[name].append(elapsed)
            print(f"  run {repeat + 1} {name:8s} {elapsed:7.3f} s  {len(messages) / elapsed:9.0f} alerts/s")

    print(f"median of {args.repeats} runs ({where}, {os.cpu_count()} CPUs):")
    medians = {}
    for name in ("upstream", "new"):
        medians[name] = statistics.median(times[name])
        t = medians[name]
        print(f"  {name:8s} {t:7.3f} s  {len(messages) / t:9.0f} alerts/s  {megabytes / t:8.1f} MB/s")
    print(f"  speed-up new/upstream: {medians['upstream'] / medians['new']:.1f}x")


if __name__ == "__main__":
    main()
