"""Upstream's public API, name for name: what a creator written against livecd-tools 31 may use exists here.

The lists live in ``tests/upstream_api/<module>.txt``, one file per upstream module (``imgcreate.fs.txt`` for
``imgcreate/fs.py`` of livecd-tools/livecd-tools), taken from upstream's sources by reading them.  Each line names
one public name, optionally with upstream's parameter list::

    makedirs(dirname)
    class LoopbackMount
    LoopbackMount.__init__(self, lofile, mountdir, fstype=None)
    LoopbackMount.mountdir            # an attribute an instance has (checked by the test clients, not here)

A name with a parameter list must be callable here with upstream's parameters in upstream's order: the same
names, the same ones required; ours may add parameters only at the end, with defaults.  A name without one must
exist (as a class, function or class attribute).  Lines ending in ``# instance`` name instance attributes, which
only a built object has: they are listed for the count and checked by the clients' tests.  A note may also give
the name's status, ``# different: why`` (or ``# extended: what``), which the API reference shows
(scripts/apiref); tests/upstream_lists.py reads the lists and says the note's format in full.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

from tests.upstream_lists import LISTS, Entry, entries


def _resolve(entry: Entry) -> object:
    obj: object = importlib.import_module(entry.module)
    for part in entry.name.split("."):
        assert hasattr(obj, part), f"{entry.id}: upstream has it, this library lacks {part!r}"
        obj = getattr(obj, part)
    return obj


def _ours(obj: object) -> list[inspect.Parameter]:
    sig = inspect.signature(obj)  # type: ignore[arg-type]
    return [p for p in sig.parameters.values() if p.name not in ("self", "cls")]


_ENTRIES = entries()


@pytest.mark.parametrize("entry", [e for e in _ENTRIES if not e.instance], ids=lambda e: e.id)
def test_upstream_name_exists_with_its_parameters(entry: Entry) -> None:
    obj = _resolve(entry)
    if entry.params is None:
        return
    ours = _ours(obj)
    theirs = entry.params
    for i, want in enumerate(theirs):
        name = want.rstrip("=").lstrip("*")
        assert i < len(ours), f"{entry.id}: lacks upstream's parameter {name!r} (position {i})"
        have = ours[i]
        if want.startswith("**"):
            assert have.kind is inspect.Parameter.VAR_KEYWORD, f"{entry.id}: parameter {i} should be **{name}"
            continue
        if want.startswith("*"):
            assert have.kind is inspect.Parameter.VAR_POSITIONAL, f"{entry.id}: parameter {i} should be *{name}"
            continue
        assert have.name == name, f"{entry.id}: parameter {i} is {have.name!r}, upstream's is {name!r}"
        if want.endswith("="):
            assert have.default is not inspect.Parameter.empty, f"{entry.id}: {name!r} needs a default"
    for extra in ours[len(theirs):]:
        assert (extra.default is not inspect.Parameter.empty
                or extra.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)), (
            f"{entry.id}: our extra parameter {extra.name!r} must have a default (upstream's callers omit it)")


def test_the_lists_are_read() -> None:
    """A list file that parses to nothing (a format slip) would make the whole check pass silently."""
    assert LISTS.is_dir()
    for path in LISTS.glob("*.txt"):
        assert any(e.module == path.stem for e in _ENTRIES), f"{path.name} names nothing"
