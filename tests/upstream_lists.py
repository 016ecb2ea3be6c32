"""Upstream's public API as lists, one file per upstream module: the reader, shared by the check and the reference.

The lists live in ``tests/upstream_api/<module>.txt``, one file per upstream module (``imgcreate.fs.txt`` for
``imgcreate/fs.py`` of livecd-tools/livecd-tools), taken from upstream's sources by reading them.  Each line names
one public name, optionally with upstream's parameter list, optionally with a note after ``#``::

    makedirs(dirname)
    class LoopbackMount
    LoopbackMount.__init__(self, lofile, mountdir, fstype=None)
    LoopbackMount.mountdir            # instance
    checkfsblksz(fstype, size)        # different: warns in the log where upstream waited for Enter
    LiveImageMount.liveosdir          # instance; different: why, in one line

A note is a ``;``-separated list of items.  ``instance`` marks an instance attribute (only a built object has it:
listed for the count, checked by the test clients).  The name's status against upstream (see scripts/apiref.py,
which renders it in the API reference) is "same" unless an item says otherwise:

* ``different: why``: ours keeps the name and parameters but deliberately does something else; the why is one
  line for a reader of the reference (the README's differences table and the API file have the details).
* ``extended: what``: ours adds behaviour upstream's callers do not see unless they ask for it.  Extra trailing
  parameters with defaults need no note: the reference derives "extended" from the signature.

Other text in a note is a comment.  Lines starting with ``#`` are comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

LISTS = Path(__file__).resolve().parent / "upstream_api"
STATUSES = ("same", "extended", "different")
_LINE = re.compile(r"^(?:class\s+)?(?P<name>[A-Za-z_][\w.]*)\s*(?:\((?P<params>[^#]*)\))?\s*(?:#\s*(?P<note>.*))?$")
_STATUS = re.compile(r"^(?P<status>same|extended|different)\b\s*(?::\s*(?P<why>.*))?$")


@dataclass(frozen=True)
class Entry:
    """One line of a list: upstream's name in ``module``, its parameters, and what the note says of it."""

    module: str
    name: str
    params: tuple[str, ...] | None  # None: not a callable's signature, only the name
    instance: bool  # an instance attribute: counted, not checked here
    status: str | None = None  # "different" or "extended" when the note says so; None: same or derived
    why: str = ""

    @property
    def id(self) -> str:
        return f"{self.module}.{self.name}"


def params(text: str) -> tuple[str, ...]:
    """``self, a, b=None, *args, **kw`` -> ("a", "b=", "*args", "**kw"): names, ``=`` where a default is."""
    out = []
    for raw in (p.strip() for p in text.split(",")):
        if not raw or raw == "self" or raw == "cls":
            continue
        name = raw.split("=", 1)[0].strip()
        out.append(name + ("=" if "=" in raw else ""))
    return tuple(out)


def _note(where: str, note: str) -> tuple[bool, str | None, str]:
    """A note's items -> (instance, status, why); a status word without its why is an error, not a comment."""
    instance, status, why = False, None, ""
    for item in (i.strip() for i in note.split(";")):
        if item.startswith("instance"):
            instance = True
            continue
        m = _STATUS.match(item)
        if not m:
            continue  # a comment
        if status is not None:
            raise ValueError(f"{where}: two statuses in one note ({status!r}, {m.group('status')!r})")
        status, why = m.group("status"), (m.group("why") or "").strip()
        if status != "same" and not why:
            raise ValueError(f"{where}: '{status}' needs a reason after a colon ('# {status}: why')")
    return instance, (None if status == "same" else status), why


def read_list(path: Path) -> list[Entry]:
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            raise ValueError(f"{path.name}, line {number}: cannot read {line!r}")
        instance, status, why = _note(f"{path.name}, line {number}", m.group("note") or "")
        text = m.group("params")
        found.append(Entry(path.stem, m.group("name"), None if text is None else params(text), instance, status, why))
    return found


def entries(lists: Path = LISTS) -> list[Entry]:
    """Every list's entries, module by module (sorted by file name), each in its list's order."""
    return [e for path in sorted(lists.glob("*.txt")) for e in read_list(path)]
