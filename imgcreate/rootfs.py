"""Working inside the install root without ever touching the host by accident.

Why: packages may ship configuration files as symlinks, absolute (``/etc/passwd``) or relative
(``../../../etc/shadow``).  Followed naively from the host, such a link points at the *host's* file.  Every path
we write into the root is resolved here the way the kernel would resolve it inside a chroot (absolute links
restart at the install root, ``..`` stops at it), and a symlink in the final component is replaced rather than
followed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from imgcreate import fs

log = logging.getLogger("imgcreate")

_MAX_LINKS = 40


def resolve_in_root(root: Path, path: str | os.PathLike[str], follow_last: bool = True) -> Path:
    """Return the host path of *path* as seen inside *root* (chroot semantics).  Never leaves *root*."""
    root = Path(root)
    parts = [p for p in str(path).split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        is_last = not parts
        if candidate.is_symlink() and (follow_last or not is_last):
            links += 1
            if links > _MAX_LINKS:
                raise OSError(f"too many levels of symbolic links resolving {path} in {root}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return root.joinpath(*resolved)


def host_path(root: Path, path: str) -> Path:
    """The host path for writing *path* in *root*: parents resolved in the root, the last component not followed."""
    return resolve_in_root(root, path, follow_last=False)


def write_file(root: Path, path: str, content: str | bytes, mode: int = 0o644) -> Path:
    """Write *content* to *path* inside *root*.  A symlink at *path* is replaced by a regular file, not followed."""
    target = host_path(root, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        log.warning("%s in the image is a symlink (to %s); replacing it with a file", path, os.readlink(target))
        target.unlink()
    data = content.encode() if isinstance(content, str) else content
    tmp = target.parent / f".{target.name}.imgcreate-tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.rename(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def symlink(root: Path, path: str, target: str) -> Path:
    """Make *path* inside *root* a symlink to *target* (replacing whatever was there, without following it)."""
    link = host_path(root, path)
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        if link.is_dir() and not link.is_symlink():
            raise IsADirectoryError(f"{path} in the image is a directory")
        link.unlink()
    os.symlink(target, link)
    return link


def read_file(root: Path, path: str) -> str | None:
    p = resolve_in_root(root, path)
    try:
        return p.read_text()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def exists(root: Path, path: str) -> bool:
    return resolve_in_root(root, path).exists()


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
    aside (rename never follows a link) and restored exactly, even if a script fails.
    """
    etc = host_path(root, "/etc")
    if not etc.is_dir():
        yield
        return
    target = etc / "resolv.conf"
    saved = etc / ".resolv.conf.imgcreate-saved"
    had_own = target.is_symlink() or target.exists()
    if had_own:
        os.rename(target, saved)
    try:
        try:
            content = Path("/etc/resolv.conf").read_bytes()
        except OSError:
            content = b""
        write_file(root, "/etc/resolv.conf", content)
        yield
    finally:
        if target.is_symlink() or target.is_file():
            os.unlink(target)
        if had_own:
            os.rename(saved, target)
