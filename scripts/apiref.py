"""The API reference: the public modules rendered from their docstrings (pdoc), and each name's upstream status.

Why: issue 24 promises upstream's public API name for name; the reference shows a reader what each name is here
and how it stands against livecd-tools 31, in one table made from the same lists tests/unit/test_upstream_api.py
checks (tests/upstream_api/*.txt, read by tests/upstream_lists.py, whose docstring gives the notes' format):

* same: upstream's name, parameters and meaning (the default);
* extended: ours adds to it: extra trailing parameters with defaults (derived from the signature) or behaviour
  a list's ``# extended: what`` names;
* different: a list's ``# different: why`` (the README's differences table and the API file say more);
* ours: a public name of a public module (or a public member of an upstream class) that upstream lacks.

Usage: scripts/apiref [OUTDIR] (default build/apiref; never committed).  OUTDIR gets pdoc's pages
(index.html, imgcreate.html, imgcreate/<module>.html), upstream.html (the table, linked from every page) and
upstream.json (the same rows, for tests/unit/test_apiref.py); on the pages, each name of the table says its
status above its docstring.  Upstream's private hooks named in the lists (``_mount_instroot``, ...) are rendered
too: they are API for subclasses, as upstream's document says.  The library rendered is this checkout's.
"""

from __future__ import annotations

import argparse
import html
import importlib
import inspect
import json
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pdoc.doc  # noqa: E402
import pdoc.render  # noqa: E402

from tests.upstream_lists import Entry, entries  # noqa: E402

MODULES = ("imgcreate", "imgcreate.creator", "imgcreate.live", "imgcreate.kickstart", "imgcreate.fs",
           "imgcreate.util", "imgcreate.dnfinst", "imgcreate.debug", "imgcreate.errors")
STATUSES = ("same", "extended", "different", "ours", "missing")

# Upstream's private names in the lists (hooks, name-mangled helpers) are shown as public; each name in the table
# says its status above its docstring; every page's navigation ends with a link to the status table.
_TEMPLATE = """{% extends "default/module.html.jinja2" %}
{% macro is_public(doc) -%}
  {% if doc.fullname in upstream_names %}true{% else %}{{ default_is_public(doc) }}{% endif %}
{%- endmacro %}
{% macro docstring(var) -%}
  {% set status = upstream_status.get(var.fullname) %}
  {% if status %}
    <div class="upstream-status" style="font-size:90%;margin:.3em 0;{{ status_style[status[0]] }}">
      <a href="{{ "../" * module.modulename.count(".") }}upstream.html#{{ var.fullname }}">upstream: {{ status[0] }}</a>
      {%- if status[1] %}: {{ status[1] }}{% endif %}</div>
  {% endif %}
  {{ default_docstring(var) }}
{%- endmacro %}
{% block nav_footer %}
  <footer><a href="{{ "../" * module.modulename.count(".") }}upstream.html">Upstream status of every name</a></footer>
{% endblock %}
"""


_STYLE = {"same": "color:#555", "extended": "background:#eef6ff", "different": "background:#fde8e8",
          "ours": "color:#555", "missing": "background:#f88"}


@dataclass(frozen=True)
class Row:
    module: str
    name: str
    status: str
    why: str


def _resolve(module: str, name: str) -> tuple[bool, object]:
    obj: object = importlib.import_module(module)
    for part in name.split("."):
        if not hasattr(obj, part):
            return False, None
        obj = getattr(obj, part)
    return True, obj


def _added_parameters(entry: Entry, obj: object) -> list[str]:
    """Our parameters past upstream's: the ones a call written for upstream leaves at their defaults."""
    if entry.params is None or not callable(obj):
        return []
    try:
        ours = [p for p in inspect.signature(obj).parameters.values() if p.name not in ("self", "cls")]
    except (TypeError, ValueError):  # a builtin without a signature
        return []
    stars = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    return [stars.get(p.kind, "") + p.name for p in ours[len(entry.params):]]  # type: ignore[call-overload]


def status_of(entry: Entry) -> Row:
    """One list line's status: the note's if it gives one, else extended when ours adds parameters, else same."""
    if entry.status is not None:
        return Row(entry.module, entry.name, entry.status, entry.why)
    found, obj = _resolve(entry.module, entry.name)
    if not found and not entry.instance:
        return Row(entry.module, entry.name, "missing", "upstream has it, this library lacks it")
    added = _added_parameters(entry, obj) if found else []
    if added:
        return Row(entry.module, entry.name, "extended", "adds " + ", ".join(added))
    return Row(entry.module, entry.name, "same", "")


def _is_public(doc: pdoc.doc.Doc[Any], module: ModuleType) -> bool:
    """pdoc's default rule (its is_public macro), so that the table's "ours" are the names the pages show."""
    return doc.name in (getattr(module, "__all__", None) or []) or not doc.name.startswith("_")


def _public_home(module: str) -> str | None:
    """The public module a name defined in ``module`` belongs to: itself, or the package it is part of."""
    return next((m for m in MODULES if module == m or (m != "imgcreate" and module.startswith(m + "."))), None)


def _exposed(cls: type) -> bool:
    """Whether a public module's page shows the class (imgcreate.fs.LoopbackMount; not a mixin it imports)."""
    for name in MODULES:
        module = sys.modules.get(name)
        if getattr(module, cls.__name__, None) is not cls:
            continue
        names = getattr(module, "__all__", None)
        if cls.__name__ in names if names is not None else cls.__module__ == name:
            return True
    return False


def _classes_for_aliases(module_doc: pdoc.doc.Module) -> None:
    """A class a module also names otherwise (imgcreate.live: ``LiveImageCreatorBase = LiveImageCreator``, the
    machine's class as ``LiveImageCreator``) documented as a class under that name, not as a variable: upstream's
    names are those, and their members belong on the page."""
    for name, doc in list(module_doc.members.items()):
        value = getattr(doc, "default_value", None)
        if isinstance(doc, pdoc.doc.Variable) and isinstance(value, type) and value.__module__ == module_doc.modulename:
            module_doc.members[name] = pdoc.doc.Class(module_doc.modulename, name, value, (module_doc.modulename, name))


def _promote_mixin_members(cls_doc: pdoc.doc.Class) -> None:
    """Show the members a class has from the library's internal bases (mixins) as its own.

    pdoc lists inherited members only from documented modules, so upstream's hooks that ImageCreator has from a
    mixin in an internal module (imgcreate.build) would be on no page.  A member of a base that a public module
    shows (LoopbackMount's, for SparseLoopbackMount) stays that base's.  A class shown under another name
    (``LiveImageCreatorBase = LiveImageCreator``) gets its own members too: pdoc takes them for someone else's.
    """
    cls: type = cls_doc.obj
    own = list(cls_doc.own_members)
    for sub in cls_doc.members.values():
        owner = _defining_class(cls, sub.name)
        if sub in own or owner is None or (sub.name.startswith("__") and sub.name != "__init__"):
            continue
        if owner is cls or (owner.__module__.startswith("imgcreate") and not _exposed(owner)):
            own.append(sub)
    cls_doc.own_members = own  # a cached_property: the instance's value wins


def _defining_class(cls: type, name: str) -> type | None:
    return next((k for k in cls.__mro__ if name in vars(k)), None)


def _class_members(cls_doc: pdoc.doc.Class, upstream_classes: set[type], listed: set[str]) -> list[str]:
    """The public members ours adds to an upstream class, each counted once: where it is defined.

    A member defined in another upstream class is judged there; one defined here or in one of our own internal
    bases is upstream's if upstream lists it for this class or one of its bases.  Members defined outside the
    library (dnf.Base's, object's) and instance attributes are left out: the lists name only the instance
    attributes upstream's clients read, so an unlisted one proves nothing.
    """
    cls: type = cls_doc.obj
    found = []
    for sub in cls_doc.members.values():
        owner = _defining_class(cls, sub.name)
        if sub.name.startswith("_") or owner is None or not owner.__module__.startswith("imgcreate"):
            continue  # private, an instance attribute only, or not the library's
        homes = [k for k in cls.__mro__ if issubclass(k, owner) and (k in upstream_classes or _exposed(k))]
        if (homes[-1] if homes else cls) is not cls:
            continue  # judged at the first public class that has it (LoopImageCreator's, not each live one's)
        if not any(f"{k}.{sub.name}" in listed for k in (cls_doc.name, *(k.__name__ for k in cls.__mro__))):
            found.append(f"{cls_doc.name}.{sub.name}")
    return found


def ours(module_doc: pdoc.doc.Module, upstream: set[str], upstream_classes: set[type], listed: set[str]) -> list[Row]:
    """The module's public names that upstream lacks, and the public members ours adds to upstream's classes.

    A name another public module defines (``imgcreate.fs``'s errors, the top-level module's re-exports) is judged
    there.  The top-level module's own names are upstream's when any list has them (upstream's ``__init__``
    star-imports its modules).
    """
    rows = []
    name = module_doc.modulename
    for member in module_doc.members.values():
        home = _public_home(member.taken_from[0])
        if not _is_public(member, module_doc.obj) or (home is not None and home != name):
            continue
        if name == "imgcreate" and any(getattr(sys.modules[m], member.name, None) is member.obj for m in MODULES[1:]):
            continue  # a value re-exported from a public module (FSLABEL_MAXLEN): judged there
        if member.name not in upstream:
            rows.append(Row(name, member.name, "ours", ""))
        elif isinstance(member, pdoc.doc.Class) and name != "imgcreate":
            rows += [Row(name, n, "ours", "") for n in _class_members(member, upstream_classes, listed)]
    return rows


def _load(name: str) -> ModuleType:
    """The module, its lazily imported ``__all__`` names made real attributes (pdoc reads ``__dict__`` only).

    imgcreate.kickstart gives upstream's ``*Config`` classes through a module ``__getattr__`` (they live in a
    higher layer); this process only renders, so resolving them here changes nothing for anyone else.
    """
    module = importlib.import_module(name)
    for attr in getattr(module, "__all__", []):
        if attr not in vars(module) and hasattr(module, attr):
            setattr(module, attr, getattr(module, attr))
    return module


def table(rows: list[Row], pages: dict[str, str]) -> str:
    """upstream.html: one row per name, linked to its entry in the module's page where the page has one."""
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    out = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>imgcreate: upstream status</title>",
           "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
           "padding:2px 8px;text-align:left;vertical-align:top}.different{background:#fde8e8}.extended{background:"
           "#eef6ff}.ours{background:#f3f3f3}.missing{background:#f88}</style></head><body>",
           "<h1>imgcreate against livecd-tools 31, name by name</h1>",
           "<p>same: upstream's name, parameters and meaning; extended: ours adds parameters (with defaults, after "
           "upstream's) or behaviour; different: ours deliberately does something else (why: README.md's "
           "differences table and the API file say more); ours: not in upstream.  From tests/upstream_api/*.txt "
           "(scripts/apiref). <a href='index.html'>Modules</a></p>",
           "<p>" + ", ".join(f"{s}: {n}" for s, n in counts.items() if n) + "</p>",
           "<table><thead><tr><th>module</th><th>name</th><th>status</th><th>why</th></tr></thead><tbody>"]
    for r in rows:
        page = r.module.replace(".", "/") + ".html"
        name = html.escape(r.name)
        # the name's own entry, else its class's (an instance attribute has none of its own)
        anchor = next((a for a in (r.name, r.name.split(".")[0]) if f'id="{a}"' in pages.get(r.module, "")), None)
        if anchor is not None:
            name = f"<a href='{page}#{html.escape(anchor)}'>{name}</a>"
        out.append(f"<tr class='{r.status}' id='{html.escape(r.module)}.{html.escape(r.name)}'>"
                   f"<td>{html.escape(r.module)}</td><td>{name}</td><td>{r.status}</td><td>{html.escape(r.why)}</td></tr>")
    out.append("</tbody></table></body></html>")
    return "\n".join(out) + "\n"


def build(outdir: Path) -> list[Row]:
    listed = entries()
    upstream: dict[str, set[str]] = {m: {e.name for e in listed if e.module == m} for m in MODULES}
    # upstream's __init__ star-imports its modules: their top-level names are upstream's imgcreate.* too
    upstream["imgcreate"] = {e.name for e in listed if "." not in e.name}
    names = {f"{e.module}.{e.name}" for e in listed}
    modules = {name: pdoc.doc.Module(_load(name)) for name in MODULES}
    for module_doc in modules.values():
        _classes_for_aliases(module_doc)
        for member in module_doc.members.values():
            if isinstance(member, pdoc.doc.Class):
                _promote_mixin_members(member)
    rows = [status_of(e) for e in listed]
    resolved = (_resolve(e.module, e.name) for e in listed if "." not in e.name)
    upstream_classes = {obj for found, obj in resolved if found and isinstance(obj, type)}
    members = {e.name for e in listed if "." in e.name}
    for name, module_doc in modules.items():
        rows += ours(module_doc, upstream[name], upstream_classes, members)
    with tempfile.TemporaryDirectory() as templates:
        Path(templates, "module.html.jinja2").write_text(_TEMPLATE)
        # no "View Source" (the source is in the repository): highlighting it doubled the build's time
        pdoc.render.configure(docformat="restructuredtext", template_directory=Path(templates), show_source=False)
        pdoc.render.env.globals["upstream_names"] = names
        pdoc.render.env.globals["upstream_status"] = {f"{r.module}.{r.name}": (r.status, r.why) for r in rows}
        pdoc.render.env.globals["status_style"] = _STYLE
        if outdir.exists():
            shutil.rmtree(outdir)  # an earlier reference (main() checked)
        pages = {}
        for name, module_doc in modules.items():
            pages[name] = pdoc.render.html_module(module_doc, modules)
            page = outdir / f"{name.replace('.', '/')}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(pages[name])
        (outdir / "index.html").write_text(pdoc.render.html_index(modules))
        (outdir / "search.js").write_text(pdoc.render.search_index(modules))
    (outdir / "upstream.html").write_text(table(rows, pages))
    (outdir / "upstream.json").write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/apiref", description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", default=str(ROOT / "build" / "apiref"), type=Path,
                        help="where the reference goes (default: build/apiref); an earlier one there is replaced")
    opts = parser.parse_args(argv)
    out: Path = opts.outdir
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "upstream.json").exists())):
        print(f"scripts/apiref: {out} exists and is not an API reference this script made: not emptying it; "
              "give a new or empty folder", file=sys.stderr)
        return 2
    rows = build(out)
    for r in rows:
        if r.status == "missing":
            print(f"scripts/apiref: {r.module}.{r.name}: {r.why}", file=sys.stderr)
    counts = ", ".join(f"{s} {sum(r.status == s for r in rows)}" for s in STATUSES)
    print(f"scripts/apiref: {out}/upstream.html ({counts}); modules: {out}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
