"""A progress meter on the user's terminal for a long step that gives none of its own.

A disk image's last steps can take minutes on a real appliance: xz compressing gigabytes, hashing a 20 GiB disk
for ``--checksum``; a live ISO of gigabytes is written and then read again for its checksum.  Upstream shows a
text meter while it hashes a disk and lets xorriso print its own progress; a build that sits silent for minutes
looks hung.  The meter is one line, redrawn in place (``\\r``) at most four times a second once the step has run for a
second (a shorter step shows none), and only when the build's progress lines go to a terminal
(:func:`imgcreate.host.run.progress_on_terminal`): a log file or a pipe gets no meter.  For a command,
:func:`read_position` tells how far it has read its input file (the offset the kernel keeps for it in
``/proc/PID/fdinfo``), and :func:`watch_growing` how far its output has grown, so the meter needs nothing of the
tool.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from imgcreate.host.run import progress_on_terminal

_EVERY = 0.25  # seconds between two redraws
_DELAY = 1.0  # seconds a step runs before its meter shows: a step that ends sooner shows none


class Meter:
    """``TEXT:  42 % (1.2 GiB of 2.9 GiB)`` on *stream*, redrawn as :meth:`update` is told how far the step got."""

    def __init__(self, text: str, total: int, stream: TextIO | None = None) -> None:
        self.text = text
        self.total = max(total, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.shown = False
        self.broken = False
        self._drawn = -1
        self._last = time.monotonic() + _DELAY - _EVERY

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self._last < _EVERY:
            return
        self._last = now
        self._draw(min(done, self.total))

    def close(self, finished: bool = True) -> None:
        """End the meter's line, when it was shown at all: at 100 % when the step *finished* (a failed or
        interrupted one keeps how far it got)."""
        if self.shown:
            if finished and self._drawn != self.total:
                self._draw(self.total)
            self._write("\n")

    def _draw(self, done: int) -> None:
        self.shown = True
        self._drawn = done
        self._write(f"\r{self.text}: {100 * done // self.total:3d} % ({_size(done)} of {_size(self.total)})")

    def _write(self, text: str) -> None:
        """As logging does with its own lines: a terminal that went away (EIO, a closed pipe) ends the meter, not
        the build."""
        if self.broken:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.broken = True


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


@contextlib.contextmanager
def meter(text: str, total: int, show: bool | None = None) -> Iterator[Meter | None]:
    """A :class:`Meter` for a step of *total* bytes when *show* (None: when progress goes to a terminal), ended
    at 100 % when the step is; else None (nothing to tell, nothing to watch)."""
    if not (progress_on_terminal() if show is None else show):
        yield None
        return
    m = Meter(text, total)
    try:
        yield m
    except BaseException:
        m.close(finished=False)
        raise
    m.close()


def read_position(pid: int, path: Path) -> int | None:
    """How far process *pid* has read *path* (its file offset), or None when it has no such file open (not yet,
    or no longer, or the process is gone)."""
    fds = f"/proc/{pid}/fd"
    target = os.path.realpath(path)  # the kernel names the file by its real path
    with contextlib.suppress(OSError):
        for fd in os.listdir(fds):
            with contextlib.suppress(OSError):
                if os.readlink(f"{fds}/{fd}") == target:
                    for line in Path(f"/proc/{pid}/fdinfo/{fd}").read_text().splitlines():
                        if line.startswith("pos:"):
                            return int(line.split()[1])
    return None


def watch_reading(path: Path, m: Meter | None) -> Callable[[int], None] | None:
    """For :func:`imgcreate.host.run.run`'s *watch*: tells *m* how far the command has read *path* (None
    without a meter: nothing to watch)."""
    if m is None:
        return None
    meter_ = m

    def watch(pid: int) -> None:
        pos = read_position(pid, path)
        if pos is not None:
            meter_.update(pos)
    return watch


def watch_growing(path: Path, m: Meter | None) -> Callable[[int], None] | None:
    """For :func:`imgcreate.host.run.run`'s *watch*: tells *m* how far the file *path* the command writes has
    grown (None without a meter)."""
    if m is None:
        return None
    meter_ = m

    def watch(pid: int) -> None:
        with contextlib.suppress(OSError):
            meter_.update(os.stat(path).st_size)
    return watch
