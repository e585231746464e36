"""Alert production throughput: `AlertProducer` vs upstream's per-message flush.

Starts a noida-db Kafka broker on 127.0.0.1 (a free port, stopped at the
end), builds the same Confluent-framed alerts for both producers (2000 alerts
of about 60 kB by default: minimal schema-valid records with random,
incompressible cutouts), and sends them:

- ``new``: `lsst.ap.alerts.producer.AlertProducer.produce` (asynchronous
  produce, one final flush, per-message delivery accounting);
- ``upstream``: what ``lsst.ap.association.PackageAlertsTask`` does: the same
  client settings, ``produce`` then ``flush()`` for every message.

Each run goes to a fresh topic; after timing, the topic is read back to check
that every alert arrived. Prints alerts/s, MB/s and the ratio.

Run: ``python benchmarks/bench_producer.py [--alerts N] [--size BYTES]
[--repeats R]``.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(_HERE)
sys.path.insert(0, os.path.join(_REPO, "tests"))
# Appended: an installed lsst.ap.alerts (e.g. eups or pip) takes precedence.
sys.path.append(os.path.join(_REPO, "python"))

import logging  # noqa: E402

import confluent_kafka  # noqa: E402

from lsst.ap.alerts.config import PackageAlertsConfig  # noqa: E402
from lsst.ap.alerts.producer import AlertProducer, diaObjectKey, kafkaClientSettings  # noqa: E402

import kafkaBrokers  # noqa: E402


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
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    messages = buildMessages(args.alerts, args.size)
    megabytes = sum(len(payload) for _, _, payload in messages) / 1e6
    print(f"{args.alerts} alerts, {megabytes:.1f} MB framed ({megabytes * 1e6 / args.alerts / 1e3:.1f} kB each)")

    with tempfile.TemporaryDirectory() as tmp, kafkaBrokers.NoidaBroker(workDir=tmp) as broker:
        config = PackageAlertsConfig()
        config.kafkaSecurityProtocol = "PLAINTEXT"
        config.alertWriteLocation = os.path.join(tmp, "failed")
        config.doWriteFailedAlerts = True
        # A generous delivery timeout: the benchmark measures speed, not faults.
        config.deliveryTimeout = 60_000.0
        os.environ["AP_KAFKA_SERVER"] = broker.bootstrap
        times = {"new": [], "upstream": []}
        for repeat in range(args.repeats):
            for name in ("new", "upstream"):
                topic = f"bench-{name}-{uuid.uuid4().hex[:8]}"
                broker.createTopic(topic)
                os.environ["AP_KAFKA_TOPIC"] = topic
                if name == "new":
                    elapsed = runNew(config, messages)
                else:
                    # The same client settings as the new producer (upstream's).
                    elapsed = runUpstream(kafkaClientSettings(config).producerConfig, topic, messages)
                received = len(kafkaBrokers.consumeAll(broker.bootstrap, topic, len(messages)))
                if received != len(messages):
                    raise RuntimeError(f"{name}: topic holds {received} of {len(messages)} alerts")
                times[name].append(elapsed)
                print(f"  run {repeat + 1} {name:8s} {elapsed:7.3f} s  {len(messages) / elapsed:9.0f} alerts/s")

    print(f"median of {args.repeats} runs (noida-db on 127.0.0.1, {os.cpu_count()} CPUs):")
    medians = {}
    for name in ("upstream", "new"):
        medians[name] = statistics.median(times[name])
        t = medians[name]
        print(f"  {name:8s} {t:7.3f} s  {len(messages) / t:9.0f} alerts/s  {megabytes / t:8.1f} MB/s")
    print(f"  speed-up new/upstream: {medians['upstream'] / medians['new']:.1f}x")


if __name__ == "__main__":
    main()
