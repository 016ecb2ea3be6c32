"""Upstream's ``imgcreate.dnfinst.DnfLiveCD`` and ``imgcreate.kickstart`` ``*Config`` classes on a real root.

One root is installed from the test distribution with DnfLiveCD, driven as upstream's ``ImageCreator.install()``
drives it (module-scoped: the install is the expensive part).  Two copies of it are then configured from one
kickstart: one by the ``*Config`` classes, called as upstream's ``configure()`` calls them, one by the build's
own entry points (:func:`imgcreate.configure.apply_before_post` and ``apply_after_post``).  The two trees must be
the same, file for file, link for link: one code path serves both.  The files themselves are checked too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from pykickstart.constants import GROUP_ALL

import imgcreate
from imgcreate import configure, kickstart
from imgcreate.dnfinst import DnfLiveCD
from imgcreate.errors import CreatorError, KickstartError
from imgcreate.packages import rpmdb
from tests.support import password_matches

pytestmark = pytest.mark.root

# A fixed hash (of "upstream"), so the two trees can be compared byte for byte.
HASH = "$6$imgcreate$3AJuIvzi6MpKNSs7jvnjegtRXIwMIOe9oCg2aVYs3y50WYK9863kY2h9sDxb/1YB/rSCKuZ9NBemw2buftyz9/"

KICKSTART = f"""\
lang de_DE.UTF-8
keyboard --vckeymap=de-nodeadkeys --xlayouts='de (nodeadkeys)','us'
timezone Europe/Berlin --utc
rootpw --iscrypted {HASH}
network --hostname=upstream.example.com
network --device=eth0 --bootproto=static --ip=10.0.2.15 --netmask=255.255.255.0 --gateway=10.0.2.2 --nameserver=10.0.2.3
selinux --permissive
firewall --enabled --service=ssh --port=8080:tcp
authselect select sssd with-mkhomedir
services --enabled=demo --disabled=demo-off
xconfig --startxonboot --defaultdesktop=GNOME

%packages --excludedocs --inst-langs=de
demo-app
%end
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, testrepo: Path) -> Path:
    """A root installed by DnfLiveCD as upstream's install() does: groups, a package, an exclusion."""
    tmp = tmp_path_factory.mktemp("dnflivecd")
    root = tmp / "root"
    root.mkdir()
    conf = tmp / "dnf.conf"
    with DnfLiveCD(releasever="9") as dbo:
        assert (dbo.releasever, dbo.useplugins, dbo.pkgverify_level) == ("9", False, None)
        dbo.setup(str(conf), str(root))
        repo = dbo.addRepository("testdistro", f"file://{testrepo}")
        assert repo.id == "testdistro"
        dbo.fill_sack(load_system_repo=False)
        dbo.read_comps()
        for group in ("core", "admin-tools", "services"):
            dbo.selectGroup(group, [])
        dbo.selectGroup("base", ["docs-demo"], GROUP_ALL)  # its optional docs-demo: excluded
        dbo.deselectPackage("demo-extras")  # demo-app's weak dependency, which is installed otherwise
        dbo.selectPackage("demo-app")
        assert dbo.runInstall() is True
    assert conf.read_text().startswith("[main]\ninstallroot=" + str(root))
    assert not [p for p in tmp.iterdir() if p.name.startswith("dnflivecd-")], "close() removes its folder"
    return root


def test_dnflivecd_installs_into_the_root(installed: Path) -> None:
    names = {n.name for n in rpmdb.installed(installed)}
    assert {"filesystem", "busybox", "firewalld", "authselect", "demo-service", "demo-app"} <= names
    assert "docs-demo" not in names, "a group's package in selectGroup's exclude list is not installed"
    assert "demo-extras" not in names, "deselectPackage excludes a package"
    assert (installed / "var/cache/dnf").is_dir(), "dnf's cache is under the root, as upstream's"


def test_dnflivecd_marking_errors_and_weak_deps(testrepo: Path, tmp_path: Path) -> None:
    import dnf.exceptions

    root = tmp_path / "root"
    root.mkdir()
    with DnfLiveCD() as dbo:
        dbo.setup(str(tmp_path / "dnf.conf"), str(root), excludeWeakdeps=True)
        dbo.addRepository("testdistro", f"file://{testrepo}")
        dbo.fill_sack(load_system_repo=False)
        dbo.read_comps()
        with pytest.raises(dnf.exceptions.MarkingError):
            dbo.selectPackage("no-such-package")
        with pytest.raises(dnf.exceptions.MarkingError):
            dbo.selectGroup("no-such-group", [])
        dbo.selectPackage("demo-app")
        assert dbo.runInstall() is True
    names = {n.name for n in rpmdb.installed(root)}
    assert "demo-app" in names and "demo-extras" not in names, "excludeWeakdeps leaves out demo-extras"


def _copy(src: Path, dest: Path) -> Path:
    subprocess.run(["cp", "-a", str(src), str(dest)], check=True)
    return dest


def _tree(root: Path) -> dict[str, str]:
    """Every path in the root with what it is: a link's target, a file's mode and bytes, a folder's mode."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if rel.startswith("var/cache/dnf") or rel.startswith("var/lib/rpm"):
            continue
        st = path.lstat()
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif rel == "var/log/standin-calls.log":  # the image's programs run: the same calls, in each one's order
            out[rel] = f"{st.st_mode:o} {sorted(path.read_text().splitlines())}"
        elif path.is_file():
            out[rel] = f"{st.st_mode:o} {path.read_bytes()!r}"
        else:
            out[rel] = f"{st.st_mode:o}"
    return out


@pytest.fixture(scope="module")
def configured(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The installed root configured twice from KICKSTART: by upstream's *Config classes and by the build."""
    tmp = tmp_path_factory.mktemp("configured")
    ksfile = tmp / "upstream.ks"
    ksfile.write_text(KICKSTART)
    ks = imgcreate.read_kickstart(str(ksfile))

    upstream = _copy(installed, tmp / "upstream")
    instroot = str(upstream)  # upstream's creators pass a str
    ksh = ks.handler
    kickstart.LanguageConfig(instroot).apply(ksh.lang)
    kickstart.KeyboardConfig(instroot).apply(ksh.keyboard)
    kickstart.TimezoneConfig(instroot).apply(ksh.timezone)
    kickstart.AuthSelect(instroot).apply(ksh.authselect)
    kickstart.FirewallConfig(instroot).apply(ksh.firewall)
    kickstart.RootPasswordConfig(instroot).apply(ksh.rootpw)
    kickstart.ServicesConfig(instroot).apply(ksh.services)
    kickstart.XConfig(instroot).apply(ksh.xconfig)
    kickstart.NetworkConfig(instroot).apply(ksh.network)
    kickstart.RPMMacroConfig(instroot).apply(ks)
    kickstart.SelinuxConfig(instroot).apply(ksh.selinux)

    build = _copy(installed, tmp / "build")
    cfg = kickstart.read_config(ks)
    configure.apply_before_post(build, cfg)
    configure.apply_after_post(build, cfg)
    return upstream, build


def test_config_classes_write_what_the_build_writes(configured: tuple[Path, Path]) -> None:
    upstream, build = configured
    theirs, ours = _tree(upstream), _tree(build)
    assert sorted(set(theirs) ^ set(ours)) == []
    assert {k: (theirs[k], ours[k]) for k in theirs if theirs[k] != ours[k]} == {}


def test_config_classes_files(configured: tuple[Path, Path]) -> None:
    root = configured[0]
    assert (root / "etc/locale.conf").read_text() == 'LANG="de_DE.UTF-8"\n'
    assert 'KEYMAP="de-nodeadkeys"' in (root / "etc/vconsole.conf").read_text()
    assert '"XkbLayout" "de,us"' in (root / "etc/X11/xorg.conf.d/00-keyboard.conf").read_text()
    assert os.readlink(root / "etc/localtime") == "../usr/share/zoneinfo/Europe/Berlin"
    assert (root / "etc/adjtime").read_text().splitlines()[-1] == "UTC"
    shadow = {line.split(":")[0]: line.split(":")[1] for line in (root / "etc/shadow").read_text().splitlines()}
    assert shadow["root"] == HASH
    assert (root / "etc/hostname").read_text() == "upstream.example.com\n"
    keyfile = (root / "etc/NetworkManager/system-connections/eth0.nmconnection").read_text()
    assert "address1=10.0.2.15/24,10.0.2.2" in keyfile and "dns=10.0.2.3;" in keyfile
    assert "SELINUX=permissive" in (root / "etc/selinux/config").read_text().splitlines()
    wants = root / "etc/systemd/system/multi-user.target.wants"
    assert (wants / "demo.service").is_symlink() and not (wants / "demo-off.service").exists()
    assert os.readlink(root / "etc/systemd/system/default.target").endswith("/graphical.target")
    assert (root / "etc/sysconfig/desktop").read_text() == "DESKTOP=GNOME\n"
    macros = (root / "etc/rpm/macros.imgcreate").read_text()
    assert "%_excludedocs 1" in macros and "%_install_langs de" in macros
    calls = (root / "var/log/standin-calls.log").read_text()
    assert "firewall-offline-cmd --enabled --port=8080:tcp --service=ssh" in calls
    assert "authselect select sssd with-mkhomedir --force" in calls
    assert "setfiles" in calls, "SelinuxConfig.apply relabels with the image's setfiles"


def test_config_class_helpers(installed: Path, tmp_path: Path) -> None:
    root = _copy(installed, tmp_path / "root")
    cfg = kickstart.RootPasswordConfig(str(root))
    assert cfg.path("/etc/shadow") == f"{root}/etc/shadow"
    cfg.set_unencrypted("s3cret")
    hashed = next(line.split(":")[1] for line in (root / "etc/shadow").read_text().splitlines()
                  if line.startswith("root:"))
    assert password_matches("s3cret", hashed)
    cfg.lock()
    assert next(line for line in (root / "etc/shadow").read_text().splitlines()
                if line.startswith("root:")).split(":")[1] == "!" + hashed

    assert cfg.call(["true"]) == 0 and cfg.call(["false"]) == 1  # busybox's, inside the image
    with pytest.raises(KickstartError, match="no-such-program"):
        cfg.call(["no-such-program"])

    selinux = kickstart.SelinuxConfig(root)  # a Path is accepted, kept as str
    assert selinux.instroot == str(root)
    with pytest.raises(CreatorError, match="binary policy"):
        selinux.find_policy_file("targeted")
    policy = root / "etc/selinux/targeted/policy"
    policy.mkdir(parents=True)
    (policy / "policy.33").write_bytes(b"")
    assert selinux.find_policy_file("targeted") == "/etc/selinux/targeted/policy/policy.33"


def test_unused_commands_change_nothing(installed: Path, tmp_path: Path) -> None:
    """A command the kickstart does not use writes nothing through its class, as the build writes nothing."""
    ksfile = tmp_path / "empty.ks"
    ksfile.write_text("%packages\ndemo-app\n%end\n")
    ksh = imgcreate.read_kickstart(str(ksfile)).handler
    root = _copy(installed, tmp_path / "root")
    before = _tree(root)
    instroot = str(root)
    for cls, cmd in ((kickstart.LanguageConfig, ksh.lang), (kickstart.KeyboardConfig, ksh.keyboard),
                     (kickstart.TimezoneConfig, ksh.timezone), (kickstart.FirewallConfig, ksh.firewall),
                     (kickstart.RootPasswordConfig, ksh.rootpw), (kickstart.XConfig, ksh.xconfig),
                     (kickstart.NetworkConfig, ksh.network), (kickstart.ServicesConfig, ksh.services),
                     (kickstart.AuthSelect, ksh.authselect)):
        cls(instroot).apply(cmd)
    assert _tree(root) == before
    shutil.rmtree(root)
