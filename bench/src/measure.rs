//! The measurements. Every number is taken by this harness from outside the
//! tools: spawn times, the arrival of each tool's "attached" line, wait4's
//! rusage, and the workload's own clock.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::agg::{AggOverhead, PrintCase};
use crate::proc::{pin, Exit, Lines, Proc, Seen};
use crate::Config;

/// The syscalls traced by the start-up specs, in order (1, 2 or 8 of them).
pub const SYSCALLS: [&str; 8] = [
    "getppid", "getpid", "getuid", "getgid", "geteuid", "getegid", "gettid", "getpgrp",
];
/// Probe counts of the start-up measurements.
pub const PROBE_COUNTS: [usize; 3] = [1, 2, 8];
/// Paced event rates of the loss sweep (events/s); 0 = as fast as possible.
pub const SWEEP_RATES: [u64; 6] = [100_000, 250_000, 500_000, 1_000_000, 2_000_000, 0];

const ATTACH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a tracer may take to exit after SIGINT before it is sent another.
pub const RESIGNAL_AFTER: Duration = Duration::from_secs(3);
pub const BPFTRACE_MARKER: &str = "bench: attached";
/// How bpftrace prints one event (the same JSON object tracectl prints).
const BPFTRACE_PRINTF: &str = r#"printf("{\"pid\":%d,\"comm\":\"%s\"}\n", pid, comm);"#;
const EVENT_PREFIX: &str = "{\"pid\":";

/// A tracer (or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    None,
    Tracectl,
    Floor,
    Bpftrace,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::None => "untraced",
            Tool::Tracectl => "tracectl",
            Tool::Floor => "C/libbpf floor",
            Tool::Bpftrace => "bpftrace",
        }
    }
}

/// Medians of one start-up configuration.
#[derive(Debug, Clone, Default)]
pub struct Startup {
    pub probes: usize,
    /// Spawn → "attached" line, ms.
    pub attach_ms: [f64; 3],
    /// Peak RSS of that run (attached, then SIGINT), KiB.
    pub run_rss_kib: [f64; 3],
    /// Spawn → exit of load + attach + detach, ms.
    pub cycle_ms: [f64; 3],
    /// Peak RSS of the cycle, KiB.
    pub cycle_rss_kib: [f64; 3],
}

/// Index of a tool in the `[f64; 3]` arrays: tracectl, bpftrace, floor.
pub fn col(tool: Tool) -> usize {
    match tool {
        Tool::Tracectl => 0,
        Tool::Bpftrace => 1,
        _ => 2,
    }
}

/// One workload run, traced or not.
#[derive(Debug, Clone, Default)]
pub struct EventRun {
    /// Target rate, events/s (0: as fast as possible).
    pub rate: u64,
    /// getppid calls the workload made, and how long its loop took.
    pub calls: u64,
    pub ns: u64,
    /// Records the tracer printed, and the ones it reported lost.
    pub received: u64,
    pub lost: u64,
    /// CPU time of the tracer process (user + system).
    pub tracer_cpu: Duration,
    /// Peak RSS of the tracer, KiB.
    pub tracer_rss_kib: u64,
}

impl EventRun {
    pub fn ns_per_call(&self) -> f64 {
        self.ns as f64 / self.calls.max(1) as f64
    }
    pub fn rate_achieved(&self) -> f64 {
        self.calls as f64 * 1e9 / self.ns.max(1) as f64
    }
}

/// Per-tool per-event results.
#[derive(Debug, Clone)]
pub struct Overhead {
    pub tool: Tool,
    pub runs: Vec<EventRun>,
    /// Tracer CPU of a run without events (start-up and shutdown), subtracted
    /// when computing the consumer's CPU per event.
    pub idle_cpu: Duration,
}

impl Overhead {
    pub fn median_ns(&self) -> f64 {
        median(self.runs.iter().map(EventRun::ns_per_call).collect())
    }
    pub fn total(&self) -> (u64, u64, u64) {
        self.runs.iter().fold((0, 0, 0), |(c, r, l), x| {
            (c + x.calls, r + x.received, l + x.lost)
        })
    }
    /// Median events/s delivered to the output.
    pub fn delivered_rate(&self) -> f64 {
        median(
            self.runs
                .iter()
                .map(|r| r.received as f64 * 1e9 / r.ns.max(1) as f64)
                .collect(),
        )
    }
    /// Tracer CPU ns per event, start-up excluded (median).
    pub fn cpu_ns_per_event(&self) -> f64 {
        median(
            self.runs
                .iter()
                .map(|r| {
                    let cpu = r.tracer_cpu.saturating_sub(self.idle_cpu);
                    cpu.as_nanos() as f64 / r.received.max(1) as f64
                })
                .collect(),
        )
    }
}

/// One step of the loss sweep.
#[derive(Debug, Clone)]
pub struct SweepStep {
    pub tool: Tool,
    pub run: EventRun,
}

/// What the machine was doing when a section started.
#[derive(Debug, Clone)]
pub struct Quiet {
    pub section: &'static str,
    pub loadavg: String,
    pub busy: Vec<String>,
    pub waited: Duration,
}

/// Everything measured.
#[derive(Debug, Default)]
pub struct Results {
    pub startup: Vec<Startup>,
    pub overhead: Vec<Overhead>,
    pub sweep: Vec<SweepStep>,
    pub compile: Vec<(String, f64)>,
    /// Aggregations: per-event runs, and prints of many keys.
    pub agg: Vec<AggOverhead>,
    pub prints: Vec<PrintCase>,
    pub quiet: Vec<Quiet>,
    /// The load average before anything was measured (later ones include
    /// the benchmark's own workload).
    pub start_loadavg: String,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    pub started: Option<Instant>,
    pub elapsed: Duration,
}

impl Results {
    pub fn overhead_of(&self, tool: Tool) -> Option<&Overhead> {
        self.overhead.iter().find(|o| o.tool == tool)
    }

    /// The raw numbers, for machines.
    pub fn raw_json(&self) -> serde_json::Value {
        use serde_json::json;
        let st = |s: &Startup| {
            json!({
                "probes": s.probes,
                "attach_ms": s.attach_ms, "run_rss_kib": s.run_rss_kib,
                "cycle_ms": s.cycle_ms, "cycle_rss_kib": s.cycle_rss_kib,
            })
        };
        let run = |r: &EventRun| {
            json!({
                "rate": r.rate, "calls": r.calls, "ns": r.ns, "received": r.received,
                "lost": r.lost, "tracer_cpu_ns": r.tracer_cpu.as_nanos() as u64,
                "tracer_rss_kib": r.tracer_rss_kib,
            })
        };
        json!({
            "columns": ["tracectl", "bpftrace", "floor"],
            "startup": self.startup.iter().map(st).collect::<Vec<_>>(),
            "overhead": self.overhead.iter().map(|o| json!({
                "tool": o.tool.name(),
                "idle_cpu_ns": o.idle_cpu.as_nanos() as u64,
                "runs": o.runs.iter().map(run).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "sweep": self.sweep.iter().map(|s| json!({
                "tool": s.tool.name(), "run": run(&s.run),
            })).collect::<Vec<_>>(),
            "compile_ms": self.compile.iter().map(|(f, t)| json!({"spec": f, "ms": t}))
                .collect::<Vec<_>>(),
            "aggregation": self.agg.iter().map(|a| json!({
                "case": a.case.name(), "tool": a.o.tool.name(),
                "runs": a.o.runs.iter().map(run).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "print": self.prints.iter().map(|p| json!({
                "printer": p.printer.label(), "keys": p.keys,
                "runs": p.runs.iter().map(|x| json!({
                    "rows": x.rows, "total": x.total,
                    "sigint_to_last_line_ms": x.to_last_ms, "sigint_to_exit_ms": x.to_exit_ms,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "errors": self.errors, "warnings": self.warnings,
        })
    }
}

pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---- quiet machine ---------------------------------------------------------

/// Processes that make timings noisy: compilers and linkers.
fn busy_processes() -> Vec<String> {
    const NOISY: [&str; 9] = [
        "rustc", "cargo", "cc1", "cc1plus", "clang", "clang-14", "ld", "ld.lld", "rust-lld",
    ];
    let mut found = Vec::new();
    let me = std::process::id().to_string();
    if let Ok(d) = std::fs::read_dir("/proc") {
        for e in d.flatten() {
            let name = e.file_name();
            let Some(pid) = name.to_str() else { continue };
            if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
                continue;
            }
            if let Ok(comm) = std::fs::read_to_string(e.path().join("comm")) {
                let comm = comm.trim();
                if NOISY.contains(&comm) {
                    found.push(format!("{comm}[{pid}]"));
                }
            }
        }
    }
    found.sort();
    found
}

/// (busy, total) jiffies of all CPUs, from /proc/stat.
fn cpu_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next() else {
        return (0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

/// CPUs' worth of work the rest of the machine does, over one second.
fn background_cpus() -> f64 {
    let (b0, t0) = cpu_jiffies();
    std::thread::sleep(Duration::from_secs(1));
    let (b1, t1) = cpu_jiffies();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    if t1 <= t0 {
        return 0.0;
    }
    (b1 - b0) as f64 / (t1 - t0) as f64 * cpus
}

/// Anything that makes timings noisy: compilers, or over 0.1 CPU of other work.
fn noise() -> Vec<String> {
    let mut v = busy_processes();
    let bg = background_cpus();
    if bg > 0.1 {
        v.push(format!("{bg:.2} CPUs busy"));
    }
    v
}

/// Waits (up to `cfg.wait_quiet`) for a quiet machine, without a record;
/// between repetitions of a measurement.
pub fn settle(cfg: &Config) {
    let t0 = Instant::now();
    while !cfg.wait_quiet.is_zero() && t0.elapsed() < cfg.wait_quiet && !noise().is_empty() {}
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Waits (up to `cfg.wait_quiet`) until no compiler runs, and records it.
pub(crate) fn quiet(cfg: &Config, r: &mut Results, section: &'static str) {
    let t0 = Instant::now();
    if cfg.wait_quiet.is_zero() {
        r.quiet.push(Quiet {
            section,
            loadavg: loadavg(),
            busy: Vec::new(),
            waited: Duration::ZERO,
        });
        return;
    }
    let mut busy = noise();
    if !busy.is_empty() {
        eprintln!(
            "tracectl-bench: waiting for a quiet machine ({}) before measuring {section}",
            busy.join(", ")
        );
        while !busy.is_empty() && t0.elapsed() < cfg.wait_quiet {
            busy = noise();
        }
    }
    if !busy.is_empty() {
        r.warnings.push(format!(
            "{section}: measured while {} ran: numbers are noisy",
            busy.join(", ")
        ));
    }
    r.quiet.push(Quiet {
        section,
        loadavg: loadavg(),
        busy,
        waited: t0.elapsed(),
    });
}

// ---- programs of each tool ---------------------------------------------------

fn tracectl_dsl(n: usize) -> String {
    SYSCALLS[..n]
        .iter()
        .map(|s| format!("tracepoint:syscalls:sys_enter_{s} {{ pid, comm }}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn bpftrace_probes(n: usize, filter: &str) -> String {
    SYSCALLS[..n]
        .iter()
        .map(|s| format!("tracepoint:syscalls:sys_enter_{s} {filter}{{ {BPFTRACE_PRINTF} }}\n"))
        .collect()
}

fn bpftrace_run_prog(n: usize, filter: &str) -> String {
    format!(
        "{}BEGIN {{ printf(\"{BPFTRACE_MARKER}\\n\"); }}\n",
        bpftrace_probes(n, filter)
    )
}

fn null() -> Stdio {
    Stdio::null()
}

// ---- 1 + 2. start-up and memory ------------------------------------------------

/// Start → attached, then SIGINT: (attach ms, peak RSS KiB).
fn attach_once(cfg: &Config, tool: Tool, n: usize) -> Result<(f64, f64), String> {
    let mut cmd;
    let (marker, via_stdout) = match tool {
        Tool::Tracectl => {
            cmd = Command::new(&cfg.tracectl);
            cmd.args([
                "run",
                "-o",
                "json",
                "--time",
                "none",
                "-e",
                &tracectl_dsl(n),
            ]);
            ("tracectl: attached", false)
        }
        Tool::Bpftrace => {
            cmd = Command::new(&cfg.bpftrace);
            cmd.args(["-e", &bpftrace_run_prog(n, "")]);
            (BPFTRACE_MARKER, true)
        }
        Tool::Floor => {
            cmd = Command::new(&cfg.floor);
            ("floor: attached", false)
        }
        Tool::None => unreachable!(),
    };
    if via_stdout {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else {
        cmd.stdout(null()).stderr(Stdio::piped());
    }
    cmd.stdin(null());
    let mut p = Proc::spawn(&mut cmd)?;
    let out = via_stdout.then(|| {
        Lines::spawn(
            p.child.stdout.take().expect("piped"),
            Some(marker),
            Some(EVENT_PREFIX),
        )
    });
    let err = Lines::spawn(
        p.child.stderr.take().expect("piped"),
        (!via_stdout).then_some(marker),
        None,
    );
    let at = if via_stdout {
        out.as_ref().and_then(|o| o.marker(ATTACH_TIMEOUT))
    } else {
        err.marker(ATTACH_TIMEOUT)
    };
    p.signal(libc::SIGINT);
    let exit = p.finish(Duration::from_secs(20), tool.name());
    let seen_err = err.finish();
    if let Some(o) = out {
        o.finish();
    }
    let exit = exit?;
    let Some(at) = at else {
        return Err(format!(
            "{} ({n} probes) never reported being attached (exit {}): {}",
            tool.name(),
            exit.code,
            seen_err.lines.join(" | ")
        ));
    };
    if exit.code != 0 {
        return Err(format!(
            "{} ({n} probes) exited with {} after SIGINT: {}",
            tool.name(),
            exit.code,
            seen_err.lines.join(" | ")
        ));
    }
    Ok((ms(at - p.started), exit.maxrss_kib as f64))
}

/// Load + attach + detach: (wall ms, peak RSS KiB).
fn cycle_once(cfg: &Config, tool: Tool, n: usize) -> Result<(f64, f64), String> {
    let mut cmd;
    match tool {
        Tool::Tracectl => {
            cmd = Command::new(&cfg.tracectl);
            cmd.args(["check", "--load", "-e", &tracectl_dsl(n)]);
        }
        Tool::Bpftrace => {
            cmd = Command::new(&cfg.bpftrace);
            cmd.args([
                "-e",
                &format!("{}BEGIN {{ exit(); }}\n", bpftrace_probes(n, "")),
            ]);
        }
        _ => unreachable!(),
    }
    cmd.stdin(null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut p = Proc::spawn(&mut cmd)?;
    let out = Lines::spawn(p.child.stdout.take().expect("piped"), None, None);
    let err = Lines::spawn(p.child.stderr.take().expect("piped"), None, None);
    let exit = p.finish(Duration::from_secs(60), tool.name());
    out.finish();
    let seen = err.finish();
    let exit = exit?;
    if exit.code != 0 {
        return Err(format!(
            "{} load/attach/detach ({n} probes) failed with exit {}: {}",
            tool.name(),
            exit.code,
            seen.lines.join(" | ")
        ));
    }
    Ok((ms(exit.at - p.started), exit.maxrss_kib as f64))
}

fn startup(cfg: &Config, r: &mut Results) {
    for &n in &PROBE_COUNTS {
        eprintln!("tracectl-bench: start-up, {n} probe(s), {} runs", cfg.runs);
        let mut s = Startup {
            probes: n,
            ..Startup::default()
        };
        let mut att: [Vec<(f64, f64)>; 3] = Default::default();
        let mut cyc: [Vec<(f64, f64)>; 3] = Default::default();
        let tools: &[Tool] = if n == 1 {
            &[Tool::Tracectl, Tool::Bpftrace, Tool::Floor]
        } else {
            &[Tool::Tracectl, Tool::Bpftrace]
        };
        // Interleaved, so drift hits every tool alike.
        for _ in 0..cfg.runs {
            for &tool in tools {
                match attach_once(cfg, tool, n) {
                    Ok(v) => att[col(tool)].push(v),
                    Err(e) => r.errors.push(e),
                }
                if tool != Tool::Floor {
                    match cycle_once(cfg, tool, n) {
                        Ok(v) => cyc[col(tool)].push(v),
                        Err(e) => r.errors.push(e),
                    }
                }
            }
        }
        for c in 0..3 {
            s.attach_ms[c] = median(att[c].iter().map(|v| v.0).collect());
            s.run_rss_kib[c] = median(att[c].iter().map(|v| v.1).collect());
            s.cycle_ms[c] = median(cyc[c].iter().map(|v| v.0).collect());
            s.cycle_rss_kib[c] = median(cyc[c].iter().map(|v| v.1).collect());
        }
        r.startup.push(s);
    }
}

// ---- 3 + 4. events ----------------------------------------------------------------

/// Parses "NAME: N events in S s, L lost" from a tool's stderr.
fn parse_summary(lines: &[String], prefix: &str) -> Option<(u64, u64)> {
    let line = lines
        .iter()
        .rev()
        .find(|l| l.starts_with(prefix) && l.contains(" events in ") && l.contains(" lost"))?;
    let rest = &line[prefix.len()..];
    let events = rest.split_whitespace().next()?.parse().ok()?;
    let lost_part = rest.split(", ").nth(1)?;
    let lost = lost_part.split_whitespace().next()?.parse().ok()?;
    Some((events, lost))
}

/// bpftrace prints "Lost N events" on stdout when its perf buffer overflows.
pub(crate) fn bpftrace_lost(lines: &[String]) -> u64 {
    lines
        .iter()
        .filter_map(|l| {
            l.strip_prefix("Lost ")?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// The workload's arguments (bench/c/workload.c).
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Calls per thread (at most).
    pub calls: u64,
    /// Target rate per thread, calls/s (0: as fast as possible).
    pub rate: u64,
    /// Stop after this long (0: after `calls`).
    pub max_ms: u64,
    /// Threads of the one process; with more than one, thread t runs on CPU t
    /// (the harness does not pin the process).
    pub threads: u64,
    /// 0: getppid(2); K: sched_get_priority_max(i % K), K distinct arguments.
    pub keys: u64,
}

impl Workload {
    /// getppid flat out (rate 0) or paced, for `dur`, one thread.
    pub fn getppid(rate: u64, dur: Duration) -> Workload {
        let max_ms = dur.as_millis().max(1) as u64;
        Workload {
            calls: if rate == 0 {
                u64::MAX / 2
            } else {
                rate * max_ms / 1000
            },
            rate,
            max_ms,
            threads: 1,
            keys: 0,
        }
    }
}

/// A tracer to start before the workload runs.
pub struct Tracer<'a> {
    pub tool: Tool,
    /// Its command, given the workload's pid.
    pub command: &'a dyn Fn(i32) -> Command,
    /// The line that says it is attached, and whether it comes on stdout
    /// (bpftrace's BEGIN line) rather than stderr.
    pub marker: &'a str,
    pub marker_on_stdout: bool,
    /// Read its stdout (else /dev/null): lines starting with `event_prefix`
    /// are counted, the first `keep` others kept.
    pub read_stdout: bool,
    pub event_prefix: Option<&'a str>,
    pub keep: usize,
    /// How long to let it drain after the workload ended, before SIGINT.
    pub drain: Duration,
}

/// What a traced run saw, before any tool-specific parsing.
pub struct RawRun {
    /// getppid / sched_get_priority_max calls the workload made, and its
    /// loops' time summed over threads.
    pub calls: u64,
    pub ns: u64,
    /// The workload's pid and its namespaces' inode numbers (pid, mnt,
    /// net: `/proc/PID/ns/*`), read while it ran (0 when unreadable).
    pub pid: i32,
    pub ns_inodes: [u64; 3],
    /// The tracer's exit, its stdout and stderr, and when it was sent SIGINT.
    pub exit: Option<Exit>,
    pub out: Seen,
    pub err: Seen,
    pub sigint_at: Option<Instant>,
    /// The tracer was still running [`RESIGNAL_AFTER`] after SIGINT, and
    /// was sent another one.
    pub resignaled: bool,
}

/// Runs the workload, traced by `tracer` (attached first) or not, then
/// stops the tracer with SIGINT and collects what it printed. Errors when a
/// tool does not attach, fails, or exits with a non-zero code.
pub fn traced_run(cfg: &Config, w: Workload, tracer: Option<&Tracer>) -> Result<RawRun, String> {
    let mut wl_cmd = Command::new(&cfg.workload);
    wl_cmd
        .args([
            w.calls.to_string(),
            w.rate.to_string(),
            w.max_ms.to_string(),
            w.threads.to_string(),
            w.keys.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if w.threads <= 1 {
        pin(&mut wl_cmd, cfg.workload_cpu);
    }
    let mut wl = Proc::spawn(&mut wl_cmd)?;
    let pid = wl.pid;
    let ns_inodes = ["pid", "mnt", "net"]
        .map(|n| std::fs::metadata(format!("/proc/{pid}/ns/{n}")).map_or(0, |m| m.ino()));

    let mut running = None;
    if let Some(t) = tracer {
        let mut cmd = (t.command)(pid);
        cmd.stdin(null())
            .stdout(if t.read_stdout {
                Stdio::piped()
            } else {
                null()
            })
            .stderr(Stdio::piped());
        pin(&mut cmd, cfg.tracer_cpu);
        let mut p = Proc::spawn(&mut cmd)?;
        let out = t.read_stdout.then(|| {
            Lines::spawn_keep(
                p.child.stdout.take().expect("piped"),
                t.marker_on_stdout.then_some(t.marker),
                t.event_prefix,
                t.keep,
            )
        });
        let err = Lines::spawn(
            p.child.stderr.take().expect("piped"),
            (!t.marker_on_stdout).then_some(t.marker),
            None,
        );
        let attached = match (&out, t.marker_on_stdout) {
            (Some(o), true) => o.marker(ATTACH_TIMEOUT),
            _ => err.marker(ATTACH_TIMEOUT),
        };
        if attached.is_none() {
            p.signal(libc::SIGINT);
            let _ = p.finish(Duration::from_secs(5), t.tool.name());
            let seen = err.finish();
            return Err(format!(
                "{} never reported being attached: {}",
                t.tool.name(),
                seen.lines.join(" | ")
            ));
        }
        running = Some((p, out, err));
    }

    // Go.
    let mut stdin = wl.child.stdin.take().expect("piped");
    stdin
        .write_all(b"g")
        .map_err(|e| format!("cannot start the workload: {e}"))?;
    drop(stdin);
    let mut wl_out = String::new();
    if let Some(mut o) = wl.child.stdout.take() {
        let _ = o.read_to_string(&mut wl_out);
    }
    let limit = Duration::from_millis(w.max_ms) + Duration::from_secs(120);
    let wl_exit = wl.finish(limit, "the workload")?;
    if wl_exit.code != 0 {
        return Err(format!("the workload failed (exit {})", wl_exit.code));
    }
    let field = |k: &str| -> Option<u64> {
        wl_out
            .split_whitespace()
            .find_map(|w| w.strip_prefix(k)?.parse().ok())
    };
    let (Some(calls), Some(ns)) = (field("calls="), field("ns=")) else {
        return Err(format!("unexpected workload output `{}`", wl_out.trim()));
    };
    let mut raw = RawRun {
        calls,
        ns,
        pid,
        ns_inodes,
        exit: None,
        out: Seen::default(),
        err: Seen::default(),
        sigint_at: None,
        resignaled: false,
    };
    let (Some(t), Some((mut p, out, err))) = (tracer, running) else {
        return Ok(raw);
    };
    std::thread::sleep(t.drain);
    raw.sigint_at = Some(Instant::now());
    p.signal(libc::SIGINT);
    // bpftrace 0.17 now and then misses a SIGINT (it then ran on until a
    // second one, 30 s later); ask again after a while.
    if p.wait_timeout(RESIGNAL_AFTER).is_none() {
        raw.resignaled = true;
        p.signal(libc::SIGINT);
    }
    let exit = p.finish(Duration::from_secs(30), t.tool.name());
    raw.err = err.finish();
    raw.out = out.map(Lines::finish).unwrap_or_default();
    let exit = exit?;
    if exit.code != 0 {
        return Err(format!(
            "{} exited with {}: {}",
            t.tool.name(),
            exit.code,
            raw.err.lines.join(" | ")
        ));
    }
    raw.exit = Some(exit);
    Ok(raw)
}

/// Runs the workload at `rate` (0: flat out) for `dur`, traced by `tool`
/// (filtered to the workload's pid), and checks that every call was either
/// received or reported lost.
pub fn event_run(cfg: &Config, tool: Tool, rate: u64, dur: Duration) -> Result<EventRun, String> {
    let w = Workload::getppid(rate, dur);
    let tracectl = |pid: i32| {
        let mut cmd = Command::new(&cfg.tracectl);
        cmd.args([
            "run",
            "-o",
            "json",
            "--time",
            "none",
            "--pid",
            &pid.to_string(),
            "-e",
            "tracepoint:syscalls:sys_enter_getppid { pid, comm }",
        ]);
        cmd
    };
    let floor = |pid: i32| {
        let mut cmd = Command::new(&cfg.floor);
        cmd.args(["--pid", &pid.to_string()]);
        cmd
    };
    let bpftrace = |pid: i32| {
        let mut cmd = Command::new(&cfg.bpftrace);
        cmd.args(["-e", &bpftrace_run_prog(1, &format!("/pid == {pid}/ "))]);
        cmd
    };
    // tracectl and the floor print to /dev/null and count themselves;
    // bpftrace's lines are counted here. Let the tracer drain (tracectl and
    // the floor deliver within their 100 ms poll timeout), then stop it.
    fn tracer<'a>(
        tool: Tool,
        command: &'a dyn Fn(i32) -> Command,
        marker: &'a str,
        on_stdout: bool,
    ) -> Tracer<'a> {
        Tracer {
            tool,
            command,
            marker,
            marker_on_stdout: on_stdout,
            read_stdout: on_stdout,
            event_prefix: Some(EVENT_PREFIX),
            keep: 1000,
            drain: Duration::from_millis(400),
        }
    }
    let t = match tool {
        Tool::None => None,
        Tool::Tracectl => Some(tracer(tool, &tracectl, "tracectl: attached", false)),
        Tool::Floor => Some(tracer(tool, &floor, "floor: attached", false)),
        Tool::Bpftrace => Some(tracer(tool, &bpftrace, BPFTRACE_MARKER, true)),
    };
    let raw = traced_run(cfg, w, t.as_ref())?;
    let mut run = EventRun {
        rate,
        calls: raw.calls,
        ns: raw.ns,
        ..EventRun::default()
    };
    let Some(exit) = raw.exit else {
        return Ok(run);
    };
    run.tracer_cpu = exit.cpu;
    run.tracer_rss_kib = exit.maxrss_kib;
    match tool {
        Tool::Tracectl | Tool::Floor => {
            let prefix = if tool == Tool::Tracectl {
                "tracectl: "
            } else {
                "floor: "
            };
            let (events, lost) = parse_summary(&raw.err.lines, prefix).ok_or_else(|| {
                format!(
                    "{}: no summary line on stderr: {}",
                    tool.name(),
                    raw.err.lines.join(" | ")
                )
            })?;
            run.received = events;
            run.lost = lost;
        }
        Tool::Bpftrace => {
            run.received = raw.out.events;
            run.lost = bpftrace_lost(&raw.out.lines);
        }
        Tool::None => {}
    }
    if run.received + run.lost != run.calls {
        return Err(format!(
            "{}: the workload made {} calls but the tracer received {} and reported {} lost",
            tool.name(),
            run.calls,
            run.received,
            run.lost
        ));
    }
    Ok(run)
}

fn overhead(cfg: &Config, r: &mut Results) {
    let tools = [Tool::None, Tool::Floor, Tool::Tracectl, Tool::Bpftrace];
    let mut all: Vec<Overhead> = tools
        .iter()
        .map(|&tool| Overhead {
            tool,
            runs: Vec::new(),
            idle_cpu: Duration::ZERO,
        })
        .collect();
    // A run without events: the tracer's fixed CPU cost.
    for o in all.iter_mut().skip(1) {
        match event_run(cfg, o.tool, 1, Duration::from_millis(1)) {
            Ok(run) => o.idle_cpu = run.tracer_cpu,
            Err(e) => r.errors.push(e),
        }
    }
    for rep in 0..cfg.reps {
        if rep > 0 {
            settle(cfg);
        }
        for o in all.iter_mut() {
            eprintln!(
                "tracectl-bench: per-event overhead, {} ({}/{})",
                o.tool.name(),
                rep + 1,
                cfg.reps
            );
            match event_run(cfg, o.tool, 0, cfg.duration) {
                Ok(run) => o.runs.push(run),
                Err(e) => r.errors.push(e),
            }
        }
    }
    r.overhead = all;
}

fn sweep(cfg: &Config, r: &mut Results) {
    for tool in [Tool::Tracectl, Tool::Floor, Tool::Bpftrace] {
        for &rate in &SWEEP_RATES {
            eprintln!(
                "tracectl-bench: loss sweep, {} at {}",
                tool.name(),
                if rate == 0 {
                    "full speed".to_string()
                } else {
                    format!("{rate}/s")
                }
            );
            match event_run(cfg, tool, rate, cfg.duration) {
                Ok(run) => r.sweep.push(SweepStep { tool, run }),
                Err(e) => r.errors.push(e),
            }
        }
    }
}

// ---- 5. compile ---------------------------------------------------------------

/// The specs of a directory: `.trace` files, and YAML files with `probes:`
/// (not, say, an index of recipes).
fn spec_files(dir: &Path) -> Vec<PathBuf> {
    let is_spec = |p: &Path| match p.extension().and_then(|e| e.to_str()) {
        Some("trace") => true,
        Some("yaml" | "yml") => std::fs::read_to_string(p)
            .map(|t| t.lines().any(|l| l.starts_with("probes:")))
            .unwrap_or(false),
        _ => false,
    };
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| is_spec(p))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn compile(cfg: &Config, r: &mut Results) {
    let files = spec_files(&cfg.specs);
    if files.is_empty() {
        r.errors
            .push(format!("no specs found in {}", cfg.specs.display()));
        return;
    }
    eprintln!(
        "tracectl-bench: compile, {} specs, {} runs",
        files.len(),
        cfg.runs
    );
    for f in files {
        let mut times = Vec::new();
        let mut failed = None;
        for _ in 0..cfg.runs {
            let mut cmd = Command::new(&cfg.tracectl);
            cmd.arg("check")
                .arg(&f)
                .stdin(null())
                .stdout(null())
                .stderr(Stdio::piped());
            let mut p = match Proc::spawn(&mut cmd) {
                Ok(p) => p,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            let err = Lines::spawn(p.child.stderr.take().expect("piped"), None, None);
            let exit = p.finish(Duration::from_secs(30), "tracectl check");
            let seen = err.finish();
            match exit {
                Ok(e) if e.code == 0 => times.push(ms(e.at - p.started)),
                Ok(e) => {
                    failed = Some(format!(
                        "tracectl check {} failed (exit {}): {}",
                        f.display(),
                        e.code,
                        seen.lines.join(" | ")
                    ));
                    break;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match failed {
            Some(e) => r.errors.push(e),
            None => r.compile.push((name, median(times))),
        }
    }
}

/// Runs every section in order.
pub fn run_all(cfg: &Config) -> Results {
    let mut r = Results {
        started: Some(Instant::now()),
        start_loadavg: loadavg(),
        ..Results::default()
    };
    for tool in [&cfg.tracectl, &cfg.floor, &cfg.workload] {
        if !tool.exists() {
            r.errors.push(format!(
                "{} is missing (scripts/bench.sh builds it)",
                tool.display()
            ));
        }
    }
    if !r.errors.is_empty() {
        return r;
    }
    if cfg.wants("startup") {
        quiet(cfg, &mut r, "start-up");
        startup(cfg, &mut r);
    }
    if cfg.wants("overhead") {
        quiet(cfg, &mut r, "per-event overhead");
        overhead(cfg, &mut r);
    }
    if cfg.wants("throughput") {
        quiet(cfg, &mut r, "throughput");
        sweep(cfg, &mut r);
    }
    if cfg.wants("compile") {
        quiet(cfg, &mut r, "compile");
        compile(cfg, &mut r);
    }
    if cfg.wants("agg") {
        quiet(cfg, &mut r, "aggregations");
        crate::agg::aggregations(cfg, &mut r);
    }
    r.elapsed = r.started.map(|t| t.elapsed()).unwrap_or_default();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries() {
        let l = vec![
            "tracectl: attached 1 probe in 9.1 ms; Ctrl-C to stop".to_string(),
            "tracectl: 2000000 events in 1.4 s, 3 lost (max events reached)".to_string(),
        ];
        assert_eq!(parse_summary(&l, "tracectl: "), Some((2_000_000, 3)));
        let f = vec!["floor: 12 events in 0.5 s, 0 lost".to_string()];
        assert_eq!(parse_summary(&f, "floor: "), Some((12, 0)));
        assert_eq!(
            bpftrace_lost(&["Lost 10 events".into(), "x".into(), "Lost 5 events".into()]),
            15
        );
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }

    #[test]
    fn programs() {
        assert_eq!(
            tracectl_dsl(2),
            "tracepoint:syscalls:sys_enter_getppid { pid, comm }\n\
             tracepoint:syscalls:sys_enter_getpid { pid, comm }"
        );
        let b = bpftrace_run_prog(1, "/pid == 7/ ");
        assert!(b.starts_with("tracepoint:syscalls:sys_enter_getppid /pid == 7/ { printf("));
        assert!(b.ends_with("BEGIN { printf(\"bench: attached\\n\"); }\n"));
    }
}
