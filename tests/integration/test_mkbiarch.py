"""mkbiarch: the session's two small live ISOs (conftest.toolbox_isos) made into one disk image, read back
with sfdisk and mtools (nothing mounted): upstream's layout (msdos table, syslinux's MBR, one bootable
partition with /x86/LiveOS and /x64/LiveOS, vmlinuz0/1 and initrd0/1.img) and a menu booting each one."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from imgcreate.cli import mkbiarch
from imgcreate.media.liveiso import read_live_iso
from tests import isoinspect
from tests.support import assert_failed, run_tool, start_tool

pytestmark = pytest.mark.root

OFFSET = 2048 * 512


def mtype(image: Path, path: str) -> bytes:
    return subprocess.run(["mtype", "-i", f"{image}@@{OFFSET}", f"::{path}"], capture_output=True, check=True,
                          env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"}).stdout


def test_two_live_isos_on_one_disk_image(toolbox_isos: dict[str, Path], tmp_path: Path) -> None:
    first, second = toolbox_isos["squashfs"], toolbox_isos["flat"]
    target = tmp_path / "multi.img"
    log = tmp_path / "log"
    proc = run_tool("mkbiarch", "-d", "-v", "--logfile", str(log), str(first), str(second), str(target))
    assert "Installing syslinux" in log.read_text() or "syslinux" in log.read_text()
    table = json.loads(subprocess.run(["sfdisk", "-J", str(target)], capture_output=True, text=True,
                                      check=True).stdout)["partitiontable"]
    (part,) = table["partitions"]
    assert table["label"] == "dos" and part["start"] == 2048 and part.get("bootable") is True, table
    mbr = next(p for p in ("/usr/lib/syslinux/mbr/mbr.bin", "/usr/share/syslinux/mbr.bin") if Path(p).is_file())
    assert target.read_bytes()[:440] == Path(mbr).read_bytes()[:440], "syslinux's MBR boot code"
    for folder, iso in (("x86", first), ("x64", second)):
        assert mtype(target, f"/{folder}/LiveOS/squashfs.img") == isoinspect.read(iso, "/LiveOS/squashfs.img")
    for index, iso in enumerate((first, second)):
        boot = read_live_iso(iso).boot
        assert mtype(target, f"/syslinux/vmlinuz{index}") == isoinspect.read(iso, boot.kernel)
        assert mtype(target, f"/syslinux/initrd{index}.img") == isoinspect.read(iso, boot.initrd)
    assert mtype(target, "/syslinux/ldlinux.sys"), "syslinux installed"
    config = mtype(target, "/syslinux/syslinux.cfg").decode()
    uuid = subprocess.run(["blkid", "-p", "-O", str(OFFSET), "-s", "UUID", "-o", "value", str(target)],
                          capture_output=True, text=True, check=True).stdout.strip()
    for folder, index in (("x86", 0), ("x64", 1)):
        assert f"LABEL {folder}\n" in config and f"KERNEL vmlinuz{index}\n" in config
        append = next(ln for ln in config.splitlines() if f"initrd=initrd{index}.img" in ln).split()
        assert append[:5] == ["APPEND", f"initrd=initrd{index}.img", f"root=live:UUID={uuid}",
                              f"rd.live.dir=/{folder}/LiveOS", "rd.live.image"], append
        assert append[-1] == "livecheck.write_mib=0", "the ISO's own arguments follow"
    assert "TB-SQ (x86)" in config and "TB-FLAT (x64)" in config
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log", "multi.img"], "no partial file left"
    assert proc.returncode == 0


def test_mkbiarch_bad_input(toolbox_isos: dict[str, Path], tmp_path: Path) -> None:
    """Not a live ISO, a missing one, a folder as target: one sentence, exit 1, nothing written."""
    notiso = tmp_path / "not.iso"
    notiso.write_text("hello")
    for args, needle in [((notiso, toolbox_isos["flat"], tmp_path / "t.img"), "is not a live ISO"),
                         ((toolbox_isos["flat"], tmp_path / "missing.iso", tmp_path / "t.img"), "is not a file"),
                         ((toolbox_isos["flat"], toolbox_isos["squashfs"], tmp_path), "is not a file")]:
        proc = run_tool("mkbiarch", "-q", *map(str, args), check=False)
        assert_failed(proc, needle)
        assert proc.returncode == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not.iso"], "nothing written"


def test_mkbiarch_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """Without its three arguments: the usage and exit 2; --help and --version (the parser in this process)."""
    proc = run_tool("mkbiarch", check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("usage: mkbiarch"), proc.stderr
    for flag, start in (("--help", "usage: mkbiarch"), ("--version", "mkbiarch (livecd-tools)")):
        with pytest.raises(SystemExit) as done:
            mkbiarch.mkbiarch_parser().parse_args([flag])
        assert done.value.code == 0 and capsys.readouterr().out.startswith(start)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_mkbiarch_interrupted_leaves_no_image(sig: signal.Signals, toolbox_isos: dict[str, Path],
                                             tmp_path: Path) -> None:
    """A signal while the image is being written (its partial file exists): exit 130, no image, no partial file,
    nothing left running (issue 29: every tool interrupted)."""
    target = tmp_path / "multi.img"
    proc = start_tool("mkbiarch", str(toolbox_isos["squashfs"]), str(toolbox_isos["flat"]), str(target))
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".multi.img.partial-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "mkbiarch ended before its partial image appeared"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "everything was cleaned up" in err and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == [], "no image and no partial file"
