"""livecd-iso-to-disk's target, and every reason not to write to it.

Three kinds, as upstream's livecd-iso-to-disk.sh takes them plus one of ours: a *partition* (the default,
non-destructive mode: the live system is added to the FAT or ext filesystem on it, its other files stay), a
whole *block device* (``--format`` only: it is repartitioned), and a disk *image file* (ours: always
partitioned and formatted, as nothing on it could be kept).

Each check runs before anything is written: a whole disk without ``--format`` or a partition with it, the disk
holding ``/`` (its boot code would be replaced), the target (or a partition of a disk to be formatted) mounted
or used as swap, a partition without a FAT or ext filesystem, a block device the kernel does not list, an image
file attached to a loop device (it may be mounted), a non-empty image file without ``--format`` or ``--force``
(a mistyped name must not erase someone's data), the ISO itself.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from imgcreate.disk.layout import MIB
from imgcreate.errors import CreatorError
from imgcreate.host.run import run


@dataclass(frozen=True)
class Target:
    """A target that passed the checks: a whole block device (its size) or an image file (None: made as big as
    needed)."""

    path: Path
    is_block: bool
    size_bytes: int | None  # None: an image file to be made as big as needed


@dataclass(frozen=True)
class PartitionTarget:
    """A partition the live system is added to (nothing else on it changes): its disk (whose MBR gets GRUB's
    boot code), its filesystem and the disk's partition table type."""

    path: Path
    disk: str
    fstype: str  # "vfat" or ext2/ext3/ext4
    label: str
    uuid: str
    size_bytes: int
    gpt: bool


FORMAT_HINT = "give the whole device with --format to repartition it"


def _sysfs_of(dev: int) -> Path | None:
    p = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    return p.resolve() if p.exists() else None


def _devnums(sysdir: Path) -> set[str]:
    """"MAJ:MIN" of the device at *sysdir*, its partitions and everything stacked on them (dm, md), recursively."""
    found: set[str] = set()
    todo = [sysdir]
    while todo:
        d = todo.pop()
        with contextlib.suppress(OSError):
            num = (d / "dev").read_text().strip()
            if num in found:
                continue
            found.add(num)
        todo += [c for c in d.iterdir() if (c / "partition").exists()] if d.is_dir() else []
        holders = d / "holders"
        todo += [h.resolve() for h in holders.iterdir()] if holders.is_dir() else []
    return found


_SWAP = "\0swap"  # in _mounted_devnums, a swap device (no mount point can hold a NUL)


def _mounted_devnums() -> dict[str, str]:
    """"MAJ:MIN" -> mount point of every mounted filesystem, or :data:`_SWAP` for a swap device."""
    mounted: dict[str, str] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mounted.setdefault(fields[2], fields[4].encode().decode("unicode_escape"))
    with contextlib.suppress(OSError), open("/proc/swaps") as f:
        for line in f.readlines()[1:]:
            with contextlib.suppress(OSError):
                st = os.stat(line.split()[0])
                if stat.S_ISBLK(st.st_mode):
                    mounted.setdefault(f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}", _SWAP)
    return mounted


def _root_devnum() -> str:
    st = os.stat("/")
    return f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"


def _sysdir(path: Path) -> Path:
    sysdir = _sysfs_of(os.stat(path).st_rdev)
    if sysdir is None:
        raise CreatorError(f"{path} is a block device the kernel does not list in /sys; refusing to write to it.")
    return sysdir


def _refuse_busy(path: Path, nums: set[str]) -> None:
    mounted = _mounted_devnums()
    busy = sorted({mounted[n] for n in nums if n in mounted})
    if busy:
        mounts, swap = [b for b in busy if b != _SWAP], _SWAP in busy
        uses = ([f"mounted on {', '.join(mounts)}"] if mounts else []) + (["used as swap"] if swap else [])
        undo = " and ".join((["unmount it"] if mounts else []) + (["swapoff it"] if swap else []))
        raise CreatorError(
            f"{path} is in use: it (or a partition of it) is {' and '.join(uses)}. {undo.capitalize()} first; "
            "nothing was written."
        )


def check_block_target(path: Path) -> Target:
    """A whole disk to be repartitioned (``--format``), not in use: no partition of it (nor anything stacked on
    it) mounted or swapped on, and not the disk of the running system's root."""
    sysdir = _sysdir(path)
    nums = _devnums(sysdir)
    if _root_devnum() in nums:
        raise CreatorError(f"{path} holds the running system's root filesystem (/); refusing to erase it.")
    _refuse_busy(path, nums)
    if (sysdir / "partition").exists():
        raise CreatorError(
            f"{path} is a partition, and --format repartitions a whole disk: give the whole device (e.g. /dev/sdb, "
            "not /dev/sdb1), or leave out --format to add the live system to this partition. Nothing was written."
        )
    size = int((sysdir / "size").read_text()) * 512
    return Target(path=path, is_block=True, size_bytes=size)


def _disk_of(sysdir: Path) -> str:
    return f"/dev/{sysdir.parent.name}"


def check_partition_target(path: Path) -> PartitionTarget:
    """A partition to add the live system to (upstream's default mode): not the whole disk, not on the disk of
    ``/`` (its MBR gets GRUB's boot code), not itself mounted or swapped on, with a FAT or ext filesystem."""
    sysdir = _sysdir(path)
    is_partition = (sysdir / "partition").exists()
    if _root_devnum() in _devnums(sysdir.parent if is_partition else sysdir):
        raise CreatorError(f"{path} is on the disk of the running system's root filesystem (/); its boot code would "
                           "be replaced: refusing to write to it.")
    if not is_partition:
        kind = "loop device" if sysdir.name.startswith("loop") else "whole disk"
        raise CreatorError(
            f"{path} is a {kind}, not a partition: give the partition to add the live system to (e.g. "
            f"{path}{'p' if str(path)[-1:].isdigit() else ''}1), or {FORMAT_HINT}. Nothing was written."
        )
    _refuse_busy(path, _devnums(sysdir))
    fstype = run(["blkid", "-p", "-s", "TYPE", "-o", "value", str(path)], check=False,
                 what=f"Probing {path}").stdout.strip()
    if fstype not in ("vfat", "ext2", "ext3", "ext4"):
        found = f"a {fstype} filesystem" if fstype else "no filesystem"
        raise CreatorError(f"{path} holds {found}: the live system is added to a FAT or ext2/3/4 filesystem "
                           f"(format the partition first), or {FORMAT_HINT}. Nothing was written.")

    def tag(name: str) -> str:
        return run(["blkid", "-p", "-s", name, "-o", "value", str(path)], check=False,
                   what=f"Probing {path}").stdout.strip()

    disk = _disk_of(sysdir)
    pttype = run(["blkid", "-p", "-s", "PTTYPE", "-o", "value", disk], check=False,
                 what=f"Probing {disk}").stdout.strip()
    return PartitionTarget(path=path, disk=disk, fstype=fstype, label=tag("LABEL"), uuid=tag("UUID"),
                           size_bytes=int((sysdir / "size").read_text()) * 512, gpt=pttype == "gpt")


def check_file_target(path: Path, iso: Path, size_mb: int | None, force: bool = False) -> Target:
    """An image file (made if missing); refused while a loop device is attached to it (it may be mounted), and
    refused without *force* (``--format`` or ``--force``) when it exists and is not empty: a mistyped name must
    not erase someone's data."""
    if path.exists() and not path.is_file():
        raise CreatorError(f"'{path}' is neither a block device nor a regular file (a disk image).")
    if not path.parent.is_dir():
        raise CreatorError(f"The directory of '{path}' does not exist.")
    if path.exists() and path.resolve() == iso.resolve():
        raise CreatorError("The target is the ISO itself.")
    if path.exists():
        attached = run(["losetup", "--associated", str(path)], what=f"Looking for loop devices on {path}").stdout
        if attached.strip():
            raise CreatorError(
                f"'{path}' is attached to a loop device ({attached.split(':')[0]}), so it may be mounted; detach it "
                "first. Nothing was written."
            )
        if path.stat().st_size > 0 and not force:
            raise CreatorError(f"'{path}' exists and is not empty: writing the live system to it would erase what it "
                               "holds. Give --format (or --force) to overwrite it, or choose a new file name. "
                               "Nothing was written.")
    if size_mb is not None:
        return Target(path=path, is_block=False, size_bytes=size_mb * MIB)
    return Target(path=path, is_block=False, size_bytes=path.stat().st_size if path.exists() else None)


def check_target(path: Path, iso: Path, size_mb: int | None, force: bool,
                 fmt: bool = True) -> Target | PartitionTarget:
    """A block device or an image file that may be erased, or (without *fmt*, ``--format``) a partition to add
    the live system to (*size_mb*, *force*: livecd-iso-to-disk's options)."""
    if path.is_block_device():
        if size_mb is not None:
            raise CreatorError("--size-mb is for a disk image file; a block device keeps its size.")
        return check_block_target(path) if fmt else check_partition_target(path)
    return check_file_target(path, iso, size_mb, force or fmt)
