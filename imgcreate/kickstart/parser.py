"""Parsing a kickstart file with pykickstart (``%include`` followed, errors naming the file and line)."""

from __future__ import annotations

import os
import urllib.parse
from typing import TYPE_CHECKING, Any, Union

from pykickstart import version as ksversion
from pykickstart.base import BaseHandler
from pykickstart.errors import KickstartError as PyKickstartError
from pykickstart.parser import KickstartParser

from imgcreate.errors import KickstartError

# A pykickstart KickstartParser (what read_kickstart() returns) or its handler (a BaseHandler of the kickstart's
# syntax version): every function of imgcreate.kickstart and every creator takes either (see
# reader.as_handler()).  pykickstart ships no type hints; outside this package the object is only passed along,
# never looked into (reader.flattened() writes it).
KickstartHandler = Union[KickstartParser, BaseHandler]
# One command of a handler (``handler.lang``, ``handler.network``): what upstream's *Config classes are given.
# pykickstart types none of them; the readers in reader.py are the only code that looks into one.
KickstartCommand = Any


if TYPE_CHECKING:

    class _ParserBase:
        """The part of pykickstart's KickstartParser this module uses.  pykickstart ships no type hints, so
        this declares them for the type checker; at run time the base is the real KickstartParser."""

        handler: Any

        def __init__(self, handler: Any) -> None: ...

        def readKickstart(self, f: str, reset: bool = True) -> None: ...  # noqa: N802 (pykickstart's name)

else:
    _ParserBase = KickstartParser


class _TrackingParser(_ParserBase):
    """A KickstartParser that remembers which file (main or %include) it was reading when an error happened."""

    def __init__(self, handler: Any) -> None:
        super().__init__(handler)
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


def read_kickstart(path: str | os.PathLike[str], version: str | None = None) -> KickstartParser:
    """Parse the kickstart file at *path* and return the pykickstart KickstartParser holding it.

    A parser, as upstream's read_kickstart() returns, because scripts written for upstream use ``ks.handler``;
    this library takes the parser or its handler alike.

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
    return parser


