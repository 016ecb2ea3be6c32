"""The kickstart as typed frozen values: what the build reads from a kickstart, once (see reader.py)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

DEFAULT_IMAGE_SIZE_MB = 4096
DEFAULT_FSTYPE = "ext4"
DEFAULT_INTERPRETER = "/bin/sh"


# ---- modes ---------------------------------------------------------------------------------------------------


class ScriptKind(enum.Enum):
    """Which section a script came from; the value is the section's name, for messages."""

    PRE = "%pre"
    POST = "%post"
    ONERROR = "%onerror"
    TRACEBACK = "%traceback"
    PRE_INSTALL = "%pre-install"


class SELinuxMode(enum.Enum):
    """``selinux --enforcing|--permissive|--disabled``; the value is the word /etc/selinux/config uses."""

    ENFORCING = "enforcing"
    PERMISSIVE = "permissive"
    DISABLED = "disabled"


class FirewallMode(enum.Enum):
    """``firewall --enabled|--disabled|--use-system-defaults``; the value is the option's name."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    SYSTEM_DEFAULTS = "use-system-defaults"


class BootProto(enum.Enum):
    """``network --bootproto``; the value is the kickstart word."""

    DHCP = "dhcp"
    BOOTP = "bootp"
    STATIC = "static"
    QUERY = "query"
    IBFT = "ibft"


# ---- the values ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RootPartition:
    """``part / --size MiB --fstype T --label L``: what the image's root filesystem is."""

    size: int = DEFAULT_IMAGE_SIZE_MB * 1024 * 1024  # bytes
    fstype: str = DEFAULT_FSTYPE
    label: str | None = None


@dataclass(frozen=True)
class Bootloader:
    """``bootloader --append --timeout --location``: read here once for the boot menu, /etc/default/grub and
    the disk layout."""

    append: str = ""  # the kernel arguments, stripped
    timeout: int | None = None  # seconds
    # --location as written ("mbr" when the line has none, pykickstart's default); None without a bootloader
    # line.  "none": install no boot loader (a disk image then needs no BIOS boot partition).
    location: str | None = None
    # --disabled: no boot loader at all (anaconda installs no boot loader package either); how container base
    # images' kickstarts say "this disk is never booted", as --location=none said before.
    disabled: bool = False

    @property
    def installs(self) -> bool:
        """A boot loader is to be installed: neither ``--location=none`` nor ``--disabled``."""
        return not self.disabled and self.location != "none"

    def kernel_args(self, base: str = "") -> str:
        """*base* (the arguments the image type needs) followed by the kickstart's ``--append``."""
        return f"{base} {self.append}".strip() if self.append else base

    def timeout_or(self, default: int) -> int:
        """The menu timeout: ``--timeout``, else *default*."""
        return self.timeout if self.timeout is not None else default


@dataclass(frozen=True)
class Partition:
    """One ``part``/``partition`` line, as written: the disk layout (:mod:`imgcreate.disk.layout`) judges it.

    Sizes are MiB, as kickstart gives them.  None means the option was not given, so that the planner can tell
    "no --size" (use a default) from a size.
    """

    mountpoint: str  # "/", "/boot", "/boot/efi", "biosboot", "swap", ...
    size: int | None = None  # --size, MiB
    grow: bool = False
    maxsize: int | None = None  # --maxsize, MiB (pykickstart's 0 reads as None)
    fstype: str | None = None  # --fstype as written ("efi", "biosboot", "ext4", ...)
    label: str | None = None
    ondisk: str | None = None  # --ondisk/--ondrive
    asprimary: bool = False
    lineno: int | None = None


@dataclass(frozen=True)
class RepoSpec:
    """One repository the build installs from (a kickstart ``repo`` line, or ``url``)."""

    name: str
    baseurl: tuple[str, ...] = ()
    mirrorlist: str | None = None
    metalink: str | None = None
    includepkgs: tuple[str, ...] = ()
    excludepkgs: tuple[str, ...] = ()
    cost: int | None = None
    proxy: str | None = None
    noverifyssl: bool = False
    sslcacert: str | None = None
    sslclientcert: str | None = None
    sslclientkey: str | None = None


@dataclass(frozen=True)
class PackageSpec:
    """What ``%packages`` asks for, in the terms the package backend needs."""

    packages: tuple[str, ...] = ()
    groups: tuple[tuple[str, str], ...] = ()  # (group name or id, "required"|"default"|"all")
    excluded: tuple[str, ...] = ()
    excluded_groups: tuple[str, ...] = ()
    environment: str | None = None
    nocore: bool = False
    excludedocs: bool = False
    inst_langs: str | None = None
    exclude_weakdeps: bool = False
    ignore_missing: bool = False
    default: bool = False
    # (name, stream, enable).  A list only because DnfInstaller.apply_modules() is typed to take one.
    modules: list[tuple[str, str | None, bool]] = field(default_factory=list)

    @property
    def rpm_install_langs(self) -> str | None:
        """rpm's %_install_langs for ``--instLangs`` (a comma or colon list; empty means none), or None."""
        if self.inst_langs is None:
            return None
        return ":".join(x for x in self.inst_langs.replace(",", ":").split(":") if x) or "none"

    def with_extra(self, required: Iterable[str] = (), excluded: Iterable[str] = ()) -> PackageSpec:
        """This spec plus the packages an image type always needs (*required*) or never wants (*excluded*)."""
        return dataclasses.replace(self, packages=(*self.packages, *required), excluded=(*self.excluded, *excluded))


@dataclass(frozen=True)
class Script:
    """One %pre, %post, %onerror (...) section."""

    kind: ScriptKind
    body: str  # the script text
    interp: str = DEFAULT_INTERPRETER
    in_chroot: bool = False
    error_on_fail: bool = False
    logfile: str | None = None
    lineno: int = 0


@dataclass(frozen=True)
class Keyboard:
    """``keyboard``: the console keymap as given (``--vckeymap``, or the old ``keyboard MAP``) and X layouts."""

    keymap: str = ""  # "" when only X layouts are given: the writer derives one from the first
    x_layouts: tuple[str, ...] = ()  # as given: 'us', 'de (nodeadkeys)'
    switch_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Timezone:
    """``timezone ZONE [--utc] [--nontp]``."""

    zone: str = ""
    utc: bool = False
    nontp: bool = False


@dataclass(frozen=True)
class Group:
    """One ``group --name [--gid]`` line (a system group, not a comps group)."""

    name: str
    gid: int | None = None
    lineno: int | None = None


@dataclass(frozen=True)
class RootPassword:
    """``rootpw [--iscrypted|--plaintext] [--lock] [--allow-ssh] [PASSWORD]``."""

    password: str = ""
    crypted: bool = False
    lock: bool = False
    allow_ssh: bool = False
    lineno: int | None = None


@dataclass(frozen=True)
class User:
    """One ``user`` line."""

    name: str
    lineno: int | None = None
    uid: int | None = None
    gid: int | None = None
    groups: tuple[str, ...] = ()  # as given: 'wheel' or 'admins(5000)'
    homedir: str = ""
    shell: str = ""
    gecos: str = ""
    password: str = ""
    crypted: bool = False
    lock: bool = False


@dataclass(frozen=True)
class SshKey:
    """One ``sshkey --username=USER "KEY"`` line."""

    username: str
    key: str
    lineno: int | None = None


@dataclass(frozen=True)
class NetworkDevice:
    """One ``network`` line.  Strings are as given ("" when absent); the writer checks addresses."""

    device: str = ""
    hostname: str = ""
    wireless: bool = False  # --essid, --wpakey or --wepkey: not written for images
    virtual: tuple[str, ...] = ()  # which of bondslaves, vlanid, teamslaves, bridgeslaves were given
    bootproto: BootProto = BootProto.DHCP
    ip: str = ""
    netmask: str = ""
    gateway: str = ""
    nameservers: tuple[str, ...] = ()
    noipv4: bool = False
    ipv6: str = ""  # "auto", "dhcp" or an address
    ipv6gateway: str = ""
    noipv6: bool = False
    mtu: str = ""
    onboot: bool = True
    nodefroute: bool = False
    nodns: bool = False
    dns_search: tuple[str, ...] = ()  # --ipv4-dns-search


@dataclass(frozen=True)
class Firewall:
    """``firewall``."""

    mode: FirewallMode = FirewallMode.ENABLED
    trusts: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()
    remove_services: tuple[str, ...] = ()
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class Auth:
    """The arguments of ``authselect`` and of the older ``auth``/``authconfig`` ("" when absent)."""

    authselect: str = ""
    authconfig: str = ""


@dataclass(frozen=True)
class Services:
    """``services --disabled=... --enabled=...``."""

    enabled: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()


@dataclass(frozen=True)
class XSettings:
    """``xconfig --startxonboot --defaultdesktop=D``."""

    startx: bool = False
    default_desktop: str = ""


@dataclass(frozen=True)
class KickstartSettings:
    """Everything a build reads from a kickstart.  A command the kickstart does not use is None (or empty)."""

    root_partition: RootPartition = RootPartition()
    partitions: tuple[Partition, ...] = ()  # every part/partition line, in kickstart order
    disklabel: str | None = None  # clearpart --disklabel, lower case ("gpt", "msdos")
    zerombr: bool = False
    bootloader: Bootloader = Bootloader()
    repos: tuple[RepoSpec, ...] = ()
    packages: PackageSpec = field(default_factory=PackageSpec)
    scripts: tuple[Script, ...] = ()
    lang: str = ""
    keyboard: Keyboard | None = None
    timezone: Timezone | None = None
    groups: tuple[Group, ...] = ()
    rootpw: RootPassword | None = None
    users: tuple[User, ...] = ()
    sshkeys: tuple[SshKey, ...] = ()
    network: tuple[NetworkDevice, ...] = ()
    selinux: SELinuxMode | None = None  # None: no selinux line (SELinux counts as enabled)
    firewall: Firewall | None = None
    auth: Auth = Auth()
    services: Services = Services()
    xconfig: XSettings | None = None

    def scripts_of(self, kind: ScriptKind) -> tuple[Script, ...]:
        """The scripts of one kind, in kickstart order."""
        return tuple(s for s in self.scripts if s.kind is kind)


