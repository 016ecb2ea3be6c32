"""Reading sparse files without reading their holes: where the data is (``SEEK_DATA``/``SEEK_HOLE``), and
digests of a whole file whose holes are hashed as the zeros they read as, without reading them.

Why: a disk image is a sparse file of many GiB nominal that holds a few hundred MiB.  Reading it with ``read()``
makes the kernel hand over every zero of every hole (seconds per GiB); a checksum must still cover those zeros
(the digest a user verifies with ``sha256sum`` is that of the whole file), but they can come from one buffer of
zeros in memory instead of the file.  A filesystem without ``SEEK_DATA`` reports the whole file as data (the
kernel's fallback), so the result is the same everywhere; only the speed differs.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

CHUNK = 4 * 1024 * 1024
_ZEROS = bytes(CHUNK)


def data_ranges(fd: int, size: int | None = None) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each run of data in the open file *fd*, in order, up to *size* (default: its size).

    Everything outside the ranges is a hole (reads as zeros).  The ranges are what the filesystem reports, so a
    range may hold zeros too (written zeros, or an unwritten extent), never the other way round.
    """
    end = os.fstat(fd).st_size if size is None else size
    pos = 0
    while pos < end:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # no data after pos: the rest is a hole
                return
            raise
        if start >= end:
            return
        stop = min(os.lseek(fd, start, os.SEEK_HOLE), end)
        yield start, stop
        pos = stop


def is_hole(fd: int, start: int, end: int) -> bool:
    """Whether ``[start, end)`` of *fd* is one hole (no data anywhere in it), asked without reading it."""
    try:
        return os.lseek(fd, start, os.SEEK_DATA) >= end
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return True
        raise


def digests(path: Path, algorithms: tuple[str, ...] = ("sha256",)) -> dict[str, str]:
    """The hex digests of *path*'s whole content by each of *algorithms*, in one pass over its data.

    The same digests ``sha256sum`` (``sha1sum``) prints: holes are hashed as zeros, from memory.  Several
    algorithms hash each chunk at the same time, one thread each (hashlib lets go of the GIL while it hashes).
    """
    hashes = [hashlib.new(a) for a in algorithms]
    if len(hashes) == 1:
        return _digests(path, algorithms, hashes, None)
    with ThreadPoolExecutor(len(hashes)) as pool:
        return _digests(path, algorithms, hashes, pool)


def _digests(path: Path, algorithms: tuple[str, ...], hashes: list[Any], pool: ThreadPoolExecutor | None
             ) -> dict[str, str]:
    def update(data: bytes | memoryview) -> None:
        if pool is None:
            for h in hashes:
                h.update(data)
        else:
            for future in [pool.submit(h.update, data) for h in hashes]:
                future.result()

    def zeros(count: int) -> None:
        while count > 0:
            n = min(count, CHUNK)
            update(memoryview(_ZEROS)[:n])
            count -= n

    with open(path, "rb", buffering=0) as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        pos = 0
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        for start, stop in data_ranges(fd, size):
            zeros(start - pos)
            os.lseek(fd, start, os.SEEK_SET)
            pos = start
            while pos < stop:
                n = f.readinto(view[:min(CHUNK, stop - pos)])
                if not n:
                    raise OSError(errno.EIO, f"{path} ended at {pos} bytes while it was read", str(path))
                update(view[:n])
                pos += n
        zeros(size - pos)
    return {a: h.hexdigest() for a, h in zip(algorithms, hashes)}


def allocated_bytes(path: Path) -> int:
    """How much of *path* takes space on its filesystem (``du``'s figure): small for a sparse file."""
    return os.stat(path).st_blocks * 512
