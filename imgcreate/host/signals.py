"""Holding back SIGINT, SIGTERM and SIGHUP while a step must not be interrupted.

Why: rpm's Python bindings abort the whole process ("FATAL ERROR: python callback ??? failed, aborting!")
when a transaction callback raises, which is exactly what a signal handler that raises KeyboardInterrupt or
Interrupted does.  The process would die with everything still mounted.  libdnf's callbacks (its logger,
librepo's progress) turn such an exception into a garbled SWIG error.  So while dnf works (and while cleaning
up) a signal is only recorded, and delivered again, to the handler that was there before, once the step is
over.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

log = logging.getLogger("imgcreate")

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def deferred(what: str, which: tuple[int, ...] = SIGNALS) -> Iterator[None]:
    """Record the signals *which* (default SIGINT, SIGTERM, SIGHUP) during the block; re-deliver them after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        if not pending:
            log.warning("%s received: stopping once %s is done", signal.Signals(signum).name, what)
        pending.append(signum)

    old = {s: signal.signal(s, record) for s in which}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if pending:
            os.kill(os.getpid(), pending[0])


@contextlib.contextmanager
def temporary_directory(prefix: str, dir: str | os.PathLike[str] | None = None) -> Iterator[Path]:  # noqa: A002
    """A temporary folder removed however the block ends, as ``tempfile.TemporaryDirectory``, but one that a signal
    cannot leave behind: with TemporaryDirectory, a signal between its ``mkdtemp`` and the ``with`` leaves it."""
    path: Path | None = None
    try:
        with deferred("making a temporary folder"):
            path = Path(tempfile.mkdtemp(prefix=prefix, dir=dir))
        yield path
    finally:
        if path is not None:
            with deferred("removing a temporary folder"):
                shutil.rmtree(path, ignore_errors=True)
