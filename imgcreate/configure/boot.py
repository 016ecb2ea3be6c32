"""Kickstart ``bootloader``: the kernel arguments and timeout in /etc/default/grub."""

from __future__ import annotations

import shlex
from pathlib import Path

from imgcreate.configure.common import _check_line, _quote, update_assignments
from imgcreate.kickstart.values import Bootloader
from imgcreate.storage import rootfs


def apply_bootloader(root: Path, bootloader: Bootloader) -> None:
    """``bootloader --append --timeout`` -> GRUB_CMDLINE_LINUX and GRUB_TIMEOUT in /etc/default/grub.

    The live boot menu takes them from the same values; this file is what grub2-mkconfig reads when the
    image is installed to a disk, as anaconda writes it.  Arguments already there are kept.
    """
    append, timeout = bootloader.append, bootloader.timeout
    if not append and timeout is None:
        return
    text = rootfs.read_file(root, "/etc/default/grub")
    values: dict[str, str] = {}
    if timeout is not None:
        values["GRUB_TIMEOUT"] = str(timeout)
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
