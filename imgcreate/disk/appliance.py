"""DiskImageCreator: a partitioned disk image that boots (BIOS and UEFI), as upstream appliance-creator makes.

The disk layout comes from the kickstart (``clearpart --disklabel``, ``part`` lines, ``bootloader``), planned by
:mod:`imgcreate.disk.layout` and made by :class:`imgcreate.disk.partitioned.PartitionedDisk`; the rest is the
pipeline every creator runs.  The boot loader is installed with the image's own tools
(:mod:`imgcreate.boot.diskboot`); the result is a sparse raw disk, or a qcow2/vmdk/vdi conversion
(:mod:`imgcreate.disk.output`).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from imgcreate import kickstart
from imgcreate.boot import diskboot, efi, kernels
from imgcreate.build.artifacts import Artifact, ArtifactKind, Firmware
from imgcreate.config import parse
from imgcreate.config.model import DiskConfig, PackageFormat
from imgcreate.creator import ImageCreator
from imgcreate.disk import archive
from imgcreate.disk import layout as disklayout
from imgcreate.disk import output as diskoutput
from imgcreate.disk.layout import DiskLabel
from imgcreate.disk.partitioned import PartitionedDisk
from imgcreate.errors import CreatorError
from imgcreate.host import fs
from imgcreate.storage import inroot, rootfs
from imgcreate.storage.roots import RootStorage

log = logging.getLogger("imgcreate")


class DiskImageCreator(ImageCreator):
    """Builds ``<name>-sda.<format>``: a partitioned disk that boots with GRUB 2 on BIOS and, with an ESP, UEFI.

    *disk_format*: raw (sparse), qcow2, vmdk or vdi; *compress*: "xz", "zstd" or None for the result;
    *checksum*: a ``CHECKSUM`` file (sha256) and checksums in ``<name>.xml``, appliance-creator's virt-image
    description, which also holds *vmem* (MiB), *vcpu*, *version* and *release*; *disk_size_mib*: the disk's
    size, which ``--grow`` partitions fill (default: the sum of the partitions); *manifest*: also the build's
    manifest (``<name>.packages``, ``.flattened.ks``, ``-CHECKSUM``), which the live creators always write.

    Delivered as upstream's ``package(destdir, package, include)``: *include* (a file, or a folder's entries)
    goes beside the disk; *package_format* "none" (the default) delivers everything into ``<destdir>/<name>/``,
    "zip", "zip.64", "tar", "tar.gz" or "tar.bz2" into ``<destdir>/<name>.<format>`` (:mod:`imgcreate.disk.archive`).
    """

    def __init__(self, ks: kickstart.KickstartHandler, name: str, disk_format: str = "raw", compress: str | None = None,
                 checksum: bool = False, vmem: int = 512, vcpu: int = 1, version: str | None = None,
                 release: str | None = None, disk_size_mib: int | None = None, manifest: bool = False,
                 package_format: str = archive.NONE, include: str | os.PathLike[str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(ks, name, **kwargs)
        # Settings, as upstream's attributes (its appliance-creator sets checksum, appliance_version and
        # appliance_release after construction): mount() takes them into the build's one snapshot
        # (build_config.disk), checked there (every problem in one paragraph).
        self.disk_format = disk_format
        self.compress = compress
        self.checksum = checksum
        self.vmem = vmem
        self.vcpu = vcpu
        self.appliance_version = version
        self.appliance_release = release
        self.disk_size_mib = disk_size_mib
        # The build's manifest (<name>.packages, .flattened.ks, -CHECKSUM) only when asked (--manifest): upstream's
        # appliance-creator delivers the disk and <name>.xml alone, and Koji's builder uploads any third file.
        self.manifest = manifest
        self.package_format = package_format
        self.include = include
        _ = self.build_config  # a bad setting fails now, not after the install
        self.boots = self.config.bootloader.installs  # not with --location=none or --disabled
        self._layouts: dict[tuple[str, int | None], disklayout.DiskLayout] = {}

    def _config_sections(self) -> dict[str, Any]:
        return {"disk": parse.RawDisk(
            disk_format=self.disk_format, compress=self.compress, checksum=self.checksum, manifest=self.manifest,
            vmem=self.vmem, vcpu=self.vcpu, version=self.appliance_version, release=self.appliance_release,
            package_format=self.package_format, include=self.include, size_mib=self.disk_size_mib)}

    @property
    def output(self) -> diskoutput.OutputSpec:
        """What the build delivers (the disk's format, compression, checksum, <name>.xml's contents), from the
        settings' snapshot."""
        return diskoutput.OutputSpec.of(self.build_config)

    @property
    def _disk_settings(self) -> DiskConfig:
        disk = self.build_config.disk
        assert disk is not None
        return disk

    @property
    def arch(self) -> str:
        """The image's architecture (``--forcearch``, else this machine's)."""
        return self.build_config.arch

    @property
    def bios(self) -> bool:
        """Whether the disk also boots with BIOS: x86 only (aarch64 and the others boot with UEFI alone)."""
        return self.boots and self.build_config.basearch in ("x86_64", "i386")

    @property
    def layout(self) -> disklayout.DiskLayout:
        """The partition plan for the image's architecture (a GPT disk booted by BIOS needs a biosboot
        partition: x86 only)."""
        key = (self.build_config.arch, self._disk_settings.size_mib)
        if key not in self._layouts:
            self._layouts[key] = disklayout.plan_disk(self.config, bios=self.bios, disk_size_mib=key[1])
        return self._layouts[key]

    def _root_storage(self) -> RootStorage:
        """The partitioned disk, made reproducibly when the settings' snapshot has an epoch."""
        cfg = self.build_config
        return PartitionedDisk(cfg.name, self.layout, epoch=cfg.source_date_epoch)

    @property
    def _disk(self) -> PartitionedDisk:
        disk = self._get_storage()
        assert isinstance(disk, PartitionedDisk)
        return disk

    def _host_tools(self) -> list[str]:
        return [*super()._host_tools(), *diskoutput.host_tools(self.output),
                *archive.host_tools(str(self._disk_settings.package_format))]

    def _get_required_packages(self) -> list[str]:
        """GRUB for BIOS (x86) and, with an ESP, shim and GRUB for UEFI (Fedora's names for the image's
        architecture: ``grub2-efi-x64``, ``grub2-efi-aa64``, ...), unless no boot loader."""
        if not self.boots:
            return []
        x = efi.efi_arch(self.arch)
        uefi = [f"grub2-efi-{x}", f"shim-{x}"] if self.layout.esp is not None else []
        return [*(["grub2-pc"] if self.bios else []), *uefi]

    def _get_fstab(self) -> str:
        return self._disk.fstab() + super()._get_fstab()

    def _get_kernel_options(self) -> str:
        return self.config.bootloader.kernel_args(f"root=UUID={self._disk.uuid_of(self.layout.root)} ro")

    def _boot_menu(self, kver: str) -> diskboot.DiskBootMenu:
        boot = self.layout.boot or self.layout.root
        on_root = boot is self.layout.root
        prefix = "/boot" if on_root else ""
        return diskboot.DiskBootMenu(
            title=f"{kernels.os_name(self._instroot.path)} ({kver})",
            kernel=f"{prefix}/vmlinuz-{kver}",
            initrd=f"{prefix}/initramfs-{kver}.img",
            kernel_args=self._get_kernel_options(),
            boot_uuid=self._disk.uuid_of(boot),
            grub_dir=f"{prefix}/grub2",
            timeout=self.config.bootloader.timeout_or(5),
        )

    def _create_bootconfig(self) -> None:
        """A generic initramfs (remade with the image's dracut when it has one), the GRUB menu, and GRUB itself
        for BIOS and UEFI; nothing of the boot loader with ``bootloader --location=none`` or ``--disabled``,
        where the image may also have no kernel (a disk that is not booted by itself, such as a container base
        image's: appliance-creator warns "No bootloader found" and builds it; so do we, in one line)."""
        root = self._instroot.path
        if not self.boots:
            has_kernel = bool(kernels.installed(root))
            log.warning("WARNING! No boot loader installed (bootloader %s)%s: the disk does not boot by itself.",
                        "--disabled" if self.config.bootloader.disabled else "--location=none",
                        "" if has_kernel else " and no kernel")
            if not has_kernel:
                return
        kver = kernels.newest(root)
        kernels.ensure_initramfs(root, kver, remake=kernels.has_dracut(root))
        if not self.boots:
            return
        menu = self._boot_menu(kver)
        rootfs.write_file(root, "/boot/grub2/grub.cfg", diskboot.grub_cfg(menu), mode=0o600)
        if self.layout.esp is not None:
            diskboot.install_efi(root, menu, self.arch)
        if Firmware.BIOS in self.firmwares:
            with _host_device_in_root(root, self._disk.device):
                diskboot.install_bios(root, str(self._disk.device), menu, gpt=self.layout.label is DiskLabel.GPT)

    def _write_manifest(self) -> None:
        if self._disk_settings.manifest:
            super()._write_manifest()

    def _artifact(self, path: Path) -> Artifact:
        if not path.name.startswith(self.output.disk_name):
            return super()._artifact(path)  # <name>.xml, CHECKSUM
        return Artifact(path, ArtifactKind.DISK, firmwares=self.firmwares, disk_format=str(self.output.disk_format),
                        arch=self.arch)

    @property
    def firmwares(self) -> tuple[Firmware, ...]:
        if not self.bios:
            return (Firmware.UEFI,) if self.boots and self.layout.esp is not None else ()
        return disk_firmwares(self.layout, self.boots)

    def unmount(self) -> None:
        """After a successful build only: what was installed on FAT partitions goes into them first."""
        if self.is_mounted:
            self._disk.write_fat_partitions()
        super().unmount()

    def package(self, destdir: str | os.PathLike[str] = ".", ops: list[str] | None = None) -> list[Path]:
        """As upstream: with no archive (``-p none``) the files go into ``<destdir>/<name>/``, where Koji's
        builder (which walks its output folder) and people's scripts look for them; an archive goes into
        *destdir* itself."""
        target = Path(destdir)
        if self._disk_settings.package_format is PackageFormat.NONE:
            target = target / self.build_config.name
        made = not target.exists()
        try:
            return super().package(target, ops)
        except BaseException:
            if made and target.is_dir() and not any(target.iterdir()):
                target.rmdir()  # a failed delivery leaves the output folder as it was: no empty <name>/
            raise

    def _stage_final_image(self, ops: list[str] | None = None) -> None:
        """A reproducible disk's ext partitions are made again from their trees first (see
        :mod:`imgcreate.disk.repro`), then the disk is converted and compressed; the included files join it
        and, with an archive format, all are packed."""
        epoch = self.build_config.source_date_epoch
        with self._phase("disk-finish"):
            self._disk.finish()
        with self._phase("disk-output"):
            diskoutput.finish(self._disk.path, self._outdir.path, self.output, epoch=epoch)
        settings = self._disk_settings
        archive.add_include(self._outdir.path, settings.include)
        if settings.package_format is not PackageFormat.NONE:
            with self._phase("disk-package"):
                archive.pack(self._outdir.path, self.build_config.name, str(settings.package_format), epoch)


ApplianceImageCreator = DiskImageCreator  # appliance-tools' name


def disk_firmwares(layout: disklayout.DiskLayout, boots: bool = True) -> tuple[Firmware, ...]:
    """What boots a disk of *layout*, as DiskImageCreator installs GRUB: BIOS on an msdos disk or with a
    biosboot partition, UEFI with an ESP; nothing without a boot loader."""
    if not boots:
        return ()
    bios = layout.label is DiskLabel.MSDOS or layout.biosboot is not None
    return (*((Firmware.BIOS,) if bios else ()), *((Firmware.UEFI,) if layout.esp is not None else ()))


@contextlib.contextmanager
def _host_device_in_root(root: Path, device: str | None) -> Iterator[None]:
    """The loop device and its partitions, bound at the same paths inside the root's private /dev while GRUB
    is written (GRUB's tools find the partition holding /boot through them and the image's udevadm)."""
    if device is None:
        raise CreatorError("The disk is not attached to a loop device.")
    with contextlib.ExitStack() as stack:
        for node in sorted(glob.glob(f"{device}p[0-9]*")) + [device]:
            # Made afresh inside the root's own /dev (whatever a package left there is replaced, never followed),
            # and mounted on at its path resolved in the root right now.
            target = rootfs.write_file(root, node, b"", mode=0o600)
            stack.callback(inroot.unlink, root, node)
            fs.mount(stack, node, target, bind=True)
        yield
