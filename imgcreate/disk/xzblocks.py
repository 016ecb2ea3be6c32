"""A sparse disk compressed by ``xz -T0 --block-size=16MiB`` without xz reading its holes: the same file xz
writes for the whole disk, in a fraction of the time.

Why: appliance-creator compresses the raw disk with ``xz -z --block-size=16777216 -T 0`` (16 MiB blocks, each
compressed on its own, so the file is seekable).  xz reads every byte of a sparse file, holes included: a 10 GiB
nominal disk holding 200 MiB costs minutes of compressing zeros.  But in multi-threaded mode every block is
compressed independently of the others, so an all-zero 16 MiB block always becomes the same bytes.  So here xz
compresses only the blocks that hold data (plus one block of zeros, and a short one when the disk's last block
is zeros), and the stream is put back together in the disk's order with a new index: byte for byte what
``xz -T0 --block-size=16777216 --check=crc64`` writes for the whole disk (tests/unit/test_xzblocks.py checks it
against xz itself).  Holes are found with ``SEEK_DATA``; a block the filesystem calls data but that holds
only zeros is treated as zeros too (the result does not depend on the filesystem).

The .xz format (https://tukaani.org/xz/xz-file-format.txt): a 12-byte stream header, the blocks (each padded to
4 bytes), an index of ``(unpadded size, uncompressed size)`` per block, a 12-byte stream footer.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from imgcreate.errors import ImageError
from imgcreate.host import sparse
from imgcreate.host.meter import meter, watch_reading
from imgcreate.host.run import run

BLOCK_SIZE = 16 * 1024 * 1024  # appliance-creator's --block-size=16777216 (seekable images)
XZ_ARGS = ["xz", "-T0", "-q", f"--block-size={BLOCK_SIZE}", "--check=crc64"]


@dataclass(frozen=True)
class _Block:
    """One compressed block in xz's output: where its (padded) bytes are and its index record."""

    offset: int
    unpadded: int
    uncompressed: int

    @property
    def padded(self) -> int:
        return (self.unpadded + 3) & ~3


def compress(disk: Path, target: Path) -> None:
    """Write *target*, the seekable .xz of *disk*, reading only *disk*'s data (see the module's docstring).

    Intermediate files lie beside *target* and are removed whatever happens; so is a half-written *target*.
    """
    size = disk.stat().st_size
    packed = target.with_name(f".{target.name}.blocks")
    try:
        plan = _pack_data_blocks(disk, packed, size)
        with meter(f"Compressing {disk.name} with xz", packed.stat().st_size) as m:
            run([*XZ_ARGS, str(packed)], what=f"Compressing {disk.name} with xz", watch=watch_reading(packed, m))
        packed_xz = packed.with_name(packed.name + ".xz")
        _splice(packed_xz, plan, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        for leftover in (packed, packed.with_name(packed.name + ".xz")):
            leftover.unlink(missing_ok=True)


def _pack_data_blocks(disk: Path, packed: Path, size: int) -> list[int]:
    """Copy *disk*'s blocks that hold data into *packed*, after one block of zeros (and a short one at the end
    when the disk ends in a short block of zeros).  Returns, per block of the disk, the index of its compressed
    block in *packed*'s xz output (0: the full block of zeros)."""
    plan: list[int] = []
    zero_block = bytes(BLOCK_SIZE)
    with open(disk, "rb", buffering=0) as src, open(packed, "wb") as out:
        fd = src.fileno()
        out.truncate(BLOCK_SIZE)  # the block of zeros, as a hole: xz reads it as zeros, nothing is written
        out.seek(BLOCK_SIZE)
        count = 1
        last_short_zero = False
        for offset in range(0, size, BLOCK_SIZE):
            n = min(BLOCK_SIZE, size - offset)
            data = b"" if sparse.is_hole(fd, offset, offset + n) else os.pread(fd, n, offset)
            if len(data) not in (0, n):
                raise ImageError(f"{disk} changed while it was compressed (short read at {offset}).")
            if not data or data == (zero_block if n == BLOCK_SIZE else bytes(n)):
                if n == BLOCK_SIZE:
                    plan.append(0)
                else:  # the disk's last block, short: xz's block of n zeros goes last
                    last_short_zero = True
                    plan.append(-1)
                continue
            out.write(data)
            plan.append(count)
            count += 1
        if last_short_zero:
            out.truncate(out.tell() + size % BLOCK_SIZE)
            plan[-1] = count
    return plan


def _splice(packed_xz: Path, plan: list[int], target: Path) -> None:
    """The xz stream of the whole disk: *packed_xz*'s blocks in the order *plan* gives, a new index."""
    with open(packed_xz, "rb") as f:
        header = f.read(12)
        blocks = _read_blocks(f, packed_xz)
        with open(target, "wb") as out:
            out.write(header)
            records = bytearray()
            for index in plan:
                block = blocks[index]
                f.seek(block.offset)
                out.write(f.read(block.padded))
                records += _vli(block.unpadded) + _vli(block.uncompressed)
            index_field = bytearray(b"\x00" + _vli(len(plan)) + records)
            index_field += bytes(-len(index_field) % 4)
            index_field += struct.pack("<I", zlib.crc32(index_field))
            out.write(index_field)
            out.write(_footer(len(index_field), header[6:8]))


def _read_blocks(f: BinaryIO, path: Path) -> list[_Block]:
    """The blocks of the one stream in the open file *f*, from its index (read from the end)."""
    f.seek(0, os.SEEK_END)
    end = f.tell()
    f.seek(end - 12)
    footer = f.read(12)
    if footer[10:12] != b"YZ":
        raise ImageError(f"{path} is not an xz file as xz writes them (no stream footer).")
    backward = (struct.unpack("<I", footer[4:8])[0] + 1) * 4
    f.seek(end - 12 - backward)
    index = f.read(backward)
    if index[0] != 0:
        raise ImageError(f"{path} is not an xz file as xz writes them (no index).")
    pos = 1
    count, pos = _read_vli(index, pos)
    blocks = []
    offset = 12
    for _ in range(count):
        unpadded, pos = _read_vli(index, pos)
        uncompressed, pos = _read_vli(index, pos)
        block = _Block(offset, unpadded, uncompressed)
        blocks.append(block)
        offset += block.padded
    return blocks


def _footer(index_size: int, flags: bytes) -> bytes:
    backward = struct.pack("<I", index_size // 4 - 1)
    return struct.pack("<I", zlib.crc32(backward + flags)) + backward + flags + b"YZ"


def _vli(value: int) -> bytes:
    """xz's variable-length integer: 7 bits a byte, low first, the high bit saying more follow."""
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_vli(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos

