"""Packing the finished root for live media: squashfs (mksquashfs, tar2sqfs) and EROFS, behind one protocol.

The live creator never asks which filesystem it packs with: ``--rootfs-type`` (lorax's names) is a
:class:`RootfsType`, which says whether the root tree itself is packed (``flat``) or an ext4 ``rootfs.img``
inside it, and gives the :class:`Packer` that makes ``LiveOS/squashfs.img``.  A new packer (say a future
``--rootfs-type``) is a class here and a member of the enum; nothing in ``live.py`` changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from imgcreate.errors import CreatorError
from imgcreate.host import fs
from imgcreate.pack import erofs, squashfs
from imgcreate.strenum import StrEnum


class Packer(Protocol):
    """Makes LiveOS/squashfs.img from a folder."""

    fstype: str  # what the kernel mounts the result as (the flat root's fstab line)
    tool: str  # the host tool it needs (checked before the build starts)

    def check(self, compression: str | None) -> None:
        """Refuse, before building, a --compression-type this host's tool cannot make."""

    def pack(self, source: Path, output: Path, compression: str | None, sparse: bool, epoch: int | None,
             progress: bool | None = None, extra: Sequence[str] = ()) -> None:
        """Pack *source* into *output*; *sparse*: *source* holds only the big sparse rootfs.img; *epoch*: a
        reproducible build's; *progress*: show the tool's progress (None: when the log is on a terminal);
        *extra*: more options for the tool (upstream's ``package(ops=...)``: mksquashfs options)."""


class SquashfsPacker:
    """squashfs: tar2sqfs for the sparse root image (holes never read), mksquashfs for a root tree."""

    fstype = "squashfs"
    tool = "mksquashfs"

    def check(self, compression: str | None) -> None:
        squashfs.check_compression(compression)

    def pack(self, source: Path, output: Path, compression: str | None, sparse: bool, epoch: int | None,
             progress: bool | None = None, extra: Sequence[str] = ()) -> None:
        if sparse:
            squashfs.pack_sparse(source, output, compression, progress, epoch=epoch, extra=extra)
        else:
            squashfs.mksquashfs(source, output, compression, progress, extra)


class ErofsPacker:
    """EROFS with mkfs.erofs (Fedora 42's live media), the same for a tree and for the sparse image."""

    fstype = "erofs"
    tool = "mkfs.erofs"

    def check(self, compression: str | None) -> None:
        erofs.check_compression(compression)

    def pack(self, source: Path, output: Path, compression: str | None, sparse: bool, epoch: int | None,
             progress: bool | None = None, extra: Sequence[str] = ()) -> None:
        if extra:
            raise CreatorError(f"The packaging options {' '.join(extra)} are mksquashfs options; an EROFS root is "
                               "made with mkfs.erofs, which does not take them.")
        erofs.mkfs_erofs(source, output, compression, epoch)


class RootfsType(StrEnum):
    """lorax's ``--rootfs-type``: the packed image holds an ext4 rootfs.img (``-ext4``) or the root tree.

    Upstream's callers and the command line pass and compare the plain names."""

    SQUASHFS_EXT4 = "squashfs-ext4"
    SQUASHFS = "squashfs"
    EROFS_EXT4 = "erofs-ext4"
    EROFS = "erofs"

    @property
    def flat(self) -> bool:
        """The root tree itself is packed (no rootfs.img; the live system boots on overlayfs)."""
        return self in (RootfsType.SQUASHFS, RootfsType.EROFS)

    @property
    def packer(self) -> Packer:
        return ErofsPacker() if self in (RootfsType.EROFS, RootfsType.EROFS_EXT4) else SquashfsPacker()

    @classmethod
    def choose(cls, value: str | None, flat_squashfs: bool = False) -> RootfsType:
        """The --rootfs-type asked for, where upstream's --flat-squashfs is a spelling of "squashfs"."""
        if value is None:
            return cls.SQUASHFS if flat_squashfs else cls.SQUASHFS_EXT4
        chosen = cls.of(value, "root filesystem type")
        if flat_squashfs and not chosen.flat:
            raise CreatorError(f"--flat-squashfs puts the root tree itself in the image; --rootfs-type {value} "
                               "puts an ext4 rootfs.img there: use one of them.")
        return chosen


@dataclass(frozen=True)
class PackOps:
    """Upstream's ``package(ops=...)`` list, read: *flatten* ("flatten-squashfs": the root tree itself is
    packed, not rootfs.img), *progress* ("show-squashing": mksquashfs's progress shown; None: when the log is on
    a terminal) and *extra*, every other entry, passed to mksquashfs as options."""

    flatten: bool = False
    progress: bool | None = None
    extra: tuple[str, ...] = ()

    @classmethod
    def read(cls, ops: Sequence[str] | None) -> PackOps:
        items = list(ops or [])
        flatten = "flatten-squashfs" in items
        return cls(flatten=flatten, progress=True if "show-squashing" in items else None,
                   extra=tuple(o for o in items if o not in ("flatten-squashfs", "show-squashing")))


def pack_image_tree(packer: Packer, image: Path, fstype: str, mnt: Path, output: Path, compression: str | None,
                    epoch: int | None, ops: PackOps) -> None:
    """Pack the tree of the ext filesystem image *image*, loop-mounted read-only on the new folder *mnt* for it
    (then released and removed), as upstream's live ``_stage_final_image`` does for "flatten-squashfs"."""
    mnt.mkdir()
    try:
        with contextlib.ExitStack() as stack:
            device = fs.attach_loop(stack, image, readonly=True)
            fs.mount(stack, device, mnt, fstype=fstype, options="ro")
            packer.pack(mnt, output, compression, sparse=False, epoch=epoch, progress=ops.progress,
                        extra=ops.extra)
    finally:
        mnt.rmdir()
