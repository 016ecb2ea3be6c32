"""Every path inside an image's root, opened inside that root at the moment it is used.

Why: what is in the root is not ours.  Packages ship symlinks, and a ``%post`` (or an ``editliveos -s`` script,
or the earlier build of a ``--base-on`` ISO) may replace any directory by a symlink to a host path:
``rm -rf /boot/efi; ln -s /home/me /boot/efi``.  A host path built as ``root / "boot/efi"`` then leads out of
the image, and whatever the build reads, writes or deletes there is the host's.  So nothing here takes a host
path built from the root: each call resolves its in-root path again, with ``openat2(2)`` and
``RESOLVE_IN_ROOT`` (the kernel resolves it as inside a chroot: absolute links start again at the root, ``..``
stops there, ``/proc``'s magic links are refused), and then works on file descriptors: a path computed before
``%post`` is never reused after it.  The last component is never followed by what writes or deletes.

On kernels without openat2 (before 5.6: ENOSYS, or EPERM from a seccomp filter) the path is resolved by
:func:`resolve_in_root`'s walk, which gives the same answers but is not atomic against a
process changing the tree at the same moment (none runs in the root while the build touches it).

Copying out of the root (:func:`copy_out`) follows links *inside* the root, as the booted system would see
them, so a link can never reach a host file; with ``links="refuse"`` any symlink is an error naming it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from imgcreate.errors import ImageError

log = logging.getLogger("imgcreate")

SYS_OPENAT2 = 437  # the same number on x86_64 and aarch64 (and every architecture using the generic table)
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
_IN_ROOT = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
# Nothing at a path, as far as reading or removing goes: missing, under a file, or behind a loop of links.
_ABSENT = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
# None until tried; False when the kernel (or a seccomp filter) refuses openat2: then the Python walk is used.
_openat2_works: bool | None = None


def _openat2(dirfd: int, path: str, flags: int, mode: int, resolve: int) -> int:
    if not flags & os.O_CREAT and flags & os.O_TMPFILE != os.O_TMPFILE:
        mode = 0  # openat2 refuses a mode without them (EINVAL)
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    raw = os.fsencode(path)
    for _ in range(16):  # EAGAIN: a rename elsewhere on the filesystem raced with "..": the kernel asks to retry
        fd = _libc.syscall(ctypes.c_long(SYS_OPENAT2), ctypes.c_int(dirfd), ctypes.c_char_p(raw),
                           ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        if err != errno.EAGAIN:
            raise OSError(err, os.strerror(err), path)
    raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN), path)


def have_openat2() -> bool:
    """Whether openat2 is usable here (tried once per process)."""
    global _openat2_works
    if _openat2_works is None:
        try:
            os.close(_openat2(-100, "/", os.O_PATH, 0, 0))  # AT_FDCWD
            _openat2_works = True
        except OSError as exc:
            if exc.errno not in (errno.ENOSYS, errno.EPERM):
                raise
            log.debug("openat2 is not available (%s): resolving paths in the root with the Python walk", exc)
            _openat2_works = False
    return _openat2_works


def use_openat2(enabled: bool | None) -> None:
    """Force openat2 on or off (False: the fallback walk, as on old kernels); None: detect again.  For tests."""
    global _openat2_works
    _openat2_works = enabled


def _clean(path: str | os.PathLike[str]) -> str:
    return "/".join(p for p in str(path).split("/") if p not in ("", "."))


def open_in_root(root: Path, path: str | os.PathLike[str], flags: int = os.O_RDONLY, mode: int = 0o644,
                 follow_last: bool = True) -> int:
    """A file descriptor for *path* resolved inside *root* (chroot semantics), never outside it.

    *follow_last* False: a symlink as last component is opened itself (``O_PATH``) or refused (ELOOP)."""
    rel = _clean(path)
    if not follow_last:
        flags |= os.O_NOFOLLOW
    if have_openat2():
        rootfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return _openat2(rootfd, rel or ".", flags, mode, _IN_ROOT)
        finally:
            os.close(rootfd)

    return os.open(resolve_in_root(root, rel, follow_last=follow_last), flags | os.O_CLOEXEC, mode)


@contextlib.contextmanager
def opened(root: Path, path: str | os.PathLike[str], flags: int = os.O_RDONLY, mode: int = 0o644,
           follow_last: bool = True) -> Iterator[int]:
    fd = open_in_root(root, path, flags, mode, follow_last)
    try:
        yield fd
    finally:
        os.close(fd)


def fd_path(fd: int) -> str:
    """A path naming what *fd* is open on, for a tool that wants a path (the kernel follows it to that inode)."""
    return f"/proc/self/fd/{fd}"


def _split(path: str | os.PathLike[str]) -> tuple[str, str]:
    parts = _clean(path).split("/")
    if not parts[-1] or parts[-1] == "..":
        raise IsADirectoryError(errno.EISDIR, "not a file name", str(path))
    return "/".join(parts[:-1]), parts[-1]


@contextlib.contextmanager
def parent(root: Path, path: str | os.PathLike[str], create: bool = False) -> Iterator[tuple[int, str]]:
    """(fd of the directory holding *path*, resolved inside *root*; the last name, not resolved).  *create*:
    missing directories are made (inside the root)."""
    dirname, name = _split(path)
    if create:
        makedirs(root, dirname)
    with opened(root, dirname, os.O_RDONLY | os.O_DIRECTORY) as dirfd:
        yield dirfd, name


def makedirs(root: Path, path: str | os.PathLike[str], mode: int = 0o755, _links: int = 0) -> None:
    """Make the directory *path* and its missing parents inside *root*; links in it are followed inside the
    root, and a dangling one gets its target made (as ``mkdir -p`` in a chroot)."""
    parts = _clean(path).split("/") if _clean(path) else []
    for i in range(len(parts)):
        prefix, above = "/".join(parts[: i + 1]), "/".join(parts[:i])
        try:
            os.close(open_in_root(root, prefix, os.O_PATH | os.O_DIRECTORY))
            continue
        except FileNotFoundError:
            pass
        with opened(root, above, os.O_PATH | os.O_DIRECTORY) as dirfd:
            try:
                os.mkdir(parts[i], mode, dir_fd=dirfd)
                continue
            except FileExistsError:
                target = os.readlink(parts[i], dir_fd=dirfd)  # a dangling link (anything else opened above)
        if _links >= 40:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
        makedirs(root, target if target.startswith("/") else f"{above}/{target}", mode, _links + 1)


def lstat(root: Path, path: str | os.PathLike[str]) -> os.stat_result | None:
    """What is at *path* (the last component not followed); None when nothing is.  ``/`` is the root itself."""
    if not _clean(path):
        return os.lstat(root)
    try:
        with parent(root, path) as (dirfd, name):
            return os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in _ABSENT or isinstance(exc, IsADirectoryError):
            return None
        raise


def stat_in_root(root: Path, path: str | os.PathLike[str]) -> os.stat_result | None:
    """What *path* leads to inside *root* (links followed inside it); None when nothing is there."""
    try:
        with opened(root, path, os.O_PATH) as fd:
            return os.fstat(fd)
    except OSError as exc:
        if exc.errno in _ABSENT:
            return None
        raise


def is_file(root: Path, path: str | os.PathLike[str]) -> bool:
    st = stat_in_root(root, path)
    return st is not None and stat.S_ISREG(st.st_mode)


def is_dir(root: Path, path: str | os.PathLike[str]) -> bool:
    st = stat_in_root(root, path)
    return st is not None and stat.S_ISDIR(st.st_mode)


def listdir(root: Path, path: str | os.PathLike[str]) -> list[str]:
    """The names in the directory *path* (sorted); [] when it is not a directory."""
    try:
        with opened(root, path, os.O_RDONLY | os.O_DIRECTORY) as fd:
            return sorted(os.listdir(fd))
    except OSError as exc:
        if exc.errno in _ABSENT:
            return []
        raise


def read_bytes(root: Path, path: str | os.PathLike[str]) -> bytes:
    """The content of the file *path* (links followed inside the root)."""
    with opened(root, path) as fd:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, "not a regular file", str(path))
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)


def write_bytes(root: Path, path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Write *path* atomically (a new file renamed over the old one): a symlink there is replaced, not followed;
    missing directories are made inside the root."""
    with parent(root, path, create=True) as (dirfd, name):
        try:
            old = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        except FileNotFoundError:
            old = None
        if old is not None and stat.S_ISDIR(old.st_mode):
            raise IsADirectoryError(errno.EISDIR, "a directory in the image", str(path))
        if old is not None and stat.S_ISLNK(old.st_mode):
            log.warning("%s in the image is a symlink (to %s); replacing it with a file", path,
                        os.readlink(name, dir_fd=dirfd))
        tmp = f".{name}.imgcreate-tmp"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dirfd)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dirfd)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                os.fchmod(f.fileno(), mode)
            os.rename(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dirfd)
            raise


def unlink(root: Path, path: str | os.PathLike[str]) -> bool:
    """Remove the file or symlink *path* (a symlink itself, never what it points at); False if nothing was
    there.  A directory is not removed (IsADirectoryError): see :func:`remove_tree`."""
    try:
        with parent(root, path) as (dirfd, name):
            os.unlink(name, dir_fd=dirfd)
            return True
    except OSError as exc:
        if exc.errno in _ABSENT:
            return False
        raise


def remove_tree(root: Path, path: str | os.PathLike[str]) -> None:
    """Remove *path* whatever it is: a directory with everything below it (by file descriptors, never through a
    link, as :func:`shutil.rmtree` does it), or a file or symlink."""
    try:
        with parent(root, path) as (dirfd, name):
            _remove_at(dirfd, name)
    except OSError as exc:
        if exc.errno not in _ABSENT:
            raise


def remove_contents(root: Path, path: str | os.PathLike[str]) -> None:
    """Empty the directory *path* (links in it removed, never followed)."""
    with opened(root, path, os.O_RDONLY | os.O_DIRECTORY) as fd:
        for name in os.listdir(fd):
            _remove_at(fd, name)


def _remove_at(dirfd: int, name: str) -> None:
    st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dirfd)
        return
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
    try:
        if os.fstat(fd).st_ino != st.st_ino:
            raise OSError(errno.EAGAIN, "changed while being removed", name)
        for child in os.listdir(fd):
            _remove_at(fd, child)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dirfd)


def utime(root: Path, path: str | os.PathLike[str], times: tuple[float, float]) -> None:
    """Set *path*'s access and modification times (of a symlink itself, never of its target)."""
    with parent(root, path) as (dirfd, name):
        os.utime(name, times, dir_fd=dirfd, follow_symlinks=False)


def real_path(root: Path, path: str | os.PathLike[str], create: bool = False) -> str:
    """*path* inside *root* with every link resolved inside the root (``/var/lib/rpm`` ->
    ``/usr/lib/sysimage/rpm``), for a tool that takes a path below ``--root`` and would follow links on the host.
    *create*: a missing directory is made.  The host path is ``root / result``."""
    if create:
        makedirs(root, path)
    with opened(root, path, os.O_PATH) as fd:
        host = os.readlink(fd_path(fd))
    top = os.path.realpath(root)
    if host != top and not host.startswith(top.rstrip("/") + "/"):
        raise ImageError(f"{path} in the image at {root} resolves to {host}, which is not inside it.")
    return "/" + host[len(top):].strip("/")


def refuse_links_out(root: Path, paths: tuple[str, ...], why: str) -> None:
    """For a program that opens *paths* as host paths below *root* (and would follow links on the host): refuse,
    naming the path and where it leads, when one of them leads out of the root through a symbolic link."""
    top = os.path.realpath(root)
    for path in paths:
        host = os.path.realpath(root / _clean(path))
        if host != top and not host.startswith(top.rstrip("/") + "/"):
            raise ImageError(f"{path} in the image at {root} leads out of it, to {host}, through a symbolic link: "
                             f"{why}.  Nothing was written; replace the link by a folder in the image (a base "
                             "image's root, or the script that made it, put it there).")


def copy_out(root: Path, path: str | os.PathLike[str], dest: Path,
             links: Literal["resolve", "refuse"] = "resolve") -> None:
    """Copy the file or directory tree *path* of *root* to the host path *dest* (made; modes and modification
    times kept).  Symlinks are followed inside the root (``resolve``: the booted system's view, never a host
    file) or refused (``refuse``: an ImageError naming the link, e.g. for a FAT partition, which holds none).
    Anything but files, directories and links is an ImageError."""
    rel = _clean(path)
    if links == "refuse":
        st = lstat(root, rel)
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise _link_error(root, rel)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with opened(root, rel, os.O_RDONLY | os.O_NONBLOCK) as fd:
        _copy_fd(root, rel, fd, dest, links, set())


def _link_error(root: Path, rel: str) -> ImageError:
    try:
        with parent(root, rel) as (dirfd, name):
            target = os.readlink(name, dir_fd=dirfd)
    except OSError:
        target = "?"
    return ImageError(f"/{rel} in the image is a symbolic link (to {target}), where only files and folders can "
                      "be (a FAT file system holds no links). Nothing was read through it: remove the link (a "
                      "%post or script, or whatever made the ISO, put it there).")


def _copy_fd(root: Path, rel: str, fd: int, dest: Path, links: str, ancestors: set[tuple[int, int]]) -> None:
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode):
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            while chunk := os.read(fd, 1 << 20):
                os.write(out, chunk)
            os.fchmod(out, stat.S_IMODE(st.st_mode))
            os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(out)
        return
    if not stat.S_ISDIR(st.st_mode):
        raise ImageError(f"/{rel} in the image is neither a file nor a folder; it cannot be copied out of it; "
                         "remove it (a device, socket or pipe has no place among boot files).")
    if (st.st_dev, st.st_ino) in ancestors:
        raise ImageError(f"/{rel} in the image is a symbolic link to a folder holding it (a loop): it cannot be "
                         "copied; remove the link.")
    dest.mkdir(exist_ok=True)
    for name in sorted(os.listdir(fd)):
        child = f"{rel}/{name}" if rel else name
        kind = stat.S_IFMT(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode)
        if kind == stat.S_IFLNK:
            if links == "refuse":
                raise _link_error(root, child)
            try:
                childfd = open_in_root(root, child, os.O_RDONLY | os.O_NONBLOCK)  # resolved inside the root
            except FileNotFoundError:
                raise ImageError(f"/{child} in the image is a symbolic link to {os.readlink(name, dir_fd=fd)}, "
                                 "which is not in the image (links are followed inside it, never to the host): "
                                 "make the link point at a file of the image, or remove it.") from None
        elif kind in (stat.S_IFREG, stat.S_IFDIR):
            childfd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
        else:
            raise ImageError(f"/{child} in the image is neither a file nor a folder; it cannot be copied out of "
                             "it; remove it (a device, socket or pipe has no place among boot files).")
        try:
            _copy_fd(root, child, childfd, dest / name, links, ancestors | {(st.st_dev, st.st_ino)})
        finally:
            os.close(childfd)
    os.chmod(dest, stat.S_IMODE(st.st_mode))
    os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))


_MAX_LINKS = 40  # as the kernel's limit on links followed in one path lookup


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
