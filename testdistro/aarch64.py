"""The aarch64 flavour: the test distribution for another architecture, from Debian's arm64 packages.

Built like the plain repository, from files this x86_64 host can get without running them: Debian's arm64 kernel,
static busybox and GRUB EFI modules, fetched with ``apt-get download`` (``dpkg --add-architecture arm64``, done
by scripts/setup) and unpacked with ``dpkg-deb -x``.  The host's GRUB tools make the arm64 EFI image
(``grub-mkimage -O arm64-efi`` works on any host); ``depmod -b`` indexes the arm64 modules (it only reads them).

The one difference in kind: the kernel's initramfs is not dracut's.  The host's dracut would copy x86_64 programs
into it, and the image's own dracut would need the real-userland flavour's whole C userland rebuilt for arm64.
It is a small busybox initramfs instead (``data/aarch64/init``): it loads the virtio, SCSI, ext4 and FAT modules,
finds ``root=UUID=...``/``LABEL=...``/a device with busybox's findfs, mounts it and switches to it, so installed
disks boot; ``root=live:CDLABEL=...`` mounts the medium, its squashfs.img (and rootfs.img inside) under a RAM
overlay, as dracut's dmsquash-live does, so live ISOs boot too.  The live checks add
``arch:`` (``uname -m``) and ``rpmdb:`` (the rpm database's file: this flavour ships no rpm program).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Final

from testdistro import kernel, packages
from testdistro.rpmspec import Entry, Package, directory, file, symlink

Log = Callable[[str], None]

ARCH: Final = "aarch64"
DEB_ARCH = "arm64"
DATA = Path(__file__).resolve().parent / "data" / "aarch64"
FLAVOUR_MODULES = ("aarch64.py",)
KERNEL_META = "linux-image-arm64"
OTHER_DEBS = ("busybox-static", "grub-efi-arm64-bin")
GRUB_DIR = "usr/lib/grub/arm64-efi"
# What the initramfs loads, in order (with their dependencies): the QEMU virt board's virtio disks (PCI and MMIO),
# SCSI disks and CDs, the root's ext4 (with crc32c_generic: ext4 asks the crypto API for crc32c, which modules.dep
# does not list) and the ESP's vfat (nls_ascii: Debian's default FAT iocharset).
INITRAMFS_DRIVERS = ("virtio_pci", "virtio_mmio", "virtio_blk", "virtio_scsi", "sd_mod", "sr_mod", "crc32c_generic",
                     "ext4", "vfat", "nls_cp437", "nls_ascii", "nls_iso8859_1", "nls_utf8", "isofs", "squashfs",
                     "loop", "overlay")
REQ_FS = packages.REQ_FS
# The packages of the plain flavour this one keeps as they are (noarch fixtures) or rebuilds for aarch64.
KEPT_NOARCH = ("demo-app", "demo-extras", "docs-demo", "post-demo", "bad-post", "demo-service")
REBUILT = ("libdemo",)


@dataclass(frozen=True)
class Debs:
    """The fetched arm64 .debs: the kernel package and the others, by Debian name."""

    kernel: kernel.KernelPackage
    paths: dict[str, Path]


def only_for_the_flavour(path: Path) -> bool:
    """Whether a testdistro source file shapes only this flavour (this module and data/aarch64)."""
    return (path.parent == Path(__file__).resolve().parent and path.name in FLAVOUR_MODULES) or DATA in path.parents


def _candidates(names: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Debian's candidates of *names* (arm64), in one apt-cache call: name -> (version, the Depends line)."""
    proc = subprocess.run(["apt-cache", "show", "--no-all-versions", *(f"{n}:{DEB_ARCH}" for n in names)],
                          capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"))
    found: dict[str, tuple[str, str]] = {}
    for para in proc.stdout.split("\n\n"):
        fields: dict[str, str] = {}
        for line in para.splitlines():
            key, _, value = line.partition(":")
            if key in ("Package", "Version", "Depends") and key not in fields:
                fields[key] = value.strip()
        if "Package" in fields and "Version" in fields:
            found.setdefault(fields["Package"], (fields["Version"], fields.get("Depends", "")))
    lacking = [n for n in names if n not in found]
    if lacking:
        raise RuntimeError(
            f"apt-cache knows no {', '.join(lacking)} for {DEB_ARCH} ({proc.stderr.strip()}): the aarch64 test "
            f"distribution needs Debian's {DEB_ARCH} packages: run 'dpkg --add-architecture {DEB_ARCH} && "
            "apt-get update' (scripts/setup does it)")
    return found


_RESOLVED: dict[str, dict[str, str]] = {}


def resolve(cache: Path) -> dict[str, str]:
    """Debian name -> version of every arm64 package this flavour repackages (the kernel by its real name);
    memoised in ``<cache>/aarch64-resolve.json`` against the apt lists (apt-cache takes seconds here)."""
    stamp = kernel._apt_lists_stamp()
    if stamp in _RESOLVED:
        return _RESOLVED[stamp]
    memo = cache / "aarch64-resolve.json"
    data = kernel.read_memo(memo)
    if data.get("stamp") == stamp and isinstance(data.get("found"), dict):
        _RESOLVED[stamp] = dict(data["found"])
        return _RESOLVED[stamp]
    cands = _candidates((KERNEL_META, *OTHER_DEBS))
    version, depends = cands[KERNEL_META]
    m = re.search(r"\b(linux-image-\d[^\s,()]*)", depends)
    if not m:
        raise RuntimeError(f"cannot find the kernel package behind {KERNEL_META}:{DEB_ARCH} in {depends!r}")
    found = {m.group(1): version, **{name: cands[name][0] for name in OTHER_DEBS}}
    kernel.save_memo(memo, {"stamp": stamp, "found": found})
    _RESOLVED[stamp] = found
    return found


def _deb_name(name: str, version: str) -> str:
    return f"{name}_{version.replace(':', '%3a')}_{DEB_ARCH}.deb"


def fetch(cache: Path, log: Log) -> Debs:
    """The arm64 .debs in ``<cache>/debs`` (fetched once; call with the cache lock held)."""
    paths = {}
    versions = resolve(cache)
    for name, version in versions.items():
        paths[name] = kernel.fetch_deb(f"{name}:{DEB_ARCH}", version, cache / "debs" / _deb_name(name, version),
                                       cache, log)
    kname = next(n for n in paths if n.startswith("linux-image-"))
    kpkg = kernel.KernelPackage(kname, versions[kname], deb=paths[kname])
    return Debs(kpkg, paths)


def version_key(cache: Path) -> str:
    """What the flavour's repository hash takes of the .debs: their names and versions (the kernel .deb's
    content is hashed by the builder)."""
    return "".join(f"{DEB_ARCH} {n} {v}\n" for n, v in sorted(resolve(cache).items()))


def _unpack(deb: Path, dest: Path) -> Path:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    return dest


def _module_closure(moddir: Path, wanted: tuple[str, ...]) -> list[str]:
    """Paths (relative to *moddir*) of *wanted*'s modules and everything they depend on, from modules.dep;
    built-in ones are skipped."""
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
        by_name[re.sub(r"\.ko(\.(xz|gz|zst))?$", "", path.rsplit("/", 1)[-1]).replace("-", "_")] = path
    builtin = {re.sub(r"\.ko$", "", p.rsplit("/", 1)[-1]).replace("-", "_")
               for p in (moddir / "modules.builtin").read_text().split()}
    out: list[str] = []

    def add(path: str) -> None:
        if path in out:
            return
        for dep in deps.get(path, []):
            add(dep)
        out.append(path)

    for name in wanted:
        if name in by_name:
            add(by_name[name])
        elif name not in builtin:
            raise RuntimeError(f"the arm64 kernel has no module {name} (neither a .ko nor built in)")
    return out


def _kernel_tree(work: Path, debs: Debs) -> tuple[Path, list[str]]:
    """The unpacked kernel, depmod run on the reduced module tree; returns the tree and the modules kept."""
    kver = debs.kernel.kver
    full = _unpack(debs.paths[debs.kernel.name], work / "kernel-full")
    subprocess.run(["depmod", "-b", str(full), kver], check=True)
    full_moddir = full / "lib" / "modules" / kver
    mods = _module_closure(full_moddir, INITRAMFS_DRIVERS)
    root = work / "kernel-root"
    moddir = root / "lib" / "modules" / kver
    for rel in mods:
        (moddir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(full_moddir / rel, moddir / rel)
    for meta in ("modules.builtin", "modules.builtin.modinfo", "modules.order"):
        if (full_moddir / meta).exists():
            shutil.copy2(full_moddir / meta, moddir / meta)
    subprocess.run(["depmod", "-b", str(root), kver], check=True)
    (root / "boot").mkdir()
    for name in (f"vmlinuz-{kver}", f"config-{kver}"):
        shutil.copy2(full / "boot" / name, root / "boot" / name)
    shutil.rmtree(full)
    return root, mods


def _initramfs(work: Path, kroot: Path, busybox: Path, kver: str, mods: list[str]) -> Path:
    """The busybox initramfs (gzip'd newc cpio): /init, busybox, the modules and their index."""
    tree = work / "initramfs"
    for d in ("bin", "dev", "proc", "sys", "sysroot", "run", "tmp", "lib/modules"):
        (tree / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox, tree / "bin" / "busybox")
    os.symlink("busybox", tree / "bin" / "sh")
    shutil.copytree(kroot / "lib" / "modules" / kver, tree / "lib" / "modules" / kver)
    init = (DATA / "init").read_text().replace("@MODULES@", " ".join(INITRAMFS_DRIVERS))
    (tree / "init").write_text(init)
    os.chmod(tree / "init", 0o755)
    names = sorted(str(p.relative_to(tree)) for p in tree.rglob("*"))
    cpio = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"], cwd=tree,
                          input=("\n".join(["."] + names) + "\n").encode(), capture_output=True, check=False)
    if cpio.returncode != 0:
        raise RuntimeError(f"cpio failed: {cpio.stderr.decode(errors='replace')}")
    out = work / "initramfs.img"
    out.write_bytes(gzip.compress(cpio.stdout, compresslevel=6, mtime=0))
    shutil.rmtree(tree)
    del mods
    return out


def _grub_efi(work: Path, grub_root: Path) -> Path:
    """GRUB for arm64 UEFI, made by the host's grub-mkimage from Debian's arm64-efi modules."""
    moddir = grub_root / GRUB_DIR
    present = [m for m in packages.GRUB_EFI_MODULES if (moddir / f"{m}.mod").exists()]
    out = work / "grubaa64.efi"
    subprocess.run([str(packages.GRUB_MKIMAGE), "-O", "arm64-efi", "-d", str(moddir), "-p", "/EFI/BOOT",
                    "-o", str(out), *present], check=True)
    return out


def _live_init() -> Package:
    check = (packages.DATA / "live-check.sh").read_text() + (DATA / "live-check-extra.sh").read_text()
    return Package(
        "live-init", f"/sbin/init that prints {packages.MARKER} to the console and powers off", arch="noarch",
        requires=REQ_FS + ["busybox"],
        entries=[file("/usr/sbin/init", src=packages.DATA / "live-init.sh", mode=0o755),
                 file("/usr/libexec/live-check", data=check, mode=0o755)])


def _busybox(bb: Path) -> Package:
    entries: list[Entry] = [file("/usr/sbin/busybox", src=bb, mode=0o755)]
    # The applets of the host's busybox-static, the same Debian version (checked by the builder's hash).
    # Not busybox's rpm and rpm2cpio: live-check would take its rpm applet for rpm and fail on -qa.
    entries += [symlink(p, "busybox" if p.startswith("/usr/sbin/") else "../sbin/busybox")
                for p in packages.busybox_applets() if p.rsplit("/", 1)[-1] not in ("rpm", "rpm2cpio")]
    return Package("busybox", "Debian's static arm64 busybox with applet symlinks", arch=ARCH, requires=REQ_FS,
                   provides=["/bin/sh", "/usr/bin/sh"], entries=entries)


def _kernel(kroot: Path, initramfs: Path, kpkg: kernel.KernelPackage) -> Package:
    kver = kpkg.kver
    entries: list[Entry] = [
        file(f"/boot/vmlinuz-{kver}", src=kroot / f"boot/vmlinuz-{kver}", mode=0o755),
        file(f"/boot/initramfs-{kver}.img", src=initramfs, mode=0o600),
        file(f"/boot/config-{kver}", src=kroot / f"boot/config-{kver}"),
        file(f"/usr/lib/modules/{kver}/vmlinuz", src=kroot / f"boot/vmlinuz-{kver}", mode=0o755),
        file(f"/usr/lib/modules/{kver}/config", src=kroot / f"boot/config-{kver}"),
    ]
    entries += packages._tree_entries(kroot / "lib/modules" / kver, f"/usr/lib/modules/{kver}")
    evr = f"{kpkg.rpm_version}-{kpkg.rpm_release}"
    return Package(
        "kernel", f"The Linux kernel {kver} (Debian's arm64 build) with a busybox initramfs", arch=ARCH,
        version=kpkg.rpm_version, release=kpkg.rpm_release, license="GPL-2.0-only", requires=REQ_FS,
        provides=[f"kernel-core = {evr}", f"kernel-modules = {evr}", "installonlypkg(kernel)"], entries=entries)


def _efi_packages(img: Path, grub_root: Path) -> list[Package]:
    """Fedora's aarch64 names: one GRUB image standing in for shim, GRUB and the CD GRUB; GRUB's modules."""
    efi_dirs = [directory("/boot/efi", 0o700), directory("/boot/efi/EFI", 0o700)]
    fedora = [directory("/boot/efi/EFI/fedora", 0o700)]
    return [
        Package("grub2-efi-aa64", "GRUB arm64 EFI binary (stand-in for Fedora's signed grubaa64.efi)", arch=ARCH,
                requires=REQ_FS, provides=["grub2-efi = 2.06-1"],
                entries=efi_dirs + fedora + [file("/boot/efi/EFI/fedora/grubaa64.efi", src=img, mode=0o700)]),
        Package("grub2-efi-aa64-cdboot", "GRUB arm64 EFI binary for CDs (stand-in for gcdaa64.efi)", arch=ARCH,
                requires=REQ_FS,
                entries=efi_dirs + fedora + [file("/boot/efi/EFI/fedora/gcdaa64.efi", src=img, mode=0o700)]),
        Package("shim-aa64", "Stand-in for shim: BOOTAA64.EFI, fbaa64.efi and shimaa64.efi are the GRUB image",
                arch=ARCH, requires=REQ_FS, provides=["shim = 15-1"],
                entries=efi_dirs + fedora + [
                    directory("/boot/efi/EFI/BOOT", 0o700),
                    file("/boot/efi/EFI/fedora/shimaa64.efi", src=img, mode=0o700),
                    file("/boot/efi/EFI/BOOT/BOOTAA64.EFI", src=img, mode=0o700),
                    file("/boot/efi/EFI/BOOT/fbaa64.efi", src=img, mode=0o700)]),
        Package("grub2-efi-aa64-modules", "GRUB modules for arm64 EFI", arch="noarch", requires=REQ_FS,
                entries=[directory("/usr/lib/grub")]
                + packages._tree_entries(grub_root / GRUB_DIR, "/usr/lib/grub/arm64-efi", skip=("monolithic",))),
    ]


def flavour_packages(work: Path, debs: Debs, log: Log) -> list[Package]:
    """Every package of the aarch64 repository."""
    kver = debs.kernel.kver
    log(f"testdistro: aarch64: kernel {kver}, busybox and GRUB from Debian's {DEB_ARCH} packages")
    bb_root = _unpack(debs.paths["busybox-static"], work / "busybox")
    busybox = bb_root / "bin" / "busybox"
    grub_root = _unpack(debs.paths["grub-efi-arm64-bin"], work / "grub")
    kroot, mods = _kernel_tree(work, debs)
    initramfs = _initramfs(work, kroot, busybox, kver, mods)
    base = [packages._filesystem(), *packages._demo_packages(), packages._docs_demo(),
            *packages._scriptlet_packages(), packages._demo_service()]
    kept = [p for p in base if p.name in KEPT_NOARCH]
    for p in base:
        if p.name in REBUILT:
            p.arch = ARCH
            kept.append(p)
    return [
        base[0],
        _busybox(busybox),
        _live_init(),
        _kernel(kroot, initramfs, debs.kernel),
        *_efi_packages(_grub_efi(work, grub_root), grub_root),
        *kept,
    ]
