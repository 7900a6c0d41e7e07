//! Helpers shared by the kernel tests that drive the `tracectl` binary
//! (`tests/e2e.rs`, `tests/recipes.rs`): the root/BTF gate, scratch
//! directories, and [`Tracer`], a running `tracectl run`.
//!
//! Every wait here has a deadline: a `tracectl` or test program that hangs
//! makes the test fail with what was awaited and the stderr seen, instead
//! of hanging the suite.
//!
//! Each test file uses a subset, hence `allow(dead_code)`.
#![allow(dead_code)]

pub mod elsewhere;
pub mod programs;

use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_tracectl");

/// How long [`Tracer::finish`] waits for `tracectl` to exit: far beyond the
/// longest `--duration` a test gives (10 s).
pub const EXIT_DEADLINE: Duration = Duration::from_secs(60);
/// How long [`Tracer::start`] waits for the probes to be attached.
const ATTACH_DEADLINE: Duration = Duration::from_secs(30);
/// How long a test program may run ([`run_exec`], [`wait_child`],
/// [`output_within`]): far beyond any of them, so that only a hang reaches it.
pub const PROGRAM_DEADLINE: Duration = Duration::from_secs(60);
/// How long the output and stderr pipes may stay open after `tracectl`
/// exited.
const PIPE_DEADLINE: Duration = Duration::from_secs(5);

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
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
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

/// Waits for `child` to exit, for at most `limit`. On timeout it kills the
/// child and returns an `Err` saying what was awaited.
pub fn wait_deadline(child: &mut Child, limit: Duration, what: &str) -> Result<ExitStatus, String> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "waited {limit:?} for {what} (pid {}); killed it",
                    child.id()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for {what} failed: {e}")),
        }
    }
}

/// As [`wait_deadline`] with [`PROGRAM_DEADLINE`], panicking on timeout.
pub fn wait_child(child: &mut Child, what: &str) -> ExitStatus {
    wait_deadline(child, PROGRAM_DEADLINE, what).unwrap_or_else(|e| panic!("{e}"))
}

/// Collects the piped stdout and stderr of `child` (each read on its own
/// thread, so neither pipe fills) and its exit status, for at most `limit`:
/// a child still running then is killed and the test fails, naming `what`.
pub fn collect_output(mut child: Child, limit: Duration, what: &str) -> std::process::Output {
    fn reader(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
        let (tx, rx) = mpsc::channel();
        if let Some(mut pipe) = pipe {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                let _ = tx.send(buf);
            });
        } else {
            let _ = tx.send(Vec::new());
        }
        rx
    }
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let status = wait_deadline(&mut child, limit, what).unwrap_or_else(|e| panic!("{e}"));
    let pipe = |rx: mpsc::Receiver<Vec<u8>>, name: &str| {
        rx.recv_timeout(PIPE_DEADLINE).unwrap_or_else(|_| {
            panic!("the {name} of {what} was still open {PIPE_DEADLINE:?} after it exited")
        })
    };
    std::process::Output {
        status,
        stdout: pipe(out, "stdout"),
        stderr: pipe(err, "stderr"),
    }
}

/// `cmd.output()` with stdout and stderr piped, for at most `limit` (see
/// `tracectl ARGS` with `stdin` on its standard input: its output. A
/// tracectl that exits (refusing) before it reads is fine: a closed pipe is
/// not an error here.
pub fn tracectl_with_stdin(args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tracectl");
    let _ = std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes());
    child.wait_with_output().expect("wait for tracectl")
}

/// [`collect_output`]).
pub fn output_within(cmd: &mut Command, limit: Duration, what: &str) -> std::process::Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    collect_output(child, limit, what)
}

/// A scratch directory unique to this test run ([`scratch`]); it derefs to
/// its [`Path`]. Dropping it removes the directory, also when the test fails
/// (mutation runs fail tests by the hundred); with `TRACECTL_KEEP_SCRATCH=1`
/// the directory of a failed test is kept for debugging, and its path
/// printed.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        if failed && std::env::var_os("TRACECTL_KEEP_SCRATCH").is_some_and(|v| v == "1") {
            eprintln!(
                "kept the failed test's scratch directory {}",
                self.path.display()
            );
            return;
        }
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => {}
            // No second panic while the test fails: say it instead.
            Err(e) if failed => eprintln!("could not remove {}: {e}", self.path.display()),
            Err(e) => panic!(
                "could not remove the scratch directory {}: {e}",
                self.path.display()
            ),
        }
    }
}

/// A new scratch directory, `$TMPDIR/tracectl-test-TAG-PID-N`, removed
/// when the returned guard is dropped (see [`Scratch`]).
pub fn scratch(tag: &str) -> Scratch {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("tracectl-test-{tag}-{}-{n}", std::process::id()));
    // A directory left by an earlier run whose pid was reused.
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    Scratch { path }
}

/// Copies /bin/true to a uniquely named program.
pub fn unique_true(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy("/bin/true", &p).unwrap();
    p
}

/// Runs a program to completion (at most [`PROGRAM_DEADLINE`]) and
/// returns its pid.
pub fn run_exec(path: &Path) -> u32 {
    let mut c = Command::new(path)
        .spawn()
        .unwrap_or_else(|e| panic!("exec {}: {e}", path.display()));
    let pid = c.id();
    let status = wait_deadline(&mut c, PROGRAM_DEADLINE, &path.display().to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{} failed: {status}", path.display());
    pid
}

/// A JSON integer as an i128 (holds both i64 and u64 values).
pub fn json_int(v: &serde_json::Value) -> i128 {
    v.as_i64()
        .map(i128::from)
        .or_else(|| v.as_u64().map(i128::from))
        .unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// An aggregation's JSON histogram as (min, max, count) per non-empty
/// bucket, in order; an open side (below 0, above lhist's range) is `None`.
pub fn hist_buckets(v: &serde_json::Value) -> Vec<(Option<i128>, Option<i128>, u64)> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a histogram: {v}"))
        .iter()
        .map(|b| {
            (
                b.get("min").map(json_int),
                b.get("max").map(json_int),
                b["count"].as_u64().expect("count"),
            )
        })
        .collect()
}

/// Parses JSON Lines output.
pub fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// Runs `tracectl run ARGS -o json --time none` while `events` runs and
/// returns the records and stderr; no event may be lost.
pub fn trace(args: &[&str], events: impl FnOnce()) -> (Vec<serde_json::Value>, String) {
    let mut all = args.to_vec();
    all.extend_from_slice(&["-o", "json", "--time", "none"]);
    let t = Tracer::start(&all);
    events();
    let (out, err) = t.finish();
    // Events (not an aggregation's rows): none may be lost.
    if err.contains(" events in ") || err.contains(" event in ") {
        assert!(err.contains(" 0 lost"), "no event may be lost:\n{err}");
    }
    (json_lines(&out), err)
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
        let deadline = Instant::now() + ATTACH_DEADLINE;
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
                        t.drain_stderr(PIPE_DEADLINE);
                        return Err(format!(
                            "tracectl exited ({status}) before attaching:\n{}",
                            t.stderr_seen.join("\n")
                        ));
                    }
                    assert!(
                        Instant::now() < deadline,
                        "tracectl did not attach within {ATTACH_DEADLINE:?}:\n{}",
                        t.stderr_seen.join("\n")
                    );
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = wait_deadline(
                        &mut t.child,
                        PIPE_DEADLINE,
                        "tracectl to exit after closing its stderr",
                    )?;
                    return Err(format!(
                        "tracectl exited ({status}) before attaching:\n{}",
                        t.stderr_seen.join("\n")
                    ));
                }
            }
        }
    }

    /// Waits for exit (by --duration / --max-events or a signal) and returns
    /// (stdout, stderr); panics unless tracectl exited successfully, or when
    /// it is still running after [`EXIT_DEADLINE`] (then it is killed).
    pub fn finish(mut self) -> (String, String) {
        // Read the output while waiting: tracectl blocks on a full pipe.
        let mut stdout = self.child.stdout.take().expect("stdout is read once");
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut out = String::new();
            let _ = tx.send(stdout.read_to_string(&mut out).map(|_| out));
        });
        let status = wait_deadline(
            &mut self.child,
            EXIT_DEADLINE,
            "tracectl to exit (after --duration, --max-events or a signal)",
        );
        self.drain_stderr(PIPE_DEADLINE);
        let err = self.stderr_seen.join("\n");
        let status = status.unwrap_or_else(|e| panic!("{e}; its stderr:\n{err}"));
        let out = match output.recv_timeout(PIPE_DEADLINE) {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => panic!("reading tracectl's output failed: {e}; its stderr:\n{err}"),
            Err(_) => panic!(
                "tracectl's output was still open {PIPE_DEADLINE:?} after it exited \
                 ({status}); its stderr:\n{err}"
            ),
        };
        assert!(status.success(), "tracectl failed ({status}):\n{err}");
        (out, err)
    }

    /// The pid of `tracectl`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGINT.
    pub fn interrupt(&self) {
        self.signal(libc::SIGINT);
    }

    /// Sends a signal.
    pub fn signal(&self, sig: libc::c_int) {
        let pid = self.child.id() as i32;
        // SAFETY: kill has no memory preconditions; the pid is our child's.
        let r = unsafe { libc::kill(pid, sig) };
        assert_eq!(
            r,
            0,
            "signal {sig} to tracectl: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Stops tracectl (SIGSTOP) and waits until it is stopped (10 s at
    /// most). A stopped tracectl runs nothing: what happens meanwhile waits
    /// for [`Tracer::resume`].
    pub fn pause(&mut self) {
        self.signal(libc::SIGSTOP);
        let path = format!("/proc/{}/stat", self.child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stat = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("({e})"));
            // The state follows the parenthesised comm.
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            if state.is_some_and(|s| s.starts_with('T')) {
                return;
            }
            if Instant::now() >= deadline {
                self.drain_stderr(Duration::ZERO);
                panic!(
                    "tracectl did not stop within 10 s of SIGSTOP ({path}: {}); its stderr:\n{}",
                    stat.trim(),
                    self.stderr_seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Continues a tracectl stopped by [`Tracer::pause`] (SIGCONT).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Waits until tracectl's main thread sleeps in poll(2)/ppoll(2), i.e.
    /// waits for events (`/proc/PID/syscall`); panics after 10 s with what
    /// it was doing instead and its stderr.
    pub fn wait_blocked_in_poll(&mut self) {
        let path = format!("/proc/{}/syscall", self.child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("({e})"));
            let nr = now.split_whitespace().next().and_then(|n| n.parse().ok());
            if nr.is_some_and(is_poll_syscall) {
                return;
            }
            if Instant::now() >= deadline {
                self.drain_stderr(Duration::ZERO);
                panic!(
                    "tracectl did not block waiting for events within 10 s \
                     ({path}: {}); its stderr:\n{}",
                    now.trim(),
                    self.stderr_seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Bytes tracectl wrote to its output that are not read yet (FIONREAD on
    /// the pipe): everything it printed so far, as long as [`Tracer::finish`]
    /// has not started reading.
    pub fn stdout_pending(&self) -> usize {
        let fd = self
            .child
            .stdout
            .as_ref()
            .expect("the output is unread before finish()")
            .as_raw_fd();
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD stores one int at the pointer.
        let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
        assert_eq!(
            r,
            0,
            "FIONREAD on tracectl's output: {}",
            std::io::Error::last_os_error()
        );
        n as usize
    }

    /// Moves the stderr lines that arrive within `limit` (or until the
    /// stream ends) to `stderr_seen`.
    fn drain_stderr(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(l) => self.stderr_seen.push(l),
                Err(_) => return,
            }
        }
    }
}

/// poll(2) or ppoll(2), by syscall number.
fn is_poll_syscall(nr: i64) -> bool {
    #[cfg(target_arch = "x86_64")]
    if nr == libc::SYS_poll {
        return true;
    }
    nr == libc::SYS_ppoll
}

impl Drop for Tracer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SIGKILL: the child exits (and is reaped) at once.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits (10 s at most) until the task whose `/proc/…/syscall` file is
/// `path` sleeps in system call `nr`; `what` names it in the failure.
pub fn wait_blocked(path: &str, nr: i64, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = std::fs::read_to_string(path).unwrap_or_default();
        if now.split_whitespace().next() == Some(nr.to_string().as_str()) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not block in syscall {nr}: {path}: {now}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Compiles a small C program with gcc.
pub fn cc(dir: &Path, name: &str, src: &str, extra: &[&str]) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let bin = dir.join(name);
    let out = output_within(
        Command::new("gcc")
            .args(["-O1", "-o"])
            .arg(&bin)
            .arg(&c)
            .args(extra),
        PROGRAM_DEADLINE,
        &format!("gcc {name}.c (scripts/test.sh installs gcc)"),
    );
    assert!(
        out.status.success(),
        "gcc {name}.c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// A short name unique to this run, `tag` then up to 6 hex digits (the
/// kernel keeps 15 bytes of a comm).
pub fn tagged_nonce(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{tag}{:x}", (std::process::id() ^ nanos) & 0xffffff)
}
