"""Long last steps show a progress meter on the user's terminal, and nothing anywhere else.

xz over gigabytes and hashing a 20 GiB disk for ``--checksum`` take minutes on a real appliance, writing and
checksumming a live ISO of gigabytes a while; upstream shows a meter while it hashes a disk and lets xorriso print
its progress.  The steps run here on a small disk with compressible data and a small ISO tree, inside a
pseudo-terminal (the meter's condition: progress lines go to a terminal), and once more with stderr on a pipe.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

_SCRIPT = """
import sys
from pathlib import Path
from imgcreate.debug import setup_logging
from imgcreate.disk import output
from imgcreate.host import meter
from imgcreate.media import iso
setup_logging()
work = Path(sys.argv[1])
meter._DELAY = float(sys.argv[2])  # 0: a meter for every step, however short
for fmt, compress in (("raw", "xz"), ("qcow2", None)):  # zstd's meter is xz's (too fast to see here)
    disk = work / "d.raw"
    disk.write_bytes(b"abcdefgh" * (4 << 20))  # 32 MiB xz takes most of a second on: the meter gets its turn
    with open(disk, "r+b") as f:
        f.truncate(64 << 20)  # and a hole
    out = work / f"{fmt}-{compress}"
    out.mkdir()
    output.finish(disk, out, output.OutputSpec(name="d", disk_format=fmt, compress=compress, checksum=True))
tree = work / "tree"
tree.mkdir()
with open(tree / "big", "wb") as f:
    for _ in range(256):
        f.write(b"abcdefgh" * (128 << 10))  # 256 MiB: xorriso and implantisomd5 each run for a few tenths
spec = iso.IsoSpec(tree=tree, volume_id="T", bios=iso.BiosBootloader.NONE)
iso.master_iso(spec, work / "t.iso")
iso.implant_md5(work / "t.iso")
"""


_SHORT = """
import sys
from pathlib import Path
from imgcreate.debug import setup_logging
from imgcreate.host import sparse
setup_logging()
small = Path(sys.argv[1]) / "small"
small.write_bytes(bytes(1 << 20))
sparse.digests(small, progress="Computing the checksum of small")
"""


def _run(tmp_path: Path, terminal: bool, delay: float, script: str = _SCRIPT) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    argv = [sys.executable, "-c", script, str(tmp_path), str(delay)]
    if not terminal:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=True)
        return done.stdout + done.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=120) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_disk_steps_show_progress_on_a_terminal_only(tmp_path: Path, terminal: bool) -> None:
    shown = _run(tmp_path, terminal, delay=0)
    meters = ("Computing the checksums of d-sda.raw: 100 % (64 MiB of 64 MiB)",
              "Compressing d-sda.raw with xz: 100 % (48 MiB of 48 MiB)",  # the data blocks and one of zeros
              "Computing the checksum of d-sda.raw.xz: 100 %",
              "Computing the checksums of d-sda.qcow2: 100 % (32 MiB of 32 MiB)",
              "Writing t.iso: 100 % (256 MiB of 256 MiB)",
              "Implanting the checksum of t.iso: 100 %")
    for line in meters:
        assert (line in shown) is terminal, shown
    assert ("(100.00/100%)" in shown) is terminal, shown  # qemu-img convert -p
    assert ("\r" in shown) is terminal, shown
    for made in ("raw-xz/d-sda.raw.xz", "qcow2-None/d-sda.qcow2"):
        assert (tmp_path / made).is_file(), made


def test_a_step_shorter_than_a_second_shows_no_meter(tmp_path: Path) -> None:
    shown = _run(tmp_path, terminal=True, delay=1.0, script=_SHORT)
    assert "Computing the checksum" not in shown and "\r" not in shown, shown
