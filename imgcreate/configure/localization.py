"""Kickstart ``lang``, ``keyboard`` and ``timezone``: locale.conf, vconsole.conf, the X11 keyboard and
/etc/localtime."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from imgcreate.configure.common import _check_line, _quote, _unit_path, update_assignments
from imgcreate.errors import KickstartError
from imgcreate.host.run import find_tool, run
from imgcreate.kickstart.values import Keyboard, Timezone
from imgcreate.storage import inroot, rootfs

log = logging.getLogger("imgcreate")


def apply_lang(root: Path, lang: str) -> None:
    """``lang`` -> /etc/locale.conf (LANG=...), as systemd-localed and anaconda write it."""
    if lang:
        _check_line(lang, "language")
        rootfs.write_file(root, "/etc/locale.conf", f'LANG="{lang}"\n')


def _split_layout(layout: str) -> tuple[str, str]:
    """'de (nodeadkeys)' -> ('de', 'nodeadkeys'); 'us' -> ('us', '')."""
    m = re.match(r"^\s*([^\s(]+)\s*(?:\(\s*([^)\s]*)\s*\))?\s*$", layout)
    if not m:
        raise KickstartError(f"keyboard: '{layout}' is not a keyboard layout like 'us' or 'de (nodeadkeys)'.")
    return m.group(1), m.group(2) or ""


def apply_keyboard(root: Path, keyboard: Keyboard | None) -> None:
    """``keyboard`` -> /etc/vconsole.conf (KEYMAP) and, with X layouts, /etc/X11/xorg.conf.d/00-keyboard.conf.

    Old syntax (``keyboard us``) gives only the console keymap.  Without ``--vckeymap`` the console keymap is
    derived from the first X layout (``de (nodeadkeys)`` -> ``de-nodeadkeys``), as localectl does for the
    common layouts.  Other settings in vconsole.conf (FONT=...) are kept.
    """
    if keyboard is None:
        return
    layouts = [_split_layout(x) for x in keyboard.x_layouts]
    keymap = keyboard.keymap
    if not keymap and layouts:
        layout, variant = layouts[0]
        keymap = f"{layout}-{variant}" if variant else layout
    if keymap:
        _check_line(keymap, "console keymap")
        text = rootfs.read_file(root, "/etc/vconsole.conf")
        rootfs.write_file(root, "/etc/vconsole.conf", update_assignments(text, {"KEYMAP": _quote(keymap)}))
    if layouts:
        _write_x11_keyboard(root, layouts, keyboard.switch_options)


def _write_x11_keyboard(root: Path, layouts: list[tuple[str, str]], options: tuple[str, ...]) -> None:
    """/etc/X11/xorg.conf.d/00-keyboard.conf for the X layouts (with variants) and ``--switch`` options."""
    lines = [
        "# Written by image-creator from the kickstart 'keyboard' command, in the format of",
        "# systemd-localed(8). Use localectl(1) to change it.",
        'Section "InputClass"',
        '        Identifier "system-keyboard"',
        '        MatchIsKeyboard "on"',
        f'        Option "XkbLayout" "{",".join(lay for lay, _ in layouts)}"',
    ]
    if any(v for _, v in layouts):
        lines.append(f'        Option "XkbVariant" "{",".join(v for _, v in layouts)}"')
    if options:
        lines.append(f'        Option "XkbOptions" "{",".join(options)}"')
    lines.append("EndSection")
    for line in lines:
        _check_line(line, "keyboard setting")
    rootfs.write_file(root, "/etc/X11/xorg.conf.d/00-keyboard.conf", "\n".join(lines) + "\n")


_ZONE_RE = re.compile(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$")


def apply_timezone(root: Path, timezone: Timezone | None) -> None:
    """``timezone ZONE`` -> /etc/localtime as the relative link systemd makes; ``--utc`` -> /etc/adjtime UTC.

    The link is made even when the image has no tzdata (warned), so installing tzdata later makes it work.
    ``--nontp`` disables chronyd when the image has it, as anaconda does.
    """
    if timezone is None:
        return
    zone = timezone.zone
    if zone:
        if not _ZONE_RE.match(zone) or ".." in zone.split("/"):
            raise KickstartError(f"timezone: '{zone}' is not a time zone name like 'Europe/Berlin' or 'UTC'.")
        rootfs.symlink(root, "/etc/localtime", f"../usr/share/zoneinfo/{zone}")
        if not inroot.is_file(root, f"/usr/share/zoneinfo/{zone}"):
            log.warning(
                "kickstart 'timezone %s': the image has no /usr/share/zoneinfo/%s (add the 'tzdata' package to "
                "%%packages); /etc/localtime points to it anyway", zone, zone,
            )
    if timezone.utc:
        text = rootfs.read_file(root, "/etc/adjtime")
        lines = (text or "").splitlines()
        if len(lines) < 2:
            lines = ["0.0 0 0.0", "0"]
        lines = [*lines[:2], "UTC"]
        rootfs.write_file(root, "/etc/adjtime", "\n".join(lines) + "\n")
    if timezone.nontp and _unit_path(root, "chronyd.service"):
        run([find_tool("systemctl"), f"--root={root}", "disable", "chronyd.service"], what="timezone --nontp")
