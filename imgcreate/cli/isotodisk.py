"""livecd-iso-to-disk: the command line over :func:`imgcreate.toolbox.isotodisk.iso_to_disk` (options after upstream's
tools/livecd-iso-to-disk.sh where they mean the same)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from imgcreate import debug
from imgcreate.cli import command, stickpersist
from imgcreate.cli.options import tool_parser
from imgcreate.toolbox.isotodisk import LABEL_RE, IsoToDiskOptions, iso_to_disk

log = logging.getLogger("imgcreate")

EXIT_CODES = """\
exit status:
  0    the stick (or image file) was written
  1    it failed or was refused (the message says why); nothing was left mounted or attached
  2    the command line was wrong
  130  interrupted (Ctrl-C, SIGTERM or SIGHUP); everything was cleaned up (an image file this run made is
       removed)
"""


def iso_to_disk_parser() -> argparse.ArgumentParser:
    parser = tool_parser(
        "livecd-iso-to-disk", epilog=EXIT_CODES,
        description="Write a live ISO to a USB stick or a disk image file, bootable with BIOS and UEFI, "
                    "optionally with a persistent overlay and /home.  The target is always repartitioned and "
                    "formatted: msdos (or --gpt) with a small FAT EFI system partition (unless --noefi) and an "
                    "ext4 data partition labelled --label that boots root=live:UUID=<its uuid>.")
    parser.add_argument("iso", metavar="ISO", help="the live ISO (made by livecd-creator, or Fedora's)")
    parser.add_argument("target", metavar="TARGET",
                        help="a whole block device (e.g. /dev/sdb) or a disk image file (made if missing)")
    parser.add_argument("--size-mb", type=int, metavar="N",
                        help="an image file is made N MiB, an existing one grown or cut to that size (default: as "
                             "big as needed, an existing file keeps its size)")
    parser.add_argument("--format", action="store_true",
                        help="repartition and format the target (accepted: this tool always does)")
    parser.add_argument("--reset-mbr", action="store_true",
                        help="write new boot code to the MBR (accepted: GRUB's is always written)")
    parser.add_argument("--gpt", action="store_true", help="a GPT partition table (default: msdos, as upstream)")
    parser.add_argument("--msdos", dest="gpt", action="store_false", help="an msdos partition table (default)")
    parser.add_argument("--efi", dest="efi", action="store_true", default=True,
                        help="make an EFI system partition with the ISO's UEFI boot files (default)")
    parser.add_argument("--noefi", dest="efi", action="store_false", help="BIOS boot only: no EFI system partition")
    parser.add_argument("--label", help="label of the data partition (default: the ISO's, at most 16 characters)")
    parser.add_argument("--overlay-size-mb", type=int, default=0, metavar="N",
                        help="a persistent overlay of N MiB (LiveOS/overlay-<label>-<uuid>): changes to the live "
                             "system survive a reboot")
    parser.add_argument("--home-size-mb", type=int, default=0, metavar="N",
                        help="a persistent /home of N MiB (LiveOS/home.img, ext4)")
    parser.add_argument("--noverify", action="store_true",
                        help="do not check the ISO's implanted checksum before copying")
    parser.add_argument("--force", action="store_true",
                        help="do not ask before erasing a block device; overwrite an existing, non-empty image file "
                             "(refused without it)")
    parser.add_argument("--extra-kernel-args", default="", metavar="ARGS",
                        help="more kernel arguments for the stick's boot menu")
    stickpersist.add_persist_options(parser)
    debug.add_logging_options(parser)
    return parser


def _confirm(question: str) -> bool:
    print(question, end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() == "yes"


def _options(opts: argparse.Namespace, parser: argparse.ArgumentParser) -> IsoToDiskOptions:
    for name in ("overlay_size_mb", "home_size_mb"):
        if getattr(opts, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be 0 or more")
    if opts.size_mb is not None and opts.size_mb <= 0:
        parser.error("--size-mb must be more than 0")
    if opts.label is not None and not LABEL_RE.match(opts.label):
        parser.error(f"--label '{opts.label}': use 1 to 16 characters of A-Z, a-z, 0-9, '.', '_' or '-'")
    return IsoToDiskOptions(size_mb=opts.size_mb, label=opts.label, gpt=opts.gpt, efi=opts.efi,
                            overlay_size_mb=opts.overlay_size_mb, home_size_mb=opts.home_size_mb,
                            noverify=opts.noverify, force=opts.force, extra_kernel_args=opts.extra_kernel_args,
                            confirm=_confirm, **stickpersist.persist_fields(opts, parser))


def main(argv: Sequence[str] | None = None) -> int:
    parser = iso_to_disk_parser()
    opts = command.read_command_line(parser, argv)
    options = _options(opts, parser)

    def write() -> int:
        iso_to_disk(Path(opts.iso), Path(opts.target), options)
        return 0

    return command.run_tool("livecd-iso-to-disk", write)


def iso_to_disk_main() -> None:
    sys.exit(main(sys.argv[1:]))
