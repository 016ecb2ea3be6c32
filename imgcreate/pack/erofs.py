"""Making the live root an EROFS image with mkfs.erofs (``--rootfs-type erofs`` / ``erofs-ext4``).

Why EROFS: Fedora 42 and later ship their live root as EROFS (still named ``LiveOS/squashfs.img``, the name
dracut's dmsquash-live looks for; dracut 103 detects the filesystem type).  EROFS reads randomly without
decompressing whole blocks in sequence, so a live boot touches less data than with squashfs.

What mkfs.erofs can do depends on its version (Debian 12 has 1.5: lz4 and lz4hc only, no dedupe or fragments),
so the compressors and extended options are probed on the installed tool rather than assumed.
"""

from __future__ import annotations

import functools
import logging
import re
import tempfile
from pathlib import Path

from imgcreate.debug import PROGRESS
from imgcreate.errors import CommandError, CreatorError, SquashfsError
from imgcreate.host.run import find_tool, run
from imgcreate.storage import reproducible

log = logging.getLogger("imgcreate")

# --compression-type names that mean another mkfs.erofs compressor: squashfs's xz is EROFS's (micro)lzma.
_ALIASES = {"xz": "lzma", "xz1m": "lzma", "xz1M": "lzma"}
# Physical cluster size: bigger pclusters compress better (squashfs's default block is 128 KiB); needs Linux 5.13.
PCLUSTER_SIZE = 131072
# Extended options that shrink the image, used when the installed mkfs.erofs accepts them (erofs-utils 1.6+).
_SIZE_OPTIONS = ("dedupe", "fragments")


@functools.cache
def available_compressors() -> tuple[str, ...]:
    """The compressors this host's mkfs.erofs was built with (the last line of its ``--help``)."""
    out = run([find_tool("mkfs.erofs"), "--help"], check=False, what="Asking mkfs.erofs for its compressors").stdout
    m = re.search(r"Available compressors are:\s*(.+)", out)
    if m is None:
        return ()
    return tuple(sorted(w.strip() for w in re.split(r"[,\s]+", m.group(1)) if w.strip()))


def parse_compression(compression: str) -> tuple[str, int | None]:
    """The mkfs.erofs compressor and level of a --compression-type value: "lz4", "lz4hc", "lz4hc,12",
    "lz4hc 12", "xz" (EROFS's lzma)."""
    words = [w for w in re.split(r"[,\s]+", compression.strip()) if w]
    if not words or len(words) > 2:
        raise CreatorError(
            f"--compression-type '{compression}' is not an EROFS compressor: use a name with an optional "
            "level, e.g. lz4, lz4hc or lz4hc,12."
        )
    level: int | None = None
    if len(words) == 2:
        word = words[1].removeprefix("level=")
        if not word.isdigit():
            raise CreatorError(f"--compression-type '{compression}': the EROFS compression level must be a number.")
        level = int(word)
    return _ALIASES.get(words[0], words[0]), level


def check_compression(compression: str | None) -> None:
    """Refuse, before anything is built, a compressor the installed mkfs.erofs lacks (e.g. lzma in 1.5)."""
    find_tool("mkfs.erofs")
    if compression is None:
        return
    name, _level = parse_compression(compression)
    known = available_compressors()
    if known and name not in known:
        asked = compression.strip().split()[0].split(",")[0]
        also = f" (EROFS's name for '{asked}')" if asked != name else ""
        raise CreatorError(
            f"Compression type '{name}'{also} is not supported by this host's mkfs.erofs, which supports "
            f"{', '.join(known)}: pass e.g. --compression-type {known[-1]}, or a newer erofs-utils (lzma needs "
            "1.6, zstd 1.8)."
        )


@functools.cache
def supported_extended_options() -> tuple[str, ...]:
    """Which of the size options (-E dedupe, fragments) the installed mkfs.erofs accepts: tried on an empty
    tree (milliseconds), since 1.5's usage text does not list them."""
    tool = find_tool("mkfs.erofs")
    found = []
    with tempfile.TemporaryDirectory(prefix="erofs-probe-") as tmp:
        (Path(tmp) / "tree").mkdir()
        for opt in _SIZE_OPTIONS:
            proc = run([tool, "-zlz4", f"-E{opt}", str(Path(tmp) / "probe.img"), str(Path(tmp) / "tree")],
                       check=False, what=f"Probing mkfs.erofs -E{opt}")
            if proc.returncode == 0:
                found.append(opt)
    return tuple(found)


def mkfs_args(compression: str | None) -> list[str]:
    """mkfs.erofs options for *compression* (None: an uncompressed image)."""
    if compression is None:
        return []
    name, level = parse_compression(compression)
    args = [f"-z{name}" + (f",{level}" if level is not None else ""), f"-C{PCLUSTER_SIZE}"]
    extended = supported_extended_options()
    if extended:
        args.append("-E" + ",".join(extended))
    return args


def reproducible_args(name: str, epoch: int | None) -> list[str]:
    """For a reproducible build (SOURCE_DATE_EPOCH): every file's time is the epoch (-T; erofs-utils 1.5 has
    no clamping) and the UUID is derived from the epoch instead of random (-U)."""
    if epoch is None:
        return []
    return [f"-T{epoch}", f"-U{reproducible.derived_uuid('erofs', name, epoch)}"]


def mkfs_erofs(source: Path, output: Path, compression: str | None, epoch: int | None = None) -> None:
    """Make the EROFS image *output* from the directory *source* (*epoch*: a reproducible build's)."""
    args = [find_tool("mkfs.erofs"), *mkfs_args(compression), *reproducible_args(output.name, epoch), str(output),
            str(source)]
    log.log(PROGRESS, "making EROFS image of %s with %s", source, compression or "no compression")
    log.info("mkfs.erofs options: %s", " ".join(args[1:-2]) or "(none)")
    output.unlink(missing_ok=True)
    try:
        run(args, what="Creating the EROFS image", stream=False)
    except CommandError as exc:
        raise SquashfsError(str(exc)) from exc


def is_erofs(image: Path, offset: int = 0) -> bool:
    """Whether *image* (from byte *offset* on: a file inside an ISO) is EROFS: its superblock magic 0xE0F5E1E2 at
    byte 1024."""
    with open(image, "rb") as f:
        f.seek(offset + 1024)
        return f.read(4) == b"\xe2\xe1\xf5\xe0"


def fstype_of(image: Path, offset: int = 0) -> str:
    """The filesystem type to mount a live root image (at *offset* in *image*) with: ``erofs`` or ``squashfs``."""
    return "erofs" if is_erofs(image, offset) else "squashfs"


def listing(image: Path, directory: str = "/") -> list[str]:
    """The entries of *directory* in the EROFS *image* as absolute paths (``/usr``, ``/LiveOS/rootfs.img``),
    read with ``dump.erofs --ls`` (no mount needed); [] when the directory is not there."""
    proc = run([find_tool("dump.erofs"), "--ls", f"--path={directory}", str(image)], check=False,
               what=f"Listing {directory} of {image}")
    rows = proc.stdout.split("NID TYPE  FILENAME", 1)[1].splitlines() if "NID TYPE  FILENAME" in proc.stdout else []
    names = [row.split(None, 2)[2] for row in rows if len(row.split(None, 2)) == 3]
    prefix = directory.rstrip("/")
    return [f"{prefix}/{name}" for name in names if name not in (".", "..")]
