"""Upstream livecd-tools callers run unchanged: option spellings and meanings, and the star-import API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import isoinspect
from tests.support import REPO_ROOT, MakeKs, MountImage, assert_failed, images_in, run_tool

pytestmark = pytest.mark.root

LIVE = """bootloader --timeout 1 --append="console=ttyS0,115200 rd.shell=0 rd.emergency=poweroff livecheck.write_mib=16"
%packages
@core
kernel
%end
"""


def livecd(make_ks: MakeKs, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_tool("livecd-creator", "-c", str(make_ks(LIVE, size=256)), "--tmpdir", str(tmp_path),
                    "--output", str(tmp_path / "out"), *args)


def test_name_is_an_alias_of_fslabel(make_ks: MakeKs, tmp_path: Path) -> None:
    livecd(make_ks, tmp_path, "-n", "NAMED", "--compression-type", "lz4")
    iso = tmp_path / "out/NAMED.iso"
    assert isoinspect.volume_id(iso) == "NAMED", "-n sets the label and the name, as upstream's -f"


def test_xz1m_compression(make_ks: MakeKs, tmp_path: Path) -> None:
    livecd(make_ks, tmp_path, "-f", "XZ1M", "--compression-type", "xz1m")
    info = isoinspect.squashfs_info(isoinspect.squashfs_image(tmp_path / "out/XZ1M.iso", tmp_path))
    assert "Compression xz" in info and "Block size 1048576" in info, info


def test_image_type_image_from_livecd_creator(make_ks: MakeKs, tmp_path: Path) -> None:
    """upstream's image-creator is livecd-creator with --image-type image."""
    ks = make_ks("%packages\n@core\n%end\n")
    run_tool("livecd-creator", "--image-type", "image", "-c", str(ks), "-f", "ASIMG", "--tmpdir", str(tmp_path),
             "--output", str(tmp_path / "out"))
    assert [p.name for p in images_in(tmp_path / "out")] == ["ASIMG.img"]


def test_plugins_accepted_with_a_warning(make_ks: MakeKs, tmp_path: Path) -> None:
    ks = make_ks("%packages\n@core\n%end\n")
    proc = run_tool("image-creator", "-p", "-c", str(ks), "-f", "PLUG", "--tmpdir", str(tmp_path),
                    "--output", str(tmp_path / "out"))
    assert "--plugins" in proc.stderr and (tmp_path / "out/PLUG.img").exists()


@pytest.mark.parametrize("tool", ["livecd-creator", "image-creator"])
def test_version_and_exit_codes_in_help(tool: str) -> None:
    version = run_tool(tool, "--version")
    assert version.stdout.startswith(f"{tool} (livecd-tools) ")
    helptext = run_tool(tool, "--help").stdout
    assert "exit status:" in helptext and "130" in helptext
    usage = run_tool(tool, "--no-such-option", check=False)
    assert usage.returncode == 2


def test_star_import_api() -> None:
    code = ("from imgcreate import *; "
            "assert LiveImageCreator and LoopImageCreator and ImageCreator and FSLABEL_MAXLEN == 32; "
            "assert issubclass(SquashfsError, CreatorError) and issubclass(ResizeError, CreatorError); "
            "assert issubclass(SnapshotError, CreatorError) and callable(read_kickstart) and callable(build_name); "
            "assert callable(setup_logging) and x86LiveImageCreator is LiveImageCreator")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_repo_files_replace_the_kickstart_repositories(make_ks: MakeKs, tmp_path: Path, testrepo: Path) -> None:
    """--repo FILE or --repo DIR: those repositories and only those, as upstream (the kickstart's is broken)."""
    ks = make_ks("%packages\n@core\ndemo-app\n%end\n", repo_url="http://127.0.0.1:9/unreachable")
    repodir = tmp_path / "repos.d"
    repodir.mkdir()
    (repodir / "td.repo").write_text(f"[td]\nname=Test distribution\nbaseurl=file://{testrepo}\ngpgcheck=0\n")
    (repodir / "off.repo").write_text("[off]\nbaseurl=http://127.0.0.1:9/off\nenabled=0\n")
    for i, path in enumerate((repodir / "td.repo", repodir)):
        run_tool("image-creator", "-c", str(ks), "-f", f"R{i}", "--repo", str(path), "--tmpdir", str(tmp_path),
                 "--output", str(tmp_path / "out"))
        assert (tmp_path / f"out/R{i}.img").exists()


def test_repo_file_without_a_url_is_named(make_ks: MakeKs, tmp_path: Path) -> None:
    bad = tmp_path / "bad.repo"
    bad.write_text("[nourl]\nname=No URL\n")
    proc = run_tool("image-creator", "-c", str(make_ks("%packages\n@core\n%end\n")), "-f", "BAD", "--repo",
                    str(bad), "--tmpdir", str(tmp_path), "--output", str(tmp_path / "out"), check=False)
    assert_failed(proc, "[nourl]", str(bad), "no baseurl")


UPSTREAM_STYLE_SCRIPT = """
import sys
import pykickstart.parser
import pykickstart.version
import imgcreate
from imgcreate import kickstart

# As upstream's API document and scripts built on it do: a KickstartParser, not a bare handler.
ks = pykickstart.parser.KickstartParser(pykickstart.version.makeVersion())
ks.readKickstart(sys.argv[1])
assert kickstart.get_image_size(ks) == 256 * 1024 * 1024
assert [name for name, *_ in kickstart.get_repos(ks)] == ["testdistro"]  # upstream's 8-tuples
assert "demo-app" in kickstart.get_packages(ks)
assert kickstart.get_kernel_args(ks) == "ro rd.live.image quiet"
assert isinstance(imgcreate.read_kickstart(sys.argv[1]), pykickstart.parser.KickstartParser)
creator = imgcreate.LoopImageCreator(ks, "upstream-style", fslabel="UPSTREAM", tmpdir=sys.argv[2])
try:
    creator.mount()
    creator.install()
    creator.configure()
    creator.unmount()
    creator.package(sys.argv[3])
finally:
    creator.cleanup()
"""


def test_upstream_style_api_script(make_ks: MakeKs, tmp_path: Path, mount_image: MountImage) -> None:
    """A script written against upstream's API document runs unchanged (parser objects, the five steps)."""
    ks = make_ks("%packages\n@core\ndemo-app\n%end\n", size=256)
    script = tmp_path / "upstream.py"
    script.write_text(UPSTREAM_STYLE_SCRIPT)
    subprocess.run([sys.executable, str(script), str(ks), str(tmp_path), str(tmp_path / "out")], check=True,
                   env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert {"demo-app", "busybox"} <= mount_image(tmp_path / "out/upstream-style.img").rpms()


UPSTREAM_TREE_SCRIPT = """
import optparse
import os
import subprocess
import sys
import imgcreate

parser = optparse.OptionParser()
imgcreate.setup_logging(parser)  # upstream's -d/-v/-q/--logfile on an optparse parser
opts, args = parser.parse_args(sys.argv[4:])
ks = imgcreate.read_kickstart(sys.argv[1])
creator = imgcreate.ImageCreator(ks, "tree")
creator.tmpdir = sys.argv[2]
try:
    creator.mount()
    creator.install()
    creator.configure()
    kernels = creator._get_kernel_versions()
    assert list(kernels) == ["kernel"] and len(kernels["kernel"]) == 1, kernels
    scratch = creator._mkdtemp()
    assert os.path.isdir(scratch) and scratch.startswith(sys.argv[2])
    out = subprocess.run(["/bin/cat", "/etc/os-release"], preexec_fn=creator._chroot, capture_output=True, text=True)
    assert "testdistro" in out.stdout.lower(), out
    creator.unmount()
    creator.package(sys.argv[3])
finally:
    creator.cleanup()
"""


def test_base_creator_delivers_the_install_tree(make_ks: MakeKs, tmp_path: Path) -> None:
    """Upstream's base ImageCreator: package() moves the install tree itself to <destdir>/<name>."""
    ks = make_ks("%packages\n@core\nkernel\n%end\n")
    script = tmp_path / "tree.py"
    script.write_text(UPSTREAM_TREE_SCRIPT)
    logfile = tmp_path / "tree.log"
    subprocess.run([sys.executable, str(script), str(ks), str(tmp_path), str(tmp_path / "out"), "-v",
                    "--logfile", str(logfile)], check=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    tree = tmp_path / "out/tree"
    assert (tree / "etc/os-release").is_file() and list((tree / "boot").glob("vmlinuz-*"))
    assert not (tree / "proc/self").exists(), "nothing mounted in the delivered tree"
    assert " INFO " in logfile.read_text(), "-v from setup_logging reached the log file"


@pytest.mark.parametrize("tool", ["livecd-creator", "appliance-creator"])
def test_relative_tmpdir_output_and_cache(tool: str, tmp_path: Path, testrepo: Path) -> None:
    """Issue 22: relative --tmpdir, output and --cache folders are taken relative to the working directory, as
    upstream takes them (it makes --tmpdir absolute); they crashed with an internal error from dnf before."""
    ks = tmp_path / "rel.ks"
    layout = ("clearpart --all --initlabel --disklabel=msdos\npart / --fstype=ext4 --size=200\n"
              "bootloader --location=none\n" if tool == "appliance-creator" else "part / --size 300\n")
    ks.write_text(f"repo --name=t --baseurl=file://{testrepo}\n{layout}%packages\n@core\nkernel\n%end\n")
    (tmp_path / "work").mkdir()
    name = ["-n", "rel", "--no-compress"] if tool == "appliance-creator" else ["-f", "REL", "--compression-type",
                                                                            "lz4"]
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / tool), "-c", "rel.ks", *name, "-t", "work",
                           "-o", "out", "--cache", "cache"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert images_in(tmp_path / "out"), "delivered to ./out"
    assert list((tmp_path / "cache").iterdir()), "the package cache is ./cache"
    assert list((tmp_path / "work").iterdir()) == [], "the build directory in ./work was removed"
