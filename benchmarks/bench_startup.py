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

"""Start-up cost of the ``ap-alerts`` command and of the PipelineTask module.

Each case runs in a fresh interpreter (``python -X importtime``), ``--repeat``
times; the report gives the median wall time of the process, the median
cumulative import time of the case's top module, and which heavy packages it
pulled in.  The references, in the same run: a bare interpreter
(``python -c pass``) and ``import lsst.pipe.base`` (what a PipelineTask
cannot avoid).

Usage: ``python benchmarks/bench_startup.py [--repeat 7]``
"""

import argparse
import statistics
import subprocess
import sys
import time

# (label, python arguments, top module whose cumulative import time is reported)
CASES = (
    ("python -c pass (reference)", ["-c", "pass"], None),
    ("import lsst.pipe.base (reference)", ["-c", "import lsst.pipe.base"], "lsst.pipe.base"),
    (
        "ap-alerts --help",
        ["-c", "import sys; from lsst.ap.alerts.tools.cli import main; sys.argv[1:] = ['--help']; main()"],
        "lsst.ap.alerts.tools.cli",
    ),
    (
        "import lsst.ap.alerts.tools.cli",
        ["-c", "import lsst.ap.alerts.tools.cli"],
        "lsst.ap.alerts.tools.cli",
    ),
    ("import lsst.ap.alerts", ["-c", "import lsst.ap.alerts"], "lsst.ap.alerts"),
    (
        "inspect/validate modules",
        ["-c", "import lsst.ap.alerts.tools.inspection"],
        "lsst.ap.alerts.tools.inspection",
    ),
    (
        "import lsst.ap.alerts.pipelineTask",
        ["-c", "import lsst.ap.alerts.pipelineTask"],
        "lsst.ap.alerts.pipelineTask",
    ),
)
HEAVY = ("lsst.daf.butler", "lsst.pipe.base", "pandas", "astropy", "matplotlib", "fastavro")


def runOnce(arguments):
    """Return (wall seconds, {module: cumulative µs}) of one fresh interpreter."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *arguments], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - start
    cumulative = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumul, name = line.split("|")
        try:
            cumulative[name.strip()] = int(cumul)
        except ValueError:  # the column titles
            continue
    return wall, cumulative


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"{'case':38} {'wall s':>7} {'import s':>9}  heavy packages imported")
    for label, arguments, top in CASES:
        walls, imports, modules = [], [], set()
        for _ in range(args.repeat):
            wall, cumulative = runOnce(arguments)
            walls.append(wall)
            if top is not None:
                imports.append(cumulative.get(top, 0) / 1e6)
            modules = set(cumulative)
        heavy = [name for name in HEAVY if name in modules]
        importText = f"{statistics.median(imports):9.3f}" if imports else f"{'-':>9}"
        print(f"{label:38} {statistics.median(walls):7.3f} {importText}  {', '.join(heavy) or '-'}")


if __name__ == "__main__":
    main()
