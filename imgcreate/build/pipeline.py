"""The build, read top to bottom: the one sequence livecd-creator, image-creator, ``ImageCreator.create()`` and
the benchmark all run.

Each step is a public method of the creator (the API upstream documents), so a script can also call them one
by one; this function only fixes their order and what happens when one fails.  What a kind of image does in a
step is the creator's business (its hooks), not the pipeline's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imgcreate.creator import ImageCreator


@dataclass(frozen=True)
class BuildOptions:
    """The arguments of the build's calls (upstream's ``mount(base_on, cachedir)``, ``install(repo_urls)``,
    ``package(destdir)``), not settings of the image: where the result goes and what it starts from may change
    from one run of the same creator to the next, as with upstream's API.  Everything that decides what the image
    is (and the boot test) is the creator's :class:`~imgcreate.config.model.BuildConfig`, taken at ``mount()``.
    (mkosi draws the same line between its ``Args`` and its ``Config``.)"""

    destdir: Path = Path(".")  # where the finished files go (--output)
    base_on: str | None = None  # start from this earlier image (--base-on)
    cachedir: Path | None = None  # persistent package cache (--cache)
    repo_urls: Mapping[str, str] = field(default_factory=dict)  # extra repositories, name -> URL
    repo_paths: tuple[Path, ...] = ()  # .repo files or directories replacing the kickstart's repositories
    before_unmount: Callable[[ImageCreator], None] | None = None  # e.g. --shell: open a shell in the image
    install: bool = True  # install the kickstart's packages (not when a base image is edited in --shell)


def build_image(creator: ImageCreator, options: BuildOptions) -> list[Path]:
    """Build the image *creator* describes and deliver it to ``options.destdir``; return the delivered files.

    The steps, in order (each a public method of the creator, upstream's API):

    * ``mount``: the build directory, the root's storage opened (a directory, an ext image, a partitioned disk);
    * ``install``: the kickstart's packages into the root, or the tree ``--incremental`` kept (``%pre`` first);
    * ``configure``: the kickstart's settings, the boot configuration, ``%post`` (then ``--shell``);
    * ``unmount``: a reproducible root normalised, everything in the root stopped, its storage closed;
    * ``package``: the filesystem finished, packed (squashfs, EROFS), mastered (ISO) or converted (disk),
      checksums and manifest written, all delivered to the output folder at once;
    * the boot test (``--boot-test``) of what was delivered, once the build's resources are released.

    On any failure (an error, Ctrl-C, a signal) the kickstart's %onerror scripts run and the error propagates;
    releasing mounts and the build directory is the creator's ``cleanup()`` (use it as a context manager).
    """
    creator.check_host_tools()
    # The folders and files the build makes itself (mount points in the root such as /dev and /proc, the ISO
    # tree, the squashfs staging) get the modes a distribution's own have, whatever the caller's umask: with 077
    # they would be 0700 in the image (and a reproducible build would differ with the caller's umask).  Files
    # that must stay private are written with explicit modes.
    umask = os.umask(0o022)
    try:
        creator.mount(base_on=options.base_on, cachedir=options.cachedir)
        if options.install:
            creator.install(repo_urls=dict(options.repo_urls), repo=options.repo_paths or None)
        creator.configure()
        if options.before_unmount is not None:
            options.before_unmount(creator)
        creator.unmount()
        delivered = creator.package(options.destdir)
        boot_test = creator.build_config.boot_test  # the snapshot mount() took (cleanup() drops it)
    except BaseException:
        creator.run_onerror_scripts()
        raise
    finally:
        os.umask(umask)
    if boot_test is not None:
        creator.cleanup()  # the image is delivered: its build directory need not wait for a long boot
        boot_test.run(creator.artifacts, creator.name)  # a failure keeps the image and the serial log
    return delivered
