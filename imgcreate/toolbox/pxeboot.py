"""A network boot tree from a live ISO (``livecd-iso-to-pxeboot``).

The tree (default ``./tftpboot``) holds the ISO's kernel and an initrd with the whole ISO appended as a second
cpio archive, as upstream's livecd-iso-to-pxeboot makes it: the kernel unpacks both into one initramfs, and
dracut's dmsquash-live boots ``root=live:/<name>.iso`` by loop-mounting the ISO from there.  Nothing else has
to be served.  Boot loaders for it:

- ``pxegrub.0``: a GRUB 2 PXE image made with the host's ``grub-mkimage`` from the ISO's own BIOS GRUB modules
  (``boot/grub2/i386-pc``; the host's when the ISO has none), reading ``boot/grub2/grub.cfg`` over TFTP;
- ``boot.ipxe``: an iPXE script (iPXE firmware, e.g. QEMU's NIC ROMs, runs it as the boot file);
- ``pxelinux.0`` and ``pxelinux.cfg/default`` when the host has syslinux's pxelinux.0 (upstream's way).

With *http_url* (where the tree will be served over HTTP) the tree also gets ``LiveOS/squashfs.img``, the
ISO's plain initrd as ``http/initrd.img`` and boot configurations for ``root=live:<http_url>/LiveOS/squashfs.img``:
dracut's livenet gets an address by DHCP and fetches the squashfs into RAM, so the initrd stays small (the ISO's
initramfs needs dracut's livenet, network and url-lib modules: ``dracut-network``, ``dracut-live``).  They are
``http/boot.ipxe`` (iPXE, which loads the kernel and initrd over HTTP too), ``http/grub.cfg`` (for a GRUB that is
pointed at it), and a second entry of pxegrub.0's and pxelinux.0's menus (kernel and initrd over TFTP).

The tree is written in a temporary folder next to the destination and renamed into place at the end: the
destination appears complete or not at all.  Its files are the same, byte for byte, on every run from the same
ISO (and host GRUB); with ``SOURCE_DATE_EPOCH`` their dates are clamped to it, so the whole tree is.
"""

from __future__ import annotations

import logging
import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from imgcreate.boot import grubmenu, grubpc
from imgcreate.boot.grubmenu import GrubMenu, MenuEntry
from imgcreate.errors import CreatorError
from imgcreate.host import signals
from imgcreate.host.run import find_any_tool, run
from imgcreate.media.liveiso import LiveIso, read_live_iso
from imgcreate.storage import inroot, reproducible

log = logging.getLogger("imgcreate")

PXELINUX = ("/usr/share/syslinux/pxelinux.0", "/usr/lib/PXELINUX/pxelinux.0", "/usr/lib/syslinux/pxelinux.0")
_LDLINUX = ("/usr/share/syslinux/ldlinux.c32", "/usr/lib/syslinux/modules/bios/ldlinux.c32")
_GRUB_MODULES = ("pxe", "tftp", "net", "normal", "linux", "echo", "test", "configfile", "gzio", "http")
_ISO_GRUB_DIR = grubpc.MEDIA_GRUB_PC_DIR
_TFTP_TITLE = "Live (network boot)"
_HTTP_TITLE = "Live (network boot, root over HTTP)"


@dataclass(frozen=True)
class PxeTree:
    """What was written: the tree, the boot files in it (relative names) and the kernel arguments used."""

    path: Path
    boot_files: tuple[str, ...]
    args: str
    http_args: str | None


def iso_name_in_initrd(iso: Path) -> str:
    """The ISO's name inside the initramfs: dracut recognises ``root=live:/NAME.iso`` by its suffix, and a
    kernel argument cannot hold spaces."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", iso.name)
    return stem if stem.lower().endswith(".iso") else f"{stem}.iso"


def live_args(live: LiveIso, root: str) -> str:
    """The ISO's first boot entry's arguments with its ``root=`` replaced by *root*."""
    kept = [a for a in shlex.split(live.boot.args) if not a.startswith("root=")]
    return " ".join([f"root={root}", *kept])


def make_pxe_tree(iso: Path, dest: Path, http_url: str | None = None, tmpdir: Path | None = None,
                  source_date_epoch: int | None = None) -> PxeTree:
    """Write the network boot tree of *iso* to *dest* (which must not exist yet); with *source_date_epoch* its
    files' dates are that time (a reproducible tree)."""
    live = read_live_iso(iso)
    if dest.exists() or dest.is_symlink():
        raise CreatorError(f"'{dest}' exists already; it is not overwritten. Remove it or choose another -o.")
    if not dest.parent.is_dir():
        raise CreatorError(f"The folder '{dest.parent}' for the tree does not exist.")
    name = iso_name_in_initrd(iso)
    args = live_args(live, f"live:/{name}")
    base_url = http_url.rstrip("/") if http_url else None
    http_args = live_args(live, f"live:{base_url}/LiveOS/squashfs.img") if base_url else None
    staging: Path | None = None
    tmp: Path | None = None
    try:
        # Both folders are made, and known here for removal, before a signal can stop us (a signal between a
        # mkdtemp and the ``with`` of a TemporaryDirectory would leave it behind).
        with signals.deferred("making the work folders"):
            staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
            tmp = Path(tempfile.mkdtemp(prefix="pxeboot-", dir=tmpdir))
        live.extract(live.boot.kernel, staging / "vmlinuz")
        _initrd_with_iso(live, tmp, name, staging / "initrd.img")
        if base_url is not None and http_args is not None:
            _http_files(live, staging, base_url, http_args)
        boot_files = _boot_loaders(live, tmp, staging, args, http_args)
        run(["chmod", "-R", "u+w,go+rX", str(staging)], what=f"Making {staging} readable")
        if source_date_epoch is not None:  # the contents are the same on every run; the dates now are too
            reproducible.clamp_mtimes(staging, source_date_epoch)
        staging.rename(dest)
    except BaseException:
        with signals.deferred("cleaning up"):
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        with signals.deferred("cleaning up"):
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
    log.info("wrote the network boot tree %s (%s)", dest, ", ".join(boot_files))
    return PxeTree(dest, boot_files, args, http_args)


def _initrd_with_iso(live: LiveIso, tmp: Path, name: str, out: Path) -> None:
    """The ISO's initrd, padded to a 512-byte boundary with zeros (which the kernel skips between archives),
    followed by a newc cpio archive holding the ISO as /NAME."""
    initrd = live.extract(live.boot.initrd, tmp / "initrd.img")
    links = tmp / "cpio"
    links.mkdir()
    (links / name).symlink_to(live.path.resolve())
    archive = tmp / "iso.cpio"
    run(["cpio", "--quiet", "-H", "newc", "-o", "-L", "-O", str(archive)], cwd=links, input=f"{name}\n",
        what="Making the cpio archive of the ISO")
    with open(out, "wb") as dst:
        with open(initrd, "rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
        dst.write(b"\0" * (-dst.tell() % 512))
        with open(archive, "rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
    archive.unlink()


def _http_files(live: LiveIso, tree: Path, base_url: str, args: str) -> None:
    """The livenet variant: the squashfs to serve over HTTP, the plain initrd, and their menus in http/.

    ``http/boot.ipxe`` names the kernel and initrd by their full URLs under *base_url* (the tree is served
    there, or the squashfs would not be either): iPXE resolves a relative name against the script's own URL,
    so ``vmlinuz`` would be ``http/vmlinuz``, and over HTTP they load much faster than over TFTP.
    ``http/grub.cfg`` keeps paths on GRUB's root device (the TFTP server, for pxegrub.0 pointed at it)."""
    (tree / "LiveOS").mkdir()
    live.extract(live.root_image, tree / "LiveOS" / Path(live.root_image).name)
    http = tree / "http"
    http.mkdir()
    live.extract(live.boot.initrd, http / "initrd.img")
    (http / "grub.cfg").write_text(_grub_cfg([_HTTP_TITLE, "/vmlinuz", "/http/initrd.img", args]))
    (http / "boot.ipxe").write_text(_ipxe_script(f"{base_url}/vmlinuz", f"{base_url}/http/initrd.img", args))


def _boot_loaders(live: LiveIso, tmp: Path, tree: Path, args: str, http_args: str | None) -> tuple[str, ...]:
    """The boot loaders at the top of the tree.  With *http_args* their menus (GRUB's, pxelinux's) get a second
    entry booting the HTTP variant (plain initrd, root over HTTP), so that pxegrub.0 and pxelinux.0 reach it
    too (``http/grub.cfg`` alone is read by no boot loader); the first entry, the default, stays the one that
    needs nothing but TFTP."""
    written = ["boot.ipxe"]
    (tree / "boot.ipxe").write_text(_ipxe_script("vmlinuz", "initrd.img", args))
    entries = [[_TFTP_TITLE, "/vmlinuz", "/initrd.img", args]]
    if http_args is not None:
        entries.append([_HTTP_TITLE, "/vmlinuz", "/http/initrd.img", http_args])
    _grub_pxe(live, tmp, tree, _grub_cfg(*entries))
    written.append("pxegrub.0")
    pxelinux = next((Path(p) for p in PXELINUX if Path(p).is_file()), None)
    if pxelinux is None:
        log.warning("no pxelinux.0 on this host (%s): the tree boots with GRUB (pxegrub.0) or iPXE (boot.ipxe)",
                    " or ".join(PXELINUX))
    else:
        shutil.copyfile(pxelinux, tree / "pxelinux.0")
        ldlinux = next((Path(p) for p in _LDLINUX if Path(p).is_file()), None)
        if ldlinux is not None:
            shutil.copyfile(ldlinux, tree / "ldlinux.c32")
        (tree / "pxelinux.cfg").mkdir()
        menu = f"DEFAULT live\nTIMEOUT 20\nPROMPT 0\nLABEL live\n  KERNEL vmlinuz\n  APPEND initrd=initrd.img {args}\n"
        if http_args is not None:
            menu += f"LABEL livenet\n  KERNEL vmlinuz\n  APPEND initrd=http/initrd.img {http_args}\n"
        (tree / "pxelinux.cfg" / "default").write_text(menu)
        written.append("pxelinux.0")
    return tuple(written)


def _grub_pxe(live: LiveIso, tmp: Path, tree: Path, grub_cfg: str) -> None:
    """pxegrub.0 and boot/grub2/{grub.cfg,i386-pc/}: GRUB's modules come from the ISO (as the distribution
    ships them), only the image is assembled with the host's grub-mkimage."""
    grubdir = tree / "boot" / "grub2"
    grubdir.mkdir(parents=True)
    moddir = grubdir / "i386-pc"
    if any(f.startswith(_ISO_GRUB_DIR + "/") for f in live.files):
        # grub-mkimage reads them on the host: copied without following a link out of the ISO's folder.
        iso_tree = tmp / "iso-grub"  # the ISO's folder at its place, so errors name the ISO's paths
        (iso_tree / _ISO_GRUB_DIR.lstrip("/")).parent.mkdir(parents=True)
        live.extract(_ISO_GRUB_DIR, iso_tree / _ISO_GRUB_DIR.lstrip("/"))
        inroot.copy_out(iso_tree, _ISO_GRUB_DIR, moddir)
    elif (host := grubpc.host_modules()) is not None:
        log.info("the ISO has no GRUB BIOS modules: using the host's %s", host)
        shutil.copytree(host, moddir)
    else:
        raise CreatorError(f"Neither the ISO ({_ISO_GRUB_DIR}) nor this host ({grubpc.GRUB_PC_DIR}) has GRUB's BIOS "
                           "modules: install grub-pc-bin (Debian) or grub2-pc-modules (Fedora).")
    run(["chmod", "-R", "u+w", str(moddir)], what="Making the GRUB modules writable")
    mkimage = find_any_tool("grub2-mkimage", "grub-mkimage")
    run([mkimage, "-O", "i386-pc-pxe", "-d", str(moddir), "-p", "(tftp)/boot/grub2",
         "-o", str(tree / "pxegrub.0"), *_GRUB_MODULES], what="Making the GRUB PXE image")
    (grubdir / "grub.cfg").write_text(grub_cfg)


def _grub_cfg(*entries: list[str]) -> str:
    """A GRUB menu of *entries* ([title, kernel, initrd, args]), the first one the default."""
    return grubmenu.render(GrubMenu(entries=tuple(MenuEntry(*entry) for entry in entries), timeout=1, serial=True,
                                    announce=True))


def _ipxe_script(kernel: str, initrd: str, args: str) -> str:
    return f"#!ipxe\nkernel {kernel} initrd=initrd.img {args}\ninitrd --name initrd.img {initrd}\nboot\n"
