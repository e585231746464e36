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

"""Check the package's room sizes: no module over 1,000 lines, no function over 60 code lines.

Code lines exclude blank lines, comments and docstrings; the signature counts.
Tests are not checked. Run from the repository root: ``python .ci/checkSizes.py``.
"""

import ast
import io
import sys
import tokenize
from pathlib import Path

MAX_MODULE_LINES = 1000
MAX_FUNCTION_CODE_LINES = 60


def codeLines(source: str) -> set[int]:
    """Line numbers holding code (not blank, not only a comment)."""
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (
            tokenize.COMMENT,
            tokenize.NL,
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
        ):
            lines.update(range(token.start[0], token.end[0] + 1))
    return lines


def docstringLines(tree: ast.AST) -> set[int]:
    """Line numbers of every docstring in ``tree``."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def problems(path: Path) -> list[str]:
    """What in ``path`` is over a limit."""
    source = path.read_text()
    found = []
    if source.count("\n") > MAX_MODULE_LINES:
        found.append(f"{path}: {source.count(chr(10))} lines (limit {MAX_MODULE_LINES})")
    tree = ast.parse(source)
    code = codeLines(source) - docstringLines(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            n = len([i for i in code if node.lineno <= i <= node.end_lineno])
            if n > MAX_FUNCTION_CODE_LINES:
                found.append(
                    f"{path}:{node.lineno}: {node.name} has {n} code lines (limit {MAX_FUNCTION_CODE_LINES})"
                )
    return found


def main() -> int:
    found = [p for path in sorted(Path("python").rglob("*.py")) for p in problems(path)]
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
