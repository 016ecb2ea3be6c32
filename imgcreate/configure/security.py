"""Kickstart ``selinux`` (the config file and the relabel after %post), ``firewall`` and
``authselect``/``auth``, applied with the image's own programs."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

from imgcreate.configure.common import image_tool, update_assignments, warn_missing_tool
from imgcreate.host.run import run
from imgcreate.kickstart.values import Auth, Firewall, FirewallMode, SELinuxMode
from imgcreate.storage import inroot, rootfs

log = logging.getLogger("imgcreate")

def _selinux_type(root: Path) -> str:
    for line in (rootfs.read_file(root, "/etc/selinux/config") or "").splitlines():
        if line.strip().startswith("SELINUXTYPE="):
            value = line.split("=", 1)[1].strip().strip('"')
            if value and "/" not in value and value not in (".", ".."):
                return value
    return "targeted"


def _file_contexts(root: Path) -> str:
    return f"/etc/selinux/{_selinux_type(root)}/contexts/files/file_contexts"


def apply_selinux_config(root: Path, mode: SELinuxMode | None) -> None:
    """``selinux --enforcing|--permissive|--disabled`` -> SELINUX= in /etc/selinux/config (other lines kept).

    Enforcing or permissive without a policy in the image is not written: with SELINUX=enforcing and no
    policy, systemd refuses to boot.  A warning names the policy package instead.
    """
    if mode is None:
        return
    policy = _selinux_type(root)
    if mode is not SELinuxMode.DISABLED and not inroot.is_file(root, _file_contexts(root)):
        log.warning(
            "kickstart 'selinux --%s': the image has no SELinux policy (add the 'selinux-policy-%s' package to "
            "%%packages); /etc/selinux/config was not written", mode.value, policy,
        )
        return
    text = rootfs.read_file(root, "/etc/selinux/config")
    values = {"SELINUX": mode.value}
    if text is None or "SELINUXTYPE=" not in text:
        values["SELINUXTYPE"] = policy
    rootfs.write_file(root, "/etc/selinux/config", update_assignments(text, values))


def relabel(root: Path, mode: SELinuxMode | None) -> None:
    """Label every file with the image's own policy (``setfiles`` run in the image), unless SELinux is disabled.

    Without a ``selinux`` line SELinux counts as enabled (upstream and anaconda agree), so an image that has
    a policy is always relabelled.  Mounted API filesystems are excluded.
    """
    if mode is SELinuxMode.DISABLED:
        return
    contexts = _file_contexts(root)
    if not inroot.is_file(root, contexts):  # after %post: resolved in the root now (imgcreate.storage.inroot)
        return  # no policy: nothing to label with (the missing policy was warned about if it was asked for)
    setfiles = image_tool(root, "setfiles")
    if setfiles is None:
        command = f"selinux --{(mode or SELinuxMode.ENFORCING).value}"
        warn_missing_tool(command, "setfiles", "the image's files were not labelled")
        return
    log.info("selinux: labelling the image's files with its own policy (%s)", contexts)
    run([setfiles, "-F", "-e", "/proc", "-e", "/sys", "-e", "/dev", contexts, "/"], root=root,
        what="Labelling the image's files for SELinux")


# ---- firewall, authselect --------------------------------------------------------------------------------------


def firewall_args(fw: Firewall) -> list[str] | None:
    """firewall-offline-cmd arguments for a kickstart ``firewall`` line; None for ``--use-system-defaults``."""
    if fw.mode is FirewallMode.SYSTEM_DEFAULTS:
        return None
    args = ["--disabled" if fw.mode is FirewallMode.DISABLED else "--enabled"]
    args += [f"--trust={d}" for d in fw.trusts]
    args += [f"--port={p}" for p in fw.ports]
    args += [f"--remove-service={s}" for s in fw.remove_services]
    args += [f"--service={s}" for s in fw.services]
    return args


def apply_firewall(root: Path, fw: Firewall | None) -> None:
    """``firewall`` -> the image's own ``firewall-offline-cmd`` (from firewalld), as upstream and anaconda do."""
    if fw is None:
        return
    args = firewall_args(fw)
    if args is None:
        log.info("firewall --use-system-defaults: leaving the image's firewall configuration as it is")
        return
    tool = image_tool(root, "firewall-offline-cmd")
    if tool is None:
        warn_missing_tool("firewall", "firewall-offline-cmd", "the firewall settings were not applied")
        return
    run([tool, *args], root=root, what="Configuring the firewall (kickstart 'firewall')")
    log.info("firewall: applied with the image's firewall-offline-cmd %s", " ".join(args))


def apply_auth(root: Path, auth: Auth) -> None:
    """``authselect ARGS`` -> the image's ``authselect ARGS`` (``--force`` added to ``select``, as anaconda does).

    The older ``auth``/``authconfig`` command runs the image's ``authconfig --update --nostart ARGS`` as
    upstream livecd-tools did.
    """
    if auth.authselect:
        args = shlex.split(auth.authselect)
        if args and args[0] == "select" and "--force" not in args:
            args.append("--force")
        tool = image_tool(root, "authselect")
        if tool is None:
            warn_missing_tool("authselect", "authselect", "the authentication profile was not selected")
        else:
            run([tool, *args], root=root, what="Selecting the authentication profile (kickstart 'authselect')")
            log.info("authselect: applied with the image's authselect %s", " ".join(args))
    if auth.authconfig:
        tool = image_tool(root, "authconfig")
        if tool is None:
            warn_missing_tool("auth", "authconfig", "the authentication settings were not applied")
        else:
            run([tool, "--update", "--nostart", *shlex.split(auth.authconfig)], root=root,
                what="Configuring authentication (kickstart 'auth')")
