"""The live media tools: livecd-iso-to-disk, liveimage-mount, editliveos and livecd-iso-to-pxeboot."""
