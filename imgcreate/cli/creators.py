"""The one command-line implementation behind ``livecd-creator`` and ``image-creator``.

Both commands take the options of upstream livecd-tools with their meaning.  Every error a user can cause
ends in one paragraph on stderr and a non-zero exit, never a traceback; SIGTERM and SIGHUP unwind the build
like Ctrl-C does, so nothing is left mounted.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from imgcreate import debug, kickstart
from imgcreate.boot import boottest
from imgcreate.build.pipeline import BuildOptions, build_image
from imgcreate.cli.options import add_work_options, tool_parser
from imgcreate.creator import ImageCreator
from imgcreate.errors import CreatorError, Interrupted
from imgcreate.storage import reproducible

log = logging.getLogger("imgcreate")

COMPRESSORS = ("xz", "zstd", "lz4", "lzo", "gzip", "lzma")
IMAGE_TYPES = ("livecd", "image")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kscfg_pos", nargs="?", metavar="KICKSTART", help="the kickstart file (same as -c)")
    img = parser.add_argument_group("Image options")
    img.add_argument("-c", "--config", dest="kscfg", help="path to the kickstart file")
    img.add_argument("-f", "--fslabel",
                     help="the filesystem label, also the image's name (default: from the kickstart's file name)")
    img.add_argument("-n", "--name", dest="fslabel", help=argparse.SUPPRESS)  # upstream's alias of -f
    img.add_argument("-b", "--base-on",
                     help="start from an earlier image: a live ISO (livecd) or a filesystem image (image)")
    img.add_argument("--ksversion", help="kickstart syntax version, e.g. F38 or RHEL9 (default: detected)")
    img.add_argument("--releasever", help="value to substitute for $releasever in repository URLs")
    add_forcearch_option(img)
    img.add_argument("-o", "--output", default=".", help="directory the finished image is written to (default: .)")
    img.add_argument("--repo", action="append", default=[], metavar="PATH",
                     help="a .repo file or a directory of them, whose repositories replace the kickstart's (as "
                          "upstream); or NAME,URL (or a URL) to add one repository (may be repeated)")
    img.add_argument("--pkgverify-level", choices=("all", "none", "signature", "digest"), default=None,
                     help="what rpm verifies of each package before installing it: its digests, a signature by "
                          "a key imported in the image, both, or nothing (default: rpm's own, digest)")
    img.add_argument("--image-type", choices=IMAGE_TYPES,
                     help="livecd (a live ISO) or image (a filesystem image); default: from the command's name")
    img.add_argument("--source-date-epoch", metavar="SECONDS",
                     help="build reproducibly with this time (seconds since 1970, UTC): the same kickstart and "
                          "repositories give a bit-identical image; default: $SOURCE_DATE_EPOCH if set")
    img.add_argument("-p", "--plugins", action="store_true",
                     help="accepted for compatibility; dnf plugins are not loaded (they would act on the host)")
    sys_ = parser.add_argument_group("System directory options")
    add_work_options(sys_)
    add_incremental_options(sys_)
    parser.add_argument("-l", "--shell", action="store_true",
                        help="open a shell in the image after %%post, before it is packaged")
    debug.add_logging_options(parser)

EXIT_CODES = """\
exit status:
  0    the image was built and written to --output
  1    the build failed (the message says why); nothing was left mounted or written
  2    the command line was wrong (unknown option, missing kickstart, bad value)
  130  interrupted (Ctrl-C, SIGTERM or SIGHUP); everything was cleaned up
"""


def add_forcearch_option(group: argparse._ArgumentGroup) -> None:
    """``--forcearch ARCH``: dnf's and mock's name for building another architecture's image."""
    group.add_argument("--forcearch", metavar="ARCH", default=None,
                       help="the image's architecture, e.g. aarch64 (default: this machine's); another one's "
                            "programs run through qemu-user-static")


def build_parser(live: bool, prog: str | None = None) -> argparse.ArgumentParser:
    prog = prog or ("livecd-creator" if live else "image-creator")
    desc = "Build a live CD/USB ISO from a kickstart file." if live else "Build a filesystem image from a kickstart."
    parser = tool_parser(prog, desc, EXIT_CODES)
    _add_common(parser)
    _add_live_options(parser, live)
    return parser


LIVE_GROUPS = ("Live image options",)


def _add_live_options(parser: argparse.ArgumentParser, live: bool) -> None:
    """The live ISO's options.  image-creator takes them too: upstream's is a link to livecd-creator, one
    program with one parser, so a command line written for one runs with the other; for a filesystem image
    they are ignored with one warning (:func:`ignore_live_options`)."""
    note = None if live else ("livecd-creator's options, accepted as upstream's image-creator (the same program) "
                              "accepts them; a filesystem image has no boot menu, squashfs or initramfs of its "
                              "own, so they are ignored, with one warning line")
    liv = parser.add_argument_group(LIVE_GROUPS[0], note)
    liv.add_argument("--title", help="title of the boot menu (default: the first two words of the name)")
    liv.add_argument("--product", help="product name in the boot menu (default: like --title)")
    liv.add_argument("--compression-type", default="xz",
                     help="squashfs compressor and options, e.g. 'xz', 'zstd', \"xz -Xbcj x86\", upstream's "
                          "'xz1m', or 'None': that of the --base-on ISO (default xz)")
    liv.add_argument("-s", "--skip-compression", action="store_true",
                     help="put the root filesystem image on the ISO uncompressed (LiveOS/rootfs.img, no squashfs)")
    liv.add_argument("--flat-squashfs", action="store_true",
                     help="put the root tree itself in the squashfs (no ext4 rootfs.img inside)")
    liv.add_argument("--rootfs-type", choices=("squashfs-ext4", "squashfs", "erofs-ext4", "erofs"), default=None,
                     help="LiveOS/squashfs.img as lorax makes it: squashfs or EROFS, holding an ext4 rootfs.img "
                          "(-ext4) or the root tree; EROFS takes --compression-type lz4, lz4hc[,LEVEL] or what "
                          "the host's mkfs.erofs lists (default squashfs-ext4; squashfs is --flat-squashfs)")
    liv.add_argument("--skip-minimize", action="store_true", help="do not shrink the ext4 image to its minimum")
    liv.add_argument("--syslinux", action="store_true", help="BIOS boot with isolinux instead of GRUB 2")
    liv.add_argument("--nomacboot", action="store_true", help="do not make Mac EFI boot files (accepted; no-op)")
    liv.add_argument("--dracut-conf-args", default="", metavar="[+]MODULE ...",
                     help="dracut modules of the live initramfs: '+a b' adds to the default set (livenet "
                          "dmsquash-live dmsquash-live-autooverlay overlayfs pollcdrom), 'a b' replaces it, "
                          "'-a' omits one; dracut.conf text (with '=') is added as it is")
    if live:  # ours, not upstream's: a filesystem image does not boot, and a boot test must not pass by omission
        boottest.add_options(parser)


def ignore_live_options(prog: str, parser: argparse.ArgumentParser, opts: argparse.Namespace) -> list[str]:
    """For a filesystem image: the live options given on the command line, each set back to its default, and
    one warning naming them (upstream's image-creator ignores them without a word); returns their names."""
    given = []
    for group in parser._action_groups:
        if group.title not in LIVE_GROUPS:
            continue
        for action in group._group_actions:
            # argparse passes a string default through the option's type, as it passes a value given
            default = action.default
            if isinstance(default, str) and callable(action.type):
                default = action.type(default)
            if getattr(opts, action.dest, default) != default:
                given.append(max(action.option_strings, key=len))
                setattr(opts, action.dest, default)
    if given:
        log.warning("%s: %s only apply to live ISOs: ignored for this filesystem image.", prog, ", ".join(given))
    return given


def livecd_parser() -> argparse.ArgumentParser:
    """livecd-creator's parser: the one source of its --help and its man page."""
    return build_parser(live=True)


def image_parser() -> argparse.ArgumentParser:
    """image-creator's parser: the one source of its --help and its man page."""
    return build_parser(live=False)


def add_incremental_options(group: argparse._ArgumentGroup) -> None:
    """``--incremental [DIR]`` and ``--no-incremental``, the same for every creator (imgcreate.build.incremental)."""
    group.add_argument("--incremental", nargs="?", const="", metavar="DIR",
                       help="keep the installed tree in DIR (default: CACHE/incremental, with --cache) and start "
                            "from it, without dnf or rpm, when a later build installs the same packages from the "
                            "same repository metadata")
    group.add_argument("--no-incremental", action="store_true",
                       help="a full build even with --incremental (the cache is neither read nor written)")


def setup_logging(opts: argparse.Namespace, parser: argparse.ArgumentParser) -> debug.LogSettings:
    """Upstream's levels (see :mod:`imgcreate.debug`); the options' order does not matter for these four."""
    settings = debug.LogSettings()
    for what in ("debug", "verbose", "quiet"):
        if getattr(opts, what):
            debug.apply_option(settings, what)
    if opts.logfile:
        try:
            debug.apply_option(settings, "logfile", opts.logfile)
        except OSError as exc:
            parser.error(f"cannot write the log file '{opts.logfile}': {exc.strerror}")
    return settings


# The signals that stopped the current guarded() run, in order: an error raised while unwinding after one (an
# unmount that failed) still ends the run as interrupted, not failed.
_received: list[str] = []


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    _received.append(signal.Signals(signum).name)
    raise Interrupted(f"Stopped by {signal.Signals(signum).name}")


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    _received.append("SIGINT")
    raise KeyboardInterrupt


def _repo_paths(values: Sequence[str]) -> tuple[Path, ...]:
    """The --repo values that are existing paths: .repo files or directories (upstream's meaning)."""
    return tuple(Path(v) for v in values if os.path.exists(v))


def _parse_repos(values: Sequence[str]) -> dict[str, str]:
    """The other --repo values: NAME,URL or a bare URL, each adding one repository."""
    repos: dict[str, str] = {}
    for i, value in enumerate(v for v in values if not os.path.exists(v)):
        if "," in value and "://" not in value.split(",", 1)[0]:
            name, url = value.split(",", 1)
        else:
            name, url = f"cmdline-{i}", value
        repos[name] = url
    return repos


@dataclass(frozen=True)
class Names:
    """The image's name (its file name), its label and its boot menu's title and product."""

    name: str
    fslabel: str
    title: str
    product: str


def derive_names(opts: argparse.Namespace, image_type: str, now: float | None = None,
                 epoch: int | None = None) -> Names:
    """Upstream's defaults: -f gives both label and name; without it the name is "<type>-<ks name>-<time>" and
    the label the kickstart name cut to fit 32 characters with "-<arch>-<time>"; title and product are the
    name's first two dash-separated words, capitalized ("Livecd Fedora", "Fedora 29")."""
    # A reproducible build's default name and label come from its epoch (in UTC: the same on every host).
    stamp = time.strftime("%Y%m%d%H%M", time.gmtime(epoch) if epoch is not None else time.localtime(now))
    if opts.fslabel:
        name = fslabel = opts.fslabel
    else:
        prefix = f"{image_type}-"
        name = kickstart.build_name(opts.kscfg, prefix, suffix=stamp)
        fslabel = kickstart.build_name(opts.kscfg, prefix, maxlen=kickstart.FSLABEL_MAXLEN,
                                       suffix=f"{os.uname().machine}-{stamp}")
        if image_type == "livecd":
            fslabel = kickstart.label_from_name(fslabel)
        log.info("Using label '%s' and name '%s'", fslabel, name)
    default_title = " ".join(name.split("-")[:2]).title() or "Linux"
    return Names(name=name, fslabel=fslabel, title=getattr(opts, "title", None) or default_title,
                 product=getattr(opts, "product", None) or default_title)


_C = TypeVar("_C", bound=ImageCreator)


def creator_from_options(cls: type[_C], opts: argparse.Namespace, ks: kickstart.KickstartHandler, name: str,
                         epoch: int | None, **kind: Any) -> _C:
    """The one way every frontend builds its creator from parsed options: the options all creators share
    (--releasever, --tmpdir, --cacheonly, --nocleanup, --pkgverify-level, the epoch, --incremental, --boot-test) as
    constructor keywords and settings, plus the image type's own keywords *kind*.  Nothing else sets a
    creator's settings from the command line; ``mount()`` takes them as its one snapshot."""
    creator = cls(ks, name, releasever=getattr(opts, "releasever", None), tmpdir=opts.tmpdir,
                  cacheonly=opts.cacheonly, docleanup=not opts.nocleanup,
                  pkgverify_level=getattr(opts, "pkgverify_level", None), source_date_epoch=epoch, **kind)
    creator.incremental = incremental_dir(opts)
    creator.forcearch = getattr(opts, "forcearch", None)
    creator.boot_test = boottest.BootTest.from_options(opts)  # None without --boot-test; QEMU is checked now
    return creator


def _make_creator(opts: argparse.Namespace, live: bool, ks: kickstart.KickstartHandler, epoch: int | None) -> Any:
    names = derive_names(opts, "livecd" if live else "image", epoch=epoch)
    if not live:
        from imgcreate.creator import LoopImageCreator

        # Upstream checks labels of live images only; an ext label keeps its first 16 characters.  Without -f,
        # the kickstart's part / --label names the filesystem (else the name does).
        label = names.fslabel[: kickstart.FSLABEL_MAXLEN] if opts.fslabel else None
        return creator_from_options(LoopImageCreator, opts, ks, names.name, epoch, fslabel=label)
    from imgcreate.config.model import basearch
    from imgcreate.live import LiveImageCreator, creator_for

    kickstart.check_fslabel(names.fslabel)
    # Upstream's class for the image's architecture (the machine's, or --forcearch's): aarch64LiveImageCreator.
    cls = creator_for(basearch(opts.forcearch)) if getattr(opts, "forcearch", None) else LiveImageCreator
    return creator_from_options(
        cls, opts, ks, names.name, epoch,
        fslabel=names.fslabel,
        title=names.title,
        product=names.product,
        compression_type=opts.compression_type,
        skip_compression=opts.skip_compression,
        flat_squashfs=opts.flat_squashfs,
        rootfs_type=getattr(opts, "rootfs_type", None),
        skip_minimize=opts.skip_minimize,
        syslinux=opts.syslinux,
        dracut_conf_args=opts.dracut_conf_args,
    )


def _launch_shell(creator: ImageCreator) -> None:
    print("Launching shell. Exit to continue.", file=sys.stderr)
    print("----------------------------------", file=sys.stderr)
    creator.launch_shell()


def check_host(prog: str = "this") -> None:
    """The tools need root: loop devices, mounts and chroot."""
    if os.geteuid() != 0:
        raise CreatorError(f"You must run {prog} as root: it needs loop devices, mounts and chroot.")


def path_with_sbin() -> None:
    """Tools like losetup and mkfs live in sbin, which a non-login root shell's PATH may lack."""
    path = os.environ.get("PATH", "/usr/bin:/bin").split(":")
    os.environ["PATH"] = ":".join(path + [d for d in ("/usr/sbin", "/sbin") if d not in path])


def _image_type(argv: Sequence[str]) -> str | None:
    """--image-type, read before the full parser is built (its live options depend on it), as upstream does."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--image-type", choices=IMAGE_TYPES)
    known, _ = pre.parse_known_args(argv)
    return known.image_type  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None, live: bool = True) -> int:
    path_with_sbin()
    args = list(sys.argv[1:] if argv is None else argv)
    prog = "livecd-creator" if live else "image-creator"
    image_type = _image_type(args)
    if image_type is not None:
        live = image_type == "livecd"
    parser = build_parser(live, prog)
    opts = parser.parse_args(args)
    opts.kscfg = opts.kscfg or opts.kscfg_pos
    if not opts.kscfg:
        parser.error("a kickstart file is required (-c/--config KICKSTART)")
    setup_logging(opts, parser)
    if not live:
        ignore_live_options(prog, parser, opts)
    if opts.plugins:
        log.warning("--plugins: dnf plugins are not loaded (a host plugin would act on the build); ignored")
    return run_build(prog, opts, lambda ks, epoch: _make_creator(opts, live, ks, epoch), _build_options(opts))


def run_build(prog: str, opts: argparse.Namespace, make_creator: Callable[[Any, int | None], ImageCreator],
              options: BuildOptions) -> int:
    """Read the kickstart, make the creator (from the kickstart and the build's epoch: --source-date-epoch,
    else $SOURCE_DATE_EPOCH, else None) and run the pipeline (livecd-creator, image-creator,
    appliance-creator), with :func:`guarded`'s error handling and a hint when a disk filled up."""
    state: dict[str, Any] = {}

    def build() -> int:
        epoch = reproducible.epoch_from(getattr(opts, "source_date_epoch", None))
        if epoch is not None:
            log.info("reproducible build: SOURCE_DATE_EPOCH=%d", epoch)
        check_host(prog)
        ks = kickstart.read_kickstart(opts.kscfg, getattr(opts, "ksversion", None))
        # What exists now (modules, the kickstart) lives as long as the process: out of the collector's way, so
        # that the full collections dnf and the partition writer force (to free file descriptors and libparted's
        # cache at once) scan only the build's own objects (0.05 s of a disk build; issue 28).
        gc.freeze()
        creator = state["creator"] = make_creator(ks, epoch)
        with creator:
            build_image(creator, options)
        _report_timings(creator)
        return 0

    def hint(message: str) -> str:
        creator = state.get("creator")
        return _full_disk_hint(message, opts, creator is not None and creator.full_disk is not None)

    return guarded(prog, build, hint)


def incremental_dir(opts: argparse.Namespace) -> Path | None:
    """Where --incremental keeps installed trees; None for a normal build."""
    chosen = getattr(opts, "incremental", None)
    if chosen is None or getattr(opts, "no_incremental", False):
        return None
    if chosen:
        return Path(chosen).resolve()
    if not getattr(opts, "cache", None):
        raise CreatorError("--incremental without a folder keeps its trees under --cache: give --cache DIR, or "
                           "--incremental DIR.")
    return Path(opts.cache).resolve() / "incremental"


def guarded(prog: str, action: Callable[[], int], hint: Callable[[str], str] | None = None) -> int:
    """Run a tool's *action* so that every error ends in one paragraph and an exit code (see EXIT_CODES):
    1 for a failure, 130 when interrupted; SIGTERM and SIGHUP unwind like Ctrl-C, so cleanup runs.  *hint*
    adds advice to an error's message (e.g. which folder filled up)."""
    more = hint or (lambda message: "")
    _received.clear()
    old_handlers = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGTERM, signal.SIGHUP)}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when started with SIGINT ignored
        old_handlers[signal.SIGINT] = signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    # A parent may start us with these signals blocked (a mask is inherited across exec; some job runners block
    # SIGTERM to read it from a signalfd): blocked, SIGTERM would wait until the build ended, unwinding nothing.
    old_mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, set(old_handlers))
    try:
        return action()
    except KeyboardInterrupt as exc:
        return _fail(prog, f"{_stopped_by(exc)}; everything was cleaned up.", 130)
    except Exception as exc:
        if _received:  # interrupted, and cleaning up after it failed: still an interrupted run
            what = "Interrupted (SIGINT)" if _received[0] == "SIGINT" else f"Stopped by {_received[0]}"
            return _fail(prog, f"{what}, but cleaning up failed: {_describe(exc)}", 130)
        if isinstance(exc, CreatorError):
            return _fail(prog, f"error: {exc}{more(str(exc))}", exc.exit_code)
        if isinstance(exc, OSError):
            return _fail(prog, f"error: {_describe(exc)}{more(str(exc))}", 1)
        # a bug of ours: still one paragraph, the details go to the debug log
        return _fail(prog, f"internal error: {type(exc).__name__}: {exc}. Everything was cleaned up; run with "
                           "--debug or --logfile for details, and please report this.", 1)
    finally:
        for s, handler in old_handlers.items():
            signal.signal(s, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def _stopped_by(exc: KeyboardInterrupt) -> str:
    return str(exc) if isinstance(exc, Interrupted) else "Interrupted (SIGINT)"


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, CreatorError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}."
    return str(exc)


def _build_options(opts: argparse.Namespace) -> BuildOptions:
    return BuildOptions(
        destdir=Path(opts.output), base_on=opts.base_on,
        cachedir=Path(opts.cache) if opts.cache else None, repo_urls=_parse_repos(opts.repo),
        repo_paths=_repo_paths(opts.repo),
        before_unmount=_launch_shell if opts.shell else None,
        # upstream: editing a base image by hand in the shell does not install the kickstart's packages again
        install=not (opts.shell and opts.base_on),
    )


def _fail(prog: str, message: str, code: int) -> int:
    """The one paragraph on stderr; the log (a --logfile) gets it too, with the traceback at debug level."""
    print(f"{prog}: {message}", file=sys.stderr)
    log.error("%s", message, extra={"console": False})
    log.debug("error details", exc_info=True)
    return code


def _full_disk_hint(message: str, opts: argparse.Namespace, tmpdir_full: bool = False) -> str:
    if tmpdir_full:
        return (
            f"\nThe filesystem of --tmpdir ({opts.tmpdir}) is full: that is where the image is built. Free some "
            "space there or choose another directory with --tmpdir."
        )
    if "No space left on device" not in message and "Disk quota exceeded" not in message:
        return ""
    output = getattr(opts, "output", None) or getattr(opts, "outdir", ".")
    return (
        f"\nA filesystem is full: the build directory is in --tmpdir ({opts.tmpdir}) and the result goes to "
        f"the output folder ({os.path.abspath(str(output))}). Free some space there or choose other directories."
    )


def _report_timings(creator: Any) -> None:
    timings = getattr(creator, "timings", {})
    if timings:
        log.info("phase timings: %s", ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))


def livecd_main() -> None:
    sys.exit(main(sys.argv[1:], live=True))


def image_main() -> None:
    sys.exit(main(sys.argv[1:], live=False))
