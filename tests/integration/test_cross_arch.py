"""Building for another architecture on this x86_64 machine: appliance-creator, image-creator and livecd-creator
--forcearch aarch64.

The aarch64 test distribution (Debian's arm64 kernel, busybox and GRUB as aarch64 RPMs) is installed by dnf and
rpm for aarch64; its scriptlets and the kickstart's %post run in the root through qemu-user (they write what
``uname -m`` said there); the disk boots with UEFI alone (GPT, ESP with BOOTAA64.EFI, no BIOS boot partition).
tests/boot/test_aarch64_boot.py boots the same disk.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgcreate.boot import boottest
from imgcreate.build.artifacts import Firmware
from imgcreate.host import binfmt
from tests.disks import GPT_TYPES, Disk, attached, sfdisk
from tests.support import assert_failed, run_tool

pytestmark = pytest.mark.root


@contextlib.contextmanager
def mounted_ro(dev: str, where: Path) -> Iterator[Path]:
    where.mkdir(exist_ok=True)
    subprocess.run(["mount", "-o", "ro,loop" if Path(dev).is_file() else "ro", dev, str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_aarch64_disk_is_uefi_only_with_the_aarch64_boot_loader(aarch64_disk: Disk) -> None:
    raw = aarch64_disk.file("-sda.raw")
    table = sfdisk(raw)
    assert table["label"] == "gpt"
    parts = table["partitions"]
    assert isinstance(parts, list)
    assert [p["type"] for p in parts] == [GPT_TYPES["esp"], GPT_TYPES["linux"]], "no BIOS boot partition"
    with attached(raw) as dev:
        esp = subprocess.run(["mdir", "-b", "-i", f"{dev}p1", "::/EFI/BOOT"], capture_output=True, text=True,
                             check=True).stdout.split()
        assert "::/EFI/BOOT/BOOTAA64.EFI" in esp and "::/EFI/BOOT/grub.cfg" in esp, esp
        assert not any(name.endswith("BOOTX64.EFI") for name in esp), esp
        vendor = subprocess.run(["mdir", "-b", "-i", f"{dev}p1", "::/EFI/fedora"], capture_output=True, text=True,
                                check=True).stdout.split()
        assert "::/EFI/fedora/grubaa64.efi" in vendor, vendor
    assert "<arch>aarch64</arch>" in aarch64_disk.file(".xml").read_text()


def test_aarch64_packages_scriptlets_and_post_ran_for_aarch64(aarch64_disk: Disk, tmp_path: Path) -> None:
    """rpm installed aarch64 packages into an aarch64 database; the scriptlet and %post ran emulated."""
    with attached(aarch64_disk.file("-sda.raw")) as dev, mounted_ro(f"{dev}p2", tmp_path / "root") as root:
        query = subprocess.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-qa", "--qf",
                                "%{NAME} %{ARCH}\n"], capture_output=True, text=True, check=True).stdout
        arches = dict(line.split() for line in query.splitlines())
        assert arches["kernel"] == "aarch64" and arches["busybox"] == "aarch64", arches
        assert arches["shim-aa64"] == arches["grub2-efi-aa64"] == "aarch64", arches
        assert "grub2-pc" not in arches and "shim-x64" not in arches, arches
        assert (root / "etc/rpm/platform").read_text() == "aarch64-redhat-linux\n"
        assert (root / "etc/post-uname").read_text() == "aarch64\n", "%post ran through qemu-aarch64"
        assert (root / "var/lib/post-demo/ran").read_text().strip() == "post-demo %post ran", "the scriptlet ran"
        # The ELF machine of the image's busybox: 0xb7 is EM_AARCH64.
        assert (root / "usr/sbin/busybox").read_bytes()[18] == 0xB7


def test_no_binfmt_entry_of_ours_is_left(aarch64_disk: Disk) -> None:
    """The entry registered for the build (``imgcreate-aarch64-<pid>``) is removed when the build ends
    (binfmt_misc mounted for the look when the host has not mounted it)."""
    assert aarch64_disk.proc.returncode == 0
    with contextlib.ExitStack() as stack:
        mount = binfmt.SYSTEM_MOUNT
        if not (mount / "register").exists():
            mount = tmp = Path(subprocess.run(["mktemp", "-d"], capture_output=True, text=True,
                                              check=True).stdout.strip())
            stack.callback(tmp.rmdir)
            subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(tmp)], check=True)
            stack.callback(subprocess.run, ["umount", str(tmp)], check=True)
        # An entry of a build still running (the other half of a split run may be building) is that build's.
        left = [p.name for p in mount.iterdir() if p.name.startswith(binfmt.OUR_PREFIX)
                and not Path(f"/proc/{p.name.rsplit('-', 1)[-1]}").exists()]
        assert left == [], left


def test_unknown_forcearch_is_one_paragraph(tmp_path: Path) -> None:
    ks = tmp_path / "x.ks"
    ks.write_text("part / --size 100\n%packages\n%end\n")
    proc = run_tool("appliance-creator", "-c", str(ks), "-o", str(tmp_path), "-t", str(tmp_path),
                    "--forcearch", "arm64", check=False)
    assert_failed(proc, "Unknown target architecture 'arm64' (--forcearch): use one of")
    assert "aarch64" in proc.stderr


def test_image_creator_forcearch_makes_an_aarch64_root(aarch64_repo: Path, tmp_path: Path) -> None:
    """image-creator (livecd-creator's parser) --forcearch aarch64: the ext image's packages and %post are
    aarch64's; the default (no --forcearch) would find no x86_64 busybox in this repository."""
    ks = tmp_path / "a64img.ks"
    ks.write_text(f"repo --name=t --baseurl=file://{aarch64_repo}\npart / --size 64\n"
                  "%packages\n@core\npost-demo\n%end\n%post\nuname -m > /etc/post-uname\n%end\n")
    run_tool("image-creator", "-c", str(ks), "-f", "A64IMG", "-o", str(tmp_path / "out"), "-t", str(tmp_path),
             "--forcearch", "aarch64")
    with mounted_ro(str(tmp_path / "out/A64IMG.img"), tmp_path / "root") as root:
        query = subprocess.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-q", "--qf",
                                "%{ARCH}\n", "busybox"], capture_output=True, text=True, check=True).stdout
        assert query == "aarch64\n"
        assert (root / "etc/post-uname").read_text() == "aarch64\n"
        assert (root / "etc/rpm/platform").read_text() == "aarch64-redhat-linux\n"


def test_aarch64_live_iso_boots_with_uefi_alone(aarch64_iso: Path) -> None:
    """livecd-creator --forcearch aarch64: only an EFI El Torito entry (no BIOS GRUB, no hybrid MBR), EFI/BOOT
    with BOOTAA64.EFI and grubaa64.efi from the image, the kernel and initramfs in images/pxeboot, and aarch64's
    packages in the manifest; the API's typed result says UEFI and aarch64."""
    assert boottest.iso_firmwares(aarch64_iso) == (Firmware.UEFI,)
    listing = subprocess.run(["xorriso", "-indev", str(aarch64_iso), "-find", "/", "-type", "f"],
                             capture_output=True, text=True, check=True).stdout
    files = {line.strip("'") for line in listing.split()}
    assert {"/EFI/BOOT/BOOTAA64.EFI", "/EFI/BOOT/grubaa64.efi", "/EFI/BOOT/grub.cfg", "/images/efiboot.img",
            "/images/pxeboot/vmlinuz", "/images/pxeboot/initrd.img", "/LiveOS/squashfs.img"} <= files, files
    assert not any("i386-pc" in f or "eltorito" in f or "BOOTX64" in f for f in files), files
    packages = (aarch64_iso.parent / "A64LIVE.packages").read_text().split()
    assert any(p.startswith("kernel-") and p.endswith(".aarch64") for p in packages), packages
    assert any(p.startswith("grub2-efi-aa64-cdboot-") for p in packages), "upstream's aarch64 package list"
    assert not any(p.startswith(("grub2-pc", "syslinux", "shim-x64")) for p in packages), packages
