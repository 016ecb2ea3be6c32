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
from imgcreate.errors import (
    CommandError,
    CreatorError,
    ImageError,
    Interrupted,
    KickstartError,
    MissingToolError,
    MountError,
    PackageError,
    RepoError,
    ScriptError,
)
from imgcreate.kickstart import build_name, read_kickstart

__all__ = [
    "CommandError",
    "CreatorError",
    "ImageCreator",
    "ImageError",
    "Interrupted",
    "KickstartError",
    "LoopImageCreator",
    "MissingToolError",
    "MountError",
    "PackageError",
    "RepoError",
    "ScriptError",
    "build_name",
    "read_kickstart",
]
