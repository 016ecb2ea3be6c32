"""Accounts in the install root: /etc/passwd, /etc/shadow, /etc/group and /etc/gshadow, and password hashes.

Why this exists: kickstart's ``rootpw``, ``user`` and ``group`` must work for images that have no shadow-utils
(minimal and container-like images), and must never touch the host's account files.  When the image has
``useradd``/``groupadd``/``chpasswd`` the config writers use them (see :mod:`imgcreate.configure`); otherwise this
module edits the four files itself, through :mod:`imgcreate.storage.rootfs`, keeping every line it does not own
exactly as it was (comments, NIS ``+`` lines, field order) and each file's mode and owner.

Hashes are SHA-512 crypt (``$6$``) made by ``openssl passwd -6`` on the host, with the password given on
stdin so it never appears on a command line: Python 3.13 removed the ``crypt`` module, and openssl is on
every Fedora, EL and Debian host.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from imgcreate.errors import CreatorError
from imgcreate.host.run import run
from imgcreate.storage import inroot, rootfs

# Same rule as shadow-utils' default (and systemd's): a letter or '_' first, then letters, digits, '_', '.', '-';
# an optional trailing '$' (Samba machine accounts).  Upper case is accepted as useradd does with a warning.
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*\$?$")
UID_MIN_DEFAULT = 1000
UID_MAX_DEFAULT = 60000


class AccountError(CreatorError):
    """A user or group from the kickstart cannot be created as asked (bad name, clashing id, ...)."""


def hash_password(plaintext: str) -> str:
    """Hash *plaintext* with SHA-512 crypt and a random salt (``$6$salt$hash``) using the host's openssl."""
    if "\n" in plaintext or "\r" in plaintext:
        raise AccountError("A password cannot contain a line break.")
    out = run(["openssl", "passwd", "-6", "-stdin"], input=plaintext + "\n", what="Hashing a password").stdout
    hashed = out.strip().splitlines()[-1] if out.strip() else ""
    if not hashed.startswith("$6$"):
        raise AccountError(f"openssl passwd -6 returned an unexpected result: {hashed[:20]!r}")
    return hashed


def check_name(name: str, what: str = "user") -> str:
    """Return *name* if it is a valid user or group name, else raise AccountError saying why."""
    if not name or len(name) > 32 or not _NAME_RE.match(name):
        raise AccountError(
            f"'{name}' is not a valid {what} name: use at most 32 letters, digits, '_', '.' or '-', "
            "starting with a letter or '_'."
        )
    return name


def check_field(value: str, what: str) -> str:
    """Refuse values that would break the colon-separated account files."""
    if ":" in value or "\n" in value:
        raise AccountError(f"The {what} '{value}' contains ':' or a line break, which the account files cannot hold.")
    return value


def days_since_epoch() -> int:
    """The "last password change" day for new shadow entries (SOURCE_DATE_EPOCH if set, for reproducible images)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = int(epoch) if epoch and epoch.isdigit() else int(time.time())
    return now // 86400


def locked(hashed: str) -> str:
    """The shadow password field for a locked account: '!' in front, as ``passwd -l`` and ``usermod -L`` do."""
    return hashed if hashed.startswith("!") else "!" + hashed


@dataclass
class _Table:
    """One colon-separated file: its lines (kept verbatim unless changed), and the mode and owner it had."""

    path: str
    lines: list[str] = field(default_factory=list)
    exists: bool = False
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    changed: bool = False

    def find(self, name: str) -> int | None:
        for i, line in enumerate(self.lines):
            if line.split(":", 1)[0] == name:
                return i
        return None

    def get(self, name: str) -> list[str] | None:
        i = self.find(name)
        return self.lines[i].split(":") if i is not None else None

    def put(self, fields: list[str]) -> None:
        line = ":".join(fields)
        i = self.find(fields[0])
        if i is None:
            self.lines.append(line)
        elif self.lines[i] == line:
            return
        else:
            self.lines[i] = line
        self.changed = True

    def entries(self) -> Iterable[list[str]]:
        for line in self.lines:
            if line and not line.startswith(("#", "+", "-")):
                yield line.split(":")


class AccountFiles:
    """The account files of an install root, edited in memory and written back with :meth:`save`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.passwd = self._load("/etc/passwd", 0o644)
        self.shadow = self._load("/etc/shadow", 0o000)
        self.group = self._load("/etc/group", 0o644)
        self.gshadow = self._load("/etc/gshadow", 0o000)
        defs = rootfs.read_file(self.root, "/etc/login.defs") or ""
        self.uid_min = _login_def(defs, "UID_MIN", UID_MIN_DEFAULT)
        self.uid_max = _login_def(defs, "UID_MAX", UID_MAX_DEFAULT)
        self.gid_min = _login_def(defs, "GID_MIN", UID_MIN_DEFAULT)
        self.gid_max = _login_def(defs, "GID_MAX", UID_MAX_DEFAULT)

    def _load(self, path: str, default_mode: int) -> _Table:
        table = _Table(path, mode=default_mode)
        text = rootfs.read_file(self.root, path)
        st = inroot.stat_in_root(self.root, path)
        if text is not None and st is not None:
            table.exists = True
            table.mode = stat.S_IMODE(st.st_mode)
            table.uid, table.gid = st.st_uid, st.st_gid
            table.lines = text.splitlines()
        return table

    def save(self) -> None:
        """Write back every changed file atomically, keeping its mode and owner."""
        for table in (self.group, self.gshadow, self.passwd, self.shadow):
            if not table.changed:
                continue
            text = "\n".join(table.lines) + "\n"
            written = rootfs.write_file(self.root, table.path, text, mode=table.mode)
            os.chown(written, table.uid, table.gid, follow_symlinks=False)
            table.changed = False

    # -- lookups -------------------------------------------------------------------------------------------
    def user(self, name: str) -> list[str] | None:
        return self.passwd.get(name)

    def group_by_name(self, name: str) -> list[str] | None:
        return self.group.get(name)

    def group_by_gid(self, gid: int) -> list[str] | None:
        for fields in self.group.entries():
            if len(fields) > 2 and fields[2] == str(gid):
                return fields
        return None

    def _used(self, table: _Table) -> set[int]:
        return {int(f[2]) for f in table.entries() if len(f) > 2 and f[2].isdigit()}

    def next_uid(self) -> int:
        used = self._used(self.passwd)
        return _first_free(used, self.uid_min, self.uid_max, "user ID")

    def next_gid(self, prefer: int | None = None) -> int:
        used = self._used(self.group)
        if prefer is not None and prefer not in used and self.gid_min <= prefer <= self.gid_max:
            return prefer
        return _first_free(used, self.gid_min, self.gid_max, "group ID")

    # -- changes -------------------------------------------------------------------------------------------
    def add_group(self, name: str, gid: int | None = None) -> int:
        """Create group *name* (with *gid*, else the next free one) and return its gid; an existing one is kept."""
        check_name(name, "group")
        existing = self.group.get(name)
        if existing is not None:
            if gid is not None and existing[2] != str(gid):
                raise AccountError(f"Group '{name}' already exists in the image with GID {existing[2]}, not {gid}.")
            return int(existing[2])
        if gid is None:
            gid = self.next_gid()
        elif self.group_by_gid(gid) is not None:
            other = self.group_by_gid(gid)
            assert other is not None
            raise AccountError(f"Cannot create group '{name}' with GID {gid}: group '{other[0]}' already has it.")
        self.group.put([name, "x", str(gid), ""])
        if self.gshadow.exists:
            self.gshadow.put([name, "!", "", ""])
        return gid

    def add_member(self, group: str, user: str) -> None:
        """Put *user* in the member list of *group* (in /etc/group and, if the image has it, /etc/gshadow)."""
        fields = self.group.get(group)
        if fields is None:
            raise AccountError(f"Group '{group}' does not exist in the image.")
        fields += [""] * (4 - len(fields))
        members = [m for m in fields[3].split(",") if m]
        if user not in members:
            fields[3] = ",".join([*members, user])
            self.group.put(fields)
        if self.gshadow.exists:
            gs = self.gshadow.get(group) or [group, "!", "", ""]
            gs += [""] * (4 - len(gs))
            gmembers = [m for m in gs[3].split(",") if m]
            if user not in gmembers:
                gs[3] = ",".join([*gmembers, user])
            self.gshadow.put(gs)

    def add_user(
        self,
        name: str,
        uid: int | None = None,
        gid: int | None = None,
        gecos: str = "",
        home: str | None = None,
        shell: str = "/bin/bash",
    ) -> tuple[int, int]:
        """Create user *name* with its own group (unless *gid* names an existing one); return (uid, gid).

        As useradd does: without *gid* a group named after the user is made (with the uid as gid when free);
        with a *gid* no group has, a group named after the user gets it.
        """
        check_name(name)
        for value, what in ((gecos, "GECOS field"), (home or "", "home directory"), (shell, "shell")):
            check_field(value, what)
        if self.passwd.get(name) is not None:
            raise AccountError(f"User '{name}' already exists in the image.")
        if uid is None:
            uid = self.next_uid()
        else:
            for fields in self.passwd.entries():
                if len(fields) > 2 and fields[2] == str(uid):
                    raise AccountError(f"Cannot create user '{name}' with UID {uid}: '{fields[0]}' already has it.")
        if gid is None:
            gid = self.add_group(name, self.next_gid(prefer=uid))
        elif self.group_by_gid(gid) is None:
            self.add_group(name, gid)
        home = home or f"/home/{name}"
        self.passwd.put([name, "x", str(uid), str(gid), gecos, home, shell])
        self.shadow.put([name, "!!", str(days_since_epoch()), "0", "99999", "7", "", "", ""])
        return uid, gid

    def ensure_root(self) -> None:
        """Make sure root has passwd, group and shadow entries (an image without a 'setup' package has none)."""
        if self.passwd.get("root") is None:
            self.passwd.put(["root", "x", "0", "0", "root", "/root", "/bin/bash"])
        if self.group.get("root") is None and self.group_by_gid(0) is None:
            self.group.put(["root", "x", "0", ""])

    def set_password(self, name: str, hashed: str) -> None:
        """Set the shadow password field of *name* (already hashed, or '!'-prefixed to lock)."""
        check_field(hashed, "password hash")
        fields = self.passwd.get(name)
        if fields is None:
            raise AccountError(f"User '{name}' does not exist in the image.")
        if fields[1] != "x":
            fields[1] = "x"  # the password moves to /etc/shadow
            self.passwd.put(fields)
        entry = self.shadow.get(name) or [name, "", str(days_since_epoch()), "0", "99999", "7", "", "", ""]
        entry += [""] * (9 - len(entry))
        entry[1] = hashed
        entry[2] = str(days_since_epoch())
        self.shadow.put(entry)

    def get_password(self, name: str) -> str | None:
        entry = self.shadow.get(name)
        return entry[1] if entry is not None and len(entry) > 1 else None


def make_home(root: Path, home: str, uid: int, gid: int) -> None:
    """Create *home* in the image owned by uid:gid (mode 0700), filled from /etc/skel as useradd -m does.

    Paths resolve inside the root; links found in /etc/skel are copied as links, never followed.  The host
    paths are computed with rootfs (a walk, not imgcreate.storage.inroot's openat2) and used at once: this runs in the
    configure phase, before %post (config.apply_before_post), when the tree holds only what the packages
    installed, and nothing changes it meanwhile (no script runs while the home is made).
    """
    target = rootfs.host_path(root, home)
    if target.is_symlink() or target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.mkdir(mode=0o700)
    os.chmod(target, 0o700)
    os.chown(target, uid, gid)
    skel = rootfs.resolve_in_root(root, "/etc/skel")
    if not skel.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(skel):
        rel = os.path.relpath(dirpath, skel)
        dest_dir = target if rel == "." else target / rel
        for d in dirnames:
            src = Path(dirpath) / d
            dst = dest_dir / d
            if src.is_symlink():
                os.symlink(os.readlink(src), dst)
                os.lchown(dst, uid, gid)
            else:
                dst.mkdir(mode=stat.S_IMODE(src.stat().st_mode))
                os.chown(dst, uid, gid)
        for f in filenames:
            src = Path(dirpath) / f
            dst = dest_dir / f
            if src.is_symlink():
                os.symlink(os.readlink(src), dst)
            elif src.is_file():
                shutil.copyfile(src, dst, follow_symlinks=False)
                os.chmod(dst, stat.S_IMODE(src.stat().st_mode))
            else:
                continue
            os.lchown(dst, uid, gid)
        # never descend into a linked directory (it was copied as a link above)
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]


def _login_def(text: str, key: str, default: int) -> int:
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == key and parts[1].isdigit():
            return int(parts[1])
    return default


def _first_free(used: set[int], low: int, high: int, what: str) -> int:
    for n in range(low, high + 1):
        if n not in used:
            return n
    raise AccountError(f"No free {what} left between {low} and {high}.")
