"""The one helper through which every external command runs.

Why one helper: every command is logged with its exact command line, its output is captured (stdout and stderr
merged and read while the process runs, so a chatty tool can never deadlock on a full pipe), its exit status is
always checked, and a failure raises :class:`CommandError` naming the command and the tail of its output.  A tool
that is not installed raises :class:`MissingToolError` naming the package that provides it on Fedora/EL and on
Debian.

Every command runs in a session (and process group) of its own, so that stopping it stops all it started: a
``%post`` script's background children, a shell's pipeline.  Stopping happens whenever the wait for a command is
cut short (Ctrl-C, SIGTERM, a timeout, an error in our own code): SIGTERM to the group and to every descendant,
:data:`processes.STOP_GRACE` seconds for them to exit (mksquashfs and xorriso remove their partial output on
SIGTERM), then SIGKILL (all in :mod:`imgcreate.host.processes`).  The price: the terminal's Ctrl-C reaches
only us, never the command directly; our handler stops it.
What a host command leaves running in its group after it exits is stopped too (a ``%post --nochroot`` script's
``daemon &``; a FUSE mount helper would be too, and none is used); a chrooted command's leftovers are stopped
when the install root is unmounted (``fs.kill_processes_in``).  A process that leaves the group with ``setsid``
and whose parent has exited cannot be found this way (nor would a cgroup be available on every host); inside the
install root it is still stopped at unmount.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO

from imgcreate.debug import PROGRESS
from imgcreate.errors import CommandError, MissingToolError
from imgcreate.host import signals
from imgcreate.host.processes import stop, stop_leftovers, wait_for

log = logging.getLogger("imgcreate")

# tool -> (Fedora/EL package, Debian package)
TOOL_PACKAGES: dict[str, tuple[str, str]] = {
    "mkfs.ext2": ("e2fsprogs", "e2fsprogs"),
    "mkfs.ext3": ("e2fsprogs", "e2fsprogs"),
    "mkfs.ext4": ("e2fsprogs", "e2fsprogs"),
    "e2fsck": ("e2fsprogs", "e2fsprogs"),
    "resize2fs": ("e2fsprogs", "e2fsprogs"),
    "dumpe2fs": ("e2fsprogs", "e2fsprogs"),
    "tune2fs": ("e2fsprogs", "e2fsprogs"),
    "losetup": ("util-linux", "mount"),
    "mount": ("util-linux", "mount"),
    "umount": ("util-linux", "mount"),
    "findmnt": ("util-linux", "util-linux"),
    "chroot": ("coreutils", "coreutils"),
    "mksquashfs": ("squashfs-tools", "squashfs-tools"),
    "xorriso": ("xorriso", "xorriso"),
    "xorrisofs": ("xorriso", "xorriso"),
    "implantisomd5": ("isomd5sum", "isomd5sum"),
    "checkisomd5": ("isomd5sum", "isomd5sum"),
    "mkfs.vfat": ("dosfstools", "dosfstools"),
    "mmd": ("mtools", "mtools"),
    "mcopy": ("mtools", "mtools"),
    "grub2-mkimage": ("grub2-tools", "grub-common (as grub-mkimage)"),
    "grub-mkimage": ("grub2-tools (as grub2-mkimage)", "grub-common"),
    "systemctl": ("systemd", "systemd"),
    "setfiles": ("policycoreutils", "policycoreutils"),
    "openssl": ("openssl", "openssl"),
    "qemu-system-x86_64": ("qemu-system-x86", "qemu-system-x86"),
    "qemu-system-aarch64": ("qemu-system-aarch64", "qemu-system-arm"),
    "qemu-aarch64-static": ("qemu-user-static", "qemu-user-static"),
    "qemu-img": ("qemu-img", "qemu-utils"),
    "mkfs.xfs": ("xfsprogs", "xfsprogs"),
    "mkswap": ("util-linux", "util-linux"),
    "cryptsetup": ("cryptsetup", "cryptsetup-bin"),
    "blkid": ("util-linux", "util-linux"),
    "partx": ("util-linux", "util-linux"),
    "unsquashfs": ("squashfs-tools", "squashfs-tools"),
    "xz": ("xz", "xz-utils"),
    "zstd": ("zstd", "zstd"),
    "tar2sqfs": ("squashfs-tools-ng", "squashfs-tools-ng"),
    "tar": ("tar", "tar"),
    "mkfs.erofs": ("erofs-utils", "erofs-utils"),
    "dump.erofs": ("erofs-utils", "erofs-utils"),
    "fsck.erofs": ("erofs-utils", "erofs-utils"),
}


def package_hint(tool: str) -> str | None:
    """Say which package provides *tool*, for both families of distribution we support."""
    pkgs = TOOL_PACKAGES.get(tool)
    if pkgs is None:
        return None
    return f"'dnf install {pkgs[0]}' (Fedora/EL) or 'apt-get install {pkgs[1]}' (Debian/Ubuntu)"


def find_tool(tool: str) -> str:
    """Return the full path of a host tool, or raise MissingToolError naming its package."""
    return find_any_tool(tool)


def find_any_tool(*tools: str) -> str:
    """Return the first of several equivalent tools (e.g. grub2-mkimage on Fedora, grub-mkimage on Debian)."""
    for tool in tools:
        path = shutil.which(tool)
        if path:
            return path
    raise MissingToolError(" or ".join(tools), package_hint(tools[0]))


def cmdline(argv: Sequence[str | os.PathLike[str]]) -> str:
    return " ".join(shlex.quote(str(a)) for a in argv)


class _OutputReader(threading.Thread):
    """Reads a command's output while it runs, so a full pipe can never block the command."""

    def __init__(self, pipe: IO[bytes], stream: bool) -> None:
        super().__init__(daemon=True)
        self.pipe = pipe  # owned by this thread: closed here, never while it is being read
        self.stream = stream
        self.chunks: list[bytes] = []
        self._partial = b""
        self.start()

    def run(self) -> None:
        try:
            while True:
                data = os.read(self.pipe.fileno(), 65536)
                if not data:
                    break
                self.chunks.append(data)
                if self.stream:
                    self._log_lines(data)
        except OSError:
            pass
        finally:
            self.pipe.close()
        if self.stream and self._partial:
            log.log(PROGRESS, "%s", self._partial.decode(errors="replace"))

    def _log_lines(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            log.log(PROGRESS, "%s", line.decode(errors="replace").rstrip())


# The environment commands get unless the caller gives one: the host's locale and variables stay out of the image.
_CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8", "HOME": "/root"}
# What a build passes to every command it runs, for as long as it runs (see passed_to_commands): never this
# process's own environment, so one build's settings cannot leak into the next one, or into a library caller.
_PASSED_ON: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "passed_on", default=types.MappingProxyType({}))


@contextlib.contextmanager
def passed_to_commands(variables: Mapping[str, str]) -> Iterator[None]:
    """Every command run inside the block gets *variables* (e.g. a reproducible build's SOURCE_DATE_EPOCH, which
    rpm, mksquashfs, xorriso, mkfs.fat, mke2fs and the kickstart's scripts honour); nested blocks add to it."""
    token = _PASSED_ON.set({**_PASSED_ON.get(), **variables})
    try:
        yield
    finally:
        _PASSED_ON.reset(token)


def passed_on() -> dict[str, str]:
    """The variables :func:`passed_to_commands` passes to commands now."""
    return dict(_PASSED_ON.get())


@contextlib.contextmanager
def in_process_environment() -> Iterator[None]:
    """The passed-on variables in this process's own environment for the block, for work done in-process that
    starts programs itself (rpm's scriptlets under the dnf transaction); restored afterwards."""
    before = {k: os.environ.get(k) for k in _PASSED_ON.get()}
    os.environ.update(_PASSED_ON.get())
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def clean_env() -> dict[str, str]:
    """The environment commands get unless the caller gives one."""
    return {**_CLEAN_ENV, **passed_on()}


def mtools_env() -> dict[str, str]:
    """For mtools (mcopy, mmd) on a FAT image or partition: :func:`clean_env` and no check of the image's
    geometry, which mtools would refuse for a partition of a loop device or a small EFI image."""
    return {**clean_env(), "MTOOLS_SKIP_CHECK": "1"}


def _command(argv: Sequence[str | os.PathLike[str]], root: str | os.PathLike[str] | None) -> list[str]:
    """The command line to start: chrooted into *root*, or with the tool's full path (MissingToolError if none)."""
    args = [str(a) for a in argv]
    if not args:
        raise ValueError("empty command")
    if root is not None:
        return [find_tool("chroot"), str(root), *args]
    if "/" not in args[0]:
        args[0] = find_tool(args[0])
    return args


def _feed_and_wait(proc: subprocess.Popen[bytes], data: bytes | None, timeout: float | None,
                   watch: Callable[[int], None] | None = None) -> None:
    """Give the command its input and wait for it to end (the caller stops it if this is cut short)."""
    if data is not None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(data)
            proc.stdin.close()
        except BrokenPipeError:
            pass
    wait_for(proc, timeout, None if watch is None else lambda: watch(proc.pid))


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    root: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input: str | bytes | None = None,
    check: bool = True,
    stream: bool = False,
    what: str | None = None,
    timeout: float | None = None,
    tty: bool = False,
    apart: bool = False,
    watch: Callable[[int], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command and return its result with the merged output in ``stdout``.

    ``root``: run it chrooted into that directory (with the host's ``chroot``).  ``env``: the whole environment
    (default: a clean one with PATH, so the host's locale and variables do not leak into the image).
    ``stream``: also copy each output line to the log as it arrives (for long steps that report progress).
    ``what``: a few words said in front of the error, e.g. "Creating the filesystem".
    ``tty``: the command's stdout goes to our stderr, the user's terminal (for a progress bar, see
    :func:`progress_on_terminal`); only its stderr is captured.
    ``apart``: stdout and stderr captured apart (``stdout``, ``stderr``), for output that is parsed while the
    tool may warn (upstream's ``rcall``).
    ``watch``: called with the command's pid about ten times a second while it runs (a progress meter, see
    :mod:`imgcreate.host.meter`).
    """
    args = _command(argv, root)
    if env is None:
        env = clean_env()
    log.debug("running: %s", cmdline(args))
    data = input.encode() if isinstance(input, str) else input
    proc: subprocess.Popen[bytes] | None = None
    try:
        # Whatever cuts the wait short (Ctrl-C, SIGTERM, the timeout), the command and all it started are stopped
        # (:func:`stop`): never left behind.  A signal while it starts is held until it can be stopped.
        with signals.deferred("starting a command"):
            try:
                proc = subprocess.Popen(
                    args,
                    stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                    stdout=sys.stderr.fileno() if tty else subprocess.PIPE,
                    stderr=subprocess.PIPE if tty or apart else subprocess.STDOUT,
                    env=dict(env),
                    cwd=cwd,
                    start_new_session=True,  # its own process group: see the module's docstring
                )
            except FileNotFoundError as exc:
                raise MissingToolError(args[0], package_hint(os.path.basename(args[0]))) from exc
            pipe = proc.stderr if tty else proc.stdout
            assert pipe is not None
            reader = _OutputReader(pipe, stream)
            err_reader = _OutputReader(proc.stderr, False) if apart and not tty and proc.stderr else None
        _feed_and_wait(proc, data, timeout, watch)
    except BaseException:
        if proc is not None:
            stop(proc)
        raise
    if root is None:
        stop_leftovers(proc.pid, what or cmdline(args))
    # A daemon the command started (e.g. in a %post) may hold the pipe open forever: drain what is there,
    # but do not wait for it.  The daemon itself is stopped when the install root is unmounted.
    reader.join(2.0)
    chunks = list(reader.chunks)
    output = b"".join(chunks).decode(errors="replace")
    err_output = None
    if err_reader is not None:
        err_reader.join(2.0)
        err_output = b"".join(err_reader.chunks).decode(errors="replace")
    if not stream and output.strip():
        log.debug("%s", output.rstrip())
    if err_output and err_output.strip():
        log.debug("%s", err_output.rstrip())
    if check and proc.returncode != 0:
        log.error("command failed (%d): %s", proc.returncode, cmdline(args))
        raise CommandError(args, proc.returncode, output + (err_output or ""), what)
    return subprocess.CompletedProcess(args, proc.returncode, output, err_output)


def run_pipe(
    first: Sequence[str | os.PathLike[str]],
    second: Sequence[str | os.PathLike[str]],
    *,
    what: str | None = None,
    tty: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``first | second`` (as :func:`run` runs one command): both are logged as one command line, the
    output of both is captured (``second``'s stdout goes to the terminal with *tty*), both exit statuses are
    checked, and both are killed if the wait is interrupted.

    Why not ``sh -c``: no shell quoting of paths, and a failure names the command that failed, not the shell.
    """
    args1, args2 = _command(first, None), _command(second, None)
    line = f"{cmdline(args1)} | {cmdline(args2)}"
    log.debug("running: %s", line)
    env = clean_env()
    procs: list[subprocess.Popen[bytes]] = []
    readers: list[_OutputReader] = []
    try:
        with signals.deferred("starting a command"):  # held until both can be stopped
            p1 = subprocess.Popen(args1, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env, start_new_session=True)
            procs.append(p1)
            assert p1.stdout is not None and p1.stderr is not None
            readers.append(_OutputReader(p1.stderr, False))
            p2 = subprocess.Popen(args2, stdin=p1.stdout, stdout=sys.stderr.fileno() if tty else subprocess.PIPE,
                                  stderr=subprocess.PIPE if tty else subprocess.STDOUT, env=env, start_new_session=True)
            procs.append(p2)
            p1.stdout.close()  # the second command's now: the first gets SIGPIPE if the second ends early
            pipe = p2.stderr if tty else p2.stdout
            assert pipe is not None
            readers.append(_OutputReader(pipe, False))
        for proc in reversed(procs):
            wait_for(proc)
    except BaseException:
        for proc in procs:
            stop(proc)
        raise
    for reader in readers:
        reader.join(2.0)
    output = b"".join(b"".join(r.chunks) for r in readers).decode(errors="replace")
    if output.strip():
        log.debug("%s", output.rstrip())
    failed = [(args, proc.returncode) for args, proc in zip((args1, args2), procs) if proc.returncode != 0]
    # The first command killed by SIGPIPE only says the second ended early: name the second then.
    failed.sort(key=lambda f: f[1] == -signal.SIGPIPE)
    if failed:
        args, code = failed[0]
        log.error("command failed (%d): %s (in %s)", code, cmdline(args), line)
        raise CommandError(args, code, output, what)
    return subprocess.CompletedProcess([*args1, "|", *args2], 0, output, None)


def progress_on_terminal() -> bool:
    """Whether a long step should show a progress bar: our stderr is a terminal that shows PROGRESS lines."""
    if not (sys.stderr.isatty() and log.isEnabledFor(PROGRESS)):
        return False
    logger: logging.Logger | None = log
    while logger is not None:
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            if stream is sys.stderr and handler.level <= PROGRESS:
                return True
        logger = logger.parent if logger.propagate else None
    return False


def run_interactive(argv: Sequence[str | os.PathLike[str]], root: str | os.PathLike[str] | None = None,
                    prompt: str = "[imgcreate chroot \\w]# ") -> int:
    """Run a command attached to the user's terminal (``launch_shell``); output is the user's, not captured."""
    args = [str(a) for a in argv]
    if root is not None:
        args = [find_tool("chroot"), str(root), *args]
    log.debug("running interactively: %s", cmdline(args))
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "TERM": os.environ.get("TERM", "vt100"),
           "PS1": prompt}
    return subprocess.call(args, env=env)
