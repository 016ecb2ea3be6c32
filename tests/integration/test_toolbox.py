"""The live media tools on real ISOs: liveimage-mount (read-only and with an overlay, both layouts), editliveos
(packages, kernel arguments, a script, a label; both layouts) and livecd-iso-to-pxeboot (the tree), and their
answers to bad input.  The ISOs are built once per module from the test distribution."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgcreate.host import fs
from imgcreate.media import liveiso
from imgcreate.media.liveiso import Layout, read_live_iso
from imgcreate.toolbox.livemount import mounted_live_root
from tests import isoinspect, support
from tests.support import assert_failed, leak_snapshot, run_tool

pytestmark = pytest.mark.root

def build_live(tmp: Path, repo: Path, label: str, *extra: str) -> Path:
    """A small live ISO of the test distribution (tests.support.build_live; its live check writes nothing)."""
    return support.build_live(tmp, repo, label, *extra, write_mib=0)


@pytest.fixture(scope="module")
def isos(toolbox_isos: dict[str, Path]) -> dict[str, Path]:
    """TB-SQ and TB-FLAT (conftest.toolbox_isos, shared with test_tool_options.py)."""
    return toolbox_isos


@pytest.fixture
def mnt(tmp_path: Path) -> Path:
    path = tmp_path / "mnt"
    path.mkdir()
    return path


def mount_tool(*args: str, tmp: Path, check: bool = True,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_tool("liveimage-mount", "--tmpdir", str(tmp), *args, check=check, env=env)


def host_shell(tmp: Path, script: str) -> dict[str, str]:
    """$SHELL for a run without COMMAND, which upstream runs on the host in the mount point (COMMAND runs
    chrooted in the image)."""
    path = tmp / "host-shell.sh"
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return {"SHELL": str(path)}


def assert_nothing_left(tmp: Path) -> None:
    leak_snapshot().under(tmp).assert_none()
    assert not list(tmp.glob("liveimage-mount-*")), "temporary files removed"


# -- liveimage-mount ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["squashfs", "flat"])
def test_mount_read_only_shows_the_root(isos: dict[str, Path], tmp_path: Path, mnt: Path, layout: str) -> None:
    """COMMAND runs chrooted in the root (upstream's meaning); the root is writable through a temporary overlay
    only: nothing reaches the mount point or the next mount."""
    proc = mount_tool(str(isos[layout]), str(mnt), "sh", "-c", "cat etc/os-release; pwd; touch x && echo wrote",
                      tmp=tmp_path)
    assert 'NAME="Testdistro"' in proc.stdout
    assert proc.stdout.split()[-2:] == ["/", "wrote"], "chrooted; the write goes to the temporary overlay"
    assert list(mnt.iterdir()) == []
    mount_tool(str(isos[layout]), str(mnt), "test", "!", "-e", "/x", tmp=tmp_path)
    assert_nothing_left(tmp_path)


def test_failing_command_returns_its_status_and_unmounts(isos: dict[str, Path], tmp_path: Path, mnt: Path) -> None:
    proc = mount_tool(str(isos["squashfs"]), str(mnt), "sh", "-c", "test -x usr/sbin/init && exit 7", tmp=tmp_path,
                      check=False)
    assert proc.returncode == 7, proc.stderr
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("kind", ["directory", "ext-image"])
def test_overlay_keeps_writes_for_the_next_mount(isos: dict[str, Path], tmp_path: Path, mnt: Path,
                                                  kind: str) -> None:
    overlay = tmp_path / "overlay"
    if kind == "ext-image":
        subprocess.run(["truncate", "-s", "64M", str(overlay)], check=True)
        subprocess.run(["mkfs.ext4", "-q", str(overlay)], check=True)
    else:
        overlay.mkdir()
    mount_tool("--overlay", str(overlay), str(isos["squashfs"]), str(mnt), "sh", "-c",
               "echo persisted > root/note && rm etc/hostname 2>/dev/null; true", tmp=tmp_path)
    if kind == "directory":
        assert (overlay / "root/note").read_text() == "persisted\n", "the write is in the overlay (its upper layer)"
    proc = mount_tool("--overlay", str(overlay), str(isos["squashfs"]), str(mnt), "cat", "root/note", tmp=tmp_path)
    assert proc.stdout == "persisted\n", "a second mount sees it"
    mount_tool(str(isos["squashfs"]), str(mnt), "sh", "-c", "test ! -e root/note", tmp=tmp_path)
    assert_nothing_left(tmp_path)


def test_library_context_manager_unmounts_on_error(isos: dict[str, Path], tmp_path: Path, mnt: Path) -> None:
    with pytest.raises(RuntimeError), mounted_live_root(isos["flat"], mnt, tmpdir=tmp_path) as root:
        assert (root / "etc/os-release").is_file()
        raise RuntimeError("boom")
    assert_nothing_left(tmp_path)


def test_mount_bad_input(isos: dict[str, Path], tmp_path: Path, mnt: Path) -> None:
    notiso = tmp_path / "not.iso"
    notiso.write_text("hello")
    for args, needle in [((str(notiso), str(mnt)), "is not a live ISO"),
                         ((str(tmp_path / "missing.iso"), str(mnt)), "is not a file"),
                         ((str(isos["flat"]), str(notiso)), "is not a directory")]:
        assert_failed(proc := mount_tool(*args, "true", tmp=tmp_path, check=False), needle)
        assert proc.returncode == 1
    subprocess.run(["mount", "-t", "tmpfs", "busy", str(mnt)], check=True)
    try:
        proc = mount_tool(str(isos["flat"]), str(mnt), "true", tmp=tmp_path, check=False)
        assert_failed(proc, "is busy")
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    assert mount_tool(tmp=tmp_path, check=False).returncode == 2, "usage error"
    assert_nothing_left(tmp_path)


def test_an_iso_is_read_in_place_without_copying_its_root_out(isos: dict[str, Path], tmp_path: Path, mnt: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tool starts by reading the ISO: its squashfs is listed where it lies in the ISO (unsquashfs -o), so a
    2 GiB root is not first copied to a /tmp that may be a small tmpfs; liveimage-mount mounts the root image
    where it lies.  Here the temporary folder (and liveimage-mount's -t) is a 24 MiB tmpfs (each ISO's squashfs is
    tens of MiB): the layouts are still read and the roots mounted, and the copy-out fallback (an older
    unsquashfs, an EROFS image, a file in several extents) gives the same answer with room to work in."""
    small = tmp_path / "small-tmp"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "small-tmp", str(small)], check=True)
    try:
        monkeypatch.setattr(tempfile, "tempdir", str(small))
        in_place = {name: read_live_iso(isos[name]).layout for name in ("squashfs", "flat")}
        for name in ("squashfs", "flat"):  # liveimage-mount mounts the root where it lies in the ISO too
            proc = mount_tool("-r", str(isos[name]), str(mnt), tmp=small,
                              env=host_shell(tmp_path, "grep ^NAME= etc/os-release"))
            assert proc.stdout.strip() == 'NAME="Testdistro"', proc.stdout
    finally:
        subprocess.run(["umount", str(small)], check=True)
    assert in_place == {"squashfs": Layout.ROOTFS_IN_SQUASHFS, "flat": Layout.FLAT_SQUASHFS}
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(liveiso, "file_extent", lambda iso, path: None)  # as for a root over 4 GiB
    assert {name: read_live_iso(isos[name]).layout for name in ("squashfs", "flat")} == in_place
    for name in ("squashfs", "flat"):  # liveimage-mount copies the root image out, and mounts it
        with mounted_live_root(isos[name], mnt, tmpdir=tmp_path) as root:
            assert 'NAME="Testdistro"' in (root / "etc/os-release").read_text()
    assert_nothing_left(tmp_path)


# -- EROFS live ISOs (Fedora 42+) --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def erofs_isos(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("toolbox-erofs")
    return {kind: build_live(tmp, testrepo, f"TB-{kind.upper()}", "--rootfs-type", kind, "--compression-type", "lz4")
            for kind in ("erofs", "erofs-ext4")}


def test_erofs_isos_are_read_mounted_and_edited(erofs_isos: dict[str, Path], testrepo: Path, tmp_path: Path,
                                                mnt: Path) -> None:
    for kind, iso in erofs_isos.items():
        live = read_live_iso(iso)
        assert live.erofs and live.rootfs_type == kind, (kind, live)
        proc = mount_tool("-r", str(iso), str(mnt), tmp=tmp_path, env=host_shell(
            tmp_path, "grep ^NAME= etc/os-release; findmnt -rn -o TARGET,FSTYPE | grep 'liveimage-mount-.*/lower '"))
        assert proc.stdout.split()[0] == 'NAME="Testdistro"', proc.stdout
        assert proc.stdout.split()[-1] == ("erofs" if kind == "erofs" else "ext4"), proc.stdout
    edited = tmp_path / "erofs-edited.iso"
    run_tool("editliveos", "-N", str(erofs_isos["erofs"]), "-o", str(edited), "--package", "demo-app", "--repo",
             str(testrepo), "-t", str(tmp_path))
    new = read_live_iso(edited)
    assert new.rootfs_type == "erofs", "editliveos keeps the ISO's root filesystem type"
    proc = mount_tool(str(edited), str(mnt), "usr/bin/demo-app", tmp=tmp_path)
    assert "demo-app 1.0 from testdistro" in proc.stdout
    assert_nothing_left(tmp_path)


# -- editliveos --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def edited(isos: dict[str, Path], testrepo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each ISO edited: demo-app added from the repository, a kernel argument, a script."""
    tmp = tmp_path_factory.mktemp("edited")
    script = tmp / "edit.sh"
    script.write_text("#!/bin/sh\necho edited-by-script > /etc/edited\n")
    out = {}
    for layout, iso in isos.items():
        out[layout] = tmp / f"{layout}-edited.iso"
        label = ["--label", "TB-RELABEL"] if layout == "flat" else []
        run_tool("editliveos", "-N", str(iso), "-o", str(out[layout]), "--package", "demo-app", "--repo",
                 str(testrepo), "--extra-kernel-args", "toolbox.edited=1", "--script", str(script), "-t", str(tmp),
                 *label)
    assert not list(tmp.glob("imgcreate-*")), "build directory removed"
    return out


@pytest.mark.parametrize("layout", ["squashfs", "flat"])
def test_edited_iso_has_the_package_argument_and_script(isos: dict[str, Path], edited: dict[str, Path],
                                                        tmp_path: Path, mnt: Path, layout: str) -> None:
    base, new = read_live_iso(isos[layout]), read_live_iso(edited[layout])
    assert new.layout is base.layout and new.rootfs_type == base.rootfs_type == {"squashfs": "squashfs-ext4",
                                                                                   "flat": "squashfs"}[layout]
    assert new.label == ("TB-RELABEL" if layout == "flat" else base.label)
    assert new.boot.args.split()[0] == f"root=live:CDLABEL={new.label}"
    assert new.boot.args.endswith("livecheck.write_mib=0 toolbox.edited=1"), "the ISO's own arguments are kept"
    assert "toolbox.edited=1" in isoinspect.read_text(edited[layout], "/EFI/BOOT/grub.cfg")
    compression = isoinspect.squashfs_info(isoinspect.squashfs_image(edited[layout], tmp_path))
    assert "Compression xz" in compression, "the base ISO's compressor"
    proc = mount_tool(str(edited[layout]), str(mnt), tmp=tmp_path, env=host_shell(
        tmp_path, "chroot . /usr/bin/demo-app; cat etc/edited; "
                  "df -k $(findmnt -rn -o TARGET | grep 'liveimage-mount-.*/lower$')"))
    assert "demo-app 1.0 from testdistro" in proc.stdout
    assert "edited-by-script" in proc.stdout
    if layout == "squashfs":
        size_kib = int(proc.stdout.splitlines()[-1].split()[1])
        assert size_kib > 250 * 1024, "the root keeps the base ISO's 300 MiB, not 4 GiB or its minimal size"
        assert size_kib < 400 * 1024


def test_editliveos_bad_input(isos: dict[str, Path], testrepo: Path, tmp_path: Path) -> None:
    notiso = tmp_path / "not.iso"
    notiso.write_text("hello")
    out = tmp_path / "new.iso"
    proc = run_tool("editliveos", "-N", str(notiso), "-o", str(out), check=False)
    assert_failed(proc, "is not a live ISO")
    proc = run_tool("editliveos", "-N", str(isos["flat"]), "-o", str(notiso), check=False)
    assert_failed(proc, "exists already")
    proc = run_tool("editliveos", "-N", str(isos["flat"]), "-o", str(out), "--package", "demo-app", check=False)
    assert proc.returncode == 2 and "--repo" in proc.stderr
    proc = run_tool("editliveos", "-N", str(isos["flat"]), "-o", str(out), "--package", "no-such-package", "--repo",
                    str(testrepo), "-t", str(tmp_path), check=False)
    assert_failed(proc, "no-such-package")
    assert proc.returncode == 1
    assert not out.exists() and not list(tmp_path.glob("imgcreate-*")), "nothing written"


# -- livecd-iso-to-pxeboot ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pxe_tree(isos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tree = tmp_path_factory.mktemp("pxe") / "tftpboot"
    run_tool("livecd-iso-to-pxeboot", str(isos["squashfs"]), "-o", str(tree), "--http-url", "http://10.0.2.2:8080/")
    yield tree


def test_pxe_tree(isos: dict[str, Path], pxe_tree: Path) -> None:
    names = {str(p.relative_to(pxe_tree)) for p in pxe_tree.rglob("*") if "i386-pc" not in p.parts}
    assert {"vmlinuz", "initrd.img", "pxegrub.0", "boot.ipxe", "boot/grub2/grub.cfg", "LiveOS/squashfs.img",
            "http/grub.cfg", "http/initrd.img"} <= names
    assert (pxe_tree / "boot/grub2/i386-pc/linux.mod").is_file(), "the ISO's GRUB modules"
    cfg = (pxe_tree / "boot/grub2/grub.cfg").read_text()
    assert "linux /vmlinuz root=live:/TB-SQ.iso rootfstype=auto ro rd.live.image" in cfg
    assert "livecheck.write_mib=0" in cfg, "the ISO's kernel arguments"
    assert "root=live:http://10.0.2.2:8080/LiveOS/squashfs.img " in (pxe_tree / "http/grub.cfg").read_text()
    initrd = (pxe_tree / "initrd.img").read_bytes()
    iso = isos["squashfs"].read_bytes()
    assert initrd.endswith(b"TRAILER!!!" + b"\0" * (len(initrd) - initrd.rindex(b"TRAILER!!!") - 10))
    assert iso[:1 << 20] in initrd, "the ISO is inside"
    assert b"070701" in initrd[initrd.index(b"TB-SQ.iso") - 110:], "as a newc cpio member"


def test_pxeboot_bad_input(isos: dict[str, Path], pxe_tree: Path, tmp_path: Path) -> None:
    proc = run_tool("livecd-iso-to-pxeboot", str(isos["flat"]), "-o", str(pxe_tree), check=False)
    assert_failed(proc, "exists already")
    notiso = tmp_path / "not.iso"
    notiso.write_text("hello")
    proc = run_tool("livecd-iso-to-pxeboot", str(notiso), "-o", str(tmp_path / "t"), check=False)
    assert_failed(proc, "is not a live ISO")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not.iso"], "nothing written"
    for wrong in ((), (str(notiso), "extra"), ("--no-such-option", str(notiso))):
        proc = run_tool("livecd-iso-to-pxeboot", *wrong, check=False)  # upstream's usage() exits 1
        assert proc.returncode == 1 and "usage: livecd-iso-to-pxeboot" in proc.stderr, (wrong, proc.stderr)
        assert "Traceback" not in proc.stderr


# -- liveimage-mount on a stick ----------------------------------------------------------------------------------

def stick(iso: Path, path: Path, *options: str) -> Path:
    run_tool("livecd-iso-to-disk", "--force", "--noverify", str(iso), str(path), *options)
    return path


def sha256(path: Path) -> str:
    return subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True).stdout.split()[0]


def test_mount_a_stick_read_only_with_its_home(isos: dict[str, Path], tmp_path: Path, mnt: Path) -> None:
    disk = stick(isos["squashfs"], tmp_path / "stick.raw", "--overlay-size-mb", "32", "--home-size-mb", "32",
                 "--unencrypted-home")
    before = sha256(disk)
    proc = mount_tool(str(disk), str(mnt), tmp=tmp_path, check=False, env=host_shell(
        tmp_path, "cat etc/os-release; touch home/x; findmnt -n -o FSTYPE,OPTIONS home"))
    assert 'NAME="Testdistro"' in proc.stdout and "Read-only file system" in proc.stderr, "home is never written"
    assert proc.stdout.splitlines()[-1].startswith("ext4 "), "LiveOS/home.img is on /home"
    overlay = tmp_path / "mine"
    overlay.mkdir()
    mount_tool("--overlay", str(overlay), str(disk), str(mnt), "sh", "-c", "echo x > root/note", tmp=tmp_path)
    assert (overlay / "root/note").is_file(), "--overlay puts the user's layer on top of the stick"
    assert sha256(disk) == before, "the stick is never written"
    assert_nothing_left(tmp_path)


def test_mount_a_flat_sticks_partition_through_its_overlayfs_overlay(isos: dict[str, Path], tmp_path: Path,
                                                                     mnt: Path) -> None:
    """What the live system wrote into the stick's overlayfs overlay (written here by hand; by a booted system
    in tests/boot/test_iso_to_disk_boot.py) shows in the mounted root; a partition device can be named.  The
    stick's overlay is not written by default (upstream's would be), only when it is named with -o (the stick
    mounted read-write by the user)."""
    disk = stick(isos["flat"], tmp_path / "flat.raw", "--gpt", "--overlay-size-mb", "32")
    with contextlib.ExitStack() as attached:
        dev = fs.attach_loop(attached, disk, partscan=True)
        data = max(fs.partition_devices(dev, expect=3).items())[1]
        with contextlib.ExitStack() as mounted:
            part, upper = tmp_path / "part", tmp_path / "upper"
            part.mkdir()
            upper.mkdir()
            fs.mount(mounted, data, part)
            fs.mount(mounted, str(next((part / "LiveOS").glob("overlay-LIVE-*"))), upper, options="loop")
            (upper / "overlayfs/etc").mkdir(parents=True)
            (upper / "overlayfs/etc/written-live").write_text("from the live session\n")
        proc = mount_tool(data, str(mnt), "sh", "-c", "cat etc/written-live; echo mine > /etc/from-mount",
                          tmp=tmp_path)
        assert proc.stdout == "from the live session\n"
        with contextlib.ExitStack() as mounted:  # the stick is written only when its overlay is named with -o
            fs.mount(mounted, data, part)
            overlay = next((part / "LiveOS").glob("overlay-LIVE-*"))
            assert "from-mount" not in isoinspect.debugfs(overlay, "ls /overlayfs/etc"), "not written by default"
            mount_tool("-o", str(overlay), str(part), str(mnt), "sh", "-c", "echo asked > /etc/from-mount",
                       tmp=tmp_path)
            assert isoinspect.debugfs(overlay, "cat /overlayfs/etc/from-mount") == "asked\n", "written through"
    assert_nothing_left(tmp_path)


# -- interrupted (issue 29: every tool) --------------------------------------------------------------------------

def test_editliveos_interrupted_while_its_script_runs(isos: dict[str, Path], tmp_path: Path) -> None:
    """SIGTERM while the --script runs: exit 130, the script's background child stopped, no build directory, no
    output ISO, nothing mounted or attached."""
    script = tmp_path / "slow.sh"
    script.write_text('#!/bin/sh\nsleep 3201 &\necho "child-pid=$!"\nsleep 3202\n')
    out = tmp_path / "out"
    out.mkdir()
    proc = support.start_tool("editliveos", "-N", str(isos["squashfs"]), "-o", str(out / "new.iso"), "--script",
                              str(script), "-t", str(tmp_path))
    seen = support.signal_at(proc, signal.SIGTERM, "child-pid=")
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, seen + rest
    assert "everything was cleaned up" in rest and "Traceback" not in rest, rest
    assert not support.alive(int(re.findall(r"child-pid=(\d+)", seen)[-1]))
    assert support.running("sleep", "3201") == support.running("sleep", "3202") == []
    assert list(out.iterdir()) == [] and not list(tmp_path.glob("imgcreate-*"))
    assert not list(tmp_path.glob("editliveos-*"))
    assert_nothing_left(tmp_path)


def test_liveimage_mount_interrupted_stops_its_command_and_unmounts(isos: dict[str, Path], tmp_path: Path,
                                                                     mnt: Path) -> None:
    """SIGTERM while the command runs in the mount point: the command and the child it left in the background
    (both with their working directory in the mount) are stopped, then everything is unmounted; exit 130."""
    proc = support.start_tool("liveimage-mount", "--tmpdir", str(tmp_path), str(isos["flat"]), str(mnt), "sh", "-c",
                              'sleep 3203 & echo "child-pid=$!"; sleep 3204')
    seen = support.signal_at(proc, signal.SIGTERM, "child-pid=", stdout=True)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "everything was cleaned up" in err and "Traceback" not in err, err
    assert not support.alive(int(re.findall(r"child-pid=(\d+)", seen)[-1]))
    assert support.running("sleep", "3203") == support.running("sleep", "3204") == []
    assert list(mnt.iterdir()) == []
    assert_nothing_left(tmp_path)


def test_pxeboot_interrupted_leaves_no_tree(isos: dict[str, Path], tmp_path: Path) -> None:
    """SIGHUP once the tree is being written (its staging folder exists): exit 130, no tree, no staging folder,
    no temporary files."""
    before = set(glob.glob("/tmp/pxeboot-*"))
    proc = support.start_tool("livecd-iso-to-pxeboot", str(isos["squashfs"]), "-o", str(tmp_path / "tftpboot"))
    while not list(tmp_path.glob(".tftpboot-*")) and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Stopped by SIGHUP; everything was cleaned up" in err, err
    assert list(tmp_path.iterdir()) == [], "neither the tree nor its staging folder"
    assert set(glob.glob("/tmp/pxeboot-*")) <= before


# the default tree is the --http-url tree without LiveOS/ and http/: the default run checks the bigger one
@pytest.mark.parametrize("http", [pytest.param(False, marks=pytest.mark.slow), True], ids=["default", "http-url"])
def test_pxe_tree_is_reproducible(isos: dict[str, Path], tmp_path: Path, http: bool) -> None:
    """Two runs from the same ISO, in different folders (and working directories) at different clock times, with
    SOURCE_DATE_EPOCH: the same names, modes, contents and modification times."""
    url = ["--http-url", "http://10.0.2.2:8080/"] if http else []
    listings = []
    for n in (1, 2):
        work = tmp_path / f"run{n}"
        work.mkdir()
        proc = subprocess.run(support.tool_argv("livecd-iso-to-pxeboot", str(isos["squashfs"]), "-o", "tftpboot",
                                                *url), cwd=work, capture_output=True, text=True,
                              env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}, timeout=support.TOOL_TIMEOUT)
        assert proc.returncode == 0, proc.stderr
        tree = work / "tftpboot"
        listings.append({str(p.relative_to(tree)): (p.lstat().st_mode, p.lstat().st_mtime_ns,
                                                    "" if p.is_dir() else sha256(p))
                         for p in [tree, *tree.rglob("*")]})
        time.sleep(1.1)
    assert ("LiveOS/squashfs.img" in listings[0]) is http
    assert listings[0] == listings[1]


@pytest.mark.slow  # an editliveos run (20 s) for a cell that is n/a; run with LIVECD_TOOLS_FULL=1
def test_editliveos_failing_script_is_reported(isos: dict[str, Path], tmp_path: Path) -> None:
    """editliveos -s with a script that fails: as a %post without --erroronfail, the failure is reported (the
    script, its exit status) and the ISO is made; nothing is left mounted, attached or in the work folder."""
    script = tmp_path / "fails.sh"
    script.write_text("#!/bin/sh\necho half > /etc/half-done\nexit 3\n")
    out = tmp_path / "out"
    out.mkdir()
    proc = run_tool("editliveos", "-N", str(isos["squashfs"]), "-o", str(out / "new.iso"), "--script", str(script),
                    "-t", str(tmp_path))
    assert "failed with exit status 3" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert (out / "new.iso").is_file() and not list(tmp_path.glob("imgcreate-*"))
    assert_nothing_left(tmp_path)
