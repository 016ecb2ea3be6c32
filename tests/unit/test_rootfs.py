"""Writing into an install root never follows a symlink out of it (pure filesystem logic, no root needed)."""

from __future__ import annotations

import os
from pathlib import Path

from imgcreate.storage import rootfs


def test_resolve_absolute_link_stays_in_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc/passwd", root / "etc/locale.conf")
    assert rootfs.resolve_in_root(root, "/etc/locale.conf") == root / "etc/passwd"


def test_resolve_relative_dotdot_clamps_at_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("../../../../../../tmp/x", root / "etc/vconsole.conf")
    assert rootfs.resolve_in_root(root, "etc/vconsole.conf") == root / "tmp/x"


def test_resolve_directory_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/lib").mkdir(parents=True)
    os.symlink("usr/lib", root / "lib")
    os.symlink("/", root / "usr/lib/up")
    assert rootfs.resolve_in_root(root, "/lib/up/lib/x") == root / "usr/lib/x"


def test_write_file_replaces_symlink_and_leaves_target_alone(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside.write_text("precious")
    (root / "etc").mkdir(parents=True)
    os.symlink(str(outside), root / "etc/hostname")
    os.symlink("../../outside", root / "etc/locale.conf")
    rootfs.write_file(root, "/etc/hostname", "box\n")
    rootfs.write_file(root, "/etc/locale.conf", "LANG=C\n")
    assert outside.read_text() == "precious"
    assert not (root / "etc/hostname").is_symlink()
    assert (root / "etc/hostname").read_text() == "box\n"
    assert (root / "etc/locale.conf").read_text() == "LANG=C\n"


def test_write_file_through_dir_symlink_pointing_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside-dir"
    outside.mkdir()
    root.mkdir()
    os.symlink(str(outside), root / "etc")
    rootfs.write_file(root, "/etc/x.conf", "y")
    assert not (outside / "x.conf").exists()
    assert (root / str(outside).lstrip("/") / "x.conf").read_text() == "y"


def test_symlink_replaces_file(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/localtime").write_text("old")
    rootfs.symlink(root, "/etc/localtime", "../usr/share/zoneinfo/UTC")
    assert os.readlink(root / "etc/localtime") == "../usr/share/zoneinfo/UTC"
