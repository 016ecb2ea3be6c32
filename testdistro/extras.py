"""Packages of the real-userland flavour that only some images install, each carrying the host libraries it
needs: the real tools behind the kickstart's ``selinux`` and ``firewall`` commands (Debian's ``setfiles`` from
policycoreutils and ``firewall-offline-cmd`` from firewalld, a Python program) under Fedora's package names,
replacing the stand-ins that only record their calls; and ``dracut-network`` with what its modules run (ip,
dhclient, curl, pgrep, arping) and dracut's ``livenet`` module, so a live image that names it gets livenet.

policycoreutils, firewalld, python3-firewall and python3-nftables are not installed on the host (installing
firewalld would start a firewall service), so their .debs are fetched with ``apt-get download`` into
``<cache>/debs`` and unpacked with ``dpkg-deb -x`` at build time; Python and its GObject and D-Bus bindings,
and the network tools, come from the host's installed packages (``dpkg -L``), as the rest of the flavour does.
Each package ships the host libraries its programs need that ``glibc`` and ``userland-libs`` do not (``ldd``),
so Python (20 MB) is only in an image that installs ``firewalld``, curl's libraries only in one that installs
``dracut-network``.  authselect is not in Debian: it stays a stand-in.  libnftables is left out:
``firewall-offline-cmd`` imports the nftables module but only writes XML, and the module loads the library only
when it is used.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable

from testdistro import kernel, userland
from testdistro.rpmspec import Package

Log = Callable[[str], None]

# The Debian packages fetched with apt-get download (never installed on the host).
DOWNLOADED = ("firewalld", "python3-firewall", "python3-nftables", "policycoreutils")
# Fedora package -> (installed Debian packages, downloaded Debian packages, requires, summary)
PACKAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]] = {
    "python3": (("python3", "python3-minimal", "python3.11", "python3.11-minimal", "libpython3.11-minimal",
                 "libpython3.11-stdlib"), (), (), "The host's Python 3 interpreter and standard library"),
    "python3-gobject-base": (("python3-gi", "gir1.2-glib-2.0"), (), ("python3",),
                             "The host's PyGObject and GLib's introspection data"),
    "python3-dbus": (("python3-dbus",), (), ("python3",), "The host's D-Bus bindings for Python"),
    "python3-nftables": ((), ("python3-nftables",), ("python3",),
                         "Debian's nftables Python module (without libnftables: firewall-offline-cmd imports it, "
                         "never calls it)"),
    "python3-firewall": ((), ("python3-firewall",), ("python3-gobject-base", "python3-dbus", "python3-nftables"),
                         "Debian's firewalld Python modules"),
    "netbase": (("netbase",), (), (), "The host's /etc/protocols and /etc/services (Fedora's setup has them)"),
    "firewalld": ((), ("firewalld",), ("python3-firewall", "netbase"),
                  "Debian's firewalld: firewall-offline-cmd, zones, services, firewalld.conf"),
    "policycoreutils": ((), ("policycoreutils",), (), "Debian's policycoreutils: setfiles, restorecon, ..."),
    "iproute": (("iproute2",), (), (), "The host's ip"),
    "dhcp-client": (("isc-dhcp-client",), (), (), "The host's ISC dhclient"),
    "curl": (("curl",), (), (), "The host's curl"),
    "procps-ng": (("procps",), (), (), "The host's pgrep and pkill"),
    "iputils": (("iputils-arping",), (), (), "The host's arping"),
    "dracut-network": (("dracut-network",), (), ("dracut", "iproute", "dhcp-client", "curl", "procps-ng", "iputils"),
                       "dracut's network modules (network, network-legacy, url-lib, ...) and livenet"),
}
# Packages that ship only some of their Debian packages' files (Fedora paths; directories are kept): the others
# would take busybox's applet links away from every image of the flavour (userland.drop_shadowing_applets).
ONLY = {"iproute": ("/usr/bin/ip", "/usr/sbin/ip"), "procps-ng": ("/usr/bin/pgrep", "/usr/bin/pkill")}
# dracut's livenet module is Debian's dracut-live's; here it comes with dracut-network (Fedora: dracut-live
# requires dracut-network), so a live image without dracut-network keeps the smaller initramfs without it.
LIVENET = "/usr/lib/dracut/modules.d/90livenet"
# What no test needs from Python: its tests, IDE, Tk, 2to3, the bundled pip, HTML docs.
SKIP = tuple(f"/usr/lib/python3.11/{d}" for d in ("test", "idlelib", "tkinter", "turtledemo", "lib2to3",
                                                  "ensurepip", "pydoc_data")) + (
    "/usr/share/pixmaps", "/usr/share/applications", "/usr/share/binfmts", "/usr/lib/valgrind", "/etc/default",
    "/etc/modprobe.d", "/usr/lib/python3.11/config-3.11-x86_64-linux-gnu")
PROVIDES = {"python3": ["/usr/bin/python3", "python3-libs", "python(abi) = 3.11"],
            "firewalld": ["/usr/bin/firewall-offline-cmd", "firewalld-filesystem"],
            "policycoreutils": ["/usr/sbin/setfiles", "/usr/sbin/restorecon"]}


def _apt_versions() -> dict[str, str]:
    proc = subprocess.run(["apt-cache", "show", "--no-all-versions", *DOWNLOADED], capture_output=True,
                          text=True, env=dict(os.environ, LC_ALL="C"))
    found: dict[str, str] = {}
    name = None
    for line in proc.stdout.splitlines():
        if line.startswith("Package:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("Version:") and name is not None:
            found.setdefault(name, line.split(":", 1)[1].strip())
    missing = [n for n in DOWNLOADED if n not in found]
    if missing:
        raise RuntimeError(f"apt-cache show finds no {', '.join(missing)} (run apt-get update):\n{proc.stderr}")
    return found


def resolve(cache: Path) -> dict[str, str]:
    """The candidate versions of :data:`DOWNLOADED` (memoised in the cache against the apt lists, like the
    kernel's)."""
    stamp = kernel._apt_lists_stamp()
    memo = cache / "extras-resolve.json"
    known: dict[str, str] = {}
    data = kernel.read_memo(memo)
    if isinstance(data.get("versions"), dict) and sorted(data["versions"]) == sorted(DOWNLOADED):
        known = dict(data["versions"])
        if data.get("stamp") == stamp:
            return known
    try:
        versions = _apt_versions()
    except (OSError, RuntimeError):
        # No apt lists (or no apt): the versions resolved earlier, if their .debs are still in the cache.
        if known and all(_deb(cache, n, v).exists() for n, v in known.items()):
            return known
        raise
    kernel.save_memo(memo, {"stamp": stamp, "versions": versions})
    return versions


def version_key(cache: Path) -> str:
    """What goes into the flavour's repository hash: the downloaded and the installed packages' versions."""
    downloaded = "".join(f"{n} {v}\n" for n, v in sorted(resolve(cache).items()))
    installed = sorted({d for debs, _, _, _ in PACKAGES.values() for d in debs})
    return "extras v1\n" + downloaded + kernel.host_package_versions(tuple(installed))


def _deb(cache: Path, name: str, version: str) -> Path:
    return cache / "debs" / f"{name}_{version.replace(':', '%3a')}.deb"


def download(cache: Path, log: Log) -> dict[str, Path]:
    """Fetch the .debs of :data:`DOWNLOADED` into ``<cache>/debs`` (call with the cache lock held)."""
    out: dict[str, Path] = {}
    for name, version in resolve(cache).items():
        out[name] = kernel.fetch_deb(name, version, _deb(cache, name, version), cache, log)
    return out


def _unpack(deb: Path, dest: Path) -> list[str]:
    """``dpkg-deb -x`` *deb* into *dest*; its paths as ``dpkg -L`` would list them."""
    dest.mkdir(parents=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    paths = []
    for dirpath, dirnames, filenames in os.walk(dest):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            paths.append("/" + os.path.relpath(os.path.join(dirpath, name), dest))
    return paths


def admin_packages(cache: Path, work: Path, base: list[Package], log: Log) -> list[Package]:
    """The Fedora-named packages above.  *base* are the flavour's other packages: the libraries glibc and
    userland-libs ship are not shipped again; those rpm or grub2-tools ship are shipped as the same entries."""
    debs = download(cache, log)
    pkgs: list[Package] = []
    for name, (installed, downloaded, requires, summary) in PACKAGES.items():
        entries = userland.entries_of(userland.debian_files(installed), skip=SKIP) if installed else []
        if name in ONLY:
            entries = [e for e in entries if e.kind == "dir" or e.path in ONLY[name]]
        if name == "dracut-network":
            entries += [e for e in userland.entries_of(userland.debian_files(("dracut-live",)))
                        if e.path == LIVENET or e.path.startswith(LIVENET + "/")]
        for deb_name in downloaded:
            tree = work / "extras" / deb_name
            entries += userland.entries_of(_unpack(debs[deb_name], tree), root=tree, skip=SKIP)
        reqs = ["filesystem", "glibc", "userland-libs", *requires]
        pkgs.append(Package(name, summary, requires=reqs, provides=PROVIDES.get(name, []), entries=entries))
    provided = {e.path for p in base if p.name in ("glibc", "userland-libs") for e in p.entries}
    for p in pkgs:
        p.entries += userland.library_entries([p], set(provided) | {e.path for e in p.entries})
    userland.share_identical(pkgs, base)
    return pkgs
