"""Every option of upstream's editliveos (livecd-tools 31, ``tools/editliveos``), each with the check of its effect.

Table-driven as tests/integration/test_upstream_options.py: UPSTREAM lists upstream's options; each is in EFFECTS
(a check here, on two edits made once per module from the session's toolbox ISOs, or on the runs of
tests/integration/test_tool_options.py, read through its ``runs`` fixture), or in GAPS (a visible expected failure
saying what is not done).  ``test_every_upstream_option_is_accounted_for`` fails for an option in neither, and
for one our parser does not take.

Upstream edits a live USB stick, a running live system or a folder in place too (its home.img, overlay and root
image); editliveos here edits ISOs, so the options for those sources are accepted and refused in one sentence
(README's differences table): REFUSED checks each refusal.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from imgcreate.cli import toolbox
from imgcreate.media.liveiso import Layout, read_live_iso
from imgcreate.pack import RootfsType
from imgcreate.toolbox import editlive
from tests import isoinspect
from tests.integration import test_tool_options
from tests.support import assert_failed, leak_snapshot, run_tool

pytestmark = pytest.mark.root


# Upstream's options, by their first long name (or short name where upstream has no long one), as its parser.
UPSTREAM = (
    "ISO", "--help", "--name", "--output", "--kickstart", "--skip-SELinux", "--script", "--noshell", "--tmpdir",
    "--dnfcache", "--exclude", "--include", "--seclude", "--releasefile", "--builder", "--clone", "--rootfsimg",
    "--overlay", "--rootfs-size-gb", "--home-size-mb", "--encrypted-home", "--unencrypted-home",
    "--overlay-size-mb", "--refresh-only", "--skip-refresh", "--skip-seclude", "--compress-type", "--compress",
    "--skip-compression", "--refresh-uncompressed", "--flatten-squashfs", "--extra-kernel-args",
    "--extra-space-mb", "--nocleanup", "--releasever", "--arch", "--plugins", "--cacheonly",
    "--debug", "--verbose", "--quiet", "--logfile",
)

# Accepted, and refused with one sentence saying why (no source device, no home.img, no overlay on an ISO).
REFUSED = {
    "--clone": (("--clone",), "home.img"),
    "--rootfsimg": (("--rootfsimg", "LiveOS/x.img"), "source device"),
    "--overlay": (("--overlay", "/dev/sdz1:/LiveOS/overlay"), "no overlay"),
    "--home-size-mb": (("--home-size-mb", "100"), "home.img"),
    "--encrypted-home": (("--encrypted-home",), "home.img"),
    "--unencrypted-home": (("--unencrypted-home",), "home.img"),
    "--overlay-size-mb": (("--overlay-size-mb", "100"), "upstream too refuses it"),
}

# What is not done (each an expected failure in the run's summary, never silent): nothing now.
GAPS: dict[str, str] = {}

BUILDER = "Jane Builder"


class Edits:
    """Two edits of the session's squashfs toolbox ISO, made on first use: with --skip-compression, -i, -e and
    the branding options -b and -r; with --flatten-squashfs and -n :ED-FLAT (upstream's unbranded name)."""

    def __init__(self, isos: dict[str, Path], tmp: Path) -> None:
        self.isos, self.tmp = isos, tmp
        self.done: dict[str, tuple[subprocess.CompletedProcess[str], Path]] = {}
        self._root: Path | None = None

    def uncompressed(self) -> tuple[subprocess.CompletedProcess[str], Path]:
        if "uncompressed" not in self.done:
            d = self.tmp / "uncompressed"
            (d / "out").mkdir(parents=True, exist_ok=True)
            (d / "extra").mkdir(exist_ok=True)
            (d / "extra/hello.txt").write_text("included\n")
            proc = run_tool("editliveos", str(self.isos["squashfs"]), "-N", "--skip-compression", "-i",
                            str(d / "extra"), "-e", "*.nothing", "-n", "ED-UNCOMP", "-o", str(d / "out"), "-t", str(d),
                            "-b", BUILDER, "-r", "/etc/os-release /etc/no-such-release")
            made = sorted((d / "out").glob("ED-UNCOMP*.iso"))
            assert len(made) == 1, (made, proc.stderr)
            self.done["uncompressed"] = proc, made[0]
        return self.done["uncompressed"]

    def uncompressed_root(self) -> Path:
        """The uncompressed edit's LiveOS/rootfs.img, extracted once."""
        if self._root is None:
            self._root = self.tmp / "uncompressed-rootfs.img"
            subprocess.run(["xorriso", "-indev", str(self.uncompressed()[1]), "-osirrox", "on", "-extract",
                            "/LiveOS/rootfs.img", str(self._root)], check=True, capture_output=True)
        return self._root

    def flattened(self) -> tuple[subprocess.CompletedProcess[str], Path]:
        if "flattened" not in self.done:
            d = self.tmp / "flattened"
            (d / "out").mkdir(parents=True, exist_ok=True)
            proc = run_tool("editliveos", str(self.isos["squashfs"]), "-N", "--flatten-squashfs", "-o",
                            str(d / "out"), "-t", str(d), "-n", ":ED-FLAT")
            self.done["flattened"] = proc, d / "out/ED-FLAT.iso"
        return self.done["flattened"]


@pytest.fixture(scope="module")
def edits(toolbox_isos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Edits:
    return Edits(toolbox_isos, tmp_path_factory.mktemp("edits"))


def _elsewhere(key: str) -> Callable[[Edits], None]:
    """An option checked by tests/integration/test_tool_options.py's EFFECTS[f"editliveos {key}"] (on its runs,
    not made twice): here, that the check is there."""
    def check(_: Edits) -> None:
        assert f"editliveos {key}" in test_tool_options.EFFECTS, key
    return check


def skip_compression(e: Edits) -> None:
    """The squashfs ISO edited with --skip-compression: LiveOS/rootfs.img on the ISO, no squashfs.img."""
    iso = e.uncompressed()[1]
    assert read_live_iso(iso).layout is Layout.ROOTFS_ON_ISO
    assert "/LiveOS/squashfs.img" not in isoinspect.files(iso)


def include(e: Edits) -> None:
    """-i a host folder: on the new ISO by its name."""
    iso = e.uncompressed()[1]
    assert isoinspect.read_text(iso, "/extra/hello.txt") == "included\n"


def exclude(e: Edits) -> None:
    """-e: every other file of the source but the matching names; the new build's own LiveOS and boot files are
    never replaced by the source's (the new ISO has no squashfs.img though the source had one)."""
    iso = e.uncompressed()[1]
    source = isoinspect.files(e.isos["squashfs"])
    others = {f for f in source if f.strip("/").split("/")[0] not in ("LiveOS", "EFI", "isolinux", "syslinux",
                                                                      "boot", "images", "[BOOT]")}
    assert others <= isoinspect.files(iso)
    assert "/LiveOS/squashfs.img" not in isoinspect.files(iso)


def flatten(e: Edits) -> None:
    """--flatten-squashfs: the squashfs ISO's root becomes the tree itself in squashfs.img."""
    iso = e.flattened()[1]
    assert read_live_iso(iso).layout is Layout.FLAT_SQUASHFS


def _menus(iso: Path) -> list[str]:
    return [isoinspect.read_text(iso, m) for m in ("/boot/grub2/grub.cfg", "/EFI/BOOT/grub.cfg")]


def builder(e: Edits) -> None:
    """-b NAME: upstream's Remix line DDMonYYYY-NAME-Remix-RELEASE (RELEASE: the source's product, "Tb Sq" in
    its "Start Tb Sq" entry) is the boot menus' product, BIOS and UEFI; the ISO and its volume label are named
    NAME-ARCH-YYYYmmdd.HHMM, the same day as the Remix line's; the source's product and label are gone."""
    iso = e.uncompressed()[1]
    found = re.fullmatch(rf"ED-UNCOMP-{os.uname().machine}-(\d{{8}})\.\d{{4}}\.iso", iso.name)
    assert found, iso.name
    day = time.strftime("%d%b%Y", time.strptime(found.group(1), "%Y%m%d"))
    remix = f"{day}-{BUILDER}-Remix-Tb Sq"
    assert isoinspect.volume_id(iso) == iso.stem and len(iso.stem) <= 32
    for menu in _menus(iso):
        assert f"menuentry 'Start {remix}'" in menu and f"# {remix}" in menu, menu
        assert f"CDLABEL={iso.stem} " in menu and "Start Tb Sq'" not in menu, menu


def releasefile(e: Edits) -> None:
    """-r "/etc/os-release /etc/no-such-release": os-release (a KEY=value file, upstream's bare line would be a
    line its readers reject) gets the Remix line as a comment on top, the rest of it unchanged; the missing
    file is named in a warning; the other release files upstream brands (fedora-release, issue) the test
    distribution lacks: none were made."""
    proc, iso = e.uncompressed()
    text = isoinspect.debugfs(e.uncompressed_root(), "cat /etc/os-release")
    first, rest = text.split("\n", 1)
    assert re.fullmatch(rf"# \d\d[A-Z][a-z][a-z]\d{{4}}-{BUILDER}-Remix-Tb Sq", first), text
    assert rest.startswith('NAME="Testdistro"\n') and 'PRETTY_NAME="Testdistro 1"' in rest, text
    assert "--releasefile /etc/no-such-release: the edited root has no such file" in proc.stderr, proc.stderr
    listing = isoinspect.debugfs(e.uncompressed_root(), "ls /etc")
    assert "fedora-release" not in listing and "issue" not in listing.split(), listing


def colon_name(e: Edits) -> None:
    """-n :ED-FLAT (the flattened edit): upstream's unbranded name (no -ARCH-date), the text itself the menus'
    product and the label."""
    iso = e.flattened()[1]
    assert isoinspect.volume_id(iso) == "ED-FLAT"
    assert all("menuentry 'Start ED-FLAT'" in m for m in _menus(iso))


def compress(e: Edits) -> None:
    """--compress on an uncompressed source (the --skip-compression edit): the settings that squash it again
    (squashfs.img holding rootfs.img); no third build (the test-time budget), the layout logic read directly."""
    source = read_live_iso(e.uncompressed()[1])
    keep = editlive.layout_settings(source, editlive.EditOptions())
    assert keep == (None, True), "without --compress, the source's uncompressed layout"
    assert editlive.layout_settings(source, editlive.EditOptions(compress=True)) == (RootfsType.SQUASHFS_EXT4, False)


def refused(option: str) -> Callable[[Edits], None]:
    def check(e: Edits) -> None:
        args, words = REFUSED[option]
        proc = run_tool("editliveos", str(e.isos["flat"]), "-N", *args, "-o", str(e.tmp / "refused"),
                        check=False)
        assert_failed(proc, words)
        assert proc.returncode == 1 and not (e.tmp / "refused").exists()
    return check


def help_names(_: Edits) -> None:
    for name in ("-h", "-?", "--help"):
        assert run_tool("editliveos", name).stdout.startswith("usage: editliveos")


def script(e: Edits) -> None:
    """-s: checked with the package and the kernel argument in tests/integration/test_toolbox.py (the edited
    fixture's script writes a file into the root); here: a script that does not exist is refused."""
    proc = run_tool("editliveos", str(e.isos["flat"]), "-N", "-s", str(e.tmp / "no-such.sh"), "-o",
                    str(e.tmp / "noscript.iso"), "-t", str(e.tmp), check=False)
    assert_failed(proc, "no-such.sh")


EFFECTS: dict[str, Callable[[Edits], None]] = {
    "ISO": _elsewhere("--tmpdir"),
    "--help": help_names,
    "--name": _elsewhere("--name, no --output"),
    "--name :TEXT": colon_name,
    "--output": _elsewhere("--name, no --output"),
    "--kickstart": _elsewhere("--kickstart"),
    "--script": script,
    "--noshell": _elsewhere("--noshell"),
    "--tmpdir": _elsewhere("--tmpdir"),
    "--dnfcache": _elsewhere("--cacheonly --nocleanup, upstream's names"),
    "--exclude": exclude,
    "--include": include,
    "--seclude": _elsewhere("--seclude"),
    "--rootfs-size-gb": _elsewhere("--rootfs-size-gb"),
    "--refresh-only": _elsewhere("--refresh-only"),
    "--skip-refresh": _elsewhere("--skip-refresh --refresh-uncompressed --skip-seclude"),
    "--skip-seclude": _elsewhere("--skip-refresh --refresh-uncompressed --skip-seclude"),
    "--refresh-uncompressed": _elsewhere("--skip-refresh --refresh-uncompressed --skip-seclude"),
    "--compress-type": _elsewhere("--compression-type"),
    "--compress": compress,
    "--skip-compression": skip_compression,
    "--flatten-squashfs": flatten,
    "--builder": builder,
    "--releasefile": releasefile,
    "--skip-SELinux": _elsewhere("--skip-SELinux"),
    "--extra-kernel-args": _elsewhere("--cacheonly --nocleanup, upstream's names"),
    "--extra-space-mb": _elsewhere("--extra-space-mb"),
    "--nocleanup": _elsewhere("--cacheonly --nocleanup, upstream's names"),
    "--releasever": _elsewhere("--repo file --releasever"),
    "--arch": _elsewhere("--arch"),
    "--plugins": _elsewhere("--cacheonly --nocleanup, upstream's names"),
    "--cacheonly": _elsewhere("--cacheonly --nocleanup, upstream's names"),
    "--debug": _elsewhere("logging"),
    "--verbose": _elsewhere("logging"),
    "--quiet": _elsewhere("logging"),
    "--logfile": _elsewhere("logging"),
    "--clone": refused("--clone"),
    "--rootfsimg": refused("--rootfsimg"),
    "--overlay": refused("--overlay"),
    "--home-size-mb": refused("--home-size-mb"),
    "--encrypted-home": refused("--encrypted-home"),
    "--unencrypted-home": refused("--unencrypted-home"),
    "--overlay-size-mb": refused("--overlay-size-mb"),
}




def test_every_upstream_option_is_accounted_for() -> None:
    """Each upstream option is checked here or listed as a gap; our parser takes every one of them."""
    missing = [o for o in UPSTREAM if o not in EFFECTS and o not in GAPS]
    assert not missing, f"upstream editliveos options without a check or a listed gap: {missing}"
    taken = set(toolbox.editliveos_parser()._option_string_actions) | {"ISO"}
    assert [o for o in UPSTREAM if o not in taken] == []
    for short in ("-n", "-o", "-k", "-S", "-s", "-N", "-t", "-f", "-y", "-e", "-i", "-u", "-r", "-b", "-c", "-a",
                  "-p", "-?", "--yumcache"):
        assert short in taken, short


@pytest.mark.parametrize("option", list(EFFECTS))
def test_option_effect(option: str, edits: Edits) -> None:
    EFFECTS[option](edits)


@pytest.mark.parametrize("option", list(GAPS))
def test_gap(option: str) -> None:
    """Not done: shown as an expected failure with its reason in every run's summary."""
    pytest.xfail(GAPS[option])


def test_edits_left_nothing_mounted(edits: Edits) -> None:
    assert not leak_snapshot().under(edits.tmp).mounts
