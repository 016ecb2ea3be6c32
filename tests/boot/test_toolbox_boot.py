"""An ISO remastered by editliveos boots (BIOS, as a CD) and the live system reports the edit; the PXE tree
livecd-iso-to-pxeboot writes from it boots over the network (QEMU's iPXE ROM and TFTP server, GRUB's PXE image,
the ISO inside the initrd), and so does its HTTP variant (iPXE, the live root's squashfs fetched by dracut's
livenet from an HTTP server on the host).  The edit adds the test distribution's ``initramfs-livenet`` (the
kernel's initramfs with livenet and a network), so that the ISO's initramfs can fetch a root over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.boot.qemu import BootResult, boot, run_qemu
from tests.integration.test_toolbox import build_live
from tests.support import RepoServer, run_tool

pytestmark = [pytest.mark.root, pytest.mark.boot]


@pytest.fixture(scope="module")
def edited_iso(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> Path:
    tmp = tmp_path_factory.mktemp("toolbox-boot")
    base = build_live(tmp, testrepo, "TB-BOOT")
    script = tmp / "edit.sh"
    script.write_text("#!/bin/sh\necho edited-by-script > /etc/live-post\n")
    out = tmp / "TB-EDITED.iso"
    run_tool("editliveos", "-N", str(base), "-o", str(out), "--label", "TB-EDITED", "--package", "demo-app",
             "--package", "rpm", "--package", "initramfs-livenet", "--repo", str(testrepo),
             "--extra-kernel-args", "toolbox.edited=1", "--script", str(script), "-t", str(tmp))
    return out


@pytest.mark.full  # the same edited ISO boots over TFTP by default, with the same checks
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
    assert checks["rpm-count"].isdigit() and int(checks["rpm-count"]) > 5, "rpm, added by editliveos, works"
    assert checks["mount"].startswith("/dev/mapper/live-rw / ")
    assert "/run/initramfs/live iso9660" in result.log, "the ISO from the initrd, loop-mounted"


@pytest.fixture(scope="module")
def http_tree(edited_iso: Path) -> Iterator[tuple[Path, str, RepoServer]]:
    """The tree written with ``--http-url``, served by an HTTP server on the host's 127.0.0.1 (the guest's
    10.0.2.2 in QEMU's user network): the tree, its URL as the guest sees it, the server."""
    tree = edited_iso.parent / "httpboot"
    with RepoServer(tree) as server:  # serves the tree once it is written: its port goes into the tree
        url = f"http://10.0.2.2:{server.url.rsplit(':', 1)[1]}"
        run_tool("livecd-iso-to-pxeboot", str(edited_iso), "-o", str(tree), "--http-url", url)
        yield tree, url, server


def _assert_booted_over_http(result: BootResult, url: str) -> None:
    assert result.ok, result.tail()
    checks = result.checks()
    args = checks["cmdline"].split()
    assert f"root=live:{url}/LiveOS/squashfs.img" in args and "toolbox.edited=1" in args
    assert checks["file /etc/live-post"].rstrip(";") == "edited-by-script"
    assert checks["mount"] == "/dev/mapper/live-rw / ext4 rw", "the rootfs.img inside the downloaded squashfs"
    assert "/run/initramfs/live" not in result.log, "no live medium: the ISO is neither in the initrd nor mounted"


def test_pxe_tree_boots_over_http(http_tree: tuple[Path, str, RepoServer]) -> None:
    """``--http-url`` with iPXE: it runs ``http/boot.ipxe`` (from QEMU's TFTP server), which loads the kernel
    and the plain initrd over HTTP; dracut's livenet gets an address by DHCP from QEMU's user network and
    fetches ``LiveOS/squashfs.img`` from the host's HTTP server."""
    tree, url, server = http_tree
    server.requests.clear()
    result = run_qemu(["-netdev", f"user,id=n0,tftp={tree},bootfile=/http/boot.ipxe",
                       "-device", "virtio-net-pci,netdev=n0", "-boot", "n"], timeout=400)
    _assert_booted_over_http(result, url)
    assert server.requests == ["/vmlinuz", "/http/initrd.img", "/LiveOS/squashfs.img"], \
        "iPXE loaded the kernel and initrd over HTTP, then livenet the squashfs"


@pytest.mark.full
def test_pxe_tree_boots_over_http_from_grub(http_tree: tuple[Path, str, RepoServer]) -> None:
    """The same HTTP variant from pxegrub.0's menu (its second entry: kernel and plain initrd over TFTP, the
    squashfs over HTTP).  The menu's default, the TFTP entry, is switched to it in the tree: nobody picks it."""
    tree, url, server = http_tree
    cfg = tree / "boot" / "grub2" / "grub.cfg"
    text = cfg.read_text()
    assert "menuentry 'Live (network boot, root over HTTP)'" in text
    cfg.write_text(text.replace("set default=0\n", "set default=1\n"))
    server.requests.clear()
    try:
        result = run_qemu(["-netdev", f"user,id=n0,tftp={tree},bootfile=/pxegrub.0",
                           "-device", "virtio-net-pci,netdev=n0", "-boot", "n"], timeout=400)
    finally:
        cfg.write_text(text)
    _assert_booted_over_http(result, url)
    assert server.requests == ["/LiveOS/squashfs.img"]
