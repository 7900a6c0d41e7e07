//! Aggregations (spec-v2 section 2): the per-event cost of updating an
//! in-kernel map instead of sending a record — `count() by comm` on one CPU
//! and with every CPU on one hot key, and `hist()` — against bpftrace's
//! `@[comm] = count()` and `@ = hist()`; and the time one print of a
//! 10 000-key map takes, tracectl (table and JSON) against bpftrace.
//!
//! Every run checks the printed values against the calls the workload made:
//! the counts (or histogram buckets) add up to the calls, minus what
//! tracectl reported it could not count, and the map has the expected
//! number of keys.

use std::process::Command;
use std::time::Duration;

use crate::measure::{
    median, settle, traced_run, EventRun, Overhead, RawRun, Results, Tool, Tracer, Workload,
    BPFTRACE_MARKER,
};
use crate::Config;

/// Workload threads of the hot-key case (one per CPU on this machine).
pub const HOT_THREADS: u64 = 2;
/// Distinct arguments of the `hist()` workload (sched_get_priority_max(i % K)).
pub const HIST_KEYS: u64 = 10_000;
/// Keys of the map printed by the print measurement.
pub const PRINT_KEYS: u64 = 10_000;
/// Calls per key the print workload makes (so a 1-key run makes as many).
pub const PRINT_CALLS_PER_KEY: u64 = 10;
/// `--max-keys` / `BPFTRACE_MAP_KEYS_MAX` of the print runs.
pub const PRINT_MAX_KEYS: u64 = 16_384;
/// Lines kept of a tracer's output (a 10 000-key print and some).
const KEEP_LINES: usize = 100_000;
/// The workload's comm (its executable's name): the one key of `by comm`.
const WORKLOAD_COMM: &str = "workload";

/// One per-event aggregation measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// `count() by comm`, getppid on one CPU.
    Count,
    /// `count() by comm`, getppid from [`HOT_THREADS`] threads of one
    /// process (one comm, one key), one per CPU.
    CountHot,
    /// `hist(policy)` of sched_get_priority_max(i % [`HIST_KEYS`]).
    Hist,
}

impl Case {
    /// Every case, in report order.
    pub const ALL: [Case; 3] = [Case::Count, Case::CountHot, Case::Hist];

    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Case::Count => "`count() by comm`, 1 CPU",
            Case::CountHot => "`count() by comm`, 2 CPUs, one hot key",
            Case::Hist => "`hist(policy)`, 1 CPU",
        }
    }

    /// A short name, for the raw JSON.
    pub fn name(self) -> &'static str {
        match self {
            Case::Count => "count",
            Case::CountHot => "count-hot",
            Case::Hist => "hist",
        }
    }

    fn workload(self, dur: Duration) -> Workload {
        let mut w = Workload::getppid(0, dur);
        match self {
            Case::Count => {}
            Case::CountHot => w.threads = HOT_THREADS,
            Case::Hist => w.keys = HIST_KEYS,
        }
        w
    }

    /// The tracectl program (the workload's pid is given with `--pid`).
    pub fn tracectl_prog(self) -> &'static str {
        match self {
            Case::Count | Case::CountHot => {
                "tracepoint:syscalls:sys_enter_getppid { n = count() } by comm"
            }
            Case::Hist => {
                "tracepoint:syscalls:sys_enter_sched_get_priority_max { h = hist(policy) }"
            }
        }
    }

    /// The bpftrace program, filtered to `pid`.
    pub fn bpftrace_prog(self, pid: i32) -> String {
        let probe = match self {
            Case::Count | Case::CountHot => {
                format!(
                    "tracepoint:syscalls:sys_enter_getppid /pid == {pid}/ {{ @[comm] = count(); }}"
                )
            }
            Case::Hist => format!(
                "tracepoint:syscalls:sys_enter_sched_get_priority_max /pid == {pid}/ \
                 {{ @ = hist(args->policy); }}"
            ),
        };
        format!("{probe}\nBEGIN {{ printf(\"{BPFTRACE_MARKER}\\n\"); }}\n")
    }
}

/// The runs of one case, untraced or by one tool.
#[derive(Debug, Clone)]
pub struct AggOverhead {
    pub case: Case,
    /// `received` = what the map counted, `lost` = events tracectl reported
    /// it could not count.
    pub o: Overhead,
}

/// How a print is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Printer {
    TracectlTable,
    TracectlJson,
    Bpftrace,
}

impl Printer {
    /// Every printer, in report order.
    pub const ALL: [Printer; 3] = [
        Printer::TracectlTable,
        Printer::TracectlJson,
        Printer::Bpftrace,
    ];

    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Printer::TracectlTable => "tracectl, table",
            Printer::TracectlJson => "tracectl, JSON",
            Printer::Bpftrace => "bpftrace",
        }
    }

    fn tool(self) -> Tool {
        match self {
            Printer::Bpftrace => Tool::Bpftrace,
            _ => Tool::Tracectl,
        }
    }
}

/// One print run.
#[derive(Debug, Clone, Default)]
pub struct PrintRun {
    /// Rows printed and the sum of their counts (= keys and calls).
    pub rows: u64,
    pub total: u64,
    /// SIGINT → the last line of the print arrived, ms.
    pub to_last_ms: f64,
    /// SIGINT → the tracer exited (detach included), ms.
    pub to_exit_ms: f64,
    /// The tracer missed the first SIGINT (see `RESIGNAL_AFTER`): the
    /// times are not those of a print, and the run is left out.
    pub resignaled: bool,
}

/// The print runs of one printer and one number of keys.
#[derive(Debug, Clone)]
pub struct PrintCase {
    pub printer: Printer,
    pub keys: u64,
    pub runs: Vec<PrintRun>,
}

impl PrintCase {
    /// Median SIGINT → last line, ms.
    pub fn to_last_ms(&self) -> f64 {
        median(self.runs.iter().map(|r| r.to_last_ms).collect())
    }
    /// Median SIGINT → exit, ms.
    pub fn to_exit_ms(&self) -> f64 {
        median(self.runs.iter().map(|r| r.to_exit_ms).collect())
    }
}

/// The cost of printing `PRINT_KEYS` keys rather than one (ms, medians of
/// SIGINT → last line), and the 10 000-key median itself.
pub fn print_cost(r: &Results, printer: Printer) -> (f64, f64) {
    let get = |keys| {
        r.prints
            .iter()
            .find(|p| p.printer == printer && p.keys == keys)
            .map_or(f64::NAN, PrintCase::to_last_ms)
    };
    let many = get(PRINT_KEYS);
    (many - get(1), many)
}

// ---- parsing what the tools printed ----------------------------------------------

/// `@[KEY]: N` lines of a bpftrace map (`@` alone for a keyless map).
fn bpftrace_rows(lines: &[String]) -> Vec<(String, u64)> {
    lines
        .iter()
        .filter_map(|l| {
            let rest = l.strip_prefix('@')?;
            let (key, n) = rest.rsplit_once(": ")?;
            let key = key.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_');
            let key = key.strip_prefix('[')?.strip_suffix(']')?;
            Some((key.to_string(), n.trim().parse().ok()?))
        })
        .collect()
}

/// The total of a histogram drawn as bpftrace draws it
/// (`[4, 8)     12 |@@@   |`).
pub(crate) fn drawn_hist_total(lines: &[String]) -> u64 {
    lines
        .iter()
        .filter(|l| l.starts_with('[') && l.ends_with('|'))
        .filter_map(|l| {
            let before_bar = l.split(" |").next()?;
            before_bar.split_whitespace().last()?.parse::<u64>().ok()
        })
        .sum()
}

/// The JSON objects tracectl printed.
fn json_rows(lines: &[String]) -> Result<Vec<serde_json::Value>, String> {
    lines
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).map_err(|e| format!("tracectl printed `{l}`: {e}")))
        .collect()
}

/// (key, count) of tracectl's JSON rows: the string or number in `key`,
/// the count in `value`.
fn json_counts(
    rows: &[serde_json::Value],
    key: &str,
    value: &str,
) -> Result<Vec<(String, u64)>, String> {
    rows.iter()
        .map(|r| {
            let k = match &r[key] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                other => return Err(format!("tracectl row without `{key}`: {other} in {r}")),
            };
            let n = r[value]
                .as_u64()
                .ok_or_else(|| format!("tracectl row without a count `{value}`: {r}"))?;
            Ok((k, n))
        })
        .collect()
}

/// The total of tracectl's JSON histogram in `value`
/// (`[{"min":4,"max":7,"count":12}, …]`).
fn json_hist_total(rows: &[serde_json::Value], value: &str) -> Result<u64, String> {
    let mut total = 0;
    for r in rows {
        let buckets = r[value]
            .as_array()
            .ok_or_else(|| format!("tracectl row without a histogram `{value}`: {r}"))?;
        for b in buckets {
            total += b["count"]
                .as_u64()
                .ok_or_else(|| format!("tracectl bucket without a count: {b}"))?;
        }
    }
    Ok(total)
}

/// Rows of tracectl's table print of an integer key and a count (`  42 10`).
fn table_counts(lines: &[String]) -> Vec<(String, u64)> {
    lines
        .iter()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (k, n) = (w.next()?, w.next()?);
            if w.next().is_some() || k.parse::<i64>().is_err() {
                return None;
            }
            Some((k.to_string(), n.parse().ok()?))
        })
        .collect()
}

/// Events tracectl's summary says it could not count (`…, N events of P
/// not counted: its map was full …`).
fn not_counted(lines: &[String]) -> u64 {
    lines
        .iter()
        .filter(|l| l.starts_with("tracectl: "))
        .flat_map(|l| l.split(", "))
        .filter(|part| part.contains(" not counted"))
        .filter_map(|part| part.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

// ---- runs ------------------------------------------------------------------------

fn tracer<'a>(tool: Tool, command: &'a dyn Fn(i32) -> Command) -> Tracer<'a> {
    let bpftrace = tool == Tool::Bpftrace;
    Tracer {
        tool,
        command,
        marker: if bpftrace {
            BPFTRACE_MARKER
        } else {
            "tracectl: attached"
        },
        marker_on_stdout: bpftrace,
        read_stdout: true,
        event_prefix: None,
        keep: KEEP_LINES,
        // The counts are in the map as soon as the system calls returned.
        drain: Duration::from_millis(50),
    }
}

/// What a tool printed for `case`: (rows as key and count, total counted).
fn agg_values(case: Case, tool: Tool, raw: &RawRun) -> Result<(usize, u64), String> {
    let out = &raw.out.lines;
    match (tool, case) {
        (Tool::Tracectl, Case::Hist) => {
            let rows = json_rows(out)?;
            Ok((rows.len(), json_hist_total(&rows, "h")?))
        }
        (Tool::Tracectl, _) => {
            let rows = json_counts(&json_rows(out)?, "comm", "n")?;
            check_comm(tool, &rows)?;
            Ok((rows.len(), rows.iter().map(|r| r.1).sum()))
        }
        (_, Case::Hist) => Ok((1, drawn_hist_total(out))),
        (_, _) => {
            let rows = bpftrace_rows(out);
            check_comm(tool, &rows)?;
            Ok((rows.len(), rows.iter().map(|r| r.1).sum()))
        }
    }
}

/// `by comm` of one process: exactly one key, the workload's comm.
fn check_comm(tool: Tool, rows: &[(String, u64)]) -> Result<(), String> {
    match rows {
        [(k, _)] if k == WORKLOAD_COMM => Ok(()),
        _ => Err(format!(
            "{}: `by comm` of the workload printed {rows:?}, not one row for `{WORKLOAD_COMM}`",
            tool.name()
        )),
    }
}

/// One per-event run of `case`, traced by `tool` (or not).
pub fn agg_run(cfg: &Config, case: Case, tool: Tool, dur: Duration) -> Result<EventRun, String> {
    let tracectl = |pid: i32| {
        let mut cmd = Command::new(&cfg.tracectl);
        cmd.args([
            "run",
            "-o",
            "json",
            "--pid",
            &pid.to_string(),
            "-e",
            case.tracectl_prog(),
        ]);
        cmd
    };
    let bpftrace = |pid: i32| {
        let mut cmd = Command::new(&cfg.bpftrace);
        cmd.args(["-e", &case.bpftrace_prog(pid)]);
        cmd
    };
    let t = match tool {
        Tool::None => None,
        Tool::Tracectl => Some(tracer(tool, &tracectl)),
        Tool::Bpftrace => Some(tracer(tool, &bpftrace)),
        Tool::Floor => return Err("the C floor has no aggregation".into()),
    };
    let raw = traced_run(cfg, case.workload(dur), t.as_ref())?;
    let mut run = EventRun {
        calls: raw.calls,
        ns: raw.ns,
        ..EventRun::default()
    };
    let Some(exit) = raw.exit else {
        return Ok(run);
    };
    run.tracer_cpu = exit.cpu;
    run.tracer_rss_kib = exit.maxrss_kib;
    let (_, total) = agg_values(case, tool, &raw)?;
    run.received = total;
    run.lost = if tool == Tool::Tracectl {
        not_counted(&raw.err.lines)
    } else {
        0
    };
    if run.received + run.lost != run.calls {
        return Err(format!(
            "{} ({}): the workload made {} calls but the map counted {} and {} were reported not counted",
            tool.name(),
            case.name(),
            run.calls,
            run.received,
            run.lost
        ));
    }
    Ok(run)
}

/// One print of a map of `keys` keys (`PRINT_KEYS × PRINT_CALLS_PER_KEY`
/// calls spread over them).
pub fn print_run(cfg: &Config, printer: Printer, keys: u64) -> Result<PrintRun, String> {
    let max_keys = PRINT_MAX_KEYS.to_string();
    let tracectl = |pid: i32| {
        let mut cmd = Command::new(&cfg.tracectl);
        cmd.args(["run", "--pid", &pid.to_string(), "--max-keys", &max_keys]);
        if printer == Printer::TracectlJson {
            cmd.args(["-o", "json"]);
        }
        cmd.args([
            "-e",
            "tracepoint:syscalls:sys_enter_sched_get_priority_max { n = count() } by policy",
        ]);
        cmd
    };
    let bpftrace = |pid: i32| {
        let mut cmd = Command::new(&cfg.bpftrace);
        cmd.env("BPFTRACE_MAP_KEYS_MAX", &max_keys).args([
            "-e",
            &format!(
                "tracepoint:syscalls:sys_enter_sched_get_priority_max /pid == {pid}/ \
                 {{ @[args->policy] = count(); }}\nBEGIN {{ printf(\"{BPFTRACE_MARKER}\\n\"); }}\n"
            ),
        ]);
        cmd
    };
    let tool = printer.tool();
    let t = if tool == Tool::Bpftrace {
        tracer(tool, &bpftrace)
    } else {
        tracer(tool, &tracectl)
    };
    let w = Workload {
        calls: PRINT_KEYS * PRINT_CALLS_PER_KEY,
        rate: 0,
        max_ms: 0,
        threads: 1,
        keys,
    };
    let raw = traced_run(cfg, w, Some(&t))?;
    let (Some(exit), Some(sig), Some(last)) = (raw.exit, raw.sigint_at, raw.out.last_at) else {
        return Err(format!("{}: printed nothing", printer.label()));
    };
    if last < sig {
        return Err(format!(
            "{}: nothing printed after SIGINT: {}",
            printer.label(),
            raw.out.lines.join(" | ")
        ));
    }
    let rows = match printer {
        Printer::TracectlTable => table_counts(&raw.out.lines),
        Printer::TracectlJson => json_counts(&json_rows(&raw.out.lines)?, "policy", "n")?,
        Printer::Bpftrace => bpftrace_rows(&raw.out.lines),
    };
    let run = PrintRun {
        rows: rows.len() as u64,
        total: rows.iter().map(|r| r.1).sum(),
        to_last_ms: (last - sig).as_secs_f64() * 1e3,
        to_exit_ms: (exit.at - sig).as_secs_f64() * 1e3,
        resignaled: raw.resignaled,
    };
    if run.rows != keys || run.total != raw.calls {
        return Err(format!(
            "{}: {} calls over {keys} keys, but the print has {} rows counting {}",
            printer.label(),
            raw.calls,
            run.rows,
            run.total
        ));
    }
    Ok(run)
}

/// The per-event cases, then the prints; interleaved so that drift hits
/// every tool alike.
pub fn aggregations(cfg: &Config, r: &mut Results) {
    let tools = [Tool::None, Tool::Tracectl, Tool::Bpftrace];
    let mut all: Vec<AggOverhead> = Case::ALL
        .iter()
        .flat_map(|&case| {
            tools.iter().map(move |&tool| AggOverhead {
                case,
                o: Overhead {
                    tool,
                    runs: Vec::new(),
                    idle_cpu: Duration::ZERO,
                },
            })
        })
        .collect();
    for rep in 0..cfg.reps {
        if rep > 0 {
            settle(cfg);
        }
        for a in all.iter_mut() {
            eprintln!(
                "tracectl-bench: aggregation {}, {} ({}/{})",
                a.case.name(),
                a.o.tool.name(),
                rep + 1,
                cfg.reps
            );
            match agg_run(cfg, a.case, a.o.tool, cfg.duration) {
                Ok(run) => a.o.runs.push(run),
                Err(e) => r.errors.push(e),
            }
        }
    }
    r.agg = all;

    let mut prints: Vec<PrintCase> = Printer::ALL
        .iter()
        .flat_map(|&printer| {
            [1, PRINT_KEYS].map(|keys| PrintCase {
                printer,
                keys,
                runs: Vec::new(),
            })
        })
        .collect();
    for run in 0..cfg.runs {
        if run > 0 && run % 4 == 0 {
            settle(cfg);
        }
        eprintln!(
            "tracectl-bench: print of {PRINT_KEYS} keys vs 1 ({}/{})",
            run + 1,
            cfg.runs
        );
        for p in prints.iter_mut() {
            match print_run(cfg, p.printer, p.keys) {
                Ok(x) if x.resignaled => r.warnings.push(format!(
                    "{} ({} keys) missed a SIGINT: that print run is left out",
                    p.printer.label(),
                    p.keys
                )),
                Ok(x) => p.runs.push(x),
                Err(e) => r.errors.push(e),
            }
        }
    }
    r.prints = prints;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn bpftrace_maps() {
        let out = lines("Attaching 2 probes...\nbench: attached\n\n\n@[workload]: 402432\n");
        assert_eq!(bpftrace_rows(&out), vec![("workload".to_string(), 402_432)]);
        let out = lines("@[2142]: 3\n@[0]: 10\n@k[7]: 1\n@: 5\n");
        assert_eq!(
            bpftrace_rows(&out),
            vec![
                ("2142".to_string(), 3),
                ("0".to_string(), 10),
                ("7".to_string(), 1)
            ]
        );
    }

    #[test]
    fn drawn_histograms() {
        let out = lines(
            "@: \n\
             [0]                    3 |                                                    |\n\
             [2, 4)                 6 |                                                    |\n\
             [4K, 8K)           12288 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
             \n",
        );
        assert_eq!(drawn_hist_total(&out), 12_297);
    }

    #[test]
    fn tracectl_json() {
        let out = lines(
            "{\"time\":\"2026-12-01T16:53:51Z\",\"probe\":\"sys_enter_getppid\",\"comm\":\"workload\",\"n\":402432}\n\
             {\"time\":\"t\",\"probe\":\"p\",\"policy\":9999,\"n\":3}",
        );
        let rows = json_rows(&out).unwrap();
        assert_eq!(
            json_counts(&rows[..1], "comm", "n").unwrap(),
            vec![("workload".to_string(), 402_432)]
        );
        assert_eq!(
            json_counts(&rows[1..], "policy", "n").unwrap(),
            vec![("9999".to_string(), 3)]
        );
        assert!(json_counts(&rows[1..], "comm", "n").is_err());
        let h = lines(
            r#"{"time":"t","probe":"p","h":[{"min":0,"max":0,"count":3},{"min":2,"max":3,"count":6}]}"#,
        );
        assert_eq!(json_hist_total(&json_rows(&h).unwrap(), "h").unwrap(), 9);
        assert!(json_rows(&lines("{not json")).is_err());
    }

    #[test]
    fn tracectl_tables() {
        let out = lines(
            "[2026-12-01T16:54:30.516972544Z] sys_enter_sched_get_priority_max\n\
             POLICY N\n     0 3\n  9999 12\n\n",
        );
        assert_eq!(
            table_counts(&out),
            vec![("0".to_string(), 3), ("9999".to_string(), 12)]
        );
    }

    #[test]
    fn summaries() {
        let err = lines(
            "tracectl: attached 1 probe (p: tracepoint) in 9.1 ms; Ctrl-C to stop\n\
             tracectl: 0 events in 1.1 s, 0 lost, 17 events of p not counted: its map was full \
             (raise --max-keys) (interrupted)",
        );
        assert_eq!(not_counted(&err), 17);
        let err = lines(
            "tracectl: aggregated for 1.6 s, 1 print, 3 events of a not counted: its map was \
             full (raise --max-keys), 1 event of b not counted: its map was full (raise \
             --max-keys) (interrupted)",
        );
        assert_eq!(not_counted(&err), 4);
        assert_eq!(
            not_counted(&lines(
                "tracectl: aggregated for 1.6 s, 1 print (duration reached)"
            )),
            0
        );
        assert_eq!(
            not_counted(&lines("tracectl: 0 events in 1.1 s, 0 lost (interrupted)")),
            0
        );
    }

    #[test]
    fn comm_rows() {
        assert!(check_comm(Tool::Tracectl, &[("workload".into(), 5)]).is_ok());
        assert!(check_comm(Tool::Tracectl, &[("workload".into(), 5), ("x".into(), 1)]).is_err());
        assert!(check_comm(Tool::Bpftrace, &[]).is_err());
    }

    #[test]
    fn programs() {
        assert_eq!(
            Case::Hist.bpftrace_prog(7),
            "tracepoint:syscalls:sys_enter_sched_get_priority_max /pid == 7/ \
             { @ = hist(args->policy); }\nBEGIN { printf(\"bench: attached\\n\"); }\n"
        );
        assert_eq!(
            Case::CountHot.workload(Duration::from_millis(150)).threads,
            2
        );
        assert_eq!(
            Case::Hist.workload(Duration::from_millis(150)).keys,
            HIST_KEYS
        );
    }
}
