"""What a disk image build delivers: the disk in its format, optionally compressed, its checksum, and a libvirt
domain description (appliance-creator's ``<name>.xml``)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from imgcreate import manifest
from imgcreate.errors import CreatorError
from imgcreate.run import run

log = logging.getLogger("imgcreate")

FORMATS = ("raw", "qcow2", "vmdk", "vdi")
COMPRESSORS = {"xz": ("xz", ".xz"), "zstd": ("zstd", ".zst")}


@dataclass(frozen=True)
class OutputSpec:
    name: str
    disk_format: str = "raw"
    compress: str | None = None
    checksum: bool = False
    vmem: int = 512  # MiB, appliance-creator's default
    vcpu: int = 1
    version: str | None = None  # appliance-creator's --version and --release, in the XML
    release: str | None = None

    def __post_init__(self) -> None:
        if self.disk_format not in FORMATS:
            raise CreatorError(f"Unknown disk format '{self.disk_format}': use one of {', '.join(FORMATS)}.")
        if self.compress is not None and self.compress not in COMPRESSORS:
            raise CreatorError(f"Unknown compression '{self.compress}': use one of {', '.join(COMPRESSORS)}.")

    @property
    def disk_name(self) -> str:
        """appliance-creator's file name: ``<name>-sda.<format>``."""
        return f"{self.name}-sda.{self.disk_format}"


def host_tools(spec: OutputSpec) -> list[str]:
    tools = [] if spec.disk_format == "raw" else ["qemu-img"]
    if spec.compress:
        tools.append(COMPRESSORS[spec.compress][0])
    return tools


def finish(raw: Path, outdir: Path, spec: OutputSpec) -> list[Path]:
    """Turn the finished raw disk into what is delivered, in *outdir*; returns the files made.

    As appliance-creator: a raw disk is compressed as a whole (xz: ``<name>-sda.raw.xz``), a qcow2 disk
    compresses its clusters (``qemu-img convert -c``); the XML names the uncompressed file.
    """
    disk = outdir / spec.disk_name
    if spec.disk_format == "raw":
        os.rename(raw, disk)  # stays sparse
    else:
        internal = ["-c"] if spec.compress and spec.disk_format == "qcow2" else []
        run(["qemu-img", "convert", "-f", "raw", "-O", spec.disk_format, *internal, str(raw), str(disk)],
            what=f"Converting the disk to {spec.disk_format}")
        raw.unlink()
    sums = {a: manifest.file_digest(disk, a) for a in ("sha1", "sha256")} if spec.checksum else {}
    (outdir / f"{spec.name}.xml").write_text(image_xml(spec, sums))
    if spec.compress and spec.disk_format != "qcow2":
        tool, suffix = COMPRESSORS[spec.compress]
        block = ["--block-size=16777216"] if tool == "xz" else []
        run([tool, "-T0", "-q", *block, "--rm", str(disk)], what=f"Compressing {disk.name} with {tool}")
        disk = disk.with_name(disk.name + suffix)
    made = [disk, outdir / f"{spec.name}.xml"]
    if spec.checksum:
        (outdir / "CHECKSUM").write_text(f"SHA256 ({disk.name}) = {manifest.file_digest(disk, 'sha256')}\n")
        made.append(outdir / "CHECKSUM")
    return made


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
        <arch>{os.uname().machine}</arch>
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
