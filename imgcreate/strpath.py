"""``StrPath``: a path that is a ``str``, as upstream's creators hand paths out, and also joins with ``/``.

Creators written for livecd-tools build paths by concatenation (``self._instroot + "/etc/sysconfig/"``,
``self._outdir + "/" + self.name``) and pass them to ``os`` and ``subprocess``; this library's own code joins
with ``/``.  One type serves both: it *is* the string (``+``, ``%``, ``startswith``, ``os.path.*`` all behave as
on upstream's ``str``), ``/`` joins as :class:`pathlib.Path` does and gives a ``StrPath`` again, and
:attr:`StrPath.path` is the :class:`~pathlib.Path` for everything else.
"""

from __future__ import annotations

import os
from pathlib import Path


class StrPath(str):
    """A ``str`` path that also supports ``/`` (returning a ``StrPath``) and converts to a Path (``.path``)."""

    __slots__ = ()

    def __new__(cls, value: str | os.PathLike[str]) -> StrPath:
        return super().__new__(cls, os.fspath(value))

    def __truediv__(self, other: str | os.PathLike[str]) -> StrPath:
        # os.path.join's rule is Path's: an absolute right-hand side replaces the left.
        return StrPath(os.path.join(self, os.fspath(other)))

    def __rtruediv__(self, other: str | os.PathLike[str]) -> StrPath:
        return StrPath(os.path.join(os.fspath(other), self))

    def __fspath__(self) -> str:
        return str.__str__(self)

    @property
    def path(self) -> Path:
        """The same path as a :class:`pathlib.Path` (for ``mkdir``, ``is_dir``, ``read_text``, ...)."""
        return Path(self)

    def __repr__(self) -> str:
        return f"StrPath({str.__repr__(self)})"
