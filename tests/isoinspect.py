"""Reading an ISO without mounting it (this kernel has no iso9660 driver): xorriso and mtools; and its live root
(squashfs-tools, debugfs)."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path


def _xorriso(iso: Path, *args: str) -> str:
    proc = subprocess.run(["xorriso", "-abort_on", "FAILURE", "-indev", str(iso), *args],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"xorriso {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return proc.stdout + proc.stderr


def volume_id(iso: Path) -> str:
    for line in _xorriso(iso, "-pvd_info").splitlines():
        if line.startswith("Volume Id"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no Volume Id in xorriso -pvd_info")


def files(iso: Path) -> set[str]:
    out = _xorriso(iso, "-find", "/", "-type", "f", "-exec", "lsdl")
    names = set()
    for line in out.splitlines():
        if line.startswith("-"):
            names.add(line.split("'", 1)[1].rstrip("'"))
    return names


def el_torito(iso: Path) -> str:
    return _xorriso(iso, "-report_el_torito", "plain")


def system_area(iso: Path) -> str:
    """xorriso's report of the ISO's system area: its MBR, GPT and Apple partition map entries."""
    return _xorriso(iso, "-report_system_area", "plain")


def read(iso: Path, path: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "f"
        _xorriso(iso, "-osirrox", "on", "-extract", path, str(dest))
        return dest.read_bytes()


def read_text(iso: Path, path: str) -> str:
    return read(iso, path).decode()


def efiboot_files(iso: Path) -> dict[str, bytes]:
    """The files inside images/efiboot.img (the FAT image UEFI firmware boots from)."""
    with tempfile.TemporaryDirectory() as tmp:
        img = Path(tmp) / "efiboot.img"
        img.write_bytes(read(iso, "/images/efiboot.img"))
        out = subprocess.run(["mdir", "-i", str(img), "-/", "-b", "::/"], capture_output=True, text=True,
                             check=True).stdout
        result = {}
        for name in out.split():
            if name.endswith("/"):
                continue
            data = subprocess.run(["mtype", "-i", str(img), name], capture_output=True, check=True).stdout
            result[name.replace("::/", "")] = data
        return result


def hybrid_tables(iso: Path) -> tuple[bool, bool]:
    """(MBR with a partition, GPT header) at the start of the ISO: what makes it boot from a USB stick."""
    with open(iso, "rb") as f:
        head = f.read(1024)
    mbr = head[510:512] == b"\x55\xaa" and any(head[446 + 16 * i + 4] != 0 for i in range(4))
    gpt = head[512:520] == b"EFI PART"
    return mbr, gpt


def squashfs_image(iso: Path, tmp: Path) -> Path:
    """The ISO's /LiveOS/squashfs.img, copied to ``<tmp>/<iso stem>-squashfs.img``."""
    dest = tmp / f"{iso.stem}-squashfs.img"
    dest.write_bytes(read(iso, "/LiveOS/squashfs.img"))
    return dest


def squashfs_info(squashfs: Path) -> str:
    """``unsquashfs -s``: the superblock, with its compression."""
    return subprocess.run(["unsquashfs", "-s", str(squashfs)], capture_output=True, text=True, check=True).stdout


def unsquash(squashfs: Path, dest: Path) -> Path:
    """Unpack *squashfs* into *dest*; returns *dest*."""
    subprocess.run(["unsquashfs", "-d", str(dest), str(squashfs)], check=True, capture_output=True)
    return dest


def rootfs_of(iso: Path, tmp: Path) -> Path:
    """The live root filesystem image (LiveOS/rootfs.img inside the squashfs), unpacked below *tmp*."""
    return unsquash(squashfs_image(iso, tmp), tmp / f"{iso.stem}-sq") / "LiveOS/rootfs.img"


def debugfs(image: Path, request: str) -> str:
    """What ``debugfs -R REQUEST`` prints about an ext image (e.g. ``cat /etc/fstab``), without mounting it."""
    return subprocess.run(["debugfs", "-R", request, str(image)], capture_output=True, text=True).stdout


def free_extents(image: Path) -> int:
    """How many runs of free blocks the ext filesystem in *image* has (e2freefrag): 1-2 once minimized."""
    out = subprocess.run(["e2freefrag", str(image)], capture_output=True, text=True, check=True).stdout
    found = re.search(r"^Num\. free extent: (\d+)$", out, re.MULTILINE)
    assert found, out
    return int(found.group(1))
