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

import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a runner started in the background has it ignored


def _pump(name: str, stream: IO[str]) -> None:
    for line in stream:
        sys.stdout.write(f"[{name}] {line}")
        sys.stdout.flush()


def main(extra: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest", *extra]
    boot_tmp = Path(tempfile.gettempdir()) / "livecd-tests-boot-half"  # kept, as pytest keeps its folders
    boot_tmp.mkdir(mode=0o700, exist_ok=True)
    halves = {
        "boot": ([*pytest, "-p", "no:cacheprovider"],
                 {**os.environ, "TMPDIR": str(boot_tmp), "LIVECD_TESTS_HALF": "boot"}),
        "rest": (pytest, {**os.environ, "LIVECD_TESTS_HALF": "rest"}),
    }
    procs: dict[str, subprocess.Popen[str]] = {}
    pumps = []
    for name, (argv, env) in halves.items():
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", preexec_fn=_sigint_default)
        procs[name] = proc
        assert proc.stdout is not None
        pump = threading.Thread(target=_pump, args=(name, proc.stdout), daemon=True)
        pump.start()
        pumps.append(pump)

    def stop(signum: int, frame: object) -> None:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    codes = {}
    for name, proc in procs.items():
        while True:
            try:
                codes[name] = proc.wait(timeout=0.5)  # a timeout: the signal handlers run while we wait
                break
            except subprocess.TimeoutExpired:
                continue
    for pump in pumps:
        pump.join(5)
    for name, code in codes.items():
        print(f"== {name} half: exit status {code}", flush=True)
    return next((code for code in codes.values() if code), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
