"""Boot a live ISO in QEMU and wait for the test distribution's marker on the serial console.

Used by the boot tests and by the README's demo (``python -m tests.boot.qemu ISO --mode bios``).  TCG is the
default because KVM guests crash on the CI machines; set LIVECD_TOOLS_QEMU_ACCEL=kvm where KVM works.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MARKER = "LIVECD-TOOLS-BOOT-OK"
CHECK = "LIVECD-TOOLS-CHECK "
CMDLINE = "LIVECD-TOOLS-CMDLINE "
OVMF_CODE = ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_CODE.fd")
OVMF_VARS = ("/usr/share/OVMF/OVMF_VARS_4M.fd", "/usr/share/OVMF/OVMF_VARS.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd")


@dataclass
class BootResult:
    ok: bool
    log: str
    seconds: float
    line: str  # the marker line, if seen

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.log.splitlines()[-n:])

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


def _first(paths: tuple[str, ...]) -> str:
    for p in paths:
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"none of {', '.join(paths)} exists: install the 'ovmf' package (edk2-ovmf on Fedora)")


def _media(image: Path, mode: str) -> list[str]:
    """QEMU's drive for *image* in boot *mode*."""
    if mode in ("bios", "uefi"):
        return ["-drive", f"file={image},media=cdrom,readonly=on,if=ide"]
    if mode == "usb":
        return ["-drive", f"file={image},format=raw,if=virtio,readonly=on"]
    if mode in ("disk-bios", "disk-uefi"):
        fmt = "qcow2" if image.suffix == ".qcow2" else "raw"
        return ["-drive", f"file={image},format={fmt},if=virtio,snapshot=on"]
    raise ValueError(f"unknown boot mode {mode}")


def boot(iso: Path, mode: str = "bios", timeout: float = 300, marker: str = MARKER, memory: int = 2048) -> BootResult:
    """Boot *iso* as a CD (mode "bios" or "uefi") or as a USB disk ("usb": the hybrid image on a virtio disk);
    or a disk image (modes "disk-bios", "disk-uefi": raw or qcow2 by its suffix, on a virtio disk, its writes
    going to a throw-away overlay).

    2 GiB of memory: the live system's writes go to an overlay in RAM (half of it), and its checks write 512 MiB.
    """
    return run_qemu(_media(iso, mode), uefi=mode in ("uefi", "disk-uefi"), timeout=timeout, marker=marker,
                    memory=memory)


def run_qemu(media: Sequence[str], uefi: bool = False, timeout: float = 300, marker: str = MARKER,
             memory: int = 2048, wait_exit: bool = False) -> BootResult:
    """Run QEMU (TCG unless LIVECD_TOOLS_QEMU_ACCEL says otherwise) with *media* (drive, netdev or -kernel
    arguments), on OVMF with *uefi*, until *marker* is on the serial console; with *wait_exit*, until the guest
    has powered off too (so what it wrote to a disk is complete), else it is killed at the marker."""
    accel = os.environ.get("LIVECD_TOOLS_QEMU_ACCEL", "tcg")
    with tempfile.TemporaryDirectory(prefix="livecd-qemu-") as tmp:
        serial = Path(tmp) / "serial.log"
        args = [shutil.which("qemu-system-x86_64") or "qemu-system-x86_64", "-accel", accel, "-m", str(memory),
                "-display", "none", "-monitor", "none", "-serial", f"file:{serial}", "-no-reboot", *media]
        if uefi:
            vars_copy = Path(tmp) / "OVMF_VARS.fd"
            shutil.copyfile(_first(OVMF_VARS), vars_copy)
            args += ["-drive", f"if=pflash,format=raw,readonly=on,file={_first(OVMF_CODE)}",
                     "-drive", f"if=pflash,format=raw,file={vars_copy}"]
        start = time.monotonic()
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        line = ""
        try:
            line = _wait(proc, serial, marker, start + timeout, wait_exit)
        finally:
            if proc.poll() is None:
                proc.kill()
            out, _ = proc.communicate()
        text = serial.read_text(errors="replace") if serial.exists() else ""
        if not line:
            found = [ln for ln in text.splitlines() if marker in ln]
            line = found[0] if found else ""
        if out:
            text += "\n[qemu] " + out.decode(errors="replace")
        return BootResult(bool(line), text, time.monotonic() - start, line)


def _wait(proc: subprocess.Popen[bytes], serial: Path, marker: str, deadline: float, wait_exit: bool) -> str:
    line = ""
    while time.monotonic() < deadline:
        if not line:
            text = serial.read_text(errors="replace") if serial.exists() else ""
            found = [ln for ln in text.splitlines() if marker in ln]
            line = found[0] if found else ""
        if (line and not wait_exit) or proc.poll() is not None:
            break
        time.sleep(0.5)
    return line


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
