"""The live media tools' pure parts: the kernel arguments editliveos keeps and the kickstart it writes, the PXE
tree's names and arguments, and the command lines' usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgcreate.cli import toolbox
from imgcreate.errors import CreatorError
from imgcreate.media.liveiso import BootEntry, Layout, LiveIso
from imgcreate.toolbox import editlive, pxeboot

ARGS = "root=live:CDLABEL=OLD rootfstype=auto ro rd.live.image rd.live.overlay.overlayfs=1 quiet rhgb console=ttyS0"


def live(args: str = ARGS) -> LiveIso:
    return LiveIso(path=Path("/x/old.iso"), label="OLD", layout=Layout.FLAT_SQUASHFS, files=frozenset(),
                   boot=BootEntry("/images/pxeboot/vmlinuz", "/images/pxeboot/initrd.img", args))


def test_kept_kernel_args_drop_the_live_boots_own() -> None:
    assert editlive.kept_kernel_args(live()) == "console=ttyS0"


def test_edit_kickstart(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("#!/usr/bin/python3\nprint('hi')\n")
    text = editlive.edit_kickstart(live(), editlive.EditOptions(packages=("demo-app", "@base"),
                                                                extra_kernel_args="a=1 b", script=script))
    assert "bootloader --append='console=ttyS0 a=1 b'\n" in text
    assert "%packages\ndemo-app\n@base\n%end\n" in text
    assert "%post --interpreter=/usr/bin/python3\n#!/usr/bin/python3\nprint('hi')\n%end\n" in text


def test_edit_output_checks(tmp_path: Path) -> None:
    iso = tmp_path / "a.iso"
    iso.write_text("x")
    for out, needle in [(tmp_path / "b.img", "ending in .iso"), (iso, "exists already"),
                        (tmp_path / "no/b.iso", "does not exist")]:
        with pytest.raises(CreatorError, match=needle):
            editlive.check_output(iso, out)


def test_pxe_names_and_args() -> None:
    assert pxeboot.iso_name_in_initrd(Path("/a/My Live.ISO")) == "My_Live.ISO"
    assert pxeboot.iso_name_in_initrd(Path("/a/live.img")) == "live.img.iso"
    assert pxeboot.live_args(live(), "live:/old.iso").startswith("root=live:/old.iso rootfstype=auto ro ")


@pytest.mark.parametrize(("main", "argv", "status"), [
    (toolbox.liveimage_mount, ["only.iso"], 2),
    (toolbox.editliveos, [], 2),
    (toolbox.editliveos, ["a.iso", "--package", "x"], 2),
    (toolbox.pxeboot, ["--no-such-option", "a.iso"], 1),  # upstream's shell usage() exits 1
])
def test_usage_errors_exit_as_upstream(main: object, argv: list[str], status: int) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)  # type: ignore[operator]
    assert exc.value.code == status
