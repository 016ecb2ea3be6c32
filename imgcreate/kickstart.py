"""Reading kickstart files (with pykickstart, never by hand) and the getters the creators use.

The getters read values from ``ks.handler.<command>`` objects that pykickstart filled in, so every kickstart
syntax version pykickstart knows keeps working.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from pykickstart import constants as ksconstants
from pykickstart import version as ksversion
from pykickstart.errors import KickstartError as PyKickstartError
from pykickstart.parser import KickstartParser

from imgcreate.errors import KickstartError

DEFAULT_IMAGE_SIZE_MB = 4096
DEFAULT_FSTYPE = "ext4"


class _TrackingParser(KickstartParser):
    """A KickstartParser that remembers which file (main or %include) it was reading when an error happened."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.file_stack: list[str] = []
        self.error_file: str | None = None

    def readKickstart(self, f: str, reset: bool = True) -> None:  # noqa: N802 (pykickstart's name)
        f = self._locate(f)
        self.file_stack.append(f)
        try:
            super().readKickstart(f, reset=reset)
        except PyKickstartError:
            if self.error_file is None:
                self.error_file = f
            raise
        finally:
            self.file_stack.pop()

    def _locate(self, f: str) -> str:
        """Where an %include really is.

        pykickstart's loader cannot read ``file://`` URLs, so they become paths.  A relative name is taken
        relative to the file that includes it (pykickstart tries the current directory first, so a file of
        the same name there would win), or joined to the including URL when that file came from one.
        """
        if f.startswith("file://"):
            return urllib.parse.unquote(urllib.parse.urlsplit(f).path)
        if not self.file_stack or "://" in f or os.path.isabs(f):
            return f
        parent = self.file_stack[-1]
        if "://" in parent:
            return urllib.parse.urljoin(parent, f)
        candidate = os.path.join(os.path.dirname(os.path.abspath(parent)), f)
        return candidate if os.path.exists(candidate) else f


def read_kickstart(path: str | os.PathLike[str], version: str | None = None) -> Any:
    """Parse the kickstart file at *path* and return its pykickstart handler.

    *version* is a pykickstart syntax version name such as "F38" or "RHEL9"; without it the version a
    ``#version=`` comment in the file names is used, else the newest syntax.  Errors raise KickstartError with
    the file name, the line number and pykickstart's own message.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KickstartError(f"Kickstart file '{path}' does not exist or is not a regular file.")
    if not os.access(path, os.R_OK):
        raise KickstartError(f"Kickstart file '{path}' is not readable.")
    try:
        ver = ksversion.stringToVersion(version) if version else ksversion.versionFromFile(path)
    except PyKickstartError as exc:
        raise KickstartError(f"Unknown kickstart syntax version '{version}': {exc}") from exc
    handler = ksversion.makeVersion(ver)
    parser = _TrackingParser(handler)
    try:
        parser.readKickstart(path)
    except PyKickstartError as exc:
        where = parser.error_file or path
        msg = " ".join(str(exc).split())
        lineno = getattr(exc, "lineno", None)
        line = f", line {lineno}" if lineno else ""
        raise KickstartError(f"Failed to read kickstart file '{where}'{line}: {msg}") from exc
    except OSError as exc:
        raise KickstartError(f"Failed to read kickstart file '{path}': {exc}") from exc
    return handler


def build_name(kscfg: str, prefix: str | None = None, suffix: str | None = None, maxlen: int | None = None) -> str:
    """Make an image name from a kickstart path, as upstream livecd-tools does.

    The name is the kickstart's base name without extension, with *prefix* in front (unless it already starts
    with it) and *suffix* (default: the current time as YYYYmmddHHMM; "" for none) behind a dash.  If *maxlen*
    is given, the base part is cut so the whole name fits.
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
    ret = prefix + name
    if suffix:
        ret += "-" + suffix
    if maxlen is not None and len(ret) > maxlen:
        keep = maxlen - len(prefix) - (len(suffix) + 1 if suffix else 0)
        ret = prefix + name[: max(keep, 0)] + ("-" + suffix if suffix else "")
        ret = ret[:maxlen]
    return ret


# ---- getters -------------------------------------------------------------------------------------------------


def _root_partition(ks: Any) -> Any | None:
    for part in getattr(ks.partition, "partitions", []):
        if part.mountpoint == "/":
            return part
    return None


def get_image_size(ks: Any, default: int = DEFAULT_IMAGE_SIZE_MB) -> int:
    """Size of the root filesystem in bytes, from ``part / --size`` (MiB)."""
    part = _root_partition(ks)
    size = part.size if part is not None and part.size else default
    return int(size) * 1024 * 1024


def get_image_fstype(ks: Any, default: str = DEFAULT_FSTYPE) -> str:
    part = _root_partition(ks)
    return part.fstype if part is not None and part.fstype else default


def get_image_fslabel(ks: Any) -> str | None:
    part = _root_partition(ks)
    return part.label if part is not None and getattr(part, "label", None) else None


def get_kernel_args(ks: Any, default: str = "") -> str:
    append = getattr(ks.bootloader, "appendLine", None)
    return f"{default} {append}".strip() if append else default


def get_timeout(ks: Any, default: int | None = None) -> int | None:
    timeout = getattr(ks.bootloader, "timeout", None)
    return timeout if timeout is not None else default


@dataclass
class RepoSpec:
    """One repository the build installs from (a kickstart ``repo`` line, or ``url``)."""

    name: str
    baseurl: list[str] = field(default_factory=list)
    mirrorlist: str | None = None
    metalink: str | None = None
    includepkgs: list[str] = field(default_factory=list)
    excludepkgs: list[str] = field(default_factory=list)
    cost: int | None = None
    proxy: str | None = None
    noverifyssl: bool = False
    sslcacert: str | None = None
    sslclientcert: str | None = None
    sslclientkey: str | None = None


def get_repos(ks: Any) -> list[RepoSpec]:
    """The ``url`` install tree and the ``repo`` lines.  Every option is read with a default, because older
    syntax versions (RHEL7, F21, ...) lack some of them (metalink, cost, ...)."""
    repos = []
    url = getattr(ks, "url", None)
    url_url = getattr(url, "url", None)
    url_mirrorlist = getattr(url, "mirrorlist", None)
    url_metalink = getattr(url, "metalink", None)
    if url is not None and (url_url or url_mirrorlist or url_metalink):
        repos.append(
            RepoSpec(
                name="install-tree",
                baseurl=[url_url] if url_url else [],
                mirrorlist=url_mirrorlist or None,
                metalink=url_metalink or None,
                proxy=getattr(url, "proxy", None) or None,
                noverifyssl=bool(getattr(url, "noverifyssl", False)),
            )
        )
    for r in getattr(getattr(ks, "repo", None), "repoList", None) or []:
        raw_baseurl = getattr(r, "baseurl", None)
        baseurl = [u for u in raw_baseurl.split(",") if u] if raw_baseurl else []
        raw_metalink = getattr(r, "metalink", None)
        metalink = raw_metalink if isinstance(raw_metalink, str) and raw_metalink else None
        repos.append(
            RepoSpec(
                name=r.name,
                baseurl=baseurl,
                mirrorlist=getattr(r, "mirrorlist", None) or None,
                metalink=metalink,
                includepkgs=list(getattr(r, "includepkgs", None) or []),
                excludepkgs=list(getattr(r, "excludepkgs", None) or []),
                cost=getattr(r, "cost", None),
                proxy=getattr(r, "proxy", None) or None,
                noverifyssl=bool(getattr(r, "noverifyssl", False)),
                sslcacert=getattr(r, "sslcacert", None),
                sslclientcert=getattr(r, "sslclientcert", None),
                sslclientkey=getattr(r, "sslclientkey", None),
            )
        )
    return repos


@dataclass
class PackageSpec:
    """What ``%packages`` asks for, in the terms the package backend needs."""

    packages: list[str]
    groups: list[tuple[str, str]]  # (group name or id, "required"|"default"|"all")
    excluded: list[str]
    excluded_groups: list[str]
    environment: str | None
    nocore: bool
    excludedocs: bool
    inst_langs: str | None
    exclude_weakdeps: bool
    ignore_missing: bool
    default: bool
    modules: list[tuple[str, str | None, bool]] = field(default_factory=list)  # (name, stream, enable)

    @property
    def rpm_install_langs(self) -> str | None:
        """rpm's %_install_langs for ``--instLangs`` (a comma or colon list; empty means none), or None."""
        if self.inst_langs is None:
            return None
        return ":".join(x for x in self.inst_langs.replace(",", ":").split(":") if x) or "none"


_INCLUDE = {
    ksconstants.GROUP_REQUIRED: "required",
    ksconstants.GROUP_DEFAULT: "default",
    ksconstants.GROUP_ALL: "all",
}


def get_packages(ks: Any, required: list[str] | None = None, excluded: list[str] | None = None) -> PackageSpec:
    p = ks.packages
    return PackageSpec(
        packages=list(p.packageList) + list(required or []),
        groups=[(g.name, _INCLUDE.get(g.include, "default")) for g in p.groupList],
        excluded=list(p.excludedList) + list(excluded or []),
        excluded_groups=[g.name for g in p.excludedGroupList],
        environment=getattr(p, "environment", None),
        nocore=bool(getattr(p, "nocore", False)),
        excludedocs=bool(p.excludeDocs),
        inst_langs=p.instLangs if p.instLangs is not None else None,
        exclude_weakdeps=bool(getattr(p, "excludeWeakdeps", False)),
        ignore_missing=p.handleMissing == ksconstants.KS_MISSING_IGNORE,
        default=bool(getattr(p, "default", False)),
        modules=get_modules(ks),
    )


def get_modules(ks: Any) -> list[tuple[str, str | None, bool]]:
    """``module --name --stream [--disable]`` lines (EL8/EL9 modularity) as (name, stream, enable)."""
    cmd = getattr(ks, "module", None)
    return [
        (m.name, getattr(m, "stream", None) or None, bool(getattr(m, "enable", True)))
        for m in (cmd.dataList() if cmd is not None else [])
    ]


def get_scripts(ks: Any, kind: int) -> list[Any]:
    return [s for s in ks.scripts if s.type == kind]


def get_post_scripts(ks: Any) -> list[Any]:
    return get_scripts(ks, ksconstants.KS_SCRIPT_POST)


def get_pre_scripts(ks: Any) -> list[Any]:
    return get_scripts(ks, ksconstants.KS_SCRIPT_PRE)


def get_onerror_scripts(ks: Any) -> list[Any]:
    return get_scripts(ks, ksconstants.KS_SCRIPT_ONERROR)


# ---- names and labels --------------------------------------------------------------------------------------

FSLABEL_MAX = 32  # ISO 9660 volume identifiers hold 32 characters
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
