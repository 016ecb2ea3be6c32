"""A partitioned disk image as the install root's storage: a sparse file, its partition table, a loop device
with its partitions, a filesystem on each, mounted in order under the root.

Composed like :class:`imgcreate.storage.roots.ExtImage` (kiwi's way): each resource is registered for release on the
mount stack the moment it is acquired, so a failure anywhere between partitioning and unmounting leaves no
mount and no loop device behind.  The layout itself (sizes, order, types, validation) is
:mod:`imgcreate.disk.layout`'s; partitioning and formatting are :func:`imgcreate.disk.formatted.format_disk`'s
(livecd-iso-to-disk's sticks take the same path); this module mounts the result, fills the FAT partitions and
writes the fstab lines.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
from collections.abc import Sequence
from pathlib import Path

from imgcreate.disk import formatted, repro
from imgcreate.disk import ids as diskids
from imgcreate.disk.ids import FsIds
from imgcreate.disk.layout import DiskLayout, PartKind, PlannedPartition
from imgcreate.errors import CreatorError, ImageError
from imgcreate.host import fs
from imgcreate.host.run import mtools_env, run
from imgcreate.storage import inroot, reproducible

log = logging.getLogger("imgcreate")

# fstab options and fsck passes as anaconda writes them for Fedora.
_FSTAB_OPTIONS = {"vfat": ("umask=0077,shortname=winnt", 2), "xfs": ("defaults", 0), "swap": ("defaults", 0)}


class PartitionedDisk:
    """The whole disk, ``<workdir>/image/<name>.raw``, laid out as *layout* says.

    *epoch* (``SOURCE_DATE_EPOCH``): a reproducible disk, whose ids are derived (:mod:`imgcreate.disk.ids`)
    and whose ext partitions :meth:`finish` makes again from their trees (:mod:`imgcreate.disk.repro`).
    """

    def __init__(self, name: str, layout: DiskLayout, epoch: int | None = None) -> None:
        self.name = name
        self.layout = layout
        self.epoch = epoch
        self._workdir: Path | None = None
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
            tools |= set(formatted.mkfs_tools(part))
            if part.fstype == "vfat":
                tools |= {"mcopy", "mmd"}
        if self.epoch is not None:
            tools |= {"sfdisk", "fallocate", "mksquashfs"}
        return sorted(tools)

    def ids(self, part: PlannedPartition) -> FsIds | None:
        """The filesystem ids *part* gets: derived for a reproducible disk, else None (the tools draw them)."""
        return None if self.epoch is None else FsIds.derived(self.name, part.number, self.epoch)

    def _set_table_ids(self, image: Path) -> None:
        """A reproducible disk's partition table ids, derived (libparted draws them); nothing otherwise."""
        if self.epoch is not None:
            diskids.set_table_ids(image, self.layout, self.name, self.epoch)

    def open(self, stack: contextlib.ExitStack, root: Path, workdir: Path, base: Path | None = None) -> None:
        if base is not None:
            raise CreatorError("--base-on is not supported for disk images: start from a kickstart.")
        image = workdir / "image" / f"{self.name}.raw"
        image.parent.mkdir(exist_ok=True)
        self._path = image
        self._workdir = workdir
        if self.epoch is not None:
            repro.warn_unreproducible(self.layout)
        made = formatted.format_disk(stack, image, self.layout, ids=self.ids, table_ids=self._set_table_ids)
        self.device = made.device
        stack.callback(setattr, self, "device", None)
        self._partitions = dict(made.partitions)
        self.uuids = dict(made.uuids)
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
                if self.epoch is not None:
                    reproducible.clamp_mtimes(staging, self.epoch)
                if entries:
                    _copy_into_fat(self.partition_device(part), staging, entries, part.mountpoint)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            inroot.remove_contents(self._root, part.mountpoint)

    def finish(self) -> None:
        """After the build (everything unmounted): a reproducible disk's ext partitions made again from their
        normalised trees (:func:`imgcreate.disk.repro.rebuild_ext_partitions`); nothing otherwise."""
        if self.epoch is None or self._workdir is None:
            return
        ids = {p.number: FsIds.derived(self.name, p.number, self.epoch) for p in self.layout.partitions}
        repro.rebuild_ext_partitions(self.path, self.layout, ids, self.epoch, self._workdir)

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


def _copy_into_fat(dev: str, staged: Path, entries: Sequence[Path], mountpoint: str) -> None:
    """Copy *entries* (what lies in the FAT partition's mount point *staged*) into the FAT filesystem on *dev*
    with mtools: directories first (``mmd``), then each directory's files, all in sorted order, so that the
    directory entries are the same for the same files whatever order the host's filesystem lists them in.
    mtools takes the times it makes up from ``SOURCE_DATE_EPOCH`` when it is set (the environment passes it on)."""
    env = mtools_env()
    dirs: list[str] = []
    files: dict[str, list[str]] = {}
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            for top, subdirs, names in os.walk(entry):
                subdirs.sort()
                rel = "/" + str(Path(top).relative_to(staged))
                dirs.append(f"::{rel}")
                files[rel] = [os.path.join(top, n) for n in sorted(names)]
        else:
            files.setdefault("/", []).append(str(entry))
    what = f"Copying {mountpoint} into its FAT partition"
    if dirs:
        run(["mmd", "-i", dev, *dirs], what=what, env=env)
    for rel, names in files.items():
        if names:
            run(["mcopy", "-p", "-Q", "-i", dev, *names, f"::{rel.rstrip('/')}/"], what=what, env=env)
