//! Stacks and sampling (spec-v2 §4, docs/language.md "Stacks and
//! sampling") through the `tracectl` binary, against programs the test
//! builds with frame pointers and whose call chains it knows: a CPU spinner
//! in `acc_inner` called from `acc_outer` (sampled by `profile:hz:N`,
//! folded, drawn as a flame graph), a program opening a file from
//! `open_inner` called from `open_outer` (user stacks at a tracepoint,
//! exact counts, two processes merged), the kernel's exec path at
//! `sched_process_exec`, and a process that exits before its stacks are
//! printed.
//!
//! Needs root and kernel BTF: without them it fails when `CI=true`, else it
//! prints SKIPPED.

#[path = "common/mod.rs"]
mod common;
#[path = "common/xml.rs"]
mod xml;

use common::programs::{build, Alive, OPEN_C, SPIN_C};
use common::{
    bpf_available, json_int as int, json_lines, output_within, scratch, serial, tagged_nonce,
    Tracer, BIN,
};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `tracectl run ARGS -o json --time none` while `events` runs,
/// then interrupts it (aggregations print at exit); the rows or records.
fn trace(args: &[&str], events: impl FnOnce()) -> (Vec<Value>, String) {
    let mut all = args.to_vec();
    all.extend_from_slice(&["-o", "json", "--time", "none"]);
    let t = Tracer::start(&all);
    events();
    t.interrupt();
    let (out, err) = t.finish();
    (json_lines(&out), err)
}

fn run_ok(bin: &Path, args: &[&str]) {
    let out = output_within(
        Command::new(bin).args(args).stdout(Stdio::null()),
        Duration::from_secs(60),
        &bin.display().to_string(),
    );
    assert!(
        out.status.success(),
        "{} failed: {}",
        bin.display(),
        out.status
    );
}

/// The frames of a JSON stack value, innermost first.
fn frames(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("a stack is a JSON array: {v}"))
        .iter()
        .map(|f| f.as_str().expect("frames are strings").to_string())
        .collect()
}

/// The function of a frame as printed (`name+0x1a [module]`).
fn function(frame: &str) -> &str {
    frame.split(['+', ' ']).next().unwrap_or(frame)
}

/// Is `outer` the frame right after (called) `inner`'s, innermost first?
fn called_from(frames: &[String], inner: &str, outer: &str) -> bool {
    frames
        .windows(2)
        .any(|w| function(&w[0]) == inner && function(&w[1]) == outer)
}

/// Folded lines: (frames, outermost first, and the count).
fn folded(out: &str) -> Vec<(Vec<String>, u64)> {
    out.lines()
        .map(|l| {
            let (stack, n) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("folded line {l:?}"));
            let n = n.parse().unwrap_or_else(|_| panic!("count in {l:?}"));
            (stack.split(';').map(str::to_string).collect(), n)
        })
        .collect()
}

/// The body of the profile specs below.
const BY_STACKS: &str = "{ samples = count() } by comm, ustack, kstack";

/// Samples a spinner built in `dir` (named `tag` and a nonce) at 999 Hz
/// for `ms` with `profile:hz:999 BODY where comm == NAME` and `args`; the
/// spinner still runs when tracectl prints at exit, so that its stacks can
/// be symbolized. (name, stdout, stderr).
fn profile_spinner(
    dir: &Path,
    tag: &str,
    body: &str,
    args: &[&str],
    ms: u64,
) -> (String, String, String) {
    let name = tagged_nonce(tag);
    let bin = build(dir, &name, SPIN_C);
    let spec = format!("profile:hz:999 {body} where comm == \"{name}\"");
    let mut all = vec!["-e", spec.as_str()];
    all.extend_from_slice(args);
    let t = Tracer::start(&all);
    let spin = Alive::start(&bin, &["60"], false);
    std::thread::sleep(Duration::from_millis(ms));
    t.interrupt();
    let (out, err) = t.finish();
    spin.end();
    (name, out, err)
}

/// The profile of a program spinning in `acc_inner` under `acc_outer`:
/// sampled at 999 Hz, its folded lines put `acc_inner` right after
/// `acc_outer`, and nearly every sample of it is there.
#[test]
fn profile_shows_acc_inner_called_from_acc_outer() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("profile");
    let (name, out, err) = profile_spinner(&dir, "tspin", BY_STACKS, &["-o", "folded"], 1500);
    let lines = folded(&out);
    assert!(!lines.is_empty(), "no samples of {name}:\n{err}");
    let total: u64 = lines.iter().map(|(_, n)| n).sum();
    let inner: u64 = lines
        .iter()
        .filter(|(f, _)| {
            assert_eq!(f[0], name, "the comm leads each line: {f:?}");
            // In user mode: no kernel frames on top.
            f.ends_with(&["acc_outer".to_string(), "acc_inner".to_string()])
        })
        .map(|(_, n)| n)
        .sum();
    // 1.5 s on one CPU at 999 Hz: about 1500 samples (fewer when the
    // machine is busy); nearly all of them in acc_inner's loop.
    assert!(total >= 300, "{total} samples:\n{out}");
    assert!(
        inner * 10 >= total * 8,
        "{inner} of {total} samples in acc_outer;acc_inner:\n{out}"
    );
    // main calls acc_outer: the whole chain, outermost first.
    assert!(
        lines.iter().any(|(f, _)| f
            .windows(3)
            .any(|w| w == ["main", "acc_outer", "acc_inner"])),
        "{out}"
    );
    common::elsewhere::exercised(
        "profile_shows_acc_inner_called_from_acc_outer",
        "perf_event",
    );
}

/// A sample taken in user mode has no kernel stack, and says so (a
/// stack the kernel could not walk is never another stack's frames).
#[test]
fn user_mode_samples_say_they_have_no_kernel_stack() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("no-kstack");
    let json = ["-o", "json", "--time", "none"];
    let (_, out, err) = profile_spinner(&dir, "tnok", "{ n = count() } by kstack", &json, 1000);
    let rows = json_lines(&out);
    let total: i128 = rows.iter().map(|r| int(&r["n"])).sum();
    let user: i128 = rows
        .iter()
        .filter(|r| frames(&r["kstack"]) == ["[no kernel stack]"])
        .map(|r| int(&r["n"]))
        .sum();
    assert!(total >= 200, "{total} samples: {rows:?}");
    assert!(
        user * 10 >= total * 8,
        "{user} of {total} in user mode: {rows:?}\n{err}"
    );
    assert!(!err.contains("not found"), "{err}");
}

/// `--flamegraph FILE`: a well-formed SVG document naming the spinner's
/// functions, `acc_inner`'s frame drawn on top of `acc_outer`'s.
#[test]
fn flame_graph_file_names_the_busy_functions() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("flamegraph");
    let svg = dir.join("cpu.svg");
    let args = ["--flamegraph", svg.to_str().unwrap()];
    let (name, out, err) = profile_spinner(&dir, "tflame", BY_STACKS, &args, 1000);
    assert!(
        out.trim().is_empty(),
        "the stacks go to the file, not stdout: {out}"
    );
    assert!(err.contains("flame graph of"), "{err}");
    let doc = std::fs::read_to_string(&svg).expect("the flame graph file");
    xml::check_xml(&doc).unwrap_or_else(|e| panic!("not well-formed XML: {e}"));
    assert!(
        doc.contains("<svg") && doc.contains("<script"),
        "an interactive SVG"
    );
    for f in [name.as_str(), "acc_outer", "acc_inner"] {
        assert!(
            doc.contains(&format!("<title>{f} (")),
            "no frame {f} in the graph"
        );
    }
    // A child frame sits one row (16 px) above its parent.
    let y = |f: &str| -> f64 {
        let at = doc.find(&format!("<title>{f} (")).unwrap();
        let r = &doc[at..];
        let v = &r[r.find(" y=\"").unwrap() + 4..];
        v[..v.find('"').unwrap()].parse().unwrap()
    };
    assert_eq!(
        y("acc_outer") - y("acc_inner"),
        16.0,
        "acc_inner drawn on acc_outer"
    );
}

/// User stacks at a tracepoint, counted as bcc's stackcount: each open
/// made from `open_inner` (called from `open_outer`) is counted once, and
/// two processes of the same program merge into one row (the key's hidden
/// pid is not printed).
#[test]
fn user_stacks_at_a_tracepoint_count_exactly_and_merge_across_processes() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("ustack-open");
    let name = tagged_nonce("topen");
    let bin = build(&dir, &name, OPEN_C);
    let target = dir.join("target");
    std::fs::write(&target, "x").unwrap();
    let spec = format!(
        "tracepoint:syscalls:sys_enter_openat {{ n = count() }} by comm, ustack where comm == \"{name}\""
    );
    let mut alive = Vec::new();
    let (rows, err) = trace(&["-e", &spec], || {
        for n in ["7", "5"] {
            alive.push(Alive::start(
                &bin,
                &[target.to_str().unwrap(), n, "wait"],
                true,
            ));
        }
    });
    alive.into_iter().for_each(Alive::end);
    let ours: Vec<&Value> = rows
        .iter()
        .filter(|r| called_from(&frames(&r["ustack"]), "open_inner", "open_outer"))
        .collect();
    assert_eq!(ours.len(), 1, "one row for both processes: {rows:?}\n{err}");
    assert_eq!(int(&ours[0]["n"]), 12, "{rows:?}");
    assert_eq!(ours[0]["comm"], name.as_str());
    // The innermost frame (the system call is made there), its module named.
    let f = frames(&ours[0]["ustack"]);
    assert_eq!(function(&f[0]), "open_inner", "{f:?}");
    assert!(
        f[0].ends_with(&format!("[{name}]")),
        "the module is named: {}",
        f[0]
    );
    assert!(called_from(&f, "open_outer", "main"), "{f:?}");
    common::elsewhere::exercised(
        "user_stacks_at_a_tracepoint_count_exactly_and_merge_across_processes",
        "tracepoint",
    );
}

/// A kernel stack at `sched_process_exec` holds the exec path
/// (`bprm_execve` called by the execve system call), as a field and as a
/// key counted exactly (bpftrace's `@[kstack] = count()`); `kstack(2)`
/// keeps the innermost two frames.
#[test]
fn kernel_stack_at_exec_holds_the_exec_path() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("kstack-exec");
    let name = tagged_nonce("texec");
    let prog = common::unique_true(&dir, &name);
    let field = format!(
        "tracepoint:sched:sched_process_exec {{ comm, k = kstack, k2 = kstack(2) }} where comm == \"{name}\""
    );
    let (recs, _) = trace(&["-e", &field], || {
        common::run_exec(&prog);
    });
    assert_eq!(recs.len(), 1, "{recs:?}");
    let k = frames(&recs[0]["k"]);
    let has = |f: &str| k.iter().any(|x| function(x).starts_with(f));
    assert!(has("bprm_execve"), "{k:?}");
    assert!(has("__x64_sys_execve") || has("__do_sys_execve"), "{k:?}");
    assert!(
        k.iter().all(|x| x.contains("+0x") && !x.contains('[')),
        "kernel image frames: name+offset, no module: {k:?}"
    );
    assert_eq!(frames(&recs[0]["k2"]), k[..2], "the innermost two");

    let counted = format!(
        "tracepoint:sched:sched_process_exec {{ n = count() }} by kstack where comm == \"{name}\""
    );
    let (rows, _) = trace(&["-e", &counted], || {
        for _ in 0..3 {
            common::run_exec(&prog);
        }
    });
    let total: i128 = rows.iter().map(|r| int(&r["n"])).sum();
    assert_eq!(total, 3, "{rows:?}");
    assert!(rows.iter().all(|r| frames(&r["kstack"])
        .iter()
        .any(|f| f.starts_with("bprm_execve"))));
    common::elsewhere::exercised("kernel_stack_at_exec_holds_the_exec_path", "tracepoint");
}

/// The table prints a stack's frames one per line under its row.
#[test]
fn table_prints_frames_under_the_row() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("kstack-table");
    let name = tagged_nonce("ttab");
    let prog = common::unique_true(&dir, &name);
    let spec = format!(
        "tracepoint:sched:sched_process_exec {{ comm, k = kstack }} where comm == \"{name}\""
    );
    let t = Tracer::start(&["-e", &spec, "--time", "none"]);
    common::run_exec(&prog);
    t.interrupt();
    let (out, _) = t.finish();
    let lines: Vec<&str> = out.lines().collect();
    let row = lines
        .iter()
        .position(|l| l.starts_with(&name))
        .unwrap_or_else(|| panic!("no row for {name}:\n{out}"));
    let under: Vec<&str> = lines[row + 1..]
        .iter()
        .take_while(|l| l.starts_with("        "))
        .map(|l| l.trim())
        .collect();
    assert!(
        under.iter().any(|f| f.starts_with("bprm_execve+0x")),
        "{out}"
    );
    // The row's cell: the innermost frame's function.
    assert_eq!(
        lines[row].split_whitespace().nth(1),
        under.first().map(|f| function(f)),
        "{out}"
    );
}

/// A process that exited before its stacks are printed (an aggregation
/// prints at exit) prints addresses, never an error.
#[test]
fn stacks_of_an_exited_process_print_as_addresses() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("ustack-gone");
    let name = tagged_nonce("tgone");
    let bin = build(&dir, &name, OPEN_C);
    let target = dir.join("target");
    std::fs::write(&target, "x").unwrap();
    let spec = format!(
        "tracepoint:syscalls:sys_enter_openat {{ n = count() }} by comm, ustack where comm == \"{name}\""
    );
    let (rows, err) = trace(&["-e", &spec], || {
        run_ok(&bin, &[target.to_str().unwrap(), "3"]);
    });
    assert!(!err.contains("error"), "{err}");
    let total: i128 = rows.iter().map(|r| int(&r["n"])).sum();
    assert!(total >= 3, "{rows:?}");
    for r in &rows {
        let f = frames(&r["ustack"]);
        assert!(!f.is_empty(), "{r}");
        assert!(
            f.iter().all(|x| x.starts_with("0x")),
            "the process is gone: addresses only: {f:?}"
        );
    }
}

/// Runs `tracectl run ARGS`, which must fail before loading anything;
/// its stderr.
fn refused(args: &[&str]) -> String {
    let out = output_within(
        Command::new(BIN).arg("run").args(args),
        Duration::from_secs(30),
        "tracectl run (refused)",
    );
    assert!(!out.status.success(), "tracectl run {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Folded output is for stack-keyed aggregations: records, or keys without
/// a stack, are refused with the reason, before anything is loaded.
#[test]
fn folded_output_of_records_is_refused() {
    let err = refused(&[
        "-o",
        "folded",
        "-e",
        "tracepoint:syscalls:sys_enter_openat { comm }",
    ]);
    assert!(
        err.contains("folded output") && err.contains("sends records"),
        "{err}"
    );
    let err = refused(&[
        "--flamegraph",
        "/tmp/never.svg",
        "-e",
        "tracepoint:syscalls:sys_enter_openat { n = count() } by comm",
    ]);
    assert!(
        err.contains("--flamegraph") && err.contains("no `kstack` or `ustack` key"),
        "{err}"
    );
}

/// Kernel functions (kfunc: fentry or kprobe, and kprobe:): the kernel
/// stack at `do_sys_openat2` holds the openat system call, the user stack
/// the program's `open_inner` under `open_outer`, each open counted once.
/// This machine has neither kprobes nor trampolines: the VM matrix runs it
/// (tests/vm/host-tests.txt).
#[test]
fn kernel_function_stacks_hold_the_system_call() {
    const TEST: &str = "kernel_function_stacks_hold_the_system_call";
    const NO_KPROBES: &str = "this kernel has no kprobes (CONFIG_KPROBES is off)";
    const OPENS: i128 = 6;
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("kfunc-stacks");
    let name = tagged_nonce("tkfs");
    let bin = build(&dir, &name, OPEN_C);
    let target = dir.join("target");
    std::fs::write(&target, "x").unwrap();
    let mut refused = Vec::new();
    let mut how = Vec::new();
    for kind in ["kfunc", "kprobe"] {
        let spec = format!(
            "{kind}:do_sys_openat2 {{ n = count() }} by kstack, ustack where comm == \"{name}\""
        );
        let args = ["-e", spec.as_str(), "-o", "json", "--time", "none"];
        let t = match Tracer::try_start(&args) {
            Ok(t) => t,
            Err(e) => {
                assert!(
                    e.contains(NO_KPROBES),
                    "{kind}: refused for another reason:\n{e}"
                );
                refused.push(format!("{kind}: {NO_KPROBES}"));
                continue;
            }
        };
        let opener = Alive::start(
            &bin,
            &[target.to_str().unwrap(), &OPENS.to_string(), "wait"],
            true,
        );
        t.interrupt();
        let (out, err) = t.finish();
        opener.end();
        let rows = json_lines(&out);
        let ours: Vec<&Value> = rows
            .iter()
            .filter(|r| called_from(&frames(&r["ustack"]), "open_inner", "open_outer"))
            .collect();
        assert_eq!(ours.len(), 1, "{kind}: {rows:?}\n{err}");
        assert_eq!(int(&ours[0]["n"]), OPENS, "{kind}: {rows:?}");
        let k = frames(&ours[0]["kstack"]);
        assert!(
            k.iter().any(|f| function(f) == "__x64_sys_openat"),
            "{kind}: {k:?}"
        );
        how.push(kind);
    }
    if refused.is_empty() {
        common::elsewhere::exercised(TEST, &how.join(","));
    } else {
        common::elsewhere::not_run_here(TEST, &refused.join("; "));
    }
}

/// `--flamegraph` sums every stack-keyed probe: two probes counting the
/// same exec stacks weigh each exec twice.
#[test]
fn flame_graph_sums_every_stack_keyed_probe() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("flame-two");
    let name = tagged_nonce("tftwo");
    let prog = common::unique_true(&dir, &name);
    let svg = dir.join("two.svg");
    let probe = |label: &str| {
        format!(
            "tracepoint:sched:sched_process_exec as {label} {{ n = count() }} by kstack where comm == \"{name}\""
        )
    };
    let spec = format!("{}\n{}", probe("a"), probe("b"));
    let t = Tracer::start(&["-e", &spec, "--flamegraph", svg.to_str().unwrap()]);
    for _ in 0..3 {
        common::run_exec(&prog);
    }
    t.interrupt();
    let (_, err) = t.finish();
    assert!(err.contains("flame graph of 6 samples"), "{err}");
}
