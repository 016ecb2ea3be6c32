"""An ISO remastered by editliveos boots (BIOS, as a CD) and the live system reports the edit; the PXE tree
livecd-iso-to-pxeboot writes from it boots over the network (QEMU's iPXE ROM and TFTP server, GRUB's PXE image,
the ISO inside the initrd)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.boot.qemu import boot, run_qemu
from tests.integration.test_toolbox import build_live
from tests.support import run_tool

pytestmark = [pytest.mark.root, pytest.mark.boot]


@pytest.fixture(scope="module")
def edited_iso(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> Path:
    tmp = tmp_path_factory.mktemp("toolbox-boot")
    base = build_live(tmp, testrepo, "TB-BOOT")
    script = tmp / "edit.sh"
    script.write_text("#!/bin/sh\necho edited-by-script > /etc/live-post\n")
    out = tmp / "TB-EDITED.iso"
    run_tool("editliveos", str(base), "-o", str(out), "--label", "TB-EDITED", "--package", "demo-app",
             "--package", "rpm", "--repo", str(testrepo), "--extra-kernel-args", "toolbox.edited=1",
             "--script", str(script), "-t", str(tmp))
    return out


def test_edited_iso_boots_and_reports_the_edit(edited_iso: Path) -> None:
    result = boot(edited_iso, "bios", timeout=300)
    assert result.ok, result.tail()
    checks = result.checks()
    args = checks["cmdline"].split()
    assert "root=live:CDLABEL=TB-EDITED" in args and "toolbox.edited=1" in args
    assert checks["file /etc/live-post"].rstrip(";") == "edited-by-script", "the script ran in the root"
    assert checks["rpm-count"].isdigit() and int(checks["rpm-count"]) > 5, "rpm, added by editliveos, works"


def test_pxe_tree_boots_over_tftp(edited_iso: Path) -> None:
    tree = edited_iso.parent / "tftpboot"
    run_tool("livecd-iso-to-pxeboot", str(edited_iso), "-o", str(tree))
    result = run_qemu(["-netdev", f"user,id=n0,tftp={tree},bootfile=/pxegrub.0",
                       "-device", "virtio-net-pci,netdev=n0", "-boot", "n"], timeout=400)
    assert result.ok, result.tail()
    checks = result.checks()
    assert "root=live:/TB-EDITED.iso" in checks["cmdline"].split()
    assert "toolbox.edited=1" in checks["cmdline"].split()
    assert checks["file /etc/live-post"].rstrip(";") == "edited-by-script"
    assert checks["mount"].startswith("/dev/mapper/live-rw / ")
    assert "/run/initramfs/live iso9660" in result.log, "the ISO from the initrd, loop-mounted"
