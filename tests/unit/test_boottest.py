"""--boot-test's pure logic (firmware choice, QEMU's command line, matching the serial console) and the guest
runner's deadline and cleanup, with a stand-in for qemu-system-x86_64 (the real boots are in
tests/boot/test_boot_test.py)."""

from __future__ import annotations

import argparse
import lzma
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imgcreate.boot import boottest
from imgcreate.boot.boottest import BootResult, BootTest
from imgcreate.build.artifacts import Firmware
from imgcreate.cli import appliance, creators
from imgcreate.disk.appliance import disk_firmwares
from imgcreate.errors import MissingToolError
from tests.support import REPO_ROOT
from tests.unit.test_disklayout import GPT_BIOS, plan

# -- the ISO's firmware: its El Torito boot catalog ---------------------------------------------------------------


def catalog(*sections: tuple[int, int, int]) -> bytes:
    """A boot catalog: the validation entry and default entry for BIOS (platform 0), then one section per
    (header indicator, platform, bootable indicator)."""
    validation = bytearray(32)
    validation[0], validation[1], validation[30:32] = 1, 0, b"\x55\xaa"
    default = bytearray(32)
    default[0] = 0x88
    out = bytes(validation) + bytes(default)
    for header, platform, indicator in sections:
        head = bytearray(32)
        head[0], head[1], head[2] = header, platform, 1
        entry = bytearray(32)
        entry[0] = indicator
        out += bytes(head) + bytes(entry)
    return out.ljust(2048, b"\0")


def test_el_torito_platforms() -> None:
    assert boottest.el_torito_platforms(catalog()) == {0}
    assert boottest.el_torito_platforms(catalog((0x91, 0xEF, 0x88))) == {0, 0xEF}
    assert boottest.el_torito_platforms(catalog((0x91, 0xEF, 0x00))) == {0}, "an entry not bootable"
    assert boottest.el_torito_platforms(catalog((0x90, 0xEF, 0x88), (0x91, 0x02, 0x88))) == {0, 0xEF, 2}
    assert boottest.el_torito_platforms(bytes(2048)) == set(), "no validation entry"


def fake_iso(path: Path, cat: bytes) -> Path:
    record = bytearray(2048)
    record[0:7] = b"\x00CD001\x01"
    record[7:30] = b"EL TORITO SPECIFICATION"
    record[0x47:0x4B] = (20).to_bytes(4, "little")
    path.write_bytes(bytes(17 * 2048) + bytes(record) + bytes(2 * 2048) + cat)
    return path


def test_iso_firmwares_from_the_catalog(tmp_path: Path) -> None:
    assert boottest.iso_firmwares(fake_iso(tmp_path / "a.iso", catalog())) == ("bios",)
    assert boottest.iso_firmwares(fake_iso(tmp_path / "b.iso", catalog((0x91, 0xEF, 0x88)))) == ("bios", "uefi")
    (tmp_path / "plain.iso").write_bytes(bytes(40 * 2048))
    assert boottest.iso_firmwares(tmp_path / "plain.iso") == (), "no boot record: nothing boots"


@pytest.mark.skipif(shutil.which("xorriso") is None, reason="needs xorriso")
def test_iso_firmwares_of_real_isos(tmp_path: Path) -> None:
    """ISOs made by xorriso as ours are (BIOS El Torito image plus an EFI one, or only one of them)."""
    tree = tmp_path / "tree"
    (tree / "images").mkdir(parents=True)
    (tree / "images/eltorito.img").write_bytes(bytes(2048))
    (tree / "images/efiboot.img").write_bytes(bytes(64 * 1024))
    both = ["-b", "images/eltorito.img", "-no-emul-boot", "-eltorito-alt-boot", "-e", "images/efiboot.img",
            "-no-emul-boot"]
    for name, args, expect in (("both", both, ("bios", "uefi")), ("bios", both[:3], ("bios",)),
                               ("efi", both[4:], ("uefi",))):
        iso = tmp_path / f"{name}.iso"
        subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-o", str(iso), *args, str(tree)], check=True,
                       capture_output=True)
        assert boottest.iso_firmwares(iso) == expect, name


# -- the disk's firmware: how DiskImageCreator installs GRUB (its artifact tells the boot test) ---------------

DISK = "bootloader --timeout=1{location}\npart / --fstype=ext4 --size=400\n"


@pytest.mark.parametrize("label, parts, location, expect", [
    ("gpt", GPT_BIOS + "part /boot/efi --fstype=efi --size=64\n", "", ("bios", "uefi")),
    ("gpt", GPT_BIOS, "", ("bios",)),
    ("gpt", "part /boot/efi --fstype=efi --size=64\n", "", ("uefi",)),
    ("msdos", "", "", ("bios",)),
    ("msdos", "part /boot/efi --fstype=efi --size=64\n", "", ("bios", "uefi")),
    ("msdos", "", " --location=none", ()),
])
def test_disk_firmwares(tmp_path: Path, label: str, parts: str, location: str, expect: tuple[str, ...]) -> None:
    text = f"clearpart --all --disklabel={label}\n" + parts + DISK.format(location=location)
    boots = not location
    layout = plan(tmp_path, text, bios=boots and (label == "msdos" or "biosboot" in parts))
    assert disk_firmwares(layout, boots) == expect


def test_nothing_to_boot_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(boottest.BootTestError, match="no boot loader"):
        BootTest().boot(tmp_path / "x-sda.raw", (), name="x")


# -- QEMU's command line and accelerator ---------------------------------------------------------------------------

def test_qemu_command_bios_cd(tmp_path: Path) -> None:
    args = boottest.qemu_command("/usr/bin/qemu-system-x86_64", boottest.cdrom_media(Path("/o/L.iso")),
                                 serial=tmp_path / "s.log", memory=1024)
    assert args[:5] == ["/usr/bin/qemu-system-x86_64", "-accel", "tcg", "-m", "1024"]
    assert ["-serial", f"file:{tmp_path}/s.log"] == args[args.index("-serial"):args.index("-serial") + 2]
    assert "-no-reboot" in args and args[5:7] == ["-display", "none"]
    assert "file=/o/L.iso,format=raw,media=cdrom,readonly=on,if=ide" in args
    assert not any("pflash" in a for a in args), "SeaBIOS: no OVMF"


def test_qemu_command_uefi_disk(tmp_path: Path) -> None:
    args = boottest.qemu_command("qemu", boottest.disk_media(Path("/o/d-sda.qcow2")), serial=tmp_path / "s",
                                 accel="kvm", ovmf=("/fw/CODE.fd", "/tmp/VARS.fd"))
    assert args[1:3] == ["-accel", "kvm"] and args[args.index("-m") + 1] == "2048"
    assert "file=/o/d-sda.qcow2,format=qcow2,if=virtio,snapshot=on" in args, "the image is never written"
    assert "if=pflash,format=raw,readonly=on,file=/fw/CODE.fd" in args
    assert "if=pflash,format=raw,file=/tmp/VARS.fd" in args
    assert "format=raw" in boottest.disk_media(Path("d-sda.raw"))[1]
    assert "format=vmdk" in boottest.disk_media(Path("d-sda.vmdk"))[1]


def test_choose_accel() -> None:
    assert boottest.choose_accel(None, kvm_usable=True) == "tcg", "never KVM by itself (it crashes on some hosts)"
    assert boottest.choose_accel("", kvm_usable=True) == "tcg"
    assert boottest.choose_accel("kvm", kvm_usable=True) == "kvm"
    assert boottest.choose_accel("kvm", kvm_usable=False) == "tcg"
    assert boottest.choose_accel("tcg", kvm_usable=True) == "tcg"
    assert boottest.accel_from_env({}) == "tcg"


# -- the pattern on the serial console -----------------------------------------------------------------------------

def test_find_match() -> None:
    default = boottest.expect_pattern(boottest.DEFAULT_EXPECT)
    console = boottest.clean_console("[  OK  ] Reached target \x1b[0;1;39mbasic.target\x1b[0m - Basic System.\r\n"
                                     "Fedora Linux 41\r\n\r\nlocalhost login: ")
    assert console.endswith("\nlocalhost login: ") and "\x1b" not in console and "\r" not in console
    assert boottest.find_match(default, console) == "localhost login: ", "the prompt has no newline yet"
    assert boottest.find_match(default, "[  OK  ] Reached target Basic System.\n") is None, "the initramfs's"
    line = "[  OK  ] Reached target multi-user.target - Multi-User System.\n"
    assert boottest.find_match(default, "a\n" + line) == line.strip()
    assert boottest.find_match(default, "[  OK  ] Reached target Graphical Interface.") is not None
    marker = "x\nLIVECD-TOOLS-BOOT-OK root=/dev/mapper/live-rw fstype=ext4\n"
    assert boottest.find_match("BOOT-OK", marker) == "LIVECD-TOOLS-BOOT-OK root=/dev/mapper/live-rw fstype=ext4"
    assert boottest.find_match("^x$", marker) == "x", "multi-line anchors"
    assert boottest.find_match("^x", marker, start=2) is None, "searching from a line on"


def test_expect_option_is_a_regex() -> None:
    parser = creators.build_parser(live=True)
    opts = parser.parse_args(["--boot-test", "--boot-test-expect", "Welcome|ready"])
    assert isinstance(opts.boot_test_expect, re.Pattern) and opts.boot_test_expect.pattern == "Welcome|ready"
    defaults = parser.parse_args([])
    assert not defaults.boot_test and defaults.boot_test_expect.pattern == boottest.DEFAULT_EXPECT
    assert (defaults.boot_test_timeout, defaults.boot_test_memory) == (600, 2048)
    for bad in (["--boot-test-expect", "(unclosed"], ["--boot-test-timeout", "0"], ["--boot-test-memory", "x"]):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(bad)
        assert exc.value.code == 2, bad


def test_which_tools_have_the_options() -> None:
    def names(parser: argparse.ArgumentParser) -> set[str]:
        return {o for a in parser._actions for o in a.option_strings}

    wanted = {"--boot-test", "--boot-test-expect", "--boot-test-timeout", "--boot-test-memory"}
    assert wanted <= names(creators.livecd_parser()) and wanted <= names(appliance.appliance_parser())
    assert not wanted & names(creators.image_parser()), "a filesystem image does not boot"


def test_failure_message_names_the_log_and_the_firmware(tmp_path: Path) -> None:
    test = BootTest(boottest.expect_pattern("NEVER"), timeout=45, memory=1024)
    image, serial = tmp_path / "L.iso", tmp_path / "L.boot-uefi.log"
    timed_out = BootResult(False, "[    0.0] Linux version 6.1\n", 45.2, "")
    message = boottest.failure_message(image, Firmware.UEFI, timed_out, test, serial, "tcg")
    assert "L.iso booted on UEFI (QEMU, TCG, 1024 MiB)" in message and str(serial) in message
    assert "'NEVER'" in message and "within 45 s" in message and f"kept in {tmp_path}" in message
    assert "\n" not in message and "console=ttyS0" not in message
    silent = BootResult(False, "", 12, "", exited=True, returncode=0)
    message = boottest.failure_message(image, Firmware.BIOS, silent, test, serial, "kvm")
    assert "on BIOS (QEMU, KVM" in message and "the guest stopped" in message and "after 12 s" in message
    assert "console=ttyS0" in message, "a silent console: the likely cause named"
    broken = BootResult(False, "\n[qemu] qemu-system-x86_64: -drive x: Could not open", 0.1, "", True, 1)
    assert "QEMU failed (exit status 1: qemu-system-x86_64: -drive x: Could not open)" in \
        boottest.failure_message(image, Firmware.BIOS, broken, test, serial, "tcg")


# -- finding QEMU and OVMF -----------------------------------------------------------------------------------------

def test_missing_qemu_names_its_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError) as exc:
        BootTest.from_options(creators.build_parser(live=True).parse_args(["--boot-test"]))
    assert "qemu-system-x86_64" in str(exc.value) and "qemu-system-x86" in str(exc.value)
    assert "qemu-system-x86-core" in str(exc.value), "Fedora's package too"
    assert BootTest.from_options(creators.build_parser(live=True).parse_args([])) is None, "no --boot-test, no check"


def test_missing_ovmf_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(boottest, "OVMF_CODE", ("/nonexistent/OVMF_CODE.fd",))
    with pytest.raises(MissingToolError) as exc:
        boottest.find_ovmf()
    assert "'apt-get install ovmf'" in str(exc.value) and "edk2-ovmf" in str(exc.value)


# -- running a guest: a stand-in QEMU that writes to its serial file ----------------------------------------------

FAKE_QEMU = """#!/bin/sh
for a; do case "$a" in file:*) serial="${a#file:}";; esac; done
echo $$ > "$FAKE_QEMU_PID"
printf '%b' "$FAKE_QEMU_SAYS" > "$serial"
[ -n "$FAKE_QEMU_EXIT" ] && exit "$FAKE_QEMU_EXIT"
exec sleep 60
"""


@pytest.fixture
def fake_qemu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    qemu = bindir / "qemu-system-x86_64"
    qemu.write_text(FAKE_QEMU)
    qemu.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_QEMU_PID", str(tmp_path / "pid"))
    return tmp_path / "pid"


def gone(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text()), 0)
    except ProcessLookupError:
        return True
    return False


def test_guest_killed_at_the_match(fake_qemu: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FAKE_QEMU_SAYS", "Linux\\r\\n\\033[0;32mOK\\033[0m\\r\\nhost login: ")
    log = tmp_path / "L.boot-bios.log"
    result = boottest.run_guest(["-drive", "x"], timeout=20, serial_log=log)
    assert result.ok and result.line == "host login: " and not result.exited
    assert result.seconds < 10 and gone(fake_qemu), "killed as soon as the prompt was there"
    kept = log.read_text()
    assert kept.startswith("Linux") and "[livecd-tools] " in kept and "-drive x" in kept, "the log is kept"


def test_guest_killed_at_the_deadline(fake_qemu: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_QEMU_SAYS", "Linux booting\\n")
    result = boottest.run_guest([], timeout=1.5)
    assert not result.ok and not result.exited and 1.5 <= result.seconds < 6
    assert result.log.startswith("Linux booting") and gone(fake_qemu)


def test_guest_that_stops_fails_at_once(fake_qemu: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FAKE_QEMU_SAYS", "Linux\\nreboot: Power down\\n")
    monkeypatch.setenv("FAKE_QEMU_EXIT", "0")
    (tmp_path / "out").mkdir()
    iso = fake_iso(tmp_path / "out" / "L.iso", catalog())
    (tmp_path / "out/L.boot-uefi.log").write_text("an earlier build's boot")
    with pytest.raises(boottest.BootTestError) as exc:
        BootTest(boottest.expect_pattern("NEVER"), timeout=30, tmpdir=str(tmp_path)).boot(iso, (Firmware.BIOS,), "L")
    message = str(exc.value)
    assert "the guest stopped" in message and "on BIOS" in message and f"{tmp_path}/out/L.boot-bios.log" in message
    assert (tmp_path / "out/L.boot-bios.log").read_text().startswith("Linux\nreboot: Power down")
    assert iso.exists() and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["L.boot-bios.log", "L.iso"]
    assert not list(tmp_path.glob("boottest-*")), "the temporary directory is gone"


def test_wait_exit_waits_for_the_power_off(fake_qemu: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_QEMU_SAYS", "MARK\\n")
    monkeypatch.setenv("FAKE_QEMU_EXIT", "0")
    result = boottest.run_guest([], expect="MARK", timeout=20, wait_exit=True)
    assert result.ok and result.exited and result.returncode == 0


def test_compressed_disk_is_decompressed_sparse(tmp_path: Path) -> None:
    data = b"MBR".ljust(1 << 20, b"\0") + bytes(8 << 20) + b"end".ljust(4096, b"\0")
    (tmp_path / "d-sda.raw.xz").write_bytes(lzma.compress(data))
    out = tmp_path / "tmp"
    out.mkdir()
    disk = boottest._uncompressed(tmp_path / "d-sda.raw.xz", out)
    assert disk == out / "d-sda.raw" and disk.read_bytes() == data
    assert disk.stat().st_blocks * 512 < 4 << 20, "the zero megabytes are holes"
    assert boottest._uncompressed(tmp_path / "x.qcow2", out) == tmp_path / "x.qcow2"


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_no_guest_outlives_its_runner(fake_qemu: Path, monkeypatch: pytest.MonkeyPatch, how: int,
                                     tmp_path: Path) -> None:
    """Ctrl-C: the runner kills QEMU on its way out; the runner killed outright: QEMU dies with it.  (Its
    temporary folder is in tmp_path: a runner killed outright cannot remove it.)"""
    monkeypatch.setenv("FAKE_QEMU_SAYS", "Linux\\n")
    code = f"from imgcreate.boot import boottest; boottest.run_guest([], tmpdir={str(tmp_path)!r})"
    runner = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not (fake_qemu.exists() and fake_qemu.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    runner.send_signal(how)
    runner.communicate(timeout=20)
    deadline = time.monotonic() + 5
    while not gone(fake_qemu) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(fake_qemu), "QEMU was left running"
