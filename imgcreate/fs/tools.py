"""Upstream's ``imgcreate.fs`` helper functions: squashfs, resizing and checking filesystems, and the
util-linux and device-mapper queries its classes and scripts use.

Each runs its command through :mod:`imgcreate.host.run` (via upstream's :func:`imgcreate.util.rcall` where
upstream parses the output) and wraps what the library already does where it does it (``mksquashfs`` is
:func:`imgcreate.pack.squashfs.mksquashfs`, the ext checks and resizes are :mod:`imgcreate.host.fs`'s).
Upstream's arguments, return values and exception types are kept; where upstream printed a tool's output,
it goes to the log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from imgcreate.errors import CommandError, CreatorError, ResizeError, SquashfsError
from imgcreate.host import fs as host_fs
from imgcreate.host.run import run
from imgcreate.media.baseiso import squashfs_compression
from imgcreate.pack import squashfs
from imgcreate.util import rcall

log = logging.getLogger("imgcreate")

umount_fail_fmt = ("Unable to unmount filesystem at %s. The process using the imgcreate module, or one of the "
                   "libraries used by that process, leaked a reference to the filesystem.")


def ops_words(ops: object) -> list[str]:
    """Upstream's ``ops``: a string of comma- or space-separated words (``"ro"``, ``",--direct-io"``), or a list."""
    if not ops:
        return []
    if isinstance(ops, str):
        return [w for w in ops.replace(",", " ").split() if w]
    if isinstance(ops, (list, tuple)):
        return [w for item in ops for w in ops_words(item)]
    return []


def readonly(ops: object) -> bool:
    """Whether *ops* asks for read-only (``-r``, ``ro``, ``--readonly``), as upstream's ``'ro' in ops``."""
    return any(w in ("-r", "ro", "--readonly") for w in ops_words(ops))


def chrootentitycheck(entity: str | Sequence[str], chrootdir: str) -> bool:
    """Whether the command *entity* can be run chrooted in *chrootdir* (it is run: choose an innocuous one)."""
    argv = [entity] if isinstance(entity, str) else list(entity)
    res = run(argv, root=chrootdir, check=False, what=f"Looking for {argv[0]} in {chrootdir}")
    if res.returncode == 127:
        log.info("The '%s' entity is not available.", argv[0])
        return False
    return True


def makedirs(dirname: str, dirmode: int | None = None) -> None:
    """``os.makedirs`` that does not fail when the folder exists (on the host: use only for host paths)."""
    os.makedirs(dirname, dirmode or 0o777, exist_ok=True)


def squashfs_compression_type(sqfs_img: str) -> str:
    """The compressor *sqfs_img* was made with (``"xz"``, ``"zstd"``, ...), or ``"undetermined"``."""
    try:
        return squashfs_compression(Path(sqfs_img)) or "undetermined"
    except CreatorError as exc:
        raise SquashfsError(f"Error while stat-ing '{sqfs_img}': {exc}") from exc


def mksquashfs(in_dir: str, out_img: str, compress_args: str | None, ops: Sequence[str] = ()) -> None:
    """Compress *in_dir* into *out_img*.  *compress_args*: a compressor and its options (``"zstd"``,
    ``"xz -Xbcj x86"``, upstream's ``"xz1m"``); empty or ``"gzip"``: mksquashfs's default, gzip.  *ops*: more
    mksquashfs options; ``"show-squashing"`` among them shows mksquashfs's progress.  SquashfsError on failure.
    """
    extra = [o for o in ops if o != "show-squashing"]
    progress = True if "show-squashing" in ops else None
    squashfs.mksquashfs(Path(in_dir), Path(out_img), compress_args or "gzip", progress=progress, extra=extra)


_FAT_SIZES = (512, 1024, 2048, 4096, 8192, 16384, 32768)


def _check_fat(size: int, use: str | None, fssize: int | None) -> None:
    if size not in _FAT_SIZES:
        raise CreatorError(f"< {size} > is not a valid sector size for FAT: "
                           f"{', '.join(map(str, _FAT_SIZES))} bytes may be specified.")
    if use == "dev" and size > 512:
        log.warning("Block sizes greater than 512 bytes on vfat partitions are not suitable for SYSLINUX bootable "
                    "partitions.")
    elif use == "home":
        log.warning("A FAT filesystem for a home directory cannot hold access rights: many services fail.")


def _check_ext(size: int, use: str | None, fssize: int | None) -> None:
    if size not in (1024, -1024, 2048, -2048, 4096, -4096):
        raise CreatorError(f"< {size} > is not a valid block size for an ext fs: 1024, 2048, & 4096 bytes may be "
                           "specified.")


def _check_f2fs(size: int, use: str | None, fssize: int | None) -> None:
    if size != 4096:
        raise CreatorError("F2FS does not support block sizes other than 4096 bytes.")


def _check_xfs(size: int, use: str | None, fssize: int | None) -> None:
    if size not in (512, 4096, 65536):
        raise CreatorError(f"< {size} > is not a valid block size for the xfs fs: 512, 4096, and 65536 bytes may "
                           "be specified.")
    if use == "dev" and size > resource.getpagesize():
        log.warning("Partitions with block sizes greater than the page size (%d bytes) may not be mountable by "
                    "default on this system.", resource.getpagesize())


def _check_btrfs(size: int, use: str | None, fssize: int | None) -> None:
    if fssize is not None and fssize < 16:
        if size != 4:
            raise CreatorError(f"Illegal node size < {size} KiB> for btrfs mixed block group filesystems "
                               "(suggested below 16 GiB): a node size of 4 KiB is required.")
    elif size not in (16, 32, 64):
        raise CreatorError(f"< {size} KiB> is not a valid node size for btrfs: 16 (default), 32 or 64 KiB.")


_BLOCK_SIZE_CHECKS = {"fat": _check_fat, "vfat": _check_fat, "msdos": _check_fat, "ext2": _check_ext,
                      "ext3": _check_ext, "ext4": _check_ext, "f2fs": _check_f2fs, "xfs": _check_xfs,
                      "btrfs": _check_btrfs}


def checkfsblksz(fstype: str, size: int, use: str | None = None, fssize: int | None = None) -> None:
    """Refuse (CreatorError) a block size *fstype* cannot have; other types are not checked.  For btrfs *size*
    is the node size in KiB and *fssize* the filesystem's size in GiB (below 16 GiB: mixed block groups, 4 KiB
    nodes).  Upstream asked on the terminal before going on with a size that works badly (*use* ``"dev"``,
    ``"home"``); a library must not wait for a key, so this logs a warning instead."""
    check = _BLOCK_SIZE_CHECKS.get(fstype)
    if check is not None:
        check(size, use, fssize)


@contextlib.contextmanager
def _mounted(image: str) -> Iterator[str]:
    """*image* mounted on a temporary folder for the block (xfs and btrfs are resized mounted)."""
    with contextlib.ExitStack() as stack:
        where = Path(tempfile.mkdtemp(prefix="imgcreate-"))
        stack.callback(os.rmdir, where)
        dev = host_fs.attach_loop(stack, Path(image), scratch=True) if not _is_block(image) else image
        host_fs.mount(stack, dev, where)
        yield str(where)


def _is_block(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def _resize_ext(fs: str, size: int | None, blksz: int | None, minimal: bool, nocheck: bool) -> None:
    if nocheck or _is_block(fs):
        run(["resize2fs", "-f" if nocheck else "-p", fs, *(["-M"] if minimal else []),
             *([f"{size // 1024}K"] if size and not minimal else [])], what="Resizing the filesystem")
    elif minimal:
        host_fs.minimal_size(Path(fs))
    elif size:
        host_fs.resize(Path(fs), size)


def _resize_f2fs(fs: str, size: int | None, blksz: int | None, minimal: bool, nocheck: bool) -> None:
    run(["resize.f2fs", *(["-t", str(size // 512), "-d", "1"] if size else []), fs], what="Resizing the filesystem")


def _resize_xfs(fs: str, size: int | None, blksz: int | None, minimal: bool, nocheck: bool) -> None:
    if size and not blksz:
        raise ResizeError("Resizing xfs to a size needs its block size (blksz).")
    with _mounted(fs) as where:
        run(["xfs_growfs", *(["-D", str(size // blksz)] if size and blksz else []), where],
            what="Resizing the filesystem")


def _resize_btrfs(fs: str, size: int | None, blksz: int | None, minimal: bool, nocheck: bool) -> None:
    with _mounted(fs) as where:
        target: int | str = size or "max"
        if minimal:
            target = int(rcall(["btrfs", "inspect-internal", "min-dev-size", where])[0].split()[0])
        run(["btrfs", "filesystem", "resize", str(target), where], what="Resizing the filesystem")


_RESIZERS = {"f2fs": _resize_f2fs, "xfs": _resize_xfs, "btrfs": _resize_btrfs}


def resizefs(fs: str, fstype: str, size: int | None = None, blksz: int | None = None, minimal: bool = False,
             ops: str = "") -> int:
    """Resize the filesystem on *fs* (an image file or a device) to *size* bytes, or to its smallest with
    *minimal*; checked before and after unless *ops* is ``"nocheck"``.  ResizeError on failure; returns 0.
    xfs and f2fs only grow; xfs and btrfs are resized mounted (on a temporary folder)."""
    if minimal and size is not None:
        raise ResizeError("Can't specify both minimal and a size for resize!")
    resizer = _resize_ext if fstype.startswith("ext") else _RESIZERS.get(fstype)
    if resizer is None:
        raise ResizeError(f"resizefs cannot resize {fstype} filesystems.")
    nocheck = ops == "nocheck"
    if not nocheck:
        fsck(fs, fstype)
    log.info("resizing %s", fs)
    try:
        resizer(fs, size, blksz, minimal, nocheck)
    except CreatorError as exc:
        if isinstance(exc, ResizeError):
            raise
        raise ResizeError(f"resizefs returned an error!\n{exc}") from exc
    if not nocheck:
        ret = fsck(fs, fstype)
        if ret != 0:
            raise ResizeError(f"fsck after resize returned an error ({ret})!")
    return 0


_FSCK = {
    "f2fs": ["fsck.f2fs", "-f"],
    "vfat": ["fsck.fat", "-avVw"],
    "msdos": ["fsck.fat", "-avVw"],
    "btrfs": ["btrfs", "check", "-p", "--repair", "--force"],
    "xfs": ["xfs_repair", "-fv"],
    "hfsplus": ["fsck.hfsplus", "-yfp"],
}


def fsck(fs: str, fstype: str) -> int:
    """Check (and repair) the filesystem on *fs*; the checker's exit status (1 when nothing could be run).
    ext filesystems are checked with ``e2fsck -f -y -E discard``: 0, or 1 for corrected errors."""
    log.info("Checking filesystem %s", fs)
    if not fs:
        return 1
    if fstype.startswith("ext"):
        try:
            return host_fs.fsck(Path(fs), discard=True)
        except CommandError as exc:
            return exc.returncode
    args = _FSCK.get(fstype)
    if args is None:
        return 1
    return rcall([*args, fs], raise_err=False)[2]


def get_dm_table(device: str) -> str:
    """The device-mapper table of *device* (``dmsetup table``)."""
    return rcall(["dmsetup", "table", device])[0].rstrip()


def disc_free_info(path: str, options: str | None = None) -> list[str]:
    """``df`` of *path* (a block device, mount point or folder) as its fields; seven empty ones otherwise."""
    info: list[str] = [""] * 7
    if os.path.exists(path):
        mode = os.stat(path).st_mode
        if stat.S_ISBLK(mode) or os.path.ismount(path) or stat.S_ISDIR(mode):
            lines = rcall(["df", *([options] if options else []), path])[0].splitlines()
            info = lines[1].split()
            if len(info) == 1 and len(lines) > 2:  # a long device name: df wraps the line
                info += lines[2].split()
    return info


def get_file_info(path: str) -> list[str | None]:
    """``file -b`` of *path* as words; sixteen Nones when it does not exist."""
    if os.path.exists(path):
        return list(rcall(["file", "-b", path])[0].split())
    return [None] * 16


def _util_linux(tool: str, ops: str | None, search: str | Sequence[str]) -> str:
    args = [tool, *(ops.split() if ops else [])]
    if search:
        args += [search] if isinstance(search, str) else list(search)
    return rcall(args, raise_err=False)[0].strip()


def findmnt(ops: str | None = None, search: str | Sequence[str] = ()) -> str:
    """``findmnt OPS SEARCH``'s output, stripped ("" when nothing matches)."""
    return _util_linux("findmnt", ops, search)


def lsblk(ops: str | None = None, search: str | Sequence[str] = ()) -> str:
    """``lsblk OPS SEARCH``'s output, stripped."""
    return _util_linux("lsblk", ops, search)


def losetup(ops: str | None = None, search: str | Sequence[str] = ()) -> str:
    """``losetup OPS SEARCH``'s output, stripped (query it: attaching is the Disk classes' job)."""
    return _util_linux("losetup", ops, search)


def get_blockdev(major_minor: str) -> str | None:
    """The /dev node of the block device ``MAJOR:MINOR``, or None."""
    try:
        return os.path.join("/dev", os.path.basename(os.readlink(os.path.join("/dev", "block", major_minor))))
    except OSError:
        return None


def get_blockdev_size(device: str) -> str:
    """The size of *device* in bytes, as text (``blockdev --getsize64``)."""
    return rcall(["blockdev", "-q", "--getsize64", device])[0].rstrip()


def unmount_all(device: str) -> bool | None:
    """Unmount every mount of *device* and of the loop devices attached to it (recursively), last mounted
    first; True if one was unmounted, None if none was mounted, False if an unmount failed."""
    devs = [device]
    pending = [device]
    while pending:
        for found in losetup("-nO NAME -j", pending.pop()).split():
            if found not in devs:
                devs.append(found)
                pending.append(found)
    real = {os.path.realpath(d) for d in devs}
    with open("/proc/self/mountinfo") as f:
        mounts = [(fields[4].encode().decode("unicode_escape"), fields[fields.index("-") + 2])
                  for fields in (line.split() for line in f)]
    ret = None
    for target, source in reversed(mounts):
        if source in devs or os.path.realpath(source) in real:
            out, err, rc = rcall(["umount", "-lR", target], raise_err=False)
            if rc != 0:
                log.warning("umount error: %s :: %s", out, err)
                return False
            log.info("Unmounted %s at %s", source, target)
            ret = True
    return ret


def find_overlay(liveosdir: str) -> str | None:
    """The path of the first ``overlay-*`` file in *liveosdir* (a live medium's persistent overlay), or None."""
    for name in os.listdir(liveosdir):
        if name.startswith("overlay-"):
            return os.path.join(liveosdir, name)
    return None


def unavailable_space(filesystem: str) -> int:
    """Bytes held in *filesystem* by files deleted but still open (``lsof +aL1``)."""
    out = rcall(["lsof", "+aL1", "-Fs", filesystem], raise_err=False)[0]
    return sum(int(v[1:]) for v in out.split() if v.startswith("s") and v[1:].isdigit())


def dm_nodes() -> list[str]:
    """The names of the device-mapper devices (empty where the kernel has no device-mapper)."""
    out, _err, rc = rcall(["dmsetup", "info", "-c", "--noheadings", "-o", "name"], raise_err=False)
    if rc != 0 or out.strip() == "No devices found":
        return []
    return out.split()
