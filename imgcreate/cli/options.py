"""The option blocks every tool's parser shares, written once: the parser itself (exit codes as its epilog,
the version option) and the build folder and package cache options (the logging options are
:func:`imgcreate.debug.add_logging_options`).

Each tool keeps the names, defaults and help texts it had (its man page is generated from its parser, and
``tests/unit/test_option_table.py`` holds every option to its tests), so the help texts that differ between the
tools are parameters here; the defaults are the creators'.
"""

from __future__ import annotations

import argparse

from imgcreate.version import __version__

# What the options below are added to: a parser or one of its groups.
Options = argparse._ActionsContainer


def tool_parser(prog: str, description: str, epilog: str,
                version_flags: tuple[str, ...] = ("--version",)) -> argparse.ArgumentParser:
    """A tool's parser: *epilog* (its exit codes) shown as written, and a version option (*version_flags*:
    appliance-creator's ``--version`` is the appliance's own, so its tool version is ``-V/--tool-version``)."""
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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

