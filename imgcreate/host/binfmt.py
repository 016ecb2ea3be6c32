"""Running another architecture's programs in the install root: QEMU's user-mode emulator, through binfmt_misc.

Why: a build for another architecture (``--forcearch``) runs the image's own programs chrooted (rpm scriptlets,
%post, dracut, GRUB's tools).  The kernel runs them through an emulator when binfmt_misc has an entry for their
ELF header.  The entry is registered with the ``F`` flag, so the kernel opens the emulator at registration time
and the chroot needs no copy of it (nothing of the host lands in the image).

When the host already has an enabled entry with ``F`` for the architecture (Debian's qemu-user-static with
systemd-binfmt, Fedora's qemu-user-static-* packages), it is used as it is.  Otherwise one is registered for the
build under a name of its own (``imgcreate-<arch>-<pid>``: two parallel builds never remove each other's) and
removed when the build's stack unwinds; binfmt_misc is mounted on a private folder for that and unmounted again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from imgcreate.errors import CreatorError, MissingToolError
from imgcreate.host import fs

log = logging.getLogger("imgcreate")

SYSTEM_MOUNT = Path("/proc/sys/fs/binfmt_misc")
PACKAGES = "'dnf install qemu-user-static' (Fedora/EL) or 'apt-get install qemu-user-static' (Debian/Ubuntu)"


@dataclass(frozen=True)
class ElfMagic:
    """binfmt_misc's match for one architecture's ELF executables: the header's first 20 bytes under a mask."""

    magic: bytes
    mask: bytes

    def escaped(self, data: bytes) -> str:
        return "".join(f"\\x{b:02x}" for b in data)


# QEMU's own table (scripts/qemu-binfmt-conf.sh), for the architectures the creators build.
MAGIC = {
    "aarch64": ElfMagic(
        b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00",
        b"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"),
    "x86_64": ElfMagic(
        b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00",
        b"\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"),
}
OUR_PREFIX = "imgcreate-"


def supported() -> tuple[str, ...]:
    return tuple(sorted(MAGIC))


def emulator(arch: str) -> Path:
    """The static user-mode emulator for *arch* (static: it runs in a chroot with none of the host's libraries),
    or a :class:`MissingToolError` naming the package."""
    name = f"qemu-{arch}-static"
    for candidate in (shutil.which(name), f"/usr/bin/{name}", f"/usr/libexec/qemu-binfmt/{arch}-binfmt-P"):
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    # The message: "The command 'qemu-aarch64-static' is needed ... Install it with: ..." (as every missing tool).
    raise MissingToolError(name, PACKAGES)


def tools(arch: str) -> list[str]:
    """The emulator a build for *arch* needs on this machine (checked before the build starts; none for the
    machine's own architecture)."""
    return [] if arch == host_arch() else [f"qemu-{arch}-static"]


def _entries(mount: Path) -> dict[str, dict[str, str]]:
    """Every entry of a binfmt_misc mount: name -> its fields (``enabled``, ``interpreter``, ``flags``,
    ``magic``, ``mask``)."""
    found: dict[str, dict[str, str]] = {}
    for entry in sorted(mount.iterdir()):
        if entry.name in ("register", "status"):
            continue
        fields: dict[str, str] = {}
        try:
            for line in entry.read_text().splitlines():
                key, _, value = line.strip().partition(" ")
                fields[key.rstrip(":")] = value.strip() if value else ""
        except OSError:
            continue
        found[entry.name] = fields
    return found


def host_entry(mount: Path, arch: str) -> str | None:
    """The name of an enabled entry of the host's (not one of ours) that runs *arch* programs in a chroot (flag
    ``F``: its emulator is opened when registered), or None."""
    want = MAGIC[arch].magic.hex()
    for name, fields in _entries(mount).items():
        if name.startswith(OUR_PREFIX) or "enabled" not in fields:
            continue
        if fields.get("magic", "").startswith(want[:36]) and "F" in fields.get("flags", ""):
            return name
    return None


def _registration(name: str, arch: str, interpreter: Path) -> str:
    m = MAGIC[arch]
    # P (preserve argv[0]) only with Debian's wrapper, which tells QEMU to expect it; F: opened now.
    flags = "PF" if interpreter.name.endswith("-binfmt-P") else "F"
    return f":{name}:M::{m.escaped(m.magic)}:{m.escaped(m.mask)}:{interpreter}:{flags}"


def host_arch() -> str:
    return os.uname().machine


def emulation(stack: contextlib.ExitStack, arch: str) -> str | None:
    """Make *arch* programs run on this machine for as long as *stack* lives; returns how (the binfmt_misc entry
    used), None when *arch* is the machine's own.  Errors name what to install."""
    if arch == host_arch():
        return None
    if arch not in MAGIC:
        raise CreatorError(
            f"Building {arch} images on a {host_arch()} machine is not supported: this build can emulate "
            f"{', '.join(a for a in supported() if a != host_arch())}.")
    interpreter = emulator(arch)
    mount = SYSTEM_MOUNT
    if not (mount / "register").exists():
        private = Path(tempfile.mkdtemp(prefix="imgcreate-binfmt-"))
        stack.callback(os.rmdir, private)
        try:
            fs.mount(stack, "binfmt_misc", private, fstype="binfmt_misc")
        except Exception as exc:
            raise CreatorError(
                f"Building a {arch} image needs the kernel's binfmt_misc (to run the image's programs through "
                f"{interpreter}), and it cannot be mounted here: {exc}. Load the binfmt_misc module "
                "('modprobe binfmt_misc') or run the build where it is available.") from exc
        mount = private
    found = host_entry(mount, arch)
    if found is not None:
        log.info("%s programs run through the host's binfmt_misc entry %s", arch, found)
        return found
    name = f"{OUR_PREFIX}{arch}-{os.getpid()}"
    (mount / "register").write_text(_registration(name, arch, interpreter))
    stack.callback(_unregister, mount / name)
    log.info("%s programs run through %s (binfmt_misc entry %s, for this build)", arch, interpreter, name)
    return name


def _unregister(entry: Path) -> None:
    """Remove one of our entries (writing -1 removes it); gone already is fine."""
    with contextlib.suppress(FileNotFoundError):
        entry.write_text("-1")
