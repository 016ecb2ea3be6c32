"""The test distribution builder (testdistro): spec/comps generation, and the real cached repository."""

from __future__ import annotations

import gettext
import gzip
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import testdistro
from testdistro import comps, filler, kernel, packages, rpmspec

GROUP_IDS = {"core", "base", "docs", "post", "services", "boot", "admin-tools"}
TOOLS = ("rpmbuild", "createrepo_c", "dracut", "lsinitrd", "depmod", "dpkg-deb", "grub-mkimage", "apt-get")


# ---- pure unit tests (no tools, no root) ----

def test_public_interface() -> None:
    assert testdistro.MARKER == "LIVECD-TOOLS-BOOT-OK"
    assert testdistro.REPO_ARCH == "x86_64"
    assert callable(testdistro.build_repo) and callable(testdistro.kernel_version)


def test_default_cache_dir_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVECD_TESTDISTRO_CACHE", raising=False)
    assert testdistro.default_cache_dir() == Path("/var/cache/livecd-tools-testdistro")
    monkeypatch.setenv("LIVECD_TESTDISTRO_CACHE", "/tmp/elsewhere")
    assert testdistro.default_cache_dir() == Path("/tmp/elsewhere")


def test_comps_has_every_group_and_parses() -> None:
    root = ET.fromstring(comps.comps_xml(["filler-0001", "filler-0002"]))
    groups = {g.findtext("id"): g for g in root.iter("group")}
    assert set(groups) == GROUP_IDS | {"filler"}
    assert groups["boot"].findtext("name") == "Boot loaders"
    reqs = {(r.get("type"), r.text) for r in groups["base"].iter("packagereq")}
    assert reqs == {("mandatory", "demo-app"), ("optional", "docs-demo")}
    core = {r.text for r in groups["core"].iter("packagereq")}
    assert core == {"filesystem", "busybox", "live-init"}
    boot = {(r.get("type"), r.text) for r in groups["boot"].iter("packagereq")}
    assert {("optional", "grub2-pc"), ("optional", "grub2-tools")} <= boot  # kickstarts name them; @boot as before
    assert ("mandatory", "kernel") in boot and not {n for t, n in boot if t != "optional"} & {"grub2-pc", "grub2-tools"}
    category = root.find("category")
    assert category is not None
    assert {g.text for g in category.iter("groupid")} == GROUP_IDS | {"filler"}
    assert "filler" not in {g.findtext("id") for g in ET.fromstring(comps.comps_xml()).iter("group")}


def test_mo_file_is_a_valid_catalogue() -> None:
    data = packages.mo_file({"": "Content-Type: text/plain; charset=UTF-8\n", "Hello world": "Hallo Welt"})
    cat = gettext.GNUTranslations(io.BytesIO(data))
    assert cat.gettext("Hello world") == "Hallo Welt"


def test_spec_text_flags_and_subpackages() -> None:
    pkg = rpmspec.Package("docs-x", "100% docs", arch="noarch", requires=["filesystem"],
                          requires_post=["/bin/sh"], recommends=["extra"], post="echo hi\n", entries=[
                              rpmspec.file("/usr/share/doc/x/README", data="r", directive="%doc"),
                              rpmspec.file("/usr/share/locale/de/x.mo", data="m", directive="%lang(de)"),
                              rpmspec.file("/etc/secret", data="s", mode=0o000),
                              rpmspec.directory("/usr/share/x"),
                              rpmspec.symlink("/usr/bin/[", "busybox"),
                          ])
    text = rpmspec.spec_text("td-x", [pkg])
    assert "%package -n docs-x" in text and "BuildArch: noarch" in text
    assert "Summary: 100%% docs" in text
    assert "Requires(post): /bin/sh" in text and "Recommends: extra" in text
    assert "%post -n docs-x\necho hi" in text
    assert "%doc %attr(0644,root,root) /usr/share/doc/x/README" in text
    assert "%lang(de) %attr(0644,root,root) /usr/share/locale/de/x.mo" in text
    assert "%attr(0000,root,root) /etc/secret" in text
    assert "%attr(0755,root,root) %dir /usr/share/x" in text
    assert "%attr(-,root,root) /usr/bin/[" in text


@pytest.mark.parametrize("path", ["/usr/bin/a b", "/usr/bin/%{x}", "/usr/bin/*", "relative", "/usr/bin/[x"])
def test_spec_rejects_unsafe_paths(path: str) -> None:
    pkg = rpmspec.Package("p", "p", entries=[rpmspec.file(path, data="x")])
    with pytest.raises(ValueError):
        rpmspec.spec_text("td-p", [pkg])


def test_conflicting_paths_are_refused() -> None:
    a = rpmspec.Package("a", "a", entries=[rpmspec.file("/usr/bin/x", data="1")])
    b = rpmspec.Package("b", "b", entries=[rpmspec.file("/usr/bin/x", data="2")])
    with pytest.raises(RuntimeError, match="/usr/bin/x"):
        packages.check_conflicts([a, b])


def test_identical_files_may_be_shared() -> None:
    """rpm installs a path from two packages when the files are identical (a host library in rpm and grub2-tools)."""
    lib = Path("/bin/sh").resolve()
    a = rpmspec.Package("a", "a", entries=[rpmspec.file("/usr/lib/x/libx.so", src=lib, mode=0o755)])
    b = rpmspec.Package("b", "b", entries=[rpmspec.file("/usr/lib/x/libx.so", src=Path("/bin/sh"), mode=0o755)])
    packages.check_conflicts([a, b])
    c = rpmspec.Package("c", "c", entries=[rpmspec.file("/usr/lib/x/libx.so", src=lib, mode=0o644)])
    with pytest.raises(RuntimeError, match="libx.so"):
        packages.check_conflicts([a, c])


def test_library_entries_cover_the_closure() -> None:
    entries = packages.library_entries([Path("/usr/bin/rpm"), Path("/bin/ls")])
    paths = [e.path for e in entries]
    assert len(paths) == len(set(paths))
    assert packages.LIB_DIR in paths
    assert f"{packages.LIB_DIR}/libc.so.6" in paths and "/usr/lib64/ld-linux-x86-64.so.2" in paths


def test_initramfs_drivers_boot_disks() -> None:
    drivers = kernel.INITRAMFS_DRIVERS.split()
    for needed in ("ahci", "libahci", "ata_piix", "virtio_blk", "sd_mod", "ext4", "xfs", "vfat", "fat",
                   "nls_cp437", "nls_ascii", "nls_iso8859_1", "squashfs", "dm_snapshot", "overlay"):
        assert needed in drivers
    assert set(kernel.INITRAMFS_REQUIRED_DRACUT_MODULES) == {"dmsquash-live", "dmsquash-live-erofs", "rootfs-block"}


def _busybox_sh() -> list[str]:
    if not Path("/bin/busybox").exists():
        pytest.skip("busybox-static not installed")
    return ["/bin/busybox", "sh"]


def test_live_check_reports_mounts(tmp_path: Path) -> None:
    """live-check against a fake /proc/mounts: one "mount:" line per real filesystem, the fstab failures, and a
    root-uuid line; the existing keys are still there."""
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "rootfs / rootfs rw 0 0\n"
        "/dev/vda3 / xfs rw,relatime,attr2 0 0\n"
        "proc /proc proc rw,nosuid 0 0\nsysfs /sys sysfs rw 0 0\ndevtmpfs /dev devtmpfs rw,size=1k 0 0\n"
        "devpts /dev/pts devpts rw,gid=5 0 0\ntmpfs /run tmpfs rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"
        "/dev/vda2 /boot/efi vfat ro,relatime,fmask=0077 0 0\n")
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("root=UUID=x livecheck.write_mib=0\n")
    text = (packages.DATA / "live-check.sh").read_text()
    script = tmp_path / "live-check"
    script.write_text(text.replace("/proc/mounts", str(mounts)).replace("/proc/cmdline", str(cmdline)))
    env = dict(os.environ, LIVE_INIT_FSTAB_FAILED="/data mount: mounting /dev/vdb1 on /data failed\n")
    out = subprocess.run([*_busybox_sh(), str(script)], capture_output=True, text=True, env=env,
                         timeout=60).stdout.splitlines()
    checks = [line.split(" ", 1)[1] for line in out if line.startswith("LIVECD-TOOLS-CHECK ")]
    keys = [c.split(": ", 1)[0] for c in checks]
    for key in ("os-release", "file /etc/hostname", "df-before", "rpm-count", "root-uuid"):
        assert key in keys, out
    assert "write" not in keys  # livecheck.write_mib=0
    assert [c for c in checks if c.startswith("mount: ")] == [
        "mount: /dev/vda3 / xfs rw", "mount: /dev/vda2 /boot/efi vfat ro"]
    assert "fstab-failed: /data mount: mounting /dev/vdb1 on /data failed" in checks
    assert keys.count("root-uuid") == 1


def _script_part(name: str, start: str, end: str) -> str:
    text = (packages.DATA / name).read_text()
    return text[text.index(start):text.index(end)]


@pytest.mark.parametrize("fstype", ["ext4", "xfs"])
def test_live_check_reads_uuid_from_superblock(tmp_path: Path, fstype: str) -> None:
    mkfs = shutil.which(f"mkfs.{fstype}")
    if mkfs is None:
        pytest.skip(f"mkfs.{fstype} not installed")
    image = tmp_path / "fs.img"
    with open(image, "wb") as f:
        f.truncate(320 << 20)
    uuid = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"
    args = ["-q", "-F", "-U", uuid] if fstype == "ext4" else ["-q", "-f", "-m", f"uuid={uuid}"]
    subprocess.run([mkfs, *args, str(image)], check=True, capture_output=True)
    functions = _script_part("live-check.sh", "hex_at() {", "root_uuid() {")
    proc = subprocess.run([*_busybox_sh(), "-c", f"{functions}\nsuperblock_uuid {image}"], capture_output=True,
                          text=True, timeout=60)
    assert proc.stdout.strip() == uuid
    (tmp_path / "zero").write_bytes(bytes(70000))
    proc = subprocess.run([*_busybox_sh(), "-c", f"{functions}\nsuperblock_uuid {tmp_path / 'zero'}"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and proc.stdout == ""


def test_live_init_mounts_fstab_but_not_the_root(tmp_path: Path) -> None:
    """The init's fstab loop: remounts / read-write (fstab does not say ro), skips swap, noauto and what is
    mounted; mounts the rest; collects failures."""
    fstab = tmp_path / "fstab"
    fstab.write_text(
        "# comment\n\n/dev/root  /  ext4  defaults,noatime  0 0\n"
        "UUID=1234-ABCD  /boot/efi  vfat  umask=0077,shortname=winnt  0 2\n"
        "UUID=abc  none  swap  defaults  0 0\n/dev/vdc1  /mnt/later  ext4  noauto  0 0\n"
        "/dev/vdb1  /data  xfs  defaults  0 0\n"
        "devpts     /dev/pts  devpts  gid=5,mode=620  0 0\nproc  /proc  proc  defaults  0 0\n")
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/mapper/live-rw / ext4 rw 0 0\nproc /proc proc rw 0 0\ndevpts /dev/pts devpts rw 0 0\n")
    calls = tmp_path / "calls"
    block = _script_part("live-init.sh", 'LIVE_INIT_FSTAB_FAILED=""', "export LIVE_INIT_FSTAB_FAILED")
    block = block.replace("/etc/fstab", str(fstab)).replace("/proc/mounts", str(mounts))
    fake_mount = (f'mount() {{ echo "$*" >> {calls}; '
                  '[ "$1" = /data ] && { echo "mount: mounting /dev/vdb1 on /data failed" >&2; return 1; }; '
                  'return 0; }\n')
    proc = subprocess.run([*_busybox_sh(), "-c", fake_mount + block + 'printf "%s" "$LIVE_INIT_FSTAB_FAILED"'],
                          capture_output=True, text=True, timeout=60)
    assert calls.read_text().splitlines() == ["-o remount,rw /", "/boot/efi", "/data"]
    assert proc.stdout == "/data mount: mounting /dev/vdb1 on /data failed \n"


def test_kernel_package_naming() -> None:
    k = kernel.KernelPackage("linux-image-6.1.0-56-amd64", "6.1.192-2")
    assert k.kver == "6.1.0-56-amd64"
    assert (k.rpm_version, k.rpm_release) == ("6.1.0", "56")
    assert k.deb_name == "linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb"
    assert kernel.KernelPackage("linux-image-6.1.0-56-amd64", "1:6.1-2").deb_name.endswith("_1%3a6.1-2_amd64.deb")


def test_filler_selection_is_deterministic_and_sized() -> None:
    a = filler.select(3)
    b = filler.select(3)
    assert [s.name for s in a] == ["filler-0001", "filler-0002", "filler-0003"]
    assert [s.files for s in a] == [s.files for s in b]
    for spec in a:
        size = sum(p.stat().st_size for p, _ in spec.files) + len(spec.synthetic)
        assert 1_000_000 <= size <= 2_500_000
    assert filler.select(0) == []


@pytest.mark.skipif(not Path("/bin/busybox").exists(), reason="busybox-static not installed")
def test_busybox_applets_are_in_usr() -> None:
    applets = packages.busybox_applets()
    assert "/usr/bin/sh" in applets
    assert all(p.startswith(("/usr/bin/", "/usr/sbin/")) for p in applets)
    assert "/usr/sbin/init" not in applets  # live-init owns it


# ---- the real repository (built once with the real tools, then cached by content) ----

def _can_build() -> str | None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing tools: {missing}"
    if os.geteuid() != 0 and not os.environ.get("LIVECD_TESTDISTRO_CACHE"):
        return "needs root (or LIVECD_TESTDISTRO_CACHE) for the shared cache"
    return None


@pytest.fixture(scope="module")
def repo() -> Path:
    reason = _can_build()
    if reason:
        pytest.skip(reason)
    return testdistro.build_repo(log=lambda msg: None)


def test_repo_has_metadata_and_groups(repo: Path) -> None:
    repomd = ET.parse(repo / "repodata" / "repomd.xml").getroot()
    ns = {"r": "http://linux.duke.edu/metadata/repo"}
    kinds: dict[str, str] = {}
    for data in repomd.findall("r:data", ns):
        location = data.find("r:location", ns)
        assert location is not None
        kinds[data.get("type", "")] = location.get("href", "")
    assert {"primary", "filelists", "group"} <= set(kinds)
    comps_root = ET.parse(repo / kinds["group"]).getroot()
    assert {g.findtext("id") for g in comps_root.iter("group")} >= GROUP_IDS
    with gzip.open(repo / kinds["primary"]) as f:
        primary = f.read().decode()
    for name in ("filesystem", "busybox", "live-init", "kernel", "syslinux", "grub2-efi-x64", "shim-x64",
                 "hostile-links", "post-demo", "docs-demo", "grub2-pc", "grub2-tools", "systemd-udev",
                 "initramfs-livenet"):
        assert f"<name>{name}</name>" in primary


def test_repo_is_cached(repo: Path) -> None:
    started = time.monotonic()
    again = testdistro.build_repo(log=lambda msg: None)
    assert again == repo
    assert time.monotonic() - started < 2.0


def test_repo_info_matches_kernel_version(repo: Path) -> None:
    info = testdistro.repo_info(repo)
    kver = testdistro.kernel_version()
    assert info["kernel_version"] == kver
    assert info["marker"] == testdistro.MARKER
    rpms = {p.name for p in (repo / "Packages").glob("*.rpm")}
    assert f"{info['kernel_nvra']}.rpm" in rpms
    assert len(rpms) == len(info["packages"])


def test_kernel_rpm_layout(repo: Path) -> None:
    kver = testdistro.kernel_version()
    rpm_file = next((repo / "Packages").glob("kernel-*.rpm"))
    out = subprocess.run(["rpm", "-qp", "--qf", "[%{FILEMODES:octal} %{FILENAMES}\n]", str(rpm_file)],
                         capture_output=True, text=True, check=True).stdout
    modes = {path: mode for mode, path in (line.split(" ", 1) for line in out.splitlines())}
    assert f"/boot/vmlinuz-{kver}" in modes
    assert modes[f"/boot/initramfs-{kver}.img"].endswith("600")
    assert f"/usr/lib/modules/{kver}/vmlinuz" in modes
    assert f"/usr/lib/modules/{kver}/modules.dep" in modes
    assert any(p.endswith("/squashfs.ko") for p in modes)
    provides = subprocess.run(["rpm", "-qp", "--provides", str(rpm_file)], capture_output=True, text=True,
                              check=True).stdout
    assert "kernel-core" in provides


def _rpm_query(rpm_file: Path, *args: str) -> str:
    return subprocess.run(["rpm", "-qp", *args, str(rpm_file)], capture_output=True, text=True, check=True).stdout


def test_kernel_initramfs_boots_disks(repo: Path, tmp_path: Path) -> None:
    """The kernel's initramfs carries the disk drivers and dracut's rootfs-block; the package ships the modules
    the booted system loads for /boot/efi (vfat, its nls)."""
    kver = testdistro.kernel_version()
    rpm_file = next((repo / "Packages").glob("kernel-*.rpm"))
    files = _rpm_query(rpm_file, "-l").split()
    for mod in ("drivers/ata/ahci.ko", "drivers/ata/libahci.ko", "fs/xfs/xfs.ko", "fs/fat/vfat.ko",
                "fs/nls/nls_ascii.ko", "fs/nls/nls_cp437.ko", "drivers/block/virtio_blk.ko"):
        assert any(f.endswith(mod) or f.endswith(mod + ".xz") for f in files), mod
    rpm2cpio = subprocess.Popen(["rpm2cpio", str(rpm_file)], stdout=subprocess.PIPE)
    subprocess.run(["cpio", "-idm", "--quiet", f"./boot/initramfs-{kver}.img"], stdin=rpm2cpio.stdout,
                   cwd=tmp_path, check=True)
    assert rpm2cpio.wait() == 0
    image = tmp_path / "boot" / f"initramfs-{kver}.img"
    names = {m.rsplit("/", 1)[-1].split(".ko")[0].replace("-", "_") for m in kernel.initramfs_modules(image, kver)}
    assert {"ahci", "libahci", "ata_piix", "virtio_blk", "sd_mod", "ext4", "xfs", "vfat", "nls_ascii",
            "squashfs", "dm_snapshot"} <= names
    dracut_mods = set(kernel.initramfs_dracut_modules(image))
    assert {"dmsquash-live", "rootfs-block"} <= dracut_mods
    assert not {"network", "livenet", "qemu-net", "url-lib"} & dracut_mods, "no network: that is initramfs-livenet"


def test_initramfs_livenet_package(repo: Path, tmp_path: Path) -> None:
    """The livenet variant: the kernel's initramfs plus livenet, a DHCP network (network-legacy: dhclient) and
    url-lib (curl), with QEMU's NIC drivers only; its %post puts it in place of the kernel's."""
    kver = testdistro.kernel_version()
    rpm_file = next((repo / "Packages").glob("initramfs-livenet-*.rpm"))
    stored = f"/usr/lib/testdistro/initramfs-livenet-{kver}.img"
    assert stored in _rpm_query(rpm_file, "-l").split()
    assert f"cp -f {stored} /boot/initramfs-{kver}.img" in _rpm_query(rpm_file, "--scripts")
    assert "kernel = " in _rpm_query(rpm_file, "--requires")
    rpm2cpio = subprocess.Popen(["rpm2cpio", str(rpm_file)], stdout=subprocess.PIPE)
    subprocess.run(["cpio", "-idm", "--quiet", f".{stored}"], stdin=rpm2cpio.stdout, cwd=tmp_path, check=True)
    assert rpm2cpio.wait() == 0
    image = tmp_path / stored.lstrip("/")
    assert set(kernel.LIVENET_REQUIRED_DRACUT_MODULES) | {"dmsquash-live", "rootfs-block"} \
        <= set(kernel.initramfs_dracut_modules(image))
    mods = kernel.initramfs_modules(image, kver)
    nics = {m.rsplit("/", 1)[-1].split(".ko")[0] for m in mods if m.startswith("kernel/drivers/net/")}
    assert nics == {"virtio_net", "net_failover", "e1000"}, "QEMU's NIC drivers (and virtio_net's dependency) only"


def test_grub2_tools_package(repo: Path) -> None:
    rpm_file = next((repo / "Packages").glob("grub2-tools-*.rpm"))
    files = set(_rpm_query(rpm_file, "-l").split())
    assert set(packages.GRUB_TOOLS) <= files
    assert {"/usr/share/grub/unicode.pf2", "/usr/lib64/ld-linux-x86-64.so.2",
            f"{packages.LIB_DIR}/libc.so.6", f"{packages.LIB_DIR}/libdevmapper.so.1.02.1"} <= files
    assert "/usr/bin/udevadm" in _rpm_query(rpm_file, "--requires")
    pc = next((repo / "Packages").glob("grub2-pc-1*.rpm"))
    assert {"grub2-pc-modules", "grub2-tools"} <= set(_rpm_query(pc, "--requires").split())


@pytest.mark.root
def test_grub2_tools_run_chrooted(repo: Path, tmp_path: Path) -> None:
    """grub2-tools and what it needs, unpacked with rpm --root: every tool runs chrooted and grub2-mkimage
    builds a BIOS core image from grub2-pc-modules."""
    root = tmp_path / "root"
    names = ("filesystem", "busybox", "grub2-tools", "grub2-pc-modules", "grub2-pc", "systemd-udev")
    rpms = [next((repo / "Packages").glob(f"{n}-1.0-*.rpm")) for n in names]
    subprocess.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-i", *map(str, rpms)], check=True,
                   capture_output=True)
    for tool in packages.GRUB_TOOLS:
        proc = subprocess.run(["chroot", str(root), tool, "--version"], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and "(GRUB)" in proc.stdout, (tool, proc.stderr)
    proc = subprocess.run(["chroot", str(root), "/usr/bin/grub2-mkimage", "-O", "i386-pc", "-o", "/tmp/core.img",
                           "-p", "(hd0,gpt2)/boot/grub2", "biosdisk", "part_gpt", "ext2", "xfs"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (root / "tmp/core.img").stat().st_size > 10_000


def test_cli_prints_path_last(repo: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "testdistro", "--print-path"], capture_output=True, text=True,
                          check=True, cwd=Path(testdistro.__file__).parent.parent)
    assert proc.stdout.strip().splitlines()[-1] == str(repo)


@pytest.mark.root
def test_dnf_installs_groups(repo: Path) -> None:
    """Install core+base+boot+post with the dnf API into a temporary root."""
    dnf = pytest.importorskip("dnf")
    rpm = pytest.importorskip("rpm")
    root = Path(tempfile.mkdtemp(prefix="testdistro-root-"))
    try:
        conf = dnf.conf.Conf()
        conf.installroot = str(root)
        conf.releasever = "1"
        conf.reposdir = []
        for opt in ("cachedir", "logdir", "persistdir"):
            conf.prepend_installroot(opt)
            os.makedirs(getattr(conf, opt), exist_ok=True)
        base = dnf.Base(conf)
        rpm.addMacro("_dbpath", "/var/lib/rpm")
        try:
            base.repos.add_new_repo("testdistro", conf, baseurl=[f"file://{repo}"])
            base.fill_sack(load_system_repo=False)
            base.read_comps()
            for gid in ("core", "base", "boot", "post"):
                base.group_install(gid, ("mandatory", "default"))
            base.resolve()
            base.download_packages(list(base.transaction.install_set))
            base.do_transaction()
        finally:
            base.close()
            rpm.delMacro("_dbpath")
        out = subprocess.run(["rpm", "-qa", "--qf", "%{NAME}\n", "--root", str(root), "--dbpath", "/var/lib/rpm"],
                             capture_output=True, text=True, check=True).stdout
        names = set(out.split())
        assert {"filesystem", "busybox", "live-init", "demo-app", "libdemo", "demo-extras", "kernel",
                "shim-x64", "post-demo"} <= names
        assert "docs-demo" not in names  # optional in base
        assert "grub2-tools" not in names and "grub2-pc" not in names  # optional in boot
        assert (root / "var/lib/post-demo/ran").read_text().strip() == "post-demo %post ran"
        assert (root / "bin").is_symlink() and (root / "bin/sh").exists()
        assert (root / "sbin/init").read_text().count(testdistro.MARKER) == 1
        kver = testdistro.kernel_version()
        assert (root / f"boot/vmlinuz-{kver}").is_file()
        assert (root / "boot/efi/EFI/BOOT/BOOTX64.EFI").is_file()
        assert (root / "usr/share/syslinux/isolinux.bin").is_file()
        assert "ID=testdistro" in (root / "etc/os-release").read_text()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_aarch64_flavour_is_arm64_with_a_busybox_initramfs(aarch64_repo: Path, tmp_path: Path) -> None:
    """The aarch64 flavour: aarch64 RPMs of Debian's arm64 kernel, busybox and GRUB, the kernel's initramfs
    made of busybox's init (no dracut: the host's would copy x86_64 programs) with the drivers a virt machine's
    disk and CD need, and no x86 boot loader."""
    info = testdistro.repo_info(aarch64_repo)
    assert info["arch"] == "aarch64" and info["flavour"] == "aarch64" and info["kernel_version"].endswith("-arm64")
    arches = {p.rsplit(".", 1)[0].rsplit("-", 2)[0]: p.rsplit(".", 1)[1] for p in info["packages"]}
    assert arches["kernel"] == arches["busybox"] == arches["shim-aa64"] == arches["grub2-efi-aa64-cdboot"] == "aarch64"
    assert not {"syslinux", "grub2-pc", "grub2-efi-x64", "shim-x64", "rpm"} & set(arches), arches
    kver = info["kernel_version"]
    rpm_file = next((aarch64_repo / "Packages").glob("kernel-*.aarch64.rpm"))
    rpm2cpio = subprocess.Popen(["rpm2cpio", str(rpm_file)], stdout=subprocess.PIPE)
    subprocess.run(["cpio", "-idm", "--quiet", f"./boot/initramfs-{kver}.img"], stdin=rpm2cpio.stdout,
                   cwd=tmp_path, check=True)
    assert rpm2cpio.wait() == 0
    listing = subprocess.run(["cpio", "-it", "--quiet"], input=gzip.decompress(
        (tmp_path / "boot" / f"initramfs-{kver}.img").read_bytes()), capture_output=True, check=True).stdout.decode()
    names = {line.rsplit("/", 1)[-1].split(".ko")[0] for line in listing.split()}
    assert {"init", "busybox", "virtio_blk", "virtio_scsi", "sr_mod", "ext4", "crc32c_generic", "vfat", "isofs",
            "squashfs", "overlay", "modules.dep"} <= names, names
