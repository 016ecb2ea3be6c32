"""livecd-iso-to-disk's persistence, home and live-directory options, with upstream's names and meaning
(tools/livecd-iso-to-disk.sh): the parser's options and the :class:`IsoToDiskOptions` fields they give
(:mod:`imgcreate.toolbox.stickpersist` does the work)."""

from __future__ import annotations

import argparse
import functools
import getpass
import sys
from collections.abc import Sequence
from typing import Any

from imgcreate.errors import CreatorError
from imgcreate.toolbox.stickoverlay import OVERLAYFS, OVERLAYFS_TEMP, OverlayfsMode

PASSPHRASE_HELP = ("the passphrase is asked twice on a terminal before anything is written; when standard input is not "
                   "a terminal its first line is the passphrase (before the 'yes' that erasing a block device without "
                   "--force asks for)")


def add_persist_options(parser: argparse.ArgumentParser) -> None:
    """Upstream's --overlayfs [temp], --no-overlay, --copy-overlay, --reset-overlay, --copy-home, --delete-home,
    --crypted-home, --unencrypted-home, --swap-size-mb, --multi and --livedir on *parser*.

    Upstream's ``--overlayfs`` takes the word ``temp`` only when it follows: argparse would take the ISO as the
    value of an optional argument, so the parser reads ``--overlayfs`` as ``--overlayfs=overlayfs`` and
    ``--overlayfs temp`` as ``--overlayfs=temp`` before parsing (:func:`upstream_argv`)."""
    group = parser.add_argument_group("persistence, home and live directory (as upstream)")
    group.add_argument("--overlayfs", nargs="?", choices=(OVERLAYFS, OVERLAYFS_TEMP), metavar="temp",
                       help="an OverlayFS overlay (rd.live.overlay.overlayfs): a persistent one in a folder "
                            "LiveOS/overlay-<label>-<uuid> on the stick, as big as its free space (--overlay-size-mb "
                            "makes room for it), on a FAT partition an ext4 image of --overlay-size-mb (needed "
                            "there); with 'temp' one in RAM, which nothing survives")
    group.add_argument("--no-overlay", action="store_true",
                       help="no overlay (rd.live.overlay=none): dracut writes to an uncompressed root image directly")
    group.add_argument("--copy-overlay", action="store_true",
                       help="take over the source's persistent overlay (LiveOS/overlay-*), renamed for this stick; "
                            "WARNING: whatever the source's live system wrote comes along")
    group.add_argument("--reset-overlay", action="store_true",
                       help="keep the target's existing overlay, renamed for its label and UUID, and empty it (on a "
                            "target that keeps its files, with --skipcopy too; a formatted one has none, which is "
                            "said)")
    group.add_argument("--copy-home", action="store_true",
                       help="copy the source's persistent LiveOS/home.img to the stick (an ISO's is copied anyway)")
    group.add_argument("--delete-home", action="store_true",
                       help="an existing home.img on the target may be replaced by a new (--home-size-mb) or copied "
                            "one (refused without it)")
    group.add_argument("--crypted-home", dest="crypted_home", action="store_true", default=True,
                       help="encrypt a new home (--home-size-mb) with LUKS (default, as upstream); "
                            + PASSPHRASE_HELP)
    group.add_argument("--unencrypted-home", dest="crypted_home", action="store_false",
                       help="a new home is a plain ext4 filesystem")
    group.add_argument("--swap-size-mb", type=int, default=0, metavar="N",
                       help="a swap file of N MiB (LiveOS/swap.img, made by mkswap)")
    group.add_argument("--multi", action="store_true",
                       help="add this live system, in --livedir, to a stick livecd-iso-to-disk wrote (a block "
                            "device or a non-empty image file; nothing else on it changes), its menu entry first; a "
                            "new or empty image file gets a new stick with this system alone")
    group.add_argument("--livedir", default="LiveOS", metavar="DIR",
                       help="the folder of the live system on the stick (default: LiveOS; rd.live.dir=DIR)")
    plain = parser.parse_known_args

    def parse_known_args(args: Sequence[str] | None = None, namespace: Any = None) -> Any:
        return plain(upstream_argv(list(sys.argv[1:] if args is None else args)), namespace)

    setattr(parser, "parse_known_args", parse_known_args)  # noqa: B010 (a method of this one parser)


def upstream_argv(argv: list[str]) -> list[str]:
    """*argv* with upstream's ``--overlayfs [temp]`` spelled so that argparse reads it as upstream does."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return out + argv[i:]
        if arg == "--overlayfs":
            temp = i + 1 < len(argv) and argv[i + 1] == OVERLAYFS_TEMP
            out.append(f"--overlayfs={OVERLAYFS_TEMP if temp else OVERLAYFS}")
            i += 2 if temp else 1
            continue
        out.append(arg)
        i += 1
    return out


def read_passphrase() -> bytes:
    """The encrypted home's passphrase: asked twice on a terminal (as cryptsetup luksFormat -y does for
    upstream), else the first line of standard input."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n").encode()
    for _ in range(3):
        first = getpass.getpass("Passphrase for the encrypted persistent home: ")
        if first and first == getpass.getpass("Verify passphrase: "):
            return first.encode()
        print("The passphrases do not match (or are empty); again.", file=sys.stderr)
    raise CreatorError("No passphrase for the encrypted home was given (asked three times): the stick was not "
                       "finished; write it again.")


def persist_fields(opts: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """The :class:`IsoToDiskOptions` fields of these options."""
    if opts.swap_size_mb < 0:
        parser.error("--swap-size-mb must be 0 or more")
    return {"overlayfs": None if opts.overlayfs is None else OverlayfsMode(opts.overlayfs),
            "no_overlay": opts.no_overlay, "copy_overlay": opts.copy_overlay,
            "reset_overlay": opts.reset_overlay, "copy_home": opts.copy_home, "delete_home": opts.delete_home,
            "crypted_home": opts.crypted_home and not opts.copy_home,
            "home_passphrase": functools.cache(read_passphrase),
            "swap_size_mb": opts.swap_size_mb, "multi": opts.multi, "livedir": opts.livedir}
