"""Compressing the live root with mksquashfs."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

from imgcreate.debug import PROGRESS
from imgcreate.errors import CommandError, CreatorError, SquashfsError
from imgcreate.run import progress_on_terminal, run

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


def mksquashfs(source: Path, output: Path, compression: str | None, progress: bool | None = None) -> None:
    """Compress *source* (a directory) into *output*, on every core (mksquashfs's default).

    *progress*: show mksquashfs's progress bar on the terminal (default: when the log is shown on one).
    """
    if progress is None:
        progress = progress_on_terminal()
    args = ["mksquashfs", str(source), str(output), "-noappend", *compression_args(compression),
            "-quiet" if progress else "-no-progress"]
    log.log(PROGRESS, "compressing %s with %s", source, compression or "no compression")
    try:
        run(args, what="Creating the squashfs image", stream=False, tty=progress)
    except CommandError as exc:
        raise SquashfsError(str(exc)) from exc
