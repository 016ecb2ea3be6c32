"""Upstream's ``imgcreate.dnfinst``: ``DnfLiveCD``, the dnf.Base that creators written against livecd-tools drive.

Upstream's ``ImageCreator.install()`` uses it so::

    dbo = DnfLiveCD(releasever=..., useplugins=...)
    dbo.setup(dnf_conf, instroot, cacheonly=..., excludeWeakdeps=...)
    repo = dbo.addRepository(name, baseurl, mirrorlist)
    dbo.fill_sack(load_system_repo=...)
    dbo.read_comps()
    dbo.selectGroup("core", excluded); dbo.selectPackage("kernel"); dbo.deselectPackage("foo")
    dbo.runInstall()
    dbo.close()

Here it is the same dnf.Base, configured by the build's installer (:class:`imgcreate.packages.dnfbackend.
DnfInstaller`): every dnf and rpm path under the install root or the build's folders, no host repository file,
variable or rpm database read, and the same transaction (resolve, download, rpm, every package checked in the
image's rpm database afterwards).  ``close()`` releases what ``setup()`` took; use ``with`` or call it.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import dnf
import dnf.conf
import dnf.exceptions
import dnf.subject
from pykickstart.constants import GROUP_ALL, GROUP_DEFAULT, GROUP_REQUIRED

from imgcreate.errors import CreatorError, PackageError
from imgcreate.kickstart import RepoSpec
from imgcreate.packages import repofiles
from imgcreate.packages.dnfbackend import DnfInstaller

log = logging.getLogger("imgcreate")

__all__ = ["DnfLiveCD"]

_INCLUDES = {GROUP_REQUIRED: "required", GROUP_DEFAULT: "default", GROUP_ALL: "all"}

# upstream's dnf.conf, written to the path setup() is given (minus failovermethod, which dnf 4 no longer knows)
_CONF = """[main]
installroot={installroot}
cachedir=/var/cache/dnf
plugins=0
reposdir=/dev/null
keepcache=1
obsoletes=1
best=1
tsflags=nocontexts
"""


class DnfLiveCD(dnf.Base):  # type: ignore[misc]  # dnf has no type information
    """Upstream's dnf.Base for image creators: its methods, over the build's installer."""

    def __init__(self, releasever: str | None = None, useplugins: bool = False,
                 pkgverify_level: str | None = None) -> None:
        """*releasever*: ``$releasever`` in repository URLs (default: the host's).  *useplugins*: accepted and
        warned about; no dnf plugin is loaded (a host plugin would act on the build and the host)."""
        dnf.Base.__init__(self, dnf.conf.Conf())  # a conf of its own: dnf's default one reads the host's rpm db
        self.releasever = releasever
        self.useplugins = useplugins
        self.pkgverify_level = pkgverify_level
        self._installer: DnfInstaller | None = None
        self._workdir: str | None = None
        if useplugins:
            log.warning("DnfLiveCD(useplugins=True): dnf plugins are not loaded for image builds")

    def __enter__(self) -> DnfLiveCD:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def doFileLogSetup(self, uid: int, logfile: str) -> None:  # noqa: N802 (upstream's name)
        """No file log (upstream's): dnf's logs go to a folder of this object's, removed by close()."""

    def setup(self, confpath: str, installroot: str, cacheonly: bool = False, excludeWeakdeps: bool = False,  # noqa: N803
              ) -> None:
        """Write upstream's dnf.conf to *confpath* and point dnf at *installroot*: its cache in
        ``installroot/var/cache/dnf`` (upstream's creators bind-mount a shared cache there), its state there too."""
        Path(confpath).write_text(_CONF.format(installroot=installroot))
        os.chmod(confpath, 0o644)
        self._workdir = tempfile.mkdtemp(prefix="dnflivecd-", dir=os.path.dirname(os.path.abspath(confpath)))
        root = Path(installroot)
        releasever = self.releasever or repofiles.host_releasever() or ""
        self._installer = DnfInstaller(root, releasever, root / "var/cache/dnf", Path(self._workdir) / "log",
                                       cacheonly=cacheonly, base=self)
        self.conf.install_weak_deps = not excludeWeakdeps

    @property
    def installer(self) -> DnfInstaller:
        if self._installer is None:
            raise CreatorError("DnfLiveCD: call setup(confpath, installroot) first")
        return self._installer

    def close(self) -> None:
        """Close dnf and the image's rpm database, and remove this object's log folder (twice is harmless)."""
        try:
            installer, self._installer = self._installer, None
            if installer is not None:
                installer.close()  # closes this Base too (through this method, then with no installer)
            else:
                dnf.Base.close(self)
        finally:
            if self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None

    # -- what to install -------------------------------------------------------------------------------------
    def deselectPackage(self, pkg: str) -> None:  # noqa: N802
        """Exclude *pkg* (``name``, ``name.arch`` or a glob) from what may be installed, as upstream."""
        self.sack.add_excludes(dnf.subject.Subject(pkg).get_best_query(self.sack))

    def selectPackage(self, pkg: str) -> int:  # noqa: N802
        """Mark *pkg* for installing; dnf.exceptions.MarkingError if no repository has it (upstream's)."""
        return int(self.install(pkg))

    def selectGroup(self, group_id: str, exclude: list[str], include: int = GROUP_DEFAULT) -> None:  # noqa: N802
        """Mark a comps group's packages (mandatory and default; ``GROUP_REQUIRED``: mandatory; ``GROUP_ALL``: also
        optional), except those in *exclude*; dnf.exceptions.MarkingError for a group no repository has."""
        group = self.comps.group_by_pattern(group_id) if self.comps is not None else None
        if group is None:
            raise dnf.exceptions.MarkingError("no such group", "@" + group_id)
        self.installer.install_group(group, _INCLUDES.get(include, "default"), set(exclude or ()))

    def environmentGroups(self, environmentid: str, optional: bool = True) -> list[str]:  # noqa: N802
        """The ids of an environment's groups (with its optional ones unless *optional* is False)."""
        env = self.comps.environment_by_pattern(environmentid) if self.comps is not None else None
        if env is None:
            raise dnf.exceptions.MarkingError("no such environment", "@^" + environmentid)
        group_ids = (gid.name for gid in env.group_ids)
        if not optional:
            return list(group_ids)
        return list(itertools.chain(group_ids, (gid.name for gid in env.option_ids)))

    def selectEnvironment(self, env_id: str, excluded: list[str], excludedPkgs: list[str]) -> None:  # noqa: N802,N803
        """Mark an environment's groups, except the groups in *excluded*, without the packages in *excludedPkgs*."""
        for group_id in sorted(set(self.environmentGroups(env_id, optional=False)) - set(excluded)):
            self.selectGroup(group_id, excludedPkgs)

    # -- where from ------------------------------------------------------------------------------------------
    def addRepository(self, name: str, url: str | None = None, mirrorlist: str | None = None) -> Any:  # noqa: N802
        """Add a repository (``$releasever``, ``$basearch`` substituted); returns dnf's repository object, whose
        includepkgs, excludepkgs, proxy, cost and sslverify a creator may still set."""
        return self.installer.add_repo(RepoSpec(name=name, baseurl=(url,) if url else (), mirrorlist=mirrorlist))

    def addRepositoryFromConfigFile(self, repo: str) -> None:  # noqa: N802
        """Add the enabled repositories of a ``.repo`` file, or of every ``*.repo`` file in a directory."""
        for spec in repofiles.read_repo_path(Path(repo)):
            self.installer.add_repo(spec)

    def setPkgVerifyLevel(self, pkgverify_level: str) -> None:  # noqa: N802
        """rpm's ``%_pkgverify_level`` for runInstall(): all, signature, digest or none."""
        self.pkgverify_level = pkgverify_level

    def runInstall(self) -> bool:  # noqa: N802
        """Resolve, download and install what is marked; CreatorError (PackageError) when that fails."""
        if self.pkgverify_level is not None:
            self.installer.set_pkgverify_level(self.pkgverify_level)
        try:
            self.installer.install_marked()
        except dnf.exceptions.Error as exc:
            raise PackageError(f"Failed to build transaction : {exc}") from exc
        return True
