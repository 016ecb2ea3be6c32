"""What persists on a live stick, and where its live system lives: livecd-iso-to-disk's overlay, home, swap and
live-directory options with upstream's meaning, around the copy of the ISO (:func:`iso_to_disk`'s ``_write``).

The order is upstream's:

1. :func:`check`, before anything is written: the options that contradict each other, a ``--copy-home`` from a
   source without ``LiveOS/home.img``, a ``--livedir`` that would land on one of the ISO's own folders;
2. :func:`before_copy`, on the mounted data partition before the ISO's files are copied: on a target that keeps
   its files (upstream's default mode, which installs onto an existing partition) an existing ``home.img`` is
   kept (refused with ``--home-size-mb`` or ``--copy-home`` unless ``--delete-home``) and with
   ``--reset-overlay`` the existing overlay is kept to be reset; both are moved aside, because the old live
   directory is replaced.  On a freshly formatted target there is nothing to keep (as upstream's ``--format``:
   ``--reset-overlay`` then says so and goes on without one, ``--delete-home`` has nothing to delete);
   a FAT partition is never mounted: there it only decides what stays, and :func:`kept_on_fat` renames it aside
   and back around the copy with mtools (a home or overlay of gigabytes is never copied) and resets the overlay
   in place;
3. :func:`after_copy`: the live directory named ``--livedir`` (``rd.live.dir=``), the source's overlay taken
   over with ``--copy-overlay`` (renamed to this stick's label and UUID; without it dropped, upstream never copies
   it), the source's ``home.img`` kept (upstream copies one that an ISO carries, and ``--copy-home`` one from a
   stick), what was kept put back (the overlay renamed and reset), then the new overlay, home and swap file, and
   the kernel arguments all this needs (:func:`with_args`).

With ``--skipcopy`` nothing is copied: :func:`reconfigure` reads what persists on the target for the new boot
configuration, and with ``--reset-overlay`` renames and empties its overlay (upstream resets it then too).

``--multi`` puts the new system beside the others on a target that keeps its files; on a formatted target there
are no others, so it boots alone from ``--livedir`` (upstream drops ``--multi`` there too).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imgcreate.errors import CreatorError
from imgcreate.host import signals
from imgcreate.host.run import find_tool
from imgcreate.media.liveiso import Layout, LiveIso
from imgcreate.storage import inroot, rootfs
from imgcreate.toolbox import stickfat, stickhome, stickoverlay

if TYPE_CHECKING:
    from imgcreate.toolbox.stickoptions import IsoToDiskOptions

log = logging.getLogger("imgcreate")

LIVEOS = "LiveOS"
_KEPT_HOME = "/.livecd-iso-to-disk-home.img"  # where upstream keeps the home while the live directory is replaced
_KEPT_OVERLAY = "/.livecd-iso-to-disk-overlay"
_KEPT_OVLWORK = "/.livecd-iso-to-disk-ovlwork"
_OTHER_LIVEOS = "/.livecd-iso-to-disk-LiveOS"  # another system's /LiveOS while the ISO's is copied (--livedir)


@dataclass(frozen=True)
class Kept:
    """What :func:`before_copy` moved aside on the target, to be put back by :func:`after_copy`."""

    home: bool = False
    overlay: bool = False
    ovlwork: bool = False
    # On a FAT target (never mounted) nothing is moved by before_copy: what is kept stays where it is until
    # :func:`kept_on_fat` sets it aside around the copy; *fat* is the partition.  *overlay_name*: the old overlay's
    # name (where a failed copy puts it back on ext, :func:`kept_back`).
    fat: str = ""
    overlay_name: str = ""


@dataclass(frozen=True)
class Persisted:
    """What the stick keeps across boots, as kernel arguments: *args* added, and whether it boots ``rw``."""

    args: tuple[str, ...] = ()
    rw: bool = False


def livedir_name(wanted: str, warn: bool = False) -> str:
    """The live directory's name: upstream replaces whitespace by ``_`` and ``/`` by ``-`` (with a warning,
    given by :func:`check`), as neither works on a kernel command line or in a boot loader's path."""
    name = re.sub(r"\s", "_", wanted).replace("/", "-")
    if name != wanted and warn:
        log.warning("The live directory '%s' contains whitespace or '/': using '%s'", wanted, name)
    if name in ("", ".", "..") or not re.match(r"^[A-Za-z0-9._+-]+$", name):
        raise CreatorError(f"--livedir '{wanted}' cannot be used: give a folder name of A-Z, a-z, 0-9, '.', '_', "
                           "'+' or '-' (it is passed to dracut as rd.live.dir=).")
    return name


def check(options: IsoToDiskOptions, live: LiveIso) -> None:
    """Every refusal of these options, before anything is written."""
    stickoverlay.check(options.overlayfs, options.overlay_size_mb, options.no_overlay, options.copy_overlay,
                       options.reset_overlay, options.skipcopy)
    stickhome.check(options.home_size_mb, options.crypted_home and not options.copy_home, options.copy_home,
                    f"/{LIVEOS}/{stickhome.HOME}" in live.files, options.swap_size_mb)
    if options.home_size_mb > 0 and options.crypted_home and not options.copy_home:
        find_tool("cryptsetup")
        stickhome.passphrase_of(options.home_passphrase)
    livedir = livedir_name(options.livedir, warn=True)
    if livedir != LIVEOS and any(f.startswith(f"/{livedir}/") for f in live.files):
        raise CreatorError(f"--livedir {livedir}: the ISO has a folder /{livedir} of its own; choose another name.")
    if options.copy_overlay and not any(f.startswith(f"/{LIVEOS}/overlay-") for f in live.files):
        log.warning("There is no persistent overlay on the source to copy (--copy-overlay): the stick gets none.")


def before_copy(mnt: Path, options: IsoToDiskOptions, fat: str = "") -> Kept:
    """On the mounted target, before the live directory is replaced: move aside what stays (see the module).
    On the FAT partition *fat* (not mounted; *mnt* is then the host folder of the files to copy on) only decide
    what stays: :func:`kept_on_fat` moves it."""
    livedir = livedir_name(options.livedir)
    home = f"/{livedir}/{stickhome.HOME}"
    keep_home = False
    if stickfat.is_file(fat, home) if fat else stickhome.has_home(mnt, livedir):
        if options.delete_home:
            log.warning("The old persistent home %s will be deleted (--delete-home).", home)
        elif options.home_size_mb > 0 or options.copy_home:
            what = "a new home.img be created" if options.home_size_mb > 0 else "the source's home.img be copied"
            raise CreatorError(f"The target has a persistent home ({home}) and you asked that {what}: to remove the "
                               "existing home.img give --delete-home explicitly. Nothing was changed.")
        else:
            if not fat:
                _move(mnt, home, _KEPT_HOME)
            keep_home = True
    overlays = stickoverlay.found(mnt, livedir, fat)
    if not options.reset_overlay:
        return Kept(home=keep_home, fat=fat)
    if not overlays:
        log.warning("There is no persistent overlay on the target to reset (--reset-overlay): going on without "
                    "one.")
        return Kept(home=keep_home, fat=fat)
    if fat:
        return Kept(home=keep_home, overlay=True, fat=fat, overlay_name=overlays[0])
    _move(mnt, f"/{livedir}/{overlays[0]}", _KEPT_OVERLAY)
    ovlwork = inroot.is_dir(mnt, f"/{livedir}/ovlwork")
    if ovlwork:
        _move(mnt, f"/{livedir}/ovlwork", _KEPT_OVLWORK)
    return Kept(home=keep_home, overlay=True, ovlwork=ovlwork, overlay_name=overlays[0])


def check_leftovers(mnt: Path, options: IsoToDiskOptions, fat: str = "") -> None:
    """Before anything is written to the mounted target: what a run killed while copying (SIGKILL, a power cut:
    no clean-up ran) left set aside at the top of the partition is refused, not overwritten or left hidden: the
    user's home or overlay (:func:`before_copy`, :func:`kept_on_fat` on the FAT partition *fat*, read with
    mtools), or another system's ``/LiveOS`` (:func:`other_system_aside`, only when this run would set one aside
    again, with a ``--livedir`` other than ``LiveOS``)."""
    def there(path: str) -> bool:
        return stickfat.exists(fat, path) if fat else inroot.lstat(mnt, path) is not None

    if not fat and livedir_name(options.livedir) != LIVEOS:  # FAT: no other system is set aside
        _refuse_other_left(mnt)
    for path, what in ((_KEPT_HOME, f"a persistent home ({stickhome.HOME})"),
                       (_KEPT_OVERLAY, "a persistent overlay"), (_KEPT_OVLWORK, "an overlay's ovlwork folder")):
        if there(path):
            raise CreatorError(f"{path} on the target was left by an interrupted run of livecd-iso-to-disk: it is "
                               f"{what} set aside while its live folder was replaced. Move it back into the live "
                               "folder it belongs to (or remove it) and run again. Nothing was written.")


def _refuse_other_left(mnt: Path) -> None:
    """Another system's ``/LiveOS`` that a killed run left set aside (:func:`other_system_aside`) is refused."""
    if inroot.lstat(mnt, _OTHER_LIVEOS) is not None:
        raise CreatorError(f"{_OTHER_LIVEOS} on the target was left by an interrupted run of livecd-iso-to-disk "
                           f"--livedir: it is the /{LIVEOS} of another system that was there, set aside while the "
                           f"ISO was copied (a /{LIVEOS} there now is most likely that unfinished copy). Check both, "
                           f"put the other system back at /{LIVEOS} (or remove {_OTHER_LIVEOS}) and run again. "
                           "Nothing was written.")


@contextlib.contextmanager
def kept_back(mnt: Path, kept: Kept, options: IsoToDiskOptions) -> Iterator[None]:
    """Around the copy onto the mounted target and :func:`after_copy`: when they fail or are interrupted, what
    :func:`before_copy` set aside is put back into the live folder (the home as ``home.img``, the overlay under
    its old name, unreset), as :func:`kept_on_fat` does on FAT, so a failed run does not hide the user's home.
    After a successful :func:`after_copy` nothing is set aside any more."""
    try:
        yield
    except BaseException:
        livedir = livedir_name(options.livedir)
        with signals.deferred("putting back what was set aside"):  # a second Ctrl-C does not cut it short
            for aside, back in ((_KEPT_HOME, stickhome.HOME), (_KEPT_OVERLAY, kept.overlay_name),
                                (_KEPT_OVLWORK, "ovlwork")):
                if back and inroot.lstat(mnt, aside) is not None:
                    inroot.makedirs(mnt, f"/{livedir}")
                    inroot.remove_tree(mnt, f"/{livedir}/{back}")  # the unfinished copy's: what was kept wins
                    _move(mnt, aside, f"/{livedir}/{back}")
                    log.info("Put back /%s/%s, set aside for the copy that did not finish", livedir, back)
        raise


def kept_bytes(mnt: Path, options: IsoToDiskOptions, fat: str = "") -> int:
    """What :func:`before_copy` will keep in the live folder that the copy replaces (its home unless
    --delete-home, its overlays with --reset-overlay): not free for the new system, as upstream counts it."""
    livedir = livedir_name(options.livedir)  # the folder the copy replaces, and counts as free
    names = [] if options.delete_home else [stickhome.HOME]
    if options.reset_overlay:
        names += stickoverlay.found(mnt, livedir, fat)[:1]
    total = 0
    for name in names:
        path = f"/{livedir}/{name}"
        if fat:
            total += stickfat.size(fat, path) if stickfat.is_file(fat, path) else 0
        elif inroot.is_file(mnt, path):
            total += rootfs.host_path(mnt, path).stat().st_size
    return total


def after_copy(mnt: Path, label: str, uuid: str, options: IsoToDiskOptions, layout: Layout, work: Path,
               kept: Kept, source_dir: str = LIVEOS, on_fat: bool = False) -> Persisted:
    """After the ISO's ``LiveOS/`` was copied to /*source_dir* on the mounted target (*on_fat*: the folder of what
    goes onto a FAT partition): see the module."""
    livedir = livedir_name(options.livedir)
    if livedir != source_dir and inroot.lstat(mnt, f"/{source_dir}") is not None:
        inroot.remove_tree(mnt, f"/{livedir}")
        _move(mnt, f"/{source_dir}", f"/{livedir}")
        log.info("The live system is in /%s (rd.live.dir=%s)", livedir, livedir)
    if options.multi and source_dir == LIVEOS:
        log.warning("--multi: the target holds no other live system; this one boots alone from /%s", livedir)
    kind = _overlay(mnt, livedir, stickoverlay.overlay_name(label, uuid), options, layout, work, kept, on_fat)
    if kept.home and not kept.fat:
        _move(mnt, _KEPT_HOME, f"/{livedir}/{stickhome.HOME}")
    if options.home_size_mb > 0:
        stickhome.make_home(mnt, livedir, options.home_size_mb, options.crypted_home, options.home_passphrase)
    elif stickhome.has_home(mnt, livedir):
        log.info("Persistent home: /%s/%s from the source", livedir, stickhome.HOME)
    if options.swap_size_mb > 0:
        stickhome.make_swap(mnt, livedir, options.swap_size_mb)
    args = stickoverlay.kernel_args(kind, options.overlayfs, options.no_overlay, uuid)
    if livedir != LIVEOS:
        args.append(f"rd.live.dir={livedir}")
    rw = kind is not None or kept.home or stickhome.has_home(mnt, livedir) or options.swap_size_mb > 0
    return Persisted(args=tuple(args), rw=rw)


def with_args(args: str, persisted: Persisted) -> str:
    """The stick's kernel command line *args* with what *persisted* needs (``rw`` for ``ro``; each argument
    once)."""
    words = args.split(" ")
    if persisted.rw:
        words = ["rw" if w == "ro" else w for w in words]
    words += [a for a in persisted.args if a not in words]
    return " ".join(words)


def _overlay(mnt: Path, livedir: str, name: str, options: IsoToDiskOptions, layout: Layout, work: Path,
             kept: Kept, on_fat: bool) -> stickoverlay.OverlayKind | None:
    """The stick's overlay: the source's (--copy-overlay), the target's reset (--reset-overlay), or a new one as
    asked; its kind (None: no persistent overlay)."""
    kind = _source_overlay(mnt, livedir, name, options.copy_overlay)
    if kept.fat and kept.overlay:
        return stickoverlay.kind_on_fat(kept.fat, f"/{livedir}/{kept.overlay_name}", work)
    if kept.overlay:
        _move(mnt, _KEPT_OVERLAY, f"/{livedir}/{name}")
        if kept.ovlwork:
            _move(mnt, _KEPT_OVLWORK, f"/{livedir}/ovlwork")
        stickoverlay.reset(mnt, livedir, name, work)
        kind = stickoverlay.kind_of(mnt, livedir, name)
    if kind is None:
        kind = stickoverlay.make(mnt, livedir, name, options.overlayfs, options.overlay_size_mb, layout, work,
                                 fat=on_fat)
    return kind


@contextlib.contextmanager
def kept_on_fat(kept: Kept, label: str, uuid: str, options: IsoToDiskOptions, work: Path) -> Iterator[None]:
    """Around the copy onto the FAT partition (which replaces the live directory): what :func:`before_copy` kept
    set aside on the partition (renamed: nothing copied), then put back into the live directory, the overlay
    under this stick's name and, once the copy succeeded, reset in place (upstream's --reset-overlay).  Put back
    even when the copy fails, so a failed run does not hide the user's home."""
    if not kept.fat or not (kept.home or kept.overlay):
        yield
        return
    livedir = livedir_name(options.livedir)
    home = f"/{livedir}/{stickhome.HOME}"
    overlay = f"/{livedir}/{stickoverlay.overlay_name(label, uuid)}"
    if kept.home:
        stickfat.move(kept.fat, home, _KEPT_HOME)
    if kept.overlay:
        stickfat.move(kept.fat, f"/{livedir}/{kept.overlay_name}", _KEPT_OVERLAY)
    try:
        yield
    finally:
        if kept.home:
            stickfat.move(kept.fat, _KEPT_HOME, home)
        if kept.overlay:
            stickfat.move(kept.fat, _KEPT_OVERLAY, overlay)
    if kept.overlay:
        stickoverlay.reset_on_fat(kept.fat, overlay, work)


@contextlib.contextmanager
def other_system_aside(mnt: Path, options: IsoToDiskOptions) -> Iterator[None]:
    """Around the copy of the ISO onto the mounted ext target with a ``--livedir`` other than ``LiveOS``: the
    ISO's ``LiveOS/`` is extracted there before :func:`after_copy` moves it to the live folder, so a ``/LiveOS``
    of another system is renamed aside meanwhile and put back after, also when the copy fails or is interrupted
    (upstream only replaces ``$LIVEOS``).  One left by a killed run is refused first (:func:`check_leftovers`)."""
    if livedir_name(options.livedir) == LIVEOS or inroot.lstat(mnt, f"/{LIVEOS}") is None:
        yield
        return
    _refuse_other_left(mnt)  # the caller refused it before writing anything (check_leftovers): never renamed over
    _move(mnt, f"/{LIVEOS}", _OTHER_LIVEOS)
    try:
        yield
    finally:
        with signals.deferred(f"putting the other /{LIVEOS} back"):
            inroot.remove_tree(mnt, f"/{LIVEOS}")  # an unfinished copy's, not yet moved to the live folder
            _move(mnt, _OTHER_LIVEOS, f"/{LIVEOS}")


def reconfigure(mnt: Path, label: str, uuid: str, options: IsoToDiskOptions, work: Path,
                fat: str = "") -> Persisted:
    """--skipcopy: the live system on the target stays, and what persists is read from it for the new boot
    configuration: its overlay (when named for this stick's label and UUID, as dracut looks for it), its home,
    its live folder.  With --reset-overlay the overlay is renamed for this stick and emptied first, as upstream
    does with --skipcopy too ("Allow overlay reset with --skipcopy repair").  On the FAT partition *fat* (never
    mounted) with mtools, in place; else on the mounted *mnt*."""
    livedir = livedir_name(options.livedir)
    name = stickoverlay.overlay_name(label, uuid)
    path = f"/{livedir}/{name}"
    overlays = stickoverlay.found(mnt, livedir, fat)
    if options.reset_overlay and not overlays:
        log.warning("There is no persistent overlay on the target to reset (--reset-overlay): going on without "
                    "one.")
    elif options.reset_overlay:
        old = name if name in overlays else overlays[0]
        if fat:
            if old != name:
                stickfat.move(fat, f"/{livedir}/{old}", path)
            stickoverlay.reset_on_fat(fat, path, work)
        else:
            stickoverlay.rename(mnt, livedir, old, name)
            stickoverlay.reset(mnt, livedir, name, work)
        overlays = sorted((set(overlays) - {old}) | {name})
    kind = None
    if name in overlays:
        kind = stickoverlay.kind_on_fat(fat, path, work) if fat else stickoverlay.kind_of(mnt, livedir, name)
    elif overlays and not options.no_overlay:
        log.warning("The overlay /%s/%s is not named for this stick (%s): the live system will not use it; "
                    "--reset-overlay renames and empties it.", livedir, overlays[0], name)
    home = f"/{livedir}/{stickhome.HOME}"
    has_home = stickfat.is_file(fat, home) if fat else stickhome.has_home(mnt, livedir)
    args = stickoverlay.kernel_args(kind, options.overlayfs, options.no_overlay, uuid)
    if livedir != LIVEOS:
        args.append(f"rd.live.dir={livedir}")
    return Persisted(args=tuple(args), rw=kind is not None or has_home)


def _source_overlay(mnt: Path, livedir: str, name: str, copy: bool) -> stickoverlay.OverlayKind | None:
    """The overlay the source carried, renamed to *name* with --copy-overlay (its kind), else removed."""
    overlays = stickoverlay.found(mnt, livedir)
    if copy and overlays:
        stickoverlay.rename(mnt, livedir, overlays[0], name)
        overlays = overlays[1:]
        log.info("Copied the source's persistent overlay as /%s/%s", livedir, name)
    for other in overlays:
        inroot.remove_tree(mnt, f"/{livedir}/{other}")
    if not (copy and inroot.lstat(mnt, f"/{livedir}/{name}") is not None):
        return None
    kind = stickoverlay.kind_of(mnt, livedir, name)
    if kind is stickoverlay.OverlayKind.DIR:
        inroot.makedirs(mnt, f"/{livedir}/ovlwork")
    return kind


def _move(mnt: Path, src: str, dst: str) -> None:
    """Rename *src* to *dst* on the stick (links moved, never followed)."""
    os.rename(rootfs.host_path(mnt, src), rootfs.host_path(mnt, dst))
