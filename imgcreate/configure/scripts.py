"""Running the kickstart's %pre, %post and %onerror scripts, in the install root or on the host.

As anaconda and upstream livecd-tools do: a chrooted script is written into the image's /tmp and run there;
a ``--nochroot`` script (and every %pre and %onerror) runs on the host from a file in the build directory,
with INSTALL_ROOT and IMG_NAME in its environment.  A failing script stops the build only with
``--erroronfail``; its last lines of output are in the error, all of it in the log.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from imgcreate.debug import PROGRESS
from imgcreate.errors import ScriptError
from imgcreate.host.run import passed_on, run
from imgcreate.kickstart.values import Script
from imgcreate.storage import inroot, rootfs

log = logging.getLogger("imgcreate")

_BASE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "HOME": "/root", "TERM": "dumb"}


@dataclass(frozen=True)
class ScriptPlace:
    """Where scripts run: the install root (None before it exists) and the host directory for script files."""

    root: Path | None
    scratch: Path
    image_name: str
    extra_env: Mapping[str, str] = field(default_factory=dict)


def run_script(script: Script, where: ScriptPlace, what: str) -> None:
    """Run one script; raise ScriptError if it fails and has ``--erroronfail``, else warn."""
    label = f"{what} script (kickstart line {script.lineno})"
    env = {**_BASE_ENV, **passed_on()}
    chroot = script.in_chroot and where.root is not None
    if chroot:
        assert where.root is not None
        if inroot.stat_in_root(where.root, script.interp) is None:
            # Upstream's exec fails and stops the build, --erroronfail or not; chroot would only exit 127 (seen:
            # an image without bash has no /bin/sh, and its %post was skipped with a warning nobody reads).
            raise ScriptError(f"The {label} cannot run: its interpreter {script.interp} is not in the image. "
                              "Add the package that provides it to %packages (bash gives /bin/sh).")
        rel = f"/tmp/ks-script-{os.getpid()}-{script.lineno}"
        rootfs.write_file(where.root, rel, script.body, mode=0o700)
        argv = [script.interp, rel]
        # Removed inside the root as it is after the script, which may have replaced /tmp by a link.
        remove: Callable[[], object] = functools.partial(inroot.unlink, where.root, rel)
    else:
        path = _host_script_file(script, where.scratch, what)
        argv = [script.interp, str(path)]
        remove = path.unlink
        if where.root is not None:
            env["INSTALL_ROOT"] = str(where.root)
        env["IMG_NAME"] = where.image_name
    env.update(where.extra_env)
    log.log(PROGRESS, "running %s%s", label, " in the install root" if chroot else " on the host")
    try:
        # A script on the host that leaves children running (``daemon &``) has them stopped when it ends (see
        # imgcreate.host.run); a chrooted one's are stopped when the install root is unmounted.
        result = run(argv, root=where.root if chroot else None, env=env, check=False, stream=True, cwd="/",
                     what=f"the {label}")
    finally:
        with contextlib.suppress(OSError):
            remove()
    if script.logfile:  # --log: inside the image for chrooted scripts, on the host otherwise
        if chroot:
            assert where.root is not None
            rootfs.write_file(where.root, script.logfile, result.stdout)
        else:
            Path(script.logfile).write_text(result.stdout)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.strip().splitlines()[-10:])
        status = (f"was killed by {_signal_name(-result.returncode)}" if result.returncode < 0
                  else f"failed with exit status {result.returncode}")
        msg = f"{label} {status}" + (f":\n{tail}" if tail else "")
        if script.error_on_fail:
            raise ScriptError(msg)
        log.warning("%s (continuing: the script has no --erroronfail)", msg)


def run_onerror_scripts(scripts: Iterable[Script], where: ScriptPlace) -> None:
    """Run %onerror scripts after a failure; their own failures are only logged, never hide the first error."""
    for script in scripts:
        try:
            run_script(script, where, "%onerror")
        except Exception as exc:
            log.warning("%%onerror script failed: %s", exc)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _host_script_file(script: Script, scratch: Path, what: str) -> Path:
    scratch.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"ks-script-{what.strip('%')}-", dir=scratch)
    with os.fdopen(fd, "w") as f:
        f.write(script.body)
    path = Path(name)
    path.chmod(0o700)
    return path
