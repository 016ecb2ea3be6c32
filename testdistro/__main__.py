"""python -m testdistro [--cache DIR] [--filler N] [--print-path]: build (or find) the repository."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from testdistro import builder


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m testdistro", description=__doc__)
    ap.add_argument("--cache", type=Path, default=None,
                    help=f"cache directory (default: ${builder.CACHE_ENV} or {builder.DEFAULT_CACHE})")
    ap.add_argument("--flavour", choices=builder.userland.FLAVOURS, default="plain",
                    help="userland: the real-userland repository (dracut runs in the image)")
    ap.add_argument("--filler", type=int, default=0, metavar="N", help="add N benchmark filler packages")
    ap.add_argument("--print-path", action="store_true",
                    help="print only the repository path on stdout (progress goes to stderr)")
    ap.add_argument("--kernel-version", action="store_true", help="print the kernel version string and exit")
    ap.add_argument("--prune", action="store_true",
                    help="after building, delete other cached repositories and kernel trees")
    args = ap.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr if args.print_path else sys.stdout, flush=True)

    if args.kernel_version:
        print(builder.kernel_version(args.cache))
        return 0
    try:
        repo = builder.build_repo(args.cache, filler=args.filler, log=log, flavour=args.flavour)
        if args.prune:
            builder.prune(args.cache, keep=repo, log=log)
    except (RuntimeError, OSError) as e:
        print(f"testdistro: error: {e}", file=sys.stderr)
        return 1
    print(repo, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
