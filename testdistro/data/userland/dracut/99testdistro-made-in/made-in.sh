#!/bin/sh
# pre-pivot hook (sourced by dracut's init): /run survives switch_root, the initramfs does not.
mkdir -p /run/testdistro
cp /etc/testdistro-initramfs-made-in /run/testdistro/made-in 2> /dev/null
cp /lib/dracut/modules.txt /run/testdistro/modules.txt 2> /dev/null
