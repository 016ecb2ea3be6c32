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

from imgcreate.host.meter import Meter, meter

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


def digests(path: Path, algorithms: tuple[str, ...] = ("sha256",), progress: str = "") -> dict[str, str]:
    """The hex digests of *path*'s whole content by each of *algorithms*, in one pass over its data.

    The same digests ``sha256sum`` (``sha1sum``) prints: holes are hashed as zeros, from memory.  Several
    algorithms hash each chunk at the same time, one thread each (hashlib lets go of the GIL while it hashes).
    *progress*: the text of a meter that shows on the terminal how far the hashing got (a 20 GiB disk takes
    half a minute; upstream shows one too), empty for none.
    """
    with meter(progress, path.stat().st_size, show=None if progress else False) as m:
        if len(algorithms) == 1:
            return _digests(path, _Hashes(algorithms, None, m))
        with ThreadPoolExecutor(len(algorithms)) as pool:
            return _digests(path, _Hashes(algorithms, pool, m))


class _Hashes:
    """The digests being computed, fed chunk by chunk (each by a thread of *pool* when there are several), and
    the meter told how far they got."""

    def __init__(self, algorithms: tuple[str, ...], pool: ThreadPoolExecutor | None, m: Meter | None) -> None:
        self.hashes = {a: hashlib.new(a) for a in algorithms}
        self.pool = pool
        self.meter = m
        self.done = 0

    def update(self, data: bytes | memoryview) -> None:
        if self.pool is None:
            for h in self.hashes.values():
                h.update(data)
        else:
            for future in [self.pool.submit(h.update, data) for h in self.hashes.values()]:
                future.result()
        self.done += len(data)
        if self.meter is not None:
            self.meter.update(self.done)

    def zeros(self, count: int) -> None:
        while count > 0:
            n = min(count, CHUNK)
            self.update(memoryview(_ZEROS)[:n])
            count -= n


def _digests(path: Path, hashes: _Hashes) -> dict[str, str]:
    with open(path, "rb", buffering=0) as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        pos = 0
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        for start, stop in data_ranges(fd, size):
            hashes.zeros(start - pos)
            os.lseek(fd, start, os.SEEK_SET)
            pos = start
            while pos < stop:
                n = f.readinto(view[:min(CHUNK, stop - pos)])
                if not n:
                    raise OSError(errno.EIO, f"{path} ended at {pos} bytes while it was read", str(path))
                hashes.update(view[:n])
                pos += n
        hashes.zeros(size - pos)
    return {a: h.hexdigest() for a, h in hashes.hashes.items()}


def allocated_bytes(path: Path) -> int:
    """How much of *path* takes space on its filesystem (``du``'s figure): small for a sparse file."""
    return os.stat(path).st_blocks * 512
