"""Reproducible builds (imgcreate/reproducible.py): with SOURCE_DATE_EPOCH or --source-date-epoch, two builds of
the same kickstart from the same repository, in different temporary folders and with the clock moved a week
between them (faketime), give byte-identical live ISOs (both layouts) and loop images; one package more changes
only what that package and the package databases hold.  And the manifest every build delivers: a CHECKSUM that
``sha256sum -c`` verifies, the package list, the flattened kickstart."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from pykickstart.parser import KickstartParser
from pykickstart.version import makeVersion

from imgcreate import manifest
from tests import isoinspect
from tests.support import assert_failed, images_in, run_tool

pytestmark = pytest.mark.root

EPOCH = "1700000000"
KS = """
part / --size 300
repo --name=testdistro --baseurl=file://{repo}
bootloader --timeout 1 --append="console=ttyS0,115200"
%packages
@core
kernel
{extra}
%end
%post
echo built > /etc/post-was-here
%end
"""
LATER = ["faketime", "-f", "+7d"]  # our process's clock a week on: rpm's, dnf's and the names' time


def build(tmp: Path, repo: Path, tool: str, where: str, *args: str, extra: str = "", later: bool = False,
          env: dict[str, str] | None = None) -> Path:
    """One build in its own temporary folder (named differently each time); its output folder."""
    base = tmp / where
    (base / "work-with-a-longer-name" if later else base / "w").mkdir(parents=True)
    ks = base / "repro.ks"
    ks.write_text(KS.format(repo=repo, extra=extra))
    out = base / "out"
    run_tool(tool, "-c", str(ks), "--tmpdir", str(base / ("work-with-a-longer-name" if later else "w")),
             "--output", str(out), *args, prefix=LATER if later else (), env=env)
    return out


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("layout", [["--compression-type", "lz4"], ["--flat-squashfs", "--compression-type", "lz4"]],
                         ids=["squashfs-ext4", "flat"])
def test_live_iso_rebuilds_bit_identical(tmp_path: Path, testrepo: Path, layout: list[str]) -> None:
    """Without -f: the default name and label come from the epoch too (as livecd-creator's from the clock)."""
    first = build(tmp_path, testrepo, "livecd-creator", "a", "--source-date-epoch", EPOCH, *layout)
    second = build(tmp_path, testrepo, "livecd-creator", "b", *layout, later=True, env={"SOURCE_DATE_EPOCH": EPOCH})
    (iso1,), (iso2,) = images_in(first), images_in(second)
    assert iso1.name == iso2.name == "livecd-repro-202311142213.iso", "named from the epoch, in UTC"
    assert digest(iso1) == digest(iso2), "the same bytes"
    assert (first / "livecd-repro-202311142213-CHECKSUM").read_text() == (
        second / "livecd-repro-202311142213-CHECKSUM").read_text()
    assert isoinspect.volume_id(iso1).endswith("-202311142213")


def test_loop_image_rebuilds_bit_identical_and_the_manifest(tmp_path: Path, testrepo: Path) -> None:
    first = build(tmp_path, testrepo, "image-creator", "a", "-n", "REPRO", "--source-date-epoch", EPOCH)
    second = build(tmp_path, testrepo, "image-creator", "b", "-n", "REPRO", "--source-date-epoch", EPOCH,
                   later=True)
    assert digest(first / "REPRO.img") == digest(second / "REPRO.img")
    # The manifest: CHECKSUM verifies; the package list and the kickstart are what was built.
    check = subprocess.run(["sha256sum", "-c", "REPRO-CHECKSUM"], cwd=first, capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout == "REPRO.img: OK\n", check.stdout + check.stderr
    assert (first / "REPRO-CHECKSUM").read_text().startswith("# REPRO.img: ")
    packages = (first / "REPRO.packages").read_text().splitlines()
    assert "kernel-0:6.1.0-56.x86_64" in packages or any(p.startswith("kernel-0:") for p in packages)
    assert packages == sorted(packages) and not any(p.startswith("gpg-pubkey") for p in packages)
    parser = KickstartParser(makeVersion())
    parser.readKickstart(str(first / "REPRO.flattened.ks"))
    assert "echo built > /etc/post-was-here" in parser.handler.scripts[0].script
    assert sorted(p.name for p in first.iterdir()) == ["REPRO-CHECKSUM", "REPRO.flattened.ks", "REPRO.img",
                                                       "REPRO.packages"]


def test_one_more_package_changes_only_what_it_touches(tmp_path: Path, testrepo: Path) -> None:
    plain = build(tmp_path, testrepo, "image-creator", "a", "-n", "R", "--source-date-epoch", EPOCH)
    more = build(tmp_path, testrepo, "image-creator", "b", "-n", "R", "--source-date-epoch", EPOCH,
                 extra="demo-app")
    assert digest(plain / "R.img") != digest(more / "R.img")
    differing = _differing_files(plain / "R.img", more / "R.img", tmp_path)
    added = set((more / "R.packages").read_text().splitlines()) - set((plain / "R.packages").read_text().splitlines())
    names = sorted(p.split("-0:")[0] for p in added)
    assert "demo-app" in names and "kernel" not in names
    owned = subprocess.run(["rpm", "--root", str(tmp_path / "tb"), "--dbpath", "/var/lib/rpm", "-ql", *names],
                           capture_output=True, text=True, check=True).stdout.split()
    assert "/usr/bin/demo-app" in differing
    assert differing - set(owned) == {"/var/lib/rpm/rpmdb.sqlite", "/var/lib/dnf/history.sqlite"}, (
        "besides the added packages' files, only the two package databases differ")


def _differing_files(a: Path, b: Path, tmp: Path) -> set[str]:
    """Paths whose content or kind differs between two ext images (read with debugfs rdump, no mount)."""
    trees = []
    for image, name in ((a, "ta"), (b, "tb")):
        dest = tmp / name
        dest.mkdir()
        subprocess.run(["debugfs", "-R", f"rdump / {dest}", str(image)], check=True, capture_output=True)
        trees.append({"/" + str(p.relative_to(dest)): p for p in dest.rglob("*")})
    out = set()
    for path in trees[0].keys() | trees[1].keys():
        pa, pb = trees[0].get(path), trees[1].get(path)
        if pa is None or pb is None or (pa.is_file() and not pa.is_symlink()
                                        and (not pb.is_file() or pa.read_bytes() != pb.read_bytes())):
            out.add(path)
    return out


def test_bad_epoch_is_refused(tmp_path: Path, testrepo: Path) -> None:
    ks = tmp_path / "x.ks"
    ks.write_text(KS.format(repo=testrepo, extra=""))
    proc = run_tool("livecd-creator", "-c", str(ks), "--tmpdir", str(tmp_path), "-o", str(tmp_path / "out"),
                    "--source-date-epoch", "yesterday", check=False)
    assert_failed(proc, "SOURCE_DATE_EPOCH must be a whole number")
    assert proc.returncode == 1


def test_checksum_format_is_fedoras(tmp_path: Path) -> None:
    image = tmp_path / "X.iso"
    image.write_bytes(b"abc")
    text = manifest.checksum_text([image])
    assert text == ("# X.iso: 3 bytes\n"
                    "SHA256 (X.iso) = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n")
