"""Boot loaders, the kernel and its initramfs, and the QEMU boot test."""
