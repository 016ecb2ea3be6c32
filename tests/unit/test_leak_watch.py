"""The leak check (``conftest.no_leaks``) looks for the tools' temporary folders by their prefixes
(``tests.support.TOOL_TEMP_PREFIXES``).  A new ``mkdtemp`` with a prefix of its own, in a folder the user did not
choose, would go unwatched: this test reads every temporary-folder call in imgcreate/ and fails until its prefix
is on the list (or the call is one of the few that make their folder inside a build directory or beside the
output, where the test's own folder checks see it)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import TOOL_TEMP_PREFIXES

IMGCREATE = Path(__file__).resolve().parents[2] / "imgcreate"
CALLS = {"mkdtemp", "mkstemp", "TemporaryDirectory", "NamedTemporaryFile", "temporary_directory"}
# Calls whose folder is never in /tmp or /var/tmp by default, and why (None: a prefix that is not a constant).
INSIDE = {
    ("upstreamhooks.py", None): "upstream's _mkdtemp/_mkstemp (the caller's prefix): inside the build directory",
    ("scripts.py", None): "a %pre/%post script file inside the build directory",
    ("incremental.py", None): "an entry written aside in the incremental cache, renamed into place",
    ("pxeboot.py", None): "the new tree staged beside the output folder, renamed into place",
}


def _calls() -> list[tuple[str, str | None, int]]:
    """(file, constant prefix or None for an f-string, line) of every temporary-file call in imgcreate/."""
    found: list[tuple[str, str | None, int]] = []
    for path in sorted(IMGCREATE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name not in CALLS:
                continue
            prefix_node = next((k.value for k in node.keywords if k.arg == "prefix"), None)
            if prefix_node is None and node.args:
                prefix_node = node.args[0]
            if isinstance(prefix_node, ast.Constant) and isinstance(prefix_node.value, str):
                found.append((path.name, prefix_node.value, node.lineno))
            else:
                found.append((path.name, None, node.lineno))
    return found


def test_every_temporary_folder_of_the_tools_is_watched() -> None:
    calls = _calls()
    assert len(calls) >= 10, "the scan finds the tools' temporary folders"
    for file, prefix, line in calls:
        if (file, prefix) in INSIDE:
            continue
        # signals.temporary_directory's own mkdtemp takes its callers' prefixes, which are checked at the callers.
        if file == "signals.py" and prefix is None:
            continue
        assert prefix is not None and prefix in TOOL_TEMP_PREFIXES, \
            f"imgcreate/{file}:{line}: temporary folder prefix {prefix!r} is not in tests.support.TOOL_TEMP_PREFIXES"
