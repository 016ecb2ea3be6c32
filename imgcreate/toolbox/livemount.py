"""Mounting the root filesystem of a live ISO or a live USB stick on the host (``liveimage-mount``),
read-only or through an overlay.

The host may have no iso9660 driver, so an ISO itself is never mounted: the file that carries the root
(``LiveOS/squashfs.img``, or ``LiveOS/rootfs.img`` on an uncompressed ISO) is extracted with xorriso into a
temporary directory and loop-mounted from there.

A stick (a block device, one of its partitions, or a disk image file, as ``livecd-iso-to-disk`` writes them) is
read where it lies: its partition holding ``LiveOS/`` is mounted read-only, and the root is shown as the live
system last left it, through the stick's persistent overlay (``LiveOS/overlay-*``: an overlayfs image, or a
dm-snapshot COW file applied to a private copy of the root image, see :mod:`imgcreate.media.dmsnapshot`), with its
``LiveOS/home.img`` on ``/home``.  The stick is never written (ext filesystems are mounted ``noload`` so not even
a journal is replayed on it); the root is made writable by a temporary overlay or the user's ``--overlay`` on
top, as for an ISO.

Every loop device and mount is registered on one ExitStack
the moment it exists, so leaving the ``with`` block for any reason (the command failed, Ctrl-C, SIGTERM, an
error half-way through) unmounts and detaches everything in reverse order and removes the temporary files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from imgcreate.errors import CreatorError
from imgcreate.host import fs
from imgcreate.host.processes import stop, wait_for
from imgcreate.host.run import run
from imgcreate.media import dmsnapshot, liveiso
from imgcreate.media.liveiso import Layout, LiveIso, read_live_iso
from imgcreate.pack import erofs
from imgcreate.storage import inroot
from imgcreate.toolbox import stickmount

log = logging.getLogger("imgcreate")

_INNER_IMAGES = ("LiveOS/rootfs.img", "LiveOS/ext3fs.img")


class RecordingStack(contextlib.ExitStack):
    """An ExitStack that also remembers every callback it is given, so the releases can be written down
    (``--persist``) and replayed by another process (``-u``)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def callback(self, callback: Callable[..., Any], /, *args: Any, **kwds: Any) -> Callable[..., Any]:
        self.records.append((callback, args))
        return super().callback(callback, *args, **kwds)

    def adopt(self, other: contextlib.ExitStack) -> None:
        if isinstance(other, RecordingStack):
            self.records.extend(other.records)
        self.push(other.pop_all())


def check_mountpoint(mountpoint: Path) -> None:
    """A mount point must be an existing directory that nothing is mounted on yet: mounting over a mount would
    hide it, and unmounting afterwards could take the wrong one."""
    if not mountpoint.is_dir():
        raise CreatorError(f"The mount point '{mountpoint}' is not a directory: create it first.")
    if os.path.ismount(mountpoint) or fs.mounts_under(mountpoint):
        raise CreatorError(f"The mount point '{mountpoint}' is busy: something is already mounted there. "
                           "Unmount it or choose an empty directory.")


@contextlib.contextmanager
def mounted_live_root(iso: Path, mountpoint: Path, overlay: Path | None = None, tmpdir: Path | None = None, *,
                      read_only: bool = False, scratch_mib: int | None = None) -> Iterator[Path]:
    """:func:`mount_live_root` for the duration of the block; everything is released when it is left."""
    with contextlib.ExitStack() as stack:
        mount_live_root(stack, iso, mountpoint, overlay, tmpdir, read_only=read_only, scratch_mib=scratch_mib)
        yield mountpoint


def mount_live_root(stack: contextlib.ExitStack, iso: Path, mountpoint: Path, overlay: Path | None = None,
                    tmpdir: Path | None = None, *, read_only: bool = False, scratch_mib: int | None = None) -> None:
    """Mount the live root of *iso* (a live ISO, or a live medium: a block device, a partition or a disk image
    file holding ``LiveOS/``, or the folder such a medium is mounted on) on *mountpoint*; every mount, loop
    device and temporary folder is registered on *stack*.

    The layers are upstream's (liveimage-mount -o/-r/-s): the root as the medium holds it, read-only (a
    medium's own persistent overlay ``LiveOS/overlay-*`` applied, unless *overlay* is given); then *overlay*, a
    directory (itself the upper layer; ``../ovlwork`` beside it, or a temporary work folder there) or an ext
    image holding dracut's ``overlayfs/`` and ``ovlwork/``: written through, so the next mount sees the
    changes, or only read when *read_only*; then, with *scratch_mib*, a temporary writable layer of that many
    MiB (an ext image file in *tmpdir*), used when there is no *overlay* or it is only read, and gone afterwards.
    Without *overlay* and *scratch_mib* the root is read-only.  *tmpdir* (default /var/tmp) also holds a root
    image the ISO stores in several extents, copied out (see :func:`_mount_root`): it can be as large as the ISO.
    """
    check_mountpoint(mountpoint)
    live = read_live_iso(iso) if _is_iso(iso) else None
    if overlay is not None:
        _check_overlay(overlay)
    work = Path(tempfile.mkdtemp(prefix="liveimage-mount-", dir=tmpdir or "/var/tmp"))
    stack.callback(fs.remove_tree, work)  # registered first: removed last, once nothing is mounted below
    writes_overlay = overlay is not None and not read_only
    layered = overlay is not None or scratch_mib is not None
    lower = work / "lower" if layered else mountpoint
    lower.mkdir(exist_ok=True)
    if live is not None:
        _mount_root(stack, live, work, lower)
    else:
        liveos = _liveos_folder(iso) if iso.is_dir() else _mount_medium(stack, iso, work)
        _mount_medium_root(stack, liveos, work, lower, own_overlay=overlay is None)
    lowers = [lower]
    if overlay is not None:
        upper, workdir = _overlay_layers(stack, overlay, work, writable=writes_overlay)
        if writes_overlay:
            _mount_overlayfs(stack, lowers, upper, workdir, mountpoint)
        else:
            lowers.insert(0, upper)
    if not writes_overlay and scratch_mib is not None:
        _mount_overlayfs(stack, lowers, *_scratch_layer(stack, work, scratch_mib), mountpoint)
    elif not writes_overlay and overlay is not None:
        fs.mount(stack, "overlay", mountpoint, fstype="overlay", options="ro,lowerdir=" + ":".join(map(str, lowers)))
    home_img = liveos / "home.img" if live is None else None  # a stick's persistent home
    if home_img is not None and _stick_file(home_img) and fs.probe(str(home_img), "TYPE") == "crypto_LUKS":
        log.warning("%s is encrypted (LUKS, livecd-iso-to-disk's default): not mounted on /home", home_img)
    elif home_img is not None and _stick_file(home_img) and inroot.is_dir(mountpoint, "/home"):
        # /home resolved inside the root: a link there to a host folder must not get the home mounted over it
        home = mountpoint / inroot.real_path(mountpoint, "/home").lstrip("/")
        _mount_ro(stack, home_img, home, options="ro,noload")
    log.info("%s mounted on %s (%s)", iso, mountpoint,
             f"changes are written to {overlay}" if writes_overlay
             else "changes are only temporary" if scratch_mib is not None else "read-only")


def _check_overlay(overlay: Path) -> None:
    if not (overlay.is_dir() or overlay.is_file()):
        raise CreatorError(f"Invalid overlay: '{overlay}' is not a file or directory.")


def _overlay_layers(stack: contextlib.ExitStack, overlay: Path, work: Path, writable: bool) -> tuple[Path, Path]:
    """The upper and work folders of the user's *overlay*, as dracut and upstream lay them out: a directory is
    the upper layer itself (its work folder ``../ovlwork``, or a temporary one beside it); an ext image holds
    ``overlayfs/`` and ``ovlwork/`` (made if missing).  A device-mapper snapshot overlay is refused."""
    if overlay.is_dir():
        workdir = overlay.parent / "ovlwork"
        if writable and not workdir.is_dir():
            workdir = Path(tempfile.mkdtemp(prefix="liveimage-mount-work-", dir=overlay.parent))
            stack.callback(fs.remove_tree, workdir)
        return overlay, workdir
    with open(overlay, "rb") as f:
        f.seek(1080)
        if f.read(2) != b"\x53\xef":
            raise CreatorError(f"The overlay '{overlay}' is not an ext filesystem image or a directory (a "
                               "device-mapper snapshot overlay needs dmsetup and cannot be written here).")
    top = work / "overlay"
    top.mkdir()
    dev = fs.attach_loop(stack, overlay, readonly=not writable)
    fs.mount(stack, dev, top, options=None if writable else "ro,noload")
    if writable:
        for name in ("overlayfs", "ovlwork"):
            (top / name).mkdir(exist_ok=True)
    elif not (top / "overlayfs").is_dir():
        raise CreatorError(f"The overlay '{overlay}' holds no overlayfs/ folder.")
    return top / "overlayfs", top / "ovlwork"


def _scratch_layer(stack: contextlib.ExitStack, work: Path, size_mib: int) -> tuple[Path, Path]:
    """A temporary writable layer: a sparse ext4 image of *size_mib* MiB in the work folder, as upstream's
    temporary overlay file of ``--ovlsize`` MiB.  Writing more than that fails with 'No space left'."""
    image = work / "scratch.img"
    fs.make_sparse(image, size_mib << 20)
    run(["mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-E", "lazy_itable_init=1", "-L", "scratch", str(image)],
        what="Making the temporary overlay")
    top = work / "scratch"
    top.mkdir()
    fs.mount(stack, fs.attach_loop(stack, image), top)
    (top / "upper").mkdir()
    (top / "work").mkdir()
    return top / "upper", top / "work"


def _mount_overlayfs(stack: contextlib.ExitStack, lowers: list[Path], upper: Path, workdir: Path,
                     mountpoint: Path) -> None:
    fs.mount(stack, "overlay", mountpoint, fstype="overlay",
             options=f"lowerdir={':'.join(map(str, lowers))},upperdir={upper},workdir={workdir}")


def _mount_root(stack: contextlib.ExitStack, live: LiveIso, work: Path, target: Path) -> None:
    """The live root read-only on *target*: the ext image inside the squashfs, the flat squashfs itself, or the
    ext image lying on the ISO.

    The ISO's root image is mounted where it lies in the ISO (a read-only loop device over its extent), as
    upstream mounts it from the mounted ISO, but without needing an iso9660 driver; it is copied into *work*
    only when it is stored in several extents (over 4 GiB)."""
    extent = liveiso.file_extent(live.path, live.root_image)
    if extent is not None:
        offset, size = extent
        fstype = erofs.fstype_of(live.path, offset)
        dev = fs.attach_loop(stack, live.path, readonly=True, offset=offset, sizelimit=size)
    else:
        image = live.extract(live.root_image, work / Path(live.root_image).name)
        fstype = erofs.fstype_of(image)
        dev = fs.attach_loop(stack, image, readonly=True)
    if live.layout is Layout.ROOTFS_ON_ISO:
        fs.mount(stack, dev, target, fstype=None, options="ro")
        return
    if live.layout is Layout.FLAT_SQUASHFS:
        fs.mount(stack, dev, target, fstype=fstype, options="ro")
        return
    squash = work / "squashfs"
    squash.mkdir()
    fs.mount(stack, dev, squash, fstype=fstype, options="ro")
    inner = next((squash / name for name in _INNER_IMAGES if _stick_file(squash / name)), None)
    if inner is None:
        raise CreatorError(f"'{live.path}': LiveOS/squashfs.img holds no LiveOS/rootfs.img.")
    _mount_ro(stack, inner, target)


def _mount_ro(stack: contextlib.ExitStack, image: Path, target: Path, fstype: str | None = None,
              options: str = "ro") -> None:
    dev = fs.attach_loop(stack, image, readonly=True)
    fs.mount(stack, dev, target, fstype=fstype, options=options)


def _is_iso(path: Path) -> bool:
    """An ISO 9660 image file (a hybrid ISO too), as opposed to a block device or a disk image."""
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        f.seek(0x8001)
        return f.read(5) == b"CD001"


def _liveos_folder(folder: Path) -> Path:
    """The ``LiveOS`` folder of a live medium already mounted (or copied) at *folder*, or *folder* itself."""
    liveos = folder / "LiveOS"
    if not liveos.is_symlink() and _stick_file(liveos / "squashfs.img"):
        return liveos
    if _stick_file(folder / "squashfs.img"):
        return folder
    raise CreatorError(f"'{folder}' holds no LiveOS/squashfs.img: give the folder a live medium is mounted on.")


def _mount_medium(stack: contextlib.ExitStack, source: Path, work: Path) -> Path:
    """Mount, read-only, the filesystem of *source* that holds ``LiveOS/squashfs.img``; its ``LiveOS``."""
    if not source.exists():
        raise CreatorError(f"'{source}' is not a file or a device (it does not exist): give a live ISO, a live "
                           "USB stick or a disk image written by livecd-iso-to-disk.")
    is_block = stat.S_ISBLK(source.stat().st_mode)
    device = str(source) if is_block else fs.attach_loop(stack, source, readonly=True, partscan=True)
    candidates = [*fs.partition_devices(device).values()] or [device]
    if is_block and Path(f"/sys/class/block/{source.resolve().name}/partition").exists():
        candidates = [str(source)]  # a partition named directly
    medium = work / "medium"
    medium.mkdir()
    # FAT last: a stick's EFI partition is FAT, and some kernels (this CI's) cannot mount it at all.
    found = stickmount.mount_first(stack, candidates, medium, _MEDIUM_OPTIONS, _holds_live_system, last=("vfat",))
    if found is not None:
        log.info("The live system is on %s (%s)", *found)
        return medium / "LiveOS"
    raise CreatorError(f"'{source}' is not a live ISO, and none of its filesystems ({', '.join(candidates)}) "
                       "holds LiveOS/squashfs.img.  Give a live ISO or a stick written by livecd-iso-to-disk "
                       "(ext4, XFS or Btrfs; a FAT stick needs a kernel with the vfat driver).")


def _holds_live_system(medium: Path) -> bool:
    return not (medium / "LiveOS").is_symlink() and bool(_stick_file(medium / "LiveOS/squashfs.img"))


# How a stick's filesystem is mounted: read-only without replaying a journal, so the stick is never written.
_MEDIUM_OPTIONS: dict[str, str | None] = {"ext2": "ro", "ext3": "ro,noload", "ext4": "ro,noload",
                                          "xfs": "ro,norecovery", "btrfs": "ro", "vfat": "ro"}


def _mount_medium_root(stack: contextlib.ExitStack, liveos: Path, work: Path, target: Path,
                       own_overlay: bool = True) -> None:
    """The root of the live system on a stick: squashfs (and the ext image in it), with the stick's persistent
    overlay applied (as it last ran) when *own_overlay*; upstream uses it only when no other overlay is named."""
    overlays = sorted(p for p in liveos.glob("overlay-*") if own_overlay and _stick_file(p) is not None)
    cow = overlays[0] if overlays else None
    if cow is not None and len(overlays) > 1:
        log.warning("%s holds several overlays; using %s", liveos, cow.name)
    squash = work / "squashfs"
    squash.mkdir()
    _mount_ro(stack, liveos / "squashfs.img", squash, erofs.fstype_of(liveos / "squashfs.img"))
    inner = next((squash / name for name in _INNER_IMAGES if _stick_file(squash / name)), None)
    if cow is not None and _is_overlayfs_overlay(cow):
        lower = squash
        if inner is not None:
            lower = work / "root"
            lower.mkdir()
            _mount_ro(stack, inner, lower, options="ro,noload")
        _mount_persistent_overlayfs(stack, cow, work, lower, target)
        return
    if inner is None:
        fs.mount(stack, str(squash), target, options="bind,ro")
        return
    snapshot = dmsnapshot.read_cow(cow) if cow is not None else None
    if cow is None or snapshot is None:
        _mount_ro(stack, inner, target, options="ro,noload")
        return
    copy = work / "rootfs.img"
    run(["cp", "--sparse=always", "--reflink=auto", str(inner), str(copy)], what="Copying the root image")
    chunks = dmsnapshot.apply_cow(cow, snapshot, copy)
    log.info("Applied %d changed chunks from the persistent overlay %s", chunks, cow.name)
    dev = fs.attach_loop(stack, copy)  # writable: the private copy's journal is replayed on mount
    fs.mount(stack, dev, target, options="ro")


def _stick_file(path: Path) -> bool | None:
    """Whether *path* on the stick is a regular file (None: nothing there, False: something else).  A symbolic
    link is refused: followed on the host, it would show a host file (a device, say) as the stick's."""
    if path.is_symlink():
        raise CreatorError(f"{path.name} on the live medium ({path}) is a symbolic link (to {os.readlink(path)}); "
                           "it is not followed.  Write the stick again with livecd-iso-to-disk.")
    if not path.exists():
        return None
    return path.is_file()


def _is_overlayfs_overlay(overlay: Path) -> bool:
    """dracut's overlayfs overlay: a directory, or an ext image (holding ``overlayfs/`` and ``ovlwork/``), as
    opposed to a dm-snapshot COW file."""
    if overlay.is_dir():
        return True
    with open(overlay, "rb") as f:
        f.seek(1080)
        return f.read(2) == b"\x53\xef"


def _mount_persistent_overlayfs(stack: contextlib.ExitStack, overlay: Path, work: Path, lower: Path,
                                target: Path) -> None:
    """A read-only overlayfs of the stick's upper layer (what the live system wrote) over *lower*."""
    top = overlay
    if overlay.is_file():
        top = work / "persistent"
        top.mkdir()
        _mount_ro(stack, overlay, top, options="ro,noload")
        top = top / "overlayfs"
    if not top.is_dir():
        raise CreatorError(f"The persistent overlay '{overlay}' holds no overlayfs/ folder.")
    fs.mount(stack, "overlay", target, fstype="overlay", options=f"ro,lowerdir={top}:{lower}")


def default_command() -> list[str]:
    """The user's shell ($SHELL), else /bin/sh, as upstream opens one."""
    shell = os.environ.get("SHELL") or "/bin/sh"
    return [shell if shutil.which(shell) else "/bin/sh"]


def run_in(mountpoint: Path, command: Sequence[str]) -> int:
    """Run *command* on the user's terminal with *mountpoint* as its working directory; its exit status
    (128+N when signal N killed it).

    The command is the user's, so it keeps their environment and terminal (imgcreate.host.run captures output,
    which a shell cannot live with).  Ctrl-C is the command's to handle (an interactive shell ignores it), so
    we ignore SIGINT while it runs; if we are stopped otherwise (SIGTERM, SIGHUP), the command and everything it
    started are stopped (:func:`processes.stop`) before the caller unmounts.  It stays in our process group,
    the terminal's foreground one, so that an interactive shell keeps its job control.
    """
    log.debug("running in %s: %s", mountpoint, " ".join(command))
    try:
        proc = subprocess.Popen(list(command), cwd=mountpoint)
    except OSError as exc:
        raise CreatorError(f"Cannot run '{command[0]}': {exc.strerror or exc}.") from exc
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = wait_for(proc)
    except BaseException:
        stop(proc, group=False)
        raise
    finally:
        signal.signal(signal.SIGINT, old)
    return 128 - code if code < 0 else code
