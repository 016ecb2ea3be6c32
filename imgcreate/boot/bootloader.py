"""Boot loader configuration text for live media: GRUB 2 (BIOS and UEFI) and isolinux.

Pure functions from a :class:`BootMenu` to file contents, so the menus can be unit tested and are the same
in every boot path: "Start <product>", "Test this media & start <product>" (rd.live.check) and a
"Troubleshooting" entry that starts with basic graphics (nomodeset).
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

    def entries(self) -> list[tuple[str, str, str]]:
        """(id, menu text, kernel arguments) for every entry, in menu order."""
        return [
            ("linux", f"Start {self.product}", self.kernel_args),
            ("check", f"Test this media & start {self.product}", f"{self.kernel_args} rd.live.check"),
            ("basic", f"Start {self.product} in basic graphics mode", f"{self.kernel_args} nomodeset"),
        ]


def grub_cfg(menu: BootMenu) -> str:
    """grub.cfg for GRUB 2; the same text serves BIOS (boot/grub2/) and UEFI (EFI/BOOT/)."""
    start, check, basic = (MenuEntry(text, menu.kernel, menu.initrd, args) for _, text, args in menu.entries())
    return grubmenu.render(GrubMenu(
        entries=(start, check), troubleshooting=(basic,), timeout=menu.timeout, title=menu.title,
        root=("label", menu.label), modules=("gzio", "part_gpt", "part_msdos", "iso9660", "ext2"), video=True))


def isolinux_cfg(menu: BootMenu) -> str:
    """isolinux.cfg for the older --syslinux BIOS layout (timeout in tenths of a second)."""
    start, check, basic = menu.entries()
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
            f"label {check[0]}",
            f"  menu label T^{check[1][1:]}",
            f"  kernel {menu.kernel}",
            f"  append initrd={menu.initrd} {check[2]}",
            "",
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
