//! Aggregations (spec-v2 §2) against events whose number and values the test
//! knows exactly: `count()` of a uniquely named program's calls, `sum`,
//! `min`, `max`, `avg`, `hist` and `lhist` of chosen sizes and offsets
//! (every bucket checked), one print per interval plus one at exit (reset,
//! and cumulative), and a tiny `max_keys` reporting exactly the events it
//! could not count.
//!
//! Events: `fadvise64` calls of this process on descriptors that are never
//! open (EBADF, no effect) with chosen arguments, `write`s of chosen sizes
//! to /dev/null, and `read`s of a copy of `dd` under a unique name.
//!
//! Needs root and kernel BTF: without them it fails when `CI=true`, else it
//! prints SKIPPED.

#[path = "common/mod.rs"]
mod common;

use common::{bpf_available, json_lines, scratch, serial, Tracer};
use std::collections::BTreeMap;
use std::process::Command;

/// fadvise64(fd, offset, len, advice) on a descriptor that is never open.
fn fadvise(fd: i64, offset: i64, len: u64, advice: i32) {
    // SAFETY: scalar arguments; the call fails with EBADF before acting.
    let r = unsafe { libc::syscall(libc::SYS_fadvise64, fd, offset, len as i64, advice as i64) };
    let e = std::io::Error::last_os_error();
    assert!(
        r == -1 && e.raw_os_error() == Some(libc::EBADF),
        "fadvise64: {r} {e}"
    );
}

fn me() -> String {
    std::process::id().to_string()
}

use common::hist_buckets as buckets;
use common::json_int as int;

/// The power-of-two bucket bpftrace's hist() puts v in, as closed bounds.
fn log2_bucket(v: i64) -> (Option<i128>, Option<i128>) {
    match v {
        v if v < 0 => (None, Some(-1)),
        0 => (Some(0), Some(0)),
        1 => (Some(1), Some(1)),
        v => {
            let k = 63 - (v as u64).leading_zeros();
            (Some(1i128 << k), Some((1i128 << (k + 1)) - 1))
        }
    }
}

/// The expected non-empty buckets of `values`, in order.
fn expect_hist(
    values: &[i64],
    bucket: impl Fn(i64) -> (Option<i128>, Option<i128>),
) -> Vec<(Option<i128>, Option<i128>, u64)> {
    let mut m: BTreeMap<(i128, Option<i128>, Option<i128>), u64> = BTreeMap::new();
    for &v in values {
        let (lo, hi) = bucket(v);
        *m.entry((lo.unwrap_or(i128::MIN), lo, hi)).or_default() += 1;
    }
    m.into_iter().map(|((_, lo, hi), n)| (lo, hi, n)).collect()
}

/// count, sum, min, max, avg, hist and lhist by a key, every value exact.
#[test]
fn every_function_is_exact_per_key() {
    if !bpf_available() {
        return;
    }
    let _g = serial();
    // Per key (`advice`), the offsets of its calls.
    let keys: BTreeMap<i32, Vec<i64>> = BTreeMap::from([
        (7, vec![5, -3, 100, 0, 1, 64, 65, -1000, 9_000_000_000]),
        (-2, vec![-1, -1, -1]),
        (1_000_000, vec![i64::MAX, i64::MIN, 42]),
    ]);
    let spec = "version 2\n\
        tracepoint:syscalls:sys_enter_fadvise64 as stats { \
          n = count(), total = sum(offset), lo = min(offset), hi = max(offset), \
          mean = avg(offset), h = hist(offset), l = lhist(offset, -100, 100, 25), \
          ul = max(len) } by advice where fd < -4000";
    let t = Tracer::start(&["-e", spec, "--pid", &me(), "-o", "json", "-d", "2s"]);
    let mut fd = -4001;
    for (&advice, offsets) in &keys {
        for &o in offsets {
            fadvise(fd, o, (o as u64) ^ 0xff, advice);
            fd -= 1;
        }
    }
    // Filtered out: never counted.
    fadvise(-3999, 1, 1, 7);
    let (out, err) = t.finish();
    let rows = json_lines(&out);
    assert_eq!(rows.len(), keys.len(), "one row per key:\n{out}\n{err}");
    for r in &rows {
        assert_eq!(r["probe"], "stats");
        assert!(r["time"].is_string(), "{r}");
        let advice = int(&r["advice"]) as i32;
        let offs = &keys[&advice];
        let sum: i128 = offs.iter().map(|&o| o as i128).sum();
        // The kernel sums in 64 bits, wrapping.
        let wrapped = sum as i64 as i128;
        let n = offs.len() as i128;
        assert_eq!(int(&r["n"]), n, "count for {advice}: {r}");
        assert_eq!(int(&r["total"]), wrapped, "sum for {advice}: {r}");
        assert_eq!(
            int(&r["lo"]),
            *offs.iter().min().unwrap() as i128,
            "min: {r}"
        );
        assert_eq!(
            int(&r["hi"]),
            *offs.iter().max().unwrap() as i128,
            "max: {r}"
        );
        assert_eq!(
            int(&r["mean"]),
            (wrapped as i64 / n as i64) as i128,
            "avg: {r}"
        );
        let ul = offs.iter().map(|&o| (o as u64) ^ 0xff).max().unwrap();
        assert_eq!(int(&r["ul"]), ul as i128, "unsigned max: {r}");
        assert_eq!(
            buckets(&r["h"]),
            expect_hist(offs, log2_bucket),
            "hist for {advice}: {r}"
        );
        let lin = |v: i64| match v {
            v if v < -100 => (None, Some(-101)),
            v if v >= 100 => (Some(100), None),
            v => {
                let lo = -100 + (v + 100) / 25 * 25;
                (Some(lo as i128), Some(lo as i128 + 24))
            }
        };
        assert_eq!(
            buckets(&r["l"]),
            expect_hist(offs, lin),
            "lhist for {advice}: {r}"
        );
    }
}

/// `count()` by comm of a uniquely named `dd` is exactly its number of reads
/// of the block size, and `hist(count)` puts them all in [512, 1K).
#[test]
fn count_by_comm_of_a_unique_program() {
    if !bpf_available() {
        return;
    }
    let _g = serial();
    let dir = scratch("agg-dd");
    let name = format!("aggdd{}", std::process::id() % 100_000);
    let dd = dir.join(&name);
    std::fs::copy("/bin/dd", &dd).expect("copy dd");
    let spec = format!(
        "version 2\ntracepoint:syscalls:sys_enter_read {{ calls = count(), sizes = hist(count) }} \
         by comm where comm == \"{name}\" && count == 512"
    );
    let t = Tracer::start(&["-e", &spec, "-o", "json", "-d", "2s"]);
    let blocks = 137;
    let st = Command::new(&dd)
        .args([
            "if=/dev/zero",
            "of=/dev/null",
            "bs=512",
            &format!("count={blocks}"),
        ])
        .output()
        .expect("run dd");
    assert!(st.status.success(), "{st:?}");
    let (out, err) = t.finish();
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 1, "{out}\n{err}");
    assert_eq!(rows[0]["comm"], name.as_str());
    assert_eq!(int(&rows[0]["calls"]), blocks);
    assert_eq!(
        buckets(&rows[0]["sizes"]),
        vec![(Some(512), Some(1023), blocks as u64)]
    );
}

/// Interval prints reset the values (unless cumulative) and a last print
/// comes at exit: events of the first interval appear once, not again.
#[test]
fn intervals_reset_and_cumulative_keeps() {
    if !bpf_available() {
        return;
    }
    let _g = serial();
    for cumulative in [false, true] {
        let spec = format!(
            "version 2\ntracepoint:syscalls:sys_enter_fadvise64 {{ n = count() }} where fd < -5000\n\
             output interval 500ms, cumulative {cumulative}"
        );
        let t = Tracer::start(&["-e", &spec, "--pid", &me(), "-o", "json", "-d", "2300ms"]);
        for i in 0..10 {
            fadvise(-5001 - i, 0, 0, 0);
        }
        // Well into a later interval.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        for i in 0..5 {
            fadvise(-5101 - i, 0, 0, 0);
        }
        let (out, err) = t.finish();
        let counts: Vec<i128> = json_lines(&out).iter().map(|r| int(&r["n"])).collect();
        if cumulative {
            // Every print from the first on shows the total so far, the last 15.
            assert!(counts.len() >= 4, "prints {counts:?}\n{err}");
            assert_eq!(counts.first(), Some(&10), "{counts:?}");
            assert_eq!(counts.last(), Some(&15), "{counts:?}");
            assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
        } else {
            // A print with no events has no rows: exactly the two batches.
            assert_eq!(counts, vec![10, 5], "{err}");
        }
    }
}

/// One print per interval and one at exit (table: one heading per print).
#[test]
fn one_print_per_interval_and_one_at_exit() {
    if !bpf_available() {
        return;
    }
    let _g = serial();
    let spec = "version 2\ntracepoint:syscalls:sys_enter_fadvise64 as ticks { n = count() }";
    let t = Tracer::start(&[
        "-e",
        spec,
        "--pid",
        &me(),
        "--interval",
        "400ms",
        "-d",
        "1800ms",
    ]);
    let (out, err) = t.finish();
    // Prints at 0.4, 0.8, 1.2 and 1.6 s, then the one at exit (1.8 s).
    let headings = out
        .lines()
        .filter(|l| l.starts_with('[') && l.ends_with("] ticks"))
        .count();
    assert_eq!(headings, 5, "{out}\n{err}");
}

/// With room for 3 keys, the events of 7 further keys are counted as not
/// counted, exactly, and the 3 keys that fit are exact.
#[test]
fn keys_beyond_max_keys_are_counted_and_reported() {
    if !bpf_available() {
        return;
    }
    let _g = serial();
    let spec = "version 2\ntracepoint:syscalls:sys_enter_fadvise64 as few { n = count() } \
                by fd where fd < -6000";
    let t = Tracer::start(&[
        "-e",
        spec,
        "--pid",
        &me(),
        "--max-keys",
        "3",
        "-o",
        "json",
        "-d",
        "2s",
    ]);
    for round in 0..2 {
        for k in 0..10 {
            fadvise(-6001 - k, round, 0, 0);
        }
    }
    let (out, err) = t.finish();
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 3, "{out}\n{err}");
    assert!(rows.iter().all(|r| int(&r["n"]) == 2), "{out}");
    assert!(
        err.contains("14 events of few not counted"),
        "7 keys x 2 calls must be reported:\n{err}"
    );
}

/// A probe without `by:` has one row; an event probe beside an aggregating
/// one still streams its records; CSV draws a histogram as one cell.
#[test]
fn no_keys_mixed_specs_and_csv() {
    if !bpf_available() {
        return;
    }
    let _g = serial();
    let spec = "version 2\n\
        tracepoint:syscalls:sys_enter_fadvise64 as each { fd = fd } where fd < -7000\n\
        tracepoint:syscalls:sys_enter_fadvise64 as all { n = count(), h = hist(len) } where fd < -7000";
    let t = Tracer::start(&[
        "-e",
        spec,
        "--pid",
        &me(),
        "-o",
        "csv",
        "--time",
        "none",
        "-d",
        "2s",
    ]);
    for (i, len) in [3u64, 3, 9].iter().enumerate() {
        fadvise(-7001 - i as i64, 0, *len, 0);
    }
    let (out, err) = t.finish();
    let lines: Vec<&str> = out.lines().collect();
    let events: Vec<&&str> = lines.iter().filter(|l| l.starts_with("each,")).collect();
    assert_eq!(events.len(), 3, "{out}\n{err}");
    let agg = lines
        .iter()
        .find(|l| l.contains(",all,"))
        .unwrap_or_else(|| panic!("no aggregation row:\n{out}"));
    assert!(agg.ends_with(",3,2..3:2;8..15:1"), "{agg}");
}

/// Ctrl-C and SIGTERM end a run with the print at exit; `--top` keeps the
/// largest rows, sorted by the `sort` column, descending.
#[test]
fn signals_print_at_exit_and_top_keeps_the_largest() {
    if !bpf_available() {
        return;
    }
    let _g = serial();
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let spec = "version 2\ntracepoint:syscalls:sys_enter_fadvise64 as ranked { n = count() } \
                    by key = -fd where fd < -8000\noutput sort n";
        let t = Tracer::start(&["-e", spec, "--pid", &me(), "--top", "2", "-o", "json"]);
        // Key k (1..=5) is called k times.
        for k in 1..=5i64 {
            for _ in 0..k {
                fadvise(-8000 - k, 0, 0, 0);
            }
        }
        t.signal(sig);
        let (out, err) = t.finish();
        let rows: Vec<(i128, i128)> = json_lines(&out)
            .iter()
            .map(|r| (int(&r["key"]), int(&r["n"])))
            .collect();
        assert_eq!(rows, vec![(8005, 5), (8004, 4)], "signal {sig}:\n{err}");
    }
}
