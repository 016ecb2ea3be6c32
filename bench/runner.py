"""One live ISO build through the imgcreate API, in its own process; the benchmark (bench/run.py) starts it.

Usage: ``python bench/runner.py SPEC.json``.  SPEC holds ks, name, compression, cache, tmpdir, output, logfile,
result, forcearch (None: this machine's architecture).  The build runs the same pipeline as ``livecd-creator``
(``imgcreate.build.pipeline.build_image``); the result file gets the library's own phase timings
(``creator.timings``), what dnf downloaded (``creator.install_result``), the image sizes, and this process's peak
memory (``ru_maxrss`` of RUSAGE_SELF: the Python process only, not mksquashfs or the other commands it runs).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _vm_hwm_kib() -> int | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def _time_disk_steps() -> dict[str, float]:
    """Seconds spent in each step of a disk build that the library times only as part of a phase: making the
    filesystems (``mkfs``), the conversion (qemu-img) and the compression (xz), the checksums, the manifest
    and the delivery.  Each function is wrapped in its module; time inside a nested wrapped call counts for
    the inner step only (the manifest's checksums are ``digest``, not ``manifest``)."""
    from imgcreate.build import builddir, manifest
    from imgcreate.disk import formatted, output
    from imgcreate.host import sparse

    steps: dict[str, float] = {}
    active: list[list[Any]] = []  # [step, start] of the wrapped calls under way, innermost last

    def wrap(module: Any, attr: str, step: str) -> None:
        inner = getattr(module, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            now = time.monotonic()
            if active:  # the outer step pauses
                outer = active[-1]
                steps[outer[0]] = steps.get(outer[0], 0.0) + now - outer[1]
            active.append([step, now])
            try:
                return inner(*args, **kwargs)
            finally:
                end = time.monotonic()
                _, since = active.pop()  # since: this call's start, or the end of its last nested call
                steps[step] = steps.get(step, 0.0) + end - since
                if active:
                    active[-1][1] = end

        setattr(module, attr, timed)

    for module, attr, step in ((formatted, "make_filesystem", "mkfs"), (output, "convert", "convert"),
                               (output, "compress", "compress"), (sparse, "digests", "digest"),
                               (manifest, "write_manifest", "manifest"), (builddir, "deliver", "deliver")):
        wrap(module, attr, step)
    return steps


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import imgcreate
    from imgcreate.build.artifacts import ArtifactKind
    from imgcreate.build.pipeline import BuildOptions, build_image
    from imgcreate.creator import ImageCreator

    log = logging.getLogger("imgcreate")
    log.setLevel(logging.DEBUG)
    handler = logging.FileHandler(spec["logfile"])
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)

    start = time.monotonic()
    ks = imgcreate.read_kickstart(spec["ks"])
    gc.freeze()  # as the commands do once the kickstart is read (imgcreate/cli/creators.py says why)
    result: dict[str, object] = {}
    creator: ImageCreator
    steps: dict[str, float] = {}
    if spec.get("kind") == "disk":
        disk = spec.get("disk") or {}
        from imgcreate.disk.appliance import DiskImageCreator  # only what appliance-creator imports

        steps = _time_disk_steps()
        creator = DiskImageCreator(ks, spec["name"], tmpdir=spec["tmpdir"], disk_format=disk.get("format", "raw"),
                                   compress=disk.get("compress"), checksum=bool(disk.get("checksum")),
                                   manifest=bool(disk.get("manifest")), disk_size_mib=disk.get("size_mib"))
    else:
        from imgcreate.config.model import basearch
        from imgcreate.live import LiveImageCreator, creator_for

        extra: dict[str, Any] = {"rootfs_type": spec["rootfs_type"]} if spec.get("rootfs_type") else {}
        if spec.get("title"):
            extra["title"] = spec["title"]
        if spec.get("mksquashfs_only"):  # the row that shows what tar2sqfs saves
            from imgcreate.pack import squashfs

            squashfs.tar2sqfs_args = lambda compression: None  # type: ignore[assignment]
        # the class livecd-creator picks: upstream's for the architecture with --forcearch (aarch64LiveImageCreator)
        live = creator_for(basearch(spec["forcearch"])) if spec.get("forcearch") else LiveImageCreator
        creator = live(ks, spec["name"], fslabel=spec["name"], compression_type=spec["compression"],
                       tmpdir=spec["tmpdir"], **extra)
    creator.forcearch = spec.get("forcearch")  # --forcearch: the image's programs run under qemu-user
    if spec.get("incremental"):
        creator.incremental = Path(spec["incremental"])
    with creator:
        files = build_image(creator, BuildOptions(destdir=Path(spec["output"]), cachedir=Path(spec["cache"])))
        builddir = creator.builddir
        assert builddir is not None
        squashfs_img = builddir / "iso/LiveOS/squashfs.img"
        result["squashfs_bytes"] = squashfs_img.stat().st_size if squashfs_img.exists() else None
    image = next(a.path for a in creator.artifacts if a.kind in (ArtifactKind.LIVE_ISO, ArtifactKind.DISK))
    result.update(
        api_seconds=time.monotonic() - start,
        timings={**creator.timings, **{f"bench.{k}": v for k, v in steps.items()}},
        delivered={p.name: [p.stat().st_size, p.stat().st_blocks * 512] for p in files},
        # None when --incremental reused an installed tree: nothing was installed or downloaded
        installed=len(creator.install_result.installed) if creator.install_result else 0,
        downloaded=len(creator.install_result.downloaded) if creator.install_result else 0,
        download_bytes=creator.install_result.download_bytes if creator.install_result else 0,
        cache_rpm_bytes=sum(p.stat().st_size for p in Path(spec["cache"]).rglob("*.rpm")),  # a row's own cache
        rootfs_bytes=getattr(creator, "minimal_size", None),
        iso_bytes=image.stat().st_size,
        maxrss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        vmhwm_kib=_vm_hwm_kib(),
    )
    # The delivered files are removed by bench/run.py after the process ended: not part of the build's time
    # (unlinking a fresh 10 GiB sparse disk waits for its dirty pages).
    Path(spec["result"]).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
