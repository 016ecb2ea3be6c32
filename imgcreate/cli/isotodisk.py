"""livecd-iso-to-disk: the command line over :func:`imgcreate.toolbox.isotodisk.iso_to_disk`, with upstream's
options (tools/livecd-iso-to-disk.sh of livecd-tools) and their meaning: the target is a partition the live
system is added to, or with ``--format`` a whole device that is repartitioned; a bad argument is exit status 1."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from imgcreate import debug
from imgcreate.cli import command, stickpersist
from imgcreate.cli.options import tool_parser
from imgcreate.toolbox.isotodisk import LABEL_RE, iso_to_disk
from imgcreate.toolbox.stickoptions import IsoToDiskOptions

log = logging.getLogger("imgcreate")

EXIT_CODES = """\
exit status:
  0    the stick (or image file) was written
  1    the command line was wrong (as upstream's livecd-iso-to-disk), or it failed or was refused (the message
       says why); nothing was left mounted or attached
  130  interrupted (Ctrl-C, SIGTERM or SIGHUP); everything was cleaned up (an image file this run made is
       removed)
"""

_FSTYPES = {"ext4": "ext4", "ext3": "ext3", "ext2": "ext2", "fat": "vfat", "vfat": "vfat", "msdos": "vfat"}
_UNSUPPORTED_FS = ("btrfs", "xfs", "f2fs")
_FORMAT_SPEC = re.compile(rf"^(\d+|{'|'.join((*_FSTYPES, *_UNSUPPORTED_FS))})(,.*)?$")
_XO = "sticks for the OLPC XO laptops (--xo, --xo-no-home) are not supported: their firmware boot (JFFS2, " \
      "olpc.fth) has no place on today's Fedora. Nothing was written."


def _timeout(value: str) -> str:
    if not re.fullmatch(r"0|-0|-1|[1-9][0-9]*", value):
        raise argparse.ArgumentTypeError(f"'{value}' is not a valid integer for --timeout (tenths of a second; "
                                         "-0: boot at once, -1: wait)")
    return value


def _totaltimeout(value: str) -> str:
    if not re.fullmatch(r"0|[1-9][0-9]*", value):
        raise argparse.ArgumentTypeError(f"'{value}' is not a valid integer for --totaltimeout")
    return value


def _size(value: str) -> int:
    """``N[,fstype[,blksz]]`` as upstream writes sizes: N MiB (the file system type and block size are for
    upstream's overlayfs on FAT, and are ignored here)."""
    number = value.split(",", 1)[0]
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"'{value}' is not a valid size: a whole number of MiB (e.g. 512, or "
                                         "upstream's 512,ext4)")
    if "," in value:
        log.warning("only the size of '%s' is used: the overlay and home are ext4 images or dm-snapshot files here",
                    value)
    return int(number)


def iso_to_disk_parser() -> argparse.ArgumentParser:
    parser = tool_parser(
        "livecd-iso-to-disk", epilog=EXIT_CODES, usage_status=1,  # a bad argument: 1, as upstream's script
        description="Put a live ISO on a USB stick, bootable with BIOS and UEFI, optionally with a persistent "
                    "overlay and /home.  As upstream, the target is a partition (e.g. /dev/sdb1) holding a FAT or "
                    "ext filesystem: the live system is added to it and its other files stay (the ISO's LiveOS/, "
                    "images/, boot/grub2/ and EFI/BOOT/ replace a previous live system's), and GRUB's BIOS boot "
                    "code goes into the disk's MBR.  With --format the target is a whole device (e.g. /dev/sdb), "
                    "repartitioned: msdos (--efi: GPT), a FAT EFI system partition (unless --noesp) and an ext4 "
                    "(--msdos: FAT) data partition labelled --label that boots root=live:UUID=<its uuid>.  A disk "
                    "image file is always partitioned like that (made if missing).")
    parser.add_argument("iso", metavar="ISO", help="the live ISO (made by livecd-creator, or Fedora's)")
    parser.add_argument("target", metavar="TARGET",
                        help="a partition with a FAT or ext filesystem (e.g. /dev/sdb1); with --format a whole "
                             "device (e.g. /dev/sdb); or a disk image file (made if missing)")
    parser.add_argument("--format", nargs="?", const="", metavar="SIZE[,FSTYPE]",
                        help="repartition and format the whole device: its data partition SIZE MiB (at least 512; "
                             "default: the rest of the device) with an FSTYPE file system (ext4, the default, ext3, "
                             "ext2, or fat|vfat|msdos); all data on it is lost")
    parser.add_argument("--msdos", action="store_true",
                        help="(upstream's legacy spelling of --format msdos) format the data partition FAT "
                             "instead of ext4; implies --format")
    parser.add_argument("--efi", "--mactel", "--gpt", dest="gpt", action="store_true",
                        help="with --format: a GPT partition table (default: msdos, as upstream); without it the "
                             "disk must have one.  The UEFI boot files are copied either way")
    parser.add_argument("--noesp", "--noefi", dest="efi", action="store_false",
                        help="with --format: no EFI system partition (the UEFI boot files are still copied to the "
                             "data partition)")
    parser.add_argument("--nomac", action="store_true",
                        help="with --format: no Apple HFS+ partition (accepted: none is ever made here)")
    parser.add_argument("--reset-mbr", "--resetmbr", action="store_true",
                        help="write new boot code to the MBR (accepted: GRUB's is always written)")
    parser.add_argument("--skipcopy", "--reconfig", action="store_true",
                        help="do not copy the live system: only rewrite the boot configuration of the one on the "
                             "partition, booting the overlay and home it has (--format and new overlay, home and "
                             "swap are left out; --reset-overlay still empties its overlay, as upstream)")
    parser.add_argument("--noverify", action="store_true",
                        help="do not check the ISO's implanted checksum before copying")
    parser.add_argument("--force", action="store_true",
                        help="do not ask before replacing a live system already on the partition (upstream's "
                             "meaning) or erasing a block device with --format; overwrite an existing, non-empty "
                             "image file")
    parser.add_argument("--xo", action="store_true", help="an OLPC XO-1 stick: not supported (ends with an error)")
    parser.add_argument("--xo-no-home", action="store_true",
                        help="an OLPC XO stick with /home on an SD card: not supported (ends with an error)")
    parser.add_argument("--timeout", type=_timeout, metavar="T",
                        help="the boot menu's timeout in tenths of a second, as upstream (rounded to seconds for "
                             "GRUB; 0 and -0: boot at once; -1: wait for a choice)")
    parser.add_argument("--totaltimeout", type=_totaltimeout, metavar="T",
                        help="SYSLINUX's total timeout (accepted with a warning: GRUB, which boots the stick, has "
                             "none, as upstream's EFI GRUB)")
    parser.add_argument("--nobootmsg", action="store_true",
                        help="do not show SYSLINUX's boot.msg (accepted: the GRUB menu shows none)")
    parser.add_argument("--nomenu", action="store_true", help="skip the boot menu: boot the live system at once")
    parser.add_argument("--extra-kernel-args", default="", metavar="ARGS",
                        help="more kernel arguments for the stick's boot menu")
    parser.add_argument("--compress", dest="skipcompress", action="store_false", default=False,
                        help="copy the compressed squashfs.img (the default)")
    parser.add_argument("--skipcompress", action="store_true",
                        help="expand the squashfs: LiveOS/rootfs.img on the stick, uncompressed (faster, bigger)")
    parser.add_argument("--overlay-size-mb", type=_size, default=0, metavar="N",
                        help="a persistent overlay of N MiB (LiveOS/overlay-<label>-<uuid>): changes to the live "
                             "system survive a reboot")
    parser.add_argument("--home-size-mb", type=_size, default=0, metavar="N",
                        help="a persistent /home of N MiB (LiveOS/home.img, ext4)")
    parser.add_argument("--updates", type=Path, metavar="UPDATES_IMG",
                        help="copy an Anaconda updates image to /updates.img on the stick and boot with "
                             "inst.updates= naming it")
    parser.add_argument("--ks", type=Path, metavar="KICKSTART",
                        help="copy a kickstart file to /ks.cfg on the stick and boot with inst.ks= naming it")
    parser.add_argument("--label",
                        help="label of the data partition (default: LIVE, as upstream; a partition keeps its own)")
    parser.add_argument("--size-mb", type=int, metavar="N",
                        help="(an image file) made N MiB, an existing one grown or cut to that size (default: as "
                             "big as needed, an existing file keeps its size)")
    stickpersist.add_persist_options(parser)
    debug.add_logging_options(parser)
    return parser


def format_argv(argv: Sequence[str]) -> list[str]:
    """Upstream's ``--format`` takes an optional ``SIZE[,FSTYPE...]`` word: joined to it here (``--format=...``),
    so a plain ``--format`` before the ISO does not take the ISO's name as its value."""
    out: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--format":
            value = args.pop(0) if args and _FORMAT_SPEC.match(args[0]) else ""
            arg = f"--format={value}"
        out.append(arg)
    return out


def _format(spec: str, parser: argparse.ArgumentParser) -> tuple[int | None, str]:
    """--format's SIZE[,FSTYPE[,BLKSZ[,EXTRA]]]: (size in MiB or None, filesystem type)."""
    fields = spec.split(",") if spec else []
    size = int(fields.pop(0)) if fields and fields[0].isdigit() else None
    fstype = fields.pop(0) if fields and fields[0] else "ext4"
    if size is not None and size < 512:
        parser.error(f"--format {spec}: '{size} MiB' may be small for an image partition (at least 512)")
    if fstype in _UNSUPPORTED_FS:
        parser.error(f"--format {spec}: {fstype} is not supported here (ext4, ext3, ext2 or fat|vfat|msdos)")
    if fstype not in _FSTYPES:
        parser.error(f"--format {spec}: '{fstype}' is not a supported file system type (ext4, ext3, ext2 or "
                     "fat|vfat|msdos)")
    if any(fields):
        log.warning("--format %s: the block size and attributes are not used", spec)
    return size, _FSTYPES[fstype]


def _options(opts: argparse.Namespace, parser: argparse.ArgumentParser) -> IsoToDiskOptions:
    if opts.xo or opts.xo_no_home:
        parser.exit(1, f"livecd-iso-to-disk: {_XO}\n")
    if opts.size_mb is not None and opts.size_mb <= 0:
        parser.error("--size-mb must be more than 0")
    if opts.label is not None and not LABEL_RE.match(opts.label):
        parser.error(f"--label '{opts.label}': use 1 to 16 characters of A-Z, a-z, 0-9, '.', '_' or '-'")
    size, fstype = _format(opts.format or "", parser)
    if opts.msdos:
        fstype = "vfat"
    if opts.totaltimeout is not None:
        log.warning("--totaltimeout %s is not used: GRUB, which boots the stick, has no total timeout (as "
                    "upstream's EFI GRUB); --timeout sets its menu's", opts.totaltimeout)
    fmt = opts.format is not None or opts.msdos
    if fmt and opts.skipcopy:
        log.warning("--skipcopy: --format is bypassed (as upstream); only the boot configuration is written")
    return IsoToDiskOptions(size_mb=opts.size_mb, format=fmt and not opts.skipcopy,
                            format_size_mb=size, fstype=fstype, skipcopy=opts.skipcopy,
                            skipcompress=opts.skipcompress, timeout=opts.timeout, nomenu=opts.nomenu,
                            updates=opts.updates, ks=opts.ks, label=opts.label, gpt=opts.gpt, efi=opts.efi,
                            overlay_size_mb=opts.overlay_size_mb, home_size_mb=opts.home_size_mb,
                            noverify=opts.noverify, force=opts.force, extra_kernel_args=opts.extra_kernel_args,
                            confirm=_confirm, **stickpersist.persist_fields(opts, parser))


def _confirm(question: str) -> bool:
    print(question, end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() == "yes"


def main(argv: Sequence[str] | None = None) -> int:
    parser = iso_to_disk_parser()
    opts = command.read_command_line(parser, format_argv(sys.argv[1:] if argv is None else argv))
    options = _options(opts, parser)

    def write() -> int:
        iso_to_disk(Path(opts.iso), Path(opts.target), options)
        return 0

    return command.run_tool("livecd-iso-to-disk", write)


def iso_to_disk_main() -> None:
    sys.exit(main(sys.argv[1:]))
