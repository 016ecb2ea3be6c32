"""Reading a device-mapper persistent snapshot (a COW file) without device-mapper.

dracut's dmsquash-live keeps a live USB stick's persistent overlay for an ext root image as a dm-snapshot COW
file (``LiveOS/overlay-<label>-<uuid>``, ``snapshot <root> <cow> PO 8``).  To show what the live system wrote
(``liveimage-mount`` on a stick) the host would need the dm-snapshot target, which not every kernel has (this
CI's has no device-mapper at all) and which upstream's ``dmsetup create`` would also make writable.  The
format is small and stable (the kernel's ``dm-snap-persistent.c``, version 1), so we read it here and apply its
chunks to a private copy of the root image, which is then mounted: the user's stick is never written.

Layout, all little-endian: chunk 0 is the header (magic ``SnAp``, valid, version, chunk size in 512-byte
sectors); then metadata areas, each one chunk of ``(old_chunk, new_chunk)`` u64 pairs followed by the data
chunks it describes.  Area *i* lies at chunk ``1 + i * (pairs_per_area + 1)``; the list ends at the first pair
whose new chunk is 0.  A file of zeros is a snapshot that was never written to: the root as it was.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from imgcreate.errors import ImageError

MAGIC = 0x70416E53  # "SnAp"
VERSION = 1
SECTOR = 512
_HEADER = struct.Struct("<IIII")
_PAIR = struct.Struct("<QQ")


@dataclass(frozen=True)
class Snapshot:
    """What a COW file holds: its chunk size and where each changed chunk of the origin is (old -> new)."""

    chunk_bytes: int
    exceptions: tuple[tuple[int, int], ...]


def read_cow(path: Path) -> Snapshot | None:
    """The snapshot in the COW file *path*; ``None`` when it was never used (no header yet: all zeros)."""
    with open(path, "rb") as f:
        header = f.read(_HEADER.size)
        if len(header) < _HEADER.size:
            raise ImageError(f"'{path}' is too short to be a persistent overlay.")
        magic, valid, version, chunk_sectors = _HEADER.unpack(header)
        if magic == 0:
            return None
        if magic != MAGIC:
            raise ImageError(f"'{path}' is not a device-mapper snapshot (persistent overlay): its header has "
                             f"magic {magic:#x}, not {MAGIC:#x}.")
        if not valid:
            raise ImageError(f"The persistent overlay '{path}' is marked invalid (it overflowed while the live "
                             "system ran): its changes cannot be read.  Reset it (rd.live.overlay.reset) or "
                             "write the stick again.")
        if version != VERSION or chunk_sectors <= 0:
            raise ImageError(f"'{path}': unsupported snapshot version {version} (chunk size {chunk_sectors}).")
        chunk = chunk_sectors * SECTOR
        return Snapshot(chunk, tuple(_exceptions(f, chunk, os.fstat(f.fileno()).st_size)))


def _exceptions(f: BinaryIO, chunk: int, size: int) -> list[tuple[int, int]]:
    per_area = chunk // _PAIR.size
    found: list[tuple[int, int]] = []
    area = 0
    while True:
        location = 1 + area * (per_area + 1)
        if (location + 1) * chunk > size:
            return found
        f.seek(location * chunk)
        data = f.read(chunk)
        for old, new in _PAIR.iter_unpack(data):
            if new == 0:
                return found
            found.append((old, new))
        area += 1


def apply_cow(cow: Path, snapshot: Snapshot, image: Path) -> int:
    """Write the changed chunks of *snapshot* (read from *cow*) into *image*, a copy of the origin; the number
    of chunks written.  Later exceptions for the same chunk win, as in the kernel's table."""
    latest = dict(snapshot.exceptions)
    with open(cow, "rb") as src, open(image, "r+b") as dst:
        for old, new in sorted(latest.items()):
            data = os.pread(src.fileno(), snapshot.chunk_bytes, new * snapshot.chunk_bytes)
            if len(data) != snapshot.chunk_bytes:
                raise ImageError(f"The persistent overlay '{cow}' is truncated: chunk {new} is missing.")
            os.pwrite(dst.fileno(), data, old * snapshot.chunk_bytes)
    return len(latest)
