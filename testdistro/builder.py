"""Build (or find in the cache) the test distribution's RPM repository."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, Union

from testdistro import aarch64, comps, extras, filler, kernel, packages, rpmspec, userland

Log = Callable[[str], None]

MARKER = packages.MARKER
REPO_ARCH = "x86_64"
CACHE_ENV = "LIVECD_TESTDISTRO_CACHE"
DEFAULT_CACHE = Path("/var/cache/livecd-tools-testdistro")
FORMAT = "testdistro-repo v1"
INFO_FILE = "testdistro.json"
PACKAGE_DIR = Path(__file__).resolve().parent
# Host tools whose version changes what we build (besides the files we hash directly).
TOOL_PACKAGES = ("rpm", "createrepo-c", "grub-common", "grub-efi-amd64-bin", "grub-pc-bin", "busybox-static",
                 "isolinux", "syslinux-common") + kernel.INITRAMFS_HOST_PACKAGES
FILLER_SPEC_SIZE = 25  # filler packages per rpmbuild run


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else DEFAULT_CACHE


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_files() -> list[Path]:
    """The testdistro package's own files that shape the repository (code and data, not docs)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(PACKAGE_DIR):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith((".pyc", ".md")) or name.startswith("."):
                continue
            out.append(Path(dirpath) / name)
    return out


class Inputs:
    """Everything that goes into the repository, reduced to one content hash."""

    def __init__(self, deb: Path, filler_specs: list[filler.FillerSpec], n_filler: int,
                 flavour: str = "plain", cache: Path | None = None) -> None:
        self.deb_digest = _file_digest(deb)
        self.kernel_key = kernel.tree_key(self.deb_digest)
        h = hashlib.sha256()
        h.update(f"{FORMAT}\nfiller {n_filler}\n".encode())
        h.update(f"kernel-deb {deb.name} {self.deb_digest}\n".encode())
        for p in source_files():
            if flavour == "plain" and userland.only_for_the_flavour(p):
                continue  # the plain repository is not made again when only the real-userland flavour changes
            if flavour != "aarch64" and aarch64.only_for_the_flavour(p):
                continue  # nor the x86_64 ones when only the aarch64 flavour changes
            h.update(f"source {p.relative_to(PACKAGE_DIR)} {_file_digest(p)}\n".encode())
        for p in packages.host_input_files():
            h.update(f"host {p} {_file_digest(p)}\n".encode())
        for p in filler.input_files(filler_specs):
            h.update(f"filler {p} {_file_digest(p)}\n".encode())
        h.update(kernel.host_package_versions(TOOL_PACKAGES).encode())
        if flavour != "plain":  # the plain repository's hash stays what it was before flavours
            h.update(f"flavour {flavour}\n".encode())
            if flavour == "aarch64":
                h.update(aarch64.version_key(cache or default_cache_dir()).encode())
            else:
                h.update(kernel.host_package_versions(userland.debian_packages()).encode())
                h.update(extras.version_key(cache or default_cache_dir()).encode())
        self.digest = h.hexdigest()[:24]


@contextlib.contextmanager
def _locked(lockfile: Path, log: Log) -> Iterator[None]:
    fd = os.open(lockfile, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"testdistro: waiting for another build to release {lockfile}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _ready(repo: Path) -> bool:
    return (repo / "repodata" / "repomd.xml").is_file()


def _resolve_kernel(cache: Path) -> kernel.KernelPackage:
    return kernel.resolve(cache)


_KVER_MEMO: dict[str, str] = {}


def kernel_version(cache_dir: Path | None = None) -> str:
    """The kernel release string of the test distribution, e.g. '6.1.0-56-amd64' (no build needed)."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = str(cache)
    if key not in _KVER_MEMO:
        usable: Path | None = cache
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError:
            usable = None
        _KVER_MEMO[key] = kernel.resolve(usable).kver
    return _KVER_MEMO[key]


def build_repo(cache_dir: Union[Path, str, None] = None, filler: int = 0, log: Log = print,
               flavour: str = "plain") -> Path:
    """Return the path of a finished repository (``Packages/*.rpm`` + ``repodata/`` with comps groups).

    Use it as ``repo --name=testdistro --baseurl=file://<path>``. The repository is cached under
    ``<cache>/repo-<hash>`` where the hash covers everything that goes in; builds are serialised with a lock.
    *flavour* "userland" is the real-userland repository (the host's C library, bash, coreutils, util-linux,
    kmod, udev, dracut; a kernel without initramfs whose %posttrans runs dracut), see README.md.
    """
    n_filler = int(filler)
    if n_filler < 0:
        raise ValueError("filler must be >= 0")
    if flavour not in userland.FLAVOURS:
        raise ValueError(f"flavour must be one of {', '.join(userland.FLAVOURS)}")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    if flavour == "aarch64":
        return _build_aarch64(cache, log)
    kpkg = _resolve_kernel(cache)
    deb = kernel.deb_path(kpkg, cache)
    filler_specs = filler_select(n_filler)
    if deb.exists():
        inputs = Inputs(deb, filler_specs, n_filler, flavour, cache)
        repo = cache / f"repo-{inputs.digest}"
        if _ready(repo):
            return _link_current(cache, repo, n_filler, flavour)
    with _locked(cache / ".lock", log):
        deb = kernel.download(kpkg, cache, log)
        inputs = Inputs(deb, filler_specs, n_filler, flavour, cache)
        repo = cache / f"repo-{inputs.digest}"
        if not _ready(repo):
            _build_repo(cache, repo, f"filler={n_filler}, flavour={flavour}", log,
                        lambda out, work: _build(out, work, cache, kpkg, deb, inputs, filler_specs, log, flavour))
    return _link_current(cache, repo, n_filler, flavour)


def _build_repo(cache: Path, repo: Path, what: str, log: Log, build: Callable[[Path, Path], None]) -> None:
    """Make *repo* (``<cache>/repo-<hash>``) with *build(out, work)* in a scratch folder of the cache, then
    rename it into place: a reader sees a whole repository or none, and an interrupted build leaves only a
    scratch folder that the next build removes.  Call with the cache lock held."""
    _remove_stale_temps(cache)
    started = time.monotonic()
    log(f"testdistro: building repository {repo.name} ({what})")
    work = Path(tempfile.mkdtemp(prefix="tmp-repo-", dir=cache))
    try:
        out = work / "repo"
        build(out, work)
        os.chmod(out, 0o755)
        os.rename(out, repo)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"testdistro: repository ready in {time.monotonic() - started:.1f}s: {repo}")


def _build_aarch64(cache: Path, log: Log) -> Path:
    """The aarch64 flavour (testdistro/aarch64.py): Debian's arm64 kernel, busybox and GRUB; its own repository
    ``<cache>/repo-<hash>``, keyed as the others (its hash covers the arm64 kernel .deb and the other .debs'
    versions), and ``<cache>/current-aarch64``."""
    with _locked(cache / ".lock", log):
        debs = aarch64.fetch(cache, log)
        inputs = Inputs(debs.paths[debs.kernel.name], [], 0, "aarch64", cache)
        repo = cache / f"repo-{inputs.digest}"
        if not _ready(repo):

            def build(out: Path, work: Path) -> None:
                pkgs = aarch64.flavour_packages(work, debs, log)
                packages.check_conflicts(pkgs)
                rpmspec.build_all([(f"td-{p.name}", [p]) for p in pkgs], work / "specs", out / "Packages")
                _write_repo(out, pkgs, [], inputs, debs.kernel.kver, debs.paths[debs.kernel.name].name, "aarch64",
                            aarch64.ARCH)

            _build_repo(cache, repo, "flavour=aarch64", log, build)
    return _link_current(cache, repo, 0, "aarch64")


def _link_current(cache: Path, repo: Path, n_filler: int, flavour: str = "plain") -> Path:
    """Point ``<cache>/current`` (``current-filler-N`` with filler, ``current-userland`` for the flavour) at
    *repo*, so that sample kickstarts can name a stable path (config/testdistro-*.ks use
    file:///var/cache/livecd-tools-testdistro/current)."""
    name = "current" if n_filler == 0 else f"current-filler-{n_filler}"
    if flavour != "plain":
        name = f"{name}-{flavour}"
    link = cache / name
    try:
        if os.path.islink(link) and os.readlink(link) == repo.name:
            return repo
        tmp = cache / f".{name}.{os.getpid()}"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(repo.name, tmp)
        os.replace(tmp, link)
    except OSError:
        pass
    return repo


def filler_select(n: int) -> list[filler.FillerSpec]:
    return filler.select(n)


def _remove_stale_temps(cache: Path) -> None:
    """Leftovers of interrupted builds (safe: we hold the lock, so nobody else is building)."""
    for p in cache.glob("tmp-*"):
        shutil.rmtree(p, ignore_errors=True)


def _build(out: Path, work: Path, cache: Path, kpkg: kernel.KernelPackage, deb: Path, inputs: Inputs,
           filler_specs: list[filler.FillerSpec], log: Log, flavour: str = "plain") -> None:
    kernel_tree = kernel.prepare_tree(cache, deb, kpkg, inputs.kernel_key, log)
    grub_img = work / "grubx64.efi"
    missing = packages.build_grub_efi_image(grub_img)
    if missing:
        log(f"testdistro: GRUB EFI modules not available on this host, left out: {' '.join(missing)}")
    ctx = packages.BuildContext(kver=kpkg.kver, kernel_rpm_version=kpkg.rpm_version,
                                kernel_rpm_release=kpkg.rpm_release, kernel_tree=kernel_tree,
                                grub_efi_image=grub_img)
    pkgs = packages.base_packages(ctx)
    if flavour == "userland":
        pkgs = _userland(pkgs, kpkg.kver, cache, work, log)
    packages.drop_applets_owned_elsewhere(pkgs)
    fill = filler.packages(filler_specs)
    packages.check_conflicts(pkgs + fill)

    specs: list[tuple[str, list[rpmspec.Package]]] = [(f"td-{p.name}", [p]) for p in pkgs]
    # Largest first so the parallel builds finish together.
    specs.sort(key=lambda s: s[0] != "td-kernel")
    for i in range(0, len(fill), FILLER_SPEC_SIZE):
        specs.append((f"td-filler-{i // FILLER_SPEC_SIZE:03d}", fill[i:i + FILLER_SPEC_SIZE]))
    log(f"testdistro: building {len(pkgs) + len(fill)} packages with rpmbuild")
    rpmdir = out / "Packages"
    rpmspec.build_all(specs, work / "specs", rpmdir)

    _write_repo(out, pkgs, fill, inputs, kpkg.kver, deb.name, flavour, REPO_ARCH)


def _write_repo(out: Path, pkgs: list[rpmspec.Package], fill: list[rpmspec.Package], inputs: Inputs, kver: str,
                deb_name: str, flavour: str, arch: str) -> None:
    """The repository's metadata (createrepo_c with the comps groups) and testdistro.json."""
    filler_names = [p.name for p in fill]
    (out / "comps.xml").write_text(comps.comps_xml(filler_names))
    proc = subprocess.run(["createrepo_c", "--quiet", "--no-database", "--workers", str(os.cpu_count() or 1),
                           "-g", str(out / "comps.xml"), str(out)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0 or not _ready(out):
        raise RuntimeError(f"createrepo_c failed (exit {proc.returncode}):\n{proc.stdout}")

    kpkg_obj = packages.find(pkgs, "kernel")
    assert kpkg_obj is not None
    info = {
        "format": FORMAT,
        "hash": inputs.digest,
        "arch": arch,
        "marker": MARKER,
        "kernel_version": kver,
        "kernel_nvra": kpkg_obj.nvra,
        "kernel_deb": deb_name,
        "flavour": flavour,
        "filler": len(fill),
        "packages": sorted(p.nvra for p in pkgs + fill),
        "groups": {g.id: {"mandatory": g.mandatory, "default": g.default, "optional": g.optional}
                   for g in comps.groups(filler_names)},
    }
    (out / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")


def _userland(pkgs: list[rpmspec.Package], kver: str, cache: Path, work: Path, log: Log) -> list[rpmspec.Package]:
    """The real-userland flavour's packages: the host's userland instead of the stand-ins (udevadm, setfiles,
    firewall-offline-cmd), a kernel without initramfs, no host-made livenet initramfs, and no busybox links
    shadowing a real program."""
    real = userland.userland_packages()
    names = {p.name for p in real}
    kept = [p for p in pkgs if p.name not in names and p.name != "initramfs-livenet"]
    kernel_pkg = packages.find(kept, "kernel")
    assert kernel_pkg is not None
    userland.kernel_without_initramfs(kernel_pkg, kver)
    userland.share_identical(real, kept)
    real += extras.admin_packages(cache, work, kept + real, log)
    kept = [p for p in kept if p.name not in {r.name for r in real}]
    out = kept + real
    userland.drop_shadowing_applets(out)
    return out


def repo_info(repo: Path) -> dict:
    """The metadata the builder writes next to repodata/ (kernel version, package list, groups)."""
    return json.loads((Path(repo) / INFO_FILE).read_text())


def prune(cache_dir: Union[Path, str, None] = None, keep: Path | None = None, log: Log = print) -> None:
    """Remove cached repositories and kernel trees other than ``keep`` (and its kernel), and other than the
    repositories a ``current*`` link names (the newest of each flavour)."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    with _locked(cache / ".lock", log):
        linked = {cache / os.readlink(link) for link in cache.glob("current*") if link.is_symlink()}
        keep_kernel = None
        if keep is not None and (keep / INFO_FILE).exists():
            kpkg = _resolve_kernel(cache)
            keep_kernel = cache / f"kernel-{kernel.tree_key(_file_digest(kernel.deb_path(kpkg, cache)))}"
        for p in sorted(cache.glob("repo-*")) + sorted(cache.glob("kernel-*")):
            if p.is_dir() and p != keep and p != keep_kernel and p not in linked:
                log(f"testdistro: removing {p}")
                shutil.rmtree(p, ignore_errors=True)
        _remove_stale_temps(cache)
