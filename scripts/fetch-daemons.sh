#!/usr/bin/env bash
# Fetch real NTP daemons for the shim tests: Debian's chrony and ntpsec packages, unpacked
# (never installed: no service, no user, nothing outside the cache folder).
#
#   scripts/fetch-daemons.sh            # into .cache/daemons/ (gitignored)
#   TIMEKEEPERS_DAEMONS_DIR=/some/dir scripts/fetch-daemons.sh
#
# Needs apt-get (a Debian/Ubuntu machine; `apt-get update` first if the lists are empty) and
# dpkg-deb.  Idempotent: a package already unpacked is skipped.  The binaries end up in
# $DIR/root/usr/sbin/{chronyd,ntpd}; tk_shim.daemons finds them there.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${TIMEKEEPERS_DAEMONS_DIR:-.cache/daemons}"
mkdir -p "$DIR/debs" "$DIR/root"
for cmd in apt-get dpkg-deb; do
    command -v "$cmd" >/dev/null || { echo "fetch-daemons: $cmd not found (Debian/Ubuntu only)" >&2; exit 2; }
done
for pkg in chrony ntpsec; do
    stamp="$DIR/root/.unpacked-$pkg"
    if [[ -e "$stamp" ]]; then
        echo "fetch-daemons: $pkg already unpacked ($(cat "$stamp"))"
        continue
    fi
    (cd "$DIR/debs" && apt-get download "$pkg")
    deb="$(ls -t "$DIR/debs/${pkg}"_*.deb | head -n 1)"
    dpkg-deb -x "$deb" "$DIR/root"
    basename "$deb" > "$stamp"
    echo "fetch-daemons: unpacked $(basename "$deb")"
done
for bin in chronyd ntpd; do
    path="$DIR/root/usr/sbin/$bin"
    if missing="$(ldd "$path" 2>/dev/null | grep 'not found')"; then
        echo "fetch-daemons: $bin needs libraries this machine lacks:" >&2
        echo "$missing" >&2
    fi
done
"$DIR/root/usr/sbin/chronyd" -v
"$DIR/root/usr/sbin/ntpd" --version
