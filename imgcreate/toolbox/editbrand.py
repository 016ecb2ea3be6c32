"""editliveos's branding, upstream's ``_brand``: ``-b/--builder``, ``-r/--releasefile`` and a ``-n :NAME``.

Upstream marks a remastered image as a Remix: the line ``<ddMonYYYY>-<builder>-Remix-<release>`` (the release
being the source's product, the text after "Start" in its boot menu) goes on top of the root's
``/etc/fedora-release``, ``/etc/generic-release``, ``/etc/issue`` and each ``-r`` file (paths in the image's
root), replaces the product in the boot menus, and the ISO (its file and volume label) is named
``NAME-<arch>-<YYYYmmdd.HHMM>``.  ``-n :TEXT`` names the ISO TEXT and brands with TEXT itself; ``-n :`` alone
renames it ``remixed-<label>`` and changes no file.

Where this differs, and why (README's differences table): branding is done when one of these options is given
(upstream brands every edit of an isolinux ISO, with the builder ``$USERNAME`` or "Fedora User", and cannot read
today's GRUB-only ISOs' menus at all), so ``-n NAME`` alone keeps naming the ISO ``NAME.iso``; the label is cut to
32 characters keeping the date whole (upstream passes a longer one, which the menus' ``CDLABEL=`` then miss); the
date is the build's ``SOURCE_DATE_EPOCH`` (UTC) when set, so a branded edit stays reproducible; the files are
written inside the root (a symlink followed inside it, never to the host's file), and a ``KEY=value`` file such
as ``os-release`` gets the line as a comment so it stays valid.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from imgcreate.errors import CreatorError
from imgcreate.kickstart.names import FSLABEL_MAX
from imgcreate.media.liveiso import LiveIso
from imgcreate.storage import inroot

log = logging.getLogger("imgcreate")

# The release files upstream's _brand always marks (those the root has).
DEFAULT_RELEASE_FILES = ("/etc/fedora-release", "/etc/generic-release", "/etc/issue")
DEFAULT_BUILDER = "Fedora User"  # upstream's, when $USERNAME is not set
_MENUS = ("/boot/grub2/grub.cfg", "/EFI/BOOT/grub.cfg", "/isolinux/isolinux.cfg")
_GRUB_START = re.compile(r"^\s*menuentry\s+'Start (.+?)'", re.MULTILINE)
_ISOLINUX_START = re.compile(r"^\s*menu\s+label\s+\^?Start\s+(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Brand:
    """What branding changes.  *remix*: the line put on top of the release files ("" for ``-n :``: none);
    *name*: the new ISO's name (``NAME.iso``); *label*: its volume label; *product*: the boot menus' product
    ("Start <product>"); *files*: the root's paths the line goes on."""

    remix: str
    name: str
    label: str
    product: str
    files: tuple[str, ...]


def wanted(name: str | None, builder: str | None, releasefiles: tuple[str, ...]) -> bool:
    """Whether the command line asks for branding: ``-b``, ``-r`` or a ``-n`` beginning with ``:``."""
    return builder is not None or bool(releasefiles) or bool(name and name.startswith(":"))


def source_product(text: str) -> str | None:
    """The product of a boot menu's first entry: "Fedora-Live 40" in ``menuentry 'Start Fedora-Live 40'`` (GRUB)
    or ``menu label ^Start Fedora-Live 40`` (isolinux); None when the menu has no such entry."""
    found = _GRUB_START.search(text) or _ISOLINUX_START.search(text)
    return found.group(1).strip() if found else None


def iso_product(live: LiveIso) -> str | None:
    """The source ISO's product, from the first of its menus that has a "Start ..." entry."""
    for menu in _MENUS:
        if menu in live.files:
            product = source_product(live.read(menu).decode(errors="replace"))
            if product:
                return product
    return None


def _fit(base: str, suffix: str) -> str:
    """``BASE-SUFFIX`` cut to a volume label's 32 characters: the base is shortened, the suffix kept whole."""
    label = f"{base}-{suffix}"
    return label if len(label) <= FSLABEL_MAX else f"{base[:FSLABEL_MAX - len(suffix) - 1]}-{suffix}"


def make_brand(live: LiveIso, name: str | None, builder: str | None, releasefiles: tuple[str, ...], arch: str,
               epoch: int | None = None, now: float | None = None) -> Brand:
    """Upstream's ``_brand`` names: *name* is ``-n`` (None: the ISO's file name with ``.edited``), *builder*
    ``-b`` (None: ``$USERNAME``, else "Fedora User"), the date the build's *epoch* (UTC) or *now* (local time,
    as upstream)."""
    when = time.gmtime(epoch) if epoch is not None else time.localtime(now)
    release = iso_product(live) or live.label
    release = release.split("Remix-", 1)[1] if "Remix-" in release else release  # a remix of a remix: the release
    files = (*DEFAULT_RELEASE_FILES, *releasefiles)
    if name is not None and name.startswith(":"):
        text = name[1:].replace(os.sep, "_")
        if text:
            return Brand(remix=text, name=text, label=text[:FSLABEL_MAX], product=text, files=files)
        renamed = f"remixed-{live.label}"
        return Brand(remix="", name=renamed, label=renamed[:FSLABEL_MAX], product=renamed, files=())
    who = builder if builder is not None else os.environ.get("USERNAME", DEFAULT_BUILDER)
    if "'" in who or "\n" in who:
        raise CreatorError(f"--builder {who!r}: a builder's name goes into the boot menus' entries, which cannot "
                           "hold a quote (') or a line break; give the name without them.")
    remix = f"{time.strftime('%d%b%Y', when)}-{who}-Remix-{release}"
    base = (name or f"{live.path.name.rstrip('/')}.edited").replace(os.sep, "_")
    suffix = f"{arch}-{time.strftime('%Y%m%d.%H%M', when)}"
    return Brand(remix=remix, name=f"{base}-{suffix}", label=_fit(base, suffix), product=remix, files=files)


def branded_text(text: str, remix: str) -> str:
    """*text* with the Remix line on top, as upstream's; a file of ``KEY=value`` lines (``os-release``) gets it
    as a comment, so its readers still parse every line."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if lines and all(_ASSIGNMENT.match(ln.strip()) for ln in lines):
        return f"# {remix}\n{text}"
    return f"{remix}\n{text}"


def brand_release_files(root: Path, brand: Brand) -> list[str]:
    """Put the Remix line on top of each of *brand*'s files the root has (a symlink followed inside the root:
    ``/etc/os-release`` -> ``/usr/lib/os-release``); the paths branded.  A ``-r`` file the root lacks is named in a
    warning (upstream passes over it silently)."""
    done: list[str] = []
    if not brand.remix:
        return done
    for path in brand.files:
        try:
            real = inroot.real_path(root, path)
            info = inroot.stat_in_root(root, real)
        except (FileNotFoundError, NotADirectoryError):
            real, info = path, None
        if info is None or not stat.S_ISREG(info.st_mode):
            if path not in DEFAULT_RELEASE_FILES:
                log.warning("--releasefile %s: the edited root has no such file; it is not branded", path)
            continue
        text = inroot.read_bytes(root, real).decode(errors="surrogateescape")
        inroot.write_bytes(root, real, branded_text(text, brand.remix).encode(errors="surrogateescape"),
                           stat.S_IMODE(info.st_mode))
        log.info("branded %s (%s) with '%s'", path, real, brand.remix)
        done.append(path)
    return done
