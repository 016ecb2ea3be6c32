"""Loop devices the tools attach: written to without cache flushes while attached, put back as found.

A loop device turns each cache flush into an fsync of its whole image file, so a build's journal commits and
GRUB's O_SYNC writes pushed the image to the host's disk again and again (1-3 s per disk build); attached for
writing, the device is marked write-through (``queue/write_cache``) and the setting, which sticks to the device
beyond its detach, is restored before the detach.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from imgcreate.host import fs

pytestmark = pytest.mark.root


def _knob(dev: str) -> Path:
    return Path("/sys/block") / Path(dev).name / "queue" / "write_cache"


def test_a_writable_loop_device_is_write_through_while_attached_and_restored_before_detach(tmp_path: Path) -> None:
    image = tmp_path / "disk.raw"
    fs.make_sparse(image, 8 * 2**20)
    with contextlib.ExitStack() as stack:
        dev = fs.attach_loop(stack, image)
        assert _knob(dev).read_text().strip() == "write through"
        with open(dev, "r+b") as f:  # an O_SYNC-style write still reaches the file
            f.write(b"written")
            f.flush()
    assert _knob(dev).read_text().strip() == "write back", "the device's setting is put back"
    assert not (Path("/sys/block") / Path(dev).name / "loop" / "backing_file").exists(), "detached"
    assert image.read_bytes()[:7] == b"written"

