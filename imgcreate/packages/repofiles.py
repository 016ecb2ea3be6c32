"""Reading dnf ``.repo`` files: upstream's ``--repo PATH``, whose repositories replace the kickstart's.

A build system keeps its mirrors in .repo files (the format of /etc/yum.repos.d) and points every kickstart at
them with ``livecd-creator --repo DIR``; the kickstart's own ``repo`` lines are then ignored, as upstream does.
Only what a build uses is read; dnf substitutes ``$releasever`` and ``$basearch`` itself.
"""

from __future__ import annotations

import configparser
import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from imgcreate.errors import RepoError
from imgcreate.kickstart import RepoSpec


def read_repo_path(path: Path) -> tuple[RepoSpec, ...]:
    """The enabled repositories of a ``.repo`` file, or of every ``*.repo`` file in a directory (sorted)."""
    if path.is_dir():
        files = sorted(path.glob("*.repo"))
        if not files:
            raise RepoError(f"--repo: the directory {path} holds no .repo files.")
    elif path.is_file():
        files = [path]
    else:
        raise RepoError(f"--repo: {path} is neither a .repo file nor a directory of them.")
    repos = tuple(spec for f in files for spec in _read_file(f))
    if not repos:
        raise RepoError(f"--repo: {path} defines no enabled repository.")
    return repos


def _read_file(path: Path) -> list[RepoSpec]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path)
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise RepoError(f"--repo: cannot read {path}: {' '.join(str(exc).split())}") from exc
    repos = []
    for name in parser.sections():
        section = parser[name]
        if not _flag(section.get("enabled", "1")):
            continue
        baseurl = tuple(u for u in section.get("baseurl", "").replace(",", " ").split() if u)
        spec = RepoSpec(
            name=name,
            baseurl=baseurl,
            mirrorlist=section.get("mirrorlist") or None,
            metalink=section.get("metalink") or None,
            includepkgs=_words(section.get("includepkgs", "")),
            excludepkgs=_words(section.get("excludepkgs", section.get("exclude", ""))),
            cost=_cost(section.get("cost"), name, path),
            proxy=section.get("proxy") or None,
            noverifyssl=not _flag(section.get("sslverify", "1")),
            sslcacert=section.get("sslcacert") or None,
            sslclientcert=section.get("sslclientcert") or None,
            sslclientkey=section.get("sslclientkey") or None,
        )
        if not (spec.baseurl or spec.mirrorlist or spec.metalink):
            raise RepoError(f"--repo: repository [{name}] in {path} has no baseurl, mirrorlist or metalink.")
        repos.append(spec)
    return repos


def _cost(value: str | None, name: str, path: Path) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise RepoError(f"--repo: repository [{name}] in {path} has cost={value}, not a number.") from None


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "yes", "true", "on")


def _words(value: str) -> tuple[str, ...]:
    return tuple(w for w in value.replace(",", " ").split() if w)


def read_repo_paths(repo: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[RepoSpec]:
    """The repositories of one ``.repo`` path or several (files or directories of them), in order."""
    paths = [repo] if isinstance(repo, (str, os.PathLike)) else list(repo)
    return [spec for p in paths for spec in read_repo_path(Path(p))]


def build_repos(kickstart_repos: Sequence[RepoSpec],
                repo: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None,
                extra: Sequence[RepoSpec], repo_urls: Mapping[str, str] | None) -> tuple[RepoSpec, ...]:
    """The repositories a build installs from, as upstream's install() chooses them: the kickstart's, or those
    *repo* names instead (``--repo``: .repo files or folders of them); then *extra* (``extra_repos``); then
    *repo_urls* (name -> URL) applied by :func:`with_urls`."""
    repos = list(kickstart_repos) if repo is None else read_repo_paths(repo)
    return tuple(with_urls([*repos, *extra], repo_urls or {}))


def with_urls(repos: Sequence[RepoSpec], repo_urls: Mapping[str, str]) -> list[RepoSpec]:
    """*repos* with upstream's ``install(repo_urls=...)`` applied: a repository named in *repo_urls* gets that URL
    as its only baseurl, its mirrorlist and metalink dropped (upstream's ``kickstart.get_repos``); a name none of
    them has adds a repository with that URL (livecd-creator's ``--repo NAME,URL`` here; upstream ignores it)."""
    urls = dict(repo_urls)
    out = [dataclasses.replace(r, baseurl=(urls[r.name],), mirrorlist=None, metalink=None) if r.name in urls else r
           for r in repos]
    known = {r.name for r in repos}
    return out + [RepoSpec(name=name, baseurl=(url,)) for name, url in urls.items() if name not in known]


def host_releasever() -> str | None:
    """The host's release version, the default for $releasever (as yum used the running system's)."""
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("VERSION_ID="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return None


def dnf_options(spec: RepoSpec) -> dict[str, Any]:
    """dnf's repository options for a kickstart repo line (besides its id and baseurl)."""
    options: dict[str, Any] = {}
    if spec.mirrorlist:
        options["mirrorlist"] = spec.mirrorlist
    if spec.metalink:
        options["metalink"] = spec.metalink
    # As comma-separated strings: add_new_repo() substitutes variables in a list but keeps only its
    # first item (dnf 4.14), while a string is split by the option itself.
    if spec.includepkgs:
        options["includepkgs"] = ",".join(spec.includepkgs)
    if spec.excludepkgs:
        options["excludepkgs"] = ",".join(spec.excludepkgs)
    if spec.cost is not None:
        options["cost"] = spec.cost
    if spec.proxy:
        options["proxy"] = spec.proxy
    if spec.noverifyssl:
        options["sslverify"] = False
    for opt in ("sslcacert", "sslclientcert", "sslclientkey"):
        if getattr(spec, opt):
            options[opt] = getattr(spec, opt)
    return options
