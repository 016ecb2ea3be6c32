"""The command lines of the live media tools: ``liveimage-mount``, ``editliveos`` and ``livecd-iso-to-pxeboot``.

They share livecd-creator's conventions (see :mod:`imgcreate.cli.creators`): one paragraph on stderr for any error a
user can cause, exit 1 for a failure, 2 for a wrong command line, 130 when interrupted; SIGTERM and SIGHUP
unwind like Ctrl-C, so nothing stays mounted and nothing half-written is left.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from imgcreate import debug
from imgcreate.cli import command
from imgcreate.cli.options import add_work_options, tool_parser
from imgcreate.errors import CreatorError
from imgcreate.storage import reproducible
from imgcreate.toolbox import livesession
from imgcreate.toolbox.livesession import DEFAULT_OVLSIZE_MIB

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
    parser = _parser("liveimage-mount", "Mount a LiveOS (a live ISO, a live USB stick, or the folder one is "
                                        "mounted on) at MOUNTPOINT and run COMMAND chrooted in it, or enter a "
                                        "subshell; everything is unmounted afterwards (unless --persist).  The "
                                        "root is writable through a temporary overlay; changes persist only in "
                                        "an --overlay.  A stick is never written.")
    helper = parser._option_string_actions["--help"]  # upstream's -? is one more name of --help
    helper.option_strings = [*helper.option_strings, "-?"]
    parser._option_string_actions["-?"] = helper
    parser.add_argument("iso", metavar="ISO|DEVICE", nargs="?",
                        help="the live ISO, or a live USB stick: a block device, one of its partitions, a disk "
                             "image file (as livecd-iso-to-disk writes them) or the folder it is mounted on")
    parser.add_argument("mountpoint", metavar="MOUNTPOINT", nargs="?",
                        help="an existing, empty directory to mount it on (made if missing, as upstream)")
    parser.add_argument("command", metavar="COMMAND", nargs=argparse.REMAINDER,
                        help="command and arguments run chrooted in the root (chroot MOUNTPOINT COMMAND); without "
                             "one, a subshell ($SHELL) on the host in MOUNTPOINT; its exit status is the tool's")
    parser.add_argument("-u", "--unmount", action="store_true",
                        help="unmount what 'liveimage-mount --persist' left at MOUNTPOINT (the only argument): "
                             "processes running in it are stopped first; the folder itself stays")
    parser.add_argument("-r", "--read-only", action="store_true",
                        help="mount the image's filesystems read-only: the --overlay is only read, changes go to "
                             "a temporary overlay and are lost on exit")
    parser.add_argument("--chroot", action="store_true",
                        help="without COMMAND, start the subshell chrooted in the root")
    parser.add_argument("--mount-hacks", action="store_true",
                        help="also mount /proc, /sys, /dev (/dev/pts, /dev/shm), /run, the host's "
                             "/etc/resolv.conf and /var/cache/dnf (a tmpfs, or --dnfcache) in the root")
    parser.add_argument("--persist", action="store_true",
                        help="keep the mounts on exit (liveimage-mount -u MOUNTPOINT unmounts them); a COMMAND "
                             "then runs on the host, not chrooted, and is not waited for")
    parser.add_argument("-o", "--overlay", metavar="PATH",
                        help="an existing overlay that keeps the changes: a directory (the overlayfs upper layer; "
                             "../ovlwork beside it is its work folder) or an ext image file holding overlayfs/ "
                             "and ovlwork/ (a stick's persistent overlay, say); a stick's own LiveOS/overlay-* is "
                             "not applied then")
    parser.add_argument("-s", "--ovlsize", metavar="SIZE", default=str(DEFAULT_OVLSIZE_MIB),
                        help=f"size in MiB of the temporary overlay (default {DEFAULT_OVLSIZE_MIB})")
    parser.add_argument("-f", "--dnfcache", metavar="PATH",
                        help="with --mount-hacks: bind this directory on the root's /var/cache/dnf")
    parser.add_argument("-t", "--tmpdir", metavar="PATH", default="/var/tmp",
                        help="where interim filesystems are mounted, the root image is extracted and the "
                             "temporary overlay kept (default /var/tmp)")
    debug.add_logging_options(parser)
    return parser


def _mount_session(opts: argparse.Namespace) -> livesession.Session:
    """Upstream's checks of the option values, each an error with exit status 1 as upstream's."""
    try:
        size = int(opts.ovlsize)
    except ValueError:
        raise CreatorError(f"Invalid overlay size, '{opts.ovlsize}' is not an integer.") from None
    if size <= 0:
        raise CreatorError(f"Invalid overlay size, '{size}' MiB: it must be greater than zero MiB.")
    for option, value in (("dnfcache", opts.dnfcache), ("tmpdir", opts.tmpdir)):
        if value is not None and not Path(value).is_dir():
            raise CreatorError(f"Invalid {option}, '{value}' is not a directory.")
    if opts.dnfcache and not opts.mount_hacks:
        log.warning("--dnfcache is used only with --mount-hacks")
    return livesession.Session(read_only=opts.read_only, chroot=opts.chroot, mount_hacks=opts.mount_hacks,
                               persist=opts.persist, overlay=Path(opts.overlay) if opts.overlay else None,
                               ovlsize_mib=size, dnfcache=Path(opts.dnfcache) if opts.dnfcache else None,
                               tmpdir=Path(opts.tmpdir))


def liveimage_mount(argv: Sequence[str] | None = None) -> int:
    parser = liveimage_mount_parser()
    opts = command.read_command_line(parser, argv)
    if opts.unmount and opts.iso is None:
        parser.error("a mount point must be given")
    if not opts.unmount and opts.mountpoint is None:
        parser.error("a LiveOS source and a mount point must be given")

    def action() -> int:
        if opts.unmount:
            source = livesession.unmount(Path(opts.iso))
            log.info("'%s' LiveOS filesystems have been unmounted; the '%s' mount point has not been deleted.",
                     source, opts.iso)
            return 0
        session = _mount_session(opts)
        mountpoint = Path(opts.mountpoint)
        made = not mountpoint.exists() and not mountpoint.is_symlink()
        if made:  # upstream makes a missing mount point, and removes it again afterwards
            mountpoint.mkdir(parents=True)
        try:
            return livesession.liveimage_mount(Path(opts.iso), mountpoint, list(opts.command), session)
        finally:
            if made and not os.path.ismount(mountpoint):
                with contextlib.suppress(OSError):
                    mountpoint.rmdir()

    return command.run_tool("liveimage-mount", action)


# -- editliveos --------------------------------------------------------------------------------------------------

def editliveos_parser() -> argparse.ArgumentParser:
    parser = _parser("editliveos", "Make a new live ISO from an existing one: add packages and kernel arguments, "
                                   "run a script or a kickstart's %post in its root, change its label.")
    parser.add_argument("iso", metavar="ISO", help="the live ISO to start from (it is not changed)")
    parser.add_argument("-o", "--output", metavar="DIR",
                        help="the folder to write the new ISO in, as upstream: NAME.iso, where NAME is --name or "
                             "the ISO's file name with .edited (default: the ISO's own folder); a path ending in "
                             ".iso names the file itself (ours)")
    parser.add_argument("-n", "--name", "--label", dest="label",
                        help="the new ISO's name (NAME.iso; a / becomes _) and its label (root=live:CDLABEL=); "
                             "default: the ISO's own label")
    parser.add_argument("-N", "--noshell", dest="shell", action="store_false", default=True,
                        help="do not open a shell in the edited root; without it, as upstream, a shell opens "
                             "after the script or kickstart and the ISO is made when it exits (every scripted "
                             "use passes -N)")
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
            extra={"cacheonly": opts.cacheonly, "docleanup": not opts.nocleanup}, shell=opts.shell,
            # As livecd-creator: the build's epoch, passed to every command it runs (imgcreate.host.run).
            source_date_epoch=reproducible.epoch_from(opts.source_date_epoch),
        )
        iso = Path(opts.iso)
        output = Path(opts.output) if opts.output else iso.absolute().parent  # upstream: the ISO's folder
        if output.suffix != ".iso" or output.is_dir():  # upstream's -o is a folder
            output = output / editlive.iso_name(iso, opts.label)
        editlive.edit_live_iso(iso, output, options)
        print(f"{output.name} saved to {output.parent}")  # upstream's last line, on stdout
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
