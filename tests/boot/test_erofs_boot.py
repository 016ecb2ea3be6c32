"""EROFS live roots boot: the test distribution's initramfs (dracut 059 plus testdistro's dmsquash-live-erofs
module, modelled on dracut 103) mounts an EROFS LiveOS/squashfs.img, flat (overlayfs) on BIOS and holding
LiveOS/rootfs.img (dm snapshot) on UEFI, and the booted system passes the same checks as a squashfs live ISO."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests import isoinspect
from tests.boot.test_live_iso import NOMINAL_MIB, assert_boots, assert_live_system, build_iso

pytestmark = [pytest.mark.root, pytest.mark.boot]


def fstype(image: Path) -> str:
    return subprocess.run(["blkid", "-p", "-s", "TYPE", "-o", "value", str(image)], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_boot_flat_erofs_lz4hc_bios(tmp_path: Path, testrepo: Path) -> None:
    iso = build_iso(tmp_path, testrepo, "LIVE-EROFS-FLAT", "--rootfs-type", "erofs", "--compression-type", "lz4hc")
    assert fstype(isoinspect.squashfs_image(iso, tmp_path)) == "erofs"
    # The overlay's upper layer is a tmpfs of 20% of RAM: 3 GiB give it room for the 512 MiB write.
    checks = assert_boots(iso, "bios", "fstype=overlay", memory=3072)
    assert_live_system(checks, iso, isoinspect.read_text(iso, "/boot/grub2/grub.cfg"), min_root_kib=560 * 1024)


def test_boot_erofs_ext4_lz4_uefi(tmp_path: Path, testrepo: Path) -> None:
    iso = build_iso(tmp_path, testrepo, "LIVE-EROFS-EXT4", "--rootfs-type", "erofs-ext4", "--compression-type", "lz4")
    assert fstype(isoinspect.squashfs_image(iso, tmp_path)) == "erofs"
    checks = assert_boots(iso, "uefi", "root=/dev/mapper/live-rw")
    assert_live_system(checks, iso, isoinspect.read_text(iso, "/EFI/BOOT/grub.cfg"),
                       min_root_kib=NOMINAL_MIB * 1024 * 95 // 100)
