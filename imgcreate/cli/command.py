"""A tool's run from its command line, the same for every tool but the creators (whose ``main`` reads
``--image-type`` first and builds through :func:`imgcreate.cli.creators.run_build`): the command line read
(sbin on PATH, options parsed, logging set up from them), then the action run as root with the tools' error
handling (one paragraph, exit 1, 2 or 130; see :func:`imgcreate.cli.creators.guarded`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from imgcreate.cli import creators


def read_command_line(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """*argv* (default: this process's arguments) parsed by *parser*, with logging set up as they say."""
    creators.path_with_sbin()
    opts = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    creators.setup_logging(opts, parser)
    return opts


def run_tool(prog: str, action: Callable[[], int]) -> int:
    """Run *action* as root with the tools' error handling (:func:`imgcreate.cli.creators.guarded`)."""

    def checked() -> int:
        creators.check_host(prog)
        return action()

    return creators.guarded(prog, checked)
