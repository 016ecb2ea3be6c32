"""ImageCreator and LoopImageCreator: the build pipeline and its hooks.

A build is a flat sequence of named phases (mount, install, configure, unmount, package), each timed and logged.
Every resource is registered for release the moment it is acquired, on one of two stacks:

* ``_mounts``: the install root's filesystem, the API filesystems in it, and the processes started in it.
  ``unmount()`` unwinds it (the image stays in the build directory for ``package()``).
* ``_resources``: the build directory itself.  ``cleanup()`` unwinds both, also when the creator is used as a
  context manager, whatever the exit (exception, Ctrl-C, or a signal the CLI turns into an exception).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from imgcreate import config, fs, kickstart, rootfs, signals
from imgcreate.errors import CommandError, CreatorError, ImageError, ScriptError
from imgcreate.kickstart import RepoSpec
from imgcreate.run import find_tool, run

log = logging.getLogger("imgcreate")

MIN_TMPDIR_FREE = 100 * 1024 * 1024
FULL_DISK_FREE = 8 * 1024 * 1024


def host_releasever() -> str | None:
    """The host's release version, the default for $releasever (as yum used the running system's)."""
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("VERSION_ID="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return None


class ImageCreator:
    """Installs a system image from a kickstart into an install root.

    ``ks`` is a kickstart handler (see :func:`imgcreate.read_kickstart`), ``name`` the image's name.  On its
    own this class installs into a plain directory; subclasses decide where the install root lives
    (``_mount_instroot``) and what the result is (``_stage_final_image``).
    """

    def __init__(
        self,
        ks: kickstart.KickstartHandler,
        name: str,
        releasever: str | None = None,
        tmpdir: str | os.PathLike[str] = "/var/tmp",
        cacheonly: bool = False,
        docleanup: bool = True,
        pkgverify_level: str = "none",
    ) -> None:
        if not name or "/" in name or name in (".", ".."):
            raise CreatorError(f"Invalid image name '{name}': it must be a non-empty file name without '/'.")
        self.ks = ks
        self.config = kickstart.read_config(ks)
        self.name = name
        self.releasever = releasever or host_releasever()
        self.tmpdir = Path(tmpdir)
        self.cacheonly = cacheonly
        self.docleanup = docleanup
        self.pkgverify_level = pkgverify_level
        self.timings: dict[str, float] = {}
        self.full_disk: str | None = None  # set to --tmpdir if a phase failed while it was full
        self.install_result: Any = None
        self.extra_repos: list[RepoSpec] = []
        self._builddir: Path | None = None
        self._cachedir: Path | None = None
        self._mounts = contextlib.ExitStack()
        self._resources = contextlib.ExitStack()
        self._mounted = False

    # -- paths -----------------------------------------------------------------------------------------------
    @property
    def _instroot(self) -> Path:
        return self._require_builddir() / "install_root"

    @property
    def _outdir(self) -> Path:
        return self._require_builddir() / "out"

    @property
    def builddir(self) -> Path | None:
        return self._builddir

    def _require_builddir(self) -> Path:
        if self._builddir is None:
            raise CreatorError("The image is not set up yet: call mount() first.")
        return self._builddir

    # -- context manager --------------------------------------------------------------------------------------
    def __enter__(self) -> ImageCreator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()

    def check_host_tools(self) -> None:
        """Fail before anything is built if a host tool this kind of image needs is missing."""
        for tool in self._host_tools():
            find_tool(tool)

    def _host_tools(self) -> list[str]:
        return ["chroot", "mount", "umount"]

    # -- hooks for subclasses -----------------------------------------------------------------------------------
    def _mount_instroot(self, base_on: str | None = None) -> None:
        """Make the filesystem the install root lives on, mounted at ``self._instroot``.  Default: a directory."""
        self._instroot.mkdir(parents=True, exist_ok=True)

    def _unmount_instroot(self) -> None:
        """Undo ``_mount_instroot``.  Called when ``_mounts`` unwinds, even if mounting failed half-way."""

    def _create_bootconfig(self) -> None:
        """Set up what the image needs to boot (initramfs, boot loader configuration).  Root is still mounted."""

    def _stage_final_image(self) -> None:
        """Turn the unmounted image into its final form in ``self._outdir`` (e.g. an ISO)."""

    def _get_required_packages(self) -> list[str]:
        """Packages this kind of image always needs, on top of %packages."""
        return []

    def _get_excluded_packages(self) -> list[str]:
        """Packages this kind of image must never contain."""
        return []

    def _get_fstab(self) -> str:
        return _PSEUDO_FSTAB

    def _get_kernel_options(self) -> str:
        """Kernel command line arguments: ``bootloader --append`` from the kickstart."""
        return self.config.bootloader.kernel_args()

    def _get_post_scripts_env(self, in_chroot: bool) -> dict[str, str]:
        """Extra environment variables for %post scripts."""
        return {}

    # -- phases ---------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        log.info("== %s", name)
        start = time.monotonic()
        _inject_fault(name, "start")
        try:
            yield
            _inject_fault(name, "end")
        except BaseException:
            self._note_full_disk()
            raise
        finally:
            took = time.monotonic() - start
            self.timings[name] = self.timings.get(name, 0.0) + took
            log.info("== %s took %.1f s", name, took)

    def _note_full_disk(self) -> None:
        """Remember whether --tmpdir was full when a phase failed: tools report that in many different ways."""
        with contextlib.suppress(OSError):
            if self.full_disk is None and shutil.disk_usage(self.tmpdir).free < FULL_DISK_FREE:
                self.full_disk = str(self.tmpdir)

    def create(self) -> None:
        """Run the whole pipeline: mount, install, configure, unmount, package (to the current directory)."""
        try:
            self.mount()
            self.install()
            self.configure()
            self.unmount()
            self.package()
        except BaseException:
            self.run_onerror_scripts()
            raise

    def mount(self, base_on: str | None = None, cachedir: str | os.PathLike[str] | None = None) -> None:
        """Create the build directory and the install root, and mount /proc, /sys, /dev in it."""
        if self._mounted:
            return
        if self._builddir is None:
            self.tmpdir.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(self.tmpdir).free
            if free < MIN_TMPDIR_FREE:
                raise ImageError(
                    f"The temporary directory {self.tmpdir} has only {free // 1048576} MiB free; a build needs at "
                    f"least {MIN_TMPDIR_FREE // 1048576} MiB there (more for large images). Free some space or "
                    "choose another one with --tmpdir."
                )
            self._builddir = Path(tempfile.mkdtemp(prefix="imgcreate-", dir=self.tmpdir))
            if self.docleanup:
                self._resources.callback(fs.remove_tree, self._builddir)
            else:
                self._resources.callback(log.info, "keeping the build directory %s (--nocleanup)", self._builddir)
            self._outdir.mkdir()
        if cachedir is not None:
            self._cachedir = Path(cachedir).resolve()
        with self._phase("mount"):
            self._mounted = True
            self._mounts.callback(self._unmount_instroot)
            self._mount_instroot(base_on)
            self._instroot.mkdir(exist_ok=True)
            rootfs.mount_api_filesystems(self._mounts, self._instroot)
            # Registered last, so it runs first on the way out: nothing may keep the root busy.
            self._mounts.callback(fs.kill_processes_in, self._instroot)

    def install(self, repo_urls: dict[str, str] | None = None) -> None:
        """Install %packages (plus the image type's required packages) from the kickstart's repositories."""
        from imgcreate.dnfbackend import DnfInstaller, cache_lock  # dnf is heavy: import it only to install

        self._require_mounted()
        self.run_pre_scripts()
        builddir = self._require_builddir()
        cachedir = self._cachedir or builddir / "cache"
        repos = list(self.config.repos) + list(self.extra_repos)
        for name, url in (repo_urls or {}).items():
            repos.append(RepoSpec(name=name, baseurl=(url,)))
        spec = self.config.packages.with_extra(self._get_required_packages(), self._get_excluded_packages())
        # libdnf and rpm call back into Python all the time, and an exception raised there by a signal handler
        # becomes a garbled SWIG error or makes rpm abort the process: signals act once dnf is done (a SIGINT
        # during a download still stops it at once, through librepo).
        with self._phase("install"), cache_lock(cachedir), signals.deferred("the package installation"), \
                DnfInstaller(self._instroot, self.releasever or "", cachedir, builddir / "dnf-log",
                             cacheonly=self.cacheonly, pkgverify_level=self.pkgverify_level) as dnfi:
            for repo in repos:
                dnfi.add_repo(repo)
            self.install_result = dnfi.run(spec)
            for key, value in dnfi.timings.items():
                self.timings[f"install.{key}"] = value

    def configure(self) -> None:
        """Apply kickstart configuration, the boot configuration, then %post scripts, as upstream does."""
        self._require_mounted()
        root = self._instroot
        with self._phase("configure"):
            config.write_fstab(root, self._get_fstab())
            config.apply_before_post(root, self.config)
            self._create_bootconfig()
        with self._phase("post"), rootfs.host_resolv_conf(root):
            self.run_post_scripts()
        with self._phase("configure-final"):
            config.apply_after_post(root, self.config)

    def unmount(self) -> None:
        """Stop what runs in the root, unmount everything and detach loop devices; the build directory stays."""
        if not self._mounted:
            return
        with self._phase("unmount"):
            self._release_mounts()

    def _release_mounts(self) -> None:
        """Unwind the mount stack: stop processes in the root, unmount, detach loop devices (reverse order)."""
        try:
            self._mounts.close()
        finally:
            self._mounted = False

    def package(self, destdir: str | os.PathLike[str] = ".") -> list[Path]:
        """Make the final image and move it to *destdir*.  *destdir* receives complete files or nothing."""
        if self._mounted:
            self.unmount()
        self._require_builddir()
        with self._phase("package"):
            self._stage_final_image()
        dest = Path(destdir)
        dest.mkdir(parents=True, exist_ok=True)
        moved: list[Path] = []
        try:
            for item in sorted(self._outdir.iterdir()):
                moved.append(_move_atomically(item, dest / item.name))
        except BaseException:
            for path in moved:
                with contextlib.suppress(OSError):
                    path.unlink()
            raise
        for path in moved:
            log.info("wrote %s", path)
        return moved

    def cleanup(self) -> None:
        """Unmount everything and remove the build directory (kept with docleanup=False, but still unmounted)."""
        with signals.deferred("cleaning up"):
            try:
                self._release_mounts()
            finally:
                self._resources.close()
                self._builddir = None

    def launch_shell(self, launch: bool = True) -> None:
        """Start an interactive shell chrooted into the install root."""
        from imgcreate.run import run_interactive

        self._require_mounted()
        if launch:
            run_interactive(["/bin/sh", "-i"], root=self._instroot)

    # -- scripts --------------------------------------------------------------------------------------------
    def _require_mounted(self) -> None:
        if not self._mounted:
            raise CreatorError("The install root is not mounted: call mount() first.")

    def run_pre_scripts(self) -> None:
        for script in self.config.scripts_of(kickstart.ScriptKind.PRE):
            self._run_script(script, "%pre", in_chroot=False)

    def run_post_scripts(self) -> None:
        for script in self.config.scripts_of(kickstart.ScriptKind.POST):
            self._run_script(script, "%post", in_chroot=script.in_chroot)

    def run_onerror_scripts(self) -> None:
        """Run %onerror scripts on the host after a failure; their own failures are only logged."""
        for script in self.config.scripts_of(kickstart.ScriptKind.ONERROR):
            try:
                self._run_script(script, "%onerror", in_chroot=False)
            except Exception as exc:  # a failing %onerror must not hide the original error
                log.warning("%%onerror script failed: %s", exc)

    def _run_script(self, script: kickstart.Script, kind: str, in_chroot: bool) -> None:
        interp = script.interp
        where = f"{kind} script (kickstart line {script.lineno})"
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "HOME": "/root", "TERM": "dumb"}
        if in_chroot:
            rel = f"/tmp/ks-script-{os.getpid()}-{script.lineno}"
            path = rootfs.write_file(self._instroot, rel, script.body, mode=0o700)
            argv = [interp, rel]
            root: Path | None = self._instroot
        else:
            # On the host: in the build directory, or (an %onerror before there was one) in --tmpdir.
            scratch = self._builddir or self.tmpdir
            scratch.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f"ks-script-{kind.strip('%')}-", dir=scratch)
            with os.fdopen(fd, "w") as f:
                f.write(script.body)
            path = Path(name)
            path.chmod(0o700)
            argv = [interp, str(path)]
            root = None
            if self._builddir is not None:
                env["INSTALL_ROOT"] = str(self._instroot)
            env["IMG_NAME"] = self.name
        env.update(self._get_post_scripts_env(in_chroot))
        log.info("running %s%s", where, " in the install root" if in_chroot else " on the host")
        try:
            result = run(argv, root=root, env=env, check=False, stream=True, cwd="/")
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
        if script.logfile:  # --log: inside the image for chrooted scripts, on the host otherwise
            if in_chroot:
                rootfs.write_file(self._instroot, script.logfile, result.stdout)
            else:
                Path(script.logfile).write_text(result.stdout)
        if result.returncode != 0:
            tail = "\n".join(result.stdout.strip().splitlines()[-10:])
            msg = f"{where} failed with exit status {result.returncode}" + (f":\n{tail}" if tail else "")
            if script.error_on_fail:
                raise ScriptError(msg)
            log.warning("%s (continuing: the script has no --erroronfail)", msg)


FAULT_ENV = "IMGCREATE_INJECT_FAULT"


def _inject_fault(phase: str, when: str) -> None:
    """A testing aid: ``IMGCREATE_INJECT_FAULT=<phase>:<start|end>:<exception|SIGINT|SIGTERM|SIGHUP>``.

    The fault-injection tests use it to fail each phase of a real build at a known point, and then check from
    outside that nothing is left behind.  Unset (always, in normal use), it does nothing.
    """
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    try:
        want_phase, want_when, kind = spec.split(":")
    except ValueError:
        return
    if (want_phase, want_when) != (phase, when):
        return
    log.warning("injecting a fault (%s) at the %s of phase %s", kind, when, phase)
    if kind == "exception":
        raise CreatorError(f"Injected fault at the {when} of phase {phase} ({FAULT_ENV}).")
    os.kill(os.getpid(), getattr(signal, kind))
    time.sleep(1)  # the signal handler raises here


_PSEUDO_FSTAB = (
    "devpts     /dev/pts  devpts  gid=5,mode=620  0 0\n"
    "tmpfs      /dev/shm  tmpfs   defaults        0 0\n"
    "proc       /proc     proc    defaults        0 0\n"
    "sysfs      /sys      sysfs   defaults        0 0\n"
)


def _move_atomically(src: Path, dest: Path) -> Path:
    """Move *src* to *dest* so that *dest* appears complete or not at all (rename, or copy to a hidden temp)."""
    try:
        os.rename(src, dest)
        return dest
    except OSError:
        pass
    tmp = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    try:
        if src.is_dir():
            shutil.copytree(src, tmp, symlinks=True)
        else:
            shutil.copy2(src, tmp)
        os.rename(tmp, dest)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    return dest


class LoopImageCreator(ImageCreator):
    """An ext2/3/4 filesystem image in a sparse loopback file, ``<name>.img``.

    Size and type come from ``part / --size N --fstype T`` (default 4096 MiB, ext4); the filesystem label from
    ``fslabel`` (default: the name; ext labels hold 16 characters).  The result is checked, shrunk to its
    minimal size and grown back sparsely to its nominal size, as upstream does.
    """

    def __init__(self, ks: kickstart.KickstartHandler, name: str, fslabel: str | None = None, **kwargs: Any) -> None:
        super().__init__(ks, name, **kwargs)
        self.fslabel = fslabel or self.config.root_partition.label or name
        self._image_size = self.config.root_partition.size
        self._fstype = self.config.root_partition.fstype
        if self._fstype not in fs.EXT_TYPES:
            raise ImageError(
                f"The kickstart asks for a '{self._fstype}' root filesystem (part / --fstype); "
                f"image-creator makes {', '.join(fs.EXT_TYPES)}."
            )
        self._loop = contextlib.ExitStack()
        self.minimal_size: int | None = None

    @property
    def _image(self) -> Path:
        return self._require_builddir() / "image" / f"{self.name}.img"

    @property
    def fstype(self) -> str:
        return self._fstype

    @property
    def image_size(self) -> int:
        return self._image_size

    def _host_tools(self) -> list[str]:
        return [*super()._host_tools(), "losetup", f"mkfs.{self._fstype}", "e2fsck", "resize2fs", "dumpe2fs"]

    def _mount_instroot(self, base_on: str | None = None) -> None:
        image = self._image
        image.parent.mkdir(exist_ok=True)
        if base_on:
            log.info("starting from the existing image %s", base_on)
            shutil.copyfile(base_on, image)
            fs.make_sparse(image, max(self._image_size, os.path.getsize(image)))
        else:
            fs.make_sparse(image, self._image_size)
        device = fs.attach_loop(self._loop, image)
        if base_on:
            fs.fsck(Path(device))
            run(["resize2fs", device], what="Growing the base image")
        else:
            fs.mkfs_ext(device, self._fstype, self.fslabel)
        self._instroot.mkdir(exist_ok=True)
        fs.mount(self._loop, device, self._instroot, fstype=self._fstype)

    def _unmount_instroot(self) -> None:
        self._loop.close()

    def _get_fstab(self) -> str:
        return f"LABEL={self.fslabel[:16]}  /  {self._fstype}  defaults,noatime  0 0\n" + _PSEUDO_FSTAB

    def _shrink_image(self) -> None:
        """Check, minimize and grow the image back sparsely to its nominal size (upstream's ``_resparse``)."""
        try:
            self.minimal_size = fs.resparse(self._image, self._image_size)
        except CommandError as exc:
            raise ImageError(f"Could not check and shrink the image {self._image}: {exc}") from exc

    def _stage_final_image(self) -> None:
        self._shrink_image()
        os.rename(self._image, self._outdir / self._image.name)
