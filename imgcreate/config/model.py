"""What a build is configured with: frozen dataclasses and enums, made once by :func:`imgcreate.config.parse`.

Why a snapshot: upstream's API lets callers set a creator's settings as constructor keywords *and* as
attributes after construction (upstream's own livecd-creator sets ``compress_args``, ``skip_compression``...
that way).  The creator takes one :class:`BuildConfig` from its attributes at ``mount()``, and from then on the
build reads only that: what a build does cannot change half-way, and what decides the finished root is known
in one place.

Every field says whether it shapes the finished root beyond the installed tree (``setting(tree=True)``): the
compressed root that ``--incremental`` keeps is keyed by exactly those fields (:func:`root_settings`), so a new
setting that changes the root cannot be forgotten in the key (tests/unit/test_config.py requires each field to
say which it is).  What decides the installed tree itself (release, verification level, epoch) is in
:class:`imgcreate.build.incremental.InstallKey`.
"""

from __future__ import annotations

import dataclasses
import enum
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgcreate.boot.boottest import BootTest
from imgcreate.boot.dracutconf import DracutSettings
from imgcreate.media.iso import BiosBootloader
from imgcreate.pack import RootfsType
from imgcreate.strenum import StrEnum

TREE = "tree"  # the metadata key of a field's marker: True when the field shapes the finished root
INSTALL = "install"  # ... and True when it decides the installed tree (the incremental install key)


def setting(*, tree: bool, install: bool = False, default: Any = dataclasses.MISSING) -> Any:
    """A configuration field that says whether it shapes the finished root (the incremental root key) and
    whether it decides the installed tree (the install key)."""
    metadata = {TREE: tree, INSTALL: install}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class PkgVerifyLevel(StrEnum):
    """rpm's verification of each package before installing it (``--pkgverify-level``)."""

    ALL = "all"
    NONE = "none"
    SIGNATURE = "signature"
    DIGEST = "digest"


class Compressor(StrEnum):
    """The compressor of ``LiveOS/squashfs.img``: what mksquashfs and mkfs.erofs name (xz is EROFS's lzma).
    ``NONE``: not compressed (``--skip-compression`` on a flat root, or ``--compression-type none``)."""

    XZ = "xz"
    ZSTD = "zstd"
    LZ4 = "lz4"
    LZ4HC = "lz4hc"
    LZO = "lzo"
    GZIP = "gzip"
    LZMA = "lzma"
    DEFLATE = "deflate"
    LIBDEFLATE = "libdeflate"
    NONE = "none"


@dataclass(frozen=True)
class Compression:
    """A ``--compression-type``: the compressor, and the text the packer is given (with its options, e.g.
    ``"xz -Xbcj x86"``, ``"lz4hc,12"``, upstream's ``"xz1m"``)."""

    compressor: Compressor
    text: str

    @property
    def packer_arg(self) -> str | None:
        """What :meth:`imgcreate.pack.Packer.pack` takes: the text, or None for no compression."""
        return None if self.compressor is Compressor.NONE else self.text

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class LoopConfig:
    """The ext image the root lives in (``LoopImageCreator``)."""

    fslabel: str = setting(tree=True)  # as given (an ext label keeps its first 16 characters)
    fstype: str = setting(tree=True)  # ext2, ext3 or ext4 (``part / --fstype``)
    size: int = setting(tree=True)  # bytes (``part / --size``)
    size_from_base: bool = setting(tree=True, default=False)  # grow to a --base-on image's size (editliveos)


@dataclass(frozen=True)
class LiveConfig:
    """A live ISO's settings (``LiveImageCreator``)."""

    rootfs_type: RootfsType = setting(tree=True)  # what squashfs.img is and holds (lorax's names)
    compression: Compression | None = setting(tree=True)  # None: the --base-on ISO's compressor, else xz
    skip_compression: bool = setting(tree=True)  # the ext image on the ISO as it is (no compressed root kept)
    skip_minimize: bool = setting(tree=True)
    dracut: DracutSettings = setting(tree=True)  # the live initramfs' modules (--dracut-conf-args)
    bios: BiosBootloader = setting(tree=False)  # the ISO's BIOS boot loader (its packages are in InstallKey)
    title: str = setting(tree=False)  # the boot menu only: an --incremental rebuild reuses the root
    product: str = setting(tree=False)
    alt_initrd_name: str | None = setting(tree=False)  # upstream's _alt_initrd_name: /boot/NAME as the initrd
    skip_hfs: bool = setting(tree=False)  # upstream's: no Mac HFS+ boot image (none is ever made here)
    # upstream's _default_kernel: the kernel package the boot menu boots when several are installed
    default_kernel: str = setting(tree=False, default="kernel")

    @property
    def flat(self) -> bool:
        """The root tree itself is packed (no ext rootfs.img)."""
        return self.rootfs_type.flat


class DiskFormat(StrEnum):
    """appliance-creator's ``--format`` (qemu-img's names): raw is the sparse disk itself.  These are the formats
    the tool knows more of (how to compress, boot and make reproducible); any other format qemu-img writes is
    passed on to it by name, as appliance-creator does (:func:`imgcreate.disk.output.format_problem` checks it
    before a build)."""

    RAW = "raw"
    QCOW2 = "qcow2"
    VMDK = "vmdk"
    VDI = "vdi"


class DiskCompressor(StrEnum):
    """What compresses a raw disk (``--compression``; none with ``--no-compress``)."""

    XZ = "xz"
    ZSTD = "zstd"


class PackageFormat(StrEnum):
    """appliance-creator's ``-p/--package``: ``none`` delivers the files into ``<outdir>/<name>/``, the others one
    archive of them."""

    NONE = "none"
    ZIP = "zip"
    ZIP64 = "zip.64"
    TAR = "tar"
    TAR_GZ = "tar.gz"
    TAR_BZ2 = "tar.bz2"


@dataclass(frozen=True)
class DiskConfig:
    """A disk image's settings (``DiskImageCreator``: appliance-creator's options and upstream's attributes,
    ``checksum``, ``appliance_version``, ``appliance_release`` among them, which upstream's tool sets after
    construction).  None shapes the installed root: the partition plan comes from the kickstart."""

    disk_format: DiskFormat | str = setting(tree=False)  # a member, or another format qemu-img writes ("vhdx")
    compress: DiskCompressor | None = setting(tree=False)  # of a raw disk
    checksum: bool = setting(tree=False)  # CHECKSUM and the digests in <name>.xml
    manifest: bool = setting(tree=False)  # also <name>.packages, .flattened.ks, -CHECKSUM (--manifest)
    vmem: int = setting(tree=False)  # MiB, in <name>.xml
    vcpu: int = setting(tree=False)
    version: str | None = setting(tree=False)  # appliance-creator's --version and --release, in <name>.xml
    release: str | None = setting(tree=False)
    package_format: PackageFormat = setting(tree=False)
    include: Path | None = setting(tree=False)  # -i: beside the disk
    size_mib: int | None = setting(tree=False)  # the disk's size, which --grow partitions fill (None: the sum)


@dataclass(frozen=True)
class BuildConfig:
    """Every setting of one build, frozen at ``mount()``; ``loop`` and ``live`` are the image type's sections."""

    kind: str = setting(tree=True)  # the creator's class name
    name: str = setting(tree=False)
    releasever: str = setting(tree=False, install=True)
    tmpdir: Path = setting(tree=False)
    cacheonly: bool = setting(tree=False)
    docleanup: bool = setting(tree=False)
    pkgverify_level: PkgVerifyLevel | None = setting(tree=False, install=True)
    source_date_epoch: int | None = setting(tree=False, install=True)  # rpm records it as the install time
    incremental: Path | None = setting(tree=False)  # where --incremental keeps its trees (None: off)
    # The target architecture (--forcearch; rpm's name, e.g. aarch64): what dnf resolves, what rpm installs,
    # which boot loaders the image gets.  The host's when not given.
    arch: str = setting(tree=True, install=True, default="")
    # --boot-test: boot what the build delivered (the last step of build_image, so ``create()`` does it too)
    boot_test: BootTest | None = setting(tree=False, default=None)
    loop: LoopConfig | None = setting(tree=True, default=None)
    live: LiveConfig | None = setting(tree=True, default=None)
    disk: DiskConfig | None = setting(tree=False, default=None)

    @property
    def basearch(self) -> str:
        """dnf's ``$basearch`` of :attr:`arch` (``i386`` for ``i686``)."""
        return basearch(self.arch)

    @property
    def foreign(self) -> bool:
        """The image is for another architecture than this machine's (its programs run emulated)."""
        return basearch(self.arch) != basearch(os.uname().machine)

    def root_settings(self) -> dict[str, object]:
        """The settings that decide the finished root: the key of a compressed root --incremental keeps."""
        return marked(self, TREE)

    def install_settings(self) -> dict[str, object]:
        """The settings that decide the installed tree (beside the packages, repositories and architecture):
        part of the key of an installed tree --incremental keeps."""
        return marked(self, INSTALL)


# The architectures --forcearch takes (rpm's names) and their dnf base architectures.
ARCHES = {"x86_64": "x86_64", "i686": "i386", "aarch64": "aarch64", "ppc64le": "ppc64le", "s390x": "s390x",
          "riscv64": "riscv64", "armv7hl": "armhfp"}


def basearch(arch: str) -> str:
    """dnf's base architecture of an rpm architecture name."""
    if arch in ("i386", "i486", "i586", "i686"):
        return "i386"
    return ARCHES.get(arch, arch)


def root_settings(section: object) -> dict[str, object]:
    """The fields of *section* marked ``tree`` (see :func:`marked`)."""
    return marked(section, TREE)


def marked(section: object, marker: str) -> dict[str, object]:
    """The fields of *section* (a configuration dataclass) marked *marker*, nested sections flattened as
    ``section.field``, values as plain JSON-able data."""
    found: dict[str, object] = {}
    for f in dataclasses.fields(section):  # type: ignore[arg-type]
        value = getattr(section, f.name)
        if _is_section(value):
            if f.metadata[marker]:
                found.update({f"{f.name}.{k}": v for k, v in marked(value, marker).items()})
        elif f.metadata[marker]:
            found[f.name] = _plain(value)
    return found


def _is_section(value: object) -> bool:
    return dataclasses.is_dataclass(value) and all(TREE in f.metadata for f in dataclasses.fields(value))


def _plain(value: object) -> object:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, Compression):
        return value.text
    if isinstance(value, DracutSettings):
        return value.text()
    if isinstance(value, Path):
        return str(value)
    return value
