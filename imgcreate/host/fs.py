"""Sparse files, loop devices, mounts and ext filesystems.

Every function that acquires something (a loop device, a mount) takes the ExitStack that must release it and
registers the release at the moment of acquisition, so any error or signal afterwards unwinds it in reverse
order.  Nothing here relies on ``__del__``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import time
from pathlib import Path

from imgcreate.errors import CommandError, ImageError, MountError
from imgcreate.host import signals
from imgcreate.host.processes import comm
from imgcreate.host.run import run

log = logging.getLogger("imgcreate")

EXT_TYPES = ("ext2", "ext3", "ext4")


def tree_bytes(path: Path) -> int:
    """What the file *path*, or the files under the folder *path*, hold in bytes (0 when it is missing or a
    symbolic link; links under it are not followed)."""
    if path.is_symlink() or not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def make_sparse(path: Path, size: int) -> None:
    """Create (or extend) *path* as a sparse file of *size* bytes."""
    with open(path, "ab") as f:
        f.truncate(size)


def attach_loop(stack: contextlib.ExitStack, image: Path, readonly: bool = False, partscan: bool = False,
                offset: int = 0, sizelimit: int = 0, scratch: bool = False) -> str:
    """Attach *image* to a free loop device atomically (``losetup --find --show``) and register the detach.

    *partscan*: the kernel also makes a device for each partition (``/dev/loopNpK``), gone with the detach.
    *offset*, *sizelimit* (bytes, 0: none): the device shows only that part of *image* (a file on an unmounted
    filesystem, written in place).  *scratch*: a build's own image, whose cache flushes are skipped while it is
    attached (:func:`_cache_mode`); never for what a user keeps working in (a persistent overlay, a stick).
    """
    args = ["losetup", "--find", "--show"]
    if offset:
        args += ["--offset", str(offset)]
    if sizelimit:
        args += ["--sizelimit", str(sizelimit)]
    if readonly:
        args.append("--read-only")
    if partscan:
        args.append("--partscan")
    # With signals held: stopped half-way, losetup could have attached a device we never learn of.
    with signals.deferred("attaching a loop device"):
        out = run([*args, str(image)], what=f"Attaching {image} to a loop device").stdout
        # The output is merged with losetup's warnings (e.g. "file is smaller than 512 bytes"): take the device.
        found: list[str] = re.findall(r"^(/dev/loop\d+)$", out, re.MULTILINE)
        if not found:
            raise ImageError(f"losetup attached {image} but did not say to which device: {out.strip()}")
        dev = found[-1]
        stack.callback(detach_loop, dev)
    log.debug("attached %s to %s", image, dev)
    if not readonly:
        _cache_mode(stack, dev, scratch)
    return dev


def _cache_mode(stack: contextlib.ExitStack, dev: str, scratch: bool) -> None:
    """A *scratch* loop device (a build's own image) is write-through while attached: the block layer is told it
    has no volatile cache, until just before the detach, when it is set back to write-back, the kernel's default.
    Any other writable device is made write-back if it is not.

    Why write-through: a loop device passes each cache flush on as an fsync of the whole image file, so every
    journal commit, ``fsync()`` and ``O_SYNC`` write in the build pushed all the image's data so far to the host's
    disk (GRUB's grub2-bios-setup writes its core image with O_SYNC, a sector at a time: 1-3 s per disk build
    here).  The image file's durability on the host's disk during a build buys nothing: after a crash the build
    is thrown away anyway; the data is in the file's page cache, readable at once, and written back by the kernel
    as for any file.  Never for a device a user works on (liveimage-mount --persist's overlay, a stick): there an
    application's fsync must reach the disk.

    Why write-back for the others and at the end: the setting sticks to the device number, not to the attachment
    (this kernel keeps it across detach and attach), so a build killed with SIGKILL, which runs no cleanup, leaves
    its device write-through for whoever attaches it next.  Each attach here sets what it needs, and a scratch
    device is left write-back, so such a leftover ends at our next use of the device.  A host that does not allow
    the change (a read-only /sys) builds as before."""
    knob = Path("/sys/block") / Path(dev).resolve().name / "queue" / "write_cache"
    wanted = "write through" if scratch else "write back"
    try:
        if knob.read_text().strip() != wanted:
            knob.write_text(wanted)
    except OSError as exc:
        log.debug("%s keeps its write cache setting (%s)", dev, exc)
        return
    if scratch:
        def restore() -> None:
            with contextlib.suppress(OSError):
                knob.write_text("write back")

        stack.callback(restore)


def partition_devices(device: str, expect: int = 0) -> dict[int, str]:
    """The partition devices of the attached *device* by partition number (``/dev/loop3p2``, ``/dev/sdb1``).

    Kernels built without the GPT/MBR parsers (some VM and container kernels, this CI's among them) make none
    on ``--partscan``; then ``partx --add`` reads the table itself and adds them (they go with the loop device).
    With *expect*, wait briefly until that many have appeared.  No fixed pause first: ``losetup --partscan``
    scans the table before it returns and ``partx --add`` adds the partitions synchronously (BLKPG), and the
    nodes in devtmpfs are made before either returns; only a slow udev rule could lag, and then the loop waits.
    """
    sysdir = Path("/sys/class/block") / Path(device).resolve().name
    if not _partitions_in(sysdir):
        run(["partx", "--add", device], check=False, what=f"Adding the partitions of {device}")
    for _ in range(50):
        found = _partitions_in(sysdir)
        if len(found) >= expect:
            return found
        time.sleep(0.1)
    raise ImageError(f"The partitions of {device} did not appear (found {len(found)} of {expect}).")


def _partitions_in(sysdir: Path) -> dict[int, str]:
    found: dict[int, str] = {}
    with contextlib.suppress(OSError):
        for child in sysdir.iterdir():
            with contextlib.suppress(OSError, ValueError):
                number = int((child / "partition").read_text())
                if Path(f"/dev/{child.name}").exists():
                    found[number] = f"/dev/{child.name}"
    return found


def probe(dev: str, tag: str) -> str:
    """A filesystem's *tag* (TYPE, UUID, LABEL) read from *dev* itself (``blkid -p``: blkid's cache may not know
    a filesystem just made); "" when there is none."""
    return run(["blkid", "-p", "-s", tag, "-o", "value", dev], check=False, what=f"Probing {dev}").stdout.strip()


def detach_loop(dev: str) -> None:
    """Detach *dev* and wait (up to about 5 s) until it is gone: while udev still probes it, ``losetup -d``
    only marks it to be detached when closed, and a caller checking right after would still see it."""
    for attempt in range(10):
        try:
            run(["losetup", "-d", dev], what=f"Detaching {dev}")
            break
        except CommandError:
            if attempt == 9:
                raise
            time.sleep(0.2 * (attempt + 1))
    backing = Path("/sys/block") / Path(dev).name / "loop" / "backing_file"
    for _ in range(50):
        if not backing.exists():
            return
        time.sleep(0.1)


def mount(
    stack: contextlib.ExitStack,
    source: str,
    target: Path,
    fstype: str | None = None,
    options: str | None = None,
    bind: bool = False,
) -> None:
    """Mount and register the unmount."""
    args = ["mount"]
    if bind:
        args.append("--bind")
    if fstype:
        args += ["-t", fstype]
    if options:
        args += ["-o", options]
    args += [source, str(target)]
    # With signals held: a mount command stopped after its mount(2) would leave a mount nobody unmounts.
    with signals.deferred("mounting"):
        try:
            run(args, what=f"Mounting {source} on {target}")
        except CommandError as exc:
            raise MountError(str(exc)) from exc
        stack.callback(umount, target, mount_id(target))


# A mount as the kernel names it: its id and its device (major:minor), which together cannot name another
# mount made later with a reused id.
MountRef = tuple[int, str]


def _mountinfo() -> list[tuple[MountRef, str]]:
    """(mount id and device, mount point) of every mount, in the kernel's order (/proc/self/mountinfo)."""
    with open("/proc/self/mountinfo") as f:
        return [((int(fields[0]), fields[2]), fields[4].encode().decode("unicode_escape"))
                for fields in (line.split() for line in f)]


def mount_id(target: Path) -> MountRef | None:
    """The mount on top at *target* (None: nothing is mounted there)."""
    real = os.path.realpath(target)
    found = [ref for ref, where in _mountinfo() if where == real]
    return found[-1] if found else None


def mount_point_of(ref: MountRef) -> Path | None:
    """Where the mount *ref* is now (None: it is gone).  A script may have moved the folder holding it (a
    ``%post`` doing ``mv /srv /srv.old`` carries the mount of ``/srv/data`` along): its path now, not then."""
    return next((Path(where) for m, where in _mountinfo() if m == ref), None)


def holders_of(path: Path) -> list[str]:
    """Describe the processes that keep *path* busy (cwd, root, open files or mapped files under it)."""
    prefix = str(path.resolve())
    found = []
    for pid in _pids():
        try:
            links = [os.readlink(f"/proc/{pid}/{n}") for n in ("root", "cwd")]
            with contextlib.suppress(OSError):
                fd_dir = f"/proc/{pid}/fd"
                links += [os.readlink(os.path.join(fd_dir, fd)) for fd in os.listdir(fd_dir)]
            with contextlib.suppress(OSError), open(f"/proc/{pid}/maps") as maps:
                links += [line.split(None, 5)[5].strip() for line in maps if len(line.split(None, 5)) == 6]
            held = [link for link in links if link == prefix or link.startswith(prefix + "/")]
            if held:
                who = "this process" if pid == os.getpid() else Path(f"/proc/{pid}/comm").read_text().strip()
                found.append(f"{who} (pid {pid}: {', '.join(sorted(set(held))[:3])})")
        except OSError:
            continue
    return found


def umount(target: Path, mid: MountRef | None = None) -> None:
    """Unmount *target*; retry while busy and, as a last resort, detach lazily with a warning naming the holders.

    With *mid* (:func:`mount_id`, recorded when it was mounted) the mount itself is unmounted wherever it is now,
    whatever path it was mounted on: the folder holding it may have been moved or renamed since.
    A busy mount is never silently leaked: either it is gone, or it is lazily detached and the log says who held it.
    """
    if mid is not None:
        now = mount_point_of(mid)
        if now is None:
            return
        if now != Path(os.path.realpath(target)):
            log.info("%s was moved to %s since it was mounted; unmounting it there", target, now)
        target = now
    elif not os.path.ismount(target):
        return
    last = ""
    for attempt in range(5):
        try:
            run(["umount", str(target)], what=f"Unmounting {target}")
            return
        except CommandError as exc:
            last = exc.output.strip()
            time.sleep(0.2 * (attempt + 1))
    holders = holders_of(target)
    log.warning(
        "%s is still busy (%s; held by: %s); detaching it lazily", target, last, ", ".join(holders) or "unknown"
    )
    try:
        run(["umount", "--lazy", str(target)], what=f"Lazily unmounting {target}")
    except CommandError as exc:
        raise MountError(str(exc)) from exc
    # The filesystem may still be written to by whoever holds it: never build an image from it.
    raise MountError(
        f"{target} could not be unmounted because it was busy (held by: {', '.join(holders) or 'unknown'}); "
        "it was detached lazily and the build stopped rather than package a filesystem still in use."
    )


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below *path*, from the kernel's own table (/proc/self/mountinfo)."""
    prefix = str(Path(path).resolve())
    return [target for _mid, target in _mountinfo() if target == prefix or target.startswith(prefix + "/")]


def remove_tree(path: Path) -> None:
    """Remove a build directory, but never across a mount point: that would delete inside whatever is mounted."""
    mounted = mounts_under(path)
    if mounted:
        raise MountError(
            f"Not removing {path}: these are still mounted below it: {', '.join(mounted)}. Unmount them by hand."
        )
    shutil.rmtree(path, ignore_errors=True)


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def processes_in_root(root: Path) -> list[int]:
    """PIDs of processes whose root directory is *root* or below it (daemons a scriptlet or %post started)."""
    prefix = str(root.resolve())
    pids = []
    for pid in _pids():
        try:
            link = os.readlink(f"/proc/{pid}/root")
        except OSError:
            continue
        if link == prefix or link.startswith(prefix + "/"):
            pids.append(pid)
    return pids


def kill_processes_in(root: Path, grace: float = 3.0) -> None:
    """Stop every process still running inside the install root: SIGTERM, a grace period, then SIGKILL."""
    pids = processes_in_root(root)
    if not pids:
        return
    for pid in pids:
        log.warning("stopping process %d (%s) still running in %s", pid, comm(pid), root)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and processes_in_root(root):
        time.sleep(0.1)
    for pid in processes_in_root(root):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and processes_in_root(root):
        time.sleep(0.1)


def mkfs_ext(device: str, fstype: str, label: str, extra: list[str] | None = None, size: int | None = None,
             blocksize: int = 4096) -> None:
    """An ext filesystem on *device* (a file or block device); *size* in bytes: not the whole device."""
    if fstype not in EXT_TYPES:
        raise ImageError(f"Unsupported filesystem type '{fstype}' for the image: use one of {', '.join(EXT_TYPES)}.")
    run(
        [f"mkfs.{fstype}", "-F", "-q", "-L", label[:16], "-m", "1", "-b", str(blocksize), *(extra or []), device,
         *([f"{size // 1024}k"] if size is not None else [])],
        what="Creating the filesystem",
    )


def fsck(image: Path, discard: bool = False) -> int:
    """Force a full check; exit status 1 means errors were corrected, which is fine for a fresh image.

    *discard*: also punch out the free blocks of an image file, so that what deleted files left in them is
    neither kept in the sparse file nor compressed into a squashfs.  Returns e2fsck's exit status (0 or 1).
    """
    extra = ["-E", "discard"] if discard else []
    res = run(["e2fsck", "-f", "-y", *extra, str(image)], check=False, what="Checking the filesystem")
    if res.returncode not in (0, 1):
        raise CommandError(res.args, res.returncode, res.stdout, "Checking the filesystem")
    return res.returncode


def minimal_size(image: Path) -> int:
    """Shrink the filesystem in *image* to its minimal size (``resize2fs -M``) and return that size in bytes."""
    run(["resize2fs", "-M", str(image)], what="Shrinking the filesystem")
    return block_count(image) * block_size(image)


def resize(image: Path, size: int) -> None:
    run(["resize2fs", str(image), f"{size // 1024}K"], what="Resizing the filesystem")


def _dumpe2fs_field(image: Path, field: str) -> int:
    out = run(["dumpe2fs", "-h", str(image)], what="Reading the filesystem header").stdout
    for line in out.splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1].strip())
    raise ImageError(f"dumpe2fs did not report '{field}' for {image}")


def block_count(image: Path) -> int:
    return _dumpe2fs_field(image, "Block count")


def block_size(image: Path) -> int:
    return _dumpe2fs_field(image, "Block size")


def resparse(image: Path, nominal_size: int | None) -> int:
    """Check, shrink to minimal, truncate, then (if *nominal_size*) grow back sparsely.  Returns the minimal size.

    This is what upstream livecd-tools does: the file holds only what is needed, yet the filesystem keeps its
    nominal size for whoever boots it.
    """
    fsck(image, discard=True)
    size = minimal_size(image)
    os.truncate(image, size)
    if nominal_size and nominal_size > size:
        os.truncate(image, nominal_size)
        resize(image, nominal_size)
    return size
