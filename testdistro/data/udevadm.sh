#!/bin/sh
# testdistro udevadm: the one query the GRUB tools make ("udevadm info --query path --name DEVICE": the sysfs
# path of a block device, which tells grub2-probe/grub2-bios-setup where a partition starts).  settle, trigger,
# control and hwdb succeed and do nothing (there is no udev daemon); anything else fails.
cmd=$1
[ $# -gt 0 ] && shift
case "$cmd" in
    settle|trigger|control|hwdb) exit 0 ;;
    --version|version) echo 252; exit 0 ;;
    info) ;;
    *) echo "udevadm (testdistro): unsupported command: $cmd" >&2; exit 2 ;;
esac
query="" name=""
while [ $# -gt 0 ]; do
    case "$1" in
        -q|--query) query=$2; shift ;;
        --query=*) query=${1#--query=} ;;
        -n|--name) name=$2; shift ;;
        --name=*) name=${1#--name=} ;;
        -*) ;;
        *) name=$1 ;;
    esac
    shift
done
if [ "$query" != path ] || [ -z "$name" ]; then
    echo "udevadm (testdistro): only 'info --query path --name DEVICE' is supported" >&2
    exit 2
fi
case "$name" in /*) ;; *) name=/dev/$name ;; esac
set -- $(stat -L -c '%t %T' "$name" 2>/dev/null)
if [ ! -b "$name" ] || [ $# -ne 2 ]; then
    echo "udevadm (testdistro): $name is not a block device" >&2
    exit 4
fi
sys=$(readlink -f "/sys/dev/block/$((0x$1)):$((0x$2))") || exit 4
case "$sys" in /sys/*) echo "${sys#/sys}" ;; *) exit 4 ;; esac
