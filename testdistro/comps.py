"""comps.xml (package groups) for the test distribution."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence
from xml.sax.saxutils import escape


@dataclass
class Group:
    id: str
    name: str
    description: str
    mandatory: list[str] = field(default_factory=list)
    default: list[str] = field(default_factory=list)
    optional: list[str] = field(default_factory=list)
    uservisible: bool = True


BOOT_PACKAGES = ["kernel", "syslinux", "grub2-pc-modules", "grub2-efi-x64", "grub2-efi-x64-cdboot",
                 "grub2-efi-x64-modules", "shim-x64"]
# What installing a boot loader onto a disk needs (the disk creator's kickstarts name them): optional in @boot, so
# @boot (and the live images made with it) stay as they are.
DISK_BOOT_PACKAGES = ["grub2-pc", "grub2-tools"]


def groups(filler_names: Sequence[str] = ()) -> list[Group]:
    gs = [
        Group("core", "Core", "Smallest bootable userland: base layout, busybox and the live init.",
              mandatory=["filesystem", "busybox", "live-init"], uservisible=False),
        Group("base", "Base", "A demo application (pulls libdemo, recommends demo-extras).",
              mandatory=["demo-app"], optional=["docs-demo"]),
        Group("docs", "Documentation", "A package with %doc files and translations.", mandatory=["docs-demo"]),
        Group("post", "Scriptlets", "A package with a %post scriptlet.", mandatory=["post-demo"]),
        Group("services", "Services", "systemd unit files for services tests.", mandatory=["demo-service"]),
        Group("boot", "Boot loaders", "Kernel, initramfs and the BIOS/UEFI boot loaders.",
              mandatory=list(BOOT_PACKAGES), optional=list(DISK_BOOT_PACKAGES)),
        Group("admin-tools", "Administration tools", "Stand-ins for firewall, authselect and SELinux tools.",
              mandatory=["firewalld", "authselect", "policycoreutils", "selinux-policy-targeted"]),
    ]
    if filler_names:
        gs.append(Group("filler", "Filler", "Benchmark filler packages.", mandatory=list(filler_names),
                        uservisible=False))
    return gs


def comps_xml(filler_names: Sequence[str] = ()) -> str:
    gs = groups(filler_names)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">',
           "<comps>"]
    for g in gs:
        out += ["  <group>",
                f"    <id>{escape(g.id)}</id>",
                f"    <name>{escape(g.name)}</name>",
                f"    <description>{escape(g.description)}</description>",
                "    <default>false</default>",
                f"    <uservisible>{'true' if g.uservisible else 'false'}</uservisible>",
                "    <packagelist>"]
        for kind, names in (("mandatory", g.mandatory), ("default", g.default), ("optional", g.optional)):
            out += [f'      <packagereq type="{kind}">{escape(n)}</packagereq>' for n in names]
        out += ["    </packagelist>", "  </group>"]
    out += ["  <category>",
            "    <id>testdistro</id>",
            "    <name>Testdistro</name>",
            "    <description>Every group of the livecd-tools test distribution.</description>",
            "    <display_order>10</display_order>",
            "    <grouplist>"]
    out += [f"      <groupid>{escape(g.id)}</groupid>" for g in gs]
    out += ["    </grouplist>", "  </category>"]
    out += ["  <environment>",
            "    <id>live-environment</id>",
            "    <name>Live environment</name>",
            "    <description>A bootable live system: core and boot loaders, with the demo app as an option."
            "</description>",
            "    <display_order>10</display_order>",
            "    <grouplist>",
            "      <groupid>core</groupid>",
            "      <groupid>boot</groupid>",
            "    </grouplist>",
            "    <optionlist>",
            "      <groupid>base</groupid>",
            "    </optionlist>",
            "  </environment>"]
    out.append("</comps>")
    return "\n".join(out) + "\n"
