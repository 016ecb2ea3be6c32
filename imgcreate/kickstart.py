"""Reading kickstart files with pykickstart, once, into typed frozen values.

This is the only module that touches pykickstart: :func:`read_kickstart` parses a file into a pykickstart
KickstartParser (as upstream's does) and :func:`read_config` reads its handler into a :class:`KickstartConfig`,
which the creators and the configuration writers (:mod:`imgcreate.configure`) use.  Every option is read with a
default, because older syntax versions (RHEL7, F21, ...) lack some of them, so every kickstart syntax version
pykickstart knows keeps working.  Values are read, not judged: checks that belong to writing something (a host
name, an address, a password hash) stay with the writer, which names the kickstart command in its error.

Upstream's helpers (``get_repos``, ``get_packages``, ...) keep upstream's names and return shapes, for scripts
written against upstream's API; the build does not use them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
import os
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Union

from pykickstart import constants as ksconstants
from pykickstart import version as ksversion
from pykickstart.base import BaseHandler
from pykickstart.errors import KickstartError as PyKickstartError
from pykickstart.parser import KickstartParser

from imgcreate.errors import KickstartError

# A pykickstart KickstartParser (what read_kickstart() returns) or its handler (a BaseHandler of the kickstart's
# syntax version): every function here and every creator takes either (see as_handler()).  pykickstart ships no
# type hints; outside this module the object is only passed along, never looked into (flattened() writes it).
KickstartHandler = Union[KickstartParser, BaseHandler]

log = logging.getLogger("imgcreate")

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


_SCRIPT_KINDS = {
    ksconstants.KS_SCRIPT_PRE: ScriptKind.PRE,
    ksconstants.KS_SCRIPT_POST: ScriptKind.POST,
    ksconstants.KS_SCRIPT_ONERROR: ScriptKind.ONERROR,
    ksconstants.KS_SCRIPT_TRACEBACK: ScriptKind.TRACEBACK,
    ksconstants.KS_SCRIPT_PREINSTALL: ScriptKind.PRE_INSTALL,
}
_SELINUX_MODES = {
    ksconstants.SELINUX_ENFORCING: SELinuxMode.ENFORCING,
    ksconstants.SELINUX_PERMISSIVE: SELinuxMode.PERMISSIVE,
    ksconstants.SELINUX_DISABLED: SELinuxMode.DISABLED,
}
_GROUP_INCLUDES = {
    ksconstants.GROUP_REQUIRED: "required",
    ksconstants.GROUP_DEFAULT: "default",
    ksconstants.GROUP_ALL: "all",
}


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
class XConfig:
    """``xconfig --startxonboot --defaultdesktop=D``."""

    startx: bool = False
    default_desktop: str = ""


@dataclass(frozen=True)
class KickstartConfig:
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
    xconfig: XConfig | None = None

    def scripts_of(self, kind: ScriptKind) -> tuple[Script, ...]:
        """The scripts of one kind, in kickstart order."""
        return tuple(s for s in self.scripts if s.kind is kind)


# ---- parsing -------------------------------------------------------------------------------------------------

if TYPE_CHECKING:

    class _ParserBase:
        """The part of pykickstart's KickstartParser this module uses.  pykickstart ships no type hints, so
        this declares them for the type checker; at run time the base is the real KickstartParser."""

        handler: Any

        def __init__(self, handler: Any) -> None: ...

        def readKickstart(self, f: str, reset: bool = True) -> None: ...  # noqa: N802 (pykickstart's name)

else:
    _ParserBase = KickstartParser


class _TrackingParser(_ParserBase):
    """A KickstartParser that remembers which file (main or %include) it was reading when an error happened."""

    def __init__(self, handler: Any) -> None:
        super().__init__(handler)
        self.file_stack: list[str] = []
        self.error_file: str | None = None

    def readKickstart(self, f: str, reset: bool = True) -> None:  # noqa: N802 (pykickstart's name)
        f = self._locate(f)
        self.file_stack.append(f)
        try:
            super().readKickstart(f, reset=reset)
        except PyKickstartError:
            if self.error_file is None:
                self.error_file = f
            raise
        finally:
            self.file_stack.pop()

    def _locate(self, f: str) -> str:
        """Where an %include really is.

        pykickstart's loader cannot read ``file://`` URLs, so they become paths.  A relative name is taken
        relative to the file that includes it (pykickstart tries the current directory first, so a file of
        the same name there would win), or joined to the including URL when that file came from one.
        """
        if f.startswith("file://"):
            return urllib.parse.unquote(urllib.parse.urlsplit(f).path)
        if not self.file_stack or "://" in f or os.path.isabs(f):
            return f
        parent = self.file_stack[-1]
        if "://" in parent:
            return urllib.parse.urljoin(parent, f)
        candidate = os.path.join(os.path.dirname(os.path.abspath(parent)), f)
        return candidate if os.path.exists(candidate) else f


def read_kickstart(path: str | os.PathLike[str], version: str | None = None) -> KickstartParser:
    """Parse the kickstart file at *path* and return the pykickstart KickstartParser holding it.

    A parser, as upstream's read_kickstart() returns, because scripts written for upstream use ``ks.handler``;
    this library takes the parser or its handler alike.

    *version* is a pykickstart syntax version name such as "F38" or "RHEL9"; without it the version a
    ``#version=`` comment in the file names is used, else the newest syntax.  Errors raise KickstartError with
    the file name, the line number and pykickstart's own message.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KickstartError(f"Kickstart file '{path}' does not exist or is not a regular file.")
    if not os.access(path, os.R_OK):
        raise KickstartError(f"Kickstart file '{path}' is not readable.")
    try:
        ver = ksversion.stringToVersion(version) if version else ksversion.versionFromFile(path)
    except PyKickstartError as exc:
        raise KickstartError(f"Unknown kickstart syntax version '{version}': {exc}") from exc
    handler = ksversion.makeVersion(ver)
    parser = _TrackingParser(handler)
    try:
        parser.readKickstart(path)
    except PyKickstartError as exc:
        where = parser.error_file or path
        msg = " ".join(str(exc).split())
        lineno = getattr(exc, "lineno", None)
        line = f", line {lineno}" if lineno else ""
        raise KickstartError(f"Failed to read kickstart file '{where}'{line}: {msg}") from exc
    except OSError as exc:
        raise KickstartError(f"Failed to read kickstart file '{path}': {exc}") from exc
    return parser


# ---- reading the handler -------------------------------------------------------------------------------------


def as_handler(ks: KickstartHandler) -> KickstartHandler:
    """The pykickstart handler of *ks*: a handler itself, or a parser (upstream's API passes parsers around)."""
    return ks.handler if isinstance(ks, KickstartParser) else ks


def flattened(ks: KickstartHandler) -> str:
    """The kickstart as read, as text (``ksflatten``'s output: %include resolved): what pykickstart writes back."""
    return str(as_handler(ks))


def read_config(handler: KickstartHandler) -> KickstartConfig:
    """Read everything the build needs from a pykickstart handler or parser (see :func:`read_kickstart`), once."""
    handler = as_handler(handler)
    return KickstartConfig(
        root_partition=_read_root_partition(handler),
        partitions=tuple(_read_partition(p) for p in _items(handler, "partition", "partitions")),
        disklabel=_opt_text(_text(getattr(_command(handler, "clearpart"), "disklabel", None)).lower()),
        zerombr=bool(getattr(_command(handler, "zerombr"), "zerombr", False)),
        bootloader=_read_bootloader(getattr(handler, "bootloader", None)),
        repos=_read_repos(handler),
        packages=_read_packages(handler),
        scripts=_read_scripts(handler),
        lang=_text(getattr(getattr(handler, "lang", None), "lang", None)),
        keyboard=_read_keyboard(_command(handler, "keyboard")),
        timezone=_read_timezone(_command(handler, "timezone")),
        groups=tuple(_read_group(g) for g in _items(handler, "group", "groupList")),
        rootpw=_read_rootpw(_command(handler, "rootpw")),
        users=tuple(_read_user(u) for u in _items(handler, "user", "userList")),
        sshkeys=tuple(_read_sshkey(k) for k in _items(handler, "sshkey", "sshUserList")),
        network=tuple(_read_network_device(nd) for nd in _items(handler, "network", "network")),
        selinux=_read_selinux(_command(handler, "selinux")),
        firewall=_read_firewall(_command(handler, "firewall")),
        auth=_read_auth(handler),
        services=_read_services(getattr(handler, "services", None)),
        xconfig=_read_xconfig(_command(handler, "xconfig")),
    )


# Small readers for pykickstart's untyped attributes: "" / None / a missing attribute all mean "not given".


def _text(value: Any) -> str:
    return str(value) if value else ""


def _opt_text(value: Any) -> str | None:
    return str(value) if value else None


def _opt_int(value: Any) -> int | None:
    return int(value) if value is not None and value != "" else None


def _lineno(obj: Any) -> int | None:
    value = getattr(obj, "lineno", None)
    return int(value) if value is not None else None


def _words(value: Any) -> tuple[str, ...]:
    """A list option: pykickstart gives a list, or in some versions a comma (or ';') separated string."""
    if not value:
        return ()
    items: Iterable[Any] = value if isinstance(value, (list, tuple)) else str(value).replace(";", ",").split(",")
    return tuple(str(x).strip() for x in items if x and str(x).strip())


def _command(handler: Any, name: str) -> Any | None:
    """The handler's command object *name* if the kickstart used it, else None."""
    cmd = getattr(handler, name, None)
    return cmd if cmd is not None and getattr(cmd, "seen", False) else None


def _items(handler: Any, name: str, attr: str) -> list[Any]:
    """The data objects of a command that may appear on many lines (user, group, network, ...)."""
    return list(getattr(getattr(handler, name, None), attr, None) or [])


def _read_root_partition(handler: Any) -> RootPartition:
    part = next((p for p in _items(handler, "partition", "partitions") if p.mountpoint == "/"), None)
    size = getattr(part, "size", None) or DEFAULT_IMAGE_SIZE_MB
    return RootPartition(
        size=int(size) * 1024 * 1024,
        fstype=_text(getattr(part, "fstype", None)) or DEFAULT_FSTYPE,
        label=_opt_text(getattr(part, "label", None)),
    )


def _read_partition(p: Any) -> Partition:
    return Partition(
        mountpoint=_text(getattr(p, "mountpoint", None)),
        size=_opt_int(getattr(p, "size", None)),
        grow=bool(getattr(p, "grow", False)),
        maxsize=_opt_int(getattr(p, "maxSizeMB", None)) or None,
        fstype=_opt_text(getattr(p, "fstype", None)),
        label=_opt_text(getattr(p, "label", None)),
        ondisk=_opt_text(getattr(p, "disk", None)),
        asprimary=bool(getattr(p, "primOnly", False)),
        lineno=_lineno(p),
    )


def _read_bootloader(bl: Any) -> Bootloader:
    # pykickstart's data default is "none" when there is no bootloader line at all: that is not the user's word,
    # so it reads as None (the line's own default, when it is there, is "mbr").
    location = _opt_text(getattr(bl, "location", None)) if getattr(bl, "seen", False) else None
    return Bootloader(append=_text(getattr(bl, "appendLine", None)).strip(),
                      timeout=_opt_int(getattr(bl, "timeout", None)), location=location)


def _read_repos(handler: Any) -> tuple[RepoSpec, ...]:
    """The ``url`` install tree and the ``repo`` lines."""
    url = getattr(handler, "url", None)
    tree = _read_install_tree(url) if url is not None else None
    repos = tuple(_read_repo(r) for r in _items(handler, "repo", "repoList"))
    return (tree, *repos) if tree is not None else repos


def _read_install_tree(url: Any) -> RepoSpec | None:
    baseurl = _opt_text(getattr(url, "url", None))
    mirrorlist = _opt_text(getattr(url, "mirrorlist", None))
    metalink = _opt_text(getattr(url, "metalink", None))
    if not (baseurl or mirrorlist or metalink):
        return None
    return RepoSpec(
        name="install-tree",
        baseurl=(baseurl,) if baseurl else (),
        mirrorlist=mirrorlist,
        metalink=metalink,
        proxy=_opt_text(getattr(url, "proxy", None)),
        noverifyssl=bool(getattr(url, "noverifyssl", False)),
    )


def _read_repo(r: Any) -> RepoSpec:
    metalink = getattr(r, "metalink", None)  # a bool (False) in the versions that do not know it
    return RepoSpec(
        name=str(r.name),
        baseurl=tuple(u for u in _text(getattr(r, "baseurl", None)).split(",") if u),
        mirrorlist=_opt_text(getattr(r, "mirrorlist", None)),
        metalink=metalink if isinstance(metalink, str) and metalink else None,
        includepkgs=tuple(str(x) for x in getattr(r, "includepkgs", None) or []),
        excludepkgs=tuple(str(x) for x in getattr(r, "excludepkgs", None) or []),
        cost=_opt_int(getattr(r, "cost", None)),
        proxy=_opt_text(getattr(r, "proxy", None)),
        noverifyssl=bool(getattr(r, "noverifyssl", False)),
        sslcacert=_opt_text(getattr(r, "sslcacert", None)),
        sslclientcert=_opt_text(getattr(r, "sslclientcert", None)),
        sslclientkey=_opt_text(getattr(r, "sslclientkey", None)),
    )


def _read_packages(handler: Any) -> PackageSpec:
    p = handler.packages
    inst_langs = getattr(p, "instLangs", None)
    return PackageSpec(
        packages=tuple(str(x) for x in p.packageList),
        groups=tuple((str(g.name), _GROUP_INCLUDES.get(g.include, "default")) for g in p.groupList),
        excluded=tuple(str(x) for x in p.excludedList),
        excluded_groups=tuple(str(g.name) for g in p.excludedGroupList),
        environment=_opt_text(getattr(p, "environment", None)),
        nocore=bool(getattr(p, "nocore", False)),
        excludedocs=bool(getattr(p, "excludeDocs", False)),
        inst_langs=str(inst_langs) if inst_langs is not None else None,  # "" means: no languages
        exclude_weakdeps=bool(getattr(p, "excludeWeakdeps", False)),
        ignore_missing=getattr(p, "handleMissing", None) == ksconstants.KS_MISSING_IGNORE,
        default=bool(getattr(p, "default", False)),
        modules=_read_modules(handler),
    )


def _read_modules(handler: Any) -> list[tuple[str, str | None, bool]]:
    cmd = getattr(handler, "module", None)
    return [
        (str(m.name), _opt_text(getattr(m, "stream", None)), bool(getattr(m, "enable", True)))
        for m in (cmd.dataList() if cmd is not None else [])
    ]


def _read_scripts(handler: Any) -> tuple[Script, ...]:
    """Every script section pykickstart knows; a kind this module does not know (none today) is left out."""
    return tuple(
        Script(
            kind=_SCRIPT_KINDS[s.type],
            body=str(s.script),
            interp=_text(getattr(s, "interp", None)) or DEFAULT_INTERPRETER,
            in_chroot=bool(getattr(s, "inChroot", False)),
            error_on_fail=bool(getattr(s, "errorOnFail", False)),
            logfile=_opt_text(getattr(s, "logfile", None)),
            lineno=_lineno(s) or 0,
        )
        for s in handler.scripts
        if s.type in _SCRIPT_KINDS
    )


def _read_keyboard(kb: Any | None) -> Keyboard | None:
    if kb is None:
        return None
    layouts = tuple(str(x) for x in getattr(kb, "x_layouts", None) or [])
    return Keyboard(
        keymap=_console_keymap(kb, layouts),
        x_layouts=layouts,
        switch_options=tuple(str(o) for o in getattr(kb, "switch_options", None) or [] if o),
    )


def _console_keymap(kb: Any, layouts: tuple[str, ...]) -> str:
    """``--vckeymap``, else the old positional form (``keyboard fr``).

    pykickstart's ``keyboard`` property falls back to the first X layout, which is no console keymap name
    ('de (nodeadkeys)'): that fallback is left out, and the writer derives the keymap from the layout itself.
    """
    vc_keymap = _text(getattr(kb, "vc_keymap", None))
    if vc_keymap:
        return vc_keymap
    legacy = _text(getattr(kb, "keyboard", None))
    return "" if layouts and legacy == layouts[0] else legacy


def _read_timezone(tz: Any | None) -> Timezone | None:
    if tz is None:
        return None
    return Timezone(zone=_text(getattr(tz, "timezone", None)), utc=bool(getattr(tz, "isUtc", False)),
                    nontp=bool(getattr(tz, "nontp", False)))


def _read_group(g: Any) -> Group:
    return Group(name=str(g.name), gid=_opt_int(getattr(g, "gid", None)), lineno=_lineno(g))


def _read_rootpw(rp: Any | None) -> RootPassword | None:
    if rp is None:
        return None
    return RootPassword(
        password=_text(getattr(rp, "password", None)),
        crypted=bool(getattr(rp, "isCrypted", False)),
        lock=bool(getattr(rp, "lock", False)),
        allow_ssh=bool(getattr(rp, "allow_ssh", False)),
        lineno=_lineno(rp),
    )


def _read_user(u: Any) -> User:
    return User(
        name=str(u.name),
        lineno=_lineno(u),
        uid=_opt_int(getattr(u, "uid", None)),
        gid=_opt_int(getattr(u, "gid", None)),
        groups=tuple(str(g) for g in getattr(u, "groups", None) or [] if g),
        homedir=_text(getattr(u, "homedir", None)),
        shell=_text(getattr(u, "shell", None)),
        gecos=_text(getattr(u, "gecos", None)),
        password=_text(getattr(u, "password", None)),
        crypted=bool(getattr(u, "isCrypted", False)),
        lock=bool(getattr(u, "lock", False)),
    )


def _read_sshkey(k: Any) -> SshKey:
    return SshKey(username=_text(getattr(k, "username", None)), key=_text(getattr(k, "key", None)).strip(),
                  lineno=_lineno(k))


_VIRTUAL_DEVICE_OPTIONS = ("bondslaves", "vlanid", "teamslaves", "bridgeslaves")


def _read_network_device(nd: Any) -> NetworkDevice:
    def text(name: str) -> str:
        return _text(getattr(nd, name, None))

    def flag(name: str) -> bool:
        return bool(getattr(nd, name, False))

    return NetworkDevice(
        device=text("device"),
        hostname=text("hostname"),
        wireless=any(text(o) for o in ("essid", "wpakey", "wepkey")),
        virtual=tuple(o for o in _VIRTUAL_DEVICE_OPTIONS if text(o)),
        bootproto=_bootproto(text("bootProto")),
        ip=text("ip"),
        netmask=text("netmask"),
        gateway=text("gateway"),
        nameservers=_words(getattr(nd, "nameserver", None)),
        noipv4=flag("noipv4"),
        ipv6=text("ipv6").strip(),
        ipv6gateway=text("ipv6gateway"),
        noipv6=flag("noipv6"),
        mtu=text("mtu"),
        onboot=getattr(nd, "onboot", True) is not False,
        nodefroute=flag("nodefroute"),
        nodns=flag("nodns"),
        dns_search=_words(getattr(nd, "ipv4_dns_search", None)),
    )


def _bootproto(word: str) -> BootProto:
    """``--bootproto``; pykickstart empties it for ``--noipv4``, and DHCP is its default."""
    try:
        return BootProto(word.lower())
    except ValueError:
        return BootProto.DHCP


def _read_selinux(sel: Any | None) -> SELinuxMode | None:
    return _SELINUX_MODES.get(getattr(sel, "selinux", None)) if sel is not None else None


def _read_firewall(fw: Any | None) -> Firewall | None:
    if fw is None:
        return None
    if getattr(fw, "use_system_defaults", False):
        mode = FirewallMode.SYSTEM_DEFAULTS
    else:
        mode = FirewallMode.DISABLED if getattr(fw, "enabled", None) is False else FirewallMode.ENABLED
    return Firewall(
        mode=mode,
        trusts=tuple(str(x) for x in getattr(fw, "trusts", None) or []),
        ports=tuple(str(x) for x in getattr(fw, "ports", None) or []),
        remove_services=tuple(str(x) for x in getattr(fw, "remove_services", None) or []),
        services=tuple(str(x) for x in getattr(fw, "services", None) or []),
    )


def _read_auth(handler: Any) -> Auth:
    return Auth(authselect=_text(getattr(_command(handler, "authselect"), "authselect", None)),
                authconfig=_text(getattr(_command(handler, "authconfig"), "authconfig", None)))


def _read_services(svc: Any) -> Services:
    return Services(enabled=_words(getattr(svc, "enabled", None)), disabled=_words(getattr(svc, "disabled", None)))


def _read_xconfig(xc: Any | None) -> XConfig | None:
    if xc is None:
        return None
    return XConfig(startx=bool(getattr(xc, "startX", False)),
                   default_desktop=_text(getattr(xc, "defaultdesktop", None)))


# ---- upstream's helpers, for API users (the build itself uses read_config) -----------------------------------
#
# Scripts written for upstream livecd-tools call these on what read_kickstart() returns, so they keep upstream's
# names, arguments, defaults and return shapes: pykickstart's own objects and plain values, not the typed ones
# above.  Each takes a parser or a handler.  An attribute an older syntax version lacks reads as not given.


class RepoTuple(NamedTuple):
    """One ``repo`` line as upstream's get_repos() gives it.  A plain 8-tuple to callers that unpack or index
    it, as upstream's scripts do; the field names are only for reading."""

    name: str
    baseurl: str | None  # pykickstart's string ("" without --baseurl), or the repo_urls replacement
    mirrorlist: str | None
    proxy: str | None
    includepkgs: list[str]
    excludepkgs: list[str]
    cost: int | None
    sslverify: bool  # not --noverifyssl


def _raw_text(value: Any) -> str | None:
    """pykickstart's value as a str, keeping "" apart from None as upstream's callers see them."""
    return None if value is None else str(value)


def _root_partitions(ks: KickstartHandler) -> list[Any]:
    return [p for p in _items(as_handler(ks), "partition", "partitions") if p.mountpoint == "/"]


def _bootloader_option(ks: KickstartHandler, name: str) -> Any:
    return getattr(getattr(as_handler(ks), "bootloader", None), name, None)


def _packages_option(ks: KickstartHandler, name: str, default: Any = None) -> Any:
    return getattr(as_handler(ks).packages, name, default)


def _packages_list(ks: KickstartHandler, name: str) -> list[Any]:
    """A copy of a %packages list, so that adding *required* never changes the handler's own list."""
    return list(_packages_option(ks, name) or [])


def get_image_size(ks: KickstartHandler, default: int | None = None) -> int | None:
    """Size of the root filesystem in bytes: the last ``part /`` with ``--size`` (MiB), else *default*.

    *default* is in bytes and None unless given, as upstream's, so that a caller can tell "no size" apart.
    """
    size = 0
    for part in _root_partitions(ks):
        if getattr(part, "size", None):
            size = int(part.size)
    return size * 1024 * 1024 if size > 0 else default


def get_image_fstype(ks: KickstartHandler, default: str | None = None) -> str | None:
    """The first ``part /`` ``--fstype``, else *default*."""
    return next((str(p.fstype) for p in _root_partitions(ks) if getattr(p, "fstype", None)), default)


def get_image_fslabel(ks: KickstartHandler) -> str | None:
    """``part / --label`` (not upstream's: its creators never read the label)."""
    return read_config(ks).root_partition.label


def get_timeout(ks: KickstartHandler, default: int | None = None) -> int | None:
    """``bootloader --timeout`` in seconds, else *default*."""
    timeout = _bootloader_option(ks, "timeout")
    return int(timeout) if timeout is not None else default


def get_kernel_args(ks: KickstartHandler, default: str = "ro rd.live.image quiet") -> str:
    """*default* followed by ``bootloader --append``, or *default* alone without one.

    Upstream's test is ``appendLine is None``; pykickstart's value without ``--append`` is "", which would add
    a trailing space, so an empty append counts as none here.
    """
    append = _bootloader_option(ks, "appendLine")
    return f"{default} {append}" if append else default


def get_default_kernel(ks: KickstartHandler, default: str | None = None) -> str | None:
    """``bootloader --default``, else *default*."""
    kernel = _bootloader_option(ks, "default")
    return str(kernel) if kernel else default


def get_repos(ks: KickstartHandler, repo_urls: Mapping[str, str] | None = None) -> list[RepoTuple]:
    """The ``repo`` lines as upstream's 8-tuples (see RepoTuple), one per name, a later line replacing an
    earlier one.  ``repo_urls[name]`` (livecd-creator's ``--repo NAME,URL``) replaces that repo's baseurl and
    drops its mirrorlist.

    The ``url`` line is not among them, as upstream's.  The build does not use this: it reads typed RepoSpecs,
    ``url`` included, from ``read_config(ks).repos``.
    """
    repos: dict[str, RepoTuple] = {}
    for repo in _items(as_handler(ks), "repo", "repoList"):
        if str(repo.name) in repos:
            log.warning("Overriding already specified repo %s", repo.name)
        repos[str(repo.name)] = _repo_tuple(repo, repo_urls or {})
    return list(repos.values())


def _repo_tuple(repo: Any, repo_urls: Mapping[str, str]) -> RepoTuple:
    name = str(repo.name)
    baseurl, mirrorlist = _raw_text(getattr(repo, "baseurl", None)), _raw_text(getattr(repo, "mirrorlist", None))
    if name in repo_urls:
        baseurl, mirrorlist = repo_urls[name], None
    return RepoTuple(
        name=name,
        baseurl=baseurl,
        mirrorlist=mirrorlist,
        proxy=_raw_text(getattr(repo, "proxy", None)),
        includepkgs=[str(x) for x in getattr(repo, "includepkgs", None) or []],
        excludepkgs=[str(x) for x in getattr(repo, "excludepkgs", None) or []],
        cost=_opt_int(getattr(repo, "cost", None)),
        sslverify=not getattr(repo, "noverifyssl", False),
    )


def convert_method_to_repo(ks: KickstartHandler) -> None:
    """Upstream's call to pykickstart's ``methodToRepo()``, kept so that scripts calling it run.

    pykickstart builds a repo object from the ``url`` line there but does not add it to the repo list, so this
    changes nothing, for upstream too; its errors (no ``url`` line) are ignored as upstream ignores them.
    """
    with contextlib.suppress(AttributeError, PyKickstartError):
        as_handler(ks).repo.methodToRepo()


def get_packages(ks: KickstartHandler, required: Iterable[str] = ()) -> list[str]:
    """%packages' package names, then *required* (what an image type adds)."""
    return [str(x) for x in _packages_list(ks, "packageList")] + list(required)


def get_groups(ks: KickstartHandler, required: Iterable[Any] = ()) -> list[Any]:
    """%packages' groups as pykickstart Group objects (.name, .include), then *required*."""
    return _packages_list(ks, "groupList") + list(required)


def get_environment(ks: KickstartHandler) -> str | None:
    """The %packages environment (``@^name``), or None."""
    return _opt_text(_packages_option(ks, "environment"))


def get_excluded(ks: KickstartHandler, required: Iterable[str] = ()) -> list[str]:
    """The packages %packages excludes (``-name``), then *required* (what an image type never wants)."""
    return [str(x) for x in _packages_list(ks, "excludedList")] + list(required)


def get_excluded_groups(ks: KickstartHandler, required: Iterable[Any] = ()) -> list[Any]:
    """The groups %packages excludes (``-@name``) as pykickstart Group objects, then *required*."""
    return _packages_list(ks, "excludedGroupList") + list(required)


def get_partitions(ks: KickstartHandler, required: Iterable[Any] = ()) -> list[Any]:
    """pykickstart's ``part`` objects.  *required* is accepted and not used, as upstream's."""
    del required
    return _items(as_handler(ks), "partition", "partitions")


def ignore_missing(ks: KickstartHandler) -> bool:
    """``%packages --ignoremissing``."""
    return bool(_packages_option(ks, "handleMissing") == ksconstants.KS_MISSING_IGNORE)


def exclude_docs(ks: KickstartHandler) -> bool:
    """``%packages --excludedocs``."""
    return bool(_packages_option(ks, "excludeDocs", False))


def exclude_weakdeps(ks: KickstartHandler) -> bool | None:
    """``%packages --excludeWeakdeps``: True, else None (upstream's shape, not False)."""
    return True if _packages_option(ks, "excludeWeakdeps", False) else None


def nocore(ks: KickstartHandler) -> bool:
    """``%packages --nocore``."""
    return bool(_packages_option(ks, "nocore", False))


def inst_langs(ks: KickstartHandler) -> str | None:
    """``%packages --instLangs`` as written (None without it; "" from a syntax version that lacks it)."""
    return _raw_text(_packages_option(ks, "instLangs", ""))


def get_modules(ks: KickstartHandler) -> list[tuple[str, str | None, bool]]:
    """``module --name --stream [--disable]`` lines (EL8/EL9 modularity) as (name, stream, enable)."""
    return _read_modules(as_handler(ks))


def _pykickstart_scripts(ks: KickstartHandler, kind: ScriptKind) -> list[Any]:
    return [s for s in as_handler(ks).scripts if _SCRIPT_KINDS.get(s.type) is kind]


def get_post_scripts(ks: KickstartHandler) -> list[Any]:
    """pykickstart's own %post Script objects, as upstream's API returns them (the build uses scripts_of())."""
    return _pykickstart_scripts(ks, ScriptKind.POST)


def get_pre_scripts(ks: KickstartHandler) -> list[Any]:
    """pykickstart's own %pre Script objects, as upstream's API returns them."""
    return _pykickstart_scripts(ks, ScriptKind.PRE)


def get_onerror_scripts(ks: KickstartHandler) -> list[Any]:
    """pykickstart's own %onerror Script objects (not upstream's: it has no %onerror)."""
    return _pykickstart_scripts(ks, ScriptKind.ONERROR)


def selinux_enabled(ks: KickstartHandler) -> bool:
    """True only with a ``selinux --enforcing`` or ``--permissive`` line, as upstream's.

    The build reads it differently: no ``selinux`` line leaves the image's own SELinux setting, which counts
    as enabled (``read_config(ks).selinux`` is None then).
    """
    mode = getattr(getattr(as_handler(ks), "selinux", None), "selinux", None)
    return mode in (ksconstants.SELINUX_ENFORCING, ksconstants.SELINUX_PERMISSIVE)


# ---- names and labels --------------------------------------------------------------------------------------


def build_name(kscfg: str, prefix: str | None = None, suffix: str | None = None, maxlen: int | None = None) -> str:
    """Make an image name from a kickstart path, exactly as upstream livecd-tools does.

    The name is *prefix* + the kickstart's base name without extension (less *prefix* if it starts with it) +
    "-" + *suffix* (default: the current time as YYYYmmddHHMM).  Exact, because names and default labels are
    what users and their scripts see.  When the name is longer than *maxlen*, the prefix is dropped and the base
    name cut so that the suffix fits whole (upstream: the suffix counts most, then the kickstart's name); with a
    *maxlen* shorter than the suffix the result is still longer than *maxlen*, as upstream's.
    """
    name = os.path.basename(kscfg)
    idx = name.rfind(".")
    if idx >= 0:
        name = name[:idx]
    if prefix is None:
        prefix = ""
    if suffix is None:
        suffix = time.strftime("%Y%m%d%H%M")
    if name.startswith(prefix):
        name = name[len(prefix) :]
    ret = prefix + name + "-" + suffix
    if maxlen is not None and len(ret) > maxlen:
        ret = name[: maxlen - len(suffix) - 1] + "-" + suffix
    return ret


FSLABEL_MAX = 32  # ISO 9660 volume identifiers hold 32 characters
FSLABEL_MAXLEN = FSLABEL_MAX  # upstream's name
_LABEL_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")


def label_from_name(name: str, maxlen: int = FSLABEL_MAX) -> str:
    """A usable label made from an image name: characters labels cannot hold become '_'."""
    return "".join(c if c in _LABEL_CHARS else "_" for c in name)[:maxlen]


def check_fslabel(label: str, maxlen: int = FSLABEL_MAX) -> str:
    """Return *label* if it is usable as a volume label and on the kernel command line (CDLABEL=), else raise.

    Spaces and other characters would have to be escaped for dracut's ``root=live:CDLABEL=`` and are not
    allowed by ISO 9660 volume identifiers, so only letters, digits, '_', '-' and '.' are accepted.
    """
    if not label:
        raise KickstartError("The filesystem label is empty: give one with --fslabel.")
    if len(label) > maxlen:
        raise KickstartError(
            f"The filesystem label '{label}' is {len(label)} characters long; labels are limited to {maxlen}."
        )
    bad = sorted(set(label) - _LABEL_CHARS)
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise KickstartError(
            f"The filesystem label '{label}' contains characters that cannot be used ({shown}): "
            "use only letters, digits, '_', '-' and '.'."
        )
    return label
