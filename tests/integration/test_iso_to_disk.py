"""livecd-iso-to-disk without booting: the partition table, labels and files it writes to a disk image file,
and its refusals (a mounted or attached target, the root disk, too small, not a live ISO, not confirmed), each
with nothing written and nothing left mounted or attached."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import build_live, run_tool, start_tool

pytestmark = pytest.mark.root

MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


@pytest.fixture(scope="module")
def iso(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> Path:
    return build_live(tmp_path_factory.mktemp("i2d-iso"), testrepo, "I2D-TEST")


def sh(*argv: str, check: bool = True) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=check).stdout


def table(image: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(sh("sfdisk", "--json", str(image)))["partitiontable"]
    return found


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"


def untouched(sparse: Path) -> bool:
    """A sparse file nobody wrote to has no blocks."""
    return sparse.stat().st_blocks == 0


def leftovers() -> list[str]:
    """The tool's work directories (with any mount in them) still there."""
    return glob.glob("/tmp/livecd-iso-to-disk-*")


@contextlib.contextmanager
def loop(image: Path, partscan: bool = False) -> Iterator[str]:
    dev = sh("losetup", "--find", "--show", *(["--partscan"] if partscan else []), str(image)).strip()
    try:
        if partscan:
            sh("partx", "--add", dev, check=False)
        yield dev
    finally:
        sh("losetup", "-d", dev, check=False)


@contextlib.contextmanager
def mounted(dev: str, where: Path, options: str = "ro") -> Iterator[Path]:
    where.mkdir(exist_ok=True)
    sh("mount", "-o", options, dev, str(where))
    try:
        yield where
    finally:
        sh("umount", str(where), check=False)


def test_overlay_and_home_stick(iso: Path, tmp_path: Path) -> None:
    stick = tmp_path / "stick.raw"
    before = leftovers()
    run_tool("livecd-iso-to-disk", str(iso), str(stick), "--overlay-size-mb", "64", "--home-size-mb", "32",
             "--force", "--label", "STICK", "--extra-kernel-args", "livecheck.persist=write")
    assert leftovers() == before and sh("losetup", "--associated", str(stick)) == ""
    t = table(stick)
    assert t["label"] == "dos"
    esp, data = t["partitions"]
    assert esp["type"] == "ef" and data["type"] == "83" and data.get("bootable") is True
    assert data["start"] + data["size"] == stick.stat().st_size // 512, "as big as needed, the data partition last"
    with loop(stick, partscan=True) as dev:
        assert sh("blkid", "-p", "-s", "LABEL", "-o", "value", f"{dev}p2").strip() == "STICK"
        assert sh("blkid", "-p", "-s", "TYPE", "-o", "value", f"{dev}p1").strip() == "vfat"
        uuid = sh("blkid", "-p", "-s", "UUID", "-o", "value", f"{dev}p2").strip()
        esp_files = sh("mdir", "-b", "-i", f"{dev}p1", "::/EFI/BOOT", check=True)
        stub = subprocess.run(["mtype", "-i", f"{dev}p1", "::/EFI/BOOT/grub.cfg"], capture_output=True, text=True,
                              env=MTOOLS_ENV, check=True).stdout
        with mounted(f"{dev}p2", tmp_path / "data") as mnt:
            for f in ("LiveOS/squashfs.img", "images/pxeboot/vmlinuz", "images/pxeboot/initrd.img",
                      "boot/grub2/i386-pc/core.img", "boot/grub2/i386-pc/normal.mod"):
                assert (mnt / f).is_file(), f
            cfg = (mnt / "boot/grub2/grub.cfg").read_text()
            overlay = mnt / f"LiveOS/overlay-STICK-{uuid}"
            assert overlay.stat().st_size == 64 * 1024 * 1024
            assert overlay.read_bytes()[:4096] == bytes(4096), "an empty dm-snapshot COW store"
            home = mnt / "LiveOS/home.img"
            assert home.stat().st_size == 32 * 1024 * 1024
            assert sh("blkid", "-p", "-s", "TYPE", "-o", "value", str(home)).strip() == "ext4"
    assert "BOOTX64.EFI" in esp_files.upper() and "GRUBX64.EFI" in esp_files.upper()
    assert f"--fs-uuid --set=dev {uuid}" in stub
    assert f"search --no-floppy --fs-uuid --set=root {uuid}" in cfg
    linux = next(line.split() for line in cfg.splitlines() if line.strip().startswith("linux "))
    assert linux[1] == "/images/pxeboot/vmlinuz" and f"root=live:UUID={uuid}" in linux
    assert {f"rd.live.overlay=UUID={uuid}", "rw", "rd.live.image", "livecheck.persist=write"} <= set(linux)
    assert "ro" not in linux and "rd.live.check" not in linux
    assert not any(a.startswith("root=live:CDLABEL") for a in linux)
    # The MBR holds GRUB's boot code (the ISO's boot.img, patched by grub-bios-setup).
    assert b"GRUB" in stick.read_bytes()[:512]


def test_gpt_noefi_stick_with_the_isos_label_in_a_given_size(iso: Path, tmp_path: Path) -> None:
    stick = tmp_path / "gpt.raw"
    run_tool("livecd-iso-to-disk", str(iso), str(stick), "--gpt", "--noefi", "--noverify", "--force",
             "--size-mb", "400")
    assert stick.stat().st_size == 400 * 1024 * 1024
    t = table(stick)
    assert t["label"] == "gpt"
    bios, data = t["partitions"]
    assert bios["type"] == "21686148-6449-6E6F-744E-656564454649" and bios["size"] == 2048
    with loop(stick, partscan=True) as dev:
        assert sh("blkid", "-p", "-s", "LABEL", "-o", "value", f"{dev}p2").strip() == "I2D-TEST"
        with mounted(f"{dev}p2", tmp_path / "data") as mnt:
            cfg = (mnt / "boot/grub2/grub.cfg").read_text()
            assert not list((mnt / "LiveOS").glob("overlay-*")) and not (mnt / "LiveOS/home.img").exists()
        uuid = sh("blkid", "-p", "-s", "UUID", "-o", "value", f"{dev}p2").strip()
    linux = next(line.split() for line in cfg.splitlines() if line.strip().startswith("linux "))
    assert f"root=live:UUID={uuid}" in linux and "ro" in linux and "rw" not in linux
    assert not any(a.startswith("rd.live.overlay") for a in linux)


def refused(*args: str, input: str | None = None) -> str:
    proc = run_tool("livecd-iso-to-disk", *args, check=False, input=input)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") <= 2, proc.stderr
    return proc.stderr


def test_refuses_a_loop_device_whose_filesystem_is_mounted(iso: Path, tmp_path: Path) -> None:
    image = tmp_path / "busy.img"
    with open(image, "wb") as f:
        f.truncate(64 * 1024 * 1024)
    sh("mkfs.ext4", "-q", str(image))
    with loop(image) as dev, mounted(dev, tmp_path / "busy", options="rw"):
        before = digest(image)
        err = refused(str(iso), dev, "--force")
        assert digest(image) == before
    assert "is in use" in err and str(tmp_path / "busy") in err


def test_refuses_a_loop_device_with_a_mounted_partition(iso: Path, tmp_path: Path) -> None:
    image = tmp_path / "parts.img"
    run_tool("livecd-iso-to-disk", str(iso), str(image), "--noefi", "--noverify", "--force")
    with loop(image, partscan=True) as dev, mounted(f"{dev}p1", tmp_path / "p1"):
        before = digest(image)
        err = refused(str(iso), dev, "--force")
        assert digest(image) == before
    assert "is in use" in err


def test_refuses_an_image_file_attached_to_a_loop_device(iso: Path, tmp_path: Path) -> None:
    image = tmp_path / "attached.img"
    with open(image, "wb") as f:
        f.truncate(512 * 1024 * 1024)
    with loop(image):
        err = refused(str(iso), str(image), "--force")
    assert "attached to a loop device" in err and untouched(image)


def test_refuses_the_root_disk(iso: Path) -> None:
    source = sh("findmnt", "-no", "SOURCE", "/").strip()
    if not source.startswith("/dev/"):
        pytest.skip(f"/ is not on a block device here ({source})")
    parent = sh("lsblk", "-no", "PKNAME", source).strip()
    root_disk = f"/dev/{parent}" if parent else source
    # No --force, and "no" to the question: even a broken check could not erase the disk.
    err = refused(str(iso), root_disk, input="no\n")
    assert "running system's root" in err


def test_refuses_a_target_too_small(iso: Path, tmp_path: Path) -> None:
    image = tmp_path / "small.raw"
    err = refused(str(iso), str(image), "--size-mb", "50", "--overlay-size-mb", "64", "--force")
    assert "needs at least" in err and not image.exists()


def test_refuses_what_is_not_a_live_iso(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "hello.txt").write_text("hello\n")
    plain = tmp_path / "plain.iso"
    sh("xorrisofs", "-quiet", "-o", str(plain), "-V", "PLAIN", str(tree))
    image = tmp_path / "t.raw"
    assert "not a live ISO" in refused(str(plain), str(image), "--force")
    junk = tmp_path / "junk.iso"
    junk.write_bytes(b"x" * 4096)
    assert "not" in refused(str(junk), str(image), "--force")
    assert not image.exists()


def test_asks_before_erasing_a_block_device(iso: Path, tmp_path: Path) -> None:
    image = tmp_path / "blank.img"
    with open(image, "wb") as f:
        f.truncate(512 * 1024 * 1024)
    with loop(image) as dev:
        err = refused(str(iso), dev, input="no\n")
    assert "Type 'yes'" in err and "Not confirmed" in err
    assert untouched(image)


def test_an_existing_file_is_overwritten_only_with_force(iso: Path, tmp_path: Path) -> None:
    """A non-empty image file that is there already is someone's data: refused without --force (one paragraph,
    the file untouched), written with it."""
    image = tmp_path / "data.img"
    image.write_bytes(os.urandom(1024 * 1024))
    before = digest(image)
    err = refused(str(iso), str(image), "--noverify", "--noefi", "--size-mb", "200")
    assert "exists and is not empty" in err and "--force" in err and "Nothing was written" in err
    assert digest(image) == before
    run_tool("livecd-iso-to-disk", str(iso), str(image), "--noverify", "--noefi", "--force", "--size-mb", "200")
    assert table(image)["label"] == "dos" and image.stat().st_size == 200 * 1024 * 1024


@pytest.mark.parametrize("existing", [False, True])
def test_interrupted_while_copying(iso: Path, tmp_path: Path, existing: bool) -> None:
    """SIGTERM while the live system is copied to the data partition: exit 130, nothing mounted or attached, no
    work folder; an image file the run made is removed, one that was there (given with --force) is left."""
    image = tmp_path / "stick.raw"
    if existing:
        image.write_bytes(b"old data")
    before = set(leftovers())
    proc = start_tool("livecd-iso-to-disk", "--noverify", *(["--force", "--size-mb", "200"] if existing else []),
                      str(iso), str(image))
    while proc.poll() is None and not any(os.path.ismount(f"{d}/data") for d in set(leftovers()) - before):
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Stopped by SIGTERM; everything was cleaned up" in err, err
    assert set(leftovers()) <= before
    assert image.exists() is existing, "removed when the run made it, kept when it was there before"
    if existing:
        assert sh("losetup", "--associated", str(image)) == ""
