"""EROFS live roots boot: the test distribution's initramfs (dracut 059 plus testdistro's dmsquash-live-erofs
module, modelled on dracut 103) mounts an EROFS LiveOS/squashfs.img, flat (overlayfs) and holding
LiveOS/rootfs.img (dm snapshot), each on BIOS and UEFI, and the booted system passes the same checks as a
squashfs live ISO."""

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


@pytest.fixture(scope="module")
def flat_erofs(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> Path:
    tmp = tmp_path_factory.mktemp("erofs-flat")
    iso = build_iso(tmp, testrepo, "LIVE-EROFS-FLAT", "--rootfs-type", "erofs", "--compression-type", "lz4hc")
    assert fstype(isoinspect.squashfs_image(iso, tmp)) == "erofs"
    return iso


@pytest.fixture(scope="module")
def ext4_erofs(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> Path:
    tmp = tmp_path_factory.mktemp("erofs-ext4")
    iso = build_iso(tmp, testrepo, "LIVE-EROFS-EXT4", "--rootfs-type", "erofs-ext4", "--compression-type", "lz4")
    assert fstype(isoinspect.squashfs_image(iso, tmp)) == "erofs"
    return iso


def _menu(mode: str) -> str:
    return "/EFI/BOOT/grub.cfg" if mode == "uefi" else "/boot/grub2/grub.cfg"


# Each layout boots on one firmware by default and on the other in the full run (LIVECD_TOOLS_FULL=1).
@pytest.mark.parametrize("mode", ["bios", pytest.param("uefi", marks=pytest.mark.full)])
def test_boot_flat_erofs_lz4hc(mode: str, flat_erofs: Path) -> None:
    # The overlay's upper layer is a tmpfs of 20% of RAM: 3 GiB give it room for the 512 MiB write.
    checks = assert_boots(flat_erofs, mode, "fstype=overlay", memory=3072)
    assert_live_system(checks, flat_erofs, isoinspect.read_text(flat_erofs, _menu(mode)), min_root_kib=560 * 1024)


@pytest.mark.parametrize("mode", ["uefi", pytest.param("bios", marks=pytest.mark.full)])
def test_boot_erofs_ext4_lz4(mode: str, ext4_erofs: Path) -> None:
    checks = assert_boots(ext4_erofs, mode, "root=/dev/mapper/live-rw")
    assert_live_system(checks, ext4_erofs, isoinspect.read_text(ext4_erofs, _menu(mode)),
                       min_root_kib=NOMINAL_MIB * 1024 * 95 // 100)
