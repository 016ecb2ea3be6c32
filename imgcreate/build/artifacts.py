"""What a build delivered, typed: which file is the image, what kind it is and which firmware boots it.

The boot test (``--boot-test``) and any caller of the API read these instead of guessing from file names: the
creator that made a file knows whether it is a live ISO, a filesystem image or a partitioned disk, in which
format, and whether it boots with BIOS, UEFI or both (``ImageCreator.artifacts`` after ``package()``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from imgcreate.strenum import StrEnum


class Firmware(StrEnum):
    """How a machine starts the image (the names the boot test's logs and options use)."""

    BIOS = "bios"
    UEFI = "uefi"

    @property
    def display(self) -> str:
        """"BIOS", "UEFI": as messages name them."""
        return str(self.value).upper()


class ArtifactKind(enum.Enum):
    LIVE_ISO = "live ISO"
    FILESYSTEM_IMAGE = "filesystem image"
    DISK = "partitioned disk"
    MANIFEST = "manifest"  # the checksum, package list and flattened kickstart beside every image


@dataclass(frozen=True)
class Artifact:
    """One delivered file.  *firmwares*: what boots it (none for a filesystem image or a manifest); *disk_format*:
    qemu-img's name of a disk's format ("raw", "qcow2", ...), possibly compressed as the suffix says."""

    path: Path
    kind: ArtifactKind
    firmwares: tuple[Firmware, ...] = ()
    disk_format: str | None = None
    arch: str = ""  # the machine it runs on (--forcearch, rpm's name); empty: the building machine's

    @property
    def bootable(self) -> bool:
        return bool(self.firmwares)
