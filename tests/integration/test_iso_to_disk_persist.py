"""livecd-iso-to-disk's persistence, home and live-directory options with upstream's meaning, one check per
option, on the stick's files without booting (the OverlayFS overlay's two boots:
tests/boot/test_iso_to_disk_persist_boot.py).

The sticks are written from the session's small squashfs ISO (conftest.toolbox_isos), as image files.  The
encrypted home is read back without device-mapper (this CI's kernel has none): ``cryptsetup luksDump`` and
``cryptsetup open --test-passphrase``, then the volume key decrypts the container's first sectors (AES-XTS,
python3-cryptography) and they hold the ext4 superblock labelled ``home``.  The options that act on a target
that keeps its files (``--reset-overlay``, ``--delete-home``; upstream's non-destructive mode) are checked on a
folder standing for the mounted target, through the same functions the tool calls around its copy, and on a
formatted target, where upstream finds nothing to reset or delete and says so.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imgcreate.errors import CreatorError
from imgcreate.media.liveiso import Layout, LiveIso, read_live_iso
from imgcreate.toolbox import stickoverlay, stickpersist
from imgcreate.toolbox.stickoptions import IsoToDiskOptions
from tests.support import assert_failed, run_tool

pytestmark = pytest.mark.root

PASSPHRASE = "correct horse battery staple"


def sh(*argv: str, check: bool = True, input: str | None = None) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=check, input=input).stdout


@contextlib.contextmanager
def data_partition(stick: Path, where: Path, writable: bool = False) -> Iterator[tuple[Path, str]]:
    """The stick's data partition (its last) mounted (read-only unless *writable*) at *where*, and its UUID."""
    dev = sh("losetup", "--find", "--show", "--partscan", *([] if writable else ["--read-only"]), str(stick)).strip()
    try:
        sh("partx", "--add", dev, check=False)
        part = sorted(p for p in sh("lsblk", "-lnpo", "NAME", dev).split() if p != dev)[-1]
        uuid = sh("blkid", "-p", "-s", "UUID", "-o", "value", part).strip()
        where.mkdir(parents=True, exist_ok=True)
        sh("mount", "-o", "rw" if writable else "ro,noload", part, str(where))
        try:
            yield where, uuid
        finally:
            sh("umount", str(where), check=False)
    finally:
        sh("losetup", "-d", dev, check=False)


def linux_args(mnt: Path) -> list[str]:
    cfg = (mnt / "boot/grub2/grub.cfg").read_text()
    return next(line.split() for line in cfg.splitlines() if line.strip().startswith("linux "))


def write(iso: Path, stick: Path, *options: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_tool("livecd-iso-to-disk", "--noverify", "--noefi", "--force", str(iso), str(stick), *options,
                    input=input)


@pytest.fixture(scope="module")
def iso(toolbox_isos: dict[str, Path]) -> Path:
    return toolbox_isos["squashfs"]


def decrypted_start(image: Path, passphrase: str, tmp: Path) -> bytes:
    """The first 4 KiB of the LUKS container *image*'s payload, decrypted with its volume key (aes-xts-plain64,
    the IV being the 512-byte sector's number in the payload)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key_file = tmp / "volume.key"
    sh("cryptsetup", "luksDump", "--dump-volume-key", "--batch-mode", "--key-file", "-", "--volume-key-file",
       str(key_file), str(image), input=passphrase)
    dump = sh("cryptsetup", "luksDump", str(image))
    assert "cipher: aes-xts-plain64" in dump and "sector: 512 [bytes]" in dump, dump
    offset = int(re.search(r"offset: (\d+) \[bytes\]", dump.split("Data segments:")[1]).group(1))  # type: ignore[union-attr]
    key = key_file.read_bytes()
    with open(image, "rb") as f:
        f.seek(offset)
        data = f.read(4096)
    out = b""
    for sector in range(len(data) // 512):
        dec = Cipher(algorithms.AES(key), modes.XTS(sector.to_bytes(16, "little"))).decryptor()
        out += dec.update(data[sector * 512:(sector + 1) * 512]) + dec.finalize()
    return out


@pytest.fixture(scope="module")
def carrying(iso: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The ISO with another stick's overlay (an OverlayFS image with a marker in overlayfs/) in LiveOS/, and the
    ISO with its persistent home (ext4, a marker file): sources that carry them."""
    tmp = tmp_path_factory.mktemp("carrying")
    home_tree, ovl_tree = tmp / "home-tree", tmp / "ovl-tree"
    (home_tree / "liveuser").mkdir(parents=True)
    (home_tree / "liveuser/marker").write_text("home from the source\n")
    (ovl_tree / "overlayfs/etc").mkdir(parents=True)
    (ovl_tree / "ovlwork").mkdir()
    (ovl_tree / "overlayfs/etc/marker").write_text("overlay from the source\n")
    isos = {}
    for name, tree, path in (("home", home_tree, "/LiveOS/home.img"),
                             ("overlay", ovl_tree, "/LiveOS/overlay-OLD-1234")):
        img = tmp / f"{name}.img"
        sh("truncate", "-s", "8M", str(img))
        sh("mkfs.ext4", "-q", "-F", "-L", name, "-d", str(tree), str(img))
        isos[name] = tmp / f"{name}.iso"
        sh("xorriso", "-indev", str(iso), "-outdev", str(isos[name]), "-boot_image", "any", "replay",
           "-map", str(img), path)
    return isos


def test_copy_overlay_livedir_swap_and_encrypted_home(carrying: dict[str, Path], tmp_path: Path) -> None:
    """--copy-overlay: the source's overlay under this stick's name, its kind kept (an OverlayFS image, so
    rd.live.overlay.overlayfs); --livedir: the live system in its folder, rd.live.dir=; --swap-size-mb: a swap
    file; --home-size-mb with the default --crypted-home: ext4 in LUKS2, the passphrase on standard input."""
    stick = tmp_path / "stick.raw"
    write(carrying["overlay"], stick, "--copy-overlay", "--livedir", "Sys1", "--swap-size-mb", "8",
          "--home-size-mb", "40", "--crypted-home", "--label", "PERSIST", input=PASSPHRASE + "\n")
    with data_partition(stick, tmp_path / "data") as (mnt, uuid):
        assert not (mnt / "LiveOS").exists() and (mnt / "Sys1/squashfs.img").is_file()
        names = sorted(p.name for p in (mnt / "Sys1").iterdir())
        assert f"overlay-PERSIST-{uuid}" in names and "overlay-OLD-1234" not in names, names
        overlay = mnt / f"Sys1/overlay-PERSIST-{uuid}"
        assert "overlay from the source" in sh("debugfs", "-R", "cat overlayfs/etc/marker", str(overlay))
        args = linux_args(mnt)
        assert {"rd.live.overlay.overlayfs", f"rd.live.overlay=UUID={uuid}", "rd.live.dir=Sys1", "rw"} <= set(args)
        assert "ro" not in args
        swap = mnt / "Sys1/swap.img"
        assert swap.stat().st_size == 8 * 1024 * 1024 and swap.stat().st_mode & 0o077 == 0
        assert sh("blkid", "-p", "-s", "TYPE", "-o", "value", str(swap)).strip() == "swap"
        home = mnt / "Sys1/home.img"
        assert home.stat().st_size == 40 * 1024 * 1024
        assert sh("blkid", "-p", "-s", "TYPE", "-o", "value", str(home)).strip() == "crypto_LUKS"
        assert "Version:       \t2" in sh("cryptsetup", "luksDump", str(home))
        sh("cryptsetup", "open", "--test-passphrase", "--key-file", "-", str(home), input=PASSPHRASE)
        wrong = subprocess.run(["cryptsetup", "open", "--test-passphrase", "--key-file", "-", str(home)],
                               input="wrong", capture_output=True, text=True, check=False)
        assert wrong.returncode != 0
        plain = decrypted_start(home, PASSPHRASE, tmp_path)
    assert plain[1024 + 56:1024 + 58] == b"\x53\xef", "the ext4 superblock's magic, decrypted"
    assert plain[1024 + 120:1024 + 136].rstrip(b"\0") == b"home"


def test_overlayfs_folder_and_copy_home(carrying: dict[str, Path], tmp_path: Path) -> None:
    """--overlayfs: a persistent OverlayFS overlay in a folder (upstream's on an ext target), ovlwork beside it;
    --copy-home: the source's home.img, unchanged."""
    stick = tmp_path / "stick.raw"
    write(carrying["home"], stick, "--overlayfs", "--copy-home", "--label", "OVLFS")
    with data_partition(stick, tmp_path / "data") as (mnt, uuid):
        overlay = mnt / f"LiveOS/overlay-OVLFS-{uuid}"
        assert overlay.is_dir() and not any(overlay.iterdir()) and (mnt / "LiveOS/ovlwork").is_dir()
        assert "home from the source" in sh("debugfs", "-R", "cat liveuser/marker", str(mnt / "LiveOS/home.img"))
        args = linux_args(mnt)
        assert {"rd.live.overlay.overlayfs", f"rd.live.overlay=UUID={uuid}", "rw"} <= set(args)


def test_no_overlay_and_nothing_to_reset_delete_or_join_on_a_formatted_target(iso: Path, tmp_path: Path) -> None:
    """--no-overlay: rd.live.overlay=none, no overlay; on a formatted target --reset-overlay finds no overlay and
    says so, --delete-home has nothing to delete, --multi no other system to join (said); --unencrypted-home: a
    plain ext4 home.  Then --multi --livedir Sys2 on that stick: a second system beside the first, its menu entry
    first (the default), the first's after it unchanged (both boot: tests/boot/test_iso_to_disk_boot.py).  And
    liveimage-mount on a stick whose home is encrypted leaves the home unmounted and says so."""
    stick = tmp_path / "stick.raw"
    proc = write(iso, stick, "--no-overlay", "--reset-overlay", "--delete-home", "--multi",
                 "--home-size-mb", "8", "--unencrypted-home", "--size-mb", "400")
    assert "no persistent overlay on the target to reset" in proc.stderr, proc.stderr
    assert "--multi: the target holds no other live system" in proc.stderr, proc.stderr
    with data_partition(stick, tmp_path / "data") as (mnt, _uuid):
        args = linux_args(mnt)
        assert "rd.live.overlay=none" in args and "rd.live.overlay.overlayfs" not in args
        assert not any(p.name.startswith("overlay-") for p in (mnt / "LiveOS").iterdir())
        assert sh("blkid", "-p", "-s", "TYPE", "-o", "value", str(mnt / "LiveOS/home.img")).strip() == "ext4"
        assert "rw" in args, "the home is written: the live partition is mounted read-write"
        first_cfg = (mnt / "boot/grub2/grub.cfg").read_text()

    # --multi on that stick: a second system in /Sys2, its overlay named by the stick's label and UUID.
    write(iso, stick, "--multi", "--livedir", "Sys2", "--overlay-size-mb", "16")
    with data_partition(stick, tmp_path / "data") as (mnt, uuid):
        cfg = (mnt / "boot/grub2/grub.cfg").read_text()
        assert (mnt / "Sys2/squashfs.img").is_file() and (mnt / "LiveOS/squashfs.img").is_file()
        assert (mnt / "Sys2/boot/vmlinuz").is_file() and (mnt / "Sys2/boot/initrd.img").is_file()
        assert (mnt / "LiveOS/home.img").is_file(), "the first system's home stays"
        overlays = [p.name for p in (mnt / "Sys2").iterdir() if p.name.startswith("overlay-")]
    entries = re.findall(r"^menuentry .*?^}", cfg, re.M | re.S)
    assert len(entries) == 2, cfg
    new, old = entries
    assert "linux /Sys2/boot/vmlinuz " in new and "rd.live.dir=Sys2" in new and f"rd.live.overlay=UUID={uuid}" in new
    assert old in first_cfg and "rd.live.dir" not in old, "the first system's entry, unchanged, second"
    assert overlays == [f"overlay-{label_of(stick, tmp_path)}-{uuid}"], overlays

    # liveimage-mount on a stick whose home is encrypted (the default now): the home is left unmounted, said.
    with data_partition(stick, tmp_path / "data", writable=True) as (mnt, _uuid):
        home = mnt / "LiveOS/home.img"
        home.unlink()
        sh("truncate", "-s", "8M", str(home))
        sh("cryptsetup", "luksFormat", "--type", "luks1", "--batch-mode", "--pbkdf", "pbkdf2",
           "--pbkdf-force-iterations", "1000", "--key-file", "-", str(home), input="x")
    (tmp_path / "mnt").mkdir()
    proc = run_tool("liveimage-mount", "--tmpdir", str(tmp_path), str(stick), str(tmp_path / "mnt"), "true")
    assert "LiveOS/home.img is encrypted (LUKS, livecd-iso-to-disk's default): not mounted on /home" in proc.stderr


def label_of(stick: Path, tmp: Path) -> str:
    """The stick's data partition label (the one dracut names the overlay by)."""
    dev = sh("losetup", "--find", "--show", "--partscan", "--read-only", str(stick)).strip()
    try:
        sh("partx", "--add", dev, check=False)
        part = sorted(p for p in sh("lsblk", "-lnpo", "NAME", dev).split() if p != dev)[-1]
        return sh("blkid", "-p", "-s", "LABEL", "-o", "value", part).strip()
    finally:
        sh("losetup", "-d", dev, check=False)


def test_overlayfs_temp_boots_an_overlay_in_ram() -> None:
    """--overlayfs temp only changes the kernel arguments: rd.live.overlay.overlayfs without a persistent
    overlay (no rd.live.overlay=), read-only (its refusal with --overlay-size-mb: below)."""
    temp = stickoverlay.OverlayfsMode.TEMP
    persisted = stickpersist.Persisted(args=tuple(stickoverlay.kernel_args(None, temp, False, "U")))
    args = stickpersist.with_args("root=live:UUID=U rd.live.image ro", persisted)
    assert args.split() == ["root=live:UUID=U", "rd.live.image", "ro", "rd.live.overlay.overlayfs"]


REFUSALS: dict[str, tuple[dict[str, Any], str]] = {
    "--overlayfs temp --overlay-size-mb": ({"overlayfs": "temp", "overlay_size_mb": 8}, "only one of these"),
    "--no-overlay --overlay-size-mb": ({"no_overlay": True, "overlay_size_mb": 8}, "only one of these"),
    "--copy-overlay --overlay-size-mb": ({"copy_overlay": True, "overlay_size_mb": 8}, "only one of these"),
    "--reset-overlay --overlay-size-mb": ({"reset_overlay": True, "overlay_size_mb": 8}, "only one of these"),
    "--reset-overlay --copy-overlay": ({"reset_overlay": True, "copy_overlay": True}, "only one of these"),
    "--copy-home without a home": ({"copy_home": True}, r"no persistent home \(LiveOS/home.img\) on the source"),
    "--crypted-home too small": ({"home_size_mb": 8}, "An encrypted home needs at least 32 MiB"),
    "--crypted-home without a passphrase": ({"home_size_mb": 40}, "passphrase for the encrypted home is empty"),
    "--livedir on the ISO's folder": ({"livedir": "EFI"}, "the ISO has a folder /EFI of its own"),
    "--livedir not a name": ({"livedir": "a;b"}, "--livedir 'a;b' cannot be used"),
    "--swap-size-mb negative": ({"swap_size_mb": -1}, "--swap-size-mb must be 0 or more"),
}


@pytest.fixture(scope="module")
def live(iso: Path) -> LiveIso:
    return read_live_iso(iso)


def test_livedir_whitespace_and_slashes_replaced_as_upstream() -> None:
    assert stickpersist.livedir_name("My Live/OS") == "My_Live-OS"


@pytest.mark.parametrize("key", REFUSALS)
def test_refusals_before_anything_is_written(live: LiveIso, key: str) -> None:
    """What livecd-iso-to-disk checks before it writes (the tool's own message for one of them: next test)."""
    fields, needle = REFUSALS[key]
    with pytest.raises(CreatorError, match=needle):
        stickpersist.check(IsoToDiskOptions(**fields), live)


def test_skipcopy_bypasses_what_reset_overlay_clashes_with(live: LiveIso) -> None:
    """With --skipcopy no overlay is made or copied, so --reset-overlay goes with --overlay-size-mb and
    --copy-overlay, as upstream (its clash checks read ``-z $skipcopy``); --no-overlay with a size still clashes."""
    for fields in ({"overlay_size_mb": 8}, {"copy_overlay": True}):
        stickpersist.check(IsoToDiskOptions(skipcopy=True, reset_overlay=True, **fields), live)  # type: ignore[arg-type]
    with pytest.raises(CreatorError, match="only one of these"):
        stickpersist.check(IsoToDiskOptions(skipcopy=True, no_overlay=True, overlay_size_mb=8), live)


def test_a_refusal_from_the_command_line(iso: Path, tmp_path: Path) -> None:
    proc = run_tool("livecd-iso-to-disk", "--noverify", "--overlayfs", "temp", "--overlay-size-mb", "8", str(iso),
                    str(tmp_path / "stick.raw"), check=False)
    assert_failed(proc, "You asked for --overlayfs temp and --overlay-size-mb: only one of these may be given.")
    assert proc.returncode == 1 and not (tmp_path / "stick.raw").exists()


def test_a_new_home_on_an_iso_that_carries_one_is_refused(carrying: dict[str, Path], tmp_path: Path) -> None:
    proc = run_tool("livecd-iso-to-disk", "--noverify", "--home-size-mb", "64", str(carrying["home"]),
                    str(tmp_path / "stick.raw"), check=False)
    assert_failed(proc, "a new home (--home-size-mb) AND to copy the source's LiveOS/home.img")


# A target that keeps its files (upstream's default mode): the same functions on a folder standing for it.

def _target(tmp: Path) -> Path:
    mnt = tmp / "target"
    (mnt / "LiveOS").mkdir(parents=True)
    (mnt / "LiveOS/squashfs.img").write_bytes(b"old system")
    (mnt / "LiveOS/home.img").write_bytes(b"old home")
    (mnt / "LiveOS/overlay-OLD-1234").write_bytes(b"SnAp" + b"\x01" * (128 * 1024 - 4))  # a used COW file
    (mnt / "notes.txt").write_text("the user's own file")
    return mnt


def _copy_new_system(mnt: Path) -> None:
    """What the copy does on such a target: the old live directory replaced by the ISO's."""
    subprocess.run(["rm", "-rf", str(mnt / "LiveOS")], check=True)
    (mnt / "LiveOS").mkdir()
    (mnt / "LiveOS/squashfs.img").write_bytes(b"new system")


def test_reset_overlay_keeps_renames_and_empties_the_targets_overlay(tmp_path: Path) -> None:
    mnt = _target(tmp_path)
    options = IsoToDiskOptions(reset_overlay=True)
    kept = stickpersist.before_copy(mnt, options)
    _copy_new_system(mnt)
    persisted = stickpersist.after_copy(mnt, "NEW", "U-1", options, Layout.ROOTFS_IN_SQUASHFS, tmp_path, kept)
    overlay = mnt / "LiveOS/overlay-NEW-U-1"
    data = overlay.read_bytes()
    assert len(data) == 128 * 1024 and data[:64 * 1024] == bytes(64 * 1024), "the COW header zeroed: empty"
    assert not (mnt / "LiveOS/overlay-OLD-1234").exists()
    assert (mnt / "LiveOS/home.img").read_bytes() == b"old home", "the home is kept"
    assert (mnt / "notes.txt").read_text() == "the user's own file"
    assert persisted.args == ("rd.live.overlay=UUID=U-1",) and persisted.rw


def test_delete_home_is_needed_to_replace_the_targets_home(tmp_path: Path) -> None:
    mnt = _target(tmp_path)
    with pytest.raises(CreatorError, match="give --delete-home explicitly"):
        stickpersist.before_copy(mnt, IsoToDiskOptions(home_size_mb=64, crypted_home=False))
    assert (mnt / "LiveOS/home.img").read_bytes() == b"old home", "refused: nothing changed"
    with pytest.raises(CreatorError, match="give --delete-home explicitly"):
        stickpersist.before_copy(mnt, IsoToDiskOptions(copy_home=True))
    kept = stickpersist.before_copy(mnt, IsoToDiskOptions(delete_home=True))
    assert not kept.home, "with --delete-home the old home goes with the old live directory"
