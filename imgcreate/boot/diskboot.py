"""Booting a disk image: GRUB 2's configuration, and its installation for BIOS and UEFI with the image's tools.

The layout is Fedora's: the real menu in ``/boot/grub2/grub.cfg``; for UEFI, the image's shim and GRUB on the
ESP (``EFI/<vendor>/``, with ``EFI/BOOT/BOOTX64.EFI`` as the fallback firmware boots without NVRAM entries) and
a stub ``grub.cfg`` next to them that finds the /boot filesystem by UUID and reads the real menu; for BIOS,
GRUB's core image in the BIOS boot partition (GPT) or the gap after the MBR (msdos), made and written by the
image's own ``grub2-mkimage`` and ``grub2-bios-setup`` run in the chroot.  The core image carries a small
configuration that finds /boot by UUID, so it does not depend on how the tools name disks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from imgcreate.boot import efi, grubmenu
from imgcreate.boot.grubmenu import GrubMenu, MenuEntry
from imgcreate.boot.grubpc import GRUB_PC_DIR, MEDIA_GRUB_PC_DIR
from imgcreate.errors import ImageError
from imgcreate.host.run import run
from imgcreate.storage import inroot, rootfs

log = logging.getLogger("imgcreate")

BIOS_CORE_MODULES = ("biosdisk", "part_gpt", "part_msdos", "ext2", "xfs", "fat", "search", "search_fs_uuid",
                     "configfile", "normal", "linux", "echo", "test", "serial", "terminal")


@dataclass(frozen=True)
class DiskBootMenu:
    """What the GRUB menu of a disk boots: paths are on the filesystem holding /boot (``boot_uuid``)."""

    title: str
    kernel: str  # "/vmlinuz-KVER" on a separate /boot, "/boot/vmlinuz-KVER" on the root
    initrd: str
    kernel_args: str
    boot_uuid: str
    grub_dir: str  # "/grub2" or "/boot/grub2", on that filesystem
    timeout: int


def grub_cfg(menu: DiskBootMenu) -> str:
    """``/boot/grub2/grub.cfg``: one entry for the installed kernel (a serial terminal too when the kernel
    command line has a serial console, so the menu shows where the system's console is)."""
    return grubmenu.render(GrubMenu(
        entries=(MenuEntry(menu.title, menu.kernel, menu.initrd, menu.kernel_args),), timeout=menu.timeout,
        title=menu.title, root=("uuid", menu.boot_uuid), modules=("part_gpt", "part_msdos", "ext2", "xfs"),
        serial="console=ttyS" in menu.kernel_args))


def find_boot_cfg(menu: DiskBootMenu) -> str:
    """The small configuration that finds /boot by UUID and reads the real menu: Fedora's ESP stub
    (``EFI/<vendor>/grub.cfg``), also embedded in the BIOS core image."""
    return (
        f"search --no-floppy --fs-uuid --set=dev {menu.boot_uuid}\n"
        f"set prefix=($dev){menu.grub_dir}\n"
        "export prefix\n"
        "configfile $prefix/grub.cfg\n"
    )


def install_efi(root: Path, menu: DiskBootMenu, arch: str = "x86_64") -> list[str]:
    """Put the stub grub.cfg next to every GRUB on the ESP (mounted at /boot/efi) and make sure the fallback
    ``EFI/BOOT/BOOTX64.EFI`` exists; returns the ESP paths written.  The binaries are the image's packages'.
    Everything is read and written inside the root (:mod:`imgcreate.storage.inroot`): a link there never reaches
    the host."""
    found = efi.scan(root, arch=arch)
    x = efi.efi_arch(arch)
    if not found.grub_vendors:
        raise ImageError(
            f"The image has no GRUB for UEFI on its ESP (/boot/efi/EFI/*/grub{x}.efi): add 'grub2-efi-{x}' and "
            f"'shim-{x}' to %packages, or remove the /boot/efi partition."
        )
    written = []
    stub = find_boot_cfg(menu)
    for folder in (*found.grub_vendors, f"{efi.EFI_DIR}/BOOT"):
        rel = f"{folder}/grub.cfg"
        rootfs.write_file(root, rel, stub, mode=0o700)
        written.append(rel)
    boot = efi.fallback(arch)
    if not inroot.is_file(root, boot):
        source = found.shim or found.grub
        assert source is not None  # a vendor holds a GRUB
        rootfs.write_file(root, boot, inroot.read_bytes(root, source), mode=0o700)
        written.append(boot)
    return sorted(written)


@dataclass(frozen=True)
class GrubTools:
    """GRUB's BIOS tools and where they run: chrooted in the image (*root*: the image's own tools, and every path
    given with them is inside the image) or on the host (*root* None: livecd-iso-to-disk's)."""

    mkimage: str
    setup: str
    root: Path | None = None

    @property
    def whose(self) -> str:
        return "the image's" if self.root is not None else "the host's"


def make_bios_core(tools: GrubTools, moddir: str, grubdir: str, menu: DiskBootMenu, gpt: bool) -> None:
    """GRUB's BIOS core image ``grubdir/core.img`` from the i386-pc modules in *moddir*, with the caller's
    ``grubdir/load.cfg`` (:func:`find_boot_cfg`) embedded: it finds /boot by UUID, however the firmware numbers
    disks.  The one way both disks and sticks make it."""
    part = "part_gpt" if gpt else "part_msdos"
    run([tools.mkimage, "-O", "i386-pc", "-d", moddir, "-c", f"{grubdir}/load.cfg", "-p", menu.grub_dir,
         "-o", f"{grubdir}/core.img", part, *BIOS_CORE_MODULES], root=tools.root,
        what=f"Making GRUB's BIOS core image with {tools.whose} grub2-mkimage")


def write_bios_boot(tools: GrubTools, grubdir: str, device_map: str, device: str) -> None:
    """grub2-bios-setup: ``grubdir``'s boot.img into the MBR of *device* (the whole disk, hd0 in *device_map*)
    and its core.img into the BIOS boot partition (GPT) or the gap after the MBR (msdos)."""
    run([tools.setup, "--directory", grubdir, "--device-map", device_map, device], root=tools.root,
        what=f"Writing GRUB's BIOS boot code with {tools.whose} grub2-bios-setup")


def install_bios(root: Path, device: str, menu: DiskBootMenu, gpt: bool) -> None:
    """GRUB for BIOS with the image's tools, in the chroot: a core image that finds /boot by UUID, written to
    the BIOS boot partition (GPT) or after the MBR (msdos) by grub2-bios-setup, whose boot sector goes in
    the MBR.  The host's /dev must be visible in the root (the caller binds it) for the loop device."""
    if not rootfs.exists(root, f"{GRUB_PC_DIR}/boot.img"):
        raise ImageError(
            f"The image has no GRUB for BIOS ({GRUB_PC_DIR}): add 'grub2-pc' to %packages, or use "
            "'bootloader --location=none'."
        )
    tools = GrubTools(mkimage=_image_tool(root, "grub2-mkimage", "grub-mkimage"),
                      setup=_image_tool(root, "grub2-bios-setup", "grub-bios-setup"), root=root)
    grubdir = MEDIA_GRUB_PC_DIR
    rootfs.write_file(root, f"{grubdir}/load.cfg", find_boot_cfg(menu))
    rootfs.write_file(root, f"{grubdir}/boot.img", inroot.read_bytes(root, f"{GRUB_PC_DIR}/boot.img"))
    make_bios_core(tools, GRUB_PC_DIR, grubdir, menu, gpt)
    # The loop device is the whole disk, hd0: a device map says so, for this run only.
    rootfs.write_file(root, "/boot/grub2/device.map", f"(hd0) {device}\n")
    try:
        write_bios_boot(tools, grubdir, "/boot/grub2/device.map", device)
    finally:
        inroot.unlink(root, "/boot/grub2/device.map")


def _image_tool(root: Path, *names: str) -> str:
    for name in names:
        for d in ("/usr/sbin", "/usr/bin"):
            if rootfs.exists(root, f"{d}/{name}"):
                return f"{d}/{name}"
    raise ImageError(
        f"The image has no {names[0]} (package grub2-tools): GRUB is installed with the image's own tools. Add "
        "'grub2-pc' to %packages, or use 'bootloader --location=none'."
    )
