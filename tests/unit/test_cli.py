"""The command line's pure logic: upstream's logging levels, default names, --dracut-conf-args."""

from __future__ import annotations

import argparse
import io
import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgcreate import debug
from imgcreate.boot import dracutconf
from imgcreate.cli import creators

log = logging.getLogger("imgcreate")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    for h in handlers:
        if h not in root.handlers:
            root.addHandler(h)
    root.setLevel(level)


def _logged(tmp_path: Path, *args: str) -> tuple[str, str]:
    """What the console and the log file get from one record of each level, with these options."""
    parser = creators.build_parser(live=True)
    logfile = tmp_path / "build.log"
    opts = parser.parse_args(["-c", "x.ks", "--logfile", str(logfile), *args])
    settings = creators.setup_logging(opts, parser)
    console = io.StringIO()
    assert isinstance(settings.console, logging.StreamHandler)
    settings.console.setStream(console)
    log.debug("debug-line")
    log.info("info-line")
    log.log(debug.PROGRESS, "progress-line")
    log.warning("warning-line")
    log.error("error-line")
    log.error("final-paragraph", extra={"console": False})
    for h in logging.getLogger().handlers:
        h.flush()
    return console.getvalue(), logfile.read_text()


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        ((), {"progress", "warning", "error"}),
        (("-v",), {"info", "progress", "warning", "error"}),
        (("-d",), {"debug", "info", "progress", "warning", "error"}),
        (("-d", "-v"), {"debug", "info", "progress", "warning", "error"}),  # an option only lowers the level
        (("-v", "-d"), {"debug", "info", "progress", "warning", "error"}),
        (("-q",), set()),
    ],
)
def test_levels_as_upstream(args: tuple[str, ...], shown: set[str], tmp_path: Path, restore_logging: None) -> None:
    console, logfile = _logged(tmp_path, *args)
    every = {"debug", "info", "progress", "warning", "error"}
    assert {w for w in every if f"{w}-line" in console} == shown
    in_file = shown if args != ("-q",) else {"progress", "warning", "error"}
    assert {w for w in every if f"{w}-line" in logfile} == in_file, "the log file records the chosen level"
    assert "final-paragraph" not in console and "final-paragraph" in logfile


def test_logfile_appends(tmp_path: Path, restore_logging: None) -> None:
    (tmp_path / "build.log").write_text("earlier build\n")
    _, logfile = _logged(tmp_path)
    assert logfile.startswith("earlier build\n")


def test_setup_logging_api_with_optparse_and_argparse(tmp_path: Path, restore_logging: None) -> None:
    import optparse

    op = optparse.OptionParser()
    debug.setup_logging(op)
    op.parse_args(["-v", "--logfile", str(tmp_path / "a.log")])
    assert logging.getLogger().level == logging.INFO
    ap = argparse.ArgumentParser()
    debug.setup_logging(ap)
    assert logging.getLogger().level == debug.PROGRESS
    ap.parse_args(["-d"])
    assert logging.getLogger().level == logging.DEBUG


def _opts(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"fslabel": None, "kscfg": "livecd-fedora-minimal.ks", "title": None,
                                 "product": None, **kw})


def test_default_names_as_upstream() -> None:
    now = time.mktime((2024, 1, 31, 12, 0, 0, 0, 0, -1))
    arch = os.uname().machine
    names = creators.derive_names(_opts(), "livecd", now)
    assert names.name == "livecd-fedora-minimal-202401311200"
    suffix = f"{arch}-202401311200"
    assert names.fslabel == "fedora-minimal"[:32 - len(suffix) - 1] + "-" + suffix, \
        "upstream's build_name: the name cut so that the label holds the whole suffix in 32 characters"
    assert (names.title, names.product) == ("Livecd Fedora", "Livecd Fedora")
    assert creators.derive_names(_opts(kscfg="my.ks"), "livecd", now).fslabel == f"livecd-my-{arch}-202401311200"
    image = creators.derive_names(_opts(kscfg="appliance.ks"), "image", now)
    assert image.name == "image-appliance-202401311200"


def test_fslabel_is_also_the_name_and_gives_the_title() -> None:
    names = creators.derive_names(_opts(fslabel="Fedora-29-WS-Live-foo"), "livecd")
    assert (names.name, names.fslabel, names.title) == ("Fedora-29-WS-Live-foo", "Fedora-29-WS-Live-foo", "Fedora 29")
    given = creators.derive_names(_opts(fslabel="L", title="My Title", product="Prod"), "livecd")
    assert (given.title, given.product) == ("My Title", "Prod")


@pytest.mark.parametrize(
    ("value", "modules", "omit"),
    [
        ("", dracutconf.DEFAULT_MODULES, ()),
        ("+nfs", (*dracutconf.DEFAULT_MODULES, "nfs"), ()),
        ("nfs network", ("dmsquash-live", "nfs", "network"), ()),  # replaces; dmsquash-live always stays
        ("+ -livenet -plymouth", tuple(m for m in dracutconf.DEFAULT_MODULES if m != "livenet"),
         ("livenet", "plymouth")),
    ],
)
def test_dracut_conf_args(value: str, modules: tuple[str, ...], omit: tuple[str, ...]) -> None:
    settings = dracutconf.parse_conf_args(value)
    assert (settings.modules, settings.omit) == (modules, omit)
    text = settings.text()
    assert f'add_dracutmodules+=" {" ".join(modules)} "' in text
    assert ("omit_dracutmodules" in text) == bool(omit)


def test_dracut_conf_text_is_appended_and_missing_modules_are_left_out() -> None:
    settings = dracutconf.parse_conf_args('compress="zstd"')
    assert settings.modules == dracutconf.DEFAULT_MODULES and settings.text().endswith('compress="zstd"\n')
    present = dracutconf.module_names(["90dmsquash-live", "98pollcdrom", "99base", "README"])
    assert present == {"dmsquash-live", "pollcdrom", "base"}
    assert dracutconf.DracutSettings().keeping(present).modules == ("dmsquash-live", "pollcdrom")
    assert dracutconf.DracutSettings().keeping(set()).modules == ("dmsquash-live",)


def test_an_error_while_unwinding_after_a_signal_still_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 22: a SIGTERM whose cleanup then fails (an unmount, raised from an ExitStack, which cuts the
    exception chain) is an interrupted run, exit 130, with what failed in the message; not a failure (1)."""
    from contextlib import ExitStack

    from imgcreate.errors import MountError

    def busy() -> None:
        raise MountError("/x/install_root could not be unmounted because it was busy")

    def action() -> int:
        stack = ExitStack()
        stack.callback(busy)
        with stack:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        return 0

    assert creators.guarded("tool", action) == 130
    err = capsys.readouterr().err
    assert "tool: Stopped by SIGTERM, but cleaning up failed: /x/install_root could not be unmounted" in err
    def fails() -> int:
        busy()
        return 0

    assert creators.guarded("tool", fails) == 1, "the same error without a signal is a failure"


def test_image_creator_ignores_the_live_options_it_is_given() -> None:
    """image-creator parses every option of upstream's livecd-creator (one program); those given are named and
    set back to their defaults, and the defaults themselves, typed ones too, are not "given"."""
    parser = creators.image_parser()
    opts = parser.parse_args(["-c", "x.ks", "--title", "T", "-s", "--compression-type", "zstd", "--rootfs-type",
                              "erofs"])
    given = creators.ignore_live_options("image-creator", parser, opts)
    assert given == ["--title", "--compression-type", "--skip-compression", "--rootfs-type"]
    assert opts.title is None and not opts.skip_compression and opts.compression_type == "xz"
    assert opts.rootfs_type is None
    assert creators.ignore_live_options("image-creator", parser, parser.parse_args(["-c", "x.ks"])) == []
