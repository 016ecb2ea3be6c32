"""Upstream's older mount classes, kept by upstream as a compatibility layer over the Disk and DiskMount ones
(``LoopbackMount``, ``SparseLoopbackMount``, ``SparseExtLoopbackMount``), and ``OverlayFSMount``.

Each holds a DiskMount (``diskmount``) and does what it does; ``cleanup()`` releases everything it made (the
mount, the loop devices, the temporary mount points) and may be called again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from imgcreate.errors import MountError
from imgcreate.fs.disks import Disk, LoopbackDisk, SparseLoopbackDisk
from imgcreate.fs.mounts import DiskMount, ExtDiskMount, Mount
from imgcreate.fs.tools import makedirs, readonly
from imgcreate.host import fs as host_fs
from imgcreate.host.run import run

log = logging.getLogger("imgcreate")


class LoopbackMount:
    """The file *lofile* (a filesystem image) loop-mounted on *mountdir*."""

    def __init__(self, lofile: str, mountdir: str, fstype: str | None = None, ops: str = "",
                 dirmode: int | None = None) -> None:
        self.diskmount: DiskMount = DiskMount(LoopbackDisk(lofile, size=0, ops=ops, dirmode=dirmode), mountdir,
                                              fstype, rmmountdir=True, ops=ops, dirmode=dirmode)
        self.lofile = lofile
        self.losetup = False
        self.loopdev: str | None = None
        self.ops = ops
        self.dirmode = dirmode
        self._loop: LoopbackDisk | None = None

    def cleanup(self) -> None:
        """Unmount, detach the loop devices; safe to call again."""
        try:
            self.diskmount.cleanup()
        finally:
            self.lounsetup()

    def unmount(self) -> None:
        """Unmount *lofile* (its loop device stays attached until ``cleanup()``)."""
        self.diskmount.unmount()

    def lounsetup(self) -> None:
        """Detach the loop device ``loopsetup()`` attached."""
        if self.losetup and self._loop is not None:
            try:
                self._loop.cleanup()
            finally:
                self.losetup = False
                self.loopdev = None

    def loopsetup(self, ops: str = "") -> None:
        """Attach *lofile* to a loop device of its own (``loopdev``), without mounting it."""
        if self.losetup:
            return
        self._loop = LoopbackDisk(self.lofile, 0, ops=ops or self.ops)
        self._loop.create()
        self.loopdev = self._loop.device
        self.losetup = True

    def mount(self, ops: str = "", dirmode: int | None = None) -> None:
        """Attach *lofile* and mount it on *mountdir* (made if missing); *ops*: mount options."""
        self.diskmount.mount(ops, dirmode)


class SparseLoopbackMount(LoopbackMount):
    """A LoopbackMount whose file is sparse, *size* bytes, made by ``create()``."""

    def __init__(self, lofile: str, mountdir: str, size: int, fstype: str | None = None, ops: str = "",
                 dirmode: int | None = None) -> None:
        LoopbackMount.__init__(self, lofile, mountdir, fstype, ops, dirmode)
        self.disk = SparseLoopbackDisk(lofile, size, ops=ops, dirmode=dirmode)
        self.diskmount = DiskMount(self.disk, mountdir, fstype, rmmountdir=True, ops=ops, dirmode=dirmode)

    def expand(self, create: bool = False, size: int | None = None) -> None:
        """Grow the file sparsely to *size* (default: the given size); *create*: make it first."""
        self.disk.expand(create, size)

    def truncate(self, size: int | None = None) -> None:
        """Cut (or grow sparsely) the file to *size* (default: the given size)."""
        self.disk.truncate(size)

    def create(self) -> None:
        """Make the sparse file (and its folder) and attach it."""
        self.disk.create()


class SparseExtLoopbackMount(SparseLoopbackMount):
    """A sparse file with an ext (or xfs, btrfs, f2fs) filesystem, made on ``create()`` or the first
    ``mount()``, loop-mounted on *mountdir*."""

    def __init__(self, lofile: str, mountdir: str, size: int, fstype: str, blocksize: int, fslabel: str,
                 ops: str = "", dirmode: int | None = None) -> None:
        SparseLoopbackMount.__init__(self, lofile, mountdir, size, fstype, ops, dirmode)
        self.extmount = ExtDiskMount(self.disk, mountdir, fstype, blocksize, fslabel, rmmountdir=True, ops=ops,
                                     dirmode=dirmode)
        self.diskmount = self.extmount

    def create(self) -> None:
        """Make the file and its filesystem (the loop device stays attached until ``cleanup()``)."""
        self.extmount._ExtDiskMount__create()  # type: ignore[attr-defined]

    def resize(self, size: int | None = None) -> int | None:
        """Resize the file and its filesystem to *size* (default: the given size); the new size or None."""
        result: int | None = self.extmount._ExtDiskMount__resize_filesystem(size)  # type: ignore[attr-defined]
        return result

    def mount(self, ops: str = "", dirmode: int | None = None) -> None:
        """Make the filesystem if the file is new, then mount it."""
        self.extmount.mount(ops, dirmode)

    def resparse(self, size: int | None = None, ops: str | None = None) -> int:
        """Shrink the filesystem to its minimum, then grow the file back sparsely; the minimal size."""
        return self.extmount.resparse(size, ops=ops)


def _selinux() -> bool:
    return os.path.isdir("/sys/fs/selinux") and bool(os.listdir("/sys/fs/selinux"))


class OverlayFSMount(Mount):
    """An overlayfs on *dest*: *lower* (a Disk, or a DiskMount already set up) below, *upper* above: a folder,
    a file (an image of *size* bytes holding ``overlayfs/`` and ``ovlwork/``) or a LoopbackDisk.  Mounted with
    *ops* ``"ro"``, the upper layer is stacked read-only too.  Its temporary mount points are made under the
    system's temporary folder (``imgcreate-*``; upstream: /run) and removed by ``cleanup()``."""

    def __init__(self, name: str, lower: Disk | DiskMount, upper: str | LoopbackDisk | None = None,
                 work: str | None = None, dest: str | None = None, size: int | None = None,
                 fstype: str | None = None, blksz: int | None = None, ops: str = "",
                 dirmode: int | None = None) -> None:
        Mount.__init__(self, dest or "")
        self.name = name
        self.size = size
        self.ops = ops
        self.dirmode = dirmode
        self.mounted = False
        self.created = False
        self.cowmnt: DiskMount | None = None
        self.cowloop: LoopbackDisk | None = None
        self._temporary: list[str] = []
        self._mounts = contextlib.ExitStack()
        self.upper = ""
        self.work = ""
        if isinstance(upper, str):
            if os.path.isdir(upper):
                self.upper = f",upperdir={upper}"
                self.work = f",workdir={work or os.path.join(upper, '..', 'ovlwork')}"
            else:
                upper = SparseLoopbackDisk(upper, size)
        if isinstance(upper, LoopbackDisk):
            mntdir = self._mkdtemp()
            self.cowloop = upper
            self.cowmnt = DiskMount(upper, mntdir, ops=ops, dirmode=dirmode)
            self.upper = f",upperdir={os.path.join(mntdir, 'overlayfs')}"
            self.work = f",workdir={os.path.join(mntdir, 'ovlwork')}"
        if isinstance(lower, DiskMount):
            self.imgmnt = lower
        else:
            self.imgmnt = DiskMount(lower, self._mkdtemp(), ops=ops, dirmode=dirmode)
        self.lower = f"lowerdir={self.imgmnt.mountdir}"

    def _mkdtemp(self) -> str:
        path = tempfile.mkdtemp(prefix="imgcreate-")
        self._temporary.append(path)
        return path

    def create_ovlfs(self, fstype: str, blksz: int, label: str, ops: str | None = None,
                     dirmode: int | None = None) -> None:
        """Format the upper layer's image with *fstype* and make its ``overlayfs`` and ``ovlwork`` folders."""
        if self.cowmnt is None or self.cowloop is None:
            raise MountError(f"OverlayFS {self.name}: its upper layer is a folder, not an image to format")
        self.cowmnt.cleanup()
        self.cowmnt = ExtDiskMount(self.cowloop, self.cowmnt.mountdir, fstype, blksz, "overlay", ops=ops or "",
                                   dirmode=0o755)
        self.cowmnt.mount()
        try:
            self.size = self.cowloop.size
            upper = os.path.join(self.cowmnt.mountdir, "overlayfs")
            makedirs(upper)
            makedirs(os.path.join(self.cowmnt.mountdir, "ovlwork"))
            if _selinux():
                run(["chcon", "--reference=/", upper], what="Labelling the overlay")
        finally:
            self.cowmnt.unmount()

    def mount(self, name: str | None = None, ops: str = "", dirmode: int | None = None) -> None:
        """Mount the lower layer, the upper one if any, and the overlay on ``mountdir``."""
        if self.mounted:
            return
        ops = ops or self.ops
        if readonly(ops):
            options = "ro," + self.upper.replace("upperdir", "lowerdir").lstrip(",") + ":" + \
                self.lower.replace("lowerdir=", "") if self.upper else "ro," + self.lower
        else:
            options = self.lower + self.upper + self.work
        makedirs(self.mountdir, dirmode if dirmode is not None else self.dirmode)
        self.imgmnt.mount(ops="ro", dirmode=dirmode)
        if self.cowmnt is not None:
            self.cowmnt.mount(ops=ops, dirmode=dirmode)
        if not readonly(ops):
            for option in (self.upper, self.work):  # overlayfs needs both; upstream's callers made them
                if option:
                    makedirs(option.split("=", 1)[1], 0o755)
        stack = contextlib.ExitStack()
        try:
            host_fs.mount(stack, name or self.name, Path(self.mountdir), fstype="overlay", options=options)
        except MountError as exc:
            raise MountError(f"OverlayFS mount of {self.mountdir} failed: {exc}") from exc
        self._mounts = stack
        self.mounted = True

    def unmount(self) -> None:
        """Unmount the overlay, then its layers."""
        if not self.mounted:
            return
        try:
            self._mounts.close()
        finally:
            self.mounted = False
        if self.cowmnt is not None:
            self.cowmnt.unmount()
        self.imgmnt.unmount()

    def cleanup(self) -> None:
        """Unmount, release the layers' disks and remove the temporary mount points."""
        try:
            self.unmount()
        finally:
            self.imgmnt.cleanup()
            if self.cowmnt is not None:
                self.cowmnt.cleanup()
            self.created = False
            for path in self._temporary:
                if not host_fs.mounts_under(Path(path)):
                    shutil.rmtree(path, ignore_errors=True)
