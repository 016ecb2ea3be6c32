"""Stopping a command with all it started, and waiting for one: the process side of :mod:`imgcreate.host.run`.

Kept apart from the runner because it is about processes, not command lines: finding a command's whole family
(its process group and every descendant, also one that made a session of its own), SIGTERM then SIGKILL after
:data:`STOP_GRACE`, and a wait that notices a command's end at once yet still lets a signal handler run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

from imgcreate.host import signals

log = logging.getLogger("imgcreate")


# Seconds a stopped command's processes get between SIGTERM and SIGKILL: enough for a tool to remove its partial
# output, short enough that an interrupt still feels immediate.
STOP_GRACE = 3.0


def _process_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state) of every process, from /proc/PID/stat."""
    table: dict[int, tuple[int, int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()  # after the command name, which may hold spaces
        table[int(entry)] = (int(fields[1]), int(fields[2]), fields[0].decode())
    return table


def _family(leader: int, group: bool, known: set[int] | None = None) -> set[int]:
    """The live (not zombie) processes of *leader*'s process group (with *group*) and every descendant of those,
    of *leader* and of *known*: what stopping a command must stop.  Never this process."""
    table = _process_table()
    alive = {pid for pid, (_, _, state) in table.items() if state not in ("Z", "X")}
    found = {pid for pid in alive if group and table[pid][1] == leader}
    found |= (known or set()) & alive
    if leader in alive and not group:  # with *group* it is found as a member (if it is still ours at all)
        found.add(leader)
    children: dict[int, list[int]] = {}
    for pid in alive:
        children.setdefault(table[pid][0], []).append(pid)
    todo = [*found, leader]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    found.discard(os.getpid())
    return found


def _signal_all(pids: set[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _terminate(leader: int, group: bool, grace: float | None, reap: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM to :func:`_family`, up to *grace* seconds (default :data:`STOP_GRACE`) for it to end, SIGKILL to
    what is left, and a moment for the kernel to finish those (a killed process still holds its files until it
    is gone).  *reap*: the leader, waited for on the way so that it stops counting."""
    targets = _family(leader, group)
    for sig, wait in ((signal.SIGTERM, STOP_GRACE if grace is None else grace), (signal.SIGKILL, 2.0)):
        _signal_all(targets, sig)
        deadline = time.monotonic() + wait
        while targets and time.monotonic() < deadline:
            time.sleep(0.02)
            if reap is not None:
                reap.poll()
            targets = _family(leader, group, targets)


def stop(proc: subprocess.Popen[bytes], *, group: bool = True, grace: float | None = None) -> None:
    """Stop *proc* and everything it started: SIGTERM to its process group (with *group*: it was started in a
    session of its own) and to all its descendants, up to *grace* seconds for them to end, then SIGKILL to what
    is left (*grace* default :data:`STOP_GRACE`); *proc* is reaped.  A second signal meanwhile is acted on once
    this is done."""
    with signals.deferred("stopping a command"):
        _terminate(proc.pid, group, grace, reap=proc)
        proc.wait()


def stop_leftovers(pgid: int, what: str, grace: float | None = None) -> None:
    """Stop what a finished command (started by :func:`run`, its session *pgid*) left running in its process
    group, warning about each process (e.g. ``sleep 600 &`` in a %post --nochroot script)."""
    try:
        os.killpg(pgid, 0)  # the usual case, nothing left, costs one system call
    except (ProcessLookupError, PermissionError):
        return
    with signals.deferred("stopping a command"):
        for pid in sorted(_family(pgid, True)):
            log.warning("stopping process %d (%s) left running by %s", pid, comm(pid), what)
        _terminate(pgid, True, grace)


def comm(pid: int) -> str:
    """The command name of *pid* ("?" once it is gone)."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


# How often a wait for a command looks up from it, so that a signal is acted on at once (see wait_for).
_WAKE = 0.1


def wait_for(proc: subprocess.Popen[Any], timeout: float | None = None,
             tick: Callable[[], None] | None = None) -> int:
    """Wait for *proc* to end (``subprocess.TimeoutExpired`` after *timeout* seconds), acting on a signal at once.

    Why not ``proc.wait()``: Python runs signal handlers in the main thread only, and the kernel may hand a
    signal sent to the process to another thread (our output readers); a main thread blocked in ``waitpid``
    then sleeps on until the command ends by itself, maybe an hour later (seen in CI: SIGTERM while a %post ran
    ``sleep`` was acted on 53 minutes late).  Waking every tenth of a second lets the handler run; *tick* is
    called at each wake (a progress meter reading how far the command got)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with _exit_watch(proc.pid) as ended:
        while True:
            step = _WAKE if deadline is None else min(_WAKE, max(deadline - time.monotonic(), 0.0))
            if ended is not None:
                select.select([ended], [], [], step)
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = proc.poll() if ended is not None else proc.wait(timeout=step)
                if code is not None:
                    return code
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(proc.args, timeout or 0.0)
            if tick is not None:
                tick()


@contextlib.contextmanager
def _exit_watch(pid: int) -> Iterator[int | None]:
    """A descriptor that becomes readable when *pid* ends (a pidfd, Linux 5.3+), or None on older kernels.

    Why: ``Popen.wait(timeout)`` polls with sleeps growing to 50 ms, so a command of 10 ms was noticed ~5 ms
    late, and a disk build runs sixty of them; select() on a pidfd wakes the moment the command ends."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)
