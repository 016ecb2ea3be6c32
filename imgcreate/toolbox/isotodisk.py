"""livecd-iso-to-disk: put a live ISO on a USB stick (or a disk image file), bootable with BIOS and UEFI,
optionally with a persistent overlay and a persistent /home; upstream's two modes:

* onto a *partition* (the default, upstream's non-destructive mode): the FAT or ext filesystem on it keeps its
  label (``LIVE`` when it has none, ``--label`` to change it) and its other files; the ISO's files
  (``LiveOS/``, ``images/``, ``boot/grub2/``, ``EFI/BOOT/``) are added or replace the previous live system's
  (:mod:`imgcreate.toolbox.stickinstall`), and GRUB's BIOS boot code goes into the disk's MBR;
* ``--format`` a whole *block device* (and always an *image file*, our extension): a new partition table,
  msdos (``--efi``: GPT with a 1 MiB BIOS boot partition first for GRUB's core image), with a small FAT EFI
  system partition holding the ISO's own ``EFI/BOOT`` files (unless ``--noesp``) and the data partition
  labelled ``LIVE`` (or ``--label``), ext4 (``--msdos``: FAT), which is then written as above.

On the data partition: the ISO tree, a GRUB menu ``boot/grub2/grub.cfg`` booting ``root=live:UUID=<uuid>``
(by UUID as upstream, see :func:`kernel_args`), the persistent overlay ``LiveOS/overlay-<label>-<uuid>``
(``rd.live.overlay=UUID=<uuid>``: a dm-snapshot COW file, or an ext4 image with ``overlayfs/`` and ``ovlwork/``
for a flat squashfs) and ``LiveOS/home.img`` (ext4, mounted as /home by the live system).  GRUB for BIOS: the
core image made by the host's ``grub2-mkimage`` from the ISO's own ``boot/grub2/i386-pc`` modules, written by
the host's ``grub2-bios-setup``.

Every loop device and mount is registered on an ExitStack when acquired, so an error or Ctrl-C leaves nothing
attached or mounted, and an image file made by the run is removed unless it was finished.  Every refusal (not a
live ISO, a damaged one, a mounted target, the disk of ``/``, a whole disk without ``--format`` or a partition
with it, too small, an existing non-empty image file without ``--format``) happens before anything is written.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import shlex
import tempfile
from pathlib import Path

from imgcreate.boot import diskboot
from imgcreate.disk import formatted
from imgcreate.disk.layout import (
    FIRST_PARTITION_MIB,
    GPT_BACKUP_MIB,
    MIB,
    DiskLabel,
    DiskLayout,
    PartKind,
    PlannedPartition,
)
from imgcreate.errors import CreatorError
from imgcreate.host import fs, signals
from imgcreate.host.run import find_any_tool, run
from imgcreate.media import liveiso
from imgcreate.media.liveiso import Layout, LiveIso
from imgcreate.storage import rootfs
from imgcreate.toolbox import stickinstall, stickmulti, stickoverlay, stickpersist, sticktarget
from imgcreate.toolbox.stickoptions import IsoToDiskOptions
from imgcreate.toolbox.sticktarget import PartitionTarget, Target

log = logging.getLogger("imgcreate")

LABEL_RE = re.compile(r"^[A-Za-z0-9._-]{1,16}$")  # an ext4 label that needs no escaping on a kernel command line
ESP_LABEL = "LIVE-EFI"
MIN_ESP_MIB = 16
# Arguments of the ISO's boot entry that the stick sets itself.
_DROPPED_ARGS = ("root=", "rd.live.check", "check", "rd.live.overlay=", "overlay=")


# ---------------------------------------------------------------------------------------------------------------
# Pure parts: label, kernel arguments, layout


def stick_label(iso_label: str, wanted: str | None, fat: bool = False) -> str:
    """The data partition's label: *wanted*, else *iso_label* (a partition's own; a new one gets upstream's
    ``LIVE``) with anything but ``A-Za-z0-9._-`` made ``_``, cut to ext4's 16 (FAT's 11) characters."""
    most = 11 if fat else 16
    if wanted is not None:
        if not LABEL_RE.match(wanted) or len(wanted) > most:
            raise CreatorError(
                f"The label '{wanted}' cannot be used: give 1 to {most} characters of A-Z, a-z, 0-9, '.', '_' or "
                f"'-' (it names the {'FAT' if fat else 'ext4'} data partition, and dracut finds the overlay file by "
                "it)."
            )
        return wanted
    label = re.sub(r"[^A-Za-z0-9._-]", "_", iso_label)[:most]
    return label or "LIVE"


def kernel_args(iso_args: str, uuid: str, options: IsoToDiskOptions, layout: Layout) -> str:
    """The stick's kernel command line: the ISO entry's arguments with the root on the data partition's UUID,
    ``rd.live.check`` dropped (it checks an ISO 9660 image, which the stick is not), ``rw`` when something
    persists (dracut mounts the live partition as the command line says, and the overlay and home need it
    writable), the overlay's arguments and the extra ones at the end.

    The root and the overlay's device are named by the data partition's UUID (*uuid*), as upstream's
    livecd-iso-to-disk does, not by its label: the root image inside the squashfs usually carries the ISO's
    label too, and once dracut has attached it ``/dev/disk/by-label/<label>`` points at that image.  dracut
    names the overlay file after the label and UUID of the live device as it reads them *then*
    (``LiveOS/overlay-<label>-<uuid>``), so a root given by label found no overlay: the boot stopped at
    "Unable to find a persistent overlay"."""
    words = [w for w in shlex.split(iso_args) if not w.startswith(_DROPPED_ARGS) and w not in ("ro", "rw")]
    persistent = options.overlay_size_mb > 0 or options.home_size_mb > 0
    out = [f"root=live:UUID={uuid}", *words, "rw" if persistent else "ro"]
    if options.overlay_size_mb > 0:
        out.append(f"rd.live.overlay=UUID={uuid}")
        if layout is Layout.FLAT_SQUASHFS and not any(a.startswith("rd.live.overlay.overlayfs") for a in out):
            out.append("rd.live.overlay.overlayfs")
    out += shlex.split(options.extra_kernel_args)
    return " ".join(out)


def data_size_mib(payload_bytes: int, options: IsoToDiskOptions) -> int:
    """The data partition's minimum: the ISO's files, overlay, home, and ext4's own share with some room.

    ext4's share is large on a small filesystem: below 512 MiB mke2fs uses one 256-byte inode per 4 KiB (6.25 %
    of the space) and a 16 MiB journal from 128 MiB on; plus the 1 % reserve.  (The 8 % with a 32 MiB minimum
    used before left a 247 MiB partition for 211 MiB of files and an ENOSPC.)"""
    content = math.ceil(payload_bytes / MIB) + options.overlay_size_mb + options.home_size_mb + options.swap_size_mb
    return content + 32 + math.ceil(content * 0.08)


def esp_size_mib(efi_bytes: int) -> int:
    return max(MIN_ESP_MIB, 2 * math.ceil(efi_bytes / MIB) + 4)


def plan_stick(data_mib: int, esp_mib: int | None, gpt: bool, disk_bytes: int | None, label: str,
               fstype: str = "ext4", fill: bool = True) -> DiskLayout:
    """The stick's partitions: [BIOS boot (GPT)], [ESP], data (a *fstype* filesystem); the data partition takes
    the rest of a disk of *disk_bytes* (None: exactly as big as needed), or with *fill* False exactly
    *data_mib* (``--format SIZE``).  Raises CreatorError when the disk is too small."""
    overhead = FIRST_PARTITION_MIB + (GPT_BACKUP_MIB + 1 if gpt else 0) + (esp_mib or 0)
    needed = overhead + data_mib
    total_mib = needed if disk_bytes is None else disk_bytes // MIB
    if total_mib < needed:
        raise CreatorError(
            f"The target holds {disk_bytes // MIB if disk_bytes else 0} MiB, but the live system with this overlay "
            f"and home needs at least {needed} MiB: use a bigger stick (or --size-mb for an image file), or smaller "
            "--overlay-size-mb / --home-size-mb."
        )
    parts: list[PlannedPartition] = []
    start = FIRST_PARTITION_MIB

    def add(kind: PartKind, mountpoint: str | None, fstype: str | None, size: int, plabel: str | None) -> None:
        nonlocal start
        parts.append(PlannedPartition(kind=kind, mountpoint=mountpoint, fstype=fstype, size_mib=size,
                                      number=len(parts) + 1, start=start * MIB, end=(start + size) * MIB,
                                      label=plabel))
        start += size

    if gpt:
        add(PartKind.BIOSBOOT, None, None, 1, None)
    if esp_mib:
        add(PartKind.EFI, "/boot/efi", "vfat", esp_mib, ESP_LABEL)
    data_end = total_mib - (GPT_BACKUP_MIB if gpt else 0)
    add(PartKind.FILESYSTEM, "/", fstype, data_end - start if fill else data_mib, label)
    return DiskLayout(label=DiskLabel.GPT if gpt else DiskLabel.MSDOS, size_bytes=total_mib * MIB,
                      partitions=tuple(parts))


# ---------------------------------------------------------------------------------------------------------------
# Writing the stick


def check_target(path: Path, iso: Path, options: IsoToDiskOptions) -> Target | PartitionTarget:
    """What *path* is, or why it must not be written (see :mod:`imgcreate.toolbox.sticktarget`)."""
    return sticktarget.check_target(path, iso, options.size_mb, options.force, fmt=options.format)


def iso_to_disk(iso: Path, target: Path, options: IsoToDiskOptions) -> None:
    """Write the live ISO *iso* to *target* as *options* say: onto a partition (its other files kept), or
    repartitioning a whole block device (``--format``) or an image file."""
    if options.overlay_size_mb < 0 or options.home_size_mb < 0:
        raise CreatorError("--overlay-size-mb and --home-size-mb must be 0 or more.")
    live = liveiso.read_live_iso(iso)
    stickpersist.check(options, live)
    if options.multi and stickmulti.holds_stick(target):
        return stickmulti.add_system(live, target, options, lambda u: kernel_args(live.boot.args, u, options,
                                                                                  live.layout))
    tgt = check_target(target, iso, options)
    if isinstance(tgt, PartitionTarget):
        label = partition_label(tgt, options.label)
    else:
        if options.skipcopy:
            raise CreatorError(f"--skipcopy reconfigures the live system on a partition: give the partition, not "
                               f"{target}. Nothing was written.")
        label = stick_label("", options.label, fat=options.fstype == "vfat")
        if options.fstype == "vfat":
            label = label.upper()  # as mkfs.vfat writes it: dracut names the overlay by the label it reads
    stickoverlay.check_fat(tgt.fstype if isinstance(tgt, PartitionTarget) else options.fstype, options.overlayfs,
                           options.overlay_size_mb, options.skipcopy)
    for name, extra in (("--updates", options.updates), ("--ks", options.ks)):
        if extra is not None and not extra.is_file():
            raise CreatorError(f"{name} {extra}: no such file. Nothing was written.")
    if not options.noverify:
        verify_iso(iso)
    if isinstance(tgt, PartitionTarget):
        _onto_partition(live, tgt, label, options)
        log.info("%s is ready: boot its disk %s, label %s", target, tgt.disk, label)
    else:
        _format_target(live, tgt, target, label, options)


def _format_target(live: LiveIso, tgt: Target, target: Path, label: str, options: IsoToDiskOptions) -> None:
    """--format (or an image file): the whole target repartitioned, then written."""
    iso = live.path
    efi_bytes = _efi_bytes(live) if options.efi else 0
    data_mib = data_size_mib(iso.stat().st_size, options)
    if options.format_size_mb is not None:
        if options.format_size_mb < data_mib:
            raise CreatorError(f"--format {options.format_size_mb}: the live system needs a partition of at least "
                               f"{data_mib} MiB. Nothing was written.")
        data_mib = options.format_size_mb
    layout = plan_stick(data_mib, esp_size_mib(efi_bytes) if options.efi else None, options.gpt, tgt.size_bytes,
                        label, fstype=options.fstype, fill=options.format_size_mb is None)
    if tgt.is_block and not options.force:
        question = f"All data on {target} ({(tgt.size_bytes or 0) // MIB} MiB) will be lost. Type 'yes' to continue: "
        if options.confirm is None or not options.confirm(question):
            raise CreatorError(f"Not confirmed: nothing was written to {target}.")
    # An image file made here is removed unless it was finished (never a file that was there before, nor a block
    # device), last, once no loop device holds it; a second signal does not cut the unwinding short.
    created = not tgt.is_block and not target.exists()
    with contextlib.ExitStack() as stack:
        work = _work_folder(stack)
        try:
            _write(stack, live, tgt, layout, label, options, work)
            created = False  # finished: it stays
        finally:
            with signals.deferred("cleaning up"):
                try:
                    stack.close()
                finally:
                    if created:
                        log.info("removing the unfinished image file %s", target)
                        target.unlink(missing_ok=True)
    log.info("%s is ready: boot it, label %s", target, label)


def _work_folder(stack: contextlib.ExitStack) -> Path:
    with signals.deferred("making a work folder"):  # made and registered for removal, or neither
        work = Path(tempfile.mkdtemp(prefix="livecd-iso-to-disk-"))
        stack.callback(fs.remove_tree, work)
    return work


def partition_label(tgt: PartitionTarget, wanted: str | None) -> str:
    """A partition keeps its label (upstream), unless --label asks for another; one without gets ``LIVE``."""
    label = stick_label(tgt.label, wanted, fat=tgt.fstype == "vfat") if wanted or tgt.label else "LIVE"
    if wanted is None and tgt.label and not LABEL_RE.match(tgt.label):
        raise CreatorError(f"{tgt.path} is labelled '{tgt.label}', which dracut cannot name the overlay by: give "
                           "--label (1 to 16 characters of A-Z, a-z, 0-9, '.', '_' or '-'). Nothing was written.")
    return label


def _onto_partition(live: LiveIso, tgt: PartitionTarget, label: str, options: IsoToDiskOptions) -> None:
    """Upstream's default mode: the live system added to the filesystem on the partition *tgt*."""
    if options.gpt and not tgt.gpt:
        raise CreatorError(f"--efi: the disk of {tgt.path} has an msdos partition table, and EFI booting with --efi "
                           "needs GPT: run with --format --efi on the whole device, or leave out --efi (the UEFI boot "
                           "files are copied anyway). Nothing was written.")
    with contextlib.ExitStack() as stack:
        work = _work_folder(stack)
        try:
            stick = stickinstall.Stick(disk=tgt.disk, part=str(tgt.path), fstype=tgt.fstype, label=label,
                                       uuid=tgt.uuid, gpt=tgt.gpt)
            _fill(stack, live, stick, options, work, fresh=False, old_label=tgt.label)
            run(["sync"], what="Flushing the stick")
        finally:
            with signals.deferred("cleaning up"):
                stack.close()


def _relabel(stick: stickinstall.Stick) -> None:
    tool = "fatlabel" if stick.fat else "e2label"
    run([tool, stick.part, stick.label], what=f"Labelling {stick.part} {stick.label}")


def verify_iso(iso: Path) -> None:
    """The ISO's implanted MD5 (if it has one), as upstream checks before copying (--noverify skips it)."""
    try:
        tool = find_any_tool("checkisomd5")
    except CreatorError:
        log.warning("checkisomd5 is not installed: the ISO is copied without checking it")
        return
    res = run([tool, str(iso)], check=False, what=f"Checking {iso}")
    if "FAIL" in res.stdout:
        raise CreatorError(f"{iso} fails its own checksum (checkisomd5): the ISO is damaged. Nothing was written.")


def _efi_bytes(live: LiveIso) -> int:
    """Roughly how much the ESP will hold: the ISO's efiboot.img bounds it."""
    if "/images/efiboot.img" in live.files:
        return _iso_file_size(live, "/images/efiboot.img")
    return 8 * MIB


def _iso_file_size(live: LiveIso, path: str) -> int:
    out = run(["xorriso", "-indev", str(live.path), "-lsl", path], check=False, what="Sizing a file").stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > 5 and parts[-1].strip("'") == path:
            with contextlib.suppress(ValueError):
                return int(parts[4])
    return 8 * MIB


def _write(stack: contextlib.ExitStack, live: LiveIso, tgt: Target, layout: DiskLayout, label: str,
           options: IsoToDiskOptions, work: Path) -> None:
    # Old signatures erased, so nothing of the old stick is found by a probe; an image file is made, or grown, to
    # the layout's size, and with --size-mb also cut to it: the user asked for that size, and a GPT's backup
    # header belongs at the end of the file, not beyond the last partition with the old stick's data after it.
    made = formatted.format_disk(stack, tgt.path, layout, block=tgt.is_block, exact=options.size_mb is not None,
                                 erase=True)
    data = next(p for p in layout.partitions if p.mountpoint == "/")
    stick = stickinstall.Stick(disk=made.device, part=made.partitions[data.number], fstype=data.fstype or "ext4",
                               label=label, uuid=made.uuids[data.number], gpt=layout.label is DiskLabel.GPT)
    menu = _fill(stack, live, stick, options, work, fresh=True)
    esp = next((p for p in layout.partitions if p.kind is PartKind.EFI), None)
    if esp is not None:
        stickinstall.fill_esp(live, made.partitions[esp.number], menu, work)
    run(["sync"], what="Flushing the stick")


def _check_room(root: Path, live: LiveIso, stick: stickinstall.Stick, options: IsoToDiskOptions,
                fresh: bool) -> None:
    """Before anything is written: room for the live system (what it replaces counted as free), or with
    --skipcopy a live system to reconfigure."""
    livedir = stickpersist.livedir_name(options.livedir)
    if options.skipcopy:
        if not fresh and not stickinstall.has_live_system(root, stick, livedir):
            raise CreatorError(f"--skipcopy: {stick.part} holds no live system ({livedir}/) to reconfigure. "
                               "Nothing was written.")
        return
    if not fresh and not options.force and stickinstall.has_live_system(root, stick, livedir):
        question = (f"{stick.part} holds a live system ({livedir}/) already: it will be replaced with every file in "
                    "it (its overlay too, unless --reset-overlay; its home.img is kept unless --delete-home). Type "
                    "'yes' to continue: ")
        if options.confirm is None or not options.confirm(question):
            raise CreatorError(f"Not confirmed: nothing was written to {stick.part}.")
    extras_mib = options.overlay_size_mb + options.home_size_mb + options.swap_size_mb + 8
    needed = live.path.stat().st_size + extras_mib * MIB
    free = stickinstall.free_bytes(root, stick, live, livedir)
    if not fresh:
        free -= stickpersist.kept_bytes(root, options, stick.part if stick.fat else "")
    if needed > free:
        raise CreatorError(
            f"{stick.part} has {free // MIB} MiB free (counting the live system it replaces), but the live "
            f"system with this overlay and home needs {math.ceil(needed / MIB)} MiB: free some space, use a "
            "bigger partition or smaller --overlay-size-mb / --home-size-mb. Nothing was written.")


def _fill(stack: contextlib.ExitStack, live: LiveIso, stick: stickinstall.Stick, options: IsoToDiskOptions,
          work: Path, *, fresh: bool, old_label: str | None = None) -> diskboot.DiskBootMenu:
    """The live files, boot menus, persistence and GRUB's BIOS boot code on the partition *stick* (a new one
    when *fresh*; labelled *old_label* until now); its other files stay.  With --skipcopy only the boot
    configuration is written."""
    root = stickinstall.open_root(stack, stick, work)
    if not options.skipcopy:
        # a killed run's, before anything is asked or written
        stickpersist.check_leftovers(root, options, fat=stick.part if stick.fat else "")
    _check_room(root, live, stick, options, fresh)
    if old_label is not None and old_label != stick.label:
        _relabel(stick)
    kept = stickpersist.Kept()
    fat = stick.part if stick.fat and not fresh else ""
    livedir = stickpersist.livedir_name(options.livedir)
    if options.skipcopy:  # what persists read from the stick, its overlay reset with --reset-overlay
        persisted = stickpersist.reconfigure(root, stick.label, stick.uuid, options, work, fat=fat)
    else:
        # an existing home (and overlay to reset) moved aside (on FAT: marked, and moved around the copy), then
        # the old live folder removed with all the old system left in it (on FAT by copy_to_fat)
        kept = stickpersist.before_copy(root, options, fat=fat)
        with stickpersist.kept_back(root, kept, options), stickpersist.other_system_aside(root, options):
            stickinstall.remove_replaced(root, stick, live, livedir)
            log.info("Copying the live system to %s", stick.part)
            live.extract_all(root)
            if options.skipcompress:
                stickinstall.expand_rootfs(root, live)
            persisted = stickpersist.after_copy(root, stick.label, stick.uuid, options, live.layout, work, kept,
                                                on_fat=stick.fat)
    args = stickpersist.with_args(kernel_args(live.boot.args, stick.uuid, options, live.layout), persisted)
    args += "".join(f" {arg}=hd:UUID={stick.uuid}:/{name}" for arg, name, given in (
        ("inst.updates", "updates.img", options.updates), ("inst.ks", "ks.cfg", options.ks)) if given is not None)
    menu = diskboot.DiskBootMenu(title=f"Start {stick.label}", kernel=live.boot.kernel, initrd=live.boot.initrd,
                                 kernel_args=args, boot_uuid=stick.uuid, grub_dir="/boot/grub2",
                                 timeout=boot_timeout(live, options))
    # The stick's tree is the ISO's, links included: paths in it are resolved on the stick (boot -> /etc stays).
    rootfs.write_file(root, "/boot/grub2/grub.cfg", diskboot.grub_cfg(menu))
    if any(f.startswith("/EFI/BOOT/") for f in live.files):
        rootfs.write_file(root, "/EFI/BOOT/grub.cfg", diskboot.find_boot_cfg(menu))
    for name, given in (("updates.img", options.updates), ("ks.cfg", options.ks)):
        if given is not None:
            rootfs.write_file(root, f"/{name}", given.read_bytes(), mode=0o644)
    stickinstall.install_bios_grub(stack, root, stick, menu, work, required=fresh)
    if stick.fat:
        with stickpersist.kept_on_fat(kept, stick.label, stick.uuid, options, work):
            stickinstall.copy_to_fat(root, stick, live, replace=not options.skipcopy, livedir=livedir)
    return menu


def boot_timeout(live: LiveIso, options: IsoToDiskOptions) -> int:
    """GRUB's menu timeout in seconds: 0 with --nomenu; --timeout converted as upstream does for EFI GRUB (tenths
    of a second rounded to seconds; ``-0`` and ``0`` boot at once, ``-1`` waits); else the ISO's (5 s if none)."""
    if options.nomenu:
        return 0
    if options.timeout is not None:
        tenths = int(options.timeout)
        if options.timeout == "-0" or tenths in (0, -1):
            return tenths
        return tenths // 10 + (1 if tenths % 10 > 4 else 0)
    try:
        text = live.read("/boot/grub2/grub.cfg").decode(errors="replace")
    except CreatorError:
        return 5
    m = re.search(r"^\s*set timeout=(\d+)", text, re.MULTILINE)
    return int(m.group(1)) if m else 5
