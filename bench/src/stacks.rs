//! Stacks and sampling (spec-v2 section 4): what sampling every CPU costs
//! the tracer's own process, and how long symbolizing user stacks takes.
//!
//! *Sampling cost.* The workload (bench/c/workload.c built with frame
//! pointers, `target/bench/workload-fp`, so that its user stacks unwind)
//! runs flat out with one thread pinned to each CPU, while a tracer samples
//! every CPU for a fixed window: tracectl `run -o folded -e
//! 'profile:hz:N { n = count() } by comm, ustack'`, bpftrace
//! `profile:hz:N { @[ustack, comm] = count(); }`; then SIGINT. Both count
//! in a kernel map and print once, at exit, symbolizing the stacks then
//! (the workload is still running, so that its maps can be read). The
//! tracer's CPU time (user + system) is read from `/proc/PID/stat` when it
//! reports being attached and when it is sent SIGINT, and from wait4 at its
//! exit: the whole process — start-up, the window, the final symbolization
//! and print — is counted, for both tools, and divided by the window.
//! The BPF program itself runs in the sampled task's context (a perf event
//! interrupt): its cost is charged to the workload, not to the tracer.
//!
//! Every run checks that the workload was sampled and, for tracectl, that
//! its stacks were symbolized (a frame with a name).
//!
//! *Symbolization.* `tracectl::symbolize::symbolize_user_stacks(1000)` in
//! this process: 1 000 distinct user stacks of depth 20, addresses spread
//! over the text of this executable and of libc, with a new symbolizer
//! each time (its caches cold, the page cache warm).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cases::bpftrace_marker;
use crate::measure::{median, quiet, settle, Results, Tool, BPFTRACE_MARKER, RESIGNAL_AFTER};
use crate::proc::{pin, Lines, Proc};
use crate::Config;

/// Sampling rates, per CPU (Hz).
pub const RATES: [u32; 2] = [99, 999];
/// The tools of every rate, in the order of each repetition.
pub const TOOLS: [Tool; 2] = [Tool::Tracectl, Tool::Bpftrace];
/// Distinct user stacks symbolized per run, and the runs (the median is
/// reported).
pub const SYMBOLIZE_STACKS: usize = 1000;
pub const SYMBOLIZE_RUNS: usize = 5;
/// Goals: the tracer's own CPU at 99 Hz, % of one core; symbolizing
/// [`SYMBOLIZE_STACKS`] stacks, ms.
pub const GOAL_PCT: f64 = 1.0;
pub const GOAL_HZ: u32 = 99;
pub const GOAL_SYMBOLIZE_MS: f64 = 200.0;
/// At most this many repetitions of each (rate, tool) (fewer with `--reps`).
pub const MAX_REPS: usize = 3;

/// The resolution of `/proc/PID/stat`'s CPU times (USER_HZ, 100 on Linux).
pub const TICK: Duration = Duration::from_millis(10);

const TRACECTL_MARKER: &str = "tracectl: attached";
const ATTACH_TIMEOUT: Duration = Duration::from_secs(60);

/// The sampling window: 10 s, 2 s with `--quick`.
pub fn window(cfg: &Config) -> Duration {
    Duration::from_secs(if cfg.quick { 2 } else { 10 })
}

/// Repetitions of each (rate, tool).
pub fn reps(cfg: &Config) -> usize {
    cfg.reps.min(MAX_REPS)
}

/// The workload built with frame pointers (scripts/bench.sh), next to the
/// plain one.
pub fn workload_fp(cfg: &Config) -> PathBuf {
    cfg.workload.with_file_name("workload-fp")
}

/// The workload's comm (its file name, at most 15 bytes).
pub fn workload_comm(cfg: &Config) -> String {
    let name = workload_fp(cfg)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.chars().take(15).collect()
}

pub fn tracectl_prog(hz: u32) -> String {
    format!("profile:hz:{hz} {{ n = count() }} by comm, ustack")
}

pub fn bpftrace_prog(hz: u32) -> String {
    format!(
        "profile:hz:{hz} {{ @[ustack, comm] = count(); }}\n{}",
        bpftrace_marker()
    )
}

/// What a tracer's print said: samples and keys (comm + stack) in all,
/// and the workload's samples, those of its stacks with a named frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Printed {
    pub samples: u64,
    pub keys: u64,
    pub workload: u64,
    pub workload_named: u64,
}

impl Printed {
    fn add(&mut self, comm: &str, frames: &[&str], n: u64, workload: &str) {
        self.samples += n;
        self.keys += 1;
        if comm == workload {
            self.workload += n;
            // Unsymbolized frames print as addresses; tracectl's markers
            // (`[stack lost]`, …) are bracketed.
            if frames
                .iter()
                .any(|f| !f.is_empty() && !f.starts_with("0x") && !f.starts_with('['))
            {
                self.workload_named += n;
            }
        }
    }
}

/// tracectl's folded lines: `comm;frame;…;frame COUNT`.
pub fn parse_folded(lines: &[String], workload: &str) -> Printed {
    let mut p = Printed::default();
    for l in lines {
        let Some((stack, n)) = l.rsplit_once(' ') else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else { continue };
        let mut parts = stack.split(';');
        let comm = parts.next().unwrap_or_default();
        let frames: Vec<&str> = parts.collect();
        p.add(comm, &frames, n, workload);
    }
    p
}

/// bpftrace's print of `@[ustack, comm]`: `@[`, a frame a line, then
/// `, COMM]: COUNT` (`@[, COMM]: COUNT` without a user stack).
pub fn parse_bpftrace(lines: &[String], workload: &str) -> Printed {
    let mut p = Printed::default();
    let mut frames: Vec<&str> = Vec::new();
    for l in lines {
        let mut t = l.trim();
        if let Some(rest) = t.strip_prefix("@[") {
            frames.clear();
            t = rest;
        }
        if let Some((key, n)) = t.rsplit_once("]: ") {
            if let Ok(n) = n.trim().parse::<u64>() {
                let comm = key.strip_prefix(", ").unwrap_or(key);
                p.add(comm, &frames, n, workload);
                frames.clear();
                continue;
            }
        }
        if !t.is_empty() {
            frames.push(t);
        }
    }
    p
}

/// tracectl's "N stacks lost" (its exit summary on stderr), 0 if none.
pub fn tracectl_stacks_lost(lines: &[String]) -> u64 {
    lines
        .iter()
        .filter(|l| l.starts_with("tracectl: "))
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.windows(3).find_map(|w| {
                (w[1].starts_with("stack") && w[2].starts_with("lost"))
                    .then(|| w[0].parse::<u64>().ok())
                    .flatten()
            })
        })
        .sum()
}

/// bpftrace's "failed to look up stack id" errors.
pub fn bpftrace_stacks_lost(lines: &[String]) -> u64 {
    lines
        .iter()
        .filter(|l| l.contains("failed to look up stack id"))
        .count() as u64
}

/// A process's user + system CPU time so far, all its threads (the ones
/// that exited too), from `/proc/PID/stat` (clock ticks: 10 ms).
pub fn proc_cpu(pid: i32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the comm: state (field 3), …, utime (14), stime (15).
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no memory preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    Some(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// One sampling run of one tool at one rate.
#[derive(Debug, Clone, Default)]
pub struct SampleRun {
    /// Attached → SIGINT.
    pub window: Duration,
    /// The tracer's CPU until attached, during the window, and in all
    /// (wait4, at exit).
    pub startup_cpu: Duration,
    pub window_cpu: Duration,
    pub total_cpu: Duration,
    /// SIGINT → exit.
    pub exit_wall: Duration,
    pub rss_kib: u64,
    pub printed: Printed,
    /// Samples the tool says had no stack (tracectl: its stack map was
    /// full or a bucket taken; bpftrace: a stack id it could not look up).
    pub stacks_lost: u64,
    /// It was still running [`RESIGNAL_AFTER`] after SIGINT, using no CPU,
    /// and was sent another one.
    pub resignaled: bool,
}

impl SampleRun {
    /// After SIGINT: the final symbolization and print, and the detach.
    pub fn exit_cpu(&self) -> Duration {
        self.total_cpu
            .saturating_sub(self.startup_cpu + self.window_cpu)
    }

    fn pct(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() / self.window.as_secs_f64() * 100.0
    }

    /// The whole process's CPU, % of one core over the window.
    pub fn pct_total(&self) -> f64 {
        self.pct(self.total_cpu)
    }

    /// The CPU during the window alone, % of one core.
    pub fn pct_window(&self) -> f64 {
        self.pct(self.window_cpu)
    }
}

/// The runs of one tool at one rate.
#[derive(Debug, Clone)]
pub struct Sampling {
    pub tool: Tool,
    pub hz: u32,
    pub runs: Vec<SampleRun>,
}

impl Sampling {
    /// The median of `f` over the runs (NaN without runs).
    pub fn med(&self, f: impl Fn(&SampleRun) -> f64) -> f64 {
        median(self.runs.iter().map(f).collect())
    }
}

/// Section 9's numbers.
#[derive(Debug, Clone, Default)]
pub struct Stacks {
    pub sampling: Vec<Sampling>,
    pub window: Duration,
    /// Each run of [`symbolize_user_stacks`](tracectl::symbolize::symbolize_user_stacks), ms.
    pub symbolize_ms: Vec<f64>,
    /// This executable and its size (the addresses symbolized are in it
    /// and in libc).
    pub exe: String,
    pub exe_bytes: u64,
}

impl Stacks {
    pub fn is_empty(&self) -> bool {
        self.sampling.is_empty() && self.symbolize_ms.is_empty()
    }

    /// The median whole-process CPU of `tool` at `hz`, % of one core.
    pub fn pct(&self, tool: Tool, hz: u32) -> f64 {
        self.sampling
            .iter()
            .find(|s| s.tool == tool && s.hz == hz)
            .map_or(f64::NAN, |s| s.med(SampleRun::pct_total))
    }

    pub fn symbolize_median_ms(&self) -> f64 {
        median(self.symbolize_ms.clone())
    }
}

/// Starts the workload-fp, one thread per CPU, flat out, until killed.
fn start_workload(cfg: &Config, threads: usize, window: Duration) -> Result<Proc, String> {
    let mut cmd = Command::new(workload_fp(cfg));
    // Far longer than the window and the tracer's exit: killed after it.
    let max_ms = (window + Duration::from_secs(300)).as_millis() as u64;
    cmd.args([
        (u64::MAX / 2).to_string(),
        "0".into(),
        max_ms.to_string(),
        threads.to_string(),
        "0".into(),
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let mut wl = Proc::spawn(&mut cmd)?;
    let mut stdin = wl.child.stdin.take().expect("piped");
    stdin
        .write_all(b"g")
        .map_err(|e| format!("cannot start the workload: {e}"))?;
    Ok(wl)
}

/// One run: the workload busy on every CPU, `tool` sampling at `hz` for
/// `window` after it attached, then SIGINT; the workload is stopped once
/// the tracer has exited (its stacks symbolized).
pub fn sample_run(
    cfg: &Config,
    tool: Tool,
    hz: u32,
    window: Duration,
) -> Result<SampleRun, String> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut wl = start_workload(cfg, cpus, window)?;
    let who = format!("{} at {hz} Hz", tool.name());
    let mut cmd = match tool {
        Tool::Tracectl => {
            let mut c = Command::new(&cfg.tracectl);
            c.args(["run", "-o", "folded", "-e", &tracectl_prog(hz)]);
            c
        }
        Tool::Bpftrace => {
            let mut c = Command::new(&cfg.bpftrace);
            c.args(["-e", &bpftrace_prog(hz)]);
            c
        }
        _ => unreachable!("section 9 runs tracectl and bpftrace"),
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    pin(&mut cmd, cfg.tracer_cpu);
    let mut p = Proc::spawn(&mut cmd)?;
    let on_stdout = tool == Tool::Bpftrace;
    let marker = if on_stdout {
        BPFTRACE_MARKER
    } else {
        TRACECTL_MARKER
    };
    let out = Lines::spawn_keep(
        p.child.stdout.take().expect("piped"),
        on_stdout.then_some(marker),
        None,
        usize::MAX,
    );
    let err = Lines::spawn(
        p.child.stderr.take().expect("piped"),
        (!on_stdout).then_some(marker),
        None,
    );
    let attached = if on_stdout {
        out.marker(ATTACH_TIMEOUT)
    } else {
        err.marker(ATTACH_TIMEOUT)
    };
    if attached.is_none() {
        p.signal(libc::SIGINT);
        let _ = p.finish(Duration::from_secs(5), tool.name());
        let seen = err.finish();
        return Err(format!(
            "{who} never reported being attached: {}",
            seen.lines.join(" | ")
        ));
    }
    let cpu0 = proc_cpu(p.pid);
    let t0 = Instant::now();
    std::thread::sleep(window);
    let cpu1 = proc_cpu(p.pid);
    let sigint_at = Instant::now();
    p.signal(libc::SIGINT);
    let mut resignaled = false;
    // bpftrace 0.17 now and then misses a SIGINT: ask again when it used
    // no CPU for a while. Not while it symbolizes and prints (seconds, with
    // many stacks): a second SIGINT then kills it.
    let mut last = cpu1;
    let give_up = Instant::now() + Duration::from_secs(60);
    while p.wait_timeout(RESIGNAL_AFTER).is_none() && Instant::now() < give_up {
        let now = proc_cpu(p.pid);
        if now == last && !resignaled {
            resignaled = true;
            p.signal(libc::SIGINT);
        }
        last = now;
    }
    let exit = p.finish(Duration::from_secs(10), tool.name());
    let out = out.finish();
    let err = err.finish();
    wl.signal(libc::SIGKILL);
    let _ = wl.wait_timeout(Duration::from_secs(5));
    let exit = exit?;
    if exit.code != 0 {
        return Err(format!(
            "{who} exited with {}: {}",
            exit.code,
            err.lines.join(" | ")
        ));
    }
    let (Some(cpu0), Some(cpu1)) = (cpu0, cpu1) else {
        return Err(format!("{who}: cannot read /proc/{}/stat", p.pid));
    };
    let comm = workload_comm(cfg);
    let (printed, stacks_lost) = match tool {
        Tool::Tracectl => (
            parse_folded(&out.lines, &comm),
            tracectl_stacks_lost(&err.lines),
        ),
        _ => (
            parse_bpftrace(&out.lines, &comm),
            bpftrace_stacks_lost(&err.lines),
        ),
    };
    Ok(SampleRun {
        window: sigint_at - t0,
        startup_cpu: cpu0,
        window_cpu: cpu1.saturating_sub(cpu0),
        total_cpu: exit.cpu,
        exit_wall: exit.at - sigint_at,
        rss_kib: exit.maxrss_kib,
        printed,
        stacks_lost,
        resignaled,
    })
}

/// A run's checks: errors (the workload not sampled; tracectl not naming
/// its stacks) and warnings.
pub fn check(run: &SampleRun, tool: Tool, hz: u32, cpus: usize) -> (Vec<String>, Vec<String>) {
    let who = format!("{} at {hz} Hz", tool.name());
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let p = run.printed;
    if p.workload == 0 {
        errors.push(format!(
            "{who}: no sample of the workload in its print ({} samples, {} keys)",
            p.samples, p.keys
        ));
    } else if p.workload_named == 0 {
        let e = format!(
            "{who}: none of the workload's {} samples has a symbolized frame",
            p.workload
        );
        if tool == Tool::Tracectl {
            errors.push(e);
        } else {
            warnings.push(e);
        }
    }
    let expected = f64::from(hz) * cpus as f64 * run.window.as_secs_f64();
    if p.workload > 0 && (p.workload as f64) < expected / 2.0 {
        warnings.push(format!(
            "{who}: the workload had {} samples, under half the {expected:.0} expected \
             (the machine was busy?)",
            p.workload
        ));
    }
    if run.resignaled {
        warnings.push(format!(
            "{who}: still running, idle, {} s after SIGINT: sent another",
            RESIGNAL_AFTER.as_secs()
        ));
    }
    (errors, warnings)
}

/// Section 9: symbolization, then every (rate, tool), interleaved in each
/// repetition.
pub fn stacks(cfg: &Config, r: &mut Results) -> Stacks {
    quiet(cfg, r, "stacks and sampling");
    let exe = std::env::current_exe().unwrap_or_default();
    let mut s = Stacks {
        window: window(cfg),
        exe_bytes: std::fs::metadata(&exe).map_or(0, |m| m.len()),
        exe: exe.display().to_string(),
        ..Stacks::default()
    };
    for i in 0..SYMBOLIZE_RUNS {
        eprintln!(
            "tracectl-bench: stacks and sampling, symbolize {SYMBOLIZE_STACKS} user stacks ({}/{SYMBOLIZE_RUNS})",
            i + 1
        );
        let d = tracectl::symbolize::symbolize_user_stacks(SYMBOLIZE_STACKS);
        s.symbolize_ms.push(d.as_secs_f64() * 1e3);
    }
    if !workload_fp(cfg).exists() {
        r.errors.push(format!(
            "{} is missing (scripts/bench.sh builds it)",
            workload_fp(cfg).display()
        ));
        return s;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    s.sampling = RATES
        .iter()
        .flat_map(|&hz| {
            TOOLS.iter().map(move |&tool| Sampling {
                tool,
                hz,
                runs: Vec::new(),
            })
        })
        .collect();
    let reps = reps(cfg);
    for rep in 0..reps {
        if rep > 0 {
            settle(cfg);
        }
        for a in s.sampling.iter_mut() {
            eprintln!(
                "tracectl-bench: stacks and sampling, profile:hz:{}, {} ({}/{reps})",
                a.hz,
                a.tool.name(),
                rep + 1
            );
            match sample_run(cfg, a.tool, a.hz, s.window) {
                Ok(run) => {
                    let (errors, warnings) = check(&run, a.tool, a.hz, cpus);
                    r.errors.extend(errors);
                    r.warnings.extend(warnings);
                    a.runs.push(run);
                }
                Err(e) => r.errors.push(e),
            }
        }
    }
    s
}

/// The raw numbers, for machines.
pub fn raw_json(s: &Stacks) -> Value {
    let ns = |d: Duration| d.as_nanos() as u64;
    json!({
        "window_ns": ns(s.window),
        "symbolize": {
            "stacks": SYMBOLIZE_STACKS, "runs_ms": s.symbolize_ms,
            "exe": s.exe, "exe_bytes": s.exe_bytes,
        },
        "sampling": s.sampling.iter().map(|a| json!({
            "tool": a.tool.name(), "hz": a.hz,
            "runs": a.runs.iter().map(|r| json!({
                "window_ns": ns(r.window), "startup_cpu_ns": ns(r.startup_cpu),
                "window_cpu_ns": ns(r.window_cpu), "total_cpu_ns": ns(r.total_cpu),
                "exit_wall_ns": ns(r.exit_wall), "rss_kib": r.rss_kib,
                "samples": r.printed.samples, "keys": r.printed.keys,
                "workload_samples": r.printed.workload,
                "workload_named_samples": r.printed.workload_named,
                "stacks_lost": r.stacks_lost, "resignaled": r.resignaled,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn programs() {
        assert_eq!(
            tracectl_prog(99),
            "profile:hz:99 { n = count() } by comm, ustack"
        );
        assert_eq!(
            bpftrace_prog(999),
            "profile:hz:999 { @[ustack, comm] = count(); }\n\
             BEGIN { printf(\"bench: attached\\n\"); }\n"
        );
    }

    #[test]
    fn folded() {
        let out = lines(
            "workload-fp;start_thread;syscall 1931\n\
             workload-fp;start_thread;loop 73\n\
             workload-fp;0x2c7d13ba;0x85f6a06 4\n\
             workload-fp;[stack lost] 2\n\
             lto cgu.1.rcgu.;free 3\n\
             swapper/0 10\n\
             not a count\n",
        );
        assert_eq!(
            parse_folded(&out, "workload-fp"),
            Printed {
                samples: 2023,
                keys: 6,
                workload: 2010,
                workload_named: 2004,
            }
        );
    }

    #[test]
    fn bpftrace() {
        let out = lines(
            "bench: attached\n\n\n\
             @[\n    0x55cb788ba779\n    0x7f32857ed1f5\n, workload-fp]: 1\n\
             @[, swapper/1]: 40\n\
             @[\n    syscall+25\n    start_thread+773\n, workload-fp]: 142\n\
             @[\n    free+12\n, lto cgu.0.rcgu.]: 2\n",
        );
        assert_eq!(
            parse_bpftrace(&out, "workload-fp"),
            Printed {
                samples: 185,
                keys: 4,
                workload: 143,
                workload_named: 142,
            }
        );
    }

    #[test]
    fn lost() {
        let err = lines(
            "tracectl: attached 1 probe (profile: perf_event) in 64.5 ms; Ctrl-C to stop\n\
             tracectl: aggregated for 2.8 s, 1 print, 4 stacks lost (the stack map was full \
             or a hash bucket taken: raise --stack-entries) (duration reached)",
        );
        assert_eq!(tracectl_stacks_lost(&err), 4);
        assert_eq!(
            tracectl_stacks_lost(&lines("tracectl: aggregated for 2 s, 1 print")),
            0
        );
        assert_eq!(
            bpftrace_stacks_lost(&lines(
                "ERROR: failed to look up stack id -17 (pid -1): -2\nx\n\
                 ERROR: failed to look up stack id -17 (pid 3): -2"
            )),
            2
        );
    }

    #[test]
    fn checks() {
        let run = SampleRun {
            window: Duration::from_secs(10),
            printed: Printed {
                samples: 2000,
                keys: 3,
                workload: 1980,
                workload_named: 1900,
            },
            ..SampleRun::default()
        };
        assert_eq!(check(&run, Tool::Tracectl, 99, 2), (vec![], vec![]));
        let unnamed = SampleRun {
            printed: Printed {
                workload_named: 0,
                ..run.printed
            },
            ..run.clone()
        };
        assert_eq!(check(&unnamed, Tool::Tracectl, 99, 2).0.len(), 1);
        // bpftrace's unnamed stacks are only a warning.
        assert_eq!(check(&unnamed, Tool::Bpftrace, 99, 2).0.len(), 0);
        assert_eq!(check(&unnamed, Tool::Bpftrace, 99, 2).1.len(), 1);
        let unsampled = SampleRun {
            printed: Printed::default(),
            ..run.clone()
        };
        assert_eq!(check(&unsampled, Tool::Bpftrace, 99, 2).0.len(), 1);
        // Under half the expected samples: a warning.
        let (e, w) = check(&run, Tool::Tracectl, 999, 2);
        assert!(e.is_empty() && w.len() == 1, "{w:?}");
    }

    #[test]
    fn cpu() {
        let me = std::process::id() as i32;
        let t0 = proc_cpu(me).expect("own /proc/PID/stat");
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(50) {
            std::hint::black_box(0u64);
        }
        assert!(proc_cpu(me).unwrap() >= t0);
        assert_eq!(proc_cpu(-1), None);
        let r = SampleRun {
            window: Duration::from_secs(10),
            startup_cpu: Duration::from_millis(20),
            window_cpu: Duration::from_millis(10),
            total_cpu: Duration::from_millis(50),
            ..SampleRun::default()
        };
        assert_eq!(r.exit_cpu(), Duration::from_millis(20));
        assert!((r.pct_total() - 0.5).abs() < 1e-9);
        assert!((r.pct_window() - 0.1).abs() < 1e-9);
    }
}
