"""Helpers the kickstart configuration writers share: finding the image's programs and units, the warning
for a missing program, editing ``KEY=value`` files, quoting and line checks."""

from __future__ import annotations

import logging
import re
import stat
from pathlib import Path

from imgcreate.errors import KickstartError
from imgcreate.storage import inroot

log = logging.getLogger("imgcreate")

# Programs we run inside the image, and the package (Fedora/EL) that provides each.
IMAGE_TOOL_PACKAGES: dict[str, str] = {
    "firewall-offline-cmd": "firewalld",
    "authselect": "authselect",
    "authconfig": "authselect-compat",
    "setfiles": "policycoreutils",
    "useradd": "shadow-utils",
    "groupadd": "shadow-utils",
    "usermod": "shadow-utils",
    "chpasswd": "shadow-utils",
}
_TOOL_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
_UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
              "/usr/lib/systemd/system", "/lib/systemd/system")
_UNIT_SUFFIXES = (".service", ".socket", ".target", ".timer", ".path", ".mount", ".automount", ".swap",
                  ".slice", ".scope", ".device")


def image_tool(root: Path, name: str) -> str | None:
    """The path (inside the image) of an executable the image ships, or None.  Looked up in the root at the
    moment of use (imgcreate.storage.inroot): the SELinux relabel asks for setfiles after %post."""
    for d in _TOOL_DIRS:
        st = inroot.stat_in_root(root, f"{d}/{name}")
        if st is not None and stat.S_ISREG(st.st_mode) and st.st_mode & 0o111:
            return f"{d}/{name}"
    return None


def warn_missing_tool(command: str, tool: str, what: str) -> None:
    """The one warning for a kickstart command whose program the image lacks: names command, program, package."""
    pkg = IMAGE_TOOL_PACKAGES.get(tool, tool)
    log.warning(
        "kickstart '%s': the image has no '%s' (add the '%s' package to %%packages); %s",
        command, tool, pkg, what,
    )


def update_assignments(text: str | None, values: dict[str, str]) -> str:
    """Set ``KEY=value`` lines in a shell-style config file, keeping every other line and comment as it was."""
    lines = (text or "").splitlines()
    done: set[str] = set()
    out: list[str] = []
    for line in lines:
        key = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
        if key in values:
            if key not in done:
                out.append(f"{key}={values[key]}")
                done.add(key)
            continue
        out.append(line)
    out.extend(f"{k}={v}" for k, v in values.items() if k not in done)
    return "\n".join(out) + "\n"


def _quote(value: str) -> str:
    """Quote a value for a ``KEY="value"`` line that both a shell and systemd's environment-file parser read."""
    return '"' + re.sub(r'(["\\`$])', r"\\\1", value) + '"'


def _check_line(value: str, what: str) -> str:
    if "\n" in value or "\r" in value:
        raise KickstartError(f"The {what} '{value!r}' contains a line break.")
    return value


def _unit_name(name: str) -> str:
    return name if name.endswith(_UNIT_SUFFIXES) else f"{name}.service"


def _unit_path(root: Path, name: str) -> str | None:
    """Where the image has unit *name* (templates: ``getty@tty1.service`` -> ``getty@.service``), or None."""
    unit = _unit_name(name)
    candidates = [unit]
    m = re.match(r"^([^@]+@)[^.]+(\.[a-z]+)$", unit)
    if m:
        candidates.append(m.group(1) + m.group(2))
    for d in _UNIT_DIRS:
        for c in candidates:
            if inroot.stat_in_root(root, f"{d}/{c}") is not None:
                return f"{d}/{c}"
    return None
