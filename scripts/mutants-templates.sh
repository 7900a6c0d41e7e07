#!/usr/bin/env bash
# Mutation testing of the eBPF templates (issue 18): plants one bug at a time
# in templates-ebpf/capture.h, calc.h, agg.h, pair.h and bits.h (a wrong comparison, a lost sign extension, a
# missing byte swap, a hop offset off by 8, a string bound off by one, a
# broken filter instruction, an unwritten header field, ...), rebuilds the
# objects and the tests that load them, and expects those tests to FAIL. A
# mutant the tests do not notice SURVIVES: a test is missing.
#
#   bash scripts/mutants-templates.sh              # every mutant
#   bash scripts/mutants-templates.sh NAME...      # only these mutants
#   bash scripts/mutants-templates.sh --list       # the mutants' names
#
# The main work tree is never touched: the repository (its working tree, as
# it is, without target/ and .git/) is copied to target/mutants-templates/src,
# mutated and built there with its own persistent CARGO_TARGET_DIR
# (target/mutants-templates/target; release with LTO off and incremental, so
# after the first build a mutant recompiles little more than the crate that
# embeds the objects). The kernel-facing test binaries run per mutant, in
# this order, stopping at the first that fails: semantics (when
# tests/semantics.rs exists), kernel, e2e. The unmutated copy must pass them
# first, so that a failure means the mutant was noticed.
#
# Prints a table (mutant, caught or SURVIVED, the failing tests of the first
# binary that fails) and writes it to tests/mutants/templates.md
# (MUTANTS_RESULTS overrides; written only by a full run). Exits non-zero if
# any mutant survives, does not apply (its pattern no longer matches
# capture.h: update the mutant), or does not build.
#
# Needs what scripts/test.sh needs (root, kernel BTF, clang-14, python3), and
# a machine where nothing else loads BPF programs meanwhile: some tests count
# every tracectl program in the kernel, so another run's programs would fail
# them (a wrongly attributed catch, or a failed baseline).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# --- the mutants -------------------------------------------------------------
# Two lines per mutant: "NAME<tab>what the planted bug does", then
# "<tab>[(OLD, NEW), ...]", a Python list of replacements in capture.h, or
# of (FILE, OLD, NEW) for another header of templates-ebpf/; each OLD must
# occur exactly once in its file.
MUTANTS=$(cat <<'EOF'
cmp-lt-computes-gt	`<` computes `>`
	[("case TC_CMP_LT:\n\t\treturn tc_lt(a, b, is_signed);", "case TC_CMP_LT:\n\t\treturn tc_lt(b, a, is_signed);")]
cmp-le-as-lt	`<=` computes `<`
	[("case TC_CMP_LE:\n\t\treturn tc_lt(b, a, is_signed) ^ 1;", "case TC_CMP_LE:\n\t\treturn tc_lt(a, b, is_signed);")]
cmp-lt-as-le	`<` computes `<=`
	[("case TC_CMP_LT:\n\t\treturn tc_lt(a, b, is_signed);", "case TC_CMP_LT:\n\t\treturn tc_lt(b, a, is_signed) ^ 1;")]
cmp-ge-as-gt	`>=` computes `>`
	[("case TC_CMP_GE:\n\t\treturn tc_lt(a, b, is_signed) ^ 1;", "case TC_CMP_GE:\n\t\treturn tc_lt(b, a, is_signed);")]
cmp-eq-as-ne	`==` computes `!=`
	[("case TC_CMP_EQ:\n\t\treturn tc_is_zero(a ^ b);", "case TC_CMP_EQ:\n\t\treturn tc_is_zero(a ^ b) ^ 1;")]
cmp-ne-as-eq	`!=` computes `==`
	[("case TC_CMP_NE:\n\t\treturn tc_is_zero(a ^ b) ^ 1;", "case TC_CMP_NE:\n\t\treturn tc_is_zero(a ^ b);")]
cmp-sign-flip-dropped	signed comparisons compare unsigned
	[("bits.h", "\tif (is_signed) {\n\t\ta ^= 1ULL << 63;", "\tif (0 && is_signed) {\n\t\ta ^= 1ULL << 63;")]
extend-sign-dropped	tc_extend zero-extends signed values
	[("\tif (is_signed)\n\t\treturn (__u64)(((__s64)(v << sh)) >> sh);", "\tif (0 && is_signed)\n\t\treturn (__u64)(((__s64)(v << sh)) >> sh);")]
bswap16-removed	ntohs does nothing
	[("\t\tv = ((v & 0xff) << 8) | ((v >> 8) & 0xff);\n", "")]
bswap32-removed	ntohl does nothing
	[("\t\tv = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) |\n\t\t    ((v >> 24) & 0xff);\n", "")]
bswap32-misordered	ntohl swaps the two low bytes into the wrong places
	[("((v & 0xff) << 24) | ((v & 0xff00) << 8)", "((v & 0xff) << 16) | ((v & 0xff00) << 16)")]
hop-off-ignored	pointer hops ignore their offset
	[("tc_read(&next, 8, v + op->hop_off[h], op->hop_mem[h])", "tc_read(&next, 8, v, op->hop_mem[h])")]
hop-off-plus-8	pointer hops read 8 bytes too far
	[("tc_read(&next, 8, v + op->hop_off[h], op->hop_mem[h])", "tc_read(&next, 8, v + op->hop_off[h] + 8, op->hop_mem[h])")]
str-len-minus-1	strings are read one byte short
	[("return tc_read_str(slot, op->read_len, ", "return tc_read_str(slot, op->read_len - 1, ")]
dataloc-halves-swapped	__data_loc: the length taken as the offset
	[("(const __u8 *)ctx + (loc & 0xffff)", "(const __u8 *)ctx + (loc >> 16)")]
filter-and-as-or	AND computes OR
	[("\t\t\tst >>= 1;\n\t\t\tst &= ~1ULL | top;", "\t\t\tst >>= 1;\n\t\t\tst |= top;")]
filter-or-as-and	OR computes AND
	[("\t\t\tst >>= 1;\n\t\t\tst |= top;", "\t\t\tst >>= 1;\n\t\t\tst &= ~1ULL | top;")]
filter-not-ignored	`!` does nothing
	[("case TC_F_NOT:\n\t\t\tst ^= 1;", "case TC_F_NOT:\n\t\t\tst ^= 0;")]
filter-skipped	the filter never runs: every event is kept
	[("if (CFG.nfilter > CFG.join_filter && !tc_filter(rec, CFG.join_filter, CFG.nfilter))", "if (0 && !tc_filter(rec, CFG.join_filter, CFG.nfilter))")]
filter-at-minus-1	the filter runs before its last operand is captured
	[("\t\tif (i >= CFG.filter_at)\n\t\t\tbreak;", "\t\tif (i + 1 >= CFG.filter_at)\n\t\t\tbreak;"), ("\t\tif (i < CFG.filter_at)\n\t\t\tcontinue;", "\t\tif (i + 1 < CFG.filter_at)\n\t\t\tcontinue;")]
cmp-str-nul-check-removed	exact string match accepts a longer string
	[("\tif (!(f->flags & TC_FF_PREFIX))\n\t\tdiff |= str[len];\n", "")]
cmp-str-negate-ignored	string `!=` computes `==`
	[("\t\t\tif (f->flags & TC_FF_NEGATE)\n\t\t\t\tbit ^= 1;\n", "")]
header-probe-index-unwritten	records do not say which probe made them
	[("hdr->probe_index = CFG.probe_index;", "hdr->probe_index = 0;")]
record-zeroing-skipped	records keep stale bytes after short strings
	[("for (i = TC_RECORD_HEADER / 8; i < TC_MAX_RECORD / 8; i++) {", "for (i = TC_MAX_RECORD / 8; i < TC_MAX_RECORD / 8; i++) {")]
unknown-transform-kept	an unknown transform code stores the value as read
	[("\t\t    ((v >> 24) & 0xff);\n\t\tbreak;\n\tdefault:\n\t\treturn TC_UNKNOWN;", "\t\t    ((v >> 24) & 0xff);\n\t\tbreak;\n\tdefault:\n\t\tbreak;")]
unknown-filter-op-as-not	an unknown filter instruction acts as `!`
	[("\t\tcase TC_F_NOT:\n\t\t\tst ^= 1;\n\t\t\tbreak;\n\t\tdefault:\n\t\t\tgoto unknown;", "\t\tcase TC_F_NOT:\n\t\tdefault:\n\t\t\tst ^= 1;\n\t\t\tbreak;")]
calc-signed-div-sign-dropped	signed `/` returns the quotient of the magnitudes
	[("calc.h", "\treturn (r ^ (ma ^ mb)) - (ma ^ mb);", "\treturn r;")]
calc-mod-by-zero-kept	`x % 0` gives x (BPF's rule) instead of 0
	[("calc.h", "r = (a % b) & nz;", "r = a % b;")]
calc-shift-count-mod-32	shift counts are taken modulo 32
	[("calc.h", "r = a << (b & 63);", "r = a << (b & 31);"), ("calc.h", "\t\t\tr = a >> (b & 63);", "\t\t\tr = a >> (b & 31);")]
calc-sar-as-shr	`>>` of a signed value is logical
	[("calc.h", "r = (__u64)((__s64)a >> (b & 63));", "r = a >> (b & 63);")]
calc-imm-a-ignored	an immediate left operand (`-x`, `100 - x`) is read from a slot
	[("calc.h", "a = (flags & TC_CF_IMM_A) ? c->imm : ", "a = ")]
calc-filter-phase-skipped	arithmetic the filter needs runs after it
	[("\t\tif (i >= CFG.calc_at)\n\t\t\tbreak;", "\t\tif (i >= 0)\n\t\t\tbreak;")]
agg-hist-bucket-low	hist() puts a value one power-of-two bucket low
	[("agg.h", "tc_select(tc_is_zero(x), 1, 2 + tc_log2(x))", "tc_select(tc_is_zero(x), 1, 1 + tc_log2(x))")]
agg-min-unordered	min() compares signed values as unsigned
	[("agg.h", "w[0] = tc_umax(w[0], ~tc_ord(x, sg));", "w[0] = tc_umax(w[0], ~x);")]
agg-max-keeps-last	max() keeps the last value, not the largest
	[("agg.h", "w[0] = tc_umax(w[0], tc_ord(x, sg));", "w[0] = tc_ord(x, sg);")]
agg-last-bucket-clamp-low	values at or above lhist's maximum land in the last linear bucket
	[("agg.h", "\t\tidx = a->nbuckets - 1;", "\t\tidx = a->nbuckets - 2;")]
agg-avg-count-doubled	avg() counts each event twice
	[("agg.h", "\t\tw[1] += 1;", "\t\tw[1] += 2;")]
agg-sum-counts	sum() adds 1 instead of the value
	[("agg.h", "\tcase TC_AGG_SUM:\n\t\tw[0] += x;", "\tcase TC_AGG_SUM:\n\t\tw[0] += 1;")]
agg-full-map-uncounted	events whose key does not fit are not counted
	[("agg.h", "\t\t\tif (n)\n\t\t\t\t*n += 1;", "\t\t\tif (n)\n\t\t\t\t*n += 0;")]
pair-delete-dropped	a matched start stays in the stash (and matches again)
	[("pair.h", "\tbpf_map_delete_elem(&stash, rec + key_off);\n", "")]
pair-latency-not-rewritten	a paired record's latency holds the start's timestamp
	[("pair.h", "\t*first = ts - *first;", "\t*first = *first + 0 * ts;")]
pair-stage1-filter-flipped	an exit failing the end's first stage is joined; one passing it is dropped
	[("if (CFG.join_filter && !tc_filter(rec, 0, CFG.join_filter))", "if (CFG.join_filter && tc_filter(rec, 0, CFG.join_filter))")]
pair-replace-uncounted	a start replacing a stashed one is not counted
	[("pair.h", "\t\ttc_pair_count(TC_PC_REPLACED);\n", "")]
index-hop-ignored	an indexed hop reads element 0 (pidns of a nested pid namespace is the host's)
	[("\t\t\tv += (__u64)idx * op->index_scale;", "\t\t\tv += 0 * (__u64)idx * op->index_scale;")]
task-builtin-zero	`task` is 0: every path through it reads nothing
	[("\t\t\tv = (__u64)bpf_get_current_task();", "\t\t\tv = 0;")]
join-no-space	join() separates strings with NUL: only the first is printed
	[("\t\tslot[(off - 1) & (TC_JOIN_BYTES - 1)] = ' ';", "\t\tslot[(off - 1) & (TC_JOIN_BYTES - 1)] = 0;")]
join-truncation-unflagged	join() reads more strings than max without marking it
	[("\t\tif (i >= max_args || off + 1 >= room) {\n\t\t\tslot[room] = 1;", "\t\tif (i >= max_args || off + 1 >= room) {\n\t\t\tslot[room] = 0;")]
cgroup-filter-ignored	--cgroup keeps every task
	[("if ((CFG.flags & TC_CFG_CGROUP) && bpf_current_task_under_cgroup(&cgroup_filter, 0) != 1)", "if ((CFG.flags & TC_CFG_CGROUP) && bpf_current_task_under_cgroup(&cgroup_filter, 0) == 7)")]
stack-user-flag-dropped	`ustack` walks the kernel stack
	[("stack.h", "user ? BPF_F_USER_STACK : 0", "0")]
stack-errno-as-id-0	a stack that could not be walked reads as stack 0 (someone else's frames)
	[("stack.h", "\treturn (__u64)(__s64)id;", "\treturn id < 0 ? 0 : (__u64)id;")]
EOF
)

names() { printf '%s\n' "$MUTANTS" | grep -v $'^\t' | cut -f1; }

if [ "${1:-}" = --list ]; then
    names
    exit 0
fi
selected=("$@")
for n in "${selected[@]}"; do
    names | grep -qx -- "$n" || { echo "unknown mutant $n (see --list)" >&2; exit 2; }
done

scratch=$root/target/mutants-templates
src=$scratch/src
log=$scratch/logs
export CARGO_TARGET_DIR=$scratch/target
export CARGO_PROFILE_RELEASE_LTO=off
export CARGO_PROFILE_RELEASE_INCREMENTAL=true
export CI=${CI:-true}
results=${MUTANTS_RESULTS:-$root/tests/mutants/templates.md}
# One test binary must not hang the run: a mutant that makes one hang is
# caught (the suite would fail), and the table says so.
per_binary_timeout=${MUTANTS_TIMEOUT:-900}
start=$(date +%s)

step() { printf '\n==> %s\n' "$*"; }

# --- the scratch copy --------------------------------------------------------
step "copying the work tree to $src"
mkdir -p "$log"
# tar keeps the files' times, so cargo rebuilds only what changed since the
# last run (a fresh copy each time: no stale file survives).
rm -rf "$src"
mkdir -p "$src"
tar -C "$root" --exclude=./target --exclude=./.git --exclude=./fuzz/target -cf - . | tar -C "$src" -xf -
rm -rf "$scratch/orig"
mkdir -p "$scratch/orig"
cp "$src"/templates-ebpf/*.h "$scratch/orig/"

# The fast, specific binaries first: a run stops at the first that fails.
binaries=(arithmetic aggregate pairing context stacks semantics kernel e2e)

# Restores every header of the scratch copy from the originals.
restore() {
    cp "$scratch"/orig/*.h "$src/templates-ebpf/"
}

# Applies mutant $1 to the scratch headers (from the originals); fails when a
# pattern does not occur exactly once in its file.
apply() {
    local name=$1 repl
    restore
    repl=$(printf '%s\n' "$MUTANTS" | awk -F'\t' -v n="$name" '
        found { print $2; exit } $1 == n { found = 1 }')
    python3 - "$scratch/orig" "$src/templates-ebpf" "$repl" <<'PY'
import os, sys
orig, out, repl = sys.argv[1], sys.argv[2], eval(sys.argv[3])
texts = {}
for r in repl:
    name, old, new = r if len(r) == 3 else ("capture.h",) + tuple(r)
    text = texts.get(name) or open(os.path.join(orig, name)).read()
    n = text.count(old)
    if n != 1:
        sys.exit(f"pattern occurs {n} times in {name}: {old!r}")
    texts[name] = text.replace(old, new)
for name, text in texts.items():
    open(os.path.join(out, name), "w").write(text)
PY
}

# Builds the objects and the test binaries; prints the executables, one
# "name path" per line.
build() {
    (cd "$src" && bash templates-ebpf/build.sh >/dev/null)
    local t=()
    for b in "${binaries[@]}"; do t+=(--test "$b"); done
    (cd "$src" && cargo test --release -p tracectl "${t[@]}" --no-run --message-format=json) |
        python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "test" in m["target"]["kind"]:
        print(m["target"]["name"], m["executable"])
'
}

# Runs the test binaries in order until one fails. Prints "pass", or
# "fail BINARY: TEST, TEST" (every failing test of that binary), or
# "timeout BINARY".
run_tests() {
    local exes=$1 tag=$2 b exe out rc failed
    for b in "${binaries[@]}"; do
        exe=$(printf '%s\n' "$exes" | awk -v b="$b" '$1 == b { print $2 }')
        [ -n "$exe" ] || { echo "fail $b: (not built)"; return; }
        out=$log/$tag.$b.log
        rc=0
        (cd "$src/runtime" && timeout "$per_binary_timeout" "$exe" --test-threads=1) >"$out" 2>&1 || rc=$?
        if [ $rc -eq 124 ]; then
            echo "timeout $b"
            return
        elif [ $rc -ne 0 ]; then
            failed=$(grep -E '^test .* \.\.\. FAILED$' "$out" |
                sed -E 's/^test (.*) \.\.\. FAILED$/\1/' | paste -sd, - | sed 's/,/, /g')
            echo "fail $b: ${failed:-(exit $rc, see $out)}"
            return
        fi
    done
    echo pass
}

# --- baseline ----------------------------------------------------------------
step "baseline: the unmutated templates must pass ${binaries[*]}"
restore
exes=$(build 2>"$log/baseline.build.log") || {
    tail -30 "$log/baseline.build.log" >&2
    echo "error: the unmutated copy does not build" >&2
    exit 1
}
verdict=$(run_tests "$exes" baseline)
if [ "$verdict" != pass ]; then
    echo "error: the unmutated copy fails its tests ($verdict; logs in $log): fix that first" >&2
    exit 1
fi
echo "baseline passes ($(($(date +%s) - start)) s so far)"

# --- the mutants -------------------------------------------------------------
mapfile -t all < <(names)
[ ${#selected[@]} -gt 0 ] && all=("${selected[@]}")
rows=()
caught=0
bad=0
for name in "${all[@]}"; do
    desc=$(printf '%s\n' "$MUTANTS" | awk -F'\t' -v n="$name" '$1 == n { print $2 }')
    t0=$(date +%s)
    step "mutant $name: $desc"
    if ! err=$(apply "$name" 2>&1); then
        echo "DOES NOT APPLY: $err"
        rows+=("| $name | $desc | **DOES NOT APPLY** | $err |")
        bad=$((bad + 1))
        continue
    fi
    if ! exes=$(build 2>"$log/$name.build.log"); then
        echo "DOES NOT BUILD (see $log/$name.build.log)"
        rows+=("| $name | $desc | **DOES NOT BUILD** | see the build log |")
        bad=$((bad + 1))
        continue
    fi
    verdict=$(run_tests "$exes" "$name")
    secs=$(($(date +%s) - t0))
    case "$verdict" in
    pass)
        echo "SURVIVED (${secs} s)"
        rows+=("| $name | $desc | **SURVIVED** | every test passed |")
        bad=$((bad + 1)) ;;
    timeout*)
        echo "caught: ${verdict#timeout } timed out (${secs} s)"
        rows+=("| $name | $desc | caught | \`${verdict#timeout }\` timed out |")
        caught=$((caught + 1)) ;;
    *)
        echo "caught by ${verdict#fail } (${secs} s)"
        rows+=("| $name | $desc | caught | ${verdict#fail } |")
        caught=$((caught + 1)) ;;
    esac
done
restore
(cd "$src" && bash templates-ebpf/build.sh >/dev/null)

# --- report ------------------------------------------------------------------
total=${#all[@]}
elapsed=$(($(date +%s) - start))
table=$(
    echo "| mutant | planted bug | result | failing tests (first binary that fails) |"
    echo "|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
)
summary="$caught of $total template mutants caught; tests run: ${binaries[*]}; $((elapsed / 60)) min $((elapsed % 60)) s on $(nproc) CPUs, kernel $(uname -r)."
step "results"
printf '%s\n\n%s\n' "$table" "$summary"

if [ ${#selected[@]} -eq 0 ]; then
    mkdir -p "$(dirname "$results")"
    {
        echo "# Template mutants (scripts/mutants-templates.sh)"
        echo
        echo "Each row is one bug planted in \`templates-ebpf/\` (capture.h, calc.h, agg.h, pair.h, bits.h); the"
        echo "objects and tests are rebuilt and the kernel-facing tests must fail."
        echo "Written by the last full run ($(date -u +%Y-%m-%d))."
        echo
        printf '%s\n\n%s\n' "$table" "$summary"
    } >"$results"
    echo "written to ${results#"$root"/}"
fi
[ $bad -eq 0 ]
