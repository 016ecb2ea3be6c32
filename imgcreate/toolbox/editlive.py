"""Remastering an existing live ISO (``editliveos``): packages added, kernel arguments added, a script or a
kickstart's %post run in its root, a new label.

Why this is a thin layer over :class:`LiveImageCreator`: a build with ``base_on=ISO`` already starts from an
earlier live ISO's root (its ext ``rootfs.img`` or flat tree, see :mod:`imgcreate.media.baseiso`) and then installs,
runs %post, remakes the boot menus and masters a new ISO, with every guarantee of a normal build (nothing left
mounted, the output written whole or not at all).  Editing is then a kickstart made from the options, and a
creator that keeps what the base ISO had: its label, layout, compressor, boot loader, kernel arguments and the
size of its root filesystem.
"""

from __future__ import annotations

import fnmatch
import logging
import platform
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgcreate import kickstart
from imgcreate.build.pipeline import BuildOptions, build_image
from imgcreate.errors import CreatorError
from imgcreate.host import signals
from imgcreate.kickstart.values import DEFAULT_IMAGE_SIZE_MB
from imgcreate.live import LiveImageCreator
from imgcreate.media.liveiso import Layout, LiveIso, read_live_iso
from imgcreate.pack import RootfsType
from imgcreate.toolbox import editbrand
from imgcreate.toolbox.editbrand import Brand

log = logging.getLogger("imgcreate")

# Arguments every live boot entry gets from LiveImageCreator itself: not carried over from the base ISO.
_LIVE_ARGS = ("ro", "quiet", "rhgb", "rd.live.image")
_LIVE_ARG_PREFIXES = ("root=", "rootfstype=", "rd.live.overlay.overlayfs")


@dataclass(frozen=True)
class EditOptions:
    """What to change.  *label*: the new volume label (None keeps the base ISO's).  *repos*: repository URLs,
    directories holding a repository (``repodata/``), ``.repo`` files or directories of them.  *script*: a file
    run chrooted in the root (with its ``#!`` interpreter, else /bin/sh).  *kickstart*: a kickstart whose
    packages, commands and %post apply to the root."""

    label: str | None = None
    packages: tuple[str, ...] = ()
    repos: tuple[str, ...] = ()
    extra_kernel_args: str = ""
    script: Path | None = None
    kickstart: Path | None = None
    tmpdir: Path = Path("/var/tmp")
    releasever: str | None = None
    compression_type: str | None = None  # None: the base ISO's compressor
    cachedir: Path | None = None
    source_date_epoch: int | None = None  # a reproducible edit (None: $SOURCE_DATE_EPOCH when set)
    shell: bool = False  # upstream's default (editliveos without -N): a shell in the root after the edit
    includes: tuple[str, ...] = ()  # -i: source ISO paths (or host paths) copied onto the new ISO
    excludes: tuple[str, ...] | None = None  # -e: None copies nothing else; patterns: all the rest but these
    secludes: tuple[str, ...] = ()  # -u: paths removed from the new root (~/ is every user's home and /root)
    skip_compression: bool = False  # --skip-compression: LiveOS/rootfs.img on the ISO, uncompressed
    compress: bool = False  # --compress: squash an uncompressed source
    flatten_squashfs: bool = False  # --flatten-squashfs: the root tree itself in squashfs.img, no rootfs.img
    rootfs_size_gib: int | None = None  # --rootfs-size-gb N: the root grows to N GiB (never below the base's)
    brand: Brand | None = None  # -b/-r/-n :NAME: the Remix line, menus' product, name and label (editbrand)
    relabel: bool = True  # False (-S/--skip-SELinux): the edited root is not relabelled after %post
    extra: dict[str, Any] = field(default_factory=dict)  # more LiveImageCreator keyword arguments


class EditLiveCreator(LiveImageCreator):
    """A LiveImageCreator whose root image takes the base ISO's ``rootfs.img`` size (not the kickstart's default
    4 GiB): an edited live system keeps the room it had.  The size is a setting the root storage reads."""

    def __init__(self, ks: kickstart.KickstartHandler, name: str, source: LiveIso | None = None,
                 copies: tuple[tuple[str, Path | None], ...] = (), brand: Brand | None = None,
                 relabel: bool = True, **kwargs: Any) -> None:
        super().__init__(ks, name, **kwargs)
        self.image_size = 0
        self.size_from_base = True
        self._source = source
        self._copies = copies  # (path on the new ISO, host path or None: the source ISO's own file)
        self._brand = brand
        self._relabel = relabel

    def configure(self) -> None:
        """Upstream's order: the release files branded (-b, -r) before the edit's %post (the script) runs."""
        if self._brand is not None:
            editbrand.brand_release_files(self._instroot.path, self._brand)
        super().configure()

    def _configure_after_post(self, root: Path) -> None:
        """-S/--skip-SELinux: the root is not relabelled; each file keeps the label it had (the source's)."""
        if self._relabel:
            super()._configure_after_post(root)
        else:
            log.info("--skip-SELinux: the edited root is not relabelled (its files keep their SELinux labels)")

    def _create_bootconfig(self) -> None:
        """The boot files, then -i/-e: the source's other files (or host files) onto the new ISO."""
        super()._create_bootconfig()
        for dest_path, host in self._copies:
            dest = self._isodir / dest_path.lstrip("/")
            if dest.exists():
                continue  # the new build's own file wins (its boot files, LiveOS)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if host is not None:
                if host.is_dir():
                    shutil.copytree(host, dest, symlinks=True)
                else:
                    shutil.copy2(host, dest)
            elif self._source is not None:
                self._source.extract(dest_path, dest)


def kept_kernel_args(live: LiveIso) -> str:
    """The base ISO's kernel arguments that are not the live boot's own (root=, rd.live.image, ...), which
    the new menu gets anyway, with the new label."""
    return " ".join(a for a in shlex.split(live.boot.args)
                    if a not in _LIVE_ARGS and not a.startswith(_LIVE_ARG_PREFIXES))


def _script_section(script: Path) -> str:
    try:
        text = script.read_text()
    except OSError as exc:
        raise CreatorError(f"--script '{script}' cannot be read: {exc.strerror or exc}.") from exc
    first = text.splitlines()[0] if text else ""
    interpreter = first[2:].strip().split()[0] if first.startswith("#!") and first[2:].strip() else "/bin/sh"
    return f"%post --interpreter={interpreter}\n{text.rstrip()}\n%end\n"


def edit_kickstart(live: LiveIso, options: EditOptions) -> str:
    """The kickstart the edit is built from: the user's kickstart (if any), then the kernel arguments, the added
    packages and the script."""
    parts: list[str] = []
    if options.kickstart is not None:
        try:
            parts.append(options.kickstart.read_text().rstrip() + "\n")
        except OSError as exc:
            raise CreatorError(f"--kickstart '{options.kickstart}' cannot be read: {exc.strerror or exc}.") from exc
    args = " ".join(a for a in (kept_kernel_args(live), options.extra_kernel_args.strip()) if a)
    if args:
        parts.append(f"bootloader --append={shlex.quote(args)}\n")
    if options.packages:
        parts.append("%packages\n" + "".join(f"{p}\n" for p in options.packages) + "%end\n")
    if options.script is not None:
        parts.append(_script_section(options.script))
    if options.secludes:
        parts.append(_seclude_section(options.secludes))
    return "".join(parts)


# The folders a new live ISO is made of: never copied from the source (-e copies everything else).
NEW_ISO_DIRS = ("LiveOS", "EFI", "isolinux", "syslinux", "boot", "images", "[BOOT]")


def iso_copies(live: LiveIso, includes: tuple[str, ...],
               excludes: tuple[str, ...] | None) -> tuple[tuple[str, Path | None], ...]:
    """What -i and -e copy onto the new ISO, as upstream's ``_copy_src_root``: by default nothing but the new build's
    own boot folders and LiveOS; with -e, every other file of the source except the names matching a pattern; with
    -i, each path of the source (a file or a folder), or a host path (copied by its name to the ISO's top)."""
    copies: list[tuple[str, Path | None]] = []
    if excludes is not None:
        for f in sorted(live.files):
            parts = f.strip("/").split("/")
            if parts[0] in NEW_ISO_DIRS or any(fnmatch.fnmatch(p, pat) for p in parts for pat in excludes):
                continue
            copies.append((f, None))
    for value in includes:
        inside = "/" + value.strip("/")
        if inside in live.files or any(f.startswith(inside + "/") for f in live.files):
            copies.append((inside, None))
        elif Path(value).exists():
            copies.append(("/" + Path(value).resolve().name, Path(value).resolve()))
        else:
            raise CreatorError(f"--include '{value}' is neither a file or folder of {live.path} nor a host path.")
    return tuple(copies)


def _seclude_section(paths: tuple[str, ...]) -> str:
    """-u: the paths removed from the new root in a last %post (~/ is each user's home and /root)."""
    lines = []
    for path in paths:
        if path.startswith("~/"):
            rest = shlex.quote(path[2:])
            lines.append(f"for h in /root /home/*; do rm -rf -- \"$h\"/{rest}; done")
        else:
            lines.append(f"rm -rf -- {shlex.quote(path)}")
    return "%post\n" + "\n".join(lines) + "\n%end\n"


def layout_settings(live: LiveIso, options: EditOptions) -> tuple[RootfsType | None, bool]:
    """(rootfs_type, skip_compression) of the new ISO: the source's layout unless --skip-compression,
    --compress or --flatten-squashfs asks for another, as upstream."""
    if options.skip_compression and (options.compress or options.flatten_squashfs):
        raise CreatorError("--skip-compression makes an uncompressed root; it cannot be combined with --compress "
                           "or --flatten-squashfs.")
    if options.skip_compression:
        return None, True
    if options.flatten_squashfs:
        return (RootfsType.EROFS if live.erofs else RootfsType.SQUASHFS), False
    if options.compress and live.layout is Layout.ROOTFS_ON_ISO:
        return RootfsType.SQUASHFS_EXT4, False
    return live.rootfs_type, live.layout is Layout.ROOTFS_ON_ISO


def check_arch(arch: str | None) -> None:
    """--arch: an edit runs the ISO's own programs chrooted, so it can only make an image of the host's kind."""
    host = platform.machine()
    host = "i386" if host in ("i486", "i586", "i686") else host
    if arch and arch != host:
        raise CreatorError(f"--arch {arch}: an edit runs the image's programs on this {host} host, so it makes "
                           f"{host} images only; edit a {arch} ISO on a {arch} machine.")


def check_space(tmpdir: Path, extra_space_mb: int) -> None:
    """--extra-space-mb: upstream reserves this much room in the staging folder beyond its estimate; a folder
    without it is refused before anything is made."""
    if extra_space_mb <= 0:
        return
    free = shutil.disk_usage(tmpdir).free if tmpdir.is_dir() else 0
    if free < extra_space_mb * 1024 * 1024:
        raise CreatorError(f"--extra-space-mb {extra_space_mb}: the staging folder {tmpdir} has only "
                           f"{free // 1024 // 1024} MiB free; free some room or choose another --tmpdir.")


def _launch_shell(creator: Any) -> None:
    """Upstream's editliveos opens a shell in the edited root after the script or kickstart, before the ISO is
    made (``-N`` skips it); its exit status does not matter, as upstream's."""
    print("Launching shell. Exit (Ctrl D) to continue.", file=sys.stderr)
    print("-------------------------------------------", file=sys.stderr)
    creator.launch_shell()


def iso_name(iso: Path, name: str | None) -> str:
    """Upstream's file name of the new ISO: ``NAME.iso`` with *name* (``-n``; an os separator becomes ``_``), else
    the source's base name with ``.edited`` (``Fedora.iso`` gives ``Fedora.iso.edited.iso``, as upstream)."""
    if name:
        return name.replace("/", "_") + ".iso"
    return f"{iso.name.rstrip('/')}.edited.iso"


def _repo_options(repos: tuple[str, ...]) -> tuple[dict[str, str], tuple[Path, ...]]:
    """(name -> URL, .repo paths): a directory with repodata/ becomes a file:// URL."""
    urls: dict[str, str] = {}
    paths: list[Path] = []
    for i, value in enumerate(repos):
        path = Path(value)
        if path.is_dir() and (path / "repodata").is_dir():
            urls[f"editliveos-{i}"] = path.resolve().as_uri()
        elif path.exists():
            paths.append(path)
        elif "://" in value:
            urls[f"editliveos-{i}"] = value
        else:
            raise CreatorError(f"--repo '{value}' is neither a URL nor an existing repository, .repo file or "
                               "directory.")
    return urls, tuple(paths)


def check_output(iso: Path, output: Path) -> None:
    """The new ISO must be a new file: never the source, never an existing file (it is not overwritten)."""
    if output.suffix != ".iso":
        raise CreatorError(f"The output '{output}' must be a file name ending in .iso.")
    if output.exists():
        raise CreatorError(f"The output '{output}' exists already: remove it or choose another name.")
    if not output.parent.is_dir():
        raise CreatorError(f"The output's folder '{output.parent}' does not exist.")
    if iso.exists() and output.resolve() == iso.resolve():
        raise CreatorError("The output must not be the ISO being edited.")


def edit_live_iso(iso: Path, output: Path, options: EditOptions, live: LiveIso | None = None) -> Path:
    """Build *output*, a new live ISO: *iso* with *options* applied.  Returns *output*.  *live*: *iso* already
    read (:func:`read_live_iso`), not read twice."""
    live = live if live is not None else read_live_iso(iso)
    check_output(iso, output)
    label = options.brand.label if options.brand else options.label or live.label  # branding names it
    # The boot menus' product: the Remix (branding), else the source's own ("Start <product>" kept).
    product = options.brand.product if options.brand else editbrand.iso_product(live)
    kickstart.check_fslabel(label)
    if options.packages and not options.repos and options.kickstart is None:
        raise CreatorError("--package needs a repository to install from: give --repo URL or PATH.")
    repo_urls, repo_paths = _repo_options(options.repos)
    rootfs_type, skip_compression = layout_settings(live, options)
    copies = iso_copies(live, options.includes, options.excludes)
    text = edit_kickstart(live, options)
    with signals.temporary_directory("editliveos-", options.tmpdir) as tmp:
        ks_path = tmp / "edit.ks"
        ks_path.write_text(text)
        log.debug("editliveos kickstart:\n%s", text)
        ks = kickstart.read_kickstart(str(ks_path))
        creator = EditLiveCreator(
            ks, output.stem, source=live, copies=copies, fslabel=label, compression_type=options.compression_type,
            rootfs_type=rootfs_type,  # the same layout and filesystem (squashfs or EROFS) as the ISO, by default
            skip_compression=skip_compression, flat_squashfs=options.flatten_squashfs,
            syslinux="/isolinux/isolinux.cfg" in live.files and "/boot/grub2/grub.cfg" not in live.files,
            tmpdir=options.tmpdir, releasever=options.releasever, source_date_epoch=options.source_date_epoch,
            product=product, title=product, brand=options.brand, relabel=options.relabel, **options.extra,
        )
        if options.rootfs_size_gib is not None:
            creator.image_size = options.rootfs_size_gib * 1024 ** 3
        elif live.layout is Layout.FLAT_SQUASHFS and not options.flatten_squashfs and rootfs_type != live.rootfs_type:
            creator.image_size = DEFAULT_IMAGE_SIZE_MB * 1024 * 1024  # a flat source has no root image to size by
        install = bool(options.packages) or "%packages" in text
        build = BuildOptions(destdir=output.parent, base_on=str(iso), cachedir=options.cachedir,
                             repo_urls=repo_urls, repo_paths=repo_paths, install=install,
                             before_unmount=_launch_shell if options.shell else None)
        with creator:
            build_image(creator, build)
    return output
