//! The recipe library (`specs/`), recipe by recipe, on real events.
//!
//! * The catalogue `specs/index.yaml` against the spec files: one entry per
//!   spec and back, tags from the vocabulary, features equal to the probe
//!   kinds, uprobe targets listed as requirements (no kernel needed).
//! * `tracectl list`: grouping by tag, `--tag`, an unknown tag, `--json`.
//! * Every recipe passes `tracectl check`, and `tracectl check --load` here,
//!   except recipes on kernel functions when this kernel has neither kprobes
//!   nor BPF trampolines: those must fail with the loader's explanation and
//!   are loaded in the VM matrix (tests/vm/).
//! * One test per recipe that makes a uniquely identifiable event happen and
//!   checks the captured values. Recipes on kernel functions run their event
//!   test where the kernel allows, and otherwise say so loudly.
//! * Recipes that aggregate (spec v2: counts and histograms) are checked
//!   against a workload whose events are known exactly: a uniquely named
//!   program ([`WORKLOAD_C`]) that waits on its stdin until the recipe is
//!   attached, then makes exactly the calls, forks, writes and block I/O it
//!   is told to; counts and every histogram bucket must equal what it did.
//! * Paired recipes (start/end) are checked on values read at both ends
//!   (a path and the descriptor or errno the call returned, a new
//!   program's name, a connection's ports) and on latencies bounded by
//!   what the test measured itself; their histograms count exactly the
//!   calls, wakeups or reads the test made, with the pairing counts on
//!   stderr accounting for every start. `biolatency` has no key to single
//!   out a device: there, a lower bound.
//!
//! The kernel tests need root and kernel BTF: without them they fail when
//! `CI=true`, else they print SKIPPED. They run one at a time.
//!
//! With `TRACECTL_RECIPE_SAMPLES=DIR`, each event test also runs the recipe
//! with its default table output, next to the JSON one, and saves the command
//! line and what it printed in `DIR/NAME.txt`: scripts/gen-recipes-doc.sh
//! builds docs/recipes.md from them. Aggregating recipes whose test narrows
//! the JSON run to its workload (`--pid`) run the sample system-wide.

#[path = "common/mod.rs"]
mod common;

use common::programs;
use common::{
    bpf_available, elsewhere, json_lines, run_exec, scratch, serial, unique_true, Tracer, BIN,
};
use common::{cc, collect_output, output_within, wait_child, PROGRAM_DEADLINE};
use libc::{
    close, kill, listen, mount, setfsuid, setresuid, setreuid, socket, sync, sync_file_range,
    syncfs, umount2,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tracectl::recipes::{self, Feature};

/// Recipes with an event test below. Adding a recipe without one fails
/// `every_recipe_has_an_event_test`.
const EVENT_TESTS: &[&str] = &[
    "bashreadline",
    "biolatency",
    "bitesize",
    "capable",
    "execcount",
    "execsnoop",
    "exitsnoop",
    "funclatency",
    "gethostlatency",
    "killsnoop",
    "mountsnoop",
    "naptime",
    "offcputime",
    "oomkill",
    "opensnoop",
    "pidpersec",
    "profile",
    "readsize",
    "runqlat",
    "schedcount",
    "setuids",
    "sigsnoop",
    "solisten",
    "sslsniff",
    "stackcount",
    "statsnoop",
    "syncsnoop",
    "syscount",
    "syscount-id",
    "tcpaccept",
    "tcpaccept-tp",
    "tcpconnect",
    "tcpconnect-count",
    "tcpconnect-tp",
    "tcplife",
    "tcpretrans",
    "tcpstates",
    "threadsnoop",
    "vfsstat",
    "writesize",
];

/// How long a recipe traces in the event tests.
const SHORT: &str = "2s";

/// Rows of table output kept in a sample.
const SAMPLE_ROWS: usize = 12;

/// Histograms (keys) per print kept in a sample of an aggregating recipe.
const SAMPLE_KEYS: usize = 3;

/// Prints (interval and exit) kept in a sample of an aggregating recipe.
const SAMPLE_PRINTS: usize = 2;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn specs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs")
}

/// A short string unique to this run, for names the test can find again.
fn nonce() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{:x}{:x}", std::process::id() & 0xffff, nanos & 0xfffff)
}

fn me() -> u32 {
    std::process::id()
}

/// Runs `tracectl ARGS` to completion (at most [`common::EXIT_DEADLINE`]):
/// (success, stdout, stderr).
fn tracectl(args: &[&str]) -> (bool, String, String) {
    let out = output_within(
        Command::new(BIN).args(args).stdin(Stdio::null()),
        common::EXIT_DEADLINE,
        &format!("tracectl {}", args.join(" ")),
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The loader's error when this kernel can probe no kernel function.
const NO_KERNEL_FUNCTIONS: &str = "this kernel has no kprobes (CONFIG_KPROBES is off)";

fn samples_dir() -> Option<PathBuf> {
    std::env::var_os("TRACECTL_RECIPE_SAMPLES")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// A recipe running with JSON output (the values the test checks) and, in
/// sample mode, a second time with its own table output (the sample).
struct Capture {
    recipe: String,
    /// The arguments of the sample run (shown in the sample).
    args: Vec<String>,
    json: Tracer,
    table: Option<Tracer>,
    marker: Option<String>,
    /// The recipe aggregates: its table output is prints of keyed rows and
    /// histograms ([`save_aggregate_sample`]).
    aggregate: bool,
}

impl Capture {
    /// Starts `tracectl run RECIPE -o json ARGS` (and the table twin).
    fn start(recipe: &str, args: &[&str]) -> Capture {
        Capture::try_start(recipe, args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`Capture::start`], but a `tracectl` that exits before attaching
    /// is an `Err` with its stderr.
    ///
    /// In sample mode the table twin starts first: the JSON run, whose
    /// records the test checks, starts last, so that its `--duration`
    /// window cannot run out while the twin is still attaching.
    fn try_start(recipe: &str, args: &[&str]) -> Result<Capture, String> {
        let table = if samples_dir().is_some() {
            let mut a = vec![recipe];
            a.extend_from_slice(args);
            Some(Tracer::try_start(&a)?)
        } else {
            None
        };
        let mut a = vec![recipe, "-o", "json"];
        a.extend_from_slice(args);
        let json = Tracer::try_start(&a)?;
        Ok(Capture {
            recipe: recipe.to_string(),
            args: args.iter().map(|s| s.to_string()).collect(),
            json,
            table,
            marker: None,
            aggregate: false,
        })
    }

    /// Starts an aggregating recipe: `tracectl run RECIPE -o json ARGS`, and
    /// in sample mode the table twin with `sample_args` instead (e.g. without
    /// the `--pid` that makes the JSON counts exact, so that the sample shows
    /// the whole system).
    /// The table twin starts first, as in [`Capture::try_start`].
    fn start_aggregate(recipe: &str, args: &[&str], sample_args: &[&str]) -> Capture {
        let table = samples_dir().map(|_| {
            let mut a = vec![recipe];
            a.extend_from_slice(sample_args);
            Tracer::start(&a)
        });
        let mut a = vec![recipe, "-o", "json"];
        a.extend_from_slice(args);
        let json = Tracer::start(&a);
        Capture {
            recipe: recipe.to_string(),
            args: sample_args.iter().map(|s| s.to_string()).collect(),
            json,
            table,
            marker: None,
            aggregate: true,
        }
    }

    /// In the sample, prefer rows containing this text (the test's own events).
    fn marker(mut self, m: impl Into<String>) -> Capture {
        self.marker = Some(m.into());
        self
    }

    /// Marks a capture started with [`Capture::start`] or
    /// [`Capture::try_start`] as an aggregating recipe's (for its sample).
    fn aggregating(mut self) -> Capture {
        self.aggregate = true;
        self
    }

    /// Waits for the recipe to end and returns its records (and saves the sample).
    fn finish(self) -> Vec<Value> {
        self.finish_with_stderr().0
    }

    /// As [`Capture::finish`], with what the JSON run printed on stderr
    /// (the summary, and the pairing counts of paired probes).
    fn finish_with_stderr(self) -> (Vec<Value>, String) {
        let (out, err) = self.json.finish();
        // Captured by the test harness: shown when the test fails.
        println!("tracectl run {} -o json: stderr:\n{err}", self.recipe);
        if let (Some(t), Some(dir)) = (self.table, samples_dir()) {
            let (table, _) = t.finish();
            let save = if self.aggregate {
                save_aggregate_sample
            } else {
                save_sample
            };
            save(
                &dir,
                &self.recipe,
                &self.args,
                &table,
                self.marker.as_deref(),
            );
        }
        (json_lines(&out), err)
    }
}

fn save_sample(dir: &Path, recipe: &str, args: &[String], table: &str, marker: Option<&str>) {
    let mut lines = table.lines();
    let header = lines.next().unwrap_or("");
    let rows: Vec<&str> = lines.collect();
    let mut keep: Vec<&str> = match marker {
        Some(m) if rows.len() > SAMPLE_ROWS => {
            let mine: Vec<&str> = rows.iter().copied().filter(|r| r.contains(m)).collect();
            if mine.is_empty() {
                rows.clone()
            } else {
                mine
            }
        }
        _ => rows.clone(),
    };
    keep.truncate(SAMPLE_ROWS);
    let mut text = sample_command(recipe, args);
    text.push_str(header);
    text.push('\n');
    for r in &keep {
        text.push_str(r);
        text.push('\n');
    }
    if rows.len() > keep.len() {
        text.push_str(&format!(
            "[{} more rows of other processes' events]\n",
            rows.len() - keep.len()
        ));
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(format!("{recipe}.txt")), text).unwrap();
}

/// The command line of a sample.
fn sample_command(recipe: &str, args: &[String]) -> String {
    let mut text = format!("$ tracectl run {recipe}");
    for a in args {
        text.push(' ');
        text.push_str(a);
    }
    text.push('\n');
    text
}

/// A table print's heading, `[TIME] PROBE` (histogram lines start with `[`
/// too, but have bars).
fn is_print_heading(l: &str) -> bool {
    l.starts_with('[') && l.contains("] ") && !l.contains('|')
}

/// Saves the sample of an aggregating recipe. Its table output is a series
/// of prints, each a heading `[TIME] PROBE` and then either a table (a
/// header line and one row per key) or one histogram per key (`NAME[KEY]:`
/// and its bucket lines), separated by empty lines. The sample keeps the
/// first [`SAMPLE_PRINTS`] print times (every probe's print at those
/// times), and in each print at most [`SAMPLE_ROWS`] rows or
/// [`SAMPLE_KEYS`] histograms, those containing `marker` (the test's own
/// events) first; it says how many it left out.
fn save_aggregate_sample(
    dir: &Path,
    recipe: &str,
    args: &[String],
    table: &str,
    marker: Option<&str>,
) {
    // (heading, body lines)
    let mut prints: Vec<(&str, Vec<&str>)> = Vec::new();
    for l in table.lines() {
        if is_print_heading(l) {
            prints.push((l, Vec::new()));
        } else if let Some((_, body)) = prints.last_mut() {
            body.push(l);
        }
    }
    let time_of = |h: &str| h.split("] ").next().unwrap_or(h).to_string();
    let mut times: Vec<String> = prints.iter().map(|(h, _)| time_of(h)).collect();
    times.dedup();
    let kept_times = &times[..times.len().min(SAMPLE_PRINTS)];
    let mine = |block: &[&str]| marker.is_some_and(|m| block.iter().any(|l| l.contains(m)));
    // Indices of at most `n` items, those with the marker first, in order.
    let choose = |flags: &[bool], n: usize| -> Vec<usize> {
        let mut pick: Vec<usize> = (0..flags.len()).filter(|&i| flags[i]).take(n).collect();
        let rest = n.saturating_sub(pick.len());
        pick.extend((0..flags.len()).filter(|&i| !flags[i]).take(rest));
        pick.sort_unstable();
        pick
    };
    let more = |n: usize, what: &str| {
        let s = if n == 1 { "" } else { "s" };
        format!("[{n} more {what}{s}]\n")
    };
    let mut text = sample_command(recipe, args);
    for (heading, body) in prints
        .iter()
        .filter(|(h, _)| kept_times.contains(&time_of(h)))
    {
        text.push_str(heading);
        text.push('\n');
        let mut paragraphs: Vec<Vec<&str>> = body
            .split(|l| l.trim().is_empty())
            .filter(|p| !p.is_empty())
            .map(|p| p.to_vec())
            .collect();
        if !body.iter().any(|l| l.contains('|')) {
            // A table: the header, then rows (nothing when no events came).
            if let Some((header, rows)) = paragraphs.first().and_then(|p| p.split_first()) {
                let flags: Vec<bool> = rows.iter().map(|r| mine(&[r])).collect();
                let pick = choose(&flags, SAMPLE_ROWS);
                text.push_str(header);
                text.push('\n');
                for &i in &pick {
                    text.push_str(rows[i]);
                    text.push('\n');
                }
                if rows.len() > pick.len() {
                    text.push_str(&more(rows.len() - pick.len(), "row"));
                }
            }
        } else {
            // Histograms, one per key; a probe with plain values too has a
            // header line first, and each histogram follows its key's row.
            if let Some(first) = paragraphs.first_mut() {
                if first.len() > 1 && !first[0].ends_with(':') && !first[0].contains('|') {
                    text.push_str(first.remove(0));
                    text.push('\n');
                }
            }
            let flags: Vec<bool> = paragraphs.iter().map(|p| mine(p)).collect();
            let pick = choose(&flags, SAMPLE_KEYS);
            for (n, &i) in pick.iter().enumerate() {
                if n > 0 {
                    text.push('\n');
                }
                for l in &paragraphs[i] {
                    text.push_str(l);
                    text.push('\n');
                }
            }
            if paragraphs.len() > pick.len() {
                text.push_str(&more(paragraphs.len() - pick.len(), "histogram"));
            }
        }
        text.push('\n');
    }
    if times.len() > kept_times.len() {
        text.push_str(&more(times.len() - kept_times.len(), "print"));
    }
    let text = text.trim_end().to_string() + "\n";
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(format!("{recipe}.txt")), text).unwrap();
}

/// For recipes on kernel functions, in the test `test`: the capture, or
/// `None` when this kernel can probe no kernel function. Then the loader must
/// have said so, and [`common::elsewhere::not_run_here`] fails the test
/// unless the VM matrix runs it (and always where kernel functions are
/// required, i.e. in the VM guests), and records the `NOT RUN HERE` line the
/// CI log shows.
fn capture_kernel_function_recipe(test: &str, recipe: &str, args: &[&str]) -> Option<Capture> {
    match Capture::try_start(recipe, args) {
        Ok(c) => Some(c),
        Err(e) => {
            assert!(
                e.contains(NO_KERNEL_FUNCTIONS),
                "{recipe} failed for another reason than missing kprobes/fentry:\n{e}"
            );
            // The reason alone, without the suggested alternative.
            let at = e.find(NO_KERNEL_FUNCTIONS).unwrap_or(0);
            let why = e[at..].lines().next().unwrap_or_default();
            let why = why.split("; ").next().unwrap_or(why);
            elsewhere::not_run_here(test, &format!("tracectl run {recipe}: {why}"));
            None
        }
    }
}

/// The calling thread's comm (what the recipes report as `comm`).
fn thread_comm() -> String {
    std::fs::read_to_string("/proc/thread-self/comm")
        .expect("read /proc/thread-self/comm")
        .trim_end()
        .to_string()
}

/// Records of one probe.
fn of_probe<'a>(recs: &'a [Value], probe: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["probe"] == probe).collect()
}

/// The only record matching `f`; panics with the output otherwise.
fn only<'a>(recs: &'a [Value], what: &str, f: impl Fn(&Value) -> bool) -> &'a Value {
    let m: Vec<&Value> = recs.iter().filter(|r| f(r)).collect();
    assert_eq!(
        m.len(),
        1,
        "expected exactly one record of {what}, got {}:\n{}",
        m.len(),
        recs.iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    m[0]
}

/// Waits until a process has exec'd into `comm`.
fn wait_comm(pid: u32, comm: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if c.trim_end() == comm {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} did not become {comm}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cstr(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s).unwrap()
}

// ---------------------------------------------------------------------------
// Aggregating recipes: a workload with exactly known events, and their rows
// ---------------------------------------------------------------------------

/// The workload of the aggregating recipes' tests. It opens its files, then
/// blocks reading one byte from stdin until the test, with the recipe
/// attached, lets it go; then it does exactly what its arguments say and
/// calls exit_group(2). Each action makes only the system calls named here
/// (`W` also reads /proc and sleeps while it waits):
///
/// * `r:N` one read(2) of N bytes from /dev/zero;
/// * `w:N` one write(2) of N bytes to /dev/null;
/// * `s:N` N getppid(2) calls;
/// * `f:N` N fsync(2) calls on the file `data`;
/// * `o:N` N openat(2) of /dev/null, read-only, each closed;
/// * `c:N` N openat(2) of `created` with O_CREAT, each closed;
/// * `k:N` N forks, each child exiting at once, each waited for;
/// * `z:N` one sleep of N ms (the workload is switched out);
/// * `W` one fork of a child that blocks reading a pipe; once the child
///   sleeps in read(2) (its /proc/PID/syscall), one byte written to the pipe
///   wakes it from this process; then it is waited for;
/// * `d:N:DEV` one O_DIRECT write(2) of N bytes at offset 0 of the block
///   device DEV (opened and closed around it);
/// * `e:PATH` execs PATH (the last action).
const WORKLOAD_C: &str = r#"#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static char buf[1 << 20] __attribute__((aligned(4096)));
static int wake_a_sleeper(void) {
    int p[2];
    char c = 'x', path[64], now[64], want[16];
    if (pipe(p)) return 1;
    pid_t k = fork();
    if (k < 0) return 1;
    if (k == 0) { if (read(p[0], &c, 1) != 1) syscall(SYS_exit_group, 1); syscall(SYS_exit_group, 0); }
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)k);
    snprintf(want, sizeof want, "%d ", (int)SYS_read);
    for (;;) {
        int fd = open(path, O_RDONLY);
        ssize_t n = fd < 0 ? -1 : read(fd, now, sizeof now - 1);
        if (fd >= 0) close(fd);
        if (n > 0) { now[n] = 0; if (!strncmp(now, want, strlen(want))) break; }
        usleep(1000);
    }
    int st;
    if (write(p[1], &c, 1) != 1 || waitpid(k, &st, 0) != k || st != 0) return 1;
    return 0;
}
int main(int argc, char **argv) {
    int zero = open("/dev/zero", O_RDONLY), null = open("/dev/null", O_WRONLY);
    int file = open("data", O_WRONLY | O_CREAT, 0600);
    char go;
    if (zero < 0 || null < 0 || file < 0 || read(0, &go, 1) != 1) return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long n = a[1] == ':' ? strtol(a + 2, NULL, 10) : 0;
        switch (a[0]) {
        case 'r': if (read(zero, buf, n) != n) return 3; break;
        case 'w': if (write(null, buf, n) != n) return 4; break;
        case 's': for (long j = 0; j < n; j++) syscall(SYS_getppid); break;
        case 'f': for (long j = 0; j < n; j++) if (fsync(file)) return 5; break;
        case 'o': for (long j = 0; j < n; j++) close(open("/dev/null", O_RDONLY)); break;
        case 'c': for (long j = 0; j < n; j++) close(open("created", O_WRONLY | O_CREAT, 0600)); break;
        case 'k':
            for (long j = 0; j < n; j++) {
                pid_t p = fork();
                if (p == 0) syscall(SYS_exit_group, 0);
                if (p < 0 || waitpid(p, NULL, 0) != p) return 6;
            }
            break;
        case 'z': usleep(n * 1000); break;
        case 'W': if (wake_a_sleeper()) return 7; break;
        case 'd': {
            int fd = open(strchr(a + 2, ':') + 1, O_WRONLY | O_DIRECT);
            if (fd < 0 || write(fd, buf, n) != n) return 8;
            close(fd);
            break;
        }
        case 'e': execl(a + 2, a + 2, (char *)NULL); return 9;
        default: return 10;
        }
    }
    syscall(SYS_exit_group, 0);
}
"#;

/// A running [`WORKLOAD_C`] under a unique name (its comm), blocked on its
/// stdin until [`Workload::go`]. Its scratch directory is its working
/// directory.
struct Workload {
    child: std::process::Child,
    name: String,
    _dir: common::Scratch,
}

impl Workload {
    /// Compiles the workload as `PREFIX` + a nonce (at most 15 characters,
    /// the comm), starts it with `actions` and waits until it sleeps in its
    /// read of stdin: everything it did before is done, and nothing it does
    /// after [`Workload::go`] has happened yet.
    fn start(prefix: &str, actions: &[&str]) -> Workload {
        let dir = scratch(prefix);
        let name = format!("{prefix}{}", nonce());
        assert!(name.len() <= 15, "{name} is longer than a comm");
        let bin = cc(&dir, &name, WORKLOAD_C, &[]);
        let child = Command::new(&bin)
            .args(actions)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let w = Workload {
            child,
            name,
            _dir: dir,
        };
        wait_in_syscall(w.pid(), libc::SYS_read, &w.name);
        w
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lets the workload do its actions and waits until it exited with 0.
    fn go(mut self) {
        let mut stdin = self.child.stdin.take().unwrap();
        stdin.write_all(b"g").unwrap();
        drop(stdin);
        let status = wait_child(&mut self.child, &self.name);
        assert!(status.success(), "{} failed: {status}", self.name);
    }
}

/// Waits until process `pid` sleeps in system call `nr` (/proc/PID/syscall).
fn wait_in_syscall(pid: u32, nr: i64, what: &str) {
    common::wait_blocked(
        &format!("/proc/{pid}/syscall"),
        nr,
        &format!("{what} (pid {pid})"),
    );
}

/// A JSON integer.
fn int(v: &Value) -> i64 {
    v.as_i64()
        .unwrap_or_else(|| panic!("not a signed 64-bit integer: {v}"))
}

/// The sum of `field` over the rows of `probe` that `select` chooses: an
/// aggregating recipe prints one row per key per interval, so a key's
/// events may be spread over several rows.
fn total(rows: &[Value], probe: &str, field: &str, select: impl Fn(&Value) -> bool) -> i64 {
    rows.iter()
        .filter(|r| r["probe"] == probe && select(r))
        .map(|r| int(&r[field]))
        .sum()
}

/// A histogram's JSON buckets as (min, max, count) ([`common::hist_buckets`]),
/// in this file's integer type.
fn buckets(v: &Value) -> Vec<(Option<i64>, Option<i64>, i64)> {
    common::hist_buckets(v)
        .into_iter()
        .map(|(lo, hi, n)| (lo.map(|x| x as i64), hi.map(|x| x as i64), n as i64))
        .collect()
}

/// The non-empty power-of-two buckets (bpftrace's hist()) of `values`, as
/// [`buckets`] returns them; values are positive here.
fn log2_hist(values: &[i64]) -> Vec<(Option<i64>, Option<i64>, i64)> {
    let mut m = std::collections::BTreeMap::new();
    for &v in values {
        assert!(v > 0);
        let lo = 1i64 << (63 - v.leading_zeros());
        *m.entry(lo).or_insert(0) += 1;
    }
    m.into_iter()
        .map(|(lo, n)| (Some(lo), Some(lo * 2 - 1), n))
        .collect()
}

/// The number of events in the histograms `field` of the rows of `probe`
/// that `select` chooses (every bucket of every print).
fn hist_total(rows: &[Value], probe: &str, field: &str, select: impl Fn(&Value) -> bool) -> i64 {
    rows.iter()
        .filter(|r| r["probe"] == probe && select(r))
        .flat_map(|r| buckets(&r[field]))
        .map(|(_, _, n)| n)
        .sum()
}

/// The pairing counts a paired probe's run printed on stderr with `-o json`
/// (`{"pairing":PROBE,"matched":N,...}`).
fn pairing_counts(stderr: &str, probe: &str) -> Value {
    let objs: Vec<Value> = stderr
        .lines()
        .filter(|l| l.starts_with("{\"pairing\":"))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad pairing line {l}: {e}")))
        .filter(|v: &Value| v["pairing"] == probe)
        .collect();
    assert_eq!(
        objs.len(),
        1,
        "expected one pairing object of {probe} on stderr:\n{stderr}"
    );
    objs.into_iter().next().unwrap()
}

/// Starts a second `tracectl run RECIPE -o json ARGS` next to a [`Capture`]
/// (another parameter set over the same events); [`records`] ends it.
fn json_tracer(recipe: &str, args: &[&str]) -> Tracer {
    let mut a = vec![recipe, "-o", "json"];
    a.extend_from_slice(args);
    Tracer::start(&a)
}

/// The records of a [`json_tracer`] once it ended.
fn records(t: Tracer) -> Vec<Value> {
    json_lines(&t.finish().0)
}

/// The only row of `probe` whose key `key` is `value`: a recipe without an
/// interval prints once, at exit.
fn only_row<'a>(rows: &'a [Value], probe: &str, key: &str, value: &str) -> &'a Value {
    only(rows, &format!("{probe} with {key} {value}"), |r| {
        r["probe"] == probe && r[key] == value
    })
}

// ---------------------------------------------------------------------------
// The catalogue (no kernel needed)
// ---------------------------------------------------------------------------

#[test]
fn catalogue_lists_exactly_the_spec_files() {
    let cat = recipes::catalogue().unwrap_or_else(|e| panic!("{e}"));
    let mut on_disk = BTreeSet::new();
    for e in std::fs::read_dir(specs_dir()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if name == "index.yaml" {
            continue;
        }
        let stem = name
            .strip_suffix(".yaml")
            .unwrap_or_else(|| panic!("specs/{name}: recipes are .yaml files"));
        on_disk.insert(stem.to_string());
    }
    let bundled: BTreeSet<String> = recipes::all().iter().map(|r| r.name.to_string()).collect();
    let listed: BTreeSet<String> = cat.entries.iter().map(|e| e.name.clone()).collect();
    assert_eq!(
        bundled, on_disk,
        "the binary bundles other specs than specs/ holds"
    );
    assert_eq!(listed, on_disk, "specs/index.yaml and specs/ disagree");
    assert!(
        on_disk.len() >= 20,
        "the library has {} recipes",
        on_disk.len()
    );
}

#[test]
fn catalogue_features_and_requirements_follow_the_probes() {
    let cat = recipes::catalogue().unwrap_or_else(|e| panic!("{e}"));
    for r in recipes::all() {
        let spec = tracectl_compiler::syntax::parse(r.file, r.source)
            .unwrap_or_else(|_| panic!("{} does not parse", r.file));
        assert_eq!(
            spec.name.value, r.name,
            "{}: `name:` must be the file name",
            r.file
        );
        let desc = spec.description.as_ref().map(|d| d.value.as_str());
        assert!(
            desc.is_some_and(|d| d.len() > 20 && d.ends_with('.')),
            "{}: needs a one-sentence description",
            r.file
        );
        let e = cat.entry(r.name).unwrap();
        let (features, files) = recipes::needs_of(&spec);
        let stated: BTreeSet<Feature> = e.features.iter().copied().collect();
        assert_eq!(
            stated, features,
            "{}: index.yaml says features {:?}, its probes need {:?}",
            r.name, stated, features
        );
        let required: BTreeSet<String> = e.requires.iter().cloned().collect();
        assert_eq!(
            required, files,
            "{}: index.yaml `requires` must list exactly its uprobe targets",
            r.name
        );
        assert!(!e.tags.is_empty() && !e.mirrors.is_empty(), "{}", r.name);
        for t in &e.tags {
            assert!(cat.tag(t).is_some(), "{}: tag {t}", r.name);
        }
    }
}

#[test]
fn every_recipe_has_an_event_test() {
    let names: BTreeSet<&str> = recipes::all().iter().map(|r| r.name).collect();
    let tested: BTreeSet<&str> = EVENT_TESTS.iter().copied().collect();
    assert_eq!(
        names, tested,
        "each recipe needs an event test in tests/recipes.rs (and an EVENT_TESTS entry)"
    );
}

#[test]
fn list_groups_recipes_by_tag_with_descriptions() {
    let cat = recipes::catalogue().unwrap();
    let (ok, out, err) = tracectl(&["list"]);
    assert!(ok, "{err}");
    // Group headers, in the vocabulary's order.
    let headers: Vec<&str> = out
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(' '))
        .collect();
    let expected: Vec<String> = cat
        .tags
        .iter()
        .map(|t| format!("{}: {}", t.name, t.description))
        .collect();
    assert_eq!(headers, expected, "{out}");
    // Each recipe under each of its tags, with its description.
    let mut group = "";
    let mut seen = BTreeSet::new();
    for l in out.lines() {
        if l.is_empty() {
            continue;
        }
        if !l.starts_with(' ') {
            group = l.split(':').next().unwrap();
            continue;
        }
        let name = l.split_whitespace().next().unwrap();
        let e = cat.entry(name).unwrap_or_else(|| panic!("unknown row {l}"));
        assert!(e.tags.iter().any(|t| t == group), "{name} under {group}");
        let r = recipes::find(name).unwrap();
        let spec = tracectl_compiler::syntax::parse(r.file, r.source).unwrap();
        assert!(
            l.ends_with(&spec.description.unwrap().value),
            "row without its description: {l}"
        );
        seen.insert((group.to_string(), name.to_string()));
    }
    let want: BTreeSet<(String, String)> = cat
        .entries
        .iter()
        .flat_map(|e| e.tags.iter().map(|t| (t.clone(), e.name.clone())))
        .collect();
    assert_eq!(seen, want);
}

#[test]
fn list_tag_filters_and_an_unknown_tag_lists_the_tags() {
    let cat = recipes::catalogue().unwrap();
    let (ok, out, err) = tracectl(&["list", "--tag", "net"]);
    assert!(ok, "{err}");
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!("net: {}", cat.tag("net").unwrap().description)
    );
    let names: BTreeSet<&str> = lines
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let want: BTreeSet<&str> = cat
        .entries
        .iter()
        .filter(|e| e.tags.iter().any(|t| t == "net"))
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, want);
    for n in ["tcpconnect", "tcpconnect-tp", "tcpretrans", "tcpstates"] {
        assert!(names.contains(n), "{n} is a net recipe");
    }
    assert!(!names.contains("execsnoop"));

    let (ok, out, err) = tracectl(&["list", "--tag", "nett"]);
    assert!(!ok && out.is_empty());
    assert!(err.contains("`nett` is not a recipe tag"), "{err}");
    assert!(err.contains("did you mean `net`?"), "{err}");
    let all = cat.tag_names().join(", ");
    assert!(err.contains(&format!("the tags are: {all}")), "{err}");
}

#[test]
fn list_json_describes_every_recipe() {
    let (ok, out, err) = tracectl(&["list", "--json"]);
    assert!(ok, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let recs = doc["recipes"].as_array().unwrap();
    assert_eq!(recs.len(), recipes::all().len());
    let op = recs.iter().find(|r| r["name"] == "opensnoop").unwrap();
    assert_eq!(op["mirrors"], "bcc opensnoop");
    assert_eq!(op["features"], serde_json::json!(["tracepoint"]));
    assert_eq!(op["params"][0]["name"], "pid");
    assert_eq!(op["params"][0]["type"], "u32");
    assert_eq!(op["params"][0]["default"], 0);
    assert_eq!(
        op["probes"][0]["probe"],
        "tracepoint:syscalls:sys_enter_openat"
    );
    let tc = recs.iter().find(|r| r["name"] == "tcpconnect").unwrap();
    assert_eq!(tc["needs_kernel_functions"], true);
    let br = recs.iter().find(|r| r["name"] == "bashreadline").unwrap();
    assert_eq!(br["requires"], serde_json::json!(["/bin/bash"]));
    let (ok, out, _) = tracectl(&["list", "--json", "--tag", "memory"]);
    assert!(ok);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["recipes"].as_array().unwrap().len(), 1);
    assert_eq!(doc["recipes"][0]["name"], "oomkill");
    assert_eq!(doc["recipes"][0]["min_kernel"], "6.8");
}

// ---------------------------------------------------------------------------
// check / check --load of every recipe
// ---------------------------------------------------------------------------

#[test]
fn every_recipe_passes_check_and_loads_here_or_needs_the_vm() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let cat = recipes::catalogue().unwrap();
    let mut vm_only = Vec::new();
    for e in &cat.entries {
        let (ok, _, err) = tracectl(&["check", &e.name]);
        assert!(ok, "tracectl check {} failed:\n{err}", e.name);
        // The only warnings allowed: a builtin chosen over a tracepoint field
        // of the same name, which these recipes do on purpose; and on a
        // kernel without kprobes, that a kernel-function recipe needs BPF
        // trampolines (which that recipe must get).
        let kernel_functions = e.features.iter().any(|f| f.needs_kernel_functions());
        let no_kprobes = !tracectl::load::kprobes_available();
        for l in err.lines().filter(|l| l.starts_with("warning")) {
            assert!(
                l.contains("is the builtin, not the argument of the same name")
                    || (kernel_functions && no_kprobes && l.contains("has no kprobes")),
                "{}: unexpected warning: {l}\n{err}",
                e.name
            );
        }
        assert_eq!(
            kernel_functions && no_kprobes,
            err.contains("this kernel has no kprobes"),
            "{}: the kprobes warning of `check`:\n{err}",
            e.name
        );
        let (ok, _, err) = tracectl(&["check", "--load", &e.name]);
        if ok {
            continue;
        }
        assert!(
            kernel_functions && err.contains(NO_KERNEL_FUNCTIONS),
            "tracectl check --load {} failed:\n{err}",
            e.name
        );
        vm_only.push(e.name.as_str());
    }
    let test = "every_recipe_passes_check_and_loads_here_or_needs_the_vm";
    if vm_only.is_empty() {
        elsewhere::exercised(test, "all loaded");
    } else {
        elsewhere::not_run_here(
            test,
            &format!(
                "check --load of {} refused: {NO_KERNEL_FUNCTIONS}",
                vm_only.join(", ")
            ),
        );
    }
}

// ---------------------------------------------------------------------------
// Event tests, one per recipe (alphabetical)
// ---------------------------------------------------------------------------

#[test]
fn bashreadline_sees_a_typed_command_line() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    assert!(
        Path::new("/bin/bash").exists(),
        "bashreadline needs /bin/bash (apt-get install bash)"
    );
    let n = nonce();
    let line = format!("echo tracectl_readline_{n} $$");
    let t = Capture::start("bashreadline", &["-d", "3s"]).marker(format!("tracectl_readline_{n}"));
    // `script` gives bash a terminal, so it reads its input with readline.
    let mut sh = Command::new("script")
        .args(["-qec", "bash --norc --noprofile -i", "/dev/null"])
        .env("TERM", "dumb")
        .env("PS1", "$ ")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("`script` (util-linux/bsdutils) runs bash on a terminal");
    let mut stdin = sh.stdin.take().unwrap();
    writeln!(stdin, "{line}").unwrap();
    writeln!(stdin, "exit").unwrap();
    drop(stdin);
    let done = collect_output(sh, PROGRAM_DEADLINE, "bash on a terminal to exit");
    let out = String::from_utf8_lossy(&done.stdout).into_owned();
    assert!(done.status.success(), "bash failed:\n{out}");
    // The shell printed its pid after the marker.
    let marker = format!("tracectl_readline_{n} ");
    let bash_pid: u32 = out
        .lines()
        .filter_map(|l| l.trim_end().split_once(&marker).map(|(_, p)| p))
        .find_map(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("bash did not echo its pid:\n{out}"));
    let recs = t.finish();
    let r = only(&recs, "the command line", |r| r["line"] == line.as_str());
    assert_eq!(r["probe"], "readline");
    assert_eq!(r["pid"], bash_pid, "{r}");
    assert_eq!(r["comm"], "bash", "{r}");
    only(&recs, "`exit` typed into the same shell", |r| {
        r["line"] == "exit" && r["pid"] == bash_pid
    });
}

/// A loop device on a file (`losetup`), detached when dropped.
struct LoopDevice {
    path: String,
}

impl LoopDevice {
    fn attach(file: &Path) -> LoopDevice {
        let out = output_within(
            Command::new("losetup").args(["--find", "--show"]).arg(file),
            PROGRAM_DEADLINE,
            "losetup --find --show",
        );
        assert!(
            out.status.success(),
            "the bitesize test needs a loop device (losetup from util-linux, /dev/loop-control): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        // No I/O scheduler: a request is issued by the task that submits it.
        let dev = path.trim_start_matches("/dev/");
        let _ = std::fs::write(format!("/sys/block/{dev}/queue/scheduler"), "none");
        LoopDevice { path }
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let out = output_within(
            Command::new("losetup").args(["--detach", &self.path]),
            PROGRAM_DEADLINE,
            "losetup --detach",
        );
        if !out.status.success() {
            eprintln!(
                "losetup --detach {} failed: {}",
                self.path,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn biolatency_counts_direct_writes_to_a_loop_device() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("biolat");
    let image = dir.join("disk.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let dev = LoopDevice::attach(&image);
    // O_DIRECT writes of these sizes are one request each (bitesize's test
    // checks it), each issued and completed while the recipe runs.
    let sizes = [4096, 8192, 16384, 65536];
    let actions: Vec<String> = sizes
        .iter()
        .map(|n| format!("d:{n}:{}", dev.path))
        .collect();
    let actions: Vec<&str> = actions.iter().map(String::as_str).collect();
    let w = Workload::start("tbio", &actions);
    let t = Capture::start_aggregate("biolatency", &["-d", SHORT], &["-d", SHORT]);
    w.go();
    let (rows, err) = t.finish_with_stderr();
    assert!(rows.iter().all(|r| r["probe"] == "bio"), "{rows:?}");
    // One histogram for every device: other disks' requests in the same
    // seconds count too, and the recipe has nothing to tell them apart
    // (no key, no device parameter), so the exact count is unknowable
    // here. What holds: our requests are in it, and every count is a
    // matched issue and completion (the pairing counters, read after the
    // last print, may have matched more since).
    let n = hist_total(&rows, "bio", "usecs", |_| true);
    let matched = int(&pairing_counts(&err, "bio")["matched"]);
    assert!(
        n >= sizes.len() as i64,
        "{n} requests counted, we made {}: {rows:?}",
        sizes.len()
    );
    assert!(n <= matched, "{n} counted, {matched} matched:\n{err}");
}

#[test]
fn bitesize_sees_direct_writes_to_a_loop_device() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("bitesize");
    let image = dir.join("disk.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let dev = LoopDevice::attach(&image);
    // O_DIRECT writes of these sizes are one request each.
    let sizes = [4096, 4096, 16384, 65536];
    let actions: Vec<String> = sizes
        .iter()
        .map(|n| format!("d:{n}:{}", dev.path))
        .collect();
    let actions: Vec<&str> = actions.iter().map(String::as_str).collect();
    let w = Workload::start("tbite", &actions);
    let name = w.name.clone();
    let t = Capture::start_aggregate("bitesize", &["-d", SHORT], &["-d", SHORT]).marker(&name);
    w.go();
    let rows = t.finish();
    let r = only_row(&rows, "io", "comm", &name);
    let kib: Vec<i64> = sizes.iter().map(|n| n / 1024).collect();
    assert_eq!(buckets(&r["kbytes"]), log2_hist(&kib), "{r}");
}

#[test]
fn capable_sees_a_raw_socket_check() {
    const TEST: &str = "capable_sees_a_raw_socket_check";
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let pid = me().to_string();
    let Some(t) = capture_kernel_function_recipe(
        TEST,
        "capable",
        &["-d", SHORT, "-p", &format!("pid={pid}")],
    ) else {
        return;
    };
    // A raw socket needs CAP_NET_RAW (13, printed by name): inet_create asks ns_capable, an
    // audited check (opts 0), in this thread.
    // SAFETY: plain syscalls on a descriptor this test owns.
    let fd = unsafe { socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
    assert!(
        fd >= 0,
        "socket(AF_INET, SOCK_RAW, ICMP) failed: {}",
        std::io::Error::last_os_error()
    );
    unsafe { close(fd) };
    let comm = thread_comm();
    let recs = t.finish();
    assert!(recs.iter().all(|r| r["pid"] == me()), "pid param: {recs:?}");
    let r = only(&recs, "a CAP_NET_RAW check", |r| r["cap"] == "CAP_NET_RAW");
    assert_eq!(r["pid"], me(), "{r}");
    assert_eq!(r["uid"], 0, "{r}");
    assert_eq!(r["comm"], comm.as_str(), "{r}");
    assert_eq!(r["opts"], 0, "an audited check: {r}");
    elsewhere::exercised(TEST, "");
}

#[test]
fn execcount_counts_each_exec_of_a_unique_program() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("execcount");
    let name = format!("tx{}", nonce());
    let prog = unique_true(&dir, &name);
    let t = Capture::start_aggregate("execcount", &["-d", SHORT], &["-d", SHORT]).marker(&name);
    for _ in 0..5 {
        run_exec(&prog);
    }
    let rows = t.finish();
    assert!(rows.iter().all(|r| r["probe"] == "execs"), "{rows:?}");
    // Printed every second: the five may be split over two prints.
    let n = total(&rows, "execs", "execs", |r| r["comm"] == name.as_str());
    assert_eq!(n, 5, "{rows:?}");
}

#[test]
fn execsnoop_sees_a_new_program_its_parent_and_arguments_and_failed_execs_on_request() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("execsnoop");
    let n = nonce();
    // At most 15 characters: the new program's comm is its whole name.
    let name = format!("tx{n}");
    assert!(name.len() <= 15, "{name}");
    let prog = unique_true(&dir, &name);
    let missing = dir.join(format!("tracectl_noexec_{n}"));
    let t = Capture::start("execsnoop", &["-d", SHORT]).marker(&n);
    // Over the same execs: failed ones shown too (bcc's -x).
    let with_failed = json_tracer("execsnoop", &["-d", SHORT, "-p", "failed=true"]);
    // Arguments only this run has; argv[0] is the path as given.
    let beta = format!("beta-{}", me());
    let mut child = Command::new(&prog).args(["alpha", &beta]).spawn().unwrap();
    let pid = child.id();
    assert!(wait_child(&mut child, &name).success());
    let args = format!("{} alpha {beta}", prog.display());
    let e = Command::new(&missing)
        .spawn()
        .expect_err("the program does not exist");
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
    // The name the child had before its exec: this thread's, which it
    // inherited.
    let parent = thread_comm();
    assert_ne!(parent, name);
    let recs = t.finish();
    let all = records(with_failed);
    let r = only(&recs, "the exec", |r| r["path"] == prog.to_str().unwrap());
    assert_eq!(r["probe"], "exec");
    // sys_enter_execve fires in the child before the exec: the pid is the child's.
    assert_eq!(r["pid"], pid, "{r}");
    // The name it runs as, read at the exit: the new program's, not the
    // name of the process that called execve (this thread's).
    assert_eq!(r["comm"], name.as_str(), "{r}");
    assert_eq!(r["ret"], 0, "{r}");
    // Read at the entry: this process spawned it, with these arguments.
    assert_eq!(r["ppid"], me(), "{r}");
    assert_eq!(r["args"], args.as_str(), "argv joined with spaces: {r}");
    assert!(r["time"].as_f64().is_some_and(|t| t >= 0.0), "{r}");
    assert!(
        recs.iter().all(|r| r["ret"] == 0),
        "failed execs are hidden by default: {recs:?}"
    );
    assert!(
        recs.iter().all(|r| r["path"] != missing.to_str().unwrap()),
        "the failed exec shown without failed=true: {recs:?}"
    );
    // failed=true: the failed exec (ENOENT), under the name it kept, and
    // the successful one too.
    let r = only(&all, "the failed exec", |r| {
        r["path"] == missing.to_str().unwrap()
    });
    assert_eq!(r["ret"], -libc::ENOENT, "{r}");
    assert_eq!(
        r["comm"],
        parent.as_str(),
        "a failed exec keeps its name: {r}"
    );
    assert_eq!(r["ppid"], me(), "{r}");
    assert_eq!(r["args"], missing.to_str().unwrap(), "argv is [path]: {r}");
    let r = only(&all, "the exec (failed=true)", |r| {
        r["path"] == prog.to_str().unwrap()
    });
    assert_eq!((&r["ret"], &r["pid"]), (&0.into(), &pid.into()), "{r}");
    assert_eq!(r["args"], args.as_str(), "{r}");
}

#[test]
fn exitsnoop_sees_exit_codes_signals_parents_and_ages() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let t = Capture::start("exitsnoop", &["-d", SHORT]).marker("sleep");
    let mut a = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
    let a_pid = a.id();
    assert_eq!(wait_child(&mut a, "sh -c 'exit 3'").code(), Some(3));
    let mut b = Command::new("sleep").arg("30").spawn().unwrap();
    let b_pid = b.id();
    wait_comm(b_pid, "sleep");
    assert_eq!(unsafe { kill(b_pid as i32, 9) }, 0);
    wait_child(&mut b, "sleep, killed");
    // A process that lives about 0.2 s, as timed here.
    let born = Instant::now();
    let mut c = Command::new("sleep").arg("0.2").spawn().unwrap();
    let c_pid = c.id();
    assert!(wait_child(&mut c, "sleep 0.2").success());
    let lived = born.elapsed().as_millis() as i64;
    // A thread of this process ends: not a process exit, so not reported.
    std::thread::spawn(|| ()).join().unwrap();
    let recs = t.finish();
    let ra = only(&recs, "sh's exit", |r| r["pid"] == a_pid);
    assert_eq!(ra["comm"], "sh");
    assert_eq!(ra["ppid"], me());
    assert_eq!(ra["tid"], a_pid);
    // Wait status 0x300, split: exit code 3, no signal, no core.
    assert_eq!(
        (&ra["code"], &ra["sig"], &ra["core"]),
        (&3.into(), &0.into(), &0.into()),
        "exit(3): {ra}"
    );
    let rb = only(&recs, "sleep's death", |r| r["pid"] == b_pid);
    assert_eq!(rb["comm"], "sleep");
    assert_eq!(rb["ppid"], me());
    // Wait status 9: killed by SIGKILL (printed by name), no exit code.
    assert_eq!(
        (&rb["code"], &rb["sig"], &rb["core"]),
        (&0.into(), &"SIGKILL".into(), &0.into()),
        "SIGKILL: {rb}"
    );
    let rc = only(&recs, "sleep 0.2's exit", |r| r["pid"] == c_pid);
    assert_eq!((&rc["code"], &rc["sig"]), (&0.into(), &0.into()), "{rc}");
    // Its age, from its fork to its exit, within what this thread saw
    // from before the spawn to after the reaping.
    let age = int(&rc["age_ms"]);
    assert!(
        (150..5000).contains(&age) && age <= lived,
        "age {age} ms, lived at most {lived} ms: {rc}"
    );
    assert!(
        recs.iter().all(|r| r["pid"] != me()),
        "a thread's exit must not be reported without threads=true"
    );
}

#[test]
fn funclatency_counts_each_vfs_read_of_a_named_thread() {
    const TEST: &str = "funclatency_counts_each_vfs_read_of_a_named_thread";
    const READS: i64 = 25;
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("funclat");
    let n = nonce();
    let file = dir.join(format!("tracectl_funclat_{n}"));
    std::fs::write(&file, [7u8; 512]).unwrap();
    let f = std::fs::File::open(&file).unwrap();
    // A thread of its own name (its comm, the histogram's key), in this
    // process (the pid param): only its reads count under that name.
    let name = format!("tfl{n}");
    assert!(name.len() <= 15, "{name}");
    let Some(t) = capture_kernel_function_recipe(
        TEST,
        "funclatency",
        &["-d", SHORT, "-p", &format!("pid={}", me())],
    ) else {
        return;
    };
    let t = t.aggregating().marker(&name);
    let started = Instant::now();
    let (comm, reads) = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            use std::os::unix::fs::FileExt;
            let mut buf = [0u8; 512];
            // pread64 is vfs_read, once per call.
            let reads: Vec<usize> = (0..READS)
                .map(|_| f.read_at(&mut buf, 0).unwrap())
                .collect();
            // The comm, by prctl: reading /proc would be one more vfs_read.
            let mut comm = [0u8; 16];
            assert_eq!(
                unsafe { libc::prctl(libc::PR_GET_NAME, comm.as_mut_ptr()) },
                0
            );
            let len = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
            (String::from_utf8_lossy(&comm[..len]).into_owned(), reads)
        })
        .unwrap()
        .join()
        .unwrap();
    let took_us = started.elapsed().as_micros() as i64;
    assert_eq!(comm, name, "the thread's name is its comm");
    assert!(reads.iter().all(|&r| r == 512), "{reads:?}");
    let rows = t.finish();
    assert!(rows.iter().all(|r| r["probe"] == "vfs_read"), "{rows:?}");
    // Each read once: its entry paired with its return.
    let mine = |r: &Value| r["comm"] == name.as_str();
    assert_eq!(
        hist_total(&rows, "vfs_read", "usecs", mine),
        READS,
        "{rows:?}"
    );
    // And each took at most the time the thread ran.
    for r in rows.iter().filter(|r| mine(r)) {
        for (lo, _, _) in buckets(&r["usecs"]) {
            assert!(
                lo.is_some_and(|lo| lo <= took_us),
                "{took_us} us in all: {r}"
            );
        }
    }
    elsewhere::exercised(TEST, "");
}

/// Two resolver calls that make no DNS traffic, each timed (CLOCK_MONOTONIC,
/// the clock of the recipe's timestamps) around the call: prints
/// `GETADDRINFO_RESULT FOUND GETADDRINFO_NS GETHOSTBYNAME_NS`.
const GETHOST_C: &str = r#"#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
static long long ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}
int main(int argc, char **argv) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_NUMERICHOST; /* no DNS traffic: fails at once */
    long long a = ns();
    int e = getaddrinfo(argv[1], NULL, &hints, &res);
    long long b = ns();
    struct hostent *h = gethostbyname(argv[2]); /* a dotted quad: no DNS either */
    long long c = ns();
    printf("%d %d %lld %lld\n", e, h != NULL, b - a, c - b);
    return 0;
}
"#;

#[test]
fn gethostlatency_sees_resolver_calls_and_their_latency() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("gethost");
    let bin = cc(&dir, "tgethost", GETHOST_C, &[]);
    let host = format!("tracectl-{}.invalid", nonce());
    let t = Capture::start("gethostlatency", &["-d", SHORT]).marker("tgethost");
    let out = output_within(
        Command::new(&bin).args([host.as_str(), "127.1.2.3"]),
        PROGRAM_DEADLINE,
        "tgethost",
    );
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let v: Vec<i64> = said
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    let [_, found, gai_ns, ghbn_ns] = v[..] else {
        panic!("tgethost printed {said:?}")
    };
    assert_eq!(found, 1, "gethostbyname(\"127.1.2.3\") failed");
    let recs = t.finish();
    let g = only(&recs, "getaddrinfo", |r| r["host"] == host.as_str());
    assert_eq!(g["probe"], "getaddrinfo");
    assert_eq!(g["comm"], "tgethost");
    // From the call to its return, in whole microseconds: within the time
    // the program measured around the call (which also holds the uprobe's
    // and the uretprobe's traps), and not nothing.
    let lat = int(&g["lat_us"]);
    assert!(lat > 0 && lat <= gai_ns / 1000, "{g}, measured {gai_ns} ns");
    let pid = g["pid"].clone();
    let h = only(&recs, "gethostbyname", |r| {
        r["probe"] == "gethostbyname" && r["pid"] == pid
    });
    assert_eq!(h["host"], "127.1.2.3");
    let lat = int(&h["lat_us"]);
    assert!(
        lat > 0 && lat <= ghbn_ns / 1000,
        "{h}, measured {ghbn_ns} ns"
    );
}

#[test]
fn killsnoop_sees_a_kill_with_its_signal_target_and_result() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let target = child.id();
    wait_comm(target, "sleep");
    // A process that exited and was reaped: its pid names no process.
    let mut gone = Command::new("/bin/true").spawn().unwrap();
    let dead = gone.id();
    assert!(wait_child(&mut gone, "/bin/true").success());
    let t = Capture::start(
        "killsnoop",
        &["-d", SHORT, "-p", &format!("pid={}", me()), "-p", "sig=12"],
    );
    // A signal the params filter out, then SIGUSR2, then SIGUSR2 to nobody.
    assert_eq!(unsafe { kill(target as i32, 0) }, 0);
    assert_eq!(unsafe { kill(target as i32, 12) }, 0);
    assert_eq!(unsafe { kill(dead as i32, 12) }, -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ESRCH)
    );
    wait_child(&mut child, "sleep, sent SIGUSR2");
    let comm = thread_comm();
    let recs = t.finish();
    assert!(
        recs.iter()
            .all(|r| r["pid"] == me() && r["sig"] == "SIGUSR2"),
        "the pid and sig params must drop other kills (SIG by name): {recs:?}"
    );
    let r = only(&recs, "our kill", |r| r["tpid"] == target);
    assert_eq!(r["probe"], "kill");
    assert_eq!(r["comm"], comm.as_str(), "{r}");
    assert_eq!(r["result"], 0, "{r}");
    let r = only(&recs, "the kill of a dead pid", |r| r["tpid"] == dead);
    assert_eq!(r["probe"], "kill");
    assert_eq!(r["result"], -libc::ESRCH, "{r}");
}

#[test]
fn mountsnoop_sees_a_mount_and_its_unmount() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("mount");
    let target = dir.join("mnt");
    std::fs::create_dir(&target).unwrap();
    let source = format!("tracectl-{}", nonce());
    let t = Capture::start("mountsnoop", &["-d", SHORT]).marker(source.clone());
    let tgt = cstr(target.to_str().unwrap());
    // MS_NOSUID | MS_NODEV
    let rc = unsafe {
        mount(
            cstr(&source).as_ptr(),
            tgt.as_ptr(),
            cstr("tmpfs").as_ptr(),
            6,
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "mount tmpfs: {}", std::io::Error::last_os_error());
    // MNT_DETACH
    let rc = unsafe { umount2(tgt.as_ptr(), 2) };
    assert_eq!(rc, 0, "umount2: {}", std::io::Error::last_os_error());
    let recs = t.finish();
    // This process's mount namespace, as /proc/self/ns/mnt names it.
    let mnt_ns = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self/ns/mnt").unwrap().ino()
    };
    let m = only(&recs, "the mount", |r| r["source"] == source.as_str());
    assert_eq!(m["probe"], "mount");
    assert_eq!(m["mnt_ns"], mnt_ns, "{m}");
    assert_eq!(m["target"], target.to_str().unwrap());
    assert_eq!(m["fstype"], "tmpfs");
    assert_eq!(m["flags"], "0x6");
    assert_eq!(m["pid"], me());
    let u = only(&recs, "the unmount", |r| {
        r["probe"] == "umount" && r["target"] == target.to_str().unwrap()
    });
    assert_eq!(u["flags"], "0x2");
    assert_eq!(u["pid"], me());
    assert_eq!(u["mnt_ns"], mnt_ns, "{u}");
}

#[test]
fn naptime_sees_the_requested_sleep() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let t = Capture::start("naptime", &["-d", SHORT, "-p", &format!("pid={}", me())]);
    std::thread::sleep(Duration::new(0, 12_345_678));
    let recs = t.finish();
    assert!(recs.iter().all(|r| r["pid"] == me()), "pid param: {recs:?}");
    let r = only(&recs, "our sleep", |r| r["nsec"] == 12_345_678);
    assert_eq!(r["sec"], 0);
    // Its parent: this test's parent process.
    let ppid = std::os::unix::process::parent_id();
    assert_eq!(r["ppid"], ppid, "{r}");
    let pcomm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).unwrap();
    assert_eq!(r["pcomm"], pcomm.trim_end(), "{r}");
    // glibc's nanosleep() is the clock_nanosleep syscall.
    assert!(
        r["probe"] == "clock_nanosleep" || r["probe"] == "nanosleep",
        "{r}"
    );
}

const OOM_C: &str = r#"#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* argv[1]: a memory cgroup's cgroup.procs; argv[2]: an oom_score_adj. */
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "w");
    if (!f || fprintf(f, "0\n") < 0 || fclose(f)) { perror(argv[1]); return 2; }
    f = fopen("/proc/self/oom_score_adj", "w");
    if (!f || fprintf(f, "%s\n", argv[2]) < 0 || fclose(f)) { perror("oom_score_adj"); return 2; }
    for (;;) {
        char *p = malloc(1 << 20);
        if (!p) return 3;
        memset(p, 1, 1 << 20);
    }
}
"#;

/// A memory cgroup with a limit, removed on drop.
struct MemCgroup {
    dir: PathBuf,
}

impl MemCgroup {
    fn new(name: &str, limit: u64) -> MemCgroup {
        let v2 = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .is_ok_and(|c| c.split_whitespace().any(|w| w == "memory"));
        let write = |p: PathBuf, v: &str| {
            std::fs::write(&p, v).unwrap_or_else(|e| panic!("write {v} to {}: {e}", p.display()))
        };
        if v2 {
            let _ = std::fs::write("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
            let dir = Path::new("/sys/fs/cgroup").join(name);
            std::fs::create_dir(&dir).unwrap();
            write(dir.join("memory.max"), &limit.to_string());
            // No swap to escape to, where swap is accounted.
            let _ = std::fs::write(dir.join("memory.swap.max"), "0");
            MemCgroup { dir }
        } else if Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() {
            let dir = Path::new("/sys/fs/cgroup/memory").join(name);
            std::fs::create_dir(&dir).unwrap();
            write(dir.join("memory.limit_in_bytes"), &limit.to_string());
            let _ = std::fs::write(dir.join("memory.memsw.limit_in_bytes"), limit.to_string());
            MemCgroup { dir }
        } else {
            panic!(
                "the oomkill test needs a memory cgroup to cause a contained OOM kill: \
                 neither cgroup v2 with the memory controller (/sys/fs/cgroup) nor \
                 cgroup v1 (/sys/fs/cgroup/memory) is available"
            );
        }
    }
}

impl Drop for MemCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn oomkill_sees_a_contained_oom_kill() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("oom");
    let bin = cc(&dir, "toomkill", OOM_C, &[]);
    let limit: u64 = 32 << 20;
    let cg = MemCgroup::new(&format!("tracectl-oom-{}", nonce()), limit);
    let t = Capture::start("oomkill", &["-d", "4s"]).marker("toomkill");
    let mut child = Command::new(&bin)
        .arg(cg.dir.join("cgroup.procs"))
        .arg("321")
        .spawn()
        .unwrap();
    let pid = child.id();
    let status = wait_child(&mut child, "toomkill to be OOM-killed in its cgroup");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "the OOM killer ends it: {status}");
    let recs = t.finish();
    drop(cg);
    let r = only(&recs, "the OOM kill", |r| r["vpid"] == pid);
    assert_eq!(r["probe"], "oom_kill");
    assert_eq!(r["vcomm"], "toomkill");
    // In a memory cgroup, the allocating task is the victim itself.
    assert_eq!(r["pid"], pid);
    assert_eq!(r["comm"], "toomkill");
    assert_eq!(r["oom_score_adj"], 321);
    let anon = r["anon_rss_kb"].as_u64().unwrap();
    let limit_kb = limit >> 10;
    assert!(
        anon >= limit_kb / 4 && anon <= limit_kb,
        "anon RSS {anon} KiB should be most of the {limit_kb} KiB limit: {r}"
    );
    assert!(r["total_vm_kb"].as_u64().unwrap() >= anon, "{r}");
}

#[test]
fn opensnoop_sees_each_open_with_its_descriptor_or_error() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("open");
    let n = nonce();
    let file = dir.join(format!("tracectl_open_{n}.txt"));
    let missing = dir.join(format!("tracectl_missing_{n}.txt"));
    std::fs::write(&file, b"x").unwrap();
    let pid = format!("pid={}", me());
    let t = Capture::start("opensnoop", &["-d", SHORT, "-p", &pid]).marker(&n);
    // The same opens, failed ones only (bcc's -x).
    let failed_only = json_tracer("opensnoop", &["-d", SHORT, "-p", &pid, "-p", "failed=true"]);
    let f = std::fs::File::open(&file).unwrap();
    let fd = f.as_raw_fd();
    drop(f);
    let e = std::fs::File::open(&missing).expect_err("the file does not exist");
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
    let comm = thread_comm();
    let recs = t.finish();
    let failed = records(failed_only);
    assert!(recs.iter().all(|r| r["pid"] == me()), "pid param: {recs:?}");
    let r = only(&recs, "the open", |r| r["path"] == file.to_str().unwrap());
    assert_eq!(r["probe"], "open");
    assert_eq!(r["comm"], comm.as_str(), "{r}");
    // The descriptor open(2) returned, read at the exit.
    assert_eq!(r["fd"], fd, "{r}");
    assert_eq!(r["err"], 0, "{r}");
    // O_RDONLY | O_CLOEXEC, as std opens for reading.
    assert_eq!(r["flags"], "0x80000", "{r}");
    let r = only(&recs, "the failed open", |r| {
        r["path"] == missing.to_str().unwrap()
    });
    // The error by name.
    assert_eq!(
        (&r["fd"], &r["err"]),
        (&(-1).into(), &"ENOENT".into()),
        "ENOENT: {r}"
    );
    assert_eq!(r["flags"], "0x80000", "{r}");
    // failed=true: the failed open alone, not the one that succeeded.
    assert!(
        failed
            .iter()
            .all(|r| r["pid"] == me() && r["fd"] == -1 && r["err"].is_string()),
        "failed=true shows failed opens only: {failed:?}"
    );
    let r = only(&failed, "the failed open (failed=true)", |r| {
        r["path"] == missing.to_str().unwrap()
    });
    assert_eq!(r["err"], "ENOENT", "{r}");
    assert!(
        failed.iter().all(|r| r["path"] != file.to_str().unwrap()),
        "failed=true showed the successful open: {failed:?}"
    );
}

#[test]
fn pidpersec_counts_the_forks_of_a_process() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let w = Workload::start("tpps", &["k:6"]);
    let pid = w.pid().to_string();
    let t = Capture::start_aggregate("pidpersec", &["-d", SHORT, "--pid", &pid], &["-d", SHORT]);
    w.go();
    let rows = t.finish();
    assert_eq!(total(&rows, "forks", "forks", |_| true), 6, "{rows:?}");
}

#[test]
fn readsize_draws_the_exact_read_sizes_of_a_program() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let sizes = [3, 100, 100, 5000, 70000];
    let actions: Vec<String> = sizes.iter().map(|n| format!("r:{n}")).collect();
    let actions: Vec<&str> = actions.iter().map(String::as_str).collect();
    let w = Workload::start("trd", &actions);
    let name = w.name.clone();
    let t = Capture::start_aggregate("readsize", &["-d", SHORT], &["-d", SHORT]).marker(&name);
    w.go();
    let rows = t.finish();
    let r = only_row(&rows, "reads", "comm", &name);
    // And the one byte of stdin that let it go: that read returned after
    // the recipe attached.
    let mut want = vec![1];
    want.extend(sizes);
    assert_eq!(buckets(&r["bytes"]), log2_hist(&want), "{r}");
}

/// runqlat's subject: blocks reading one byte of stdin (until the recipe
/// runs), then ARGV[1] times sleeps 3 ms (usleep: clock_nanosleep) and runs
/// 5 ms on its CPU. Prints when the read returned and the largest
/// overshoot of a sleep (CLOCK_MONOTONIC, ns), and how many times it
/// switched out to sleep from before its read to after its last sleep
/// (voluntary context switches): `WOKE WORST SWITCHES`.
const RUNQ_C: &str = r#"#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
static long long ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}
int main(int argc, char **argv) {
    int n = atoi(argv[1]);
    char go;
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    if (read(0, &go, 1) != 1) return 2;
    long long woke = ns(), worst = 0;
    for (int i = 0; i < n; i++) {
        long long t0 = ns();
        usleep(3000);
        long long t1 = ns();
        if (t1 - t0 - 3000000 > worst) worst = t1 - t0 - 3000000;
        while (ns() - t1 < 5000000)
            ;
    }
    getrusage(RUSAGE_SELF, &r1);
    printf("%lld %lld %ld\n", woke, worst, r1.ru_nvcsw - r0.ru_nvcsw);
    return 0;
}
"#;

/// CLOCK_MONOTONIC in ns (the clock of the recipes' timestamps).
fn monotonic_ns() -> i64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) },
        0
    );
    t.tv_sec * 1_000_000_000 + t.tv_nsec
}

#[test]
fn runqlat_counts_each_wakeup_of_a_sleeping_process() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    const SLEEPS: i64 = 8;
    let dir = scratch("runqlat");
    let bin = cc(&dir, "trunq", RUNQ_C, &[]);
    let mut child = Command::new(&bin)
        .arg(SLEEPS.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_in_syscall(pid, libc::SYS_read, "trunq");
    let t = Capture::start_aggregate(
        "runqlat",
        &["-d", SHORT, "-p", &format!("pid={pid}")],
        &["-d", SHORT],
    );
    // The byte wakes it once, and each sleep once more.
    let mut stdin = child.stdin.take().unwrap();
    let written = monotonic_ns();
    stdin.write_all(b"g").unwrap();
    drop(stdin);
    let out = collect_output(child, PROGRAM_DEADLINE, "trunq");
    assert!(out.status.success(), "trunq failed: {}", out.status);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let v: Vec<i64> = said
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    let [woke, worst, switches] = v[..] else {
        panic!("trunq printed {said:?}")
    };
    let (rows, err) = t.finish_with_stderr();
    let p = pairing_counts(&err, "runq");
    let count = |k: &str| int(&p[k]);
    // Every wakeup of the task (sched_wakeup of the pid param's task, the
    // start) is counted once: matched by the next switch to it, replaced
    // by a later wakeup before any switch, still stashed, or evicted. It
    // had exactly these wakeups: its read's, and one per sleep.
    let starts = count("matched") + count("replaced") + count("stash_entries") + count("evicted");
    // (At least those. Run right after the oomkill, naptime and sigsnoop
    // tests it once counted more, the excess not recorded; an extra wakeup
    // the program did not ask for is tolerated, up to 2.)
    assert!((SLEEPS + 1..=SLEEPS + 3).contains(&starts), "{p}");
    // Each time it switched out to sleep, its wakeup was followed by a
    // switch to it: matched. A wakeup can have no switch when it comes
    // while the task is still on its CPU (stalled for the whole 3 ms
    // between arming its timer and switching out, e.g. a vCPU preempted by
    // its host): then the next wakeup replaces it, or it stays stashed.
    // (A task preempted before it switched out to sleep, then woken on the
    // run queue, is a matched wakeup without a voluntary switch: hence
    // at least.) Switches that follow no wakeup (preempted while it runs,
    // then run again) are ends without a start.
    assert!(
        count("matched") >= switches && switches >= 1,
        "{switches} voluntary switches: {p}"
    );
    // The histogram holds exactly the matched waits (all before the last
    // print: the task exited long before tracectl did).
    let n = hist_total(&rows, "runq", "usecs", |_| true);
    assert_eq!(n, count("matched"), "{rows:?}\n{err}");
    // Each wait is at most what the task saw: the time from our write to
    // its read's return, or a sleep's overshoot (the timer wakes it 3 ms
    // after it went to sleep, at the earliest). Not the 5 ms it then runs
    // before it sleeps again: that is no wait.
    let bound = worst.max(woke - written);
    for r in &rows {
        for (lo, _, _) in buckets(&r["usecs"]) {
            assert!(
                lo.is_some_and(|lo| lo * 1000 <= bound),
                "a wait longer than the task saw ({bound} ns): {r}"
            );
        }
    }
}

#[test]
fn schedcount_counts_the_scheduler_events_of_a_process() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    // 3 forks, a sleep, a fork whose child it wakes, then an exec.
    let w = Workload::start("tsch", &["k:3", "z:2", "W", "e:/bin/true"]);
    let pid = w.pid().to_string();
    let t = Capture::start_aggregate("schedcount", &["-d", SHORT, "--pid", &pid], &["-d", SHORT]);
    w.go();
    let rows = t.finish();
    let n = |probe: &str| total(&rows, probe, "count", |_| true);
    // In the parent: one trace of each fork, and one of the new task's first wakeup.
    assert_eq!(n("sched_process_fork"), 4, "{rows:?}");
    assert_eq!(n("sched_wakeup_new"), 4, "{rows:?}");
    assert_eq!(n("sched_process_exec"), 1, "{rows:?}");
    // /bin/true's exit; the children's exits are their own processes'.
    assert_eq!(n("sched_process_exit"), 1, "{rows:?}");
    // It was switched out to sleep, and woke its child from its own context
    // (sched_waking; sched_wakeup may run on the woken task's CPU instead,
    // in whatever task runs there).
    assert!(n("sched_switch") >= 1, "{rows:?}");
    assert!(n("sched_waking") >= 1, "{rows:?}");
}

#[test]
fn setuids_sees_each_kind_of_uid_change_and_its_result() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let t = Capture::start("setuids", &["-d", SHORT]).marker("40001");
    // setuid(2), by std between fork and exec.
    let mut child = Command::new("/bin/true").uid(40001).spawn().unwrap();
    let a = child.id();
    assert!(wait_child(&mut child, "/bin/true as uid 40001").success());
    // A closure's unexpected result fails the spawn with EPROTO (no
    // allocation between fork and exec).
    fn unexpected() -> std::io::Result<()> {
        Err(std::io::Error::from_raw_os_error(libc::EPROTO))
    }
    let spawn = |f: fn() -> std::io::Result<()>| {
        let mut c = Command::new("/bin/true");
        // SAFETY: the closures only make async-signal-safe syscalls.
        unsafe { c.pre_exec(f) };
        let mut child = c.spawn().unwrap();
        let pid = child.id();
        assert!(wait_child(&mut child, "/bin/true after a uid change").success());
        pid
    };
    let b = spawn(|| {
        if unsafe { setresuid(40002, 40003, 40004) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    });
    let c = spawn(|| {
        if unsafe { setreuid(40005, 40006) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    });
    // setfsuid returns the previous fsuid: 0, then 40007.
    let d = spawn(|| {
        let first = unsafe { setfsuid(40007) };
        let second = unsafe { setfsuid(40008) };
        if (first, second) != (0, 40007) {
            return unexpected();
        }
        Ok(())
    });
    // Privileges dropped, then a setuid back to root: EPERM.
    let e = spawn(|| {
        if unsafe { setresuid(40010, 40010, 40010) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if unsafe { libc::setuid(0) } != -1
            || std::io::Error::last_os_error().raw_os_error() != Some(libc::EPERM)
        {
            return unexpected();
        }
        Ok(())
    });
    // An invalid uid, even for root: EINVAL.
    let f = spawn(|| {
        if unsafe { libc::setuid(u32::MAX) } != -1
            || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL)
        {
            return unexpected();
        }
        Ok(())
    });
    let recs = t.finish();
    let r = only(&recs, "setuid", |r| r["new_uid"] == 40001);
    assert_eq!(r["probe"], "setuid");
    assert_eq!(r["pid"], a, "{r}");
    assert_eq!(r["uid"], 0, "the caller was root: {r}");
    assert_eq!(r["ret"], 0, "{r}");
    let r = only(&recs, "setresuid", |r| r["pid"] == b);
    assert_eq!(r["probe"], "setresuid");
    assert_eq!(
        (&r["ruid"], &r["euid"], &r["suid"]),
        (&40002.into(), &40003.into(), &40004.into())
    );
    assert_eq!(r["ret"], 0, "{r}");
    let r = only(&recs, "setreuid", |r| r["pid"] == c);
    assert_eq!(r["probe"], "setreuid");
    assert_eq!((&r["ruid"], &r["euid"]), (&40005.into(), &40006.into()));
    assert_eq!(r["ret"], 0, "{r}");
    let r = only(&recs, "the first setfsuid", |r| {
        r["pid"] == d && r["fsuid"] == 40007
    });
    assert_eq!(r["probe"], "setfsuid");
    assert_eq!(r["ret"], 0, "the previous fsuid, root's: {r}");
    let r = only(&recs, "the second setfsuid", |r| {
        r["pid"] == d && r["fsuid"] == 40008
    });
    assert_eq!(r["ret"], 40007, "the previous fsuid: {r}");
    let r = only(&recs, "the dropping setresuid", |r| {
        r["pid"] == e && r["probe"] == "setresuid"
    });
    assert_eq!(r["ret"], 0, "{r}");
    let r = only(&recs, "the refused setuid", |r| {
        r["pid"] == e && r["probe"] == "setuid"
    });
    assert_eq!(
        (&r["uid"], &r["new_uid"]),
        (&40010.into(), &0.into()),
        "{r}"
    );
    // The exit tracepoint's ret is the system call's result, -errno.
    assert_eq!(r["ret"], -libc::EPERM, "{r}");
    let r = only(&recs, "the invalid setuid", |r| {
        r["pid"] == f && r["probe"] == "setuid"
    });
    assert_eq!(r["new_uid"], u32::MAX, "{r}");
    assert_eq!(r["ret"], -libc::EINVAL, "{r}");
}

#[test]
fn sigsnoop_sees_a_signal_and_its_result() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let target = child.id();
    wait_comm(target, "sleep");
    let t = Capture::start(
        "sigsnoop",
        &["-d", SHORT, "-p", &format!("pid={}", me()), "-p", "sig=10"],
    );
    assert_eq!(unsafe { kill(target as i32, 10) }, 0);
    wait_child(&mut child, "sleep, sent SIGUSR1");
    let recs = t.finish();
    assert!(
        recs.iter()
            .all(|r| r["pid"] == me() && r["sig"] == "SIGUSR1"),
        "pid and sig params (sig=10 is SIGUSR1, printed by name): {recs:?}"
    );
    let r = only(&recs, "SIGUSR1 to sleep", |r| r["tpid"] == target);
    assert_eq!(r["tcomm"], "sleep");
    assert_eq!(r["sig"], "SIGUSR1", "{r}");
    assert_eq!(r["result"], 0, "TRACE_SIGNAL_DELIVERED: {r}");
}

#[test]
fn solisten_sees_a_listening_socket() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let port = free_port();
    let t = Capture::start("solisten", &["-d", SHORT, "-p", &format!("port={port}")]);
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let recs = t.finish();
    drop(l);
    let r = only(&recs, "our listen", |_| true);
    assert_eq!(r["pid"], me());
    assert_eq!(r["lport"], port);
    assert_eq!(r["laddr"], "127.0.0.1");
    assert_eq!(r["family"], 2);
}

const SSL_C: &str = r#"#include <stdio.h>
#include <string.h>
/* Without OpenSSL's headers: the few declarations used. */
typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_method_st SSL_METHOD;
const SSL_METHOD *TLS_client_method(void);
SSL_CTX *SSL_CTX_new(const SSL_METHOD *);
SSL *SSL_new(SSL_CTX *);
void SSL_set_connect_state(SSL *);
int SSL_write(SSL *, const void *, int);
int SSL_write_ex(SSL *, const void *, size_t, size_t *);
int main(int argc, char **argv) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *s = SSL_new(ctx);
    SSL_set_connect_state(s);
    /* No connection: both fail, after the probes saw the plaintext. */
    size_t w = 0;
    int a = SSL_write(s, argv[1], (int)strlen(argv[1]));
    int b = SSL_write_ex(s, argv[2], strlen(argv[2]), &w);
    printf("%d %d\n", a, b);
    return 0;
}
"#;

#[test]
fn sslsniff_sees_plaintext_written_to_tls() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("ssl");
    // Linked against the runtime library by its file name: no libssl-dev needed.
    let bin = cc(&dir, "tsslwrite", SSL_C, &["-l:libssl.so.3"]);
    let n = nonce();
    let msg = format!("GET /tracectl-{n} HTTP/1.1");
    let msg_ex = format!("ex-{n}");
    let t = Capture::start("sslsniff", &["-d", SHORT]).marker("tsslwrite");
    let out = output_within(
        Command::new(&bin).args([msg.as_str(), msg_ex.as_str()]),
        PROGRAM_DEADLINE,
        "tsslwrite",
    );
    assert!(out.status.success());
    let recs = t.finish();
    let w = only(&recs, "SSL_write", |r| r["data"] == msg.as_str());
    assert_eq!(w["probe"], "SSL_write");
    assert_eq!(w["len"], msg.len());
    assert_eq!(w["comm"], "tsslwrite");
    let x = only(&recs, "SSL_write_ex", |r| r["data"] == msg_ex.as_str());
    assert_eq!(x["probe"], "SSL_write_ex");
    assert_eq!(x["len"], msg_ex.len());
    assert_eq!(x["pid"], w["pid"]);
}

#[test]
fn statsnoop_sees_a_stat_and_a_failed_one_with_their_results() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("stat");
    let n = nonce();
    let file = dir.join(format!("tracectl_stat_{n}"));
    let missing = dir.join(format!("tracectl_nostat_{n}"));
    std::fs::write(&file, b"x").unwrap();
    let t = Capture::start("statsnoop", &["-d", SHORT, "-p", &format!("pid={}", me())]).marker(&n);
    let md = std::fs::metadata(&file).unwrap();
    assert_eq!(md.len(), 1);
    let e = std::fs::metadata(&missing).expect_err("the path does not exist");
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
    let recs = t.finish();
    assert!(recs.iter().all(|r| r["pid"] == me()), "pid param: {recs:?}");
    let r = only(&recs, "the stat", |r| r["path"] == file.to_str().unwrap());
    // std uses statx where the kernel has it.
    assert_eq!(r["probe"], "statx", "{r}");
    assert_eq!((&r["ret"], &r["err"]), (&0.into(), &0.into()), "{r}");
    let r = only(&recs, "the failed stat", |r| {
        r["path"] == missing.to_str().unwrap()
    });
    assert_eq!(r["probe"], "statx", "{r}");
    assert_eq!(
        (&r["ret"], &r["err"]),
        (&(-1).into(), &2.into()),
        "ENOENT: {r}"
    );
}

#[test]
fn syncsnoop_sees_every_flush_call() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("sync");
    let f = std::fs::File::create(dir.join("data")).unwrap();
    let fd = f.as_raw_fd();
    let t = Capture::start("syncsnoop", &["-d", SHORT, "-p", &format!("pid={}", me())]);
    f.sync_all().unwrap(); // fsync
    f.sync_data().unwrap(); // fdatasync
    assert_eq!(unsafe { syncfs(fd) }, 0);
    assert_eq!(unsafe { sync_file_range(fd, 0, 0, 2) }, 0);
    unsafe { sync() };
    let recs = t.finish();
    assert!(recs.iter().all(|r| r["pid"] == me()), "pid param: {recs:?}");
    for p in ["fsync", "fdatasync", "syncfs", "sync_file_range"] {
        let r = of_probe(&recs, p);
        assert!(
            r.iter().any(|r| r["fd"] == fd),
            "no {p} of fd {fd}: {recs:?}"
        );
    }
    assert!(!of_probe(&recs, "sync").is_empty(), "no sync: {recs:?}");
}

#[test]
fn syscount_counts_every_syscall_of_a_process() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let w = Workload::start("tsys", &["s:37"]);
    let (pid, name) = (w.pid(), w.name.clone());
    let p = pid.to_string();
    let t = Capture::start_aggregate("syscount", &["-d", SHORT, "--pid", &p], &["-d", SHORT]);
    w.go();
    let rows = t.finish();
    assert!(
        rows.iter()
            .all(|r| r["probe"] == "syscalls" && r["pid"] == pid && r["comm"] == name.as_str()),
        "{rows:?}"
    );
    // 37 getppid and the exit_group: its read of stdin began before the
    // recipe attached.
    assert_eq!(total(&rows, "syscalls", "calls", |_| true), 38, "{rows:?}");
}

#[test]
fn syscount_id_counts_a_process_syscalls_by_number() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let w = Workload::start("tsid", &["s:37"]);
    let pid = w.pid().to_string();
    let t = Capture::start_aggregate("syscount-id", &["-d", SHORT, "--pid", &pid], &["-d", SHORT]);
    w.go();
    let rows = t.finish();
    let ids: BTreeSet<i64> = rows.iter().map(|r| int(&r["id"])).collect();
    assert_eq!(
        ids,
        BTreeSet::from([libc::SYS_getppid, libc::SYS_exit_group]),
        "{rows:?}"
    );
    let n = |id: i64| total(&rows, "syscalls", "calls", |r| r["id"] == id);
    assert_eq!(n(libc::SYS_getppid), 37, "{rows:?}");
    assert_eq!(n(libc::SYS_exit_group), 1, "{rows:?}");
}

#[test]
fn tcpaccept_sees_the_accepting_process() {
    const TEST: &str = "tcpaccept_sees_the_accepting_process";
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let Some(t) = capture_kernel_function_recipe(
        TEST,
        "tcpaccept",
        &["-d", SHORT, "-p", &format!("port={port}")],
    ) else {
        return;
    };
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let cport = c.local_addr().unwrap().port();
    let (_s, _) = l.accept().unwrap();
    let comm = thread_comm();
    let recs = t.finish();
    let r = only(&recs, "our accept", |_| true);
    assert_eq!(r["pid"], me(), "{r}");
    assert_eq!(r["comm"], comm.as_str(), "{r}");
    assert_eq!(r["lport"], port, "{r}");
    assert_eq!(r["rport"], cport, "{r}");
    assert_eq!(r["raddr"], "127.0.0.1", "{r}");
    assert_eq!(r["laddr"], "127.0.0.1", "{r}");
    assert_eq!(r["family"], 2, "{r}");
    elsewhere::exercised(TEST, "");
}

#[test]
fn tcpaccept_tp_sees_an_inbound_connection() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = Capture::start(
        "tcpaccept-tp",
        &["-d", SHORT, "-p", &format!("port={port}")],
    );
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let cport = c.local_addr().unwrap().port();
    let (_s, _) = l.accept().unwrap();
    let recs = t.finish();
    let r = only(&recs, "our connection", |_| true);
    assert_eq!(r["lport"], port);
    assert_eq!(r["rport"], cport);
    assert_eq!(r["raddr"], "127.0.0.1");
    assert_eq!(r["laddr"], "127.0.0.1");
    assert_eq!(r["family"], 2);
}

#[test]
fn tcpconnect_sees_a_loopback_connect() {
    const TEST: &str = "tcpconnect_sees_a_loopback_connect";
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let Some(t) = capture_kernel_function_recipe(
        TEST,
        "tcpconnect",
        &["-d", SHORT, "-p", &format!("port={port}")],
    ) else {
        return;
    };
    let _c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let comm = thread_comm();
    let recs = t.finish();
    let r = only(&recs, "our connect", |_| true);
    assert_eq!(r["pid"], me(), "{r}");
    assert_eq!(r["comm"], comm.as_str(), "{r}");
    assert_eq!(r["daddr"], "127.0.0.1", "{r}");
    assert_eq!(r["dport"], port, "{r}");
    elsewhere::exercised(TEST, "");
}

#[test]
fn tcpconnect_count_counts_connects_per_destination() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let l4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let p4 = l4.local_addr().unwrap().port();
    let l6 = TcpListener::bind("[::1]:0").expect("the IPv6 loopback address ::1");
    let p6 = l6.local_addr().unwrap().port();
    let t = Capture::start_aggregate("tcpconnect-count", &["-d", SHORT], &["-d", SHORT])
        .marker(p4.to_string());
    for _ in 0..3 {
        TcpStream::connect(("127.0.0.1", p4)).unwrap();
    }
    for _ in 0..2 {
        TcpStream::connect(("::1", p6)).unwrap();
    }
    let rows = t.finish();
    let r = only(&rows, "IPv4 connects to our port", |r| {
        r["probe"] == "ipv4" && r["dport"] == p4
    });
    assert_eq!(
        (&r["saddr"], &r["daddr"], int(&r["connects"])),
        (&"127.0.0.1".into(), &"127.0.0.1".into(), 3),
        "{r}"
    );
    let r = only(&rows, "IPv6 connects to our port", |r| {
        r["probe"] == "ipv6" && r["dport"] == p6
    });
    assert_eq!(
        (&r["saddr"], &r["daddr"], int(&r["connects"])),
        (&"::1".into(), &"::1".into(), 2),
        "{r}"
    );
}

#[test]
fn tcpconnect_tp_sees_a_loopback_connect() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = Capture::start(
        "tcpconnect-tp",
        &["-d", SHORT, "-p", &format!("port={port}")],
    );
    let _c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let recs = t.finish();
    let r = only(&recs, "our connect", |_| true);
    assert_eq!(r["pid"], me());
    assert_eq!(r["daddr"], "127.0.0.1");
    assert_eq!(r["dport"], port);
    assert_eq!(r["family"], 2);
}

#[test]
fn tcplife_sees_both_ends_of_a_connection_and_its_lifetime() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    const HELD_MS: u64 = 50;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = Capture::start("tcplife", &["-d", SHORT]).marker(port.to_string());
    // The same connections, by the params: the active side has our port as
    // its remote port from its first state change, the passive side as its
    // local port.
    let by_rport = json_tracer("tcplife", &["-d", SHORT, "-p", &format!("rport={port}")]);
    let by_lport = json_tracer("tcplife", &["-d", SHORT, "-p", &format!("lport={port}")]);
    let started = Instant::now();
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let cport = c.local_addr().unwrap().port();
    let (mut s, _) = l.accept().unwrap();
    let connected = Instant::now();
    let mut b = [0u8; 1];
    c.write_all(b"q").unwrap();
    std::io::Read::read_exact(&mut s, &mut b).unwrap();
    s.write_all(b"r").unwrap();
    std::io::Read::read_exact(&mut c, &mut b).unwrap();
    assert_eq!(&b, b"r");
    std::thread::sleep(Duration::from_millis(HELD_MS));
    let held_ms = connected.elapsed().as_millis() as i64;
    // The active side closes first (FIN_WAIT1 … TIME_WAIT: the socket goes
    // to CLOSE), then the passive side (LAST_ACK, then CLOSE).
    drop(c);
    drop(s);
    let comm = thread_comm();
    let recs = t.finish();
    let rport_recs = records(by_rport);
    let lport_recs = records(by_lport);
    let total_ms = started.elapsed().as_millis() as i64;
    let active = only(&recs, "the active side", |r| r["rport"] == port);
    assert_eq!(active["probe"], "conn");
    // Its first change (SYN_SENT) is in connect(), in this thread.
    assert_eq!(active["pid"], me(), "{active}");
    assert_eq!(active["comm"], comm.as_str(), "{active}");
    assert_eq!(active["lport"], cport, "{active}");
    let passive = only(&recs, "the passive side", |r| r["lport"] == port);
    assert_eq!(passive["probe"], "conn");
    assert_eq!(passive["rport"], cport, "{passive}");
    for r in [active, passive] {
        assert_eq!(r["laddr"], "127.0.0.1", "{r}");
        assert_eq!(r["raddr"], "127.0.0.1", "{r}");
        assert_eq!(r["family"], 2, "{r}");
        // From the first state change (before connect() returned) to CLOSE
        // (after our close()s): at least the time we held the connection,
        // at most the whole test.
        let ms = int(&r["ms"]);
        assert!(
            ms >= held_ms && ms <= total_ms,
            "held {held_ms} ms, {total_ms} ms in all: {r}"
        );
    }
    let r = only(&rport_recs, "rport param", |_| true);
    assert_eq!(
        (&r["lport"], &r["rport"]),
        (&cport.into(), &port.into()),
        "{r}"
    );
    let r = only(&lport_recs, "lport param", |_| true);
    assert_eq!(
        (&r["lport"], &r["rport"]),
        (&port.into(), &cport.into()),
        "{r}"
    );
}

#[test]
fn tcpretrans_sees_a_dropped_syn_retransmitted() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    // A listener with a full accept queue drops SYNs: the client's SYN is
    // retransmitted after the initial RTO (1 s).
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    assert_eq!(unsafe { listen(l.as_raw_fd(), 0) }, 0);
    let t = Capture::start(
        "tcpretrans",
        &["-n", "1", "-d", "6s", "-p", &format!("port={port}")],
    );
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let clients: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(move || TcpStream::connect_timeout(&addr, Duration::from_secs(3)))
        })
        .collect();
    let recs = t.finish();
    for c in clients {
        let _ = c.join();
    }
    drop(l);
    let r = only(&recs, "a retransmit", |_| true);
    assert_eq!(r["rport"], port);
    assert_eq!(r["raddr"], "127.0.0.1");
    assert_eq!(r["laddr"], "127.0.0.1");
    assert_eq!(r["state"], 2, "a SYN is retransmitted in SYN_SENT: {r}");
    let lport = r["lport"].as_u64().unwrap();
    assert!(lport > 0 && lport != port as u64, "{r}");
}

#[test]
fn tcpstates_sees_a_connection_open_and_close() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = Capture::start("tcpstates", &["-d", SHORT, "-p", &format!("rport={port}")]);
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let cport = c.local_addr().unwrap().port();
    let (s, _) = l.accept().unwrap();
    drop(c);
    drop(s);
    let recs = t.finish();
    assert!(
        recs.iter().all(|r| r["rport"] == port),
        "rport param: {recs:?}"
    );
    // States print by name. CLOSE -> SYN_SENT in connect(), before the
    // local port is reported.
    let open = only(&recs, "CLOSE -> SYN_SENT", |r| {
        r["oldstate"] == "CLOSE" && r["newstate"] == "SYN_SENT"
    });
    assert_eq!(open["pid"], me());
    assert_eq!(open["raddr"], "127.0.0.1");
    let est = only(&recs, "SYN_SENT -> ESTABLISHED", |r| {
        r["oldstate"] == "SYN_SENT" && r["newstate"] == "ESTABLISHED"
    });
    assert_eq!(est["skaddr"], open["skaddr"], "the same socket");
    assert_eq!(est["lport"], cport);
    // Our close: ESTABLISHED -> FIN_WAIT1, in close().
    let fin = only(&recs, "ESTABLISHED -> FIN_WAIT1", |r| {
        r["oldstate"] == "ESTABLISHED" && r["newstate"] == "FIN_WAIT1"
    });
    assert_eq!(fin["skaddr"], open["skaddr"]);
    assert_eq!(fin["pid"], me());
    assert!(
        recs.iter()
            .all(|r| r["oldstate"].is_string() && r["newstate"].is_string()),
        "every state has a name: {recs:?}"
    );
}

const THREAD_C: &str = r#"#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static void *tracectl_worker(void *arg) { return arg; }
int main(void) {
    pthread_t t;
    char c;
    printf("%p\n", (void *)tracectl_worker);
    fflush(stdout);
    if (pthread_create(&t, NULL, tracectl_worker, NULL)) return 1;
    if (pthread_join(t, NULL)) return 1;
    /* Alive until stdin closes: usym() resolves in this process. */
    return read(0, &c, 1) < 0;
}
"#;

#[test]
fn threadsnoop_sees_pthread_create_and_its_start_routine() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("thread");
    let bin = cc(&dir, "tthreads", THREAD_C, &["-pthread"]);
    let t = Capture::start("threadsnoop", &["-d", SHORT]).marker("tthreads");
    let mut child = Command::new(&bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // The program prints its routine's address, creates the thread and
    // waits for stdin to close: it lives while tracectl prints the event.
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(
        u64::from_str_radix(line.trim().trim_start_matches("0x"), 16).is_ok(),
        "not an address: {line}"
    );
    let recs = t.finish();
    drop(child.stdin.take());
    let done = collect_output(child, PROGRAM_DEADLINE, "tthreads");
    assert!(done.status.success());
    let r = only(&recs, "our pthread_create", |r| r["pid"] == pid);
    assert_eq!(r["comm"], "tthreads");
    assert_eq!(r["tid"], pid, "the main thread creates it");
    // The start routine by its symbol (a static function of the program).
    assert_eq!(r["func"], "tracectl_worker", "{r}");
}

#[test]
fn vfsstat_counts_each_kind_of_call_of_a_process() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let w = Workload::start(
        "tvfs",
        &["r:10", "r:10", "r:10", "w:5", "w:5", "f:4", "o:3", "c:2"],
    );
    let pid = w.pid().to_string();
    let t = Capture::start_aggregate("vfsstat", &["-d", SHORT, "--pid", &pid], &["-d", SHORT]);
    w.go();
    let rows = t.finish();
    // Opens include the two with O_CREAT.
    for (probe, n) in [
        ("read", 3),
        ("write", 2),
        ("fsync", 4),
        ("open", 5),
        ("create", 2),
    ] {
        assert_eq!(
            total(&rows, probe, "calls", |_| true),
            n,
            "{probe}: {rows:?}"
        );
    }
}

#[test]
fn writesize_draws_the_exact_write_sizes_of_a_program() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let sizes = [1, 3, 100, 100, 5000, 70000];
    let actions: Vec<String> = sizes.iter().map(|n| format!("w:{n}")).collect();
    let actions: Vec<&str> = actions.iter().map(String::as_str).collect();
    let w = Workload::start("twr", &actions);
    let name = w.name.clone();
    let t = Capture::start_aggregate("writesize", &["-d", SHORT], &["-d", SHORT]).marker(&name);
    w.go();
    let rows = t.finish();
    let r = only_row(&rows, "writes", "comm", &name);
    assert_eq!(buckets(&r["bytes"]), log2_hist(&sizes), "{r}");
}

/// The frames of a JSON stack, innermost first.
fn stack_frames(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("a stack is a JSON array: {v}"))
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

/// Is `inner`'s frame followed by `outer`'s (a stack, innermost first)?
fn calls(frames: &[String], inner: &str, outer: &str) -> bool {
    let function = |f: &str| f.split(['+', ' ']).next().unwrap_or(f).to_string();
    frames
        .windows(2)
        .any(|w| function(&w[0]) == inner && function(&w[1]) == outer)
}

/// profile: a program spinning in `acc_inner` (called from `acc_outer`)
/// is sampled there, in user mode (its kernel stack is missing, and says
/// so).
#[test]
fn profile_samples_a_spinning_program_in_its_inner_function() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("profile");
    let bin = programs::build(&dir, "tprofile", programs::SPIN_C);
    let spin = programs::Alive::start(&bin, &["60"], false);
    let pid = spin.pid();
    let t = Capture::start_aggregate("profile", &["-p", &format!("pid={pid}")], &[]);
    std::thread::sleep(Duration::from_millis(1500));
    t.json.interrupt();
    if let Some(table) = &t.table {
        table.interrupt();
    }
    let rows = t.finish();
    spin.end();
    let total: i64 = rows.iter().map(|r| int(&r["samples"])).sum();
    let inner: i64 = rows
        .iter()
        .filter(|r| {
            assert_eq!(r["comm"], "tprofile", "only the process asked for: {r}");
            calls(&stack_frames(&r["ustack"]), "acc_inner", "acc_outer")
        })
        .map(|r| int(&r["samples"]))
        .sum();
    // 1.5 s at 99 Hz: about 150 samples on its CPU.
    assert!(total >= 50, "{total} samples: {rows:?}");
    assert!(
        inner * 10 >= total * 8,
        "{inner} of {total} in acc_inner: {rows:?}"
    );
    assert!(rows.iter().any(|r| {
        calls(&stack_frames(&r["ustack"]), "acc_inner", "acc_outer")
            && stack_frames(&r["kstack"]) == ["[no kernel stack]"]
    }));
}

/// stackcount: each open made from `open_inner` (called from
/// `open_outer`) is counted once, under that stack.
#[test]
fn stackcount_counts_the_stack_of_each_open() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    const OPENS: i64 = 9;
    let dir = scratch("stackcount");
    let bin = programs::build(&dir, "tstackcount", programs::OPEN_C);
    let target = dir.join("target");
    std::fs::write(&target, "x").unwrap();
    let t = Capture::start_aggregate("stackcount", &[], &[]);
    let opener = programs::Alive::start(
        &bin,
        &[target.to_str().unwrap(), &OPENS.to_string(), "wait"],
        true,
    );
    t.json.interrupt();
    if let Some(table) = &t.table {
        table.interrupt();
    }
    let rows = t.finish();
    opener.end();
    let ours: Vec<&Value> = rows
        .iter()
        .filter(|r| r["comm"] == "tstackcount")
        .filter(|r| calls(&stack_frames(&r["ustack"]), "open_inner", "open_outer"))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(int(&ours[0]["calls"]), OPENS, "{ours:?}");
}

/// offcputime: a program sleeping in `sleep_inner` (called from
/// `sleep_outer`) is off CPU under that stack for at least as long as it
/// asked to sleep, and the kernel stack shows the nanosleep path.
#[test]
fn offcputime_weighs_a_sleeping_stack_by_its_sleep() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    const MS: i64 = 30;
    const SLEEPS: i64 = 5;
    let dir = scratch("offcputime");
    let bin = programs::build(&dir, "toffcpu", programs::SLEEP_C);
    let t = Capture::start_aggregate("offcputime", &[], &[]);
    let started = Instant::now();
    let sleeper = programs::Alive::start(&bin, &[&MS.to_string(), &SLEEPS.to_string()], true);
    let took = started.elapsed();
    t.json.interrupt();
    if let Some(table) = &t.table {
        table.interrupt();
    }
    let (rows, err) = t.finish_with_stderr();
    sleeper.end();
    let ours: Vec<&Value> = rows
        .iter()
        .filter(|r| r["comm"] == "toffcpu")
        .filter(|r| calls(&stack_frames(&r["ustack"]), "sleep_inner", "sleep_outer"))
        .collect();
    assert_eq!(ours.len(), 1, "{rows:?}\n{err}");
    let us = int(&ours[0]["us"]);
    assert!(
        us >= SLEEPS * MS * 1000 && us <= took.as_micros() as i64,
        "{us} µs off CPU; it slept {SLEEPS} × {MS} ms within {took:?}"
    );
    let k = stack_frames(&ours[0]["kstack"]);
    assert!(
        k.iter().any(|f| f.starts_with("do_nanosleep")) && k.iter().any(|f| f.contains("schedule")),
        "{k:?}"
    );
    common::elsewhere::exercised(
        "offcputime_weighs_a_sleeping_stack_by_its_sleep",
        "tracepoint",
    );
}
