"""The layout of a partitioned disk image: which partitions, where, and writing that partition table.

:func:`plan_disk` turns the kickstart's ``part`` lines into a :class:`DiskLayout`, pure logic and no I/O, so that
every mistake in the layout is found (and named by its kickstart line) before anything is installed; the build
then makes the disk with :func:`imgcreate.disk.formatted.format_disk`: an image of ``layout.size_bytes``, the
table written with pyparted (:mod:`imgcreate.disk.table`), the filesystems made on the planned partitions.

The rules, and where they come from:

* One disk.  appliance-creator makes one image per ``--ondisk`` name; this makes one, and says so when the
  kickstart names two disks.
* Partitions are laid out in kickstart order, the BIOS boot partition first (appliance-creator sets the
  ``bios_grub`` flag on partition 1 whatever it holds, so the kickstarts written for it list biosboot first).
* Every partition starts and ends on a 1 MiB boundary: the first at 1 MiB (as appliance-creator and parted's
  optimal alignment), and sizes are whole MiB.  A GPT disk keeps 1 MiB at the end for the backup GPT (33
  sectors) so that the disk size stays a whole number of MiB.  A disk without a given size is exactly that big.
* Sizes missing from a ``part`` line (appliance-creator has no default: it fails) take anaconda's: 1 MiB for
  biosboot, 500 MiB for the ESP and for any other partition or swap (blivet's default partition size),
  1024 MiB for /boot, and for / the default image size of livecd-creator (4096 MiB, as ``root_partition``).
* ``--grow`` partitions share the space a given disk size leaves, in proportion to their sizes (as blivet
  grows them), each up to its ``--maxsize``.  Without a disk size they keep their ``--size``.
* msdos holds 4 primary partitions: with more, partitions 1-3 are primary, partition 4 is an extended partition
  holding the rest as logical partitions 5, 6, ... (as appliance-creator does, without its off-by-one), each
  after a 1 MiB gap for its extended boot record.  ``--asprimary`` on a partition that would be logical is an
  error (move its line up).  On GPT ``--asprimary`` means nothing.
* The default disk label is msdos, as appliance-creator's (``clearpart --disklabel=gpt`` chooses GPT), so that
  a kickstart written for it (one ``part /``, BIOS boot) builds unchanged; a kickstart without ``--disklabel``
  that lists a BIOS boot partition was written for GPT (only GPT has one) and gets GPT.  A GPT disk that boots
  with BIOS needs a BIOS boot partition for GRUB's core image, unless ``bootloader --location=none`` (or
  ``--disabled``) installs no boot loader; msdos has room for it after the MBR and takes none.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from imgcreate import kickstart
from imgcreate.errors import ImageError, KickstartError

log = logging.getLogger("imgcreate")

MIB = 1024 * 1024
FIRST_PARTITION_MIB = 1  # where the first partition starts: the MBR/GPT and alignment before it
GPT_BACKUP_MIB = 1  # kept free at the end of a GPT disk for the backup GPT header and entries
EBR_GAP_MIB = 1  # before each logical partition on msdos: its extended boot record, and alignment
MSDOS_PRIMARY_MAX = 4

ESP_GPT_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
BIOSBOOT_GPT_TYPE = "21686148-6449-6E6F-744E-656564454649"
ESP_MSDOS_TYPE = 0xEF

FILESYSTEMS = ("ext2", "ext3", "ext4", "xfs", "vfat")
FSTYPE_ALIASES = {"efi": "vfat"}  # anaconda's name for the ESP's format
# Longest label each mkfs takes (mkswap's too): a longer one would be cut or refused after the install.
LABEL_MAX = {"ext2": 16, "ext3": 16, "ext4": 16, "xfs": 12, "vfat": 11, "swap": 16}
MIN_SIZE_MIB = {"xfs": 300}  # mkfs.xfs (xfsprogs >= 5.19) refuses smaller filesystems

DEFAULT_SIZE_MIB = 500  # blivet's default partition size
DEFAULT_BIOSBOOT_MIB = 1
DEFAULT_ESP_MIB = 500
DEFAULT_BOOT_MIB = 1024
DEFAULT_ROOT_MIB = kickstart.DEFAULT_IMAGE_SIZE_MB

ESP_MOUNTPOINT = "/boot/efi"


class DiskLabel(enum.Enum):
    """The partition table type; the value is parted's name for it."""

    GPT = "gpt"
    MSDOS = "msdos"


class PartKind(enum.Enum):
    """What a partition is for: it decides its type, flags and whether it is mounted."""

    FILESYSTEM = "filesystem"
    BIOSBOOT = "biosboot"  # GRUB's core image on a GPT disk booted by BIOS; no filesystem
    EFI = "efi"  # the EFI system partition at /boot/efi, vfat
    SWAP = "swap"


@dataclass(frozen=True)
class PlannedPartition:
    """One partition where it will be.  Offsets are bytes, *end* exclusive, both multiples of 1 MiB."""

    kind: PartKind
    mountpoint: str | None  # normalized ("/boot", not "/boot/"); None for biosboot and swap
    fstype: str | None  # ext2 ext3 ext4 xfs vfat swap; None for biosboot
    size_mib: int
    number: int  # the partition number, 1-based (msdos logical partitions count from 5)
    start: int
    end: int
    label: str | None = None
    logical: bool = False  # an msdos logical partition, inside the extended one
    lineno: int | None = None  # its kickstart line, for messages

    @property
    def size_bytes(self) -> int:
        return self.end - self.start

    def sectors(self, sector_size: int = 512) -> tuple[int, int]:
        """First and last sector (inclusive, as parted counts) for a disk of *sector_size* sectors."""
        return self.start // sector_size, self.end // sector_size - 1

    @property
    def gpt_name(self) -> str:
        """The GPT partition name: what the partition is for, readable in any partitioning tool."""
        if self.kind is PartKind.EFI:
            return "EFI System Partition"
        if self.mountpoint is None:
            return "biosboot" if self.kind is PartKind.BIOSBOOT else "swap"
        return "root" if self.mountpoint == "/" else self.mountpoint.strip("/").replace("/", "-")[:36]


@dataclass(frozen=True)
class DiskLayout:
    """The whole disk: its label, size and partitions in disk order."""

    label: DiskLabel
    size_bytes: int
    partitions: tuple[PlannedPartition, ...]
    extended: tuple[int, int] | None = None  # msdos: the extended partition (number 4) as (start, end) bytes

    @property
    def root(self) -> PlannedPartition:
        """The "/" partition (plan_disk() makes no layout without one)."""
        return next(p for p in self.partitions if p.mountpoint == "/")

    @property
    def esp(self) -> PlannedPartition | None:
        return next((p for p in self.partitions if p.kind is PartKind.EFI), None)

    @property
    def biosboot(self) -> PlannedPartition | None:
        return next((p for p in self.partitions if p.kind is PartKind.BIOSBOOT), None)

    @property
    def boot(self) -> PlannedPartition:
        """The partition holding /boot: /boot's own, else "/".  On msdos it is the active (bootable) one."""
        return next((p for p in self.partitions if p.mountpoint == "/boot"), self.root)

    @property
    def swaps(self) -> tuple[PlannedPartition, ...]:
        return tuple(p for p in self.partitions if p.kind is PartKind.SWAP)

    def mount_order(self) -> tuple[PlannedPartition, ...]:
        """The partitions with a mount point, parents first ("/", "/boot", "/boot/efi"); unmount in reverse."""
        mounted = (p for p in self.partitions if p.mountpoint is not None)
        return tuple(sorted(mounted, key=lambda p: (_depth(p.mountpoint or "/"), p.mountpoint)))


def _depth(mountpoint: str) -> int:
    return len([c for c in mountpoint.split("/") if c])


# ---- planning -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    """A checked ``part`` line: what it asks for, before it has a place."""

    kind: PartKind
    mountpoint: str | None
    fstype: str | None
    size_mib: int
    grow: bool
    maxsize_mib: int | None
    label: str | None
    asprimary: bool
    ondisk: str | None
    where: str  # "line 5 (part /boot)", for messages
    lineno: int | None


def plan_disk(
    config: kickstart.KickstartSettings, bios: bool = True, disk_size_mib: int | None = None
) -> DiskLayout:
    """Plan the disk the kickstart's ``part`` lines describe (see the module's docstring for the rules).

    *bios*: the image boots with BIOS too (a GPT disk then needs a BIOS boot partition).  *disk_size_mib*: the
    disk's size, which ``--grow`` partitions fill; without it the disk is as big as the partitions need.
    Raises KickstartError for a layout the kickstart gets wrong and ImageError for one that does not fit.
    """
    requests = _ordered([_request(p) for p in config.partitions])
    label = _disk_label(config.disklabel, requests)
    _check_layout(requests, label)
    _check_bootable(requests, label, bios and config.bootloader.installs)
    overhead = _overhead_mib(label, len(requests))
    sizes = [r.size_mib for r in requests]
    if disk_size_mib is not None:
        free = disk_size_mib - overhead - sum(sizes)
        if free < 0:
            raise ImageError(_too_small(requests, label, overhead, disk_size_mib))
        sizes = _grow(requests, free)
    total_mib = disk_size_mib if disk_size_mib is not None else overhead + sum(sizes)
    return _place(requests, sizes, label, total_mib)


def _disk_label(word: str | None, requests: Sequence[_Request]) -> DiskLabel:
    """``clearpart --disklabel``; without it msdos (appliance-creator's default), or GPT when a BIOS boot
    partition says the kickstart was written for GPT."""
    if not word:
        return DiskLabel.GPT if any(r.kind is PartKind.BIOSBOOT for r in requests) else DiskLabel.MSDOS
    if word == "gpt":
        return DiskLabel.GPT
    if word in ("msdos", "dos", "mbr"):
        return DiskLabel.MSDOS
    raise KickstartError(
        f"clearpart --disklabel={word}: a disk image can have a 'gpt' or an 'msdos' partition table."
    )


def _where(p: kickstart.Partition) -> str:
    what = f"part {p.mountpoint}"
    return f"line {p.lineno} ({what})" if p.lineno is not None else f"the line '{what}'"


def _request(p: kickstart.Partition) -> _Request:
    """Check one ``part`` line on its own: its mount point, filesystem type, sizes and label."""
    where = _where(p)
    kind, mountpoint, fstype = _kind_of(p, where)
    size = p.size if p.size is not None else _default_size(kind, mountpoint)
    if size < 1:
        raise KickstartError(f"Kickstart {where}: --size={size} is not a size; give it in MiB, at least 1.")
    if p.grow and p.maxsize is not None and p.maxsize < size:
        raise KickstartError(
            f"Kickstart {where}: --maxsize={p.maxsize} is smaller than --size={size}; a partition grows from its "
            "size up to its maxsize."
        )
    minimum = MIN_SIZE_MIB.get(fstype or "", 1)
    if size < minimum:
        raise KickstartError(f"Kickstart {where}: {fstype} needs at least {minimum} MiB; give --size={minimum}.")
    if p.label and fstype in LABEL_MAX and len(p.label) > LABEL_MAX[fstype]:
        raise KickstartError(
            f"Kickstart {where}: --label={p.label} is {len(p.label)} characters long; {fstype} labels hold "
            f"{LABEL_MAX[fstype]}."
        )
    return _Request(kind=kind, mountpoint=mountpoint, fstype=fstype, size_mib=size, grow=p.grow,
                    maxsize_mib=p.maxsize, label=p.label or None, asprimary=p.asprimary,
                    ondisk=p.ondisk or None, where=where, lineno=p.lineno)


def _kind_of(p: kickstart.Partition, where: str) -> tuple[PartKind, str | None, str | None]:
    """(kind, normalized mount point, filesystem type) of a ``part`` line."""
    fstype = (p.fstype or "").lower() or None
    if p.mountpoint == "biosboot":
        _expect_fstype(fstype, ("biosboot",), where, "a BIOS boot partition holds no filesystem")
        return PartKind.BIOSBOOT, None, None
    if p.mountpoint == "swap":
        _expect_fstype(fstype, ("swap",), where, "swap partitions hold swap")
        return PartKind.SWAP, None, "swap"
    mountpoint = _normalized(p.mountpoint, where)
    fstype = FSTYPE_ALIASES.get(fstype or "", fstype)
    if mountpoint == ESP_MOUNTPOINT:
        _expect_fstype(fstype, ("vfat",), where, "UEFI firmware reads the EFI system partition only as FAT")
        return PartKind.EFI, mountpoint, "vfat"
    if fstype in ("swap", "biosboot"):
        raise KickstartError(
            f"Kickstart {where}: --fstype={fstype} on a mount point; write 'part {fstype}' for a {fstype} partition."
        )
    if fstype is not None and fstype not in FILESYSTEMS:
        raise KickstartError(
            f"Kickstart {where}: the filesystem type '{p.fstype}' is not one a disk image can be made with; "
            "use ext2, ext3, ext4, xfs, vfat (or efi for /boot/efi) or swap."
        )
    return PartKind.FILESYSTEM, mountpoint, fstype or kickstart.DEFAULT_FSTYPE


def _expect_fstype(fstype: str | None, allowed: Sequence[str], where: str, why: str) -> None:
    if fstype is not None and fstype not in allowed:
        raise KickstartError(f"Kickstart {where}: --fstype={fstype} does not fit: {why} (--fstype={allowed[0]}).")


def _normalized(mountpoint: str, where: str) -> str:
    """"/boot/" as "/boot"; anything that is not an absolute path (pv.01, raid.01, none) is refused."""
    parts = [c for c in mountpoint.split("/") if c]
    if not mountpoint.startswith("/") or any(c in (".", "..") for c in parts):
        raise KickstartError(
            f"Kickstart {where}: '{mountpoint}' is not a mount point a disk image can have; use an absolute "
            "path, biosboot or swap (LVM, RAID and btrfs volumes are not supported)."
        )
    return "/" + "/".join(parts)


def _default_size(kind: PartKind, mountpoint: str | None) -> int:
    if kind is PartKind.BIOSBOOT:
        return DEFAULT_BIOSBOOT_MIB
    if kind is PartKind.EFI:
        return DEFAULT_ESP_MIB
    return {"/": DEFAULT_ROOT_MIB, "/boot": DEFAULT_BOOT_MIB}.get(mountpoint or "", DEFAULT_SIZE_MIB)


def _ordered(requests: list[_Request]) -> list[_Request]:
    """Kickstart order, the BIOS boot partition first."""
    return sorted(requests, key=lambda r: r.kind is not PartKind.BIOSBOOT)


def _check_layout(requests: Sequence[_Request], label: DiskLabel) -> None:
    """What the lines get wrong together: no "/", a mount point twice, two disks, msdos's 4 primaries."""
    if not any(r.mountpoint == "/" for r in requests):
        raise KickstartError(
            "The kickstart has no 'part /' line: a disk image needs a root partition, e.g. "
            "'part / --fstype=ext4 --size=4096'."
        )
    seen: dict[str, _Request] = {}
    disks: dict[str, _Request] = {}
    for r in requests:
        key = r.mountpoint or ("biosboot" if r.kind is PartKind.BIOSBOOT else None)
        if key is not None and key in seen:
            raise KickstartError(
                f"Kickstart {r.where}: {key} already has a partition ({seen[key].where}); each mount point can "
                "have one."
            )
        if key is not None:
            seen[key] = r
        if r.ondisk:
            disks.setdefault(r.ondisk, r)
    if len(disks) > 1:
        first, second = list(disks.values())[:2]
        raise KickstartError(
            f"Kickstart {first.where} puts a partition on --ondisk={first.ondisk} and {second.where} on "
            f"--ondisk={second.ondisk}: this makes one disk image, so name one disk (or none) on every line."
        )
    if label is DiskLabel.MSDOS:
        _check_msdos(requests)


def _check_msdos(requests: Sequence[_Request]) -> None:
    if len(requests) > MSDOS_PRIMARY_MAX:
        for r in requests[MSDOS_PRIMARY_MAX - 1 :]:
            if r.asprimary:
                raise KickstartError(
                    f"Kickstart {r.where}: --asprimary, but an msdos disk holds 4 primary partitions and this one "
                    "comes after the first 3, so it would be a logical partition; move its line up."
                )
    biosboot = next((r for r in requests if r.kind is PartKind.BIOSBOOT), None)
    if biosboot is not None:
        raise KickstartError(
            f"Kickstart {biosboot.where}: a BIOS boot partition is for GPT disks; on an msdos disk GRUB uses the "
            "space after the MBR.  Remove the line, or use 'clearpart --disklabel=gpt'."
        )


def _check_bootable(requests: Sequence[_Request], label: DiskLabel, bios_grub: bool) -> None:
    """GRUB on a GPT disk booted by BIOS has nowhere to put its core image without a BIOS boot partition
    (*bios_grub*: GRUB is installed for BIOS: the image boots with BIOS and has a boot loader)."""
    if label is not DiskLabel.GPT or not bios_grub:
        return
    if not any(r.kind is PartKind.BIOSBOOT for r in requests):
        raise KickstartError(
            "The kickstart makes a GPT disk that boots with BIOS, and GRUB needs a BIOS boot partition on it: add "
            "'part biosboot --fstype=biosboot --size=1' (or use 'bootloader --location=none' for a disk without "
            "a boot loader, or 'clearpart --disklabel=msdos')."
        )


def _overhead_mib(label: DiskLabel, count: int) -> int:
    """MiB the disk needs besides the partitions: before the first, EBR gaps, the backup GPT."""
    logical = count - (MSDOS_PRIMARY_MAX - 1) if label is DiskLabel.MSDOS and count > MSDOS_PRIMARY_MAX else 0
    backup = GPT_BACKUP_MIB if label is DiskLabel.GPT else 0
    return FIRST_PARTITION_MIB + logical * EBR_GAP_MIB + backup


def _too_small(requests: Sequence[_Request], label: DiskLabel, overhead: int, disk_size_mib: int) -> str:
    listed = ", ".join(f"{r.where}: {r.size_mib} MiB" for r in requests)
    need = overhead + sum(r.size_mib for r in requests)
    return (
        f"The kickstart's partitions do not fit a {disk_size_mib} MiB disk: they need {need} MiB ({listed}, and "
        f"{overhead} MiB for the {label.value} partition table and alignment).  Make the disk larger or the "
        "partitions smaller."
    )


def _grow(requests: Sequence[_Request], free: int) -> list[int]:
    """The sizes after ``--grow`` partitions took *free* MiB, in proportion to their sizes, up to --maxsize."""
    sizes = [r.size_mib for r in requests]

    def room(i: int) -> int | None:
        cap = requests[i].maxsize_mib
        return None if cap is None else cap - sizes[i]

    active = [i for i, r in enumerate(requests) if r.grow and room(i) != 0]
    while free > 0 and active:
        weight = sum(requests[i].size_mib for i in active)
        shares = [free * requests[i].size_mib // weight for i in active]
        for k in range(free - sum(shares)):  # what rounding down left, a MiB each to the first ones
            shares[k] += 1
        for i, share in zip(active, shares):
            r = room(i)
            given = share if r is None else min(share, r)
            sizes[i] += given
            free -= given
        active = [i for i in active if room(i) != 0]
    return sizes


def _place(requests: Sequence[_Request], sizes: Sequence[int], label: DiskLabel, total_mib: int) -> DiskLayout:
    """Offsets and numbers, in disk order; on msdos with more than 4, the 4th and later are logical."""
    logical_from = MSDOS_PRIMARY_MAX - 1 if label is DiskLabel.MSDOS and len(requests) > MSDOS_PRIMARY_MAX else None
    offset = FIRST_PARTITION_MIB
    extended_start: int | None = None
    planned = []
    for index, (r, size) in enumerate(zip(requests, sizes)):
        logical = logical_from is not None and index >= logical_from
        if logical:
            if extended_start is None:
                extended_start = offset
            offset += EBR_GAP_MIB
        number = index + 2 if logical else index + 1  # logical partitions count from 5, after the extended 4
        planned.append(PlannedPartition(
            kind=r.kind, mountpoint=r.mountpoint, fstype=r.fstype, size_mib=size, number=number,
            start=offset * MIB, end=(offset + size) * MIB, label=r.label, logical=logical, lineno=r.lineno,
        ))
        offset += size
    extended = (extended_start * MIB, offset * MIB) if extended_start is not None else None
    return DiskLayout(label=label, size_bytes=total_mib * MIB, partitions=tuple(planned), extended=extended)
