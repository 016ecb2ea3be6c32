"""The benchmark's cross-architecture rows (issue 27, bench/crossrows.py), without building anything.

What emulation costs is only read off the comparison if both builds of a kind are in the benchmark and install
the same package set from the same kickstart: a row renamed, a kickstart that drifts apart or a package missing
from one flavour would make the ratio compare two different builds.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import imgcreate
from imgcreate.kickstart.upstream import get_groups, get_packages
from testdistro import aarch64, comps

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench() -> ModuleType:
    """bench/run.py as a module (it imports its neighbours from bench/, as when run as a script)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    if "bench_run" in sys.modules:
        return sys.modules["bench_run"]
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_each_kind_has_a_native_and_an_aarch64_row_built_alike() -> None:
    run = _bench()
    crossrows = run.crossrows
    rows = {s.name: s for s in run.SCENARIOS}
    assert {kind for kind, _, _ in crossrows.PAIRS} == {"disk", "live"}
    for kind, native, cross in crossrows.PAIRS:
        n, x = rows[native], rows[cross]
        assert n.kind == x.kind == kind
        assert (n.repo, crossrows.forcearch(n.xarch)) == ("minimal", None)  # the x86_64 test distribution
        assert (x.repo, crossrows.forcearch(x.xarch)) == ("aarch64", "aarch64")  # its aarch64 flavour, emulated
        assert (n.compression, n.cache, n.disk) == (x.compression, x.cache, x.disk)
        assert crossrows.is_cross(native) and crossrows.is_cross(cross)
    assert not any(crossrows.is_cross(s.name) for s in run.SCENARIOS if not s.xarch)


def test_both_builds_of_a_kind_install_the_same_package_set(tmp_path: Path) -> None:
    run = _bench()
    crossrows = run.crossrows
    for kind, native, cross in crossrows.PAIRS:
        ks_native = crossrows.write_kickstart(tmp_path, native, kind, "http://127.0.0.1:1/x86_64/")
        ks_cross = crossrows.write_kickstart(tmp_path, cross, kind, "http://127.0.0.1:1/aarch64/")
        assert ks_native.read_text().replace("x86_64", "aarch64") == ks_cross.read_text()
        for ks in (ks_native, ks_cross):
            handler = imgcreate.read_kickstart(ks).handler
            assert sorted(get_packages(handler)) == sorted(p for p in crossrows.PACKAGES if not p.startswith("@"))
            assert sorted(g.name for g in get_groups(handler)) == sorted(
                p[1:] for p in crossrows.PACKAGES if p.startswith("@"))
    # and each flavour has them: the groups are the same comps, the packages built for both
    ids = {g.id for g in comps.groups()}
    for name in crossrows.PACKAGES:
        assert name[1:] in ids if name.startswith("@") else name in ("kernel", *aarch64.KEPT_NOARCH)
