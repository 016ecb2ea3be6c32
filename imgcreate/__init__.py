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

Every name upstream's ``imgcreate`` has is here (upstream's ``__init__`` star-imports its creator, live, kickstart,
fs, dnfinst and debug modules; the fs names stay out of ``__all__``, as there), but the modules behind them are
imported when a name is first used (PEP 562): every command starts by importing this package, and importing
the live creator, the upstream fs layer and the rest for a disk build cost a tenth of a second of every run
(issue 28).  ``from imgcreate import X``, ``imgcreate.X``, ``from imgcreate import *`` and ``imgcreate.<module>``
behave as before; type checkers read the imports under TYPE_CHECKING.  tests/unit/test_package_names.py checks
that the table and those imports agree.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

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
from imgcreate.version import __version__

# where each name lives, imported on first use
_LAZY: dict[str, tuple[str, ...]] = {
    "imgcreate.creator": (
        "ImageCreator", "LoopImageCreator",
    ),
    "imgcreate.live": (
        "LiveImageCreator", "LiveImageCreatorBase", "ppc64LiveImageCreator", "ppcLiveImageCreator",
        "x86LiveImageCreator",
    ),
    "imgcreate.kickstart": (
        "FSLABEL_MAXLEN", "build_name", "read_kickstart", "AuthConfig", "AuthSelect", "FirewallConfig",
        "KeyboardConfig", "KickstartConfig", "LanguageConfig", "NetworkConfig", "RootPasswordConfig",
        "RPMMacroConfig", "SelinuxConfig", "ServicesConfig", "TimezoneConfig", "XConfig",
        "convert_method_to_repo", "exclude_docs", "exclude_weakdeps", "get_default_kernel", "get_environment",
        "get_excluded", "get_excluded_groups", "get_groups", "get_image_fstype", "get_image_size",
        "get_kernel_args", "get_modules", "get_packages", "get_partitions", "get_post_scripts",
        "get_pre_scripts", "get_repos", "get_timeout", "ignore_missing", "inst_langs", "nocore",
        "selinux_enabled",
    ),
    "imgcreate.dnfinst": (
        "DnfLiveCD",
    ),
    "imgcreate.debug": (
        "setup_logging", "LoggingConfig", "handle_logfile", "handle_logging", "handle_quiet",
    ),
    "imgcreate.fs": (
        "BindChrootMount", "CryptoLUKSDevice", "DeviceMapperLinear", "DeviceMapperSnapshot", "Disk",
        "DiskMount", "ExistingSparseLoopbackDisk", "ExtDiskMount", "LiveImageMount", "LoopbackDisk",
        "LoopbackMount", "Mount", "OverlayFSMount", "RawDisk", "SparseExtLoopbackMount", "SparseLoopbackDisk",
        "SparseLoopbackMount", "call", "checkfsblksz", "chrootentitycheck", "config_mirror_targets",
        "disc_free_info", "dm_nodes", "find_overlay", "findmnt", "fsck", "get_blockdev", "get_blockdev_size",
        "get_dm_table", "get_file_info", "losetup", "lsblk", "makedirs", "mirror_fs", "mksquashfs", "rcall",
        "resizefs", "squashfs_compression_type", "umount_fail_fmt", "unavailable_space", "unmount_all",
    ),
}
_HOME = {name: module for module, names in _LAZY.items() for name in names}

__all__ = [
    "__version__", "FSLABEL_MAXLEN", "CommandError", "CreatorError", "CryptoLUKSError", "ImageCreator",
    "ImageError", "Interrupted", "KickstartError", "LiveImageCreator", "LoopImageCreator", "MissingToolError",
    "MountError", "PackageError", "RepoError", "ResizeError", "ScriptError", "SnapshotError", "SquashfsError",
    "build_name", "read_kickstart", "setup_logging", "LiveImageCreatorBase", "ppc64LiveImageCreator",
    "ppcLiveImageCreator", "x86LiveImageCreator", "DnfLiveCD", "AuthConfig", "AuthSelect", "FirewallConfig",
    "KeyboardConfig", "KickstartConfig", "LanguageConfig", "NetworkConfig", "RootPasswordConfig",
    "RPMMacroConfig", "SelinuxConfig", "ServicesConfig", "TimezoneConfig", "XConfig", "convert_method_to_repo",
    "exclude_docs", "exclude_weakdeps", "get_default_kernel", "get_environment", "get_excluded",
    "get_excluded_groups", "get_groups", "get_image_fstype", "get_image_size", "get_kernel_args", "get_modules",
    "get_packages", "get_partitions", "get_post_scripts", "get_pre_scripts", "get_repos", "get_timeout",
    "ignore_missing", "inst_langs", "nocore", "selinux_enabled", "LoggingConfig", "handle_logfile",
    "handle_logging", "handle_quiet",
]

if TYPE_CHECKING:
    from imgcreate.creator import (
        ImageCreator,
        LoopImageCreator,
    )
    from imgcreate.debug import (
        LoggingConfig,
        handle_logfile,
        handle_logging,
        handle_quiet,
        setup_logging,
    )
    from imgcreate.dnfinst import (
        DnfLiveCD,
    )
    from imgcreate.fs import (  # noqa: F401 (upstream's star import gave them; not in __all__)
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
    from imgcreate.kickstart import (
        FSLABEL_MAXLEN,
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
        build_name,
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
        read_kickstart,
        selinux_enabled,
    )
    from imgcreate.live import (
        LiveImageCreator,
        LiveImageCreatorBase,
        ppc64LiveImageCreator,
        ppcLiveImageCreator,
        x86LiveImageCreator,
    )


def __getattr__(name: str) -> Any:
    """A name of :data:`_LAZY` from its module, or a submodule (``imgcreate.fs`` after ``import imgcreate``, as
    when this package imported them all)."""
    module = _HOME.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
