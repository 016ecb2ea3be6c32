"""tests/option_table.py lists every documented option of every tool with the tests that check its effect.

Why a test: an option added to a parser (and so to --help and the man page) without a test of what it does is
how options came to be accepted and ignored; a row naming a renamed test proves nothing.  No root, no build:
the parsers and the test files' syntax trees only.
"""

from __future__ import annotations

import argparse
import ast
import functools
import re
from pathlib import Path

from imgcreate.cli import appliance, creators, isotodisk, mkbiarch, toolbox
from tests.option_table import FULL_RUN_ONLY, OPTIONS

REPO = Path(__file__).resolve().parents[2]
_REF = re.compile(r"(tests/[\w/]+\.py)::(\w+)(?:\[(.+)\])?$")

PARSERS = {
    "livecd-creator": lambda: creators.build_parser(True),
    "image-creator": lambda: creators.build_parser(False),
    "appliance-creator": appliance.appliance_parser,
    "editliveos": toolbox.editliveos_parser,
    "livecd-iso-to-disk": isotodisk.iso_to_disk_parser,
    "liveimage-mount": toolbox.liveimage_mount_parser,
    "livecd-iso-to-pxeboot": toolbox.pxeboot_parser,
    "mkbiarch": mkbiarch.mkbiarch_parser,
}


def key(action: argparse.Action) -> str:
    """An option's row: its first long name, or a positional's metavar (its dest without one)."""
    longs = [o for o in action.option_strings if o.startswith("--")]
    return longs[0] if longs else str(action.metavar or action.dest)


def documented(tool: str) -> set[str]:
    return {key(a) for a in PARSERS[tool]()._actions}


@functools.cache
def _tree(path: str) -> ast.Module:
    return ast.parse((REPO / path).read_text())


@functools.cache
def _functions(path: str) -> frozenset[str]:
    return frozenset(n.name for n in _tree(path).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))


@functools.cache
def _effect_keys(path: str) -> frozenset[str] | None:
    """The string keys of the module's EFFECTS/OPTION_EFFECTS dict literal (None: it has none)."""
    for node in _tree(path).body:
        target: ast.expr
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign):
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id.endswith("EFFECTS") and isinstance(value, ast.Dict):
            return frozenset(str(k.value) for k in value.keys if isinstance(k, ast.Constant))
    return None


def test_every_option_of_every_tool_has_a_row() -> None:
    assert set(OPTIONS) == set(PARSERS)
    missing = [f"{tool} {opt}" for tool in PARSERS for opt in sorted(documented(tool) - set(OPTIONS[tool]))]
    assert not missing, f"options without a row in tests/option_table.py: {missing}"


def test_no_row_for_an_option_that_is_gone() -> None:
    stale = [f"{tool} {opt}" for tool in PARSERS for opt in sorted(set(OPTIONS[tool]) - documented(tool))]
    assert not stale, f"rows for options the parsers no longer have: {stale}"
    for tool, options in FULL_RUN_ONLY.items():
        assert options <= set(OPTIONS[tool]), tool


def test_every_row_names_tests_that_exist() -> None:
    problems = []
    for tool, rows in OPTIONS.items():
        for option, refs in rows.items():
            if not refs:
                problems.append(f"{tool} {option}: no test")
            for ref in refs:
                match = _REF.match(ref)
                if match is None:
                    problems.append(f"{tool} {option}: not a test id: {ref}")
                    continue
                path, function, param = match.groups()
                if not (REPO / path).is_file() or function not in _functions(path):
                    problems.append(f"{tool} {option}: no such test: {ref}")
                    continue
                keys = _effect_keys(path)
                if param is not None and keys is not None and param not in keys:
                    problems.append(f"{tool} {option}: {path} has no effect check {param!r}")
    assert not problems, "\n".join(problems)


def test_every_effect_check_is_in_the_table() -> None:
    """The other way round: an effect check no row names is a check of nothing documented (or a typo)."""
    named = {ref for rows in OPTIONS.values() for refs in rows.values() for ref in refs}
    for path in ("tests/integration/test_upstream_options.py", "tests/integration/test_tool_options.py"):
        keys = _effect_keys(path)
        assert keys, path
        unnamed = sorted(k for k in keys if f"{path}::test_option_effect[{k}]" not in named)
        assert not unnamed, f"{path}: effect checks no row names: {unnamed}"


@functools.cache
def _full_only(path: str) -> frozenset[str]:
    """The test functions of *path* that only LIVECD_TOOLS_FULL=1 runs (marked slow or full)."""
    found = set()
    for node in _tree(path).body:
        if isinstance(node, ast.FunctionDef):
            marks = {d.attr for dec in node.decorator_list for d in ast.walk(dec) if isinstance(d, ast.Attribute)}
            if marks & {"slow", "full"}:
                found.add(node.name)
    return frozenset(found)


def test_full_run_only_is_said() -> None:
    """A row whose every test is slow or full is listed in FULL_RUN_ONLY, and only such a row."""
    for tool, rows in OPTIONS.items():
        for option, refs in rows.items():
            matches = [_REF.match(r) for r in refs]
            full = all(m is not None and m.group(2) in _full_only(m.group(1)) for m in matches)
            assert full == (option in FULL_RUN_ONLY.get(tool, frozenset())), f"{tool} {option}"
