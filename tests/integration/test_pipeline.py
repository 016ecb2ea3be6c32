"""One pipeline: ImageCreator.create() and livecd-creator build the same ISO; an upstream-style subclass works."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest

import imgcreate
from imgcreate.boot.boottest import BootResult, BootTest
from imgcreate.build.artifacts import Artifact
from imgcreate.creator import ImageCreator
from imgcreate.live import LiveImageCreator
from tests import isoinspect
from tests.support import MakeKs, run_tool

pytestmark = pytest.mark.root

LIVE = "%packages\n@core\nkernel\n%end\n%post\necho from-post > /etc/post-file\n%end\n"


def test_create_builds_what_the_cli_builds(make_ks: MakeKs, tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    """The API's create() builds the CLI's ISO; the compressor is set after construction, as upstream's own
    livecd-creator sets ``compress_args``, and reaches the packer's command line (the snapshot mount() takes)."""
    caplog.set_level(logging.DEBUG, logger="imgcreate")
    ks = make_ks(LIVE, size=256)
    run_tool("livecd-creator", "--config", str(ks), "--fslabel", "SAME", "--compression-type", "lz4",
             "--title", "T", "--product", "P", "--tmpdir", str(tmp_path), "--output", str(tmp_path / "cli"))
    parser = imgcreate.read_kickstart(ks)
    with LiveImageCreator(parser, "SAME", fslabel="SAME", title="T", product="P", tmpdir=tmp_path) as creator:
        caplog.clear()
        creator.compress_args = "lz4"
        files = creator.create(tmp_path / "api")
    packed = [m for m in (r.getMessage() for r in caplog.records) if m.startswith("running:") and "squashfs.img" in m]
    assert packed and all("-comp lz4" in line for line in packed), packed
    assert files[0] == tmp_path / "api/SAME.iso", "the image first"
    assert sorted(files) == sorted(tmp_path / "api" / n for n in ("SAME.iso", "SAME-CHECKSUM", "SAME.packages",
                                                                   "SAME.flattened.ks"))
    cli_iso, api_iso = tmp_path / "cli/SAME.iso", tmp_path / "api/SAME.iso"
    assert isoinspect.files(api_iso) == isoinspect.files(cli_iso)
    assert isoinspect.volume_id(api_iso) == isoinspect.volume_id(cli_iso) == "SAME"
    grub = "/boot/grub2/grub.cfg"
    assert isoinspect.read_text(api_iso, grub) == isoinspect.read_text(cli_iso, grub)
    assert isoinspect.hybrid_tables(api_iso) == isoinspect.hybrid_tables(cli_iso) == (True, True)
    assert {"mount", "install", "configure", "unmount", "package", "squashfs", "iso"} <= set(creator.timings)


def test_create_runs_onerror_scripts(make_ks: MakeKs, tmp_path: Path) -> None:
    marker = tmp_path / "onerror-ran"
    ks = make_ks(f"%packages\nno-such-package\n%end\n%onerror\ntouch {marker}\n%end\n")
    with ImageCreator(imgcreate.read_kickstart(ks), "fails", tmpdir=tmp_path) as creator, \
            pytest.raises(imgcreate.PackageError, match="no-such-package"):
        creator.create(tmp_path / "out")
    assert marker.exists(), "%onerror ran when create() failed"
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


class TreeCreator(ImageCreator):
    """A third-party creator written for upstream's API: it mounts its own root and makes its own final image."""

    mounted_by_subclass = False

    @property
    def _tree(self) -> Path:
        assert self.builddir is not None
        return self.builddir / "tree"

    def _mount_instroot(self, base_on: str | None = None) -> None:
        self._tree.mkdir()
        self._instroot.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "--bind", str(self._tree), str(self._instroot)], check=True)
        self.mounted_by_subclass = True

    def _unmount_instroot(self) -> None:
        subprocess.run(["umount", str(self._instroot)], check=False)

    def _stage_final_image(self, ops: list[str] | None = None) -> None:
        with tarfile.open(self._outdir / f"{self.name}.tar", "w") as tar:
            tar.add(self._tree / "etc", arcname="etc")


def test_upstream_style_subclass(make_ks: MakeKs, tmp_path: Path) -> None:
    ks = imgcreate.read_kickstart(make_ks("%packages\ndemo-app\n%end\n%post\necho hi > /etc/post-file\n%end\n"))
    with TreeCreator(ks, "tarball", tmpdir=tmp_path) as creator:
        files = creator.create(tmp_path / "out")
        assert creator.mounted_by_subclass
    with tarfile.open(files[0]) as tar:
        names = tar.getnames()
        post = tar.extractfile("etc/post-file")
        assert post is not None and post.read() == b"hi\n"
    assert "etc/fstab" in names and "etc/rpm/macros.imgcreate" in names


@dataclasses.dataclass(frozen=True)
class RecordingBootTest(BootTest):
    """A boot test that records what it was given instead of starting QEMU (the boot itself is tested in
    tests/boot; this checks only that create() ends with it, once the build is cleaned up)."""

    seen: list[tuple[list[Path], str, bool]] = dataclasses.field(default_factory=list)

    def check_host(self, arch: str | None = None) -> None:
        self.seen.append(([], "checked", True))

    def run(self, artifacts: Sequence[Artifact], name: str) -> list[BootResult]:
        builddirs = list(Path(self.tmpdir or "/nonexistent").glob("imgcreate-*"))
        self.seen.append(([a.path for a in artifacts], name, not builddirs))
        return []


def test_create_ends_with_the_boot_test_of_the_config(make_ks: MakeKs, tmp_path: Path) -> None:
    """The boot test is a setting of the build (BuildConfig.boot_test), not an argument only the command line
    passes: an API user's create() checks QEMU before building and boots what package() delivered, after the
    build directory is gone."""
    ks = imgcreate.read_kickstart(make_ks("%packages\ndemo-app\n%end\n"))
    test = RecordingBootTest()
    with TreeCreator(ks, "booted", tmpdir=tmp_path) as creator:
        creator.boot_test = test
        files = creator.create(tmp_path / "out")
    assert test.seen[0] == ([], "checked", True), "QEMU checked before the build"
    assert test.seen[1] == (files, "booted", True), "given what was delivered, with the build cleaned up"
