"""The packages of the test distribution, described as :class:`testdistro.rpmspec.Package` objects."""

from __future__ import annotations

import os
import stat
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from testdistro import kernel
from testdistro.rpmspec import Entry, Package, directory, file, symlink

DATA = Path(__file__).resolve().parent / "data"
MARKER = "LIVECD-TOOLS-BOOT-OK"

# Host files that go into packages (Debian 12 locations).
BUSYBOX = Path("/bin/busybox")
ISOLINUX_DIR = Path("/usr/lib/ISOLINUX")
SYSLINUX_BIOS_MODULES = Path("/usr/lib/syslinux/modules/bios")
SYSLINUX_MBR_DIR = Path("/usr/lib/syslinux/mbr")
SYSLINUX_MEMDISK = Path("/usr/lib/syslinux/memdisk")
GRUB_PC_DIR = Path("/usr/lib/grub/i386-pc")
GRUB_EFI_DIR = Path("/usr/lib/grub/x86_64-efi")
GRUB_MKIMAGE = Path("/usr/bin/grub-mkimage")
GRUB_SHARE_DIR = Path("/usr/share/grub")  # fonts and grub-mkconfig_lib (grub-common)
RPM = Path("/usr/bin/rpm")
RPM_CONFIG = (Path("/usr/lib/rpm/rpmrc"), Path("/usr/lib/rpm/macros"))
LIB_DIR = "/usr/lib/x86_64-linux-gnu"  # where the host's dynamic loader looks by default (Debian multiarch)

# grub2-tools: Fedora path -> the host's program (grub-common; grub-install is grub2-common's; grub-bios-setup
# is grub-pc's /usr/sbin symlink into grub-pc-bin's /usr/lib/grub/i386-pc).
GRUB_TOOLS = {
    "/usr/bin/grub2-mkimage": Path("/usr/bin/grub-mkimage"),
    "/usr/bin/grub2-editenv": Path("/usr/bin/grub-editenv"),
    "/usr/sbin/grub2-probe": Path("/usr/sbin/grub-probe"),
    "/usr/sbin/grub2-install": Path("/usr/sbin/grub-install"),
    "/usr/sbin/grub2-bios-setup": GRUB_PC_DIR / "grub-bios-setup",
}
GRUB_HOST_PACKAGE = {"/usr/sbin/grub-install": "grub2-common"}  # hint when a tool is missing on the host

SYSLINUX_REQUIRED = ("isolinux.bin", "ldlinux.c32", "vesamenu.c32", "menu.c32", "libcom32.c32", "libutil.c32",
                     "chain.c32", "isohdpfx.bin")

# Modules embedded into the stand-in GRUB EFI image (missing ones are left out and reported).
GRUB_EFI_MODULES = (
    "iso9660", "udf", "part_gpt", "part_msdos", "fat", "ext2", "normal", "linux", "linuxefi", "search",
    "search_label", "search_fs_uuid", "search_fs_file", "configfile", "serial", "terminal", "terminfo",
    "gzio", "echo", "test", "all_video", "font", "gfxterm", "gfxmenu", "png", "loopback", "chain",
    "efi_gop", "efi_uga", "video_bochs", "video_cirrus", "ls", "cat", "regexp", "reboot", "halt", "sleep",
    "true", "minicmd", "probe", "squash4", "xfs",
)

ROOT_DIRS = {
    # path: mode (Fedora's filesystem package modes)
    "/boot": 0o555, "/dev": 0o755, "/etc": 0o755, "/etc/sysconfig": 0o755, "/etc/opt": 0o755,
    "/home": 0o755, "/media": 0o755, "/mnt": 0o755, "/opt": 0o755, "/proc": 0o555, "/root": 0o550,
    "/run": 0o755, "/srv": 0o755, "/sys": 0o555, "/tmp": 0o1777,
    "/usr": 0o755, "/usr/bin": 0o755, "/usr/sbin": 0o755, "/usr/lib": 0o755, "/usr/lib64": 0o755,
    "/usr/libexec": 0o755, "/usr/include": 0o755, "/usr/src": 0o755,
    "/usr/local": 0o755, "/usr/local/bin": 0o755, "/usr/local/sbin": 0o755, "/usr/local/lib": 0o755,
    "/usr/local/lib64": 0o755, "/usr/local/share": 0o755,
    "/usr/share": 0o755, "/usr/share/doc": 0o755, "/usr/share/info": 0o755, "/usr/share/licenses": 0o755,
    "/usr/share/locale": 0o755, "/usr/share/man": 0o755, "/usr/share/man/man1": 0o755,
    "/usr/share/man/man5": 0o755, "/usr/share/man/man8": 0o755,
    "/var": 0o755, "/var/cache": 0o755, "/var/empty": 0o755, "/var/lib": 0o755, "/var/local": 0o755,
    "/var/log": 0o755, "/var/opt": 0o755, "/var/spool": 0o755, "/var/tmp": 0o1777,
}
ROOT_SYMLINKS = {
    "/bin": "usr/bin", "/sbin": "usr/sbin", "/lib": "usr/lib", "/lib64": "usr/lib64",
    "/var/run": "../run", "/var/lock": "../run/lock",
}

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
adm:x:3:4:adm:/var/adm:/sbin/nologin
nobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin
"""
SHADOW = """\
root:!::0:99999:7:::
bin:*:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
adm:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
"""
GROUPS = [("root", 0), ("bin", 1), ("daemon", 2), ("sys", 3), ("adm", 4), ("tty", 5), ("disk", 6), ("lp", 7),
          ("mem", 8), ("kmem", 9), ("wheel", 10), ("cdrom", 11), ("mail", 12), ("man", 15), ("dialout", 18),
          ("floppy", 19), ("games", 20), ("tape", 33), ("video", 39), ("ftp", 50), ("lock", 54),
          ("audio", 63), ("users", 100), ("nobody", 65534)]
OS_RELEASE = """\
NAME="Testdistro"
VERSION="1"
ID=testdistro
ID_LIKE=fedora
VERSION_ID=1
PRETTY_NAME="Testdistro 1"
HOME_URL="https://github.com/livecd-tools/livecd-tools"
"""
HOSTS = "127.0.0.1   localhost localhost.localdomain\n::1         localhost localhost.localdomain\n"


@dataclass
class BuildContext:
    kver: str
    kernel_rpm_version: str
    kernel_rpm_release: str
    kernel_tree: Path  # <root> with boot/ and usr/lib/modules/KVER/
    grub_efi_image: Path


def _host_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode) & 0o755 | 0o644


def _tree_entries(host_dir: Path, dest_dir: str, skip: tuple[str, ...] = ()) -> list[Entry]:
    """Entries copying a host directory tree (regular files and directories only)."""
    entries: list[Entry] = [directory(dest_dir)]
    for dirpath, dirnames, filenames in os.walk(host_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in skip)
        rel = os.path.relpath(dirpath, host_dir)
        base = dest_dir if rel == "." else f"{dest_dir}/{rel}"
        if rel != ".":
            entries.append(directory(base))
        for name in sorted(filenames):
            src = Path(dirpath) / name
            if src.is_symlink() or not src.is_file():
                continue
            entries.append(file(f"{base}/{name}", src=src, mode=_host_mode(src)))
    return entries


def host_input_files() -> list[Path]:
    """Every host file that ends up in a package (for the cache key)."""
    paths = [BUSYBOX, GRUB_MKIMAGE, SYSLINUX_MEMDISK, *RPM_CONFIG, *shared_objects(RPM)]
    for tool in GRUB_TOOLS.values():
        if tool.exists():
            paths += [tool, *shared_objects(tool)]
    for d in (ISOLINUX_DIR, SYSLINUX_BIOS_MODULES, SYSLINUX_MBR_DIR, GRUB_PC_DIR, GRUB_EFI_DIR, GRUB_SHARE_DIR):
        for dirpath, dirnames, filenames in os.walk(d):
            dirnames[:] = sorted(x for x in dirnames if x != "monolithic")
            paths += [Path(dirpath) / f for f in sorted(filenames)]
    return [p for p in paths if p.is_file()]


def grub2_tools_package(req_fs: list[str]) -> Package:
    """The host's GRUB tools under Fedora's names (grub2-mkimage, grub2-bios-setup, grub2-install, ...), with
    /usr/share/grub and their libraries, so they run chrooted into an installed root.

    They find the modules in /usr/lib/grub/<platform> (grub2-pc-modules, grub2-efi-x64-modules). To map a
    partition to its disk (grub2-bios-setup, grub2-probe, grub2-install) they run ``udevadm info --query path``,
    hence the ``Requires: /usr/bin/udevadm`` (:func:`_udevadm`).
    """
    missing = [str(host) for host in GRUB_TOOLS.values() if not host.is_file()]
    if missing:
        hints = sorted({GRUB_HOST_PACKAGE.get(m, "grub-common grub-pc-bin") for m in missing})
        raise RuntimeError(f"host GRUB tools missing: {missing} (install {' '.join(hints)}: scripts/setup)")
    entries: list[Entry] = [file(dest, src=host.resolve(), mode=0o755) for dest, host in GRUB_TOOLS.items()]
    entries += _tree_entries(GRUB_SHARE_DIR, "/usr/share/grub", skip=("default",))
    entries += library_entries(list(GRUB_TOOLS.values()))
    return Package(
        "grub2-tools", "The host's GRUB tools under Fedora's names (grub2-mkimage, grub2-install, ...)",
        requires=req_fs + ["/usr/bin/udevadm"], provides=["grub2-tools-minimal = 2.06-1"], entries=entries)


def _udevadm() -> Package:
    return Package(
        "systemd-udev", "Stand-in udevadm: answers 'udevadm info --query path --name DEV' from /sys (for GRUB)",
        arch="noarch", requires=REQ_FS + ["/bin/sh"],
        entries=[file("/usr/bin/udevadm", src=DATA / "udevadm.sh", mode=0o755)])


def _grub2_pc() -> Package:
    """What a kickstart names for BIOS GRUB on a disk: the i386-pc modules and the tools that install them."""
    readme = ("grub2-pc (testdistro): the modules are in grub2-pc-modules (/usr/lib/grub/i386-pc), the tools\n"
              "(grub2-install, grub2-mkimage, grub2-bios-setup) in grub2-tools.\n")
    return Package(
        "grub2-pc", "BIOS GRUB: pulls in the i386-pc modules and the tools that install them",
        requires=REQ_FS + ["grub2-pc-modules", "grub2-tools"],
        entries=[directory("/usr/share/doc/grub2-pc"),
                 file("/usr/share/doc/grub2-pc/README", data=readme, directive="%doc")])


def _is_static_elf(path: Path) -> bool:
    """True when an ELF64 executable has no PT_INTERP program header (it needs no dynamic loader)."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            return False
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3 for i in range(phnum))


def shared_objects(binary: Path) -> list[Path]:
    """The dynamic loader and every shared library *binary* needs (``ldd``), resolved to real files."""
    out = subprocess.run(["ldd", str(binary)], check=True, stdout=subprocess.PIPE, text=True).stdout
    found = []
    for line in out.splitlines():
        path = next((w for w in line.split() if w.startswith("/")), None)
        if path:
            found.append(Path(path))
    return found


def library_entries(binaries: list[Path]) -> list[Entry]:
    """The dynamic loader and the shared libraries *binaries* need, where the host's dynamic loader finds them
    (``/usr/lib64/ld-linux-*`` for the ELF interpreter ``/lib64/...``, the rest in :data:`LIB_DIR`).

    Two packages shipping the same library ship identical entries (same host file, same mode), which rpm
    installs side by side and :func:`check_conflicts` accepts.
    """
    entries: list[Entry] = [directory(LIB_DIR)]
    seen: set[str] = set()
    for binary in binaries:
        for obj in shared_objects(binary):
            dest = f"/usr/lib64/{obj.name}" if obj.name.startswith("ld-linux") else f"{LIB_DIR}/{obj.name}"
            if dest not in seen:
                seen.add(dest)
                entries.append(file(dest, src=obj.resolve(), mode=0o755))
    return entries


def rpm_package(req_fs: list[str]) -> Package:
    """The host's rpm with its libraries, so the booted live system can query its own rpm database.

    The libraries go where the host's dynamic loader searches by default; the configuration is the host's with
    the database path Fedora uses (Debian's points into $HOME).
    """
    entries: list[Entry] = [file("/usr/bin/rpm", src=RPM, mode=0o755), directory("/usr/lib/rpm")]
    entries += library_entries([RPM])
    rpmrc, macros = RPM_CONFIG
    entries.append(file("/usr/lib/rpm/rpmrc", src=rpmrc))
    text = "".join("%_dbpath\t\t/var/lib/rpm\n" if line.startswith("%_dbpath\t") else line
                   for line in macros.read_text().splitlines(keepends=True))
    entries.append(file("/usr/lib/rpm/macros", data=text))
    return Package("rpm", "The host's rpm and its libraries (to query the live system's rpm database)",
                   requires=req_fs, entries=entries)


def busybox_applets() -> list[str]:
    """Install paths of busybox applets, mapped into /usr (the root has usr-merge symlinks)."""
    out = subprocess.run([str(BUSYBOX), "--list-full"], check=True, stdout=subprocess.PIPE, text=True).stdout
    paths = set()
    for line in out.split():
        name = line.rsplit("/", 1)[-1]
        if name in ("busybox", "linuxrc", "init") or not name:
            continue
        is_sbin = line.startswith(("sbin/", "usr/sbin/"))
        paths.add(f"/usr/{'sbin' if is_sbin else 'bin'}/{name}")
    # A handful that must exist whatever the busybox build is.
    for must in ("/usr/bin/sh",):
        if must not in paths:
            raise RuntimeError(f"{BUSYBOX} has no applet for {must}")
    return sorted(paths)


def mo_file(messages: dict[str, str]) -> bytes:
    """A valid GNU gettext .mo catalogue (little endian, no hash table)."""
    keys = sorted(messages)
    ids = [k.encode() for k in keys]
    strs = [messages[k].encode() for k in keys]
    n = len(keys)
    orig_tab = 28
    trans_tab = orig_tab + 8 * n
    data_start = trans_tab + 8 * n
    header = struct.pack("<7I", 0x950412DE, 0, n, orig_tab, trans_tab, 0, data_start)
    blobs = b""
    otab = b""
    ttab = b""
    offset = data_start
    for s in ids:
        otab += struct.pack("<II", len(s), offset)
        blobs += s + b"\0"
        offset += len(s) + 1
    for s in strs:
        ttab += struct.pack("<II", len(s), offset)
        blobs += s + b"\0"
        offset += len(s) + 1
    return header + otab + ttab + blobs


def build_grub_efi_image(out: Path) -> list[str]:
    """Build the stand-in GRUB EFI binary; return the modules left out because this GRUB lacks them."""
    present = [m for m in GRUB_EFI_MODULES if (GRUB_EFI_DIR / f"{m}.mod").exists()]
    missing = [m for m in GRUB_EFI_MODULES if m not in present]
    subprocess.run([str(GRUB_MKIMAGE), "-O", "x86_64-efi", "-d", str(GRUB_EFI_DIR), "-p", "/EFI/BOOT",
                    "-o", str(out), *present], check=True)
    return missing


def _standin(tool_path: str) -> Entry:
    return file(tool_path, src=DATA / "standin.sh", mode=0o755)


REQ_FS = ["filesystem"]  # what every package but filesystem itself requires


def base_packages(ctx: BuildContext) -> list[Package]:
    """Every package of the test distribution but the filler, in the order they are built."""
    return [
        _filesystem(),
        _busybox(),
        _live_init(),
        _kernel(ctx),
        _initramfs_livenet(ctx),
        _syslinux(),
        Package(
            "grub2-pc-modules", "GRUB modules for BIOS (i386-pc)", arch="noarch", requires=REQ_FS,
            entries=[directory("/usr/lib/grub")] + _tree_entries(GRUB_PC_DIR, "/usr/lib/grub/i386-pc")),
        _grub2_pc(),
        grub2_tools_package(REQ_FS),
        _udevadm(),
        *_efi_boot_loaders(ctx.grub_efi_image),
        *_demo_packages(),
        _docs_demo(),
        *_scriptlet_packages(),
        _demo_service(),
        *_standin_packages(),
        rpm_package(REQ_FS),
        _hostile_links(),
    ]


def _filesystem() -> Package:
    fs_entries: list[Entry] = [directory(p, m) for p, m in sorted(ROOT_DIRS.items())]
    fs_entries += [symlink(p, t) for p, t in sorted(ROOT_SYMLINKS.items())]
    cfg = "%config(noreplace) %verify(not md5 size mtime)"
    group = "".join(f"{name}:x:{gid}:\n" for name, gid in GROUPS)
    gshadow = "".join(f"{name}:::\n" for name, _ in GROUPS)
    fs_entries += [
        file("/etc/passwd", data=PASSWD, directive=cfg),
        file("/etc/shadow", data=SHADOW, mode=0o000, directive=cfg),
        file("/etc/group", data=group, directive=cfg),
        file("/etc/gshadow", data=gshadow, mode=0o000, directive=cfg),
        file("/etc/fstab", data="", directive=cfg),
        file("/etc/hosts", data=HOSTS, directive=cfg),
        file("/etc/shells", data="/bin/sh\n/usr/bin/sh\n", directive=cfg),
        file("/etc/os-release", data=OS_RELEASE),
        symlink("/usr/lib/os-release", "../../etc/os-release"),
    ]
    return Package(
        "filesystem", "The basic directory layout, usr-merge symlinks and account files", arch="noarch",
        description="Base directories, /bin /sbin /lib /lib64 -> usr symlinks, passwd/group/shadow, os-release.",
        entries=fs_entries)


def _busybox() -> Package:
    applets = busybox_applets()
    if not _is_static_elf(BUSYBOX):
        raise RuntimeError(f"{BUSYBOX} is not statically linked (install busybox-static)")
    bb_entries: list[Entry] = [file("/usr/sbin/busybox", src=BUSYBOX, mode=0o755)]
    bb_entries += [symlink(p, "busybox" if p.startswith("/usr/sbin/") else "../sbin/busybox") for p in applets]
    return Package(
        "busybox", "Static busybox with applet symlinks (the distribution's whole userland)",
        requires=REQ_FS, provides=["/bin/sh", "/usr/bin/sh"], entries=bb_entries)


def _live_init() -> Package:
    return Package(
        "live-init", f"/sbin/init that prints {MARKER} to the console and powers off", arch="noarch",
        requires=REQ_FS + ["busybox"],
        entries=[file("/usr/sbin/init", src=DATA / "live-init.sh", mode=0o755),
                 file("/usr/libexec/live-check", src=DATA / "live-check.sh", mode=0o755)])


def _kernel(ctx: BuildContext) -> Package:
    kver = ctx.kver
    tree = ctx.kernel_tree
    k_entries: list[Entry] = [
        file(f"/boot/vmlinuz-{kver}", src=tree / f"boot/vmlinuz-{kver}", mode=0o755),
        file(f"/boot/initramfs-{kver}.img", src=tree / f"boot/initramfs-{kver}.img", mode=0o600),
        file(f"/boot/config-{kver}", src=tree / f"boot/config-{kver}"),
    ]
    k_entries += _tree_entries(tree / "usr/lib/modules" / kver, f"/usr/lib/modules/{kver}")
    # Copies, not hard links: /boot is often a filesystem of its own (disk images), and rpm cannot link across.
    k_entries += [
        file(f"/usr/lib/modules/{kver}/vmlinuz", src=tree / f"boot/vmlinuz-{kver}", mode=0o755),
        file(f"/usr/lib/modules/{kver}/config", src=tree / f"boot/config-{kver}"),
    ]
    evr = f"{ctx.kernel_rpm_version}-{ctx.kernel_rpm_release}"
    return Package(
        "kernel", f"The Linux kernel {kver} (Debian's build) with a live-boot initramfs",
        version=ctx.kernel_rpm_version, release=ctx.kernel_rpm_release, license="GPL-2.0-only",
        requires=REQ_FS,
        provides=[f"kernel-core = {evr}", f"kernel-modules = {evr}",
                  "installonlypkg(kernel)"],
        entries=k_entries)


def _initramfs_livenet(ctx: BuildContext) -> Package:
    """The kernel's initramfs variant with dracut's livenet and a network (see kernel.LIVENET_ADD): installed, its
    %post puts it in place of ``/boot/initramfs-KVER.img``, so a live image made with it boots
    ``root=live:http://...`` (livecd-iso-to-pxeboot's HTTP tree).  Not in any group."""
    kver = ctx.kver
    stored = f"/usr/lib/testdistro/initramfs-livenet-{kver}.img"
    evr = f"{ctx.kernel_rpm_version}-{ctx.kernel_rpm_release}"
    return Package(
        "initramfs-livenet", f"The initramfs of kernel {kver} with dracut's livenet (network live root)",
        version=ctx.kernel_rpm_version, release=ctx.kernel_rpm_release, license="GPL-2.0-only",
        requires=REQ_FS + [f"kernel = {evr}"], requires_post=["/bin/sh", f"kernel = {evr}"],
        post=f"cp -f {stored} /boot/initramfs-{kver}.img\nchmod 600 /boot/initramfs-{kver}.img\n",
        entries=[directory("/usr/lib/testdistro"),
                 file(stored, src=ctx.kernel_tree.parent / kernel.LIVENET_INITRAMFS, mode=0o600)])


def _syslinux() -> Package:
    sl: list[Entry] = [directory("/usr/share/syslinux")]
    seen = set()
    for src in sorted(SYSLINUX_BIOS_MODULES.glob("*.c32")):
        sl.append(file(f"/usr/share/syslinux/{src.name}", src=src))
        seen.add(src.name)
    for name in ("isolinux.bin", "isohdpfx.bin", "isohdppx.bin"):
        if (ISOLINUX_DIR / name).exists():
            sl.append(file(f"/usr/share/syslinux/{name}", src=ISOLINUX_DIR / name))
            seen.add(name)
    for src in sorted(SYSLINUX_MBR_DIR.glob("*.bin")):
        if src.name not in seen:
            sl.append(file(f"/usr/share/syslinux/{src.name}", src=src))
            seen.add(src.name)
    if SYSLINUX_MEMDISK.exists():
        sl.append(file("/usr/share/syslinux/memdisk", src=SYSLINUX_MEMDISK))
    lacking = [n for n in SYSLINUX_REQUIRED if n not in seen]
    if lacking:
        raise RuntimeError(f"host syslinux/isolinux files missing: {lacking}")
    return Package(
        "syslinux", "ISOLINUX/SYSLINUX BIOS boot loader files in /usr/share/syslinux", requires=REQ_FS,
        provides=["syslinux-nonlinux"], entries=sl)


def _efi_boot_loaders(img: Path) -> list[Package]:
    """One GRUB image (*img*) standing in for shim, grub and the CD grub, and GRUB's EFI modules."""
    efi_dirs = [directory("/boot/efi", 0o700), directory("/boot/efi/EFI", 0o700)]
    fedora = [directory("/boot/efi/EFI/fedora", 0o700)]
    return [
        Package(
            "grub2-efi-x64", "GRUB EFI binary (stand-in for Fedora's signed grubx64.efi)", requires=REQ_FS,
            provides=["grub2-efi = 2.06-1"],
            entries=efi_dirs + fedora + [file("/boot/efi/EFI/fedora/grubx64.efi", src=img, mode=0o700)]),
        Package(
            "grub2-efi-x64-cdboot", "GRUB EFI binary for CDs (stand-in for Fedora's gcdx64.efi)", requires=REQ_FS,
            entries=efi_dirs + fedora + [file("/boot/efi/EFI/fedora/gcdx64.efi", src=img, mode=0o700)]),
        Package(
            "shim-x64", "Stand-in for shim: BOOTX64.EFI, fbx64.efi and shimx64.efi are the same GRUB image",
            requires=REQ_FS, provides=["shim = 15-1"],
            entries=efi_dirs + fedora + [
                directory("/boot/efi/EFI/BOOT", 0o700),
                file("/boot/efi/EFI/fedora/shimx64.efi", src=img, mode=0o700),
                file("/boot/efi/EFI/BOOT/BOOTX64.EFI", src=img, mode=0o700),
                file("/boot/efi/EFI/BOOT/fbx64.efi", src=img, mode=0o700),
            ]),
        Package(
            "grub2-efi-x64-modules", "GRUB modules for x86_64 EFI", arch="noarch", requires=REQ_FS,
            entries=[directory("/usr/lib/grub")]
            + _tree_entries(GRUB_EFI_DIR, "/usr/lib/grub/x86_64-efi", skip=("monolithic",))),
    ]


def _demo_packages() -> list[Package]:
    """Small packages for kickstart tests: a program, the library it requires, the extras it recommends."""
    return [
        Package(
            "libdemo", "A demo shared library (dependency target of demo-app)", requires=REQ_FS,
            entries=[file("/usr/lib64/libdemo.so.1", data="libdemo: not a real ELF library, a test fixture\n",
                          mode=0o755)]),
        Package(
            "demo-app", "A demo program: Requires libdemo, Recommends demo-extras", arch="noarch",
            requires=REQ_FS + ["libdemo", "/bin/sh"], recommends=["demo-extras"],
            entries=[file("/usr/bin/demo-app", data="#!/bin/sh\necho \"demo-app 1.0 from testdistro\"\n",
                          mode=0o755)]),
        Package(
            "demo-extras", "Optional extras for demo-app (a weak dependency target)", arch="noarch",
            requires=REQ_FS,
            entries=[directory("/usr/share/demo-extras"),
                     file("/usr/share/demo-extras/extras.txt", data="demo-extras was installed\n")]),
    ]


def _docs_demo() -> Package:
    """Documentation and translations, for --excludedocs and --instLangs."""
    man = (".TH DOCS-DEMO 1 \"2024\" \"testdistro\" \"User Commands\"\n.SH NAME\ndocs-demo \\- documentation "
           "fixture\n.SH DESCRIPTION\nA package with documentation and translations for kickstart tests.\n")
    docs: list[Entry] = [
        directory("/usr/share/doc/docs-demo"),
        file("/usr/share/doc/docs-demo/README", data="docs-demo: this file is %doc\n", directive="%doc"),
        file("/usr/share/man/man1/docs-demo.1", data=man, directive="%doc"),
        directory("/usr/share/docs-demo"),
        file("/usr/share/docs-demo/data", data="docs-demo data: a plain file, always installed\n"),
    ]
    translations = {"de": "Hallo Welt", "fr": "Bonjour le monde", "ja": "こんにちは世界"}
    for lang, text in translations.items():
        base = f"/usr/share/locale/{lang}"
        docs.append(file(f"{base}/LC_MESSAGES/docs-demo.mo", directive=f"%lang({lang})", data=mo_file({
            "": f"Content-Type: text/plain; charset=UTF-8\nLanguage: {lang}\n", "Hello world": text})))
    return Package(
        "docs-demo", "Documentation and translation fixture (%doc, %lang(de/fr/ja))", arch="noarch",
        requires=REQ_FS, entries=docs)


def _failing_scriptlet(scriptlet: str, consequence: str) -> Package:
    """``bad-pre`` / ``bad-post``: a package whose %pre or %post exits 1 (*consequence*: what rpm then does)."""
    name = f"bad-{scriptlet}"
    script = f"echo '{name}: failing on purpose' >&2\nexit 1\n"
    pre, post = (script, None) if scriptlet == "pre" else (None, script)
    return Package(
        name, f"A package whose %{scriptlet} fails (exit 1): {consequence}", arch="noarch", requires=REQ_FS,
        requires_pre=["/bin/sh"] if pre else [], requires_post=["/bin/sh"] if post else [], pre=pre, post=post,
        entries=[directory(f"/usr/share/{name}"),
                 file(f"/usr/share/{name}/README", data=f"{name}'s %{scriptlet} exits 1 on purpose\n")])


def _scriptlet_packages() -> list[Package]:
    """A %post that works, and packages rpm refuses or warns about (a failing %pre, payload or %post)."""
    return [
        Package(
            "post-demo", "A package whose %post writes /var/lib/post-demo/ran", arch="noarch",
            requires=REQ_FS, requires_post=["/bin/sh"],
            post="mkdir -p /var/lib/post-demo\necho \"post-demo %%post ran\" > /var/lib/post-demo/ran\n",
            entries=[directory("/var/lib/post-demo")]),
        _failing_scriptlet("pre", "rpm refuses to install it"),
        Package(
            "bad-payload", "A package whose payload cannot be unpacked (a file below the regular file /etc/shells)",
            arch="noarch", requires=REQ_FS,
            entries=[file("/etc/shells/bad-payload", data="rpm cannot create this: /etc/shells is a file\n")]),
        _failing_scriptlet("post", "rpm installs it anyway"),
    ]


def _demo_service() -> Package:
    unit = (DATA / "demo.service").read_text()
    unit_off = (DATA / "demo-off.service").read_text()
    return Package(
        "demo-service", "systemd units demo.service (disabled) and demo-off.service (enabled)", arch="noarch",
        requires=REQ_FS, entries=[
            directory("/usr/lib/systemd"), directory("/usr/lib/systemd/system"),
            file("/usr/lib/systemd/system/demo.service", data=unit),
            file("/usr/lib/systemd/system/demo-off.service", data=unit_off),
            directory("/etc/systemd"), directory("/etc/systemd/system"),
            directory("/etc/systemd/system/multi-user.target.wants"),
            symlink("/etc/systemd/system/multi-user.target.wants/demo-off.service",
                    "/usr/lib/systemd/system/demo-off.service"),
        ])


def _standin_packages() -> list[Package]:
    """Tools the kickstart commands run (firewall, authselect, selinux), standing in by logging their arguments."""
    return [
        Package(
            "firewalld", "Stand-in: firewall-offline-cmd logs its arguments", arch="noarch",
            requires=REQ_FS + ["/bin/sh"], entries=[_standin("/usr/bin/firewall-offline-cmd")]),
        Package(
            "authselect", "Stand-in: authselect logs its arguments", arch="noarch",
            requires=REQ_FS + ["/bin/sh"], entries=[_standin("/usr/bin/authselect")]),
        Package(
            "policycoreutils", "Stand-in: setfiles logs its arguments", arch="noarch",
            requires=REQ_FS + ["/bin/sh"], entries=[_standin("/usr/sbin/setfiles")]),
        Package(
            "selinux-policy-targeted", "Stand-in: a targeted policy's file_contexts (no real policy)",
            arch="noarch", requires=REQ_FS, entries=[
                directory("/etc/selinux"), directory("/etc/selinux/targeted"),
                directory("/etc/selinux/targeted/contexts"), directory("/etc/selinux/targeted/contexts/files"),
                file("/etc/selinux/targeted/contexts/files/file_contexts",
                     data="/.*\tsystem_u:object_r:default_t:s0\n/tmp(/.*)?\tsystem_u:object_r:tmp_t:s0\n"),
            ]),
    ]


def _hostile_links() -> Package:
    return Package(
        "hostile-links", "Symlinks out of the root at paths configuration writers touch", arch="noarch",
        requires=REQ_FS, entries=[
            directory("/etc/selinux"),
            symlink("/etc/locale.conf", "/etc/passwd-HOSTILE-TARGET"),
            symlink("/etc/vconsole.conf", "../../../../../../tmp/hostile-target-vconsole"),
            symlink("/etc/hostname", "/tmp/hostile-target-hostname"),
            symlink("/etc/sysconfig/desktop", "/tmp/hostile-target-desktop"),
            symlink("/etc/selinux/config", "/tmp/hostile-target-selinux"),
        ])


def _identical(a: Entry, b: Entry) -> bool:
    """Whether two entries install the very same file or symlink (rpm shares such a path between packages)."""
    if a.kind != b.kind or a.effective_mode() != b.effective_mode() or a.directive != b.directive:
        return False
    if a.kind == "symlink":
        return a.target == b.target
    if a.hardlink_of is not None or b.hardlink_of is not None:
        return False
    if a.src is not None and b.src is not None:
        return a.src.resolve() == b.src.resolve()
    return a.data is not None and a.data == b.data


def check_conflicts(pkgs: list[Package]) -> None:
    """No two packages may ship the same non-directory path with different content (rpm would refuse the
    transaction); identical files (the same host library in rpm and grub2-tools) are shared, as rpm does."""
    owner: dict[str, tuple[str, Entry]] = {}
    for pkg in pkgs:
        for e in pkg.entries:
            if e.kind == "dir":
                continue
            if e.path in owner:
                other, first = owner[e.path]
                if not _identical(first, e):
                    raise RuntimeError(f"{e.path} is in both {other} and {pkg.name}")
                continue
            owner[e.path] = (pkg.name, e)


def drop_applets_owned_elsewhere(pkgs: list[Package]) -> None:
    """Remove busybox applet symlinks whose path another package ships (e.g. /usr/sbin/setfiles)."""
    others = {e.path for p in pkgs if p.name != "busybox" for e in p.entries if e.kind != "dir"}
    for p in pkgs:
        if p.name == "busybox":
            p.entries = [e for e in p.entries if e.kind != "symlink" or e.path not in others]


def find(pkgs: list[Package], name: str) -> Package | None:
    return next((p for p in pkgs if p.name == name), None)
