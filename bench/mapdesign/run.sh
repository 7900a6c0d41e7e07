#!/usr/bin/env bash
# The map-design experiment behind tracectl's aggregation sink (issue 9):
# builds mapdesign.bpf.c + mapdesign.c into target/bench/mapdesign, then
# for 1 and 2 threads of one process (one hot key) prints each design's BPF
# run time per event (kernel.bpf_stats_enabled) as the median of ROUNDS runs.
#
#   bash bench/mapdesign/run.sh [ROUNDS] [CALLS]     (default 5, 2000000)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
calls=${2:-2000000}
out=target/bench/mapdesign
mkdir -p "$out"
arch_inc=/usr/include/$(uname -m)-linux-gnu
clang-14 -O2 -g -target bpf -mcpu=v3 -I"$arch_inc" -c bench/mapdesign/mapdesign.bpf.c -o "$out/mapdesign.bpf.o"
bpftool gen skeleton "$out/mapdesign.bpf.o" name mapdesign_bpf >"$out/mapdesign.skel.h"
gcc -O2 -Wall -Wextra -Werror -I"$out" -o "$out/mapdesign" bench/mapdesign/mapdesign.c -lbpf -lpthread
old=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
trap 'sysctl -qw kernel.bpf_stats_enabled=$old' EXIT
echo "| threads (one key) | design | ns per event (median of $rounds) | counted / expected |"
echo "|---|---|---|---|"
for threads in 1 2; do
    for r in $(seq "$rounds"); do
        "$out/mapdesign" "$threads" "$calls"
    done | python3 -c '
import sys, statistics
t = sys.argv[1]
rows = {}
for line in sys.stdin:
    name, ns, got, want = line.split()
    r = rows.setdefault(name, [[], got, want])
    r[0].append(float(ns))
    r[1] = got
for name, (ns, got, want) in rows.items():
    print(f"| {t} | {name} | {statistics.median(ns):.1f} | {got} / {want} |")
' "$threads"
done
