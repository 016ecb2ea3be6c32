"""Compressing the live root: mksquashfs, or tar2sqfs for a tree of big sparse files (the live root image)."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path

from imgcreate.debug import PROGRESS
from imgcreate.errors import CommandError, CreatorError, SquashfsError
from imgcreate.host.run import progress_on_terminal, run, run_pipe

log = logging.getLogger("imgcreate")


def available_compressors() -> set[str]:
    """The compressors this host's mksquashfs was built with (it lists them in its usage text)."""
    out = run(["mksquashfs"], check=False, what="Asking mksquashfs for its compressors").stdout
    names: set[str] = set()
    inside = False
    for line in out.splitlines():
        if "Compressors available" in line:
            inside = True
            continue
        if inside:
            word = line.strip().split(" ")[0] if line.strip() else ""
            if line.startswith("\t\t") and word.isalnum():
                names.add(word)
            elif names and not line.startswith("\t\t"):
                break
    return names


# Upstream's shorthand: xz with 1 MiB blocks and dictionary (smaller images, slower to build).
ALIASES = {"xz1m": "xz -b 1M -Xdict-size 1M", "xz1M": "xz -b 1M -Xdict-size 1M"}


def compression_args(compression: str | None) -> list[str]:
    """mksquashfs arguments for a --compression-type value such as "xz", "zstd", "xz1m" or "xz -Xbcj x86".

    ``None`` means no compression of inodes, data, fragments or xattrs.
    """
    if compression is None:
        return ["-noI", "-noD", "-noF", "-noX"]
    words = shlex.split(ALIASES.get(compression.strip(), compression))
    if not words:
        raise CreatorError("--compression-type is empty: use e.g. xz, zstd, lz4, lzo or gzip.")
    return ["-comp", *words]


def check_compression(compression: str | None) -> None:
    if compression is None:
        return
    compression = ALIASES.get(compression.strip(), compression)
    name = shlex.split(compression)[0] if compression.strip() else ""
    known = available_compressors()
    if known and name not in known:
        raise CreatorError(
            f"Compression type '{name}' is not supported by this host's mksquashfs; it supports "
            f"{', '.join(sorted(known))}."
        )


def mksquashfs(source: Path, output: Path, compression: str | None, progress: bool | None = None,
               extra: Sequence[str] = ()) -> None:
    """Compress *source* (a directory) into *output*, on every core (mksquashfs's default).

    *progress*: show mksquashfs's progress bar on the terminal (default: when the log is shown on one).
    *extra*: more mksquashfs options, after ours (upstream's ``mksquashfs(..., ops)``).
    """
    if progress is None:
        progress = progress_on_terminal()
    args = ["mksquashfs", str(source), str(output), "-noappend", *compression_args(compression),
            "-quiet" if progress else "-no-progress", *extra]
    log.log(PROGRESS, "compressing %s with %s", source, compression or "no compression")
    try:
        run(args, what="Creating the squashfs image", stream=False, tty=progress)
    except CommandError as exc:
        raise SquashfsError(str(exc)) from exc


# tar2sqfs (squashfs-tools-ng) spells compressor options its own way: the --compression-type values it is given
# (a bare compressor name, or upstream's xz1m); anything else (mksquashfs -X options) goes to mksquashfs.  The
# defaults match mksquashfs's: 128 KiB blocks, xz with a block-sized dictionary, gzip 9, lzo1x_999 8, zstd 15.
# Not lz4: squashfs-tools-ng 1.2's lz4 images have an id table that unsquashfs 4.5 reports as corrupt.
_TAR2SQFS_COMPRESSION = {
    "xz": ["-c", "xz"],
    "gzip": ["-c", "gzip"],
    "lzo": ["-c", "lzo"],
    "zstd": ["-c", "zstd"],
    "xz1m": ["-c", "xz", "-b", "1M", "-X", "dictsize=1M"],
    "xz1M": ["-c", "xz", "-b", "1M", "-X", "dictsize=1M"],
}


def tar2sqfs_args(compression: str | None) -> list[str] | None:
    """tar2sqfs's compression arguments for a --compression-type, or None where only mksquashfs can take it."""
    if compression is None:
        return None
    return _TAR2SQFS_COMPRESSION.get(compression.strip())


def tar_time_args(epoch: int | None) -> list[str]:
    """GNU tar's options for a reproducible build: every time after the epoch clamped to it, as mksquashfs does
    with $SOURCE_DATE_EPOCH (tar ignores that variable).  The folders tar packs here are made during the build,
    so without this the squashfs records the build's clock as the times of ``/``, ``LiveOS`` and ``rootfs.img``."""
    return [] if epoch is None else [f"--mtime=@{epoch}", "--clamp-mtime"]


def pack_sparse(source: Path, output: Path, compression: str | None, progress: bool | None = None,
                epoch: int | None = None, extra: Sequence[str] = ()) -> None:
    """Compress *source*, a directory holding a big sparse file (the live root image), into *output*.

    Why not mksquashfs alone: it reads every hole of a sparse file, so a 4 GiB nominal root with 100 MiB in it
    is read as 4 GiB of zeros before each block is found to be empty (seconds of system time, more on a fresh
    file).  GNU tar finds the holes with SEEK_HOLE and tar2sqfs (squashfs-tools-ng) stores them as sparse
    blocks without reading them, so the nominal size costs next to nothing.  The squashfs holds the same tree
    (owners, modes, times, the image's bytes); tar2sqfs is used when it is installed and takes the compressor,
    mksquashfs otherwise.  *epoch*: a reproducible build's (mksquashfs and tar2sqfs also read it from the
    SOURCE_DATE_EPOCH the build passes to commands).  *extra*: mksquashfs options (upstream's ``ops``): packed
    with mksquashfs then, which takes them.
    """
    comp = tar2sqfs_args(compression)
    if comp is None or extra or shutil.which("tar2sqfs") is None or shutil.which("tar") is None:
        if comp is not None and not extra:
            log.debug("tar2sqfs (squashfs-tools-ng) is not installed: mksquashfs reads the image's holes too")
        mksquashfs(source, output, compression, progress, extra)
        return
    if progress is None:
        progress = progress_on_terminal()
    log.log(PROGRESS, "compressing %s with %s (tar2sqfs, holes skipped)", source, compression)
    tar = ["tar", "--sparse", "--format=posix", "--numeric-owner", "--sort=name", *tar_time_args(epoch), "-cf", "-",
           "-C", str(source), "."]
    # -e: exportable (mksquashfs's default); -j: every core, as mksquashfs.  tar2sqfs keeps the archive's times
    # and takes its superblock's time from $SOURCE_DATE_EPOCH (passed on by imgcreate.host.run).
    pack = ["tar2sqfs", *comp, "-e", "-j", str(os.cpu_count() or 1), "-f", *([] if progress else ["-q"]),
            str(output)]
    try:
        run_pipe(tar, pack, what="Creating the squashfs image", tty=progress)
    except CommandError as exc:
        raise SquashfsError(str(exc)) from exc
