//! Tests whose subject this machine cannot exercise, proven elsewhere in the
//! same CI run.
//!
//! The development and CI machines have no kprobes and refuse BPF
//! trampolines, so a test of kernel-function probes cannot run its subject
//! there. Such a test asserts that the refusal is the expected one and calls
//! [`not_run_here`]; the VM matrix (`tests/vm/`, run by `.ci/run` after
//! `scripts/test.sh`) runs the very same test binary on every kernel of the
//! matrix, where the subject must run. The rule, enforced here:
//!
//! * with `TRACECTL_REQUIRE_KERNEL_FUNCTIONS` set (the VM guests set it),
//!   [`not_run_here`] fails the test: there the subject must run;
//! * otherwise the test must be listed in `tests/vm/host-tests.txt` (the
//!   tests the matrix runs) and `.ci/run` must run the matrix, or it fails;
//! * and it appends `NOT RUN HERE: TARGET::TEST — why; proven by the VM
//!   matrix row "test TARGET::TEST" on kernels …` to the not-run-here file
//!   (`$TRACECTL_NOT_RUN_HERE`, else `target/not-run-here.txt`), which
//!   `scripts/test.sh` prints after `cargo test`, so the CI log shows it.
//!
//! A test that did exercise its subject calls [`exercised`]: its line is what
//! the VM row looks for, next to the harness's "1 passed".
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;

/// Set (non-empty, not `0`) where kernel functions must be probed: the VM
/// guests. [`not_run_here`] then fails.
pub const REQUIRE_ENV: &str = "TRACECTL_REQUIRE_KERNEL_FUNCTIONS";

/// The file the `NOT RUN HERE` lines are appended to (scripts/test.sh sets it).
pub const FILE_ENV: &str = "TRACECTL_NOT_RUN_HERE";

/// The tests the VM matrix runs, `TARGET TEST` a line.
const HOST_TESTS: &str = include_str!("../vm/host-tests.txt");
/// The CI entry point, which must run the VM matrix.
const CI_RUN: &str = include_str!("../../.ci/run");
/// The VM matrix's driver (its default kernels).
const VM_RUN: &str = include_str!("../vm/run.sh");

/// This test binary's cargo target (`kernel`, `recipes`): its file name
/// without cargo's `-HASH` suffix.
pub fn target() -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let name = exe
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_else(|| panic!("test binary without a UTF-8 name: {}", exe.display()));
    match name.rsplit_once('-') {
        Some((t, hash)) if !hash.is_empty() && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            t.to_string()
        }
        _ => name.to_string(),
    }
}

/// The VM matrix's row for `test` of this binary.
pub fn vm_row(test: &str) -> String {
    format!("test {}::{test}", target())
}

/// Whether tests/vm/host-tests.txt lists `target test`.
fn listed(target: &str, test: &str) -> bool {
    HOST_TESTS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| l.split_whitespace().eq([target, test]))
}

/// Whether .ci/run runs the VM matrix (on a command line, not in a comment).
fn ci_runs_the_matrix() -> bool {
    CI_RUN
        .lines()
        .map(str::trim)
        .any(|l| !l.starts_with('#') && l.contains("tests/vm/run.sh"))
}

/// The matrix's kernels: run.sh's default `KERNELS`, e.g. "5.10, 6.1".
fn vm_kernels() -> String {
    VM_RUN
        .lines()
        .find_map(|l| l.trim().strip_prefix("KERNELS=${TRACECTL_VM_KERNELS:-"))
        .and_then(|rest| rest.strip_suffix('}'))
        .map(|k| k.replace(',', ", "))
        .expect("tests/vm/run.sh sets KERNELS=${TRACECTL_VM_KERNELS:-...}")
}

/// Where the `NOT RUN HERE` lines go: `$TRACECTL_NOT_RUN_HERE`, else
/// `not-run-here.txt` in cargo's target directory (above `release/deps/`).
fn not_run_here_file() -> PathBuf {
    if let Some(p) = std::env::var_os(FILE_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .nth(3)
        .map(|target_dir| target_dir.join("not-run-here.txt"))
        .unwrap_or_else(|| std::env::temp_dir().join("tracectl-not-run-here.txt"))
}

/// Whether this run must exercise kernel functions ([`REQUIRE_ENV`]).
pub fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Called by `test` (of this binary) when this machine refused its subject,
/// after asserting the refusal was the expected one; `why` says what was
/// refused. Fails under [`REQUIRE_ENV`], and unless the VM matrix runs the
/// test; otherwise records and prints the `NOT RUN HERE` line.
pub fn not_run_here(test: &str, why: &str) {
    let target = target();
    let why = why.trim().replace('\n', " / ");
    assert!(
        !required(),
        "{target}::{test} did not exercise its subject: {why} \
         ({REQUIRE_ENV} is set: this machine must run it)"
    );
    assert!(
        listed(&target, test),
        "{target}::{test} cannot run its subject here ({why}), and nothing else proves \
         it: tests/vm/host-tests.txt must list \"{target} {test}\" so that the VM \
         matrix runs it"
    );
    assert!(
        ci_runs_the_matrix(),
        "{target}::{test} relies on the VM matrix, but .ci/run does not run tests/vm/run.sh"
    );
    let line = format!(
        "NOT RUN HERE: {target}::{test} — {why}; proven by the VM matrix row \"{}\" \
         on kernels {}",
        vm_row(test),
        vm_kernels()
    );
    eprintln!("{line}");
    let path = not_run_here_file();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open {} to record \"{line}\": {e}", path.display()));
    // One write of the whole line: tests of other binaries append too.
    f.write_all(format!("{line}\n").as_bytes())
        .unwrap_or_else(|e| panic!("cannot append to {}: {e}", path.display()));
}

/// Called by `test` once its subject ran and its assertions held; `how` names
/// the mechanisms (e.g. "fentry,fexit"), shown in the VM matrix's cell.
/// The VM row requires this line (`--nocapture` shows it).
pub fn exercised(test: &str, how: &str) {
    // On a line of its own: libtest has printed "test NAME ... " already.
    println!("\nEXERCISED: {}::{test} [{how}]", target());
}
