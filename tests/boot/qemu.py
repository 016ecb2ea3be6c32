"""Boot a live ISO in QEMU and wait for the test distribution's marker on the serial console.

Used by the boot tests and by the README's demo (``python -m tests.boot.qemu ISO --mode bios``).  TCG is the
default because KVM guests crash on the CI machines; set LIVECD_TOOLS_QEMU_ACCEL=kvm where KVM works.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from imgcreate.boot import boottest, machines

MARKER = "LIVECD-TOOLS-BOOT-OK"
CHECK = "LIVECD-TOOLS-CHECK "
CMDLINE = "LIVECD-TOOLS-CMDLINE "
OVMF_CODE = boottest.OVMF_CODE
OVMF_VARS = boottest.OVMF_VARS


@dataclasses.dataclass
class BootResult(boottest.BootResult):
    """The library's result (ok, log, seconds, the marker line), and what the test distribution reported."""

    def checks(self) -> dict[str, str]:
        """What the live system's check script reported (``LIVECD-TOOLS-CHECK key: value``), and its cmdline."""
        found: dict[str, str] = {}
        for line in self.log.splitlines():
            line = line.strip()
            if line.startswith(CMDLINE):
                found["cmdline"] = line[len(CMDLINE):].strip()
            elif line.startswith(CHECK):
                key, _, value = line[len(CHECK):].partition(": ")
                found[key] = value.strip()
        return found


def reported_mounts(log: str) -> dict[str, tuple[str, str, str]]:
    """mountpoint -> (device, fstype, rw|ro) from the booted system's ``LIVECD-TOOLS-CHECK mount:`` lines (a
    boot's log, or the serial log a ``--boot-test`` kept)."""
    found = {}
    for line in log.splitlines():
        if "LIVECD-TOOLS-CHECK mount: " in line:
            device, mountpoint, fstype, mode = line.split("LIVECD-TOOLS-CHECK mount: ", 1)[1].split()[:4]
            found[mountpoint] = (device, fstype, mode)
    return found


def _media(image: Path, mode: str) -> list[str]:
    """QEMU's drive for *image* in boot *mode*."""
    if mode in ("bios", "uefi"):
        return boottest.cdrom_media(image)
    if mode == "usb":
        return ["-drive", f"file={image},format=raw,if=virtio,readonly=on"]
    if mode in ("disk-bios", "disk-uefi"):
        return boottest.disk_media(image)
    raise ValueError(f"unknown boot mode {mode}")


def boot(iso: Path, mode: str = "bios", timeout: float = 300, marker: str = MARKER, memory: int = 2048,
         arch: str | None = None) -> BootResult:
    """Boot *iso* as a CD (mode "bios" or "uefi") or as a USB disk ("usb": the hybrid image on a virtio disk);
    or a disk image (modes "disk-bios", "disk-uefi": raw or qcow2 by its suffix, on a virtio disk, its writes
    going to a throw-away overlay).

    2 GiB of memory: the live system's writes go to an overlay in RAM (half of it), and its checks write 512 MiB.
    *arch*: the image's architecture (None: this machine's), which picks QEMU, its board and firmware.
    """
    media = machines.for_arch(arch).cdrom(iso) if mode in ("bios", "uefi") else _media(iso, mode)
    return run_qemu(media, uefi=mode in ("uefi", "disk-uefi"), timeout=timeout, marker=marker, memory=memory,
                    arch=arch)


def run_qemu(media: Sequence[str], uefi: bool = False, timeout: float = 300, marker: str = MARKER,
             memory: int = 2048, wait_exit: bool = False, arch: str | None = None) -> BootResult:
    """Run QEMU (TCG unless LIVECD_TOOLS_QEMU_ACCEL says otherwise) with *media* (drive, netdev or -kernel
    arguments), on OVMF with *uefi*, until *marker* is on the serial console; with *wait_exit*, until the guest
    has powered off too (so what it wrote to a disk is complete), else it is killed at the marker.  The
    library's runner (:func:`imgcreate.boot.boottest.run_guest`) does the work."""
    result = boottest.run_guest(media, uefi=uefi, expect=re.escape(marker), timeout=timeout, memory=memory,
                                wait_exit=wait_exit, arch=arch)
    return BootResult(**dataclasses.asdict(result))


def main() -> int:
    parser = argparse.ArgumentParser(description="Boot a live ISO in QEMU and wait for the boot marker.")
    parser.add_argument("iso", type=Path)
    parser.add_argument("--mode", choices=("bios", "uefi", "usb", "disk-bios", "disk-uefi"), default="bios")
    parser.add_argument("--timeout", type=float, default=300)
    opts = parser.parse_args()
    print(f"booting {opts.iso} ({opts.mode}, {os.environ.get('LIVECD_TOOLS_QEMU_ACCEL', 'tcg')}) ...", flush=True)
    result = boot(opts.iso, opts.mode, opts.timeout)
    if result.ok:
        for key, value in result.checks().items():
            print(f"  {key}: {value}")
        print(f"booted in {result.seconds:.0f} s: {result.line.strip()}")
        return 0
    print(f"did not boot within {opts.timeout:.0f} s; the serial console said:\n{result.tail()}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
