"""The live ISO's BIOS boot trees, from the image's own files: GRUB 2's El Torito image or isolinux.

Every file is copied out of the image being built (links resolved inside it, :mod:`imgcreate.storage.inroot`), so
the ISO boots with the boot loader the target distribution ships.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from imgcreate.boot import bootloader, efi
from imgcreate.boot.grubpc import GRUB_PC_DIR
from imgcreate.errors import ImageError
from imgcreate.host.run import run
from imgcreate.storage import inroot

log = logging.getLogger("imgcreate")

SYSLINUX_DIRS = ("/usr/share/syslinux", "/usr/lib/syslinux", "/usr/lib/ISOLINUX")
SYSLINUX_FILES = ("isolinux.bin", "ldlinux.c32", "vesamenu.c32", "libcom32.c32", "libutil.c32")


def setup_grub_bios(root: Path, isodir: Path, menu: bootloader.BootMenu, mkimage: list[str]) -> None:
    """GRUB 2 for BIOS El Torito in *isodir*: the image's i386-pc modules, the menu, and the core image made with
    *mkimage* (``grub2-mkimage``, the host's or the image's)."""
    if not inroot.is_file(root, f"{GRUB_PC_DIR}/kernel.img"):
        raise ImageError(
            f"The image has no GRUB 2 BIOS modules ({GRUB_PC_DIR}): add 'grub2-pc-modules' to %packages, "
            "or use --syslinux."
        )
    grubdir = isodir / "boot/grub2"
    moddir = grubdir / "i386-pc"  # the image's modules, copied out (links resolved inside the image)
    inroot.copy_out(root, GRUB_PC_DIR, moddir)
    (grubdir / "grub.cfg").write_text(bootloader.grub_cfg(menu))
    images = isodir / "images"
    images.mkdir(exist_ok=True)
    run([*mkimage, "-O", "i386-pc-eltorito", "-d", str(moddir), "-p", "/boot/grub2",
         "-o", str(images / "eltorito.img"), "iso9660", "biosdisk", "part_msdos", "part_gpt", "search",
         "search_label", "configfile", "normal", "linux", "gzio", "echo", "test"],
        what="Creating the GRUB El Torito image")


def setup_isolinux(root: Path, isodir: Path, menu: bootloader.BootMenu) -> None:
    """isolinux for BIOS El Torito in *isodir* (``--syslinux``), from the image's syslinux files."""
    src = next((d for d in SYSLINUX_DIRS if inroot.is_file(root, f"{d}/isolinux.bin")), None)
    if src is None:
        raise ImageError("The image has no isolinux.bin (/usr/share/syslinux): add 'syslinux' to %packages.")
    isolinux = isodir / "isolinux"
    isolinux.mkdir(parents=True, exist_ok=True)
    for name in SYSLINUX_FILES:
        if not inroot.is_file(root, f"{src}/{name}"):
            raise ImageError(f"The image's syslinux has no {name} (in {src}): is 'syslinux' complete?")
        inroot.copy_out(root, f"{src}/{name}", isolinux / name)
    (isolinux / "isolinux.cfg").write_text(bootloader.isolinux_cfg(menu))
    (isodir / "boot/grub2").mkdir(parents=True, exist_ok=True)


def copy_boot_file(root: Path, src: Path, dest: Path) -> None:
    """Copy *src*, a host path below *root* (as :func:`rootfs.resolve_in_root` gives them), by its path in the
    image, resolved inside it again now: never through a link to the host.  A path elsewhere (a subclass's
    ``_find_kernel`` may return one) is the host file it names."""
    if src.is_relative_to(root):
        inroot.copy_out(root, "/" + str(src.relative_to(root)), dest)
    else:
        shutil.copyfile(src, dest)


def efi_files(root: Path, arch: str = "x86_64") -> dict[str, str]:
    """EFI/BOOT's files from the image (their paths in it) for *arch*: shim as BOOTX64.EFI (BOOTAA64.EFI, ...)
    and GRUB (the CD build when there is one)."""
    x = efi.efi_arch(arch)
    found = efi.scan(root, cd=True, arch=arch)
    files: dict[str, str] = {}
    if found.shim is not None:
        files[f"EFI/BOOT/BOOT{x.upper()}.EFI"] = found.shim
    if found.grub is not None:
        files[f"EFI/BOOT/grub{x}.efi"] = found.grub
        files.setdefault(f"EFI/BOOT/BOOT{x.upper()}.EFI", found.grub)
    if found.mm is not None:
        files[f"EFI/BOOT/mm{x}.efi"] = found.mm
    return files


def stage_efi(root: Path, isodir: Path, menu: bootloader.BootMenu, arch: str = "x86_64") -> dict[str, Path] | None:
    """EFI/BOOT in the ISO tree from the image's own files for *arch*, with the menu as its grub.cfg; returns the
    copies the EFI boot image is made from (never the root's files), or None (with a warning) when the image
    has no GRUB for UEFI."""
    x = efi.efi_arch(arch)
    files = efi_files(root, arch)
    if f"EFI/BOOT/grub{x}.efi" not in files:
        log.warning("the image has no GRUB EFI binary in /boot/efi/EFI: the ISO will not boot on UEFI "
                    "(add 'grub2-efi-%s-cdboot' and 'shim-%s' to %%packages)", x, x)
        return None
    bootdir = isodir / "EFI/BOOT"
    bootdir.mkdir(parents=True, exist_ok=True)
    copied: dict[str, Path] = {}
    for dest, src in files.items():
        inroot.copy_out(root, src, isodir / dest)
        copied[dest] = isodir / dest
    (bootdir / "grub.cfg").write_text(bootloader.grub_cfg(menu))
    copied["EFI/BOOT/grub.cfg"] = bootdir / "grub.cfg"
    return copied


def hybrid_mbr(root: Path, syslinux: bool) -> bytes | None:
    """The MBR boot code for the hybrid ISO, from the image (read while it is mounted): syslinux's isohdpfx.bin
    with *syslinux*, else GRUB's boot_hybrid.img; None (with a warning) when the image has none."""
    candidates = [f"{d}/isohdpfx.bin" for d in SYSLINUX_DIRS] if syslinux else [f"{GRUB_PC_DIR}/boot_hybrid.img"]
    for cand in candidates:
        if inroot.is_file(root, cand):
            return inroot.read_bytes(root, cand)
    log.warning("the image has no hybrid MBR boot code (%s); the ISO will not boot from USB on BIOS",
                " or ".join(candidates))
    return None
