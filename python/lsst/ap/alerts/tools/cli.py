"""The ``ap-alerts`` command: inspect, validate, render and consume alerts, run the demo.

Only argument parsing and printing live here; the work is done by
`lsst.ap.alerts.tools.inspection`, `lsst.ap.alerts.tools.fileValidation`,
`lsst.ap.alerts.tools.render`, `lsst.ap.alerts.delivery.consumer` and
`lsst.ap.alerts.tools.demo`.  Every expected failure (unreadable or damaged file,
unknown schema, unknown id, unreachable broker) ends with one
``ap-alerts: error: ...`` line on stderr and exit status 1.
"""

from __future__ import annotations

__all__ = ["main"]

import argparse
import contextlib
import json
import os
import sys

from ..schemaRegistry import UnknownSchemaError
from .inspection import (
    AlertFile,
    AlertFileError,
    FileSummary,
    formatAlertLine,
    formatHeaderLine,
    formatSummary,
    summarizeAlert,
    summarizeFile,
)
from .progress import Progress

_PROG = "ap-alerts"
# Exit status of a process killed by SIGPIPE (128 + 13), what shells expect.
_SIGPIPE_STATUS = 141


class _CliError(Exception):
    """An expected failure: print the message, exit 1."""


def _inspect(args) -> int:
    alertFile = AlertFile(args.file)
    summaries = []
    if not args.json:
        print(formatHeaderLine())
    # Lines are printed as they are decoded, so a damaged file still shows
    # every alert before the damage.
    for decoded in alertFile:
        summary = summarizeAlert(decoded.alert, decoded.size)
        summaries.append(summary)
        if not args.json:
            print(formatAlertLine(summary))
    total = summarizeFile(summaries, alertFile)
    if args.json:
        document = {
            "file": alertFile.path,
            "kind": alertFile.kind,
            "schemaName": alertFile.schemaName,
            "alerts": [s.toJson() for s in summaries],
            "summary": total.toJson(),
        }
        print(json.dumps(document, indent=1))
    else:
        print(formatSummary(total))
    return 0


def _validate(args) -> int:
    from .fileValidation import findAlertFiles, validatePaths

    paths = findAlertFiles(args.path)
    if not paths:
        raise _CliError(f"no .avro files under {args.path}")
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


def _render(args) -> int:
    from .render import renderAlert

    alertFile = AlertFile(args.file)
    count = 0
    for decoded in alertFile:
        count += 1
        if decoded.alert.get("diaSourceId") == args.id:
            stamp = renderAlert(decoded.alert, args.output, stretch=args.stretch)
            print(f"wrote {stamp.path} ({stamp.width}×{stamp.height} px)")
            return 0
    raise _CliError(f"no alert with diaSourceId {args.id} in {args.file} ({count} alerts)")


def _consume(args) -> int:
    from ..delivery.consumer import ConsumeError, consumerConfig, iterTopic

    try:
        topic, config = consumerConfig(args.server, args.topic, args.plaintext, args.group)
        summaries = []
        schemaIds = set()
        errors = 0
        with Progress(f"consume {topic}", total=args.max, unit="message") as progress:
            for message in iterTopic(topic, config, maxMessages=args.max, timeout=args.timeout):
                progress.update()
                if message.error is not None:
                    errors += 1
                    print(f"{_PROG}: partition {message.partition} offset {message.offset}: {message.error}",
                          file=sys.stderr)
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
    total = FileSummary(len(summaries), schemaVersion, schemaId, sum(s.size for s in summaries))
    line = formatSummary(total)
    if errors:
        line += f"; {errors} undecodable message(s)"
    print(line)
    return 1 if errors else 0


def _demo(args) -> int:
    try:
        from .demo import runDemo
    except ImportError as e:
        raise _CliError(f"the demo is not available: {e}") from None
    try:
        # runDemo prints its own summary.
        runDemo(workdir=args.workdir, nSources=args.sources, nDetectors=args.detectors,
                jobs=args.jobs, seed=args.seed, fresh=args.fresh)
    except (RuntimeError, ValueError) as e:  # pipetask failure, bad parameters
        raise _CliError(f"demo failed: {e}") from None
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _makeParser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG, description="Inspect, validate, render and consume Rubin alert packets."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("inspect", help="one line per alert of an Avro file, and a summary")
    p.add_argument("file", help="alert container file ({visit}_{detector}.avro) or failed-delivery file")
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    p.set_defaults(run=_inspect)

    p = commands.add_parser("validate", help="check alerts against their schema and their cutouts")
    p.add_argument("path", help="container file, failed-delivery (framed) file, or a directory of *.avro")
    p.add_argument("--schema", help="schema version (11.1) or ID (1101) to check against "
                   "(default: the one each file names)")
    p.set_defaults(run=_validate)

    p = commands.add_parser("render", help="PNG of an alert's cutouts and PSF")
    p.add_argument("file", help="alert file")
    p.add_argument("--id", type=int, required=True, help="diaSourceId of the alert")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    p.add_argument("--stretch", choices=("zscale", "asinh"), default="zscale", help="default: zscale")
    p.set_defaults(run=_render)

    p = commands.add_parser("consume", help="read and summarise the alerts of a Kafka topic")
    p.add_argument("--topic", help="topic (default: $AP_KAFKA_TOPIC)")
    p.add_argument("--server", help="bootstrap HOST:PORT (default: $AP_KAFKA_SERVER)")
    p.add_argument("--plaintext", action="store_true",
                   help="no SASL (local brokers); otherwise SASL_PLAINTEXT/SCRAM-SHA-512 with "
                   "$AP_KAFKA_PRODUCER_USERNAME/$AP_KAFKA_PRODUCER_PASSWORD")
    p.add_argument("--max", type=_positive, help="stop after N messages")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="stop after S seconds without a message (default: 10)")
    p.add_argument("--group", help="consumer group id (default: a unique one; offsets are not committed)")
    p.set_defaults(run=_consume)

    p = commands.add_parser("demo", help="run the demo visit (butler + APDB + pipetask + alerts)")
    p.add_argument("--workdir", default="demo_repo", help="default: demo_repo")
    p.add_argument("--sources", type=_positive, default=300, help="DiaSources per detector (default: 300)")
    p.add_argument("--detectors", type=_positive, default=2, help="default: 2")
    p.add_argument("--jobs", type=_positive, default=2, help="parallel pipetask processes (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="default: 0")
    p.add_argument("--fresh", action="store_true", help="delete the work directory first")
    p.set_defaults(run=_demo)
    return parser


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
    except (_CliError, AlertFileError, UnknownSchemaError, OSError) as e:
        print(f"{_PROG}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
