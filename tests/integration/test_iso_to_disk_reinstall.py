"""livecd-iso-to-disk again onto a partition that holds its live system, on FAT (never mounted: mtools) and on
ext4, with upstream's meaning (``tools/livecd-iso-to-disk.sh``):

* ``--skipcopy --reset-overlay`` (upstream: "Allow overlay reset with --skipcopy repair"): nothing is copied or
  removed, the overlay is renamed for the stick's label and UUID and emptied where it lies (a COW file's first
  64 KiB zeroed), the home stays, and the new boot configuration boots the overlay read-write;
* a new install (here with ``--livedir Sys``) replaces the live folder whole, as upstream's ``rm -rf $LIVEOS``:
  a file the old system left there is gone, its ``home.img`` stays byte for byte (no ``--delete-home``), its
  overlay goes (no ``--reset-overlay``), and nothing outside the folder is removed: a user's file and another
  system's ``/LiveOS`` stay.

One stick per filesystem, written three times (install with an overlay and a home, then the two runs above), from
the session's small squashfs ISO.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgcreate.toolbox import stickfat
from tests import disks
from tests.support import run_tool

pytestmark = pytest.mark.root

MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
MIB = 1024 * 1024
RESET = 64 * 1024  # what upstream's --reset-overlay zeroes of a COW file


class Files:
    """The partition's files, read and written as the test needs them: with mtools on FAT, on a mount of the
    ext4 (only within :meth:`opened`: the tool refuses a mounted target)."""

    def __init__(self, part: str, fat: bool, mnt: Path) -> None:
        self.part, self.fat, self.mnt = part, fat, mnt

    @contextlib.contextmanager
    def opened(self) -> Iterator[Files]:
        if self.fat:
            yield self
            return
        self.mnt.mkdir(exist_ok=True)
        subprocess.run(["mount", self.part, str(self.mnt)], check=True)
        try:
            yield self
        finally:
            subprocess.run(["umount", str(self.mnt)], check=True)

    def _mtools(self, *argv: str, input: bytes | None = None) -> bytes:
        return subprocess.run([argv[0], "-i", self.part, *argv[1:]], input=input, capture_output=True,
                              env=MTOOLS_ENV, check=True).stdout

    def read(self, path: str) -> bytes:
        return self._mtools("mtype", f"::/{path}") if self.fat else (self.mnt / path).read_bytes()

    def write(self, path: str, data: bytes) -> None:
        """*path* written over (a file that does not grow keeps its clusters, as a live system writes it)."""
        if self.fat:
            self._mtools("mcopy", "-o", "-", f"::/{path}", input=data)
        else:
            with open(self.mnt / path, "r+b" if (self.mnt / path).exists() else "wb") as f:
                f.write(data)

    def mkdir(self, path: str) -> None:
        if self.fat:
            self._mtools("mmd", f"::/{path}")
        else:
            (self.mnt / path).mkdir()

    def move(self, src: str, dst: str) -> None:
        if self.fat:
            self._mtools("mmove", f"::/{src}", f"::/{dst}")
        else:
            shutil.move(self.mnt / src, self.mnt / dst)

    def names(self, folder: str) -> list[str]:
        if self.fat:
            return stickfat.listdir(self.part, f"/{folder}")
        return sorted(p.name for p in (self.mnt / folder).iterdir())

    def where(self, path: str) -> object:
        """Where the file's data lies (its clusters on FAT, its blocks on ext4): the same after an in-place
        write."""
        if self.fat:
            return stickfat.extents(self.part, f"/{path}")
        out = subprocess.run(["filefrag", "-e", str(self.mnt / path)], capture_output=True, text=True,
                             check=True).stdout
        return re.findall(r"^\s*\d+:\s*\d+\.\.\s*\d+:\s*(\d+)\.\.\s*(\d+):", out, re.MULTILINE)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(iso: Path, part: str, *options: str) -> None:
    run_tool("livecd-iso-to-disk", "--noverify", "--force", *options, str(iso), part)


@pytest.mark.parametrize("fstype", ["vfat", "ext4"])
def test_skipcopy_resets_the_overlay_and_a_reinstall_replaces_the_live_folder(
        fstype: str, toolbox_isos: dict[str, Path], tmp_path: Path) -> None:
    iso = toolbox_isos["squashfs"]
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(iso.stat().st_size + 200 * MIB)
    subprocess.run(["sfdisk", "-q", str(disk)], input=b"start=2048, type=83\n", check=True)
    with disks.attached(disk, read_only=False) as dev:
        part = f"{dev}p1"
        mkfs = ["mkfs.vfat", "-n"] if fstype == "vfat" else ["mkfs.ext4", "-q", "-L"]
        subprocess.run([*mkfs, "MYSTICK", part], check=True, capture_output=True)
        uuid = disks.blkid(part, "UUID")
        overlay = f"overlay-MYSTICK-{uuid}"
        files = Files(part, fstype == "vfat", tmp_path / "mnt")
        with files.opened():
            files.write("notes.txt", b"the user's own file\n")
        write(iso, part, "--overlay-size-mb", "16", "--home-size-mb", "16", "--unencrypted-home")
        with files.opened():
            # What the live system left: a used COW file (under another label's name), a home, a file in LiveOS.
            used = b"SnAp" + os.urandom(16 * MIB - 4)
            files.write(f"LiveOS/{overlay}", used)
            files.move(f"LiveOS/{overlay}", "LiveOS/overlay-OLDLABEL-1234")
            where = files.where("LiveOS/overlay-OLDLABEL-1234")
            home = os.urandom(16 * MIB)
            files.write("LiveOS/home.img", home)
            files.write("LiveOS/stale.txt", b"left by the old system\n")

        # --skipcopy --reset-overlay: the overlay renamed back for the stick and emptied in place; nothing else.
        write(iso, part, "--skipcopy", "--reset-overlay")
        with files.opened():
            names = files.names("LiveOS")
            assert overlay in names and "overlay-OLDLABEL-1234" not in names, names
            assert "stale.txt" in names, "--skipcopy copies and removes nothing"
            after = files.read(f"LiveOS/{overlay}")
            assert len(after) == 16 * MIB and after[:RESET] == bytes(RESET), "the COW header zeroed: empty"
            assert after[RESET:] == used[RESET:], "the rest untouched: reset in place, not made anew"
            assert files.where(f"LiveOS/{overlay}") == where, "the same clusters/blocks: never copied"
            assert digest(files.read("LiveOS/home.img")) == digest(home)
            linux = next(line.split() for line in files.read("boot/grub2/grub.cfg").decode().splitlines()
                         if line.strip().startswith("linux "))
            assert f"rd.live.overlay=UUID={uuid}" in linux and "rw" in linux and "ro" not in linux, linux

            # The old system moves to Sys (the folder the next install names); another system takes /LiveOS.
            files.move("LiveOS", "Sys")
            files.mkdir("LiveOS")
            files.write("LiveOS/other.txt", b"another system\n")

        # A new install into --livedir Sys: that folder replaced whole, home kept; nothing outside it removed.
        write(iso, part, "--livedir", "Sys")
        with files.opened():
            names = files.names("Sys")
            assert "stale.txt" not in names, f"the old system's file is gone: {names}"
            assert "squashfs.img" in names and not [n for n in names if n.startswith("overlay-")], names
            assert digest(files.read("Sys/home.img")) == digest(home), "the home is kept, byte for byte"
            assert files.names("LiveOS") == ["other.txt"] and files.read("LiveOS/other.txt") == b"another system\n"
            assert files.read("notes.txt") == b"the user's own file\n"
            assert "rd.live.dir=Sys" in files.read("boot/grub2/grub.cfg").decode()
