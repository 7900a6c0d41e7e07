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

use crate::cases::{self, Case, CaseOverhead, Checked, Delivers, Run, Section};
use crate::measure::{Results, Tool};
use crate::Config;

/// The start and end probes of every paired case.
pub const START: &str = "tracepoint:syscalls:sys_enter_getppid";
pub const END: &str = "tracepoint:syscalls:sys_exit_getppid";
/// Ends without a start tolerated per run: a call in flight when the end
/// program attached before the start program would be one (the workload
/// makes no getppid call until the tracer is attached, so there should be
/// none; every one is shown in the report).
pub const UNMATCHED_TOLERATED: u64 = 1;

// The cases' names.
/// `sys_enter_getppid { pid, comm }` to JSON (section 3's case).
pub const UNPAIRED: &str = "unpaired";
/// `enter => exit { pid, comm, ns = latency }`: a JSON record per call.
pub const JSON: &str = "paired-json";
/// `enter => exit { h = hist(latency) }`: a map update per call, one print
/// at exit.
pub const HIST: &str = "paired-hist";

/// bpftrace's paired program: a start stashed at the enter, `end` at the
/// exit of a call that has one.
fn bpftrace_pair(pid: i32, end: &str) -> String {
    format!(
        "{START} /pid == {pid}/ {{ @start[tid] = nsecs; }}\n\
         {END} /pid == {pid} && @start[tid]/ {{ {end} }}\n{}",
        cases::bpftrace_marker()
    )
}

/// The section: its cases, in the order of each repetition, and its checks.
pub fn section() -> Section<PairCounts> {
    let both: &[Tool] = &[Tool::Tracectl, Tool::Bpftrace];
    Section {
        title: "start/end pairing",
        cases: vec![
            Case::untraced(),
            Case::section3("unpaired, enter to JSON", UNPAIRED, false),
            Case {
                label: "paired, enter+exit to JSON",
                name: JSON,
                tracectl: format!("{START} => {END} {{ pid, comm, ns = latency }}"),
                bpftrace: Some(|pid| {
                    bpftrace_pair(
                        pid,
                        r#"printf("{\"pid\":%d,\"comm\":\"%s\",\"ns\":%d}\n", pid, comm, nsecs - @start[tid]); delete(@start[tid]);"#,
                    )
                }),
                delivers: Delivers::Records,
                read_records: false,
                tools: both,
            },
            Case {
                label: "paired, `hist(latency)`",
                name: HIST,
                tracectl: format!("{START} => {END} {{ h = hist(latency) }}"),
                bpftrace: Some(|pid| {
                    bpftrace_pair(pid, "@h = hist(nsecs - @start[tid]); delete(@start[tid]);")
                }),
                delivers: Delivers::Hist,
                read_records: false,
                tools: both,
            },
        ],
        check,
    }
}

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

/// The runs of one case by one tool, with tracectl's pairing counts of
/// each run (paired cases only).
pub type PairOverhead = CaseOverhead<PairCounts>;

/// The pairing counts of a case's runs summed (`None`: not a tracectl pair).
pub fn counts_total(a: &PairOverhead) -> Option<PairCounts> {
    if a.extra.is_empty() {
        return None;
    }
    let mut t = PairCounts::default();
    for c in &a.extra {
        t.add(c);
    }
    Some(t)
}

/// The raw numbers, for machines.
pub fn raw_json(all: &[PairOverhead]) -> serde_json::Value {
    cases::raw_json(all, "pairing", PairCounts::json)
}

// ---- parsing what the tools printed ----------------------------------------------

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

/// `@start[TID]: NS` lines: starts bpftrace still held at exit (it prints
/// every map when it ends; an empty one prints nothing).
fn bpftrace_left(lines: &[String]) -> u64 {
    lines.iter().filter(|l| l.starts_with("@start[")).count() as u64
}

// ---- checks ---------------------------------------------------------------------

/// A tracectl pair reports every call paired: nothing evicted, replaced,
/// refused or left stashed, at most [`UNMATCHED_TOLERATED`] end without a
/// start (its call then made no record: the one call allowed to make
/// none), and as many ends matched as records arrived; bpftrace held no
/// start at exit. Keeps tracectl's pairing counts.
pub fn check(r: &Run) -> Result<Checked<PairCounts>, String> {
    let who = r.who();
    match r.tool {
        Tool::Tracectl if r.case.name != UNPAIRED => {
            let c = match pairing_objects(r.err)?.as_slice() {
                [c] => *c,
                [] => return Err(format!("{who}: no pairing object on stderr")),
                more => {
                    return Err(format!(
                        "{who}: {} pairing objects for one paired probe",
                        more.len()
                    ))
                }
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
                    r.calls
                ));
            }
            if c.matched != r.received {
                return Err(format!(
                    "{who}: {} ends matched their start but {} records (or counts) arrived",
                    c.matched, r.received
                ));
            }
            Ok(Checked {
                missing: c.unmatched_ends,
                extra: Some(c),
            })
        }
        Tool::Bpftrace if bpftrace_left(r.out) > 0 => Err(format!(
            "{who}: {} starts still in @start at exit after {} calls",
            bpftrace_left(r.out),
            r.calls
        )),
        _ => Ok(Checked::default()),
    }
}

/// Section 7: every (case, tool) of [`section`], interleaved.
pub fn pairing(cfg: &Config, r: &mut Results) -> Vec<PairOverhead> {
    cases::measure(cfg, r, &section())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{EventRun, Overhead};
    use std::time::Duration;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    /// tracectl's pairing object for `c`.
    fn object(c: &PairCounts) -> Vec<String> {
        // tracectl prints `pairing` first.
        let v = c.json().to_string();
        vec![format!("{{\"pairing\":\"sys_enter_getppid\",{}", &v[1..])]
    }

    /// Checks a run of case `name` by `tool` that delivered `received` of
    /// `calls`, with stderr `err` and stdout `out`.
    fn checked(
        name: &str,
        tool: Tool,
        calls: u64,
        received: u64,
        err: &[String],
        out: &[String],
    ) -> Result<Checked<PairCounts>, String> {
        let s = section();
        let r = Run {
            tool,
            out,
            err,
            ..cases::test_run(s.case(name), calls, received)
        };
        cases::check(check, &r)
    }

    fn paired(name: &str, calls: u64, received: u64, c: PairCounts) -> Result<(), String> {
        checked(name, Tool::Tracectl, calls, received, &object(&c), &[]).map(|_| ())
    }

    #[test]
    fn programs() {
        let s = section();
        assert_eq!(
            s.case(JSON).tracectl,
            "tracepoint:syscalls:sys_enter_getppid => tracepoint:syscalls:sys_exit_getppid \
             { pid, comm, ns = latency }"
        );
        assert_eq!(
            s.case(HIST).tracectl,
            "tracepoint:syscalls:sys_enter_getppid => tracepoint:syscalls:sys_exit_getppid \
             { h = hist(latency) }"
        );
        assert_eq!(
            s.case(UNPAIRED).tracectl,
            "tracepoint:syscalls:sys_enter_getppid { pid, comm }"
        );
        assert_eq!(
            s.case(JSON).bpftrace_prog(7),
            "tracepoint:syscalls:sys_enter_getppid /pid == 7/ { @start[tid] = nsecs; }\n\
             tracepoint:syscalls:sys_exit_getppid /pid == 7 && @start[tid]/ { \
             printf(\"{\\\"pid\\\":%d,\\\"comm\\\":\\\"%s\\\",\\\"ns\\\":%d}\\n\", pid, comm, \
             nsecs - @start[tid]); delete(@start[tid]); }\n\
             BEGIN { printf(\"bench: attached\\n\"); }\n"
        );
        assert_eq!(
            s.case(HIST).bpftrace_prog(7),
            "tracepoint:syscalls:sys_enter_getppid /pid == 7/ { @start[tid] = nsecs; }\n\
             tracepoint:syscalls:sys_exit_getppid /pid == 7 && @start[tid]/ { \
             @h = hist(nsecs - @start[tid]); delete(@start[tid]); }\n\
             BEGIN { printf(\"bench: attached\\n\"); }\n"
        );
        assert_eq!(s.case(UNPAIRED).bpftrace_prog(7), "");
        // The order of each repetition.
        let runs: Vec<(&str, Tool)> = s
            .cases
            .iter()
            .flat_map(|c| c.tools.iter().map(move |&t| (c.name, t)))
            .collect();
        assert_eq!(
            runs,
            [
                ("untraced", Tool::None),
                (UNPAIRED, Tool::Tracectl),
                (JSON, Tool::Tracectl),
                (JSON, Tool::Bpftrace),
                (HIST, Tool::Tracectl),
                (HIST, Tool::Bpftrace),
            ]
        );
    }

    #[test]
    fn objects() {
        let err = lines(
            "tracectl: attached 2 probes in 12.0 ms; Ctrl-C to stop\n\
             tracectl: sys_enter_getppid: 1520 matched, 1 end without a start\n\
             {\"pairing\":\"sys_enter_getppid\",\"matched\":1520,\"evicted\":0,\"replaced\":0,\
             \"unmatched_ends\":1,\"stash_entries\":0}\n\
             tracectl: 1520 events in 1.5 s, 3 lost (interrupted)",
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
    fn leftovers() {
        let b = lines(
            "Attaching 3 probes...\nbench: attached\n\n\n@h: \n\
             [128, 256)             3 |@@@                                                 |\n\n",
        );
        assert_eq!(bpftrace_left(&b), 0);
        assert_eq!(bpftrace_left(&lines("@start[812]: 123\n@h: \n")), 1);
    }

    #[test]
    fn checks() {
        let ok = PairCounts {
            matched: 100,
            ..PairCounts::default()
        };
        assert!(paired(JSON, 100, 100, ok).is_ok());
        assert_eq!(
            checked(JSON, Tool::Tracectl, 100, 100, &object(&ok), &[])
                .unwrap()
                .extra,
            Some(ok)
        );
        // One end without a start: its call made no record.
        let one = PairCounts {
            matched: 99,
            unmatched_ends: 1,
            ..PairCounts::default()
        };
        assert!(paired(HIST, 100, 99, one).is_ok());
        assert!(paired(HIST, 100, 100, one).is_err());
        let two = PairCounts {
            matched: 98,
            unmatched_ends: 2,
            ..PairCounts::default()
        };
        assert!(paired(JSON, 100, 98, two).is_err());
        for bad in [
            PairCounts { evicted: 1, ..ok },
            PairCounts { replaced: 1, ..ok },
            PairCounts { failed: 1, ..ok },
            PairCounts {
                stash_entries: 1,
                ..ok
            },
        ] {
            assert!(paired(JSON, 100, 100, bad).is_err(), "{bad:?}");
        }
        // Fewer records than matched ends, or than calls.
        assert!(paired(JSON, 100, 99, ok).is_err());
        let short = PairCounts { matched: 99, ..ok };
        assert!(paired(JSON, 100, 99, short).is_err());
        // Records that no matched end made (the counts disagree).
        let fewer = PairCounts { matched: 98, ..ok };
        assert!(paired(JSON, 100, 100, fewer).is_err());
        // No pairing object from a paired probe, or two.
        let none = |name, tool, received| checked(name, tool, 5, received, &[], &[]);
        assert!(none(HIST, Tool::Tracectl, 5).is_err());
        let mut twice = object(&ok);
        twice.extend(object(&ok));
        assert!(checked(JSON, Tool::Tracectl, 100, 100, &twice, &[]).is_err());
        assert!(none(UNPAIRED, Tool::Tracectl, 5).is_ok());
        assert!(none(JSON, Tool::Bpftrace, 5).is_ok());
        // bpftrace's leftovers; too few or too many records.
        let left = lines("@start[812]: 123");
        assert!(checked(JSON, Tool::Bpftrace, 5, 5, &[], &left).is_err());
        assert!(none(HIST, Tool::Bpftrace, 4).is_err());
        assert!(none(UNPAIRED, Tool::Tracectl, 6).is_err());
    }

    #[test]
    fn added_is_traced_less_untraced() {
        let s = section();
        let o = |name, tool, ns| PairOverhead {
            case: s.case(name).clone(),
            o: Overhead {
                tool,
                runs: vec![EventRun {
                    calls: 10,
                    ns,
                    ..EventRun::default()
                }],
                idle_cpu: Duration::ZERO,
            },
            extra: Vec::new(),
        };
        let all = [
            o("untraced", Tool::None, 2_000),
            o(JSON, Tool::Tracectl, 9_000),
            o(JSON, Tool::Bpftrace, 90_000),
        ];
        assert_eq!(cases::added(&all, JSON, Tool::Tracectl), 700.0);
        assert_eq!(cases::added(&all, JSON, Tool::Bpftrace), 8_800.0);
        assert!(cases::added(&all, HIST, Tool::Tracectl).is_nan());
    }
}
