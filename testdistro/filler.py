"""Filler packages for benchmarks: ``filler-0001``.. each carrying about 1.5 MB of realistic content.

The content is copied from host text files (/usr/share/common-licenses, /usr/share/doc) and a few host binaries,
picked deterministically so the same ``n`` always gives the same packages.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

from testdistro.rpmspec import Entry, Package, directory, file

TEXT_ROOTS = (Path("/usr/share/common-licenses"), Path("/usr/share/doc"))
BIN_ROOT = Path("/usr/bin")
TEXT_PER_PACKAGE = 1_200_000
SKIP_SUFFIXES = (".gz", ".xz", ".bz2", ".zst", ".zip", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf", ".svgz",
                 ".woff", ".woff2", ".ttf", ".otf", ".db", ".pyc", ".mo")


@dataclass
class FillerSpec:
    name: str
    files: list[tuple[Path, str]]  # (host file, file name in the package)
    synthetic: bytes = b""  # used when the host has no text files to copy


def _text_pool() -> list[Path]:
    pool: list[Path] = []
    for root in TEXT_ROOTS:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(SKIP_SUFFIXES):
                    continue
                p = Path(dirpath) / name
                try:
                    if p.is_symlink() or not p.is_file():
                        continue
                    size = p.stat().st_size
                except OSError:
                    continue
                if 2_000 <= size <= 300_000 and os.access(p, os.R_OK):
                    pool.append(p)
    return pool


def _bin_pool() -> list[Path]:
    pool = []
    try:
        names = sorted(os.listdir(BIN_ROOT))
    except OSError:
        return []
    for name in names:
        p = BIN_ROOT / name
        try:
            if p.is_symlink() or not p.is_file() or not 100_000 <= p.stat().st_size <= 800_000:
                continue
            with open(p, "rb") as f:
                if f.read(4) != b"\x7fELF":
                    continue
        except OSError:
            continue
        pool.append(p)
    return pool[:40]


def _safe_name(index: int, path: Path) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]", "_", f"{path.parent.name}-{path.name}")[:80]
    return f"{index:03d}-{base}"


def _synthetic_text(seed: int, size: int) -> bytes:
    rng = random.Random(seed)
    words = (
        "lorem", "ipsum", "dolor", "sit", "amet", "package", "kernel", "module", "repository", "install",
        "root", "image", "live", "boot", "filesystem", "squashfs", "overlay", "snapshot", "dracut", "grub",
        "syslinux", "configuration",
    )
    out = []
    total = 0
    while total < size:
        line = " ".join(rng.choice(words) for _ in range(12)) + "\n"
        out.append(line)
        total += len(line)
    return "".join(out).encode()


def select(n: int) -> list[FillerSpec]:
    if n <= 0:
        return []
    texts = _text_pool()
    bins = _bin_pool()
    specs = []
    for i in range(n):
        name = f"filler-{i + 1:04d}"
        files: list[tuple[Path, str]] = []
        synthetic = b""
        if texts:
            total = 0
            j = (i * 97) % len(texts)
            count = 0
            while total < TEXT_PER_PACKAGE and count < len(texts):
                p = texts[j]
                files.append((p, _safe_name(count, p)))
                total += p.stat().st_size
                j = (j + 1) % len(texts)
                count += 1
        else:
            synthetic = _synthetic_text(i, TEXT_PER_PACKAGE)
        if bins:
            b = bins[i % len(bins)]
            files.append((b, _safe_name(len(files), b)))
        specs.append(FillerSpec(name, files, synthetic))
    return specs


def input_files(specs: list[FillerSpec]) -> list[Path]:
    return sorted({p for s in specs for p, _ in s.files})


def packages(specs: list[FillerSpec]) -> list[Package]:
    pkgs = []
    for s in specs:
        base = f"/usr/share/filler/{s.name}"
        entries: list[Entry] = [directory(base)]
        entries += [file(f"{base}/{dest}", src=src) for src, dest in s.files]
        if s.synthetic:
            entries.append(file(f"{base}/synthetic.txt", data=s.synthetic))
        pkgs.append(Package(s.name, f"Benchmark filler package {s.name}", arch="noarch", requires=["filesystem"],
                            entries=entries))
    return pkgs
