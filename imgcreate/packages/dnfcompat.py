"""Every use of dnf's and libdnf's internals, and every reading of their messages, in one place.

Why a module of its own: dnf's Python API does not reach everything a build needs, and a few of its failures
arrive only as text.  Each function here names the internal it uses or the text it reads, says why the public
API does not suffice, and was checked against dnf 4.14.0, libdnf 0.69.0 and librepo 1.14.5 (Debian 12), so a
new dnf is checked here and nowhere else.  dnfbackend.py calls these and otherwise keeps to the public API
(``# :api`` in dnf's sources).

Of the texts read here, librepo's error strings and dnf's transaction display messages are never translated.
rpm's problem strings are: importing dnf sets the user's locale (``setlocale(LC_ALL, "")``), so where rpm's
translations are installed a full root is not recognised and is reported as a failed transaction in rpm's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# -- internals -------------------------------------------------------------------------------------------------


def expire_metadata(repo: Any) -> None:
    """Make dnf re-check a repository's metadata on the next load instead of trusting its cache.

    Uses ``repo._repo.expire()`` (libdnf's ``Repo::expire``), which is what dnf's own ``--refresh`` and
    ``makecache`` call.  The public route, ``repo.metadata_expire = 0``, has a one-second resolution: libdnf
    counts the cache's age in whole seconds and expires it only when older than that, so a tree rebuilt within
    the second its cache was written would still be trusted.
    """
    repo._repo.expire()


def apply_module_platform(base: Any) -> None:
    """Recompute which packages modularity hides, after ``base.conf.module_platform_id`` has changed.

    Uses ``base._setup_modular_excludes()``, the step ``fill_sack()`` ends with.  The platform can only be
    found once the repositories' module metadata is loaded, that is after ``fill_sack()``; the public way to
    redo this step is a second ``fill_sack()``, which reloads every repository and the image's rpm database
    (seconds with large repositories) only to repeat it.
    """
    base._setup_modular_excludes()


def is_local_package(base: Any, pkg: Any) -> bool:
    """Whether dnf reads *pkg* in place (from a local repository) instead of downloading it into the cache.

    dnf decides this in the private ``Package._is_local_pkg()`` with libdnf's ``Repo::isLocal()``; this is the
    same rule from public attributes: a location that is not a remote URL, in a repository with neither a
    mirror list nor a metalink whose first baseurl is ``file://``.  It only decides what a build reports as
    downloaded, never what dnf does.
    """
    location = pkg.location or ""
    if "://" in location and not location.startswith("file://"):
        return False
    repo = base.repos[pkg.reponame]
    local_repo = not repo.metalink and not repo.mirrorlist and bool(repo.baseurl) and \
        repo.baseurl[0].startswith("file://")
    return local_repo and (not pkg.baseurl or pkg.baseurl.startswith("file://"))


# -- failures known only by their text -------------------------------------------------------------------------

_INTERRUPTED = ("Interrupted by a SIGINT", "Interrupted by SIGINT")  # librepo's two wordings


def is_interrupt(exc: Exception) -> bool:
    """Whether a dnf error is librepo giving up a transfer because of Ctrl-C (librepo handles SIGINT itself).

    librepo's ``LRE_INTERRUPTED`` code does not survive: libdnf turns it into a ``RuntimeError`` with librepo's
    message, and dnf into a ``RepoError`` (metadata) or a ``DownloadError`` whose ``errmap`` holds the same
    message per package.  The message is all that is left.
    """
    text = str(exc)
    return any(words in text for words in _INTERRUPTED)


_NO_ROOM = re.compile(r"needs \d+\w* more (?:space|inodes) on the .+ filesystem")


def is_out_of_room(exc: Exception) -> bool:
    """Whether ``do_transaction()`` failed because rpm found too little space or too few inodes in the root.

    rpm reports these as typed problems (``RPMPROB_DISKSPACE``, ``RPMPROB_DISKNODES``), but dnf's transaction
    test keeps only their descriptions ("installing package X needs 12MB more space on the / filesystem") and
    raises a plain ``dnf.exceptions.Error``; dnf itself reads the same text (``Base._trans_error_summary``).
    """
    return _NO_ROOM.search(str(exc)) is not None


@dataclass(frozen=True)
class ElementError:
    """An error dnf reported to the transaction display about one package, read back from its text.

    dnf's rpm callback knows the package, the scriptlet's tag and whether the failure is fatal, but hands its
    displays one message string (``dnf.yum.rpmtrans.RPMTransaction._scriptError``, ``_unpackError``,
    ``_cpioError``); getting them otherwise would mean replacing that private class.
    """

    message: str
    package: str  # as dnf names it: the package name for a scriptlet, its full NEVRA otherwise
    scriptlet: str | None = None  # rpm's tag of the failed scriptlet, e.g. "PREIN"
    unpacking: bool = False  # rpm could not unpack the payload

    def names(self, name: str, nevra: str) -> bool:
        return self.package in (name, nevra)


_SCRIPT_ERROR = re.compile(r"Error in (\w+) scriptlet in rpm package (\S+)")
_UNPACK_ERROR = re.compile(r"Error unpacking rpm package (\S+)")
_CPIO_ERROR = re.compile(r"Error in cpio payload of rpm package (\S+)")


def element_error(message: str) -> ElementError | None:
    """The package (and scriptlet) a transaction display's error message is about; None for other messages."""
    match = _SCRIPT_ERROR.search(message)
    if match:
        return ElementError(message, match.group(2), scriptlet=match.group(1))
    match = _UNPACK_ERROR.search(message)
    if match:
        return ElementError(message, match.group(1), unpacking=True)
    match = _CPIO_ERROR.search(message)
    if match:
        return ElementError(message, match.group(1))
    return None


def substitute(text: str, substitutions: Any) -> str:
    """*text* with dnf's variables ($releasever, $basearch) replaced, as dnf itself does for repository URLs."""
    import libdnf.conf

    return str(libdnf.conf.ConfigParser.substitute(text, dict(substitutions)))
