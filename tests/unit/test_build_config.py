"""The build configuration (imgcreate.config): one frozen snapshot of a creator's settings, taken at mount().

Settings are upstream's attributes, set as constructor keywords or afterwards; what the build uses is the
snapshot, checked once (every problem in one paragraph), with an enum for every mode.  The incremental cache
key of a packed root is derived from the fields marked as shaping it: these tests fail when a new field does
not say whether it does, or when a field that does is not in the key.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from imgcreate import kickstart
from imgcreate.boot.dracutconf import DracutSettings
from imgcreate.config import parse
from imgcreate.config.model import (
    INSTALL,
    TREE,
    BuildConfig,
    Compression,
    Compressor,
    LiveConfig,
    LoopConfig,
    PkgVerifyLevel,
)
from imgcreate.creator import ImageCreator, LoopImageCreator
from imgcreate.errors import CreatorError
from imgcreate.live import LiveImageCreator
from imgcreate.media.iso import BiosBootloader
from imgcreate.pack import RootfsType
from imgcreate.storage.roots import ExtImage, ReproducibleExtImage


@pytest.fixture
def ks(tmp_path: Path) -> Any:
    path = tmp_path / "c.ks"
    path.write_text("part / --size 300\n%packages\nkernel\n%end\n")
    return kickstart.read_kickstart(path)


def live(ks: Any, tmp_path: Path, **kwargs: Any) -> LiveImageCreator:
    return LiveImageCreator(ks, "CFG", fslabel="CFG", tmpdir=tmp_path, **kwargs)


def test_attributes_set_after_construction_are_in_the_snapshot(ks: Any, tmp_path: Path) -> None:
    """Upstream's livecd-creator sets these after construction: each one reaches the build's configuration."""
    creator = live(ks, tmp_path)
    assert creator.build_config.live is not None and creator.build_config.live.compression == Compression(
        Compressor.XZ, "xz"), "upstream's default compressor"
    creator.compress_type = "zstd"  # the name older upstream releases used
    assert creator.compression_type == "zstd"
    creator.compress_args = "lz4"
    creator.skip_compression = True
    creator.skip_minimize = True
    creator.BIOSbooter = "isolinux"  # upstream's spelling
    creator.dracut_conf_args = "+nfs"
    creator._alt_initrd_name = "initrd-custom.img"
    creator.skip_hfs = True
    creator.flat_squashfs = True
    creator.title, creator.productname = "My Title", "My Product"
    creator.incremental = tmp_path / "inc"
    cfg = creator.build_config.live
    assert cfg is not None
    assert cfg.compression == Compression(Compressor.LZ4, "lz4") and cfg.compression.packer_arg == "lz4"
    assert (cfg.skip_compression, cfg.skip_minimize, cfg.skip_hfs) == (True, True, True)
    assert cfg.bios is BiosBootloader.SYSLINUX and cfg.rootfs_type is RootfsType.SQUASHFS and cfg.flat
    assert "nfs" in cfg.dracut.modules and cfg.alt_initrd_name == "initrd-custom.img"
    assert (cfg.title, cfg.product) == ("My Title", "My Product")
    assert creator.build_config.incremental == tmp_path / "inc"
    assert creator.packer.tool == "mksquashfs" and creator.bios is BiosBootloader.SYSLINUX
    creator.rootfs_type, creator.flat_squashfs = "erofs", False
    assert creator.packer.tool == "mkfs.erofs", "the packer is chosen from the settings, not fixed at construction"


def test_loop_settings_after_construction_choose_the_storage(ks: Any, tmp_path: Path) -> None:
    """The label and size of the ext image, and a reproducible epoch, set after construction: the root storage
    is made from them (it used to be made in the constructor, so these were ignored)."""
    creator = LoopImageCreator(ks, "loop", tmpdir=tmp_path)
    creator.fslabel, creator.image_size = "A-NEW-LABEL-LONGER-THAN-16", 64 * 1024 * 1024
    storage = creator._root_storage()
    assert isinstance(storage, ExtImage) and not isinstance(storage, ReproducibleExtImage)
    assert (storage.label, storage.size) == ("A-NEW-LABEL-LONG", 64 * 1024 * 1024)
    creator.source_date_epoch = 1700000000
    assert isinstance(creator._root_storage(), ReproducibleExtImage)
    assert "LABEL=A-NEW-LABEL-LONG  /  ext4" in creator._fstab_root()


def test_modes_are_enums(ks: Any, tmp_path: Path) -> None:
    cfg = live(ks, tmp_path, compression_type="xz -Xbcj x86", pkgverify_level="digest").build_config
    assert cfg.live is not None and cfg.live.compression is not None
    assert cfg.live.compression.compressor is Compressor.XZ and cfg.live.compression.text == "xz -Xbcj x86"
    assert cfg.pkgverify_level is PkgVerifyLevel.DIGEST and cfg.live.rootfs_type is RootfsType.SQUASHFS_EXT4
    assert parse.compression("None") is None, "upstream's 'None': the --base-on ISO's compressor"
    assert parse.compression(None) is None
    none = parse.compression("none")
    assert none is not None and none.compressor is Compressor.NONE and none.packer_arg is None
    assert parse.compression("xz1m") == Compression(Compressor.XZ, "xz1m")
    assert parse.compression("lz4hc,12") == Compression(Compressor.LZ4HC, "lz4hc,12")
    assert parse.bios_bootloader("grub2") is BiosBootloader.GRUB2


def test_every_problem_in_one_paragraph(ks: Any, tmp_path: Path) -> None:
    creator = live(ks, tmp_path)
    creator.rootfs_type = "ext4"
    creator.compress_args = "brotli"
    creator.BIOSbooter = "lilo"
    creator.pkgverify_level = "maybe"
    with pytest.raises(CreatorError) as err:
        creator.build_config  # noqa: B018
    message = str(err.value)
    assert "\n" not in message and message.startswith("The image's settings are not usable: ")
    for said in ("root filesystem type 'ext4'", "compressor 'brotli'", "BIOS boot loader 'lilo'",
                 "package verification level 'maybe'"):
        assert said in message, (said, message)
    with pytest.raises(CreatorError, match="Unknown compressor 'brotli': use one of xz, zstd"):
        live(ks, tmp_path, compression_type="brotli")  # one problem: said as it is, at construction too


def test_one_problem_keeps_its_own_error(tmp_path: Path) -> None:
    """A kickstart asking for XFS fails at construction with the storage's message, as before the snapshot."""
    path = tmp_path / "x.ks"
    path.write_text("part / --size 300 --fstype xfs\n")
    with pytest.raises(CreatorError, match="'xfs' root filesystem .* images are ext2, ext3, ext4"):
        LoopImageCreator(kickstart.read_kickstart(path), "x", tmpdir=tmp_path)


def test_snapshot_is_frozen(ks: Any, tmp_path: Path) -> None:
    cfg = live(ks, tmp_path).build_config
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.name = "other"  # type: ignore[misc]
    assert cfg.live is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.live.skip_minimize = True  # type: ignore[misc]


def _sections() -> list[type[Any]]:
    return [BuildConfig, LoopConfig, LiveConfig]


def test_every_field_says_whether_it_shapes_the_root() -> None:
    """A new setting must be declared with setting(tree=...): then the keys below cannot miss it."""
    for section in _sections():
        for f in dataclasses.fields(section):
            assert TREE in f.metadata and INSTALL in f.metadata, \
                f"{section.__name__}.{f.name} does not say whether it shapes the root: declare it with setting()"


def _other(value: Any) -> Any:
    """A different value of the same kind."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, RootfsType):
        return RootfsType.EROFS if value is not RootfsType.EROFS else RootfsType.SQUASHFS
    if isinstance(value, BiosBootloader):
        return BiosBootloader.SYSLINUX if value is BiosBootloader.GRUB2 else BiosBootloader.GRUB2
    if isinstance(value, Compression) or value is None:
        return Compression(Compressor.ZSTD, "zstd")
    if isinstance(value, DracutSettings):
        return DracutSettings(modules=("dmsquash-live",))
    if isinstance(value, Path):
        return value / "x"
    raise AssertionError(f"no other value known for {value!r}: teach _other() the new field's type")


def test_keys_derived_from_the_marked_fields(ks: Any, tmp_path: Path) -> None:
    """Changing any field marked tree changes the packed root's key, any marked install the installed tree's;
    changing any other field changes neither."""
    cfg = live(ks, tmp_path, source_date_epoch=1).build_config
    assert cfg.loop is not None and cfg.live is not None
    base, base_install = cfg.root_settings(), cfg.install_settings()
    assert base_install == {"releasever": cfg.releasever, "pkgverify_level": None, "source_date_epoch": 1,
                            "arch": os.uname().machine}
    # the creator's class: the machine's LiveImageCreator (x86LiveImageCreator here, as upstream chooses it)
    assert base["kind"] == LiveImageCreator.__name__ and base["live.rootfs_type"] == "squashfs-ext4"
    assert base["loop.size"] == 300 * 1024 * 1024
    sections: list[tuple[str, Any]] = [("", cfg), ("loop", cfg.loop), ("live", cfg.live)]
    for section_name, section in sections:
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if isinstance(value, (LoopConfig, LiveConfig)):
                continue
            changed: Any = dataclasses.replace(section, **{f.name: _other(value)})
            whole: BuildConfig = changed if not section_name else dataclasses.replace(cfg, **{section_name: changed})
            moved = whole.root_settings() != base
            assert moved == f.metadata[TREE], f"{section_name or 'build'}.{f.name}: tree={f.metadata[TREE]}"
            moved = whole.install_settings() != base_install
            assert moved == f.metadata[INSTALL], f"{section_name or 'build'}.{f.name}: install={f.metadata[INSTALL]}"


def test_attribute_changed_after_mount_has_no_effect(ks: Any, tmp_path: Path) -> None:
    """mount() takes the snapshot (here without mounting anything: its first step); later changes do not
    reach the build, and cleanup() drops the snapshot so that the next build reads the attributes again."""
    creator = live(ks, tmp_path, compression_type="zstd")
    creator._snapshot = creator._make_config()  # what mount() does first
    creator.compress_args = "lz4"
    creator.skip_minimize = True
    live_cfg = creator.build_config.live
    assert live_cfg is not None and str(live_cfg.compression) == "zstd" and not live_cfg.skip_minimize
    assert creator._compression() == "zstd"
    creator.cleanup()
    live_cfg = creator.build_config.live
    assert live_cfg is not None and str(live_cfg.compression) == "lz4" and live_cfg.skip_minimize


@pytest.mark.root
def test_mount_takes_the_snapshot(ks: Any, tmp_path: Path) -> None:
    """The real mount() of a directory root: the snapshot is taken there, and a later change is ignored."""
    with ImageCreator(ks, "snap", tmpdir=tmp_path) as creator:
        creator.mount()
        creator.name = "renamed"
        creator.cacheonly = True
        assert creator.build_config.name == "snap" and not creator.build_config.cacheonly
        creator.unmount()
    assert creator.build_config.name == "renamed"


def test_boot_test_is_a_setting(ks: Any, tmp_path: Path) -> None:
    """--boot-test is a field of the one configuration (taken at mount() like the others), its scratch files
    under the build's --tmpdir unless it names its own; anything else than a BootTest is refused in the
    settings' one paragraph."""
    from imgcreate.boot.boottest import BootTest

    creator = live(ks, tmp_path)
    assert creator.build_config.boot_test is None, "no boot test unless asked"
    creator.boot_test = BootTest(timeout=5)
    config = creator.build_config
    assert config.boot_test == BootTest(timeout=5, tmpdir=str(tmp_path))
    assert "boot_test" not in config.root_settings() and "boot_test" not in config.install_settings()
    creator.boot_test = "yes"  # type: ignore[assignment]
    with pytest.raises(CreatorError, match="boot_test must be None or .*BootTest"):
        _ = creator.build_config


def test_disk_settings_are_a_section_of_the_snapshot(tmp_path: Path) -> None:
    """appliance-creator's settings are the snapshot's ``disk`` section: upstream's attributes set after
    construction (its tool sets checksum, appliance_version and appliance_release that way) take effect, modes
    are enums, every problem is said in one paragraph, and a change after mount() cannot reach the build."""
    from imgcreate.config.model import DiskCompressor, DiskFormat, PackageFormat
    from imgcreate.disk.appliance import DiskImageCreator

    path = tmp_path / "d.ks"
    path.write_text("part / --size 300\n%packages\nkernel\n%end\n")
    creator = DiskImageCreator(kickstart.read_kickstart(path), "DSK", disk_format="qcow2", tmpdir=tmp_path)
    creator.checksum = True
    creator.appliance_version, creator.appliance_release = "44", "1.2"
    creator.compress, creator.package_format = "zstd", "tar.gz"
    disk = creator.build_config.disk
    assert disk is not None
    assert (disk.disk_format, disk.compress, disk.package_format) == (
        DiskFormat.QCOW2, DiskCompressor.ZSTD, PackageFormat.TAR_GZ)
    assert disk.checksum and (disk.version, disk.release) == ("44", "1.2")
    out = creator.output
    assert (out.checksum, out.version, out.release, out.disk_name) == (True, "44", "1.2", "DSK-sda.qcow2")
    creator.disk_format, creator.vcpu, creator.package_format = "no such", 0, "rar"
    with pytest.raises(CreatorError) as exc:
        _ = creator.build_config
    said = str(exc.value)
    assert "disk format 'no such'" in said and "vcpu" in said and "package format 'rar'" in said, said
    creator.disk_format, creator.vcpu, creator.package_format = "raw", 1, "none"
    creator._snapshot = creator.build_config  # what mount() takes
    creator.checksum = False
    assert creator.output.checksum, "a change after mount() does not reach this build"
