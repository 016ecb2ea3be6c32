"""Kickstart ``services`` (systemctl --root) and ``xconfig`` (default target, desktop)."""

from __future__ import annotations

import logging
from pathlib import Path

from imgcreate.configure.common import _check_line, _unit_name, _unit_path, update_assignments
from imgcreate.host.run import find_tool, run
from imgcreate.kickstart.values import Services, XSettings
from imgcreate.storage import rootfs

log = logging.getLogger("imgcreate")


def apply_services(root: Path, services: Services) -> None:
    """``services --disabled=... --enabled=...`` -> host ``systemctl --root=INSTROOT disable/enable``.

    A unit the image does not have is warned about and skipped (the build goes on), as upstream does.
    """
    if not (services.disabled or services.enabled):
        return
    systemctl = find_tool("systemctl")
    for action, names in (("disable", services.disabled), ("enable", services.enabled)):
        for name in names:
            if _unit_path(root, name) is None:
                log.warning("kickstart 'services --%sd=%s': the image has no unit %s; not %sd",
                            action, name, _unit_name(name), action)
                continue
            run([systemctl, f"--root={root}", action, _unit_name(name)],
                what=f"services --{action}d={name}")
            log.info("services: %sd %s", action, _unit_name(name))


def apply_xconfig(root: Path, xconfig: XSettings | None) -> None:
    """``xconfig --startxonboot`` -> default.target is graphical.target; ``--defaultdesktop`` -> DESKTOP= in
    /etc/sysconfig/desktop (what the display manager scripts read)."""
    if xconfig is None:
        return
    if xconfig.startx:
        if _unit_path(root, "graphical.target") is None:
            log.warning("kickstart 'xconfig --startxonboot': the image has no graphical.target unit; "
                        "default.target points to it anyway")
        rootfs.symlink(root, "/etc/systemd/system/default.target", "/usr/lib/systemd/system/graphical.target")
    desktop = xconfig.default_desktop
    if desktop:
        _check_line(desktop, "desktop")
        text = rootfs.read_file(root, "/etc/sysconfig/desktop")
        rootfs.write_file(root, "/etc/sysconfig/desktop", update_assignments(text, {"DESKTOP": desktop}))
