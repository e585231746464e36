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

"""The ``ap-alerts`` command: inspect, validate, render, report, send and consume alerts, run the demo.

Only argument parsing and printing live here; the work is done by
`lsst.ap.alerts.tools.inspection`, `lsst.ap.alerts.tools.fileValidation`,
`lsst.ap.alerts.tools.render`, `lsst.ap.alerts.tools.report`,
`lsst.ap.alerts.delivery.consumer`, `lsst.ap.alerts.delivery.resend` and
`lsst.ap.alerts.tools.demo`, each
imported by the command that needs it: ``--help`` and the file commands
start without the butler or pipe_base.  Every expected failure (missing,
unreadable or damaged file, unknown schema, unknown id, unreachable broker)
ends with one ``ap-alerts: error: ...`` line on stderr and exit status 1.
"""

from __future__ import annotations

__all__ = ["main"]

import argparse
import contextlib
import json
import os
import sys

from ..version import __version__
from .progress import Progress

_PROG = "ap-alerts"
# Exit status of a process killed by SIGPIPE (128 + 13), what shells expect.
_SIGPIPE_STATUS = 141
# stamps.STRETCHES, repeated so that --help does not import astropy and matplotlib (a test
# checks they agree).
STRETCHES = ("asinh", "zscale")


class _CliError(Exception):
    """An expected failure: print the message, exit 1."""


def _alertPaths(path: str) -> list[str]:
    """The alert files at ``path`` (a file, or the ``*.avro`` under a directory)."""
    from .inspection import findAlertFiles

    paths = findAlertFiles(path)
    if not paths:
        raise _CliError(f"no .avro files under {path}")
    return paths


def _inspectFile(path: str, asJson: bool, summaries: list) -> dict:
    """Print (or collect as JSON) one file's alert lines and summary."""
    from .inspection import AlertFile, formatAlertLine, formatSummary, summarizeAlert, summarizeFile

    alertFile = AlertFile(path)
    mine = []
    # Lines are printed as they are decoded, so a damaged file still shows
    # every alert before the damage.
    for decoded in alertFile:
        summary = summarizeAlert(decoded.alert, decoded.size)
        mine.append(summary)
        if not asJson:
            print(formatAlertLine(summary))
    summaries.extend(mine)
    total = summarizeFile(mine, alertFile)
    if not asJson:
        print(formatSummary(total))
    return {
        "file": alertFile.path,
        "kind": alertFile.kind,
        "schemaName": alertFile.schemaName,
        "alerts": [s.toJson() for s in mine],
        "summary": total.toJson(),
    }


def _inspect(args) -> int:
    from .inspection import formatHeaderLine

    paths = _alertPaths(args.path)
    single = paths == [args.path]
    documents, summaries = [], []
    for path in paths:
        if not args.json:
            if not single:
                print(f"# {path}")
            print(formatHeaderLine())
        documents.append(_inspectFile(path, args.json, summaries))
    if args.json:
        document = (
            documents[0]
            if single
            else {
                "directory": args.path,
                "files": documents,
                "summary": {
                    "files": len(documents),
                    "count": len(summaries),
                    "totalBytes": sum(s.size for s in summaries),
                },
            }
        )
        print(json.dumps(document, indent=1))
    elif not single:
        totalBytes = sum(s.size for s in summaries)
        print(f"{len(paths)} file(s), {len(summaries)} alert(s), {totalBytes:,} bytes total")
    return 0


def _validate(args) -> int:
    from ..schemaRegistry import SchemaRegistry, UnknownSchemaError
    from .fileValidation import validatePaths

    if args.schema is not None:
        # A wrong --schema is a usage problem, reported once, not per file.
        try:
            SchemaRegistry.default().load(args.schema)
        except UnknownSchemaError as e:
            raise _CliError(f"--schema {args.schema}: {e}") from None
    paths = _alertPaths(args.path)
    # Alerts, not files, are counted: one visit's file can take a while.
    with Progress("validate", unit="alert") as progress:
        done = []

        def onFile(path, report):
            done.append(path)
            for problem in report.problems:
                print(problem, flush=True)

        def onAlert():
            progress.update(note=f"file {len(done) + 1}/{len(paths)}")

        report = validatePaths(paths, args.schema, onFile, onAlert)
    status = "OK" if report.ok else f"{len(report.problems)} problem(s)"
    print(f"{report.files} file(s), {report.alerts} alert(s), {report.cutouts} cutout(s) checked: {status}")
    return 0 if report.ok else 1


def _renderPlan(args, ids: list) -> list[tuple[int, str]]:
    """(diaSourceId, output file) of each figure to draw."""
    from .render import RENDER_FORMATS

    output = args.output
    if len(ids) == 1 and not args.all and not os.path.isdir(output):
        stem, suffix = os.path.splitext(output)
        if not suffix:
            output += ".png"
        elif suffix[1:].lower() not in RENDER_FORMATS:
            raise _CliError(
                f"-o {output}: render writes {', '.join('.' + f for f in RENDER_FORMATS)} "
                "files (the suffix picks the format)"
            )
        os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
        return [(ids[0], output)]
    # Several figures: -o is a directory.
    if os.path.exists(output) and not os.path.isdir(output):
        raise _CliError(f"-o {output}: several figures go into a directory, and this is a file")
    os.makedirs(output, exist_ok=True)
    return [(i, os.path.join(output, f"{i}.png")) for i in ids]


def _render(args) -> int:
    from .inspection import AlertFile, formatAlertLine, formatHeaderLine, summarizeAlert

    alerts = {decoded.alert.get("diaSourceId"): decoded for decoded in AlertFile(args.file)}
    if args.list:
        print(formatHeaderLine())
        for decoded in alerts.values():
            print(formatAlertLine(summarizeAlert(decoded.alert, decoded.size)))
        return 0
    if not args.id and not args.all:
        raise _CliError(
            f"give --id DIASOURCEID (one or more), --all, or --list to see the {len(alerts)} "
            f"alerts of {args.file}"
        )
    if args.output is None:
        raise _CliError("give -o/--output: a .png/.svg/.pdf file, or a directory for several alerts")
    ids = list(alerts) if args.all else list(dict.fromkeys(args.id))
    missing = [i for i in ids if i not in alerts]
    if missing:
        raise _CliError(
            f"no alert with diaSourceId {', '.join(map(str, missing))} in {args.file} "
            f"({len(alerts)} alerts; --list shows them)"
        )
    from .render import renderAlert

    for diaSourceId, path in _renderPlan(args, ids):
        stamp = renderAlert(alerts[diaSourceId].alert, path, stretch=args.stretch)
        print(f"wrote {stamp.path} ({stamp.width}×{stamp.height} px)", flush=True)
    return 0


def _report(args) -> int:
    from .report import buildReport

    paths = _alertPaths(args.path)
    bars = []

    def onAlert(done, total):
        if not bars:
            bars.append(Progress("report", total=total, unit="alert"))
        bars[0].update()

    try:
        result = buildReport(paths, args.output, stretch=args.stretch, jobs=args.jobs, onAlert=onAlert)
    finally:
        for bar in bars:
            bar.close()
    for problem in result.problems:
        print(f"{_PROG}: {problem}", file=sys.stderr)
    files = len({e.path for e in result.entries})
    print(
        f"wrote {result.index}: {len(result.entries)} alerts from {files} file(s); open "
        f"file://{os.path.abspath(result.index)} in a browser"
    )
    return 1 if result.problems else 0


def _consume(args) -> int:
    from ..delivery.consumer import ConsumeError, consumerConfig, iterTopic
    from ..delivery.kafkaSettings import (
        KAFKA_PASSWORD_ENV,
        KAFKA_SERVER_ENV,
        KAFKA_TOPIC_ENV,
        KAFKA_USERNAME_ENV,
    )
    from .inspection import FileSummary, formatAlertLine, formatHeaderLine, formatSummary, summarizeAlert

    server = args.server or os.environ.get(KAFKA_SERVER_ENV)
    topic = args.topic or os.environ.get(KAFKA_TOPIC_ENV)
    missing = [name for name in (KAFKA_USERNAME_ENV, KAFKA_PASSWORD_ENV) if not os.environ.get(name)]
    # Where to read comes first (consumerConfig says what is missing); then the login.
    if server and topic and not args.plaintext and missing:
        raise _CliError(
            f"consume logs in with SASL (SCRAM-SHA-512) unless --plaintext is given, using the "
            f"producer's credentials; {' and '.join(missing)} not set (give --plaintext for a "
            "broker without SASL)"
        )
    try:
        topic, config = consumerConfig(args.server, args.topic, args.plaintext, args.group)
        summaries, schemaIds, errors = [], set(), 0
        with Progress(f"consume {topic}", total=args.max, unit="message") as progress:
            for message in iterTopic(topic, config, maxMessages=args.max, timeout=args.timeout):
                progress.update()
                if message.error is not None:
                    errors += 1
                    print(
                        f"{_PROG}: partition {message.partition} offset {message.offset}: {message.error}",
                        file=sys.stderr,
                    )
                    continue
                schemaIds.add(message.schemaId)
                summary = summarizeAlert(message.alert, message.size)
                if not summaries:
                    print(formatHeaderLine())
                summaries.append(summary)
                print(formatAlertLine(summary), flush=True)
    except ConsumeError as e:
        raise _CliError(str(e)) from None
    schemaId = schemaIds.pop() if len(schemaIds) == 1 else None
    schemaVersion = f"{schemaId // 100}.{schemaId % 100}" if schemaId is not None else None
    line = formatSummary(FileSummary(len(summaries), schemaVersion, schemaId, sum(s.size for s in summaries)))
    if errors:
        line += f"; {errors} undecodable message(s)"
    print(line)
    return 1 if errors else 0


def _kafkaTarget(command: str, args) -> None:
    """Check that ``command`` knows where to send or read, and how to log in (as ``consume``)."""
    from ..delivery.kafkaSettings import (
        KAFKA_PASSWORD_ENV,
        KAFKA_SERVER_ENV,
        KAFKA_TOPIC_ENV,
        KAFKA_USERNAME_ENV,
    )

    for what, name in (("server", KAFKA_SERVER_ENV), ("topic", KAFKA_TOPIC_ENV)):
        if not (getattr(args, what) or os.environ.get(name)):
            raise _CliError(f"no Kafka {what}: give --{what} or set {name}")
    missing = [name for name in (KAFKA_USERNAME_ENV, KAFKA_PASSWORD_ENV) if not os.environ.get(name)]
    if not args.plaintext and missing:
        raise _CliError(
            f"{command} logs in with SASL (SCRAM-SHA-512) unless --plaintext is given, using the "
            f"producer's credentials; {' and '.join(missing)} not set (give --plaintext for a "
            "broker without SASL)"
        )


def _printSendPlan(plan) -> None:
    """The --dry-run listing: one line per alert, then what would happen."""
    print(f"{'diaSourceId':>20} {'visit':>14} {'detector':>8} {'schema':>6} {'bytes':>9}  file")
    for alert in plan.alerts:
        print(
            f"{alert.diaSourceId:>20} {alert.visit:>14} {alert.detector:>8} {alert.schemaId:>6} "
            f"{len(alert.message):>9}  {alert.paths[0]}"
        )
    failedFiles = sum(len(a.failedFiles) for a in plan.alerts)
    print(
        f"would send {len(plan.alerts)} alert(s) from {len(plan.files)} file(s) and remove "
        f"{failedFiles} failed-delivery file(s) once delivered (dry run: nothing sent)"
    )


def _sendLog(verbose: bool):
    """The producer's logger: silent unless --verbose (then INFO and up on stderr)."""
    import logging

    log = logging.getLogger("lsst.ap.alerts.send")
    log.propagate = False
    log.handlers = [logging.StreamHandler(sys.stderr) if verbose else logging.NullHandler()]
    log.handlers[0].setFormatter(logging.Formatter(f"{_PROG}: %(levelname)s: %(message)s"))
    log.setLevel(logging.INFO if verbose else logging.CRITICAL)
    return log


def _send(args) -> int:
    from ..delivery.resend import planResend, sendPlan
    from ..delivery.schemaRegistryCheck import SchemaRegistryCheck, SchemaRegistryCheckError

    if not args.dry_run:
        _kafkaTarget("send", args)
    plan = planResend(args.path, args.id)
    for error in plan.errors:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
    try:
        check = SchemaRegistryCheck(args.registry or "", args.timeout)
        for schema in plan.schemas.values():
            check.ensure(schema)
    except SchemaRegistryCheckError as e:
        raise _CliError(f"{e}; nothing sent") from None
    if args.dry_run:
        _printSendPlan(plan)
        return 1 if plan.errors else 0
    if not plan.alerts:
        print(f"nothing to send: no alert in {len(plan.files)} readable file(s)")
        return 1 if plan.errors else 0
    producer = _sendProducer(args)
    try:
        with Progress("send", total=len(plan.alerts), unit="alert") as progress:
            outcome = sendPlan(plan, producer, onDelivered=lambda alert: progress.update())
    finally:
        producer.close()
    for error in outcome.removalErrors:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
    print(
        f"{len(plan.alerts)} alert(s) from {len(plan.files)} file(s) to topic {producer.topic} at "
        f"{producer.server}: {outcome.delivered} delivered, {outcome.failed} not delivered; "
        f"{len(outcome.removed)} failed-delivery file(s) removed, {len(outcome.kept)} still on disk"
    )
    if outcome.failed:
        reasons = "; ".join(f"{reason} ({count})" for reason, count in outcome.failureReasons)
        raise _CliError(
            f"{outcome.failed} alert(s) not delivered to {producer.server} (topic {producer.topic}): "
            f"{reasons}; their files stay on disk"
        )
    return 1 if plan.errors or outcome.removalErrors else 0


def _sendProducer(args):
    """The task's producer, connected (or one error line naming the server)."""
    from ..config import PackageAlertsConfig
    from ..delivery.producer import AlertProducer, BrokerUnavailableError

    config = PackageAlertsConfig()
    config.kafkaSecurityProtocol = "PLAINTEXT" if args.plaintext else "SASL_PLAINTEXT"
    config.maxTimeout = args.timeout
    # The alerts are on disk already; a failure leaves them there.
    config.doWriteFailedAlerts = False
    try:
        return AlertProducer(config, _sendLog(args.verbose), server=args.server, topic=args.topic)
    except BrokerUnavailableError as e:
        raise _CliError(f"{e}; nothing sent, every file stays where it is") from None
    except RuntimeError as e:  # the topic does not exist
        raise _CliError(f"{e} Nothing sent.") from None


def _demo(args) -> int:
    try:
        from .demo import runDemo
    except ImportError as e:
        raise _CliError(f"the demo is not available: {e}") from None
    if args.site != "local" and not args.bps:
        raise _CliError(f"--site {args.site} runs the pipeline with bps: add --bps")
    try:
        if args.host:
            if args.bps:
                raise ValueError("--host runs pipetask; it cannot be combined with --bps")
            from .hostDemo import runHostDemo

            runHostDemo(args.workdir, args.sources, args.detectors, args.jobs, args.seed, fresh=args.fresh)
            return 0
        if args.bps:
            from .bpsDemo import checkBpsInstalled

            checkBpsInstalled()
        # runDemo prints its own summary.
        runDemo(
            workdir=args.workdir,
            nSources=args.sources,
            nDetectors=args.detectors,
            jobs=args.jobs,
            seed=args.seed,
            fresh=args.fresh,
            bps=args.bps,
            # The site only means something to bps.
            **({"site": args.site} if args.bps else {}),
        )
    except (RuntimeError, ValueError) as e:  # pipetask/bps failure, bad parameters
        raise _CliError(f"demo failed: {e}") from None
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _addFileCommands(commands) -> None:
    p = commands.add_parser(
        "inspect", help="one line per alert of an Avro file (or of each under a directory), and a summary"
    )
    p.add_argument(
        "path",
        help="alert container file ({visit}_{detector}.avro), failed-delivery file, or a directory of *.avro",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    p.set_defaults(run=_inspect)

    p = commands.add_parser("validate", help="check alerts against their schema and their cutouts")
    p.add_argument("path", help="container file, failed-delivery (framed) file, or a directory of *.avro")
    p.add_argument(
        "--schema",
        help="schema version (11.1) or ID (1101) to check against (default: the one each file names)",
    )
    p.set_defaults(run=_validate)

    p = commands.add_parser("render", help="figure of alerts: cutouts, PSF, light curve, triage flags")
    p.add_argument("file", help="alert file")
    p.add_argument("--id", type=int, nargs="+", metavar="DIASOURCEID", help="alert(s) to draw")
    p.add_argument("--all", action="store_true", help="draw every alert of the file")
    p.add_argument("--list", action="store_true", help="list the file's alerts (ids, band, S/N) and stop")
    p.add_argument(
        "-o",
        "--output",
        help="file to write (.png, .svg or .pdf; no suffix: .png) for one "
        "alert; a directory ({diaSourceId}.png) for several",
    )
    p.add_argument(
        "--stretch",
        choices=STRETCHES,
        default=STRETCHES[0],
        help=f"default: {STRETCHES[0]} (percentile limits; keeps bright cores)",
    )
    p.set_defaults(run=_render)

    p = commands.add_parser(
        "report", help="static HTML report: sortable index of all alerts and a page per alert"
    )
    p.add_argument("path", help="alert file or directory of *.avro")
    p.add_argument("-o", "--output", required=True, help="directory to write (index.html, alerts/, thumbs/)")
    p.add_argument("--stretch", choices=STRETCHES, default=STRETCHES[0], help=f"default: {STRETCHES[0]}")
    p.add_argument(
        "--jobs",
        type=_positive,
        default=min(4, os.cpu_count() or 1),
        help="processes drawing the figures (default: CPUs, at most 4)",
    )
    p.set_defaults(run=_report)


def _makeParser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG, description="Inspect, validate, render, report, send and consume Rubin alert packets."
    )
    parser.add_argument("--version", action="version", version=f"{_PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _addFileCommands(commands)

    p = commands.add_parser("consume", help="read and summarise the alerts of a Kafka topic")
    p.add_argument("--topic", help="topic (default: $AP_KAFKA_TOPIC)")
    p.add_argument("--server", help="bootstrap HOST:PORT (default: $AP_KAFKA_SERVER)")
    p.add_argument(
        "--plaintext",
        action="store_true",
        help="no SASL (local brokers); otherwise SASL_PLAINTEXT/SCRAM-SHA-512 with "
        "$AP_KAFKA_PRODUCER_USERNAME/$AP_KAFKA_PRODUCER_PASSWORD",
    )
    p.add_argument("--max", type=_positive, help="stop after N messages")
    p.add_argument(
        "--timeout", type=float, default=10.0, help="stop after S seconds without a message (default: 10)"
    )
    p.add_argument("--group", help="consumer group id (default: a unique one; offsets are not committed)")
    p.set_defaults(run=_consume)

    _addSendCommand(commands)

    p = commands.add_parser("demo", help="run the demo visit (butler + APDB + pipetask + alerts)")
    p.add_argument("--workdir", default="demo_repo", help="default: demo_repo (in the current directory)")
    p.add_argument("--sources", type=_positive, default=300, help="DiaSources per detector (default: 300)")
    p.add_argument("--detectors", type=_positive, default=2, help="default: 2")
    p.add_argument("--jobs", type=_positive, default=2, help="parallel pipetask processes (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="default: 0")
    p.add_argument("--fresh", action="store_true", help="delete the work directory first")
    p.add_argument(
        "--bps",
        action="store_true",
        help="run the pipeline with bps submit (Parsl on this "
        "machine, --jobs cores; needs the bps extra) instead of pipetask run",
    )
    p.add_argument(
        "--host",
        action="store_true",
        help="run the visit through upstream's DiaPipelineTask (ap_association, "
        "installed separately: doc/host.md) with this package as its alert packager",
    )
    p.add_argument(
        "--site",
        choices=("local", "slurm"),
        default="local",
        help="with --bps: Parsl's Local site (default) or its Slurm provider (one job of --jobs cores "
        "on the cluster sbatch reaches, e.g. through SLURM_CONF)",
    )
    p.set_defaults(run=_demo)
    return parser


def _addSendCommand(commands) -> None:
    p = commands.add_parser(
        "send",
        help="send alerts kept on disk (visit files, failed-delivery files) to Kafka; "
        "delivered failed-delivery files are removed",
    )
    p.add_argument(
        "path", nargs="+", help="container file, failed-delivery file, or directory (recursing over *.avro)"
    )
    p.add_argument("--server", help="bootstrap HOST:PORT (default: $AP_KAFKA_SERVER)")
    p.add_argument("--topic", help="topic (default: $AP_KAFKA_TOPIC)")
    p.add_argument(
        "--plaintext",
        action="store_true",
        help="no SASL (local brokers); otherwise SASL_PLAINTEXT/SCRAM-SHA-512 with "
        "$AP_KAFKA_PRODUCER_USERNAME/$AP_KAFKA_PRODUCER_PASSWORD",
    )
    p.add_argument("--id", type=int, nargs="+", metavar="DIASOURCEID", help="send only these alerts")
    p.add_argument("--dry-run", action="store_true", help="list what would be sent; send nothing")
    p.add_argument(
        "--registry",
        metavar="URL",
        help="Confluent Schema Registry: check it holds each schema under its ID before sending",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=15.0,
        metavar="S",
        help="seconds to wait for the broker (and the registry) to answer (default: 15)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="print the producer's log on stderr")
    p.set_defaults(run=_send)


def _isExpected(error: BaseException) -> bool:
    """Whether ``error`` is a failure to report in one line (not a bug)."""
    if isinstance(error, _CliError | OSError):
        return True
    # Their modules are imported only by the commands that can raise them.
    inspection = sys.modules.get("lsst.ap.alerts.tools.inspection")
    registry = sys.modules.get("lsst.ap.alerts.schemaRegistry")
    return (inspection is not None and isinstance(error, inspection.AlertFileError)) or (
        registry is not None and isinstance(error, registry.UnknownSchemaError)
    )


def main(argv: list[str] | None = None) -> int:
    """Run ``ap-alerts`` with ``argv`` (default: the command line).

    Returns
    -------
    status : `int`
        0 on success, 1 on an expected failure (message on stderr), 2 on
        bad usage (argparse's status), 141 when stdout was closed early.
    """
    parser = _makeParser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    try:
        return args.run(args)
    except BrokenPipeError:
        # The reader went away (``ap-alerts inspect ... | head``): stop
        # quietly as Unix tools do, and keep the interpreter's final flush
        # from failing again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return _SIGPIPE_STATUS
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if not _isExpected(e):
            raise
        print(f"{_PROG}: error: {e}", file=sys.stderr)
        return 1
