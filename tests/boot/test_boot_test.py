"""The tools' --boot-test, for real: livecd-creator builds the test distribution's ISO and boots it in QEMU
(BIOS and UEFI) to the marker; with a pattern the system never prints it fails, keeping the ISO and the serial
log.  appliance-creator's disk (compressed, booted from a decompressed copy) only in the full run; its
--boot-test-expect/-timeout/-memory are set and read back in the default run by the msdos disk's build
(tests/boot/test_disk_boot.py), whose boot is appliance-creator's own boot test.

The passing ISO is Fedora's path: the real-userland flavour (``userland_repo``), whose kernel package has no
initramfs; dracut inside the image makes it with livecd-creator's live configuration and
``--dracut-conf-args``, and both boots read back which dracut modules the initramfs they booted has.

The failing run is shared with tests/integration/test_upstream_options.py (its --boot-test-* entries), so a
session pays for it once.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from imgcreate.storage import reproducible
from tests.boot.qemu import MARKER
from tests.disks import BOOT_APPEND, GPT_KS
from tests.support import run_tool

pytestmark = [pytest.mark.root, pytest.mark.boot]

APPEND = "console=ttyS0,115200 rd.shell=0 rd.emergency=poweroff livecheck.write_mib=0 livecheck.login"
KS = """part / --size 1024
bootloader --timeout 1 --append="{append}"
repo --name=testdistro --baseurl=file://{repo}
%packages
@core
kernel
{packages}
%end
"""
# Added to the live set: qemu (only in an initramfs that asks for it); named but not in the image:
# network-manager (dracut-network's); omitted from the live set: pollcdrom.
DRACUT_CONF_ARGS = "+qemu network-manager -pollcdrom"
NEVER = "NEVER-PRINTED-[0-9]{3}"
FAIL_TIMEOUT = 30
FAIL_MEMORY = 1024


@dataclass
class ToolRun:
    proc: object  # subprocess.CompletedProcess[str]
    returncode: int
    stderr: str
    out: Path
    seconds: float


def run_livecd(tmp: Path, repo: Path, label: str, *args: str, packages: str = "") -> ToolRun:
    tmp.mkdir(parents=True, exist_ok=True)
    ks = tmp / f"{label}.ks"
    ks.write_text(KS.format(repo=repo, append=APPEND, packages=packages))
    start = time.monotonic()
    proc = run_tool("livecd-creator", "-c", str(ks), "-f", label, "--tmpdir", str(tmp), "--output",
                    str(tmp / "out"), "--boot-test", *args, check=False)
    return ToolRun(proc, proc.returncode, proc.stderr, tmp / "out", time.monotonic() - start)


_FAILED: dict[Path, ToolRun] = {}


def failing_run(tmp_root: Path, repo: Path) -> ToolRun:
    """livecd-creator --boot-test waiting for a pattern the system never prints, briefly (once per session)."""
    if repo not in _FAILED:
        _FAILED[repo] = run_livecd(tmp_root / "boot-test-fails", repo, "BTFAIL", "--boot-test-expect", NEVER,
                                   "--boot-test-timeout", str(FAIL_TIMEOUT), "--boot-test-memory", str(FAIL_MEMORY))
    return _FAILED[repo]


def no_qemu_for(path: Path) -> None:
    """No process (QEMU) still has *path* on its command line."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        assert str(path).encode() not in cmdline, f"process {pid} left behind: {cmdline!r}"


def initramfs_modules(log: str) -> list[str]:
    """The dracut modules of the initramfs a boot used, as the booted system reports them (testdistro's
    ``testdistro-made-in`` dracut module hands its modules.txt over in /run); [] without that report."""
    for line in log.splitlines():
        if "LIVECD-TOOLS-CHECK initramfs-modules: " in line:
            return line.split("LIVECD-TOOLS-CHECK initramfs-modules: ", 1)[1].split()
    return []


def test_livecd_boot_test_passes(tmp_path: Path, userland_repo: Path) -> None:
    """With the default --boot-test-expect, met by a real login prompt (the live system runs getty on the serial
    console, ``livecheck.login``) after the live checks.  Built reproducibly too (--source-date-epoch): its ext4
    root, made by mke2fs -d with a derived UUID, boots with the room its nominal size gives.  Its initramfs was
    made by the image's dracut (the kernel package has none): the modules --dracut-conf-args adds are in it, the
    ones it omits are not, and those the image lacks (network-manager, named; livenet, a default, which comes with
    dracut-network) are left out with a warning and the initramfs made again after the kernel's %posttrans dracut
    failed on them."""
    run = run_livecd(tmp_path, userland_repo, "BTPASS", "--source-date-epoch", "1700000000",
                     "--dracut-conf-args", DRACUT_CONF_ARGS, packages="dracut-live")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "its %posttrans scriptlet failed" in run.stderr, "the kernel's dracut refused the missing modules"
    (warning,) = [line for line in run.stderr.splitlines() if "the image has no dracut module" in line]
    assert "livenet" in warning and "network-manager" in warning and "making the initramfs again" in warning
    for firmware, name in (("bios", "BIOS"), ("uefi", "UEFI")):
        log = (run.out / f"BTPASS.boot-{firmware}.log").read_text(errors="replace")
        assert f"{MARKER} root=/dev/mapper/live-rw" in log, log[-2000:]
        assert re.search(r"\S+ login:", log[log.index(MARKER):]), "getty's prompt, after the checks"
        assert "LIVECD-TOOLS-CHECK initramfs-made-in: testdistro" in log, "made by dracut inside the image"
        modules = initramfs_modules(log)
        assert {"dmsquash-live", "qemu", "testdistro-made-in"} <= set(modules), modules
        assert not {"pollcdrom", "livenet", "network-manager"} & set(modules), modules
        assert f"root-uuid: {reproducible.derived_uuid('ext', 'BTPASS', 1700000000)}" in log
        avail = int(log.split("df-before: ", 1)[1].split("avail_kib=", 1)[1].split()[0])
        assert avail > 700 * 1024, "the 1024 MiB nominal root has its free space"
        assert f"Boot test passed on {name} in " in run.stderr, "progress says what was booted"
        assert "-accel tcg" in log, "TCG unless LIVECD_TOOLS_QEMU_ACCEL says otherwise"
    assert (run.out / "BTPASS.iso").exists()
    no_qemu_for(run.out)
    print(f"livecd-creator --boot-test (build, BIOS and UEFI boots): {run.seconds:.0f} s")


def test_livecd_boot_test_fails(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> None:
    run = failing_run(tmp_path_factory.mktemp("bt"), testrepo)
    log = run.out / "BTFAIL.boot-bios.log"
    assert run.returncode == 1, run.stderr[-3000:]
    (paragraph,) = [line for line in run.stderr.splitlines() if "error:" in line]
    assert paragraph.startswith("livecd-creator: error: The boot test failed: BTFAIL.iso booted on BIOS")
    assert f"'{NEVER}'" in paragraph and str(log) in paragraph and f"kept in {run.out}" in paragraph
    assert f"within {FAIL_TIMEOUT} s" in paragraph or "the guest stopped" in paragraph, paragraph
    assert (run.out / "BTFAIL.iso").stat().st_size > 1 << 20, "the ISO is kept"
    assert f"-m {FAIL_MEMORY} " in log.read_text(errors="replace"), "the log says how QEMU ran"
    assert not (run.out / "BTFAIL.boot-uefi.log").exists(), "no second boot after a failed one"
    assert run.seconds < 200
    no_qemu_for(run.out)


@pytest.mark.full
def test_appliance_boot_test_passes(tmp_path: Path, testrepo: Path) -> None:
    """A compressed GPT disk with biosboot and an ESP: booted on BIOS and UEFI from a decompressed copy."""
    ks = tmp_path / "disk.ks"
    ks.write_text(GPT_KS.format(repo=testrepo, append=BOOT_APPEND))
    out = tmp_path / "out"
    proc = run_tool("appliance-creator", "-c", str(ks), "-n", "btdisk", "-o", str(out), "-t", str(tmp_path),
                    "--boot-test", "--boot-test-expect", MARKER, "--compression", "zstd", check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for firmware in ("bios", "uefi"):
        text = (out / "btdisk" / f"btdisk.boot-{firmware}.log").read_text(errors="replace")
        assert "LIVECD-TOOLS-CHECK mount: /dev/vda" in text and MARKER in text, text[-2000:]
        assert "snapshot=on" in text
    assert (out / "btdisk/btdisk-sda.raw.zst").exists() and not list(tmp_path.glob("boottest-*"))
