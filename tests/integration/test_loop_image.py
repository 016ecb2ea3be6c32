"""Loopback filesystem images built for real: dnf installs from the test distribution into loop-mounted ext4."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import imgcreate
from imgcreate.build.artifacts import ArtifactKind
from tests.support import Built, MakeKs, MountImage, RepoServer, assert_failed, host_state, image_creator, images_in

pytestmark = pytest.mark.root

POSTS = """
%post
echo "in chroot" > /etc/post-chroot
test -c /dev/null && test -c /dev/urandom && test -e /proc/self/status && test -d /sys/kernel \
  && grep -q " /dev/pts devpts" /proc/mounts && grep -q " /dev/shm tmpfs" /proc/mounts && echo ok > /etc/api-fs
test -f /var/lib/post-demo/ran && echo yes > /etc/post-saw-scriptlet
%end
%post --nochroot
echo "on host $IMG_NAME" > "$INSTALL_ROOT/etc/post-nochroot"
%end
"""


def build(make_ks, tmp_path: Path, body: str, *extra: str, label: str = "DEMO", check: bool = True) -> Built:
    return image_creator(make_ks(body), tmp_path, *extra, fslabel=label, check=check)


def test_image_creator_builds_a_checked_sparse_image(make_ks: MakeKs, tmp_path: Path,
                                                     mount_image: MountImage) -> None:
    body = "%packages\n@base\npost-demo\n%end\n" + POSTS
    image = build(make_ks, tmp_path, body).image
    assert [p.name for p in images_in(image.parent)] == ["DEMO.img"]
    st = image.stat()
    assert st.st_size == 512 * 1024 * 1024, "kept at its nominal size"
    assert st.st_blocks * 512 < st.st_size / 2, "kept sparse"
    fsck = subprocess.run(["e2fsck", "-fn", str(image)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    label = subprocess.run(["e2label", str(image)], capture_output=True, text=True, check=True).stdout.strip()
    assert label == "DEMO"
    img = mount_image(image)
    rpms = img.rpms()
    assert {"filesystem", "busybox", "live-init", "demo-app", "libdemo", "post-demo"} <= rpms
    assert (img / "var/lib/post-demo/ran").exists(), "the package's %post scriptlet ran"
    assert (img / "etc/post-chroot").read_text() == "in chroot\n"
    assert (img / "etc/post-saw-scriptlet").read_text() == "yes\n"
    assert (img / "etc/api-fs").read_text() == "ok\n", "/proc, /sys, /dev nodes, /dev/pts, /dev/shm in the root"
    assert (img / "etc/post-nochroot").read_text() == "on host DEMO\n"
    fstab = (img / "etc/fstab").read_text()
    assert "LABEL=DEMO" in fstab and " / " in fstab and "ext4" in fstab
    # nothing of the build machinery is left in the image
    assert not list((img / "dev").iterdir())
    assert not [p for p in (img / "tmp").iterdir() if p.name.startswith("ks-script")]


def test_five_api_steps_in_order(make_ks: MakeKs, tmp_path: Path, mount_image: MountImage) -> None:
    """The API's steps, given the kickstart's handler (the API takes a parser or a handler alike)."""
    ks = imgcreate.read_kickstart(make_ks("part / --size 300 --fstype ext3\n%packages\ndemo-app\n%end\n")).handler
    out = tmp_path / "out"
    with imgcreate.LoopImageCreator(ks, "api-image", fslabel="APIIMG", tmpdir=tmp_path) as creator:
        creator.mount()
        creator.install()
        creator.configure()
        creator.unmount()
        creator.package(out)
        builddir = creator.builddir
        assert {a.path.name: a.kind for a in creator.artifacts} == {
            "api-image.img": ArtifactKind.FILESYSTEM_IMAGE, "api-image-CHECKSUM": ArtifactKind.MANIFEST,
            "api-image.flattened.ks": ArtifactKind.MANIFEST, "api-image.packages": ArtifactKind.MANIFEST}
        assert not any(a.bootable for a in creator.artifacts)
        assert builddir is not None and builddir.exists()
    assert not builddir.exists(), "cleanup() ran when the with-block ended"
    assert "demo-app" in (out / "api-image.flattened.ks").read_text()
    image = out / "api-image.img"
    assert image.stat().st_size == 300 * 1024 * 1024
    blkid = subprocess.run(["blkid", "-o", "export", str(image)], capture_output=True, text=True).stdout
    assert "TYPE=ext3" in blkid and "LABEL=APIIMG" in blkid
    assert {"demo-app", "libdemo", "busybox"} <= mount_image(image).rpms()


def test_groups_and_excludes(make_ks: MakeKs, tmp_path: Path, mount_image: MountImage) -> None:
    body = "%packages --nocore\nfilesystem\n@base --optional\n-@docs\n-demo-extras\n%end\n"
    image = build(make_ks, tmp_path, body).image
    rpms = mount_image(image).rpms()
    assert "demo-app" in rpms and "libdemo" in rpms, "group's mandatory package and its dependency"
    assert "docs-demo" not in rpms, "-@docs removes the group's packages from the optional list"
    assert "demo-extras" not in rpms, "-package excludes even a weak dependency"
    assert "live-init" not in rpms, "--nocore skips @core"


def test_core_is_implied_and_optional_only_when_asked(make_ks: MakeKs, tmp_path: Path,
                                                      mount_image: MountImage) -> None:
    image = build(make_ks, tmp_path, "%packages\n@base\n%end\n").image
    rpms = mount_image(image).rpms()
    assert {"busybox", "live-init", "filesystem"} <= rpms, "@core is installed without --nocore"
    assert "docs-demo" not in rpms, "optional packages need --optional"
    assert "demo-extras" in rpms, "weak dependencies are installed by default"


def test_excludedocs_instlangs_excludeweakdeps(make_ks: MakeKs, tmp_path: Path, mount_image: MountImage) -> None:
    body = "%packages --excludedocs --instLangs=de --excludeWeakdeps\ndocs-demo\ndemo-app\n%end\n"
    image = build(make_ks, tmp_path, body).image
    img = mount_image(image)
    assert (img / "usr/share/docs-demo/data").exists()
    assert not (img / "usr/share/doc/docs-demo/README").exists()
    assert (img / "usr/share/locale/de/LC_MESSAGES/docs-demo.mo").exists()
    assert not (img / "usr/share/locale/fr/LC_MESSAGES/docs-demo.mo").exists()
    assert "demo-extras" not in img.rpms()


def test_docs_and_all_languages_by_default(make_ks: MakeKs, tmp_path: Path, mount_image: MountImage) -> None:
    image = build(make_ks, tmp_path, "%packages\ndocs-demo\n%end\n").image
    img = mount_image(image)
    assert (img / "usr/share/doc/docs-demo/README").exists()
    for lang in ("de", "fr", "ja"):
        assert (img / f"usr/share/locale/{lang}/LC_MESSAGES/docs-demo.mo").exists()


@pytest.mark.parametrize("missing", ["no-such-package", "@no-such-group"])
def test_missing_package_or_group_fails_with_its_name(make_ks: MakeKs, tmp_path: Path, missing: str) -> None:
    built = build(make_ks, tmp_path, f"%packages\ndemo-app\n{missing}\n%end\n", check=False)
    assert_failed(built.proc, missing)
    assert not built.image.parent.exists() or not list(built.image.parent.iterdir())
    assert not list(tmp_path.glob("imgcreate-*")), "build directory removed"


def test_ignoremissing(make_ks: MakeKs, tmp_path: Path, mount_image: MountImage) -> None:
    image = build(make_ks, tmp_path, "%packages --ignoremissing\ndemo-app\nno-such-package\n%end\n").image
    assert "demo-app" in mount_image(image).rpms()


def test_cache_is_reused_without_downloading(make_ks: MakeKs, tmp_path: Path, repo_server: RepoServer) -> None:
    cache = tmp_path / "cache"
    ks = make_ks("%packages\n@base\n%end\n", repo_url=repo_server.url)
    for i in (1, 2):
        image_creator(ks, tmp_path, "--cache", str(cache), fslabel=f"C{i}")
        if i == 1:
            first = repo_server.rpm_requests()
            assert any("demo-app" in r for r in first), "the first build downloads"
            repo_server.requests.clear()
    assert repo_server.rpm_requests() == [], "the second build downloads no package"
    assert not [r for r in repo_server.requests if "primary" in r], "nor the repository metadata"
    # --cacheonly works from the same cache with the server gone
    repo_server.close()
    image_creator(ks, tmp_path, "--cache", str(cache), "--cacheonly", fslabel="C3")
    assert (tmp_path / "out/C3.img").exists()


def test_post_erroronfail_stops_the_build(make_ks: MakeKs, tmp_path: Path) -> None:
    body = "%packages\n%end\n%post --erroronfail\necho about-to-fail\nexit 3\n%end\n"
    built = build(make_ks, tmp_path, body, check=False)
    proc = built.proc
    assert proc.returncode != 0
    assert "%post" in proc.stderr and "exit status 3" in proc.stderr and "about-to-fail" in proc.stderr
    assert not built.image.exists()


def test_post_whose_interpreter_the_image_lacks_stops_the_build(make_ks: MakeKs, tmp_path: Path) -> None:
    """As upstream (its exec fails): no --erroronfail needed, and the message names the script and interpreter."""
    built = build(make_ks, tmp_path, "%packages\n%end\n%post --interpreter /usr/bin/python3\nprint(1)\n%end\n",
                  check=False)
    assert built.proc.returncode == 1, built.proc.stderr
    assert "interpreter /usr/bin/python3 is not in the image" in built.proc.stderr and "line" in built.proc.stderr
    assert "Traceback" not in built.proc.stderr and not built.image.exists()


def test_post_failure_without_erroronfail_continues(make_ks: MakeKs, tmp_path: Path,
                                                    mount_image: MountImage) -> None:
    body = ("%packages\n%end\n%post\nexit 3\n%end\n"
            "%post --interpreter /usr/bin/sh --log /root/post.log\necho logged\n%end\n")
    image = build(make_ks, tmp_path, body).image
    assert (mount_image(image) / "root/post.log").read_text() == "logged\n"


def test_host_rpmdb_and_dnf_state_untouched(make_ks: MakeKs, tmp_path: Path) -> None:
    watched = ("/var/lib/rpm", "/var/lib/dnf", "/var/cache/dnf", "/var/log/dnf.log", os.path.expanduser("~/.rpmdb"),
               "/etc/dnf", "/etc/yum.repos.d")
    before = host_state(*watched, mtimes=True)
    build(make_ks, tmp_path, "%packages\ndemo-app\n%end\n")
    assert host_state(*watched, mtimes=True) == before


def test_sample_kickstart_builds_as_the_readme_says(testrepo: Path, tmp_path: Path,
                                                    mount_image: MountImage) -> None:
    """`image-creator -c config/testdistro-minimal.ks --fslabel DEMO` (its repo is the test distribution's)."""
    assert (testrepo.parent / "current").resolve() == testrepo.resolve(), "build_repo links <cache>/current"
    ks = tmp_path / "minimal.ks"
    sample = (Path(__file__).parents[2] / "config/testdistro-minimal.ks").read_text()
    ks.write_text(sample.replace("file:///var/cache/livecd-tools-testdistro/current", f"file://{testrepo}"))
    img = mount_image(image_creator(ks, tmp_path, fslabel="DEMO").image)
    assert {"busybox", "demo-app", "post-demo"} <= img.rpms()
    assert (img / "etc/motd").read_text() == "built by image-creator\n"
    assert (img / "var/lib/post-demo/ran").exists()
    assert "LABEL=DEMO" in (img / "etc/fstab").read_text()


def test_failing_post_scriptlet_warns(make_ks: MakeKs, tmp_path: Path, mount_image: MountImage) -> None:
    """A failed %post leaves the package installed (rpm's rule): a warning naming package and scriptlet."""
    built = build(make_ks, tmp_path, "%packages\n@core\nbad-post\n%end\n")
    assert "package bad-post: its %post scriptlet failed" in built.proc.stderr, built.proc.stderr
    assert "bad-post" in mount_image(built.image).rpms()


def test_rpm_settings_kept_for_later_installs(make_ks: MakeKs, tmp_path: Path, testrepo: Path) -> None:
    """--excludedocs and --instLangs go to /etc/rpm/macros.imgcreate, and the image's own rpm honours them."""
    image = build(make_ks, tmp_path, "%packages --excludedocs --instLangs=de\n@core\nrpm\n%end\n").image
    mnt = tmp_path / "rw"
    mnt.mkdir()
    subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], check=True)
    try:
        macros = (mnt / "etc/rpm/macros.imgcreate").read_text()
        assert "%_excludedocs 1\n" in macros and "%_install_langs de\n" in macros
        shutil.copy(testrepo / "Packages/docs-demo-1.0-1.noarch.rpm", mnt / "tmp/docs-demo.rpm")
        subprocess.run(["chroot", str(mnt), "/usr/bin/rpm", "-i", "/tmp/docs-demo.rpm"], check=True)
        assert (mnt / "usr/share/docs-demo/data").exists(), "installed afterwards, inside the image"
        assert not (mnt / "usr/share/doc/docs-demo/README").exists(), "%_excludedocs honoured"
        assert (mnt / "usr/share/locale/de/LC_MESSAGES/docs-demo.mo").exists()
        assert not (mnt / "usr/share/locale/fr/LC_MESSAGES/docs-demo.mo").exists(), "%_install_langs honoured"
    finally:
        subprocess.run(["umount", "-d", str(mnt)], check=True)


def test_rpm_macros_file_without_settings(make_ks: MakeKs, tmp_path: Path, mount_image: MountImage) -> None:
    """Always written (scripts look for it), empty of settings when %packages asks for none; docs installed."""
    image = build(make_ks, tmp_path, "%packages\n@core\ndocs-demo\n%end\n").image
    img = mount_image(image)
    macros = (img / "etc/rpm/macros.imgcreate").read_text()
    assert "%_excludedocs" not in macros and "%_install_langs" not in macros
    assert (img / "usr/share/doc/docs-demo/README").exists()
