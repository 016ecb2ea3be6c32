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
                 "hostile-links", "post-demo", "docs-demo"):
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
