//! End-to-end tests: the `tracectl` binary, real specs, real kernel events.
//!
//! Each test starts `tracectl run`, waits for it to report that its probes
//! are attached, makes a uniquely identifiable event happen, and checks that
//! the captured values are the ones it made. They need root and kernel BTF:
//! without them they fail when `CI=true` (and say why), else they are skipped
//! with a message.

#[path = "common/mod.rs"]
mod common;

use common::{bpf_available, json_lines, run_exec, scratch, serial, unique_true, Tracer};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn execsnoop_sees_a_uniquely_named_program() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("exec");
    let prog = unique_true(&dir, "tracectl_unique_exec_7b1f");
    let t = Tracer::start(&["execsnoop", "-o", "json", "-d", "3s"]);
    let pid = run_exec(&prog);
    let (out, _) = t.finish();
    let recs = json_lines(&out);
    let mine: Vec<_> = recs
        .iter()
        .filter(|r| r["path"] == prog.to_str().unwrap())
        .collect();
    assert_eq!(mine.len(), 1, "expected one exec of {prog:?} in {out}");
    let r = mine[0];
    assert_eq!(r["probe"], "exec");
    // sys_enter_execve fires in the child before the exec: the pid is the child's.
    assert_eq!(r["pid"], pid, "{r}");
    assert!(r["time"].is_number(), "{r}");
    assert!(r["comm"].is_string(), "{r}");
}

/// Records still waiting in the ring buffer when Ctrl-C arrives are printed,
/// not dropped: the templates batch wakeups, so the last event before the
/// signal is usually not yet delivered.
#[test]
fn interrupt_prints_what_is_still_buffered() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("drain");
    let prog = unique_true(&dir, "tracectl_last_before_sigint");
    let t = Tracer::start(&["execsnoop", "-o", "json"]);
    let pid = run_exec(&prog);
    t.interrupt();
    let (out, err) = t.finish();
    let mine: Vec<_> = json_lines(&out)
        .into_iter()
        .filter(|r| r["path"] == prog.to_str().unwrap())
        .collect();
    assert_eq!(
        mine.len(),
        1,
        "the exec just before SIGINT is printed:\n{out}\n{err}"
    );
    assert_eq!(mine[0]["pid"], pid);
    assert!(err.contains("(interrupted)"), "{err}");
}

#[test]
fn opensnoop_sees_a_uniquely_named_file() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("open");
    let file = dir.join("tracectl_unique_open_91c2.txt");
    std::fs::write(&file, b"x").unwrap();
    let me = std::process::id().to_string();
    let t = Tracer::start(&[
        "opensnoop",
        "-o",
        "json",
        "-d",
        "3s",
        "--param",
        &format!("pid={me}"),
    ]);
    let _ = std::fs::read(&file).unwrap();
    let (out, _) = t.finish();
    let recs = json_lines(&out);
    assert!(
        recs.iter().all(|r| r["pid"] == std::process::id()),
        "the pid param must drop other processes' opens: {out}"
    );
    let r = recs
        .iter()
        .find(|r| r["path"] == file.to_str().unwrap())
        .unwrap_or_else(|| panic!("no open of {file:?} in {out}"));
    assert_eq!(r["probe"], "open");
    assert!(r["flags"].as_str().unwrap().starts_with("0x"), "{r}");
}

#[test]
fn tcpconnect_tp_sees_a_loopback_connect() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = Tracer::start(&[
        "tcpconnect-tp",
        "-o",
        "json",
        "-d",
        "3s",
        "--param",
        &format!("port={port}"),
    ]);
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_peer, _) = listener.accept().unwrap();
    drop(s);
    let (out, _) = t.finish();
    let recs = json_lines(&out);
    assert_eq!(recs.len(), 1, "expected exactly our connect: {out}");
    let r = &recs[0];
    assert_eq!(r["daddr"], "127.0.0.1");
    assert_eq!(r["dport"], port);
    assert_eq!(r["family"], 2);
    assert_eq!(r["pid"], std::process::id());
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
    assert_eq!(header, vec!["TIME(s)", "COMM", "PID", "PATH"], "{out}");
    let row = lines
        .find(|l| l.ends_with(prog.to_str().unwrap()))
        .unwrap_or_else(|| panic!("no row for {prog:?}: {out}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols.len(), 4, "{row}");
    assert!(
        cols[0].contains('.') && cols[0].split('.').nth(1).unwrap().len() == 9,
        "{row}"
    );
    assert_eq!(cols[2], pid.to_string());
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

fn our_programs() -> usize {
    let out = Command::new("bpftool")
        .args(["prog", "list"])
        .output()
        .expect("bpftool (apt-get install bpftool)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(" name tracectl_"))
        .count()
}

fn our_pins() -> usize {
    std::fs::read_dir("/sys/fs/bpf")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("tracectl"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn sigint_detaches_everything() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let t = Tracer::start(&["tcpconnect-tp", "-o", "json"]);
    assert!(
        our_programs() >= 1,
        "programs should be loaded while running"
    );
    assert_eq!(our_pins(), 0, "nothing may stay pinned after start");
    t.interrupt();
    let (_, err) = t.finish();
    assert!(
        err.contains("lost"),
        "the summary reports lost events: {err}"
    );
    assert_eq!(our_programs(), 0, "every program is unloaded after SIGINT");
    assert_eq!(our_pins(), 0);
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
