#!/usr/bin/env bash
# Runs every tracectl test on this machine, installing what the tests need.
# The kernel tests load real eBPF programs: they need root and kernel BTF, and
# they FAIL (never skip) when those are missing and CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# --- set-up ------------------------------------------------------------------
need=()
command -v bpftool >/dev/null 2>&1 || need+=(bpftool)
command -v clang-14 >/dev/null 2>&1 || need+=(clang-14 llvm-14)
[ -e /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
[ -e /usr/include/linux/bpf.h ] || need+=(linux-libc-dev)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
# The recipe tests: `script` gives bash a terminal (bashreadline), sslsniff
# needs libssl, and every test counts our programs with bpftool.
command -v script >/dev/null 2>&1 || need+=(bsdutils)
command -v bash >/dev/null 2>&1 || need+=(bash)
ls /usr/lib/x86_64-linux-gnu/libssl.so.3 >/dev/null 2>&1 || need+=(libssl3)
if [ ${#need[@]} -gt 0 ]; then
    step "installing ${need[*]}"
    if [ "$(id -u)" != 0 ]; then
        echo "error: need root to apt-get install ${need[*]}" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The Prometheus exposition is checked by Prometheus' own promtool (the
# package, not its recommends: no exporters are needed).
if ! command -v promtool >/dev/null 2>&1; then
    step "installing prometheus (promtool)"
    if [ "$(id -u)" != 0 ]; then
        echo "error: need root to apt-get install prometheus" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# Preflight for the kernel tests: say clearly what is missing.
if [ "$(id -u)" != 0 ]; then
    echo "error: the kernel tests load eBPF programs and must run as root" >&2
    [ "${CI:-}" = true ] && exit 1
fi
if [ ! -r /sys/kernel/btf/vmlinux ]; then
    echo "error: this kernel exposes no BTF (/sys/kernel/btf/vmlinux); the kernel tests need it" >&2
    [ "${CI:-}" = true ] && exit 1
fi
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true

# --- checks ------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "eBPF templates: committed objects match a fresh reproducible build"
bash templates-ebpf/check.sh

step "cargo test --workspace"
# Tests that cannot exercise their subject here (kernel functions: no kprobes,
# no BPF trampolines) append "NOT RUN HERE: ..." lines naming the VM matrix
# rows that prove it (tests/common/elsewhere.rs); printed below for the log.
NOT_RUN_HERE=$PWD/target/not-run-here.txt
mkdir -p target
: >"$NOT_RUN_HERE"
export TRACECTL_NOT_RUN_HERE=$NOT_RUN_HERE
test_rc=0
cargo test --workspace --release -- --test-threads=2 || test_rc=$?
if [ -s "$NOT_RUN_HERE" ]; then
    step "tests not run on this machine, proven by the VM matrix (tests/vm/run.sh)"
    cat "$NOT_RUN_HERE"
fi
[ "$test_rc" = 0 ] || exit "$test_rc"
