"""LiveImageCreator: the live ISO that the distribution's dracut dmsquash-live boots, as Fedora's live media.

Layout of the ISO (Fedora 37 and later; ``--syslinux`` gives the older isolinux/ layout)::

    LiveOS/squashfs.img       LiveOS/rootfs.img inside (the ext4 image), or the root tree (--flat-squashfs);
                              EROFS instead of squashfs with --rootfs-type erofs / erofs-ext4 (lorax's names)
    images/pxeboot/vmlinuz    the kernel and initramfs found through the image's rpm database
    images/pxeboot/initrd.img
    images/eltorito.img       GRUB 2 core image for BIOS El Torito (made from the image's i386-pc modules)
    images/efiboot.img        FAT image with EFI/BOOT for UEFI El Torito
    boot/grub2/grub.cfg       BIOS GRUB menu;  EFI/BOOT/grub.cfg: the same menu for UEFI
    EFI/BOOT/BOOTX64.EFI      shim (or GRUB) and grubx64.efi from the image's /boot/efi

Boot loader files always come from the image being built, as the target distribution ships them; only
``grub2-mkimage`` may come from the host when the image lacks it.

Settings are upstream's attributes (``compress_args``/``compression_type``, ``skip_compression``,
``skip_minimize``, ``BIOSbooter``, ``skip_hfs``, ``dracut_conf_args``, ``_alt_initrd_name``, ``title``,
``product``...), set as constructor keywords or afterwards until ``mount()``, which freezes them into
``build_config.live`` (:class:`imgcreate.config.model.LiveConfig`); the build reads only that.  Where the root
lives, how it is packed and how the medium is mastered are parts chosen from it: the root storage (a directory
for a flat root, else the ext image), the :class:`~imgcreate.pack.Packer` of its ``rootfs_type``, and the ISO's
BIOS boot loader.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from imgcreate import kickstart
from imgcreate.boot import bootloader, dracutconf, efi, isoboot, kernels
from imgcreate.build import incremental
from imgcreate.build.artifacts import Artifact, ArtifactKind, Firmware
from imgcreate.config import parse
from imgcreate.config.model import LiveConfig
from imgcreate.creator import LoopImageCreator
from imgcreate.errors import CreatorError
from imgcreate.host.run import find_any_tool
from imgcreate.media import baseiso, iso
from imgcreate.media.iso import BiosBootloader, BootMedia
from imgcreate.pack import Packer, PackOps, RootfsType, pack_image_tree
from imgcreate.storage import inroot, rootfs
from imgcreate.storage.roots import DirectoryRoot, RootStorage
from imgcreate.strpath import StrPath

log = logging.getLogger("imgcreate")

DRACUT_CONF = "/etc/dracut.conf.d/99-liveos.conf"
DEFAULT_COMPRESSION = parse.DEFAULT_COMPRESSION  # upstream 31's default
# lorax's --rootfs-type values: the compressed image (squashfs or EROFS) holds the root tree or an ext4 rootfs.img.
ROOTFS_TYPES = RootfsType.names()


class LiveImageCreator(LoopImageCreator):
    """Builds ``<name>.iso``: a hybrid live ISO booting on BIOS and UEFI, from CD or USB stick."""

    def __init__(
        self,
        ks: kickstart.KickstartHandler,
        name: str,
        fslabel: str | None = None,
        releasever: str | None = None,
        tmpdir: str | os.PathLike[str] = "/var/tmp",
        title: str | None = None,
        product: str | None = None,
        useplugins: bool = False,
        cacheonly: bool = False,
        docleanup: bool = True,
        compression_type: str | None = DEFAULT_COMPRESSION,
        flat_squashfs: bool = False,
        skip_minimize: bool = False,
        syslinux: bool = False,
        dracut_conf_args: str = "",
        skip_compression: bool = False,
        rootfs_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(ks, name, fslabel=fslabel, releasever=releasever, tmpdir=tmpdir, useplugins=useplugins,
                         cacheonly=cacheonly, docleanup=docleanup, **kwargs)
        self.product = product or "Linux"
        self.title = title or self.product
        # None (or upstream's command-line spelling "None"): the base ISO's compressor, else the default.
        self.compression_type = compression_type
        self.rootfs_type = rootfs_type  # lorax's name; None: squashfs-ext4, or squashfs with flat_squashfs
        self.flat_squashfs = flat_squashfs  # the root tree itself, no rootfs.img
        self.skip_minimize = skip_minimize
        self.skip_compression = skip_compression  # the ext image on the ISO as LiveOS/rootfs.img, as upstream
        self.BIOSbooter: str = (BiosBootloader.SYSLINUX if syslinux else BiosBootloader.GRUB2).value  # upstream
        self.skip_hfs = False  # upstream's: no Mac HFS+ boot image (none is made here: accepted)
        self.dracut_conf_args = dracut_conf_args
        self.base_on = False  # upstream's: set when the install root is mounted
        self._alt_initrd_name: str | None = None  # upstream's: /boot/<name> is the initrd (default: the kernel's)
        # upstream's: the kernel package the menu boots when several are installed (bootloader --default)
        self._default_kernel: str = kickstart.get_default_kernel(ks, "kernel") or "kernel"
        self._base_root: Path | None = None  # what _base_on took from the base ISO for the root to start from
        self._boot_media: BootMedia | None = None
        self._menu: bootloader.BootMenu | None = None
        self._dracut: dracutconf.DracutSettings | None = None  # the live dracut modules this build uses
        self._base_compression: str | None = None  # the --base-on ISO's compressor, read at mount()
        self._make_config()  # bad settings fail at construction too (every one at once)

    # -- settings (upstream's attribute names) ----------------------------------------------------------------------
    _isofstype = "iso9660"  # upstream's: the medium's filesystem
    _base_on_copies_image = False  # its _base_on takes the base ISO (called by its own _mount_instroot)

    @property
    def _timeout(self) -> int:
        """The boot menu's timeout in seconds: ``bootloader --timeout``, else 10 (upstream's)."""
        return self.config.bootloader.timeout_or(10)

    @property
    def compress_args(self) -> str | None:
        """Upstream's name of ``compression_type``: the squashfs compressor and its options."""
        return self.compression_type

    @compress_args.setter
    def compress_args(self, value: str | None) -> None:
        self.compression_type = value

    compress_type = compress_args  # the name older upstream releases used

    @property
    def productname(self) -> str:
        return self.product

    @productname.setter
    def productname(self, value: str) -> None:
        self.product = value

    def _config_sections(self) -> dict[str, Any]:
        raw = parse.RawLive(
            rootfs_type=None if self.rootfs_type is None else str(self.rootfs_type), flat_squashfs=self.flat_squashfs,
            compression=self.compression_type, skip_compression=self.skip_compression,
            skip_minimize=self.skip_minimize, dracut_conf_args=self.dracut_conf_args, bios=self.BIOSbooter,
            title=self.title, product=self.product, alt_initrd_name=self._alt_initrd_name, skip_hfs=self.skip_hfs,
            default_kernel=self._default_kernel)
        return {**super()._config_sections(), "live": raw}

    @property
    def _live(self) -> LiveConfig:
        live = self.build_config.live
        assert live is not None
        return live

    @property
    def packer(self) -> Packer:
        """How the root is packed (squashfs or EROFS), from the settings' ``rootfs_type``."""
        return self._live.rootfs_type.packer

    @property
    def bios(self) -> BiosBootloader:
        """The ISO's BIOS boot loader; none on machines without BIOS (aarch64: UEFI alone, as upstream)."""
        return self._live.bios if self.build_config.basearch in ("x86_64", "i386") else BiosBootloader.NONE

    @property
    def dracut(self) -> dracutconf.DracutSettings:
        """The live initramfs' dracut settings (the modules the image lacks left out once configured)."""
        return self._dracut if self._dracut is not None else self._live.dracut

    def _compression(self) -> str | None:
        """What the packer compresses with: the setting, else the --base-on ISO's, else xz; None: uncompressed."""
        chosen = self._live.compression
        if chosen is None:
            return self._base_compression or DEFAULT_COMPRESSION
        return chosen.packer_arg

    # -- paths -------------------------------------------------------------------------------------------------
    @property
    def _isodir(self) -> Path:
        return self._require_builddir() / "iso"

    @property
    def _kernel_dir(self) -> str:
        return "/isolinux" if self.bios is BiosBootloader.SYSLINUX else "/images/pxeboot"

    # -- checks ------------------------------------------------------------------------------------------------
    def check_host_tools(self) -> None:
        super().check_host_tools()
        self._check_compression()

    def _host_tools(self) -> list[str]:
        return [*super()._host_tools(), self.packer.tool, "xorriso", "implantisomd5", "mkfs.vfat", "mmd", "mcopy"]

    def _check_compression(self) -> None:
        """-s compresses nothing: the default compressor (xz, which erofs-utils < 1.6 lacks) is not checked."""
        live = self._live
        if not live.skip_compression:
            self.packer.check(live.compression.packer_arg if live.compression is not None else None)

    # -- hooks -------------------------------------------------------------------------------------------------
    def _get_required_packages(self) -> list[str]:
        """The boot loader packages the chosen layout takes its files from (Fedora/EL names)."""
        bios = {BiosBootloader.SYSLINUX: ["syslinux"], BiosBootloader.GRUB2: ["grub2-pc-modules"]}.get(self.bios, [])
        x = efi.efi_arch(self.build_config.arch)
        return [*bios, f"grub2-efi-{x}-cdboot", f"shim-{x}"]

    def _get_kernel_options(self) -> str:
        base = f"root=live:CDLABEL={self._loop.fslabel} rootfstype=auto ro rd.live.image"
        if self._live.flat:
            base += " rd.live.overlay.overlayfs=1"
        return self.config.bootloader.kernel_args(f"{base} quiet rhgb")

    def _root_storage(self) -> RootStorage:
        """The root tree itself for --flat-squashfs, else the ext image that becomes LiveOS/rootfs.img."""
        return DirectoryRoot() if self._live.flat else super()._root_storage()

    def _fstab_root(self) -> str:
        fstype = self.packer.fstype if self._live.flat else self._loop.fstype
        return f"/dev/root  /  {fstype}  defaults,noatime  0 0\n"

    def _get_post_scripts_env(self, in_chroot: bool) -> dict[str, str]:
        env = dict(super()._get_post_scripts_env(in_chroot))
        if not in_chroot and self.builddir is not None:
            env["LIVE_ROOT"] = str(self._isodir)
        return env

    def _base_on(self, base_on: str) -> None:
        """Upstream's: take what this build starts from out of the live ISO *base_on* (``_mount_instroot`` calls
        it with mount()'s base_on).  The ISO's root (LiveOS/rootfs.img or ext3fs.img in its squashfs.img, a flat
        squashfs's tree, or a bare LiveOS/rootfs.img: :mod:`imgcreate.media.baseiso`) is what the install root
        starts from, its ``isolinux/initrd<N>.img`` and ``xen<N>.gz`` go to the new ISO's ``isolinux/``, and
        without a compression setting (``compress_args`` None) its squashfs's compressor is used."""
        base = baseiso.read_base_iso(Path(base_on), self._require_builddir() / "base")
        baseiso.copy_isolinux_extras(Path(base_on), self._isodir)
        if self._live.compression is None:
            self._base_compression = base.compression
            log.info("compressing with %s, as the base ISO", self._compression())
        self._base_root = base.root

    def _mount_instroot(self, base_on: str | None = None) -> None:
        self._dracut = self._base_compression = self._menu = self._base_root = None  # this build's
        self.base_on = True  # upstream's (it says the root was mounted, whether or not from a base)
        self._isodir.mkdir(exist_ok=True)
        if base_on:
            self._base_on(base_on)
        super()._mount_instroot(str(self._base_root) if self._base_root is not None else None)
        rootfs.write_file(self._instroot.path, DRACUT_CONF, self.dracut.text())
        # Removed while the root is still mounted, whatever way the build ends.
        self._on_unmount(self._remove_dracut_conf)

    def _shell_binds(self) -> list[tuple[str, Path, str | None]]:
        """The ISO tree being made, at /run/imgcreate/iso in the shell: files added there end up on the ISO."""
        return [*super()._shell_binds(), ("iso", self._isodir, None)]

    def _remove_dracut_conf(self) -> None:
        with contextlib.suppress(IsADirectoryError):
            inroot.unlink(self._instroot.path, DRACUT_CONF)

    # -- boot configuration ----------------------------------------------------------------------------------------
    def _create_bootconfig(self) -> None:
        """Upstream's order: the BIOS boot loader and kernel (``_configure_bootloader``), then UEFI's
        (``_generate_efiboot``), both given the ISO tree being made."""
        isodir = StrPath(self._isodir)
        self._configure_bootloader(isodir)
        self._generate_efiboot(isodir)

    def _configure_bootloader(self, isodir: str) -> None:
        """The kernel, initramfs and BIOS boot loader (GRUB 2 or isolinux) in *isodir*, with its boot menu."""
        root, iso_tree = self._instroot.path, Path(isodir)
        kver, vmlinuz, initrd = self._find_kernel(remake=self._leave_out_missing_dracut_modules())
        kdir = iso_tree / self._kernel_dir.lstrip("/")
        kdir.mkdir(parents=True, exist_ok=True)
        isoboot.copy_boot_file(root, vmlinuz, kdir / "vmlinuz")
        isoboot.copy_boot_file(root, initrd, kdir / "initrd.img")
        log.info("kernel %s: %s, %s", kver, vmlinuz, initrd)
        menu = bootloader.BootMenu(
            label=self._loop.fslabel,
            title=self._live.title,
            product=self._live.product,
            kernel=f"{self._kernel_dir}/vmlinuz",
            initrd=f"{self._kernel_dir}/initrd.img",
            kernel_args=self._get_kernel_options(),
            timeout=self._timeout,
            media_check=self._has_checkisomd5(),  # upstream's: the media test entry only if the image can run it
        )
        if self.bios is BiosBootloader.SYSLINUX:
            isoboot.setup_isolinux(root, iso_tree, menu)
        elif self.bios is BiosBootloader.GRUB2:
            isoboot.setup_grub_bios(root, iso_tree, menu, self._grub_mkimage())
        self._menu = menu

    def _generate_efiboot(self, isodir: str) -> None:
        """The UEFI boot files and the FAT image El Torito boots (called after ``_configure_bootloader``)."""
        self._boot_media = BootMedia(bios=self.bios, efiboot=self._setup_efi(self._instroot.path, Path(isodir),
                                                                             self._require_menu()),
                                     mbr=None if self.bios is BiosBootloader.NONE else
                                     isoboot.hybrid_mbr(self._instroot.path, self.bios is BiosBootloader.SYSLINUX))

    def _require_menu(self) -> bootloader.BootMenu:
        if self._menu is None:
            raise CreatorError("_generate_efiboot needs the boot menu _configure_bootloader makes: call it first.")
        return self._menu

    def _get_xorrisofs_options(self, isodir: str) -> list[str]:
        """More xorrisofs options for mastering *isodir* (upstream's hook; this library's boot options are its
        own): none by default."""
        return []

    def _has_checkisomd5(self) -> bool:
        """Whether the image has checkisomd5 (the media check the boot menu can offer)."""
        root = self._instroot.path
        return any(inroot.is_file(root, p) for p in ("usr/bin/checkisomd5", "usr/lib/anaconda-runtime/checkisomd5"))

    def _leave_out_missing_dracut_modules(self) -> bool:
        """Drop the live dracut modules the installed image lacks; True if the initramfs must be made again."""
        kept = dracutconf.present_in(self._instroot.path, self.dracut)
        if kept is None:
            return False
        self._dracut = kept
        rootfs.write_file(self._instroot.path, DRACUT_CONF, kept.text())
        return True

    def _find_kernel(self, remake: bool = False) -> tuple[str, Path, Path]:
        """The kernel the menu boots and its initramfs (made with the image's dracut if the kernel package made
        none, or if *remake*): the newest version of the ``_default_kernel`` package among those
        ``_get_kernel_versions()`` lists (:func:`imgcreate.boot.kernels.default_kernel`), else the newest kernel."""
        root = self._instroot.path
        kver = kernels.default_kernel(self._get_kernel_versions(), self._live.default_kernel) or kernels.newest(root)
        alt = self._live.alt_initrd_name
        if alt is not None:  # upstream's _alt_initrd_name: a file the image's own tools made in /boot
            return kver, kernels.vmlinuz(root, kver), rootfs.resolve_in_root(root, f"/boot/{alt}")
        return kver, kernels.vmlinuz(root, kver), kernels.ensure_initramfs(root, kver, remake=remake)

    def _grub_mkimage(self) -> list[str]:
        # grub2-mkimage only assembles the image's own modules; the host's tool is as good as the image's.
        return [find_any_tool("grub2-mkimage", "grub-mkimage")]

    def _setup_efi(self, root: Path, isodir: Path, menu: bootloader.BootMenu) -> str | None:
        """EFI/BOOT and the EFI boot image from the image's own files; returns the image's path in the ISO."""
        copied = isoboot.stage_efi(root, isodir, menu, self.build_config.arch)
        if copied is None:
            return None
        images = isodir / "images"
        images.mkdir(exist_ok=True)
        iso.make_efiboot(images / "efiboot.img", copied, self.build_config.source_date_epoch)
        return "images/efiboot.img"

    # -- packaging -------------------------------------------------------------------------------------------------
    def _stage_final_image(self, ops: list[str] | None = None) -> None:
        """The ISO, from the unmounted root.  *ops*, upstream's (:class:`imgcreate.pack.PackOps`):
        "flatten-squashfs" packs the root's tree (the ext image mounted read-only) instead of rootfs.img,
        "show-squashing" shows mksquashfs's progress, other entries are mksquashfs options; all ignored with
        skip_compression, as upstream."""
        if self._boot_media is None:
            raise CreatorError("The boot configuration was not made: call configure() before package().")
        liveos = self._isodir / "LiveOS"
        liveos.mkdir(exist_ok=True)
        squashfs_img = liveos / "squashfs.img"
        live, pack_ops, epoch = self._live, PackOps.read(ops), self.build_config.source_date_epoch
        plain = not (live.skip_compression or pack_ops.flatten or pack_ops.extra)
        kept = self._compressed_root() if plain else None
        if kept is not None and self._reuse_compressed_root(*kept, squashfs_img):
            pass  # only the ISO is mastered again
        elif live.flat:
            # A flat root has no ext image to put on the ISO: --skip-compression makes the squashfs uncompressed.
            with self._phase("squashfs"):
                self.packer.pack(self._instroot.path, squashfs_img,
                                 None if live.skip_compression else self._compression(), sparse=False,
                                 epoch=epoch, progress=pack_ops.progress, extra=pack_ops.extra)
        elif live.skip_compression:
            # dracut's dmsquash-live boots LiveOS/rootfs.img directly when there is no squashfs.img.
            with self._phase("filesystem-finish"):
                os.rename(self._finish_image(minimize=not live.skip_minimize), liveos / "rootfs.img")
        elif pack_ops.flatten:
            with self._phase("filesystem-finish"):
                image = self._finish_image(minimize=not live.skip_minimize)
            with self._phase("squashfs"):
                pack_image_tree(self.packer, image, self._loop.fstype, self._require_builddir() / "flatten",
                                squashfs_img, self._compression(), epoch, pack_ops)
        else:
            self._squash_rootfs_img(squashfs_img, pack_ops)
        if kept is not None:
            with self._phase("incremental-store"):
                kept[0].store_root(kept[1], kept[2], squashfs_img)
        self._master(self._boot_media, self._outdir.path / f"{self.build_config.name}.iso")

    def _artifact(self, path: Path) -> Artifact:
        if path.suffix != ".iso" or self._boot_media is None:
            return super()._artifact(path)
        bios = () if self._boot_media.bios is BiosBootloader.NONE else (Firmware.BIOS,)
        uefi = (Firmware.UEFI,) if self._boot_media.efiboot is not None else ()
        return Artifact(path, ArtifactKind.LIVE_ISO, firmwares=(*bios, *uefi), arch=self.build_config.arch)

    def _reuse_compressed_root(self, cache: incremental.TreeCache, tree: incremental.InstallKey, root: str,
                               dest: Path) -> bool:
        """--incremental: take the compressed root an earlier build made from the same tree, kickstart and root
        settings (only the ISO's menu differs), instead of checking, shrinking and compressing it again."""
        with self._phase("squashfs"):
            return incremental.reuse_root(cache, tree, root, dest)

    def _squash_rootfs_img(self, output: Path, ops: PackOps) -> None:
        """LiveOS/squashfs.img holding LiveOS/rootfs.img: the ext image, minimized then grown back sparsely to
        its nominal size, so the live root has the size the kickstart asked for at no cost in the squashfs."""
        with self._phase("filesystem-finish"):
            image = self._finish_image(minimize=not self._live.skip_minimize)
        sqroot = self._require_builddir() / "squashfs-root"
        (sqroot / "LiveOS").mkdir(parents=True, exist_ok=True)
        os.rename(image, sqroot / "LiveOS/rootfs.img")
        try:
            with self._phase("squashfs"):
                # Only the sparse rootfs.img is in sqroot: tar2sqfs skips its holes (see pack.squashfs).
                self.packer.pack(sqroot, output, self._compression(), sparse=True,
                                 epoch=self.build_config.source_date_epoch, progress=ops.progress, extra=ops.extra)
        finally:
            os.rename(sqroot / "LiveOS/rootfs.img", image)

    def _master(self, media: BootMedia, output: Path) -> None:
        mbr: Path | None = None
        if media.mbr is not None:
            mbr = self._require_builddir() / "hybrid-mbr.bin"
            mbr.write_bytes(media.mbr)
        with self._phase("iso"):
            iso.master_iso(iso.IsoSpec(tree=self._isodir, volume_id=self._loop.fslabel, bios=media.bios, mbr=mbr,
                                       efiboot=media.efiboot, epoch=self.build_config.source_date_epoch,
                                       extra_args=tuple(self._get_xorrisofs_options(StrPath(self._isodir)))),
                           output)
        with self._phase("checksum"):
            iso.implant_md5(output)


# ---- upstream's per-architecture names --------------------------------------------------------------------------
# Upstream has a base class and one subclass per architecture, and binds LiveImageCreator to the one for the
# machine it runs on (importing imgcreate.live fails elsewhere).  Here the base finds every boot file in the image,
# so the subclasses only keep upstream's names and package hooks, and every architecture gets a creator: the base
# where upstream has no subclass.


def _basearch() -> str:
    """The machine's rpm base architecture (``x86_64``, ``i386``, ``aarch64``, ...), as upstream reads it."""
    import dnf.rpm
    import hawkey

    return str(dnf.rpm.basearch(hawkey.detect_arch()))


LiveImageCreatorBase = LiveImageCreator
"""Upstream's base class of the per-architecture creators."""


class x86LiveImageCreator(LiveImageCreatorBase):  # noqa: N801 (upstream's name)
    """Upstream's creator for i386 and x86_64: BIOS (GRUB 2 or isolinux) and UEFI boot, as the base."""

    @property
    def efiarch(self) -> str:
        """The UEFI name of the architecture, in ``BOOT<efiarch>.EFI`` (``X64``, ``IA32``)."""
        return {"i386": "IA32", "x86_64": "X64"}[_basearch()]


class ppcLiveImageCreator(LiveImageCreatorBase):  # noqa: N801 (upstream's name)
    """Upstream's creator for 32-bit PowerPC: with upstream's package hooks (yaboot in, memtest86+ out).

    Its boot configuration is the base's: an image without the boot files the base looks for fails with an
    error naming them (upstream's yaboot and HFS layout is not made).
    """

    def _get_required_packages(self) -> list[str]:
        return ["yaboot", *super()._get_required_packages()]

    def _get_excluded_packages(self) -> list[str]:
        return ["memtest86+", *super()._get_excluded_packages()]


class ppc64LiveImageCreator(ppcLiveImageCreator):  # noqa: N801 (upstream's name)
    """Upstream's creator for 64-bit PowerPC: as ppcLiveImageCreator, without the 32-bit kernel."""

    def _get_excluded_packages(self) -> list[str]:
        return ["kernel.ppc", *super()._get_excluded_packages()]


class aarch64LiveImageCreator(LiveImageCreatorBase):  # noqa: N801 (upstream's name)
    """Upstream's creator for aarch64: UEFI alone (BOOTAA64.EFI), as the base makes for an aarch64 build."""

    efiarch = "AA64"  # upstream's: BOOT<efiarch>.EFI

    def _get_required_packages(self) -> list[str]:
        return ["grub2-efi-aa64", *super()._get_required_packages()]


def creator_for(basearch: str) -> type[LiveImageCreatorBase]:
    """Upstream's choice of LiveImageCreator for an architecture; the base class where upstream has none."""
    if basearch in ("i386", "x86_64"):
        return x86LiveImageCreator
    if basearch == "aarch64":
        return aarch64LiveImageCreator
    if basearch == "ppc":
        return ppcLiveImageCreator
    if basearch == "ppc64":
        return ppc64LiveImageCreator
    return LiveImageCreatorBase


arch = _basearch()
"""The machine's base architecture, which chose LiveImageCreator (upstream's module attribute)."""

LiveImageCreator = creator_for(arch)  # type: ignore[misc]  # rebound to the machine's class, as upstream
