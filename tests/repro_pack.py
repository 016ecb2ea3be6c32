"""Every packer a live build or a loop image goes through, on one small tree: ``python -m tests.repro_pack OUT``.

tests/integration/test_reproducible.py runs this twice, in different folders and the second time under
``faketime`` with the clock a week on, and compares each output byte for byte: the packer x compressor part of
the reproducibility matrix, without a full build per combination.  The tree is made fresh each time (its times
are the clock's, after the epoch, as a build's are), with the kinds of entry a root holds: folders, files, an
empty and a sparse file, a symbolic and a hard link, a FIFO, a device node, an extended attribute.

The epoch and faketime's variables are passed to the tools as a build passes its epoch
(imgcreate.host.run.passed_to_commands; commands get a clean environment without them otherwise), so mksquashfs,
tar, tar2sqfs, mkfs.erofs, mke2fs, mkfs.vfat, mtools and xorriso all see the moved clock; only $SOURCE_DATE_EPOCH
may decide the times they write.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from imgcreate.host import run
from imgcreate.media import iso
from imgcreate.pack import erofs, squashfs
from imgcreate.storage import reproducible

EPOCH = 1700000000
# What main() makes in OUT, one file each (the packers() keys).
NAMES = ("mksquashfs-xz", "mksquashfs-zstd", "mksquashfs-lz4", "mksquashfs-gzip", "mksquashfs-None",
         "sparse-xz", "sparse-zstd", "sparse-gzip", "sparse-lz4", "erofs-lz4", "erofs-lz4hc", "erofs-None",
         "ext4", "efiboot", "iso")
_FAKETIME_ENV = ("LD_PRELOAD", "FAKETIME", "FAKETIME_SHARED", "NO_FAKE_STAT", "DONT_FAKE_MONOTONIC")


def make_tree(tree: Path, sparse_mib: int = 64) -> None:
    """A small root-like tree, every time the clock's."""
    (tree / "etc").mkdir(parents=True)
    (tree / "usr/bin").mkdir(parents=True)
    (tree / "dev").mkdir()
    (tree / "etc/hostname").write_text("repro\n")
    (tree / "etc/empty").write_bytes(b"")
    (tree / "usr/bin/tool").write_bytes(bytes(range(256)) * 600)
    (tree / "usr/bin/tool").chmod(0o755)
    os.link(tree / "usr/bin/tool", tree / "usr/bin/tool-again")
    os.symlink("../usr/bin/tool", tree / "etc/tool-link")
    os.mkfifo(tree / "dev/fifo")
    os.mknod(tree / "dev/null", 0o20666, os.makedev(1, 3))
    with contextlib.suppress(OSError):  # a filesystem without user xattrs (tmpfs before 6.6)
        os.setxattr(tree / "etc/hostname", "user.repro", b"x")
    sparse = tree / "var/sparse.img"
    sparse.parent.mkdir()
    with open(sparse, "wb") as f:
        f.truncate(sparse_mib << 20)
        f.seek(1 << 20)
        f.write(b"data in the middle of holes\n")


def make_sparse_root(folder: Path) -> None:
    """What a live build hands to pack_sparse: a folder with LiveOS/rootfs.img, a big sparse file (its bytes
    made the same each time: an ext image's would carry a random UUID)."""
    (folder / "LiveOS").mkdir(parents=True)
    with open(folder / "LiveOS/rootfs.img", "wb") as f:
        f.truncate(128 << 20)
        for offset in (0, 3 << 20, 100 << 20):
            f.seek(offset)
            f.write(bytes(range(256)) * 64)


Packer = Callable[[Path, Path], None]  # (work folder holding tree/ and sparse/, output file)


def _mksquashfs(comp: str | None) -> Packer:
    return lambda work, output: squashfs.mksquashfs(work / "tree", output, comp, False)


def _pack_sparse(comp: str) -> Packer:
    return lambda work, output: squashfs.pack_sparse(work / "sparse", output, comp, False, epoch=EPOCH)


def _mkfs_erofs(comp: str | None) -> Packer:
    return lambda work, output: erofs.mkfs_erofs(work / "tree", output, comp, EPOCH)


def _ext4(work: Path, output: Path) -> None:
    reproducible.ext_from_tree(work / "tree", output, 32 << 20, "ext4", "REPRO", EPOCH, work)


def _efiboot(work: Path, output: Path) -> None:
    iso.make_efiboot(output, {"EFI/BOOT/BOOTX64.EFI": work / "tree/usr/bin/tool",
                              "EFI/BOOT/grub.cfg": work / "tree/etc/hostname"}, EPOCH)


def _live_iso(work: Path, output: Path) -> None:
    """A hybrid ISO (MBR, GPT with the EFI image appended, El Torito) around an uncompressed rootfs.img (the -s
    layout) and the squashfs of the sparse root, with the md5 implanted."""
    isotree = work / "iso"
    (isotree / "LiveOS").mkdir(parents=True)
    (isotree / "images").mkdir()
    with open(isotree / "LiveOS/rootfs.img", "wb") as f:  # -s: the ext image itself on the ISO
        f.truncate(4 << 20)
    squashfs.pack_sparse(work / "sparse", isotree / "LiveOS/squashfs.img", "xz", False, epoch=EPOCH)
    (isotree / "images/eltorito.img").write_bytes(b"\x90" * 8192)
    iso.make_efiboot(isotree / "images/efiboot.img", {"EFI/BOOT/grub.cfg": work / "tree/etc/hostname"}, EPOCH)
    mbr = work / "mbr.bin"
    mbr.write_bytes(b"\0" * 446)
    iso.master_iso(iso.IsoSpec(tree=isotree, volume_id="REPRO", bios=iso.BiosBootloader.GRUB2, mbr=mbr,
                               efiboot="images/efiboot.img", epoch=EPOCH), output)
    iso.implant_md5(output)


def packers() -> dict[str, Packer]:
    """name -> the packer making ``OUT/<name>``: each compressor of mksquashfs on a tree, of tar2sqfs (lz4:
    mksquashfs) on the sparse root, of mkfs.erofs; mke2fs -d; the FAT image; the ISO."""
    made: dict[str, Packer] = {}
    for comp in ("xz", "zstd", "lz4", "gzip", None):
        made[f"mksquashfs-{comp}"] = _mksquashfs(comp)
    for comp in ("xz", "zstd", "gzip", "lz4"):
        made[f"sparse-{comp}"] = _pack_sparse(comp)
    for ecomp in ("lz4", "lz4hc", None):
        made[f"erofs-{ecomp}"] = _mkfs_erofs(ecomp)
    return {**made, "ext4": _ext4, "efiboot": _efiboot, "iso": _live_iso}


def main(out: Path) -> None:
    moved_clock = {k: os.environ[k] for k in _FAKETIME_ENV if k in os.environ}  # the tools see it too
    with run.passed_to_commands({**reproducible.command_env(EPOCH), **moved_clock}):
        _make_all(out)


def _make_all(out: Path) -> None:
    work = out / "work"
    make_tree(work / "tree")
    make_sparse_root(work / "sparse")
    made = packers()
    assert tuple(made) == NAMES, f"tests/repro_pack.py: NAMES should be {tuple(made)}"
    for name, pack in made.items():
        pack(work, out / name)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
