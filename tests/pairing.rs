//! Start/end pairing (spec-v2 §3, docs/language.md "Start/end pairing")
//! through the `tracectl` binary, against events whose values the test
//! chooses: `end.` values joined to start values, `latency`, `match:` by
//! names on each side and by a list, the filter's split between the start,
//! the end before the join and after it, a full stash's evictions counted
//! exactly, aggregation at the end, and every probe kind as a pair
//! (tracepoint, tp_btf and uprobe here; kernel functions in the VM matrix).
//!
//! Each test checks the records *and* the per-probe pairing counts that
//! `tracectl` prints on stderr at exit (the summary line and, with `-o
//! json`, one JSON object per paired probe).
//!
//! The child programs (sleeps, a `twice` function for uprobes, threads on
//! one CPU) are compiled with gcc at test time (`PAIRKIT_C`).
//!
//! Needs root and kernel BTF: without them it fails when `CI=true`, else it
//! prints SKIPPED. Tests of kernel-function pairs cannot run their subject
//! on machines without kprobes and BPF trampolines: there they assert the
//! refusal and are proven by the VM matrix (`tests/vm/host-tests.txt`,
//! `tests/common/elsewhere.rs`).

#[path = "common/mod.rs"]
mod common;

use common::{
    bpf_available, elsewhere, hist_buckets, json_int as int, json_lines, output_within, scratch,
    serial, trace, wait_child, Tracer, BIN, PROGRAM_DEADLINE,
};
use serde_json::Value;
use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const MS: i128 = 1_000_000;

/// The loader's refusal when this kernel has no kprobes.
const NO_KPROBES: &str = "this kernel has no kprobes (CONFIG_KPROBES is off)";
/// The loader's refusal when this kernel refuses fentry/fexit.
const NO_TRAMPOLINES: &str = "this kernel refuses BPF trampolines";

/// A kernel function in the BTF of every kernel of the VM matrix (5.6+),
/// called by open(2): `(int dfd, const char __user *filename, struct
/// open_how *how)`, returning the descriptor or -errno.
const OPEN_FN: &str = "do_sys_openat2";

/// The test's child programs, one per mode, each waiting for a byte on its
/// stdin before doing anything (so that `tracectl --pid CHILD` is attached
/// first):
///
/// * `sleep N MS`: N × nanosleep(MS ms) (glibc: clock_nanosleep), as a
///   SCHED_FIFO task when allowed so that a loaded machine delays its
///   wake-ups less; prints `fifo=0|1`, then each sleep's duration in ns as
///   the child measured it (CLOCK_MONOTONIC, the clock of the kernel's
///   timestamps, around the call: the system call's latency is at most that);
/// * `twice X...`: calls the non-inlined `twice(X)` for each argument;
///   prints the results;
/// * `stash N MS`: pins itself to one CPU (the first it may use), then N
///   threads, released together by a barrier, each sleep MS ms; prints
///   `cpu=C` and the threads' ids.
const PAIRKIT_C: &str = r#"
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline, noipa, used)) long twice(long x)
{
    return 2 * x;
}

static struct timespec ms_ts(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    return ts;
}

static pthread_barrier_t barrier;
static long stash_ms;
static long tids[64];

static void *stash_thread(void *arg)
{
    long i = (long)arg;
    struct timespec ts = ms_ts(stash_ms);
    tids[i] = syscall(SYS_gettid);
    pthread_barrier_wait(&barrier);
    if (nanosleep(&ts, NULL) != 0)
        exit(5);
    return NULL;
}

int main(int argc, char **argv)
{
    char go;
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "sleep")) {
        struct sched_param sp = { .sched_priority = 10 };
        int fifo = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
        printf("fifo=%d\n", fifo);
        fflush(stdout);
    }
    if (read(0, &go, 1) != 1)
        return 3;
    if (!strcmp(argv[1], "sleep") && argc == 4) {
        int n = atoi(argv[2]);
        struct timespec ts = ms_ts(atol(argv[3])), a, b;
        for (int i = 0; i < n; i++) {
            clock_gettime(CLOCK_MONOTONIC, &a);
            if (nanosleep(&ts, NULL) != 0)
                return 4;
            clock_gettime(CLOCK_MONOTONIC, &b);
            printf("%lld\n", (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
        }
        return 0;
    }
    if (!strcmp(argv[1], "twice")) {
        for (int i = 2; i < argc; i++)
            printf("%ld\n", twice(strtol(argv[i], NULL, 0)));
        return 0;
    }
    if (!strcmp(argv[1], "stash") && argc == 4) {
        long n = atol(argv[2]);
        cpu_set_t set;
        int cpu = 0;
        pthread_t th[64];
        if (n < 1 || n > 64)
            return 2;
        stash_ms = atol(argv[3]);
        if (sched_getaffinity(0, sizeof set, &set) != 0)
            return 6;
        while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set))
            cpu++;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        /* The threads inherit the process's CPU. */
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            return 7;
        pthread_barrier_init(&barrier, NULL, n);
        for (long i = 0; i < n; i++)
            if (pthread_create(&th[i], NULL, stash_thread, (void *)i) != 0)
                return 8;
        for (long i = 0; i < n; i++)
            pthread_join(th[i], NULL);
        printf("cpu=%d\n", cpu);
        for (long i = 0; i < n; i++)
            printf("%ld\n", tids[i]);
        return 0;
    }
    return 2;
}
"#;

/// Compiles [`PAIRKIT_C`] into `dir`.
fn pairkit(dir: &Path) -> PathBuf {
    let c = dir.join("pairkit.c");
    std::fs::write(&c, PAIRKIT_C).unwrap();
    let bin = dir.join("pairkit");
    let out = output_within(
        Command::new("gcc")
            .args(["-O1", "-pthread", "-o"])
            .arg(&bin)
            .arg(&c),
        PROGRAM_DEADLINE,
        "gcc pairkit.c (scripts/test.sh installs gcc)",
    );
    assert!(
        out.status.success(),
        "gcc pairkit.c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// A child program waiting for its go (a byte on its stdin).
struct Kid {
    child: Child,
    what: String,
}

impl Kid {
    fn spawn(bin: &Path, args: &[&str]) -> Kid {
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        Kid {
            child,
            what: format!("{} {}", bin.display(), args.join(" ")),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn pid_arg(&self) -> String {
        self.pid().to_string()
    }

    /// Lets it run; waits for its exit (it must succeed) and returns its
    /// output.
    fn go(mut self) -> String {
        let mut stdin = self.child.stdin.take().unwrap();
        stdin.write_all(b"g").unwrap();
        drop(stdin);
        let out = std::thread::spawn({
            let mut so = self.child.stdout.take().unwrap();
            move || {
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(&mut so, &mut s);
                s
            }
        });
        let st = wait_child(&mut self.child, &self.what);
        let out = out.join().unwrap();
        assert!(st.success(), "{} failed ({st}):\n{out}", self.what);
        out
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn me() -> String {
    std::process::id().to_string()
}

fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

/// A name no other run uses.
fn nonce() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{:x}{:x}", std::process::id() & 0xffff, nanos & 0xfffff)
}

/// openat(dirfd, path, flags): the descriptor, or -errno.
fn openat(dirfd: i32, path: &Path, flags: i32) -> i64 {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a live NUL-terminated path; the descriptor, if any, is closed
    // by the caller.
    let fd = unsafe { libc::openat(dirfd, c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        -(std::io::Error::last_os_error().raw_os_error().unwrap() as i64)
    } else {
        fd as i64
    }
}

fn close(fd: i64) {
    assert!(fd >= 0, "close({fd})");
    // SAFETY: a descriptor this test opened.
    unsafe { libc::close(fd as i32) };
}

/// nanosleep(ms) in this thread (glibc: clock_nanosleep).
fn nanosleep(ms: u64) {
    let ts = libc::timespec {
        tv_sec: (ms / 1000) as libc::time_t,
        tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long,
    };
    // SAFETY: a valid timespec, no remainder wanted.
    let r = unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
    assert_eq!(r, 0, "nanosleep: {}", std::io::Error::last_os_error());
}

/// fadvise64(fd, offset, len, advice) on a descriptor that is never open:
/// fails with EBADF, no effect but the tracepoint.
fn fadvise(fd: i64, offset: i64, len: i64, advice: i64) {
    // SAFETY: scalar arguments; the call fails with EBADF before acting.
    let r = unsafe { libc::syscall(libc::SYS_fadvise64, fd, offset, len, advice) };
    let e = std::io::Error::last_os_error();
    assert!(
        r == -1 && e.raw_os_error() == Some(libc::EBADF),
        "fadvise64({fd}): {r} {e}"
    );
}

/// Pins the calling thread to `cpu`.
fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t with one CPU set, for this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        let r = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(
            r,
            0,
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// The first CPU this thread may run on.
fn first_cpu() -> usize {
    // SAFETY: sched_getaffinity fills the set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let r = libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
        assert_eq!(r, 0);
        (0..libc::CPU_SETSIZE as usize)
            .find(|&c| libc::CPU_ISSET(c, &set))
            .expect("some CPU")
    }
}

/// Waits until thread `tid` of this process sleeps in system call `nr`
/// (`/proc/self/task/TID/syscall`).
fn wait_blocked_in(tid: i64, nr: libc::c_long) {
    common::wait_blocked(
        &format!("/proc/self/task/{tid}/syscall"),
        nr,
        &format!("thread {tid}"),
    );
}

/// A `latency` value that the kernel measured inside an interval of `took`
/// (the test's clock around the calls): more than 0, at most `took`.
fn lat_within(lat: &Value, took: Duration) -> bool {
    let l = int(lat);
    l > 0 && l <= took.as_nanos() as i128
}

/// Records as text, for failure messages.
fn show(recs: &[Value]) -> String {
    recs.iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A paired probe's counts at exit, from its `-o json` object on stderr.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    matched: u64,
    evicted: u64,
    replaced: u64,
    unmatched_ends: u64,
    stash_entries: u64,
}

/// The counts of paired probe `name`: its one `{"pairing":NAME,...}` object
/// on stderr, which must agree with its summary line.
fn counts(err: &str, name: &str) -> Counts {
    let objs: Vec<Value> = err
        .lines()
        .filter(|l| l.starts_with("{\"pairing\":"))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l:?}: {e}")))
        .filter(|v: &Value| v["pairing"] == name)
        .collect();
    assert_eq!(objs.len(), 1, "one pairing object for {name}:\n{err}");
    let v = &objs[0];
    assert!(
        v.get("failed").is_none(),
        "the stash refused starts: {v}\n{err}"
    );
    let n = |k: &str| {
        v[k].as_u64()
            .unwrap_or_else(|| panic!("no count {k} in {v}"))
    };
    let c = Counts {
        matched: n("matched"),
        evicted: n("evicted"),
        replaced: n("replaced"),
        unmatched_ends: n("unmatched_ends"),
        stash_entries: n("stash_entries"),
    };
    assert_eq!(
        summary_line(err, name),
        expected_summary(name, &c),
        "the summary line and the JSON object disagree:\n{err}"
    );
    c
}

/// The stderr summary line of paired probe `name`.
fn summary_line<'a>(err: &'a str, name: &str) -> &'a str {
    let head = format!("tracectl: {name}: ");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with(&head) && l.contains(" matched"))
        .collect();
    assert_eq!(lines.len(), 1, "one summary line for {name}:\n{err}");
    lines[0]
}

/// The summary line docs/language.md ("Never silent") gives for `c`.
fn expected_summary(name: &str, c: &Counts) -> String {
    let mut s = format!("tracectl: {name}: {} matched", c.matched);
    let pl = |n: u64, one: &str, many: &str| if n == 1 { one } else { many }.to_string();
    if c.evicted > 0 {
        s += &format!(
            ", {} {} evicted (stash full: raise --stash)",
            c.evicted,
            pl(c.evicted, "start", "starts")
        );
    }
    if c.replaced > 0 {
        s += &format!(
            ", {} replaced (started again before {} end)",
            c.replaced,
            pl(c.replaced, "its", "their")
        );
    }
    if c.unmatched_ends > 0 {
        s += &format!(
            ", {} {} without a start",
            c.unmatched_ends,
            pl(c.unmatched_ends, "end", "ends")
        );
    }
    if c.stash_entries > 0 {
        s += &format!(
            ", {} {} without an end yet",
            c.stash_entries,
            pl(c.stash_entries, "start", "starts")
        );
    }
    s
}

// ---------------------------------------------------------------------------
// Tracepoint pairs: values from both ends
// ---------------------------------------------------------------------------

/// sys_enter_openat => sys_exit_openat: the path read at the start, the
/// result at the end. A missing, uniquely named file: one record, its path,
/// `end.ret` -2 (ENOENT), and the thread that opened it.
#[test]
fn openat_missing_file_joins_its_path_and_enoent() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("pair-open");
    let missing = dir.join(format!("missing-{}", nonce()));
    let spec =
        "tracepoint:syscalls:sys_enter_openat => tracepoint:syscalls:sys_exit_openat as open \
                { tid, path = str(filename), r = end.ret, lat = latency }";
    let mut tid = 0;
    let mut took = Duration::ZERO;
    let (recs, err) = trace(&["-e", spec, "--pid", &me(), "-d", "1s"], || {
        tid = gettid();
        let t0 = Instant::now();
        assert_eq!(openat(libc::AT_FDCWD, &missing, libc::O_RDONLY), -2);
        took = t0.elapsed();
    });
    let mine: Vec<&Value> = recs
        .iter()
        .filter(|r| r["path"] == missing.to_str().unwrap())
        .collect();
    assert_eq!(mine.len(), 1, "one record of the open:\n{}", show(&recs));
    let r = mine[0];
    assert_eq!(r["probe"], "open", "{r}");
    assert_eq!(int(&r["r"]), -2, "end.ret: {r}");
    assert_eq!(int(&r["tid"]), tid as i128, "{r}");
    assert!(lat_within(&r["lat"], took), "latency within {took:?}: {r}");
    // Every end of this process found its start: each is a record.
    let c = counts(&err, "open");
    assert_eq!(c.matched, recs.len() as u64, "{c:?}:\n{}", show(&recs));
    assert_eq!(
        (c.evicted, c.replaced, c.unmatched_ends, c.stash_entries),
        (0, 0, 0, 0),
        "{c:?}"
    );
}

/// A child sleeping 10 ms twenty times: exactly twenty records, each with
/// the child's thread, `end.ret` 0 and a latency of at least 10 ms and at
/// most what the child measured around that call (no guessed slack).
///
/// Then the same pair aggregated: a count of 20, all in the [8388608,
/// 16777216) ns bucket of `hist(latency)`, in a run where the child measured
/// every sleep under 16777216 ns. A loaded machine may wake a sleeper late
/// (the child says so): that run is counted (20, none below 8 ms) and made
/// again, at most five times.
#[test]
fn twenty_sleeps_of_10ms_records_and_hist() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("pair-sleep");
    let kit = pairkit(&dir);
    let pair = "tracepoint:syscalls:sys_enter_clock_nanosleep => \
                tracepoint:syscalls:sys_exit_clock_nanosleep as nap";
    // The child's output: `fifo=N`, then its sleeps' durations.
    let durations = |out: &str| -> Vec<i128> {
        let d: Vec<i128> = out.lines().skip(1).map(|l| l.parse().unwrap()).collect();
        assert_eq!(d.len(), 20, "the child's twenty sleeps: {out}");
        d
    };

    let kid = Kid::spawn(&kit, &["sleep", "20", "10"]);
    let pid = kid.pid();
    let spec = format!("{pair} {{ pid, tid, lat = latency, r = end.ret }}");
    let mut out = String::new();
    let (recs, err) = trace(&["-e", &spec, "--pid", &kid.pid_arg(), "-d", "2s"], || {
        out = kid.go();
    });
    let took = durations(&out);
    assert_eq!(recs.len(), 20, "twenty sleeps ({out}):\n{}", show(&recs));
    for (r, &took) in recs.iter().zip(&took) {
        assert_eq!(r["probe"], "nap", "{r}");
        assert_eq!(int(&r["pid"]), pid as i128, "{r}");
        // One thread: the process's.
        assert_eq!(int(&r["tid"]), pid as i128, "{r}");
        assert_eq!(int(&r["r"]), 0, "end.ret: {r}");
        let lat = int(&r["lat"]);
        assert!(
            (10 * MS..=took).contains(&lat),
            "latency {lat} ns of a 10 ms sleep the child measured as {took} ns: {r}"
        );
    }
    let c = counts(&err, "nap");
    assert_eq!(
        c,
        Counts {
            matched: 20,
            ..Counts::default()
        },
        "{err}"
    );

    let spec = format!("version 2\n{pair} {{ n = count(), h = hist(latency) }}");
    for attempt in 1..=5 {
        let kid = Kid::spawn(&kit, &["sleep", "20", "10"]);
        let (rows, err) = trace(&["-e", &spec, "--pid", &kid.pid_arg(), "-d", "2s"], || {
            out = kid.go();
        });
        let took = durations(&out);
        assert_eq!(
            rows.len(),
            1,
            "one aggregation row:\n{}\n{err}",
            show(&rows)
        );
        let r = &rows[0];
        assert_eq!(int(&r["n"]), 20, "count: {r}");
        let c = counts(&err, "nap");
        assert_eq!(
            c,
            Counts {
                matched: 20,
                ..Counts::default()
            },
            "{err}"
        );
        let h = hist_buckets(&r["h"]);
        assert_eq!(h.iter().map(|b| b.2).sum::<u64>(), 20, "{r}");
        assert!(
            h.iter().all(|b| b.0 >= Some(8_388_608)),
            "no sleep of 10 ms under 8 ms: {r}"
        );
        let slowest = *took.iter().max().unwrap();
        if slowest < 16_777_216 {
            assert_eq!(
                h,
                vec![(Some(8_388_608), Some(16_777_215), 20)],
                "hist(latency) of twenty 10 ms sleeps, each under 16777216 ns \
                 as the child measured them ({out}): {r}"
            );
            return;
        }
        eprintln!(
            "attempt {attempt}: the child measured a sleep of {slowest} ns (woken late): \
             its bucket is not known; again"
        );
    }
    panic!("five runs each with a 10 ms sleep woken 6.7 ms late: too loaded a machine");
}

// ---------------------------------------------------------------------------
// User functions
// ---------------------------------------------------------------------------

/// uprobe:twice => uretprobe:twice on a child's non-inlined `long
/// twice(long x)`: one record per call with `arg0` (read at the entry) and
/// `end.retval` == 2 × arg0, the exact multiset of calls.
#[test]
fn uprobe_uretprobe_pair_twice() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("pair-uprobe");
    let kit = pairkit(&dir);
    let bin = kit.to_str().unwrap();
    let xs: [i64; 7] = [21, -7, 0, 1_000_000_007, 21, -(1 << 62), 0x1234_5678_9abc];
    let args: Vec<String> = xs.iter().map(|x| x.to_string()).collect();
    let mut kid_args = vec!["twice"];
    kid_args.extend(args.iter().map(String::as_str));
    let kid = Kid::spawn(&kit, &kid_args);
    let spec = format!(
        "uprobe:{bin}:twice => uretprobe:{bin}:twice as twice \
         {{ x = arg0, r = end.retval, lat = latency }}"
    );
    let mut out = String::new();
    let mut took = Duration::ZERO;
    let (recs, err) = trace(&["-e", &spec, "--pid", &kid.pid_arg(), "-d", "1s"], || {
        let t0 = Instant::now();
        out = kid.go();
        took = t0.elapsed();
    });
    let want: Vec<String> = xs.iter().map(|x| (2 * x).to_string()).collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), want, "the child's results");
    assert!(
        err.contains("twice: uprobe → uretprobe"),
        "attached as a uprobe and a uretprobe:\n{err}"
    );
    let mut got: Vec<(i128, i128)> = recs.iter().map(|r| (int(&r["x"]), int(&r["r"]))).collect();
    got.sort();
    let mut expected: Vec<(i128, i128)> = xs.iter().map(|&x| (x as i128, 2 * x as i128)).collect();
    expected.sort();
    assert_eq!(
        got,
        expected,
        "(arg0, end.retval) per call:\n{}",
        show(&recs)
    );
    assert!(
        recs.iter().all(|r| lat_within(&r["lat"], took)),
        "latencies within {took:?}:\n{}",
        show(&recs)
    );
    let c = counts(&err, "twice");
    assert_eq!(
        c,
        Counts {
            matched: xs.len() as u64,
            ..Counts::default()
        },
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// A full stash
// ---------------------------------------------------------------------------

/// `--stash 4` and ten threads of a child, all on one CPU, each sleeping
/// 200 ms at the same time: ten starts, the LRU keeps the last four. At
/// exit: 4 matched (= the records printed), 6 evicted (= 10 − matched),
/// each evicted start's end an end without a start (6), nothing left. A
/// second, unpaired probe on the start tracepoint gives every start's time:
/// the four matched are the four latest starts (least recently used out).
///
/// On one CPU the kernel's LRU (common lists, per-CPU free lists) has its
/// four entries on that CPU's lists: a start evicts only when all four are
/// taken, and then the oldest (no lookup sets a reference bit: the end's
/// join deletes). The starts and ends all run on the child's CPU (the
/// programs run in the sleeping threads), so pinning the child is enough.
#[test]
fn full_stash_of_4_evicts_6_of_10_overlapping_sleeps() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("pair-stash");
    let kit = pairkit(&dir);
    let kid = Kid::spawn(&kit, &["stash", "10", "200"]);
    let pid = kid.pid_arg();
    let spec = "version 2\n\
        tracepoint:syscalls:sys_enter_clock_nanosleep => \
          tracepoint:syscalls:sys_exit_clock_nanosleep as stash \
          { tid, lat = latency, r = end.ret }\n\
        tracepoint:syscalls:sys_enter_clock_nanosleep as start { tid, t = ts }";
    let mut out = String::new();
    let (recs, err) = trace(
        &["-e", spec, "--pid", &pid, "--stash", "4", "-d", "2s"],
        || {
            out = kid.go();
        },
    );
    let tids: Vec<i128> = out.lines().skip(1).map(|l| l.parse().unwrap()).collect();
    assert_eq!(tids.len(), 10, "{out}");
    let c = counts(&err, "stash");
    assert_eq!(
        c,
        Counts {
            matched: 4,
            evicted: 6,
            unmatched_ends: 6,
            ..Counts::default()
        },
        "stash of 4, ten overlapping sleeps on one CPU ({}):\n{err}",
        out.lines().next().unwrap_or_default()
    );
    assert_eq!(
        summary_line(&err, "stash"),
        "tracectl: stash: 4 matched, 6 starts evicted (stash full: raise --stash), \
         6 ends without a start"
    );
    let (ends, starts): (Vec<&Value>, Vec<&Value>) =
        recs.iter().partition(|r| r["probe"] == "stash");
    assert_eq!(ends.len() as u64, c.matched, "{}", show(&recs));
    for r in &ends {
        assert_eq!(int(&r["r"]), 0, "{r}");
        let lat = int(&r["lat"]);
        assert!((200 * MS..400 * MS).contains(&lat), "latency {lat}: {r}");
    }
    // Every thread started once; the last four to start are the matched.
    let mut by_time: Vec<(i128, i128)> = starts
        .iter()
        .map(|r| (int(&r["t"]), int(&r["tid"])))
        .collect();
    by_time.sort();
    let mut started: Vec<i128> = by_time.iter().map(|&(_, tid)| tid).collect();
    started.sort();
    let mut all = tids.clone();
    all.sort();
    assert_eq!(started, all, "each thread's one start:\n{}", show(&recs));
    let mut last4: Vec<i128> = by_time[6..].iter().map(|&(_, tid)| tid).collect();
    last4.sort();
    let mut matched: Vec<i128> = ends.iter().map(|r| int(&r["tid"])).collect();
    matched.sort();
    assert_eq!(
        matched,
        last4,
        "the four latest starts are the ones matched:\n{}",
        show(&recs)
    );
}

// ---------------------------------------------------------------------------
// The filter across both ends
// ---------------------------------------------------------------------------

/// `where end.ret < 0 || latency > 100 ms` (after the join) on opens: two
/// fast failures (ENOENT, EISDIR) are kept, a fast success is not, and a
/// slow success (a FIFO's open, blocked until a writer opens it 300 ms
/// later) is kept with its descriptor. Exactly those three records.
#[test]
fn filter_after_the_join_keeps_failures_and_slow_opens() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("pair-filter");
    let n = nonce();
    let missing = dir.join(format!("missing-{n}"));
    let existing = dir.join(format!("file-{n}"));
    std::fs::write(&existing, b"x").unwrap();
    let fifo = dir.join(format!("fifo-{n}"));
    let cfifo = CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: a live NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(cfifo.as_ptr(), 0o600) }, 0);
    let spec =
        "tracepoint:syscalls:sys_enter_openat => tracepoint:syscalls:sys_exit_openat as open \
                { path = str(filename, 256), r = end.ret, lat = latency } \
                where end.ret < 0 || latency > 100000000";
    let mut fifo_fd = 0;
    let (recs, err) = trace(&["-e", spec, "--pid", &me(), "-d", "2s"], || {
        assert_eq!(openat(libc::AT_FDCWD, &missing, libc::O_RDONLY), -2);
        assert_eq!(
            openat(libc::AT_FDCWD, &dir, libc::O_WRONLY),
            -libc::EISDIR as i64
        );
        close(openat(libc::AT_FDCWD, &existing, libc::O_RDONLY));
        let writer = std::thread::spawn({
            let fifo = fifo.clone();
            move || {
                std::thread::sleep(Duration::from_millis(300));
                // The reader is waiting: this open returns at once.
                close(openat(libc::AT_FDCWD, &fifo, libc::O_WRONLY));
            }
        });
        fifo_fd = openat(libc::AT_FDCWD, &fifo, libc::O_RDONLY);
        writer.join().unwrap();
        close(fifo_fd);
    });
    let mut got: Vec<(String, i128)> = recs
        .iter()
        .map(|r| (r["path"].as_str().unwrap().to_string(), int(&r["r"])))
        .collect();
    got.sort();
    let mut want = vec![
        (missing.to_str().unwrap().to_string(), -2),
        (dir.to_str().unwrap().to_string(), -(libc::EISDIR as i128)),
        (fifo.to_str().unwrap().to_string(), fifo_fd as i128),
    ];
    want.sort();
    assert_eq!(
        got,
        want,
        "the failures and the slow open:\n{}",
        show(&recs)
    );
    let slow = recs
        .iter()
        .find(|r| r["path"] == fifo.to_str().unwrap())
        .unwrap();
    let lat = int(&slow["lat"]);
    assert!((100 * MS..10_000 * MS).contains(&lat), "{slow}");
    // Every open was an end with its start; the filter ran after the join.
    let c = counts(&err, "open");
    assert!(c.matched >= 5, "{c:?}");
    assert_eq!(
        (c.evicted, c.replaced, c.unmatched_ends, c.stash_entries),
        (0, 0, 0, 0),
        "{c:?}"
    );
}

/// A start-only conjunct (`comm == "tc-keep"`) runs in the start program:
/// another thread's start is never stashed. Thread `tc-keep` sleeps twice;
/// thread `tc-other` begins a sleep that outlives the trace (and the test's
/// own thread sleeps while it waits for tracectl). Had those starts been
/// stashed, one would still be in the stash at exit ("starts without an
/// end yet") and the others matched: exactly 2 matched and an empty stash.
///
/// A second probe, `other` (`comm == "tc-other"`), stashes that one start:
/// at exit it is the one start without an end yet, not an eviction (the
/// stash is read after the programs are detached).
#[test]
fn start_only_conjunct_keeps_other_starts_out_of_the_stash() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let pair = "tracepoint:syscalls:sys_enter_clock_nanosleep => \
                tracepoint:syscalls:sys_exit_clock_nanosleep";
    let spec = format!(
        "version 2\n\
         {pair} as nap {{ tid, c = comm, lat = latency }} where comm == \"tc-keep\"\n\
         {pair} as other {{ tid }} where comm == \"tc-other\""
    );
    // tc-other waits for its go, then sleeps 3 s: beyond the trace.
    let (go, wait) = mpsc::channel::<()>();
    let other = std::thread::Builder::new()
        .name("tc-other".into())
        .spawn(move || {
            wait.recv().unwrap();
            nanosleep(3000);
            gettid()
        })
        .unwrap();
    let mut keep_tid = 0;
    let (recs, err) = trace(&["-e", &spec, "--pid", &me(), "-d", "1500ms"], || {
        go.send(()).unwrap();
        keep_tid = std::thread::Builder::new()
            .name("tc-keep".into())
            .spawn(|| {
                nanosleep(20);
                nanosleep(20);
                gettid()
            })
            .unwrap()
            .join()
            .unwrap();
    });
    let other_tid = other.join().unwrap();
    assert_eq!(recs.len(), 2, "tc-keep's two sleeps:\n{}", show(&recs));
    for r in &recs {
        assert_eq!(r["probe"], "nap", "{r}");
        assert_eq!(int(&r["tid"]), keep_tid as i128, "{r}");
        assert_eq!(r["c"], "tc-keep", "{r}");
        assert!(int(&r["lat"]) >= 20 * MS, "{r}");
    }
    assert_ne!(keep_tid, other_tid);
    // The test thread's ends (its starts were filtered out) are ends
    // without a start: how many depends on how long it waited.
    let c = counts(&err, "nap");
    assert_eq!(
        (c.matched, c.evicted, c.replaced, c.stash_entries),
        (2, 0, 0, 0),
        "{c:?}\n{err}"
    );
    let c = counts(&err, "other");
    assert_eq!(
        (c.matched, c.evicted, c.replaced, c.stash_entries),
        (0, 0, 0, 1),
        "tc-other's sleep, begun and not ended: {c:?}\n{err}"
    );
}

/// An end-only conjunct runs before the join: an event failing it is not
/// an end, and its start stays stashed for the end that follows.
///
/// * `open`: `where end.ret >= 0`. An open that fails leaves its start;
///   the thread's next open replaces it (1 replaced), and its success
///   matches (1 matched, 1 record, the second path). Had the failed end
///   consumed its start: 2 matched, 0 replaced.
/// * `life`: one tracepoint with itself, as tcplife: fadvise64 with
///   offset 1 starts, with offset 2 ends (`offset == 1 && end.offset ==
///   2`). Every event runs both programs; a start event must not end
///   itself. Calls: start(len 11), neither(33), end(22) → a record
///   (11, 22); end(44) → an end without a start; start(55), start(66) → 1
///   replaced; end(77) → a record (66, 77).
#[test]
fn end_only_conjunct_does_not_consume_the_start() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("pair-endonly");
    let n = nonce();
    let missing = dir.join(format!("missing-{n}"));
    let existing = dir.join(format!("file-{n}"));
    std::fs::write(&existing, b"x").unwrap();
    let spec = "version 2\n\
        tracepoint:syscalls:sys_enter_openat => tracepoint:syscalls:sys_exit_openat as open \
          { path = str(filename, 256), r = end.ret } where end.ret >= 0\n\
        tracepoint:syscalls:sys_enter_fadvise64 => tracepoint:syscalls:sys_enter_fadvise64 as life \
          { s = len, e = end.len, lat = latency } \
          where fd == -7001 && offset == 1 && end.fd == -7001 && end.offset == 2";
    let mut fd = 0;
    let mut took = Duration::ZERO;
    let (recs, err) = trace(&["-e", spec, "--pid", &me(), "-d", "1s"], || {
        let t0 = Instant::now();
        std::thread::Builder::new()
            .name("tc-endonly".into())
            .spawn({
                let (missing, existing) = (missing.clone(), existing.clone());
                move || {
                    assert_eq!(openat(libc::AT_FDCWD, &missing, libc::O_RDONLY), -2);
                    let fd = openat(libc::AT_FDCWD, &existing, libc::O_RDONLY);
                    close(fd);
                    for (off, len) in [
                        (1, 11),
                        (3, 33),
                        (2, 22),
                        (2, 44),
                        (1, 55),
                        (1, 66),
                        (2, 77),
                    ] {
                        fadvise(-7001, off, len, 0);
                    }
                    fd
                }
            })
            .map(|h| fd = h.join().unwrap())
            .unwrap();
        took = t0.elapsed();
    });
    let opens: Vec<&Value> = recs.iter().filter(|r| r["probe"] == "open").collect();
    let lives: Vec<&Value> = recs.iter().filter(|r| r["probe"] == "life").collect();
    assert_eq!(opens.len(), 1, "{}", show(&recs));
    assert_eq!(opens[0]["path"], existing.to_str().unwrap(), "{}", opens[0]);
    assert_eq!(int(&opens[0]["r"]), fd as i128, "{}", opens[0]);
    let c = counts(&err, "open");
    assert_eq!(
        c,
        Counts {
            matched: 1,
            replaced: 1,
            ..Counts::default()
        },
        "{err}"
    );
    let got: Vec<(i128, i128)> = lives.iter().map(|r| (int(&r["s"]), int(&r["e"]))).collect();
    assert_eq!(got, vec![(11, 22), (66, 77)], "{}", show(&recs));
    assert!(
        lives.iter().all(|r| lat_within(&r["lat"], took)),
        "latencies within {took:?}:\n{}",
        show(&recs)
    );
    let c = counts(&err, "life");
    assert_eq!(
        c,
        Counts {
            matched: 2,
            replaced: 1,
            unmatched_ends: 1,
            ..Counts::default()
        },
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// match:
// ---------------------------------------------------------------------------

/// `match fd, advice` (a list of names valid at both probes) on fadvise64
/// paired with itself: three starts under three keys, their ends in
/// another order, and an end whose key no start has. Each record joins the
/// start with its own key: (start len, end len) = (300, 301), (200, 201),
/// (100, 101), in end order; the stray end is counted.
#[test]
fn match_by_a_list_joins_each_end_to_its_key() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let spec = "version 2\n\
        tracepoint:syscalls:sys_enter_fadvise64 => tracepoint:syscalls:sys_enter_fadvise64 as keyed \
          { f = fd, a = advice, s = len, ef = end.fd, ea = end.advice, e = end.len } \
          match fd, advice where offset == 1 && end.offset == 2";
    let (recs, err) = trace(&["-e", spec, "--pid", &me(), "-d", "1s"], || {
        for (fd, adv, off, len) in [
            (-5001, 1, 1, 100),
            (-5001, 2, 1, 200),
            (-5002, 1, 1, 300),
            (-5002, 1, 2, 301),
            (-5001, 2, 2, 201),
            (-5002, 2, 2, 999),
            (-5001, 1, 2, 101),
        ] {
            fadvise(fd, off, len, adv);
        }
    });
    let got: Vec<[i128; 6]> = recs
        .iter()
        .map(|r| ["f", "a", "s", "ef", "ea", "e"].map(|k| int(&r[k])))
        .collect();
    assert_eq!(
        got,
        vec![
            [-5002, 1, 300, -5002, 1, 301],
            [-5001, 2, 200, -5001, 2, 201],
            [-5001, 1, 100, -5001, 1, 101],
        ],
        "{}",
        show(&recs)
    );
    let c = counts(&err, "keyed");
    assert_eq!(
        c,
        Counts {
            matched: 3,
            unmatched_ends: 1,
            ..Counts::default()
        },
        "{err}"
    );
}

/// Two threads (`tc-wake-a`, `tc-wake-b`) blocked reading pipes, woken by
/// two other threads (`tc-waker-1` wakes a, `tc-waker-2` wakes b), all on
/// one CPU (so that the wakeup runs in the waker's context). The paired
/// probe `SPEC` (given the two tids) must record the waker's `tid` read at
/// the wakeup (start) next to the woken thread read at the switch (end):
/// returns the records, stderr, the four tids and the time the wakes took.
fn wake_two(
    spec: impl FnOnce(i64, i64) -> Vec<String>,
) -> (Vec<Value>, String, [i64; 4], Duration) {
    let cpu = first_cpu();
    let mut pipes = [[0i32; 2]; 2];
    for p in &mut pipes {
        // SAFETY: pipe fills two descriptors.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    }
    let sleeper = |name: &str, fd: i32| {
        let (tx, rx) = mpsc::channel();
        let h = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                pin(cpu);
                tx.send(gettid()).unwrap();
                // The first read ends with the wakeup traced; the second
                // blocks until the trace is over, so that nothing else
                // (exiting takes locks) wakes this thread meanwhile.
                for _ in 0..2 {
                    let mut b = 0u8;
                    // SAFETY: one byte into a live buffer.
                    let n = unsafe { libc::read(fd, (&mut b as *mut u8).cast(), 1) };
                    assert_eq!(n, 1);
                }
            })
            .unwrap();
        let tid = rx.recv().unwrap();
        wait_blocked_in(tid, libc::SYS_read);
        (h, tid)
    };
    let (ha, a) = sleeper("tc-wake-a", pipes[0][0]);
    let (hb, b) = sleeper("tc-wake-b", pipes[1][0]);
    let args = spec(a, b);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut wakers = [0i64; 2];
    let mut took = Duration::ZERO;
    let (recs, err) = trace(&args, || {
        let t0 = Instant::now();
        for (i, name) in ["tc-waker-1", "tc-waker-2"].into_iter().enumerate() {
            let fd = pipes[i][1];
            wakers[i] = std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    pin(cpu);
                    // SAFETY: one byte from a live buffer.
                    assert_eq!(unsafe { libc::write(fd, b"w".as_ptr().cast(), 1) }, 1);
                    gettid()
                })
                .unwrap()
                .join()
                .unwrap();
        }
        // Both woken: back in their second read.
        wait_blocked_in(a, libc::SYS_read);
        wait_blocked_in(b, libc::SYS_read);
        took = t0.elapsed();
    });
    for p in pipes {
        // SAFETY: one byte from a live buffer: the second read.
        assert_eq!(unsafe { libc::write(p[1], b"x".as_ptr().cast(), 1) }, 1);
    }
    ha.join().unwrap();
    hb.join().unwrap();
    for p in pipes {
        // SAFETY: descriptors this test opened.
        unsafe {
            libc::close(p[0]);
            libc::close(p[1]);
        }
    }
    (recs, err, [a, b, wakers[0], wakers[1]], took)
}

/// The records of [`wake_two`]: exactly one per woken thread, with its own
/// waker (a start value) and its own name at the switch (an end value).
fn check_wakes(recs: &[Value], err: &str, [a, b, w1, w2]: [i64; 4], took: Duration) {
    let mut got: Vec<(i128, i128, i128, String)> = recs
        .iter()
        .map(|r| {
            (
                int(&r["woken"]),
                int(&r["next"]),
                int(&r["waker"]),
                r["nextc"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    got.sort();
    let mut want = vec![
        (a as i128, a as i128, w1 as i128, "tc-wake-a".to_string()),
        (b as i128, b as i128, w2 as i128, "tc-wake-b".to_string()),
    ];
    want.sort();
    assert_eq!(
        got,
        want,
        "(woken, next, waker, next comm):\n{}\n{err}",
        show(recs)
    );
    for r in recs {
        assert!(lat_within(&r["lat"], took), "latency within {took:?}: {r}");
    }
    let c = counts(err, "wake");
    // A woken thread switched in again after a preemption is an end
    // without a start: not counted here.
    assert_eq!(
        (c.matched, c.evicted, c.replaced, c.stash_entries),
        (2, 0, 0, 0),
        "{c:?}\n{err}"
    );
}

/// `match: { start: [pid], end: [next_pid] }` (YAML): sched_wakeup's woken
/// `pid` is the key at the start, sched_switch's `next_pid` at the end.
#[test]
fn match_wakeup_pid_to_switch_next_pid() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("pair-wake");
    let file = dir.join("wake.yaml");
    let (recs, err, tids, took) = wake_two(|a, b| {
        let yaml = format!(
            "version: 2\n\
             name: wake\n\
             probes:\n\
             \x20 - probe: tracepoint:sched:sched_wakeup\n\
             \x20   end: tracepoint:sched:sched_switch\n\
             \x20   name: wake\n\
             \x20   match: {{ start: [pid], end: [next_pid] }}\n\
             \x20   fields:\n\
             \x20     woken: args.pid\n\
             \x20     waker: tid\n\
             \x20     next: end.next_pid\n\
             \x20     nextc: end.next_comm\n\
             \x20     lat: latency\n\
             \x20   filter: (args.pid == {a} || args.pid == {b}) && (end.next_pid == {a} || end.next_pid == {b})\n"
        );
        std::fs::write(&file, yaml).unwrap();
        vec![file.to_str().unwrap().into(), "-d".into(), "1s".into()]
    });
    check_wakes(&recs, &err, tids, took);
}

/// tp_btf pairs: tp_btf:sched_wakeup => tp_btf:sched_switch, arguments by
/// their BTF names, matched by the task pointer (`p` at the wakeup, `next`
/// at the switch).
#[test]
fn tp_btf_pair_wakeup_to_switch() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let (recs, err, tids, took) = wake_two(|a, b| {
        let spec = format!(
            "tp_btf:sched_wakeup => tp_btf:sched_switch as wake \
             {{ woken = p->pid, waker = tid, next = end.next->pid, nextc = end.next->comm, \
                lat = latency }} \
             match p => next \
             where (p->pid == {a} || p->pid == {b}) && (end.next->pid == {a} || end.next->pid == {b})"
        );
        vec!["-e".into(), spec, "-d".into(), "1s".into()]
    });
    assert!(
        err.contains("wake: tp_btf → tp_btf"),
        "attached as two tp_btf programs:\n{err}"
    );
    check_wakes(&recs, &err, tids, took);
}

// ---------------------------------------------------------------------------
// Kernel functions (the VM matrix runs these: tests/vm/host-tests.txt)
// ---------------------------------------------------------------------------

/// Starts `tracectl run ARGS`, or, when this kernel refuses the kernel
/// functions (no kprobes, no trampolines: the expected refusal
/// `expected`), returns the reason for [`elsewhere::not_run_here`].
fn kernel_function_tracer(args: &[&str], expected: &[&str]) -> Result<Tracer, String> {
    let mut all = args.to_vec();
    all.extend_from_slice(&["-o", "json", "--time", "none"]);
    Tracer::try_start(&all).map_err(|e| {
        assert!(
            expected.iter().any(|x| e.contains(x)),
            "tracectl run {} failed for another reason than {expected:?}:\n{e}",
            args.join(" ")
        );
        let at = expected.iter().filter_map(|x| e.find(x)).min().unwrap_or(0);
        let why = e[at..].lines().next().unwrap_or_default();
        why.split("; ").next().unwrap_or(why).to_string()
    })
}

/// What the attached line says probe `name` loaded as, e.g. `fentry →
/// fexit`, or `fexit` for one program.
fn loaded_as(err: &str, name: &str) -> String {
    let line = err
        .lines()
        .find(|l| l.starts_with("tracectl: attached "))
        .unwrap_or_else(|| panic!("no attached line:\n{err}"));
    let head = format!("{name}: ");
    let at = line
        .find(&head)
        .unwrap_or_else(|| panic!("{name} not in {line:?}"));
    let rest = &line[at + head.len()..];
    rest[..rest.find([',', ')']).unwrap_or(rest.len())].to_string()
}

/// The opens the kernel-function tests make in this thread, and check:
/// a missing file by absolute path (ENOENT), an existing one (its
/// descriptor), and a missing one relative to a directory descriptor
/// (`dfd` is that descriptor).
struct Opens {
    _dir: common::Scratch,
    missing: PathBuf,
    existing: PathBuf,
    rel: PathBuf,
    dirfd: i64,
    fd: i64,
    tid: i64,
    took: Duration,
}

impl Opens {
    fn new(tag: &str) -> Opens {
        let dir = scratch(tag);
        let n = nonce();
        let existing = dir.join(format!("file-{n}"));
        std::fs::write(&existing, b"x").unwrap();
        let dirfd = openat(libc::AT_FDCWD, &dir, libc::O_RDONLY | libc::O_DIRECTORY);
        assert!(dirfd >= 0);
        Opens {
            missing: dir.join(format!("missing-{n}")),
            existing,
            rel: PathBuf::from(format!("rel-missing-{n}")),
            _dir: dir,
            dirfd,
            fd: -1,
            tid: 0,
            took: Duration::ZERO,
        }
    }

    fn make(&mut self) {
        self.tid = gettid();
        let t0 = Instant::now();
        assert_eq!(openat(libc::AT_FDCWD, &self.missing, libc::O_RDONLY), -2);
        self.fd = openat(libc::AT_FDCWD, &self.existing, libc::O_RDONLY);
        assert!(self.fd >= 0);
        assert_eq!(openat(self.dirfd as i32, &self.rel, libc::O_RDONLY), -2);
        self.took = t0.elapsed();
    }

    /// The records of a pair with fields `tid`, `path` (start), `dfd`
    /// (start), `r` (end.retval) and `lat`: one per open, exact, and no
    /// other (this process opens nothing else while traced).
    fn check(&self, recs: &[Value], what: &str) {
        assert_eq!(recs.len(), 3, "{what}: three opens:\n{}", show(recs));
        let want = [
            (&self.missing, -100, -2),
            (&self.existing, -100, self.fd),
            (&self.rel, self.dirfd, -2),
        ];
        for (path, dfd, r) in want {
            let m: Vec<&Value> = recs
                .iter()
                .filter(|x| x["path"] == path.to_str().unwrap())
                .collect();
            assert_eq!(
                m.len(),
                1,
                "{what}: one record of {path:?}:\n{}",
                show(recs)
            );
            let x = m[0];
            assert_eq!(int(&x["tid"]), self.tid as i128, "{what}: {x}");
            assert_eq!(int(&x["dfd"]), dfd as i128, "{what}: {x}");
            assert_eq!(int(&x["r"]), r as i128, "{what}: {x}");
            assert!(lat_within(&x["lat"], self.took), "{what}: {x}");
        }
    }
}

impl Drop for Opens {
    fn drop(&mut self) {
        // SAFETY: descriptors this test opened.
        unsafe {
            libc::close(self.dirfd as i32);
            if self.fd >= 0 {
                libc::close(self.fd as i32);
            }
        }
    }
}

/// The fields [`Opens::check`] reads, for `F => G` on [`OPEN_FN`].
fn open_pair_spec(start: &str, end: &str) -> String {
    format!(
        "{start}:{OPEN_FN} => {end}:{OPEN_FN} as open \
         {{ tid, path = ustr(filename, 256), dfd, r = end.retval, lat = latency }}"
    )
}

/// `kfunc:F => kretfunc:F` (fentry/fexit where the kernel allows them, else
/// kprobe/kretprobe) and the same with `--no-trampolines` (kprobe/kretprobe):
/// the path and directory descriptor read at the entry, joined to the
/// result, for three opens.
#[test]
fn kfunc_pair_joins_path_and_result() {
    const TEST: &str = "kfunc_pair_joins_path_and_result";
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let spec = open_pair_spec("kfunc", "kretfunc");
    let mut refused = Vec::new();
    let mut auto = String::new();
    for extra in [None, Some("--no-trampolines")] {
        let pid = me();
        let mut args = vec!["-e", spec.as_str(), "--pid", pid.as_str(), "-d", "1s"];
        args.extend(extra);
        // Made before tracing: only the three opens of `make` are traced.
        let mut o = Opens::new("pair-kfunc");
        // kfunc: needs kprobes or trampolines; the refusal names both.
        let t = match kernel_function_tracer(&args, &[NO_KPROBES]) {
            Ok(t) => t,
            Err(why) => {
                refused.push(format!("{}: {why}", extra.unwrap_or("kfunc")));
                continue;
            }
        };
        o.make();
        let (out, err) = t.finish();
        let recs = json_lines(&out);
        let what = format!("kfunc pair {}", extra.unwrap_or(""));
        o.check(&recs, &what);
        let c = counts(&err, "open");
        assert_eq!(c.matched, recs.len() as u64, "{what}: {c:?}");
        let loaded = loaded_as(&err, "open");
        match extra {
            Some(_) => assert_eq!(loaded, "kprobe → kretprobe", "{err}"),
            None => assert!(
                loaded == "fentry → fexit" || loaded == "kprobe → kretprobe",
                "{err}"
            ),
        }
        if extra.is_none() {
            // What kfunc: chose (the matrix cell).
            auto = format!("auto={}", loaded.split(' ').next().unwrap_or_default());
        }
    }
    if refused.is_empty() {
        elsewhere::exercised(TEST, &auto);
    } else {
        elsewhere::not_run_here(TEST, &refused.join("; "));
    }
}

/// The forced forms `kprobe:F => kretprobe:F`: the same joins through a
/// kprobe and a kretprobe.
#[test]
fn kprobe_pair_joins_path_and_result() {
    const TEST: &str = "kprobe_pair_joins_path_and_result";
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let spec = open_pair_spec("kprobe", "kretprobe");
    let mut o = Opens::new("pair-kprobe");
    let t = match kernel_function_tracer(&["-e", &spec, "--pid", &me(), "-d", "1s"], &[NO_KPROBES])
    {
        Ok(t) => t,
        Err(why) => return elsewhere::not_run_here(TEST, &why),
    };
    o.make();
    let (out, err) = t.finish();
    let recs = json_lines(&out);
    o.check(&recs, "kprobe pair");
    let c = counts(&err, "open");
    assert_eq!(c.matched, recs.len() as u64, "{c:?}");
    assert_eq!(loaded_as(&err, "open"), "kprobe → kretprobe", "{err}");
    elsewhere::exercised(TEST, "kprobe");
}

/// `fentry:F => fexit:F` whose start values are argument registers and
/// that reads no `latency` compiles to one fexit program (no `pair` in the
/// plan, no stash, no pairing counts): `dfd` and the `filename` pointer
/// itself (the address this test passed) with the result. With `latency`
/// it stashes: a `pair`, loaded as fentry → fexit.
#[test]
fn fentry_fexit_pair_is_one_fexit_program() {
    const TEST: &str = "fentry_fexit_pair_is_one_fexit_program";
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let alone = format!(
        "fentry:{OPEN_FN} => fexit:{OPEN_FN} as open \
         {{ tid, dfd, p = hex(filename), r = end.retval }}"
    );
    let stashed = open_pair_spec("fentry", "fexit");
    let plan = |spec: &str| -> Value {
        let out = output_within(
            Command::new(BIN).args(["compile", "-e", spec]),
            PROGRAM_DEADLINE,
            "tracectl compile",
        );
        assert!(
            out.status.success(),
            "tracectl compile -e {spec}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the plan is JSON")
    };
    let p = plan(&alone);
    let probe = &p["probes"][0];
    assert!(
        probe.get("pair").is_none_or(Value::is_null),
        "no pair: {probe}"
    );
    assert_eq!(probe["attach"]["kind"], "kernel", "{}", probe["attach"]);
    assert_eq!(probe["attach"]["function"], OPEN_FN, "{}", probe["attach"]);
    assert_eq!(probe["attach"]["ret"], true, "{}", probe["attach"]);
    assert_eq!(probe["attach"]["mode"], "fentry", "{}", probe["attach"]);
    let p = plan(&stashed);
    let pair = &p["probes"][0]["pair"];
    assert!(pair.is_object(), "with latency, a pair: {}", p["probes"][0]);
    assert_eq!(pair["start"]["ret"], false, "{pair}");

    // One fexit program: the filename pointer and dfd are registers, the
    // values this thread passed.
    let o = Opens::new("pair-fexit");
    let t = match kernel_function_tracer(
        &["-e", &alone, "--pid", &me(), "-d", "1s"],
        &[NO_TRAMPOLINES],
    ) {
        Ok(t) => t,
        Err(why) => return elsewhere::not_run_here(TEST, &why),
    };
    let name = CString::new(o.rel.as_os_str().as_bytes()).unwrap();
    let tid = gettid();
    // SAFETY: a live NUL-terminated path; the open fails (no such file).
    let r = unsafe { libc::openat(o.dirfd as i32, name.as_ptr(), libc::O_RDONLY) };
    assert_eq!(r, -1);
    let (out, err) = t.finish();
    let recs = json_lines(&out);
    let p = format!("{:#x}", name.as_ptr() as usize);
    let m: Vec<&Value> = recs.iter().filter(|x| x["p"] == p.as_str()).collect();
    assert_eq!(
        (m.len(), recs.len()),
        (1, 1),
        "one record, of the pointer {p}:\n{}",
        show(&recs)
    );
    assert_eq!(int(&m[0]["dfd"]), o.dirfd as i128, "{}", m[0]);
    assert_eq!(int(&m[0]["r"]), -2, "{}", m[0]);
    assert_eq!(int(&m[0]["tid"]), tid as i128, "{}", m[0]);
    assert_eq!(
        loaded_as(&err, "open"),
        "fexit",
        "one fexit program:\n{err}"
    );
    assert!(
        !err.contains("{\"pairing\":") && !err.contains(" matched"),
        "no stash, no pairing counts:\n{err}"
    );

    // With latency: a stash, fentry then fexit.
    let mut o = Opens::new("pair-fentry");
    let t = Tracer::start(&[
        "-e",
        &stashed,
        "--pid",
        &me(),
        "-d",
        "1s",
        "-o",
        "json",
        "--time",
        "none",
    ]);
    o.make();
    let (out, err) = t.finish();
    let recs = json_lines(&out);
    o.check(&recs, "fentry pair with latency");
    let c = counts(&err, "open");
    assert_eq!(c.matched, recs.len() as u64, "{c:?}");
    assert_eq!(loaded_as(&err, "open"), "fentry → fexit", "{err}");
    elsewhere::exercised(TEST, "alone=fexit");
}
