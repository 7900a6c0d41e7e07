//! Context and names (spec-v2 section 5): the per-event cost of capturing
//! the task's context — `ppid` (`task->real_parent->tgid`), `pidns` (an
//! indexed pointer hop, `thread_pid->numbers[level]`), `mntns`, `netns` —
//! and a number printed as a name in user space, `signal(pid % 64)`, on
//! the getppid tracepoint; against the same probe without
//! them (section 3's program, measured again here so that the ratio is of
//! one run) and against bpftrace's equivalent.
//!
//! Every run checks that each call made one record and none was lost, and
//! the first record's values against the truth: its pid is the workload's,
//! its ppid the harness's (the workload's parent), its namespaces the
//! inodes of `/proc/PID/ns/{pid,mnt,net}`, its signal a name.
//!
//! The named value: a getppid tracepoint has no signal nor error to name,
//! and `signal(pid)` prints the number (no signal has it), so `pid % 64`:
//! a name on every record, found and printed in user space only (the
//! modulo aside). `task->exit_signal` would add a kernel read, and is -1 in
//! the workload's calling thread anyway. bpftrace has no names: its
//! program prints no signal.

use serde_json::Value;

use crate::cases::{self, bpftrace_marker, Case, CaseOverhead, Checked, Delivers, Run, Section};
use crate::measure::{Results, Tool};
use crate::Config;

/// The probe of every case.
pub const PROBE: &str = "tracepoint:syscalls:sys_enter_getppid";
// The cases' names.
/// `{ pid, comm }` (section 3's program).
pub const PLAIN: &str = "plain";
/// `{ pid, comm, ppid, pidns, mntns, netns, sig = signal(pid % 64) }`.
pub const CONTEXT: &str = "context";

/// The section: its cases, in the order of each repetition, and its checks.
/// Every tool's records go to a pipe the harness reads (so that it can
/// check the first one), tracectl's too.
pub fn section() -> Section<String> {
    Section {
        title: "context and names",
        cases: vec![
            Case::untraced(),
            Case::section3("plain, `{ pid, comm }`", PLAIN, true),
            Case {
                label: "context, + ppid, pidns, mntns, netns, a signal's name",
                name: CONTEXT,
                tracectl: format!(
                    "{PROBE} {{ pid, comm, ppid, pidns, mntns, netns, \
                     sig = signal(pid % 64) }}"
                ),
                bpftrace: Some(|pid| {
                    // bpftrace 0.17 refuses `numbers[0]` of the flexible
                    // array `struct upid numbers[]` (size 0): the cast is its
                    // first element. It cannot index by `level` at run time;
                    // element 0 is right in the initial pid namespace.
                    format!(
                        "{PROBE} /pid == {pid}/ {{ printf(\"{{\\\"pid\\\":%d,\\\"comm\\\":\\\"%s\\\",\
                         \\\"ppid\\\":%d,\\\"pidns\\\":%u,\\\"mntns\\\":%u,\\\"netns\\\":%u}}\\n\", \
                         pid, comm, curtask->real_parent->tgid, \
                         ((struct upid *)curtask->thread_pid->numbers)->ns->ns.inum, \
                         curtask->nsproxy->mnt_ns->ns.inum, curtask->nsproxy->net_ns->ns.inum); \
                         }}\n{}",
                        bpftrace_marker()
                    )
                }),
                delivers: Delivers::Records,
                read_records: true,
                tools: &[Tool::Tracectl, Tool::Bpftrace],
            },
        ],
        check,
    }
}

/// The first record's values against the truth (a run without calls has
/// none to check). Keeps the first record.
pub fn check(r: &Run) -> Result<Checked<String>, String> {
    let who = r.who();
    if r.received == 0 {
        return Ok(Checked::default());
    }
    let first = r
        .first
        .ok_or_else(|| format!("{who}: {} records but none was read", r.received))?;
    let v: Value =
        serde_json::from_str(first).map_err(|e| format!("{who}: first record `{first}`: {e}"))?;
    let mut want: Vec<(&str, Value)> = vec![("pid", r.pid.into())];
    if r.case.name == CONTEXT {
        if r.ns.contains(&0) {
            return Err(format!(
                "{who}: cannot read the workload's /proc/{}/ns/*",
                r.pid
            ));
        }
        want.extend([
            ("ppid", std::process::id().into()),
            ("pidns", r.ns[0].into()),
            ("mntns", r.ns[1].into()),
            ("netns", r.ns[2].into()),
        ]);
    }
    for (k, w) in want {
        if v[k] != w {
            return Err(format!(
                "{who}: the first record's `{k}` is {}, not {w}: {first}",
                v[k]
            ));
        }
    }
    // The name of `pid % 64` from tracectl (not the number; 0 has none);
    // nothing from bpftrace.
    let named = v["sig"].as_str().is_some_and(|n| n.starts_with("SIG"));
    let want_name = r.case.name == CONTEXT && r.tool == Tool::Tracectl && r.pid % 64 != 0;
    if want_name && !named || r.tool == Tool::Bpftrace && !v["sig"].is_null() {
        return Err(format!(
            "{who}: the first record's `sig` is {}, not the name of {}: {first}",
            v["sig"],
            r.pid % 64
        ));
    }
    Ok(Checked {
        missing: 0,
        extra: Some(first.to_string()),
    })
}

/// The runs of one case by one tool, with the first record of each run.
pub type CtxOverhead = CaseOverhead<String>;

/// Section 8: every (case, tool) of [`section`], interleaved.
pub fn context(cfg: &Config, r: &mut Results) -> Vec<CtxOverhead> {
    cases::measure(cfg, r, &section())
}

/// The raw numbers, for machines.
pub fn raw_json(all: &[CtxOverhead]) -> Value {
    cases::raw_json(all, "first", |s| s.as_str().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<'a>(case: &'a Case, tool: Tool, first: Option<&'a str>) -> Run<'a> {
        Run {
            tool,
            ns: [11, 12, 13],
            first,
            ..cases::test_run(case, 2, 2)
        }
    }

    #[test]
    fn programs() {
        let s = section();
        assert_eq!(
            s.case(PLAIN).tracectl,
            "tracepoint:syscalls:sys_enter_getppid { pid, comm }"
        );
        assert_eq!(
            s.case(CONTEXT).tracectl,
            "tracepoint:syscalls:sys_enter_getppid { pid, comm, ppid, pidns, mntns, netns, \
             sig = signal(pid % 64) }"
        );
        assert_eq!(
            s.case(CONTEXT).bpftrace_prog(7),
            "tracepoint:syscalls:sys_enter_getppid /pid == 7/ { printf(\"{\\\"pid\\\":%d,\
             \\\"comm\\\":\\\"%s\\\",\\\"ppid\\\":%d,\\\"pidns\\\":%u,\\\"mntns\\\":%u,\
             \\\"netns\\\":%u}\\n\", pid, comm, curtask->real_parent->tgid, \
             ((struct upid *)curtask->thread_pid->numbers)->ns->ns.inum, \
             curtask->nsproxy->mnt_ns->ns.inum, curtask->nsproxy->net_ns->ns.inum); }\n\
             BEGIN { printf(\"bench: attached\\n\"); }\n"
        );
    }

    #[test]
    fn checks() {
        let s = section();
        let me = std::process::id();
        let t = format!(
            r#"{{"probe":"sys_enter_getppid","pid":7,"comm":"workload","ppid":{me},"pidns":11,"mntns":12,"netns":13,"sig":"SIGBUS"}}"#
        );
        let b = format!(
            r#"{{"pid":7,"comm":"workload","ppid":{me},"pidns":11,"mntns":12,"netns":13}}"#
        );
        let ctx = s.case(CONTEXT);
        let ok = |tool, first: &str| check(&run(ctx, tool, Some(first)));
        assert_eq!(ok(Tool::Tracectl, &t).unwrap().extra, Some(t.clone()));
        assert!(ok(Tool::Bpftrace, &b).is_ok());
        // A name from tracectl, none from bpftrace.
        assert!(ok(Tool::Tracectl, &b).is_err());
        assert!(ok(Tool::Bpftrace, &t).is_err());
        assert!(ok(Tool::Tracectl, &t.replace("\"SIGBUS\"", "7")).is_err());
        for (from, to) in [
            ("\"pid\":7", "\"pid\":8"),
            ("\"pidns\":11", "\"pidns\":12"),
            ("\"mntns\":12", "\"mntns\":0"),
            ("\"netns\":13", "\"netns\":1"),
            (&format!("\"ppid\":{me}"), "\"ppid\":1"),
        ] {
            assert!(ok(Tool::Tracectl, &t.replace(from, to)).is_err(), "{to}");
        }
        assert!(ok(Tool::Tracectl, "{\"probe\":").is_err());
        // Records but none read; a run without records; the plain case
        // checks the pid only.
        assert!(check(&run(ctx, Tool::Tracectl, None)).is_err());
        let idle = Run {
            calls: 0,
            received: 0,
            ..run(ctx, Tool::Tracectl, None)
        };
        assert_eq!(check(&idle), Ok(Checked::default()));
        let plain = s.case(PLAIN);
        let p = r#"{"probe":"sys_enter_getppid","pid":7,"comm":"workload"}"#;
        assert!(check(&run(plain, Tool::Tracectl, Some(p))).is_ok());
        let other = p.replace(":7", ":9");
        assert!(check(&run(plain, Tool::Tracectl, Some(&other))).is_err());
        // The truth must be readable.
        let blind = Run {
            ns: [0, 12, 13],
            ..run(ctx, Tool::Tracectl, Some(&t))
        };
        assert!(check(&blind).is_err());
    }
}
