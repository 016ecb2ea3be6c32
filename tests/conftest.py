"""Shared fixtures (the helpers behind them are in tests/support.py).

Integration tests build real images with the real tools from the project's own test distribution.  Every test
that needs root is checked, after it ran, for leaks seen from outside: mounts under the temp dirs, attached loop
devices, and processes whose root is a build directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.disks import (
    AARCH64_APPEND,
    AARCH64_ARGS,
    AARCH64_KS,
    AARCH64_LIVE_ARGS,
    AARCH64_LIVE_KS,
    BOOT_APPEND,
    EPOCH,
    GPT_ARGS,
    GPT_KS,
    MSDOS_ARGS,
    MSDOS_KS,
    Disk,
    build_disk,
)
from tests.support import (
    REPO_ROOT,
    WATCHED,
    MakeKs,
    MountedImage,
    MountImage,
    RepoServer,
    build_live,
    leak_snapshot,
    run_tool,
)

sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture(scope="session", autouse=True)
def _watch_basetemp(tmp_path_factory: pytest.TempPathFactory) -> None:
    WATCHED.append(str(tmp_path_factory.getbasetemp()))


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    if os.geteuid() != 0 or request.node.get_closest_marker("root") is None:
        yield
        return
    before = leak_snapshot()
    yield
    (leak_snapshot() - before).assert_none()


# The session-wide builds the boots share with some build tests: a test using one runs in the boot half.
BOOT_HALF_FIXTURES = {"gpt_disk", "msdos_disk", "aarch64_disk", "aarch64_iso"}


def in_boot_half(item: pytest.Item) -> bool:
    """Whether *item* runs in the boot half of a split run (scripts/test_halves.py): a boot, or a test of the disks
    the boots build (built once, in that half)."""
    return (item.get_closest_marker("boot") is not None or "/tests/boot/" in str(item.path)
            or bool(BOOT_HALF_FIXTURES & set(getattr(item, "fixturenames", ()))))


def _split(config: pytest.Config, items: list[pytest.Item]) -> None:
    half = os.environ.get("LIVECD_TESTS_HALF")
    if half not in ("boot", "rest"):
        return
    keep = [item for item in items if in_boot_half(item) == (half == "boot")]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _split(config, items)
    if os.environ.get("LIVECD_TOOLS_FULL") != "1":
        # The default run boots every path once; a boot marked "full" boots a path again another way.
        # Likewise "slow": the rest of a build matrix whose every path the default run builds once.
        again = pytest.mark.skip(reason="a second boot of a path: run with LIVECD_TOOLS_FULL=1")
        more = pytest.mark.skip(reason="more builds of paths the default run builds: run with LIVECD_TOOLS_FULL=1")
        for item in items:
            if item.get_closest_marker("full"):
                item.add_marker(again)
            elif item.get_closest_marker("slow"):
                item.add_marker(more)
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (loop devices, mounts, chroot)")
    for item in items:
        if item.get_closest_marker("root"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def testrepo() -> Path:
    """The test distribution's repository (built once, cached by content across runs)."""
    import testdistro

    return testdistro.build_repo()


@pytest.fixture(scope="session")
def userland_repo() -> Path:
    """The real-userland flavour of the test distribution: the image's own dracut makes the initramfs (kernel
    %posttrans, livecd-creator's and appliance-creator's remake), as on Fedora (testdistro/README.md)."""
    import testdistro

    return testdistro.build_repo(flavour="userland")


@pytest.fixture(scope="session")
def aarch64_repo() -> Path:
    """The aarch64 flavour of the test distribution: Debian's arm64 kernel, busybox and GRUB as aarch64 RPMs,
    for builds with ``--forcearch aarch64`` (testdistro/aarch64.py)."""
    import testdistro

    return testdistro.build_repo(flavour="aarch64")


@pytest.fixture
def repo_server(testrepo: Path) -> Iterator[RepoServer]:
    """The test repository over HTTP, recording what is downloaded."""
    with RepoServer(testrepo) as server:
        yield server


@pytest.fixture
def make_ks(tmp_path: Path, testrepo: Path) -> MakeKs:
    """Write a kickstart using the test repository; returns its path.  ``repo_url`` overrides the file:// URL."""

    def make(body: str, name: str = "test.ks", repo_url: str | None = None, size: int = 512) -> Path:
        url = repo_url or f"file://{testrepo}"
        text = f"repo --name=testdistro --baseurl={url}\n"
        if "part /" not in body:
            text += f"part / --size {size}\n"
        text += body
        path = tmp_path / name
        path.write_text(text)
        return path

    return make


@pytest.fixture
def mount_image(tmp_path: Path) -> Iterator[MountImage]:
    """Loop-mount an ext image read-only for inspection; unmounted when the test ends."""
    mounted: list[Path] = []

    def do(image: Path) -> MountedImage:
        mp = tmp_path / f"mnt{len(mounted)}"
        mp.mkdir()
        subprocess.run(["mount", "-o", "ro,loop", str(image), str(mp)], check=True)
        mounted.append(mp)
        return MountedImage(image, mp)

    yield do
    for mp in reversed(mounted):
        subprocess.run(["umount", "-d", str(mp)], check=False)


# Disk images built once per session, inspected by tests/integration/test_disk_image.py and booted by
# tests/boot/test_disk_boot.py.
@pytest.fixture(scope="session")
def gpt_disk(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> Disk:
    """Reproducible (SOURCE_DATE_EPOCH): the disk boot tests boot the path that makes ext partitions again from
    their trees, and tests/integration/test_disk_reproducible.py compares a rebuild with it."""
    tmp = tmp_path_factory.mktemp("gpt")
    return build_disk(tmp, "gptdisk", GPT_KS.format(repo=testrepo, append=BOOT_APPEND), *GPT_ARGS,
                      env={"SOURCE_DATE_EPOCH": EPOCH})


@pytest.fixture(scope="session")
def msdos_disk(tmp_path_factory: pytest.TempPathFactory, userland_repo: Path) -> Disk:
    """The real-userland flavour: appliance-creator makes the initramfs again with the image's own dracut, and
    GRUB goes in with the image's own grub2-mkimage and grub2-bios-setup, as on Fedora; then it boots the
    qcow2 on BIOS itself (GRUB is on the msdos disk; no ESP, so no UEFI boot): tests/boot/test_disk_boot.py reads
    its boot log, tests/integration/test_disk_image.py the layout."""
    tmp = tmp_path_factory.mktemp("msdos")
    return build_disk(tmp, "msdosdisk", MSDOS_KS.format(repo=userland_repo, append=BOOT_APPEND), *MSDOS_ARGS)


@pytest.fixture(scope="session")
def aarch64_disk(tmp_path_factory: pytest.TempPathFactory, aarch64_repo: Path) -> Disk:
    """An aarch64 disk built on this machine (--forcearch aarch64): tests/integration/test_cross_arch.py reads
    it, tests/boot/test_aarch64_boot.py boots it in qemu-system-aarch64."""
    tmp = tmp_path_factory.mktemp("aarch64")
    return build_disk(tmp, "a64disk", AARCH64_KS.format(repo=aarch64_repo, append=AARCH64_APPEND), *AARCH64_ARGS)


@pytest.fixture(scope="session")
def aarch64_iso(tmp_path_factory: pytest.TempPathFactory, aarch64_repo: Path) -> Path:
    """An aarch64 live ISO built on this machine (livecd-creator --forcearch aarch64): read by
    tests/integration/test_cross_arch.py, booted by tests/boot/test_aarch64_boot.py."""
    tmp = tmp_path_factory.mktemp("aarch64-live")
    ks = tmp / "A64LIVE.ks"
    ks.write_text(AARCH64_LIVE_KS.format(repo=aarch64_repo, append=AARCH64_APPEND))
    run_tool("livecd-creator", "-c", str(ks), "-f", "A64LIVE", "-t", str(tmp), "-o", str(tmp / "out"),
             *AARCH64_LIVE_ARGS)
    return tmp / "out" / "A64LIVE.iso"


@pytest.fixture(scope="session")
def toolbox_isos(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> dict[str, Path]:
    """Two small live ISOs (squashfs holding rootfs.img, and flat) that the live media tools read or start from:
    tests/integration/test_toolbox.py and tests/integration/test_tool_options.py share them.  Their live check
    writes nothing."""
    tmp = tmp_path_factory.mktemp("toolbox-isos")
    return {"squashfs": build_live(tmp, testrepo, "TB-SQ", write_mib=0),
            "flat": build_live(tmp, testrepo, "TB-FLAT", "--flat-squashfs", write_mib=0)}
