"""editliveos's branding (imgcreate.toolbox.editbrand): upstream's ``_brand`` names and release-file lines, from
pure inputs (the builds that check them on a real ISO are in tests/integration/test_editliveos_options.py)."""

from __future__ import annotations

import calendar
from pathlib import Path

import pytest

from imgcreate.errors import CreatorError
from imgcreate.media.liveiso import BootEntry, Layout, LiveIso
from imgcreate.toolbox import editbrand

EPOCH = calendar.timegm((2026, 12, 3, 11, 40, 0))  # 03Dec2026 11:40 UTC


def live(label: str = "Fedora-WS-Live-41") -> LiveIso:
    """An ISO without menus: its product is then its label."""
    return LiveIso(path=Path("/x/Fedora.iso"), label=label, layout=Layout.FLAT_SQUASHFS, files=frozenset(),
                   boot=BootEntry("/images/pxeboot/vmlinuz", "/images/pxeboot/initrd.img", ""))


def test_product_read_from_grub_and_isolinux_menus() -> None:
    assert editbrand.source_product("set default=0\nmenuentry 'Start Fedora-Live 40' --class fedora {\n") == \
        "Fedora-Live 40"
    assert editbrand.source_product("label linux\n  menu label ^Start Fedora-Live 39\n") == "Fedora-Live 39"
    assert editbrand.source_product("menuentry 'Install' {\n") is None


def test_builder_gives_upstreams_remix_line_name_and_label() -> None:
    b = editbrand.make_brand(live(), "MyRemix", "Jane", ("/etc/os-release",), "x86_64", EPOCH)
    assert b.remix == "03Dec2026-Jane-Remix-Fedora-WS-Live-41" == b.product
    assert b.name == "MyRemix-x86_64-20261203.1140" == b.label
    assert b.files == (*editbrand.DEFAULT_RELEASE_FILES, "/etc/os-release")


def test_default_name_builder_and_a_label_cut_keeping_the_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("USERNAME", raising=False)
    b = editbrand.make_brand(live(), None, None, ("/etc/issue",), "x86_64", EPOCH)
    assert b.remix.startswith("03Dec2026-Fedora User-Remix-")
    assert b.name == "Fedora.iso.edited-x86_64-20261203.1140"
    assert len(b.label) == 32 and b.label.endswith("-x86_64-20261203.1140")
    monkeypatch.setenv("USERNAME", "sam")
    assert "-sam-Remix-" in editbrand.make_brand(live(), None, None, ("/etc/issue",), "x86_64", EPOCH).remix


def test_a_remix_of_a_remix_keeps_the_release() -> None:
    b = editbrand.make_brand(live("01Jan2026-Al-Remix-Fedora-41"), "R", "Bo", (), "x86_64", EPOCH)
    assert b.remix == "03Dec2026-Bo-Remix-Fedora-41"


def test_colon_names() -> None:
    """-n :TEXT: TEXT is the name, label, product and the release files' line; -n : alone renames only."""
    b = editbrand.make_brand(live(), ":My/Remix", "Jane", (), "x86_64", EPOCH)
    assert (b.remix, b.name, b.label, b.product) == ("My_Remix",) * 4
    bare = editbrand.make_brand(live("OLD"), ":", None, ("/etc/os-release",), "x86_64", EPOCH)
    assert (bare.remix, bare.name, bare.product, bare.files) == ("", "remixed-OLD", "remixed-OLD", ())


def test_wanted_only_when_asked() -> None:
    assert not editbrand.wanted("NAME", None, ())
    assert editbrand.wanted(None, "Jane", ()) and editbrand.wanted(None, None, ("/etc/x",))
    assert editbrand.wanted(":NAME", None, ())


def test_a_quote_in_the_builder_is_refused() -> None:
    with pytest.raises(CreatorError, match="quote"):
        editbrand.make_brand(live(), None, "O'Brien", (), "x86_64", EPOCH)


def test_release_files_branded_inside_the_root(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A plain file gets the line on top (upstream's), a KEY=value file a comment; a symlink is followed inside
    the root (an absolute one too: never to the host's file); a missing -r file is warned about."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/issue").write_text("\\S\nKernel \\r on \\m\n")
    (root / "etc/issue").symlink_to("/usr/lib/issue")  # absolute: resolved in the root
    (root / "etc/os-release").write_text('NAME="X"\n# comment\nVERSION_ID=1\n')
    (root / "etc/os-release").chmod(0o600)
    brand = editbrand.Brand(remix="R-Remix-X", name="n", label="n", product="p",
                            files=(*editbrand.DEFAULT_RELEASE_FILES, "/etc/os-release", "/etc/gone"))
    assert editbrand.brand_release_files(root, brand) == ["/etc/issue", "/etc/os-release"]
    assert (root / "usr/lib/issue").read_text() == "R-Remix-X\n\\S\nKernel \\r on \\m\n"
    assert (root / "etc/issue").is_symlink()
    assert (root / "etc/os-release").read_text() == '# R-Remix-X\nNAME="X"\n# comment\nVERSION_ID=1\n'
    assert (root / "etc/os-release").stat().st_mode & 0o777 == 0o600
    assert "--releasefile /etc/gone" in caplog.text and "fedora-release" not in caplog.text
