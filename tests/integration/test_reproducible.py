"""Reproducible builds (imgcreate/storage/reproducible.py): with SOURCE_DATE_EPOCH or --source-date-epoch, two builds of
the same kickstart from the same repository, in different temporary folders and the second with the clock a week
on (faketime), give byte-identical live ISOs and loop images; one package more changes only what that package
and the package databases hold.  And the manifest every build delivers: a CHECKSUM that ``sha256sum -c``
verifies, the package list, the flattened kickstart.

The matrix, generated from the options (:func:`live_matrix`): every --rootfs-type x compressor, and -s, as full
live builds; editliveos and --base-on remasters; the loop image.  Full builds cost ~15 s each, so the default run
builds the plain default command line (``livecd-creator --config X --fslabel Y``: xz, tar2sqfs, squashfs-ext4)
and one build of each other path (a flat squashfs, EROFS, -s, editliveos, the loop image); the rest is marked
``slow`` (LIVECD_TOOLS_FULL=1).  Every packer x compressor is checked in the default run at the packer level
instead (tests/repro_pack.py: one small tree, packed twice).  On a difference, tests/repro_diff.py names the
entry inside that differs (ISO entry, squashfs/EROFS entry, ext inode, FAT file).

The second build runs with umask 077 (the first with the test's), and its Python under faketime (rpm's, dnf's
and the default names' clock); the commands it runs see the real clock, ~15 s later (imgcreate.host.run gives them a
clean environment without faketime's preload); the packer-level test moves their clock too.  NO_FAKE_STAT=1: the
clock moves, the times files already have do not (by default faketime shifts every stat() result as well, which
no real clock change does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _pytest.mark.structures import ParameterSet
from pykickstart.parser import KickstartParser
from pykickstart.version import makeVersion

from imgcreate import live
from imgcreate.build import manifest
from tests import isoinspect, kickstarts, repro_diff, repro_pack
from tests.support import REPO_ROOT, assert_failed, images_in, run_tool

pytestmark = pytest.mark.root

EPOCH = "1700000000"
KS = kickstarts.kickstart("part / --size 160", bootloader='--timeout 1 --append="console=ttyS0,115200"',
                         packages=("@core", "kernel", "{extra}"), post="echo built > /etc/post-was-here")
# The second build: our process's clock a week on (rpm's, dnf's and the names' time), and another umask.
LATER = ["sh", "-c", 'umask 077 && exec "$@"', "later", "faketime", "-f", "+7d"]
LATER_ENV = {"NO_FAKE_STAT": "1"}
FAKETIME = LATER[-3:]
SQUASHFS_COMPRESSORS = ("xz", "zstd", "lz4", "gzip")  # xz, zstd, gzip: tar2sqfs for the sparse root; lz4: mksquashfs
EROFS_COMPRESSORS = ("lz4", "lz4hc")  # what erofs-utils 1.5 (Debian 12) has
# The cases of the default run: the default command line, and one of each other path.
DEFAULT_RUN = ("default", "squashfs-ext4-s", "squashfs-lz4", "erofs-ext4-lz4")
# Cases whose first ISO other tests start from (kept; the others' ISOs are deleted once compared).
BASES = ("default", "squashfs-ext4-s", "squashfs-lz4")


def live_cases() -> dict[str, list[str]]:
    """Every --rootfs-type with each compressor its packer takes, and -s, as livecd-creator options (id -> args).

    The plain default (no option: squashfs-ext4, xz) stands for squashfs-ext4-xz; -s gives the same ISO layout
    for both ext root types (rootfs.img on the ISO), so it is built once for them; for a flat root it makes an
    uncompressed squashfs or EROFS."""
    cases: dict[str, list[str]] = {"default": []}
    for rootfs_type in live.ROOTFS_TYPES:
        compressors = EROFS_COMPRESSORS if rootfs_type.startswith("erofs") else SQUASHFS_COMPRESSORS
        for comp in compressors:
            if (rootfs_type, comp) != ("squashfs-ext4", live.DEFAULT_COMPRESSION):
                cases[f"{rootfs_type}-{comp}"] = ["--rootfs-type", rootfs_type, "--compression-type", comp]
        if rootfs_type != "erofs-ext4":
            cases[f"{rootfs_type}-s"] = ["--rootfs-type", rootfs_type, "-s"]
    cases["squashfs-lz4"] = ["--flat-squashfs", "--compression-type", "lz4"]  # upstream's spelling of the flat root
    cases["syslinux-lz4"] = ["--syslinux", "--compression-type", "lz4"]  # isolinux and its hybrid MBR
    return cases


def live_matrix() -> list[ParameterSet]:
    """:func:`live_cases` as test parameters, all but :data:`DEFAULT_RUN` marked slow."""
    return [pytest.param(case, args, id=case, marks=() if case in DEFAULT_RUN else pytest.mark.slow)
            for case, args in live_cases().items()]


def build(tmp: Path, repo: Path, tool: str, where: str, *args: str, extra: str = "", later: bool = False,
          env: dict[str, str] | None = None) -> Path:
    """One build in its own temporary folder (named differently each time); its output folder."""
    base = tmp / where
    work = base / ("work-with-a-longer-name" if later else "w")
    work.mkdir(parents=True)
    ks = base / "repro.ks"
    ks.write_text(KS.format(repo=repo, extra=extra))
    out = base / "out"
    run_tool(tool, "-c", str(ks), "--tmpdir", str(work), "--output", str(out), *args,
             prefix=LATER if later else (), env={**(env or {}), **(LATER_ENV if later else {})})
    return out


class Builds:
    """Build pairs made once per module, so a remaster test starts from a live test's ISO instead of a build of
    its own."""

    def __init__(self, tmp: Path, repo: Path) -> None:
        self.tmp = tmp
        self.repo = repo
        self._live: dict[str, tuple[Path, Path]] = {}

    def live(self, case: str, args: list[str]) -> tuple[Path, Path]:
        """Two output folders of ``livecd-creator`` with *args*: the first in folder a (--source-date-epoch,
        except for the default command line), the second in folder b a week later ($SOURCE_DATE_EPOCH)."""
        if case not in self._live:
            naming = [] if case == "squashfs-lz4" else ["--fslabel", "REPRO"]  # the default name: from the epoch
            first_epoch = ([], {"SOURCE_DATE_EPOCH": EPOCH}) if case == "default" else (
                ["--source-date-epoch", EPOCH], {})
            first = build(self.tmp / case, self.repo, "livecd-creator", "a", *naming, *first_epoch[0], *args,
                          env=first_epoch[1])
            second = build(self.tmp / case, self.repo, "livecd-creator", "b", *naming, *args, later=True,
                           env={"SOURCE_DATE_EPOCH": EPOCH})
            self._live[case] = (first, second)
        return self._live[case]

    def base_iso(self, case: str) -> Path:
        """The first ISO of the live case *case* (one of :data:`BASES`)."""
        (iso,) = images_in(self.live(case, live_cases()[case])[0])
        return iso


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> Builds:
    return Builds(tmp_path_factory.mktemp("repro"), testrepo)


@pytest.mark.parametrize(("case", "args"), live_matrix())
def test_live_iso_rebuilds_bit_identical(builds: Builds, tmp_path: Path, case: str, args: list[str]) -> None:
    first, second = builds.live(case, args)
    (iso1,), (iso2,) = images_in(first), images_in(second)
    assert iso1.name == iso2.name
    repro_diff.assert_identical(iso1, iso2, tmp_path / "diff")
    stem = iso1.name.removesuffix(".iso")
    assert (first / f"{stem}-CHECKSUM").read_text() == (second / f"{stem}-CHECKSUM").read_text()
    if case == "squashfs-lz4":  # without -f the default name and label come from the epoch too, in UTC
        assert iso1.name == "livecd-repro-202311142213.iso"
        assert isoinspect.volume_id(iso1).endswith("-202311142213")
    if case not in BASES:
        shutil.rmtree(first.parent.parent)


# The remasters: editliveos (with a script) of each base ISO, and livecd-creator --base-on of the default one.
REMASTERS = [pytest.param("squashfs-ext4-s", id="editliveos-s"),
             pytest.param("default", id="editliveos-default", marks=pytest.mark.slow),
             pytest.param("squashfs-lz4", id="editliveos-flat", marks=pytest.mark.slow)]


@pytest.mark.parametrize("base_case", REMASTERS)
def test_editliveos_rebuilds_bit_identical(builds: Builds, tmp_path: Path, base_case: str) -> None:
    base = builds.base_iso(base_case)
    script = tmp_path / "edit.sh"
    script.write_text("echo edited > /etc/edited\n")
    outputs = []
    for where, later in (("a", False), ("b/longer-name", True)):
        work = tmp_path / where
        work.mkdir(parents=True)
        epoch = ["--source-date-epoch", EPOCH] if later else []
        run_tool("editliveos", "-N", str(base), "-o", str(work / "EDITED.iso"), "--tmpdir", str(work), "--script",
                 str(script), "--extra-kernel-args", "repro.edited=1", *epoch, prefix=LATER if later else (),
                 env={**(LATER_ENV if later else {}), **({} if later else {"SOURCE_DATE_EPOCH": EPOCH})})
        outputs.append(work / "EDITED.iso")
    assert "repro.edited=1" in isoinspect.read_text(outputs[0], "/boot/grub2/grub.cfg"), "the edit was made"
    repro_diff.assert_identical(outputs[0], outputs[1], tmp_path / "diff")


@pytest.mark.slow
def test_base_on_rebuilds_bit_identical(builds: Builds, tmp_path: Path, testrepo: Path) -> None:
    base = builds.base_iso("default")
    args = ["--fslabel", "REBUILT", "--base-on", str(base)]
    first = build(tmp_path, testrepo, "livecd-creator", "a", *args, env={"SOURCE_DATE_EPOCH": EPOCH})
    second = build(tmp_path, testrepo, "livecd-creator", "b", *args, later=True, env={"SOURCE_DATE_EPOCH": EPOCH})
    repro_diff.assert_identical(first / "REBUILT.iso", second / "REBUILT.iso", tmp_path / "diff")


# -- the packers, each compressor, on one small tree ---------------------------------------------------------

@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """tests/repro_pack.py run twice: now in folder a, and a week later (the tools' clock too) in folder b."""
    tmp = tmp_path_factory.mktemp("packers")
    outs = (tmp / "a", tmp / "b/with-a-longer-name")
    for out, later in zip(outs, (False, True)):
        out.mkdir(parents=True)
        subprocess.run([*(FAKETIME if later else []), sys.executable, "-m", "tests.repro_pack", str(out)],
                       check=True, cwd=REPO_ROOT, timeout=300,
                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **(LATER_ENV if later else {})})
    return outs


@pytest.mark.parametrize("name", repro_pack.NAMES)
def test_packer_output_is_bit_identical(packed: tuple[Path, Path], tmp_path: Path, name: str) -> None:
    """mksquashfs (tree), tar2sqfs or mksquashfs (sparse root), mkfs.erofs, mke2fs -d, the FAT EFI image and a
    hybrid ISO (xorriso, implantisomd5), each compressor: the same bytes from a fresh tree a week later."""
    repro_diff.assert_identical(packed[0] / name, packed[1] / name, tmp_path / "diff")


def test_a_difference_is_named_inside_the_nested_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The explanation follows ISO -> squashfs.img -> rootfs.img down to the ext inode that differs; and names
    the EROFS entry and the FAT file."""
    from imgcreate.host import run
    from imgcreate.media import iso
    from imgcreate.pack import erofs, squashfs
    from imgcreate.storage import reproducible

    made: dict[str, list[Path]] = {"iso": [], "erofs": [], "fat": []}
    with run.passed_to_commands(reproducible.command_env(int(EPOCH))):
        for name, older in (("a", False), ("b", True)):
            work = tmp_path / name
            repro_pack.make_tree(work / "tree", sparse_mib=1)
            reproducible.clamp_mtimes(work / "tree", int(EPOCH))
            if older:
                os.utime(work / "tree/etc/hostname", (int(EPOCH) - 3600, int(EPOCH) - 3600))
            (work / "sq/LiveOS").mkdir(parents=True)
            reproducible.ext_from_tree(work / "tree", work / "sq/LiveOS/rootfs.img", 16 << 20, "ext4", "R", int(EPOCH),
                                       work)
            (work / "iso/LiveOS").mkdir(parents=True)
            squashfs.pack_sparse(work / "sq", work / "iso/LiveOS/squashfs.img", "zstd", False, epoch=int(EPOCH))
            (work / "iso/images").mkdir()
            (work / "iso/images/eltorito.img").write_bytes(b"\x90" * 8192)
            iso.master_iso(iso.IsoSpec(tree=work / "iso", volume_id="R", bios=iso.BiosBootloader.GRUB2,
                                       epoch=int(EPOCH)), work / "r.iso")
            erofs.mkfs_erofs(work / "tree", work / "r.erofs", "lz4", int(EPOCH))
            iso.make_efiboot(work / "r.fat", {"EFI/BOOT/grub.cfg": work / "tree/etc/hostname"}, int(EPOCH))
            made["iso"].append(work / "r.iso")
            made["erofs"].append(work / "r.erofs")
            made["fat"].append(work / "r.fat")
    explained = {kind: repro_diff.explain(a, b, tmp_path / f"diff-{kind}") for kind, (a, b) in made.items()}
    assert explained["iso"].startswith(
        "iso entry /LiveOS/squashfs.img: content -> squashfs entry /LiveOS/rootfs.img: content -> "
        "ext entry /etc/hostname: mtime 2023-11-14 22:13:20 (1700000000) vs 2023-11-14 21:13:20 (1699996400)"), (
        explained["iso"])
    assert explained["erofs"].startswith("erofs entry /etc/hostname: mtime"), explained["erofs"]
    assert explained["fat"].startswith("fat entry /EFI/BOOT/grub.cfg: mtime"), explained["fat"]
    with pytest.raises(AssertionError, match="/etc/hostname: mtime"):
        repro_diff.assert_identical(made["iso"][0], made["iso"][1], tmp_path / "diff-again")
    # Every entry the same, only the superblock's date differs: the header is named.
    sqfs = []
    for epoch in (EPOCH, str(int(EPOCH) + 60)):
        with run.passed_to_commands(reproducible.command_env(int(epoch))):
            squashfs.mksquashfs(tmp_path / "b/tree", tmp_path / f"{epoch}.sqfs", "gzip", False)
        sqfs.append(tmp_path / f"{epoch}.sqfs")
    explained["header"] = repro_diff.explain(sqfs[0], sqfs[1], tmp_path / "diff-header")
    assert explained["header"].startswith("squashfs header: 'Creation or last append time"), explained["header"]


# -- loop images --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def loop_images(builds: Builds) -> tuple[Path, Path]:
    first = build(builds.tmp / "loop", builds.repo, "image-creator", "a", "-n", "R", "--source-date-epoch", EPOCH)
    second = build(builds.tmp / "loop", builds.repo, "image-creator", "b", "-n", "R", "--source-date-epoch", EPOCH,
                   later=True)
    return first, second


def test_loop_image_rebuilds_bit_identical_and_the_manifest(loop_images: tuple[Path, Path], tmp_path: Path) -> None:
    first, second = loop_images
    repro_diff.assert_identical(first / "R.img", second / "R.img", tmp_path / "diff")
    # The manifest: CHECKSUM verifies; the package list and the kickstart are what was built.
    check = subprocess.run(["sha256sum", "-c", "R-CHECKSUM"], cwd=first, capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout == "R.img: OK\n", check.stdout + check.stderr
    assert (first / "R-CHECKSUM").read_text().startswith("# R.img: ")
    packages = (first / "R.packages").read_text().splitlines()
    assert any(p.startswith("kernel-0:") for p in packages)
    assert packages == sorted(packages) and not any(p.startswith("gpg-pubkey") for p in packages)
    parser = KickstartParser(makeVersion())
    parser.readKickstart(str(first / "R.flattened.ks"))
    assert "echo built > /etc/post-was-here" in parser.handler.scripts[0].script
    assert sorted(p.name for p in first.iterdir()) == ["R-CHECKSUM", "R.flattened.ks", "R.img", "R.packages"]


def test_one_more_package_changes_only_what_it_touches(loop_images: tuple[Path, Path], tmp_path: Path,
                                                       testrepo: Path) -> None:
    plain = loop_images[0]
    more = build(tmp_path, testrepo, "image-creator", "more", "-n", "R", "--source-date-epoch", EPOCH,
                 extra="demo-app")
    assert repro_diff.first_difference(plain / "R.img", more / "R.img") is not None
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
    proc = run_tool("editliveos", "-N", str(tmp_path / "none.iso"), "-o", str(tmp_path / "e.iso"),
                    "--source-date-epoch", "soon", check=False)
    assert_failed(proc, "SOURCE_DATE_EPOCH must be a whole number")


def test_checksum_format_is_fedoras(tmp_path: Path) -> None:
    image = tmp_path / "X.iso"
    image.write_bytes(b"abc")
    text = manifest.checksum_text([image])
    assert text == ("# X.iso: 3 bytes\n"
                    "SHA256 (X.iso) = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n")
