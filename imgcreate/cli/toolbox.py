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


# livecd-iso-to-pxeboot is a shell script upstream: its usage() exits 1, for a wrong command line too.
PXEBOOT_EXIT_CODES = """\
exit status:
  0    done
  1    failed, or the command line was wrong (as upstream); nothing was left mounted or written
  130  interrupted (Ctrl-C, SIGTERM or SIGHUP); everything was cleaned up
"""


def _parser(prog: str, description: str, epilog: str = EXIT_CODES, usage_status: int = 2) -> argparse.ArgumentParser:
    return tool_parser(prog, description, epilog, usage_status=usage_status)


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
                             "default: the ISO's own label; with -b or -r, NAME-ARCH-YYYYmmdd.HHMM; ':TEXT' "
                             "(upstream's) brands the build with TEXT and names it TEXT; ':' alone renames it "
                             "remixed-LABEL")
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
    _add_upstream_edit_options(parser)
    parser.add_argument("--source-date-epoch", metavar="SECONDS",
                        help="remaster reproducibly with this time (seconds since 1970, UTC): the same ISO and "
                             "options give a bit-identical ISO; default: $SOURCE_DATE_EPOCH if set")
    debug.add_logging_options(parser)
    return parser


# Upstream's options that edit a live USB stick or a running system in place (its home.img, overlay, root image
# path): an ISO source has none of these, so they are accepted and refused in one sentence.
EDIT_REFUSED = {
    "clone": "--clone copies a live USB stick's home.img or /home into the new ISO; an ISO has neither (editliveos "
             "here edits ISOs; make the stick's overlay part of an ISO with livecd-iso-to-disk's tools)",
    "rootfsimg": "--rootfsimg names a non-standard root image on a source device; an ISO's root is always "
                 "LiveOS/squashfs.img or LiveOS/rootfs.img, found by itself",
    "overlay": "--overlay names the persistent overlay of a source device; an ISO has no overlay",
    "home_size_mb": "--home-size-mb sizes a live USB stick's home.img; an ISO has none (livecd-iso-to-disk "
                    "--home-size-mb makes one on the stick)",
    "EncHomeReq": "--encrypted-home/--unencrypted-home set a live USB stick's home.img encryption; an ISO has no "
                  "home.img (livecd-iso-to-disk makes and encrypts one)",
    "overlay_size_mb": "--overlay-size-mb sizes a source device's overlay; upstream too refuses it for an .iso file "
                       "(an ISO has no overlay; livecd-iso-to-disk --overlay-size-mb makes one on the stick)",
}


def _add_upstream_edit_options(parser: argparse.ArgumentParser) -> None:
    """Upstream's editliveos options not in livecd-creator's family, with upstream's names and meaning."""
    helper = parser._option_string_actions["--help"]  # upstream's -? is one more name of --help
    helper.option_strings = [*helper.option_strings, "-?"]
    parser._option_string_actions["-?"] = helper
    add = parser.add_argument
    add("-e", "--exclude", dest="excludes", metavar="PATTERNS",
        help="copy every other file of the source ISO onto the new one, except names matching these "
             "space-separated patterns (default: only the new build's boot folders and LiveOS)")
    add("-i", "--include", dest="includes", metavar="PATHS",
        help="space-separated files or folders of the source ISO (or host paths, copied by name to the top) to "
             "copy onto the new ISO")
    add("-u", "--seclude", dest="secludes", metavar="PATHS",
        help="space-separated paths removed from the new root (~/ is every user's home and /root)")
    add("--skip-seclude", action="store_true",
        help="accepted: nothing is secluded by default here (the ISO's root holds no session's files)")
    add("--skip-compression", action="store_true",
        help="an uncompressed root: LiveOS/rootfs.img on the ISO")
    add("--compress", action="store_true", default=None,
        help="squash the root of an uncompressed source ISO (LiveOS/squashfs.img)")
    add("--flatten-squashfs", action="store_true",
        help="the root tree itself in LiveOS/squashfs.img (no rootfs.img inside; for OverlayFS overlays)")
    add("--refresh-only", action="store_true",
        help="refreshes a source device in place upstream; an ISO is read-only, so, as upstream, a notice and a "
             "new ISO")
    add("--skip-refresh", action="store_true", help="accepted: an ISO source is never refreshed")
    add("--refresh-uncompressed", action="store_true", help="accepted: an ISO source is never refreshed")
    add("--rootfs-size-gb", dest="rootfs_size", metavar="SIZE[,ext4]",
        help="grow the root filesystem to SIZE GiB (never below the source's); +N/-N and other filesystem types "
             "are refused")
    add("--extra-space-mb", type=int, default=2, metavar="SIZE",
        help="MiB that must be free in the staging folder (--tmpdir) beyond need; default 2")
    add("--arch", help="the image's architecture: the host's only (the edit runs the image's programs)")
    add("-S", "--skip-SELinux", dest="force_selinux", action="store_false", default=True,
        help="do not relabel the edited root for SELinux (by default its files are labelled by the image's own "
             "policy after the script, as a build's); each file keeps the label it had")
    add("-r", "--releasefile", metavar="PATHS",
        help="brand the build: space-separated files of the image's root that get the Remix line on top, with "
             "/etc/fedora-release, /etc/generic-release and /etc/issue (see --builder)")
    add("-b", "--builder", metavar="NAME",
        help="brand the build as a Remix by NAME (with -r alone: $USERNAME, else 'Fedora User'): "
             "the line DDMonYYYY-NAME-Remix-RELEASE on top of the release files and as the boot menus' product; "
             "the ISO and its label are named N-ARCH-YYYYmmdd.HHMM, N being -n or the ISO's file name with "
             ".edited (-n :TEXT: TEXT)")
    add("--clone", action="store_true", help="refused: an ISO has no home.img to copy")
    add("--rootfsimg", metavar="PATH", help="refused: for source devices")
    add("--overlay", metavar="[DEVSPEC:]PATHSPEC", help="refused: for source devices")
    add("--home-size-mb", metavar="SIZE", help="refused: an ISO has no home.img")
    add("--encrypted-home", dest="EncHomeReq", action="store_true", default=None,
        help="refused: an ISO has no home.img")
    add("--unencrypted-home", dest="EncHomeReq", action="store_false", default=None,
        help="refused: an ISO has no home.img")
    add("--overlay-size-mb", metavar="SIZE", help="refused: an ISO has no overlay (upstream refuses it too)")


def _rootfs_size(value: str | None) -> int | None:
    if value is None:
        return None
    size, _, fstype = value.partition(",")
    if size.startswith(("+", "-")) or not size.isdigit() or int(size) <= 0:
        raise CreatorError(f"--rootfs-size-gb {value}: give the new size in whole GiB (a change by +N or -N is not "
                           "implemented: the root is never made smaller than the source's).")
    if fstype and fstype.split(",")[0] != "ext4":
        raise CreatorError(f"--rootfs-size-gb {value}: the edited root stays ext4, the source's filesystem (it is "
                           "copied, not remade).")
    return int(size)


def editliveos(argv: Sequence[str] | None = None) -> int:
    from imgcreate.media.liveiso import read_live_iso
    from imgcreate.toolbox import editbrand, editlive

    parser = editliveos_parser()
    opts = command.read_command_line(parser, argv)
    if opts.package and not opts.repo and not opts.kickstart:
        parser.error("--package needs --repo (a repository to install from)")
    if opts.plugins:
        log.warning("--plugins: dnf plugins are not loaded (a host plugin would act on the build); ignored")

    def action() -> int:
        for dest, why in EDIT_REFUSED.items():
            value = getattr(opts, dest)
            if value is not None and (value is not False or dest == "EncHomeReq"):
                raise CreatorError(why + ".")
        editlive.check_arch(opts.arch)
        editlive.check_space(Path(opts.tmpdir), opts.extra_space_mb)
        iso = Path(opts.iso)
        epoch = reproducible.epoch_from(opts.source_date_epoch)
        releasefiles = tuple((opts.releasefile or "").split())
        live, brand = None, None
        if editbrand.wanted(opts.label, opts.builder, releasefiles):
            live = read_live_iso(iso)  # read once: edit_live_iso takes it
            brand = editbrand.make_brand(live, opts.label, opts.builder, releasefiles, os.uname().machine, epoch)
        if opts.refresh_only:
            print(f"NOTICE: --refresh-only is not possible for a read-only source like '{opts.iso}'. A new .iso "
                  "will be built.", file=sys.stderr)
        options = editlive.EditOptions(
            label=opts.label, packages=tuple(opts.package), repos=tuple(opts.repo),
            extra_kernel_args=opts.extra_kernel_args, script=Path(opts.script) if opts.script else None,
            kickstart=Path(opts.kickstart) if opts.kickstart else None, tmpdir=Path(opts.tmpdir),
            releasever=opts.releasever, compression_type=opts.compression_type,
            cachedir=Path(opts.cache) if opts.cache else None,
            extra={"cacheonly": opts.cacheonly, "docleanup": not opts.nocleanup}, shell=opts.shell,
            includes=tuple((opts.includes or "").split()),
            excludes=tuple(opts.excludes.split()) if opts.excludes else None,
            secludes=tuple((opts.secludes or "").split()), skip_compression=opts.skip_compression,
            compress=bool(opts.compress), flatten_squashfs=opts.flatten_squashfs,
            rootfs_size_gib=_rootfs_size(opts.rootfs_size), brand=brand, relabel=opts.force_selinux,
            # As livecd-creator: the build's epoch, passed to every command it runs (imgcreate.host.run).
            source_date_epoch=epoch,
        )
        output = Path(opts.output) if opts.output else iso.absolute().parent  # upstream: the ISO's folder
        if output.suffix != ".iso" or output.is_dir():  # upstream's -o is a folder
            output = output / editlive.iso_name(iso, brand.name if brand else opts.label)
        editlive.edit_live_iso(iso, output, options, live)
        print(f"{output.name} saved to {output.parent}")  # upstream's last line, on stdout
        return 0

    return command.run_tool("editliveos", action)


# -- livecd-iso-to-pxeboot ---------------------------------------------------------------------------------------

def pxeboot_parser() -> argparse.ArgumentParser:
    parser = _parser("livecd-iso-to-pxeboot", "Write a network boot (PXE) tree from a live ISO: the kernel, an "
                                              "initrd holding the whole ISO, and boot loader configurations.",
                     PXEBOOT_EXIT_CODES, usage_status=1)
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
