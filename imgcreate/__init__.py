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

__version__ = "0.1.0"

from imgcreate.creator import ImageCreator, LoopImageCreator  # noqa: E402 (after __version__, which cli reads)
from imgcreate.errors import (  # noqa: E402
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
from imgcreate.kickstart import FSLABEL_MAXLEN, build_name, read_kickstart  # noqa: E402
from imgcreate.live import LiveImageCreator  # noqa: E402

__all__ = [
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
    "build_name",
    "read_kickstart",
]
