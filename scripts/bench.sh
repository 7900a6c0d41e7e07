#!/usr/bin/env bash
# Benchmarks tracectl against bpftrace and a hand-written C/libbpf program:
# start-up, memory, per-event overhead, throughput, aggregations (per-event
# cost of count()/hist(), one print of 10 000 keys), compile time, start/end
# pairing (a paired getppid to JSON and to hist(latency)), context, stacks and
# sampling (profile:hz:N, symbolizing user stacks). Installs what
# it needs (Debian packages), builds tracectl in release mode, and writes
# bench/results.md (see bench/README.md).
#
#   scripts/bench.sh            # the full run (about 5-6 minutes on a quiet machine)
#   scripts/bench.sh --quick    # a smoke run (about 45 s): every measurement, few
#                               # iterations; fails only if a tool fails, never on goals
#
# Other arguments go to the harness (target/release/tracectl-bench --help).
# Needs root (it loads eBPF programs). The full run waits for running
# compilers (cargo, rustc, cc1, ...) to finish before each section, since
# they make the numbers noisy; --wait-quiet 0 skips that.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
for a in "$@"; do
    [ "$a" = --quick ] && quick=true
done

step() { printf '\n==> %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
    echo "error: the benchmarks load eBPF programs and must run as root" >&2
    exit 1
fi

# --- tools ------------------------------------------------------------------------
need=()
command -v bpftrace >/dev/null 2>&1 || need+=(bpftrace)
command -v clang-14 >/dev/null 2>&1 || need+=(clang-14)
command -v bpftool >/dev/null 2>&1 || need+=(bpftool)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ -e /usr/include/bpf/libbpf.h ] || need+=(libbpf-dev)
[ -e /usr/include/linux/bpf.h ] || need+=(linux-libc-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if [ ${#need[@]} -gt 0 ]; then
    step "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true

# --- builds -----------------------------------------------------------------------
step "cargo build --release (tracectl, tracectl-bench)"
cargo build --release -p tracectl -p tracectl-bench

step "building the workload and the C/libbpf floor (target/bench/)"
out=target/bench
mkdir -p "$out"
arch_inc=/usr/include/$(uname -m)-linux-gnu
[ -d "$arch_inc" ] || arch_inc=/usr/include/x86_64-linux-gnu
gcc -O2 -Wall -Wextra -Werror -pthread -o "$out/workload" bench/c/workload.c
# Section 9 (stacks and sampling) profiles the same workload built with frame
# pointers, so that its user stacks unwind.
gcc -O2 -fno-omit-frame-pointer -Wall -Wextra -Werror -pthread -o "$out/workload-fp" bench/c/workload.c
clang-14 -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_x86 -I"$arch_inc" \
    -c bench/c/floor.bpf.c -o "$out/floor.bpf.o"
bpftool gen skeleton "$out/floor.bpf.o" name floor_bpf >"$out/floor.skel.h"
# shellcheck disable=SC2046
gcc -O2 -Wall -Wextra -Werror -I"$out" -o "$out/floor" bench/c/floor.c \
    $(pkg-config --cflags --libs libbpf 2>/dev/null || echo -lbpf)

# --- run --------------------------------------------------------------------------
if $quick; then
    step "quick benchmark run (smoke test: the numbers mean little)"
    exec target/release/tracectl-bench --out "$out/results-quick.md" "$@"
fi
step "benchmark run (writes bench/results.md)"
exec target/release/tracectl-bench --out bench/results.md --raw "$out/results.json" "$@"
