"""Fault injection for the cleanup tests: run one of our tools with a build that fails at a known point.

    python -m tests.faults TOOL PHASE:WHEN:KIND [TOOL ARGS...]

WHEN is ``start`` or ``end`` of the phase (mount, install, configure, post, configure-final, unmount, package,
squashfs, iso, checksum); KIND is ``exception`` (a CreatorError) or a signal name (SIGINT, SIGTERM, SIGHUP) sent
to the build's own process.  It installs a phase hook (``imgcreate.build.phases.PHASE_HOOKS``) and runs the tool's
own main(): nothing of this is in the library.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from imgcreate.build.phases import PHASE_HOOKS, PhaseHook
from imgcreate.cli import appliance, creators
from imgcreate.errors import CreatorError

log = logging.getLogger("imgcreate")


def fault(spec: str) -> PhaseHook:
    """A phase hook that raises or signals at ``PHASE:WHEN``, as *spec* (``PHASE:WHEN:KIND``) says."""
    phase, when, kind = spec.split(":")

    def hook(name: str, moment: str) -> None:
        if (name, moment) != (phase, when):
            return
        log.warning("injecting a fault (%s) at the %s of phase %s", kind, when, phase)
        if kind == "exception":
            raise CreatorError(f"Injected fault at the {when} of phase {phase}.")
        os.kill(os.getpid(), getattr(signal, kind))
        time.sleep(1)  # the tool's signal handler raises here

    return hook


def main(argv: Sequence[str]) -> int:
    tool, spec, *args = argv
    PHASE_HOOKS.append(fault(spec))
    if tool == "appliance-creator":
        return appliance.main(args)
    return creators.main(args, live=tool == "livecd-creator")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


# ---- a host tool that stalls or fails in one step -----------------------------------------------------------

WRAPPER = """#!/bin/sh
# tests/faults.py: {tool} stalls or fails when its arguments hold {match!r}; otherwise it is the real one
case " $* " in
  *{match_sh}*)
    {before}
    : > {marker}
    {action}
    ;;
esac
exec {real} "$@"
"""


def wrap_host_tool(bindir: Path, tool: str, match: str, mode: str, stall: int = 0) -> Path:
    """Put a wrapper named *tool* in *bindir* (to be first on the tool's PATH: the library finds every host tool
    on PATH, imgcreate.host.run.find_tool) that, when its arguments hold *match*, either stalls or fails: this lands
    an interrupt or a failure in one step of a tool, the step an option selects.  Returns the marker file made
    once the step is reached.

    *mode*: ``stall-after`` runs the real tool (its output is written) and then sleeps *stall* seconds (a
    unique number, so the test can see the sleep is gone); ``stall-before`` sleeps 2 seconds before running it
    (for a step that holds signals until it is done, as mounting does: imgcreate.host.signals.deferred);
    ``fail-after`` runs the real tool and then fails with "injected failure of TOOL"; ``fail-before`` fails
    without running it (for mount, whose success cannot be undone by its caller it does not know of).
    """
    real = shutil.which(tool)
    assert real is not None, f"{tool} is not installed"
    bindir.mkdir(parents=True, exist_ok=True)
    marker = bindir / f"{tool}.reached"
    run_real = f'{shlex.quote(real)} "$@" || exit $?'
    fail = f'echo "injected failure of {tool}" >&2; exit 3'
    before, action = {
        "stall-after": (run_real, f"exec sleep {stall}"),
        "stall-before": (":", "sleep 2"),
        "fail-after": (run_real, fail),
        "fail-before": (":", fail),
    }[mode]
    wrapper = bindir / tool
    wrapper.write_text(WRAPPER.format(tool=tool, match=match, match_sh=shlex.quote(match), before=before,
                                      marker=shlex.quote(str(marker)), action=action, real=shlex.quote(real)))
    wrapper.chmod(0o755)
    return marker
