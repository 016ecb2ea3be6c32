"""The test distribution's kernel: Debian's linux-image package, repackaged in Fedora's layout.

The .deb is fetched with ``apt-get download`` (never installed on the host) and kept in ``<cache>/debs``. The slow
part (unpacking, depmod, dracut, picking the modules) is cached in ``<cache>/kernel-<key>`` keyed by the .deb's
content, the host's dracut/systemd versions and this file, so repository rebuilds (filler, other packages) reuse it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

Log = Callable[[str], None]

META_PACKAGE = "linux-image-amd64"
APT_LISTS = Path("/var/lib/apt/lists")
DEB_OVERRIDE_ENV = "LIVECD_TESTDISTRO_KERNEL_DEB"

# The drivers a QEMU boot needs: live (CD, virtio disk, USB stick, squashfs + dm snapshot or overlayfs root) and
# from an installed disk (root=UUID=... on ext4 or xfs behind virtio-blk, AHCI (q35) or ata_piix (pc), and the
# vfat EFI system partition, which the booted system mounts at /boot/efi with the modules shipped next to them:
# nls_ascii is Debian's default FAT iocharset, nls_cp437 its default codepage).
INITRAMFS_DRIVERS = (
    "squashfs erofs loop isofs sr_mod cdrom ata_piix ata_generic ahci libahci libata scsi_mod sd_mod "
    "dm_mod dm_snapshot overlay ext4 xfs crc32c_generic fat vfat nls_cp437 nls_ascii nls_iso8859_1 nls_utf8 "
    "virtio_blk virtio_pci virtio_scsi usb_storage uas xhci_pci ehci_pci uhci_hcd"
)
# qemu-net (dracut-network's, included in every generic initramfs) would add QEMU's NIC drivers for nothing: only
# the livenet variant has a network, and it names its drivers itself.
INITRAMFS_OMIT = "plymouth crypt nvdimm resume lunmask virtiofs qemu qemu-net terminfo usrmount"
# The livenet variant (package initramfs-livenet, for livecd-iso-to-pxeboot's HTTP tree): the same initramfs plus
# dracut's livenet (root=live:http://...), network-legacy (dhclient: DHCP in QEMU's user network) and url-lib
# (curl), with QEMU's NIC drivers only: dracut's kernel-network-modules (data/dracut/90kernel-network-modules
# replaces the host's) would add every wired NIC driver.  Not in the kernel's own initramfs: it grows it by about
# 40 % (bash, dhclient, curl and their libraries), which every other boot would pay for.
LIVENET_ADD = "livenet network-legacy"
LIVENET_DRIVERS = "virtio_net e1000"
LIVENET_REQUIRED_DRACUT_MODULES = ("livenet", "network", "network-legacy", "url-lib")
LIVENET_INITRAMFS = "initramfs-livenet.img"  # next to the tree prepare_tree returns
# dracut modules the initramfs must contain: live boots (EROFS ones too) and a block-device root (root=UUID=...).
INITRAMFS_REQUIRED_DRACUT_MODULES = ("dmsquash-live", "dmsquash-live-erofs", "rootfs-block")
# Our own dracut modules (EROFS LiveOS/squashfs.img for dracut 059's dmsquash-live), added to the host's set.
DRACUT_MODULES_DIR = Path(__file__).parent / "data" / "dracut"
HOST_DRACUT_DIR = Path("/usr/lib/dracut")
# Host packages whose files end up in the initramfs or shape it (dracut's fs-lib copies the host's fsck tools).
INITRAMFS_HOST_PACKAGES = ("dracut", "dracut-core", "dracut-live", "systemd", "udev", "kmod", "libc6",
                           "util-linux", "mount", "bash", "coreutils", "gzip", "cpio", "e2fsprogs", "xfsprogs",
                           "dosfstools", "dracut-network", "isc-dhcp-client", "iputils-arping", "curl", "libcurl4",
                           "ca-certificates")


@dataclass(frozen=True)
class KernelPackage:
    name: str  # e.g. linux-image-6.1.0-56-amd64
    version: str  # the Debian package version, e.g. 6.1.192-2
    deb: Path | None = None  # an explicit .deb (LIVECD_TESTDISTRO_KERNEL_DEB)

    @property
    def kver(self) -> str:
        return self.name[len("linux-image-"):]

    @property
    def deb_name(self) -> str:
        return f"{self.name}_{self.version.replace(':', '%3a')}_amd64.deb"

    @property
    def rpm_version(self) -> str:
        """'6.1.0' from '6.1.0-56-amd64'."""
        return self.kver.split("-", 1)[0]

    @property
    def rpm_release(self) -> str:
        """The Debian ABI number: '56' from '6.1.0-56-amd64'."""
        parts = self.kver.split("-")
        return parts[1] if len(parts) > 2 and parts[1].isdigit() else "1"


def _apt_lists_stamp() -> str:
    """Cheap fingerprint of the apt package lists: apt-cache is slow (0.5 s) without a pkgcache."""
    h = hashlib.sha256()
    try:
        names = sorted(os.listdir(APT_LISTS))
    except OSError:
        return "no-lists"
    for name in names:
        try:
            st = os.stat(APT_LISTS / name)
        except OSError:
            continue
        h.update(f"{name} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def read_memo(memo: Path) -> dict[str, Any]:
    """What :func:`save_memo` kept in *memo* (empty when there is none or it cannot be read)."""
    try:
        data = json.loads(memo.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_memo(memo: Path, data: dict[str, Any]) -> None:
    """Keep *data* (what apt-cache said, with the lists' stamp it was said against) in *memo*, replaced at once
    so that a concurrent reader sees the old or the new; a cache that cannot be written only makes it slower."""
    try:
        tmp = memo.with_name(f".{memo.name}.{os.getpid()}")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, memo)
    except OSError:
        pass


def _query_apt() -> KernelPackage:
    proc = subprocess.run(["apt-cache", "show", "--no-all-versions", META_PACKAGE],
                          capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"))
    if proc.returncode != 0:
        raise RuntimeError(f"apt-cache show {META_PACKAGE} failed: {proc.stderr.strip()}")
    version = None
    name = None
    for line in proc.stdout.splitlines():
        if line.startswith("Version:") and version is None:
            version = line.split(":", 1)[1].strip()
        elif line.startswith("Depends:") and name is None:
            m = re.search(r"\b(linux-image-\d[^\s,()]*)", line)
            if m:
                name = m.group(1)
    if not name or not version:
        raise RuntimeError(f"cannot find the kernel package behind {META_PACKAGE} in:\n{proc.stdout}")
    return KernelPackage(name, version)


def _from_deb(deb: Path) -> KernelPackage:
    out = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version"], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return KernelPackage(fields["Package"], fields["Version"], deb=deb)


def resolve(cache: Path | None) -> KernelPackage:
    """Which kernel package the test distribution uses (memoised in the cache against the apt lists)."""
    override = os.environ.get(DEB_OVERRIDE_ENV)
    if override:
        return _from_deb(Path(override))
    stamp = _apt_lists_stamp()
    memo = cache / "kernel-resolve.json" if cache is not None else None
    if memo is not None:
        data = read_memo(memo)
        if data.get("stamp") == stamp and "name" in data and "version" in data:
            return KernelPackage(data["name"], data["version"])
    try:
        kpkg = _query_apt()
    except (OSError, RuntimeError):
        # No apt (or no lists): fall back to a .deb we downloaded earlier.
        cached = sorted((cache / "debs").glob("linux-image-*.deb"), key=lambda p: p.stat().st_mtime) \
            if cache is not None and (cache / "debs").is_dir() else []
        if not cached:
            raise
        return _from_deb(cached[-1])
    if memo is not None:
        save_memo(memo, {"stamp": stamp, "name": kpkg.name, "version": kpkg.version})
    return kpkg


def deb_path(kpkg: KernelPackage, cache: Path) -> Path:
    return kpkg.deb if kpkg.deb is not None else cache / "debs" / kpkg.deb_name


def download(kpkg: KernelPackage, cache: Path, log: Log) -> Path:
    """Fetch the kernel .deb into ``<cache>/debs`` (call with the cache lock held)."""
    return fetch_deb(kpkg.name, kpkg.version, deb_path(kpkg, cache), cache, log)


def fetch_deb(name: str, version: str, dest: Path, cache: Path, log: Log) -> Path:
    """Debian's package *name* at *version* as *dest*, with ``apt-get download`` (nothing is installed on the
    host); kept: an existing *dest* is returned as it is.  Call with the cache lock held."""
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    log(f"testdistro: downloading {name} {version} with apt-get download")
    tmp = Path(tempfile.mkdtemp(prefix="tmp-download-", dir=cache))
    try:
        os.chmod(tmp, 0o755)
        proc = subprocess.run(["apt-get", "download", "-q", f"{name}={version}"], cwd=tmp,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        got = list(tmp.glob("*.deb"))
        if proc.returncode != 0 or len(got) != 1:
            raise RuntimeError(f"apt-get download {name}={version} failed:\n{proc.stdout}")
        os.replace(got[0], dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def host_package_versions(names: tuple[str, ...]) -> str:
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", *names],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return "".join(sorted(proc.stdout.splitlines(keepends=True)))


def tree_key(deb_digest: str) -> str:
    h = hashlib.sha256()
    h.update(b"kernel-tree v1\n")
    h.update(deb_digest.encode() + b"\n")
    h.update(Path(__file__).read_bytes())
    for path in sorted(DRACUT_MODULES_DIR.rglob("*")):
        if path.is_file():
            h.update(f"{path.relative_to(DRACUT_MODULES_DIR)}\n".encode() + path.read_bytes())
    h.update(host_package_versions(INITRAMFS_HOST_PACKAGES).encode())
    return h.hexdigest()[:20]


def _run(cmd: list[str], log: Log, **kw: object) -> str:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)  # type: ignore
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}")
    return proc.stdout


def _module_name(path: str) -> str:
    """'nls_iso8859_1' from 'kernel/fs/nls/nls_iso8859-1.ko.xz'."""
    return re.sub(r"\.ko(\.(xz|gz|zst))?$", "", path.rsplit("/", 1)[-1]).replace("-", "_")


def initramfs_dracut_modules(image: Path) -> list[str]:
    """The dracut modules an initramfs was built with (the "dracut modules:" list of ``lsinitrd``)."""
    out = subprocess.run(["lsinitrd", str(image)], check=True, stdout=subprocess.PIPE, text=True).stdout
    found: list[str] = []
    inside = False
    for line in out.splitlines():
        if line.strip() == "dracut modules:":
            inside = True
        elif inside:
            if not line.strip() or line.startswith("="):
                break
            found.append(line.strip())
    return found


def initramfs_modules(image: Path, kver: str) -> list[str]:
    """Paths of the kernel modules inside an initramfs, relative to /lib/modules/KVER."""
    out = subprocess.run(["lsinitrd", str(image)], check=True, stdout=subprocess.PIPE, text=True).stdout
    prefix = f"lib/modules/{kver}/"
    mods = set()
    for line in out.splitlines():
        path = line.split()[-1] if line.split() else ""
        if ".ko" not in path or prefix not in path:
            continue
        rel = path.split(prefix, 1)[1]
        if re.search(r"\.ko(\.(xz|gz|zst))?$", rel):
            mods.add(rel)
    return sorted(mods)


def prepare_tree(cache: Path, deb: Path, kpkg: KernelPackage, key: str, log: Log) -> Path:
    """Return ``<cache>/kernel-<key>/root``: boot/ and usr/lib/modules/KVER/ ready to package (the livenet
    initramfs variant is ``<cache>/kernel-<key>/initramfs-livenet.img``).

    Call with the cache lock held.
    """
    final = cache / f"kernel-{key}"
    if (final / "done").exists():
        return final / "root"
    kver = kpkg.kver
    work = Path(tempfile.mkdtemp(prefix="tmp-kernel-", dir=cache))
    os.chmod(work, 0o755)
    try:
        full, full_moddir = _unpack(deb, kver, work / "full", log)
        with ThreadPoolExecutor(2) as pool:  # two dracut runs at once: each uses about one core
            variant = pool.submit(_build_initramfs, work, full_moddir, kver, log, livenet=True)
            initramfs, mods = _build_initramfs(work, full_moddir, kver, log)
            variant.result()
        small_moddir = _reduced_modules(work / "small", full_moddir, mods, kver, log)
        _assemble_root(work / "root", full, small_moddir, initramfs, kver)
        os.replace(work / "livenet" / "initramfs.img", work / LIVENET_INITRAMFS)
        shutil.rmtree(work / "livenet")
        (work / "modules.txt").write_text("".join(f"{m}\n" for m in mods))
        shutil.rmtree(full)
        (work / "done").write_text(f"{kver}\n")
        shutil.rmtree(final, ignore_errors=True)
        os.rename(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final / "root"


def _unpack(deb: Path, kver: str, full: Path, log: Log) -> tuple[Path, Path]:
    """Unpack Debian's kernel package into *full* and run depmod; returns *full* and its module directory."""
    log(f"testdistro: unpacking {deb.name}")
    _run(["dpkg-deb", "-x", str(deb), str(full)], log)
    moddir_rel = f"lib/modules/{kver}"
    if not (full / moddir_rel).is_dir():
        moddir_rel = f"usr/lib/modules/{kver}"
    full_moddir = full / moddir_rel
    if not (full / "boot" / f"vmlinuz-{kver}").exists() or not full_moddir.is_dir():
        raise RuntimeError(f"{deb} does not contain boot/vmlinuz-{kver} and lib/modules/{kver}")
    _run(["depmod", "-b", str(full), kver], log)
    return full, full_moddir


def _build_initramfs(work: Path, full_moddir: Path, kver: str, log: Log,
                     livenet: bool = False) -> tuple[Path, list[str]]:
    """A live-boot initramfs (dracut's dmsquash-live, no host configuration) that also boots a disk root
    (rootfs-block), in *work*; with *livenet* the variant that also boots ``root=live:http://...`` (in
    *work*/livenet).  Returns it and its modules."""
    kind = "livenet variant" if livenet else "dmsquash-live"
    log(f"testdistro: building the initramfs for {kver} with dracut ({kind})")
    if livenet:
        work = work / "livenet"
        work.mkdir()
    conf = work / "dracut.conf"
    conf.write_text("# testdistro: no host dracut configuration\n")
    confdir = work / "dracut.conf.d"
    confdir.mkdir()
    dtmp = work / "dracut-tmp"
    dtmp.mkdir()
    initramfs = work / "initramfs.img"
    base = _dracut_base(work / "dracut-base")
    add = "dmsquash-live dmsquash-live-erofs" + (f" {LIVENET_ADD}" if livenet else "")
    drivers = INITRAMFS_DRIVERS + (f" {LIVENET_DRIVERS}" if livenet else "")
    _run(["dracut", "--quiet", "--no-hostonly", "--no-hostonly-cmdline", "--kver", kver,
          "--kmoddir", str(full_moddir), "--conf", str(conf), "--confdir", str(confdir),
          "--tmpdir", str(dtmp), "--add", add, "--omit", INITRAMFS_OMIT,
          "--drivers", drivers, "--gzip", "--force", str(initramfs)], log,
         env=dict(os.environ, LC_ALL="C", dracutbasedir=str(base)))
    mods = initramfs_modules(initramfs, kver)
    names = {_module_name(m) for m in mods}
    builtin = full_moddir / "modules.builtin"
    if builtin.exists():
        names |= {_module_name(m) for m in builtin.read_text().split()}
    lacking = [d for d in drivers.split() if d not in names]
    if lacking:
        raise RuntimeError(f"the initramfs lacks the modules {lacking} (it has {sorted(names)})")
    dracut_mods = initramfs_dracut_modules(initramfs)
    required = INITRAMFS_REQUIRED_DRACUT_MODULES + (LIVENET_REQUIRED_DRACUT_MODULES if livenet else ())
    lacking = [m for m in required if m not in dracut_mods]
    if lacking:
        hint = " (the livenet variant needs Debian's dracut-network: run scripts/setup)" if livenet else ""
        raise RuntimeError(f"the initramfs lacks the dracut modules {lacking} (it has {dracut_mods}){hint}")
    return initramfs, mods


def _dracut_base(base: Path) -> Path:
    """The host's dracut with our modules added (dracut 059 reads modules.d only from its base directory,
    ``$dracutbasedir``), so the host's dracut stays untouched: its module directories as symlinks, its top-level
    files as copies (a symlinked dracut-util would drag /usr/lib/dracut/dracut-util into the initramfs, where
    lsinitrd takes it for the version file).  A module of ours replaces the host's of the same directory name
(90kernel-network-modules)."""
    (base / "modules.d").mkdir(parents=True)
    for entry in HOST_DRACUT_DIR.iterdir():
        if entry.name != "modules.d":
            shutil.copy2(entry, base / entry.name)
    ours = {m.name: m for m in DRACUT_MODULES_DIR.iterdir()}
    for module in [*(m for m in (HOST_DRACUT_DIR / "modules.d").iterdir() if m.name not in ours), *ours.values()]:
        (base / "modules.d" / module.name).symlink_to(module.resolve())
    return base


def _reduced_modules(small: Path, full_moddir: Path, mods: list[str], kver: str, log: Log) -> Path:
    """The reduced module tree under *small*: only what the initramfs carries, plus fresh modules.* from
    depmod.  Returns its lib/modules/KVER."""
    small_moddir = small / "lib" / "modules" / kver
    small_moddir.mkdir(parents=True)
    for rel in mods:
        dest = small_moddir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(full_moddir / rel, dest)
    for meta in ("modules.builtin", "modules.builtin.modinfo"):
        if (full_moddir / meta).exists():
            shutil.copy2(full_moddir / meta, small_moddir / meta)
    if (full_moddir / "modules.order").exists():
        keep = set(mods)
        lines = (full_moddir / "modules.order").read_text().splitlines()
        (small_moddir / "modules.order").write_text("".join(f"{ln}\n" for ln in lines if ln in keep))
    _run(["depmod", "-b", str(small), kver], log)
    return small_moddir


def _assemble_root(root: Path, full: Path, small_moddir: Path, initramfs: Path, kver: str) -> None:
    """What the kernel rpm ships: /boot (kernel, config, initramfs) and /usr/lib/modules/KVER."""
    boot = root / "boot"
    boot.mkdir(parents=True)
    moddir = root / "usr" / "lib" / "modules" / kver
    moddir.parent.mkdir(parents=True)
    shutil.move(str(small_moddir), str(moddir))
    shutil.copy2(full / "boot" / f"vmlinuz-{kver}", boot / f"vmlinuz-{kver}")
    shutil.copy2(full / "boot" / f"config-{kver}", boot / f"config-{kver}")
    shutil.copy2(initramfs, boot / f"initramfs-{kver}.img")
    os.chmod(boot / f"initramfs-{kver}.img", 0o600)
