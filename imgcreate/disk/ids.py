"""The ids a disk image carries, derived instead of drawn at random when the build is reproducible.

A disk is full of random ids: the partition table's (the GPT disk and partition GUIDs, the MBR's disk
signature), each filesystem's UUID (and ext's directory hash seed, FAT's volume serial), swap's UUID, and the ids
qemu-img draws when it writes a vmdk (the descriptor's ``CID``) or a vdi (image and snapshot UUIDs).  With
``SOURCE_DATE_EPOCH`` each is derived from the disk's name, what it identifies and the epoch
(:func:`imgcreate.storage.reproducible.derived_uuid`): the same for the same build, different for another disk or epoch,
so two appliances attached to one host do not share UUIDs unless they are the same build.
"""

from __future__ import annotations

import re
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

from imgcreate.disk.layout import DiskLabel, DiskLayout
from imgcreate.errors import ImageError
from imgcreate.host.run import run
from imgcreate.storage.reproducible import derived_uuid


@dataclass(frozen=True)
class FsIds:
    """The ids of one partition's filesystem (or swap)."""

    uuid: str
    hash_seed: str  # ext's directory hash seed, a UUID
    serial: str  # FAT's volume serial: 8 hex digits

    @classmethod
    def derived(cls, name: str, number: int, epoch: int) -> FsIds:
        fs_uuid = derived_uuid("disk-fs", name, number, epoch)
        return cls(uuid=fs_uuid, hash_seed=derived_uuid("disk-hash", name, number, epoch), serial=fs_uuid[:8])


def set_table_ids(image: Path, layout: DiskLayout, name: str, epoch: int) -> None:
    """Give the partition table in *image* derived ids (libparted draws them): the MBR's disk signature, or the
    GPT's disk GUID and every partition's GUID (sfdisk rewrites both GPT copies and their checksums)."""
    disk_id = derived_uuid("disk-table", name, epoch)
    if layout.label is DiskLabel.MSDOS:
        run(["sfdisk", "--disk-id", str(image), f"0x{disk_id[:8]}"], what="Setting the disk's signature")
        return
    run(["sfdisk", "--disk-id", str(image), disk_id.upper()], what="Setting the GPT disk GUID")
    for part in layout.partitions:
        guid = derived_uuid("disk-partition", name, part.number, epoch).upper()
        run(["sfdisk", "--part-uuid", str(image), str(part.number), guid],
            what=f"Setting the GUID of partition {part.number}")


# qemu's vdi header (block/vdi.c): its signature, then the image's and the last snapshot's UUIDs.
_VDI_SIGNATURE = (0x40, 0xBEDA107F)
_VDI_UUIDS = (0x188, 0x198)
_VMDK_CID = re.compile(rb"\nCID=[0-9a-f]{1,8}\n")


def fix_image_ids(disk: Path, disk_format: str, name: str, epoch: int) -> None:
    """Replace the random ids qemu-img wrote into a vmdk or vdi *disk* by derived ones (qcow2 and raw have none)."""
    if disk_format == "vdi":
        _fix_vdi(disk, name, epoch)
    elif disk_format == "vmdk":
        _fix_vmdk(disk, name, epoch)


def _fix_vdi(disk: Path, name: str, epoch: int) -> None:
    with open(disk, "r+b") as f:
        header = f.read(0x200)
        offset, signature = _VDI_SIGNATURE
        if len(header) < 0x1A8 or struct.unpack_from("<I", header, offset)[0] != signature:
            raise ImageError(f"{disk} is not a vdi image as qemu-img writes them: its ids cannot be set.")
        for what, at in zip(("image", "snapshot"), _VDI_UUIDS):
            f.seek(at)
            f.write(uuid.UUID(derived_uuid("vdi", what, name, epoch)).bytes)


def _fix_vmdk(disk: Path, name: str, epoch: int) -> None:
    """The ``CID=`` line of a monolithic sparse vmdk's embedded descriptor (header: descriptor offset and size
    in sectors at bytes 28 and 36).  qemu-img writes the CID without leading zeros, so the descriptor's text
    is written again whole, with a CID of 8 digits, in its zero-padded area (its length is not stored)."""
    with open(disk, "r+b") as f:
        header = f.read(44)
        if header[:4] != b"KDMV":
            raise ImageError(f"{disk} is not a sparse vmdk as qemu-img writes them: its ids cannot be set.")
        desc_offset, desc_size = struct.unpack_from("<QQ", header, 28)
        f.seek(desc_offset * 512)
        area = f.read(desc_size * 512)
        text = area.split(b"\0", 1)[0]
        cid = derived_uuid("vmdk", name, epoch)[:8].encode()
        fixed, count = _VMDK_CID.subn(b"\nCID=" + cid + b"\n", text, count=1)
        if count != 1 or len(fixed) >= len(area):
            raise ImageError(f"{disk} has no CID in its descriptor: its ids cannot be set.")
        f.seek(desc_offset * 512)
        f.write(fixed.ljust(len(area), b"\0"))
