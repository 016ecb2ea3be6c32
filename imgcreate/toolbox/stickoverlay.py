"""The persistent overlay of a live stick, as upstream's livecd-iso-to-disk makes it and dracut's dmsquash-live
finds it (``rd.live.overlay=UUID=<uuid>``, ``LiveOS/overlay-<label>-<uuid>`` in the live directory).

Three kinds, told apart as dracut tells them apart:

* ``cow``: a device-mapper snapshot's COW file (``--overlay-size-mb`` on a root image in a squashfs); all zeros
  is an empty snapshot, so resetting it zeroes its first 64 KiB as upstream does;
* ``image``: an ext4 filesystem in a file holding ``overlayfs/`` and ``ovlwork/`` (``--overlay-size-mb`` for a
  flat squashfs, which only overlayfs can overlay; ``rd.live.overlay.overlayfs``);
* ``dir``: an OverlayFS overlay kept as a folder on the stick's ext4 (``--overlayfs``; upstream's default on an
  ext or btrfs target): ``overlay-<label>-<uuid>/`` with ``ovlwork/`` beside it, as big as the stick's free space
  (``--overlay-size-mb`` only makes room for it in the data partition, as upstream only checks the space).  On a
  FAT target, where OverlayFS cannot keep its upper layer, ``--overlayfs`` makes an ``image`` of
  ``--overlay-size-mb`` instead, and is refused without it (:func:`check_fat`), as upstream.

``--overlayfs temp`` boots an OverlayFS overlay in RAM (``rd.live.overlay.overlayfs`` without a persistent one) and
``--no-overlay`` asks for none (``rd.live.overlay=none``, a writable root image).
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

from imgcreate.disk.layout import MIB
from imgcreate.errors import CreatorError
from imgcreate.host import fs
from imgcreate.host.run import mtools_env, run
from imgcreate.media.liveiso import Layout
from imgcreate.storage import inroot, rootfs
from imgcreate.strenum import StrEnum
from imgcreate.toolbox import stickfat

log = logging.getLogger("imgcreate")

class OverlayfsMode(StrEnum):
    """``--overlayfs [temp]`` (IsoToDiskOptions.overlayfs): a persistent OverlayFS overlay (a folder on the stick),
    or one in RAM."""

    PERSISTENT = "overlayfs"
    TEMP = "temp"


class OverlayKind(StrEnum):
    """What a stick's persistent overlay is: an OverlayFS folder, an ext image holding one (a flat squashfs on a
    FAT stick), or dm-snapshot's COW file."""

    DIR = "dir"
    IMAGE = "image"
    COW = "cow"


OVERLAYFS = OverlayfsMode.PERSISTENT
OVERLAYFS_TEMP = OverlayfsMode.TEMP
_RESET_BYTES = 64 * 1024  # upstream zeroes this much of a COW file: the snapshot's header and first exceptions


def overlay_name(label: str, uuid: str) -> str:
    """dracut's name for the overlay of the live partition labelled *label* with UUID *uuid*."""
    return f"overlay-{label}-{uuid}"


def check(overlayfs: OverlayfsMode | None, overlay_size_mb: int, no_overlay: bool, copy_overlay: bool,
          reset_overlay: bool, skipcopy: bool = False) -> None:
    """Upstream's refusals of overlay options that contradict each other (before anything is written).  With
    *skipcopy* no overlay is made or copied, so --reset-overlay goes with either, as upstream."""
    if overlayfs not in (None, OVERLAYFS, OVERLAYFS_TEMP):
        raise CreatorError(f"--overlayfs takes nothing or 'temp', not '{overlayfs}'.")
    pairs = [(overlayfs == OVERLAYFS_TEMP and overlay_size_mb > 0, "--overlayfs temp", "--overlay-size-mb"),
             (no_overlay and overlay_size_mb > 0, "--no-overlay", "--overlay-size-mb"),
             (copy_overlay and overlay_size_mb > 0, "--copy-overlay", "--overlay-size-mb"),
             (reset_overlay and overlay_size_mb > 0 and not skipcopy, "--reset-overlay", "--overlay-size-mb"),
             (reset_overlay and copy_overlay and not skipcopy, "--reset-overlay", "--copy-overlay")]
    for clash, one, other in pairs:
        if clash:
            raise CreatorError(f"You asked for {one} and {other}: only one of these may be given. Nothing was "
                               "written.")


def check_fat(fstype: str, overlayfs: OverlayfsMode | None, overlay_size_mb: int, skipcopy: bool) -> None:
    """Upstream's refusal of ``--overlayfs`` on a FAT target (*fstype* ``vfat``) without ``--overlay-size-mb``
    (before anything is written): OverlayFS cannot use a FAT folder as its upper layer, so the overlay is an ext4
    image of that size there.  With *skipcopy* no overlay is made."""
    if fstype == "vfat" and overlayfs == OVERLAYFS and overlay_size_mb <= 0 and not skipcopy:
        raise CreatorError("--overlayfs on a FAT target needs --overlay-size-mb: OverlayFS cannot keep its changes "
                           "in a FAT folder, so the persistent overlay is an ext4 image of that size there (as "
                           "upstream). Nothing was written.")


def new_file(mnt: Path, path: str) -> Path:
    """An empty regular file at *path* on the stick (whatever was there replaced, never followed); its host path,
    resolved on the stick just now."""
    rootfs.write_file(mnt, path, b"", mode=0o600)
    return rootfs.host_path(mnt, path)


def allocate(path: Path, size_mib: int) -> None:
    """Reserve *size_mib* for *path* on the stick now, so the live system never finds its overlay short."""
    try:
        with open(os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "wb") as f:
            os.posix_fallocate(f.fileno(), 0, size_mib * MIB)
    except OSError as exc:
        raise CreatorError(f"Cannot reserve {size_mib} MiB for {path.parent.name}/{path.name} on the stick: "
                           f"{exc.strerror or exc}.  Use a bigger target (--size-mb for an image file) or smaller "
                           "--overlay-size-mb / --home-size-mb / --swap-size-mb.") from exc


def overlayfs_image(path: Path, size_mib: int, work: Path) -> None:
    """dracut's overlayfs overlay in a file: an ext4 filesystem with ``overlayfs/`` and ``ovlwork/``."""
    allocate(path, size_mib)
    _format_image(str(path), work)


def _format_image(target: str, work: Path) -> None:
    """An empty overlayfs overlay's ext4 filesystem on *target* (a file or a device)."""
    tree = work / "ovl-tree"
    fs.remove_tree(tree)
    (tree / "overlayfs").mkdir(parents=True)
    (tree / "ovlwork").mkdir()
    fs.mkfs_ext(target, "ext4", "overlay", extra=["-d", str(tree)])


def make(mnt: Path, livedir: str, name: str, overlayfs: OverlayfsMode | None, size_mib: int, layout: Layout,
         work: Path, fat: bool = False) -> OverlayKind | None:
    """A new, empty persistent overlay *name* in /*livedir* (for a FAT target when *fat*: never a folder); its
    kind, None when none was asked for."""
    path = f"/{livedir}/{name}"
    if overlayfs == OVERLAYFS and not fat:
        _overlay_dir(mnt, livedir, path)
        log.info("Persistent OverlayFS overlay: %s/ (the stick's free space)", path)
        return OverlayKind.DIR
    if overlayfs == OVERLAYFS_TEMP or size_mib <= 0:
        return None
    overlay = new_file(mnt, path)
    if layout is Layout.FLAT_SQUASHFS or overlayfs == OVERLAYFS:
        overlayfs_image(overlay, size_mib, work)
        kind = OverlayKind.IMAGE
    else:
        allocate(overlay, size_mib)  # dm-snapshot's COW store: all zeros is an empty snapshot
        kind = OverlayKind.COW
    log.info("Persistent overlay: %s (%d MiB)", path, size_mib)
    return kind


def _overlay_dir(mnt: Path, livedir: str, path: str) -> None:
    inroot.remove_tree(mnt, path)
    inroot.remove_tree(mnt, f"/{livedir}/ovlwork")
    inroot.makedirs(mnt, path)
    inroot.makedirs(mnt, f"/{livedir}/ovlwork")


def found(mnt: Path, livedir: str, fat: str = "") -> list[str]:
    """The overlays (``overlay-*``) in /*livedir* on the stick, by name: on the FAT partition *fat* (never
    mounted, read with mtools), else on the mounted *mnt*."""
    if fat:
        names = stickfat.listdir(fat, f"/{livedir}")
    elif inroot.is_dir(mnt, f"/{livedir}"):
        names = inroot.listdir(mnt, f"/{livedir}")
    else:
        return []
    return sorted(n for n in names if n.startswith("overlay-"))


def kind_of(mnt: Path, livedir: str, name: str) -> OverlayKind:
    """What the overlay *name* in /*livedir* is, as dracut decides it (a folder, else blkid's type)."""
    path = f"/{livedir}/{name}"
    if inroot.is_dir(mnt, path):
        return OverlayKind.DIR
    host = rootfs.host_path(mnt, path)
    fstype = subprocess.run(["blkid", "-p", "-s", "TYPE", "-o", "value", str(host)], capture_output=True,
                            text=True, check=False).stdout.strip()
    return OverlayKind.IMAGE if fstype and fstype != "DM_snapshot_cow" else OverlayKind.COW


def rename(mnt: Path, livedir: str, old: str, new: str) -> None:
    """The overlay *old* in /*livedir* named *new* (the stick's label and UUID changed)."""
    if old == new:
        return
    inroot.remove_tree(mnt, f"/{livedir}/{new}")
    os.rename(rootfs.host_path(mnt, f"/{livedir}/{old}"), rootfs.host_path(mnt, f"/{livedir}/{new}"))


def reset(mnt: Path, livedir: str, name: str, work: Path) -> None:
    """The overlay *name* emptied, as upstream's --reset-overlay does: a COW file's header zeroed, an overlayfs
    image or folder emptied (the image made again at its size, the folder and its ovlwork made again)."""
    kind = kind_of(mnt, livedir, name)
    path = f"/{livedir}/{name}"
    if kind is OverlayKind.DIR:
        _overlay_dir(mnt, livedir, path)
    elif kind is OverlayKind.IMAGE:
        host = rootfs.host_path(mnt, path)
        size = host.stat().st_size
        fs.remove_tree(work / "ovl-tree")
        host.unlink()
        overlayfs_image(new_file(mnt, path), max(1, size // MIB), work)
    else:
        with inroot.opened(mnt, path, os.O_WRONLY) as fd:
            os.pwrite(fd, bytes(_RESET_BYTES), 0)
            os.fsync(fd)
    log.info("Reset the persistent overlay %s (%s)", path, kind)


def kind_on_fat(part: str, path: str, work: Path) -> OverlayKind:
    """:func:`kind_of` for the overlay file *path* on the unmounted FAT partition *part* (never a folder there)."""
    fstype = stickfat.fstype_of(part, path, work)
    return OverlayKind.IMAGE if fstype and fstype != "DM_snapshot_cow" else OverlayKind.COW


def reset_on_fat(part: str, path: str, work: Path) -> None:
    """:func:`reset` for the overlay file *path* on the unmounted FAT partition *part*, in place: a COW file's
    header zeroed where it lies; an overlayfs image made again in its clusters (through a loop device over them),
    or, when the file is fragmented, replaced by a new one of its size (the one case that copies it)."""
    kind = kind_on_fat(part, path, work)
    if kind is OverlayKind.COW:
        stickfat.zero_head(part, path, _RESET_BYTES)
    else:
        with stickfat.contiguous_device(part, path) as dev:
            if dev is not None:
                _format_image(dev, work)
        if dev is None:
            image = work / "overlay-reset.img"
            overlayfs_image(new_file(work, "/overlay-reset.img"), max(1, stickfat.size(part, path) // MIB), work)
            run(["mcopy", "-o", "-i", part, str(image), f"::/{path.strip('/')}"], env=mtools_env(),
                what=f"Writing the reset overlay {path} to {part}")
            image.unlink()
    log.info("Reset the persistent overlay %s (%s)", path, kind)


def kernel_args(kind: OverlayKind | None, overlayfs: OverlayfsMode | None, no_overlay: bool, uuid: str) -> list[str]:
    """dracut's arguments for the stick's overlay of *kind* (None: no persistent one)."""
    if no_overlay:
        return ["rd.live.overlay=none"]
    args = []
    if overlayfs is not None or kind in (OverlayKind.DIR, OverlayKind.IMAGE):
        args.append("rd.live.overlay.overlayfs")
    if kind is not None:
        args.append(f"rd.live.overlay=UUID={uuid}")
    return args
