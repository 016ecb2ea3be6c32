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
FALLBACK = f"{EFI_DIR}/BOOT/BOOTX64.EFI"  # what firmware boots without an NVRAM entry


@dataclass(frozen=True)
class EfiBinaries:
    """Paths in the root.  *grub_vendors*: the vendor folders holding a GRUB; *shim*: a vendor's shimx64.efi,
    else an existing fallback BOOTX64.EFI; *grub*: the CD build gcdx64.efi first when asked for, else
    grubx64.efi; *mm*: MokManager."""

    grub_vendors: tuple[str, ...]
    shim: str | None
    grub: str | None
    mm: str | None


def scan(root: Path, cd: bool = False) -> EfiBinaries:
    """The UEFI boot files the image's packages installed; *cd*: a live medium, which prefers the CD GRUB."""
    vendors = [f"{EFI_DIR}/{name}" for name in inroot.listdir(root, EFI_DIR)
               if name != "BOOT" and inroot.is_dir(root, f"{EFI_DIR}/{name}")]

    def first(*names: str) -> str | None:
        for name in names:
            for vendor in vendors:
                if inroot.is_file(root, f"{vendor}/{name}"):
                    return f"{vendor}/{name}"
        return None

    grubs = ("gcdx64.efi", "grubx64.efi") if cd else ("grubx64.efi", "gcdx64.efi")
    return EfiBinaries(
        grub_vendors=tuple(v for v in vendors if any(inroot.is_file(root, f"{v}/{g}") for g in grubs)),
        shim=first("shimx64.efi") or (FALLBACK if inroot.is_file(root, FALLBACK) else None),
        grub=first(*grubs),
        mm=first("mmx64.efi"),
    )
