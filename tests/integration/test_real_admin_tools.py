"""The kickstart's ``firewall`` and ``selinux`` commands run the image's real tools, not stand-ins: the
real-userland flavour ships Debian's firewall-offline-cmd (firewalld, a Python program, with the Python it
needs) and setfiles (policycoreutils), repackaged under Fedora's names (testdistro/extras.py).

One loop image (image-creator, no boot) is built; the checks read what the tools wrote into it: firewalld's zone
XML and firewalld.conf, and the SELinux labels setfiles put on the files (the policy is the test distribution's
two-line ``file_contexts``: Debian's selinux-policy-default ships only policy modules, compiled by semodule at
install time, too heavy for a test image; see testdistro/README.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import Built, MountedImage, MountImage, image_creator

pytestmark = pytest.mark.root

KS = """repo --name=testdistro --baseurl=file://{repo}
part / --size 300
firewall --enabled --port=22:tcp --service=http
selinux --enforcing
%packages
@core
bash
firewalld
policycoreutils
selinux-policy-targeted
%end
%post
echo made-in-post > /etc/made-in-post
%end
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, userland_repo: Path) -> Built:
    tmp = tmp_path_factory.mktemp("admin-tools")
    ks = tmp / "admin.ks"
    ks.write_text(KS.format(repo=userland_repo))
    return image_creator(ks, tmp, fslabel="admin")


@pytest.fixture
def img(built: Built, mount_image: MountImage) -> MountedImage:
    return mount_image(built.image)


def _label(path: Path) -> str:
    return os.getxattr(path, "security.selinux", follow_symlinks=False).rstrip(b"\0").decode()


def test_the_tools_are_the_real_ones(img: MountedImage) -> None:
    """No stand-in ran (they log to /var/log/standin-calls.log); setfiles is an ELF program, and the firewall
    tool a Python script run by the image's own python3."""
    assert not (img / "var/log/standin-calls.log").exists()
    assert (img / "usr/sbin/setfiles").read_bytes()[:4] == b"\x7fELF"
    assert (img / "usr/bin/firewall-offline-cmd").read_text().startswith("#!/usr/bin/python3")
    assert (img / "usr/lib/python3/dist-packages/firewall/__init__.py").is_file()


def test_firewall_offline_cmd_wrote_the_zone(img: MountedImage) -> None:
    """``--port=22:tcp --service=http`` end up in the default zone, next to the zone's own services."""
    conf = (img / "etc/firewalld/firewalld.conf").read_text().splitlines()
    assert "DefaultZone=public" in conf
    zone = (img / "etc/firewalld/zones/public.xml").read_text()
    assert '<service name="http"/>' in zone and '<port port="22" protocol="tcp"/>' in zone, zone
    assert '<service name="ssh"/>' in zone, "the zone's defaults are kept"


def test_setfiles_labelled_the_files(img: MountedImage) -> None:
    """Every file carries the label file_contexts gives its path, files %post made included (the relabel
    comes last), and SELINUX=enforcing is in the image's config."""
    assert "SELINUX=enforcing" in (img / "etc/selinux/config").read_text().splitlines()
    assert _label(img / "tmp") == "system_u:object_r:tmp_t:s0"
    for path in ("etc/passwd", "usr/sbin/setfiles", "etc/made-in-post", "etc/firewalld/zones/public.xml", ""):
        assert _label(img / path) == "system_u:object_r:default_t:s0", path
