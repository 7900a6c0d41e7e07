#!/bin/bash
# The VM tests, inside the guest (PID 1 after the initramfs's switch_root; the
# userland is the host's, read-only over 9p under a tmpfs overlay).
#
# Payload (read-only): /run/tvm/payload/{tracectl,tvm,recipes.tsv,host-tests.txt}
# and tests/ (the Rust test binaries host-tests.txt names, tracectl-path).
# Results (written back to the host): /run/tvm/results/
#   results.tsv   one line per test: NAME, pass|FAIL, MECHANISM, DETAIL
#   t/NAME/       stdout, stderr, facts, progs, rc of each tracectl run
#   guest.log     this script's output; env: kernel release, boot time, BTF
#   done          written last: the test counts
#
# Each probe test runs `tracectl run -e DSL -o json --time none -n 1` under
# `tvm run`, which waits for tracectl's "attached" line, records the BPF
# programs tracectl loaded (the template = the mechanism), then makes one
# uniquely identifiable event happen in its own process (comm "tvm"); the
# first JSON record's values are compared with what was done.
#
# Fork+exec is slow under TCG: only builtins between tracectl runs.

set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C NO_COLOR=1
P=/run/tvm/payload
R=/run/tvm/results
exec >>"$R/guest.log" 2>&1

poweroff_now() {
    sync
    /bin/busybox poweroff -f 2>/dev/null
    echo o >/proc/sysrq-trigger
    sleep 30
}
trap poweroff_now EXIT

# Copies on tmpfs: exec and uprobes on local files, not on 9p inodes.
cp "$P/tvm" /tmp/tvm && cp "$P/tracectl" /tmp/tracectl || exit 1
TVM=/tmp/tvm
TC=/tmp/tracectl
TT=60 # seconds per tracectl run (tvm kills it after)

read -r KREL </proc/sys/kernel/osrelease
read -r UUID </proc/sys/kernel/random/uuid
TOK=${UUID:0:8}
read -r UP _ </proc/uptime
{
    echo "release=$KREL"
    echo "uptime_at_start=$UP"
    [ -r /sys/kernel/btf/vmlinux ] && echo "btf=yes" || echo "btf=no"
} >"$R/env"
echo "guest.sh: kernel $KREL, token $TOK, up ${UP}s"

: >"$R/results.tsv"
mkdir -p "$R/t"
PASS=0
FAIL=0
declare -A MECHS

# record NAME STATUS MECH DETAIL
record() {
    local d=${4//$'\t'/ }
    d=${d//$'\n'/ | }
    # "-" for an empty mechanism: tabs are IFS white space, empty fields vanish.
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "${3:--}" "${d:0:900}" >>"$R/results.tsv"
    MECHS[$1]=$3
    case $2 in
    pass) PASS=$((PASS + 1)) ;;
    skip) ;;
    *) FAIL=$((FAIL + 1)) ;;
    esac
    echo "== $1: $2 ${3:+[$3]} $d"
}

# JV := the value of key $1 in the JSON object $2 (strings unquoted).
jget() {
    local re="\"$1\":(\"(([^\"\\\\]|\\\\.)*)\"|[^,}]*)"
    JV=
    [[ $2 =~ $re ]] || return 1
    if [ "${BASH_REMATCH[1]:0:1}" = '"' ]; then JV=${BASH_REMATCH[2]}; else JV=${BASH_REMATCH[1]}; fi
}

# MECH := the templates tracectl loaded (from tvm's progs file), e.g. "fentry".
mech_of() {
    local name typ m=
    MECH=
    [ -f "$1/progs" ] || return 0
    while read -r name typ; do
        case $name in
        tracectl_tp) m=tracepoint ;;
        tracectl_tpbtf) m=tp_btf ;;
        tracectl_kprobe) m=kprobe ;;
        tracectl_kret) m=kretprobe ;;
        tracectl_fentry) m=fentry ;;
        tracectl_fexit) m=fexit ;;
        tracectl_uprobe) m=uprobe ;;
        tracectl_uret) m=uretprobe ;;
        *) m="$name($typ)" ;;
        esac
        MECH=${MECH:+$MECH,}$m
    done <"$1/progs"
}

# FACT := key $2 of the facts file of test dir $1.
fact() {
    local k v
    FACT=
    while IFS='=' read -r k v; do
        [ "$k" = "$2" ] && FACT=$v
    done <"$1/facts"
}

# What tracectl said, minus its progress lines: the error text.
said() {
    local l out=
    SAID=
    [ -f "$1/stderr" ] || return 0
    while IFS= read -r l; do
        case $l in
        *"attached "*" probe"* | *" events in "* | *" event in "* | "") continue ;;
        esac
        l=${l#"${l%%[![:space:]]*}"}
        # Diagnostics: keep the message and its notes, not the source excerpt.
        case $l in *"│"* | *"┌─"* | *"└─"* | "|"* | "-->"* | "^"*) continue ;; esac
        out+="${out:+ / }$l"
    done <"$1/stderr"
    SAID=$out
}

dir_of() { D="$R/t/${1//[^A-Za-z0-9_.-]/_}"; }

# run_test NAME TRIGGER WANT_MECH [KEY=VALUE...] -- TRACECTL-ARGS...
# Values may name facts: "r=@fd" compares r with the trigger's fd.
run_test() {
    local name=$1 trig=$2 want=$3
    shift 3
    local checks=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        checks+=("$1")
        shift
    done
    shift
    dir_of "$name"
    "$TVM" run -t "$TT" "$D" "$trig" -- "$TC" "$@"
    local rc line='' c k v
    read -r rc <"$D/rc" || rc=missing
    mech_of "$D"
    said "$D"
    if [ "$rc" != rc=0 ]; then
        record "$name" FAIL "$MECH" "tracectl $rc: $SAID"
        return
    fi
    [ -s "$D/stdout" ] && IFS= read -r line <"$D/stdout"
    if [ -z "$line" ]; then
        record "$name" FAIL "$MECH" "no event captured: $SAID"
        return
    fi
    if [ -n "$want" ] && [ "$MECH" != "$want" ]; then
        record "$name" FAIL "$MECH" "mechanism $MECH, expected $want: $line"
        return
    fi
    for c in "${checks[@]}"; do
        k=${c%%=*} v=${c#*=}
        if [ "${v:0:1}" = @ ]; then
            fact "$D" "${v:1}"
            v=$FACT
        fi
        if ! jget "$k" "$line"; then
            record "$name" FAIL "$MECH" "no field $k in $line"
            return
        fi
        if [ "$JV" != "$v" ]; then
            record "$name" FAIL "$MECH" "$k is $JV, expected $v: $line"
            return
        fi
    done
    record "$name" pass "$MECH" "$line"
}

# check_load NAME ARGS...: tracectl check --load (verifier, attach, detach).
check_load() {
    local name=$1
    shift
    dir_of "$name"
    "$TVM" run -t "$TT" "$D" none -- "$TC" check --load "$@"
    local rc
    read -r rc <"$D/rc" || rc=missing
    said "$D"
    if [ "$rc" = rc=0 ]; then
        record "$name" pass "" ""
    else
        record "$name" FAIL "" "tracectl $rc: $SAID"
    fi
}

J=(-o json --time none -n 1 -d 20s)

# FN := the first of the kernel functions $@ that this kernel's BTF has
# (`tracectl check`, compile only), for functions renamed between kernels.
pick_fn() {
    local f
    for f in "$@"; do
        if "$TC" check -e "kprobe:$f { pid }" >/dev/null 2>&1; then
            FN=$f
            return 0
        fi
    done
    FN=$1
    echo "pick_fn: none of $* in this kernel's BTF"
}
OPENFN=do_sys_openat2 # 5.6+: in all five kernels' BTF
pick_fn do_filp_open do_file_open # renamed in 7.x
FILPFN=$FN
echo "kernel functions: $OPENFN, $FILPFN"

# --- each probe kind -------------------------------------------------------
f=/tmp/tvm-open-$TOK-kprobe
run_test "kprobe" "open:$f" kprobe "f=$f" dfd=-100 -- \
    run -e "kprobe:$OPENFN { f = ustr(filename), dfd } where comm == \"tvm\"" "${J[@]}"
f=/tmp/tvm-open-$TOK-kretprobe
run_test "kretprobe" "open:$f" kretprobe r=@fd -- \
    run -e "kretprobe:$OPENFN { r = retval } where comm == \"tvm\"" "${J[@]}"
f=/tmp/tvm-open-$TOK-fentry
run_test "fentry" "open:$f" fentry "f=$f" dfd=-100 -- \
    run -e "fentry:$OPENFN { f = ustr(filename), dfd } where comm == \"tvm\"" "${J[@]}"
f=/tmp/tvm-open-$TOK-fexit
run_test "fexit" "open:$f" fexit "f=$f" r=@fd -- \
    run -e "fexit:$OPENFN { f = ustr(filename), r = retval } where comm == \"tvm\"" "${J[@]}"
# One pointer dereference in the kernel: struct filename *pathname -> name.
f=/tmp/tvm-open-$TOK-kprobe-hop
run_test "kprobe (pointer hop)" "open:$f" kprobe "f=$f" dfd=-100 -- \
    run -e "kprobe:$FILPFN { f = str(pathname->name), dfd } where comm == \"tvm\"" "${J[@]}"
f=/tmp/tvm-open-$TOK-fentry-hop
run_test "fentry (pointer hop)" "open:$f" fentry "f=$f" dfd=-100 -- \
    run -e "fentry:$FILPFN { f = str(pathname->name), dfd } where comm == \"tvm\"" "${J[@]}"
f=/tmp/tvm-open-$TOK-tp
run_test "tracepoint" "open:$f" tracepoint "f=$f" flags=64 -- \
    run -e "tracepoint:syscalls:sys_enter_openat { f = str(filename), flags } where comm == \"tvm\"" "${J[@]}"
x=/tmp/tx-$TOK-1
run_test "tracepoint (data_loc)" "exec:$x" tracepoint "f=$x" old_pid=@child -- \
    run -e "tracepoint:sched:sched_process_exec { f = filename, old_pid } where comm == \"tx-$TOK-1\"" "${J[@]}"
x=/tmp/tx-$TOK-2
# 5.10's BTF names no tp_btf parameter: there, by name is impossible and the
# row uses positions (arg1 = old_pid, arg2 = bprm), like the row below.
if "$TC" check -e 'tp_btf:sched_process_exec { old_pid }' >/dev/null 2>&1; then
    TPBTF_ARGS="f = str(bprm->filename), old_pid"
else
    TPBTF_ARGS="f = str(arg2->filename), old_pid = arg1"
fi
run_test "tp_btf" "exec:$x" tp_btf "f=$x" old_pid=@child -- \
    run -e "tp_btf:sched_process_exec { $TPBTF_ARGS } where comm == \"tx-$TOK-2\"" "${J[@]}"
x=/tmp/tx-$TOK-4
run_test "tp_btf (args by position)" "exec:$x" tp_btf "f=$x" old_pid=@child -- \
    run -e "tp_btf:sched_process_exec { f = str(arg2->filename), old_pid = arg1 } where comm == \"tx-$TOK-4\"" "${J[@]}"
x=/tmp/tx-$TOK-3
run_test "tp_btf (no args)" "exec:$x" tp_btf "c=tx-$TOK-3" pid=@child -- \
    run -e "tp_btf:sched_process_exec { c = comm, pid } where comm == \"tx-$TOK-3\"" "${J[@]}"
# Context (spec-v2 section 5): the task's parent, its namespaces through
# BTF paths (pidns through pid->numbers[level], an indexed hop), execve's
# argv joined in the kernel, and the cgroup filter (the root cgroup holds
# every task; bpf_current_task_under_cgroup).
x=/tmp/tx-$TOK-ctx
run_test "context (ppid, ns, join)" "exec:$x" tracepoint "a=$x" pid=@child ppid=@pid \
    pidns=@pidns mntns=@mntns netns=@netns -- \
    run -e "tracepoint:syscalls:sys_enter_execve { pid, ppid, pidns, mntns, netns, a = join(argv) } where comm == \"tvm\"" "${J[@]}"
if [ -d /sys/fs/cgroup ] && { grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts || mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null; }; then
    x=/tmp/tx-$TOK-cg
    run_test "context (--cgroup /)" "exec:$x" tracepoint pid=@child cg=/ -- \
        run --cgroup / -e "tracepoint:syscalls:sys_enter_execve { pid, cg = cgroup_path(cgroup) } where comm == \"tvm\"" "${J[@]}"
else
    record "context (--cgroup /)" FAIL "" "cannot mount cgroup2 on /sys/fs/cgroup"
fi
run_test "uprobe" "call:4242:$TOK" uprobe a=4242 "s=$TOK" -- \
    run -e "uprobe:$TVM:tvm_target { a = arg0, s = str(arg1) } where comm == \"tvm\"" "${J[@]}"
run_test "uretprobe" "call:4242:$TOK" uretprobe r=@ret -- \
    run -e "uretprobe:$TVM:tvm_target { r = retval } where comm == \"tvm\"" "${J[@]}"

# --- kfunc: fentry where it works, else kprobe; --no-trampolines forces kprobe
# The expected choice: the trampoline where the fentry/fexit tests loaded one.
if [ "${MECHS[fentry]:-}" = fentry ]; then want=fentry; else want=kprobe; fi
port=$((20000 + RANDOM % 20000))
run_test "kfunc tcp_connect (tcpconnect)" "connect:$port" "$want" \
    comm=tvm pid=@pid daddr=127.0.0.1 "dport=$port" -- \
    run tcpconnect -p "port=$port" "${J[@]}"
port=$((port + 1))
run_test "kfunc --no-trampolines (tcpconnect)" "connect:$port" kprobe \
    comm=tvm pid=@pid daddr=127.0.0.1 "dport=$port" -- \
    run tcpconnect --no-trampolines -p "port=$port" "${J[@]}"
port=$((port + 1))
# tvm's connect trigger also listens on the port and accepts the connection.
run_test "kfunc security_sock_graft (tcpaccept)" "connect:$port" "$want" \
    comm=tvm pid=@pid laddr=127.0.0.1 raddr=127.0.0.1 "lport=$port" -- \
    run tcpaccept -p "port=$port" "${J[@]}"
if [ "${MECHS[fexit]:-}" = fexit ]; then want=fexit; else want=kretprobe; fi
f=/tmp/tvm-open-$TOK-kretfunc
run_test "kretfunc $OPENFN" "open:$f" "$want" r=@fd -- \
    run -e "kretfunc:$OPENFN { r = retval } where comm == \"tvm\"" "${J[@]}"
f=/tmp/tvm-open-$TOK-kretfunc-nt
run_test "kretfunc --no-trampolines" "open:$f" kretprobe r=@fd -- \
    run --no-trampolines -e "kretfunc:$OPENFN { r = retval } where comm == \"tvm\"" "${J[@]}"

# do_mmap has 7-9 arguments: x86 BPF trampolines took at most 6 before Linux
# 6.6, so kfunc: falls back to a kprobe on older kernels. Either is right; the
# matrix shows which.
len=$((1048576 + RANDOM))
run_test "kfunc do_mmap (>6 args)" "mmap:$len" "" "len=$len" prot=1 -- \
    run -e "kfunc:do_mmap { len, prot } where comm == \"tvm\" && len == $len" "${J[@]}"

# --- aggregation and arithmetic (spec-v2): a per-CPU hash map, batch reads
# (BPF_MAP_LOOKUP_AND_DELETE_BATCH at each interval, BPF_MAP_LOOKUP_BATCH at
# exit; 5.6+) and a key computed in the kernel.
f=/tmp/tvm-open-$TOK-agg
run_test "aggregation (count, sum, hist by key)" "open:$f" tracepoint \
    comm=tvm n=1 k=129 s=64 -- \
    run -e "tracepoint:syscalls:sys_enter_openat { n = count(), s = sum(flags), h = hist(flags) } by comm, k = flags * 2 + 1 where str(filename) == \"$f\"" -o json --time none --interval 2s -d 8s

# --- bundled recipes that make known events --------------------------------
port=$((port + 1))
run_test "run tcpconnect-tp" "connect:$port" tracepoint \
    comm=tvm pid=@pid daddr=127.0.0.1 "dport=$port" family=2 -- \
    run tcpconnect-tp -p "port=$port" "${J[@]}"
# Paired recipes (start/end): two programs each, listed by fd, the end's
# first (it is loaded first). execsnoop's COMM is read at the exit: the new
# program's name, not tvm.
x=/tmp/tx-$TOK-5
run_test "run execsnoop" "exec:$x" tracepoint,tracepoint "comm=tx-$TOK-5" pid=@child ret=0 "path=$x" -- \
    run execsnoop "${J[@]}"
f=/tmp/tvm-open-$TOK-opensnoop
run_test "run opensnoop" "open:$f" tracepoint,tracepoint comm=tvm pid=@pid "path=$f" flags=0x40 fd=@fd err=0 -- \
    run opensnoop -p "pid={PID}" "${J[@]}"
# funclatency (kfunc:vfs_read => kretfunc:vfs_read, a histogram per comm):
# tvm's read(2) of tracectl's "attached" line is a vfs_read made after the
# probes attached, in tvm (the pid param). The exact count of a thread's
# reads is the host test recipes::funclatency_counts_each_vfs_read_of_a_named_thread.
if [ "${MECHS[fentry]:-}" = fentry ]; then want=fexit,fentry; else want=kretprobe,kprobe; fi
f=/tmp/tvm-open-$TOK-funclatency
run_test "run funclatency" "open:$f" "$want" comm=tvm -- \
    run funclatency -p "pid={PID}" -o json --time none -d 3s
f=/tmp/tvm-open-$TOK-funclatency-nt
run_test "run funclatency --no-trampolines" "open:$f" kretprobe,kprobe comm=tvm -- \
    run funclatency --no-trampolines -p "pid={PID}" -o json --time none -d 3s

# --- start/end pairing: every probe kind as a pair -------------------------
# (tests/pairing.rs checks the same kinds with exact counts on the host; its
# kernel-function tests run here as host-tests.txt rows.) A paired probe
# loads two programs (listed by fd: the end's, loaded first, then the
# start's); `fentry:F => fexit:F` reading argument registers only, without
# latency, is one fexit program. The filter `comm == "tvm"` is a start
# value: other processes' ends are only ends without a start.
f=/tmp/tvm-open-$TOK-pair-tp
run_test "pair tracepoint => tracepoint" "open:$f" tracepoint,tracepoint "f=$f" r=@fd -- \
    run -e "tracepoint:syscalls:sys_enter_openat => tracepoint:syscalls:sys_exit_openat { f = str(filename), r = end.ret } where comm == \"tvm\"" "${J[@]}"
# tp_btf:sys_enter(regs, id) => tp_btf:sys_exit(regs, ret), by position (5.10
# names no tp_btf parameter); openat is system call 257 on x86-64.
f=/tmp/tvm-open-$TOK-pair-tpbtf
run_test "pair tp_btf => tp_btf" "open:$f" tp_btf,tp_btf id=257 r=@fd -- \
    run -e "tp_btf:sys_enter => tp_btf:sys_exit { id = arg1, r = end.arg1 } where comm == \"tvm\" && arg1 == 257" "${J[@]}"
run_test "pair uprobe => uretprobe" "call:4343:$TOK" uretprobe,uprobe a=4343 "s=$TOK" r=@ret -- \
    run -e "uprobe:$TVM:tvm_target => uretprobe:$TVM:tvm_target { a = arg0, s = str(arg1), r = end.retval } where comm == \"tvm\"" "${J[@]}"
PAIR_OPEN="{ f = ustr(filename), dfd, r = end.retval } where comm == \"tvm\""
if [ "${MECHS[fentry]:-}" = fentry ]; then want=fexit,fentry; else want=kretprobe,kprobe; fi
f=/tmp/tvm-open-$TOK-pair-kfunc
run_test "pair kfunc => kretfunc" "open:$f" "$want" "f=$f" dfd=-100 r=@fd -- \
    run -e "kfunc:$OPENFN => kretfunc:$OPENFN $PAIR_OPEN" "${J[@]}"
f=/tmp/tvm-open-$TOK-pair-kfunc-nt
run_test "pair kfunc => kretfunc --no-trampolines" "open:$f" kretprobe,kprobe "f=$f" dfd=-100 r=@fd -- \
    run --no-trampolines -e "kfunc:$OPENFN => kretfunc:$OPENFN $PAIR_OPEN" "${J[@]}"
f=/tmp/tvm-open-$TOK-pair-kprobe
run_test "pair kprobe => kretprobe" "open:$f" kretprobe,kprobe "f=$f" dfd=-100 r=@fd -- \
    run -e "kprobe:$OPENFN => kretprobe:$OPENFN $PAIR_OPEN" "${J[@]}"
f=/tmp/tvm-open-$TOK-pair-fexit
# `end.comm`: read at the return (`comm` would be a start value to stash).
run_test "pair fentry => fexit (one fexit)" "open:$f" fexit dfd=-100 r=@fd -- \
    run -e "fentry:$OPENFN => fexit:$OPENFN { dfd, r = end.retval } where end.comm == \"tvm\"" "${J[@]}"
f=/tmp/tvm-open-$TOK-pair-fentry
run_test "pair fentry => fexit (latency: stashed)" "open:$f" fexit,fentry "f=$f" r=@fd -- \
    run -e "fentry:$OPENFN => fexit:$OPENFN { f = ustr(filename), r = end.retval, lat = latency } where comm == \"tvm\"" "${J[@]}"

# --- the host's Rust tests on kernel functions (tests/vm/host-tests.txt) ----
# They cannot exercise kernel functions on the development and CI machines
# (no kprobes, trampolines refused), where they assert the refusal and name
# these rows (tests/common/elsewhere.rs). Here the same binaries must:
# TRACECTL_REQUIRE_KERNEL_FUNCTIONS turns their "not available" branch into a
# failure, and a row passes only when exactly that one test passed and printed
# its "EXERCISED: TARGET::TEST [HOW]" line (HOW is the row's mechanism).
HT=300 # seconds per Rust test
if [ -s "$P/tests/tracectl-path" ]; then
    # The tests run CARGO_BIN_EXE_tracectl, a host path compiled into them:
    # the payload's tracectl goes there, in the tmpfs overlay (the host's file
    # is untouched, and a rebuild on the host during the run changes nothing).
    read -r TC_BUILT <"$P/tests/tracectl-path"
    mkdir -p "${TC_BUILT%/*}" && cp "$P/tracectl" "$TC_BUILT" ||
        echo "guest.sh: cannot put tracectl at $TC_BUILT"
fi
mkdir -p /tmp/tests

# host_test TARGET TEST: one row, "test TARGET::TEST".
host_test() {
    local target=$1 test=$2 name="test $1::$2" exe=/tmp/tests/$1
    local l rc=0 ok=0 how="" seen=0 panic="" more=0
    dir_of "$name"
    mkdir -p "$D"
    # A local copy: the limits test puts uprobes on its own binary.
    if ! [ -x "$exe" ] && ! cp "$P/tests/$target" "$exe" 2>"$D/out"; then
        record "$name" FAIL "" "no test binary $target in the payload: $(<"$D/out")"
        return
    fi
    CI=true TRACECTL_REQUIRE_KERNEL_FUNCTIONS=1 RUST_BACKTRACE=0 \
        timeout -k 10 "$HT" "$exe" --exact "$test" --test-threads=1 --nocapture \
        >"$D/out" 2>&1 </dev/null || rc=$?
    while IFS= read -r l; do
        case $l in
        # libtest prints "test NAME ... " first, on the same line.
        *"EXERCISED: $target::$test ["*"]")
            seen=1
            how=${l##*[}
            how=${how%]}
            ;;
        "test result: ok. 1 passed;"*) ok=1 ;;
        *"panicked at"*)
            panic+="${panic:+ / }$l"
            more=4
            continue
            ;;
        esac
        if [ "$more" -gt 0 ] && [ -n "$l" ]; then
            panic+=" / $l"
            more=$((more - 1))
        fi
    done <"$D/out"
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        record "$name" FAIL "$how" "timed out after ${HT}s: $panic"
    elif [ "$rc" != 0 ] || [ "$ok" = 0 ]; then
        record "$name" FAIL "$how" "exit $rc, not \"1 passed\": ${panic:-see t/${D##*/}/out}"
    elif [ "$seen" = 0 ]; then
        record "$name" FAIL "" "passed without its EXERCISED line: its subject did not run"
    else
        record "$name" pass "$how" ""
    fi
}
while read -r target test extra; do
    case $target in "" | "#"*) continue ;; esac
    if [ -z "$test" ] || [ -n "$extra" ]; then
        record "host-tests.txt: $target $test $extra" FAIL "" "not a TARGET TEST line"
        continue
    fi
    host_test "$target" "$test"
done <"$P/host-tests.txt"

# --- every bundled recipe passes the verifier ------------------------------
while IFS=$'\t' read -r name kfunc requires args; do
    [ -n "$name" ] || continue
    missing=""
    [ "$requires" = - ] && requires=""
    IFS=, read -r -a paths <<<"$requires"
    for p in "${paths[@]}"; do [ -e "$p" ] || missing+=" $p"; done
    if [ -n "$missing" ]; then
        record "check --load $name" skip "" "needs$missing, not on this system"
        continue
    fi
    # shellcheck disable=SC2086 # args: -p NAME=VALUE words
    check_load "check --load $name" "$name" $args
    if [ "$kfunc" = 1 ]; then
        # shellcheck disable=SC2086
        check_load "check --load $name --no-trampolines" "$name" --no-trampolines $args
    fi
done <"$P/recipes.tsv"

read -r UP _ </proc/uptime
echo "guest.sh: $PASS passed, $FAIL failed, up ${UP}s"
echo "pass=$PASS fail=$FAIL uptime=$UP" >"$R/done"
