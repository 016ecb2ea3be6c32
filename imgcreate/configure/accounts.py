"""Kickstart ``group``, ``rootpw``, ``user`` and ``sshkey``: with the image's shadow-utils when it has them,
else by editing the account files (:mod:`imgcreate.configure.passwords`)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

from imgcreate.configure import passwords
from imgcreate.configure.common import _check_line, image_tool
from imgcreate.errors import KickstartError
from imgcreate.host.run import run
from imgcreate.kickstart.values import Group, RootPassword, SshKey, User
from imgcreate.storage import rootfs

log = logging.getLogger("imgcreate")


def _shadow_utils(root: Path) -> bool:
    """Whether the image has the shadow-utils programs we would use instead of editing the files ourselves."""
    return all(image_tool(root, t) for t in ("useradd", "groupadd", "usermod", "chpasswd"))


def _password_field(password: str, crypted: bool, lock: bool, lineno: int | None, what: str) -> str | None:
    """The shadow field for a kickstart password: hashed unless --iscrypted, '!'-prefixed for --lock."""
    if password:
        if crypted:
            try:
                hashed = passwords.check_field(password, "password hash")
            except passwords.AccountError as exc:
                raise KickstartError(f"{what} (kickstart line {lineno}): {exc}") from exc
        else:
            hashed = passwords.hash_password(password)
        return passwords.locked(hashed) if lock else hashed
    return None


def _parse_group_spec(spec: str) -> tuple[str, int | None]:
    """'wheel' -> ('wheel', None); 'admins(5000)' -> ('admins', 5000), the form anaconda accepts in --groups."""
    m = re.match(r"^\s*([^()\s]+)\s*(?:\(\s*(\d+)\s*\))?\s*$", spec)
    if not m:
        raise KickstartError(f"'{spec}' is not a group name (or 'name(gid)').")
    return m.group(1), int(m.group(2)) if m.group(2) else None


def _chpasswd(root: Path, name: str, pwfield: str) -> None:
    run(["chpasswd", "-e"], root=root, input=f"{name}:{pwfield}\n", what=f"Setting the password of '{name}'")


def apply_groups(root: Path, groups: Sequence[Group]) -> None:
    """``group --name [--gid]``: with the image's groupadd when it has one, else by editing /etc/group."""
    if not groups:
        return
    use_tools = _shadow_utils(root)
    accounts = passwords.AccountFiles(root)
    for g in groups:
        try:
            passwords.check_name(g.name, "group")
            if use_tools:
                if accounts.group_by_name(g.name) is not None:
                    log.warning("kickstart 'group --name=%s': the group already exists in the image", g.name)
                    continue
                run(["groupadd", *(["-g", str(g.gid)] if g.gid is not None else []), g.name], root=root,
                    what=f"Creating group '{g.name}'")
            else:
                accounts.add_group(g.name, g.gid)
        except passwords.AccountError as exc:
            raise KickstartError(f"group (kickstart line {g.lineno}): {exc}") from exc
    if not use_tools:
        accounts.save()


def apply_rootpw(root: Path, rp: RootPassword | None) -> None:
    """``rootpw [--iscrypted|--plaintext] [--lock] [--allow-ssh]`` -> root's /etc/shadow entry.

    ``--allow-ssh`` also writes an sshd drop-in permitting root password logins, as anaconda does.
    """
    if rp is None:
        return
    pwfield = _password_field(rp.password, rp.crypted, rp.lock, rp.lineno, "rootpw")
    if _shadow_utils(root):
        if pwfield is not None:
            _chpasswd(root, "root", pwfield)
        elif rp.lock:
            run(["usermod", "-L", "root"], root=root, what="Locking the root account")
    else:
        accounts = passwords.AccountFiles(root)
        accounts.ensure_root()
        if pwfield is None and rp.lock:
            pwfield = passwords.locked(accounts.get_password("root") or "")
        if pwfield is not None:
            accounts.set_password("root", pwfield)
        accounts.save()
    if rp.allow_ssh:
        rootfs.write_file(root, "/etc/ssh/sshd_config.d/01-permitrootlogin.conf",
                          "# Written from the kickstart 'rootpw --allow-ssh'\nPermitRootLogin yes\n")


KsUser = User  # the name this package exported before the kickstart was read into typed values


def apply_users(root: Path, users: Sequence[User]) -> None:
    """``user --name [--groups --password --iscrypted --plaintext --lock --homedir --shell --uid --gid --gecos]``.

    Missing supplementary groups are created (kickstart documents this).  With shadow-utils in the image,
    useradd/groupadd/chpasswd do the work; otherwise the account files are edited and the home directory is
    made from /etc/skel.
    """
    if not users:
        return
    use_tools = _shadow_utils(root)
    for u in users:
        try:
            if use_tools:
                _add_user_with_tools(root, u)
            else:
                _add_user_in_files(root, u)
        except passwords.AccountError as exc:
            raise KickstartError(f"user --name={u.name} (kickstart line {u.lineno}): {exc}") from exc


def _user_fields(u: User) -> tuple[list[tuple[str, int | None]], str | None]:
    groups = [_parse_group_spec(g) for g in u.groups]
    pwfield = _password_field(u.password, u.crypted, u.lock, u.lineno, f"user --name={u.name}")
    return groups, pwfield


def _add_user_in_files(root: Path, u: User) -> None:
    groups, pwfield = _user_fields(u)
    accounts = passwords.AccountFiles(root)
    for gname, ggid in groups:
        if accounts.group_by_name(gname) is None:
            accounts.add_group(gname, ggid)
    if accounts.user(u.name) is not None:
        log.warning("kickstart 'user --name=%s': the user already exists in the image; setting only its "
                    "password and groups", u.name)
    else:
        accounts.add_user(u.name, uid=u.uid, gid=u.gid, gecos=u.gecos, home=u.homedir or f"/home/{u.name}",
                          shell=u.shell or "/bin/bash")
    for gname, _ in groups:
        accounts.add_member(gname, u.name)
    if pwfield is not None:
        accounts.set_password(u.name, pwfield)
    elif u.lock:
        accounts.set_password(u.name, passwords.locked(accounts.get_password(u.name) or ""))
    accounts.save()
    entry = accounts.user(u.name)
    if entry is not None:
        passwords.make_home(root, entry[5], int(entry[2]), int(entry[3]))


def _add_user_with_tools(root: Path, u: User) -> None:
    groups, pwfield = _user_fields(u)
    passwords.check_name(u.name)
    accounts = passwords.AccountFiles(root)
    for gname, ggid in groups:
        passwords.check_name(gname, "group")
        if accounts.group_by_name(gname) is None:
            run(["groupadd", *(["-g", str(ggid)] if ggid is not None else []), gname], root=root,
                what=f"Creating group '{gname}'")
    if accounts.user(u.name) is not None:
        log.warning("kickstart 'user --name=%s': the user already exists in the image; setting only its "
                    "password and groups", u.name)
        if groups:
            run(["usermod", "-a", "-G", ",".join(g for g, _ in groups), u.name], root=root,
                what=f"Adding '{u.name}' to groups")
    else:
        argv = ["useradd", "-m", *_useradd_group_args(root, accounts, u), *_useradd_args(u, groups)]
        run([*argv, u.name], root=root, what=f"Creating user '{u.name}'")
    if pwfield is not None:
        _chpasswd(root, u.name, pwfield)
    elif u.lock:
        run(["usermod", "-L", u.name], root=root, what=f"Locking '{u.name}'")


def _useradd_group_args(root: Path, accounts: passwords.AccountFiles, u: User) -> list[str]:
    """useradd's primary group: ``--gid`` (made as a group named after the user if no group has that gid), else
    an existing group named after the user, else a new one (``-U``)."""
    if u.gid is not None:
        if accounts.group_by_gid(u.gid) is None:
            run(["groupadd", "-g", str(u.gid), u.name], root=root, what=f"Creating group '{u.name}'")
        return ["-g", str(u.gid)]
    if accounts.group_by_name(u.name) is not None:
        return ["-g", u.name]
    return ["-U"]


def _useradd_args(u: User, groups: list[tuple[str, int | None]]) -> list[str]:
    """useradd's options for ``--uid --groups --homedir --shell --gecos`` (the text ones checked first)."""
    argv: list[str] = []
    if u.uid is not None:
        argv += ["-u", str(u.uid)]
    if groups:
        argv += ["-G", ",".join(g for g, _ in groups)]
    if u.homedir:
        argv += ["-d", passwords.check_field(u.homedir, "home directory")]
    if u.shell:
        argv += ["-s", passwords.check_field(u.shell, "shell")]
    if u.gecos:
        argv += ["-c", passwords.check_field(u.gecos, "GECOS field")]
    return argv


def apply_sshkeys(root: Path, keys: Sequence[SshKey]) -> None:
    """``sshkey --username=USER "KEY"`` -> appended to ~USER/.ssh/authorized_keys (0600, .ssh 0700, user's own)."""
    if not keys:
        return
    accounts = passwords.AccountFiles(root)
    for k in keys:
        entry = accounts.user(k.username)
        if entry is None or len(entry) < 6:
            raise KickstartError(
                f"sshkey --username={k.username} (kickstart line {k.lineno}): there is no such user in the image; "
                "create it with a 'user' line."
            )
        uid, gid, home = int(entry[2]), int(entry[3]), entry[5] or "/"
        key = _check_line(k.key, "ssh key")
        sshdir = rootfs.host_path(root, f"{home}/.ssh")
        if sshdir.is_symlink():
            raise KickstartError(f"sshkey --username={k.username}: {home}/.ssh in the image is a symlink; refusing")
        if not sshdir.exists():
            sshdir.mkdir(parents=True, mode=0o700)
            os.chown(sshdir, uid, gid)
        os.chmod(sshdir, 0o700)
        path = f"{home}/.ssh/authorized_keys"
        old = rootfs.read_file(root, path) or ""
        if key not in old.splitlines():
            text = old + ("" if not old or old.endswith("\n") else "\n") + key + "\n"
            written = rootfs.write_file(root, path, text, mode=0o600)
            os.chown(written, uid, gid, follow_symlinks=False)
