"""Incremental builds (imgcreate/build/incremental.py): a rebuild with the same package set and repository metadata
starts from the cached installed tree (no dnf, no rpm transaction) and gives the same image, byte for byte
(the builds are reproducible, so bytes can be compared); a changed package list or repository misses; a
damaged or half-written entry is detected and rebuilt; two builds can share the cache; --no-incremental
ignores it."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from tests import isoinspect, kickstarts
from tests.support import MountImage, assert_failed, finish, run_tool, start_tool

pytestmark = pytest.mark.root

KS = kickstarts.kickstart("part / --size 300", bootloader=None, packages=("@core", "kernel", "{extra}"), post="{post}")
POST = "echo post-ran > /etc/post-ran"
EPOCH = "1700000000"


def build(tmp: Path, repo: Path, key: str, *args: str, extra: str = "", post: str = POST,
          tool: str = "image-creator") -> tuple[Path, str]:
    """A reproducible build into tmp/key; its image and what it said."""
    (tmp / key).mkdir(parents=True)
    ks = tmp / key / "inc.ks"
    ks.write_text(KS.format(repo=repo, extra=extra, post=post))
    live = tool == "livecd-creator"
    proc = run_tool(tool, "-c", str(ks), "-n", "INC", "--tmpdir", str(tmp / key), "--output", str(tmp / key / "out"),
                    "--source-date-epoch", EPOCH, *(["--compression-type", "lz4"] if live else []), *args)
    return tmp / key / "out" / ("INC.iso" if live else "INC.img"), proc.stderr


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def entries(cache: Path) -> list[Path]:
    return sorted(p for p in cache.iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("tool", ["image-creator", "livecd-creator"])
def test_rebuild_reuses_the_tree_and_gives_the_same_image(tmp_path: Path, testrepo: Path, tool: str) -> None:
    cache = tmp_path / "cache"
    full, said = build(tmp_path, testrepo, "full", tool=tool)
    assert "incremental" not in said
    first, said = build(tmp_path, testrepo, "first", "--incremental", str(cache), tool=tool)
    assert "no installed tree for this package set yet" in said and "stored the installed tree" in said
    again, said = build(tmp_path, testrepo, "again", "--incremental", str(cache), "-v", tool=tool)
    assert "reused the installed tree" in said and "Installing " not in said, "no rpm transaction"
    assert re.search(r"running %post script \(kickstart line \d+\) in the install root", said), "%post still runs"
    assert digest(full) == digest(first) == digest(again), "the same image as a full build"
    assert len(entries(cache)) == 1


def rpm_verify(root: Path) -> str:
    """``rpm -Va`` of the image mounted at *root*: every package file that differs from its package (sorted)."""
    proc = subprocess.run(["rpm", "-Va", "--nomtime", "--root", str(root), "--dbpath", "/var/lib/rpm"],
                          capture_output=True, text=True, check=False)
    assert "error" not in proc.stderr, proc.stderr
    return "\n".join(sorted(proc.stdout.splitlines()))


def tree_listing(root: Path) -> dict[str, str]:
    """Every path of a mounted image with its type, mode, owner and (but for folders, whose size is the history of
    their entries) size; /etc/post-ran, which each build's %post writes, and lost+found left out."""
    found = {}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not (dirpath == str(root) and d == "lost+found")]
        for name in dirs + files:
            st = os.lstat(os.path.join(dirpath, name))
            size = "" if stat.S_ISDIR(st.st_mode) else st.st_size
            found[os.path.relpath(os.path.join(dirpath, name), root)] = f"{st.st_mode:o} {st.st_uid}:{st.st_gid} {size}"
    del found["etc/post-ran"]
    return found


def test_reuse_on_the_default_loop_mounted_ext4_root(tmp_path: Path, testrepo: Path, mount_image: MountImage) -> None:
    """Without --source-date-epoch the root is an ext4 image loop-mounted for the whole build (not the tree made
    into a filesystem by mke2fs -d at the end): the stored tree is copied into the mounted filesystem.  Not
    comparable byte for byte (times, UUIDs); the rebuild has the same files, packages and rpm verification as the
    build that stored the tree, and this build's own %post."""
    cache = tmp_path / "cache"
    images = {}
    for key, post in (("first", POST), ("again", "echo again-ran > /etc/post-ran")):
        (tmp_path / key).mkdir()
        ks = tmp_path / key / "inc.ks"
        ks.write_text(KS.format(repo=testrepo, extra="demo-app", post=post))
        proc = run_tool("image-creator", "-c", str(ks), "-n", "INC", "-t", str(tmp_path / key), "-o",
                        str(tmp_path / key / "out"), "--incremental", str(cache), "-d")
        images[key] = (tmp_path / key / "out/INC.img", proc.stderr)
    said = images["again"][1]
    mount = said.index("running: /usr/bin/mount -t ext4 /dev/loop")
    reused = said.index("incremental: reused the installed tree")
    assert mount < reused, "copied into the loop-mounted ext4 root"
    assert "mke2fs" not in said[reused:], "no filesystem made from the tree afterwards (mke2fs -d)"
    assert "Installing " not in said
    fsck = subprocess.run(["e2fsck", "-fn", str(images["again"][0])], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout
    first, again = (mount_image(images[k][0]) for k in ("first", "again"))
    assert again.rpms() == first.rpms() and "demo-app" in again.rpms()
    assert rpm_verify(again.path) == rpm_verify(first.path)
    assert tree_listing(again.path) == tree_listing(first.path)
    assert (again / "etc/post-ran").read_text() == "again-ran\n"


def test_title_change_reuses_the_compressed_root(tmp_path: Path, testrepo: Path) -> None:
    """Only the ISO is mastered again when only its menu changes (title, product); a %post or label change
    compresses a new root (still without dnf); a damaged compressed root is compressed again; each gives a full
    build's ISO."""
    cache = tmp_path / "cache"
    live = {"tool": "livecd-creator"}
    full, _ = build(tmp_path, testrepo, "full", "--title", "Second Title", **live)
    _, said = build(tmp_path, testrepo, "first", "--incremental", str(cache), "--title", "First Title", **live)
    assert "stored the compressed root" in said
    again, said = build(tmp_path, testrepo, "again", "--incremental", str(cache), "--title", "Second Title",
                        "-v", **live)
    assert "reused the installed tree" in said and "reused the compressed root" in said
    assert "compressing " not in said and "== filesystem-finish" not in said, "no check, shrink or compression"
    assert digest(again) == digest(full), "the same ISO as a full build"
    assert "Second Title" in isoinspect.read_text(again, "boot/grub2/grub.cfg")

    (roots,) = [p / "roots" for p in entries(cache)]
    (kept,) = roots.iterdir()
    squashfs_img = kept / "squashfs.img"
    squashfs_img.unlink()
    squashfs_img.write_bytes(b"\0" * 4096)  # damaged (a new file: the ISO that shared its inode is untouched)
    again, said = build(tmp_path, testrepo, "damaged", "--incremental", str(cache), "--title", "Second Title",
                        "-v", **live)
    assert "is damaged" in said and "compressing " in said and "stored the compressed root" in said
    assert digest(again) == digest(full)

    changed, said = build(tmp_path, testrepo, "post", "--incremental", str(cache), "--title", "Second Title",
                          "-v", post="echo changed > /etc/post-ran", **live)
    assert "reused the installed tree" in said and "no compressed root for this kickstart" in said
    assert "compressing " in said
    _, said = build(tmp_path, testrepo, "product", "--incremental", str(cache), "--title", "Second Title",
                    "--product", "Another Product", "-v", post="echo changed > /etc/post-ran", **live)
    assert "reused the compressed root" in said, "the product is only in the menu"
    _, said = build(tmp_path, testrepo, "label", "--incremental", str(cache), "--fslabel", "OTHER-LABEL", "-v",
                    post="echo changed > /etc/post-ran", **live)
    assert "no compressed root for this kickstart" in said, "the root filesystem carries the label"
    (tmp_path / "inspect").mkdir()
    rootfs = isoinspect.rootfs_of(changed, tmp_path / "inspect")
    assert "changed" in isoinspect.debugfs(rootfs, "cat /etc/post-ran")
    assert len(list(roots.iterdir())) == 3


def test_changed_packages_or_repository_miss(tmp_path: Path, testrepo: Path) -> None:
    cache = tmp_path / "cache"
    repo = tmp_path / "repo"
    repo.mkdir()
    for rpm in testrepo.rglob("*.rpm"):
        os.symlink(rpm, repo / rpm.name)
    comps = next(testrepo.glob("repodata/*comps*.xml"), None)
    groups = ["-g", str(comps)] if comps else []
    subprocess.run(["createrepo_c", "-q", *groups, "--revision", "1", str(repo)], check=True)
    build(tmp_path, repo, "a", "--incremental", str(cache))
    _, said = build(tmp_path, repo, "b", "--incremental", str(cache), extra="demo-app")
    assert "no installed tree for this package set yet" in said, "another package list misses"
    subprocess.run(["createrepo_c", "-q", *groups, "--revision", "2", str(repo)], check=True)
    _, said = build(tmp_path, repo, "c", "--incremental", str(cache))
    assert "no installed tree for this package set yet" in said, "changed repository metadata misses"
    assert len(entries(cache)) == 3


def test_damaged_or_half_written_entries_are_rebuilt(tmp_path: Path, testrepo: Path) -> None:
    cache = tmp_path / "cache"
    full, _ = build(tmp_path, testrepo, "full")
    build(tmp_path, testrepo, "store", "--incremental", str(cache))
    (entry,) = entries(cache)
    busybox = next((entry / "tree").rglob("busybox"))
    busybox.write_bytes(busybox.read_bytes()[:100])  # truncated
    image, said = build(tmp_path, testrepo, "damaged", "--incremental", str(cache))
    assert "is damaged" in said and "stored the installed tree" in said
    assert digest(image) == digest(full)
    (entry / "entry.json").unlink()  # as if a build died while storing it
    image, said = build(tmp_path, testrepo, "half", "--incremental", str(cache))
    assert "is incomplete" in said and digest(image) == digest(full)
    _, said = build(tmp_path, testrepo, "off", "--incremental", str(cache), "--no-incremental")
    assert "incremental" not in said


def test_two_builds_share_the_cache(tmp_path: Path, testrepo: Path) -> None:
    cache = tmp_path / "cache"
    procs = []
    for key in ("x", "y"):
        (tmp_path / key).mkdir()
        ks = tmp_path / key / "inc.ks"
        ks.write_text(KS.format(repo=testrepo, extra="", post=POST))
        procs.append(start_tool("image-creator", "-c", str(ks), "-n", "INC", "--tmpdir", str(tmp_path / key),
                                "--output", str(tmp_path / key / "out"), "--source-date-epoch", EPOCH,
                                "--incremental", str(cache)))
    for proc in procs:
        done = finish(proc)
        assert done.returncode == 0, done.stderr
    assert digest(tmp_path / "x/out/INC.img") == digest(tmp_path / "y/out/INC.img")
    assert len(entries(cache)) == 1 and not [p for p in cache.iterdir() if p.name.startswith(".")]


def test_incremental_without_a_folder_needs_cache(tmp_path: Path, testrepo: Path) -> None:
    ks = tmp_path / "inc.ks"
    ks.write_text(KS.format(repo=testrepo, extra="", post=POST))
    proc = run_tool("image-creator", "-c", str(ks), "--tmpdir", str(tmp_path), "--incremental", check=False)
    assert_failed(proc, "give --cache DIR, or --incremental DIR")
    cache = tmp_path / "pkgcache"
    _, said = build(tmp_path, testrepo, "k", "--cache", str(cache), "--incremental")
    assert (cache / "incremental").is_dir() and "stored the installed tree" in said
