"""Host files are never read, written or deleted through a link planted in the image (issue 22).

A ``%post`` (or an ``editliveos -s`` script, or the ISO given to livecd-iso-to-disk) is untrusted: it may
replace any folder of the image by a symlink to a host folder.  Here every such link points at a host "canary"
folder holding the files the tools touch after %post (machine-id, random-seed, resolv.conf, dnf's history
database, the live dracut configuration, GRUB and home files, a populated folder); after each build the canary
must be byte for byte and time for time as it was, and the build must either succeed without following the
links or fail with one clear paragraph (exit status 1, no traceback).  One build plants several links at once.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from tests import kickstarts
from tests.support import assert_failed, run_tool

pytestmark = pytest.mark.root

LIVE_KS = kickstarts.LIVE

# /etc, /var/lib/systemd (random-seed), /var/lib/dnf (history.sqlite) and /home (where liveimage-mount mounts a
# stick's home image) become links to the canary.
PLANT = """%post --erroronfail
mv /etc /etc.image
ln -s {canary} /etc
rm -rf /var/lib/systemd /var/lib/dnf
ln -s {canary} /var/lib/systemd
ln -s {canary} /var/lib/dnf
rm -rf /home
ln -s {canary} /home
%end
"""

ESP_KS = kickstarts.kickstart(
    kickstarts.clearpart("gpt"), "part /boot/efi --fstype=efi --size=64", "part / --fstype=ext4 --size=300",
    post="mv /etc /etc.image\nln -s {canary} /etc\n{esp}", post_options=" --erroronfail")

Snapshot = dict[str, tuple[int, int, int, str]]


def snapshot(top: Path) -> Snapshot:
    """Every entry below *top* (and *top* itself): mode, size, modification time, content digest or link."""
    found: Snapshot = {}
    for path in [top, *sorted(top.rglob("*"))]:
        st = path.lstat()
        if stat.S_ISREG(st.st_mode):
            what = hashlib.sha256(path.read_bytes()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            what = os.readlink(path)
        else:
            what = ""
        found[str(path.relative_to(top))] = (st.st_mode, st.st_size, st.st_mtime_ns, what)
    return found


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Snapshot]:
    """The host folder every planted link points at, and its state before any build."""
    top = tmp_path_factory.mktemp("canary")
    for name, text in (("machine-id", "0123456789abcdef\n"), ("random-seed", "seed"), ("resolv.conf", "ns 9\n"),
                       ("grub.cfg", "host grub\n"), ("home.img", "host home\n"), ("secret", "host secret\n")):
        (top / name).write_text(text)
    (top / "dracut.conf.d").mkdir()
    (top / "dracut.conf.d/99-liveos.conf").write_text("host dracut\n")
    (top / "efi/EFI/host").mkdir(parents=True)
    (top / "efi/EFI/host/data").write_text("host data\n")
    with sqlite3.connect(top / "history.sqlite") as db:
        db.execute("CREATE TABLE trans (dt_begin INTEGER, dt_end INTEGER)")
        db.execute("INSERT INTO trans VALUES (5, 5)")
    db.close()
    for path in [top, *top.rglob("*")]:
        os.utime(path, (1_000_000, 1_000_000), follow_symlinks=False)
    return top, snapshot(top)


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The tool's one error paragraph (warnings before it may name the same paths)."""
    assert_failed(proc)
    assert proc.returncode == 1
    return next(line for line in reversed(proc.stderr.splitlines()) if ": error: " in line)


def assert_untouched(canary: tuple[Path, Snapshot]) -> None:
    top, before = canary
    assert snapshot(top) == before, "a host file was changed through a link in the image"


@pytest.fixture(scope="module")
def planted_iso(tmp_path_factory: pytest.TempPathFactory, testrepo: Path, canary: tuple[Path, Snapshot]) -> Path:
    """livecd-creator with SOURCE_DATE_EPOCH (normalize_tree's machine-id, random-seed, dnf history) whose
    %post planted the links; its root keeps them, for editliveos and livecd-iso-to-disk."""
    tmp = tmp_path_factory.mktemp("planted")
    ks = tmp / "planted.ks"
    ks.write_text(LIVE_KS.format(repo=testrepo) + PLANT.format(canary=canary[0]))
    run_tool("livecd-creator", "-c", str(ks), "-f", "PLANTED", "--tmpdir", str(tmp), "--output", str(tmp / "out"),
             "--compression-type", "lz4", "--source-date-epoch", "1700000000")
    return tmp / "out/PLANTED.iso"


def test_live_with_source_date_epoch(planted_iso: Path, canary: tuple[Path, Snapshot]) -> None:
    assert planted_iso.is_file()
    assert_untouched(canary)


@pytest.mark.parametrize("tool, args", [("livecd-creator", ("-s",)), ("image-creator", ())],
                         ids=["livecd-creator-s", "image-creator"])
def test_builds_without_epoch(tool: str, args: tuple[str, ...], testrepo: Path, tmp_path: Path,
                              canary: tuple[Path, Snapshot]) -> None:
    """The build-time resolv.conf and the live dracut configuration are removed in the image, not the host."""
    ks = tmp_path / "plant.ks"
    ks.write_text(LIVE_KS.format(repo=testrepo) + PLANT.format(canary=canary[0]))
    run_tool(tool, "-c", str(ks), "-f", "PLANT", "--tmpdir", str(tmp_path), "--output", str(tmp_path / "out"), *args)
    assert list((tmp_path / "out").glob("PLANT.*"))
    assert_untouched(canary)


@pytest.mark.parametrize("esp", ["mountpoint", "inside"])
def test_appliance_esp_link_is_refused(esp: str, testrepo: Path, tmp_path: Path,
                                       canary: tuple[Path, Snapshot]) -> None:
    """/boot/efi replaced by a link to a host folder (or a link inside it): the host folder is neither copied
    into the FAT partition nor emptied; the build fails naming the link."""
    top = canary[0]
    plant = (f"rm -rf /boot/efi\nln -s {top}/efi /boot/efi" if esp == "mountpoint"
             else f"mkdir -p /boot/efi/EFI\nln -s {top}/secret /boot/efi/EFI/leak")
    ks = tmp_path / "esp.ks"
    ks.write_text(ESP_KS.format(repo=testrepo, canary=top, esp=plant))
    proc = run_tool("appliance-creator", "-c", str(ks), "-n", "esp", "-o", str(tmp_path / "out"),
                    "-t", str(tmp_path), "--no-compress", check=False)
    error = error_line(proc)
    assert ("/boot/efi in the image is a symbolic link" if esp == "mountpoint"
            else "/boot/efi/EFI/leak in the image is a symbolic link") in error, error
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert_untouched(canary)


def test_editliveos_script(planted_iso: Path, tmp_path: Path, canary: tuple[Path, Snapshot]) -> None:
    """editliveos on a root that already has the links, with a script planting them again."""
    script = tmp_path / "plant.sh"
    script.write_text(f"#!/bin/sh\nrm -f /etc\nln -s {canary[0]} /etc\nrm -rf /var/lib/dnf\n"
                      f"ln -s {canary[0]} /var/lib/dnf\n")
    out = tmp_path / "edited.iso"
    run_tool("editliveos", "-N", str(planted_iso), "-o", str(out), "-s", str(script), "-t", str(tmp_path))
    assert out.is_file()
    assert_untouched(canary)


def test_iso_to_disk_links_in_the_iso(planted_iso: Path, tmp_path: Path, canary: tuple[Path, Snapshot]) -> None:
    """An ISO whose tree has links to host files where livecd-iso-to-disk writes (the home image, the ESP's
    grub.cfg): with --noefi the stick is made with files in their place; with the ESP, the link in EFI/BOOT
    (copied by host tools) is refused."""
    top = canary[0]
    iso = tmp_path / "links.iso"
    subprocess.run(["xorriso", "-indev", str(planted_iso), "-outdev", str(iso), "-boot_image", "any", "replay",
                    "-lns", f"{top}/home.img", "/LiveOS/home.img", "-rm", "/EFI/BOOT/grub.cfg", "--",
                    "-lns", f"{top}/grub.cfg", "/EFI/BOOT/grub.cfg"], check=True, capture_output=True)
    stick = tmp_path / "stick.raw"
    run_tool("livecd-iso-to-disk", str(iso), str(stick), "--noefi", "--noverify", "--force", "--home-size-mb", "8",
             "--unencrypted-home")
    assert_untouched(canary)
    stick.unlink()
    proc = run_tool("livecd-iso-to-disk", str(iso), str(stick), "--noverify", "--force", "--home-size-mb", "8",
                    "--unencrypted-home", check=False)
    error = error_line(proc)
    assert "/EFI/BOOT/grub.cfg in the image is a symbolic link" in error, error
    assert_untouched(canary)


@pytest.mark.parametrize("http", [False, True], ids=["default", "http-url"])
def test_pxeboot_link_in_the_grub_modules(planted_iso: Path, tmp_path: Path, canary: tuple[Path, Snapshot],
                                          http: bool) -> None:
    """livecd-iso-to-pxeboot gives the host's grub-mkimage the ISO's modules: a link among them to a host file
    is resolved inside the ISO's tree (where it leads nowhere), never read from the host.  With --http-url the
    tree also gets the ISO's squashfs and initrd: the same refusal, nothing written."""
    iso = tmp_path / "modlink.iso"
    subprocess.run(["xorriso", "-indev", str(planted_iso), "-outdev", str(iso), "-boot_image", "any", "replay",
                    "-lns", f"{canary[0]}/secret", "/boot/grub2/i386-pc/normal.mod.sig"], check=True,
                   capture_output=True)
    url = ["--http-url", "http://10.0.2.2:8080/"] if http else []
    proc = run_tool("livecd-iso-to-pxeboot", str(iso), "-o", str(tmp_path / "tftpboot"), *url, check=False)
    error = error_line(proc)
    assert "/boot/grub2/i386-pc/normal.mod.sig in the image is a symbolic link" in error, error
    assert not (tmp_path / "tftpboot").exists()
    assert_untouched(canary)


DISK_KS = kickstarts.DISK


OPTION_PATHS = {
    "erofs": ["--rootfs-type", "erofs", "--compression-type", "lz4"],
    "flat-squashfs": ["--flat-squashfs", "--compression-type", "lz4"],
    "incremental": ["--compression-type", "lz4", "--incremental", "{tmp}/cache"],
    "base-on": ["--compression-type", "lz4", "--base-on", "{base}"],
    "qcow2": ["-f", "qcow2"],
    "appliance-incremental": ["--no-compress", "--incremental", "{tmp}/cache"],
}


@pytest.mark.parametrize("path", OPTION_PATHS)
def test_option_paths_with_links(path: str, testrepo: Path, tmp_path: Path, canary: tuple[Path, Snapshot],
                                 request: pytest.FixtureRequest) -> None:
    """The paths an option selects, with the links planted and SOURCE_DATE_EPOCH (the normalisation touches most
    files): an EROFS root, a flat squashfs, a tree reused from the --incremental cache (the second build's %post
    plants the links in the copy; the first stored the tree before its %post), a qcow2 appliance: each builds.
    A root based on an ISO whose root has the links already (/etc among them, where libdnf writes as the host
    sees it) is refused with one paragraph.  The canary stays."""
    appliance = path in ("qcow2", "appliance-incremental")
    base = request.getfixturevalue("planted_iso") if path == "base-on" else None
    ks = tmp_path / "opt.ks"
    ks.write_text((DISK_KS if appliance else LIVE_KS).format(repo=testrepo) + PLANT.format(canary=canary[0]))
    extra = [a.format(tmp=tmp_path, base=base) for a in OPTION_PATHS[path]]
    epoch = ["--source-date-epoch", "1700000000"]
    for n in range(2 if "incremental" in path else 1):
        out = tmp_path / f"out{n}"
        if appliance:
            proc = run_tool("appliance-creator", "-c", str(ks), "-n", "opt", "-t", str(tmp_path), "-o", str(out),
                            *extra, *epoch)
        else:
            proc = run_tool("livecd-creator", "-c", str(ks), "-f", "OPT", "--tmpdir", str(tmp_path), "--output",
                            str(out), *extra, *epoch, check=path != "base-on")
        if path == "base-on":  # libdnf makes /etc/dnf/modules.d as a host path: refused before dnf starts
            assert "/etc/dnf/modules.d in the image" in error_line(proc) and "leads out of it" in proc.stderr
            assert not out.exists() or not list(out.iterdir())
            break
        assert list(out.glob("opt/opt-sda.*") if appliance else out.glob("OPT.iso")), proc.stderr[-3000:]
    if "incremental" in path:
        assert "reused the installed tree" in proc.stderr, proc.stderr[-3000:]
    assert_untouched(canary)


@pytest.mark.parametrize("overlay", [False, True], ids=["read-only", "overlay"])
def test_liveimage_mount_links_in_the_root(planted_iso: Path, tmp_path: Path, canary: tuple[Path, Snapshot],
                                           overlay: bool) -> None:
    """liveimage-mount of an ISO whose root has /etc, /home and more linked to the canary, and of a stick made
    from it with a home image (mounted on the root's /home, resolved inside the root: the link leads nowhere
    there, so no home is mounted, and never over the host folder): nothing is mounted on the canary, which
    stays as it was."""
    stick = tmp_path / "stick.raw"
    run_tool("livecd-iso-to-disk", str(planted_iso), str(stick), "--noefi", "--noverify", "--home-size-mb", "8",
             "--unencrypted-home")
    for source in (planted_iso, stick):
        mnt = tmp_path / f"mnt{source.suffix}"
        mnt.mkdir()
        layer = ["--overlay", str(tmp_path / f"overlay{source.suffix}")] if overlay else []
        if overlay:
            (tmp_path / f"overlay{source.suffix}").mkdir()
        shell = tmp_path / "findmnt.sh"  # no COMMAND: $SHELL runs on the host in the mount point
        shell.write_text("#!/bin/sh\nfindmnt -rn -o TARGET\n")
        shell.chmod(0o755)
        proc = run_tool("liveimage-mount", "--tmpdir", str(tmp_path), *layer, str(source), str(mnt),
                        env={"SHELL": str(shell)})
        assert str(canary[0]) not in proc.stdout, f"mounted over the canary: {proc.stdout}"
        assert str(mnt) in proc.stdout.split()
    assert_untouched(canary)
