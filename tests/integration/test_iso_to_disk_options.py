"""Every option of upstream's livecd-iso-to-disk (livecd-tools 31, ``tools/livecd-iso-to-disk.sh``), each with the
check of its effect on the stick.

Table-driven as tests/integration/test_editliveos_options.py: UPSTREAM lists upstream's options; each is in
EFFECTS (a check here, on a few runs made lazily once per module from the session's toolbox ISO), or in GAPS (a
visible expected failure saying what is not done).  ``test_every_upstream_option_is_accounted_for`` fails for
an option in neither, and for one in EFFECTS our parser does not take.

The runs: the live system added to a FAT partition (upstream's default mode) with the boot options, to an ext4
partition with the persistence sizes and then reconfigured there with --skipcopy, and an image file formatted
with upstream's --msdos/--efi/--noesp/--format SIZE.  tests/integration/test_iso_to_disk.py holds the refusals
and the modes' other checks; tests/boot/test_iso_to_disk_boot.py boots such sticks.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from imgcreate.cli import isotodisk as isotodisk_cli
from tests import disks, option_table
from tests.support import assert_failed, run_tool

pytestmark = pytest.mark.root

MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}

# Upstream's options, by their first long name, as its parser (and the two positionals).
UPSTREAM = (
    "ISO", "TARGET", "--help", "--noverify", "--format", "--msdos", "--reset-mbr", "--efi", "--noesp", "--nomac",
    "--skipcopy", "--force", "--xo", "--xo-no-home", "--timeout", "--totaltimeout", "--nobootmsg", "--nomenu",
    "--extra-kernel-args", "--multi", "--livedir", "--compress", "--skipcompress", "--no-overlay", "--overlayfs",
    "--overlay-size-mb", "--copy-overlay", "--reset-overlay", "--home-size-mb", "--copy-home", "--crypted-home",
    "--unencrypted-home", "--delete-home", "--swap-size-mb", "--updates", "--ks", "--label",
)
ALIASES = ("--resetmbr", "--mactel", "--reconfig")

# The persistence, home and live-directory options: checked one by one in tests/integration/
# test_iso_to_disk_persist.py (and booted in tests/boot/test_iso_to_disk_boot.py), named in tests/option_table.py,
# whose own test checks that every test it names exists.
ELSEWHERE = dict(option_table._I2D_PERSIST)
# What is not done here (each an expected failure in the run's summary, never silent).
GAPS: dict[str, str] = {}


def sh(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def attached(image: Path) -> contextlib.AbstractContextManager[str]:
    return disks.attached(image, read_only=False)


def partitioned(path: Path, mib: int, mkfs: tuple[str, ...]) -> Path:
    with open(path, "wb") as f:
        f.truncate(mib << 20)
    subprocess.run(["sfdisk", "-q", str(path)], input="start=2048, type=83\n", text=True, check=True)
    with attached(path) as dev:
        sh(*mkfs, f"{dev}p1")
    return path


def mtype(part: str, path: str) -> str:
    return subprocess.run(["mtype", "-i", part, f"::/{path}"], capture_output=True, text=True, env=MTOOLS_ENV,
                          check=True).stdout


def blkid(dev: str, tag: str) -> str:
    return subprocess.run(["blkid", "-p", "-s", tag, "-o", "value", dev], capture_output=True, text=True,
                          check=False).stdout.strip()


def linux_args(cfg: str) -> list[str]:
    return next(line.split() for line in cfg.splitlines() if line.strip().startswith("linux "))


@dataclass
class Stick:
    """What a run left: the tool's result, and the files the checks read (copied out while attached)."""

    proc: subprocess.CompletedProcess[str]
    files: dict[str, str] = field(default_factory=dict)  # path on the stick -> text ("" for a binary file)
    listing: list[str] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)


class Runs:
    """The runs, each made the first time a check needs it."""

    def __init__(self, iso: Path, tmp: Path) -> None:
        self.iso, self.tmp, self.done = iso, tmp, dict[str, Stick]()

    def fat(self) -> Stick:
        """Onto a FAT partition: boot options, --updates, --ks, --label, --skipcompress, the aliases."""
        if "fat" not in self.done:
            disk = partitioned(self.tmp / "fat.img", 400, ("mkfs.vfat", "-n", "OLDLABEL"))
            (self.tmp / "updates.img").write_bytes(b"updates image\n")
            (self.tmp / "ks.cfg").write_text("# a kickstart\n")
            with attached(disk) as dev:
                part = f"{dev}p1"
                proc = run_tool("livecd-iso-to-disk", "--noverify", "--resetmbr", "--timeout", "55",
                                "--totaltimeout", "100", "--nobootmsg", "--extra-kernel-args", "opt.extra=1",
                                "--updates", str(self.tmp / "updates.img"), "--ks", str(self.tmp / "ks.cfg"),
                                "--label", "FATSTICK", "--skipcompress", "--force", str(self.iso), part)
                stick = Stick(proc, listing=sh("mdir", "-/", "-b", "-i", part, "::/").split(),
                              info={"label": blkid(part, "LABEL"), "uuid": blkid(part, "UUID")})
                for f in ("boot/grub2/grub.cfg", "updates.img", "ks.cfg"):
                    stick.files[f] = mtype(part, f)
            stick.info["mbr"] = disk.read_bytes()[:512].hex()
            self.done["fat"] = stick
        return self.done["fat"]

    def ext(self) -> Stick:
        """Onto an ext4 partition with --nomenu --compress and persistence, then --skipcopy --timeout 0 there."""
        if "ext" not in self.done:
            disk = partitioned(self.tmp / "ext.img", 400, ("mkfs.ext4", "-q", "-L", "MINE"))
            with attached(disk) as dev:
                part = f"{dev}p1"
                mnt = self.tmp / "ext-mnt"
                mnt.mkdir()
                sh("mount", part, str(mnt))
                try:
                    (mnt / "notes.txt").write_text("mine\n")
                finally:
                    sh("umount", str(mnt))
                proc = run_tool("livecd-iso-to-disk", "--noverify", "--nomenu", "--compress",
                                "--overlay-size-mb", "32", "--home-size-mb", "16,ext4", "--unencrypted-home",
                                str(self.iso), part)
                stick = Stick(proc, info={"label": blkid(part, "LABEL"), "uuid": blkid(part, "UUID")})
                sh("mount", "-o", "ro", part, str(mnt))
                try:
                    stick.files["notes.txt"] = (mnt / "notes.txt").read_text()
                    stick.listing = sorted(str(p.relative_to(mnt)) for p in mnt.rglob("*"))
                    stick.files["first grub.cfg"] = (mnt / "boot/grub2/grub.cfg").read_text()
                    stick.info["squashfs mtime"] = str((mnt / "LiveOS/squashfs.img").stat().st_mtime_ns)
                finally:
                    sh("umount", str(mnt))
                again = run_tool("livecd-iso-to-disk", "--noverify", "--skipcopy", "--timeout", "0", "--format",
                                 str(self.iso), part)
                stick.info["skipcopy rc"] = str(again.returncode)
                sh("mount", "-o", "ro", part, str(mnt))
                try:
                    stick.files["boot/grub2/grub.cfg"] = (mnt / "boot/grub2/grub.cfg").read_text()
                    stick.info["squashfs mtime again"] = str((mnt / "LiveOS/squashfs.img").stat().st_mtime_ns)
                    stick.info["overlays again"] = " ".join(p.name for p in (mnt / "LiveOS").glob("overlay-*"))
                finally:
                    sh("umount", str(mnt))
            self.done["ext"] = stick
        return self.done["ext"]

    def formatted(self) -> Stick:
        """An image file, upstream's formatting options: --msdos (FAT) --efi (GPT) --noesp --nomac --format 600."""
        if "formatted" not in self.done:
            image = self.tmp / "formatted.raw"
            proc = run_tool("livecd-iso-to-disk", "--noverify", "--format", "600", "--msdos", "--mactel", "--noesp",
                            "--nomac", str(self.iso), str(image))
            table = json.loads(sh("sfdisk", "--json", str(image)))["partitiontable"]
            stick = Stick(proc, info={"table": json.dumps(table)})
            with attached(image) as dev:
                stick.info["type"] = blkid(f"{dev}p2", "TYPE")
                stick.info["label"] = blkid(f"{dev}p2", "LABEL")
            self.done["formatted"] = stick
        return self.done["formatted"]


@pytest.fixture(scope="module")
def runs(toolbox_isos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(toolbox_isos["squashfs"], tmp_path_factory.mktemp("i2d-options"))


# ---- the checks ---------------------------------------------------------------------------------------------

def source_and_target(r: Runs) -> None:
    """ISO: the live ISO's files are on the stick; TARGET: the partition given, an ext4 one here keeping the
    user's file (tests/integration/test_iso_to_disk.py: a FAT one)."""
    assert "::/LiveOS/rootfs.img" in r.fat().listing and "::/images/pxeboot/vmlinuz" in r.fat().listing
    assert "LiveOS/squashfs.img" in r.ext().listing and r.ext().files["notes.txt"] == "mine\n"


def usage(r: Runs) -> None:
    proc = run_tool("livecd-iso-to-disk", "--help")
    for option in (*[o for o in UPSTREAM if o.startswith("--") and o not in GAPS], *ALIASES):  # ELSEWHERE's too
        assert option in proc.stdout, option
    assert "exit status" in proc.stdout


def noverify(r: Runs) -> None:
    """No checkisomd5 run with --noverify (tests/integration/test_iso_to_disk.py: the damaged ISO is refused
    without it)."""
    assert "checkisomd5" not in r.fat().proc.stderr and r.fat().proc.returncode == 0


def format_size_and_msdos(r: Runs) -> None:
    """--format 600 --msdos: a new table, a FAT data partition of 600 MiB labelled LIVE."""
    table = json.loads(r.formatted().info["table"])
    data = table["partitions"][-1]
    assert data["size"] == 600 * 2048 and r.formatted().info["type"] == "vfat"
    assert r.formatted().info["label"] == "LIVE"


def efi_gpt_noesp_nomac(r: Runs) -> None:
    """--efi (--mactel): GPT, with its BIOS boot partition; --noesp: no EFI system partition; --nomac: no HFS+
    (the FAT data partition is a basic data partition)."""
    table = json.loads(r.formatted().info["table"])
    assert table["label"] == "gpt"
    types = [p["type"] for p in table["partitions"]]
    assert types == ["21686148-6449-6E6F-744E-656564454649", "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"], types


def reset_mbr(r: Runs) -> None:
    """--reset-mbr (--resetmbr): GRUB's boot code in the disk's MBR."""
    assert b"GRUB" in bytes.fromhex(r.fat().info["mbr"])[:440]


def skipcopy(r: Runs) -> None:
    """--skipcopy (with --format, which it bypasses as upstream): only the boot configuration is rewritten; the
    live image and the overlay stay, and the new configuration still boots the overlay read-write (read from the
    stick: upstream would need --overlay-size-mb again)."""
    info = r.ext().info
    assert info["skipcopy rc"] == "0"
    assert info["squashfs mtime again"] == info["squashfs mtime"]
    assert info["overlays again"] == f"overlay-MINE-{info['uuid']}"
    cfg = r.ext().files["boot/grub2/grub.cfg"]
    assert "set timeout=0" in cfg
    assert {f"rd.live.overlay=UUID={info['uuid']}", "rw"} <= set(linux_args(cfg)) and "ro" not in linux_args(cfg)


def force(r: Runs) -> None:
    """--force: no question (the FAT run had stdin closed, and an existing image file is overwritten)."""
    assert r.fat().proc.returncode == 0
    image = r.tmp / "old.raw"
    image.write_bytes(b"old data" * 1000)
    proc = run_tool("livecd-iso-to-disk", "--noverify", "--noesp", "--size-mb", "200", str(r.iso), str(image),
                    check=False)
    assert_failed(proc, "exists and is not empty", "--format (or --force)")
    run_tool("livecd-iso-to-disk", "--noverify", "--noesp", "--force", "--size-mb", "200", str(r.iso), str(image))
    assert json.loads(sh("sfdisk", "--json", str(image)))["partitiontable"]["label"] == "dos"


def xo(r: Runs) -> None:
    for flag in ("--xo", "--xo-no-home"):
        proc = run_tool("livecd-iso-to-disk", flag, str(r.iso), "/dev/null", check=False)
        assert proc.returncode == 1 and "OLPC XO" in proc.stderr and "not supported" in proc.stderr


def timeout(r: Runs) -> None:
    """--timeout 55 (tenths of a second): GRUB waits 6 s, as upstream rounds for EFI GRUB."""
    assert "set timeout=6" in r.fat().files["boot/grub2/grub.cfg"]


def totaltimeout_and_nobootmsg(r: Runs) -> None:
    """--totaltimeout: a warning (GRUB has none); --nobootmsg: accepted, the GRUB menu shows no boot.msg."""
    assert "--totaltimeout 100 is not used" in r.fat().proc.stderr
    assert "boot.msg" not in r.fat().files["boot/grub2/grub.cfg"]


def nomenu(r: Runs) -> None:
    assert "set timeout=0" in r.ext().files["first grub.cfg"]


def extra_kernel_args(r: Runs) -> None:
    assert "opt.extra=1" in linux_args(r.fat().files["boot/grub2/grub.cfg"])


def compress(r: Runs) -> None:
    """--compress (the default): the squashfs is copied as it is."""
    assert "LiveOS/squashfs.img" in r.ext().listing and "LiveOS/rootfs.img" not in r.ext().listing


def skipcompress(r: Runs) -> None:
    """--skipcompress: LiveOS/rootfs.img expanded from the squashfs, no squashfs.img."""
    assert "::/LiveOS/rootfs.img" in r.fat().listing and "::/LiveOS/squashfs.img" not in r.fat().listing


def overlay_and_home(r: Runs) -> None:
    """--overlay-size-mb 32, --home-size-mb 16,ext4 (upstream's SIZE,FSTYPE form): the overlay named by the kept
    label and the UUID, booted with rd.live.overlay=UUID=; home.img."""
    info = r.ext().info
    assert f"LiveOS/overlay-MINE-{info['uuid']}" in r.ext().listing and "LiveOS/home.img" in r.ext().listing
    assert f"rd.live.overlay=UUID={info['uuid']}" in linux_args(r.ext().files["first grub.cfg"])


def updates_and_ks(r: Runs) -> None:
    """--updates, --ks: copied to /updates.img and /ks.cfg, named by inst.updates= and inst.ks= on the partition."""
    uuid = r.fat().info["uuid"]
    args = linux_args(r.fat().files["boot/grub2/grub.cfg"])
    assert f"inst.updates=hd:UUID={uuid}:/updates.img" in args and f"inst.ks=hd:UUID={uuid}:/ks.cfg" in args
    assert r.fat().files["updates.img"] == "updates image\n" and r.fat().files["ks.cfg"] == "# a kickstart\n"


def label(r: Runs) -> None:
    """--label relabels the partition; without it a partition keeps its own (ext run: MINE)."""
    assert r.fat().info["label"] == "FATSTICK" and r.ext().info["label"] == "MINE"


EFFECTS: dict[str, Callable[[Runs], None]] = {
    "ISO": source_and_target,
    "TARGET": source_and_target,
    "--help": usage,
    "--noverify": noverify,
    "--format": format_size_and_msdos,
    "--msdos": format_size_and_msdos,
    "--reset-mbr": reset_mbr,
    "--efi": efi_gpt_noesp_nomac,
    "--noesp": efi_gpt_noesp_nomac,
    "--nomac": efi_gpt_noesp_nomac,
    "--skipcopy": skipcopy,
    "--force": force,
    "--xo": xo,
    "--xo-no-home": xo,
    "--timeout": timeout,
    "--totaltimeout": totaltimeout_and_nobootmsg,
    "--nobootmsg": totaltimeout_and_nobootmsg,
    "--nomenu": nomenu,
    "--extra-kernel-args": extra_kernel_args,
    "--compress": compress,
    "--skipcompress": skipcompress,
    "--overlay-size-mb": overlay_and_home,
    "--home-size-mb": overlay_and_home,
    "--updates": updates_and_ks,
    "--ks": updates_and_ks,
    "--label": label,
}


def test_every_upstream_option_is_accounted_for() -> None:
    """Each upstream option is checked here or listed as a gap; our parser takes every checked one and the
    aliases."""
    missing = [o for o in UPSTREAM if o not in EFFECTS and o not in ELSEWHERE and o not in GAPS]
    assert not missing, f"upstream livecd-iso-to-disk options without a check or a listed gap: {missing}"
    taken = set(isotodisk_cli.iso_to_disk_parser()._option_string_actions) | {"ISO", "TARGET"}
    assert [o for o in (*EFFECTS, *ELSEWHERE, *ALIASES) if o not in taken] == []
    assert all(ELSEWHERE.values()), "each option checked elsewhere names its tests"


@pytest.mark.parametrize("option", list(EFFECTS))
def test_option_effect(option: str, runs: Runs) -> None:
    EFFECTS[option](runs)


@pytest.mark.parametrize("option", list(GAPS) or [pytest.param("none", marks=pytest.mark.skip("no gap left"))])
def test_gap(option: str) -> None:
    """Not done here: shown as an expected failure with its reason in every run's summary."""
    pytest.xfail(GAPS[option])
