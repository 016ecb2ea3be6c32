"""Reading the image's rpm database, and rpm macros set for exactly as long as they are needed.

rpm's Python bindings keep macros process-wide: a macro one step sets stays for every later step (and for a
second build in the same process) unless it is removed again.  Everything here sets its macros through
:func:`macros`, which restores what was there before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import rpm

from imgcreate.storage import inroot

# Where the image's database lives (Fedora's and EL's path; Debian's rpm would otherwise use ~/.rpmdb).
DBPATH = "/var/lib/rpm"


@contextlib.contextmanager
def macros(**values: str) -> Iterator[None]:
    """Define rpm macros for the duration of the block.

    rpm keeps a stack of definitions per macro: ``addMacro`` pushes one and ``delMacro`` pops it, so whatever
    was defined before (by rpm's configuration or an outer block) is in force again afterwards.
    """
    for name, value in values.items():
        rpm.addMacro(name, value)
    try:
        yield
    finally:
        for name in values:
            rpm.delMacro(name)


def write_platform(root: Path, arch: str) -> None:
    """``/etc/rpm/platform`` in the image: rpm run in it (scriptlets, the booted system) takes the image's
    architecture, not the machine's it runs on (emulated), as mock writes it for ``--forcearch``."""
    inroot.write_bytes(root, "/etc/rpm/platform", f"{arch}-redhat-linux\n".encode(), 0o644)


@dataclass(frozen=True, order=True)
class Nevra:
    """A package identity as rpm records it: name, epoch (0 when unset), version, release, arch."""

    name: str
    epoch: int
    version: str
    release: str
    arch: str

    def __str__(self) -> str:
        epoch = f"{self.epoch}:" if self.epoch else ""
        return f"{self.name}-{epoch}{self.version}-{self.release}.{self.arch}"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def dbpath(root: Path) -> str:
    """The image's database folder with every link in it resolved inside the image, made if missing (Fedora's
    ``/var/lib/rpm`` is a link to ``../../usr/lib/sysimage/rpm``).  rpm opens ``root + dbpath`` on the host,
    where a link (absolute, or planted by a script) would lead to the host's own database."""
    return inroot.real_path(root, DBPATH, create=True)


@contextlib.contextmanager
def _open(root: Path) -> Iterator[rpm.TransactionSet]:
    with macros(_dbpath=dbpath(root)):
        ts = rpm.TransactionSet(str(root))
        ts.setVSFlags(rpm._RPMVSF_NOSIGNATURES | rpm._RPMVSF_NODIGESTS)
        try:
            yield ts
        finally:
            ts.closeDB()


def installed(root: Path) -> set[Nevra]:
    """Every package in the image's rpm database (gpg-pubkey entries excluded)."""
    found = set()
    with _open(root) as ts:
        for hdr in ts.dbMatch():
            name = _text(hdr[rpm.RPMTAG_NAME])
            if name == "gpg-pubkey":
                continue
            epoch = hdr[rpm.RPMTAG_EPOCH]
            found.add(Nevra(name, int(epoch or 0), _text(hdr[rpm.RPMTAG_VERSION]),
                            _text(hdr[rpm.RPMTAG_RELEASE]), _text(hdr[rpm.RPMTAG_ARCH])))
    return found


def files_providing(root: Path, provides: tuple[str, ...]) -> list[str]:
    """Files of the packages in the image's rpm database that provide any of *provides*."""
    files: list[str] = []
    with _open(root) as ts:
        for name in provides:
            for hdr in ts.dbMatch("providename", name):
                files += [_text(f) for f in hdr[rpm.RPMTAG_FILENAMES]]
    return files


def files_by_package(root: Path, provide: str) -> dict[str, list[str]]:
    """The files of each package (by name) in the image's rpm database that provides *provide*."""
    found: dict[str, list[str]] = {}
    with _open(root) as ts:
        for hdr in ts.dbMatch("providename", provide):
            found.setdefault(_text(hdr[rpm.RPMTAG_NAME]), []).extend(_text(f) for f in hdr[rpm.RPMTAG_FILENAMES])
    return found


def kernel_versions(root: Path) -> dict[str, list[str]]:
    """The kernels installed in the image: {package name: [kernel version, ...]}, the versions read from each
    package's ``/boot/vmlinuz-<version>`` (or ``/lib/modules/<version>/vmlinuz``), as upstream's creator has it."""
    kernels: dict[str, list[str]] = {}
    for package, files in files_by_package(root, "kernel").items():
        versions = [f.split("vmlinuz-", 1)[1] for f in files if f.startswith("/boot/vmlinuz-")]
        versions += [f.split("/")[-2] for f in files
                     if f.endswith("/vmlinuz") and "/lib/modules/" in f and f.split("/")[-2] not in versions]
        kernels[package] = versions
    return kernels
