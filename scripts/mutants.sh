#!/usr/bin/env bash
# Mutation testing of the code where a wrong value reaches the user
# (issue 18): cargo-mutants plants one small bug at a time (a flipped
# comparison, a deleted `!`, a function returning a default) in the compiler's
# checker and lowering, the runtime's ABI encoder, the record decoder and the
# output writers, rebuilds, and runs the tests that should notice. A mutant
# the tests do not notice is MISSED: either a test is missing, or the mutant
# is equivalent (behaves exactly as the original), in which case it is listed
# with its reason in .cargo/mutants.toml.
#
#   bash scripts/mutants.sh                  # every group (≈ 1 hour on 2 cores)
#   bash scripts/mutants.sh compiler         # one group: compiler | runtime
#   bash scripts/mutants.sh runtime -- -F decode   # extra cargo-mutants args
#
# Each group tests its mutants with the tests that run without a kernel (the
# compiler's unit, corpus, fixture and snapshot tests; the runtime's unit and
# output tests, and the ABI layout test): a kernel test per mutant would cost
# minutes each. The kernel paths are mutation-tested by
# scripts/mutants-templates.sh. Results: target/mutants/<group>/mutants.out/
# (caught.txt, missed.txt, ...); the figures of the last full run are in
# tests/mutants/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-mutants >/dev/null 2>&1; then
    echo "==> installing cargo-mutants"
    cargo install --locked cargo-mutants
fi

groups=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do groups+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
[ ${#groups[@]} -gt 0 ] || groups=(compiler runtime)

status=0
for g in "${groups[@]}"; do
    case "$g" in
    compiler)
        # Every compiler test but robustness (23k hostile inputs looking for
        # panics and hangs, not values: 20 s a mutant for nothing).
        args=(-p tracectl-compiler -f compiler/src/check.rs -f compiler/src/lower.rs
              --test-package tracectl-compiler --cargo-test-arg=--lib
              --cargo-test-arg=--test=btf_reader --cargo-test-arg=--test=diagnostics
              --cargo-test-arg=--test=resolve_fixture --cargo-test-arg=--test=roundtrip) ;;
    runtime)
        args=(-p tracectl -f 'runtime/src/abi.rs' -f 'runtime/src/abi/*.rs'
              -f runtime/src/decode.rs -f 'runtime/src/output/*.rs'
              --test-package tracectl --cargo-test-arg=--lib
              --cargo-test-arg=--test=output --cargo-test-arg=--test=abi_layout) ;;
    *) echo "unknown group $g (compiler | runtime)" >&2; exit 2 ;;
    esac
    echo "==> cargo mutants: $g"
    mkdir -p target/mutants
    cargo mutants --profile mutants --timeout 300 -o "target/mutants/$g" "${args[@]}" "$@" || status=$?
done
exit $status
