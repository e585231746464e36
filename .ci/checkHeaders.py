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

"""Check (or, with --fix, add) the LSST license header of every tracked Python source file.

Run from the repository root: ``python .ci/checkHeaders.py [--fix]``.
"""

import subprocess
import sys
from pathlib import Path

HEADER_FILE = Path(__file__).with_name("licenseHeader.txt")


def sourceFiles() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "*.py", "SConstruct"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return [Path(name) for name in names if Path(name).is_file()]


def withHeader(text: str, header: str) -> str:
    """The file's text with the header after any shebang/coding line."""
    lines = text.splitlines(keepends=True)
    keep = 0
    while keep < len(lines) and (lines[keep].startswith("#!") or "-*-" in lines[keep]):
        keep += 1
    return "".join(lines[:keep]) + header + ("\n" if lines[keep:] else "") + "".join(lines[keep:])


def main() -> int:
    header = HEADER_FILE.read_text()
    fix = "--fix" in sys.argv[1:]
    missing = [path for path in sourceFiles() if header not in path.read_text()]
    for path in missing:
        if fix:
            path.write_text(withHeader(path.read_text(), header))
        else:
            print(f"{path}: no license header (see {HEADER_FILE})", file=sys.stderr)
    return 0 if fix or not missing else 1


if __name__ == "__main__":
    sys.exit(main())
