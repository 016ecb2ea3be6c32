"""The build directory under --tmpdir, and delivering finished files to the output folder.

A build writes everything below one fresh directory (``<tmpdir>/imgcreate-XXXX``): the install root, the image
file, the ISO tree, and ``out/`` with the finished results.  Only :func:`deliver` puts anything in the user's
output folder, and it does so file by file so that a file there is complete or absent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from imgcreate.debug import PROGRESS
from imgcreate.errors import CommandError, ImageError
from imgcreate.host import fs, signals
from imgcreate.host.run import run

log = logging.getLogger("imgcreate")

MIN_TMPDIR_FREE = 100 * 1024 * 1024


def create(stack: contextlib.ExitStack, tmpdir: Path, keep: bool = False) -> Path:
    """Make a fresh build directory in *tmpdir* and register its removal (or, with *keep*, a note) on *stack*.

    Refuses up front when *tmpdir* has less than 100 MiB free: a build would fail later with a less clear error.
    A relative *tmpdir* (``-t .``) is made absolute: dnf refuses a relative install root, and commands run in
    other folders.
    """
    tmpdir = tmpdir.absolute()
    tmpdir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(tmpdir).free
    if free < MIN_TMPDIR_FREE:
        raise ImageError(
            f"The temporary directory {tmpdir} has only {free // 1048576} MiB free; a build needs at least "
            f"{MIN_TMPDIR_FREE // 1048576} MiB there (more for large images). Free some space or choose another "
            "one with --tmpdir."
        )
    with signals.deferred("making the build directory"):  # made and registered, or neither
        path = Path(tempfile.mkdtemp(prefix="imgcreate-", dir=tmpdir))
        if keep:
            stack.callback(log.info, "keeping the build directory %s (--nocleanup)", path)
        else:
            stack.callback(fs.remove_tree, path)
    (path / "out").mkdir()
    return path


def deliver(outdir: Path, destdir: Path) -> list[Path]:
    """Move every file of *outdir* to *destdir*: each appears there complete or not at all.

    If one move fails, the files already moved are removed again, so the output folder gets all or nothing; the
    error names the file, the folder and the reason (a full filesystem, most often: the default ``--tmpdir``
    /var/tmp and output folder ``.`` are often on different filesystems, and then every file is copied).
    """
    destdir.mkdir(parents=True, exist_ok=True)
    moved: list[Path] = []
    item = outdir
    try:
        for item in sorted(outdir.iterdir()):
            moved.append(_move_atomically(item, destdir / item.name))
    except BaseException as exc:
        for path in moved:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()
        if isinstance(exc, (OSError, CommandError)):
            where = os.path.abspath(destdir)
            raise ImageError(f"Delivering {item.name} to {where} failed: {_reason(exc)}. Nothing of this build "
                             f"was left in {where}.") from exc
        raise
    for path in moved:
        log.log(PROGRESS, "wrote %s", path)
    return moved


def _reason(exc: BaseException) -> str:
    """What went wrong, in one line: cp's own message, or the system's."""
    if isinstance(exc, CommandError):
        lines = exc.output.strip().splitlines()
        return lines[-1] if lines else f"cp exited with status {exc.returncode}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    return str(exc)


def _move_atomically(src: Path, dest: Path) -> Path:
    """Move *src* to *dest* so that *dest* appears complete or not at all (rename, or copy to a hidden temp).

    A copy keeps a sparse file sparse and reads none of its holes (``cp --sparse=always``: cp finds the holes
    with SEEK_HOLE and also leaves blocks of zeros unwritten; Python's copy2 would write every hole out, and a
    10 GiB nominal disk would take 10 GiB in the output folder); a filesystem with reflinks shares the blocks."""
    try:
        os.rename(src, dest)
        return dest
    except OSError:
        pass
    tmp = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    try:
        if src.is_dir():  # an install tree (the base creator): owners, modes, links and xattrs as they are
            run(["cp", "-a", "--reflink=auto", str(src), str(tmp)], what=f"Copying {src} to {dest.parent}")
        else:
            run(["cp", "--reflink=auto", "--sparse=always", "--preserve=mode,timestamps", str(src), str(tmp)],
                what=f"Copying {src} to {dest.parent}")
        os.rename(tmp, dest)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    return dest
