"""Partition and format a disk as a :class:`~imgcreate.disk.layout.DiskLayout` says: the one path that
appliance-creator's disk images (:mod:`imgcreate.disk.partitioned`) and livecd-iso-to-disk's sticks
(:mod:`imgcreate.toolbox.isotodisk`) both take, so a fix to one (how the partitions are waited for, what a label
is cut to, which ids a reproducible disk gets) is a fix to both.

The steps, in order: an image file sized to the layout (a block device keeps its size), old signatures erased
(on request: a stick that held something), the partition table written (:mod:`imgcreate.disk.table`), the
table's ids set (a reproducible disk), the disk attached to a loop device (an image file; its detach registered
on the caller's ExitStack the moment it is attached), its partition devices waited for, each partition
formatted, and each filesystem's UUID probed.  What is made is returned: the caller mounts and fills it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from imgcreate.disk.ids import FsIds
from imgcreate.disk.layout import DiskLayout, PartKind, PlannedPartition
from imgcreate.disk.table import write_partition_table
from imgcreate.errors import ImageError
from imgcreate.host import fs
from imgcreate.host.run import run


@dataclass(frozen=True)
class FormattedDisk:
    """What :func:`format_disk` made: the whole disk's device (a loop device attached to the image file, or the
    block device itself), each partition's device and each filesystem's (or swap's) UUID, by partition number
    (a BIOS boot partition has no filesystem, so no UUID)."""

    device: str
    partitions: Mapping[int, str]
    uuids: Mapping[int, str]


def format_disk(stack: contextlib.ExitStack, target: Path, layout: DiskLayout, *, block: bool = False,
                exact: bool = True, erase: bool = False,
                ids: Callable[[PlannedPartition], FsIds | None] | None = None,
                table_ids: Callable[[Path], None] | None = None) -> FormattedDisk:
    """Partition and format *target* (an image file, or with *block* a whole block device) as *layout* says.

    *exact*: an image file is cut to the layout's size too, not only grown (a GPT's backup header belongs at its
    end); *erase*: old signatures are wiped first (``wipefs``), so nothing of what the target held is found by
    a probe afterwards; *ids*: each partition's filesystem ids (a reproducible disk), else the tools draw them;
    *table_ids*: called on the target after the table is written (to set the table's own ids).  The loop
    device is detached when *stack* closes; a block device's partitions go with its next repartitioning.
    """
    if not block:
        size = target.stat().st_size if target.exists() else -1
        if size < layout.size_bytes or (exact and size != layout.size_bytes):
            fs.make_sparse(target, layout.size_bytes)
    if erase:
        run(["wipefs", "--all", "--quiet", str(target)], what=f"Erasing old signatures on {target}")
    write_partition_table(target, layout)
    if table_ids is not None:
        table_ids(target)
    device = str(target) if block else fs.attach_loop(stack, target, partscan=True, scratch=True)
    partitions = fs.partition_devices(device, expect=len(layout.partitions))
    uuids: dict[int, str] = {}
    for part in layout.partitions:
        make_filesystem(part, partitions[part.number], ids(part) if ids is not None else None)
        if part.kind is not PartKind.BIOSBOOT:
            uuids[part.number] = probe_uuid(partitions[part.number])
    return FormattedDisk(device=device, partitions=partitions, uuids=uuids)


def mkfs_tools(part: PlannedPartition) -> list[str]:
    """The host tools that format *part* (for the host check before a build)."""
    return {"vfat": ["mkfs.vfat"], "xfs": ["mkfs.xfs"], "swap": ["mkswap"], None: []}.get(
        part.fstype, [f"mkfs.{part.fstype}"]
    )


def make_filesystem(part: PlannedPartition, dev: str, ids: FsIds | None = None) -> None:
    """Format *dev* as *part* asks (nothing for a BIOS boot partition), with its label cut to what the
    filesystem allows; *ids*: given filesystem ids (a reproducible disk), else the tools draw them."""
    label = part.label or ""
    if part.kind is PartKind.BIOSBOOT or part.fstype is None:
        return
    if part.fstype in fs.EXT_TYPES:
        given = ["-U", ids.uuid, "-E", f"hash_seed={ids.hash_seed}"] if ids else []
        fs.mkfs_ext(dev, part.fstype, label, extra=given)
    elif part.fstype == "xfs":
        given = ["-m", f"uuid={ids.uuid}"] if ids else []
        run(["mkfs.xfs", "-f", "-q", *given, *(["-L", label[:12]] if label else []), dev],
            what=f"Creating XFS on {dev}")
    elif part.fstype == "vfat":
        fat = ["-F", "32"] if part.size_mib >= 64 else []
        given = ["--invariant", "-i", ids.serial] if ids else []
        run(["mkfs.vfat", *fat, *given, *(["-n", label[:11].upper()] if label else []), dev],
            what=f"Creating FAT on {dev}")
    elif part.fstype == "swap":
        given = ["-U", ids.uuid] if ids else []
        run(["mkswap", *given, *(["-L", label] if label else []), dev], what=f"Creating swap on {dev}")
    else:
        raise ImageError(f"Unsupported filesystem type '{part.fstype}' for partition {part.number}.")


def probe_uuid(dev: str) -> str:
    """The UUID of what was just made on *dev*, probed directly (blkid's cache may not know it yet)."""
    uuid = fs.probe(dev, "UUID")
    if not uuid:
        raise ImageError(f"{dev} has no UUID after it was formatted.")
    return uuid
