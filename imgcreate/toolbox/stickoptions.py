"""What livecd-iso-to-disk was asked to do: one frozen value, read once from the command line.

A module of its own because every part of the tool reads it (the target modes in
:mod:`imgcreate.toolbox.isotodisk`, persistence in :mod:`imgcreate.toolbox.stickpersist`, a second system in
:mod:`imgcreate.toolbox.stickmulti`) and none of them should import another for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from imgcreate.toolbox.stickoverlay import OverlayfsMode


@dataclass(frozen=True)
class IsoToDiskOptions:
    """What livecd-iso-to-disk was asked to do (the CLI's options; sizes in MiB)."""

    size_mb: int | None = None  # an image file is made (grown or cut to) this size; a block device is as it is
    # --format: repartition a whole block device (else the target is a partition, written non-destructively);
    # its data partition format_size_mb big (None: the rest of the disk) with a *fstype* filesystem.
    format: bool = False
    format_size_mb: int | None = None
    fstype: str = "ext4"  # ext4, ext3, ext2 or vfat (--msdos)
    skipcopy: bool = False  # only the boot configuration is written, onto a partition that has a live system
    skipcompress: bool = False  # LiveOS/rootfs.img expanded from the squashfs
    timeout: str | None = None  # --timeout in tenths of a second (upstream's "-0" included)
    nomenu: bool = False
    updates: Path | None = None  # copied to /updates.img, inst.updates= names it
    ks: Path | None = None  # copied to /ks.cfg, inst.ks= names it
    label: str | None = None  # the data partition's label (default: LIVE; a partition keeps its own)
    gpt: bool = False  # --efi: a GPT partition table when formatting
    efi: bool = True  # an EFI system partition when formatting (--noesp: none)
    overlay_size_mb: int = 0
    home_size_mb: int = 0
    noverify: bool = False  # skip checking the ISO's implanted MD5 (checkisomd5) before copying
    force: bool = False  # no confirmation before erasing a block device; an existing image file may be overwritten
    extra_kernel_args: str = ""
    # Asked before a block device is erased (unless force); returns whether the user agreed.
    confirm: Callable[[str], bool] | None = None
    # Persistence, home and live directory (imgcreate.toolbox.stickpersist), with upstream's meaning.
    overlayfs: OverlayfsMode | None = None  # a persistent OverlayFS overlay (a folder), or one in RAM
    no_overlay: bool = False  # rd.live.overlay=none
    copy_overlay: bool = False  # the source's overlay, renamed for this stick
    reset_overlay: bool = False  # the target's existing overlay kept and emptied
    copy_home: bool = False  # the source's LiveOS/home.img
    delete_home: bool = False  # an existing home.img on the target may be replaced
    crypted_home: bool = True  # a new home is LUKS-encrypted (upstream's default)
    home_passphrase: Callable[[], bytes] | None = None  # for a new encrypted home: asked before anything is written
    swap_size_mb: int = 0  # LiveOS/swap.img
    multi: bool = False  # added beside the systems on a stick this tool wrote (imgcreate.toolbox.stickmulti)
    livedir: str = "LiveOS"  # the live system's folder on the stick (rd.live.dir=)
