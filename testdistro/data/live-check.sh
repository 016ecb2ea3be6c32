#!/bin/sh
# testdistro live-check: what a user of the live system would try, printed on the console for the boot
# tests as "LIVECD-TOOLS-CHECK key: value" lines.  Run by live-init before the boot marker.  Kernel arguments:
#   livecheck.write_mib=N   how much to write to the root filesystem (default 512; 0 skips)
#   livecheck.persist=write write the persistence markers (below) if they are not there yet
# Besides the single-valued keys it prints one "mount: DEVICE MOUNTPOINT FSTYPE rw|ro" line per real filesystem
# mounted, "root-uuid: UUID" (or "unknown") and one "fstab-failed: MOUNTPOINT ERROR" per /etc/fstab line that
# live-init could not mount.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

say() { echo "LIVECD-TOOLS-CHECK $*"; }

write_mib=512
persist=""
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        livecheck.write_mib=*) write_mib=${arg#livecheck.write_mib=} ;;
        livecheck.persist=*) persist=${arg#livecheck.persist=} ;;
    esac
done

if [ -r /etc/os-release ]; then
    say "os-release: $(. /etc/os-release; echo "$ID-$VERSION_ID")"
else
    say "os-release: missing"
fi
# Only with an initramfs made by the image's own dracut (real-userland flavour, data/userland/dracut).
if [ -r /run/testdistro/made-in ]; then
    say "initramfs-made-in: $(cat /run/testdistro/made-in)"
    say "initramfs-modules: $(tr '\n' ' ' < /run/testdistro/modules.txt)"
fi
for f in /etc/hostname /etc/live-post /etc/rpm/macros.imgcreate; do
    if [ -f "$f" ]; then
        say "file $f: $(tr '\n' ';' < "$f")"
    else
        say "file $f: missing"
    fi
done

df_root() {
    # POSIX output: filesystem 1024-blocks used available capacity mountpoint
    set -- $(df -Pk / | tail -n 1)
    echo "size_kib=$2 used_kib=$3 avail_kib=$4"
}
say "df-before: $(df_root)"
if [ "$write_mib" -gt 0 ]; then
    fill=/var/tmp/livecheck.fill
    dd if=/dev/zero of="$fill" bs=1M count="$write_mib" 2>/tmp/livecheck.dd
    rc=$?
    sync
    bytes=$(wc -c < "$fill" 2>/dev/null || echo 0)
    say "write: mib=$write_mib status=$rc bytes=$bytes error=$(tail -n 1 /tmp/livecheck.dd | tr ' ' '_')"
    say "df-written: $(df_root)"
    rm -f "$fill"
fi

# busybox sh runs its own rpm applet for a plain "rpm": the real one is named by its path.
if [ -x /usr/bin/rpm ]; then
    if /usr/bin/rpm -qa >/tmp/livecheck.rpm 2>&1; then
        say "rpm-count: $(wc -l < /tmp/livecheck.rpm)"
    else
        say "rpm-count: failed: $(tail -n 2 /tmp/livecheck.rpm | tr '\n' ' ')"
    fi
    say "rpm-macros: excludedocs=$(/usr/bin/rpm --eval '%{?_excludedocs}') install_langs=$(/usr/bin/rpm --eval '%{?_install_langs}')"
else
    say "rpm-count: no-rpm"
fi

# Real filesystems mounted, in /proc/mounts order (pseudo and memory filesystems left out).
while read -r src mnt fstype opts rest; do
    case "$fstype" in
        proc|sysfs|devtmpfs|tmpfs|ramfs|rootfs|devpts|cgroup|cgroup2|securityfs|pstore|debugfs|tracefs|\
        configfs|fusectl|mqueue|hugetlbfs|bpf|efivarfs|autofs|binfmt_misc|rpc_pipefs|nsfs|selinuxfs) continue ;;
    esac
    say "mount: $src $mnt $fstype ${opts%%,*}"
done < /proc/mounts
printf '%s' "$LIVE_INIT_FSTAB_FAILED" | while read -r line; do
    [ -n "$line" ] && say "fstab-failed: $line"
done

# The UUID of the filesystem mounted at /: the /dev/disk/by-uuid link (made by udev in the initramfs) to the
# block device behind /, else read from that device's superblock (ext2/3/4, xfs, btrfs).
hex_at() {  # DEVICE OFFSET COUNT -> lowercase hex digits
    dd if="$1" bs=1 skip="$2" count="$3" 2>/dev/null | od -An -v -tx1 | tr -d ' \n'
}
uuid_form() {  # 32 hex digits -> 8-4-4-4-12
    echo "$1" | sed 's/^\(.\{8\}\)\(.\{4\}\)\(.\{4\}\)\(.\{4\}\)\(.\{12\}\)$/\1-\2-\3-\4-\5/'
}
superblock_uuid() {
    if [ "$(hex_at "$1" 1080 2)" = 53ef ]; then uuid_form "$(hex_at "$1" 1128 16)"         # ext2/3/4
    elif [ "$(hex_at "$1" 0 4)" = 58465342 ]; then uuid_form "$(hex_at "$1" 32 16)"        # xfs "XFSB"
    elif [ "$(hex_at "$1" 65600 8)" = 5f42485266535f4d ]; then uuid_form "$(hex_at "$1" 65568 16)"  # btrfs
    else return 1
    fi
}
root_uuid() {
    dev=$(stat -c %d / 2>/dev/null) || return 1
    major=$(( (dev >> 8) & 0xfff ))
    minor=$(( (dev & 0xff) | ((dev >> 12) & 0xfff00) ))
    for link in /dev/disk/by-uuid/*; do
        [ -b "$link" ] || continue
        set -- $(stat -L -c '%t %T' "$link" 2>/dev/null)
        if [ $# -eq 2 ] && [ "$((0x$1))" -eq "$major" ] && [ "$((0x$2))" -eq "$minor" ]; then
            echo "${link##*/}"
            return 0
        fi
    done
    [ -r "/sys/dev/block/$major:$minor/uevent" ] || return 1
    name=$(sed -n 's/^DEVNAME=//p' "/sys/dev/block/$major:$minor/uevent")
    [ -n "$name" ] && [ -b "/dev/$name" ] && superblock_uuid "/dev/$name"
}
say "root-uuid: $(root_uuid || echo unknown)"

# Persistence: every boot reports the markers an earlier boot left ("none": not there), then with
# livecheck.persist=write writes those missing: /var/lib/livecheck/persist-marker on the root, and
# /home/livecheck-home-marker when /home is a filesystem of its own.  Their content names the boot that wrote them.
home_mounted=no
while read -r src mnt rest; do
    [ "$mnt" = /home ] && home_mounted=yes
done < /proc/mounts
marker=/var/lib/livecheck/persist-marker
home_marker=/home/livecheck-home-marker
say "persist-marker: $(cat "$marker" 2>/dev/null || echo none)"
if [ "$home_mounted" = yes ]; then
    say "home-marker: $(cat "$home_marker" 2>/dev/null || echo none)"
else
    say "home-marker: none"
fi
if [ "$persist" = write ]; then
    written="boot-$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)"
    if [ ! -f "$marker" ]; then
        mkdir -p "${marker%/*}" && echo "$written" > "$marker"
    fi
    if [ "$home_mounted" = yes ] && [ ! -f "$home_marker" ]; then
        echo "$written" > "$home_marker"
    fi
    sync
fi
