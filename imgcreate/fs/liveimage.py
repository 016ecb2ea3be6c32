"""Upstream's ``LiveImageMount``: the root of a live system mounted on a folder, and the persistent overlay of
a live medium made, resized or reset.

Mounting is :func:`imgcreate.toolbox.livemount.mounted_live_root`, what ``liveimage-mount`` runs: the live
root read-only as the system last left it (the medium's persistent overlay applied, dm-snapshot or overlayfs,
without device-mapper), or writable through an overlay of the caller's.  Everything it mounts and attaches is
held on one ExitStack, released by ``unmount()``/``cleanup()``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from imgcreate.errors import CreatorError, MountError
from imgcreate.fs.tools import find_overlay, findmnt, makedirs
from imgcreate.host import fs as host_fs
from imgcreate.toolbox.livemount import mounted_live_root

_COW_TYPES = ("", "temp", "DM_snapshot_cow")


class LiveImageMount:
    """The live root found at *srcdir* (the folder a live ISO or stick is mounted on, a live ISO file, or a
    stick's device or image file) mounted on *mountdir*, read-only, as the live system last left it: the
    medium's persistent overlay (``LiveOS/overlay-*``) is applied.  *overlay* (another name): a folder or an
    ext image file holding a writable layer (``upper``, ``work``) over the root.  *rootfsimg* is
    upstream's name of the root image inside ``LiveOS`` (the standard names are found without it)."""

    def __init__(self, srcdir: str, mountdir: str, rootfsimg: str | None = None, overlay: str | None = None,
                 ops: str = "", dirmode: int | None = None) -> None:
        self.srcdir = srcdir.rstrip(os.sep)
        self.mountdir = mountdir
        self.rootfsimg = rootfsimg
        self.overlay = overlay
        self.ops = ops
        self.dirmode = dirmode
        self.mounted = False
        self.ovltype: str | None = None
        liveos = os.path.join(self.srcdir, "LiveOS")
        self.liveosdir = liveos if os.path.isdir(liveos) else self.srcdir
        self._stack = contextlib.ExitStack()

    def mount(self, ops: str = "", dirmode: int | None = None) -> None:
        """Mount the live root on ``mountdir`` (made if missing); MountError naming the medium if it fails."""
        if self.mounted:
            return
        makedirs(self.mountdir, dirmode if dirmode is not None else self.dirmode)
        # A medium's persistent overlay (LiveOS/overlay-*) is found and applied read-only by mounted_live_root.
        persistent = bool(self.overlay) and os.path.basename(str(self.overlay)).startswith("overlay-")
        overlay = Path(os.path.join(self.liveosdir, self.overlay)) if self.overlay and not persistent else None
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(mounted_live_root(Path(self.srcdir), Path(self.mountdir), overlay=overlay))
        except CreatorError as exc:
            stack.close()
            raise MountError(f"Failed to mount {self.srcdir} : {exc}") from exc
        self._stack = stack
        self.mounted = True

    def unmount(self) -> None:
        """Undo ``mount()``; does nothing when not mounted."""
        if not self.mounted:
            return
        try:
            self._stack.close()
        finally:
            self.mounted = False

    def cleanup(self) -> None:
        """Unmount; safe to call again."""
        self.unmount()

    def _overlay_path(self) -> str:
        if self.overlay:
            return os.path.join(self.liveosdir, self.overlay)
        found = find_overlay(self.liveosdir)
        if found:
            return found
        label, uuid = (findmnt("-no LABEL,UUID -T", self.srcdir).split() + ["", ""])[:2]
        return os.path.join(self.liveosdir, f"overlay-{label.translate(str.maketrans(' ', '_'))}-{uuid}")

    def make_overlay(self, size: int = 512 * 1024 ** 2, existing_size: int = 0, ovltype: str = "",
                     ovl_fstype: str = "", ovl_blksz: int | None = None, ops: str = "",
                     dirmode: int | None = None) -> tuple[str, str]:
        """Make (or make again, empty) the medium's persistent overlay in its ``LiveOS`` folder, as dracut reads
        it: ``overlay-LABEL-UUID`` of *size* bytes, a device-mapper snapshot store (*ovl_fstype* empty), an ext
        image holding ``overlayfs/`` and ``ovlwork/`` (*ovl_fstype* ext2/3/4), or a folder (``"dir"``).
        Returns (its path, the medium's UUID)."""
        self.unmount()
        path = self._overlay_path()
        uuid = findmnt("-no UUID -T", self.srcdir)
        if os.path.isdir(path):
            shutil.rmtree(path)
            shutil.rmtree(os.path.join(path, "..", "ovlwork"), ignore_errors=True)
        elif os.path.exists(path):
            os.remove(path)
        self.overlay = os.path.basename(path)
        self.ovltype = ovl_fstype
        if ovl_fstype == "dir":
            makedirs(path, 0o755)
            makedirs(os.path.join(path, "..", "ovlwork"), 0o755)
        else:
            self.resize_overlay(size, existing_size, ovl_fstype, ovl_blksz)
        return path, uuid

    def resize_overlay(self, overlay_size_mb: int, existing_size: int, ovl_fstype: str,
                       ovl_blksz: int | None) -> None:
        """Give the overlay the size *overlay_size_mb* (in bytes, as upstream passes it); an ext overlay is made
        again, empty, at that size; a snapshot store keeps its header (cut, it would lose its changes)."""
        path = self._overlay_path()
        if ovl_fstype in _COW_TYPES:
            if not os.path.exists(path) or overlay_size_mb > existing_size:
                host_fs.make_sparse(Path(path), overlay_size_mb)
            else:
                os.truncate(path, overlay_size_mb)
            return
        if not ovl_fstype.startswith("ext"):
            raise CreatorError(f"A persistent overlay of type {ovl_fstype} cannot be made here: use ext4, a "
                               "folder (dir) or a device-mapper snapshot store.")
        if os.path.exists(path):
            os.remove(path)
        tree = Path(tempfile.mkdtemp(prefix="imgcreate-"))
        try:
            (tree / "overlayfs").mkdir(mode=0o755)
            (tree / "ovlwork").mkdir(mode=0o755)
            host_fs.make_sparse(Path(path), overlay_size_mb)
            host_fs.mkfs_ext(path, ovl_fstype, "overlay", extra=["-d", str(tree)], blocksize=ovl_blksz or 4096)
        finally:
            shutil.rmtree(tree, ignore_errors=True)

    def reset_overlay(self) -> None:
        """Empty the overlay: what the live system wrote is forgotten, the overlay stays."""
        self.unmount()
        path = self._overlay_path()
        if os.path.isdir(path):
            for entry in os.scandir(path):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.remove(entry.path)
        elif self.ovltype in _COW_TYPES or self.ovltype is None:
            with open(path, "r+b") as f:
                f.write(b"\0" * min(64 * 1024, os.fstat(f.fileno()).st_size))
        else:
            self.resize_overlay(os.path.getsize(path), os.path.getsize(path), self.ovltype, None)
