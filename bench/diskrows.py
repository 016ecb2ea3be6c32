"""The disk image rows of the benchmark (issue 28): their table of phases, their floors and their targets.

A disk build's floor is what no build of the same disk can avoid: the rpm transaction, making the filesystems
and the conversion (qemu-img) or compression (xz) alone.  Every other column is what the build adds around
them: dnf's set-up, the boot loader, unmounting, the checksums, the manifest, the XML, the delivery.  The
runner (bench/runner.py) times the steps the library times only as part of a phase by wrapping the functions
that do them (``bench.mkfs``, ``bench.convert``, ``bench.compress``, ``bench.digest``, ``bench.manifest``,
``bench.deliver``).

Targets: each row at most 1.15x its floor (the extras row aside: it asks for work the floor does not hold),
and the 10 GiB nominal disk within 5 % of the small one for raw and qcow2 output (nothing scales with holes).
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Markdown = Callable[[list[str], list[list[str]]], str]

MIB = 1048576
FLOOR_LIMIT = 1.15
NOMINAL_LIMIT = 1.05
NOMINAL_ROWS = ("disk-raw-10g", "disk-qcow2-10g")  # compared with their small disk (Scenario.full)
EXTRAS_ROWS = ("disk-raw-10g-extras",)

# (column, the timings it adds up, the timings it subtracts)
COLUMNS: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("setup+resolve", ("install.setup",), ()),
    ("download", ("install.download",), ()),
    ("rpm", ("install.transaction",), ()),
    ("mkfs", ("bench.mkfs",), ()),
    ("mount", ("mount",), ("bench.mkfs",)),
    ("configure", ("configure", "configure-final"), ()),
    ("%post", ("post",), ()),
    ("unmount", ("unmount",), ()),
    ("convert", ("bench.convert",), ()),
    ("compress", ("bench.compress",), ()),
    ("checksum", ("bench.digest",), ()),
    ("manifest", ("bench.manifest",), ()),
    ("xml etc.", ("package",), ("bench.convert", "bench.compress", "bench.digest", "bench.manifest")),
    ("deliver", ("bench.deliver",), ()),
]
FLOOR = ("install.transaction", "bench.mkfs", "bench.convert", "bench.compress")


@contextlib.contextmanager
def output_dir(work: Path, elsewhere: bool) -> Iterator[Path | None]:
    """Where a build delivers: None (the benchmark's own folder, on the build directory's filesystem: a rename)
    or, *elsewhere*, a fresh folder on another filesystem (/dev/shm), so that the disk is copied."""
    if not elsewhere:
        yield None
        return
    out = Path(tempfile.mkdtemp(prefix="livecd-bench-out-", dir="/dev/shm"))
    try:
        yield out
    finally:
        shutil.rmtree(out, ignore_errors=True)


def write_kickstart(path: Path, template: Path, url: str, repo: str) -> None:
    """The disk rows' kickstart: *template* (config/testdistro-disk.ks) installing from *url*; with the "large"
    repository also ``@filler``, the large live rows' packages, on a 1.5 GiB root (a disk with as much to install
    as a real appliance, whose rpm transaction is not dwarfed by the steps every build pays once)."""
    lines = []
    for line in template.read_text().splitlines():
        if line.startswith("part / ") and repo == "large":  # 639 MiB of files: a 1.5 GiB root
            line = "part / --fstype=ext4 --size=1536 --grow"
        lines.append(f"repo --name=testdistro --baseurl={url}" if line.startswith("repo ") else line)
        if line.strip() == "kernel" and repo == "large":
            lines.append("@filler")
    path.write_text("\n".join(lines) + "\n")


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians of a disk row's columns, its floor and the delivered image's size and allocation."""
    def col(r: dict[str, Any], plus: tuple[str, ...], minus: tuple[str, ...]) -> float:
        t = r["timings"]
        return sum(t.get(k, 0.0) for k in plus) - sum(t.get(k, 0.0) for k in minus)

    out: dict[str, Any] = {}
    for name, plus, minus in COLUMNS:
        out[f"disk:{name}"] = statistics.median(col(r, plus, minus) for r in runs)
    out["disk:other"] = statistics.median(r["wall"] - sum(col(r, p, m) for _, p, m in COLUMNS) for r in runs)
    out["floor"] = statistics.median(sum(r["timings"].get(k, 0.0) for k in FLOOR) for r in runs)
    image = max(runs[0]["delivered"].items(), key=lambda kv: kv[1][0])
    out["disk:image"] = image[0]
    out["disk:size_mib"] = image[1][0] / MIB
    out["disk:allocated_mib"] = image[1][1] / MIB
    return out


def table(summary: dict[str, dict[str, Any]], _markdown: Markdown) -> str:
    """Seconds per column, the wall time, the floor and the ratios; the delivered image (tables made by
    *_markdown*, the benchmark's)."""
    rows = {n: s for n, s in summary.items() if "disk:mkfs" in s}
    if not rows:
        return ""
    cols = [c for c, _, _ in COLUMNS] + ["other"]
    times = [[n, *(f"{s[f'disk:{c}']:.1f}" for c in cols), f"{s['wall']:.1f}", f"{s['floor']:.1f}",
              f"{s['vs_floor']:.2f}x" if s.get("vs_floor") else "-",
              f"{100 * s['vs'][1]:.0f} % of {s['vs'][0]}" if s.get("vs") else "-"] for n, s in rows.items()]
    files = [[n, s["disk:image"], f"{s['disk:size_mib']:.0f} MiB", f"{s['disk:allocated_mib']:.0f} MiB"]
             for n, s in rows.items()]
    return (_markdown(["disk build (s)", *cols, "wall", "floor", "wall / floor", "vs"], times) + "\n\n"
            + _markdown(["disk build", "delivered image", "size", "allocated"], files))


def checks(summary: dict[str, dict[str, Any]]) -> list[tuple[str, bool]]:
    """Issue 28's targets, for the disk rows that ran."""
    out = []
    for name, s in summary.items():
        if "disk:mkfs" not in s or name in EXTRAS_ROWS or not s.get("vs_floor"):
            continue
        out.append((f"{name}: {s['vs_floor']:.2f}x its floor, rpm + mkfs + conversion/compression "
                    f"(<= {FLOOR_LIMIT:.2f}x)", s["vs_floor"] <= FLOOR_LIMIT))
    for name in NOMINAL_ROWS:
        s = summary.get(name, {})
        if s.get("vs"):
            ref, ratio = s["vs"]
            out.append((f"{name}: a 10 GiB nominal disk takes {100 * ratio:.0f} % of {ref} "
                        f"(<= {100 * NOMINAL_LIMIT:.0f} %)", ratio <= NOMINAL_LIMIT))
    return out
