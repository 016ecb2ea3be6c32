"""livecd-iso-to-disk's writing of one partition: the live files onto a FAT or ext filesystem (keeping the
other files on it, as upstream's non-destructive mode), GRUB's BIOS boot code, and the UEFI files.

An ext filesystem is mounted and written in place.  A FAT one is never mounted: the hosts this runs on may have
no vfat driver (a container's or CI machine's kernel), so its files are put together in a host folder and
copied on with mtools, which needs none.  Either way only what the ISO brings is replaced, each whole
(``LiveOS/``, in ``--livedir``'s folder, with every file the old system left there; ``images/``,
``boot/grub2/``, ``EFI/BOOT/``, ... the ISO's own top-level entries, ``EFI`` and ``boot`` one level down);
everything else on the partition stays.

GRUB's core image is made and written (``grub2-bios-setup``) from a small staging filesystem of its own on a
loop device: grub2-bios-setup insists on finding the disk of its ``--directory`` in its device map, which a
folder on the host's own disk, or a FAT partition that cannot be mounted, never is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from imgcreate.boot import diskboot, grubpc
from imgcreate.disk.layout import MIB
from imgcreate.errors import CommandError, CreatorError
from imgcreate.host import fs
from imgcreate.host.run import find_any_tool, mtools_env, run
from imgcreate.media.liveiso import LiveIso
from imgcreate.storage import inroot, rootfs

log = logging.getLogger("imgcreate")

_GRUB_BIOS_SETUP = ("grub2-bios-setup", "grub-bios-setup")
_NESTED = ("EFI", "boot")  # replaced one level down: EFI/BOOT and boot/grub2, not another system's EFI/fedora
_STAGING_MIB = 32
LIVEOS = "LiveOS"  # the ISO's live folder; on the stick it is --livedir's


@dataclass(frozen=True)
class Stick:
    """The partition being written: its device, the whole disk's, its filesystem and how it is named."""

    disk: str  # the whole disk (a loop device for an image file): GRUB's boot code goes in its MBR
    part: str
    fstype: str  # "vfat" or ext2/ext3/ext4
    label: str
    uuid: str
    gpt: bool

    @property
    def fat(self) -> bool:
        return self.fstype == "vfat"


def open_root(stack: contextlib.ExitStack, stick: Stick, work: Path) -> Path:
    """Where the stick's files are written: the ext filesystem mounted, or a host folder copied onto the FAT
    filesystem at the end (:func:`copy_to_fat`)."""
    root = work / "data"
    root.mkdir()
    if not stick.fat:
        fs.mount(stack, stick.part, root, fstype=stick.fstype)
    return root


def replaced_paths(live: LiveIso, livedir: str = LIVEOS) -> list[str]:
    """What the ISO brings, as paths on the stick that are replaced whole (the live folder, ``images``,
    ``EFI/BOOT``, ``boot/grub2``, top-level files).  The ISO's ``LiveOS`` lands in *livedir* (``--livedir``): that
    folder is replaced, with every file the old system left in it (upstream's ``rm -rf $LIVEOS``), and a
    ``/LiveOS`` of another system stays."""
    found: set[str] = set()
    for f in live.files:
        parts = f.strip("/").split("/")
        depth = 2 if parts[0] in _NESTED and len(parts) > 2 else 1
        found.add(livedir if parts[0] == LIVEOS else "/".join(parts[:depth]))
    return sorted(found)


def free_bytes(root: Path, stick: Stick, live: LiveIso, livedir: str = LIVEOS) -> int:
    """The room the live system may take: the filesystem's free space and what the ISO's files replace."""
    if stick.fat:
        out = run(["mdir", "-i", stick.part, "::/"], env=mtools_env(), check=False,
                  what=f"Reading the free space on {stick.part}").stdout
        free = next((int(line.split("bytes free")[0].replace(" ", "")) for line in out.splitlines()
                     if "bytes free" in line), 0)
        return free + sum(_fat_size(stick.part, p) for p in replaced_paths(live, livedir))
    st = os.statvfs(root)
    return st.f_bavail * st.f_frsize + sum(fs.tree_bytes(rootfs.host_path(root, "/" + p))
                                           for p in replaced_paths(live, livedir))


def _fat_size(part: str, path: str) -> int:
    out = run(["mdu", "-s", "-i", part, f"::/{path}"], env=mtools_env(), check=False,
              what=f"Sizing {path} on {part}").stdout.split()
    return int(out[-1]) * 512 if out and out[-1].isdigit() else 0


def has_live_system(root: Path, stick: Stick, livedir: str = LIVEOS) -> bool:
    """Whether the partition holds a live system in *livedir* already."""
    if stick.fat:
        return run(["mdir", "-b", "-i", stick.part, f"::/{livedir}"], env=mtools_env(), check=False,
                   what=f"Looking for {livedir} on {stick.part}").returncode == 0
    return inroot.is_dir(root, f"/{livedir}")


def remove_replaced(root: Path, stick: Stick, live: LiveIso, livedir: str = LIVEOS) -> None:
    """The previous live system's files (an ext stick; a FAT one is cleared by :func:`copy_to_fat`)."""
    if not stick.fat:
        for p in replaced_paths(live, livedir):
            inroot.remove_tree(root, "/" + p)


def copy_to_fat(tree: Path, stick: Stick, live: LiveIso, replace: bool = True, livedir: str = LIVEOS) -> None:
    """The files put together in *tree* onto the FAT partition with mtools, folder by folder: with *replace*
    each path the ISO brings (its ``LiveOS`` as *livedir*) is deleted there first, the old live folder with
    every file in it; the rest of the partition is left as it is."""
    env = mtools_env()
    part = stick.part
    if replace:
        for p in replaced_paths(live, livedir):
            run(["mdeltree", "-i", part, f"::/{p}"], env=env, check=False, what=f"Removing the old {p} on {part}")
            run(["mdel", "-i", part, f"::/{p}"], env=env, check=False, what=f"Removing the old {p} on {part}")
            if run(["mdir", "-b", "-i", part, f"::/{p}"], env=env, check=False,
                   what=f"Checking {p} is gone from {part}").returncode == 0:
                raise CreatorError(f"The old /{p} on {part} could not be removed (mdeltree), so the new live "
                                   "system was not copied (its home and overlay stay); check the FAT filesystem "
                                   "(fsck.vfat) and run again.")
    log.info("Copying the live system to %s", part)
    try:
        for folder, _dirs, files in sorted(os.walk(tree)):
            rel = Path(folder).relative_to(tree).as_posix()
            dest = "::/" if rel == "." else f"::/{rel}/"
            if rel != ".":
                run(["mmd", "-i", part, dest.rstrip("/")], env=env, check=False, what=f"Making {rel} on {part}")
            links = [f for f in files if (Path(folder) / f).is_symlink()]
            if links:  # FAT holds no links, and mcopy would read what a link names on the host
                log.warning("not copied to the FAT filesystem (symbolic links): %s",
                            ", ".join(f"{rel}/{f}" for f in sorted(links)))
            files = [f for f in files if f not in links]
            if files:
                run(["mcopy", "-p", "-Q", "-o", "-D", "o", "-i", part,
                     *(str(Path(folder) / f) for f in sorted(files)), dest], env=env,
                    what=f"Copying {rel} to {part}")
    except CommandError as exc:
        raise CreatorError(f"Copying the live system to the FAT filesystem on {part} failed: {exc}") from exc


def expand_rootfs(root: Path, live: LiveIso) -> None:
    """--skipcompress: ``LiveOS/squashfs.img`` replaced by the ``LiveOS/rootfs.img`` inside it, which dracut
    boots uncompressed (no decompression at run time, more space).  A flat squashfs has no such image."""
    squash = rootfs.host_path(root, "/LiveOS/squashfs.img")
    if not squash.is_file():
        log.warning("--skipcompress: the ISO has no LiveOS/squashfs.img; its root image is copied as it is")
        return
    out = squash.parent / ".unsquashed"  # on the stick: the image is moved, not copied, into place
    try:
        run(["unsquashfs", "-no-progress", "-f", "-d", str(out), str(squash), "LiveOS/rootfs.img"],
            what="Expanding the root filesystem image (--skipcompress)")
    except CommandError as exc:
        raise CreatorError(f"--skipcompress: the squashfs image could not be expanded: {exc}") from exc
    inner = out / "LiveOS/rootfs.img"
    if not inner.is_file():
        log.warning("--skipcompress: the squashfs holds no LiveOS/rootfs.img (a flat root); it is copied compressed")
        return
    shutil.move(str(inner), str(rootfs.host_path(root, "/LiveOS/rootfs.img")))
    shutil.rmtree(out)
    squash.unlink()
    log.info("LiveOS/rootfs.img expanded from the squashfs (--skipcompress)")


def _bios_setup_tool() -> str:
    try:
        return find_any_tool(*_GRUB_BIOS_SETUP)
    except CreatorError:
        debian = Path(grubpc.GRUB_PC_DIR) / "grub-bios-setup"  # Debian keeps it there (grub-pc-bin)
        if debian.is_file():
            return str(debian)
        raise


def install_bios_grub(stack: contextlib.ExitStack, root: Path, stick: Stick, menu: diskboot.DiskBootMenu,
                      work: Path, *, required: bool = True) -> None:
    """GRUB's BIOS core image (finding the data partition by UUID) from the ISO's i386-pc modules (the host's
    when *root* has none), its boot sector into the disk's MBR, and the modules to ``boot/grub2/i386-pc`` in
    *root*.  Host tools follow links on the host: they get a copy of the modules without links.  Without
    *required* (a partition of a disk that is not repartitioned) a disk GRUB cannot embed its core in (a GPT
    without a BIOS boot partition) is a warning: the stick then boots with UEFI only."""
    grubrel = grubpc.MEDIA_GRUB_PC_DIR
    image = work / "grub-staging.img"
    fs.make_sparse(image, _STAGING_MIB * MIB)
    fs.mkfs_ext(str(image), "ext4", "grubstage")
    loop = fs.attach_loop(stack, image, scratch=True)
    mnt = work / "grub-staging"
    mnt.mkdir()
    fs.mount(stack, loop, mnt, fstype="ext4")
    staging = mnt / "i386-pc"
    if inroot.is_file(root, f"{grubrel}/kernel.img"):
        inroot.copy_out(root, grubrel, staging)
    else:
        host = grubpc.host_modules()
        if host is None:
            raise CreatorError(
                "The ISO has no GRUB for BIOS (boot/grub2/i386-pc) and neither has this host (install grub-pc-bin "
                "on Debian, grub2-pc-modules on Fedora)."
            )
        log.info("Using the host's GRUB modules for BIOS booting")
        shutil.copytree(host, staging, ignore=shutil.ignore_patterns("grub-*"))
    tools = diskboot.GrubTools(mkimage=find_any_tool("grub2-mkimage", "grub-mkimage"), setup=_bios_setup_tool())
    (staging / "load.cfg").write_text(diskboot.find_boot_cfg(menu))
    diskboot.make_bios_core(tools, str(staging), str(staging), menu, stick.gpt)
    device_map = work / "device.map"
    device_map.write_text(f"(hd0) {stick.disk}\n(hd1) {loop}\n")
    try:
        diskboot.write_bios_boot(tools, str(staging), str(device_map), stick.disk)
    except CommandError as exc:
        if required:
            raise
        log.warning("GRUB's BIOS boot code could not be written to %s (%s): the stick boots with UEFI only",
                    stick.disk, exc)
    inroot.remove_tree(root, grubrel)
    inroot.makedirs(root, grubrel)
    shutil.copytree(staging, rootfs.resolve_in_root(root, grubrel), dirs_exist_ok=True)


def efi_dir(live: LiveIso, work: Path) -> Path:
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
        f"'{live.path}' has no UEFI boot files (EFI/BOOT/BOOTX64.EFI or images/efiboot.img): use --noesp."
    )


def fill_esp(live: LiveIso, esp_dev: str, menu: diskboot.DiskBootMenu, work: Path) -> None:
    """The EFI system partition (``--format`` without ``--noesp``): the ISO's EFI/BOOT and a grub.cfg that
    finds the data partition by UUID."""
    src = efi_dir(live, work)
    run(["chmod", "-R", "u+w", str(src)], what="Making the EFI files writable")
    (src / "grub.cfg").write_text(diskboot.find_boot_cfg(menu))
    try:
        run(["mmd", "-i", esp_dev, "::/EFI", "::/EFI/BOOT"], env=mtools_env(), what="Making EFI/BOOT on the ESP")
        run(["mcopy", "-s", "-p", "-Q", "-i", esp_dev, *sorted(str(p) for p in src.iterdir()), "::/EFI/BOOT/"],
            env=mtools_env(), what="Copying the UEFI boot files to the ESP")
    except CommandError as exc:
        raise CreatorError(f"Writing the EFI system partition failed: {exc}") from exc
