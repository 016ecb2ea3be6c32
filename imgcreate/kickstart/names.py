"""Image names and filesystem labels: upstream's defaults from the kickstart's file name, and the label checks."""

from __future__ import annotations

import os
import time

from imgcreate.errors import KickstartError

# ---- names and labels --------------------------------------------------------------------------------------


def build_name(kscfg: str, prefix: str | None = None, suffix: str | None = None, maxlen: int | None = None) -> str:
    """Make an image name from a kickstart path, exactly as upstream livecd-tools does.

    The name is *prefix* + the kickstart's base name without extension (less *prefix* if it starts with it) +
    "-" + *suffix* (default: the current time as YYYYmmddHHMM).  Exact, because names and default labels are
    what users and their scripts see.  When the name is longer than *maxlen*, the prefix is dropped and the base
    name cut so that the suffix fits whole (upstream: the suffix counts most, then the kickstart's name); with a
    *maxlen* shorter than the suffix the result is still longer than *maxlen*, as upstream's.
    """
    name = os.path.basename(kscfg)
    idx = name.rfind(".")
    if idx >= 0:
        name = name[:idx]
    if prefix is None:
        prefix = ""
    if suffix is None:
        suffix = time.strftime("%Y%m%d%H%M")
    if name.startswith(prefix):
        name = name[len(prefix) :]
    ret = prefix + name + "-" + suffix
    if maxlen is not None and len(ret) > maxlen:
        ret = name[: maxlen - len(suffix) - 1] + "-" + suffix
    return ret


FSLABEL_MAX = 32  # ISO 9660 volume identifiers hold 32 characters
FSLABEL_MAXLEN = FSLABEL_MAX  # upstream's name
_LABEL_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")


def label_from_name(name: str, maxlen: int = FSLABEL_MAX) -> str:
    """A usable label made from an image name: characters labels cannot hold become '_'."""
    return "".join(c if c in _LABEL_CHARS else "_" for c in name)[:maxlen]


def check_fslabel(label: str, maxlen: int = FSLABEL_MAX) -> str:
    """Return *label* if it is usable as a volume label and on the kernel command line (CDLABEL=), else raise.

    Spaces and other characters would have to be escaped for dracut's ``root=live:CDLABEL=`` and are not
    allowed by ISO 9660 volume identifiers, so only letters, digits, '_', '-' and '.' are accepted.
    """
    if not label:
        raise KickstartError("The filesystem label is empty: give one with --fslabel.")
    if len(label) > maxlen:
        raise KickstartError(
            f"The filesystem label '{label}' is {len(label)} characters long; labels are limited to {maxlen}."
        )
    bad = sorted(set(label) - _LABEL_CHARS)
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise KickstartError(
            f"The filesystem label '{label}' contains characters that cannot be used ({shown}): "
            "use only letters, digits, '_', '-' and '.'."
        )
    return label
