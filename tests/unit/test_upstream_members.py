"""Upstream's creator members that need no build: str paths, _fstype, _blocksize, excludeWeakdeps, positions.

What the hooks do in a build is tested by the clients in tests/integration/test_upstream_client.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from imgcreate import kickstart
from imgcreate.creator import ImageCreator, LoopImageCreator
from imgcreate.errors import CreatorError
from imgcreate.live import LiveImageCreatorBase
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
