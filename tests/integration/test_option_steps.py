"""Interrupts and failures in the step an option selects (issue 22): every path a user takes keeps the promises.

The default command lines are interrupted and failed in their own steps elsewhere (tests/integration/
test_cleanup.py, test_toolbox.py, test_iso_to_disk.py).  Here each option path is stopped in the step only that
option runs: the host tool of that step is replaced, first on PATH, by a wrapper (tests/faults.py) that runs it
and then stalls (SIGTERM, SIGINT land while it "runs") or fails.  Afterwards, seen from outside: exit status 130
after a signal, one error paragraph naming the failure and no traceback after a failure, the wrapper's process
stopped, nothing mounted or attached below the test's folder, no work folder, and nothing (not even a whole but
unfinished file) in the output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import kickstarts
from tests.faults import wrap_host_tool
from tests.support import (
    TOOL_TIMEOUT,
    assert_build_left_nothing,
    build_dirs,
    build_live,
    default_sigint,
    leak_snapshot,
    running,
    tool_argv,
)

pytestmark = pytest.mark.root

LIVE_KS = kickstarts.LIVE

DISK_KS = kickstarts.DISK


@dataclass(frozen=True)
class Ctx:
    """What a path's command line and its check need: the test's folder, the test repository, a live ISO."""

    tmp: Path
    repo: Path
    iso: Path


def _creator(tool: str, ks: str, *extra: str) -> Callable[[Ctx], list[str]]:
    def argv(ctx: Ctx) -> list[str]:
        path = ctx.tmp / "opt.ks"
        path.write_text(ks.format(repo=ctx.repo))
        dirs = build_dirs(ctx.tmp)
        if tool == "appliance-creator":  # upstream's short options only
            return [tool, "-c", str(path), "-n", "OPT", "-t", dirs[1], "-o", dirs[3], *extra]
        return [tool, "-c", str(path), "-f", "OPT", *dirs, *extra]
    return argv


def _creator_left_nothing(ctx: Ctx) -> None:
    assert_build_left_nothing(ctx.tmp)


def _incremental_left_nothing(ctx: Ctx) -> None:
    assert_build_left_nothing(ctx.tmp)
    cache = ctx.tmp / "cache"
    kept = sorted(str(p.relative_to(cache)) for p in cache.rglob("*")) if cache.exists() else []
    assert not [k for k in kept if "/" in k or k.startswith(".")], f"a half-stored cache entry: {kept}"


def _i2d_argv(ctx: Ctx) -> list[str]:
    (ctx.tmp / "out").mkdir()
    return ["livecd-iso-to-disk", "--noverify", "--overlay-size-mb", "32", "--home-size-mb", "32",
            "--unencrypted-home", str(ctx.iso),
            str(ctx.tmp / "out/stick.raw")]


def _mount_argv(ctx: Ctx) -> list[str]:
    (ctx.tmp / "mnt").mkdir()
    (ctx.tmp / "out/overlay").mkdir(parents=True)
    return ["liveimage-mount", "--tmpdir", str(ctx.tmp), "--overlay", str(ctx.tmp / "out/overlay"), str(ctx.iso),
            str(ctx.tmp / "mnt"), "true"]


def _mount_left_nothing(ctx: Ctx) -> None:
    assert list((ctx.tmp / "mnt").iterdir()) == []
    assert not list(ctx.tmp.glob("liveimage-mount-*")), "its work folder"
    overlay = ctx.tmp / "out/overlay"
    written = [p for p in overlay.rglob("*") if not p.is_dir()] if overlay.exists() else []
    assert written == [], "nothing written into the user's overlay"


def _pxe_argv(ctx: Ctx) -> list[str]:
    (ctx.tmp / "out").mkdir()
    return ["livecd-iso-to-pxeboot", str(ctx.iso), "-o", str(ctx.tmp / "out/tftpboot"), "--http-url",
            "http://10.0.2.2:8080/"]


def _out_empty(ctx: Ctx) -> None:
    assert list((ctx.tmp / "out").iterdir()) == [], "nothing in the output folder"


@dataclass(frozen=True)
class OptionPath:
    """One row of the guarantee table: its command line, the host tool of its own step (and the arguments that
    single that step out), how to stall or fail it, and what "nothing left" means for it."""

    argv: Callable[[Ctx], list[str]]
    tool: str
    match: str
    left_nothing: Callable[[Ctx], None]
    after: bool = True  # the real tool runs (writes its output) before the stall or the failure


PATHS = {
    # the uncompressed ext image is put on the ISO: stopped while the ISO holding it is mastered (and written)
    "livecd-creator -s": OptionPath(_creator("livecd-creator", LIVE_KS, "-s"), "xorriso", "-as mkisofs",
                                    _creator_left_nothing),
    "livecd-creator --rootfs-type erofs": OptionPath(
        _creator("livecd-creator", LIVE_KS, "--rootfs-type", "erofs", "--compression-type", "lz4"), "mkfs.erofs",
        "squashfs.img", _creator_left_nothing),
    # the installed tree is copied into the cache (its entry is made aside and renamed into place)
    "livecd-creator --incremental": OptionPath(
        lambda ctx: [*_creator("livecd-creator", LIVE_KS, "--compression-type", "lz4")(ctx), "--incremental",
                     str(ctx.tmp / "cache")], "cp", "-a --reflink=auto", _incremental_left_nothing),
    # the installed tree is packed straight into the squashfs (no ext image)
    "livecd-creator --flat-squashfs": OptionPath(
        _creator("livecd-creator", LIVE_KS, "--flat-squashfs", "--compression-type", "lz4"), "mksquashfs",
        "squashfs.img", _creator_left_nothing),
    # a compressor other than the default xz: mksquashfs packs the ext image (the default goes through tar2sqfs)
    "livecd-creator --compression-type lz4": OptionPath(
        _creator("livecd-creator", LIVE_KS, "--compression-type", "lz4"), "mksquashfs", "squashfs.img",
        _creator_left_nothing),
    # the base ISO's root is extracted to start from
    "livecd-creator --base-on": OptionPath(
        lambda ctx: [*_creator("livecd-creator", LIVE_KS, "--compression-type", "lz4")(ctx), "--base-on",
                     str(ctx.iso)], "xorriso", "-extract /LiveOS", _creator_left_nothing),
    "appliance-creator --incremental": OptionPath(
        lambda ctx: [*_creator("appliance-creator", DISK_KS, "--no-compress")(ctx), "--incremental",
                     str(ctx.tmp / "cache")], "cp", "-a --reflink=auto", _incremental_left_nothing),
    "appliance-creator -f qcow2": OptionPath(_creator("appliance-creator", DISK_KS, "-f", "qcow2"), "qemu-img",
                                             "convert", _creator_left_nothing),
    # the home image is made after the overlay file was reserved
    "livecd-iso-to-disk --overlay-size-mb --home-size-mb": OptionPath(_i2d_argv, "mkfs.ext4", "home.img", _out_empty),
    # the overlayfs over the ISO's root (mounting holds signals until the mount is done, so they land first)
    "liveimage-mount --overlay": OptionPath(_mount_argv, "mount", "-t overlay", _mount_left_nothing, after=False),
    # the squashfs served over HTTP is extracted into the tree
    "livecd-iso-to-pxeboot --http-url": OptionPath(_pxe_argv, "xorriso", "-extract /LiveOS/squashfs.img",
                                                   _out_empty),
}
KINDS = {"SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT, "failure": None}


@pytest.fixture(scope="module")
def iso(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> Path:
    return build_live(tmp_path_factory.mktemp("optsteps"), testrepo, "OPTSTEPS", "--compression-type", "lz4",
                      write_mib=0)


# SIGINT takes the path SIGTERM takes (imgcreate.host.signals: one handler); the default run stops each step once.
@pytest.mark.parametrize("kind", [pytest.param(k, marks=pytest.mark.slow) if k == "SIGINT" else k for k in KINDS])
@pytest.mark.parametrize("path", PATHS)
def test_interrupt_or_failure_in_the_options_own_step(path: str, kind: str, tmp_path: Path, testrepo: Path,
                                                      iso: Path) -> None:
    """SIGTERM or SIGINT while the option's step runs: exit 130.  Its step failing: one paragraph naming the
    failure, no traceback.  Either way nothing is left running, mounted, attached, in a work folder or in the
    output."""
    option = PATHS[path]
    ctx = Ctx(tmp_path, testrepo, iso)
    sig = KINDS[kind]
    stall = 3300 + 3 * list(PATHS).index(path) + list(KINDS).index(kind)  # unique per case
    mode = ("stall-" if sig else "fail-") + ("after" if option.after else "before")
    marker = wrap_host_tool(tmp_path / "bin", option.tool, option.match, mode, stall)
    systmp = tmp_path / "systmp"  # TMPDIR: where the tools without --tmpdir make their work folders
    systmp.mkdir()
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "TMPDIR": str(systmp)}
    log = tmp_path / "log"
    tool, *args = option.argv(ctx)
    with open(log, "w") as err:
        # SIGINT as a terminal gives it, even when the tests run in the background (which ignores it)
        proc = subprocess.Popen(tool_argv(tool, *args), stdout=subprocess.DEVNULL, stderr=err, env=env,
                                preexec_fn=default_sigint)
        if sig is not None:
            deadline = time.monotonic() + TOOL_TIMEOUT
            while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.2)  # the wrapper is in its sleep
            proc.send_signal(sig)
        proc.wait(timeout=TOOL_TIMEOUT)
    stderr = log.read_text(errors="replace")
    assert marker.exists(), f"the option's step was not reached:\n{stderr[-3000:]}"
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    if sig is not None:
        assert proc.returncode == 130, stderr[-3000:]
        assert "cleaning up failed" not in stderr, stderr
    else:
        assert proc.returncode == 1, stderr[-3000:]
        errors = [line for line in stderr.splitlines() if ": error: " in line]
        paragraph = stderr[stderr.find(errors[0]):] if errors else ""  # the message, then the tool's last output
        assert len(errors) == 1 and f"injected failure of {option.tool}" in paragraph, stderr[-3000:]
    assert running("sleep", str(stall)) == [], "the stalled step was stopped"
    leak_snapshot().under(tmp_path).assert_none()
    option.left_nothing(ctx)
    assert list(systmp.iterdir()) == [], "its work folders"
