"""The ids qemu-img draws in a vmdk or vdi are replaced by derived ones: two conversions of one disk are the same
file, also when qemu wrote a CID shorter than 8 digits (it prints no leading zeros), and qemu still reads it."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from imgcreate.disk import ids

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")


def _image(tmp: Path, name: str, fmt: str) -> Path:
    path = tmp / name / f"d.{fmt}"
    path.parent.mkdir()
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt, str(path), "4M"], check=True)
    return path


@pytest.mark.parametrize("fmt", ["vmdk", "vdi"])
def test_two_conversions_get_the_same_ids(fmt: str, tmp_path: Path) -> None:
    first, second = _image(tmp_path, "a", fmt), _image(tmp_path, "b", fmt)
    if fmt == "vmdk":  # as qemu writes a CID below 0x10000000: fewer digits, the descriptor shorter
        data = bytearray(second.read_bytes())
        start, size = (n * 512 for n in struct.unpack_from("<QQ", data, 28))
        text = re.sub(rb"\nCID=[0-9a-f]+\n", b"\nCID=1f\n", bytes(data[start:start + size]), count=1)
        data[start:start + size] = text[:size].ljust(size, b"\0")
        second.write_bytes(bytes(data))
    assert first.read_bytes() != second.read_bytes()
    for image in (first, second):
        ids.fix_image_ids(image, fmt, "disk", 1700000000)
        subprocess.run(["qemu-img", "check", "-f", fmt, str(image)], check=True, capture_output=True)
    assert first.read_bytes() == second.read_bytes()
    other = _image(tmp_path, "c", fmt)
    ids.fix_image_ids(other, fmt, "disk", 1700000001)
    assert other.read_bytes() != first.read_bytes(), "another epoch, other ids"
