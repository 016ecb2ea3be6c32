"""Every packer a live build or a loop image goes through, on one small tree: ``python -m tests.repro_pack OUT``.

tests/integration/test_reproducible.py runs this twice, in different folders and the second time under
``faketime`` with the clock a week on, and compares each output byte for byte: the packer x compressor part of
the reproducibility matrix, without a full build per combination.  The tree is made fresh each time (its times
are the clock's, after the epoch, as a build's are), with the kinds of entry a root holds: folders, files, an
empty and a sparse file, a symbolic and a hard link, a FIFO, a device node, an extended attribute.

faketime's variables are passed on to the tools too (imgcreate.run gives commands a clean environment without
them otherwise), so mksquashfs, tar, tar2sqfs, mkfs.erofs, mke2fs, mkfs.vfat, mtools and xorriso all see the
moved clock; only $SOURCE_DATE_EPOCH may decide the times they write.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

EPOCH = 1700000000
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
    try:
        os.setxattr(tree / "etc/hostname", "user.repro", b"x")
    except OSError:
        pass  # a filesystem without user xattrs (tmpfs before 6.6)
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


def packers(work: Path, out: Path) -> dict[str, Callable[[], Path]]:
    """name -> a function making ``out/<name>`` (the file compared) from the trees in *work*."""
    from imgcreate import erofs, iso, reproducible, squashfs

    tree, sparse = work / "tree", work / "sparse"

    def mksquashfs(comp: str | None) -> Callable[[], Path]:
        return lambda: _made(out / f"mksquashfs-{comp}", lambda o: squashfs.mksquashfs(tree, o, comp, False))

    def pack_sparse(comp: str) -> Callable[[], Path]:
        return lambda: _made(out / f"sparse-{comp}", lambda o: squashfs.pack_sparse(sparse, o, comp, False))

    def mkfs_erofs(comp: str | None) -> Callable[[], Path]:
        return lambda: _made(out / f"erofs-{comp}", lambda o: erofs.mkfs_erofs(tree, o, comp))

    def ext4() -> Path:
        return _made(out / "ext4", lambda o: reproducible.ext_from_tree(tree, o, 32 << 20, "ext4", "REPRO", EPOCH,
                                                                         work))

    def efiboot() -> Path:
        return _made(out / "efiboot", lambda o: iso.make_efiboot(o, {"EFI/BOOT/BOOTX64.EFI": tree / "usr/bin/tool",
                                                                    "EFI/BOOT/grub.cfg": tree / "etc/hostname"}))

    def live_iso() -> Path:
        """A hybrid ISO (MBR, GPT with the EFI image appended, El Torito) around an uncompressed rootfs.img
        (the -s layout) and the squashfs of the sparse root, with the md5 implanted."""
        isotree = work / "iso"
        (isotree / "LiveOS").mkdir(parents=True)
        (isotree / "images").mkdir()
        with open(isotree / "LiveOS/rootfs.img", "wb") as f:  # -s: the ext image itself on the ISO
            f.truncate(4 << 20)
        squashfs.pack_sparse(sparse, isotree / "LiveOS/squashfs.img", "xz", False)
        (isotree / "images/eltorito.img").write_bytes(b"\x90" * 8192)
        iso.make_efiboot(isotree / "images/efiboot.img", {"EFI/BOOT/grub.cfg": tree / "etc/hostname"})
        mbr = work / "mbr.bin"
        mbr.write_bytes(b"\0" * 446)
        spec = iso.IsoSpec(tree=isotree, volume_id="REPRO", bios=iso.BiosBootloader.GRUB2, mbr=mbr,
                           efiboot="images/efiboot.img")

        def master(o: Path) -> None:
            iso.master_iso(spec, o)
            iso.implant_md5(o)

        return _made(out / "iso", master)

    made: dict[str, Callable[[], Path]] = {}
    for comp in ("xz", "zstd", "lz4", "gzip", None):
        made[f"mksquashfs-{comp}"] = mksquashfs(comp)
    for comp in ("xz", "zstd", "gzip", "lz4"):  # tar2sqfs, except lz4: mksquashfs
        made[f"sparse-{comp}"] = pack_sparse(comp)
    for ecomp in ("lz4", "lz4hc", None):
        made[f"erofs-{ecomp}"] = mkfs_erofs(ecomp)
    made.update({"ext4": ext4, "efiboot": efiboot, "iso": live_iso})
    return made


def _made(output: Path, make: Callable[[Path], None]) -> Path:
    make(output)
    return output


def main(out: Path) -> None:
    from imgcreate import reproducible, run

    reproducible.enable(EPOCH)
    run.PASSED_ON = (*run.PASSED_ON, *_FAKETIME_ENV)  # the tools see the moved clock too
    work = out / "work"
    make_tree(work / "tree")
    make_sparse_root(work / "sparse")
    for make in packers(work, out).values():
        make()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
