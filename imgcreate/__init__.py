"""imgcreate: build live ISOs and filesystem images from kickstart files.

The supported API (see the top-level API document)::

    import imgcreate
    ks = imgcreate.read_kickstart("my.ks")
    with imgcreate.LoopImageCreator(ks, "my-image", fslabel="MYIMG") as creator:
        creator.mount()
        creator.install()
        creator.configure()
        creator.unmount()
        creator.package("out/")
"""

from imgcreate.creator import ImageCreator, LoopImageCreator
from imgcreate.debug import setup_logging
from imgcreate.errors import (
    CommandError,
    CreatorError,
    CryptoLUKSError,
    ImageError,
    Interrupted,
    KickstartError,
    MissingToolError,
    MountError,
    PackageError,
    RepoError,
    ResizeError,
    ScriptError,
    SnapshotError,
    SquashfsError,
)
from imgcreate.kickstart import FSLABEL_MAXLEN, build_name, read_kickstart
from imgcreate.live import LiveImageCreator
from imgcreate.version import __version__

# Upstream's names for the live creator: its x86 class, which LiveImageCreator aliases there, and the base class.
x86LiveImageCreator = LiveImageCreator  # noqa: N816 (upstream's name)
LiveImageCreatorBase = LiveImageCreator

__all__ = [
    "__version__",
    "FSLABEL_MAXLEN",
    "CommandError",
    "CreatorError",
    "CryptoLUKSError",
    "ImageCreator",
    "ImageError",
    "Interrupted",
    "KickstartError",
    "LiveImageCreator",
    "LoopImageCreator",
    "MissingToolError",
    "MountError",
    "PackageError",
    "RepoError",
    "ResizeError",
    "ScriptError",
    "SnapshotError",
    "SquashfsError",
    "LiveImageCreatorBase",
    "build_name",
    "read_kickstart",
    "setup_logging",
    "x86LiveImageCreator",
]
