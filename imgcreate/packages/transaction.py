"""rpm's transaction as dnf runs it into the root: progress shown while packages download and install, the
memory it may hold (write-back of the root's dirty pages), and what a failed or partly failed transaction means."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dnf
import dnf.callback
import dnf.comps
import dnf.exceptions
import dnf.transaction

from imgcreate.debug import PROGRESS
from imgcreate.errors import ImageError, PackageError
from imgcreate.packages import dnfcompat, rpmdb

log = logging.getLogger("imgcreate")


_INSTALL_ACTIONS = (
    dnf.transaction.PKG_INSTALL,
    dnf.transaction.PKG_UPGRADE,
    dnf.transaction.PKG_DOWNGRADE,
    dnf.transaction.PKG_REINSTALL,
)


class DownloadProgress(dnf.callback.DownloadProgress):  # type: ignore[misc]
    """Logs each finished download, so a long fetch shows progress and the log says what was fetched.

    dnf hands every package of a remote repository to the download, also those its cache already holds (librepo
    finds them there and reports them as existing): the "Downloading" line and the count are what the build's
    own plan says must be fetched (*expected* packages, *expected_bytes*), so a build from a warm cache does not
    announce a download of everything it installs."""

    def __init__(self, expected: int = 0, expected_bytes: int = 0) -> None:
        self.expected = expected
        self.expected_bytes = expected_bytes
        self.done = 0

    def start(self, total_files: int, total_size: int, total_drpms: int = 0) -> None:
        if self.expected:
            log.log(PROGRESS, "Downloading %d packages (%.1f MiB)", self.expected, self.expected_bytes / 1048576)

    def end(self, payload: Any, status: int, msg: str | None) -> None:
        if status == dnf.callback.STATUS_FAILED:
            log.error("download of %s failed: %s", payload, msg)
        elif status == dnf.callback.STATUS_ALREADY_EXISTS:
            log.debug("%s: in the cache", payload)
        else:
            self.done += 1
            log.info("Downloaded %s (%d/%d)", payload, self.done, max(self.expected, self.done))


class TransactionProgress(dnf.callback.TransactionProgress):  # type: ignore[misc]
    """Logs one line per package installed and every line rpm or a scriptlet prints; keeps rpm's errors.

    The errors only explain a failure (:func:`check_transaction` decides from the rpm database and dnf's item
    states whether there was one): dnf reports them to this display as text, read by
    :func:`dnfcompat.element_error`.
    """

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.errors: list[str] = []  # dnf's error messages, one per failed element or scriptlet
        self.rpm_errors: list[str] = []  # rpm's own "error: ..." lines

    def progress(self, package: Any, action: int, ti_done: int, ti_total: int, ts_done: int, ts_total: int) -> None:
        if package is None or action not in _INSTALL_ACTIONS:
            return
        key = str(package)
        if key not in self.seen:
            self.seen.add(key)
            log.log(PROGRESS, "Installing %s (%d/%d)", package, ts_done, ts_total)

    def scriptout(self, msgs: Any) -> None:
        if msgs:
            text = msgs.decode(errors="replace") if isinstance(msgs, bytes) else str(msgs)
            for line in text.splitlines():
                log.info("scriptlet: %s", line)
                if line.startswith("error:"):
                    self.rpm_errors.append(line[len("error:"):].strip())

    def error(self, message: str) -> None:
        log.info("rpm: %s", message)  # a failure is reported once, by check_transaction, with its reason
        self.errors.append(str(message))


# rpm's scriptlet tags as dnf names them, and whether rpm installs the package anyway when one fails.
_SCRIPTLETS = {
    "PRETRANS": ("%pretrans", True), "PREIN": ("%pre", True), "POSTIN": ("%post", False),
    "POSTTRANS": ("%posttrans", False), "TRIGGERPREIN": ("%triggerprein", True),
    "TRIGGERIN": ("%triggerin", False), "FILETRIGGERIN": ("%filetriggerin", False),
    "TRANSFILETRIGGERIN": ("%transfiletriggerin", False), "VERIFYSCRIPT": ("%verifyscript", False),
}


def check_transaction(install_set: list[Any], in_rpmdb: set[rpmdb.Nevra], failed_states: set[str],
                       progress: TransactionProgress) -> None:
    """Fail unless every package dnf meant to install is in the image's rpm database and none failed.

    The dnf API, unlike the dnf command, raises nothing when rpm refuses a transaction element (a failed %pre,
    a payload that cannot be unpacked): the package is just missing.  So the rpm database and dnf's own item
    states decide; rpm's messages only say why.  A failed %post-style scriptlet leaves the package installed:
    a warning naming the package and the scriptlet, as dnf gives.
    """
    errors = [e for e in map(dnfcompat.element_error, progress.errors) if e is not None]
    failed: list[str] = []
    for pkg in install_set:
        nevra = rpmdb.Nevra(pkg.name, int(pkg.epoch or 0), pkg.version, pkg.release, pkg.arch)
        if nevra not in in_rpmdb or str(pkg) in failed_states:
            why = "; ".join(_explain(e) for e in errors if e.names(pkg.name, str(pkg)))
            failed.append(f"{pkg} ({why or 'not in the rpm database afterwards'})")
    _warn_failed_scriptlets(errors, failed)
    if failed:
        details = "; ".join(progress.rpm_errors[:5])
        raise PackageError(
            f"rpm did not install {len(failed)} of the {len(install_set)} packages: {', '.join(failed)}."
            + (f" rpm said: {details}." if details else "")
            + " The image would lack them, so nothing was written; fix or remove these packages."
        )


def _warn_failed_scriptlets(errors: list[dnfcompat.ElementError], failed: list[str]) -> None:
    """Warn of each failed scriptlet after which rpm installed the package anyway (%post and the like)."""
    for error in errors:
        if error.scriptlet is None or any(f.startswith(f"{error.package}-") for f in failed):
            continue
        name, fatal = _SCRIPTLETS.get(error.scriptlet, (error.scriptlet, False))
        if not fatal:
            log.warning("package %s: its %s scriptlet failed; rpm installed the package anyway", error.package, name)


def _explain(error: dnfcompat.ElementError) -> str:
    """dnf's error about one package, in kickstart terms ("Error in PREIN scriptlet" -> "its %pre failed")."""
    if error.scriptlet is not None:
        return f"its {_SCRIPTLETS.get(error.scriptlet, (error.scriptlet, False))[0]} scriptlet failed"
    if error.unpacking:
        return "its payload could not be unpacked"
    return error.message


@contextlib.contextmanager
def writeback(root: Path, interval: float = 1.0) -> Iterator[None]:
    """While rpm writes the image, flush it (syncfs) every *interval* seconds from a second thread.

    rpm uses one core; the kernel's writeback of a loop-mounted image, which would otherwise all happen when it
    is unmounted (about 1 s for 600 MiB), then runs on another one meanwhile.  Only for a mounted filesystem:
    a plain directory root lives on the host's filesystem, which is not ours to flush.
    """
    syncfs = getattr(_libc(), "syncfs", None)
    if syncfs is None or not os.path.ismount(root):
        yield
        return
    stop = threading.Event()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)

    def flush() -> None:
        while not stop.wait(interval):
            syncfs(fd)

    thread = threading.Thread(target=flush, name="imgcreate-writeback", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        os.close(fd)


def _libc() -> Any:
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True)  # the C library this Python runs on
    except OSError:
        return None


def transaction_error(exc: Exception) -> Exception:
    text = str(exc)
    if dnfcompat.is_out_of_room(exc):
        return ImageError(
            "The root filesystem is too small for the packages: "
            f"{' '.join(text.split())[:600]}. Make it larger in the kickstart, e.g. 'part / --size <MiB>'."
        )
    return PackageError(f"The package transaction failed: {text}")


