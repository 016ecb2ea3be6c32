"""Working inside the install root without ever touching the host by accident.

Why: packages may ship configuration files as symlinks, absolute (``/etc/passwd``) or relative
(``../../../etc/shadow``).  Followed naively from the host, such a link points at the *host's* file.  Every path
we write into the root is resolved here the way the kernel would resolve it inside a chroot (absolute links
restart at the install root, ``..`` stops at it), and a symlink in the final component is replaced rather than
followed.  The file operations go through :mod:`imgcreate.storage.inroot` (openat2 with ``RESOLVE_IN_ROOT``), which
resolves the path again at each call: a script may have replaced any directory by a link since the last one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from imgcreate.host import fs
from imgcreate.storage import inroot
from imgcreate.storage.inroot import resolve_in_root as resolve_in_root  # its home was here

log = logging.getLogger("imgcreate")

def host_path(root: Path, path: str) -> Path:
    """The host path for writing *path* in *root*: parents resolved in the root, the last component not followed.

    Only for messages and for tools that want a path, right when it is computed: a path kept across a script
    can lead out of the root by then.  To touch the file, use this module's functions or
    :mod:`imgcreate.storage.inroot`.
    """
    return resolve_in_root(root, path, follow_last=False)


def write_file(root: Path, path: str, content: str | bytes, mode: int = 0o644) -> Path:
    """Write *content* to *path* inside *root*.  A symlink at *path* is replaced by a regular file, not followed.

    Returns the file's host path (for messages; see :func:`host_path`)."""
    inroot.write_bytes(root, path, content.encode() if isinstance(content, str) else content, mode)
    return host_path(root, path)


def symlink(root: Path, path: str, target: str) -> Path:
    """Make *path* inside *root* a symlink to *target* (replacing whatever was there, without following it)."""
    with inroot.parent(root, path, create=True) as (dirfd, name):
        try:
            old = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        except FileNotFoundError:
            old = None
        if old is not None:
            if stat.S_ISDIR(old.st_mode):
                raise IsADirectoryError(f"{path} in the image is a directory")
            os.unlink(name, dir_fd=dirfd)
        os.symlink(target, name, dir_fd=dirfd)
    return host_path(root, path)


def read_file(root: Path, path: str) -> str | None:
    """The text of *path* inside *root* (links followed inside it); None when it is not a readable file."""
    try:
        return inroot.read_bytes(root, path).decode()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def exists(root: Path, path: str) -> bool:
    return inroot.stat_in_root(root, path) is not None


_DEV_NODES = [
    ("null", stat.S_IFCHR, 1, 3, 0o666),
    ("zero", stat.S_IFCHR, 1, 5, 0o666),
    ("full", stat.S_IFCHR, 1, 7, 0o666),
    ("random", stat.S_IFCHR, 1, 8, 0o666),
    ("urandom", stat.S_IFCHR, 1, 9, 0o666),
    ("tty", stat.S_IFCHR, 5, 0, 0o666),
    ("console", stat.S_IFCHR, 5, 1, 0o600),
    ("kmsg", stat.S_IFCHR, 1, 11, 0o644),
]


def interactive_shell(root: Path, binds: list[tuple[str, Path, str | None]], prompt: str) -> int:
    """An interactive shell chrooted into *root* (bash, else sh); its exit status.  Each of *binds* (name, host
    path, mount options) is bound at ``/run/imgcreate/NAME``, on a tmpfs over the image's /run that is unmounted
    when the shell exits, so nothing of it stays in the image."""
    from imgcreate.host.run import run_interactive

    with contextlib.ExitStack() as stack:
        run_dir = host_path(root, "/run")
        if run_dir.is_dir() and not run_dir.is_symlink():
            fs.mount(stack, "imgcreate-run", run_dir, fstype="tmpfs", options="mode=0755,nosuid,nodev")
            for name, source, options in binds:
                target = run_dir / "imgcreate" / name
                target.mkdir(parents=True)
                fs.mount(stack, str(source), target, bind=True, options=options)
        shell = "/bin/bash" if exists(root, "/bin/bash") else "/bin/sh"
        return run_interactive([shell, "-i"], root=root, prompt=prompt)


# The folders of the root the build mounts its API filesystems on (mount_api_filesystems): never part of a tree
# kept or copied (--incremental).
API_MOUNTS = frozenset({"proc", "sys", "dev"})


def mount_api_filesystems(stack: contextlib.ExitStack, root: Path) -> None:
    """Mount /proc, /sys, a private /dev (with the usual nodes), /dev/pts and /dev/shm inside the root.

    /dev is a tmpfs of its own, so the nodes never end up in the image.  Each mount is registered on *stack*.
    """
    for d in ("proc", "sys", "dev"):
        p = host_path(root, d)
        if p.is_symlink():
            raise OSError(f"/{d} in the image is a symlink; refusing to mount over it")
        p.mkdir(mode=0o755, parents=True, exist_ok=True)
    fs.mount(stack, "proc", root / "proc", fstype="proc", options="nosuid,nodev,noexec")
    fs.mount(stack, "sysfs", root / "sys", fstype="sysfs", options="ro,nosuid,nodev,noexec")
    fs.mount(stack, "imgcreate-dev", root / "dev", fstype="tmpfs", options="mode=0755,nosuid,size=16m")
    dev = root / "dev"
    for name, kind, major, minor, mode in _DEV_NODES:
        os.mknod(dev / name, kind | mode, os.makedev(major, minor))
        os.chmod(dev / name, mode)
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ):
        os.symlink(target, dev / name)
    (dev / "pts").mkdir()
    (dev / "shm").mkdir(mode=0o1777)
    os.chmod(dev / "shm", 0o1777)
    fs.mount(stack, "devpts", dev / "pts", fstype="devpts", options="newinstance,ptmxmode=0666,mode=620,gid=5")
    fs.mount(stack, "shm", dev / "shm", fstype="tmpfs", options="mode=1777,nosuid,nodev")


@contextlib.contextmanager
def host_resolv_conf(root: Path) -> Iterator[None]:
    """Give %post the host's DNS configuration, and give the image its own /etc/resolv.conf back afterwards.

    Whatever the image has at /etc/resolv.conf (a file, or a symlink such as systemd-resolved's) is moved
    aside (rename never follows a link) and restored exactly, even if a script fails.  Everything happens in
    the directory /etc was before %post, held open: if %post replaces /etc (by a symlink to a host folder, say),
    the cleanup still works in the image's own directory, never at a path computed before the script.
    """
    try:
        etc = inroot.open_in_root(root, "/etc", os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        yield
        return
    try:
        saved = ".resolv.conf.imgcreate-saved"
        try:
            os.rename("resolv.conf", saved, src_dir_fd=etc, dst_dir_fd=etc)
            had_own = True
        except FileNotFoundError:
            had_own = False
        try:
            try:
                content = Path("/etc/resolv.conf").read_bytes()
            except OSError:
                content = b""
            _write_at(etc, "resolv.conf", content)
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                if not stat.S_ISDIR(os.stat("resolv.conf", dir_fd=etc, follow_symlinks=False).st_mode):
                    os.unlink("resolv.conf", dir_fd=etc)
            if had_own:
                os.rename(saved, "resolv.conf", src_dir_fd=etc, dst_dir_fd=etc)
    finally:
        os.close(etc)


def _write_at(dirfd: int, name: str, data: bytes, mode: int = 0o644) -> None:
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dirfd)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
