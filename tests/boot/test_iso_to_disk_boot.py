"""A live ISO written to a disk image by livecd-iso-to-disk boots from it in QEMU (TCG), BIOS and UEFI, with the
live root from the stick's data partition; and what the live system writes survives a reboot with the
persistent overlay and home (and liveimage-mount shows it on the host), and is gone without them.

The sticks carry ``livecheck.persist=write`` (``--extra-kernel-args``): the test distribution's live check
reports the markers an earlier boot left, then writes those missing (testdistro/README.md), and the live
system unmounts and syncs before it powers off.  Four boots by default, nine more in the full run.

The sticks' ISO is the real-userland flavour (``userland_repo``): its initramfs was made by dracut inside the
image, and the stick boots with it.  Its kickstart names ``dracut-network`` too (Fedora's package of dracut's
network modules; here it also brings livenet, testdistro/README.md), so the initramfs the image's dracut made has
livecd-creator's default ``livenet`` and the network modules it needs: read from the ISO's initrd with lsinitrd
(no boot), and from the booted system's report.  Without dracut-network livenet is left out
(tests/boot/test_boot_test.py::test_livecd_boot_test_passes).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests import disks, isoinspect
from tests.boot.qemu import BootResult, run_qemu
from tests.support import USERLAND_LIVE_PACKAGES, build_live, leak_snapshot, run_tool

pytestmark = [pytest.mark.root, pytest.mark.boot]

MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}

def build_iso(tmp: Path, repo: Path, label: str, *extra: str, packages: str = "") -> Path:
    return build_live(tmp, repo, label, "--compression-type", "lz4", *extra, packages=packages)


@pytest.fixture(scope="module")
def iso(tmp_path_factory: pytest.TempPathFactory, userland_repo: Path) -> Path:
    return build_iso(tmp_path_factory.mktemp("i2d-boot"), userland_repo, "STICK",
                     packages=f"{USERLAND_LIVE_PACKAGES}\ndracut-network")


def stick(iso: Path, path: Path, *options: str) -> Path:
    run_tool("livecd-iso-to-disk", "--force", "--extra-kernel-args", "livecheck.persist=write", str(iso),
             str(path), *options)
    return path


def boot(disk: Path, uefi: bool = False) -> tuple[BootResult, dict[str, str]]:
    """Boot *disk* writably (what the live system writes reaches the image) until the guest powers off."""
    result = run_qemu(["-drive", f"file={disk},format=raw,if=virtio"], uefi=uefi, wait_exit=True, timeout=360)
    assert result.ok, result.tail(80)
    return result, result.checks()


def mounts(log: str) -> dict[str, tuple[str, str]]:
    """mountpoint -> (fstype, rw|ro) from the ``LIVECD-TOOLS-CHECK mount:`` lines."""
    found = {}
    for line in log.splitlines():
        if "LIVECD-TOOLS-CHECK mount: " in line:
            _, mountpoint, fstype, mode = line.split("LIVECD-TOOLS-CHECK mount: ", 1)[1].split()[:4]
            found[mountpoint] = (fstype, mode)
    return found


def on_host(disk: Path, tmp: Path, *command: str) -> str:
    """Run *command* in the stick's live root mounted on the host by liveimage-mount; its output."""
    mnt = tmp / "mnt"
    mnt.mkdir(exist_ok=True)
    out = run_tool("liveimage-mount", "--tmpdir", str(tmp), str(disk), str(mnt), *command).stdout
    leak_snapshot().under(tmp).assert_none()
    return out


def _digest(path: Path) -> str:
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True).stdout
    return out.split()[0]


def test_stick_without_persistence_boots_and_forgets(iso: Path, tmp_path: Path) -> None:
    """A plain stick boots its live tree read-only from its ext4 partition, and what the live system wrote (its
    persistence marker, in RAM) left no trace on the stick: not a byte of it changed.  Booting it again to see
    nothing come back is the full run's (test_stick_without_persistence_forgets_on_the_next_boot)."""
    disk = stick(iso, tmp_path / "plain.raw", "--size-mb", "600")
    before = _digest(disk)
    _plain_first_boot(disk)
    assert _digest(disk) == before, "the live system wrote nothing to the stick"


@pytest.mark.full
def test_stick_without_persistence_forgets_on_the_next_boot(iso: Path, tmp_path: Path) -> None:
    disk = stick(iso, tmp_path / "plain.raw", "--size-mb", "600")
    _plain_first_boot(disk)
    _, again = boot(disk)
    assert again["persist-marker"] == "none" and again["home-marker"] == "none", "nothing persisted"


def _plain_first_boot(disk: Path) -> tuple[BootResult, dict[str, str]]:
    first, checks = boot(disk)
    assert checks["cmdline"].split()[1].startswith("root=live:UUID="), checks["cmdline"]
    assert "rd.live.overlay" not in checks["cmdline"] and " ro " in checks["cmdline"]
    assert "/run/initramfs/live ext4" in first.log, "the live tree came from the stick's ext4 data partition"
    assert "/home" not in mounts(first.log)
    assert checks["persist-marker"] == "none", checks
    assert checks.get("initramfs-made-in") == "testdistro", "the stick boots the initramfs made in the image"
    assert {"dmsquash-live", "livenet"} <= set(checks["initramfs-modules"].split()), checks
    return first, checks


def test_the_isos_initramfs_has_livenet_from_dracut_network(iso: Path, tmp_path: Path) -> None:
    """The kickstart asked for dracut-network: the kernel's %posttrans dracut in the image put livecd-creator's
    default livenet in, with network (network-legacy: the image's dhclient) and url-lib (its curl)."""
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(isoinspect.read(iso, "/images/pxeboot/initrd.img"))
    listing = subprocess.run(["lsinitrd", str(initrd)], capture_output=True, text=True, check=True).stdout
    modules = listing.split("dracut modules:", 1)[1].split("=====", 1)[0].split()  # the header, then the files
    assert {"livenet", "network", "network-legacy", "url-lib", "dmsquash-live", "testdistro-made-in"} <= \
        set(modules), modules
    assert "usr/sbin/dhclient" in listing and "usr/bin/curl" in listing


ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"


def fat_partition_stick(iso: Path, disk: Path, table: str, *mkfs: str) -> Path:
    """Upstream's default, non-destructive mode as a user meets it: a disk whose partition table sfdisk makes
    from *table*, its first partition FAT (``mkfs.vfat`` *mkfs*, labelled USBSTICK) holding a user's file,
    attached with ``losetup -P``, then ``livecd-iso-to-disk ISO /dev/loopNp1``: the live system added next to
    the file."""
    with open(disk, "wb") as f:
        f.truncate(700 << 20)
    subprocess.run(["sfdisk", "-q", str(disk)], input=table, text=True, check=True)
    dev = subprocess.run(["losetup", "--find", "--show", "-P", str(disk)], capture_output=True, text=True,
                         check=True).stdout.strip()
    try:
        if not Path(f"{dev}p1").exists():
            subprocess.run(["partx", "--add", dev], check=True)
        subprocess.run(["mkfs.vfat", *mkfs, "-n", "USBSTICK", f"{dev}p1"], check=True, capture_output=True)
        subprocess.run(["mcopy", "-i", f"{dev}p1", "-", "::/notes.txt"], input="mine\n", text=True, env=MTOOLS_ENV,
                       check=True)
        run_tool("livecd-iso-to-disk", "--noverify", "--extra-kernel-args", "livecheck.persist=write", str(iso),
                 f"{dev}p1")
    finally:
        subprocess.run(["losetup", "-d", dev], check=True)
    return disk


def assert_booted_from_the_fat_partition(disk: Path, result: BootResult, checks: dict[str, str]) -> None:
    assert "/run/initramfs/live vfat" in result.log, "the live tree came from the FAT partition"
    assert checks["persist-marker"] == "none", checks
    notes = subprocess.run(["mtype", "-i", f"{disk}@@1M", "::/notes.txt"], capture_output=True, text=True,
                           env=MTOOLS_ENV, check=True).stdout
    assert notes == "mine\n", "the user's file is still there"


def test_live_system_added_to_a_fat_partition_boots_and_its_files_stay(iso: Path, tmp_path: Path) -> None:
    """An msdos disk with one FAT partition: the disk boots with BIOS (GRUB's boot code in its MBR) from it."""
    disk = fat_partition_stick(iso, tmp_path / "fat.img", "start=2048, type=c\n")
    assert_booted_from_the_fat_partition(disk, *boot(disk))


@pytest.mark.full
def test_live_system_added_to_a_gpt_disks_fat_esp_boots_on_uefi(iso: Path, tmp_path: Path) -> None:
    """A GPT disk with one FAT32 partition of the EFI system type, as a user prepares a stick for UEFI (no BIOS
    boot partition: GRUB's BIOS code is left out with a warning): the firmware starts the ISO's EFI/BOOT from
    that partition, its grub.cfg finds the partition by UUID, and the live root comes from it."""
    disk = fat_partition_stick(iso, tmp_path / "gpt-fat.img", f"label: gpt\nstart=2048, type={ESP_TYPE}\n", "-F", "32")
    assert_booted_from_the_fat_partition(disk, *boot(disk, uefi=True))


@pytest.mark.full
def test_stick_boots_on_uefi(iso: Path, tmp_path: Path) -> None:
    disk = stick(iso, tmp_path / "uefi.raw", "--gpt")
    result, checks = boot(disk, uefi=True)
    assert "/run/initramfs/live ext4" in result.log and checks["persist-marker"] == "none"


def test_overlay_and_home_persist_from_a_bios_boot_to_a_uefi_boot(iso: Path, tmp_path: Path) -> None:
    disk = stick(iso, tmp_path / "persist.raw", "--overlay-size-mb", "64", "--home-size-mb", "64",
                 "--unencrypted-home")
    first, checks = boot(disk)
    assert "rd.live.overlay=UUID=" in checks["cmdline"] and " rw " in checks["cmdline"]
    assert "Unable to find a persistent overlay" not in first.log
    assert mounts(first.log)["/home"] == ("ext4", "rw"), first.log
    assert mounts(first.log)["/run/initramfs/live"] == ("ext4", "rw")
    assert checks["persist-marker"] == "none" and checks["home-marker"] == "none", checks
    assert "fstab-failed" not in checks

    _, again = boot(disk, uefi=True)
    written = again["persist-marker"]
    assert written.startswith("boot-") and again["home-marker"] == written, again

    seen = on_host(disk, tmp_path, "sh", "-c", "cat var/lib/livecheck/persist-marker home/livecheck-home-marker")
    assert seen.split() == [written, written], "liveimage-mount shows the stick's overlay (dm COW) and home"


@pytest.mark.full
def test_flat_squashfs_overlay_persists(tmp_path: Path, testrepo: Path) -> None:
    """The flat layout's overlay is an overlayfs in an ext4 image (rd.live.overlay.overlayfs)."""
    flat = build_iso(tmp_path, testrepo, "STICK-FLAT", "--flat-squashfs")
    disk = stick(flat, tmp_path / "flat.raw", "--gpt", "--overlay-size-mb", "64")
    first, checks = boot(disk)
    assert mounts(first.log)["/"][0] == "overlay" and checks["persist-marker"] == "none"
    _, again = boot(disk)
    assert again["persist-marker"].startswith("boot-"), again
    seen = on_host(disk, tmp_path, "cat", "var/lib/livecheck/persist-marker")
    assert seen.strip() == again["persist-marker"]


def _overlayfs_stick_booted_once(iso: Path, tmp_path: Path) -> Path:
    """A ``--overlayfs`` stick (upstream's meaning on an ext4 stick: the overlay is a folder
    LiveOS/overlay-<label>-<uuid> with ovlwork/ beside it on the data partition, dracut's
    rd.live.overlay.overlayfs; --overlay-size-mb only makes room for it), booted once: the root is that overlay
    and no earlier boot left a marker."""
    disk = stick(iso, tmp_path / "ovlfs.raw", "--overlayfs", "--overlay-size-mb", "64", "--label", "OVLFS")
    first, checks = boot(disk)
    assert "rd.live.overlay.overlayfs" in checks["cmdline"].split() and " rw " in checks["cmdline"]
    assert mounts(first.log)["/"][0] == "overlay", first.log
    assert "Unable to find a persistent overlay" not in first.log
    assert checks["persist-marker"] == "none", checks
    return disk


def _marker_in_overlay_folder(disk: Path) -> str:
    """The persistence marker as it stands in the stick's overlay folder (read with debugfs, nothing mounted),
    after checking that the folder and ovlwork/ are where dracut looks for them."""
    with disks.attached(disk) as dev:
        uuid = disks.blkid(f"{dev}p2", "UUID")
        listing = disks.debugfs(f"{dev}p2", "ls -l /LiveOS")
        seen = disks.debugfs(f"{dev}p2", f"cat /LiveOS/overlay-OVLFS-{uuid}/var/lib/livecheck/persist-marker")
    assert re.search(rf"^\s*\d+\s+40755 .* overlay-OVLFS-{uuid}\s*$", listing, re.M), listing
    assert re.search(r"^\s*\d+\s+40755 .* ovlwork\s*$", listing, re.M), listing
    return seen.strip()


def test_overlayfs_folder_overlay_persists(iso: Path, tmp_path: Path) -> None:
    """What the live system wrote on its first boot is in the overlay folder on the stick once it powered off
    (the marker names that boot: only the guest could have written it).  The next boot reading it back is the
    full run's (test_overlayfs_folder_overlay_is_read_back_by_the_next_boot): one boot of this path by default."""
    disk = _overlayfs_stick_booted_once(iso, tmp_path)
    assert re.fullmatch(r"boot-[0-9a-f-]{36}", _marker_in_overlay_folder(disk))


@pytest.mark.full
def test_overlayfs_folder_overlay_is_read_back_by_the_next_boot(iso: Path, tmp_path: Path) -> None:
    disk = _overlayfs_stick_booted_once(iso, tmp_path)
    _, again = boot(disk)
    written = again["persist-marker"]
    assert written.startswith("boot-"), again
    assert _marker_in_overlay_folder(disk) == written, "the write is in the overlay folder on the stick"


def choose_entry(disk: Path, tmp: Path, number: int) -> None:
    """Make the stick's GRUB menu boot its entry *number* (0 first) by default, as a user picks it at the menu."""
    dev = subprocess.run(["losetup", "--find", "--show", "--partscan", str(disk)], capture_output=True, text=True,
                         check=True).stdout.strip()
    mnt = tmp / "menu"
    mnt.mkdir(exist_ok=True)
    try:
        if not Path(f"{dev}p2").exists():
            subprocess.run(["partx", "--add", dev], check=True, capture_output=True)
        subprocess.run(["mount", f"{dev}p2", str(mnt)], check=True)
        try:
            cfg = mnt / "boot/grub2/grub.cfg"
            cfg.write_text(re.sub(r"^set default=\d+", f"set default={number}", cfg.read_text(), flags=re.M))
        finally:
            subprocess.run(["umount", str(mnt)], check=True)
    finally:
        subprocess.run(["losetup", "--detach", dev], check=True)


@pytest.mark.full
def test_multi_both_systems_boot(iso: Path, tmp_path: Path) -> None:
    """--multi --livedir Sys2 on a stick: the new system boots from its folder (its menu entry first, the
    default), and the first system still boots from LiveOS/ (its entry, second, chosen)."""
    disk = stick(iso, tmp_path / "multi.raw", "--size-mb", "1200")
    stick(iso, disk, "--multi", "--livedir", "Sys2")
    _, second = boot(disk)
    args = second["cmdline"].split()
    assert args[0] == "BOOT_IMAGE=/Sys2/boot/vmlinuz" and "rd.live.dir=Sys2" in args, second
    choose_entry(disk, tmp_path, 1)
    _, first = boot(disk)
    args = first["cmdline"].split()
    assert args[0] != "BOOT_IMAGE=/Sys2/boot/vmlinuz" and not any(a.startswith("rd.live.dir") for a in args), first
    assert args[1].startswith("root=live:UUID="), first
