"""What is delivered next to every image so a rebuild can be compared and a download verified.

* ``<name>.packages``: every installed package as ``name-epoch:version-release.arch``, sorted (rpm's own
  public keys, ``gpg-pubkey``, left out: they are not packages that were installed);
* ``<name>.ks``: the kickstart as it was read, flattened (``%include`` resolved, as ``ksflatten`` writes it);
* ``<name>-CHECKSUM``: sha256 of each image file in the format Fedora publishes (``# FILE: SIZE bytes`` and
  ``SHA256 (FILE) = HEX``), which ``sha256sum -c`` verifies.  Named after the image as Fedora names its
  ``...-CHECKSUM`` files, so builds that share an output folder do not overwrite each other's.
"""

from __future__ import annotations

from pathlib import Path

from imgcreate import kickstart
from imgcreate.host import sparse
from imgcreate.kickstart import KickstartHandler
from imgcreate.packages import rpmdb

# How the manifest's files end, after the image's name.
SUFFIXES = ("-CHECKSUM", ".packages", ".flattened.ks")


def is_manifest(path: Path) -> bool:
    return path.name.endswith(SUFFIXES)


def package_lines(root: Path) -> list[str]:
    """``name-epoch:version-release.arch`` of every package in the rpm database under *root*, sorted."""
    return sorted(f"{n.name}-{n.epoch}:{n.version}-{n.release}.{n.arch}" for n in rpmdb.installed(root)
                  if n.name != "gpg-pubkey")


def write_packages(lines: list[str], path: Path) -> Path:
    """*lines* (see :func:`package_lines`) as ``<name>.packages``."""
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def write_kickstart(ks: KickstartHandler, path: Path) -> Path:
    path.write_text(kickstart.flattened(ks))
    return path


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file's content, ``sha256sum``'s: images are gigabytes, often sparse, so only their
    data is read and their holes are hashed from memory (:func:`imgcreate.host.sparse.digests`)."""
    return sparse.digests(path, (algorithm,), f"Computing the checksum of {path.name}")[algorithm]


def checksum_text(files: list[Path]) -> str:
    """Fedora's CHECKSUM format for *files* (sorted by name)."""
    out = []
    for path in sorted(files, key=lambda p: p.name):
        out.append(f"# {path.name}: {path.stat().st_size} bytes\n")
        out.append(f"SHA256 ({path.name}) = {file_digest(path)}\n")
    return "".join(out)


def write_checksum(files: list[Path], path: Path) -> Path:
    path.write_text(checksum_text(files))
    return path


def write_manifest(outdir: Path, name: str, package_list: list[str] | None, ks: KickstartHandler) -> None:
    """Beside the image in *outdir*: ``<name>-CHECKSUM`` (sha256 of each image file, Fedora's format),
    ``<name>.packages`` (what was installed, when known) and ``<name>.flattened.ks`` (the kickstart as read; not
    ``<name>.ks``, which could be the user's own kickstart in the output folder)."""
    images = [p for p in outdir.iterdir() if p.is_file() and not p.is_symlink() and p.name != "CHECKSUM"]
    if images:
        write_checksum(images, outdir / f"{name}-CHECKSUM")
    if package_list is not None:
        write_packages(package_list, outdir / f"{name}.packages")
    write_kickstart(ks, outdir / f"{name}.flattened.ks")
