"""Kickstart configuration writers on a plain directory standing in for the install root (no mounts needed).

Kickstarts are parsed with pykickstart, exactly as a build does; the root is a tmp directory with just the
files each writer reads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from imgcreate import configure, kickstart
from imgcreate.configure import accounts, common, localization, passwords, security, services
from imgcreate.errors import KickstartError
from tests.support import password_matches


def parse(tmp_path: Path, text: str) -> kickstart.KickstartSettings:
    """Read *text* as a build does: pykickstart parses the file, read_config() reads the typed values."""
    path = tmp_path / "test.ks"
    path.write_text(text)
    return kickstart.read_config(kickstart.read_kickstart(path))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with the account files of a Fedora 'setup' package (trimmed)."""
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/bin:/sbin/nologin\n")
    (r / "etc/shadow").write_text("root:!::0:99999:7:::\nbin:*:19000:0:99999:7:::\n")
    (r / "etc/group").write_text("root:x:0:\nwheel:x:10:\nusers:x:100:\n")
    (r / "etc/gshadow").write_text("root:::\nwheel:::\nusers:::\n")
    for name in ("shadow", "gshadow"):
        os.chmod(r / "etc" / name, 0)
    return r


def shadow(root: Path) -> dict[str, list[str]]:
    return {line.split(":")[0]: line.split(":") for line in (root / "etc/shadow").read_text().splitlines()}


def table(root: Path, name: str) -> dict[str, list[str]]:
    return {line.split(":")[0]: line.split(":") for line in (root / "etc" / name).read_text().splitlines()}


# ---- lang, keyboard, timezone -----------------------------------------------------------------------------


def test_lang(tmp_path: Path, root: Path) -> None:
    configure.apply_lang(root, parse(tmp_path, "lang de_DE.UTF-8 --addsupport=fr_FR\n").lang)
    assert (root / "etc/locale.conf").read_text() == 'LANG="de_DE.UTF-8"\n'


def test_keyboard_console_and_x11(tmp_path: Path, root: Path) -> None:
    (root / "etc/vconsole.conf").write_text('KEYMAP="us"\nFONT="eurlatgr"\n')
    cfg = parse(tmp_path, "keyboard --vckeymap=de-nodeadkeys --xlayouts='de (nodeadkeys)','us' "
                         "--switch=grp:alt_shift_toggle\n")
    configure.apply_keyboard(root, cfg.keyboard)
    assert (root / "etc/vconsole.conf").read_text() == 'KEYMAP="de-nodeadkeys"\nFONT="eurlatgr"\n'
    x11 = (root / "etc/X11/xorg.conf.d/00-keyboard.conf").read_text()
    assert 'Option "XkbLayout" "de,us"' in x11
    assert 'Option "XkbVariant" "nodeadkeys,"' in x11
    assert 'Option "XkbOptions" "grp:alt_shift_toggle"' in x11
    assert x11.startswith("#") and 'Section "InputClass"' in x11 and x11.rstrip().endswith("EndSection")


def test_keyboard_legacy_syntax_is_console_only(tmp_path: Path, root: Path) -> None:
    configure.apply_keyboard(root, parse(tmp_path, "keyboard fr\n").keyboard)
    assert (root / "etc/vconsole.conf").read_text() == 'KEYMAP="fr"\n'
    assert not (root / "etc/X11").exists()


def test_keyboard_keymap_from_first_layout(tmp_path: Path, root: Path) -> None:
    configure.apply_keyboard(root, parse(tmp_path, "keyboard --xlayouts='cz (qwerty)'\n").keyboard)
    assert (root / "etc/vconsole.conf").read_text() == 'KEYMAP="cz-qwerty"\n'
    assert '"XkbLayout" "cz"' in (root / "etc/X11/xorg.conf.d/00-keyboard.conf").read_text()


def test_no_keyboard_line_writes_nothing(tmp_path: Path, root: Path) -> None:
    configure.apply_before_post(root, parse(tmp_path, "%packages\n%end\n"))
    # Only /etc/rpm/macros.imgcreate, which upstream always writes.
    assert sorted(p.name for p in (root / "etc").iterdir()) == ["group", "gshadow", "passwd", "rpm", "shadow"]
    assert [p.name for p in (root / "etc/rpm").iterdir()] == ["macros.imgcreate"]


def test_timezone_link_and_adjtime(tmp_path: Path, root: Path, caplog: pytest.LogCaptureFixture) -> None:
    (root / "usr/share/zoneinfo/Europe").mkdir(parents=True)
    (root / "usr/share/zoneinfo/Europe/Berlin").write_bytes(b"TZif")
    configure.apply_timezone(root, parse(tmp_path, "timezone Europe/Berlin --utc\n").timezone)
    assert os.readlink(root / "etc/localtime") == "../usr/share/zoneinfo/Europe/Berlin"
    assert (root / "etc/adjtime").read_text() == "0.0 0 0.0\n0\nUTC\n"
    assert "zoneinfo" not in caplog.text


def test_timezone_without_tzdata_warns_and_links(tmp_path: Path, root: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    configure.apply_timezone(root, parse(tmp_path, "timezone America/New_York --isUtc\n").timezone)
    assert os.readlink(root / "etc/localtime") == "../usr/share/zoneinfo/America/New_York"
    assert "tzdata" in caplog.text
    assert (root / "etc/adjtime").read_text().endswith("UTC\n")


def test_timezone_local_clock_leaves_adjtime(tmp_path: Path, root: Path) -> None:
    configure.apply_timezone(root, parse(tmp_path, "timezone UTC\n").timezone)
    assert os.readlink(root / "etc/localtime") == "../usr/share/zoneinfo/UTC"
    assert not (root / "etc/adjtime").exists()


# ---- accounts ---------------------------------------------------------------------------------------------


def test_rootpw_plaintext_verifies(tmp_path: Path, root: Path) -> None:
    configure.apply_rootpw(root, parse(tmp_path, "rootpw --plaintext s3cret\n").rootpw)
    entry = shadow(root)["root"]
    assert entry[1].startswith("$6$") and password_matches("s3cret", entry[1])
    assert shadow(root)["bin"] == ["bin", "*", "19000", "0", "99999", "7", "", "", ""], "other lines kept"
    assert stat.S_IMODE((root / "etc/shadow").stat().st_mode) == 0, "mode kept"


def test_rootpw_default_is_plaintext(tmp_path: Path, root: Path) -> None:
    configure.apply_rootpw(root, parse(tmp_path, "rootpw 'pass word'\n").rootpw)
    assert password_matches("pass word", shadow(root)["root"][1])


def test_rootpw_iscrypted_is_stored_as_given(tmp_path: Path, root: Path) -> None:
    configure.apply_rootpw(root, parse(tmp_path, "rootpw --iscrypted $6$abcdefgh$XYZ\n").rootpw)
    assert shadow(root)["root"][1] == "$6$abcdefgh$XYZ"


def test_rootpw_lock(tmp_path: Path, root: Path) -> None:
    configure.apply_rootpw(root, parse(tmp_path, "rootpw --lock --plaintext pw\n").rootpw)
    field = shadow(root)["root"][1]
    assert field.startswith("!$6$") and password_matches("pw", field[1:])


def test_rootpw_lock_alone(tmp_path: Path, root: Path) -> None:
    (root / "etc/shadow").write_text("root:$6$s$h:1:0:99999:7:::\n")
    configure.apply_rootpw(root, parse(tmp_path, "rootpw --lock\n").rootpw)
    assert shadow(root)["root"][1] == "!$6$s$h"


def test_rootpw_allow_ssh(tmp_path: Path, root: Path) -> None:
    configure.apply_rootpw(root, parse(tmp_path, "rootpw --allow-ssh pw\n").rootpw)
    assert "PermitRootLogin yes" in (root / "etc/ssh/sshd_config.d/01-permitrootlogin.conf").read_text()


def test_rootpw_in_an_image_without_account_files(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    configure.apply_rootpw(bare, parse(tmp_path, "rootpw pw\n").rootpw)
    assert (bare / "etc/passwd").read_text() == "root:x:0:0:root:/root:/bin/bash\n"
    assert password_matches("pw", shadow(bare)["root"][1])
    assert stat.S_IMODE((bare / "etc/shadow").stat().st_mode) == 0


def test_group(tmp_path: Path, root: Path) -> None:
    configure.apply_groups(root, parse(tmp_path, "group --name=admins --gid=2000\ngroup --name=ops\n").groups)
    groups = table(root, "group")
    assert groups["admins"] == ["admins", "x", "2000", ""]
    assert groups["ops"][2] == "1000"
    assert table(root, "gshadow")["admins"] == ["admins", "!", "", ""]


def test_group_gid_clash_fails_with_line(tmp_path: Path, root: Path) -> None:
    with pytest.raises(KickstartError, match=r"line 1.*wheel"):
        configure.apply_groups(root, parse(tmp_path, "group --name=other --gid=10\n").groups)


def test_user_all_options(tmp_path: Path, root: Path) -> None:
    (root / "etc/skel").mkdir()
    (root / "etc/skel/.bashrc").write_text("# skel\n")
    os.symlink("/etc/shadow", root / "etc/skel/.link")
    cfg = parse(tmp_path, "user --name=alice --groups=wheel,devs --password=secret --plaintext "
                         "--homedir=/srv/alice --shell=/bin/sh --uid=1500 --gid=1600 --gecos='Alice A'\n")
    configure.apply_users(root, cfg.users)
    assert table(root, "passwd")["alice"] == ["alice", "x", "1500", "1600", "Alice A", "/srv/alice", "/bin/sh"]
    groups = table(root, "group")
    assert groups["alice"][2] == "1600", "--gid that no group has: a group named after the user gets it"
    assert groups["wheel"][3] == "alice"
    assert groups["devs"][3] == "alice", "missing supplementary groups are created"
    assert table(root, "gshadow")["wheel"][3] == "alice"
    assert password_matches("secret", shadow(root)["alice"][1])
    home = root / "srv/alice"
    st = home.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1500, 1600, 0o700)
    assert (home / ".bashrc").read_text() == "# skel\n" and (home / ".bashrc").stat().st_uid == 1500
    assert os.readlink(home / ".link") == "/etc/shadow", "links from /etc/skel are copied, not followed"


def test_user_defaults_and_private_group(tmp_path: Path, root: Path) -> None:
    configure.apply_users(root, parse(tmp_path, "user --name=bob\n").users)
    entry = table(root, "passwd")["bob"]
    assert entry == ["bob", "x", "1000", "1000", "", "/home/bob", "/bin/bash"]
    assert table(root, "group")["bob"][2] == "1000"
    assert shadow(root)["bob"][1] == "!!", "no password: locked until one is set"
    assert (root / "home/bob").is_dir()


def test_user_iscrypted_and_lock(tmp_path: Path, root: Path) -> None:
    configure.apply_users(root, parse(tmp_path, "user --name=carol --iscrypted --password=$6$x$y --lock\n").users)
    assert shadow(root)["carol"][1] == "!$6$x$y"


def test_user_with_existing_gid(tmp_path: Path, root: Path) -> None:
    configure.apply_users(root, parse(tmp_path, "user --name=dave --gid=100\n").users)
    assert table(root, "passwd")["dave"][3] == "100"
    assert "dave" not in table(root, "group"), "the existing group 'users' is used"


def test_bad_user_name_fails_with_line(tmp_path: Path, root: Path) -> None:
    with pytest.raises(KickstartError, match=r"line 2.*not a valid user name"):
        configure.apply_users(root, parse(tmp_path, "# comment\nuser --name=bad:name\n").users)


def test_account_files_never_follow_links_out(tmp_path: Path, root: Path) -> None:
    outside = tmp_path / "host-shadow"
    outside.write_text("host:secret:::::::\n")
    (root / "etc/shadow").unlink()
    os.symlink(str(outside), root / "etc/shadow")
    configure.apply_rootpw(root, parse(tmp_path, "rootpw pw\n").rootpw)
    assert outside.read_text() == "host:secret:::::::\n"
    assert not (root / "etc/shadow").is_symlink()


def test_users_with_the_images_shadow_utils(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the image has useradd & co., they do the work (run in the image); we only hash."""
    calls: list[tuple[list[str], str | None]] = []

    def fake_run(argv: list[str], root: Path | None = None, input: str | None = None, **kw: Any) -> Any:
        calls.append(([str(a) for a in argv], input))
        if argv[0] == "openssl":
            return subprocess.CompletedProcess(argv, 0, "$6$salt$hash\n", None)
        assert root is not None, "account tools run inside the image"
        return subprocess.CompletedProcess(argv, 0, "", None)

    monkeypatch.setattr(accounts, "run", fake_run)
    monkeypatch.setattr(passwords, "run", fake_run)
    monkeypatch.setattr(accounts, "image_tool", lambda r, name: f"/usr/sbin/{name}")
    cfg = parse(tmp_path, "group --name=admins --gid=2000\nrootpw --lock pw\n"
                         "user --name=alice --groups=wheel,devs --password=pw --uid=1500 --gid=1600 "
                         "--homedir=/srv/a --shell=/bin/sh\n")
    configure.apply_groups(root, cfg.groups)
    configure.apply_rootpw(root, cfg.rootpw)
    configure.apply_users(root, cfg.users)
    argvs = [c[0] for c in calls]
    assert ["groupadd", "-g", "2000", "admins"] in argvs
    assert ["chpasswd", "-e"] in argvs
    assert ("root:!$6$salt$hash\n") in [c[1] for c in calls]
    assert ["groupadd", "devs"] in argvs and ["groupadd", "wheel"] not in argvs
    assert ["groupadd", "-g", "1600", "alice"] in argvs
    assert ["useradd", "-m", "-g", "1600", "-u", "1500", "-G", "wheel,devs", "-d", "/srv/a", "-s", "/bin/sh",
            "alice"] in argvs
    assert "alice:$6$salt$hash\n" in [c[1] for c in calls]
    assert all(c[1] is None or "pw" not in c[0] for c in calls), "no password on a command line"


def test_sshkey(tmp_path: Path, root: Path) -> None:
    cfg = parse(tmp_path, "user --name=alice --uid=1500\n"
                         'sshkey --username=alice "ssh-ed25519 AAAAC3Nza alice@example"\n'
                         'sshkey --username=root "ssh-rsa AAAAB3 root@example"\n')
    configure.apply_users(root, cfg.users)
    configure.apply_sshkeys(root, cfg.sshkeys)
    keys = root / "home/alice/.ssh/authorized_keys"
    assert keys.read_text() == "ssh-ed25519 AAAAC3Nza alice@example\n"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600 and keys.stat().st_uid == 1500
    assert stat.S_IMODE(keys.parent.stat().st_mode) == 0o700 and keys.parent.stat().st_uid == 1500
    assert (root / "root/.ssh/authorized_keys").read_text() == "ssh-rsa AAAAB3 root@example\n"


def test_sshkey_for_unknown_user_fails(tmp_path: Path, root: Path) -> None:
    with pytest.raises(KickstartError, match="nobody-here"):
        configure.apply_sshkeys(root, parse(tmp_path, 'sshkey --username=nobody-here "ssh-rsa AAAA"\n').sshkeys)


# ---- network ----------------------------------------------------------------------------------------------


def test_network_static_keyfile(tmp_path: Path, root: Path) -> None:
    cfg = parse(tmp_path, "network --device=eth0 --bootproto=static --ip=10.0.0.5 --netmask=255.255.255.0 "
                         "--gateway=10.0.0.1 --nameserver=1.1.1.1,2606:4700::1111 --onboot=no --activate "
                         "--hostname=box.example.com\n")
    configure.apply_network(root, cfg.network)
    assert (root / "etc/hostname").read_text() == "box.example.com\n"
    path = root / "etc/NetworkManager/system-connections/eth0.nmconnection"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    sections = {s.split("\n", 1)[0]: s for s in text.split("\n\n")}
    assert "id=eth0" in sections["[connection]"] and "type=ethernet" in sections["[connection]"]
    assert "interface-name=eth0" in sections["[connection]"] and "autoconnect=false" in sections["[connection]"]
    assert "uuid=" in sections["[connection]"]
    assert "method=manual" in sections["[ipv4]"]
    assert "address1=10.0.0.5/24,10.0.0.1" in sections["[ipv4]"]
    assert "dns=1.1.1.1;" in sections["[ipv4]"]
    assert "method=auto" in sections["[ipv6]"] and "dns=2606:4700::1111;" in sections["[ipv6]"]


def test_network_dhcp_device_and_hostname_only(tmp_path: Path, root: Path) -> None:
    cfg = parse(tmp_path, "network --hostname=only-name\nnetwork --device=ens3 --bootproto=dhcp\n"
                         "network --bootproto=dhcp --device=link --activate\n")
    configure.apply_network(root, cfg.network)
    assert (root / "etc/hostname").read_text() == "only-name\n"
    files = sorted(p.name for p in (root / "etc/NetworkManager/system-connections").iterdir())
    assert files == ["ens3.nmconnection"], "a plain DHCP line for any device is NetworkManager's default"
    text = (root / "etc/NetworkManager/system-connections/ens3.nmconnection").read_text()
    assert "[ipv4]\nmethod=auto" in text and "autoconnect=true" in text
    assert not list(root.glob("etc/sysconfig/network-scripts/*")), "no legacy ifcfg files"


def test_network_prefix_netmask_and_noipv6(tmp_path: Path, root: Path) -> None:
    cfg = parse(tmp_path, "network --device=52:54:00:12:34:56 --bootproto=static --ip=192.168.1.2 --netmask=16 "
                         "--noipv6 --mtu=9000\n")
    configure.apply_network(root, cfg.network)
    (path,) = (root / "etc/NetworkManager/system-connections").iterdir()
    text = path.read_text()
    assert "mac-address=52:54:00:12:34:56" in text and "interface-name" not in text and "mtu=9000" in text
    assert "address1=192.168.1.2/16" in text and "[ipv6]\naddr-gen-mode=default-or-eui64\nmethod=disabled" in text


def test_network_static_without_ip_fails(tmp_path: Path, root: Path) -> None:
    with pytest.raises(KickstartError, match="--ip"):
        configure.apply_network(root, parse(tmp_path, "network --device=eth0 --bootproto=static\n").network)


# ---- selinux, firewall, authselect ------------------------------------------------------------------------


def add_policy(root: Path) -> None:
    (root / "etc/selinux/targeted/contexts/files").mkdir(parents=True)
    (root / "etc/selinux/targeted/contexts/files/file_contexts").write_text("/.* system_u:object_r:etc_t:s0\n")


@pytest.mark.parametrize("mode", ["enforcing", "permissive", "disabled"])
def test_selinux_config(tmp_path: Path, root: Path, mode: str) -> None:
    add_policy(root)
    (root / "etc/selinux/config").write_text("# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n")
    configure.apply_selinux_config(root, parse(tmp_path, f"selinux --{mode}\n").selinux)
    assert (root / "etc/selinux/config").read_text() == f"# comment\nSELINUX={mode}\nSELINUXTYPE=targeted\n"


def test_selinux_without_policy_warns(tmp_path: Path, root: Path, caplog: pytest.LogCaptureFixture) -> None:
    configure.apply_selinux_config(root, parse(tmp_path, "selinux --enforcing\n").selinux)
    assert not (root / "etc/selinux/config").exists(), "enforcing without a policy would not boot"
    assert "selinux-policy-targeted" in caplog.text


def test_relabel_without_setfiles_warns(tmp_path: Path, root: Path, caplog: pytest.LogCaptureFixture) -> None:
    add_policy(root)
    with caplog.at_level(logging.WARNING):
        configure.relabel(root, parse(tmp_path, "selinux --permissive\n").selinux)
    assert "setfiles" in caplog.text and "policycoreutils" in caplog.text


def test_relabel_skipped_when_disabled_or_no_policy(tmp_path: Path, root: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    configure.relabel(root, parse(tmp_path, "%packages\n%end\n").selinux)  # no policy: nothing, silently
    add_policy(root)
    configure.relabel(root, parse(tmp_path, "selinux --disabled\n").selinux)
    assert caplog.text == ""


def test_firewall_args(tmp_path: Path) -> None:
    def args(text: str) -> list[str] | None:
        fw = parse(tmp_path, text).firewall
        assert fw is not None
        return configure.firewall_args(fw)

    assert args("firewall --enabled --service=ssh,mdns --port=1234:tcp --trust=eth1 --remove-service=cockpit\n") == [
        "--enabled", "--trust=eth1", "--port=1234:tcp", "--remove-service=cockpit", "--service=ssh",
        "--service=mdns",
    ]
    assert args("firewall --disabled\n") == ["--disabled"]
    assert args("firewall --use-system-defaults\n") is None


def test_missing_image_tools_warn_with_package(tmp_path: Path, root: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = parse(tmp_path, "firewall --enabled\nauthselect select sssd\n")
    configure.apply_firewall(root, cfg.firewall)
    configure.apply_auth(root, cfg.auth)
    assert "'firewall-offline-cmd'" in caplog.text and "'firewalld'" in caplog.text
    assert "kickstart 'authselect'" in caplog.text and "'authselect' package" in caplog.text


# ---- services, xconfig, bootloader ------------------------------------------------------------------------


def test_services(tmp_path: Path, root: Path, caplog: pytest.LogCaptureFixture) -> None:
    units = root / "usr/lib/systemd/system"
    units.mkdir(parents=True)
    for name in ("on", "off"):
        (units / f"{name}.service").write_text("[Service]\nExecStart=/bin/true\n[Install]\n"
                                                "WantedBy=multi-user.target\n")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True)
    os.symlink("/usr/lib/systemd/system/off.service", wants / "off.service")
    configure.apply_services(root, parse(tmp_path, "services --enabled=on,ghost --disabled=off\n").services)
    assert os.readlink(wants / "on.service") == "/usr/lib/systemd/system/on.service"
    assert not (wants / "off.service").exists()
    assert "ghost" in caplog.text and "ghost.service" in caplog.text


def test_xconfig(tmp_path: Path, root: Path, caplog: pytest.LogCaptureFixture) -> None:
    configure.apply_xconfig(root, parse(tmp_path, "xconfig --startxonboot --defaultdesktop=KDE\n").xconfig)
    assert os.readlink(root / "etc/systemd/system/default.target") == "/usr/lib/systemd/system/graphical.target"
    assert (root / "etc/sysconfig/desktop").read_text() == "DESKTOP=KDE\n"
    assert "graphical.target" in caplog.text


def test_bootloader_default_grub(tmp_path: Path, root: Path) -> None:
    (root / "etc/default").mkdir()
    (root / "etc/default/grub").write_text('GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="rhgb quiet"\nGRUB_X=y\n')
    cfg = parse(tmp_path, 'bootloader --append="quiet mitigations=off" --timeout=12\n')
    configure.apply_bootloader(root, cfg.bootloader)
    assert (root / "etc/default/grub").read_text() == (
        'GRUB_TIMEOUT=12\nGRUB_CMDLINE_LINUX="rhgb quiet mitigations=off"\nGRUB_X=y\n'
    )


# ---- safety and helpers -----------------------------------------------------------------------------------


def test_hostile_links_are_replaced_not_followed(tmp_path: Path, root: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    links = {
        "etc/hostname": str(outside / "hostname"),
        "etc/locale.conf": "/etc/passwd",
        "etc/vconsole.conf": "../../../../../../" + str(outside / "vconsole").lstrip("/"),
        "etc/sysconfig/desktop": str(outside / "desktop"),
    }
    for rel, target in links.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, root / rel)
    cfg = parse(tmp_path, "lang C.UTF-8\nkeyboard us\nnetwork --hostname=h\nxconfig --defaultdesktop=GNOME\n")
    configure.apply_before_post(root, cfg)
    assert list(outside.iterdir()) == []
    for rel in links:
        assert (root / rel).is_file() and not (root / rel).is_symlink()
    assert (root / "etc/passwd").read_text().startswith("root:x:0:0:"), "the link target in the root is untouched"


def test_update_assignments_keeps_other_lines() -> None:
    assert configure.update_assignments("# c\nA=1\nB=2\nA=3\n", {"A": "9", "C": "x"}) == "# c\nA=9\nB=2\nC=x\n"
    assert configure.update_assignments(None, {"A": "1"}) == "A=1\n"


def test_line_breaks_in_values_are_refused(tmp_path: Path, root: Path) -> None:
    with pytest.raises(KickstartError):
        common._check_line("a\nb", "thing")
    with pytest.raises(passwords.AccountError):
        passwords.hash_password("a\nb")


# ---- every syntax version -----------------------------------------------------------------------------------

SWEEP_LINES = [
    "lang de_DE.UTF-8", "keyboard de", "keyboard --vckeymap=de --xlayouts=de", "timezone --utc Europe/Berlin",
    "timezone Europe/Berlin --utc", "rootpw --iscrypted $6$x$y", "rootpw --lock pw",
    "user --name=u --password=p --groups=wheel", "group --name=g --gid=2000", 'sshkey --username=root "ssh-rsa AA"',
    "services --enabled=a --disabled=b", "xconfig --startxonboot --defaultdesktop=GNOME",
    "network --device=eth0 --bootproto=static --ip=1.2.3.4 --netmask=255.0.0.0 --gateway=1.1.1.1 "
    "--nameserver=8.8.8.8 --hostname=h",
    "selinux --permissive", "firewall --enabled --ssh --port=22:tcp --trust=eth0", "authselect select x",
    "auth --useshadow", "bootloader --append=q --timeout=3", "module --name=a --stream=1",
    "repo --name=r --baseurl=http://example.com/", "url --url=http://example.com/os", "part / --size 100",
]

# upstream's kickstart helpers, each called with the kickstart alone (tests/unit/test_kickstart.py checks them)
UPSTREAM_HELPERS: list[Callable[[Any], object]] = [
    kickstart.get_image_size, kickstart.get_image_fstype, kickstart.get_timeout, kickstart.get_kernel_args,
    kickstart.get_default_kernel, kickstart.get_repos, kickstart.convert_method_to_repo, kickstart.get_packages,
    kickstart.get_groups, kickstart.get_environment, kickstart.get_excluded, kickstart.get_excluded_groups,
    kickstart.get_partitions, kickstart.ignore_missing, kickstart.exclude_docs, kickstart.exclude_weakdeps,
    kickstart.nocore, kickstart.inst_langs, kickstart.get_pre_scripts, kickstart.get_post_scripts,
    kickstart.selinux_enabled,
]


def test_every_syntax_version_applies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Old syntax versions lack options newer ones have: reading, every writer and getter must cope with each.

    Each line is parsed on its own (a version that does not know it just skips it); external programs are
    stubbed, since this is about reading pykickstart's objects.
    """
    from pykickstart.parser import KickstartParser
    from pykickstart.version import makeVersion, versionMap

    def fake_run(argv: list[str], **kw: Any) -> Any:
        out = "$6$salt$hash\n" if argv[0] == "openssl" else ""
        return subprocess.CompletedProcess(argv, 0, out, None)

    for module in (localization, accounts, security, services, passwords):
        monkeypatch.setattr(module, "run", fake_run)
    for module in (localization, services):
        monkeypatch.setattr(module, "find_tool", lambda tool: "/bin/true")
    for name, version in sorted(versionMap.items()):
        handler = makeVersion(version)
        for line in SWEEP_LINES:
            with contextlib.suppress(Exception):  # not in this version's syntax
                KickstartParser(handler).readKickstartFromString(line + "\n", reset=False)
        root = tmp_path / name
        (root / "etc").mkdir(parents=True)
        (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
        (root / "etc/group").write_text("wheel:x:10:\n")
        cfg = kickstart.read_config(handler)
        configure.apply_before_post(root, cfg)
        configure.apply_after_post(root, cfg)
        for helper in UPSTREAM_HELPERS:  # upstream's helpers read every syntax version too
            helper(handler)
        assert (root / "etc/locale.conf").exists(), name
