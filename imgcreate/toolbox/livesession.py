"""What ``liveimage-mount`` does with a mounted live root (:mod:`imgcreate.toolbox.livemount`), with
upstream's options: run a command chrooted in it (or a shell in the mount point, or with ``--chroot`` in a
chroot), mount the API filesystems for it (``--mount-hacks``), and keep it mounted after the tool exits
(``--persist``) until ``liveimage-mount -u MOUNTPOINT``.

Keeping mounts past the process is the one place the tools do not release everything on the way out.  It stays
safe because every resource is registered on a :class:`livemount.RecordingStack`, which remembers each release (loop
detach, unmount by the kernel's mount id, stopping processes in the root, removing a work folder); ``--persist``
writes that list to ``/run/liveimage-mount/`` and ``-u`` replays it in reverse, so nothing is left mounted or
attached and no process keeps running in the root afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgcreate.errors import CreatorError
from imgcreate.host import fs
from imgcreate.storage import inroot, rootfs
from imgcreate.toolbox import livemount

log = logging.getLogger("imgcreate")

STATE_DIR = Path("/run/liveimage-mount")
DEFAULT_OVLSIZE_MIB = 32768  # upstream's default temporary overlay size

# The releases a persisted mount can be undone with, by name (all take paths, devices and mount ids).
_RELEASES: dict[str, Callable[..., None]] = {
    "detach_loop": fs.detach_loop, "umount": fs.umount, "remove_tree": fs.remove_tree,
    "kill_processes_in": fs.kill_processes_in,
}


@dataclass(frozen=True)
class Session:
    """Upstream's options (see ``liveimage-mount --help``)."""

    read_only: bool = False
    chroot: bool = False
    mount_hacks: bool = False
    persist: bool = False
    overlay: Path | None = None
    ovlsize_mib: int = DEFAULT_OVLSIZE_MIB
    dnfcache: Path | None = None
    tmpdir: Path = Path("/var/tmp")


def liveimage_mount(source: Path, mountpoint: Path, command: Sequence[str], session: Session) -> int:
    """Mount *source*'s live root on *mountpoint*, run *command* (chrooted), and unmount; the command's status.
    With ``persist`` the mounts stay and a command runs on the host, not waited for (upstream's meaning)."""
    with livemount.RecordingStack() as stack:
        livemount.mount_live_root(stack, source, mountpoint, session.overlay, session.tmpdir,
                                  read_only=session.read_only, scratch_mib=session.ovlsize_mib)
        if session.mount_hacks:
            mount_hacks(stack, mountpoint, session.dnfcache)
        stack.callback(fs.kill_processes_in, mountpoint)  # before any unmount: nothing keeps running in it
        if session.persist and command:
            proc = subprocess.Popen(list(command), close_fds=True)
            print(f"Process id: {proc.pid}")
            code = 0
        else:
            code = livemount.run_in(mountpoint, session_command(mountpoint, command, session.chroot))
        if session.persist:
            _save(stack, source, mountpoint)
            stack.pop_all()
            log.warning("'%s' LiveOS filesystems are still mounted at '%s'; 'liveimage-mount -u %s' unmounts "
                        "them.", source, mountpoint, mountpoint)
        return code


def session_command(mountpoint: Path, command: Sequence[str], chroot: bool) -> list[str]:
    """Upstream's: COMMAND runs in a chroot of the root; without one, a shell: in a chroot with --chroot
    ($SHELL if the root has it, else /bin/sh), otherwise $SHELL on the host in the mount point."""
    if command:
        return ["chroot", str(mountpoint), *command]
    if chroot:
        shell = os.environ.get("SHELL") or "/bin/sh"
        return ["chroot", str(mountpoint), shell if inroot.is_file(mountpoint, shell) else "/bin/sh", "-i"]
    return livemount.default_command()


def mount_hacks(stack: contextlib.ExitStack, root: Path, dnfcache: Path | None) -> None:
    """Upstream's --mount-hacks: /proc, /sys, /dev (with /dev/pts and /dev/shm), /run, the host's
    /etc/resolv.conf and /var/cache/dnf (*dnfcache* bound there, else a tmpfs).  Safer than upstream's binds of
    the host's /dev, /sys and /run: /dev is a private tmpfs with the usual nodes and /dev/pts a new instance (as
    in a build), /sys is read-only and /run an empty tmpfs, so nothing done in the chroot reaches the host's."""
    rootfs.mount_api_filesystems(stack, root)
    run_dir = root / inroot.real_path(root, "/run", create=True).lstrip("/")
    fs.mount(stack, "liveimage-run", run_dir, fstype="tmpfs", options="mode=0755,nosuid,nodev")
    if Path("/etc/resolv.conf").is_file():
        resolv = _file_in_root(root, "/etc/resolv.conf")
        fs.mount(stack, "/etc/resolv.conf", resolv, bind=True)
    cache = inroot.real_path(root, "/var/cache/dnf", create=dnfcache is not None) \
        if dnfcache is not None or inroot.is_dir(root, "/var/cache/dnf") else None
    if cache is not None and dnfcache is not None:
        fs.mount(stack, str(dnfcache), root / cache.lstrip("/"), bind=True)
    elif cache is not None:
        fs.mount(stack, "varcachednf", root / cache.lstrip("/"), fstype="tmpfs", options="mode=0755")


def _file_in_root(root: Path, path: str) -> Path:
    """The host path of the file *path* in *root*, links resolved inside the root; an empty one is made when
    missing (a dangling link gets its target), as upstream does for the bind."""
    parent, name = path.rsplit("/", 1)
    inroot.makedirs(root, parent)
    try:
        rel = inroot.real_path(root, path)
    except FileNotFoundError:
        rel = inroot.real_path(root, parent) .rstrip("/") + "/" + name
        inroot.write_bytes(root, rel, b"")
    target = root / rel.lstrip("/")
    if not inroot.is_file(root, rel):
        raise CreatorError(f"{path} in the image at {root} is not a file; cannot give it the host's.")
    return target


# -- --persist and -u ---------------------------------------------------------------------------------------------

def _state_file(mountpoint: Path) -> Path:
    return STATE_DIR / (hashlib.sha256(os.fsencode(os.path.realpath(mountpoint))).hexdigest()[:32] + ".json")


def _save(stack: livemount.RecordingStack, source: Path, mountpoint: Path) -> None:
    names = {fn: name for name, fn in _RELEASES.items()}
    records = []
    for fn, args in stack.records:
        if fn not in names:
            raise CreatorError(f"Cannot keep '{mountpoint}' mounted: {fn.__qualname__} cannot be undone later.")
        records.append([names[fn], *(list(a) if isinstance(a, tuple) else str(a) for a in args)])
    STATE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    state = {"source": str(source), "mountpoint": os.path.realpath(mountpoint), "releases": records}
    tmp = _state_file(mountpoint).with_suffix(".partial")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.rename(_state_file(mountpoint))


def unmount(mountpoint: Path) -> str:
    """Upstream's ``-u``: undo what ``--persist`` left mounted at *mountpoint* (processes in it stopped first);
    the mount point itself stays.  The source that was mounted."""
    if not os.path.ismount(mountpoint):
        raise CreatorError(f"'{mountpoint}' is not a mount point.")
    state_file = _state_file(mountpoint)
    if not state_file.is_file():
        raise CreatorError(f"'{mountpoint}' is not a LiveOS mount point left by 'liveimage-mount --persist'.")
    state = json.loads(state_file.read_text())
    with contextlib.ExitStack() as stack:
        stack.callback(state_file.unlink)
        for name, *args in state["releases"]:
            stack.callback(_RELEASES[name], *(_arg(name, a) for a in args))
    return str(state["source"])


def _arg(release: str, value: Any) -> Any:
    """A recorded argument back in its type: a mount id (a list in JSON), a device name, or a path."""
    return tuple(value) if isinstance(value, list) else value if release == "detach_loop" else Path(value)
