"""The command runner's process groups (imgcreate/host/run.py): stopping a command stops everything it started, and a
host command's leftovers are stopped when it ends.  Real processes (sh and sleep), no root needed."""

from __future__ import annotations

import logging
import signal
import subprocess

import pytest

from imgcreate.errors import Interrupted
from imgcreate.host import run
from tests.support import alive, running


def test_a_timeout_stops_the_command_and_its_background_child() -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        run.run(["sh", "-c", "sleep 3301 & sleep 3302"], timeout=0.5)
    assert running("sleep", "3301") == running("sleep", "3302") == []


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "STOP_GRACE", 0.3)
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
