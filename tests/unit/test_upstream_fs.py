"""Upstream's ``imgcreate.fs`` and ``imgcreate.util`` helpers that need no root: the names as upstream's
clients reach them (``imgcreate.X``, ``from imgcreate.fs import *``), the command helpers' results and errors,
and the pure pieces (options, block sizes).  The disks and mounts themselves: tests/integration/test_upstream_fs.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import imgcreate
import imgcreate.fs
from imgcreate.errors import CreatorError, SquashfsError
from imgcreate.fs.mounts import mount_options
from imgcreate.fs.tools import ops_words, readonly
from imgcreate.util import call, rcall
from tests.upstream_lists import read_list

LIST = Path(__file__).resolve().parents[1] / "upstream_api" / "imgcreate.fs.txt"


def test_the_package_names_upstreams_39_and_the_list_names_them_all() -> None:
    """The face's own record of upstream's names and the list taken from upstream's source agree."""
    listed = {e.name for e in read_list(LIST) if "." not in e.name}
    assert len(imgcreate.fs.UPSTREAM_NAMES) == 39
    assert set(imgcreate.fs.UPSTREAM_NAMES) <= listed


def test_imgcreate_exports_every_fs_name_as_upstreams_star_import_did() -> None:
    for name in (*imgcreate.fs.UPSTREAM_NAMES, "call", "rcall"):
        assert getattr(imgcreate, name) is getattr(imgcreate.fs, name), name
    assert "LoopbackMount" not in imgcreate.__all__, "upstream's __all__ leaves the fs names out"


def test_star_import_gives_the_modules_appliance_tools_uses_without_importing_them() -> None:
    """appliance-tools' partitionedfs.py uses errno and sys, its appliance.py stat, from the star import."""
    space: dict[str, object] = {}
    exec("from imgcreate.fs import *", space)  # noqa: S102 (the client's own statement)
    for name in ("errno", "sys", "stat", "os", "Mount", "ExtDiskMount", "RawDisk", "SparseLoopbackDisk",
                 "MountError", "makedirs"):
        assert name in space, name


def test_ops_are_read_as_upstream_reads_them() -> None:
    assert ops_words(",--direct-io") == ["--direct-io"]
    assert ops_words(["-r", "x y"]) == ["-r", "x", "y"]
    assert readonly("ro") and readonly("-r") and readonly(["--readonly"]) and readonly("noatime,ro")
    assert not readonly("") and not readonly(None) and not readonly("raw") and not readonly("errors=remount-ro")
    assert mount_options("-r") == "ro"
    assert mount_options("raw") is None
    assert mount_options("", squashfs=True) == "ro"
    assert mount_options("noatime,ro,ro") == "noatime,ro"


@pytest.mark.parametrize(("fstype", "size", "fssize", "ok"), [
    ("ext4", 4096, None, True), ("ext4", 8192, None, False), ("ext3", -2048, None, True),
    ("vfat", 512, None, True), ("vfat", 3000, None, False), ("f2fs", 4096, None, True), ("f2fs", 1024, None, False),
    ("xfs", 65536, None, True), ("xfs", 2048, None, False), ("btrfs", 4, 8, True), ("btrfs", 16, 8, False),
    ("btrfs", 32, 64, True), ("btrfs", 8, 64, False), ("squashfs", 1, None, True),
])
def test_checkfsblksz(fstype: str, size: int, fssize: int | None, ok: bool) -> None:
    if ok:
        imgcreate.fs.checkfsblksz(fstype, size, use="dev", fssize=fssize)  # warns, never waits for a key
    else:
        with pytest.raises(CreatorError):
            imgcreate.fs.checkfsblksz(fstype, size, fssize=fssize)


def test_call_returns_the_exit_status_and_refuses_what_it_cannot_honour(tmp_path: Path) -> None:
    assert call(["true"]) == 0
    assert call(["sh", "-c", "exit 3"]) == 3
    assert call(args=["sh", "-c", "test \"$PWD\" = \"$1\" && test \"$X\" = 1", "sh", str(tmp_path)],
                cwd=str(tmp_path), env={"X": "1"}) == 0
    with pytest.raises(FileNotFoundError, match="not-a-tool-here"):
        call(["not-a-tool-here"])
    with pytest.raises(TypeError, match="preexec_fn"):
        call(["true"], preexec_fn=os.setsid)


def test_rcall_keeps_stdout_and_stderr_apart_and_raises_as_upstream() -> None:
    out, err, rc = rcall(["sh", "-c", "cat; echo warn >&2"], stdin="in\n")
    assert (out, err, rc) == ("in\n", "warn\n", 0)
    assert rcall(["sh", "-c", "echo $Y"], env={"Y": "why"})[0] == "why\n"
    with pytest.raises(CreatorError, match="returncode: 4"):
        rcall(["sh", "-c", "echo bad >&2; exit 4"])
    assert rcall(["sh", "-c", "exit 4"], raise_err=False)[2] == 4
    assert rcall(["not-a-tool-here"], raise_err=False)[2] == 127
    with pytest.raises(CreatorError):
        rcall(["not-a-tool-here"])


def test_query_helpers(tmp_path: Path) -> None:
    (tmp_path / "home.img").touch()
    assert imgcreate.fs.find_overlay(str(tmp_path)) is None
    (tmp_path / "overlay-LABEL-1234").touch()
    assert imgcreate.fs.find_overlay(str(tmp_path)) == str(tmp_path / "overlay-LABEL-1234")
    assert imgcreate.fs.get_blockdev("4095:4095") is None
    assert imgcreate.fs.get_file_info(str(tmp_path / "missing")) == [None] * 16
    assert imgcreate.fs.get_file_info(str(tmp_path / "home.img"))[0] == "empty"
    assert imgcreate.fs.disc_free_info(str(tmp_path))[0]
    assert imgcreate.fs.disc_free_info(str(tmp_path / "home.img")) == [""] * 7
    assert imgcreate.fs.findmnt("-no TARGET -T", str(tmp_path))
    assert imgcreate.fs.fsck(str(tmp_path / "home.img"), "nothing-known") == 1
    imgcreate.fs.makedirs(str(tmp_path / "a" / "b"))
    imgcreate.fs.makedirs(str(tmp_path / "a" / "b"))


def test_squashfs_compression_type_of_something_else_is_a_squashfs_error(tmp_path: Path) -> None:
    (tmp_path / "not.img").write_bytes(b"\0" * 4096)
    with pytest.raises(SquashfsError):
        imgcreate.fs.squashfs_compression_type(str(tmp_path / "not.img"))


def test_the_instance_attributes_in_the_list_exist_on_built_objects(tmp_path: Path) -> None:
    """The ``# instance`` lines of imgcreate.fs.txt: what appliance-tools and upstream's classes read on an
    object (building these needs no root: nothing is attached or mounted until create() or mount())."""
    f = imgcreate.fs
    img, mnt = str(tmp_path / "x.img"), str(tmp_path / "mnt")
    (tmp_path / "upper").mkdir()
    built: dict[str, object] = {
        "LoopbackMount": f.LoopbackMount(img, mnt),
        "LoopbackDisk": f.LoopbackDisk(img, 0),
        "Mount": f.Mount(mnt),
        "DiskMount": f.DiskMount(f.RawDisk(1, "/dev/null"), mnt),
        "OverlayFSMount": f.OverlayFSMount("o", f.DiskMount(f.RawDisk(1, "/dev/null"), mnt), str(tmp_path / "upper"),
                                           dest=mnt),
        "BindChrootMount": f.BindChrootMount(str(tmp_path), str(tmp_path / "root"), "/x"),
        "ExtDiskMount": f.ExtDiskMount(f.RawDisk(1, "/dev/null"), mnt, "ext4", 4096, "/"),
        "LiveImageMount": f.LiveImageMount(str(tmp_path), mnt),
    }
    instance = [line.split("#")[0].strip() for line in LIST.read_text().splitlines() if line.endswith("# instance")]
    assert len(instance) >= 20
    for entry in instance:
        cls, attr = entry.split(".")
        assert hasattr(built[cls], attr), entry
    assert built["ExtDiskMount"].fslabel == "_/"  # type: ignore[attr-defined]
