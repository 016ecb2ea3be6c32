"""The two clients of upstream's API (tests/integration/test_upstream_client.py) build images that boot (issue 24).

The appliance-style client installs a real boot loader the way such a client would, in ``_create_bootconfig``
with public API only (``imgcreate.util.call`` on host tools): the host's extlinux on its ext4 /boot partition,
reading the extlinux.conf the client writes, and syslinux's mbr.bin in the disk's MBR (the client's partition
table marks /boot active).  Its qcow2 boots on BIOS with / mounted read-write from the root partition's UUID.
The live client's ISO boots with what its hooks and settings changed: lz4 squashfs, a file it put on the ISO, and
kernel arguments its ``_get_kernel_options`` override adds to the boot menus.  Both are second boots of paths the
default run boots already (a disk on BIOS, a live ISO on BIOS): full run only.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from imgcreate import util
from tests import isoinspect
from tests.boot.qemu import MARKER, boot, reported_mounts
from tests.disks import BOOT_APPEND, attached, blkid
from tests.integration.test_upstream_client import (
    BrandedLiveCreator,
    PartitionedCreator,
    assert_branded,
    build_client,
    build_live_client,
)

pytestmark = [pytest.mark.root, pytest.mark.boot, pytest.mark.full]

SYSLINUX_MBR = "/usr/lib/syslinux/mbr/mbr.bin"  # Debian's syslinux-common; Fedora's syslinux: /usr/share/syslinux
CLIENT_ARG = "branded.client=1"


class BootableClient(PartitionedCreator):
    """The appliance-style client with a boot loader: extlinux on /boot, syslinux's MBR code on the disk."""

    def _create_bootconfig(self) -> None:
        PartitionedCreator._create_bootconfig(self)  # writes /boot/extlinux/extlinux.conf
        if util.call(["extlinux", "--install", self._instroot + "/boot/extlinux"]) != 0:
            raise RuntimeError("extlinux --install failed")
        if util.call(["dd", f"if={SYSLINUX_MBR}", f"of={self._partition_device(0)}", "bs=440", "count=1",
                      "conv=notrunc"]) != 0:
            raise RuntimeError("writing syslinux's MBR failed")


class BootBrandedLiveCreator(BrandedLiveCreator):
    """The live client, adding a kernel argument through upstream's ``_get_kernel_options`` hook."""

    def _get_kernel_options(self) -> str:
        return BrandedLiveCreator._get_kernel_options(self) + " " + CLIENT_ARG


def test_appliance_client_disk_boots(tmp_path: Path, testrepo: Path) -> None:
    qcow2, _ = build_client(BootableClient, tmp_path, testrepo, append=BOOT_APPEND)
    raw = tmp_path / "client.raw"
    assert util.call(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(qcow2), str(raw)]) == 0
    with attached(raw) as dev:
        root_uuid = blkid(f"{dev}p2", "UUID")
        boot_uuid = blkid(f"{dev}p1", "UUID")
    result = boot(qcow2, "disk-bios")
    assert result.ok, f"the client's qcow2 did not boot to {MARKER}; serial console tail:\n{result.tail()}"
    checks = result.checks()
    assert checks.get("root-uuid") == root_uuid, checks
    assert f"root=UUID={root_uuid}" in checks["cmdline"] and BOOT_APPEND in checks["cmdline"], checks
    mounts = reported_mounts(result.log)
    assert mounts["/"][1:] == ("ext4", "rw"), mounts
    assert mounts["/boot"][1] == "ext4", "the client's fstab mounted its /boot partition: " + str(mounts)
    assert boot_uuid != root_uuid


def test_live_client_iso_boots(tmp_path: Path, testrepo: Path) -> None:
    creator, iso = build_live_client(BootBrandedLiveCreator, tmp_path, testrepo,
                                     ks_extra=f'bootloader --timeout 1 --append="{BOOT_APPEND}"\n')
    assert_branded(iso, creator, tmp_path)
    assert CLIENT_ARG in isoinspect.read_text(iso, "/boot/grub2/grub.cfg")
    result = boot(iso, "bios")
    assert result.ok, f"{iso.name} did not boot to {MARKER}; serial console tail:\n{result.tail()}"
    assert "root=/dev/mapper/live-rw" in result.line, result.line
    checks = result.checks()
    cmdline = checks["cmdline"].split()
    assert CLIENT_ARG in cmdline and "root=live:CDLABEL=BRANDED" in cmdline, checks
    assert checks["os-release"] == "testdistro-1", checks
    assert re.search(r"\bconsole=ttyS0", checks["cmdline"]), checks
