"""The installed kernel and its initramfs, found through the image's rpm database (live ISOs and disks)."""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from imgcreate.errors import ImageError
from imgcreate.host.run import run
from imgcreate.packages import rpmdb
from imgcreate.storage import rootfs

log = logging.getLogger("imgcreate")


def _version_key(ver: str) -> list[tuple[int, int, str]]:
    """Sort key for kernel versions: numbers compare as numbers, other parts as text, never number to text."""
    return [(1, int(p), "") if p.isdigit() else (0, 0, p) for p in re.split(r"[.\-_+]", ver)]


def installed(root: Path) -> list[str]:
    """Versions of the installed kernels, newest first: /boot/vmlinuz-KVER (older kernels; a %ghost in current
    Fedora) or /usr/lib/modules/KVER/vmlinuz, from the packages providing kernel-core or kernel."""
    files = rpmdb.files_providing(root, ("kernel-core", "kernel"))
    found = {f.split("vmlinuz-", 1)[1] for f in files if f.startswith("/boot/vmlinuz-")}
    found |= {f.split("/")[-2] for f in files if re.fullmatch(r"(/usr)?/lib/modules/[^/]+/vmlinuz", f)}
    return sorted(found, key=_version_key, reverse=True)


def newest(root: Path) -> str:
    kernels = installed(root)
    if not kernels:
        raise ImageError("No kernel is installed in the image, so it cannot boot: add 'kernel' to %packages.")
    if len(kernels) > 1:
        log.info("several kernels installed (%s); booting %s", ", ".join(kernels), kernels[0])
    return kernels[0]


def default_kernel(versions: Mapping[str, Sequence[str]], default: str) -> str | None:
    """The kernel version the boot menu boots, chosen as upstream's live creator chooses its default kernel.

    *versions* is ``_get_kernel_versions()`` ({package name: [kernel version, ...]}); *default* is
    ``_default_kernel`` (``bootloader --default``, else "kernel").  The package is the only one installed, else
    the one named *default* or ``kernel-<default>`` (upstream's ``__is_default_kernel``), its newest version.
    Fedora's kernel files are in ``kernel-core`` (``kernel-debug-core``, ...) since Fedora 21: a ``-core`` suffix
    is ignored in the comparison, so "debug" still names ``kernel-debug-core``.  None: no package is the
    default (the caller boots the newest kernel).
    """
    found = {name: list(vers) for name, vers in versions.items() if vers}
    if len(found) == 1:
        chosen: str | None = next(iter(found))
    else:
        wanted = {default, f"kernel-{default}"}
        chosen = next((name for name in found if name.removesuffix("-core") in wanted or name in wanted), None)
    if chosen is None:
        return None
    return sorted(found[chosen], key=_version_key, reverse=True)[0]


def vmlinuz(root: Path, kver: str) -> Path:
    path = rootfs.resolve_in_root(root, f"/boot/vmlinuz-{kver}")
    return path if path.is_file() else rootfs.resolve_in_root(root, f"/usr/lib/modules/{kver}/vmlinuz")


def has_dracut(root: Path) -> bool:
    return rootfs.exists(root, "/usr/bin/dracut") or rootfs.exists(root, "/usr/sbin/dracut")


def ensure_initramfs(root: Path, kver: str, remake: bool = False) -> Path:
    """``/boot/initramfs-KVER.img``, made with the image's dracut (generic, not host-only) if the kernel
    package made none or if *remake*."""
    initrd = rootfs.resolve_in_root(root, f"/boot/initramfs-{kver}.img")
    if initrd.exists() and not remake:
        return initrd
    if not has_dracut(root):
        raise ImageError(
            f"The image has kernel {kver} but no /boot/initramfs-{kver}.img, and no dracut to make one: add "
            "'dracut' (and 'dracut-live' for live media) to %packages."
        )
    log.info("running dracut in the image for kernel %s", kver)
    run(["dracut", "--force", "--no-hostonly", f"/boot/initramfs-{kver}.img", kver], root=root,
        what="Creating the initramfs", stream=True)
    return initrd


def os_name(root: Path) -> str:
    """The image's PRETTY_NAME (else NAME) from os-release, for boot menus; "Linux" without one."""
    text = rootfs.read_file(root, "/etc/os-release") or rootfs.read_file(root, "/usr/lib/os-release") or ""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            words = shlex.split(value, posix=True) if value.strip() else [""]
            values[key.strip()] = words[0] if words else ""
    return values.get("PRETTY_NAME") or values.get("NAME") or "Linux"
