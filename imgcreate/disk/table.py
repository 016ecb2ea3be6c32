"""Writing a :class:`~imgcreate.disk.layout.DiskLayout`'s partition table with pyparted, to a block device or
a raw image file: the partitions at exactly the planned sectors, their types as flags."""

from __future__ import annotations

import gc
import logging
import os
import stat
import traceback
from pathlib import Path
from typing import Any

from imgcreate.disk.layout import DiskLabel, DiskLayout, PartKind, PlannedPartition
from imgcreate.errors import ImageError

log = logging.getLogger("imgcreate")


def write_partition_table(device_or_image: Path, layout: DiskLayout) -> None:
    """Write *layout*'s partition table to a block device or a raw image file, with pyparted.

    A regular file smaller than the layout (or none at all) is made sparse at the layout's size first.
    Any table already there is replaced.  Partitions go at exactly the planned sectors; flags make their types
    (bios_grub, esp; on msdos boot on the /boot partition, else "/").  No device-mapper, no partition device
    nodes: the filesystems are made through offsets or a loop device afterwards.
    """
    parted = _import_parted()
    path = os.fspath(device_or_image)
    _make_room(Path(path), layout.size_bytes)
    errors = tuple(getattr(parted, f"{n}Exception") for n in _PARTED_ERRORS)
    failure: BaseException | None = None
    try:
        _write_table(parted, path, layout)
    except errors as exc:
        failure = ImageError(f"Writing the {layout.label.value} partition table to {path} failed: {exc}")
        traceback.clear_frames(exc.__traceback__)
    except BaseException as exc:
        failure = exc
        traceback.clear_frames(exc.__traceback__)
    # libparted keeps devices cached (a file's entry would outlive the file), so the cache is freed; but first
    # every pyparted object, which points into that cache: one freed after it read freed memory (seen as a
    # divide error in libparted that killed the process, mounts and all).  Hence no object may outlive
    # _write_table, not even in an exception's frames, and cycles are collected now.
    gc.collect()
    parted.freeAllDevices()
    if failure is not None:
        raise failure
    log.debug("Wrote a %s partition table with %d partitions to %s", layout.label.value, len(layout.partitions),
              path)


def _write_table(parted: Any, path: str, layout: DiskLayout) -> None:
    device = parted.getDevice(path)
    if device.length * device.sectorSize < layout.size_bytes:
        raise ImageError(
            f"{path} holds {device.length * device.sectorSize} bytes, less than the {layout.size_bytes} the "
            "disk layout needs."
        )
    disk = parted.freshDisk(device, layout.label.value)
    _add_partitions(parted, disk, device, layout)
    if stat.S_ISREG(os.stat(path).st_mode):
        disk.commitToDevice()  # a file: no kernel to tell (commit() also runs `udevadm settle`, twice)
    else:
        disk.commit()


# pyparted's exceptions, none derived from another (PartedException is not their base).
_PARTED_ERRORS = ("Parted", "Alignment", "Constraint", "Create", "Device", "Disk", "DiskLabel", "FileSystem",
                  "Geometry", "IO", "NotNeeded", "Partition", "Timer", "UnknownDevice", "UnknownType")


def _import_parted() -> Any:
    """pyparted, imported when needed so that the rest of this module works without it."""
    try:
        import parted
    except ImportError as exc:
        raise ImageError(
            "Writing a partition table needs pyparted (the Python module 'parted'): install python3-parted "
            "(Debian/Ubuntu) or python3-pyparted (Fedora/EL)."
        ) from exc
    return parted


def _make_room(path: Path, size: int) -> None:
    """Create or grow (sparsely, never shrink) an image file; a block device is left as it is."""
    if path.exists() and not path.is_file():
        return
    try:
        with open(path, "ab") as f:
            if f.tell() < size:
                f.truncate(size)
    except OSError as exc:
        raise ImageError(f"Cannot make the disk image {path} ({size} bytes): {exc.strerror or exc}") from exc


def _add_partitions(parted: Any, disk: Any, device: Any, layout: DiskLayout) -> None:
    """Every partition, in disk order; msdos's extended partition just before the first logical one, because
    libparted numbers a primary partition with the lowest free number when it is added."""
    flags = {v: k for k, v in parted.partitionFlag.items()}
    for p in layout.partitions:
        if p.logical and layout.extended is not None and disk.getExtendedPartition() is None:
            _add(parted, disk, device, layout.extended, parted.PARTITION_EXTENDED, None)
        kind = parted.PARTITION_LOGICAL if p.logical else parted.PARTITION_NORMAL
        part = _add(parted, disk, device, (p.start, p.end), kind, _parted_fstype(p))
        if part.number != p.number:
            raise ImageError(f"libparted numbered partition {p.number} as {part.number}; the layout is not usable.")
        for flag in _flags(p, layout):
            part.setFlag(flags[flag])
        if layout.label is DiskLabel.GPT:
            part.set_name(p.gpt_name)


def _add(parted: Any, disk: Any, device: Any, span: tuple[int, int], kind: Any, fstype: str | None) -> Any:
    """Add a partition covering the bytes *span* exactly (no alignment or resizing by libparted)."""
    ss = device.sectorSize
    geometry = parted.Geometry(device=device, start=span[0] // ss, end=span[1] // ss - 1)
    fs = parted.FileSystem(type=fstype, geometry=geometry) if fstype else None
    part = parted.Partition(disk=disk, type=kind, fs=fs, geometry=geometry)
    disk.addPartition(partition=part, constraint=parted.Constraint(exactGeom=geometry))
    return part


def _parted_fstype(p: PlannedPartition) -> str | None:
    """libparted's filesystem type name, which picks the partition type (Linux, Linux swap, FAT)."""
    if p.kind is PartKind.BIOSBOOT:
        return None
    return {"swap": "linux-swap(v1)", "vfat": "fat32"}.get(p.fstype or "", p.fstype)


def _flags(p: PlannedPartition, layout: DiskLayout) -> list[str]:
    """parted's flag names for *p*: they set the GPT type GUIDs and the msdos type and active flag."""
    if p.kind is PartKind.BIOSBOOT:
        return ["bios_grub"]
    flags = ["esp"] if p.kind is PartKind.EFI else []
    if layout.label is DiskLabel.MSDOS and p == layout.boot:
        flags.append("boot")
    return flags
