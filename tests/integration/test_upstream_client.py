"""A creator written against upstream's API the way appliance-tools is, building on this library unchanged.

``PartitionedCreator`` below was written for this repository (it is not appliance-tools' code): like
appliance-tools' ``ApplianceImageCreator`` it subclasses ``imgcreate.ImageCreator``, partitions a sparse disk and
mounts its partitions with ``imgcreate.fs`` classes in ``_mount_instroot``, builds paths by ``str``
concatenation, writes its boot loader configuration in ``_create_bootconfig``, converts the disk in
``_stage_final_image`` (upstream's hook without ``ops``), and applies kickstart ``*Config`` classes to the install
root.  One build from the test distribution serves every check; none of it is booted here:
tests/boot/test_upstream_client_boot.py boots both clients' images (the disk with a boot loader a subclass
installs).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import imgcreate
from imgcreate import kickstart
from imgcreate.fs import ExtDiskMount, RawDisk, SparseLoopbackDisk, makedirs
from tests import isoinspect

pytestmark = pytest.mark.root

MIB = 1024 * 1024
DISK_MIB, BOOT_MIB = 400, 64
EXTRA_FSTAB = "tmpfs      /tmp      tmpfs   defaults         0 0\n"


class PartitionedCreator(imgcreate.ImageCreator):
    """A two-partition disk (/boot, /) delivered as qcow2, the way an appliance creator is written."""

    def __init__(self, ks: Any, name: str, tmpdir: str) -> None:
        imgcreate.ImageCreator.__init__(self, ks, name, tmpdir=tmpdir, useplugins=False)
        self.__disk: SparseLoopbackDisk | None = None
        self.__mounts: list[ExtDiskMount] = []
        self.seen: dict[str, object] = {}

    def __raw(self) -> str:
        return self._mkdtemp("disk-") + "/" + self.name + "-sda.raw"

    def _mount_instroot(self, base_on: str | None = None) -> None:
        self.seen["instroot_is_str"] = isinstance(self._instroot, str)
        self.__disk = SparseLoopbackDisk(self.__raw(), DISK_MIB * MIB)
        self.__disk.create()
        device = self.__disk.device
        assert device is not None
        table = f"label: dos\n1M,{BOOT_MIB}M,L,*\n,,L\n"
        subprocess.run(["sfdisk", "-q", device], input=table, text=True, check=True)
        subprocess.run(["partx", "--add", device], check=False)
        root = ExtDiskMount(RawDisk((DISK_MIB - BOOT_MIB - 1) * MIB, device + "p2"), self._instroot, "ext4", 4096,
                            "ROOT")
        root.mount()
        self.__mounts.append(root)
        makedirs(self._instroot + "/boot")
        boot = ExtDiskMount(RawDisk(BOOT_MIB * MIB, device + "p1"), self._instroot + "/boot", "ext4", 1024, "BOOT")
        boot.mount()
        self.__mounts.append(boot)

    def _partition_device(self, number: int) -> str:
        """The disk's loop device (*number* 0) or that of partition *number*: what a subclass installing a boot
        loader in ``_create_bootconfig`` writes to."""
        assert self.__disk is not None and self.__disk.device is not None
        return self.__disk.device + (f"p{number}" if number else "")

    def _unmount_instroot(self) -> None:
        for mount in reversed(self.__mounts):
            mount.cleanup()
        self.__mounts = []
        if self.__disk is not None and self.__disk.device is not None:
            subprocess.run(["partx", "--delete", self.__disk.device], check=False)
            self.__disk.cleanup()

    def _get_fstab(self) -> str:
        return ("LABEL=_ROOT  /      ext4  defaults  0 1\n"
                "LABEL=_BOOT  /boot  ext4  defaults  0 2\n") + self._get_fstab_special()

    def _get_fstab_special(self) -> str:
        return imgcreate.ImageCreator._get_fstab_special(self) + EXTRA_FSTAB

    def _create_bootconfig(self) -> None:
        self.seen["proc_mounted"] = os.path.exists(self._instroot + "/proc/self")
        self._undo_bindmounts()  # reach the image's own /proc underneath, as a creator may
        self.seen["proc_after_undo"] = os.path.exists(self._instroot + "/proc/self")
        self._do_bindmounts()
        versions = self._get_kernel_versions()["kernel"]
        root_uuid = subprocess.run(["blkid", "-s", "UUID", "-o", "value", self._partition_device(2)],
                                   capture_output=True, text=True, check=True).stdout.strip()
        makedirs(self._instroot + "/boot/extlinux")
        with open(self._instroot + "/boot/extlinux/extlinux.conf", "w") as cfg:
            cfg.write("default linux\n")
            for version in versions:
                cfg.write(f"label linux\n  kernel /vmlinuz-{version}\n  initrd /initramfs-{version}.img\n"
                          f"  append root=UUID={root_uuid} ro {self._get_kernel_options()}\n")
        ksh = self.ks.handler
        kickstart.TimezoneConfig(self._instroot).apply(ksh.timezone)
        kickstart.LanguageConfig(self._instroot).apply(ksh.lang)

    def _stage_final_image(self) -> None:  # type: ignore[override]  # upstream's hook takes no ops
        assert self.__disk is not None
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", self.__disk.lofile,
                        self._outdir + "/" + self.name + ".qcow2"], check=True)


KS = """timezone Europe/Paris
lang de_DE.UTF-8
bootloader --append="{append}"
%packages
@core
kernel
%end
"""


def build_client(creator_class: type[PartitionedCreator], tmp: Path, repo: Path,
                 append: str = "console=ttyS0") -> tuple[Path, dict[str, object]]:
    """The client's five steps, as appliance-creator runs them: its qcow2 and what its hooks saw.  The
    kickstart's repository has a mirror list that does not exist: ``install(repo_urls=...)`` gives it the test
    distribution's URL instead, the mirror list dropped (upstream's), or nothing installs."""
    ks_path = tmp / "client.ks"
    ks_path.write_text("repo --name=testdistro --mirrorlist=http://127.0.0.1:9/no-such-mirrorlist\n"
                       "part / --size 256\n" + KS.format(append=append))
    creator = creator_class(imgcreate.read_kickstart(str(ks_path)), "client", str(tmp))
    out = tmp / "out"
    out.mkdir()
    try:
        creator.mount()
        creator.install(repo_urls={"testdistro": f"file://{repo}"})
        creator.configure()
        creator.unmount()
        creator.package(str(out))
    finally:
        creator.cleanup()
    return out / "client.qcow2", creator.seen


@pytest.fixture(scope="module")
def client_build(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> Iterator[tuple[Path, dict[str, object]]]:
    tmp = tmp_path_factory.mktemp("client")
    qcow2, seen = build_client(PartitionedCreator, tmp, testrepo)
    raw = tmp / "client.raw"
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(qcow2), str(raw)], check=True)
    yield raw, seen


@contextlib.contextmanager
def _partition(raw: Path, number: int, where: Path) -> Iterator[Path]:
    table = json.loads(subprocess.run(["sfdisk", "--json", str(raw)], capture_output=True, text=True,
                                      check=True).stdout)["partitiontable"]
    part = table["partitions"][number - 1]
    where.mkdir()
    subprocess.run(["mount", "-o", f"ro,loop,offset={part['start'] * 512},sizelimit={part['size'] * 512}",
                    str(raw), str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_client_builds_a_partitioned_disk(client_build: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    raw, seen = client_build
    assert seen == {"instroot_is_str": True, "proc_mounted": True, "proc_after_undo": False}, \
        "_instroot is a str; mount() bind-mounted /proc via _do_bindmounts, _undo_bindmounts unmounted it"
    table = json.loads(subprocess.run(["sfdisk", "--json", str(raw)], capture_output=True, text=True,
                                      check=True).stdout)["partitiontable"]
    assert len(table["partitions"]) == 2
    with _partition(raw, 2, tmp_path / "root") as root:
        fstab = (root / "etc/fstab").read_text()
        assert "LABEL=_BOOT  /boot" in fstab and EXTRA_FSTAB in fstab and "proc       /proc" in fstab, \
            "the client's _get_fstab and _get_fstab_special overrides wrote /etc/fstab"
        assert "Europe/Paris" in os.readlink(root / "etc/localtime")
        assert "de_DE.UTF-8" in (root / "etc/locale.conf").read_text()
        assert not list((root / "boot").iterdir()), "the kernel went to the /boot partition, not the root"
    with _partition(raw, 1, tmp_path / "boot") as boot:
        kernels = [p.name for p in boot.glob("vmlinuz-*")]
        assert kernels, "the /boot partition has the kernel"
        cfg = (boot / "extlinux/extlinux.conf").read_text()
        assert kernels[0].removeprefix("vmlinuz-") in cfg and "console=ttyS0" in cfg
        assert " root=UUID=" in cfg and " ro " in cfg, "the root partition by UUID, as appliance-tools writes it"


class BrandedLiveCreator(imgcreate.LiveImageCreator):
    """A live creator overriding upstream's hooks: each override must change the ISO."""

    calls: list[str]

    def _configure_bootloader(self, isodir: str) -> None:
        self.calls = ["bootloader"]
        imgcreate.LiveImageCreator._configure_bootloader(self, isodir)
        with open(isodir + "/BRANDING.txt", "w") as f:  # upstream's isodir is a str
            f.write(self.product + "\n")

    def _generate_efiboot(self, isodir: str) -> None:
        self.calls.append("efiboot")
        imgcreate.LiveImageCreator._generate_efiboot(self, isodir)

    def _get_xorrisofs_options(self, isodir: str) -> list[str]:
        return ["-preparer", "BRANDED-CLIENT"]

    def _resparse(self, size: int | None = None) -> int:
        self.calls.append("resparse")
        return imgcreate.LiveImageCreator._resparse(self, size)


def build_live_client(creator_class: type[BrandedLiveCreator], tmp: Path, repo: Path,
                      ks_extra: str = "",
                      ops: tuple[str, ...] = ("show-squashing",)) -> tuple[BrandedLiveCreator, Path]:
    """livecd-creator's way: settings assigned after construction, then the five steps; the ISO and the creator
    (its ``calls``).  *ks_extra*: kickstart lines (a boot test's ``bootloader --append``); *ops*: package()'s."""
    ks_path = tmp / "live.ks"
    ks_path.write_text(f"repo --name=testdistro --baseurl=file://{repo}\npart / --size 256\n{ks_extra}"
                       "%packages\n@core\nkernel\n%end\n")
    creator = creator_class(imgcreate.read_kickstart(str(ks_path)), "branded", "BRANDED", tmpdir=str(tmp))
    creator.product = "Branded Linux"
    creator.compress_args = "lz4"
    creator.skip_minimize = False  # True: check only, no _resparse (upstream then skips osmin.img only)
    out = tmp / "out"
    out.mkdir()
    try:
        creator.mount()
        assert creator.base_on is True and creator._isofstype == "iso9660"
        creator.install()
        creator.configure()
        creator.unmount()
        creator.package(str(out), list(ops))
    finally:
        creator.cleanup()
    return creator, out / "branded.iso"


def assert_branded(iso: Path, creator: BrandedLiveCreator, tmp: Path) -> None:
    """What the live client's hooks and settings changed in the ISO."""
    assert creator.calls == ["bootloader", "efiboot", "resparse"]
    assert isoinspect.read_text(iso, "/BRANDING.txt") == "Branded Linux\n"
    assert "BRANDED-CLIENT" in isoinspect._xorriso(iso, "-pvd_info")
    info = isoinspect.squashfs_info(isoinspect.squashfs_image(iso, tmp))
    assert "Compression lz4" in info


DEBUG_KVER = "0.0.1.debug"  # older than the test distribution's kernel: the newest would never be this one
DEBUG_VMLINUZ = b"not a kernel: the debug variant the menu must boot\n"


class DebugKernelLiveCreator(BrandedLiveCreator):
    """The live client with a second kernel package (``kernel-debug``, files of its own) and checkisomd5 in the
    image before the boot menu is made: upstream's ``_default_kernel`` and ``_has_checkisomd5`` then decide the
    menu.  Never booted (the debug kernel is not one)."""

    def _configure_bootloader(self, isodir: str) -> None:
        with open(self._instroot + "/usr/bin/checkisomd5", "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(self._instroot + "/usr/bin/checkisomd5", 0o755)
        with open(self._instroot + f"/boot/vmlinuz-{DEBUG_KVER}", "wb") as b:
            b.write(DEBUG_VMLINUZ)
        with open(self._instroot + f"/boot/initramfs-{DEBUG_KVER}.img", "wb") as b:
            b.write(b"initramfs of the debug variant\n")
        BrandedLiveCreator._configure_bootloader(self, isodir)

    def _get_kernel_versions(self) -> dict[str, list[str]]:
        return {**BrandedLiveCreator._get_kernel_versions(self), "kernel-debug": [DEBUG_KVER]}


def test_live_client_hooks_change_the_iso(tmp_path: Path, testrepo: Path) -> None:
    """The hooks upstream's _create_bootconfig and _stage_final_image call are called here too, in upstream's
    order, with upstream's meaning: the menu boots the kickstart's ``bootloader --default`` kernel package and
    offers the media test when the image has checkisomd5; package()'s ops flatten the squashfs (the root tree,
    no rootfs.img) and reach mksquashfs."""
    creator, iso = build_live_client(DebugKernelLiveCreator, tmp_path, testrepo,
                                     ks_extra="bootloader --default=debug\n",
                                     ops=("flatten-squashfs", "show-squashing", "-b", "65536"))
    assert creator._timeout == 10, "upstream's default menu timeout, the kickstart naming none"
    assert creator._default_kernel == "debug", "upstream's: bootloader --default"
    assert_branded(iso, creator, tmp_path)
    assert isoinspect.read(iso, "/images/pxeboot/vmlinuz") == DEBUG_VMLINUZ, \
        "the menu boots the _default_kernel package's kernel, not the newest"
    for where in ("/boot/grub2/grub.cfg", "/EFI/BOOT/grub.cfg"):
        cfg = isoinspect.read_text(iso, where)
        assert "menuentry 'Test this media & start Branded Linux'" in cfg and " rd.live.check" in cfg, where
    squashfs = isoinspect.squashfs_image(iso, tmp_path)
    assert "Block size 65536" in isoinspect.squashfs_info(squashfs), "ops' -b 65536 reached mksquashfs"
    listing = subprocess.run(["unsquashfs", "-l", "-d", "", str(squashfs)], capture_output=True, text=True,
                             check=True).stdout.split()
    assert "/etc/fstab" in listing and "/LiveOS/rootfs.img" not in listing, "flatten-squashfs: the root tree"


def test_live_base_on_takes_upstreams_parts_of_the_base_iso(tmp_path: Path) -> None:
    """Upstream's live ``_base_on``, called by mount(base_on=...) (a subclass's override with it): the base ISO's
    LiveOS/rootfs.img is what the root starts from, its isolinux/initrd<N>.img and xen<N>.gz (not its other
    files) go to the new ISO's isolinux/, and compress_args None takes the base squashfs's compressor.  A small
    hand-made ISO: nothing is installed."""
    tree, inner = tmp_path / "tree", tmp_path / "inner"
    (tree / "isolinux").mkdir(parents=True)
    (tree / "LiveOS").mkdir()
    for name in ("initrd0.img", "xen1.gz", "vmlinuz0", "isolinux.cfg"):
        (tree / "isolinux" / name).write_text(name)
    (inner / "LiveOS").mkdir(parents=True)
    content = tmp_path / "content"
    content.mkdir()
    (content / "marker").write_text("from the base\n")
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "BASE", "-d", str(content), str(inner / "LiveOS/rootfs.img"),
                    "16M"], check=True)
    subprocess.run(["mksquashfs", str(inner), str(tree / "LiveOS/squashfs.img"), "-comp", "lz4", "-no-progress",
                    "-quiet"], check=True)
    iso = tmp_path / "base.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-V", "BASE", "-o", str(iso), str(tree)],
                   check=True)
    ks_path = tmp_path / "rebase.ks"
    ks_path.write_text("part / --size 64\n%packages\nkernel\n%end\n")

    class Rebased(imgcreate.LiveImageCreator):
        based: list[str] = []

        def _base_on(self, base_on: str) -> None:
            self.based.append(base_on)
            imgcreate.LiveImageCreator._base_on(self, base_on)

    creator = Rebased(imgcreate.read_kickstart(str(ks_path)), "rebased", "REBASED", tmpdir=str(tmp_path))
    creator.compress_args = None  # upstream's: the base ISO's compressor
    try:
        creator.mount(base_on=str(iso))
        assert creator.based == [str(iso)]
        assert sorted(os.listdir(creator._isodir / "isolinux")) == ["initrd0.img", "xen1.gz"]
        assert (creator._isodir / "isolinux/initrd0.img").read_text() == "initrd0.img"
        assert (Path(creator._instroot) / "marker").read_text() == "from the base\n"
        assert creator._compression() == "lz4"
    finally:
        creator.cleanup()


def test_loop_base_on_is_called_by_mount(tmp_path: Path) -> None:
    """Upstream's LoopImageCreator ``_base_on``, called by mount(base_on=IMAGE) to make the image file (a
    subclass's override runs, and what it copies is what the root starts from); the live creator's takes an ISO
    instead (the test above).  A small hand-made ext4 image: nothing is installed."""
    content = tmp_path / "content"
    content.mkdir()
    (content / "marker").write_text("from the base image\n")
    base = tmp_path / "base.img"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "BASE", "-d", str(content), str(base), "16M"], check=True)
    ks_path = tmp_path / "loop.ks"
    ks_path.write_text("part / --size 32\n%packages\nkernel\n%end\n")

    class Rebased(imgcreate.LoopImageCreator):
        based: list[tuple[str, str]] = []

        def _base_on(self, base_on: str) -> None:
            self.based.append((base_on, str(self._image)))
            imgcreate.LoopImageCreator._base_on(self, base_on)

    creator = Rebased(imgcreate.read_kickstart(str(ks_path)), "rebased-loop", "REBASED", tmpdir=str(tmp_path))
    try:
        creator.mount(base_on=str(base))
        assert creator.based == [(str(base), str(creator._image))], "called once, with the image file to make"
        assert (Path(creator._instroot) / "marker").read_text() == "from the base image\n"
    finally:
        creator.cleanup()
