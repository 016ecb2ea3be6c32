"""Live ISOs built for real from the test distribution, inspected without mounting, then booted in QEMU.

Each ISO is built once per module and booted in every way it must boot.  A failed boot prints the tail of
the serial console.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests import isoinspect
from tests.boot.qemu import MARKER, boot
from tests.support import images_in, run_tool

pytestmark = pytest.mark.root

NOMINAL_MIB = 1024  # part / --size of the syslinux and flat ISOs
DEFAULT_ROOT_MIB = 4096  # the GRUB ISO's kickstart has no "part /": upstream's default root size
KS = """
lang en_US.UTF-8
{part}network --hostname=live-check.example.com
bootloader --timeout 1 --append="console=ttyS0,115200 rd.shell=0 rd.emergency=poweroff"
repo --name=testdistro --baseurl=file://{repo}
%packages --excludedocs --instLangs=de
@core
kernel
rpm
%end
%post
echo live-post-ran > /etc/live-post
%end
%post --nochroot
echo "from nochroot" > "$LIVE_ROOT/extra-file.txt"
%end
"""

KERNEL_ARGS = "root=live:CDLABEL={label} rootfstype=auto ro rd.live.image"


def build_iso(tmp: Path, repo: Path, label: str, *extra: str, nominal: int | None = NOMINAL_MIB) -> Path:
    """livecd-creator with :data:`KS`; *nominal* None leaves ``part /`` out (the default root size)."""
    ks = tmp / "live.ks"
    ks.write_text(KS.format(repo=repo, part="" if nominal is None else f"part / --size {nominal}\n"))
    out = tmp / "out"
    logfile = tmp / "build.log"
    run_tool("livecd-creator", "--config", str(ks), "--fslabel", label, "--title", "Test Title",
             "--product", "Testdistro", "--tmpdir", str(tmp), "--output", str(out), "--logfile", str(logfile),
             *extra)
    assert [p.name for p in images_in(out)] == [f"{label}.iso"], "only the finished ISO (and its manifest)"
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{label}.iso", f"{label}-CHECKSUM", f"{label}.packages",
                                                            f"{label}.flattened.ks"])
    assert not list(tmp.glob("imgcreate-*")), "build directory removed"
    return out / f"{label}.iso"


def installed_at_build(iso: Path) -> int:
    """How many packages dnf installed, from the build's log (``N packages to install``)."""
    log = (iso.parent.parent / "build.log").read_text()
    found = re.search(r"(\d+) packages to install", log)
    assert found, "the build log says how many packages were installed"
    return int(found.group(1))


@pytest.fixture(scope="module")
def grub_iso(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> Path:
    """The default run's live ISO: no ``part /``, so its root is upstream's default 4096 MiB (sparse), booted
    and its size checked by the live system (test_boot)."""
    return build_iso(tmp_path_factory.mktemp("grub"), testrepo, "LIVE-GRUB", nominal=None)


@pytest.fixture(scope="module")
def syslinux_iso(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> Path:
    return build_iso(tmp_path_factory.mktemp("syslinux"), testrepo, "LIVE-SYSLINUX", "--syslinux")


@pytest.fixture(scope="module")
def flat_iso(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> Path:
    return build_iso(tmp_path_factory.mktemp("flat"), testrepo, "LIVE-FLAT", "--flat-squashfs",
                     "--compression-type", "zstd")


def assert_boots(iso: Path, mode: str, expect: str, memory: int = 2048) -> dict[str, str]:
    """Boot *iso*, check the marker line, and return the live system's own checks (``LIVECD-TOOLS-CHECK``)."""
    result = boot(iso, mode, timeout=300, memory=memory)
    assert result.ok, f"{iso.name} did not boot ({mode}) to {MARKER}; serial console tail:\n{result.tail()}"
    assert expect in result.line, f"expected {expect!r} in the marker line: {result.line}\n{result.tail()}"
    return result.checks()


def kernel_args_of(cfg: str) -> list[str]:
    """The arguments of the boot menu's first entry (GRUB ``linux`` or isolinux ``append`` line)."""
    for line in cfg.splitlines():
        words = line.split()
        if words and words[0] == "linux":
            return words[2:]
        if words and words[0] == "append":
            return [w for w in words[1:] if not w.startswith("initrd=")]
    raise AssertionError(f"no kernel line in:\n{cfg}")


def sizes(check: str) -> dict[str, int]:
    return {k: int(v) for k, v in (item.split("=") for item in check.split())}


def assert_live_system(checks: dict[str, str], iso: Path, menu_cfg: str, min_root_kib: int) -> None:
    """What a user of the booted live system sees: the kickstart's settings, a root with room, the packages."""
    where = f"live checks of {iso.name}: {checks}"
    cmdline = checks["cmdline"].split()
    assert set(kernel_args_of(menu_cfg)) <= set(cmdline), f"boot menu arguments missing on the kernel line; {where}"
    assert checks["os-release"] == "testdistro-1", where
    assert checks["file /etc/hostname"] == "live-check.example.com;", where
    assert checks["file /etc/live-post"] == "live-post-ran;", "%post wrote it; " + where
    assert "%_excludedocs 1;" in checks["file /etc/rpm/macros.imgcreate"], where
    assert checks["rpm-macros"] == "excludedocs=1 install_langs=de", "the live system's rpm honours them; " + where
    assert int(checks["rpm-count"]) == installed_at_build(iso), where
    before = sizes(checks["df-before"])
    assert before["size_kib"] >= min_root_kib, f"the live root has its nominal size; {where}"
    assert before["avail_kib"] >= 512 * 1024, f"the live root has room for 512 MiB; {where}"
    write = checks["write"]
    assert write.startswith(f"mib=512 status=0 bytes={512 * 1024 * 1024} "), f"512 MiB written to /; {where}"
    assert sizes(checks["df-written"])["used_kib"] >= before["used_kib"] + 500 * 1024, where


# -- inspection -------------------------------------------------------------------------------------------------

def test_grub_iso_layout(grub_iso: Path) -> None:
    assert isoinspect.volume_id(grub_iso) == "LIVE-GRUB"
    names = isoinspect.files(grub_iso)
    for path in ("/LiveOS/squashfs.img", "/images/pxeboot/vmlinuz", "/images/pxeboot/initrd.img",
                 "/images/eltorito.img", "/images/efiboot.img", "/boot/grub2/grub.cfg",
                 "/boot/grub2/i386-pc/normal.mod", "/EFI/BOOT/BOOTX64.EFI", "/EFI/BOOT/grubx64.efi",
                 "/EFI/BOOT/grub.cfg", "/extra-file.txt"):
        assert path in names, f"{path} missing from the ISO"
    assert not any(n.startswith("/isolinux") for n in names)
    catalog = isoinspect.el_torito(grub_iso)
    platforms = dict(re.findall(r"El Torito boot img :\s+(\d+)\s+(\w+)", catalog))
    paths = dict(re.findall(r"El Torito img path :\s+(\d+)\s+(\S+)", catalog))
    assert {paths.get(n): p for n, p in platforms.items()} == {"/images/eltorito.img": "BIOS",
                                                                "/images/efiboot.img": "UEFI"}, catalog
    assert isoinspect.hybrid_tables(grub_iso) == (True, True), "hybrid: MBR and GPT for USB sticks"


def test_grub_iso_checksum(grub_iso: Path) -> None:
    proc = subprocess.run(["checkisomd5", "--verbose", str(grub_iso)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_grub_iso_boot_configs(grub_iso: Path) -> None:
    cfgs = {
        "bios": isoinspect.read_text(grub_iso, "/boot/grub2/grub.cfg"),
        "efi": isoinspect.read_text(grub_iso, "/EFI/BOOT/grub.cfg"),
        "efiboot.img": isoinspect.efiboot_files(grub_iso)["EFI/BOOT/grub.cfg"].decode(),
    }
    for where, cfg in cfgs.items():
        kernel_lines = [ln for ln in cfg.splitlines() if ln.strip().startswith("linux ")]
        assert len(kernel_lines) == 2, where  # start, basic graphics: the image has no checkisomd5
        for ln in kernel_lines:
            assert KERNEL_ARGS.format(label="LIVE-GRUB") in ln, (where, ln)
            assert "console=ttyS0,115200 rd.shell=0" in ln, "bootloader --append"
        assert "menuentry 'Start Testdistro'" in cfg, where
        # Upstream's: the media test entry runs the image's checkisomd5, which the test distribution lacks
        # (tests/integration/test_upstream_client.py has an image with it, and the entry).
        assert "Test this media" not in cfg and "rd.live.check" not in cfg, where
        assert "Troubleshooting" in cfg, where
        assert "set timeout=1" in cfg, where
    efi = isoinspect.efiboot_files(grub_iso)
    assert {"EFI/BOOT/BOOTX64.EFI", "EFI/BOOT/grubx64.efi"} <= set(efi)


def test_squashfs_holds_rootfs_img(grub_iso: Path, tmp_path: Path) -> None:
    sq = isoinspect.squashfs_image(grub_iso, tmp_path)
    listing = isoinspect.squashfs_info(sq)
    assert "Compression xz" in listing
    rootimg = isoinspect.unsquash(sq, tmp_path / "sq") / "LiveOS/rootfs.img"
    fsck = subprocess.run(["e2fsck", "-fn", str(rootimg)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout
    # The nominal size (no part /: 4096 MiB), sparse: the live root has room, the squashfs does not pay for it.
    assert rootimg.stat().st_size == DEFAULT_ROOT_MIB * 1024 * 1024
    assert rootimg.stat().st_blocks * 512 < 1024 * 1024 * 1024, "sparse"
    blocks = subprocess.run(["dumpe2fs", "-h", str(rootimg)], capture_output=True, text=True).stdout
    assert f"Block count:              {DEFAULT_ROOT_MIB * 256}\n" in blocks, "the filesystem has the nominal size"
    minimized = tmp_path / "min/LiveOS/rootfs.img"
    minimized.parent.mkdir(parents=True)
    subprocess.run(["cp", "--sparse=always", str(rootimg), str(minimized)], check=True)
    subprocess.run(["resize2fs", "-M", str(minimized)], check=True, capture_output=True)
    subprocess.run(["mksquashfs", str(tmp_path / "min"), str(tmp_path / "min.img"), "-comp", "xz", "-noappend",
                    "-no-progress"], check=True, capture_output=True)
    assert sq.stat().st_size <= (tmp_path / "min.img").stat().st_size * 1.01 + 65536, \
        "the squashfs is no larger than one of the minimized filesystem"
    files = isoinspect.debugfs(rootimg, "ls -l /etc")
    assert "live-post" in files, "%post ran in the image"
    fstab = isoinspect.debugfs(rootimg, "cat /etc/fstab")
    assert fstab.splitlines()[0].split()[:3] == ["/dev/root", "/", "ext4"] and "LABEL=" not in fstab
    assert "devpts" in fstab and "/dev/shm" in fstab
    assert "99-liveos.conf" not in isoinspect.debugfs(rootimg, "ls /etc/dracut.conf.d"), \
        "the build's dracut configuration is removed before packaging"


def test_syslinux_iso_layout(syslinux_iso: Path) -> None:
    names = isoinspect.files(syslinux_iso)
    for path in ("/isolinux/isolinux.bin", "/isolinux/ldlinux.c32", "/isolinux/vesamenu.c32",
                 "/isolinux/isolinux.cfg", "/isolinux/vmlinuz", "/isolinux/initrd.img", "/LiveOS/squashfs.img",
                 "/images/efiboot.img", "/EFI/BOOT/grub.cfg"):
        assert path in names, f"{path} missing"
    cfg = isoinspect.read_text(syslinux_iso, "/isolinux/isolinux.cfg")
    appends = [ln for ln in cfg.splitlines() if ln.strip().startswith("append ")]
    # Two entries: no "Test this media & start" (rd.live.check), the image has no checkisomd5 (upstream's
    # _has_checkisomd5; tests/integration/test_upstream_client.py has an image with it).
    assert len(appends) == 2 and all(KERNEL_ARGS.format(label="LIVE-SYSLINUX") in a for a in appends), appends
    assert "rd.live.check" not in cfg
    assert "menu title Test Title" in cfg
    assert "/isolinux/isolinux.bin" in isoinspect.el_torito(syslinux_iso)
    assert isoinspect.hybrid_tables(syslinux_iso) == (True, True), "isohybrid MBR and GPT"


# -- boots ---------------------------------------------------------------------------------------------------------

@pytest.mark.boot
@pytest.mark.parametrize(
    ("iso", "mode"),
    [("grub_iso", "bios"),
     # UEFI: by default through livecd-creator --boot-test (tests/boot/test_boot_test.py), which boots a live ISO
     # on BIOS and UEFI to the marker.  BIOS again, from the hybrid MBR and through isolinux: full run only.
     pytest.param("grub_iso", "uefi", marks=pytest.mark.full),
     pytest.param("grub_iso", "usb", marks=pytest.mark.full),
     pytest.param("syslinux_iso", "bios", marks=pytest.mark.full)],
    ids=["bios-grub", "uefi", "hybrid-as-usb-disk", "bios-syslinux"],
)
def test_boot(iso: str, mode: str, request: pytest.FixtureRequest) -> None:
    image: Path = request.getfixturevalue(iso)
    checks = assert_boots(image, mode, "root=/dev/mapper/live-rw")
    menu = "/isolinux/isolinux.cfg" if iso == "syslinux_iso" else "/boot/grub2/grub.cfg"
    if mode == "uefi":
        menu = "/EFI/BOOT/grub.cfg"
    nominal_kib = (DEFAULT_ROOT_MIB if iso == "grub_iso" else NOMINAL_MIB) * 1024
    assert sizes(checks["df-before"])["size_kib"] <= nominal_kib, f"no larger than its nominal size: {checks}"
    assert_live_system(checks, image, isoinspect.read_text(image, menu), min_root_kib=nominal_kib * 95 // 100)


@pytest.mark.boot
def test_boot_flat_squashfs_zstd(flat_iso: Path, tmp_path: Path) -> None:
    sq = isoinspect.squashfs_image(flat_iso, tmp_path)
    info = isoinspect.squashfs_info(sq)
    assert "Compression zstd" in info
    listing = subprocess.run(["unsquashfs", "-l", str(sq)], capture_output=True, text=True, check=True).stdout
    assert "squashfs-root/usr/sbin/init" in listing and "rootfs.img" not in listing
    # The overlay's upper layer is in /run, a tmpfs of 20% of RAM (systemd's default), as on any flat live
    # image: 3 GiB give it room for the 512 MiB write.
    checks = assert_boots(flat_iso, "bios", "fstype=overlay", memory=3072)
    assert_live_system(checks, flat_iso, isoinspect.read_text(flat_iso, "/boot/grub2/grub.cfg"),
                       min_root_kib=560 * 1024)
