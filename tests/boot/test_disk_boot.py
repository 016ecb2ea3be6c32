"""Disk images boot in QEMU (TCG): a GPT disk with BIOS and with UEFI (OVMF), an msdos disk with BIOS, and a
qcow2 conversion, each to the test distribution's marker with / mounted read-write from the partition whose
UUID fstab names, and /boot/efi mounted where the disk has an ESP.  The msdos disk is the real-userland flavour:
its initramfs was made by the image's dracut and its GRUB written by the image's grub2 tools.  It is booted by
appliance-creator itself (``--boot-test``) with its three tuning options set to values the test reads back: a
pattern the default would never meet (this init prints no login prompt), a timeout and the guest's memory."""

from __future__ import annotations

import pytest

from tests.boot.qemu import BootResult, boot, reported_mounts
from tests.disks import MSDOS_BOOT_TEST_EXPECT as EXPECT
from tests.disks import MSDOS_BOOT_TEST_MEMORY as MEMORY
from tests.disks import MSDOS_BOOT_TEST_TIMEOUT as TIMEOUT
from tests.disks import Disk, attached, blkid

pytestmark = [pytest.mark.root, pytest.mark.boot]


@pytest.mark.parametrize("mode", ["disk-bios", "disk-uefi"])
def test_gpt_disk_boots(mode: str, gpt_disk: Disk) -> None:
    raw = gpt_disk.file("-sda.raw")
    with attached(raw) as dev:
        root_uuid = blkid(f"{dev}p4", "UUID")
    result = boot(raw, mode)
    assert result.ok, result.tail()
    checks = result.checks()
    mounts = reported_mounts(result.log)
    assert checks.get("root-uuid") == root_uuid, checks
    assert mounts["/"][1:] == ("ext4", "rw"), mounts
    assert mounts["/boot"][1] == "ext4" and mounts["/boot/efi"][1] == "vfat", mounts
    assert f"root=UUID={root_uuid}" in checks["cmdline"]


def test_msdos_qcow2_disk_boots(msdos_disk: Disk) -> None:
    log = (msdos_disk.out / "msdosdisk.boot-bios.log").read_text(errors="replace")
    result = BootResult(True, log, 0.0, "")
    assert not (msdos_disk.out / "msdosdisk.boot-uefi.log").exists(), "BIOS only: the disk has no ESP"
    err = msdos_disk.proc.stderr
    assert f"(TCG, {MEMORY} MiB), up to {TIMEOUT} s for {EXPECT!r}" in err, "the progress names the settings"
    assert f" -m {MEMORY} " in log and "format=qcow2,if=virtio,snapshot=on" in log, "QEMU ran the qcow2 so"
    (passed,) = [line for line in err.splitlines() if "Boot test passed on BIOS in " in line]
    assert passed.rstrip().endswith("fstype=xfs") and "LIVECD-TOOLS-BOOT-OK root=/dev/vda" in passed, passed
    # Stopped at the match, not at the timeout: by the runner, or by the guest itself when it powered off (its
    # check script's last step) before the runner's next look at the serial log.
    assert "; matched " in log and ("QEMU was stopped" in log or "QEMU exited with status 0" in log), log[-400:]
    mounts = reported_mounts(result.log)
    assert mounts["/"][1:] == ("xfs", "rw"), mounts
    assert "/boot/efi" not in mounts
    checks = result.checks()
    assert checks.get("initramfs-made-in") == "testdistro", "the image's dracut made the initramfs it booted"
    modules = checks["initramfs-modules"].split()
    assert "rootfs-block" in modules and "dmsquash-live" not in modules, "a disk's generic initramfs: " + str(modules)
