"""Every upstream option of liveimage-mount (livecd-tools 31: -u, -r, --chroot, --mount-hacks, --persist, -o,
-s, -f, -t, and the positionals), each checked by its effect with upstream's meaning and exit codes.

Table-driven like test_upstream_options.py: EFFECTS holds one check per option, and
``test_every_option_has_a_checked_effect`` fails when the parser has an option without one.  The checks share
the session's small flat ISO (conftest.toolbox_isos); each run of the tool takes about a second.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from imgcreate.cli import toolbox
from tests import support
from tests.support import assert_failed, leak_snapshot, run_tool

pytestmark = pytest.mark.root


@dataclass
class Ctx:
    iso: Path
    tmp: Path

    def mnt(self, name: str) -> Path:
        path = self.tmp / name
        path.mkdir()
        return path

    def run(self, *args: str, check: bool = True, env: dict[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_tool("liveimage-mount", "-t", str(self.tmp), *args, check=check, env=env, input=input)

    def host_shell(self, script: str) -> dict[str, str]:
        """$SHELL for a run without COMMAND: upstream's subshell on the host, in the mount point."""
        path = self.tmp / f"shell-{len(list(self.tmp.glob('shell-*')))}.sh"
        path.write_text("#!/bin/sh\n" + script + "\n")
        path.chmod(0o755)
        return {"SHELL": str(path)}

    def nothing_left(self) -> None:
        leak_snapshot().under(self.tmp).assert_none()
        assert not list(self.tmp.glob("liveimage-mount-*")), "work folders removed"


@pytest.fixture
def ctx(toolbox_isos: dict[str, Path], tmp_path: Path) -> Ctx:
    return Ctx(toolbox_isos["flat"], tmp_path)


def check_positionals(c: Ctx) -> None:
    """COMMAND runs chrooted in the root (cwd /, the image's files); its status is the tool's.  Without one,
    $SHELL runs on the host in MOUNTPOINT.  The root is writable through a temporary overlay: the next mount
    no longer sees the write.  A missing MOUNTPOINT is made, and removed again."""
    mnt = c.mnt("m")
    proc = c.run(str(c.iso), str(mnt), "sh", "-c", "pwd; grep ^NAME= /etc/os-release; echo hi > /root/note; exit 7",
                 check=False)
    assert proc.returncode == 7 and proc.stdout.split() == ["/", 'NAME="Testdistro"'], proc.stdout + proc.stderr
    env = c.host_shell(f"pwd > {c.tmp}/where; test -f etc/os-release && echo yes >> {c.tmp}/where; "
                       f"test -e root/note && echo kept >> {c.tmp}/where; true")
    c.run(str(c.iso), str(mnt), env=env)
    assert (c.tmp / "where").read_text() == f"{mnt}\nyes\n", "on the host in MOUNTPOINT; the write is gone"
    c.run(str(c.iso), str(c.tmp / "made"), "true")
    assert not (c.tmp / "made").exists(), "the mount point it made is removed"
    assert c.run(str(c.iso), check=False).returncode == 2, "a source and a mount point are needed"
    c.nothing_left()


def check_overlay(c: Ctx) -> None:
    """-o DIR is the upper layer itself (upstream, dracut); -o an ext image keeps overlayfs/ and ovlwork/ (a
    stick's persistent overlay); the next mount sees the changes; a missing PATH is exit 1."""
    mnt, ovl = c.mnt("m"), c.mnt("ovl")
    c.run("-o", str(ovl), str(c.iso), str(mnt), "sh", "-c", "echo kept > /root/note")
    assert (ovl / "root/note").read_text() == "kept\n"
    assert c.run("--overlay", str(ovl), str(c.iso), str(mnt), "cat", "/root/note").stdout == "kept\n"
    image = c.tmp / "overlay.img"
    subprocess.run(["truncate", "-s", "32M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", str(image)], check=True)
    c.run("-o", str(image), str(c.iso), str(mnt), "sh", "-c", "echo in-image > /root/note")
    out = subprocess.run(["debugfs", "-R", "cat /overlayfs/root/note", str(image)], capture_output=True,
                         text=True, check=True).stdout
    assert out == "in-image\n", "written in dracut's layout"
    proc = c.run("-o", str(c.tmp / "missing"), str(c.iso), str(mnt), "true", check=False)
    assert_failed(proc, "is not a file or directory")
    assert proc.returncode == 1
    c.nothing_left()


def check_read_only(c: Ctx) -> None:
    """-r: the overlay is only read (its files seen, writes go to a temporary layer and are lost)."""
    mnt, ovl = c.mnt("m"), c.mnt("ovl")
    (ovl / "root").mkdir()
    (ovl / "root/was-there").write_text("before\n")
    proc = c.run("-r", "-o", str(ovl), str(c.iso), str(mnt), "sh", "-c", "cat /root/was-there; touch /root/new")
    assert proc.stdout == "before\n"
    assert sorted(p.name for p in (ovl / "root").iterdir()) == ["was-there"], "the overlay was not written"
    c.nothing_left()


def check_ovlsize(c: Ctx) -> None:
    """-s SIZE MiB is the temporary overlay's size: writing more fails; not a positive integer is exit 1."""
    mnt = c.mnt("m")
    fill = "for i in $(seq 40); do cat /bin/sh >> /big || exit 9; done"  # no /dev/zero without --mount-hacks
    proc = c.run("-s", "4", str(c.iso), str(mnt), "sh", "-c", fill, check=False)
    assert proc.returncode == 9 and "No space left" in proc.stderr, proc.stderr
    for bad in ("0", "lots"):
        proc = c.run("--ovlsize", bad, str(c.iso), str(mnt), "true", check=False)
        assert_failed(proc, "Invalid overlay size")
        assert proc.returncode == 1
    c.nothing_left()


def check_chroot(c: Ctx) -> None:
    """--chroot without COMMAND: the subshell runs chrooted in the root (the image's /etc/os-release)."""
    mnt = c.mnt("m")
    proc = c.run("--chroot", str(c.iso), str(mnt), input="grep ^NAME= /etc/os-release; pwd; exit 3\n",
                 env={"SHELL": "/bin/bash"}, check=False)
    assert proc.returncode == 3 and 'NAME="Testdistro"' in proc.stdout, proc.stdout + proc.stderr
    c.nothing_left()


def check_mount_hacks(c: Ctx) -> None:
    """--mount-hacks: /proc, /dev, /run and the host's resolv.conf in the root; -f PATH on /var/cache/dnf,
    written through; all gone afterwards, nothing reaches the host's /dev."""
    mnt, cache = c.mnt("m"), c.mnt("dnfcache")
    (cache / "from-host").write_text("cached\n")
    script = ("test -r /proc/self/status && echo proc; test -c /dev/null && echo dev; test -d /dev/pts && echo pts;"
              "cat /var/cache/dnf/from-host; echo new > /var/cache/dnf/from-chroot; cat /etc/resolv.conf")
    proc = c.run("--mount-hacks", "-f", str(cache), str(c.iso), str(mnt), "sh", "-c", script)
    resolv = Path("/etc/resolv.conf").read_text() if Path("/etc/resolv.conf").is_file() else ""
    assert proc.stdout == "proc\ndev\npts\ncached\n" + resolv, proc.stdout
    assert (cache / "from-chroot").read_text() == "new\n"
    proc = c.run("-f", str(c.tmp / "nowhere"), str(c.iso), str(mnt), "true", check=False)
    assert_failed(proc, "is not a directory")
    assert proc.returncode == 1
    c.nothing_left()


def check_persist_and_unmount(c: Ctx) -> None:
    """--persist: the mounts stay after exit (a COMMAND runs on the host, not waited for); -u MOUNTPOINT stops
    what runs in the root and unmounts everything; -u on a folder it did not mount is exit 1, without one 2."""
    mnt = c.mnt("m")
    # the command keeps running after the tool exits: it must not hold the tool's output pipes open
    proc = c.run("--persist", str(c.iso), str(mnt), "sh", "-c", f"exec chroot {mnt} sleep 3221 >/dev/null 2>&1")
    assert "Process id:" in proc.stdout
    try:
        assert os.path.ismount(mnt) and "Testdistro" in (mnt / "etc/os-release").read_text()
        # The command is started, not waited for: give it a moment to be running (a loaded machine is slow).
        deadline = time.monotonic() + 30
        while not support.running("sleep", "3221") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert support.running("sleep", "3221")
    finally:
        c.run("-u", str(mnt))
    assert not os.path.ismount(mnt) and list(mnt.iterdir()) == []
    assert support.running("sleep", "3221") == [], "the process in the root was stopped"
    proc = c.run("--unmount", str(mnt), check=False)
    assert proc.returncode == 1 and "is not a mount point" in proc.stderr
    assert c.run("-u", check=False).returncode == 2
    c.nothing_left()


def check_tmpdir(c: Ctx) -> None:
    """-t PATH holds the work folder (extracted root, temporary overlay) while mounted; missing: exit 1."""
    mnt, tmp = c.mnt("m"), c.mnt("t")
    env = c.host_shell(f"ls {tmp} > {c.tmp}/seen; ls {tmp}/liveimage-mount-* >> {c.tmp}/seen")
    run_tool("liveimage-mount", "--tmpdir", str(tmp), str(c.iso), str(mnt), env=env)
    seen = (c.tmp / "seen").read_text()
    assert seen.startswith("liveimage-mount-") and "scratch.img" in seen, seen
    assert list(tmp.iterdir()) == []
    proc = c.run("-t", str(c.tmp / "nowhere"), str(c.iso), str(mnt), "true", check=False)
    assert proc.returncode == 1 and "Invalid tmpdir" in proc.stderr


def check_help(c: Ctx, capsys: pytest.CaptureFixture[str]) -> None:
    """-h, -? and --help print the usage and exit 0 (the parser in this process for two of them)."""
    assert c.run("-?").stdout.startswith("usage: liveimage-mount")
    for flag in ("-h", "--help"):
        with pytest.raises(SystemExit) as done:
            toolbox.liveimage_mount_parser().parse_args([flag])
        assert done.value.code == 0 and "--mount-hacks" in capsys.readouterr().out


EFFECTS: dict[str, Callable[..., None]] = {
    "ISO|DEVICE": check_positionals, "MOUNTPOINT": check_positionals, "COMMAND": check_positionals,
    "(default overlay)": check_positionals, "--overlay": check_overlay, "--read-only": check_read_only,
    "--ovlsize": check_ovlsize, "--chroot": check_chroot, "--mount-hacks": check_mount_hacks,
    "--dnfcache": check_mount_hacks, "--persist": check_persist_and_unmount, "--unmount": check_persist_and_unmount,
    "--tmpdir": check_tmpdir, "--help": check_help,
}

# The same check for several rows runs once.
_UNIQUE = {k: v for k, v in EFFECTS.items()
           if k not in ("MOUNTPOINT", "COMMAND", "(default overlay)", "--dnfcache", "--unmount")}


@pytest.mark.parametrize("option", list(_UNIQUE))
def test_option_effect(option: str, ctx: Ctx, capsys: pytest.CaptureFixture[str]) -> None:
    check = _UNIQUE[option]
    check(ctx, capsys) if check is check_help else check(ctx)


UPSTREAM_OPTIONS = ("-u", "-r", "--chroot", "--mount-hacks", "--persist", "-o", "-s", "-f", "-t")


def test_every_option_has_a_checked_effect() -> None:
    """Every option of the parser has a check, and upstream's nine options are all there."""
    parser = toolbox.liveimage_mount_parser()
    strings = {s for a in parser._actions for s in a.option_strings}
    assert set(UPSTREAM_OPTIONS) <= strings
    for action in parser._actions:
        names = [o for o in action.option_strings if o.startswith("--")] or [str(action.metavar or action.dest)]
        if names[0] in ("--version", "--debug", "--verbose", "--quiet", "--logfile"):
            continue  # ours, checked in test_tool_options.py
        assert any(n in EFFECTS for n in names), f"no effect checked for {names}"
