"""A build's phases: the ``== install`` lines of the log, how long each took, hooks around each, and whether
``--tmpdir`` was full when one failed (the tools that fill it report that in many different ways)."""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from imgcreate.debug import PROGRESS

log = logging.getLogger("imgcreate")

FULL_DISK_FREE = 8 * 1024 * 1024  # bytes: less free in --tmpdir after a failure means it filled up

PhaseHook = Callable[[str, str], None]
PHASE_HOOKS: list[PhaseHook] = []
"""Called as ``hook(phase, "start"|"end")`` around every phase of every build in this process.

For tools that watch or test builds: the test suite's fault injection (tests/faults.py) fails a real build at
a known point this way.  Empty in normal use.
"""


@dataclass
class Phases:
    """The phases of one build.  *tmpdir*: where its build directory is (asked when a phase fails)."""

    tmpdir: Callable[[], Path]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase, summed over repeats
    full_disk: str | None = None  # --tmpdir, when a phase failed while it was full

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        log.log(PROGRESS, "== %s", name)
        start = time.monotonic()
        try:
            for hook in PHASE_HOOKS:
                hook(name, "start")
            yield
            for hook in PHASE_HOOKS:
                hook(name, "end")
        except BaseException:
            self._note_full_disk()
            raise
        finally:
            took = time.monotonic() - start
            self.timings[name] = self.timings.get(name, 0.0) + took
            log.info("== %s took %.1f s", name, took)

    def _note_full_disk(self) -> None:
        with contextlib.suppress(OSError):
            tmpdir = self.tmpdir()
            if self.full_disk is None and shutil.disk_usage(tmpdir).free < FULL_DISK_FREE:
                self.full_disk = str(tmpdir)
