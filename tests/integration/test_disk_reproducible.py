"""Reproducible disk images: appliance-creator with SOURCE_DATE_EPOCH gives the same bytes in another folder with
the clock a week on (faketime), for the raw disk and every format and compressor the tool delivers; so does a
rebuild from the --incremental tree.  A difference is named (tests/diskdiff.py: the partition, the ext file).

The first build is the session's gpt_disk (booted by tests/boot/test_disk_boot.py); one rebuild, stored with
--incremental, is compared with it, and the formats are made from both raw disks by the tool's own code
(imgcreate.disk.output), not by more builds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from imgcreate.disk import output
from tests import diskdiff
from tests.disks import BOOT_APPEND, EPOCH, GPT_ARGS, GPT_KS, MSDOS_KS, Disk, build_disk, sfdisk

pytestmark = pytest.mark.root

LATER = ("faketime", "-f", "+7d")
FILES = ("gptdisk-sda.raw", "gptdisk.xml", "CHECKSUM", "gptdisk-CHECKSUM", "gptdisk.packages",
         "gptdisk.flattened.ks")


@pytest.fixture(scope="module")
def incremental_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("disk-incremental")


@pytest.fixture(scope="module")
def rebuilt_gpt(tmp_path_factory: pytest.TempPathFactory, testrepo: Path, incremental_dir: Path) -> Disk:
    """gpt_disk built again in another folder, a week later, storing its tree with --incremental."""
    tmp = tmp_path_factory.mktemp("gpt-again-in-a-longer-folder")
    return build_disk(tmp, "gptdisk", GPT_KS.format(repo=testrepo, append=BOOT_APPEND), *GPT_ARGS,
                      "--incremental", str(incremental_dir), "--source-date-epoch", EPOCH, prefix=LATER)


def test_raw_disk_and_its_files_rebuild_bit_identical(gpt_disk: Disk, rebuilt_gpt: Disk) -> None:
    diskdiff.assert_same_disk(gpt_disk.out / "gptdisk-sda.raw", rebuilt_gpt.out / "gptdisk-sda.raw")
    for name in FILES[1:]:
        diskdiff.assert_same_file(gpt_disk.out / name, rebuilt_gpt.out / name)
    assert sorted(p.name for p in rebuilt_gpt.out.iterdir()) == sorted(FILES)
    table = sfdisk(gpt_disk.out / "gptdisk-sda.raw")
    assert table["id"] != "00000000-0000-0000-0000-000000000000"


def _delivered(raw: Path, tmp: Path, disk_format: str, compress: str | None) -> Path:
    """*raw* (copied, sparse) delivered as appliance-creator delivers it in *disk_format*, with the tool's code."""
    tmp.mkdir()
    copy = tmp / "gptdisk.raw"
    subprocess.run(["cp", "--sparse=always", "--reflink=auto", str(raw), str(copy)], check=True)
    spec = output.OutputSpec(name="gptdisk", disk_format=disk_format, compress=compress)
    disk = output.convert(copy, tmp / spec.disk_name, spec, epoch=int(EPOCH))
    return output.compress(disk, compress) if compress and disk_format == "raw" else disk


@pytest.mark.parametrize(("disk_format", "compress"), [
    ("qcow2", "xz"),  # -f qcow2: compressed clusters, appliance-creator's default for qcow2
    ("vmdk", None),
    ("vdi", None),
    pytest.param("qcow2", None, marks=pytest.mark.slow),
    pytest.param("raw", "xz", marks=pytest.mark.slow),  # the default .raw.xz (the threads: see below)
    pytest.param("raw", "zstd", marks=pytest.mark.slow),
])
def test_every_format_rebuilds_bit_identical(gpt_disk: Disk, rebuilt_gpt: Disk, tmp_path: Path, disk_format: str,
                                             compress: str | None) -> None:
    first = _delivered(gpt_disk.out / "gptdisk-sda.raw", tmp_path / "a", disk_format, compress)
    second = _delivered(rebuilt_gpt.out / "gptdisk-sda.raw", tmp_path / "b", disk_format, compress)
    diskdiff.assert_same_file(first, second)
    if disk_format != "raw":  # the ids put in are where qemu expects them: the disk reads back the same
        subprocess.run(["qemu-img", "check", str(first)], check=True, capture_output=True)
        subprocess.run(["qemu-img", "compare", "-f", disk_format, "-F", "raw", str(first),
                        str(gpt_disk.out / "gptdisk-sda.raw")], check=True, capture_output=True)


def test_compression_is_the_same_with_one_thread_or_all(gpt_disk: Disk, tmp_path: Path) -> None:
    """xz -T0 (>= 5.4) and zstd -T0 write the same bytes whatever the number of CPUs: a host with one CPU
    delivers what ours with two does.  17 MiB of the disk (partition table, BIOS boot partition, ESP: two xz
    blocks) do."""
    sample = tmp_path / "sample"
    with open(gpt_disk.out / "gptdisk-sda.raw", "rb") as src:
        sample.write_bytes(src.read(17 << 20))
    cpus = os.sched_getaffinity(0)
    if len(cpus) < 2:
        pytest.skip("needs two CPUs to compare with one")
    for compressor in output.COMPRESSORS:
        made = []
        for affinity in ({min(cpus)}, cpus):
            work = tmp_path / f"{compressor}-{len(affinity)}"
            work.mkdir()
            shutil.copyfile(sample, work / "disk")
            os.sched_setaffinity(0, affinity)  # inherited by the compressor
            try:
                made.append(output.compress(work / "disk", compressor))
            finally:
                os.sched_setaffinity(0, cpus)
        diskdiff.assert_same_file(*made)
        assert not (tmp_path / f"{compressor}-1" / "disk").exists(), "the compressed file replaces the disk"


@pytest.mark.slow
def test_incremental_rebuild_is_bit_identical(gpt_disk: Disk, rebuilt_gpt: Disk, tmp_path: Path, testrepo: Path,
                                              incremental_dir: Path) -> None:
    """The tree rebuilt_gpt stored (/boot is a partition of its own, crossed when storing) gives the same disk."""
    again = build_disk(tmp_path, "gptdisk", GPT_KS.format(repo=testrepo, append=BOOT_APPEND), *GPT_ARGS,
                       "--incremental", str(incremental_dir), env={"SOURCE_DATE_EPOCH": EPOCH})
    assert "reused the installed tree" in again.proc.stderr
    diskdiff.assert_same_disk(gpt_disk.out / "gptdisk-sda.raw", again.out / "gptdisk-sda.raw")


@pytest.mark.slow
def test_xfs_is_named_as_not_reproducible(tmp_path: Path, testrepo: Path) -> None:
    """An msdos disk with an XFS root: the build warns; the partition table and /boot still rebuild the same."""
    disks = [build_disk(tmp_path / where, "x", MSDOS_KS.format(repo=testrepo, append=BOOT_APPEND), "--no-compress",
                        env={"SOURCE_DATE_EPOCH": EPOCH}, prefix=prefix)
             for where, prefix in (("a", ()), ("b-later", LATER))]
    assert "partition 2 (/) is XFS" in disks[0].proc.stderr
    first, second = (d.out / "x-sda.raw" for d in disks)
    differing = diskdiff.differing_blocks(first, second)
    parts = sfdisk(first)["partitions"]
    assert isinstance(parts, list)
    boot = parts[0]
    boot_end = (boot["start"] + boot["size"]) * 512
    assert differing and min(differing) >= boot_end, diskdiff.describe(first, second)
