"""Kickstart commands that configure the installed system (lang, keyboard, timezone, accounts, network, ...).

Each writer takes the install root and the pykickstart handler.  Files change only through
:mod:`imgcreate.rootfs`, so nothing is ever written through a symlink out of the root; programs run either
inside the image (``run(..., root=instroot)``: the image's own firewall-offline-cmd, authselect, setfiles,
shadow-utils) or on the host with ``--root`` (systemctl).  A command the kickstart does not use changes
nothing.  When the image lacks the program a command needs, the build goes on with a warning naming the
command, the program and the package to add to %packages, as upstream livecd-tools does.

Commands that mean nothing for an image (clearpart, zerombr, reboot, install, cdrom, ...) are parsed by
pykickstart and ignored here.

One module a job: :mod:`.localization` (lang, keyboard, timezone), :mod:`.accounts` (group, rootpw,
user, sshkey), :mod:`.network`, :mod:`.security` (selinux, firewall, authselect/auth), :mod:`.services`
(services, xconfig), :mod:`.boot` (bootloader), :mod:`.packaging` (rpm macros for later installs),
and :mod:`.common` for what they share.  This package
holds the entry points :mod:`imgcreate.creator` calls, in upstream's order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from imgcreate import kickstart, rootfs
from imgcreate.config.accounts import KsUser, apply_groups, apply_rootpw, apply_sshkeys, apply_users
from imgcreate.config.boot import apply_bootloader
from imgcreate.config.common import IMAGE_TOOL_PACKAGES, image_tool, update_assignments, warn_missing_tool
from imgcreate.config.localization import apply_keyboard, apply_lang, apply_timezone
from imgcreate.config.network import NM_CONNECTIONS, apply_network, keyfile_for
from imgcreate.config.packaging import RPM_MACROS, apply_rpm_macros, rpm_macros_text
from imgcreate.config.security import apply_auth, apply_firewall, apply_selinux_config, firewall_args, relabel
from imgcreate.config.services import apply_services, apply_xconfig

__all__ = [
    "IMAGE_TOOL_PACKAGES",
    "NM_CONNECTIONS",
    "RPM_MACROS",
    "KsUser",
    "apply_after_post",
    "apply_auth",
    "apply_before_post",
    "apply_bootloader",
    "apply_firewall",
    "apply_groups",
    "apply_keyboard",
    "apply_lang",
    "apply_network",
    "apply_rootpw",
    "apply_rpm_macros",
    "apply_selinux_config",
    "apply_services",
    "apply_sshkeys",
    "apply_timezone",
    "apply_users",
    "apply_xconfig",
    "firewall_args",
    "image_tool",
    "keyfile_for",
    "relabel",
    "rpm_macros_text",
    "update_assignments",
    "warn_missing_tool",
    "write_fstab",
]


def write_fstab(root: Path, text: str) -> None:
    rootfs.write_file(root, "/etc/fstab", text)


def apply_before_post(root: Path, ks: Any) -> None:
    """Everything upstream's configure() applies before the boot configuration and %post.

    The order follows upstream: accounts before ssh keys (which need the user's home), the firewall before
    ``services`` (firewall-offline-cmd enables firewalld; an explicit ``services --disabled`` must win), and
    ``xconfig`` after ``services`` so its default target is the last word.
    """
    apply_lang(root, ks)
    apply_keyboard(root, ks)
    apply_timezone(root, ks)
    apply_groups(root, ks)
    apply_rootpw(root, ks)
    apply_users(root, ks)
    apply_sshkeys(root, ks)
    apply_network(root, ks)
    apply_selinux_config(root, ks)
    apply_firewall(root, ks)
    apply_auth(root, ks)
    apply_services(root, ks)
    apply_xconfig(root, ks)
    apply_bootloader(root, ks)
    apply_rpm_macros(root, kickstart.get_packages(ks))


def apply_after_post(root: Path, ks: Any) -> None:
    """What must come last: the SELinux relabel, so files %post created get their labels too (as upstream)."""
    relabel(root, ks)
