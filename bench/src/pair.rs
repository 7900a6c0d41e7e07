//! Start/end pairing (spec-v2 section 3): the per-event cost of a paired
//! probe — `sys_enter_getppid => sys_exit_getppid`, a stash insert at the
//! enter, a lookup and a delete at the exit — against the same probe
//! unpaired (section 3's case, measured again here so that the ratio is of
//! one run) and against bpftrace's hand-written equivalent (`@start[tid] =
//! nsecs` … `delete(@start[tid])`); once making a JSON record per call, once
//! updating a latency histogram (the funclatency shape).
//!
//! Every run checks what the tools saw against the calls the workload made:
//! one record (or one histogram count) per call, none lost; tracectl's
//! pairing counts (its `{"pairing":…}` object on stderr) say every call
//! paired — nothing evicted, replaced or left in the stash, at most
//! [`UNMATCHED_TOLERATED`] end without a start — and bpftrace's `@start` map
//! is empty at exit.

use std::process::Command;
use std::time::Duration;

use crate::agg::drawn_hist_total;
use crate::measure::{
    bpftrace_lost, event_run, quiet, settle, traced_run, EventRun, Overhead, RawRun, Results, Tool,
    Tracer, Workload, BPFTRACE_MARKER,
};
use crate::Config;

/// The start and end probes of every paired case.
pub const START: &str = "tracepoint:syscalls:sys_enter_getppid";
pub const END: &str = "tracepoint:syscalls:sys_exit_getppid";
/// Ends without a start tolerated per run: a call in flight when the end
/// program attached before the start program would be one (the workload
/// makes no getppid call until the tracer is attached, so there should be
/// none; every one is shown in the report).
pub const UNMATCHED_TOLERATED: u64 = 1;
/// How bpftrace's printf of the JSON case starts a record (tracectl's go
/// to /dev/null and are counted by tracectl itself).
const EVENT_PREFIX: &str = "{\"pid\":";

/// One measurement of this section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// getppid with no tracer: the baseline of every case.
    Untraced,
    /// `sys_enter_getppid { pid, comm }` to JSON (section 3's case).
    Unpaired,
    /// `enter => exit { pid, comm, ns = latency }`: a JSON record per call.
    Json,
    /// `enter => exit { h = hist(latency) }`: a map update per call, one
    /// print at exit.
    Hist,
}

impl Case {
    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Case::Untraced => "untraced",
            Case::Unpaired => "unpaired, enter to JSON",
            Case::Json => "paired, enter+exit to JSON",
            Case::Hist => "paired, `hist(latency)`",
        }
    }

    /// A short name, for the raw JSON.
    pub fn name(self) -> &'static str {
        match self {
            Case::Untraced => "untraced",
            Case::Unpaired => "unpaired",
            Case::Json => "paired-json",
            Case::Hist => "paired-hist",
        }
    }

    /// The tracectl program (the workload's pid is given with `--pid`).
    pub fn tracectl_prog(self) -> String {
        match self {
            Case::Untraced => String::new(),
            Case::Unpaired => format!("{START} {{ pid, comm }}"),
            Case::Json => format!("{START} => {END} {{ pid, comm, ns = latency }}"),
            Case::Hist => format!("{START} => {END} {{ h = hist(latency) }}"),
        }
    }

    /// The bpftrace program, filtered to `pid`, with the line that says it
    /// is attached.
    pub fn bpftrace_prog(self, pid: i32) -> String {
        let end = match self {
            Case::Json => {
                r#"printf("{\"pid\":%d,\"comm\":\"%s\",\"ns\":%d}\n", pid, comm, nsecs - @start[tid]); delete(@start[tid]);"#
            }
            Case::Hist => "@h = hist(nsecs - @start[tid]); delete(@start[tid]);",
            Case::Untraced | Case::Unpaired => return String::new(),
        };
        format!(
            "{START} /pid == {pid}/ {{ @start[tid] = nsecs; }}\n\
             {END} /pid == {pid} && @start[tid]/ {{ {end} }}\n\
             BEGIN {{ printf(\"{BPFTRACE_MARKER}\\n\"); }}\n"
        )
    }
}

/// The (case, tool) runs of the section, in the order of each repetition.
pub const RUNS: [(Case, Tool); 6] = [
    (Case::Untraced, Tool::None),
    (Case::Unpaired, Tool::Tracectl),
    (Case::Json, Tool::Tracectl),
    (Case::Json, Tool::Bpftrace),
    (Case::Hist, Tool::Tracectl),
    (Case::Hist, Tool::Bpftrace),
];

/// tracectl's pairing counts of one paired probe: its `-o json` object on
/// stderr, `{"pairing":NAME,"matched":N,"evicted":N,"replaced":N,
/// "unmatched_ends":N,"stash_entries":N}` (and `"failed":N` when not 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairCounts {
    pub matched: u64,
    pub evicted: u64,
    pub replaced: u64,
    pub unmatched_ends: u64,
    pub stash_entries: u64,
    pub failed: u64,
}

impl PairCounts {
    fn add(&mut self, o: &PairCounts) {
        self.matched += o.matched;
        self.evicted += o.evicted;
        self.replaced += o.replaced;
        self.unmatched_ends += o.unmatched_ends;
        self.stash_entries += o.stash_entries;
        self.failed += o.failed;
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "matched": self.matched, "evicted": self.evicted, "replaced": self.replaced,
            "unmatched_ends": self.unmatched_ends, "stash_entries": self.stash_entries,
            "failed": self.failed,
        })
    }
}

/// The runs of one case by one tool.
#[derive(Debug, Clone)]
pub struct PairOverhead {
    pub case: Case,
    /// `received` = records (or histogram counts) the tool delivered,
    /// `lost` = records it reported lost.
    pub o: Overhead,
    /// tracectl's pairing counts of each run (paired cases only).
    pub counts: Vec<PairCounts>,
}

impl PairOverhead {
    /// The pairing counts summed over runs (`None`: not a tracectl pair).
    pub fn counts_total(&self) -> Option<PairCounts> {
        if self.counts.is_empty() {
            return None;
        }
        let mut t = PairCounts::default();
        for c in &self.counts {
            t.add(c);
        }
        Some(t)
    }
}

/// Median ns per call of `case` by `tool`, less the untraced median.
pub fn added(all: &[PairOverhead], case: Case, tool: Tool) -> f64 {
    let med = |c: Case, t: Tool| {
        all.iter()
            .find(|a| a.case == c && a.o.tool == t)
            .filter(|a| !a.o.runs.is_empty())
            .map_or(f64::NAN, |a| a.o.median_ns())
    };
    med(case, tool) - med(Case::Untraced, Tool::None)
}

/// The raw numbers, for machines.
pub fn raw_json(all: &[PairOverhead]) -> serde_json::Value {
    use serde_json::json;
    all.iter()
        .map(|a| {
            json!({
                "case": a.case.name(), "tool": a.o.tool.name(),
                "idle_cpu_ns": a.o.idle_cpu.as_nanos() as u64,
                "runs": a.o.runs.iter().enumerate().map(|(i, r)| json!({
                    "calls": r.calls, "ns": r.ns, "received": r.received, "lost": r.lost,
                    "tracer_cpu_ns": r.tracer_cpu.as_nanos() as u64,
                    "tracer_rss_kib": r.tracer_rss_kib,
                    "pairing": a.counts.get(i).map(PairCounts::json),
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

// ---- parsing what the tools printed ----------------------------------------------

/// tracectl's "tracectl: N events in S s, L lost…" summary: (N, L).
fn records_summary(lines: &[String]) -> Option<(u64, u64)> {
    let rest = lines.iter().rev().find_map(|l| {
        let rest = l.strip_prefix("tracectl: ")?;
        (rest.contains(" events in ") || rest.contains(" event in ")).then_some(rest)
    })?;
    let events = rest.split_whitespace().next()?.parse().ok()?;
    let mut lost = rest.split(", ").nth(1)?.split_whitespace();
    let n = lost.next()?.parse().ok()?;
    (lost.next() == Some("lost")).then_some((events, n))
}

/// The pairing objects tracectl printed on stderr (one per paired probe).
fn pairing_objects(lines: &[String]) -> Result<Vec<PairCounts>, String> {
    lines
        .iter()
        .filter(|l| l.starts_with("{\"pairing\":"))
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).map_err(|e| format!("tracectl printed `{l}`: {e}"))?;
            let n = |k: &str, required: bool| match v.get(k) {
                Some(x) => x
                    .as_u64()
                    .ok_or_else(|| format!("`{k}` is not a count in `{l}`")),
                None if required => Err(format!("no `{k}` in `{l}`")),
                None => Ok(0),
            };
            Ok(PairCounts {
                matched: n("matched", true)?,
                evicted: n("evicted", true)?,
                replaced: n("replaced", true)?,
                unmatched_ends: n("unmatched_ends", true)?,
                stash_entries: n("stash_entries", true)?,
                failed: n("failed", false)?,
            })
        })
        .collect()
}

/// The total of tracectl's JSON histogram `value` over its rows
/// (`{"time":…,"probe":…,"h":[{"min":128,"max":255,"count":12},…]}`).
fn json_hist_total(lines: &[String], value: &str) -> Result<(usize, u64), String> {
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

/// `@start[TID]: NS` lines: starts bpftrace still held at exit (it prints
/// every map when it ends; an empty one prints nothing).
fn bpftrace_left(lines: &[String]) -> u64 {
    lines.iter().filter(|l| l.starts_with("@start[")).count() as u64
}

// ---- checks ---------------------------------------------------------------------

/// What one run delivered, from the tool's own output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    pub calls: u64,
    /// Records (or histogram counts).
    pub received: u64,
    pub lost: u64,
    /// tracectl's pairing counts (paired cases).
    pub counts: Option<PairCounts>,
    /// Starts bpftrace still held at exit.
    pub left: u64,
}

/// Every call made one record (or one histogram count), none lost; a
/// tracectl pair reports every call paired: nothing evicted, replaced,
/// refused or left stashed, at most [`UNMATCHED_TOLERATED`] end without a
/// start (its call then made no record); bpftrace held no start at exit.
pub fn check(case: Case, tool: Tool, s: &Seen) -> Result<(), String> {
    let who = format!("{} ({})", tool.name(), case.name());
    if s.lost > 0 {
        return Err(format!(
            "{who}: {} of {} records reported lost",
            s.lost, s.calls
        ));
    }
    let unmatched = match (tool, case) {
        (Tool::Tracectl, Case::Json | Case::Hist) => {
            let Some(c) = s.counts else {
                return Err(format!("{who}: no pairing object on stderr"));
            };
            if c.evicted > 0
                || c.replaced > 0
                || c.failed > 0
                || c.stash_entries > 0
                || c.unmatched_ends > UNMATCHED_TOLERATED
            {
                return Err(format!(
                    "{who}: {} calls, pairing counts {c:?}: expected every call paired \
                     (at most {UNMATCHED_TOLERATED} end without a start)",
                    s.calls
                ));
            }
            if c.matched != s.received {
                return Err(format!(
                    "{who}: {} ends matched their start but {} records (or counts) arrived",
                    c.matched, s.received
                ));
            }
            c.unmatched_ends
        }
        (Tool::Bpftrace, _) if s.left > 0 => {
            return Err(format!(
                "{who}: {} starts still in @start at exit after {} calls",
                s.left, s.calls
            ));
        }
        _ => 0,
    };
    if s.received + unmatched != s.calls {
        return Err(format!(
            "{who}: the workload made {} calls but the tracer delivered {}{}",
            s.calls,
            s.received,
            if unmatched > 0 {
                format!(" ({unmatched} end without a start)")
            } else {
                String::new()
            }
        ));
    }
    Ok(())
}

// ---- runs ------------------------------------------------------------------------

/// One run of `case` by `tool` on workload `w`: the run, and tracectl's
/// pairing counts for a paired case. Errors when a tool fails or a check
/// does not hold.
fn pair_run(
    cfg: &Config,
    case: Case,
    tool: Tool,
    w: Workload,
) -> Result<(EventRun, Option<PairCounts>), String> {
    let dur = Duration::from_millis(w.max_ms);
    match (case, tool) {
        (Case::Untraced, _) | (_, Tool::None) => {
            return Ok((event_run(cfg, Tool::None, w.rate, dur)?, None))
        }
        (Case::Unpaired, Tool::Tracectl) => {
            // Section 3's run (it checks received + lost = calls).
            let run = event_run(cfg, Tool::Tracectl, w.rate, dur)?;
            let seen = Seen {
                calls: run.calls,
                received: run.received,
                lost: run.lost,
                ..Seen::default()
            };
            check(case, tool, &seen)?;
            return Ok((run, None));
        }
        (Case::Unpaired, _) | (_, Tool::Floor) => {
            return Err(format!(
                "no {} run of the pairing case {}",
                tool.name(),
                case.name()
            ))
        }
        _ => {}
    }
    let prog = case.tracectl_prog();
    let tracectl = |pid: i32| {
        let mut cmd = Command::new(&cfg.tracectl);
        cmd.args(["run", "-o", "json"]);
        if case == Case::Json {
            cmd.args(["--time", "none"]);
        }
        cmd.args(["--pid", &pid.to_string(), "-e", &prog]);
        cmd
    };
    let bpftrace = |pid: i32| {
        let mut cmd = Command::new(&cfg.bpftrace);
        cmd.args(["-e", &case.bpftrace_prog(pid)]);
        cmd
    };
    let is_bpftrace = tool == Tool::Bpftrace;
    let t = Tracer {
        tool,
        command: if is_bpftrace { &bpftrace } else { &tracectl },
        marker: if is_bpftrace {
            BPFTRACE_MARKER
        } else {
            "tracectl: attached"
        },
        marker_on_stdout: is_bpftrace,
        // tracectl's records go to /dev/null (it counts them itself), as in
        // section 3; its histogram and everything bpftrace prints are read.
        read_stdout: is_bpftrace || case == Case::Hist,
        event_prefix: (case == Case::Json).then_some(EVENT_PREFIX),
        keep: 1000,
        // Records arrive within tracectl's 100 ms poll; counts are in the
        // map as soon as the calls returned.
        drain: Duration::from_millis(if case == Case::Json { 400 } else { 50 }),
    };
    let raw: RawRun = traced_run(cfg, w, Some(&t))?;
    let mut run = EventRun {
        calls: raw.calls,
        ns: raw.ns,
        ..EventRun::default()
    };
    let Some(exit) = raw.exit else {
        return Err(format!("{} ({}): no exit status", tool.name(), case.name()));
    };
    run.tracer_cpu = exit.cpu;
    run.tracer_rss_kib = exit.maxrss_kib;
    let mut seen = Seen {
        calls: raw.calls,
        ..Seen::default()
    };
    let stderr = || raw.err.lines.join(" | ");
    match (tool, case) {
        (Tool::Tracectl, _) => {
            if case == Case::Json {
                let (events, lost) = records_summary(&raw.err.lines).ok_or_else(|| {
                    format!(
                        "tracectl (paired-json): no summary line on stderr: {}",
                        stderr()
                    )
                })?;
                seen.received = events;
                seen.lost = lost;
            } else {
                let (rows, total) = json_hist_total(&raw.out.lines, "h")?;
                // One row (none from a run without calls: an empty map
                // prints nothing).
                if rows > 1 {
                    return Err(format!(
                        "tracectl (paired-hist): {rows} histogram rows, not one: {}",
                        raw.out.lines.join(" | ")
                    ));
                }
                seen.received = total;
            }
            let objects = pairing_objects(&raw.err.lines)?;
            match objects.as_slice() {
                [c] => seen.counts = Some(*c),
                [] => {}
                _ => {
                    return Err(format!(
                        "tracectl ({}): {} pairing objects for one paired probe: {}",
                        case.name(),
                        objects.len(),
                        stderr()
                    ))
                }
            }
        }
        _ => {
            seen.received = if case == Case::Json {
                raw.out.events
            } else {
                drawn_hist_total(&raw.out.lines)
            };
            seen.lost = bpftrace_lost(&raw.out.lines);
            seen.left = bpftrace_left(&raw.out.lines);
        }
    }
    check(case, tool, &seen).map_err(|e| format!("{e}; stderr: {}", stderr()))?;
    run.received = seen.received;
    run.lost = seen.lost;
    Ok((run, seen.counts))
}

/// Section 7: every (case, tool) of [`RUNS`], interleaved within each
/// repetition so that drift hits them alike; first a run without events
/// per tracer (its fixed CPU cost). Skipped (the error is already reported)
/// when tracectl or the workload is missing.
pub fn pairing(cfg: &Config, r: &mut Results) -> Vec<PairOverhead> {
    if !cfg.tracectl.exists() || !cfg.workload.exists() {
        return Vec::new();
    }
    // A quiet machine, as before every section (recorded in the report).
    quiet(cfg, r, "start/end pairing");

    let mut all: Vec<PairOverhead> = RUNS
        .iter()
        .map(|&(case, tool)| PairOverhead {
            case,
            o: Overhead {
                tool,
                runs: Vec::new(),
                idle_cpu: Duration::ZERO,
            },
            counts: Vec::new(),
        })
        .collect();
    for a in all.iter_mut().filter(|a| a.o.tool != Tool::None) {
        match pair_run(
            cfg,
            a.case,
            a.o.tool,
            Workload::getppid(1, Duration::from_millis(1)),
        ) {
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
                "tracectl-bench: start/end pairing, {}, {} ({}/{})",
                a.case.name(),
                a.o.tool.name(),
                rep + 1,
                cfg.reps
            );
            match pair_run(cfg, a.case, a.o.tool, Workload::getppid(0, cfg.duration)) {
                Ok((run, counts)) => {
                    a.o.runs.push(run);
                    if let Some(c) = counts {
                        a.counts.push(c);
                    }
                }
                Err(e) => r.errors.push(e),
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    fn paired(calls: u64, received: u64, c: PairCounts) -> Seen {
        Seen {
            calls,
            received,
            counts: Some(c),
            ..Seen::default()
        }
    }

    #[test]
    fn programs() {
        assert_eq!(
            Case::Json.tracectl_prog(),
            "tracepoint:syscalls:sys_enter_getppid => tracepoint:syscalls:sys_exit_getppid \
             { pid, comm, ns = latency }"
        );
        assert_eq!(
            Case::Hist.tracectl_prog(),
            "tracepoint:syscalls:sys_enter_getppid => tracepoint:syscalls:sys_exit_getppid \
             { h = hist(latency) }"
        );
        assert_eq!(
            Case::Unpaired.tracectl_prog(),
            "tracepoint:syscalls:sys_enter_getppid { pid, comm }"
        );
        assert_eq!(
            Case::Json.bpftrace_prog(7),
            "tracepoint:syscalls:sys_enter_getppid /pid == 7/ { @start[tid] = nsecs; }\n\
             tracepoint:syscalls:sys_exit_getppid /pid == 7 && @start[tid]/ { \
             printf(\"{\\\"pid\\\":%d,\\\"comm\\\":\\\"%s\\\",\\\"ns\\\":%d}\\n\", pid, comm, \
             nsecs - @start[tid]); delete(@start[tid]); }\n\
             BEGIN { printf(\"bench: attached\\n\"); }\n"
        );
        assert_eq!(
            Case::Hist.bpftrace_prog(7),
            "tracepoint:syscalls:sys_enter_getppid /pid == 7/ { @start[tid] = nsecs; }\n\
             tracepoint:syscalls:sys_exit_getppid /pid == 7 && @start[tid]/ { \
             @h = hist(nsecs - @start[tid]); delete(@start[tid]); }\n\
             BEGIN { printf(\"bench: attached\\n\"); }\n"
        );
    }

    #[test]
    fn summaries() {
        let err = lines(
            "tracectl: attached 2 probes in 12.0 ms; Ctrl-C to stop\n\
             tracectl: sys_enter_getppid: 1520 matched, 1 end without a start\n\
             {\"pairing\":\"sys_enter_getppid\",\"matched\":1520,\"evicted\":0,\"replaced\":0,\
             \"unmatched_ends\":1,\"stash_entries\":0}\n\
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
        assert_eq!(
            pairing_objects(&err).unwrap(),
            vec![PairCounts {
                matched: 1520,
                unmatched_ends: 1,
                ..PairCounts::default()
            }]
        );
        let failed = lines(
            "{\"pairing\":\"p\",\"matched\":1,\"evicted\":2,\"replaced\":3,\
             \"unmatched_ends\":4,\"stash_entries\":5,\"failed\":6}",
        );
        assert_eq!(
            pairing_objects(&failed).unwrap(),
            vec![PairCounts {
                matched: 1,
                evicted: 2,
                replaced: 3,
                unmatched_ends: 4,
                stash_entries: 5,
                failed: 6
            }]
        );
        // Every count but `failed` is required.
        for key in [
            "matched",
            "evicted",
            "replaced",
            "unmatched_ends",
            "stash_entries",
        ] {
            let l = failed[0].replace(&format!("\"{key}\""), "\"other\"");
            assert!(pairing_objects(&[l]).is_err(), "{key}");
        }
        assert!(pairing_objects(&lines("{\"pairing\":\"p\",\"matched\":-1}")).is_err());
    }

    #[test]
    fn histograms() {
        let t = lines(
            r#"{"time":"t","probe":"p","h":[{"min":128,"max":255,"count":3},{"min":256,"max":511,"count":6}]}"#,
        );
        assert_eq!(json_hist_total(&t, "h").unwrap(), (1, 9));
        assert!(json_hist_total(&t, "x").is_err());
        let b = lines(
            "Attaching 3 probes...\nbench: attached\n\n\n@h: \n\
             [128, 256)             3 |@@@                                                 |\n\
             [256, 512)         12288 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n",
        );
        assert_eq!(drawn_hist_total(&b), 12_291);
        assert_eq!(bpftrace_left(&b), 0);
        assert_eq!(bpftrace_left(&lines("@start[812]: 123\n@h: \n")), 1);
        assert_eq!(bpftrace_lost(&lines("Lost 10 events\nLost 2 events")), 12);
    }

    #[test]
    fn checks() {
        let ok = PairCounts {
            matched: 100,
            ..PairCounts::default()
        };
        assert!(check(Case::Json, Tool::Tracectl, &paired(100, 100, ok)).is_ok());
        // One end without a start: its call made no record.
        let one = PairCounts {
            matched: 99,
            unmatched_ends: 1,
            ..PairCounts::default()
        };
        assert!(check(Case::Hist, Tool::Tracectl, &paired(100, 99, one)).is_ok());
        assert!(check(Case::Hist, Tool::Tracectl, &paired(100, 100, one)).is_err());
        let two = PairCounts {
            matched: 98,
            unmatched_ends: 2,
            ..PairCounts::default()
        };
        assert!(check(Case::Json, Tool::Tracectl, &paired(100, 98, two)).is_err());
        for bad in [
            PairCounts { evicted: 1, ..ok },
            PairCounts { replaced: 1, ..ok },
            PairCounts { failed: 1, ..ok },
            PairCounts {
                stash_entries: 1,
                ..ok
            },
        ] {
            assert!(
                check(Case::Json, Tool::Tracectl, &paired(100, 100, bad)).is_err(),
                "{bad:?}"
            );
        }
        // Fewer records than matched ends, or than calls.
        assert!(check(Case::Json, Tool::Tracectl, &paired(100, 99, ok)).is_err());
        let short = PairCounts { matched: 99, ..ok };
        assert!(check(Case::Json, Tool::Tracectl, &paired(100, 99, short)).is_err());
        // Records that no matched end made (the counts disagree).
        let fewer = PairCounts { matched: 98, ..ok };
        assert!(check(Case::Json, Tool::Tracectl, &paired(100, 100, fewer)).is_err());
        // No pairing object from a paired probe.
        let none = Seen {
            calls: 5,
            received: 5,
            ..Seen::default()
        };
        assert!(check(Case::Hist, Tool::Tracectl, &none).is_err());
        assert!(check(Case::Unpaired, Tool::Tracectl, &none).is_ok());
        assert!(check(Case::Json, Tool::Bpftrace, &none).is_ok());
        // Losses, and bpftrace's leftovers.
        let lost = Seen { lost: 1, ..none };
        assert!(check(Case::Unpaired, Tool::Tracectl, &lost).is_err());
        assert!(check(Case::Json, Tool::Bpftrace, &Seen { left: 1, ..none }).is_err());
        assert!(check(
            Case::Hist,
            Tool::Bpftrace,
            &Seen {
                received: 4,
                ..none
            }
        )
        .is_err());
        assert!(check(
            Case::Unpaired,
            Tool::Tracectl,
            &Seen {
                received: 6,
                ..none
            }
        )
        .is_err());
    }

    #[test]
    fn added_is_traced_less_untraced() {
        let o = |case, tool, ns| PairOverhead {
            case,
            o: Overhead {
                tool,
                runs: vec![EventRun {
                    calls: 10,
                    ns,
                    ..EventRun::default()
                }],
                idle_cpu: Duration::ZERO,
            },
            counts: Vec::new(),
        };
        let all = [
            o(Case::Untraced, Tool::None, 2_000),
            o(Case::Json, Tool::Tracectl, 9_000),
            o(Case::Json, Tool::Bpftrace, 90_000),
        ];
        assert_eq!(added(&all, Case::Json, Tool::Tracectl), 700.0);
        assert_eq!(added(&all, Case::Json, Tool::Bpftrace), 8_800.0);
        assert!(added(&all, Case::Hist, Tool::Tracectl).is_nan());
    }
}
