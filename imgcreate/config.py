"""Kickstart commands that configure the installed system (lang, keyboard, timezone, accounts, network, ...).

Each writer takes the install root and the pykickstart handler.  Files change only through
:mod:`imgcreate.rootfs`, so nothing is ever written through a symlink out of the root; programs run either
inside the image (``run(..., root=instroot)``: the image's own firewall-offline-cmd, authselect, setfiles,
shadow-utils) or on the host with ``--root`` (systemctl).  A command the kickstart does not use changes
nothing.  When the image lacks the program a command needs, the build goes on with a warning naming the
command, the program and the package to add to %packages, as upstream livecd-tools does.

Commands that mean nothing for an image (clearpart, zerombr, reboot, install, cdrom, ...) are parsed by
pykickstart and ignored here.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import shlex
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pykickstart import constants as ksconstants

from imgcreate import passwords, rootfs
from imgcreate.errors import KickstartError
from imgcreate.run import find_tool, run

log = logging.getLogger("imgcreate")

# Programs we run inside the image, and the package (Fedora/EL) that provides each.
IMAGE_TOOL_PACKAGES: dict[str, str] = {
    "firewall-offline-cmd": "firewalld",
    "authselect": "authselect",
    "authconfig": "authselect-compat",
    "setfiles": "policycoreutils",
    "useradd": "shadow-utils",
    "groupadd": "shadow-utils",
    "usermod": "shadow-utils",
    "chpasswd": "shadow-utils",
}
_TOOL_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
_UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
              "/usr/lib/systemd/system", "/lib/systemd/system")
_UNIT_SUFFIXES = (".service", ".socket", ".target", ".timer", ".path", ".mount", ".automount", ".swap",
                  ".slice", ".scope", ".device")
NM_CONNECTIONS = "/etc/NetworkManager/system-connections"


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


def apply_after_post(root: Path, ks: Any) -> None:
    """What must come last: the SELinux relabel, so files %post created get their labels too (as upstream)."""
    relabel(root, ks)


# ---- helpers ---------------------------------------------------------------------------------------------------


def _seen(cmd: Any) -> bool:
    return bool(cmd is not None and getattr(cmd, "seen", False))


def image_tool(root: Path, name: str) -> str | None:
    """The path (inside the image) of an executable the image ships, or None."""
    for d in _TOOL_DIRS:
        host = rootfs.resolve_in_root(root, f"{d}/{name}")
        if host.is_file() and os.access(host, os.X_OK):
            return f"{d}/{name}"
    return None


def warn_missing_tool(command: str, tool: str, what: str) -> None:
    """The one warning for a kickstart command whose program the image lacks: names command, program, package."""
    pkg = IMAGE_TOOL_PACKAGES.get(tool, tool)
    log.warning(
        "kickstart '%s': the image has no '%s' (add the '%s' package to %%packages); %s",
        command, tool, pkg, what,
    )


def update_assignments(text: str | None, values: dict[str, str]) -> str:
    """Set ``KEY=value`` lines in a shell-style config file, keeping every other line and comment as it was."""
    lines = (text or "").splitlines()
    done: set[str] = set()
    out: list[str] = []
    for line in lines:
        key = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
        if key in values:
            if key not in done:
                out.append(f"{key}={values[key]}")
                done.add(key)
            continue
        out.append(line)
    out.extend(f"{k}={v}" for k, v in values.items() if k not in done)
    return "\n".join(out) + "\n"


def _quote(value: str) -> str:
    """Quote a value for a ``KEY="value"`` line that both a shell and systemd's environment-file parser read."""
    return '"' + re.sub(r'(["\\`$])', r"\\\1", value) + '"'


def _check_line(value: str, what: str) -> str:
    if "\n" in value or "\r" in value:
        raise KickstartError(f"The {what} '{value!r}' contains a line break.")
    return value


# ---- lang, keyboard, timezone ---------------------------------------------------------------------------------


def apply_lang(root: Path, ks: Any) -> None:
    """``lang`` -> /etc/locale.conf (LANG=...), as systemd-localed and anaconda write it."""
    lang = getattr(ks.lang, "lang", None)
    if lang:
        _check_line(lang, "language")
        rootfs.write_file(root, "/etc/locale.conf", f'LANG="{lang}"\n')


def _split_layout(layout: str) -> tuple[str, str]:
    """'de (nodeadkeys)' -> ('de', 'nodeadkeys'); 'us' -> ('us', '')."""
    m = re.match(r"^\s*([^\s(]+)\s*(?:\(\s*([^)\s]*)\s*\))?\s*$", layout)
    if not m:
        raise KickstartError(f"keyboard: '{layout}' is not a keyboard layout like 'us' or 'de (nodeadkeys)'.")
    return m.group(1), m.group(2) or ""


def apply_keyboard(root: Path, ks: Any) -> None:
    """``keyboard`` -> /etc/vconsole.conf (KEYMAP) and, with X layouts, /etc/X11/xorg.conf.d/00-keyboard.conf.

    Old syntax (``keyboard us``) gives only the console keymap.  Without ``--vckeymap`` the console keymap is
    derived from the first X layout (``de (nodeadkeys)`` -> ``de-nodeadkeys``), as localectl does for the
    common layouts.  Other settings in vconsole.conf (FONT=...) are kept.
    """
    kb: Any = getattr(ks, "keyboard", None)
    if not _seen(kb):
        return
    layouts = [_split_layout(x) for x in (getattr(kb, "x_layouts", None) or [])]
    legacy = getattr(kb, "_keyboard", None)
    if legacy is None and not hasattr(kb, "vc_keymap"):
        legacy = getattr(kb, "keyboard", "")
    keymap = getattr(kb, "vc_keymap", "") or legacy or ""
    if not keymap and layouts:
        layout, variant = layouts[0]
        keymap = f"{layout}-{variant}" if variant else layout
    if keymap:
        _check_line(keymap, "console keymap")
        text = rootfs.read_file(root, "/etc/vconsole.conf")
        rootfs.write_file(root, "/etc/vconsole.conf", update_assignments(text, {"KEYMAP": _quote(keymap)}))
    if layouts:
        options = [o for o in (getattr(kb, "switch_options", None) or []) if o]
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


def apply_timezone(root: Path, ks: Any) -> None:
    """``timezone ZONE`` -> /etc/localtime as the relative link systemd makes; ``--utc`` -> /etc/adjtime UTC.

    The link is made even when the image has no tzdata (warned), so installing tzdata later makes it work.
    ``--nontp`` disables chronyd when the image has it, as anaconda does.
    """
    tz: Any = getattr(ks, "timezone", None)
    if not _seen(tz):
        return
    zone = getattr(tz, "timezone", "") or ""
    if zone:
        if not _ZONE_RE.match(zone) or ".." in zone.split("/"):
            raise KickstartError(f"timezone: '{zone}' is not a time zone name like 'Europe/Berlin' or 'UTC'.")
        rootfs.symlink(root, "/etc/localtime", f"../usr/share/zoneinfo/{zone}")
        if not rootfs.resolve_in_root(root, f"/usr/share/zoneinfo/{zone}").is_file():
            log.warning(
                "kickstart 'timezone %s': the image has no /usr/share/zoneinfo/%s (add the 'tzdata' package to "
                "%%packages); /etc/localtime points to it anyway", zone, zone,
            )
    if getattr(tz, "isUtc", False):
        text = rootfs.read_file(root, "/etc/adjtime")
        lines = (text or "").splitlines()
        if len(lines) < 2:
            lines = ["0.0 0 0.0", "0"]
        lines = [*lines[:2], "UTC"]
        rootfs.write_file(root, "/etc/adjtime", "\n".join(lines) + "\n")
    if getattr(tz, "nontp", False) and _unit_path(root, "chronyd.service"):
        run([find_tool("systemctl"), f"--root={root}", "disable", "chronyd.service"], what="timezone --nontp")


# ---- accounts --------------------------------------------------------------------------------------------------


def _shadow_utils(root: Path) -> bool:
    """Whether the image has the shadow-utils programs we would use instead of editing the files ourselves."""
    return all(image_tool(root, t) for t in ("useradd", "groupadd", "usermod", "chpasswd"))


def _password_field(password: str, crypted: bool, lock: bool, lineno: int | None, what: str) -> str | None:
    """The shadow field for a kickstart password: hashed unless --iscrypted, '!'-prefixed for --lock."""
    if password:
        if crypted:
            try:
                hashed = passwords.check_field(password, "password hash")
            except passwords.AccountError as exc:
                raise KickstartError(f"{what} (kickstart line {lineno}): {exc}") from exc
        else:
            hashed = passwords.hash_password(password)
        return passwords.locked(hashed) if lock else hashed
    return None


def _parse_group_spec(spec: str) -> tuple[str, int | None]:
    """'wheel' -> ('wheel', None); 'admins(5000)' -> ('admins', 5000), the form anaconda accepts in --groups."""
    m = re.match(r"^\s*([^()\s]+)\s*(?:\(\s*(\d+)\s*\))?\s*$", spec)
    if not m:
        raise KickstartError(f"'{spec}' is not a group name (or 'name(gid)').")
    return m.group(1), int(m.group(2)) if m.group(2) else None


def _chpasswd(root: Path, name: str, pwfield: str) -> None:
    run(["chpasswd", "-e"], root=root, input=f"{name}:{pwfield}\n", what=f"Setting the password of '{name}'")


def apply_groups(root: Path, ks: Any) -> None:
    """``group --name [--gid]``: with the image's groupadd when it has one, else by editing /etc/group."""
    groups = list(getattr(getattr(ks, "group", None), "groupList", []) or [])
    if not groups:
        return
    use_tools = _shadow_utils(root)
    accounts = passwords.AccountFiles(root)
    for g in groups:
        gid = int(g.gid) if getattr(g, "gid", None) is not None else None
        try:
            passwords.check_name(g.name, "group")
            if use_tools:
                if accounts.group_by_name(g.name) is not None:
                    log.warning("kickstart 'group --name=%s': the group already exists in the image", g.name)
                    continue
                run(["groupadd", *(["-g", str(gid)] if gid is not None else []), g.name], root=root,
                    what=f"Creating group '{g.name}'")
            else:
                accounts.add_group(g.name, gid)
        except passwords.AccountError as exc:
            raise KickstartError(f"group (kickstart line {g.lineno}): {exc}") from exc
    if not use_tools:
        accounts.save()


def apply_rootpw(root: Path, ks: Any) -> None:
    """``rootpw [--iscrypted|--plaintext] [--lock] [--allow-ssh]`` -> root's /etc/shadow entry.

    ``--allow-ssh`` also writes an sshd drop-in permitting root password logins, as anaconda does.
    """
    rp: Any = getattr(ks, "rootpw", None)
    if not _seen(rp):
        return
    lock = bool(getattr(rp, "lock", False))
    pwfield = _password_field(getattr(rp, "password", "") or "", bool(getattr(rp, "isCrypted", False)), lock,
                            getattr(rp, "lineno", None), "rootpw")
    if _shadow_utils(root):
        if pwfield is not None:
            _chpasswd(root, "root", pwfield)
        elif lock:
            run(["usermod", "-L", "root"], root=root, what="Locking the root account")
    else:
        accounts = passwords.AccountFiles(root)
        accounts.ensure_root()
        if pwfield is None and lock:
            pwfield = passwords.locked(accounts.get_password("root") or "")
        if pwfield is not None:
            accounts.set_password("root", pwfield)
        accounts.save()
    if getattr(rp, "allow_ssh", False):
        rootfs.write_file(root, "/etc/ssh/sshd_config.d/01-permitrootlogin.conf",
                          "# Written from the kickstart 'rootpw --allow-ssh'\nPermitRootLogin yes\n")


@dataclass
class KsUser:
    """One kickstart ``user`` line, every option read with its default (old syntax versions lack some)."""

    name: str
    lineno: int | None = None
    uid: int | None = None
    gid: int | None = None
    groups: list[str] = field(default_factory=list)
    homedir: str = ""
    shell: str = ""
    gecos: str = ""
    password: str = ""
    crypted: bool = False
    lock: bool = False

    @classmethod
    def from_ks(cls, u: Any) -> KsUser:
        uid, gid = getattr(u, "uid", None), getattr(u, "gid", None)
        return cls(
            name=u.name,
            lineno=getattr(u, "lineno", None),
            uid=int(uid) if uid is not None else None,
            gid=int(gid) if gid is not None else None,
            groups=[g for g in (getattr(u, "groups", None) or []) if g],
            homedir=getattr(u, "homedir", "") or "",
            shell=getattr(u, "shell", "") or "",
            gecos=getattr(u, "gecos", "") or "",
            password=getattr(u, "password", "") or "",
            crypted=bool(getattr(u, "isCrypted", False)),
            lock=bool(getattr(u, "lock", False)),
        )


def apply_users(root: Path, ks: Any) -> None:
    """``user --name [--groups --password --iscrypted --plaintext --lock --homedir --shell --uid --gid --gecos]``.

    Missing supplementary groups are created (kickstart documents this).  With shadow-utils in the image,
    useradd/groupadd/chpasswd do the work; otherwise the account files are edited and the home directory is
    made from /etc/skel.
    """
    users = [KsUser.from_ks(u) for u in (getattr(getattr(ks, "user", None), "userList", None) or [])]
    if not users:
        return
    use_tools = _shadow_utils(root)
    for u in users:
        try:
            if use_tools:
                _add_user_with_tools(root, u)
            else:
                _add_user_in_files(root, u)
        except passwords.AccountError as exc:
            raise KickstartError(f"user --name={u.name} (kickstart line {u.lineno}): {exc}") from exc


def _user_fields(u: KsUser) -> tuple[list[tuple[str, int | None]], str | None]:
    groups = [_parse_group_spec(g) for g in u.groups]
    pwfield = _password_field(u.password, u.crypted, u.lock, u.lineno, f"user --name={u.name}")
    return groups, pwfield


def _add_user_in_files(root: Path, u: KsUser) -> None:
    groups, pwfield = _user_fields(u)
    accounts = passwords.AccountFiles(root)
    for gname, ggid in groups:
        if accounts.group_by_name(gname) is None:
            accounts.add_group(gname, ggid)
    if accounts.user(u.name) is not None:
        log.warning("kickstart 'user --name=%s': the user already exists in the image; setting only its "
                    "password and groups", u.name)
    else:
        accounts.add_user(u.name, uid=u.uid, gid=u.gid, gecos=u.gecos, home=u.homedir or f"/home/{u.name}",
                          shell=u.shell or "/bin/bash")
    for gname, _ in groups:
        accounts.add_member(gname, u.name)
    if pwfield is not None:
        accounts.set_password(u.name, pwfield)
    elif u.lock:
        accounts.set_password(u.name, passwords.locked(accounts.get_password(u.name) or ""))
    accounts.save()
    entry = accounts.user(u.name)
    if entry is not None:
        passwords.make_home(root, entry[5], int(entry[2]), int(entry[3]))


def _add_user_with_tools(root: Path, u: KsUser) -> None:
    groups, pwfield = _user_fields(u)
    passwords.check_name(u.name)
    accounts = passwords.AccountFiles(root)
    for gname, ggid in groups:
        passwords.check_name(gname, "group")
        if accounts.group_by_name(gname) is None:
            run(["groupadd", *(["-g", str(ggid)] if ggid is not None else []), gname], root=root,
                what=f"Creating group '{gname}'")
    if accounts.user(u.name) is not None:
        log.warning("kickstart 'user --name=%s': the user already exists in the image; setting only its "
                    "password and groups", u.name)
        if groups:
            run(["usermod", "-a", "-G", ",".join(g for g, _ in groups), u.name], root=root,
                what=f"Adding '{u.name}' to groups")
    else:
        argv = ["useradd", "-m"]
        if u.gid is not None:
            if accounts.group_by_gid(u.gid) is None:
                run(["groupadd", "-g", str(u.gid), u.name], root=root, what=f"Creating group '{u.name}'")
            argv += ["-g", str(u.gid)]
        elif accounts.group_by_name(u.name) is not None:
            argv += ["-g", u.name]
        else:
            argv += ["-U"]
        if u.uid is not None:
            argv += ["-u", str(u.uid)]
        if groups:
            argv += ["-G", ",".join(g for g, _ in groups)]
        if u.homedir:
            argv += ["-d", passwords.check_field(u.homedir, "home directory")]
        if u.shell:
            argv += ["-s", passwords.check_field(u.shell, "shell")]
        if u.gecos:
            argv += ["-c", passwords.check_field(u.gecos, "GECOS field")]
        run([*argv, u.name], root=root, what=f"Creating user '{u.name}'")
    if pwfield is not None:
        _chpasswd(root, u.name, pwfield)
    elif u.lock:
        run(["usermod", "-L", u.name], root=root, what=f"Locking '{u.name}'")


def apply_sshkeys(root: Path, ks: Any) -> None:
    """``sshkey --username=USER "KEY"`` -> appended to ~USER/.ssh/authorized_keys (0600, .ssh 0700, user's own)."""
    keys = list(getattr(getattr(ks, "sshkey", None), "sshUserList", []) or [])
    if not keys:
        return
    accounts = passwords.AccountFiles(root)
    for k in keys:
        entry = accounts.user(k.username)
        if entry is None or len(entry) < 6:
            raise KickstartError(
                f"sshkey --username={k.username} (kickstart line {k.lineno}): there is no such user in the image; "
                "create it with a 'user' line."
            )
        uid, gid, home = int(entry[2]), int(entry[3]), entry[5] or "/"
        key = _check_line(str(k.key).strip(), "ssh key")
        sshdir = rootfs.host_path(root, f"{home}/.ssh")
        if sshdir.is_symlink():
            raise KickstartError(f"sshkey --username={k.username}: {home}/.ssh in the image is a symlink; refusing")
        if not sshdir.exists():
            sshdir.mkdir(parents=True, mode=0o700)
            os.chown(sshdir, uid, gid)
        os.chmod(sshdir, 0o700)
        path = f"{home}/.ssh/authorized_keys"
        old = rootfs.read_file(root, path) or ""
        if key not in old.splitlines():
            text = old + ("" if not old or old.endswith("\n") else "\n") + key + "\n"
            written = rootfs.write_file(root, path, text, mode=0o600)
            os.chown(written, uid, gid, follow_symlinks=False)


# ---- network ---------------------------------------------------------------------------------------------------

_GENERIC_DEVICES = {"", "link", "bootif", "ibft"}
_MAC_RE = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")


def apply_network(root: Path, ks: Any) -> None:
    """``network`` -> /etc/hostname and NetworkManager keyfiles (0600) in /etc/NetworkManager/system-connections.

    A line for no particular device (none, ``link``, ``bootif``) that asks only for DHCP writes no profile:
    NetworkManager's automatic wired connection does exactly that on every interface, and a catch-all
    profile would stop it on all but the first.  Legacy ifcfg files are not written.
    """
    lines = list(getattr(getattr(ks, "network", None), "network", []) or [])
    hostname = None
    for nd in lines:
        if getattr(nd, "hostname", None):
            hostname = nd.hostname
    if hostname:
        if not re.match(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$", hostname) or len(hostname) > 253:
            raise KickstartError(f"network --hostname: '{hostname}' is not a valid host name.")
        rootfs.write_file(root, "/etc/hostname", hostname + "\n")
    used: set[str] = set()
    for n, nd in enumerate(lines):
        text = keyfile_for(nd, n)
        if text is None:
            continue
        conn_id = text.split("id=", 1)[1].split("\n", 1)[0]
        fname = re.sub(r"[^A-Za-z0-9_.@-]", "_", conn_id)
        while fname in used:
            fname += "_"
        used.add(fname)
        rootfs.write_file(root, f"{NM_CONNECTIONS}/{fname}.nmconnection", text, mode=0o600)


def _has_settings(nd: Any) -> bool:
    """Whether a network line asks for more than DHCP with defaults (so it needs a profile of its own)."""
    return bool(
        (getattr(nd, "bootProto", "dhcp") or "dhcp") == "static"
        or getattr(nd, "ip", "")
        or getattr(nd, "nameserver", "")
        or getattr(nd, "noipv4", False)
        or getattr(nd, "noipv6", False)
        or getattr(nd, "ipv6", "")
        or getattr(nd, "mtu", "")
        or getattr(nd, "nodefroute", False)
        or getattr(nd, "nodns", False)
        or getattr(nd, "onboot", True) is False
    )


def _prefix(netmask: str) -> int:
    netmask = netmask.strip()
    if netmask.isdigit():
        return int(netmask)
    return ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen


def keyfile_for(nd: Any, index: int = 0) -> str | None:
    """The NetworkManager keyfile for one kickstart ``network`` line, or None when it needs no profile."""
    device = getattr(nd, "device", "") or ""
    if getattr(nd, "essid", "") or getattr(nd, "wpakey", "") or getattr(nd, "wepkey", ""):
        log.warning("kickstart 'network --device=%s': wireless profiles are not written for images", device)
        return None
    for opt in ("bondslaves", "vlanid", "teamslaves", "bridgeslaves"):
        if getattr(nd, opt, ""):
            log.warning("kickstart 'network --device=%s --%s': bonds, VLANs, teams and bridges are not written "
                        "for images; configure them in %%post", device, opt)
            return None
    generic = device.lower() in _GENERIC_DEVICES
    if generic and not _has_settings(nd):
        return None
    mac = device if _MAC_RE.match(device) else ""
    conn_id = f"kickstart-{index}" if generic or mac else device
    _check_line(conn_id, "device")
    onboot = getattr(nd, "onboot", True) is not False
    conn = [
        "[connection]",
        f"id={conn_id}",
        f"uuid={uuid.uuid5(uuid.NAMESPACE_URL, 'imgcreate-kickstart-network:' + conn_id)}",
        "type=ethernet",
    ]
    if not generic and not mac:
        conn.append(f"interface-name={device}")
    conn.append(f"autoconnect={'true' if onboot else 'false'}")
    eth = []
    if mac:
        eth.append(f"mac-address={mac.replace('-', ':').upper()}")
    if getattr(nd, "mtu", ""):
        if not str(nd.mtu).isdigit():
            raise KickstartError(f"network --device={device} --mtu: '{nd.mtu}' is not a number.")
        eth.append(f"mtu={int(nd.mtu)}")

    dns4: list[str] = []
    dns6: list[str] = []
    for server in _split(getattr(nd, "nameserver", "")):
        try:
            addr = ipaddress.ip_address(server)
        except ValueError as exc:
            raise KickstartError(f"network --nameserver: '{server}' is not an IP address.") from exc
        (dns6 if addr.version == 6 else dns4).append(str(addr))

    ipv4 = ["[ipv4]"]
    bootproto = (getattr(nd, "bootProto", "dhcp") or "dhcp").lower()
    ip = getattr(nd, "ip", "") or ""
    if getattr(nd, "noipv4", False):
        ipv4.append("method=disabled")
    elif bootproto == "static" or ip:
        if not ip:
            raise KickstartError(f"network --device={device} --bootproto=static needs --ip (and --netmask).")
        try:
            if "/" in ip:
                iface = ipaddress.IPv4Interface(ip)
            else:
                iface = ipaddress.IPv4Interface(f"{ip}/{_prefix(getattr(nd, 'netmask', '') or '24')}")
            address = f"{iface.ip}/{iface.network.prefixlen}"
            gateway = getattr(nd, "gateway", "") or ""
            if gateway:
                address += f",{ipaddress.IPv4Address(gateway)}"
        except ValueError as exc:
            raise KickstartError(f"network --device={device}: bad --ip/--netmask/--gateway: {exc}") from exc
        ipv4 += ["method=manual", f"address1={address}"]
    else:
        ipv4.append("method=auto")
    if dns4:
        ipv4.append("dns=" + ";".join(dns4) + ";")
    if getattr(nd, "nodns", False):
        ipv4.append("ignore-auto-dns=true")
    if getattr(nd, "nodefroute", False):
        ipv4.append("never-default=true")
    search = getattr(nd, "ipv4_dns_search", None)
    if search:
        ipv4.append("dns-search=" + ";".join(_split(search)) + ";")

    ipv6 = ["[ipv6]", "addr-gen-mode=default-or-eui64"]
    v6 = (getattr(nd, "ipv6", "") or "").strip()
    if getattr(nd, "noipv6", False):
        ipv6.append("method=disabled")
    elif v6.lower() == "dhcp":
        ipv6.append("method=dhcp")
    elif v6 and v6.lower() != "auto":
        try:
            iface6 = ipaddress.IPv6Interface(v6 if "/" in v6 else f"{v6}/64")
        except ValueError as exc:
            raise KickstartError(f"network --ipv6: '{v6}' is not auto, dhcp or an IPv6 address: {exc}") from exc
        address6 = f"{iface6.ip}/{iface6.network.prefixlen}"
        gw6 = getattr(nd, "ipv6gateway", "") or ""
        if gw6:
            address6 += f",{ipaddress.IPv6Address(gw6)}"
        ipv6 += ["method=manual", f"address1={address6}"]
    else:
        ipv6.append("method=auto")
    if dns6:
        ipv6.append("dns=" + ";".join(dns6) + ";")

    sections = [conn]
    if eth:
        sections.append(["[ethernet]", *eth])
    sections += [ipv4, ipv6]
    return "\n\n".join("\n".join(s) for s in sections) + "\n"


def _split(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, (list, tuple)):
        items: Iterable[str] = value
    else:
        items = str(value).replace(";", ",").split(",")
    return [x.strip() for x in items if x and x.strip()]


# ---- SELinux ---------------------------------------------------------------------------------------------------

_SELINUX_MODES = {
    ksconstants.SELINUX_ENFORCING: "enforcing",
    ksconstants.SELINUX_PERMISSIVE: "permissive",
    ksconstants.SELINUX_DISABLED: "disabled",
}


def _selinux_type(root: Path) -> str:
    for line in (rootfs.read_file(root, "/etc/selinux/config") or "").splitlines():
        if line.strip().startswith("SELINUXTYPE="):
            value = line.split("=", 1)[1].strip().strip('"')
            if value and "/" not in value and value not in (".", ".."):
                return value
    return "targeted"


def _file_contexts(root: Path) -> str:
    return f"/etc/selinux/{_selinux_type(root)}/contexts/files/file_contexts"


def apply_selinux_config(root: Path, ks: Any) -> None:
    """``selinux --enforcing|--permissive|--disabled`` -> SELINUX= in /etc/selinux/config (other lines kept).

    Enforcing or permissive without a policy in the image is not written: with SELINUX=enforcing and no
    policy, systemd refuses to boot.  A warning names the policy package instead.
    """
    sel: Any = getattr(ks, "selinux", None)
    mode = _SELINUX_MODES.get(getattr(sel, "selinux", None)) if _seen(sel) else None
    if mode is None:
        return
    policy = _selinux_type(root)
    if mode != "disabled" and not rootfs.resolve_in_root(root, _file_contexts(root)).is_file():
        log.warning(
            "kickstart 'selinux --%s': the image has no SELinux policy (add the 'selinux-policy-%s' package to "
            "%%packages); /etc/selinux/config was not written", mode, policy,
        )
        return
    text = rootfs.read_file(root, "/etc/selinux/config")
    values = {"SELINUX": mode}
    if text is None or "SELINUXTYPE=" not in text:
        values["SELINUXTYPE"] = policy
    rootfs.write_file(root, "/etc/selinux/config", update_assignments(text, values))


def relabel(root: Path, ks: Any) -> None:
    """Label every file with the image's own policy (``setfiles`` run in the image), unless SELinux is disabled.

    Without a ``selinux`` line SELinux counts as enabled (upstream and anaconda agree), so an image that has
    a policy is always relabelled.  Mounted API filesystems are excluded.
    """
    sel: Any = getattr(ks, "selinux", None)
    mode = _SELINUX_MODES.get(getattr(sel, "selinux", None)) if _seen(sel) else None
    if mode == "disabled":
        return
    contexts = _file_contexts(root)
    if not rootfs.resolve_in_root(root, contexts).is_file():
        return  # no policy: nothing to label with (the missing policy was warned about if it was asked for)
    setfiles = image_tool(root, "setfiles")
    if setfiles is None:
        warn_missing_tool(f"selinux --{mode or 'enforcing'}", "setfiles", "the image's files were not labelled")
        return
    log.info("selinux: labelling the image's files with its own policy (%s)", contexts)
    run([setfiles, "-F", "-e", "/proc", "-e", "/sys", "-e", "/dev", contexts, "/"], root=root,
        what="Labelling the image's files for SELinux")


# ---- firewall, authselect --------------------------------------------------------------------------------------


def firewall_args(fw: Any) -> list[str] | None:
    """firewall-offline-cmd arguments for a kickstart ``firewall`` line; None for ``--use-system-defaults``."""
    if getattr(fw, "use_system_defaults", False):
        return None
    args = ["--disabled" if getattr(fw, "enabled", None) is False else "--enabled"]
    args += [f"--trust={d}" for d in getattr(fw, "trusts", []) or []]
    args += [f"--port={p}" for p in getattr(fw, "ports", []) or []]
    args += [f"--remove-service={s}" for s in getattr(fw, "remove_services", []) or []]
    args += [f"--service={s}" for s in getattr(fw, "services", []) or []]
    return args


def apply_firewall(root: Path, ks: Any) -> None:
    """``firewall`` -> the image's own ``firewall-offline-cmd`` (from firewalld), as upstream and anaconda do."""
    fw: Any = getattr(ks, "firewall", None)
    if not _seen(fw):
        return
    args = firewall_args(fw)
    if args is None:
        log.info("firewall --use-system-defaults: leaving the image's firewall configuration as it is")
        return
    tool = image_tool(root, "firewall-offline-cmd")
    if tool is None:
        warn_missing_tool("firewall", "firewall-offline-cmd", "the firewall settings were not applied")
        return
    run([tool, *args], root=root, what="Configuring the firewall (kickstart 'firewall')")
    log.info("firewall: applied with the image's firewall-offline-cmd %s", " ".join(args))


def apply_auth(root: Path, ks: Any) -> None:
    """``authselect ARGS`` -> the image's ``authselect ARGS`` (``--force`` added to ``select``, as anaconda does).

    The older ``auth``/``authconfig`` command runs the image's ``authconfig --update --nostart ARGS`` as
    upstream livecd-tools did.
    """
    sel: Any = getattr(ks, "authselect", None)
    if _seen(sel) and getattr(sel, "authselect", None):
        args = shlex.split(sel.authselect)
        if args and args[0] == "select" and "--force" not in args:
            args.append("--force")
        tool = image_tool(root, "authselect")
        if tool is None:
            warn_missing_tool("authselect", "authselect", "the authentication profile was not selected")
        else:
            run([tool, *args], root=root, what="Selecting the authentication profile (kickstart 'authselect')")
            log.info("authselect: applied with the image's authselect %s", " ".join(args))
    auth: Any = getattr(ks, "authconfig", None)
    if _seen(auth) and getattr(auth, "authconfig", None):
        tool = image_tool(root, "authconfig")
        if tool is None:
            warn_missing_tool("auth", "authconfig", "the authentication settings were not applied")
        else:
            run([tool, "--update", "--nostart", *shlex.split(auth.authconfig)], root=root,
                what="Configuring authentication (kickstart 'auth')")


# ---- services, xconfig, bootloader -----------------------------------------------------------------------------


def _unit_name(name: str) -> str:
    return name if name.endswith(_UNIT_SUFFIXES) else f"{name}.service"


def _unit_path(root: Path, name: str) -> str | None:
    """Where the image has unit *name* (templates: ``getty@tty1.service`` -> ``getty@.service``), or None."""
    unit = _unit_name(name)
    candidates = [unit]
    m = re.match(r"^([^@]+@)[^.]+(\.[a-z]+)$", unit)
    if m:
        candidates.append(m.group(1) + m.group(2))
    for d in _UNIT_DIRS:
        for c in candidates:
            p = rootfs.resolve_in_root(root, f"{d}/{c}")
            if p.exists():
                return f"{d}/{c}"
    return None


def apply_services(root: Path, ks: Any) -> None:
    """``services --disabled=... --enabled=...`` -> host ``systemctl --root=INSTROOT disable/enable``.

    A unit the image does not have is warned about and skipped (the build goes on), as upstream does.
    """
    svc: Any = getattr(ks, "services", None)
    disabled = _split(getattr(svc, "disabled", None))
    enabled = _split(getattr(svc, "enabled", None))
    if not (disabled or enabled):
        return
    systemctl = find_tool("systemctl")
    for action, names in (("disable", disabled), ("enable", enabled)):
        for name in names:
            if _unit_path(root, name) is None:
                log.warning("kickstart 'services --%sd=%s': the image has no unit %s; not %sd",
                            action, name, _unit_name(name), action)
                continue
            run([systemctl, f"--root={root}", action, _unit_name(name)],
                what=f"services --{action}d={name}")
            log.info("services: %sd %s", action, _unit_name(name))


def apply_xconfig(root: Path, ks: Any) -> None:
    """``xconfig --startxonboot`` -> default.target is graphical.target; ``--defaultdesktop`` -> DESKTOP= in
    /etc/sysconfig/desktop (what the display manager scripts read)."""
    xc: Any = getattr(ks, "xconfig", None)
    if not _seen(xc):
        return
    if getattr(xc, "startX", False):
        if _unit_path(root, "graphical.target") is None:
            log.warning("kickstart 'xconfig --startxonboot': the image has no graphical.target unit; "
                        "default.target points to it anyway")
        rootfs.symlink(root, "/etc/systemd/system/default.target", "/usr/lib/systemd/system/graphical.target")
    desktop = getattr(xc, "defaultdesktop", "") or ""
    if desktop:
        _check_line(desktop, "desktop")
        text = rootfs.read_file(root, "/etc/sysconfig/desktop")
        rootfs.write_file(root, "/etc/sysconfig/desktop", update_assignments(text, {"DESKTOP": desktop}))


def apply_bootloader(root: Path, ks: Any) -> None:
    """``bootloader --append --timeout`` -> GRUB_CMDLINE_LINUX and GRUB_TIMEOUT in /etc/default/grub.

    The live boot menu takes them from the kickstart directly; this file is what grub2-mkconfig reads when
    the image is installed to a disk, as anaconda writes it.  Arguments already there are kept.
    """
    bl: Any = getattr(ks, "bootloader", None)
    if not _seen(bl):
        return
    append = (getattr(bl, "appendLine", "") or "").strip()
    timeout = getattr(bl, "timeout", None)
    if not append and timeout is None:
        return
    text = rootfs.read_file(root, "/etc/default/grub")
    values: dict[str, str] = {}
    if timeout is not None:
        values["GRUB_TIMEOUT"] = str(int(timeout))
    if append:
        _check_line(append, "kernel arguments")
        old = ""
        for line in (text or "").splitlines():
            if line.startswith("GRUB_CMDLINE_LINUX="):
                old = line.split("=", 1)[1].strip().strip('"')
        args = shlex.split(old)
        args += [a for a in shlex.split(append) if a not in args]
        values["GRUB_CMDLINE_LINUX"] = _quote(" ".join(args))
    rootfs.write_file(root, "/etc/default/grub", update_assignments(text, values))
