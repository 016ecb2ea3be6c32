"""upstream's ``-s`` (skip compression) on the user's path: the live ISO boots from an uncompressed
LiveOS/rootfs.img."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import isoinspect
from tests.boot.qemu import boot
from tests.integration.test_upstream_compat import livecd
from tests.support import MakeKs

pytestmark = pytest.mark.root


@pytest.mark.boot
@pytest.mark.full  # a BIOS live boot again (LiveOS/rootfs.img read directly): in the full run only
def test_skip_compression_puts_rootfs_img_on_the_iso_and_boots(make_ks: MakeKs, tmp_path: Path) -> None:
    """-s: an uncompressed LiveOS/rootfs.img on the ISO (no squashfs.img), which dmsquash-live boots directly."""
    livecd(make_ks, tmp_path, "-f", "NOSQ", "-s")
    iso = tmp_path / "out/NOSQ.iso"
    names = isoinspect.files(iso)
    assert "/LiveOS/rootfs.img" in names and "/LiveOS/squashfs.img" not in names
    result = boot(iso, "bios")
    assert result.ok and "root=/dev/mapper/live-rw fstype=ext4" in result.line, result.tail()
