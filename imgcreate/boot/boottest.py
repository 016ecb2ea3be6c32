"""Boot a finished image in QEMU and wait for a pattern on its serial console (``--boot-test``).

livecd-creator boots its ISO as a CD (BIOS, and UEFI when the ISO has an EFI El Torito entry); appliance-creator
boots its disk on a virtio drive (BIOS when GRUB was installed for it: an msdos disk or a biosboot partition;
UEFI when it has an ESP) with a throw-away snapshot, so the delivered image is never written.  The serial
console goes to ``<name>.boot-<firmware>.log`` beside the image; the boot passes when the pattern appears there,
and fails when the guest stops or the deadline passes first.  The image stays in the output folder either way.

QEMU runs with TCG unless ``LIVECD_TOOLS_QEMU_ACCEL`` says otherwise (``kvm`` where KVM guests work: much
faster, but KVM guests crash on some hosts, so it is never chosen by itself).  A guest is always killed on
timeout, Ctrl-C or a signal; with ``PR_SET_PDEATHSIG`` also if this process dies, so no QEMU is left behind.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgcreate.boot import machines
from imgcreate.boot.machines import Machine
from imgcreate.build.artifacts import Artifact, ArtifactKind, Firmware
from imgcreate.debug import PROGRESS
from imgcreate.errors import CreatorError, MissingToolError

log = logging.getLogger("imgcreate")

QEMU = machines.X86_64.qemu
QEMU_PACKAGES = machines.X86_64.qemu_packages
OVMF_CODE = tuple(code for code, _ in machines.X86_64.firmware)
OVMF_VARS = tuple(variables for _, variables in machines.X86_64.firmware)
OVMF_PACKAGES = machines.X86_64.firmware_packages
ACCEL_ENV = "LIVECD_TOOLS_QEMU_ACCEL"

# A login prompt (a getty on the serial console) or systemd reaching the system's final target; "Reached target"
# alone would also match the initramfs's targets, before the root is even mounted.
DEFAULT_EXPECT = r"login:|Reached target.*(Multi-User System|Graphical Interface)"
DEFAULT_TIMEOUT = 600.0  # seconds: a TCG boot of a full distribution is slow
DEFAULT_MEMORY = 2048  # MiB: a live system keeps its writes in RAM
FIRMWARES = Firmware.names()

_ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[=>78c])")


@dataclass
class BootResult:
    """One guest run: *ok* when the pattern appeared (*line*: the first line holding it), the serial console's
    text (QEMU's own output after ``[qemu]``), how long it ran, and whether QEMU stopped by itself (the guest
    powered off or rebooted, or QEMU failed) rather than being killed (at the match or the deadline)."""

    ok: bool
    log: str
    seconds: float
    line: str
    exited: bool = False
    returncode: int | None = None

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.log.splitlines()[-n:])


# -- pure logic ---------------------------------------------------------------------------------------------------

def expect_pattern(text: str) -> re.Pattern[str]:
    """*text* as a regular expression (``--boot-test-expect``); argparse reports a bad one as a usage error."""
    try:
        return re.compile(text, re.MULTILINE)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"not a regular expression: {text!r} ({exc})") from exc


def clean_console(text: str) -> str:
    """Serial console text as lines: no carriage returns, no terminal escape sequences (systemd's colours)."""
    return _ANSI.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def find_match(pattern: re.Pattern[str] | str, text: str, start: int = 0) -> str | None:
    """The line of *text* (from *start*) where *pattern* first matches, or None.  The last line counts even
    without its newline: a login prompt waits on it."""
    pattern = re.compile(pattern, re.MULTILINE) if isinstance(pattern, str) else pattern
    found = pattern.search(text, start)
    if found is None:
        return None
    begin = text.rfind("\n", 0, found.start()) + 1
    end = text.find("\n", found.end())
    return text[begin:] if end < 0 else text[begin:end]


def choose_accel(wanted: str | None, kvm_usable: bool) -> str:
    """QEMU's accelerator: TCG unless *wanted* (``$LIVECD_TOOLS_QEMU_ACCEL``) names another; ``kvm`` only
    where /dev/kvm is usable (else TCG, with a warning)."""
    wanted = (wanted or "").strip() or "tcg"
    if wanted == "kvm" and not kvm_usable:
        log.warning("%s=kvm, but /dev/kvm is not usable here: booting with TCG", ACCEL_ENV)
        return "tcg"
    return wanted


def kvm_usable() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def accel_from_env(env: Mapping[str, str] | None = None) -> str:
    return choose_accel((os.environ if env is None else env).get(ACCEL_ENV), kvm_usable())


def qemu_command(qemu: str, media: Sequence[str], *, serial: Path, accel: str = "tcg", memory: int = DEFAULT_MEMORY,
                 ovmf: tuple[str, str] | None = None, board: Sequence[str] = ()) -> list[str]:
    """QEMU's command line: *board* (the machine and CPU, :mod:`imgcreate.boot.machines`), *media* (drive,
    netdev or -kernel arguments), the serial console into the file *serial*, no display, no monitor, no reboot
    (a reboot ends the run); on the UEFI firmware (code, a copy of the variables) when *ovmf* is given, else
    SeaBIOS."""
    args = [qemu, *board, "-accel", accel, "-m", str(memory), "-display", "none", "-monitor", "none",
            "-serial", f"file:{serial}", "-no-reboot", *media]
    if ovmf is not None:
        code, variables = ovmf
        args += ["-drive", f"if=pflash,format=raw,readonly=on,file={code}",
                 "-drive", f"if=pflash,format=raw,file={variables}"]
    return args


def cdrom_media(iso: Path) -> list[str]:
    """An ISO as a CD on the IDE bus (what BIOS and OVMF boot from without a -boot option)."""
    return ["-drive", f"file={iso},format=raw,media=cdrom,readonly=on,if=ide"]


def disk_media(disk: Path, disk_format: str | None = None) -> list[str]:
    """A disk image on a virtio drive whose writes go to a throw-away snapshot (the file is never written);
    its format as the creator says, else from the suffix (qcow2, vmdk, vdi; raw otherwise)."""
    fmt = disk_format or {".qcow2": "qcow2", ".vmdk": "vmdk", ".vdi": "vdi"}.get(disk.suffix, "raw")
    return ["-drive", f"file={disk},format={fmt},if=virtio,snapshot=on"]


def el_torito_platforms(catalog: bytes) -> set[int]:
    """The platform ids (0 x86 BIOS, 0xEF EFI) of the bootable entries of an El Torito boot catalog."""
    if len(catalog) < 64 or catalog[0] != 1 or catalog[30:32] != b"\x55\xaa":
        return set()
    platforms = {catalog[1]} if catalog[32] == 0x88 else set()
    platform, offset = catalog[1], 64
    final = False
    while offset + 32 <= len(catalog):
        entry = catalog[offset:offset + 32]
        offset += 32
        if entry[0] in (0x90, 0x91):  # section header: the platform of the entries after it
            platform, final = entry[1], entry[0] == 0x91
        elif entry[0] == 0x88:
            platforms.add(platform)
        elif entry[0] == 0 and final:
            break
    return platforms


def iso_firmwares(iso: Path) -> tuple[Firmware, ...]:
    """How an ISO boots as a CD, from its El Torito boot catalog (an ISO no creator of ours described)."""
    with open(iso, "rb") as f:
        f.seek(17 * 2048)
        record = f.read(2048)
        if record[:7] != b"\x00CD001\x01" or not record[7:39].startswith(b"EL TORITO SPECIFICATION"):
            return ()
        f.seek(int.from_bytes(record[0x47:0x4B], "little") * 2048)
        platforms = el_torito_platforms(f.read(2048))
    return tuple(fw for fw, pid in ((Firmware.BIOS, 0), (Firmware.UEFI, 0xEF)) if pid in platforms)


# -- running QEMU -------------------------------------------------------------------------------------------------

def find_qemu(arch: str | None = None) -> str:
    """The QEMU for *arch*'s images (None: this machine's; qemu-system-x86_64, qemu-system-aarch64), or
    MissingToolError naming its package."""
    machine = machines.for_arch(arch)
    if machine is not machines.X86_64:
        return machine.find_qemu()
    path = shutil.which(QEMU)
    if path is None:
        raise MissingToolError(QEMU, QEMU_PACKAGES)
    return path


def find_firmware(machine: Machine) -> tuple[str, str]:
    """The UEFI firmware of *machine* (OVMF for x86_64, AAVMF for aarch64), or MissingToolError naming it."""
    return find_ovmf() if machine is machines.X86_64 else machine.find_firmware()


def find_ovmf() -> tuple[str, str]:
    """OVMF's code and variables template (Debian's 4M build first, then Fedora's), or a CreatorError naming
    the package."""
    for code, variables in zip(OVMF_CODE, OVMF_VARS):
        if os.path.exists(code) and os.path.exists(variables):
            return code, variables
    raise MissingToolError(f"OVMF (UEFI firmware for QEMU: {OVMF_CODE[0]} or {OVMF_CODE[-1]})", OVMF_PACKAGES)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when this process dies (it is in a session of its own: Ctrl-C reaches
    only us, and we kill it)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


def run_guest(media: Sequence[str], *, uefi: bool = False, expect: re.Pattern[str] | str = DEFAULT_EXPECT,
              timeout: float = DEFAULT_TIMEOUT, memory: int = DEFAULT_MEMORY, serial_log: Path | None = None,
              wait_exit: bool = False, accel: str | None = None, tmpdir: str | None = None,
              arch: str | None = None) -> BootResult:
    """Run QEMU with *media* (on OVMF with *uefi*) until *expect* appears on the serial console (then kill it;
    with *wait_exit* wait for the guest to power off, so what it wrote is complete), QEMU stops, or *timeout*
    seconds pass.  The serial console is written to *serial_log* (kept) or a temporary file.  QEMU never
    outlives this call: it is killed on timeout, Ctrl-C or a signal's exception.  *arch*: the image's
    architecture, which picks QEMU, its board and firmware (None: this machine's)."""
    pattern = re.compile(expect, re.MULTILINE) if isinstance(expect, str) else expect
    machine = machines.for_arch(arch)
    qemu = find_qemu(arch)
    ovmf = find_firmware(machine) if uefi or not machine.bios else None
    with tempfile.TemporaryDirectory(prefix="boottest-", dir=tmpdir) as tmp:
        serial = serial_log or Path(tmp) / "serial.log"
        serial.unlink(missing_ok=True)
        vars_copy = None
        if ovmf is not None:
            vars_copy = Path(tmp) / "OVMF_VARS.fd"
            shutil.copyfile(ovmf[1], vars_copy)
        args = qemu_command(qemu, media, serial=serial, accel=accel or accel_from_env(), memory=memory,
                            ovmf=(ovmf[0], str(vars_copy)) if ovmf else None, board=machine.board)
        log.debug("running: %s", shlex.join(args))
        start = time.monotonic()
        with open(Path(tmp) / "qemu.out", "w+b") as out:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=_die_with_parent)
            try:
                line = _wait(proc, serial, pattern, start + timeout, wait_exit)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
            out.seek(0)
            qemu_out = out.read().decode(errors="replace")
        seconds = time.monotonic() - start
        exited = proc.returncode is not None and proc.returncode >= 0
        text = clean_console(serial.read_text(errors="replace")) if serial.exists() else ""
        if line is None:  # the last lines written before QEMU stopped
            line = find_match(pattern, text)
        if qemu_out:
            text += "\n[qemu] " + qemu_out
        if serial_log is not None:
            with open(serial_log, "a") as f:
                f.write(f"\n[livecd-tools] {shlex.join(args)}\n[livecd-tools] "
                        f"{'QEMU exited with status ' + str(proc.returncode) if exited else 'QEMU was stopped'} "
                        f"after {seconds:.0f} s; {'matched' if line is not None else 'no match for'} "
                        f"{pattern.pattern!r}\n" + (f"[qemu] {qemu_out}" if qemu_out else ""))
        return BootResult(line is not None, text, seconds, line or "", exited, proc.returncode)


def _wait(proc: subprocess.Popen[bytes], serial: Path, pattern: re.Pattern[str], deadline: float,
          wait_exit: bool) -> str | None:
    line = None
    searched = 0  # where the last incomplete line begins: text before it was searched already
    while time.monotonic() < deadline:
        if line is None and serial.exists():
            text = clean_console(serial.read_text(errors="replace"))
            line = find_match(pattern, text, searched)
            searched = text.rfind("\n") + 1
        if (line is not None and not wait_exit) or proc.poll() is not None:
            break
        time.sleep(0.5)
    return line


# -- the tools' --boot-test ---------------------------------------------------------------------------------------

def add_options(parser: argparse.ArgumentParser) -> None:
    """--boot-test and its settings, in a group of their own (livecd-creator, appliance-creator)."""
    group = parser.add_argument_group("Boot test options")
    group.add_argument("--boot-test", action="store_true",
                       help="after the build, boot the image in QEMU (the ISO as a CD, a disk on a virtio drive "
                            "with a throw-away snapshot; BIOS and UEFI as it supports them) and fail unless "
                            "--boot-test-expect appears on the serial console (the kernel command line needs "
                            "console=ttyS0); its log is kept as <name>.boot-<firmware>.log beside the image, and "
                            f"a failed boot exits with 1, keeping the image. QEMU uses TCG unless ${ACCEL_ENV}=kvm")
    group.add_argument("--boot-test-expect", type=expect_pattern, default=DEFAULT_EXPECT, metavar="REGEX",
                       help=f"what the booted system prints on the serial console when it is up "
                            f"(default {DEFAULT_EXPECT.replace('%', '%%')!r})")
    group.add_argument("--boot-test-timeout", type=_positive(float), default=DEFAULT_TIMEOUT, metavar="SECONDS",
                       help=f"how long each boot may take (default {DEFAULT_TIMEOUT:.0f})")
    group.add_argument("--boot-test-memory", type=_positive(int), default=DEFAULT_MEMORY, metavar="MIB",
                       help=f"memory of the virtual machine (default {DEFAULT_MEMORY} MiB)")


def _positive(kind: type[float] | type[int]) -> Any:
    def convert(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
        return value

    convert.__name__ = kind.__name__
    return convert


@dataclass(frozen=True)
class BootTest:
    """A tool's --boot-test: built from its options before the build (checking that QEMU is installed), run
    on what the build delivered."""

    expect: re.Pattern[str] = dataclasses.field(default_factory=lambda: expect_pattern(DEFAULT_EXPECT))
    timeout: float = DEFAULT_TIMEOUT
    memory: int = DEFAULT_MEMORY
    tmpdir: str | None = None

    @classmethod
    def from_options(cls, opts: argparse.Namespace) -> BootTest | None:
        """None without --boot-test; otherwise QEMU must be installed (checked now, before a build)."""
        if not getattr(opts, "boot_test", False):
            return None
        test = cls(opts.boot_test_expect, opts.boot_test_timeout, opts.boot_test_memory, opts.tmpdir)
        test.check_host(getattr(opts, "forcearch", None))
        return test

    def check_host(self, arch: str | None = None) -> None:
        """QEMU for *arch* (None: this machine's) must be installed: checked before a build
        (``ImageCreator.check_host_tools``), so a missing emulator does not show only after an hour's build."""
        try:
            find_qemu(arch)
        except MissingToolError as exc:
            exc.args = (f"--boot-test boots the image in QEMU. {exc}",)
            raise

    def run(self, artifacts: Sequence[Artifact], name: str) -> list[BootResult]:
        """Boot the first live ISO or disk a build delivered (``ImageCreator.artifacts``), on each firmware its
        creator installed a boot loader for."""
        image = next((a for a in artifacts if a.kind in (ArtifactKind.LIVE_ISO, ArtifactKind.DISK)), None)
        if image is None:
            raise CreatorError("--boot-test: the build delivered nothing bootable (a live ISO or a disk image).")
        return self.boot(image.path, image.firmwares, name=name, disk_format=image.disk_format,
                         arch=image.arch or None)

    def boot(self, image: Path, firmwares: Sequence[Firmware], name: str,
             disk_format: str | None = None, arch: str | None = None) -> list[BootResult]:
        """Boot *image* (an ISO, or a disk: raw, qcow2, vmdk, vdi, possibly .xz/.zst) on each of *firmwares*,
        in the QEMU of its architecture *arch* (None: this machine's); the serial logs go beside it as
        ``<name>.boot-<firmware>.log``.  A failure raises BootTestError."""
        machine = machines.for_arch(arch)
        if not firmwares:
            raise BootTestError(f"--boot-test: {image} has no boot loader for BIOS or UEFI, so there is nothing "
                                f"to boot; the image is in {image.parent}.")
        if Firmware.UEFI in firmwares:
            find_firmware(machine)
        for firmware in FIRMWARES:  # an earlier build's logs would tell of another image
            (image.parent / f"{name}.boot-{firmware}.log").unlink(missing_ok=True)
        accel = accel_from_env()
        results = []
        with tempfile.TemporaryDirectory(prefix="boottest-", dir=self.tmpdir) as tmp:
            media = (machine.cdrom(image) if image.suffix == ".iso"
                     else disk_media(_uncompressed(image, Path(tmp)), disk_format))
            for firmware in firmwares:
                serial_log = image.parent / f"{name}.boot-{firmware}.log"
                log.log(PROGRESS, "Boot test: %s on %s in QEMU (%s, %d MiB), up to %.0f s for %r", image.name,
                        firmware.display, accel.upper(), self.memory, self.timeout, self.expect.pattern)
                result = run_guest(media, uefi=firmware is Firmware.UEFI, expect=self.expect, timeout=self.timeout,
                                   memory=self.memory, serial_log=serial_log, accel=accel, tmpdir=tmp,
                                   arch=machine.arch)
                if not result.ok:
                    raise BootTestError(failure_message(image, firmware, result, self, serial_log, accel,
                                                        machine.console))
                log.log(PROGRESS, "Boot test passed on %s in %.0f s: %s", firmware.display,
                        result.seconds, result.line.strip())
                results.append(result)
        return results


class BootTestError(CreatorError):
    """The built image did not boot to the expected pattern (the image and the serial log are kept)."""


def failure_message(image: Path, firmware: Firmware, result: BootResult, test: BootTest, serial_log: Path,
                    accel: str, console: str = "ttyS0") -> str:
    """The one paragraph a failed boot test ends in: what, on which firmware, why, and where the log is."""
    fw = firmware.display
    if result.exited and result.returncode not in (0, None):
        why = f"QEMU failed (exit status {result.returncode}: {result.log.split('[qemu] ')[-1].strip()[-300:]})"
    elif result.exited:
        why = f"the guest stopped (powered off, rebooted or crashed) after {result.seconds:.0f} s"
    else:
        why = f"it did not appear within {test.timeout:.0f} s"
    serial = result.log.split("\n[qemu] ")[0].strip()
    silent = "" if serial else (f" The serial console stayed silent: the kernel command line needs console={console} "
                                f"(kickstart: bootloader --append=\"console={console},115200\").")
    return (f"The boot test failed: {image.name} booted on {fw} (QEMU, {accel.upper()}, {test.memory} MiB) did not "
            f"print {test.expect.pattern!r} on its serial console: {why}. The serial console's log is "
            f"{serial_log}; the image is kept in {image.parent}.{silent}")


def _uncompressed(image: Path, tmp: Path) -> Path:
    """A compressed disk (``.xz``, ``.zst``) decompressed into *tmp* (sparse); any other as it is."""
    tools = {".xz": "xz", ".zst": "zstd"}
    if image.suffix not in tools:
        return image
    dest = tmp / image.stem
    log.log(PROGRESS, "Boot test: decompressing %s", image.name)
    proc = subprocess.Popen([tools[image.suffix], "-dc", str(image)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    stdout, zero = proc.stdout, bytes(1 << 20)
    try:
        with open(dest, "wb") as f:
            for block in iter(lambda: stdout.read(1 << 20), b""):
                if block == zero[:len(block)]:
                    f.seek(len(block), os.SEEK_CUR)  # a hole: the copy stays as sparse as the disk was
                else:
                    f.write(block)
            f.truncate()
    except BaseException:
        proc.kill()
        raise
    finally:
        _, err = proc.communicate()
    if proc.returncode != 0:
        raise CreatorError(f"--boot-test: could not decompress {image}: {err.decode(errors='replace').strip()}")
    return dest
