"""GRUB 2 menus: one model and one renderer for every way this project boots with GRUB.

Live ISOs (BIOS and UEFI), disk images, sticks made by livecd-iso-to-disk and PXE trees each describe what
their menu boots as a :class:`GrubMenu`; :func:`render` writes the ``grub.cfg`` text, so a fix to how GRUB is
told something (a serial console, a module, quoting) is made once for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MenuEntry:
    """One ``menuentry``: the text shown, and the kernel and initrd (paths on GRUB's root) with its arguments."""

    text: str
    kernel: str
    initrd: str
    args: str


@dataclass(frozen=True)
class GrubMenu:
    """A whole grub.cfg.  *entries* come first (the first is the default), *troubleshooting* in a submenu.

    *root*: how GRUB finds the filesystem the paths are on: ``("label", LABEL)``, ``("uuid", UUID)``, or None
    (the device GRUB was loaded from, e.g. the TFTP server).  *serial*: also use the first serial port, where the
    kernel's console is.  *video*: load every video driver and keep the mode for the kernel (live media's
    graphical boot).  *announce*: print what is loaded (slow TFTP transfers otherwise look like a hang)."""

    entries: tuple[MenuEntry, ...]
    timeout: int
    title: str | None = None
    root: tuple[str, str] | None = None
    modules: tuple[str, ...] = ()
    serial: bool = False
    video: bool = False
    announce: bool = False
    troubleshooting: tuple[MenuEntry, ...] = ()


_CLASSES = "--class fedora --class gnu-linux --class gnu --class os"


def render(menu: GrubMenu) -> str:
    """The ``grub.cfg`` text of *menu*."""
    lines = [f"# {menu.title}"] if menu.title else []
    lines += ["set default=0", f"set timeout={menu.timeout}"]
    if menu.serial:
        lines += ["serial --unit=0 --speed=115200", "terminal_input serial console", "terminal_output serial console"]
    if menu.video:
        lines += ["function load_video {", "  insmod all_video", "}", "load_video", "set gfxpayload=keep"]
    lines += [f"insmod {module}" for module in menu.modules]
    if menu.root is not None:
        how, value = menu.root
        lines.append(f"search --no-floppy --set=root -l '{value}'" if how == "label"
                     else f"search --no-floppy --fs-uuid --set=root {value}")
    lines.append("")
    for entry in menu.entries:
        lines += _entry(entry, menu.announce)
    if menu.troubleshooting:
        lines.append("submenu 'Troubleshooting -->' {")
        for entry in menu.troubleshooting:
            lines += _entry(entry, menu.announce, "    ")
        lines.append("}")
    lines.append("")
    return "\n".join(lines)


def _entry(entry: MenuEntry, announce: bool, indent: str = "") -> list[str]:
    body = [f"echo 'Loading {entry.kernel} and {entry.initrd}...'"] if announce else []
    body += [f"linux {entry.kernel} {entry.args}".rstrip(), f"initrd {entry.initrd}"]
    return [f"{indent}menuentry '{entry.text}' {_CLASSES} {{", *(f"{indent}    {line}" for line in body),
            f"{indent}}}"]
