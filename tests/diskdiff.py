"""What differs between two disk images, named: the partition table, a partition and, in an ext partition, the
file (debugfs icheck/ncheck) or the metadata block.  For the reproducibility tests' failure messages."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

CHUNK = 1 << 20
BLOCK = 4096


def same(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and subprocess.run(["cmp", "-s", str(a), str(b)]).returncode == 0


def assert_same_disk(a: Path, b: Path) -> None:
    """*a* and *b* are byte for byte the same raw disk; otherwise fail naming what differs."""
    if not same(a, b):
        raise AssertionError(f"{a} and {b} differ:\n{describe(a, b)}")


def assert_same_file(a: Path, b: Path) -> None:
    if not same(a, b):
        first = subprocess.run(["cmp", str(a), str(b)], capture_output=True, text=True).stdout.strip()
        raise AssertionError(f"{a.name} differs between the builds: {first}")


def differing_blocks(a: Path, b: Path, limit: int = 2000) -> list[int]:
    """Offsets of the first *limit* 4 KiB blocks that differ (a size difference counts from the shorter end)."""
    found: list[int] = []
    with open(a, "rb") as fa, open(b, "rb") as fb:
        offset = 0
        while len(found) < limit:
            ca, cb = fa.read(CHUNK), fb.read(CHUNK)
            if not ca and not cb:
                break
            if ca != cb:
                for i in range(0, max(len(ca), len(cb)), BLOCK):
                    if ca[i:i + BLOCK] != cb[i:i + BLOCK]:
                        found.append(offset + i)
            offset += CHUNK
    return found[:limit]


def _partitions(image: Path) -> list[tuple[int, int, int]]:
    """(number, start byte, end byte) of each partition."""
    out = subprocess.run(["sfdisk", "--json", str(image)], capture_output=True, text=True).stdout
    if not out:
        return []
    parts = json.loads(out)["partitiontable"].get("partitions", [])
    return [(_number(p["node"]), p["start"] * 512, (p["start"] + p["size"]) * 512) for p in parts]


def _number(node: str) -> int:
    found = re.search(r"(\d+)$", node)
    return int(found.group(1)) if found else 0


def describe(a: Path, b: Path, shown: int = 12) -> str:
    """One line per differing place: the partition, and for ext the file holding the block (or "metadata")."""
    parts = _partitions(a)
    lines: list[str] = []
    by_place: dict[str, int] = {}
    for offset in differing_blocks(a, b):
        part = next(((n, s) for n, s, e in parts if s <= offset < e), None)
        place = "partition table / boot code (before the first partition or after the last)" if part is None \
            else f"partition {part[0]}"
        by_place[place] = by_place.get(place, 0) + 1
        if len(lines) < shown:
            detail = _ext_file(a, part[1], offset - part[1]) if part is not None else ""
            lines.append(f"  byte {offset}: {place}{detail}")
    summary = ", ".join(f"{place}: {count} blocks" for place, count in by_place.items())
    return "\n".join([*lines, f"  in all: {summary}"])


def _ext_file(image: Path, start: int, offset: int) -> str:
    """The file an ext partition's block belongs to, through debugfs on the partition's bytes."""
    probe = subprocess.run(["blkid", "-p", "-O", str(start), "-s", "TYPE", "-o", "value", str(image)],
                           capture_output=True, text=True).stdout.strip()
    if not probe.startswith("ext"):
        return f" ({probe or 'no filesystem'})"
    # debugfs reads the partition through a loop device at its offset.
    dev = subprocess.run(["losetup", "--find", "--show", "--read-only", "--offset", str(start), str(image)],
                         capture_output=True, text=True, check=True).stdout.strip()
    try:
        block = offset // BLOCK
        icheck = subprocess.run(["debugfs", "-R", f"icheck {block}", dev], capture_output=True, text=True).stdout
        inode = icheck.split()[-1] if icheck.split() else ""
        if not inode.isdigit():
            return f" (ext block {block}: metadata)"
        ncheck = subprocess.run(["debugfs", "-R", f"ncheck {inode}", dev], capture_output=True, text=True).stdout
        paths = [line.split(None, 1)[1] for line in ncheck.splitlines()[1:] if len(line.split(None, 1)) == 2]
        return f" (ext block {block}: inode {inode} {', '.join(paths) or '(no name)'})"
    finally:
        subprocess.run(["losetup", "--detach", dev], check=False)
