
# The aarch64 flavour's own checks: the machine's architecture, and the rpm database (no rpm program here: its
# file, which the build wrote with the host's rpm for the image's architecture).
say "arch: $(uname -m)"
for db in /var/lib/rpm/rpmdb.sqlite /usr/lib/sysimage/rpm/rpmdb.sqlite; do
    if [ -f "$db" ]; then
        say "rpmdb: $db bytes=$(wc -c < "$db") header=$(head -c 15 "$db")"
    fi
done
