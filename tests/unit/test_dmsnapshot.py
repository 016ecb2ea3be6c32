"""The dm-snapshot COW reader on files laid out as the kernel's dm-snap-persistent.c writes them (the real
thing, written by dracut in a booted live system, is read in tests/boot/test_iso_to_disk_boot.py)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from imgcreate.errors import ImageError
from imgcreate.media import dmsnapshot

CHUNK_SECTORS = 1  # 512-byte chunks: 32 exception pairs per metadata area, so areas are crossed quickly
CHUNK = CHUNK_SECTORS * 512
PER_AREA = CHUNK // 16


def write_cow(path: Path, changes: list[tuple[int, bytes]], valid: int = 1, magic: int = dmsnapshot.MAGIC) -> None:
    """A COW file holding *changes* (origin chunk, its new content) in order, as the kernel appends them."""
    chunks: dict[int, bytes] = {0: struct.pack("<IIII", magic, valid, 1, CHUNK_SECTORS).ljust(CHUNK, b"\0")}
    next_free, area = 2, 0
    pairs: list[tuple[int, int]] = []
    for old, data in changes:
        if len(pairs) == PER_AREA:  # the area is full: the next one starts after its data chunks
            chunks[1 + area * (PER_AREA + 1)] = b"".join(struct.pack("<QQ", o, n) for o, n in pairs)
            area, pairs = area + 1, []
            next_free += 1
        chunks[next_free] = data.ljust(CHUNK, b"\0")
        pairs.append((old, next_free))
        next_free += 1
    chunks[1 + area * (PER_AREA + 1)] = b"".join(struct.pack("<QQ", o, n) for o, n in pairs).ljust(CHUNK, b"\0")
    with open(path, "wb") as f:
        for number, data in chunks.items():
            f.seek(number * CHUNK)
            f.write(data)
        f.truncate(max(next_free + 1, 1 + (area + 1) * (PER_AREA + 1)) * CHUNK)


def test_changes_across_areas_are_applied_and_the_latest_wins(tmp_path: Path) -> None:
    changes = [(i * 2, f"chunk {i}".encode()) for i in range(40)] + [(4, b"rewritten")]
    write_cow(tmp_path / "cow", changes)
    snap = dmsnapshot.read_cow(tmp_path / "cow")
    assert snap is not None and snap.chunk_bytes == CHUNK and len(snap.exceptions) == 41
    origin = tmp_path / "origin"
    origin.write_bytes(b"o" * CHUNK * 100)
    assert dmsnapshot.apply_cow(tmp_path / "cow", snap, origin) == 40
    data = origin.read_bytes()
    assert data[78 * CHUNK:78 * CHUNK + 8] == b"chunk 39", "the second metadata area was read"
    assert data[4 * CHUNK:4 * CHUNK + 9] == b"rewritten"
    assert data[1 * CHUNK:2 * CHUNK] == b"o" * CHUNK, "unchanged chunks keep the origin's data"


def test_a_never_used_overlay_is_the_origin(tmp_path: Path) -> None:
    (tmp_path / "cow").write_bytes(bytes(4096))
    assert dmsnapshot.read_cow(tmp_path / "cow") is None


@pytest.mark.parametrize(("kwargs", "message"), [({"valid": 0}, "marked invalid"), ({"magic": 0x1234}, "not a device")])
def test_invalid_or_foreign_files_are_refused(tmp_path: Path, kwargs: dict[str, int], message: str) -> None:
    write_cow(tmp_path / "cow", [(1, b"x")], **kwargs)
    with pytest.raises(ImageError, match=message):
        dmsnapshot.read_cow(tmp_path / "cow")
