"""Upstream's ``imgcreate.fs``: its disk, mount, loop and device-mapper classes and its helper functions, with
upstream's arguments, return values and exceptions, as appliance-tools and other creators use them.

A face over the library's own pieces, not a second implementation: loop devices and mounts are
:mod:`imgcreate.host.fs`'s (registered for release on an ExitStack the moment they exist, busy mounts retried
and never silently leaked), squashfs is :mod:`imgcreate.pack.squashfs`'s, commands run through
:mod:`imgcreate.host.run`, writes into a chroot go through :mod:`imgcreate.storage.inroot`.  Every class's
``cleanup()`` releases what it made and may be called again.

Upstream's module had no ``__all__``: ``from imgcreate.fs import *`` gave its clients every name in it,
``imgcreate.util``'s and ``imgcreate.errors``' too, and the standard modules it imported, which clients use
without importing them (appliance-tools' ``partitionedfs`` uses ``errno`` and ``sys``, its ``appliance`` uses
``stat``).  ``__all__`` below lists the same, so such code keeps working.
"""

import errno
import logging
import os
import random
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import time

from imgcreate.errors import (
    CreatorError,
    CryptoLUKSError,
    KickstartError,
    MountError,
    ResizeError,
    SnapshotError,
    SquashfsError,
)
from imgcreate.fs.compat import LoopbackMount, OverlayFSMount, SparseExtLoopbackMount, SparseLoopbackMount
from imgcreate.fs.devmapper import (
    CryptoLUKSDevice,
    DeviceMapperLinear,
    DeviceMapperSnapshot,
    config_mirror_targets,
    mirror_fs,
)
from imgcreate.fs.disks import Disk, ExistingSparseLoopbackDisk, LoopbackDisk, RawDisk, SparseLoopbackDisk
from imgcreate.fs.liveimage import LiveImageMount
from imgcreate.fs.mounts import BindChrootMount, DiskMount, ExtDiskMount, Mount
from imgcreate.fs.tools import (
    checkfsblksz,
    chrootentitycheck,
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
    mksquashfs,
    resizefs,
    squashfs_compression_type,
    umount_fail_fmt,
    unavailable_space,
    unmount_all,
)
from imgcreate.util import call, rcall

__all__ = [
    # upstream's own names (imgcreate/fs.py of livecd-tools 31), in its order
    "umount_fail_fmt", "chrootentitycheck", "makedirs", "squashfs_compression_type", "mksquashfs", "checkfsblksz",
    "resizefs", "fsck", "get_dm_table", "disc_free_info", "get_file_info", "findmnt", "lsblk", "losetup",
    "get_blockdev", "get_blockdev_size", "unmount_all", "find_overlay", "unavailable_space", "dm_nodes",
    "config_mirror_targets", "mirror_fs", "LoopbackMount", "SparseLoopbackMount", "SparseExtLoopbackMount",
    "Disk", "RawDisk", "LoopbackDisk", "SparseLoopbackDisk", "ExistingSparseLoopbackDisk", "Mount", "DiskMount",
    "OverlayFSMount", "BindChrootMount", "ExtDiskMount", "DeviceMapperLinear", "DeviceMapperSnapshot",
    "CryptoLUKSDevice", "LiveImageMount",
    # from upstream's star imports of imgcreate.util and imgcreate.errors
    "call", "rcall", "CreatorError", "CryptoLUKSError", "KickstartError", "MountError", "ResizeError",
    "SnapshotError", "SquashfsError",
    # the standard modules upstream's module imported, which its clients use through the star import
    "errno", "logging", "os", "random", "resource", "shutil", "stat", "subprocess", "sys", "tempfile", "time",
]

UPSTREAM_NAMES = tuple(__all__[:39])
