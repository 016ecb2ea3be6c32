"""The mkfs.erofs wrapper's choices, without building: compression parsing, the refusal of a compressor the
installed mkfs.erofs lacks, and how --rootfs-type and --flat-squashfs combine."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgcreate import kickstart, live
from imgcreate.errors import CreatorError
from imgcreate.pack import ErofsPacker, RootfsType, SquashfsPacker, erofs


@pytest.mark.parametrize(("value", "expect"), [("lz4", ("lz4", None)), ("lz4hc,12", ("lz4hc", 12)),
                                               ("lz4hc 9", ("lz4hc", 9)), ("xz", ("lzma", None)),
                                               ("lzma,level=6", ("lzma", 6))])
def test_parse_compression(value: str, expect: tuple[str, int | None]) -> None:
    assert erofs.parse_compression(value) == expect


@pytest.mark.parametrize("value", ["", "lz4hc,high", "xz -b 1M -Xbcj"])
def test_parse_compression_refuses(value: str) -> None:
    with pytest.raises(CreatorError, match="--compression-type"):
        erofs.parse_compression(value)


def test_mkfs_args_carry_the_level_and_pcluster() -> None:
    args = erofs.mkfs_args("lz4hc,12")
    assert args[:2] == ["-zlz4hc,12", f"-C{erofs.PCLUSTER_SIZE}"]
    assert erofs.mkfs_args(None) == []


def test_unsupported_compressor_is_one_paragraph_naming_the_supported() -> None:
    known = erofs.available_compressors()
    assert "lz4" in known
    missing = next(c for c in ("zstd", "lzma", "deflate") if c not in known)
    with pytest.raises(CreatorError) as exc:
        erofs.check_compression(missing)
    text = str(exc.value)
    assert "\n" not in text and missing in text and all(k in text for k in known)


def test_each_rootfs_type_packs_with_its_own_packer() -> None:
    """The live creator asks the type, never which filesystem: flat or not, and the packer."""
    kinds = {t: (t.flat, type(t.packer), t.packer.fstype, t.packer.tool) for t in RootfsType}
    assert kinds == {
        RootfsType.SQUASHFS_EXT4: (False, SquashfsPacker, "squashfs", "mksquashfs"),
        RootfsType.SQUASHFS: (True, SquashfsPacker, "squashfs", "mksquashfs"),
        RootfsType.EROFS_EXT4: (False, ErofsPacker, "erofs", "mkfs.erofs"),
        RootfsType.EROFS: (True, ErofsPacker, "erofs", "mkfs.erofs"),
    }


def test_rootfs_type_and_flat_squashfs() -> None:
    assert RootfsType.choose(None, False) is RootfsType.SQUASHFS_EXT4
    assert RootfsType.choose(None, True) is RootfsType.SQUASHFS
    assert RootfsType.choose("erofs", True) is RootfsType.EROFS == "erofs"
    with pytest.raises(CreatorError, match="--flat-squashfs"):
        RootfsType.choose("erofs-ext4", True)
    with pytest.raises(CreatorError, match="Unknown"):
        RootfsType.choose("ext4", False)


def test_missing_mkfs_erofs_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without mkfs.erofs, the host-tool check names erofs-utils for both families, before anything is built."""
    import shutil

    from imgcreate.errors import MissingToolError
    from imgcreate.host import run

    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda tool: None if tool == "mkfs.erofs" else real(tool))
    with pytest.raises(MissingToolError) as err:
        run.find_tool("mkfs.erofs")
    assert "erofs-utils" in str(err.value) and "mkfs.erofs" in str(err.value)
    ks = tmp_path / "e.ks"
    ks.write_text("%packages\nkernel\n%end\n")
    creator = live.LiveImageCreator(kickstart.read_kickstart(ks), "E", fslabel="E", rootfs_type="erofs",
                                    compression_type="lz4", tmpdir=tmp_path)
    with pytest.raises(MissingToolError, match="erofs-utils"):
        creator.check_host_tools()
