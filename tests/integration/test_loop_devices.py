"""Loop devices a build attaches for its own images: written to without cache flushes while attached, put back
as found; any other loop device (a user's persistent overlay) keeps its flushes.

A loop device turns each cache flush into an fsync of its whole image file, so a build's journal commits and
GRUB's O_SYNC writes pushed the image to the host's disk again and again (1-3 s per disk build); attached for
writing, the device is marked write-through (``queue/write_cache``) and the setting, which sticks to the device
beyond its detach, is set back to write-back (the kernel's default) before the detach.  A device left
write-through by a run killed with SIGKILL (no cleanup runs) is made write-back by the next attach of it.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgcreate.host import fs
from tests import kickstarts
from tests.support import run_tool

pytestmark = pytest.mark.root


def _knob(dev: str) -> Path:
    return Path("/sys/block") / Path(dev).name / "queue" / "write_cache"


def test_a_writable_loop_device_is_write_through_while_attached_and_restored_before_detach(tmp_path: Path) -> None:
    image = tmp_path / "disk.raw"
    fs.make_sparse(image, 8 * 2**20)
    with contextlib.ExitStack() as stack:
        dev = fs.attach_loop(stack, image, scratch=True)
        assert _knob(dev).read_text().strip() == "write through"
        with open(dev, "r+b") as f:  # an O_SYNC-style write still reaches the file
            f.write(b"written")
            f.flush()
    assert _knob(dev).read_text().strip() == "write back", "the device's setting is put back"
    assert not (Path("/sys/block") / Path(dev).name / "loop" / "backing_file").exists(), "detached"
    assert image.read_bytes()[:7] == b"written"


def test_a_loop_device_a_user_works_on_keeps_its_flushes(tmp_path: Path) -> None:
    image = tmp_path / "overlay.img"
    fs.make_sparse(image, 8 * 2**20)
    with contextlib.ExitStack() as stack:
        dev = fs.attach_loop(stack, image)
        assert _knob(dev).read_text().strip() == "write back"


@contextlib.contextmanager
def _left_write_through(image: Path) -> Iterator[str]:
    """A loop device attached (plain losetup) and left write-through, as a build killed with SIGKILL leaves it."""
    dev = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True, text=True,
                         check=True).stdout.strip()
    try:
        _knob(dev).write_text("write through")
        yield dev
    finally:
        _knob(dev).write_text("write back")
        subprocess.run(["losetup", "--detach", dev], check=True)


def test_a_device_left_write_through_is_made_write_back_for_a_user_and_after_a_build(tmp_path: Path) -> None:
    """The setting sticks to the device number, so a build killed without cleanup leaves it for the next user:
    a user's attach makes it write-back, and a build's puts write-back there when it is done."""
    image = tmp_path / "left.img"
    fs.make_sparse(image, 8 * 2**20)
    with _left_write_through(image) as dev:
        with contextlib.ExitStack() as stack:
            fs._cache_mode(stack, dev, scratch=False)
            assert _knob(dev).read_text().strip() == "write back", "a user's device passes its flushes on"
        _knob(dev).write_text("write through")
        with contextlib.ExitStack() as stack:
            fs._cache_mode(stack, dev, scratch=True)
            assert _knob(dev).read_text().strip() == "write through"
        assert _knob(dev).read_text().strip() == "write back", "the leftover ends with the build"


def test_a_disk_build_and_a_live_build_write_their_images_without_flushes(testrepo: Path, tmp_path: Path) -> None:
    """The default paths: appliance-creator's disk and livecd-creator's root image are attached as scratch (a
    %post --nochroot reads the setting of the loop device under the install root), and put back after."""
    report = tmp_path / "write_cache"
    post = ('d=$(basename "$(findmnt -n -o SOURCE "$INSTALL_ROOT")"); f=/sys/class/block/$d/queue/write_cache; '
            f'[ -e "$f" ] || f=/sys/class/block/$d/../queue/write_cache; cat "$f" >> {report}')
    disk_ks = tmp_path / "disk.ks"
    disk_ks.write_text(kickstarts.kickstart("part / --fstype=ext4 --size=200", post=post,
                                            post_options=" --nochroot").format(repo=testrepo))
    run_tool("appliance-creator", "-c", str(disk_ks), "-n", "wc", "-o", str(tmp_path / "out"), "-t", str(tmp_path),
             "--no-compress")
    live_ks = tmp_path / "live.ks"
    live_ks.write_text(kickstarts.kickstart("part / --size 200", post=post,
                                            post_options=" --nochroot").format(repo=testrepo))
    run_tool("livecd-creator", "-c", str(live_ks), "-f", "wclive", "-t", str(tmp_path), "--compression-type", "lz4",
             cwd=tmp_path)
    assert report.read_text().split() == ["write", "through", "write", "through"], report.read_text()
