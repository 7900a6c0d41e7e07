//! End-to-end tests: the `tracectl` binary, real specs, real kernel events.
//!
//! Each test starts `tracectl run`, waits for it to report that its probes
//! are attached, makes a uniquely identifiable event happen, and checks that
//! the captured values are the ones it made. They need root and kernel BTF:
//! without them they fail when `CI=true` (and say why), else they are skipped
//! with a message.
//!
//! These are the mechanisms of `run` (filters, parameters, output formats,
//! probe kinds, delivery, detaching); each bundled recipe is tested once, in
//! `tests/recipes.rs`.

#[path = "common/mod.rs"]
mod common;

use common::{bpf_available, json_lines, run_exec, scratch, serial, unique_true, Tracer};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `tracectl run` options that hold records back: the templates never wake
/// tracectl (`--wakeup-bytes` = u64::MAX) and it waits an hour for events,
/// so a record reaches the output only when the run ends.
const HOLD_BACK: [&str; 4] = [
    "--wakeup-bytes",
    "18446744073709551615",
    "--poll-interval",
    "1h",
];

/// The execs of exactly one program, by path, with pid and path.
fn exec_of(prog: &Path) -> String {
    format!(
        "tracepoint:syscalls:sys_enter_execve {{ pid, path = str(filename, 256) }} where path == \"{}\"",
        prog.display()
    )
}

/// Records still waiting in the ring buffer when Ctrl-C arrives are printed,
/// not dropped. Delivery is held back ([`HOLD_BACK`]), and the signal finds
/// tracectl outside its wait for events: stopped (SIGSTOP) there, the exec
/// happens, then SIGINT and SIGCONT. Its interrupted wait returns nothing,
/// so the record can reach the output only through the drain after the
/// event loop. (A signal that arrives during the wait cannot test that
/// drain: Linux looks at the ring buffer again before poll returns, sees
/// the record, and that round prints it.)
#[test]
fn interrupt_prints_what_is_still_buffered() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("drain");
    let prog = unique_true(&dir, "tracectl_last_before_sigint");
    let spec = exec_of(&prog);
    let mut args = vec!["-e", spec.as_str(), "-o", "json"];
    args.extend(HOLD_BACK);
    let mut t = Tracer::start(&args);
    t.wait_blocked_in_poll();
    t.pause();
    let pid = run_exec(&prog);
    assert_eq!(
        t.stdout_pending(),
        0,
        "delivery is held back: nothing may be printed before the signal"
    );
    t.interrupt();
    t.resume();
    let (out, err) = t.finish();
    let recs = json_lines(&out);
    assert_eq!(
        recs.len(),
        1,
        "the exec just before SIGINT is printed:\n{out}\n{err}"
    );
    assert_eq!(recs[0]["path"], prog.to_str().unwrap());
    assert_eq!(recs[0]["pid"], pid);
    assert!(err.contains("1 event in"), "{err}");
    assert!(err.contains("(interrupted)"), "{err}");
}

/// The same at the end of `--duration`: with delivery held back, the exec's
/// record waits in the ring buffer until the duration ends, and is printed
/// then (by the last wait, cut short at the deadline, or the final drain).
#[test]
fn duration_end_prints_what_is_still_buffered() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("drain-duration");
    let prog = unique_true(&dir, "tracectl_last_before_end");
    let spec = exec_of(&prog);
    let mut args = vec!["-e", spec.as_str(), "-o", "json", "-d", "2s"];
    args.extend(HOLD_BACK);
    let mut t = Tracer::start(&args);
    t.wait_blocked_in_poll();
    let pid = run_exec(&prog);
    let (out, err) = t.finish();
    let recs = json_lines(&out);
    assert_eq!(
        recs.len(),
        1,
        "the exec before the end is printed:\n{out}\n{err}"
    );
    assert_eq!(recs[0]["path"], prog.to_str().unwrap());
    assert_eq!(recs[0]["pid"], pid);
    assert!(err.contains("(duration reached)"), "{err}");
}

#[test]
fn filter_drops_and_keeps_known_events() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("filter");
    let keep = unique_true(&dir, "tracectl_keep_me");
    let drop_ = unique_true(&dir, "tracectl_drop_me");
    let spec = format!(
        "tracepoint:syscalls:sys_enter_execve {{ pid, path = str(filename, 256) }} where path == \"{}\"",
        keep.display()
    );
    let t = Tracer::start(&["-e", &spec, "-o", "json", "-d", "3s"]);
    run_exec(&drop_);
    let pid = run_exec(&keep);
    run_exec(&drop_);
    let (out, _) = t.finish();
    let recs = json_lines(&out);
    assert_eq!(recs.len(), 1, "only the kept exec may pass: {out}");
    assert_eq!(recs[0]["path"], keep.to_str().unwrap());
    assert_eq!(recs[0]["pid"], pid);
}

#[test]
fn string_param_with_prefix_match() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("param");
    let a = unique_true(&dir, "tracectl_prefix_a");
    let b = unique_true(&dir, "tracectl_prefix_b");
    let other = unique_true(&dir, "tracectl_other");
    let spec = "param p: string\n\
                tracepoint:syscalls:sys_enter_execve { path = str(filename, 256) } where path == $p";
    let prefix = format!("{}/tracectl_prefix_*", dir.display());
    let t = Tracer::start(&[
        "-e",
        spec,
        "-o",
        "csv",
        "--time",
        "none",
        "-d",
        "3s",
        "-p",
        &format!("p={prefix}"),
    ]);
    run_exec(&a);
    run_exec(&other);
    run_exec(&b);
    let (out, _) = t.finish();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("probe,path"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(
        rows,
        vec![
            format!("sys_enter_execve,{}", a.display()),
            format!("sys_enter_execve,{}", b.display())
        ],
        "{out}"
    );
}

#[test]
fn table_output_has_the_seed_columns() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("table");
    let prog = unique_true(&dir, "tracectl_table_x");
    let t = Tracer::start(&["execsnoop", "-d", "3s"]);
    let pid = run_exec(&prog);
    let (out, _) = t.finish();
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        vec!["TIME(s)", "COMM", "PID", "PPID", "RET", "PATH", "ARGS"],
        "{out}"
    );
    // ARGS, last, is the program and its arguments: the path alone here.
    let path = prog.to_str().unwrap();
    let row = lines
        .find(|l| l.ends_with(&format!("{path} {path}")))
        .unwrap_or_else(|| panic!("no row for {prog:?}: {out}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols.len(), 7, "{row}");
    assert!(
        cols[0].contains('.') && cols[0].split('.').nth(1).unwrap().len() == 9,
        "{row}"
    );
    // COMM is read at the exec's end: the new program's name (15 bytes).
    assert_eq!(cols[1], "tracectl_table_", "{row}");
    assert_eq!(cols[2], pid.to_string());
    assert_eq!(cols[3], std::process::id().to_string(), "PPID: {row}");
    assert_eq!(cols[4], "0", "{row}");
}

#[test]
fn tp_btf_follows_a_pointer_chain() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("tpbtf");
    let prog = unique_true(&dir, "tracectl_tpbtf_prog");
    let spec = format!(
        "tp_btf:sched_process_exec {{ pid, path = str(bprm->filename, 256), old = old_pid }} where path == \"{}/*\"",
        dir.display()
    );
    let t = Tracer::start(&["-e", &spec, "-o", "json", "-d", "3s"]);
    let pid = run_exec(&prog);
    let (out, _) = t.finish();
    let recs = json_lines(&out);
    assert_eq!(recs.len(), 1, "{out}");
    assert_eq!(recs[0]["path"], prog.to_str().unwrap());
    assert_eq!(recs[0]["pid"], pid);
    assert_eq!(recs[0]["old"], pid);
}

/// A tiny C program with a function to probe, built with gcc.
fn uprobe_target(dir: &Path) -> PathBuf {
    let src = dir.join("target.c");
    std::fs::write(
        &src,
        r#"#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) long tracectl_add(long a, long b) { __asm__ volatile(""); return a * 1000 + b; }
int main(int argc, char **argv) {
    long r = tracectl_add(atol(argv[1]), atol(argv[2]));
    printf("%ld\n", r);
    return 0;
}
"#,
    )
    .unwrap();
    let bin = dir.join("tracectl_uprobe_target");
    let st = Command::new("gcc")
        .args(["-O1", "-g", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .expect("gcc");
    assert!(st.success(), "gcc failed");
    bin
}

#[test]
fn uprobe_and_uretprobe_capture_arguments_and_return_value() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("uprobe");
    let bin = uprobe_target(&dir);
    let spec = format!(
        "uprobe:{b}:tracectl_add as add {{ pid, a = arg0, b = arg1 }}\n\
         uretprobe:{b}:tracectl_add as ret {{ pid, r = retval }}",
        b = bin.display()
    );
    let t = Tracer::start(&["-e", &spec, "-o", "json", "-n", "2", "-d", "10s"]);
    let out = Command::new(&bin).args(["42", "-7"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "41993");
    let (out, _) = t.finish();
    let recs = json_lines(&out);
    assert_eq!(recs.len(), 2, "{out}");
    let add = recs
        .iter()
        .find(|r| r["probe"] == "add")
        .expect("entry record");
    let ret = recs
        .iter()
        .find(|r| r["probe"] == "ret")
        .expect("return record");
    assert_eq!(add["a"], 42);
    assert_eq!(add["b"], -7);
    assert_eq!(ret["r"], 41993);
    assert_eq!(add["pid"], ret["pid"]);
}

/// IDs of the BPF programs a process holds open (`prog_id` in its fdinfo:
/// program and link fds). Other tests on the machine may load programs of
/// the same names at the same time, so only these IDs are checked.
fn programs_held_by(pid: u32) -> BTreeSet<u64> {
    let dir = format!("/proc/{pid}/fdinfo");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .flat_map(|info| {
            info.lines()
                .filter_map(|l| l.strip_prefix("prog_id:"))
                .filter_map(|id| id.trim().parse().ok())
                .collect::<Vec<u64>>()
        })
        .collect()
}

/// Whether a BPF program with this ID is loaded.
fn program_loaded(id: u64) -> bool {
    let out = common::output_within(
        Command::new("bpftool").args(["prog", "show", "id", &id.to_string()]),
        common::PROGRAM_DEADLINE,
        "bpftool prog show (apt-get install bpftool)",
    );
    out.status.success()
}

/// Pin directories of one tracectl process in bpffs (`tracectl-PID-N`).
fn pins_of(pid: u32) -> Vec<String> {
    let prefix = format!("tracectl-{pid}-");
    std::fs::read_dir("/sys/fs/bpf")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn sigint_detaches_everything() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let t = Tracer::start(&["tcpconnect-tp", "-o", "json"]);
    let pid = t.pid();
    let programs = programs_held_by(pid);
    assert!(
        !programs.is_empty() && programs.iter().all(|&id| program_loaded(id)),
        "tracectl holds its loaded programs while running: {programs:?}"
    );
    assert_eq!(
        pins_of(pid),
        Vec::<String>::new(),
        "nothing stays pinned after start"
    );
    t.interrupt();
    let (_, err) = t.finish();
    assert!(
        err.contains("lost"),
        "the summary reports lost events: {err}"
    );
    let left: Vec<u64> = programs
        .iter()
        .copied()
        .filter(|&id| program_loaded(id))
        .collect();
    assert!(
        left.is_empty(),
        "programs still loaded after SIGINT: {left:?}"
    );
    assert_eq!(pins_of(pid), Vec::<String>::new());
}

/// `check -` reads the spec from standard input, YAML or DSL (told by its
/// first line, as a file's), and locates errors in `<stdin>`.
#[test]
fn check_reads_standard_input() {
    let check = |text: &str| {
        let out = common::tracectl_with_stdin(&["check", "-"], text);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = check("tracepoint:syscalls:sys_enter_openat { pid, comm }\n");
    assert!(ok, "a DSL spec on stdin: {err}");
    let (ok, err) = check(
        "name: s\nprobes:\n  - probe: tracepoint:syscalls:sys_enter_opena\n    fields: { pid: pid }\n",
    );
    assert!(!ok, "a misspelt tracepoint passed: {err}");
    assert!(err.contains("<stdin>:3:23"), "located in <stdin>: {err}");
    assert!(err.contains("did you mean"), "{err}");
}

/// `check` says, without loading anything, when this kernel has no kprobes
/// for a `kfunc:` probe, and names the tracepoint that does the job; a
/// kernel with kprobes gets no such warning. Either way the spec is valid
/// (exit 0). The VM matrix runs it on kernels with kprobes
/// (tests/vm/host-tests.txt), this machine on one without.
#[test]
fn check_warns_about_kernel_mechanisms_missing_here() {
    const TEST: &str = "check_warns_about_kernel_mechanisms_missing_here";
    let out = Command::new(common::BIN)
        .args(["check", "tcpconnect"])
        .output()
        .expect("run tracectl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    if tracectl::load::kprobes_available() {
        assert!(!err.contains("no kprobes"), "kprobes exist here: {err}");
        common::elsewhere::exercised(TEST, "kprobes here: no warning");
    } else {
        assert!(
            err.contains("warning: this kernel has no kprobes")
                && err.contains("tcp_connect")
                && err.contains("`sock:inet_sock_set_state`")
                && err.contains("`tcpconnect-tp`"),
            "{err}"
        );
        common::elsewhere::exercised(TEST, "no kprobes here: warned, with the tracepoint");
    }
    // A spec with errors and warnings counts both in its last line.
    let out = Command::new(common::BIN)
        .args([
            "check",
            "-e",
            "kfunc:tcp_connect { pid, comm } where dport == 22",
        ])
        .output()
        .expect("run tracectl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.trim_end().ends_with("error: 1 problem in <-e>"),
        "{err}"
    );
}

/// `check` finds a misspelt uprobe symbol on this machine, before anything
/// is loaded, and points at the probe.
#[test]
fn check_finds_a_missing_uprobe_symbol() {
    let out = Command::new(common::BIN)
        .args(["check", "-e", "uprobe:libc:mallok { size = arg0 }"])
        .output()
        .expect("run tracectl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("does not define `mallok`"), "{err}");
    assert!(err.contains("did you mean `malloc`?"), "{err}");
    assert!(err.contains("<-e>:1:1"), "located at the probe: {err}");
    let ok = Command::new(common::BIN)
        .args(["check", "-e", "uprobe:libc:malloc { size = arg0 }"])
        .output()
        .expect("run tracectl");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}
