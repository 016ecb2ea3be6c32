"""livecd-creator options beyond the boot tests: compression choices, --base-on, --repo, --dracut-conf-args,
--shell, the positional kickstart, and the dracut configuration's lifetime.  Inspected without booting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import isoinspect, kickstarts
from tests.support import MountImage, images_in, run_tool

pytestmark = pytest.mark.root

KS = kickstarts.kickstart(
    "part / --size 300", repo="{repo}", bootloader=None, packages=("@core", "kernel", "{extra}"),
    post="conf=/etc/dracut.conf.d/99-liveos.conf\n"
         "cat $conf > /root/dracut-conf-during-build 2>&1 || echo missing > /root/dracut-conf-during-build")


def live(tmp_path: Path, label: str, *args: str, repo: str | None = None, extra: str = "",
         input: str | None = None) -> Path:
    ks = tmp_path / f"{label}.ks"
    ks.write_text(KS.format(repo=repo or "", extra=extra))
    out = tmp_path / "out"
    cmd = [*args] if "--config" in args or (args and args[0].endswith(".ks")) else ["--config", str(ks), *args]
    run_tool("livecd-creator", *cmd, "--fslabel", label, "--tmpdir", str(tmp_path), "--output", str(out),
             input=input)
    return out / f"{label}.iso"


@pytest.mark.parametrize(
    ("label", "compression", "expect"),
    [("C-XZBCJ", ["--compression-type", "xz -Xbcj x86"], "Compression xz"),
     ("C-LZ4", ["--compression-type", "lz4"], "Compression lz4"),
     ("C-GZIP", ["--compression-type", "gzip"], "Compression gzip"),
     ("C-NONE", ["--skip-compression", "--flat-squashfs"], "uncompressed")],
)
def test_compression_choices(tmp_path: Path, testrepo: Path, label: str, compression: list[str],
                             expect: str) -> None:
    iso = live(tmp_path, label, *compression, repo=f"repo --name=t --baseurl=file://{testrepo}")
    info = isoinspect.squashfs_info(isoinspect.squashfs_image(iso, tmp_path))
    assert expect in info, info
    if label == "C-XZBCJ":
        assert "x86" in info, "the -Xbcj filter option reached mksquashfs"


def test_repo_option_dracut_conf_args_and_positional_kickstart(tmp_path: Path, testrepo: Path) -> None:
    ks = tmp_path / "norepo.ks"
    ks.write_text(KS.format(repo="", extra=""))
    iso = live(tmp_path, "OPTS", str(ks), "--repo", f"testdistro,file://{testrepo}",
               "--dracut-conf-args", 'add_drivers+=" extra_test_driver "', "--nomacboot",
               "--pkgverify-level", "none")
    rootimg = isoinspect.rootfs_of(iso, tmp_path)
    seen = isoinspect.debugfs(rootimg, "cat /root/dracut-conf-during-build")
    assert "dmsquash-live" in seen and "extra_test_driver" in seen, "the dracut config existed during the build"
    listing = isoinspect.debugfs(rootimg, "ls /etc/dracut.conf.d")
    assert "99-liveos.conf" not in listing, "and is gone from the image"


def test_base_on_an_earlier_iso(tmp_path: Path, testrepo: Path, mount_image: MountImage) -> None:
    repo = f"repo --name=t --baseurl=file://{testrepo}"
    first = live(tmp_path, "BASE1", repo=repo, extra="demo-app")
    second = live(tmp_path, "BASE2", "--base-on", str(first), repo=repo, extra="docs-demo")
    rpms = mount_image(isoinspect.rootfs_of(second, tmp_path)).rpms()
    assert {"demo-app", "docs-demo", "kernel"} <= rpms, "packages of both builds"


def test_shell_option_runs_a_shell_in_the_image(tmp_path: Path, testrepo: Path) -> None:
    iso = live(tmp_path, "SHELL", "--shell", repo=f"repo --name=t --baseurl=file://{testrepo}",
               input="echo typed-in-the-shell > /root/shell-was-here\nexit\n")
    rootimg = isoinspect.rootfs_of(iso, tmp_path)
    assert isoinspect.debugfs(rootimg, "cat /root/shell-was-here") == "typed-in-the-shell\n"


def test_image_creator_and_livecd_creator_share_the_cli(tmp_path: Path) -> None:
    for tool in ("image-creator", "livecd-creator"):
        proc = run_tool(tool, "--help")
        assert "--config" in proc.stdout and "--cache" in proc.stdout and "--tmpdir" in proc.stdout


def test_default_label_from_the_kickstart_name(tmp_path: Path, testrepo: Path) -> None:
    ks = tmp_path / "my spin.ks"
    ks.write_text(KS.format(repo=f"repo --name=t --baseurl=file://{testrepo}", extra=""))
    proc = run_tool("livecd-creator", str(ks), "--tmpdir", str(tmp_path), "--output", str(tmp_path / "out"),
                    "--compression-type", "lz4")
    assert proc.returncode == 0
    (iso,) = images_in(tmp_path / "out")
    assert iso.name.startswith("livecd-my spin-") and iso.suffix == ".iso", "upstream's name: livecd-<ks>-<time>"
    label = isoinspect.volume_id(iso)
    assert label.startswith("my_spin-") and f"-{os.uname().machine}-" in label, "no room for the prefix"
    assert f"root=live:CDLABEL={label} " in isoinspect.read_text(iso, "/boot/grub2/grub.cfg")
