"""appliance-creator's ``-p/--package`` and ``-i/--include``: what is delivered with the disk, and how it is packed.

As upstream's ``ApplianceImageCreator.package``: the included file (or every entry of the included folder) is
copied beside the disk and its ``<name>.xml``; then, with ``-p none`` (the default) everything is delivered into
a folder ``<outdir>/<name>/``, and with an archive format into ``<outdir>/<name>.zip`` (``.tar``, ``.tar.gz``,
``.tar.bz2``) whose members are ``<name>/<file>``.  Koji's builder walks its output folder recursively, so
``<name>/`` is where it finds the disk too.

Differences from upstream's Python code, none visible in the result: tar archives are written by GNU tar with
``--sparse`` (upstream's tarfile writes every hole of a raw disk out in full), with sorted members owned by root
(the same archive for the same files); ``zip`` and ``zip.64`` both allow ZIP64 where a member needs it, which is
what upstream's ``allowZip64="False"`` (a true string) does under Python 3.
"""

from __future__ import annotations

import os
import shutil
import time
import zipfile
from pathlib import Path

from imgcreate.config.model import PackageFormat
from imgcreate.errors import CreatorError
from imgcreate.host.run import run

NONE = PackageFormat.NONE.value
PACKAGES = PackageFormat.names()
_TAR_FLAGS = {"tar": [], "tar.gz": ["--gzip"], "tar.bz2": ["--bzip2"]}
_TAR_TOOLS = {"tar": ["tar"], "tar.gz": ["tar", "gzip"], "tar.bz2": ["tar", "bzip2"]}
_ZIP_EPOCH_MIN = 315532800  # 1980-01-01: the earliest time a zip entry holds


def check_package(package: str) -> str:
    """*package* if it is one of upstream's -p values, else one clear error naming them."""
    return str(PackageFormat.of(package, "package format"))


def host_tools(package: str) -> list[str]:
    """The programs packing into *package* needs on the host (zip is written by Python itself)."""
    return list(_TAR_TOOLS.get(package, []))


def add_include(outdir: Path, include: Path | None) -> list[Path]:
    """Copy *include* into *outdir* beside the disk: a file as it is, a folder's entries one by one (upstream
    copies ``<include>/*``, so hidden entries stay out); returns what was added."""
    if include is None:
        return []
    if not include.exists():
        raise CreatorError(f"The file to include, {include}, does not exist (-i/--include).")
    sources = sorted(p for p in include.iterdir() if not p.name.startswith(".")) if include.is_dir() else [include]
    added = []
    for src in sources:
        dest = outdir / src.name
        if dest.exists():
            raise CreatorError(f"-i/--include: {src} has the name of a file the build delivers ({src.name}); "
                               "rename it.")
        if src.is_dir():
            shutil.copytree(src, dest, symlinks=False)
        else:
            shutil.copy2(src, dest)
        added.append(dest)
    return added


def pack(outdir: Path, name: str, package: str, epoch: int | None = None) -> Path | None:
    """Pack every file of *outdir* into ``<outdir>/<name>.<package>`` as ``<name>/<file>`` and remove them;
    returns the archive (None for ``none``: the files are delivered as they are, into ``<outdir>/<name>/``).
    *epoch* (a reproducible build): no member's time is later than it."""
    check_package(package)
    if package == NONE:
        return None
    files = sorted(outdir.iterdir())
    if package.startswith("zip"):
        target = outdir / f"{name}.zip"
        _zip(files, target, name, epoch)
    else:
        target = outdir / f"{name}.{package}"
        _tar(files, target, name, package, epoch)
    for path in files:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    return target


def _tar(files: list[Path], target: Path, name: str, package: str, epoch: int | None) -> None:
    """GNU tar, sparse-aware, members renamed to ``<name>/...`` as they are added."""
    times = [f"--mtime=@{epoch}", "--clamp-mtime"] if epoch is not None else []
    try:
        run(["tar", "--create", "--sparse", "--format=gnu", "--sort=name", "--owner=0", "--group=0",
             "--numeric-owner", *times, *_TAR_FLAGS[package], f"--transform=s,^,{name}/,",
             "-C", str(target.parent), "-f", str(target), "--", *(f.name for f in files)],
            what=f"Packing the appliance into {target.name}")
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _zip(files: list[Path], target: Path, name: str, epoch: int | None) -> None:
    """Deflated members ``<name>/<path>``; a folder's files each (zip keeps no empty folders, as upstream)."""
    members: list[tuple[Path, str]] = []
    for path in files:
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs.sort()
                for entry in sorted(names):
                    full = Path(root) / entry
                    members.append((full, f"{name}/{full.relative_to(path.parent)}"))
        else:
            members.append((path, f"{name}/{path.name}"))
    try:
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for path, arcname in members:
                info = zipfile.ZipInfo.from_file(path, arcname)
                if epoch is not None:
                    stamp = max(min(path.stat().st_mtime, epoch), _ZIP_EPOCH_MIN)
                    info.date_time = time.gmtime(stamp)[:6]
                info.compress_type = zipfile.ZIP_DEFLATED
                info.file_size = path.stat().st_size  # ZIP64 records only for a member that needs them
                with open(path, "rb") as src, archive.open(info, "w") as dest:
                    shutil.copyfileobj(src, dest, 1024 * 1024)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
