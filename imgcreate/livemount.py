"""Mounting the root filesystem of a live ISO on the host (``liveimage-mount``), read-only or through a
persistent overlay.

The host may have no iso9660 driver, so the ISO itself is never mounted: the file that carries the root
(``LiveOS/squashfs.img``, or ``LiveOS/rootfs.img`` on an uncompressed ISO) is extracted with xorriso into a
temporary directory and loop-mounted from there.  Every loop device and mount is registered on one ExitStack
the moment it exists, so leaving the ``with`` block for any reason (the command failed, Ctrl-C, SIGTERM, an
error half-way through) unmounts and detaches everything in reverse order and removes the temporary files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from imgcreate import fs
from imgcreate.errors import CreatorError
from imgcreate.liveiso import Layout, LiveIso, read_live_iso

log = logging.getLogger("imgcreate")

_INNER_IMAGES = ("LiveOS/rootfs.img", "LiveOS/ext3fs.img")


def check_mountpoint(mountpoint: Path) -> None:
    """A mount point must be an existing directory that nothing is mounted on yet: mounting over a mount would
    hide it, and unmounting afterwards could take the wrong one."""
    if not mountpoint.is_dir():
        raise CreatorError(f"The mount point '{mountpoint}' is not a directory: create it first.")
    if os.path.ismount(mountpoint) or fs.mounts_under(mountpoint):
        raise CreatorError(f"The mount point '{mountpoint}' is busy: something is already mounted there. "
                           "Unmount it or choose an empty directory.")


@contextlib.contextmanager
def mounted_live_root(iso: Path, mountpoint: Path, overlay: Path | None = None,
                      tmpdir: Path | None = None) -> Iterator[Path]:
    """Mount the live root of *iso* on *mountpoint* for the duration of the block.

    Without *overlay* the root is read-only.  With *overlay* (a directory, created if missing, or an ext
    filesystem image file) it is writable through an overlayfs whose upper layer lives in the overlay, so what
    is written survives the unmount and a later mount with the same overlay sees it.  *tmpdir* holds the
    extracted root image (default /var/tmp: it can be as large as the ISO).
    """
    check_mountpoint(mountpoint)
    live = read_live_iso(iso)
    if overlay is not None:
        _check_overlay(overlay)
    with contextlib.ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="liveimage-mount-", dir=tmpdir or "/var/tmp"))
        stack.callback(fs.remove_tree, work)  # registered first: removed last, once nothing is mounted below
        lower = work / "lower" if overlay is not None else mountpoint
        lower.mkdir(exist_ok=True)
        _mount_root(stack, live, work, lower)
        if overlay is not None:
            _mount_overlay(stack, overlay, work, lower, mountpoint)
        log.info("%s mounted on %s (%s)", iso, mountpoint, "read-write" if overlay else "read-only")
        yield mountpoint


def _check_overlay(overlay: Path) -> None:
    if overlay.exists() and not (overlay.is_dir() or overlay.is_file()):
        raise CreatorError(f"--overlay '{overlay}' is neither a directory nor a filesystem image file.")
    if not overlay.exists() and not overlay.parent.is_dir():
        raise CreatorError(f"--overlay '{overlay}': its folder {overlay.parent} does not exist.")


def _mount_root(stack: contextlib.ExitStack, live: LiveIso, work: Path, target: Path) -> None:
    """The live root read-only on *target*: the ext image inside the squashfs, the flat squashfs itself, or the
    ext image lying on the ISO."""
    image = live.extract(live.root_image, work / Path(live.root_image).name)
    if live.layout is Layout.ROOTFS_ON_ISO:
        _mount_ro(stack, image, target)
        return
    if live.layout is Layout.FLAT_SQUASHFS:
        _mount_ro(stack, image, target, "squashfs")
        return
    squash = work / "squashfs"
    squash.mkdir()
    _mount_ro(stack, image, squash, "squashfs")
    inner = next((squash / name for name in _INNER_IMAGES if (squash / name).is_file()), None)
    if inner is None:
        raise CreatorError(f"'{live.path}': LiveOS/squashfs.img holds no LiveOS/rootfs.img.")
    _mount_ro(stack, inner, target)


def _mount_ro(stack: contextlib.ExitStack, image: Path, target: Path, fstype: str | None = None) -> None:
    dev = fs.attach_loop(stack, image, readonly=True)
    fs.mount(stack, dev, target, fstype=fstype, options="ro")


def _mount_overlay(stack: contextlib.ExitStack, overlay: Path, work: Path, lower: Path, mountpoint: Path) -> None:
    """An overlayfs on *mountpoint*: *lower* below, the overlay's ``upper`` (what was written) above.  An ext
    image file is loop-mounted read-write first; a directory is used as it is."""
    top = overlay
    if overlay.is_file():
        top = work / "overlay"
        top.mkdir()
        dev = fs.attach_loop(stack, overlay)
        fs.mount(stack, dev, top)
    else:
        overlay.mkdir(exist_ok=True)
    upper, workdir = top / "upper", top / "work"
    upper.mkdir(exist_ok=True)
    workdir.mkdir(exist_ok=True)
    fs.mount(stack, "overlay", mountpoint, fstype="overlay",
             options=f"lowerdir={lower},upperdir={upper},workdir={workdir}")


def default_command() -> list[str]:
    """The user's shell ($SHELL), else /bin/sh, as upstream opens one."""
    shell = os.environ.get("SHELL") or "/bin/sh"
    return [shell if shutil.which(shell) else "/bin/sh"]


def run_in(mountpoint: Path, command: Sequence[str]) -> int:
    """Run *command* on the user's terminal with *mountpoint* as its working directory; its exit status
    (128+N when signal N killed it).

    The command is the user's, so it keeps their environment and terminal (imgcreate.run captures output,
    which a shell cannot live with).  Ctrl-C is the command's to handle (an interactive shell ignores it), so
    we ignore SIGINT while it runs; if we are stopped otherwise (SIGTERM), the command is killed before the
    caller unmounts.
    """
    log.debug("running in %s: %s", mountpoint, " ".join(command))
    try:
        proc = subprocess.Popen(list(command), cwd=mountpoint)
    except OSError as exc:
        raise CreatorError(f"Cannot run '{command[0]}': {exc.strerror or exc}.") from exc
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        signal.signal(signal.SIGINT, old)
    return 128 - code if code < 0 else code
