"""Kickstart commands that configure the installed system (lang, keyboard, timezone, accounts, network, ...).

Each writer takes the install root and the typed value it needs, read once from the kickstart by
:func:`imgcreate.kickstart.read_config` (the entry points take the whole KickstartSettings).  Files change only
through :mod:`imgcreate.storage.rootfs`, so nothing is ever written through a symlink out of the root; programs run
either inside the image (``run(..., root=instroot)``: the image's own firewall-offline-cmd, authselect,
setfiles, shadow-utils) or on the host with ``--root`` (systemctl).  A command the kickstart does not use
changes nothing.  When the image lacks the program a command needs, the build goes on with a warning naming
the command, the program and the package to add to %packages, as upstream livecd-tools does.

Commands that mean nothing for an image (clearpart, zerombr, reboot, install, cdrom, ...) are parsed, then
ignored.

One module a job: :mod:`.localization` (lang, keyboard, timezone), :mod:`.accounts` (group, rootpw,
user, sshkey), :mod:`.network`, :mod:`.security` (selinux, firewall, authselect/auth), :mod:`.services`
(services, xconfig), :mod:`.boot` (bootloader), :mod:`.packaging` (rpm macros for later installs),
and :mod:`.common` for what they share.  This package
holds the entry points :mod:`imgcreate.creator` calls, in upstream's order.
"""

from __future__ import annotations

from pathlib import Path

from imgcreate.configure.accounts import KsUser, apply_groups, apply_rootpw, apply_sshkeys, apply_users
from imgcreate.configure.boot import apply_bootloader
from imgcreate.configure.common import IMAGE_TOOL_PACKAGES, image_tool, update_assignments, warn_missing_tool
from imgcreate.configure.localization import apply_keyboard, apply_lang, apply_timezone
from imgcreate.configure.network import NM_CONNECTIONS, apply_network, keyfile_for
from imgcreate.configure.packaging import RPM_MACROS, apply_rpm_macros, rpm_macros_text
from imgcreate.configure.security import apply_auth, apply_firewall, apply_selinux_config, firewall_args, relabel
from imgcreate.configure.services import apply_services, apply_xconfig
from imgcreate.kickstart.values import KickstartSettings
from imgcreate.storage import rootfs

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


# The pseudo filesystems every image's /etc/fstab lists after its own filesystems, as upstream's.
PSEUDO_FSTAB = (
    "devpts     /dev/pts  devpts  gid=5,mode=620  0 0\n"
    "tmpfs      /dev/shm  tmpfs   defaults        0 0\n"
    "proc       /proc     proc    defaults        0 0\n"
    "sysfs      /sys      sysfs   defaults        0 0\n"
)


def write_fstab(root: Path, text: str) -> None:
    rootfs.write_file(root, "/etc/fstab", text)


def apply_before_post(root: Path, cfg: KickstartSettings) -> None:
    """Everything upstream's configure() applies before the boot configuration and %post.

    The order follows upstream: accounts before ssh keys (which need the user's home), the firewall before
    ``services`` (firewall-offline-cmd enables firewalld; an explicit ``services --disabled`` must win), and
    ``xconfig`` after ``services`` so its default target is the last word.
    """
    apply_lang(root, cfg.lang)
    apply_keyboard(root, cfg.keyboard)
    apply_timezone(root, cfg.timezone)
    apply_groups(root, cfg.groups)
    apply_rootpw(root, cfg.rootpw)
    apply_users(root, cfg.users)
    apply_sshkeys(root, cfg.sshkeys)
    apply_network(root, cfg.network)
    apply_selinux_config(root, cfg.selinux)
    apply_firewall(root, cfg.firewall)
    apply_auth(root, cfg.auth)
    apply_services(root, cfg.services)
    apply_xconfig(root, cfg.xconfig)
    apply_bootloader(root, cfg.bootloader)
    apply_rpm_macros(root, cfg.packages)


def apply_after_post(root: Path, cfg: KickstartSettings) -> None:
    """What must come last: the SELinux relabel, so files %post created get their labels too (as upstream)."""
    relabel(root, cfg.selinux)
