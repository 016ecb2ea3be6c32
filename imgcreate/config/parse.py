"""Making the one :class:`~imgcreate.config.model.BuildConfig` from the values users set, checked once.

The creators hand over their settings as they hold them (upstream's plain strings and booleans, constructor
keywords and attributes alike); every check runs here, and every problem found is reported in one paragraph
(one :class:`CreatorError`), so a caller fixes them all at once.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from imgcreate import kickstart
from imgcreate.boot import dracutconf
from imgcreate.boot.boottest import BootTest
from imgcreate.config.model import (
    ARCHES,
    BuildConfig,
    Compression,
    Compressor,
    DiskCompressor,
    DiskConfig,
    DiskFormat,
    LiveConfig,
    LoopConfig,
    PackageFormat,
    PkgVerifyLevel,
)
from imgcreate.errors import CreatorError, ImageError
from imgcreate.host import fs
from imgcreate.media.iso import BiosBootloader
from imgcreate.pack import RootfsType

DEFAULT_COMPRESSION = "xz"  # upstream 31's default
# Upstream's spellings of the BIOS boot loader (its BIOSbooter attribute) and ours.
_BIOS_NAMES = {"grub2": BiosBootloader.GRUB2, "grub": BiosBootloader.GRUB2, "syslinux": BiosBootloader.SYSLINUX,
               "isolinux": BiosBootloader.SYSLINUX}
_ALIASES = {"xz1m": Compressor.XZ, "xz1M": Compressor.XZ}

T = TypeVar("T")


@dataclass(frozen=True)
class RawLoop:
    """A loop image's settings as the creator holds them."""

    fslabel: str
    fstype: str
    size: int
    size_from_base: bool = False


@dataclass(frozen=True)
class RawLive:
    """A live ISO's settings as the creator holds them (upstream's attribute types)."""

    rootfs_type: str | None
    flat_squashfs: bool
    compression: str | None
    skip_compression: bool
    skip_minimize: bool
    dracut_conf_args: str
    bios: str
    title: str
    product: str
    alt_initrd_name: str | None = None
    skip_hfs: bool = False
    default_kernel: str = "kernel"


class _Problems:
    """Collects what is wrong, to say it all in one paragraph (one problem is raised as it is)."""

    def __init__(self) -> None:
        self.found: list[CreatorError] = []

    def check(self, make: Callable[[], T], fallback: T) -> T:
        try:
            return make()
        except CreatorError as exc:
            self.found.append(exc)
            return fallback

    def raise_any(self) -> None:
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            said = "; ".join(str(exc).rstrip(".") for exc in self.found)
            raise CreatorError(f"The image's settings are not usable: {said}.")


def compression(value: str | None) -> Compression | None:
    """A ``--compression-type`` (upstream's ``compress_args``): None or upstream's "None" means the --base-on
    ISO's compressor."""
    if value is None or value.strip() == "None":
        return None
    words = [w for w in re.split(r"[,\s]+", value.strip()) if w]
    if not words:
        raise CreatorError("--compression-type is empty: use e.g. xz, zstd, lz4, lzo or gzip.")
    name = words[0]
    found = _ALIASES.get(name) or Compressor.of(name.lower() if name.lower() == "none" else name, "compressor")
    return Compression(found, "none" if found is Compressor.NONE else value)


def bios_bootloader(value: str | BiosBootloader) -> BiosBootloader:
    """Upstream's ``BIOSbooter`` ("grub2", "isolinux") or ours ("syslinux")."""
    found = _BIOS_NAMES.get(str(value.value if isinstance(value, BiosBootloader) else value).lower())
    if found is None:
        raise CreatorError(f"Unknown BIOS boot loader '{value}': use grub2 or syslinux.")
    return found


def verify_level(value: str | None) -> PkgVerifyLevel | None:
    return None if value is None else PkgVerifyLevel.of(value, "package verification level")


def _epoch(value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise CreatorError(f"The reproducible epoch {value!r} is not a number of seconds since 1970.")
    return value


def target_arch(value: str | None) -> str:
    """``--forcearch`` (the creators' ``forcearch``): an rpm architecture; None or empty: this machine's."""
    if not value:
        return os.uname().machine
    if value not in ARCHES:
        raise CreatorError(f"Unknown target architecture '{value}' (--forcearch): use one of "
                           f"{', '.join(sorted(ARCHES))}.")
    return value


def _name(value: str) -> str:
    if not value or "/" in value or value in (".", ".."):
        raise CreatorError(f"Invalid image name '{value}': it must be a non-empty file name without '/'.")
    return value


def loop_settings(raw: RawLoop, live: bool) -> LoopConfig:
    if raw.fstype not in fs.EXT_TYPES:
        raise ImageError(f"The kickstart asks for a '{raw.fstype}' root filesystem (part / --fstype); images "
                           f"are {', '.join(fs.EXT_TYPES)}.")
    if live:
        kickstart.check_fslabel(raw.fslabel)  # also the ISO's volume id and root=live:CDLABEL=
    return LoopConfig(fslabel=raw.fslabel, fstype=raw.fstype, size=raw.size, size_from_base=raw.size_from_base)


def _live(raw: RawLive, problems: _Problems) -> LiveConfig:
    return LiveConfig(
        rootfs_type=problems.check(lambda: RootfsType.choose(raw.rootfs_type, raw.flat_squashfs),
                                   RootfsType.SQUASHFS_EXT4),
        compression=problems.check(lambda: compression(raw.compression), None),
        skip_compression=bool(raw.skip_compression),
        skip_minimize=bool(raw.skip_minimize),
        dracut=dracutconf.parse_conf_args(raw.dracut_conf_args or ""),
        bios=problems.check(lambda: bios_bootloader(raw.bios), BiosBootloader.GRUB2),
        title=raw.title,
        product=raw.product,
        alt_initrd_name=raw.alt_initrd_name or None,
        skip_hfs=bool(raw.skip_hfs),
        default_kernel=str(raw.default_kernel or "kernel"),
    )


def _boot_test(value: object, tmpdir: str | os.PathLike[str]) -> BootTest | None:
    """The creator's ``boot_test`` (our extension: None, or a :class:`BootTest`); its scratch files go under the
    build's --tmpdir unless it names its own."""
    if value is None:
        return None
    if not isinstance(value, BootTest):
        raise CreatorError(f"boot_test must be None or an imgcreate.boot.boottest.BootTest, not {value!r}.")
    return value if value.tmpdir is not None else dataclasses.replace(value, tmpdir=os.fspath(tmpdir))


@dataclass(frozen=True)
class RawDisk:
    """A disk image's settings as the creator holds them (upstream's attribute types)."""

    disk_format: str
    compress: str | None
    checksum: bool
    manifest: bool
    vmem: int
    vcpu: int
    version: str | None
    release: str | None
    package_format: str
    include: str | os.PathLike[str] | None
    size_mib: int | None


def disk_format_of(word: str) -> DiskFormat | str:
    """*word* as a DiskFormat member, or as qemu-img's name of another format (a plain word: qemu-img judges it
    before the build)."""
    if word in DiskFormat.names():
        return DiskFormat(word)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", str(word)):
        raise CreatorError(f"Unknown disk format '{word}': use one of {', '.join(DiskFormat.names())} or another "
                           "format qemu-img writes (vhdx, vpc, qed, ...).")
    return str(word)


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CreatorError(f"{what} must be a whole number above 0, not {value!r}.")
    return value


def _disk(raw: RawDisk, problems: _Problems) -> DiskConfig:
    return DiskConfig(
        disk_format=problems.check(lambda: disk_format_of(raw.disk_format), str(DiskFormat.RAW)),
        compress=problems.check(
            lambda: None if raw.compress is None else DiskCompressor.of(raw.compress, "compression"), None),
        checksum=bool(raw.checksum),
        manifest=bool(raw.manifest),
        vmem=problems.check(lambda: _count(raw.vmem, "vmem (MiB)"), 512),
        vcpu=problems.check(lambda: _count(raw.vcpu, "vcpu"), 1),
        version=raw.version,
        release=raw.release,
        package_format=problems.check(lambda: PackageFormat.of(raw.package_format, "package format"),
                                      PackageFormat.NONE),
        include=Path(raw.include) if raw.include is not None else None,
        size_mib=None if raw.size_mib is None else problems.check(lambda: _count(raw.size_mib, "The disk size (MiB)"),
                                                                  None),
    )


def make_config(*, kind: str, name: str, releasever: str, tmpdir: str | os.PathLike[str], cacheonly: bool,
                docleanup: bool, pkgverify_level: str | None, source_date_epoch: int | None,
                incremental: str | os.PathLike[str] | None, loop: RawLoop | None = None,
                live: RawLive | None = None, disk: RawDisk | None = None, arch: str | None = None,
                boot_test: BootTest | None = None) -> BuildConfig:
    """The build's configuration from the creator's settings; every problem in one :class:`CreatorError`."""
    problems = _Problems()
    config = BuildConfig(
        kind=kind,
        name=problems.check(lambda: _name(name), name),
        releasever=releasever,
        tmpdir=Path(os.path.abspath(tmpdir)),
        cacheonly=bool(cacheonly),
        docleanup=bool(docleanup),
        pkgverify_level=problems.check(lambda: verify_level(pkgverify_level), None),
        source_date_epoch=problems.check(lambda: _epoch(source_date_epoch), None),
        incremental=Path(incremental) if incremental is not None else None,
        arch=problems.check(lambda: target_arch(arch), os.uname().machine),
        boot_test=problems.check(lambda: _boot_test(boot_test, tmpdir), None),
        loop=problems.check(lambda: loop_settings(loop, live is not None), None) if loop is not None else None,
        live=_live(live, problems) if live is not None else None,
        disk=_disk(disk, problems) if disk is not None else None,
    )
    problems.raise_any()
    return config
