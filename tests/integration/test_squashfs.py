"""The live root's squashfs: a big sparse rootfs.img packed with tar2sqfs (holes skipped) or mksquashfs.

Real tools, no build: a sparse file with a little data in it, packed both ways, must give the same tree (owners,
modes, times, sizes, the image's bytes) in a squashfs of the asked compressor.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from imgcreate.errors import CommandError
from imgcreate.host.run import run_pipe
from imgcreate.pack import squashfs

pytestmark = pytest.mark.skipif(shutil.which("tar2sqfs") is None, reason="squashfs-tools-ng is not installed")

NOMINAL = 256 << 20  # 256 MiB nominal, 3 MiB of data


def _sparse_tree(base: Path) -> tuple[Path, str]:
    """A squashfs source like the live one (LiveOS/rootfs.img, sparse); the image's sha256."""
    tree = base / "src"
    (tree / "LiveOS").mkdir(parents=True)
    img = tree / "LiveOS/rootfs.img"
    digest = hashlib.sha256()
    with open(img, "wb") as f:
        for i, offset in enumerate((0, 100 << 20, NOMINAL - (1 << 20))):
            f.seek(offset)
            f.write(os.urandom(1 << 19) + bytes([i]) * (1 << 19))
        f.truncate(NOMINAL)
    with open(img, "rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    for p in (img, tree / "LiveOS", tree):
        os.utime(p, (1700000000, 1700000000))
    return tree, digest.hexdigest()


def _listing(sqfs: Path) -> list[str]:
    out = subprocess.run(["unsquashfs", "-lln", str(sqfs)], check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "squashfs-root" in line]


def _image_digest(sqfs: Path) -> str:
    proc = subprocess.Popen(["unsquashfs", "-cat", str(sqfs), "LiveOS/rootfs.img"], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    digest = hashlib.sha256()
    while chunk := proc.stdout.read(1 << 24):
        digest.update(chunk)
    assert proc.wait() == 0
    return digest.hexdigest()


def _compressor(sqfs: Path) -> str:
    out = subprocess.run(["unsquashfs", "-s", str(sqfs)], check=True, capture_output=True, text=True).stdout
    return next(line.split()[1] for line in out.splitlines() if line.startswith("Compression "))


@pytest.mark.parametrize("compression", ["xz", "zstd", "gzip", "lzo", "xz1m"])
def test_tar2sqfs_packs_the_same_tree_as_mksquashfs(tmp_path: Path, compression: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    tree, digest = _sparse_tree(tmp_path)
    caplog.set_level(logging.DEBUG, logger="imgcreate")
    squashfs.pack_sparse(tree, tmp_path / "sparse.sqfs", compression, progress=False)
    assert "tar2sqfs" in caplog.text  # the holes were skipped, not read
    squashfs.mksquashfs(tree, tmp_path / "mksquashfs.sqfs", compression, progress=False)
    assert _listing(tmp_path / "sparse.sqfs") == _listing(tmp_path / "mksquashfs.sqfs")
    assert any(f" {NOMINAL} 2023-11-14 22:13 squashfs-root/LiveOS/rootfs.img" in line
               for line in _listing(tmp_path / "sparse.sqfs"))
    assert _image_digest(tmp_path / "sparse.sqfs") == digest
    expected = "xz" if compression == "xz1m" else compression
    assert _compressor(tmp_path / "sparse.sqfs") == expected
    # the holes take no room: the squashfs is about as big as mksquashfs's
    assert (tmp_path / "sparse.sqfs").stat().st_size < 1.1 * (tmp_path / "mksquashfs.sqfs").stat().st_size + 65536


@pytest.mark.parametrize("compression", ["xz -Xbcj x86", "lz4"])
def test_what_only_mksquashfs_takes_goes_to_mksquashfs(tmp_path: Path, compression: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    tree, digest = _sparse_tree(tmp_path)
    caplog.set_level(logging.DEBUG, logger="imgcreate")
    squashfs.pack_sparse(tree, tmp_path / "out.sqfs", compression, progress=False)
    assert "tar2sqfs" not in caplog.text
    assert "running: /usr/bin/mksquashfs" in caplog.text
    assert _image_digest(tmp_path / "out.sqfs") == digest


def test_without_squashfs_tools_ng_mksquashfs_packs_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    tree, digest = _sparse_tree(tmp_path)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("mksquashfs", "tar"):
        which = shutil.which(tool)
        assert which
        (bindir / tool).symlink_to(which)
    monkeypatch.setenv("PATH", str(bindir))
    caplog.set_level(logging.DEBUG, logger="imgcreate")
    squashfs.pack_sparse(tree, tmp_path / "out.sqfs", "xz", progress=False)
    assert "tar2sqfs (squashfs-tools-ng) is not installed" in caplog.text
    monkeypatch.undo()
    assert _image_digest(tmp_path / "out.sqfs") == digest


def test_run_pipe_names_the_command_that_failed(tmp_path: Path) -> None:
    assert run_pipe(["printf", "a\\nb\\n"], ["wc", "-l"]).stdout.strip() == "2"
    with pytest.raises(CommandError) as failed:
        run_pipe(["tar", "-cf", "-", "-C", str(tmp_path / "missing"), "."], ["cat"], what="Packing")
    assert failed.value.argv[0].endswith("/tar")
    assert "Packing" in str(failed.value) and "missing" in str(failed.value)
    # the second fails early: it is named, not the first one that got SIGPIPE
    big = tmp_path / "big"
    big.write_bytes(b"x" * (8 << 20))
    with pytest.raises(CommandError) as failed:
        run_pipe(["cat", str(big)], ["sh", "-c", "exit 3"])
    assert failed.value.argv[0].endswith("/sh") and failed.value.returncode == 3
