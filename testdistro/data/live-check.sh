#!/bin/sh
# testdistro live-check: what a user of the live system would try, printed on the console for the boot
# tests as "LIVECD-TOOLS-CHECK key: value" lines.  Run by live-init before the boot marker.  Kernel arguments:
#   livecheck.write_mib=N   how much to write to the root filesystem (default 512; 0 skips)
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

say() { echo "LIVECD-TOOLS-CHECK $*"; }

write_mib=512
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        livecheck.write_mib=*) write_mib=${arg#livecheck.write_mib=} ;;
    esac
done

if [ -r /etc/os-release ]; then
    say "os-release: $(. /etc/os-release; echo "$ID-$VERSION_ID")"
else
    say "os-release: missing"
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
