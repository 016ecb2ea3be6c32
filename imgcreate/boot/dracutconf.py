"""The dracut configuration a live image's initramfs is built with, and ``--dracut-conf-args``.

The kernel package's scriptlet runs dracut while packages are installed, so the configuration is written into
the image before the installation (and removed before the image is packaged, as upstream does).  The modules
are upstream's live set; the ones the image turns out not to have (``livenet`` comes with dracut-network,
``dmsquash-live-autooverlay`` only with newer dracut) are left out afterwards and the initramfs is made again,
where upstream's dracut fails on them and the ISO ends up without an initramfs.

``--dracut-conf-args`` takes dracut module names: a value starting with ``+`` adds them to the default set,
any other value replaces it (upstream's meaning); ``-NAME`` omits a module (``omit_dracutmodules``).  A value
holding ``=`` is dracut.conf text and is appended as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from imgcreate.storage import inroot

log = logging.getLogger("imgcreate")

DEFAULT_MODULES = ("livenet", "dmsquash-live", "dmsquash-live-autooverlay", "overlayfs", "pollcdrom")
REQUIRED_MODULES = ("dmsquash-live",)  # without it the ISO cannot boot: never left out
# nls_cp437 and nls_ascii: the default codepage and iocharset of a FAT mount where the kernel builds them as
# modules (Fedora's has them built in): without them dracut cannot mount a FAT stick's live partition
# ("codepage cp437 not found"), which livecd-iso-to-disk writes by default onto an existing FAT partition.
# Before nvme: dracut installs add_drivers in order and stops at the first one the kernel lacks (the test
# distribution's kernel has no nvme).
DRIVERS = ("sr_mod", "sd_mod", "cdrom", "usb_storage", "uas", "virtio_blk", "virtio_scsi", "virtio_pci",
           "nls_cp437", "nls_ascii", "nvme")
FILESYSTEMS = ("vfat", "msdos", "isofs", "ext4", "xfs", "btrfs", "squashfs", "overlay")
MODULES_DIR = "/usr/lib/dracut/modules.d"


@dataclass(frozen=True)
class DracutSettings:
    """What goes into 99-liveos.conf: modules to add and to omit, and extra dracut.conf text."""

    modules: tuple[str, ...] = DEFAULT_MODULES
    omit: tuple[str, ...] = ()
    extra: str = ""

    def text(self) -> str:
        lines = [
            "# Written by livecd-creator while the live image is built, and removed again before it is packaged:",
            "# the kernel's initramfs must be generic and able to boot from live media.",
            'hostonly="no"',
            'dracut_rescue_image="no"',
            f'add_dracutmodules+=" {" ".join(self.modules)} "',
        ]
        if self.omit:
            lines.append(f'omit_dracutmodules+=" {" ".join(self.omit)} "')
        lines += [f'add_drivers+=" {" ".join(DRIVERS)} "', f'filesystems+=" {" ".join(FILESYSTEMS)} "']
        if self.extra.strip():
            lines.append(self.extra.strip())
        return "\n".join(lines) + "\n"

    def keeping(self, available: Iterable[str]) -> DracutSettings:
        """These settings without the modules the image does not have (the required ones always stay)."""
        have = set(available)
        kept = tuple(m for m in self.modules if m in have or m in REQUIRED_MODULES)
        return DracutSettings(modules=kept, omit=self.omit, extra=self.extra)


def parse_conf_args(value: str) -> DracutSettings:
    """``--dracut-conf-args``: "[+]MODULE ... [-MODULE ...]", or dracut.conf text (it holds a '=')."""
    value = value.strip()
    if not value:
        return DracutSettings()
    if "=" in value:
        return DracutSettings(extra=value)
    add = value.startswith("+")
    words = value.lstrip("+").split()
    omit = tuple(w[1:] for w in words if w.startswith("-") and len(w) > 1)
    named = tuple(w.lstrip("+") for w in words if not w.startswith("-") and w.lstrip("+"))
    base = DEFAULT_MODULES if add else REQUIRED_MODULES
    modules = tuple(dict.fromkeys((*base, *named)))
    return DracutSettings(modules=tuple(m for m in modules if m not in omit), omit=omit)


def module_names(entries: Iterable[str]) -> set[str]:
    """Module names from the entries of modules.d ("90dmsquash-live" -> "dmsquash-live")."""
    return {name[2:] for name in entries if len(name) > 2 and name[:2].isdigit()}


def present_in(root: Path, settings: DracutSettings) -> DracutSettings | None:
    """*settings* without the modules the image at *root* lacks (logged), or None when it has them all (or has
    no dracut modules folder at all)."""
    if not inroot.is_dir(root, MODULES_DIR):
        return None
    kept = settings.keeping(module_names(inroot.listdir(root, MODULES_DIR)))
    if kept == settings:
        return None
    missing = " ".join(m for m in settings.modules if m not in kept.modules)
    log.warning("the image has no dracut module %s (livenet comes with dracut-network): making the initramfs "
                "again without it", missing)
    return kept
