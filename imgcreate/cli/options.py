"""The option blocks every tool's parser shares, written once: the parser itself (exit codes as its epilog,
the version option) and the build folder and package cache options (the logging options are
:func:`imgcreate.debug.add_logging_options`).

Each tool keeps the names, defaults and help texts it had (its man page is generated from its parser, and
``tests/unit/test_option_table.py`` holds every option to its tests), so the help texts that differ between the
tools are parameters here; the defaults are the creators'.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from imgcreate.version import __version__

# What the options below are added to: a parser or one of its groups.
Options = argparse._ActionsContainer


class ToolParser(argparse.ArgumentParser):
    """argparse's parser, with the exit status of a wrong command line chosen per tool: 2 for the Python tools as
    upstream's (argparse's), 1 for those upstream wrote in shell (livecd-iso-to-pxeboot's ``usage`` exits 1), so
    scripts that test ``$? -eq 1`` keep working."""

    usage_status = 2

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(self.usage_status, f"{self.prog}: error: {message}\n")


def tool_parser(prog: str, description: str, epilog: str, version_flags: tuple[str, ...] = ("--version",),
                usage_status: int = 2) -> argparse.ArgumentParser:
    """A tool's parser: *epilog* (its exit codes) shown as written, a version option (*version_flags*:
    appliance-creator's ``--version`` is the appliance's own, so its tool version is ``-V/--tool-version``), and
    *usage_status* the exit status of a wrong command line (see :class:`ToolParser`)."""
    parser = ToolParser(prog=prog, description=description, epilog=epilog,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.usage_status = usage_status
    parser.add_argument(*version_flags, action="version", version=f"%(prog)s (livecd-tools) {__version__}")
    return parser


def add_tmpdir_option(group: Options, help: str = "where the build directory is made (default /var/tmp)") -> None:
    """``-t/--tmpdir``, /var/tmp by default (as upstream: /tmp is often a small tmpfs)."""
    group.add_argument("-t", "--tmpdir", default="/var/tmp", help=help)


def add_work_options(group: Options, tmpdir_help: str = "where the build directory is made (default /var/tmp)", *,
                     cache_names: tuple[str, ...] = ("--cache",),
                     cache_help: str = "persistent package cache, reused by later builds",
                     cacheonly_help: str = "use only the package cache; never download",
                     nocleanup_help: str = "keep the build directory (still unmounts everything)") -> None:
    """Where a build works and what it keeps: ``--tmpdir``, ``--cache`` (also under *cache_names*),
    ``--cacheonly``, ``--nocleanup``: the creators' and editliveos's block."""
    add_tmpdir_option(group, tmpdir_help)
    group.add_argument(*cache_names, dest="cache", help=cache_help)
    group.add_argument("--cacheonly", action="store_true", help=cacheonly_help)
    group.add_argument("--nocleanup", action="store_true", help=nocleanup_help)

