"""Kickstart repo lines: include/exclude lists, $releasever/$basearch, mirrorlists and metalinks, and the
options that only configure dnf (cost, proxy, noverifyssl)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from imgcreate import kickstart
from imgcreate.kickstart import RepoSpec
from imgcreate.packages import dnfcompat
from imgcreate.packages.dnfbackend import DnfInstaller
from tests.support import Built, MountImage, RepoServer, assert_failed, image_creator


def build(tmp_path: Path, ks_text: str, *extra: str, check: bool = True) -> Built:
    ks = tmp_path / "repo.ks"
    ks.write_text("part / --size 300\n" + ks_text)
    return image_creator(ks, tmp_path, *extra, fslabel="REPO", check=check)


@pytest.mark.root
def test_releasever_and_basearch_are_substituted(tmp_path: Path, testrepo: Path, mount_image: MountImage) -> None:
    tree = tmp_path / "mirror/42/x86_64"
    tree.parent.mkdir(parents=True)
    tree.symlink_to(testrepo)
    build(tmp_path, f"repo --name=sub --baseurl=file://{tmp_path}/mirror/$releasever/$basearch\n"
                    "%packages\ndemo-app\n%end\n", "--releasever", "42")
    assert "demo-app" in mount_image(tmp_path / "out/REPO.img").rpms()


@pytest.mark.root
def test_excludepkgs_and_includepkgs(tmp_path: Path, testrepo: Path) -> None:
    proc = build(tmp_path, f"repo --name=t --baseurl=file://{testrepo} --excludepkgs=docs-demo\n"
                           "%packages\ndocs-demo\n%end\n", check=False).proc
    assert proc.returncode != 0 and "docs-demo" in proc.stderr
    proc = build(tmp_path, f"repo --name=t --baseurl=file://{testrepo} --includepkgs=filesystem,busybox,live-init\n"
                           "%packages\ndemo-app\n%end\n", check=False).proc
    assert proc.returncode != 0 and "demo-app" in proc.stderr


@pytest.mark.root
def test_mirrorlist(tmp_path: Path, repo_server: RepoServer, mount_image: MountImage) -> None:
    mirrorlist = tmp_path / "mirrorlist"
    mirrorlist.write_text(f"# a mirror list\n{repo_server.url}/\n")
    build(tmp_path, f"repo --name=ml --mirrorlist=file://{mirrorlist}\n%packages\ndemo-app\n%end\n")
    assert any("demo-app" in r for r in repo_server.rpm_requests())
    assert "demo-app" in mount_image(tmp_path / "out/REPO.img").rpms()


@pytest.mark.root
def test_metalink(tmp_path: Path, repo_server: RepoServer, testrepo: Path, mount_image: MountImage) -> None:
    repomd = (testrepo / "repodata/repomd.xml").read_bytes()
    metalink = tmp_path / "metalink.xml"
    metalink.write_text(f"""<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic">
 <files>
  <file name="repomd.xml">
   <size>{len(repomd)}</size>
   <verification><hash type="sha256">{hashlib.sha256(repomd).hexdigest()}</hash></verification>
   <resources maxconnections="1">
    <url protocol="http" type="http" location="XX" preference="100">{repo_server.url}/repodata/repomd.xml</url>
   </resources>
  </file>
 </files>
</metalink>
""")
    build(tmp_path, f"repo --name=ml --metalink=file://{metalink}\n%packages\ndemo-app\n%end\n")
    assert "demo-app" in mount_image(tmp_path / "out/REPO.img").rpms()


def test_repo_options_reach_dnf(tmp_path: Path) -> None:
    """cost, proxy, noverifyssl, include/exclude lists: what dnf gets for each repo line (no root needed)."""
    ks_path = tmp_path / "opts.ks"
    ks_path.write_text(
        "repo --name=a --baseurl=http://example.invalid/a --cost=7 --proxy=http://proxy.invalid:3128 "
        "--noverifyssl --includepkgs=x,y --excludepkgs=z\n"
        "repo --name=b --mirrorlist=http://example.invalid/ml\n"
    )
    ks = kickstart.read_kickstart(ks_path)
    with DnfInstaller(tmp_path / "root", "1", tmp_path / "cache", tmp_path / "log") as dnfi:
        for spec in kickstart.read_config(ks).repos:  # the typed repos the build gives dnf
            dnfi.add_repo(spec)
        a = dnfi.base.repos["a"]
        assert a.cost == 7 and a.proxy == "http://proxy.invalid:3128" and a.sslverify is False
        assert list(a.includepkgs) == ["x", "y"] and list(a.excludepkgs) == ["z"]
        assert dnfi.base.repos["b"].mirrorlist == "http://example.invalid/ml"
    assert not os.path.exists("/var/cache/dnf/a-" + "0" * 16)


@pytest.mark.root
def test_local_repository_changed_since_the_cache_was_filled(tmp_path: Path, testrepo: Path) -> None:
    """A file:// repository rebuilt at the same path: the cached metadata must not be trusted."""
    import testdistro

    other = testdistro.build_repo(filler=1)  # the same packages, built again: other checksums
    link = tmp_path / "repo"
    link.symlink_to(testrepo)
    ks = tmp_path / "local.ks"
    ks.write_text(f"part / --size 300\nrepo --name=t --baseurl=file://{link}\n%packages\ndemo-app\nshim-x64\n%end\n")
    for label in ("FIRST", "SECOND"):
        image_creator(ks, tmp_path, "--cache", str(tmp_path / "cache"), fslabel=label)
        link.unlink()
        link.symlink_to(other)
    assert (tmp_path / "out/SECOND.img").exists()


@pytest.mark.root
def test_pkgverify_level(tmp_path: Path, testrepo: Path) -> None:
    """rpm checks digests with "digest"; "signature" refuses the test distribution's unsigned packages."""
    text = f"repo --name=t --baseurl=file://{testrepo}\n%packages\ndemo-app\n%end\n"
    build(tmp_path, text, "--pkgverify-level", "digest")
    proc = build(tmp_path, text, "--pkgverify-level", "signature", check=False).proc
    assert_failed(proc, "demo-app-1.0-1.noarch does not verify: no signature")


@pytest.mark.parametrize("kind", ["file", "http", "mirrorlist"])
def test_local_package_rule_agrees_with_dnf(kind: str, tmp_path: Path, testrepo: Path,
                                            repo_server: RepoServer) -> None:
    """dnfcompat.is_local_package() restates dnf's private Package._is_local_pkg() from public attributes; a new
    dnf that changes the rule fails here (no root needed)."""
    mirrorlist = tmp_path / "mirrorlist"
    mirrorlist.write_text(f"file://{testrepo}\n")
    spec = {"file": RepoSpec("t", baseurl=(f"file://{testrepo}",)),
            "http": RepoSpec("t", baseurl=(repo_server.url,)),
            "mirrorlist": RepoSpec("t", mirrorlist=f"file://{mirrorlist}")}[kind]
    with DnfInstaller(tmp_path / "root", "1", tmp_path / "cache", tmp_path / "log") as dnfi:
        dnfi.add_repo(spec)
        dnfi.load()
        packages = list(dnfi.base.sack.query().available())
        assert packages
        for pkg in packages:
            assert dnfcompat.is_local_package(dnfi.base, pkg) is (kind == "file"), pkg
            assert dnfcompat.is_local_package(dnfi.base, pkg) == pkg._is_local_pkg(), pkg


def test_dnf_messages_read_back() -> None:
    """The failures dnf reports only as text (dnfcompat) are recognised, and nothing else is."""
    assert dnfcompat.is_out_of_room(Exception(
        "Transaction test error:\n  installing package busybox-1.0-1.x86_64 needs 3MB more space on the "
        "/var/tmp/my builds/install_root filesystem\n"))
    assert dnfcompat.is_out_of_room(Exception("installing package a-1-1.noarch needs 12 more inodes on the / "
                                              "filesystem"))
    assert not dnfcompat.is_out_of_room(Exception("package a needs b"))
    assert dnfcompat.is_interrupt(Exception("Curl error (42): Interrupted by a SIGINT signal"))
    assert not dnfcompat.is_interrupt(Exception("Curl error (7): Couldn't connect to server"))
    pre = dnfcompat.element_error("Error in PREIN scriptlet in rpm package bad-pre")
    assert pre is not None and (pre.package, pre.scriptlet, pre.unpacking) == ("bad-pre", "PREIN", False)
    unpack = dnfcompat.element_error("Error unpacking rpm package bad-payload-1.0-1.noarch")
    assert unpack is not None and unpack.unpacking and unpack.names("bad-payload", "bad-payload-1.0-1.noarch")
    assert dnfcompat.element_error("Error: Cannot open file /x.rpm: [Errno 2]") is None
