"""The real-userland flavour of the test distribution (testdistro/userland.py): Fedora's paths, no busybox link
shadowing a real program, a kernel without initramfs whose %posttrans runs dracut, and a userland that runs
chrooted.  The boots that use it are in tests/boot (test_boot_test, test_disk_boot, test_iso_to_disk_boot)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import testdistro
from testdistro import userland
from testdistro.rpmspec import Package, file, symlink


def test_debian_paths_go_under_usr() -> None:
    assert userland.fedora_path("/bin/cp") == "/usr/bin/cp"
    assert userland.fedora_path("/sbin/losetup") == "/usr/sbin/losetup"
    assert userland.fedora_path("/lib/udev/rules.d/60-cdrom_id.rules") == "/usr/lib/udev/rules.d/60-cdrom_id.rules"
    assert userland.fedora_path("/lib64/ld-linux-x86-64.so.2") == "/usr/lib64/ld-linux-x86-64.so.2"
    assert userland.fedora_path("/libexec/x") == "/libexec/x"  # only the merged top directories
    assert userland.fedora_path("/usr/bin/dracut") == "/usr/bin/dracut"


def test_the_plain_repository_ignores_the_flavours_files() -> None:
    from testdistro import builder

    mine = [p.name for p in builder.source_files() if userland.only_for_the_flavour(p)]
    assert "userland.py" in mine and "dracut.conf" in mine and "module-setup.sh" in mine
    assert not any(userland.only_for_the_flavour(p) for p in builder.source_files()
                   if p.name in ("packages.py", "builder.py", "live-check.sh", "rpmspec.py"))


def test_no_busybox_link_shadows_a_real_program() -> None:
    """A real program in /usr/sbin removes busybox's link of that name from /usr/bin too, and the reverse."""
    busybox = Package("busybox", "b", entries=[
        symlink("/usr/bin/cp", "../sbin/busybox"), symlink("/usr/sbin/modprobe", "busybox"),
        symlink("/usr/bin/modprobe", "../sbin/busybox"), symlink("/usr/sbin/poweroff", "busybox")])
    real = Package("real", "r", entries=[file("/usr/bin/cp", data="x"), file("/usr/sbin/modprobe", data="x")])
    userland.drop_shadowing_applets([busybox, real])
    assert [e.path for e in busybox.entries] == ["/usr/sbin/poweroff"]


def _rpm(path: Path, *query: str) -> str:
    return subprocess.run(["rpm", "-qp", *query, str(path)], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def repo() -> Path:
    if os.geteuid() != 0:
        pytest.skip("needs root for the shared cache")
    return testdistro.build_repo(log=lambda msg: None, flavour="userland")


def test_a_repository_of_its_own(repo: Path) -> None:
    plain = testdistro.build_repo(log=lambda msg: None)
    assert repo != plain and testdistro.repo_info(repo)["flavour"] == "userland"
    assert "initramfs-livenet" not in " ".join(testdistro.repo_info(repo)["packages"])
    assert (repo.parent / "current-userland").resolve() == repo


def test_kernel_has_no_initramfs_and_its_posttrans_runs_dracut(repo: Path) -> None:
    kver = testdistro.kernel_version()
    rpm_file = next((repo / "Packages").glob("kernel-*.rpm"))
    files = _rpm(rpm_file, "-l").split()
    assert f"/boot/vmlinuz-{kver}" in files and f"/boot/initramfs-{kver}.img" not in files
    assert "dracut" in _rpm(rpm_file, "--requires").split()
    scripts = _rpm(rpm_file, "--scripts")
    assert "posttrans scriptlet" in scripts
    assert f"/usr/bin/dracut --force --no-hostonly /boot/initramfs-{kver}.img {kver}" in scripts


@pytest.mark.root
def test_the_userland_runs_chrooted(repo: Path, tmp_path: Path) -> None:
    """Unpacked with rpm --root: sh is bash, cp is coreutils' (not a busybox link), the real udevadm, dracut and
    lsinitrd run, and dracut sees the live modules but not livenet."""
    root = tmp_path / "root"
    rpms = [str(p) for p in (repo / "Packages").glob("*.rpm")
            if p.name.split("-1.0-")[0] in {*userland.PACKAGES, "userland-libs", "filesystem", "busybox"}]
    subprocess.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "--nodeps", "-i", *rpms], check=True,
                   capture_output=True)
    assert os.readlink(root / "usr/bin/sh") == "bash"
    assert not (root / "usr/bin/cp").is_symlink() and os.readlink(root / "usr/sbin/modprobe").endswith("/kmod")

    def chroot(*argv: str) -> str:
        proc = subprocess.run(["chroot", str(root), *argv], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, (argv, proc.stderr)
        return proc.stdout

    assert "GNU coreutils" in chroot("cp", "--version")
    assert chroot("udevadm", "--version").strip().isdigit()
    version = subprocess.run(["chroot", str(root), "dracut", "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.startswith("dracut 0"), version  # dracut 059 exits 1 after printing it, also on the host
    modules = set(os.listdir(root / "usr/lib/dracut/modules.d"))
    assert {"90dmsquash-live", "99testdistro-made-in"} <= modules and "90livenet" not in modules
    assert "DRACUT" in chroot("bash", "-c", "echo DRACUT | grep -o DRACUT | sed s/x/y/ | awk '{print}'")


def test_the_real_admin_tools_and_dracut_network_stay_out_of_other_images(repo: Path) -> None:
    """setfiles and firewall-offline-cmd are Debian's real programs (testdistro/extras.py), not stand-ins; livenet
    ships with dracut-network; and nothing a live or disk image installs anyway requires python3, firewalld,
    policycoreutils or dracut-network, so only the image that names them carries them (and their libraries)."""
    rpms = {p.name.split("-1.0-")[0]: p for p in (repo / "Packages").glob("*-1.0-1.*.rpm")}
    assert "/usr/sbin/setfiles" in _rpm(rpms["policycoreutils"], "-l").split()
    assert "/usr/bin/firewall-offline-cmd" in _rpm(rpms["firewalld"], "-l").split()
    assert "python3-firewall" in _rpm(rpms["firewalld"], "--requires").split()
    assert "/usr/bin/python3" in _rpm(rpms["python3"], "-l").split()
    assert "/usr/lib/dracut/modules.d/90livenet/livenetroot.sh" in _rpm(rpms["dracut-network"], "-l").split()
    assert "90livenet" not in _rpm(rpms["dracut-live"], "-l")
    heavy = {"python3", "firewalld", "policycoreutils", "dracut-network", "curl"}
    for name in (*userland.PACKAGES, "userland-libs", "filesystem", "busybox", "kernel"):
        rpm_file = rpms.get(name) or next((repo / "Packages").glob(f"{name}-*.rpm"))
        assert not heavy & set(_rpm(rpm_file, "--requires").split()), name
    assert "libcurl.so.4" not in _rpm(rpms["userland-libs"], "-l"), "curl's libraries come with curl"
