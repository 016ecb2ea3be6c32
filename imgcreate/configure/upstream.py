"""Upstream's ``*Config`` classes: one kickstart command object applied to an install root by the build's writers.

Creators written against livecd-tools configure their root the way upstream's ``ImageCreator.configure()`` does::

    ksh = self.ks.handler
    kickstart.LanguageConfig(self._instroot).apply(ksh.lang)
    kickstart.FirewallConfig(self._instroot).apply(ksh.firewall)
    ...

Each ``apply()`` here reads its command object with the reader the build reads the whole kickstart with
(:mod:`imgcreate.kickstart.reader`) and hands the value to the writer the build calls (this package's
``apply_*``): a creator using these classes and one using the build get the same files, byte for byte, and a
fix in a writer reaches both.  What that means where upstream wrote something else (NetworkManager keyfiles,
not ifcfg files; nothing for a command the kickstart did not use) is in README's differences table.

The classes live here, with the writers, and ``imgcreate.kickstart`` (upstream's module name) names them: the
writers read :mod:`imgcreate.kickstart`'s values, so the kickstart package cannot import this one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imgcreate.configure.accounts import apply_rootpw
from imgcreate.configure.localization import apply_keyboard, apply_lang, apply_timezone
from imgcreate.configure.network import apply_network
from imgcreate.configure.packaging import apply_rpm_macros
from imgcreate.configure.security import apply_auth, apply_firewall, apply_selinux_config, relabel
from imgcreate.configure.services import apply_services, apply_xconfig
from imgcreate.errors import CreatorError, KickstartError
from imgcreate.host.run import run
from imgcreate.kickstart import reader
from imgcreate.kickstart.parser import KickstartCommand, KickstartHandler
from imgcreate.kickstart.reader import as_handler, used
from imgcreate.kickstart.values import RootPassword
from imgcreate.storage import inroot

__all__ = [
    "AuthConfig",
    "AuthSelect",
    "FirewallConfig",
    "KeyboardConfig",
    "KickstartConfig",
    "LanguageConfig",
    "NetworkConfig",
    "RPMMacroConfig",
    "RootPasswordConfig",
    "SelinuxConfig",
    "ServicesConfig",
    "TimezoneConfig",
    "XConfig",
]


class KickstartConfig:
    """A base class for applying kickstart configurations to a system (upstream's).

    *instroot* is the install root as upstream's creators pass it, a ``str``; a ``Path`` is accepted and kept
    as its ``str``, so ``self.instroot + "/etc"`` works as in upstream's subclasses.
    """

    def __init__(self, instroot: str | os.PathLike[str]) -> None:
        self.instroot = os.fspath(instroot)

    @property
    def root(self) -> Path:
        """The install root as a Path, for the writers."""
        return Path(self.instroot)

    def path(self, subpath: str) -> str:
        """*subpath* (``/etc/...``) below the install root, as upstream joins it (a plain concatenation)."""
        return self.instroot + subpath

    def chroot(self) -> None:
        """Change root into the install root: upstream's ``preexec_fn`` for commands run inside the image."""
        os.chroot(self.instroot)
        os.chdir("/")

    def call(self, args: Sequence[str]) -> int:
        """Run *args* inside the install root, with the image's own program; its exit status.

        KickstartError when the image lacks the program, as upstream (its "Unable to run").
        """
        result = run(list(args), root=self.instroot, check=False, what=f"Running {args[0]} in the image")
        if result.returncode == 127 and "failed to run command" in result.stdout:  # chroot's own words
            raise KickstartError(f"Unable to run {list(args)}: the image at {self.instroot} has no {args[0]}.")
        return result.returncode

    def apply(self, *args: Any) -> None:
        """Apply the command object given; the base class applies nothing (as upstream's)."""


class LanguageConfig(KickstartConfig):
    """``lang`` -> /etc/locale.conf."""

    def apply(self, kslang: KickstartCommand) -> None:
        apply_lang(self.root, reader.read_lang(kslang))


class KeyboardConfig(KickstartConfig):
    """``keyboard`` -> /etc/vconsole.conf (KEYMAP) and the X11 keyboard configuration."""

    def apply(self, kskeyboard: KickstartCommand) -> None:
        apply_keyboard(self.root, reader.read_keyboard(used(kskeyboard)))


class TimezoneConfig(KickstartConfig):
    """``timezone`` -> the /etc/localtime link (and /etc/adjtime for ``--utc``)."""

    def apply(self, kstimezone: KickstartCommand) -> None:
        apply_timezone(self.root, reader.read_timezone(used(kstimezone)))


class AuthSelect(KickstartConfig):
    """``authselect`` -> the image's own authselect."""

    def apply(self, ksauthselect: KickstartCommand) -> None:
        apply_auth(self.root, reader.read_auth(used(ksauthselect), None))


class AuthConfig(KickstartConfig):
    """``auth``/``authconfig`` -> the image's own ``authconfig --update --nostart`` (upstream's older class)."""

    def apply(self, ksauthconfig: KickstartCommand) -> None:
        apply_auth(self.root, reader.read_auth(None, used(ksauthconfig)))


class FirewallConfig(KickstartConfig):
    """``firewall`` -> the image's own firewall-offline-cmd."""

    def apply(self, ksfirewall: KickstartCommand) -> None:
        apply_firewall(self.root, reader.read_firewall(used(ksfirewall)))


class RootPasswordConfig(KickstartConfig):
    """``rootpw`` -> root's /etc/shadow entry (hashed on the host; the plain text never reaches a command line)."""

    def lock(self) -> None:
        """Lock root's password (``rootpw --lock``)."""
        apply_rootpw(self.root, RootPassword(lock=True))

    def set_encrypted(self, password: str) -> None:
        """Set root's password to *password*, a crypt(3) hash."""
        apply_rootpw(self.root, RootPassword(password=password, crypted=True))

    def set_unencrypted(self, password: str) -> None:
        """Set root's password to *password*, hashed here."""
        apply_rootpw(self.root, RootPassword(password=password))

    def apply(self, ksrootpw: KickstartCommand) -> None:
        apply_rootpw(self.root, reader.read_rootpw(used(ksrootpw)))


class ServicesConfig(KickstartConfig):
    """``services --enabled --disabled`` -> the host's ``systemctl --root``."""

    def apply(self, ksservices: KickstartCommand) -> None:
        apply_services(self.root, reader.read_services(ksservices))


class XConfig(KickstartConfig):
    """``xconfig --startxonboot --defaultdesktop`` -> default.target and /etc/sysconfig/desktop."""

    RUNLEVELS = {3: "multi-user.target", 5: "graphical.target"}

    def apply(self, ksxconfig: KickstartCommand) -> None:
        apply_xconfig(self.root, reader.read_xconfig(used(ksxconfig)))


class RPMMacroConfig(KickstartConfig):
    """``%packages --excludedocs --inst-langs`` -> /etc/rpm/macros.imgcreate; given the whole parser or handler."""

    def apply(self, ks: KickstartHandler | None) -> None:
        if not ks:
            return
        apply_rpm_macros(self.root, reader.read_packages(as_handler(ks)))


class NetworkConfig(KickstartConfig):
    """``network`` -> /etc/hostname and NetworkManager keyfiles (not upstream's ifcfg files)."""

    def apply(self, ksnet: KickstartCommand) -> None:
        apply_network(self.root, reader.read_network(ksnet))


class SelinuxConfig(KickstartConfig):
    """``selinux`` -> SELINUX= in /etc/selinux/config, then every file labelled with the image's own setfiles.

    The build writes the config before %post and labels after it; a creator calling this class after its
    %post, as upstream's ``configure()`` does, gets both.
    """

    def relabel(self, ksselinux: KickstartCommand, policy_name: str | None = None) -> None:
        """Label the image's files with its own policy (the policy named in its /etc/selinux/config)."""
        relabel(self.root, reader.read_selinux(used(ksselinux)))

    def apply(self, ksselinux: KickstartCommand) -> None:
        mode = reader.read_selinux(used(ksselinux))
        apply_selinux_config(self.root, mode)
        relabel(self.root, mode)

    def find_policy_file(self, policy_name: str) -> str:
        """The binary policy of *policy_name*, as a path inside the image (``/etc/selinux/P/policy/policy.N``)."""
        guest = f"/etc/selinux/{policy_name}/policy"
        for name in reversed(inroot.listdir(self.root, guest)):
            if name.startswith("policy.") and inroot.is_file(self.root, f"{guest}/{name}"):
                return f"{guest}/{name}"
        raise CreatorError(f'Unable to find SELinux binary policy file in "{guest}/" of {self.instroot}')
