"""What a disk image build delivers: the disk in its format, optionally compressed, its checksum, and a libvirt
domain description (appliance-creator's ``<name>.xml``)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from imgcreate.config.model import BuildConfig, DiskCompressor, DiskFormat
from imgcreate.config.parse import disk_format_of
from imgcreate.disk import ids, xzblocks
from imgcreate.errors import CreatorError
from imgcreate.host import sparse
from imgcreate.host.meter import meter, watch_reading
from imgcreate.host.run import progress_on_terminal, run

log = logging.getLogger("imgcreate")


FORMATS = DiskFormat.names()
COMPRESSORS = {"xz": ("xz", ".xz"), "zstd": ("zstd", ".zst")}


@dataclass(frozen=True)
class OutputSpec:
    name: str
    # a plain name ("qcow2") becomes the member; another qemu-img format ("vhdx") stays a plain name
    disk_format: DiskFormat | str = DiskFormat.RAW
    compress: str | None = None
    checksum: bool = False
    vmem: int = 512  # MiB, appliance-creator's default
    vcpu: int = 1
    version: str | None = None  # appliance-creator's --version and --release, in the XML
    release: str | None = None
    arch: str = ""  # the guest's architecture in the XML (--forcearch); empty: this machine's

    def __post_init__(self) -> None:
        object.__setattr__(self, "disk_format", disk_format_of(self.disk_format))
        if self.compress is not None:
            object.__setattr__(self, "compress", str(DiskCompressor.of(self.compress, "compression")))

    @classmethod
    def of(cls, config: BuildConfig) -> OutputSpec:
        """The output of the build whose settings' snapshot is *config* (its ``disk`` section)."""
        disk = config.disk
        if disk is None:
            raise CreatorError(f"{config.kind} builds no disk image.")
        return cls(name=config.name, disk_format=disk.disk_format, compress=disk.compress, checksum=disk.checksum,
                   vmem=disk.vmem, vcpu=disk.vcpu, version=disk.version, release=disk.release, arch=config.arch)

    @property
    def disk_name(self) -> str:
        """appliance-creator's file name: ``<name>-sda.<format>``."""
        return f"{self.name}-sda.{self.disk_format}"


def format_problem(word: str) -> str | None:
    """Why qemu-img cannot write disks in format *word*, asked before a build rather than after it: it makes a
    1 MiB disk of that format in a scratch folder.  None when it can (or for our own formats, or when qemu-img is
    missing: the build's check of its host tools names the package)."""
    if word in FORMATS or shutil.which("qemu-img") is None:
        return None
    try:
        disk_format_of(word)
    except CreatorError as exc:
        return str(exc)
    with tempfile.TemporaryDirectory(prefix="imgcreate-") as tmp:
        probe = os.path.join(tmp, "probe")
        proc = run(["qemu-img", "create", "-q", "-f", word, probe, "1M"], check=False)
    if proc.returncode == 0:
        return None
    said = (proc.stdout.strip().splitlines() or ["no reason given"])[-1].replace(f"{probe}: ", "")
    return (f"-f {word}: qemu-img cannot write disks in this format ({said}); use raw, qcow2, vmdk, vdi or "
            "another format qemu-img writes (vhdx, vpc, qed, ...).")


def host_tools(spec: OutputSpec) -> list[str]:
    tools = [] if spec.disk_format is DiskFormat.RAW else ["qemu-img"]
    if spec.compress and spec.disk_format is DiskFormat.RAW:
        tools.append(COMPRESSORS[spec.compress][0])
    return tools


def finish(raw: Path, outdir: Path, spec: OutputSpec, epoch: int | None = None) -> list[Path]:
    """Turn the finished raw disk into what is delivered, in *outdir*; returns the files made.

    As appliance-creator: a raw disk is compressed as a whole (xz: ``<name>-sda.raw.xz``), a qcow2 disk
    compresses its clusters (``qemu-img convert -c``), vmdk and vdi are delivered as qemu-img writes them; the
    XML names the uncompressed file.  *epoch* (a reproducible build): the ids qemu-img draws at random in a vmdk
    or vdi are derived from the name and the epoch instead (see :func:`convert`).
    """
    disk = convert(raw, outdir / spec.disk_name, spec, epoch)
    # Only with --checksum (as appliance-creator): one pass over the disk's data for both digests, its holes
    # hashed from memory (sparse.digests); the CHECKSUM of an uncompressed disk reuses its sha256.
    sums = sparse.digests(disk, ("sha1", "sha256"), f"Computing the checksums of {disk.name}") if spec.checksum else {}
    (outdir / f"{spec.name}.xml").write_text(image_xml(spec, sums))
    compressed = bool(spec.compress and spec.disk_format is DiskFormat.RAW)
    if compressed:
        assert spec.compress is not None
        disk = compress(disk, spec.compress)
    made = [disk, outdir / f"{spec.name}.xml"]
    if spec.checksum:
        sha256 = sparse.digests(disk, progress=f"Computing the checksum of {disk.name}")["sha256"] if compressed \
            else sums["sha256"]
        (outdir / "CHECKSUM").write_text(f"SHA256 ({disk.name}) = {sha256}\n")
        made.append(outdir / "CHECKSUM")
    return made


def convert(raw: Path, disk: Path, spec: OutputSpec, epoch: int | None = None) -> Path:
    """*raw* becomes *disk* in *spec*'s format (a raw disk is only renamed, and stays sparse); returns *disk*.

    qemu-img writes the same bytes for the same disk (in order, see :func:`convert_args`), except the ids it draws for
    a vmdk (its descriptor's ``CID``) and a vdi (the image and snapshot UUIDs): with *epoch* they are replaced
    by ids derived from the disk's name and the epoch, so that a reproducible build gives the same file.
    """
    if spec.disk_format is DiskFormat.RAW:
        os.rename(raw, disk)
        return disk
    try:
        progress = progress_on_terminal()  # qemu-img's own meter (-p), on the terminal
        run([*convert_args(raw, disk, spec), *(["-p"] if progress else [])], tty=progress,
            what=f"Converting the disk to {spec.disk_format}")
        if epoch is not None:
            ids.fix_image_ids(disk, spec.disk_format, spec.name, epoch)
    except BaseException:
        disk.unlink(missing_ok=True)
        raise
    raw.unlink()
    return disk


def convert_args(raw: Path, disk: Path, spec: OutputSpec) -> list[str]:
    """qemu-img's command line: ``-m 16`` (its most coroutines: reads and, for a compressed qcow2, the
    compression of clusters run in parallel), never ``-W`` (out-of-order writes would place the clusters in
    an order that depends on timing, so the same disk would not give the same file; qemu-img refuses it with
    ``-c`` anyway).  The output stays sparse: qemu-img asks the raw disk where its data is (``SEEK_DATA``)
    and writes no cluster of zeros (``-S 4k``, its default)."""
    internal = ["-c"] if spec.compress and spec.disk_format is DiskFormat.QCOW2 else []
    return ["qemu-img", "convert", "-m", "16", "-f", "raw", "-O", str(spec.disk_format), *internal, str(raw),
            str(disk)]


def compress(disk: Path, compressor: str) -> Path:
    """Compress *disk* into ``<disk>.xz`` (``.zst``) and remove it; returns the compressed file.

    xz: as appliance-creator, ``xz -T0 --block-size=16777216`` (all cores, seekable 16 MiB blocks), run by
    :func:`imgcreate.disk.xzblocks.compress` on the disk's data only: the same file, without compressing the
    zeros of its holes.  zstd always runs multi-threaded (``-T0``) and writes the same bytes whatever the number
    of threads.  Both remove their half-written output when they fail or are interrupted, and so do we.
    """
    tool, suffix = COMPRESSORS[compressor]
    target = disk.with_name(disk.name + suffix)
    try:
        if tool == "xz":
            xzblocks.compress(disk, target)
        else:
            with meter(f"Compressing {disk.name} with zstd", disk.stat().st_size) as m:
                run(["zstd", "-T0", "-q", "--rm", str(disk)], what=f"Compressing {disk.name} with {tool}",
                    watch=watch_reading(disk, m))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if disk.exists():  # never both: the compressed file replaces the disk
        disk.unlink()
    return target


def image_xml(spec: OutputSpec, checksums: dict[str, str]) -> str:
    """appliance-creator's ``<name>.xml``: the virt-image description of the appliance (name, version, memory,
    vcpus, the disk and, with --checksum, its sha1 and sha256)."""
    sums = "".join(f"\n        <checksum type='{kind}'>{value}</checksum>" for kind, value in checksums.items())
    disk = escape(spec.disk_name)
    attrs = "".join(f" {k}='{escape(v)}'" for k, v in (("version", spec.version), ("release", spec.release)) if v)
    return f"""<image>
  <name{attrs}>{escape(spec.name)}</name>
  <domain>
    <boot type='hvm'>
      <guest>
        <arch>{spec.arch or os.uname().machine}</arch>
      </guest>
      <os>
        <loader dev='hd'/>
      </os>
      <drive disk='{disk}' target='hda'/>
    </boot>
    <devices>
      <vcpu>{spec.vcpu}</vcpu>
      <memory>{spec.vmem * 1024}</memory>
      <interface/>
      <graphics/>
    </devices>
  </domain>
  <storage>
    <disk file='{disk}' use='system' format='{spec.disk_format}'>{sums}
    </disk>
  </storage>
</image>
"""
