"""Every documented option of every tool, and the tests that check its effect on the result.

The man pages and --help are made from the parsers (scripts/manpages), so "documented" is "in the parser".
tests/unit/test_option_table.py fails when a parser has an option without a row here, when a row names an
option that no longer exists, and when a row names a test that does not exist.

A row is keyed by the option's first long name (``--name``), or a positional's metavar (``ISO``), and lists
test ids (``path::function`` or ``path::function[param]``; a ``[param]`` of a table-driven module is a key of
its EFFECTS/OPTION_EFFECTS table).  Each test checks what the option changed in what the tool delivered (the
image, its files, the tree, the exit status and output a user sees), not only that the tool accepted it.
Tests marked ``slow``/``full`` run only with LIVECD_TOOLS_FULL=1: a row proven only by those says so in
FULL_RUN_ONLY.
"""

from __future__ import annotations

UPSTREAM = "tests/integration/test_upstream_options.py::test_option_effect"
TOOLS = "tests/integration/test_tool_options.py::test_option_effect"
TOOLBOX = "tests/integration/test_toolbox.py"
MKBIARCH = "tests/integration/test_mkbiarch.py"
LIVEIMAGE_MOUNT = "tests/integration/test_liveimage_mount_options.py::test_option_effect"
ISO_TO_DISK = "tests/integration/test_iso_to_disk.py"
DISK = "tests/integration/test_disk_image.py"
CROSS = "tests/integration/test_cross_arch.py"  # --forcearch: built on this machine for aarch64
BOOT_TEST = "tests/boot/test_boot_test.py"
DISK_BOOT = "tests/boot/test_disk_boot.py::test_msdos_qcow2_disk_boots"  # appliance-creator boots it (--boot-test)
LOGGING_UNIT = "tests/unit/test_cli.py::test_levels_as_upstream"


I2D_PERSIST = "tests/integration/test_iso_to_disk_persist.py"
_COPY_OVERLAY = f"{I2D_PERSIST}::test_copy_overlay_livedir_swap_and_encrypted_home"
_FORMATTED = f"{I2D_PERSIST}::test_no_overlay_and_nothing_to_reset_delete_or_join_on_a_formatted_target"
_REINSTALL = ("tests/integration/test_iso_to_disk_reinstall.py::"
              "test_skipcopy_resets_the_overlay_and_a_reinstall_replaces_the_live_folder")
# livecd-iso-to-disk's persistence, home and live-directory options (imgcreate/cli/stickpersist.py).
_I2D_PERSIST: dict[str, tuple[str, ...]] = {
    "--overlayfs": (f"{I2D_PERSIST}::test_overlayfs_folder_and_copy_home",
                    f"{I2D_PERSIST}::test_overlayfs_temp_boots_an_overlay_in_ram",
                    f"{I2D_PERSIST}::test_a_refusal_from_the_command_line",
                    "tests/boot/test_iso_to_disk_boot.py::test_overlayfs_folder_overlay_persists"),
    "--no-overlay": (_FORMATTED,),
    "--copy-overlay": (_COPY_OVERLAY,),
    "--reset-overlay": (f"{I2D_PERSIST}::test_reset_overlay_keeps_renames_and_empties_the_targets_overlay", _FORMATTED,
                        _REINSTALL),
    "--copy-home": (f"{I2D_PERSIST}::test_overlayfs_folder_and_copy_home",
                    f"{I2D_PERSIST}::test_a_new_home_on_an_iso_that_carries_one_is_refused"),
    "--delete-home": (f"{I2D_PERSIST}::test_delete_home_is_needed_to_replace_the_targets_home", _FORMATTED),
    "--crypted-home": (_COPY_OVERLAY,),
    "--unencrypted-home": (_FORMATTED,),
    "--swap-size-mb": (_COPY_OVERLAY,),
    "--multi": (_FORMATTED, "tests/boot/test_iso_to_disk_boot.py::test_multi_both_systems_boot"),
    "--livedir": (_COPY_OVERLAY, _REINSTALL),
}

EDL = "tests/integration/test_editliveos_options.py"


def edl(*keys: str) -> tuple[str, ...]:
    return tuple(f"{EDL}::test_option_effect[{k}]" for k in keys)


def up(*keys: str) -> tuple[str, ...]:
    return tuple(f"{UPSTREAM}[{k}]" for k in keys)


def tools(*keys: str) -> tuple[str, ...]:
    return tuple(f"{TOOLS}[{k}]" for k in keys)


I2D_OPTIONS = "tests/integration/test_iso_to_disk_options.py::test_option_effect"


def i2d(*keys: str) -> tuple[str, ...]:
    return tuple(f"{I2D_OPTIONS}[{k}]" for k in keys)


def lm(*keys: str) -> tuple[str, ...]:
    return tuple(f"{LIVEIMAGE_MOUNT}[{k}]" for k in keys)


# livecd-creator and image-creator: one parser (image-creator ignores the "Live image options", with a warning).
_CREATOR: dict[str, tuple[str, ...]] = {
    "--help": up("--help"),
    "--version": up("--version"),
    "KICKSTART": up("KICKSTART"),
    "--config": up("--config"),
    "--fslabel": up("--fslabel"),
    "--name": up("--name"),
    "--base-on": (*up("--base-on", "--base-on (image)"), "tests/integration/test_live_options.py::"
                  "test_base_on_an_earlier_iso"),
    "--forcearch": (*up("--forcearch"), f"{CROSS}::test_image_creator_forcearch_makes_an_aarch64_root",
                    f"{CROSS}::test_aarch64_live_iso_boots_with_uefi_alone"),
    "--ksversion": (*up("--ksversion"), "tests/integration/test_kickstart_commands.py::"
                    "test_older_syntax_versions_keep_working[--ksversion]"),
    "--releasever": (*up("--releasever"), "tests/integration/test_repos.py::"
                     "test_releasever_and_basearch_are_substituted"),
    "--output": up("--output"),
    "--repo": (*up("--repo"), "tests/integration/test_live_options.py::"
               "test_repo_option_dracut_conf_args_and_positional_kickstart"),
    "--pkgverify-level": (*up("--pkgverify-level"), "tests/integration/test_repos.py::test_pkgverify_level"),
    "--image-type": up("--image-type"),
    "--source-date-epoch": (*up("--source-date-epoch"), "tests/integration/test_reproducible.py::"
                            "test_live_iso_rebuilds_bit_identical"),
    "--plugins": up("--plugins"),
    "--tmpdir": up("--tmpdir"),
    "--cache": (*up("--cache"), "tests/integration/test_loop_image.py::test_cache_is_reused_without_downloading"),
    "--cacheonly": (*up("--cacheonly"), "tests/integration/test_loop_image.py::"
                    "test_cache_is_reused_without_downloading"),
    "--nocleanup": (*up("--nocleanup"), "tests/integration/test_cleanup.py::"
                    "test_nocleanup_keeps_the_build_dir_but_unmounts"),
    "--incremental": (*up("--incremental"), "tests/integration/test_incremental.py::"
                      "test_rebuild_reuses_the_tree_and_gives_the_same_image"),
    "--no-incremental": up("--no-incremental"),
    "--shell": (*up("--shell"), "tests/integration/test_live_options.py::test_shell_option_runs_a_shell_in_the_image"),
    "--debug": (*up("--debug"), LOGGING_UNIT),
    "--verbose": (*up("--verbose"), LOGGING_UNIT),
    "--quiet": (*up("--quiet"), LOGGING_UNIT),
    "--logfile": (*up("--logfile"), "tests/unit/test_cli.py::test_logfile_appends"),
}

_LIVE: dict[str, tuple[str, ...]] = {
    "--title": up("--title"),
    "--product": up("--product"),
    "--compression-type": (*up("--compression-type", "--compression-type None"),
                           "tests/integration/test_live_options.py::test_compression_choices"),
    "--skip-compression": up("--skip-compression"),
    "--flat-squashfs": up("--flat-squashfs"),
    "--rootfs-type": (*up("--rootfs-type"), "tests/integration/test_erofs.py::"
                      "test_flat_erofs_lz4hc_and_an_erofs_ext4_build_based_on_it"),
    "--skip-minimize": up("--skip-minimize"),
    "--syslinux": up("--syslinux"),
    "--nomacboot": up("--nomacboot"),
    "--dracut-conf-args": up("--dracut-conf-args"),
    "--boot-test": (*up("--boot-test"), f"{BOOT_TEST}::test_livecd_boot_test_passes"),
    "--boot-test-expect": up("--boot-test-expect"),
    "--boot-test-timeout": up("--boot-test-timeout"),
    "--boot-test-memory": up("--boot-test-memory"),
}

_LOGGING = ("--debug", "--verbose", "--quiet", "--logfile")


def _logging(key: str) -> dict[str, tuple[str, ...]]:
    return {option: (*tools(key), LOGGING_UNIT) for option in _LOGGING}


OPTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "livecd-creator": {**_CREATOR, **_LIVE},
    # upstream's image-creator is livecd-creator: the live options are accepted, and ignored with one warning
    # (our --boot-test* are livecd-creator's only: a filesystem image does not boot)
    "image-creator": {**_CREATOR, **{option: up("image-creator live options") for option in _LIVE
                                     if not option.startswith("--boot-test")}},
    "appliance-creator": {
        "--help": tools("--help --version"),
        "--tool-version": tools("appliance-creator --tool-version"),
        "--config": (f"{DISK}::test_the_default_command_line_delivers_a_raw_xz",),
        "--name": (f"{DISK}::test_the_default_command_line_delivers_a_raw_xz",),
        "--version": (*tools("appliance-creator --version", "appliance-creator --releasever"),
                      f"{DISK}::test_raw_is_sparse_and_checksum_and_xml"),
        "--release": tools("appliance-creator --release"),
        "--format": (*tools("appliance-creator --format vmdk vdi"), f"{DISK}::test_msdos_qcow2_layout",
                     f"{DISK}::test_other_formats_from_the_command_line"),
        "--package": (f"{DISK}::test_package_and_include_as_upstream",
                      "tests/unit/test_disk_archive.py::test_zip_members_are_name_slash_file",
                      "tests/unit/test_disk_archive.py::test_tar_is_sparse_and_sorted"),
        "--include": (f"{DISK}::test_package_and_include_as_upstream",
                      "tests/unit/test_disk_archive.py::test_include_copies_a_folders_entries_or_a_file"),
        "--vmem": (f"{DISK}::test_raw_is_sparse_and_checksum_and_xml",),
        "--vcpu": (f"{DISK}::test_raw_is_sparse_and_checksum_and_xml",),
        "--checksum": (f"{DISK}::test_raw_is_sparse_and_checksum_and_xml",),
        "--manifest": ("tests/integration/test_disk_reproducible.py::test_raw_disk_and_its_files_rebuild_bit_identical",
                       f"{DISK}::test_the_default_command_line_delivers_a_raw_xz"),
        "--no-compress": (f"{DISK}::test_raw_is_sparse_and_checksum_and_xml",),
        "--compression": tools("appliance-creator --compression --disk-size"),
        "--disk-size": (*tools("appliance-creator --compression --disk-size"),
                        f"{DISK}::test_gpt_partition_table_is_the_kickstarts_and_grow_fills_the_disk"),
        "--releasever": tools("appliance-creator --releasever"),
        "--forcearch": (f"{CROSS}::test_aarch64_disk_is_uefi_only_with_the_aarch64_boot_loader",
                        f"{CROSS}::test_aarch64_packages_scriptlets_and_post_ran_for_aarch64"),
        "--repo": tools("appliance-creator --repo"),
        "--ksversion": tools("appliance-creator --ksversion"),
        "--source-date-epoch": ("tests/integration/test_disk_reproducible.py::"
                                "test_raw_disk_and_its_files_rebuild_bit_identical",),
        "--outdir": (f"{DISK}::test_the_default_command_line_delivers_a_raw_xz",
                     f"{DISK}::test_raw_is_sparse_and_checksum_and_xml"),
        "--tmpdir": (f"{DISK}::test_a_failure_leaves_nothing_attached", *tools("appliance-creator --nocleanup")),
        "--cache": tools("appliance-creator --cache"),
        "--cacheonly": tools("appliance-creator --cacheonly"),
        "--nocleanup": tools("appliance-creator --nocleanup"),
        "--incremental": tools("appliance-creator --incremental"),
        "--no-incremental": tools("appliance-creator --incremental"),
        "--boot-test": (*tools("appliance-creator --boot-test"), f"{BOOT_TEST}::test_appliance_boot_test_passes"),
        "--boot-test-expect": (DISK_BOOT, f"{BOOT_TEST}::test_appliance_boot_test_passes"),
        "--boot-test-timeout": (DISK_BOOT, f"{BOOT_TEST}::test_appliance_boot_test_passes"),
        "--boot-test-memory": (DISK_BOOT, f"{BOOT_TEST}::test_appliance_boot_test_passes"),
        **_logging("appliance-creator logging"),
    },
    "editliveos": {
        "--help": tools("--help --version"),
        "--version": tools("--help --version"),
        "ISO": (f"{TOOLBOX}::test_edited_iso_has_the_package_argument_and_script",),
        "--output": (f"{TOOLBOX}::test_edited_iso_has_the_package_argument_and_script",
                     *tools("editliveos --cacheonly --nocleanup, upstream's names")),
        "--name": (*tools("editliveos --name, no --output"), *edl("--name :TEXT"),
                   f"{TOOLBOX}::test_edited_iso_has_the_package_argument_and_script"),
        "--package": (f"{TOOLBOX}::test_edited_iso_has_the_package_argument_and_script",
                      *tools("editliveos --repo file --releasever")),
        "--repo": (*tools("editliveos --repo file --releasever", "editliveos --repo URL"),
                   f"{TOOLBOX}::test_edited_iso_has_the_package_argument_and_script"),
        "--extra-kernel-args": (f"{TOOLBOX}::test_edited_iso_has_the_package_argument_and_script",
                                *tools("editliveos --cacheonly --nocleanup, upstream's names")),
        "--script": (f"{TOOLBOX}::test_edited_iso_has_the_package_argument_and_script",),
        "--kickstart": tools("editliveos --kickstart"),
        "--compression-type": tools("editliveos --compression-type",
                                    "editliveos --cacheonly --nocleanup, upstream's names"),
        "--releasever": tools("editliveos --repo file --releasever"),
        "--tmpdir": tools("editliveos --tmpdir"),
        "--cache": tools("editliveos --cache", "editliveos --cacheonly --nocleanup, upstream's names"),
        "--source-date-epoch": ("tests/integration/test_reproducible.py::test_editliveos_rebuilds_bit_identical",),
        "--cacheonly": tools("editliveos --cacheonly --nocleanup, upstream's names"),
        "--nocleanup": tools("editliveos --cacheonly --nocleanup, upstream's names"),
        "--plugins": (*tools("editliveos --cacheonly --nocleanup, upstream's names"), *up("--plugins")),
        "--noshell": tools("editliveos --noshell", "editliveos --cacheonly --nocleanup, upstream's names"),
        "--exclude": edl("--exclude"),
        "--include": edl("--include"),
        "--seclude": tools("editliveos --seclude"),
        "--skip-seclude": tools("editliveos --skip-refresh --refresh-uncompressed --skip-seclude"),
        "--skip-compression": edl("--skip-compression"),
        "--compress": edl("--compress"),
        "--flatten-squashfs": edl("--flatten-squashfs"),
        "--refresh-only": tools("editliveos --refresh-only"),
        "--skip-refresh": tools("editliveos --skip-refresh --refresh-uncompressed --skip-seclude"),
        "--refresh-uncompressed": tools("editliveos --skip-refresh --refresh-uncompressed --skip-seclude"),
        "--rootfs-size-gb": tools("editliveos --rootfs-size-gb"),
        "--extra-space-mb": tools("editliveos --extra-space-mb"),
        "--arch": tools("editliveos --arch"),
        "--skip-SELinux": (*edl("--skip-SELinux"), *tools("editliveos --skip-SELinux")),
        "--releasefile": edl("--releasefile"),
        "--builder": edl("--builder"),
        "--clone": edl("--clone"),
        "--rootfsimg": edl("--rootfsimg"),
        "--overlay": edl("--overlay"),
        "--home-size-mb": edl("--home-size-mb"),
        "--encrypted-home": edl("--encrypted-home"),
        "--unencrypted-home": edl("--unencrypted-home"),
        "--overlay-size-mb": edl("--overlay-size-mb"),
        **_logging("editliveos logging"),
    },
    "livecd-iso-to-disk": {
        "--help": (*tools("--help --version"), *i2d("--help")),
        "--version": tools("--help --version"),
        "ISO": i2d("ISO"),
        "TARGET": (*i2d("TARGET"), f"{ISO_TO_DISK}::test_adds_the_live_system_to_a_fat_partition_and_keeps_its_files",
                   f"{ISO_TO_DISK}::test_partition_mode_refusals"),
        "--format": (*i2d("--format"), *tools("livecd-iso-to-disk --format --reset-mbr")),
        "--msdos": i2d("--msdos"),
        "--efi": i2d("--efi"),
        "--noesp": i2d("--noesp"),
        "--nomac": i2d("--nomac"),
        "--reset-mbr": (*i2d("--reset-mbr"), *tools("livecd-iso-to-disk --format --reset-mbr")),
        "--skipcopy": (*i2d("--skipcopy"), _REINSTALL),
        "--noverify": (*i2d("--noverify"), *tools("livecd-iso-to-disk --noverify")),
        "--force": (*i2d("--force"), f"{ISO_TO_DISK}::test_an_existing_file_is_overwritten_only_with_force",
                    f"{ISO_TO_DISK}::test_adds_the_live_system_to_a_fat_partition_and_keeps_its_files"),
        "--xo": i2d("--xo"),
        "--xo-no-home": i2d("--xo-no-home"),
        "--timeout": i2d("--timeout"),
        "--totaltimeout": i2d("--totaltimeout"),
        "--nobootmsg": i2d("--nobootmsg"),
        "--nomenu": i2d("--nomenu"),
        "--extra-kernel-args": (*i2d("--extra-kernel-args"), f"{ISO_TO_DISK}::test_overlay_and_home_stick"),
        "--compress": i2d("--compress"),
        "--skipcompress": i2d("--skipcompress"),
        "--overlay-size-mb": (*i2d("--overlay-size-mb"), f"{ISO_TO_DISK}::test_overlay_and_home_stick"),
        "--home-size-mb": (*i2d("--home-size-mb"), f"{ISO_TO_DISK}::test_overlay_and_home_stick"),
        "--updates": i2d("--updates"),
        "--ks": i2d("--ks"),
        "--label": (*i2d("--label"), f"{ISO_TO_DISK}::test_overlay_and_home_stick"),
        "--size-mb": (f"{ISO_TO_DISK}::test_gpt_noesp_stick_labelled_live_in_a_given_size",
                      f"{ISO_TO_DISK}::test_an_image_file_is_used_whole_grown_or_cut_to_size_mb"),
        **_I2D_PERSIST,
        **_logging("livecd-iso-to-disk logging"),
    },
    "liveimage-mount": {
        "--help": (*tools("--help --version"), *lm("--help")),
        "--version": tools("--help --version"),
        "ISO|DEVICE": (f"{TOOLBOX}::test_mount_read_only_shows_the_root",
                       f"{TOOLBOX}::test_mount_a_stick_read_only_with_its_home", *lm("ISO|DEVICE")),
        "MOUNTPOINT": (f"{TOOLBOX}::test_mount_read_only_shows_the_root", *lm("ISO|DEVICE")),
        "COMMAND": (f"{TOOLBOX}::test_mount_read_only_shows_the_root",
                    f"{TOOLBOX}::test_failing_command_returns_its_status_and_unmounts", *lm("ISO|DEVICE")),
        "--unmount": lm("--persist"),
        "--read-only": lm("--read-only"),
        "--chroot": lm("--chroot"),
        "--mount-hacks": lm("--mount-hacks"),
        "--persist": lm("--persist"),
        "--overlay": (f"{TOOLBOX}::test_overlay_keeps_writes_for_the_next_mount",
                      f"{TOOLBOX}::test_mount_a_flat_sticks_partition_through_its_overlayfs_overlay", *lm("--overlay")),
        "--ovlsize": lm("--ovlsize"),
        "--dnfcache": lm("--mount-hacks"),
        "--tmpdir": (*tools("liveimage-mount --tmpdir"), *lm("--tmpdir")),
        **_logging("liveimage-mount logging"),
    },
    "livecd-iso-to-pxeboot": {
        "--help": tools("--help --version"),
        "--version": tools("--help --version"),
        "ISO": (f"{TOOLBOX}::test_pxe_tree",),
        "--output": (f"{TOOLBOX}::test_pxe_tree", *tools("livecd-iso-to-pxeboot --http-url, no --output")),
        "--http-url": (*tools("livecd-iso-to-pxeboot --http-url, no --output"),
                       "tests/boot/test_toolbox_boot.py::test_pxe_tree_boots_over_http"),
        **_logging("livecd-iso-to-pxeboot logging"),
    },
    "mkbiarch": {
        "--help": (f"{MKBIARCH}::test_mkbiarch_usage",),
        "--version": (f"{MKBIARCH}::test_mkbiarch_usage",),
        "X86_ISO": (f"{MKBIARCH}::test_two_live_isos_on_one_disk_image",),
        "X64_ISO": (f"{MKBIARCH}::test_two_live_isos_on_one_disk_image",),
        "TARGET": (f"{MKBIARCH}::test_two_live_isos_on_one_disk_image", f"{MKBIARCH}::test_mkbiarch_bad_input"),
        "--debug": (f"{MKBIARCH}::test_two_live_isos_on_one_disk_image",),
        "--verbose": (f"{MKBIARCH}::test_two_live_isos_on_one_disk_image",),
        "--quiet": (f"{MKBIARCH}::test_mkbiarch_bad_input",),
        "--logfile": (f"{MKBIARCH}::test_two_live_isos_on_one_disk_image",),
    },
}

# Options whose effect only a slow/full test checks (none now: appliance-creator's --boot-test-* are passed to the
# msdos disk's build, whose boot test is the disk's boot in the default run).
FULL_RUN_ONLY: dict[str, frozenset[str]] = {}
