"""Installing packages into the install root with the dnf Python API.

Why this is careful: the dnf API, unlike the dnf command, does not put its cache, logs and state under the
install root, and on a Debian host rpm's database path points into $HOME.  Every path is therefore set
explicitly, host repository files and variables are never read, and the host's rpm database, dnf history and
logs are never opened.  dnf's public API only: what it lacks (and the failures known only by their text) is in
dnfcompat.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import dnf
import dnf.callback
import dnf.comps
import dnf.exceptions
import dnf.transaction
import libdnf.transaction

from imgcreate.debug import PROGRESS
from imgcreate.errors import PackageError, RepoError
from imgcreate.host.run import in_process_environment
from imgcreate.kickstart import PackageSpec, RepoSpec
from imgcreate.packages import dnfcompat, repofiles, rpmdb
from imgcreate.packages.transaction import (
    DownloadProgress,
    TransactionProgress,
    check_transaction,
    transaction_error,
    writeback,
)
from imgcreate.storage import inroot

log = logging.getLogger("imgcreate")

_PKG_TYPE_NAMES = {
    dnf.comps.MANDATORY: "mandatory",
    dnf.comps.DEFAULT: "default",
    dnf.comps.OPTIONAL: "optional",
    dnf.comps.CONDITIONAL: "conditional",
}

_GROUP_TYPES = {
    "required": ("mandatory",),
    "default": ("mandatory", "default"),
    "all": ("mandatory", "default", "optional"),
}


# Folders libdnf opens as host paths below the install root, with no option to point it elsewhere (it makes
# /etc/dnf/modules.d itself): a --base-on root with a link there out of the root is refused before dnf starts.
_LIBDNF_HOST_PATHS = ("/etc/dnf/modules.d", "/etc/dnf/modules.defaults.d")


@dataclass
class InstallResult:
    installed: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)  # packages fetched from a remote repo in this build
    download_bytes: int = 0


PKGVERIFY_LEVELS = ("none", "digest", "signature", "all")


class DnfInstaller:
    """One package transaction into *instroot*.  Use it as a context manager: exit closes the rpm database.

    ``cachedir`` is where repository metadata and downloaded packages are kept; a persistent one (``--cache``)
    is reused by the next build without fetching again.  ``logdir`` keeps dnf's own logs out of the image and
    off the host.
    """

    def __init__(
        self,
        instroot: Path,
        releasever: str,
        cachedir: Path,
        logdir: Path,
        cacheonly: bool = False,
        pkgverify_level: str | None = None,
        base: dnf.Base | None = None,
        arch: str | None = None,
    ) -> None:
        """*base*: a dnf.Base to configure and use (upstream's DnfLiveCD is one), else a new one; *arch*: the
        image's architecture when it is not this machine's (dnf's --forcearch)."""
        self.instroot = instroot
        self.cachedir = cachedir
        cachedir.mkdir(parents=True, exist_ok=True)
        logdir.mkdir(parents=True, exist_ok=True)
        conf = base.conf if base is not None else dnf.conf.Conf()
        conf.installroot = str(instroot)
        conf.releasever = releasever
        conf.cachedir = str(cachedir)
        conf.logdir = str(logdir)
        # dnf and rpm open these as host paths below the root: resolved inside it first (a --base-on root may
        # have links there), so they are the image's folders.  The root itself is made if missing, as before.
        instroot.mkdir(parents=True, exist_ok=True)
        inroot.refuse_links_out(instroot, _LIBDNF_HOST_PATHS, "dnf would write through it to the host")
        conf.persistdir = str(instroot / inroot.real_path(instroot, "/var/lib/dnf", create=True).lstrip("/"))
        conf.reposdir = []
        conf.varsdir = []
        conf.keepcache = True
        conf.cacheonly = cacheonly
        conf.skip_if_unavailable = False
        conf.gpgcheck = False
        conf.assumeyes = True
        conf.debuglevel = 0
        if arch is not None and arch != os.uname().machine:
            # dnf's --forcearch: the sack, $arch and $basearch are the image's, and rpm installs packages of an
            # architecture this machine does not run (RPMPROB_FILTER_IGNOREARCH); rpm's platform in the image
            # says the same (rpmdb.write_platform).
            conf.arch = arch
            conf.ignorearch = True
            rpmdb.write_platform(instroot, arch)
        self.conf = conf
        self.base = base if base is not None else dnf.Base(conf)
        # rpm macros in force while this installer is open, removed again by close().  libdnf re-reads rpm's
        # configuration when the Base is made, so they must come after it (see the test-distro notes): Debian's
        # rpm would otherwise put the image's database under $HOME.  _pkgverify_level is what rpm itself checks
        # of each package before installing it: "digest" the checksums, "signature" a signature by a key
        # imported in the image, "all" both.
        self._macros = contextlib.ExitStack()
        self._macros.enter_context(rpmdb.macros(_dbpath=rpmdb.dbpath(instroot)))
        self.set_pkgverify_level(pkgverify_level)
        self.timings: dict[str, float] = {}

    def set_pkgverify_level(self, level: str | None) -> None:
        """rpm's ``_pkgverify_level`` while this installer is open; None: rpm's own default (digest)."""
        if level is not None and level not in PKGVERIFY_LEVELS:
            raise PackageError(
                f"Unknown package verification level '{level}': use one of {', '.join(PKGVERIFY_LEVELS)}."
            )
        if level is not None:
            log.info("rpm verifies each package: %s", level)
            self._macros.enter_context(rpmdb.macros(_pkgverify_level=level))

    # -- context management --------------------------------------------------------------------------------
    def __enter__(self) -> DnfInstaller:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        try:
            with contextlib.suppress(Exception):
                self.base.close()
        finally:
            self._macros.close()

    # -- repositories --------------------------------------------------------------------------------------
    def add_repo(self, spec: RepoSpec) -> Any:
        """Add a kickstart repository; returns dnf's repository object."""
        if not (spec.baseurl or spec.mirrorlist or spec.metalink):
            raise RepoError(f"Repository '{spec.name}' has no --baseurl, --mirrorlist or --metalink.")
        repoid = "".join(c if c.isalnum() or c in "-_.:" else "_" for c in spec.name)
        try:
            return self.base.repos.add_new_repo(repoid, self.conf, baseurl=spec.baseurl, **repofiles.dnf_options(spec))
        except dnf.exceptions.ConfigError as exc:
            raise RepoError(f"Repository '{spec.name}' is not valid: {exc}") from exc

    def repo_urls(self) -> dict[str, str]:
        out = {}
        for repo in self.base.repos.values():
            raw = ", ".join(repo.baseurl) or repo.mirrorlist or repo.metalink or "?"
            out[repo.id] = dnfcompat.substitute(raw, self.conf.substitutions)
        return out

    # -- the transaction -----------------------------------------------------------------------------------
    def load(self) -> None:
        """Load repository metadata (downloading it unless cached), comps groups and the image's rpm database."""
        if not self.base.repos:
            raise RepoError("The kickstart names no repository: add a 'repo --name=... --baseurl=...' line.")
        urls = self.repo_urls()
        for repo in self.base.repos.values():
            log.info("repository %s: %s", repo.id, urls.get(repo.id, "?"))
            self._load_repo(repo)
        try:
            with _sigint_from_librepo():
                self.base.fill_sack(load_system_repo=True, load_available_repos=True)
        except dnf.exceptions.RepoError as exc:
            raise RepoError(f"Cannot load repository metadata: {exc}") from exc
        try:
            self.base.read_comps(arch_filter=True)
        except dnf.exceptions.Error as exc:
            log.warning("no usable comps (group) data in the repositories: %s", exc)

    def _load_repo(self, repo: Any) -> None:
        """Load one repository's metadata; a local repository's is always re-read.

        Re-reading a local repository costs nothing, and cached metadata of a tree that was rebuilt since would
        name packages whose checksums no longer match.
        """
        if repo.baseurl and all(u.startswith("file:") for u in repo.baseurl) and not self.conf.cacheonly:
            dnfcompat.expire_metadata(repo)
        try:
            with _sigint_from_librepo():
                repo.load()
        except dnf.exceptions.RepoError as exc:
            url = self.repo_urls().get(repo.id, "?")
            extra = " (--cacheonly is set and it is not in the cache)" if self.conf.cacheonly else ""
            raise RepoError(f"Cannot load repository '{repo.id}' from {url}{extra}: {exc}") from exc

    def apply_modules(self, modules: list[tuple[str, str | None, bool]]) -> None:
        """Enable or disable module streams (kickstart ``module``) before %packages is resolved.

        Their state is saved in the image's /etc/dnf/modules.d by the transaction, as anaconda leaves it.
        Repositories without modules metadata make the lines meaningless: a warning, not a failure.  Called
        also without module lines: default streams need the platform module too (see _set_module_platform).
        """
        from dnf.module.module_base import ModuleBase

        module_base = ModuleBase(self.base)
        packages, _ = module_base.get_modules("*")  # every stream of every module in the repositories
        if packages:
            self._set_module_platform(packages)
        if not modules:
            return
        if not packages:
            names = ", ".join(f"{n}:{s}" if s else n for n, s, _ in modules)
            log.warning("kickstart 'module' (%s): the repositories have no modules metadata; ignored", names)
            return
        for name, stream, enable in modules:
            spec = f"{name}:{stream}" if stream else name
            try:
                if enable:
                    module_base.enable([spec])
                else:
                    module_base.disable([name])
            except dnf.exceptions.Error as exc:
                action = "enable" if enable else "disable"
                raise PackageError(f"Cannot {action} module '{spec}' (kickstart 'module'): {exc}") from exc
            log.info("module %s %s", spec, "enabled" if enable else "disabled")

    def _set_module_platform(self, packages: Any) -> None:
        """Give dnf the platform pseudo-module (e.g. ``platform:el9``) the repositories' streams require.

        dnf reads it from the install root's os-release, which does not exist before the first package is
        installed, and every EL module stream requires it.  When neither os-release nor configuration names it,
        it is taken from the streams' own requirements.
        """
        if self.conf.module_platform_id:
            return
        for rel in ("etc/os-release", "usr/lib/os-release"):
            with contextlib.suppress(OSError):
                if b"PLATFORM_ID=" in inroot.read_bytes(self.instroot, rel):
                    return
        wanted = _platform_streams(packages)
        if not wanted:
            return
        stream = max(sorted(wanted), key=lambda s: wanted[s])
        log.info("module streams require platform:%s; using it (the image has no os-release yet)", stream)
        self.conf.module_platform_id = f"platform:{stream}"
        dnfcompat.apply_module_platform(self.base)

    def select(self, spec: PackageSpec) -> None:
        """Mark what %packages asks for.  Every missing package or group is named in one error."""
        group_exclude = self._group_excludes(spec)
        groups = self._groups_with_core(spec)
        missing = self._install_environment(self._environment(spec), group_exclude)
        for gname, include in groups:
            if gname in spec.excluded_groups:
                continue
            group = self._find_group(gname)
            if group is None:
                missing.append(f"@{gname}")
                continue
            self.install_group(group, include, set(group_exclude))
        for name in spec.packages:
            try:
                self.base.install(name)
            except dnf.exceptions.MarkingError:
                missing.append(name)
        self._check_missing(missing, spec.ignore_missing)

    def _find_group(self, name: str) -> Any:
        comps = self.base.comps
        return comps.group_by_pattern(name) if comps else None

    def _group_excludes(self, spec: PackageSpec) -> list[str]:
        """Packages not to install from groups: those of ``-@group`` lines and ``-package`` lines, unless named
        explicitly in %packages."""
        excluded_by_group: set[str] = set()
        for gname in spec.excluded_groups:
            group = self._find_group(gname)
            if group is None:
                log.warning("excluded group '@%s' does not exist in the repositories", gname)
                continue
            excluded_by_group.update(pkg.name for pkg in group.packages_iter())
        return sorted((excluded_by_group | set(spec.excluded)) - set(spec.packages))

    def _groups_with_core(self, spec: PackageSpec) -> list[tuple[str, str]]:
        """The groups %packages names, with @core first unless --nocore (as anaconda installs it)."""
        groups = list(spec.groups)
        if not spec.nocore and not any(g[0] == "core" for g in groups):
            if self._find_group("core") is not None:
                groups.insert(0, ("core", "default"))
            else:
                log.warning("the repositories have no 'core' group; nothing installed for it")
        return groups

    def _environment(self, spec: PackageSpec) -> str | None:
        """The environment to install: ``@^name``, or for --default the first one (anaconda's default set)."""
        if spec.environment or not spec.default:
            return spec.environment
        comps = self.base.comps
        envs = list(comps.environments) if comps is not None else []
        if not envs:
            log.warning("%%packages --default: the repositories define no environment; installing @core only")
            return None
        log.info("%%packages --default: installing the environment '@^%s'", envs[0].id)
        return str(envs[0].id)

    def _install_environment(self, environment: str | None, exclude: list[str]) -> list[str]:
        """Mark *environment*'s groups; returns ``["@^name"]`` if the repositories do not define it."""
        if not environment:
            return []
        comps = self.base.comps
        env = comps.environment_by_pattern(environment) if comps else None
        if env is None:
            return [f"@^{environment}"]
        self.base.environment_install(env.id, _GROUP_TYPES["default"], exclude=exclude)
        return []

    def _check_missing(self, missing: list[str], ignore_missing: bool) -> None:
        if missing and not ignore_missing:
            raise PackageError(
                "These packages or groups from %packages were not found in the repositories "
                f"({', '.join(self.repo_urls())}): {', '.join(missing)}. Check their names, or add "
                "--ignoremissing to %packages to skip them."
            )
        for name in missing:
            log.warning("skipping missing package or group '%s' (--ignoremissing)", name)

    def install_group(self, group: Any, include: str, exclude: set[str]) -> None:
        """Install a comps group's packages of the wanted types, minus *exclude*.

        dnf's own group_install() accepts an exclude list but ignores it, so when an exclusion touches the group
        its packages are installed one by one (and the group is not recorded in the image's dnf history).
        """
        types = _GROUP_TYPES[include]
        wanted = [p for p in group.packages_iter() if _PKG_TYPE_NAMES.get(p.option_type) in types]
        if not exclude.intersection(p.name for p in wanted):
            try:
                self.base.group_install(group.id, types, strict=False)
            except dnf.exceptions.Error as exc:
                raise PackageError(f"Cannot install group '@{group.id}': {exc}") from exc
            return
        for pkg in wanted:
            if pkg.name in exclude:
                log.info("not installing %s from @%s (excluded)", pkg.name, group.id)
                continue
            try:
                self.base.install(pkg.name, strict=False)
            except dnf.exceptions.MarkingError:
                log.warning("@%s lists %s, which no repository has", group.id, pkg.name)

    def run(self, spec: PackageSpec) -> InstallResult:
        """Resolve, download and install.  Returns what was installed and what had to be downloaded."""
        self._configure(spec)
        start = time.monotonic()
        self.load()
        self.apply_modules(spec.modules)
        self.select(spec)
        return self.install_marked(start)

    def install_marked(self, start: float | None = None) -> InstallResult:
        """Resolve what is marked, download it and run rpm's transaction into the root (*start*: when the
        resolve step's timing began)."""
        start = time.monotonic() if start is None else start
        try:
            self.base.resolve(allow_erasing=False)
        except dnf.exceptions.DepsolveError as exc:
            raise PackageError(f"Package dependencies cannot be resolved: {exc}") from exc
        self.timings["resolve"] = time.monotonic() - start
        install_set = list(self.base.transaction.install_set)
        result = self._plan_downloads(install_set)
        start = time.monotonic()
        try:
            with _sigint_from_librepo():
                self.base.download_packages(
                    install_set, DownloadProgress(len(result.downloaded), result.download_bytes))
        except dnf.exceptions.Error as exc:
            raise PackageError(f"Downloading packages failed: {exc}") from exc
        self.timings["download"] = time.monotonic() - start
        self._transaction(install_set)
        return result

    def _configure(self, spec: PackageSpec) -> None:
        """What %packages says about how to install (not what): documentation, weak dependencies, languages."""
        conf = self.conf
        if spec.excludedocs:
            conf.tsflags = [*conf.tsflags, "nodocs"]
        conf.install_weak_deps = not spec.exclude_weakdeps
        if spec.excluded:
            conf.excludepkgs = list(spec.excluded)
        if spec.rpm_install_langs is not None:
            self._macros.enter_context(rpmdb.macros(_install_langs=spec.rpm_install_langs))

    def _plan_downloads(self, install_set: list[Any]) -> InstallResult:
        """What will be installed, and which of it must be fetched (neither local nor already in the cache)."""
        result = InstallResult(installed=sorted(str(p) for p in install_set))
        remote = [p for p in install_set if not dnfcompat.is_local_package(self.base, p)]
        to_fetch = [p for p in remote if not _is_cached(p)]
        result.downloaded = sorted(str(p) for p in to_fetch)
        result.download_bytes = sum(p.downloadsize or 0 for p in to_fetch)
        log.log(
            PROGRESS,
            "%d packages to install; %d to download (%.1f MiB), %d already in the cache",
            len(install_set),
            len(to_fetch),
            result.download_bytes / 1048576,
            len(remote) - len(to_fetch),
        )
        return result

    def _transaction(self, install_set: list[Any]) -> None:
        """rpm's transaction into the root, then the check that every package really is in its database."""
        start = time.monotonic()
        progress = TransactionProgress()
        try:
            # rpm runs in this process: a reproducible build's time reaches its database and its scriptlets
            # (e.g. a kernel's dracut) through this process's environment, for the transaction only.
            with writeback(self.instroot), in_process_environment():
                self.base.do_transaction(display=progress)
        except dnf.exceptions.Error as exc:
            raise transaction_error(exc) from exc
        self.timings["transaction"] = time.monotonic() - start
        failed_states = {str(tsi.pkg) for tsi in self.base.transaction
                         if tsi.state == libdnf.transaction.TransactionItemState_ERROR}
        check_transaction(install_set, rpmdb.installed(self.instroot), failed_states, progress)


def _platform_streams(module_packages: Any) -> dict[str, int]:
    """How many module streams require each ``platform`` stream (``-stream`` exclusions left out)."""
    wanted: dict[str, int] = {}
    for pkg in module_packages:
        for dep in pkg.getModuleDependencies():
            for req in dep.getRequires():
                for stream in (list(req["platform"]) if req.has_key("platform") else []):
                    if stream and not stream.startswith("-"):
                        wanted[stream] = wanted.get(stream, 0) + 1
    return wanted


@contextlib.contextmanager
def cache_lock(cachedir: Path) -> Iterator[None]:
    """Hold the package cache for one build at a time, so concurrent builds can share a --cache.

    Taken before dnf is started (and before signals are held back for it), so waiting for the lock can still
    be interrupted.
    """
    cachedir.mkdir(parents=True, exist_ok=True)
    with open(cachedir / ".imgcreate.lock", "w") as lockfile:
        try:
            fcntl.flock(lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.log(PROGRESS, "waiting for another build using the package cache %s", cachedir)
            fcntl.flock(lockfile, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lockfile, fcntl.LOCK_UN)


@contextlib.contextmanager
def _sigint_from_librepo() -> Iterator[None]:
    """librepo stops a transfer on SIGINT by itself, and dnf then raises an error saying so: Ctrl-C again."""
    try:
        yield
    except dnf.exceptions.Error as exc:
        if dnfcompat.is_interrupt(exc):
            raise KeyboardInterrupt(str(exc)) from exc
        raise


def _is_cached(pkg: Any) -> bool:
    path = pkg.localPkg()
    return bool(path) and os.path.exists(path) and os.path.getsize(path) == (pkg.downloadsize or os.path.getsize(path))


