"""Bit-identical rebuilds: with ``SOURCE_DATE_EPOCH`` (or ``--source-date-epoch``) two builds of the same
kickstart from the same repositories give the same bytes, whatever the time, the temporary folder or the host's
clock.

Where variation comes from, and what is done about it:

* the clock, in every tool: the build passes ``SOURCE_DATE_EPOCH`` (:func:`command_env`) to every command it
  runs while it runs (:func:`imgcreate.host.run.passed_to_commands`; and into rpm's transaction, which runs
  in-process, for the database's install times and the scriptlets), never through this process's environment:
  mksquashfs clamps its dates to it, tar2sqfs dates its superblock, xorriso its volume dates, file dates
  and GPT GUIDs, mkfs.fat and mtools the EFI image's dates; ``E2FSPROGS_FAKE_TIME`` is the same for mke2fs.
  Tools that ignore the variable get options: GNU tar (feeding tar2sqfs the sparse live root) ``--mtime=@EPOCH
  --clamp-mtime`` (:func:`imgcreate.pack.squashfs.tar_time_args`), mkfs.erofs ``-T``/``-U``.  editliveos takes
  ``--source-date-epoch`` too and rebuilds its root image from the tree like livecd-creator;
* the caller's umask: the build sets 022 while it runs (:func:`imgcreate.build.pipeline.build_image`), so the folders
  it makes itself (``/dev``, ``/proc`` in the root, the squashfs staging) have the same modes for every caller;
* files the build leaves with a time after the epoch: clamped (:func:`clamp_mtimes`), like ``tar --clamp-mtime``;
* per-build state in the root (:func:`normalize_tree`): ``/etc/machine-id`` emptied (systemd makes one at first
  boot, as on Fedora's images), random seeds and ldconfig's ``aux-cache`` (inode numbers and times) removed,
  dnf's history given the epoch as its transaction times, the SQLite write-ahead files folded into their
  databases;
* an ext4 filesystem written through the kernel: every inode's change time is the kernel's clock and cannot be
  set.  So a reproducible ext4 root is installed into a directory and made at the end with ``mke2fs -d`` from a
  read-only squashfs of it (whose inodes report the clamped time as their change time), with the UUID and
  directory hash seed derived from the label and the epoch (:func:`ext_from_tree`);
* the default name and label come from the epoch (in UTC), not the clock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

from imgcreate.errors import CreatorError
from imgcreate.host import fs
from imgcreate.host.run import run
from imgcreate.storage import inroot

log = logging.getLogger("imgcreate")

ENV = "SOURCE_DATE_EPOCH"
_NAMESPACE = uuid.UUID("6f1d3c52-8b4e-4c1e-9a43-3a1b2f0c7d10")  # ours: derived UUIDs differ from other tools'


def epoch_from(value: str | int | None = None) -> int | None:
    """The build's epoch: *value* (``--source-date-epoch``) or ``$SOURCE_DATE_EPOCH``; None for a normal build."""
    raw = str(value) if value is not None else os.environ.get(ENV)
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise CreatorError(f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970 (UTC), not '{raw}'.")
    return int(raw)


def command_env(epoch: int | None) -> dict[str, str]:
    """What every command of a reproducible build is given (:func:`imgcreate.host.run.passed_to_commands`):
    the epoch, and e2fsprogs' own spelling of it; nothing for a normal build."""
    return {} if epoch is None else {ENV: str(epoch), "E2FSPROGS_FAKE_TIME": str(epoch)}


def derived_uuid(*parts: object) -> str:
    """A UUID that is the same for the same *parts* (e.g. the label and the epoch) and differs otherwise."""
    return str(uuid.uuid5(_NAMESPACE, "\0".join(str(p) for p in parts)))


def clamp_mtimes(tree: Path, epoch: int) -> int:
    """Set every modification (and access) time after *epoch* under *tree* to *epoch*; the number changed.

    The walk is by file descriptors (:func:`os.fwalk`) and symbolic links are changed themselves: nothing out
    of the tree is followed or touched, even if it changes meanwhile."""
    changed = 0
    st = tree.lstat()
    if st.st_mtime > epoch or st.st_atime > epoch:
        os.utime(tree, (min(st.st_atime, epoch), min(st.st_mtime, epoch)), follow_symlinks=False)
        changed += 1
    if not tree.is_dir() or tree.is_symlink():
        return changed
    for _top, dirs, files, dirfd in os.fwalk(tree, follow_symlinks=False):
        for name in [*dirs, *files]:
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            if st.st_mtime > epoch or st.st_atime > epoch:
                os.utime(name, (min(st.st_atime, epoch), min(st.st_mtime, epoch)), dir_fd=dirfd,
                         follow_symlinks=False)
                changed += 1
    return changed


# Files that differ on every build and that the system makes again itself.
_REMOVED = ("var/lib/systemd/random-seed", "var/lib/random-seed", "var/cache/ldconfig/aux-cache",
            "var/lib/dnf/history.sqlite-shm", "var/lib/dnf/history.sqlite-wal")
_DATABASES = ("var/lib/rpm/rpmdb.sqlite", "var/lib/dnf/history.sqlite")


def normalize_tree(root: Path, epoch: int) -> None:
    """Remove or normalise the per-build state in the install tree *root*, then clamp its times.

    Every path is resolved inside *root* when it is used (:mod:`imgcreate.storage.inroot`): a %post that replaced
    ``/etc`` or ``/var/lib`` by a link to a host folder changes only the image."""
    for db in _DATABASES:
        try:
            with inroot.parent(root, db) as (dirfd, name):
                st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                if stat.S_ISREG(st.st_mode):
                    _fold_database(dirfd, name, epoch)
        except (FileNotFoundError, NotADirectoryError):
            pass
    for name in _REMOVED:
        with contextlib.suppress(IsADirectoryError, PermissionError):  # a folder there: not ours to remove
            inroot.unlink(root, name)
    machine_id = inroot.lstat(root, "etc/machine-id")
    if machine_id is not None and stat.S_ISREG(machine_id.st_mode):
        inroot.write_bytes(root, "etc/machine-id", b"", stat.S_IMODE(machine_id.st_mode))  # systemd makes one at boot
    log.info("clamped the times of %d files to %d", clamp_mtimes(root, epoch), epoch)


def _fold_database(dirfd: int, name: str, epoch: int) -> None:
    """Fold the write-ahead log into *name* in the directory *dirfd* (closing the last connection removes
    ``-wal`` and ``-shm``), and give dnf's history transactions the epoch as their start and end."""
    with contextlib.closing(sqlite3.connect(f"{inroot.fd_path(dirfd)}/{name}")) as db:
        if name == "history.sqlite":
            with contextlib.suppress(sqlite3.OperationalError):  # an older or newer schema without these
                db.execute("UPDATE trans SET dt_begin = ?, dt_end = ?", (epoch, epoch))
                db.commit()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name + suffix, dir_fd=dirfd)


def ext_from_tree(tree: Path, image: Path, size: int, fstype: str, label: str, epoch: int, workdir: Path) -> None:
    """Make *image*, an ext filesystem of *size* bytes holding *tree*, the same bytes for the same tree.

    ``mke2fs -d`` copies each file's change time from the source, and a directory's change times are the
    kernel's clock; a squashfs reports the (clamped) modification time as the change time, so the tree is
    packed into an uncompressed squashfs (fast: no compression) and mke2fs reads that, mounted read-only."""
    with packed_tree(tree, workdir) as source:
        image.unlink(missing_ok=True)
        fs.make_sparse(image, size)
        fs.mkfs_ext(str(image), fstype, label, extra=[
            "-U", derived_uuid("ext", label, epoch), "-E", f"hash_seed={derived_uuid('hash', label, epoch)}",
            "-d", str(source)])


@contextlib.contextmanager
def packed_tree(tree: Path, workdir: Path) -> Iterator[Path]:
    """*tree* as ``mke2fs -d`` should read it: packed into an uncompressed squashfs, mounted read-only (every
    inode's change time is then its clamped modification time); yields the mount point, removed afterwards."""
    staging = workdir / "reproducible-tree.sqfs"
    try:
        pack_tree(tree, staging)
        with mounted_pack(staging, workdir / "reproducible-tree") as mnt:
            yield mnt
    finally:
        staging.unlink(missing_ok=True)


def pack_tree(tree: Path, staging: Path) -> None:
    """Pack *tree* into *staging*, an uncompressed squashfs (fast), for :func:`mounted_pack`."""
    run(["mksquashfs", str(tree), str(staging), "-noappend", "-noI", "-noD", "-noF", "-noX", "-no-progress"],
        what=f"Packing {tree} for mke2fs")  # its dates: $SOURCE_DATE_EPOCH (see enable())


@contextlib.contextmanager
def mounted_pack(staging: Path, mnt: Path) -> Iterator[Path]:
    """The squashfs *staging* mounted read-only at *mnt* (made) while the block runs."""
    mnt.mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        device = fs.attach_loop(stack, staging, readonly=True)
        fs.mount(stack, device, mnt, fstype="squashfs", options="ro")
        yield mnt
