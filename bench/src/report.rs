//! The markdown report: machine, tools, a summary table with ratios and
//! goals, then the details of each measurement.

use std::fmt::Write as _;
use std::process::Command;

use crate::agg::{
    print_cost, Case, Printer, HIST_KEYS, HOT_THREADS, PRINT_CALLS_PER_KEY, PRINT_KEYS,
    PRINT_MAX_KEYS,
};
use crate::cases::{self, CaseOverhead};
use crate::ctx::{self, CtxOverhead};
use crate::measure::{col, median, EventRun, Results, Tool, BPFTRACE_MARKER, SYSCALLS};
use crate::pair::{self, PairOverhead, UNMATCHED_TOLERATED};
use crate::stacks::{self, SampleRun, Stacks};

/// bpftrace's per-event statement, shortened for the report.
const BPFTRACE_SHORT: &str = r#"printf("{\"pid\":%d,…}\n", pid, comm);"#;
use crate::Config;

/// First line of a command's stdout (or stderr), trimmed; "?" if it fails.
fn first_line(prog: &str, args: &[&str]) -> String {
    match Command::new(prog).args(args).output() {
        Ok(o) => {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("?")
                .trim()
                .to_string()
        }
        Err(_) => "?".into(),
    }
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

fn cpu_model() -> String {
    read_trim("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "?".into())
}

fn mem_gib() -> String {
    read_trim("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".into())
}

fn ms(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v < 10.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.1} ms")
    }
}

fn mib(kib: f64) -> String {
    if kib.is_nan() {
        "–".into()
    } else {
        format!("{:.1} MiB", kib / 1024.0)
    }
}

fn ns(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{v:.0} ns")
    }
}

fn rate(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v >= 1e6 {
        format!("{:.2} M/s", v / 1e6)
    } else {
        format!("{:.0} k/s", v / 1e3)
    }
}

fn ratio(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}×")
    } else {
        "–".into()
    }
}

fn met(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "–",
    }
}

/// `ok` only when the ratio could be computed.
fn check(v: f64, ok: impl Fn(f64) -> bool) -> Option<bool> {
    v.is_finite().then(|| ok(v))
}

fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The lowest achieved rate of a tool's sweep at which events were lost.
fn loss_onset(r: &Results, tool: Tool) -> (Option<f64>, f64) {
    let runs: Vec<&EventRun> = r
        .sweep
        .iter()
        .filter(|s| s.tool == tool)
        .map(|s| &s.run)
        .collect();
    let onset = runs
        .iter()
        .filter(|x| x.lost > 0)
        .map(|x| x.rate_achieved())
        .min_by(|a, b| a.total_cmp(b));
    let max = runs
        .iter()
        .map(|x| x.rate_achieved())
        .fold(f64::NAN, f64::max);
    (onset, max)
}

pub fn markdown(
    cfg: &Config,
    r: &Results,
    pairs: &[PairOverhead],
    ctxs: &[CtxOverhead],
    stk: &Stacks,
) -> String {
    let mut m = String::new();
    let tracectl = cfg.tracectl.to_string_lossy().into_owned();
    let bpftrace = cfg.bpftrace.to_string_lossy().into_owned();
    let date = first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let rev = first_line("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    let _ = writeln!(m, "# tracectl benchmarks\n");
    let _ = writeln!(
        m,
        "Written by `scripts/bench.sh{}` on {date}{}; see bench/README.md for the method.\n",
        if cfg.quick { " --quick" } else { "" },
        if cfg.quick {
            " — a **quick smoke run**: too few iterations for the numbers to mean much"
        } else {
            ""
        }
    );
    let _ = writeln!(m, "| | |\n|---|---|");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let _ = writeln!(
        m,
        "| machine | {}, {cpus} CPUs, {} RAM |",
        cpu_model(),
        mem_gib()
    );
    let _ = writeln!(
        m,
        "| kernel | Linux {} (Debian {}) |",
        read_trim("/proc/sys/kernel/osrelease"),
        read_trim("/etc/debian_version")
    );
    let _ = writeln!(
        m,
        "| tracectl | {} (git {rev}{}), release build |",
        first_line(&tracectl, &["--version"]),
        if dirty {
            ", with uncommitted changes"
        } else {
            ""
        }
    );
    let _ = writeln!(
        m,
        "| bpftrace | {} |",
        first_line(&bpftrace, &["--version"])
    );
    let _ = writeln!(
        m,
        "| C floor | clang {}, libbpf {}, gcc {} |",
        first_line("dpkg-query", &["-W", "-f=${Version}", "clang-14"]),
        first_line("dpkg-query", &["-W", "-f=${Version}", "libbpf-dev"]),
        first_line("dpkg-query", &["-W", "-f=${Version}", "gcc"]),
    );
    let _ = writeln!(m, "| rustc | {} |", first_line("rustc", &["--version"]));
    let pinning = match (cfg.tracer_cpu, cfg.workload_cpu) {
        (Some(t), Some(w)) => format!("tracer on CPU {t}, workload on CPU {w}"),
        _ => "none".into(),
    };
    let _ = writeln!(
        m,
        "| settings | {} runs per start-up/compile median, {} repetitions × {} ms per event run, pinning: {pinning} |",
        cfg.runs,
        cfg.reps,
        cfg.duration.as_millis()
    );
    let loads: Vec<String> = r
        .quiet
        .iter()
        .map(|q| {
            format!(
                "{} {}{}{}",
                q.section,
                q.loadavg,
                if q.waited.as_secs() >= 3 {
                    format!(
                        " (after waiting {} s for builds to end)",
                        q.waited.as_secs()
                    )
                } else {
                    String::new()
                },
                if q.busy.is_empty() {
                    String::new()
                } else {
                    format!(" (busy: {})", q.busy.join(" "))
                }
            )
        })
        .collect();
    let _ = writeln!(
        m,
        "| load average when the run started | {} (later ones include the benchmark's own workload) |",
        r.start_loadavg
    );
    let _ = writeln!(m, "| load average at each section | {} |", loads.join("; "));
    let _ = writeln!(m, "| total time | {:.0} s |\n", r.elapsed.as_secs_f64());
    if !r.errors.is_empty() || !r.warnings.is_empty() {
        let _ = writeln!(m, "**Problems during this run:**\n");
        for e in &r.errors {
            let _ = writeln!(m, "- error: {e}");
        }
        for w in &r.warnings {
            let _ = writeln!(m, "- warning: {w}");
        }
        let _ = writeln!(m);
    }

    // ---- summary ----
    let _ = writeln!(m, "## Summary\n");
    let _ = writeln!(
        m,
        "Ratios are bpftrace ÷ tracectl (how many times faster or smaller tracectl is), \
         except the first per-event overhead row: tracectl ÷ the hand-written floor, and the \
         first pairing row: tracectl paired ÷ tracectl unpaired, and the first context row: \
         tracectl with context ÷ tracectl without.\n"
    );
    let _ = writeln!(
        m,
        "| # | measurement | tracectl | bpftrace | C/libbpf floor | ratio | goal | met |"
    );
    let _ = writeln!(m, "|---|---|---:|---:|---:|---:|---|---|");
    for s in &r.startup {
        let floor = if s.probes == 1 {
            s.attach_ms[2]
        } else {
            f64::NAN
        };
        let q = s.attach_ms[1] / s.attach_ms[0];
        let _ = writeln!(
            m,
            "| 1 | start → attached, {} probe{} | {} | {} | {} | {} | ≥ 15× | {} |",
            s.probes,
            if s.probes == 1 { "" } else { "s" },
            ms(s.attach_ms[0]),
            ms(s.attach_ms[1]),
            if floor.is_nan() { "".into() } else { ms(floor) },
            ratio(q),
            met(check(q, |v| v >= 15.0))
        );
    }
    for s in &r.startup {
        let q = s.cycle_ms[1] / s.cycle_ms[0];
        let _ = writeln!(
            m,
            "| 1 | load + attach + detach, {} probe{} | {} | {} | | {} | ≥ 15× | {} |",
            s.probes,
            if s.probes == 1 { "" } else { "s" },
            ms(s.cycle_ms[0]),
            ms(s.cycle_ms[1]),
            ratio(q),
            met(check(q, |v| v >= 15.0))
        );
    }
    for s in &r.startup {
        let q = s.run_rss_kib[1] / s.run_rss_kib[0];
        let floor = if s.probes == 1 {
            mib(s.run_rss_kib[2])
        } else {
            String::new()
        };
        let _ = writeln!(
            m,
            "| 2 | peak RSS, run (attached, then Ctrl-C), {} probe{} | {} | {} | {} | {} | ≥ 6× | {} |",
            s.probes,
            if s.probes == 1 { "" } else { "s" },
            mib(s.run_rss_kib[0]),
            mib(s.run_rss_kib[1]),
            floor,
            ratio(q),
            met(check(q, |v| v >= 6.0))
        );
    }
    for s in &r.startup {
        let q = s.cycle_rss_kib[1] / s.cycle_rss_kib[0];
        let _ = writeln!(
            m,
            "| 2 | peak RSS, load + attach + detach, {} probe{} | {} | {} | | {} | ≥ 6× | {} |",
            s.probes,
            if s.probes == 1 { "" } else { "s" },
            mib(s.cycle_rss_kib[0]),
            mib(s.cycle_rss_kib[1]),
            ratio(q),
            met(check(q, |v| v >= 6.0))
        );
    }
    let base = r.overhead_of(Tool::None).map(|o| o.median_ns());
    let added = |t: Tool| -> f64 {
        match (r.overhead_of(t), base) {
            (Some(o), Some(b)) => o.median_ns() - b,
            _ => f64::NAN,
        }
    };
    let (a_t, a_b, a_f) = (
        added(Tool::Tracectl),
        added(Tool::Bpftrace),
        added(Tool::Floor),
    );
    let q = a_t / a_f;
    let _ = writeln!(
        m,
        "| 3 | ns added per event (getppid, pid + comm to JSON) | {} | {} | {} | {} | ≤ 1.1× floor | {} |",
        ns(a_t),
        ns(a_b),
        ns(a_f),
        ratio(q),
        met(check(q, |v| v <= 1.1))
    );
    let q = a_b / a_t;
    let _ = writeln!(
        m,
        "| 3 | … bpftrace ÷ tracectl | | | | {} | far below bpftrace | {} |",
        ratio(q),
        met(check(q, |v| v >= 5.0))
    );
    let full = |t: Tool| r.overhead_of(t).map(|o| (o.delivered_rate(), o.total().2));
    let cell = |t: Tool| match full(t) {
        Some((v, lost)) => format!("{}, {} lost", rate(v), count(lost)),
        None => "–".into(),
    };
    let t_ok = full(Tool::Tracectl).map(|(v, lost)| v >= 1e6 && lost == 0);
    let _ = writeln!(
        m,
        "| 4 | events/s decoded to JSON Lines, flat-out workload | {} | {} | {} | {} | ≥ 1 M/s, 0 lost | {} |",
        cell(Tool::Tracectl),
        cell(Tool::Bpftrace),
        cell(Tool::Floor),
        ratio(
            full(Tool::Tracectl).map_or(f64::NAN, |v| v.0)
                / full(Tool::Bpftrace).map_or(f64::NAN, |v| v.0)
        ),
        met(t_ok)
    );
    let onset_cell = |t: Tool| {
        let (onset, max) = loss_onset(r, t);
        match onset {
            Some(v) => format!("from {}", rate(v)),
            None => format!("none up to {}", rate(max)),
        }
    };
    let _ = writeln!(
        m,
        "| 4 | event rate at which losses begin | {} | {} | {} | | | |",
        onset_cell(Tool::Tracectl),
        onset_cell(Tool::Bpftrace),
        onset_cell(Tool::Floor)
    );
    let times: Vec<f64> = r.compile.iter().map(|c| c.1).collect();
    let mx = times.iter().copied().fold(f64::NAN, f64::max);
    let _ = writeln!(
        m,
        "| 5 | `tracectl check` per spec: median / max over {} specs | {} / {} | | | | ≤ 20 ms each | {} |",
        times.len(),
        ms(median(times.clone())),
        ms(mx),
        met(check(mx, |v| v <= 20.0))
    );
    agg_summary(&mut m, r);
    pair_summary(&mut m, pairs);
    ctx_summary(&mut m, ctxs);
    stacks_summary(&mut m, stk);
    let _ = writeln!(m);

    // ---- details ----
    let _ = writeln!(m, "## 1–2. Start-up and memory\n");
    let _ = writeln!(
        m,
        "Specs: tracepoints `syscalls:sys_enter_{{{}}}` (the first 1, 2 or 8), each \
         capturing pid and comm. tracectl: `tracectl run -o json --time none -e '…{{ pid, comm }}'`; \
         bpftrace: `bpftrace -e '… {{ {} }} BEGIN {{ printf(\"{}\\n\"); }}'` (BEGIN fires once \
         every probe is attached, so bpftrace attaches one probe more). \
         *Start → attached*: from spawn to the arrival of tracectl's `tracectl: attached` stderr \
         line / bpftrace's BEGIN line, then SIGINT. *Load + attach + detach*: spawn → exit of \
         `tracectl check --load -e …` / `bpftrace -e '… BEGIN {{ exit(); }}'`. Medians of {} runs, \
         tools interleaved. Peak RSS is the child's `ru_maxrss` (wait4).\n",
        SYSCALLS.join(","),
        BPFTRACE_SHORT,
        BPFTRACE_MARKER,
        cfg.runs
    );
    let _ = writeln!(
        m,
        "| probes | tool | start → attached | peak RSS (run) | load + attach + detach | peak RSS (cycle) |"
    );
    let _ = writeln!(m, "|---:|---|---:|---:|---:|---:|");
    for s in &r.startup {
        for t in [Tool::Tracectl, Tool::Bpftrace, Tool::Floor] {
            let c = col(t);
            if s.attach_ms[c].is_nan() && s.cycle_ms[c].is_nan() {
                continue;
            }
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} |",
                s.probes,
                t.name(),
                ms(s.attach_ms[c]),
                mib(s.run_rss_kib[c]),
                ms(s.cycle_ms[c]),
                mib(s.cycle_rss_kib[c])
            );
        }
    }
    let _ = writeln!(
        m,
        "\nThe C/libbpf floor (one probe, a compiled-in program: no compiler, no BTF \
         parsing) shows what the kernel part of attaching costs.\n"
    );
    let _ = writeln!(m, "## 3. Per-event overhead\n");
    let _ = writeln!(
        m,
        "The workload (bench/c/workload.c) calls getppid(2) back to back for {} ms, pinned to \
         its own CPU, and times its loop; the tracer, pinned to the other CPU, traces \
         `syscalls:sys_enter_getppid` of that pid only and writes pid and comm as JSON: \
         tracectl `run --pid P -o json --time none` and the floor (bench/c/floor.*, \
         ring buffer, same wakeup policy as tracectl) to /dev/null, bpftrace \
         (`/pid == P/ {{ printf(…) }}`) to a pipe counted by the harness. Every run checks \
         that received + lost = calls made. Median of {} repetitions.\n",
        cfg.duration.as_millis(),
        cfg.reps
    );
    let _ = writeln!(
        m,
        "| tool | ns per getppid | ns added | calls | received | lost | tracer CPU per event | tracer peak RSS |"
    );
    let _ = writeln!(m, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for o in &r.overhead {
        let (calls, recv, lost) = o.total();
        let traced = o.tool != Tool::None;
        let rss = median(o.runs.iter().map(|x| x.tracer_rss_kib as f64).collect());
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            o.tool.name(),
            ns(o.median_ns()),
            if traced {
                ns(base.map_or(f64::NAN, |b| o.median_ns() - b))
            } else {
                String::new()
            },
            count(calls),
            if traced { count(recv) } else { String::new() },
            if traced { count(lost) } else { String::new() },
            if traced {
                ns(o.cpu_ns_per_event())
            } else {
                String::new()
            },
            if traced { mib(rss) } else { String::new() },
        );
    }
    let _ = writeln!(
        m,
        "\n*Tracer CPU per event* is the tracer's user + system CPU time (wait4) less that of a \
         run without events, divided by the events received: the consumer's cost, \
         1e9 ÷ it is the rate one CPU can decode.\n"
    );
    let _ = writeln!(m, "## 4. Throughput and losses\n");
    let _ = writeln!(
        m,
        "The same workload paced at a target rate (spinning on the clock between calls) for \
         {} ms, then flat out; the achieved rate is what the workload managed under the tracer. \
         Lost = records the tool reported it could not deliver (tracectl and the floor: ring \
         buffer full, counted in the kernel; bpftrace: its `Lost N events` lines).\n",
        cfg.duration.as_millis()
    );
    let _ = writeln!(
        m,
        "| tool | target rate | achieved rate | calls | received | lost |"
    );
    let _ = writeln!(m, "|---|---:|---:|---:|---:|---:|");
    for s in &r.sweep {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} |",
            s.tool.name(),
            if s.run.rate == 0 {
                "flat out".into()
            } else {
                rate(s.run.rate as f64)
            },
            rate(s.run.rate_achieved()),
            count(s.run.calls),
            count(s.run.received),
            count(s.run.lost)
        );
    }
    let _ = writeln!(m, "\n## 5. Compile\n");
    let _ = writeln!(
        m,
        "`tracectl check SPEC` (parse, resolve against kernel BTF and tracefs, check, lower), \
         spawn → exit, median of {} runs.\n",
        cfg.runs
    );
    let _ = writeln!(m, "| spec | median |\n|---|---:|");
    for (f, t) in &r.compile {
        let _ = writeln!(m, "| specs/{f} | {} |", ms(*t));
    }
    let _ = writeln!(m);
    agg_details(&mut m, cfg, r);
    if !pairs.is_empty() {
        pair_details(&mut m, cfg, pairs);
    }
    if !ctxs.is_empty() {
        ctx_details(&mut m, cfg, ctxs);
    }
    if !stk.is_empty() {
        stacks_details(&mut m, cfg, stk);
    }
    m
}

/// Median ns per call of `case` by `tool`, less the untraced median.
fn agg_added(r: &Results, case: Case, tool: Tool) -> f64 {
    let med = |t: Tool| {
        r.agg
            .iter()
            .find(|a| a.case == case && a.o.tool == t)
            .filter(|a| !a.o.runs.is_empty())
            .map_or(f64::NAN, |a| a.o.median_ns())
    };
    med(tool) - med(Tool::None)
}

/// The summary rows of section 6.
fn agg_summary(m: &mut String, r: &Results) {
    for (case, goal) in [
        (Case::Count, Some(2.0)),
        (Case::CountHot, Some(4.0)),
        (Case::Hist, None),
    ] {
        let (t, b) = (
            agg_added(r, case, Tool::Tracectl),
            agg_added(r, case, Tool::Bpftrace),
        );
        let q = b / t;
        let _ = writeln!(
            m,
            "| 6 | ns added per event, {} | {} | {} | | {} | {} | {} |",
            case.label(),
            ns(t),
            ns(b),
            ratio(q),
            goal.map_or(String::new(), |g| format!("≥ {g:.0}× lower than bpftrace")),
            goal.map_or("", |g| met(check(q, |v| v >= g)))
        );
    }
    let (bpf, _) = print_cost(r, Printer::Bpftrace);
    for printer in [Printer::TracectlTable, Printer::TracectlJson] {
        let (cost, _) = print_cost(r, printer);
        let table = printer == Printer::TracectlTable;
        let _ = writeln!(
            m,
            "| 6 | one print of {} keys ({}) | {} | {} | | {} | ≤ 20 ms | {} |",
            count(PRINT_KEYS),
            if table {
                "table; bpftrace: its text"
            } else {
                "JSON Lines"
            },
            ms(cost),
            if table { ms(bpf) } else { String::new() },
            if table {
                ratio(bpf / cost)
            } else {
                String::new()
            },
            met(check(cost, |v| v <= 20.0))
        );
    }
}

/// Section 6 of the details.
fn agg_details(m: &mut String, cfg: &Config, r: &Results) {
    let _ = writeln!(m, "## 6. Aggregations\n");
    let _ = writeln!(
        m,
        "**Per-event cost.** The workload runs flat out for {} ms and times its loops; the \
         tracer counts in a kernel map and prints once, at exit (SIGINT). \
         `count() by comm`: getppid(2), traced by `tracectl run -o json --pid P -e \
         '{}'` and `bpftrace -e '… /pid == P/ {{ @[comm] = count(); }}'`; on one CPU \
         (workload on CPU {}, tracer on the other), and with {HOT_THREADS} threads of one \
         process — one comm, so one hot key — each pinned to its own CPU (ns per call is then \
         the threads' loop time summed over their calls, the cost of a call on one CPU). \
         `hist(policy)`: sched_get_priority_max(i % {}) (a system call cheaper still than getppid; its `policy` \
         argument spreads over 15 power-of-two buckets), traced by `tracectl … -e '{}'` and \
         `bpftrace -e '… /pid == P/ {{ @ = hist(args->policy); }}'`; its untraced baseline is its \
         own. ns added = traced − untraced ns per call, median of {} repetitions, the cases and \
         tools interleaved. Every run checks the printed counts (or buckets) against the calls \
         made and that `by comm` printed exactly one key.\n",
        cfg.duration.as_millis(),
        Case::Count.tracectl_prog(),
        cfg.workload_cpu.map_or("any".into(), |c| c.to_string()),
        count(HIST_KEYS),
        Case::Hist.tracectl_prog(),
        cfg.reps,
    );
    let _ = writeln!(
        m,
        "| case | tool | ns per call | ns added | calls | counted | not counted | tracer peak RSS |"
    );
    let _ = writeln!(m, "|---|---|---:|---:|---:|---:|---:|---:|");
    for a in &r.agg {
        let (calls, recv, lost) = a.o.total();
        let traced = a.o.tool != Tool::None;
        let rss = median(a.o.runs.iter().map(|x| x.tracer_rss_kib as f64).collect());
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            a.case.label(),
            a.o.tool.name(),
            ns(if a.o.runs.is_empty() {
                f64::NAN
            } else {
                a.o.median_ns()
            }),
            if traced {
                ns(agg_added(r, a.case, a.o.tool))
            } else {
                String::new()
            },
            count(calls),
            if traced { count(recv) } else { String::new() },
            if traced { count(lost) } else { String::new() },
            if traced { mib(rss) } else { String::new() },
        );
    }
    let _ = writeln!(
        m,
        "\n**One print of {} keys.** `… {{ n = count() }} by policy` with `--max-keys {}` \
         (bpftrace: `@[args->policy] = count()` with `BPFTRACE_MAP_KEYS_MAX={}`), the workload \
         making {} calls spread over {} policies or all on one; then SIGINT, and the time \
         until the last line of the print reached the harness (through a pipe), and until \
         the tracer exited (detaching included: closing a syscall tracepoint waits for kernel \
         RCU grace periods, tens of ms; see bench/analysis.md). \
         The print's cost is the {}-key median less the 1-key one, which holds what does \
         not depend on the keys: the signal, the last drain and a one-row print (bpftrace also \
         detaches its probes before it prints, hence its long 1-key time). Medians of {} runs; \
         each checks that the print has one row per key and that the counts add up to the \
         calls.\n",
        count(PRINT_KEYS),
        PRINT_MAX_KEYS,
        PRINT_MAX_KEYS,
        count(PRINT_KEYS * PRINT_CALLS_PER_KEY),
        count(PRINT_KEYS),
        count(PRINT_KEYS),
        cfg.runs
    );
    let _ = writeln!(
        m,
        "| printer | keys | SIGINT → last line | SIGINT → exit | print of {} keys |",
        count(PRINT_KEYS)
    );
    let _ = writeln!(m, "|---|---:|---:|---:|---:|");
    for p in &r.prints {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} |",
            p.printer.label(),
            count(p.keys),
            ms(p.to_last_ms()),
            ms(p.to_exit_ms()),
            if p.keys == PRINT_KEYS {
                ms(print_cost(r, p.printer).0)
            } else {
                String::new()
            }
        );
    }
    let _ = writeln!(m);
}

/// ns added by case `name` by tracectl and by bpftrace, and by case `base`
/// by tracectl.
fn against_base<X>(all: &[CaseOverhead<X>], name: &str, base: &str) -> [f64; 3] {
    [
        cases::added(all, name, Tool::Tracectl),
        cases::added(all, name, Tool::Bpftrace),
        cases::added(all, base, Tool::Tracectl),
    ]
}

/// The summary row of section `n` for case `name`: tracectl's and
/// bpftrace's ns added, "`what` (`without`: base ns)", and tracectl's ÷
/// case `base`'s (the same probe without what it measures) against the
/// goal (its text, and the highest ratio that meets it). Returns
/// tracectl's and bpftrace's ns added.
fn against_base_row<X>(
    m: &mut String,
    n: u8,
    all: &[CaseOverhead<X>],
    [name, base]: [&str; 2],
    [what, without]: [&str; 2],
    goal: (&str, f64),
) -> [f64; 2] {
    let [t, b, base] = against_base(all, name, base);
    let q = t / base;
    let _ = writeln!(
        m,
        "| {n} | {what} ({without}: {}) | {} | {} | | {} | {} | {} |",
        ns(base),
        ns(t),
        ns(b),
        ratio(q),
        goal.0,
        met(check(q, |v| v <= goal.1))
    );
    [t, b]
}

/// The summary rows of section 7.
fn pair_summary(m: &mut String, pairs: &[PairOverhead]) {
    if pairs.is_empty() {
        return;
    }
    let what = "ns added per event, paired getppid (enter+exit) to JSON";
    let goal = ("≤ 2× an unpaired event", 2.0);
    let [t, b] = against_base_row(
        m,
        7,
        pairs,
        [pair::JSON, pair::UNPAIRED],
        [what, "unpaired"],
        goal,
    );
    let q = b / t;
    let _ = writeln!(
        m,
        "| 7 | … bpftrace ÷ tracectl | | | | {} | ≥ 10× less than bpftrace's printf equivalent | {} |",
        ratio(q),
        met(check(q, |v| v >= 10.0))
    );
    let [t, b, _] = against_base(pairs, pair::HIST, pair::UNPAIRED);
    let _ = writeln!(
        m,
        "| 7 | ns added per event, paired getppid, `hist(latency)` | {} | {} | | {} | | |",
        ns(t),
        ns(b),
        ratio(b / t)
    );
}

/// The summary rows of section 8.
fn ctx_summary(m: &mut String, ctxs: &[CtxOverhead]) {
    if ctxs.is_empty() {
        return;
    }
    let what = "ns added per event, getppid with ppid + 3 namespaces + a name, to JSON";
    let goal = ("≤ 1.5× the plain event", 1.5);
    let [t, b] = against_base_row(
        m,
        8,
        ctxs,
        [ctx::CONTEXT, ctx::PLAIN],
        [what, "without"],
        goal,
    );
    let _ = writeln!(
        m,
        "| 8 | … bpftrace ÷ tracectl | | | | {} | far below bpftrace's printf equivalent (no number set) | |",
        ratio(b / t),
    );
}

/// An extra column of a section's table: its heading, and its cell of a row.
type Column<'a, X> = (&'a str, &'a dyn Fn(&CaseOverhead<X>) -> String);

/// A section's table: per case and tool, ns per call and added, calls,
/// records, losses, then `extra` columns (a heading and a cell), then the
/// tracer's CPU per event (cases that deliver records) and peak RSS.
fn case_table<X>(m: &mut String, all: &[CaseOverhead<X>], extra: &[Column<X>]) {
    let mut head =
        String::from("| case | tool | ns per call | ns added | calls | received | lost |");
    for (h, _) in extra {
        let _ = write!(head, " {h} |");
    }
    let _ = writeln!(m, "{head} tracer CPU per event | tracer peak RSS |");
    let _ = writeln!(m, "|---|---|{}", "---:|".repeat(5 + extra.len() + 2));
    for a in all {
        let (calls, recv, lost) = a.o.total();
        let traced = a.o.tool != Tool::None;
        let rss = median(a.o.runs.iter().map(|x| x.tracer_rss_kib as f64).collect());
        let opt = |show: bool, s: String| if show { s } else { String::new() };
        let mut row = format!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            a.case.label,
            a.o.tool.name(),
            ns(if a.o.runs.is_empty() {
                f64::NAN
            } else {
                a.o.median_ns()
            }),
            opt(traced, ns(cases::added(all, a.case.name, a.o.tool))),
            count(calls),
            opt(traced, count(recv)),
            opt(traced, count(lost)),
        );
        for (_, cell) in extra {
            let _ = write!(row, " {} |", cell(a));
        }
        // The histogram cases deliver nothing per event.
        let _ = writeln!(
            m,
            "{row} {} | {} |",
            opt(
                traced && a.case.delivers == cases::Delivers::Records,
                ns(a.o.cpu_ns_per_event())
            ),
            opt(traced, mib(rss)),
        );
    }
}

/// Section 7 of the details.
fn pair_details(m: &mut String, cfg: &Config, pairs: &[PairOverhead]) {
    let s = pair::section();
    let _ = writeln!(m, "## 7. Start/end pairing\n");
    let _ = writeln!(
        m,
        "The workload calls getppid(2) back to back for {} ms (pinned to CPU {}, the tracer on \
         the other one), untraced and traced, each case and tool interleaved in every \
         repetition. *Unpaired*: section 3's tracectl run, `{}` (`--pid P -o json --time none`, \
         to /dev/null), measured again here so that the ratio is of one run. *Paired, to JSON*: \
         `tracectl run --pid P -o json --time none -e '{}'` to /dev/null (a record per call, and \
         per call a stash insert at the enter, a lookup and a delete at the exit), against \
         bpftrace's equivalent to a pipe counted by the harness: `{}` (a printf per call). \
         *Paired, hist*: `tracectl run --pid P -o json -e '{}'` against `… {{ @h = hist(nsecs - \
         @start[tid]); delete(@start[tid]); }}`, one print at exit (the funclatency shape). \
         ns added = traced − untraced ns per call, median of {} repetitions. Every run checks \
         that each call made one record (or one histogram count) and none was lost; tracectl's \
         pairing counts (its `{{\"pairing\":…}}` object on stderr) must say every call paired — \
         nothing evicted, replaced or still stashed, at most {} end without a start (a call in \
         flight when the end program attached; its call then makes no record: it is counted in \
         the table) — and bpftrace's `@start` must be empty at exit.\n",
        cfg.duration.as_millis(),
        cfg.workload_cpu.map_or("any".into(), |c| c.to_string()),
        s.case(pair::UNPAIRED).tracectl,
        s.case(pair::JSON).tracectl,
        s.case(pair::JSON)
            .bpftrace_prog(0)
            .lines()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
            .replace("pid == 0", "pid == P"),
        s.case(pair::HIST).tracectl,
        cfg.reps,
        UNMATCHED_TOLERATED,
    );
    let pc = |f: fn(&pair::PairCounts) -> u64| {
        move |a: &PairOverhead| pair::counts_total(a).map_or(String::new(), |c| count(f(&c)))
    };
    let (matched, evicted, replaced, unmatched, left) = (
        pc(|c| c.matched),
        pc(|c| c.evicted),
        pc(|c| c.replaced),
        pc(|c| c.unmatched_ends),
        pc(|c| c.stash_entries),
    );
    case_table(
        m,
        pairs,
        &[
            ("matched", &matched),
            ("evicted", &evicted),
            ("replaced", &replaced),
            ("ends without a start", &unmatched),
            ("left stashed", &left),
        ],
    );
    let _ = writeln!(
        m,
        "\n*Received* is records for the JSON cases, the histogram's total count for `hist`; \
         the pairing columns are tracectl's counts summed over the repetitions (bpftrace \
         reports none). *Tracer CPU per event* as in section 3.\n"
    );
}

/// Section 8 of the details.
fn ctx_details(m: &mut String, cfg: &Config, ctxs: &[CtxOverhead]) {
    let s = ctx::section();
    let _ = writeln!(m, "## 8. Context and names\n");
    let _ = writeln!(
        m,
        "The workload calls getppid(2) back to back for {} ms (pinned to CPU {}, the tracer on \
         the other one), untraced and traced, each case and tool interleaved in every \
         repetition. *Plain*: `tracectl run --pid P -o json --time none -e '{}'` (section 3's \
         program, measured again here so that the ratio is of one run). *Context*: `tracectl \
         run --pid P -o json --time none -e '{}'`: per call, `task->real_parent->tgid`, the \
         indexed hop `task->thread_pid->numbers[level].ns->ns.inum`, \
         `task->nsproxy->{{mnt,net}}_ns->ns.inum`, and `pid % 64` printed as a signal's name in \
         user space (the probe has no signal to name; `signal(pid)` would print the number); \
         against bpftrace's equivalent without the name, `{}` (bpftrace 0.17 cannot index \
         `numbers[]` by `level` at run time, nor index the flexible array at all: the cast \
         reads element 0, right in the initial pid namespace). Unlike sections 3 and 7, every tool's records — tracectl's too — go to a \
         pipe the harness reads and counts, so that it can check the first one. ns added = \
         traced − untraced ns per call, median of {} repetitions. Every run checks that each \
         call made one record and none was lost (tracectl's own count must equal the records \
         read), and the first record's values against the truth: the pid is the workload's, \
         the ppid the harness's (pid {}: the workload's parent), the namespaces the inodes of \
         `/proc/P/ns/{{pid,mnt,net}}`, the signal a name (tracectl).\n",
        cfg.duration.as_millis(),
        cfg.workload_cpu.map_or("any".into(), |c| c.to_string()),
        s.case(ctx::PLAIN).tracectl,
        s.case(ctx::CONTEXT).tracectl,
        s.case(ctx::CONTEXT)
            .bpftrace_prog(0)
            .lines()
            .next()
            .unwrap_or_default()
            .replace("pid == 0", "pid == P"),
        cfg.reps,
        std::process::id(),
    );
    case_table(m, ctxs, &[]);
    let _ = writeln!(
        m,
        "\nThe first record of each tool's last run with context:\n"
    );
    for a in ctxs.iter().filter(|a| a.case.name == ctx::CONTEXT) {
        if let Some(first) = a.extra.last() {
            let _ = writeln!(m, "- {}: `{first}`", a.o.tool.name());
        }
    }
    let _ = writeln!(m, "\n*Tracer CPU per event* as in section 3.\n");
}

/// A share of one core, in %.
fn pct(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v < 10.0 {
        format!("{v:.2} %")
    } else {
        format!("{v:.1} %")
    }
}

/// CPU during the window alone, % of one core: "< one tick" when no
/// tick was counted.
fn window_pct(a: &stacks::Sampling, window: std::time::Duration) -> String {
    let v = a.med(SampleRun::pct_window);
    if v == 0.0 {
        let tick = stacks::TICK.as_secs_f64() / window.as_secs_f64() * 100.0;
        format!("< {}", pct(tick))
    } else {
        pct(v)
    }
}

/// The summary rows of section 9.
fn stacks_summary(m: &mut String, s: &Stacks) {
    if s.is_empty() {
        return;
    }
    let secs = s.window.as_secs();
    if !s.sampling.is_empty() {
        for hz in stacks::RATES {
            let (t, b) = (s.pct(Tool::Tracectl, hz), s.pct(Tool::Bpftrace, hz));
            let goal = hz == stacks::GOAL_HZ;
            let _ = writeln!(
                m,
                "| 9 | own CPU, % of one core, `profile:hz:{hz}` by comm + ustack, both CPUs busy \
                 (whole process ÷ {secs} s window) | {} | {} | | {} | {} | {} |",
                pct(t),
                pct(b),
                ratio(b / t),
                if goal {
                    format!("≤ {:.0} % of one core", stacks::GOAL_PCT)
                } else {
                    String::new()
                },
                if goal {
                    met(check(t, |v| v <= stacks::GOAL_PCT))
                } else {
                    ""
                }
            );
            if goal {
                let q = b / t;
                let _ = writeln!(
                    m,
                    "| 9 | … bpftrace ÷ tracectl | | | | {} | ≤ bpftrace's | {} |",
                    ratio(q),
                    met(check(q, |v| v >= 1.0))
                );
            }
        }
    }
    let sym = s.symbolize_median_ms();
    let _ = writeln!(
        m,
        "| 9 | symbolize {} distinct user stacks (depth 20, cold symbolizer) | {} | | | | ≤ {:.0} ms | {} |",
        count(stacks::SYMBOLIZE_STACKS as u64),
        ms(sym),
        stacks::GOAL_SYMBOLIZE_MS,
        met(check(sym, |v| v <= stacks::GOAL_SYMBOLIZE_MS))
    );
}

/// Section 9 of the details.
fn stacks_details(m: &mut String, cfg: &Config, s: &Stacks) {
    let _ = writeln!(m, "## 9. Stacks and sampling\n");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let _ = writeln!(
        m,
        "**Sampling cost.** The workload of section 3 built with frame pointers \
         (`target/bench/workload-fp`, so that its user stacks unwind) calls getppid(2) flat out \
         with one thread pinned to each of the {cpus} CPUs, while the tracer (pinned to CPU {}) \
         samples every CPU: `tracectl run -o folded -e '{}'` and `bpftrace -e '{}'`, the same \
         at {} Hz; SIGINT {} s after the tool reported being attached. Both count in a kernel \
         map and print once, at exit, symbolizing the stacks then (the workload still runs \
         until the tracer has exited, so that its memory maps can be read). The tracer's \
         CPU time (user + system, all threads) is read from `/proc/PID/stat` when it is \
         attached and at SIGINT (in clock ticks of 10 ms: *< x %* is less than one tick), and from wait4 at exit: \
         *% of one core* is the **whole process's** CPU — start-up, the window, the final \
         symbolization and print, the detach — divided by the window, for both tools; \
         *window only* is the CPU between attached and SIGINT, the steady cost of sampling. \
         The BPF program itself runs in the sampled task's context (a perf event \
         interrupt): its cost is charged to the workload (or the idle task), not to the \
         tracer, and is not in these numbers. Median of {} runs, rates and tools \
         interleaved. Every run checks that the workload was sampled and, for tracectl, that \
         its stacks have named frames; *samples* are the counts printed, the workload's and \
         all (other processes and the idle task too); *keys* the comm + stack rows printed; \
         *stacks lost* samples without a stack (tracectl: its stack map was full or a hash \
         bucket taken, from its exit summary; bpftrace: `failed to look up stack id` errors).\n",
        cfg.tracer_cpu.map_or("none".into(), |c| c.to_string()),
        stacks::tracectl_prog(stacks::RATES[0]),
        stacks::bpftrace_prog(stacks::RATES[0])
            .lines()
            .next()
            .unwrap_or_default(),
        stacks::RATES[1],
        s.window.as_secs(),
        stacks::reps(cfg),
    );
    if !s.sampling.is_empty() {
        let _ = writeln!(
            m,
            "| rate | tool | % of one core | window only | CPU: start-up | window | after SIGINT | \
             SIGINT → exit | samples (workload / all) | keys | stacks lost | peak RSS |"
        );
        let _ = writeln!(
            m,
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for a in &s.sampling {
            let d =
                |f: fn(&SampleRun) -> std::time::Duration| ms(a.med(|r| f(r).as_secs_f64() * 1e3));
            let n = |f: fn(&SampleRun) -> u64| count(a.med(|r| f(r) as f64) as u64);
            let _ = writeln!(
                m,
                "| {} Hz | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} |",
                a.hz,
                a.tool.name(),
                pct(a.med(SampleRun::pct_total)),
                window_pct(a, s.window),
                d(|r| r.startup_cpu),
                d(|r| r.window_cpu),
                d(SampleRun::exit_cpu),
                d(|r| r.exit_wall),
                n(|r| r.printed.workload),
                n(|r| r.printed.samples),
                n(|r| r.printed.keys),
                n(|r| r.stacks_lost),
                mib(a.med(|r| r.rss_kib as f64)),
            );
        }
        let _ = writeln!(
            m,
            "\nThe CPU columns and counts are medians over the runs, each on its own (they \
             need not add up).\n"
        );
    }
    let _ = writeln!(
        m,
        "**Symbolization.** `tracectl::symbolize::symbolize_user_stacks({})` in the harness's \
         own process: {} distinct user stacks of depth 20, addresses spread over the text of \
         the harness's executable (`{}`, {}) and of libc, symbolized with a new symbolizer \
         each run (its caches cold: the files are opened and their symbol tables parsed \
         within the time; the page cache is warm after the first run). Runs: {}; median {}.\n",
        stacks::SYMBOLIZE_STACKS,
        count(stacks::SYMBOLIZE_STACKS as u64),
        s.exe,
        mib(s.exe_bytes as f64 / 1024.0),
        s.symbolize_ms
            .iter()
            .map(|v| ms(*v))
            .collect::<Vec<_>>()
            .join(", "),
        ms(s.symbolize_median_ms()),
    );
}
