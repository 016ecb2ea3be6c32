"""livecd-iso-to-disk's target: a whole block device or a disk image file, and every reason not to erase it.

Each check runs before anything is written: a partition instead of a whole disk, the disk holding ``/``, a disk
with (a partition of) it mounted or used as swap, a block device the kernel does not list, an image file
attached to a loop device (it may be mounted), a non-empty image file without ``--force`` (a mistyped name
must not erase someone's data), the ISO itself.
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


def check_block_target(path: Path) -> Target:
    """A whole disk, not in use: no partition of it (nor anything stacked on it) mounted or swapped on, and not
    the disk of the running system's root."""
    st = os.stat(path)
    sysdir = _sysfs_of(st.st_rdev)
    if sysdir is None:
        raise CreatorError(f"{path} is a block device the kernel does not list in /sys; refusing to write to it.")
    if (sysdir / "partition").exists():
        raise CreatorError(
            f"{path} is a partition: give the whole disk (e.g. /dev/sdb, not /dev/sdb1); it is repartitioned."
        )
    nums = _devnums(sysdir)
    if _root_devnum() in nums:
        raise CreatorError(f"{path} holds the running system's root filesystem (/); refusing to erase it.")
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
    size = int((sysdir / "size").read_text()) * 512
    return Target(path=path, is_block=True, size_bytes=size)


def check_file_target(path: Path, iso: Path, size_mb: int | None, force: bool = False) -> Target:
    """An image file (made if missing); refused while a loop device is attached to it (it may be mounted), and
    refused without *force* when it exists and is not empty: a mistyped name must not erase someone's data."""
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
                               "holds. Give --force to overwrite it, or choose a new file name. Nothing was written.")
    if size_mb is not None:
        return Target(path=path, is_block=False, size_bytes=size_mb * MIB)
    return Target(path=path, is_block=False, size_bytes=path.stat().st_size if path.exists() else None)


def check_target(path: Path, iso: Path, size_mb: int | None, force: bool) -> Target:
    """A block device or an image file that may be erased (*size_mb*, *force*: livecd-iso-to-disk's options)."""
    if path.is_block_device():
        if size_mb is not None:
            raise CreatorError("--size-mb is for a disk image file; a block device keeps its size.")
        return check_block_target(path)
    return check_file_target(path, iso, size_mb, force)
