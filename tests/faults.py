"""Fault injection for the cleanup tests: run one of our tools with a build that fails at a known point.

    python -m tests.faults TOOL PHASE:WHEN:KIND [TOOL ARGS...]

WHEN is ``start`` or ``end`` of the phase (mount, install, configure, post, configure-final, unmount, package,
squashfs, iso, checksum); KIND is ``exception`` (a CreatorError) or a signal name (SIGINT, SIGTERM, SIGHUP) sent
to the build's own process.  It installs a phase hook (``imgcreate.creator.PHASE_HOOKS``) and runs the tool's
own main(): nothing of this is in the library.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Sequence

from imgcreate.cli import appliance, creators
from imgcreate.creator import PHASE_HOOKS, PhaseHook
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
