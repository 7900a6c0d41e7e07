#!/usr/bin/env bash
# Kernel matrix: runs tracectl's probe-kind and recipe tests on several Linux
# kernels in qemu VMs and prints a kernel x test matrix. See tests/vm/README.md.
#
# usage: tests/vm/run.sh [options]
#   -k, --kernels LIST   comma-separated kernel series (default: 5.10,6.1,6.12,6.18,7.3)
#   -j, --jobs N         VMs at a time (default: 2)
#   -t, --timeout SECS   per-VM timeout, boot to power-off (default: 600)
#       --cache DIR      kernel cache (default: /var/cache/tracectl-vm)
#       --tracectl PATH  test this binary instead of building target/release/tracectl
#       --offline        do not refresh the package lists; use cached kernels only
#       --keep           keep the work directory (consoles, every tracectl output)
#       --accel A        qemu accelerator (default: tcg,thread=multi; e.g. kvm)
#       --cpu C          qemu CPU model (default: max; e.g. host with kvm)
#       --memory MB      guest memory (default: 1536)
#       --smp N          guest CPUs (default: 1)
# Environment: TRACECTL_VM_KERNELS, TRACECTL_VM_JOBS, TRACECTL_VM_TIMEOUT,
# TRACECTL_VM_CACHE, TRACECTL_VM_ACCEL, TRACECTL_VM_CPU, TRACECTL_VM_MEMORY,
# TRACECTL_VM_SMP set the same defaults.
# Exit status: 0 when every test on every kernel passed, 1 otherwise, 2 on usage errors.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=tests/vm/kernels.sh
source "$HERE/kernels.sh"

KERNELS=${TRACECTL_VM_KERNELS:-5.10,6.1,6.12,6.18,7.3}
JOBS=${TRACECTL_VM_JOBS:-2}
TIMEOUT=${TRACECTL_VM_TIMEOUT:-600}
CACHE=${TRACECTL_VM_CACHE:-/var/cache/tracectl-vm}
ACCEL=${TRACECTL_VM_ACCEL:-tcg,thread=multi}
CPU=${TRACECTL_VM_CPU:-max}
MEMORY=${TRACECTL_VM_MEMORY:-1536}
SMP=${TRACECTL_VM_SMP:-1}
TRACECTL=""
OFFLINE=0
KEEP=0

usage() {
    sed -n '/^# usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}
need_arg() { [ $# -ge 2 ] && [ -n "$2" ] || { echo "run.sh: $1 needs a value" >&2; usage 2; }; }
while [ $# -gt 0 ]; do
    case $1 in
    -k | --kernels) need_arg "$@"; KERNELS=$2; shift 2 ;;
    -j | --jobs) need_arg "$@"; JOBS=$2; shift 2 ;;
    -t | --timeout) need_arg "$@"; TIMEOUT=$2; shift 2 ;;
    --cache) need_arg "$@"; CACHE=$2; shift 2 ;;
    --tracectl) need_arg "$@"; TRACECTL=$2; shift 2 ;;
    --accel) need_arg "$@"; ACCEL=$2; shift 2 ;;
    --cpu) need_arg "$@"; CPU=$2; shift 2 ;;
    --memory) need_arg "$@"; MEMORY=$2; shift 2 ;;
    --smp) need_arg "$@"; SMP=$2; shift 2 ;;
    --offline) OFFLINE=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage 2 ;;
    esac
done
for v in JOBS TIMEOUT MEMORY SMP; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: $v must be a positive integer, not '${!v}'" >&2; exit 2; }
done
IFS=', ' read -r -a SERIES <<<"$KERNELS"
[ ${#SERIES[@]} -gt 0 ] || { echo "run.sh: no kernels given" >&2; exit 2; }
for s in "${SERIES[@]}"; do
    [[ $s =~ ^[0-9]+\.[0-9]+$ ]] || { echo "run.sh: kernel series must look like 6.12, not '$s'" >&2; exit 2; }
done

T_START=$(date +%s)
[ "$(id -u)" = 0 ] || die "run as root (it installs packages with apt-get and runs qemu)"

# --- tools -------------------------------------------------------------------
is_static() { ! LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter'; }
pkgs=()
command -v qemu-system-x86_64 >/dev/null || pkgs+=(qemu-system-x86)
if ! [ -x /bin/busybox ] || ! command -v readelf >/dev/null || ! is_static /bin/busybox; then
    pkgs+=(busybox-static)
fi
command -v readelf >/dev/null || pkgs+=(binutils)
command -v modprobe >/dev/null && command -v depmod >/dev/null || pkgs+=(kmod)
command -v cpio >/dev/null || pkgs+=(cpio)
command -v xz >/dev/null || pkgs+=(xz-utils)
command -v zstd >/dev/null || pkgs+=(zstd)
command -v gcc >/dev/null || pkgs+=(gcc)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || pkgs+=(libc6-dev)
command -v flock >/dev/null || pkgs+=(util-linux)
command -v jq >/dev/null || pkgs+=(jq)
if [ ${#pkgs[@]} -gt 0 ]; then
    log "installing ${pkgs[*]}"
    apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null ||
        die "apt-get install ${pkgs[*]} failed"
fi
is_static /bin/busybox || die "/bin/busybox is not statically linked (install busybox-static)"
if [[ $ACCEL == kvm* ]] && ! [ -w /dev/kvm ]; then
    die "--accel $ACCEL needs a usable /dev/kvm"
fi

# --- work directory ------------------------------------------------------------
WORK=$(mktemp -d /tmp/tracectl-vm.XXXXXX)
cleanup() {
    local rc=$? f
    for f in "$WORK"/*/timeout.pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ "$KEEP" = 1 ]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
PAYLOAD=$WORK/payload
mkdir -p "$PAYLOAD"

# --- tracectl and the guest helper ------------------------------------------
if [ -z "$TRACECTL" ]; then
    log "building tracectl (cargo build --release)"
    (cd "$ROOT" && cargo build --release -q -p tracectl --bin tracectl) || die "cargo build failed"
    TRACECTL=$ROOT/target/release/tracectl
fi
[ -x "$TRACECTL" ] || die "$TRACECTL is not an executable"
# A copy: the target directory may be rebuilt while the VMs run.
cp "$TRACECTL" "$PAYLOAD/tracectl"
TC=$PAYLOAD/tracectl
gcc -static -O2 -Wall -o "$PAYLOAD/tvm" "$HERE/tvm.c" || die "building tests/vm/tvm.c failed"
cp "$HERE/guest.sh" "$PAYLOAD/guest.sh"

# The host's Rust tests on kernel functions (host-tests.txt, "TARGET TEST"
# lines; see tests/common/elsewhere.rs): their binaries go in payload/tests/,
# and tests/tracectl-path names the tracectl compiled into them
# (CARGO_BIN_EXE_tracectl), where the guest puts the payload's tracectl.
cp "$HERE/host-tests.txt" "$PAYLOAD/host-tests.txt"
mkdir -p "$PAYLOAD/tests"
mapfile -t TEST_TARGETS < <(sed 's/#.*//' "$HERE/host-tests.txt" | awk 'NF { print $1 }' | sort -u)
if [ ${#TEST_TARGETS[@]} -gt 0 ]; then
    log "building the host tests the guests run: ${TEST_TARGETS[*]} (cargo test --release --no-run)"
    targs=()
    for t in "${TEST_TARGETS[@]}"; do targs+=(--test "$t"); done
    (cd "$ROOT" && cargo test --release -q -p tracectl --no-run --message-format=json "${targs[@]}") \
        >"$WORK/cargo-test.json" || die "cargo test --no-run ${targs[*]} failed"
    jq -r 'select(.reason == "compiler-artifact" and .executable != null)
        | [(.target.kind | join(",")), .target.name, .executable] | @tsv' \
        "$WORK/cargo-test.json" >"$WORK/artifacts.tsv" || die "cannot read cargo's artifact list"
    for t in "${TEST_TARGETS[@]}"; do
        exe=$(awk -F'\t' -v t="$t" '$1 == "test" && $2 == t { print $3 }' "$WORK/artifacts.tsv")
        [ -n "$exe" ] || die "cargo built no test binary '$t' (named in tests/vm/host-tests.txt)"
        cp "$exe" "$PAYLOAD/tests/$t"
    done
    exe=$(awk -F'\t' '$1 == "bin" && $2 == "tracectl" { print $3 }' "$WORK/artifacts.tsv")
    [ -n "$exe" ] || die "cargo test --no-run reported no tracectl binary"
    echo "$exe" >"$PAYLOAD/tests/tracectl-path"
fi

# Bundled recipes, at run time (specs/ changes): recipes.tsv has NAME, kfunc
# (1 if it has kfunc:/kretfunc: probes), REQUIRES (paths it needs) and a
# -p NAME=VALUE for each parameter without a default (check --load requires
# every parameter). From `tracectl list --json`; from the text listing and
# `tracectl fmt --to dsl` when the binary has no --json.
param_value() {
    case $1 in
    bool) echo false ;;
    string) echo x ;;
    *) echo 1 ;;
    esac
}
if json=$("$TC" list --json 2>/dev/null) && jq -e '.recipes' >/dev/null 2>&1 <<<"$json"; then
    jq -r '.recipes | unique_by(.name)[] |
        [ .name,
          (if any(.probes[]?; .probe | test("^k(ret)?func:")) then "1" else "0" end),
          ([.requires[]? | select(startswith("/"))] | if length == 0 then "-" else join(",") end),
          ([.params[]? | select(has("default") | not) |
              "-p \(.name)=\(if .type == "bool" then "false" elif .type == "string" then "x" else "1" end)"]
           | join(" ")) ] | @tsv' <<<"$json" >"$PAYLOAD/recipes.tsv"
else
    : >"$PAYLOAD/recipes.tsv"
    names=$("$TC" list) || die "tracectl list failed"
    # Names are the first word of each line, or of the indented lines when
    # the listing is grouped under headings.
    if grep -q '^[[:space:]]' <<<"$names"; then
        names=$(sed -n 's/^[[:space:]]\{1,\}\([^[:space:]]\{1,\}\).*/\1/p' <<<"$names")
    else
        names=$(awk '{print $1}' <<<"$names")
    fi
    for name in $(sort -u <<<"$names"); do
        dsl=$("$TC" fmt "$name" --to dsl) || die "tracectl fmt $name failed"
        kfunc=0
        grep -qE '(^|[[:space:]])k(ret)?func:' <<<"$dsl" && kfunc=1
        args=""
        while read -r pname ptype rest; do
            [[ $rest == =* ]] && continue
            args+=" -p $pname=$(param_value "$ptype")"
        done < <(sed -nE 's/^[[:space:]]*param[[:space:]]+([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*:[[:space:]]*([a-z0-9]+)[[:space:]]*(.*)$/\1 \2 \3/p' <<<"$dsl")
        printf '%s\t%s\t-\t%s\n' "$name" "$kfunc" "${args# }" >>"$PAYLOAD/recipes.tsv"
    done
fi
[ -s "$PAYLOAD/recipes.tsv" ] || die "tracectl lists no recipes"
log "$(wc -l <"$PAYLOAD/recipes.tsv") recipes: $(cut -f1 "$PAYLOAD/recipes.tsv" | tr '\n' ' ')"

# --- kernels -----------------------------------------------------------------
mkdir -p "$CACHE"
vm_prune_cache "$CACHE"
vm_apt_setup "$CACHE/apt"
refreshed=0
if [ "$OFFLINE" = 0 ]; then
    log "refreshing the package lists of ${VM_SUITES_MAIN[*]} ${VM_SUITES_SECURITY[*]}"
    if vm_apt_update; then refreshed=1; else log "cannot refresh the package lists; using cached kernels"; fi
fi
declare -A PKG VER
for s in "${SERIES[@]}"; do
    pv=""
    [ "$refreshed" = 1 ] && pv=$(vm_resolve_series "$s")
    if [ -z "$pv" ] && [ -f "$CACHE/kernels/series-$s" ]; then
        pv=$(cat "$CACHE/kernels/series-$s")
        log "$s: using the cached $pv"
    fi
    [ -n "$pv" ] || die "no linux-image package for kernel $s in ${VM_SUITES_MAIN[*]} ${VM_SUITES_SECURITY[*]} (see tests/vm/README.md: adding a kernel)"
    read -r "PKG[$s]" "VER[$s]" <<<"$pv"
    log "$s: ${PKG[$s]} ${VER[$s]}"
done

# --- one VM ------------------------------------------------------------------
# vm_job SERIES: fetch its kernel, build its initramfs, boot, collect. Writes
# $WORK/SERIES/{status,vm_seconds,console.log,results/...}.
vm_job() {
    local s=$1 j=$WORK/$1
    mkdir -p "$j/results" "$j/initramfs/bin" "$j/initramfs/modules"
    local kdir t0 t1
    t0=$(date +%s)
    if ! kdir=$(vm_fetch_kernel "$CACHE" "${PKG[$s]}" "${VER[$s]}" 2>>"$j/job.log"); then
        echo "kernel fetch failed: $(tail -1 "$j/job.log")" >"$j/status"
        return 0
    fi
    echo "${PKG[$s]} ${VER[$s]}" >"$CACHE/kernels/series-$s"
    t1=$(date +%s)
    echo $((t1 - t0)) >"$j/fetch_seconds"
    cp "$kdir/release" "$j/release"
    # initramfs: busybox, /init, the modules in load order.
    cp /bin/busybox "$j/initramfs/bin/busybox"
    cp "$HERE/init" "$j/initramfs/init"
    chmod 755 "$j/initramfs/init"
    cp "$kdir"/modules/*.ko "$j/initramfs/modules/" 2>/dev/null || true
    cp "$kdir/modules.list" "$j/initramfs/modules.list"
    (cd "$j/initramfs" && find . | cpio -o -H newc --quiet) >"$j/initramfs.cpio"
    local kernel=$kdir/vmlinux
    [ -f "$kernel" ] || kernel=$kdir/vmlinuz
    local rc=0
    t0=$(date +%s)
    timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
        -nodefaults -no-user-config -nographic \
        -accel "$ACCEL" -cpu "$CPU" -smp "$SMP" -m "$MEMORY" \
        -kernel "$kernel" -initrd "$j/initramfs.cpio" \
        -append "console=ttyS0 panic=-1 loglevel=4 quiet mitigations=off random.trust_cpu=on" \
        -serial "file:$j/console.log" -monitor none -no-reboot \
        -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
        -virtfs "local,path=$PAYLOAD,mount_tag=payload,security_model=none,readonly=on" \
        -virtfs "local,path=$j/results,mount_tag=results,security_model=none" \
        </dev/null >>"$j/job.log" 2>&1 &
    echo $! >"$j/timeout.pid"
    wait $! || rc=$?
    rm -f "$j/timeout.pid"
    t1=$(date +%s)
    echo $((t1 - t0)) >"$j/vm_seconds"
    if [ -f "$j/results/done" ]; then
        echo ok >"$j/status"
    elif [ $rc = 124 ] || [ $rc = 137 ]; then
        echo "TIMEOUT after ${TIMEOUT}s" >"$j/status"
    elif grep -q 'TVM-INIT-FAILED' "$j/console.log" 2>/dev/null; then
        grep -m1 'TVM-INIT-FAILED' "$j/console.log" | tr -d '\r' >"$j/status"
    elif grep -q 'Kernel panic' "$j/console.log" 2>/dev/null; then
        echo "kernel panic: $(grep -m1 'Kernel panic' "$j/console.log" | tr -d '\r')" >"$j/status"
    else
        echo "no results (qemu exit $rc: $(tail -1 "$j/job.log" 2>/dev/null))" >"$j/status"
    fi
}

log "running ${#SERIES[@]} VM(s), $JOBS at a time, accel $ACCEL, timeout ${TIMEOUT}s each"
running=0
for s in "${SERIES[@]}"; do
    if [ "$running" -ge "$JOBS" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    mkdir -p "$WORK/$s"
    (
        trap - INT TERM
        # shellcheck disable=SC2064
        trap "[ -f '$WORK/$s/status' ] || echo 'harness error (see job.log)' >'$WORK/$s/status'" EXIT
        vm_job "$s" 2>>"$WORK/$s/job.log"
        log "$s: $(cat "$WORK/$s/status") ($(cat "$WORK/$s/vm_seconds" 2>/dev/null || echo '?')s in the VM)"
    ) &
    running=$((running + 1))
done
wait

# --- the matrix ----------------------------------------------------------------
declare -A CELL
ROWS=()
declare -A SEEN
failures=()
skips=()
for s in "${SERIES[@]}"; do
    f=$WORK/$s/results/results.tsv
    [ -f "$f" ] || continue
    while IFS=$'\t' read -r name status mech detail; do
        [ "$mech" = - ] && mech=""
        if [ -z "${SEEN[$name]:-}" ]; then
            SEEN[$name]=1
            ROWS+=("$name")
        fi
        if [ "$status" = pass ]; then
            CELL[$s,$name]="pass${mech:+ $mech}"
        elif [ "$status" = skip ]; then
            CELL[$s,$name]="skip"
            skips+=("[$s] $name: $detail")
        else
            CELL[$s,$name]="FAIL${mech:+ $mech}"
            failures+=("[$s] $name: $detail")
        fi
    done <"$f"
done

namew=8
for r in "${ROWS[@]}"; do [ ${#r} -gt $namew ] && namew=${#r}; done
colw=12
for s in "${SERIES[@]}"; do
    rel=$(cat "$WORK/$s/release" 2>/dev/null || echo "?")
    [ ${#rel} -gt $colw ] && colw=${#rel}
done
colw=$((colw + 2))
line() {
    local first=$1
    shift
    printf "%-${namew}s  " "$first"
    local c
    for c in "$@"; do printf "%-${colw}s" "$c"; done
    printf '\n'
}

vm_failed=0
hdr=() rels=() vms=()
for s in "${SERIES[@]}"; do
    hdr+=("$s")
    rels+=("$(cat "$WORK/$s/release" 2>/dev/null || echo '?')")
    st=$(cat "$WORK/$s/status" 2>/dev/null || echo "not run")
    if [ "$st" = ok ]; then
        boot=$(sed -n 's/^uptime_at_start=//p' "$WORK/$s/results/env" 2>/dev/null)
        vms+=("ok ${boot%.*}s+$(cat "$WORK/$s/vm_seconds")s")
    else
        vm_failed=$((vm_failed + 1))
        vms+=("VM FAILED")
        failures+=("[$s] VM: $st")
    fi
done
echo
echo "tracectl kernel matrix ($(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
line "kernel" "${hdr[@]}"
line "release" "${rels[@]}"
line "vm (boot+total)" "${vms[@]}"
printf '%s\n' "$(printf '%*s' $((namew + 2 + colw * ${#SERIES[@]})) '' | tr ' ' -)"
npass=0 nfail=0
for r in "${ROWS[@]}"; do
    cells=()
    for s in "${SERIES[@]}"; do
        c=${CELL[$s,$r]:-"-"}
        case $c in pass*) npass=$((npass + 1)) ;; FAIL*) nfail=$((nfail + 1)) ;; esac
        cells+=("$c")
    done
    line "$r" "${cells[@]}"
done
echo
if [ ${#failures[@]} -gt 0 ]; then
    echo "Failures:"
    for f in "${failures[@]}"; do echo "  $f"; done
    for s in "${SERIES[@]}"; do
        st=$(cat "$WORK/$s/status" 2>/dev/null || echo "not run")
        if [ "$st" != ok ]; then
            if [ "$KEEP" = 1 ]; then
                echo "--- $s: last console lines ($WORK/$s/console.log)"
            else
                echo "--- $s: last console lines (--keep keeps the whole console log)"
            fi
            tail -n 25 "$WORK/$s/console.log" 2>/dev/null | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' |
                tr -cd '\11\12\40-\176' | sed 's/^/    /' || true
            tail -n 5 "$WORK/$s/job.log" 2>/dev/null | sed 's/^/    /' || true
        fi
    done
    echo
fi
if [ ${#skips[@]} -gt 0 ]; then
    echo "Skipped:"
    for f in "${skips[@]}"; do echo "  $f"; done
    echo
fi
fetch=""
for s in "${SERIES[@]}"; do fetch+=" $s:$(cat "$WORK/$s/fetch_seconds" 2>/dev/null || echo '?')s"; done
echo "kernel fetch (0s = cached):$fetch"
echo "wall time: $(($(date +%s) - T_START))s"
nfail=$((nfail + vm_failed))
echo "vm-matrix: $npass passed, $nfail failed"
if [ "$nfail" -gt 0 ]; then
    exit 1
fi
exit 0
