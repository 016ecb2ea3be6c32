"""The command lines of the live media tools: ``liveimage-mount``, ``editliveos`` and ``livecd-iso-to-pxeboot``.

They share livecd-creator's conventions (see :mod:`imgcreate.cli.creators`): one paragraph on stderr for any error a
user can cause, exit 1 for a failure, 2 for a wrong command line, 130 when interrupted; SIGTERM and SIGHUP
unwind like Ctrl-C, so nothing stays mounted and nothing half-written is left.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from imgcreate import debug
from imgcreate.cli import command
from imgcreate.cli.options import add_tmpdir_option, add_work_options, tool_parser
from imgcreate.storage import reproducible

log = logging.getLogger("imgcreate")

EXIT_CODES = """\
exit status:
  0    done
  1    failed (the message says why); nothing was left mounted or written
  2    the command line was wrong
  130  interrupted (Ctrl-C, SIGTERM or SIGHUP); everything was cleaned up
"""


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    return tool_parser(prog, description, EXIT_CODES)


# -- liveimage-mount ---------------------------------------------------------------------------------------------

def liveimage_mount_parser() -> argparse.ArgumentParser:
    parser = _parser("liveimage-mount", "Mount the root filesystem of a live ISO or a live USB stick and run a "
                                        "command (default: a shell) in the mount point; everything is unmounted "
                                        "afterwards.  A stick's root is shown as its live system left it (its "
                                        "persistent overlay and home applied), read-only: the stick is never "
                                        "written.")
    parser.add_argument("iso", metavar="ISO|DEVICE",
                        help="the live ISO, or a live USB stick: a block device, one of its partitions or a disk "
                             "image file (as livecd-iso-to-disk writes them)")
    parser.add_argument("mountpoint", metavar="MOUNTPOINT", help="an existing, empty directory to mount it on")
    parser.add_argument("command", metavar="COMMAND", nargs=argparse.REMAINDER,
                        help="command and arguments to run with MOUNTPOINT as its working directory (default: "
                             "$SHELL, else /bin/sh); its exit status is the tool's")
    parser.add_argument("--overlay", metavar="PATH",
                        help="mount read-write through an overlay kept in PATH: a directory (made if missing) "
                             "or an ext filesystem image file; without it the root is read-only")
    add_tmpdir_option(parser, "where the root image is extracted to (default /var/tmp)")
    debug.add_logging_options(parser)
    return parser


def liveimage_mount(argv: Sequence[str] | None = None) -> int:
    from imgcreate.toolbox import livemount

    parser = liveimage_mount_parser()
    opts = command.read_command_line(parser, argv)

    def action() -> int:
        mountpoint = Path(opts.mountpoint)
        command = list(opts.command) or livemount.default_command()
        overlay = Path(opts.overlay) if opts.overlay else None
        with livemount.mounted_live_root(Path(opts.iso), mountpoint, overlay, Path(opts.tmpdir)):
            return livemount.run_in(mountpoint, command)

    return command.run_tool("liveimage-mount", action)


# -- editliveos --------------------------------------------------------------------------------------------------

def editliveos_parser() -> argparse.ArgumentParser:
    parser = _parser("editliveos", "Make a new live ISO from an existing one: add packages and kernel arguments, "
                                   "run a script or a kickstart's %post in its root, change its label.")
    parser.add_argument("iso", metavar="ISO", help="the live ISO to start from (it is not changed)")
    parser.add_argument("-o", "--output", metavar="NEWISO|DIR",
                        help="the new ISO's file name, ending in .iso, or an existing folder to write "
                             "<label>-edited.iso in (default: ./<label>-edited.iso)")
    parser.add_argument("-n", "--name", "--label", dest="label",
                        help="the new ISO's label (root=live:CDLABEL=); default: the ISO's own")
    parser.add_argument("--package", action="append", default=[], metavar="NAME",
                        help="a package or @group to install (may be repeated; needs --repo)")
    parser.add_argument("--repo", action="append", default=[], metavar="URL|PATH",
                        help="a repository to install from: a URL, a directory holding repodata/, a .repo file "
                             "or a directory of them (may be repeated)")
    parser.add_argument("-a", "--extra-kernel-args", default="", metavar="ARGS",
                        help="kernel arguments to add to the boot menus")
    parser.add_argument("-s", "--script", metavar="FILE", help="a script to run chrooted in the root")
    parser.add_argument("-k", "--kickstart", metavar="KS",
                        help="a kickstart whose commands, %%packages and %%post apply to the root")
    parser.add_argument("-c", "--compression-type", "--compress-type", default=None,
                        help="squashfs compressor (default: the ISO's own); --compress-type is upstream's name")
    parser.add_argument("--releasever", help="value to substitute for $releasever in repository URLs")
    add_work_options(
        parser, "where the build directory is made", cache_names=("--cache", "-f", "--dnfcache", "-y", "--yumcache"),
        cache_help="persistent package cache (-f/--dnfcache/-y/--yumcache: upstream's names)",
        cacheonly_help="use only the package cache (--cache); never download",
        nocleanup_help="keep the build directory (still unmounts)")
    parser.add_argument("-p", "--plugins", action="store_true",
                        help="accepted for compatibility; dnf plugins are not loaded (they would act on the host)")
    parser.add_argument("--source-date-epoch", metavar="SECONDS",
                        help="remaster reproducibly with this time (seconds since 1970, UTC): the same ISO and "
                             "options give a bit-identical ISO; default: $SOURCE_DATE_EPOCH if set")
    debug.add_logging_options(parser)
    return parser


def editliveos(argv: Sequence[str] | None = None) -> int:
    from imgcreate.toolbox import editlive

    parser = editliveos_parser()
    opts = command.read_command_line(parser, argv)
    if opts.package and not opts.repo and not opts.kickstart:
        parser.error("--package needs --repo (a repository to install from)")
    if opts.plugins:
        log.warning("--plugins: dnf plugins are not loaded (a host plugin would act on the build); ignored")

    def action() -> int:
        options = editlive.EditOptions(
            label=opts.label, packages=tuple(opts.package), repos=tuple(opts.repo),
            extra_kernel_args=opts.extra_kernel_args, script=Path(opts.script) if opts.script else None,
            kickstart=Path(opts.kickstart) if opts.kickstart else None, tmpdir=Path(opts.tmpdir),
            releasever=opts.releasever, compression_type=opts.compression_type,
            cachedir=Path(opts.cache) if opts.cache else None,
            extra={"cacheonly": opts.cacheonly, "docleanup": not opts.nocleanup},
            # As livecd-creator: the build's epoch, passed to every command it runs (imgcreate.host.run).
            source_date_epoch=reproducible.epoch_from(opts.source_date_epoch),
        )
        iso = Path(opts.iso)
        output = Path(opts.output) if opts.output else None
        if output is None or output.is_dir():  # upstream's -o is a folder
            from imgcreate.media.liveiso import read_live_iso

            output = (output or Path()) / f"{opts.label or read_live_iso(iso).label}-edited.iso"
        editlive.edit_live_iso(iso, output, options)
        return 0

    return command.run_tool("editliveos", action)


# -- livecd-iso-to-pxeboot ---------------------------------------------------------------------------------------

def pxeboot_parser() -> argparse.ArgumentParser:
    parser = _parser("livecd-iso-to-pxeboot", "Write a network boot (PXE) tree from a live ISO: the kernel, an "
                                              "initrd holding the whole ISO, and boot loader configurations.")
    parser.add_argument("iso", metavar="ISO", help="the live ISO")
    parser.add_argument("-o", "--output", default="tftpboot", metavar="DIR",
                        help="the tree to write; must not exist (default: ./tftpboot)")
    parser.add_argument("--http-url", metavar="URL",
                        help="also write LiveOS/squashfs.img and http/ menus booting root=live:URL/LiveOS/"
                             "squashfs.img (dracut's livenet), for serving the tree at URL over HTTP")
    debug.add_logging_options(parser)
    return parser


def pxeboot(argv: Sequence[str] | None = None) -> int:
    from imgcreate.toolbox import pxeboot as pxe

    parser = pxeboot_parser()
    opts = command.read_command_line(parser, argv)

    def action() -> int:
        # $SOURCE_DATE_EPOCH, read once here: a reproducible tree (the dates of its files).
        tree = pxe.make_pxe_tree(Path(opts.iso), Path(opts.output), http_url=opts.http_url,
                                 source_date_epoch=reproducible.epoch_from())
        print(f"wrote {tree.path}: boot files {', '.join(tree.boot_files)}; kernel arguments: {tree.args}",
              file=sys.stderr)
        return 0

    return command.run_tool("livecd-iso-to-pxeboot", action)


def liveimage_mount_main() -> None:
    sys.exit(liveimage_mount())


def editliveos_main() -> None:
    sys.exit(editliveos())


def pxeboot_main() -> None:
    sys.exit(pxeboot())
