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

# upstream's imgcreate.fs names ---------------------------------------------------------------------------------
# Upstream's __init__ star-imports imgcreate.fs, so every name of it is imgcreate's too (imgcreate.LoopbackMount,
# imgcreate.makedirs, and call/rcall, which its fs star-imports from util).  Like upstream's, they stay out of
# __all__.  tests/unit/test_upstream_fs.py checks this block against tests/upstream_api/imgcreate.fs.txt.
from imgcreate.fs import (  # noqa: E402, F401 (re-exported, as upstream's star import did)
    BindChrootMount,
    CryptoLUKSDevice,
    DeviceMapperLinear,
    DeviceMapperSnapshot,
    Disk,
    DiskMount,
    ExistingSparseLoopbackDisk,
    ExtDiskMount,
    LiveImageMount,
    LoopbackDisk,
    LoopbackMount,
    Mount,
    OverlayFSMount,
    RawDisk,
    SparseExtLoopbackMount,
    SparseLoopbackDisk,
    SparseLoopbackMount,
    call,
    checkfsblksz,
    chrootentitycheck,
    config_mirror_targets,
    disc_free_info,
    dm_nodes,
    find_overlay,
    findmnt,
    fsck,
    get_blockdev,
    get_blockdev_size,
    get_dm_table,
    get_file_info,
    losetup,
    lsblk,
    makedirs,
    mirror_fs,
    mksquashfs,
    rcall,
    resizefs,
    squashfs_compression_type,
    umount_fail_fmt,
    unavailable_space,
    unmount_all,
)
# end of upstream's imgcreate.fs names --------------------------------------------------------------------------
