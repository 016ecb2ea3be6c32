"""Binary-only RPM packages from staged files: a tiny package model, spec writer and rpmbuild driver.

Each spec is built with its staging directory as the build root (no %install section, no %clean), so files are
staged once and never copied again. Specs have a placeholder main package that is never built and one
``%package -n`` subpackage per real package, so one rpmbuild run can produce many packages (the filler uses that).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Sequence

Log = Callable[[str], None]

# Paths we put in %files must not contain anything rpm would expand (%, globs, spaces, quotes).
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9/._+@:,=~-]*$")
# busybox has applets called "[" and "[["; rpm takes these literally (not valid globs).
_SAFE_BASENAMES = {"[", "[["}
_SAFE_DEP = re.compile(r"^[A-Za-z0-9/._+()-]+( (=|<|>|<=|>=) [A-Za-z0-9._+:~-]+)?$")


@dataclass
class Entry:
    """One path in a package: a regular file, a directory or a symlink."""

    path: str
    kind: Literal["file", "dir", "symlink"]
    src: Path | None = None  # host file to copy (files)
    data: bytes | None = None  # literal content (files)
    target: str | None = None  # symlink target
    mode: int | None = None  # default 0644 for files, 0755 for dirs
    directive: str = ""  # e.g. "%doc", "%lang(de)", "%config(noreplace)"
    hardlink_of: str | None = None  # make this file a hard link of another path of the same package

    def effective_mode(self) -> int:
        if self.mode is not None:
            return self.mode
        return 0o755 if self.kind == "dir" else 0o644


def file(path: str, *, src: Path | None = None, data: bytes | str | None = None, mode: int | None = None,
         directive: str = "", hardlink_of: str | None = None) -> Entry:
    if isinstance(data, str):
        data = data.encode()
    if (src is None) == (data is None) and hardlink_of is None:
        raise ValueError(f"{path}: give exactly one of src= or data=")
    return Entry(path, "file", src=src, data=data, mode=mode, directive=directive, hardlink_of=hardlink_of)


def directory(path: str, mode: int | None = None) -> Entry:
    return Entry(path, "dir", mode=mode)


def symlink(path: str, target: str, directive: str = "") -> Entry:
    return Entry(path, "symlink", target=target, directive=directive)


@dataclass
class Package:
    name: str
    summary: str
    description: str = ""
    version: str = "1.0"
    release: str = "1"
    arch: Literal["x86_64", "aarch64", "noarch"] = "x86_64"
    license: str = "GPL-2.0-or-later"
    requires: list[str] = field(default_factory=list)
    requires_pre: list[str] = field(default_factory=list)
    requires_post: list[str] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)
    recommends: list[str] = field(default_factory=list)
    pre: str | None = None
    post: str | None = None
    posttrans: str | None = None  # runs once the whole transaction is installed (Fedora's kernel-core)
    entries: list[Entry] = field(default_factory=list)

    @property
    def nvra(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.{self.arch}"

    @property
    def rpm_filename(self) -> str:
        return f"{self.nvra}.rpm"


def check_package(pkg: Package) -> None:
    """Reject names, paths and dependencies that would not survive being pasted into a spec file."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", pkg.name):
        raise ValueError(f"bad package name {pkg.name!r}")
    for value in (pkg.version, pkg.release):
        if not re.fullmatch(r"[A-Za-z0-9._+~]+", value):
            raise ValueError(f"{pkg.name}: bad version or release {value!r}")
    for dep in pkg.requires + pkg.requires_pre + pkg.requires_post + pkg.provides + pkg.recommends:
        if not _SAFE_DEP.match(dep):
            raise ValueError(f"{pkg.name}: bad dependency {dep!r}")
    seen: set[str] = set()
    for e in pkg.entries:
        base = e.path.rsplit("/", 1)[-1]
        head = e.path[: len(e.path) - len(base)]
        if not (_SAFE_PATH.match(e.path) or (base in _SAFE_BASENAMES and _SAFE_PATH.match(head))):
            raise ValueError(f"{pkg.name}: path {e.path!r} is not safe for a %files list")
        if e.path in seen:
            raise ValueError(f"{pkg.name}: {e.path} listed twice")
        seen.add(e.path)


def stage(packages: Sequence[Package], root: Path) -> None:
    """Materialise the entries of ``packages`` under ``root`` (one build root for one spec)."""
    for pkg in packages:
        for e in pkg.entries:
            dest = root / e.path.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            if e.kind == "dir":
                dest.mkdir(exist_ok=True)
                os.chmod(dest, e.effective_mode())
            elif e.kind == "symlink":
                assert e.target is not None
                os.symlink(e.target, dest)
        for e in pkg.entries:
            if e.kind != "file":
                continue
            dest = root / e.path.lstrip("/")
            if e.hardlink_of is not None:
                os.link(root / e.hardlink_of.lstrip("/"), dest)
                continue
            if e.src is not None:
                shutil.copyfile(e.src, dest)
            else:
                assert e.data is not None
                dest.write_bytes(e.data)
            os.chmod(dest, e.effective_mode())


def _files_line(e: Entry) -> str:
    parts = []
    if e.directive:
        parts.append(e.directive)
    if e.kind == "symlink":
        parts.append("%attr(-,root,root)")
    else:
        parts.append(f"%attr({e.effective_mode():04o},root,root)")
    if e.kind == "dir":
        parts.append("%dir")
    parts.append(e.path)
    return " ".join(parts)


def spec_text(spec_name: str, packages: Sequence[Package]) -> str:
    """A spec whose (never built) main package is ``spec_name`` and whose subpackages are ``packages``."""
    out = [
        "# Generated by testdistro: binary-only packages from a staged build root.",
        "%define __os_install_post %{nil}",
        "%define debug_package %{nil}",
        "%define _build_id_links none",
        "%define _binaries_in_noarch_packages_terminate_build 0",
        f"Name: {spec_name}",
        "Version: 0",
        "Release: 0",
        "Summary: testdistro build placeholder (not built)",
        "License: GPL-2.0-or-later",
        "AutoReqProv: no",
        "",
        "%description",
        "Placeholder main package; only the subpackages are built.",
        "",
    ]
    for pkg in packages:
        check_package(pkg)
        n = pkg.name
        out += [
            f"%package -n {n}",
            f"Summary: {pkg.summary.replace('%', '%%')}",
            f"Version: {pkg.version}",
            f"Release: {pkg.release}",
            f"License: {pkg.license}",
            "AutoReqProv: no",
        ]
        if pkg.arch == "noarch":
            out.append("BuildArch: noarch")
        out += [f"Requires: {d}" for d in pkg.requires]
        out += [f"Requires(pre): {d}" for d in pkg.requires_pre]
        out += [f"Requires(post): {d}" for d in pkg.requires_post]
        out += [f"Provides: {d}" for d in pkg.provides]
        out += [f"Recommends: {d}" for d in pkg.recommends]
        out += ["", f"%description -n {n}", (pkg.description or pkg.summary).replace("%", "%%"), ""]
        if pkg.pre is not None:
            out += [f"%pre -n {n}", pkg.pre.rstrip("\n"), ""]
        if pkg.post is not None:
            out += [f"%post -n {n}", pkg.post.rstrip("\n"), ""]
        if pkg.posttrans is not None:
            out += [f"%posttrans -n {n}", pkg.posttrans.rstrip("\n"), ""]
        out += [f"%files -n {n}", "%defattr(-,root,root,-)"]
        out += [_files_line(e) for e in pkg.entries]
        out.append("")
    return "\n".join(out) + "\n"


def build_spec(spec_name: str, packages: Sequence[Package], workdir: Path, rpmdir: Path) -> list[Path]:
    """Stage ``packages`` and build them with one rpmbuild run; return the written rpm paths."""
    buildroot = workdir / "buildroot"
    topdir = workdir / "top"
    dbpath = workdir / "rpmdb"
    for d in (buildroot, topdir, dbpath, rpmdir):
        d.mkdir(parents=True, exist_ok=True)
    stage(packages, buildroot)
    spec = workdir / f"{spec_name}.spec"
    spec.write_text(spec_text(spec_name, packages))
    cmd = [
        "rpmbuild", "-bb", "--quiet",
        "--dbpath", str(dbpath),
        "--buildroot", str(buildroot),
        "--noclean",
        "--define", f"_topdir {topdir}",
        "--define", f"_rpmdir {rpmdir}",
        "--define", "_rpmfilename %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
        "--define", "_binary_payload w3.zstdio",
        "--define", "_binary_filedigest_algorithm 8",
        "--define", "_buildhost testdistro",
        "--define", "_host_vendor redhat",
        "--define", "_vendor redhat",
        str(spec),
    ]
    foreign = sorted({p.arch for p in packages} - {"noarch", os.uname().machine})
    if foreign:  # another architecture's files (the aarch64 flavour): rpmbuild only packs them
        cmd[2:2] = ["--target", foreign[0]]
    env = dict(os.environ, LC_ALL="C", HOME=str(workdir))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"rpmbuild failed for {spec_name} (exit {proc.returncode}):\n{proc.stdout}")
    rpms = [rpmdir / p.rpm_filename for p in packages]
    missing = [str(r) for r in rpms if not r.exists()]
    if missing:
        raise RuntimeError(f"rpmbuild for {spec_name} did not write {missing}:\n{proc.stdout}")
    shutil.rmtree(buildroot, ignore_errors=True)
    return rpms


def build_all(specs: Sequence[tuple[str, Sequence[Package]]], workdir: Path, rpmdir: Path,
              jobs: int | None = None) -> list[Path]:
    """Build several specs in parallel (rpmbuild is single-threaded for small packages)."""
    jobs = jobs or max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(build_spec, name, pkgs, workdir / name, rpmdir) for name, pkgs in specs]
        rpms: list[Path] = []
        for fut in futures:
            rpms += fut.result()
    return rpms
