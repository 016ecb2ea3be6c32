"""The real-userland flavour: the host's own C library, bash, coreutils, util-linux, kmod, udev, cpio and dracut,
repackaged under Fedora's names and usr-merged paths, so that dracut runs inside the image as on Fedora.

Each Fedora-named package ships the files of one or more installed Debian packages (``dpkg -L``), with
``/bin``, ``/sbin``, ``/lib`` and ``/lib64`` mapped into ``/usr`` (the host is usr-merged, so these are the very
files the host runs) and without documentation.  The shared libraries their programs need that none of them
ships go into ``userland-libs`` (``ldd``), where the dynamic loader looks for them.  The kernel of this flavour
ships no initramfs: its ``%posttrans`` runs the image's dracut, which reads ``/etc/dracut.conf.d`` (where
livecd-creator writes ``99-liveos.conf``), as Fedora's kernel-core does through kernel-install.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from testdistro import packages
from testdistro.rpmspec import Entry, Package, directory, file, symlink

FLAVOURS = ("plain", "userland", "aarch64")  # aarch64: testdistro/aarch64.py
DATA = Path(__file__).resolve().parent / "data" / "userland"
FLAVOUR_MODULES = ("userland.py", "extras.py")  # the modules that shape only this flavour

# Fedora package -> the installed Debian packages whose files it ships, and what it requires besides them.
PACKAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "glibc": (("libc6", "libc-bin"), (), "The host's GNU C library, dynamic loader, ldd and ldconfig"),
    "bash": (("bash",), ("glibc",), "The host's bash, also /usr/bin/sh"),
    "coreutils": (("coreutils",), ("glibc",), "The host's GNU core utilities"),
    "util-linux": (("util-linux", "mount"), ("glibc",), "The host's util-linux: mount, losetup, blkid, ..."),
    "kmod": (("kmod",), ("glibc",), "The host's kmod: modprobe, depmod, ..."),
    "systemd-udev": (("udev",), ("glibc",), "The host's udev: systemd-udevd, udevadm and the rules"),
    "device-mapper": (("dmsetup",), ("glibc",), "The host's dmsetup"),
    "cpio": (("cpio",), ("glibc",), "The host's GNU cpio"),
    "gzip": (("gzip",), ("glibc",), "The host's gzip"),
    "tar": (("tar",), ("glibc",), "The host's GNU tar"),
    "sed": (("sed",), ("glibc",), "The host's GNU sed"),
    "grep": (("grep",), ("glibc",), "The host's GNU grep"),
    "findutils": (("findutils",), ("glibc",), "The host's GNU find and xargs"),
    "mawk": (("mawk",), ("glibc",), "The host's mawk, also /usr/bin/awk"),
    "dracut": (("dracut-core",), ("bash", "coreutils", "util-linux", "kmod", "systemd-udev", "cpio", "gzip",
                                  "tar", "sed", "grep", "findutils", "mawk", "device-mapper"),
               "The host's dracut (059) with a testdistro configuration that keeps the initramfs small"),
    "dracut-live": (("dracut-live",), ("dracut",),
                    "dracut's live modules (dmsquash-live, ...); livenet comes with dracut-network"),
}
# Paths never shipped: documentation, Debian's kernel hooks, udev's hardware database sources (10 MB of text
# nothing here compiles).
SKIP_PREFIXES = ("/usr/share/doc", "/usr/share/man", "/usr/share/info", "/usr/share/locale", "/usr/share/lintian",
                 "/usr/share/bug", "/usr/share/bash-completion", "/usr/share/zsh", "/usr/share/initramfs-tools",
                 "/usr/share/fish", "/etc/kernel", "/etc/init.d", "/etc/logrotate.d", "/usr/share/menu",
                 "/usr/lib/x86_64-linux-gnu/gconv", "/etc/dracut.conf.d", "/usr/lib/udev/hwdb.d")
# livenet needs dracut-network's modules (network, url-lib: dhclient, curl): it ships with dracut-network
# (testdistro/extras.py), so a live image without dracut-network has no livenet and the creator leaves it out.
PACKAGE_SKIP = {"dracut-live": ("/usr/lib/dracut/modules.d/90livenet",)}
EXTRA_LINKS = {"bash": {"/usr/bin/sh": "bash"}, "mawk": {"/usr/bin/awk": "mawk"}}
EXTRA_PROVIDES = {"bash": ["/bin/sh", "/usr/bin/sh", "/bin/bash"], "mawk": ["/usr/bin/awk", "gawk"],
                  "systemd-udev": ["/usr/bin/udevadm", "udev"], "device-mapper": ["/usr/sbin/dmsetup"]}
# Our dracut configuration and the module that records where the initramfs was made (data/userland/dracut).
DRACUT_CONF = "/usr/lib/dracut/dracut.conf.d/50-testdistro.conf"
MARKER_MODULE = "99testdistro-made-in"


def debian_files(debs: tuple[str, ...]) -> list[str]:
    out = subprocess.run(["dpkg-query", "-L", *debs], check=True, stdout=subprocess.PIPE, text=True).stdout
    return [line for line in out.splitlines() if line.startswith("/") and line != "/."]


def fedora_path(path: str) -> str:
    """Debian's /bin, /sbin, /lib, /lib64 paths in Fedora's usr-merged place (where the host has them too)."""
    for top in ("/bin", "/sbin", "/lib", "/lib64"):
        if path == top or path.startswith(top + "/"):
            return "/usr" + path
    return path


def _skipped(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in SKIP_PREFIXES)


def _entries(debs: tuple[str, ...], skip: tuple[str, ...] = ()) -> list[Entry]:
    return entries_of(debian_files(debs), skip=skip)


def entries_of(paths: list[str], root: Path = Path("/"), skip: tuple[str, ...] = ()) -> list[Entry]:
    """Entries for Debian *paths* (as ``dpkg -L`` lists them) found under *root* (the host, or a .deb
    unpacked with ``dpkg-deb -x``), at Fedora's paths, leaving out documentation and *skip* prefixes."""
    entries: list[Entry] = []
    seen: set[str] = set()
    for host in paths:
        dest = fedora_path(host)
        if dest in seen or _skipped(dest) or dest in packages.ROOT_DIRS or host in packages.ROOT_SYMLINKS:
            continue
        if any(dest == s or dest.startswith(s + "/") for s in skip):
            continue
        src = root / host.lstrip("/")
        if src.is_symlink():
            entries.append(symlink(dest, os.readlink(src)))
        elif src.is_dir():
            entries.append(directory(dest))
        elif src.is_file():
            entries.append(file(dest, src=src, mode=packages._host_mode(src)))
        else:
            continue
        seen.add(dest)
    return entries


def _is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def _libraries(elves: list[Path]) -> set[Path]:
    def one(p: Path) -> list[Path]:
        proc = subprocess.run(["ldd", str(p)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return [Path(w) for line in proc.stdout.splitlines() for w in line.split()[:3] if w.startswith("/")]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return {lib for libs in pool.map(one, elves) for lib in libs}


def _dracut_data() -> list[Entry]:
    module = f"/usr/lib/dracut/modules.d/{MARKER_MODULE}"
    return [
        directory("/usr/lib/dracut/dracut.conf.d"), directory("/etc/dracut.conf.d"),
        file(DRACUT_CONF, src=DATA / "dracut.conf"),
        directory(module),
        file(f"{module}/module-setup.sh", src=DATA / "dracut" / MARKER_MODULE / "module-setup.sh", mode=0o755),
        file(f"{module}/made-in.sh", src=DATA / "dracut" / MARKER_MODULE / "made-in.sh", mode=0o755),
    ]


def userland_packages() -> list[Package]:
    """The Fedora-named packages of the host's userland, plus ``userland-libs`` for the libraries between them."""
    pkgs: list[Package] = []
    for name, (debs, requires, summary) in PACKAGES.items():
        entries = _entries(debs, PACKAGE_SKIP.get(name, ()))
        entries += [symlink(p, t) for p, t in EXTRA_LINKS.get(name, {}).items()]
        if name == "dracut":
            entries += _dracut_data()
        reqs = ["filesystem", *requires] + (["userland-libs"] if name != "glibc" else [])
        pkgs.append(Package(name, summary, requires=reqs, provides=EXTRA_PROVIDES.get(name, []), entries=entries))
    libs = [directory(packages.LIB_DIR), *library_entries(pkgs, {e.path for p in pkgs for e in p.entries})]
    pkgs.append(Package("userland-libs", "Shared libraries the host userland's programs need (from ldd)",
                        requires=["filesystem", "glibc"], entries=libs))
    return pkgs


def library_entries(pkgs: list[Package], shipped: set[str]) -> list[Entry]:
    """The host libraries the ELF files of *pkgs* need (``ldd``) at their Fedora paths, but those in *shipped*
    (a set of paths, updated)."""
    elves = [e.src for p in pkgs for e in p.entries if e.kind == "file" and e.src is not None and _is_elf(e.src)]
    libs: list[Entry] = []
    for lib in sorted(_libraries(elves)):
        dest = fedora_path(str(lib))
        if not dest.startswith("/usr/lib64/"):
            dest = f"{packages.LIB_DIR}/{lib.name}"
        if dest not in shipped:
            shipped.add(dest)
            libs.append(file(dest, src=lib.resolve(), mode=0o755))
    return libs


def share_identical(pkgs: list[Package], base: list[Package]) -> None:
    """Where a userland package ships a path another package ships too (the host libraries of rpm and
    grub2-tools), ship the very same entry, so rpm installs both packages side by side."""
    first: dict[str, Entry] = {}
    for p in base:
        for e in p.entries:
            if e.kind == "file" and e.src is not None and e.path.startswith(("/usr/lib64/", packages.LIB_DIR)):
                first.setdefault(e.path, e)
    for p in pkgs:
        p.entries = [first.get(e.path, e) if e.kind != "dir" else e for e in p.entries]


def drop_shadowing_applets(pkgs: list[Package]) -> None:
    """No busybox applet link where a real program of the same name is in /usr/bin or /usr/sbin: with both
    directories on PATH, a link in the other one could run busybox instead of the real tool."""
    real = {e.path.rsplit("/", 1)[1] for p in pkgs if p.name != "busybox" for e in p.entries
            if e.kind != "dir" and e.path.startswith(("/usr/bin/", "/usr/sbin/"))}
    for p in pkgs:
        if p.name == "busybox":
            p.entries = [e for e in p.entries if e.kind != "symlink" or e.path.rsplit("/", 1)[1] not in real]


def kernel_without_initramfs(kernel: Package, kver: str) -> Package:
    """The kernel package of this flavour: no ready-made initramfs; its %posttrans makes one with the image's
    dracut (after the whole transaction, so dracut and the configuration creators write are in place)."""
    initrd = f"/boot/initramfs-{kver}.img"
    kernel.entries = [e for e in kernel.entries if e.path != initrd]
    kernel.summary = f"The Linux kernel {kver} (Debian's build); %posttrans makes the initramfs with dracut"
    kernel.requires = [*kernel.requires, "dracut"]
    kernel.posttrans = (f"if [ -x /usr/bin/dracut ]; then\n"
                        f"    /usr/bin/dracut --force --no-hostonly {initrd} {kver}\n"
                        f"fi\n")
    return kernel


def debian_packages() -> tuple[str, ...]:
    """The host packages this flavour repackages (their versions go into the repository's hash)."""
    return tuple(sorted({d for debs, _, _ in PACKAGES.values() for d in debs}))


def only_for_the_flavour(path: Path) -> bool:
    """Whether a testdistro source file shapes only this flavour (this module and data/userland)."""
    return path.parent == Path(__file__).resolve().parent and path.name in FLAVOUR_MODULES or DATA in path.parents
