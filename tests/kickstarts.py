"""The kickstarts of the integration tests, made by one builder (:func:`kickstart`) from the parts that differ:
the partitions, the boot loader line, the packages, commands before the rest, a %post.

What it returns is a template for ``str.format``: ``{repo}`` is the test repository's path (and a test's own
placeholders, such as ``{extra}`` among the packages, stay as they are), so literal braces in a part are
doubled.  Kept small on purpose (a 300 MiB root, @core and the kernel), so that a test building one pays little
for what it does not check."""

from __future__ import annotations

from collections.abc import Sequence


def repo_line(name: str = "testdistro", url: str = "file://{repo}") -> str:
    """A ``repo`` line: by default the test repository, whose path the template's ``{repo}`` takes."""
    return f"repo --name={name} --baseurl={url}"


def clearpart(disklabel: str) -> str:
    """A fresh partition table of *disklabel* (msdos or gpt), as a disk's kickstart starts its layout."""
    return f"clearpart --all --initlabel --disklabel={disklabel}"


def kickstart(*layout: str, commands: Sequence[str] = (), repo: str | None = repo_line(),
              bootloader: str | None = "--location=none", packages: Sequence[str] = ("@core", "kernel"),
              post: str | None = None, post_options: str = "") -> str:
    """A kickstart, one line each, in this order: *commands* (first, so a test naming "line 1" finds them),
    the *repo* line, the *layout* lines (``clearpart``, ``part``...), ``bootloader`` with *bootloader*'s
    options, ``%packages`` with *packages*, and with *post* a ``%post`` section (``%post`` *post_options*)."""
    lines = [*commands, *([repo] if repo is not None else []), *layout]
    if bootloader is not None:
        lines.append(f"bootloader {bootloader}")
    lines += ["%packages", *packages, "%end"]
    if post is not None:
        lines += [f"%post{post_options}", post.rstrip("\n"), "%end"]
    return "\n".join(lines) + "\n"


# The smallest live ISO that boots: livecd-creator's (and editliveos's) input.
LIVE = kickstart("part / --size 300", bootloader="--timeout 1")

# The smallest disk: one msdos partition, no boot loader (appliance-creator without GRUB's cost).
DISK = kickstart(clearpart("msdos"), "part / --fstype=ext4 --size=300")

# A smaller disk still: no kernel either (a disk need not boot without a boot loader); the repository named "t".
SMALL_DISK = kickstart(clearpart("msdos"), "part / --fstype=ext4 --size=200", repo=repo_line("t"), packages=("@core",))
