"""--forcearch's pure parts: the option reaching the frozen configuration, the disk's per-architecture boot plan,
binfmt_misc's registration and lookup, and the QEMU machine each architecture boots in.  The builds themselves are
tests/integration/test_cross_arch.py; the boot tests/boot/test_aarch64_boot.py."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from imgcreate import kickstart
from imgcreate.boot import boottest, efi, machines
from imgcreate.build.artifacts import Artifact, ArtifactKind, Firmware
from imgcreate.cli import appliance, creators
from imgcreate.config import parse
from imgcreate.disk.appliance import DiskImageCreator
from imgcreate.errors import CreatorError, KickstartError, MissingToolError
from imgcreate.host import binfmt, run

HOST = os.uname().machine


@pytest.fixture
def gpt_ks(tmp_path: Path) -> Any:
    path = tmp_path / "g.ks"
    path.write_text("clearpart --all --disklabel=gpt\npart /boot/efi --fstype=efi --size=64\n"
                    "part / --fstype=ext4 --size=300\nbootloader --timeout=1\n%packages\nkernel\n%end\n")
    return kickstart.read_kickstart(path)


# -- the option and the configuration ------------------------------------------------------------------------------

def test_target_arch_defaults_to_the_host_and_refuses_unknown_names() -> None:
    assert parse.target_arch(None) == HOST and parse.target_arch("") == HOST
    assert parse.target_arch("aarch64") == "aarch64"
    with pytest.raises(CreatorError, match=r"Unknown target architecture 'arm64' \(--forcearch\): use one of "):
        parse.target_arch("arm64")


@pytest.mark.parametrize("parser", [creators.livecd_parser, creators.image_parser, appliance.appliance_parser])
def test_every_creator_takes_forcearch(parser: Any) -> None:
    assert parser().parse_args(["-c", "x.ks", "--forcearch", "aarch64"]).forcearch == "aarch64"
    assert parser().parse_args(["-c", "x.ks"]).forcearch is None


def test_disk_creator_for_aarch64_boots_with_uefi_alone(gpt_ks: Any, tmp_path: Path) -> None:
    """No biosboot partition needed, no grub2-pc; aarch64's GRUB and shim; the artifact says UEFI and aarch64."""
    creator = DiskImageCreator(gpt_ks, "d", tmpdir=tmp_path)
    creator.forcearch = "aarch64"
    cfg = creator.build_config
    assert cfg.arch == "aarch64" and cfg.foreign == (HOST != "aarch64")
    assert cfg.install_settings()["arch"] == "aarch64" and cfg.root_settings()["arch"] == "aarch64"
    assert creator._get_required_packages() == ["grub2-efi-aa64", "shim-aa64"]
    assert creator.firmwares == (Firmware.UEFI,)
    assert creator.layout.biosboot is None
    assert creator._artifact(tmp_path / "d-sda.raw").arch == "aarch64"


def test_x86_64_disk_keeps_bios_and_needs_its_biosboot(gpt_ks: Any, tmp_path: Path) -> None:
    creator = DiskImageCreator(gpt_ks, "d", tmpdir=tmp_path)
    creator.forcearch = "x86_64"
    with pytest.raises(KickstartError, match="needs a BIOS boot partition"):
        creator._get_required_packages()


def test_efi_names_per_architecture() -> None:
    assert efi.fallback("aarch64") == "/boot/efi/EFI/BOOT/BOOTAA64.EFI"
    assert efi.fallback() == efi.FALLBACK == "/boot/efi/EFI/BOOT/BOOTX64.EFI"
    assert efi.efi_arch("aarch64") == "aa64" and efi.efi_arch("x86_64") == "x64"


# -- binfmt_misc -----------------------------------------------------------------------------------------------

def test_registration_is_qemus_aarch64_entry_opened_at_once() -> None:
    """The magic and mask are QEMU's (qemu-binfmt-conf.sh, Debian's /usr/lib/binfmt.d/qemu-aarch64.conf); F: the
    kernel opens the emulator now, so a chroot needs no copy of it."""
    line = binfmt._registration("imgcreate-aarch64-1", "aarch64", Path("/usr/bin/qemu-aarch64-static"))
    assert line == (":imgcreate-aarch64-1:M::\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
                    "\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff"
                    "\\xff\\xff\\xfe\\xff\\xff\\xff:/usr/bin/qemu-aarch64-static:F")
    assert binfmt._registration("n", "aarch64", Path("/usr/libexec/qemu-binfmt/aarch64-binfmt-P")).endswith(":PF")


def test_host_entry_needs_f_and_is_never_ours(tmp_path: Path) -> None:
    magic = binfmt.MAGIC["aarch64"].magic.hex()

    def entry(name: str, flags: str, enabled: bool = True) -> None:
        (tmp_path / name).write_text(f"{'enabled' if enabled else 'disabled'}\ninterpreter /x\nflags: {flags}\n"
                                     f"offset 0\nmagic {magic}\nmask ff\n")

    (tmp_path / "register").write_text("")
    (tmp_path / "status").write_text("enabled\n")
    entry("imgcreate-aarch64-7", "F")  # another build's: it removes it when done
    entry("qemu-aarch64", "OC")  # without F its emulator is not found in a chroot
    assert binfmt.host_entry(tmp_path, "aarch64") is None
    entry("qemu-aarch64-f", "OCF", enabled=False)
    assert binfmt.host_entry(tmp_path, "aarch64") is None
    entry("qemu-aarch64-static", "OCF")
    assert binfmt.host_entry(tmp_path, "aarch64") == "qemu-aarch64-static"


def test_missing_emulator_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("imgcreate.host.binfmt.shutil.which", lambda name: None)
    monkeypatch.setattr("imgcreate.host.binfmt.os.access", lambda path, mode: False)
    with pytest.raises(MissingToolError) as exc:
        binfmt.emulation(contextlib.ExitStack(), "aarch64" if HOST != "aarch64" else "x86_64")
    assert "qemu-" in str(exc.value) and "'apt-get install qemu-user-static'" in str(exc.value)
    assert "'dnf install qemu-user-static'" in str(exc.value)


def test_the_hosts_own_architecture_needs_no_emulator() -> None:
    with contextlib.ExitStack() as stack:
        assert binfmt.emulation(stack, HOST) is None
        assert stack.pop_all() is not None


# -- the QEMU machine of each architecture -------------------------------------------------------------------------

def test_aarch64_boots_on_the_virt_board_with_aavmf(tmp_path: Path) -> None:
    machine = machines.for_arch("aarch64")
    args = boottest.qemu_command("qemu-system-aarch64", machine.cdrom(Path("/o/L.iso")), serial=tmp_path / "s",
                                 ovmf=("/c.fd", "/v.fd"), board=machine.board)
    assert args[:5] == ["qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a57"]
    assert "virtio-scsi-pci,id=scsi0" in args and "scsi-cd,drive=cd0,bus=scsi0.0" in args, "virt has no IDE bus"
    assert "if=pflash,format=raw,readonly=on,file=/c.fd" in args
    assert machine.console == "ttyAMA0" and not machine.bios
    assert machines.for_arch(None) is machines.for_arch(HOST) and machines.for_arch("i686") is machines.X86_64


def test_missing_aarch64_qemu_and_firmware_name_their_packages(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError) as exc:
        boottest.find_qemu("aarch64")
    assert "qemu-system-aarch64" in str(exc.value) and "'apt-get install qemu-system-arm'" in str(exc.value)
    nowhere = dataclasses.replace(machines.AARCH64, firmware=(("/nonexistent/AAVMF_CODE.fd", "/nonexistent/V"),))
    with pytest.raises(MissingToolError) as exc:
        boottest.find_firmware(nowhere)
    assert "'apt-get install qemu-efi-aarch64'" in str(exc.value) and "edk2-aarch64" in str(exc.value)


def test_boot_test_checks_the_targets_qemu_before_the_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    opts = appliance.appliance_parser().parse_args(["-c", "x.ks", "--boot-test", "--forcearch", "aarch64"])
    with pytest.raises(MissingToolError, match="qemu-system-aarch64"):
        boottest.BootTest.from_options(opts)


def test_boot_test_boots_an_aarch64_artifact_in_its_qemu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--boot-test reads the architecture from what the build delivered: an aarch64 disk runs in
    qemu-system-aarch64 on the virt board with AAVMF (a stand-in QEMU records its command line and prints the
    pattern)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    qemu = bindir / "qemu-system-aarch64"
    qemu.write_text('#!/bin/sh\necho "$@" > "$ARGS_FILE"\n'
                    'for a; do case "$a" in file:*) serial="${a#file:}";; esac; done\n'
                    'echo "LIVECD-TOOLS-BOOT-OK" > "$serial"\nexec sleep 30\n')
    qemu.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setenv("ARGS_FILE", str(tmp_path / "args"))
    code, variables = tmp_path / "CODE.fd", tmp_path / "VARS.fd"
    code.write_bytes(b"c")
    variables.write_bytes(b"v")
    monkeypatch.setattr(machines, "MACHINES", {**machines.MACHINES, "aarch64": dataclasses.replace(
        machines.AARCH64, firmware=((str(code), str(variables)),))})
    disk = tmp_path / "a-sda.raw"
    disk.write_bytes(b"")
    test = boottest.BootTest(expect=boottest.expect_pattern("BOOT-OK"), timeout=20, tmpdir=str(tmp_path))
    [result] = test.run([Artifact(disk, ArtifactKind.DISK, (Firmware.UEFI,), "raw", arch="aarch64")], name="a")
    assert result.ok
    args = (tmp_path / "args").read_text().split()
    assert args[:4] == ["-machine", "virt", "-cpu", "cortex-a57"], args
    assert f"if=pflash,format=raw,readonly=on,file={code}" in args and f"file={disk},format=raw,if=virtio,snapshot=on" \
        in args, args


def test_the_emulator_is_checked_before_the_build(gpt_ks: Any, tmp_path: Path) -> None:
    """check_host_tools (before anything is built) looks for the emulator, naming qemu-user-static."""
    creator = DiskImageCreator(gpt_ks, "d", tmpdir=tmp_path)
    creator.forcearch = "aarch64" if HOST != "aarch64" else "x86_64"
    assert f"qemu-{creator.forcearch}-static" in creator._host_tools()
    assert binfmt.tools(HOST) == [], "none for the machine's own architecture"
    assert "qemu-user-static" in (run.package_hint("qemu-aarch64-static") or "")
