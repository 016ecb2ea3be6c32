"""The live ISO build benchmark: one command, a table on stdout, the numbers in JSON.

    .venv/bin/python bench/run.py [--quick] [--reps N] [--filler N] [--only NAME ...] [--json PATH]

Builds, from the project's test distribution served over HTTP on 127.0.0.1:

* ``minimal-cold``   config/testdistro-live.ks (xz) with an empty ``--cache``: everything is downloaded;
* ``minimal-warm``   the same, with the cache the cold build left: nothing may be downloaded;
* ``large-xz``       the same plus ``@filler`` (``--filler`` packages of ~1.5 MB each), xz, warm cache;
* ``large-zstd``     the same with zstd.
* ``large-xz-mksquashfs``  large-xz packed by mksquashfs (tar2sqfs hidden): the two packers compared.
* ``erofs-lz4``, ``erofs-lz4hc``  the large tree's ext4 image in EROFS (``--rootfs-type erofs-ext4``), warm cache;
* ``disk-raw``, ``disk-xz``, ``disk-qcow2``  config/testdistro-disk.ks with appliance-creator's DiskImageCreator:
  a GPT disk (BIOS and UEFI GRUB), delivered raw, as raw.xz (the default) and as a compressed qcow2; each also
  on a 10 GiB nominal disk (``-10g``), and ``disk-raw-10g-extras`` with --checksum --manifest, delivered to
  another filesystem; ``disk-{raw,qcow2}-large`` with large-xz's packages.  Table, floors, targets: bench/diskrows.py.
* ``xarch-{disk,live}-{native,aarch64}``  one package set natively and for aarch64 (--forcearch): bench/crossrows.py.
* ``minimal-small-root``  minimal-warm with a 128 MiB nominal root: next to no holes (the reference for the next).
* ``minimal-4g``     minimal-warm with a 4 GiB nominal live root (``part / --size 4096``, upstream's default).
* ``minimal-4g-mksquashfs``  the same packed by mksquashfs, which reads the holes (what tar2sqfs saves).
* ``large-xz-incr``  large-xz rebuilt with ``--incremental``: the installed tree and the compressed root the
  warm-up build stored are reused (no dnf, no rpm transaction, no compression).
* ``large-xz-post``  the same with a ``%post`` no earlier build ran: the tree is reused, the root compressed.
* ``large-xz-title`` the same with another ``--title`` than the stored build's: only the ISO is made again.

Every build runs in a fresh process (bench/runner.py, the ``livecd-creator`` steps through the API) and is
repeated (``--reps``, default 3; ``--quick``: 1); the table shows medians.  Phase times are the library's own
(``creator.timings``); wall time is measured around the process, so it includes Python's start-up and the
clean-up of the build directory.  "GETs" counts the requests the HTTP server saw during the build (.rpm / all).
"Peak RSS" is the build process's own peak (``ru_maxrss``, RUSAGE_SELF), not that of the commands it runs;
"largest RSS incl. commands" is the largest of it and every process it waited for (mksquashfs, mostly).

A third table gives each row's floor (the rpm transaction and the compression alone; for a rebuild, its full
build's) and the ratios.  It ends with the targets (large-zstd: at most 10 % of the wall time outside the rpm
transaction and the compression; minimal-warm: nothing downloaded; large-xz at most 1.05x its floor; minimal-4g
within 10 % of minimal-small-root; large-xz-title under 10 % of large-xz; large-xz-incr without an rpm
transaction; peak RSS under 300 MiB) and exits 1 if one is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import crossrows  # noqa: E402 (bench/, the script's own folder)
import diskrows  # noqa: E402

from tests.support import RepoServer  # noqa: E402 (needs the path above)

MIB = 1048576
LOAD_AT_START = "?"  # the load average (1, 5, 15 min) when the benchmark started: the machine is shared


@dataclass(frozen=True)
class Scenario:
    name: str
    repo: str  # "minimal" or "large"
    compression: str
    cache: str  # "cold": an empty cache per build; "warm": a cache filled by an earlier build
    kind: str = "live"  # "live": a live ISO; "disk": a partitioned disk image
    rootfs_type: str | None = None  # livecd-creator's --rootfs-type (None: the default, squashfs-ext4)
    root_mib: int | None = None  # the kickstart's part / --size (None: the kickstart's own)
    incremental: bool = False  # --incremental, with the tree stored by the (uncounted) warm-up build
    title: str | None = None  # --title of the counted builds (the uncounted --incremental one has another)
    post_change: bool = False  # each counted build's %post differs (from the others' and the stored build's)
    mksquashfs_only: bool = False  # the live root packed by mksquashfs even where tar2sqfs is installed
    full: str | None = None  # the build it is compared with ("vs"); a rebuild's floor is that build's
    disk: tuple[tuple[str, Any], ...] = ()  # a disk's DiskImageCreator options (format, compress, size_mib, ...)
    elsewhere: bool = False  # delivered to another filesystem (/dev/shm): the disk is copied, not renamed
    xarch: str = ""  # a cross-architecture row (bench/crossrows.py): "native" or the --forcearch


SCENARIOS = [
    Scenario("minimal-cold", "minimal", "xz", "cold"),
    Scenario("minimal-warm", "minimal", "xz", "warm"),
    Scenario("large-xz", "large", "xz", "warm"),
    Scenario("large-zstd", "large", "zstd", "warm"),
    Scenario("large-xz-mksquashfs", "large", "xz", "warm", mksquashfs_only=True, full="large-xz"),
    Scenario("erofs-lz4", "large", "lz4", "warm", rootfs_type="erofs-ext4"),
    Scenario("erofs-lz4hc", "large", "lz4hc", "warm", rootfs_type="erofs-ext4"),
    # Disk images (issue 28): appliance-creator's formats, a small disk and a 10 GiB nominal one with the same
    # content (see bench/diskrows.py for their table, floors and targets).
    Scenario("disk-raw", "minimal", "none", "warm", kind="disk", disk=(("compress", None),)),
    Scenario("disk-raw-10g", "minimal", "none", "warm", kind="disk", full="disk-raw",
             disk=(("compress", None), ("size_mib", 10240))),
    Scenario("disk-xz", "minimal", "xz", "warm", kind="disk", disk=(("compress", "xz"),)),
    Scenario("disk-xz-10g", "minimal", "xz", "warm", kind="disk", full="disk-xz",
             disk=(("compress", "xz"), ("size_mib", 10240))),
    Scenario("disk-qcow2", "minimal", "qcow2", "warm", kind="disk", disk=(("format", "qcow2"), ("compress", "xz"))),
    Scenario("disk-qcow2-10g", "minimal", "qcow2", "warm", kind="disk", full="disk-qcow2",
             disk=(("format", "qcow2"), ("compress", "xz"), ("size_mib", 10240))),
    Scenario("disk-raw-large", "large", "none", "warm", kind="disk", disk=(("compress", None),)),
    Scenario("disk-qcow2-large", "large", "qcow2", "warm", kind="disk", disk=(("format", "qcow2"), ("compress", "xz"))),
    Scenario("disk-raw-10g-extras", "minimal", "none", "warm", kind="disk", full="disk-raw-10g", elsewhere=True,
             disk=(("compress", None), ("size_mib", 10240), ("checksum", True), ("manifest", True))),
    Scenario("xarch-disk-native", "minimal", "none", "warm", kind="disk", xarch="native", disk=(("compress", None),)),
    Scenario("xarch-disk-aarch64", "aarch64", "none", "warm", kind="disk", xarch="aarch64", disk=(("compress", None),)),
    Scenario("xarch-live-native", "minimal", "lz4", "warm", xarch="native"),
    Scenario("xarch-live-aarch64", "aarch64", "lz4", "warm", xarch="aarch64"),
    Scenario("minimal-small-root", "minimal", "xz", "warm", root_mib=128),
    Scenario("minimal-4g", "minimal", "xz", "warm", root_mib=4096, full="minimal-small-root"),
    Scenario("minimal-4g-mksquashfs", "minimal", "xz", "warm", root_mib=4096, mksquashfs_only=True,
             full="minimal-small-root"),
    Scenario("large-xz-incr", "large", "xz", "warm", incremental=True, full="large-xz"),
    Scenario("large-xz-post", "large", "xz", "warm", incremental=True, post_change=True, full="large-xz"),
    Scenario("large-xz-title", "large", "xz", "warm", incremental=True, title="Another Title", full="large-xz"),
]

# (column, the library's phases it adds up); "install.setup" is the install phase minus download and transaction:
# dnf's set-up, loading the repositories, resolving, and closing the rpm database.
PHASES: list[tuple[str, tuple[str, ...]]] = [
    ("setup+resolve", ("install.setup",)),
    ("download", ("install.download",)),
    ("rpm", ("install.transaction",)),
    ("configure", ("configure", "configure-final")),
    ("%post", ("post",)),
    ("(un)mount", ("mount", "unmount")),
    ("fs finish", ("filesystem-finish",)),
    ("squashfs", ("squashfs",)),
    ("ISO", ("iso",)),
    ("checksum", ("checksum",)),
    ("disk out", ("disk-output", "disk-finish")),
]


# -- kickstarts ----------------------------------------------------------------------------------------------
def write_kickstart(path: Path, url: str, large: bool) -> None:
    text = (REPO_ROOT / "config/testdistro-live.ks").read_text()
    lines = []
    for line in text.splitlines():
        if line.startswith("repo "):
            line = f"repo --name=testdistro --baseurl={url}"
        elif line.startswith("part /") and large:
            line = "part / --size 2048 --fstype ext4"
        elif line.strip() == "kernel" and large:
            lines.append("@filler")
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")


# -- one build -----------------------------------------------------------------------------------------------
def run_build(
    work: Path, tag: str, ks: Path, compression: str | None, cache: Path, server: RepoServer, kind: str = "live",
    rootfs_type: str | None = None, incremental: Path | None = None, title: str | None = None,
    mksquashfs_only: bool = False, disk: dict[str, Any] | None = None, output: Path | None = None,
    forcearch: str | None = None,
) -> dict[str, Any]:
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    result_path = logs / f"{tag}.json"
    spec = {
        "ks": str(ks),
        "kind": kind,
        "rootfs_type": rootfs_type,
        "incremental": str(incremental) if incremental else None,
        "title": title,
        "mksquashfs_only": mksquashfs_only,
        "name": "BENCH-LIVE" if kind == "live" else "bench-disk",
        "compression": compression,
        "cache": str(cache),
        "tmpdir": str(work / "tmp"),
        "output": str(output or work / "out"),
        "disk": disk,
        "forcearch": forcearch,
        "logfile": str(logs / f"{tag}.log"),
        "result": str(result_path),
    }
    spec_path = logs / f"{tag}.spec.json"
    spec_path.write_text(json.dumps(spec))
    server.take_requests()
    with open(logs / f"{tag}.stderr", "w") as err:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "bench/runner.py"), str(spec_path)],
                                stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        _, status, rusage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = (logs / f"{tag}.stderr").read_text()[-3000:]
        raise SystemExit(f"bench: build {tag} failed ({proc.returncode}); see {logs}/{tag}.*\n{tail}")
    result = json.loads(result_path.read_text())
    for name in result.get("delivered", {}):  # removed outside its time (a disk's are in out/<name>/)
        for path in list((output or work / "out").rglob(name)):
            path.unlink(missing_ok=True)
    t = result["timings"]
    t["install.setup"] = t.get("install", 0.0) - t.get("install.download", 0.0) - t.get("install.transaction", 0.0)
    result["wall"] = wall
    result["rpm_requests"], result["http_requests"] = server.take_requests()
    result["tree_maxrss_kib"] = rusage.ru_maxrss  # the largest of the process and everything it ran
    return result


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    out: dict[str, Any] = {}
    for col, keys in PHASES:
        out[col] = med([sum(r["timings"].get(k, 0.0) for k in keys) for r in runs])
    out["other"] = med([r["wall"] - sum(r["timings"].get(k, 0.0) for _, ks in PHASES for k in ks) for r in runs])
    out["wall"] = med([r["wall"] for r in runs])
    # the floor: the rpm transaction and the compression alone, what no build of this tree can do without (a
    # disk's also has making its filesystems, and its conversion: see diskrows.FLOOR)
    floor = ("install.transaction", "squashfs", *diskrows.FLOOR[1:])
    out["floor"] = med([sum(r["timings"].get(k, 0.0) for k in floor) for r in runs])
    out["outside_pct"] = med([
        100.0 * (r["wall"] - sum(r["timings"].get(k, 0.0) for k in floor)) / r["wall"] for r in runs
    ])
    out["rpm_requests"] = max(r["rpm_requests"] for r in runs)
    out["http_requests"] = max(r["http_requests"] for r in runs)
    out["downloaded"] = max(r["downloaded"] for r in runs)
    out["installed"] = runs[0]["installed"]
    out["peak_rss_mib"] = max(r["maxrss_kib"] for r in runs) / 1024
    out["tree_peak_rss_mib"] = max(r["tree_maxrss_kib"] for r in runs) / 1024
    for key in ("rootfs_bytes", "squashfs_bytes", "iso_bytes"):
        out[key.replace("_bytes", "_mib")] = med([r[key] or 0 for r in runs]) / MIB
    return out


# -- the machine ---------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    def first(path: str, key: str) -> str:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1].strip('"')
        except OSError:
            pass
        return "?"

    def cmd(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"

    return {
        "cpu": first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory_gib": round(int(first("/proc/meminfo", "MemTotal").split()[0]) / 1048576, 1),
        "os": first("/etc/os-release", "PRETTY_NAME="),
        "kernel": platform.release(),
        "virtualization": cmd("systemd-detect-virt") or "none",
        "python": platform.python_version(),
        "mksquashfs": cmd("mksquashfs", "-version").splitlines()[0] if cmd("mksquashfs", "-version") else "?",
        "tar2sqfs": cmd("tar2sqfs", "--version").splitlines()[0] if cmd("tar2sqfs", "--version") else "none",
        "commit": cmd("git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"),
    }


# -- output --------------------------------------------------------------------------------------------------
def _markdown(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    sep = "|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|"
    return "\n".join([line(head), sep, *(line(r) for r in rows)])


def compare(summary: dict[str, dict[str, Any]]) -> None:
    """Each row's ratio to its floor and, for a row with a reference build (``Scenario.full``), to that build's
    wall time.  A rebuild that reuses the tree has the full build's floor: what a build without a cache costs."""
    for sc in SCENARIOS:
        s = summary.get(sc.name)
        if s is None:
            continue
        ref = summary.get(sc.full) if sc.full else None
        if sc.incremental and ref is not None:
            s["floor"] = ref["floor"]
        s["vs_floor"] = s["wall"] / s["floor"] if s["floor"] else None
        s["vs"] = (sc.full, s["wall"] / ref["wall"]) if ref is not None else None


def ratios(summary: dict[str, dict[str, Any]]) -> str:
    rows = [[name, f"{s['floor']:.1f}", f"{s['wall']:.1f}",
             f"{s['vs_floor']:.2f}x" if s.get("vs_floor") else "-",
             f"{100 * s['vs'][1]:.0f} % of {s['vs'][0]}" if s.get("vs") else "-"]
            for name, s in summary.items()]
    return _markdown(["build", "floor: rpm + compression (s)", "wall (s)", "wall / floor", "vs"], rows)


def tables(summary: dict[str, dict[str, Any]]) -> str:
    """Three markdown tables: seconds per phase; the targets, downloads, memory and sizes; floors and ratios."""
    cols = [c for c, _ in PHASES] + ["other", "wall"]
    times = [[name, *(f"{s[c]:.1f}" for c in cols)] for name, s in summary.items()]
    facts = [[name, f"{s['outside_pct']:.1f} %", f"{s['downloaded']}", f"{s['rpm_requests']} / {s['http_requests']}",
              f"{s['peak_rss_mib']:.0f} MiB", f"{s['tree_peak_rss_mib']:.0f} MiB", f"{s['installed']}",
              f"{s['rootfs_mib']:.0f} MiB", f"{s['squashfs_mib']:.0f} MiB", f"{s['iso_mib']:.0f} MiB"]
             for name, s in summary.items()]
    return (_markdown(["build (s)", *cols], times) + "\n\n" + _markdown(
        ["build", "outside rpm+compression", "downloaded", "GETs .rpm / all", "peak RSS", "largest RSS incl. commands",
         "packages", "rootfs.img", "squashfs.img", "ISO or disk"], facts) + "\n\n" + ratios(summary))


# -- main ----------------------------------------------------------------------------------------------------
def note(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one build per scenario instead of three")
    parser.add_argument("--reps", type=int, default=3, help="builds per scenario (median); default 3")
    parser.add_argument("--filler", type=int, default=300, help="filler packages in the large build (default 300)")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in SCENARIOS], help="run only these scenarios")
    parser.add_argument("--workdir", default="/var/tmp/livecd-bench",
                        help="build, cache and log directory, emptied first (default /var/tmp/livecd-bench)")
    parser.add_argument("--json", default=str(REPO_ROOT / "bench/results.json"), help="where to write the results")
    return parser


def build_repos(scenarios: list[Scenario], filler: int) -> dict[str, Path]:
    """The test distribution's repositories the scenarios need ("minimal", and "large" with filler packages)."""
    import testdistro

    note("building the test distribution's repositories (cached by content)")
    repos = {"minimal": testdistro.build_repo(log=lambda *a: None)}
    if any(s.repo == "large" for s in scenarios):
        repos["large"] = testdistro.build_repo(filler=filler, log=lambda *a: None)
    if any(s.repo == crossrows.ARCH for s in scenarios):
        repos[crossrows.ARCH] = testdistro.build_repo(flavour=crossrows.ARCH, log=lambda *a: None)
    return repos


@dataclass(frozen=True)
class Served:
    """One repository served over HTTP, and the kickstart that installs from it."""

    server: RepoServer
    ks: Path


def serve(stack: contextlib.ExitStack, name: str, repo: Path, work: Path) -> Served:
    server = stack.enter_context(RepoServer(repo))
    ks = work / f"{name}.ks"
    write_kickstart(ks, server.url + "/", large=name == "large")
    return Served(server, ks)


def run_scenario(sc: Scenario, reps: int, work: Path, served: Served, warm_caches: dict[str, Path]
                 ) -> list[dict[str, Any]]:
    """*reps* builds of one scenario.  A warm scenario first fills the repository's cache (not counted); the
    first cold build's cache is kept as the warm one, as a user's second build would find it."""
    ks = served.ks
    if sc.kind == "disk":
        ks = served.ks.with_name(f"{sc.repo}-disk.ks")
        diskrows.write_kickstart(ks, REPO_ROOT / "config/testdistro-disk.ks", served.server.url + "/", sc.repo)
    if sc.root_mib is not None:
        ks = served.ks.with_name(f"{sc.name}.ks")
        ks.write_text("".join(f"part / --size {sc.root_mib} --fstype ext4\n" if ln.startswith("part /") else ln
                              for ln in served.ks.read_text().splitlines(keepends=True)))
    ks = crossrows.write_kickstart(work, sc.name, sc.kind, served.server.url + "/") if sc.xarch else ks
    arch = crossrows.forcearch(sc.xarch)
    incremental = work / f"incremental-{sc.name}" if sc.incremental else None
    if incremental is not None:
        note(f"{sc.name}: storing the installed tree and the compressed root with a first build (not counted)")
        warm = warm_caches.get(sc.repo) or work / f"cache-{sc.repo}"
        run_build(work, f"{sc.name}-store", ks, sc.compression, warm, served.server, sc.kind, sc.rootfs_type,
                  incremental, title="First Title" if sc.title else None)
    key = sc.repo if sc.kind == "live" else f"{sc.repo}-{sc.kind}"  # a disk needs other packages (GRUB, shim)
    key += "-xarch" if sc.xarch else ""  # the cross rows' package set, in a cache of its own
    if sc.cache == "warm" and key not in warm_caches:
        cache = work / f"cache-{key}"
        note(f"{sc.name}: filling the package cache with a first build (not counted; no compression)")
        run_build(work, f"{key}-warmup", ks, None, cache, served.server, sc.kind, disk={"compress": None},
                  forcearch=arch)
        warm_caches[key] = cache
    runs = []
    for rep in range(1, reps + 1):
        cold = sc.cache == "cold"
        cache = Path(tempfile.mkdtemp(prefix="cache-", dir=work)) if cold else warm_caches[key]
        rep_ks = ks
        if sc.post_change:  # a %post no earlier build ran: the tree is reused, the root compressed again
            rep_ks = ks.with_name(f"{sc.name}-{rep}.ks")
            rep_ks.write_text(ks.read_text() + f"%post\necho {sc.name}-{rep} > /etc/bench-post\n%end\n")
        with diskrows.output_dir(work, sc.elsewhere) as output:
            r = run_build(work, f"{sc.name}-{rep}", rep_ks, sc.compression, cache, served.server, sc.kind,
                          sc.rootfs_type, incremental, sc.title, sc.mksquashfs_only, dict(sc.disk), output, arch)
        runs.append(r)
        if cold and sc.repo in warm_caches:
            shutil.rmtree(cache)
        elif cold:
            warm_caches[sc.repo] = cache
        t = r["timings"]
        note(f"{sc.name} #{rep}: {r['wall']:.1f} s (rpm {t.get('install.transaction', 0):.1f} s, "
             f"squashfs {t.get('squashfs', 0):.1f} s, {r['rpm_requests']}/{r['http_requests']} GETs rpm/all, "
             f"peak RSS {r['maxrss_kib'] / 1024:.0f} MiB)")
    return runs


def report(results: dict[str, list[dict[str, Any]]], reps: int, filler: int, json_path: Path) -> bool:
    """Write the JSON, print the tables and the targets; whether every target was met."""
    kinds = {sc.name: sc.kind for sc in SCENARIOS}
    summary = {name: {**summarize(runs), **(diskrows.summarize(runs) if kinds[name] == "disk" else {}),
                      **(crossrows.summarize(runs) if crossrows.is_cross(name) else {})}
               for name, runs in results.items()}
    compare(summary)
    info = machine()
    end_load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    info["load"] = f"load average {LOAD_AT_START} at the start, {end_load} at the end"
    json_path.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": info,
        "reps": reps,
        "filler": filler,
        "summary": summary,
        "runs": results,
    }, indent=1) + "\n")
    print(f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, {info['os']}, "
          f"kernel {info['kernel']} ({info['virtualization']}); {info['mksquashfs']};\n"
          f"{info.get('tar2sqfs')}; commit {info['commit']}; {info['load']}")
    print(f"Median of {reps} build(s) per row; seconds; large = {filler} filler packages.\n")
    live = {name: s for name, s in summary.items() if kinds[name] != "disk"}
    print("\n\n".join(t for t in (tables(live) if live else "", diskrows.table(summary, _markdown),
                                  crossrows.table(summary, _markdown)) if t))
    note(f"wrote {json_path}")
    return check_targets(summary)


def main() -> int:
    parser = _parser()
    opts = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run it as root: live builds need loop devices, mounts and chroot")
    global LOAD_AT_START
    LOAD_AT_START = " ".join(f"{x:.2f}" for x in os.getloadavg())
    reps = 1 if opts.quick else opts.reps
    scenarios = [s for s in SCENARIOS if not opts.only or s.name in opts.only]
    repos = build_repos(scenarios, opts.filler)
    work = Path(opts.workdir)
    if work.exists() and any(work.iterdir()) and not (work / ".livecd-bench").exists():
        parser.error(f"{work} is not empty and not an earlier benchmark's directory; give another --workdir")
    shutil.rmtree(work, ignore_errors=True)
    (work / "tmp").mkdir(parents=True)
    (work / ".livecd-bench").touch()
    with contextlib.ExitStack() as stack:
        served = {name: serve(stack, name, path, work) for name, path in repos.items()}
        warm_caches: dict[str, Path] = {}
        results = {sc.name: run_scenario(sc, reps, work, served[sc.repo], warm_caches) for sc in scenarios}
    return 0 if report(results, reps, opts.filler, Path(opts.json)) else 1


def check_targets(summary: dict[str, dict[str, Any]]) -> bool:
    checks = []
    if "large-zstd" in summary:
        pct = summary["large-zstd"]["outside_pct"]
        checks.append((f"large-zstd: {pct:.1f} % of the wall time outside rpm and the compression (<= 10 %)",
                       pct <= 10))
    if "minimal-warm" in summary:
        s = summary["minimal-warm"]
        checks.append((f"minimal-warm: {s['downloaded']} packages downloaded, {s['http_requests']} HTTP requests "
                       "(none)", s["downloaded"] == 0 and s["rpm_requests"] == 0))
    if "large-xz" in summary:
        s = summary["large-xz"]
        checks.append((f"large-xz: {s['vs_floor']:.2f}x its floor, rpm + compression (<= 1.05x)",
                       s["vs_floor"] <= 1.05))
    for name, limit, what in (("minimal-4g", 1.10, "a 4 GiB nominal root"),
                              ("large-xz-title", 0.10, "a --title change")):
        s = summary.get(name, {})
        if s.get("vs"):
            ref, ratio = s["vs"]
            checks.append((f"{name}: {what} takes {100 * ratio:.0f} % of {ref} (<= {100 * limit:.0f} %)",
                           ratio <= limit))
    if "large-xz-incr" in summary:
        s = summary["large-xz-incr"]
        checks.append((f"large-xz-incr: an unchanged package set: rpm transaction {s['rpm']:.1f} s, "
                       f"{s['installed']} packages installed (none)", s["rpm"] == 0 and s["installed"] == 0))
    checks += diskrows.checks({n: s for n, s in summary.items() if not crossrows.is_cross(n)})
    rss = max(s["peak_rss_mib"] for s in summary.values())
    checks.append((f"peak RSS of the build process: {rss:.0f} MiB (< 300 MiB)", rss < 300))
    print()
    for text, ok in checks:
        print(f"{'ok  ' if ok else 'MISS'} {text}")
    return all(ok for _, ok in checks)


if __name__ == "__main__":
    sys.exit(main())
