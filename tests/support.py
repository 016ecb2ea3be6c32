"""What the tests (and the benchmark) share: running our tools, serving a repository over HTTP, looking for
what a build left behind, and reading the images and the host state a build must not change.

Plain functions and classes, no pytest: bench/run.py imports them too.  conftest.py hands them to the tests
as fixtures (``repo_server``, ``make_ks``, ``mount_image``) and runs the leak check after every root test.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from tests import kickstarts

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOL_TIMEOUT = 600  # seconds: a build that takes longer has hung


# ---- running our command-line tools -----------------------------------------------------------------------

def tool_argv(tool: str, *args: str, prefix: Sequence[str] = ()) -> list[str]:
    """The command line that runs one of tools/ with this interpreter, the way a user runs it."""
    return [*prefix, sys.executable, str(REPO_ROOT / "tools" / tool), *args]


def _environ(env: Mapping[str, str] | None) -> dict[str, str]:
    return {**os.environ, **(env or {})}


def run_tool(tool: str, *args: str, check: bool = True, env: Mapping[str, str] | None = None,
             input: str | None = None, prefix: Sequence[str] = (),
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run one of our tools to the end; with *check*, a failure raises with the tail of what it printed.

    *env* is added to this process's environment; *prefix* runs the tool through another command (setpriv);
    *cwd* is the folder it runs in (the default output folder of the creators).
    """
    proc = subprocess.run(tool_argv(tool, *args, prefix=prefix), capture_output=True, text=True, input=input,
                          env=_environ(env), timeout=TOOL_TIMEOUT, errors="replace", cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def start_tool(tool: str, *args: str, env: Mapping[str, str] | None = None,
               stdout: int | None = subprocess.PIPE, fault: str | None = None) -> subprocess.Popen[str]:
    """Start one of our tools without waiting, to signal it or read its log as it runs (stderr is a pipe).

    *fault* (``PHASE:WHEN:KIND``) runs it through tests/faults.py, which fails the build at that point.
    """
    argv = tool_argv(tool, *args)
    if fault is not None:
        argv = [sys.executable, "-m", "tests.faults", tool, fault, *args]
        env = {**(env or {}), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, text=True, errors="replace", env=_environ(env),
                            preexec_fn=default_sigint)


def default_sigint() -> None:
    """SIGINT as a terminal gives it to a tool: a suite started in the background (``pytest &``, a CI runner)
    has it ignored, and every process it starts would inherit that and never see Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def signal_at(proc: subprocess.Popen[str], sig: int, needle: str, stdout: bool = False) -> str:
    """Read a started tool's stderr (its stdout with *stdout*) line by line and send it *sig* at the first line
    holding *needle* (e.g. what a %post script prints once it runs); returns what was read, that line last."""
    stream = proc.stdout if stdout else proc.stderr
    assert stream is not None
    seen = []
    for line in stream:
        seen.append(line)
        if needle in line:
            proc.send_signal(sig)
            return "".join(seen)
    raise AssertionError(f"the tool ended ({proc.wait()}) before printing {needle!r}:\n{''.join(seen)[-3000:]}")


def alive(pid: int) -> bool:
    """Whether process *pid* still runs (a zombie no longer does: it only waits to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def running(*argv: str) -> list[int]:
    """The live processes whose command line is exactly *argv* (a unique ``sleep 3171`` of a test's script)."""
    found = []
    want = "\0".join(argv) + "\0"
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/cmdline").read_text() == want and alive(int(pid)):
                    found.append(int(pid))
    return found


def finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    """Wait for a tool started by :func:`start_tool`; its result as :func:`run_tool` gives it."""
    out, err = proc.communicate(timeout=TOOL_TIMEOUT)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def build_dirs(tmp_path: Path) -> list[str]:
    """``--tmpdir <tmp_path>/work --output <tmp_path>/out``: where :func:`assert_build_left_nothing` looks."""
    (tmp_path / "work").mkdir(exist_ok=True)
    return ["--tmpdir", str(tmp_path / "work"), "--output", str(tmp_path / "out")]


@dataclass
class Built:
    """An image-creator run: the finished process and where its image is (or would have been)."""

    proc: subprocess.CompletedProcess[str]
    image: Path

    @property
    def warnings(self) -> list[str]:
        """The kickstart warnings it printed (``kickstart '<command>' ...``)."""
        return [line for line in self.proc.stderr.splitlines() if line.startswith("kickstart '")]


def image_creator(ks: Path, tmp: Path, *extra: str, fslabel: str | None = None, name: str | None = None,
                  check: bool = True) -> Built:
    """``image-creator -c KS [--fslabel L | -n N] -o TMP/out --tmpdir TMP EXTRA...``; the image is named after
    *name*, else *fslabel*, else upstream's default name (the only image in TMP/out).  -n is upstream's alias
    of --fslabel: both set the label too, over the kickstart's ``part / --label``."""
    stem = name or fslabel
    naming = ["-n", name] if name else ["--fslabel", fslabel] if fslabel else []
    out = tmp / "out"
    proc = run_tool("image-creator", "-c", str(ks), *naming, "-o", str(out), "--tmpdir", str(tmp), *extra,
                    check=check)
    if stem is None:
        found = sorted(out.glob("*.img")) if out.is_dir() else []
        return Built(proc, found[0] if found else out / "missing.img")
    return Built(proc, out / f"{stem}.img")


# A small live ISO of the test distribution (a 300 MiB root, @core and kernel) that boots to the serial console
# and powers off instead of opening a dracut shell; its live check writes {write_mib} MiB to the root.
LIVE_KS = kickstarts.kickstart(
    "part / --size 300", packages=("@core", "kernel", "{packages}"),
    bootloader='--timeout 1 --append="console=ttyS0,115200 rd.shell=0 rd.emergency=poweroff '
               'livecheck.write_mib={write_mib}"')
# What a live kickstart adds with the real-userland flavour (conftest's userland_repo), as Fedora's live
# kickstarts do: the kernel package pulls dracut in, its live modules come with dracut-live.
USERLAND_LIVE_PACKAGES = "dracut-live"


def build_live(tmp: Path, repo: Path, label: str, *extra: str, write_mib: int = 16, packages: str = "") -> Path:
    """``livecd-creator -c LABEL.ks -f LABEL`` with :data:`LIVE_KS` (and *extra* options, *packages* added to
    %packages): the ISO's path."""
    ks = tmp / f"{label}.ks"
    ks.write_text(LIVE_KS.format(repo=repo, write_mib=write_mib, packages=packages))
    run_tool("livecd-creator", "-c", str(ks), "-f", label, "--tmpdir", str(tmp), "--output", str(tmp / "out"),
             *extra)
    return tmp / "out" / f"{label}.iso"


def assert_failed(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """The tool failed as a user should see it: a non-zero exit, no traceback, each of *needles* on stderr."""
    err = proc.stderr
    assert proc.returncode != 0, err
    assert "Traceback" not in err, err
    for needle in needles:
        assert needle in err, f"{needle!r} not in: {err}"


# ---- what a build can leave behind ------------------------------------------------------------------------

# The temporary folders the tools make where the user did not choose (tempfile's default folder, /tmp unless
# $TMPDIR names another, and /var/tmp, the default --tmpdir of the creators and liveimage-mount): every prefix
# of a tempfile.mkdtemp, TemporaryDirectory or signals.temporary_directory in imgcreate/ whose folder is not
# inside a build directory or beside the output (tests/unit/test_leak_watch.py keeps this list complete).
TOOL_TEMP_PREFIXES = ("imgcreate-", "livecd-iso-to-disk-", "liveiso-", "editliveos-", "pxeboot-", "boottest-",
                      "liveimage-mount-", "erofs-probe-", "dnflivecd-", "mkbiarch-", "liveimage-mount-work-",
                      "imgcreate-binfmt-")
# The boot half of a split run (scripts/test_halves.py) has a TMPDIR of its own and leaves /var/tmp, where the other
# half's default-path builds work, to that half's checks.
TEMP_FOLDERS = ((tempfile.gettempdir(),) if os.environ.get("LIVECD_TESTS_HALF") == "boot"
                else tuple(sorted({tempfile.gettempdir(), "/var/tmp"})))

# Where tools put things: those temporary folders; conftest adds the tests' temp dirs.
WATCHED = [f"{top}/{prefix}" for top in TEMP_FOLDERS for prefix in TOOL_TEMP_PREFIXES]


def _watched(path: str) -> bool:
    return any(path.startswith(w) for w in WATCHED)


def _names(item: str, path: str) -> bool:
    """Whether a mount point, ``losetup -a`` line or ``pid:root`` names *path* or something below it."""
    return re.search(re.escape(path) + r"(?:/|\)|$)", item) is not None


@dataclass(frozen=True)
class Leaks:
    """What a tool can leave behind, seen from outside: mount points, attached loop devices (their
    ``losetup -a`` lines), processes whose root is a build directory (``pid:root``) and the tools' temporary
    folders in the default places (:data:`TOOL_TEMP_PREFIXES` in :data:`TEMP_FOLDERS`)."""

    mounts: frozenset[str] = frozenset()
    loops: frozenset[str] = frozenset()
    chrooted: frozenset[str] = frozenset()
    folders: frozenset[str] = frozenset()

    def __sub__(self, earlier: Leaks) -> Leaks:
        return Leaks(self.mounts - earlier.mounts, self.loops - earlier.loops, self.chrooted - earlier.chrooted,
                     self.folders - earlier.folders)

    def under(self, path: Path) -> Leaks:
        """Only what is at or below *path*."""
        where = str(path)
        return Leaks(*(frozenset(i for i in items if _names(i, where))
                       for items in (self.mounts, self.loops, self.chrooted, self.folders)))

    def assert_none(self) -> None:
        assert not self.mounts, f"left mounted: {sorted(self.mounts)}"
        assert not self.loops, f"loop devices left attached: {sorted(self.loops)}"
        assert not self.chrooted, f"processes left in a build root: {sorted(self.chrooted)}"
        assert not self.folders, f"temporary folders left behind: {sorted(self.folders)}"


def _lines(*argv: str) -> list[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.splitlines()


def _chrooted() -> frozenset[str]:
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            root = os.readlink(f"/proc/{pid}/root")
        except OSError:
            continue
        if _watched(root):
            found.add(f"{pid}:{root}")
    return frozenset(found)


def tool_temp_folders() -> frozenset[str]:
    """The tools' temporary folders that exist right now in the default places."""
    found: set[str] = set()
    for top in TEMP_FOLDERS:
        with contextlib.suppress(OSError):
            found.update(entry.path for entry in os.scandir(top) if entry.name.startswith(TOOL_TEMP_PREFIXES))
    return frozenset(found)


def leak_snapshot() -> Leaks:
    """Everything mounted, attached or running in a root below the watched directories, and the tools' temporary
    folders, right now."""
    return Leaks(
        mounts=frozenset(m for m in _lines("findmnt", "-rn", "-o", "TARGET") if _watched(m)),
        loops=frozenset(lo for lo in _lines("losetup", "-a") if any(w in lo for w in WATCHED)),
        chrooted=_chrooted(),
        folders=tool_temp_folders(),
    )


def assert_build_left_nothing(tmp_path: Path, *, keep_builddir: bool = False, ours: Leaks | None = None) -> None:
    """After a build run with :func:`build_dirs`: nothing mounted, attached or running below *tmp_path* but
    what the test set up itself (*ours*), no build directory (exactly one with ``--nocleanup``), and no file
    in the output folder."""
    (leak_snapshot().under(tmp_path) - (ours or Leaks())).assert_none()
    builddirs = sorted((tmp_path / "work").glob("imgcreate-*"))
    if keep_builddir:
        assert len(builddirs) == 1, "--nocleanup keeps the build directory"
    else:
        assert builddirs == [], f"build directory left behind: {builddirs}"
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == [], f"in the output folder: {list(out.iterdir())}"


def images_in(out: Path) -> list[Path]:
    """What a build delivered to *out* besides the manifest every build writes (imgcreate/build/manifest.py), sorted."""
    from imgcreate.build import manifest

    return sorted(p for p in out.iterdir() if not manifest.is_manifest(p))


# ---- a repository over HTTP -------------------------------------------------------------------------------

class _RequestLog:
    """What a :class:`RepoServer` saw, shared by its handler threads."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.rpm_delay = 0.0  # seconds to wait before serving each .rpm (to catch a build while downloading)


class _RecordingHandler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args: Any, seen: _RequestLog, **kwargs: Any) -> None:
        self.seen = seen  # before the base class, whose __init__ already handles the request
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.seen.paths.append(self.path)
        if self.path.endswith(".rpm") and self.seen.rpm_delay:
            time.sleep(self.seen.rpm_delay)
        with contextlib.suppress(ConnectionError):  # a build stopped while downloading
            super().do_GET()


class RepoServer:
    """A directory served over HTTP on 127.0.0.1, recording every request (to see what a build downloads)."""

    def __init__(self, directory: Path) -> None:
        self._seen = _RequestLog()
        handler = functools.partial(_RecordingHandler, seen=self._seen, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self) -> RepoServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def slow_down(self, seconds: float) -> None:
        self._seen.rpm_delay = seconds

    @property
    def requests(self) -> list[str]:
        """Every path requested so far (clear() it to start counting again)."""
        return self._seen.paths

    def rpm_requests(self) -> list[str]:
        return [r for r in self.requests if r.endswith(".rpm")]

    def take_requests(self) -> tuple[int, int]:
        """(.rpm requests, all requests) since the last call."""
        counts = len(self.rpm_requests()), len(self.requests)
        self.requests.clear()
        return counts

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- kickstarts and images --------------------------------------------------------------------------------

class MakeKs(Protocol):
    """The ``make_ks`` fixture: writes a kickstart using the test repository and returns its path."""

    def __call__(self, body: str, name: str = ..., repo_url: str | None = ..., size: int = ...) -> Path: ...


class MountedImage:
    """An ext image loop-mounted read-only for inspection (the ``mount_image`` fixture unmounts it)."""

    def __init__(self, image: Path, mountpoint: Path) -> None:
        self.image = image
        self.path = mountpoint

    def rpms(self) -> set[str]:
        out = subprocess.run(
            ["rpm", "-qa", "--qf", "%{NAME}\\n", "--root", str(self.path), "--dbpath", "/var/lib/rpm"],
            capture_output=True, text=True, check=True,
        ).stdout
        return set(out.split())

    def __truediv__(self, rel: str) -> Path:
        return self.path / rel.lstrip("/")


MountImage = Callable[[Path], MountedImage]  # the ``mount_image`` fixture


def password_matches(plaintext: str, hashed: str) -> bool:
    """Re-hash *plaintext* with the salt of a shadow entry (``$6$salt$hash``), as login does, and compare."""
    salt = hashed.split("$")[2]
    out = subprocess.run(["openssl", "passwd", "-6", "-salt", salt, "-stdin"], input=plaintext + "\n",
                         capture_output=True, text=True, check=True).stdout.strip()
    return out == hashed


# ---- the host's state -------------------------------------------------------------------------------------

def _describe(path: str, mtimes: bool) -> str:
    st = os.lstat(path)
    kind = "l" if os.path.islink(path) else "d" if os.path.isdir(path) else "f"
    digest = ""
    if kind == "f" and st.st_size < 8 * 1024 * 1024:
        try:
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            digest = "unreadable"
    elif kind == "l":
        digest = os.readlink(path)
    when = f" {st.st_mtime_ns}" if mtimes else ""
    return f"{kind} {st.st_mode:o} {st.st_uid}:{st.st_gid} {st.st_size}{when} {digest}"


def host_state(*tops: str, mtimes: bool = False) -> dict[str, str]:
    """Type, mode, owner, size, content hash (and with *mtimes* the modification time) of everything under
    *tops*: what a build must leave as it was."""
    out: dict[str, str] = {}
    for top in tops:
        if not os.path.lexists(top):
            out[top] = "absent"
            continue
        for dirpath, dirs, files in os.walk(top):
            for name in [*dirs, *files, ""]:
                path = os.path.join(dirpath, name) if name else dirpath
                # SQLite's shared-memory index (rpmdb.sqlite-shm) is written by every reader of the database:
                # any rpm query on the host (a test of the other half of a split run, say) changes its time.
                out[path] = _describe(path, mtimes and not path.endswith("-shm"))
    return out


@contextlib.contextmanager
def mounted_tmpfs(where: Path, mib: int) -> Iterator[Path]:
    """A tmpfs of *mib* MiB mounted on the new folder *where* for the block: a small or another filesystem
    (a full --tmpdir, an output folder across filesystems)."""
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mib}m", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)
