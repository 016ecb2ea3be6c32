"""Kickstarts the integration tests share, one copy each: ``.format(repo=...)`` with the test repository.

Kept small on purpose (a 300 MiB root, @core and the kernel), so that a test building one pays little for what it
does not check."""

from __future__ import annotations

# The smallest live ISO that boots: livecd-creator's (and editliveos's) input.
LIVE = """repo --name=testdistro --baseurl=file://{repo}
part / --size 300
bootloader --timeout 1
%packages
@core
kernel
%end
"""

# The smallest disk: one msdos partition, no boot loader (appliance-creator without GRUB's cost).
DISK = """repo --name=testdistro --baseurl=file://{repo}
clearpart --all --initlabel --disklabel=msdos
part / --fstype=ext4 --size=300
bootloader --location=none
%packages
@core
kernel
%end
"""
