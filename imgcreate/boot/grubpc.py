"""Where GRUB for BIOS (``i386-pc``) keeps its modules: one folder, named once.

The same path holds them in an image (Fedora's grub2-pc-modules, which the ISO's and the disk's BIOS boot are
made from) and on the host (Fedora's grub2-pc-modules, Debian's grub-pc-bin), which livecd-iso-to-disk and
livecd-iso-to-pxeboot fall back on when an ISO carries none; on live media they are in ``boot/grub2/i386-pc``.
"""

from __future__ import annotations

from pathlib import Path

GRUB_PC_DIR = "/usr/lib/grub/i386-pc"
MEDIA_GRUB_PC_DIR = "/boot/grub2/i386-pc"  # on a live ISO or stick, and a disk image made here


def host_modules() -> Path | None:
    """The host's GRUB modules for BIOS, None when it has none (no ``kernel.img``)."""
    folder = Path(GRUB_PC_DIR)
    return folder if (folder / "kernel.img").is_file() else None
