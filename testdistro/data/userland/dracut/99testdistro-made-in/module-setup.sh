#!/bin/bash
# testdistro: record in the initramfs where it was made (the ID in the os-release of the root dracut ran in:
# "testdistro" inside an image, "debian" on the host), and hand that and the list of dracut modules to the
# booted system in /run/testdistro, which live-check reports.

check() {
    return 0
}

depends() {
    return 0
}

install() {
    local id
    id=$(. "${dracutsysrootdir}/etc/os-release" 2> /dev/null && echo "$ID")
    echo "${id:-unknown}" > "${initdir}/etc/testdistro-initramfs-made-in"
    inst_hook pre-pivot 99 "$moddir/made-in.sh"
}
