"""Typed errors.

Every failure a user can cause or meet ends as one of these, so the command-line tools can print a single clear
paragraph and exit non-zero instead of a traceback.  Each message says what went wrong and, where we know it,
what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence


class CreatorError(Exception):
    """Base class for every error the image creators raise on purpose."""

    exit_code = 1

    def __init__(self, msg: str = "", *args: object) -> None:
        # Upstream's signature (CreatorError(msg)); the message stays readable as ``msg`` for scripts that use it.
        super().__init__(msg, *args)
        self.msg = msg


class KickstartError(CreatorError):
    """The kickstart file is missing, unreadable, or not valid kickstart (message names file and line)."""


class PackageError(CreatorError):
    """A package or group could not be found, resolved, downloaded or installed."""


class RepoError(CreatorError):
    """A repository could not be reached or its metadata could not be read."""


class MountError(CreatorError):
    """A filesystem could not be mounted or unmounted."""


class ImageError(CreatorError):
    """Creating, checking or shrinking a filesystem image failed (e.g. the image is too small)."""


class SnapshotError(CreatorError):
    """Upstream's name for a failed device-mapper snapshot; kept so that ``except SnapshotError`` still works."""


class SquashfsError(CreatorError):
    """Making or reading a squashfs image failed (upstream's name)."""


class ResizeError(ImageError):
    """Resizing a filesystem image failed (upstream's name)."""


class CryptoLUKSError(CreatorError):
    """Upstream's name for a failed LUKS operation (``imgcreate.fs.CryptoLUKSDevice``; builds make no LUKS images)."""


class ScriptError(CreatorError):
    """A kickstart %pre/%post script failed and asked for the build to stop (--erroronfail)."""


class Interrupted(KeyboardInterrupt):
    """The build was stopped by SIGTERM or SIGHUP (Ctrl-C raises KeyboardInterrupt itself).

    It derives from KeyboardInterrupt, not Exception, for the same reason Ctrl-C does: no ``except Exception``
    on the way (logging's, dnf's) may swallow it, so the build really stops and unwinds.
    """

    exit_code = 130


class MissingToolError(CreatorError):
    """A host tool we need is not installed; the message names the package that provides it."""

    def __init__(self, tool: str, packages: str | None = None) -> None:
        self.tool = tool
        hint = f" Install it with: {packages}." if packages else ""
        super().__init__(f"The command '{tool}' is needed but was not found on this host.{hint}")


class CommandError(CreatorError):
    """An external command failed.  The message carries the exact command line and the tail of its output."""

    def __init__(self, argv: Sequence[str], returncode: int, output: str = "", what: str | None = None) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        tail = "\n".join(output.strip().splitlines()[-15:])
        cmdline = " ".join(_quote(a) for a in self.argv)
        head = f"{what}: " if what else ""
        msg = f"{head}command failed with exit status {returncode}: {cmdline}"
        if tail:
            msg += "\n" + tail
        super().__init__(msg)


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
