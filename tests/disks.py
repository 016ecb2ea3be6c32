"""Disk images for the tests: kickstarts, building with appliance-creator, reading partitions back."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests import kickstarts
from tests.support import run_tool

BOOT_APPEND = "console=ttyS0,115200 rd.shell=0 rd.emergency=poweroff livecheck.write_mib=16"

GPT_KS = kickstarts.kickstart(
    kickstarts.clearpart("gpt"), "zerombr", "part biosboot --fstype=biosboot --size=1",
    "part /boot/efi --fstype=efi --size=64", "part /boot --fstype=ext4 --size=200 --label=BOOT",
    "part / --fstype=ext4 --size=400 --grow --label=ROOT", "part swap --size=64",
    repo=kickstarts.repo_line("t"), bootloader='--timeout=1 --append="{append}"')

# Written as for upstream's appliance-creator: no clearpart --disklabel (msdos is the default, as upstream's),
# BIOS boot through GRUB after the MBR.
MSDOS_KS = kickstarts.kickstart(
    "part /boot --fstype=ext4 --size=200",
    "part / --fstype=xfs --size=500 --label=XROOT", repo=kickstarts.repo_line("t"),
    bootloader='--timeout=1 --append="{append}"')

# An aarch64 disk (--forcearch aarch64, the aarch64 test distribution): GPT with an ESP and no biosboot (UEFI
# only); %post and post-demo's scriptlet run through qemu-user and leave what they saw.
AARCH64_KS = kickstarts.kickstart(
    kickstarts.clearpart("gpt"), "zerombr", "part /boot/efi --fstype=efi --size=64",
    "part / --fstype=ext4 --size=300 --label=AROOT", repo=kickstarts.repo_line("t"),
    bootloader='--timeout=1 --append="{append}"', packages=("@core", "kernel", "post-demo"),
    post="uname -m > /etc/post-uname")
AARCH64_APPEND = "console=ttyAMA0 livecheck.write_mib=16"
AARCH64_ARGS = ("--forcearch", "aarch64", "--no-compress")
# The aarch64 live ISO: the same packages, lz4 (fast to make and to read under emulation).
AARCH64_LIVE_KS = kickstarts.kickstart(
    "part / --size 200", repo=kickstarts.repo_line("t"), bootloader='--timeout=1 --append="{append}"',
    packages=("@core", "kernel", "post-demo"), post="uname -m > /etc/post-uname")
AARCH64_LIVE_ARGS = ("--forcearch", "aarch64", "--compression-type", "lz4")

EPOCH = "1700000000"  # SOURCE_DATE_EPOCH of the reproducible disks (gpt_disk is one)
GPT_ARGS = ("--no-compress", "--disk-size", "1200", "--checksum", "--manifest", "--vmem", "768", "--vcpu", "2",
            "--version", "1.2", "--release", "3")

GPT_TYPES = {"biosboot": "21686148-6449-6E6F-744E-656564454649", "esp": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
             "linux": "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "swap": "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"}


@dataclass
class Disk:
    out: Path
    proc: subprocess.CompletedProcess[str]

    def file(self, suffix: str) -> Path:
        (found,) = [p for p in self.out.iterdir() if p.name.endswith(suffix)]
        return found


# appliance-creator boots the msdos disk itself (``--boot-test``) with its three tuning options set to values the
# boot test reads back: a pattern the default would never meet (this init prints no login prompt), a timeout and
# the guest's memory.
MSDOS_BOOT_TEST_EXPECT = r"LIVECD-TOOLS-BOOT-OK root=/dev/vda\d fstype=xfs"
MSDOS_BOOT_TEST_TIMEOUT = "420"
MSDOS_BOOT_TEST_MEMORY = "768"
MSDOS_ARGS = ("-f", "qcow2", "--boot-test", "--boot-test-expect", MSDOS_BOOT_TEST_EXPECT, "--boot-test-timeout",
              MSDOS_BOOT_TEST_TIMEOUT, "--boot-test-memory", MSDOS_BOOT_TEST_MEMORY)


def build_disk(tmp: Path, name: str, ks_text: str, *args: str, env: dict[str, str] | None = None,
               prefix: Sequence[str] = ()) -> Disk:
    tmp.mkdir(parents=True, exist_ok=True)
    ks = tmp / f"{name}.ks"
    ks.write_text(ks_text)
    out = tmp / "out"
    proc = run_tool("appliance-creator", "-c", str(ks), "-n", name, "-o", str(out), "-t", str(tmp), *args,
                    env=env, prefix=prefix)
    return Disk(out / name, proc)  # upstream's OUTDIR/NAME/ (-p none)


def sfdisk(image: Path) -> dict[str, object]:
    out = subprocess.run(["sfdisk", "--json", str(image)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["partitiontable"]  # type: ignore[no-any-return]


@contextlib.contextmanager
def attached(image: Path, read_only: bool = True) -> Iterator[str]:
    """The disk on a loop device with its partitions (partx where the kernel does not scan them), read-only
    unless asked."""
    mode = ["--read-only"] if read_only else []
    dev = subprocess.run(["losetup", "--find", "--show", *mode, "--partscan", str(image)],
                         capture_output=True, text=True, check=True).stdout.strip()
    try:
        if not Path(f"{dev}p1").exists():
            subprocess.run(["partx", "--add", dev], check=True, capture_output=True)
        yield dev
    finally:
        subprocess.run(["losetup", "--detach", dev], check=True)


def blkid(dev: str, tag: str) -> str:
    return subprocess.run(["blkid", "-p", "-s", tag, "-o", "value", dev], capture_output=True, text=True).stdout.strip()


def debugfs(dev: str, request: str) -> str:
    return subprocess.run(["debugfs", "-R", request, dev], capture_output=True, text=True).stdout


