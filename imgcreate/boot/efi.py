"""The image's UEFI boot files: which shim, GRUB and MokManager its packages put on ``/boot/efi/EFI``.

Live ISOs copy them into ``EFI/BOOT`` of the ISO, disk images keep them on their ESP and add the fallback
``EFI/BOOT/BOOTX64.EFI``; both find them here, in the image's own vendor folders (``EFI/fedora``, ...), the
way the distribution's packages lay them out.  Read inside the root (:mod:`imgcreate.storage.inroot`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imgcreate.storage import inroot

EFI_DIR = "/boot/efi/EFI"
# UEFI's name of each architecture in its file names: BOOT<X64>.EFI, grub<x64>.efi, shim<aa64>.efi (Fedora's).
EFI_ARCH = {"x86_64": "x64", "i386": "ia32", "i686": "ia32", "aarch64": "aa64", "riscv64": "riscv64"}


def efi_arch(arch: str) -> str:
    """UEFI's short name of *arch* (``x64``, ``aa64``, ...): in grub<x>.efi, shim<x>.efi, BOOT<X>.EFI."""
    return EFI_ARCH.get(arch, arch)


def fallback(arch: str = "x86_64") -> str:
    """What the firmware boots without an NVRAM entry: ``EFI/BOOT/BOOTX64.EFI``, ``BOOTAA64.EFI``, ..."""
    return f"{EFI_DIR}/BOOT/BOOT{efi_arch(arch).upper()}.EFI"


FALLBACK = fallback("x86_64")


@dataclass(frozen=True)
class EfiBinaries:
    """Paths in the root.  *grub_vendors*: the vendor folders holding a GRUB; *shim*: a vendor's shimx64.efi,
    else an existing fallback BOOTX64.EFI; *grub*: the CD build gcdx64.efi first when asked for, else
    grubx64.efi; *mm*: MokManager."""

    grub_vendors: tuple[str, ...]
    shim: str | None
    grub: str | None
    mm: str | None


def scan(root: Path, cd: bool = False, arch: str = "x86_64") -> EfiBinaries:
    """The UEFI boot files the image's packages installed for *arch*; *cd*: a live medium, which prefers the CD
    GRUB."""
    x = efi_arch(arch)
    vendors = [f"{EFI_DIR}/{name}" for name in inroot.listdir(root, EFI_DIR)
               if name != "BOOT" and inroot.is_dir(root, f"{EFI_DIR}/{name}")]

    def first(*names: str) -> str | None:
        for name in names:
            for vendor in vendors:
                if inroot.is_file(root, f"{vendor}/{name}"):
                    return f"{vendor}/{name}"
        return None

    grubs = (f"gcd{x}.efi", f"grub{x}.efi") if cd else (f"grub{x}.efi", f"gcd{x}.efi")
    boot = fallback(arch)
    return EfiBinaries(
        grub_vendors=tuple(v for v in vendors if any(inroot.is_file(root, f"{v}/{g}") for g in grubs)),
        shim=first(f"shim{x}.efi") or (boot if inroot.is_file(root, boot) else None),
        grub=first(*grubs),
        mm=first(f"mm{x}.efi"),
    )
