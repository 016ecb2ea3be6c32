"""Incremental builds (``--incremental``, mkosi's ``Incremental=`` is the model): the installed tree after the
rpm transaction is kept in a cache, and a later build that would install exactly the same starts from a copy of
it instead of running dnf and rpm.

The key is everything that decides the installed tree: the package set and its options (``%packages`` with the
image type's own additions and exclusions), every repository's definition and its metadata (the sha256 of its
``repodata/repomd.xml``, which changes whenever a package is added, removed or rebuilt), the architecture, this
tool's version, and the build settings that mark themselves as deciding the install
(:meth:`imgcreate.config.model.BuildConfig.install_settings`: the release version, rpm's verification level,
the reproducible epoch, which rpm records as the install time).  A repository whose metadata cannot be read up
front (a mirrorlist or metalink, or an unreachable URL) makes the build a normal one, said in the log.

The compressed root (``LiveOS/squashfs.img``) is kept too, inside the tree's entry, keyed by what decides it
beyond the installed tree: the whole kickstart (settings and scripts) and the image's own settings (label,
filesystem, size, compressor, root layout, dracut options).  A rebuild in which only the ISO's menu changes
(``--title``, ``--product``) takes it as it is: the root is still configured (its boot files and the
``%post --nochroot`` scripts' files on the ISO are made again), but not checked, shrunk or compressed.  The
scripts are taken to do the same for the same text, as mkosi takes them.

Entries are safe to share: each is written to a temporary folder and renamed into place whole, with its
description (``entry.json``: the key and a digest of the tree's listing) written last, so a half-written entry
is never seen.  An entry whose tree no longer matches its listing (damaged, a file lost or truncated) is
removed and the build runs in full and stores a fresh one.  Deleting the cache, or ``--no-incremental``, always
gives a full build with the same result.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass
from pathlib import Path

from imgcreate.build.manifest import file_digest
from imgcreate.debug import PROGRESS
from imgcreate.host.run import run
from imgcreate.kickstart import PackageSpec, RepoSpec

log = logging.getLogger("imgcreate")

ENTRY = "entry.json"
TREE = "tree"
ROOTS = "roots"  # in a tree's entry: the compressed roots made from it, one folder per root key


@dataclass(frozen=True)
class InstallKey:
    """What decides the installed tree; :attr:`digest` names the cache entry."""

    packages: PackageSpec
    repos: tuple[tuple[RepoSpec, str], ...]  # each repository with the sha256 of its repomd.xml
    settings: tuple[tuple[str, object], ...]  # the build settings marked as deciding the install, sorted
    arch: str
    version: str

    def describe(self) -> dict[str, object]:
        described: dict[str, object] = json.loads(json.dumps(asdict(self), default=list, sort_keys=True))
        return described  # tuples become lists, as they come back from entry.json

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.describe(), sort_keys=True).encode()).hexdigest()[:32]


def repo_metadata_digest(repo: RepoSpec, variables: dict[str, str] | None = None, timeout: float = 30) -> str | None:
    """sha256 of the repository's ``repodata/repomd.xml`` (the first base URL that answers, with dnf's
    ``$releasever``/``$basearch`` style *variables* put in); None when it has no fixed URL or none answers."""
    if repo.mirrorlist or repo.metalink or not repo.baseurl:
        return None
    for template in repo.baseurl:
        url = template
        for name, value in sorted((variables or {}).items(), key=lambda kv: -len(kv[0])):
            url = url.replace(f"${{{name}}}", value).replace(f"${name}", value)
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/repodata/repomd.xml", timeout=timeout) as response:
                return hashlib.sha256(response.read()).hexdigest()
        except (OSError, ValueError) as exc:
            log.debug("incremental: cannot read the metadata of %s at %s: %s", repo.name, url, exc)
    return None


def install_key(packages: PackageSpec, repos: Sequence[RepoSpec], settings: Mapping[str, object], releasever: str,
                arch: str, version: str) -> InstallKey | None:
    """The key of this install, or None when a repository's metadata cannot be read up front.  *releasever*
    fills in the repositories' URLs (it is one of *settings* too)."""
    found = []
    basearch = "i386" if arch in ("i486", "i586", "i686") else arch
    for repo in repos:
        digest = repo_metadata_digest(repo, {"releasever": releasever, "basearch": basearch, "arch": arch})
        if digest is None:
            log.log(PROGRESS, "incremental: the metadata of repository '%s' cannot be read up front (a mirror "
                              "list, or no answer): a full build", repo.name)
            return None
        found.append((repo, digest))
    return InstallKey(packages, tuple(found), tuple(sorted(settings.items())), arch, version)


def root_key(install: InstallKey, kickstart_text: str, settings: dict[str, object]) -> str:
    """The key of the compressed root made from the tree of *install*, by the kickstart *kickstart_text* (as
    pykickstart writes it back: every setting and script) with the image's root *settings*."""
    described = {"install": install.digest, "kickstart": kickstart_text, "settings": settings}
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()[:32]


def link_or_copy(source: Path, dest: Path) -> None:
    """*dest* as a hard link to *source* (the file is only ever read), or a copy across filesystems."""
    try:
        os.link(source, dest)
    except OSError:
        run(["cp", "--reflink=auto", "--sparse=always", str(source), str(dest)], what=f"Copying {source}")


def reuse_root(cache: TreeCache, tree: InstallKey, root: str, dest: Path) -> bool:
    """Put the compressed root an earlier build stored for *tree* and *root* (:func:`root_key`) at *dest*
    (linked, else copied); False when there is none yet."""
    image = cache.lookup_root(tree, root, dest.name)
    if image is None:
        log.log(PROGRESS, "incremental: no compressed root for this kickstart and these settings yet")
        return False
    link_or_copy(image, dest)
    log.log(PROGRESS, "incremental: reused the compressed root %s (no check, shrink or compression)", image.parent)
    return True


def listing_digest(tree: Path) -> str:
    """A digest of the tree's listing: every path with its type, size and mode (not its content: reading
    gigabytes on every build would cost what the cache saves; a truncated or lost file changes it)."""
    digest = hashlib.sha256()
    for top, dirs, files in os.walk(tree):
        dirs.sort()
        for name in sorted(dirs + files):
            path = Path(top, name)
            st = path.lstat()
            digest.update(f"{path.relative_to(tree)}\0{st.st_mode:o}\0{st.st_size}\n".encode())
    return digest.hexdigest()


class TreeCache:
    """The installed trees under *directory*, one entry per key."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def lookup(self, key: InstallKey) -> Path | None:
        """The entry's tree for *key*; None on a miss.  A damaged entry is removed (and is a miss)."""
        entry = self.directory / key.digest
        description = self._description(entry, "cache entry")
        if description is None:
            return None
        if description.get("key") != key.describe() or description.get("listing") != listing_digest(entry / TREE):
            log.warning("incremental: the cache entry %s is damaged (its tree does not match its listing); "
                        "removing it and installing again", entry)
            self._remove(entry)
            return None
        return entry / TREE

    def store(self, key: InstallKey, root: Path, skip: AbstractSet[str]) -> None:
        """Copy the installed tree *root* (without the contents of its top-level entries named in *skip*, the
        API filesystems mounted there) into a new entry."""

        def fill(tmp: Path) -> None:
            copy_tree(root, tmp / TREE, skip)
            (tmp / ENTRY).write_text(json.dumps({"key": key.describe(), "listing": listing_digest(tmp / TREE)},
                                                sort_keys=True, indent=1))

        self._publish(self.directory / key.digest, fill, "the installed tree")

    def lookup_root(self, key: InstallKey, root: str, name: str) -> Path | None:
        """The compressed root *name* stored for the tree of *key* under the root key *root*; None on a miss.
        One that no longer has its size and sha256 is removed (and is a miss)."""
        entry = self.directory / key.digest / ROOTS / root
        description = self._description(entry, "compressed root")
        if description is None:
            return None
        image = entry / name
        if (not image.is_file() or image.stat().st_size != description.get("size")
                or file_digest(image) != description.get("sha256")):
            log.warning("incremental: the compressed root %s is damaged; removing it and compressing again", entry)
            self._remove(entry)
            return None
        return image

    def store_root(self, key: InstallKey, root: str, image: Path) -> None:
        """Keep the compressed root *image* for the tree of *key* under the root key *root* (when that tree's
        entry is there: a root is never kept without the tree it was made from)."""
        if not (self.directory / key.digest / ENTRY).is_file():
            return

        def fill(tmp: Path) -> None:
            link_or_copy(image, tmp / image.name)
            (tmp / ENTRY).write_text(json.dumps({"size": image.stat().st_size, "sha256": file_digest(image)},
                                                sort_keys=True, indent=1))

        self._publish(self.directory / key.digest / ROOTS / root, fill, "the compressed root")

    def _description(self, entry: Path, what: str) -> dict[str, object] | None:
        """An entry's entry.json; None when there is none (a miss), and an entry without one is removed."""
        try:
            description: dict[str, object] = json.loads((entry / ENTRY).read_text())
            return description
        except (OSError, ValueError):
            if entry.exists():
                log.warning("incremental: the %s %s is incomplete; removing it", what, entry)
                self._remove(entry)
            return None

    def _publish(self, entry: Path, fill: Callable[[Path], None], what: str) -> None:
        """Make *entry* whole or not at all: *fill* writes it in a folder aside (its entry.json last), which is
        then renamed into place.  If another build stored the same entry first, theirs is kept."""
        if (entry / ENTRY).exists():
            return
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
        try:
            fill(tmp)
            try:
                os.rename(tmp, entry)
            except OSError:
                log.debug("incremental: %s was stored meanwhile", entry)
                return
            log.log(PROGRESS, "incremental: stored %s as %s", what, entry)
        finally:
            if tmp.exists():
                self._remove(tmp)

    @staticmethod
    def _remove(path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(OSError):
            path.rmdir()


def copy_tree(source: Path, dest: Path, skip: AbstractSet[str]) -> None:
    """Copy *source* into *dest* (made) with owners, modes, links, xattrs; reflinks where the filesystem has
    them.  The top-level entries named in *skip* (where an install root has its API filesystems mounted) are
    left out: when storing they are empty in the image anyway, and when restoring they are mounted.  Other
    mounts are crossed: a disk image's partitions (``/var/log`` on its own) are part of the installed tree."""
    dest.mkdir(parents=True, exist_ok=True)
    entries = [str(child) for child in sorted(source.iterdir()) if child.name not in skip]
    for name in sorted(skip):
        if (source / name).is_dir() and not (dest / name).exists():
            (dest / name).mkdir()
    if entries:
        run(["cp", "-a", "--reflink=auto", *entries, str(dest)],
            what=f"Copying the installed tree to {dest}")
