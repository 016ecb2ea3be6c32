"""The virtual machine a boot test runs an image's architecture on: QEMU's program, board, UEFI firmware, console.

Why a table: an x86_64 image boots in ``qemu-system-x86_64`` (SeaBIOS or OVMF, a CD on IDE, ``ttyS0``), an
aarch64 one in ``qemu-system-aarch64 -machine virt -cpu cortex-a57`` on the AAVMF/QEMU_EFI firmware (UEFI only,
no IDE bus: a CD on virtio-scsi, the console on the PL011 ``ttyAMA0``).  Everything that differs is here, looked
up by the image's architecture; the boot test's runner is the same for all.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from imgcreate.errors import MissingToolError


@dataclass(frozen=True)
class Machine:
    """One architecture's QEMU machine.  *firmware*: (code, variables template) pairs, the first found is used;
    *board*: QEMU's arguments choosing the machine and CPU; *console*: the kernel's name of its serial port."""

    arch: str
    qemu: str
    qemu_packages: str
    firmware: tuple[tuple[str, str], ...]
    firmware_packages: str
    firmware_name: str
    board: tuple[str, ...] = ()
    console: str = "ttyS0"
    bios: bool = True  # also boots without UEFI firmware (SeaBIOS)
    ide: bool = True  # has an IDE bus for a CD

    def find_qemu(self) -> str:
        """QEMU's path, or MissingToolError naming its package."""
        path = shutil.which(self.qemu)
        if path is None:
            raise MissingToolError(self.qemu, self.qemu_packages)
        return path

    def find_firmware(self) -> tuple[str, str]:
        """The UEFI firmware's code and variables template, or MissingToolError naming the package."""
        for code, variables in self.firmware:
            if os.path.exists(code) and os.path.exists(variables):
                return code, variables
        raise MissingToolError(
            f"{self.firmware_name} (UEFI firmware for QEMU: {self.firmware[0][0]} or {self.firmware[-1][0]})",
            self.firmware_packages)

    def cdrom(self, iso: Path) -> list[str]:
        """An ISO as a CD the firmware boots from: on IDE where the board has it, else on virtio-scsi."""
        if self.ide:
            return ["-drive", f"file={iso},format=raw,media=cdrom,readonly=on,if=ide"]
        return ["-device", "virtio-scsi-pci,id=scsi0",
                "-drive", f"file={iso},format=raw,media=cdrom,readonly=on,if=none,id=cd0",
                "-device", "scsi-cd,drive=cd0,bus=scsi0.0"]


X86_64 = Machine(
    arch="x86_64", qemu="qemu-system-x86_64",
    qemu_packages=("'apt-get install qemu-system-x86' (Debian/Ubuntu) or 'dnf install qemu-system-x86-core' "
                   "(Fedora; qemu-kvm on EL)"),
    firmware=(("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
              ("/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"),
              ("/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd")),
    firmware_packages="'apt-get install ovmf' (Debian/Ubuntu) or 'dnf install edk2-ovmf' (Fedora/EL)",
    firmware_name="OVMF")

AARCH64 = Machine(
    arch="aarch64", qemu="qemu-system-aarch64",
    qemu_packages="'apt-get install qemu-system-arm' (Debian/Ubuntu) or 'dnf install qemu-system-aarch64' (Fedora/EL)",
    # Debian's AAVMF (64 MiB flash images, what -machine virt takes), Fedora's edk2-aarch64.
    firmware=(("/usr/share/AAVMF/AAVMF_CODE.fd", "/usr/share/AAVMF/AAVMF_VARS.fd"),
              ("/usr/share/edk2/aarch64/QEMU_EFI-pflash.raw", "/usr/share/edk2/aarch64/vars-template-pflash.raw")),
    firmware_packages="'apt-get install qemu-efi-aarch64' (Debian/Ubuntu) or 'dnf install edk2-aarch64' (Fedora/EL)",
    firmware_name="AAVMF",
    board=("-machine", "virt", "-cpu", "cortex-a57"), console="ttyAMA0", bios=False, ide=False)

MACHINES = {m.arch: m for m in (X86_64, AARCH64)}


def for_arch(arch: str | None = None) -> Machine:
    """The machine for *arch* (rpm's name; None: this machine's); i686 images boot on x86_64's."""
    arch = arch or os.uname().machine
    if arch in ("i386", "i486", "i586", "i686"):
        arch = "x86_64"
    if arch not in MACHINES:
        raise MissingToolError(f"qemu-system-{arch}", f"a QEMU for {arch} (the boot test knows "
                                                      f"{', '.join(sorted(MACHINES))})")
    return MACHINES[arch]
