"""Filling the install root with packages: one dnf transaction, or the tree ``--incremental`` kept for the same
install (:mod:`imgcreate.build.incremental`), which is then copied instead.

Why out of the creator: what decides the install (the package set, the repositories, the release, rpm's
verification level, the epoch) is given here as one :class:`InstallRequest`, so the cache key is made from the
same values the transaction runs with.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from imgcreate.build import incremental
from imgcreate.debug import PROGRESS
from imgcreate.host import signals
from imgcreate.kickstart import PackageSpec, RepoSpec
from imgcreate.storage import rootfs
from imgcreate.version import __version__

log = logging.getLogger("imgcreate")

Phase = Callable[[str], contextlib.AbstractContextManager[None]]


@dataclass(frozen=True)
class InstallRequest:
    """One install into *root*: the packages, where from, and with what."""

    root: Path
    workdir: Path  # the build directory (dnf's log)
    cachedir: Path
    spec: PackageSpec
    repos: tuple[RepoSpec, ...]
    releasever: str
    cacheonly: bool
    pkgverify_level: str | None
    key_settings: Mapping[str, object]  # the settings that decide the install (part of its cache key)
    incremental: Path | None  # the cache of installed trees; None: always install
    based_on: str | None  # --base-on: the base image decides the tree too, never keyed
    arch: str = ""  # the image's architecture (rpm's name); empty: this machine's


def install_key(req: InstallRequest) -> incremental.InstallKey | None:
    """The cache key of this install, when --incremental is on and the install starts from nothing."""
    if req.incremental is None:
        return None
    if req.based_on is not None:
        log.log(PROGRESS, "incremental: not with --base-on (the base image decides the tree too): a full build")
        return None
    return incremental.install_key(req.spec, list(req.repos), req.key_settings, req.releasever,
                                   req.arch or os.uname().machine, __version__)


def install(req: InstallRequest, phase: Phase,
            timings: dict[str, float]) -> tuple[object, incremental.InstallKey | None]:
    """Install (or reuse the kept tree); returns dnf's result (None when reused) and the install's cache key."""
    from imgcreate.packages.dnfbackend import DnfInstaller, cache_lock  # dnf is heavy: import it only to install

    key = install_key(req)
    if key is not None and _reuse_installed_tree(req, key, phase, timings):
        return None, key
    # libdnf and rpm call back into Python all the time, and an exception raised there by a signal handler
    # becomes a garbled SWIG error or makes rpm abort the process: signals act once dnf is done (a SIGINT
    # during a download still stops it at once, through librepo).
    with phase("install"), cache_lock(req.cachedir), signals.deferred("the package installation"), \
            DnfInstaller(req.root, req.releasever, req.cachedir, req.workdir / "dnf-log",
                         cacheonly=req.cacheonly, pkgverify_level=req.pkgverify_level,
                         arch=req.arch or None) as dnfi:
        for repo_spec in req.repos:
            dnfi.add_repo(repo_spec)
        result = dnfi.run(req.spec)
        for name, value in dnfi.timings.items():
            timings[f"install.{name}"] = value
    if key is not None and req.incremental is not None:
        with phase("incremental-store"):
            incremental.TreeCache(req.incremental).store(key, req.root, rootfs.API_MOUNTS)
    return result, key


def _reuse_installed_tree(req: InstallRequest, key: incremental.InstallKey, phase: Phase,
                          timings: dict[str, float]) -> bool:
    """Start from the cached tree for *key* instead of installing; whether there was one."""
    assert req.incremental is not None
    tree = incremental.TreeCache(req.incremental).lookup(key)
    if tree is None:
        log.log(PROGRESS, "incremental: no installed tree for this package set yet; installing")
        return False
    with phase("install"):
        incremental.copy_tree(tree, req.root, rootfs.API_MOUNTS)
    timings["install.reused"] = timings.get("install", 0.0)
    log.log(PROGRESS, "incremental: reused the installed tree %s (no dnf, no rpm transaction)", tree.parent)
    return True
