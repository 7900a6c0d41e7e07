//! Helpers shared by the kernel tests that drive the `tracectl` binary
//! (`tests/e2e.rs`, `tests/recipes.rs`): the root/BTF gate, scratch
//! directories, and [`Tracer`], a running `tracectl run`.
//!
//! Each test file uses a subset, hence `allow(dead_code)`.
#![allow(dead_code)]

pub mod elsewhere;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_tracectl");

/// The tests of one file run one at a time: some count the programs loaded
/// on the system, and events of one test must not fill another's ring buffer.
pub static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes the [`SERIAL`] lock, surviving a test that panicked while holding it.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// True when the kernel tests can run (root and kernel BTF). When they
/// cannot, it panics in CI (`CI=true`) and otherwise prints why they are
/// skipped: they never skip silently.
pub fn bpf_available() -> bool {
    let root = unsafe { geteuid() } == 0;
    let btf = Path::new("/sys/kernel/btf/vmlinux").exists();
    if root && btf {
        return true;
    }
    let why = if !root {
        "the kernel tests load eBPF programs and must run as root"
    } else {
        "this kernel exposes no BTF at /sys/kernel/btf/vmlinux"
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("cannot run the kernel tests: {why}");
    }
    eprintln!("SKIPPED (not in CI): {why}");
    false
}

extern "C" {
    fn geteuid() -> u32;
    /// kill(2).
    pub fn kill(pid: i32, sig: i32) -> i32;
}

/// A scratch directory unique to this test run.
pub fn scratch(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let d = std::env::temp_dir().join(format!(
        "tracectl-test-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Copies /bin/true to a uniquely named program.
pub fn unique_true(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy("/bin/true", &p).unwrap();
    p
}

/// Runs a program to completion and returns its pid.
pub fn run_exec(path: &Path) -> u32 {
    let mut c = Command::new(path).spawn().expect("exec unique program");
    let pid = c.id();
    assert!(c.wait().unwrap().success());
    pid
}

/// Parses JSON Lines output.
pub fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// A running `tracectl run`, attached. Dropping it kills the process, so a
/// failed assertion never leaves programs loaded.
pub struct Tracer {
    child: Child,
    stderr: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
}

impl Tracer {
    /// Starts `tracectl run ARGS` and waits until its probes are attached.
    pub fn start(args: &[&str]) -> Tracer {
        Tracer::try_start(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`Tracer::start`], but a `tracectl` that exits before attaching is
    /// an `Err` with its exit status and stderr, for the caller to judge.
    pub fn try_start(args: &[&str]) -> Result<Tracer, String> {
        let mut child = Command::new(BIN)
            .arg("run")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tracectl");
        let err = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut t = Tracer {
            child,
            stderr: rx,
            stderr_seen: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match t.stderr.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let attached = line.contains("attached");
                    t.stderr_seen.push(line);
                    if attached {
                        return Ok(t);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = t.child.try_wait() {
                        // Collect what it printed last.
                        while let Ok(l) = t.stderr.recv_timeout(Duration::from_millis(200)) {
                            t.stderr_seen.push(l);
                        }
                        return Err(format!(
                            "tracectl exited ({status}) before attaching:\n{}",
                            t.stderr_seen.join("\n")
                        ));
                    }
                    assert!(
                        Instant::now() < deadline,
                        "tracectl did not attach within 30 s:\n{}",
                        t.stderr_seen.join("\n")
                    );
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = t.child.wait().unwrap();
                    return Err(format!(
                        "tracectl exited ({status}) before attaching:\n{}",
                        t.stderr_seen.join("\n")
                    ));
                }
            }
        }
    }

    /// Waits for exit (by --duration / --max-events or a signal) and returns
    /// (stdout, stderr); panics unless tracectl exited successfully.
    pub fn finish(mut self) -> (String, String) {
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let status = self.child.wait().unwrap();
        while let Ok(l) = self.stderr.recv_timeout(Duration::from_millis(200)) {
            self.stderr_seen.push(l);
        }
        let err = self.stderr_seen.join("\n");
        assert!(status.success(), "tracectl failed ({status}):\n{err}");
        (out, err)
    }

    /// Sends SIGINT.
    pub fn interrupt(&self) {
        let pid = self.child.id() as i32;
        unsafe { kill(pid, 2) };
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
