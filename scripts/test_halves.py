"""The default test run as two pytest processes at once: the QEMU boots (and the tests of the disks they boot) in
one, everything else in the other; tests/conftest.py's ``in_boot_half`` sorts the tests (``LIVECD_TESTS_HALF``).

Why: a boot under QEMU's TCG keeps one core busy for a minute while the build tests wait on dnf, mkfs and loop
devices; on CI's two cores the halves overlap and the run takes the longer half's time, not the sum (issue 23: CI
under 30 minutes).  Why it is safe: each half's leak checks see only its own things.  The boot half gets a
temporary folder of its own (``TMPDIR``) and does not watch ``/var/tmp`` (``LIVECD_TESTS_HALF=boot``, read by
tests/support.py), where the other half's default-path builds work; each half's pytest folder is its own.

Output: each line says which half printed it.  Ctrl-C or SIGTERM stops both halves the way Ctrl-C stops one
(pytest unwinds, the tests' cleanup runs).  The exit status is the first non-zero one of the two, else 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]


def _own_group() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a runner started in the background has it ignored
    os.setpgid(0, 0)


def _pump(name: str, stream: IO[str]) -> None:
    for line in stream:
        sys.stdout.write(f"[{name}] {line}")
        sys.stdout.flush()


def _start(name: str, argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], threading.Thread]:
    """One half, its output copied line by line with its name in front.

    In a process group of its own, so that a stop reaches the tools its tests run as Ctrl-C in a terminal would:
    pytest gives a tool it waits for only a quarter of a second before killing it, too little to unmount what it
    built, unless the tool got the signal too."""
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", preexec_fn=_own_group)
    assert proc.stdout is not None
    pump = threading.Thread(target=_pump, args=(name, proc.stdout), daemon=True)
    pump.start()
    return proc, pump


def _wait(proc: subprocess.Popen[str]) -> int:
    while True:
        try:
            return proc.wait(timeout=0.5)  # a timeout: the signal handlers run while we wait
        except subprocess.TimeoutExpired:
            continue


def main(extra: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest", *extra]
    boot_tmp = Path(tempfile.gettempdir()) / "livecd-tests-boot-half"  # kept, as pytest keeps its folders
    boot_tmp.mkdir(mode=0o700, exist_ok=True)
    started = {
        "boot": _start("boot", [*pytest, "-p", "no:cacheprovider"],
                       {**os.environ, "TMPDIR": str(boot_tmp), "LIVECD_TESTS_HALF": "boot"}),
        "rest": _start("rest", pytest, {**os.environ, "LIVECD_TESTS_HALF": "rest"}),
    }

    def stop(signum: int, frame: object) -> None:
        for proc, _ in started.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGINT)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    codes = {name: _wait(proc) for name, (proc, _) in started.items()}
    for _, pump in started.values():
        pump.join(5)
    for name, code in codes.items():
        print(f"== {name} half: exit status {code}", flush=True)
    return next((code for code in codes.values() if code), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
