"""An aarch64 disk and an aarch64 live ISO built on this x86_64 machine boot in qemu-system-aarch64
(-machine virt -cpu cortex-a57, TCG) on the AAVMF UEFI firmware: the disk from GRUB's BOOTAA64.EFI on its ESP,
Debian's arm64 kernel and the test distribution's busybox initramfs, / mounted read-write from the partition
fstab names, /boot/efi mounted; the ISO as a CD from its EFI El Torito image to its live root.  Each booted
system reports its architecture, its root's size and a write, and its rpm database.  30-60 s of emulated boot
each: the disk boots in the default run (one boot for the cross-architecture path), the ISO in the full run
(tests/integration/test_cross_arch.py reads the same ISO in the default run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.boot.qemu import boot, reported_mounts
from tests.disks import Disk, attached, blkid

pytestmark = [pytest.mark.root, pytest.mark.boot]  # the disk boots in the default run: one boot for the path


def test_aarch64_disk_boots_on_aavmf(aarch64_disk: Disk) -> None:
    raw = aarch64_disk.file("-sda.raw")
    with attached(raw) as dev:
        root_uuid = blkid(f"{dev}p2", "UUID")
    result = boot(raw, "disk-uefi", timeout=600, memory=1024, arch="aarch64")
    assert result.ok, result.tail()
    checks = result.checks()
    assert checks["arch"] == "aarch64", checks
    assert checks.get("root-uuid") == root_uuid, checks
    mounts = reported_mounts(result.log)
    assert mounts["/"] == ("/dev/vda2", "ext4", "rw"), mounts
    assert mounts["/boot/efi"][1] == "vfat", mounts
    size_kib = int(checks["df-before"].split()[0].split("=")[1])
    assert 250 * 1024 < size_kib <= 300 * 1024, f"the 300 MiB root: {checks['df-before']}"
    assert checks["write"].startswith("mib=16 status=0 bytes=16777216"), checks["write"]
    assert checks["rpmdb"].startswith("/var/lib/rpm/rpmdb.sqlite") and "header=SQLite format 3" in checks["rpmdb"]
    assert "fstab-failed" not in checks, checks
    assert "aarch64" in result.log and "console=ttyAMA0" in checks["cmdline"]


@pytest.mark.full
def test_aarch64_live_iso_boots_on_aavmf(aarch64_iso: Path) -> None:
    """The ISO as a CD on virtio-scsi (the virt board has no IDE), UEFI El Torito, GRUB's BOOTAA64.EFI, the live
    root (squashfs holding rootfs.img under a RAM overlay) found by its label."""
    result = boot(aarch64_iso, "uefi", timeout=600, memory=1536, arch="aarch64")
    assert result.ok, result.tail()
    checks = result.checks()
    assert checks["arch"] == "aarch64", checks
    assert "root=live:CDLABEL=A64LIVE" in checks["cmdline"] and "console=ttyAMA0" in checks["cmdline"]
    mounts = reported_mounts(result.log)
    assert mounts["/"][1:] == ("overlay", "rw") and mounts["/run/initramfs/live"][1] == "iso9660", mounts
    assert mounts["/run/rootfsbase"][1] == "ext4", "LiveOS/rootfs.img inside the squashfs"
    assert int(checks["df-before"].split()[0].split("=")[1]) > 0, checks["df-before"]
    assert checks["write"].startswith("mib=16 status=0 bytes=16777216"), checks["write"]
    assert "header=SQLite format 3" in checks["rpmdb"], checks
