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

Then the same on an OverlayFS overlay (``--overlayfs``: a folder on ext4, an ext4 image of ``--overlay-size-mb`` on
FAT, as upstream): ``--skipcopy --reset-overlay`` empties it (what the live system wrote is gone), keeps the home,
and the boot menu names the overlay as before.  And what a run set aside for the copy (``--livedir`` with another
system's ``/LiveOS``; the live folder's ``home.img``): left behind by a killed run, it is refused before anything is
written; when the copy is interrupted (SIGTERM), it is put back.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgcreate.toolbox import stickfat
from tests import disks
from tests.faults import wrap_host_tool
from tests.support import TOOL_TIMEOUT, assert_failed, run_tool, running, start_tool

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


@contextlib.contextmanager
def partition(iso: Path, fstype: str, tmp_path: Path) -> Iterator[tuple[str, str, Files]]:
    """A disk image with one partition labelled MYSTICK (*fstype*), room for *iso* and 200 MiB, attached:
    (the partition, its UUID, its files)."""
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(iso.stat().st_size + 200 * MIB)
    subprocess.run(["sfdisk", "-q", str(disk)], input=b"start=2048, type=83\n", check=True)
    with disks.attached(disk, read_only=False) as dev:
        part = f"{dev}p1"
        mkfs = ["mkfs.vfat", "-n"] if fstype == "vfat" else ["mkfs.ext4", "-q", "-L"]
        subprocess.run([*mkfs, "MYSTICK", part], check=True, capture_output=True)
        yield part, disks.blkid(part, "UUID"), Files(part, fstype == "vfat", tmp_path / "mnt")


def linux_args(files: Files) -> list[str]:
    """The kernel command line of the stick's GRUB menu (its first entry)."""
    return next(line.split() for line in files.read("boot/grub2/grub.cfg").decode().splitlines()
                if line.strip().startswith("linux "))


@pytest.mark.parametrize("fstype", ["vfat", "ext4"])
def test_skipcopy_resets_the_overlay_and_a_reinstall_replaces_the_live_folder(
        fstype: str, toolbox_isos: dict[str, Path], tmp_path: Path) -> None:
    iso = toolbox_isos["squashfs"]
    with partition(iso, fstype, tmp_path) as (part, uuid, files):
        overlay = f"overlay-MYSTICK-{uuid}"
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
            linux = linux_args(files)
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


@pytest.mark.parametrize("fstype", ["vfat", "ext4"])
def test_skipcopy_resets_an_overlayfs_overlay(fstype: str, toolbox_isos: dict[str, Path], tmp_path: Path) -> None:
    """--skipcopy --reset-overlay on an OverlayFS overlay, as upstream (on FAT --overlayfs needs --overlay-size-mb,
    refused without it before anything is written): on ext4 the folder made again empty (its
    ovlwork/ too), on FAT the ext4 image's overlayfs/ emptied (the image made anew where it lies, its size kept);
    the home stays byte for byte and the menu boots the same overlay (rd.live.overlay=UUID=...,
    rd.live.overlay.overlayfs) as before."""
    fat = fstype == "vfat"
    with partition(toolbox_isos["squashfs"], fstype, tmp_path) as (part, uuid, files):
        overlay = f"LiveOS/overlay-MYSTICK-{uuid}"
        if fat:  # OverlayFS cannot keep its changes in a FAT folder: an image, whose size must be given (upstream)
            proc = run_tool("livecd-iso-to-disk", "--noverify", "--force", "--overlayfs", str(toolbox_isos["squashfs"]),
                            part, check=False)
            assert_failed(proc, "--overlayfs on a FAT target needs --overlay-size-mb", "Nothing was written.")
            assert files._mtools("mdir", "-b", "::/") == b"", "nothing written"
        write(toolbox_isos["squashfs"], part, "--overlayfs", *(["--overlay-size-mb", "8"] if fat else []),
              "--home-size-mb", "8", "--unencrypted-home")
        image = tmp_path / "overlay.img"
        with files.opened():
            menu = linux_args(files)
            assert {f"rd.live.overlay=UUID={uuid}", "rd.live.overlay.overlayfs", "rw"} <= set(menu), menu
            home = digest(files.read("LiveOS/home.img"))
            # What the live system wrote into its overlay (an upper layer) and OverlayFS into its work folder.
            if fat:
                image.write_bytes(files.read(overlay))
                assert disks.blkid(str(image), "TYPE") == "ext4", "on FAT an ext4 image, never a folder"
                (tmp_path / "marker").write_text("written by the live system\n")
                subprocess.run(["debugfs", "-w", "-f", "-", str(image)], check=True, capture_output=True,
                               input=f"cd overlayfs\nmkdir etc\ncd etc\nwrite {tmp_path / 'marker'} marker\n".encode())
                files.write(overlay, image.read_bytes())
                assert ext_names(image, "/overlayfs/etc") == ["marker"]
            else:
                assert (files.mnt / overlay).is_dir() and (files.mnt / "LiveOS/ovlwork").is_dir()
                (files.mnt / overlay / "etc").mkdir()
                (files.mnt / overlay / "etc/marker").write_text("written by the live system\n")
                (files.mnt / "LiveOS/ovlwork/work").mkdir()

        write(toolbox_isos["squashfs"], part, "--skipcopy", "--reset-overlay")
        with files.opened():
            if fat:
                after = files.read(overlay)
                image.write_bytes(after)
                assert len(after) == 8 * MIB and disks.blkid(str(image), "TYPE") == "ext4"
                assert {"overlayfs", "ovlwork"} <= set(ext_names(image, "/"))
                assert ext_names(image, "/overlayfs") == [], "the overlay emptied"
            else:
                assert list((files.mnt / overlay).iterdir()) == [], "the overlay folder emptied"
                assert list((files.mnt / "LiveOS/ovlwork").iterdir()) == [], "its work folder made again"
            assert digest(files.read("LiveOS/home.img")) == home, "the home kept, byte for byte"
            assert sorted(linux_args(files)) == sorted(menu), "the menu boots the same overlay, read-write"


def ext_names(image: Path, folder: str) -> list[str]:
    """The names in *folder* of the ext4 filesystem in *image* (debugfs: nothing mounted)."""
    out = disks.debugfs(str(image), f"ls -p {folder}")
    return sorted(n for n in re.findall(r"^/\d+/\d+/\d+/\d+/([^/]*)/", out, re.MULTILINE) if n not in (".", ".."))


def listing(top: Path) -> dict[str, str]:
    """Every path below *top* with what it is: a folder, a link's target, a file's size and SHA-256."""
    found = {}
    for path in sorted(top.rglob("*")):
        rel = path.relative_to(top).as_posix()
        if path.is_symlink():
            found[rel] = f"-> {os.readlink(path)}"
        elif path.is_dir():
            found[rel] = "dir"
        else:
            found[rel] = f"{path.stat().st_size} {digest(path.read_bytes())}"
    return found


def test_a_killed_runs_leftover_is_refused_and_an_interrupted_copy_puts_all_back(
        toolbox_isos: dict[str, Path], tmp_path: Path) -> None:
    """A reinstall with --livedir Sys onto an ext4 partition that holds another system's /LiveOS: when a killed
    run left that system set aside (/.livecd-iso-to-disk-LiveOS), refused in one paragraph before anything is
    written (Sys's home not set aside either), nothing left mounted; once that is cleared, a run interrupted in its
    copy (SIGTERM after the ISO's files landed in /LiveOS) puts the other system back at /LiveOS and the home back
    in Sys, byte for byte, and leaves nothing set aside."""
    iso = toolbox_isos["squashfs"]
    with partition(iso, "ext4", tmp_path) as (part, _uuid, files):
        with files.opened():
            files.write("notes.txt", b"the user's own file\n")
            for folder in ("LiveOS", ".livecd-iso-to-disk-LiveOS", "Sys"):
                files.mkdir(folder)
            files.write("LiveOS/squashfs.img", os.urandom(MIB))  # another system
            files.write(".livecd-iso-to-disk-LiveOS/squashfs.img", os.urandom(MIB))  # a killed run's
            files.write("Sys/squashfs.img", b"the old system in Sys\n")
            files.write("Sys/home.img", os.urandom(4 * MIB))
            before = listing(files.mnt)

        proc = run_tool("livecd-iso-to-disk", "--noverify", "--force", "--livedir", "Sys", str(iso), part,
                        check=False)
        assert_failed(proc, "/.livecd-iso-to-disk-LiveOS on the target was left by an interrupted run",
                      "Nothing was written.")
        assert proc.returncode == 1 and proc.stderr.count(": error: ") == 1, proc.stderr
        assert subprocess.run(["findmnt", "-S", part], capture_output=True).returncode == 1, "left mounted"
        with files.opened():
            assert listing(files.mnt) == before, "nothing written, nothing moved"
            shutil.rmtree(files.mnt / ".livecd-iso-to-disk-LiveOS")  # the user clears it
            before = listing(files.mnt)

        stall = 3471  # a unique sleep, to see it stopped
        marker = wrap_host_tool(tmp_path / "bin", "xorriso", "-extract / ", "stall-after", stall)
        proc2 = start_tool("livecd-iso-to-disk", "--noverify", "--force", "--livedir", "Sys", str(iso), part,
                           env={"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"})
        deadline = time.monotonic() + TOOL_TIMEOUT
        while not marker.exists() and proc2.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # the wrapper is in its sleep: the ISO's files are on the stick
        proc2.send_signal(signal.SIGTERM)
        _, err = proc2.communicate(timeout=TOOL_TIMEOUT)
        assert marker.exists(), err
        assert proc2.returncode == 130 and "everything was cleaned up" in err, err
        assert running("sleep", str(stall)) == []
        assert subprocess.run(["findmnt", "-S", part], capture_output=True).returncode == 1, "left mounted"
        with files.opened():
            after = listing(files.mnt)
            kept = ("LiveOS", "notes.txt", "Sys/home.img")
            assert {p: v for p, v in after.items() if p.startswith(kept)} == \
                {p: v for p, v in before.items() if p.startswith(kept)}, "the other system and the home put back"
            assert not [p for p in after if p.startswith(".livecd-iso-to-disk-")], after
            assert files.names("Sys") == ["home.img"], "the old system's files went, as the new copy's"


def test_a_killed_runs_home_left_on_fat_is_refused(toolbox_isos: dict[str, Path], tmp_path: Path) -> None:
    """On a FAT partition a killed run leaves the home it set aside at the top (kept_on_fat, renamed with mtools):
    the next run refuses it before anything is written, rather than leave it hidden and the live folder homeless."""
    iso = toolbox_isos["squashfs"]
    with partition(iso, "vfat", tmp_path) as (part, _uuid, files):
        home = os.urandom(MIB)
        files.mkdir("LiveOS")
        files.write("LiveOS/squashfs.img", b"the old system\n")
        files.write(".livecd-iso-to-disk-home.img", home)
        files.write("notes.txt", b"the user's own file\n")
        before = subprocess.run(["mdir", "-/", "-b", "-i", part, "::/"], env=MTOOLS_ENV, capture_output=True,
                                text=True, check=True).stdout
        proc = run_tool("livecd-iso-to-disk", "--noverify", "--force", "--label", "OTHER", str(iso), part,
                        check=False)
        assert_failed(proc, "/.livecd-iso-to-disk-home.img on the target was left by an interrupted run",
                      "Nothing was written.")
        assert proc.returncode == 1 and proc.stderr.count(": error: ") == 1, proc.stderr
        assert subprocess.run(["mdir", "-/", "-b", "-i", part, "::/"], env=MTOOLS_ENV, capture_output=True,
                              text=True, check=True).stdout == before
        assert files.read(".livecd-iso-to-disk-home.img") == home
        assert disks.blkid(part, "LABEL") == "MYSTICK", "not relabelled either"
