"""Reading kickstart files with pykickstart into :class:`~imgcreate.kickstart.values.KickstartSettings`.

Every option is read with a default, because older syntax versions (RHEL7, F21, ...) lack some of them, so every
kickstart syntax version pykickstart knows keeps working.  Values are read, not judged: checks that belong to
writing something (a host name, an address, a password hash) stay with the writer, which names the kickstart
command in its error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pykickstart import constants as ksconstants
from pykickstart.parser import KickstartParser

from imgcreate.kickstart.parser import KickstartHandler
from imgcreate.kickstart.values import (
    DEFAULT_FSTYPE,
    DEFAULT_IMAGE_SIZE_MB,
    DEFAULT_INTERPRETER,
    Auth,
    Bootloader,
    BootProto,
    Firewall,
    FirewallMode,
    Group,
    Keyboard,
    KickstartSettings,
    NetworkDevice,
    PackageSpec,
    Partition,
    RepoSpec,
    RootPartition,
    RootPassword,
    Script,
    ScriptKind,
    SELinuxMode,
    Services,
    SshKey,
    Timezone,
    User,
    XSettings,
)

# How pykickstart names what the values name.
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


# ---- reading the handler -------------------------------------------------------------------------------------


def as_handler(ks: KickstartHandler) -> KickstartHandler:
    """The pykickstart handler of *ks*: a handler itself, or a parser (upstream's API passes parsers around)."""
    return ks.handler if isinstance(ks, KickstartParser) else ks


def flattened(ks: KickstartHandler) -> str:
    """The kickstart as read, as text (``ksflatten``'s output: %include resolved): what pykickstart writes back."""
    return str(as_handler(ks))


def read_config(handler: KickstartHandler) -> KickstartSettings:
    """Read everything the build needs from a pykickstart handler or parser (see :func:`read_kickstart`), once."""
    handler = as_handler(handler)
    return KickstartSettings(
        root_partition=_read_root_partition(handler),
        partitions=tuple(_read_partition(p) for p in _items(handler, "partition", "partitions")),
        disklabel=_opt_text(_text(getattr(_command(handler, "clearpart"), "disklabel", None)).lower()),
        zerombr=bool(getattr(_command(handler, "zerombr"), "zerombr", False)),
        bootloader=_read_bootloader(getattr(handler, "bootloader", None)),
        repos=_read_repos(handler),
        packages=read_packages(handler),
        scripts=_read_scripts(handler),
        lang=read_lang(getattr(handler, "lang", None)),
        keyboard=read_keyboard(used(getattr(handler, "keyboard", None))),
        timezone=read_timezone(used(getattr(handler, "timezone", None))),
        groups=tuple(_read_group(g) for g in _items(handler, "group", "groupList")),
        rootpw=read_rootpw(used(getattr(handler, "rootpw", None))),
        users=tuple(_read_user(u) for u in _items(handler, "user", "userList")),
        sshkeys=tuple(_read_sshkey(k) for k in _items(handler, "sshkey", "sshUserList")),
        network=read_network(getattr(handler, "network", None)),
        selinux=read_selinux(used(getattr(handler, "selinux", None))),
        firewall=read_firewall(used(getattr(handler, "firewall", None))),
        auth=read_auth(used(getattr(handler, "authselect", None)), used(getattr(handler, "authconfig", None))),
        services=read_services(getattr(handler, "services", None)),
        xconfig=read_xconfig(used(getattr(handler, "xconfig", None))),
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
    return used(getattr(handler, name, None))


# ---- one command object at a time: read_config reads the handler with these, and upstream's *Config classes
# (imgcreate.configure.upstream) read the command object their apply() is given with the same ones.


def used(cmd: Any | None) -> Any | None:
    """*cmd* if the kickstart used the command (pykickstart's ``seen``), else None: a command not used changes
    nothing in the image."""
    return cmd if cmd is not None and getattr(cmd, "seen", False) else None


def read_lang(cmd: Any | None) -> str:
    """``lang``: the locale, "" when not given."""
    return _text(getattr(cmd, "lang", None))


def read_network(cmd: Any | None) -> tuple[NetworkDevice, ...]:
    """``network``: one value per line."""
    return tuple(read_network_device(nd) for nd in getattr(cmd, "network", None) or [])


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
                      timeout=_opt_int(getattr(bl, "timeout", None)), location=location,
                      disabled=bool(getattr(bl, "disabled", False)))


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


def read_packages(handler: Any) -> PackageSpec:
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


def read_keyboard(kb: Any | None) -> Keyboard | None:
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


def read_timezone(tz: Any | None) -> Timezone | None:
    if tz is None:
        return None
    return Timezone(zone=_text(getattr(tz, "timezone", None)), utc=bool(getattr(tz, "isUtc", False)),
                    nontp=bool(getattr(tz, "nontp", False)))


def _read_group(g: Any) -> Group:
    return Group(name=str(g.name), gid=_opt_int(getattr(g, "gid", None)), lineno=_lineno(g))


def read_rootpw(rp: Any | None) -> RootPassword | None:
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


def read_network_device(nd: Any) -> NetworkDevice:
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


def read_selinux(sel: Any | None) -> SELinuxMode | None:
    return _SELINUX_MODES.get(getattr(sel, "selinux", None)) if sel is not None else None


def read_firewall(fw: Any | None) -> Firewall | None:
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


def read_auth(authselect: Any | None, authconfig: Any | None) -> Auth:
    """``authselect`` and the older ``auth``/``authconfig``: both command objects (None: not used)."""
    return Auth(authselect=_text(getattr(authselect, "authselect", None)),
                authconfig=_text(getattr(authconfig, "authconfig", None)))


def read_services(svc: Any) -> Services:
    return Services(enabled=_words(getattr(svc, "enabled", None)), disabled=_words(getattr(svc, "disabled", None)))


def read_xconfig(xc: Any | None) -> XSettings | None:
    if xc is None:
        return None
    return XSettings(startx=bool(getattr(xc, "startX", False)),
                   default_desktop=_text(getattr(xc, "defaultdesktop", None)))


