//! A section of cases: the per-event cost of a few tracer programs on the
//! getppid workload, against its untraced run, every case and tool
//! interleaved within each repetition so that drift hits them alike.
//!
//! A section is data — a list of [`Case`]s (label, name, tracectl program,
//! bpftrace program, what a call delivers) and its own checks of a run —
//! run by one loop, [`measure`]. Start/end pairing (`pair.rs`, section 7)
//! and context (`ctx.rs`, section 8) are two such sections.
//!
//! Every run checks what the tool saw against the calls the workload made:
//! none lost, and one record (or one histogram count) per call, less the
//! calls the section's check says may have made none.

use std::process::Command;
use std::time::Duration;

use crate::agg::drawn_hist_total;
use crate::measure::{
    bpftrace_lost, quiet, settle, traced_run, EventRun, Overhead, RawRun, Results, Tool, Tracer,
    Workload, BPFTRACE_MARKER,
};
use crate::Config;

/// How a JSON record starts: tracectl's (`{"probe":…`, then the fields) and
/// that of bpftrace's printf in every case (`{"pid":…`).
pub const TRACECTL_RECORD: &str = "{\"probe\":";
pub const BPFTRACE_RECORD: &str = "{\"pid\":";

/// What a traced call delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivers {
    /// Nothing: the untraced baseline.
    Nothing,
    /// A JSON record (tracectl: `-o json --time none`; bpftrace: a printf
    /// starting with [`BPFTRACE_RECORD`]).
    Records,
    /// A count in a histogram printed once at exit: tracectl's JSON row's
    /// `h`, bpftrace's drawn histogram.
    Hist,
}

/// One measurement of a section.
#[derive(Debug, Clone)]
pub struct Case {
    /// How the report names it.
    pub label: &'static str,
    /// A short name, for the raw JSON and the progress lines.
    pub name: &'static str,
    /// The tracectl program (the workload's pid is given with `--pid`).
    pub tracectl: String,
    /// The bpftrace program for the workload's pid, with the line that says
    /// it is attached.
    pub bpftrace: Option<fn(i32) -> String>,
    pub delivers: Delivers,
    /// tracectl's records go to a pipe the harness reads (and counts, and
    /// keeps the first of), else to /dev/null (tracectl counts them).
    pub read_records: bool,
    /// The tools that run it, in the order of each repetition.
    pub tools: &'static [Tool],
}

impl Case {
    /// The untraced baseline of every case.
    pub fn untraced() -> Case {
        Case {
            label: "untraced",
            name: "untraced",
            tracectl: String::new(),
            bpftrace: None,
            delivers: Delivers::Nothing,
            read_records: false,
            tools: &[Tool::None],
        }
    }

    /// Section 3's tracectl program, `sys_enter_getppid { pid, comm }` to
    /// JSON, measured again in a section so that its ratios are of one run.
    pub fn section3(label: &'static str, name: &'static str, read_records: bool) -> Case {
        Case {
            label,
            name,
            tracectl: "tracepoint:syscalls:sys_enter_getppid { pid, comm }".into(),
            bpftrace: None,
            delivers: Delivers::Records,
            read_records,
            tools: &[Tool::Tracectl],
        }
    }

    /// The bpftrace program for `pid` ("" when bpftrace does not run it).
    pub fn bpftrace_prog(&self, pid: i32) -> String {
        self.bpftrace.map_or_else(String::new, |f| f(pid))
    }
}

/// The `{ BEGIN … }` line every bpftrace program ends with.
pub fn bpftrace_marker() -> String {
    format!("BEGIN {{ printf(\"{BPFTRACE_MARKER}\\n\"); }}\n")
}

/// What one run delivered, for the checks.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub case: &'a Case,
    pub tool: Tool,
    /// The workload's pid and namespaces (`/proc/PID/ns/*` inodes: pid,
    /// mnt, net).
    pub pid: i32,
    pub ns: [u64; 3],
    pub calls: u64,
    /// Records (or histogram counts), and records reported lost.
    pub received: u64,
    pub lost: u64,
    /// The first record, when the harness read them.
    pub first: Option<&'a str>,
    /// The tool's stdout (when read; at most 1000 lines besides the
    /// records) and stderr.
    pub out: &'a [String],
    pub err: &'a [String],
}

impl Run<'_> {
    /// "tool (case)", for the errors.
    pub fn who(&self) -> String {
        format!("{} ({})", self.tool.name(), self.case.name)
    }
}

/// A section's verdict on one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked<X> {
    /// Calls that may have made no record (counted in the report).
    pub missing: u64,
    /// What the section keeps of the run.
    pub extra: Option<X>,
}

impl<X> Default for Checked<X> {
    fn default() -> Self {
        Checked {
            missing: 0,
            extra: None,
        }
    }
}

/// A section: its cases and its own checks of a run.
pub struct Section<X> {
    /// For the progress lines and the wait for a quiet machine.
    pub title: &'static str,
    pub cases: Vec<Case>,
    pub check: fn(&Run) -> Result<Checked<X>, String>,
}

impl<X> Section<X> {
    /// The case named `name` (a programming error if there is none).
    pub fn case(&self, name: &str) -> &Case {
        self.cases
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no case `{name}` in {}", self.title))
    }
}

/// The runs of one case by one tool.
#[derive(Debug, Clone)]
pub struct CaseOverhead<X> {
    pub case: Case,
    /// `received` = records (or histogram counts) the tool delivered,
    /// `lost` = records it reported lost.
    pub o: Overhead,
    /// What the section kept of each run (the runs it kept something of).
    pub extra: Vec<X>,
}

/// Median ns per call of case `name` by `tool`, less the untraced median.
pub fn added<X>(all: &[CaseOverhead<X>], name: &str, tool: Tool) -> f64 {
    let med = |n: &str, t: Tool| {
        all.iter()
            .find(|a| a.case.name == n && a.o.tool == t)
            .filter(|a| !a.o.runs.is_empty())
            .map_or(f64::NAN, |a| a.o.median_ns())
    };
    med(name, tool) - med("untraced", Tool::None)
}

/// The raw numbers, for machines; what the section kept of run i goes
/// under `key`.
pub fn raw_json<X>(
    all: &[CaseOverhead<X>],
    key: &str,
    extra: fn(&X) -> serde_json::Value,
) -> serde_json::Value {
    use serde_json::json;
    all.iter()
        .map(|a| {
            json!({
                "case": a.case.name, "tool": a.o.tool.name(),
                "idle_cpu_ns": a.o.idle_cpu.as_nanos() as u64,
                "runs": a.o.runs.iter().enumerate().map(|(i, r)| {
                    let mut v = json!({
                        "calls": r.calls, "ns": r.ns, "received": r.received, "lost": r.lost,
                        "tracer_cpu_ns": r.tracer_cpu.as_nanos() as u64,
                        "tracer_rss_kib": r.tracer_rss_kib,
                    });
                    v[key] = a.extra.get(i).map_or(serde_json::Value::Null, extra);
                    v
                }).collect::<Vec<_>>(),
            })
        })
        .collect()
}

// ---- parsing what the tools printed ----------------------------------------------

/// tracectl's "tracectl: N events in S s, L lost…" summary: (N, L).
pub fn records_summary(lines: &[String]) -> Option<(u64, u64)> {
    let rest = lines.iter().rev().find_map(|l| {
        let rest = l.strip_prefix("tracectl: ")?;
        (rest.contains(" events in ") || rest.contains(" event in ")).then_some(rest)
    })?;
    let events = rest.split_whitespace().next()?.parse().ok()?;
    let mut lost = rest.split(", ").nth(1)?.split_whitespace();
    let n = lost.next()?.parse().ok()?;
    (lost.next() == Some("lost")).then_some((events, n))
}

/// The total of tracectl's JSON histogram `value` over its rows
/// (`{"time":…,"probe":…,"h":[{"min":128,"max":255,"count":12},…]}`).
pub fn json_hist_total(lines: &[String], value: &str) -> Result<(usize, u64), String> {
    let mut rows = 0;
    let mut total = 0;
    for l in lines.iter().filter(|l| l.starts_with('{')) {
        let r: serde_json::Value =
            serde_json::from_str(l).map_err(|e| format!("tracectl printed `{l}`: {e}"))?;
        let buckets = r[value]
            .as_array()
            .ok_or_else(|| format!("tracectl row without a histogram `{value}`: {l}"))?;
        for b in buckets {
            total += b["count"]
                .as_u64()
                .ok_or_else(|| format!("tracectl bucket without a count: {b}"))?;
        }
        rows += 1;
    }
    Ok((rows, total))
}

/// Records (or counts) delivered and records lost, from the tool's output.
fn delivered(case: &Case, tool: Tool, raw: &RawRun) -> Result<(u64, u64), String> {
    let who = format!("{} ({})", tool.name(), case.name);
    match (tool, case.delivers) {
        (Tool::Tracectl, Delivers::Records) => {
            let (events, lost) = records_summary(&raw.err.lines).ok_or_else(|| {
                format!(
                    "{who}: no summary line on stderr: {}",
                    raw.err.lines.join(" | ")
                )
            })?;
            if case.read_records && raw.out.events != events {
                return Err(format!(
                    "{who}: tracectl counted {events} records but printed {}",
                    raw.out.events
                ));
            }
            Ok((events, lost))
        }
        (Tool::Tracectl, Delivers::Hist) => {
            let (rows, total) = json_hist_total(&raw.out.lines, "h")?;
            // One row (none from a run without calls: an empty map prints
            // nothing).
            if rows > 1 {
                return Err(format!(
                    "{who}: {rows} histogram rows, not one: {}",
                    raw.out.lines.join(" | ")
                ));
            }
            Ok((total, 0))
        }
        (_, Delivers::Records) => Ok((raw.out.events, bpftrace_lost(&raw.out.lines))),
        (_, Delivers::Hist) => Ok((
            drawn_hist_total(&raw.out.lines),
            bpftrace_lost(&raw.out.lines),
        )),
        (_, Delivers::Nothing) => Ok((0, 0)),
    }
}

/// None lost; the section's own checks; then every call made one record
/// (or one histogram count) but the `missing` ones the section allows.
pub fn check<X>(
    section_check: fn(&Run) -> Result<Checked<X>, String>,
    r: &Run,
) -> Result<Checked<X>, String> {
    let who = r.who();
    if r.lost > 0 {
        return Err(format!(
            "{who}: {} of {} records reported lost",
            r.lost, r.calls
        ));
    }
    let c = section_check(r)?;
    if r.received + c.missing != r.calls {
        return Err(format!(
            "{who}: the workload made {} calls but the tracer delivered {}{}",
            r.calls,
            r.received,
            if c.missing > 0 {
                format!(" ({} calls allowed to make none)", c.missing)
            } else {
                String::new()
            }
        ));
    }
    Ok(c)
}

// ---- runs ------------------------------------------------------------------------

/// One run of `case` by `tool` on workload `w`, checked: the run, and what
/// the section kept of it.
fn case_run<X>(
    cfg: &Config,
    section: &Section<X>,
    case: &Case,
    tool: Tool,
    w: Workload,
) -> Result<(EventRun, Option<X>), String> {
    let records = case.delivers == Delivers::Records;
    let tracectl = |pid: i32| {
        let mut cmd = Command::new(&cfg.tracectl);
        cmd.args(["run", "-o", "json"]);
        if records {
            cmd.args(["--time", "none"]);
        }
        cmd.args(["--pid", &pid.to_string(), "-e", &case.tracectl]);
        cmd
    };
    let bpftrace = |pid: i32| {
        let mut cmd = Command::new(&cfg.bpftrace);
        cmd.args(["-e", &case.bpftrace_prog(pid)]);
        cmd
    };
    let (command, marker, on_stdout, prefix): (&dyn Fn(i32) -> Command, _, _, _) = match tool {
        Tool::None => (&tracectl, "", false, ""),
        Tool::Tracectl if !case.tracectl.is_empty() => {
            (&tracectl, "tracectl: attached", false, TRACECTL_RECORD)
        }
        Tool::Bpftrace if case.bpftrace.is_some() => {
            (&bpftrace, BPFTRACE_MARKER, true, BPFTRACE_RECORD)
        }
        _ => return Err(format!("no {} run of the case {}", tool.name(), case.name)),
    };
    let t = Tracer {
        tool,
        command,
        marker,
        marker_on_stdout: on_stdout,
        // tracectl's records go to /dev/null unless the case reads them;
        // its histogram and everything bpftrace prints are read.
        read_stdout: on_stdout || case.read_records || case.delivers == Delivers::Hist,
        event_prefix: records.then_some(prefix),
        keep: 1000,
        // Records arrive within tracectl's 100 ms poll; counts are in the
        // map as soon as the calls returned.
        drain: Duration::from_millis(if records { 400 } else { 50 }),
    };
    let traced = tool != Tool::None;
    let raw: RawRun = traced_run(cfg, w, traced.then_some(&t))?;
    let mut run = EventRun {
        calls: raw.calls,
        ns: raw.ns,
        ..EventRun::default()
    };
    if !traced {
        return Ok((run, None));
    }
    let Some(exit) = raw.exit else {
        return Err(format!("{} ({}): no exit status", tool.name(), case.name));
    };
    run.tracer_cpu = exit.cpu;
    run.tracer_rss_kib = exit.maxrss_kib;
    (run.received, run.lost) = delivered(case, tool, &raw)?;
    let r = Run {
        case,
        tool,
        pid: raw.pid,
        ns: raw.ns_inodes,
        calls: raw.calls,
        received: run.received,
        lost: run.lost,
        first: raw.out.first_event.as_deref(),
        out: &raw.out.lines,
        err: &raw.err.lines,
    };
    let c = check(section.check, &r)
        .map_err(|e| format!("{e}; stderr: {}", raw.err.lines.join(" | ")))?;
    Ok((run, c.extra))
}

/// Every (case, tool) of the section, interleaved within each repetition;
/// first a run without events per tracer (its fixed CPU cost). Skipped (the
/// error is already reported) when tracectl or the workload is missing.
pub fn measure<X>(cfg: &Config, r: &mut Results, section: &Section<X>) -> Vec<CaseOverhead<X>> {
    if !cfg.tracectl.exists() || !cfg.workload.exists() {
        return Vec::new();
    }
    // A quiet machine, as before every section (recorded in the report).
    quiet(cfg, r, section.title);

    let mut all: Vec<CaseOverhead<X>> = section
        .cases
        .iter()
        .flat_map(|c| c.tools.iter().map(move |&t| (c, t)))
        .map(|(case, tool)| CaseOverhead {
            case: case.clone(),
            o: Overhead {
                tool,
                runs: Vec::new(),
                idle_cpu: Duration::ZERO,
            },
            extra: Vec::new(),
        })
        .collect();
    for a in all.iter_mut().filter(|a| a.o.tool != Tool::None) {
        let idle = Workload::getppid(1, Duration::from_millis(1));
        match case_run(cfg, section, &a.case, a.o.tool, idle) {
            Ok((run, _)) => a.o.idle_cpu = run.tracer_cpu,
            Err(e) => r.errors.push(e),
        }
    }
    for rep in 0..cfg.reps {
        if rep > 0 {
            settle(cfg);
        }
        for a in all.iter_mut() {
            eprintln!(
                "tracectl-bench: {}, {}, {} ({}/{})",
                section.title,
                a.case.name,
                a.o.tool.name(),
                rep + 1,
                cfg.reps
            );
            let w = Workload::getppid(0, cfg.duration);
            match case_run(cfg, section, &a.case, a.o.tool, w) {
                Ok((run, extra)) => {
                    a.o.runs.push(run);
                    a.extra.extend(extra);
                }
                Err(e) => r.errors.push(e),
            }
        }
    }
    all
}

/// A run of `case` by tracectl for the tests: workload 7 in namespaces 1,
/// 2, 3; `received` of `calls` delivered, none lost, nothing printed.
#[cfg(test)]
pub fn test_run(case: &Case, calls: u64, received: u64) -> Run<'_> {
    Run {
        case,
        tool: Tool::Tracectl,
        pid: 7,
        ns: [1, 2, 3],
        calls,
        received,
        lost: 0,
        first: None,
        out: &[],
        err: &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_run as run;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn summaries() {
        let err = lines(
            "tracectl: attached 2 probes in 12.0 ms; Ctrl-C to stop\n\
             tracectl: 1520 events in 1.5 s, 3 lost (interrupted)",
        );
        assert_eq!(records_summary(&err), Some((1520, 3)));
        assert_eq!(
            records_summary(&lines("tracectl: 1 event in 0.2 s, 0 lost")),
            Some((1, 0))
        );
        assert_eq!(
            records_summary(&lines("tracectl: aggregated for 1.0 s")),
            None
        );
    }

    #[test]
    fn histograms() {
        let t = lines(
            r#"{"time":"t","probe":"p","h":[{"min":128,"max":255,"count":3},{"min":256,"max":511,"count":6}]}"#,
        );
        assert_eq!(json_hist_total(&t, "h").unwrap(), (1, 9));
        assert!(json_hist_total(&t, "x").is_err());
    }

    #[test]
    fn checks() {
        let case = Case::untraced();
        let ok = |_: &Run| Ok(Checked::<()>::default());
        let one = |_: &Run| {
            Ok(Checked::<()> {
                missing: 1,
                extra: None,
            })
        };
        let no = |r: &Run| Err::<Checked<()>, _>(format!("{}: no", r.who()));
        assert!(check(ok, &run(&case, 5, 5)).is_ok());
        assert!(check(ok, &run(&case, 5, 4)).is_err());
        assert!(check(ok, &run(&case, 5, 6)).is_err());
        assert!(check(one, &run(&case, 5, 4)).is_ok());
        assert!(check(one, &run(&case, 5, 5)).is_err());
        assert!(check(no, &run(&case, 5, 5)).is_err());
        let lost = Run {
            lost: 1,
            ..run(&case, 5, 5)
        };
        assert!(check(ok, &lost).is_err());
    }
}
