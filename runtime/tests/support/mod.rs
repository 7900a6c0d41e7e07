//! What the runtime's kernel test binaries share: one lock per binary
//! (their tests load programs one at a time) and the check that this
//! machine can run them.

use std::sync::{Mutex, MutexGuard};

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
