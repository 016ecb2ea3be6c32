"""Pure-logic tests: kickstart reading, getters, name and label rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgcreate import kickstart
from imgcreate.errors import KickstartError


def write(tmp_path: Path, text: str, name: str = "test.ks") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_kickstart_and_getters(tmp_path: Path) -> None:
    ks = kickstart.read_kickstart(
        write(
            tmp_path,
            "part / --size 1024 --fstype ext3 --label ROOTL\n"
            "repo --name=a --baseurl=http://example.com/$releasever/$basearch --cost 5 --includepkgs=x,y\n"
            "repo --name=b --mirrorlist=http://example.com/ml --excludepkgs=z --noverifyssl --proxy=http://p:3128\n"
            "bootloader --append='quiet x=1' --timeout 7\n"
            "%packages --excludedocs --instLangs=de:fr --nocore --excludeWeakdeps --ignoremissing\n"
            "@core\n@base --optional\n@small --nodefaults\n-@docs\nfoo\n-bar\n%end\n",
        )
    )
    assert kickstart.get_image_size(ks) == 1024 * 1024 * 1024
    assert kickstart.get_image_fstype(ks) == "ext3"
    assert kickstart.get_image_fslabel(ks) == "ROOTL"
    assert kickstart.get_kernel_args(ks, "rd.live.image") == "rd.live.image quiet x=1"
    assert kickstart.get_timeout(ks) == 7
    repos = kickstart.get_repos(ks)
    assert [r.name for r in repos] == ["a", "b"]
    assert repos[0].baseurl == ["http://example.com/$releasever/$basearch"]
    assert repos[0].cost == 5 and repos[0].includepkgs == ["x", "y"]
    assert repos[1].mirrorlist == "http://example.com/ml" and repos[1].noverifyssl and repos[1].proxy
    spec = kickstart.get_packages(ks, required=["kernel"], excluded=["evil"])
    assert spec.packages == ["foo", "kernel"]
    assert spec.groups == [("core", "default"), ("base", "all"), ("small", "required")]
    assert spec.excluded == ["bar", "evil"] and spec.excluded_groups == ["docs"]
    assert spec.nocore and spec.excludedocs and spec.exclude_weakdeps and spec.ignore_missing
    assert spec.inst_langs == "de:fr"


def test_defaults(tmp_path: Path) -> None:
    ks = kickstart.read_kickstart(write(tmp_path, "%packages\n%end\n"))
    assert kickstart.get_image_size(ks) == 4096 * 1024 * 1024
    assert kickstart.get_image_fstype(ks) == "ext4"
    assert kickstart.get_kernel_args(ks) == ""
    spec = kickstart.get_packages(ks)
    assert not spec.nocore and not spec.excludedocs and spec.inst_langs is None and not spec.ignore_missing


def test_url_becomes_a_repo(tmp_path: Path) -> None:
    ks = kickstart.read_kickstart(write(tmp_path, "url --url=http://example.com/os\n"))
    assert [(r.name, r.baseurl) for r in kickstart.get_repos(ks)] == [("install-tree", ["http://example.com/os"])]


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "lang en_US.UTF-8\n\nnosuchcommand --x\n")
    with pytest.raises(KickstartError) as err:
        kickstart.read_kickstart(path)
    msg = str(err.value)
    assert str(path) in msg and "line 3" in msg and "nosuchcommand" in msg


def test_error_in_included_file_names_that_file(tmp_path: Path) -> None:
    inc = write(tmp_path, "rootpw --bogus x\n", "inc.ks")
    main = write(tmp_path, "lang en_US\n%include inc.ks\n")
    with pytest.raises(KickstartError) as err:
        kickstart.read_kickstart(main)
    assert "inc.ks" in str(err.value) and "line 1" in str(err.value)
    assert inc.exists()


def test_include_relative_path(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path, "%packages\nfrom-include\n%end\n", "sub/pk.ks")
    ks = kickstart.read_kickstart(write(tmp_path, "%include sub/pk.ks\n"))
    assert ks.packages.packageList == ["from-include"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KickstartError, match="does not exist"):
        kickstart.read_kickstart(tmp_path / "nope.ks")


def test_ksversion(tmp_path: Path) -> None:
    path = write(tmp_path, "lang en_US\n")
    assert kickstart.read_kickstart(path, "F20") is not None
    with pytest.raises(KickstartError, match="version"):
        kickstart.read_kickstart(path, "NOTAVERSION")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("/a/b/fedora-live.ks", None, ""), "fedora-live"),
        (("/a/b/fedora-live.ks", "livecd-", ""), "livecd-fedora-live"),
        (("livecd-fedora.ks", "livecd-", ""), "livecd-fedora"),
        (("x.ks", None, "1"), "x-1"),
        (("noext", None, ""), "noext"),
    ],
)
def test_build_name(args: tuple[str, str | None, str], expected: str) -> None:
    assert kickstart.build_name(*args) == expected


def test_build_name_maxlen_keeps_suffix() -> None:
    name = kickstart.build_name("a-very-long-kickstart-name-for-testing.ks", "livecd-", "202601011200", maxlen=32)
    assert len(name) == 32 and name.startswith("livecd-") and name.endswith("-202601011200")


def test_build_name_default_suffix_is_a_timestamp() -> None:
    name = kickstart.build_name("x.ks")
    assert name.startswith("x-") and name[2:].isdigit() and len(name[2:]) == 12


@pytest.mark.parametrize("label", ["Fedora-WS-Live-40-1", "A", "x" * 32, "lab_el.1"])
def test_good_labels(label: str) -> None:
    assert kickstart.check_fslabel(label) == label


@pytest.mark.parametrize(
    ("label", "message"),
    [("", "empty"), ("x" * 33, "limited to 32"), ("has space", "' '"), ("slash/", "'/'")],
)
def test_bad_labels(label: str, message: str) -> None:
    with pytest.raises(KickstartError, match=message):
        kickstart.check_fslabel(label)


def test_label_from_name() -> None:
    assert kickstart.label_from_name("livecd-my spin+x-202601011200") == "livecd-my_spin_x-202601011200"
    assert len(kickstart.label_from_name("x" * 40)) == 32
