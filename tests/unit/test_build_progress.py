"""What a build says while it runs: downloads (only what its plan fetches), dnf's import warmed up, meters."""

from __future__ import annotations

import logging

import dnf.callback
import pytest

from imgcreate.packages.transaction import DownloadProgress


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


def test_a_warm_cache_announces_no_download(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="imgcreate")
    progress = DownloadProgress(0, 0)
    progress.start(2, 3 << 20)  # dnf counts the cached packages too
    progress.end("a-1.rpm", dnf.callback.STATUS_ALREADY_EXISTS, None)
    progress.end("b-1.rpm", dnf.callback.STATUS_ALREADY_EXISTS, None)
    assert _messages(caplog, logging.INFO) == []
    assert _messages(caplog, logging.DEBUG) == ["a-1.rpm: in the cache", "b-1.rpm: in the cache"]


def test_only_fetched_packages_are_counted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="imgcreate")
    progress = DownloadProgress(1, 1 << 20)
    progress.start(3, 5 << 20)
    progress.end("a-1.rpm", dnf.callback.STATUS_ALREADY_EXISTS, None)
    progress.end("b-1.rpm", dnf.callback.STATUS_OK, None)
    progress.end("c-1.rpm", dnf.callback.STATUS_FAILED, "404")
    assert _messages(caplog, logging.INFO) == [
        "Downloading 1 packages (1.0 MiB)", "Downloaded b-1.rpm (1/1)", "download of c-1.rpm failed: 404"]


def test_dnf_import_warms_up_once_in_a_thread() -> None:
    """mount() starts dnf's import in a thread (packages/warmup.py); a second start does not start another."""
    import sys

    from imgcreate.packages import warmup

    warmup.start()
    first = warmup._thread
    warmup.start()
    assert first is not None and warmup._thread is first
    first.join(timeout=60)
    assert "dnf.transaction" in sys.modules and "libdnf.transaction" in sys.modules


def test_a_meter_on_a_terminal_that_went_away_ends_quietly() -> None:
    """A meter's write error (the terminal closed: EIO) must not fail the build, as logging's would not."""
    import io

    from imgcreate.host.meter import Meter

    class Gone(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(5, "Input/output error")

    shown = io.StringIO()
    m = Meter("Compressing d.raw with xz", 100 << 20, stream=shown)
    m._last -= 10  # as if its first second had passed
    m.update(50 << 20)
    m.close()
    assert shown.getvalue() == ("\rCompressing d.raw with xz:  50 % (50 MiB of 100 MiB)"
                                "\rCompressing d.raw with xz: 100 % (100 MiB of 100 MiB)\n")
    gone = Meter("Compressing d.raw with xz", 100 << 20, stream=Gone())
    gone._last -= 10
    gone.update(1)
    gone.close()
    assert gone.broken
