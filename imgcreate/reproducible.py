"""Bit-identical rebuilds: with ``SOURCE_DATE_EPOCH`` (or ``--source-date-epoch``) two builds of the same
kickstart from the same repositories give the same bytes, whatever the time, the temporary folder or the host's
clock.

Where variation comes from, and what is done about it:

* the clock, in every tool: ``SOURCE_DATE_EPOCH`` is passed to every command we run (:mod:`imgcreate.run`), which
  rpm >= 4.18 uses for the database's install times, mksquashfs for its dates (clamped), xorriso for the volume
  dates, file dates and GPT GUIDs, and mkfs.fat for the EFI image's dates; ``E2FSPROGS_FAKE_TIME`` is the same
  for mke2fs;
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
import uuid
from collections.abc import Iterator
from pathlib import Path

from imgcreate import fs
from imgcreate.errors import CreatorError
from imgcreate.run import run

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


def enable(epoch: int) -> None:
    """Make every later step of this process, and every command it runs, use *epoch* as the time."""
    os.environ[ENV] = str(epoch)
    os.environ["E2FSPROGS_FAKE_TIME"] = str(epoch)


def current() -> int | None:
    """The epoch in force in this process (see :func:`enable`)."""
    return epoch_from()


def derived_uuid(*parts: object) -> str:
    """A UUID that is the same for the same *parts* (e.g. the label and the epoch) and differs otherwise."""
    return str(uuid.uuid5(_NAMESPACE, "\0".join(str(p) for p in parts)))


def clamp_mtimes(tree: Path, epoch: int) -> int:
    """Set every modification (and access) time after *epoch* under *tree* to *epoch*; the number changed.

    Symbolic links are changed themselves, never followed out of the tree."""
    changed = 0
    for path in [tree, *_walk(tree)]:
        st = path.lstat()
        if st.st_mtime > epoch or st.st_atime > epoch:
            os.utime(path, (min(st.st_atime, epoch), min(st.st_mtime, epoch)), follow_symlinks=False)
            changed += 1
    return changed


def _walk(tree: Path) -> list[Path]:
    out: list[Path] = []
    for top, dirs, files in os.walk(tree):
        base = Path(top)
        out.extend(base / d for d in dirs)
        out.extend(base / f for f in files)
    return out


# Files that differ on every build and that the system makes again itself.
_REMOVED = ("var/lib/systemd/random-seed", "var/lib/random-seed", "var/cache/ldconfig/aux-cache",
            "var/lib/dnf/history.sqlite-shm", "var/lib/dnf/history.sqlite-wal")
_DATABASES = ("var/lib/rpm/rpmdb.sqlite", "var/lib/dnf/history.sqlite")


def normalize_tree(root: Path, epoch: int) -> None:
    """Remove or normalise the per-build state in the install tree *root*, then clamp its times."""
    for db in _DATABASES:
        path = root / db
        if path.is_file() and not path.is_symlink():
            _fold_database(path, epoch)
    for name in _REMOVED:
        path = root / name
        if path.is_file() or path.is_symlink():
            path.unlink()
    machine_id = root / "etc/machine-id"
    if machine_id.is_file() and not machine_id.is_symlink():
        machine_id.write_bytes(b"")  # empty: systemd makes the machine's own at first boot
    log.info("clamped the times of %d files to %d", clamp_mtimes(root, epoch), epoch)


def _fold_database(path: Path, epoch: int) -> None:
    """Fold the write-ahead log into *path* (closing the last connection removes ``-wal`` and ``-shm``), and
    give dnf's history transactions the epoch as their start and end."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        if path.name == "history.sqlite":
            with contextlib.suppress(sqlite3.OperationalError):  # an older or newer schema without these
                db.execute("UPDATE trans SET dt_begin = ?, dt_end = ?", (epoch, epoch))
                db.commit()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("-wal", "-shm"):
        leftover = path.with_name(path.name + suffix)
        if leftover.exists():
            leftover.unlink()


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
