#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Rebuilds the committed eBPF template objects (obj/*.bpf.o) reproducibly with
# Debian's clang-14: relative paths only, source prefixes mapped to ".", DWARF
# stripped (BTF and BTF.ext kept, so aya can load them and CO-RE-free
# programs keep their func/line info).
#
#   ./build.sh            # rebuild into ./obj
#   ./build.sh OUTDIR     # rebuild into OUTDIR (used by check.sh)
#
# Installs clang-14, llvm-14, libbpf-dev and linux-libc-dev with apt-get when
# they are missing.
set -eu

cd "$(dirname "$0")"
here=$(pwd)
out=${1:-obj}
case "$out" in /*) ;; *) out="$here/$out" ;; esac

CLANG=${CLANG:-clang-14}
STRIP=${STRIP:-llvm-strip-14}
KINDS="tracepoint tp_btf kprobe kretprobe fentry fexit uprobe uretprobe perf_event"

need=""
command -v "$CLANG" >/dev/null 2>&1 || need="$need clang-14"
command -v "$STRIP" >/dev/null 2>&1 || need="$need llvm-14"
[ -f /usr/include/bpf/bpf_helpers.h ] || need="$need libbpf-dev"
[ -f /usr/include/linux/bpf.h ] || need="$need linux-libc-dev"
if [ -n "$need" ]; then
	echo "build.sh: installing$need" >&2
	if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
	$SUDO apt-get update
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $need
fi

arch_inc=/usr/include/$(uname -m)-linux-gnu
[ -d "$arch_inc" ] || arch_inc=/usr/include/x86_64-linux-gnu

mkdir -p "$out"
for k in $KINDS; do
	tmp="$out/$k.bpf.o.tmp"
	"$CLANG" -O2 -g -target bpf -mcpu=v2 -D__TARGET_ARCH_x86 \
		-I"$arch_inc" \
		-ffile-prefix-map="$here"=. -fdebug-prefix-map="$here"=. \
		-fno-ident -Wall -Werror \
		-c "$k.bpf.c" -o "$tmp"
	"$STRIP" -g "$tmp"
	mv "$tmp" "$out/$k.bpf.o"
done
echo "build.sh: built $(echo $KINDS | wc -w) templates into $out"
