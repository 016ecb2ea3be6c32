"""dnf's Python stack imported in the background while a build waits on its first commands.

Importing dnf, libdnf and their bindings takes 0.07-0.13 s, 5-8 % of a small disk image's whole build.  The
mount phase just before the install is spent waiting on losetup, mkfs and mount, the interpreter idle: a thread
imports the stack then, and the install's own ``import dnf`` finds it done (or waits on the module's import lock
for the rest, which is what the import system is for).

Only dnf's modules are imported there, none of ours: two threads importing modules that import each other can
deadlock on the import locks, and dnf does not import imgcreate.  The thread is not a daemon, so the interpreter
never stops it halfway through an import at exit (a build that fails in its first second waits at most for the
import to end).  A failure in the thread is left for the install's own import to raise, where it is reported.
"""

from __future__ import annotations

import importlib
import threading

_MODULES = ("dnf", "dnf.callback", "dnf.comps", "dnf.exceptions", "dnf.transaction", "libdnf.transaction")
_lock = threading.Lock()
_thread: threading.Thread | None = None


def start() -> None:
    """Import dnf's stack in a thread of its own, once per process (later calls do nothing)."""
    global _thread
    with _lock:
        if _thread is not None:
            return
        _thread = threading.Thread(target=_import_all, name="imgcreate-dnf-import")
        _thread.start()


def _import_all() -> None:
    for name in _MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # the install imports it again and reports what is wrong
            return
