"""livecd-iso-to-disk ``--multi``: one more live system on a stick that livecd-iso-to-disk already wrote, beside
the ones there, each booting from its own menu entry (upstream's multi image installation).

The stick is not repartitioned or formatted: its data partition (the ext4 one with ``boot/grub2/grub.cfg``) is
mounted, the ISO's ``LiveOS/`` goes to ``/<livedir>/`` and its kernel and initrd to ``/<livedir>/boot/``, the
persistence asked for is made there (:mod:`imgcreate.toolbox.stickpersist`: an overlay
``/<livedir>/overlay-<label>-<uuid>``, which dracut finds through ``rd.live.dir``), and the GRUB menu gets the new
system's entry first (the default, as upstream puts the new image first) with the entries of the others after it;
an entry that booted an earlier system from the same ``--livedir`` is replaced.  GRUB's BIOS core image and the
ESP's configuration find the data partition by UUID and read that menu, so they stay as they are.

Refused before anything is written: a target that holds no stick of this tool (use it without ``--multi``
first), ``--livedir LiveOS`` (the first system's; upstream asks for another name), too little free space.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from imgcreate.boot import grubmenu
from imgcreate.boot.grubmenu import GrubMenu, MenuEntry
from imgcreate.disk.layout import MIB
from imgcreate.errors import CreatorError
from imgcreate.host import fs, signals
from imgcreate.host.run import run
from imgcreate.media.liveiso import LiveIso
from imgcreate.storage import inroot, rootfs
from imgcreate.toolbox import stickmount, stickpersist, sticktarget

if TYPE_CHECKING:
    from imgcreate.toolbox.stickoptions import IsoToDiskOptions

log = logging.getLogger("imgcreate")

GRUB_CFG = "/boot/grub2/grub.cfg"
_ENTRY_RE = re.compile(r"^menuentry .*?^}\n?", re.MULTILINE | re.DOTALL)


def holds_stick(target: Path) -> bool:
    """Whether ``--multi`` adds to *target* rather than writing a new stick: a block device, or an image file
    that is not empty (a new or empty file gets a new stick, with this system alone)."""
    return target.is_block_device() or (target.is_file() and target.stat().st_size > 0)


def add_system(live: LiveIso, target: Path, options: IsoToDiskOptions, kernel_args: Callable[[str], str]) -> None:
    """Put *live* beside the systems on the stick *target* (a block device or an image file), in
    ``/<livedir>/``; *kernel_args* gives its kernel command line for the data partition's UUID."""
    livedir = stickpersist.livedir_name(options.livedir)
    if livedir == stickpersist.LIVEOS:
        raise CreatorError("--multi: give the new system a folder of its own with --livedir (LiveOS holds the "
                           "stick's first system). Nothing was written.")
    if target.is_block_device():
        sticktarget.check_block_target(target)
    else:
        sticktarget.check_file_target(target, live.path, None, force=True)
    with contextlib.ExitStack() as stack:
        with signals.deferred("making a work folder"):
            work = Path(tempfile.mkdtemp(prefix="livecd-iso-to-disk-"))
            stack.callback(fs.remove_tree, work)
        mnt, dev = _mount_data_partition(stack, target, work)
        stickpersist.check_leftovers(mnt, options)
        _check_space(mnt, live, options)
        uuid, label = fs.probe(dev, "UUID"), fs.probe(dev, "LABEL")
        kept = stickpersist.before_copy(mnt, options)
        kernel, initrd = f"/{livedir}/boot/vmlinuz", f"/{livedir}/boot/initrd.img"
        with stickpersist.kept_back(mnt, kept, options):
            inroot.remove_tree(mnt, f"/{livedir}")
            log.info("Copying the live system to /%s on %s", livedir, dev)
            live.extract("/LiveOS", rootfs.host_path(mnt, f"/{livedir}"))
            inroot.makedirs(mnt, f"/{livedir}/boot")
            live.extract(live.boot.kernel, rootfs.host_path(mnt, kernel))
            live.extract(live.boot.initrd, rootfs.host_path(mnt, initrd))
            run(["chmod", "-R", "u+w", str(rootfs.host_path(mnt, f"/{livedir}"))], what="Making the copy writable")
            persisted = stickpersist.after_copy(mnt, label, uuid, options, live.layout, work, kept,
                                                source_dir=livedir)
        args = stickpersist.with_args(kernel_args(uuid), persisted)
        entry = MenuEntry(f"Start {live.label} ({livedir})", kernel, initrd, args)
        old = rootfs.read_file(mnt, GRUB_CFG) or ""
        rootfs.write_file(mnt, GRUB_CFG, merged_menu(old, entry, livedir, uuid))
        run(["sync"], what="Flushing the stick")
    log.info("%s now also boots %s from /%s (the menu's first entry)", target, live.label, livedir)


def merged_menu(old: str, entry: MenuEntry, livedir: str, uuid: str) -> str:
    """The stick's grub.cfg with *entry* first (the default) and the entries of *old* after it, without those
    that booted from ``rd.live.dir=<livedir>`` (replaced by this one)."""
    timeout = re.search(r"^set timeout=(-?\d+)", old, re.MULTILINE)
    head = grubmenu.render(GrubMenu(entries=(entry,), timeout=int(timeout.group(1)) if timeout else 5,
                                    title="Multi Live Image Boot Menu", root=("uuid", uuid),
                                    serial="console=ttyS" in entry.args))
    others = [e for e in _ENTRY_RE.findall(old) if not re.search(rf"\brd\.live\.dir={re.escape(livedir)}(\s|$)", e)]
    return head.rstrip("\n") + "\n\n" + "\n".join(e.rstrip("\n") + "\n" for e in others)


def _mount_data_partition(stack: contextlib.ExitStack, target: Path, work: Path) -> tuple[Path, str]:
    """The stick's ext4 data partition (with boot/grub2/grub.cfg) mounted read-write; its mount point and device."""
    block = stat.S_ISBLK(os.stat(target).st_mode)
    device = str(target) if block else fs.attach_loop(stack, target, partscan=True)
    mnt = work / "data"
    mnt.mkdir()
    found = stickmount.mount_first(stack, fs.partition_devices(device).values(), mnt, {"ext4": None}, _holds_stick)
    if found is not None:
        return mnt, found[0]
    raise CreatorError(f"--multi: {target} holds no live stick written by livecd-iso-to-disk (no ext4 partition "
                       f"with {GRUB_CFG} and LiveOS/): write the first system without --multi. Nothing was written.")


def _holds_stick(mnt: Path) -> bool:
    return inroot.is_file(mnt, GRUB_CFG) and inroot.is_dir(mnt, f"/{stickpersist.LIVEOS}")


def _check_space(mnt: Path, live: LiveIso, options: IsoToDiskOptions) -> None:
    st = os.statvfs(mnt)
    free = st.f_bavail * st.f_frsize // MIB
    needed = math.ceil(live.path.stat().st_size / MIB) + options.overlay_size_mb + options.home_size_mb + \
        options.swap_size_mb + 16
    if free < needed:
        raise CreatorError(f"--multi: the stick's data partition has {free} MiB free, but this live system with its "
                           f"overlay, home and swap needs about {needed} MiB. Nothing was written.")
