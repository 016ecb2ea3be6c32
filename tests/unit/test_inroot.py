"""imgcreate.storage.inroot: every path is resolved inside the root, with openat2 and with the fallback walk that old
kernels get, and the two give the same answers (pure filesystem logic, no root needed)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgcreate.errors import ImageError
from imgcreate.storage import inroot, reproducible, rootfs


@pytest.fixture(params=["openat2", "walk"])
def mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test runs with openat2 and with the fallback walk (as after ENOSYS on a kernel before 5.6)."""
    if request.param == "openat2" and not inroot.have_openat2():
        pytest.skip("this kernel has no openat2")
    inroot.use_openat2(request.param == "openat2")
    yield request.param
    inroot.use_openat2(None)


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """(root, host canary): a root whose links all point at the canary's host path, absolute or by ``..``."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret").write_text("host secret")
    (host / "sub").mkdir()
    (host / "sub/file").write_text("host file")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/real").write_text("image file")
    (root / "etc/shadow").write_text("image shadow")
    os.symlink(str(host), root / "hostdir")  # absolute: means <root>/<host path> inside the root
    os.symlink("../../../../../../../../" + str(host), root / "etc/up")  # .. beyond the root
    os.symlink(str(host / "secret"), root / "etc/abs-file")
    os.symlink("usr/lib", root / "lib")  # a link in the middle of paths
    os.symlink("/etc/shadow", root / "etc/shadow-link")
    return root, host


def _host_unchanged(host: Path) -> None:
    assert sorted(p.name for p in host.iterdir()) == ["secret", "sub"]
    assert (host / "secret").read_text() == "host secret"
    assert (host / "sub/file").read_text() == "host file"


def test_absolute_and_dotdot_links_stay_in_root(tree: tuple[Path, Path], mode: str) -> None:
    root, host = tree
    assert inroot.read_bytes(root, "/etc/shadow-link") == b"image shadow"
    assert inroot.read_bytes(root, "/lib/real") == b"image file"  # a link in the middle, inside the root
    for path in ("/etc/abs-file", "/hostdir/secret", "/etc/up/secret", "/../../etc/up/sub/file"):
        with pytest.raises(FileNotFoundError):
            inroot.read_bytes(root, path)
        assert not inroot.is_file(root, path)
    assert inroot.listdir(root, "/hostdir") == []
    assert inroot.real_path(root, "/lib/real") == "/usr/lib/real"
    _host_unchanged(host)


def test_writes_deletes_and_times_never_follow(tree: tuple[Path, Path], mode: str) -> None:
    root, host = tree
    inroot.write_bytes(root, "/etc/abs-file", b"mine")  # the last component: replaced, not followed
    assert not (root / "etc/abs-file").is_symlink() and (root / "etc/abs-file").read_bytes() == b"mine"
    inroot.write_bytes(root, "/hostdir/secret", b"in the image")  # a dangling link: its target made in the root
    assert (root / str(host).lstrip("/") / "secret").read_bytes() == b"in the image"
    assert inroot.unlink(root, "/etc/up/sub/file") is False  # nothing there inside the root
    assert inroot.unlink(root, "/etc/shadow-link") and (root / "etc/shadow").exists()
    inroot.utime(root, "/etc/up", (0, 0))
    assert (root / "etc/up").lstat().st_mtime == 0
    inroot.remove_tree(root, "/etc/up")
    inroot.remove_tree(root, "/lib")  # the link, not usr/lib
    assert (root / "usr/lib/real").exists() and not (root / "lib").is_symlink()
    os.symlink(str(host), root / "etc/up")
    inroot.remove_contents(root, "/etc")
    assert list((root / "etc").iterdir()) == []
    _host_unchanged(host)


def test_both_ways_give_the_same_answers(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    (root / str(tree[1]).lstrip("/")).mkdir(parents=True)
    (root / str(tree[1]).lstrip("/") / "secret").write_text("image's copy")
    paths = ("/etc/up/secret", "/hostdir/secret", "/lib/real", "/etc/shadow-link", "/usr/../../etc",
             "/etc/abs-file", "/nope", "/lib/../lib/real")
    answers = []
    for enabled in (True, False):
        inroot.use_openat2(enabled)
        try:
            found = [(p, inroot.stat_in_root(root, p)) for p in paths]
            answers.append([(p, st.st_ino if st else None, inroot.real_path(root, p) if st else None)
                            for p, st in found])
        finally:
            inroot.use_openat2(None)
    if inroot.have_openat2():
        assert answers[0] == answers[1]
    assert answers[1][0][2] == str(tree[1] / "secret")


def test_copy_out_resolves_links_inside_or_refuses(tree: tuple[Path, Path], mode: str, tmp_path: Path) -> None:
    root, host = tree
    (root / "boot/efi/EFI/x").mkdir(parents=True)
    (root / "boot/efi/EFI/x/grub.efi").write_bytes(b"grub")
    os.symlink("/etc/shadow", root / "boot/efi/EFI/x/shadow")
    os.symlink(str(host / "secret"), root / "boot/efi/EFI/x/secret")
    with pytest.raises(ImageError, match="/boot/efi/EFI/x/secret in the image is a symbolic link"):
        inroot.copy_out(root, "/boot/efi", tmp_path / "refused", links="refuse")
    os.unlink(root / "boot/efi/EFI/x/secret")
    inroot.copy_out(root, "/boot/efi", tmp_path / "out")
    assert (tmp_path / "out/EFI/x/shadow").read_text() == "image shadow"  # the image's, resolved inside it
    assert not (tmp_path / "out/EFI/x/shadow").is_symlink()
    os.symlink(str(host), root / "boot/efi/EFI/x/hostdir")
    with pytest.raises(ImageError, match="which is not in the image"):
        inroot.copy_out(root, "/boot/efi", tmp_path / "out2")  # <root>/<host path> does not exist
    os.unlink(root / "boot/efi/EFI/x/hostdir")
    os.symlink("/boot", root / "boot/efi/EFI/x/loop")
    with pytest.raises(ImageError, match="loop"):
        inroot.copy_out(root, "/boot/efi", tmp_path / "out3")
    _host_unchanged(host)


def test_resolv_conf_cleanup_after_etc_replaced(tree: tuple[Path, Path], mode: str) -> None:
    """%post replacing /etc by a link to a host folder: the cleanup works in the image's /etc, not the host's."""
    root, host = tree
    (host / "resolv.conf").write_text("host's own")
    (root / "etc/resolv.conf").write_text("image's own")
    with rootfs.host_resolv_conf(root):
        os.rename(root / "etc", root / "etc.moved")
        os.symlink(str(host), root / "etc")
    assert (host / "resolv.conf").read_text() == "host's own"
    assert (root / "etc.moved/resolv.conf").read_text() == "image's own"
    assert not (root / "etc.moved/.resolv.conf.imgcreate-saved").exists()


def test_normalize_tree_through_links(tree: tuple[Path, Path], mode: str) -> None:
    """SOURCE_DATE_EPOCH's normalisation with /etc and /var/lib replaced by links to host folders."""
    root, host = tree
    (host / "machine-id").write_text("0123\n")
    (host / "systemd").mkdir()
    (host / "systemd/random-seed").write_text("seed")
    (root / "var").mkdir()
    os.symlink(str(host), root / "var/lib")
    os.rename(root / "etc", root / "etc.old")
    os.symlink(str(host), root / "etc")
    stamps = {p: p.stat().st_mtime_ns for p in host.rglob("*")}
    reproducible.normalize_tree(root, 1_000_000)
    assert (host / "machine-id").read_text() == "0123\n"
    assert (host / "systemd/random-seed").read_text() == "seed"
    assert {p: p.stat().st_mtime_ns for p in host.rglob("*")} == stamps


def test_enosys_falls_back_to_the_walk(tree: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel without openat2 (ENOSYS, or EPERM from a seccomp filter): detected once, then the walk."""
    root, host = tree

    def no_openat2(*args: object) -> int:
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(inroot, "_openat2", no_openat2)
    inroot.use_openat2(None)
    try:
        assert not inroot.have_openat2()
        assert inroot.read_bytes(root, "/etc/shadow-link") == b"image shadow"
        assert not inroot.is_file(root, "/etc/abs-file")
        inroot.write_bytes(root, "/etc/abs-file", b"mine")
        assert (host / "secret").read_text() == "host secret"
    finally:
        inroot.use_openat2(None)


def test_the_root_itself(tree: tuple[Path, Path], mode: str) -> None:
    """``/`` is the root folder (a disk's root partition is mounted there): it exists and is a folder."""
    root, _host = tree
    for path in ("/", ""):
        st = inroot.lstat(root, path)
        assert st is not None and stat.S_ISDIR(st.st_mode)
        assert inroot.real_path(root, path) == "/"
