"""A live stick's persistent /home (``LiveOS/home.img``) and swap file (``LiveOS/swap.img``), as upstream's
livecd-iso-to-disk makes them.

The home is encrypted by default (LUKS, ``--unencrypted-home`` for a plain ext4), as upstream.  Upstream opens
the new LUKS container with device-mapper and makes the filesystem in it; this host may have no device-mapper
(this CI's kernel has none), so the ext4 is made in the file first and then encrypted in place by
``cryptsetup reencrypt --encrypt`` (the kernel's crypto API, no device-mapper), which moves it behind a LUKS2
header: the same container, made without opening it.  The passphrase comes from the caller
(:attr:`IsoToDiskOptions.home_passphrase`): a terminal is asked twice, a pipe gives it on its first line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from imgcreate.errors import CreatorError
from imgcreate.host import fs
from imgcreate.host.run import find_tool, run
from imgcreate.storage import inroot, rootfs
from imgcreate.toolbox import stickoverlay

log = logging.getLogger("imgcreate")

HOME = "home.img"
SWAP = "swap.img"
LUKS_HEADER_MIB = 16  # cryptsetup reencrypt --encrypt --reduce-device-size: room for the LUKS2 header
MIN_CRYPTED_HOME_MIB = LUKS_HEADER_MIB + 16


def check(home_size_mb: int, crypted: bool, copy_home: bool, iso_has_home: bool, swap_size_mb: int) -> None:
    """Upstream's refusals about the home (before anything is written)."""
    if swap_size_mb < 0:
        raise CreatorError("--swap-size-mb must be 0 or more.")
    if copy_home and not iso_has_home:
        raise CreatorError("There is no persistent home (LiveOS/home.img) on the source to copy (--copy-home). "
                           "Nothing was written.")
    if iso_has_home and home_size_mb > 0:
        raise CreatorError("You asked for a new home (--home-size-mb) AND to copy the source's LiveOS/home.img "
                           "(which upstream copies from an ISO that carries one): only one of these may be given. "
                           "Nothing was written.")
    if crypted and 0 < home_size_mb < MIN_CRYPTED_HOME_MIB:
        raise CreatorError(f"An encrypted home needs at least {MIN_CRYPTED_HOME_MIB} MiB ({LUKS_HEADER_MIB} MiB of "
                           "it hold the LUKS header): give a bigger --home-size-mb, or --unencrypted-home.")


def passphrase_of(passphrase: Callable[[], bytes] | None) -> bytes:
    """The encrypted home's passphrase from the caller's *passphrase* (asked for now); refused when there is
    none.  :func:`imgcreate.toolbox.stickpersist.check` asks before anything is written."""
    key = passphrase() if passphrase is not None else b""
    if not key:
        raise CreatorError("The passphrase for the encrypted home is empty or missing: give one (on standard input "
                           "when it is not a terminal), or --unencrypted-home. Nothing was written.")
    return key


def make_home(mnt: Path, livedir: str, size_mib: int, crypted: bool,
              passphrase: Callable[[], bytes] | None) -> Path:
    """A new, empty persistent home of *size_mib* at /*livedir*/home.img: ext4, in LUKS when *crypted*."""
    path = f"/{livedir}/{HOME}"
    key = passphrase_of(passphrase) if crypted else b""
    cryptsetup = find_tool("cryptsetup") if crypted else ""
    home = stickoverlay.new_file(mnt, path)
    stickoverlay.allocate(home, size_mib)
    if not crypted:
        fs.mkfs_ext(str(home), "ext4", "home")
        log.info("Persistent home: %s (%d MiB, ext4, not encrypted)", path, size_mib)
        return home
    fs.mkfs_ext(str(home), "ext4", "home", size=(size_mib - LUKS_HEADER_MIB) * 1024 * 1024)
    log.info("Encrypting the persistent home %s (LUKS2)", path)
    run([cryptsetup, "reencrypt", "--encrypt", "--type", "luks2", "--resilience", "none", "--batch-mode",
         "--reduce-device-size", f"{LUKS_HEADER_MIB}M", "--key-file", "-", str(rootfs.host_path(mnt, path))],
        input=key, what="Encrypting the persistent home (cryptsetup reencrypt --encrypt)")
    log.info("Persistent home: %s (%d MiB, ext4 in LUKS2)", path, size_mib)
    return rootfs.host_path(mnt, path)


def make_swap(mnt: Path, livedir: str, size_mib: int) -> None:
    """A swap file of *size_mib* at /*livedir*/swap.img (zeros, then mkswap), as upstream."""
    path = f"/{livedir}/{SWAP}"
    swap = stickoverlay.new_file(mnt, path)
    stickoverlay.allocate(swap, size_mib)
    run([find_tool("mkswap"), "-f", str(swap)], what="Making the swap file")
    log.info("Swap file: %s (%d MiB)", path, size_mib)


def has_home(mnt: Path, livedir: str) -> bool:
    return inroot.is_file(mnt, f"/{livedir}/{HOME}")

