"""The one GRUB menu renderer and the one EFI binary scan serve live ISOs, disks, sticks and PXE trees alike."""

from __future__ import annotations

from pathlib import Path

from imgcreate.boot import bootloader, diskboot, efi, grubmenu
from imgcreate.boot.grubmenu import GrubMenu, MenuEntry
from imgcreate.media.liveiso import parse_boot_config
from imgcreate.toolbox import pxeboot

ENTRY = MenuEntry("Start", "/vmlinuz", "/initrd.img", "ro quiet")


def test_every_menu_is_read_back_as_its_first_entry() -> None:
    """What liveiso reads from an ISO or a stick is the default entry the renderer wrote, for every writer."""
    live = bootloader.grub_cfg(bootloader.BootMenu(label="L", title="T", product="P", kernel="/k", initrd="/i",
                                                   kernel_args="root=live:CDLABEL=L", timeout=5))
    disk = diskboot.grub_cfg(diskboot.DiskBootMenu(title="D", kernel="/vmlinuz", initrd="/initrd", kernel_args="ro",
                                                   boot_uuid="U", grub_dir="/grub2", timeout=1))
    pxe = pxeboot._grub_cfg(["A", "/vmlinuz", "/initrd.img", "x=1"], ["B", "/vmlinuz", "/http/initrd.img", "y"])
    read = [parse_boot_config(text) for text in (live, disk, pxe)]
    assert [(e.kernel, e.initrd, e.args) for e in read if e is not None] == [
        ("/k", "/i", "root=live:CDLABEL=L"), ("/vmlinuz", "/initrd", "ro"), ("/vmlinuz", "/initrd.img", "x=1")]


def test_root_serial_and_announce() -> None:
    by_label = grubmenu.render(GrubMenu(entries=(ENTRY,), timeout=3, root=("label", "MY-LIVE")))
    by_uuid = grubmenu.render(GrubMenu(entries=(ENTRY,), timeout=3, root=("uuid", "1234"), serial=True,
                                       announce=True))
    assert "search --no-floppy --set=root -l 'MY-LIVE'" in by_label and "serial" not in by_label
    assert "search --no-floppy --fs-uuid --set=root 1234" in by_uuid
    assert "terminal_input serial console" in by_uuid and "terminal_output serial console" in by_uuid
    assert "echo 'Loading /vmlinuz and /initrd.img...'" in by_uuid and "echo" not in by_label
    assert by_label.startswith("set default=0\nset timeout=3\n")


def test_troubleshooting_is_a_submenu() -> None:
    text = grubmenu.render(GrubMenu(entries=(ENTRY,), timeout=1, troubleshooting=(
        MenuEntry("Basic", "/vmlinuz", "/initrd.img", "ro nomodeset"),)))
    assert text.index("submenu 'Troubleshooting -->' {") > text.index("menuentry 'Start'")
    assert "    menuentry 'Basic'" in text and "        linux /vmlinuz ro nomodeset" in text


def _file(root: Path, path: str) -> None:
    (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (root / path.lstrip("/")).write_bytes(b"MZ")


def test_efi_scan_prefers_the_cd_grub_on_live_media(tmp_path: Path) -> None:
    for name in ("shimx64.efi", "grubx64.efi", "gcdx64.efi", "mmx64.efi"):
        _file(tmp_path, f"/boot/efi/EFI/fedora/{name}")
    _file(tmp_path, "/boot/efi/EFI/BOOT/BOOTX64.EFI")
    live, disk = efi.scan(tmp_path, cd=True), efi.scan(tmp_path)
    assert live.grub == "/boot/efi/EFI/fedora/gcdx64.efi" and disk.grub == "/boot/efi/EFI/fedora/grubx64.efi"
    assert live.shim == disk.shim == "/boot/efi/EFI/fedora/shimx64.efi"
    assert live.mm == "/boot/efi/EFI/fedora/mmx64.efi"
    assert disk.grub_vendors == ("/boot/efi/EFI/fedora",), "EFI/BOOT is the fallback, not a vendor"


def test_efi_scan_without_shim_falls_back_to_bootx64(tmp_path: Path) -> None:
    _file(tmp_path, "/boot/efi/EFI/BOOT/BOOTX64.EFI")
    _file(tmp_path, "/boot/efi/EFI/vendor/grubx64.efi")
    found = efi.scan(tmp_path)
    assert found.shim == efi.FALLBACK and found.grub == "/boot/efi/EFI/vendor/grubx64.efi" and found.mm is None
    assert efi.scan(tmp_path / "empty") == efi.EfiBinaries((), None, None, None)
