"""appliance-creator's -p/--package and -i/--include (imgcreate/disk/archive.py) on a small folder standing for
the build's output: the members upstream's package() writes, sparse disks kept sparse, the included entries."""

from __future__ import annotations

import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from imgcreate.disk import archive
from imgcreate.errors import CreatorError

MIB = 1024 * 1024


def _outdir(tmp_path: Path) -> Path:
    """A disk (8 MiB, sparse but for its first block) and its xml, as the build leaves them before packing."""
    out = tmp_path / "out"
    out.mkdir()
    with open(out / "vm-sda.raw", "wb") as disk:
        disk.write(b"MBR!" * 128)
        disk.truncate(8 * MIB)
    (out / "vm.xml").write_text("<image/>\n")
    return out


def _include(tmp_path: Path) -> Path:
    inc = tmp_path / "inc"
    (inc / "sub").mkdir(parents=True)
    (inc / "README").write_text("hello\n")
    (inc / "sub/deep.txt").write_text("deep\n")
    (inc / ".hidden").write_text("upstream copies <include>/*\n")
    return inc


def test_include_copies_a_folders_entries_or_a_file(tmp_path: Path) -> None:
    out = _outdir(tmp_path)
    added = archive.add_include(out, _include(tmp_path))
    assert [p.name for p in added] == ["README", "sub"]
    assert (out / "sub/deep.txt").read_text() == "deep\n" and not (out / ".hidden").exists()
    single = tmp_path / "one.txt"
    single.write_text("1\n")
    assert archive.add_include(out, single) == [out / "one.txt"]
    assert archive.add_include(out, None) == []
    with pytest.raises(CreatorError, match="has the name of a file the build delivers"):
        archive.add_include(out, single)
    with pytest.raises(CreatorError, match="does not exist"):
        archive.add_include(out, tmp_path / "missing")


@pytest.mark.parametrize("package", ["zip", "zip.64"])
def test_zip_members_are_name_slash_file(package: str, tmp_path: Path) -> None:
    out = _outdir(tmp_path)
    archive.add_include(out, _include(tmp_path))
    made = archive.pack(out, "vm", package)
    assert made == out / "vm.zip" and [p.name for p in out.iterdir()] == ["vm.zip"], "the files are packed"
    with zipfile.ZipFile(made) as z:
        assert sorted(z.namelist()) == ["vm/README", "vm/sub/deep.txt", "vm/vm-sda.raw", "vm/vm.xml"]
        assert z.read("vm/vm-sda.raw")[:4] == b"MBR!" and z.getinfo("vm/vm-sda.raw").file_size == 8 * MIB
        assert z.getinfo("vm/vm.xml").compress_type == zipfile.ZIP_DEFLATED


@pytest.mark.parametrize("package", ["tar", "tar.gz", "tar.bz2"])
def test_tar_is_sparse_and_sorted(package: str, tmp_path: Path) -> None:
    out = _outdir(tmp_path)
    made = archive.pack(out, "vm", package, epoch=1700000000)
    assert made == out / f"vm.{package}" and [p.name for p in out.iterdir()] == [made.name]
    with tarfile.open(made) as tar:  # its compression detected
        members = tar.getmembers()
        assert [m.name for m in members] == ["vm/vm-sda.raw", "vm/vm.xml"]
        assert all(m.uid == 0 and m.gid == 0 and m.mtime <= 1700000000 for m in members)
        assert members[0].size == 8 * MIB
    if package == "tar":
        assert made.stat().st_size < MIB, "the holes of the raw disk are not written out"
    listing = subprocess.run(["tar", "-tvf", str(made)], capture_output=True, text=True, check=True).stdout
    assert "vm/vm-sda.raw" in listing


def test_none_packs_nothing_and_unknown_formats_are_refused(tmp_path: Path) -> None:
    out = _outdir(tmp_path)
    assert archive.pack(out, "vm", "none") is None
    assert sorted(p.name for p in out.iterdir()) == ["vm-sda.raw", "vm.xml"]
    with pytest.raises(CreatorError, match="Unknown package format 'rar': use one of none, zip, zip.64, tar"):
        archive.pack(out, "vm", "rar")
    assert archive.host_tools("tar.bz2") == ["tar", "bzip2"] and archive.host_tools("zip") == []
