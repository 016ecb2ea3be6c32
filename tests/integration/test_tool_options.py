"""The options of appliance-creator, editliveos, livecd-iso-to-disk, liveimage-mount and livecd-iso-to-pxeboot
that no other test passes, each checked by its effect on the result (the livecd-creator/image-creator ones are
in test_upstream_options.py).

Table-driven as that module: a few runs (made lazily, once per module) pass many options at once, and EFFECTS
holds, for each option, the check of what it did.  tests/option_table.py lists every documented option of
every tool with the tests that prove it; tests/unit/test_option_table.py keeps that list complete.

The runs: two appliance-creator builds of a small disk (the first online from an HTTP repository named by a
.repo file with ``$releasever``, which fills --cache; the second with that server gone, --cacheonly), one
editliveos run with every repository kind and a kickstart, one livecd-iso-to-disk stick, one PXE tree with
--http-url and one liveimage-mount.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import imgcreate
from tests import isoinspect, kickstarts
from tests.disks import attached, blkid, sfdisk
from tests.support import RepoServer, assert_failed, leak_snapshot, run_tool, tool_argv

pytestmark = pytest.mark.root

# A small disk without a kernel (as test_disk_image's SMALL_KS): its repository is given by --repo.
DISK_KS = kickstarts.kickstart(
    kickstarts.clearpart("msdos"), "part / --fstype=ext4 --size=200", commands=("{commands}",),
    repo=kickstarts.repo_line("replaced", "file:///nonexistent/replaced-by-repo-option"), packages=("@core",))

# The test distribution's SELinux policy (a file_contexts) and setfiles stand-in (it logs its calls in the root's
# /var/log/standin-calls.log): installed by both edits, whose relabel (or its absence, with -S) is then seen.
SELINUX_STANDINS = ("--package", "policycoreutils", "--package", "selinux-policy-targeted")

# What editliveos -k applies: a command, a package and a %post.
EDIT_KS = """network --hostname=edited.example.com
%packages
docs-demo
%end
%post
echo applied-by-kickstart > /etc/edit-ks
%end
"""


@dataclass
class Ran:
    """One tool run: the finished process and the folder it worked in (log file: ``<dir>/log``)."""

    proc: subprocess.CompletedProcess[str]
    dir: Path
    requests: list[str] = field(default_factory=list)  # what the HTTP repository served during the run

    @property
    def log(self) -> str:
        return (self.dir / "log").read_text()


def run_in(cwd: Path, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of our tools in *cwd* (for the defaults that name the current folder); it must succeed."""
    proc = subprocess.run(tool_argv(tool, *args), cwd=cwd, capture_output=True, text=True, timeout=600,
                          errors="replace")
    assert proc.returncode == 0, f"{tool} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return proc


class Runs:
    """The runs the checks look at, each made once, when a check first needs it."""

    def __init__(self, tmp: Path, testrepo: Path, isos: dict[str, Path]) -> None:
        self.tmp = tmp
        self.testrepo = testrepo
        self.isos = isos
        self.done: dict[str, Ran] = {}
        # The test distribution served at <url>/99/ (the release): a .repo file names it as .../$releasever/.
        (tmp / "srv").mkdir()
        (tmp / "srv/99").symlink_to(testrepo)
        self.server: RepoServer | None = RepoServer(tmp / "srv")
        self.edit_url = ""  # where edited() served the test distribution (gone after it)
        self.repofile = tmp / "http.repo"
        self.repofile.write_text(f"[byrelease]\nname=byrelease\nbaseurl={self.server.url}/$releasever/\n"
                                 "enabled=1\ngpgcheck=0\n")

    def _dir(self, key: str) -> Path:
        where = self.tmp / key
        for sub in ("out", "work"):
            (where / sub).mkdir(parents=True)
        return where

    def _served(self) -> list[str]:
        assert self.server is not None
        seen = list(self.server.requests)
        self.server.requests.clear()
        return seen

    # ---- appliance-creator ----------------------------------------------------------------------------------

    def disk_online(self) -> Ran:
        """-f vdi, --version 99 (upstream: also $releasever), --release, --cache filled over HTTP, -d -q
        --logfile."""
        if "online" not in self.done:
            d = self._dir("online")
            (d / "disk.ks").write_text(DISK_KS.format(commands=""))
            self._served()
            proc = run_tool("appliance-creator", "-c", str(d / "disk.ks"), "-n", "APON", "-o", str(d / "out"),
                            "-t", str(d / "work"), "--repo", str(self.repofile), "--version", "99", "--release",
                            "7", "--cache", str(self.tmp / "cache"), "-f", "vdi", "-d", "-q", "--logfile",
                            str(d / "log"))
            self.done["online"] = Ran(proc, d, self._served())
        return self.done["online"]

    def disk_offline(self) -> Ran:
        """With the HTTP repository gone: --cacheonly from disk_online's cache, --releasever 99 over --version 5,
        -f vmdk, --nocleanup, --ksversion RHEL9 (the kickstart has RHEL's syspurpose), -v --logfile."""
        if "offline" not in self.done:
            self.disk_online()
            if self.server is not None:
                self.server.close()
                self.server = None
            d = self._dir("offline")
            (d / "disk.ks").write_text(DISK_KS.format(commands='syspurpose --role="Server"'))
            proc = run_tool("appliance-creator", "-c", str(d / "disk.ks"), "-n", "APOFF", "-o", str(d / "out"),
                            "-t", str(d / "work"), "--repo", str(self.repofile), "--releasever", "99", "--version",
                            "5", "--cache", str(self.tmp / "cache"), "--cacheonly", "-f", "vmdk", "--nocleanup",
                            "--ksversion", "RHEL9", "-v", "--logfile", str(d / "log"))
            self.done["offline"] = Ran(proc, d)
        return self.done["offline"]

    def disk_zstd(self) -> Ran:
        """A raw disk compressed with --compression zstd, --disk-size 300."""
        if "zstd" not in self.done:
            d = self._dir("zstd")
            (d / "disk.ks").write_text(DISK_KS.format(commands="").replace("--baseurl=file:///nonexistent/"
                                                                           "replaced-by-repo-option",
                                                                           f"--baseurl=file://{self.testrepo}"))
            proc = run_tool("appliance-creator", "-c", str(d / "disk.ks"), "-n", "APZ", "-o", str(d / "out"),
                            "-t", str(d / "work"), "--compression", "zstd", "--disk-size", "300", "--manifest",
                            "--incremental", str(self.tmp / "incremental"))
            self.done["zstd"] = Ran(proc, d)
        return self.done["zstd"]

    def disk_again(self, key: str, *args: str) -> Ran:
        """disk_zstd's kickstart built again, raw, with *args* (--incremental and/or --no-incremental), -v."""
        if key not in self.done:
            ks = self.disk_zstd().dir / "disk.ks"
            d = self._dir(key)
            proc = run_tool("appliance-creator", "-c", str(ks), "-n", "AGAIN", "-o", str(d / "out"), "-t",
                            str(d / "work"), "--no-compress", "--manifest", "-v", *args)
            self.done[key] = Ran(proc, d)
        return self.done[key]

    # ---- editliveos -----------------------------------------------------------------------------------------

    def edited(self) -> Ran:
        """TB-SQ edited with a .repo file (file://.../$releasever, preferred by its cost, without docs-demo) and
        a URL repository (HTTP), --releasever, --cache, -k, --compression-type lz4, -n, no -o (the ISO's
        folder), -N, -t, -v -q --logfile."""
        if "edited" not in self.done:
            d = self._dir("edited")
            (d / "releases").mkdir()
            (d / "releases/99").symlink_to(self.testrepo)
            (d / "file.repo").write_text(f"[fromfile]\nname=fromfile\nbaseurl=file://{d}/releases/$releasever\n"
                                         "enabled=1\ngpgcheck=0\ncost=10\nexcludepkgs=docs-demo\n")
            (d / "edit.ks").write_text(EDIT_KS)
            (d / "out").mkdir(exist_ok=True)
            (d / "out/TB-SQ.iso").symlink_to(self.isos["squashfs"])  # no -o: the ISO's own folder, as upstream
            with RepoServer(self.testrepo) as server:
                proc = run_in(d / "out", "editliveos", "TB-SQ.iso", "-N", "-n", "ED-OPTS",
                              "--repo", str(d / "file.repo"), "--repo", server.url, "--releasever", "99",
                              "--cache", str(d / "cache"), "--package", "demo-app", *SELINUX_STANDINS,
                              "-k", str(d / "edit.ks"),
                              "--compression-type", "lz4", "-t", str(d / "work"), "-v", "-q", "--logfile",
                              str(d / "log"))
                self.done["edited"] = Ran(proc, d, list(server.requests))
            self.edit_url = server.url
        return self.done["edited"]

    def edited_offline(self) -> Ran:
        """With edited()'s HTTP repository gone, upstream's spellings: -f (--cache) --cacheonly, -c
        (--compress-type) lz4, -a (--extra-kernel-args), -p, -o an existing folder; --nocleanup; no -N: upstream's
        shell opens in the root (fed from stdin); -S with the SELinux stand-ins installed."""
        if "offline-edit" not in self.done:
            first = self.edited()
            d = self._dir("offline-edit")
            proc = run_tool("editliveos", str(self.isos["squashfs"]), "--repo", str(first.dir / "file.repo"),
                            "--repo", self.edit_url, "--releasever", "99", "--package", "docs-demo", "-f",
                            str(first.dir / "cache"), "--cacheonly", "-c", "lz4", "-a", "offline.arg=1", "-p",
                            "-o", str(d / "out"), "-t", str(d / "work"), "--nocleanup",
                            # upstream's, checked in tests/integration/test_editliveos_options.py:
                            "--rootfs-size-gb", "1,ext4", "-u", "/etc/os-release", "--extra-space-mb", "1",
                            "--refresh-only", "--skip-refresh", "--refresh-uncompressed", "--skip-seclude",
                            "--arch", os.uname().machine, *SELINUX_STANDINS, "-S",
                            input="echo typed-in-the-shell > /root/shell-was-here\nexit\n")  # no -N: a shell
            self.done["offline-edit"] = Ran(proc, d)
        return self.done["offline-edit"]

    def edited_root(self) -> Path:
        ran = self.edited()
        found = ran.dir / "ED-OPTS-sq/LiveOS/rootfs.img"
        return found if found.exists() else isoinspect.rootfs_of(ran.dir / "out/ED-OPTS.iso", ran.dir)

    # ---- livecd-iso-to-disk, livecd-iso-to-pxeboot, liveimage-mount ---------------------------------------

    def damaged_iso(self) -> Path:
        """A copy of TB-SQ with one byte changed in the middle (in its squashfs): its implanted MD5 fails."""
        damaged = self.tmp / "damaged.iso"
        if not damaged.exists():
            data = bytearray(self.isos["squashfs"].read_bytes())
            data[len(data) // 2] ^= 0xFF
            damaged.write_bytes(data)
        return damaged

    def stick(self, key: str = "stick", *logging: str) -> Ran:
        """--format --reset-mbr onto a file full of old data, from the damaged ISO with --noverify; -d -q
        --logfile, or *logging*."""
        if key not in self.done:
            d = self._dir(key)
            target = d / "out/stick.raw"
            with open(target, "wb") as f:  # an old GPT disk's leftovers: the stick must not keep them
                f.write(b"\xff" * (1 << 20))
                f.truncate(500 << 20)
            proc = run_tool("livecd-iso-to-disk", str(self.damaged_iso()), str(target), "--force",
                            "--format", "--reset-mbr", "--noverify", *(logging or ("-d", "-q")),
                            "--logfile", str(d / "log"))
            self.done[key] = Ran(proc, d)
        return self.done[key]

    def pxe(self, key: str = "pxe", *logging: str) -> Ran:
        """No -o (./tftpboot), --http-url; -v --logfile, or *logging*."""
        if key not in self.done:
            d = self._dir(key)
            proc = run_in(d / "out", "livecd-iso-to-pxeboot", str(self.isos["squashfs"]), "--http-url",
                          "http://192.0.2.1/live", *(logging or ("-v",)), "--logfile", str(d / "log"))
            self.done[key] = Ran(proc, d)
        return self.done[key]

    def mounted(self, key: str = "mount", *logging: str) -> Ran:
        """-t: the root image is extracted there while COMMAND runs (it lists that folder); -d -q --logfile, or
        *logging*."""
        if key not in self.done:
            d = self._dir(key)
            (d / "mnt").mkdir()
            shell = d / "shell.sh"  # no COMMAND: upstream's subshell, $SHELL on the host in the mount point
            shell.write_text(f"#!/bin/sh\nls -R {d / 'work'}\n")
            shell.chmod(0o755)
            proc = run_tool("liveimage-mount", "-t", str(d / "work"), *(logging or ("-d", "-q")), "--logfile",
                            str(d / "log"), str(self.isos["squashfs"]), str(d / "mnt"), env={"SHELL": str(shell)})
            self.done[key] = Ran(proc, d)
        return self.done[key]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, testrepo: Path,
         toolbox_isos: dict[str, Path]) -> Iterator[Runs]:
    made = Runs(tmp_path_factory.mktemp("tool-options"), testrepo, toolbox_isos)
    yield made
    if made.server is not None:
        made.server.close()


def xml_name(ran: Ran, name: str) -> str:
    (line,) = [ln for ln in (ran.dir / f"out/{name}/{name}.xml").read_text().splitlines() if "<name" in ln]
    return line.strip()


def image_format(path: Path) -> str:
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(path)], capture_output=True,
                                     text=True, check=True).stdout)
    return str(info["format"])


# ---- appliance-creator ----------------------------------------------------------------------------------------

def ap_version(r: Runs) -> None:
    """Upstream's --version is the appliance's version in <name>.xml and, as upstream passes it on as the
    creator's releasever, $releasever in repository URLs: the .repo file's .../$releasever/ was read at 99."""
    ran = r.disk_online()
    assert xml_name(ran, "APON") == "<name version='99' release='7'>APON</name>"
    assert ran.requests and all(p.startswith("/99/") for p in ran.requests), ran.requests[:5]


def ap_release(r: Runs) -> None:
    assert "release='7'" in xml_name(r.disk_online(), "APON")
    assert "release=" not in xml_name(r.disk_offline(), "APOFF"), "no --release, no attribute"


def ap_releasever(r: Runs) -> None:
    """--releasever wins over --version for $releasever: disk_offline (--releasever 99 --version 5) found
    .../99/ in the cache; --version 5 alone looks for .../5/, which is not there.  The XML has --version."""
    ran = r.disk_offline()
    assert xml_name(ran, "APOFF") == "<name version='5'>APOFF</name>"
    proc = run_tool("appliance-creator", "-c", str(ran.dir / "disk.ks"), "--ksversion", "RHEL9", "-n", "V5", "-o",
                    str(r.tmp / "none"), "-t", str(r.tmp), "--repo", str(r.repofile), "--version", "5", "--cache",
                    str(r.tmp / "cache"), "--cacheonly", check=False)
    assert_failed(proc, "byrelease", "/5/", "not in the cache")


def ap_repo(r: Runs) -> None:
    """The .repo file replaces the kickstart's repository (which does not exist)."""
    ran = r.disk_online()
    assert any(p.endswith(".rpm") for p in ran.requests), "packages came from the .repo file's server"
    assert "nonexistent" not in ran.log


def ap_cache(r: Runs) -> None:
    r.disk_online()
    cache = r.tmp / "cache"
    assert list(cache.rglob("repomd.xml")) and list(cache.rglob("*.rpm")), "metadata and packages kept"


def ap_cacheonly(r: Runs) -> None:
    """With a filled cache the disk builds with the server gone; with an empty one the build stops at once,
    naming the repository and that it is not in the cache, and leaves nothing."""
    assert (r.disk_offline().dir / "out/APOFF/APOFF-sda.vmdk").is_file()
    d = r.tmp / "cacheonly-empty"
    d.mkdir()
    (d / "disk.ks").write_text(DISK_KS.format(commands=""))
    proc = run_tool("appliance-creator", "-c", str(d / "disk.ks"), "-n", "EMPTY", "-o", str(d / "out"), "-t",
                    str(d), "--repo", str(r.repofile), "--releasever", "99", "--cache", str(d / "cache"),
                    "--cacheonly", check=False)
    assert_failed(proc, "byrelease", "--cacheonly", "not in the cache")
    assert not (d / "out").exists() or not list((d / "out").iterdir())
    assert not list(d.glob("imgcreate-*"))


def ap_nocleanup(r: Runs) -> None:
    """The build directory is kept, with dnf's log of the install, and nothing of it stays mounted or attached
    (the disk itself was delivered: it is not left behind twice)."""
    ran = r.disk_offline()
    (kept,) = ran.dir.joinpath("work").glob("imgcreate-*")
    assert (kept / "install_root").is_dir() and (kept / "dnf-log/hawkey.log").stat().st_size > 0
    leak_snapshot().under(kept).assert_none()
    assert not list((r.disk_online().dir / "work").iterdir()), "without it the build directory is removed"


def ap_ksversion(r: Runs) -> None:
    """RHEL9's syntax knows syspurpose (disk_offline built with it); the newest does not, and RHEL9 lacks rdp."""
    assert r.disk_offline().proc.returncode == 0
    ks = r.disk_offline().dir / "disk.ks"
    assert_failed(run_tool("appliance-creator", "-c", str(ks), "-o", str(r.tmp / "none"), check=False),
                  "syspurpose", "line 1")
    rdp = r.tmp / "rdp.ks"
    rdp.write_text(DISK_KS.format(commands="rdp --enable"))
    assert_failed(run_tool("appliance-creator", "-c", str(rdp), "--ksversion", "RHEL9", "-o", str(r.tmp / "none"),
                           check=False), "rdp", "line 1")


def ap_formats(r: Runs) -> None:
    """-f vdi and -f vmdk: the disk in that format (never compressed), named in the XML."""
    assert image_format(r.disk_online().dir / "out/APON/APON-sda.vdi") == "vdi"
    assert image_format(r.disk_offline().dir / "out/APOFF/APOFF-sda.vmdk") == "vmdk"
    assert "disk='APOFF-sda.vmdk'" in (r.disk_offline().dir / "out/APOFF/APOFF.xml").read_text()


def ap_compression_and_disk_size(r: Runs) -> None:
    """--compression zstd: <name>-sda.raw.zst, a zstd stream of the whole --disk-size disk."""
    zst = r.disk_zstd().dir / "out/APZ/APZ-sda.raw.zst"
    raw = subprocess.run(["zstd", "-q", "-d", "-c", str(zst)], capture_output=True, check=True).stdout
    assert len(raw) == 300 << 20 and raw[510:512] == b"\x55\xaa"


def ap_incremental(r: Runs) -> None:
    """disk_zstd stored its installed tree; the same kickstart again reuses it (no rpm transaction) and gives
    the same packages; with --no-incremental as well the store is neither read nor written."""
    stored = r.disk_zstd()
    assert "stored the installed tree" in stored.proc.stderr
    entries = sorted((r.tmp / "incremental").iterdir())
    inc = str(r.tmp / "incremental")
    again = r.disk_again("reuse", "--incremental", inc)
    assert "reused the installed tree" in again.proc.stderr and "Installing " not in again.proc.stderr
    assert (again.dir / "out/AGAIN/AGAIN.packages").read_text() == (stored.dir / "out/APZ/APZ.packages").read_text()
    off = r.disk_again("off", "--incremental", inc, "--no-incremental")
    assert "incremental" not in off.proc.stderr and "Installing " in off.proc.stderr
    assert sorted((r.tmp / "incremental").iterdir()) == entries


def ap_boot_test(r: Runs) -> None:
    """--boot-test looks for QEMU before building: without it, one paragraph naming its package, nothing built."""
    d = r.tmp / "noqemu"
    d.mkdir()
    (d / "disk.ks").write_text(DISK_KS.format(commands=""))
    proc = run_tool("appliance-creator", "-c", str(d / "disk.ks"), "-o", str(d / "out"), "-t", str(d),
                    "--boot-test", env={"PATH": "/nonexistent"}, check=False)
    assert_failed(proc, "qemu-system-x86_64", "qemu-system-x86")
    assert not (d / "out").exists() or not list((d / "out").iterdir())


def ap_logging(r: Runs) -> None:
    """-d: DEBUG in the log file; -q: nothing on the terminal; -v: INFO but no DEBUG."""
    online, offline = r.disk_online(), r.disk_offline()
    assert " DEBUG running: " in online.log and online.proc.stderr == ""
    assert " INFO " in offline.log and " DEBUG " not in offline.log


def ap_tool_version(r: Runs) -> None:
    out = run_tool("appliance-creator", "-V").stdout
    assert out.strip() == f"appliance-creator (livecd-tools) {imgcreate.__version__}"
    assert "--tool-version" in run_tool("appliance-creator", "--help").stdout


# ---- editliveos -------------------------------------------------------------------------------------------------

def ed_repo_file_and_releasever(r: Runs) -> None:
    """The .repo file's file://.../$releasever was read at 99 (else the build fails) and, cheaper by its cost,
    gave demo-app: the HTTP repository did not serve it."""
    ran = r.edited()
    assert "demo-app" in isoinspect.debugfs(r.edited_root(), "ls /usr/bin")
    assert not [p for p in ran.requests if "demo-app" in p]


def ed_repo_url(r: Runs) -> None:
    """docs-demo (excluded from the .repo file's repository, named by -k) came over HTTP from the URL."""
    ran = r.edited()
    assert [p for p in ran.requests if p.endswith(".rpm") and "docs-demo" in p], ran.requests
    assert "docs-demo" in isoinspect.debugfs(r.edited_root(), "ls /usr/share")


def ed_cache(r: Runs) -> None:
    cache = r.edited().dir / "cache"
    assert list(cache.rglob("repomd.xml")) and [p for p in cache.rglob("*.rpm") if "docs-demo" in p.name]


def ed_kickstart(r: Runs) -> None:
    """-k: its command (the host name), its %packages and its %post."""
    root = r.edited_root()
    assert isoinspect.debugfs(root, "cat /etc/hostname") == "edited.example.com\n"
    assert isoinspect.debugfs(root, "cat /etc/edit-ks") == "applied-by-kickstart\n"


def ed_compression_type(r: Runs) -> None:
    iso = r.edited().dir / "out/ED-OPTS.iso"
    assert "Compression lz4" in isoinspect.squashfs_info(isoinspect.squashfs_image(iso, r.edited().dir))


def ed_name_and_default_output(r: Runs) -> None:
    """-n is the name and the label; without -o the new ISO is NAME.iso in the ISO's folder, as upstream.  No -b,
    -r or -n :TEXT: not branded (README), so the menus keep the source's product ("Start Tb Sq")."""
    iso = r.edited().dir / "out/ED-OPTS.iso"
    assert isoinspect.volume_id(iso) == "ED-OPTS"
    assert "menuentry 'Start Tb Sq'" in isoinspect.read_text(iso, "/boot/grub2/grub.cfg")
    assert sorted(p.name for p in (r.edited().dir / "out").iterdir() if p.suffix == ".iso") == [iso.name, "TB-SQ.iso"]


def ed_tmpdir(r: Runs) -> None:
    ran = r.edited()
    assert str(ran.dir / "work") in ran.log and list((ran.dir / "work").iterdir()) == [], "used, then emptied"


def ed_offline(r: Runs) -> None:
    """-f/--cacheonly: docs-demo came from edited()'s cache with its server gone; -c lz4 (the base: xz); -a;
    -o a folder: upstream's <ISO file name>.edited.iso in it; --nocleanup: the build directory kept, nothing
    mounted; -p warns; no -N: the shell opened and what was typed in it is in the ISO."""
    ran = r.edited_offline()
    iso = ran.dir / f"out/{r.isos['squashfs'].name}.edited.iso"
    root = _offline_root(r)
    assert "docs-demo" in isoinspect.debugfs(root, "ls /usr/share")
    assert "Compression lz4" in isoinspect.squashfs_info(isoinspect.squashfs_image(iso, ran.dir))
    assert "offline.arg=1" in isoinspect.read_text(iso, "/boot/grub2/grub.cfg")
    kept = list((ran.dir / "work").glob("imgcreate-*"))
    assert kept and not leak_snapshot().under(ran.dir).mounts
    assert "--plugins: dnf plugins are not loaded" in ran.proc.stderr
    assert "Launching shell" in ran.proc.stderr, "without -N, upstream's shell"
    assert isoinspect.debugfs(root, "cat /root/shell-was-here").strip() == "typed-in-the-shell"
    assert f"{iso.name} saved to {iso.parent}" in ran.proc.stdout


def ed_noshell(r: Runs) -> None:
    """-N: no shell opened (edited() passes it; its stdin is not read, and stderr stays empty with -q)."""
    ran = r.edited()
    assert "Launching shell" not in ran.proc.stderr and ran.proc.stderr == ""


def ed_logging(r: Runs) -> None:
    """-v: INFO but no DEBUG in the log file; -q: nothing on the terminal; -d: DEBUG (a refused run is enough:
    the ISO is read before it is refused)."""
    ran = r.edited()
    assert " INFO " in ran.log and " DEBUG " not in ran.log and ran.proc.stderr == ""
    log = r.tmp / "ed-debug.log"
    proc = run_tool("editliveos", str(r.isos["flat"]), "-N", "-o", str(r.tmp / "no-dir"), "-d", "--logfile",
                    str(log), check=False)
    assert proc.returncode == 1 and "no-dir' does not exist" in proc.stderr, proc.stderr
    assert " DEBUG running: " in log.read_text() and "xorriso" in log.read_text()


# upstream's editliveos options the offline edit takes (tests/integration/test_editliveos_options.py lists them)

def _offline_root(r: Runs) -> Path:
    """The offline edit's root image, unpacked once (ed_offline may have done it)."""
    ran = r.edited_offline()
    iso = ran.dir / f"out/{r.isos['squashfs'].name}.edited.iso"
    found = ran.dir / f"{iso.stem}-sq/LiveOS/rootfs.img"
    return found if found.exists() else isoinspect.rootfs_of(iso, ran.dir)


def ed_rootfs_size(r: Runs) -> None:
    """--rootfs-size-gb 1,ext4 (the offline edit): the root filesystem image is 1 GiB (the source's: 300 MiB)."""
    assert _offline_root(r).stat().st_size == 1024 ** 3


def ed_seclude(r: Runs) -> None:
    """-u /etc/os-release (the offline edit): gone from the new root."""
    listing = isoinspect.debugfs(_offline_root(r), "ls -l /etc")
    assert "os-release" not in listing and "passwd" in listing, listing


def ed_refresh_only(r: Runs) -> None:
    """--refresh-only on an ISO: upstream's notice, then a new ISO as upstream."""
    ran = r.edited_offline()
    assert "--refresh-only is not possible for a read-only source" in ran.proc.stderr
    assert (ran.dir / f"out/{r.isos['squashfs'].name}.edited.iso").is_file()


def ed_accepted_no_refresh(r: Runs) -> None:
    """--skip-refresh, --refresh-uncompressed, --skip-seclude, --arch (the host's), --extra-space-mb 1: taken by
    the offline edit, which succeeded; an ISO source is never refreshed (it is read-only), nothing is secluded by
    default."""
    assert r.edited_offline().proc.returncode == 0


def ed_skip_selinux(r: Runs) -> None:
    """-S (the offline edit, with a policy and setfiles installed): the edited root was not relabelled, no setfiles
    call; without it (edited(), the same packages) the root was labelled with its own policy, as a build's."""
    relabel = "/usr/sbin/setfiles -F -e /proc -e /sys -e /dev /etc/selinux/targeted/contexts/files/file_contexts /"
    assert relabel in isoinspect.debugfs(r.edited_root(), "cat /var/log/standin-calls.log")
    offline = _offline_root(r)
    assert "file_contexts" in isoinspect.debugfs(offline, "ls /etc/selinux/targeted/contexts/files")
    assert "setfiles" not in isoinspect.debugfs(offline, "cat /var/log/standin-calls.log")


def ed_extra_space(r: Runs) -> None:
    """--extra-space-mb: a staging folder without that much free room is refused before anything is made."""
    proc = run_tool("editliveos", str(r.isos["flat"]), "-N", "--extra-space-mb", str(1024 ** 3), "-o",
                    str(r.tmp / "no-room"), "-t", str(r.tmp), check=False)
    assert_failed(proc, "--extra-space-mb", "MiB free")
    assert proc.returncode == 1


def ed_arch(r: Runs) -> None:
    """--arch: the host's is accepted (the offline edit); another is refused (the edit runs the image's programs)."""
    other = "aarch64" if os.uname().machine != "aarch64" else "x86_64"
    proc = run_tool("editliveos", str(r.isos["flat"]), "-N", "--arch", other, check=False)
    assert_failed(proc, f"--arch {other}")
    assert r.edited_offline().proc.returncode == 0



# ---- livecd-iso-to-disk -----------------------------------------------------------------------------------------

def sd_format_reset_mbr(r: Runs) -> None:
    """A new msdos table over the old data (--format), GRUB's boot code in the MBR (--reset-mbr), an ESP with
    the ISO's UEFI loader and the ext4 data partition."""
    stick = r.stick().dir / "out/stick.raw"
    table = sfdisk(stick)
    assert table["label"] == "dos"
    with open(stick, "rb") as f:
        mbr = f.read(512)
    assert b"GRUB" in mbr[:440] and mbr[510:] == b"\x55\xaa"
    parts = table["partitions"]
    assert isinstance(parts, list) and len(parts) == 2
    with attached(stick) as dev:
        assert blkid(f"{dev}p1", "TYPE") == "vfat" and blkid(f"{dev}p2", "TYPE") == "ext4"
        esp = subprocess.run(["mdir", "-i", f"{dev}p1", "-/", "-b", "::/EFI/BOOT"], capture_output=True, text=True,
                             env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"}).stdout
    assert "BOOTX64.EFI" in esp.upper()


def sd_noverify(r: Runs) -> None:
    """The damaged ISO is refused (its implanted MD5 fails) unless --noverify, which wrote the stick from it."""
    target = r.tmp / "refused.raw"
    proc = run_tool("livecd-iso-to-disk", str(r.damaged_iso()), str(target), "--force", "--size-mb", "300",
                    check=False)
    assert_failed(proc, "fails its own checksum", "Nothing was written")
    assert not target.exists()
    assert r.stick().proc.returncode == 0 and "checkisomd5" not in r.stick().log


def assert_levels(debug: Ran, verbose: Ran) -> None:
    """-d -q: DEBUG in the log file, nothing of the log on the terminal (livecd-iso-to-pxeboot's one-line summary
    is printed, not logged); -v: INFO but no DEBUG, and the terminal shows it."""
    assert " DEBUG running: " in debug.log and " INFO " in debug.log
    assert all(line.startswith("wrote ") for line in debug.proc.stderr.splitlines()), debug.proc.stderr
    assert " INFO " in verbose.log and " DEBUG " not in verbose.log and verbose.proc.stderr != ""


def sd_logging(r: Runs) -> None:
    assert_levels(r.stick(), r.stick("stick-v", "-v"))


# ---- livecd-iso-to-pxeboot ----------------------------------------------------------------------------------------

def px_http_url_and_default_output(r: Runs) -> None:
    """Without -o the tree is ./tftpboot; --http-url adds the squashfs and menus booting it from that URL."""
    tree = r.pxe().dir / "out/tftpboot"
    assert (tree / "LiveOS/squashfs.img").is_file() and (tree / "http/initrd.img").is_file()
    assert "root=live:http://192.0.2.1/live/LiveOS/squashfs.img" in (tree / "http/boot.ipxe").read_text()
    assert "http://192.0.2.1/live/LiveOS/squashfs.img" in (tree / "http/grub.cfg").read_text()


def px_logging(r: Runs) -> None:
    assert_levels(r.pxe("pxe-d", "-d", "-q"), r.pxe())


# ---- liveimage-mount --------------------------------------------------------------------------------------------

def lm_tmpdir(r: Runs) -> None:
    """The root image was extracted below -t while the command ran, and is gone afterwards."""
    ran = r.mounted()
    assert "liveimage-mount-" in ran.proc.stdout and "rootfs.img" in ran.proc.stdout, ran.proc.stdout
    assert list((ran.dir / "work").iterdir()) == []


def lm_logging(r: Runs) -> None:
    assert_levels(r.mounted(), r.mounted("mount-v", "-v"))


# ---- every tool ---------------------------------------------------------------------------------------------------

def help_and_version(r: Runs) -> None:
    """--help prints the usage and the exit codes; --version the tool's name and version (appliance-creator's
    --version is the appliance's: its own is -V)."""
    for tool in ("editliveos", "livecd-iso-to-disk", "liveimage-mount", "livecd-iso-to-pxeboot",
                 "appliance-creator"):
        helped = run_tool(tool, "--help").stdout
        assert helped.startswith(f"usage: {tool}") and "exit status" in helped, tool
        if tool != "appliance-creator":
            assert run_tool(tool, "--version").stdout.strip() == f"{tool} (livecd-tools) {imgcreate.__version__}"


EFFECTS: dict[str, Callable[[Runs], None]] = {
    "appliance-creator --version": ap_version, "appliance-creator --release": ap_release,
    "appliance-creator --releasever": ap_releasever, "appliance-creator --repo": ap_repo,
    "appliance-creator --cache": ap_cache, "appliance-creator --cacheonly": ap_cacheonly,
    "appliance-creator --nocleanup": ap_nocleanup, "appliance-creator --ksversion": ap_ksversion,
    "appliance-creator --format vmdk vdi": ap_formats, "appliance-creator logging": ap_logging,
    "appliance-creator --tool-version": ap_tool_version,
    "appliance-creator --compression --disk-size": ap_compression_and_disk_size,
    "appliance-creator --boot-test": ap_boot_test, "appliance-creator --incremental": ap_incremental,
    "editliveos --repo file --releasever": ed_repo_file_and_releasever, "editliveos --repo URL": ed_repo_url,
    "editliveos --cache": ed_cache, "editliveos --kickstart": ed_kickstart,
    "editliveos --compression-type": ed_compression_type, "editliveos --name, no --output": ed_name_and_default_output,
    "editliveos --tmpdir": ed_tmpdir, "editliveos logging": ed_logging,
    "editliveos --cacheonly --nocleanup, upstream's names": ed_offline, "editliveos --noshell": ed_noshell,
    "editliveos --rootfs-size-gb": ed_rootfs_size, "editliveos --seclude": ed_seclude,
    "editliveos --refresh-only": ed_refresh_only,
    "editliveos --skip-refresh --refresh-uncompressed --skip-seclude": ed_accepted_no_refresh,
    "editliveos --extra-space-mb": ed_extra_space, "editliveos --skip-SELinux": ed_skip_selinux,
    "editliveos --arch": ed_arch,
    "livecd-iso-to-disk --format --reset-mbr": sd_format_reset_mbr,
    "livecd-iso-to-disk --noverify": sd_noverify, "livecd-iso-to-disk logging": sd_logging,
    "livecd-iso-to-pxeboot --http-url, no --output": px_http_url_and_default_output,
    "livecd-iso-to-pxeboot logging": px_logging,
    "liveimage-mount --tmpdir": lm_tmpdir, "liveimage-mount logging": lm_logging,
    "--help --version": help_and_version,
}


@pytest.mark.parametrize("option", list(EFFECTS))
def test_option_effect(option: str, runs: Runs) -> None:
    EFFECTS[option](runs)


def test_runs_left_nothing_mounted(runs: Runs) -> None:
    leak_snapshot().under(runs.tmp).assert_none()
    assert os.path.isdir(runs.tmp)
