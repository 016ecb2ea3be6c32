"""The disk layout: planning from kickstart ``part`` lines (pure logic), and the table pyparted writes, read back
with sfdisk."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from imgcreate import kickstart
from imgcreate.disk import layout as disklayout
from imgcreate.disk import table as partition_table
from imgcreate.disk.layout import DiskLabel, DiskLayout, PartKind, plan_disk
from imgcreate.errors import ImageError, KickstartError

MIB = 1024 * 1024
GPT_BIOS = "part biosboot --fstype=biosboot --size=1\n"


def config(tmp_path: Path, text: str) -> kickstart.KickstartSettings:
    path = tmp_path / "disk.ks"
    path.write_text(text)
    return kickstart.read_config(kickstart.read_kickstart(path))


def plan(tmp_path: Path, text: str, bios: bool = True, disk_size_mib: int | None = None) -> DiskLayout:
    return plan_disk(config(tmp_path, text), bios=bios, disk_size_mib=disk_size_mib)


def spans(layout: DiskLayout) -> list[tuple[int, int, int]]:
    """(number, start MiB, size MiB) of every partition."""
    return [(p.number, p.start // MIB, p.size_mib) for p in layout.partitions]


# ---- planning ---------------------------------------------------------------------------------------------------


def test_gpt_layout_sizes_and_offsets(tmp_path: Path) -> None:
    """Kickstart order, biosboot moved first, 1 MiB aligned from 1 MiB, and 1 MiB for the backup GPT."""
    layout = plan(tmp_path, "part /boot/efi --fstype=efi --size=100\npart /boot --size=300 --label BOOT\n"
                            "part / --fstype=xfs --size=400\n" + GPT_BIOS)
    assert layout.label is DiskLabel.GPT
    assert spans(layout) == [(1, 1, 1), (2, 2, 100), (3, 102, 300), (4, 402, 400)]
    assert layout.size_bytes == (1 + 1 + 100 + 300 + 400 + 1) * MIB
    assert [p.kind for p in layout.partitions] == [PartKind.BIOSBOOT, PartKind.EFI, PartKind.FILESYSTEM,
                                                   PartKind.FILESYSTEM]
    assert [p.fstype for p in layout.partitions] == [None, "vfat", "ext4", "xfs"]
    assert [p.lineno for p in layout.partitions] == [4, 1, 2, 3]
    assert layout.biosboot is layout.partitions[0] and layout.esp is layout.partitions[1]
    assert layout.root.mountpoint == "/" and layout.boot.mountpoint == "/boot"
    assert layout.partitions[2].label == "BOOT" and layout.root.label is None
    assert [p.gpt_name for p in layout.partitions] == ["biosboot", "EFI System Partition", "boot", "root"]
    assert all(p.start % MIB == 0 and p.end % MIB == 0 for p in layout.partitions)
    assert layout.root.sectors() == (402 * 2048, 802 * 2048 - 1) and layout.root.sectors(4096) == (402 * 256,
                                                                                                  802 * 256 - 1)


def test_mount_order_parents_first(tmp_path: Path) -> None:
    layout = plan(tmp_path, GPT_BIOS + "part /boot/efi --fstype=efi --size=50\npart /var/log --size=10\n"
                            "part swap --size=10\npart /boot --size=10\npart / --size=10\npart /var --size=10\n")
    assert [p.mountpoint for p in layout.mount_order()] == ["/", "/boot", "/var", "/boot/efi", "/var/log"]
    assert [p.number for p in layout.swaps] == [4]
    assert layout.partitions[2].gpt_name == "var-log" and layout.swaps[0].gpt_name == "swap"


def test_default_sizes(tmp_path: Path) -> None:
    """No --size: anaconda's sizes (1 MiB biosboot, 500 MiB ESP and others, 1 GiB /boot) and livecd's 4 GiB /."""
    layout = plan(tmp_path, "part biosboot --fstype=biosboot\npart /boot/efi --fstype=efi\npart /boot\npart /\n"
                            "part swap\npart /home\n")
    assert [p.size_mib for p in layout.partitions] == [1, 500, 1024, 4096, 500, 500]
    assert [p.fstype for p in layout.partitions] == [None, "vfat", "ext4", "ext4", "swap", "ext4"]


def test_root_is_the_only_required_line_without_bios(tmp_path: Path) -> None:
    """UEFI-only (bios=False), or no boot loader (--location=none, or --disabled as container kickstarts say):
    GPT needs no biosboot."""
    gpt = "clearpart --disklabel=gpt\n"
    assert spans(plan(tmp_path, gpt + "part / --size=10\n", bios=False)) == [(1, 1, 10)]
    for bootloader in ("--location=none", "--disabled"):
        layout = plan(tmp_path, f"{gpt}bootloader {bootloader}\npart / --size=10\n")
        assert layout.size_bytes == 12 * MIB and layout.biosboot is None and layout.esp is None


def test_the_default_label_is_msdos_as_appliance_creators(tmp_path: Path) -> None:
    """A kickstart written for appliance-creator (no --disklabel, one part /, BIOS boot) plans an msdos disk that
    needs no BIOS boot partition; one that lists biosboot was written for GPT and gets GPT."""
    layout = plan(tmp_path, "bootloader --location=mbr\npart / --size=10\n")
    assert layout.label is DiskLabel.MSDOS and spans(layout) == [(1, 1, 10)] and layout.size_bytes == 11 * MIB
    assert plan(tmp_path, GPT_BIOS + "part / --size=10\n").label is DiskLabel.GPT
    assert plan(tmp_path, "clearpart --disklabel=gpt\n" + GPT_BIOS + "part / --size=10\n").label is DiskLabel.GPT


def test_grow_fills_the_given_disk_in_proportion_up_to_maxsize(tmp_path: Path) -> None:
    text = GPT_BIOS + "part /boot --size=100 --grow --maxsize=150\npart / --size=100 --grow\n" \
                      "part /var --size=300 --grow\n"
    layout = plan(tmp_path, text, disk_size_mib=1000)
    # 1000 - 1 (start) - 1 (backup GPT) - 1 (biosboot) - 500 = 497 MiB to share 1:1:3; /boot stops at 150 and the
    # rest is shared 1:3 by the others.
    assert [p.size_mib for p in layout.partitions] == [1, 150, 212, 635]
    assert layout.size_bytes == 1000 * MIB and layout.partitions[-1].end == 999 * MIB


def test_grow_without_a_disk_size_keeps_the_size(tmp_path: Path) -> None:
    layout = plan(tmp_path, GPT_BIOS + "part / --size=100 --grow\n")
    assert spans(layout) == [(1, 1, 1), (2, 2, 100)] and layout.size_bytes == 103 * MIB


def test_a_given_disk_without_grow_keeps_the_rest_free(tmp_path: Path) -> None:
    layout = plan(tmp_path, "clearpart --disklabel=msdos\npart / --size=100\n", disk_size_mib=500)
    assert spans(layout) == [(1, 1, 100)] and layout.size_bytes == 500 * MIB


def test_grow_rounding_gives_every_mib(tmp_path: Path) -> None:
    layout = plan(tmp_path, "clearpart --disklabel=msdos\npart / --size=1 --grow\npart /a --size=1 --grow\n"
                            "part /b --size=1 --grow\n", disk_size_mib=12)
    assert [p.size_mib for p in layout.partitions] == [4, 4, 3] and layout.partitions[-1].end == 12 * MIB


def test_msdos_layout_and_boot_partition(tmp_path: Path) -> None:
    layout = plan(tmp_path, "clearpart --all --disklabel=msdos\npart / --size=100\npart swap --size=20\n")
    assert layout.label is DiskLabel.MSDOS and layout.extended is None
    assert spans(layout) == [(1, 1, 100), (2, 101, 20)] and layout.size_bytes == 121 * MIB, "no backup GPT"
    assert layout.boot is layout.root


def test_msdos_more_than_four_uses_an_extended_partition(tmp_path: Path) -> None:
    """1-3 primary, 4 extended, 5... logical with 1 MiB before each for its EBR."""
    layout = plan(tmp_path, "clearpart --disklabel=msdos\npart /boot --size=10 --asprimary\npart / --size=20\n"
                            "part swap --size=5\npart /home --size=30\npart /var --size=40\n")
    assert spans(layout) == [(1, 1, 10), (2, 11, 20), (3, 31, 5), (5, 37, 30), (6, 68, 40)]
    assert [p.logical for p in layout.partitions] == [False, False, False, True, True]
    assert layout.extended == (36 * MIB, 108 * MIB) and layout.size_bytes == 108 * MIB


def test_msdos_exactly_four_are_primary(tmp_path: Path) -> None:
    layout = plan(tmp_path, "clearpart --disklabel=msdos\npart /boot --size=1\npart / --size=1\npart /a --size=1\n"
                            "part /b --size=1 --asprimary\n")
    assert [p.number for p in layout.partitions] == [1, 2, 3, 4] and layout.extended is None


def test_mountpoints_are_normalized_and_fstype_aliases(tmp_path: Path) -> None:
    layout = plan(tmp_path, GPT_BIOS + "part / --size=10 --fstype=EXT3\npart /srv/ --size=10 --fstype=efi\n"
                            "part swap --fstype=swap --size=1\n")
    assert [(p.mountpoint, p.fstype) for p in layout.partitions] == [(None, None), ("/", "ext3"), ("/srv", "vfat"),
                                                                      (None, "swap")]


def test_planned_values_are_frozen(tmp_path: Path) -> None:
    layout = plan(tmp_path, GPT_BIOS + "part / --size=10\n")
    with pytest.raises(AttributeError):
        layout.root.size_mib = 5  # type: ignore[misc]


# ---- planning errors: one paragraph each, naming the kickstart line ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("part /boot --size=10\n", ["no 'part /' line", "part / --fstype=ext4"]),
        ("part / --size=10\npart /boot --size=1\npart / --size=5\n", ["line 3 (part /)", "line 1"]),
        ("part / --size=10\npart /boot --size=1\npart /boot/ --size=5\n", ["line 3", "/boot already", "line 2"]),
        (GPT_BIOS + GPT_BIOS + "part / --size=10\n", ["line 2 (part biosboot)", "biosboot already"]),
        ("part / --size=10 --fstype=btrfs\n", ["line 1 (part /)", "'btrfs'", "ext2, ext3, ext4, xfs, vfat"]),
        ("part / --size=10 --fstype=swap\n", ["line 1", "write 'part swap'"]),
        ("part / --size=10\npart swap --fstype=ext4 --size=1\n", ["line 2 (part swap)", "--fstype=swap"]),
        ("part / --size=10\npart biosboot --fstype=ext4\n", ["line 2 (part biosboot)", "--fstype=biosboot"]),
        ("part / --size=10\npart /boot/efi --fstype=ext4 --size=100\n", ["line 2 (part /boot/efi)", "FAT"]),
        ("part / --size=10\npart pv.01 --size=10\n", ["line 2 (part pv.01)", "LVM"]),
        ("part / --size=10\npart home --size=10\n", ["line 2 (part home)", "absolute path"]),
        ("part / --size=10 --grow --maxsize=5\n", ["line 1", "--maxsize=5", "--size=10"]),
        ("part / --size=100 --fstype=xfs\n", ["line 1", "xfs needs at least 300 MiB"]),
        ("part / --size=10 --label=ABCDEFGHIJKLMNOPQ\n", ["line 1", "17 characters", "ext4 labels hold 16"]),
        ("part / --size=10\npart /boot/efi --fstype=efi --size=50 --label=TOOLONGLABEL\n", ["line 2", "vfat"]),
        ("part / --size=10 --ondisk=sda\npart /boot --size=1\npart /b --size=1 --ondisk=vdb\n",
         ["line 1 (part /)", "--ondisk=sda", "line 3 (part /b)", "--ondisk=vdb", "one disk image"]),
        ("clearpart --disklabel=sun\npart / --size=10\n", ["clearpart --disklabel=sun", "'gpt'", "'msdos'"]),
    ],
)
def test_kickstart_mistakes(tmp_path: Path, text: str, words: list[str]) -> None:
    with pytest.raises(KickstartError) as err:
        plan(tmp_path, text, bios=False)
    msg = str(err.value)
    assert "\n" not in msg
    for word in words:
        assert word in msg, msg


def test_gpt_bios_needs_biosboot(tmp_path: Path) -> None:
    with pytest.raises(KickstartError, match="add 'part biosboot --fstype=biosboot --size=1'"):
        plan(tmp_path, "clearpart --disklabel=gpt\nbootloader --location=mbr\npart / --size=10\n")
    with pytest.raises(KickstartError, match="BIOS boot partition"):
        plan(tmp_path, "clearpart --disklabel=gpt\npart / --size=10\n")


def test_msdos_refuses_biosboot_and_late_asprimary(tmp_path: Path) -> None:
    with pytest.raises(KickstartError, match=r"line 2 \(part biosboot\).*GPT disks"):
        plan(tmp_path, "clearpart --disklabel=msdos\n" + GPT_BIOS + "part / --size=10\n")
    text = "clearpart --disklabel=msdos\npart / --size=1\npart /a --size=1\npart /b --size=1\n"
    with pytest.raises(KickstartError, match=r"line 5 \(part /c\): --asprimary.*logical partition"):
        plan(tmp_path, text + "part /c --size=1 --asprimary\npart /d --size=1\n")


def test_a_layout_that_does_not_fit(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as err:
        plan(tmp_path, GPT_BIOS + "part / --size=100\n", disk_size_mib=102)
    msg = str(err.value)
    assert "102 MiB disk" in msg and "need 103 MiB" in msg and "line 2 (part /): 100 MiB" in msg
    assert "line 1 (part biosboot): 1 MiB" in msg
    assert plan(tmp_path, GPT_BIOS + "part / --size=100\n", disk_size_mib=103).size_bytes == 103 * MIB


# ---- the written table, read back with sfdisk ---------------------------------------------------------------


def sfdisk(image: Path) -> dict[str, object]:
    if shutil.which("sfdisk") is None:
        pytest.skip("sfdisk (util-linux; Debian's fdisk package) is not installed")
    out = subprocess.run(["sfdisk", "--json", str(image)], check=True, capture_output=True, text=True).stdout
    table: dict[str, object] = json.loads(out)["partitiontable"]
    return table


def written(tmp_path: Path, layout: DiskLayout) -> tuple[dict[str, object], list[dict[str, object]]]:
    pytest.importorskip("parted")
    image = tmp_path / "disk.raw"
    partition_table.write_partition_table(image, layout)
    assert image.stat().st_size == layout.size_bytes
    assert image.stat().st_blocks * 512 < layout.size_bytes, "sparse"
    table = sfdisk(image)
    parts = table["partitions"]
    assert isinstance(parts, list)
    return table, parts


def assert_placed(parts: list[dict[str, object]], layout: DiskLayout) -> None:
    """Every planned partition at its number, start and size (sectors); the extended partition left out."""
    got = [(int(str(p["node"]).rsplit("disk.raw", 1)[-1]), p["start"], p["size"]) for p in parts]
    want = [(pp.number, pp.start // 512, pp.size_bytes // 512) for pp in layout.partitions]
    assert [g for g in got if g[0] != 4 or layout.extended is None] == want


def test_write_gpt_biosboot_esp_boot_root(tmp_path: Path) -> None:
    layout = plan(tmp_path, GPT_BIOS + "part /boot/efi --fstype=efi --size=20\npart /boot --size=30\n"
                            "part / --fstype=xfs --size=300\npart swap --size=8\n")
    table, parts = written(tmp_path, layout)
    assert table["label"] == "gpt" and table["sectorsize"] == 512
    assert table["lastlba"] == layout.size_bytes // 512 - 34, "the backup GPT at the end of the disk"
    assert_placed(parts, layout)
    assert [p["type"] for p in parts] == [
        disklayout.BIOSBOOT_GPT_TYPE, disklayout.ESP_GPT_TYPE, "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
    ]
    assert [p.get("name") for p in parts] == ["biosboot", "EFI System Partition", "boot", "root", "swap"]


def test_write_msdos_boot_root_swap(tmp_path: Path) -> None:
    layout = plan(tmp_path, "clearpart --disklabel=msdos\npart /boot --size=30\npart / --size=50\n"
                            "part swap --size=8\n", disk_size_mib=100)
    table, parts = written(tmp_path, layout)
    assert table["label"] == "dos"
    assert_placed(parts, layout)
    assert [p["type"] for p in parts] == ["83", "83", "82"]
    assert [bool(p.get("bootable")) for p in parts] == [True, False, False], "the active flag on /boot"


def test_write_msdos_esp_and_logical_partitions(tmp_path: Path) -> None:
    layout = plan(tmp_path, "clearpart --disklabel=msdos\npart /boot/efi --fstype=efi --size=10\npart / --size=20\n"
                            "part swap --size=4\npart /home --size=6\npart /var --size=7\n")
    _, parts = written(tmp_path, layout)
    assert layout.extended is not None
    extended = next(p for p in parts if str(p["node"]).endswith("disk.raw4"))
    assert (extended["start"], extended["size"]) == (layout.extended[0] // 512,
                                                     (layout.extended[1] - layout.extended[0]) // 512)
    assert extended["type"] in ("5", "f")
    assert_placed(parts, layout)
    by_node = {str(p["node"]).rsplit("disk.raw", 1)[-1]: p for p in parts}
    assert [by_node[n]["type"] for n in ("1", "2", "3", "5", "6")] == ["ef", "83", "82", "83", "83"]
    assert by_node["2"].get("bootable") and not by_node["1"].get("bootable"), "active: the partition with /boot"


def test_write_replaces_a_table_and_refuses_a_small_device(tmp_path: Path) -> None:
    pytest.importorskip("parted")
    image = tmp_path / "disk.raw"
    partition_table.write_partition_table(image, plan(tmp_path, "clearpart --disklabel=msdos\npart / --size=5\n"))
    layout = plan(tmp_path, GPT_BIOS + "part / --size=5\n", disk_size_mib=20)
    partition_table.write_partition_table(image, layout)
    table = sfdisk(image)
    assert table["label"] == "gpt" and image.stat().st_size == 20 * MIB, "a file grows to the layout"
    big = plan(tmp_path, GPT_BIOS + "part / --size=5\n", disk_size_mib=40)
    with pytest.raises(ImageError, match="/dev/null"):
        partition_table.write_partition_table(Path("/dev/null"), big)
