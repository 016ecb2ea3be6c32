"""Delivery across filesystems (imgcreate/build/builddir.py): with the defaults, the build directory is in /var/tmp and
the result goes to the current folder, often another filesystem, and then every file is copied to a hidden
``.partial`` name and renamed, and a failure removes what was already delivered.  Here the output folder is a
tmpfs of its own: a build with no --tmpdir and no --output delivers there (a sparse image stays sparse: the
tmpfs is smaller than the image's nominal size), and a tmpfs too small for the image fails during the copy with
one paragraph naming the file and the folder, exit status 1, and nothing left in the folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import Leaks, MakeKs, assert_build_left_nothing, assert_failed, mounted_tmpfs, run_tool

pytestmark = pytest.mark.root

BODY = "%packages\n@core\n%end\n"
NOMINAL_MIB = 512


def test_the_defaults_deliver_a_sparse_image_to_another_filesystem(tmp_path: Path, make_ks: MakeKs) -> None:
    """``image-creator -c KS -n NAME`` run in a folder on a 256 MiB tmpfs: built in /var/tmp, copied there."""
    ks = make_ks(BODY, size=NOMINAL_MIB)
    with mounted_tmpfs(tmp_path / "out", 256) as out:
        assert os.stat(out).st_dev != os.stat("/var/tmp").st_dev, "the output is another filesystem"
        proc = run_tool("image-creator", "-c", str(ks), "-n", "XFER", cwd=out)
        assert sorted(p.name for p in out.iterdir()) == ["XFER-CHECKSUM", "XFER.flattened.ks", "XFER.img",
                                                         "XFER.packages"], "no .partial file left"
        image = out / "XFER.img"
        assert image.stat().st_size == NOMINAL_MIB * 1024 * 1024
        assert image.stat().st_blocks * 512 < 128 * 1024 * 1024, "still sparse"
        check = subprocess.run(["sha256sum", "-c", "XFER-CHECKSUM"], cwd=out, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        fsck = subprocess.run(["e2fsck", "-fn", str(image)], capture_output=True, text=True)
        assert fsck.returncode == 0, fsck.stdout
    assert "\nwrote XFER.img\n" in proc.stderr, proc.stderr[-2000:]


def test_a_full_output_filesystem_during_the_copy_leaves_nothing(tmp_path: Path, make_ks: MakeKs) -> None:
    """The output folder (the default ``.``) on a 1 MiB tmpfs: the small manifest files are delivered first
    (in name order), then the image's copy runs out of space; they are removed again, no ``.partial`` stays.
    ``-t ../work``: a relative build folder (dnf refused one as its install root, an internal error)."""
    ks = make_ks(BODY, size=NOMINAL_MIB)
    (tmp_path / "work").mkdir()
    with mounted_tmpfs(tmp_path / "out", 1) as out:
        proc = run_tool("image-creator", "-c", str(ks), "-n", "XFER", "-t", "../work", cwd=out, check=False)
        assert_failed(proc, f"error: Delivering XFER.img to {out} failed: ", "No space left on device",
                      f"Nothing of this build was left in {out}.", "A filesystem is full")
        assert proc.returncode == 1
        assert list(out.iterdir()) == [], "no .partial, no manifest: all or nothing"
        assert_build_left_nothing(tmp_path, ours=Leaks(mounts=frozenset({str(out)})))
