"""A stick's filesystem found by mounting: each partition tried in turn until one mounts and holds what the
caller looks for (liveimage-mount's live medium, read-only and of any filesystem; ``--multi``'s ext4 data
partition, read-write).  One loop for both, so a fix to how a failed attempt is undone reaches both."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path

from imgcreate.errors import MountError
from imgcreate.host import fs

log = logging.getLogger("imgcreate")


def mount_first(stack: contextlib.ExitStack, devices: Iterable[str], mnt: Path, options: Mapping[str, str | None],
                holds: Callable[[Path], bool], *, last: Collection[str] = ()) -> tuple[str, str] | None:
    """Mount each of *devices* at *mnt* whose filesystem type (``blkid -p``) *options* names, with its mount
    options (None: the default, read-write), those of a type in *last* after the others, until *holds* finds
    what it looks for there: that mount stays (registered on *stack*; a stack with ``adopt``, liveimage-mount's
    RecordingStack, also takes the attempt's records); (device, type).  A device that does not mount or does not
    hold it is unmounted at once; None when none does."""
    probed = [(dev, fs.probe(dev, "TYPE")) for dev in devices]
    for dev, fstype in sorted(probed, key=lambda p: p[1] in last):
        if fstype not in options:
            continue
        with type(stack)() as attempt:
            try:
                fs.mount(attempt, dev, mnt, fstype=fstype, options=options[fstype])
            except MountError as exc:
                log.debug("cannot look into %s: %s", dev, exc)
                continue
            if holds(mnt):
                adopt = getattr(stack, "adopt", None)
                if adopt is not None:
                    adopt(attempt)
                else:
                    stack.push(attempt.pop_all())
                return dev, fstype
    return None
