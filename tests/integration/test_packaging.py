"""The RPMs, as a distribution and Koji's builders get them: built with rpmbuild from an sdist
(packaging/livecd-tools.spec), their file lists and requirements, and the installed files run the way Koji's
builder runs them.

The RPMs are unpacked into a scratch root (rpm2cpio | cpio: this Debian host has no rpm database to install into)
and every command runs from there, with PYTHONPATH naming the unpacked site-packages, never the checkout: each run
checks that imgcreate came from the scratch root.  The interpreter is this venv's (made with --system-site-packages):
it stands in for the distribution's python3 with python3-kickstart, python3-dnf and python3-rpm.

Koji's calls are replayed as koji's builder/kojid makes them, read from the newest kojid stored in the code
corpus: the bella485/koji fork of koji at commit 014d1b621c88296c4bc5f6542a5f24a6482b3e30 (a current koji:
python 3, mock bootstrap images; koji-project/koji's stored kojid, 3bb2e4d0, is a 2010 one).  ImageTask
(``makeImgBuildRoot``, ``prepareKickstart``, ``getImagePackages``, ``_shortenVolID``), LiveCDTask.handler and
ApplianceTask.handler:

* the kickstart is parsed with pykickstart, its repositories replaced by one named ``koji-<build tag>-<repo id>``
  (the build tag's repository; here the test distribution over HTTP) and written back with ``str(handler)`` to
  ``/tmp/koji-image-<build tag>-<task id>.ks`` in the buildroot;
* the command runs as ``mock --cwd /tmp --chroot -- CMD``: in the buildroot's /tmp, with mock's environment
  (config_opts['environment']: TERM=vt100, SHELL, HOME=/builddir, HOSTNAME=mock, PATH=/usr/bin:/bin:/usr/sbin:
  /sbin, PROMPT_COMMAND, PS1, LANG=C.UTF-8), no terminal (mock's output goes to mock_output.log);
* livecd-creator: ``-c KS -d -v --logfile /tmp/livecd.log --cache /tmp/koji-livecd -f VOLID`` (nothing else:
  no --title, --product or --releasever), VOLID the opts' volid or ``_shortenVolID(name, version, release)``
  (pungi's substitutions, longest first, in all three, cut to 32); kojid then takes the one ``*.iso`` in /tmp
  (more than one is an error) and uploads it as NAME-VERSION-RELEASE.iso;
* appliance-creator: ``-c KS -d -v --logfile /tmp/appliance.log --cache /tmp/koji-appliance -o app-output``,
  then ``--vmem``, ``--vcpu``, ``--format`` when the task has them, ``--name NAME-VERSION-RELEASE --version
  VERSION --release RELEASE``; kojid makes /tmp/app-output first, then uploads every file os.walk finds under it
  (subfolders too: appliance-creator puts them in app-output/<name>/, as upstream's ``-p none``), each under its
  base name, and fails only when there is none;
* the log (livecd.log, appliance.log) is uploaded whatever the exit status; for a non-scratch build the image's
  package list is read from every ``*.rpm`` under the cache folder (none: "No repos found in yum cache!").

Here a clean folder stands for the buildroot's /tmp.  PYTHONPATH (the unpacked site-packages) is the one
variable added to mock's environment: the buildroot would have the files in its own /usr.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from imgcreate.host.run import TOOL_PACKAGES
from imgcreate.version import __version__
from tests import isoinspect
from tests.kickstarts import DISK, LIVE
from tests.support import REPO_ROOT, TOOL_TIMEOUT, RepoServer

pytestmark = pytest.mark.root

LIVE_COMMANDS = ("livecd-creator", "image-creator", "livecd-iso-to-disk", "livecd-iso-to-pxeboot", "editliveos",
                 "liveimage-mount", "mkbiarch")
SPEC = "packaging/livecd-tools.spec"
# Tools a build never runs (the boot test's QEMU is a developer's check, not a user's dependency).
NOT_REQUIRED = {"qemu-system-x86", "qemu-system-aarch64"}  # --boot-test only, named when it is asked for


@dataclass
class Installed:
    """The three RPMs and the scratch root they are unpacked into."""

    rpms: dict[str, Path]  # package name -> .rpm
    root: Path
    sitelib: Path

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.sitelib), **(extra or {})}

    def run(self, command: str, *args: str, cwd: Path, check: bool = True,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run an installed command (its script in usr/bin) with the installed library; *env*: the whole
        environment (PYTHONPATH added), else this process's."""
        environ = {**env, "PYTHONPATH": str(self.sitelib)} if env is not None else self.env()
        proc = subprocess.run([sys.executable, str(self.root / "usr/bin" / command), *args], cwd=cwd,
                              env=environ, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                              timeout=TOOL_TIMEOUT)
        if check and proc.returncode != 0:
            raise AssertionError(f"{command} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        return proc


def rpmq(rpm: Path, *query: str) -> list[str]:
    out = subprocess.run(["rpm", "-qp", *query, str(rpm)], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line]


def build_sdist(outdir: Path) -> Path:
    """What `python -m build --sdist` makes, with setuptools' backend directly (no isolation: no download)."""
    code = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    out = subprocess.run([sys.executable, "-c", code, str(outdir)], cwd=REPO_ROOT, capture_output=True, text=True,
                         check=True).stdout
    return outdir / out.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """rpmbuild -bb with the spec the sdist carries, then the RPMs unpacked into a scratch root."""
    tmp = tmp_path_factory.mktemp("rpm")
    sdist = build_sdist(tmp)
    top = tmp / "rpmbuild"
    (top / "SOURCES").mkdir(parents=True)
    (top / "SOURCES" / sdist.name).write_bytes(sdist.read_bytes())
    srcname = sdist.name[: -len(f"-{__version__}.tar.gz")]
    with tarfile.open(sdist) as tar:
        member = tar.getmember(f"{srcname}-{__version__}/{SPEC}")
        spec = tmp / "livecd-tools.spec"
        spec.write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
    # --nodeps: Debian's rpm database is empty, so no BuildRequires could be found in it.
    proc = subprocess.run(["rpmbuild", "-bb", "--nodeps", "--define", f"_topdir {top}", "--define",
                           f"srcname {srcname}", str(spec)], capture_output=True, text=True, errors="replace")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rpms = {rpmq(path, "--qf", "%{NAME}")[0]: path for path in (top / "RPMS" / "noarch").glob("*.rpm")}
    root = tmp / "root"
    root.mkdir()
    for rpm in rpms.values():
        subprocess.run(f"rpm2cpio '{rpm}' | cpio -idm --quiet", shell=True, cwd=root, check=True)
    sitelib = next(root.glob("usr/lib/python3*/site-packages"))
    return Installed(rpms, root, sitelib)


def test_packages_and_versions_sort_after_fedoras(installed: Installed) -> None:
    """Three noarch packages at Epoch 1 and the library's version, each newer than Fedora's livecd-tools 1:31.0;
    the appliance package obsoletes and provides appliance-tools (Koji's appliance-build group installs that)."""
    import rpm

    assert set(installed.rpms) == {"livecd-tools", "python3-imgcreate", "livecd-tools-appliance"}
    for name, path in installed.rpms.items():
        epoch, version, release, arch = rpmq(path, "--qf", "%{EPOCH} %{VERSION} %{RELEASE} %{ARCH}")[0].split()
        assert (epoch, version, arch) == ("1", __version__, "noarch"), name
        assert rpm.labelCompare((epoch, version, release), ("1", "31.0", "99.fc42")) > 0, name
    appliance = installed.rpms["livecd-tools-appliance"]
    obsoletes = rpmq(appliance, "--obsoletes")
    assert obsoletes == [f"appliance-tools < 1:{__version__}-1"], obsoletes
    assert rpm.labelCompare(("0", "011.2", "99.fc42"), ("1", __version__, "1")) < 0, "obsoletes appliance-tools 011"
    assert any(p.startswith("appliance-tools = 1:") for p in rpmq(appliance, "--provides"))


def test_file_lists(installed: Installed) -> None:
    """Each command and its man page in the package that owns it; the library alone in python3-imgcreate; the test
    distribution nowhere."""
    files = {name: set(rpmq(path, "-l")) for name, path in installed.rpms.items()}
    bins = {name: {f for f in fs if f.startswith("/usr/bin/")} for name, fs in files.items()}
    assert bins["livecd-tools"] == {f"/usr/bin/{c}" for c in LIVE_COMMANDS}
    assert bins["livecd-tools-appliance"] == {"/usr/bin/appliance-creator"}
    assert bins["python3-imgcreate"] == set()
    mans = {name: {f for f in fs if "/man/" in f} for name, fs in files.items()}
    assert mans["livecd-tools"] == {f"/usr/share/man/man8/{c}.8" for c in LIVE_COMMANDS}
    assert mans["livecd-tools-appliance"] == {"/usr/share/man/man8/appliance-creator.8"}
    lib = files["python3-imgcreate"]
    site = "/" + str(installed.sitelib.relative_to(installed.root))
    assert f"{site}/imgcreate/__init__.py" in lib and f"{site}/imgcreate/cli/creators.py" in lib
    assert all(f.startswith((site, "/usr/share/licenses/")) for f in lib), lib
    every = set().union(*files.values())
    assert not [f for f in every if "testdistro" in f], "the test distribution is not installed"
    assert all(any(f.endswith("/LICENSE") for f in fs) for fs in files.values()), "each package carries the licence"


def test_requirements_name_every_tool_a_command_runs(installed: Installed) -> None:
    """What the packages require (or recommend, for the optional paths) covers each Fedora package that a
    MissingToolError names (imgcreate/host/run.py's TOOL_PACKAGES), and the distribution's Python bindings."""
    requires = {name: {r.split()[0] for r in rpmq(path, "-R")} for name, path in installed.rpms.items()}
    recommends = {name: {r.split()[0] for r in rpmq(path, "--recommends")} for name, path in installed.rpms.items()}
    assert {"python3-dnf", "python3-libdnf", "python3-rpm", "python3-kickstart", "python3-pyparted", "util-linux",
            "e2fsprogs", "coreutils", "systemd"} <= requires["python3-imgcreate"]
    assert {"python3-imgcreate", "squashfs-tools", "xorriso", "isomd5sum", "dosfstools", "mtools",
            "grub2-tools"} <= requires["livecd-tools"]
    assert {"python3-imgcreate", "python3-pyparted", "qemu-img", "grub2-tools"} <= requires["livecd-tools-appliance"]
    named = {fedora.split()[0] for fedora, _debian in TOOL_PACKAGES.values()} - NOT_REQUIRED
    offered = set().union(*requires.values(), *recommends.values())
    assert named <= offered, f"no package requires or recommends {sorted(named - offered)}"


def test_installed_commands_and_man_pages(installed: Installed, tmp_path: Path) -> None:
    """Every command's --help runs from the unpacked files with the unpacked library, and its man page is there."""
    found = subprocess.run([sys.executable, "-c", "import imgcreate; print(imgcreate.__file__)"], env=installed.env(),
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(found).is_relative_to(installed.root), f"imgcreate came from {found}, not the installed files"
    for command in (*LIVE_COMMANDS, "appliance-creator"):
        script = installed.root / "usr/bin" / command
        assert script.read_text().startswith("#!/usr/bin/python3"), command
        proc = installed.run(command, "--help", cwd=tmp_path)
        assert proc.stdout.startswith(f"usage: {command}"), proc.stdout[:200]
        page = (installed.root / f"usr/share/man/man8/{command}.8").read_text()
        title = command.upper().replace("-", "\\-")
        assert page.startswith(f'.TH {title} "8"') and __version__ in page.splitlines()[0], page[:200]


# mock's config_opts['environment']: what a command run with ``mock --chroot`` gets, and nothing else.
MOCK_ENV = {"TERM": "vt100", "SHELL": "/bin/bash", "HOME": "/builddir", "HOSTNAME": "mock",
            "PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "PROMPT_COMMAND": r'printf "\033]0;<mock-chroot>\007"',
            "PS1": r"<mock-chroot> \s-\v\$ ", "LANG": "C.UTF-8"}
# kojid's ImageTask._shortenVolID substitutions (duplicated there from pungi-fedora's fedora.conf).
VOLID_SUBSTITUTIONS = {
    "Beta": "B", "Rawhide": "rawh", "Astronomy_KDE": "AstK", "Atomic": "AH", "Cinnamon": "Cinn", "Cloud": "C",
    "Design_suite": "Dsgn", "Electronic_Lab": "Elec", "Everything": "E", "Games": "Game", "Images": "img",
    "Jam_KDE": "Jam", "MATE_Compiz": "MATE", "Python-Classroom": "Clss", "Python_Classroom": "Clss",
    "Robotics": "Robo", "Scientific_KDE": "SciK", "Security": "Sec", "Server": "S", "Workstation": "WS",
    "WorkstationOstree": "WS",
}
BUILD_TAG, REPO_ID = "f44-build", 4200


def koji_volid(name: str, version: str, release: str) -> str:
    """kojid's _shortenVolID: the -f it passes: each substitution (longest key first) in the name, the version
    and the release, joined with "-" and cut to 32 characters."""
    for long, short in sorted(VOLID_SUBSTITUTIONS.items(), key=lambda kv: len(kv[0]), reverse=True):
        name, version, release = (v.replace(long, short) for v in (name, version, release))
    return f"{name}-{version}-{release}"[:32]


def koji_kickstart(template: str, testrepo: Path, server: RepoServer, chroot_tmp: Path, task_id: int) -> Path:
    """kojid's readKickstart and prepareKickstart: parsed with pykickstart (its newest syntax), the repositories
    replaced by the build tag's one, ``koji-<tag>-<repo id>`` (here the test distribution over HTTP: downloaded,
    so the RPMs stay in --cache where kojid lists them), written back with ``str(handler)``."""
    from pykickstart.handlers.control import dataMap
    from pykickstart.parser import KickstartParser
    from pykickstart.version import makeVersion

    original = chroot_tmp / "original.ks"
    original.write_text(template.format(repo=testrepo))
    parser = KickstartParser(makeVersion())
    parser.readKickstart(str(original))
    repo_class = dataMap[parser.version]["RepoData"]
    parser.handler.repo.repoList = [repo_class(baseurl=server.url, name=f"koji-{BUILD_TAG}-{REPO_ID}")]
    kskoji = chroot_tmp / f"koji-image-{BUILD_TAG}-{task_id}.ks"
    kskoji.write_text(str(parser.handler))
    return kskoji


def cached_rpms(cachedir: Path) -> list[Path]:
    """What kojid's getImagePackages reads for a non-scratch build: every *.rpm os.walk finds under the cache."""
    return sorted(cachedir.rglob("*.rpm"))


def test_koji_livecd_task(installed: Installed, tmp_path: Path, testrepo: Path, repo_server: RepoServer) -> None:
    """LiveCDTask's livecd-creator call, from the installed files: the one .iso in the folder it runs in, labelled
    with the shortened volume id, the log it uploads, and the packages it lists from the cache."""
    chroot_tmp = tmp_path / "tmp"  # the buildroot's /tmp, where kojid runs livecd-creator
    chroot_tmp.mkdir()
    name, version, release = "Fedora-Workstation-Live-x86_64", "Rawhide", "20261203.n.0"
    kskoji = koji_kickstart(LIVE, testrepo, repo_server, chroot_tmp, 4242)
    volid = koji_volid(name, version, release)
    assert volid == "Fedora-WS-Live-x86_64-rawh-20261", volid
    livecd_log, cachedir = chroot_tmp / "livecd.log", chroot_tmp / "koji-livecd"
    installed.run("livecd-creator", "-c", str(kskoji), "-d", "-v", "--logfile", str(livecd_log),
                  "--cache", str(cachedir), "-f", volid, cwd=chroot_tmp, env=MOCK_ENV)
    # kojid: the one *.iso in the folder the command ran in ("multiple .iso files found" otherwise).
    isos = [p.name for p in chroot_tmp.iterdir() if p.name.endswith(".iso")]
    assert isos == [f"{volid}.iso"], isos
    assert isoinspect.volume_id(chroot_tmp / isos[0]) == volid
    log = livecd_log.read_text()
    assert "DEBUG" in log and f"{volid}.iso" in log, "the log kojid uploads has the -d detail of this build"
    assert cached_rpms(cachedir), "kojid lists the image's packages from the cache's RPMs"


@pytest.mark.slow
def test_koji_appliance_task(installed: Installed, tmp_path: Path, testrepo: Path, repo_server: RepoServer) -> None:
    """ApplianceTask's appliance-creator call, from the installed files: under -o app-output exactly the disk
    image and its .xml (kojid uploads every file there as one of the build's), the log it uploads, the packages in
    the cache."""
    chroot_tmp = tmp_path / "tmp"
    odir = chroot_tmp / "app-output"
    odir.mkdir(parents=True)  # kojid makes it before the call
    name, version, release = "Fedora-Cloud-Base", "44", "20261203.0"
    kskoji = koji_kickstart(DISK, testrepo, repo_server, chroot_tmp, 4243)
    app_log, cachedir = chroot_tmp / "appliance.log", chroot_tmp / "koji-appliance"
    appname = f"{name}-{version}-{release}"
    installed.run("appliance-creator", "-c", str(kskoji), "-d", "-v", "--logfile", str(app_log),
                  "--cache", str(cachedir), "-o", "app-output", "--vmem", "1024", "--vcpu", "1", "--format", "raw",
                  "--name", appname, "--version", version, "--release", release, cwd=chroot_tmp, env=MOCK_ENV)
    # kojid walks -o (os.walk) for the files: upstream's -p none puts them in app-output/<name>/.
    results = sorted(str(p.relative_to(odir)) for p in odir.rglob("*") if p.is_file())
    images = [r for r in results if r.startswith(f"{appname}/{appname}-sda.raw")]  # .raw.xz, as upstream
    xmls = [r for r in results if r.endswith(".xml")]
    assert len(images) == 1 and xmls == [f"{appname}/{appname}.xml"], results
    assert (odir / images[0]).stat().st_size > 0
    assert f"<name version='{version}' release='{release}'>{appname}</name>" in (odir / xmls[0]).read_text()
    assert "DEBUG" in app_log.read_text()
    assert cached_rpms(cachedir), "kojid lists the image's packages from the cache's RPMs"
    # kojid uploads every file it finds there as a file of the build: nothing but the disk and its .xml.
    assert results == sorted([images[0], xmls[0]]), results


@pytest.mark.slow
def test_pip_install_gives_every_command_and_man_page(tmp_path: Path) -> None:
    """`pip install .` in a fresh venv made with --system-site-packages (for the distribution's dnf and rpm), as
    README.md says: every command runs from the venv with the venv's library, its man page in share/man/man8,
    pykickstart pulled in, and no test distribution."""
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)], check=True)
    proc = subprocess.run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check", str(REPO_ROOT)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    python = str(venv / "bin/python")
    where = subprocess.run([python, "-c", "import imgcreate, pykickstart; print(imgcreate.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    assert subprocess.run([python, "-c", "import testdistro"], cwd=tmp_path, capture_output=True).returncode != 0
    for command in (*LIVE_COMMANDS, "appliance-creator"):
        out = subprocess.run([str(venv / "bin" / command), "--help"], cwd=tmp_path, capture_output=True, text=True,
                             check=True).stdout
        assert out.startswith(f"usage: {command}"), out[:200]
        assert (venv / "share/man/man8" / f"{command}.8").read_text().startswith(".TH ")
