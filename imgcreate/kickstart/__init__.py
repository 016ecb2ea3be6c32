"""Kickstart files: read once with pykickstart into typed frozen values, and upstream's helpers.

This package is the only place that touches pykickstart: :func:`read_kickstart` parses a file into a pykickstart
KickstartParser (as upstream's does) and :func:`read_config` reads it into a :class:`KickstartSettings`, which the
creators and the configuration writers (:mod:`imgcreate.configure`) use.  ``imgcreate.kickstart`` is upstream's
module name: every name it had is here (``values``: the typed values; ``parser``: parsing; ``reader``: reading;
``upstream``: upstream's ``get_*`` helpers for scripts written against its API; ``names``: image names and labels).

Upstream's ``*Config`` classes (``LanguageConfig(instroot).apply(ksh.lang)``, ...) are named here too.  They
apply a command with the build's own writers, which live in :mod:`imgcreate.configure` and read this package's
values: their module, :mod:`imgcreate.configure.upstream`, is imported when one of them is first asked for, so
the layers hold (configure above kickstart) and the face still has every upstream name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from imgcreate.kickstart.names import FSLABEL_MAX, FSLABEL_MAXLEN, build_name, check_fslabel, label_from_name
from imgcreate.kickstart.parser import KickstartCommand, KickstartHandler, read_kickstart
from imgcreate.kickstart.reader import as_handler, flattened, read_config
from imgcreate.kickstart.upstream import (
    RepoTuple,
    convert_method_to_repo,
    exclude_docs,
    exclude_weakdeps,
    get_default_kernel,
    get_environment,
    get_excluded,
    get_excluded_groups,
    get_groups,
    get_image_fslabel,
    get_image_fstype,
    get_image_size,
    get_kernel_args,
    get_modules,
    get_onerror_scripts,
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
from imgcreate.kickstart.values import (
    DEFAULT_FSTYPE,
    DEFAULT_IMAGE_SIZE_MB,
    DEFAULT_INTERPRETER,
    Auth,
    Bootloader,
    BootProto,
    Firewall,
    FirewallMode,
    Group,
    Keyboard,
    KickstartSettings,
    NetworkDevice,
    PackageSpec,
    Partition,
    RepoSpec,
    RootPartition,
    RootPassword,
    Script,
    ScriptKind,
    SELinuxMode,
    Services,
    SshKey,
    Timezone,
    User,
    XSettings,
)

if TYPE_CHECKING:
    from imgcreate.configure.upstream import (
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
    )

# upstream's *Config classes: defined with the writers they call (imgcreate.configure.upstream)
_CONFIG_CLASSES = (
    "AuthConfig",
    "AuthSelect",
    "FirewallConfig",
    "KeyboardConfig",
    "KickstartConfig",
    "LanguageConfig",
    "NetworkConfig",
    "RPMMacroConfig",
    "RootPasswordConfig",
    "SelinuxConfig",
    "ServicesConfig",
    "TimezoneConfig",
    "XConfig",
)


def __getattr__(name: str) -> Any:
    """Upstream's ``*Config`` classes, from the module that defines them (see the module's docstring)."""
    if name in _CONFIG_CLASSES:
        return getattr(importlib.import_module("imgcreate.configure.upstream"), name)
    raise AttributeError(f"module 'imgcreate.kickstart' has no attribute {name!r}")


__all__ = [
    "AuthConfig",
    "AuthSelect",
    "FirewallConfig",
    "KeyboardConfig",
    "KickstartConfig",
    "LanguageConfig",
    "NetworkConfig",
    "RPMMacroConfig",
    "RootPasswordConfig",
    "SelinuxConfig",
    "ServicesConfig",
    "TimezoneConfig",
    "XConfig",
    "Auth",
    "BootProto",
    "Bootloader",
    "DEFAULT_FSTYPE",
    "DEFAULT_IMAGE_SIZE_MB",
    "DEFAULT_INTERPRETER",
    "FSLABEL_MAX",
    "FSLABEL_MAXLEN",
    "Firewall",
    "FirewallMode",
    "Group",
    "Keyboard",
    "KickstartSettings",
    "KickstartCommand",
    "KickstartHandler",
    "NetworkDevice",
    "PackageSpec",
    "Partition",
    "RepoSpec",
    "RepoTuple",
    "RootPartition",
    "RootPassword",
    "SELinuxMode",
    "Script",
    "ScriptKind",
    "Services",
    "SshKey",
    "Timezone",
    "User",
    "XSettings",
    "as_handler",
    "build_name",
    "check_fslabel",
    "convert_method_to_repo",
    "exclude_docs",
    "exclude_weakdeps",
    "flattened",
    "get_default_kernel",
    "get_environment",
    "get_excluded",
    "get_excluded_groups",
    "get_groups",
    "get_image_fslabel",
    "get_image_fstype",
    "get_image_size",
    "get_kernel_args",
    "get_modules",
    "get_onerror_scripts",
    "get_packages",
    "get_partitions",
    "get_post_scripts",
    "get_pre_scripts",
    "get_repos",
    "get_timeout",
    "ignore_missing",
    "inst_langs",
    "label_from_name",
    "nocore",
    "read_config",
    "read_kickstart",
    "selinux_enabled",
]
