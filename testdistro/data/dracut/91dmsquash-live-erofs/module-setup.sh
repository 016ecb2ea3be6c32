#!/bin/bash
# testdistro: EROFS live roots for Debian 12's dracut 059, whose dmsquash-live mounts LiveOS/squashfs.img with
# "-t squashfs" hard-coded.  dracut 103 detects the image's filesystem type instead (Fedora 42+ live media ship
# an EROFS LiveOS/squashfs.img); this module does the same to the host's own dmsquash-live-root script, so the
# rest of the live boot (rootfs.img inside, dm snapshot or overlayfs on a flat tree) stays dracut's.
# It sorts after 90dmsquash-live, so its install() runs afterwards and replaces /sbin/dmsquash-live-root.

check() {
    return 255 # only when asked for (--add dmsquash-live-erofs)
}

depends() {
    echo dmsquash-live
    return 0
}

installkernel() {
    # erofs pulls in its LZ4 decompressor (lz4_decompress) through modules.dep when that is a module.
    hostonly='' instmods erofs
}

install() {
    local src="$dracutbasedir/modules.d/90dmsquash-live/dmsquash-live-root.sh"
    local mount_line='mount -n -t squashfs -o ro "$SQUASHED_LOOPDEV" /run/initramfs/squashfs'
    if ! grep -qF "$mount_line" "$src" || ! grep -qx 'load_fstype squashfs' "$src"; then
        derror "dmsquash-live-erofs: $src does not mount squashfs.img as dracut 059 does; not patching it"
        return 1
    fi
    # blkid -p probes the image itself (no cache); anything that is not EROFS stays squashfs, as before.
    sed -e '/^load_fstype squashfs$/a load_fstype erofs' \
        -e "/mount -n -t squashfs -o ro \"\\\$SQUASHED_LOOPDEV\"/{
i\\    squash_fstype=\$(blkid -p -s TYPE -o value \"\$SQUASHED_LOOPDEV\" 2> /dev/null)\\
    [ \"\$squash_fstype\" = erofs ] || squash_fstype=squashfs
s/-t squashfs/-t \"\$squash_fstype\"/
}" "$src" > "$initdir/sbin/dmsquash-live-root"
    chmod 0755 "$initdir/sbin/dmsquash-live-root"
}
