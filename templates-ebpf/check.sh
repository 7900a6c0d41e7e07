#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Rebuilds the templates into a temporary directory and compares them with the
# committed objects in obj/. Exits 1 when they differ (the sources changed
# without rebuilding, or the toolchain differs from Debian bookworm's clang-14).
set -eu

cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
./build.sh "$tmp" >/dev/null

status=0
for f in "$tmp"/*.bpf.o; do
	name=$(basename "$f")
	if [ ! -f "obj/$name" ]; then
		echo "check.sh: obj/$name is missing: run templates-ebpf/build.sh and commit obj/" >&2
		status=1
	elif ! cmp -s "$f" "obj/$name"; then
		echo "check.sh: obj/$name differs from a rebuild of its sources: run templates-ebpf/build.sh and commit obj/" >&2
		status=1
	fi
done
for f in obj/*.bpf.o; do
	[ -f "$tmp/$(basename "$f")" ] || {
		echo "check.sh: $f has no source any more: remove it" >&2
		status=1
	}
done
[ $status -eq 0 ] && echo "check.sh: committed templates match their sources"
exit $status
