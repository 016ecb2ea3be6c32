"""Boot loader configuration text for live media: GRUB 2 (BIOS and UEFI) and isolinux.

Pure functions from a :class:`BootMenu` to file contents, so the menus can be unit tested and are the same
in every boot path: "Start <product>", "Test this media & start <product>" (rd.live.check: only when the image
has checkisomd5, which that entry runs, as upstream's ``_has_checkisomd5`` decides) and a "Troubleshooting" entry
that starts with basic graphics (nomodeset).
"""

from __future__ import annotations

from dataclasses import dataclass

from imgcreate.boot import grubmenu
from imgcreate.boot.grubmenu import GrubMenu, MenuEntry


@dataclass(frozen=True)
class BootMenu:
    label: str  # the ISO volume id, also in root=live:CDLABEL=
    title: str
    product: str
    kernel: str  # path on the ISO, e.g. /images/pxeboot/vmlinuz
    initrd: str
    kernel_args: str  # root=live:CDLABEL=... rd.live.image plus bootloader --append
    timeout: int  # seconds
    media_check: bool = True  # the "Test this media" entry (rd.live.check runs the image's checkisomd5)

    def entries(self) -> list[tuple[str, str, str]]:
        """(id, menu text, kernel arguments) for every entry, in menu order."""
        check = [("check", f"Test this media & start {self.product}", f"{self.kernel_args} rd.live.check")]
        return [
            ("linux", f"Start {self.product}", self.kernel_args),
            *(check if self.media_check else []),
            ("basic", f"Start {self.product} in basic graphics mode", f"{self.kernel_args} nomodeset"),
        ]

    def entry(self, ident: str) -> tuple[str, str, str] | None:
        """The entry *ident* ("linux", "check", "basic"), or None when the menu has none."""
        return next((e for e in self.entries() if e[0] == ident), None)


def grub_cfg(menu: BootMenu) -> str:
    """grub.cfg for GRUB 2; the same text serves BIOS (boot/grub2/) and UEFI (EFI/BOOT/)."""
    entries = {ident: MenuEntry(text, menu.kernel, menu.initrd, args) for ident, text, args in menu.entries()}
    main = tuple(entries[i] for i in ("linux", "check") if i in entries)
    return grubmenu.render(GrubMenu(
        entries=main, troubleshooting=(entries["basic"],), timeout=menu.timeout, title=menu.title,
        root=("label", menu.label), modules=("gzio", "part_gpt", "part_msdos", "iso9660", "ext2"), video=True))


def isolinux_cfg(menu: BootMenu) -> str:
    """isolinux.cfg for the older --syslinux BIOS layout (timeout in tenths of a second)."""
    start, check, basic = menu.entry("linux"), menu.entry("check"), menu.entry("basic")
    assert start is not None and basic is not None
    check_lines = [
        f"label {check[0]}",
        f"  menu label T^{check[1][1:]}",
        f"  kernel {menu.kernel}",
        f"  append initrd={menu.initrd} {check[2]}",
        "",
    ] if check is not None else []
    return "\n".join(
        [
            "default vesamenu.c32",
            f"timeout {menu.timeout * 10}",
            "",
            f"menu title {menu.title}",
            "",
            f"label {start[0]}",
            f"  menu label ^{start[1]}",
            f"  kernel {menu.kernel}",
            f"  append initrd={menu.initrd} {start[2]}",
            "  menu default",
            "",
            *check_lines,
            "menu separator",
            "menu begin ^Troubleshooting",
            "  menu title Troubleshooting",
            f"label {basic[0]}",
            f"  menu label Start {menu.product} in ^basic graphics mode",
            f"  kernel {menu.kernel}",
            f"  append initrd={menu.initrd} {basic[2]}",
            "label return",
            "  menu label Return to ^main menu",
            "  menu exit",
            "menu end",
            "",
        ]
    )
