"""A partitioned disk image as the install root's storage: a sparse file, its partition table, a loop device
with its partitions, a filesystem on each, mounted in order under the root.

Composed like :class:`imgcreate.storage.ExtImage` (kiwi's way): each resource is registered for release on the
mount stack the moment it is acquired, so a failure anywhere between partitioning and unmounting leaves no
mount and no loop device behind.  The layout itself (sizes, order, types, validation) is
:mod:`imgcreate.disklayout`'s; this module only makes it real.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
from pathlib import Path

from imgcreate import disklayout, fs, inroot
from imgcreate.disklayout import DiskLayout, PartKind, PlannedPartition
from imgcreate.errors import CreatorError, ImageError
from imgcreate.run import run

log = logging.getLogger("imgcreate")

_MTOOLS_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8", "MTOOLS_SKIP_CHECK": "1"}

# fstab options and fsck passes as anaconda writes them for Fedora.
_FSTAB_OPTIONS = {"vfat": ("umask=0077,shortname=winnt", 2), "xfs": ("defaults", 0), "swap": ("defaults", 0)}


class PartitionedDisk:
    """The whole disk, ``<workdir>/image/<name>.raw``, laid out as *layout* says."""

    def __init__(self, name: str, layout: DiskLayout) -> None:
        self.name = name
        self.layout = layout
        self.uuids: dict[int, str] = {}  # partition number -> filesystem (or swap) UUID
        self._partitions: dict[int, str] = {}  # partition number -> its device, while attached
        self.device: str | None = None  # the loop device, while attached
        self._path: Path | None = None
        self._root = Path("/nonexistent")

    @property
    def path(self) -> Path:
        if self._path is None:
            raise CreatorError("The disk image does not exist yet: the install root was never mounted.")
        return self._path

    def host_tools(self) -> list[str]:
        tools = {"losetup", "blkid", "partx"}
        for part in self.layout.partitions:
            tools |= set(_mkfs_tools(part))
            if part.fstype == "vfat":
                tools.add("mcopy")
        return sorted(tools)

    def open(self, stack: contextlib.ExitStack, root: Path, workdir: Path, base: Path | None = None) -> None:
        if base is not None:
            raise CreatorError("--base-on is not supported for disk images: start from a kickstart.")
        image = workdir / "image" / f"{self.name}.raw"
        image.parent.mkdir(exist_ok=True)
        self._path = image
        fs.make_sparse(image, self.layout.size_bytes)
        disklayout.write_partition_table(image, self.layout)
        self.device = fs.attach_loop(stack, image, partscan=True)
        stack.callback(setattr, self, "device", None)
        self._partitions = fs.partition_devices(self.device, expect=len(self.layout.partitions))
        for part in self.layout.partitions:
            dev = self.partition_device(part)
            make_filesystem(part, dev)
            if part.kind is not PartKind.BIOSBOOT:
                self.uuids[part.number] = probe_uuid(dev)
        root.mkdir(exist_ok=True)
        self._root = root
        for part in self.layout.mount_order():
            assert part.mountpoint is not None and part.fstype is not None
            target = root / part.mountpoint.lstrip("/")
            target.mkdir(parents=True, exist_ok=True)
            if part.fstype != "vfat":
                fs.mount(stack, self.partition_device(part), target, fstype=part.fstype)

    def write_fat_partitions(self) -> None:
        """Move what was installed below a FAT mountpoint (the ESP) into its partition, with mtools.

        FAT partitions are not mounted during the build: many hosts' kernels (VMs, containers) have no vfat,
        and mtools writes FAT as reliably everywhere.  Until now their files lay in the mountpoint directory on
        the parent filesystem; afterwards that directory is empty again, a mountpoint as in any installed system.

        The mountpoint is resolved inside the root now (a %post may have replaced it), copied out through file
        descriptors into a staging folder (mcopy follows links on the host; it reads only that copy), and a
        symbolic link there or below it, which FAT cannot hold, is an error: nothing is read or deleted through it.
        """
        for part in self.layout.mount_order():
            if part.fstype != "vfat" or part.mountpoint is None:
                continue
            st = inroot.lstat(self._root, part.mountpoint)
            if st is None:
                continue  # removed by a script: an empty partition
            if stat.S_ISLNK(st.st_mode):
                with inroot.parent(self._root, part.mountpoint) as (dirfd, name):
                    target = os.readlink(name, dir_fd=dirfd)
                raise ImageError(
                    f"{part.mountpoint} in the image is a symbolic link (to {target}), not the folder its FAT "
                    f"partition {part.number} is mounted on: a script (%post) replaced it. Nothing was copied "
                    "through it or deleted; the kickstart must leave the mount point a folder.")
            staging = self.path.parent / f"fat-partition-{part.number}"
            shutil.rmtree(staging, ignore_errors=True)
            try:
                inroot.copy_out(self._root, part.mountpoint, staging, links="refuse")
                entries = sorted(staging.iterdir())
                if entries:
                    run(["mcopy", "-s", "-p", "-Q", "-i", self.partition_device(part), *map(str, entries), "::/"],
                        what=f"Copying {part.mountpoint} into its FAT partition", env=_MTOOLS_ENV)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            inroot.remove_contents(self._root, part.mountpoint)

    def partition_device(self, part: PlannedPartition) -> str:
        """``/dev/loopNpK`` of *part* (made by ``--partscan`` or ``partx``; see :func:`fs.partition_devices`)."""
        if self.device is None:
            raise CreatorError("The disk image is not attached to a loop device.")
        return self._partitions[part.number]

    def uuid_of(self, part: PlannedPartition) -> str:
        return self.uuids[part.number]

    def fstab(self) -> str:
        """fstab lines by UUID for every mounted partition and swap, in mount order (as anaconda writes them)."""
        lines = []
        for part in [*self.layout.mount_order(), *(p for p in self.layout.partitions if p.kind is PartKind.SWAP)]:
            fstype = part.fstype or "auto"
            options, passno = _FSTAB_OPTIONS.get(fstype, ("defaults", 1 if part.mountpoint == "/" else 2))
            mountpoint = part.mountpoint or "none"
            lines.append(f"UUID={self.uuid_of(part)}  {mountpoint}  {fstype}  {options}  0 {passno}\n")
        return "".join(lines)


def _mkfs_tools(part: PlannedPartition) -> list[str]:
    return {"vfat": ["mkfs.vfat"], "xfs": ["mkfs.xfs"], "swap": ["mkswap"], None: []}.get(
        part.fstype, [f"mkfs.{part.fstype}"]
    )


def make_filesystem(part: PlannedPartition, dev: str) -> None:
    """Format *dev* as *part* asks (nothing for a BIOS boot partition), with its label cut to what the
    filesystem allows."""
    label = part.label or ""
    if part.kind is PartKind.BIOSBOOT or part.fstype is None:
        return
    if part.fstype in fs.EXT_TYPES:
        fs.mkfs_ext(dev, part.fstype, label)
    elif part.fstype == "xfs":
        run(["mkfs.xfs", "-f", "-q", *(["-L", label[:12]] if label else []), dev], what=f"Creating XFS on {dev}")
    elif part.fstype == "vfat":
        fat = ["-F", "32"] if part.size_mib >= 64 else []
        run(["mkfs.vfat", *fat, *(["-n", label[:11].upper()] if label else []), dev], what=f"Creating FAT on {dev}")
    elif part.fstype == "swap":
        run(["mkswap", *(["-L", label] if label else []), dev], what=f"Creating swap on {dev}")
    else:
        raise ImageError(f"Unsupported filesystem type '{part.fstype}' for partition {part.number}.")


def probe_uuid(dev: str) -> str:
    """The UUID of what was just made on *dev*, probed directly (blkid's cache may not know it yet)."""
    uuid = fs.probe(dev, "UUID")
    if not uuid:
        raise ImageError(f"{dev} has no UUID after it was formatted.")
    return uuid
