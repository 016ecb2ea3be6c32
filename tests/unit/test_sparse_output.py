"""A sparse disk is delivered without anything reading its holes (issue 28), and as the tools would write it.

Real files and the real tools (xz, qemu-img, cp); nothing is timed.  A disk of 10 GiB nominal holding a few MiB
stands for a cloud image: its compression gives xz only its data, its conversion and its delivery keep its holes
(the delivered files' allocated blocks stay small), its checksum is ``sha256sum``'s.  The small cases prove
that the spliced .xz is byte for byte the file ``xz -T0 --block-size=16777216`` writes for the whole disk.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
from pathlib import Path

import pytest

from imgcreate.build import builddir
from imgcreate.disk import output, xzblocks
from imgcreate.host import run, sparse

MIB = 1 << 20
GIB = 1 << 30


def make_disk(path: Path, size: int, writes: list[tuple[int, bytes]]) -> Path:
    """A sparse file of *size* bytes with *writes* ``(offset, data)`` in it."""
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, data in writes:
            f.seek(offset)
            f.write(data)
    return path


def xz_of_whole_file(path: Path) -> bytes:
    return subprocess.run([*xzblocks.XZ_ARGS, "-k", "-c", str(path)], capture_output=True, check=True).stdout


@pytest.fixture(scope="module")
def big_disk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 GiB nominal: a partition table's worth at the start, 1 MiB in the middle, a backup table at the end."""
    where = tmp_path_factory.mktemp("big")
    return make_disk(where / "big.raw", 10 * GIB, [(0, os.urandom(64 * 1024)), (5 * GIB + 12345, os.urandom(MIB)),
                                                   (10 * GIB - 32 * 1024, os.urandom(32 * 1024))])


@pytest.mark.parametrize(("size", "writes"), [
    # data, a block of written zeros (data to the filesystem, zeros to xz), a short last block that is a hole
    (32 * MIB + 12345, [(3 * MIB, os.urandom(2 * MIB)), (16 * MIB, bytes(16 * MIB))]),
    # a block that is all hole, a short last block with data
    (16 * MIB + 4321, [(16 * MIB, os.urandom(4321))]),
], ids=["data-zeros-short-hole", "hole-short-data"])
def test_xz_output_is_xz_multithreaded_with_upstreams_block_size(tmp_path: Path, size: int,
                                                                 writes: list[tuple[int, bytes]],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """output.compress calls xz with all cores and appliance-creator's 16 MiB blocks, and what it delivers is
    byte for byte xz's file of the whole disk (seekable: one block per 16 MiB, ``xz --list``), the disk gone."""
    disk = make_disk(tmp_path / "d-sda.raw", size, writes)
    expected = xz_of_whole_file(disk)
    caplog.set_level(logging.DEBUG, logger="imgcreate")
    made = output.compress(disk, "xz")
    assert made == tmp_path / "d-sda.raw.xz" and not disk.exists()
    (xz_call,) = [m for m in (r.getMessage() for r in caplog.records) if m.startswith("running: ") and "xz " in m]
    assert " -T0 " in xz_call and " --block-size=16777216 " in xz_call, xz_call
    assert made.read_bytes() == expected
    listing = subprocess.run(["xz", "--robot", "--list", str(made)], capture_output=True, text=True,
                             check=True).stdout
    (totals,) = [line.split("\t") for line in listing.splitlines() if line.startswith("totals")]
    assert int(totals[2]) == -(-size // (16 * MIB)) and int(totals[4]) == size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d-sda.raw.xz"], "no intermediate file left"


def test_a_10gib_sparse_disk_gives_xz_only_its_data(big_disk: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """xz is handed the blocks that hold data (three here) and one block of zeros, not 10 GiB; the result is
    an .xz of the whole 10 GiB disk (its index read by ``xz --list``; the small cases above prove the bytes)."""
    fed: list[int] = []
    real_run = run.run

    def spy(argv: list[str], **kwargs: object) -> object:
        fed.append(Path(argv[-1]).stat().st_size)
        return real_run(argv, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(xzblocks, "run", spy)
    target = tmp_path / "big.raw.xz"
    xzblocks.compress(big_disk, target)
    assert fed == [4 * 16 * MIB], "the zero block and the three blocks holding data"
    listing = subprocess.run(["xz", "--robot", "--list", str(target)], capture_output=True, text=True,
                             check=True).stdout
    (totals,) = [line.split("\t") for line in listing.splitlines() if line.startswith("totals")]
    assert int(totals[2]) == 640 and int(totals[4]) == 10 * GIB


def test_checksums_hash_the_holes_without_reading_them(tmp_path: Path) -> None:
    """sparse.digests gives sha256sum's and sha1sum's digests of the whole file, from one pass over the data
    ranges SEEK_DATA reports (which cover every byte written)."""
    disk = make_disk(tmp_path / "d.raw", 64 * MIB + 7, [(MIB, os.urandom(5000)), (40 * MIB, os.urandom(3 * MIB))])
    with open(disk, "rb") as f:
        ranges = list(sparse.data_ranges(f.fileno()))
    assert ranges and ranges[0][0] <= MIB and ranges[-1][1] >= 43 * MIB
    assert sum(end - start for start, end in ranges) < 16 * MIB, "the holes are not data"
    content = disk.read_bytes()
    assert sparse.digests(disk, ("sha1", "sha256")) == {"sha1": hashlib.sha1(content).hexdigest(),
                                                        "sha256": hashlib.sha256(content).hexdigest()}


def test_delivery_copies_a_10gib_sparse_disk_as_sparse(big_disk: Path, tmp_path: Path) -> None:
    """Delivered to another filesystem (/dev/shm), the 10 GiB disk is copied with its holes: the copy takes
    about what its data takes, and holds the same data at the same places (the rest reads as zeros)."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on a filesystem of its own")
    outdir = tmp_path / "out"
    outdir.mkdir()
    os.link(big_disk, outdir / big_disk.name)
    dest = shm / f"livecd-tools-test-{os.getpid()}"
    try:
        (delivered,) = builddir.deliver(outdir, dest)
        assert delivered.stat().st_size == 10 * GIB
        assert sparse.allocated_bytes(delivered) < 4 * MIB, "only the data was written"
        with open(big_disk, "rb") as src, open(delivered, "rb") as copy:
            for start, end in sparse.data_ranges(src.fileno()):
                assert os.pread(copy.fileno(), end - start, start) == os.pread(src.fileno(), end - start, start)
    finally:
        subprocess.run(["rm", "-rf", str(dest)], check=True)


@pytest.mark.parametrize("compress", [None, "xz"], ids=["qcow2", "qcow2-compressed"])
def test_qcow2_conversion_keeps_the_holes(big_disk: Path, tmp_path: Path, compress: str | None) -> None:
    """qemu-img (with its own parallelism, in order) writes no cluster for the holes: the qcow2 of the 10 GiB
    disk is a few MiB, allocated and nominal, and reads back as the raw disk."""
    raw = tmp_path / "big.raw"
    os.link(big_disk, raw)
    spec = output.OutputSpec(name="big", disk_format="qcow2", compress=compress)
    args = output.convert_args(raw, tmp_path / "big.qcow2", spec)
    assert args[:4] == ["qemu-img", "convert", "-m", "16"] and "-W" not in args
    qcow2 = output.convert(raw, tmp_path / "big.qcow2", spec)
    assert qcow2.stat().st_size < 8 * MIB and sparse.allocated_bytes(qcow2) < 8 * MIB
    subprocess.run(["qemu-img", "compare", "-f", "qcow2", "-F", "raw", str(qcow2), str(big_disk)], check=True,
                   capture_output=True)
