"""mkbiarch: one bootable disk image holding two live systems (upstream: a 32-bit and a 64-bit x86 live ISO),
chosen from a boot menu.

Upstream's tool (livecd-tools/tools/mkbiarch) makes a raw disk image: an msdos partition table with syslinux's
``mbr.bin``, one bootable partition with ``/x86/LiveOS`` and ``/x64/LiveOS`` (each ISO's ``squashfs.img``),
the kernels as ``vmlinuz0``/``initrd0.img`` and ``vmlinuz1``/``initrd1.img``, and an extlinux menu with one
entry per system (``root=UUID=... live_dir=/x86/LiveOS liveimg``).  Its kernels came from ``isolinux/`` and
its arguments were dracut's of 2010; today's ISOs keep the kernel where their own boot menu says
(``images/pxeboot/`` or ``isolinux/``), and dracut reads ``root=live:UUID=... rd.live.dir=... rd.live.image``.
So the same image is made with today's names: the kernels and arguments are taken from each ISO's own boot
entry (:attr:`imgcreate.media.liveiso.LiveIso.boot`).

The partition is FAT, installed with ``syslinux`` and filled with mtools, so nothing is mounted and no
partition device is needed (this CI's kernel has neither vfat nor partition tables on loop devices); the image
is written to ``TARGET.partial`` and renamed when complete, so an error or Ctrl-C leaves no half image.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from imgcreate.errors import CreatorError
from imgcreate.host import fs, signals
from imgcreate.host.run import clean_env, find_tool, run
from imgcreate.media.liveiso import Layout, LiveIso, read_live_iso

log = logging.getLogger("imgcreate")

DIRS = ("x86", "x64")  # upstream's folder names, for the first and the second ISO
_SECTOR = 512
_START = 2048  # the partition's first sector (1 MiB)
_SPARE_MIB = 200  # upstream adds 102400 blocks of 2 KiB to the ISOs' sizes
_FAT_MAX = (1 << 32) - 1
_SYSLINUX_DIRS = ("/usr/lib/syslinux/modules/bios", "/usr/share/syslinux", "/usr/lib/syslinux")
_MBR = ("/usr/lib/syslinux/mbr/mbr.bin", "/usr/share/syslinux/mbr.bin", "/usr/lib/syslinux/mbr.bin")


@dataclass(frozen=True)
class System:
    """One live system on the image: its ISO, its folder, and its kernel's names on the image."""

    live: LiveIso
    folder: str
    index: int

    @property
    def kernel(self) -> str:
        return f"vmlinuz{self.index}"

    @property
    def initrd(self) -> str:
        return f"initrd{self.index}.img"


def mkbiarch(first: Path, second: Path, target: Path) -> None:
    """Make *target*, a disk image booting either live ISO from a menu; refuses before writing anything."""
    tools = {t: find_tool(t) for t in ("sfdisk", "mkfs.fat", "syslinux", "mcopy", "mmd")}
    systems = [System(_check_iso(iso), folder, i) for i, (iso, folder) in enumerate(zip((first, second), DIRS))]
    mbr = next((Path(p) for p in _MBR if Path(p).is_file()), None)
    if mbr is None:
        raise CreatorError(f"syslinux's mbr.bin is not on this host (looked in {', '.join(_MBR)}): install "
                           "syslinux (syslinux-common on Debian).")
    if target.is_dir() or (target.exists() and not target.is_file()):
        raise CreatorError(f"The target '{target}' exists and is not a file.")
    payload = sum(s.live.path.stat().st_size for s in systems)
    size_mib = payload // (1 << 20) + _SPARE_MIB
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    with signals.temporary_directory("mkbiarch-") as work, contextlib.ExitStack() as undo:
        undo.callback(_unlink, partial)
        fs.make_sparse(partial, (size_mib << 20))
        run([tools["sfdisk"], "--quiet", "--label", "dos", str(partial)], input=f"start={_START}, type=c, bootable\n",
            what=f"Partitioning {partial}")
        with open(mbr, "rb") as src, open(partial, "r+b") as dst:
            dst.write(src.read(440))  # the boot code only: the partition table after it stays
        serial = secrets.token_hex(4).upper()
        part_kib = (size_mib << 10) - _START * _SECTOR // 1024
        run([tools["mkfs.fat"], "-F", "32", "-n", "LIVE", "-i", serial, f"--offset={_START}", str(partial),
             str(part_kib)], what="Making the FAT filesystem")
        uuid = f"{serial[:4]}-{serial[4:]}"
        image = f"{partial}@@{_START * _SECTOR}"
        mtools = {**clean_env(), "MTOOLS_SKIP_CHECK": "1"}
        run([tools["mmd"], "-i", image, "::/syslinux", *(f"::/{s.folder}" for s in systems),
             *(f"::/{s.folder}/LiveOS" for s in systems)], env=mtools, what="Making the folders")
        for system in systems:
            _copy_system(system, work, image, tools["mcopy"], mtools)
        config = work / "syslinux.cfg"
        config.write_text(syslinux_config(systems, uuid, _menu_module(work, image, tools["mcopy"], mtools)))
        run([tools["mcopy"], "-i", image, str(config), "::/syslinux/syslinux.cfg"], env=mtools,
            what="Writing the boot menu")
        run([tools["syslinux"], "--offset", str(_START * _SECTOR), "--directory", "/syslinux", "--install",
             str(partial)], what="Installing syslinux")
        os.replace(partial, target)
        undo.pop_all()
    log.info("%s holds %s and %s (filesystem UUID %s)", target, first, second, uuid)


def _check_iso(iso: Path) -> LiveIso:
    live = read_live_iso(iso)
    if live.layout is Layout.ROOTFS_ON_ISO:
        raise CreatorError(f"'{iso}' keeps its root as LiveOS/rootfs.img, not LiveOS/squashfs.img: mkbiarch "
                           "copies each ISO's squashfs.img.")
    if not (live.boot.kernel and live.boot.initrd):
        raise CreatorError(f"'{iso}' has no boot entry naming a kernel and an initrd (GRUB or isolinux menu).")
    return live


def _copy_system(system: System, work: Path, image: str, mcopy: str, env: dict[str, str]) -> None:
    """One ISO's squashfs.img, kernel and initrd onto the image (extracted first: mtools reads files)."""
    live = system.live
    for path, dest in (("/LiveOS/squashfs.img", f"::/{system.folder}/LiveOS/squashfs.img"),
                       (live.boot.kernel, f"::/syslinux/{system.kernel}"),
                       (live.boot.initrd, f"::/syslinux/{system.initrd}")):
        local = live.extract(path, work / Path(path).name)
        if local.stat().st_size > _FAT_MAX:
            raise CreatorError(f"{path} of '{live.path}' is larger than 4 GiB, more than a FAT file can hold.")
        run([mcopy, "-i", image, str(local), dest], env=env, what=f"Copying {path} of {live.path}")
        local.unlink()


def _menu_module(work: Path, image: str, mcopy: str, env: dict[str, str]) -> bool:
    """syslinux's menu.c32 (and the libutil.c32 it needs) from the host, if it has them: a menu to pick from,
    else syslinux's plain prompt (type the label)."""
    for folder in _SYSLINUX_DIRS:
        found = [Path(folder) / name for name in ("menu.c32", "libutil.c32")]
        if all(p.is_file() for p in found):
            for module in found:
                run([mcopy, "-i", image, str(module), f"::/syslinux/{module.name}"], env=env,
                    what=f"Copying {module.name}")
            return True
    return False


def syslinux_config(systems: list[System], uuid: str, menu: bool) -> str:
    """The boot menu: one entry per system, the ISO's own kernel arguments with the live root on this disk."""
    lines = ["UI menu.c32" if menu else "PROMPT 1", "TIMEOUT 100", f"DEFAULT {systems[0].folder}",
             "MENU TITLE mkbiarch", ""]
    for system in systems:
        label = system.live.label or system.live.path.name
        extra = system.live.boot.args_without("root=", "rd.live.dir=", "rd.live.image", "rd.live.check",
                                              "live_dir=", "liveimg", "initrd=")
        args = f"root=live:UUID={uuid} rd.live.dir=/{system.folder}/LiveOS rd.live.image {extra}".strip()
        lines += [f"LABEL {system.folder}", f"  MENU LABEL {label} ({system.folder})", f"  KERNEL {system.kernel}",
                  f"  APPEND initrd={system.initrd} {args}", ""]
    return "\n".join(lines)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
