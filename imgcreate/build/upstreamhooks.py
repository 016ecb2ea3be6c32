"""The members of upstream's ``ImageCreator`` that this library's own steps do not need, for creators written
against livecd-tools (appliance-tools' ``ApplianceImageCreator`` and in-house ones).

They are a face over the creator's own machinery, no second implementation: ``_fstype`` is the root
filesystem type the image is made with, ``_do_bindmounts``/``_undo_bindmounts`` mount and unmount the same API
filesystems ``mount()`` puts into the root, ``_run_post_scripts`` is the step ``configure()`` calls for %post,
and :func:`call_stage_final_image` calls a ``_stage_final_image`` hook with upstream's ``ops`` when the hook
takes them (upstream's own base class passes them to a hook that does not: its issue #246).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from imgcreate.errors import CreatorError
from imgcreate.host.fs import EXT_TYPES
from imgcreate.kickstart import FSLABEL_MAXLEN
from imgcreate.packages import rpmdb
from imgcreate.storage import rootfs
from imgcreate.storage.roots import ExtImage
from imgcreate.strpath import StrPath

log = logging.getLogger("imgcreate")


class UpstreamMembers:
    """Mixed into :class:`imgcreate.creator.ImageCreator`; the creator supplies :meth:`_api_root`,
    :meth:`_require_builddir`, :meth:`run_post_scripts` and :meth:`_excludes_weakdeps`."""

    fstype: str
    _bindmounts: contextlib.ExitStack | None = None

    def _api_root(self) -> Path:
        raise NotImplementedError

    def _require_builddir(self) -> Path:
        raise NotImplementedError

    def run_post_scripts(self) -> None:
        raise NotImplementedError

    def _excludes_weakdeps(self) -> bool:
        raise NotImplementedError

    @property
    def _fstype(self) -> str:
        """The root filesystem's type (``part / --fstype``; ext2, ext3 or ext4), settable before ``mount()``."""
        return self.fstype

    @_fstype.setter
    def _fstype(self, value: str) -> None:
        if value not in EXT_TYPES:
            raise CreatorError(f"Unknown _fstype '{value}' supplied: use one of {', '.join(EXT_TYPES)}.")
        self.fstype = value

    @property
    def excludeWeakdeps(self) -> bool:  # noqa: N802 (upstream's name)
        """Whether %packages --excludeWeakdeps was given (upstream's attribute)."""
        return self._excludes_weakdeps()

    def _do_bindmounts(self) -> None:
        """Mount /proc, /sys, /dev (with /dev/pts, /dev/shm) in the install root; ``mount()`` calls it, and a
        subclass may call it again after :meth:`_undo_bindmounts`.  Mounting twice is a no-op."""
        if self._bindmounts is not None:
            return
        stack = contextlib.ExitStack()
        with contextlib.ExitStack() as failing:
            failing.callback(stack.close)  # half-mounted: released before the error propagates
            rootfs.mount_api_filesystems(stack, self._api_root())
            failing.pop_all()
        self._bindmounts = stack

    def _undo_bindmounts(self) -> None:
        """Unmount what :meth:`_do_bindmounts` mounted (``unmount()`` calls it), e.g. so that a subclass reaches
        the image's own /dev underneath."""
        stack, self._bindmounts = self._bindmounts, None
        if stack is not None:
            stack.close()

    # -- helpers upstream's docstrings name, for subclasses ----------------------------------------------------
    def _chroot(self) -> None:
        """Enter the install root: a ``preexec_fn`` for subprocesses that must run inside the image."""
        os.chroot(self._api_root())
        os.chdir("/")

    def _mkdtemp(self, prefix: str = "tmp-") -> str:
        """A new directory in the build directory (removed with it)."""
        return tempfile.mkdtemp(dir=self._require_builddir(), prefix=prefix)

    def _mkstemp(self, prefix: str = "tmp-") -> tuple[int, str]:
        """A new file in the build directory, open: (file descriptor, path)."""
        return tempfile.mkstemp(dir=self._require_builddir(), prefix=prefix)

    def _mktemp(self, prefix: str = "tmp-") -> str:
        """A new, closed file in the build directory; its path."""
        fd, path = self._mkstemp(prefix)
        os.close(fd)
        return path

    def _get_kernel_versions(self) -> dict[str, list[str]]:
        """The kernels installed in the image, as upstream returns them (see :func:`rpmdb.kernel_versions`)."""
        return rpmdb.kernel_versions(self._api_root())

    def _run_post_scripts(self) -> None:
        """Run the %post scripts: the hook ``configure()`` calls between the boot configuration and SELinux."""
        self.run_post_scripts()


class LoopUpstreamMembers:
    """Upstream's ``LoopImageCreator`` members, mixed into :class:`imgcreate.creator.LoopImageCreator` (which
    supplies :attr:`_ext_image` and :attr:`is_mounted`): ``fslabel``, ``_blocksize``, ``_image``, ``_resparse``,
    ``_base_on``."""

    _blocksize_value = 4096
    _fslabel_value = ""
    # mount(base_on=IMAGE) makes the image file through _base_on, as upstream's; the live creator's _base_on
    # takes an ISO instead and is called by its own _mount_instroot.
    _base_on_copies_image = True
    minimal_size: int | None
    name: str

    if TYPE_CHECKING:  # supplied by the creator, which comes after this mixin in the MRO
        @property
        def _ext_image(self) -> ExtImage: ...

        @property
        def is_mounted(self) -> bool: ...

    @property
    def fslabel(self) -> str:
        """The filesystem label (a live ISO's volume id and ``root=live:CDLABEL=``; an ext label keeps its first
        16 characters).  As upstream's property, a value assigned (in the constructor or after it) is cut to
        ``FSLABEL_MAXLEN`` (32) characters, and None means the image's name."""
        return self._fslabel_value

    @fslabel.setter
    def fslabel(self, value: str | None) -> None:
        label = self.name if value is None else str(value)
        if len(label) > FSLABEL_MAXLEN:
            log.info("the filesystem label '%s' is cut to its first %d characters: '%s'", label, FSLABEL_MAXLEN,
                     label[:FSLABEL_MAXLEN])
        self._fslabel_value = label[:FSLABEL_MAXLEN]

    @property
    def _blocksize(self) -> int:
        """The image filesystem's block size (upstream's; 4096), settable before ``mount()``."""
        return self._blocksize_value

    @_blocksize.setter
    def _blocksize(self, value: int | str) -> None:
        if self.is_mounted:
            raise CreatorError("_blocksize must be set before calling mount()")
        try:
            self._blocksize_value = int(value)
        except ValueError:
            raise CreatorError(f"'{value}' is not a valid integer value for _blocksize") from None

    @property
    def _image(self) -> StrPath:
        """The image file (upstream's ``str``, a :class:`StrPath`); known from ``mount()`` on."""
        return StrPath(self._ext_image.path)

    def _resparse(self, size: int | None = None) -> int:
        """Check the image, shrink it to its minimal size and grow it back sparsely to *size* bytes (default:
        the kickstart's); returns the minimal size.  ``_stage_final_image`` calls it (a subclass may override)."""
        image = self._ext_image
        if size is not None:
            image.size = size
        self.minimal_size = image.finish()
        return self.minimal_size

    def _with_base_on_hook(self, image: ExtImage) -> ExtImage:
        """*image*, made from a ``mount(base_on=IMAGE)`` image through :meth:`_base_on` (a subclass's override
        runs, as upstream's mount() calls it), unless the creator's _base_on means something else (the live one's)."""
        if self._base_on_copies_image:
            image.copy_base = lambda src, dst: self._base_on(str(src))
        return image

    def _base_on(self, base_on: str) -> None:
        """Upstream's: copy the image *base_on* over :attr:`_image`; ``mount(base_on=IMAGE)`` calls it before the
        image is grown to its size, checked and mounted (a subclass may override it, as upstream's)."""
        shutil.copyfile(base_on, self._image)


def call_stage_final_image(hook: Callable[..., object], ops: list[str]) -> None:
    """Call a ``_stage_final_image`` hook with *ops* if it takes a parameter (upstream's live creator's does),
    else without (upstream's ``ImageCreator``, ``LoopImageCreator`` and appliance-tools' hooks take none)."""
    try:
        takes_ops = bool(inspect.signature(hook).parameters)
    except (TypeError, ValueError):
        takes_ops = False
    if takes_ops:
        hook(ops)
    else:
        hook()
