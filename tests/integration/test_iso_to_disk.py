"""livecd-iso-to-disk without booting: the partition table, labels and files it writes to a block device (a loop
device, after "yes" at its question, and again over the stick it wrote) and to a disk image file (made, grown,
cut to --size-mb), and every refusal it documents (checkisomd5 failing, a partition instead of a disk, a disk
mounted or used as swap, an attached image file, the root disk, too small, not a live ISO, not confirmed, ...),
each with its message, nothing written, and nothing left mounted, attached or in a temporary folder (the leak
check, conftest ``no_leaks``, watches the tool's work folder too)."""

from __future__ import annotations

import contextlib
import functools
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

from tests import isoinspect
from tests.support import build_live, run_tool, start_tool, tool_temp_folders

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
    return sorted(f for f in tool_temp_folders() if os.path.basename(f).startswith("livecd-iso-to-disk-"))


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
    where.mkdir(parents=True, exist_ok=True)
    sh("mount", "-o", options, dev, str(where))
    try:
        yield where
    finally:
        sh("umount", str(where), check=False)


def test_overlay_and_home_stick(iso: Path, tmp_path: Path) -> None:
    stick = tmp_path / "stick.raw"
    before = leftovers()
    run_tool("livecd-iso-to-disk", str(iso), str(stick), "--overlay-size-mb", "64", "--home-size-mb", "32",
             "--unencrypted-home", "--force", "--label", "STICK", "--extra-kernel-args", "livecheck.persist=write")
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


def test_gpt_noesp_stick_labelled_live_in_a_given_size(iso: Path, tmp_path: Path) -> None:
    """--efi (upstream: GPT when formatting) --noesp, an image file of --size-mb; upstream's label LIVE."""
    stick = tmp_path / "gpt.raw"
    run_tool("livecd-iso-to-disk", str(iso), str(stick), "--efi", "--noesp", "--noverify", "--force",
             "--size-mb", "400")
    assert stick.stat().st_size == 400 * 1024 * 1024
    t = table(stick)
    assert t["label"] == "gpt"
    bios, data = t["partitions"]
    assert bios["type"] == "21686148-6449-6E6F-744E-656564454649" and bios["size"] == 2048
    with loop(stick, partscan=True) as dev:
        assert sh("blkid", "-p", "-s", "LABEL", "-o", "value", f"{dev}p2").strip() == "LIVE"
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
        err = refused(str(iso), dev, "--force", "--format")
        assert digest(image) == before
    assert "is in use" in err and str(tmp_path / "busy") in err


def test_refuses_a_loop_device_with_a_mounted_partition(iso: Path, tmp_path: Path) -> None:
    image = tmp_path / "parts.img"
    run_tool("livecd-iso-to-disk", str(iso), str(image), "--noefi", "--noverify", "--force")
    with loop(image, partscan=True) as dev, mounted(f"{dev}p1", tmp_path / "p1"):
        before = digest(image)
        err = refused(str(iso), dev, "--force", "--format")
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
    err = refused(str(iso), root_disk, "--format", input="no\n")
    assert "running system's root" in err
    err = refused(str(iso), source, input="no\n")  # without --format: the partition of / (or / itself)
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
    assert "junk.iso' is not a live ISO" in refused(str(junk), str(image), "--force")
    assert not image.exists()


def test_asks_before_erasing_a_block_device(iso: Path, tmp_path: Path) -> None:
    image = tmp_path / "blank.img"
    with open(image, "wb") as f:
        f.truncate(512 * 1024 * 1024)
    with loop(image) as dev:
        err = refused(str(iso), dev, "--format", input="no\n")
    assert "Type 'yes'" in err and "Not confirmed" in err
    assert untouched(image)


def test_an_existing_file_is_overwritten_only_with_force(iso: Path, tmp_path: Path) -> None:
    """A non-empty image file that is there already is someone's data: refused without --force (one paragraph,
    the file untouched), written with it."""
    image = tmp_path / "data.img"
    image.write_bytes(os.urandom(1024 * 1024))
    before = digest(image)
    err = refused(str(iso), str(image), "--noverify", "--noefi", "--size-mb", "200")
    assert "exists and is not empty" in err and "--format (or --force)" in err and "Nothing was written" in err
    assert digest(image) == before
    run_tool("livecd-iso-to-disk", str(iso), str(image), "--noverify", "--noefi", "--force", "--size-mb", "200")
    assert table(image)["label"] == "dos" and image.stat().st_size == 200 * 1024 * 1024
    image.write_bytes(os.urandom(1024 * 1024))
    run_tool("livecd-iso-to-disk", "--format", str(iso), str(image), "--noverify", "--noesp", "--size-mb", "200")
    assert table(image)["label"] == "dos", "--format (upstream's way to ask for it) overwrites it too"


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


# -- a block device, as a user writes a USB stick -------------------------------------------------------------

def sparse(path: Path, mib: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(mib * 1024 * 1024)
    return path


def fs_bytes(dev: str) -> int:
    """The size of the ext4 filesystem on *dev*, from its superblock."""
    info = dict(line.split(":", 1) for line in sh("dumpe2fs", "-h", dev).splitlines() if ":" in line)
    return int(info["Block count"]) * int(info["Block size"])


@functools.cache
def squashfs_digest(iso: Path) -> str:
    return digest(isoinspect.squashfs_image(iso, iso.parent))


def data_partition(dev: str, number: int, tmp: Path, iso: Path) -> tuple[str, str]:
    """The data partition *number* of a stick on *dev*: its ext4 fills the partition and holds the ISO's squashfs
    and a menu booting the partition by UUID; (label, uuid)."""
    part = f"{dev}p{number}"
    entry = table(Path(dev))["partitions"][number - 1]
    assert sh("blkid", "-p", "-s", "TYPE", "-o", "value", part).strip() == "ext4"
    assert fs_bytes(part) == entry["size"] * 512, "the filesystem fills its partition"
    uuid = sh("blkid", "-p", "-s", "UUID", "-o", "value", part).strip()
    with mounted(part, tmp / f"data{number}") as mnt:
        assert digest(mnt / "LiveOS/squashfs.img") == squashfs_digest(iso)
        cfg = (mnt / "boot/grub2/grub.cfg").read_text()
    assert f"search --no-floppy --fs-uuid --set=root {uuid}" in cfg and f"root=live:UUID={uuid}" in cfg
    return sh("blkid", "-p", "-s", "LABEL", "-o", "value", part).strip(), uuid


def test_writes_a_block_device_after_yes_and_again_over_its_own_stick(iso: Path, tmp_path: Path) -> None:
    """What a user does with a USB stick: the question is answered "yes" on stdin, the whole device is used
    (msdos, ESP, data partition to its end, GRUB in the MBR); then the stick is written again (GPT, no ESP,
    another label) while the kernel still lists the first stick's partitions, and the new ones are used."""
    backing = sparse(tmp_path / "usb.img", 600)
    with loop(backing, partscan=True) as dev:
        proc = run_tool("livecd-iso-to-disk", "--format", str(iso), dev, input="yes\n")
        assert f"All data on {dev} (600 MiB) will be lost. Type 'yes' to continue: " in proc.stderr
        t = table(Path(dev))
        assert t["label"] == "dos"
        esp, data = t["partitions"]
        assert esp["type"] == "ef" and data["type"] == "83" and data.get("bootable") is True
        assert data["start"] + data["size"] == 600 * 2048, "the data partition takes the rest of the device"
        assert sh("blkid", "-p", "-s", "TYPE", "-o", "value", f"{dev}p1").strip() == "vfat"
        assert data_partition(dev, 2, tmp_path, iso)[0] == "LIVE", "upstream's default label"
        assert b"GRUB" in backing.read_bytes()[:512], "GRUB's boot code in the MBR"

        proc = run_tool("livecd-iso-to-disk", "--format", "--efi", "--noesp", "--noverify", "--label", "AGAIN",
                        str(iso), dev, input="yes\n")
        t = table(Path(dev))
        assert t["label"] == "gpt" and [p["type"] for p in t["partitions"]] == [
            "21686148-6449-6E6F-744E-656564454649", "0FC63DAF-8483-4772-8E79-3D69D8477DE4"]
        assert data_partition(dev, 2, tmp_path, iso)[0] == "AGAIN"
        assert sh("blkid", "-p", "-s", "TYPE", "-o", "value", f"{dev}p1").strip() == "", "the BIOS boot partition"
    assert leftovers() == []


def test_an_image_file_is_used_whole_grown_or_cut_to_size_mb(iso: Path, tmp_path: Path) -> None:
    """An existing image file keeps its size and the data partition fills it; --size-mb grows it, or cuts it to
    that size (the GPT's backup header at the new end, nothing of the old stick beyond the last partition)."""
    image = sparse(tmp_path / "grow.raw", 300)
    for size_mb, extra in ((300, []), (400, ["--size-mb", "400"]), (250, ["--size-mb", "250", "--gpt"])):
        run_tool("livecd-iso-to-disk", "--force", "--noverify", "--noefi", *extra, str(iso), str(image))
        assert image.stat().st_size == size_mb * 1024 * 1024, extra
        assert subprocess.run(["sfdisk", "--verify", str(image)], capture_output=True, text=True,
                              check=False).returncode == 0, f"a consistent partition table ({extra})"
        last = table(image)["partitions"][-1]
        backup = 2048 if "--gpt" in extra else 0  # the GPT's last MiB holds its backup
        assert last["start"] + last["size"] == size_mb * 2048 - backup, extra
        with loop(image, partscan=True) as dev:
            label, _ = data_partition(dev, len(table(image)["partitions"]), tmp_path / str(size_mb), iso)
        assert label == "LIVE"


# -- refusals: the message, exit status 1, and nothing written ------------------------------------------------

def test_refuses_an_iso_failing_its_checksum(iso: Path, tmp_path: Path) -> None:
    """One byte of the squashfs changed: checkisomd5 fails and nothing is written (--noverify skips the check)."""
    damaged = tmp_path / "damaged.iso"
    data = bytearray(iso.read_bytes())
    data[len(data) * 6 // 10] ^= 0xFF
    damaged.write_bytes(bytes(data))
    image = tmp_path / "t.raw"
    err = refused(str(damaged), str(image))
    assert "damaged.iso fails its own checksum (checkisomd5): the ISO is damaged. Nothing was written." in err
    assert not image.exists()
    backing = sparse(tmp_path / "usb.img", 600)
    with loop(backing) as dev:
        assert "fails its own checksum" in refused("--format", str(damaged), dev, input="yes\n")
    assert untouched(backing)


@contextlib.contextmanager
def swap_on(dev: str) -> Iterator[None]:
    sh("mkswap", dev)
    if subprocess.run(["swapon", dev], capture_output=True, check=False).returncode != 0:
        pytest.skip("swapon is not allowed here")
    try:
        yield
    finally:
        sh("swapoff", dev, check=False)


def test_refuses_a_partition_a_swap_device_a_block_device_too_small_or_sized(iso: Path, tmp_path: Path) -> None:
    parted = sparse(tmp_path / "parted.img", 64)
    subprocess.run(["sfdisk", "-q", str(parted)], input="start=2048, size=65536\n", text=True, check=True)
    before = digest(parted)
    with loop(parted, partscan=True) as dev:
        err = refused(str(iso), f"{dev}p1", "--force", "--format")
        assert f"{dev}p1 is a partition, and --format repartitions a whole disk" in err
        err = refused(str(iso), dev, "--force", "--size-mb", "64")
        assert "--size-mb is for a disk image file" in err
    assert digest(parted) == before

    small = sparse(tmp_path / "small.img", 64)
    with loop(small) as dev:
        err = refused(str(iso), dev, "--force", "--format")
        assert "The target holds 64 MiB, but the live system with this overlay and home needs at least" in err
    assert untouched(small)

    swap = sparse(tmp_path / "swap.img", 32)
    with loop(swap) as dev, swap_on(dev):
        before = digest(swap)
        err = refused(str(iso), dev, "--force", "--format")
        assert digest(swap) == before
    assert f"{dev} is in use: it (or a partition of it) is used as swap. Swapoff it first" in err


def test_refuses_what_is_no_disk_image(iso: Path, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    assert "is neither a block device nor a regular file" in refused(str(iso), str(folder), "--force")
    assert list(folder.iterdir()) == []
    assert "does not exist" in refused(str(iso), str(tmp_path / "missing/t.raw"), "--force")
    before = digest(iso)
    assert "The target is the ISO itself" in refused(str(iso), str(iso), "--force")
    assert digest(iso) == before


def test_no_answer_is_no(iso: Path, tmp_path: Path) -> None:
    """stdin at its end (a script, a closed terminal) does not confirm."""
    backing = sparse(tmp_path / "usb.img", 600)
    with loop(backing) as dev:
        err = refused("--format", str(iso), dev, input="")
        assert f"Not confirmed: nothing was written to {dev}." in err
        err = refused("--format", str(iso), dev, input="y\n")
        assert "Not confirmed" in err, "only 'yes' confirms"
    assert untouched(backing)


# -- a partition, upstream's default (non-destructive) mode ----------------------------------------------------

def partitioned(path: Path, mib: int, fstype: str, label: str = "") -> Path:
    """A disk image with one msdos partition from 1 MiB to its end, formatted *fstype* (vfat or ext4)."""
    sparse(path, mib)
    subprocess.run(["sfdisk", "-q", str(path)], input="start=2048, type=83\n", text=True, check=True)
    with loop(path, partscan=True) as dev:
        if fstype == "vfat":
            sh("mkfs.vfat", *(["-n", label] if label else []), f"{dev}p1")
        else:
            sh("mkfs.ext4", "-q", *(["-L", label] if label else []), f"{dev}p1")
    return path


def mtype(part: str, path: str) -> str:
    return subprocess.run(["mtype", "-i", part, f"::/{path}"], capture_output=True, text=True, env=MTOOLS_ENV,
                          check=True).stdout


def test_adds_the_live_system_to_a_fat_partition_and_keeps_its_files(iso: Path, tmp_path: Path) -> None:
    """``livecd-iso-to-disk ISO /dev/loopNp1``: the FAT filesystem keeps its label and the user's files, gains
    the ISO's tree and a menu booting it by UUID, the disk's MBR gets GRUB's boot code; a second run asks before
    it replaces the live system (upstream: unless --force) and keeps the files still (tests/boot boots such a
    stick)."""
    disk = partitioned(tmp_path / "fat.img", 400, "vfat", label="MYSTICK")
    with loop(disk, partscan=True) as dev:
        part = f"{dev}p1"
        sh("mmd", "-i", part, "::/Documents")
        subprocess.run(["mcopy", "-i", part, "-", "::/Documents/notes.txt"], input="mine\n", text=True,
                       env=MTOOLS_ENV, check=True)
        before = table(Path(dev))
        run_tool("livecd-iso-to-disk", "--noverify", str(iso), part)
        assert table(Path(dev)) == before, "the partition table is not changed"
        uuid = sh("blkid", "-p", "-s", "UUID", "-o", "value", part).strip()
        assert sh("blkid", "-p", "-s", "LABEL", "-o", "value", part).strip() == "MYSTICK", "its label is kept"
        assert mtype(part, "Documents/notes.txt") == "mine\n"
        cfg = mtype(part, "boot/grub2/grub.cfg")
        assert f"search --no-floppy --fs-uuid --set=root {uuid}" in cfg and f"root=live:UUID={uuid}" in cfg
        listing = sh("mdir", "-/", "-b", "-i", part, "::/")
        for f in ("LiveOS/squashfs.img", "images/pxeboot/vmlinuz", "boot/grub2/i386-pc/normal.mod"):
            assert f"::/{f}" in listing, f
        assert "GRUB" in mtype(part, "EFI/BOOT/grub.cfg") or uuid in mtype(part, "EFI/BOOT/grub.cfg")
        assert b"GRUB" in disk.read_bytes()[:512], "GRUB's boot code in the disk's MBR"
        err = refused("--noverify", "--label", "AGAIN", str(iso), part, input="no\n")
        assert "holds a live system (LiveOS/) already" in err and "Not confirmed" in err
        run_tool("livecd-iso-to-disk", "--noverify", "--label", "AGAIN", str(iso), part, input="yes\n")
        assert sh("blkid", "-p", "-s", "LABEL", "-o", "value", part).strip() == "AGAIN"
        assert mtype(part, "Documents/notes.txt") == "mine\n"
    assert leftovers() == []


def test_partition_mode_refusals(iso: Path, tmp_path: Path) -> None:
    """Before anything is written: a whole device without --format (upstream: name the partition), a partition
    with --format (it formats whole devices), a partition without a FAT or ext filesystem, one too small, one
    mounted, --efi on an msdos disk."""
    disk = partitioned(tmp_path / "p.img", 64, "vfat")
    with loop(disk, partscan=True) as dev:
        before = digest(disk)
        err = refused(str(iso), dev)
        assert f"{dev} is a loop device, not a partition: give the partition" in err and f"{dev}p1" in err
        err = refused("--format", str(iso), f"{dev}p1", "--force")
        assert "is a partition, and --format repartitions a whole disk" in err
        err = refused("--noverify", str(iso), f"{dev}p1")
        assert f"{dev}p1 has" in err and "MiB free" in err and "Nothing was written" in err
        err = refused("--noverify", "--efi", str(iso), f"{dev}p1")
        assert "--efi: the disk of" in err and "msdos partition table" in err
        assert digest(disk) == before
        sh("wipefs", "-a", f"{dev}p1")
        err = refused("--noverify", str(iso), f"{dev}p1")
        assert f"{dev}p1 holds no filesystem: the live system is added to a FAT or ext2/3/4" in err
    ext = partitioned(tmp_path / "busy.img", 64, "ext4")
    with loop(ext, partscan=True) as dev, mounted(f"{dev}p1", tmp_path / "busy"):
        err = refused("--noverify", str(iso), f"{dev}p1")
        assert f"{dev}p1 is in use" in err
    assert leftovers() == []
