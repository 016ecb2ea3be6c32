"""Kickstart commands that configure the installed system (lang, keyboard, timezone, ...).

Each writer takes the install root and the pykickstart handler and changes files only through
:mod:`imgcreate.rootfs`, so nothing is ever written through a symlink out of the root.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from imgcreate import rootfs

log = logging.getLogger("imgcreate")


def write_fstab(root: Path, text: str) -> None:
    rootfs.write_file(root, "/etc/fstab", text)


def apply_before_post(root: Path, ks: Any) -> None:
    """Everything upstream's configure() applies before the boot configuration and %post."""
    apply_lang(root, ks)


def apply_after_post(root: Path, ks: Any) -> None:
    """What must come last (SELinux relabel), after %post changed files."""


def apply_lang(root: Path, ks: Any) -> None:
    lang = getattr(ks.lang, "lang", None)
    if lang:
        rootfs.write_file(root, "/etc/locale.conf", f'LANG="{lang}"\n')
