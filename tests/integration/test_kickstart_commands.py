"""Kickstart commands take effect in real images built from the test distribution with the real tools.

One image is built from config/test-all-commands.ks (every command at once) and each command has its own
test looking at that image.  Variants that cannot share it (other modes, failures, old syntax) build small
images of their own.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from imgcreate.storage import rootfs
from tests.support import (
    REPO_ROOT,
    Built,
    MakeKs,
    MountedImage,
    MountImage,
    RepoServer,
    assert_failed,
    image_creator,
    password_matches,
    run_tool,
)

pytestmark = pytest.mark.root

CONFIG = REPO_ROOT / "config"

# demo:2 is a non-default stream of demo-app (hidden unless enabled); legacy:1 is the default stream of
# post-demo (available unless the module is disabled).  Both require platform:el9, as every EL stream does:
# the install root has no os-release to say so before the first package is in.
MODULES_YAML = """\
---
document: modulemd
version: 2
data:
  name: demo
  stream: "2"
  version: 20260101000000
  context: c0ffee42
  arch: noarch
  summary: Demo application, stream 2
  description: The demo application as a module stream.
  license:
    module: [MIT]
  dependencies:
  - requires:
      platform: [el9]
  artifacts:
    rpms:
    - demo-app-0:1.0-1.noarch
...
---
document: modulemd
version: 2
data:
  name: legacy
  stream: "1"
  version: 20260101000000
  context: c0ffee42
  arch: noarch
  summary: A default stream to disable
  description: post-demo as a module stream.
  license:
    module: [MIT]
  dependencies:
  - requires:
      platform: [el9]
  artifacts:
    rpms:
    - post-demo-0:1.0-1.noarch
...
---
document: modulemd-defaults
version: 1
data:
  module: legacy
  stream: "1"
...
"""


def entries(img: MountedImage, name: str) -> dict[str, list[str]]:
    return {line.split(":")[0]: line.split(":") for line in (img / f"etc/{name}").read_text().splitlines()}


def assert_unit_link(img: MountedImage, link: Path) -> None:
    """An enablement link points at the unit inside the image (/usr/lib/... or, via the /lib link, /lib/...)."""
    target = os.readlink(link)
    assert target in (f"/usr/lib/systemd/system/{link.name}", f"/lib/systemd/system/{link.name}"), target
    assert rootfs.resolve_in_root(img.path, target).is_file()


def standin_calls(img: MountedImage) -> list[str]:
    return (img / "var/log/standin-calls.log").read_text().splitlines()


@pytest.fixture(scope="module")
def modular_repo(testrepo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with modules metadata over two of the test distribution's packages."""
    repo = tmp_path_factory.mktemp("modular")
    (repo / "Packages").mkdir()
    for rpm in ("demo-app-1.0-1.noarch.rpm", "post-demo-1.0-1.noarch.rpm"):
        shutil.copy(testrepo / "Packages" / rpm, repo / "Packages" / rpm)
    (repo / "modules.yaml").write_text(MODULES_YAML)
    subprocess.run(["createrepo_c", "-q", str(repo)], check=True)
    subprocess.run(["modifyrepo_c", "--mdtype=modules", str(repo / "modules.yaml"), str(repo / "repodata")],
                   check=True, capture_output=True)
    return repo


@pytest.fixture(scope="module")
def all_commands(testrepo: Path, modular_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """config/test-all-commands.ks built as it is, its repositories given as dnf variables."""
    tmp = tmp_path_factory.mktemp("allcmds")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DNF_VAR_testrepo", str(testrepo))
        mp.setenv("DNF_VAR_modularrepo", str(modular_repo))
        # no -f/-n: the label is the kickstart's part / --label, the name upstream's default
        return image_creator(CONFIG / "test-all-commands.ks", tmp)


@pytest.fixture
def img(all_commands: Built, mount_image: MountImage) -> MountedImage:
    return mount_image(all_commands.image)


# ---- the kickstart with every command ---------------------------------------------------------------------


def test_all_commands_kickstart_builds(all_commands: Built) -> None:
    assert all_commands.image.exists()
    assert "Traceback" not in all_commands.proc.stderr
    assert "%onerror" not in all_commands.proc.stderr, "%onerror runs only when a build fails"
    # only what the test distribution really lacks is warned about
    assert len(all_commands.warnings) == 2, all_commands.warnings
    assert "tzdata" in all_commands.warnings[0] and "graphical.target" in all_commands.warnings[1]


def test_lang(img: MountedImage) -> None:
    assert (img / "etc/locale.conf").read_text() == 'LANG="de_DE.UTF-8"\n'


def test_keyboard(img: MountedImage) -> None:
    assert (img / "etc/vconsole.conf").read_text() == 'KEYMAP="de-nodeadkeys"\n'
    x11 = (img / "etc/X11/xorg.conf.d/00-keyboard.conf").read_text()
    assert 'Option "XkbLayout" "de,us"' in x11 and 'Option "XkbVariant" "nodeadkeys,"' in x11
    assert 'Option "XkbOptions" "grp:alt_shift_toggle"' in x11


def test_timezone(img: MountedImage) -> None:
    assert os.readlink(img / "etc/localtime") == "../usr/share/zoneinfo/Europe/Berlin"
    assert (img / "etc/adjtime").read_text().splitlines()[2] == "UTC"


def test_rootpw(img: MountedImage) -> None:
    root = entries(img, "shadow")["root"]
    assert root[1].startswith("$6$") and password_matches("r00t pass", root[1])
    assert entries(img, "passwd")["root"][1] == "x"


def test_user(img: MountedImage) -> None:
    assert entries(img, "passwd")["alice"] == [
        "alice", "x", "1500", "1500", "Alice Example", "/home/alice-home", "/bin/sh"]
    shadow = entries(img, "shadow")
    assert password_matches("alice-pw", shadow["alice"][1])
    assert shadow["bob"][1].startswith("$6$saltsalt$"), "--iscrypted is stored as given"
    assert password_matches("bob-pw", shadow["bob"][1])
    groups = entries(img, "group")
    assert groups["alice"][2] == "1500"
    for g in ("wheel", "admins", "devs"):
        assert "alice" in groups[g][3].split(","), g
    home = (img / "home/alice-home").stat()
    assert (home.st_uid, home.st_gid, stat.S_IMODE(home.st_mode)) == (1500, 1500, 0o700)
    bob = entries(img, "passwd")["bob"]
    assert bob[5] == "/home/bob" and (img / "home/bob").stat().st_uid == int(bob[2])
    assert stat.S_IMODE((img / "etc/shadow").stat().st_mode) == 0, "shadow keeps its mode"


def test_group(img: MountedImage) -> None:
    groups = entries(img, "group")
    assert groups["admins"][:3] == ["admins", "x", "2000"]
    assert "devs" in groups, "a missing --groups group is created"
    assert entries(img, "gshadow")["admins"][0] == "admins"


def test_sshkey(img: MountedImage) -> None:
    keys = img / "home/alice-home/.ssh/authorized_keys"
    assert keys.read_text() == "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtest alice@example.com\n"
    st = keys.stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (1500, 0o600)
    assert stat.S_IMODE(keys.parent.stat().st_mode) == 0o700


def test_services(img: MountedImage) -> None:
    wants = img / "etc/systemd/system/multi-user.target.wants"
    assert_unit_link(img, wants / "demo.service")
    assert not os.path.lexists(wants / "demo-off.service"), "shipped enabled, disabled by the kickstart"


def test_xconfig(img: MountedImage) -> None:
    assert os.readlink(img / "etc/systemd/system/default.target") == "/usr/lib/systemd/system/graphical.target"
    assert (img / "etc/sysconfig/desktop").read_text() == "DESKTOP=GNOME\n"


def test_network(img: MountedImage) -> None:
    assert (img / "etc/hostname").read_text() == "allcmds.example.com\n"
    conns = img / "etc/NetworkManager/system-connections"
    assert sorted(p.name for p in conns.iterdir()) == ["ens4.nmconnection", "eth0.nmconnection"]
    eth0 = (conns / "eth0.nmconnection").read_text()
    for line in ("id=eth0", "type=ethernet", "interface-name=eth0", "autoconnect=true", "method=manual",
                 "address1=10.0.2.15/24,10.0.2.2", "dns=10.0.2.3;1.1.1.1;"):
        assert line in eth0.splitlines(), line
    ens4 = (conns / "ens4.nmconnection").read_text()
    assert "autoconnect=false" in ens4 and "[ipv4]\nmethod=auto" in ens4
    for p in conns.iterdir():
        st = p.stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o600)
    assert not (img / "etc/sysconfig/network-scripts").exists()


def test_selinux(img: MountedImage) -> None:
    assert "SELINUX=permissive" in (img / "etc/selinux/config").read_text().splitlines()
    calls = standin_calls(img)
    relabel = ("/usr/sbin/setfiles -F -e /proc -e /sys -e /dev "
               "/etc/selinux/targeted/contexts/files/file_contexts /")
    assert relabel in calls, calls
    assert calls.index(relabel) > calls.index("%post ran"), "the relabel comes after %post"


def test_firewall(img: MountedImage) -> None:
    assert ("/usr/bin/firewall-offline-cmd --enabled --trust=eth1 --port=8080:tcp --remove-service=cockpit "
            "--service=ssh --service=mdns") in standin_calls(img)


def test_authselect(img: MountedImage) -> None:
    assert "/usr/bin/authselect select sssd with-mkhomedir --force" in standin_calls(img)


def test_bootloader(img: MountedImage) -> None:
    grub = (img / "etc/default/grub").read_text().splitlines()
    assert "GRUB_TIMEOUT=7" in grub and 'GRUB_CMDLINE_LINUX="quiet audit=0"' in grub


def test_part(all_commands: Built, img: MountedImage) -> None:
    assert all_commands.image.stat().st_size == 400 * 1024 * 1024
    blkid = subprocess.run(["blkid", "-o", "export", str(all_commands.image)], capture_output=True,
                           text=True).stdout
    assert "TYPE=ext3" in blkid and "LABEL=ALLCMDS" in blkid
    assert "LABEL=ALLCMDS  /  ext3" in (img / "etc/fstab").read_text()


def test_repo_and_url(img: MountedImage) -> None:
    rpms = img.rpms()
    assert {"firewalld", "demo-service", "busybox"} <= rpms, "from the url install tree"
    assert "demo-app" in rpms, "from the modular repo (its stream is enabled)"


def test_module(img: MountedImage) -> None:
    demo = (img / "etc/dnf/modules.d/demo.module").read_text().splitlines()
    assert "stream=2" in demo and "state=enabled" in demo
    assert "state=disabled" in (img / "etc/dnf/modules.d/legacy.module").read_text().splitlines()


def test_pre(img: MountedImage) -> None:
    assert (img / "etc/ks-pre").read_text() == "before install\n"


def test_post(img: MountedImage) -> None:
    assert (img / "etc/ks-post").read_text() == "post saw host allcmds.example.com\n", "after the config"


def test_include_relative(img: MountedImage) -> None:
    assert "alice" in entries(img, "passwd"), "the accounts come from the relatively included file"


def test_packages_options(img: MountedImage) -> None:
    assert (img / "usr/share/docs-demo/data").exists()
    assert not (img / "usr/share/doc/docs-demo/README").exists(), "--excludedocs"
    assert (img / "usr/share/locale/de/LC_MESSAGES/docs-demo.mo").exists(), "--inst-langs=de"
    assert not (img / "usr/share/locale/fr/LC_MESSAGES/docs-demo.mo").exists()
    assert "demo-extras" not in img.rpms(), "--excludeWeakdeps"


def test_installer_only_commands_are_accepted_quietly(all_commands: Built) -> None:
    for word in ("cdrom", "clearpart", "zerombr", "reboot", "firstboot", "eula"):
        assert word not in all_commands.proc.stderr


# ---- variants ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def variants(testrepo: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The other modes: SELinux disabled, firewall disabled, root locked, %packages --default, and a package
    that ships its configuration files as symlinks out of the root."""
    tmp = tmp_path_factory.mktemp("variants")
    for leftover in Path("/tmp").glob("hostile-target-*"):
        leftover.unlink()
    ks = tmp / "variants.ks"
    ks.write_text(
        f"repo --name=testdistro --baseurl=file://{testrepo}\n"
        "part / --size 400\n"
        "lang C.UTF-8\nkeyboard us\nnetwork --hostname=variants\nxconfig --defaultdesktop=KDE\n"
        "rootpw --iscrypted --lock $6$saltsalt$abc\n"
        "selinux --disabled\nfirewall --disabled\n"
        "%packages --default --instLangs=fr\n@admin-tools\nhostile-links\ndocs-demo\n%end\n"
    )
    return image_creator(ks, tmp, name="variants")


@pytest.fixture
def vimg(variants: Built, mount_image: MountImage) -> MountedImage:
    return mount_image(variants.image)


def test_selinux_disabled_skips_relabel(vimg: MountedImage) -> None:
    assert "SELINUX=disabled" in (vimg / "etc/selinux/config").read_text().splitlines()
    assert not [c for c in standin_calls(vimg) if "setfiles" in c]


def test_firewall_disabled(vimg: MountedImage) -> None:
    assert "/usr/bin/firewall-offline-cmd --disabled" in standin_calls(vimg)


def test_rootpw_lock(vimg: MountedImage) -> None:
    assert entries(vimg, "shadow")["root"][1] == "!$6$saltsalt$abc"


def test_packages_default_and_instlangs_spelling(vimg: MountedImage) -> None:
    rpms = vimg.rpms()
    assert {"kernel", "syslinux", "busybox"} <= rpms, "--default: the first environment (core + boot)"
    assert (vimg / "usr/share/locale/fr/LC_MESSAGES/docs-demo.mo").exists()
    assert not (vimg / "usr/share/locale/de/LC_MESSAGES/docs-demo.mo").exists(), "--instLangs=fr"


def test_links_shipped_by_packages_never_redirect_writes(variants: Built, vimg: MountedImage) -> None:
    assert not list(Path("/tmp").glob("hostile-target-*")), "nothing written on the host"
    for rel in ("etc/hostname", "etc/locale.conf", "etc/vconsole.conf", "etc/sysconfig/desktop",
                "etc/selinux/config"):
        p = vimg / rel
        assert p.is_file() and not p.is_symlink(), rel
    assert (vimg / "etc/hostname").read_text() == "variants\n"
    assert not (vimg / "etc/passwd-HOSTILE-TARGET").exists()


def test_missing_tools_units_and_modules_warn(make_ks: MakeKs, tmp_path: Path) -> None:
    """Without the stand-in packages, each command says which program and package it lacks; the build goes on."""
    ks = make_ks(
        "#version=RHEL9\n"
        "selinux --enforcing\nfirewall --enabled --service=ssh\nauthselect select minimal\n"
        "services --enabled=ghost\nmodule --name=nodejs --stream=18\n"
        "%packages\n%end\n"
    )
    built = image_creator(ks, tmp_path, name="bare")
    err = built.proc.stderr
    assert built.image.exists()
    assert "kickstart 'selinux --enforcing'" in err and "selinux-policy-targeted" in err
    assert "'firewall-offline-cmd'" in err and "'firewalld' package" in err
    assert "kickstart 'authselect'" in err and "'authselect' package" in err
    assert "ghost.service" in err
    assert "kickstart 'module' (nodejs:18)" in err and "no modules metadata" in err


# ---- modules, includes, %onerror --------------------------------------------------------------------------


def module_ks(make_ks: MakeKs, modular_repo: Path, body: str) -> Path:
    return make_ks(f"#version=RHEL9\nrepo --name=modular --baseurl=file://{modular_repo}\n{body}")


def test_module_stream_is_enabled_before_resolving(make_ks: MakeKs, modular_repo: Path, tmp_path: Path) -> None:
    hidden = image_creator(module_ks(make_ks, modular_repo, "%packages\ndemo-app\n%end\n"), tmp_path, name="m1",
                           check=False)
    assert hidden.proc.returncode != 0 and "demo-app" in hidden.proc.stderr, "a non-enabled stream hides it"
    image_creator(module_ks(make_ks, modular_repo, "module --name=demo --stream=2\n%packages\ndemo-app\n%end\n"),
                  tmp_path, name="m2")


def test_module_disable_hides_a_default_stream(make_ks: MakeKs, modular_repo: Path, tmp_path: Path) -> None:
    image_creator(module_ks(make_ks, modular_repo, "%packages\npost-demo\n%end\n"), tmp_path, name="d1")
    disabled = image_creator(
        module_ks(make_ks, modular_repo, "module --name=legacy --disable\n%packages\npost-demo\n%end\n"),
        tmp_path, name="d2", check=False)
    assert disabled.proc.returncode != 0 and "post-demo" in disabled.proc.stderr


def test_include_file_and_http_urls(make_ks: MakeKs, tmp_path: Path, mount_image: MountImage) -> None:
    served = tmp_path / "served"
    (served / "sub").mkdir(parents=True)
    (served / "net.ks").write_text("network --hostname=from-http\n%include sub/tz.ks\n")
    (served / "sub/tz.ks").write_text("timezone Asia/Tokyo\n")
    local = tmp_path / "local"
    (local / "nested").mkdir(parents=True)
    (local / "lang.ks").write_text("lang fr_FR.UTF-8\n%include nested/kb.ks\n")
    (local / "nested/kb.ks").write_text("keyboard --vckeymap=fr\n")
    with RepoServer(served) as server:
        ks = make_ks(f"%include file://{local}/lang.ks\n%include {server.url}/net.ks\n%packages\n%end\n")
        built = image_creator(ks, tmp_path, name="inc")
    img = mount_image(built.image)
    assert (img / "etc/locale.conf").read_text() == 'LANG="fr_FR.UTF-8"\n', "file:// URL"
    assert (img / "etc/vconsole.conf").read_text() == 'KEYMAP="fr"\n', "relative to the including file"
    assert (img / "etc/hostname").read_text() == "from-http\n", "http URL"
    assert os.readlink(img / "etc/localtime") == "../usr/share/zoneinfo/Asia/Tokyo", "relative to the URL"


def test_onerror_runs_when_the_build_fails(make_ks: MakeKs, tmp_path: Path) -> None:
    marker = tmp_path / "onerror-ran"
    ks = make_ks(
        "%packages\n%end\n"
        "%post --erroronfail\nexit 4\n%end\n"
        f'%onerror\necho "failed: $IMG_NAME" > {marker}\n%end\n'
    )
    built = image_creator(ks, tmp_path, name="fails", check=False)
    assert_failed(built.proc)
    assert marker.read_text() == "failed: fails\n"
    assert not built.image.exists()


# ---- syntax versions and errors ---------------------------------------------------------------------------

OLD_SYNTAX = """\
install
cdrom
auth --useshadow --passalgo=sha512
keyboard us
lang en_GB.UTF-8
timezone --utc Europe/London
network --device eth0 --bootproto dhcp --hostname old.example.com
rootpw --iscrypted $6$saltsalt$abc
services --enabled=demo
%packages
@services
%end
"""


@pytest.mark.parametrize("how", ["--ksversion", "#version="])
def test_older_syntax_versions_keep_working(make_ks: MakeKs, tmp_path: Path, mount_image: MountImage,
                                            how: str) -> None:
    # 'install' and 'auth' were removed from the newest syntax; RHEL7's still has them.
    body = OLD_SYNTAX if how == "--ksversion" else "#version=RHEL7\n" + OLD_SYNTAX
    extra = ("--ksversion", "RHEL7") if how == "--ksversion" else ()
    built = image_creator(make_ks(body), tmp_path, *extra, name="old")
    for word in ("install", "cdrom"):
        assert f"'{word}'" not in built.proc.stderr
    img = mount_image(built.image)
    assert (img / "etc/vconsole.conf").read_text() == 'KEYMAP="us"\n'
    assert (img / "etc/locale.conf").read_text() == 'LANG="en_GB.UTF-8"\n'
    assert (img / "etc/hostname").read_text() == "old.example.com\n"
    assert entries(img, "shadow")["root"][1] == "$6$saltsalt$abc"
    assert_unit_link(img, img / "etc/systemd/system/multi-user.target.wants/demo.service")
    assert os.readlink(img / "etc/localtime") == "../usr/share/zoneinfo/Europe/London"


def test_newest_syntax_rejects_removed_commands(make_ks: MakeKs, tmp_path: Path) -> None:
    proc = run_tool("image-creator", "-c", str(make_ks("install\n%packages\n%end\n")), "--tmpdir", str(tmp_path),
                    check=False)
    assert_failed(proc, "install has been removed", "line 3")


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("frobnicate --now\n", "Unknown command: frobnicate", 3),
        ("rootpw\n", "rootpw", 3),
        ("network --bootproto=magic\n", "magic", 3),
        ("%packages --nosuchoption\n%end\n", "nosuchoption", 3),
    ],
    ids=["unknown-command", "missing-argument", "bad-option-value", "bad-section-option"],
)
def test_kickstart_errors_name_file_and_line(make_ks: MakeKs, tmp_path: Path, text: str, message: str,
                                             line: int) -> None:
    ks = make_ks(text)
    proc = run_tool("image-creator", "-c", str(ks), "--tmpdir", str(tmp_path), check=False)
    assert_failed(proc)
    assert str(ks) in proc.stderr and f"line {line}" in proc.stderr and message in proc.stderr, proc.stderr
    assert not list(tmp_path.glob("imgcreate-*")), "nothing was built"


def test_error_in_an_included_file_names_that_file(make_ks: MakeKs, tmp_path: Path) -> None:
    inc = tmp_path / "inc.ks"
    inc.write_text("lang C.UTF-8\nbogus-command\n")
    proc = run_tool("image-creator", "-c", str(make_ks(f"%include {inc}\n")), "--tmpdir", str(tmp_path),
                    check=False)
    assert_failed(proc, str(inc), "line 2", "bogus-command")


def test_missing_include_fails_clearly(make_ks: MakeKs, tmp_path: Path) -> None:
    proc = run_tool("image-creator", "-c", str(make_ks("%include no-such-file.ks\n")), "--tmpdir", str(tmp_path),
                    check=False)
    assert_failed(proc, "no-such-file.ks")
