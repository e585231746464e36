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

"""Progress of long command-line runs, on stderr.

A `tqdm` bar when stderr is a terminal (and tqdm is installed); otherwise,
so logs of batch jobs stay readable, one line every few seconds, and a last
one on closing if the count moved since (short runs print nothing).
"""

from __future__ import annotations

__all__ = ["Progress"]

import sys
import time
from typing import TextIO


class Progress:
    """Count work done and show it on a stream.

    Parameters
    ----------
    description : `str`
        What is counted, e.g. ``"validate"``.
    total : `int`, optional
        Expected count, if known.
    unit : `str`
        Name of one item, e.g. ``"file"``.
    stream : `io.TextIOBase`, optional
        Where to show progress (default `sys.stderr`).
    interval : `float`
        Seconds between two lines when ``stream`` is not a terminal.
    """

    def __init__(
        self,
        description: str,
        total: int | None = None,
        unit: str = "it",
        stream: TextIO | None = None,
        interval: float = 5.0,
    ):
        self.description = description
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.count = 0
        self._shown = None  # count of the last line printed
        self._bar = None
        self._last = time.monotonic()
        if _isTerminal(self.stream):
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                # tqdm glues the unit to the count ("5alert"): give it " alerts".
                self._bar = tqdm(
                    total=total, desc=description, unit=f" {unit}s", file=self.stream, leave=False
                )

    def update(self, n: int = 1, note: str | None = None) -> None:
        """Count ``n`` more items; ``note`` is shown with the count."""
        self.count += n
        if self._bar is not None:
            self._bar.update(n)
            if note:
                self._bar.set_postfix_str(note, refresh=False)
            return
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._line(note)

    def close(self) -> None:
        """Remove the bar, or print the final count if earlier lines are out of date."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._shown is not None and self._shown != self.count:
            self._line(None)

    def _line(self, note: str | None) -> None:
        done = f"{self.count}/{self.total}" if self.total is not None else str(self.count)
        suffix = f" ({note})" if note else ""
        self._shown = self.count
        print(f"{self.description}: {done} {self.unit}s{suffix}", file=self.stream, flush=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _isTerminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
