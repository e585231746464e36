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

"""What a demo run left: `DemoResult` (its summary and next steps) and the readers behind it.

The run's alerts and task metadata are read back from the butler, its alert
files counted, and ``{workdir}/latest`` pointed at its alert directory.
"""

from __future__ import annotations

__all__ = [
    "LATEST_LINK",
    "DemoResult",
    "countRecords",
    "firstDiaSourceId",
    "pointLatest",
    "readOutputs",
]

import contextlib
import dataclasses
import os

from lsst.daf.butler import Butler
from lsst.utils.timer import duration_from_timeMethod

from .demoInputs import INSTRUMENT
from .pipetaskCommands import TASK_LABEL, shellCommand, shortPath, venvTool

LATEST_LINK = "latest"
"""Link in the work directory to the alert files of the newest run."""


@dataclasses.dataclass
class DemoResult:
    """What `runDemo` did and where its alerts are.

    Attributes
    ----------
    workdir, repo, apdb : `str`
        Work directory, butler repository and APDB (SQLite URL).
    inputCollection : `str`
        Run holding the simulated inputs.
    outputCollection : `str`
        Output CHAINED collection (``pipetask -o``).
    outputRun : `str`
        The run this demo wrote (``pipetask --output-run``).
    datasetType : `str`
        Dataset type of the alerts (storage class ``ApAlertPackets``).
    visit : `int`
    detectors : `list` [`int`]
    nAlerts : `int`
        Alerts read back from the butler.
    totalBytes : `int`
        Size of their Avro payloads.
    alertFiles : `list` [`str`]
        The ``{visit}_{detector}.avro`` files written.
    fileAlerts : `int`
        Alerts in those files.
    reusedInputs : `bool`
        Inputs came from an earlier run with the same parameters.
    seconds, simulateSeconds, pipetaskSeconds : `float`
        Wall-clock time in total, for making inputs, and for ``pipetask``.
    packagingSeconds : `dict` [`int`, `float`]
        Wall-clock time of `PackageAlertsTask.run` per detector (from the
        task metadata).
    command : `list` [`str`]
        The ``pipetask`` command line.
    firstDiaSourceId : `int` or `None`
        diaSourceId of the first alert of the first file (for the next steps).
    """

    workdir: str
    repo: str
    apdb: str
    inputCollection: str
    outputCollection: str
    outputRun: str
    datasetType: str
    visit: int
    detectors: list[int]
    nAlerts: int
    totalBytes: int
    alertFiles: list[str]
    fileAlerts: int
    reusedInputs: bool
    seconds: float
    simulateSeconds: float
    pipetaskSeconds: float
    packagingSeconds: dict[int, float]
    command: list[str]
    firstDiaSourceId: int | None = None

    @property
    def meanBytes(self) -> float:
        """Mean alert size in bytes (0 without alerts)."""
        return self.totalBytes / self.nAlerts if self.nAlerts else 0.0

    def summary(self) -> str:
        """Human-readable report of the run."""
        lines = [
            (
                f"{self.nAlerts} alerts of visit {self.visit} ({INSTRUMENT}, detectors "
                f"{', '.join(map(str, self.detectors))}): {_size(self.totalBytes)} in total, "
                f"{_size(self.meanBytes)} per alert on average."
            ),
            f"Butler: repo {self.repo}",
            f"  dataset type {self.datasetType} (storage class ApAlertPackets), run {self.outputRun}",
            f"  (chain {self.outputCollection}); read with",
            (
                f"  Butler.from_config({self.repo!r}).get({self.datasetType!r}, instrument={INSTRUMENT!r}, "
                f"visit={self.visit}, detector={self.detectors[0]}, collections={self.outputRun!r})"
            ),
            f"Avro files ({self.fileAlerts} alerts):",
        ]
        lines += [f"  {path} ({_size(os.path.getsize(path))})" for path in self.alertFiles]
        lines.append(f"APDB: {self.apdb}")
        lines.append(self._packagingLine())
        runner = "bps submit" if "submit" in self.command else "pipetask"
        lines.append(
            f"Took {self.seconds:.1f} s: inputs {self.simulateSeconds:.1f} s "
            f"({'reused' if self.reusedInputs else 'simulated'}), {runner} {self.pipetaskSeconds:.1f} s "
            "(process start-up and butler I/O included)."
        )
        lines.append(f"{runner} command:\n  {shellCommand(self.command)}")
        lines.append("Next (ready to paste):")
        lines += [f"  {shellCommand(step)}" for step in self.nextSteps()]
        return "\n".join(lines)

    def _packagingLine(self) -> str:
        """Time of `PackageAlertsTask.run` in each detector's quantum, and the rate over their sum."""
        times = sorted(self.packagingSeconds.items())
        total = sum(s for _, s in times)
        each = ", ".join(f"detector {d} {s:.2f} s" for d, s in times)
        rate = ""
        if total > 0:
            rate = f"; {self.nAlerts:,} alerts in {total:.2f} s = {self.nAlerts / total:,.0f} alerts/s"
        return f"PackageAlertsTask.run, one call per detector quantum: {each}{rate}."

    def nextSteps(self) -> list[list[str]]:
        """Commands to look at this run's alerts (paths relative to the current directory when inside it)."""
        latest = shortPath(os.path.join(self.workdir, LATEST_LINK))
        files = [os.path.join(latest, os.path.basename(path)) for path in self.alertFiles]
        apAlerts, butler = venvTool("ap-alerts"), venvTool("butler")
        steps = [[apAlerts, "validate", latest]]
        if files:
            steps += [
                [apAlerts, "inspect", files[0]],
                [apAlerts, "render", files[0], "--list"],
                [apAlerts, "render", files[0], "--id", str(self.firstDiaSourceId), "-o", "alert.png"],
            ]
        steps += [
            [apAlerts, "report", latest, "-o", shortPath(os.path.join(self.workdir, "report"))],
            [
                butler,
                "query-datasets",
                shortPath(self.repo),
                self.datasetType,
                "--collections",
                self.outputRun,
            ],
        ]
        return steps


def _size(nBytes: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if nBytes < 1000 or unit == "GB":
            return f"{nBytes:.0f} {unit}" if unit == "B" else f"{nBytes:.1f} {unit}"
        nBytes /= 1000
    raise AssertionError("unreachable")


def pointLatest(workdir: str, alertDir: str) -> None:
    """Make ``workdir/latest`` a link to the newest run's alert directory (replaced atomically)."""
    link = os.path.join(workdir, LATEST_LINK)
    temporary = f"{link}.{os.getpid()}.tmp"
    try:
        os.symlink(os.path.relpath(alertDir, workdir), temporary)
        os.replace(temporary, link)
    except OSError:  # no symlinks here: the summary names the run's directory anyway
        with contextlib.suppress(OSError):
            os.remove(temporary)


def readOutputs(repo: str, datasetType: str, outputRun: str) -> tuple[int, int, dict[int, float]]:
    """Read the run's alerts and task metadata back from the butler.

    Returns
    -------
    nAlerts : `int`
        Alerts of all detectors.
    totalBytes : `int`
        Size of their Avro payloads.
    packagingSeconds : `dict` [`int`, `float`]
        Wall-clock time of `PackageAlertsTask.run` per detector.
    """
    nAlerts = totalBytes = 0
    packagingSeconds = {}
    with Butler.from_config(repo) as butler:
        for ref in butler.query_datasets(datasetType, collections=outputRun):
            alerts = butler.get(ref)
            nAlerts += len(alerts)
            totalBytes += alerts.totalBytes
        for ref in butler.query_datasets(f"{TASK_LABEL}_metadata", collections=outputRun):
            metadata = butler.get(ref)[f"{TASK_LABEL}:alertPackager"]
            packagingSeconds[int(ref.dataId["detector"])] = duration_from_timeMethod(
                metadata, "run", clock="Utc"
            )
    return nAlerts, totalBytes, packagingSeconds


def firstDiaSourceId(path: str) -> int | None:
    """diaSourceId of the first alert of an Avro container file."""
    import fastavro

    with open(path, "rb") as stream:
        first = next(iter(fastavro.reader(stream)), None)
    return first["diaSourceId"] if first is not None else None


def countRecords(path: str) -> int:
    """Records in an Avro container file (blocks are counted, not decoded)."""
    import fastavro

    with open(path, "rb") as stream:
        return sum(block.num_records for block in fastavro.block_reader(stream))
