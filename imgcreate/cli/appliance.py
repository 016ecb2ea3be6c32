"""``appliance-creator``: partitioned, bootable disk images from a kickstart, with appliance-tools' options.

The same guarantees as livecd-creator (one-paragraph errors, exit codes, nothing left mounted or attached):
the build runs through :func:`imgcreate.cli.creators.run_build`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from imgcreate import debug, kickstart
from imgcreate.boot import boottest
from imgcreate.build.pipeline import BuildOptions
from imgcreate.cli import command, creators
from imgcreate.cli.options import add_work_options, tool_parser
from imgcreate.creator import ImageCreator
from imgcreate.disk import archive, output


def appliance_parser() -> argparse.ArgumentParser:
    """appliance-creator's parser: the one source of its --help and its man page."""
    parser = tool_parser("appliance-creator", "Build a partitioned, bootable disk image from a kickstart file.",
                                 creators.EXIT_CODES, version_flags=("-V", "--tool-version"))
    img = parser.add_argument_group("Image options")
    img.add_argument("-c", "--config", dest="kscfg", required=True, help="path to the kickstart file")
    img.add_argument("-n", "--name", help="name of the appliance (default: from the kickstart's file name)")
    img.add_argument("--version", dest="app_version",
                     help="version of the appliance (in <name>.xml); as appliance-creator, also the value of "
                          "$releasever in repository URLs unless --releasever is given")
    img.add_argument("--release", help="release of the appliance (in <name>.xml)")
    img.add_argument("-f", "--format", dest="disk_format", default="raw", metavar="FORMAT",
                     help="disk format: raw (default), qcow2, vmdk, vdi, or any other format qemu-img converts "
                          "to (vhdx, vpc, qed, ...), passed on to it as appliance-creator does")
    img.add_argument("--vmem", type=int, default=512, help="memory of the virtual machine in MiB (default 512)")
    img.add_argument("--vcpu", type=int, default=1, help="virtual CPUs (default 1)")
    img.add_argument("--checksum", action="store_true", help="write a CHECKSUM file (and checksums in <name>.xml)")
    img.add_argument("--manifest", action="store_true",
                     help="also write the build's manifest beside the disk: <name>.packages, <name>.flattened.ks "
                          "and <name>-CHECKSUM (ours; by default only the disk and <name>.xml are delivered, as "
                          "appliance-creator does and Koji's builder expects)")
    img.add_argument("--no-compress", action="store_true",
                     help="do not compress the disk (default, as appliance-creator: raw as <name>-sda.raw.xz, "
                          "qcow2 compressed inside; vmdk and vdi are never compressed)")
    img.add_argument("--compression", choices=tuple(output.COMPRESSORS), default="xz",
                     help="what compresses a raw disk: xz (default, as appliance-creator: <name>-sda.raw.xz) or "
                          "zstd (<name>-sda.raw.zst)")
    img.add_argument("--disk-size", type=int, metavar="MIB",
                     help="size of the disk in MiB, which --grow partitions fill (default: the sum of the parts)")
    img.add_argument("--releasever",
                     help="value to substitute for $releasever in repository URLs (default: --version, else the "
                          "host's)")
    img.add_argument("--repo", action="append", default=[], metavar="PATH",
                     help="a .repo file or a directory of them, whose repositories replace the kickstart's")
    creators.add_forcearch_option(img)
    img.add_argument("--ksversion", help="kickstart syntax version, e.g. F38 or RHEL9 (default: detected)")
    img.add_argument("--source-date-epoch", metavar="SECONDS",
                     help="build reproducibly with this time (seconds since 1970, UTC): the same kickstart and "
                          "repositories give a bit-identical disk (XFS partitions aside); default: "
                          "$SOURCE_DATE_EPOCH if set")
    pkg = parser.add_argument_group("Package options")
    pkg.add_argument("-p", "--package", dest="package_format", default=archive.NONE, choices=archive.PACKAGES,
                     help="how the appliance is delivered: none (default: its files in OUTDIR/NAME/), or one "
                          "archive OUTDIR/NAME.zip, .tar, .tar.gz or .tar.bz2 holding NAME/<files> (zip.64: "
                          "zip with ZIP64 extensions where needed, as zip)")
    pkg.add_argument("-i", "--include", metavar="PATH",
                     help="a file, or the entries of a folder, to deliver beside the disk (inside the package)")
    pkg.add_argument("-o", "--outdir", default=".",
                     help="directory the appliance is written to, into OUTDIR/NAME/ with -p none (default: .)")
    sys_ = parser.add_argument_group("System directory options")
    add_work_options(sys_, "where the build directory is made (/var/tmp)",
                             nocleanup_help="keep the build directory (still unmounts)")
    creators.add_incremental_options(sys_)
    boottest.add_options(parser)
    debug.add_logging_options(parser)
    return parser


def _make_creator(opts: argparse.Namespace, ks: kickstart.KickstartHandler, epoch: int | None) -> ImageCreator:
    from imgcreate.disk.appliance import DiskImageCreator

    name = opts.name or default_name(opts.kscfg, epoch)
    # appliance-creator's --version is also $releasever unless --releasever is given
    opts = argparse.Namespace(**{**vars(opts), "releasever": opts.releasever or opts.app_version})
    return creators.creator_from_options(
        DiskImageCreator, opts, ks, name, epoch, disk_format=opts.disk_format,
        compress=None if opts.no_compress else opts.compression, checksum=opts.checksum, vmem=opts.vmem,
        vcpu=opts.vcpu, version=opts.app_version, release=opts.release, disk_size_mib=opts.disk_size,
        manifest=opts.manifest, package_format=opts.package_format, include=opts.include)


def default_name(kscfg: str, epoch: int | None) -> str:
    """appliance-creator's name without -n: the kickstart's name and the time (``vm-202311142213``); a
    reproducible build's time is its epoch, in UTC, as livecd-creator's."""
    if epoch is None:
        return kickstart.build_name(kscfg)
    return kickstart.build_name(kscfg, suffix=time.strftime("%Y%m%d%H%M", time.gmtime(epoch)))


def _check_usage(parser: argparse.ArgumentParser, opts: argparse.Namespace) -> None:
    """What appliance-creator refuses with its usage status (2) before building: an --include that does not
    exist; ours besides: a --format qemu-img cannot write, and --boot-test of an archive."""
    if opts.include and not Path(opts.include).exists():
        parser.error(f"included file '{opts.include}' does not exist (-i/--include)")
    problem = output.format_problem(opts.disk_format)
    if problem:
        parser.error(problem)
    if opts.package_format != archive.NONE and getattr(opts, "boot_test", False):
        parser.error(f"--boot-test boots the delivered disk, and -p {opts.package_format} delivers an archive: "
                     "use -p none (the default) with --boot-test")


def main(argv: Sequence[str] | None = None) -> int:
    parser = appliance_parser()
    opts = command.read_command_line(parser, argv)
    _check_usage(parser, opts)
    options = BuildOptions(destdir=Path(opts.outdir), cachedir=Path(opts.cache) if opts.cache else None,
                           repo_paths=tuple(Path(p) for p in opts.repo))
    return creators.run_build("appliance-creator", opts, lambda ks, epoch: _make_creator(opts, ks, epoch), options)


def appliance_main() -> None:
    sys.exit(main(sys.argv[1:]))
