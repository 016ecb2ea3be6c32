"""The guarantee table in tests/README.md names, for each README promise and each path a user takes, the test
that proves it.  This keeps the table honest: no empty cell, every test it names exists, and the plain default
command line of every tool is one of its rows.

Why a test: a table that names a renamed or deleted test, or grows a row without a proof, is worse than none.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "tests" / "README.md"
TOOLS = ("livecd-creator", "image-creator", "appliance-creator", "livecd-iso-to-disk", "editliveos",
         "liveimage-mount", "livecd-iso-to-pxeboot")
_REF = re.compile(r"`(tests/[\w/]+\.py)::([\w]+)(?:::(\w+))?(?:\[[^\]`]*\])?`")


def _rows() -> tuple[list[str], list[list[str]]]:
    """The header and rows of the first table under '## Guarantees'."""
    text = TABLE.read_text()
    section = text.split("## Guarantees", 1)[1]
    lines = [ln.strip() for ln in section.splitlines()]
    start = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    table = []
    for ln in lines[start:]:
        if not ln.startswith("|"):
            break
        table.append([c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", ln.strip("|"))])
    header, _rule, *rows = table
    return header, rows


@functools.cache
def _defined(path: str) -> frozenset[str]:
    """Names of the test functions and classes (``Class::method`` too) defined in *path*."""
    tree = ast.parse((REPO / path).read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
            names.update(f"{node.name}::{m.name}" for m in node.body if isinstance(m, ast.FunctionDef))
    return frozenset(names)


def test_every_cell_is_filled_with_tests_that_exist() -> None:
    header, rows = _rows()
    assert len(header) >= 4
    problems = []
    for row in rows:
        assert len(row) == len(header), f"row has {len(row)} cells, header {len(header)}: {row}"
        for column, cell in zip(header[1:], row[1:]):
            if cell.startswith(("n/a:", "gap:")) and len(cell) > len("n/a: ") + 5:
                continue  # the promise does not apply to this path, or is not proven yet, and the cell says why
            refs = _REF.findall(cell)
            if not refs:
                problems.append(f"{row[0]} × {column}: no test named ({cell!r})")
            for path, name, method in refs:
                if not (REPO / path).is_file():
                    problems.append(f"{row[0]} × {column}: {path} does not exist")
                    continue
                wanted = f"{name}::{method}" if method else name
                if wanted not in _defined(path):
                    problems.append(f"{row[0]} × {column}: {path} defines no {wanted}")
    assert not problems, "\n".join(problems)


def test_the_plain_command_line_of_every_tool_is_a_row() -> None:
    _header, rows = _rows()
    firsts = [row[0] for row in rows]
    for tool in TOOLS:
        assert any(f.startswith(f"`{tool} ") and "(default)" in f for f in firsts), \
            f"no row for {tool}'s plain default command line (marked '(default)')"
