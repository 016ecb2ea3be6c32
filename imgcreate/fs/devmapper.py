"""Upstream's device-mapper classes and helpers: a linear or snapshot target over loop devices
(``DeviceMapperLinear``, ``DeviceMapperSnapshot``), a LUKS container (``CryptoLUKSDevice``, cryptsetup), and the
mirror that copies a filesystem onto new images (``config_mirror_targets``, ``mirror_fs``).

They run dmsetup and cryptsetup as upstream does, through :mod:`imgcreate.host.run`.  They need the kernel's
device-mapper (and dm-crypt, dm-mirror); where it is missing, ``create()`` raises SnapshotError (or
CryptoLUKSError) after releasing the loop devices it attached, so nothing is left behind.  The library itself
never needs device-mapper: it reads a persistent overlay's snapshot without it (:mod:`imgcreate.media.dmsnapshot`).
The API document says which parts were exercised on the test host.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import time
from typing import Protocol

from imgcreate.errors import CreatorError, CryptoLUKSError, MountError, SnapshotError
from imgcreate.fs.disks import LoopbackDisk, SparseLoopbackDisk
from imgcreate.fs.mounts import DiskMount, ExtDiskMount
from imgcreate.fs.tools import (
    dm_nodes,
    findmnt,
    get_blockdev,
    get_blockdev_size,
    get_dm_table,
    losetup,
    lsblk,
    readonly,
)
from imgcreate.util import call, rcall

log = logging.getLogger("imgcreate")


class _Loop(Protocol):
    lofile: str
    fstype: str | None

    @property
    def device(self) -> str | None: ...

    def create(self, ops: str = "") -> None: ...

    def cleanup(self) -> None: ...


def _name() -> str:
    return f"imgcreate-{os.getpid()}-{random.randint(0, 2**16)}"


def _dmsetup_create(name: str, table: str, ops: str) -> list[str]:
    args = ["dmsetup", "create", name, "--uuid", f"LIVECD-{name}", "--table", table]
    if readonly(ops):
        args.append("--readonly")
    return args


class DeviceMapperLinear:
    """The image of *imgloop* (a LoopbackDisk) as a linear device-mapper device, ``/dev/mapper/imgcreate-*``."""

    def __init__(self, imgloop: _Loop, ops: str = "") -> None:
        self.imgloop = imgloop
        self.ops = ops
        self.device: str | None = None
        self.__created = False
        self.__name: str | None = None

    def get_path(self) -> str | None:
        """``/dev/mapper/NAME`` once created, else None: the ``path`` property."""
        return self.device if self.__name is not None else None

    path = property(get_path)

    def create(self, ops: str = "") -> None:
        """Attach the image and make the linear device; SnapshotError (loop released) if dmsetup fails."""
        if self.__created:
            return
        self.imgloop.create(ops)
        name = _name()
        size = os.stat(self.imgloop.lofile).st_size
        args = _dmsetup_create(name, f"0 {size // 512} linear {self.imgloop.device} 0", ops or self.ops)
        if call(args) != 0:
            self.imgloop.cleanup()
            raise SnapshotError("Could not create dm-linear device using: " + " ".join(args))
        self.__name = name
        self.__created = True
        self.device = os.path.join("/dev/mapper", name)

    def cleanup(self) -> None:
        """``remove()``."""
        self.remove()

    def remove(self, ignore_errors: bool = False) -> None:
        """Remove the device and detach the image; SnapshotError if dmsetup fails, unless *ignore_errors*."""
        if not self.__created or self.__name is None:
            return
        rc = call(["dmsetup", "remove", "--retry", self.__name])
        if not ignore_errors and rc != 0:
            raise SnapshotError("Could not remove dm-linear device.")
        self.__name = None
        self.device = None
        self.__created = False
        self.imgloop.cleanup()


class DeviceMapperSnapshot:
    """A device-mapper snapshot of *imgloop*'s image with *cowloop*'s as its copy-on-write store; persistent
    (``PO``, ``P`` when read-only) unless the COW is a tmpfs file or *ops* says ``N``."""

    def __init__(self, imgloop: _Loop, cowloop: _Loop, ops: str = "") -> None:
        self.imgloop = imgloop
        self.cowloop = cowloop
        self.persistent = "PO"
        self.device: str | None = None
        self.__created = False
        self.__name: str | None = None

    def get_path(self) -> str | None:
        """``/dev/mapper/NAME`` once created, else None: the ``path`` property."""
        return os.path.join("/dev/mapper", self.__name) if self.__name is not None else None

    path = property(get_path)

    def create(self, ops: str = "") -> None:
        """Attach both images and make the snapshot; SnapshotError (loops released) if dmsetup fails."""
        if self.__created:
            return
        self.imgloop.create(ops=ops)
        try:
            self.cowloop.create()
        except BaseException:
            self.imgloop.cleanup()
            raise
        words = ops.replace(",", " ").split()
        if readonly(ops):
            self.persistent = "P"
        if self.cowloop.fstype == "tmpfs" or "N" in words:
            self.persistent = "N"
        if "P" in words:
            self.persistent = "P"
        if "PO" in words:
            self.persistent = "PO"
        name = _name()
        size = os.stat(self.imgloop.lofile).st_size
        table = f"0 {size // 512} snapshot {self.imgloop.device} {self.cowloop.device} {self.persistent} 8"
        args = _dmsetup_create(name, table, ops)
        if call(args) != 0:
            self.cowloop.cleanup()
            self.imgloop.cleanup()
            raise SnapshotError("Could not create snapshot device using: " + " ".join(args))
        self.__name = name
        self.__created = True
        self.device = os.path.join("/dev/mapper", name)

    def remove(self, ignore_errors: bool = False) -> None:
        """Remove the snapshot and detach both images; SnapshotError if dmsetup fails, unless *ignore_errors*."""
        if not self.__created or self.__name is None:
            return
        rc = call(["dmsetup", "remove", "--retry", self.__name])
        if not ignore_errors and rc != 0:
            raise SnapshotError("Could not remove snapshot device.")
        self.__name = None
        self.device = None
        self.__created = False
        self.cowloop.cleanup()
        self.imgloop.cleanup()

    def cleanup(self) -> None:
        """``remove()``."""
        self.remove()

    def get_cow_used(self) -> int:
        """Bytes of the COW store in use (``dmsetup status``: ``A B snapshot USED/TOTAL META``)."""
        if not self.__created or self.__name is None:
            return 0
        out = rcall(["dmsetup", "status", self.__name], raise_err=False)[0]
        try:
            return int(out.split()[3].split("/")[0]) * 512
        except (ValueError, IndexError) as exc:
            raise SnapshotError("Failed to parse dmsetup status: " + out) from exc


def _is_luks(source: str) -> bool:
    """Whether *source* holds a LUKS header (False where cryptsetup is not installed: it cannot be opened)."""
    try:
        return os.path.exists(source) and call(["cryptsetup", "isLuks", source]) == 0
    except FileNotFoundError:
        return False


class CryptoLUKSDevice:
    """The LUKS container in the file or device *source*, opened as ``/dev/mapper/NAME`` by ``create()``.  A
    source that is not LUKS yet is made one first (``back()``: cryptsetup asks for the passphrase on the
    terminal).  *size* in bytes; ``size`` is kept in MiB, as text, as upstream."""

    def __init__(self, name: str, source: str, size: int = 0, fstype: str | None = None, blksz: int | None = None,
                 ops: str = "") -> None:
        self.ops = ops
        self.size = str(size // (1024 ** 2))
        self.fstype = fstype
        self.blksz = blksz
        self.device: str | None = None
        self.lofile = source
        self.__name = name
        self.__created = False
        self.__backed = _is_luks(source)
        self.__formatted = self.__backed or ops == "raw"

    def get_path(self) -> str | None:
        """``/dev/mapper/NAME`` once opened, else None: the ``path`` property."""
        return self.device

    path = property(get_path)

    def back(self, ops: str = "") -> None:
        """Make *source* a LUKS container of ``size`` MiB (cryptsetup asks for the passphrase), then open it."""
        if self.__backed:
            return
        fstype = findmnt("-no FSTYPE -T", os.path.dirname(os.path.abspath(self.lofile)))
        source = "/dev/urandom" if fstype in ("vfat", "msdos") else "/dev/zero"
        log.info("Preparing %s (%s MiB)", self.lofile, self.size)
        with open(source, "rb") as src, open(self.lofile, "wb") as dst:
            if source == "/dev/zero":
                dst.truncate(int(self.size) * 1024 ** 2)
            else:
                for _ in range(int(self.size)):
                    dst.write(src.read(1024 ** 2))
        if os.system(f"cryptsetup luksFormat '{self.lofile}'") != 0:  # noqa: S605 (interactive, as upstream)
            raise CryptoLUKSError(f"Could not make {self.lofile} a crypto_LUKS container.")
        self.__backed = True
        self.create(self.ops)
        self.format(self.ops)

    def format(self, ops: str = "") -> None:
        """Make the filesystem ``fstype`` in the opened container (once)."""
        if not self.__backed:
            self.back(self.ops)
        if self.__formatted or self.device is None or not self.fstype:
            return
        args = [f"mkfs.{self.fstype}"]
        if self.fstype.startswith("ext"):
            args += ["-F", "-b", str(self.blksz or 4096)]
        elif self.fstype == "xfs":
            args += ["-b", f"size={self.blksz or 4096}"]
        if call([*args, self.device]) != 0:
            raise CryptoLUKSError(f"Could not make an {self.fstype} filesystem using: {' '.join(args)}")
        if self.fstype.startswith("ext"):
            call(["tune2fs", "-c0", "-i0", "-ouser_xattr,acl", self.device])
        self.__formatted = True

    def open(self, ops: str = "") -> None:
        """Open the container as ``/dev/mapper/NAME`` (read-only with *ops* ``ro``); CryptoLUKSError if it fails."""
        args = ["cryptsetup", "open", self.lofile, self.__name]
        if readonly(ops or self.ops):
            args.append("--readonly")
        if call(args) != 0:
            raise CryptoLUKSError("Could not create a crypto_LUKS device using: " + " ".join(args))
        self.device = os.path.join("/dev/mapper", self.__name)
        self.__created = True

    def create(self, ops: str = "") -> None:
        """Make the container first if it is not one (``back()``), then open it."""
        if not self.__backed:
            self.back(self.ops)
        if self.__created:
            return
        self.open(ops or self.ops)

    def suspend(self) -> None:
        """``cryptsetup luksSuspend``: I/O to the device waits, its key is dropped."""
        args = ["cryptsetup", "luksSuspend", self.__name]
        if call(args) != 0:
            raise CryptoLUKSError("Could not suspend a crypto_LUKS device using: " + " ".join(args))

    def cleanup(self, ignore_errors: bool = False) -> None:
        """Close the container; CryptoLUKSError if it fails, unless *ignore_errors*."""
        if not self.__created:
            return
        rc = call(["cryptsetup", "close", self.__name])
        if not ignore_errors and rc != 0:
            raise CryptoLUKSError("Could not remove crypto_LUKS device.")
        self.device = None
        self.__created = False


def config_mirror_targets(src_fs: str, tmpdir: str = "/tmp", legs: int = 2,
                          ops: str | None = None) -> tuple[str, tuple[str, str] | None, int, list[DiskMount], str,
                                                           LoopbackDisk | None]:
    """Prepare the targets of a device-mapper mirror of *src_fs* (a device-mapper name, an image file or a
    block device): ``legs - 1`` new sparse images beside each other in *tmpdir* (LUKS containers with *ops*
    ``"encrypt"``).  Returns (source device, (dm name, table) or None, size in sectors, target mounts, mirror
    name, the loop device attached for the source or None: the caller cleans it up)."""
    mirroot = tempfile.mkdtemp(prefix="imgcreate-", dir=tmpdir)
    mirname = os.path.basename(mirroot)
    imgdev: str | None = None
    dm_node = None
    loopobj = None
    if src_fs in dm_nodes():
        table = get_dm_table(src_fs)
        fields = table.split()
        imgsize = int(fields[1]) * 512
        imgdev = get_blockdev(fields[3])
        dm_node = (src_fs, table)
    elif os.path.isfile(src_fs):
        imgsize = os.stat(src_fs).st_size
        imgdev = losetup("-nO NAME -j", src_fs).split("\n")[0] or None
    else:
        imgsize = int(get_blockdev_size(src_fs))
        if not findmnt("-no TARGET", src_fs):
            imgdev = src_fs
    if imgdev is None:
        loopobj = LoopbackDisk(src_fs, None, "-r", dirmode=0o700)
        loopobj.create()
        imgdev = loopobj.device
    assert imgdev is not None
    fslabel = lsblk("-ndo LABEL", imgdev)
    fstype = lsblk("-ndo FSTYPE", imgdev)
    blocksize = os.stat(imgdev).st_blksize

    def target(i: int) -> DiskMount:
        leg = os.path.join(tmpdir, f"{mirname}{i}.img")
        if ops == "encrypt":
            luks = CryptoLUKSDevice(f"EncHome{mirname}{i}", leg, imgsize + 4096 * 512, ops="raw")
            return DiskMount(luks, tempfile.mkdtemp(prefix="imgcreate-", dir=mirroot), dirmode=0o700)  # type: ignore[arg-type]
        return ExtDiskMount(SparseLoopbackDisk(leg, imgsize), mirroot, fstype, blocksize, fslabel)

    try:
        targets = [target(i) for i in range(legs - 1)]
    except CreatorError as exc:
        if loopobj is not None:
            loopobj.cleanup()
        raise MountError(f"Failed to allocate device for the mirror of '{src_fs}': {exc}") from exc
    return imgdev, dm_node, imgsize // 512, targets, mirname, loopobj


def mirror_fs(fs_dev: str, dm_node: tuple[str, str] | None, imgsize: int, mirloops: list[DiskMount],
              mirname: str) -> None:
    """Copy *fs_dev* (or the device-mapper device *dm_node* names) onto the targets *mirloops* with a
    device-mapper mirror named *mirname*, waiting until it is in sync; the mirror stays (remove it with
    ``dmsetup remove MIRNAME``, then clean up the targets).  *imgsize* in 512-byte sectors."""
    for obj in mirloops:
        if isinstance(obj.disk, CryptoLUKSDevice):
            obj.disk.create()
        elif isinstance(obj, ExtDiskMount):
            obj._ExtDiskMount__create(ops="raw")  # type: ignore[attr-defined]
        else:
            obj.disk.create()
    legs = "".join(f" {obj.disk.device} 0" for obj in mirloops)
    device = os.path.join("/dev", "mapper", dm_node[0]) if dm_node else fs_dev
    table = f"0 {imgsize} mirror core 2 32 sync {len(mirloops) + 1} {device} 0{legs}"
    log.info("loading mirror %s to %s", device, legs)
    if call(["dmsetup", "create", mirname, "--readonly", "--table", table]) != 0:
        raise SnapshotError(f"Could not create the mirror {mirname} of {device}.")
    while True:
        status = rcall(["dmsetup", "status", mirname])[0].split()
        done, total = status[-5].split("/") if len(status) >= 5 else ("0", "1")
        if done == total:
            break
        log.info("Mirroring %.1f %% complete.", 100.0 * int(done) / max(int(total), 1))
        time.sleep(0.5)

