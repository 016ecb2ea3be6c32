"""Pure logic: boot menus, squashfs arguments, fstab text and the command-line options users rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgcreate import kickstart
from imgcreate.boot import bootloader
from imgcreate.cli import creators
from imgcreate.errors import CreatorError
from imgcreate.pack import squashfs

MENU = bootloader.BootMenu(
    label="MY-LIVE",
    title="My Title",
    product="Fedora",
    kernel="/images/pxeboot/vmlinuz",
    initrd="/images/pxeboot/initrd.img",
    kernel_args="root=live:CDLABEL=MY-LIVE rd.live.image quiet",
    timeout=5,
)


def test_grub_menu_entries() -> None:
    cfg = bootloader.grub_cfg(MENU)
    assert "search --no-floppy --set=root -l 'MY-LIVE'" in cfg
    assert "set timeout=5" in cfg
    assert "menuentry 'Start Fedora'" in cfg
    assert "menuentry 'Test this media & start Fedora'" in cfg
    assert "submenu 'Troubleshooting -->'" in cfg and "basic graphics mode" in cfg
    kernel_lines = [ln.strip() for ln in cfg.splitlines() if ln.strip().startswith("linux ")]
    assert len(kernel_lines) == 3
    assert all("root=live:CDLABEL=MY-LIVE rd.live.image" in ln for ln in kernel_lines)
    assert sum("rd.live.check" in ln for ln in kernel_lines) == 1
    assert sum("nomodeset" in ln for ln in kernel_lines) == 1


def test_isolinux_menu_entries() -> None:
    cfg = bootloader.isolinux_cfg(MENU)
    assert "menu title My Title" in cfg and "timeout 50" in cfg
    appends = [ln.strip() for ln in cfg.splitlines() if ln.strip().startswith("append ")]
    assert len(appends) == 3
    assert all("initrd=/images/pxeboot/initrd.img root=live:CDLABEL=MY-LIVE" in ln for ln in appends)
    assert "Start Fedora" in cfg and "est this media & start Fedora" in cfg and "Troubleshooting" in cfg


@pytest.mark.parametrize(
    ("value", "args"),
    [
        ("xz", ["-comp", "xz"]),
        ("zstd", ["-comp", "zstd"]),
        ("xz -Xbcj x86", ["-comp", "xz", "-Xbcj", "x86"]),
        (None, ["-noI", "-noD", "-noF", "-noX"]),
    ],
)
def test_compression_args(value: str | None, args: list[str]) -> None:
    assert squashfs.compression_args(value) == args


def test_unknown_compressor_is_refused_before_building() -> None:
    with pytest.raises(CreatorError, match="not supported by this host's mksquashfs"):
        squashfs.check_compression("brotli")
    squashfs.check_compression("xz -Xbcj x86")


def test_kernel_args_from_bootloader_append(tmp_path: Path) -> None:
    ks_path = tmp_path / "a.ks"
    ks_path.write_text('bootloader --append="console=ttyS0 x=y"\n')
    ks = kickstart.read_kickstart(ks_path)
    assert kickstart.get_kernel_args(ks, "root=live:CDLABEL=L rd.live.image") == (
        "root=live:CDLABEL=L rd.live.image console=ttyS0 x=y"
    )


UPSTREAM_LIVECD_OPTIONS = [
    "--config", "--fslabel", "--title", "--product", "--releasever", "--cache", "--cacheonly", "--tmpdir",
    "--output", "--nocleanup", "--compression-type", "--flat-squashfs", "--skip-compression", "--skip-minimize",
    "--logfile", "--verbose", "--debug", "--quiet", "--base-on", "--dracut-conf-args", "--nomacboot",
    "--pkgverify-level", "--repo", "--shell", "--syslinux", "--ksversion", "--name", "--plugins", "--image-type",
    "--version",
]


def test_livecd_creator_accepts_upstream_options() -> None:
    opts = {o for a in creators.build_parser(live=True)._actions for o in a.option_strings}
    missing = [o for o in UPSTREAM_LIVECD_OPTIONS if o not in opts]
    assert missing == []
    assert {"-c", "-f", "-b", "-l", "-t", "-v", "-d", "-q", "-o", "-n", "-s", "-p"} <= opts


def test_image_creator_options() -> None:
    opts = {o for a in creators.build_parser(live=False)._actions for o in a.option_strings}
    assert {"-c", "--config", "-n", "--name", "--fslabel", "--cache", "--tmpdir", "--output"} <= opts


def test_positional_kickstart() -> None:
    ns = creators.build_parser(live=True).parse_args(["x.ks", "--fslabel", "L"])
    assert ns.kscfg_pos == "x.ks" and ns.fslabel == "L"
