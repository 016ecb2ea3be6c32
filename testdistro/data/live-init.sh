#!/bin/sh
# testdistro live-init: the whole userspace of a testdistro live boot. dracut's switch_root runs this as PID 1
# (/sbin/init -> /usr/sbin/init). It reports what it booted on to the console, runs the live checks
# (/usr/libexec/live-check) and powers the machine off.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

[ -r /proc/mounts ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
[ -c /dev/console ] || mount -t devtmpfs devtmpfs /dev

root_src=unknown
root_fs=unknown
# The last mount on / is the visible one; skip the initramfs' rootfs.
while read -r src mnt fstype rest; do
    if [ "$mnt" = "/" ] && [ "$src" != "rootfs" ]; then
        root_src=$src
        root_fs=$fstype
    fi
done < /proc/mounts

{
    echo ""
    echo "LIVECD-TOOLS-CMDLINE $(cat /proc/cmdline)"
    if [ -f /etc/hostname ]; then
        echo "LIVECD-TOOLS-HOSTNAME $(cat /etc/hostname)"
    fi
    /usr/libexec/live-check
    echo "LIVECD-TOOLS-BOOT-OK root=$root_src fstype=$root_fs"
} > /dev/console 2>&1

sync
poweroff -f
reboot -f
# PID 1 must not exit (that panics the kernel); wait to be killed by the test's timeout.
while :; do sleep 3600; done
