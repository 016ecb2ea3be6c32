"""The command line of ``mkbiarch``: upstream's three positionals (two live ISOs and the image to make)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from imgcreate import debug
from imgcreate.cli import command
from imgcreate.cli.options import tool_parser
from imgcreate.cli.toolbox import EXIT_CODES


def mkbiarch_parser() -> argparse.ArgumentParser:
    parser = tool_parser(
        "mkbiarch", epilog=EXIT_CODES,
        description="Make one bootable disk image (msdos partition table, syslinux) holding two live systems, "
                    "one per ISO (upstream: a 32-bit and a 64-bit x86 one), picked from a boot menu: each ISO's "
                    "LiveOS/squashfs.img in /x86/LiveOS and /x64/LiveOS, its kernel and initrd as vmlinuz0/1 "
                    "and initrd0/1.img.  Write the image to a stick with dd.")
    parser.add_argument("x86", metavar="X86_ISO", help="the first live ISO (menu entry x86, folder /x86)")
    parser.add_argument("x64", metavar="X64_ISO", help="the second live ISO (menu entry x64, folder /x64)")
    parser.add_argument("target", metavar="TARGET",
                        help="the disk image file to make (replaced if it exists, only once it is complete)")
    debug.add_logging_options(parser)
    return parser


def mkbiarch(argv: Sequence[str] | None = None) -> int:
    from imgcreate.toolbox import biarch

    opts = command.read_command_line(mkbiarch_parser(), argv)

    def action() -> int:
        biarch.mkbiarch(Path(opts.x86), Path(opts.x64), Path(opts.target))
        return 0

    return command.run_tool("mkbiarch", action)


def main() -> None:
    sys.exit(mkbiarch())
