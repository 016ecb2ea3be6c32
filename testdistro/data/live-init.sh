#!/bin/sh
# testdistro live-init: the whole userspace of a testdistro live boot. dracut's switch_root runs this as PID 1
# (/sbin/init -> /usr/sbin/init). It reports what it booted on to the console, runs the live checks
# (/usr/libexec/live-check) and powers the machine off.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

[ -r /proc/mounts ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
[ -c /dev/console ] || mount -t devtmpfs devtmpfs /dev

# An installed (disk) system: mount what /etc/fstab lists (/boot/efi, ...), as "mount -a" would, except the
# root (dracut mounted it; a live image's "/dev/root /" line names no device) and what is mounted already
# (/proc, /sys, /dev/pts, /dev/shm come over from the initramfs).  Failures do not stop the boot: live-check
# reports them ("fstab-failed:").
LIVE_INIT_FSTAB_FAILED=""
if [ -r /etc/fstab ]; then
    while read -r spec mnt fstype opts rest; do
        case "$spec" in ""|"#"*) continue ;; esac
        # A root the kernel mounted read-only ("ro" on its command line, as Fedora boots) is made read-write
        # unless fstab says "ro", as systemd-remount-fs does.  A live root is read-write already.
        if [ "$mnt" = / ]; then
            case ",$opts," in *,ro,*) ;; *) mount -o remount,rw / 2>/dev/null ;; esac
            continue
        fi
        case "$mnt" in none|swap) continue ;; esac
        [ "$fstype" = swap ] && continue
        case ",$opts," in *,noauto,*) continue ;; esac
        mounted=no
        while read -r m_src m_mnt m_rest; do
            [ "$m_mnt" = "$mnt" ] && mounted=yes
        done < /proc/mounts
        [ "$mounted" = yes ] && continue
        if ! err=$(mount "$mnt" 2>&1 < /dev/null); then
            LIVE_INIT_FSTAB_FAILED="$LIVE_INIT_FSTAB_FAILED$mnt $(echo "$err" | tr '\n' ' ')
"
        fi
    done < /etc/fstab
fi
export LIVE_INIT_FSTAB_FAILED

# A persistent /home on the live medium (livecd-iso-to-disk --home-size-mb makes LiveOS/home.img), mounted as
# Fedora's livesys service does.  A failure is reported like an fstab line's.
home_img=/run/initramfs/live/LiveOS/home.img
if [ -f "$home_img" ]; then
    mkdir -p /home
    if ! err=$(mount -o loop "$home_img" /home 2>&1 < /dev/null); then
        LIVE_INIT_FSTAB_FAILED="$LIVE_INIT_FSTAB_FAILED/home $(echo "$err" | tr '\n' ' ')
"
    fi
fi

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

# livecheck.login on the kernel command line: stay up with a real login prompt on the serial console (busybox's
# getty, which prints "<host> login:" as a booted Fedora's agetty does) instead of powering off, for the boot
# test's default pattern; whoever started the machine stops it.
case " $(cat /proc/cmdline) " in
    *" livecheck.login "*)
        sync
        setsid getty -L 115200 ttyS0 vt100 < /dev/null > /dev/null 2>&1 &
        while :; do sleep 3600; done ;;
esac

# What the checks wrote must reach the medium (a persistent overlay or home) before the power goes.
umount /home 2>/dev/null
sync
sync
poweroff -f
reboot -f
# PID 1 must not exit (that panics the kernel); wait to be killed by the test's timeout.
while :; do sleep 3600; done
