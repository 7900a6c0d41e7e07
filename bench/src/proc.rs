//! Child processes: spawning (optionally pinned to a CPU), waiting with a
//! timeout and the child's resource usage (wait4), signals, and reading a
//! child's output lines in the background with their arrival times.

use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a child ended, and what it used.
#[derive(Debug, Clone, Copy)]
pub struct Exit {
    /// Exit code, or `128 + signal` when killed by a signal.
    pub code: i32,
    /// When the harness saw it end.
    pub at: Instant,
    /// Peak resident set size (ru_maxrss), KiB.
    pub maxrss_kib: u64,
    /// User + system CPU time.
    pub cpu: Duration,
}

/// A running child. Never reaped by `std` (we call wait4 for the rusage).
pub struct Proc {
    pub child: Child,
    pub pid: i32,
    /// Just before `spawn`.
    pub started: Instant,
    pidfd: OwnedFd,
    exit: Option<Exit>,
}

/// Pins the command's process to one CPU (inherited across exec).
pub fn pin(cmd: &mut Command, cpu: Option<usize>) -> &mut Command {
    if let Some(cpu) = cpu {
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut set);
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    cmd
}

impl Proc {
    /// Spawns `cmd`; the clock starts just before the fork.
    pub fn spawn(cmd: &mut Command) -> Result<Proc, String> {
        let what = format!("{:?}", cmd.get_program());
        let started = Instant::now();
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        let pid = child.id() as i32;
        // SAFETY: pidfd_open takes a pid and flags; it returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(format!(
                "pidfd_open failed: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: a fresh fd we own.
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Ok(Proc {
            child,
            pid,
            started,
            pidfd,
            exit: None,
        })
    }

    /// Sends a signal (no-op once the child was reaped).
    pub fn signal(&self, sig: i32) {
        if self.exit.is_none() {
            // SAFETY: kill has no memory preconditions; the pid is our unreaped child.
            unsafe { libc::kill(self.pid, sig) };
        }
    }

    /// Waits up to `timeout` for the child to end; `None` if it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Exit> {
        if let Some(e) = self.exit {
            return Some(e);
        }
        let mut pfd = libc::pollfd {
            fd: self.pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = left.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r > 0 {
                break;
            }
            if r == 0 && Instant::now() >= deadline {
                return None;
            }
        }
        let at = Instant::now();
        let mut status = 0;
        // SAFETY: zeroed rusage is valid; wait4 fills it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers; the pid is our child.
        let r = unsafe { libc::wait4(self.pid, &mut status, 0, &mut ru) };
        if r != self.pid {
            return None;
        }
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            128 + libc::WTERMSIG(status)
        };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        let e = Exit {
            code,
            at,
            maxrss_kib: ru.ru_maxrss as u64,
            cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        };
        self.exit = Some(e);
        Some(e)
    }

    /// Waits for the end; after `timeout`, SIGINT, then SIGKILL 10 s later.
    /// `Err` when SIGINT did not end it.
    pub fn finish(&mut self, timeout: Duration, what: &str) -> Result<Exit, String> {
        if let Some(e) = self.wait_timeout(timeout) {
            return Ok(e);
        }
        self.signal(libc::SIGINT);
        if let Some(e) = self.wait_timeout(Duration::from_secs(10)) {
            return Ok(e);
        }
        self.signal(libc::SIGKILL);
        let _ = self.wait_timeout(Duration::from_secs(5));
        Err(format!(
            "{what} did not stop on SIGINT within 10 s (killed)"
        ))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exit.is_none() {
            self.signal(libc::SIGKILL);
            let _ = self.wait_timeout(Duration::from_secs(5));
        }
    }
}

/// What a [`Lines`] reader saw once its stream closed.
#[derive(Debug, Default)]
pub struct Seen {
    /// Lines not counted as events (at most the reader's `keep`).
    pub lines: Vec<String>,
    /// Lines starting with the event prefix, and the first of them.
    pub events: u64,
    pub first_event: Option<String>,
    /// When the last line (of any kind) arrived.
    pub last_at: Option<Instant>,
}

/// Reads a child's output lines on a thread; reports when a marker line
/// arrives and counts event lines.
pub struct Lines {
    marker: Receiver<Instant>,
    handle: Option<JoinHandle<Seen>>,
}

impl Lines {
    /// `marker`: a substring announcing "attached"; `event_prefix`: lines
    /// that are events (counted, not kept). Keeps the first 1000 other lines.
    pub fn spawn<R: Read + Send + 'static>(
        r: R,
        marker: Option<&str>,
        event_prefix: Option<&str>,
    ) -> Lines {
        Lines::spawn_keep(r, marker, event_prefix, 1000)
    }

    /// [`Lines::spawn`], keeping the first `keep` lines that are not events.
    pub fn spawn_keep<R: Read + Send + 'static>(
        r: R,
        marker: Option<&str>,
        event_prefix: Option<&str>,
        keep: usize,
    ) -> Lines {
        let (tx, rx) = mpsc::channel();
        let marker = marker.map(|m| m.as_bytes().to_vec());
        let prefix = event_prefix.map(|p| p.as_bytes().to_vec());
        let handle = std::thread::spawn(move || {
            let mut seen = Seen::default();
            let mut r = BufReader::with_capacity(1 << 16, r);
            let mut line = Vec::with_capacity(256);
            let mut marked = false;
            loop {
                line.clear();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                seen.last_at = Some(Instant::now());
                if let Some(p) = &prefix {
                    if line.starts_with(p) {
                        seen.events += 1;
                        if seen.first_event.is_none() {
                            seen.first_event =
                                Some(String::from_utf8_lossy(&line).trim_end().to_string());
                        }
                        continue;
                    }
                }
                if !marked {
                    if let Some(m) = &marker {
                        if line.windows(m.len()).any(|w| w == m.as_slice()) {
                            marked = true;
                            let _ = tx.send(Instant::now());
                        }
                    }
                }
                if seen.lines.len() < keep {
                    seen.lines
                        .push(String::from_utf8_lossy(&line).trim_end().to_string());
                }
            }
            seen
        });
        Lines {
            marker: rx,
            handle: Some(handle),
        }
    }

    /// When the marker line arrived; `None` after `timeout` or when the
    /// stream closed without it.
    pub fn marker(&self, timeout: Duration) -> Option<Instant> {
        match self.marker.recv_timeout(timeout) {
            Ok(t) => Some(t),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Waits for the stream to close (the child exited) and returns what it saw.
    pub fn finish(mut self) -> Seen {
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}
