"""Where the install root lives: a plain directory, or an ext filesystem in a sparse file on a loop device.

Composed rather than inherited (as kiwi's live builder does): a creator holds one storage object, chosen from its
build configuration (a directory, an ext image, or a reproducible ext image made from a directory at the end),
and opens it on its mount stack.  An ext image is a sparse file, a loop device on it and a filesystem mounted from that,
each registered for release the moment it is acquired, so the stack releases them in reverse order whatever
way the build ends.  After the root is unmounted, :meth:`ExtImage.finish` makes the file what is shipped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from imgcreate.errors import CommandError, CreatorError, ImageError, ResizeError
from imgcreate.host import fs
from imgcreate.host.run import run
from imgcreate.storage import reproducible

log = logging.getLogger("imgcreate")


class RootStorage(Protocol):
    """What a creator needs of the storage its install root lives on."""

    def open(self, stack: contextlib.ExitStack, root: Path, workdir: Path, base: Path | None = None) -> None:
        """Make the storage (in *workdir*) and mount it at *root*, registering every release on *stack*.

        *base*: an existing image to start from (``--base-on``): an ext filesystem image, or a squashfs
        holding a root tree (a flat live root); see :func:`is_squashfs`.
        """

    def host_tools(self) -> list[str]:
        """Host programs :meth:`open` and the finishing steps run."""


def is_squashfs(path: Path) -> bool:
    """Whether *path* is a squashfs (a flat live root to unpack) rather than a filesystem image to copy."""
    with open(path, "rb") as f:
        return f.read(4) == b"hsqs"


def unpack_tree(squashfs: Path, root: Path) -> None:
    """Unpack a squashfs root tree into the (mounted, empty) install root."""
    log.info("starting from the root tree in %s", squashfs)
    run(["unsquashfs", "-f", "-d", str(root), str(squashfs)], what=f"Unpacking {squashfs}")


def copy_image_tree(image: Path, root: Path, workdir: Path) -> None:
    """Copy the files of a filesystem image into a directory root: mounted read-only only while copying."""
    log.info("starting from the files of %s", image)
    mnt = workdir / "base-mount"
    mnt.mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        device = fs.attach_loop(stack, image, readonly=True)
        fs.mount(stack, device, mnt, options="ro")
        run(["cp", "-a", f"{mnt}/.", str(root)], what=f"Copying the files of {image}")


class DirectoryRoot:
    """The install root is a plain directory in the build directory (the base creator, flat live roots)."""

    def open(self, stack: contextlib.ExitStack, root: Path, workdir: Path, base: Path | None = None) -> None:
        root.mkdir(parents=True, exist_ok=True)
        if base is not None and is_squashfs(base):
            unpack_tree(base, root)
        elif base is not None:
            copy_image_tree(base, root, workdir)

    def host_tools(self) -> list[str]:
        return []


class ExtImage:
    """An ext2/3/4 filesystem of *size* bytes in the sparse file ``<workdir>/image/<name>.img``, mounted from a
    loop device while the root is built.  *size_from_base*: a ``--base-on`` image larger than *size* sets the
    size (editliveos keeps the room the edited system had)."""

    def __init__(self, name: str, size: int, fstype: str, label: str, epoch: int | None = None,
                 size_from_base: bool = False, blocksize: int = 4096) -> None:
        if fstype not in fs.EXT_TYPES:
            raise ImageError(
                f"The kickstart asks for a '{fstype}' root filesystem (part / --fstype); images are "
                f"{', '.join(fs.EXT_TYPES)}."
            )
        self.name = name
        self.size = size
        self.fstype = fstype
        self.label = label
        self.epoch = epoch  # the reproducible epoch (see ReproducibleExtImage)
        self.size_from_base = size_from_base
        self.blocksize = blocksize  # upstream's LoopImageCreator._blocksize
        self._path: Path | None = None
        # How a --base-on image becomes this image's file (src, dst): upstream's LoopImageCreator._base_on hook,
        # which a subclass may override, is put here by the loop creator.
        self.copy_base: Callable[[Path, Path], object] = shutil.copyfile

    @property
    def path(self) -> Path:
        """The image file (known once :meth:`open` has run)."""
        if self._path is None:
            raise CreatorError("The image file does not exist yet: the install root was never mounted.")
        return self._path

    def host_tools(self) -> list[str]:
        return ["losetup", f"mkfs.{self.fstype}", "e2fsck", "resize2fs", "dumpe2fs"]

    def _prepare(self, workdir: Path, base: Path | None) -> Path:
        """The image file's path (its folder made); the size grown to the base image's with *size_from_base*."""
        image = workdir / "image" / f"{self.name}.img"
        image.parent.mkdir(exist_ok=True)
        self._path = image
        if self.size_from_base and base is not None and not is_squashfs(base):
            self.size = max(self.size, os.path.getsize(base))
        return image

    def open(self, stack: contextlib.ExitStack, root: Path, workdir: Path, base: Path | None = None) -> None:
        image = self._prepare(workdir, base)
        tree = base if base is not None and is_squashfs(base) else None
        if tree is not None:
            base = None
        if base is not None:
            log.info("starting from the existing image %s", base)
            self.copy_base(base, image)
            fs.make_sparse(image, max(self.size, os.path.getsize(image)))
        else:
            fs.make_sparse(image, self.size)
        device = fs.attach_loop(stack, image, scratch=True)
        if base is not None:
            fs.fsck(Path(device))
            run(["resize2fs", device], what="Growing the base image")
        else:
            fs.mkfs_ext(device, self.fstype, self.label, blocksize=self.blocksize)
        root.mkdir(exist_ok=True)
        fs.mount(stack, device, root, fstype=self.fstype)
        if tree is not None:
            unpack_tree(tree, root)

    def finish(self) -> int:
        """Check, minimize and grow back sparsely to the nominal size (upstream's ``_resparse``).

        Returns the minimal size.  The file then holds only what is used (nothing stale is kept or compressed)
        while the filesystem keeps the size the kickstart asked for.
        """
        try:
            return fs.resparse(self.path, self.size)
        except CommandError as exc:
            raise ResizeError(f"Could not check and shrink the image {self.path}: {exc}") from exc

    def check(self) -> None:
        """Only check the filesystem and discard its free blocks (no minimizing: --skip-minimize)."""
        try:
            fs.fsck(self.path, discard=True)
        except CommandError as exc:
            raise ImageError(f"Could not check the image {self.path}: {exc}") from exc


class ReproducibleExtImage(ExtImage):
    """The ext image of a reproducible build (SOURCE_DATE_EPOCH): the root is built in a directory, and the
    image is made from the (unmounted, normalised) tree by :meth:`finish`, fresh, so nothing stale is in it."""

    def __init__(self, name: str, size: int, fstype: str, label: str, epoch: int | None = None,
                 size_from_base: bool = False, blocksize: int = 4096) -> None:
        if epoch is None:
            raise CreatorError("A reproducible ext image needs the build's epoch.")
        super().__init__(name, size, fstype, label, epoch, size_from_base, blocksize)
        self._epoch = epoch
        self._tree: Path | None = None
        self._workdir: Path | None = None

    def host_tools(self) -> list[str]:
        return [*super().host_tools(), "mksquashfs"]

    def open(self, stack: contextlib.ExitStack, root: Path, workdir: Path, base: Path | None = None) -> None:
        self._prepare(workdir, base)
        self._tree, self._workdir = root, workdir
        DirectoryRoot().open(stack, root, workdir, base)

    def finish(self) -> int:
        """Make the image from the tree at its nominal size; returns that size."""
        self._make()
        return self.size

    def check(self) -> None:
        self._make()

    def _make(self) -> None:
        if self._tree is None or self._workdir is None:
            raise CreatorError("The image's tree does not exist yet: the install root was never mounted.")
        reproducible.ext_from_tree(self._tree, self.path, self.size, self.fstype, self.label, self._epoch,
                                   self._workdir)
