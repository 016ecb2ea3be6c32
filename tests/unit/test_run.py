"""The command runner's process groups (imgcreate/host/run.py): stopping a command stops everything it started, and a
host command's leftovers are stopped when it ends.  Real processes (sh and sleep), no root needed."""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from imgcreate.errors import Interrupted
from imgcreate.host import processes, run
from tests.support import alive, running


def test_a_timeout_stops_the_command_and_its_background_child() -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        run.run(["sh", "-c", "sleep 3301 & sleep 3302"], timeout=0.5)
    assert running("sleep", "3301") == running("sleep", "3302") == []


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes, "STOP_GRACE", 0.3)
    with pytest.raises(subprocess.TimeoutExpired):
        run.run(["sh", "-c", "trap '' TERM; sleep 3303 & sleep 3304"], timeout=0.3)
    assert running("sleep", "3303") == running("sleep", "3304") == []


def test_an_interrupt_stops_a_child_that_left_the_group() -> None:
    """A descendant that made a session of its own (setsid) is still found through its parent."""
    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted("Stopped by SIGALRM")

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(Interrupted):
            run.run(["sh", "-c", "setsid sleep 3305 & sleep 3306"])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert running("sleep", "3305") == running("sleep", "3306") == []


def test_what_a_host_command_leaves_running_is_stopped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="imgcreate"):
        out = run.run(["sh", "-c", "sleep 3307 & echo $!"], what="the test script")
    child = int(out.stdout.split()[-1])
    assert not alive(child)
    assert f"stopping process {child} (" in caplog.text and "left running by the test script" in caplog.text


# -- a signal is acted on at once, whichever thread the kernel gives it to, whatever mask we inherit -------------

# A tool's life in miniature: the tools' signal handling (guarded), a command whose output is streamed by a reader
# thread, and a wait for it.  It says "ready" through the reader once the command runs.
_TOOL = """
import logging, sys
from imgcreate.cli.creators import guarded
from imgcreate.debug import PROGRESS
from imgcreate.host.run import run
logging.basicConfig(level=PROGRESS, stream=sys.stderr, format="%(message)s")
sys.exit(guarded("mini", lambda: run(["sh", "-c", "echo ready; sleep " + sys.argv[1]], stream=True).returncode))
"""


def _start_tool(sleep: str, preexec: Callable[[], object] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", _TOOL, sleep], stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=preexec)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.strip() == "ready":
            return proc
    raise AssertionError(f"the tool ended ({proc.wait()}) before its command ran")


def _tgkill(pid: int, tid: int, sig: int) -> None:
    """A signal to one thread of another process (Python's pthread_kill only reaches its own threads)."""
    number = {"x86_64": 234, "aarch64": 131}[platform.machine()]
    assert ctypes.CDLL(None, use_errno=True).syscall(number, pid, tid, sig) == 0


def test_sigterm_taken_by_a_reader_thread_stops_the_command_at_once() -> None:
    """The kernel may deliver a signal sent to the process to any thread that does not block it; Python acts on it
    only in the main thread.  Here it goes to the thread that reads the command's output, as it did in CI, where
    the wait then lasted as long as the command's ``sleep`` (53 minutes)."""
    proc = _start_tool("3311")
    threads = [int(t) for t in os.listdir(f"/proc/{proc.pid}/task") if int(t) != proc.pid]
    assert threads, "the output reader runs in a thread of its own"
    _tgkill(proc.pid, threads[0], signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Stopped by SIGTERM; everything was cleaned up" in err
    assert running("sleep", "3311") == []


def test_sigterm_blocked_by_the_parent_still_stops_the_tool() -> None:
    """A runner that blocks SIGTERM (to read it from a signalfd) passes the blocked mask on through exec; the
    tools unblock the signals they handle, or SIGTERM would wait for the build to end."""
    proc = _start_tool("3312", lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert running("sleep", "3312") == []
