"""Upstream's Disk classes: something that is, once ``create()``d, a block device (``device``), until
``cleanup()``.

A loop-backed disk attaches its file with :func:`imgcreate.host.fs.attach_loop`, the library's own: atomically
(``losetup --find --show``, with signals held so no device is attached unseen) and with the detach registered on
an ExitStack at that moment.  ``cleanup()`` closes that stack: it detaches and waits until the device is gone,
and does nothing the second time.  Nothing relies on ``__del__``: a caller that never cleans up leaks the loop
device, as upstream's would; use ``try/finally`` or the creator's ``cleanup()``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from imgcreate.errors import CommandError, MountError
from imgcreate.fs.tools import makedirs, ops_words, readonly
from imgcreate.host import fs as host_fs

log = logging.getLogger("imgcreate")


class Disk:
    """Generic base object for a disk.  ``create()`` makes it visible as a block device; ``cleanup()`` undoes
    that.  *size* in bytes."""

    def __init__(self, size: int | None, device: str | None = None) -> None:
        self._device = device
        self._size = size

    def create(self, ops: str = "") -> None:
        """Make the disk a block device (``device``); the base class has none to make."""
        pass

    def cleanup(self) -> None:
        """Release what ``create()`` made; does nothing when there is nothing to release."""
        pass

    def get_device(self) -> str | None:
        """The block device's path, None until ``create()``: the ``device`` property."""
        return self._device

    def set_device(self, path: str | None) -> None:
        """Set the block device's path (``create()`` does)."""
        self._device = path

    device = property(get_device, set_device)

    def get_size(self) -> int | None:
        """The size in bytes given to the constructor: the ``size`` property."""
        return self._size

    size = property(get_size)


class RawDisk(Disk):
    """A Disk that is a block device already (a partition, say); ``create()`` does nothing."""

    def __init__(self, size: int | None, device: str) -> None:
        Disk.__init__(self, size, device)

    def fixed(self) -> bool:
        """True: a block device cannot be resized, so ExtDiskMount formats it."""
        return True

    def exists(self) -> bool:
        """True: the device is there."""
        return True


class LoopbackDisk(Disk):
    """A Disk backed by the file *lofile* through a loop device.  *ops*: ``"ro"``/``"-r"`` attaches it
    read-only.  After ``create()``, ``fstype`` is the type of the filesystem found on it (None if none)."""

    def __init__(self, lofile: str, size: int | None, ops: str = "", fstype: str | None = None,
                 dirmode: int | None = None) -> None:
        Disk.__init__(self, size)
        self.lofile = lofile
        self.ops = ops
        self.fstype = fstype
        self.dirmode = dirmode
        self._stack = contextlib.ExitStack()

    def fixed(self) -> bool:
        """False: an image file can be resized, so ExtDiskMount resizes an existing one."""
        return False

    def exists(self) -> bool:
        """Whether the image file exists."""
        return os.path.exists(self.lofile)

    def create(self, ops: str = "") -> None:
        """Attach the file to a loop device of its own (``device``) and probe its filesystem (``fstype``)."""
        if self.device is not None:
            return
        words = ops_words(ops) or ops_words(self.ops)
        if "--direct-io" in words:
            log.debug("--direct-io is not used for %s: the loop device is attached buffered", self.lofile)
        with contextlib.ExitStack() as stack:
            try:
                device = host_fs.attach_loop(stack, Path(self.lofile), readonly=readonly(words),
                                                  scratch=True)
            except CommandError as exc:
                raise MountError(f"Failed to allocate loop device for '{self.lofile}': {exc}") from exc
            fstype = host_fs.probe(device, "TYPE") or None
            self._stack = stack.pop_all()
        self.device = device
        self.fstype = fstype
        log.info("Losetup add %s mapping to %s", device, self.lofile)

    def cleanup(self) -> None:
        if self.device is None:
            return
        log.info("Losetup remove %s", self.device)
        try:
            self._stack.close()
        finally:
            self.device = None


class SparseLoopbackDisk(LoopbackDisk):
    """A LoopbackDisk whose file is made sparse, *size* bytes long, by ``create()`` (its folder too)."""

    def __init__(self, lofile: str, size: int | None, ops: str = "", dirmode: int | None = None) -> None:
        LoopbackDisk.__init__(self, lofile, size, ops=ops, dirmode=dirmode)

    def expand(self, create: bool = False, size: int | None = None, dirmode: int | None = None) -> None:
        """Make the file at least *size* bytes (default: the disk's size) without writing its blocks.  Without
        *create* the file must exist (FileNotFoundError).  A file already as large is left as it is."""
        if create:
            makedirs(os.path.dirname(self.lofile) or ".", dirmode if dirmode is not None else self.dirmode)
        elif not os.path.exists(self.lofile):
            raise FileNotFoundError(2, "No such file", self.lofile)
        want = max(int(size if size is not None else self.size or 0), 1)
        current = os.path.getsize(self.lofile) if os.path.exists(self.lofile) else 0
        log.info("Extending sparse file %s to %d", self.lofile, want)
        if want > current or not os.path.exists(self.lofile):
            host_fs.make_sparse(Path(self.lofile), max(want, current))

    def truncate(self, size: int | None = None) -> None:
        """Cut (or extend, sparsely) the file to *size* bytes (default: the disk's size)."""
        want = int(size if size is not None else self.size or 0)
        log.info("Truncating sparse file %s to %d", self.lofile, want)
        os.truncate(self.lofile, want)

    def create(self, ops: str = "", dirmode: int | None = None) -> None:
        """Make the sparse file (and its folder) if missing, then attach it."""
        if self.device is not None:
            return
        self.expand(create=True, dirmode=dirmode)
        LoopbackDisk.create(self, ops=ops)


class ExistingSparseLoopbackDisk(SparseLoopbackDisk):
    """A SparseLoopbackDisk whose file exists already: ``create()`` attaches it as it is."""

    def __init__(self, lofile: str, size: int | None, ops: str = "", dirmode: int | None = None) -> None:
        SparseLoopbackDisk.__init__(self, lofile, size, ops=ops, dirmode=dirmode)

    def create(self, ops: str = "", dirmode: int | None = None) -> None:
        LoopbackDisk.create(self, ops=ops)
