"""ImageCreator and LoopImageCreator: the build steps and the hooks image types fill in.

The order of the steps is :func:`imgcreate.build.pipeline.build_image`; each step (mount, install, configure, unmount,
package) is a public method, timed and logged as a phase.  Where the root lives is a storage object
(:mod:`imgcreate.storage.roots`) chosen by the ``_root_storage()`` hook.  Settings are the creator's attributes
(constructor keywords, or set afterwards, as upstream's API has it) until ``mount()`` takes one frozen
:class:`~imgcreate.config.model.BuildConfig` from them (:attr:`ImageCreator.build_config`), the only thing the build
reads (``cleanup()`` drops it).  Every resource is released from one of two stacks, registered when acquired:

* ``_mounts``: the install root's filesystem, the API filesystems in it, and the processes started in it.
  ``unmount()`` unwinds it (the image stays in the build directory for ``package()``).
* ``_resources``: the build directory, and for another architecture (``--forcearch``) its emulator's binfmt_misc
  entry.  ``cleanup()`` unwinds both, whatever the exit (exception, Ctrl-C, or a signal the CLI turns into one).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from imgcreate import configure, kickstart
from imgcreate.boot.boottest import BootTest
from imgcreate.build import builddir, incremental, manifest
from imgcreate.build.artifacts import Artifact, ArtifactKind
from imgcreate.build.install import InstallRequest
from imgcreate.build.install import install as install_packages
from imgcreate.build.phases import Phases
from imgcreate.build.pipeline import BuildOptions, build_image
from imgcreate.build.upstreamhooks import LoopUpstreamMembers, UpstreamMembers, call_stage_final_image
from imgcreate.config import parse
from imgcreate.config.model import BuildConfig, LoopConfig
from imgcreate.configure import scripts
from imgcreate.errors import CreatorError
from imgcreate.host import binfmt, fs, signals
from imgcreate.host.run import find_tool, passed_to_commands
from imgcreate.kickstart import RepoSpec
from imgcreate.packages import repofiles, rpmdb, warmup
from imgcreate.storage import inroot, reproducible, rootfs
from imgcreate.storage.roots import DirectoryRoot, ExtImage, ReproducibleExtImage, RootStorage
from imgcreate.strpath import StrPath

log = logging.getLogger("imgcreate")
FSLABEL_MAXLEN = kickstart.FSLABEL_MAXLEN  # upstream defines it here; imgcreate re-exports it

_Creator = TypeVar("_Creator", bound="ImageCreator")


class ImageCreator(UpstreamMembers):
    """Installs a system image from a kickstart into an install root.

    ``ks`` is a kickstart handler (see :func:`imgcreate.read_kickstart`) or a pykickstart parser, read once into
    ``self.config``; ``name`` is the image's name.  On its own this class installs into a plain directory;
    subclasses decide where the install root lives (``_root_storage``) and what the result is
    (``_stage_final_image``).
    """

    def __init__(self, ks: kickstart.KickstartHandler, name: str, releasever: str | None = None,
                 tmpdir: str | os.PathLike[str] = "/var/tmp", useplugins: bool = False, cacheonly: bool = False,
                 docleanup: bool = True, pkgverify_level: str | None = None,
                 source_date_epoch: int | None = None) -> None:
        if not name or "/" in name or name in (".", ".."):
            raise CreatorError(f"Invalid image name '{name}': it must be a non-empty file name without '/'.")
        self.ks = ks
        self.config = kickstart.read_config(ks)
        self.name = name
        self.releasever = releasever or repofiles.host_releasever()
        self.tmpdir = tmpdir
        self.useplugins = useplugins  # upstream's: dnf plugins (none are loaded for image builds; see dnfinst)
        self.fstype = self.config.root_partition.fstype  # upstream's _fstype
        self.cacheonly = cacheonly
        self.docleanup = docleanup
        self.pkgverify_level = pkgverify_level
        self._phases = Phases(lambda: self._snapshot.tmpdir if self._snapshot is not None else self.tmpdir.path)
        self.install_result: Any = None
        self.package_list: list[str] | None = None  # name-epoch:version-release.arch, read before unmounting
        self.artifacts: list[Artifact] = []  # what package() delivered, typed (the boot test reads it)
        # --incremental: the cache of installed trees (imgcreate.build.incremental); None: always install.
        self.incremental: Path | None = None
        self.forcearch: str | None = None  # --forcearch (rpm's name, e.g. aarch64); None: this machine's
        # --boot-test (our extension): boot what package() delivers, build_image's last step (in create() too)
        self.boot_test: BootTest | None = None
        self._based_on: str | None = None
        self._install_key: incremental.InstallKey | None = None  # with --incremental, once installed
        # A reproducible build (imgcreate.storage.reproducible): --source-date-epoch, else $SOURCE_DATE_EPOCH as
        # the caller's environment has it now; passed to every command the build runs (see mount()).
        self.source_date_epoch = (source_date_epoch if source_date_epoch is not None
                                  else reproducible.epoch_from())
        self.extra_repos: list[RepoSpec] = []
        self._builddir: Path | None = None
        self._cachedir: Path | None = None
        self._mounts = contextlib.ExitStack()
        self._resources = contextlib.ExitStack()
        self._mounted = False
        self._storage: RootStorage | None = None
        self._snapshot: BuildConfig | None = None  # taken by mount(), dropped by cleanup()

    # -- settings ----------------------------------------------------------------------------------------------
    @property
    def build_config(self) -> BuildConfig:
        """The build's settings: the snapshot ``mount()`` took, or (before it) one made from the attributes now
        (checked: a :class:`CreatorError` says every problem in one paragraph)."""
        return self._snapshot if self._snapshot is not None else self._make_config()

    def _make_config(self) -> BuildConfig:
        return parse.make_config(
            kind=type(self).__name__, name=self.name, releasever=self.releasever or "", arch=self.forcearch,
            tmpdir=self.tmpdir.path, cacheonly=self.cacheonly, docleanup=self.docleanup, incremental=self.incremental,
            pkgverify_level=self.pkgverify_level, source_date_epoch=self.source_date_epoch, boot_test=self.boot_test,
            **self._config_sections())

    def _config_sections(self) -> dict[str, Any]:
        return {}  # the image type's sections (``loop``, ``live``: imgcreate.config.parse)

    # -- paths -----------------------------------------------------------------------------------------------
    @property
    def tmpdir(self) -> StrPath:
        """Where the build directory is made: a ``str`` as upstream's (scripts set it as one), also joining with
        ``/`` (see :class:`~imgcreate.strpath.StrPath`)."""
        return self._tmpdir

    @tmpdir.setter
    def tmpdir(self, value: str | os.PathLike[str]) -> None:
        # Made absolute now, as upstream's tools do (os.path.abspath(options.tmpdir)): the build directory's paths
        # are handed to dnf (which refuses a relative install root) and to commands run in other folders.
        self._tmpdir = StrPath(os.path.abspath(value))

    @property
    def _instroot(self) -> StrPath:
        """The install root (upstream's ``str``, also joining with ``/``); exists from ``mount()`` on."""
        return StrPath(self._require_builddir() / "install_root")

    @property
    def _outdir(self) -> StrPath:
        """Where ``_stage_final_image`` puts the image for ``package()`` to deliver (a ``StrPath``)."""
        return StrPath(self._require_builddir() / "out")

    def _api_root(self) -> Path:
        return self._instroot.path

    def _excludes_weakdeps(self) -> bool:
        return self.config.packages.exclude_weakdeps

    @property
    def is_mounted(self) -> bool:
        """Whether the install root is mounted (between mount() and unmount())."""
        return self._mounted

    @property
    def builddir(self) -> Path | None:
        return self._builddir

    def _require_builddir(self) -> Path:
        if self._builddir is None:
            raise CreatorError("The image is not set up yet: call mount() first.")
        return self._builddir

    # -- context manager --------------------------------------------------------------------------------------
    def __enter__(self: _Creator) -> _Creator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()

    def check_host_tools(self) -> None:
        """Fail before anything is built if a host tool this kind of image needs is missing."""
        for tool in self._host_tools():
            find_tool(tool)
        if self.boot_test is not None:
            self.boot_test.check_host(self.forcearch)

    def _host_tools(self) -> list[str]:
        return ["chroot", "mount", "umount", *self._get_storage().host_tools(), *binfmt.tools(self.build_config.arch)]

    # -- hooks for subclasses -----------------------------------------------------------------------------------
    def _root_storage(self) -> RootStorage:
        """What the install root lives on (asked once per build, from :attr:`build_config`).  Default: a
        directory in the build directory."""
        return DirectoryRoot()

    def _get_storage(self) -> RootStorage:
        if self._snapshot is None:
            return self._root_storage()  # before mount(): what the settings would choose now (host tools)
        if self._storage is None:
            self._storage = self._root_storage()
        return self._storage

    def _mount_instroot(self, base_on: str | None = None) -> None:
        """Make the filesystem the install root lives on, mounted at ``self._instroot``: opens the root storage.

        Everything it acquires is released when the install root is unmounted, in reverse order.
        """
        self._get_storage().open(self._mounts, self._instroot.path, self._require_builddir(),
                                 Path(base_on) if base_on else None)

    def _unmount_instroot(self) -> None:
        """Undo what an overriding ``_mount_instroot`` did by itself.  Called when the install root is unmounted,
        even if mounting failed half-way (the root storage releases itself; this default does nothing)."""

    def _on_unmount(self, callback: Callable[[], object]) -> None:
        """Run *callback* when the install root is unmounted, before what was mounted so far is released.

        For files a build step puts into the image for the build only (e.g. the live dracut configuration).
        """
        self._mounts.callback(callback)

    def _create_bootconfig(self) -> None:
        """Set up what the image needs to boot (initramfs, boot loader configuration).  Root is still mounted."""

    def _stage_final_image(self, ops: list[str] | None = None) -> None:
        """Turn the unmounted image into its final form in ``self._outdir`` (e.g. an ISO).  *ops*: what
        ``package()`` was given (upstream's options list).

        The base creator's result is upstream's: the install tree itself, delivered as the directory ``<name>``.
        """
        os.rename(self._instroot, self._outdir / self.build_config.name)

    def _get_required_packages(self) -> list[str]:
        """Packages this kind of image always needs, on top of %packages."""
        return []

    def _get_excluded_packages(self) -> list[str]:
        """Packages this kind of image must never contain."""
        return []

    def _get_fstab(self) -> str:
        """The image's /etc/fstab: the root's line (``_fstab_root``), then ``_get_fstab_special()``."""
        return self._fstab_root() + self._get_fstab_special()

    def _get_fstab_special(self) -> str:
        """The pseudo filesystems' fstab lines (devpts, /dev/shm, proc, sysfs), as upstream's."""
        return configure.PSEUDO_FSTAB

    def _fstab_root(self) -> str:
        """The root filesystem's fstab line, or "" (a directory root has none)."""
        return ""

    def _get_kernel_options(self) -> str:
        """Kernel command line arguments: ``bootloader --append`` from the kickstart."""
        return self.config.bootloader.kernel_args()

    def _get_post_scripts_env(self, in_chroot: bool) -> dict[str, str]:
        """Extra environment variables for %post scripts."""
        return {}

    # -- phases ---------------------------------------------------------------------------------------------
    def _phase(self, name: str) -> contextlib.AbstractContextManager[None]:
        """A phase of the build: logged, timed, watched by :data:`imgcreate.build.phases.PHASE_HOOKS`."""
        return self._phases.phase(name)

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per phase (mount, install, install.resolve, ..., package), for the log and the benchmark."""
        return self._phases.timings

    @property
    def full_disk(self) -> str | None:
        """--tmpdir, when a phase failed while it was full (the command line then says so)."""
        return self._phases.full_disk

    def create(self, destdir: str | os.PathLike[str] = ".") -> list[Path]:
        """Build the whole image into *destdir* (the pipeline the command-line tools run); returns its files."""
        return build_image(self, BuildOptions(destdir=Path(destdir)))

    def mount(self, base_on: str | None = None, cachedir: str | os.PathLike[str] | None = None) -> None:
        """Take the settings' snapshot (:attr:`build_config`), create the build directory and the install root,
        and mount /proc, /sys, /dev in it."""
        if self._mounted:
            return
        if self._snapshot is None:
            self._snapshot = self._make_config()
        cfg = self._snapshot
        if self._builddir is None:
            self._resources.enter_context(passed_to_commands(reproducible.command_env(cfg.source_date_epoch)))
            self._builddir = builddir.create(self._resources, cfg.tmpdir, keep=not cfg.docleanup)
            binfmt.emulation(self._resources, cfg.arch)
        if cachedir is not None:
            self._cachedir = Path(cachedir).resolve()
        self._based_on = base_on
        with self._phase("mount"):
            warmup.start()  # dnf's import overlaps the commands of the mount (packages/warmup.py says why)
            self._mounted = True
            self._mounts.callback(self._unmount_instroot)
            self._mount_instroot(base_on)
            self._instroot.path.mkdir(exist_ok=True)
            self._mounts.callback(self._undo_bindmounts)
            self._do_bindmounts()
            # Registered last, so it runs first on the way out: nothing may keep the root busy.
            self._mounts.callback(fs.kill_processes_in, self._instroot.path)

    def install(self, repo_urls: dict[str, str] | None = None,
                repo: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None) -> None:
        """Install %packages (plus the image type's required packages) from the kickstart's repositories; *repo*
        (``.repo`` files or folders, upstream's ``--repo``) replaces them; *repo_urls* (name -> URL), upstream's,
        gives the repository of that name that URL, its mirror list dropped (an unknown name adds one)."""
        self._require_mounted()
        cfg = self.build_config
        self.run_pre_scripts()
        workdir = self._require_builddir()
        repos = repofiles.build_repos(self.config.repos, repo, self.extra_repos, repo_urls)
        spec = self.config.packages.with_extra(self._get_required_packages(), self._get_excluded_packages())
        request = InstallRequest(
            root=self._instroot.path, workdir=workdir, cachedir=self._cachedir or workdir / "cache", spec=spec,
            repos=repos, releasever=cfg.releasever, cacheonly=cfg.cacheonly,
            pkgverify_level=cfg.pkgverify_level, key_settings=cfg.install_settings(), incremental=cfg.incremental,
            based_on=self._based_on, arch=cfg.arch)
        self.install_result, self._install_key = install_packages(request, self._phase, self.timings)

    def _compressed_root(self) -> tuple[incremental.TreeCache, incremental.InstallKey, str] | None:
        """Where --incremental keeps this build's compressed root (cache, tree key, root key from the fields that
        shape the root); None when the tree was not keyed (no --incremental, --base-on, unreadable metadata)."""
        cfg = self.build_config
        if cfg.incremental is None or self._install_key is None:
            return None
        key = incremental.root_key(self._install_key, kickstart.flattened(self.ks), cfg.root_settings())
        return incremental.TreeCache(cfg.incremental), self._install_key, key

    def configure(self) -> None:
        """Apply kickstart configuration, the boot configuration, then %post scripts, as upstream does."""
        self._require_mounted()
        root = self._instroot.path
        with self._phase("configure"):
            configure.write_fstab(root, self._get_fstab())
            configure.apply_before_post(root, self.config)
            self._create_bootconfig()
        with self._phase("post"), rootfs.host_resolv_conf(root):
            self._run_post_scripts()
        with self._phase("configure-final"):
            self._configure_after_post(root)

    def _configure_after_post(self, root: Path) -> None:
        """What comes after %post: the SELinux relabel (editliveos -S leaves it out)."""
        configure.apply_after_post(root, self.config)

    def unmount(self) -> None:
        """Stop what runs in the root, unmount everything and detach loop devices; the build directory stays.

        The installed package list is read first, for the ``<name>.packages`` manifest (see :meth:`package`)."""
        if not self._mounted:
            return
        with self._phase("unmount"):
            if inroot.is_dir(self._instroot.path, rpmdb.DBPATH):
                self.package_list = manifest.package_lines(self._instroot.path)
            self._release_mounts()
            epoch = self.build_config.source_date_epoch
            if epoch is not None and self._instroot.path.is_dir():
                reproducible.normalize_tree(self._instroot.path, epoch)

    def _release_mounts(self) -> None:
        """Unwind the mount stack: stop processes in the root, unmount, detach loop devices (reverse order)."""
        try:
            self._mounts.close()
        finally:
            self._mounted = False

    def package(self, destdir: str | os.PathLike[str] = ".", ops: list[str] | None = None) -> list[Path]:
        """Make the final image and move it to *destdir*.  *destdir* receives complete files or nothing.
        *ops* (upstream's options list) is handed to ``_stage_final_image`` when that hook takes it."""
        if self._mounted:
            self.unmount()
        self._require_builddir()
        with self._phase("package"):
            call_stage_final_image(self._stage_final_image, list(ops or []))
            self._write_manifest()
        delivered = sorted(builddir.deliver(self._outdir.path, Path(destdir)), key=manifest.is_manifest)
        self.artifacts = [Artifact(p, ArtifactKind.MANIFEST) if manifest.is_manifest(p) else self._artifact(p)
                          for p in delivered]
        return delivered  # the image first, as before there was a manifest

    def _artifact(self, path: Path) -> Artifact:
        """What the delivered image file *path* is (a hook: each kind of image says what it made)."""
        return Artifact(path, ArtifactKind.FILESYSTEM_IMAGE)

    def _write_manifest(self) -> None:
        manifest.write_manifest(self._outdir.path, self.build_config.name, self.package_list, self.ks)

    def cleanup(self) -> None:
        """Unmount everything and remove the build directory (kept with docleanup=False, but still unmounted)."""
        with signals.deferred("cleaning up"):
            try:
                self._release_mounts()
            finally:
                self._resources.close()
                self._builddir = None
                self._snapshot = self._storage = None  # the next mount() takes the settings anew

    def launch_shell(self, prompt: str | None = None) -> int:
        """An interactive shell chrooted into the install root (upstream's ``-l``); returns its exit status.
        The host's root is at ``/run/imgcreate/host`` (read-only), and what :meth:`_shell_binds` names (a live
        image's ISO tree) under ``/run/imgcreate`` (see :func:`imgcreate.storage.rootfs.interactive_shell`)."""
        self._require_mounted()
        return rootfs.interactive_shell(self._instroot.path, [("host", Path("/"), "ro"), *self._shell_binds()],
                                        prompt or f"[{self.name} chroot \\w]# ")

    def _shell_binds(self) -> list[tuple[str, Path, str | None]]:
        """What ``launch_shell`` binds in under /run/imgcreate besides the host: (name, host path, options)."""
        return []

    # -- scripts --------------------------------------------------------------------------------------------
    def _require_mounted(self) -> None:
        if not self._mounted:
            raise CreatorError("The install root is not mounted: call mount() first.")

    def run_pre_scripts(self) -> None:
        for script in self.config.scripts_of(kickstart.ScriptKind.PRE):
            scripts.run_script(script, self._script_place(script.in_chroot), "%pre")

    def run_post_scripts(self) -> None:
        for script in self.config.scripts_of(kickstart.ScriptKind.POST):
            scripts.run_script(script, self._script_place(script.in_chroot), "%post")

    def run_onerror_scripts(self) -> None:
        """Run %onerror scripts on the host after a failure; their own failures are only logged."""
        scripts.run_onerror_scripts(self.config.scripts_of(kickstart.ScriptKind.ONERROR),
                                    self._script_place(in_chroot=False))

    def _script_place(self, in_chroot: bool) -> scripts.ScriptPlace:
        """Where a script runs: the install root once there is one; host files in the build dir (else --tmpdir)."""
        return scripts.ScriptPlace(
            root=self._instroot.path if self._builddir is not None else None,
            scratch=self._builddir or self.tmpdir.path,
            image_name=self.name,
            extra_env=self._get_post_scripts_env(in_chroot),
        )


class LoopImageCreator(LoopUpstreamMembers, ImageCreator):
    """An ext2/3/4 filesystem image in a sparse loopback file, ``<name>.img``.

    Size and type come from ``part / --size N --fstype T`` (default 4096 MiB, ext4: the attributes
    ``image_size`` and ``fstype``); the filesystem label from ``fslabel`` (default: ``part / --label``, else the
    name; ext labels hold 16 characters).  The result is checked, shrunk to its minimal size and grown back
    sparsely to its nominal size, as upstream does.
    """

    def __init__(self, ks: kickstart.KickstartHandler, name: str, fslabel: str | None = None,
                 releasever: str | None = None, tmpdir: str | os.PathLike[str] = "/var/tmp", useplugins: bool = False,
                 cacheonly: bool = False, docleanup: bool = True, **kwargs: Any) -> None:
        super().__init__(ks, name, releasever=releasever, tmpdir=tmpdir, useplugins=useplugins, cacheonly=cacheonly,
                         docleanup=docleanup, **kwargs)
        part = self.config.root_partition
        self.fslabel = fslabel or part.label or name
        self.fstype = part.fstype
        self.image_size = part.size
        self.size_from_base = False  # grow to a --base-on image's size when it is larger (editliveos)
        self.minimal_size: int | None = None
        parse.loop_settings(self._raw_loop(), live=False)  # a kickstart asking for another filesystem fails now

    def _raw_loop(self) -> parse.RawLoop:
        return parse.RawLoop(self.fslabel, self.fstype, self.image_size, self.size_from_base)

    def _config_sections(self) -> dict[str, Any]:
        return {**super()._config_sections(), "loop": self._raw_loop()}

    @property
    def _loop(self) -> LoopConfig:
        loop = self.build_config.loop
        assert loop is not None
        return loop

    @property
    def _ext_image(self) -> ExtImage:
        storage = self._get_storage()
        assert isinstance(storage, ExtImage)
        return storage

    def _root_storage(self) -> RootStorage:
        """The ext image, made from a directory tree at the end for a reproducible build."""
        loop, epoch = self._loop, self.build_config.source_date_epoch
        kind = ExtImage if epoch is None else ReproducibleExtImage
        return self._with_base_on_hook(kind(self.build_config.name, loop.size, loop.fstype, loop.fslabel[:16],
                                            epoch=epoch, size_from_base=loop.size_from_base, blocksize=self._blocksize))

    def _fstab_root(self) -> str:
        loop = self._loop
        return f"LABEL={loop.fslabel[:16]}  /  {loop.fstype}  defaults,noatime  0 0\n"

    def _finish_image(self, minimize: bool = True) -> Path:
        """The unmounted image, checked, minimized and grown back sparsely: the file that is shipped.

        Without *minimize* it is only checked and its free blocks discarded (live --skip-minimize).
        """
        if minimize:
            self._resparse()
        else:
            self._ext_image.check()
        return self._ext_image.path

    def _stage_final_image(self, ops: list[str] | None = None) -> None:
        image = self._finish_image()
        os.rename(image, self._outdir / image.name)
