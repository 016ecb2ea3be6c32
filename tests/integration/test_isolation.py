"""The host is never changed outside --tmpdir, --cache and --output; two builds can share a cache."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from tests.support import MountImage, RepoServer, host_state, images_in, run_tool

pytestmark = pytest.mark.root


HOST_STATE = ("/etc", "/var/lib/rpm", "/var/lib/dnf", "/var/cache/dnf", "/var/log/dnf.log", "/var/log/dnf.rpm.log",
              "/var/log/hawkey.log", os.path.expanduser("~/.rpmdb"))


def test_host_state_identical_after_a_live_build(tmp_path: Path, testrepo: Path) -> None:
    ks = tmp_path / "iso.ks"
    ks.write_text(f"part / --size 300\nrepo --name=t --baseurl=file://{testrepo}\nlang de_DE.UTF-8\n"
                  "network --hostname=isolated\ntimezone Europe/Berlin\nrootpw secret\n"
                  "%packages\n@core\nkernel\npost-demo\n%end\n%post\necho x > /etc/post-file\n%end\n")
    mounts_before = [m for m in Path("/proc/self/mountinfo").read_text().splitlines() if str(tmp_path) in m]
    before = host_state(*HOST_STATE)
    run_tool("livecd-creator", "-c", str(ks), "-f", "ISO", "--tmpdir", str(tmp_path), "-o", str(tmp_path / "o"),
             "--compression-type", "lz4")
    after = host_state(*HOST_STATE)
    changed = {k: (before.get(k), after.get(k)) for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == {}
    assert [m for m in Path("/proc/self/mountinfo").read_text().splitlines() if str(tmp_path) in m] == mounts_before


HOSTILE_TARGETS = {
    "/tmp/hostile-target-vconsole": "host vconsole\n",
    "/tmp/hostile-target-hostname": "host hostname\n",
    "/tmp/hostile-target-desktop": "host desktop\n",
    "/tmp/hostile-target-selinux": "host selinux\n",
}


def test_hostile_symlinks_never_write_to_the_host(tmp_path: Path, testrepo: Path, mount_image: MountImage) -> None:
    for path, text in HOSTILE_TARGETS.items():
        Path(path).write_text(text)
    passwd_before = Path("/etc/passwd").read_bytes()
    try:
        ks = tmp_path / "hostile.ks"
        ks.write_text(
            f"part / --size 300\nrepo --name=t --baseurl=file://{testrepo}\n"
            "lang de_DE.UTF-8\nkeyboard --vckeymap=de --xlayouts=de\nnetwork --hostname=inside\n"
            "xconfig --defaultdesktop=GNOME\nselinux --disabled\n"
            "%packages\n@core\nhostile-links\n%end\n"
        )
        run_tool("image-creator", "-c", str(ks), "--fslabel", "HOSTILE", "--tmpdir", str(tmp_path),
                 "-o", str(tmp_path / "o"))
        for path, text in HOSTILE_TARGETS.items():
            assert Path(path).read_text() == text, f"{path} on the host was written through a symlink"
        assert not Path("/etc/passwd-HOSTILE-TARGET").exists()
        assert Path("/etc/passwd").read_bytes() == passwd_before
        img = mount_image(tmp_path / "o/HOSTILE.img")
        assert (img / "etc/hostname").read_text() == "inside\n"
        assert 'LANG="de_DE.UTF-8"' in (img / "etc/locale.conf").read_text()
        assert "KEYMAP" in (img / "etc/vconsole.conf").read_text()
    finally:
        for path in HOSTILE_TARGETS:
            Path(path).unlink(missing_ok=True)


def test_two_builds_at_once_share_a_cache(tmp_path: Path, repo_server: RepoServer) -> None:
    cache = tmp_path / "cache"
    ks = tmp_path / "c.ks"
    ks.write_text(f"part / --size 300\nrepo --name=t --baseurl={repo_server.url}\n"
                  "%packages\n@core\n@base\nkernel\n%end\n")
    results: dict[str, subprocess.CompletedProcess[str]] = {}

    def build(label: str) -> None:
        results[label] = run_tool("livecd-creator", "-c", str(ks), "-f", label, "--cache", str(cache),
                                  "--tmpdir", str(tmp_path), "-o", str(tmp_path / "out"), "--compression-type",
                                  "lz4", check=False)

    threads = [threading.Thread(target=build, args=(label,)) for label in ("TWIN-A", "TWIN-B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for label, proc in results.items():
        assert proc.returncode == 0, f"{label}: {proc.stderr[-3000:]}"
    assert [p.name for p in images_in(tmp_path / "out")] == ["TWIN-A.iso", "TWIN-B.iso"]
    names = [r.rsplit("/", 1)[-1] for r in repo_server.rpm_requests()]
    assert len(names) == len(set(names)), f"a package was downloaded twice: {sorted(names)}"
