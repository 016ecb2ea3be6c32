#!/bin/bash
# testdistro: replaces dracut's kernel-network-modules (which the network module depends on) in the
# livenet initramfs variant.  dracut's installs every wired NIC driver when not host-only (12 MB more); the
# variant only boots in QEMU, whose NICs' drivers (virtio_net, e1000) the build names with --drivers.

# called by dracut
check() {
    return 255
}

# called by dracut
depends() {
    return 0
}

# called by dracut
installkernel() {
    return 0
}

# called by dracut
install() {
    return 0
}
