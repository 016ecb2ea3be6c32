"""Upstream's creator members that need no build: str paths, _fstype, _blocksize, excludeWeakdeps, positions,
fslabel's cut, the default kernel's choice, the media check entry, install's repo_urls, package's ops.

What the hooks do in a build is tested by the clients in tests/integration/test_upstream_client.py.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest

from imgcreate import kickstart
from imgcreate.boot import bootloader, kernels
from imgcreate.creator import FSLABEL_MAXLEN, ImageCreator, LoopImageCreator
from imgcreate.errors import CreatorError
from imgcreate.kickstart import RepoSpec
from imgcreate.live import LiveImageCreatorBase
from imgcreate.pack import PackOps, RootfsType
from imgcreate.packages import repofiles
from imgcreate.storage.roots import ExtImage
from imgcreate.strpath import StrPath


@pytest.fixture
def ks(tmp_path: Path) -> Any:
    path = tmp_path / "c.ks"
    path.write_text("part / --size 300 --fstype ext3\n%packages --excludeWeakdeps\nkernel\n%end\n")
    return kickstart.read_kickstart(path)


def test_paths_are_upstreams_str(ks: Any, tmp_path: Path) -> None:
    creator = ImageCreator(ks, "P", tmpdir=str(tmp_path))
    assert type(creator.tmpdir) is StrPath and creator.tmpdir + "/x" == f"{tmp_path}/x"
    with pytest.raises(CreatorError, match="mount"):
        creator._instroot  # noqa: B018 (upstream's: not valid before mount())


def test_fstype_from_the_kickstart_settable_before_mount(ks: Any, tmp_path: Path) -> None:
    creator = LoopImageCreator(ks, "F", tmpdir=tmp_path)
    assert creator._fstype == "ext3"
    with pytest.raises(CreatorError, match="xfs"):
        creator._fstype = "xfs"
    creator._fstype = "ext2"
    loop = creator.build_config.loop
    assert loop is not None and loop.fstype == "ext2", "the image is made with the _fstype set"


def test_blocksize_reaches_the_root_storage(ks: Any, tmp_path: Path) -> None:
    creator = LoopImageCreator(ks, "B", tmpdir=tmp_path)
    assert creator._blocksize == 4096
    with pytest.raises(CreatorError, match="integer"):
        creator._blocksize = "big"
    creator._blocksize = "1024"
    storage = creator._root_storage()
    assert isinstance(storage, ExtImage) and storage.blocksize == 1024


def test_upstream_positional_arguments(ks: Any, tmp_path: Path) -> None:
    """Upstream's callers pass these by position: ks, name, fslabel, releasever, tmpdir, (title, product,)
    useplugins, cacheonly, docleanup."""
    loop = LoopImageCreator(ks, "L", "LBL", "40", str(tmp_path), True, True, False)
    assert (loop.fslabel, loop.releasever, loop.tmpdir, loop.useplugins, loop.cacheonly, loop.docleanup) == \
        ("LBL", "40", str(tmp_path), True, True, False)
    live = LiveImageCreatorBase(ks, "V", "VL", "40", str(tmp_path), "Title", "Product", False, True, True)
    assert (live.title, live.product, live.cacheonly, live.excludeWeakdeps) == ("Title", "Product", True, True)


def test_fslabel_cut_to_32_when_assigned(ks: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Upstream's fslabel property: whatever is assigned, in the constructor or after it, keeps its first
    FSLABEL_MAXLEN characters (32, an ISO 9660 volume id's limit); None is the image's name."""
    long = "Fedora-Workstation-Live-x86_64-Rawhide-20261203"
    caplog.set_level(logging.INFO, logger="imgcreate")
    live = LiveImageCreatorBase(ks, "V", long, tmpdir=str(tmp_path))
    assert live.fslabel == long[:FSLABEL_MAXLEN] and FSLABEL_MAXLEN == 32
    live.fslabel = "X" * 40
    assert live.fslabel == "X" * 32
    loop = live.build_config.loop
    assert loop is not None and loop.fslabel == "X" * 32, "the build takes the cut label (no error)"
    assert f"'{'X' * 40}' is cut to its first 32 characters" in caplog.text
    live.fslabel = None  # type: ignore[assignment]  # upstream's: the name
    assert live.fslabel == "V"


def test_default_kernel_is_upstreams_choice() -> None:
    """Upstream's __is_default_kernel: the only kernel package, else the one named _default_kernel or
    kernel-<_default_kernel> (Fedora's -core packages compare by their variant); its newest version."""
    assert kernels.default_kernel({"kernel": ["6.1.0-1", "6.10.0-1"]}, "debug") == "6.10.0-1"
    several = {"kernel-core": ["6.5.0-1"], "kernel-debug-core": ["6.5.0-1+debug"], "kernel-PAE": ["6.4.0-1"]}
    assert kernels.default_kernel(several, "kernel") == "6.5.0-1"
    assert kernels.default_kernel(several, "debug") == "6.5.0-1+debug"
    assert kernels.default_kernel(several, "kernel-PAE") == "6.4.0-1"
    assert kernels.default_kernel(several, "PAE") == "6.4.0-1"
    assert kernels.default_kernel(several, "rt") is None, "no default: the caller boots the newest"


def test_default_kernel_from_bootloader_default(tmp_path: Path) -> None:
    path = tmp_path / "d.ks"
    path.write_text("bootloader --default=debug\npart / --size 300\n%packages\nkernel\n%end\n")
    creator = LiveImageCreatorBase(kickstart.read_kickstart(path), "D", tmpdir=str(tmp_path))
    assert creator._default_kernel == "debug"
    creator._default_kernel = "PAE"  # set after construction, as upstream's attribute
    live = creator.build_config.live
    assert live is not None and live.default_kernel == "PAE"


def test_media_check_entry_only_with_checkisomd5() -> None:
    """Upstream's menus offer "Test this media & start" (rd.live.check) only when _has_checkisomd5()."""
    menu = bootloader.BootMenu(label="L", title="T", product="P", kernel="/k", initrd="/i", kernel_args="quiet",
                               timeout=5, media_check=False)
    for cfg in (bootloader.grub_cfg(menu), bootloader.isolinux_cfg(menu)):
        assert "Test this media" not in cfg and "rd.live.check" not in cfg and "basic graphics" in cfg
    checked = dataclasses.replace(menu, media_check=True)
    for cfg in (bootloader.grub_cfg(checked), bootloader.isolinux_cfg(checked)):
        assert "est this media & start P" in cfg and cfg.count("rd.live.check") == 1


def test_repo_urls_replace_the_named_repositorys_url() -> None:
    """Upstream's install(repo_urls): the kickstart's repository of that name gets the URL, its mirror list
    dropped; a name the kickstart lacks adds one (livecd-creator's --repo NAME,URL here)."""
    ks_repos = [RepoSpec(name="fedora", baseurl=("http://old/",), mirrorlist="http://mirrors/"),
                RepoSpec(name="updates", metalink="http://meta/")]
    repos = repofiles.with_urls(ks_repos, {"fedora": "http://new/", "extra": "http://extra/"})
    assert repos == [RepoSpec(name="fedora", baseurl=("http://new/",)), ks_repos[1],
                     RepoSpec(name="extra", baseurl=("http://extra/",))]


def test_stage_final_image_ops_are_read_as_upstreams() -> None:
    ops = PackOps.read(["flatten-squashfs", "show-squashing", "-b", "1M"])
    assert ops == PackOps(flatten=True, progress=True, extra=("-b", "1M"))
    assert PackOps.read(None) == PackOps(flatten=False, progress=None, extra=())
    with pytest.raises(CreatorError, match="mkfs.erofs"):
        RootfsType.EROFS.packer.pack(Path("/nonexistent"), Path("/nonexistent.img"), None, sparse=False,
                                     epoch=None, extra=["-b", "1M"])
