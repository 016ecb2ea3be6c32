"""Every upstream option of livecd-creator and image-creator, each with the effect upstream gives it.

Table-driven: a handful of real builds (module fixtures) use all the options between them, the way build
systems call the tools, and OPTION_EFFECTS holds, for each option, the check of its effect on one of those
builds.  ``test_every_option_has_a_checked_effect`` keeps the table complete: an option added to either parser
without an entry here fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import imgcreate
from imgcreate.cli import creators
from imgcreate.storage import reproducible
from tests import isoinspect, kickstarts, livecommands
from tests.boot.test_boot_test import FAIL_MEMORY, FAIL_TIMEOUT, NEVER, failing_run
from tests.support import REPO_ROOT, assert_failed, images_in, run_tool, tool_argv

pytestmark = pytest.mark.root

KS = kickstarts.kickstart(
    "part / --size 300", "{bootloader}", commands=("{commands}",),
    repo=kickstarts.repo_line("ksrepo", "file:///nonexistent/kickstart-repo-replaced-by-repo-option"), bootloader=None,
    packages=("@core", "kernel", "{extra}"),
    post="cp /etc/dracut.conf.d/99-liveos.conf /root/dracut-seen 2>/dev/null || echo none > /root/dracut-seen\n"
         "echo {marker} > /root/post-marker")

SHELL_INPUT = """echo typed-in-the-shell > /root/shell-was-here
ls /run/imgcreate/iso > /root/iso-tree-in-shell
test -d /run/imgcreate/host/etc && echo yes > /root/host-root-in-shell
echo "$PS1" > /root/shell-prompt
exit
"""


@dataclass
class Build:
    """One tool run: its process, its output folder and its log file."""

    proc: subprocess.CompletedProcess[str]
    out: Path
    work: Path
    log: Path
    tmp: Path

    @property
    def image(self) -> Path:
        (only,) = images_in(self.out)
        return only

    def rootfs(self) -> Path:
        """The ext root of a live ISO (inside the squashfs, or on the ISO with -s), or the image itself."""
        if self.image.suffix == ".img":
            return self.image
        if "/LiveOS/squashfs.img" not in isoinspect.files(self.image):
            dest = self.tmp / "rootfs.img"
            if not dest.exists():
                dest.write_bytes(isoinspect.read(self.image, "/LiveOS/rootfs.img"))
            return dest
        found = self.tmp / f"{self.image.stem}-sq/LiveOS/rootfs.img"
        return found if found.exists() else isoinspect.rootfs_of(self.image, self.tmp)

    def cat(self, path: str) -> str:
        return isoinspect.debugfs(self.rootfs(), f"cat {path}")

    def squashfs_info(self) -> str:
        return isoinspect.squashfs_info(isoinspect.squashfs_image(self.image, self.tmp))


def kickstart(extra: str = "", marker: str = "", commands: str = "") -> str:
    """KS with *commands* before the rest (their own bootloader line replaces the plain one)."""
    bootloader = "" if "bootloader" in commands else "bootloader --timeout 1"
    return KS.format(extra=extra, marker=marker, commands=commands, bootloader=bootloader)


@dataclass
class Builds:
    tmp: Path
    testrepo: Path
    done: dict[str, Build]

    def run(self, key: str, tool: str, *args: str, extra: str = "", positional: bool = False,
            input: str | None = None, fixed_dirs: bool = True, commands: str = "") -> Build:
        if key in self.done:
            return self.done[key]
        tmp = self.tmp / key
        for d in ("out", "work"):
            (tmp / d).mkdir(parents=True)
        ks = tmp / f"{key}.ks"
        ks.write_text(kickstart(extra=extra, marker=key, commands=commands))
        log = tmp / "build.log"
        where = [str(ks)] if positional else ["-c", str(ks)]
        dirs = ["--tmpdir", str(tmp / "work"), "--output", str(tmp / "out")] if fixed_dirs else []
        args = tuple(a.format(repofile=self.repofile, log=log, tmp=tmp, **{k: v.image for k, v in self.done.items()})
                     for a in args)
        proc = run_tool(tool, *where, *dirs, *args, input=input)
        self.done[key] = Build(proc, tmp / "out", tmp / "work", log, tmp)
        return self.done[key]

    def image_a_again(self, key: str, *args: str,
                      prefix: tuple[str, ...] = ()) -> tuple[Path, subprocess.CompletedProcess[str]]:
        """image-creator (or *prefix*) with image_a's kickstart and repository and *args*, in folder KEY."""
        (where := self.tmp / key).mkdir()
        argv = [*(prefix or tool_argv("image-creator")), "-c", str(self.tmp / "IMGA/IMGA.ks"), "--repo",
                str(self.repofile), "--releasever", "99", "--tmpdir", str(where), "-o", str(where / "out"), *args]
        return where, subprocess.run(argv, capture_output=True, text=True, timeout=600,
                                     env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})

    @property
    def repofile(self) -> Path:
        """A .repo file whose URL needs $releasever (99): the kickstart's repository is replaced by it."""
        path = self.tmp / "repos/test.repo"
        if not path.exists():
            (self.tmp / "releases").mkdir(parents=True)
            (self.tmp / "releases/99").symlink_to(self.testrepo)
            path.parent.mkdir()
            path.write_text(f"[rel]\nname=rel\nbaseurl=file://{self.tmp}/releases/$releasever\nenabled=1\n"
                            "gpgcheck=0\n")
        return path


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> Builds:
    return Builds(tmp_path_factory.mktemp("options"), testrepo, {})


# The builds.  Between them they use every option of both tools, as build systems pass them.
def live_a(b: Builds) -> Build:
    """The build-system invocation: -c -d -v --logfile --cache -f --title --product --releasever, and more."""
    return b.run("LIVEA", "livecd-creator", "-d", "-v", "--logfile", "{log}", "--cache", "{tmp}/cache",
                 "-f", "LIVEA", "--title", "T One", "--product", "Prod X", "--releasever", "99",
                 "--repo", "{repofile}", "--compression-type", "zstd", "--dracut-conf-args", "+nfs",
                 "--nomacboot", "--pkgverify-level", "digest", "--syslinux", "--skip-minimize", "-p",
                 commands=livecommands.COMMANDS, extra=livecommands.PACKAGES)


def live_b(b: Builds) -> Build:
    """The positional kickstart, -n, -s, -q with a log file at -v."""
    return b.run("LIVEB", "livecd-creator", "-n", "LIVEB", "-s", "-q", "-v", "--logfile", "{log}",
                 "--repo", "{repofile}", "--releasever", "99", "--ksversion", "RHEL9", positional=True,
                 commands=livecommands.RHEL9_ONLY)


def live_flat(b: Builds) -> Build:
    return b.run("FLAT", "livecd-creator", "-f", "FLAT", "--flat-squashfs", "--compression-type", "lz4",
                 "--repo", "{repofile}", "--releasever", "99", extra="demo-app")


def live_on_flat(b: Builds) -> Build:
    """-b on a flat ISO, --compression-type None (the base's), -l (no new install), --nocleanup."""
    live_flat(b)
    return b.run("ONFLAT", "livecd-creator", "-f", "ONFLAT", "-b", "{FLAT}", "--rootfs-type", "squashfs-ext4",
                 "--compression-type", "None", "-l",
                 "--nocleanup", "--logfile", "{log}", "--repo", "{repofile}", "--releasever", "99",
                 input=SHELL_INPUT)


def image_a(b: Builds) -> Build:
    return b.run("IMGA", "livecd-creator", "--image-type", "image", "-f", "IMGA", "--repo", "{repofile}",
                 "--releasever", "99", "--cache", "{tmp}/cache", "--incremental", extra="docs-demo")


# livecd-creator's own options on image_b's command line, as a script written for upstream's one program passes
# them to image-creator too: accepted, and ignored for the filesystem image with one warning.
IGNORED_LIVE = ("--title", "Ignored Title", "--compression-type", "zstd", "--syslinux", "--dracut-conf-args", "+nfs")


def image_b(b: Builds) -> Build:
    """image-creator -b: starting from an earlier filesystem image; --cacheonly from image_a's cache."""
    image_a(b)
    return b.run("IMGB", "image-creator", "-n", "IMGB", "-b", "{IMGA}", "--repo", "{repofile}",
                 "--releasever", "99", "--cache", f"{b.tmp}/IMGA/cache", "--cacheonly",
                 "--source-date-epoch", str(EPOCH), "--incremental", "--no-incremental", *IGNORED_LIVE)


def check_live_options_of_image_creator(b: Builds) -> None:
    """image-creator takes every option of upstream's livecd-creator (upstream's is a link to it): the live ones
    build the same filesystem image (image_b's checks), named in one warning line.  Our --boot-test is
    livecd-creator's only: a filesystem image does not boot (tests/unit/test_boottest.py)."""
    build = image_b(b)
    warnings = [line for line in build.proc.stderr.splitlines() if "only apply to live ISOs" in line]
    assert warnings == ["image-creator: --title, --compression-type, --syslinux, --dracut-conf-args only apply to "
                        "live ISOs: ignored for this filesystem image."], build.proc.stderr
    assert [p.name for p in images_in(build.out)] == ["IMGB.img"]
    fstype = subprocess.run(["blkid", "-p", "-s", "TYPE", "-o", "value", str(build.image)], capture_output=True,
                            text=True, check=True).stdout.strip()
    assert fstype.startswith("ext"), fstype


EPOCH = 1700000000  # image_b is a reproducible build


def check_source_date_epoch(b: Builds) -> None:
    """The image's UUID is derived from its label and the epoch, and no file is newer than the epoch."""
    image = image_b(b).image
    uuid = subprocess.run(["blkid", "-p", "-s", "UUID", "-o", "value", str(image)], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert uuid == reproducible.derived_uuid("ext", "IMGB", EPOCH)
    listing = isoinspect.debugfs(image, "ls -l /etc")
    years = {int(y) for y in re.findall(r"\d+-[A-Z][a-z]{2}-(\d{4})", listing)}
    assert years and max(years) <= 2023, listing


def check_incremental(b: Builds) -> None:
    """--incremental without a folder: the installed tree is kept under --cache."""
    build = image_a(b)
    assert "stored the installed tree" in build.proc.stderr
    assert [p.name for p in (build.tmp / "cache/incremental").iterdir() if not p.name.startswith(".")]


def check_no_incremental(b: Builds) -> None:
    """--no-incremental wins over --incremental: the cache is neither read nor written."""
    image_a(b)
    build = image_b(b)
    assert "incremental" not in build.proc.stderr
    assert len(list((b.tmp / "IMGA/cache/incremental").iterdir())) == 1


def _files(build: Build) -> set[str]:
    return isoinspect.files(build.image)


def _grub_or_isolinux(build: Build) -> str:
    return isoinspect.read_text(build.image, "/isolinux/isolinux.cfg")


def check_config(b: Builds) -> None:
    assert live_a(b).cat("/root/post-marker") == "LIVEA\n"


def check_positional(b: Builds) -> None:
    assert live_b(b).cat("/root/post-marker") == "LIVEB\n"


def check_fslabel(b: Builds) -> None:
    build = live_a(b)
    assert build.image.name == "LIVEA.iso" and isoinspect.volume_id(build.image) == "LIVEA"
    assert "root=live:CDLABEL=LIVEA" in _grub_or_isolinux(build)


def check_name(b: Builds) -> None:
    build = live_b(b)
    assert build.image.name == "LIVEB.iso" and isoinspect.volume_id(build.image) == "LIVEB"
    assert image_b(b).image.name == "IMGB.img"


def check_title(b: Builds) -> None:
    assert "menu title T One" in _grub_or_isolinux(live_a(b))


def check_product(b: Builds) -> None:
    assert "Start Prod X" in _grub_or_isolinux(live_a(b))


def check_releasever_and_repo(b: Builds) -> None:
    """The kickstart's repository does not exist: only --repo's, at releases/$releasever, was used."""
    log = live_a(b).log.read_text()
    assert "releases/99" in log and "nonexistent" not in log


def check_cache(b: Builds) -> None:
    live_a(b)
    assert list((b.tmp / "LIVEA/cache").rglob("repomd.xml")), "repository metadata kept in --cache"


def check_cacheonly(b: Builds) -> None:
    """image_b built from image_a's cache alone; with an empty cache the build stops at once, naming the
    repository and the cache (tests/integration/test_loop_image.py also builds with the HTTP server gone)."""
    assert image_b(b).image.exists()
    empty, proc = b.image_a_again("cacheonly-empty", "--cache", str(b.tmp / "cacheonly-empty/cache"),
                                       "--cacheonly")
    assert_failed(proc, "'rel'", "releases/99", "--cacheonly is set and it is not in the cache")
    assert not list(empty.glob("imgcreate-*")) and not (empty / "out").exists()


def check_forcearch(b: Builds) -> None:
    """Not given, the target is this machine's architecture: every package of the image is x86_64's or noarch
    (the aarch64 builds, disk, ISO and ext image, are tests/integration/test_cross_arch.py's)."""
    lines = live_a(b).image.with_suffix(".packages").read_text().split()
    arches = {line.rsplit(".", 1)[1] for line in lines}
    assert lines and arches <= {os.uname().machine, "noarch"}, arches


def check_tmpdir(b: Builds) -> None:
    build = live_a(b)
    assert str(build.work) in build.log.read_text(), "the build directory was made in --tmpdir"
    assert list(build.work.iterdir()) == [], "and removed"


def check_output(b: Builds) -> None:
    assert live_a(b).image.parent == b.tmp / "LIVEA/out"


def check_nocleanup(b: Builds) -> None:
    build = live_on_flat(b)
    kept = list(build.work.glob("imgcreate-*"))
    assert kept, "--nocleanup keeps the build directory (but unmounts everything)"


def check_compression(b: Builds) -> None:
    assert "Compression zstd" in live_a(b).squashfs_info()


def check_compression_none_from_base(b: Builds) -> None:
    assert "Compression lz4" in live_on_flat(b).squashfs_info(), "the base ISO's compression"


def check_flat_squashfs(b: Builds) -> None:
    build = live_flat(b)
    listing = subprocess.run(["unsquashfs", "-l", str(isoinspect.squashfs_image(build.image, build.tmp))],
                             capture_output=True, text=True, check=True).stdout
    assert "squashfs-root/usr" in listing and "LiveOS/rootfs.img" not in listing


def check_rootfs_type(b: Builds) -> None:
    """squashfs-ext4 (the default, named): an ext4 LiveOS/rootfs.img inside the squashfs, even from a flat base."""
    build = live_on_flat(b)
    listing = subprocess.run(["unsquashfs", "-l", str(isoinspect.squashfs_image(build.image, build.tmp))],
                             capture_output=True, text=True, check=True).stdout
    assert "squashfs-root/LiveOS/rootfs.img" in listing and "squashfs-root/usr" not in listing


def check_skip_compression(b: Builds) -> None:
    files = _files(live_b(b))
    assert "/LiveOS/rootfs.img" in files and "/LiveOS/squashfs.img" not in files


def check_skip_minimize(b: Builds) -> None:
    """Minimized roots are packed and regrown (LIVEB: 1-2 free extents); skipped, free space stays scattered."""
    scattered, packed = (isoinspect.free_extents(build.rootfs()) for build in (live_a(b), live_b(b)))
    assert packed <= 3 < scattered and "e2fsck" in live_a(b).log.read_text(), (scattered, packed)


def check_syslinux(b: Builds) -> None:
    assert "/isolinux/isolinux.bin" in _files(live_a(b))


def check_nomacboot(b: Builds) -> None:
    """No Mac boot: no HFS+ image (file, GPT partition), no Apple partition map, no Mac El Torito entry."""
    build = live_a(b)
    assert not any("macboot" in f or f.endswith(".hfs") for f in _files(build))
    area = isoinspect.system_area(build.image)
    assert "APM" not in area and "005346480000aa11aa1100306543ecac" not in area.lower(), "no HFS+ GPT type"
    assert " Mac " not in isoinspect.el_torito(build.image)


def check_dracut_conf_args(b: Builds) -> None:
    seen = live_a(b).cat("/root/dracut-seen")
    assert "livenet" in seen and " nfs " in seen, "+nfs adds to the default modules"
    assert "99-liveos.conf" not in isoinspect.debugfs(live_a(b).rootfs(), "ls /etc/dracut.conf.d")


def check_pkgverify_level(b: Builds) -> None:
    """digest: LIVEA's unsigned packages were installed; signature: rpm refuses the first of them, nothing is
    built (tests/integration/test_repos.py::test_pkgverify_level too)."""
    assert "demo.service" in isoinspect.debugfs(live_a(b).rootfs(), "ls /usr/lib/systemd/system")
    image_a(b)  # its kickstart, and the repository's metadata checked once
    refused, proc = b.image_a_again("pkgverify", "--pkgverify-level", "signature")
    assert_failed(proc, "does not verify: no signature")
    assert not (refused / "out").exists() or not list((refused / "out").iterdir())


def check_plugins(b: Builds) -> None:
    """-p loads no dnf plugin (a host plugin would act on the build and the host): a build with -p never calls
    dnf's plugin loader (tests/pluginprobe.py).  It warns that -p is ignored."""
    assert "--plugins: dnf plugins are not loaded" in live_a(b).proc.stderr + live_a(b).log.read_text()
    image_a(b)
    marker = b.tmp / "plugins-loaded"
    work, proc = b.image_a_again("plugins", "-p", "-n", "PLUGINS",
                                 prefix=(sys.executable, "-m", "tests.pluginprobe", str(marker)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work / "out/PLUGINS.img").exists() and not marker.exists()


def check_debug_logfile(b: Builds) -> None:
    log = live_a(b).log.read_text()
    assert " DEBUG running: " in log and " INFO " in log


def check_verbose_and_quiet(b: Builds) -> None:
    build = live_b(b)
    log = build.log.read_text()
    assert " INFO " in log and " DEBUG " not in log, "-v: the log file records INFO, not DEBUG"
    assert build.proc.stderr == "", "-q: nothing on the terminal"


def check_ksversion(b: Builds) -> None:
    """LIVEB's kickstart has RHEL9's syspurpose: built with --ksversion RHEL9, refused with the newest syntax (the
    default); RHEL9 lacks the newest rdp; an unknown version is named."""
    ks = b.tmp / "LIVEB/LIVEB.ks"
    assert live_b(b).proc.returncode == 0
    assert_failed(run_tool("livecd-creator", "-c", str(ks), check=False), "syspurpose", "line 1")
    rdp = b.tmp / "rdp.ks"
    rdp.write_text(kickstart(marker="rdp", commands="rdp --enable"))
    assert_failed(run_tool("livecd-creator", "-c", str(rdp), "--ksversion", "RHEL9", check=False), "rdp", "line 1")
    proc = run_tool("livecd-creator", "-c", str(ks), "--ksversion", "F1bogus", check=False)
    assert proc.returncode == 1 and "F1bogus" in proc.stderr


def check_base_on_live(b: Builds) -> None:
    """A flat base: its tree becomes the new ext root; the kickstart's packages are not installed again (-l)."""
    build = live_on_flat(b)
    assert "demo-app" in isoinspect.debugfs(build.rootfs(), "ls /usr/bin"), "the base's package is there"
    assert "packages to install" not in build.log.read_text()


def check_base_on_image(b: Builds) -> None:
    build = image_b(b)
    assert "docs-demo" in isoinspect.debugfs(build.image, "ls /usr/share"), "image A's package is kept"


def check_shell(b: Builds) -> None:
    build = live_on_flat(b)
    assert build.cat("/root/shell-was-here") == "typed-in-the-shell\n"
    assert {"EFI", "boot", "images"} <= set(build.cat("/root/iso-tree-in-shell").split()), \
        "the ISO tree with the boot files made before the shell"
    assert build.cat("/root/host-root-in-shell") == "yes\n"
    assert "[ONFLAT chroot" in build.cat("/root/shell-prompt"), "the prompt says where the shell is"
    assert "Launching shell. Exit to continue." in build.proc.stderr
    assert "imgcreate" not in isoinspect.debugfs(build.rootfs(), "ls /run"), "the binds left nothing behind"


def check_image_type(b: Builds) -> None:
    assert image_a(b).image.name == "IMGA.img"


def check_help_version(b: Builds) -> None:
    for tool in ("livecd-creator", "image-creator"):
        assert "exit status" in run_tool(tool, "--help").stdout
        assert run_tool(tool, "--version").stdout.strip().endswith(imgcreate.__version__)


def check_boot_test(b: Builds) -> None:
    """QEMU is looked for before the build: without it, one paragraph naming its package and nothing built.  With
    it the ISO is booted (tests/boot/test_boot_test.py) and kept when the boot fails."""
    ks = b.tmp / "noqemu.ks"
    ks.write_text(kickstart(marker="noqemu"))
    out = b.tmp / "noqemu-out"
    proc = run_tool("livecd-creator", "-c", str(ks), "-o", str(out), "--boot-test", env={"PATH": "/nonexistent"},
                    check=False)
    assert proc.returncode == 1 and "qemu-system-x86_64" in proc.stderr and "qemu-system-x86" in proc.stderr
    assert not out.exists() or not list(out.iterdir()), "checked before the build"
    assert (failing_run(b.tmp, b.testrepo).out / "BTFAIL.iso").exists()


def check_boot_test_expect(b: Builds) -> None:
    run = failing_run(b.tmp, b.testrepo)
    assert run.returncode == 1 and f"did not print '{NEVER}' on its serial console" in run.stderr


def check_boot_test_timeout(b: Builds) -> None:
    """The guest is stopped at the deadline (or stopped by itself before it)."""
    run = failing_run(b.tmp, b.testrepo)
    trailer = (run.out / "BTFAIL.boot-bios.log").read_text(errors="replace").rsplit("[livecd-tools] ", 1)[1]
    seconds = int(trailer.split(" after ")[1].split()[0])
    assert seconds <= FAIL_TIMEOUT + 1, trailer
    assert f"within {FAIL_TIMEOUT} s" in run.stderr or "the guest stopped" in run.stderr


def check_boot_test_memory(b: Builds) -> None:
    run = failing_run(b.tmp, b.testrepo)
    assert f"-m {FAIL_MEMORY} " in (run.out / "BTFAIL.boot-bios.log").read_text(errors="replace")
    assert f"{FAIL_MEMORY} MiB" in run.stderr


OPTION_EFFECTS: dict[str, Callable[[Builds], None]] = {
    "--source-date-epoch": check_source_date_epoch, "--incremental": check_incremental,
    "--no-incremental": check_no_incremental,
    "--config": check_config, "KICKSTART": check_positional, "--fslabel": check_fslabel, "--name": check_name,
    "--title": check_title, "--product": check_product, "--releasever": check_releasever_and_repo,
    "--repo": check_releasever_and_repo, "--cache": check_cache, "--cacheonly": check_cacheonly,
    "--forcearch": check_forcearch,
    "--tmpdir": check_tmpdir, "--output": check_output, "--nocleanup": check_nocleanup,
    "--compression-type": check_compression, "--compression-type None": check_compression_none_from_base,
    "--flat-squashfs": check_flat_squashfs, "--rootfs-type": check_rootfs_type,
    "--skip-compression": check_skip_compression,
    "--skip-minimize": check_skip_minimize, "--syslinux": check_syslinux, "--nomacboot": check_nomacboot,
    "--dracut-conf-args": check_dracut_conf_args, "--pkgverify-level": check_pkgverify_level,
    "--plugins": check_plugins, "--debug": check_debug_logfile, "--logfile": check_debug_logfile,
    "--verbose": check_verbose_and_quiet, "--quiet": check_verbose_and_quiet, "--ksversion": check_ksversion,
    "--base-on": check_base_on_live, "--base-on (image)": check_base_on_image, "--shell": check_shell,
    "image-creator live options": check_live_options_of_image_creator,
    "--image-type": check_image_type, "--help": check_help_version, "--version": check_help_version,
    "--boot-test": check_boot_test, "--boot-test-expect": check_boot_test_expect,
    "--boot-test-timeout": check_boot_test_timeout, "--boot-test-memory": check_boot_test_memory,
}


@pytest.mark.parametrize("option", list(OPTION_EFFECTS))
def test_option_effect(option: str, builds: Builds) -> None:
    OPTION_EFFECTS[option](builds)


@pytest.mark.parametrize("command", list(livecommands.CHECKS))
def test_kickstart_command_on_a_live_iso(command: str, builds: Builds) -> None:
    """LIVEA's kickstart has tests/livecommands.py's commands: each one's effect in its squashfs root."""
    build = live_a(builds)
    menus = _grub_or_isolinux(build) + isoinspect.read_text(build.image, "/EFI/BOOT/grub.cfg")
    root = livecommands.Root(build.cat, lambda request: isoinspect.debugfs(build.rootfs(), request), menus)
    livecommands.CHECKS[command](root)


def test_every_option_has_a_checked_effect() -> None:
    for live in (True, False):
        for action in creators.build_parser(live)._actions:
            names = [o for o in action.option_strings if o.startswith("--")] or [str(action.metavar or action.dest)]
            assert any(n in OPTION_EFFECTS for n in names), f"no effect checked for {names}"


def test_no_build_left_anything_mounted(builds: Builds) -> None:
    mounts = Path("/proc/self/mounts").read_text()
    assert str(builds.tmp) not in mounts
    assert os.path.isdir(builds.tmp)
