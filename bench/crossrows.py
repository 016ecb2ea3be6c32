"""The cross-architecture rows of the benchmark (issue 27): what emulation costs.

The same kickstart, with the same package set (``PACKAGES``), is built twice: natively from the x86_64 test
distribution, and for aarch64 (``--forcearch aarch64``) from its aarch64 flavour (testdistro/aarch64.py), for
appliance-creator's disk (``xarch-disk-*``, delivered raw) and livecd-creator's ISO (``xarch-live-*``, lz4).  Only
the kickstart's repository differs.  The creators add their architecture's boot loader packages (GRUB for UEFI
and shim: x64 or aa64; on x86_64 also GRUB for BIOS, which the x86_64 disk installs and the live ISO boots with)
and the kernel packages are Debian's for each architecture, so the payloads are not byte for byte the same: the
table gives the number of packages and the size of their rpms.

What runs under QEMU's user-mode emulator (qemu-aarch64-static, through binfmt_misc) in the aarch64 builds is
what runs *inside* the image: the rpm scriptlets (post-demo's %post, busybox's sh) in the rpm transaction, and
the kickstart's %post.  Everything else is this machine's own programs in both builds: dnf and rpm themselves
(unpacking the payloads), mkfs, the loop devices, tar2sqfs, xorriso, qemu-img.  Neither flavour has dracut in
the image (the kernels' initramfs is packaged), so no dracut runs.  The %post (``POST``) is a fixed piece of
work the same on both architectures, so that the emulator's cost shows beside the real scriptlets: 100 process
starts (each a new qemu-user under emulation) and a CPU-bound checksum.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

Markdown = Callable[[list[str], list[list[str]]], str]

ARCH = "aarch64"  # the emulated architecture (--forcearch)
NATIVE = "native"
PACKAGES = ("@core", "@base", "kernel", "post-demo")
# (kind, the native row, the cross row); the rows are in bench/run.py's SCENARIOS
PAIRS = (("disk", "xarch-disk-native", f"xarch-disk-{ARCH}"), ("live", "xarch-live-native", f"xarch-live-{ARCH}"))
POST = """%post
# bench/crossrows.py: a fixed piece of work under the emulator (100 process starts, a CPU-bound checksum)
i=0
while [ $i -lt 100 ]; do /usr/bin/true; i=$((i + 1)); done
seq 1 300000 | md5sum > /root/xarch-post
%end
"""
# The image: a GPT disk with an ESP (UEFI, what an aarch64 disk boots with) and a BIOS boot partition (which an
# x86_64 GPT disk needs for GRUB's BIOS core image, and an aarch64 one gets unused), or a live root of 200 MiB.
LAYOUT = {
    "disk": ("clearpart --all --initlabel --disklabel=gpt", "zerombr", "part biosboot --fstype=biosboot --size=1",
             "part /boot/efi --fstype=efi --size=64", "part / --fstype=ext4 --size=300 --label=XROOT"),
    "live": ("part / --size 200 --fstype ext4",),
}

# (column, the library's timings it adds up); "package" holds the packing: the squashfs and the ISO, or the
# disk's finish and conversion
COLUMNS: list[tuple[str, tuple[str, ...]]] = [
    ("setup+resolve", ("install.setup",)),
    ("download", ("install.download",)),
    ("rpm+scriptlets", ("install.transaction",)),
    ("mount", ("mount",)),
    ("configure", ("configure", "configure-final")),
    ("%post", ("post",)),
    ("unmount", ("unmount",)),
    ("pack", ("package",)),
]


def is_cross(name: str) -> bool:
    """Whether *name* is one of these rows (issue 28's disk targets do not apply to them)."""
    return any(name in pair[1:] for pair in PAIRS)


def forcearch(xarch: str) -> str | None:
    """The --forcearch of a row (``Scenario.xarch``): None for the native build."""
    return None if xarch in ("", NATIVE) else xarch


def kickstart(kind: str, url: str) -> str:
    """The kickstart of both builds of *kind*: only *url*, the repository, differs between them."""
    return "\n".join([
        "lang en_US.UTF-8", "timezone UTC", "network --hostname=xarch", *LAYOUT[kind],
        'bootloader --timeout=1 --append="console=ttyAMA0 console=ttyS0,115200"',
        f"repo --name=testdistro --baseurl={url}", "", "%packages", *PACKAGES, "%end", "", POST])


def write_kickstart(work: Path, name: str, kind: str, url: str) -> Path:
    path = work / f"{name}.ks"
    path.write_text(kickstart(kind, url))
    return path


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians of a cross row's columns (``xarch:<column>``), its wall time and what it installed."""
    def col(r: dict[str, Any], keys: tuple[str, ...]) -> float:
        return sum(r["timings"].get(k, 0.0) for k in keys)

    out: dict[str, Any] = {f"xarch:{c}": statistics.median(col(r, ks) for r in runs) for c, ks in COLUMNS}
    out["xarch:other"] = statistics.median(r["wall"] - sum(col(r, ks) for _, ks in COLUMNS) for r in runs)
    out["xarch:wall"] = statistics.median(r["wall"] for r in runs)
    out["xarch:runs"] = [round(r["wall"], 1) for r in runs]
    out["xarch:payload_mib"] = runs[0].get("cache_rpm_bytes", 0) / 1048576
    return out


def table(summary: dict[str, dict[str, Any]], _markdown: Markdown) -> str:
    """Per kind: the native and the cross build's seconds per column, then cross / native and cross - native
    (what emulation costs), for the pairs that ran."""
    cols = [c for c, _ in COLUMNS] + ["other", "wall"]
    rows: list[list[str]] = []
    for _, native, cross in PAIRS:
        n, x = summary.get(native), summary.get(cross)
        if n is None or x is None:
            continue
        for name, s in ((native, n), (cross, x)):
            rows.append([name, *(f"{s[f'xarch:{c}']:.2f}" for c in cols), f"{s['installed']}",
                         f"{s['xarch:payload_mib']:.1f} MiB", " ".join(f"{w:.1f}" for w in s["xarch:runs"])])
        rows.append([f"{ARCH} / native", *(_ratio(x[f"xarch:{c}"], n[f"xarch:{c}"]) for c in cols), "", "", ""])
        rows.append([f"{ARCH} - native (s)", *(f"{x[f'xarch:{c}'] - n[f'xarch:{c}']:+.2f}" for c in cols),
                     "", "", ""])
    if not rows:
        return ""
    return _markdown(["cross-arch build (s)", *cols, "packages", "their rpms", "walls"], rows)


def _ratio(cross: float, native: float) -> str:
    """cross / native; "-" where the native phase took next to nothing (the ratio would say nothing)."""
    return f"{cross / native:.2f}x" if native >= 0.01 else "-"
