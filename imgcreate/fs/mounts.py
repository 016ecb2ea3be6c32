"""Upstream's Mount classes: ``Mount`` (the base appliance-tools' ``PartitionedMount`` subclasses), ``DiskMount``
(a Disk mounted on a folder), ``ExtDiskMount`` (formatted or resized first) and ``BindChrootMount``.

Each mount is made with :func:`imgcreate.host.fs.mount` on an ExitStack of the object's own, which registers the
unmount the moment the mount exists and records it by the kernel's mount id: ``unmount()`` unmounts that mount
wherever it is by then, retries while it is busy and, as upstream, falls back to a lazy unmount and raises
MountError.  ``cleanup()`` unmounts, then releases the disk, even when the unmount failed; calling it again
does nothing.  A bind mount into a chroot makes its mount point, and mounts on it, with every path resolved
inside the chroot (:mod:`imgcreate.storage.inroot`): a link in the image never leads the write or the mount
out of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from imgcreate.errors import CommandError, CreatorError, MountError, ResizeError
from imgcreate.fs.disks import Disk
from imgcreate.fs.tools import fsck, ops_words, readonly, resizefs
from imgcreate.host import fs as host_fs
from imgcreate.host.run import run
from imgcreate.storage import inroot

log = logging.getLogger("imgcreate")

_NOT_MOUNT_OPTIONS = frozenset({"raw", "--direct-io", "-r", "--readonly", "rw"})


def mount_options(ops: object, squashfs: bool = False) -> str | None:
    """Upstream's *ops* as ``mount -o`` options: ``-r`` is ``ro``; loop and device words are not options."""
    words = ops_words(ops)
    opts = [w for w in words if w not in _NOT_MOUNT_OPTIONS]
    if (readonly(words) or squashfs) and "ro" not in opts:
        opts.append("ro")
    return ",".join(dict.fromkeys(opts)) or None


class Mount:
    """A generic base class to deal with mounting things on *mountdir*; ``cleanup()`` calls ``unmount()``."""

    def __init__(self, mountdir: str) -> None:
        self.mountdir = mountdir

    def cleanup(self) -> None:
        """Unmount; safe to call again."""
        self.unmount()

    def mount(self) -> None:
        """Mount on ``mountdir``; the base class has nothing to mount."""
        pass

    def unmount(self) -> None:
        """Undo ``mount()``; does nothing when not mounted."""
        pass


class DiskMount(Mount):
    """A Disk mounted on *mountdir* (made if missing, and then removed again on unmount if *rmmountdir*)."""

    def __init__(self, disk: Disk, mountdir: str, fstype: str | None = None, rmmountdir: bool = True,
                 ops: str = "", dirmode: int | None = None) -> None:
        Mount.__init__(self, mountdir)
        self.disk = disk
        self.fstype = fstype
        self.ops = ops
        self.dirmode = dirmode
        self.rmmountdir = rmmountdir
        self.mounted = False
        self.rmdir = False
        self.created = False
        self._mounts = contextlib.ExitStack()

    def cleanup(self) -> None:
        """Unmount, then release the disk (its loop device); safe to call again."""
        try:
            Mount.cleanup(self)
        finally:
            self.mounted = False
            self.disk.cleanup()
            self.created = False

    def unmount(self) -> None:
        if self.mounted:
            log.info("Unmounting directory %s", self.mountdir)
            try:
                self._mounts.close()
            finally:
                self.mounted = False
        if self.rmdir and not self.mounted:
            with contextlib.suppress(OSError):
                os.rmdir(self.mountdir)
            self.rmdir = False

    def __create(self, ops: str = "") -> None:
        if not self.created:
            self.disk.create(ops=ops)
            self.created = True

    def mount(self, ops: str = "", dirmode: int | None = None) -> None:
        """Make ``mountdir`` if missing, ``create()`` the disk and mount it; *ops*: mount options."""
        if self.mounted:
            return
        if not os.path.isdir(self.mountdir):
            mode = dirmode if dirmode is not None else self.dirmode
            log.info("Creating mount point %s", self.mountdir)
            os.makedirs(self.mountdir, mode or 0o777)
            self.rmdir = self.rmmountdir
        self.__create(ops=ops)
        device = self.disk.device
        if device is None:
            raise MountError(f"Failed to mount '{self.mountdir}': its disk has no device")
        log.info("Mounting %s at %s", device, self.mountdir)
        options = mount_options(ops or self.ops, squashfs=self.fstype == "squashfs")
        stack = contextlib.ExitStack()
        try:
            host_fs.mount(stack, device, Path(self.mountdir), fstype=self.fstype, options=options)
        except MountError as exc:
            raise MountError(f"Failed to mount '{device}' to '{self.mountdir}': {exc}") from exc
        self._mounts = stack
        self.mounted = True

    def remount(self, ops: str) -> None:
        """Remount with the mount options *ops* (``remount,`` is added); MountError if it fails."""
        if not self.mounted:
            return
        remount_ops = f"remount,{ops}"
        try:
            run(["mount", "-o", remount_ops, self.mountdir], what=f"Remounting {self.mountdir}")
        except CommandError as exc:
            raise MountError(f"{remount_ops} of '{self.disk.device}' to '{self.mountdir}' failed.") from exc


class ExtDiskMount(DiskMount):
    """A DiskMount that makes its filesystem first: formatted (ext2/3/4, xfs, btrfs, f2fs) on a new or fixed
    disk, resized to the disk's size on an existing image file.  The label is ``"_" + fslabel``, as upstream."""

    def __init__(self, disk: Disk, mountdir: str, fstype: str, blocksize: int, fslabel: str,
                 rmmountdir: bool = True, ops: str = "", dirmode: int | None = None) -> None:
        DiskMount.__init__(self, disk, mountdir, fstype, rmmountdir, ops=ops, dirmode=dirmode)
        self.blocksize = blocksize
        self.fslabel = "_" + fslabel
        self.created = False

    def __format_filesystem(self) -> None:
        """Make the filesystem, labelled ``fslabel``, on the disk's device."""
        device = self.disk.device
        fstype = self.fstype or "ext4"
        assert device is not None
        log.info("Formatting %s filesystem on %s", fstype, device)
        try:
            run(["wipefs", "-a", device], what=f"Wiping the old signatures on {device}")
            if fstype.startswith("ext"):
                host_fs.mkfs_ext(device, fstype, self.fslabel, blocksize=self.blocksize)
                run(["tune2fs", "-c0", "-i0", "-Odir_index", "-ouser_xattr,acl", device],
                    what="Tuning the filesystem")
            elif fstype == "xfs":
                run(["mkfs.xfs", "-f", "-L", self.fslabel[:12], "-b", f"size={self.blocksize}", device],
                    what="Creating the filesystem")
            elif fstype == "btrfs":
                run(["mkfs.btrfs", "-f", "-L", self.fslabel[:255], device], what="Creating the filesystem")
            elif fstype == "f2fs":
                run(["mkfs.f2fs", "-f", "-l", self.fslabel[:512], device], what="Creating the filesystem")
            else:
                raise MountError(f"Error creating {fstype} filesystem: ExtDiskMount makes ext2/3/4, xfs, btrfs "
                                 "or f2fs filesystems.")
        except CreatorError as exc:
            if isinstance(exc, MountError):
                raise
            raise MountError(f"Error creating {fstype} filesystem on {device}: {exc}") from exc

    def __resize_filesystem(self, size: int | None = None, ops: str = "") -> int | None:
        """Resize the image file and its filesystem to *size* (default: the disk's); the new size or None."""
        lofile: str = getattr(self.disk, "lofile")  # noqa: B009 (a loop-backed disk's; a RawDisk is not resized)
        current = os.stat(lofile).st_size
        if size is None:
            size = self.disk.size
        if not size or size == current:
            return None
        if size > current:
            getattr(self.disk, "expand")(size=size)  # noqa: B009
        resizefs(lofile, self.fstype or "ext4", size, blksz=self.blocksize, ops=ops)
        if size < current:
            getattr(self.disk, "truncate")(size=size)  # noqa: B009
        return size

    def __create(self, ops: str = "") -> None:
        """Resize an existing image file, attach the disk, format it when new or fixed (not with ``raw``)."""
        if self.created:
            return
        fixed = getattr(self.disk, "fixed", lambda: True)()
        resize = not fixed and getattr(self.disk, "exists", lambda: False)()
        if resize:
            # Before the loop device is attached: a device made over the old size would not see the new one.
            self.__resize_filesystem(ops=ops)
        self.disk.create(ops=ops)
        if not resize and "raw" not in ops_words(ops):
            self.__format_filesystem()
        self.created = True

    def mount(self, ops: str = "", dirmode: int | None = None) -> None:
        self.__create(ops)
        DiskMount.mount(self, ops, dirmode)

    def __fsck(self, fstype: str | None = None) -> int:
        return fsck(getattr(self.disk, "lofile"), self.fstype or "ext4")  # noqa: B009

    def resparse(self, size: int | None = None, ops: str | None = None) -> int:
        """Unmount and detach, shrink the filesystem and its file to the minimum, then grow both back sparsely
        to *size* (default: the disk's size); returns the minimal size in bytes.  ext filesystems only (xfs and
        f2fs cannot shrink; upstream's btrfs path mounts it again)."""
        self.cleanup()
        fstype = self.fstype or "ext4"
        if not fstype.startswith("ext"):
            raise ResizeError(f"Cannot shrink a {fstype} filesystem to its minimal size.")
        lofile = Path(getattr(self.disk, "lofile"))  # noqa: B009
        try:
            return host_fs.resparse(lofile, size if size is not None else self.disk.size)
        except CommandError as exc:
            raise ResizeError(f"Resizing {lofile} failed: {exc}") from exc


class BindChrootMount:
    """*src* (a folder or a file of the host) bound onto *dest* (default: the same path) inside *chroot*.
    *ops* ``"ro"``: read-only.  A file is bound only onto a new, empty mount point file (upstream's rule: an
    existing file in the root is left as it is, not mounted over)."""

    def __init__(self, src: str, chroot: str, dest: str | None = None, ops: str = "",
                 dirmode: int | None = None) -> None:
        self.src = src
        self.root = chroot
        self.ops = ops
        self.dirmode = dirmode
        if not dest:
            dest = src
        self.dest = os.path.join(self.root, dest.lstrip("/"))
        self.mountdir = self.dest
        self._rel = dest.lstrip("/")
        self._target: Path | None = None
        self._mounts = contextlib.ExitStack()
        self.mounted = False

    def _is_mounted(self) -> bool:
        return self.mounted and self._target is not None and host_fs.mount_id(self._target) is not None

    def mount(self, ops: str = "", dirmode: int | None = None) -> None:
        """Bind *src* onto its mount point in the chroot (made, resolved inside the chroot)."""
        if self.mounted:
            return
        root = Path(self.root)
        mode = dirmode if dirmode is not None else self.dirmode
        if os.path.isdir(self.src):
            inroot.makedirs(root, self._rel, mode or 0o755)
        elif os.path.isfile(self.src):
            dirname = os.path.dirname(self._rel)
            inroot.makedirs(root, dirname)
            if inroot.lstat(root, self._rel) is not None:
                return
            inroot.write_bytes(root, self._rel, b"", 0o644)
        target = root / inroot.real_path(root, self._rel).lstrip("/")
        options = "ro" if readonly(ops or self.ops) else None
        stack = contextlib.ExitStack()
        try:
            host_fs.mount(stack, self.src, target, options=options, bind=True)
        except MountError as exc:
            raise MountError(f"Bind-mounting '{self.src}' to '{self.dest}' failed: {exc}") from exc
        self._mounts = stack
        self._target = target
        self.mounted = True

    def remount(self, ops: str) -> None:
        """Remount the bind mount with the options *ops*; MountError if it fails."""
        if not self._is_mounted():
            self.mounted = False
            return
        remount_ops = f"remount,bind,{ops}"
        try:
            run(["mount", "-o", remount_ops, str(self._target)], what=f"Remounting {self.dest}")
        except CommandError as exc:
            raise MountError(f"{remount_ops} of '{self.src}' to '{self.dest}' failed.") from exc

    def unmount(self) -> None:
        """Undo ``mount()``; does nothing when not mounted."""
        if not self.mounted:
            return
        try:
            self._mounts.close()
        finally:
            self.mounted = False

    def cleanup(self) -> None:
        """Unmount; safe to call again."""
        self.unmount()
