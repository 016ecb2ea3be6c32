"""Bad input: one clear paragraph naming what is wrong, a non-zero exit, no traceback, nothing left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import kickstarts
from tests.support import Leaks, assert_build_left_nothing, assert_failed, build_dirs, mounted_tmpfs, run_tool

pytestmark = pytest.mark.root

LIVE_KS = kickstarts.kickstart("part / --size {size}", repo=kickstarts.repo_line(url="{url}"), bootloader=None,
                              packages=("@core", "{kernel}"))


def livecd(tmp_path: Path, *args: str, env: dict[str, str] | None = None, prefix: list[str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return run_tool("livecd-creator", *build_dirs(tmp_path), "--compression-type", "lz4", *args, check=False,
                    env=env, prefix=prefix or ())


def write_ks(tmp_path: Path, url: str, size: int = 300, kernel: str = "kernel") -> Path:
    ks = tmp_path / "bad.ks"
    ks.write_text(LIVE_KS.format(url=url, size=size, kernel=kernel))
    return ks


def assert_failed_cleanly(proc: subprocess.CompletedProcess[str], tmp_path: Path, *needles: str,
                          ours: Leaks | None = None) -> None:
    """Failed with one error naming the problem, and nothing left behind but what the test set up (*ours*)."""
    assert_failed(proc, *needles)
    last = [ln for ln in proc.stderr.splitlines() if "error" in ln.lower()][-1:]
    assert last, proc.stderr
    assert_build_left_nothing(tmp_path, ours=ours)


def test_kickstart_missing(tmp_path: Path) -> None:
    proc = livecd(tmp_path, "--config", str(tmp_path / "nope.ks"), "--fslabel", "X")
    assert_failed_cleanly(proc, tmp_path, "nope.ks", "does not exist")


def test_kickstart_not_a_file(tmp_path: Path) -> None:
    proc = livecd(tmp_path, "--config", str(tmp_path), "--fslabel", "X")
    assert_failed_cleanly(proc, tmp_path, str(tmp_path), "not a regular file")


def test_kickstart_syntax_error(tmp_path: Path) -> None:
    ks = tmp_path / "syntax.ks"
    ks.write_text("lang en_US.UTF-8\nbogus-command --x\n")
    proc = livecd(tmp_path, "--config", str(ks), "--fslabel", "X")
    assert_failed_cleanly(proc, tmp_path, "syntax.ks", "line 2", "bogus-command")


def test_repository_unreachable(tmp_path: Path) -> None:
    proc = livecd(tmp_path, "--config", str(write_ks(tmp_path, "http://127.0.0.1:9/nothing")), "--fslabel", "X")
    assert_failed_cleanly(proc, tmp_path, "testdistro", "http://127.0.0.1:9/nothing")


def test_repository_corrupt_metadata(tmp_path: Path, testrepo: Path) -> None:
    bad = tmp_path / "badrepo"
    shutil.copytree(testrepo, bad, symlinks=True)
    for primary in (bad / "repodata").glob("*primary.xml*"):
        primary.write_bytes(b"this is not compressed xml" * 10)
    proc = livecd(tmp_path, "--config", str(write_ks(tmp_path, f"file://{bad}")), "--fslabel", "X")
    assert_failed_cleanly(proc, tmp_path, "testdistro")


def test_root_filesystem_too_small(tmp_path: Path, testrepo: Path) -> None:
    proc = livecd(tmp_path, "--config", str(write_ks(tmp_path, f"file://{testrepo}", size=40)), "--fslabel", "X")
    assert_failed_cleanly(proc, tmp_path, "too small", "part / --size")


@pytest.mark.parametrize(
    ("size", "needles"),
    [(20, ["MiB free", "--tmpdir"]),  # refused up front
     (130, ["is full", "--tmpdir"])],  # fills up while the ISO is made
)
def test_tmpdir_too_small(tmp_path: Path, testrepo: Path, size: int, needles: list[str]) -> None:
    with mounted_tmpfs(tmp_path / "small", size) as small:
        proc = livecd(tmp_path, "--config", str(write_ks(tmp_path, f"file://{testrepo}")), "--fslabel", "X",
                      "--tmpdir", str(small), "--compression-type", "gzip")
        assert_failed_cleanly(proc, tmp_path, str(small), *needles, ours=Leaks(mounts=frozenset({str(small)})))
        assert list(small.iterdir()) == [], "the build directory was removed"


def test_host_tool_missing(tmp_path: Path, testrepo: Path) -> None:
    fakebin = tmp_path / "bin"
    fakebin.mkdir()
    for d in ("/usr/bin", "/usr/sbin"):
        for name in os.listdir(d):
            if name != "mksquashfs" and not (fakebin / name).exists():
                (fakebin / name).symlink_to(os.path.join(d, name))
    proc = livecd(tmp_path, "--config", str(write_ks(tmp_path, f"file://{testrepo}")), "--fslabel", "X",
                  env={"PATH": str(fakebin)})
    assert_failed_cleanly(proc, tmp_path, "mksquashfs", "squashfs-tools")


def test_not_root(tmp_path: Path) -> None:
    proc = livecd(tmp_path, "--config", "/nonexistent.ks", "--fslabel", "X",
                  prefix=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
    assert_failed_cleanly(proc, tmp_path, "root")


@pytest.mark.parametrize(
    ("label", "needle"),
    [("L" * 33, "limited to 32"), ("has space", "cannot be used"), ("a/b", "cannot be used")],
)
def test_invalid_fslabel(tmp_path: Path, testrepo: Path, label: str, needle: str) -> None:
    proc = livecd(tmp_path, "--config", str(write_ks(tmp_path, f"file://{testrepo}")), "--fslabel", label)
    assert_failed_cleanly(proc, tmp_path, needle)


def test_live_build_without_kernel(tmp_path: Path, testrepo: Path) -> None:
    proc = livecd(tmp_path, "--config", str(write_ks(tmp_path, f"file://{testrepo}", kernel="")), "--fslabel", "X")
    assert_failed_cleanly(proc, tmp_path, "No kernel", "'kernel'", "%packages")


def test_unknown_compression_type(tmp_path: Path, testrepo: Path) -> None:
    proc = livecd(tmp_path, "--config", str(write_ks(tmp_path, f"file://{testrepo}")), "--fslabel", "X",
                  "--compression-type", "brotli")
    assert_failed_cleanly(proc, tmp_path, "Unknown compressor 'brotli'", "use one of xz")


@pytest.mark.parametrize(
    ("package", "reason"),
    [("bad-pre", "its %pre scriptlet failed"), ("bad-payload", "its payload could not be unpacked")],
)
def test_package_rpm_refuses(tmp_path: Path, testrepo: Path, package: str, reason: str) -> None:
    """rpm refuses one transaction element: the build fails naming it, instead of an image without it."""
    ks = write_ks(tmp_path, f"file://{testrepo}", kernel=f"kernel\n{package}")
    proc = livecd(tmp_path, "--config", str(ks), "--fslabel", "X")
    assert_failed_cleanly(proc, tmp_path, f"{package}-1.0-1.noarch ({reason})", "rpm did not install")
