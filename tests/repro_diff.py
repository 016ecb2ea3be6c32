"""Why two images that should be bit-identical are not: the first thing inside that differs, named as one would
look for it (an ISO entry, a squashfs or EROFS entry, an ext inode, a FAT file), down through the nesting of
live media (ISO -> LiveOS/squashfs.img -> LiveOS/rootfs.img -> /etc/...).

A reproducibility test that only says "the sha256 differs" leaves the reader to unpack two ISOs by hand;
:func:`assert_identical` does that when (and only when) they differ: both images are unpacked with the format's
own tools (xorriso, unsquashfs, fsck.erofs, debugfs, mtools; nothing is mounted), their entries compared (kind,
mode, owner, size, time, link target, content), and a differing file that is itself an image is explained the
same way.  When every entry matches, the metadata the unpacked files cannot show is compared: the superblock
(volume descriptors, creation time, UUID, hash seed) and each entry as the format's tool reports it (change and
creation times, inode numbers); last, the offset of the first differing byte.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

_ENV = {"LC_ALL": "C", "TZ": "UTC", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def assert_identical(a: Path, b: Path, work: Path) -> None:
    """Fail, naming what inside differs, unless *a* and *b* have the same bytes.  *work*: room to unpack."""
    if first_difference(a, b) is None:
        return
    raise AssertionError(f"{a} and {b} differ: {explain(a, b, work)}")


def first_difference(a: Path, b: Path) -> int | None:
    """The offset of the first differing byte (the shorter file's size when one is a prefix); None if equal."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        offset = 0
        while True:
            ca, cb = fa.read(1 << 20), fb.read(1 << 20)
            if ca != cb:
                return offset + next((i for i, (x, y) in enumerate(zip(ca, cb)) if x != y), min(len(ca), len(cb)))
            if not ca:
                return None
            offset += len(ca)


def kind_of(path: Path) -> str:
    """iso, squashfs, erofs, ext, fat or file: what the bytes at the formats' magic offsets say."""
    with open(path, "rb") as f:
        head = f.read(0x8006)
    if head[0x8001:0x8006] == b"CD001":
        return "iso"
    if head[:4] == b"hsqs":
        return "squashfs"
    if head[1024:1028] == b"\xe2\xe1\xf5\xe0":
        return "erofs"
    if head[1080:1082] == b"\x53\xef":
        return "ext"
    if head[510:512] == b"\x55\xaa" and (head[54:57] == b"FAT" or head[82:87] == b"FAT32"):
        return "fat"
    return "file"


@dataclass(frozen=True)
class Format:
    """How to look inside one kind of image: unpack it into a folder; its header (superblock, volume
    descriptors); each entry's metadata as the format's own tool reports it."""

    unpack: Callable[[Path, Path], None]
    header: Callable[[Path], str]
    entries: Callable[[Path, list[str]], dict[str, str]]


def explain(a: Path, b: Path, work: Path) -> str:
    """What differs between the images *a* and *b* (one paragraph, nested images followed)."""
    offset = first_difference(a, b)
    if offset is None:
        return "nothing (the same bytes)"
    kind, kind_b = kind_of(a), kind_of(b)
    sizes = f"{a.stat().st_size} vs {b.stat().st_size} bytes"
    if kind != kind_b or kind not in FORMATS:
        return f"first differing byte at offset {offset} ({kind} vs {kind_b}, {sizes})"
    fmt = FORMATS[kind]
    work.mkdir(parents=True, exist_ok=True)
    trees = []
    for image, name in ((a, "a"), (b, "b")):
        dest = work / name
        fmt.unpack(image, dest)
        trees.append(dest)
    entry = _compare_trees(*trees)
    if entry is not None:
        path, what = entry
        text = f"{kind} entry {path}: {what}"
        inner_a, inner_b = trees[0] / path.lstrip("/"), trees[1] / path.lstrip("/")
        if what.startswith("content") and kind_of(inner_a) in FORMATS:
            text += " -> " + explain(inner_a, inner_b, work / ("in" + re.sub(r"\W", "_", path)))
        return text
    paths = _paths(trees[0])
    for label, left, right in (("header", fmt.header(a), fmt.header(b)), *_entry_pairs(fmt, a, b, paths)):
        left, right = left.replace(str(a), "IMAGE"), right.replace(str(b), "IMAGE")
        if left != right:
            return f"{kind} {label}: {_first_changed_line(left, right)}"
    return f"{kind}: every entry and the header are the same, first differing byte at offset {offset} ({sizes})"


def _entry_pairs(fmt: Format, a: Path, b: Path, paths: list[str]) -> list[tuple[str, str, str]]:
    ea, eb = fmt.entries(a, paths), fmt.entries(b, paths)
    return [(f"entry {p}", ea.get(p, ""), eb.get(p, "")) for p in paths]


def _first_changed_line(left: str, right: str) -> str:
    diff = [d for d in difflib.ndiff(left.splitlines(), right.splitlines()) if d[:1] in "-+"]
    old = next((d[2:].strip() for d in diff if d.startswith("-")), "(nothing)")
    new = next((d[2:].strip() for d in diff if d.startswith("+")), "(nothing)")
    return f"'{old}' vs '{new}'"


# -- comparing unpacked trees ----------------------------------------------------------------------------------

def _paths(tree: Path) -> list[str]:
    out = ["/"]
    for top, dirs, files in os.walk(tree):
        dirs.sort()
        base = "/" + str(Path(top).relative_to(tree)).lstrip(".")
        out.extend(f"{base.rstrip('/')}/{name}" for name in sorted(dirs + files))
    return sorted(set(out))


def _describe(path: Path) -> dict[str, str]:
    st = path.lstat()
    out = {"kind": stat.filemode(st.st_mode)[0], "mode": oct(stat.S_IMODE(st.st_mode)), "owner":
           f"{st.st_uid}:{st.st_gid}", "mtime": _time(st.st_mtime)}
    if stat.S_ISLNK(st.st_mode):  # its time and mode are the unpacker's (debugfs cannot set them): see entries
        del out["mtime"], out["mode"]
        out["target"] = os.readlink(path)
    elif stat.S_ISREG(st.st_mode):
        out["size"] = str(st.st_size)
        out["content"] = _sha256(path)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        out["device"] = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    return out


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S") + f" ({int(seconds)})"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _compare_trees(a: Path, b: Path) -> tuple[str, str] | None:
    """The first entry (in name order) that differs: (path, what differs), e.g. ("/LiveOS", "mtime ... vs ...")."""
    pa, pb = set(_paths(a)), set(_paths(b))
    for path in sorted(pa | pb):
        if path not in pb or path not in pa:
            return path, "only in the " + ("first" if path in pa else "second")
        da, db = _describe(a / path.lstrip("/")), _describe(b / path.lstrip("/"))
        for key in ("kind", "mode", "owner", "target", "device", "mtime"):
            if da.get(key) != db.get(key):
                return path, f"{key} {da.get(key)} vs {db.get(key)}"
        if da.get("size") != db.get("size"):
            return path, f"content (size {da.get('size')} vs {db.get('size')})"
        if da.get("content") != db.get("content"):
            return path, "content"
    return None


# -- the formats ---------------------------------------------------------------------------------------------

def _run(*argv: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", env=_ENV)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout + proc.stderr


def _writable(tree: Path) -> None:
    """Extracted ISO folders are read-only: make them removable by the test's cleanup."""
    for top, dirs, _files in os.walk(tree):
        for d in [top, *(os.path.join(top, x) for x in dirs)]:
            os.chmod(d, os.stat(d).st_mode | stat.S_IWUSR)


def _iso_unpack(image: Path, dest: Path) -> None:
    _run("xorriso", "-no_rc", "-osirrox", "on", "-indev", str(image), "-extract", "/", str(dest))
    _writable(dest)


def _iso_header(image: Path) -> str:
    return _run("xorriso", "-no_rc", "-indev", str(image), "-pvd_info", "-report_el_torito", "plain",
                "-report_system_area", "plain")


def _iso_entries(image: Path, paths: list[str]) -> dict[str, str]:
    out = _run("xorriso", "-no_rc", "-indev", str(image), "-find", "/", "-exec", "lsdl", "--", "-find", "/",
               "-exec", "report_lba")
    found: dict[str, str] = {}
    for line in out.splitlines():
        m = re.search(r"'(/[^']*)'\s*$", line)
        if m:
            found[m.group(1)] = found.get(m.group(1), "") + line + "\n"
    return found


def _squashfs_unpack(image: Path, dest: Path) -> None:
    _run("unsquashfs", "-no-progress", "-d", str(dest), str(image))


def _squashfs_header(image: Path) -> str:
    return _run("unsquashfs", "-s", str(image))


def _squashfs_entries(image: Path, paths: list[str]) -> dict[str, str]:
    out = _run("unsquashfs", "-lls", "-d", "", str(image))
    return {line.split(None, 5)[-1].split(" -> ")[0] or "/": line for line in out.splitlines()
            if line[:1] in "-dlcbps" and len(line.split(None, 5)) == 6}


def _erofs_unpack(image: Path, dest: Path) -> None:
    _run("fsck.erofs", f"--extract={dest}", "--preserve", str(image))


def _erofs_header(image: Path) -> str:
    return _run("dump.erofs", "-s", str(image))


def _erofs_entries(image: Path, paths: list[str]) -> dict[str, str]:
    return {p: _run("dump.erofs", f"--path={p}", str(image)) for p in paths}


def _ext_unpack(image: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    _run("debugfs", "-R", f"rdump / {dest}", str(image))  # the root's entries into DEST itself


def _ext_header(image: Path) -> str:
    return _run("dumpe2fs", "-h", str(image))


def _ext_entries(image: Path, paths: list[str]) -> dict[str, str]:
    """``debugfs stat`` of every path (inode number, change and creation times, extents), in one debugfs run."""
    script = "".join(f'stat "{p}"\n' for p in paths)
    proc = subprocess.run(["debugfs", "-f", "-", str(image)], input=script, capture_output=True, text=True,
                          errors="replace", env=_ENV)
    found: dict[str, str] = {}
    current = None
    for line in proc.stdout.splitlines():
        m = re.match(r'debugfs: stat "(.*)"$', line)
        if m:
            current = m.group(1)
            found[current] = ""
        elif current is not None:
            found[current] += line + "\n"
    return found


def _fat_unpack(image: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    _run("mcopy", "-s", "-m", "-n", "-i", str(image), "::/", str(dest))


def _fat_header(image: Path) -> str:
    return _run("minfo", "-i", str(image), "::")


def _fat_entries(image: Path, paths: list[str]) -> dict[str, str]:
    return {"/": _run("mdir", "-i", str(image), "-/", "-a", "::/")}


FORMATS: dict[str, Format] = {
    "iso": Format(_iso_unpack, _iso_header, _iso_entries),
    "squashfs": Format(_squashfs_unpack, _squashfs_header, _squashfs_entries),
    "erofs": Format(_erofs_unpack, _erofs_header, _erofs_entries),
    "ext": Format(_ext_unpack, _ext_header, _ext_entries),
    "fat": Format(_fat_unpack, _fat_header, _fat_entries),
}
