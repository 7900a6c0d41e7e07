//! What the runtime's kernel test binaries share: one lock per binary
//! (their tests load programs one at a time), the check that this machine
//! can run them, and the pieces of hand-built plans and record reading.

#![allow(dead_code)] // each binary uses a part

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tracectl::session::Session;
use tracectl_compiler::plan::*;

static LOCK: Mutex<()> = Mutex::new(());

/// Takes the test lock, or returns None (after a message) when the machine
/// cannot run kernel tests and we are not in CI.
pub fn kernel_env() -> Option<MutexGuard<'static, ()>> {
    let guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let ci = std::env::var("CI").as_deref() == Ok("true");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let btf = std::path::Path::new("/sys/kernel/btf/vmlinux").exists();
    let why = if !root {
        "not running as root"
    } else if !btf {
        "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
    } else {
        return Some(guard);
    };
    if ci {
        panic!("kernel tests need root and BTF, but {why} (CI=true, so this is an error)");
    }
    eprintln!("SKIPPED: kernel tests need root and BTF, but {why}");
    None
}

pub fn tracepoint(category: &str, name: &str) -> Attach {
    Attach::Tracepoint {
        category: category.into(),
        name: name.into(),
    }
}

pub fn op(slot: u32, slot_size: u32, base: Base, read: Read) -> ValueOp {
    ValueOp {
        slot,
        slot_size,
        base,
        hops: vec![],
        mem: Mem::Kernel,
        read,
        transform: Transform::None,
    }
}

pub fn config(nargs: u32, ctx_copy: u32, record_size: u32, ops: Vec<ValueOp>) -> ProbeConfig {
    ProbeConfig {
        nargs,
        ctx_copy,
        record_size,
        filter_at: ops.len() as u32,
        ops,
        ..ProbeConfig::default()
    }
}

pub fn u64_at(rec: &[u8], off: u32) -> u64 {
    let o = off as usize;
    u64::from_le_bytes(rec[o..o + 8].try_into().unwrap())
}

pub fn str_at(rec: &[u8], off: u32, len: u32) -> String {
    let s = &rec[off as usize..(off + len) as usize];
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    String::from_utf8_lossy(&s[..end]).into_owned()
}

/// Polls until `done` holds for the records so far, or `limit` passes.
pub fn collect(
    session: &mut Session,
    limit: Duration,
    mut done: impl FnMut(&[Vec<u8>]) -> bool,
) -> Vec<Vec<u8>> {
    let start = Instant::now();
    let mut records = Vec::new();
    while start.elapsed() < limit {
        session
            .poll(Duration::from_millis(50), &mut |r| records.push(r.to_vec()))
            .expect("poll");
        if done(&records) {
            break;
        }
    }
    records
}

pub fn gettid() -> u64 {
    // SAFETY: no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) as u64 }
}

/// A plan of `probes`, with default output settings.
pub fn plan(probes: Vec<ProbePlan>) -> Plan {
    Plan {
        format: PLAN_FORMAT,
        name: "runtime-test".into(),
        description: None,
        enums: Vec::new(),
        probes,
        output: OutputPlan {
            format: Format::Json,
            time: TimeMode::Relative,
            stats: Default::default(),
        },
    }
}
