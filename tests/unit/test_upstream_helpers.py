"""Upstream's logging helpers (imgcreate.debug) and per-architecture live creators (imgcreate.live), by behaviour.

The names and parameters are checked by test_upstream_api.py; here, what they do: the optparse callbacks and the
argparse action change the logger given to them, as upstream's do, and LiveImageCreator is the class upstream
would choose for this machine.
"""

from __future__ import annotations

import argparse
import logging
import optparse
from collections.abc import Iterator
from pathlib import Path

import pytest

import imgcreate
from imgcreate import debug, live


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, put back as it was afterwards (setup_logging changes it)."""
    logger = logging.getLogger()
    level, handlers = logger.level, list(logger.handlers)
    yield logger
    for handler in [h for h in logger.handlers if h not in handlers]:
        logger.removeHandler(handler)
        handler.close()
    for handler in handlers:
        if handler not in logger.handlers:
            logger.addHandler(handler)
    logger.setLevel(level)


def test_setup_logging_with_optparse(root_logger: logging.Logger, tmp_path: Path) -> None:
    """appliance-tools calls imgcreate.setup_logging(optparse.OptionParser()): -v, -d, --logfile, -q work."""
    parser = optparse.OptionParser()
    settings = imgcreate.setup_logging(parser)
    console = settings.console
    assert console in root_logger.handlers and root_logger.level == debug.DEFAULT_LEVEL
    logfile = tmp_path / "build.log"
    parser.parse_args(["-v", "--logfile", str(logfile)])
    assert root_logger.level == logging.INFO
    logging.getLogger("imgcreate").info("into the file")
    assert "into the file" in logfile.read_text()
    parser.parse_args(["-d", "-v"])
    assert root_logger.level == logging.DEBUG, "-v after -d does not raise the level again"
    parser.parse_args(["-q"])
    assert console not in root_logger.handlers


def test_optparse_callbacks_take_upstreams_logger(root_logger: logging.Logger) -> None:
    """Upstream's callback_args are a logger (and a handler for -q); a creator's own parser may pass them."""
    logger = logging.getLogger("upstream-test")
    logger.setLevel(logging.WARNING)
    stream = logging.StreamHandler()
    logger.addHandler(stream)
    parser = optparse.OptionParser()
    parser.add_option("-v", action="callback", callback=imgcreate.handle_logging, callback_args=(logger, logging.INFO))
    parser.add_option("-q", action="callback", callback=imgcreate.handle_quiet, callback_args=(logger, stream))
    parser.add_option("--logfile", type="string", action="callback", callback=imgcreate.handle_logfile,
                      callback_args=(logger,))
    parser.parse_args(["-v", "-q"])
    assert logger.level == logging.INFO and stream not in logger.handlers
    with pytest.raises(SystemExit):  # optparse reports the OptionValueError as a usage error
        parser.parse_args(["--logfile", "/nonexistent/dir/x.log"])


def test_logging_config_action_with_a_logger(tmp_path: Path) -> None:
    logger = logging.getLogger("upstream-action-test")
    logger.setLevel(logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("-d", "--debug", metavar="", nargs=0, action=imgcreate.LoggingConfig, logger=logger)
    parser.add_argument("--logfile", metavar="PATH", action=imgcreate.LoggingConfig, logger=logger)
    opts = parser.parse_args(["-d", "--logfile", str(tmp_path / "a.log")])
    assert opts.debug is True and opts.logfile == str(tmp_path / "a.log")
    assert logger.level == logging.DEBUG
    assert any(isinstance(h, logging.FileHandler) for h in logger.handlers)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def test_live_creator_is_chosen_by_architecture() -> None:
    assert issubclass(live.x86LiveImageCreator, live.LiveImageCreatorBase)
    assert issubclass(live.ppc64LiveImageCreator, live.ppcLiveImageCreator)
    assert live.creator_for("x86_64") is live.creator_for("i386") is live.x86LiveImageCreator
    assert live.creator_for("ppc64") is live.ppc64LiveImageCreator
    assert live.creator_for("aarch64") is live.aarch64LiveImageCreator  # upstream's main branch has one
    assert issubclass(live.aarch64LiveImageCreator, live.LiveImageCreatorBase)
    assert live.creator_for("riscv64") is live.LiveImageCreatorBase
    assert live.LiveImageCreator is live.creator_for(live.arch)
    assert imgcreate.LiveImageCreator is live.LiveImageCreator
