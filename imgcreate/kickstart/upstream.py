"""Upstream's kickstart helpers (``get_repos``, ``get_packages``, ...), with upstream's names and return shapes,
for scripts written against upstream's API; the build itself uses :func:`~imgcreate.kickstart.reader.read_config`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from pykickstart import constants as ksconstants
from pykickstart.errors import KickstartError as PyKickstartError

from imgcreate.kickstart.parser import KickstartHandler
from imgcreate.kickstart.reader import (
    _SCRIPT_KINDS,
    _items,
    _opt_int,
    _opt_text,
    as_handler,
    read_config,
)
from imgcreate.kickstart.values import ScriptKind

log = logging.getLogger("imgcreate")


# ---- upstream's helpers, for API users (the build itself uses read_config) -----------------------------------
#
# Scripts written for upstream livecd-tools call these on what read_kickstart() returns, so they keep upstream's
# names, arguments, defaults and return shapes: pykickstart's own objects and plain values, not the typed ones
# above.  Each takes a parser or a handler.  An attribute an older syntax version lacks reads as not given.


class RepoTuple(NamedTuple):
    """One ``repo`` line as upstream's get_repos() gives it.  A plain 8-tuple to callers that unpack or index
    it, as upstream's scripts do; the field names are only for reading."""

    name: str
    baseurl: str | None  # pykickstart's string ("" without --baseurl), or the repo_urls replacement
    mirrorlist: str | None
    proxy: str | None
    includepkgs: list[str]
    excludepkgs: list[str]
    cost: int | None
    sslverify: bool  # not --noverifyssl


def _raw_text(value: Any) -> str | None:
    """pykickstart's value as a str, keeping "" apart from None as upstream's callers see them."""
    return None if value is None else str(value)


def _root_partitions(ks: KickstartHandler) -> list[Any]:
    return [p for p in _items(as_handler(ks), "partition", "partitions") if p.mountpoint == "/"]


def _bootloader_option(ks: KickstartHandler, name: str) -> Any:
    return getattr(getattr(as_handler(ks), "bootloader", None), name, None)


def _packages_option(ks: KickstartHandler, name: str, default: Any = None) -> Any:
    return getattr(as_handler(ks).packages, name, default)


def _packages_list(ks: KickstartHandler, name: str) -> list[Any]:
    """A copy of a %packages list, so that adding *required* never changes the handler's own list."""
    return list(_packages_option(ks, name) or [])


def get_image_size(ks: KickstartHandler, default: int | None = None) -> int | None:
    """Size of the root filesystem in bytes: the last ``part /`` with ``--size`` (MiB), else *default*.

    *default* is in bytes and None unless given, as upstream's, so that a caller can tell "no size" apart.
    """
    size = 0
    for part in _root_partitions(ks):
        if getattr(part, "size", None):
            size = int(part.size)
    return size * 1024 * 1024 if size > 0 else default


def get_image_fstype(ks: KickstartHandler, default: str | None = None) -> str | None:
    """The first ``part /`` ``--fstype``, else *default*."""
    return next((str(p.fstype) for p in _root_partitions(ks) if getattr(p, "fstype", None)), default)


def get_image_fslabel(ks: KickstartHandler) -> str | None:
    """``part / --label`` (not upstream's: its creators never read the label)."""
    return read_config(ks).root_partition.label


def get_timeout(ks: KickstartHandler, default: int | None = None) -> int | None:
    """``bootloader --timeout`` in seconds, else *default*."""
    timeout = _bootloader_option(ks, "timeout")
    return int(timeout) if timeout is not None else default


def get_kernel_args(ks: KickstartHandler, default: str = "ro rd.live.image quiet") -> str:
    """*default* followed by ``bootloader --append``, or *default* alone without one.

    Upstream's test is ``appendLine is None``; pykickstart's value without ``--append`` is "", which would add
    a trailing space, so an empty append counts as none here.
    """
    append = _bootloader_option(ks, "appendLine")
    return f"{default} {append}" if append else default


def get_default_kernel(ks: KickstartHandler, default: str | None = None) -> str | None:
    """``bootloader --default``, else *default*."""
    kernel = _bootloader_option(ks, "default")
    return str(kernel) if kernel else default


def get_repos(ks: KickstartHandler, repo_urls: Mapping[str, str] | None = None) -> list[RepoTuple]:
    """The ``repo`` lines as upstream's 8-tuples (see RepoTuple), one per name, a later line replacing an
    earlier one.  ``repo_urls[name]`` (livecd-creator's ``--repo NAME,URL``) replaces that repo's baseurl and
    drops its mirrorlist.

    The ``url`` line is not among them, as upstream's.  The build does not use this: it reads typed RepoSpecs,
    ``url`` included, from ``read_config(ks).repos``.
    """
    repos: dict[str, RepoTuple] = {}
    for repo in _items(as_handler(ks), "repo", "repoList"):
        if str(repo.name) in repos:
            log.warning("Overriding already specified repo %s", repo.name)
        repos[str(repo.name)] = _repo_tuple(repo, repo_urls or {})
    return list(repos.values())


def _repo_tuple(repo: Any, repo_urls: Mapping[str, str]) -> RepoTuple:
    name = str(repo.name)
    baseurl, mirrorlist = _raw_text(getattr(repo, "baseurl", None)), _raw_text(getattr(repo, "mirrorlist", None))
    if name in repo_urls:
        baseurl, mirrorlist = repo_urls[name], None
    return RepoTuple(
        name=name,
        baseurl=baseurl,
        mirrorlist=mirrorlist,
        proxy=_raw_text(getattr(repo, "proxy", None)),
        includepkgs=[str(x) for x in getattr(repo, "includepkgs", None) or []],
        excludepkgs=[str(x) for x in getattr(repo, "excludepkgs", None) or []],
        cost=_opt_int(getattr(repo, "cost", None)),
        sslverify=not getattr(repo, "noverifyssl", False),
    )


def convert_method_to_repo(ks: KickstartHandler) -> None:
    """Upstream's call to pykickstart's ``methodToRepo()``, kept so that scripts calling it run.

    pykickstart builds a repo object from the ``url`` line there but does not add it to the repo list, so this
    changes nothing, for upstream too; its errors (no ``url`` line) are ignored as upstream ignores them.
    """
    with contextlib.suppress(AttributeError, PyKickstartError):
        as_handler(ks).repo.methodToRepo()


def get_packages(ks: KickstartHandler, required: Iterable[str] = ()) -> list[str]:
    """%packages' package names, then *required* (what an image type adds)."""
    return [str(x) for x in _packages_list(ks, "packageList")] + list(required)


def get_groups(ks: KickstartHandler, required: Iterable[Any] = ()) -> list[Any]:
    """%packages' groups as pykickstart Group objects (.name, .include), then *required*."""
    return _packages_list(ks, "groupList") + list(required)


def get_environment(ks: KickstartHandler) -> str | None:
    """The %packages environment (``@^name``), or None."""
    return _opt_text(_packages_option(ks, "environment"))


def get_excluded(ks: KickstartHandler, required: Iterable[str] = ()) -> list[str]:
    """The packages %packages excludes (``-name``), then *required* (what an image type never wants)."""
    return [str(x) for x in _packages_list(ks, "excludedList")] + list(required)


def get_excluded_groups(ks: KickstartHandler, required: Iterable[Any] = ()) -> list[Any]:
    """The groups %packages excludes (``-@name``) as pykickstart Group objects, then *required*."""
    return _packages_list(ks, "excludedGroupList") + list(required)


def get_partitions(ks: KickstartHandler, required: Iterable[Any] = ()) -> list[Any]:
    """pykickstart's ``part`` objects.  *required* is accepted and not used, as upstream's."""
    del required
    return _items(as_handler(ks), "partition", "partitions")


def ignore_missing(ks: KickstartHandler) -> bool:
    """``%packages --ignoremissing``."""
    return bool(_packages_option(ks, "handleMissing") == ksconstants.KS_MISSING_IGNORE)


def exclude_docs(ks: KickstartHandler) -> bool:
    """``%packages --excludedocs``."""
    return bool(_packages_option(ks, "excludeDocs", False))


def exclude_weakdeps(ks: KickstartHandler) -> bool | None:
    """``%packages --excludeWeakdeps``: True, else None (upstream's shape, not False)."""
    return True if _packages_option(ks, "excludeWeakdeps", False) else None


def nocore(ks: KickstartHandler) -> bool:
    """``%packages --nocore``."""
    return bool(_packages_option(ks, "nocore", False))


def inst_langs(ks: KickstartHandler) -> str | None:
    """``%packages --instLangs`` as written (None without it; "" from a syntax version that lacks it)."""
    return _raw_text(_packages_option(ks, "instLangs", ""))


def get_modules(ks: KickstartHandler) -> list[str]:
    """The kernel modules of ``device`` lines (``device scsi aic7xxx``), as upstream: appliance-tools adds them to
    its initramfs.  ``device`` exists in kickstart syntax up to F33 and RHEL8; later versions refuse the line."""
    device = getattr(as_handler(ks), "device", None)
    devices = getattr(device, "deviceList", None)
    modules: list[str] = []
    for dev in devices if devices is not None else [device]:
        name = getattr(dev, "moduleName", None)
        if name:
            modules.extend(str(name).split(":"))
    return modules


def _pykickstart_scripts(ks: KickstartHandler, kind: ScriptKind) -> list[Any]:
    return [s for s in as_handler(ks).scripts if _SCRIPT_KINDS.get(s.type) is kind]


def get_post_scripts(ks: KickstartHandler) -> list[Any]:
    """pykickstart's own %post Script objects, as upstream's API returns them (the build uses scripts_of())."""
    return _pykickstart_scripts(ks, ScriptKind.POST)


def get_pre_scripts(ks: KickstartHandler) -> list[Any]:
    """pykickstart's own %pre Script objects, as upstream's API returns them."""
    return _pykickstart_scripts(ks, ScriptKind.PRE)


def get_onerror_scripts(ks: KickstartHandler) -> list[Any]:
    """pykickstart's own %onerror Script objects (not upstream's: it has no %onerror)."""
    return _pykickstart_scripts(ks, ScriptKind.ONERROR)


def selinux_enabled(ks: KickstartHandler) -> bool:
    """True only with a ``selinux --enforcing`` or ``--permissive`` line, as upstream's.

    The build reads it differently: no ``selinux`` line leaves the image's own SELinux setting, which counts
    as enabled (``read_config(ks).selinux`` is None then).
    """
    mode = getattr(getattr(as_handler(ks), "selinux", None), "selinux", None)
    return mode in (ksconstants.SELINUX_ENFORCING, ksconstants.SELINUX_PERMISSIVE)


