//! Start/end pairing in the kernel (spec-v2 section 3): hand-built plans of
//! paired probes, real events this test makes, exact counts.
//!
//! A paired probe is two programs (start, end) sharing an LRU stash
//! (templates-ebpf/pair.h). Every test here limits events to this process
//! (`target_tgid`) and checks records and the probe's counters exactly:
//! matched, unmatched ends, replaced, evicted, starts left in the stash.
//!
//! Like runtime/tests/kernel.rs, they need root, BPF and kernel BTF (a CI
//! run without them fails; elsewhere they are skipped with a message), and
//! run one at a time.

use std::fs;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use tracectl::load::{Loader, LoaderOptions};
use tracectl::pair::PairCounts;
use tracectl::session::Session;
use tracectl::templates::Kind;
use tracectl_compiler::plan::*;

mod support;
use support::*;

/// A loader that only sees this process's events.
fn loader() -> Loader {
    Loader::new(LoaderOptions {
        target_tgid: std::process::id(),
        ..LoaderOptions::default()
    })
    .expect("loader")
}

fn tid_op(slot: u32) -> ValueOp {
    op(
        slot,
        8,
        Base::Builtin {
            builtin: Builtin::Tid,
        },
        Read::Value,
    )
}

fn arg(slot: u32, off: u32, signed: bool) -> ValueOp {
    op(
        slot,
        8,
        Base::Arg {
            off,
            size: 8,
            signed,
        },
        Read::Value,
    )
}

/// The user string the pointer argument at args-area offset `off` points to.
fn user_str_arg(slot: u32, off: u32, max: u32) -> ValueOp {
    op(
        slot,
        max,
        Base::Arg {
            off,
            size: 8,
            signed: false,
        },
        Read::Str {
            off: 0,
            max,
            mem: Mem::User,
        },
    )
}

/// Offset of a tracepoint field, from tracefs.
fn tp_field(category: &str, name: &str, field: &str) -> u32 {
    let root = tracectl_compiler::tracefs::tracefs_root().expect("tracefs is mounted");
    let fmt = tracectl_compiler::tracefs::read_format(&root, category, name)
        .unwrap_or_else(|| panic!("no tracepoint {category}:{name}"));
    fmt.fields
        .iter()
        .find(|f| f.name == field)
        .unwrap_or_else(|| panic!("{category}:{name} has no field {field}"))
        .offset
}

/// The pairing part of a program's configuration: stashed bytes at
/// `value_off` (`value_size` of them), the key right after.
fn pair_config(role: PairRole, value_off: u32, value_size: u32, key_size: u32) -> PairConfig {
    PairConfig {
        role,
        value_off,
        key_off: value_off + value_size,
        key_size,
        value_size,
        join_at: 0,
        join_calc: 0,
        join_filter: 0,
    }
}

/// A paired probe: `end` (attach, config) is the probe's own program.
fn paired(
    name: &str,
    start: (Attach, ProbeConfig),
    end: (Attach, ProbeConfig),
    stash_entries: u32,
) -> ProbePlan {
    ProbePlan {
        name: name.into(),
        probe: name.into(),
        attach: end.0,
        config: end.1,
        fields: vec![],
        pair: Some(PairPlan {
            end: "end".into(),
            start: start.0,
            start_config: start.1,
            match_start: vec!["tid".into()],
            match_end: vec!["tid".into()],
            stash_entries,
        }),
    }
}

/// The only paired probe's counters, read after detaching (exact).
fn final_counts(s: &mut Session) -> PairCounts {
    s.detach();
    let mut all = s.pair_counts();
    assert_eq!(all.len(), 1, "one paired probe");
    let (probe, counts) = all.remove(0);
    assert_eq!(probe, 0);
    counts.expect("pairing counters")
}

/// The paired probe's counters while it runs.
fn counts_now(s: &Session) -> PairCounts {
    s.pair_counts().remove(0).1.expect("pairing counters")
}

/// The nanosleep system call itself (glibc's nanosleep() uses
/// clock_nanosleep); its return value.
fn nanosleep(ms: u64) -> i64 {
    let ts = libc::timespec {
        tv_sec: (ms / 1000) as libc::time_t,
        tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long,
    };
    // SAFETY: a valid timespec; no remainder wanted.
    unsafe {
        libc::syscall(
            libc::SYS_nanosleep,
            &ts as *const libc::timespec,
            std::ptr::null_mut::<libc::timespec>(),
        ) as i64
    }
}

// ---- nanosleep: key tid, no start values, latency and ret at the end ----

const MS: u64 = 1_000_000;
/// End record: header, latency (the stashed start ts), tid key, ret.
const NS_LATENCY: u32 = 16;
const NS_KEY: u32 = 24;
const NS_RET: u32 = 32;

/// `sys_enter_nanosleep` → `sys_exit_nanosleep`, matched by tid, with
/// `latency` and `ret`; the end's first stage (`join_filter` instructions
/// of `filter`, reading ret) decides whether an exit is an end.
fn nanosleep_probe(stash: u32, agg: Option<AggPlan>) -> ProbePlan {
    let ret_off = tp_field("syscalls", "sys_exit_nanosleep", "ret");
    // Start: [header][ts][tid].
    let mut start = config(0, 0, 32, vec![tid_op(24)]);
    start.pair = Some(pair_config(PairRole::Start, 16, 8, 8));
    // End: [header][agg key, if aggregating][latency][tid][ret].
    let shift = if agg.is_some() { 8 } else { 0 };
    let mut end = config(
        0,
        ret_off + 8,
        40 + shift,
        vec![tid_op(NS_KEY + shift), arg(NS_RET + shift, ret_off, true)],
    );
    let mut pc = pair_config(PairRole::End, NS_LATENCY + shift, 8, 8);
    pc.join_at = 1;
    end.pair = Some(pc);
    end.agg = agg;
    paired(
        "nanosleep",
        (tracepoint("syscalls", "sys_enter_nanosleep"), start),
        (tracepoint("syscalls", "sys_exit_nanosleep"), end),
        stash,
    )
}

/// Five 10 ms nanosleeps of this thread → five records with the latency
/// (10 ms plus at most 50 ms of scheduling) and ret 0; five matched, no
/// start left. Without a time column: a paired probe takes the time anyway.
#[test]
fn a_nanosleep_latency_five_records() {
    let Some(_g) = kernel_env() else { return };
    let mut p = plan(vec![nanosleep_probe(DEFAULT_STASH, None)]);
    p.output.time = TimeMode::None;
    let mut s = loader().start(&p).unwrap();
    assert_eq!(s.kinds(), &[Kind::Tracepoint]);
    assert_eq!(s.start_kinds(), &[Some(Kind::Tracepoint)]);
    let tid = gettid();
    for _ in 0..5 {
        assert_eq!(nanosleep(10), 0);
    }
    let mine = |r: &Vec<u8>| u64_at(r, NS_KEY) == tid;
    let recs = collect(&mut s, Duration::from_secs(5), |rs| {
        rs.iter().filter(|r| mine(r)).count() >= 5
    });
    let recs: Vec<&Vec<u8>> = recs.iter().filter(|r| mine(r)).collect();
    assert_eq!(recs.len(), 5, "records of this thread");
    for r in &recs {
        assert_eq!(r.len(), 40);
        let latency = u64_at(r, NS_LATENCY);
        assert!(
            (10 * MS..=60 * MS).contains(&latency),
            "latency {latency} ns is not 10 ms (+ at most 50 ms)"
        );
        assert_eq!(u64_at(r, NS_RET), 0, "ret");
        assert!(u64_at(r, 0) > 0, "the end's timestamp is taken");
    }
    let c = final_counts(&mut s);
    assert_eq!(
        (c.stashed, c.matched, c.unmatched_ends, c.replaced),
        (5, 5, 0, 0),
        "{c:?}"
    );
    assert_eq!((c.stash_entries, c.evicted, c.failed), (0, 0, 0), "{c:?}");
    assert_eq!(s.lost() + s.dropped_unknown(), 0);
}

// ---- openat: a start value (the file name) joined into the end's record ----

const OPEN_NAME: u32 = 24;
const OPEN_NAME_MAX: u32 = 256;
const OPEN_KEY: u32 = OPEN_NAME + OPEN_NAME_MAX;
const OPEN_RET: u32 = OPEN_KEY + 8;

/// `sys_enter_openat` (stashes `str(filename)`) → `sys_exit_openat` (ret),
/// matched by tid; the end's first stage is `filter` (`join_filter` of
/// its instructions), after both of its ops.
fn openat_probe(filter: Vec<FilterOp>, join_filter: u32) -> ProbePlan {
    let name_off = tp_field("syscalls", "sys_enter_openat", "filename");
    let ret_off = tp_field("syscalls", "sys_exit_openat", "ret");
    let value_size = 8 + OPEN_NAME_MAX;
    let mut start = config(
        0,
        name_off + 8,
        OPEN_KEY + 8,
        vec![
            user_str_arg(OPEN_NAME, name_off, OPEN_NAME_MAX),
            tid_op(OPEN_KEY),
        ],
    );
    start.pair = Some(pair_config(PairRole::Start, 16, value_size, 8));
    let mut end = config(
        0,
        ret_off + 8,
        OPEN_RET + 8,
        vec![tid_op(OPEN_KEY), arg(OPEN_RET, ret_off, true)],
    );
    end.filter = filter;
    let mut pc = pair_config(PairRole::End, 16, value_size, 8);
    pc.join_at = 2;
    pc.join_filter = join_filter;
    end.pair = Some(pc);
    paired(
        "openat",
        (tracepoint("syscalls", "sys_enter_openat"), start),
        (tracepoint("syscalls", "sys_exit_openat"), end),
        DEFAULT_STASH,
    )
}

/// A fresh directory for this test's files.
fn scratch_dir(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "tracectl-pair-{tag}-{}-{nanos:x}",
        std::process::id()
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Opening a missing, uniquely named file → one record with its path
/// (stashed at the start, joined at the end) and ret -2 (ENOENT).
#[test]
fn b_openat_joins_the_start_file_name() {
    let Some(_g) = kernel_env() else { return };
    let dir = scratch_dir("b");
    let missing = dir.join("no-such-file");
    let path = missing.to_str().unwrap().to_string();
    let mut s = loader()
        .start(&plan(vec![openat_probe(vec![], 0)]))
        .unwrap();
    assert!(fs::File::open(&missing).is_err());
    let ours = |r: &Vec<u8>| str_at(r, OPEN_NAME, OPEN_NAME_MAX) == path;
    let recs = collect(&mut s, Duration::from_secs(5), |rs| rs.iter().any(ours));
    let mine: Vec<&Vec<u8>> = recs.iter().filter(|r| ours(r)).collect();
    assert_eq!(mine.len(), 1, "one record of the missing file");
    let r = mine[0];
    assert_eq!(u64_at(r, OPEN_RET) as i64, -2, "ret is -ENOENT");
    assert_eq!(u64_at(r, OPEN_KEY), gettid());
    let latency = u64_at(r, 16);
    assert!(
        latency > 0 && latency < 1_000 * MS,
        "latency {latency} ns of one openat"
    );
    let c = final_counts(&mut s);
    assert!(c.matched >= 1 && c.stash_entries == 0, "{c:?}");
    fs::remove_dir_all(&dir).unwrap();
}

/// The end's first stage (`ret >= 0`, and the worker thread's tid) decides
/// whether an exit is an end: a failed open is not one. It is dropped
/// without a record and without consuming its start (still stashed,
/// nothing counted); the next open's start replaces it, and that open's
/// successful exit joins it. (The worker's tid in both programs' filters
/// keeps this process's other opens, the loader's and the counters'
/// reads of /sys, out of the counts.)
#[test]
fn c_first_stage_filter_keeps_the_start() {
    let Some(_g) = kernel_env() else { return };
    let dir = scratch_dir("c");
    let missing = dir.join("missing");
    let present = dir.join("present");
    fs::write(&present, b"x").unwrap();
    // The worker opens what it is sent and sends the result back.
    let (to_worker, jobs) = std::sync::mpsc::channel::<std::path::PathBuf>();
    let (results, from_worker) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        results.send(Ok(gettid())).unwrap();
        for path in jobs {
            results
                .send(fs::File::open(path).map(|f| {
                    use std::os::fd::IntoRawFd;
                    f.into_raw_fd() as u64
                }))
                .unwrap();
        }
    });
    let worker_tid = from_worker.recv().unwrap().unwrap();
    let tid_is_worker = FilterOp::CmpImm {
        slot: OPEN_KEY,
        cmp: CmpOp::Eq,
        imm: worker_tid,
        signed: false,
    };
    let ret_ok = FilterOp::CmpImm {
        slot: OPEN_RET,
        cmp: CmpOp::Ge,
        imm: 0,
        signed: true,
    };
    let mut probe = openat_probe(vec![tid_is_worker.clone(), ret_ok, FilterOp::And], 3);
    probe.pair.as_mut().unwrap().start_config.filter = vec![tid_is_worker];
    let mut s = loader().start(&plan(vec![probe])).unwrap();
    let open = |p: &std::path::Path| {
        to_worker.send(p.to_path_buf()).unwrap();
        from_worker.recv().unwrap()
    };
    assert!(open(&missing).is_err());
    // Nothing was sent: wait as long as a record would take to arrive.
    let recs = collect(&mut s, Duration::from_millis(300), |_| false);
    let seen: Vec<(String, i64)> = recs
        .iter()
        .map(|r| {
            (
                str_at(r, OPEN_NAME, OPEN_NAME_MAX),
                u64_at(r, OPEN_RET) as i64,
            )
        })
        .collect();
    assert!(recs.is_empty(), "the failed open made a record: {seen:?}");
    let c = counts_now(&s);
    assert_eq!(
        (c.stashed, c.matched, c.unmatched_ends, c.stash_entries),
        (1, 0, 0, 1),
        "the failed open's exit must leave its start stashed, uncounted: {c:?}"
    );
    let fd = open(&present).expect("open the present file");
    let recs = collect(&mut s, Duration::from_secs(5), |rs| !rs.is_empty());
    assert_eq!(recs.len(), 1, "one record: the successful open");
    let r = &recs[0];
    assert_eq!(
        str_at(r, OPEN_NAME, OPEN_NAME_MAX),
        present.to_str().unwrap()
    );
    assert_eq!(u64_at(r, OPEN_RET), fd);
    drop(to_worker);
    worker.join().unwrap();
    // SAFETY: the worker handed this descriptor over and no longer uses it.
    unsafe { libc::close(fd as i32) };
    let c = final_counts(&mut s);
    assert_eq!(
        (
            c.stashed,
            c.replaced,
            c.matched,
            c.unmatched_ends,
            c.stash_entries
        ),
        (1, 1, 1, 0, 0),
        "{c:?}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// The join composes with aggregation: the end program's sink is a
/// `hist(latency)` (no `by:`: one zero key before the stashed bytes), and
/// five 10 ms sleeps land in the bucket [8M, 16M).
#[test]
fn d_paired_end_aggregates_latency() {
    let Some(_g) = kernel_env() else { return };
    let latency_slot = NS_LATENCY + 8;
    let agg = AggPlan {
        key_size: 8,
        keys: vec![],
        value_size: AggFunc::Hist.value_bytes(),
        values: vec![AggValue {
            name: "latency".into(),
            func: AggFunc::Hist,
            off: 0,
            arg: Some(latency_slot),
            signed: false,
        }],
    };
    let p = plan(vec![nanosleep_probe(DEFAULT_STASH, Some(agg.clone()))]);
    let mut s = loader().start(&p).unwrap();
    for _ in 0..5 {
        assert_eq!(nanosleep(10), 0);
    }
    s.detach();
    let entries = s.aggs()[0].read(&agg, false).expect("read the aggregation");
    assert_eq!(entries.len(), 1, "one key (no by:)");
    assert_eq!(entries[0].key, vec![0; 8]);
    let words = &entries[0].words;
    // Bucket 2 + k holds [2^k, 2^(k+1)): [8M, 16M) is k = 23.
    let bucket = 2 + 23;
    assert_eq!(
        words[bucket], 5,
        "five 10 ms latencies in [8M, 16M): {words:?}"
    );
    assert_eq!(words.iter().sum::<u64>(), 5, "{words:?}");
    let c = final_counts(&mut s);
    assert_eq!((c.matched, c.unmatched_ends, c.stash_entries), (5, 0, 0));
}

/// A stash of 4 and 10 threads sleeping at once (all on one CPU, so that
/// the LRU's per-CPU lists do not distort it): every start is matched or
/// evicted, exactly (`evicted = stashed - matched - left`), each evicted
/// start's end is an end without a start, and every match is one record.
#[test]
fn e_full_stash_evictions_are_counted_exactly() {
    let Some(_g) = kernel_env() else { return };
    const THREADS: usize = 10;
    let mut s = loader()
        .start(&plan(vec![nanosleep_probe(4, None)]))
        .unwrap();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let b = Arc::clone(&barrier);
            std::thread::spawn(move || {
                // SAFETY: a zeroed cpu_set_t with CPU 0 set, for this thread.
                unsafe {
                    let mut set: libc::cpu_set_t = std::mem::zeroed();
                    libc::CPU_SET(0, &mut set);
                    assert_eq!(
                        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
                        0
                    );
                }
                b.wait();
                assert_eq!(nanosleep(200), 0);
                gettid()
            })
        })
        .collect();
    let tids: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let recs = collect(&mut s, Duration::from_millis(500), |_| false);
    let mine = recs
        .iter()
        .filter(|r| tids.contains(&u64_at(r, NS_KEY)))
        .count() as u64;
    for r in &recs {
        let latency = u64_at(r, NS_LATENCY);
        assert!(
            (200 * MS..=400 * MS).contains(&latency),
            "latency {latency}"
        );
    }
    let c = final_counts(&mut s);
    eprintln!("stash of 4, {THREADS} overlapping sleeps: {c:?}");
    assert_eq!(c.stash_entries, 0, "{c:?}");
    assert_eq!(c.stashed, THREADS as u64, "{c:?}");
    assert_eq!(c.matched + c.evicted, THREADS as u64, "{c:?}");
    // On one CPU the LRU keeps exactly its 4 entries: the last 4 starts.
    assert_eq!((c.matched, c.evicted), (4, THREADS as u64 - 4), "{c:?}");
    assert_eq!(c.unmatched_ends, c.evicted, "{c:?}");
    assert_eq!(mine, c.matched, "records are the matched ends: {c:?}");
    assert_eq!(recs.len() as u64, mine);
}

// ---- uprobe → uretprobe on a function of this binary ----

/// The uprobe target: returns its argument doubled.
#[no_mangle]
#[inline(never)]
pub extern "C" fn tracectl_test_double(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_mul(2)
}

/// End record: header, latency, arg (joined), tid key, ret, and a copy of
/// the joined arg made by a `Base::Record` op after the join.
const UP_ARG: u32 = 24;
const UP_KEY: u32 = 32;
const UP_RET: u32 = 40;
const UP_COPY: u32 = 48;

/// A uprobe stashes arg0 under the tid; the uretprobe joins it with the
/// return value; a `Base::Record` op copies the joined arg.
#[test]
fn f_uprobe_uretprobe_pair_doubles() {
    let Some(_g) = kernel_env() else { return };
    let exe = std::env::current_exe().unwrap();
    let at = |ret| Attach::Uprobe {
        binary: exe.to_str().unwrap().into(),
        symbol: "tracectl_test_double".into(),
        ret,
    };
    let mut start = config(
        1,
        0,
        UP_KEY + 8,
        vec![arg(UP_ARG, 0, false), tid_op(UP_KEY)],
    );
    start.pair = Some(pair_config(PairRole::Start, 16, 16, 8));
    let copy = op(
        UP_COPY,
        8,
        Base::Record,
        Read::Int {
            off: UP_ARG,
            size: 8,
            signed: false,
            bit_off: 0,
            bit_size: 0,
        },
    );
    let mut end = config(
        0,
        0,
        UP_COPY + 8,
        vec![tid_op(UP_KEY), arg(UP_RET, RET_OFF, false), copy],
    );
    let mut pc = pair_config(PairRole::End, 16, 16, 8);
    pc.join_at = 1;
    end.pair = Some(pc);
    let mut s = loader()
        .start(&plan(vec![paired(
            "double",
            (at(false), start),
            (at(true), end),
            DEFAULT_STASH,
        )]))
        .unwrap();
    assert_eq!(s.kinds(), &[Kind::Uretprobe]);
    assert_eq!(s.start_kinds(), &[Some(Kind::Uprobe)]);
    assert_eq!(tracectl_test_double(21), 42);
    assert_eq!(tracectl_test_double(1000), 2000);
    let tid = gettid();
    let recs = collect(&mut s, Duration::from_secs(5), |rs| rs.len() >= 2);
    let got: Vec<(u64, u64, u64)> = recs
        .iter()
        .filter(|r| u64_at(r, UP_KEY) == tid)
        .map(|r| (u64_at(r, UP_ARG), u64_at(r, UP_RET), u64_at(r, UP_COPY)))
        .collect();
    assert_eq!(got, vec![(21, 42, 21), (1000, 2000, 1000)]);
    let c = final_counts(&mut s);
    assert_eq!((c.stashed, c.matched, c.stash_entries), (2, 2, 0), "{c:?}");
}

/// An exit without a start (the tracer attached while the call was in
/// progress: here a sleep begun before the probe attached) is an end
/// without a start: counted, no record.
#[test]
fn g_end_without_start_is_counted() {
    let Some(_g) = kernel_env() else { return };
    let (tx, rx) = std::sync::mpsc::channel();
    let sleeper = std::thread::spawn(move || {
        tx.send(gettid()).unwrap();
        nanosleep(400)
    });
    let tid = rx.recv().unwrap();
    // The sleep has begun (give it time to enter the kernel), then attach.
    std::thread::sleep(Duration::from_millis(100));
    let mut s = loader()
        .start(&plan(vec![nanosleep_probe(DEFAULT_STASH, None)]))
        .unwrap();
    assert_eq!(sleeper.join().unwrap(), 0);
    let recs = collect(&mut s, Duration::from_millis(300), |_| false);
    assert!(
        recs.iter().all(|r| u64_at(r, NS_KEY) != tid),
        "the sleep that began before the start was attached made a record"
    );
    let c = final_counts(&mut s);
    assert!(c.unmatched_ends >= 1, "{c:?}");
    assert_eq!(c.matched, recs.len() as u64, "{c:?}");
}
