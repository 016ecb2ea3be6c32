"""Pure-logic tests: kickstart reading (read_config and the getters), name and label rules."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from imgcreate import kickstart
from imgcreate.errors import KickstartError


def write(tmp_path: Path, text: str, name: str = "test.ks") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_kickstart_and_getters(tmp_path: Path) -> None:
    ks = kickstart.read_kickstart(
        write(
            tmp_path,
            "part / --size 1024 --fstype ext3 --label ROOTL\n"
            "repo --name=a --baseurl=http://example.com/$releasever/$basearch --cost 5 --includepkgs=x,y\n"
            "repo --name=b --mirrorlist=http://example.com/ml --excludepkgs=z --noverifyssl --proxy=http://p:3128\n"
            "bootloader --append='quiet x=1' --timeout 7\n"
            "%packages --excludedocs --instLangs=de:fr --nocore --excludeWeakdeps --ignoremissing\n"
            "@core\n@base --optional\n@small --nodefaults\n-@docs\nfoo\n-bar\n%end\n",
        )
    )
    assert kickstart.get_image_size(ks) == 1024 * 1024 * 1024
    assert kickstart.get_image_fstype(ks) == "ext3"
    assert kickstart.get_image_fslabel(ks) == "ROOTL"
    assert kickstart.get_kernel_args(ks, "rd.live.image") == "rd.live.image quiet x=1"
    assert kickstart.get_timeout(ks) == 7
    repos = kickstart.get_repos(ks)
    assert [r.name for r in repos] == ["a", "b"]
    assert repos[0].baseurl == ("http://example.com/$releasever/$basearch",)
    assert repos[0].cost == 5 and repos[0].includepkgs == ("x", "y")
    assert repos[1].mirrorlist == "http://example.com/ml" and repos[1].noverifyssl and repos[1].proxy
    spec = kickstart.get_packages(ks, required=["kernel"], excluded=["evil"])
    assert spec.packages == ("foo", "kernel")
    assert spec.groups == (("core", "default"), ("base", "all"), ("small", "required"))
    assert spec.excluded == ("bar", "evil") and spec.excluded_groups == ("docs",)
    assert spec.nocore and spec.excludedocs and spec.exclude_weakdeps and spec.ignore_missing
    assert spec.inst_langs == "de:fr"


def test_defaults(tmp_path: Path) -> None:
    ks = kickstart.read_kickstart(write(tmp_path, "%packages\n%end\n"))
    assert kickstart.get_image_size(ks) == 4096 * 1024 * 1024
    assert kickstart.get_image_fstype(ks) == "ext4"
    assert kickstart.get_kernel_args(ks) == ""
    spec = kickstart.get_packages(ks)
    assert not spec.nocore and not spec.excludedocs and spec.inst_langs is None and not spec.ignore_missing


def test_url_becomes_a_repo(tmp_path: Path) -> None:
    ks = kickstart.read_kickstart(write(tmp_path, "url --url=http://example.com/os\n"))
    assert [(r.name, r.baseurl) for r in kickstart.get_repos(ks)] == [("install-tree", ("http://example.com/os",))]


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "lang en_US.UTF-8\n\nnosuchcommand --x\n")
    with pytest.raises(KickstartError) as err:
        kickstart.read_kickstart(path)
    msg = str(err.value)
    assert str(path) in msg and "line 3" in msg and "nosuchcommand" in msg


def test_error_in_included_file_names_that_file(tmp_path: Path) -> None:
    inc = write(tmp_path, "rootpw --bogus x\n", "inc.ks")
    main = write(tmp_path, "lang en_US\n%include inc.ks\n")
    with pytest.raises(KickstartError) as err:
        kickstart.read_kickstart(main)
    assert "inc.ks" in str(err.value) and "line 1" in str(err.value)
    assert inc.exists()


def test_include_relative_path(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path, "%packages\nfrom-include\n%end\n", "sub/pk.ks")
    ks = kickstart.read_kickstart(write(tmp_path, "%include sub/pk.ks\n"))
    assert ks.packages.packageList == ["from-include"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KickstartError, match="does not exist"):
        kickstart.read_kickstart(tmp_path / "nope.ks")


def test_ksversion(tmp_path: Path) -> None:
    path = write(tmp_path, "lang en_US\n")
    assert kickstart.read_kickstart(path, "F20") is not None
    with pytest.raises(KickstartError, match="version"):
        kickstart.read_kickstart(path, "NOTAVERSION")


# ---- read_config ----------------------------------------------------------------------------------------------


def config_of(tmp_path: Path, text: str, version: str | None = None) -> kickstart.KickstartConfig:
    return kickstart.read_config(kickstart.read_kickstart(write(tmp_path, text), version))


def test_read_config_defaults(tmp_path: Path) -> None:
    """A kickstart that uses no command reads as the defaults: nothing to configure, upstream's root size."""
    cfg = config_of(tmp_path, "%packages\n%end\n")
    assert cfg == kickstart.KickstartConfig()
    assert cfg.root_partition == kickstart.RootPartition(size=4096 * 1024 * 1024, fstype="ext4", label=None)
    assert cfg.bootloader.kernel_args("base") == "base" and cfg.bootloader.timeout_or(10) == 10
    assert cfg.keyboard is None and cfg.timezone is None and cfg.rootpw is None and cfg.selinux is None
    assert cfg.firewall is None and cfg.xconfig is None and cfg.scripts == () and cfg.network == ()


def test_read_config_is_frozen(tmp_path: Path) -> None:
    cfg = config_of(tmp_path, "lang de_DE.UTF-8\n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lang = "C"  # type: ignore[misc]


def test_read_config_root_partition_and_bootloader(tmp_path: Path) -> None:
    cfg = config_of(tmp_path, "part / --size 1024 --fstype ext3 --label ROOTL\n"
                              "bootloader --append=' quiet x=1 ' --timeout 0\n")
    assert cfg.root_partition == kickstart.RootPartition(size=1024 * 1024 * 1024, fstype="ext3", label="ROOTL")
    assert cfg.bootloader == kickstart.Bootloader(append="quiet x=1", timeout=0)
    assert cfg.bootloader.kernel_args("rd.live.image") == "rd.live.image quiet x=1"
    assert cfg.bootloader.timeout_or(10) == 0, "--timeout 0 is a timeout, not a missing one"


def test_read_config_scripts_every_field(tmp_path: Path) -> None:
    cfg = config_of(
        tmp_path,
        "%pre --interpreter=/usr/bin/python3 --erroronfail --log=/tmp/pre.log\nprint(1)\n%end\n"
        "%post --nochroot --logfile=/tmp/post.log\necho host\n%end\n"
        "%post\necho image\n%end\n"
        "%onerror\necho failed\n%end\n"
        "%traceback\necho tb\n%end\n",
    )
    Script, Kind = kickstart.Script, kickstart.ScriptKind
    assert cfg.scripts == (
        Script(Kind.PRE, "print(1)\n", "/usr/bin/python3", in_chroot=False, error_on_fail=True,
               logfile="/tmp/pre.log", lineno=1),
        Script(Kind.POST, "echo host\n", "/bin/sh", in_chroot=False, error_on_fail=False, logfile="/tmp/post.log",
               lineno=4),
        Script(Kind.POST, "echo image\n", "/bin/sh", in_chroot=True, error_on_fail=False, logfile=None, lineno=7),
        Script(Kind.ONERROR, "echo failed\n", "/bin/sh", in_chroot=False, error_on_fail=False, logfile=None,
               lineno=10),
        Script(Kind.TRACEBACK, "echo tb\n", "/bin/sh", in_chroot=False, error_on_fail=False, logfile=None,
               lineno=13),
    )
    assert [s.body for s in cfg.scripts_of(Kind.POST)] == ["echo host\n", "echo image\n"]
    assert cfg.scripts_of(Kind.PRE_INSTALL) == ()
    assert [s.script for s in kickstart.get_post_scripts(kickstart.read_kickstart(tmp_path / "test.ks"))] == [
        "echo host\n", "echo image\n"], "the getter keeps returning pykickstart's objects to API users"


@pytest.mark.parametrize("mode", list(kickstart.SELinuxMode))
def test_read_config_selinux_mode(tmp_path: Path, mode: kickstart.SELinuxMode) -> None:
    assert config_of(tmp_path, f"selinux --{mode.value}\n").selinux is mode


@pytest.mark.parametrize(
    ("line", "mode"),
    [("firewall --enabled", kickstart.FirewallMode.ENABLED), ("firewall --disabled", kickstart.FirewallMode.DISABLED),
     ("firewall --use-system-defaults", kickstart.FirewallMode.SYSTEM_DEFAULTS)],
)
def test_read_config_firewall_mode(tmp_path: Path, line: str, mode: kickstart.FirewallMode) -> None:
    fw = config_of(tmp_path, line + "\n").firewall
    assert fw is not None and fw.mode is mode


def test_read_config_commands(tmp_path: Path) -> None:
    cfg = config_of(
        tmp_path,
        "lang de_DE.UTF-8\nkeyboard --vckeymap=de --xlayouts='de (nodeadkeys)',us --switch=grp:alt_shift_toggle\n"
        "timezone Europe/Berlin --utc --nontp\ngroup --name=admins --gid=2000\n"
        "rootpw --iscrypted --lock --allow-ssh $6$x$y\n"
        "user --name=alice --groups=wheel,devs --uid=1500 --gid=1600 --homedir=/srv/a --shell=/bin/sh --gecos=A "
        "--password=pw --plaintext\n"
        'sshkey --username=alice " ssh-ed25519 AAAA a@b "\n'
        "network --device=eth0 --bootproto=static --ip=10.0.0.5 --netmask=24 --nameserver=1.1.1.1,::1 --onboot=no "
        "--noipv6 --mtu=9000 --hostname=box\nnetwork --device=bond0 --bondslaves=eth1,eth2\n"
        "services --enabled=a,b --disabled=c\nxconfig --startxonboot --defaultdesktop=KDE\n"
        "authselect select sssd\nfirewall --enabled --service=ssh --port=22:tcp --trust=eth1 --remove-service=x\n",
    )
    assert cfg.lang == "de_DE.UTF-8"
    assert cfg.keyboard == kickstart.Keyboard("de", ("de (nodeadkeys)", "us"), ("grp:alt_shift_toggle",))
    assert cfg.timezone == kickstart.Timezone("Europe/Berlin", utc=True, nontp=True)
    assert cfg.groups == (kickstart.Group("admins", 2000, lineno=4),)
    assert cfg.rootpw == kickstart.RootPassword("$6$x$y", crypted=True, lock=True, allow_ssh=True, lineno=5)
    assert cfg.users == (kickstart.User("alice", lineno=6, uid=1500, gid=1600, groups=("wheel", "devs"),
                                        homedir="/srv/a", shell="/bin/sh", gecos="A", password="pw"),)
    assert cfg.sshkeys == (kickstart.SshKey("alice", "ssh-ed25519 AAAA a@b", lineno=7),)
    eth0, bond0 = cfg.network
    assert eth0 == kickstart.NetworkDevice(
        device="eth0", hostname="box", bootproto=kickstart.BootProto.STATIC, ip="10.0.0.5", netmask="24",
        nameservers=("1.1.1.1", "::1"), noipv6=True, mtu="9000", onboot=False,
    )
    assert bond0.virtual == ("bondslaves",) and not bond0.wireless
    assert cfg.services == kickstart.Services(enabled=("a", "b"), disabled=("c",))
    assert cfg.xconfig == kickstart.XConfig(startx=True, default_desktop="KDE")
    assert cfg.auth == kickstart.Auth(authselect="select sssd")
    assert cfg.firewall == kickstart.Firewall(kickstart.FirewallMode.ENABLED, trusts=("eth1",), ports=("22:tcp",),
                                              remove_services=("x",), services=("ssh",))


def test_read_config_keyboard_forms(tmp_path: Path) -> None:
    """The old positional form is the console keymap; X layouts alone leave it for the writer to derive."""
    assert config_of(tmp_path, "keyboard fr\n").keyboard == kickstart.Keyboard("fr")
    assert config_of(tmp_path, "keyboard --xlayouts='cz (qwerty)'\n").keyboard == kickstart.Keyboard(
        "", ("cz (qwerty)",))
    assert config_of(tmp_path, "keyboard us\n", "F17").keyboard == kickstart.Keyboard("us")


def test_read_config_noipv4_empties_bootproto(tmp_path: Path) -> None:
    """pykickstart blanks --bootproto for --noipv4; that reads as its default, DHCP."""
    (nd,) = config_of(tmp_path, "network --device=eth0 --bootproto=static --noipv4\n").network
    assert nd.bootproto is kickstart.BootProto.DHCP and nd.noipv4


@pytest.mark.parametrize("version", ["F21", "RHEL7"])
def test_read_config_old_syntax_versions(tmp_path: Path, version: str) -> None:
    """Versions without sshkey, authselect, module, repo --metalink, rootpw --allow-ssh or firewall
    --use-system-defaults: what they lack reads as the default."""
    cfg = config_of(
        tmp_path,
        "repo --name=a --baseurl=http://example.com/a,http://example.com/b\nurl --url=http://example.com/os\n"
        "auth --useshadow\nrootpw --lock pw\nuser --name=u\nfirewall --enabled --ssh\n"
        "network --device=eth0 --bootproto=dhcp\ntimezone --utc UTC\n%packages\nfoo\n%end\n",
        version,
    )
    tree, repo = cfg.repos
    assert tree == kickstart.RepoSpec("install-tree", baseurl=("http://example.com/os",))
    assert repo == kickstart.RepoSpec("a", baseurl=("http://example.com/a", "http://example.com/b"))
    assert cfg.auth == kickstart.Auth(authconfig="--useshadow")
    assert cfg.rootpw == kickstart.RootPassword("pw", lock=True, lineno=4)
    assert cfg.users == (kickstart.User("u", lineno=5),)
    assert cfg.firewall is not None and cfg.firewall.mode is kickstart.FirewallMode.ENABLED
    assert cfg.network == (kickstart.NetworkDevice(device="eth0"),)
    assert cfg.timezone == kickstart.Timezone("UTC", utc=True)
    assert cfg.packages.packages == ("foo",) and cfg.packages.modules == []
    assert cfg.sshkeys == ()


def test_package_spec_with_extra(tmp_path: Path) -> None:
    spec = config_of(tmp_path, "%packages\nfoo\n-bar\n%end\n").packages
    extra = spec.with_extra(["kernel"], ["evil"])
    assert (extra.packages, extra.excluded) == (("foo", "kernel"), ("bar", "evil"))
    assert spec.packages == ("foo",), "the spec read from the kickstart is unchanged"


# ---- names and labels -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("/a/b/fedora-live.ks", None, ""), "fedora-live"),
        (("/a/b/fedora-live.ks", "livecd-", ""), "livecd-fedora-live"),
        (("livecd-fedora.ks", "livecd-", ""), "livecd-fedora"),
        (("x.ks", None, "1"), "x-1"),
        (("noext", None, ""), "noext"),
    ],
)
def test_build_name(args: tuple[str, str | None, str], expected: str) -> None:
    assert kickstart.build_name(*args) == expected


def test_build_name_maxlen_keeps_suffix() -> None:
    name = kickstart.build_name("a-very-long-kickstart-name-for-testing.ks", "livecd-", "202601011200", maxlen=32)
    assert len(name) == 32 and name.startswith("livecd-") and name.endswith("-202601011200")


def test_build_name_default_suffix_is_a_timestamp() -> None:
    name = kickstart.build_name("x.ks")
    assert name.startswith("x-") and name[2:].isdigit() and len(name[2:]) == 12


@pytest.mark.parametrize("label", ["Fedora-WS-Live-40-1", "A", "x" * 32, "lab_el.1"])
def test_good_labels(label: str) -> None:
    assert kickstart.check_fslabel(label) == label


@pytest.mark.parametrize(
    ("label", "message"),
    [("", "empty"), ("x" * 33, "limited to 32"), ("has space", "' '"), ("slash/", "'/'")],
)
def test_bad_labels(label: str, message: str) -> None:
    with pytest.raises(KickstartError, match=message):
        kickstart.check_fslabel(label)


def test_label_from_name() -> None:
    assert kickstart.label_from_name("livecd-my spin+x-202601011200") == "livecd-my_spin_x-202601011200"
    assert len(kickstart.label_from_name("x" * 40)) == 32
