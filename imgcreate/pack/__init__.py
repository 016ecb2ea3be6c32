"""Packing the finished root for live media: squashfs (mksquashfs, tar2sqfs) and EROFS."""
