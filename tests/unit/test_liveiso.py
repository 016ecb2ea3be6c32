"""Reading a live ISO's boot menu (pure): GRUB 2 and isolinux."""

from __future__ import annotations

from imgcreate.boot import bootloader
from imgcreate.media.liveiso import BootEntry, parse_boot_config

MENU = bootloader.BootMenu(label="L", title="T", product="P", kernel="/images/pxeboot/vmlinuz",
                           initrd="/images/pxeboot/initrd.img", kernel_args="root=live:CDLABEL=L rd.live.image x=1",
                           timeout=5)


def test_our_grub_cfg() -> None:
    entry = parse_boot_config(bootloader.grub_cfg(MENU))
    assert entry == BootEntry("/images/pxeboot/vmlinuz", "/images/pxeboot/initrd.img",
                              "root=live:CDLABEL=L rd.live.image x=1")
    assert entry.args_without("root=") == "rd.live.image x=1"


def test_our_isolinux_cfg() -> None:
    menu = bootloader.BootMenu(**{**MENU.__dict__, "kernel": "/isolinux/vmlinuz", "initrd": "/isolinux/initrd.img"})
    entry = parse_boot_config(bootloader.isolinux_cfg(menu))
    assert entry is not None and entry.kernel == "/isolinux/vmlinuz" and entry.initrd == "/isolinux/initrd.img"
    assert entry.args.startswith("root=live:CDLABEL=L") and "initrd=" not in entry.args


def test_upstream_isolinux_relative_paths() -> None:
    text = "label linux0\n  kernel vmlinuz0\n  append initrd=initrd0.img root=live:CDLABEL=F rootfstype=auto ro\n"
    assert parse_boot_config(text) == BootEntry("/isolinux/vmlinuz0", "/isolinux/initrd0.img",
                                                "root=live:CDLABEL=F rootfstype=auto ro")


def test_no_kernel() -> None:
    assert parse_boot_config("set timeout=5\n") is None
