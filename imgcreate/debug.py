"""Logging set up as upstream livecd-tools' ``setup_logging``: one root logger, one stderr handler, four options.

Levels as upstream: the default shows warnings, ``-v`` adds INFO, ``-d`` DEBUG (an option only ever lowers the
level, so ``-d -v`` is DEBUG), ``-q`` removes the console output, ``--logfile FILE`` appends what the chosen level
lets through to FILE.  One addition: a PROGRESS level between INFO and WARNING for the few lines that show a
long build moving (a phase starting, the package count, each package installed, script output, the file
written).  Upstream shows the same at its default level through the programs it runs (rpm, mksquashfs and
%post write to the terminal directly), so the default output is theirs, only in the log.
"""

from __future__ import annotations

import argparse
import logging
import optparse
import sys
from typing import Any

PROGRESS = 25
logging.addLevelName(PROGRESS, "PROGRESS")

DEFAULT_LEVEL = PROGRESS
_FILE_FORMAT = "%(asctime)s %(levelname)s %(message)s"
_LOGGING_HELP = "These options control the output of logging information during image creation."


class _ConsoleFilter(logging.Filter):
    """Keeps off the console what the command line prints itself (its final error paragraph)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "console", True) is not False


class LogSettings:
    """The root logger's level, its stderr handler and a log file: what the four options change."""

    def __init__(self, stream: Any = None) -> None:
        self.logger = logging.getLogger()
        self.logger.setLevel(DEFAULT_LEVEL)
        for handler in [h for h in self.logger.handlers if getattr(h, "_imgcreate", False)]:
            self.logger.removeHandler(handler)
            handler.close()
        console = logging.StreamHandler(stream or sys.stderr)
        console.addFilter(_ConsoleFilter())
        self._own(console)
        self.logger.addHandler(console)
        self.console: logging.Handler | None = console
        self.logfile_handler: logging.Handler | None = None
        logging.getLogger("imgcreate").setLevel(logging.NOTSET)
        # dnf logs what our own progress lines say again, through its own handlers: only a log file gets it.
        dnf_log = logging.getLogger("dnf")
        dnf_log.handlers.clear()
        dnf_log.propagate = False
        dnf_log.addHandler(logging.NullHandler())

    @staticmethod
    def _own(handler: logging.Handler) -> None:
        handler._imgcreate = True  # type: ignore[attr-defined]  # ours to remove when set up again

    def lower(self, level: int) -> None:
        """-v and -d: only ever lower the level, as upstream."""
        if level < self.logger.level:
            self.logger.setLevel(level)

    @classmethod
    def adopt(cls, logger: logging.Logger, console: logging.Handler | None = None) -> LogSettings:
        """Settings over a logger set up elsewhere (upstream's helpers are given a logger, and for -q the
        console handler to remove): nothing changes until an option is applied."""
        settings = cls.__new__(cls)
        settings.logger = logger
        settings.console = console
        settings.logfile_handler = None
        return settings

    def quiet(self) -> None:
        """-q: no console output from the log (the command line still prints its one-paragraph error)."""
        if self.console is not None:
            self.logger.removeHandler(self.console)

    def add_logfile(self, path: str) -> None:
        """--logfile: append to *path*; it records what the root level lets through, as upstream."""
        handler = logging.FileHandler(path, "a")
        handler.setFormatter(logging.Formatter(_FILE_FORMAT))
        self._own(handler)
        self.logger.addHandler(handler)
        dnf_log = logging.getLogger("dnf")
        dnf_log.setLevel(logging.NOTSET)
        dnf_log.addHandler(handler)
        self.logfile_handler = handler


class LoggingConfig(argparse.Action):
    """Upstream's argparse action: the option its ``dest`` names (``debug``, ``verbose``, ``quiet``, ``logfile``)
    changes the logging as it is parsed.

    *logger* is upstream's: the logger to change.  The LogSettings :func:`setup_logging` made may be given
    instead (so ``-q`` removes the console handler it added); without either, the option only records its value.
    """

    def __init__(self, option_strings: list[str], dest: str, logger: logging.Logger | LogSettings | None = None,
                 **kwargs: Any) -> None:
        self.settings = _settings_of(logger)
        if dest != "logfile":
            kwargs["nargs"] = 0
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values if self.dest == "logfile" else True)
        if self.settings is not None:
            try:
                apply_option(self.settings, self.dest, values)
            except OSError as exc:
                parser.error(f"cannot write the log file '{values}': {exc.strerror}")


def _settings_of(logger: logging.Logger | LogSettings | None, console: logging.Handler | None = None,
                 ) -> LogSettings | None:
    if logger is None or isinstance(logger, LogSettings):
        return logger
    return LogSettings.adopt(logger, console)


# Upstream's optparse callbacks (``callback_args``: the logger, and the level or the console handler).  They
# change the logger through LogSettings, as the argparse options do; setup_logging() passes its LogSettings.


def handle_logging(option: optparse.Option, opt: str, val: Any, parser: optparse.OptionParser,
                   logger: logging.Logger | LogSettings, level: int) -> None:
    """-d and -v: lower *logger*'s level to *level* (never raise it)."""
    settings = _settings_of(logger)
    assert settings is not None
    settings.lower(level)


def handle_logfile(option: optparse.Option, opt: str, val: Any, parser: optparse.OptionParser,
                   logger: logging.Logger | LogSettings) -> None:
    """--logfile FILE: append the log to FILE; a file that cannot be opened is a bad option value."""
    settings = _settings_of(logger)
    assert settings is not None
    try:
        settings.add_logfile(str(val))
    except OSError as exc:
        raise optparse.OptionValueError(f"cannot write the log file '{val}': {exc.strerror}") from exc


def handle_quiet(option: optparse.Option, opt: str, val: Any, parser: optparse.OptionParser,
                 logger: logging.Logger | LogSettings, stream: logging.Handler | None = None) -> None:
    """-q: remove the console handler (*stream*, or the one setup_logging added) from *logger*."""
    settings = _settings_of(logger, stream)
    assert settings is not None
    settings.quiet()


def apply_option(settings: LogSettings, what: str, value: Any = None) -> None:
    """Apply one of the four options to *settings* (both parser kinds end here)."""
    if what == "debug":
        settings.lower(logging.DEBUG)
    elif what == "verbose":
        settings.lower(logging.INFO)
    elif what == "quiet":
        settings.quiet()
    elif what == "logfile":
        settings.add_logfile(str(value))


def add_logging_options(parser: argparse.ArgumentParser, settings: LogSettings | None = None) -> None:
    """The "Debugging options" group: -d, -v, -q, --logfile.  Without *settings* they only record their values."""
    group = parser.add_argument_group("Debugging options", _LOGGING_HELP)
    group.add_argument("-d", "--debug", action=LoggingConfig, logger=settings, default=False,
                       help="Output debugging information (every command run)")
    group.add_argument("-v", "--verbose", action=LoggingConfig, logger=settings, default=False,
                       help="Output verbose progress information")
    group.add_argument("-q", "--quiet", action=LoggingConfig, logger=settings, default=False,
                       help="No log output on the terminal (an error still prints its message)")
    group.add_argument("--logfile", action=LoggingConfig, logger=settings, metavar="FILE",
                       default=None, help="Append the log, at the level chosen, to FILE")


def _add_optparse_options(parser: optparse.OptionParser, settings: LogSettings) -> None:
    """Upstream's optparse group, with upstream's callbacks."""
    group = optparse.OptionGroup(parser, "Debugging options", _LOGGING_HELP)
    group.add_option("-d", "--debug", action="callback", callback=handle_logging,
                     callback_args=(settings, logging.DEBUG), help="Output debugging information")
    group.add_option("-v", "--verbose", action="callback", callback=handle_logging,
                     callback_args=(settings, logging.INFO), help="Output verbose progress information")
    group.add_option("-q", "--quiet", action="callback", callback=handle_quiet,
                     callback_args=(settings, settings.console), help="Suppress stdout")
    group.add_option("--logfile", type="string", action="callback", callback=handle_logfile,
                     callback_args=(settings,), help="Save debug information to FILE", metavar="FILE")
    parser.add_option_group(group)


def setup_logging(parser: argparse.ArgumentParser | optparse.OptionParser | None = None) -> LogSettings:
    """Upstream's entry point: log WARNING and up (plus PROGRESS) to stderr; with an argparse or optparse
    *parser*, add the "Debugging options" group, whose options change the logging while they are parsed."""
    settings = LogSettings()
    if isinstance(parser, optparse.OptionParser):
        _add_optparse_options(parser, settings)
    elif parser is not None:
        add_logging_options(parser, settings)
    return settings
