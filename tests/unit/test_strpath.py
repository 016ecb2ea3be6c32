"""StrPath: the creators' paths are upstream's ``str`` (concatenation, ``os.path``) and also join with ``/``."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from imgcreate.build.upstreamhooks import call_stage_final_image
from imgcreate.strpath import StrPath


def test_it_is_the_string_upstream_hands_out() -> None:
    root = StrPath("/var/tmp/imgcreate-x/install_root")
    assert isinstance(root, str) and root == "/var/tmp/imgcreate-x/install_root"
    # upstream's clients build paths by concatenation: a plain str, as upstream's
    assert root + "/etc/sysconfig/" == "/var/tmp/imgcreate-x/install_root/etc/sysconfig/"
    assert "%s/boot" % root == "/var/tmp/imgcreate-x/install_root/boot"  # noqa: UP031 (upstream's style)
    assert os.path.join(root, "etc") == "/var/tmp/imgcreate-x/install_root/etc"
    assert root.startswith("/var/tmp") and os.fspath(root) == str(root)
    assert hash(root) == hash("/var/tmp/imgcreate-x/install_root")
    table: dict[str, int] = {root: 1}
    assert table["/var/tmp/imgcreate-x/install_root"] == 1


def test_slash_joins_as_path_does_and_keeps_the_type() -> None:
    root = StrPath("/r")
    joined = root / "etc" / Path("fstab")
    assert type(joined) is StrPath and joined == "/r/etc/fstab"
    assert root / "/abs" == "/abs"  # an absolute right-hand side replaces the left, as with Path
    assert type("/top" / StrPath("sub")) is StrPath and "/top" / StrPath("sub") == "/top/sub"
    assert Path("/top") / StrPath("sub") == Path("/top/sub")  # Path's own join still gives a Path
    assert (root / "etc").path == Path("/r/etc")


def test_path_methods_through_path(tmp_path: Path) -> None:
    d = StrPath(tmp_path) / "made"
    d.path.mkdir()
    (d / "f").path.write_text("x")
    assert os.path.isdir(d) and open(d / "f").read() == "x"  # noqa: SIM115 (open takes it as any path)
    assert Path(d) == tmp_path / "made"


def test_it_pickles_and_prints_as_a_path() -> None:
    p = StrPath("/a/b")
    assert pickle.loads(pickle.dumps(p)) == "/a/b"
    assert str(p) == "/a/b" and f"{p}" == "/a/b" and "StrPath" in repr(p)


@pytest.mark.parametrize("takes_ops", [True, False])
def test_stage_hook_called_with_ops_only_when_it_takes_them(takes_ops: bool) -> None:
    """upstream's own ImageCreator.package() passes ops to hooks written without them (its issue #246)."""
    seen: list[object] = []

    def with_ops(ops: list[str]) -> None:
        seen.append(ops)

    def without() -> None:
        seen.append("none")

    call_stage_final_image(with_ops if takes_ops else without, ["show-squashing"])
    assert seen == ([["show-squashing"]] if takes_ops else ["none"])
