"""What ``%packages`` asked of rpm, kept in the image for the packages installed into it later."""

from __future__ import annotations

from pathlib import Path

from imgcreate.kickstart.values import PackageSpec
from imgcreate.storage import rootfs

RPM_MACROS = "/etc/rpm/macros.imgcreate"  # upstream's name: scripts and Dockerfiles edit it by that name


def rpm_macros_text(spec: PackageSpec) -> str:
    """``%_excludedocs`` for ``--excludedocs`` and ``%_install_langs`` for ``--instLangs``, as upstream writes.

    Upstream also writes ``%__file_context_path %{nil}`` whenever SELinux is not enforcing; that is left out:
    rpm's SELinux plugin does nothing where SELinux is disabled, and in permissive mode files still need labels.
    """
    lines = ["# Written by livecd-creator from the kickstart's %packages: later installs behave the same.\n"]
    if spec.excludedocs:
        lines.append("%_excludedocs 1\n")
    if spec.rpm_install_langs is not None:
        lines.append(f"%_install_langs {spec.rpm_install_langs}\n")
    return "".join(lines)


def apply_rpm_macros(root: Path, spec: PackageSpec) -> None:
    """Write /etc/rpm/macros.imgcreate (always, as upstream: scripts look for the file)."""
    rootfs.write_file(root, RPM_MACROS, rpm_macros_text(spec))
