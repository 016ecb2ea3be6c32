"""What a build says about downloads (only the packages its plan must fetch), and dnf's import warmed up."""

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
