"""livecd-iso-to-disk written twice onto one existing FAT partition (upstream's default, non-destructive mode;
the FAT is never mounted, mtools writes it): the second run keeps the persistent home byte for byte unless
--delete-home, and --reset-overlay keeps the overlay, renamed for a new label, and empties it in place, as on an
ext partition (tests/integration/test_iso_to_disk_persist.py checks that logic on a folder).

One stick for all checks (the module's fixture writes it once, with an overlay and a home that are then filled
with data standing for what the live system wrote), from the session's small squashfs ISO.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgcreate.toolbox import stickfat, stickoverlay, stickpersist
from imgcreate.toolbox.stickoptions import IsoToDiskOptions
from tests.support import assert_failed, run_tool

pytestmark = pytest.mark.root

MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
MIB = 1024 * 1024


def sh(*argv: str, check: bool = True, input: bytes | None = None) -> str:
    return subprocess.run(argv, capture_output=True, check=check, input=input, env=MTOOLS_ENV).stdout.decode()


def read(part: str, path: str) -> bytes:
    return subprocess.run(["mtype", "-i", part, f"::/{path}"], capture_output=True, env=MTOOLS_ENV,
                          check=True).stdout


def put(part: str, path: str, data: bytes) -> None:
    subprocess.run(["mcopy", "-o", "-i", part, "-", f"::/{path}"], input=data, env=MTOOLS_ENV, check=True)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blkid(part: str, tag: str) -> str:
    return sh("blkid", "-p", "-s", tag, "-o", "value", part).strip()


def write(iso: Path, part: str, *options: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_tool("livecd-iso-to-disk", "--noverify", "--force", *options, str(iso), part, check=check)


@pytest.fixture(scope="module")
def stick(toolbox_isos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A disk image with one FAT partition holding the live system, a 16 MiB overlay whose COW header and
    exceptions are written (``SnAp`` then data) and a 16 MiB home filled with data: (ISO, the partition)."""
    iso = toolbox_isos["squashfs"]
    disk = tmp_path_factory.mktemp("fat-keep") / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(iso.stat().st_size + 160 * MIB)
    subprocess.run(["sfdisk", "-q", str(disk)], input=b"start=2048, type=c\n", check=True)
    dev = sh("losetup", "--find", "--show", "--partscan", str(disk)).strip()
    try:
        sh("partx", "--add", dev, check=False)
        part = f"{dev}p1"
        sh("mkfs.vfat", "-n", "MYSTICK", part)
        put(part, "notes.txt", b"the user's own file\n")
        write(iso, part, "--overlay-size-mb", "16", "--home-size-mb", "16", "--unencrypted-home")
        overlays = [n for n in stickfat.listdir(part, "/LiveOS") if n.startswith("overlay-")]
        assert overlays == [stickoverlay.overlay_name("MYSTICK", blkid(part, "UUID"))]
        # What a live system leaves (mcopy writes it to the same clusters, as the file does not grow).
        put(part, f"LiveOS/{overlays[0]}", b"SnAp" + os.urandom(16 * MIB - 4))
        put(part, "LiveOS/home.img", os.urandom(16 * MIB))
        yield iso, part
    finally:
        sh("losetup", "-d", dev, check=False)


def test_a_second_run_keeps_the_home_and_resets_the_overlay_in_place(stick: tuple[Path, str], tmp_path: Path) -> None:
    """Without --delete-home the home stays byte for byte; --reset-overlay (with a new --label) keeps the
    overlay in its clusters, named for the new label, its first 64 KiB zeroed (an empty snapshot, as upstream)
    and its size unchanged; the kernel line boots it rw; the user's file stays."""
    iso, part = stick
    home = digest(read(part, "LiveOS/home.img"))
    uuid = blkid(part, "UUID")
    old = f"LiveOS/{stickoverlay.overlay_name('MYSTICK', uuid)}"
    before = read(part, old)
    where = stickfat.extents(part, old)
    kept = stickpersist.kept_bytes(Path("/nonexistent"), IsoToDiskOptions(reset_overlay=True), part)
    assert kept == 32 * MIB, "the room check counts the kept home and overlay as taken, not freed"
    write(iso, part, "--reset-overlay", "--label", "AGAIN")
    assert blkid(part, "LABEL") == "AGAIN"
    assert digest(read(part, "LiveOS/home.img")) == home, "the home is kept, byte for byte"
    new = f"LiveOS/{stickoverlay.overlay_name('AGAIN', uuid)}"
    assert [n for n in stickfat.listdir(part, "/LiveOS") if n.startswith("overlay-")] == [new.split("/")[1]]
    after = read(part, new)
    assert len(after) == 16 * MIB and after[:64 * 1024] == bytes(64 * 1024), "the COW header zeroed: empty"
    assert after[64 * 1024:] == before[64 * 1024:], "the rest untouched: reset in place, not made anew"
    assert stickfat.extents(part, new) == where, "the same clusters: renamed, never copied"
    cfg = read(part, "boot/grub2/grub.cfg").decode()
    assert f"rd.live.overlay=UUID={uuid}" in cfg and " rw" in cfg
    assert read(part, "notes.txt") == b"the user's own file\n"


def test_a_new_home_needs_delete_home(stick: tuple[Path, str]) -> None:
    """--home-size-mb over a kept home is refused, nothing changed; with --delete-home a new, empty home."""
    iso, part = stick
    home = digest(read(part, "LiveOS/home.img"))
    proc = write(iso, part, "--home-size-mb", "16", "--unencrypted-home", check=False)
    assert_failed(proc, "give --delete-home explicitly")
    assert digest(read(part, "LiveOS/home.img")) == home, "refused: the home is as it was"
    write(iso, part, "--delete-home", "--home-size-mb", "16", "--unencrypted-home")
    new = read(part, "LiveOS/home.img")
    assert len(new) == 16 * MIB and digest(new) != home
    assert new[1080:1082] == b"\x53\xef", "a new ext4 home"
    assert not [n for n in stickfat.listdir(part, "/LiveOS") if n.startswith("overlay-")], \
        "without --reset-overlay the old system's overlay goes with it"


def test_an_overlayfs_image_is_reset_in_its_clusters(tmp_path: Path) -> None:
    """A flat squashfs's overlay on FAT (an ext4 image holding overlayfs/ and ovlwork/) is made anew where it
    lies, through a loop device over its clusters: the marker the live system wrote is gone, size and clusters
    the same."""
    fat = tmp_path / "fat.img"
    with open(fat, "wb") as f:
        f.truncate(48 * MIB)
    sh("mkfs.vfat", str(fat))
    tree = tmp_path / "tree"
    (tree / "overlayfs/etc").mkdir(parents=True)
    (tree / "ovlwork").mkdir()
    (tree / "overlayfs/etc/marker").write_text("written by the live system\n")
    image = tmp_path / "ovl.img"
    with open(image, "wb") as f:
        f.truncate(8 * MIB)
    sh("mkfs.ext4", "-q", "-F", "-d", str(tree), str(image))
    sh("mmd", "-i", str(fat), "::/LiveOS")
    sh("mcopy", "-i", str(fat), str(image), "::/LiveOS/overlay-X-1")
    where = stickfat.extents(str(fat), "/LiveOS/overlay-X-1")
    stickoverlay.reset_on_fat(str(fat), "/LiveOS/overlay-X-1", tmp_path)
    out = tmp_path / "out.img"
    out.write_bytes(read(str(fat), "LiveOS/overlay-X-1"))
    assert out.stat().st_size == 8 * MIB and stickfat.extents(str(fat), "/LiveOS/overlay-X-1") == where
    listing = sh("debugfs", "-R", "ls -p /overlayfs", str(out))
    assert "marker" not in listing and "etc" not in listing, listing
    assert "ovlwork" in sh("debugfs", "-R", "ls -p /", str(out))
