"""Kickstart ``network``: /etc/hostname and NetworkManager keyfiles."""

from __future__ import annotations

import ipaddress
import logging
import re
import uuid
from pathlib import Path
from typing import Any

from imgcreate import rootfs
from imgcreate.config.common import _check_line, _split
from imgcreate.errors import KickstartError

log = logging.getLogger("imgcreate")

NM_CONNECTIONS = "/etc/NetworkManager/system-connections"
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
