"""Kickstart ``network``: /etc/hostname and NetworkManager keyfiles."""

from __future__ import annotations

import ipaddress
import logging
import re
import uuid
from collections.abc import Sequence
from pathlib import Path

from imgcreate.configure.common import _check_line
from imgcreate.errors import KickstartError
from imgcreate.kickstart.values import BootProto, NetworkDevice
from imgcreate.storage import rootfs

log = logging.getLogger("imgcreate")

NM_CONNECTIONS = "/etc/NetworkManager/system-connections"
_GENERIC_DEVICES = {"", "link", "bootif", "ibft"}
_MAC_RE = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")


def apply_network(root: Path, devices: Sequence[NetworkDevice]) -> None:
    """``network`` -> /etc/hostname and NetworkManager keyfiles (0600) in /etc/NetworkManager/system-connections.

    A line for no particular device (none, ``link``, ``bootif``) that asks only for DHCP writes no profile:
    NetworkManager's automatic wired connection does exactly that on every interface, and a catch-all
    profile would stop it on all but the first.  Legacy ifcfg files are not written.
    """
    hostname = None
    for nd in devices:
        if nd.hostname:
            hostname = nd.hostname
    if hostname:
        if not re.match(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$", hostname) or len(hostname) > 253:
            raise KickstartError(f"network --hostname: '{hostname}' is not a valid host name.")
        rootfs.write_file(root, "/etc/hostname", hostname + "\n")
    used: set[str] = set()
    for n, nd in enumerate(devices):
        text = keyfile_for(nd, n)
        if text is None:
            continue
        conn_id = text.split("id=", 1)[1].split("\n", 1)[0]
        fname = re.sub(r"[^A-Za-z0-9_.@-]", "_", conn_id)
        while fname in used:
            fname += "_"
        used.add(fname)
        rootfs.write_file(root, f"{NM_CONNECTIONS}/{fname}.nmconnection", text, mode=0o600)


def _has_settings(nd: NetworkDevice) -> bool:
    """Whether a network line asks for more than DHCP with defaults (so it needs a profile of its own)."""
    return bool(
        nd.bootproto is BootProto.STATIC
        or nd.ip
        or nd.nameservers
        or nd.noipv4
        or nd.noipv6
        or nd.ipv6
        or nd.mtu
        or nd.nodefroute
        or nd.nodns
        or not nd.onboot
    )


def _prefix(netmask: str) -> int:
    netmask = netmask.strip()
    if netmask.isdigit():
        return int(netmask)
    return ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen


def _unsupported(nd: NetworkDevice) -> bool:
    """Wireless and virtual devices (bonds, VLANs, teams, bridges) get no profile: warned, not written."""
    if nd.wireless:
        log.warning("kickstart 'network --device=%s': wireless profiles are not written for images", nd.device)
        return True
    if nd.virtual:
        log.warning("kickstart 'network --device=%s --%s': bonds, VLANs, teams and bridges are not written "
                    "for images; configure them in %%post", nd.device, nd.virtual[0])
        return True
    return False


def keyfile_for(nd: NetworkDevice, index: int = 0) -> str | None:
    """The NetworkManager keyfile for one kickstart ``network`` line, or None when it needs no profile."""
    if _unsupported(nd):
        return None
    generic = nd.device.lower() in _GENERIC_DEVICES
    if generic and not _has_settings(nd):
        return None
    mac = nd.device if _MAC_RE.match(nd.device) else ""
    conn_id = f"kickstart-{index}" if generic or mac else nd.device
    _check_line(conn_id, "device")
    sections = [_connection_section(nd, conn_id, bind_to_name=not generic and not mac)]
    ethernet = _ethernet_settings(nd, mac)
    if ethernet:
        sections.append(["[ethernet]", *ethernet])
    dns4, dns6 = _nameservers(nd)
    sections += [_ipv4_section(nd, dns4), _ipv6_section(nd, dns6)]
    return "\n\n".join("\n".join(s) for s in sections) + "\n"


def _connection_section(nd: NetworkDevice, conn_id: str, bind_to_name: bool) -> list[str]:
    conn = [
        "[connection]",
        f"id={conn_id}",
        f"uuid={uuid.uuid5(uuid.NAMESPACE_URL, 'imgcreate-kickstart-network:' + conn_id)}",
        "type=ethernet",
    ]
    if bind_to_name:
        conn.append(f"interface-name={nd.device}")
    conn.append(f"autoconnect={'true' if nd.onboot else 'false'}")
    return conn


def _ethernet_settings(nd: NetworkDevice, mac: str) -> list[str]:
    eth = []
    if mac:
        eth.append(f"mac-address={mac.replace('-', ':').upper()}")
    if nd.mtu:
        if not nd.mtu.isdigit():
            raise KickstartError(f"network --device={nd.device} --mtu: '{nd.mtu}' is not a number.")
        eth.append(f"mtu={int(nd.mtu)}")
    return eth


def _nameservers(nd: NetworkDevice) -> tuple[list[str], list[str]]:
    """``--nameserver`` split into IPv4 and IPv6 addresses."""
    dns4: list[str] = []
    dns6: list[str] = []
    for server in nd.nameservers:
        try:
            addr = ipaddress.ip_address(server)
        except ValueError as exc:
            raise KickstartError(f"network --nameserver: '{server}' is not an IP address.") from exc
        (dns6 if addr.version == 6 else dns4).append(str(addr))
    return dns4, dns6


def _ipv4_section(nd: NetworkDevice, dns4: list[str]) -> list[str]:
    ipv4 = ["[ipv4]"]
    if nd.noipv4:
        ipv4.append("method=disabled")
    elif nd.bootproto is BootProto.STATIC or nd.ip:
        ipv4 += ["method=manual", f"address1={_ipv4_address(nd)}"]
    else:
        ipv4.append("method=auto")
    if dns4:
        ipv4.append("dns=" + ";".join(dns4) + ";")
    if nd.nodns:
        ipv4.append("ignore-auto-dns=true")
    if nd.nodefroute:
        ipv4.append("never-default=true")
    if nd.dns_search:
        ipv4.append("dns-search=" + ";".join(nd.dns_search) + ";")
    return ipv4


def _ipv4_address(nd: NetworkDevice) -> str:
    """``--ip --netmask --gateway`` as a keyfile ``address1`` value (``10.0.0.5/24,10.0.0.1``)."""
    if not nd.ip:
        raise KickstartError(f"network --device={nd.device} --bootproto=static needs --ip (and --netmask).")
    try:
        if "/" in nd.ip:
            iface = ipaddress.IPv4Interface(nd.ip)
        else:
            iface = ipaddress.IPv4Interface(f"{nd.ip}/{_prefix(nd.netmask or '24')}")
        address = f"{iface.ip}/{iface.network.prefixlen}"
        if nd.gateway:
            address += f",{ipaddress.IPv4Address(nd.gateway)}"
    except ValueError as exc:
        raise KickstartError(f"network --device={nd.device}: bad --ip/--netmask/--gateway: {exc}") from exc
    return address


def _ipv6_section(nd: NetworkDevice, dns6: list[str]) -> list[str]:
    ipv6 = ["[ipv6]", "addr-gen-mode=default-or-eui64"]
    v6 = nd.ipv6
    if nd.noipv6:
        ipv6.append("method=disabled")
    elif v6.lower() == "dhcp":
        ipv6.append("method=dhcp")
    elif v6 and v6.lower() != "auto":
        ipv6 += ["method=manual", f"address1={_ipv6_address(nd)}"]
    else:
        ipv6.append("method=auto")
    if dns6:
        ipv6.append("dns=" + ";".join(dns6) + ";")
    return ipv6


def _ipv6_address(nd: NetworkDevice) -> str:
    """``--ipv6 ADDR[/PREFIX] --ipv6gateway`` as a keyfile ``address1`` value (prefix 64 by default)."""
    v6 = nd.ipv6
    try:
        iface6 = ipaddress.IPv6Interface(v6 if "/" in v6 else f"{v6}/64")
    except ValueError as exc:
        raise KickstartError(f"network --ipv6: '{v6}' is not auto, dhcp or an IPv6 address: {exc}") from exc
    address6 = f"{iface6.ip}/{iface6.network.prefixlen}"
    if nd.ipv6gateway:
        try:
            address6 += f",{ipaddress.IPv6Address(nd.ipv6gateway)}"
        except ValueError as exc:
            raise KickstartError(f"network --ipv6gateway: '{nd.ipv6gateway}' is not an IPv6 address.") from exc
    return address6
