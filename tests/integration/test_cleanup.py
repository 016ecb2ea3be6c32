"""Never leave a mess: faults injected in every phase of a real live build, checked from outside.

For each phase (mount, install, configure, %post, unmount, package) and each fault (an exception, SIGINT,
SIGTERM), a build of a live ISO is failed at that point.  Afterwards, seen with findmnt, losetup and /proc:
nothing is mounted, no loop device is attached, no process runs in the build root, the build directory is
gone (unless --nocleanup) and the output folder holds no file.
"""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support import (
    RepoServer,
    alive,
    assert_build_left_nothing,
    assert_failed,
    build_dirs,
    finish,
    images_in,
    running,
    signal_at,
    start_tool,
)

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


def start_build(tmp_path: Path, repo: Path, *extra: str, env: dict[str, str] | None = None,
                fault: str | None = None) -> subprocess.Popen[str]:
    ks = tmp_path / "fault.ks"
    ks.write_text(KS.format(repo=repo))
    return start_tool("livecd-creator", "--config", str(ks), "--fslabel", "FAULT", *build_dirs(tmp_path),
                      "--compression-type", "lz4", *extra, env=env, fault=fault)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("phase", PHASES)
def test_fault_in_phase_leaves_nothing(phase: str, kind: str, tmp_path: Path, testrepo: Path) -> None:
    when = "start" if phase == "unmount" else "end"
    proc = finish(start_build(tmp_path, testrepo, fault=f"{phase}:{when}:{kind}"))
    if kind == "exception":
        assert_failed(proc, "Injected fault")
    else:
        assert_failed(proc)
        assert proc.returncode == 130, proc.stderr
    assert_build_left_nothing(tmp_path)


def test_nocleanup_keeps_the_build_dir_but_unmounts(tmp_path: Path, testrepo: Path) -> None:
    proc = finish(start_build(tmp_path, testrepo, "--nocleanup", fault="post:end:exception"))
    assert proc.returncode != 0
    assert_build_left_nothing(tmp_path, keep_builddir=True)
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
    _, rest = proc.communicate(timeout=300)  # bounded: a signal acted on late must fail, not wait an hour
    assert proc.returncode == 130, "".join(seen) + rest
    assert "Traceback" not in rest and "FATAL" not in rest, rest
    assert_build_left_nothing(tmp_path)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_while_downloading(sig: signal.Signals, tmp_path: Path, repo_server: RepoServer) -> None:
    """librepo stops on SIGINT by itself; SIGTERM waits for the download. Either way: exit 130, nothing left."""
    repo_server.slow_down(0.7)
    ks = tmp_path / "dl.ks"
    ks.write_text(f"part / --size 300\nrepo --name=slow --baseurl={repo_server.url}\n%packages\n@core\nkernel\n%end\n")
    proc = start_tool("livecd-creator", "-c", str(ks), "-f", "DL", *build_dirs(tmp_path), "--cache",
                      str(tmp_path / "cache"), stdout=None)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("Downloading "):
            proc.send_signal(sig)
            break
    _, rest = proc.communicate(timeout=300)  # bounded: a signal acted on late must fail, not wait an hour
    assert proc.returncode == 130, rest
    assert "Traceback" not in rest and "SWIG" not in rest, rest
    assert_build_left_nothing(tmp_path)


def test_successful_build_stops_the_daemon_and_leaves_only_the_iso(tmp_path: Path, testrepo: Path) -> None:
    proc = finish(start_build(tmp_path, testrepo))
    assert proc.returncode == 0, proc.stderr
    assert "stopping process" in proc.stderr and "sleep" in proc.stderr, "the %post daemon was found and stopped"
    assert [p.name for p in images_in(tmp_path / "out")] == ["FAULT.iso"]
    for delivered in (tmp_path / "out").iterdir():  # the ISO and its manifest (FAULT-CHECKSUM, ...)
        delivered.unlink()
    assert_build_left_nothing(tmp_path)


# A script that starts a child in the background, says so and waits; the --nochroot one works in the install root
# (as a script copying files in would), so its processes keep the root busy while they run.
SCRIPT_KS = """{layout}
repo --name=testdistro --baseurl=file://{repo}
%packages
@core
kernel
%end
%post{nochroot}
{cd}
sleep {child} &
echo "child-pid=$!"
sleep {waits}
%end
"""
LAYOUTS = {"appliance-creator": "clearpart --all --initlabel --disklabel=msdos\npart / --fstype=ext4 --size=400\n"
                                "bootloader --location=none",
           "livecd-creator": "part / --size 300\nbootloader --timeout 1", "image-creator": "part / --size 300"}


@pytest.mark.parametrize(("tool", "nochroot", "sig"), [
    ("appliance-creator", True, signal.SIGTERM),
    ("livecd-creator", True, signal.SIGINT),
    ("livecd-creator", True, signal.SIGHUP),
    ("image-creator", False, signal.SIGTERM),
])
def test_signal_while_a_script_runs_stops_it_and_its_children(tool: str, nochroot: bool, sig: signal.Signals,
                                                              tmp_path: Path, testrepo: Path) -> None:
    """Issue 22: a signal while a %post runs stops the script's whole process group, not only its shell: the
    child it left in the background is gone, nothing stays mounted or attached, and the exit status is 130."""
    child, waits = str(3100 + 4 * sig + 2 * nochroot), str(3101 + 4 * sig + 2 * nochroot)  # unique per case
    ks = tmp_path / "script.ks"
    ks.write_text(SCRIPT_KS.format(layout=LAYOUTS[tool], repo=testrepo, nochroot=" --nochroot" if nochroot else "",
                                   cd='cd "$INSTALL_ROOT"' if nochroot else "", child=child, waits=waits))
    (tmp_path / "work").mkdir()
    dirs = ["-t", str(tmp_path / "work"), "-o", str(tmp_path / "out")]
    extra = ["--no-compress"] if tool == "appliance-creator" else ["--compression-type", "lz4"] \
        if tool == "livecd-creator" else []
    proc = start_tool(tool, "-c", str(ks), "-n" if tool == "appliance-creator" else "-f", "SCRIPT", *dirs, *extra)
    seen = signal_at(proc, sig, "child-pid=")
    pid = int(re.findall(r"child-pid=(\d+)", seen)[-1])
    _, rest = proc.communicate(timeout=120)  # bounded: a signal acted on late must fail, not wait an hour
    assert proc.returncode == 130, seen + rest
    assert "Traceback" not in rest and "cleaning up failed" not in rest, rest
    assert not alive(pid), "the script's background child was stopped"
    assert running("sleep", child) == running("sleep", waits) == [], "and every process of the script"
    assert_build_left_nothing(tmp_path)
