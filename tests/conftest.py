"""Shared fixtures.

Integration tests build real images with the real tools from the project's own test distribution.  Every test
that needs root is checked, after it ran, for leaks seen from outside: mounts under the temp dirs, attached loop
devices, and processes whose root is a build directory.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


# Leaks are looked for where our builds put things: the tests' temp dirs and the default --tmpdir.
WATCHED = ["/var/tmp/imgcreate-"]


def _watched(path: str) -> bool:
    return any(path.startswith(w) for w in WATCHED)


def _mounts() -> set[str]:
    out = subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True, check=True).stdout
    return {line for line in out.splitlines() if _watched(line)}


def _loops() -> set[str]:
    out = subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=True).stdout
    return {line for line in out.splitlines() if any(w in line for w in WATCHED)}


def _chrooted() -> set[str]:
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
    return found


def leak_snapshot() -> tuple[set[str], set[str], set[str]]:
    return _mounts(), _loops(), _chrooted()


def assert_no_leaks(before: tuple[set[str], set[str], set[str]]) -> None:
    mounts, loops, procs = leak_snapshot()
    assert mounts - before[0] == set(), f"left mounted: {mounts - before[0]}"
    assert loops - before[1] == set(), f"loop devices left attached: {loops - before[1]}"
    assert procs - before[2] == set(), f"processes left in a build root: {procs - before[2]}"


@pytest.fixture(scope="session", autouse=True)
def _watch_basetemp(tmp_path_factory: pytest.TempPathFactory) -> None:
    WATCHED.append(str(tmp_path_factory.getbasetemp()))


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    if os.geteuid() != 0 or request.node.get_closest_marker("root") is None:
        yield
        return
    before = leak_snapshot()
    yield
    assert_no_leaks(before)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (loop devices, mounts, chroot)")
    for item in items:
        if item.get_closest_marker("root"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def testrepo() -> Path:
    """The test distribution's repository (built once, cached by content across runs)."""
    import testdistro

    return testdistro.build_repo()


class RecordingHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]
    rpm_delay: list[float]  # seconds to wait before serving each .rpm (to catch a build while downloading)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.requests.append(self.path)
        if self.path.endswith(".rpm") and self.rpm_delay[0]:
            time.sleep(self.rpm_delay[0])
        with contextlib.suppress(ConnectionError):
            super().do_GET()


class RepoServer:
    """The test repository served over HTTP on 127.0.0.1, recording every request (to see what is downloaded)."""

    def __init__(self, directory: Path) -> None:
        handler = type("Handler", (RecordingHandler,), {"requests": [], "rpm_delay": [0.0]})
        self.handler = handler
        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
        )
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def slow_down(self, seconds: float) -> None:
        self.handler.rpm_delay[0] = seconds

    @property
    def requests(self) -> list[str]:
        return self.handler.requests

    def rpm_requests(self) -> list[str]:
        return [r for r in self.requests if r.endswith(".rpm")]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def repo_server(testrepo: Path) -> Iterator[RepoServer]:
    server = RepoServer(testrepo)
    yield server
    server.close()


@pytest.fixture
def make_ks(tmp_path: Path, testrepo: Path):
    """Write a kickstart using the test repository; returns its path.  ``repo_url`` overrides the file:// URL."""

    def make(body: str, name: str = "test.ks", repo_url: str | None = None, size: int = 512) -> Path:
        url = repo_url or f"file://{testrepo}"
        text = f"repo --name=testdistro --baseurl={url}\n"
        if "part /" not in body:
            text += f"part / --size {size}\n"
        text += body
        path = tmp_path / name
        path.write_text(text)
        return path

    return make


def run_tool(tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one of our command-line tools with this interpreter, the way a user runs it."""
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / tool), *args], capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


class MountedImage:
    """An ext image loop-mounted read-only for inspection (registered for unmount by the fixture)."""

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


@pytest.fixture
def mount_image(tmp_path: Path) -> Iterator:
    mounted: list[Path] = []

    def do(image: Path) -> MountedImage:
        mp = tmp_path / f"mnt{len(mounted)}"
        mp.mkdir()
        subprocess.run(["mount", "-o", "ro,loop", str(image), str(mp)], check=True)
        mounted.append(mp)
        return MountedImage(image, mp)

    yield do
    for mp in reversed(mounted):
        subprocess.run(["umount", "-d", str(mp)], check=False)
