"""Reading a live ISO without mounting it (xorriso): its label, layout, kernel, initrd and boot configuration.

The live media tools (livecd-iso-to-disk, editliveos, liveimage-mount, livecd-iso-to-pxeboot) all start here.
Hosts may have no iso9660 driver (and building never needs one), so nothing is mounted: xorriso lists and
extracts.  Both of our layouts and Fedora's are understood: GRUB 2 (``boot/grub2/grub.cfg``,
``images/pxeboot/``) or isolinux (``isolinux/``), and a root that is ``LiveOS/squashfs.img`` holding
``LiveOS/rootfs.img``, a flat ``LiveOS/squashfs.img`` (the root tree itself), or ``LiveOS/rootfs.img`` directly.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from imgcreate.errors import CommandError, CreatorError
from imgcreate.host import signals
from imgcreate.host.run import run
from imgcreate.pack import RootfsType, erofs

_BOOT_CONFIGS = ("/boot/grub2/grub.cfg", "/EFI/BOOT/grub.cfg", "/isolinux/isolinux.cfg", "/isolinux/grub.cfg")


class Layout(enum.Enum):
    """Where the live root is on the ISO."""

    ROOTFS_IN_SQUASHFS = "squashfs.img holding LiveOS/rootfs.img"
    FLAT_SQUASHFS = "flat squashfs.img (the root tree)"
    ROOTFS_ON_ISO = "LiveOS/rootfs.img on the ISO"


@dataclass(frozen=True)
class BootEntry:
    """The first boot entry of the ISO's menu: kernel and initrd paths on the ISO, and the kernel arguments."""

    kernel: str
    initrd: str
    args: str

    def args_without(self, *prefixes: str) -> str:
        """The arguments without those starting with any of *prefixes* (e.g. "root=", "rd.live.check")."""
        return " ".join(a for a in shlex.split(self.args) if not a.startswith(prefixes))


@dataclass(frozen=True)
class LiveIso:
    path: Path
    label: str  # the volume id, which root=live:CDLABEL= names
    layout: Layout
    files: frozenset[str]  # every file on the ISO, as "/dir/name"
    boot: BootEntry
    erofs: bool = False  # LiveOS/squashfs.img is EROFS (--rootfs-type erofs / erofs-ext4)

    @property
    def rootfs_type(self) -> RootfsType | None:
        """livecd-creator's (lorax's) ``--rootfs-type`` that makes this layout; None for rootfs.img on the ISO."""
        if self.layout is Layout.ROOTFS_ON_ISO:
            return None
        flat = self.layout is Layout.FLAT_SQUASHFS
        if self.erofs:
            return RootfsType.EROFS if flat else RootfsType.EROFS_EXT4
        return RootfsType.SQUASHFS if flat else RootfsType.SQUASHFS_EXT4

    @property
    def root_image(self) -> str:
        """The root's file on the ISO: /LiveOS/squashfs.img, or /LiveOS/rootfs.img (uncompressed layout)."""
        return "/LiveOS/rootfs.img" if self.layout is Layout.ROOTFS_ON_ISO else "/LiveOS/squashfs.img"

    def read(self, path: str) -> bytes:
        """One file of the ISO."""
        if path not in self.files:
            raise CreatorError(f"{self.path} has no {path}.")
        with signals.temporary_directory("liveiso-") as tmp:
            return self.extract(path, tmp / "f").read_bytes()

    def extract(self, path: str, dest: Path) -> Path:
        """Extract a file or directory of the ISO to *dest* (made; parents must exist).  A file must be one of the
        ISO's regular files: a symbolic link on the ISO, once extracted, would lead whatever reads it to a host file."""
        if path.rstrip("/") and path not in self.files and not any(f.startswith(path.rstrip("/") + "/")
                                                                   for f in self.files):
            raise CreatorError(f"{self.path} has no file {path} (a symbolic link there is not followed).")
        run(["xorriso", "-abort_on", "FAILURE", "-indev", str(self.path), "-osirrox", "on", "-extract", path,
             str(dest)], what=f"Extracting {path} from {self.path}")
        return dest

    def extract_all(self, dest: Path) -> Path:
        """The whole ISO tree into *dest* (the files become writable: xorriso keeps the ISO's read-only modes)."""
        self.extract("/", dest)
        run(["chmod", "-R", "u+w", str(dest)], what=f"Making {dest} writable")
        return dest


def read_live_iso(path: Path) -> LiveIso:
    """Read *path* as a live ISO; a clear CreatorError if it is not one (or not an ISO at all)."""
    if not path.is_file():
        raise CreatorError(f"'{path}' is not a file.")
    try:
        listing = run(["xorriso", "-abort_on", "FAILURE", "-indev", str(path), "-find", "/", "-type", "f"],
                      what=f"Listing {path}").stdout
        pvd = run(["xorriso", "-indev", str(path), "-pvd_info"], what=f"Reading the volume id of {path}").stdout
    except CommandError as exc:
        raise CreatorError(f"'{path}' is not an ISO 9660 image that xorriso can read.") from exc
    files = frozenset(_unquote(line) for line in listing.splitlines() if line.startswith("'"))
    label = next((ln.split(":", 1)[1].strip() for ln in pvd.splitlines() if ln.startswith("Volume Id")), "")
    layout, is_erofs = _layout(path, files)
    iso = LiveIso(path=path, label=label, layout=layout, files=files, boot=BootEntry("", "", ""), erofs=is_erofs)
    return dataclasses.replace(iso, boot=_boot_entry(iso))


def _unquote(line: str) -> str:
    return line.strip().strip("'").replace("'\"'\"'", "'")


def _layout(path: Path, files: frozenset[str]) -> tuple[Layout, bool]:
    """The ISO's layout, and whether its LiveOS/squashfs.img is EROFS."""
    if "/LiveOS/squashfs.img" in files:
        return _squashfs_layout(path)
    if "/LiveOS/rootfs.img" in files:
        return Layout.ROOTFS_ON_ISO, False
    raise CreatorError(f"'{path}' is not a live ISO: it has neither LiveOS/squashfs.img nor LiveOS/rootfs.img.")


def _squashfs_layout(path: Path) -> tuple[Layout, bool]:
    """Whether the squashfs (or EROFS) image holds LiveOS/rootfs.img or a root tree, from its directory listing.

    A squashfs is listed where it lies in the ISO (``unsquashfs -o``): a Fedora ISO's is 2 GiB, and copying it
    out first would cost seconds and as much temporary space (``/tmp`` is a RAM-backed tmpfs on Fedora) before
    every tool does anything.  Extracted to a temporary file only when that cannot work: an unsquashfs older than
    4.4 (no ``-o``), an EROFS image (dump.erofs 1.5 takes no offset), a file stored in several extents."""
    extent = file_extent(path, "/LiveOS/squashfs.img")
    offset = extent[0] if extent is not None else None
    if offset is not None and not erofs.is_erofs(path, offset):
        listing = run(["unsquashfs", "-o", str(offset), "-l", "-d", "", str(path)], check=False,
                      what=f"Listing LiveOS/squashfs.img in {path}")
        if listing.returncode == 0:
            return _known(path, squashfs_content(listing.stdout.split())[0]), False
    with signals.temporary_directory("liveiso-") as tmp:
        sq = tmp / "squashfs.img"
        run(["xorriso", "-indev", str(path), "-osirrox", "on", "-extract", "/LiveOS/squashfs.img", str(sq)],
            what=f"Extracting LiveOS/squashfs.img from {path}")
        layout, _, is_erofs = image_content(sq)
    return _known(path, layout), is_erofs


def _known(path: Path, layout: Layout | None) -> Layout:
    if layout is None:
        raise CreatorError(f"'{path}': LiveOS/squashfs.img holds neither LiveOS/rootfs.img nor a root tree.")
    return layout


def file_extent(iso: Path, path: str) -> tuple[int, int] | None:
    """Where the file *path* of *iso* lies in it: (offset, size) in bytes, when it is stored in one extent
    (xorriso's ``report_lba``); None when not (a file over 4 GiB is stored in several) or when it cannot be told."""
    report = run(["xorriso", "-indev", str(iso), "-find", path, "-exec", "report_lba", "--"], check=False,
                 what=f"Locating {path} in {iso}")
    # File data lba:  0 ,    18316 ,    23836 , 48816128 , '/LiveOS/squashfs.img'  (extent, LBA, blocks, size, path)
    extents = [line.split(":", 1)[1].split(",") for line in report.stdout.splitlines()
               if line.startswith("File data lba:")]
    if report.returncode != 0 or len(extents) != 1:
        return None
    fields = [f.strip() for f in extents[0][:4]]
    if len(fields) < 4 or not (fields[1].isdigit() and fields[3].isdigit()):
        return None
    return int(fields[1]) * 2048, int(fields[3])


EXT_IMAGES = ("LiveOS/rootfs.img", "LiveOS/ext3fs.img")  # the root image's names inside squashfs.img, newest first


def image_content(image: Path) -> tuple[Layout | None, str | None, bool]:
    """What a LiveOS/squashfs.img (a file, squashfs or EROFS) holds: its layout, the ext image's path inside it
    (None for a root tree), and whether it is EROFS.  (None, None, ...) if neither an ext image nor a tree.
    Listed without mounting: ``unsquashfs -l``, or ``dump.erofs --ls`` (--rootfs-type erofs / erofs-ext4)."""
    is_erofs = erofs.is_erofs(image)
    if is_erofs:
        top = erofs.listing(image)
        names = top + (erofs.listing(image, "/LiveOS") if "/LiveOS" in top else [])
    else:
        names = run(["unsquashfs", "-l", "-d", "", str(image)], what=f"Listing {image}").stdout.split()
    layout, inner = squashfs_content(names)
    return layout, inner, is_erofs


def squashfs_content(names: list[str]) -> tuple[Layout | None, str | None]:
    """What a live squashfs holds, from its listing (``unsquashfs -l -d ""``): the layout, and for an ext image
    its path inside; (None, None) if neither an ext image nor a root tree."""
    inner = next((name for name in EXT_IMAGES if f"/{name}" in names), None)
    if inner is not None:
        return Layout.ROOTFS_IN_SQUASHFS, inner
    if "/usr" in names or "/etc" in names:
        return Layout.FLAT_SQUASHFS, None
    return None, None


def _boot_entry(iso: LiveIso) -> BootEntry:
    for cfg in _BOOT_CONFIGS:
        if cfg in iso.files:
            entry = parse_boot_config(iso.read(cfg).decode(errors="replace"))
            if entry is not None:
                return entry
    raise CreatorError(f"'{iso.path}' has no boot menu with a kernel ({', '.join(_BOOT_CONFIGS)}).")


def parse_boot_config(text: str) -> BootEntry | None:
    """The first kernel entry of a grub.cfg (``linux``/``linuxefi`` + ``initrd``) or isolinux.cfg (``kernel`` +
    ``append initrd=...``)."""
    kernel = initrd = args = None
    for raw in text.splitlines():
        words = raw.strip().split(None, 2)
        if not words:
            continue
        if words[0] in ("linux", "linuxefi", "linux16") and kernel is None and len(words) > 1:
            kernel, args = words[1], words[2] if len(words) > 2 else ""
        elif words[0] in ("initrd", "initrdefi", "initrd16") and kernel is not None and initrd is None:
            initrd = words[1] if len(words) > 1 else None
        elif words[0].lower() == "kernel" and kernel is None and len(words) > 1:
            kernel = _isolinux_path(words[1])
        elif words[0].lower() == "append" and kernel is not None and args is None:
            rest = " ".join(words[1:])
            m = re.search(r"\binitrd=(\S+)", rest)
            initrd = _isolinux_path(m.group(1)) if m else None
            args = re.sub(r"\binitrd=\S+\s*", "", rest).strip()
        if kernel and initrd and args is not None:
            return BootEntry(kernel=kernel, initrd=initrd, args=args)
    return None


def _isolinux_path(name: str) -> str:
    return name if name.startswith("/") else f"/isolinux/{name}"
