"""The files of a FAT stick that is never mounted (:mod:`imgcreate.toolbox.stickinstall` writes FAT with mtools:
the host may have no vfat driver): what is there, renaming, and changing a big file's bytes in place.

A persistent home or overlay may be gigabytes: keeping one across a new install moves its directory entry
(``mmove``, no data copied), and resetting an overlay writes only the bytes that change, straight into the
file's clusters on the partition (found with ``mshowfat`` and the FAT boot sector), never a copy through mtools.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
from collections.abc import Iterator
from pathlib import Path

from imgcreate.errors import CreatorError
from imgcreate.host import fs
from imgcreate.host.run import mtools_env, run

_SAMPLE = 68 * 1024  # enough of a file for blkid to tell an ext4 image (superblock at 1 KiB) from a COW file


def _mdir(part: str, path: str) -> list[str] | None:
    """``mdir -b`` of *path* on *part*: the paths it lists (a folder's ending in ``/``), None if there is none."""
    res = run(["mdir", "-b", "-i", part, f"::/{path.strip('/')}"], env=mtools_env(), check=False,
              apart=True, what=f"Listing {path} on {part}")
    return res.stdout.splitlines() if res.returncode == 0 else None


def exists(part: str, path: str) -> bool:
    """Whether *path* (a file or a folder) is on *part*."""
    return _mdir(part, path) is not None


def is_file(part: str, path: str) -> bool:
    return _mdir(part, path) == [f"::/{path.strip('/')}"]


def listdir(part: str, path: str) -> list[str]:
    """The names in the folder *path* (nothing when it is none)."""
    lines = _mdir(part, path)
    prefix = f"::/{path.strip('/')}/"
    return sorted(line[len(prefix):].rstrip("/") for line in lines or () if line.startswith(prefix))


def move(part: str, src: str, dst: str) -> None:
    """*src* renamed to *dst* (its folder made if needed, a file there replaced): a directory entry moved."""
    parent = dst.strip("/").rpartition("/")[0]
    if parent:
        run(["mmd", "-i", part, f"::/{parent}"], env=mtools_env(), check=False, what=f"Making {parent} on {part}")
    run(["mmove", "-D", "o", "-i", part, f"::/{src.strip('/')}", f"::/{dst.strip('/')}"], env=mtools_env(),
        what=f"Moving {src} to {dst} on {part}")


def extents(part: str, path: str) -> list[tuple[int, int]]:
    """The byte ranges (offset on *part*, length) holding the file *path*, in the file's order."""
    out = run(["mshowfat", "-i", part, f"::/{path.strip('/')}"], env=mtools_env(),
              apart=True, what=f"Finding the clusters of {path} on {part}").stdout
    with open(part, "rb") as f:
        boot = f.read(512)
    sector, per_cluster, reserved, fats, root_entries, fat16_size = struct.unpack_from("<HBHBHxxxH", boot, 11)
    fat_size = fat16_size or struct.unpack_from("<I", boot, 36)[0]
    cluster = sector * per_cluster
    data_start = (reserved + fats * fat_size) * sector + -(-root_entries * 32 // sector) * sector
    found = []
    for first, last in re.findall(r"<(\d+)(?:-(\d+))?>", out):
        start = int(first)
        found.append((data_start + (start - 2) * cluster, (int(last or first) - start + 1) * cluster))
    if not found:
        raise CreatorError(f"{path} on {part} has no clusters (mshowfat said: {out.strip()})")
    return found


def size(part: str, path: str) -> int:
    out = run(["mdir", "-i", part, f"::/{path.strip('/')}"], env=mtools_env(), apart=True,
              what=f"Sizing {path} on {part}")
    m = re.search(r"(\d[\d ]*) bytes\s*$", out.stdout.split("bytes free")[0].strip(), re.MULTILINE)
    return int(m.group(1).replace(" ", "")) if m else 0


def read_head(part: str, path: str, count: int) -> bytes:
    """The first *count* bytes of the file *path* (fewer when it is shorter)."""
    out = b""
    with open(part, "rb") as f:
        for offset, length in extents(part, path):
            f.seek(offset)
            out += f.read(min(length, count - len(out)))
            if len(out) >= count:
                break
    return out[:min(count, size(part, path))]


def zero_head(part: str, path: str, count: int) -> None:
    """The first *count* bytes of the file *path* zeroed in place (at most its size)."""
    left = min(count, size(part, path))
    fd = os.open(part, os.O_WRONLY | os.O_CLOEXEC)
    try:
        for offset, length in extents(part, path):
            n = min(length, left)
            os.pwrite(fd, bytes(n), offset)
            left -= n
            if left <= 0:
                break
        os.fsync(fd)
    finally:
        os.close(fd)


def fstype_of(part: str, path: str, work: Path) -> str:
    """blkid's type of the file *path* (from its first bytes): ``ext4`` for an overlayfs image, ``""`` for an
    empty COW file."""
    sample = work / "fat-sample"
    sample.write_bytes(read_head(part, path, _SAMPLE))
    res = run(["blkid", "-p", "-s", "TYPE", "-o", "value", str(sample)], check=False, what="Probing a sample")
    sample.unlink()
    return res.stdout.strip()


@contextlib.contextmanager
def contiguous_device(part: str, path: str) -> Iterator[str | None]:
    """A loop device over the file *path* where it lies in one piece on *part* (None when it is fragmented), to
    write it as a disk, in place; detached after."""
    pieces = extents(part, path)
    if len(pieces) != 1:
        yield None
        return
    with contextlib.ExitStack() as stack:
        yield fs.attach_loop(stack, Path(part), offset=pieces[0][0], sizelimit=size(part, path))
