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
    "build_name",
    "read_kickstart",
    "setup_logging",
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
# ---- upstream's imgcreate.live names: the per-architecture creators (LiveImageCreator is the machine's) ----------
from imgcreate.live import LiveImageCreatorBase, ppc64LiveImageCreator, ppcLiveImageCreator, x86LiveImageCreator  # noqa: E402,I001

__all__ += ["LiveImageCreatorBase", "ppc64LiveImageCreator", "ppcLiveImageCreator", "x86LiveImageCreator"]

# ---- upstream's imgcreate.dnfinst names ------------------------------------------------------------------------
from imgcreate.dnfinst import DnfLiveCD  # noqa: E402

__all__ += ["DnfLiveCD"]

# ---- upstream's imgcreate.kickstart names (upstream star-imports the module) -----------------------------------
from imgcreate.kickstart import (  # noqa: E402
    AuthConfig,
    AuthSelect,
    FirewallConfig,
    KeyboardConfig,
    KickstartConfig,
    LanguageConfig,
    NetworkConfig,
    RootPasswordConfig,
    RPMMacroConfig,
    SelinuxConfig,
    ServicesConfig,
    TimezoneConfig,
    XConfig,
    convert_method_to_repo,
    exclude_docs,
    exclude_weakdeps,
    get_default_kernel,
    get_environment,
    get_excluded,
    get_excluded_groups,
    get_groups,
    get_image_fstype,
    get_image_size,
    get_kernel_args,
    get_modules,
    get_packages,
    get_partitions,
    get_post_scripts,
    get_pre_scripts,
    get_repos,
    get_timeout,
    ignore_missing,
    inst_langs,
    nocore,
    selinux_enabled,
)

__all__ += [
    "AuthConfig", "AuthSelect", "FirewallConfig", "KeyboardConfig", "KickstartConfig", "LanguageConfig",
    "NetworkConfig", "RootPasswordConfig", "RPMMacroConfig", "SelinuxConfig", "ServicesConfig", "TimezoneConfig",
    "XConfig", "convert_method_to_repo", "exclude_docs", "exclude_weakdeps", "get_default_kernel",
    "get_environment", "get_excluded", "get_excluded_groups", "get_groups", "get_image_fstype", "get_image_size",
    "get_kernel_args", "get_modules", "get_packages", "get_partitions", "get_post_scripts", "get_pre_scripts",
    "get_repos", "get_timeout", "ignore_missing", "inst_langs", "nocore", "selinux_enabled",
]

# ---- upstream's imgcreate.debug names --------------------------------------------------------------------------
from imgcreate.debug import LoggingConfig, handle_logfile, handle_logging, handle_quiet  # noqa: E402

__all__ += ["LoggingConfig", "handle_logfile", "handle_logging", "handle_quiet"]
