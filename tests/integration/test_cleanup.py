"""Never leave a mess: faults injected in every phase of a real live build, checked from outside.

For each phase (mount, install, configure, %post, unmount, package) and each fault (an exception, SIGINT,
SIGTERM), a build of a live ISO is failed at that point.  Afterwards, seen with findmnt, losetup and /proc:
nothing is mounted, no loop device is attached, no process runs in the build root, the build directory is
gone (unless --nocleanup) and the output folder holds no file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, RepoServer, leak_snapshot

pytestmark = pytest.mark.root

KS = """
part / --size 300
bootloader --timeout 1
repo --name=testdistro --baseurl=file://{repo}
%packages
@core
kernel
post-demo
%end
%post
# a daemon left running by %post: it must be stopped before unmounting
sleep 600 &
echo started-daemon
%end
"""

PHASES = ["mount", "install", "configure", "post", "unmount", "package"]
KINDS = ["exception", "SIGINT", "SIGTERM"]


def start_build(tmp_path: Path, repo: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    ks = tmp_path / "fault.ks"
    ks.write_text(KS.format(repo=repo))
    (tmp_path / "work").mkdir(exist_ok=True)
    args = [sys.executable, str(REPO_ROOT / "tools/livecd-creator"), "--config", str(ks), "--fslabel", "FAULT",
            "--tmpdir", str(tmp_path / "work"), "--output", str(tmp_path / "out"), "--compression-type", "lz4",
            *extra]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def assert_clean(tmp_path: Path, keep_builddir: bool = False) -> None:
    mounts, loops, procs = leak_snapshot()
    work = str(tmp_path / "work")
    assert not [m for m in mounts if m.startswith(work)], f"left mounted: {mounts}"
    assert not [lo for lo in loops if work in lo], f"loop devices left attached: {loops}"
    assert not [p for p in procs if work in p], f"processes left in the build root: {procs}"
    builddirs = list((tmp_path / "work").glob("imgcreate-*"))
    if keep_builddir:
        assert len(builddirs) == 1, "--nocleanup keeps the build directory"
    else:
        assert builddirs == [], f"build directory left behind: {builddirs}"
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == [], f"in the output folder: {list(out.iterdir())}"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("phase", PHASES)
def test_fault_in_phase_leaves_nothing(phase: str, kind: str, tmp_path: Path, testrepo: Path) -> None:
    when = "start" if phase == "unmount" else "end"
    proc = start_build(tmp_path, testrepo, env={"IMGCREATE_INJECT_FAULT": f"{phase}:{when}:{kind}"})
    out, err = proc.communicate(timeout=600)
    assert proc.returncode != 0, err
    assert "Traceback" not in err, err
    if kind == "exception":
        assert "Injected fault" in err
    else:
        assert proc.returncode == 130, err
    assert_clean(tmp_path)


def test_nocleanup_keeps_the_build_dir_but_unmounts(tmp_path: Path, testrepo: Path) -> None:
    proc = start_build(tmp_path, testrepo, "--nocleanup", env={"IMGCREATE_INJECT_FAULT": "post:end:exception"})
    _, err = proc.communicate(timeout=600)
    assert proc.returncode != 0
    assert_clean(tmp_path, keep_builddir=True)
    builddir = next((tmp_path / "work").glob("imgcreate-*"))
    assert (builddir / "image/FAULT.img").exists(), "the image is kept for inspection"


@pytest.mark.parametrize(
    ("sig", "trigger"),
    [
        (signal.SIGTERM, "== install"),
        (signal.SIGHUP, "== install"),
        (signal.SIGINT, "== install"),
        # inside the rpm transaction, where rpm's bindings abort the process if a callback raises
        (signal.SIGTERM, "Installing filesystem"),
        (signal.SIGINT, "Installing busybox"),
        (signal.SIGTERM, "compressing"),
    ],
)
def test_external_signal(sig: signal.Signals, trigger: str, tmp_path: Path, testrepo: Path) -> None:
    """A real signal from outside (a CI job's timeout, a closed terminal, Ctrl-C) at a given point."""
    proc = start_build(tmp_path, testrepo, "--compression-type", "xz")  # slow enough to be caught compressing
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if trigger in line:
            proc.send_signal(sig)
            break
    rest = proc.stderr.read()
    proc.wait(timeout=300)
    assert proc.returncode == 130, "".join(seen) + rest
    assert "Traceback" not in rest and "FATAL" not in rest, rest
    assert_clean(tmp_path)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_while_downloading(sig: signal.Signals, tmp_path: Path, repo_server: RepoServer) -> None:
    """librepo stops on SIGINT by itself; SIGTERM waits for the download. Either way: exit 130, nothing left."""
    repo_server.slow_down(0.7)
    ks = tmp_path / "dl.ks"
    ks.write_text(f"part / --size 300\nrepo --name=slow --baseurl={repo_server.url}\n%packages\n@core\nkernel\n%end\n")
    (tmp_path / "work").mkdir()
    proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "tools/livecd-creator"), "-c", str(ks), "-f", "DL",
                             "--tmpdir", str(tmp_path / "work"), "--cache", str(tmp_path / "cache"),
                             "--output", str(tmp_path / "out")], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("Downloading "):
            proc.send_signal(sig)
            break
    rest = proc.stderr.read()
    proc.wait(timeout=300)
    assert proc.returncode == 130, rest
    assert "Traceback" not in rest and "SWIG" not in rest, rest
    assert_clean(tmp_path)


def test_successful_build_stops_the_daemon_and_leaves_only_the_iso(tmp_path: Path, testrepo: Path) -> None:
    proc = start_build(tmp_path, testrepo)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "stopping process" in err and "sleep" in err, "the %post daemon was found and stopped"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["FAULT.iso"]
    (tmp_path / "out/FAULT.iso").unlink()
    assert_clean(tmp_path)
