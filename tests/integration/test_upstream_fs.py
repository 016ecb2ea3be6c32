"""Upstream's ``imgcreate.fs`` classes used the way its clients use them, with real loop devices and mounts.

appliance-tools' ``PartitionedMount`` subclasses ``Mount``, partitions a ``SparseLoopbackDisk`` and mounts each
partition with ``ExtDiskMount(RawDisk(...))``; upstream's own creators loop-mount images (``LoopbackMount``),
make sparse ext images (``SparseExtLoopbackMount``) and squashfs them.  Each test checks what the object
promises (the filesystem made, its label, the file written, the image resparsed) and that ``cleanup()`` leaves
nothing mounted or attached, called twice or after an error (conftest's leak check runs after every test too).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from imgcreate.errors import MountError, SnapshotError
from imgcreate.fs import (
    BindChrootMount,
    DeviceMapperSnapshot,
    DiskMount,
    ExtDiskMount,
    LiveImageMount,
    LoopbackDisk,
    LoopbackMount,
    Mount,
    OverlayFSMount,
    RawDisk,
    SparseExtLoopbackMount,
    SparseLoopbackDisk,
    chrootentitycheck,
    fsck,
    mksquashfs,
    resizefs,
    squashfs_compression_type,
    unmount_all,
)
from imgcreate.host import fs as host_fs
from tests.support import leak_snapshot

pytestmark = pytest.mark.root
MIB = 1024 * 1024


def _attached(path: Path) -> list[str]:
    return [line for line in subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout.splitlines()
            if str(path) in line]


def _blkid(dev: str, tag: str) -> str:
    return subprocess.run(["blkid", "-p", "-s", tag, "-o", "value", dev], capture_output=True,
                          text=True).stdout.strip()


class PartitionedMount(Mount):
    """A client's class written the way appliance-tools' is: a Mount subclass that partitions its disks and
    mounts each partition with ExtDiskMount(RawDisk(...)), in mount-point order."""

    def __init__(self, disk: SparseLoopbackDisk, mountdir: str, parts: list[tuple[str, int]]) -> None:
        Mount.__init__(self, mountdir)
        self.disk = disk
        self.parts = parts  # (mount point, size in MiB)
        self.mounts: list[ExtDiskMount] = []
        self.devices: dict[str, str] = {}

    def mount(self) -> None:
        self.disk.create()
        assert self.disk.device is not None
        table = "label: gpt\n" + "".join(f"size={size}MiB\n" for _mp, size in self.parts)
        subprocess.run(["sfdisk", "-q", self.disk.device], input=table, text=True, check=True)
        found = host_fs.partition_devices(self.disk.device, expect=len(self.parts))
        for number, (mp, _size) in enumerate(self.parts, start=1):
            self.devices[mp] = found[number]
        for mp, size in sorted(self.parts):
            pdisk = ExtDiskMount(RawDisk(size * MIB, self.devices[mp]), self.mountdir + mp, "ext4", 4096, mp,
                                 mp == "/")
            pdisk.mount()
            self.mounts.append(pdisk)

    def unmount(self) -> None:
        for pdisk in reversed(self.mounts):
            pdisk.cleanup()
        self.mounts = []

    def cleanup(self) -> None:
        Mount.cleanup(self)
        self.disk.cleanup()


def test_a_partitioned_sparse_disk_as_appliance_tools_makes_it(tmp_path: Path) -> None:
    disk = SparseLoopbackDisk(str(tmp_path / "imgs" / "disk.raw"), 40 * MIB)
    root = tmp_path / "root"
    pm = PartitionedMount(disk, str(root), [("/", 24), ("/boot", 12)])
    try:
        pm.mount()
        assert os.path.ismount(root) and os.path.ismount(root / "boot")
        (root / "boot" / "vmlinuz").write_text("kernel")
        (root / "etc").mkdir()
        (root / "etc" / "fstab").write_text("x")
        assert disk.device is not None and disk.lofile.endswith("disk.raw")
        assert _blkid(pm.devices["/"], "LABEL") == "_/"
        assert _blkid(pm.devices["/boot"], "LABEL") == "_/boot"
    finally:
        pm.cleanup()
    pm.cleanup()  # again: nothing to do
    assert disk.device is None and not _attached(tmp_path)
    assert not root.exists(), "the root's mount point is removed (rmmountdir), as appliance-tools asks"
    assert os.path.getsize(tmp_path / "imgs" / "disk.raw") == 40 * MIB
    check = LoopbackDisk(str(tmp_path / "imgs" / "disk.raw"), 0)
    check.create()
    try:
        assert check.device is not None
        found = host_fs.partition_devices(check.device, expect=2)
        ext = DiskMount(RawDisk(None, found[2]), str(tmp_path / "check"), ops="ro")
        ext.mount()
        assert (tmp_path / "check" / "vmlinuz").read_text() == "kernel"
        ext.cleanup()
    finally:
        check.cleanup()


def test_sparse_ext_image_loop_mounted_resized_resparsed_and_squashed(tmp_path: Path) -> None:
    image = tmp_path / "ext.img"
    mnt = tmp_path / "mnt"
    sparse = SparseExtLoopbackMount(str(image), str(mnt), 32 * MIB, "ext4", 4096, "upstream")
    try:
        sparse.mount()
        (mnt / "hello").write_text("world")
    finally:
        sparse.cleanup()
    sparse.cleanup()
    assert not mnt.exists() and not _attached(tmp_path)
    assert _blkid(str(image), "LABEL") == "_upstream"
    assert fsck(str(image), "ext4") == 0

    minimal = sparse.resparse(32 * MIB)
    assert 0 < minimal < 32 * MIB and os.path.getsize(image) == 32 * MIB
    assert resizefs(str(image), "ext4", 48 * MIB) == 0
    host_fs.make_sparse(image, 48 * MIB)

    # an existing image is resized to the disk's size, never formatted again: its file is still there
    again = ExtDiskMount(SparseLoopbackDisk(str(image), 64 * MIB), str(mnt), "ext4", 4096, "upstream")
    try:
        again.mount(ops="noatime")
        assert (mnt / "hello").read_text() == "world"
    finally:
        again.cleanup()
    assert os.path.getsize(image) == 64 * MIB

    loop = LoopbackMount(str(image), str(mnt))
    try:
        loop.mount(ops="ro")
        assert (mnt / "hello").read_text() == "world"
        loop.loopsetup()
        assert loop.loopdev is not None and loop.loopdev.startswith("/dev/loop")
        assert unmount_all(str(image)) is True, "the image's loop device was mounted"
        assert not os.path.ismount(mnt)
        assert unmount_all(str(image)) is None
    finally:
        loop.cleanup()  # its mount is gone already: nothing to do but detach
    loop.cleanup()
    assert not _attached(tmp_path)



def test_mksquashfs_and_a_squashfs_loop_mounted(tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "file").write_text("in the squashfs")
    mksquashfs(str(tree), str(tmp_path / "default.img"), None)
    assert squashfs_compression_type(str(tmp_path / "default.img")) == "gzip"
    mksquashfs(str(tree), str(tmp_path / "zstd.img"), "zstd", ["-b", "64K"])
    assert squashfs_compression_type(str(tmp_path / "zstd.img")) == "zstd"
    sq = LoopbackMount(str(tmp_path / "zstd.img"), str(mnt), fstype="squashfs")
    try:
        sq.mount()
        assert (mnt / "file").read_text() == "in the squashfs"
        assert "ro" in subprocess.run(["findmnt", "-no", "OPTIONS", str(mnt)], capture_output=True,
                                      text=True).stdout.split(",")
    finally:
        sq.cleanup()


def test_cleanup_after_errors_leaves_nothing_attached_or_mounted(tmp_path: Path) -> None:
    before = leak_snapshot()
    with pytest.raises(MountError):
        LoopbackDisk(str(tmp_path / "missing.img"), 0).create()
    # formatted and attached, then the mount fails (the mount point is a file): cleanup() still detaches
    (tmp_path / "notadir").write_text("")
    ext = ExtDiskMount(SparseLoopbackDisk(str(tmp_path / "e.img"), 16 * MIB), str(tmp_path / "notadir"),
                       "ext4", 4096, "x")
    with pytest.raises((MountError, OSError)):
        ext.mount()
    ext.cleanup()
    assert not _attached(tmp_path)
    # mounted, then the caller's code fails: the ``finally`` cleanup unmounts and detaches
    mounted = DiskMount(LoopbackDisk(str(tmp_path / "e.img"), 0), str(tmp_path / "m"))
    with pytest.raises(RuntimeError):
        try:
            mounted.mount()
            raise RuntimeError("the client's step failed")
        finally:
            mounted.cleanup()
    # device-mapper: made where the kernel has it; refused with SnapshotError, loops released, where it has not
    cow = SparseLoopbackDisk(str(tmp_path / "cow.img"), 8 * MIB)
    snap = DeviceMapperSnapshot(LoopbackDisk(str(tmp_path / "e.img"), 0), cow)
    try:
        snap.create()
        assert snap.path is not None and os.path.exists(snap.path)
        assert snap.get_cow_used() >= 0
    except SnapshotError:
        assert snap.path is None
    finally:
        snap.cleanup()
    (leak_snapshot() - before).assert_none()
    assert not _attached(tmp_path)


def test_bind_into_a_chroot_never_follows_a_link_out_of_it(tmp_path: Path) -> None:
    root, outside, src = tmp_path / "root", tmp_path / "outside", tmp_path / "src"
    for d in (root, outside, src):
        d.mkdir()
    (src / "data").write_text("bound")
    (root / "etc").symlink_to(outside)  # absolute: inside the chroot it means root/<outside>
    assert chrootentitycheck(["/bin/true"], str(root)) is False, "nothing to run in an empty root"
    bind = BindChrootMount(str(src), str(root), "/etc/pki", ops="ro")
    try:
        bind.mount()
        assert not (outside / "pki").exists(), "the mount point was made through the link, on the host"
        inside = root / str(outside).lstrip("/") / "pki"
        assert (inside / "data").read_text() == "bound"
        with pytest.raises(OSError):
            (inside / "new").write_text("read-only")
    finally:
        bind.cleanup()
    bind.cleanup()
    assert not os.path.ismount(root / str(outside).lstrip("/") / "pki")


def test_overlayfs_and_live_image_mounts(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "os-release").write_text("NAME=test\n")
    medium = tmp_path / "medium"
    (medium / "LiveOS").mkdir(parents=True)
    mksquashfs(str(tree), str(medium / "LiveOS" / "squashfs.img"), "gzip")

    upper = tmp_path / "upper"
    upper.mkdir()
    ovl = OverlayFSMount("overlay", LoopbackDisk(str(medium / "LiveOS" / "squashfs.img"), None, "-r"), str(upper),
                         dest=str(tmp_path / "ovl"))
    try:
        ovl.mount()
        assert (tmp_path / "ovl" / "etc" / "os-release").read_text() == "NAME=test\n"
        (tmp_path / "ovl" / "written").write_text("up")
    finally:
        ovl.cleanup()
    ovl.cleanup()
    assert (upper / "written").read_text() == "up"

    live = LiveImageMount(str(medium), str(tmp_path / "live"))
    try:
        live.mount()
        assert (tmp_path / "live" / "etc" / "os-release").read_text() == "NAME=test\n"
        assert live.liveosdir == str(medium / "LiveOS")
    finally:
        live.cleanup()
    live.cleanup()
    assert not os.path.ismount(tmp_path / "live") and not _attached(tmp_path)


def test_live_image_mount_makes_persistent_overlays_dracut_and_it_read(tmp_path: Path) -> None:
    """make_overlay() writes the medium's overlay-* in dracut's formats; the next mount finds it and shows the
    root through it (an empty ext overlay, then an unused snapshot store: the root as it was)."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "marker").write_text("root")
    medium = tmp_path / "medium"
    (medium / "LiveOS").mkdir(parents=True)
    mksquashfs(str(tree), str(medium / "LiveOS" / "squashfs.img"), "gzip")
    live = LiveImageMount(str(medium), str(tmp_path / "live"))
    for fstype, size in (("ext4", 8 * MIB), ("", 4 * MIB)):
        path, _uuid = live.make_overlay(size=size, ovl_fstype=fstype)
        assert os.path.dirname(path) == str(medium / "LiveOS") and os.path.basename(path).startswith("overlay-")
        assert os.path.getsize(path) == size
        assert _blkid(path, "TYPE") == (fstype or "")
        if fstype:  # what the live system wrote, as dracut keeps it: the next mount shows it
            written = LoopbackMount(path, str(tmp_path / "ovl"))
            try:
                written.mount()
                (tmp_path / "ovl" / "overlayfs" / "added").write_text("by the live system")
            finally:
                written.cleanup()
            try:
                live.mount()
                assert (tmp_path / "live" / "added").read_text() == "by the live system"
            finally:
                live.cleanup()
        live.reset_overlay()
        try:
            live.mount()
            assert (tmp_path / "live" / "marker").read_text() == "root"
            assert not (tmp_path / "live" / "added").exists(), "reset_overlay() forgot what was written"
        finally:
            live.cleanup()
        os.remove(path)
    assert not _attached(tmp_path)
