"""Kickstart commands on a live ISO: a representative set, and the check of each one's effect in the ISO.

tests/integration/test_kickstart_commands.py checks every command on loop images; a live build configures
its root the same way but then minimizes it, compresses it into a squashfs and writes boot menus, so the
commands most users rely on are checked again here on the squashfs root of one live build (read with debugfs,
not booted): tests/integration/test_upstream_options.py builds LIVEA with them and runs each check.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Prepended to LIVEA's kickstart; its %packages gets PACKAGES.
COMMANDS = """lang de_DE.UTF-8
keyboard --vckeymap=de-nodeadkeys --xlayouts='de (nodeadkeys)'
timezone Europe/Berlin --utc
rootpw --plaintext "live root"
user --name=alice --groups=wheel --password=alice-pw --plaintext --uid=1500
network --hostname=live.example.com
services --enabled=demo --disabled=demo-off
selinux --permissive
firewall --enabled --service=ssh
bootloader --timeout 1 --append="ks.live.arg=1"
"""
RHEL9_ONLY = 'syspurpose --role="Server"'  # in RHEL9's kickstart syntax, not in the newest (Fedora's): --ksversion
PACKAGES = "demo-service\nfirewalld\npolicycoreutils\nselinux-policy-targeted\n"


class Root:
    """What the checks read: files, links and listings of the live root, and the ISO's boot menu text."""

    def __init__(self, cat: Callable[[str], str], debugfs: Callable[[str], str], menus: str) -> None:
        self.cat = cat
        self.debugfs = debugfs
        self.menus = menus

    def readlink(self, path: str) -> str:
        found = re.search(r'Fast link dest: "([^"]*)"', self.debugfs(f"stat {path}"))
        assert found, f"{path} is not a symbolic link"
        return found.group(1)

    def entries(self, name: str) -> dict[str, list[str]]:
        return {ln.split(":")[0]: ln.split(":") for ln in self.cat(f"/etc/{name}").splitlines()}


def lang(r: Root) -> None:
    assert r.cat("/etc/locale.conf") == 'LANG="de_DE.UTF-8"\n'


def keyboard(r: Root) -> None:
    assert r.cat("/etc/vconsole.conf") == 'KEYMAP="de-nodeadkeys"\n'


def timezone(r: Root) -> None:
    assert r.readlink("/etc/localtime") == "../usr/share/zoneinfo/Europe/Berlin"


def rootpw(r: Root) -> None:
    from tests.support import password_matches

    assert password_matches("live root", r.entries("shadow")["root"][1])


def user(r: Root) -> None:
    assert r.entries("passwd")["alice"][2] == "1500"
    assert "alice" in r.entries("group")["wheel"][3].split(",")


def network(r: Root) -> None:
    assert r.cat("/etc/hostname") == "live.example.com\n"


def services(r: Root) -> None:
    wants = r.debugfs("ls /etc/systemd/system/multi-user.target.wants")
    assert "demo.service" in wants and "demo-off.service" not in wants


def selinux(r: Root) -> None:
    assert "SELINUX=permissive" in r.cat("/etc/selinux/config").splitlines()


def firewall(r: Root) -> None:
    assert "/usr/bin/firewall-offline-cmd --enabled --service=ssh" in r.cat("/var/log/standin-calls.log")


def bootloader(r: Root) -> None:
    """On a live ISO --append goes on the ISO's own boot menus (there is no installed boot loader)."""
    assert "ks.live.arg=1" in r.menus


CHECKS: dict[str, Callable[[Root], None]] = {
    "lang": lang, "keyboard": keyboard, "timezone": timezone, "rootpw": rootpw, "user": user, "network": network,
    "services": services, "selinux": selinux, "firewall": firewall, "bootloader": bootloader,
}
