"""Run image-creator's own main() with dnf's plugin loader replaced by one that records being called.

    python -m tests.pluginprobe MARKER [IMAGE-CREATOR ARGS...]

MARKER is written if the build calls ``dnf.Base.init_plugins``: tests/integration/test_upstream_options.py
checks that ``-p/--plugins`` loads no dnf plugin (a host plugin would act on the build and the host).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import dnf.base

from imgcreate.cli import creators


def main(argv: list[str]) -> int:
    marker, *args = argv

    def probe(self: Any, *_args: Any, **_kwargs: Any) -> None:
        Path(marker).write_text("dnf plugins were loaded\n")

    dnf.base.Base.init_plugins = probe  # type: ignore[method-assign]
    return creators.main(args, live=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
