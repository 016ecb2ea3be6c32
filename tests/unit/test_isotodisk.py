"""livecd-iso-to-disk's pure parts: the stick's label, kernel arguments, sizes and partition layout, and the
command line's usage errors."""

from __future__ import annotations

import pytest

from imgcreate.cli import isotodisk as isotodisk_cli
from imgcreate.disk.layout import MIB, DiskLabel, PartKind
from imgcreate.errors import CreatorError
from imgcreate.media.liveiso import Layout
from imgcreate.toolbox import isotodisk
from imgcreate.toolbox.isotodisk import (
    data_size_mib,
    esp_size_mib,
    kernel_args,
    plan_stick,
    stick_label,
)
from imgcreate.toolbox.stickoptions import IsoToDiskOptions

ISO_ARGS = ("root=live:CDLABEL=PERSIST rootfstype=auto ro rd.live.image quiet rhgb console=ttyS0,115200 "
            "rd.live.check")


def test_label_is_a_partitions_own_or_given_cut_to_the_filesystems_length() -> None:
    assert stick_label("", None) == "LIVE", "upstream's default for a new data partition"
    assert stick_label("PERSIST", None) == "PERSIST"
    assert stick_label("Fedora-WS-Live-39-1-5", None) == "Fedora-WS-Live-3"
    assert stick_label("My Live CD", None) == "My_Live_CD"
    assert stick_label("ISO", "STICK") == "STICK"
    with pytest.raises(CreatorError, match="cannot be used"):
        stick_label("ISO", "has space")
    with pytest.raises(CreatorError, match="cannot be used"):
        stick_label("ISO", "x" * 17)
    assert stick_label("A-FAT-LABEL-LONG", None, fat=True) == "A-FAT-LABEL"
    with pytest.raises(CreatorError, match="1 to 11 characters"):
        stick_label("ISO", "x" * 12, fat=True)


def test_kernel_args_without_persistence() -> None:
    args = kernel_args(ISO_ARGS, "U-1", IsoToDiskOptions(), Layout.ROOTFS_IN_SQUASHFS).split()
    assert args[0] == "root=live:UUID=U-1", "by UUID: by-label may name the attached root image"
    assert "rd.live.check" not in args and "root=live:CDLABEL=PERSIST" not in args
    assert "ro" in args and "rw" not in args
    assert not any(a.startswith("rd.live.overlay") for a in args)
    assert {"rd.live.image", "rootfstype=auto", "console=ttyS0,115200"} <= set(args)


def test_kernel_args_with_overlay_home_and_extra() -> None:
    opts = IsoToDiskOptions(overlay_size_mb=64, home_size_mb=32, extra_kernel_args="a=1 'b=2'")
    args = kernel_args(ISO_ARGS, "U-1", opts, Layout.ROOTFS_IN_SQUASHFS).split()
    assert "rw" in args and "ro" not in args
    assert "rd.live.overlay=UUID=U-1" in args and "rd.live.overlay.overlayfs" not in args
    assert args[-2:] == ["a=1", "b=2"]
    flat = kernel_args(ISO_ARGS, "U-1", opts, Layout.FLAT_SQUASHFS).split()
    assert "rd.live.overlay.overlayfs" in flat, "a flat squashfs has no ext4 image for a dm snapshot"
    flat_iso = kernel_args(f"{ISO_ARGS} rd.live.overlay.overlayfs=1", "U", IsoToDiskOptions(),
                           Layout.FLAT_SQUASHFS)
    assert "rd.live.overlay.overlayfs=1" in flat_iso.split(), "the ISO's own overlayfs choice is kept"
    home_only = kernel_args(ISO_ARGS, "U-1", IsoToDiskOptions(home_size_mb=8), Layout.ROOTFS_IN_SQUASHFS).split()
    assert "rw" in home_only and not any(a.startswith("rd.live.overlay") for a in home_only)


def test_sizes() -> None:
    assert data_size_mib(100 * MIB, IsoToDiskOptions()) == 100 + 32 + 8
    assert data_size_mib(1000 * MIB, IsoToDiskOptions(overlay_size_mb=500, home_size_mb=500)) == 2000 + 32 + 160
    assert data_size_mib(83 * MIB, IsoToDiskOptions(overlay_size_mb=64, home_size_mb=64)) == 211 + 32 + 17, (
        "the size that once ran out of space with 211 MiB of files")
    assert esp_size_mib(4 * MIB) == 16
    assert esp_size_mib(20 * MIB) == 44


def test_msdos_layout_as_big_as_needed() -> None:
    layout = plan_stick(200, 16, gpt=False, disk_bytes=None, label="L")
    assert layout.label is DiskLabel.MSDOS and layout.size_bytes == 217 * MIB
    esp, data = layout.partitions
    assert (esp.kind, esp.number, esp.start, esp.size_mib) == (PartKind.EFI, 1, MIB, 16)
    assert (data.fstype, data.label, data.number, data.start, data.end) == ("ext4", "L", 2, 17 * MIB, 217 * MIB)
    assert layout.boot == data, "the data partition is the active one"


def test_gpt_layout_fills_the_disk_and_keeps_room_for_the_backup_gpt() -> None:
    layout = plan_stick(200, 16, gpt=True, disk_bytes=1024 * MIB, label="L")
    bios, esp, data = layout.partitions
    assert bios.kind is PartKind.BIOSBOOT and bios.size_mib == 1
    assert esp.kind is PartKind.EFI and data.end == 1023 * MIB and layout.size_bytes == 1024 * MIB


def test_noefi_layout_has_only_the_data_partition() -> None:
    (data,) = plan_stick(200, None, gpt=False, disk_bytes=None, label="L").partitions
    assert data.number == 1 and data.start == MIB


def test_too_small_names_what_is_needed() -> None:
    with pytest.raises(CreatorError, match="holds 100 MiB.*at least 217 MiB"):
        plan_stick(200, 16, gpt=False, disk_bytes=100 * MIB, label="L")


@pytest.mark.parametrize("argv", [
    ["a.iso"],
    ["a.iso", "t", "--overlay-size-mb", "-1"],
    ["a.iso", "t", "--overlay-size-mb", "1.5"],
    ["a.iso", "t", "--label", "bad label"],
    ["a.iso", "t", "--size-mb", "0"],
    ["a.iso", "t", "--no-such-option"],
    ["--format", "100", "a.iso", "t"],
    ["--format", "xfs", "a.iso", "t"],
    ["--format", "1024,zfs", "a.iso", "t"],
    ["a.iso", "t", "--timeout", "-2"],
    ["a.iso", "t", "--timeout", "x"],
    ["a.iso", "t", "--totaltimeout", "-1"],
])
def test_usage_errors_exit_1_as_upstream(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        isotodisk_cli.main(argv)
    assert exc.value.code == 1
    assert "usage: livecd-iso-to-disk" in capsys.readouterr().err


def options(*argv: str) -> IsoToDiskOptions:
    parser = isotodisk_cli.iso_to_disk_parser()
    return isotodisk_cli._options(parser.parse_args(isotodisk_cli.format_argv([*argv, "a.iso", "t"])), parser)


def test_format_takes_upstreams_optional_size_and_type_and_msdos_means_fat() -> None:
    """``--format`` alone, before the ISO, takes no value; ``--format 2048,vfat``; ``--msdos`` formats FAT."""
    assert isotodisk_cli.format_argv(["--format", "a.iso", "t"]) == ["--format=", "a.iso", "t"]
    plain = options("--format")
    assert plain.format and plain.fstype == "ext4" and plain.format_size_mb is None
    sized = options("--format", "2048,vfat")
    assert sized.format and sized.fstype == "vfat" and sized.format_size_mb == 2048
    assert options("--format", "ext3").fstype == "ext3"
    fat = options("--msdos")
    assert fat.format and fat.fstype == "vfat", "upstream: --msdos is --format msdos"
    assert not options().skipcompress and options("--skipcompress").skipcompress
    assert not options("--skipcompress", "--compress").skipcompress
    assert not options().format and options().label is None and not options().gpt and options().efi
    assert options("--efi").gpt and options("--mactel").gpt and not options("--noesp").efi
    assert options("--resetmbr").format is False
    assert options("--overlay-size-mb", "64,ext4,4096").overlay_size_mb == 64


def test_xo_is_refused_with_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--xo", "--xo-no-home"):
        with pytest.raises(SystemExit) as exc:
            isotodisk_cli.main([flag, "a.iso", "/dev/null"])
        assert exc.value.code == 1
        err = capsys.readouterr().err
        assert "OLPC XO" in err and "not supported" in err and err.count("\n") == 1


@pytest.mark.parametrize(("given", "seconds"), [
    ("50", 5), ("54", 5), ("55", 6), ("0", 0), ("-0", 0), ("-1", -1), ("600", 60)])
def test_timeout_in_tenths_as_upstreams_efi_grub(given: str, seconds: int) -> None:
    assert isotodisk.boot_timeout(None, IsoToDiskOptions(timeout=given)) == seconds  # type: ignore[arg-type]
    assert isotodisk.boot_timeout(None, IsoToDiskOptions(timeout=given, nomenu=True)) == 0  # type: ignore[arg-type]
