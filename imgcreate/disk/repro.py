"""Reproducible disk images: the ext partitions made again from their trees, the same bytes for the same build.

During the build the partitions are mounted and written through the kernel (GRUB's BIOS tools need the disk on a
loop device with its filesystems), and the kernel stamps every inode's change time with its clock, draws inode
generation numbers and leaves its own block allocation.  So, with ``SOURCE_DATE_EPOCH``, once the build is over
(boot loader written, ESP filled, everything unmounted):

1. the partitions are mounted together once more, as the system will see them, and the tree is normalised
   (:func:`imgcreate.storage.reproducible.normalize_tree`: machine-id, random seeds, databases, times clamped);
2. each ext partition is mounted alone (its mount points are then the plain directories below them, which are
   clamped too) and packed into an uncompressed squashfs (:func:`imgcreate.storage.reproducible.pack_tree`: the change
   times become the clamped modification times); the disk is detached;
3. each ext partition's range of the disk file is punched out (nothing of the first filesystem stays) and
   ``mke2fs -E offset=`` makes it again in place from the squashfs, with the same derived UUID and hash seed the
   build used (:class:`imgcreate.disk.ids.FsIds`), at the partition's size.

The other partitions are already reproducible as the build makes them: FAT through mtools (``mkfs.fat
--invariant`` with a derived serial, files copied in sorted order with clamped times; mtools takes its own
dates from ``SOURCE_DATE_EPOCH``), swap (``mkswap -U``), the BIOS boot partition and MBR boot code (GRUB's
core image holds only derived UUIDs).  XFS is not: the kernel writes it, and xfsprogs (6.1) cannot make a
filesystem from a tree with given times (its protofile sets the current time) nor stop drawing inode generation
numbers; :func:`warn_unreproducible` says so.
"""

from __future__ import annotations

import contextlib
import logging
import stat
from pathlib import Path

from imgcreate.disk.ids import FsIds
from imgcreate.disk.layout import DiskLayout, PlannedPartition
from imgcreate.host import fs
from imgcreate.host.run import run
from imgcreate.storage import inroot, reproducible

log = logging.getLogger("imgcreate")


def warn_unreproducible(layout: DiskLayout) -> None:
    """Say which partitions a reproducible build cannot make bit-identical (XFS), once, before the build."""
    for part in layout.partitions:
        if part.fstype == "xfs":
            log.warning(
                "partition %d (%s) is XFS: a reproducible build (SOURCE_DATE_EPOCH) makes the rest of the disk "
                "bit-identical, but not an XFS filesystem (written by the kernel; xfsprogs cannot make one from a "
                "tree with fixed times); use ext4 for a disk that rebuilds identically", part.number, part.mountpoint)


def rebuild_ext_partitions(image: Path, layout: DiskLayout, ids: dict[int, FsIds], epoch: int,
                           workdir: Path) -> None:
    """Normalise the tree on the finished, unmounted disk *image* and make each ext partition again from it
    (see the module's docstring).  *ids*: each partition's filesystem ids, as the build made them."""
    ext = [p for p in layout.partitions if p.fstype in fs.EXT_TYPES]
    packs = {p.number: workdir / f"reproducible-part{p.number}.sqfs" for p in ext}
    try:
        with contextlib.ExitStack() as stack:
            device = fs.attach_loop(stack, image, partscan=True, scratch=True)
            devices = fs.partition_devices(device, expect=len(layout.partitions))
            _normalize(layout, devices, workdir / "reproducible-disk", epoch)
            for part in ext:
                _pack_partition(devices[part.number], workdir / f"reproducible-part{part.number}",
                                packs[part.number], epoch)
        # Detached: nothing caches the disk's blocks while its file is rewritten.
        for part in ext:
            _make_ext(image, part, ids[part.number], packs[part.number], workdir)
    finally:
        for pack in packs.values():
            pack.unlink(missing_ok=True)


def _normalize(layout: DiskLayout, devices: dict[int, str], scratch: Path, epoch: int) -> None:
    """The partitions mounted as the system mounts them (FAT and swap aside), and the whole tree normalised."""
    scratch.mkdir(exist_ok=True)
    with contextlib.ExitStack() as mounts:
        for part in layout.mount_order():
            if part.fstype == "vfat" or part.mountpoint is None:
                continue
            # Resolved inside the tree mounted so far, right now: a %post may have made a folder above the
            # mount point (``/var`` for ``/var/log``) a link to a host folder, never to be mounted over.
            st = inroot.lstat(scratch, part.mountpoint)
            if st is None or not stat.S_ISDIR(st.st_mode):
                continue  # the image removed or replaced its mount point: nothing of the tree is below it
            target = scratch / inroot.real_path(scratch, part.mountpoint).lstrip("/")
            fs.mount(mounts, devices[part.number], target, fstype=part.fstype)
        reproducible.normalize_tree(scratch, epoch)


def _pack_partition(device: str, mnt: Path, pack: Path, epoch: int) -> None:
    """One partition alone (its mount points are plain directories then), its times clamped, packed."""
    mnt.mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        fs.mount(stack, device, mnt)
        reproducible.clamp_mtimes(mnt, epoch)
        reproducible.pack_tree(mnt, pack)


def _make_ext(image: Path, part: PlannedPartition, ids: FsIds, pack: Path, workdir: Path) -> None:
    """The partition's bytes in *image* punched out, and its ext filesystem made there from *pack*."""
    assert part.fstype is not None
    run(["fallocate", "--punch-hole", "--offset", str(part.start), "--length", str(part.size_bytes), str(image)],
        what=f"Clearing partition {part.number}")
    with reproducible.mounted_pack(pack, workdir / "reproducible-tree") as source:
        fs.mkfs_ext(str(image), part.fstype, part.label or "", size=part.size_bytes, extra=[
            "-U", ids.uuid, "-E", f"offset={part.start},hash_seed={ids.hash_seed},nodiscard", "-d", str(source)])
    log.info("made partition %d (%s) again from its tree", part.number, part.mountpoint)
