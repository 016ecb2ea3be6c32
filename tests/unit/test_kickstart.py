"""Pure-logic tests: kickstart reading (read_config, upstream's helpers and their shapes), name and label rules."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykickstart.constants
import pykickstart.parser
import pytest
from pykickstart.parser import Group, KickstartParser

from imgcreate import kickstart
from imgcreate.errors import KickstartError


def write(tmp_path: Path, text: str, name: str = "test.ks") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_kickstart_returns_a_parser(tmp_path: Path) -> None:
    """As upstream's: a pykickstart KickstartParser, whose .handler holds the kickstart."""
    ks = kickstart.read_kickstart(write(tmp_path, "lang de_DE.UTF-8\n%packages\nfoo\n%end\n"))
    assert isinstance(ks, KickstartParser)
    assert ks.handler.lang.lang == "de_DE.UTF-8" and ks.handler.packages.packageList == ["foo"]
    assert kickstart.as_handler(ks) is ks.handler and kickstart.as_handler(ks.handler) is ks.handler
    assert kickstart.read_config(ks) == kickstart.read_config(ks.handler), "a parser or its handler alike"


def test_read_config_repos_and_packages(tmp_path: Path) -> None:
    """The typed values the build uses (the upstream-shaped helpers are tested below)."""
    cfg = config_of(
        tmp_path,
        "repo --name=a --baseurl=http://example.com/$releasever/$basearch --cost 5 --includepkgs=x,y\n"
        "repo --name=b --mirrorlist=http://example.com/ml --excludepkgs=z --noverifyssl --proxy=http://p:3128\n"
        "%packages --excludedocs --instLangs=de:fr --nocore --excludeWeakdeps --ignoremissing\n"
        "@core\n@base --optional\n@small --nodefaults\n-@docs\nfoo\n-bar\n%end\n",
    )
    repos = cfg.repos
    assert [r.name for r in repos] == ["a", "b"]
    assert repos[0].baseurl == ("http://example.com/$releasever/$basearch",)
    assert repos[0].cost == 5 and repos[0].includepkgs == ("x", "y")
    assert repos[1].mirrorlist == "http://example.com/ml" and repos[1].noverifyssl and repos[1].proxy
    spec = cfg.packages.with_extra(required=["kernel"], excluded=["evil"])
    assert spec.packages == ("foo", "kernel")
    assert spec.groups == (("core", "default"), ("base", "all"), ("small", "required"))
    assert spec.excluded == ("bar", "evil") and spec.excluded_groups == ("docs",)
    assert spec.nocore and spec.excludedocs and spec.exclude_weakdeps and spec.ignore_missing
    assert spec.inst_langs == "de:fr"


def test_read_config_package_defaults(tmp_path: Path) -> None:
    spec = config_of(tmp_path, "%packages\n%end\n").packages
    assert not spec.nocore and not spec.excludedocs and spec.inst_langs is None and not spec.ignore_missing


def test_url_is_a_repo_for_the_build_not_for_get_repos(tmp_path: Path) -> None:
    """read_config() makes ``url`` the install-tree repo; upstream's get_repos() lists ``repo`` lines only, and
    its convert_method_to_repo() changes nothing (pykickstart's methodToRepo() only returns a repo object)."""
    ks = kickstart.read_kickstart(write(tmp_path, "url --url=http://example.com/os\n"))
    assert [(r.name, r.baseurl) for r in kickstart.read_config(ks).repos] == [
        ("install-tree", ("http://example.com/os",))]
    kickstart.convert_method_to_repo(ks)
    assert kickstart.get_repos(ks) == [] and ks.handler.repo.repoList == []
    kickstart.convert_method_to_repo(kickstart.read_kickstart(write(tmp_path, "lang C\n", "nourl.ks")))


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
    assert ks.handler.packages.packageList == ["from-include"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KickstartError, match="does not exist"):
        kickstart.read_kickstart(tmp_path / "nope.ks")


def test_ksversion(tmp_path: Path) -> None:
    path = write(tmp_path, "lang en_US\n")
    assert kickstart.read_kickstart(path, "F20") is not None
    with pytest.raises(KickstartError, match="version"):
        kickstart.read_kickstart(path, "NOTAVERSION")


# ---- read_config ----------------------------------------------------------------------------------------------


def config_of(tmp_path: Path, text: str, version: str | None = None) -> kickstart.KickstartSettings:
    return kickstart.read_config(kickstart.read_kickstart(write(tmp_path, text), version))


def test_read_config_defaults(tmp_path: Path) -> None:
    """A kickstart that uses no command reads as the defaults: nothing to configure, upstream's root size."""
    cfg = config_of(tmp_path, "%packages\n%end\n")
    assert cfg == kickstart.KickstartSettings()
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
    assert cfg.bootloader == kickstart.Bootloader(append="quiet x=1", timeout=0, location="mbr")
    assert cfg.bootloader.kernel_args("rd.live.image") == "rd.live.image quiet x=1"
    assert cfg.bootloader.timeout_or(10) == 0, "--timeout 0 is a timeout, not a missing one"


def test_read_config_partitions_every_field(tmp_path: Path) -> None:
    """Every part/partition line, in kickstart order, as written: sizes MiB, None for what is not given."""
    cfg = config_of(
        tmp_path,
        "part biosboot --fstype=biosboot --size=1\n"
        "partition /boot/efi --fstype=efi --size=200 --ondisk=vda\n"
        "part / --fstype ext4 --size 100 --grow --maxsize 500 --label root --ondisk sda --asprimary\n"
        "part swap --size 10\n"
        "part /home\n",
    )
    P = kickstart.Partition
    assert cfg.partitions == (
        P("biosboot", size=1, fstype="biosboot", lineno=1),
        P("/boot/efi", size=200, fstype="efi", ondisk="vda", lineno=2),
        P("/", size=100, grow=True, maxsize=500, fstype="ext4", label="root", ondisk="sda", asprimary=True,
          lineno=3),
        P("swap", size=10, lineno=4),
        P("/home", lineno=5),
    )
    assert cfg.root_partition == kickstart.RootPartition(size=100 * 1024 * 1024, fstype="ext4", label="root")


def test_read_config_disk_commands(tmp_path: Path) -> None:
    cfg = config_of(tmp_path, "zerombr\nclearpart --all --initlabel --disklabel=GPT\nbootloader --location=none\n")
    assert cfg.disklabel == "gpt" and cfg.zerombr and cfg.bootloader.location == "none"
    cfg = config_of(tmp_path, "clearpart --all --disklabel=msdos\nbootloader --timeout=3\n")
    assert cfg.disklabel == "msdos" and not cfg.zerombr
    assert cfg.bootloader.location == "mbr", "a bootloader line without --location: pykickstart's default"


def test_read_config_disk_defaults(tmp_path: Path) -> None:
    """No part, clearpart, zerombr or bootloader line: nothing given (pykickstart's own "none" location for a
    missing bootloader line is not the user's word)."""
    cfg = config_of(tmp_path, "clearpart --all\n")
    assert cfg.partitions == () and cfg.disklabel is None and not cfg.zerombr and cfg.bootloader.location is None


@pytest.mark.parametrize("version", ["F21", "RHEL7"])
def test_read_config_disk_commands_old_versions(tmp_path: Path, version: str) -> None:
    cfg = config_of(tmp_path, "zerombr\nclearpart --all\npart / --size=10\nbootloader --location=mbr\n", version)
    assert cfg.partitions == (kickstart.Partition("/", size=10, lineno=3),)
    assert cfg.disklabel is None and cfg.zerombr and cfg.bootloader.location == "mbr"


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
    assert cfg.xconfig == kickstart.XSettings(startx=True, default_desktop="KDE")
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


# ---- upstream's helpers: names, shapes, defaults -----------------------------------------------------------------

FULL_KS = (
    "part / --size 1024 --fstype ext3 --label ROOTL\n"
    "part /home --size 50\n"
    "bootloader --append='console=ttyS0 x=1' --timeout 7 --default=vmlinuz-lts\n"
    "selinux --permissive\n"
    "repo --name=a --baseurl=http://example.com/$releasever/$basearch --cost 5 --includepkgs=x,y\n"
    "repo --name=b --mirrorlist=http://example.com/ml --excludepkgs=z --noverifyssl --proxy=http://p:3128\n"
    "%packages --excludedocs --instLangs=de:fr --nocore --excludeWeakdeps --ignoremissing\n"
    "@^workstation-environment\n@core\n@base --optional\n-@docs\nfoo\n-bar\n%end\n"
    "%pre\necho pre\n%end\n%post\necho post\n%end\n"
)
EMPTY_KS = "%packages\n%end\n"


@pytest.fixture(params=["parser", "handler"])
def read(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], Any]:
    """Reads a kickstart into what a caller passes: the parser read_kickstart() returns, or its handler."""

    def read_ks(text: str) -> Any:
        ks = kickstart.read_kickstart(write(tmp_path, text))
        return ks if request.param == "parser" else ks.handler

    return read_ks


def names(objs: list[Any]) -> list[str]:
    return [o.name for o in objs]


def test_root_partition_helpers(read: Callable[[str], Any]) -> None:
    """Bytes, and upstream's defaults: None, or the caller's default (in bytes) as it is."""
    full, empty = read(FULL_KS), read(EMPTY_KS)
    assert kickstart.get_image_size(full) == 1024 * 1024 * 1024
    assert kickstart.get_image_size(full, 5) == 1024 * 1024 * 1024
    assert kickstart.get_image_size(empty) is None
    assert kickstart.get_image_size(empty, 4096 * 1024 * 1024) == 4096 * 1024 * 1024
    assert kickstart.get_image_fstype(full) == "ext3" and kickstart.get_image_fstype(full, "ext4") == "ext3"
    assert kickstart.get_image_fstype(empty) is None and kickstart.get_image_fstype(empty, "ext4") == "ext4"
    assert kickstart.get_image_fslabel(full) == "ROOTL" and kickstart.get_image_fslabel(empty) is None
    assert [p.mountpoint for p in kickstart.get_partitions(full)] == ["/", "/home"]
    assert kickstart.get_partitions(full, ["ignored"]) == kickstart.get_partitions(full), "upstream ignores it"
    assert kickstart.get_partitions(empty) == []


def test_image_size_is_the_last_root_partition_with_a_size(read: Callable[[str], Any]) -> None:
    with pytest.warns(Warning, match="already been defined"):  # pykickstart's own parse warning
        ks = read("part / --fstype xfs\npart / --size 20\n")
    assert kickstart.get_image_size(ks) == 20 * 1024 * 1024
    assert kickstart.get_image_fstype(ks) == "xfs", "the first part / with a --fstype"


def test_bootloader_helpers(read: Callable[[str], Any]) -> None:
    full, empty = read(FULL_KS), read(EMPTY_KS)
    assert kickstart.get_timeout(full) == 7 and kickstart.get_timeout(full, 10) == 7
    assert kickstart.get_timeout(empty) is None and kickstart.get_timeout(empty, 10) == 10
    assert kickstart.get_timeout(read("bootloader --timeout 0\n"), 10) == 0
    assert kickstart.get_kernel_args(full) == "ro rd.live.image quiet console=ttyS0 x=1"
    assert kickstart.get_kernel_args(full, "rd.live.image") == "rd.live.image console=ttyS0 x=1"
    assert kickstart.get_kernel_args(empty) == "ro rd.live.image quiet"
    assert kickstart.get_kernel_args(empty, "base") == "base"
    assert kickstart.get_kernel_args(read("bootloader --timeout 3\n")) == "ro rd.live.image quiet"
    assert kickstart.get_default_kernel(full) == kickstart.get_default_kernel(full, "k") == "vmlinuz-lts"
    assert kickstart.get_default_kernel(empty) is None and kickstart.get_default_kernel(empty, "kernel") == "kernel"


def test_get_repos_eight_tuples(read: Callable[[str], Any]) -> None:
    full = read(FULL_KS)
    repos = kickstart.get_repos(full)
    assert repos == [
        ("a", "http://example.com/$releasever/$basearch", None, "", ["x", "y"], [], 5, True),
        ("b", "", "http://example.com/ml", "http://p:3128", [], ["z"], None, False),
    ]
    assert all(type(r) is kickstart.RepoTuple and isinstance(r, tuple) and len(r) == 8 for r in repos)
    name, baseurl, mirrorlist, proxy, inc, exc, cost, sslverify = repos[1]
    assert (name, mirrorlist, sslverify) == (repos[1].name, repos[1].mirrorlist, repos[1].sslverify)
    assert kickstart.get_repos(read(EMPTY_KS)) == []


def test_get_repos_repo_urls_replace_baseurl_and_drop_mirrorlist(read: Callable[[str], Any]) -> None:
    repos = kickstart.get_repos(read(FULL_KS), {"b": "http://mirror.invalid/b", "nosuch": "http://x"})
    assert [(r.name, r.baseurl, r.mirrorlist) for r in repos] == [
        ("a", "http://example.com/$releasever/$basearch", None),
        ("b", "http://mirror.invalid/b", None),
    ]


def test_get_repos_a_later_line_replaces_an_earlier_one(
    read: Callable[[str], Any], caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.warns(Warning, match="already been defined"):  # pykickstart's own parse warning
        ks = read("repo --name=a --baseurl=http://one\nrepo --name=b --baseurl=http://b\n"
                  "repo --name=a --baseurl=http://two\n")
    assert [(r.name, r.baseurl) for r in kickstart.get_repos(ks)] == [("a", "http://two"), ("b", "http://b")]
    assert "Overriding already specified repo a" in caplog.text


def test_package_helpers(read: Callable[[str], Any]) -> None:
    full, empty = read(FULL_KS), read(EMPTY_KS)
    assert kickstart.get_packages(full) == ["foo"]
    assert kickstart.get_packages(full, ["kernel"]) == ["foo", "kernel"]
    assert kickstart.get_packages(empty) == [] and kickstart.get_packages(empty, ["kernel"]) == ["kernel"]
    assert kickstart.get_excluded(full) == ["bar"] and kickstart.get_excluded(full, ["evil"]) == ["bar", "evil"]
    assert kickstart.get_excluded(empty) == [] and kickstart.get_excluded(empty, ["evil"]) == ["evil"]
    assert kickstart.get_environment(full) == "workstation-environment" and kickstart.get_environment(empty) is None
    handler = kickstart.as_handler(full)
    assert handler.packages.packageList == ["foo"] and handler.packages.excludedList == ["bar"], (
        "adding required packages leaves the kickstart's own lists alone")


def test_group_helpers(read: Callable[[str], Any]) -> None:
    """pykickstart's Group objects (name and include level), then the caller's."""
    full, empty = read(FULL_KS), read(EMPTY_KS)
    groups = kickstart.get_groups(full)
    assert all(isinstance(g, Group) for g in groups) and names(groups) == ["core", "base"]
    assert groups[1].include == pykickstart.constants.GROUP_ALL
    extra = Group("extra")
    assert kickstart.get_groups(full, [extra])[-1] is extra and kickstart.get_groups(empty, [extra]) == [extra]
    assert kickstart.get_groups(empty) == []
    assert names(kickstart.get_excluded_groups(full)) == ["docs"]
    assert names(kickstart.get_excluded_groups(full, [extra])) == ["docs", "extra"]
    assert kickstart.get_excluded_groups(empty) == []
    assert len(kickstart.as_handler(full).packages.groupList) == 2


def test_package_flags(read: Callable[[str], Any]) -> None:
    """Upstream's shapes: booleans, exclude_weakdeps True or None, inst_langs the string as written or None."""
    full, empty = read(FULL_KS), read(EMPTY_KS)
    assert (kickstart.ignore_missing(full), kickstart.ignore_missing(empty)) == (True, False)
    assert (kickstart.exclude_docs(full), kickstart.exclude_docs(empty)) == (True, False)
    assert (kickstart.exclude_weakdeps(full), kickstart.exclude_weakdeps(empty)) == (True, None)
    assert (kickstart.nocore(full), kickstart.nocore(empty)) == (True, False)
    assert (kickstart.inst_langs(full), kickstart.inst_langs(empty)) == ("de:fr", None)
    assert kickstart.inst_langs(read("%packages --instLangs=\n%end\n")) == "", "none: not the same as not given"


def test_script_helpers(read: Callable[[str], Any]) -> None:
    full, empty = read(FULL_KS), read(EMPTY_KS)
    assert [s.script for s in kickstart.get_pre_scripts(full)] == ["echo pre\n"]
    assert [s.script for s in kickstart.get_post_scripts(full)] == ["echo post\n"]
    assert all(isinstance(s, pykickstart.parser.Script) for s in kickstart.get_post_scripts(full))
    assert kickstart.get_pre_scripts(empty) == [] and kickstart.get_post_scripts(empty) == []


@pytest.mark.parametrize(
    ("text", "enabled"),
    [("selinux --enforcing\n", True), ("selinux --permissive\n", True), ("selinux --disabled\n", False),
     (EMPTY_KS, False)],
)
def test_selinux_enabled(read: Callable[[str], Any], text: str, enabled: bool) -> None:
    """Upstream's: only an enforcing or permissive line counts (the build treats no line differently)."""
    assert kickstart.selinux_enabled(read(text)) is enabled


def test_helpers_accept_parser_and_handler_alike(tmp_path: Path) -> None:
    ks = kickstart.read_kickstart(write(tmp_path, FULL_KS))
    for helper in (kickstart.get_image_size, kickstart.get_repos, kickstart.get_packages, kickstart.get_groups,
                   kickstart.get_kernel_args, kickstart.inst_langs, kickstart.selinux_enabled):
        assert helper(ks) == helper(ks.handler), helper.__name__


# ---- names and labels -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("/a/b/fedora-live.ks", None, "1"), "fedora-live-1"),
        (("/a/b/fedora-live.ks", "livecd-", "1"), "livecd-fedora-live-1"),
        (("livecd-fedora.ks", "livecd-", "1"), "livecd-fedora-1"),
        (("noext", None, "1"), "noext-1"),
        (("a.b.ks", None, "1"), "a.b-1"),
        (("x.ks", None, ""), "x-"),  # upstream's: the dash is always there
        (("livecd-fedora-minimal.ks", "livecd-", "202401311200"), "livecd-fedora-minimal-202401311200"),
    ],
)
def test_build_name(args: tuple[str, str | None, str], expected: str) -> None:
    assert kickstart.build_name(*args) == expected


X86_SUFFIX = "x86_64-202401311200"  # upstream livecd-creator's default label suffix: arch and time


@pytest.mark.parametrize(
    ("kscfg", "expected"),
    [
        ("livecd-fedora-minimal.ks", "fedora-minim-x86_64-202401311200"),  # too long: the prefix goes first
        ("fedora-live-workstation.ks", "fedora-live--x86_64-202401311200"),  # cut where it falls, as upstream
        ("my.ks", "livecd-my-x86_64-202401311200"),  # fits: the prefix stays
    ],
)
def test_build_name_maxlen_as_upstream(kscfg: str, expected: str) -> None:
    name = kickstart.build_name(kscfg, "livecd-", X86_SUFFIX, maxlen=32)
    assert name == expected and len(name) <= 32


def test_build_name_maxlen_shorter_than_the_suffix_keeps_the_suffix() -> None:
    """Upstream's "you get to keep both pieces": the suffix is never cut, so the name is longer than maxlen
    (and the kickstart's part is sliced with a negative end, as upstream slices it)."""
    assert kickstart.build_name("abcdef.ks", None, "0123456789", maxlen=5) == "-0123456789"
    assert kickstart.build_name("abcdefghijklmnop.ks", None, "0123456789", maxlen=5) == "abcdefghij-0123456789"


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
