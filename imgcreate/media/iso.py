"""Mastering the ISO: the EFI boot image, xorrisofs (hybrid MBR + GPT), and the implanted md5 checksum."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from imgcreate.host import fs
from imgcreate.host.meter import meter, watch_growing, watch_reading
from imgcreate.host.run import find_tool, progress_on_terminal, run
from imgcreate.storage import reproducible

log = logging.getLogger("imgcreate")

_ESP_GUID = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
_BASIC_DATA_GUID = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"


def make_efiboot(image: Path, files: dict[str, Path], epoch: int | None = None) -> None:
    """Make a FAT image holding *files* (path in the image, e.g. "EFI/BOOT/BOOTX64.EFI" -> source).

    The image is sized from its content, with room for FAT structures, so it stays small.  *epoch*: a
    reproducible build's (its volume id is derived from it, its files' times clamped to it).
    """
    total = sum(src.stat().st_size for src in files.values())
    size_kib = max(2048, (total * 11 // 10) // 1024 + 1024)
    size_kib += (-size_kib) % 1024
    if image.exists():
        image.unlink()
    if epoch is not None:  # some were written during the build (grub.cfg), others copied from the root
        for src in files.values():
            reproducible.clamp_mtimes(src, epoch)
    # Reproducible: no random volume id (derived from the epoch), dates from $SOURCE_DATE_EPOCH, which mtools
    # honours too; -m keeps each file's (clamped) time instead of the clock's.
    invariant = ["--invariant", "-i", reproducible.derived_uuid("efiboot", epoch)[:8]] if epoch is not None else []
    run(["mkfs.vfat", *invariant, "-n", "ANACONDA", "-C", str(image), str(size_kib)],
        what="Creating the EFI boot image")
    made: set[str] = set()
    for dest in sorted(files):
        parts = dest.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in made:
                run(["mmd", "-i", str(image), f"::/{d}"], what="Creating a directory in the EFI boot image")
                made.add(d)
        run(["mcopy", "-m", "-i", str(image), str(files[dest]), f"::/{dest}"],
            what="Copying into the EFI boot image")


class BiosBootloader(str, Enum):
    """What boots the ISO on BIOS: GRUB 2 (Fedora's layout since 37) or isolinux (``--syslinux``)."""

    GRUB2 = "grub2"
    SYSLINUX = "syslinux"
    NONE = "none"  # no BIOS boot: UEFI's El Torito entry alone (aarch64 and the other UEFI-only machines)

    @property
    def eltorito_image(self) -> str:
        """The El Torito boot image's path on the ISO."""
        return "isolinux/isolinux.bin" if self is BiosBootloader.SYSLINUX else "images/eltorito.img"

    @property
    def catalog(self) -> str:
        return "isolinux/boot.cat" if self is BiosBootloader.SYSLINUX else "boot.cat"


@dataclass(frozen=True)
class BootMedia:
    """What a live build's boot configuration step made, for mastering the ISO: the BIOS boot loader, the EFI
    boot image's path in the ISO tree (None: no UEFI boot), and the hybrid MBR boot code taken from the image
    (None: the ISO does not boot from a USB stick on BIOS)."""

    bios: BiosBootloader
    efiboot: str | None
    mbr: bytes | None


@dataclass(frozen=True)
class IsoSpec:
    """Everything mastering needs: the tree, the volume id and how the result boots.

    *mbr* is the hybrid MBR boot code (GRUB's boot_hybrid.img or syslinux's isohdpfx.bin) so the ISO also boots
    from a USB stick on BIOS; *efiboot* the FAT image's path inside *tree* for UEFI, or None.
    """

    tree: Path
    volume_id: str
    bios: BiosBootloader
    mbr: Path | None = None
    efiboot: str | None = None
    epoch: int | None = None  # a reproducible build's: the tree's times are clamped to it
    extra_args: tuple[str, ...] = ()  # more xorrisofs options (upstream's _get_xorrisofs_options hook)


def master_iso(spec: IsoSpec, output: Path) -> None:
    """Write *spec*'s tree to *output* as a hybrid ISO (BIOS El Torito + UEFI El Torito, MBR and GPT for USB)."""
    # xorrisofs, run as "xorriso -as mkisofs" for two settings its emulation lacks: by default xorriso fsyncs
    # its output every 16 MiB (-stdio_sync), and looks whether the write has ended only once a second
    # (-pacifier), which made mastering take 0.9-1.3 s instead of 0.1 s.  -no_rc: no host startup files.
    label = spec.volume_id
    epoch = spec.epoch
    if epoch is not None:  # xorriso takes the volume dates and GPT GUIDs from $SOURCE_DATE_EPOCH, file dates as is
        reproducible.clamp_mtimes(spec.tree, epoch)
    args = ["xorriso", "-no_rc", "-stdio_sync", "off", "-pacifier", "interval=0.1", "-as", "mkisofs",
            "-output", str(output), "-iso-level", "3", "-rational-rock", "-joliet",
            "-joliet-long", "-volid", label, "-appid", label[:128], "-publisher", "livecd-tools",
            *_boot_args(spec), *spec.extra_args, str(spec.tree)]
    find_tool("xorriso")
    show = progress_on_terminal()
    with meter(f"Writing {output.name}", fs.tree_bytes(spec.tree) if show else 0, show=show) as m:
        run(args, what="Mastering the ISO image", watch=watch_growing(output, m))
    os.chmod(output, 0o644)



def _boot_args(spec: IsoSpec) -> list[str]:
    if spec.bios is BiosBootloader.NONE:
        # UEFI alone, as lorax masters aarch64 media: the EFI El Torito entry, and the same FAT image as a GPT
        # EFI System partition, so the ISO written to a stick boots too.
        return [] if not spec.efiboot else [
            "-eltorito-catalog", "boot.cat", "-e", spec.efiboot, "-no-emul-boot",
            "-appended_part_as_gpt", "-append_partition", "2", _ESP_GUID, str(spec.tree / spec.efiboot)]
    grub = spec.bios is BiosBootloader.GRUB2
    args: list[str] = []
    if grub and spec.mbr:
        # GRUB's hybrid MBR, and a GPT whose EFI System partition is the EFI boot image (as lorax does), so
        # the ISO written to a USB stick boots on BIOS and UEFI.
        args += ["--grub2-mbr", str(spec.mbr), "-partition_offset", "16"]
        if spec.efiboot:
            args += ["-appended_part_as_gpt", "-append_partition", "2", _ESP_GUID, str(spec.tree / spec.efiboot),
                     "-iso_mbr_part_type", _BASIC_DATA_GUID]
    args += ["-eltorito-boot", spec.bios.eltorito_image, "-no-emul-boot", "-boot-load-size", "4",
             "-boot-info-table", "-eltorito-catalog", spec.bios.catalog]
    if grub:
        args += ["--grub2-boot-info"]
    elif spec.mbr:
        args += ["-isohybrid-mbr", str(spec.mbr)]
    if spec.efiboot:
        args += ["-eltorito-alt-boot", "-e", spec.efiboot, "-no-emul-boot"]
        if not grub:
            args += ["-isohybrid-gpt-basdat"]
    return args


def implant_md5(iso: Path) -> None:
    """Implant the md5 checksum that "Test this media" (rd.live.check / checkisomd5) verifies."""
    with meter(f"Implanting the checksum of {iso.name}", iso.stat().st_size) as m:
        run(["implantisomd5", str(iso)], what="Implanting the ISO checksum", watch=watch_reading(iso, m))
