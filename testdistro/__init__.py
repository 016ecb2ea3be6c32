"""testdistro: a small Fedora-shaped RPM repository built from the host's own files.

No Fedora mirror is needed: busybox, syslinux, GRUB and Debian's kernel are repackaged as RPMs with Fedora's
paths, plus a few fixture packages for kickstart tests. See README.md in this directory for the package list.

    >>> import testdistro
    >>> repo = testdistro.build_repo()          # cached by content; seconds when cold, ~0.3 s when cached
    >>> f"repo --name=testdistro --baseurl=file://{repo}"
"""

from testdistro.builder import (
    MARKER,
    REPO_ARCH,
    build_repo,
    default_cache_dir,
    kernel_version,
    prune,
    repo_info,
)

__all__ = ["MARKER", "REPO_ARCH", "build_repo", "default_cache_dir", "kernel_version", "prune", "repo_info"]
