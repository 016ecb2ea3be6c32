"""The API reference (scripts/apiref), built as CI builds it: every upstream name has its status, every page exists.

One build (a few seconds: pdoc renders the nine public modules) serves every check.  The statuses come from
tests/upstream_api/*.txt (tests/upstream_lists.py reads them): a name the lists give must be in the table with
"same", "extended" or "different", a "different" must say why, and the pages must show each upstream name the
library defines, so a reader of the reference finds what upstream's callers use.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from markupsafe import escape  # jinja's, as pdoc's pages escape

from tests.support import REPO_ROOT
from tests.upstream_lists import Entry, entries, read_list

PUBLIC_MODULES = ("imgcreate", "imgcreate.creator", "imgcreate.live", "imgcreate.kickstart", "imgcreate.fs",
                  "imgcreate.util", "imgcreate.dnfinst", "imgcreate.debug", "imgcreate.errors")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scripts/apiref run into a temporary folder, with this interpreter."""
    out = tmp_path_factory.mktemp("apiref") / "ref"
    proc = subprocess.run([str(REPO_ROOT / "scripts" / "apiref"), str(out)], capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable}, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.fixture(scope="module")
def rows(reference: Path) -> list[dict[str, str]]:
    data: list[dict[str, str]] = json.loads((reference / "upstream.json").read_text())
    return data


def _apiref() -> ModuleType:
    """scripts/apiref.py as a module, for its pure functions."""
    spec = importlib.util.spec_from_file_location("apiref", REPO_ROOT / "scripts" / "apiref.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["apiref"] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def test_every_upstream_name_has_its_status(rows: list[dict[str, str]]) -> None:
    table = {(r["module"], r["name"]): r for r in rows}
    listed = entries()
    assert listed
    for e in listed:
        row = table.get((e.module, e.name))
        assert row is not None, f"{e.id}: in tests/upstream_api/{e.module}.txt, not in the reference's table"
        assert row["status"] in ("same", "extended", "different"), f"{e.id}: {row['status']}: {row['why']}"
        if e.status is not None:
            assert (row["status"], row["why"]) == (e.status, e.why), e.id
    for r in rows:
        if r["status"] in ("different", "extended"):
            assert r["why"].strip(), f"{r['module']}.{r['name']}: {r['status']} without a why"
    # our own public names are there too, and no upstream name is taken for ours
    ours = {(r["module"], r["name"]) for r in rows if r["status"] == "ours"}
    assert ("imgcreate.kickstart", "read_config") in ours
    assert ("imgcreate.errors", "PackageError") in ours
    assert not ours & {(e.module, e.name) for e in listed}


def test_the_pages_exist_and_show_upstream_names(reference: Path, rows: list[dict[str, str]]) -> None:
    for name in PUBLIC_MODULES:
        page = reference / (name.replace(".", "/") + ".html")
        assert page.is_file(), f"{name}: no page"
        text = page.read_text()
        doc = (importlib.import_module(name).__doc__ or "").strip().splitlines()
        assert doc and doc[0].split()[0] in text, f"{name}: the page lacks the module's docstring"
        assert "upstream.html" in text, f"{name}: the page does not link to the status table"
    assert (reference / "index.html").is_file()
    table = (reference / "upstream.html").read_text()
    assert table.count("<tr class=") == len(rows)
    for e in entries():
        obj = _defined_here(e)
        if obj is not None:  # what the library defines (not a module, not dnf.Base's own) has an entry
            html = (reference / (e.module.replace(".", "/") + ".html")).read_text()
            assert f'id="{e.name}"' in html, f"{e.id}: not rendered (a private hook must be too: it is API)"
            if e.status == "different":  # and the page says so where it shows the name
                assert f'upstream.html#{e.id}">upstream: different</a>: {escape(e.why)}' in html, e.id


def _defined_here(e: Entry) -> Any:
    """The listed object if the library defines it and it is not an instance attribute, else None."""
    if e.instance:
        return None
    obj: Any = importlib.import_module(e.module)
    for part in e.name.split("."):
        obj = getattr(obj, part)
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        return None
    return obj if getattr(obj, "__module__", "").startswith("imgcreate") else None


def test_extended_is_derived_from_the_signature() -> None:
    """Extra trailing parameters with defaults make a name "extended" without a note; a note's status wins."""
    apiref = _apiref()
    extended = apiref.status_of(Entry("imgcreate.kickstart", "read_kickstart", ("path",), False))
    assert (extended.status, extended.why) == ("extended", "adds version")
    same = apiref.status_of(Entry("imgcreate.kickstart", "read_kickstart", ("path", "version="), False))
    assert same.status == "same"
    noted = apiref.status_of(Entry("imgcreate.util", "call", ("*popenargs", "**kwargs"), False, "different", "why"))
    assert (noted.status, noted.why) == ("different", "why")
    missing = apiref.status_of(Entry("imgcreate.fs", "NoSuchThing", None, False))
    assert missing.status == "missing"


def test_a_status_note_needs_its_why(tmp_path: Path) -> None:
    lists = tmp_path / "imgcreate.x.txt"
    lists.write_text("f(a)  # instance; different: it writes keyfiles\ng(b)  # a comment\n")
    f, g = read_list(lists)
    assert (f.instance, f.status, f.why) == (True, "different", "it writes keyfiles")
    assert (g.instance, g.status, g.why) == (False, None, "")
    lists.write_text("f(a)  # different\n")
    with pytest.raises(ValueError, match="line 1: 'different' needs a reason"):
        read_list(lists)


def test_a_folder_it_did_not_make_is_left_alone(tmp_path: Path) -> None:
    """The output folder is replaced on the next run, so a folder holding anything else is refused, untouched."""
    (tmp_path / "precious").write_text("mine")
    assert _apiref().main([str(tmp_path)]) == 2
    assert (tmp_path / "precious").read_text() == "mine"
