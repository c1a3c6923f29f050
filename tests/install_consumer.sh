#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the build into a temporary DESTDIR, then builds tests/consumer.c
# the way a user would, with `pkg-config --cflags --libs smxkern`, linked
# against the shared library and against the static one, and runs both.
# Usage: install_consumer.sh BUILD_DIR CONSUMER_C [CC [EXE_WRAPPER...]]
# CC may be several words ("ccache gcc"). For a cross build, pass the cross
# compiler and the exe wrapper, and set PKG_CONFIG_LIBDIR to the target's
# pkgconfig directories so that no .pc file of the build machine is used.
set -eu
build=$1 src=$2
cc=${3:-cc}
shift 2; [ $# -gt 0 ] && shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

DESTDIR=$tmp meson install -C "$build" --no-rebuild --quiet
pcfile=$(find "$tmp" -name smxkern.pc | head -n 1)
[ -n "$pcfile" ] || { echo "smxkern.pc was not installed"; exit 1; }
pcdir=$(dirname "$pcfile")
# The sysroot is prepended to the -I and -L paths of the installed .pc.
pc() { PKG_CONFIG_SYSROOT_DIR="$tmp" PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" pkg-config "$@" smxkern; }

echo "pkg-config --cflags --libs: $(pc --cflags --libs)"
# shellcheck disable=SC2046
$cc -o "$tmp/consumer_shared" "$src" $(pc --cflags) $(pc --libs) -lm
libdir=$(dirname "$(find "$tmp" -name 'libsmxkern.so*' | head -n 1)")
LD_LIBRARY_PATH="$libdir" "$@" "$tmp/consumer_shared"

# Static: the same flags, with the archive picked explicitly.
# shellcheck disable=SC2046
$cc -o "$tmp/consumer_static" "$src" $(pc --cflags) \
    $(pc --static --libs | sed 's/-lsmxkern/-l:libsmxkern.a/') -lm
"$@" "$tmp/consumer_static"
if command -v ldd >/dev/null 2>&1 && [ $# -eq 0 ] && ldd "$tmp/consumer_static" | grep -q libsmxkern; then
    echo "static consumer still links libsmxkern.so"; exit 1
fi
# ldd cannot inspect a foreign binary; readelf reads any ELF target.
if command -v readelf >/dev/null 2>&1 && [ $# -gt 0 ] &&
    readelf -d "$tmp/consumer_static" | grep NEEDED | grep -q libsmxkern; then
    echo "static consumer still links libsmxkern.so"; exit 1
fi
echo "install + pkg-config consumer: shared and static OK"
