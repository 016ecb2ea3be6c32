"""EROFS live roots (--rootfs-type erofs / erofs-ext4), inspected without booting: the ISO's LiveOS/squashfs.img
is EROFS (as on Fedora 42+ media), compressed, in both layouts; --base-on reads an EROFS base; a compressor the
installed mkfs.erofs lacks is refused before anything is written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from imgcreate.pack import erofs
from tests import isoinspect, kickstarts
from tests.support import MountImage, assert_build_left_nothing, assert_failed, build_dirs, run_tool

pytestmark = pytest.mark.root

KS = kickstarts.kickstart("part / --size 300", repo=kickstarts.repo_line("t"), bootloader=None,
                         packages=("@core", "kernel", "{extra}"))


def live(tmp_path: Path, repo: Path, label: str, *args: str, extra: str = "") -> Path:
    ks = tmp_path / f"{label}.ks"
    ks.write_text(KS.format(repo=repo, extra=extra))
    out = tmp_path / "out"
    run_tool("livecd-creator", "--config", str(ks), *args, "--fslabel", label, "--tmpdir", str(tmp_path),
             "--output", str(out))
    return out / f"{label}.iso"


def erofs_image(iso: Path, tmp_path: Path) -> Path:
    """The ISO's LiveOS/squashfs.img, checked to be EROFS (blkid's own probe) and compressed (dump.erofs)."""
    image = isoinspect.squashfs_image(iso, tmp_path)
    probe = subprocess.run(["blkid", "-p", "-s", "TYPE", "-o", "value", str(image)], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert probe == "erofs", probe
    stats = subprocess.run(["dump.erofs", "-S", str(image)], capture_output=True, text=True, check=True).stdout
    compressed = [ln for ln in stats.splitlines() if ln.startswith("Filesystem compressed files:")]
    assert compressed and int(compressed[0].split(":")[1]) > 0, stats
    return image


def test_flat_erofs_lz4hc_and_an_erofs_ext4_build_based_on_it(tmp_path: Path, testrepo: Path,
                                                              mount_image: MountImage) -> None:
    first = live(tmp_path, testrepo, "EROFS1", "--rootfs-type", "erofs", "--compression-type", "lz4hc,9",
                 extra="demo-app")
    flat = mount_image(erofs_image(first, tmp_path))
    assert (flat.path / "usr").is_dir() and not (flat.path / "LiveOS").exists(), "the root tree itself"
    assert "demo-app" in flat.rpms()
    fstab = (flat.path / "etc/fstab").read_text()
    assert "/dev/root  /  erofs" in fstab, fstab
    grub = isoinspect.read_text(first, "/boot/grub2/grub.cfg")
    assert "rd.live.overlay.overlayfs=1" in grub, "a flat root boots on overlayfs"

    # An EROFS base ISO (flat) into the other layout: an ext4 rootfs.img inside EROFS, with lz4.
    second = live(tmp_path, testrepo, "EROFS2", "--base-on", str(first), "--rootfs-type", "erofs-ext4",
                  "--compression-type", "lz4", extra="docs-demo")
    outer = mount_image(erofs_image(second, tmp_path))
    assert sorted(p.name for p in (outer.path / "LiveOS").iterdir()) == ["rootfs.img"]
    assert not (outer.path / "usr").exists()
    rpms = mount_image(outer.path / "LiveOS/rootfs.img").rpms()
    assert {"demo-app", "docs-demo", "kernel"} <= rpms, "packages of both builds"
    assert "rd.live.overlay.overlayfs" not in isoinspect.read_text(second, "/boot/grub2/grub.cfg")


def test_erofs_compressor_mkfs_erofs_lacks_is_refused_before_building(tmp_path: Path, testrepo: Path) -> None:
    missing = next(c for c in ("zstd", "lzma", "deflate") if c not in erofs.available_compressors())
    ks = tmp_path / "bad.ks"
    ks.write_text(KS.format(repo=testrepo, extra=""))
    proc = run_tool("livecd-creator", *build_dirs(tmp_path), "--config", str(ks), "--fslabel", "BAD",
                    "--rootfs-type", "erofs", "--compression-type", missing, check=False)
    assert_failed(proc, missing, "mkfs.erofs", *erofs.available_compressors())
    assert proc.returncode == 1
    assert not list(tmp_path.rglob("*.iso")), "nothing written"
    assert_build_left_nothing(tmp_path)


def test_flat_squashfs_conflicts_with_an_ext4_rootfs_type(tmp_path: Path, testrepo: Path) -> None:
    ks = tmp_path / "bad.ks"
    ks.write_text(KS.format(repo=testrepo, extra=""))
    proc = run_tool("livecd-creator", *build_dirs(tmp_path), "--config", str(ks), "--fslabel", "BAD",
                    "--flat-squashfs", "--rootfs-type", "erofs-ext4", check=False)
    assert_failed(proc, "--flat-squashfs", "erofs-ext4")
    assert proc.returncode == 1
    assert_build_left_nothing(tmp_path)
