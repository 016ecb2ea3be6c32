"""livecd-iso-to-disk: write a live ISO to a USB stick (a block device) or a disk image file, bootable with BIOS
and UEFI, optionally with a persistent overlay and a persistent /home.

What the stick holds (always repartitioned and formatted; nothing of what was there is kept):

* a partition table, msdos by default (what BIOS firmware boots from USB most reliably, as upstream) or GPT
  (``gpt=True``, then with a 1 MiB BIOS boot partition first for GRUB's core image);
* with ``efi`` (the default) a small FAT EFI system partition holding the ISO's own ``EFI/BOOT`` files (from
  the ISO tree, else from its ``images/efiboot.img``) and a ``grub.cfg`` that finds the data partition by UUID;
* the data partition, ext4 labelled *label*: the whole ISO tree (``LiveOS/squashfs.img``, kernel, initrd,
  ``boot/grub2``), a GRUB menu ``boot/grub2/grub.cfg`` booting ``root=live:UUID=<uuid>`` (dracut's
  dmsquash-live finds ``LiveOS/`` on any filesystem; by UUID as upstream, see :func:`kernel_args`), the
  persistent overlay
  ``LiveOS/overlay-<label>-<uuid>`` (``rd.live.overlay=UUID=<uuid>``: a dm-snapshot COW file, or an ext4
  image with ``overlayfs/`` and ``ovlwork/`` for a flat squashfs, which needs overlayfs) and ``LiveOS/home.img``
  (ext4, mounted as /home by the live system);
* GRUB for BIOS: the core image made by the host's ``grub2-mkimage`` from the ISO's own ``boot/grub2/i386-pc``
  modules (the host's when the ISO has none), written by the host's ``grub2-bios-setup`` (an ISO carries no
  tool that can run on the host).

Every loop device and mount is registered on an ExitStack when acquired, so an error or Ctrl-C leaves nothing
attached or mounted, and an image file made by the run is removed unless it was finished.  Every refusal (not a
live ISO, a mounted target, the disk of ``/``, a partition instead of a disk, too small, an existing non-empty
image file without ``force``) happens before anything is written.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import shlex
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
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
from imgcreate.errors import CommandError, CreatorError
from imgcreate.host import fs, signals
from imgcreate.host.run import find_any_tool, mtools_env, run
from imgcreate.media import liveiso
from imgcreate.media.liveiso import Layout, LiveIso
from imgcreate.storage import inroot, rootfs
from imgcreate.toolbox import stickmulti, stickpersist, sticktarget
from imgcreate.toolbox.sticktarget import Target

log = logging.getLogger("imgcreate")

LABEL_RE = re.compile(r"^[A-Za-z0-9._-]{1,16}$")  # an ext4 label that needs no escaping on a kernel command line
ESP_LABEL = "LIVE-EFI"
MIN_ESP_MIB = 16
_GRUB_BIOS_SETUP = ("grub2-bios-setup", "grub-bios-setup")
_HOST_GRUB_PC = Path(diskboot.GRUB_PC_DIR)
# Arguments of the ISO's boot entry that the stick sets itself.
_DROPPED_ARGS = ("root=", "rd.live.check", "check", "rd.live.overlay=", "overlay=")


@dataclass(frozen=True)
class IsoToDiskOptions:
    """What livecd-iso-to-disk was asked to do (the CLI's options; sizes in MiB)."""

    size_mb: int | None = None  # an image file is made (grown or cut to) this size; a block device is as it is
    label: str | None = None  # the data partition's label (default: the ISO's, cut to 16 characters)
    gpt: bool = False
    efi: bool = True
    overlay_size_mb: int = 0
    home_size_mb: int = 0
    noverify: bool = False  # skip checking the ISO's implanted MD5 (checkisomd5) before copying
    force: bool = False  # no confirmation before erasing a block device; an existing image file may be overwritten
    extra_kernel_args: str = ""
    # Asked before a block device is erased (unless force); returns whether the user agreed.
    confirm: Callable[[str], bool] | None = None
    # Persistence, home and live directory (imgcreate.toolbox.stickpersist), with upstream's meaning.
    overlayfs: str | None = None  # "overlayfs": a persistent OverlayFS overlay (a folder); "temp": one in RAM
    no_overlay: bool = False  # rd.live.overlay=none
    copy_overlay: bool = False  # the source's overlay, renamed for this stick
    reset_overlay: bool = False  # the target's existing overlay kept and emptied
    copy_home: bool = False  # the source's LiveOS/home.img
    delete_home: bool = False  # an existing home.img on the target may be replaced
    crypted_home: bool = True  # a new home is LUKS-encrypted (upstream's default)
    home_passphrase: Callable[[], bytes] | None = None  # for a new encrypted home: asked before anything is written
    swap_size_mb: int = 0  # LiveOS/swap.img
    multi: bool = False  # added beside the systems on a stick this tool wrote (imgcreate.toolbox.stickmulti)
    livedir: str = "LiveOS"  # the live system's folder on the stick (rd.live.dir=)


# ---------------------------------------------------------------------------------------------------------------
# Pure parts: label, kernel arguments, layout


def stick_label(iso_label: str, wanted: str | None) -> str:
    """The data partition's label: *wanted*, else the ISO's with anything but ``A-Za-z0-9._-`` made ``_``,
    cut to ext4's 16 characters."""
    if wanted is not None:
        if not LABEL_RE.match(wanted):
            raise CreatorError(
                f"The label '{wanted}' cannot be used: give 1 to 16 characters of A-Z, a-z, 0-9, '.', '_' or '-' "
                "(it names the ext4 data partition, and dracut finds the overlay file by it)."
            )
        return wanted
    label = re.sub(r"[^A-Za-z0-9._-]", "_", iso_label)[:16]
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


def plan_stick(data_mib: int, esp_mib: int | None, gpt: bool, disk_bytes: int | None, label: str) -> DiskLayout:
    """The stick's partitions: [BIOS boot (GPT)], [ESP], data; the data partition takes the rest of a disk of
    *disk_bytes* (None: exactly as big as needed).  Raises CreatorError when the disk is too small."""
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
    add(PartKind.FILESYSTEM, "/", "ext4", data_end - start, label)
    return DiskLayout(label=DiskLabel.GPT if gpt else DiskLabel.MSDOS, size_bytes=total_mib * MIB,
                      partitions=tuple(parts))


# ---------------------------------------------------------------------------------------------------------------
# Writing the stick


def check_target(path: Path, iso: Path, options: IsoToDiskOptions) -> Target:
    """What *path* is, or why it must not be written (see :mod:`imgcreate.toolbox.sticktarget`)."""
    return sticktarget.check_target(path, iso, options.size_mb, options.force)


def iso_to_disk(iso: Path, target: Path, options: IsoToDiskOptions) -> None:
    """Write the live ISO *iso* to *target* (a block device or an image file) as *options* say."""
    if options.overlay_size_mb < 0 or options.home_size_mb < 0:
        raise CreatorError("--overlay-size-mb and --home-size-mb must be 0 or more.")
    live = liveiso.read_live_iso(iso)
    stickpersist.check(options, live)
    if options.multi and stickmulti.holds_stick(target):
        return stickmulti.add_system(live, target, options, lambda u: kernel_args(live.boot.args, u, options,
                                                                                  live.layout))
    label = stick_label(live.label, options.label)
    tgt = check_target(target, iso, options)
    if not options.noverify:
        verify_iso(iso)
    efi_bytes = _efi_bytes(live) if options.efi else 0
    layout = plan_stick(data_size_mib(iso.stat().st_size, options), esp_size_mib(efi_bytes) if options.efi else None,
                        options.gpt, tgt.size_bytes, label)
    if tgt.is_block and not options.force:
        question = f"All data on {target} ({(tgt.size_bytes or 0) // MIB} MiB) will be lost. Type 'yes' to continue: "
        if options.confirm is None or not options.confirm(question):
            raise CreatorError(f"Not confirmed: nothing was written to {target}.")
    # An image file made here is removed unless it was finished (never a file that was there before, nor a block
    # device), last, once no loop device holds it; a second signal does not cut the unwinding short.
    created = not tgt.is_block and not target.exists()
    with contextlib.ExitStack() as stack:
        with signals.deferred("making a work folder"):  # made and registered for removal, or neither
            work = Path(tempfile.mkdtemp(prefix="livecd-iso-to-disk-"))
            stack.callback(fs.remove_tree, work)
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
    device, devs = made.device, made.partitions
    data = next(p for p in layout.partitions if p.mountpoint == "/")
    uuid = made.uuids[data.number]
    mnt = work / "data"
    mnt.mkdir()
    fs.mount(stack, devs[data.number], mnt, fstype="ext4")
    kept = stickpersist.before_copy(mnt, options)
    log.info("Copying the live system to %s", devs[data.number])
    live.extract_all(mnt)
    persisted = stickpersist.after_copy(mnt, label, uuid, options, live.layout, work, kept)
    args = stickpersist.with_args(kernel_args(live.boot.args, uuid, options, live.layout), persisted)
    menu = diskboot.DiskBootMenu(title=f"Start {label}", kernel=live.boot.kernel, initrd=live.boot.initrd,
                                 kernel_args=args, boot_uuid=uuid, grub_dir="/boot/grub2", timeout=_timeout(live))
    # The stick's tree is the ISO's, links included: paths in it are resolved on the stick (boot -> /etc stays).
    rootfs.write_file(mnt, "/boot/grub2/grub.cfg", diskboot.grub_cfg(menu))
    if inroot.is_dir(mnt, "/EFI/BOOT"):
        rootfs.write_file(mnt, "/EFI/BOOT/grub.cfg", diskboot.find_boot_cfg(menu))
    _install_bios_grub(mnt, device, menu, layout.label is DiskLabel.GPT)
    esp = next((p for p in layout.partitions if p.kind is PartKind.EFI), None)
    if esp is not None:
        _fill_esp(live, mnt, devs[esp.number], menu, work)
    run(["sync"], what="Flushing the stick")


def _timeout(live: LiveIso) -> int:
    try:
        text = live.read("/boot/grub2/grub.cfg").decode(errors="replace")
    except CreatorError:
        return 5
    m = re.search(r"^\s*set timeout=(\d+)", text, re.MULTILINE)
    return int(m.group(1)) if m else 5


def _bios_setup_tool() -> str:
    try:
        return find_any_tool(*_GRUB_BIOS_SETUP)
    except CreatorError:
        debian = _HOST_GRUB_PC / "grub-bios-setup"  # Debian keeps it there (grub-pc-bin)
        if debian.is_file():
            return str(debian)
        raise


def _install_bios_grub(mnt: Path, device: str, menu: diskboot.DiskBootMenu, gpt: bool) -> None:
    """GRUB's BIOS core image (finding the data partition by UUID) from the ISO's i386-pc modules, and the boot
    sector, with the host's grub2-mkimage and grub2-bios-setup.  Host tools follow links on the host: they get
    a copy of the modules without links (resolved on the stick), put back into a new folder on it."""
    grubrel = "/boot/grub2/i386-pc"
    staging = mnt.parent / "grub-i386-pc"
    if inroot.is_file(mnt, f"{grubrel}/kernel.img"):
        inroot.copy_out(mnt, grubrel, staging)
    else:
        if not (_HOST_GRUB_PC / "kernel.img").is_file():
            raise CreatorError(
                "The ISO has no GRUB for BIOS (boot/grub2/i386-pc) and neither has this host (install grub-pc-bin "
                "on Debian, grub2-pc-modules on Fedora)."
            )
        log.info("The ISO has no boot/grub2/i386-pc: using the host's GRUB modules")
        shutil.copytree(_HOST_GRUB_PC, staging, ignore=shutil.ignore_patterns("grub-*"))
    tools = diskboot.GrubTools(mkimage=find_any_tool("grub2-mkimage", "grub-mkimage"), setup=_bios_setup_tool())
    (staging / "load.cfg").write_text(diskboot.find_boot_cfg(menu))
    diskboot.make_bios_core(tools, str(staging), str(staging), menu, gpt)
    inroot.remove_tree(mnt, grubrel)
    inroot.makedirs(mnt, grubrel)
    grubdir = rootfs.resolve_in_root(mnt, grubrel)  # a new, real folder on the stick, resolved just now
    shutil.copytree(staging, grubdir, dirs_exist_ok=True)
    device_map = mnt.parent / "device.map"
    device_map.write_text(f"(hd0) {device}\n")
    diskboot.write_bios_boot(tools, str(grubdir), str(device_map), device)


def _efi_dir(live: LiveIso, work: Path) -> Path:
    """The ISO's EFI/BOOT files: from its tree, else from images/efiboot.img."""
    dest = work / "efi"
    if "/EFI/BOOT/BOOTX64.EFI" in live.files:
        # Host tools change and read these files: copied without links, a link in the ISO is refused.
        extracted = work / "efi-iso"
        (extracted / "EFI").mkdir(parents=True)
        live.extract("/EFI/BOOT", extracted / "EFI/BOOT")
        inroot.copy_out(extracted, "/EFI/BOOT", dest, links="refuse")
        return dest
    if "/images/efiboot.img" in live.files:
        img = live.extract("/images/efiboot.img", work / "efiboot.img")
        dest.mkdir()
        run(["mcopy", "-s", "-n", "-i", str(img), "::/EFI/BOOT", str(dest)], env=mtools_env(),
            what="Reading EFI/BOOT from the ISO's efiboot.img")
        return dest / "BOOT"
    raise CreatorError(
        f"'{live.path}' has no UEFI boot files (EFI/BOOT/BOOTX64.EFI or images/efiboot.img): use --noefi."
    )


def _fill_esp(live: LiveIso, mnt: Path, esp_dev: str, menu: diskboot.DiskBootMenu, work: Path) -> None:
    src = _efi_dir(live, work)
    run(["chmod", "-R", "u+w", str(src)], what="Making the EFI files writable")
    (src / "grub.cfg").write_text(diskboot.find_boot_cfg(menu))
    try:
        run(["mmd", "-i", esp_dev, "::/EFI", "::/EFI/BOOT"], env=mtools_env(), what="Making EFI/BOOT on the ESP")
        run(["mcopy", "-s", "-p", "-Q", "-i", esp_dev, *sorted(str(p) for p in src.iterdir()), "::/EFI/BOOT/"],
            env=mtools_env(), what="Copying the UEFI boot files to the ESP")
    except CommandError as exc:
        raise CreatorError(f"Writing the EFI system partition failed: {exc}") from exc
