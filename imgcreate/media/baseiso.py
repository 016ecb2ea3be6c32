"""Reading an earlier live ISO to start a build from (``--base-on``), whatever layout it has.

A live ISO carries its root in one of three ways, and each is a valid base:

- ``LiveOS/squashfs.img`` holding ``LiveOS/rootfs.img`` (or the older ``LiveOS/ext3fs.img``): an ext image;
- ``LiveOS/squashfs.img`` holding the root tree itself (``--flat-squashfs``, Fedora 37+ style);
- ``LiveOS/rootfs.img`` directly on the ISO (``--skip-compression``).

``LiveOS/squashfs.img`` may also be EROFS (``--rootfs-type erofs``/``erofs-ext4``, Fedora 42+ media): it is
loop-mounted read-only (the kernel reads EROFS; erofs-utils 1.5 cannot extract ownership and xattrs faithfully)
and its rootfs.img copied out sparsely, or its flat tree repacked as an uncompressed squashfs, the form of a flat
base the root storage unpacks.

Upstream 31 handles only the first and fails on the others (a flat base's squashfs is copied where an ext image
is expected); reading all three is what its later versions aim at.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from imgcreate.errors import CreatorError
from imgcreate.host import fs
from imgcreate.host.run import run
from imgcreate.media import liveiso

log = logging.getLogger("imgcreate")



@dataclass(frozen=True)
class BaseImage:
    """The root of a base ISO: *root* is an ext filesystem image, or (*is_tree*) a squashfs of the root tree.
    *compression* is the compressor of the ISO's squashfs.img (None when it had none)."""

    root: Path
    is_tree: bool
    compression: str | None


def squashfs_compression(squashfs: Path) -> str | None:
    """The compressor a squashfs was made with (``unsquashfs -s``), e.g. "xz" or "zstd"; None if unknown."""
    out = run(["unsquashfs", "-s", str(squashfs)], what=f"Reading the superblock of {squashfs}",
              env={"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}).stdout
    for line in out.splitlines():
        if line.startswith("Compression "):
            return line.split()[1]
    return None


def read_base_iso(iso: Path, workdir: Path) -> BaseImage:
    """Take the root out of the live ISO *iso*, into *workdir*."""
    if not iso.is_file():
        raise CreatorError(f"--base-on: '{iso}' is not a file.")
    workdir.mkdir(parents=True, exist_ok=True)
    liveos = workdir / "LiveOS"
    run(["xorriso", "-osirrox", "on", "-indev", str(iso), "-extract", "/LiveOS", str(liveos)],
        what=f"Reading LiveOS/ from {iso}")
    squashfs = liveos / "squashfs.img"
    if squashfs.is_file():
        layout, inner, is_erofs = liveiso.image_content(squashfs)
        if layout is None:
            kind = "EROFS " if is_erofs else ""
            raise CreatorError(
                f"--base-on: the {kind}LiveOS/squashfs.img of '{iso}' holds neither LiveOS/rootfs.img nor a root "
                "tree."
            )
        return (_from_erofs if is_erofs else _from_squashfs)(iso, squashfs, workdir, inner)
    if (liveos / "rootfs.img").is_file():
        return BaseImage(root=liveos / "rootfs.img", is_tree=False, compression=None)
    raise CreatorError(
        f"--base-on: '{iso}' is not a live ISO: it has neither LiveOS/squashfs.img nor LiveOS/rootfs.img."
    )


# What upstream's live _base_on copies from the base ISO's isolinux/ (the kernels' initrds and Xen hypervisors
# upstream's syslinux menus boot as initrd<N>.img and xen<N>.gz): the originals in /boot were removed when the base
# ISO was made, so the new ISO must carry them over.
_ISOLINUX_EXTRAS = re.compile(r"(initrd\d+\.img|xen\d+\.gz)")


def copy_isolinux_extras(iso: Path, isodir: Path) -> list[str]:
    """Copy the base ISO's ``/isolinux/initrd<N>.img`` and ``/isolinux/xen<N>.gz`` into ``isodir/isolinux/``,
    as upstream's live ``_base_on``; returns the names copied (none: the base has no such files, e.g. one with
    this library's GRUB 2 layout)."""
    listing = run(["xorriso", "-indev", str(iso), "-find", "/isolinux", "-type", "f"], check=False,
                  what=f"Listing isolinux/ of {iso}").stdout
    paths = [line.strip().strip("'") for line in listing.splitlines() if line.startswith("'/isolinux/")]
    names = sorted(p.rsplit("/", 1)[1] for p in paths
                   if p.count("/") == 2 and _ISOLINUX_EXTRAS.search(p.rsplit("/", 1)[1]))
    if not names:
        return []
    dest = isodir / "isolinux"
    dest.mkdir(parents=True, exist_ok=True)
    pairs = [arg for name in names for arg in ("-extract", f"/isolinux/{name}", str(dest / name))]
    run(["xorriso", "-osirrox", "on", "-indev", str(iso), *pairs], what=f"Copying {', '.join(names)} from {iso}")
    for name in names:
        (dest / name).chmod(0o644)  # xorriso keeps the ISO's read-only modes
    log.info("copied %s from the base ISO's isolinux/", ", ".join(names))
    return names


def _from_squashfs(iso: Path, squashfs: Path, workdir: Path, inner: str | None) -> BaseImage:
    compression = squashfs_compression(squashfs)
    if inner is None:
        log.info("the base ISO %s has a flat root tree (%s)", iso, compression)
        return BaseImage(root=squashfs, is_tree=True, compression=compression)
    out = workdir / "sq"
    run(["unsquashfs", "-d", str(out), str(squashfs), inner], what=f"Unpacking {inner} from {iso}")
    image = workdir / "rootfs.img"
    shutil.move(str(out / inner), image)
    squashfs.unlink()
    return BaseImage(root=image, is_tree=False, compression=compression)


def _from_erofs(iso: Path, image: Path, workdir: Path, inner: str | None) -> BaseImage:
    """The root of an EROFS LiveOS/squashfs.img.  Its compression is reported as lz4hc: lz4 and lz4hc write the
    same LZ4 format, and lz4hc is what a distribution builds with."""
    mnt = workdir / "erofs-mount"
    mnt.mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        device = fs.attach_loop(stack, image, readonly=True)
        fs.mount(stack, device, mnt, fstype="erofs", options="ro")
        if inner is not None:
            out = workdir / "rootfs.img"
            run(["cp", "--sparse=always", str(mnt / inner), str(out)], what=f"Copying {inner} from {iso}")
            result = BaseImage(root=out, is_tree=False, compression="lz4hc")
        else:
            log.info("the base ISO %s has a flat EROFS root tree", iso)
            out = workdir / "tree.squashfs"
            run(["mksquashfs", str(mnt), str(out), "-noappend", "-noI", "-noD", "-noF", "-noX", "-no-progress"],
                what=f"Repacking the EROFS root tree of {iso}")
            result = BaseImage(root=out, is_tree=True, compression="lz4hc")
    image.unlink()
    return result
